/* schedule: window, quiet hours and resurvey rules, in the campaign's local time. */
#include <stddef.h>

#include "schedule.h"

const char *schedule_reason(enum schedule_verdict v)
{
	switch (v) {
	case SCHEDULE_OUTSIDE_WINDOW:
		return "outside window";
	case SCHEDULE_RESURVEY:
		return "resurvey";
	case SCHEDULE_OPTED_OUT:
		return "opted out";
	case SCHEDULE_OK:
		break;
	}
	return NULL;
}

int schedule_in_window(const struct campaign *c, int64_t t)
{
	if (c->window_start == 0 && c->window_end == 0)
		return 1;
	return t >= c->window_start && t < c->window_end;
}

int schedule_resurvey_blocked(const struct campaign *c, int64_t last, int64_t now)
{
	if (c->resurvey_after <= 0 || last <= 0)
		return 0;
	return now - last < c->resurvey_after;
}

int64_t schedule_quiet_until(const struct campaign *c, int64_t now)
{
	if (c->quiet_start < 0 || c->quiet_end < 0 || c->quiet_start == c->quiet_end)
		return 0;
	int64_t local = now + c->tz_offset;
	int64_t sod = ((local % 86400) + 86400) % 86400; /* seconds since local midnight */
	int64_t qs = (int64_t)c->quiet_start * 60, qe = (int64_t)c->quiet_end * 60;
	if (qs < qe) { /* "01:00-05:00" */
		if (sod >= qs && sod < qe)
			return now + (qe - sod);
		return 0;
	}
	/* crosses midnight: "21:00-07:00" */
	if (sod >= qs)
		return now + (86400 - sod) + qe;
	if (sod < qe)
		return now + (qe - sod);
	return 0;
}
