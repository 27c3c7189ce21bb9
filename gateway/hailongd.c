/* hailongd: the gateway daemon (config, HTTP API, SMSC sessions, Redis, SQLite). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "api.h"
#include "archive.h"
#include "chain.h"
#include "config.h"
#include "embedded.h"
#include "gw.h"
#include "log.h"
#include "tzone.h"

struct daemon {
	struct event_base *base;
	struct gw *gw;
	struct api *api;
	const struct config *cfg;
	struct event *ev_daily;  /* the archive's head logged, old sealed contacts purged */
	struct event *ready_timer;  /* polls until the service is ready (systemd) */
	int pinging;                /* its PING is on its way */
	struct event *drain_timer;  /* SIGTERM: stop at drain_timeout whatever happens */
	int stopping;
	int ready;                  /* READY=1 was said */
	struct config *live;        /* the running config (what d->cfg points to) */
	const char *path;           /* its file, read again on SIGHUP */
	struct config **retired;    /* configs whose tokens were replaced: kept until exit */
	int nretired;               /* (a dashboard job may still point into their agencies) */
};

#define DAEMON_DAILY_S 86400

/* Type=notify (hailongd.service): READY=1 once the campaigns are loaded
 * (gw_new did) and Redis answers, so that units ordered after hailongd and
 * `systemctl start` wait for a gateway that can take triggers. sd_notify is
 * a no-op without $NOTIFY_SOCKET. */
static void daemon_ready_on_ping(void *arg, int ok, const char *why)
{
	struct daemon *d = arg;
	(void)why;
	d->pinging = 0;
	if (d->stopping || d->ready || !d->ready_timer)
		return;
	if (!ok) {
		sd_notify(0, "STATUS=waiting for Redis");
		struct timeval tv = {0, 100000};
		evtimer_add(d->ready_timer, &tv);
		return;
	}
	d->ready = 1;
	sd_notify(0, "READY=1\nSTATUS=campaigns loaded, Redis reachable");
	log_info("ready msg=\"campaigns loaded, redis reachable\"");
}

static void daemon_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct daemon *d = arg;
	if (d->stopping || d->ready || d->pinging)
		return;
	/* a PING on the asynchronous connection: the loop does not wait */
	d->pinging = 1;
	gw_redis_ping(d->gw, daemon_ready_on_ping, d);
}

/* Once at start and then daily: log the head of the archive's hash chain (to
 * be kept elsewhere: `hailong archive verify --head SEQ:HASH` checks it) and
 * purge sealed contacts older than audit.keep_contact_days (docs/audit.md). */
static void daemon_daily_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct daemon *d = arg;
	char err[512], hex[CHAIN_HEX];
	int64_t seq = 0;
	struct archive *a = archive_open(d->cfg->sqlite_path, err, sizeof err);
	if (!a) {
		log_warn("archive msg=\"cannot open for the daily head\" err=\"%s\"", err);
		return;
	}
	if (chain_head(archive_sqlite(a), &seq, hex, err, sizeof err) < 0)
		log_warn("archive msg=\"cannot read the chain head\" err=\"%s\"", err);
	else
		log_info("archive head seq=%lld hash=%s verify=\"hailong archive verify --head %lld:%s\"",
		         (long long)seq, hex, (long long)seq, hex);
	int64_t before = (int64_t)time(NULL) - (int64_t)d->cfg->audit_keep_contact_days * 86400;
	int64_t n = chain_purge_contacts(archive_sqlite(a), before, err, sizeof err);
	if (n < 0)
		log_warn("audit msg=\"cannot purge sealed contacts\" err=\"%s\"", err);
	else if (n > 0)
		log_info("audit msg=\"sealed contacts purged\" count=%lld keep_contact_days=%d", (long long)n,
		         d->cfg->audit_keep_contact_days);
	archive_close(a);
}

static void daemon_done(void *arg)
{
	struct daemon *d = arg;
	event_base_loopexit(d->base, NULL);
}

#define DAEMON_RETRY_AFTER_S 5  /* Retry-After of a trigger refused while draining */

/* drain_timeout passed: stop now. gw_free still hands back what this
 * gateway holds (unconfirmed messages, records not yet in SQLite). */
static void daemon_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct daemon *d = arg;
	log_warn("event=drain_timeout drain_timeout_s=%d msg=\"stopping now; what is unconfirmed goes back in line\"",
	         d->cfg->drain_timeout_s);
	event_base_loopbreak(d->base);
}

/* SIGTERM/SIGINT: drain (docs/operations.md, "Signals"): triggers get 503,
 * the sessions finish what is in flight and unbind, the archive is flushed;
 * at most drain_timeout. */
static void daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct daemon *d = arg;
	if (d->stopping) {
		log_warn("signal=%d msg=\"second signal, stopping now\"", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = 1;
	sd_notify(0, "STOPPING=1\nSTATUS=draining");
	log_info("signal=%d event=drain drain_timeout_s=%d msg=\"shutting down\"", (int)sig, d->cfg->drain_timeout_s);
	api_drain(d->api, DAEMON_RETRY_AFTER_S); /* no new triggers: 503 */
	d->drain_timer = evtimer_new(d->base, daemon_drain_timeout_cb, d);
	if (d->drain_timer) {
		struct timeval tv = {d->cfg->drain_timeout_s, 0};
		evtimer_add(d->drain_timer, &tv);
	}
	gw_shutdown(d->gw, daemon_done, d);
}

static int daemon_str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* SIGHUP, the config file: the SMSC entries (changed, added, removed) and
 * their routes (gw_reload_smsc),
 * the API tokens, sms_triggers, drain_timeout and the log level are taken
 * from it; a file that does not load is refused with its file:line errors
 * and the running config stays. Other settings need a restart (logged). */
static void daemon_reload_config(struct daemon *d)
{
	char err[8192];
	struct config *fresh = NULL;
	if (config_load(d->path, &fresh, err, sizeof err) < 0) {
		log_error("event=config_refused msg=\"the running config stays\" err=\"%s\"", err);
		return;
	}
	struct config **r = realloc(d->retired, (size_t)(d->nretired + 1) * sizeof *r);
	if (!r) {
		log_error("event=config_refused msg=\"out of memory; the running config stays\"");
		config_free(fresh);
		return;
	}
	d->retired = r;
	/* the SMSC entries first: the only part that can still refuse the file */
	int rebound = gw_reload_smsc(d->gw, d->live, fresh, err, sizeof err);
	if (rebound < 0) {
		log_error("event=config_refused msg=\"the running config stays\" err=\"%s\"", err);
		config_free(fresh);
		return;
	}
	/* the tokens change places: the live config takes the new ones, the old
	 * ones stay allocated in `fresh`, kept until exit */
	struct config_token tmp[CONFIG_MAX_TOKENS];
	int ntmp = d->live->ntokens;
	memcpy(tmp, d->live->tokens, sizeof tmp);
	memcpy(d->live->tokens, fresh->tokens, sizeof tmp);
	d->live->ntokens = fresh->ntokens;
	memcpy(fresh->tokens, tmp, sizeof tmp);
	fresh->ntokens = ntmp;
	/* sms_triggers change places the same way */
	struct config_sms_trigger *st = malloc(sizeof d->live->sms_triggers);
	if (st) {
		int nst = d->live->nsms_triggers;
		memcpy(st, d->live->sms_triggers, sizeof d->live->sms_triggers);
		memcpy(d->live->sms_triggers, fresh->sms_triggers, sizeof d->live->sms_triggers);
		d->live->nsms_triggers = fresh->nsms_triggers;
		memcpy(fresh->sms_triggers, st, sizeof d->live->sms_triggers);
		fresh->nsms_triggers = nst;
		free(st);
	} else {
		log_warn("reload msg=\"out of memory: sms_triggers kept\"");
	}
	d->live->drain_timeout_s = fresh->drain_timeout_s;
	const char *lvl = fresh->log_level ? fresh->log_level : "info";
	if (log_set_level(lvl) < 0)
		log_warn("reload msg=\"unknown log level, kept\" log_level=%s", lvl);
	d->retired[d->nretired++] = fresh;
	int nsmsc = 0; /* entries in use (a removed one keeps its slot, retired) */
	for (int i = 0; i < d->live->nsmsc; i++)
		nsmsc += !d->live->smsc[i].retired;
	log_info("event=config smsc=%d changed=%d tokens=%d sms_triggers=%d log_level=%s", nsmsc, rebound,
	         d->live->ntokens, d->live->nsms_triggers, lvl);
	const struct config *l = d->live, *f = fresh;
	const char *later = !daemon_str_eq(l->redis_url, f->redis_url) && strcmp(f->redis_url, "embedded") != 0 ? "redis.url"
	                    : l->lease_s != f->lease_s ? "redis.lease"
	                    : !daemon_str_eq(l->sqlite_path, f->sqlite_path) ? "storage.sqlite"
	                    : !daemon_str_eq(l->http_listen, f->http_listen) ? "http.listen"
	                    : !daemon_str_eq(l->campaigns_dir, f->campaigns_dir) ? "campaigns"
	                    : !daemon_str_eq(l->timezone, f->timezone) ? "timezone"
	                    : !daemon_str_eq(l->hash_key, f->hash_key) ? "privacy.hash_key"
	                    : l->audit_has_key != f->audit_has_key ||
	                              memcmp(l->audit_public_key, f->audit_public_key, sizeof l->audit_public_key) != 0 ||
	                              l->audit_keep_contact_days != f->audit_keep_contact_days
	                          ? "audit"
	                          : NULL;
	if (later)
		log_warn("event=needs_restart key=%s msg=\"changed in the file: takes effect at the next restart\"",
		         later);
}

/* SIGHUP: the config's tokens and log level, then the campaigns folder (gw_reload). */
static void daemon_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct daemon *d = arg;
	if (d->stopping)
		return;
	log_info("signal=SIGHUP msg=\"reloading the config and campaigns\"");
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the config and campaigns");
	daemon_reload_config(d);
	gw_reload(d->gw);
	if (d->ready)
		sd_notify(0, "READY=1\nSTATUS=campaigns loaded, Redis reachable");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hailongd -c CONFIG [--check]\n"
	           "  -c, --config FILE   the gateway configuration (YAML)\n"
	           "      --check         validate the configuration and the campaigns, then exit\n"
	           "signals: SIGTERM/SIGINT drain and stop (within drain_timeout); SIGHUP reloads the SMSC entries (changed,\n"
	           "         added, removed) and routes, the tokens, sms_triggers, drain_timeout, log level and campaigns folder\n"
	           "systemd: Type=notify (READY=1 once the campaigns are loaded and Redis answers)\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int check = 0;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--check") == 0) {
			check = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			fprintf(stderr, "hailongd: %s needs a FILE\n", argv[i]);
			usage(stderr);
			return 2;
		} else {
			fprintf(stderr, "hailongd: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	char err[8192];
	struct config *cfg = NULL;
	if (config_load(path, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (config_check_paths(cfg, !check, err, sizeof err) < 0) { /* (named with their lines, before anything opens them) */
		fprintf(stderr, "%s\n", err);
		config_free(cfg);
		return 1;
	}
	if (cfg->log_level && log_set_level(cfg->log_level) < 0)
		log_warn("config msg=\"unknown log level, using info\"");
	/* report periods (the archive's rollups, /v1/report, /dashboard) count
	 * local days of this zone; set before any thread starts */
	if (tzone_use(cfg->timezone, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		config_free(cfg);
		return 1;
	}
	log_hook_libevent();
	signal(SIGPIPE, SIG_IGN);

	struct daemon d = {0};
	struct embedded *redis = NULL;
	int rc = 1;
	/* the epoll changelist: an event added and removed in the same loop
	 * pass (hiredis's write interest on every command, a session's write
	 * events) costs no epoll_ctl(2) (no file descriptor here is dup()ed) */
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		d.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (!d.base)
		d.base = event_base_new();
	if (!d.base) {
		fprintf(stderr, "hailongd: cannot create the event loop\n");
		goto done;
	}
	log_batch_on(d.base);
	if (check) {
		if (gw_check(cfg, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			goto done;
		}
		printf("%s: ok\n", path);
		rc = 0;
		goto done;
	}
	if (strcmp(cfg->redis_url, "embedded") == 0) {
		/* a private redis-server beside the archive: DIR(sqlite)/redis/ */
		char dir[4096];
		const char *slash = strrchr(cfg->sqlite_path, '/');
		if (slash)
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - cfg->sqlite_path), cfg->sqlite_path);
		else
			snprintf(dir, sizeof dir, ".");
		redis = embedded_start(dir[0] ? dir : "/", err, sizeof err);
		if (!redis) {
			fprintf(stderr, "%s: %s\n", path, err);
			goto done;
		}
		char *url = strdup(embedded_url(redis));
		if (!url)
			goto done;
		free(cfg->redis_url);
		cfg->redis_url = url;
		log_info("redis embedded url=%s", url);
	}
	d.gw = gw_new(d.base, cfg, err, sizeof err);
	if (!d.gw) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	d.api = api_new(d.base, cfg, d.gw, err, sizeof err);
	if (!d.api) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	struct event *sigterm = evsignal_new(d.base, SIGTERM, daemon_signal_cb, &d);
	struct event *sigint = evsignal_new(d.base, SIGINT, daemon_signal_cb, &d);
	struct event *sighup = evsignal_new(d.base, SIGHUP, daemon_reload_cb, &d);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sighup, NULL);
	d.ready_timer = evtimer_new(d.base, daemon_ready_cb, &d);
	if (d.ready_timer)
		event_active(d.ready_timer, EV_TIMEOUT, 0);
	d.cfg = cfg;
	d.live = cfg;
	d.path = path;
	d.ev_daily = event_new(d.base, -1, EV_PERSIST, daemon_daily_cb, &d);
	if (d.ev_daily) {
		struct timeval day = {DAEMON_DAILY_S, 0};
		event_add(d.ev_daily, &day);
		daemon_daily_cb(-1, 0, &d);
	}
	log_info("started config=%s http=%s smsc=%d timezone=%s", path, cfg->http_listen, cfg->nsmsc, tzone_name());
	event_base_dispatch(d.base);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	if (d.ready_timer)
		event_free(d.ready_timer);
	d.ready_timer = NULL; /* (a PING still on its way is answered at gw_free) */
	if (d.ev_daily)
		event_free(d.ev_daily);
	if (d.drain_timer)
		event_free(d.drain_timer);
	log_info("stopped");
	rc = 0;
done:
	api_free(d.api);
	gw_free(d.gw);
	embedded_stop(redis); /* after the gateway: its last writes are in */
	log_batch_off();
	if (d.base)
		event_base_free(d.base);
	config_free(cfg);
	for (int i = 0; i < d.nretired; i++)
		config_free(d.retired[i]);
	free(d.retired);
	return rc;
}
