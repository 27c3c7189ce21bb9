/* archive_migrate: the schema steps that rebuild or drop (6, 7, 8) or add a table (9), kept out
 * of archive.c; archive_open runs them in its upgrade transaction. */
#include <errno.h>

#include <sqlite3.h>

#include "archive_int.h"

/* Schema 6: the status `cancelled` (an operator, POST /v1/surveys/{id}/cancel)
 * and who cancelled (`cancelled_by`, the API token's name). SQLite cannot
 * change a CHECK in place: the table is built again under a new name, every
 * row copied, the old one dropped and the new one renamed (the procedure of
 * SQLite's "ALTER TABLE" page), inside the caller's transaction. A table that
 * has the column already (a step run before) is left as it is. */
static const char schema_v6_sql[] =
	"CREATE TABLE surveys_v6 ("
	" survey_id TEXT NOT NULL PRIMARY KEY,"
	" campaign_id TEXT NOT NULL,"
	" campaign_version TEXT,"
	" transaction_id TEXT NOT NULL,"
	" agency TEXT,"
	" procedure TEXT,"
	" msisdn_hash TEXT,"
	" channel TEXT CHECK (channel IN ('sms', 'ussd')),"
	" status TEXT NOT NULL CHECK (status IN ('completed', 'expired', 'abandoned',"
	"  'opted_out', 'failed', 'suppressed', 'cancelled')),"
	" reason TEXT,"
	" triggered_at TEXT,"
	" finished_at TEXT,"
	" completed_at TEXT,"
	" cancelled_by TEXT,"
	" UNIQUE (campaign_id, transaction_id)"
	") WITHOUT ROWID;"
	"INSERT INTO surveys_v6(survey_id, campaign_id, campaign_version, transaction_id, agency,"
	" procedure, msisdn_hash, channel, status, reason, triggered_at, finished_at, completed_at)"
	" SELECT survey_id, campaign_id, campaign_version, transaction_id, agency, procedure,"
	" msisdn_hash, channel, status, reason, triggered_at, finished_at, completed_at FROM surveys;"
	"DROP TABLE surveys;"
	"ALTER TABLE surveys_v6 RENAME TO surveys;"
	"CREATE INDEX surveys_campaign_status ON surveys(campaign_id, status, msisdn_hash);"
	"CREATE INDEX surveys_campaign_version ON surveys(campaign_id, campaign_version);"
	"CREATE INDEX surveys_agency ON surveys(agency, campaign_id);";

int archive_migrate_v6(struct archive *a, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int has = 0;
	if (sqlite3_prepare_v2(a->db, "SELECT COUNT(*) FROM pragma_table_info('surveys') WHERE name = 'cancelled_by'",
	                       -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		archive_seterr(err, errlen, "schema 6: %s", sqlite3_errmsg(a->db));
		sqlite3_finalize(s);
		return -EIO;
	}
	has = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return has ? 0 : archive_exec(a, schema_v6_sql, err, errlen);
}

/* Schema 7: the indexes the report read before it had rollups go (every
 * survey and answer archived paid for them: docs/archive.md, "Cost"), and
 * replies from numbers without a survey are kept (stray_replies). */
static const char schema_v7_sql[] =
	"DROP INDEX IF EXISTS surveys_campaign_status;"
	"DROP INDEX IF EXISTS surveys_agency;"
	"DROP INDEX IF EXISTS answers_campaign;"
	"DROP INDEX IF EXISTS answers_campaign_text;"
	"CREATE TABLE IF NOT EXISTS stray_replies ("
	" msisdn_hash TEXT NOT NULL,"   /* keyed hash of the sender, never the number */
	" at TEXT NOT NULL,"            /* ISO 8601 UTC, when it arrived */
	" PRIMARY KEY (msisdn_hash, at)" /* a replayed record is stored once */
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS stray_replies_at ON stray_replies(at);";

int archive_migrate_v7(struct archive *a, char *err, size_t errlen)
{
	return archive_exec(a, schema_v7_sql, err, errlen);
}

/* Schema 8: the rollups keyed by integers (archive_rollup_schema), counted
 * again from the rows in the caller's transaction. */
int archive_migrate_v8(struct archive *a, char *err, size_t errlen)
{
	int rc;

	if ((rc = archive_rollup_schema(a, 0, err, errlen)) < 0)
		return rc;
	archive_units_forget(a);
	return archive_rollup_rebuild(a, NULL, 0, err, errlen);
}

/* Schema 9: the citizens of the last batches go to a small table first
 * (rollup_citizens_recent, archive_rollup_flush). Nothing moves: the rows of
 * rollup_citizens stay where they are, and the new table starts empty. */
int archive_migrate_v9(struct archive *a, char *err, size_t errlen)
{
	return archive_exec(a, "CREATE TABLE IF NOT EXISTS rollup_citizens_recent (campaign_id TEXT NOT NULL,"
	                       " cid INTEGER NOT NULL, k INTEGER NOT NULL,"
	                       " PRIMARY KEY (campaign_id, cid, k)) WITHOUT ROWID;", err, errlen);
}
