/* gw_trigger: triggers from the HTTP API and from agency SMS, validated and stored (TRIGGER). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gw.h"
#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "record.h"
#include "store.h"

/* ---- triggers ---- */

/* 1 when v holds 1..max units and no control character: bytes (the codes:
 * campaign, transaction id, agency), or with chars UTF-8 code points (a
 * procedure's Vietnamese name, two or three bytes a letter, held in
 * RECORD_TEXT_MAX bytes). */
static int gw_field_ok(const char *v, size_t max, int chars)
{
	size_t n = 0, bytes = 0;
	for (const unsigned char *c = (const unsigned char *)v; *c; c++, bytes++) {
		if (*c < 0x20 || *c == 0x7f)
			return 0;
		n += !chars || (*c & 0xC0) != 0x80;
	}
	return n >= 1 && n <= max && bytes < RECORD_TEXT_MAX;
}

/* A trigger ready for TRIGGER: its keys and arguments. */
struct gw_trig {
	char k_tx[300], k_txp[160], k_s[64];
	const char *keys[4];
	struct record_strv a;
};

/* Validates t and prepares its TRIGGER (p->a to free with record_strv_free
 * when this returns 0). Returns 0, -EINVAL, -ENOENT or -ENOMEM (field, err). */
static int gw_trigger_prepare(struct gw *g, const struct gw_trigger *t, struct gw_trig *p, const char **field,
                              char *err, size_t errlen)
{
	struct record_meta m;
	memset(&m, 0, sizeof m);
	memset(p, 0, sizeof *p);
	*field = NULL;
#define GW_BAD(f, ...)                              \
	do {                                        \
		*field = f;                         \
		snprintf(err, errlen, __VA_ARGS__); \
		g->counters[GW_TRIG_BAD]++;         \
	} while (0)
	if (!t->campaign || !gw_field_ok(t->campaign, RECORD_FIELD_MAX - 1, 0)) {
		GW_BAD("campaign", "campaign: required, a non-empty string");
		return -EINVAL;
	}
	if (!t->msisdn) {
		GW_BAD("msisdn", "msisdn: required");
		return -EINVAL;
	}
	char why[128];
	if (phone_normalize(t->msisdn, m.msisdn, why, sizeof why) < 0) {
		GW_BAD("msisdn", "msisdn: %s", why);
		return -EINVAL;
	}
	if (!t->transaction_id || !gw_field_ok(t->transaction_id, RECORD_FIELD_MAX - 1, 0)) {
		GW_BAD("transaction_id", "transaction_id: required, 1-128 printable characters");
		return -EINVAL;
	}
	if (!t->agency || !gw_field_ok(t->agency, RECORD_FIELD_MAX - 1, 0)) {
		GW_BAD("agency", "agency: required, 1-128 printable characters");
		return -EINVAL;
	}
	if (t->procedure && !gw_field_ok(t->procedure, RECORD_TEXT_CHARS, 1)) {
		GW_BAD("procedure", "procedure: 1-%d characters, no control characters", RECORD_TEXT_CHARS);
		return -EINVAL;
	}
	if (t->completed_at && record_parse_time(t->completed_at, &m.completed_at) < 0) {
		GW_BAD("completed_at", "completed_at: not an ISO 8601 time (2026-11-21T09:30:00+07:00)");
		return -EINVAL;
	}
	if (t->audit_of && !gw_field_ok(t->audit_of, RECORD_FIELD_MAX - 1, 0)) { /* docs/audit.md */
		GW_BAD("audit_of", "audit_of: the survey id checked, 1-128 printable characters");
		return -EINVAL;
	}
	snprintf(m.audit_of, sizeof m.audit_of, "%s", t->audit_of ? t->audit_of : "");
#undef GW_BAD
	const struct campaign *c = gw_campaign(g, t->campaign, NULL);
	if (!c) {
		*field = "campaign";
		snprintf(err, errlen, "campaign: no campaign '%s'", t->campaign);
		g->counters[GW_TRIG_BAD]++;
		return -ENOENT;
	}
	unsigned char rnd[8]; /* 64 random bits: 16 hex characters, kept short in every key that names it */
	gw_random(rnd, sizeof rnd);
	sodium_bin2hex(m.id, sizeof m.id, rnd, sizeof rnd);
	snprintf(m.campaign, sizeof m.campaign, "%s", c->id);
	snprintf(m.cver, sizeof m.cver, "%s", c->version);
	snprintf(m.agency, sizeof m.agency, "%s", t->agency);
	snprintf(m.procedure, sizeof m.procedure, "%s", t->procedure ? t->procedure : "");
	snprintf(m.txid, sizeof m.txid, "%s", t->transaction_id);
	snprintf(m.channel, sizeof m.channel, "%s", c->channel == CAMPAIGN_USSD ? "ussd" : "sms");
	m.triggered_at = gw_now();

	snprintf(p->k_tx, sizeof p->k_tx, GW_K_TX "%s:%s", c->id, t->transaction_id);
	gw_key(p->k_s, sizeof p->k_s, GW_K_SURVEY, m.id);
	p->keys[0] = p->k_tx;
	p->keys[1] = p->k_s;
	p->keys[2] = GW_K_QUEUE;
	snprintf(p->k_txp, sizeof p->k_txp, GW_K_TXP "%s:", c->id);
	p->keys[3] = p->k_txp;
	if (record_strv_add(&p->a, m.id) || record_strv_addf(&p->a, "%d", GW_TX_TTL) ||
	    record_strv_addf(&p->a, "%" PRId64, m.triggered_at) || record_strv_addf(&p->a, "%d", GW_TX_PERIOD) ||
	    record_strv_add(&p->a, t->transaction_id) || record_meta_fields(&m, &p->a)) {
		snprintf(err, errlen, "out of memory");
		record_strv_free(&p->a);
		return -ENOMEM;
	}
	return 0;
}

/* What TRIGGER answered: its rc (< 0: no answer, err says why),
 * and when it answered, whether the survey is new and its id. Returns a
 * gw_trigger_result (survey_id filled) or -EAGAIN. */
static int gw_trigger_took(struct gw *g, int rc, int is_new, const char *id, char survey_id[33], char *err,
                           size_t errlen)
{
	if (rc == 0) {
		rc = is_new ? GW_TRIGGER_NEW : GW_TRIGGER_DUPLICATE;
		snprintf(survey_id, 33, "%s", id);
		g->counters[rc == GW_TRIGGER_NEW ? GW_TRIG_NEW : GW_TRIG_DUP]++;
		if (rc == GW_TRIGGER_NEW)
			event_active(g->ev_queue, 0, 0);
		return rc;
	}
	if (rc == -EBADMSG)
		snprintf(err, errlen, "unexpected reply from redis");
	else
		g->counters[GW_REDIS_ERR]++;
	g->counters[GW_TRIG_UNAVAIL]++;
	return -EAGAIN;
}

/* A trigger whose TRIGGER is on its way (the asynchronous connection). */
struct gw_trig_job {
	struct gw *g;
	gw_trigger_cb cb;
	void *arg;
};

static void gw_trigger_done(void *arg, int rc, int is_new, const char *sid, const char *why)
{
	struct gw_trig_job *j = arg;
	char id[33] = "", err[256] = "";
	if (rc < 0)
		snprintf(err, sizeof err, "%s", why ? why : "redis unreachable");
	rc = gw_trigger_took(j->g, rc, is_new, sid, id, err, sizeof err);
	j->cb(j->arg, rc, id, err);
	free(j);
}

int gw_trigger_async(struct gw *g, const struct gw_trigger *t, const char **field, char *err, size_t errlen,
                     gw_trigger_cb cb, void *arg)
{
	struct gw_trig p;
	int rc = gw_trigger_prepare(g, t, &p, field, err, errlen);
	if (rc < 0)
		return rc;
	struct gw_trig_job *j = malloc(sizeof *j);
	if (!j) {
		record_strv_free(&p.a);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	j->g = g;
	j->cb = cb;
	j->arg = arg;
	rc = store_async_trigger(g->store, 4, p.keys, p.a.n, (const char **)p.a.v, gw_trigger_done, j);
	record_strv_free(&p.a);
	if (rc < 0) {
		free(j);
		gw_trigger_took(g, -EIO, 0, NULL, NULL, err, errlen);
		snprintf(err, errlen, "redis unreachable");
		return -EAGAIN;
	}
	return 0;
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

/* The office number's configuration when `from` is one (else NULL). */
static const struct config_sms_trigger *gw_sms_office(struct gw *g, const char *from)
{
	for (int i = 0; i < g->cfg->nsms_triggers; i++)
		if (gw_same_number(from, g->cfg->sms_triggers[i].number))
			return &g->cfg->sms_triggers[i];
	return NULL;
}

/* The answer to the office for what gw_trigger made of its trigger (res). */
static void gw_sms_answer(int res, const struct gw_sms_trigger *t, const char *err, char *answer, size_t cap)
{
	char mask[PHONE_MAX];
	phone_mask(t->msisdn, mask);
	if (res == GW_TRIGGER_NEW)
		snprintf(answer, cap, "Da nhan: ho so %s, khao sat gui toi %s.", t->transaction_id, mask);
	else if (res == GW_TRIGGER_DUPLICATE)
		snprintf(answer, cap, "Ho so %s da duoc nhan truoc do.", t->transaction_id);
	else
		snprintf(answer, cap, "Loi: %s", err);
}

static void gw_sms_sender(const char *from, char *sender)
{
	char why[128];
	if (phone_normalize(from, sender, why, sizeof why) < 0)
		snprintf(sender, PHONE_MAX, "%s", from);
}

/* An office's trigger on its way (the asynchronous connection): its
 * TRIGGER, then the answer to the office, then the deliver_sm's answer. */
struct gw_sms_job {
	struct gw *g;
	int smsc;
	unsigned epoch;
	uint64_t token;
	uint32_t status;
	gw_sms_done_fn done;    /* NULL: the deliver_sm (smsc, epoch, token) is answered here */
	void *darg;
	struct gw_sms_trigger t;
	char sender[PHONE_MAX], office[PHONE_MAX];
};

static void gw_sms_job_end(struct gw_sms_job *j)
{
	if (j->done)
		j->done(j->g, j->darg, j->status);
	else
		gw_answer(j->g, j->smsc, j->epoch, j->token, j->status);
	free(j);
}

static void gw_sms_on_notice(struct gw *g, void *arg, int rc)
{
	(void)g;
	if (rc < 0)
		log_warn("sms trigger msg=\"answer not queued\"");
	gw_sms_job_end(arg);
}

/* The answer to the office goes out (its notice on its way), then the
 * deliver_sm is answered ROK. */
static void gw_sms_reply(struct gw_sms_job *j, const char *answer)
{
	if (gw_notice_async(j->g, j->sender, answer, NULL, 0, gw_sms_on_notice, j) < 0) {
		log_warn("sms trigger msg=\"answer not queued\"");
		gw_sms_job_end(j);
	}
}

static void gw_sms_on_trigger(void *arg, int res, const char *survey_id, const char *err)
{
	struct gw_sms_job *j = arg;
	(void)survey_id;
	log_info("sms trigger from=%s tx=%s result=%d", j->office, j->t.transaction_id, res);
	if (res == -EAGAIN || res == -ENOMEM) {
		j->status = SMPP_ESME_RX_T_APPN; /* not stored: the SMSC delivers it again */
		gw_sms_job_end(j);
		return;
	}
	char answer[400];
	gw_sms_answer(res, &j->t, err ? err : "", answer, sizeof answer);
	gw_sms_reply(j, answer);
}

int gw_sms_trigger_then(struct gw *g, struct esme *e, uint64_t token, const char *from, const char *text,
                        gw_sms_done_fn done, void *darg)
{
	const struct config_sms_trigger *w = gw_sms_office(g, from);
	int smsc = gw_esme_index(g, e);
	if (!w)
		return 0;
	struct gw_sms_job *j = calloc(1, sizeof *j);
	int rc = j ? gw_sms_trigger_parse(text, &j->t) : -ENOMEM;
	if (rc == -ENOENT) {
		free(j);
		return 0;
	}
	g->counters[GW_MO]++;
	g->counters[GW_SMS_TRIG]++;
	if (rc == -ENOMEM || (smsc < 0 && !done)) {
		/* no memory, or a session being replaced (nowhere to answer
		 * later): the SMSC delivers it again */
		free(j);
		if (done)
			done(g, darg, SMPP_ESME_RX_T_APPN);
		else
			esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return 1;
	}
	j->g = g;
	j->smsc = smsc;
	j->epoch = smsc >= 0 ? g->esme_epoch[smsc] : 0;
	j->token = token;
	j->status = SMPP_ESME_ROK;
	j->done = done;
	j->darg = darg;
	gw_sms_sender(from, j->sender);
	snprintf(j->office, sizeof j->office, "%s", w->number);
	char answer[400], err[256] = "";
	if (rc < 0) {
		snprintf(answer, sizeof answer, "Loi: %s", j->t.error);
		gw_sms_reply(j, answer);
		return 1;
	}
	struct gw_trigger tr = {.campaign = w->campaign, .msisdn = j->t.msisdn, .transaction_id = j->t.transaction_id,
	                        .agency = w->agency, .procedure = j->t.procedure[0] ? j->t.procedure : NULL};
	const char *field = NULL;
	rc = gw_trigger_async(g, &tr, &field, err, sizeof err, gw_sms_on_trigger, j);
	if (rc != 0) /* refused at once (a bad trigger, or Redis cannot be reached): cb not called */
		gw_sms_on_trigger(j, rc, NULL, err);
	return 1;
}

int gw_sms_trigger_async(struct gw *g, struct esme *e, uint64_t token, const char *from, const char *text)
{
	return gw_sms_trigger_then(g, e, token, from, text, NULL, NULL);
}

