/* gw_operator: what an operator does through the API: end a running survey
 * (POST /v1/surveys/{id}/cancel: archived `cancelled` with the token's name)
 * and record a citizen's opt-out (POST /v1/optouts: source api). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "record.h"

#define GW_CANCEL_TRIES 5  /* the survey moved on meanwhile (a reply, a timer): read it again */

int gw_survey_cancel(struct gw *g, const char *id, const char *by)
{
	for (int tries = 0; tries < GW_CANCEL_TRIES; tries++) {
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		int rc = gw_load(g, id, &m, &c, &s);
		if (rc == -ENOENT || rc == -EIO) {
			survey_clear(&s);
			return rc;
		}
		/* its campaign version gone or its state unreadable: still cancelled,
		 * with what could be read (as gw_fail_broken archives it) */
		if (rc == -ESRCH)
			c = NULL;
		snprintf(m.cancelled_by, sizeof m.cancelled_by, "%s", by);
		int done = gw_finish_early(g, &m, c, &s, SURVEY_CANCELLED, "cancelled through the API");
		survey_clear(&s);
		if (done == 1) {
			log_info("survey cancelled survey=%s campaign=%s by=\"%s\"", id, m.campaign, by);
			return 0;
		}
		if (done < 0)
			return done == -ENOMEM ? -ENOMEM : -EIO;
	}
	log_warn("cancel survey=%s msg=\"it kept moving on; not cancelled\"", id);
	return -EAGAIN;
}

/* SADD the hash to hl:optout and queue its archive record, in one step: the
 * opt-out is enforced and on its way to SQLite together. 1 = new in Redis. */
static const char gw_optout_lua[] =
	"local n = redis.call('SADD', KEYS[1], ARGV[1])\n"
	"redis.call('RPUSH', KEYS[2], ARGV[2])\n"
	"return n\n";

int gw_optout_api(struct gw *g, const char *msisdn, int *is_new, char ended[RECORD_ID_MAX])
{
	char h[65], err[256], mask[PHONE_MAX];
	ended[0] = '\0';
	*is_new = 0;
	gw_msisdn_hash(g, msisdn, h);
	char *rec = gw_optout_record(h, gw_now(), "api");
	if (!rec)
		return -ENOMEM;
	long long added = 0;
	int rc = store_int(g->store, &added, err, sizeof err, "EVAL %s 2 %s %s %s %s", gw_optout_lua, GW_K_OPTOUT,
	                   GW_K_ARCHIVE, h, rec);
	free(rec);
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("optout source=api err=\"%s\"", err);
		return -EIO;
	}
	*is_new = added == 1;
	event_active(g->ev_archive, 0, 0);
	phone_mask(msisdn, mask);
	/* the citizen's running survey ends now, opted out (their waiting ones
	 * are suppressed when their turn comes: CLAIM reads hl:optout) */
	for (int tries = 0; tries < GW_CANCEL_TRIES; tries++) {
		char id[RECORD_ID_MAX];
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		rc = gw_active_load(g, msisdn, id, &m, &c, &s, err, sizeof err);
		if (rc == -EIO) {
			g->counters[GW_REDIS_ERR]++;
			return -EIO; /* the opt-out is stored; a retry (the API answers 503) ends the survey */
		}
		if (rc == 1)
			break; /* none running */
		if (rc == -ENOENT) {
			survey_clear(&s);
			continue; /* finished meanwhile: look again */
		}
		if (!m.msisdn[0])
			snprintf(m.msisdn, sizeof m.msisdn, "%s", msisdn);
		int done = gw_finish_early(g, &m, rc == -ESRCH ? NULL : c, &s, SURVEY_OPTED_OUT, "opted out through the API");
		survey_clear(&s);
		if (done == 1) {
			snprintf(ended, RECORD_ID_MAX, "%s", id);
			break;
		}
		if (done < 0)
			return -EIO;
	}
	log_info("optout source=api msisdn=%s new=%d survey_ended=%s", mask, *is_new, ended[0] ? ended : "none");
	return 0;
}
