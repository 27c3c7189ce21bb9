/* record: the survey hash in Redis and the archive record, written and read back. */
#define _XOPEN_SOURCE 700 /* strptime */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "record.h"
#include "store.h"

int record_strv_add(struct record_strv *sv, const char *s)
{
	if (sv->n == sv->cap) {
		int cap = sv->cap ? sv->cap * 2 : 16;
		char **v = realloc(sv->v, sizeof(char *) * (size_t)cap);
		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	char *d = strdup(s ? s : "");
	if (!d)
		return -ENOMEM;
	sv->v[sv->n++] = d;
	return 0;
}

int record_strv_addf(struct record_strv *sv, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -EINVAL;
	return record_strv_add(sv, buf);
}

void record_strv_free(struct record_strv *sv)
{
	for (int i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof *sv);
}

static int record_kv(struct record_strv *o, const char *k, const char *v)
{
	int rc = record_strv_add(o, k);
	return rc ? rc : record_strv_add(o, v);
}

static int record_kvi(struct record_strv *o, const char *k, int64_t v)
{
	char b[24];
	snprintf(b, sizeof b, "%" PRId64, v);
	return record_kv(o, k, b);
}

/* A counter that is mostly 0 is not kept at 0: its value is "", which
 * COMMIT takes for "delete the field" (a missing field reads as 0). */
static int record_kvz(struct record_strv *o, const char *k, int64_t v)
{
	return v ? record_kvi(o, k, v) : record_kv(o, k, "");
}

/* The survey hash's field names are short (it is the largest thing kept per
 * active survey); a field that says nothing is left out: procedure when
 * none, channel "sms", completed_at when absent. The long names of older
 * hashes are still read (record_field). */
int record_meta_fields(const struct record_meta *m, struct record_strv *o)
{
	int rc = 0;
	rc |= record_kv(o, "c", m->campaign);
	rc |= record_kv(o, "cv", m->cver);
	rc |= record_kv(o, "m", m->msisdn);
	rc |= record_kv(o, "ag", m->agency);
	if (m->procedure[0])
		rc |= record_kv(o, "p", m->procedure);
	rc |= record_kv(o, "tx", m->txid);
	if (strcmp(m->channel, "sms") != 0)
		rc |= record_kv(o, "ch", m->channel);
	rc |= record_kvi(o, "t", m->triggered_at);
	if (m->completed_at)
		rc |= record_kvi(o, "tc", m->completed_at);
	if (m->audit_of[0])
		rc |= record_kv(o, "ao", m->audit_of);
	rc |= record_kv(o, "st", "queued");
	rc |= record_kv(o, "ver", "0");
	return rc ? -ENOMEM : 0;
}

/* An answer is stored as "state;at;v1,v2;text" under "a:{question id}". */
int record_state_fields(const struct campaign *c, const struct survey *s, struct record_strv *o)
{
	int rc = 0;
	/* "active", the status of nearly every hash, is no field: "" deletes it */
	rc |= record_kv(o, "st", s->status == SURVEY_ACTIVE ? "" : survey_status_name(s->status));
	rc |= record_kvi(o, "q", s->q);
	rc |= record_kvz(o, "i", s->invalid);
	rc |= record_kvz(o, "r", s->reminded);
	rc |= record_kvi(o, "s0", s->started_at);
	rc |= record_kvi(o, "l", s->last_at);
	rc |= record_kvz(o, "rs", s->resent);
	rc |= record_kvz(o, "eq", s->echo_q);
	if (s->echo_q) {
		rc |= record_kvi(o, "eh", s->echo_h);
		rc |= record_kvi(o, "ea", s->echo_at);
	}
	if (s->last_h)
		rc |= record_kvi(o, "lh", s->last_h);
	for (int i = 0; i < c->nquestions && !rc; i++) {
		const struct survey_answer *a = &s->answers[i];
		if (a->state == 0)
			continue;
		char head[256];
		int n = snprintf(head, sizeof head, "%d;%" PRId64 ";", a->state, a->at);
		for (int k = 0; k < a->nvalues && n < (int)sizeof head - 16; k++)
			n += snprintf(head + n, sizeof head - (size_t)n, "%s%d", k ? "," : "", a->values[k]);
		size_t tl = a->text ? strlen(a->text) : 0;
		char *val = malloc((size_t)n + tl + 2);
		char key[160];
		if (!val)
			return -ENOMEM;
		memcpy(val, head, (size_t)n);
		val[n] = ';';
		if (tl)
			memcpy(val + n + 1, a->text, tl);
		val[n + 1 + tl] = '\0';
		snprintf(key, sizeof key, "a:%s", c->questions[i].id);
		rc |= record_kv(o, key, val);
		free(val);
	}
	return rc ? -ENOMEM : 0;
}

static const char *record_strv_get(const struct record_strv *sv, const char *name)
{
	for (int i = 0; i + 1 < sv->n; i += 2)
		if (strcmp(sv->v[i], name) == 0)
			return sv->v[i + 1];
	return NULL;
}

int record_state_fields_since(const struct campaign *c, const struct survey *s, const struct record_strv *before,
                              struct record_strv *o)
{
	if (!before)
		return record_state_fields(c, s, o);
	struct record_strv now = {0};
	int rc = record_state_fields(c, s, &now);
	/* a field absent and one written "" both mean none */
	for (int i = 0; rc == 0 && i + 1 < now.n; i += 2) {
		const char *was = record_strv_get(before, now.v[i]);
		if (strcmp(was ? was : "", now.v[i + 1]) != 0)
			rc = record_kv(o, now.v[i], now.v[i + 1]);
	}
	for (int i = 0; rc == 0 && i + 1 < before->n; i += 2)
		if (before->v[i + 1][0] && !record_strv_get(&now, before->v[i]))
			rc = record_kv(o, before->v[i], "");
	record_strv_free(&now);
	return rc ? -ENOMEM : 0;
}

/* The short field names and the long ones of hashes written before them. */
static const char *const record_long_names[][2] = {
	{"c", "campaign"}, {"cv", "cver"}, {"m", "msisdn"}, {"ag", "agency"}, {"p", "procedure"},
	{"tx", "txid"}, {"ch", "channel"}, {"t", "triggered_at"}, {"tc", "completed_at"},
	{"st", "status"}, {"i", "invalid"}, {"r", "reminded"}, {"s0", "started_at"}, {"l", "last_at"},
	{"ao", "audit_of"},
};

/* A survey hash as a reader gets it: a typed verb's list (store.h), names
 * and values alternating (an HGETALL). */
struct record_src {
	const struct store_list *l;
};

static const char *record_field_exact(const struct record_src *r, const char *name, size_t *len)
{
	for (size_t i = 0; r->l && i + 1 < r->l->n; i += 2) {
		const struct store_item *k = &r->l->e[i], *v = &r->l->e[i + 1];
		if (k->kind == STORE_STR && strcmp(k->s, name) == 0) {
			if (v->kind != STORE_STR)
				return NULL;
			if (len)
				*len = v->len;
			return v->s;
		}
	}
	return NULL;
}

/* The text of field name (NUL-terminated; *len its length when len is not
 * NULL), or NULL when absent or no string. */
static const char *record_field(const struct record_src *r, const char *name, size_t *len)
{
	const char *v = record_field_exact(r, name, len);
	for (size_t i = 0; !v && i < sizeof record_long_names / sizeof record_long_names[0]; i++)
		if (strcmp(record_long_names[i][0], name) == 0)
			v = record_field_exact(r, record_long_names[i][1], len);
	return v;
}

static int record_copy(const struct record_src *r, const char *name, char *out, size_t cap, int required)
{
	size_t len = 0;
	const char *v = record_field(r, name, &len);
	if (!v) {
		out[0] = '\0';
		return required ? -EINVAL : 0;
	}
	if (len >= cap)
		return -EINVAL;
	memcpy(out, v, len + 1);
	return 0;
}

static int64_t record_int(const struct record_src *r, const char *name)
{
	const char *v = record_field(r, name, NULL);
	return v ? strtoll(v, NULL, 10) : 0;
}

static int record_meta_from(const struct record_src *r, struct record_meta *m)
{
	char id[RECORD_ID_MAX];
	memcpy(id, m->id, sizeof id);
	memset(m, 0, sizeof *m);
	memcpy(m->id, id, sizeof id);
	int rc = 0;
	rc |= record_copy(r, "c", m->campaign, sizeof m->campaign, 1);
	rc |= record_copy(r, "cv", m->cver, sizeof m->cver, 1);
	rc |= record_copy(r, "m", m->msisdn, sizeof m->msisdn, 1);
	rc |= record_copy(r, "ag", m->agency, sizeof m->agency, 1);
	rc |= record_copy(r, "p", m->procedure, sizeof m->procedure, 0);
	rc |= record_copy(r, "tx", m->txid, sizeof m->txid, 1);
	rc |= record_copy(r, "ch", m->channel, sizeof m->channel, 0);
	if (!m->channel[0])
		snprintf(m->channel, sizeof m->channel, "sms");
	rc |= record_copy(r, "ver", m->ver, sizeof m->ver, 1);
	rc |= record_copy(r, "ao", m->audit_of, sizeof m->audit_of, 0);
	record_copy(r, "n", m->nonce, sizeof m->nonce, 0);
	m->triggered_at = record_int(r, "t");
	m->completed_at = record_int(r, "tc");
	const char *sq = record_field(r, "sq", NULL);
	m->sq = sq ? strtoll(sq, NULL, 10) : -1;
	const char *uq = record_field(r, "uq", NULL);
	m->uq = uq ? strtoll(uq, NULL, 10) : -1;
	return rc ? -EINVAL : 0;
}

int record_meta_parse_list(const struct store_list *l, struct record_meta *m)
{
	if (!l || l->n == 0)
		return -ENOENT;
	struct record_src src = {.l = l};
	return record_meta_from(&src, m);
}

static int record_state_from(const struct record_src *r, const struct campaign *c, struct survey *s)
{
	char st[16];
	if (record_copy(r, "st", st, sizeof st, 0) < 0)
		return -EINVAL;
	if (!st[0]) /* a started survey's hash says nothing of "active" */
		snprintf(st, sizeof st, "%s", survey_status_name(SURVEY_ACTIVE));
	int status = survey_status_parse(st);
	if (status < 0)
		return -EINVAL;
	s->status = (enum survey_status)status;
	s->q = (int)record_int(r, "q");
	s->invalid = (int)record_int(r, "i");
	s->reminded = (int)record_int(r, "r");
	s->started_at = record_int(r, "s0");
	s->last_at = record_int(r, "l");
	s->resent = record_int(r, "rs") == 1;
	s->echo_q = (int)record_int(r, "eq");
	s->echo_h = (uint32_t)record_int(r, "eh");
	s->echo_at = record_int(r, "ea");
	s->last_h = (uint32_t)record_int(r, "lh");
	if (s->echo_q < 0 || s->echo_q > c->nquestions)
		s->echo_q = 0;
	if (s->q < 0 || s->q > c->nquestions)
		return -EINVAL;
	for (int i = 0; i < c->nquestions; i++) {
		char key[160];
		snprintf(key, sizeof key, "a:%s", c->questions[i].id);
		const char *v = record_field(r, key, NULL);
		if (!v)
			continue;
		struct survey_answer *a = &s->answers[i];
		const char *p = v;
		char *end;
		a->state = (int)strtol(p, &end, 10);
		if (*end != ';' || a->state < 1 || a->state > 2)
			return -EINVAL;
		a->at = strtoll(end + 1, &end, 10);
		if (*end != ';')
			return -EINVAL;
		p = end + 1;
		while (*p && *p != ';') {
			if (a->nvalues >= CAMPAIGN_MAX_OPTIONS)
				return -EINVAL;
			a->values[a->nvalues++] = (int)strtol(p, &end, 10);
			if (end == p)
				return -EINVAL;
			p = *end == ',' ? end + 1 : end;
		}
		if (*p != ';')
			return -EINVAL;
		if (p[1]) {
			a->text = strdup(p + 1);
			if (!a->text)
				return -ENOMEM;
		}
	}
	return 0;
}

int record_state_parse_list(const struct store_list *l, const struct campaign *c, struct survey *s)
{
	struct record_src src = {.l = l};
	return record_state_from(&src, c, s);
}

void record_iso8601(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int record_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int64_t off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		/* exactly "+hh:mm" */
		int sign = *p == '-' ? -1 : 1;
		const char *z = p + 1;
		for (int k = 0; k < 5; k++)
			if (k == 2 ? z[k] != ':' : (z[k] < '0' || z[k] > '9'))
				return -EINVAL;
		int hh = (z[0] - '0') * 10 + (z[1] - '0'), mm = (z[3] - '0') * 10 + (z[4] - '0');
		if (hh > 14 || mm > 59)
			return -EINVAL;
		off = sign * (hh * 3600 + mm * 60);
		p += 6;
	}
	if (*p)
		return -EINVAL;
	int y = tm.tm_year, mo = tm.tm_mon, d = tm.tm_mday;
	time_t t = timegm(&tm); /* (normalises tm: 2026-02-30 would become March 2) */
	if (tm.tm_year != y || tm.tm_mon != mo || tm.tm_mday != d)
		return -EINVAL; /* not a real day */
	*out = (int64_t)t - off;
	return 0;
}

char *record_archive_json(const struct record_meta *m, const struct campaign *c,
                          const struct survey *s, const char *msisdn_hash, const char *reason)
{
	json_t *o = json_object();
	json_t *ans = json_array();
	if (!o || !ans)
		goto fail;
	json_object_set_new(o, "survey_id", json_string(m->id));
	json_object_set_new(o, "campaign_id", json_string(m->campaign));
	json_object_set_new(o, "campaign_version", json_string(m->cver));
	json_object_set_new(o, "transaction_id", json_string(m->txid));
	json_object_set_new(o, "agency", json_string(m->agency));
	json_object_set_new(o, "procedure", m->procedure[0] ? json_string(m->procedure) : json_null());
	json_object_set_new(o, "msisdn_hash", json_string(msisdn_hash));
	json_object_set_new(o, "channel", json_string(m->channel));
	json_object_set_new(o, "status", json_string(survey_status_name(s->status)));
	json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
	json_object_set_new(o, "triggered_at", json_integer(m->triggered_at));
	json_object_set_new(o, "finished_at", json_integer(s->finished_at));
	json_object_set_new(o, "completed_at", json_integer(m->completed_at));
	if (m->audit_of[0])
		json_object_set_new(o, "audit_of", json_string(m->audit_of));
	if (m->cancelled_by[0])
		json_object_set_new(o, "cancelled_by", json_string(m->cancelled_by));
	for (int i = 0; c && i < c->nquestions; i++) {
		const struct survey_answer *a = &s->answers[i];
		if (a->state != 1)
			continue; /* skipped items leave no row */
		const struct campaign_question *q = &c->questions[i];
		json_t *x = json_object();
		json_object_set_new(x, "q", json_string(q->id));
		json_object_set_new(x, "at", json_integer(a->at));
		if (q->type == Q_MULTI) {
			/* multi: value NULL, text = the chosen values, sorted ("1 3") */
			char buf[128];
			size_t n = 0;
			buf[0] = '\0';
			for (int k = 0; k < a->nvalues && n < sizeof buf - 12; k++)
				n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", k ? " " : "", a->values[k]);
			json_object_set_new(x, "text", json_string(buf));
		} else if (q->type == Q_TEXT) {
			json_object_set_new(x, "text", json_string(a->text ? a->text : ""));
		} else if (a->nvalues > 0) {
			json_object_set_new(x, "value", json_integer(a->values[0]));
		}
		json_array_append_new(ans, x);
	}
	json_object_set_new(o, "answers", ans);
	ans = NULL;
	char *txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return txt;
fail:
	json_decref(ans);
	json_decref(o);
	return NULL;
}

static const char *record_jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int record_archive_parse(const char *json, json_t **holder, struct archive_survey *out)
{
	memset(out, 0, sizeof *out);
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	*holder = o;
	if (!json_is_object(o))
		return -EINVAL;
	out->survey_id = record_jstr(o, "survey_id");
	out->campaign_id = record_jstr(o, "campaign_id");
	out->campaign_version = record_jstr(o, "campaign_version");
	out->transaction_id = record_jstr(o, "transaction_id");
	out->agency = record_jstr(o, "agency");
	out->procedure = record_jstr(o, "procedure");
	out->msisdn_hash = record_jstr(o, "msisdn_hash");
	out->channel = record_jstr(o, "channel");
	out->status = record_jstr(o, "status");
	out->reason = record_jstr(o, "reason");
	out->triggered_at = json_integer_value(json_object_get(o, "triggered_at"));
	out->finished_at = json_integer_value(json_object_get(o, "finished_at"));
	out->completed_at = json_integer_value(json_object_get(o, "completed_at"));
	out->audit_of = record_jstr(o, "audit_of");  /* audit campaigns */
	out->contact = record_jstr(o, "contact");    /* sealed number (audit.public_key) */
	out->cancelled_by = record_jstr(o, "cancelled_by"); /* cancelled through the API */
	if (!out->survey_id || !out->campaign_id || !out->transaction_id || !out->status ||
	    !out->msisdn_hash || !out->channel || !out->agency)
		return -EINVAL;
	json_t *ans = json_object_get(o, "answers");
	size_t n = json_is_array(ans) ? json_array_size(ans) : 0;
	struct archive_answer *a = n ? calloc(n, sizeof *a) : NULL;
	if (n && !a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(ans, i);
		a[i].question_id = record_jstr(x, "q");
		json_t *v = json_object_get(x, "value");
		a[i].has_value = json_is_integer(v);
		a[i].value = (int)json_integer_value(v);
		a[i].text = record_jstr(x, "text");
		a[i].answered_at = json_integer_value(json_object_get(x, "at"));
		if (!a[i].question_id) {
			free(a);
			return -EINVAL;
		}
	}
	out->nanswers = (int)n;
	out->answers = a;
	return 0;
}
