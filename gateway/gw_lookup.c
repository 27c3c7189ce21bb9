/* gw_lookup: what the operator's API (GET /v1/surveys) shows of a survey:
 * running ones from Redis, finished ones from the archive; status, current
 * item and times, never the number nor its hash. Redis is read on the
 * asynchronous connection (the loop never waits for it); the archive is
 * read at once. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A running survey as LOAD answered it (rc, l, err as a store_list_cb has
 * them): 0 and *out, -ENOENT or -EIO. */
static int gw_lookup_running(struct gw *g, const char *id, int rc, const struct store_list *l, const char *err,
                             json_t **out)
{
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	rc = gw_load_read(g, id, rc, l, err, &m, &c, &s);
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

/* A GET /v1/surveys/{id} whose LOAD is on its way. */
struct gw_get {
	struct gw *g;
	char id[RECORD_ID_MAX];
	gw_json_cb cb;
	void *arg;
};

/* Survey id from the archive, when Redis runs none: 0 and *out, -ENOENT or -EIO. */
static int gw_lookup_archived(struct gw *g, const char *id, json_t **out)
{
	char err[256];
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

static void gw_get_on_load(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_get *j = arg;
	json_t *o = NULL;
	rc = gw_lookup_running(j->g, j->id, rc, l, err, &o);
	if (rc == -ENOENT)
		rc = gw_lookup_archived(j->g, j->id, &o);
	j->cb(j->arg, rc, rc == 0 ? o : NULL);
	free(j);
}

void gw_survey_get(struct gw *g, const char *id, gw_json_cb cb, void *arg)
{
	if (!gw_lookup_id_ok(id)) {
		cb(arg, -ENOENT, NULL);
		return;
	}
	struct gw_get *j = calloc(1, sizeof *j);
	if (!j) {
		cb(arg, -EIO, NULL);
		return;
	}
	j->g = g;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->id, sizeof j->id, "%s", id);
	if (gw_load_async(g, id, gw_get_on_load, j) < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("load survey=%s err=\"redis unreachable\"", id);
		free(j);
		cb(arg, -EIO, NULL);
	}
}

/* A GET /v1/surveys?transaction_id= whose look-ups are on their way: for
 * each campaign loaded (or the one named), TXGET (its idempotency key) and,
 * when it names a survey, LOAD; the answer goes when the last is back. */
struct gw_find;
struct gw_find_one {
	struct gw_find *f;
	char id[RECORD_ID_MAX];   /* TXGET found it: "" = none */
	json_t *o;                /* LOAD read it running */
};
struct gw_find {
	struct gw *g;
	char *txid;                      /* owned */
	char *campaign;                  /* owned; NULL = any */
	int left;                        /* look-ups on their way (+1 while they are sent) */
	int failed;                      /* Redis did not answer one */
	gw_json_cb cb;
	void *arg;
	int n;
	struct gw_find_one one[];        /* one per campaign looked in, in g->camps order */
};

static void gw_find_free(struct gw_find *f)
{
	if (!f)
		return;
	free(f->txid);
	free(f->campaign);
	free(f);
}

static void gw_find_left(struct gw_find *f)
{
	if (--f->left > 0)
		return;
	struct gw *g = f->g;
	char err[256];
	struct gw_lookup_acc acc = {json_array()};
	for (int i = 0; i < f->n; i++) {
		if (f->one[i].o && !f->failed)
			json_array_append(acc.arr, f->one[i].o);
		json_decref(f->one[i].o);
	}
	int rc = f->failed ? -EIO : 0;
	if (rc == 0 && archive_lookup(g->archive, NULL, f->campaign, f->txid, gw_lookup_row, &acc, err, sizeof err) < 0) {
		log_warn("lookup transaction err=\"%s\"", err);
		rc = -EIO;
	}
	if (rc < 0) {
		json_decref(acc.arr);
		acc.arr = NULL;
	}
	f->cb(f->arg, rc, acc.arr);
	gw_find_free(f);
}

static void gw_find_on_load(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_find_one *one = arg;
	rc = gw_lookup_running(one->f->g, one->id, rc, l, err, &one->o);
	if (rc == -EIO)
		one->f->failed = 1;
	gw_find_left(one->f);
}

static void gw_find_on_txget(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_find_one *one = arg;
	struct gw_find *f = one->f;
	if (rc < 0) {
		f->g->counters[GW_REDIS_ERR]++;
		log_warn("lookup transaction err=\"%s\"", err ? err : "");
		f->failed = 1;
	} else if (!f->failed && l->n == 1 && l->e[0].kind == STORE_STR && l->e[0].len < sizeof one->id) {
		snprintf(one->id, sizeof one->id, "%s", l->e[0].s);
		if (gw_load_async(f->g, one->id, gw_find_on_load, one) == 0)
			return; /* gw_find_on_load counts it */
		f->g->counters[GW_REDIS_ERR]++;
		f->failed = 1;
	}
	gw_find_left(f);
}

void gw_survey_find(struct gw *g, const char *txid, const char *campaign, gw_json_cb cb, void *arg)
{
	struct gw_find *f = calloc(1, sizeof *f + (size_t)g->ncamps * sizeof f->one[0]);
	if (f) {
		f->txid = strdup(txid);
		f->campaign = campaign ? strdup(campaign) : NULL;
	}
	if (!f || !f->txid || (campaign && !f->campaign)) {
		gw_find_free(f);
		cb(arg, -EIO, NULL);
		return;
	}
	f->g = g;
	f->cb = cb;
	f->arg = arg;
	f->left = 1; /* held while the look-ups are sent */
	/* running: through the idempotency key of each campaign loaded (or the one named) */
	for (int i = 0; i < g->ncamps && !f->failed; i++) {
		const struct campaign *c = g->camps[i].c;
		if (!g->camps[i].current || (campaign && strcmp(campaign, c->id) != 0))
			continue;
		char key[2 * RECORD_FIELD_MAX + 16], pre[RECORD_FIELD_MAX + 16], snow[24], sttl[16], sper[16];
		snprintf(key, sizeof key, GW_K_TX "%s:%s", c->id, txid);
		snprintf(pre, sizeof pre, GW_K_TXP "%s:", c->id);
		snprintf(snow, sizeof snow, "%" PRId64, gw_now());
		snprintf(sttl, sizeof sttl, "%d", GW_TX_TTL);
		snprintf(sper, sizeof sper, "%d", GW_TX_PERIOD);
		const char *keys[] = {key, pre}, *args[] = {snow, sttl, sper, txid};
		struct gw_find_one *one = &f->one[f->n++];
		one->f = f;
		if (store_async_run_any(g->store, STORE_TXGET, 2, keys, 4, args, gw_find_on_txget, one) == 0) {
			f->left++;
		} else {
			g->counters[GW_REDIS_ERR]++;
			log_warn("lookup transaction err=\"redis unreachable\"");
			f->failed = 1;
		}
	}
	gw_find_left(f);
}
