/* gw: the gateway core: campaigns, triggers, the survey pumps between Redis,
 * the SMSC connections and the SQLite archive. */
#ifndef HL_GW_H
#define HL_GW_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"

struct gw;

/* Borrows base and cfg (they outlive the gateway). Loads the campaigns, opens
 * the archive, connects the SMSCs. NULL with err filled ("file:line: ..." for
 * a broken campaign). */
struct gw *gw_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen);
void gw_free(struct gw *g);
/* hailongd --check: load the campaigns and the hash key, check the Redis url,
 * without connecting anything or touching a running gateway's state.
 * Returns 0 or a negative errno with err filled. */
int gw_check(const struct config *cfg, char *err, size_t errlen);

/* Drain: every SMSC session waits for its in-flight submit_sm responses and
 * for the answers to the MOs handed over (2/3 of drain_timeout at most; new
 * MOs are answered ESME_RX_T_APPN meanwhile), unbinds, then the archive is
 * flushed and done(arg) called. What is still unconfirmed goes back in line
 * at gw_free. */
void gw_shutdown(struct gw *g, void (*done)(void *arg), void *arg);

/* A trigger, as the HTTP API (and later the CSV and SMS triggers) give it. */
struct gw_trigger {
	const char *campaign;
	const char *msisdn;
	const char *transaction_id;
	const char *agency;
	const char *procedure;     /* NULL = none */
	const char *completed_at;  /* ISO 8601 or NULL */
	const char *audit_of;      /* audit campaigns: the survey id this one re-checks, or NULL */
};

/* What a trigger taken became. */
enum gw_trigger_result {
	GW_TRIGGER_NEW = 0,        /* stored: a new survey (survey_id filled) */
	GW_TRIGGER_DUPLICATE = 1,  /* accepted before: the same survey_id */
};
/* Validate and store a trigger without waiting for Redis (the asynchronous
 * connection, pipelined with everything else of the loop pass). A trigger
 * refused at once returns -EINVAL (a bad field: field and err say which and
 * why), -ENOENT (unknown campaign, field "campaign"), -EAGAIN (Redis not
 * reachable: retry) or -ENOMEM, and cb is never called; else this returns 0
 * and cb is called exactly once, later, with a gw_trigger_result and the
 * survey id, or -EAGAIN and why. What a caller answers is its own business:
 * api.c maps these to HTTP statuses. */
typedef void (*gw_trigger_cb)(void *arg, int rc, const char *survey_id, const char *err);
int gw_trigger_async(struct gw *g, const struct gw_trigger *t, const char **field, char *err, size_t errlen,
                     gw_trigger_cb cb, void *arg);

/* SIGHUP: read the campaigns folder again. A changed file becomes the
 * version new surveys use; surveys already running keep the version they
 * started with (kept in memory while they may run); a broken file is refused
 * with its errors logged and the version loaded before stays. Returns the
 * number of refused files, or a negative errno when the folder is unreadable. */
int gw_reload(struct gw *g);

/* SIGHUP, the `smpp` entries and their routes (gw_reload.c). `live` is the
 * config the gateway runs with (gw_new's cfg), `fresh` one just loaded;
 * entries are matched by name. An entry whose session settings changed
 * (config_smsc_same_link) drains its session as a shutdown does (in-flight
 * responses awaited, MOs answered; what stays unconfirmed goes back to its
 * outbox) and binds again with the new ones; an unchanged one keeps its
 * session and what it has in flight; a new entry binds; routes apply to
 * messages routed from now on. The settings change places: live takes the
 * new ones, fresh keeps the old (the caller keeps fresh until exit: a
 * draining session still points into it). An entry removed is refused
 * (-EINVAL, err says which): its outbox would be stranded; nothing changed
 * then. Returns the number of sessions re-bound or added, or -EINVAL. */
int gw_reload_smsc(struct gw *g, struct config *live, struct config *fresh, char *err, size_t errlen);

/* An SMS trigger from a whitelisted agency number:
 * "KS <citizen number> <transaction id> [procedure]" (keyword in any case). */
#define GW_SMS_KEYWORD "KS"
struct gw_sms_trigger {
	char msisdn[16];            /* canonical 84... */
	char transaction_id[129];
	char procedure[129];        /* "" = none */
	char error[160];            /* why it was refused (unaccented, for an SMS answer) */
};
/* Returns 0 (filled), -ENOENT (not a trigger: does not start with the
 * keyword), -EINVAL (a trigger with a mistake: error says which), -ENOMEM. */
int gw_sms_trigger_parse(const char *text, struct gw_sms_trigger *out);

/* /readyz: cb(arg, ok, why), ok 1 when Redis answers (a PING on the
 * asynchronous connection: the loop does not wait) and at least one SMSC is
 * bound, else 0 and why (borrowed for the call). Called exactly once,
 * later, or at once when Redis cannot be reached now (also at gw_free, with
 * 0, for a PING still on its way). */
typedef void (*gw_ready_cb)(void *arg, int ok, const char *why);
void gw_ready(struct gw *g, gw_ready_cb cb, void *arg);
/* The same for Redis alone (systemd readiness): ok 1 when it answered. */
void gw_redis_ping(struct gw *g, gw_ready_cb cb, void *arg);
/* The HTTP API's reads and the operator's calls go to Redis on the
 * asynchronous connection: the loop never waits for them. Each calls its
 * callback exactly once, later, or at once (before returning) when nothing
 * has to be read or Redis cannot be reached now; the callback may free
 * what arg points to. */

/* The operator's view of a survey (gw_lookup.c): cb(arg, rc, o), o a JSON
 * object with its campaign, transaction, agency, status, current item and
 * times, never the number (o is the callback's: it json_decref's it; NULL
 * unless rc is 0). rc 0, -ENOENT (unknown id) or -EIO. */
typedef void (*gw_json_cb)(void *arg, int rc, json_t *o);
void gw_survey_get(struct gw *g, const char *id, gw_json_cb cb, void *arg);
/* The surveys of a transaction id (in one campaign, or any when NULL):
 * cb(arg, rc, o), o a JSON array, maybe empty (the callback's). 0 or -EIO. */
void gw_survey_find(struct gw *g, const char *txid, const char *campaign, gw_json_cb cb, void *arg);

/* POST /v1/surveys/{id}/cancel (gw_operator.c): a running survey ends now,
 * archived `cancelled` with `by` (the token's name) as cancelled_by; the
 * citizen gets no message and no further item (an item still in the outbox
 * is dropped when taken) and their next survey, if one waits, goes on.
 * cb(arg, rc): 0, -ENOENT (not running: unknown, or finished already), -EIO
 * (Redis), -EAGAIN (it kept changing under us: try again), -ENOMEM. */
typedef void (*gw_done_cb)(void *arg, int rc);
void gw_survey_cancel(struct gw *g, const char *id, const char *by, gw_done_cb cb, void *arg);

/* POST /v1/optouts (gw_operator.c): msisdn (canonical 84...) opts out for
 * good: its keyed hash goes into hl:optout and, through hl:archive, into the
 * archive's optouts with source `api`, in one step; a survey of theirs that
 * runs ends now, archived `opted_out` (its id in ended, else ""), with no
 * message; their waiting surveys are suppressed when their turn comes.
 * cb(arg, rc, is_new, ended): is_new 0 when the hash was in hl:optout
 * already; rc 0, -EIO or -ENOMEM. */
typedef void (*gw_optout_api_cb)(void *arg, int rc, int is_new, const char *ended);
void gw_optout_api(struct gw *g, const char *msisdn, gw_optout_api_cb cb, void *arg);

/* /metrics (gw_gauges.c): cb(arg, text), the Prometheus text of the
 * counters and gauges (malloc'd, the callback's; NULL without memory). The
 * Redis gauges are read at once, in one write; when Redis is away they are
 * left out and hailong_redis_up says 0. */
typedef void (*gw_text_cb)(void *arg, char *text);
void gw_metrics(struct gw *g, gw_text_cb cb, void *arg);

#endif
