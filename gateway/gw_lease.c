/* gw_lease: this gateway's lease, reaping dead peers, reclaiming, recovering at start. */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_int.h"
#include "log.h"
#include "store.h"

/* ---- life cycle ---- */

/* Put the lists of instance `inst` back in line (its starting ids to the
 * queue, its sending messages to the outboxes, its archiving records to the
 * archive) if its lease ran out, or always with force (our own stop).
 * Returns the entries moved, -1 when that instance is alive, -EIO. */
long long gw_reap(struct gw *g, const char *inst, int force)
{
	char lease[48], starting[48], archiving[48], err[256];
	char pairs[CONFIG_MAX_SMSC][2][160];
	const char *keys[8 + 2 * CONFIG_MAX_SMSC];
	snprintf(lease, sizeof lease, GW_K_INST "%s", inst);
	snprintf(starting, sizeof starting, GW_K_STARTING "%s", inst);
	snprintf(archiving, sizeof archiving, GW_K_ARCHIVING "%s", inst);
	int nk = 0;
	keys[nk++] = lease;
	keys[nk++] = GW_K_INSTANCES;
	keys[nk++] = starting;
	keys[nk++] = GW_K_QUEUE;
	keys[nk++] = archiving;
	keys[nk++] = GW_K_ARCHIVE;
	char dtaking[64];
	snprintf(dtaking, sizeof dtaking, GW_K_DTAKING "%s", inst);
	keys[nk++] = dtaking;
	keys[nk++] = GW_K_DELIVERIES;
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		snprintf(pairs[i][0], sizeof pairs[i][0], GW_K_SENDING "%s:%s", g->cfg->smsc[i].name, inst);
		snprintf(pairs[i][1], sizeof pairs[i][1], GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
		keys[nk++] = pairs[i][0];
		keys[nk++] = pairs[i][1];
	}
	const char *args[] = {inst, force ? "1" : "0"};
	long long n = 0;
	int rc = store_run_int(g->store, STORE_REAP, nk, keys, 2, args, &n, err, sizeof err);
	if (rc < 0 && rc != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	if (rc < 0)
		n = 0;
	if (n > 0)
		log_info("recover instance=%s requeued=%lld%s", inst, n, force ? " (own stop)" : " (lease expired)");
	return n;
}

/* Keeps this gateway's lease alive and puts back in line what gateways whose
 * lease ran out (crashed, killed) left in their lists. Several hailongd may
 * share one Redis: a live peer's lists are never touched. */
/* Our sending lists should hold exactly the messages the SMPP sessions have
 * in hand. One that is there but in no session (a hand-over that failed half
 * way: the outbox entry moved, then Redis went away before it could be put
 * back) would wait for the next restart; it goes back to the outbox now. */
void gw_sweep_sending(struct gw *g, int at_once)
{
	char k_send[160], k_out[96], err[256];
	/* first what could not be written while Redis was away */
	for (struct gw_unkept **kp = &g->unkept; *kp;) {
		struct gw_unkept *k = *kp;
		int rc;
		if (k->send_key) {
			const char *keys[] = {k->send_key, k->key};
			const char *args[] = {k->entry, k->val, "259200"};
			rc = store_run(g->store, STORE_KEEP, 2, keys, 3, args, err, sizeof err);
		} else {
			rc = store_exec(g->store, err, sizeof err, "SET %s %s EX 259200", k->key, k->val);
		}
		if (rc < 0)
			return;
		*kp = k->next;
		gw_unkept_free(k);
	}
	for (struct gw_inflight **pp = &g->removals; *pp;) {
		struct gw_inflight *d = *pp;
		if (d->batching) { /* its SENT is on its way (gw_batch.c) */
			pp = &d->next;
			continue;
		}
		gw_sending_key(g, d->smsc, k_send, sizeof k_send);
		if (store_exec(g->store, err, sizeof err, "LREM %s 1 %s", k_send, d->json) < 0)
			return; /* still away: try again at the next tick */
		*pp = d->next;
		free(d->json);
		free(d);
	}
	for (int i = 0; i < g->nesme; i++) {
		/* An entry held by no session goes back only when the sweep before
		 * saw it so too and no TAKE sent before that sweep is still on its
		 * way: what a pending TAKE moved is in no session yet, and under
		 * load one is nearly always pending, so the list is not skipped */
		double now = gw_clock();
		int old_take = g->taking[i] && g->take_at[i] <= g->sweep_at[i];
		if (at_once && g->taking[i])
			continue; /* (a reload's sweep: what that TAKE moved is in no session yet) */
		uint64_t *seen = NULL;
		size_t nseen = 0;
		gw_sending_key(g, i, k_send, sizeof k_send);
		snprintf(k_out, sizeof k_out, GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
		struct store_list r;
		int rc = store_list(g->store, &r, err, sizeof err, "LRANGE %s 0 -1", k_send);
		if (rc < 0 && rc != -EBADMSG)
			return;
		for (size_t k = 0; k < r.n; k++) {
			const char *v = r.e[k].s;
			/* as many copies in the list as in flight: the surplus is lost */
			int listed = 0, held = 0;
			for (size_t j = 0; j < r.n; j++)
				listed += strcmp(r.e[j].s, v) == 0;
			for (struct gw_inflight *f = g->inflight; f; f = f->next)
				held += f->smsc == i && strcmp(f->json, v) == 0;
			held += gw_committing_has(g, i, v); /* its COMMIT's reply is on its way */
			for (struct gw_inflight *d = g->removals; d; d = d->next)
				held += d->batching && d->smsc == i && strcmp(d->json, v) == 0; /* sent: its SENT is on its way */
			int first = 1;
			for (size_t j = 0; j < k; j++)
				first &= strcmp(r.e[j].s, v) != 0;
			if (!first || held >= listed)
				continue;
			uint64_t h = gw_hash64(v);
			int before = 0;
			for (size_t j = 0; j < g->nunheld[i] && !before; j++)
				before = g->unheld[i][j] == h;
			if (!at_once && (!before || old_take)) {
				uint64_t *grown = realloc(seen, (nseen + 1) * sizeof *seen);
				if (grown) {
					seen = grown;
					seen[nseen++] = h;
				}
				continue; /* the next sweep decides */
			}
			for (int n = held; n < listed; n++) {
				const char *keys[] = {k_send, k_out};
				const char *args[] = {v};
				if (store_run(g->store, STORE_GIVEBACK, 2, keys, 1, args, err, sizeof err) == 0) {
					gw_outbox_pushed(g, i);
					log_warn("[%s] sending entry held by no session: back to the outbox", g->cfg->smsc[i].name);
					gw_mo_cache_clear(g); /* its survey's sq went back */
				}
			}
		}
		store_list_clear(&r);
		free(g->unheld[i]);
		g->unheld[i] = seen;
		g->nunheld[i] = nseen;
		g->sweep_at[i] = now;
		event_active(g->ev_outbox, 0, 0);
	}
}

/* Our lease ran out while Redis was away. A peer cut off from Redis for less
 * time than us waits before it reaps (below), so usually nobody took our
 * lists; but when only we were cut off, a peer may have put the messages our
 * sessions still hold back in the outboxes. Take back what is still there; a
 * message a peer has taken meanwhile may go out twice (counted). */
static int gw_reclaim(struct gw *g)
{
	char k_send[160], k_out[96], err[256];
	long kept = 0, taken = 0;
	for (struct gw_inflight *f = g->inflight; f; f = f->next) {
		gw_sending_key(g, f->smsc, k_send, sizeof k_send);
		snprintf(k_out, sizeof k_out, GW_K_OUTBOX "%s", g->cfg->smsc[f->smsc].name);
		const char *keys[] = {k_send, k_out};
		const char *args[] = {f->json};
		long long ours = 0;
		int rc = store_run_int(g->store, STORE_RECLAIM, 2, keys, 1, args, &ours, err, sizeof err);
		if (rc < 0 && rc != -EBADMSG)
			return -EIO;
		if (rc == 0 && ours == 1)
			kept++;
		else
			taken++;
	}
	/* sent already, their removal from our list still pending: a copy a
	 * peer put back in the outbox must not go out again */
	for (struct gw_inflight *d = g->removals; d; d = d->next) {
		snprintf(k_out, sizeof k_out, GW_K_OUTBOX "%s", g->cfg->smsc[d->smsc].name);
		if (store_exec(g->store, err, sizeof err, "LREM %s 1 %s", k_out, d->json) < 0)
			return -EIO;
	}
	g->counters[GW_LEASE_TAKEN] += (uint64_t)taken;
	if (taken)
		log_warn("lease instance=%s in_hand=%ld taken_by_peers=%ld msg=\"a peer took over messages our "
		         "sessions still hold: they may go out twice\"", g->inst, kept + taken, taken);
	return 0;
}

static double gw_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

void gw_lease_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char err[256];
	/* GET: the old value, to see whether the lease ran out meanwhile */
	char *old = NULL;
	int rc = store_str(g->store, &old, err, sizeof err, "SET %s %d:%" PRIu64 ":%s EX %d GET", g->k_lease,
	                   (int)getpid(), ++g->renewals, g->lease_where, g->cfg->lease_s);
	free(old);
	if (rc < 0 && rc != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	double now = gw_mono();
	int lost = g->registered && rc == 0; /* nil: no lease was there */
	/* A peer's lease is judged only after ours has been renewed without a
	 * gap for a whole lease: when Redis itself was away (restarted, or
	 * unreachable for everyone), or this process stood still, every lease
	 * may have run out together, and the live peers must have had the time
	 * to renew theirs before they look dead. A single failed renewal is no
	 * gap; a lease found gone, or no renewal for nearly a lease, is. */
	if (g->redis_since == 0 || lost || now - g->last_renew >= g->cfg->lease_s - 2)
		g->redis_since = now;
	g->last_renew = now;
	g->lease_conn = store_connects(g->store);
	if (lost) {
		g->counters[GW_LEASE_LOST]++;
		gw_mo_cache_clear(g); /* a peer may have put our lists back (sq lowered) */
		log_warn("lease instance=%s msg=\"ran out while redis was away; peers judged again after %d s\"",
		         g->inst, g->cfg->lease_s);
		g->reclaim_pending = 1;
	}
	if (g->reclaim_pending && gw_reclaim(g) == 0)
		g->reclaim_pending = 0;
	store_exec(g->store, err, sizeof err, "SADD hl:instances %s", g->inst);
	g->registered = 1;
	int judge = now - g->redis_since >= g->cfg->lease_s;
	struct store_list peers = {0, NULL};
	if (judge)
		store_list(g->store, &peers, err, sizeof err, "SMEMBERS hl:instances");
	for (size_t i = 0; i < peers.n; i++) {
		const char *other = peers.e[i].s;
		if (!other || strcmp(other, g->inst) == 0 || strlen(other) > 32)
			continue;
		if (gw_reap(g, other, 0) > 0) {
			gw_outbox_pushed(g, -1); /* its sending lists went back to the outboxes */
			event_active(g->ev_queue, 0, 0);
			event_active(g->ev_outbox, 0, 0);
			event_active(g->ev_archive, 0, 0);
		}
	}
	store_list_clear(&peers);
	gw_retire_campaigns(g, gw_now());
	gw_mo_sweep(g);
	gw_sweep_sending(g, 0);
	/* with no POP or START on its way, anything still in our starting list
	 * was left by a failure half-way (a lost reply): back in the queue */
	const char *sk[] = {g->k_starting, GW_K_QUEUE};
	if (gw_starts_busy(g))
		gw_requeue_lost_starts(g);
	else
		g->nlost_starts = 0; /* all of them, if still there, go back now */
	long long back = 0;
	if (!gw_starts_busy(g) && store_run_int(g->store, STORE_REQUEUE, 2, sk, 0, NULL, &back, err, sizeof err) == 0 &&
	    back > 0) {
		log_warn("recover requeued=%lld what=starting msg=\"left by a failure half-way\"", back);
		event_active(g->ev_queue, 0, 0);
	}
}

/* Where this process runs, as the lease says it ("pid:renewals:WHERE"):
 * the kernel's boot id and our pid namespace. A lease with the same WHERE
 * and a pid that no longer exists is a dead predecessor's for sure. */
static void gw_lease_where_init(struct gw *g)
{
	char boot[64] = "", ns[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (!fgets(boot, sizeof boot, f))
			boot[0] = '\0';
		fclose(f);
	}
	boot[strcspn(boot, "\n")] = '\0';
	ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
	ns[n > 0 ? n : 0] = '\0';
	g->lease_where[0] = '\0';
	if (boot[0] && ns[0] && !strpbrk(boot, ": ") && !strchr(ns, ' '))
		snprintf(g->lease_where, sizeof g->lease_where, "%s/%s", boot, ns);
}

/* 1 when the lease value was written by a process of this kernel and pid
 * namespace that is gone (our predecessor, crashed); 0 when that cannot be
 * told (then it is judged by watching it). */
static int gw_lease_dead(const struct gw *g, const char *v, long *pid_out)
{
	char *end;
	long pid = strtol(v, &end, 10);
	*pid_out = pid;
	if (*end != ':' || pid <= 0 || pid == (long)getpid() || !g->lease_where[0])
		return 0;
	const char *where = strchr(end + 1, ':');
	if (!where || strcmp(where + 1, g->lease_where) != 0)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* At start, our instance id may still hold a lease: either our own
 * predecessor crashed less than redis.lease ago (take its lists back now), or
 * another hailongd with the same host and http.listen is running (its lease
 * value changes as it renews: refuse to start). A predecessor known dead
 * (gw_lease_dead) is taken over at once; otherwise the lease is watched for
 * 4.5 s. Returns 0 or -EEXIST. */
int gw_take_over(struct gw *g, char *err, size_t errlen)
{
	char e[256], first[256] = "";
	gw_lease_where_init(g);
	char *v = NULL;
	if (store_str(g->store, &v, e, sizeof e, "GET %s", g->k_lease) != 1)
		return 0; /* no lease (or no Redis yet: the lease cb catches up) */
	snprintf(first, sizeof first, "%s", v);
	free(v);
	long pid;
	if (gw_lease_dead(g, first, &pid)) {
		log_info("recover instance=%s pid=%ld msg=\"lease of a process that is gone: taken over at once\"", g->inst,
		         pid);
		gw_reap(g, g->inst, 1);
		return 0;
	}
	log_info("recover instance=%s msg=\"lease found: waiting to see whether it is alive\"", g->inst);
	for (int i = 0; i < 18; i++) { /* 4.5 s: more than two renewals of a live one */
		struct timespec ts = {0, 250000000};
		nanosleep(&ts, NULL);
		int rc = store_str(g->store, &v, e, sizeof e, "GET %s", g->k_lease);
		int changed = rc == 1 && strcmp(v, first) != 0;
		int gone = rc == 0 || rc == -EBADMSG; /* answered, and no lease */
		free(v);
		if (changed) {
			snprintf(err, errlen, "another hailongd with http.listen %s runs on this host with the same Redis",
			         g->cfg->http_listen);
			return -EEXIST;
		}
		if (gone)
			break;
	}
	gw_reap(g, g->inst, 1);
	return 0;
}

/* At start: the lists of the single-process layout (before per-instance
 * lists) go back in line; then the lease. */
void gw_recover(struct gw *g)
{
	char err[256], from[96], to[96];
	const char *keys[2];
	keys[0] = GW_K_OLD_STARTING;
	keys[1] = GW_K_QUEUE;
	if (store_run(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err) < 0)
		log_warn("recover err=\"%s\" msg=\"will retry when redis is back\"", err);
	keys[0] = GW_K_OLD_ARCHIVING;
	keys[1] = GW_K_ARCHIVE;
	store_run(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		snprintf(from, sizeof from, GW_K_SENDING "%s", g->cfg->smsc[i].name);
		snprintf(to, sizeof to, GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
		keys[0] = from;
		keys[1] = to;
		store_run(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
	}
	gw_lease_cb(-1, 0, g);
}

