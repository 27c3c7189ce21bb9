/* report_int: what the report's files (report.c, report_load.c, report_json.c) share; not an API. */
#ifndef HL_REPORT_INT_H
#define HL_REPORT_INT_H

#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "archive.h"
#include "report.h"

#define REPORT_Z 1.959963984540054    /* 95% two-sided normal quantile */
#define REPORT_MAX_FILL 4000          /* periods filled in between; beyond, only those seen */
#define REPORT_MAX_SLICES 10000       /* units x periods of one view: about 30 kB each, in one answer */
#define NVIEWS 4                      /* total, slices (--by), ranking units, trend periods */
#define status_names archive_status_names
#define NSTATUS ARCHIVE_NSTATUS

extern const char *const rp_dim_names[REPORT_NDIMS];

struct report_db {
	sqlite3 *db;
	char *temp_campaign;          /* whose rollups this connection counted in TEMP tables (another zone) */
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
	long long toomany;            /* rp_fill_view's -E2BIG: the slices it would have made */
};

struct rep {
	struct qdef *q;
	int nq, capq;
	char **grp;                   /* group names, in the order of their first question */
	int ng, capg;
	struct view v[NVIEWS];        /* total, slices, ranking units, trend */
};

/* The row's dimension values. */
struct rowkey {
	const char *day, *agency, *procedure, *channel;
};

void rp_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rp_dim_is_period(enum report_dim d);
int rp_digits(const char *s, int n, int *out);
int rp_parse_date(const char *s, int64_t *days);
void rp_fmt_day(int64_t days, char *buf, size_t cap);
void rp_civil_from_days(int64_t z, int *y, int *m, int *d);
void rp_period_label(enum report_dim d, const char *day, char *buf, size_t cap);
int rp_period_next(enum report_dim d, const char *label, char *buf, size_t cap);
void rp_slice_free(struct slice *s);
int rp_view_rehash(struct view *v, int cap);
struct slice *rp_view_slice(struct view *v, const char *const *k);
struct slice *rp_row_slice(struct view *v, const struct rowkey *r);
struct qacc *rp_slice_q(struct slice *s, int qi);
int64_t *rp_slice_g(struct slice *s, int gi);
int rp_qacc_add(struct qacc *a, int value, int64_t n);
int rp_find_q(const struct rep *r, const char *id);
struct qdef *rp_add_q(struct rep *r, const char *id);
int rp_answered_q(struct rep *r, const char *id);
int rp_find_g(struct rep *r, const char *name, int create);
int rp_parse_ints(const char *s, int *out, int cap);
int rp_is_sat(const struct qdef *q, int v);
void rp_rep_free(struct rep *r);
const char *rp_col(sqlite3_stmt *s, int i);
int rp_load_defs(struct report_db *db, struct rep *r, const char *campaign, json_t *root,
                     char *err, size_t errlen);
int rp_load_wordings(struct report_db *db, struct rep *r, const char *campaign, json_t *defs, char *err,
                     size_t errlen);
int rp_load_rollups(struct report_db *db, struct rep *r, const struct report_query *q, char *err,
                        size_t errlen);
int rp_load_citizens(struct report_db *db, struct rep *r, const struct report_query *q, char *err,
                         size_t errlen);
int rp_fill_view(struct view *v, const struct report_query *q);
int rp_sort_view(struct view *v);

#endif
