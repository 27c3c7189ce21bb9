/* gw_lease: this gateway's lease, reaping dead peers, reclaiming, recovering at start.
 * The lease tick runs on the asynchronous connection, as a chain of
 * replies: nothing here waits for Redis on the event loop but the start
 * (gw_take_over, gw_recover), a reload's sweep and the stop. */
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

/* REAP's keys for instance inst (its lease, its lists, and per SMSC its
 * sending list and the outbox it goes back to). */
struct gw_reapk {
	char lease[48], starting[48], archiving[48], dtaking[64];
	char pairs[CONFIG_MAX_SMSC][2][160];
	const char *keys[8 + 2 * CONFIG_MAX_SMSC];
	int nk;
};

static void gw_reap_keys(const struct gw *g, const char *inst, struct gw_reapk *k)
{
	snprintf(k->lease, sizeof k->lease, GW_K_INST "%s", inst);
	snprintf(k->starting, sizeof k->starting, GW_K_STARTING "%s", inst);
	snprintf(k->archiving, sizeof k->archiving, GW_K_ARCHIVING "%s", inst);
	snprintf(k->dtaking, sizeof k->dtaking, GW_K_DTAKING "%s", inst);
	int nk = 0;
	k->keys[nk++] = k->lease;
	k->keys[nk++] = GW_K_INSTANCES;
	k->keys[nk++] = k->starting;
	k->keys[nk++] = GW_K_QUEUE;
	k->keys[nk++] = k->archiving;
	k->keys[nk++] = GW_K_ARCHIVE;
	k->keys[nk++] = k->dtaking;
	k->keys[nk++] = GW_K_DELIVERIES;
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		snprintf(k->pairs[i][0], sizeof k->pairs[i][0], GW_K_SENDING "%s:%s", g->cfg->smsc[i].name, inst);
		snprintf(k->pairs[i][1], sizeof k->pairs[i][1], GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
		k->keys[nk++] = k->pairs[i][0];
		k->keys[nk++] = k->pairs[i][1];
	}
	k->nk = nk;
}

static void gw_reaped(const char *inst, long long n, int force)
{
	if (n > 0)
		log_info("recover instance=%s requeued=%lld%s", inst, n, force ? " (own stop)" : " (lease expired)");
}

/* Put the lists of instance `inst` back in line (its starting ids to the
 * queue, its sending messages to the outboxes, its archiving records to the
 * archive) if its lease ran out, or always with force (our own stop).
 * Returns the entries moved, -1 when that instance is alive, -EIO. */
long long gw_reap(struct gw *g, const char *inst, int force)
{
	char err[256];
	struct gw_reapk k;
	gw_reap_keys(g, inst, &k);
	const char *args[] = {inst, force ? "1" : "0"};
	long long n = 0;
	int rc = store_run_int(g->store, STORE_REAP, k.nk, k.keys, 2, args, &n, err, sizeof err);
	if (rc < 0 && rc != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	if (rc < 0)
		n = 0;
	gw_reaped(inst, n, force);
	return n;
}

/* ---- the sweep of our sending lists ----
 *
 * Our sending lists should hold exactly the messages the SMPP sessions have
 * in hand. One that is there but in no session (a hand-over that failed half
 * way: the outbox entry moved, then Redis went away before it could be put
 * back; a TAKE whose reply was lost) would wait for the next restart; it
 * goes back to the outbox now. */

/* How many copies of v our side holds for session i: in a session, in a
 * COMMIT on its way, or sent (a removal: never given back, whether its SENT
 * or the sweep's LREM is on its way or not yet sent). */
static int gw_sweep_held(const struct gw *g, int i, const char *v)
{
	int held = 0;
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		held += f->smsc == i && strcmp(f->json, v) == 0;
	held += gw_committing_has(g, i, v); /* its COMMIT's reply is on its way */
	for (const struct gw_inflight *d = g->removals; d; d = d->next)
		held += d->smsc == i && strcmp(d->json, v) == 0;
	return held;
}

/* Judges our sending list of session i as r lists it (read when `at` was,
 * gw_clock), against what we hold now, and gives (give) each copy held by
 * no session back: at once (a reload's sweep, unless a TAKE sent since
 * the LRANGE is on its way: then none, see below), or only when the sweep
 * before saw it so too and no TAKE sent before that sweep is still on its
 * way (what a pending TAKE moved is in no session yet; under load one is
 * nearly always pending, so the list is not skipped). The others are
 * remembered for the next sweep. On the asynchronous connection the
 * replies of every TAKE and COMMIT sent before the LRANGE have come when
 * its own does, so what they moved is in a session by now. */
void gw_sweep_judge(struct gw *g, int i, const struct store_list *r, int at_once, double at, gw_give_fn give,
                    void *arg)
{
	/* a reload's sweep while a TAKE sent since its LRANGE is on its way:
	 * what that TAKE moves into a session may be an entry listed here and
	 * put back in the outbox since (a PUTBACK of the replaced session's
	 * TAKE), and a GIVEBACK now would leave a copy in the outbox to be sent
	 * again. Nothing is given, nor remembered (marked seen once, such an
	 * entry would be given back by a lease tick whose LRANGE is on its
	 * way too): the lease tick's sweep decides, in its two looks. */
	if (at_once && g->taking[i] && g->take_at[i] >= at)
		return;
	char k_send[160], k_out[96];
	gw_sending_key(g, i, k_send, sizeof k_send);
	snprintf(k_out, sizeof k_out, GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
	int old_take = g->taking[i] && g->take_at[i] <= g->sweep_at[i];
	uint64_t *seen = NULL;
	size_t nseen = 0;
	for (size_t k = 0; k < r->n; k++) {
		const char *v = r->e[k].s;
		if (!v)
			continue;
		/* as many copies in the list as in flight: the surplus is lost */
		int listed = 0, first = 1;
		for (size_t j = 0; j < r->n; j++)
			listed += r->e[j].s && strcmp(r->e[j].s, v) == 0;
		for (size_t j = 0; j < k; j++)
			first &= !r->e[j].s || strcmp(r->e[j].s, v) != 0;
		int held = gw_sweep_held(g, i, v);
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
		for (int n = held; n < listed; n++)
			give(g, i, k_send, k_out, v, arg);
	}
	free(g->unheld[i]);
	g->unheld[i] = seen;
	g->nunheld[i] = nseen;
	g->sweep_at[i] = at;
}

void gw_given_back(struct gw *g, int i)
{
	gw_outbox_pushed(g, i);
	log_warn("[%s] sending entry held by no session: back to the outbox", g->cfg->smsc[i].name);
	gw_mo_cache_clear(g); /* its survey's sq went back */
}

static void gw_unlink_unkept(struct gw *g, struct gw_unkept *k)
{
	for (struct gw_unkept **kp = &g->unkept; *kp; kp = &(*kp)->next)
		if (*kp == k) {
			*kp = k->next;
			gw_unkept_free(k);
			return;
		}
}

static void gw_unlink_removal(struct gw *g, struct gw_inflight *d)
{
	for (struct gw_inflight **pp = &g->removals; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			free(d->json);
			free(d);
			return;
		}
}

/* ---- the lease tick, on the asynchronous connection ----
 *
 * One tick is a chain: the renewal (SET ... GET) first; when it was
 * written, in one pass: RECLAIM (when the lease had run out), SADD to the
 * instances, SMEMBERS (when peers may be judged), the sweep's writes of
 * what could not be written before, its LRANGE of each sending list, and
 * our starting list (UNCLAIM or REQUEUE); then the REAP of each peer found
 * dead, and the GIVEBACK of each entry the sweep gives back. The tick ends
 * with the last reply; the next does not start before (g->tick). A reply
 * lost (-EIO) is counted and logged, never sent again: the next tick reads
 * afresh what Redis holds and decides again. When the renewal cannot be
 * written the tick does nothing more, as when it ran in place. */
struct gw_tick {
	struct gw *g;
	int pending;            /* commands sent whose reply has not come (a callback's own holds it while it sends) */
	unsigned long conn;     /* store_connects() when the renewal left */
	int reclaims;           /* RECLAIM and outbox LREM replies awaited */
	int reclaim_failed;     /* one of them failed: RECLAIM again next tick */
	long kept, taken;       /* RECLAIM: still ours, taken by a peer */
	int sweep_failed;       /* a write before the LRANGEs failed: no list is judged this tick */
	int errors;             /* replies lost or refused (logged once, at the end) */
	char err[160];          /* the first one's error */
	double swept_at;        /* when the LRANGEs left (gw_clock) */
};

/* One command of a tick: what its reply concerns. */
struct gw_tick_job {
	struct gw_tick *t;
	int i;                  /* a session (LRANGE, GIVEBACK) */
	struct gw_unkept *k;    /* an unkept record being written */
	struct gw_inflight *d;  /* a removal being removed */
	char inst[33];          /* a peer being reaped */
	char id[RECORD_ID_MAX]; /* a survey put back in line (UNCLAIM) */
};

static void gw_tick_end(struct gw_tick *t);

static void gw_tick_fail(struct gw_tick *t, int rc, const char *err)
{
	if (rc == -EBADMSG)
		return; /* answered (the command ran), with a reply of another shape */
	t->g->counters[GW_REDIS_ERR]++;
	if (t->errors++ == 0)
		snprintf(t->err, sizeof t->err, "%s", err ? err : "");
}

/* A reply (or the end of a callback that held the tick) came. */
static void gw_tick_release(struct gw_tick *t)
{
	if (--t->pending == 0)
		gw_tick_end(t);
}

static struct gw_tick_job *gw_tick_job(struct gw_tick *t)
{
	struct gw_tick_job *j = calloc(1, sizeof *j);
	if (j)
		j->t = t;
	return j;
}

/* Takes the job's reply into account: rc of the send. 0 when it left. */
static int gw_tick_sent(struct gw_tick *t, struct gw_tick_job *j, int rc)
{
	if (rc == 0) {
		t->pending++;
		return 0;
	}
	free(j);
	gw_tick_fail(t, -EIO, "redis cannot be reached");
	return -EIO;
}

static void gw_tick_on_aside(void *arg, int rc, long long v, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	(void)v;
	if (rc < 0)
		gw_tick_fail(t, rc, err);
	free(j);
	gw_tick_release(t);
}

/* RECLAIM's reply (j->d NULL), or an outbox LREM of a removal's. */
static void gw_tick_reclaim_done(struct gw_tick *t)
{
	struct gw *g = t->g;
	if (--t->reclaims > 0 || t->reclaim_failed)
		return;
	g->reclaim_pending = 0;
	g->counters[GW_LEASE_TAKEN] += (uint64_t)t->taken;
	if (t->taken)
		log_warn("lease instance=%s in_hand=%ld taken_by_peers=%ld msg=\"a peer took over messages our "
		         "sessions still hold: they may go out twice\"", g->inst, t->kept + t->taken, t->taken);
}

static void gw_tick_on_reclaim(void *arg, int rc, long long v, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	if (rc < 0 && rc != -EBADMSG) {
		gw_tick_fail(t, rc, err);
		t->reclaim_failed = 1;
	} else if (j->d) {
		/* the outbox LREM of a removal: nothing to count */
	} else if (rc == 0 && v == 1) {
		t->kept++;
	} else {
		t->taken++;
	}
	free(j);
	gw_tick_reclaim_done(t);
	gw_tick_release(t);
}

/* Our lease ran out while Redis was away. A peer cut off from Redis for less
 * time than us waits before it reaps (below), so usually nobody took our
 * lists; but when only we were cut off, a peer may have put the messages our
 * sessions still hold back in the outboxes. Take back what is still there; a
 * message a peer has taken meanwhile may go out twice (counted). Sent
 * before the sweep's LRANGE, so that it finds them listed. */
static void gw_tick_reclaim(struct gw_tick *t)
{
	struct gw *g = t->g;
	char k_send[160], k_out[96];
	t->reclaims = 1; /* held while they are sent */
	for (struct gw_inflight *f = g->inflight; f && !t->reclaim_failed; f = f->next) {
		gw_sending_key(g, f->smsc, k_send, sizeof k_send);
		snprintf(k_out, sizeof k_out, GW_K_OUTBOX "%s", g->cfg->smsc[f->smsc].name);
		const char *keys[] = {k_send, k_out};
		const char *args[] = {f->json};
		struct gw_tick_job *j = gw_tick_job(t);
		int rc = j ? store_async_run_int(g->store, STORE_RECLAIM, 2, keys, 1, args, gw_tick_on_reclaim, j) : -ENOMEM;
		if (gw_tick_sent(t, j, rc) < 0)
			t->reclaim_failed = 1;
		else
			t->reclaims++;
	}
	/* sent already, their removal from our list still pending: a copy a
	 * peer put back in the outbox must not go out again */
	for (struct gw_inflight *d = g->removals; d && !t->reclaim_failed; d = d->next) {
		snprintf(k_out, sizeof k_out, GW_K_OUTBOX "%s", g->cfg->smsc[d->smsc].name);
		const char *argv[] = {"LREM", k_out, "1", d->json};
		struct gw_tick_job *j = gw_tick_job(t);
		if (j)
			j->d = d; /* (only marks it as an LREM: not dereferenced) */
		int rc = j ? store_async_intv(g->store, 4, argv, gw_tick_on_reclaim, j) : -ENOMEM;
		if (gw_tick_sent(t, j, rc) < 0)
			t->reclaim_failed = 1;
		else
			t->reclaims++;
	}
	gw_tick_reclaim_done(t);
}

static void gw_tick_on_reap(void *arg, int rc, long long n, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	struct gw *g = t->g;
	if (rc < 0) {
		gw_tick_fail(t, rc, err);
	} else if (n > 0) {
		gw_reaped(j->inst, n, 0);
		gw_outbox_pushed(g, -1); /* its sending lists went back to the outboxes */
		event_active(g->ev_queue, 0, 0);
		event_active(g->ev_outbox, 0, 0);
		event_active(g->ev_archive, 0, 0);
	}
	free(j);
	gw_tick_release(t);
}

/* SMEMBERS hl:instances: each peer's REAP (which does nothing to a peer
 * whose lease is there). */
static void gw_tick_on_peers(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_tick_job *j0 = arg;
	struct gw_tick *t = j0->t;
	struct gw *g = t->g;
	free(j0);
	if (rc < 0) {
		gw_tick_fail(t, rc, err);
		gw_tick_release(t);
		return;
	}
	for (size_t i = 0; i < l->n && !g->closing; i++) {
		const char *other = l->e[i].s;
		if (!other || strcmp(other, g->inst) == 0 || strlen(other) > 32)
			continue;
		struct gw_reapk k;
		gw_reap_keys(g, other, &k);
		const char *args[] = {other, "0"};
		struct gw_tick_job *j = gw_tick_job(t);
		if (j)
			snprintf(j->inst, sizeof j->inst, "%s", other);
		int src = j ? store_async_run_int(g->store, STORE_REAP, k.nk, k.keys, 2, args, gw_tick_on_reap, j) : -ENOMEM;
		if (gw_tick_sent(t, j, src) < 0)
			break;
	}
	gw_tick_release(t);
}

/* The write of a record that could not be written while Redis was away
 * (KEEP, or SET), or the LREM of a sent message's entry: done, the node
 * goes; else no list is judged this tick (an entry still listed would be
 * taken for one held by no session). */
static int gw_tick_written(struct gw_tick *t, int rc, const char *err)
{
	if (rc < 0 && rc != -EBADMSG) {
		gw_tick_fail(t, rc, err);
		t->sweep_failed = 1;
		return 0;
	}
	return 1;
}

static void gw_tick_on_unkept(void *arg, int rc, long long v, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	(void)v;
	j->k->sweeping = 0;
	if (gw_tick_written(t, rc, err))
		gw_unlink_unkept(t->g, j->k);
	free(j);
	gw_tick_release(t);
}

static void gw_tick_on_set(void *arg, int rc, const struct store_list *l, const char *err)
{
	(void)l;
	gw_tick_on_unkept(arg, rc, 0, err);
}

static void gw_tick_on_removal(void *arg, int rc, long long v, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	(void)v;
	j->d->sweeping = 0;
	if (gw_tick_written(t, rc, err))
		gw_unlink_removal(t->g, j->d);
	free(j);
	gw_tick_release(t);
}

static void gw_tick_on_giveback(void *arg, int rc, long long v, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	if (rc < 0) {
		gw_tick_fail(t, rc, err);
	} else if (v == 1) {
		gw_given_back(t->g, j->i);
		event_active(t->g->ev_outbox, 0, 0);
	}
	free(j);
	gw_tick_release(t);
}

static void gw_give_async(struct gw *g, int i, const char *k_send, const char *k_out, const char *v, void *arg)
{
	struct gw_tick *t = arg;
	const char *keys[] = {k_send, k_out};
	const char *args[] = {v};
	struct gw_tick_job *j = gw_tick_job(t);
	if (j)
		j->i = i;
	int rc = j ? store_async_run_int(g->store, STORE_GIVEBACK, 2, keys, 1, args, gw_tick_on_giveback, j) : -ENOMEM;
	gw_tick_sent(t, j, rc);
}

static void gw_tick_on_list(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	struct gw *g = t->g;
	int i = j->i;
	free(j);
	static const struct store_list none;
	if (rc < 0 && rc != -EBADMSG)
		gw_tick_fail(t, rc, err);
	else if (!t->sweep_failed && !g->closing && i < g->nesme)
		gw_sweep_judge(g, i, rc < 0 ? &none : l, 0, t->swept_at, gw_give_async, t);
	gw_tick_release(t);
}

/* The sweep's first pass: the writes that must come before the lists are
 * read, then each list's LRANGE (pipelined behind them: in Redis they run
 * in that order, and their replies come in that order). */
static void gw_tick_sweep(struct gw_tick *t)
{
	struct gw *g = t->g;
	char k_send[160];
	for (struct gw_unkept *k = g->unkept; k && !t->sweep_failed; k = k->next) {
		if (k->sweeping)
			continue;
		struct gw_tick_job *j = gw_tick_job(t);
		int rc = -ENOMEM;
		if (j && k->send_key) {
			const char *keys[] = {k->send_key, k->key};
			const char *args[] = {k->entry, k->val, "259200"};
			rc = store_async_run_int(g->store, STORE_KEEP, 2, keys, 3, args, gw_tick_on_unkept, j);
		} else if (j) {
			const char *argv[] = {"SET", k->key, k->val, "EX", "259200"};
			rc = store_async_anyv(g->store, 5, argv, gw_tick_on_set, j);
		}
		if (gw_tick_sent(t, j, rc) < 0) {
			t->sweep_failed = 1;
			break;
		}
		j->k = k;
		k->sweeping = 1;
	}
	for (struct gw_inflight *d = g->removals; d && !t->sweep_failed; d = d->next) {
		if (d->batching || d->sweeping) /* its SENT is on its way (gw_batch.c) */
			continue;
		gw_sending_key(g, d->smsc, k_send, sizeof k_send);
		const char *argv[] = {"LREM", k_send, "1", d->json};
		struct gw_tick_job *j = gw_tick_job(t);
		int rc = j ? store_async_intv(g->store, 4, argv, gw_tick_on_removal, j) : -ENOMEM;
		if (gw_tick_sent(t, j, rc) < 0) {
			t->sweep_failed = 1;
			break;
		}
		j->d = d;
		d->sweeping = 1;
	}
	if (t->sweep_failed)
		return; /* still away: try again at the next tick */
	t->swept_at = gw_clock();
	for (int i = 0; i < g->nesme; i++) {
		gw_sending_key(g, i, k_send, sizeof k_send);
		const char *argv[] = {"LRANGE", k_send, "0", "-1"};
		struct gw_tick_job *j = gw_tick_job(t);
		if (j)
			j->i = i;
		int rc = j ? store_async_listv(g->store, 4, argv, gw_tick_on_list, j) : -ENOMEM;
		if (gw_tick_sent(t, j, rc) < 0)
			break;
	}
}

/* An UNCLAIM of a survey whose START's reply was lost. */
static void gw_tick_on_unclaim(void *arg, int rc, long long v, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	struct gw *g = t->g;
	if (rc < 0 && rc != -EBADMSG) {
		/* (it may have run: if so it finds nothing to move next time) */
		gw_tick_fail(t, rc, err);
		if (g->lost_starts && g->nlost_starts < GW_LOST_STARTS_MAX)
			snprintf(g->lost_starts[g->nlost_starts++], RECORD_ID_MAX, "%s", j->id);
	} else if (rc == 0 && v == 1) {
		log_warn("recover survey=%s what=starting msg=\"its start's reply was lost and it had not run: back in line\"",
		         j->id);
		event_active(g->ev_queue, 0, 0);
	}
	free(j);
	gw_tick_release(t);
}

static void gw_tick_on_requeue(void *arg, int rc, long long back, const char *err)
{
	struct gw_tick_job *j = arg;
	struct gw_tick *t = j->t;
	if (rc < 0) {
		gw_tick_fail(t, rc, err);
	} else if (back > 0) {
		log_warn("recover requeued=%lld what=starting msg=\"left by a failure half-way\"", back);
		event_active(t->g->ev_queue, 0, 0);
	}
	free(j);
	gw_tick_release(t);
}

/* Our starting list. With no POP or START on its way, anything still there
 * was left by a failure half-way (a lost reply): back in the queue
 * (REQUEUE; a POP sent after it runs after it). Under a backlog, when that
 * moment never comes, the surveys whose START's reply was lost go back by
 * their id (UNCLAIM: only if still on our list; a START that ran took it
 * off, and should it run late, after this, its survey is started once all
 * the same); those Redis could not take now are tried at the next tick. */
static void gw_tick_starting(struct gw_tick *t)
{
	struct gw *g = t->g;
	const char *keys[] = {g->k_starting, GW_K_QUEUE};
	if (!gw_starts_busy(g)) {
		g->nlost_starts = 0; /* all of them, if still there, go back now */
		struct gw_tick_job *j = gw_tick_job(t);
		int rc = j ? store_async_run_int(g->store, STORE_REQUEUE, 2, keys, 0, NULL, gw_tick_on_requeue, j) : -ENOMEM;
		gw_tick_sent(t, j, rc);
		return;
	}
	size_t keep = 0;
	for (size_t i = 0; i < g->nlost_starts; i++) {
		const char *args[] = {g->lost_starts[i]};
		struct gw_tick_job *j = gw_tick_job(t);
		if (j)
			snprintf(j->id, sizeof j->id, "%s", g->lost_starts[i]);
		int rc = j ? store_async_run_int(g->store, STORE_UNCLAIM, 2, keys, 1, args, gw_tick_on_unclaim, j) : -ENOMEM;
		if (gw_tick_sent(t, j, rc) < 0)
			memmove(g->lost_starts[keep++], g->lost_starts[i], RECORD_ID_MAX);
	}
	g->nlost_starts = keep;
}

/* A renewal's reply (SET ... GET: the old value, nil when no lease was
 * there), sent when store_connects() was conn: the lease's bookkeeping. A
 * lease found gone means a RECLAIM at the next tick's renewal. */
static void gw_lease_renewed(struct gw *g, const struct store_list *l, unsigned long conn)
{
	double now = gw_clock();
	int lost = g->registered && l->n == 1 && l->e[0].kind == STORE_NIL;
	/* A peer's lease is judged only after ours has been renewed without a
	 * gap for a whole lease: when Redis itself was away (restarted, or
	 * unreachable for everyone), or this process stood still, every lease
	 * may have run out together, and the live peers must have had the time
	 * to renew theirs before they look dead. A single failed renewal is no
	 * gap; a lease found gone, or no renewal for nearly a lease, is. */
	if (g->redis_since == 0 || lost || now - g->last_renew >= g->cfg->lease_s - 2)
		g->redis_since = now;
	g->last_renew = now;
	g->lease_conn = conn;
	if (lost) {
		g->counters[GW_LEASE_LOST]++;
		gw_mo_cache_clear(g); /* a peer may have put our lists back (sq lowered) */
		log_warn("lease instance=%s msg=\"ran out while redis was away; peers judged again after %d s\"",
		         g->inst, g->cfg->lease_s);
		g->reclaim_pending = 1;
	}
}

/* SET ... GET's reply: the old value (nil: no lease was there). */
static void gw_tick_on_renew(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_tick_job *j0 = arg;
	struct gw_tick *t = j0->t;
	struct gw *g = t->g;
	free(j0);
	if (rc < 0 || g->closing) {
		if (rc < 0)
			gw_tick_fail(t, rc, err);
		gw_tick_release(t);
		return;
	}
	/* (its own count holds the tick while this pass sends) */
	gw_lease_renewed(g, l, t->conn);
	int outbox = g->outbox_after_renew && store_connects(g->store) == t->conn;
	if (g->reclaim_pending)
		gw_tick_reclaim(t);
	const char *sadd[] = {"SADD", GW_K_INSTANCES, g->inst};
	struct gw_tick_job *j = gw_tick_job(t);
	gw_tick_sent(t, j, j ? store_async_intv(g->store, 3, sadd, gw_tick_on_aside, j) : -ENOMEM);
	if (!g->registered) {
		/* the pumps that fill our own lists waited for this SADD (sent
		 * ahead of whatever they send now): a crash before it would
		 * leave those lists to no peer */
		g->registered = 1;
		event_active(g->ev_queue, 0, 0);
		event_active(g->ev_outbox, 0, 0);
		event_active(g->ev_archive, 0, 0);
	}
	if (g->last_renew - g->redis_since >= g->cfg->lease_s) {
		const char *smembers[] = {"SMEMBERS", GW_K_INSTANCES};
		j = gw_tick_job(t);
		gw_tick_sent(t, j, j ? store_async_listv(g->store, 2, smembers, gw_tick_on_peers, j) : -ENOMEM);
	}
	gw_retire_campaigns(g, gw_now());
	gw_mo_sweep(g);
	gw_tick_sweep(t);
	gw_tick_starting(t);
	if (outbox) {
		/* the outbox pump waited for this: its TAKEs go behind the RECLAIMs */
		g->outbox_after_renew = 0;
		event_active(g->ev_outbox, 0, 0);
	}
	gw_tick_release(t);
}

static void gw_tick_end(struct gw_tick *t)
{
	struct gw *g = t->g;
	if (t->errors && !g->closing)
		log_warn("lease tick errors=%d err=\"%s\" msg=\"not sent again: the next tick reads afresh\"", t->errors,
		         t->err);
	g->tick = NULL;
	free(t);
	if (g->tick_again && !g->closing) {
		g->tick_again = 0;
		gw_lease_tick(g);
	}
}

#define GW_BARE_RENEWALS 4 /* renewals on their way beside a tick's, at most */

/* The renewal, SET ... GET (the old value, to see whether the lease ran
 * out meanwhile), on the asynchronous connection: 0 when on its way. */
static int gw_lease_send(struct gw *g, store_list_cb cb, void *arg)
{
	char val[160], ex[16];
	snprintf(val, sizeof val, "%d:%" PRIu64 ":%s", (int)getpid(), ++g->renewals, g->lease_where);
	snprintf(ex, sizeof ex, "%d", g->cfg->lease_s);
	const char *argv[] = {"SET", g->k_lease, val, "EX", ex, "GET"};
	return store_async_anyv(g->store, 6, argv, cb, arg);
}

/* A renewal sent on its own (gw_lease_cb) came back. */
static void gw_lease_on_bare(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw *g = arg;
	g->bare_renewing--;
	if (g->closing)
		return;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("lease instance=%s msg=\"could not renew; the next tick tries again\" err=\"%s\"", g->inst,
		         err ? err : "");
		return;
	}
	int pending = g->reclaim_pending;
	gw_lease_renewed(g, l, store_connects(g->store)); /* (a reply: the connection it left on) */
	if (g->reclaim_pending && !pending)
		g->outbox_after_renew = 1; /* found gone: no TAKE before the next tick's RECLAIM (gw_lease_first) */
}

void gw_lease_tick(struct gw *g)
{
	if (g->closing)
		return; /* (while shutting down, draining, the lease is still renewed) */
	if (g->tick) {
		/* Redis reached again since its renewal left: one more after it */
		if (store_connects(g->store) != g->tick->conn)
			g->tick_again = 1;
		return;
	}
	struct gw_tick *t = calloc(1, sizeof *t);
	struct gw_tick_job *j = t ? gw_tick_job(t) : NULL;
	if (!t || !j) {
		free(t);
		free(j);
		return;
	}
	t->g = g;
	if (gw_lease_send(g, gw_tick_on_renew, j) < 0) {
		g->counters[GW_REDIS_ERR]++;
		free(j);
		free(t);
		return;
	}
	t->conn = store_connects(g->store); /* after the send: it may have connected */
	t->pending = 1;
	g->tick = t;
}

int gw_lease_first(struct gw *g)
{
	/* (a renewal of its own that found the lease gone holds the pump too:
	 * peers may have put our messages back in the outbox, and the RECLAIM
	 * comes with the next tick) */
	if (!g->registered || (store_connects(g->store) == g->lease_conn && !g->outbox_after_renew))
		return 0;
	gw_lease_tick(g); /* (or one more after the one on its way) */
	if (!g->tick)
		return 0; /* Redis cannot be reached: nothing can be taken either */
	g->outbox_after_renew = 1;
	return 1;
}

void gw_lease_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	if (!g->tick) {
		gw_lease_tick(g);
		return;
	}
	/* The last tick is still on its way (a slow Redis: its chain of
	 * replies may outlast the lease): no overlap, but the lease is renewed
	 * on time all the same, by renewals of their own (a few at most). */
	if (g->bare_renewing >= GW_BARE_RENEWALS || g->closing || !g->registered)
		return;
	if (gw_lease_send(g, gw_lease_on_bare, g) < 0) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	g->bare_renewing++;
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
	gw_lease_tick(g); /* on the asynchronous connection: the loop runs it first */
}

