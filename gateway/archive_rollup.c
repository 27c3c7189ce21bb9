/* archive_rollup: the rollups the report reads (docs/archive.md): their schema, the
 * counts of archive_put's transaction written (archive_rollup_flush) and
 * rollup_citizens_recent merged into rollup_citizens, the zone their days are in, and
 * the rollups rebuilt from the rows of an older archive. The counts themselves are
 * gathered in memory by archive_rollup_count.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive_int.h"
#include "tzone.h"

/* Schema 8's rollup tables: every key a small integer, so that an upsert
 * compares integers, not six strings, and the tables are a third of the
 * size (docs/archive.md, "Cost"). c, st, q and g are rollup_names ids
 * (campaign, status, question, group), u a rollup_units id, day the local
 * day number (ARCHIVE_NO_DAY when unknown). The views rollup_surveys,
 * rollup_answers and rollup_groups show them with the names and columns
 * the rollups had before (schema 3): the report reads those. */
#define RU_KEY " c INTEGER NOT NULL, day INTEGER NOT NULL, u INTEGER NOT NULL, st INTEGER NOT NULL,"
#define RU_PK "c, day, u, st"
#define RU_COLS "c.name AS campaign_id," \
	" CASE WHEN r.day = -1000000 THEN '' ELSE date(r.day * 86400, 'unixepoch') END AS day," \
	" u.agency AS agency, u.procedure AS procedure, u.channel AS channel, s.name AS status"
#define RU_JOIN " r JOIN rollup_names c ON c.id = r.c JOIN rollup_units u ON u.uid = r.u" \
	" JOIN rollup_names s ON s.id = r.st"
#define ROLLUP_TABLES(TMP) \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_s (" RU_KEY \
	" surveys INTEGER NOT NULL,"  /* surveys */ \
	" rated INTEGER NOT NULL,"    /* of them, with at least one rated answer */ \
	" PRIMARY KEY (" RU_PK ")) WITHOUT ROWID;" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_a (" RU_KEY \
	" q INTEGER NOT NULL," \
	" kind INTEGER NOT NULL,"     /* 0 valued, 1 chosen multi option, 2 row without value, \
	                               * 3 row without value with a comment */ \
	" value INTEGER NOT NULL,"    /* kinds 0 and 1; 0 otherwise */ \
	" n INTEGER NOT NULL," \
	" PRIMARY KEY (" RU_PK ", q, kind, value)) WITHOUT ROWID;" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_g (" RU_KEY \
	" g INTEGER NOT NULL,"        /* criteria group ('' = none) */ \
	" n INTEGER NOT NULL,"        /* surveys with a rated answer in it */ \
	" PRIMARY KEY (" RU_PK ", g)) WITHOUT ROWID;" \
	/* Distinct citizens: one small row per (citizen, local day, unit, status), \
	 * in citizen order, so that a report counts them in one short scan. */ \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_units (uid INTEGER PRIMARY KEY, agency TEXT NOT NULL," \
	" procedure TEXT NOT NULL, channel TEXT NOT NULL, UNIQUE (agency, procedure, channel));" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_citizens (campaign_id TEXT NOT NULL," \
	" cid INTEGER NOT NULL,"        /* 64-bit FNV-1a of msisdn_hash */ \
	" k INTEGER NOT NULL,"          /* ARCHIVE_CITIZEN_K(local day, rollup_units.uid, status) */ \
	" PRIMARY KEY (campaign_id, cid, k)) WITHOUT ROWID;" \
	/* Schema 9: the rows of the last batches, merged into rollup_citizens \
	 * when ARCHIVE_CITIZENS_RECENT of them are here (archive_rollup_flush). \
	 * Their keys are random: a batch inserting into the small table rewrites \
	 * few pages, where it rewrote most of rollup_citizens' every time. \
	 * Readers take both (a row may be in both: it counts once). */ \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_citizens_recent (campaign_id TEXT NOT NULL," \
	" cid INTEGER NOT NULL, k INTEGER NOT NULL, PRIMARY KEY (campaign_id, cid, k)) WITHOUT ROWID;" \
	"CREATE " TMP "VIEW IF NOT EXISTS rollup_surveys AS SELECT " RU_COLS ", r.surveys AS surveys," \
	" r.rated AS rated FROM rollup_s" RU_JOIN ";" \
	"CREATE " TMP "VIEW IF NOT EXISTS rollup_answers AS SELECT " RU_COLS ", q.name AS question_id," \
	" r.kind AS kind, r.value AS value, r.n AS n FROM rollup_a" RU_JOIN " JOIN rollup_names q ON q.id = r.q;" \
	"CREATE " TMP "VIEW IF NOT EXISTS rollup_groups AS SELECT " RU_COLS ", g.name AS grp, r.n AS n" \
	" FROM rollup_g" RU_JOIN " JOIN rollup_names g ON g.id = r.g;"

int archive_rollup_schema(struct archive *a, int temp, char *err, size_t errlen)
{
	static const char *const old[3] = { "rollup_surveys", "rollup_answers", "rollup_groups" };

	if (temp)
		return archive_exec(a, "DROP VIEW IF EXISTS temp.rollup_surveys; DROP VIEW IF EXISTS temp.rollup_answers;"
		                    " DROP VIEW IF EXISTS temp.rollup_groups; DROP TABLE IF EXISTS temp.rollup_s;"
		                    " DROP TABLE IF EXISTS temp.rollup_a; DROP TABLE IF EXISTS temp.rollup_g;"
		                    " DROP TABLE IF EXISTS temp.rollup_names; DROP TABLE IF EXISTS temp.rollup_units;"
		                    " DROP TABLE IF EXISTS temp.rollup_citizens;"
		                    " DROP TABLE IF EXISTS temp.rollup_citizens_recent;" ROLLUP_TABLES("TEMP "), err, errlen);
	/* schema 3-7 had tables where the views are now */
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *s = NULL;
		char sql[64];
		int rc = sqlite3_prepare_v2(a->db, "SELECT type FROM main.sqlite_master WHERE name = ?1", -1, &s, NULL);
		int table = 0;

		if (rc == SQLITE_OK) {
			archive_bind_text(s, 1, old[i]);
			rc = sqlite3_step(s);
			table = rc == SQLITE_ROW && sqlite3_column_text(s, 0) &&
			        strcmp((const char *)sqlite3_column_text(s, 0), "table") == 0;
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			archive_seterr(err, errlen, "rollup schema: %s", sqlite3_errmsg(a->db));
			return -EIO;
		}
		snprintf(sql, sizeof sql, "DROP TABLE main.%s", old[i]);
		if (table && archive_exec(a, sql, err, errlen) < 0)
			return -EIO;
	}
	return archive_exec(a, ROLLUP_TABLES(""), err, errlen);
}

/* Days since 1970-01-01 to the civil date (H. Hinnant's days_from_civil, inverted). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

const char *archive_day_text(int64_t dayn, char buf[16])
{
	int64_t y;
	int m, d;

	buf[0] = '\0';
	if (dayn == ARCHIVE_NO_DAY)
		return buf;
	civil_from_days(dayn, &y, &m, &d);
	if (y < 1000 || y > 9999) { /* not 4 digits: as strftime writes it */
		time_t tt = (time_t)(dayn * 86400);
		struct tm tm;

		if (gmtime_r(&tt, &tm))
			strftime(buf, 16, "%Y-%m-%d", &tm);
		return buf;
	}
	int f[3] = { (int)y, m, d };
	char *p = buf;

	for (int i = 0; i < 3; i++) {
		if (i) {
			*p++ = '-';
		} else {
			*p++ = (char)('0' + f[0] / 1000);
			*p++ = (char)('0' + f[0] / 100 % 10);
		}
		*p++ = (char)('0' + f[i] / 10 % 10);
		*p++ = (char)('0' + f[i] % 10);
	}
	*p = '\0';
	return buf;
}

int archive_rollup_zone_of(struct sqlite3 *db, char *buf, size_t cap)
{
	sqlite3_stmt *s = NULL;
	int rc;

	snprintf(buf, cap, "%s", TZONE_DEFAULT);
	if (sqlite3_prepare_v2(db, "SELECT value FROM rollup_meta WHERE key = 'timezone'", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int archive_rollup_zone(struct archive *a, char *err, size_t errlen)
{
	sqlite3_stmt *s = archive_stmt_get(a, ST_RU_ZONE, err, errlen);
	const unsigned char *v;
	int rc, same;

	if (!s)
		return -EIO;
	if ((rc = sqlite3_step(s)) != SQLITE_ROW && rc != SQLITE_DONE) {
		archive_seterr(err, errlen, "rollup zone: %s", sqlite3_errmsg(a->db));
		sqlite3_reset(s);
		return -EIO;
	}
	v = rc == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
	same = strcmp(v ? (const char *)v : TZONE_DEFAULT, tzone_name()) == 0;
	sqlite3_reset(s);
	if (same)
		return 0;
	archive_units_forget(a);
	return archive_rollup_rebuild(a, NULL, 0, err, errlen);
}

/* The rollup_names id of interned string id, created on first use. */
static int64_t name_dbid(struct archive *a, int32_t id)
{
	sqlite3_stmt *s;
	int64_t dbid = 0;

	if (a->rn[id].dbid)
		return a->rn[id].dbid;
	for (int pass = 0; pass < 2 && dbid <= 0; pass++) {
		int rc;

		if (!(s = archive_stmt_get(a, pass ? ST_RU_NAME_INS : ST_RU_NAME_GET, NULL, 0)))
			return -EIO;
		archive_bind_text(s, 1, a->rn[id].s);
		rc = sqlite3_step(s);
		if (!pass && rc == SQLITE_ROW)
			dbid = sqlite3_column_int64(s, 0);
		else if (pass && rc == SQLITE_DONE)
			dbid = sqlite3_last_insert_rowid(a->db);
		else if (rc != SQLITE_DONE)
			dbid = -EIO;
		sqlite3_reset(s);
		if (dbid < 0)
			return dbid;
	}
	return a->rn[id].dbid = dbid;
}

static int cmp64(int64_t x, int64_t y)
{
	return (x > y) - (x < y);
}

/* Flush order: the tables' primary key order, so that the upserts walk each
 * B-tree from left to right. */
static int rdelta_cmp(const void *x, const void *y)
{
	const struct rdelta *p = x, *q = y;
	int c;

	if (p->table != q->table)
		return p->table - q->table;
	if ((c = cmp64(p->cdb, q->cdb)) || (c = cmp64(p->dayn, q->dayn)) || (c = cmp64(p->uid, q->uid)) ||
	    (c = cmp64(p->stdb, q->stdb)) || (c = cmp64(p->xdb, q->xdb)) || (c = cmp64(p->kind, q->kind)))
		return c;
	return cmp64(p->value, q->value);
}

/* rollup_citizens_recent into rollup_citizens once it holds
 * ARCHIVE_CITIZENS_RECENT rows: sorted, so that the big table's pages are
 * each rewritten once per merge rather than once per batch. 0 or -EIO. */
static int citizens_merge(struct archive *a)
{
	sqlite3_stmt *s = archive_stmt_get(a, ST_RU_RECENT_COUNT, NULL, 0);
	int64_t n;

	if (!s || sqlite3_step(s) != SQLITE_ROW) {
		if (s)
			sqlite3_reset(s);
		return -EIO;
	}
	n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (n < ARCHIVE_CITIZENS_RECENT)
		return 0;
	return archive_exec(a, "INSERT OR IGNORE INTO rollup_citizens(campaign_id, cid, k)"
	                       " SELECT campaign_id, cid, k FROM rollup_citizens_recent ORDER BY campaign_id, cid, k;"
	                       " DELETE FROM rollup_citizens_recent;", NULL, 0) < 0 ? -EIO : 0;
}

/* rollup_citizens' key order: campaign (BINARY), cid and k as SQLite's signed integers. */
static int rcitizen_cmp(const void *x, const void *y)
{
	const struct rcitizen *p = x, *q = y;
	int c;

	if (p->c != q->c && (c = strcmp(p->c, q->c)) != 0)
		return c;
	if ((c = cmp64(p->cid, q->cid)))
		return c;
	return cmp64(p->k, q->k);
}

int archive_rollup_flush(struct archive *a)
{
	static const enum archive_stmt st[3] = { ST_RU_SURVEY, ST_RU_ANSWER, ST_RU_GROUP };
	int rc = 0;

	for (int i = 0; i < a->rdn; i++) {
		struct rdelta *d = &a->rd[i];

		if ((d->cdb = name_dbid(a, d->c)) < 0 || (d->stdb = name_dbid(a, d->st)) < 0 ||
		    (d->xdb = d->table ? name_dbid(a, d->x) : 0) < 0)
			return -EIO;
	}
	if (a->rdn > 1)
		qsort(a->rd, (size_t)a->rdn, sizeof *a->rd, rdelta_cmp); /* the index is reset by the discard below */
	for (int i = 0; i < a->rdn && rc == 0; i++) {
		const struct rdelta *d = &a->rd[i];
		sqlite3_stmt *s;
		int c = 5;

		if (!(s = archive_stmt_get(a, st[d->table], NULL, 0))) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_int64(s, 1, d->cdb);
		sqlite3_bind_int64(s, 2, d->dayn);
		sqlite3_bind_int64(s, 3, d->uid);
		sqlite3_bind_int64(s, 4, d->stdb);
		if (d->table) {
			sqlite3_bind_int64(s, c++, d->xdb);
			if (d->table == 1) {
				sqlite3_bind_int(s, c++, d->kind);
				sqlite3_bind_int(s, c++, d->value);
			}
			sqlite3_bind_int64(s, c, d->n);
		} else {
			sqlite3_bind_int64(s, 5, d->n);
			sqlite3_bind_int64(s, 6, d->rated);
		}
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = -EIO;
		sqlite3_reset(s);
	}
	if (a->czn > 1)
		qsort(a->cz, (size_t)a->czn, sizeof *a->cz, rcitizen_cmp);
	for (int i = 0; i < a->czn && rc == 0; i++) {
		const struct rcitizen *z = &a->cz[i];
		sqlite3_stmt *s = archive_stmt_get(a, ST_RU_CITIZEN, NULL, 0);

		if (!s) {
			rc = -EIO;
			break;
		}
		archive_bind_text(s, 1, z->c);
		sqlite3_bind_int64(s, 2, z->cid);
		sqlite3_bind_int64(s, 3, z->k);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = -EIO;
		sqlite3_reset(s);
	}
	if (rc == 0 && a->czn > 0)
		rc = citizens_merge(a);
	if (rc == 0)
		archive_rollup_discard(a);
	return rc;
}

/* Fill the rollups from the surveys and answers already stored (a database
 * from before schema 3), inside the caller's transaction. */
int archive_rollup_rebuild(struct archive *a, const char *campaign_id, int temp, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT s.survey_id, s.campaign_id, s.campaign_version, s.agency, s.procedure, s.channel,"
		" s.status, COALESCE(CAST(strftime('%s', s.triggered_at) AS INTEGER), 0),"
		" a.question_id, a.value, a.text, s.msisdn_hash"
		" FROM surveys s LEFT JOIN answers a ON a.survey_id = s.survey_id"
		" WHERE ?1 IS NULL OR s.campaign_id = ?1 ORDER BY s.survey_id";
	sqlite3_stmt *q = NULL;
	struct archive_rkey k;
	char *cur = NULL, *f[7] = {0};
	int rc = -EIO, step;

	memset(&k, 0, sizeof k);
	if (archive_exec(a, "DELETE FROM rollup_s; DELETE FROM rollup_a; DELETE FROM rollup_g;"
	         " DELETE FROM rollup_citizens; DELETE FROM rollup_citizens_recent;", err, errlen) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(a->db, sql, -1, &q, NULL) != SQLITE_OK)
		goto sqlfail;
	archive_bind_text(q, 1, campaign_id);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);

		if (!cur || strcmp(cur, id) != 0) {
			if (cur && archive_rollup_survey(a, &k) < 0)
				goto sqlfail;
			archive_rkey_clear(&k);
			free(cur);
			for (int i = 0; i < 7; i++) {
				const unsigned char *v = sqlite3_column_text(q, i < 6 ? i + 1 : 11);

				free(f[i]);
				f[i] = v ? strdup((const char *)v) : NULL;
			}
			cur = strdup(id);
			if (!cur)
				goto nomem;
			k.campaign_id = f[0];
			k.version = f[1];
			k.agency = f[2];
			k.procedure = f[3];
			k.channel = f[4];
			k.status = f[5];
			k.msisdn_hash = f[6];
			archive_rkey_day(&k, sqlite3_column_int64(q, 7));
		}
		if (sqlite3_column_type(q, 8) == SQLITE_NULL)
			continue; /* a survey without answers */
		if ((rc = archive_rollup_answer(a, &k, (const char *)sqlite3_column_text(q, 8),
		                        sqlite3_column_type(q, 9) != SQLITE_NULL, sqlite3_column_int(q, 9),
		                        (const char *)sqlite3_column_text(q, 10))) < 0) {
			if (rc == -ENOMEM)
				goto nomem;
			goto sqlfail;
		}
	}
	if (step != SQLITE_DONE || (cur && archive_rollup_survey(a, &k) < 0) || archive_rollup_flush(a) < 0)
		goto sqlfail;
	if (!temp) {
		sqlite3_stmt *m = NULL;

		if (sqlite3_prepare_v2(a->db, "INSERT OR REPLACE INTO rollup_meta VALUES ('timezone', ?1)", -1, &m,
		                       NULL) != SQLITE_OK)
			goto sqlfail;
		archive_bind_text(m, 1, tzone_name());
		step = sqlite3_step(m);
		sqlite3_finalize(m);
		if (step != SQLITE_DONE)
			goto sqlfail;
	}
	rc = 0;
	goto out;
nomem:
	archive_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto out;
sqlfail:
	archive_seterr(err, errlen, "rollup: %s", sqlite3_errmsg(a->db));
	rc = -EIO;
out:
	if (rc < 0)
		archive_rollup_discard(a);
	archive_rkey_clear(&k);
	free(cur);
	for (int i = 0; i < 7; i++)
		free(f[i]);
	sqlite3_finalize(q);
	return rc;
}
