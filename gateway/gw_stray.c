/* gw_stray: a reply from a number with no survey running goes to the archive (stray_replies, by keyed hash) for the integrity signals. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
#include "store.h"

char *gw_stray_record(const char *hash, int64_t at)
{
	/* a hash is hex: nothing to escape */
	size_t cap = 64 + strlen(hash);
	char *s = malloc(cap);
	if (s)
		snprintf(s, cap, GW_STRAY_REC_PREFIX "\"%s\",\"at\":%" PRId64 "}", hash, at);
	return s;
}

void gw_stray_note(struct gw *g, const char *msisdn)
{
	char h[65], err[256];
	gw_msisdn_hash(g, msisdn, h);
	char *rec = gw_stray_record(h, gw_now());
	if (!rec)
		return;
	/* best effort: the citizen is answered whatever happens here */
	int rc = store_exec(g->store, err, sizeof err, "RPUSH %s %s", GW_K_ARCHIVE, rec);
	free(rec);
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("mo msg=\"stray reply not recorded\" err=\"%s\"", err);
		return;
	}
	event_active(g->ev_archive, 0, 0);
}
