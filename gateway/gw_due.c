/* gw_due: the timers. Every second the due pump releases messages whose
 * quiet hours ended and claims the surveys whose timer is due (reminder,
 * expiry, a start held by quiet hours), each with its state read in the
 * same script, and commits their steps (a USSD survey's too) on the
 * asynchronous connection, all of a tick pipelined, so the loop never
 * waits for Redis here. A claim leases the timer for GW_DUE_LEASE seconds:
 * a step whose reply was lost comes back then, read afresh. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
#include "store.h"
#include "survey.h"

/* One claimed survey on its way (DUE_CLAIM read its state): its COMMIT. */
struct gw_duejob {
	struct gw *g;
	int64_t t;
	char id[RECORD_ID_MAX];
	int invite;              /* a USSD survey's invitation SMS (counted once stored) */
	struct gw_commit k;
};

/* One job of the tick fewer; the last one looks again if the claim was full. */
static void gw_due_release(struct gw *g)
{
	if (--g->due_jobs == 0 && g->due_more && !g->shutting_down && !g->closing) {
		g->due_more = 0;
		event_active(g->ev_due, 0, 0); /* more are due */
	}
}

static void gw_due_job_end(struct gw_duejob *j)
{
	struct gw *g = j->g;
	free(j);
	gw_due_release(g);
}

static void gw_due_on_commit(void *arg, int rc, long long v, const char *err)
{
	struct gw_duejob *j = arg;
	/* 0 (the survey moved on meanwhile: its new timer stands) or a lost
	 * reply (the lease brings it back) need nothing more */
	if (gw_commit_done(j->g, &j->k, rc, v, err) == 1 && j->invite)
		j->g->counters[GW_USSD_INVITES]++;
	gw_due_job_end(j);
}

/* The reply of a command whose result needs nothing more than a note when
 * it failed (WAKE, the ZREM of a timer whose survey is gone: the next tick
 * finds them again). */
static void gw_due_on_aside(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	if (rc >= 0)
		return;
	g->counters[GW_REDIS_ERR]++;
	if (!g->closing)
		log_warn("due msg=\"a timer's follow-up failed, next tick\" err=\"%s\"", err ? err : "");
}

/* A survey's step when its timer is due, from its state (as HGETALL gives it).
 * 1 when its COMMIT is on its way (gw_due_on_commit ends the job), else 0. */
static int gw_due_step(struct gw_duejob *j, const struct store_list *r)
{
	int sent = 0;
	struct gw *g = j->g;
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	int64_t t = j->t;
	int rc = gw_parse_survey(g, j->id, r, &m, &c, &s);
	if (rc == 0 && s.status == SURVEY_QUEUED) {
		/* a start held by quiet hours: back in the queue */
		const char *wk[] = {GW_K_DUE, GW_K_QUEUE};
		const char *wa[] = {j->id};
		if (store_async_run_int(g->store, STORE_WAKE, 2, wk, 1, wa, gw_due_on_aside, g) < 0)
			g->counters[GW_REDIS_ERR]++;
		event_active(g->ev_queue, 0, 0); /* after the WAKE: the queue pump's POP is sent behind it */
	} else if (rc == 0) {
		struct survey_out o;
		if (c->channel != CAMPAIGN_USSD && s.status == SURVEY_ACTIVE && m.sq < s.q && !s.reminded &&
		    t < s.started_at + c->expire_after) {
			/* the item has not left yet (the outbox is behind, or a crash
			 * put it back in line): a reminder now would reach the citizen
			 * with the item itself, and their answer to the one would
			 * cross the other. The reminder counts from now instead. */
			s.last_at = t;
		}
		if (survey_tick(c, &s, t, &o) == 0) {
			/* a USSD survey: the invitation SMS in place of a screen, or the end */
			if ((c->channel == CAMPAIGN_USSD ? gw_ussd_due_prepare(g, &m, c, &s, &o, &j->k, &j->invite)
			                                 : gw_commit_prepare(g, &m, c, &s, &o, m.ver, NULL, 0, &j->k)) == 0)
				sent = gw_commit_async(g, &j->k, gw_due_on_commit, j) == 0;
		}
		survey_out_clear(&o);
	} else if (rc == -ENOENT) {
		const char *zk[] = {"ZREM", GW_K_DUE, j->id};
		if (store_async_intv(g->store, 3, zk, gw_due_on_aside, g) < 0)
			g->counters[GW_REDIS_ERR]++;
	} else if (rc == -ESRCH || rc == -EINVAL) {
		gw_fail_broken(g, &m, c, &s, rc, NULL);
	}
	survey_clear(&s);
	return sent;
}

static void gw_due_on_claim(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw *g = arg;
	g->due_claiming = 0;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		if (!g->closing)
			log_warn("due msg=\"claim failed\" err=\"%s\"", err ? err : "");
		return;
	}
	if (g->shutting_down || g->closing)
		return; /* claimed: the lease brings them back */
	int64_t t = gw_now();
	/* {id, state, id, state, ...}: each claimed survey with its state */
	g->due_more = r->n / 2 >= GW_PUMP_BATCH;
	g->due_jobs++; /* held while the jobs are made: none ends the tick early */
	static const struct store_list none; /* a state that is no list: gone */
	for (size_t i = 0; i + 1 < r->n; i += 2) {
		const struct store_item *e = &r->e[i], *state = &r->e[i + 1];
		if (e->kind != STORE_STR || e->len >= RECORD_ID_MAX)
			continue;
		struct gw_duejob *j = calloc(1, sizeof *j);
		if (!j)
			break; /* leased: the lease brings it back */
		j->g = g;
		j->t = t;
		memcpy(j->id, e->s, e->len + 1);
		g->due_jobs++;
		if (!gw_due_step(j, state->kind == STORE_NESTED ? state->sub : &none))
			gw_due_job_end(j); /* else gw_due_on_commit ends it */
	}
	gw_due_release(g);
}

/* A HELD_RELEASE on its way: the SMSC whose held messages it moves. */
struct gw_release {
	struct gw *g;
	int i;      /* its index */
	char smsc[64];
};

static void gw_due_on_release(void *arg, int rc, long long v, const char *err)
{
	struct gw_release *h = arg;
	struct gw *g = h->g;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		if (!g->closing)
			log_warn("[%s] quiet hours msg=\"release failed, next tick\" err=\"%s\"", h->smsc, err ? err : "");
	} else if (v > 0) {
		log_info("[%s] quiet hours over released=%lld", h->smsc, v);
		gw_outbox_pushed(g, h->i); /* they wait there: steps take their turn behind them */
		event_active(g->ev_outbox, 0, 0);
	}
	free(h);
}

void gw_due_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char now[24], lease[16], max[16];
	if (g->due_claiming || g->due_jobs > 0 || g->shutting_down || g->closing)
		return; /* the last tick's surveys first: their end looks again */
	int64_t t = gw_now();
	snprintf(now, sizeof now, "%" PRId64, t);
	snprintf(lease, sizeof lease, "%d", GW_DUE_LEASE);
	snprintf(max, sizeof max, "%d", GW_PUMP_BATCH);
	/* held messages whose quiet hours ended go out (pipelined with the claim) */
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		char k_held[96], k_out[96];
		gw_key(k_held, sizeof k_held, GW_K_HELD, g->cfg->smsc[i].name);
		gw_key(k_out, sizeof k_out, GW_K_OUTBOX, g->cfg->smsc[i].name);
		const char *hk[] = {k_held, k_out};
		const char *ha[] = {now, max};
		struct gw_release *h = malloc(sizeof *h);
		if (!h)
			return;
		h->g = g;
		h->i = i;
		snprintf(h->smsc, sizeof h->smsc, "%s", g->cfg->smsc[i].name);
		if (store_async_run_int(g->store, STORE_HELD_RELEASE, 2, hk, 2, ha, gw_due_on_release, h) < 0) {
			free(h);
			g->counters[GW_REDIS_ERR]++;
			return;
		}
	}
	const char *keys[] = {GW_K_DUE};
	const char *args[] = {now, lease, max};
	g->due_claiming = 1;
	if (store_async_run_list(g->store, STORE_DUE_CLAIM, 1, keys, 3, args, gw_due_on_claim, g) < 0) {
		g->due_claiming = 0;
		g->counters[GW_REDIS_ERR]++;
	}
}
