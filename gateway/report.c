/* report: the satisfaction report (docs/archive.md): its query, dates and periods, slices, the read connection.
 *
 * archive.c writes the archive and keeps the rollups; the report only reads,
 * through a connection of its own, so report*.c include sqlite3.h too:
 * reading and writing are different jobs, and the dashboard reads while
 * hailongd writes. report_load.c gathers the rows, report_json.c turns them
 * into figures. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

const char *const rp_dim_names[REPORT_NDIMS] = {
	"agency", "procedure", "channel", "day", "week", "month", "quarter", "year",
};

void rp_seterr(char *err, size_t errlen, const char *fmt, ...)
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
	return (unsigned)d < REPORT_NDIMS ? rp_dim_names[d] : "?";
}

int rp_dim_is_period(enum report_dim d)
{
	return d >= REPORT_DAY;
}

int report_parse_by(const char *s, struct report_query *q, char *err, size_t errlen)
{
	q->nby = 0;
	while (s && *s) {
		size_t len = strcspn(s, ",");
		int d = 0;

		while (d < REPORT_NDIMS && !(strlen(rp_dim_names[d]) == len && strncmp(s, rp_dim_names[d], len) == 0))
			d++;
		if (d == REPORT_NDIMS) {
			rp_seterr(err, errlen, "unknown --by value '%.*s' (agency, procedure, channel, day, week, "
			       "month, quarter or year)", (int)len, s);
			return -EINVAL;
		}
		if (q->nby == REPORT_MAX_BY) {
			rp_seterr(err, errlen, "--by takes one or two dimensions");
			return -EINVAL;
		}
		if (q->nby == 1 && (q->by[0] == (enum report_dim)d ||
		                    (rp_dim_is_period(q->by[0]) && rp_dim_is_period((enum report_dim)d)))) {
			rp_seterr(err, errlen, "--by: '%s' with '%s' (two different dimensions, at most one period)",
			       rp_dim_names[q->by[0]], rp_dim_names[d]);
			return -EINVAL;
		}
		q->by[q->nby++] = (enum report_dim)d;
		s += len;
		if (*s == ',' && !*++s) {
			rp_seterr(err, errlen, "--by ends with a comma");
			return -EINVAL;
		}
	}
	if (q->nby == 0) {
		rp_seterr(err, errlen, "--by needs a dimension");
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

void rp_civil_from_days(int64_t z, int *y, int *m, int *d)
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

int rp_digits(const char *s, int n, int *out)
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
int rp_parse_date(const char *s, int64_t *days)
{
	int y, m, d, yy, mm, dd;

	if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-' || rp_digits(s, 4, &y) < 0 ||
	    rp_digits(s + 5, 2, &m) < 0 || rp_digits(s + 8, 2, &d) < 0 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	*days = days_from_civil(y, m, d);
	rp_civil_from_days(*days, &yy, &mm, &dd);
	return yy == y && mm == m && dd == d ? 0 : -1;
}

int report_check_date(const char *s)
{
	int64_t d;

	return s && strlen(s) == 10 && rp_parse_date(s, &d) == 0 ? 0 : -EINVAL;
}

int report_check_status(const char *s)
{
	for (int i = 0; s && i < NSTATUS; i++)
		if (strcmp(s, status_names[i]) == 0)
			return 0;
	return -EINVAL;
}

void rp_fmt_day(int64_t days, char *buf, size_t cap)
{
	int y, m, d;

	rp_civil_from_days(days, &y, &m, &d);
	snprintf(buf, cap, "%04d-%02d-%02d", y, m, d);
}

/* The label of local day `day` ("" = unknown) in period dimension d. */
void rp_period_label(enum report_dim d, const char *day, char *buf, size_t cap)
{
	int64_t days;
	int y = 0, m = 0;

	if (!day[0] || rp_parse_date(day, &days) < 0) {
		snprintf(buf, cap, "%s", "");
		return;
	}
	rp_digits(day, 4, &y);
	rp_digits(day + 5, 2, &m);
	y = (y % 10000 + 10000) % 10000; /* known already; tells the compiler the widths */
	m = (m % 100 + 100) % 100;
	switch (d) {
	case REPORT_WEEK:
		rp_fmt_day(days - (((days + 3) % 7) + 7) % 7, buf, cap); /* the Monday */
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
int rp_period_next(enum report_dim d, const char *label, char *buf, size_t cap)
{
	int64_t days;
	int y, m, n;

	switch (d) {
	case REPORT_DAY:
	case REPORT_WEEK:
		if (rp_parse_date(label, &days) < 0)
			return -1;
		rp_fmt_day(days + (d == REPORT_DAY ? 1 : 7), buf, cap);
		return 0;
	case REPORT_MONTH:
		if (strlen(label) != 7 || rp_digits(label, 4, &y) < 0 || rp_digits(label + 5, 2, &m) < 0)
			return -1;
		snprintf(buf, cap, "%04d-%02d", m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
		return 0;
	case REPORT_QUARTER:
		if (strlen(label) != 7 || rp_digits(label, 4, &y) < 0 || rp_digits(label + 6, 1, &n) < 0)
			return -1;
		snprintf(buf, cap, "%04d-Q%d", n == 4 ? y + 1 : y, n == 4 ? 1 : n + 1);
		return 0;
	case REPORT_YEAR:
		if (strlen(label) != 4 || rp_digits(label, 4, &y) < 0)
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

void rp_slice_free(struct slice *s)
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

int rp_view_rehash(struct view *v, int cap)
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
struct slice *rp_view_slice(struct view *v, const char *const *k)
{
	uint64_t x;
	struct slice *s;

	if (v->hcap == 0 && rp_view_rehash(v, 64) < 0)
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
			rp_slice_free(s);
			return NULL;
		}
	}
	v->s[v->ns++] = s;
	if (v->ns * 2 > v->hcap)
		return rp_view_rehash(v, v->hcap * 2) < 0 ? NULL : s;
	v->hash[x] = v->ns;
	return s;
}


struct slice *rp_row_slice(struct view *v, const struct rowkey *r)
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
			rp_period_label(v->dim[i], r->day, lab[i], sizeof lab[i]);
			k[i] = lab[i];
			break;
		}
	}
	return rp_view_slice(v, k);
}

struct qacc *rp_slice_q(struct slice *s, int qi)
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

int64_t *rp_slice_g(struct slice *s, int gi)
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

int rp_qacc_add(struct qacc *a, int value, int64_t n)
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

int rp_find_q(const struct rep *r, const char *id)
{
	for (int i = 0; i < r->nq; i++)
		if (strcmp(r->q[i].id, id) == 0)
			return i;
	return -1;
}

struct qdef *rp_add_q(struct rep *r, const char *id)
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
int rp_answered_q(struct rep *r, const char *id)
{
	int i = rp_find_q(r, id);
	struct qdef *q;

	if (i >= 0)
		return i;
	if (!(q = rp_add_q(r, id)) || !(q->grp = strdup("")) || !(q->type = strdup("?")) ||
	    !(q->text = strdup("")))
		return -1;
	return r->nq - 1;
}

int rp_find_g(struct rep *r, const char *name, int create)
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

int rp_parse_ints(const char *s, int *out, int cap)
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

int rp_is_sat(const struct qdef *q, int v)
{
	for (int i = 0; i < q->nsat; i++)
		if (q->sat[i] == v)
			return 1;
	return 0;
}

void rp_rep_free(struct rep *r)
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
			rp_slice_free(r->v[v].s[i]);
		free(r->v[v].s);
		free(r->v[v].hash);
	}
}

const char *rp_col(sqlite3_stmt *s, int i)
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
		rp_seterr(err, errlen, "out of memory");
		return NULL;
	}
	/* one connection per thread: NOMUTEX, no lock around every call (measured:
	 * about 8% of a report's CPU). mmap was measured too, and was slower here. */
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rp_seterr(err, errlen, "%s: %s", path, db->db ? sqlite3_errmsg(db->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 5000);
	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rp_seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(db->db));
		goto fail;
	}
	if (sqlite3_column_int(s, 0) != ARCHIVE_SCHEMA_VERSION) {
		rp_seterr(err, errlen, "%s: archive schema %d, the report reads schema %d", path,
		          sqlite3_column_int(s, 0), ARCHIVE_SCHEMA_VERSION);
		goto fail;
	}
	sqlite3_finalize(s);
	return db;
fail:
	sqlite3_finalize(s);
	report_db_close(db);
	return NULL;
}

int report_db_timezone(struct report_db *db, char *buf, size_t cap)
{
	return archive_rollup_zone_of(db->db, buf, cap);
}

void report_db_close(struct report_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db->temp_campaign);
	free(db);
}
