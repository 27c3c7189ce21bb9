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

static void gw_stray_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	if (rc >= 0) {
		event_active(g->ev_archive, 0, 0);
		return;
	}
	g->counters[GW_REDIS_ERR]++;
	log_warn("mo msg=\"stray reply not recorded\" err=\"%s\"", err ? err : "");
}

void gw_stray_note(struct gw *g, const char *msisdn)
{
	/* best effort, on the asynchronous connection: the citizen is answered
	 * whatever happens here */
	char h[65];
	gw_msisdn_hash(g, msisdn, h);
	char *rec = gw_stray_record(h, gw_now());
	const char *argv[] = {"RPUSH", GW_K_ARCHIVE, rec};
	if (!rec || store_async_intv(g->store, 3, argv, gw_stray_on_reply, g) < 0) {
		g->counters[GW_REDIS_ERR] += rec != NULL;
		log_warn("mo msg=\"stray reply not recorded\" err=\"%s\"", rec ? "Redis cannot be reached" : "no memory");
	}
	free(rec);
}
