/* gw_finish: a survey ended before its next item, on the asynchronous
 * connection: a start refused (opted out, resurveyed too soon, outside its
 * window, its campaign gone), a survey that cannot go on (broken), an item
 * the SMSC refused for good. The loop never waits for these COMMITs; a
 * reply lost is counted and logged, never sent again, and what it should
 * have ended comes back by the existing ways (the lease tick's UNCLAIM or
 * REQUEUE for a start, the next reply or timer for a running survey). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
#include "store.h"
#include "survey.h"

/* A COMMIT that ends a survey early, on its way. */
struct gw_finish {
	struct gw *g;
	int starting;           /* the survey is on our starting list: a start on its way (starts_pending) */
	char id[RECORD_ID_MAX];
	struct gw_commit k;
};

/* A start the COMMIT did not end for sure: its id is named for the lease
 * tick's UNCLAIM (which moves it only if it is still on our list). */
static void gw_finish_lost_start(struct gw *g, const char *id)
{
	if (!g->lost_starts)
		g->lost_starts = calloc(GW_LOST_STARTS_MAX, sizeof *g->lost_starts);
	if (g->lost_starts && g->nlost_starts < GW_LOST_STARTS_MAX)
		snprintf(g->lost_starts[g->nlost_starts++], RECORD_ID_MAX, "%s", id);
}

static void gw_finish_on_commit(void *arg, int rc, long long v, const char *err)
{
	struct gw_finish *f = arg;
	struct gw *g = f->g;
	rc = gw_commit_done(g, &f->k, rc, v, err);
	if (f->starting) {
		g->starts_pending--;
		if (rc == -EIO)
			gw_finish_lost_start(g, f->id);
	}
	free(f);
}

void gw_finish_later(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                     enum survey_status st, const char *reason, int starting)
{
	struct gw_finish *f = calloc(1, sizeof *f);
	if (!f) {
		log_error("survey=%s msg=\"out of memory: not ended now, it comes back\"", m->id);
		return;
	}
	f->g = g;
	f->starting = starting;
	snprintf(f->id, sizeof f->id, "%s", m->id);
	int rc = gw_finish_early_async(g, m, c, s, st, reason, &f->k, gw_finish_on_commit, f);
	if (rc == 0) {
		/* while it is on its way the lease tick leaves our starting list alone */
		g->starts_pending += starting;
		return;
	}
	if (rc == -EIO && starting)
		gw_finish_lost_start(g, f->id);
	free(f);
}

/* A running survey that cannot go on: its campaign version is no longer
 * loaded (-ESRCH) or its state cannot be read (-EINVAL). Left alone it would
 * hold the citizen and come back on every reply and timer; it is archived
 * `failed` with what could be read, and the citizen is released. */
void gw_fail_broken(struct gw *g, struct record_meta *m, const struct campaign *c, struct survey *s,
                    int rc, const char *msisdn)
{
	const char *why = rc == -ESRCH ? "campaign not loaded" : "unreadable state";
	if (!m->msisdn[0] && msisdn)
		snprintf(m->msisdn, sizeof m->msisdn, "%s", msisdn);
	log_error("survey=%s campaign=%s msg=\"%s: archived as failed\"", m->id, m->campaign, why);
	gw_finish_later(g, m, rc == -ESRCH ? NULL : c, s, SURVEY_FAILED, why, 0);
}

/* ---- an item the SMSC refused for good ---- */

#define GW_ITEM_FAILED_TRIES 3 /* LOAD and COMMIT again when the survey moved on meanwhile */

struct gw_item_fail {
	struct gw *g;
	int q, first, tries;
	char id[RECORD_ID_MAX], reason[128];
	struct gw_commit k;
};

static int gw_item_fail_load(struct gw_item_fail *x);

static void gw_item_fail_on_commit(void *arg, int rc, long long v, const char *err)
{
	struct gw_item_fail *x = arg;
	rc = gw_commit_done(x->g, &x->k, rc, v, err);
	/* 0: the survey moved on between the LOAD and the COMMIT: read again */
	if (rc == 0 && ++x->tries < GW_ITEM_FAILED_TRIES && !x->g->closing && gw_item_fail_load(x) == 0)
		return;
	free(x);
}

static void gw_item_fail_on_load(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_item_fail *x = arg;
	struct gw *g = x->g;
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	rc = gw_load_read(g, x->id, rc, l, err, &m, &c, &s);
	int untouched = rc == 0 && s.status == SURVEY_ACTIVE && s.q == x->q && !g->closing;
	for (int i = 0; x->first && untouched && c && i < c->nquestions; i++)
		untouched = s.answers[i].state == 0;
	if (untouched && c && c->channel == CAMPAIGN_USSD && !x->first) {
		/* a screen inside a session refused (the citizen hung up, the
		 * network closed the dialogue): the session is over, not the
		 * survey, which waits for a dial (SPEC §9) and its invitation */
		log_info("survey=%s item=%d reason=\"%s\" msg=\"USSD screen refused: the session is over, the survey "
		         "waits for a dial\"", x->id, x->q, x->reason);
		untouched = 0;
	}
	if (untouched)
		rc = gw_finish_early_async(g, &m, c, &s, SURVEY_FAILED, x->reason, &x->k, gw_item_fail_on_commit, x);
	survey_clear(&s);
	if (!untouched || rc != 0)
		free(x);
}

static int gw_item_fail_load(struct gw_item_fail *x)
{
	int rc = gw_load_async(x->g, x->id, gw_item_fail_on_load, x);
	if (rc < 0) {
		x->g->counters[GW_REDIS_ERR]++;
		log_warn("survey=%s item=%d msg=\"refused by the SMSC, not archived: Redis cannot be reached\"", x->id, x->q);
	}
	return rc;
}

void gw_item_failed(struct gw *g, const char *id, int q, int first, const char *reason)
{
	struct gw_item_fail *x = calloc(1, sizeof *x);
	if (!x)
		return;
	x->g = g;
	x->q = q;
	x->first = first;
	snprintf(x->id, sizeof x->id, "%s", id);
	snprintf(x->reason, sizeof x->reason, "%s", reason);
	if (gw_item_fail_load(x) < 0)
		free(x);
}
