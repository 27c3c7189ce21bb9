/* report_json: the figures of each slice (shares, Wilson intervals, means, response rates, ranking) as the report's JSON. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_int.h"
#include "tzone.h"

static const char method_pooled[] = "pooled: satisfied answers / all rated answers";
static const char method_mean[] = "mean of group shares: each group weighs the same";

/* ---- figures ---- */

/* 95% Wilson score interval of x successes in n trials, in [0, 1]. */
static void wilson(int64_t x, int64_t n, double *lo, double *hi)
{
	double z2 = REPORT_Z * REPORT_Z, p, den, mid, half;

	if (n <= 0) {
		*lo = *hi = NAN;
		return;
	}
	p = (double)x / (double)n;
	den = 1.0 + z2 / (double)n;
	mid = (p + z2 / (2.0 * (double)n)) / den;
	half = REPORT_Z * sqrt(p * (1.0 - p) / (double)n + z2 / (4.0 * (double)n * (double)n)) / den;
	*lo = mid - half < 0 ? 0 : mid - half;
	*hi = mid + half > 1 ? 1 : mid + half;
}

static double ratio(int64_t x, int64_t n)
{
	return n > 0 ? (double)x / (double)n : NAN;
}

static json_t *jnum(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *jpct(double v)
{
	return isnan(v) ? json_null() : json_real(v * 100.0);
}

/* Share, Wilson interval and mean of x satisfied among n ratings summing to sum. */
static void set_share(json_t *o, int64_t x, int64_t n, double sum, int scored)
{
	double lo, hi;

	wilson(x, n, &lo, &hi);
	json_object_set_new(o, "satisfied", json_integer(x));
	json_object_set_new(o, "share_pct", jpct(ratio(x, n)));
	json_object_set_new(o, "ci_low_pct", jpct(lo));
	json_object_set_new(o, "ci_high_pct", jpct(hi));
	if (scored)
		json_object_set_new(o, "mean", jnum(n > 0 ? sum / (double)n : NAN));
}

static struct qacc *acc(const struct slice *s, int qi)
{
	static struct qacc zero;

	return qi < s->nqa ? &s->qa[qi] : &zero;
}

static json_t *slice_json(const struct rep *r, const struct view *v, struct slice *s)
{
	json_t *o = json_object(), *key = json_object(), *st = json_object(), *qs = json_array(),
	       *gs = json_array();
	int64_t ratings = 0, sat = 0;
	double sum = 0, mg = 0, lo, hi;
	int ngroups = 0;

	if (!o || !key || !st || !qs || !gs) {
		json_decref(o);
		json_decref(key);
		json_decref(st);
		json_decref(qs);
		json_decref(gs);
		return NULL;
	}
	for (int i = 0; i < v->ndim; i++)
		json_object_set_new(key, rp_dim_names[v->dim[i]], json_string(s->key[i]));
	json_object_set_new(o, "key", key);
	json_object_set_new(o, "surveys", json_integer(s->surveys));
	json_object_set_new(o, "completed", json_integer(s->status[0]));
	for (int i = 0; i < NSTATUS; i++)
		json_object_set_new(st, status_names[i], json_integer(s->status[i]));
	if (s->status[NSTATUS])
		json_object_set_new(st, "other", json_integer(s->status[NSTATUS]));
	json_object_set_new(o, "by_status", st);
	json_object_set_new(o, "response_rate", json_pack("{s:o, s:o, s:I, s:I}",
		"by_survey_pct", jpct(ratio(s->status[0], s->surveys)),
		"by_citizen_pct", jpct(ratio(s->citizens_completed, s->citizens)),
		"citizens", (json_int_t)s->citizens, "citizens_completed", (json_int_t)s->citizens_completed));
	json_object_set_new(o, "respondents", json_integer(s->rated));
	json_object_set_new(o, "few_responses", json_boolean(s->rated < REPORT_MIN_RESPONSES));
	for (int i = 0; i < r->nq; i++) {
		const struct qdef *d = &r->q[i];
		const struct qacc *a = acc(s, i);
		json_t *jq = json_object(), *counts = json_object();
		char val[24];

		json_object_set_new(jq, "id", json_string(d->id));
		json_object_set_new(jq, "answers", json_integer(a->rows));
		if (strcmp(d->type, "text") == 0)
			json_object_set_new(jq, "comments", json_integer(a->texts));
		if (d->nsat > 0) {
			json_object_set_new(jq, "rated", json_integer(a->valued));
			set_share(jq, a->satisfied, a->valued, a->sum, strcmp(d->type, "scale") == 0);
			json_object_set_new(jq, "few_responses", json_boolean(a->valued < REPORT_MIN_RESPONSES));
			ratings += a->valued;
			sat += a->satisfied;
			sum += a->sum;
		} else if (strcmp(d->type, "scale") == 0) {
			json_object_set_new(jq, "mean", jnum(a->valued ? a->sum / (double)a->valued : NAN));
		}
		for (int k = 0; k < a->nv; k++) {
			snprintf(val, sizeof val, "%d", a->v[k].value);
			json_object_set_new(counts, val, json_integer(a->v[k].n));
		}
		json_object_set_new(jq, "counts", counts);
		json_array_append_new(qs, jq);
	}
	json_object_set_new(o, "questions", qs);
	for (int g = 0; g < r->ng; g++) {
		int64_t gr = 0, gsat = 0, resp = g < s->ngr ? s->grp_resp[g] : 0;
		double gsum = 0;
		int nrated = 0;
		json_t *jg;

		for (int i = 0; i < r->nq; i++) {
			const struct qdef *d = &r->q[i];

			if (d->nsat == 0 || d->position == 0 || strcmp(d->grp, r->grp[g]) != 0)
				continue;
			nrated++;
			gr += acc(s, i)->valued;
			gsat += acc(s, i)->satisfied;
			gsum += acc(s, i)->sum;
		}
		if (nrated == 0)
			continue;
		jg = json_object();
		json_object_set_new(jg, "group", json_string(r->grp[g]));
		json_object_set_new(jg, "respondents", json_integer(resp));
		json_object_set_new(jg, "ratings", json_integer(gr));
		set_share(jg, gsat, gr, gsum, 1);
		json_object_set_new(jg, "few_responses", json_boolean(resp < REPORT_MIN_RESPONSES));
		json_array_append_new(gs, jg);
		if (gr > 0) {
			mg += ratio(gsat, gr);
			ngroups++;
		}
	}
	json_object_set_new(o, "groups", gs);
	wilson(sat, ratings, &lo, &hi);
	json_object_set_new(o, "overall", json_pack("{s:{s:s, s:I, s:I, s:o, s:o, s:o, s:o}, s:{s:s, s:i, s:o}}",
		"pooled", "method", method_pooled, "ratings", (json_int_t)ratings, "satisfied", (json_int_t)sat,
		"share_pct", jpct(ratio(sat, ratings)), "ci_low_pct", jpct(lo), "ci_high_pct", jpct(hi),
		"mean", jnum(ratings > 0 ? sum / (double)ratings : NAN),
		"mean_of_groups", "method", method_mean, "groups", ngroups,
		"share_pct", jpct(ngroups ? mg / ngroups : NAN)));
	return o;
}

static double jget(const json_t *o, const char *a, const char *b)
{
	const json_t *x = json_object_get(json_object_get(o, a), b);

	return json_is_number(x) ? json_number_value(x) : NAN;
}

/* Units ranked by pooled share. A unit's rank is 1 + the number of units
 * whose whole interval lies above its own: units whose intervals overlap
 * share a rank, and each names the units it cannot be told apart from. */
static json_t *ranking_json(json_t *units, const char *dim)
{
	size_t n = json_array_size(units);
	json_t *out = json_array();
	size_t *order = calloc(n ? n : 1, sizeof *order);

	if (!out || !order) {
		free(order);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 1; i < n; i++) { /* insertion sort: share descending, no data last */
		size_t x = order[i], j = i;
		double sx = jget(json_object_get(json_array_get(units, x), "overall"), "pooled", "share_pct");

		while (j > 0) {
			double sy = jget(json_object_get(json_array_get(units, order[j - 1]), "overall"), "pooled",
			                 "share_pct");

			if (!(isnan(sy) && !isnan(sx)) && !(sx > sy))
				break;
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *u = json_array_get(units, order[i]), *p = json_object_get(json_object_get(u, "overall"), "pooled");
		double lo = jget(json_object_get(u, "overall"), "pooled", "ci_low_pct");
		double hi = jget(json_object_get(u, "overall"), "pooled", "ci_high_pct");
		json_t *e = json_object(), *ov = json_array();
		int above = 0;

		for (size_t j = 0; j < n; j++) {
			json_t *w = json_array_get(units, order[j]);
			double lo2 = jget(json_object_get(w, "overall"), "pooled", "ci_low_pct");
			double hi2 = jget(json_object_get(w, "overall"), "pooled", "ci_high_pct");

			if (j == i || isnan(lo) || isnan(lo2))
				continue;
			if (lo2 > hi)
				above++;
			else if (!(hi2 < lo))
				json_array_append_new(ov, json_incref(json_object_get(json_object_get(w, "key"), dim)));
		}
		json_object_set_new(e, "unit", json_incref(json_object_get(json_object_get(u, "key"), dim)));
		json_object_set_new(e, "rank", isnan(lo) ? json_null() : json_integer(above + 1));
		json_object_set_new(e, "share_pct", json_incref(json_object_get(p, "share_pct")));
		json_object_set_new(e, "ci_low_pct", json_incref(json_object_get(p, "ci_low_pct")));
		json_object_set_new(e, "ci_high_pct", json_incref(json_object_get(p, "ci_high_pct")));
		json_object_set_new(e, "ratings", json_incref(json_object_get(p, "ratings")));
		json_object_set_new(e, "respondents", json_incref(json_object_get(u, "respondents")));
		json_object_set_new(e, "few_responses", json_incref(json_object_get(u, "few_responses")));
		json_object_set_new(e, "overlaps_with", ov);
		json_array_append_new(out, e);
	}
	free(order);
	return out;
}

static json_t *defs_json(const struct rep *r)
{
	json_t *qs = json_array();

	for (int i = 0; i < r->nq; i++) {
		const struct qdef *d = &r->q[i];
		json_t *jq = json_object(), *opts = json_array();

		json_object_set_new(jq, "id", json_string(d->id));
		json_object_set_new(jq, "position", json_integer(d->position));
		json_object_set_new(jq, "group", d->grp[0] ? json_string(d->grp) : json_null());
		json_object_set_new(jq, "type", json_string(d->type));
		json_object_set_new(jq, "text", json_string(d->text));
		json_object_set_new(jq, "rated", json_boolean(d->nsat > 0));
		for (int k = 0; k < d->nopts; k++)
			json_array_append_new(opts, json_pack("{s:i, s:s, s:b}", "value", d->opts[k].value,
				"label", d->opts[k].label, "satisfied", rp_is_sat(d, d->opts[k].value)));
		json_object_set_new(jq, "options", opts);
		json_array_append_new(qs, jq);
	}
	return qs;
}

static json_t *view_json(const struct rep *r, const struct view *v)
{
	json_t *a = json_array();

	for (int i = 0; a && i < v->ns; i++) {
		json_t *s = slice_json(r, v, v->s[i]);

		if (!s || json_array_append_new(a, s) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int report_run(struct report_db *db, const struct report_query *q, json_t **out, char *err,
               size_t errlen)
{
	struct rep r;
	json_t *root = json_object(), *by = json_array(), *f = json_object(), *x;
	enum report_dim unit = REPORT_AGENCY, period = REPORT_MONTH;
	char zone[TZONE_MAX + 1];
	int rc;

	memset(&r, 0, sizeof r);
	*out = NULL;
	if (!root || !by || !f) {
		rc = -ENOMEM;
		rp_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (!q->campaign || (q->from && report_check_date(q->from) < 0) ||
	    (q->to && report_check_date(q->to) < 0) || (q->status && report_check_status(q->status) < 0) ||
	    q->nagencies > REPORT_MAX_AGENCIES || q->nby < 0 || q->nby > REPORT_MAX_BY) {
		rp_seterr(err, errlen, "bad report query");
		rc = -EINVAL;
		goto fail;
	}
	for (int i = 0; i < q->nby; i++) {
		if (rp_dim_is_period(q->by[i]))
			period = q->by[i];
		else if (i == 0 || rp_dim_is_period(q->by[0]))
			unit = q->by[i];
	}
	r.v[1].ndim = q->nby;
	r.v[1].off = q->nby == 0;
	for (int i = 0; i < q->nby; i++)
		r.v[1].dim[i] = q->by[i];
	r.v[2].ndim = 1;
	r.v[2].dim[0] = unit;
	r.v[3].ndim = 1;
	r.v[3].dim[0] = period;
	json_object_set_new(root, "campaign", json_string(q->campaign));
	/* the archive's rollups count local days of the writer's zone; a report in
	 * another zone counts its campaign again, in TEMP tables of its own */
	if (archive_rollup_zone_of(db->db, zone, sizeof zone) < 0) {
		rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
		rc = -EIO;
		goto fail;
	}
	if (strcmp(zone, tzone_name()) != 0 && (!db->temp_campaign || strcmp(db->temp_campaign, q->campaign) != 0)) {
		free(db->temp_campaign);
		db->temp_campaign = NULL;
		if ((rc = archive_rollup_temp(db->db, q->campaign, err, errlen)) < 0)
			goto fail;
		if (!(db->temp_campaign = strdup(q->campaign))) {
			rp_seterr(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
	}
	/* one read transaction: every figure from the same snapshot, while hailongd writes */
	if (sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
		rc = -EIO;
		goto fail;
	}
	if ((rc = rp_load_defs(db, &r, q->campaign, root, err, errlen)) < 0 ||
	    (rc = rp_load_rollups(db, &r, q, err, errlen)) < 0)
		goto fail;
	if (!json_is_string(json_object_get(root, "version")) && r.v[0].ns == 0) {
		/* nothing recorded, nothing surveyed (whatever the filters say) */
		sqlite3_stmt *s = NULL;
		int any = 0;

		if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM surveys WHERE campaign_id = ?1 LIMIT 1", -1, &s,
		                       NULL) == SQLITE_OK) {
			sqlite3_bind_text(s, 1, q->campaign, -1, SQLITE_STATIC);
			any = sqlite3_step(s) == SQLITE_ROW;
		}
		sqlite3_finalize(s);
		if (!any) {
			rp_seterr(err, errlen, "no campaign '%s' in the archive", q->campaign);
			rc = -ENOENT;
			goto fail;
		}
	}
	if ((rc = rp_load_citizens(db, &r, q, err, errlen)) < 0)
		goto fail;
	for (int v = 0; v < NVIEWS; v++) {
		if (r.v[v].off)
			continue;
		if ((rc = rp_fill_view(&r.v[v], q)) == -E2BIG) {
			char what[64];
			if (r.v[v].ndim > 1)
				snprintf(what, sizeof what, "every %s with every %s", rp_dim_names[r.v[v].dim[0]],
				         rp_dim_names[r.v[v].dim[1]]);
			else
				snprintf(what, sizeof what, "by %s", rp_dim_names[r.v[v].dim[0]]);
			rp_seterr(err, errlen,
			          "%lld slices (%s), more than %d: narrow from/to, or slice by a longer period or "
			          "by one dimension",
			          r.v[v].toomany, what, REPORT_MAX_SLICES);
			rc = -EINVAL;
			goto fail;
		}
		if (rc < 0 || (rc = rp_sort_view(&r.v[v])) < 0) {
			rp_seterr(err, errlen, "out of memory");
			goto fail;
		}
	}
	tzone_offset_label(tzone_offset((int64_t)time(NULL)), zone, sizeof zone);
	json_object_set_new(root, "timezone", json_string(tzone_name()));
	json_object_set_new(root, "utc_offset", json_string(zone));
	for (int i = 0; i < q->nby; i++)
		json_array_append_new(by, json_string(rp_dim_names[q->by[i]]));
	json_object_set_new(root, "by", by);
	by = NULL;
	json_object_set_new(f, "from", q->from ? json_string(q->from) : json_null());
	json_object_set_new(f, "to", q->to ? json_string(q->to) : json_null());
	json_object_set_new(f, "agency", q->agency ? json_string(q->agency) : json_null());
	json_object_set_new(f, "procedure", q->procedure ? json_string(q->procedure) : json_null());
	json_object_set_new(f, "status", q->status ? json_string(q->status) : json_null());
	if (q->nagencies >= 0) {
		json_t *al = json_array();

		for (int i = 0; i < q->nagencies; i++)
			json_array_append_new(al, json_string(q->agencies[i]));
		json_object_set_new(f, "agencies", al);
	}
	json_object_set_new(root, "filters", f);
	f = NULL;
	json_object_set_new(root, "methods", json_pack("{s:s, s:s, s:s}", "pooled", method_pooled,
		"mean_of_groups", method_mean, "interval", "Wilson score interval, 95%"));
	json_object_set_new(root, "min_responses", json_integer(REPORT_MIN_RESPONSES));
	if (!(x = defs_json(&r)))
		goto nomem;
	json_object_set_new(root, "questions", x);
	if ((rc = rp_load_wordings(db, &r, q->campaign, x, err, errlen)) < 0)
		goto fail;
	if (!(x = view_json(&r, &r.v[0])))
		goto nomem;
	json_object_set_new(root, "total", json_incref(json_array_get(x, 0)));
	json_decref(x);
	if (!(x = view_json(&r, &r.v[1])))
		goto nomem;
	json_object_set_new(root, "slices", x);
	if (!(x = view_json(&r, &r.v[2])))
		goto nomem;
	json_object_set_new(root, "ranking", json_pack("{s:s, s:o}", "by", rp_dim_names[unit], "units",
		ranking_json(x, rp_dim_names[unit])));
	json_decref(x);
	if (!(x = view_json(&r, &r.v[3])))
		goto nomem;
	json_object_set_new(root, "trend", json_pack("{s:s, s:o}", "by", rp_dim_names[period], "periods", x));
	rp_rep_free(&r);
	sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
	*out = root;
	return 0;
nomem:
	rp_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	if (!sqlite3_get_autocommit(db->db))
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	rp_rep_free(&r);
	json_decref(root);
	json_decref(by);
	json_decref(f);
	return rc;
}
