/* gw: the gateway core: campaigns, triggers, the survey pumps between Redis,
 * the SMSC connections and the SQLite archive. */
#ifndef HL_GW_H
#define HL_GW_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"

struct gw;

/* Borrows base and cfg (they outlive the gateway). Loads the campaigns, opens
 * the archive, connects the SMSCs. NULL with err filled ("file:line: ..." for
 * a broken campaign). */
struct gw *gw_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen);
void gw_free(struct gw *g);

/* Unbind every SMSC (bounded), flush the archive, then call done(arg). */
void gw_shutdown(struct gw *g, void (*done)(void *arg), void *arg);

/* A trigger, as the HTTP API (and later the CSV and SMS triggers) give it. */
struct gw_trigger {
	const char *campaign;
	const char *msisdn;
	const char *transaction_id;
	const char *agency;
	const char *procedure;     /* NULL = none */
	const char *completed_at;  /* ISO 8601 or NULL */
};

/* Validate and store a trigger. Returns an HTTP status: 202 new (survey_id
 * filled), 200 already accepted (the same survey_id), 400 bad field (field and
 * err say which and why), 404 unknown campaign, 503 not durable now. */
int gw_trigger(struct gw *g, const struct gw_trigger *t, char survey_id[33],
               const char **field, char *err, size_t errlen);

/* /readyz: 1 when Redis answers and at least one SMSC is bound. */
int gw_ready(struct gw *g, char *why, size_t whylen);
/* Prometheus text of the counters, malloc'd. */
char *gw_metrics(struct gw *g);

#endif
