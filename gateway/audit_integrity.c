/* audit_integrity: signals that need no call back: a shared number, surveys answered too fast, low trigger coverage, replies from another number (docs/audit.md). */
#include "audit.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#define INT_MAX_UNITS 4096
#define INT_LIST 5           /* survey ids shown per fast unit */

struct iflag {
	char signal[24];         /* shared_number | fast_answers | low_coverage | other_number */
	char unit[160];          /* unit, or the number's hash prefix */
	double observed, threshold;
	double strength;         /* observed / threshold (low_coverage: median / observed) */
	char detail[512];
};

struct ictx {
	struct iflag *f;
	int n, cap;
	int nomem;
};

static void int_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void int_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct iflag *flag_new(struct ictx *c, const char *signal, const char *unit)
{
	if (c->n == c->cap) {
		int nc = c->cap ? c->cap * 2 : 16;
		struct iflag *p = realloc(c->f, sizeof *p * (size_t)nc);
		if (!p) {
			c->nomem = 1;
			return NULL;
		}
		c->f = p;
		c->cap = nc;
	}
	struct iflag *f = &c->f[c->n++];
	memset(f, 0, sizeof *f);
	snprintf(f->signal, sizeof f->signal, "%s", signal);
	snprintf(f->unit, sizeof f->unit, "%s", unit);
	return f;
}

/* The WHERE clause shared by every query: campaign and period (?1, ?2, ?3). */
static void int_bind(sqlite3_stmt *s, const struct audit_integrity_opts *o)
{
	if (o->campaign)
		sqlite3_bind_text(s, 1, o->campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o->from ? o->from : "0000-00-00", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, o->to ? o->to : "9999-99-99", -1, SQLITE_STATIC);
}
#define INT_WHERE "(?1 IS NULL OR s.campaign_id = ?1) AND substr(COALESCE(s.triggered_at, s.finished_at), 1, 10) BETWEEN ?2 AND ?3"

/* The densest windows of one number's triggers (times ascending, agencies
 * as small ids): the most triggers, and the most distinct agencies, inside
 * any window of window_s seconds (two pointers, counts per agency). */
struct dense {
	int n, ni;               /* most triggers, and where that window starts */
	int a, ai, an;           /* most agencies, where that window starts, and its length */
};

static struct dense densest(const int64_t *t, const int *aid, int n, int nag, int64_t window_s, int *cnt)
{
	struct dense d = {0, 0, 0, 0, 0};
	int j = 0, distinct = 0;

	memset(cnt, 0, sizeof *cnt * (size_t)nag);
	for (int i = 0; i < n; i++) {
		if (cnt[aid[i]]++ == 0)
			distinct++;
		while (t[i] - t[j] > window_s) {
			if (--cnt[aid[j]] == 0)
				distinct--;
			j++;
		}
		if (i - j + 1 > d.n) {
			d.n = i - j + 1;
			d.ni = j;
		}
		if (distinct > d.a) {
			d.a = distinct;
			d.ai = j;
			d.an = i - j + 1;
		}
	}
	return d;
}

/* One number (its keyed hash) giving many transactions, or transactions at
 * many agencies, within a window: a staff phone given instead of the
 * citizen's. */
static int shared_numbers(sqlite3 *db, const struct audit_integrity_opts *o, struct ictx *c)
{
	sqlite3_stmt *s = NULL;
	char sql[1024];
	int st;
	char cur[80] = "";
	int64_t *t = NULL;
	int *aid = NULL, *cnt = NULL;
	char **names = NULL;     /* the distinct agencies of the current number */
	int n = 0, cap = 0, nag = 0;

	snprintf(sql, sizeof sql,
	         "SELECT s.msisdn_hash, CAST(strftime('%%s', COALESCE(s.triggered_at, s.finished_at)) AS INTEGER),"
	         " COALESCE(s.agency, '') FROM surveys s WHERE " INT_WHERE " AND s.msisdn_hash IS NOT NULL"
	         " ORDER BY 1, 2");
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	int_bind(s, o);
	for (;;) {
		st = sqlite3_step(s);
		const char *h = st == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
		if (!h || strcmp(h, cur) != 0) {
			/* the number before is complete */
			struct dense d = n ? densest(t, aid, n, nag, o->window_s, cnt) : (struct dense){0, 0, 0, 0, 0};
			double sn = (double)d.n / o->max_per_number, sa = (double)d.a / o->max_agencies;
			if (n && (sn >= 1 || sa >= 1)) {
				int by_agencies = sa > sn;
				int w0 = by_agencies ? d.ai : d.ni, wn = by_agencies ? d.an : d.n, wag = 0;
				char list[256] = "";
				size_t len = 0;
				memset(cnt, 0, sizeof *cnt * (size_t)nag);
				for (int i = w0; i < w0 + wn; i++) {
					if (cnt[aid[i]]++)
						continue;
					wag++;
					if (len < sizeof list - 1) {
						int w = snprintf(list + len, sizeof list - len, "%s%s", wag > 1 ? " " : "", names[aid[i]]);
						len = w < 0 ? len : len + (size_t)w >= sizeof list ? sizeof list - 1 : len + (size_t)w;
					}
				}
				char unit[40];
				snprintf(unit, sizeof unit, "number %.12s", cur);
				struct iflag *f = flag_new(c, "shared_number", unit);
				if (f) {
					f->observed = by_agencies ? d.a : d.n;
					f->threshold = by_agencies ? o->max_agencies : o->max_per_number;
					f->strength = by_agencies ? sa : sn;
					snprintf(f->detail, sizeof f->detail,
					         "one number (hash %.12s...) gave %d transactions within %lld h at %d agenc%s: %s", cur,
					         wn, (long long)((t[w0 + wn - 1] - t[w0]) / 3600), wag, wag == 1 ? "y" : "ies", list);
				}
			}
			for (int i = 0; i < nag; i++)
				free(names[i]);
			n = nag = 0;
			if (!h)
				break;
			snprintf(cur, sizeof cur, "%s", h);
		}
		if (n == cap) {
			int nc = cap ? cap * 2 : 64;
			int64_t *pt = realloc(t, sizeof *pt * (size_t)nc);
			if (pt)
				t = pt;
			int *pa = realloc(aid, sizeof *pa * (size_t)nc);
			if (pa)
				aid = pa;
			int *pc = realloc(cnt, sizeof *pc * (size_t)nc);
			if (pc)
				cnt = pc;
			char **pn = realloc(names, sizeof *pn * (size_t)nc);
			if (pn)
				names = pn;
			if (!pt || !pa || !pc || !pn) {
				c->nomem = 1;
				break;
			}
			cap = nc;
		}
		const char *agency = (const char *)sqlite3_column_text(s, 2);
		int k;
		for (k = 0; k < nag && strcmp(names[k], agency) != 0; k++)
			;
		if (k == nag && !(names[nag++] = strdup(agency))) {
			nag--;
			c->nomem = 1;
			break;
		}
		t[n] = sqlite3_column_int64(s, 1);
		aid[n++] = k;
	}
	for (int i = 0; i < nag; i++)
		free(names[i]);
	free(t);
	free(aid);
	free(cnt);
	free(names);
	sqlite3_finalize(s);
	return st == SQLITE_DONE || st == SQLITE_ROW ? 0 : -EIO;
}

/* Completed surveys answered faster than a person reads: seconds per item
 * from the first item's submission (deliveries; else the first answer,
 * counting one item less) to the last answer. */
static int fast_answers(sqlite3 *db, const struct audit_integrity_opts *o, struct ictx *c)
{
	sqlite3_stmt *s = NULL;
	char sql[1400];
	int st;
	char cur[160] = "";
	int total = 0, fast = 0, first = 1;
	char ids[INT_LIST * 40 + 8] = "";

	snprintf(sql, sizeof sql,
	         "SELECT COALESCE(s.%s, ''), s.survey_id, COUNT(*),"
	         " MIN(CAST(strftime('%%s', a.answered_at) AS INTEGER)), MAX(CAST(strftime('%%s', a.answered_at) AS INTEGER)),"
	         " (SELECT MIN(CAST(strftime('%%s', d.submitted_at) AS INTEGER)) FROM deliveries d"
	         "  WHERE d.survey_id = s.survey_id AND d.item = 0)"
	         " FROM surveys s JOIN answers a ON a.survey_id = s.survey_id"
	         " WHERE " INT_WHERE " AND s.status = 'completed' GROUP BY s.survey_id ORDER BY 1, 2", o->by);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	int_bind(s, o);
	for (;;) {
		st = sqlite3_step(s);
		const char *unit = st == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
		if (!first && (!unit || strcmp(unit, cur) != 0)) {
			double share = total ? (double)fast / total : 0;
			if (fast >= o->fast_min && share >= o->fast_share) {
				struct iflag *f = flag_new(c, "fast_answers", cur);
				if (f) {
					f->observed = share;
					f->threshold = o->fast_share;
					f->strength = share / o->fast_share;
					snprintf(f->detail, sizeof f->detail,
					         "%d of %d completed surveys (%.1f%%) answered in under %.1f s per item, e.g. %s", fast,
					         total, 100 * share, o->min_item_s, ids);
				}
			}
			total = fast = 0;
			ids[0] = '\0';
		}
		if (!unit)
			break;
		first = 0;
		snprintf(cur, sizeof cur, "%s", unit);
		int items = sqlite3_column_int(s, 2);
		int64_t lo = sqlite3_column_int64(s, 3), hi = sqlite3_column_int64(s, 4);
		int span_items = items - 1;
		if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
			lo = sqlite3_column_int64(s, 5);
			span_items = items;
		}
		total++;
		if (span_items > 0 && (double)(hi - lo) / span_items < o->min_item_s) {
			if (fast < INT_LIST) {
				size_t len = strlen(ids);
				snprintf(ids + len, sizeof ids - len, "%s%.32s", len ? " " : "", (const char *)sqlite3_column_text(s, 1));
			}
			fast++;
		}
	}
	sqlite3_finalize(s);
	return st == SQLITE_DONE ? 0 : -EIO;
}

struct ucount {
	char *unit;
	int64_t triggers, transactions;
	double coverage;
};

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* Triggers per unit against the transactions the one-stop system counted
 * (a CSV "unit,transactions"): a unit far below its peers' median. */
static int low_coverage(sqlite3 *db, const struct audit_integrity_opts *o, struct ictx *c, char *err, size_t errlen)
{
	FILE *f = fopen(o->transactions, "r");
	char line[512], sql[600];
	struct ucount *u = NULL;
	int n = 0, lineno = 0, rc = -EINVAL;
	sqlite3_stmt *s = NULL;
	double *cov = NULL;

	if (!f) {
		int_seterr(err, errlen, "%s: cannot read: %s", o->transactions, strerror(errno));
		return -errno;
	}
	if (!(u = calloc(INT_MAX_UNITS, sizeof *u)))
		goto nomem;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *comma = strrchr(line, ',');
		if (lineno == 1 && comma && strcmp(comma + 1, "transactions") == 0)
			continue; /* header */
		if (!line[0])
			continue;
		char *end = NULL;
		long long v = comma ? strtoll(comma + 1, &end, 10) : -1;
		if (!comma || comma == line || !end || *end || end == comma + 1 || v < 0) {
			int_seterr(err, errlen, "%s:%d: expected UNIT,TRANSACTIONS (a count >= 0)", o->transactions, lineno);
			goto done;
		}
		if (n == INT_MAX_UNITS) {
			int_seterr(err, errlen, "%s:%d: more than %d units", o->transactions, lineno, INT_MAX_UNITS);
			goto done;
		}
		*comma = '\0';
		for (int i = 0; i < n; i++)
			if (strcmp(u[i].unit, line) == 0) { /* summed or the last one? neither: asked */
				int_seterr(err, errlen, "%s:%d: unit %s is counted twice (give one line per unit)",
				           o->transactions, lineno, line);
				goto done;
			}
		if (!(u[n].unit = strdup(line)))
			goto nomem;
		u[n++].transactions = v;
	}
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM surveys s WHERE " INT_WHERE " AND s.%s = ?4", o->by);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = -EIO;
		int_seterr(err, errlen, "coverage: %s", sqlite3_errmsg(db));
		goto done;
	}
	if (!(cov = calloc((size_t)n + 1, sizeof *cov)))
		goto nomem;
	int nc = 0;
	for (int i = 0; i < n; i++) {
		sqlite3_reset(s);
		int_bind(s, o);
		sqlite3_bind_text(s, 4, u[i].unit, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_ROW) {
			rc = -EIO;
			int_seterr(err, errlen, "coverage: %s", sqlite3_errmsg(db));
			goto done;
		}
		u[i].triggers = sqlite3_column_int64(s, 0);
		if (u[i].transactions > 0) {
			u[i].coverage = (double)u[i].triggers / (double)u[i].transactions;
			cov[nc++] = u[i].coverage;
		}
	}
	qsort(cov, (size_t)nc, sizeof *cov, cmp_double);
	double median = nc == 0 ? 0 : nc % 2 ? cov[nc / 2] : (cov[nc / 2 - 1] + cov[nc / 2]) / 2;
	for (int i = 0; i < n && median > 0; i++) {
		if (u[i].transactions == 0 || u[i].coverage >= o->coverage_ratio * median)
			continue;
		struct iflag *fl = flag_new(c, "low_coverage", u[i].unit);
		if (!fl)
			break;
		fl->observed = u[i].coverage;
		fl->threshold = o->coverage_ratio * median;
		fl->strength = u[i].coverage > 0 ? median / u[i].coverage : INFINITY;
		snprintf(fl->detail, sizeof fl->detail,
		         "%lld triggers for %lld transactions (%.1f%%), the units' median is %.1f%%", (long long)u[i].triggers,
		         (long long)u[i].transactions, 100 * u[i].coverage, 100 * median);
	}
	rc = 0;
	goto done;
nomem:
	int_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
done:
	fclose(f);
	sqlite3_finalize(s);
	for (int i = 0; u && i < n; i++)
		free(u[i].unit);
	free(u);
	free(cov);
	return rc;
}

/* ---- replies from a number other than the one surveyed ---- */

struct stray {
	char hash[65];
	int64_t t;               /* arrival, unix seconds */
	int64_t best;            /* latest survey to another number within the window before it */
	int unit;                /* that survey's unit, -1 = none */
};

struct stray_sum {
	int total, attributed, late, unattributed;
};

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Replies from numbers with no survey running (stray_replies, kept by
 * hailongd) that arrived shortly after one of a unit's surveys was sent to
 * another number: someone answering for the citizen from their own phone.
 * A number that had been surveyed before is a citizen writing late, not
 * counted. One pass over the surveys; strays in memory. */
static int stray_replies(sqlite3 *db, const struct audit_integrity_opts *o, struct ictx *c, struct stray_sum *sum)
{
	sqlite3_stmt *s = NULL;
	struct stray *st = NULL;
	char **hs = NULL, **units = NULL, sql[600];
	int64_t *first = NULL, *usurveys = NULL;
	int n = 0, cap = 0, nh = 0, nu = 0, rc = -EIO, step;
	int *ucount = NULL;

	memset(sum, 0, sizeof *sum);
	if (sqlite3_prepare_v2(db, "SELECT msisdn_hash, CAST(strftime('%s', at) AS INTEGER) FROM stray_replies"
	                           " WHERE substr(at, 1, 10) BETWEEN ?1 AND ?2 ORDER BY 2", -1, &s, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(s, 1, o->from ? o->from : "0000-00-00", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o->to ? o->to : "9999-99-99", -1, SQLITE_STATIC);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			int nc = cap ? cap * 2 : 64;
			struct stray *p = realloc(st, sizeof *p * (size_t)nc);
			if (!p)
				goto nomem;
			st = p;
			cap = nc;
		}
		snprintf(st[n].hash, sizeof st[n].hash, "%s", (const char *)sqlite3_column_text(s, 0));
		st[n].t = sqlite3_column_int64(s, 1);
		st[n].best = INT64_MIN;
		st[n].unit = -1;
		n++;
	}
	if (step != SQLITE_DONE)
		goto done;
	sqlite3_finalize(s);
	s = NULL;
	sum->total = n;
	if (n == 0) {
		rc = 0;
		goto done;
	}
	/* the distinct hashes, sorted, with the first time each was surveyed */
	if (!(hs = calloc((size_t)n, sizeof *hs)) || !(first = calloc((size_t)n, sizeof *first)) ||
	    !(units = calloc(INT_MAX_UNITS, sizeof *units)) || !(ucount = calloc(INT_MAX_UNITS, sizeof *ucount)) ||
	    !(usurveys = calloc(INT_MAX_UNITS, sizeof *usurveys)))
		goto nomem;
	for (int i = 0; i < n; i++)
		hs[i] = st[i].hash;
	qsort(hs, (size_t)n, sizeof *hs, cmp_str);
	for (int i = 0; i < n; i++)
		if (nh == 0 || strcmp(hs[nh - 1], hs[i]) != 0)
			hs[nh++] = hs[i];
	for (int i = 0; i < nh; i++)
		first[i] = INT64_MAX;
	snprintf(sql, sizeof sql,
	         "SELECT msisdn_hash, CAST(strftime('%%s', triggered_at) AS INTEGER), ?1 IS NULL OR campaign_id = ?1,"
	         " COALESCE(%s, ''), substr(triggered_at, 1, 10) BETWEEN ?2 AND ?3 FROM surveys"
	         " WHERE triggered_at IS NOT NULL", o->by);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto done;
	int_bind(s, o);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 0), *unit = (const char *)sqlite3_column_text(s, 3);
		int64_t t = sqlite3_column_int64(s, 1);
		char **hit = h ? bsearch(&h, hs, (size_t)nh, sizeof *hs, cmp_str) : NULL;
		int u;

		if (hit && t < first[hit - hs])
			first[hit - hs] = t;
		if (!sqlite3_column_int(s, 2))
			continue; /* another campaign */
		for (u = 0; u < nu && strcmp(units[u], unit) != 0; u++)
			;
		if (u == nu) {
			if (nu == INT_MAX_UNITS || !(units[nu] = strdup(unit)))
				continue;
			nu++;
		}
		if (sqlite3_column_int(s, 4))
			usurveys[u]++;
		/* the strays within the window after this survey: first with t >= the survey's */
		int lo = 0, hi = n;
		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;
			if (st[mid].t < t)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (int i = lo; i < n && st[i].t - t <= o->stray_window_s; i++)
			if (t > st[i].best && (!h || strcmp(h, st[i].hash) != 0)) {
				st[i].best = t;
				st[i].unit = u;
			}
	}
	if (step != SQLITE_DONE)
		goto done;
	for (int i = 0; i < n; i++) {
		const char *key = st[i].hash;
		char **hit = bsearch(&key, hs, (size_t)nh, sizeof *hs, cmp_str);

		if (hit && first[hit - hs] <= st[i].t)
			sum->late++;
		else if (st[i].unit < 0)
			sum->unattributed++;
		else {
			sum->attributed++;
			ucount[st[i].unit]++;
		}
	}
	for (int u = 0; u < nu; u++) {
		if (ucount[u] < o->stray_min)
			continue;
		struct iflag *fl = flag_new(c, "other_number", units[u]);
		if (!fl)
			break;
		fl->observed = ucount[u];
		fl->threshold = o->stray_min;
		fl->strength = (double)ucount[u] / o->stray_min;
		snprintf(fl->detail, sizeof fl->detail,
		         "%d replies from numbers with no survey arrived within %lld min after a survey of this unit was"
		         " sent to another number (%.1f per 100 of its %lld surveys in the period)",
		         ucount[u], (long long)(o->stray_window_s / 60),
		         usurveys[u] ? 100.0 * ucount[u] / (double)usurveys[u] : 0.0, (long long)usurveys[u]);
	}
	rc = 0;
	goto done;
nomem:
	c->nomem = 1;
	rc = -ENOMEM;
done:
	sqlite3_finalize(s);
	for (int u = 0; u < nu; u++)
		free(units[u]);
	free(units);
	free(ucount);
	free(usurveys);
	free(first);
	free(hs);
	free(st);
	return rc;
}

static void csv_q(FILE *out, const char *v)
{
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

int audit_integrity(struct archive *a, const struct audit_integrity_opts *o, FILE *out, char *err, size_t errlen)
{
	sqlite3 *db = archive_sqlite(a);
	struct ictx c = {0};
	int rc;

	if (!audit_unit_valid(o->by) || o->window_s <= 0 || o->max_per_number < 2 || o->max_agencies < 2 ||
	    o->min_item_s <= 0 ||
	    o->fast_min < 1 || o->fast_share <= 0 || o->coverage_ratio <= 0 || o->stray_window_s <= 0 ||
	    o->stray_min < 1) {
		int_seterr(err, errlen, "integrity: bad threshold");
		return -EINVAL;
	}
	if (o->campaign) { /* a misspelt campaign is not a clean bill of health */
		sqlite3_stmt *k = NULL;
		int st = sqlite3_prepare_v2(db, "SELECT 1 FROM surveys WHERE campaign_id = ?1 LIMIT 1", -1, &k, NULL);
		if (st == SQLITE_OK) {
			sqlite3_bind_text(k, 1, o->campaign, -1, SQLITE_STATIC);
			st = sqlite3_step(k);
		}
		sqlite3_finalize(k);
		if (st == SQLITE_DONE) {
			int_seterr(err, errlen, "integrity: campaign %s has no survey in this archive: nothing to check",
			           o->campaign);
			return -ENOENT;
		}
		if (st != SQLITE_ROW) {
			int_seterr(err, errlen, "integrity: %s", sqlite3_errmsg(db));
			return -EIO;
		}
	}
	struct stray_sum ss;
	if (shared_numbers(db, o, &c) < 0 || fast_answers(db, o, &c) < 0 || stray_replies(db, o, &c, &ss) == -EIO) {
		int_seterr(err, errlen, "integrity: %s", sqlite3_errmsg(db));
		rc = -EIO;
		goto done;
	}
	if (o->transactions && (rc = low_coverage(db, o, &c, err, errlen)) < 0)
		goto done;
	if (c.nomem) {
		int_seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto done;
	}
	const char *cov_note = o->transactions ? NULL
	                                        : "not measured: give --transactions FILE (UNIT,TRANSACTIONS per unit, from the one-stop system)";
	if (o->fmt == AUDIT_FMT_JSON) {
		json_t *doc = json_object(), *fl = json_array();
		json_object_set_new(doc, "campaign", o->campaign ? json_string(o->campaign) : json_null());
		json_object_set_new(doc, "thresholds",
		                    json_pack("{s:I,s:i,s:i,s:f,s:i,s:f,s:f}", "window_s", (json_int_t)o->window_s,
		                              "max_per_number", o->max_per_number, "max_agencies", o->max_agencies, "min_item_s", o->min_item_s, "fast_min",
		                              o->fast_min, "fast_share", o->fast_share, "coverage_ratio", o->coverage_ratio));
		for (int i = 0; i < c.n; i++)
			json_array_append_new(fl, json_pack("{s:s,s:s,s:f,s:f,s:o,s:s}", "signal", c.f[i].signal, "unit",
			                                     c.f[i].unit, "observed", c.f[i].observed, "threshold",
			                                     c.f[i].threshold, "strength",
			                                     isinf(c.f[i].strength) ? json_null() : json_real(c.f[i].strength),
			                                     "detail", c.f[i].detail));
		json_object_set_new(doc, "flags", fl);
		json_object_set_new(doc, "stray_replies",
		                    json_pack("{s:i,s:i,s:i,s:i,s:I,s:i}", "total", ss.total, "attributed", ss.attributed,
		                              "late_citizen", ss.late, "unattributed", ss.unattributed, "window_s",
		                              (json_int_t)o->stray_window_s, "min", o->stray_min));
		json_object_set_new(doc, "not_measured", json_pack("{s:s?}", "low_coverage", cov_note));
		json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(doc);
	} else if (o->fmt == AUDIT_FMT_CSV) {
		fputs("signal,unit,observed,threshold,strength,detail\n", out);
		for (int i = 0; i < c.n; i++) {
			fprintf(out, "%s,", c.f[i].signal);
			csv_q(out, c.f[i].unit);
			fprintf(out, ",%.4f,%.4f,%.2f,", c.f[i].observed, c.f[i].threshold, c.f[i].strength);
			csv_q(out, c.f[i].detail);
			fputc('\n', out);
		}
		fprintf(out, "stray_replies,,%d,,,", ss.total);
		fprintf(out, "\"%d attributed to a unit, %d from numbers surveyed before, %d unattributed\"\n",
		        ss.attributed, ss.late, ss.unattributed);
		if (cov_note) {
			fputs("low_coverage,,,,,", out);
			csv_q(out, cov_note);
			fputc('\n', out);
		}
	} else {
		fprintf(out, "Integrity signals%s%s: %d flag%s\n", o->campaign ? " of " : "", o->campaign ? o->campaign : "",
		        c.n, c.n == 1 ? "" : "s");
		for (int i = 0; i < c.n; i++)
			fprintf(out, "! %-14s %-28s strength %5.1fx  %s\n", c.f[i].signal, c.f[i].unit, c.f[i].strength,
			        c.f[i].detail);
		fprintf(out, "- stray replies (from numbers with no survey running): %d, %d attributed to a unit, %d from"
		             " numbers surveyed before, %d unattributed\n", ss.total, ss.attributed, ss.late, ss.unattributed);
		if (cov_note)
			fprintf(out, "- low_coverage: %s\n", cov_note);
		fprintf(out, "thresholds: shared_number %d triggers or %d agencies in %lld h; fast_answers < %.1f s/item in >= %d surveys"
		             " and >= %.0f%% of a unit; low_coverage < %.0f%% of the median; other_number >= %d stray replies"
		             " within %lld min\n",
		        o->max_per_number, o->max_agencies, (long long)(o->window_s / 3600), o->min_item_s, o->fast_min,
		        100 * o->fast_share, 100 * o->coverage_ratio, o->stray_min, (long long)(o->stray_window_s / 60));
	}
	rc = c.n;
done:
	free(c.f);
	return rc;
}
