/* gw_lookup: what the operator's API (GET /v1/surveys) shows of a survey:
 * running ones from Redis, finished ones from the archive; status, current
 * item and times, never the number nor its hash. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "gw_int.h"
#include "log.h"
#include "record.h"

static void gw_json_time(json_t *o, const char *k, int64_t t)
{
	char iso[21];
	if (t > 0) {
		record_iso8601(t, iso);
		json_object_set_new(o, k, json_string(iso));
	} else {
		json_object_set_new(o, k, json_null());
	}
}

static void gw_json_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v && *v ? json_string(v) : json_null());
}

/* A running survey (its hash in Redis): 0, -ENOENT or -EIO. */
static int gw_lookup_running(struct gw *g, const char *id, json_t **out)
{
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	int rc = gw_load(g, id, &m, &c, &s);
	if (rc == -ENOENT || rc == -EIO) {
		survey_clear(&s);
		return rc;
	}
	json_t *o = json_object();
	gw_json_str(o, "survey_id", id);
	gw_json_str(o, "campaign", m.campaign);
	gw_json_str(o, "campaign_version", m.cver);
	gw_json_str(o, "transaction_id", m.txid);
	gw_json_str(o, "agency", m.agency);
	gw_json_str(o, "procedure", m.procedure);
	gw_json_str(o, "channel", m.channel);
	json_object_set_new(o, "running", json_true());
	if (rc == 0) {
		json_object_set_new(o, "status", json_string(survey_status_name(s.status)));
		if (s.status == SURVEY_ACTIVE && c && s.q < c->nquestions) {
			json_object_set_new(o, "item", json_integer(s.q + 1)); /* 1-based, of "items" */
			json_object_set_new(o, "question", json_string(c->questions[s.q].id));
		} else {
			json_object_set_new(o, "item", json_null());
		}
		if (c)
			json_object_set_new(o, "items", json_integer(c->nquestions));
		gw_json_time(o, "started_at", s.started_at);
		gw_json_time(o, "last_message_at", s.last_at);
	} else {
		/* its campaign version is gone or its state unreadable: it is archived failed on its next step */
		json_object_set_new(o, "status", json_string("unreadable"));
	}
	gw_json_time(o, "triggered_at", m.triggered_at);
	json_object_set_new(o, "finished_at", json_null());
	survey_clear(&s);
	*out = o;
	return 0;
}

static const char *const gw_lookup_cols[ARCHIVE_LOOKUP_NCOLS] = {
	"survey_id", "campaign", "campaign_version", "transaction_id", "agency", "procedure", "channel",
	"status", "reason", "triggered_at", "finished_at", "completed_at", "cancelled_by"};

struct gw_lookup_acc {
	json_t *arr;
};

static int gw_lookup_row(void *arg, const char *const *v)
{
	struct gw_lookup_acc *acc = arg;
	for (size_t i = 0; i < json_array_size(acc->arr); i++) {
		const char *sid = json_string_value(json_object_get(json_array_get(acc->arr, i), "survey_id"));
		if (sid && v[0] && strcmp(sid, v[0]) == 0)
			return 0; /* running in Redis and already in the archive: Redis is the newer */
	}
	json_t *o = json_object();
	for (int i = 0; i < ARCHIVE_LOOKUP_NCOLS; i++)
		gw_json_str(o, gw_lookup_cols[i], v[i]);
	json_object_set_new(o, "running", json_false());
	json_array_append_new(acc->arr, o);
	return 0;
}

/* A survey id as hailongd makes them: 16 (32 in older versions) hex digits. */
static int gw_lookup_id_ok(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");
	return id[n] == '\0' && n >= 16 && n < RECORD_ID_MAX;
}

int gw_survey_get(struct gw *g, const char *id, json_t **out)
{
	char err[256];
	*out = NULL;
	if (!gw_lookup_id_ok(id))
		return -ENOENT;
	int rc = gw_lookup_running(g, id, out);
	if (rc != -ENOENT)
		return rc;
	struct gw_lookup_acc acc = {json_array()};
	int n = archive_lookup(g->archive, id, NULL, NULL, gw_lookup_row, &acc, err, sizeof err);
	if (n < 0) {
		log_warn("lookup survey=%s err=\"%s\"", id, err);
		json_decref(acc.arr);
		return -EIO;
	}
	if (json_array_size(acc.arr) == 0) {
		json_decref(acc.arr);
		return -ENOENT; /* (a record on its way to SQLite is found a moment later) */
	}
	*out = json_incref(json_array_get(acc.arr, 0));
	json_decref(acc.arr);
	return 0;
}

int gw_survey_find(struct gw *g, const char *txid, const char *campaign, json_t **out)
{
	char err[256], key[2 * RECORD_FIELD_MAX + 16];
	struct gw_lookup_acc acc = {json_array()};
	*out = NULL;
	/* running: through the idempotency key of each campaign loaded (or the one named) */
	for (int i = 0; i < g->ncamps; i++) {
		const struct campaign *c = g->camps[i].c;
		if (!g->camps[i].current || (campaign && strcmp(campaign, c->id) != 0))
			continue;
		char pre[RECORD_FIELD_MAX + 16], snow[24], sttl[16], sper[16];
		snprintf(key, sizeof key, GW_K_TX "%s:%s", c->id, txid);
		snprintf(pre, sizeof pre, GW_K_TXP "%s:", c->id);
		snprintf(snow, sizeof snow, "%" PRId64, gw_now());
		snprintf(sttl, sizeof sttl, "%d", GW_TX_TTL);
		snprintf(sper, sizeof sper, "%d", GW_TX_PERIOD);
		const char *keys[] = {key, pre}, *args[] = {snow, sttl, sper, txid};
		char *id = NULL;
		int rc = store_run_str(g->store, STORE_TXGET, 2, keys, 4, args, &id, err, sizeof err);
		if (rc < 0 && rc != -EBADMSG) {
			g->counters[GW_REDIS_ERR]++;
			json_decref(acc.arr);
			return -EIO;
		}
		json_t *o = NULL;
		rc = rc == 1 ? gw_lookup_running(g, id, &o) : -ENOENT;
		free(id);
		if (rc == -EIO) {
			json_decref(acc.arr);
			return -EIO;
		}
		if (rc == 0)
			json_array_append_new(acc.arr, o);
	}
	if (archive_lookup(g->archive, NULL, campaign, txid, gw_lookup_row, &acc, err, sizeof err) < 0) {
		log_warn("lookup transaction err=\"%s\"", err);
		json_decref(acc.arr);
		return -EIO;
	}
	*out = acc.arr;
	return 0;
}
