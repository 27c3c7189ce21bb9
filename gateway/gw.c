/* gw: triggers in, surveys through Redis and the SMSC, finished surveys to SQLite: the
 * gateway's life cycle, routing and metrics; the jobs live in gw_*.c (see gw_int.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "archive.h"
#include "campaign.h"
#include "esme.h"
#include "gw.h"
#include "gw_int.h"
#include "log.h"
#include "store.h"
#include "survey.h"

static const char *const gw_counter_names[] = {
	"hailong_triggers_total{result=\"accepted\"}", "hailong_triggers_total{result=\"duplicate\"}",
	"hailong_triggers_total{result=\"invalid\"}", "hailong_triggers_total{result=\"unavailable\"}",
	"hailong_mo_total", "hailong_mo_without_survey_total", "hailong_mo_retry_later_total",
	"hailong_mo_before_item_total", "hailong_mo_after_end_total", "hailong_mo_parts_expired_total", "hailong_lease_lost_total",
	"hailong_lease_taken_over_total",
	"hailong_mt_sent_total", "hailong_mt_failed_total", "hailong_mt_stale_dropped_total",
	"hailong_surveys_started_total", "hailong_archive_rows_total", "hailong_redis_errors_total",
	"hailong_mt_held_total", "hailong_starts_deferred_total", "hailong_no_survey_answers_total",
	"hailong_campaign_reloads_total{result=\"ok\"}", "hailong_campaign_reloads_total{result=\"refused\"}",
	"hailong_sms_triggers_total",
	/* USSD sessions (gw_ussd.c) */
	"hailong_ussd_sessions_total{event=\"opened\"}", "hailong_ussd_sessions_total{event=\"completed\"}",
	"hailong_ussd_sessions_total{event=\"timed_out\"}", "hailong_ussd_sessions_total{event=\"resumed\"}",
	"hailong_ussd_sessions_total{event=\"released\"}", "hailong_ussd_invites_total",
	"hailong_optout_restores_total",
	"hailong_mo_one_round_trip_total",
	"hailong_mo_commit_reply_lost_total", "hailong_mo_already_stored_total", "hailong_mo_repeat_ignored_total",
	"hailong_mo_unsure_item_answered_total",
	/* how messages reached their session: in the step's COMMIT into a free
	 * slot, into the session's queue behind a full window, or by a TAKE */
	"hailong_mt_handed_total{path=\"direct\"}", "hailong_mt_handed_total{path=\"queued\"}",
	"hailong_mt_handed_total{path=\"outbox\"}",
};
_Static_assert(sizeof gw_counter_names / sizeof gw_counter_names[0] == GW_NCOUNTERS,
               "one metric name per counter");

/* Random bytes for message tags, commit nonces and survey ids: drawn from
 * the kernel (libsodium's randombytes_buf) 4 KiB at a time, not with a
 * getrandom(2) per call: a gateway at full speed asks for several per step.
 * Each thread has its own pool; a forked child (the embedded redis-server)
 * execs at once and never draws from the copy. */
void gw_random(void *out, size_t n)
{
	static _Thread_local unsigned char pool[4096];
	static _Thread_local size_t left;
	if (n > sizeof pool / 8) {
		randombytes_buf(out, n);
		return;
	}
	if (left < n) {
		randombytes_buf(pool, sizeof pool);
		left = sizeof pool;
	}
	memcpy(out, pool + sizeof pool - left, n);
	sodium_memzero(pool + sizeof pool - left, n);
	left -= n;
}

int64_t gw_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- routing ---- */

/* The SMSC for a number: longest matching route prefix, else one without
 * routes (the default route), else the first. */
int gw_route(const struct gw *g, const char *msisdn)
{
	int best = -1, bestlen = -1, dflt = -1, first = -1;
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		const struct config_smsc *s = &g->cfg->smsc[i];
		if (s->retired)
			continue; /* removed by a reload (gw_reload.c) */
		if (first < 0)
			first = i;
		if (s->nroutes == 0 && dflt < 0)
			dflt = i;
		for (int r = 0; r < s->nroutes; r++) {
			int l = (int)strlen(s->routes[r]);
			if (strncmp(msisdn, s->routes[r], (size_t)l) == 0 && l > bestlen) {
				best = i;
				bestlen = l;
			}
		}
	}
	return best >= 0 ? best : dflt >= 0 ? dflt : first >= 0 ? first : 0;
}

struct gw *gw_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
	struct gw *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->base = base;
	g->cfg = cfg;
	for (int i = 0; i < CONFIG_MAX_SMSC; i++)
		g->parts_avg[i] = 1.0;
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		goto fail;
	}
	/* the instance id is stable for one host and HTTP address, so a gateway
	 * restarted after a crash takes its own unfinished lists back at once */
	char host[256] = "", ident[600];
	unsigned char hid[8];
	gethostname(host, sizeof host - 1);
	snprintf(ident, sizeof ident, "%s|%s", host, cfg->http_listen);
	crypto_generichash(hid, sizeof hid, (const unsigned char *)ident, strlen(ident), NULL, 0);
	sodium_bin2hex(g->inst, sizeof g->inst, hid, sizeof hid);
	snprintf(g->k_starting, sizeof g->k_starting, GW_K_STARTING "%s", g->inst);
	snprintf(g->k_archiving, sizeof g->k_archiving, GW_K_ARCHIVING "%s", g->inst);
	snprintf(g->k_dtaking, sizeof g->k_dtaking, GW_K_DTAKING "%s", g->inst);
	snprintf(g->k_lease, sizeof g->k_lease, GW_K_INST "%s", g->inst);
	snprintf(g->k_optready, sizeof g->k_optready, GW_K_OPTREADY "%s", g->inst);
	if (gw_load_campaigns(g, 1, err, errlen) < 0)
		goto fail;
	if (gw_hash_key(g, err, errlen) < 0)
		goto fail;
	g->archive = archive_open(cfg->sqlite_path, err, errlen);
	if (!g->archive)
		goto fail;
	for (int i = 0; i < g->ncamps; i++)
		if (archive_put_campaign(g->archive, g->camps[i].c, err, errlen) < 0)
			goto fail;
	g->store = store_new(cfg->redis_url, err, errlen);
	if (!g->store)
		goto fail;
	store_attach(g->store, base); /* the replies' hot path (gw_mo.c) */
	g->archiver = archiver_new(base, cfg->sqlite_path, gw_arch_done, g, err, errlen);
	if (!g->archiver)
		goto fail;
	struct timeval tick = {0, 100000}, sec = {1, 0}, arch = {0, 200000}, lease = {2, 0};
	g->ev_queue = event_new(base, -1, EV_PERSIST, gw_queue_cb, g);
	g->ev_outbox = event_new(base, -1, EV_PERSIST, gw_outbox_cb, g);
	g->ev_due = event_new(base, -1, EV_PERSIST, gw_due_cb, g);
	g->ev_archive = event_new(base, -1, EV_PERSIST, gw_archive_cb, g);
	g->ev_lease = event_new(base, -1, EV_PERSIST, gw_lease_cb, g);
	g->ev_optout = event_new(base, -1, EV_PERSIST, gw_optout_cb, g);
	if (!g->ev_queue || !g->ev_outbox || !g->ev_due || !g->ev_archive || !g->ev_lease || !g->ev_optout) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	event_add(g->ev_queue, &sec);
	event_add(g->ev_outbox, &tick);
	event_add(g->ev_due, &sec);
	event_add(g->ev_archive, &arch);
	event_add(g->ev_lease, &lease);
	struct timeval optsync = {5, 0};
	event_add(g->ev_optout, &optsync);
	if (gw_ussd_start(g) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (gw_take_over(g, err, errlen) < 0)
		goto fail;
	gw_recover(g);
	/* the opt-outs are in Redis before anything is sent (CLAIM also checks) */
	if (gw_optout_restore(g) < 0)
		log_warn("optout msg=\"not restored yet: no survey starts until they are\"");
	for (int i = 0; i < cfg->nsmsc; i++) {
		g->esme[i] = esme_new(base, &cfg->smsc[i], &gw_esme_cbs, g);
		if (!g->esme[i]) {
			snprintf(err, errlen, "[%s] cannot create the SMPP session", cfg->smsc[i].name);
			goto fail;
		}
		g->nesme++;
	}
	if (!store_ping(g->store))
		log_warn("redis url=%s msg=\"not reachable yet; triggers get 503 until it is\"", cfg->redis_url);
	event_active(g->ev_queue, 0, 0);
	return g;
fail:
	gw_free(g);
	return NULL;
}

int gw_check(const struct config *cfg, char *err, size_t errlen)
{
	struct gw *g = calloc(1, sizeof *g);
	int rc = -EINVAL;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g->cfg = cfg;
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		goto done;
	}
	/* the hash key read when there is one; never generated by a check
	 * (run as root before the first start, it would leave a key file the
	 * service's user cannot read) */
	char kpath[4096];
	snprintf(kpath, sizeof kpath, "%s.key", cfg->sqlite_path);
	if ((rc = gw_load_campaigns(g, 1, err, errlen)) < 0 ||
	    ((cfg->hash_key || access(kpath, F_OK) == 0) && (rc = gw_hash_key(g, err, errlen)) < 0))
		goto done;
	g->store = store_new(cfg->redis_url, err, errlen);
	rc = g->store ? 0 : -EINVAL;
done:
	gw_free(g); /* never registered: touches nothing in Redis */
	return rc;
}

void gw_free(struct gw *g)
{
	if (!g)
		return;
	/* answers of this pass not written yet go now; replies waiting for
	 * Redis are answered (not stored: the SMSC delivers them again) while
	 * their sessions still exist */
	g->closing = 1;
	if (g->store)
		gw_batch_free(g);
	if (g->store) {
		store_async_close(g->store);
		gw_mo_free(g);
		/* sent messages whose removal from our sending list was lost with
		 * the connection: removed now, before REAP below puts that list back */
		char err[256], k_send[160];
		for (struct gw_inflight *d = g->removals; d && g->registered; d = d->next) {
			gw_sending_key(g, d->smsc, k_send, sizeof k_send);
			if (store_exec(g->store, err, sizeof err, "LREM %s 1 %s", k_send, d->json) < 0)
				break;
		}
	}
	/* what waits in a session's queue never left: back in line with sq as
	 * it was, not as an item that may have reached the citizen (REAP) */
	if (g->registered && g->store)
		gw_putback_unsent(g);
	for (int i = 0; i < g->nesme; i++)
		esme_free(g->esme[i]);
	archiver_free(g->archiver); /* the batch in hand is written (its list cleared) first */
	g->archiver = NULL;
	/* what we hold and did not finish (unconfirmed messages, surveys being
	 * started, records not yet in SQLite) goes back in line for whoever runs next */
	if (g->registered && g->store)
		gw_reap(g, g->inst, 1);
	/* after the sessions (a re-bind's old one is among them) and the reap (an
	 * entry a reload removed gets its messages routed elsewhere) */
	gw_rebind_free(g);
	free(g->lost_starts); /* the reap above put them back in line */
	for (int i = 0; i < CONFIG_MAX_SMSC; i++)
		free(g->unheld[i]);
	while (g->unkept) {
		struct gw_unkept *k = g->unkept;
		g->unkept = k->next;
		gw_unkept_free(k);
	}
	while (g->removals) {
		struct gw_inflight *d = g->removals;
		g->removals = d->next;
		free(d->json);
		free(d);
	}
	while (g->inflight) {
		struct gw_inflight *f = g->inflight;
		g->inflight = f->next;
		free(f->json);
		free(f);
	}
	if (g->ev_queue)
		event_free(g->ev_queue);
	if (g->ev_outbox)
		event_free(g->ev_outbox);
	if (g->ev_due)
		event_free(g->ev_due);
	if (g->ev_archive)
		event_free(g->ev_archive);
	if (g->ev_lease)
		event_free(g->ev_lease);
	if (g->ev_optout)
		event_free(g->ev_optout);
	gw_ussd_stop(g);
	store_free(g->store);
	archive_close(g->archive);
	for (int i = 0; i < g->ncamps; i++)
		campaign_free(g->camps[i].c);
	free(g);
}

static void gw_esme_done(void *arg)
{
	struct gw *g = arg;
	if (--g->pending_shutdown > 0)
		return;
	gw_archive_flush(g); /* what finished last goes to SQLite now */
	if (g->done)
		g->done(g->done_arg);
}

void gw_shutdown(struct gw *g, void (*done)(void *arg), void *arg)
{
	if (g->shutting_down)
		return;
	g->shutting_down = 1;
	g->done = done;
	g->done_arg = arg;
	g->pending_shutdown = g->nesme + 1;
	/* in-flight responses and MO answers are awaited for two thirds of
	 * drain_timeout; the rest is for unbind_resp and the archive (the daemon
	 * stops at drain_timeout whatever happens) */
	int wait_ms = g->cfg->drain_timeout_s * 2000 / 3;
	for (int i = 0; i < g->nesme; i++)
		esme_shutdown(g->esme[i], wait_ms, gw_esme_done, g);
	gw_esme_done(g);
}

/* A /readyz (or systemd's readiness) whose PING is on its way. */
struct gw_ready_job {
	struct gw *g;
	int redis_only; /* gw_redis_ping: Redis's answer is all */
	gw_ready_cb cb;
	void *arg;
};

/* Ready: Redis answered, and a session is bound now. */
static void gw_ready_end(struct gw *g, int redis_ok, gw_ready_cb cb, void *arg)
{
	if (!redis_ok) {
		cb(arg, 0, "redis not reachable");
		return;
	}
	for (int i = 0; i < g->nesme; i++)
		if (esme_bound(g->esme[i])) {
			cb(arg, 1, "");
			return;
		}
	cb(arg, 0, "no SMSC bound");
}

static void gw_ready_on_ping(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_ready_job *j = arg;
	(void)err;
	int pong = rc == 0 && l->n == 1 && l->e[0].kind == STORE_STR; /* +PONG */
	if (j->redis_only)
		j->cb(j->arg, pong, pong ? "" : "redis not reachable");
	else
		gw_ready_end(j->g, pong, j->cb, j->arg);
	free(j);
}

static void gw_ping(struct gw *g, int redis_only, gw_ready_cb cb, void *arg)
{
	struct gw_ready_job *j = malloc(sizeof *j);
	const char *argv[] = {"PING"};
	if (!j) {
		cb(arg, 0, "out of memory");
		return;
	}
	j->g = g;
	j->redis_only = redis_only;
	j->cb = cb;
	j->arg = arg;
	if (store_async_anyv(g->store, 1, argv, gw_ready_on_ping, j) < 0) {
		free(j);
		if (redis_only)
			cb(arg, 0, "redis not reachable");
		else
			gw_ready_end(g, 0, cb, arg);
	}
}

void gw_ready(struct gw *g, gw_ready_cb cb, void *arg)
{
	gw_ping(g, 0, cb, arg);
}

void gw_redis_ping(struct gw *g, gw_ready_cb cb, void *arg)
{
	gw_ping(g, 1, cb, arg);
}

/* Appends to a metrics buffer; stops quietly when it is full. */
static void gw_put(char *b, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void gw_put(char *b, size_t cap, size_t *n, const char *fmt, ...)
{
	if (*n >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(b + *n, cap - *n, fmt, ap);
	va_end(ap);
	*n = w < 0 ? cap : *n + (size_t)w;
}

/* The family of a counter's name ("hailong_triggers_total" of
 * "hailong_triggers_total{result=...}"): its length. */
static size_t gw_family_len(const char *name)
{
	return strcspn(name, "{");
}

/* "# TYPE family counter" before the first sample of each family of the
 * counters (a family's samples are written together). */
static void gw_put_counter_type(char *b, size_t cap, size_t *n, int i)
{
	size_t fl = gw_family_len(gw_counter_names[i]);
	for (int k = 0; k < i; k++)
		if (gw_family_len(gw_counter_names[k]) == fl && strncmp(gw_counter_names[k], gw_counter_names[i], fl) == 0)
			return;
	gw_put(b, cap, n, "# TYPE %.*s counter\n", (int)fl, gw_counter_names[i]);
}

char *gw_metrics_text(struct gw *g, const char *gauges)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);
	if (!b)
		return NULL;
	b[0] = '\0';
	for (int i = 0; i < GW_NCOUNTERS; i++) {
		gw_put_counter_type(b, cap, &n, i);
		gw_put(b, cap, &n, "%s %" PRIu64 "\n", gw_counter_names[i], g->counters[i]);
	}
	gw_put(b, cap, &n, "# TYPE hailong_surveys_finished_total counter\n");
	for (int st = SURVEY_COMPLETED; st < SURVEY_NSTATUS; st++)
		gw_put(b, cap, &n, "hailong_surveys_finished_total{status=\"%s\"} %" PRIu64 "\n",
		       survey_status_name((enum survey_status)st), g->finished[st]);
	gw_put(b, cap, &n, "# TYPE hailong_receipts_total counter\n");
	for (int st = ESME_DLR_DELIVERED; st <= ESME_DLR_REJECTED; st++)
		gw_put(b, cap, &n, "hailong_receipts_total{state=\"%s\"} %" PRIu64 "\n", gw_dlr_names[st],
		       g->receipts[st]);
	gw_put(b, cap, &n, "# TYPE hailong_redis_commands_total counter\nhailong_redis_commands_total %llu\n",
	       store_commands(g->store));
	gw_put(b, cap, &n, "# TYPE hailong_redis_scripts_total counter\n");
	for (int w = 0; w < STORE_NSCRIPTS; w++)
		gw_put(b, cap, &n, "hailong_redis_scripts_total{script=\"%s\"} %llu\n",
		       store_script_name((enum store_script)w), store_script_runs(g->store, (enum store_script)w));
	gw_put(b, cap, &n, "# TYPE hailong_smsc_bound gauge\n");
	for (int i = 0; i < g->nesme; i++)
		if (!g->cfg->smsc[i].retired)
			gw_put(b, cap, &n, "hailong_smsc_bound{smsc=\"%s\"} %d\n", g->cfg->smsc[i].name,
			       esme_bound(g->esme[i]));
	if (gauges) /* depths, window in use, latency histograms (gw_gauges.c) */
		gw_put(b, cap, &n, "%s", gauges);
	return b;
}

