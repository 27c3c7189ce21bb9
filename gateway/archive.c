/* archive: the SQLite archive of finished surveys (SPEC §7, docs/archive.md) and the reports read from it. */
#include "archive.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define ARCHIVE_SCHEMA_VERSION 3
/* Rollup days are local days at this UTC offset: Asia/Ho_Chi_Minh, the
 * configured default zone, which has kept UTC+07:00 without summer time since 1975. */
#define ARCHIVE_ROLLUP_OFFSET 25200
#define ARCHIVE_ROLLUP_OFFSET_S "25200"
#define ARCHIVE_MAX_GROUPS 32     /* criteria groups of one survey */
#define ARCHIVE_MAX_UNITS 256     /* (agency, procedure, channel) ids remembered */
#define ARCHIVE_MAX_MULTI 64      /* chosen values of one multi answer */

/* Statements prepared once on first use and reset after each use. */
enum archive_stmt {
	ST_INS_SURVEY,
	ST_INS_ANSWER,
	ST_QTYPE,
	ST_INS_VERSION,
	ST_INS_QUESTION,
	ST_INS_OPTION,
	ST_COUNT_ALL,
	ST_COUNT_C,
	ST_COUNT_S,
	ST_COUNT_CS,
	ST_RU_SURVEY,
	ST_RU_ANSWER,
	ST_RU_GROUP,
	ST_RU_UNIT_GET,
	ST_RU_UNIT_INS,
	ST_RU_CITIZEN,
	ST_MAX
};

static const char *const stmt_sql[ST_MAX] = {
	[ST_INS_SURVEY] = "INSERT OR IGNORE INTO surveys(survey_id, campaign_id, campaign_version,"
		" transaction_id, agency, procedure, msisdn_hash, channel, status, reason,"
		" triggered_at, finished_at, completed_at)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_INS_ANSWER] = "INSERT OR IGNORE INTO answers(survey_id, question_id, value, text, answered_at,"
		" campaign_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_QTYPE] = "SELECT question_id, type, COALESCE(grp, ''), satisfied <> '' FROM campaign_questions"
		" WHERE campaign_id = ?1 AND campaign_version = ?2",
	[ST_INS_VERSION] = "INSERT OR IGNORE INTO campaign_versions(campaign_id, campaign_version,"
		" name, nquestions, recorded_at) VALUES(?1, ?2, ?3, ?4, ?5)",
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
	[ST_RU_SURVEY] = "INSERT INTO rollup_surveys(campaign_id, day, agency, procedure, channel, status,"
		" surveys, rated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)"
		" ON CONFLICT DO UPDATE SET surveys = surveys + 1, rated = rated + excluded.rated",
	[ST_RU_ANSWER] = "INSERT INTO rollup_answers(campaign_id, day, agency, procedure, channel, status,"
		" question_id, kind, value, n) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)"
		" ON CONFLICT DO UPDATE SET n = n + 1",
	[ST_RU_UNIT_GET] = "SELECT uid FROM rollup_units WHERE agency = ?1 AND procedure = ?2 AND channel = ?3",
	[ST_RU_UNIT_INS] = "INSERT INTO rollup_units(agency, procedure, channel) VALUES(?1, ?2, ?3)",
	[ST_RU_CITIZEN] = "INSERT OR IGNORE INTO rollup_citizens(campaign_id, cid, day, uid, status)"
		" VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_RU_GROUP] = "INSERT INTO rollup_groups(campaign_id, day, agency, procedure, channel, status,"
		" grp, n) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) ON CONFLICT DO UPDATE SET n = n + 1",
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
	"CREATE INDEX surveys_campaign_status ON surveys(campaign_id, status, msisdn_hash);"
	"CREATE INDEX surveys_campaign_version ON surveys(campaign_id, campaign_version);"
	"CREATE INDEX surveys_agency ON surveys(agency, campaign_id);"
	"CREATE TABLE answers ("
	" survey_id TEXT NOT NULL REFERENCES surveys(survey_id),"
	" question_id TEXT NOT NULL,"
	" value INTEGER,"
	" text TEXT,"
	" answered_at TEXT,"
	" campaign_id TEXT NOT NULL," /* the survey's, so reports need not join surveys */
	" PRIMARY KEY (survey_id, question_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX answers_campaign ON answers(campaign_id, question_id, value);"
	"CREATE INDEX answers_campaign_text ON answers(campaign_id, question_id) WHERE value IS NULL;"
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

/* Schema 3: the report rollups and a covering index for distinct citizens.
 * Keys are never NULL: an absent agency, procedure, channel or day is ''. */
#define ROLLUP_KEY " campaign_id TEXT NOT NULL, day TEXT NOT NULL, agency TEXT NOT NULL," \
	" procedure TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,"
#define ROLLUP_PK "campaign_id, day, agency, procedure, channel, status"
static const char schema_v3_sql[] =
	"CREATE TABLE IF NOT EXISTS rollup_meta (key TEXT NOT NULL PRIMARY KEY, value);"
	"INSERT OR IGNORE INTO rollup_meta VALUES ('utc_offset', " ARCHIVE_ROLLUP_OFFSET_S ");"
	"CREATE TABLE IF NOT EXISTS rollup_surveys (" ROLLUP_KEY
	" surveys INTEGER NOT NULL,"  /* surveys */
	" rated INTEGER NOT NULL,"    /* of them, with at least one rated answer */
	" PRIMARY KEY (" ROLLUP_PK ")) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS rollup_answers (" ROLLUP_KEY
	" question_id TEXT NOT NULL,"
	" kind INTEGER NOT NULL,"     /* 0 valued, 1 chosen multi option, 2 row without value,
	                               * 3 row without value with a comment */
	" value INTEGER NOT NULL,"    /* kinds 0 and 1; 0 otherwise */
	" n INTEGER NOT NULL,"
	" PRIMARY KEY (" ROLLUP_PK ", question_id, kind, value)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS rollup_groups (" ROLLUP_KEY
	" grp TEXT NOT NULL,"         /* criteria group ('' = none) */
	" n INTEGER NOT NULL,"        /* surveys with a rated answer in it */
	" PRIMARY KEY (" ROLLUP_PK ", grp)) WITHOUT ROWID;"
	/* Distinct citizens: one small row per (citizen, local day, unit, status),
	 * in citizen order, so that a report counts them in one short scan. */
	"CREATE TABLE IF NOT EXISTS rollup_units (uid INTEGER PRIMARY KEY, agency TEXT NOT NULL,"
	" procedure TEXT NOT NULL, channel TEXT NOT NULL, UNIQUE (agency, procedure, channel));"
	"CREATE TABLE IF NOT EXISTS rollup_citizens (campaign_id TEXT NOT NULL,"
	" cid INTEGER NOT NULL,"        /* 64-bit FNV-1a of msisdn_hash */
	" day INTEGER NOT NULL,"        /* local day, days since 1970-01-01; ARCHIVE_NO_DAY unknown */
	" uid INTEGER NOT NULL,"        /* rollup_units */
	" status INTEGER NOT NULL,"     /* position in archive_status_names */
	" PRIMARY KEY (campaign_id, cid, day, uid, status)) WITHOUT ROWID;";

const char *const archive_status_names[ARCHIVE_NSTATUS] = {
	"completed", "expired", "abandoned", "opted_out", "failed", "suppressed",
};
#define status_names archive_status_names
#define NSTATUS ARCHIVE_NSTATUS

static const char *const qtype_names[] = {
	[Q_SCALE] = "scale", [Q_CHOICE] = "choice", [Q_MULTI] = "multi",
	[Q_YESNO] = "yesno", [Q_TEXT] = "text",
};

/* The questions of the campaign version last written, so that putting an
 * answer costs no lookup (cleared when a campaign is recorded). */
struct qinfo {
	char *id, *grp;          /* grp "" = none */
	int multi, rated;        /* type multi; has satisfied values */
};

struct archive {
	sqlite3 *db;
	sqlite3_stmt *st[ST_MAX]; /* lazily prepared, owned, finalized by archive_close */
	char *qc_campaign, *qc_version; /* whose questions qc holds (owned), NULL = none */
	struct qinfo *qc;
	int nqc;
	struct aunit { char *agency, *procedure, *channel; int64_t uid; } units[ARCHIVE_MAX_UNITS];
	int nunits;                     /* rollup_units rows known to be committed or in this transaction */
};

static void units_free_one(struct aunit *u)
{
	free(u->agency);
	free(u->procedure);
	free(u->channel);
	memset(u, 0, sizeof *u);
}

static void units_forget(struct archive *a)
{
	for (int i = 0; i < a->nunits; i++)
		units_free_one(&a->units[i]);
	a->nunits = 0;
}

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

/* The prepared statement `id`, reset and unbound, or NULL with err filled. */
static sqlite3_stmt *stmt(struct archive *a, enum archive_stmt id, char *err, size_t errlen)
{
	if (!a->st[id] && sqlite3_prepare_v3(a->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	                                     &a->st[id], NULL) != SQLITE_OK) {
		seterr(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(a->db));
		return NULL;
	}
	sqlite3_reset(a->st[id]);
	sqlite3_clear_bindings(a->st[id]);
	return a->st[id];
}

static int exec(struct archive *a, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(a->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		seterr(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(a->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* ISO 8601 UTC ("2026-11-21T10:00:00Z") into buf; returns buf, or NULL for 0 (absent). */
static const char *iso_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return buf;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

/* ---- rollups ---- */

/* One survey's rollup key, and the criteria groups it has rated answers in. */
struct rkey {
	const char *campaign_id, *version, *agency, *procedure, *channel, *status;
	const char *msisdn_hash;           /* NULL: not a citizen to count */
	char day[16];                      /* local YYYY-MM-DD, '' when unknown */
	int64_t dayn;                      /* the same in days since 1970-01-01, or ARCHIVE_NO_DAY */
	char *groups[ARCHIVE_MAX_GROUPS];  /* owned; distinct */
	int ngroups;
	int rated;                         /* any rated answer */
};

static void rkey_day(struct rkey *k, int64_t t)
{
	time_t tt = (time_t)(t + ARCHIVE_ROLLUP_OFFSET);
	struct tm tm;

	k->day[0] = '\0';
	k->dayn = ARCHIVE_NO_DAY;
	if (t != 0 && gmtime_r(&tt, &tm)) {
		strftime(k->day, sizeof k->day, "%Y-%m-%d", &tm);
		k->dayn = (t + ARCHIVE_ROLLUP_OFFSET) >= 0 ? (t + ARCHIVE_ROLLUP_OFFSET) / 86400
		                                         : ((t + ARCHIVE_ROLLUP_OFFSET) - 86399) / 86400;
	}
}

uint64_t archive_citizen_id(const char *msisdn_hash)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = msisdn_hash; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

static void rkey_clear(struct rkey *k)
{
	for (int i = 0; i < k->ngroups; i++)
		free(k->groups[i]);
	k->ngroups = 0;
	k->rated = 0;
}

static void bind_key(sqlite3_stmt *s, const struct rkey *k)
{
	bind_text(s, 1, k->campaign_id);
	bind_text(s, 2, k->day);
	bind_text(s, 3, k->agency ? k->agency : "");
	bind_text(s, 4, k->procedure ? k->procedure : "");
	bind_text(s, 5, k->channel ? k->channel : "");
	bind_text(s, 6, k->status);
}

/* What the survey's campaign version says of question `qid`: multi, its
 * group, whether it is rated (has satisfied values). 0 when not recorded. */
static void qcache_clear(struct archive *a)
{
	for (int i = 0; i < a->nqc; i++) {
		free(a->qc[i].id);
		free(a->qc[i].grp);
	}
	free(a->qc);
	free(a->qc_campaign);
	free(a->qc_version);
	a->qc = NULL;
	a->nqc = 0;
	a->qc_campaign = a->qc_version = NULL;
}

/* Load the questions of (campaign_id, version) into the cache. */
static int qcache_load(struct archive *a, const char *campaign_id, const char *version)
{
	sqlite3_stmt *s = stmt(a, ST_QTYPE, NULL, 0);
	int rc;

	qcache_clear(a);
	if (!s)
		return -EIO;
	if (!(a->qc_campaign = strdup(campaign_id)) || !(a->qc_version = strdup(version)))
		goto nomem;
	bind_text(s, 1, campaign_id);
	bind_text(s, 2, version);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(s, 0), *t = sqlite3_column_text(s, 1),
		                    *g = sqlite3_column_text(s, 2);
		struct qinfo *nq = realloc(a->qc, (size_t)(a->nqc + 1) * sizeof *nq);

		if (!nq)
			goto nomem;
		a->qc = nq;
		nq = &a->qc[a->nqc];
		nq->id = strdup(id ? (const char *)id : "");
		nq->grp = strdup(g ? (const char *)g : "");
		if (!nq->id || !nq->grp) {
			free(nq->id);
			free(nq->grp);
			goto nomem;
		}
		nq->multi = t && strcmp((const char *)t, "multi") == 0;
		nq->rated = sqlite3_column_int(s, 3);
		a->nqc++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
nomem:
	sqlite3_reset(s);
	qcache_clear(a);
	return -ENOMEM;
}

/* What the survey's campaign version says of question `qid`: multi, its
 * group, whether it is rated (has satisfied values). Returns 1 when found, 0
 * when not recorded (all zero), or a negative errno. */
static int question_info(struct archive *a, const char *campaign_id, const char *version,
                         const char *qid, int *multi, const char **grp, int *rated)
{
	int rc;

	*multi = *rated = 0;
	*grp = "";
	if (!campaign_id || !version || !qid)
		return 0;
	if ((!a->qc_campaign || strcmp(a->qc_campaign, campaign_id) != 0 ||
	     strcmp(a->qc_version, version) != 0) && (rc = qcache_load(a, campaign_id, version)) < 0)
		return rc;
	for (int i = 0; i < a->nqc; i++) {
		if (strcmp(a->qc[i].id, qid) == 0) {
			*multi = a->qc[i].multi;
			*grp = a->qc[i].grp;
			*rated = a->qc[i].rated;
			return 1;
		}
	}
	return 0;
}

static int rollup_answer_kind(struct archive *a, const struct rkey *k, const char *qid, int kind,
                              int value)
{
	sqlite3_stmt *s = stmt(a, ST_RU_ANSWER, NULL, 0);

	if (!s)
		return -EIO;
	bind_key(s, k);
	bind_text(s, 7, qid);
	sqlite3_bind_int(s, 8, kind);
	sqlite3_bind_int(s, 9, value);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
}

/* Count one stored answer row (value, or NULL value with text: a comment or
 * a multi answer "1 3") in the answer rollup, and note its group. */
static int rollup_answer(struct archive *a, struct rkey *k, const char *qid, int has_value, int value,
                         const char *text)
{
	const char *grp;
	int multi, rated, rc;

	if ((rc = question_info(a, k->campaign_id, k->version, qid, &multi, &grp, &rated)) < 0)
		return rc;
	rc = 0;
	if (has_value) {
		if ((rc = rollup_answer_kind(a, k, qid, 0, value)) < 0)
			return rc;
		if (rated) {
			int i = 0;

			k->rated = 1;
			while (i < k->ngroups && strcmp(k->groups[i], grp) != 0)
				i++;
			if (i == k->ngroups && k->ngroups < ARCHIVE_MAX_GROUPS) {
				if (!(k->groups[k->ngroups] = strdup(grp)))
					return -ENOMEM;
				k->ngroups++;
			}
		}
		return 0;
	}
	if ((rc = rollup_answer_kind(a, k, qid, 2, 0)) < 0)
		return rc;
	if (multi) {
		const char *p = text;

		while (p && *p) {
			char *end;
			long v;

			while (*p == ' ')
				p++;
			errno = 0;
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (errno == 0 && v >= -2147483647L && v <= 2147483647L &&
			    (rc = rollup_answer_kind(a, k, qid, 1, (int)v)) < 0)
				return rc;
			p = end;
		}
		return 0;
	}
	if (text && text[0])
		rc = rollup_answer_kind(a, k, qid, 3, 0);
	return rc;
}

/* The id of a unit (agency, procedure, channel), created on first use. */
static int64_t unit_id(struct archive *a, const struct rkey *k)
{
	const char *v[3] = { k->agency ? k->agency : "", k->procedure ? k->procedure : "",
	                     k->channel ? k->channel : "" };
	sqlite3_stmt *s;
	int64_t uid = -1;

	for (int i = 0; i < a->nunits; i++)
		if (strcmp(a->units[i].agency, v[0]) == 0 && strcmp(a->units[i].procedure, v[1]) == 0 &&
		    strcmp(a->units[i].channel, v[2]) == 0)
			return a->units[i].uid;
	for (int pass = 0; pass < 2 && uid < 0; pass++) {
		if (!(s = stmt(a, pass ? ST_RU_UNIT_INS : ST_RU_UNIT_GET, NULL, 0)))
			return -EIO;
		for (int i = 0; i < 3; i++)
			bind_text(s, i + 1, v[i]);
		int rc = sqlite3_step(s);
		if (!pass && rc == SQLITE_ROW)
			uid = sqlite3_column_int64(s, 0);
		else if (pass && rc == SQLITE_DONE)
			uid = sqlite3_last_insert_rowid(a->db);
		else if (rc != SQLITE_DONE)
			return -EIO;
		sqlite3_reset(s);
	}
	/* remembered for the next survey; a rollback forgets them all (archive_put) */
	if (a->nunits < ARCHIVE_MAX_UNITS) {
		struct aunit *u = &a->units[a->nunits];

		u->agency = strdup(v[0]);
		u->procedure = strdup(v[1]);
		u->channel = strdup(v[2]);
		u->uid = uid;
		if (u->agency && u->procedure && u->channel)
			a->nunits++;
		else
			units_free_one(u);
	}
	return uid;
}

/* Count the survey itself, its citizen and its groups, after its answers. */
static int rollup_survey(struct archive *a, const struct rkey *k)
{
	sqlite3_stmt *s;

	if (k->msisdn_hash) {
		int64_t uid = unit_id(a, k);
		int st = 0;

		if (uid < 0 || !(s = stmt(a, ST_RU_CITIZEN, NULL, 0)))
			return -EIO;
		while (st < NSTATUS && strcmp(status_names[st], k->status) != 0)
			st++;
		bind_text(s, 1, k->campaign_id);
		sqlite3_bind_int64(s, 2, (int64_t)archive_citizen_id(k->msisdn_hash));
		sqlite3_bind_int64(s, 3, k->dayn);
		sqlite3_bind_int64(s, 4, uid);
		sqlite3_bind_int(s, 5, st);
		if (sqlite3_step(s) != SQLITE_DONE)
			return -EIO;
	}
	s = stmt(a, ST_RU_SURVEY, NULL, 0);

	if (!s)
		return -EIO;
	bind_key(s, k);
	sqlite3_bind_int(s, 7, k->rated);
	if (sqlite3_step(s) != SQLITE_DONE)
		return -EIO;
	for (int i = 0; i < k->ngroups; i++) {
		if (!(s = stmt(a, ST_RU_GROUP, NULL, 0)))
			return -EIO;
		bind_key(s, k);
		bind_text(s, 7, k->groups[i]);
		if (sqlite3_step(s) != SQLITE_DONE)
			return -EIO;
	}
	return 0;
}

/* Fill the rollups from the surveys and answers already stored (a database
 * from before schema 3), inside the caller's transaction. */
static int rollup_rebuild(struct archive *a, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT s.survey_id, s.campaign_id, s.campaign_version, s.agency, s.procedure, s.channel,"
		" s.status, COALESCE(CAST(strftime('%s', s.triggered_at) AS INTEGER), 0),"
		" a.question_id, a.value, a.text, s.msisdn_hash"
		" FROM surveys s LEFT JOIN answers a ON a.survey_id = s.survey_id ORDER BY s.survey_id";
	sqlite3_stmt *q = NULL;
	struct rkey k;
	char *cur = NULL, *f[7] = {0};
	int rc = -EIO, step;

	memset(&k, 0, sizeof k);
	if (exec(a, "DELETE FROM rollup_surveys; DELETE FROM rollup_answers; DELETE FROM rollup_groups;"
	         " DELETE FROM rollup_citizens;", err, errlen) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(a->db, sql, -1, &q, NULL) != SQLITE_OK)
		goto sqlfail;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);

		if (!cur || strcmp(cur, id) != 0) {
			if (cur && rollup_survey(a, &k) < 0)
				goto sqlfail;
			rkey_clear(&k);
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
			rkey_day(&k, sqlite3_column_int64(q, 7));
		}
		if (sqlite3_column_type(q, 8) == SQLITE_NULL)
			continue; /* a survey without answers */
		if ((rc = rollup_answer(a, &k, (const char *)sqlite3_column_text(q, 8),
		                        sqlite3_column_type(q, 9) != SQLITE_NULL, sqlite3_column_int(q, 9),
		                        (const char *)sqlite3_column_text(q, 10))) < 0) {
			if (rc == -ENOMEM)
				goto nomem;
			goto sqlfail;
		}
	}
	if (step != SQLITE_DONE || (cur && rollup_survey(a, &k) < 0))
		goto sqlfail;
	rc = 0;
	goto out;
nomem:
	seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto out;
sqlfail:
	seterr(err, errlen, "rollup: %s", sqlite3_errmsg(a->db));
	rc = -EIO;
out:
	rkey_clear(&k);
	free(cur);
	for (int i = 0; i < 7; i++)
		free(f[i]);
	sqlite3_finalize(q);
	return rc;
}

struct archive *archive_open(const char *path, char *err, size_t errlen)
{
	struct archive *a = calloc(1, sizeof *a);
	sqlite3_stmt *s = NULL;
	int version;

	if (!a) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", path, a->db ? sqlite3_errmsg(a->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(a->db, 5000);
	if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(a->db));
		goto fail;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (version > ARCHIVE_SCHEMA_VERSION) {
		seterr(err, errlen, "%s: schema version %d is newer than this program's (%d)", path,
		       version, ARCHIVE_SCHEMA_VERSION);
		goto fail;
	}
	if (exec(a, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err, errlen) < 0)
		goto fail;
	if (version < ARCHIVE_SCHEMA_VERSION) {
		if (exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
			goto fail;
		/* Another process may have created it while we waited for the lock. */
		if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_ROW) {
			seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(a->db));
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		version = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		s = NULL;
		if (version == 0 && exec(a, schema_sql, err, errlen) < 0) {
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		/* each step up to the current version; idempotent, so a race is harmless */
		if (version < 2 && (exec(a, schema_v2_sql, err, errlen) < 0 ||
		                    exec(a, "PRAGMA user_version = 2", err, errlen) < 0)) {
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		if (version < 3 && (exec(a, schema_v3_sql, err, errlen) < 0 ||
		                    rollup_rebuild(a, err, errlen) < 0 ||
		                    exec(a, "PRAGMA user_version = 3", err, errlen) < 0)) {
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		if (exec(a, "COMMIT", err, errlen) < 0) {
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
	}
	return a;
fail:
	sqlite3_finalize(s);
	archive_close(a);
	return NULL;
}

void archive_close(struct archive *a)
{
	if (!a)
		return;
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	qcache_clear(a);
	units_forget(a);
	sqlite3_close(a->db);
	free(a);
}

int archive_put_campaign(struct archive *a, const struct campaign *c, char *err, size_t errlen)
{
	char now[32], sat[CAMPAIGN_MAX_OPTIONS * 12 + 1];
	sqlite3_stmt *s;

	if (!c || !c->id) {
		seterr(err, errlen, "campaign without id");
		return -EINVAL;
	}
	qcache_clear(a); /* questions of a version may be recorded now */
	if (exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if (!(s = stmt(a, ST_INS_VERSION, err, errlen)))
		goto fail;
	bind_text(s, 1, c->id);
	bind_text(s, 2, c->version);
	bind_text(s, 3, c->name);
	sqlite3_bind_int(s, 4, c->nquestions);
	bind_text(s, 5, iso_time((int64_t)time(NULL), now, sizeof now));
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
		if (!(s = stmt(a, ST_INS_QUESTION, err, errlen)))
			goto fail;
		bind_text(s, 1, c->id);
		bind_text(s, 2, c->version);
		bind_text(s, 3, q->id);
		sqlite3_bind_int(s, 4, i + 1);
		bind_text(s, 5, q->group);
		bind_text(s, 6, (unsigned)q->type <= Q_TEXT ? qtype_names[q->type] : "text");
		bind_text(s, 7, q->text);
		bind_text(s, 8, sat);
		if (q->nopts > 0) {
			sqlite3_bind_int(s, 9, lo);
			sqlite3_bind_int(s, 10, hi);
		}
		if (sqlite3_step(s) != SQLITE_DONE)
			goto sqlfail;
		for (int k = 0; k < q->nopts; k++) {
			if (!(s = stmt(a, ST_INS_OPTION, err, errlen)))
				goto fail;
			bind_text(s, 1, c->id);
			bind_text(s, 2, c->version);
			bind_text(s, 3, q->id);
			sqlite3_bind_int(s, 4, q->opts[k].value);
			bind_text(s, 5, q->opts[k].label);
			if (sqlite3_step(s) != SQLITE_DONE)
				goto sqlfail;
		}
	}
	if (exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return 0;
sqlfail:
	seterr(err, errlen, "campaign %s: %s", c->id, sqlite3_errmsg(a->db));
fail:
	exec(a, "ROLLBACK", NULL, 0);
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

	question_info(a, sv->campaign_id, sv->campaign_version, qid, &multi, &grp, &rated);
	return multi;
}

/* Insert the answers of one new survey. Entries sharing a question_id (the
 * chosen values of a multi question), and any valued answer to a question the
 * campaign declares multi, become one row: value NULL, text the sorted
 * distinct values "1 3". Each row is counted in the rollups under k.
 * Returns 0, -EINVAL, -ENOMEM or -EIO with err filled. */
static int put_answers(struct archive *a, const struct archive_survey *sv, struct rkey *k, char *err,
                       size_t errlen)
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
			seterr(err, errlen, "survey %s: answer %d without question_id", sv->survey_id, i);
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
				seterr(err, errlen, "survey %s: question %s: more than %d values",
				       sv->survey_id, an->question_id, ARCHIVE_MAX_MULTI);
				return -EINVAL;
			}
			vals[nv++] = o->value;
		}
		if (!(s = stmt(a, ST_INS_ANSWER, err, errlen)))
			return -EIO;
		bind_text(s, 1, sv->survey_id);
		bind_text(s, 2, an->question_id);
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
			bind_text(s, 4, tbuf);
			stored = tbuf;
		} else {
			if (nv > 0)
				sqlite3_bind_int(s, 3, vals[0]);
			has_value = nv > 0;
			bind_text(s, 4, text);
			stored = text;
		}
		bind_text(s, 5, iso_time(at, when, sizeof when));
		bind_text(s, 6, sv->campaign_id);
		if (sqlite3_step(s) != SQLITE_DONE) {
			seterr(err, errlen, "survey %s: answer %s: %s", sv->survey_id, an->question_id,
			       sqlite3_errmsg(a->db));
			return -EIO;
		}
		if ((rc = rollup_answer(a, k, an->question_id, has_value, has_value ? vals[0] : 0,
		                        stored)) < 0) {
			seterr(err, errlen, "survey %s: rollup: %s", sv->survey_id,
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
	struct rkey k;

	memset(&k, 0, sizeof k);

	for (int i = 0; i < n; i++) {
		if (!sv[i].survey_id || !sv[i].campaign_id || !sv[i].transaction_id) {
			seterr(err, errlen, "survey %d: survey_id, campaign_id and transaction_id are required", i);
			return -EINVAL;
		}
		if (!status_valid(sv[i].status)) {
			seterr(err, errlen, "survey %s: bad status '%s'", sv[i].survey_id,
			       sv[i].status ? sv[i].status : "(null)");
			return -EINVAL;
		}
		if (sv[i].channel && strcmp(sv[i].channel, "sms") != 0 && strcmp(sv[i].channel, "ussd") != 0) {
			seterr(err, errlen, "survey %s: bad channel '%s'", sv[i].survey_id, sv[i].channel);
			return -EINVAL;
		}
		if (sv[i].nanswers < 0 || (sv[i].nanswers > 0 && !sv[i].answers)) {
			seterr(err, errlen, "survey %s: bad answers", sv[i].survey_id);
			return -EINVAL;
		}
	}
	if (exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	for (int i = 0; i < n; i++) {
		const struct archive_survey *v = &sv[i];
		sqlite3_stmt *s = stmt(a, ST_INS_SURVEY, err, errlen);

		if (!s)
			goto fail;
		bind_text(s, 1, v->survey_id);
		bind_text(s, 2, v->campaign_id);
		bind_text(s, 3, v->campaign_version);
		bind_text(s, 4, v->transaction_id);
		bind_text(s, 5, v->agency);
		bind_text(s, 6, v->procedure);
		bind_text(s, 7, v->msisdn_hash);
		bind_text(s, 8, v->channel);
		bind_text(s, 9, v->status);
		bind_text(s, 10, v->reason);
		bind_text(s, 11, iso_time(v->triggered_at, t1, sizeof t1));
		bind_text(s, 12, iso_time(v->finished_at, t2, sizeof t2));
		bind_text(s, 13, iso_time(v->completed_at, t3, sizeof t3));
		if (sqlite3_step(s) != SQLITE_DONE) {
			seterr(err, errlen, "survey %s: %s", v->survey_id, sqlite3_errmsg(a->db));
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
		rkey_day(&k, v->triggered_at);
		rc = put_answers(a, v, &k, err, errlen);
		if (rc == 0 && rollup_survey(a, &k) < 0) {
			seterr(err, errlen, "survey %s: rollup: %s", v->survey_id, sqlite3_errmsg(a->db));
			rc = -EIO;
		}
		rkey_clear(&k);
		if (rc < 0)
			goto fail;
		rc = -EIO;
	}
	if (exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return inserted;
fail:
	exec(a, "ROLLBACK", NULL, 0);
	units_forget(a); /* ids created in this transaction are gone */
	return rc;
}

int64_t archive_count(struct archive *a, const char *campaign_id, const char *status)
{
	enum archive_stmt id = campaign_id ? (status ? ST_COUNT_CS : ST_COUNT_C)
	                                   : (status ? ST_COUNT_S : ST_COUNT_ALL);
	sqlite3_stmt *s = stmt(a, id, NULL, 0);
	int64_t n = -EIO;

	if (!s)
		return -EIO;
	if (campaign_id)
		bind_text(s, 1, campaign_id);
	if (status)
		bind_text(s, 2, status);
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
			seterr(err, errlen, "delivery %d: smsc, message_id and a known state are required", i);
			return -EINVAL;
		}
	}
	if (exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
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
		sqlite3_bind_text(s, 5, iso_time(d[i].submitted_at, t1, sizeof t1), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, d[i].state, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, iso_time(d[i].state_at, t2, sizeof t2), -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto fail;
		inserted += sqlite3_changes(a->db);
	}
	sqlite3_finalize(s);
	if (exec(a, "COMMIT", err, errlen) < 0) {
		exec(a, "ROLLBACK", NULL, 0);
		return -EIO;
	}
	return inserted;
fail:
	seterr(err, errlen, "deliveries: %s", sqlite3_errmsg(a->db));
	sqlite3_finalize(s);
	exec(a, "ROLLBACK", NULL, 0);
	return -EIO;
}
