/* schedule: the time rules of a campaign (window, quiet hours, resurvey), pure: now is a parameter. */
#ifndef HL_SCHEDULE_H
#define HL_SCHEDULE_H

#include <stdint.h>

#include "campaign.h"
#include "survey.h"

/* Why a trigger is not surveyed (archived as `suppressed` with this reason). */
enum schedule_verdict {
	SCHEDULE_OK = 0,
	SCHEDULE_OUTSIDE_WINDOW, /* triggered outside the campaign's window */
	SCHEDULE_RESURVEY,       /* the citizen was surveyed less than resurvey_after ago */
	SCHEDULE_OPTED_OUT,      /* the citizen opted out (HUY/STOP) earlier */
};

/* The `reason` text stored in the archive for a verdict ("outside window",
 * "resurvey", "opted out"); NULL for SCHEDULE_OK. */
const char *schedule_reason(enum schedule_verdict v);

/* 1 when t (unix s) is inside the campaign's window, or it has none. The
 * window runs from 00:00 local of start to 24:00 local of end. */
int schedule_in_window(const struct campaign *c, int64_t t);

/* 1 when a citizen last surveyed at `last` (unix s, 0 = never) may not be
 * surveyed again at `now` under the campaign's resurvey_after. */
int schedule_resurvey_blocked(const struct campaign *c, int64_t last, int64_t now);

/* 0 when nothing holds a message sent at `now`; else the unix second at which
 * the quiet hours around `now` end (local time of the campaign's utc_offset;
 * a range may cross midnight). */
int64_t schedule_quiet_until(const struct campaign *c, int64_t now);

#endif
