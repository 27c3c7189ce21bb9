/* gw_operator: what an operator does through the API: end a running survey
 * (POST /v1/surveys/{id}/cancel: archived `cancelled` with the token's name)
 * and record a citizen's opt-out (POST /v1/optouts: source api). Both read
 * and write Redis on the asynchronous connection: the loop never waits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "record.h"

#define GW_CANCEL_TRIES 5  /* the survey moved on meanwhile (a reply, a timer): read it again */

/* A cancel on its way: LOAD, then the COMMIT that ends the survey; again
 * from LOAD when the survey moved on in between. */
struct gw_cancel {
	struct gw *g;
	char id[RECORD_ID_MAX];
	char by[sizeof(((struct record_meta *)0)->cancelled_by)];
	char campaign[RECORD_FIELD_MAX]; /* for the log line */
	int tries;                       /* LOADs sent */
	struct gw_commit k;              /* the COMMIT on its way */
	gw_done_cb cb;
	void *arg;
};

static void gw_cancel_end(struct gw_cancel *j, int rc)
{
	j->cb(j->arg, rc);
	free(j);
}

static void gw_cancel_on_load(void *arg, int rc, const struct store_list *l, const char *err);

static void gw_cancel_load(struct gw_cancel *j)
{
	if (j->tries++ >= GW_CANCEL_TRIES) {
		log_warn("cancel survey=%s msg=\"it kept moving on; not cancelled\"", j->id);
		gw_cancel_end(j, -EAGAIN);
		return;
	}
	int rc = gw_load_async(j->g, j->id, gw_cancel_on_load, j);
	if (rc < 0) {
		j->g->counters[GW_REDIS_ERR]++;
		log_warn("cancel survey=%s err=\"redis unreachable\"", j->id);
		gw_cancel_end(j, rc == -ENOMEM ? -ENOMEM : -EIO);
	}
}

static void gw_cancel_on_commit(void *arg, int rc, long long v, const char *err)
{
	struct gw_cancel *j = arg;
	int done = gw_commit_done(j->g, &j->k, rc, v, err);
	if (done == 1) {
		log_info("survey cancelled survey=%s campaign=%s by=\"%s\"", j->id, j->campaign, j->by);
		gw_cancel_end(j, 0);
	} else if (done < 0) {
		gw_cancel_end(j, -EIO);
	} else {
		gw_cancel_load(j); /* it moved on meanwhile: read it again */
	}
}

static void gw_cancel_on_load(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_cancel *j = arg;
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	rc = gw_load_read(j->g, j->id, rc, l, err, &m, &c, &s);
	if (rc == -ENOENT || rc == -EIO) {
		survey_clear(&s);
		gw_cancel_end(j, rc);
		return;
	}
	/* its campaign version gone or its state unreadable: still cancelled,
	 * with what could be read (as gw_fail_broken archives it) */
	if (rc == -ESRCH)
		c = NULL;
	snprintf(m.cancelled_by, sizeof m.cancelled_by, "%s", j->by);
	snprintf(j->campaign, sizeof j->campaign, "%s", m.campaign);
	rc = gw_finish_early_async(j->g, &m, c, &s, SURVEY_CANCELLED, "cancelled through the API", &j->k,
	                           gw_cancel_on_commit, j);
	survey_clear(&s);
	if (rc < 0)
		gw_cancel_end(j, rc == -ENOMEM ? -ENOMEM : -EIO);
}

void gw_survey_cancel(struct gw *g, const char *id, const char *by, gw_done_cb cb, void *arg)
{
	struct gw_cancel *j = calloc(1, sizeof *j);
	if (!j) {
		cb(arg, -ENOMEM);
		return;
	}
	j->g = g;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->id, sizeof j->id, "%s", id);
	snprintf(j->by, sizeof j->by, "%s", by);
	gw_cancel_load(j);
}

/* SADD the hash to hl:optout and queue its archive record, in one step: the
 * opt-out is enforced and on its way to SQLite together. 1 = new in Redis. */
static const char gw_optout_lua[] =
	"local n = redis.call('SADD', KEYS[1], ARGV[1])\n"
	"redis.call('RPUSH', KEYS[2], ARGV[2])\n"
	"return n\n";

/* An opt-out on its way: the SADD and its record, then the citizen's
 * running survey read (ACTIVE) and ended (COMMIT), again from ACTIVE when
 * it moved on in between. */
struct gw_optout_job {
	struct gw *g;
	char msisdn[PHONE_MAX];
	int is_new;
	int tries;                 /* ACTIVEs sent */
	char id[RECORD_ID_MAX];    /* the survey being ended */
	struct gw_commit k;        /* its COMMIT on its way */
	gw_optout_api_cb cb;
	void *arg;
};

static void gw_optout_end(struct gw_optout_job *j, int rc, const char *ended)
{
	if (rc == 0) {
		char mask[PHONE_MAX];
		phone_mask(j->msisdn, mask);
		log_info("optout source=api msisdn=%s new=%d survey_ended=%s", mask, j->is_new,
		         ended && *ended ? ended : "none");
	}
	j->cb(j->arg, rc, j->is_new, rc == 0 && ended ? ended : "");
	free(j);
}

static void gw_optout_on_active(void *arg, int rc, const struct store_active *a, const char *err);

/* The citizen's running survey, read (again). */
static void gw_optout_look(struct gw_optout_job *j)
{
	if (j->tries++ >= GW_CANCEL_TRIES) {
		gw_optout_end(j, 0, NULL); /* it kept moving on: the opt-out is stored, CLAIM enforces it */
		return;
	}
	char k_act[48], k_last[48];
	gw_key(k_act, sizeof k_act, GW_K_ACTIVE, j->msisdn);
	gw_key(k_last, sizeof k_last, GW_K_LAST, j->msisdn);
	if (store_async_active(j->g->store, k_act, k_last, gw_optout_on_active, j) < 0) {
		j->g->counters[GW_REDIS_ERR]++;
		log_warn("optout source=api err=\"redis unreachable\"");
		gw_optout_end(j, -EIO, NULL); /* the opt-out is stored; a retry (the API answers 503) ends the survey */
	}
}

static void gw_optout_on_commit(void *arg, int rc, long long v, const char *err)
{
	struct gw_optout_job *j = arg;
	int done = gw_commit_done(j->g, &j->k, rc, v, err);
	if (done == 1)
		gw_optout_end(j, 0, j->id);
	else if (done < 0)
		gw_optout_end(j, -EIO, NULL);
	else
		gw_optout_look(j); /* it moved on meanwhile: look again */
}

static void gw_optout_on_active(void *arg, int rc, const struct store_active *a, const char *err)
{
	struct gw_optout_job *j = arg;
	struct gw *g = j->g;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("optout source=api err=\"%s\"", err ? err : "");
		gw_optout_end(j, -EIO, NULL); /* the opt-out is stored; a retry (the API answers 503) ends the survey */
		return;
	}
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	rc = gw_active_read(g, a, j->id, &m, &c, &s);
	if (rc == 1) {
		gw_optout_end(j, 0, NULL); /* none running */
		return;
	}
	if (rc == -ENOENT) {
		survey_clear(&s);
		gw_optout_look(j); /* finished meanwhile: look again */
		return;
	}
	if (!m.msisdn[0])
		snprintf(m.msisdn, sizeof m.msisdn, "%s", j->msisdn);
	rc = gw_finish_early_async(g, &m, rc == -ESRCH ? NULL : c, &s, SURVEY_OPTED_OUT, "opted out through the API",
	                           &j->k, gw_optout_on_commit, j);
	survey_clear(&s);
	if (rc < 0)
		gw_optout_end(j, -EIO, NULL);
}

static void gw_optout_on_add(void *arg, int rc, long long added, const char *err)
{
	struct gw_optout_job *j = arg;
	if (rc < 0) {
		j->g->counters[GW_REDIS_ERR]++;
		log_warn("optout source=api err=\"%s\"", err ? err : "");
		gw_optout_end(j, -EIO, NULL);
		return;
	}
	j->is_new = added == 1;
	event_active(j->g->ev_archive, 0, 0);
	/* the citizen's running survey ends now, opted out (their waiting ones
	 * are suppressed when their turn comes: CLAIM reads hl:optout) */
	gw_optout_look(j);
}

void gw_optout_api(struct gw *g, const char *msisdn, gw_optout_api_cb cb, void *arg)
{
	char h[65];
	struct gw_optout_job *j = calloc(1, sizeof *j);
	char *rec = NULL;
	if (!j)
		goto nomem;
	j->g = g;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->msisdn, sizeof j->msisdn, "%s", msisdn);
	gw_msisdn_hash(g, msisdn, h);
	if (!(rec = gw_optout_record(h, gw_now(), "api")))
		goto nomem;
	const char *argv[] = {"EVAL", gw_optout_lua, "2", GW_K_OPTOUT, GW_K_ARCHIVE, h, rec};
	int rc = store_async_intv(g->store, 7, argv, gw_optout_on_add, j);
	free(rec);
	if (rc == -ENOMEM) {
		free(j);
		cb(arg, -ENOMEM, 0, "");
	} else if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("optout source=api err=\"redis unreachable\"");
		free(j);
		cb(arg, -EIO, 0, "");
	}
	return;
nomem:
	free(j);
	cb(arg, -ENOMEM, 0, "");
}
