/* archive_lookup: one archived survey by id, or by transaction, for the
 * operator's API (GET /v1/surveys); the number is never read. */
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "archive_int.h"

#define LOOKUP_COLS "survey_id, campaign_id, campaign_version, transaction_id, agency, procedure, channel," \
	" status, reason, triggered_at, finished_at, completed_at, cancelled_by"

static int lookup_rows(struct archive *a, sqlite3_stmt *s, archive_lookup_fn fn, void *arg, char *err,
                       size_t errlen)
{
	int rc, n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *v[ARCHIVE_LOOKUP_NCOLS];
		for (int i = 0; i < ARCHIVE_LOOKUP_NCOLS; i++)
			v[i] = (const char *)sqlite3_column_text(s, i);
		int r = fn(arg, v);
		if (r < 0) {
			sqlite3_finalize(s);
			return r;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		archive_seterr(err, errlen, "lookup: %s", sqlite3_errmsg(a->db));
		n = -EIO;
	}
	sqlite3_finalize(s);
	return n;
}

int archive_lookup(struct archive *a, const char *survey_id, const char *campaign_id, const char *transaction_id,
                   archive_lookup_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	const char *sql = survey_id ? "SELECT " LOOKUP_COLS " FROM surveys WHERE survey_id = ?1"
	                  : campaign_id ? "SELECT " LOOKUP_COLS " FROM surveys WHERE campaign_id = ?2 AND transaction_id = ?3"
	                  /* by transaction alone: once per campaign, on the (campaign_id, transaction_id) index */
	                  : "SELECT " LOOKUP_COLS " FROM surveys WHERE transaction_id = ?3 AND campaign_id IN"
	                    " (SELECT DISTINCT campaign_id FROM campaign_versions) ORDER BY triggered_at";
	if (!survey_id && !transaction_id) {
		archive_seterr(err, errlen, "lookup: a survey id or a transaction id is required");
		return -EINVAL;
	}
	if (sqlite3_prepare_v2(a->db, sql, -1, &s, NULL) != SQLITE_OK) {
		archive_seterr(err, errlen, "lookup: %s", sqlite3_errmsg(a->db));
		return -EIO;
	}
	archive_bind_text(s, 1, survey_id);
	archive_bind_text(s, 2, campaign_id);
	archive_bind_text(s, 3, transaction_id);
	return lookup_rows(a, s, fn, arg, err, errlen);
}
