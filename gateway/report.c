/* report: the satisfaction report read from the archive's rollups (docs/archive.md), as one JSON document.
 *
 * archive.c writes the archive and keeps the rollups; this file only reads,
 * through a connection of its own, so it includes sqlite3.h too: reading and
 * writing are different jobs, and the dashboard reads while hailongd writes. */
#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "archive.h"

#define REPORT_OFFSET_S 25200         /* the rollups' local day: UTC+07:00 (archive.c) */
#define REPORT_Z 1.959963984540054    /* 95% two-sided normal quantile */
#define REPORT_MAX_FILL 4000          /* periods filled in between; beyond, only those seen */
#define NVIEWS 4

static const char *const dim_names[REPORT_NDIMS] = {
	"agency", "procedure", "channel", "day", "week", "month", "quarter", "year",
};
#define status_names archive_status_names
#define NSTATUS ARCHIVE_NSTATUS
static const char method_pooled[] = "pooled: satisfied answers / all rated answers";
static const char method_mean[] = "mean of group shares: each group weighs the same";

struct report_db {
	sqlite3 *db;
};

/* A question as the report's campaign version defines it. */
struct qdef {
	char *id, *grp, *type, *text; /* grp "" = none; type "?" = not in the version */
	int position;                 /* 0 = not in the version */
	int sat[32], nsat;            /* satisfied values */
	struct { int value; char *label; } opts[32];
	int nopts;
};

struct vcount { int value; int64_t n; };

struct qacc {
	int64_t rows, valued, satisfied, texts;
	double sum;
	struct vcount *v;             /* counts per value, ascending */
	int nv, capv;
};

struct slice {
	char *key[REPORT_MAX_BY];     /* dimension values ("" = none) */
	int64_t status[NSTATUS + 1];  /* last: other */
	int64_t surveys, rated, citizens, citizens_completed;
	uint64_t seen, seen_done;     /* last citizen counted here (scan epoch) */
	struct qacc *qa;              /* per question, grown on use */
	int nqa;
	int64_t *grp_resp;            /* respondents per group, grown on use */
	int ngr;
};

struct view {
	enum report_dim dim[REPORT_MAX_BY];
	int ndim;
	struct slice **s;
	int ns, caps;
	int *hash;                    /* open addressing: slice index + 1, 0 = empty */
	int hcap;
	int off;                      /* not computed (the slices of a report without --by) */
	struct ucache { int64_t key; struct slice *s; } *uc; /* (day, unit id) -> slice */
	int ucap, nuc;
};

struct rep {
	struct qdef *q;
	int nq, capq;
	char **grp;                   /* group names, in the order of their first question */
	int ng, capg;
	struct view v[NVIEWS];        /* total, slices, ranking units, trend */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *report_dim_name(enum report_dim d)
{
	return (unsigned)d < REPORT_NDIMS ? dim_names[d] : "?";
}

static int dim_is_period(enum report_dim d)
{
	return d >= REPORT_DAY;
}

int report_parse_by(const char *s, struct report_query *q, char *err, size_t errlen)
{
	q->nby = 0;
	while (s && *s) {
		size_t len = strcspn(s, ",");
		int d = 0;

		while (d < REPORT_NDIMS && !(strlen(dim_names[d]) == len && strncmp(s, dim_names[d], len) == 0))
			d++;
		if (d == REPORT_NDIMS) {
			seterr(err, errlen, "unknown --by value '%.*s' (agency, procedure, channel, day, week, "
			       "month, quarter or year)", (int)len, s);
			return -EINVAL;
		}
		if (q->nby == REPORT_MAX_BY) {
			seterr(err, errlen, "--by takes one or two dimensions");
			return -EINVAL;
		}
		if (q->nby == 1 && (q->by[0] == (enum report_dim)d ||
		                    (dim_is_period(q->by[0]) && dim_is_period((enum report_dim)d)))) {
			seterr(err, errlen, "--by: '%s' with '%s' (two different dimensions, at most one period)",
			       dim_names[q->by[0]], dim_names[d]);
			return -EINVAL;
		}
		q->by[q->nby++] = (enum report_dim)d;
		s += len;
		if (*s == ',' && !*++s) {
			seterr(err, errlen, "--by ends with a comma");
			return -EINVAL;
		}
	}
	if (q->nby == 0) {
		seterr(err, errlen, "--by needs a dimension");
		return -EINVAL;
	}
	return 0;
}

/* ---- dates: days since 1970-01-01 (H. Hinnant's civil algorithms) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "YYYY-MM-DD..." into days; -1 when not a real date. */
static int parse_date(const char *s, int64_t *days)
{
	int y, m, d, yy, mm, dd;

	if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) < 0 ||
	    digits(s + 5, 2, &m) < 0 || digits(s + 8, 2, &d) < 0 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	*days = days_from_civil(y, m, d);
	civil_from_days(*days, &yy, &mm, &dd);
	return yy == y && mm == m && dd == d ? 0 : -1;
}

int report_check_date(const char *s)
{
	int64_t d;

	return s && strlen(s) == 10 && parse_date(s, &d) == 0 ? 0 : -EINVAL;
}

int report_check_status(const char *s)
{
	for (int i = 0; s && i < NSTATUS; i++)
		if (strcmp(s, status_names[i]) == 0)
			return 0;
	return -EINVAL;
}

static void fmt_day(int64_t days, char *buf, size_t cap)
{
	int y, m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, cap, "%04d-%02d-%02d", y, m, d);
}

/* The label of local day `day` ("" = unknown) in period dimension d. */
static void period_label(enum report_dim d, const char *day, char *buf, size_t cap)
{
	int64_t days;
	int y = 0, m = 0;

	if (!day[0] || parse_date(day, &days) < 0) {
		snprintf(buf, cap, "%s", "");
		return;
	}
	digits(day, 4, &y);
	digits(day + 5, 2, &m);
	y = (y % 10000 + 10000) % 10000; /* known already; tells the compiler the widths */
	m = (m % 100 + 100) % 100;
	switch (d) {
	case REPORT_WEEK:
		fmt_day(days - (((days + 3) % 7) + 7) % 7, buf, cap); /* the Monday */
		break;
	case REPORT_MONTH:
		snprintf(buf, cap, "%04d-%02d", y, m);
		break;
	case REPORT_QUARTER:
		snprintf(buf, cap, "%04d-Q%d", y, (m + 2) / 3);
		break;
	case REPORT_YEAR:
		snprintf(buf, cap, "%04d", y);
		break;
	default:
		snprintf(buf, cap, "%.10s", day);
		break;
	}
}

/* The period after `label` in dimension d, into buf; -1 when label is not one. */
static int period_next(enum report_dim d, const char *label, char *buf, size_t cap)
{
	int64_t days;
	int y, m, n;

	switch (d) {
	case REPORT_DAY:
	case REPORT_WEEK:
		if (parse_date(label, &days) < 0)
			return -1;
		fmt_day(days + (d == REPORT_DAY ? 1 : 7), buf, cap);
		return 0;
	case REPORT_MONTH:
		if (strlen(label) != 7 || digits(label, 4, &y) < 0 || digits(label + 5, 2, &m) < 0)
			return -1;
		snprintf(buf, cap, "%04d-%02d", m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
		return 0;
	case REPORT_QUARTER:
		if (strlen(label) != 7 || digits(label, 4, &y) < 0 || digits(label + 6, 1, &n) < 0)
			return -1;
		snprintf(buf, cap, "%04d-Q%d", n == 4 ? y + 1 : y, n == 4 ? 1 : n + 1);
		return 0;
	case REPORT_YEAR:
		if (strlen(label) != 4 || digits(label, 4, &y) < 0)
			return -1;
		snprintf(buf, cap, "%04d", y + 1);
		return 0;
	default:
		return -1;
	}
}

/* ---- slices ---- */

static uint64_t hash_key(const char *const *k, int n)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < n; i++) {
		for (const char *p = k[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ 0x1f) * 1099511628211ull;
	}
	return h;
}

static int key_equal(const struct slice *s, const char *const *k, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s->key[i], k[i]) != 0)
			return 0;
	return 1;
}

static void slice_free(struct slice *s)
{
	if (!s)
		return;
	for (int i = 0; i < REPORT_MAX_BY; i++)
		free(s->key[i]);
	for (int i = 0; i < s->nqa; i++)
		free(s->qa[i].v);
	free(s->qa);
	free(s->grp_resp);
	free(s);
}

static int view_rehash(struct view *v, int cap)
{
	int *h = calloc((size_t)cap, sizeof *h);

	if (!h)
		return -ENOMEM;
	for (int i = 0; i < v->ns; i++) {
		uint64_t x = hash_key((const char *const *)v->s[i]->key, v->ndim) & (uint64_t)(cap - 1);

		while (h[x])
			x = (x + 1) & (uint64_t)(cap - 1);
		h[x] = i + 1;
	}
	free(v->hash);
	v->hash = h;
	v->hcap = cap;
	return 0;
}

/* The slice of key k in view v, created when absent; NULL on ENOMEM. */
static struct slice *view_slice(struct view *v, const char *const *k)
{
	uint64_t x;
	struct slice *s;

	if (v->hcap == 0 && view_rehash(v, 64) < 0)
		return NULL;
	x = hash_key(k, v->ndim) & (uint64_t)(v->hcap - 1);
	while (v->hash[x]) {
		s = v->s[v->hash[x] - 1];
		if (key_equal(s, k, v->ndim))
			return s;
		x = (x + 1) & (uint64_t)(v->hcap - 1);
	}
	if (v->ns == v->caps) {
		int cap = v->caps ? v->caps * 2 : 16;
		struct slice **ns = realloc(v->s, (size_t)cap * sizeof *ns);

		if (!ns)
			return NULL;
		v->s = ns;
		v->caps = cap;
	}
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	for (int i = 0; i < REPORT_MAX_BY; i++) {
		if (!(s->key[i] = strdup(i < v->ndim ? k[i] : ""))) {
			slice_free(s);
			return NULL;
		}
	}
	v->s[v->ns++] = s;
	if (v->ns * 2 > v->hcap)
		return view_rehash(v, v->hcap * 2) < 0 ? NULL : s;
	v->hash[x] = v->ns;
	return s;
}

/* The row's dimension values. */
struct rowkey {
	const char *day, *agency, *procedure, *channel;
};

static struct slice *row_slice(struct view *v, const struct rowkey *r)
{
	char lab[REPORT_MAX_BY][16];
	const char *k[REPORT_MAX_BY];

	for (int i = 0; i < v->ndim; i++) {
		switch (v->dim[i]) {
		case REPORT_AGENCY:
			k[i] = r->agency;
			break;
		case REPORT_PROCEDURE:
			k[i] = r->procedure;
			break;
		case REPORT_CHANNEL:
			k[i] = r->channel;
			break;
		default:
			period_label(v->dim[i], r->day, lab[i], sizeof lab[i]);
			k[i] = lab[i];
			break;
		}
	}
	return view_slice(v, k);
}

static struct qacc *slice_q(struct slice *s, int qi)
{
	if (qi >= s->nqa) {
		int n = qi + 8;
		struct qacc *nq = realloc(s->qa, (size_t)n * sizeof *nq);

		if (!nq)
			return NULL;
		memset(nq + s->nqa, 0, (size_t)(n - s->nqa) * sizeof *nq);
		s->qa = nq;
		s->nqa = n;
	}
	return &s->qa[qi];
}

static int64_t *slice_g(struct slice *s, int gi)
{
	if (gi >= s->ngr) {
		int n = gi + 8;
		int64_t *ng = realloc(s->grp_resp, (size_t)n * sizeof *ng);

		if (!ng)
			return NULL;
		memset(ng + s->ngr, 0, (size_t)(n - s->ngr) * sizeof *ng);
		s->grp_resp = ng;
		s->ngr = n;
	}
	return &s->grp_resp[gi];
}

static int qacc_add(struct qacc *a, int value, int64_t n)
{
	int i = 0;

	while (i < a->nv && a->v[i].value < value)
		i++;
	if (i < a->nv && a->v[i].value == value) {
		a->v[i].n += n;
		return 0;
	}
	if (a->nv == a->capv) {
		int cap = a->capv ? a->capv * 2 : 8;
		struct vcount *nv = realloc(a->v, (size_t)cap * sizeof *nv);

		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->capv = cap;
	}
	memmove(&a->v[i + 1], &a->v[i], (size_t)(a->nv - i) * sizeof *a->v);
	a->v[i].value = value;
	a->v[i].n = n;
	a->nv++;
	return 0;
}

/* ---- definitions ---- */

static int find_q(const struct rep *r, const char *id)
{
	for (int i = 0; i < r->nq; i++)
		if (strcmp(r->q[i].id, id) == 0)
			return i;
	return -1;
}

static struct qdef *add_q(struct rep *r, const char *id)
{
	struct qdef *q;

	if (r->nq == r->capq) {
		int cap = r->capq ? r->capq * 2 : 16;
		struct qdef *nq = realloc(r->q, (size_t)cap * sizeof *nq);

		if (!nq)
			return NULL;
		r->q = nq;
		r->capq = cap;
	}
	q = &r->q[r->nq];
	memset(q, 0, sizeof *q);
	if (!(q->id = strdup(id)))
		return NULL;
	r->nq++;
	return q;
}

/* The index of an answered question; one not in the version is appended as type "?". */
static int answered_q(struct rep *r, const char *id)
{
	int i = find_q(r, id);
	struct qdef *q;

	if (i >= 0)
		return i;
	if (!(q = add_q(r, id)) || !(q->grp = strdup("")) || !(q->type = strdup("?")) ||
	    !(q->text = strdup("")))
		return -1;
	return r->nq - 1;
}

static int find_g(struct rep *r, const char *name, int create)
{
	for (int i = 0; i < r->ng; i++)
		if (strcmp(r->grp[i], name) == 0)
			return i;
	if (!create)
		return -1;
	if (r->ng == r->capg) {
		int cap = r->capg ? r->capg * 2 : 8;
		char **ng = realloc(r->grp, (size_t)cap * sizeof *ng);

		if (!ng)
			return -1;
		r->grp = ng;
		r->capg = cap;
	}
	if (!(r->grp[r->ng] = strdup(name)))
		return -1;
	return r->ng++;
}

static int parse_ints(const char *s, int *out, int cap)
{
	int n = 0;

	while (s && *s && n < cap) {
		char *end;
		long v;

		while (*s == ',' || *s == ' ')
			s++;
		if (!*s)
			break;
		errno = 0;
		v = strtol(s, &end, 10);
		if (end == s)
			break;
		if (errno == 0 && v >= -2147483647L && v <= 2147483647L)
			out[n++] = (int)v;
		s = end;
	}
	return n;
}

static int is_sat(const struct qdef *q, int v)
{
	for (int i = 0; i < q->nsat; i++)
		if (q->sat[i] == v)
			return 1;
	return 0;
}

static void rep_free(struct rep *r)
{
	for (int i = 0; i < r->nq; i++) {
		free(r->q[i].id);
		free(r->q[i].grp);
		free(r->q[i].type);
		free(r->q[i].text);
		for (int k = 0; k < r->q[i].nopts; k++)
			free(r->q[i].opts[k].label);
	}
	free(r->q);
	for (int i = 0; i < r->ng; i++)
		free(r->grp[i]);
	free(r->grp);
	for (int v = 0; v < NVIEWS; v++) {
		for (int i = 0; i < r->v[v].ns; i++)
			slice_free(r->v[v].s[i]);
		free(r->v[v].s);
		free(r->v[v].hash);
		free(r->v[v].uc);
	}
}

static const char *col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

/* ---- the connection ---- */

struct report_db *report_db_open(const char *path, char *err, size_t errlen)
{
	struct report_db *db = calloc(1, sizeof *db);
	sqlite3_stmt *s = NULL;

	if (!db) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", path, db->db ? sqlite3_errmsg(db->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 5000);
	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(db->db));
		goto fail;
	}
	if (sqlite3_column_int(s, 0) != 3) {
		seterr(err, errlen, "%s: archive schema %d, the report reads schema 3", path,
		       sqlite3_column_int(s, 0));
		goto fail;
	}
	sqlite3_finalize(s);
	return db;
fail:
	sqlite3_finalize(s);
	report_db_close(db);
	return NULL;
}

void report_db_close(struct report_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db);
}

/* ---- loading ---- */

/* WHERE clause for the query's filters over a table with columns day (or
 * triggered_at when `surveys`), agency, procedure, status; binds from ?2 on. */
static void where_sql(const struct report_query *q, int surveys, char *buf, size_t cap)
{
	size_t len = (size_t)snprintf(buf, cap, "campaign_id = ?1");

	if (q->from && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, surveys ? " AND triggered_at >= ?2" : " AND day >= ?2");
	if (q->to && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, surveys ? " AND triggered_at < ?3" : " AND day <= ?3");
	if (q->agency && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " AND agency = ?4");
	if (q->procedure && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " AND procedure = ?5");
	if (q->status && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " AND status = ?6");
	if (q->nagencies >= 0 && len < cap) {
		len += (size_t)snprintf(buf + len, cap - len, " AND agency IN (''");
		for (int i = 0; i < q->nagencies && len < cap; i++)
			len += (size_t)snprintf(buf + len, cap - len, ", ?%d", 10 + i);
		if (len < cap)
			snprintf(buf + len, cap - len, ")");
		/* '' never names an agency a token may see: placeholder for an empty list */
	}
}

/* The UTC instant (ISO text) where local day `date` (+ add days) begins. */
static void day_start_utc(const char *date, int add, char *buf, size_t cap)
{
	int64_t days = 0;
	int64_t t;
	int y, m, d;

	parse_date(date, &days);
	t = (days + add) * 86400 - REPORT_OFFSET_S;
	civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &m, &d);
	t -= (t >= 0 ? t / 86400 : (t - 86399) / 86400) * 86400;
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(t / 3600), (int)(t / 60 % 60),
	         (int)(t % 60));
}

static int prepare(struct report_db *db, const struct report_query *q, const char *sql, int surveys,
                   sqlite3_stmt **out, char *err, size_t errlen)
{
	char a[32], b[32];

	if (sqlite3_prepare_v2(db->db, sql, -1, out, NULL) != SQLITE_OK) {
		seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
		return -EIO;
	}
	sqlite3_bind_text(*out, 1, q->campaign, -1, SQLITE_TRANSIENT);
	if (q->from) {
		if (surveys)
			day_start_utc(q->from, 0, a, sizeof a);
		sqlite3_bind_text(*out, 2, surveys ? a : q->from, -1, SQLITE_TRANSIENT);
	}
	if (q->to) {
		if (surveys)
			day_start_utc(q->to, 1, b, sizeof b);
		sqlite3_bind_text(*out, 3, surveys ? b : q->to, -1, SQLITE_TRANSIENT);
	}
	if (q->agency)
		sqlite3_bind_text(*out, 4, q->agency, -1, SQLITE_TRANSIENT);
	if (q->procedure)
		sqlite3_bind_text(*out, 5, q->procedure, -1, SQLITE_TRANSIENT);
	if (q->status)
		sqlite3_bind_text(*out, 6, q->status, -1, SQLITE_TRANSIENT);
	for (int i = 0; i < q->nagencies; i++)
		sqlite3_bind_text(*out, 10 + i, q->agencies[i], -1, SQLITE_TRANSIENT);
	return 0;
}

/* A question's wording as the citizen read it: "{n}" its number, "{total}"
 * the number of questions. Replaces *text (owned). */
static int fill_numbers(char **text, int n, int total)
{
	size_t cap = strlen(*text) * 2 + 32, len = 0;
	char *out = malloc(cap);
	const char *p = *text;

	if (!out)
		return -ENOMEM;
	while (*p && len + 24 < cap) {
		if (strncmp(p, "{n}", 3) == 0) {
			len += (size_t)snprintf(out + len, cap - len, "%d", n);
			p += 3;
		} else if (strncmp(p, "{total}", 7) == 0) {
			len += (size_t)snprintf(out + len, cap - len, "%d", total);
			p += 7;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	free(*text);
	*text = out;
	return 0;
}

/* The version whose questions are shown, its name, and the definitions. */
static int load_defs(struct report_db *db, struct rep *r, const char *campaign, json_t *root,
                     char *err, size_t errlen)
{
	static const char vsql[] =
		"SELECT v.campaign_version, v.name FROM campaign_versions v WHERE v.campaign_id = ?1"
		" ORDER BY EXISTS(SELECT 1 FROM surveys s WHERE s.campaign_id = v.campaign_id"
		" AND s.campaign_version = v.campaign_version) DESC, v.rowid DESC LIMIT 1";
	static const char qsql[] =
		"SELECT question_id, position, COALESCE(grp, ''), type, COALESCE(text, ''), satisfied"
		" FROM campaign_questions WHERE campaign_id = ?1 AND campaign_version = ?2 ORDER BY position";
	static const char osql[] =
		"SELECT question_id, value, COALESCE(label, '') FROM campaign_options"
		" WHERE campaign_id = ?1 AND campaign_version = ?2 ORDER BY question_id, value";
	sqlite3_stmt *s = NULL;
	char *version = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db->db, vsql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		version = strdup(col(s, 0));
		json_object_set_new(root, "name", json_string(col(s, 1)));
		json_object_set_new(root, "version", json_string(col(s, 0)));
	} else if (rc != SQLITE_DONE) {
		goto sqlfail;
	} else {
		json_object_set_new(root, "name", json_null());
		json_object_set_new(root, "version", json_null());
	}
	sqlite3_finalize(s);
	s = NULL;
	if (!version)
		return 0;
	if (sqlite3_prepare_v2(db->db, qsql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct qdef *q = add_q(r, col(s, 0));

		if (!q || !(q->grp = strdup(col(s, 2))) || !(q->type = strdup(col(s, 3))) ||
		    !(q->text = strdup(col(s, 4))))
			goto nomem;
		q->position = sqlite3_column_int(s, 1);
		q->nsat = parse_ints(col(s, 5), q->sat, 32);
		if (q->nsat > 0 && find_g(r, q->grp, 1) < 0)
			goto nomem;
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	s = NULL;
	for (int i = 0; i < r->nq; i++)
		if (fill_numbers(&r->q[i].text, r->q[i].position, r->nq) < 0)
			goto nomem;
	if (sqlite3_prepare_v2(db->db, osql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int i = find_q(r, col(s, 0));
		struct qdef *q = i >= 0 ? &r->q[i] : NULL;

		if (!q || q->nopts == 32)
			continue;
		q->opts[q->nopts].value = sqlite3_column_int(s, 1);
		if (!(q->opts[q->nopts].label = strdup(col(s, 2))))
			goto nomem;
		q->nopts++;
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	free(version);
	return 0;
nomem:
	seterr(err, errlen, "out of memory");
	sqlite3_finalize(s);
	free(version);
	return -ENOMEM;
sqlfail:
	seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
	sqlite3_finalize(s);
	free(version);
	return -EIO;
}

/* Which row columns the views need: day, agency, procedure, channel. */
static void needed(const struct rep *r, int need[4])
{
	need[0] = need[1] = need[2] = need[3] = 0;
	for (int v = 0; v < NVIEWS; v++)
		for (int i = 0; i < r->v[v].ndim; i++)
			need[dim_is_period(r->v[v].dim[i]) ? 0 : (int)r->v[v].dim[i] + 1] = 1;
}

static int load_rollups(struct report_db *db, struct rep *r, const struct report_query *q, char *err,
                        size_t errlen)
{
	static const char *const table[3] = {"rollup_surveys", "rollup_answers", "rollup_groups"};
	static const char *const extra[3] = {
		"status, SUM(surveys), SUM(rated)", "question_id, kind, value, SUM(n)", "grp, SUM(n)"};
	static const char *const extra_group[3] = {"status", "question_id, kind, value", "grp"};
	static const char *const cols[4] = {"day", "agency", "procedure", "channel"};
	char where[2048], sel[256] = "", grp[256] = "", sql[4096];
	int need[4], rc;

	needed(r, need);
	for (int i = 0; i < 4; i++) {
		size_t l = strlen(sel), lg = strlen(grp);

		snprintf(sel + l, sizeof sel - l, "%s, ", need[i] ? cols[i] : "''");
		if (need[i])
			snprintf(grp + lg, sizeof grp - lg, "%s, ", cols[i]);
	}
	where_sql(q, 0, where, sizeof where);
	for (int t = 0; t < 3; t++) {
		sqlite3_stmt *s = NULL;

		snprintf(sql, sizeof sql, "SELECT %s%s FROM %s WHERE %s GROUP BY %s%s", sel, extra[t], table[t],
		         where, grp, extra_group[t]);
		if ((rc = prepare(db, q, sql, 0, &s, err, errlen)) < 0)
			return rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct rowkey k = { col(s, 0), col(s, 1), col(s, 2), col(s, 3) };
			int qi = -1, gi = -1, kind = 0, value = 0, si = NSTATUS;
			int64_t n = sqlite3_column_int64(s, t == 1 ? 7 : 5);

			if (t == 0)
				while (si > 0 && strcmp(col(s, 4), status_names[si - 1]) != 0)
					si--;
			if (t == 0 && si == 0)
				si = NSTATUS + 1; /* not a known status: "other" */
			if (t == 1) {
				if ((qi = answered_q(r, col(s, 4))) < 0)
					goto nomem;
				kind = sqlite3_column_int(s, 5);
				value = sqlite3_column_int(s, 6);
			}
			if (t == 2 && (gi = find_g(r, col(s, 4), 1)) < 0)
				goto nomem;
			for (int v = 0; v < NVIEWS; v++) {
				struct slice *sl = r->v[v].off ? NULL : row_slice(&r->v[v], &k);
				const struct qdef *d = qi >= 0 ? &r->q[qi] : NULL;
				struct qacc *a;
				int64_t *g;

				if (r->v[v].off)
					continue;
				if (!sl)
					goto nomem;
				if (t == 0) {
					sl->status[si - 1] += n;
					sl->surveys += n;
					sl->rated += sqlite3_column_int64(s, 6);
				} else if (t == 2) {
					if (!(g = slice_g(sl, gi)))
						goto nomem;
					*g += n;
				} else {
					if (!(a = slice_q(sl, qi)))
						goto nomem;
					if (kind == 0) {
						a->rows += n;
						a->valued += n;
						a->sum += (double)value * (double)n;
						if (d && is_sat(d, value))
							a->satisfied += n;
						if (qacc_add(a, value, n) < 0)
							goto nomem;
					} else if (kind == 1) {
						if (qacc_add(a, value, n) < 0)
							goto nomem;
					} else if (kind == 2) {
						a->rows += n;
					} else {
						a->texts += n;
					}
				}
			}
			continue;
nomem:
			sqlite3_finalize(s);
			seterr(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (rc != SQLITE_DONE) {
			seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
			sqlite3_finalize(s);
			return -EIO;
		}
		sqlite3_finalize(s);
	}
	return 0;
}

/* The slice of (local day number, unit id) in view v, through a small cache. */
static struct slice *cached_slice(struct view *v, int64_t dayn, int64_t uid, const char *const *unit)
{
	int64_t key = dayn * 1048576 + uid;
	uint64_t x;
	struct rowkey k;
	char day[16];
	struct slice *sl;

	if (v->nuc * 2 >= v->ucap) {
		int cap = v->ucap ? v->ucap * 2 : 1024;
		struct ucache *nc = calloc((size_t)cap, sizeof *nc);

		if (!nc)
			return NULL;
		for (int i = 0; i < v->ucap; i++) {
			if (!v->uc[i].s)
				continue;
			x = ((uint64_t)v->uc[i].key * 0x9E3779B97F4A7C15ull) & (uint64_t)(cap - 1);
			while (nc[x].s)
				x = (x + 1) & (uint64_t)(cap - 1);
			nc[x] = v->uc[i];
		}
		free(v->uc);
		v->uc = nc;
		v->ucap = cap;
	}
	x = ((uint64_t)key * 0x9E3779B97F4A7C15ull) & (uint64_t)(v->ucap - 1);
	while (v->uc[x].s) {
		if (v->uc[x].key == key)
			return v->uc[x].s;
		x = (x + 1) & (uint64_t)(v->ucap - 1);
	}
	if (dayn == ARCHIVE_NO_DAY)
		day[0] = '\0';
	else
		fmt_day(dayn, day, sizeof day);
	k.day = day;
	k.agency = unit[0];
	k.procedure = unit[1];
	k.channel = unit[2];
	if (!(sl = row_slice(v, &k)))
		return NULL;
	v->uc[x].key = key;
	v->uc[x].s = sl;
	v->nuc++;
	return sl;
}

/* Distinct citizens per slice: one pass over rollup_citizens, in citizen
 * order (a few bytes per citizen, day, unit and status); a slice counts a
 * citizen once. Filters are applied here, on unit ids and day numbers. */
static int load_citizens(struct report_db *db, struct rep *r, const struct report_query *q, char *err,
                         size_t errlen)
{
	sqlite3_stmt *s = NULL;
	char *(*units)[3] = NULL;
	unsigned char *ok = NULL;
	int64_t nunits = 0, from = INT64_MIN, to = INT64_MAX, prev = 0;
	uint64_t epoch = 0;
	int rc = -EIO, st = -1, first = 1;

	if (q->from)
		parse_date(q->from, &from);
	if (q->to)
		parse_date(q->to, &to);
	if (q->status)
		for (st = 0; st < ARCHIVE_NSTATUS && strcmp(archive_status_names[st], q->status) != 0; st++)
			;
	if (sqlite3_prepare_v2(db->db, "SELECT MAX(uid) FROM rollup_units", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto sqlfail;
	nunits = sqlite3_column_int64(s, 0) + 1;
	sqlite3_finalize(s);
	s = NULL;
	if (nunits < 1 || nunits > 1000000 || !(units = calloc((size_t)nunits, sizeof *units)) ||
	    !(ok = calloc((size_t)nunits, 1)))
		goto nomem;
	if (sqlite3_prepare_v2(db->db, "SELECT uid, agency, procedure, channel FROM rollup_units", -1, &s, NULL) !=
	    SQLITE_OK)
		goto sqlfail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t u = sqlite3_column_int64(s, 0);
		int allowed = q->nagencies < 0;

		if (u < 0 || u >= nunits)
			continue;
		for (int i = 0; i < 3; i++)
			if (!(units[u][i] = strdup(col(s, i + 1))))
				goto nomem;
		for (int i = 0; i < q->nagencies; i++)
			allowed |= strcmp(q->agencies[i], units[u][0]) == 0;
		ok[u] = allowed && (!q->agency || strcmp(q->agency, units[u][0]) == 0) &&
		        (!q->procedure || strcmp(q->procedure, units[u][1]) == 0);
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db->db, "SELECT cid, day, uid, status FROM rollup_citizens WHERE campaign_id = ?1",
	                       -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, q->campaign, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t cid = sqlite3_column_int64(s, 0), day = sqlite3_column_int64(s, 1),
		        u = sqlite3_column_int64(s, 2);
		int status = sqlite3_column_int(s, 3);

		if (u < 0 || u >= nunits || !ok[u] || (st >= 0 && status != st) ||
		    ((q->from || q->to) && (day == ARCHIVE_NO_DAY || day < from || day > to)))
			continue;
		if (first || cid != prev) {
			epoch++;
			prev = cid;
			first = 0;
		}
		for (int v = 0; v < NVIEWS; v++) {
			struct slice *sl;

			if (r->v[v].off)
				continue;
			if (!(sl = cached_slice(&r->v[v], day, u, (const char *const *)units[u])))
				goto nomem;
			if (sl->seen != epoch) {
				sl->seen = epoch;
				sl->citizens++;
			}
			if (status == 0 && sl->seen_done != epoch) {
				sl->seen_done = epoch;
				sl->citizens_completed++;
			}
		}
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	rc = 0;
	goto out;
nomem:
	seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto out;
sqlfail:
	seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
	rc = -EIO;
out:
	sqlite3_finalize(s);
	for (int64_t i = 0; units && i < nunits; i++)
		for (int k = 0; k < 3; k++)
			free(units[i][k]);
	free(units);
	free(ok);
	return rc;
}

/* Local day of an ISO UTC time "YYYY-MM-DDTHH:MM:SSZ" into buf ("" if not one). */
static void local_day(const char *iso, char *buf, size_t cap)
{
	int64_t days;
	int h, mi, s;

	if (parse_date(iso, &days) < 0 || strlen(iso) < 19 || digits(iso + 11, 2, &h) < 0 ||
	    digits(iso + 14, 2, &mi) < 0 || digits(iso + 17, 2, &s) < 0) {
		snprintf(buf, cap, "%s", "");
		return;
	}
	days = days * 86400 + h * 3600 + mi * 60 + s + REPORT_OFFSET_S;
	fmt_day(days >= 0 ? days / 86400 : (days - 86399) / 86400, buf, cap);
}

static int cmp_slice(const void *a, const void *b)
{
	const struct slice *x = *(const struct slice *const *)a, *y = *(const struct slice *const *)b;

	for (int i = 0; i < REPORT_MAX_BY; i++) {
		int c = strcmp(x->key[i], y->key[i]);

		if (c)
			return c;
	}
	return 0;
}

struct strlist {
	char **s;
	int n, cap;
};

static int strlist_add(struct strlist *l, const char *v)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->s[i], v) == 0)
			return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		char **ns = realloc(l->s, (size_t)cap * sizeof *ns);

		if (!ns)
			return -ENOMEM;
		l->s = ns;
		l->cap = cap;
	}
	if (!(l->s[l->n] = strdup(v)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static void strlist_free(struct strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
}

/* Empty slices too: every combination of the values seen in each dimension,
 * periods filled in between (and out to --from and --to). Then sorted. */
static int fill_view(struct view *v, const struct report_query *q)
{
	struct strlist vals[REPORT_MAX_BY];
	int rc = -ENOMEM;

	memset(vals, 0, sizeof vals);
	for (int d = 0; d < v->ndim; d++) {
		char lab[16], next[16];
		const char *lo = NULL, *hi = NULL;

		for (int i = 0; i < v->ns; i++)
			if (strlist_add(&vals[d], v->s[i]->key[d]) < 0)
				goto out;
		if (!dim_is_period(v->dim[d]))
			continue;
		if (q->from) {
			period_label(v->dim[d], q->from, lab, sizeof lab);
			if (strlist_add(&vals[d], lab) < 0)
				goto out;
		}
		if (q->to) {
			period_label(v->dim[d], q->to, lab, sizeof lab);
			if (strlist_add(&vals[d], lab) < 0)
				goto out;
		}
		for (int i = 0; i < vals[d].n; i++) {
			const char *x = vals[d].s[i];

			if (!x[0])
				continue;
			if (!lo || strcmp(x, lo) < 0)
				lo = x;
			if (!hi || strcmp(x, hi) > 0)
				hi = x;
		}
		if (!lo)
			continue;
		snprintf(lab, sizeof lab, "%s", lo);
		snprintf(next, sizeof next, "%s", hi);
		for (int k = 0; k < REPORT_MAX_FILL && strcmp(lab, next) < 0; k++) {
			char n2[16];

			if (period_next(v->dim[d], lab, n2, sizeof n2) < 0)
				break;
			snprintf(lab, sizeof lab, "%s", n2);
			if (strlist_add(&vals[d], lab) < 0)
				goto out;
		}
	}
	if (v->ndim == 0) {
		if (!view_slice(v, NULL))
			goto out;
	} else {
		for (int i = 0; i < vals[0].n; i++) {
			for (int j = 0; j < (v->ndim > 1 ? vals[1].n : 1); j++) {
				const char *k[REPORT_MAX_BY] = { vals[0].s[i], v->ndim > 1 ? vals[1].s[j] : "" };

				if (!view_slice(v, k))
					goto out;
			}
		}
	}
	rc = 0;
out:
	for (int d = 0; d < REPORT_MAX_BY; d++)
		strlist_free(&vals[d]);
	return rc;
}

static int sort_view(struct view *v)
{
	qsort(v->s, (size_t)v->ns, sizeof v->s[0], cmp_slice);
	return view_rehash(v, v->hcap ? v->hcap : 64);
}

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
		json_object_set_new(key, dim_names[v->dim[i]], json_string(s->key[i]));
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
				"label", d->opts[k].label, "satisfied", is_sat(d, d->opts[k].value)));
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
	int rc;

	memset(&r, 0, sizeof r);
	*out = NULL;
	if (!root || !by || !f) {
		rc = -ENOMEM;
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (!q->campaign || (q->from && report_check_date(q->from) < 0) ||
	    (q->to && report_check_date(q->to) < 0) || (q->status && report_check_status(q->status) < 0) ||
	    q->nagencies > REPORT_MAX_AGENCIES || q->nby < 0 || q->nby > REPORT_MAX_BY) {
		seterr(err, errlen, "bad report query");
		rc = -EINVAL;
		goto fail;
	}
	for (int i = 0; i < q->nby; i++) {
		if (dim_is_period(q->by[i]))
			period = q->by[i];
		else if (i == 0 || dim_is_period(q->by[0]))
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
	if ((rc = load_defs(db, &r, q->campaign, root, err, errlen)) < 0 ||
	    (rc = load_rollups(db, &r, q, err, errlen)) < 0)
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
			seterr(err, errlen, "no campaign '%s' in the archive", q->campaign);
			rc = -ENOENT;
			goto fail;
		}
	}
	if ((rc = load_citizens(db, &r, q, err, errlen)) < 0)
		goto fail;
	for (int v = 0; v < NVIEWS; v++) {
		if (r.v[v].off)
			continue;
		if ((rc = fill_view(&r.v[v], q)) < 0 || (rc = sort_view(&r.v[v])) < 0) {
			seterr(err, errlen, "out of memory");
			goto fail;
		}
	}
	json_object_set_new(root, "utc_offset", json_string("+07:00"));
	for (int i = 0; i < q->nby; i++)
		json_array_append_new(by, json_string(dim_names[q->by[i]]));
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
	json_object_set_new(root, "questions", defs_json(&r));
	if (!(x = view_json(&r, &r.v[0])))
		goto nomem;
	json_object_set_new(root, "total", json_incref(json_array_get(x, 0)));
	json_decref(x);
	if (!(x = view_json(&r, &r.v[1])))
		goto nomem;
	json_object_set_new(root, "slices", x);
	if (!(x = view_json(&r, &r.v[2])))
		goto nomem;
	json_object_set_new(root, "ranking", json_pack("{s:s, s:o}", "by", dim_names[unit], "units",
		ranking_json(x, dim_names[unit])));
	json_decref(x);
	if (!(x = view_json(&r, &r.v[3])))
		goto nomem;
	json_object_set_new(root, "trend", json_pack("{s:s, s:o}", "by", dim_names[period], "periods", x));
	rep_free(&r);
	*out = root;
	return 0;
nomem:
	seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	rep_free(&r);
	json_decref(root);
	json_decref(by);
	json_decref(f);
	return rc;
}

/* ---- comments ---- */

void report_mask_digits(char *s)
{
	size_t i = 0;

	while (s[i]) {
		size_t j = i, end = i;
		int nd = 0;

		if (!isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		/* the run: digits, with single spaces, dots or dashes between them; a '+' before is kept */
		while (s[j]) {
			if (isdigit((unsigned char)s[j])) {
				nd++;
				end = ++j;
			} else if ((s[j] == ' ' || s[j] == '.' || s[j] == '-') && isdigit((unsigned char)s[j + 1])) {
				j++;
			} else {
				break;
			}
		}
		if (nd >= 9) {
			int k = 0;

			for (size_t x = i; x < end; x++) {
				if (!isdigit((unsigned char)s[x]))
					continue;
				if (k >= 2 && k < nd - 2)
					s[x] = '*';
				k++;
			}
		}
		i = end;
	}
}

int report_comments(struct report_db *db, const struct report_query *q, json_t **out, char *err,
                    size_t errlen)
{
	char where[2048], sql[4096];
	sqlite3_stmt *s = NULL;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (!arr) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	where_sql(q, 1, where, sizeof where);
	/* the question's type and wording from the survey's own campaign version */
	snprintf(sql, sizeof sql,
	         "SELECT s.survey_id, COALESCE(s.agency, ''), COALESCE(s.procedure, ''),"
	         " COALESCE(s.channel, ''), s.status, s.triggered_at, a.question_id,"
	         " COALESCE(q.text, ''), a.text, a.answered_at"
	         " FROM (SELECT * FROM surveys WHERE %s) s JOIN answers a ON a.survey_id = s.survey_id"
	         " LEFT JOIN campaign_questions q ON q.campaign_id = s.campaign_id"
	         " AND q.campaign_version = s.campaign_version AND q.question_id = a.question_id"
	         " WHERE a.value IS NULL AND a.text <> '' AND COALESCE(q.type, 'text') <> 'multi'"
	         " ORDER BY s.triggered_at, s.survey_id, a.question_id", where);
	if ((rc = prepare(db, q, sql, 1, &s, err, errlen)) < 0) {
		json_decref(arr);
		return rc;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char day[16], *text = strdup(col(s, 8));

		if (!text)
			break;
		report_mask_digits(text);
		local_day(col(s, 5), day, sizeof day);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			"survey_id", col(s, 0), "agency", col(s, 1), "procedure", col(s, 2), "channel", col(s, 3),
			"status", col(s, 4), "date", day, "question", col(s, 6), "question_text", col(s, 7),
			"text", text, "answered_at", col(s, 9)));
		free(text);
	}
	if (rc != SQLITE_DONE) {
		seterr(err, errlen, "comments: %s", rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(db->db));
		sqlite3_finalize(s);
		json_decref(arr);
		return rc == SQLITE_ROW ? -ENOMEM : -EIO;
	}
	sqlite3_finalize(s);
	*out = arr;
	return 0;
}
