/* gw_reload: SIGHUP for the SMPP side: changed `smpp` entries re-bind, new
 * ones bind, removed ones drain and hand their messages over, unchanged ones
 * keep their session, routes apply at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw_int.h"
#include "log.h"

/* The old session of a changed entry, draining before the new one binds;
 * or the session of an entry the file no longer has (removing), draining
 * before its slot is retired: its messages then go to the entries that
 * route their numbers now. */
struct gw_rebind {
	struct gw *g;
	int i;                 /* its index in g->esme and g->cfg->smsc */
	struct esme *old;      /* NULL once freed */
	int removing;          /* 1 = the entry was removed: the slot is retired */
	struct event *retry;   /* removing: the hand-over again in a second (Redis away) */
	long long moved[2];    /* removing: outbox and held messages handed over so far */
	int held;              /* removing, on its way: the list being handed over (1 held, 0 outbox) */
	int rounds;            /* removing, on its way: round trips of this try */
};

#define GW_RETIRE_BATCH 200   /* messages handed over in one round trip */
#define GW_RETIRE_ROUNDS 100  /* round trips per try (then the next second) */

/* KEYS: the removed entry's outbox, then the outbox of each slot; ARGV
 * (entry, KEYS index)...: each entry still there moves to the tail of its
 * new outbox (an entry a peer took meanwhile is left alone). */
static const char gw_move_out_lua[] =
	"local n = 0\n"
	"for i = 1, #ARGV, 2 do\n"
	"  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then\n"
	"    redis.call('RPUSH', KEYS[tonumber(ARGV[i + 1])], ARGV[i])\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n";
/* The same for messages held by quiet hours: ARGV (member, score, index)...;
 * they keep their release time and their place in line (the member). */
static const char gw_move_held_lua[] =
	"local n = 0\n"
	"for i = 1, #ARGV, 3 do\n"
	"  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then\n"
	"    redis.call('ZADD', KEYS[tonumber(ARGV[i + 2])], ARGV[i + 1], ARGV[i])\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n";

/* The entry an outbox entry goes to now: a USSD screen to the number's
 * USSD link when one is left, anything else by its route. */
static int gw_retire_route(const struct gw *g, const char *entry)
{
	json_t *o = json_loads(entry, 0, NULL);
	const char *to = json_string_value(json_object_get(o, "to"));
	int k = -1;
	if (to && json_is_integer(json_object_get(o, "op")))
		k = gw_ussd_route(g, to);
	if (k < 0)
		k = gw_route(g, to ? to : "");
	json_decref(o);
	return k;
}

/* The EVAL that hands the messages r lists (a batch of removed slot i's
 * outbox, or of its held zset) to the entries that route them now, in
 * argv (pointing into r and b). Its argc, or 0 when none is to move. */
struct gw_retire_args {
	char src[96], nk[12], dst[CONFIG_MAX_SMSC][96], idx[GW_RETIRE_BATCH][12];
	const char *argv[4 + CONFIG_MAX_SMSC + 3 * GW_RETIRE_BATCH];
};

static int gw_retire_eval(const struct gw *g, int i, int held, const struct store_list *r, struct gw_retire_args *b)
{
	const struct config *cfg = g->cfg;
	size_t per = held ? 2 : 1, n = r->n / per;
	int argc = 0, any = 0;
	b->argv[argc++] = "EVAL";
	b->argv[argc++] = held ? gw_move_held_lua : gw_move_out_lua;
	snprintf(b->nk, sizeof b->nk, "%d", 1 + cfg->nsmsc);
	b->argv[argc++] = b->nk;
	b->argv[argc++] = b->src;
	for (int k = 0; k < cfg->nsmsc; k++) {
		gw_key(b->dst[k], sizeof b->dst[k], held ? GW_K_HELD : GW_K_OUTBOX, cfg->smsc[k].name);
		b->argv[argc++] = b->dst[k];
	}
	for (size_t e = 0; e < n && e < GW_RETIRE_BATCH; e++) {
		const struct store_item *m = &r->e[per * e];
		if (m->kind != STORE_STR || (held && r->e[per * e + 1].kind != STORE_STR))
			continue;
		const char *bar = held ? strchr(m->s, '|') : NULL; /* held: "seq|JSON" */
		int to = gw_retire_route(g, bar ? bar + 1 : m->s);
		if (to == i || to < 0 || to >= cfg->nsmsc)
			continue; /* cannot be: a reload keeps at least one entry */
		snprintf(b->idx[e], sizeof b->idx[e], "%d", to + 2);
		b->argv[argc++] = m->s;
		if (held)
			b->argv[argc++] = r->e[per * e + 1].s;
		b->argv[argc++] = b->idx[e];
		any = 1;
	}
	return any ? argc : 0;
}

/* Hands up to GW_RETIRE_BATCH messages of removed slot i's outbox (or its
 * held zset) to the entries that route them now, in one round trip, on
 * the synchronous connection (at exit, gw_rebind_free; while the loop runs
 * the same goes on the asynchronous one, gw_retire_next). The messages
 * seen (0 = none left), or -1 when Redis did not answer. */
static int gw_retire_batch(struct gw *g, int i, int held, long long *moved)
{
	char err[256];
	struct gw_retire_args *b = calloc(1, sizeof *b);
	if (!b)
		return -1;
	gw_key(b->src, sizeof b->src, held ? GW_K_HELD : GW_K_OUTBOX, g->cfg->smsc[i].name);
	struct store_list r;
	int rc = store_list(g->store, &r, err, sizeof err, held ? "ZRANGE %s 0 %d WITHSCORES" : "LRANGE %s 0 %d",
	                    b->src, GW_RETIRE_BATCH - 1);
	if (rc < 0 && rc != -EBADMSG) {
		free(b);
		return -1;
	}
	int argc = gw_retire_eval(g, i, held, &r, b), seen = argc ? (int)(r.n / (held ? 2 : 1)) : 0;
	if (argc) {
		long long x = 0;
		rc = store_intv(g->store, &x, argc, b->argv, err, sizeof err);
		if (rc < 0 && rc != -EBADMSG)
			seen = -1;
		else if (rc == 0)
			*moved += x;
	}
	store_list_clear(&r);
	free(b);
	return seen;
}

/* Both lists of removed slot i handed over; 0 when they are not empty yet. */
static int gw_retire_lists(struct gw *g, int i, long long moved[2])
{
	for (int held = 1; held >= 0; held--) {
		int k = 0;
		for (; k < GW_RETIRE_ROUNDS; k++) {
			int seen = gw_retire_batch(g, i, held, &moved[held]);
			if (seen < 0)
				return 0;
			if (seen == 0)
				break;
		}
		if (k == GW_RETIRE_ROUNDS)
			return 0;
	}
	return 1;
}

/* Messages session slot i had in hand, forgotten: their entries stay in our
 * sending list, held by no session now, and the reload's sweep
 * (gw_resweep) gives them back to the outbox. Returns how many. */
static int gw_forget_inflight(struct gw *g, int i)
{
	int n = 0;
	for (struct gw_inflight **pp = &g->inflight; *pp;) {
		struct gw_inflight *f = *pp;
		if (f->smsc == i) {
			*pp = f->next;
			free(f->json);
			free(f);
			n++;
		} else {
			pp = &f->next;
		}
	}
	return n;
}

void gw_rebind_free(struct gw *g)
{
	for (int i = 0; i < CONFIG_MAX_SMSC; i++) {
		struct gw_rebind *rb = g->rebinding[i];
		if (!rb)
			continue;
		if (rb->removing && g->store) {
			/* stopped before the removed entry's messages were handed over:
			 * gw_reap has put our sending list back in its outbox; hand it
			 * over now, or a restart without the entry would never send it */
			int ok = gw_retire_lists(g, i, rb->moved);
			log_info("[%s] event=smsc_retired moved=%lld held_moved=%lld%s", g->cfg->smsc[i].name, rb->moved[0],
			         rb->moved[1], ok ? "" : " msg=\"redis away: the rest waits in its outbox\"");
		}
		if (rb->retry)
			event_free(rb->retry);
		free(rb);
		g->rebinding[i] = NULL;
	}
}

/* ---- the reload's sweep and hand-over, on the asynchronous connection ----
 *
 * A re-bound or removed entry's old session is gone: what it never wrote to
 * the SMSC went back with PUTBACK (gw_putback_unsent_on), and what it had
 * in flight is forgotten, its entries left on our sending list held by no
 * session. The sweep reads that list (LRANGE, sent behind the PUTBACK: in
 * Redis it runs after it, and its reply comes after those of every TAKE
 * and COMMIT sent before it, whose messages are in a session by then) and
 * gives back at once each entry held by no session (GIVEBACK, which moves
 * only what is still listed). A removed entry's slot then waits for an
 * empty list (LLEN, behind the GIVEBACKs) and hands its outbox and held
 * messages over, a batch per round trip (LRANGE or ZRANGE, then the EVAL
 * that moves what is still there). The loop never waits: a reply lost is
 * counted and logged, never sent again; a re-bind leaves the rest to the
 * lease tick's sweep, a removal tries again a second later. */

static void gw_retire_cb(evutil_socket_t fd, short what, void *arg);

/* One sweep of slot i's sending list on its way. */
struct gw_resweep {
	struct gw *g;
	int i;
	struct gw_rebind *rb; /* removing: its hand-over goes on after the LLEN (NULL: a re-bind) */
	int pending;          /* replies awaited */
	double at;            /* when the LRANGE left (gw_clock) */
};

static void gw_resweep_release(struct gw_resweep *w)
{
	if (--w->pending == 0)
		free(w);
}

static void gw_resweep_fail(struct gw *g, int i, const char *what, int rc, const char *err)
{
	if (rc == -EBADMSG)
		return; /* it ran */
	g->counters[GW_REDIS_ERR]++;
	if (!g->closing)
		log_warn("[%s] reload msg=\"%s failed; tried again later\" err=\"%s\"", g->cfg->smsc[i].name, what,
		         err ? err : "");
}

/* The removed entry's hand-over, a second later. */
static void gw_retire_later(struct gw_rebind *rb)
{
	struct timeval sec = {1, 0};
	if (!rb->g->shutting_down && !rb->g->closing)
		evtimer_add(rb->retry, &sec);
}

/* The hand-over of a removed entry's messages failed (rc, err; -EIO when
 * the command could not be sent): logged, tried again a second later. */
static void gw_retire_failed(struct gw_rebind *rb, int rc, const char *err)
{
	gw_resweep_fail(rb->g, rb->i, "the hand-over of its messages", rc, err);
	gw_retire_later(rb);
}

static void gw_resweep_on_giveback(void *arg, int rc, long long v, const char *err)
{
	struct gw_resweep *w = arg;
	if (rc < 0)
		gw_resweep_fail(w->g, w->i, "a GIVEBACK", rc, err);
	else if (v == 1)
		gw_given_back(w->g, w->i);
	gw_resweep_release(w);
}

static void gw_resweep_give(struct gw *g, int i, const char *k_send, const char *k_out, const char *v, void *arg)
{
	struct gw_resweep *w = arg;
	const char *keys[] = {k_send, k_out};
	const char *args[] = {v};
	if (store_async_run_int(g->store, STORE_GIVEBACK, 2, keys, 1, args, gw_resweep_on_giveback, w) == 0)
		w->pending++;
	else
		gw_resweep_fail(g, i, "a GIVEBACK", -EIO, "redis cannot be reached");
}

static void gw_retire_next(struct gw_rebind *rb);

/* The LLEN behind a removed entry's GIVEBACKs: its list empty, the hand-over
 * goes on; else (an answer still on its way, or Redis away) a second later. */
static void gw_resweep_on_llen(void *arg, int rc, long long n, const char *err)
{
	struct gw_resweep *w = arg;
	struct gw_rebind *rb = w->rb;
	if (rc < 0)
		gw_resweep_fail(w->g, w->i, "the LLEN of its sending list", rc, err);
	if (!w->g->closing && !w->g->shutting_down) {
		if (rc == 0 && n == 0) {
			rb->held = 1;
			rb->rounds = 0;
			gw_retire_next(rb);
		} else {
			gw_retire_later(rb);
		}
	}
	gw_resweep_release(w);
}

static void gw_resweep_on_list(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_resweep *w = arg;
	struct gw *g = w->g;
	int i = w->i;
	/* (the LRANGE's own count holds w while this sends) */
	if (rc < 0 && rc != -EBADMSG) {
		gw_resweep_fail(g, i, "the sweep of its sending list", rc, err);
		if (w->rb && !g->closing)
			gw_retire_later(w->rb);
	} else if (!g->closing && !g->shutting_down) {
		static const struct store_list none;
		const struct store_list *r = rc < 0 ? &none : l;
		if (w->rb && r->n == 0) {
			w->rb->held = 1;
			w->rb->rounds = 0;
			gw_retire_next(w->rb);
		} else {
			gw_sweep_judge(g, i, r, 1, w->at, gw_resweep_give, w);
			event_active(g->ev_outbox, 0, 0);
			if (w->rb) {
				char k_send[160];
				gw_sending_key(g, i, k_send, sizeof k_send);
				const char *argv[] = {"LLEN", k_send};
				if (store_async_intv(g->store, 2, argv, gw_resweep_on_llen, w) == 0) {
					w->pending++;
				} else {
					gw_resweep_fail(g, i, "the LLEN of its sending list", -EIO, "redis cannot be reached");
					gw_retire_later(w->rb);
				}
			}
		}
	}
	gw_resweep_release(w); /* the LRANGE's */
}

/* A sweep of slot i's sending list (rb: a removed entry's, whose hand-over
 * follows). */
static void gw_resweep(struct gw *g, int i, struct gw_rebind *rb)
{
	struct gw_resweep *w = calloc(1, sizeof *w);
	char k_send[160];
	gw_sending_key(g, i, k_send, sizeof k_send);
	const char *argv[] = {"LRANGE", k_send, "0", "-1"};
	if (w) {
		w->g = g;
		w->i = i;
		w->rb = rb;
		w->at = gw_clock();
	}
	if (!w || store_async_listv(g->store, 4, argv, gw_resweep_on_list, w) < 0) {
		free(w);
		gw_resweep_fail(g, i, "the sweep of its sending list", -EIO, "redis cannot be reached");
		if (rb)
			gw_retire_later(rb);
		return;
	}
	w->pending = 1;
}

/* The removed entry's hand-over is done: its slot can take a new entry. */
static void gw_retired(struct gw_rebind *rb)
{
	struct gw *g = rb->g;
	int i = rb->i;
	log_info("[%s] event=smsc_retired moved=%lld held_moved=%lld msg=\"its messages went to the entries that "
	         "route their numbers now\"", g->cfg->smsc[i].name, rb->moved[0], rb->moved[1]);
	g->rebinding[i] = NULL;
	event_free(rb->retry);
	free(rb);
	event_active(g->ev_outbox, 0, 0);
}

static void gw_retire_on_move(void *arg, int rc, long long x, const char *err)
{
	struct gw_rebind *rb = arg;
	struct gw *g = rb->g;
	if (rc < 0 && rc != -EBADMSG) {
		gw_retire_failed(rb, rc, err);
		return;
	}
	if (rc == 0)
		rb->moved[rb->held] += x;
	if (rc == 0 && x > 0 && !rb->held)
		gw_outbox_pushed(g, -1); /* they wait in other outboxes now: a freed slot takes them (gw_on_ready) */
	if (!g->closing && !g->shutting_down)
		gw_retire_next(rb);
}

static void gw_retire_on_range(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_rebind *rb = arg;
	struct gw *g = rb->g;
	if (rc < 0 && rc != -EBADMSG) {
		gw_retire_failed(rb, rc, err);
		return;
	}
	if (g->closing || g->shutting_down)
		return; /* gw_rebind_free finishes it */
	static const struct store_list none;
	struct gw_retire_args *b = calloc(1, sizeof *b);
	if (!b) {
		gw_retire_later(rb);
		return;
	}
	gw_key(b->src, sizeof b->src, rb->held ? GW_K_HELD : GW_K_OUTBOX, g->cfg->smsc[rb->i].name);
	int argc = gw_retire_eval(g, rb->i, rb->held, rc < 0 ? &none : l, b);
	if (!argc) {
		/* this list is empty: the next, or done */
		free(b);
		if (rb->held--) {
			rb->rounds = 0;
			gw_retire_next(rb);
		} else {
			gw_retired(rb);
		}
		return;
	}
	if (store_async_intv(g->store, argc, b->argv, gw_retire_on_move, rb) < 0) {
		gw_retire_failed(rb, -EIO, "redis cannot be reached");
	}
	free(b);
}

/* The next batch of the list being handed over (held first, then the
 * outbox); after GW_RETIRE_ROUNDS of them, the rest a second later. */
static void gw_retire_next(struct gw_rebind *rb)
{
	struct gw *g = rb->g;
	if (rb->rounds++ == GW_RETIRE_ROUNDS) {
		gw_retire_later(rb);
		return;
	}
	char src[96], hi[12];
	gw_key(src, sizeof src, rb->held ? GW_K_HELD : GW_K_OUTBOX, g->cfg->smsc[rb->i].name);
	snprintf(hi, sizeof hi, "%d", GW_RETIRE_BATCH - 1);
	const char *zr[] = {"ZRANGE", src, "0", hi, "WITHSCORES"}, *lr[] = {"LRANGE", src, "0", hi};
	int rc = rb->held ? store_async_listv(g->store, 5, zr, gw_retire_on_range, rb)
	                  : store_async_listv(g->store, 4, lr, gw_retire_on_range, rb);
	if (rc < 0) {
		gw_retire_failed(rb, -EIO, "redis cannot be reached");
	}
}

/* The old session finished its drain: free it, bind the new one, and put
 * back in the outbox what the old one never confirmed (its entries stay in
 * our sending list, held by no session now: the sweep gives them back). */
static void gw_rebind_done(void *arg)
{
	struct gw_rebind *rb = arg;
	struct gw *g = rb->g;
	int i = rb->i;
	g->rebinding[i] = NULL;
	g->esme_epoch[i]++; /* replies and receipts still owed to it are dropped */
	gw_putback_unsent_on(g, i, rb->old); /* what never left: sq as it was, no "uq" */
	esme_free(rb->old); /* (we are its done callback: allowed) */
	free(rb);
	int dropped = gw_forget_inflight(g, i);
	g->bound[i] = 0;
	g->parts_avg[i] = 1.0;
	g->esme[i] = esme_new(g->base, &g->cfg->smsc[i], &gw_esme_cbs, g);
	if (!g->esme[i]) {
		/* keep the index valid for the pumps: they skip a NULL session */
		log_error("[%s] event=rebind_failed msg=\"cannot create the SMPP session; restart hailongd\"",
		          g->cfg->smsc[i].name);
	} else {
		log_info("[%s] event=rebind host=%s port=%d unconfirmed_given_back=%d", g->cfg->smsc[i].name,
		         g->cfg->smsc[i].host, g->cfg->smsc[i].port, dropped);
	}
	gw_resweep(g, i, NULL);
}

/* A removed entry's slot, once its session is gone: what it never confirmed
 * back in its outbox, then its outbox and held messages to the entries that
 * route them now; tried again each second while Redis is away or a step
 * being committed still hands messages to it. Frees rb when done. */
static void gw_retire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw_rebind *rb = arg;
	struct gw *g = rb->g;
	int i = rb->i;
	if (g->shutting_down)
		return; /* gw_free finishes it (gw_rebind_free) */
	int later = g->taking[i]; /* a TAKE's reply puts back into this entry's outbox */
	for (const struct gw_commit *k = g->committing; k && !later; k = k->next)
		later = k->smsc == i || k->direct == i; /* a step prepared before the reload writes there */
	if (later)
		gw_retire_later(rb);
	else
		gw_resweep(g, i, rb);
}

/* The removed entry's session finished its drain (in-flight submit_sm
 * answered or timed out, deliver_sm answered, unbound): the slot keeps its
 * index but routes nothing; answers still owed to the session are dropped. */
static void gw_retire_done(void *arg)
{
	struct gw_rebind *rb = arg;
	struct gw *g = rb->g;
	int i = rb->i;
	g->esme_epoch[i]++;
	gw_putback_unsent_on(g, i, rb->old); /* what never left: sq as it was, no "uq" */
	esme_free(rb->old); /* (we are its done callback: allowed) */
	rb->old = NULL;
	g->esme[i] = NULL;
	g->bound[i] = 0;
	int dropped = gw_forget_inflight(g, i);
	log_info("[%s] event=smsc_removed unconfirmed_given_back=%d", g->cfg->smsc[i].name, dropped);
	gw_retire_cb(-1, 0, rb);
}

int gw_reload_smsc(struct gw *g, struct config *live, struct config *fresh, char *err, size_t errlen)
{
	int where[CONFIG_MAX_SMSC]; /* live index -> fresh index, -1 = removed (or retired before) */
	int taken[CONFIG_MAX_SMSC] = {0};
	if (g->cfg != live) {
		snprintf(err, errlen, "internal: not the gateway's config");
		return -EINVAL;
	}
	if (g->shutting_down) {
		snprintf(err, errlen, "shutting down");
		return -EINVAL;
	}
	int slots = CONFIG_MAX_SMSC - live->nsmsc; /* for new entries: unused, or retired and handed over */
	for (int i = 0; i < live->nsmsc; i++) {
		where[i] = -1;
		for (int j = 0; j < fresh->nsmsc; j++)
			if (strcmp(live->smsc[i].name, fresh->smsc[j].name) == 0)
				where[i] = j;
		if (live->smsc[i].retired) {
			if (where[i] >= 0 && g->rebinding[i]) {
				/* two sessions of one name would share its sending list */
				snprintf(err, errlen, "%s: smpp %s: still handing over its messages after its removal; try "
				         "again in a moment", fresh->file, live->smsc[i].name);
				return -EINVAL;
			}
			slots += !g->rebinding[i];
			where[i] = -1; /* a name used again is a new entry */
			continue;
		}
		if (where[i] >= 0)
			taken[where[i]] = 1;
		if (g->rebinding[i] && (where[i] < 0 || !config_smsc_same_link(&live->smsc[i], &fresh->smsc[where[i]]))) {
			snprintf(err, errlen, "%s: smpp %s: still re-binding after the last reload; try again in a moment",
			         fresh->file, live->smsc[i].name);
			return -EINVAL;
		}
	}
	int added = 0;
	for (int j = 0; j < fresh->nsmsc; j++)
		added += !taken[j];
	if (added > slots) {
		snprintf(err, errlen, "%s: smpp: no room for %d new entries (at most %d sessions, removed ones counted "
		         "until their messages are handed over); try again in a moment, or restart hailongd",
		         fresh->file, added, CONFIG_MAX_SMSC);
		return -EINVAL;
	}
	int changed = 0;
	for (int i = 0; i < live->nsmsc; i++) {
		if (where[i] < 0)
			continue;
		struct config_smsc *f = &fresh->smsc[where[i]];
		int same = config_smsc_same_link(&live->smsc[i], f);
		/* swap: the slot takes the new settings (routes too; a draining
		 * session reads them too, its name stays the old string), fresh
		 * keeps the old ones, allocated until exit */
		struct config_smsc tmp = live->smsc[i];
		live->smsc[i] = *f;
		*f = tmp;
		if (same)
			continue;
		struct gw_rebind *rb = calloc(1, sizeof *rb);
		if (!rb) {
			log_error("[%s] event=rebind_failed msg=\"out of memory: the old session stays\"", live->smsc[i].name);
			continue;
		}
		rb->g = g;
		rb->i = i;
		rb->old = g->esme[i];
		g->rebinding[i] = rb;
		changed++;
		log_info("[%s] event=rebind_start msg=\"settings changed: the session drains, then binds again\"",
		         live->smsc[i].name);
		esme_shutdown(rb->old, g->cfg->drain_timeout_s * 2000 / 3, gw_rebind_done, rb); /* NULL: done at once */
	}
	int removed[CONFIG_MAX_SMSC], nremoved = 0;
	for (int i = 0; i < live->nsmsc; i++)
		if (where[i] < 0 && !live->smsc[i].retired)
			removed[nremoved++] = i;
	for (int j = 0; j < fresh->nsmsc; j++) {
		if (taken[j])
			continue;
		int i = 0; /* a retired slot whose messages were handed over, else a new one */
		while (i < live->nsmsc && !(live->smsc[i].retired && !g->rebinding[i]))
			i++;
		struct config_smsc tmp = live->smsc[i]; /* the retired entry, or an unused slot: zeroed */
		live->smsc[i] = fresh->smsc[j];
		fresh->smsc[j] = tmp;
		if (i == live->nsmsc)
			live->nsmsc++;
		g->parts_avg[i] = 1.0;
		g->bound[i] = 0;
		g->esme[i] = esme_new(g->base, &live->smsc[i], &gw_esme_cbs, g);
		g->nesme = live->nsmsc;
		changed++;
		if (!g->esme[i])
			log_error("[%s] event=add_failed msg=\"cannot create the SMPP session; restart hailongd\"",
			          live->smsc[i].name);
		else
			log_info("[%s] event=smsc_added host=%s port=%d", live->smsc[i].name, live->smsc[i].host,
			         live->smsc[i].port);
	}
	/* removed entries last: their messages go to the entries above */
	for (int r = 0; r < nremoved; r++) {
		int i = removed[r];
		struct gw_rebind *rb = calloc(1, sizeof *rb);
		if (rb)
			rb->retry = evtimer_new(g->base, gw_retire_cb, rb);
		if (!rb || !rb->retry) {
			free(rb);
			log_error("[%s] event=remove_failed msg=\"out of memory: the entry stays\"", live->smsc[i].name);
			continue;
		}
		rb->g = g;
		rb->i = i;
		rb->old = g->esme[i];
		rb->removing = 1;
		g->rebinding[i] = rb;
		live->smsc[i].retired = 1; /* routes nothing from now on (gw_route) */
		live->smsc[i].has_ussd = 0; /* nor USSD (gw_ussd_route) */
		changed++;
		log_info("[%s] event=smsc_remove_start msg=\"removed from the file: the session drains, then its messages "
		         "go to the entries that route their numbers now\"", live->smsc[i].name);
		esme_shutdown(rb->old, g->cfg->drain_timeout_s * 2000 / 3, gw_retire_done, rb);
	}
	event_active(g->ev_outbox, 0, 0);
	return changed;
}
