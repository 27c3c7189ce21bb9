/* archive: the SQLite archive of finished surveys (SPEC §7, docs/archive.md): schema, surveys, answers, campaigns, deliveries; its rollups are in archive_rollup.c. */
#include "archive_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chain.h"
#include "optout.h"

#define ARCHIVE_MAX_MULTI 64      /* chosen values of one multi answer */

static const char *const stmt_sql[ST_MAX] = {
	[ST_INS_SURVEY] = "INSERT OR IGNORE INTO surveys(survey_id, campaign_id, campaign_version,"
		" transaction_id, agency, procedure, msisdn_hash, channel, status, reason,"
		" triggered_at, finished_at, completed_at, cancelled_by)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_INS_ANSWER] = "INSERT OR IGNORE INTO answers(survey_id, question_id, value, text, answered_at,"
		" campaign_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_QTYPE] = "SELECT question_id, type, COALESCE(grp, ''), satisfied <> '' FROM campaign_questions"
		" WHERE campaign_id = ?1 AND campaign_version = ?2",
	[ST_INS_VERSION] = "INSERT OR IGNORE INTO campaign_versions(campaign_id, campaign_version,"
		" name, nquestions, recorded_at) VALUES(?1, ?2, ?3, ?4, ?5)",
	/* a version put again after another (a campaign edited, then put back
	 * as it was) becomes the newest recorded again: its row is written
	 * anew, so that its rowid is the greatest (the report's definitions) */
	[ST_REPUT_VERSION] = "DELETE FROM campaign_versions WHERE campaign_id = ?1 AND campaign_version = ?2"
		" AND rowid < (SELECT MAX(rowid) FROM campaign_versions WHERE campaign_id = ?1)",
	[ST_INS_QUESTION] = "INSERT OR IGNORE INTO campaign_questions(campaign_id, campaign_version,"
		" question_id, position, grp, type, text, satisfied, min_value, max_value)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_INS_OPTION] = "INSERT OR IGNORE INTO campaign_options(campaign_id, campaign_version,"
		" question_id, value, label) VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_COUNT_ALL] = "SELECT COUNT(*) FROM surveys",
	[ST_COUNT_C] = "SELECT COUNT(*) FROM surveys WHERE campaign_id = ?1",
	[ST_COUNT_S] = "SELECT COUNT(*) FROM surveys WHERE status = ?2",
	[ST_COUNT_CS] = "SELECT COUNT(*) FROM surveys WHERE campaign_id = ?1 AND status = ?2",
	/* The rollups (docs/archive.md): one row per (campaign, local day, agency,
	 * procedure, channel, status[, question, kind, value | group]), kept in the
	 * transaction that inserts the surveys they count. */
	[ST_RU_SURVEY] = "INSERT INTO rollup_s(c, day, u, st, surveys, rated) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT DO UPDATE SET surveys = surveys + excluded.surveys, rated = rated + excluded.rated",
	[ST_RU_ANSWER] = "INSERT INTO rollup_a(c, day, u, st, q, kind, value, n) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		" ON CONFLICT DO UPDATE SET n = n + excluded.n",
	[ST_RU_NAME_GET] = "SELECT id FROM rollup_names WHERE name = ?1",
	[ST_RU_NAME_INS] = "INSERT INTO rollup_names(name) VALUES(?1)",
	[ST_RU_UNIT_GET] = "SELECT uid FROM rollup_units WHERE agency = ?1 AND procedure = ?2 AND channel = ?3",
	[ST_RU_UNIT_INS] = "INSERT INTO rollup_units(agency, procedure, channel) VALUES(?1, ?2, ?3)",
	[ST_RU_CITIZEN] = "INSERT OR IGNORE INTO rollup_citizens_recent(campaign_id, cid, k) VALUES(?1, ?2, ?3)",
	/* stops at the first row past the threshold: cheap on a table of any size */
	[ST_RU_RECENT_COUNT] = "SELECT COUNT(*) FROM (SELECT 1 FROM rollup_citizens_recent LIMIT "
		ARCHIVE_STR(ARCHIVE_CITIZENS_RECENT) ")",
	[ST_RU_ZONE] = "SELECT value FROM rollup_meta WHERE key = 'timezone'",
	[ST_RU_GROUP] = "INSERT INTO rollup_g(c, day, u, st, g, n) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT DO UPDATE SET n = n + excluded.n",
};

static const char schema_sql[] =
	"CREATE TABLE surveys ("
	" survey_id TEXT NOT NULL PRIMARY KEY,"
	" campaign_id TEXT NOT NULL,"
	" campaign_version TEXT,"
	" transaction_id TEXT NOT NULL,"
	" agency TEXT,"
	" procedure TEXT,"
	" msisdn_hash TEXT,"
	" channel TEXT CHECK (channel IN ('sms', 'ussd')),"
	" status TEXT NOT NULL CHECK (status IN ('completed', 'expired', 'abandoned',"
	"  'opted_out', 'failed', 'suppressed')),"
	" reason TEXT,"
	" triggered_at TEXT,"
	" finished_at TEXT,"
	" completed_at TEXT,"
	" UNIQUE (campaign_id, transaction_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX surveys_campaign_version ON surveys(campaign_id, campaign_version);"
	"CREATE TABLE answers ("
	" survey_id TEXT NOT NULL REFERENCES surveys(survey_id),"
	" question_id TEXT NOT NULL,"
	" value INTEGER,"
	" text TEXT,"
	" answered_at TEXT,"
	" campaign_id TEXT NOT NULL," /* the survey's, so reports need not join surveys */
	" PRIMARY KEY (survey_id, question_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE campaign_versions ("
	" campaign_id TEXT NOT NULL,"
	" campaign_version TEXT NOT NULL,"
	" name TEXT,"
	" nquestions INTEGER,"
	" recorded_at TEXT NOT NULL,"
	" PRIMARY KEY (campaign_id, campaign_version)"
	");"
	"CREATE TABLE campaign_questions ("
	" campaign_id TEXT NOT NULL,"
	" campaign_version TEXT NOT NULL,"
	" question_id TEXT NOT NULL,"
	" position INTEGER NOT NULL,"
	" grp TEXT,"
	" type TEXT NOT NULL CHECK (type IN ('scale', 'choice', 'multi', 'yesno', 'text')),"
	" text TEXT,"
	" satisfied TEXT NOT NULL DEFAULT '',"
	" min_value INTEGER,"
	" max_value INTEGER,"
	" PRIMARY KEY (campaign_id, campaign_version, question_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE campaign_options ("
	" campaign_id TEXT NOT NULL,"
	" campaign_version TEXT NOT NULL,"
	" question_id TEXT NOT NULL,"
	" value INTEGER NOT NULL,"
	" label TEXT,"
	" PRIMARY KEY (campaign_id, campaign_version, question_id, value)"
	") WITHOUT ROWID;";

/* Schema 2: the final state of every message sent (delivery receipts). */
static const char schema_v2_sql[] =
	"CREATE TABLE IF NOT EXISTS deliveries ("
	" smsc TEXT NOT NULL,"
	" message_id TEXT NOT NULL,"
	" survey_id TEXT,"
	" item INTEGER,"          /* question index, NULL for other messages */
	" submitted_at TEXT,"
	" state TEXT NOT NULL CHECK (state IN ('delivered', 'expired', 'deleted', 'undeliverable',"
	"  'accepted', 'unknown', 'rejected')),"
	" state_at TEXT,"
	" PRIMARY KEY (smsc, message_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS deliveries_survey ON deliveries(survey_id);";

/* Schema 3: the report rollups; their tables are schema 8's now
 * (archive_rollup_schema). rollup_meta: 'timezone' = the zone whose local
 * days the rollups count (absent: built at UTC+07:00 before zones were
 * recorded, i.e. the default zone); 'utc_offset' is what schema 3 wrote,
 * kept for older readers. */
static const char schema_v3_sql[] =
	"CREATE TABLE IF NOT EXISTS rollup_meta (key TEXT NOT NULL PRIMARY KEY, value);"
	"INSERT OR IGNORE INTO rollup_meta VALUES ('utc_offset', 25200);";

const char *const archive_status_names[ARCHIVE_NSTATUS] = {
	"completed", "expired", "abandoned", "opted_out", "failed", "suppressed", "cancelled",
};

static const char *const qtype_names[] = {
	[Q_SCALE] = "scale", [Q_CHOICE] = "choice", [Q_MULTI] = "multi",
	[Q_YESNO] = "yesno", [Q_TEXT] = "text",
};

void archive_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The prepared statement `id`, reset and unbound, or NULL with err filled. */
sqlite3_stmt *archive_stmt_get(struct archive *a, enum archive_stmt id, char *err, size_t errlen)
{
	if (!a->st[id] && sqlite3_prepare_v3(a->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	                                     &a->st[id], NULL) != SQLITE_OK) {
		archive_seterr(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(a->db));
		return NULL;
	}
	sqlite3_reset(a->st[id]);
	sqlite3_clear_bindings(a->st[id]);
	return a->st[id];
}

int archive_exec(struct archive *a, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(a->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		archive_seterr(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(a->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* ISO 8601 UTC ("2026-11-21T10:00:00Z") into buf; returns buf, or NULL for 0 (absent). */
const char *archive_iso_time(int64_t t, char *buf, size_t cap)
{
	int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), sec = t - day * 86400;
	char d[16];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return NULL;
	/* the date by arithmetic (archive_day_text), as strftime would write it */
	archive_day_text(day, d);
	if (d[4] == '-' && strlen(d) == 10 && cap >= 21) {
		int f[3] = { (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60) };

		memcpy(buf, d, 10);
		for (int i = 0; i < 3; i++) {
			buf[10 + 3 * i] = i ? ':' : 'T';
			buf[11 + 3 * i] = (char)('0' + f[i] / 10);
			buf[12 + 3 * i] = (char)('0' + f[i] % 10);
		}
		buf[19] = 'Z';
		buf[20] = '\0';
		return buf;
	}
	if (!gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return buf;
}

/* Borrowed, not copied (SQLITE_STATIC): every caller's string outlives the
 * sqlite3_step that reads it, and archive_stmt_get unbinds before reuse. */
void archive_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* The reason behind SQLite's last error on path, " (...)", or "": SQLite
 * says only "unable to open database file" when the folder is read-only or
 * not the service's (its -wal and -shm files are made there). path NULL:
 * a read-only open, where the folder does not matter. */
static const char *os_why(sqlite3 *db, const char *path)
{
	static _Thread_local char buf[160];
	char dir[4096];
	int e = db ? sqlite3_system_errno(db) : 0;

	snprintf(dir, sizeof dir, "%s", path ? path : "");
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (path && (sqlite3_errcode(db) & 0xff) == SQLITE_CANTOPEN && access(path, F_OK) == 0 &&
	    access(slash ? dir : ".", W_OK) != 0) {
		snprintf(buf, sizeof buf, " (its folder cannot be written: %s)", strerror(errno));
		return buf;
	}
	if (!e)
		return "";
	snprintf(buf, sizeof buf, " (%s)", strerror(e));
	return buf;
}

struct archive *archive_open(const char *path, char *err, size_t errlen)
{
	struct archive *a = calloc(1, sizeof *a);
	sqlite3_stmt *s = NULL;
	int version;

	if (!a) {
		archive_seterr(err, errlen, "out of memory");
		return NULL;
	}
	/* NOMUTEX: a connection is used by one thread at a time (the archiver's
	 * thread, or the event loop's own connection), so SQLite's per-call
	 * lock is pure cost */
	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		archive_seterr(err, errlen, "%s: %s%s", path, a->db ? sqlite3_errmsg(a->db) : "cannot open",
		               os_why(a->db, path));
		goto fail;
	}
	sqlite3_busy_timeout(a->db, 5000);
	if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		archive_seterr(err, errlen, "%s: %s%s", path, sqlite3_errmsg(a->db), os_why(a->db, path));
		goto fail;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (version > ARCHIVE_SCHEMA_VERSION) {
		archive_seterr(err, errlen, "%s: schema version %d is newer than this program's (%d)", path,
		       version, ARCHIVE_SCHEMA_VERSION);
		goto fail;
	}
	if (archive_exec(a, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err, errlen) < 0)
		goto fail;
	if (version < ARCHIVE_SCHEMA_VERSION) {
		if (archive_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
			goto fail;
		/* Another process may have created it while we waited for the lock. */
		if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_ROW) {
			archive_seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(a->db));
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		version = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		s = NULL;
		if (version == 0 && archive_exec(a, schema_sql, err, errlen) < 0) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* each step up to the current version; idempotent, so a race is harmless */
		if (version < 2 && (archive_exec(a, schema_v2_sql, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 2", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		if (version < 3 && (archive_exec(a, schema_v3_sql, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 3", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* schema 4: hash chain, audit links, sealed contacts (chain.c) */
		if (version < 4 && (chain_migrate(a->db, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 4", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* schema 5: opt-outs that outlive Redis (optout.c) */
		if (version < 5 && (optout_migrate(a->db, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 5", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* schema 6: the status cancelled and cancelled_by (archive_migrate_v6) */
		if (version < 6 && (archive_migrate_v6(a, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 6", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* schema 7: fewer indexes to write, stray replies */
		if (version < 7 && (archive_migrate_v7(a, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 7", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* schema 8: rollups keyed by integers, read through views (archive_migrate_v8) */
		if (version < 8 && (archive_migrate_v8(a, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 8", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* schema 9: rollup_citizens_recent (archive_migrate_v9) */
		if (version < 9 && (archive_migrate_v9(a, err, errlen) < 0 ||
		                    archive_exec(a, "PRAGMA user_version = 9", err, errlen) < 0)) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		if (archive_exec(a, "COMMIT", err, errlen) < 0) {
			archive_exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
	}
	/* A 64 MB page cache for the writer, and a checkpoint every 10 000 WAL
	 * pages (about 40 MB) rather than 1 000: a page that many batches
	 * change (rollups, index interiors) is copied into the database once
	 * per checkpoint, not once per batch. A checkpoint does not change what
	 * a commit guarantees (docs/archive.md, "Cost"). */
	archive_exec(a, "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 10000", NULL, 0);
	if (!(a->chain = chain_new(a->db))) {
		archive_seterr(err, errlen, "out of memory");
		goto fail;
	}
	return a;
fail:
	sqlite3_finalize(s);
	archive_close(a);
	return NULL;
}

/* One read-only connection: its schema version in *version and 0, or
 * SQLite's (primary) error code with err. */
static int open_ro(struct archive *a, const char *path, int immutable, int *version, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	char *uri = NULL;
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;

	if (immutable) {
		if (!(uri = sqlite3_mprintf("file:%s?immutable=1", path))) {
			archive_seterr(err, errlen, "out of memory");
			return SQLITE_NOMEM;
		}
		/* the URI's path: '?' and '#' would end it, '%' starts an escape */
		if (strpbrk(path, "?#%")) {
			sqlite3_free(uri);
			archive_seterr(err, errlen, "%s: cannot be read on read-only media (?, # or %% in its name)", path);
			return SQLITE_CANTOPEN;
		}
		flags |= SQLITE_OPEN_URI;
	}
	int rc = sqlite3_open_v2(uri ? uri : path, &a->db, flags, NULL);
	sqlite3_free(uri);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(a->db, 5000);
		rc = sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(s) == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(a->db);
	}
	if (rc == SQLITE_OK)
		*version = sqlite3_column_int(s, 0);
	else
		archive_seterr(err, errlen, "%s: %s%s", path, a->db ? sqlite3_errmsg(a->db) : "cannot open",
		               os_why(a->db, NULL));
	sqlite3_finalize(s);
	if (rc != SQLITE_OK) {
		sqlite3_close(a->db);
		a->db = NULL;
		return rc & 0xff;
	}
	return 0;
}

struct archive *archive_open_readonly(const char *path, int *older, char *err, size_t errlen)
{
	struct archive *a = calloc(1, sizeof *a);
	int version = 0;

	*older = 0;
	if (!a) {
		archive_seterr(err, errlen, "out of memory");
		return NULL;
	}
	/* a WAL archive on read-only media: its -shm cannot be made, and nobody
	 * writes there, so it is read as immutable */
	int rc = open_ro(a, path, 0, &version, err, errlen);
	/* only then: a busy or damaged archive is never read as immutable (that
	 * would leave out its WAL, what was written last) */
	if (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY) {
		char wal[4096];
		struct stat st;
		snprintf(wal, sizeof wal, "%s-wal", path);
		if (stat(wal, &st) == 0 && st.st_size > 0) { /* its last writes are there, unread as immutable */
			archive_seterr(err, errlen, "%s: cannot be read here with its -wal file (read-only folder): copy it"
			               " with hailong archive backup", path);
			goto fail;
		}
		rc = open_ro(a, path, 1, &version, err, errlen);
	}
	if (rc != 0)
		goto fail;
	if (version > ARCHIVE_SCHEMA_VERSION) {
		archive_seterr(err, errlen, "%s: schema version %d is newer than this program's (%d)", path, version,
		               ARCHIVE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < ARCHIVE_SCHEMA_VERSION) {
		archive_seterr(err, errlen, "%s: schema version %d is older than this program's (%d): it is upgraded"
		               " when opened for writing", path, version, ARCHIVE_SCHEMA_VERSION);
		*older = 1;
		goto fail;
	}
	if (!(a->chain = chain_new(a->db))) {
		archive_seterr(err, errlen, "out of memory");
		goto fail;
	}
	return a;
fail:
	archive_close(a);
	return NULL;
}

struct sqlite3 *archive_sqlite(struct archive *a)
{
	return a->db;
}

static void rows_clear(struct archive *a);

void archive_close(struct archive *a)
{
	if (!a)
		return;
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	chain_free(a->chain);
	rows_clear(a);
	free(a->ca);
	free(a->ca_at);
	free(a->ca_own);
	archive_qcache_clear(a);
	archive_units_forget(a);
	archive_rollup_names_free(a);
	sqlite3_close(a->db);
	free(a);
}

int archive_put_campaign(struct archive *a, const struct campaign *c, char *err, size_t errlen)
{
	char now[32], sat[CAMPAIGN_MAX_OPTIONS * 12 + 1];
	sqlite3_stmt *s;

	if (!c || !c->id) {
		archive_seterr(err, errlen, "campaign without id");
		return -EINVAL;
	}
	archive_qcache_clear(a); /* questions of a version may be recorded now */
	if (archive_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if (!(s = archive_stmt_get(a, ST_REPUT_VERSION, err, errlen)))
		goto fail;
	archive_bind_text(s, 1, c->id);
	archive_bind_text(s, 2, c->version);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto sqlfail;
	if (!(s = archive_stmt_get(a, ST_INS_VERSION, err, errlen)))
		goto fail;
	archive_bind_text(s, 1, c->id);
	archive_bind_text(s, 2, c->version);
	archive_bind_text(s, 3, c->name);
	sqlite3_bind_int(s, 4, c->nquestions);
	archive_bind_text(s, 5, archive_iso_time((int64_t)time(NULL), now, sizeof now));
	if (sqlite3_step(s) != SQLITE_DONE)
		goto sqlfail;
	for (int i = 0; i < c->nquestions; i++) {
		const struct campaign_question *q = &c->questions[i];
		size_t len = 0;
		int lo = 0, hi = 0;

		sat[0] = '\0';
		if (q->type == Q_SCALE && q->scale) {
			for (int k = 0; k < q->scale->nsatisfied; k++) {
				int w = snprintf(sat + len, sizeof sat - len, "%s%d", k ? "," : "",
				                 q->scale->satisfied[k]);
				if (w < 0 || (size_t)w >= sizeof sat - len)
					break;
				len += (size_t)w;
			}
		}
		for (int k = 0; k < q->nopts; k++) {
			if (k == 0 || q->opts[k].value < lo)
				lo = q->opts[k].value;
			if (k == 0 || q->opts[k].value > hi)
				hi = q->opts[k].value;
		}
		if (!(s = archive_stmt_get(a, ST_INS_QUESTION, err, errlen)))
			goto fail;
		archive_bind_text(s, 1, c->id);
		archive_bind_text(s, 2, c->version);
		archive_bind_text(s, 3, q->id);
		sqlite3_bind_int(s, 4, i + 1);
		archive_bind_text(s, 5, q->group);
		archive_bind_text(s, 6, (unsigned)q->type <= Q_TEXT ? qtype_names[q->type] : "text");
		archive_bind_text(s, 7, q->text);
		archive_bind_text(s, 8, sat);
		if (q->nopts > 0) {
			sqlite3_bind_int(s, 9, lo);
			sqlite3_bind_int(s, 10, hi);
		}
		if (sqlite3_step(s) != SQLITE_DONE)
			goto sqlfail;
		for (int k = 0; k < q->nopts; k++) {
			if (!(s = archive_stmt_get(a, ST_INS_OPTION, err, errlen)))
				goto fail;
			archive_bind_text(s, 1, c->id);
			archive_bind_text(s, 2, c->version);
			archive_bind_text(s, 3, q->id);
			sqlite3_bind_int(s, 4, q->opts[k].value);
			archive_bind_text(s, 5, q->opts[k].label);
			if (sqlite3_step(s) != SQLITE_DONE)
				goto sqlfail;
		}
	}
	if (archive_exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return 0;
sqlfail:
	archive_seterr(err, errlen, "campaign %s: %s", c->id, sqlite3_errmsg(a->db));
fail:
	archive_exec(a, "ROLLBACK", NULL, 0);
	return -EIO;
}

static int status_valid(const char *st)
{
	for (int i = 0; st && i < NSTATUS; i++)
		if (strcmp(st, status_names[i]) == 0)
			return 1;
	return 0;
}

static int cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;

	return (a > b) - (a < b);
}

/* 1 if the recorded campaign version declares question `qid` as multi. */
static int question_is_multi(struct archive *a, const struct archive_survey *sv, const char *qid)
{
	const char *grp;
	int multi, rated;

	archive_question_info(a, sv->campaign_id, sv->campaign_version, qid, &multi, &grp, &rated);
	return multi;
}

/* The chain's copy of one answer row as stored (chain_put_rows). */
static int rows_add(struct archive *a, struct chain_rows *r, const char *qid, int has_value, int value,
                    const char *text, const char *at)
{
	if (a->nca == a->capca) {
		int cap = a->capca ? a->capca * 2 : 16;
		struct chain_answer *nc = realloc(a->ca, sizeof *nc * (size_t)cap);
		if (nc)
			a->ca = nc;
		char(*nt)[32] = nc ? realloc(a->ca_at, sizeof *nt * (size_t)cap) : NULL;
		if (nt)
			a->ca_at = nt;
		char **no = nt ? realloc(a->ca_own, sizeof *no * (size_t)cap) : NULL;
		if (!no) {
			r->exact = 0; /* read back instead */
			return 0;
		}
		a->ca_own = no;
		a->capca = cap;
	}
	struct chain_answer *x = &a->ca[a->nca];
	x->question_id = qid;
	x->has_value = has_value;
	x->value = value;
	a->ca_own[a->nca] = text ? strdup(text) : NULL;
	x->text = a->ca_own[a->nca];
	snprintf(a->ca_at[a->nca], sizeof a->ca_at[a->nca], "%s", at ? at : "");
	a->nca++;
	if (text && !x->text)
		r->exact = 0;
	return 0;
}

static void rows_clear(struct archive *a)
{
	for (int i = 0; i < a->nca; i++)
		free(a->ca_own[i]);
	a->nca = 0;
}

/* Insert the answers of one new survey. Entries sharing a question_id (the
 * chosen values of a multi question), and any valued answer to a question the
 * campaign declares multi, become one row: value NULL, text the sorted
 * distinct values "1 3". Each row is counted in the rollups under k.
 * Returns 0, -EINVAL, -ENOMEM or -EIO with err filled. */
static int put_answers(struct archive *a, const struct archive_survey *sv, struct archive_rkey *k,
                       struct chain_rows *rows, char *err, size_t errlen)
{
	for (int i = 0; i < sv->nanswers; i++) {
		const struct archive_answer *an = &sv->answers[i];
		int vals[ARCHIVE_MAX_MULTI], nv = 0, nsame = 0, dup = 0;
		int64_t at = an->answered_at;
		const char *text = an->text;
		char tbuf[ARCHIVE_MAX_MULTI * 12 + 1], when[32];
		const char *stored = NULL; /* the text column as written */
		int has_value = 0, rc;
		sqlite3_stmt *s;

		if (!an->question_id) {
			archive_seterr(err, errlen, "survey %s: answer %d without question_id", sv->survey_id, i);
			return -EINVAL;
		}
		for (int j = 0; j < i && !dup; j++)
			dup = strcmp(sv->answers[j].question_id, an->question_id) == 0;
		if (dup)
			continue; /* merged into the first entry of its question */
		for (int j = i; j < sv->nanswers; j++) {
			const struct archive_answer *o = &sv->answers[j];

			if (!o->question_id || strcmp(o->question_id, an->question_id) != 0)
				continue;
			nsame++;
			if (o->answered_at > at)
				at = o->answered_at;
			if (o->text && !text)
				text = o->text;
			if (!o->has_value)
				continue;
			if (nv == ARCHIVE_MAX_MULTI) {
				archive_seterr(err, errlen, "survey %s: question %s: more than %d values",
				       sv->survey_id, an->question_id, ARCHIVE_MAX_MULTI);
				return -EINVAL;
			}
			vals[nv++] = o->value;
		}
		if (!(s = archive_stmt_get(a, ST_INS_ANSWER, err, errlen)))
			return -EIO;
		archive_bind_text(s, 1, sv->survey_id);
		archive_bind_text(s, 2, an->question_id);
		if (nv > 0 && (nsame > 1 || question_is_multi(a, sv, an->question_id))) {
			size_t len = 0;

			qsort(vals, (size_t)nv, sizeof vals[0], cmp_int);
			tbuf[0] = '\0';
			for (int x = 0; x < nv; x++) {
				if (x > 0 && vals[x] == vals[x - 1])
					continue;
				int w = snprintf(tbuf + len, sizeof tbuf - len, "%s%d", len ? " " : "", vals[x]);
				if (w < 0 || (size_t)w >= sizeof tbuf - len)
					break;
				len += (size_t)w;
			}
			archive_bind_text(s, 4, tbuf);
			stored = tbuf;
		} else {
			if (nv > 0)
				sqlite3_bind_int(s, 3, vals[0]);
			has_value = nv > 0;
			archive_bind_text(s, 4, text);
			stored = text;
		}
		archive_bind_text(s, 5, archive_iso_time(at, when, sizeof when));
		archive_bind_text(s, 6, sv->campaign_id);
		if (sqlite3_step(s) != SQLITE_DONE) {
			archive_seterr(err, errlen, "survey %s: answer %s: %s", sv->survey_id, an->question_id,
			       sqlite3_errmsg(a->db));
			return -EIO;
		}
		if (sqlite3_changes(a->db) != 1)
			rows->exact = 0; /* an older row of that survey stays: the chain reads back */
		else
			rows_add(a, rows, an->question_id, has_value, has_value ? vals[0] : 0, stored,
			         archive_iso_time(at, when, sizeof when));
		if ((rc = archive_rollup_answer(a, k, an->question_id, has_value, has_value ? vals[0] : 0,
		                        stored)) < 0) {
			archive_seterr(err, errlen, "survey %s: rollup: %s", sv->survey_id,
			       rc == -ENOMEM ? "out of memory" : sqlite3_errmsg(a->db));
			return rc;
		}
	}
	return 0;
}

int archive_put(struct archive *a, const struct archive_survey *sv, int n, char *err, size_t errlen)
{
	char t1[32], t2[32], t3[32];
	int inserted = 0, rc = -EIO;
	struct archive_rkey k;

	memset(&k, 0, sizeof k);

	for (int i = 0; i < n; i++) {
		if (!sv[i].survey_id || !sv[i].campaign_id || !sv[i].transaction_id) {
			archive_seterr(err, errlen, "survey %d: survey_id, campaign_id and transaction_id are required", i);
			return -EINVAL;
		}
		if (!status_valid(sv[i].status)) {
			archive_seterr(err, errlen, "survey %s: bad status '%s'", sv[i].survey_id,
			       sv[i].status ? sv[i].status : "(null)");
			return -EINVAL;
		}
		if (sv[i].channel && strcmp(sv[i].channel, "sms") != 0 && strcmp(sv[i].channel, "ussd") != 0) {
			archive_seterr(err, errlen, "survey %s: bad channel '%s'", sv[i].survey_id, sv[i].channel);
			return -EINVAL;
		}
		if (sv[i].nanswers < 0 || (sv[i].nanswers > 0 && !sv[i].answers)) {
			archive_seterr(err, errlen, "survey %s: bad answers", sv[i].survey_id);
			return -EINVAL;
		}
	}
	if (archive_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	/* rollups counted in another zone (the config's timezone changed, or
	 * another writer): rebuilt in ours first, in this transaction */
	if ((rc = archive_rollup_zone(a, err, errlen)) < 0)
		goto fail;
	chain_begin(a->chain);
	rc = -EIO;
	for (int i = 0; i < n; i++) {
		const struct archive_survey *v = &sv[i];
		sqlite3_stmt *s = archive_stmt_get(a, ST_INS_SURVEY, err, errlen);

		if (!s)
			goto fail;
		archive_bind_text(s, 1, v->survey_id);
		archive_bind_text(s, 2, v->campaign_id);
		archive_bind_text(s, 3, v->campaign_version);
		archive_bind_text(s, 4, v->transaction_id);
		archive_bind_text(s, 5, v->agency);
		archive_bind_text(s, 6, v->procedure);
		archive_bind_text(s, 7, v->msisdn_hash);
		archive_bind_text(s, 8, v->channel);
		archive_bind_text(s, 9, v->status);
		archive_bind_text(s, 10, v->reason);
		archive_bind_text(s, 11, archive_iso_time(v->triggered_at, t1, sizeof t1));
		archive_bind_text(s, 12, archive_iso_time(v->finished_at, t2, sizeof t2));
		archive_bind_text(s, 13, archive_iso_time(v->completed_at, t3, sizeof t3));
		archive_bind_text(s, 14, v->cancelled_by);
		if (sqlite3_step(s) != SQLITE_DONE) {
			archive_seterr(err, errlen, "survey %s: %s", v->survey_id, sqlite3_errmsg(a->db));
			goto fail;
		}
		if (sqlite3_changes(a->db) == 0)
			continue; /* already stored (same survey_id or campaign + transaction) */
		inserted++;
		k.campaign_id = v->campaign_id;
		k.version = v->campaign_version;
		k.agency = v->agency;
		k.procedure = v->procedure;
		k.channel = v->channel;
		k.status = v->status;
		k.msisdn_hash = v->msisdn_hash;
		archive_rkey_day(&k, v->triggered_at);
		/* the rows as stored, for the chain (chain_encode's column order) */
		struct chain_rows rows = { { v->survey_id, v->campaign_id, v->campaign_version, v->transaction_id,
		                             v->agency, v->procedure, v->msisdn_hash, v->channel, v->status, v->reason,
		                             archive_iso_time(v->triggered_at, t1, sizeof t1),
		                             archive_iso_time(v->finished_at, t2, sizeof t2),
		                             archive_iso_time(v->completed_at, t3, sizeof t3) }, NULL, 0, 1 };
		rows_clear(a);
		rc = put_answers(a, v, &k, &rows, err, errlen);
		if (rc == 0 && archive_rollup_survey(a, &k) < 0) {
			archive_seterr(err, errlen, "survey %s: rollup: %s", v->survey_id, sqlite3_errmsg(a->db));
			rc = -EIO;
		}
		archive_rkey_clear(&k);
		if (rc < 0)
			goto fail;
		/* audit link, sealed contact, and the next link of the hash chain */
		for (int x = 0; x < a->nca; x++)
			a->ca[x].answered_at = a->ca_at[x][0] ? a->ca_at[x] : NULL;
		rows.answers = a->ca;
		rows.nanswers = a->nca;
		rc = chain_put_rows(a->chain, v, &rows, (int64_t)time(NULL), err, errlen);
		rows_clear(a);
		if (rc < 0)
			goto fail;
		rc = -EIO;
	}
	if (archive_rollup_flush(a) < 0) {
		archive_seterr(err, errlen, "rollup: %s", sqlite3_errmsg(a->db));
		goto fail;
	}
	if (archive_exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return inserted;
fail:
	archive_exec(a, "ROLLBACK", NULL, 0);
	archive_rollup_discard(a);
	archive_units_forget(a); /* ids created in this transaction are gone */
	return rc;
}

int64_t archive_count(struct archive *a, const char *campaign_id, const char *status)
{
	enum archive_stmt id = campaign_id ? (status ? ST_COUNT_CS : ST_COUNT_C)
	                                   : (status ? ST_COUNT_S : ST_COUNT_ALL);
	sqlite3_stmt *s = archive_stmt_get(a, id, NULL, 0);
	int64_t n = -EIO;

	if (!s)
		return -EIO;
	if (campaign_id)
		archive_bind_text(s, 1, campaign_id);
	if (status)
		archive_bind_text(s, 2, status);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n;
}

int archive_put_deliveries(struct archive *a, const struct archive_delivery *d, int n, char *err,
                           size_t errlen)
{
	static const char *const states[] = {"delivered", "expired", "deleted", "undeliverable",
	                                     "accepted", "unknown", "rejected"};
	char t1[32], t2[32];
	sqlite3_stmt *s = NULL;
	int inserted = 0;

	for (int i = 0; i < n; i++) {
		int ok = 0;
		for (size_t k = 0; k < sizeof states / sizeof states[0]; k++)
			ok |= d[i].state && strcmp(d[i].state, states[k]) == 0;
		if (!d[i].smsc || !d[i].message_id || !ok) {
			archive_seterr(err, errlen, "delivery %d: smsc, message_id and a known state are required", i);
			return -EINVAL;
		}
	}
	if (archive_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(a->db,
	                       "INSERT OR IGNORE INTO deliveries (smsc, message_id, survey_id, item, submitted_at,"
	                       " state, state_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	                       -1, &s, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, d[i].smsc, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, d[i].message_id, -1, SQLITE_STATIC);
		if (d[i].survey_id)
			sqlite3_bind_text(s, 3, d[i].survey_id, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 3);
		if (d[i].item >= 0)
			sqlite3_bind_int(s, 4, d[i].item);
		else
			sqlite3_bind_null(s, 4);
		sqlite3_bind_text(s, 5, archive_iso_time(d[i].submitted_at, t1, sizeof t1), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, d[i].state, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, archive_iso_time(d[i].state_at, t2, sizeof t2), -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto fail;
		inserted += sqlite3_changes(a->db);
	}
	sqlite3_finalize(s);
	if (archive_exec(a, "COMMIT", err, errlen) < 0) {
		archive_exec(a, "ROLLBACK", NULL, 0);
		return -EIO;
	}
	return inserted;
fail:
	archive_seterr(err, errlen, "deliveries: %s", sqlite3_errmsg(a->db));
	sqlite3_finalize(s);
	archive_exec(a, "ROLLBACK", NULL, 0);
	return -EIO;
}

int archive_put_strays(struct archive *a, const struct archive_stray *st, int n, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	char when[32];
	int inserted = 0;

	for (int i = 0; i < n; i++) {
		if (!st[i].msisdn_hash || !st[i].msisdn_hash[0] || st[i].at <= 0) {
			archive_seterr(err, errlen, "stray reply %d: a hash and a time are required", i);
			return -EINVAL;
		}
	}
	if (archive_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(a->db, "INSERT OR IGNORE INTO stray_replies(msisdn_hash, at) VALUES(?1, ?2)", -1, &s,
	                       NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		sqlite3_reset(s);
		archive_bind_text(s, 1, st[i].msisdn_hash);
		archive_bind_text(s, 2, archive_iso_time(st[i].at, when, sizeof when));
		if (sqlite3_step(s) != SQLITE_DONE)
			goto fail;
		inserted += sqlite3_changes(a->db);
	}
	sqlite3_finalize(s);
	if (archive_exec(a, "COMMIT", err, errlen) < 0) {
		archive_exec(a, "ROLLBACK", NULL, 0);
		return -EIO;
	}
	return inserted;
fail:
	archive_seterr(err, errlen, "stray replies: %s", sqlite3_errmsg(a->db));
	sqlite3_finalize(s);
	archive_exec(a, "ROLLBACK", NULL, 0);
	return -EIO;
}

int archive_rollup_sync(struct archive *a, char *err, size_t errlen)
{
	int rc;

	if (archive_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if ((rc = archive_rollup_zone(a, err, errlen)) < 0 || (rc = archive_exec(a, "COMMIT", err, errlen)) < 0) {
		archive_exec(a, "ROLLBACK", NULL, 0);
		archive_rollup_discard(a);
		archive_units_forget(a);
		return rc;
	}
	return 0;
}

/* ---- a report's own rollups in another zone ---- */

int archive_rollup_temp(struct sqlite3 *db, const char *campaign_id, char *err, size_t errlen)
{
	struct archive *a = calloc(1, sizeof *a);
	int rc;

	if (!a) {
		archive_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->db = db; /* borrowed: the TEMP tables shadow the archive's for this connection only */
	rc = archive_rollup_schema(a, 1, err, errlen);
	if (rc == 0 && (rc = archive_exec(a, "BEGIN", err, errlen)) == 0) {
		rc = archive_rollup_rebuild(a, campaign_id, 1, err, errlen);
		archive_exec(a, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, 0);
	}
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	archive_qcache_clear(a);
	archive_units_forget(a);
	archive_rollup_names_free(a);
	free(a);
	return rc;
}
