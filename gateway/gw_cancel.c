/* gw_cancel: an operator ends a running survey through the API (POST
 * /v1/surveys/{id}/cancel): archived `cancelled` with the token's name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
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
