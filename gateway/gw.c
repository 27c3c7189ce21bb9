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
#include "store.h"
#include "survey.h"

#define GW_TX_TTL (400 * 86400)     /* how long a transaction id stays idempotent */
#define GW_MAX_CAMPAIGNS 64
#define GW_PUMP_BATCH 200
#define GW_ARCHIVE_BATCH 500
#define GW_DUE_LEASE 60

/* Counters for /metrics. */
enum gw_counter {
	GW_TRIG_NEW, GW_TRIG_DUP, GW_TRIG_BAD, GW_TRIG_UNAVAIL,
	GW_MO, GW_MO_ORPHAN, GW_MO_RETRY, GW_MT_SENT, GW_MT_FAILED,
	GW_DLR_DELIVERED, GW_DLR_FAILED, GW_STARTED, GW_ARCHIVED, GW_REDIS_ERR,
	GW_NCOUNTERS
};
static const char *const gw_counter_names[GW_NCOUNTERS] = {
	"hailong_triggers_total{result=\"accepted\"}", "hailong_triggers_total{result=\"duplicate\"}",
	"hailong_triggers_total{result=\"invalid\"}", "hailong_triggers_total{result=\"unavailable\"}",
	"hailong_mo_total", "hailong_mo_without_survey_total", "hailong_mo_retry_later_total",
	"hailong_mt_sent_total", "hailong_mt_failed_total",
	"hailong_receipts_total{state=\"delivered\"}", "hailong_receipts_total{state=\"failed\"}",
	"hailong_surveys_started_total", "hailong_archive_rows_total", "hailong_redis_errors_total",
};

/* A message handed to an esme, until its outcome is known. */
struct gw_inflight {
	uint64_t tag;
	int smsc;              /* index in g->esme */
	char *json;            /* the outbox entry, to remove from hl:sending */
	struct gw_inflight *next;
};

struct gw {
	struct event_base *base;
	const struct config *cfg;
	struct campaign *campaigns[GW_MAX_CAMPAIGNS];
	int ncampaigns;
	struct store *store;
	struct archive *archive;
	struct esme *esme[CONFIG_MAX_SMSC];
	int nesme;
	int bound[CONFIG_MAX_SMSC];
	unsigned char hash_key[crypto_generichash_KEYBYTES]; /* key of msisdn_hash */
	struct event *ev_queue, *ev_outbox, *ev_due, *ev_archive;
	struct gw_inflight *inflight;
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

static int gw_load_campaigns(struct gw *g, char *err, size_t errlen)
{
	DIR *d = opendir(g->cfg->campaigns_dir);
	if (!d) {
		snprintf(err, errlen, "%s: campaigns: %s", g->cfg->file, strerror(errno));
		return -errno;
	}
	struct dirent *de;
	char *names[GW_MAX_CAMPAIGNS];
	int n = 0, rc = 0;
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
	/* sorted, so that a duplicate id is reported the same way every time */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (int i = 0; i < n && rc == 0; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", g->cfg->campaigns_dir, names[i]);
		struct campaign *c = NULL;
		rc = campaign_load(path, &c, err, errlen);
		if (rc < 0)
			break;
		for (int k = 0; k < g->ncampaigns; k++) {
			if (strcmp(g->campaigns[k]->id, c->id) == 0) {
				snprintf(err, errlen, "%s:1: campaign id '%s' is also used by %s", path, c->id,
				         g->campaigns[k]->file);
				campaign_free(c);
				rc = -EINVAL;
				break;
			}
		}
		if (rc == 0)
			g->campaigns[g->ncampaigns++] = c;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	if (rc == 0 && g->ncampaigns == 0) {
		snprintf(err, errlen, "%s: no campaign files (*.yaml) in %s", g->cfg->file, g->cfg->campaigns_dir);
		rc = -ENOENT;
	}
	return rc;
}

static const struct campaign *gw_campaign(const struct gw *g, const char *id, const char *ver)
{
	const struct campaign *any = NULL;
	for (int i = 0; i < g->ncampaigns; i++) {
		const struct campaign *c = g->campaigns[i];
		if (strcmp(c->id, id) != 0)
			continue;
		if (!ver || strcmp(c->version, ver) == 0)
			return c;
		any = c;
	}
	return any; /* a running survey of an edited campaign continues with the new text */
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

static char *gw_outbox_entry(const struct record_meta *m, const struct campaign *c, const char *text)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:i}", "s", m->id, "to", m->msisdn, "text", text,
	                      "enc", (int)c->encoding);
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Write one step atomically: state, messages to send, timers, and on a final
 * status the archive record and the citizen's next survey. Returns 1, 0 when
 * the survey moved on meanwhile (retry), or -EIO. */
static int gw_commit(struct gw *g, const struct record_meta *m, const struct campaign *c,
                     const struct survey *s, const struct survey_out *o, const char *expect_ver,
                     const char *reason)
{
	char k_s[64], k_act[48], k_wait[48], k_out[96];
	gw_key(k_s, sizeof k_s, "hl:s:", m->id);
	gw_key(k_act, sizeof k_act, "hl:active:", m->msisdn);
	gw_key(k_wait, sizeof k_wait, "hl:wait:", m->msisdn);
	gw_key(k_out, sizeof k_out, "hl:outbox:", g->cfg->smsc[gw_route(g, m->msisdn)].name);
	const char *keys[] = {k_s, k_act, k_wait, "hl:queue", "hl:archive", "hl:due", k_out, "hl:starting"};
	struct record_strv a = {0};
	char *arch = NULL;
	int rc = -ENOMEM;
	if (o->finished) {
		char h[65];
		gw_msisdn_hash(g, m->msisdn, h);
		arch = record_archive_json(m, c, s, h, reason);
		if (!arch)
			goto done;
	}
	if (record_strv_add(&a, m->id) || record_strv_add(&a, expect_ver ? expect_ver : "") ||
	    record_strv_add(&a, o->finished ? "1" : "0") || record_strv_addf(&a, "%" PRId64, o->due) ||
	    record_strv_add(&a, arch ? arch : "") || record_strv_addf(&a, "%d", o->nmsg))
		goto done;
	for (int i = 0; i < o->nmsg; i++) {
		char *e = gw_outbox_entry(m, c, o->msg[i]);
		int r2 = e ? record_strv_add(&a, e) : -ENOMEM;
		free(e);
		if (r2)
			goto done;
	}
	if (!o->finished && c && record_state_fields(c, s, &a))
		goto done;
	char err[256];
	redisReply *r = store_script(g->store, STORE_COMMIT, 8, keys, a.n, (const char **)a.v, err, sizeof err);
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
	}
	if (rc && o->nmsg)
		event_active(g->ev_outbox, 0, 0);
done:
	free(arch);
	record_strv_free(&a);
	return rc;
}

/* Load a survey: meta, its campaign and its state. Returns 0, -ENOENT (gone),
 * -EIO (Redis) or -EINVAL (a record we cannot read). */
static int gw_load(struct gw *g, const char *id, struct record_meta *m, const struct campaign **c,
                   struct survey *s)
{
	char key[64], err[256];
	gw_key(key, sizeof key, "hl:s:", id);
	redisReply *r = store_cmd(g->store, err, sizeof err, "HGETALL %s", key);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("load survey=%s err=\"%s\"", id, err);
		return -EIO;
	}
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	survey_init(s);
	int rc = record_meta_parse(r, m);
	if (rc == 0) {
		*c = gw_campaign(g, m->campaign, m->cver);
		rc = *c ? record_state_parse(r, *c, s) : -EINVAL;
	}
	freeReplyObject(r);
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

/* ---- starting surveys ---- */

static void gw_start_one(struct gw *g, const char *id)
{
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	int rc = gw_load(g, id, &m, &c, &s);
	char err[256];
	if (rc == -EIO)
		return; /* stays in hl:starting; requeued at the next start */
	if (rc < 0) {
		log_error("start survey=%s msg=\"unreadable survey record, dropped\" rc=%d", id, rc);
		redisReply *r = store_cmd(g->store, err, sizeof err, "LREM hl:starting 0 %s", id);
		if (r)
			freeReplyObject(r);
		survey_clear(&s);
		return;
	}
	char k_act[48], k_wait[48], k_s[64];
	gw_key(k_act, sizeof k_act, "hl:active:", m.msisdn);
	gw_key(k_wait, sizeof k_wait, "hl:wait:", m.msisdn);
	gw_key(k_s, sizeof k_s, "hl:s:", m.id);
	const char *keys[] = {k_act, k_wait, "hl:starting", k_s};
	const char *args[] = {m.id};
	redisReply *r = store_script(g->store, STORE_CLAIM, 4, keys, 1, args, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		survey_clear(&s);
		return;
	}
	long long claimed = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	if (claimed == 1) {
		struct survey_out o;
		if (survey_start(c, &s, gw_now(), &o) == 0 && gw_commit(g, &m, c, &s, &o, m.ver, NULL) == 1) {
			g->counters[GW_STARTED]++;
			char mask[PHONE_MAX];
			phone_mask(m.msisdn, mask);
			log_debug("survey started survey=%s campaign=%s msisdn=%s", m.id, m.campaign, mask);
		}
		survey_out_clear(&o);
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
		redisReply *r = store_cmd(g->store, err, sizeof err, "LMOVE hl:queue hl:starting LEFT RIGHT");
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

static void gw_on_mo(void *arg, struct esme *e, uint64_t token, const char *from, const char *text,
                     const struct smpp_sm *sm)
{
	(void)sm;
	struct gw *g = arg;
	char msisdn[PHONE_MAX], mask[PHONE_MAX], why[128], err[256];
	g->counters[GW_MO]++;
	if (phone_normalize(from, msisdn, why, sizeof why) < 0) {
		log_info("[%s] mo from=\"%.20s\" msg=\"not a mobile number, ignored\"", esme_name(e), from);
		esme_answer(e, token, SMPP_ESME_ROK);
		return;
	}
	phone_mask(msisdn, mask);
	uint32_t status = SMPP_ESME_RX_T_APPN;
	for (int attempt = 0; attempt < 5; attempt++) {
		redisReply *r = store_cmd(g->store, err, sizeof err, "GET hl:active:%s", msisdn);
		if (!r) {
			g->counters[GW_REDIS_ERR]++;
			break;
		}
		if (r->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			g->counters[GW_MO_ORPHAN]++;
			log_info("[%s] mo msisdn=%s msg=\"no survey running\"", esme_name(e), mask);
			status = SMPP_ESME_ROK;
			break;
		}
		char id[RECORD_ID_MAX];
		snprintf(id, sizeof id, "%s", r->str);
		freeReplyObject(r);
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		int rc = gw_load(g, id, &m, &c, &s);
		if (rc == -EIO) {
			survey_clear(&s);
			break;
		}
		if (rc < 0) {
			survey_clear(&s);
			continue; /* finished meanwhile: look again */
		}
		struct survey_out o;
		rc = survey_feed(c, &s, text, gw_now(), &o);
		if (rc == 0)
			rc = gw_commit(g, &m, c, &s, &o, m.ver, NULL);
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
	esme_answer(e, token, status);
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
		if (rc == 0) {
			struct survey_out o;
			if (survey_tick(c, &s, t, &o) == 0)
				gw_commit(g, &m, c, &s, &o, m.ver, NULL);
			survey_out_clear(&o);
		} else if (rc == -ENOENT) {
			redisReply *z = store_cmd(g->store, err, sizeof err, "ZREM hl:due %s", id);
			if (z)
				freeReplyObject(z);
		}
		survey_clear(&s);
	}
	freeReplyObject(r);
}

/* ---- sending ---- */

static void gw_outbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char err[256];
	for (int i = 0; i < g->nesme; i++) {
		const char *name = g->cfg->smsc[i].name;
		while (esme_capacity(g->esme[i]) > 0) {
			redisReply *r = store_cmd(g->store, err, sizeof err, "LMOVE hl:outbox:%s hl:sending:%s LEFT RIGHT",
			                          name, name);
			if (!r) {
				g->counters[GW_REDIS_ERR]++;
				return;
			}
			if (r->type != REDIS_REPLY_STRING) {
				freeReplyObject(r);
				break;
			}
			json_error_t je;
			json_t *o = json_loads(r->str, 0, &je);
			const char *to = json_string_value(json_object_get(o, "to"));
			const char *text = json_string_value(json_object_get(o, "text"));
			json_int_t enc = json_integer_value(json_object_get(o, "enc"));
			struct gw_inflight *f = calloc(1, sizeof *f);
			int rc = -EINVAL;
			if (f && to && text && (f->json = strdup(r->str)) != NULL) {
				struct esme_msg msg = {.tag = ++g->next_tag, .dst = to, .text = text,
				                       .enc = (enum text_encoding)enc, .ussd_op = -1};
				f->tag = msg.tag;
				f->smsc = i;
				rc = esme_submit(g->esme[i], &msg);
			}
			if (rc == 0) {
				f->next = g->inflight;
				g->inflight = f;
			} else {
				log_error("[%s] outbox entry not sendable rc=%d msg=\"dropped\"", name, rc);
				redisReply *x = store_cmd(g->store, err, sizeof err, "LREM hl:sending:%s 1 %s", name, r->str);
				if (x)
					freeReplyObject(x);
				if (f)
					free(f->json);
				free(f);
			}
			json_decref(o);
			freeReplyObject(r);
			if (rc == -EAGAIN)
				break;
		}
	}
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
	char err[256];
	const char *name = g->cfg->smsc[f->smsc].name;
	redisReply *r = store_cmd(g->store, err, sizeof err, "LREM hl:sending:%s 1 %s", name, f->json);
	if (r)
		freeReplyObject(r);
	if (status == SMPP_ESME_ROK) {
		g->counters[GW_MT_SENT]++;
		log_debug("[%s] sent msgid=%s", esme_name(e), msgid ? msgid : "");
	} else {
		g->counters[GW_MT_FAILED]++;
		log_warn("[%s] send failed status=%s", esme_name(e), smpp_status_name(status));
	}
	free(f->json);
	free(f);
}

static void gw_on_receipt(void *arg, struct esme *e, const char *msgid, enum esme_dlr state)
{
	struct gw *g = arg;
	(void)e;
	(void)msgid;
	if (state == ESME_DLR_DELIVERED || state == ESME_DLR_ACCEPTED)
		g->counters[GW_DLR_DELIVERED]++;
	else if (state != ESME_DLR_ENROUTE)
		g->counters[GW_DLR_FAILED]++;
}

static void gw_on_ready(void *arg, struct esme *e)
{
	struct gw *g = arg;
	(void)e;
	event_active(g->ev_outbox, 0, 0);
}

static void gw_on_state(void *arg, struct esme *e, int bound)
{
	struct gw *g = arg;
	for (int i = 0; i < g->nesme; i++)
		if (g->esme[i] == e)
			g->bound[i] = bound;
	if (bound)
		event_active(g->ev_outbox, 0, 0);
}

static const struct esme_cbs gw_esme_cbs = {
	.on_mo = gw_on_mo,
	.on_receipt = gw_on_receipt,
	.on_sent = gw_on_sent,
	.on_ready = gw_on_ready,
	.on_state = gw_on_state,
};

/* ---- archiving ---- */

static void gw_archive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	char max[16], err[256];
	snprintf(max, sizeof max, "%d", GW_ARCHIVE_BATCH);
	const char *keys[] = {"hl:archive", "hl:archiving"};
	const char *args[] = {max};
	redisReply *r = store_script(g->store, STORE_ARCHIVE_TAKE, 2, keys, 1, args, err, sizeof err);
	if (!r) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
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
		redisReply *x = store_cmd(g->store, err, sizeof err, "DEL hl:archiving");
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

/* After a crash: what was being started or sent goes back in line. */
static void gw_recover(struct gw *g)
{
	char err[256], from[96], to[96];
	const char *keys[2];
	keys[0] = "hl:starting";
	keys[1] = "hl:queue";
	redisReply *r = store_script(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
	if (r) {
		if (r->integer > 0)
			log_info("recover requeued=%lld what=starting", r->integer);
		freeReplyObject(r);
	} else {
		log_warn("recover err=\"%s\" msg=\"will retry when redis is back\"", err);
	}
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		snprintf(from, sizeof from, "hl:sending:%s", g->cfg->smsc[i].name);
		snprintf(to, sizeof to, "hl:outbox:%s", g->cfg->smsc[i].name);
		keys[0] = from;
		keys[1] = to;
		r = store_script(g->store, STORE_REQUEUE, 2, keys, 0, NULL, err, sizeof err);
		if (r) {
			if (r->integer > 0)
				log_info("[%s] recover requeued=%lld what=sending", g->cfg->smsc[i].name, r->integer);
			freeReplyObject(r);
		}
	}
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
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		goto fail;
	}
	if (gw_load_campaigns(g, err, errlen) < 0)
		goto fail;
	if (gw_hash_key(g, err, errlen) < 0)
		goto fail;
	g->archive = archive_open(cfg->sqlite_path, err, errlen);
	if (!g->archive)
		goto fail;
	for (int i = 0; i < g->ncampaigns; i++)
		if (archive_put_campaign(g->archive, g->campaigns[i], err, errlen) < 0)
			goto fail;
	g->store = store_new(cfg->redis_url, err, errlen);
	if (!g->store)
		goto fail;
	struct timeval tick = {0, 100000}, sec = {1, 0}, arch = {0, 200000};
	g->ev_queue = event_new(base, -1, EV_PERSIST, gw_queue_cb, g);
	g->ev_outbox = event_new(base, -1, EV_PERSIST, gw_outbox_cb, g);
	g->ev_due = event_new(base, -1, EV_PERSIST, gw_due_cb, g);
	g->ev_archive = event_new(base, -1, EV_PERSIST, gw_archive_cb, g);
	if (!g->ev_queue || !g->ev_outbox || !g->ev_due || !g->ev_archive) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	event_add(g->ev_queue, &sec);
	event_add(g->ev_outbox, &tick);
	event_add(g->ev_due, &sec);
	event_add(g->ev_archive, &arch);
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

void gw_free(struct gw *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->nesme; i++)
		esme_free(g->esme[i]);
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
	store_free(g->store);
	archive_close(g->archive);
	for (int i = 0; i < g->ncampaigns; i++)
		campaign_free(g->campaigns[i]);
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
	for (int i = 0; i < g->nesme; i++)
		gw_put(b, cap, &n, "hailong_smsc_bound{smsc=\"%s\"} %d\n", g->cfg->smsc[i].name,
		       esme_bound(g->esme[i]));
	return b;
}
