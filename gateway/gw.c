/* gw: triggers in, surveys through Redis and the SMSC, finished surveys to SQLite. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archive.h"
#include "campaign.h"
#include "esme.h"
#include "gw.h"
#include "log.h"
#include "phone.h"
#include "record.h"
#include "reply.h"
#include "schedule.h"
#include "store.h"
#include "survey.h"
#include "text.h"

#define GW_TX_TTL (400 * 86400)     /* how long a transaction id stays idempotent */
#define GW_MAX_CAMPAIGNS 64       /* campaign files in the folder */
#define GW_MAX_VERSIONS 256       /* campaign versions kept in memory (current + retired) */
#define GW_RETIRE_MARGIN 3600     /* a replaced version is kept expire_after + this long */
#define GW_PUMP_BATCH 200
#define GW_ARCHIVE_BATCH 500
#define GW_DUE_LEASE 60
#define GW_TAKE_MAX 32            /* messages taken from an outbox in one round trip */
#define GW_LAST_TTL (400 * 86400) /* how long hl:last:{msisdn} is kept (resurvey_after) */
#define GW_NOTICE_TTL 86400       /* a reply without a survey is answered once per day */
#define GW_RECENT_END (6 * 3600)  /* a reply this soon after the survey ended gets no notice */

/* The answer to a reply from a number that has no survey running (built in:
 * it belongs to no campaign; docs/design.md). */
static const char gw_no_survey_text[] =
	"Số này chỉ dùng để khảo sát sự hài lòng về dịch vụ hành chính công. "
	"Hiện Ông/Bà không có khảo sát nào đang diễn ra. Xin cảm ơn.";
/* The confirmation of HUY/STOP sent by a number without a survey, when no
 * campaign named "default" gives its own `stopped` message. */
static const char gw_stopped_text[] =
	"Ông/Bà đã dừng khảo sát và sẽ không nhận thêm tin nhắn. Xin cảm ơn.";

/* Counters for /metrics. */
enum gw_counter {
	GW_TRIG_NEW, GW_TRIG_DUP, GW_TRIG_BAD, GW_TRIG_UNAVAIL,
	GW_MO, GW_MO_ORPHAN, GW_MO_RETRY, GW_MO_EARLY, GW_MO_AFTER_END, GW_MO_PARTS_EXPIRED, GW_LEASE_LOST, GW_LEASE_TAKEN, GW_MT_SENT, GW_MT_FAILED, GW_MT_STALE,
	GW_STARTED, GW_ARCHIVED, GW_REDIS_ERR,
	GW_HELD, GW_DEFERRED, GW_NOTICES, GW_RELOADS, GW_RELOAD_ERR, GW_SMS_TRIG,
	GW_NCOUNTERS
};
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
};
_Static_assert(sizeof gw_counter_names / sizeof gw_counter_names[0] == GW_NCOUNTERS,
               "one metric name per counter");

/* A message handed to an esme, until its outcome is known. */
struct gw_inflight {
	uint64_t tag;
	uint64_t hash;         /* of json (gw_in_hand compares these first) */
	int smsc;              /* index in g->esme */
	char *json;            /* the outbox entry, to remove from hl:sending */
	char survey[RECORD_ID_MAX]; /* the survey of a survey's item, else "" */
	int q;                 /* the item it asks (-1 = an end message) */
	int first;             /* the survey's first item */
	struct gw_inflight *next;
};

/* A record for Redis that could not be written while it was away. */
struct gw_unkept {
	char *key, *val;
	struct gw_unkept *next;
};

/* One loaded campaign version. The current version of an id takes new
 * surveys; a replaced one stays until retire_at for the surveys that started
 * with it (they run at most expire_after). */
struct gw_camp {
	struct campaign *c;    /* owned */
	int current;           /* 1 = the version new surveys use */
	int64_t retire_at;     /* not current: freed after this (unix s) */
};

struct gw {
	struct event_base *base;
	const struct config *cfg;
	struct gw_camp camps[GW_MAX_VERSIONS];
	int ncamps;
	char inst[17];                        /* this gateway's instance id (hash of host and http.listen) */
	char k_starting[48], k_archiving[48], k_lease[40];
	char k_dtaking[64];     /* our deliveries being archived */
	uint64_t receipts[ESME_DLR_REJECTED + 1]; /* first final receipt per message, by state */
	uint64_t dlr_seen[4096];  /* hashes of messages whose receipt was handled (direct-mapped) */
	int registered;                       /* the lease was written once */
	uint64_t renewals;                    /* lease renewals: the lease's value changes each time */
	double redis_since;                   /* leases renewed without a gap since (monotonic s; 0 = not yet) */
	double last_renew;                    /* last lease renewal (monotonic s) */
	unsigned long lease_conn;             /* store_connects() at the last renewal */
	int reclaim_pending;                  /* the lease ran out: take back what peers left */
	struct store *store;
	struct archive *archive;
	struct esme *esme[CONFIG_MAX_SMSC];
	int nesme;
	int bound[CONFIG_MAX_SMSC];
	struct timespec send_after[CONFIG_MAX_SMSC]; /* no items before this after a (re)bind (monotonic) */
	double parts_avg[CONFIG_MAX_SMSC];   /* SMS parts per message sent lately (sizes TAKE) */
	unsigned char hash_key[crypto_generichash_KEYBYTES]; /* key of msisdn_hash */
	struct event *ev_queue, *ev_outbox, *ev_due, *ev_archive, *ev_lease;
	struct gw_inflight *inflight;
	struct gw_inflight *removals; /* sent, but their hl:sending entry could not be removed yet */
	struct gw_unkept *unkept;     /* hl:msg records that could not be written yet */
	uint64_t next_tag;
	uint64_t counters[GW_NCOUNTERS];
	uint64_t finished[SURVEY_SUPPRESSED + 1];   /* by status */
	int shutting_down, pending_shutdown;
	void (*done)(void *);
	void *done_arg;
};

static int64_t gw_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- campaigns ---- */

/* The current version of a campaign id, or -1. */
static int gw_camp_current(const struct gw *g, const char *id)
{
	for (int i = 0; i < g->ncamps; i++)
		if (g->camps[i].current && strcmp(g->camps[i].c->id, id) == 0)
			return i;
	return -1;
}

/* Reads the campaigns folder. At start (initial) any broken file is an error
 * and nothing is kept. On reload a broken file is refused with its errors
 * logged and the version loaded before from that file stays current; a good
 * file with a new version becomes current and the old version is retired
 * (kept while surveys that started with it may still run). Returns the number
 * of refused files on reload, or 0 / negative errno at start. */
static int gw_load_campaigns(struct gw *g, int initial, char *err, size_t errlen)
{
	DIR *d = opendir(g->cfg->campaigns_dir);
	if (!d) {
		snprintf(err, errlen, "%s: campaigns: %s", g->cfg->file, strerror(errno));
		return -errno;
	}
	struct dirent *de;
	char *names[GW_MAX_CAMPAIGNS];
	int n = 0, rc = 0, refused = 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 5)
			continue;
		if (strcmp(de->d_name + l - 5, ".yaml") != 0 && strcmp(de->d_name + l - 4, ".yml") != 0)
			continue;
		if (n == GW_MAX_CAMPAIGNS) {
			snprintf(err, errlen, "%s: more than %d campaign files", g->cfg->campaigns_dir, GW_MAX_CAMPAIGNS);
			rc = -E2BIG;
			break;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (rc < 0 && initial) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		return rc;
	}
	/* sorted, so that a duplicate id is reported the same way every time */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	struct campaign *fresh[GW_MAX_CAMPAIGNS];
	char *broken[GW_MAX_CAMPAIGNS]; /* paths of refused files */
	int nfresh = 0, nbroken = 0;
	rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		char path[4096], e[8192];
		if (!names[i])
			continue;
		snprintf(path, sizeof path, "%s/%s", g->cfg->campaigns_dir, names[i]);
		struct campaign *c = NULL;
		int lr = campaign_load(path, &c, e, sizeof e);
		if (lr == 0 && c->channel == CAMPAIGN_USSD) {
			/* the model knows USSD, the gateway does not run USSD sessions yet:
			 * refusing is honest, sending its items as SMS would not be */
			snprintf(e, sizeof e, "%s:1: channel: ussd campaigns are not served by this hailongd yet (use sms)",
			         path);
			campaign_free(c);
			c = NULL;
			lr = -ENOTSUP;
		}
		for (int k = 0; lr == 0 && k < nfresh; k++) {
			if (strcmp(fresh[k]->id, c->id) == 0) {
				snprintf(e, sizeof e, "%s:1: campaign id '%s' is also used by %s", path, c->id, fresh[k]->file);
				campaign_free(c);
				c = NULL;
				lr = -EINVAL;
			}
		}
		if (lr == 0) {
			fresh[nfresh++] = c;
			continue;
		}
		if (initial) {
			snprintf(err, errlen, "%s", e);
			rc = lr;
			break;
		}
		refused++;
		broken[nbroken++] = strdup(path);
		/* one log line per error line */
		for (char *line = e, *nl; line && *line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			log_error("reload file=%s msg=\"campaign refused, the version loaded before stays\" err=\"%s\"",
			          path, line);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	if (rc == 0 && initial && nfresh == 0) {
		snprintf(err, errlen, "%s: no campaign files (*.yaml) in %s", g->cfg->file, g->cfg->campaigns_dir);
		rc = -ENOENT;
	}
	if (rc < 0) {
		for (int i = 0; i < nfresh; i++)
			campaign_free(fresh[i]);
		return rc;
	}
	int64_t now = (int64_t)time(NULL);
	/* current versions whose file is gone (not merely broken) are retired */
	for (int i = 0; i < g->ncamps; i++) {
		struct gw_camp *gc = &g->camps[i];
		if (!gc->current)
			continue;
		int keep = 0;
		for (int k = 0; k < nfresh && !keep; k++)
			keep = strcmp(fresh[k]->id, gc->c->id) == 0;
		for (int k = 0; k < nbroken && !keep; k++)
			keep = strcmp(broken[k], gc->c->file) == 0;
		if (!keep) {
			gc->current = 0;
			gc->retire_at = now + gc->c->expire_after + GW_RETIRE_MARGIN;
			log_info("reload campaign=%s version=%s msg=\"file removed: no new surveys\"", gc->c->id,
			         gc->c->version);
		}
	}
	for (int k = 0; k < nfresh; k++) {
		struct campaign *c = fresh[k];
		int cur = gw_camp_current(g, c->id);
		if (cur >= 0 && strcmp(g->camps[cur].c->version, c->version) == 0) {
			campaign_free(c); /* unchanged */
			continue;
		}
		/* a version seen before (edited back) is made current again */
		int old = -1;
		for (int i = 0; i < g->ncamps && old < 0; i++)
			if (strcmp(g->camps[i].c->id, c->id) == 0 && strcmp(g->camps[i].c->version, c->version) == 0)
				old = i;
		if (old < 0 && g->ncamps == GW_MAX_VERSIONS) {
			log_error("reload campaign=%s msg=\"too many versions in memory, refused\"", c->id);
			campaign_free(c);
			refused++;
			continue;
		}
		if (cur >= 0) {
			g->camps[cur].current = 0;
			g->camps[cur].retire_at = now + g->camps[cur].c->expire_after + GW_RETIRE_MARGIN;
		}
		if (old >= 0) {
			campaign_free(c);
			g->camps[old].current = 1;
			c = g->camps[old].c;
		} else {
			g->camps[g->ncamps].c = c;
			g->camps[g->ncamps].current = 1;
			g->camps[g->ncamps].retire_at = 0;
			g->ncamps++;
		}
		if (g->archive) {
			char e[512];
			if (archive_put_campaign(g->archive, c, e, sizeof e) < 0)
				log_error("reload campaign=%s msg=\"cannot record its questions in the archive\" err=\"%s\"",
				          c->id, e);
		}
		if (!initial)
			log_info("reload campaign=%s version=%s file=%s msg=\"loaded\"", c->id, c->version, c->file);
	}
	for (int i = 0; i < nbroken; i++)
		free(broken[i]);
	return initial ? 0 : refused;
}

/* Frees replaced versions whose surveys have all run out. */
static void gw_retire_campaigns(struct gw *g, int64_t now)
{
	for (int i = 0; i < g->ncamps;) {
		struct gw_camp *gc = &g->camps[i];
		if (!gc->current && gc->retire_at <= now) {
			log_info("campaign=%s version=%s msg=\"old version released\"", gc->c->id, gc->c->version);
			campaign_free(gc->c);
			g->camps[i] = g->camps[--g->ncamps];
			continue;
		}
		i++;
	}
}

int gw_reload(struct gw *g)
{
	char err[256];
	int refused = gw_load_campaigns(g, 0, err, sizeof err);
	if (refused < 0) {
		log_error("reload msg=\"campaigns folder not readable, nothing changed\" err=\"%s\"", err);
		g->counters[GW_RELOAD_ERR]++;
		return refused;
	}
	g->counters[refused ? GW_RELOAD_ERR : GW_RELOADS]++;
	int ncur = 0;
	for (int i = 0; i < g->ncamps; i++)
		ncur += g->camps[i].current;
	log_info("reload campaigns=%d versions_in_memory=%d refused=%d", ncur, g->ncamps, refused);
	return refused;
}

/* The version `ver` of campaign `id`; with ver NULL (or a version no longer
 * in memory) the current one. NULL when there is none. */
static const struct campaign *gw_campaign(const struct gw *g, const char *id, const char *ver)
{
	for (int i = 0; ver && i < g->ncamps; i++)
		if (strcmp(g->camps[i].c->id, id) == 0 && strcmp(g->camps[i].c->version, ver) == 0)
			return g->camps[i].c;
	int cur = gw_camp_current(g, id);
	return cur >= 0 ? g->camps[cur].c : NULL;
}

/* ---- the phone-number hash of the archive ---- */

/* The key comes from config (privacy.hash_key); without one it is generated
 * once and kept beside the database (DB.key, mode 0600), so hashes of the same
 * citizen stay comparable across restarts. */
static int gw_hash_key(struct gw *g, char *err, size_t errlen)
{
	const char *k = g->cfg->hash_key;
	char buf[65];
	if (!k) {
		char path[4096];
		snprintf(path, sizeof path, "%s.key", g->cfg->sqlite_path);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, 64, f);
			fclose(f);
			buf[n] = '\0';
			if (n != 64) {
				snprintf(err, errlen, "%s: expected 64 hex digits", path);
				return -EINVAL;
			}
		} else {
			unsigned char raw[32];
			randombytes_buf(raw, sizeof raw);
			sodium_bin2hex(buf, sizeof buf, raw, sizeof raw);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
			if (fd < 0 || write(fd, buf, 64) != 64) {
				snprintf(err, errlen, "%s: cannot keep the generated hash key: %s", path, strerror(errno));
				if (fd >= 0)
					close(fd);
				return -EIO;
			}
			close(fd);
			log_info("privacy msg=\"generated the msisdn hash key\" file=%s", path);
		}
		k = buf;
	}
	/* any length of configured key -> a 32-byte BLAKE2b key */
	crypto_generichash(g->hash_key, sizeof g->hash_key, (const unsigned char *)k, strlen(k), NULL, 0);
	return 0;
}

static void gw_msisdn_hash(const struct gw *g, const char *msisdn, char out[65])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof h, (const unsigned char *)msisdn, strlen(msisdn), g->hash_key,
	                   sizeof g->hash_key);
	sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---- routing ---- */

/* The SMSC for a number: longest matching route prefix, else one without
 * routes (the default route), else the first. */
static int gw_route(const struct gw *g, const char *msisdn)
{
	int best = -1, bestlen = -1, dflt = -1;
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		const struct config_smsc *s = &g->cfg->smsc[i];
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
	return best >= 0 ? best : dflt >= 0 ? dflt : 0;
}

/* ---- committing a survey step ---- */

static void gw_key(char *out, size_t cap, const char *prefix, const char *id)
{
	snprintf(out, cap, "%s%s", prefix, id);
}

/* An outbox entry: the survey it belongs to ("" = none), the number, the
 * text and its encoding; first = the survey's first item (a permanent
 * failure to send it fails the survey). */
static char *gw_outbox_entry(const char *survey, const char *to, enum text_encoding enc, const char *text,
                             int first, int q)
{
	/* "u": each message is one of a kind, so a copy of it (a peer's REAP
	 * put back what our session still holds) is recognised as such */
	unsigned char rnd[6];
	char u[13];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(u, sizeof u, rnd, sizeof rnd);
	json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s}", "s", survey, "to", to, "text", text, "enc", (int)enc, "u", u);
	if (!o)
		return NULL;
	if (first)
		json_object_set_new(o, "first", json_true());
	if (q >= 0)
		json_object_set_new(o, "q", json_integer(q));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static uint64_t gw_hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static void gw_sending_key(const struct gw *g, int smsc, char *out, size_t cap)
{
	snprintf(out, cap, "hl:sending:%s:%s", g->cfg->smsc[smsc].name, g->inst);
}

/* Write one step atomically: state, messages to send (held in hl:held:{smsc}
 * while the campaign's quiet hours last), timers, and on a final status the
 * archive record, the opt-out and the citizen's next survey. `first` marks the
 * messages as the survey's first item. The step may be adjusted here: when
 * messages are held, last_at moves to the moment they go out, so the
 * reminder counts from then. Returns 1, 0 when the survey moved on meanwhile
 * (retry), or -EIO. */
static int gw_commit(struct gw *g, const struct record_meta *m, const struct campaign *c,
                     struct survey *s, struct survey_out *o, const char *expect_ver,
                     const char *reason, int first)
{
	int smsc = gw_route(g, m->msisdn);
	char k_s[64], k_act[48], k_wait[48], k_out[96], k_held[96], k_last[48];
	gw_key(k_s, sizeof k_s, "hl:s:", m->id);
	gw_key(k_act, sizeof k_act, "hl:active:", m->msisdn);
	gw_key(k_wait, sizeof k_wait, "hl:wait:", m->msisdn);
	gw_key(k_last, sizeof k_last, "hl:last:", m->msisdn);
	gw_key(k_out, sizeof k_out, "hl:outbox:", g->cfg->smsc[smsc].name);
	gw_key(k_held, sizeof k_held, "hl:held:", g->cfg->smsc[smsc].name);
	const char *keys[] = {k_s, k_act, k_wait, "hl:queue", "hl:archive", "hl:due", k_out, g->k_starting,
	                      k_held, "hl:heldseq", "hl:optout", k_last};
	struct record_strv a = {0};
	char *arch = NULL;
	int rc = -ENOMEM;
	int64_t now = gw_now();
	int64_t hold = (c && o->nmsg) ? schedule_quiet_until(c, now) : 0;
	if (hold && !o->finished && s->status == SURVEY_ACTIVE) {
		if (s->last_at < hold)
			s->last_at = hold;
		o->due = survey_next_due(c, s);
	}
	if (o->finished) {
		char h[65];
		gw_msisdn_hash(g, m->msisdn, h);
		arch = record_archive_json(m, c, s, h, reason);
		if (!arch)
			goto done;
	}
	if (record_strv_add(&a, m->id) || record_strv_add(&a, expect_ver ? expect_ver : "") ||
	    record_strv_add(&a, o->finished ? "1" : "0") || record_strv_addf(&a, "%" PRId64, o->due) ||
	    record_strv_add(&a, arch ? arch : "") ||
	    record_strv_add(&a, s->status == SURVEY_OPTED_OUT ? m->msisdn : "") ||
	    record_strv_addf(&a, "%" PRId64, hold) || record_strv_addf(&a, "%" PRId64, now) ||
	    record_strv_addf(&a, "%d", o->nmsg))
		goto done;
	for (int i = 0; i < o->nmsg; i++) {
		char *e = gw_outbox_entry(m->id, m->msisdn, c ? c->encoding : TEXT_ENC_AUTO, o->msg[i], first,
		                          o->finished ? -1 : s->q);
		int r2 = e ? record_strv_add(&a, e) : -ENOMEM;
		free(e);
		if (r2)
			goto done;
	}
	if (!o->finished && c &&
	    (record_state_fields(c, s, &a) || record_strv_add(&a, "cver") || record_strv_add(&a, m->cver)))
		goto done;
	char err[256];
	redisReply *r = store_script(g->store, STORE_COMMIT, 12, keys, a.n, (const char **)a.v, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("commit survey=%s err=\"%s\"", m->id, err);
		rc = -EIO;
		goto done;
	}
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	if (rc && o->finished) {
		g->finished[s->status]++;
		event_active(g->ev_archive, 0, 0);
		char mask[PHONE_MAX];
		phone_mask(m->msisdn, mask);
		log_info("survey finished survey=%s campaign=%s msisdn=%s status=%s reason=\"%s\"", m->id,
		         m->campaign, mask, survey_status_name(s->status), reason ? reason : "");
	}
	if (rc && hold)
		g->counters[GW_HELD] += (uint64_t)o->nmsg;
	else if (rc && o->nmsg)
		event_active(g->ev_outbox, 0, 0);
done:
	free(arch);
	record_strv_free(&a);
	return rc;
}

/* An integer field of a survey hash; -1 when absent or unreadable. */
/* Archive a survey that ends before (or instead of) its first item:
 * suppressed or failed, with why. Returns gw_commit's result. */
static int gw_finish_early(struct gw *g, const struct record_meta *m, const struct campaign *c,
                           struct survey *s, enum survey_status st, const char *reason)
{
	struct survey_out o;
	memset(&o, 0, sizeof o);
	s->status = st;
	s->finished_at = gw_now();
	o.finished = 1;
	return gw_commit(g, m, c, s, &o, m->ver, reason, 0);
}

/* A running survey that cannot go on: its campaign version is no longer
 * loaded (-ESRCH) or its state cannot be read (-EINVAL). Left alone it would
 * hold the citizen and come back on every reply and timer; it is archived
 * `failed` with what could be read, and the citizen is released. */
static void gw_fail_broken(struct gw *g, struct record_meta *m, const struct campaign *c, struct survey *s,
                           int rc, const char *msisdn)
{
	const char *why = rc == -ESRCH ? "campaign not loaded" : "unreadable state";
	if (!m->msisdn[0] && msisdn)
		snprintf(m->msisdn, sizeof m->msisdn, "%s", msisdn);
	log_error("survey=%s campaign=%s msg=\"%s: archived as failed\"", m->id, m->campaign, why);
	gw_finish_early(g, m, rc == -ESRCH ? NULL : c, s, SURVEY_FAILED, why);
}

/* Load a survey: meta, its campaign and its state. Returns 0, -ENOENT (gone),
 * -EIO (Redis), -ESRCH (meta read, but no version of its campaign is loaded:
 * *c is NULL) or -EINVAL (a record we cannot read). */
/* Read a survey from an HGETALL reply: meta, its campaign and its state.
 * Returns 0, -ENOENT (gone) or -EINVAL / -ESRCH (a record we cannot read). */
static int gw_parse_survey(struct gw *g, const char *id, const redisReply *r, struct record_meta *m,
                           const struct campaign **c, struct survey *s)
{
	survey_init(s);
	*c = NULL;
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	int rc = record_meta_parse(r, m);
	if (rc == 0) {
		*c = gw_campaign(g, m->campaign, m->cver);
		rc = *c ? record_state_parse(r, *c, s) : -ESRCH;
	}
	return rc;
}

/* Load a survey: as gw_parse_survey, or -EIO (Redis). */
static int gw_load(struct gw *g, const char *id, struct record_meta *m, const struct campaign **c,
                   struct survey *s)
{
	char key[64], err[256];
	gw_key(key, sizeof key, "hl:s:", id);
	redisReply *r = store_cmd(g->store, err, sizeof err, "HGETALL %s", key);
	if (!r) {
		survey_init(s);
		*c = NULL;
		g->counters[GW_REDIS_ERR]++;
		log_warn("load survey=%s err=\"%s\"", id, err);
		return -EIO;
	}
	int rc = gw_parse_survey(g, id, r, m, c, s);
	freeReplyObject(r);
	return rc;
}

/* A message to a number outside any survey (answers to a reply without a
 * survey, to an SMS trigger): at most once per GW_NOTICE_TTL per `marker`
 * key when one is given; optout = record the number as opted out. */
static int gw_notice(struct gw *g, const char *msisdn, const char *text, const char *marker, int optout)
{
	char k_out[96], mk[96], err[256];
	int smsc = gw_route(g, msisdn);
	gw_key(k_out, sizeof k_out, "hl:outbox:", g->cfg->smsc[smsc].name);
	char *e = gw_outbox_entry("", msisdn, TEXT_ENC_AUTO, text, 0, -1);
	if (!e)
		return -ENOMEM;
	int rc;
	if (marker) {
		snprintf(mk, sizeof mk, "%s%s", marker, msisdn);
		char ttl[16];
		snprintf(ttl, sizeof ttl, "%d", GW_NOTICE_TTL);
		const char *keys[] = {mk, k_out, "hl:optout"};
		const char *args[] = {ttl, e, optout ? msisdn : ""};
		redisReply *r = store_script(g->store, STORE_NOTICE, 3, keys, 3, args, err, sizeof err);
		rc = r ? (r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0) : -EIO;
		if (r)
			freeReplyObject(r);
	} else {
		redisReply *r = store_cmd(g->store, err, sizeof err, "RPUSH %s %s", k_out, e);
		rc = r ? 1 : -EIO;
		if (r)
			freeReplyObject(r);
	}
	free(e);
	if (rc < 0)
		g->counters[GW_REDIS_ERR]++;
	if (rc == 1) {
		g->counters[GW_NOTICES]++;
		event_active(g->ev_outbox, 0, 0);
	}
	return rc;
}

/* ---- triggers ---- */

static int gw_field_ok(const char *v, size_t max)
{
	size_t n = strlen(v);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

int gw_trigger(struct gw *g, const struct gw_trigger *t, char survey_id[33], const char **field,
               char *err, size_t errlen)
{
	struct record_meta m;
	memset(&m, 0, sizeof m);
	*field = NULL;
#define GW_BAD(f, ...)                              \
	do {                                        \
		*field = f;                         \
		snprintf(err, errlen, __VA_ARGS__); \
		g->counters[GW_TRIG_BAD]++;         \
	} while (0)
	if (!t->campaign || !gw_field_ok(t->campaign, RECORD_FIELD_MAX - 1)) {
		GW_BAD("campaign", "campaign: required, a non-empty string");
		return 400;
	}
	if (!t->msisdn) {
		GW_BAD("msisdn", "msisdn: required");
		return 400;
	}
	char why[128];
	if (phone_normalize(t->msisdn, m.msisdn, why, sizeof why) < 0) {
		GW_BAD("msisdn", "msisdn: %s", why);
		return 400;
	}
	if (!t->transaction_id || !gw_field_ok(t->transaction_id, RECORD_FIELD_MAX - 1)) {
		GW_BAD("transaction_id", "transaction_id: required, 1-128 printable characters");
		return 400;
	}
	if (!t->agency || !gw_field_ok(t->agency, RECORD_FIELD_MAX - 1)) {
		GW_BAD("agency", "agency: required, 1-128 printable characters");
		return 400;
	}
	if (t->procedure && !gw_field_ok(t->procedure, RECORD_FIELD_MAX - 1)) {
		GW_BAD("procedure", "procedure: 1-128 printable characters");
		return 400;
	}
	if (t->completed_at && record_parse_time(t->completed_at, &m.completed_at) < 0) {
		GW_BAD("completed_at", "completed_at: not an ISO 8601 time (2026-11-21T09:30:00+07:00)");
		return 400;
	}
#undef GW_BAD
	const struct campaign *c = gw_campaign(g, t->campaign, NULL);
	if (!c) {
		*field = "campaign";
		snprintf(err, errlen, "campaign: no campaign '%s'", t->campaign);
		g->counters[GW_TRIG_BAD]++;
		return 404;
	}
	unsigned char rnd[16];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(m.id, sizeof m.id, rnd, sizeof rnd);
	snprintf(m.campaign, sizeof m.campaign, "%s", c->id);
	snprintf(m.cver, sizeof m.cver, "%s", c->version);
	snprintf(m.agency, sizeof m.agency, "%s", t->agency);
	snprintf(m.procedure, sizeof m.procedure, "%s", t->procedure ? t->procedure : "");
	snprintf(m.txid, sizeof m.txid, "%s", t->transaction_id);
	snprintf(m.channel, sizeof m.channel, "%s", c->channel == CAMPAIGN_USSD ? "ussd" : "sms");
	m.triggered_at = gw_now();

	char k_tx[300], k_s[64];
	snprintf(k_tx, sizeof k_tx, "hl:tx:%s:%s", c->id, t->transaction_id);
	gw_key(k_s, sizeof k_s, "hl:s:", m.id);
	const char *keys[] = {k_tx, k_s, "hl:queue"};
	struct record_strv a = {0};
	int code = 503;
	if (record_strv_add(&a, m.id) || record_strv_addf(&a, "%d", GW_TX_TTL) || record_meta_fields(&m, &a)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	redisReply *r = store_script(g->store, STORE_TRIGGER, 3, keys, a.n, (const char **)a.v, err, errlen);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		g->counters[GW_TRIG_UNAVAIL]++;
		goto done;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
		code = r->element[0]->integer == 1 ? 202 : 200;
		snprintf(survey_id, 33, "%s", r->element[1]->str);
		g->counters[code == 202 ? GW_TRIG_NEW : GW_TRIG_DUP]++;
		if (code == 202)
			event_active(g->ev_queue, 0, 0);
	} else {
		snprintf(err, errlen, "unexpected reply from redis");
	}
	freeReplyObject(r);
done:
	record_strv_free(&a);
	return code;
}

/* ---- SMS triggers ---- */

int gw_sms_trigger_parse(const char *text, struct gw_sms_trigger *out)
{
	memset(out, 0, sizeof *out);
	char *tok[5];
	int n = 0;
	const char *p = text;
	int rc = 0;
	while (*p && n < 5) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			break;
		const char *b = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
		tok[n] = strndup(b, (size_t)(p - b));
		if (!tok[n]) {
			rc = -ENOMEM;
			goto done;
		}
		n++;
	}
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (n == 0 || strcasecmp(tok[0], GW_SMS_KEYWORD) != 0) {
		rc = -ENOENT; /* not a trigger: an ordinary reply */
		goto done;
	}
	if (n < 3 || n > 4 || *p) {
		snprintf(out->error, sizeof out->error, "cu phap: " GW_SMS_KEYWORD " <so dien thoai> <ma ho so> [thu tuc]");
		rc = -EINVAL;
		goto done;
	}
	char why[128];
	if (phone_normalize(tok[1], out->msisdn, why, sizeof why) < 0) {
		snprintf(out->error, sizeof out->error, "so dien thoai %.20s khong hop le", tok[1]);
		rc = -EINVAL;
		goto done;
	}
	if (strlen(tok[2]) >= sizeof out->transaction_id || (n == 4 && strlen(tok[3]) >= sizeof out->procedure)) {
		snprintf(out->error, sizeof out->error, "ma ho so hoac thu tuc qua dai");
		rc = -EINVAL;
		goto done;
	}
	snprintf(out->transaction_id, sizeof out->transaction_id, "%s", tok[2]);
	if (n == 4)
		snprintf(out->procedure, sizeof out->procedure, "%s", tok[3]);
done:
	for (int i = 0; i < n; i++)
		free(tok[i]);
	return rc;
}

/* 1 when two numbers are the same subscriber: digits compared after the
 * country code 84 or the trunk 0. */
static int gw_same_number(const char *a, const char *b)
{
	char da[32], db[32];
	const char *in[2] = {a, b};
	char *out[2] = {da, db};
	for (int k = 0; k < 2; k++) {
		size_t n = 0;
		for (const char *p = in[k]; *p && n < sizeof da - 1; p++)
			if (*p >= '0' && *p <= '9')
				out[k][n++] = *p;
		out[k][n] = '\0';
	}
	const char *pa = da, *pb = db;
	if (strncmp(pa, "84", 2) == 0 && strlen(pa) > 9)
		pa += 2;
	else if (*pa == '0')
		pa++;
	if (strncmp(pb, "84", 2) == 0 && strlen(pb) > 9)
		pb += 2;
	else if (*pb == '0')
		pb++;
	return *pa && strcmp(pa, pb) == 0;
}

/* An MO from a whitelisted agency number that starts with the keyword is a
 * trigger (config `sms_triggers`: number, agency, campaign). Returns 1 when it
 * was handled (and *status is the deliver_sm answer), 0 when it is not a
 * trigger. */
static int gw_sms_trigger(struct gw *g, const char *from, const char *text, uint32_t *status)
{
	const struct config_sms_trigger *w = NULL;
	for (int i = 0; i < g->cfg->nsms_triggers && !w; i++)
		if (gw_same_number(from, g->cfg->sms_triggers[i].number))
			w = &g->cfg->sms_triggers[i];
	if (!w)
		return 0;
	struct gw_sms_trigger t;
	int rc = gw_sms_trigger_parse(text, &t);
	if (rc == -ENOENT)
		return 0;
	char answer[400], id[33], err[256];
	*status = SMPP_ESME_ROK;
	g->counters[GW_SMS_TRIG]++;
	if (rc == -ENOMEM) {
		*status = SMPP_ESME_RX_T_APPN;
		return 1;
	}
	if (rc < 0) {
		snprintf(answer, sizeof answer, "Loi: %s", t.error);
	} else {
		struct gw_trigger tr = {.campaign = w->campaign, .msisdn = t.msisdn, .transaction_id = t.transaction_id,
		                        .agency = w->agency, .procedure = t.procedure[0] ? t.procedure : NULL};
		const char *field = NULL;
		int code = gw_trigger(g, &tr, id, &field, err, sizeof err);
		char mask[PHONE_MAX];
		phone_mask(t.msisdn, mask);
		if (code == 503) {
			*status = SMPP_ESME_RX_T_APPN; /* the SMSC delivers it again */
			return 1;
		}
		if (code == 202)
			snprintf(answer, sizeof answer, "Da nhan: ho so %s, khao sat gui toi %s.", t.transaction_id, mask);
		else if (code == 200)
			snprintf(answer, sizeof answer, "Ho so %s da duoc nhan truoc do.", t.transaction_id);
		else
			snprintf(answer, sizeof answer, "Loi: %s", err);
		log_info("sms trigger from=%s agency=%s campaign=%s tx=%s code=%d", w->number, w->agency, w->campaign,
		         t.transaction_id, code);
	}
	char sender[PHONE_MAX], why[128];
	if (phone_normalize(from, sender, why, sizeof why) < 0)
		snprintf(sender, sizeof sender, "%s", from);
	if (gw_notice(g, sender, answer, NULL, 0) < 0)
		log_warn("sms trigger msg=\"answer not queued\"");
	return 1;
}

/* ---- starting surveys ---- */

static void gw_drop_starting(struct gw *g, const char *id)
{
	char err[256];
	redisReply *r = store_cmd(g->store, err, sizeof err, "LREM %s 0 %s", g->k_starting, id);
	if (r)
		freeReplyObject(r);
}

static void gw_start_one(struct gw *g, const char *id)
{
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	int rc = gw_load(g, id, &m, &c, &s);
	char err[256], mask[PHONE_MAX];
	if (rc == -EIO) {
		survey_clear(&s);
		return; /* stays in our hl:starting; put back in line by REAP */
	}
	if (rc == -ENOENT) {
		gw_drop_starting(g, id);
		survey_clear(&s);
		return;
	}
	if (rc == -ESRCH) {
		log_error("start survey=%s campaign=%s msg=\"campaign no longer loaded\"", id, m.campaign);
		gw_finish_early(g, &m, NULL, &s, SURVEY_FAILED, "campaign not loaded");
		survey_clear(&s);
		return;
	}
	if (rc < 0) {
		log_error("start survey=%s msg=\"unreadable survey record, dropped\" rc=%d", id, rc);
		gw_drop_starting(g, id);
		survey_clear(&s);
		return;
	}
	if (s.status != SURVEY_QUEUED && s.status != SURVEY_WAITING) {
		/* started already (a copy of its id put back in line by a peer that
		 * thought us dead): starting it again would resend item 1 */
		log_warn("start survey=%s status=%s msg=\"already started, not again\"", id, survey_status_name(s.status));
		gw_drop_starting(g, id);
		survey_clear(&s);
		return;
	}
	phone_mask(m.msisdn, mask);
	/* a survey that has not sent anything yet takes the current version */
	const struct campaign *cur = gw_campaign(g, m.campaign, NULL);
	if (cur && cur != c) {
		survey_clear(&s);
		survey_init(&s);
		c = cur;
	}
	snprintf(m.cver, sizeof m.cver, "%s", c->version);
	int64_t now = gw_now();
	if (!schedule_in_window(c, m.triggered_at)) {
		gw_finish_early(g, &m, c, &s, SURVEY_SUPPRESSED, schedule_reason(SCHEDULE_OUTSIDE_WINDOW));
		survey_clear(&s);
		return;
	}
	int64_t quiet = schedule_quiet_until(c, now);
	if (quiet) {
		char at[24];
		snprintf(at, sizeof at, "%" PRId64, quiet);
		const char *keys[] = {"hl:due", g->k_starting};
		const char *args[] = {m.id, at};
		redisReply *r = store_script(g->store, STORE_DEFER, 2, keys, 2, args, err, sizeof err);
		if (r) {
			freeReplyObject(r);
			g->counters[GW_DEFERRED]++;
			log_info("start survey=%s msisdn=%s msg=\"quiet hours: start held\" until=%" PRId64, m.id, mask,
			         quiet);
		} else {
			g->counters[GW_REDIS_ERR]++;
		}
		survey_clear(&s);
		return;
	}
	char k_act[48], k_wait[48], k_s[64], k_last[48];
	gw_key(k_act, sizeof k_act, "hl:active:", m.msisdn);
	gw_key(k_wait, sizeof k_wait, "hl:wait:", m.msisdn);
	gw_key(k_s, sizeof k_s, "hl:s:", m.id);
	gw_key(k_last, sizeof k_last, "hl:last:", m.msisdn);
	char snow[24], sre[24], sttl[24];
	snprintf(snow, sizeof snow, "%" PRId64, now);
	snprintf(sre, sizeof sre, "%" PRId64, c->resurvey_after);
	snprintf(sttl, sizeof sttl, "%d", GW_LAST_TTL);
	const char *keys[] = {k_act, k_wait, g->k_starting, k_s, "hl:optout", k_last, "hl:queue"};
	const char *args[] = {m.id, m.msisdn, snow, sre, sttl};
	redisReply *r = store_script(g->store, STORE_CLAIM, 7, keys, 5, args, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		survey_clear(&s);
		return;
	}
	long long claimed = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	if (claimed == 1) {
		struct survey_out o;
		if (survey_start(c, &s, now, &o) == 0 && gw_commit(g, &m, c, &s, &o, m.ver, NULL, 1) == 1) {
			g->counters[GW_STARTED]++;
			log_debug("survey started survey=%s campaign=%s msisdn=%s", m.id, m.campaign, mask);
		}
		survey_out_clear(&o);
	} else if (claimed == 2) {
		gw_finish_early(g, &m, c, &s, SURVEY_SUPPRESSED, schedule_reason(SCHEDULE_OPTED_OUT));
	} else if (claimed == 3) {
		gw_finish_early(g, &m, c, &s, SURVEY_SUPPRESSED, schedule_reason(SCHEDULE_RESURVEY));
	}
	survey_clear(&s);
}

static void gw_queue_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char err[256];
	for (int i = 0; i < GW_PUMP_BATCH && !g->shutting_down; i++) {
		redisReply *r = store_cmd(g->store, err, sizeof err, "LMOVE hl:queue %s LEFT RIGHT", g->k_starting);
		if (!r) {
			g->counters[GW_REDIS_ERR]++;
			return;
		}
		if (r->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			return;
		}
		char id[RECORD_ID_MAX];
		snprintf(id, sizeof id, "%s", r->str);
		freeReplyObject(r);
		gw_start_one(g, id);
	}
	event_active(g->ev_queue, 0, 0); /* more may be waiting: yield to other events first */
}

/* ---- replies ---- */

/* A reply from a number with no survey running: HUY/STOP records the opt-out
 * and is confirmed; anything else gets the built-in answer. Either at most
 * once per day. The reply is never kept for a later survey. */
/* Returns gw_notice's result: < 0 when Redis could not take it (an opt-out
 * would be lost: the caller has the SMSC deliver the reply again). */
/* 1 when text is HUY/STOP (any case, any accents). */
static int gw_is_stop(const char *text)
{
	char *f = text_fold(text);
	int stop = f && reply_keyword(f) == REPLY_STOP;
	free(f);
	return stop;
}

static int gw_no_survey(struct gw *g, const char *msisdn, const char *text)
{
	int stop = gw_is_stop(text);
	const char *msg = gw_no_survey_text;
	if (stop) {
		const struct campaign *d = gw_campaign(g, "default", NULL);
		msg = d && d->msg.stopped ? d->msg.stopped : gw_stopped_text;
	}
	return gw_notice(g, msisdn, msg, stop ? "hl:orphan:stop:" : "hl:orphan:", stop);
}

/* What an MO means: an SMS trigger, a reply to the citizen's survey, or a
 * message from a number without one. Returns the status to answer it with:
 * 0 once its effect is stored, ESME_RX_T_APPN when it could not be. */
static uint32_t gw_mo(struct gw *g, struct esme *e, const char *from, const char *text)
{
	char msisdn[PHONE_MAX], mask[PHONE_MAX], why[128], err[256];
	g->counters[GW_MO]++;
	uint32_t status = SMPP_ESME_RX_T_APPN;
	if (gw_sms_trigger(g, from, text, &status))
		return status;
	if (phone_normalize(from, msisdn, why, sizeof why) < 0) {
		log_info("[%s] mo from=\"%.20s\" msg=\"not a mobile number, ignored\"", esme_name(e), from);
		return SMPP_ESME_ROK;
	}
	phone_mask(msisdn, mask);
	for (int attempt = 0; attempt < 5; attempt++) {
		/* the citizen's running survey and its record, in one round trip */
		char k_act[48], k_last[48];
		gw_key(k_act, sizeof k_act, "hl:active:", msisdn);
		gw_key(k_last, sizeof k_last, "hl:last:", msisdn);
		const char *ak[] = {k_act, k_last};
		redisReply *r = store_script(g->store, STORE_ACTIVE, 2, ak, 0, NULL, err, sizeof err);
		if (!r) {
			g->counters[GW_REDIS_ERR]++;
			break;
		}
		if (r->type == REDIS_REPLY_INTEGER && r->integer > 0 && gw_now() - r->integer < GW_RECENT_END &&
		    !gw_is_stop(text)) {
			/* their survey ended a moment ago: this is its last answer
			 * delivered again (a crash between its commit and its
			 * deliver_sm_resp) or a word after the thanks; the notice
			 * "no survey running" would only confuse them */
			freeReplyObject(r);
			g->counters[GW_MO_AFTER_END]++;
			log_info("[%s] mo msisdn=%s msg=\"survey ended recently, acknowledged\"", esme_name(e), mask);
			status = SMPP_ESME_ROK;
			break;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			g->counters[GW_MO_ORPHAN]++;
			log_info("[%s] mo msisdn=%s msg=\"no survey running\"", esme_name(e), mask);
			status = gw_no_survey(g, msisdn, text) < 0 ? SMPP_ESME_RX_T_APPN : SMPP_ESME_ROK;
			break;
		}
		char id[RECORD_ID_MAX];
		snprintf(id, sizeof id, "%s", r->element[0]->str);
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		int rc = gw_parse_survey(g, id, r->element[1], &m, &c, &s);
		freeReplyObject(r);
		if (rc == -ENOENT) {
			survey_clear(&s);
			continue; /* finished meanwhile: look again */
		}
		if (rc < 0) {
			gw_fail_broken(g, &m, c, &s, rc, msisdn);
			survey_clear(&s);
			status = SMPP_ESME_ROK;
			break;
		}
		if (s.status != SURVEY_ACTIVE || m.sq < s.q) {
			/* the item it would answer has not been accepted by the SMSC yet,
			 * so the citizen cannot have read it: this reply is a duplicate
			 * deliver_sm of the previous answer, or a message typed before
			 * the trigger, and answers nothing */
			g->counters[GW_MO_EARLY]++;
			log_info("[%s] mo msisdn=%s survey=%s item=%d msg=\"reply before the item reached the SMSC, ignored\"",
			         esme_name(e), mask, id, s.q);
			survey_clear(&s);
			status = SMPP_ESME_ROK;
			break;
		}
		struct survey_out o;
		rc = survey_feed(c, &s, text, gw_now(), &o);
		if (rc == 0)
			rc = gw_commit(g, &m, c, &s, &o, m.ver, NULL, 0);
		survey_out_clear(&o);
		survey_clear(&s);
		if (rc == 1) {
			status = SMPP_ESME_ROK;
			break;
		}
		if (rc < 0)
			break;
	}
	if (status != SMPP_ESME_ROK) {
		g->counters[GW_MO_RETRY]++;
		log_warn("[%s] mo msisdn=%s msg=\"cannot store now, SMSC will retry\"", esme_name(e), mask);
	}
	return status;
}

static void gw_on_mo(void *arg, struct esme *e, uint64_t token, const char *from, const char *text,
                     const struct smpp_sm *sm)
{
	(void)sm;
	esme_answer(e, token, gw_mo(arg, e, from, text));
}

/* One part of a concatenated MO. The parts are kept in Redis, not in this
 * process: when several gateways are bound to one SMSC, the parts of one
 * message may reach different gateways, and a part already answered must
 * survive a crash. Each part is answered once stored; the part that
 * completes the set is answered once the reply it makes is stored. A set
 * with no new part for GW_MOPART_AGE is dropped (logged, counted). */
#define GW_MOPART_TTL 7200  /* a set's key (safety net behind the sweep) */
#define GW_MOPART_AGE 3600  /* an incomplete set is dropped after this without a part */
#define GW_MOPART_DONE 600  /* a handled set is kept to recognise redelivered parts */
#define GW_MOPART_BUSY 60   /* a completed set is one caller's for at most this */

/* Decodes the parts {dc1, hex1, ..., dcN, hexN}: runs of parts with one
 * data_coding are joined before decoding (a GSM escape or a UTF-16 pair may
 * straddle two parts). Returns a malloc'd UTF-8 string or NULL. */
static char *gw_mo_join(const redisReply *r)
{
	size_t all = 0;
	for (size_t i = 1; i < r->elements; i += 2)
		all += r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->len / 2 : 0;
	uint8_t *bytes = malloc(all + 1);
	size_t cap = all * 3 + 4, used = 0;
	char *text = malloc(cap);
	if (!bytes || !text) {
		free(bytes);
		free(text);
		return NULL;
	}
	text[0] = '\0';
	size_t i = 0;
	while (i + 1 < r->elements) {
		const char *dc = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "0";
		size_t n = 0;
		for (; i + 1 < r->elements; i += 2) {
			const redisReply *d = r->element[i], *p = r->element[i + 1];
			if (d->type != REDIS_REPLY_STRING || strcmp(d->str, dc) != 0)
				break;
			size_t got = 0;
			if (p->type == REDIS_REPLY_STRING &&
			    sodium_hex2bin(bytes + n, all - n, p->str, p->len, NULL, &got, NULL) == 0)
				n += got;
		}
		int w = text_decode(atoi(dc), bytes, n, text + used, cap - used);
		if (w > 0)
			used += (size_t)w;
		text[used] = '\0';
		if (i + 1 < r->elements && r->element[i]->type != REDIS_REPLY_STRING)
			i += 2; /* a part without its coding: skipped */
	}
	free(bytes);
	return text;
}

static void gw_on_mo_part(void *arg, struct esme *e, uint64_t token, const struct smpp_sm *sm,
                          uint32_t ref, int total, int seq, const uint8_t *bytes, size_t n)
{
	struct gw *g = arg;
	char key[256], hsrc[2 * sizeof sm->src_addr + 1], hdst[2 * sizeof sm->dst_addr + 1];
	char sseq[12], stotal[12], sdc[8], sttl[12], snow[24], sbusy[12], err[256];
	char *hex = malloc(2 * n + 1);
	if (!hex) {
		esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return;
	}
	sodium_bin2hex(hex, 2 * n + 1, bytes, n);
	/* the addresses in hex: whatever the network sends, one key per set */
	sodium_bin2hex(hsrc, sizeof hsrc, (const unsigned char *)sm->src_addr, strlen(sm->src_addr));
	sodium_bin2hex(hdst, sizeof hdst, (const unsigned char *)sm->dst_addr, strlen(sm->dst_addr));
	snprintf(key, sizeof key, "hl:mo:%s:%s:%s:%u:%d", esme_name(e), hsrc, hdst, ref, total);
	snprintf(sseq, sizeof sseq, "%d", seq);
	snprintf(stotal, sizeof stotal, "%d", total);
	snprintf(sdc, sizeof sdc, "%u", sm->data_coding);
	snprintf(sttl, sizeof sttl, "%d", GW_MOPART_TTL);
	snprintf(snow, sizeof snow, "%" PRId64, gw_now());
	snprintf(sbusy, sizeof sbusy, "%d", GW_MOPART_BUSY);
	const char *keys[] = {key, "hl:mosets"};
	const char *args[] = {sseq, stotal, sdc, hex, sttl, snow, sbusy};
	redisReply *r = store_script(g->store, STORE_MOPART, 2, keys, 7, args, err, sizeof err);
	free(hex);
	char m[PHONE_MAX];
	phone_mask(sm->src_addr, m);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		g->counters[GW_MO_RETRY]++;
		log_warn("[%s] mo from=%s part=%d/%d msg=\"cannot store now, SMSC will retry\" err=\"%s\"",
		         esme_name(e), m, seq, total, err);
		esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		uint32_t st = SMPP_ESME_ROK;
		if (r->integer == -1) {
			st = SMPP_ESME_RX_T_APPN; /* its set is being handled right now */
			log_info("[%s] mo from=%s part=%d/%d msg=\"its message is being handled, SMSC will retry\"",
			         esme_name(e), m, seq, total);
		} else if (r->integer == -2) {
			log_info("[%s] mo from=%s part=%d/%d msg=\"part of a message already taken, ignored\"",
			         esme_name(e), m, seq, total);
		} else {
			log_debug("[%s] mo from=%s part=%d/%d have=%lld", esme_name(e), m, seq, total, r->integer);
		}
		freeReplyObject(r);
		esme_answer(e, token, st);
		return;
	}
	uint32_t status = SMPP_ESME_RX_T_APPN;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 * (size_t)total) {
		char *text = gw_mo_join(r);
		if (text) {
			log_info("[%s] mo from=%s parts=%d msg=\"concatenated message complete\"", esme_name(e), m, total);
			status = gw_mo(g, e, sm->src_addr, text);
			free(text);
		}
	}
	freeReplyObject(r);
	char sdone[12];
	snprintf(sdone, sizeof sdone, "%d", GW_MOPART_DONE);
	const char *eargs[] = {status == SMPP_ESME_ROK ? "1" : "0", sttl, sdone};
	r = store_script(g->store, STORE_MOEND, 2, keys, 3, eargs, err, sizeof err);
	if (r)
		freeReplyObject(r); /* else: done stays busy until GW_MOPART_BUSY, then redone */
	esme_answer(e, token, status);
}

/* Drops the concatenated MOs that never completed (a part lost by the SMSC). */
static void gw_mo_sweep(struct gw *g)
{
	char before[24], err[256];
	snprintf(before, sizeof before, "%" PRId64, gw_now() - GW_MOPART_AGE);
	const char *keys[] = {"hl:mosets"};
	const char *args[] = {before, "100"};
	redisReply *r = store_script(g->store, STORE_MOSWEEP, 1, keys, 2, args, err, sizeof err);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		g->counters[GW_MO_PARTS_EXPIRED]++;
		/* the key names the set; its addresses are hex, not shown */
		const char *k = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
		const char *tail = strrchr(k, ':');
		log_warn("mo_parts_expired parts=%lld total=%s msg=\"a long reply never completed within %d s, "
		         "dropped\"", r->element[i + 1]->integer, tail ? tail + 1 : "?", GW_MOPART_AGE);
	}
	if (r)
		freeReplyObject(r);
}

/* ---- timers ---- */

static void gw_due_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char now[24], lease[16], max[16], err[256];
	int64_t t = gw_now();
	snprintf(now, sizeof now, "%" PRId64, t);
	snprintf(lease, sizeof lease, "%d", GW_DUE_LEASE);
	snprintf(max, sizeof max, "%d", GW_PUMP_BATCH);
	/* held messages whose quiet hours ended go out */
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		char k_held[96], k_out[96];
		gw_key(k_held, sizeof k_held, "hl:held:", g->cfg->smsc[i].name);
		gw_key(k_out, sizeof k_out, "hl:outbox:", g->cfg->smsc[i].name);
		const char *hk[] = {k_held, k_out};
		const char *ha[] = {now, max};
		redisReply *h = store_script(g->store, STORE_HELD_RELEASE, 2, hk, 2, ha, err, sizeof err);
		if (!h) {
			g->counters[GW_REDIS_ERR]++;
			return;
		}
		if (h->type == REDIS_REPLY_INTEGER && h->integer > 0) {
			log_info("[%s] quiet hours over released=%lld", g->cfg->smsc[i].name, h->integer);
			event_active(g->ev_outbox, 0, 0);
		}
		freeReplyObject(h);
	}
	const char *keys[] = {"hl:due"};
	const char *args[] = {now, lease, max};
	redisReply *r = store_script(g->store, STORE_DUE_CLAIM, 1, keys, 3, args, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *id = r->element[i]->str;
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		int rc = gw_load(g, id, &m, &c, &s);
		if (rc == 0 && s.status == SURVEY_QUEUED) {
			/* a start held by quiet hours: back in the queue */
			const char *wk[] = {"hl:due", "hl:queue"};
			const char *wa[] = {id};
			redisReply *w = store_script(g->store, STORE_WAKE, 2, wk, 1, wa, err, sizeof err);
			if (w)
				freeReplyObject(w);
			event_active(g->ev_queue, 0, 0);
		} else if (rc == 0) {
			struct survey_out o;
			if (survey_tick(c, &s, t, &o) == 0)
				gw_commit(g, &m, c, &s, &o, m.ver, NULL, 0);
			survey_out_clear(&o);
		} else if (rc == -ENOENT) {
			redisReply *z = store_cmd(g->store, err, sizeof err, "ZREM hl:due %s", id);
			if (z)
				freeReplyObject(z);
		} else if (rc == -ESRCH || rc == -EINVAL) {
			gw_fail_broken(g, &m, c, &s, rc, NULL);
		}
		survey_clear(&s);
	}
	freeReplyObject(r);
}

/* ---- sending ---- */

static void gw_item_failed(struct gw *g, const char *id, int q, int first, const char *reason);

/* Hands one outbox entry (taken into our sending list) to SMSC i's session.
 * 0, -EAGAIN (no room: the caller puts it back), or another error (the entry
 * cannot be sent: the caller drops it). */
static int gw_submit_entry(struct gw *g, int i, const char *entry)
{
	json_error_t je;
	json_t *o = json_loads(entry, 0, &je);
	const char *to = json_string_value(json_object_get(o, "to"));
	const char *text = json_string_value(json_object_get(o, "text"));
	const char *sid = json_string_value(json_object_get(o, "s"));
	int first = json_is_true(json_object_get(o, "first"));
	json_t *jq = json_object_get(o, "q");
	json_int_t enc = json_integer_value(json_object_get(o, "enc"));
	struct gw_inflight *f = calloc(1, sizeof *f);
	int rc = -EINVAL;
	if (f && to && text && (f->json = strdup(entry)) != NULL) {
		struct esme_msg msg = {.tag = ++g->next_tag, .dst = to, .text = text,
		                       .enc = (enum text_encoding)enc, .ussd_op = -1};
		f->tag = msg.tag;
		f->hash = gw_hash64(entry);
		f->smsc = i;
		f->q = json_is_integer(jq) ? (int)json_integer_value(jq) : -1;
		f->first = first;
		if (sid && f->q >= 0)
			snprintf(f->survey, sizeof f->survey, "%s", sid);
		rc = esme_submit(g->esme[i], &msg);
	}
	if (!f || (to && text && !f->json))
		rc = -ENOMEM; /* this process, not the message: try again */
	if (rc == 0) {
		f->next = g->inflight;
		g->inflight = f;
	} else if (f) {
		free(f->json);
		free(f);
	}
	if (rc != 0 && rc != -EAGAIN && rc != -ENOMEM && sid && json_is_integer(jq) && json_integer_value(jq) >= 0)
		gw_item_failed(g, sid, (int)json_integer_value(jq), first, "text cannot be sent");
	json_decref(o);
	return rc;
}

/* 1 when this entry is one our sessions hold (in flight) or sent and still
 * to be removed from our list. */
static int gw_in_hand(const struct gw *g, int smsc, const char *entry)
{
	uint64_t h = gw_hash64(entry);
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		if (f->hash == h && f->smsc == smsc && strcmp(f->json, entry) == 0)
			return 1;
	for (const struct gw_inflight *f = g->removals; f; f = f->next)
		if (f->hash == h && f->smsc == smsc && strcmp(f->json, entry) == 0)
			return 1;
	return 0;
}

static void gw_lease_cb(evutil_socket_t fd, short what, void *arg);

static void gw_outbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char err[256], k_send[160];
	/* Redis came back since our last lease renewal: renew (and see whether
	 * the lease ran out, then take back our work) before sending anything */
	if (g->registered && store_connects(g->store) != g->lease_conn)
		gw_lease_cb(-1, 0, g);
	for (int i = 0; i < g->nesme; i++) {
		const char *name = g->cfg->smsc[i].name;
		gw_sending_key(g, i, k_send, sizeof k_send);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < g->send_after[i].tv_sec ||
		    (now.tv_sec == g->send_after[i].tv_sec && now.tv_nsec < g->send_after[i].tv_nsec))
			continue; /* just (re)bound: the 100 ms tick comes back */
		char k_out[96];
		snprintf(k_out, sizeof k_out, "hl:outbox:%s", name);
		int more = 1;
		while (more && esme_capacity(g->esme[i]) > 0) {
			/* as many messages as the bind takes now, in one round trip:
			 * capacity counts parts, so divided by the parts a message had
			 * lately */
			int cap = esme_capacity(g->esme[i]);
			int want = (int)(cap / g->parts_avg[i]);
			want = want < 1 ? 1 : want > GW_TAKE_MAX ? GW_TAKE_MAX : want;
			char smax[12];
			snprintf(smax, sizeof smax, "%d", want);
			const char *tk[] = {k_out, k_send};
			const char *ta[] = {smax};
			redisReply *r = store_script(g->store, STORE_TAKE, 2, tk, 1, ta, err, sizeof err);
			if (!r) {
				g->counters[GW_REDIS_ERR]++;
				return;
			}
			size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 3 : 0;
			more = n == (size_t)want;
			/* TAKE itself may have re-made the connection: the lease first
			 * (was it lost? then what peers left is ours to take back) */
			int renew = g->registered && store_connects(g->store) != g->lease_conn;
			size_t k = 0;
			for (; k < n && !renew; k++) {
				redisReply *flag = r->element[3 * k], *ent = r->element[3 * k + 1];
				if (ent->type != REDIS_REPLY_STRING)
					continue;
				if (flag->type == REDIS_REPLY_INTEGER && flag->integer == 0) {
					/* an item its survey has moved past: a copy re-sent
					 * after a crash would only confuse the citizen */
					g->counters[GW_MT_STALE]++;
					log_info("[%s] outbox msg=\"stale item not sent again\"", name);
					continue;
				}
				if (gw_in_hand(g, i, ent->str)) {
					/* our own message, back in the outbox by a peer's REAP
					 * (our lease ran out): it is in flight or sent already,
					 * and its one copy is in our list again */
					log_warn("[%s] outbox msg=\"a message this gateway holds came back: not sent twice\"",
					         name);
					continue;
				}
				int before = esme_capacity(g->esme[i]);
				int rc = gw_submit_entry(g, i, ent->str);
				if (rc == 0) {
					int used = before - esme_capacity(g->esme[i]);
					g->parts_avg[i] = 0.8 * g->parts_avg[i] + 0.2 * (used < 1 ? 1 : used);
					continue;
				}
				if (rc == -EAGAIN || rc == -ENOMEM)
					break; /* no room (or memory) after all: this one and the rest go back */
				log_error("[%s] outbox entry not sendable rc=%d msg=\"dropped\"", name, rc);
				redisReply *x = store_cmd(g->store, err, sizeof err, "LREM %s 1 %s", k_send, ent->str);
				if (x)
					freeReplyObject(x);
			}
			if (k < n) {
				/* back to the head of the outbox, in order, with their
				 * survey's "sq" as it was: they did not leave */
				struct record_strv a = {0};
				int bad = 0;
				for (size_t j = k; j < n; j++) {
					redisReply *flag = r->element[3 * j], *ent = r->element[3 * j + 1];
					redisReply *prev = r->element[3 * j + 2];
					if (ent->type != REDIS_REPLY_STRING ||
					    (flag->type == REDIS_REPLY_INTEGER && flag->integer == 0) || gw_in_hand(g, i, ent->str))
						continue;
					bad |= record_strv_add(&a, ent->str) ||
					       record_strv_add(&a, prev->type == REDIS_REPLY_STRING ? prev->str : "");
				}
				const char *pk[] = {k_send, k_out};
				redisReply *x = !bad && a.n ? store_script(g->store, STORE_PUTBACK, 2, pk, a.n, (const char **)a.v,
				                                           err, sizeof err)
				                            : NULL;
				if (x)
					freeReplyObject(x);
				else if (a.n)
					log_warn("[%s] outbox msg=\"could not put messages back, the sweep will\" err=\"%s\"", name,
					         err);
				record_strv_free(&a);
				more = renew;
			}
			freeReplyObject(r);
			if (renew) {
				gw_lease_cb(-1, 0, g);
				if (store_connects(g->store) != g->lease_conn)
					return; /* Redis is away again */
			}
		}
	}
}

/* An item of a survey could not be delivered (a permanent SMPP status, or a
 * temporary one after its retries): the citizen cannot answer it, so the
 * survey is archived as failed with the status as the reason and the answers
 * given so far, if it still waits for that item (and, for the first item,
 * nothing was answered). */
static void gw_item_failed(struct gw *g, const char *id, int q, int first, const char *reason)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		int rc = gw_load(g, id, &m, &c, &s);
		int untouched = rc == 0 && s.status == SURVEY_ACTIVE && s.q == q;
		for (int i = 0; first && untouched && c && i < c->nquestions; i++)
			untouched = s.answers[i].state == 0;
		if (untouched)
			rc = gw_finish_early(g, &m, c, &s, SURVEY_FAILED, reason);
		survey_clear(&s);
		if (!untouched || rc != 0)
			return;
	}
}

static void gw_unkept_add(struct gw *g, const char *key, const char *val)
{
	struct gw_unkept *k = calloc(1, sizeof *k);
	if (!k || !(k->key = strdup(key)) || !(k->val = strdup(val))) {
		if (k)
			free(k->key);
		free(k);
		return;
	}
	k->next = g->unkept;
	g->unkept = k;
}

static void gw_unkept_free(struct gw_unkept *k)
{
	free(k->key);
	free(k->val);
	free(k);
}

/* 1 when a record for this key still waits to be written. */
static int gw_unkept_has(const struct gw *g, const char *key)
{
	for (const struct gw_unkept *k = g->unkept; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			return 1;
	return 0;
}

static void gw_on_sent(void *arg, struct esme *e, uint64_t tag, uint32_t status, const char *msgid)
{
	struct gw *g = arg;
	struct gw_inflight **pp = &g->inflight;
	while (*pp && (*pp)->tag != tag)
		pp = &(*pp)->next;
	struct gw_inflight *f = *pp;
	if (!f)
		return;
	*pp = f->next;
	char err[256], k_send[160], k_msg[192] = "";
	char *v = NULL;
	gw_sending_key(g, f->smsc, k_send, sizeof k_send);
	if (status == SMPP_ESME_ROK && msgid && *msgid) {
		/* remembered until its receipt comes (or for three days) */
		snprintf(k_msg, sizeof k_msg, "hl:msg:%s:%s", g->cfg->smsc[f->smsc].name, msgid);
		json_t *o = json_pack("{s:s,s:i,s:I}", "s", f->survey, "q", f->q, "t", (json_int_t)gw_now());
		v = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	const char *keys[] = {k_send, k_msg[0] ? k_msg : "hl:msg:none"};
	const char *args[] = {f->json, v ? v : "", "259200"};
	redisReply *r = store_script(g->store, STORE_SENT, 2, keys, 3, args, err, sizeof err);
	if (r) {
		freeReplyObject(r);
	} else {
		g->counters[GW_REDIS_ERR]++;
		/* done with, but still listed: remove it when Redis is back, so
		 * that it is never taken for a message to send again */
		struct gw_inflight *d = calloc(1, sizeof *d);
		if (d && (d->json = strdup(f->json)) != NULL) {
			d->smsc = f->smsc;
			d->hash = f->hash;
			d->next = g->removals;
			g->removals = d;
		} else {
			free(d);
		}
		/* the record kept in memory until Redis is back (gw_sweep_sending),
		 * so that its receipt still finds the survey */
		if (v)
			gw_unkept_add(g, k_msg, v);
	}
	free(v);
	if (status == SMPP_ESME_ROK) {
		g->counters[GW_MT_SENT]++;
		log_debug("[%s] sent msgid=%s", esme_name(e), msgid ? msgid : "");
	} else {
		const char *why = status == ESME_STATUS_TIMEOUT ? "timeout" : smpp_status_name(status);
		g->counters[GW_MT_FAILED]++;
		log_warn("[%s] send failed status=%s survey=%s item=%d first=%d", esme_name(e), why, f->survey, f->q,
		         f->first);
		if (f->survey[0])
			gw_item_failed(g, f->survey, f->q, f->first, why);
	}
	free(f->json);
	free(f);
}

/* Names of the delivery states, as the archive writes them. */
static const char *const gw_dlr_names[ESME_DLR_REJECTED + 1] = {
	[ESME_DLR_ENROUTE] = "enroute", [ESME_DLR_DELIVERED] = "delivered", [ESME_DLR_EXPIRED] = "expired",
	[ESME_DLR_DELETED] = "deleted", [ESME_DLR_UNDELIVERABLE] = "undeliverable",
	[ESME_DLR_ACCEPTED] = "accepted", [ESME_DLR_UNKNOWN] = "unknown", [ESME_DLR_REJECTED] = "rejected",
};

static int gw_esme_index(const struct gw *g, const struct esme *e)
{
	for (int i = 0; i < g->nesme; i++)
		if (g->esme[i] == e)
			return i;
	return -1;
}

/* A final receipt: the message's state goes to the archive (deliveries), once
 * per message, and is counted. ENROUTE is not final and changes nothing. */
static uint32_t gw_on_receipt(void *arg, struct esme *e, const char *msgid, enum esme_dlr state)
{
	struct gw *g = arg;
	int i = gw_esme_index(g, e);
	if (i < 0 || state <= ESME_DLR_ENROUTE || state > ESME_DLR_REJECTED || !msgid || !*msgid)
		return SMPP_ESME_ROK;
	char key[192], now[24], err[256];
	snprintf(key, sizeof key, "hl:msg:%s:%s", g->cfg->smsc[i].name, msgid);
	/* a long message gets a receipt per part, all under its id: after the
	 * first, the others need no round trip (a collision in this small cache
	 * only costs one, the script itself records a message once) */
	uint64_t h = gw_hash64(key) | 1;
	uint64_t *slot = &g->dlr_seen[h % (sizeof g->dlr_seen / sizeof g->dlr_seen[0])];
	if (*slot == h)
		return SMPP_ESME_ROK;
	snprintf(now, sizeof now, "%" PRId64, gw_now());
	const char *keys[] = {key, "hl:deliveries"};
	const char *args[] = {g->cfg->smsc[i].name, msgid, gw_dlr_names[state], now};
	redisReply *r = store_script(g->store, STORE_DLR, 2, keys, 4, args, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		return SMPP_ESME_RX_T_APPN; /* not stored: the SMSC sends it again */
	}
	uint32_t status = SMPP_ESME_ROK;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		g->receipts[state]++;
		*slot = h; /* recorded: the receipts of its other parts need nothing */
	} else if (gw_unkept_has(g, key)) {
		status = SMPP_ESME_RX_T_APPN; /* its record is not in Redis yet: again later */
	}
	freeReplyObject(r);
	return status;
}

static void gw_on_ready(void *arg, struct esme *e)
{
	struct gw *g = arg;
	(void)e;
	event_active(g->ev_outbox, 0, 0);
}

/* After a (re)bind the SMSC first delivers again the replies we could not
 * answer before the link went (a crash, a drop): they must meet the item they
 * answered, not the next one. So no message leaves for GW_REBIND_GRACE_MS
 * after a bind; a redelivered answer then finds the next item not sent yet
 * and changes nothing (see gw_on_mo), and the citizen's real reply still can. */
#define GW_REBIND_GRACE_MS 1500

static void gw_on_state(void *arg, struct esme *e, int bound)
{
	struct gw *g = arg;
	for (int i = 0; i < g->nesme; i++) {
		if (g->esme[i] != e)
			continue;
		g->bound[i] = bound;
		if (bound) {
			clock_gettime(CLOCK_MONOTONIC, &g->send_after[i]);
			g->send_after[i].tv_nsec += (long)GW_REBIND_GRACE_MS % 1000 * 1000000L;
			g->send_after[i].tv_sec += GW_REBIND_GRACE_MS / 1000 + g->send_after[i].tv_nsec / 1000000000L;
			g->send_after[i].tv_nsec %= 1000000000L;
		}
	}
	if (bound)
		event_active(g->ev_outbox, 0, 0);
}

static const struct esme_cbs gw_esme_cbs = {
	.on_mo = gw_on_mo,
	.on_mo_part = gw_on_mo_part,
	.on_receipt = gw_on_receipt,
	.on_sent = gw_on_sent,
	.on_ready = gw_on_ready,
	.on_state = gw_on_state,
};

/* ---- archiving ---- */

/* The next batch for the archive: what our list `taking` still holds (left
 * by a failed write) or up to GW_ARCHIVE_BATCH records moved there from
 * `from`. NULL when Redis cannot be reached. */
static redisReply *gw_archive_take(struct gw *g, const char *from, const char *taking)
{
	char max[16], err[256];
	snprintf(max, sizeof max, "%d", GW_ARCHIVE_BATCH);
	const char *keys[] = {from, taking};
	const char *args[] = {max};
	redisReply *r = store_script(g->store, STORE_ARCHIVE_TAKE, 2, keys, 1, args, err, sizeof err);
	if (!r)
		g->counters[GW_REDIS_ERR]++;
	return r;
}

/* Delivery records (hl:deliveries) to the archive, like surveys: taken into
 * our own list, written, then dropped. */
static void gw_archive_deliveries(struct gw *g)
{
	char err[256];
	redisReply *r = gw_archive_take(g, "hl:deliveries", g->k_dtaking);
	if (!r)
		return;
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
	struct archive_delivery *d = n ? calloc(n, sizeof *d) : NULL;
	json_t **held = n ? calloc(n, sizeof *held) : NULL;
	int good = 0;
	for (size_t i = 0; d && held && i < n; i++) {
		json_error_t je;
		json_t *o = json_loads(r->element[i]->str, 0, &je);
		struct archive_delivery *x = &d[good];
		x->smsc = json_string_value(json_object_get(o, "smsc"));
		x->message_id = json_string_value(json_object_get(o, "m"));
		x->state = json_string_value(json_object_get(o, "st"));
		x->survey_id = json_string_value(json_object_get(o, "s"));
		if (x->survey_id && !*x->survey_id)
			x->survey_id = NULL;
		json_t *q = json_object_get(o, "q");
		x->item = json_is_integer(q) ? (int)json_integer_value(q) : -1;
		x->submitted_at = json_integer_value(json_object_get(o, "t"));
		x->state_at = json_integer_value(json_object_get(o, "at"));
		if (!x->smsc || !x->message_id || !x->state) {
			log_error("archive msg=\"unreadable delivery record dropped\"");
			json_decref(o);
			continue;
		}
		held[good++] = o;
	}
	int put = n ? archive_put_deliveries(g->archive, d, good, err, sizeof err) : 0;
	if (put >= 0 && n) {
		redisReply *x = store_cmd(g->store, err, sizeof err, "DEL %s", g->k_dtaking);
		if (x)
			freeReplyObject(x);
	} else if (put < 0) {
		log_error("archive msg=\"cannot write deliveries, will retry\" err=\"%s\"", err);
	}
	for (int i = 0; i < good; i++)
		json_decref(held[i]);
	free(d);
	free(held);
	freeReplyObject(r);
}

static void gw_archive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	gw_archive_deliveries(g); /* on their own: they go on after the last survey */
	char err[256];
	redisReply *r = gw_archive_take(g, "hl:archive", g->k_archiving);
	if (!r)
		return;
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
	if (n == 0) {
		freeReplyObject(r);
		return;
	}
	struct archive_survey *s = calloc(n, sizeof *s);
	json_t **holders = calloc(n, sizeof *holders);
	int good = 0;
	for (size_t i = 0; s && holders && i < n; i++) {
		if (record_archive_parse(r->element[i]->str, &holders[good], &s[good]) == 0) {
			good++;
		} else {
			log_error("archive msg=\"unreadable record kept in hl:archive:bad\"");
			redisReply *x = store_cmd(g->store, err, sizeof err, "RPUSH hl:archive:bad %s", r->element[i]->str);
			if (x)
				freeReplyObject(x);
			free((void *)s[good].answers);
			json_decref(holders[good]);
			holders[good] = NULL;
		}
	}
	int put = archive_put(g->archive, s, good, err, sizeof err);
	if (put >= 0) {
		g->counters[GW_ARCHIVED] += (uint64_t)put;
		redisReply *x = store_cmd(g->store, err, sizeof err, "DEL %s", g->k_archiving);
		if (x)
			freeReplyObject(x);
		else
			g->counters[GW_REDIS_ERR]++;
	} else {
		log_error("archive msg=\"cannot write, will retry\" err=\"%s\"", err);
	}
	for (int i = 0; i < good; i++) {
		free((void *)s[i].answers);
		json_decref(holders[i]);
	}
	free(s);
	free(holders);
	freeReplyObject(r);
	if (put >= 0 && (size_t)good == (size_t)GW_ARCHIVE_BATCH)
		event_active(g->ev_archive, 0, 0);
}

/* ---- life cycle ---- */

/* Put the lists of instance `inst` back in line (its starting ids to the
 * queue, its sending messages to the outboxes, its archiving records to the
 * archive) if its lease ran out, or always with force (our own stop).
 * Returns the entries moved, -1 when that instance is alive, -EIO. */
static long long gw_reap(struct gw *g, const char *inst, int force)
{
	char lease[48], starting[48], archiving[48], err[256];
	char pairs[CONFIG_MAX_SMSC][2][160];
	const char *keys[8 + 2 * CONFIG_MAX_SMSC];
	snprintf(lease, sizeof lease, "hl:inst:%s", inst);
	snprintf(starting, sizeof starting, "hl:starting:%s", inst);
	snprintf(archiving, sizeof archiving, "hl:archiving:%s", inst);
	int nk = 0;
	keys[nk++] = lease;
	keys[nk++] = "hl:instances";
	keys[nk++] = starting;
	keys[nk++] = "hl:queue";
	keys[nk++] = archiving;
	keys[nk++] = "hl:archive";
	char dtaking[64];
	snprintf(dtaking, sizeof dtaking, "hl:deliveries:taking:%s", inst);
	keys[nk++] = dtaking;
	keys[nk++] = "hl:deliveries";
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		snprintf(pairs[i][0], sizeof pairs[i][0], "hl:sending:%s:%s", g->cfg->smsc[i].name, inst);
		snprintf(pairs[i][1], sizeof pairs[i][1], "hl:outbox:%s", g->cfg->smsc[i].name);
		keys[nk++] = pairs[i][0];
		keys[nk++] = pairs[i][1];
	}
	const char *args[] = {inst, force ? "1" : "0"};
	redisReply *r = store_script(g->store, STORE_REAP, nk, keys, 2, args, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (n > 0)
		log_info("recover instance=%s requeued=%lld%s", inst, n, force ? " (own stop)" : " (lease expired)");
	return n;
}

/* Keeps this gateway's lease alive and puts back in line what gateways whose
 * lease ran out (crashed, killed) left in their lists. Several hailongd may
 * share one Redis: a live peer's lists are never touched. */
/* Our sending lists should hold exactly the messages the SMPP sessions have
 * in hand. One that is there but in no session (a hand-over that failed half
 * way: the outbox entry moved, then Redis went away before it could be put
 * back) would wait for the next restart; it goes back to the outbox now. */
static void gw_sweep_sending(struct gw *g)
{
	char k_send[160], k_out[96], err[256];
	/* first what could not be written while Redis was away */
	for (struct gw_unkept **kp = &g->unkept; *kp;) {
		struct gw_unkept *k = *kp;
		redisReply *r = store_cmd(g->store, err, sizeof err, "SET %s %s EX 259200", k->key, k->val);
		if (!r)
			return;
		freeReplyObject(r);
		*kp = k->next;
		gw_unkept_free(k);
	}
	for (struct gw_inflight **pp = &g->removals; *pp;) {
		struct gw_inflight *d = *pp;
		gw_sending_key(g, d->smsc, k_send, sizeof k_send);
		redisReply *r = store_cmd(g->store, err, sizeof err, "LREM %s 1 %s", k_send, d->json);
		if (!r)
			return; /* still away: try again at the next tick */
		freeReplyObject(r);
		*pp = d->next;
		free(d->json);
		free(d);
	}
	for (int i = 0; i < g->nesme; i++) {
		gw_sending_key(g, i, k_send, sizeof k_send);
		snprintf(k_out, sizeof k_out, "hl:outbox:%s", g->cfg->smsc[i].name);
		redisReply *r = store_cmd(g->store, err, sizeof err, "LRANGE %s 0 -1", k_send);
		if (!r)
			return;
		for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
			const char *v = r->element[k]->str;
			/* as many copies in the list as in flight: the surplus is lost */
			int listed = 0, held = 0;
			for (size_t j = 0; j < r->elements; j++)
				listed += strcmp(r->element[j]->str, v) == 0;
			for (struct gw_inflight *f = g->inflight; f; f = f->next)
				held += f->smsc == i && strcmp(f->json, v) == 0;
			int first = 1;
			for (size_t j = 0; j < k; j++)
				first &= strcmp(r->element[j]->str, v) != 0;
			for (int n = held; first && n < listed; n++) {
				const char *keys[] = {k_send, k_out};
				const char *args[] = {v};
				redisReply *x = store_script(g->store, STORE_GIVEBACK, 2, keys, 1, args, err, sizeof err);
				if (x) {
					log_warn("[%s] sending entry held by no session: back to the outbox", g->cfg->smsc[i].name);
					freeReplyObject(x);
				}
			}
		}
		freeReplyObject(r);
		event_active(g->ev_outbox, 0, 0);
	}
}

/* Our lease ran out while Redis was away. A peer cut off from Redis for less
 * time than us waits before it reaps (below), so usually nobody took our
 * lists; but when only we were cut off, a peer may have put the messages our
 * sessions still hold back in the outboxes. Take back what is still there; a
 * message a peer has taken meanwhile may go out twice (counted). */
static int gw_reclaim(struct gw *g)
{
	char k_send[160], k_out[96], err[256];
	long kept = 0, taken = 0;
	for (struct gw_inflight *f = g->inflight; f; f = f->next) {
		gw_sending_key(g, f->smsc, k_send, sizeof k_send);
		snprintf(k_out, sizeof k_out, "hl:outbox:%s", g->cfg->smsc[f->smsc].name);
		const char *keys[] = {k_send, k_out};
		const char *args[] = {f->json};
		redisReply *r = store_script(g->store, STORE_RECLAIM, 2, keys, 1, args, err, sizeof err);
		if (!r)
			return -EIO;
		if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
			kept++;
		else
			taken++;
		freeReplyObject(r);
	}
	/* sent already, their removal from our list still pending: a copy a
	 * peer put back in the outbox must not go out again */
	for (struct gw_inflight *d = g->removals; d; d = d->next) {
		snprintf(k_out, sizeof k_out, "hl:outbox:%s", g->cfg->smsc[d->smsc].name);
		redisReply *r = store_cmd(g->store, err, sizeof err, "LREM %s 1 %s", k_out, d->json);
		if (!r)
			return -EIO;
		freeReplyObject(r);
	}
	g->counters[GW_LEASE_TAKEN] += (uint64_t)taken;
	if (taken)
		log_warn("lease instance=%s in_hand=%ld taken_by_peers=%ld msg=\"a peer took over messages our "
		         "sessions still hold: they may go out twice\"", g->inst, kept + taken, taken);
	return 0;
}

static double gw_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void gw_lease_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char err[256];
	/* GET: the old value, to see whether the lease ran out meanwhile */
	redisReply *r = store_cmd(g->store, err, sizeof err, "SET %s %d:%" PRIu64 " EX %d GET", g->k_lease,
	                          (int)getpid(), ++g->renewals, g->cfg->lease_s);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	double now = gw_mono();
	int lost = g->registered && r->type == REDIS_REPLY_NIL;
	freeReplyObject(r);
	/* A peer's lease is judged only after ours has been renewed without a
	 * gap for a whole lease: when Redis itself was away (restarted, or
	 * unreachable for everyone), or this process stood still, every lease
	 * may have run out together, and the live peers must have had the time
	 * to renew theirs before they look dead. A single failed renewal is no
	 * gap; a lease found gone, or no renewal for nearly a lease, is. */
	if (g->redis_since == 0 || lost || now - g->last_renew >= g->cfg->lease_s - 2)
		g->redis_since = now;
	g->last_renew = now;
	g->lease_conn = store_connects(g->store);
	if (lost) {
		g->counters[GW_LEASE_LOST]++;
		log_warn("lease instance=%s msg=\"ran out while redis was away; peers judged again after %d s\"",
		         g->inst, g->cfg->lease_s);
		g->reclaim_pending = 1;
	}
	if (g->reclaim_pending && gw_reclaim(g) == 0)
		g->reclaim_pending = 0;
	r = store_cmd(g->store, err, sizeof err, "SADD hl:instances %s", g->inst);
	if (r)
		freeReplyObject(r);
	g->registered = 1;
	int judge = now - g->redis_since >= g->cfg->lease_s;
	r = judge ? store_cmd(g->store, err, sizeof err, "SMEMBERS hl:instances") : NULL;
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *other = r->element[i]->str;
		if (strcmp(other, g->inst) == 0 || strlen(other) > 32)
			continue;
		if (gw_reap(g, other, 0) > 0) {
			event_active(g->ev_queue, 0, 0);
			event_active(g->ev_outbox, 0, 0);
			event_active(g->ev_archive, 0, 0);
		}
	}
	if (r)
		freeReplyObject(r);
	gw_retire_campaigns(g, gw_now());
	gw_mo_sweep(g);
	gw_sweep_sending(g);
	/* starts run to the end inside one callback, so anything still in our
	 * starting list now was left by a failure half-way: back in the queue */
	const char *sk[] = {g->k_starting, "hl:queue"};
	r = store_script(g->store, STORE_REQUEUE, 2, sk, 0, NULL, err, sizeof err);
	if (r) {
		if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
			log_warn("recover requeued=%lld what=starting msg=\"left by a failure half-way\"", r->integer);
			event_active(g->ev_queue, 0, 0);
		}
		freeReplyObject(r);
	}
}

/* At start, our instance id may still hold a lease: either our own
 * predecessor crashed less than redis.lease ago (take its lists back now), or
 * another hailongd with the same host and http.listen is running (its lease
 * value changes as it renews: refuse to start). Returns 0 or -EEXIST. */
static int gw_take_over(struct gw *g, char *err, size_t errlen)
{
	char e[256], first[64] = "";
	redisReply *r = store_cmd(g->store, e, sizeof e, "GET %s", g->k_lease);
	if (!r || r->type != REDIS_REPLY_STRING) {
		if (r)
			freeReplyObject(r);
		return 0; /* no lease (or no Redis yet: the lease cb catches up) */
	}
	snprintf(first, sizeof first, "%s", r->str);
	freeReplyObject(r);
	log_info("recover instance=%s msg=\"lease found: waiting to see whether it is alive\"", g->inst);
	for (int i = 0; i < 18; i++) { /* 4.5 s: more than two renewals of a live one */
		struct timespec ts = {0, 250000000};
		nanosleep(&ts, NULL);
		r = store_cmd(g->store, e, sizeof e, "GET %s", g->k_lease);
		int changed = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, first) != 0;
		int gone = r && r->type != REDIS_REPLY_STRING;
		if (r)
			freeReplyObject(r);
		if (changed) {
			snprintf(err, errlen, "another hailongd with http.listen %s runs on this host with the same Redis",
			         g->cfg->http_listen);
			return -EEXIST;
		}
		if (gone)
			break;
	}
	gw_reap(g, g->inst, 1);
	return 0;
}

/* At start: the lists of the single-process layout (before per-instance
 * lists) go back in line; then the lease. */
static void gw_recover(struct gw *g)
{
	char err[256], from[96], to[96];
	const char *keys[2];
	keys[0] = "hl:starting";
	keys[1] = "hl:queue";
	redisReply *r = store_script(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
	if (r)
		freeReplyObject(r);
	else
		log_warn("recover err=\"%s\" msg=\"will retry when redis is back\"", err);
	keys[0] = "hl:archiving";
	keys[1] = "hl:archive";
	r = store_script(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
	if (r)
		freeReplyObject(r);
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		snprintf(from, sizeof from, "hl:sending:%s", g->cfg->smsc[i].name);
		snprintf(to, sizeof to, "hl:outbox:%s", g->cfg->smsc[i].name);
		keys[0] = from;
		keys[1] = to;
		r = store_script(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
		if (r)
			freeReplyObject(r);
	}
	gw_lease_cb(-1, 0, g);
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
	snprintf(g->k_starting, sizeof g->k_starting, "hl:starting:%s", g->inst);
	snprintf(g->k_archiving, sizeof g->k_archiving, "hl:archiving:%s", g->inst);
	snprintf(g->k_dtaking, sizeof g->k_dtaking, "hl:deliveries:taking:%s", g->inst);
	snprintf(g->k_lease, sizeof g->k_lease, "hl:inst:%s", g->inst);
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
	struct timeval tick = {0, 100000}, sec = {1, 0}, arch = {0, 200000}, lease = {2, 0};
	g->ev_queue = event_new(base, -1, EV_PERSIST, gw_queue_cb, g);
	g->ev_outbox = event_new(base, -1, EV_PERSIST, gw_outbox_cb, g);
	g->ev_due = event_new(base, -1, EV_PERSIST, gw_due_cb, g);
	g->ev_archive = event_new(base, -1, EV_PERSIST, gw_archive_cb, g);
	g->ev_lease = event_new(base, -1, EV_PERSIST, gw_lease_cb, g);
	if (!g->ev_queue || !g->ev_outbox || !g->ev_due || !g->ev_archive || !g->ev_lease) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	event_add(g->ev_queue, &sec);
	event_add(g->ev_outbox, &tick);
	event_add(g->ev_due, &sec);
	event_add(g->ev_archive, &arch);
	event_add(g->ev_lease, &lease);
	if (gw_take_over(g, err, errlen) < 0)
		goto fail;
	gw_recover(g);
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
	if ((rc = gw_load_campaigns(g, 1, err, errlen)) < 0 || (rc = gw_hash_key(g, err, errlen)) < 0)
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
	for (int i = 0; i < g->nesme; i++)
		esme_free(g->esme[i]);
	/* what we hold and did not finish (unconfirmed messages, surveys being
	 * started, records not yet in SQLite) goes back in line for whoever runs next */
	if (g->registered && g->store)
		gw_reap(g, g->inst, 1);
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
	gw_archive_cb(-1, 0, g); /* what finished last goes to SQLite now */
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
	for (int i = 0; i < g->nesme; i++)
		esme_shutdown(g->esme[i], 5000, gw_esme_done, g);
	gw_esme_done(g);
}

int gw_ready(struct gw *g, char *why, size_t whylen)
{
	if (!store_ping(g->store)) {
		snprintf(why, whylen, "redis not reachable");
		return 0;
	}
	for (int i = 0; i < g->nesme; i++)
		if (esme_bound(g->esme[i]))
			return 1;
	snprintf(why, whylen, "no SMSC bound");
	return 0;
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

char *gw_metrics(struct gw *g)
{
	size_t cap = 16384, n = 0;
	char *b = malloc(cap);
	if (!b)
		return NULL;
	b[0] = '\0';
	for (int i = 0; i < GW_NCOUNTERS; i++)
		gw_put(b, cap, &n, "%s %" PRIu64 "\n", gw_counter_names[i], g->counters[i]);
	for (int st = SURVEY_COMPLETED; st <= SURVEY_SUPPRESSED; st++)
		gw_put(b, cap, &n, "hailong_surveys_finished_total{status=\"%s\"} %" PRIu64 "\n",
		       survey_status_name((enum survey_status)st), g->finished[st]);
	for (int st = ESME_DLR_DELIVERED; st <= ESME_DLR_REJECTED; st++)
		gw_put(b, cap, &n, "hailong_receipts_total{state=\"%s\"} %" PRIu64 "\n", gw_dlr_names[st],
		       g->receipts[st]);
	for (int i = 0; i < g->nesme; i++)
		gw_put(b, cap, &n, "hailong_smsc_bound{smsc=\"%s\"} %d\n", g->cfg->smsc[i].name,
		       esme_bound(g->esme[i]));
	return b;
}
