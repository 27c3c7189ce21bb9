/* report: the satisfaction report (SPEC §10) read from the archive's rollups, per slice, as JSON. */
#ifndef HL_REPORT_H
#define HL_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Dimensions a report is sliced by. Periods are local days of the zone in
 * use (tzone.h; docs/archive.md); a week starts on Monday and is named by that date. */
enum report_dim {
	REPORT_AGENCY,
	REPORT_PROCEDURE,
	REPORT_CHANNEL,
	REPORT_DAY,
	REPORT_WEEK,
	REPORT_MONTH,
	REPORT_QUARTER,
	REPORT_YEAR,
	REPORT_NDIMS
};

#define REPORT_MAX_BY 2
#define REPORT_MAX_AGENCIES 64
#define REPORT_MIN_RESPONSES 30 /* fewer respondents: flagged */

struct report_query {
	const char *campaign;
	enum report_dim by[REPORT_MAX_BY]; /* slices; nby = 0: the total only */
	int nby;
	const char *from, *to;              /* local dates YYYY-MM-DD, inclusive; NULL = open */
	const char *agency, *procedure, *status; /* filters; NULL = any */
	const char *const *agencies;        /* borrowed: the agencies a scoped token may see; */
	int nagencies;                      /* nagencies < 0: no restriction */
};

/* Parse "agency,month" into q->by / q->nby. -EINVAL with err filled. */
int report_parse_by(const char *s, struct report_query *q, char *err, size_t errlen);
const char *report_dim_name(enum report_dim d);
/* 0 if s is a real date YYYY-MM-DD, -EINVAL otherwise. */
int report_check_date(const char *s);
/* 0 if s is a status the archive knows, -EINVAL otherwise. */
int report_check_status(const char *s);

/* A read connection of its own on the archive (WAL: readers do not block the
 * writer). The archive must exist and have schema 3 (archive_open makes it so). */
struct report_db;
struct report_db *report_db_open(const char *path, char *err, size_t errlen);
void report_db_close(struct report_db *db);
/* The zone the archive's rollups count local days in (what hailongd wrote
 * them in). A report in another zone counts its campaign again, slower. */
int report_db_timezone(struct report_db *db, char *buf, size_t cap);

/* The report of q as a JSON document (schema: docs/archive.md), owned by the
 * caller. Returns 0, -ENOENT (no such campaign), -EINVAL (bad query) or
 * -EIO/-ENOMEM, with err filled. */
int report_run(struct report_db *db, const struct report_query *q, json_t **out, char *err,
               size_t errlen);

/* The comments (free-text answers) of q with their slice, phone-number-like
 * and ID-number-like digit runs masked, as a JSON array owned by the caller. */
int report_comments(struct report_db *db, const struct report_query *q, json_t **out, char *err,
                    size_t errlen);
/* Mask runs of 9 or more digits (spaces, dots and dashes between them allowed)
 * in place, keeping the first 2 and last 2 digits: "0912 345 678" -> "09** *** *78". */
void report_mask_digits(char *s);

enum report_format { REPORT_FMT_TABLE, REPORT_FMT_CSV, REPORT_FMT_JSON, REPORT_FMT_HTML };

/* Write a report document in one of the formats (report_fmt.c, report_html.c).
 * refresh_s > 0 makes the HTML page reload itself (the dashboard). Returns 0
 * or -EIO. */
int report_write(const json_t *r, enum report_format fmt, FILE *out);
int report_write_html(const json_t *r, FILE *out, int refresh_s);
int report_write_comments(const json_t *c, enum report_format fmt, FILE *out);

#endif
