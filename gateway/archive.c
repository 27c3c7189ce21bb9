/* archive: the SQLite archive of finished surveys (SPEC §7, docs/archive.md) and the reports read from it. */
#include "archive.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>
#include <utf8proc.h>

#include "chain.h"

#define ARCHIVE_SCHEMA_VERSION 3
#define ARCHIVE_MAX_MULTI 64      /* chosen values of one multi answer */
#define ARCHIVE_MIN_RESPONSES 30  /* a group with fewer is flagged */
#define ARCHIVE_Z 1.959963984540054 /* 95% two-sided normal quantile */

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
	ST_R_VERSION,
	ST_R_QUESTIONS,
	ST_R_OPTIONS,
	ST_R_VALUES,
	ST_R_TEXTS,
	ST_R_GROUP,
	ST_R_STATUS,
	ST_R_CITIZENS,
	ST_MAX
};

static const char *const stmt_sql[ST_MAX] = {
	[ST_INS_SURVEY] = "INSERT OR IGNORE INTO surveys(survey_id, campaign_id, campaign_version,"
		" transaction_id, agency, procedure, msisdn_hash, channel, status, reason,"
		" triggered_at, finished_at, completed_at)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_INS_ANSWER] = "INSERT OR IGNORE INTO answers(survey_id, question_id, value, text, answered_at,"
		" campaign_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_QTYPE] = "SELECT type FROM campaign_questions"
		" WHERE campaign_id = ?1 AND campaign_version = ?2 AND question_id = ?3",
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
	/* The newest recorded version that has surveys, else the newest recorded. */
	[ST_R_VERSION] = "SELECT v.campaign_version, v.name FROM campaign_versions v"
		" WHERE v.campaign_id = ?1"
		" ORDER BY EXISTS(SELECT 1 FROM surveys s WHERE s.campaign_id = v.campaign_id"
		" AND s.campaign_version = v.campaign_version) DESC, v.rowid DESC LIMIT 1",
	[ST_R_QUESTIONS] = "SELECT question_id, position, grp, type, text, satisfied"
		" FROM campaign_questions WHERE campaign_id = ?1 AND campaign_version = ?2"
		" ORDER BY position",
	[ST_R_OPTIONS] = "SELECT question_id, value, label FROM campaign_options"
		" WHERE campaign_id = ?1 AND campaign_version = ?2 ORDER BY question_id, value",
	/* Counts per (question, value): an ordered scan of answers_campaign, no sort. */
	[ST_R_VALUES] = "SELECT question_id, value, COUNT(*) FROM answers"
		" WHERE campaign_id = ?1 AND value IS NOT NULL GROUP BY question_id, value",
	/* Rows without a value: comments, and multi answers counted per chosen
	 * combination (the text "1 3"). */
	[ST_R_TEXTS] = "SELECT a.question_id, CASE WHEN q.type = 'multi' THEN a.text END,"
		" COUNT(*), SUM(a.text <> '')"
		" FROM answers a LEFT JOIN campaign_questions q ON q.campaign_id = ?1"
		" AND q.campaign_version = ?2 AND q.question_id = a.question_id"
		" WHERE a.campaign_id = ?1 AND a.value IS NULL GROUP BY 1, 2",
	/* Respondents of a group with several rated questions: surveys with at
	 * least one rated answer in it (point lookups in the answers key, no sort). */
	[ST_R_GROUP] = "SELECT COUNT(*) FROM surveys s WHERE s.campaign_id = ?1 AND EXISTS("
		"SELECT 1 FROM campaign_questions q JOIN answers a ON a.survey_id = s.survey_id"
		" AND a.question_id = q.question_id"
		" WHERE q.campaign_id = ?1 AND q.campaign_version = ?2 AND COALESCE(q.grp, '') = ?3"
		" AND q.satisfied <> '' AND a.value IS NOT NULL)",
	[ST_R_STATUS] = "SELECT status, COUNT(*) FROM surveys WHERE campaign_id = ?1 GROUP BY status",
	[ST_R_CITIZENS] = "SELECT COUNT(DISTINCT msisdn_hash),"
		" COUNT(DISTINCT CASE WHEN status = 'completed' THEN msisdn_hash END)"
		" FROM surveys WHERE campaign_id = ?1",
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

static const char *const status_names[] = {
	"completed", "expired", "abandoned", "opted_out", "failed", "suppressed",
};
#define NSTATUS ((int)(sizeof status_names / sizeof status_names[0]))

static const char *const qtype_names[] = {
	[Q_SCALE] = "scale", [Q_CHOICE] = "choice", [Q_MULTI] = "multi",
	[Q_YESNO] = "yesno", [Q_TEXT] = "text",
};

struct archive {
	sqlite3 *db;
	sqlite3_stmt *st[ST_MAX]; /* lazily prepared, owned, finalized by archive_close */
	struct chain *chain;      /* chain.c's statements (hash chain, audit links, contacts), owned */
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
		/* schema 3: hash chain, audit links, sealed contacts (chain.c) */
		if (version < 3 && (chain_migrate(a->db, err, errlen) < 0 ||
		                    exec(a, "PRAGMA user_version = 3", err, errlen) < 0)) {
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
		if (exec(a, "COMMIT", err, errlen) < 0) {
			exec(a, "ROLLBACK", NULL, 0);
			goto fail;
		}
	}
	if (!(a->chain = chain_new(a->db))) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	return a;
fail:
	sqlite3_finalize(s);
	archive_close(a);
	return NULL;
}

struct sqlite3 *archive_sqlite(struct archive *a)
{
	return a->db;
}

void archive_close(struct archive *a)
{
	if (!a)
		return;
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	chain_free(a->chain);
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
	sqlite3_stmt *s = stmt(a, ST_QTYPE, NULL, 0);
	int multi = 0;

	if (!s)
		return 0;
	bind_text(s, 1, sv->campaign_id);
	bind_text(s, 2, sv->campaign_version);
	bind_text(s, 3, qid);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		multi = t && strcmp((const char *)t, "multi") == 0;
	}
	sqlite3_reset(s);
	return multi;
}

/* Insert the answers of one new survey. Entries sharing a question_id (the
 * chosen values of a multi question), and any valued answer to a question the
 * campaign declares multi, become one row: value NULL, text the sorted
 * distinct values "1 3". Returns 0, -EINVAL or -EIO with err filled. */
static int put_answers(struct archive *a, const struct archive_survey *sv, char *err, size_t errlen)
{
	for (int i = 0; i < sv->nanswers; i++) {
		const struct archive_answer *an = &sv->answers[i];
		int vals[ARCHIVE_MAX_MULTI], nv = 0, nsame = 0, dup = 0;
		int64_t at = an->answered_at;
		const char *text = an->text;
		char tbuf[ARCHIVE_MAX_MULTI * 12 + 1], when[32];
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
			for (int k = 0; k < nv; k++) {
				if (k > 0 && vals[k] == vals[k - 1])
					continue;
				int w = snprintf(tbuf + len, sizeof tbuf - len, "%s%d", len ? " " : "", vals[k]);
				if (w < 0 || (size_t)w >= sizeof tbuf - len)
					break;
				len += (size_t)w;
			}
			bind_text(s, 4, tbuf);
		} else {
			if (nv > 0)
				sqlite3_bind_int(s, 3, vals[0]);
			bind_text(s, 4, text);
		}
		bind_text(s, 5, iso_time(at, when, sizeof when));
		bind_text(s, 6, sv->campaign_id);
		if (sqlite3_step(s) != SQLITE_DONE) {
			seterr(err, errlen, "survey %s: answer %s: %s", sv->survey_id, an->question_id,
			       sqlite3_errmsg(a->db));
			return -EIO;
		}
	}
	return 0;
}

int archive_put(struct archive *a, const struct archive_survey *sv, int n, char *err, size_t errlen)
{
	char t1[32], t2[32], t3[32];
	int inserted = 0, rc = -EIO;

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
		if ((rc = put_answers(a, v, err, errlen)) < 0)
			goto fail;
		/* audit link, sealed contact, and the next link of the hash chain */
		if ((rc = chain_put(a->chain, v, (int64_t)time(NULL), err, errlen)) < 0)
			goto fail;
		rc = -EIO;
	}
	if (exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return inserted;
fail:
	exec(a, "ROLLBACK", NULL, 0);
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

/* ---- the report ---------------------------------------------------------- */

struct rvalue {
	int value;      /* answer value (multi: one chosen option) */
	int64_t n;      /* answers with it */
};

struct rquestion {
	char *id;
	char *grp;                       /* "" = no group */
	char *type;                      /* "scale"...; "?" when not in the version */
	int position;                    /* 1-based; 0 = not in the version */
	int sat[CAMPAIGN_MAX_OPTIONS];   /* values counted as satisfied */
	int nsat;
	struct { int value; char *label; } opts[CAMPAIGN_MAX_OPTIONS];
	int nopts;
	struct rvalue *vals;             /* counts per value, ascending */
	int nvals, capvals;
	int64_t rows;                    /* answer rows */
	int64_t valued;                  /* rows with a value (the share's denominator) */
	int64_t satisfied;               /* valued rows whose value is satisfied */
	double sum;                      /* sum of values */
	int64_t texts;                   /* rows with non-empty text (comments) */
};

struct rgroup {
	char *name;                      /* "" = no group */
	int64_t respondents;             /* surveys with a rated answer in it */
	int64_t ratings, satisfied;
	double sum;
	int nrated;                      /* rated questions in it */
};

struct report {
	const char *campaign_id;
	char *version, *name;
	struct rquestion *q;
	int nq, capq;
	struct rgroup *g;
	int ng, capg;
	int64_t status[NSTATUS + 1];     /* last: any other status */
	int64_t surveys, citizens, citizens_completed;
	int64_t ratings, satisfied;      /* pooled over rated questions */
	double sum;
};

static char *xstrdup(const unsigned char *s)
{
	return strdup(s ? (const char *)s : "");
}

static void report_free(struct report *r)
{
	for (int i = 0; i < r->nq; i++) {
		free(r->q[i].id);
		free(r->q[i].grp);
		free(r->q[i].type);
		free(r->q[i].vals);
		for (int k = 0; k < r->q[i].nopts; k++)
			free(r->q[i].opts[k].label);
	}
	free(r->q);
	for (int i = 0; i < r->ng; i++)
		free(r->g[i].name);
	free(r->g);
	free(r->version);
	free(r->name);
}

static struct rquestion *find_question(struct report *r, const char *id)
{
	for (int i = 0; i < r->nq; i++)
		if (strcmp(r->q[i].id, id) == 0)
			return &r->q[i];
	return NULL;
}

static struct rquestion *add_question(struct report *r, const unsigned char *id)
{
	struct rquestion *q;

	if (r->nq == r->capq) {
		int cap = r->capq ? r->capq * 2 : 16;
		struct rquestion *nq = realloc(r->q, (size_t)cap * sizeof *nq);

		if (!nq)
			return NULL;
		r->q = nq;
		r->capq = cap;
	}
	q = &r->q[r->nq];
	memset(q, 0, sizeof *q);
	if (!(q->id = xstrdup(id)))
		return NULL;
	r->nq++;
	return q;
}

/* The question an answer row names; one not in the version is appended (type "?"). */
static struct rquestion *answered_question(struct report *r, const unsigned char *id)
{
	struct rquestion *q = find_question(r, id ? (const char *)id : "");

	if (q)
		return q;
	if (!(q = add_question(r, id)) || !(q->grp = strdup("")) || !(q->type = strdup("?")))
		return NULL;
	return q;
}

static struct rgroup *find_group(struct report *r, const char *name, int create)
{
	for (int i = 0; i < r->ng; i++)
		if (strcmp(r->g[i].name, name) == 0)
			return &r->g[i];
	if (!create)
		return NULL;
	if (r->ng == r->capg) {
		int cap = r->capg ? r->capg * 2 : 8;
		struct rgroup *ng = realloc(r->g, (size_t)cap * sizeof *ng);

		if (!ng)
			return NULL;
		r->g = ng;
		r->capg = cap;
	}
	memset(&r->g[r->ng], 0, sizeof r->g[0]);
	if (!(r->g[r->ng].name = strdup(name)))
		return NULL;
	return &r->g[r->ng++];
}

static int add_value(struct rquestion *q, int value, int64_t n)
{
	int i = 0;

	while (i < q->nvals && q->vals[i].value < value)
		i++;
	if (i < q->nvals && q->vals[i].value == value) {
		q->vals[i].n += n;
		return 0;
	}
	if (q->nvals == q->capvals) {
		int cap = q->capvals ? q->capvals * 2 : 8;
		struct rvalue *nv = realloc(q->vals, (size_t)cap * sizeof *nv);

		if (!nv)
			return -ENOMEM;
		q->vals = nv;
		q->capvals = cap;
	}
	memmove(&q->vals[i + 1], &q->vals[i], (size_t)(q->nvals - i) * sizeof *q->vals);
	q->vals[i].value = value;
	q->vals[i].n = n;
	q->nvals++;
	return 0;
}

static int is_sat(const struct rquestion *q, int value)
{
	for (int i = 0; i < q->nsat; i++)
		if (q->sat[i] == value)
			return 1;
	return 0;
}

/* Parse "5,4" (satisfied list) or "1 3" (multi answer) into ints; returns count. */
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

/* Gather everything the report shows with a handful of GROUP BY queries. */
static int report_load(struct archive *a, struct report *r, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	/* Which version's questions to show. */
	if (!(s = stmt(a, ST_R_VERSION, err, errlen)))
		return -EIO;
	bind_text(s, 1, r->campaign_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r->version = xstrdup(sqlite3_column_text(s, 0));
		r->name = xstrdup(sqlite3_column_text(s, 1));
		if (!r->version || !r->name)
			goto nomem;
	} else if (rc != SQLITE_DONE) {
		goto sqlfail;
	}
	sqlite3_reset(s);

	/* Surveys by status and citizens. */
	if (!(s = stmt(a, ST_R_STATUS, err, errlen)))
		return -EIO;
	bind_text(s, 1, r->campaign_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *st = (const char *)sqlite3_column_text(s, 0);
		int i = 0;

		while (i < NSTATUS && (!st || strcmp(st, status_names[i]) != 0))
			i++;
		r->status[i] += sqlite3_column_int64(s, 1);
		r->surveys += sqlite3_column_int64(s, 1);
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_reset(s);
	if (!r->version && r->surveys == 0) {
		seterr(err, errlen, "no campaign '%s' in the archive", r->campaign_id);
		return -ENOENT;
	}
	if (!(s = stmt(a, ST_R_CITIZENS, err, errlen)))
		return -EIO;
	bind_text(s, 1, r->campaign_id);
	if (sqlite3_step(s) != SQLITE_ROW)
		goto sqlfail;
	r->citizens = sqlite3_column_int64(s, 0);
	r->citizens_completed = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);

	/* The questions of that version, in position order, and their options. */
	if (r->version) {
		if (!(s = stmt(a, ST_R_QUESTIONS, err, errlen)))
			return -EIO;
		bind_text(s, 1, r->campaign_id);
		bind_text(s, 2, r->version);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct rquestion *q = add_question(r, sqlite3_column_text(s, 0));

			if (!q)
				goto nomem;
			q->position = sqlite3_column_int(s, 1);
			q->grp = xstrdup(sqlite3_column_text(s, 2));
			q->type = xstrdup(sqlite3_column_text(s, 3));
			if (!q->grp || !q->type)
				goto nomem;
			q->nsat = parse_ints((const char *)sqlite3_column_text(s, 5), q->sat,
			                     CAMPAIGN_MAX_OPTIONS);
		}
		if (rc != SQLITE_DONE)
			goto sqlfail;
		sqlite3_reset(s);
		if (!(s = stmt(a, ST_R_OPTIONS, err, errlen)))
			return -EIO;
		bind_text(s, 1, r->campaign_id);
		bind_text(s, 2, r->version);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct rquestion *q = find_question(r, (const char *)sqlite3_column_text(s, 0));

			if (!q || q->nopts == CAMPAIGN_MAX_OPTIONS)
				continue;
			q->opts[q->nopts].value = sqlite3_column_int(s, 1);
			if (!(q->opts[q->nopts].label = xstrdup(sqlite3_column_text(s, 2))))
				goto nomem;
			q->nopts++;
		}
		if (rc != SQLITE_DONE)
			goto sqlfail;
		sqlite3_reset(s);
	}

	/* Counts per (question, value) over every version's answers, joined by question_id. */
	if (!(s = stmt(a, ST_R_VALUES, err, errlen)))
		return -EIO;
	bind_text(s, 1, r->campaign_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct rquestion *q = answered_question(r, sqlite3_column_text(s, 0));
		int v = sqlite3_column_int(s, 1);
		int64_t n = sqlite3_column_int64(s, 2);

		if (!q || add_value(q, v, n) < 0)
			goto nomem;
		q->rows += n;
		q->valued += n;
		q->sum += (double)v * (double)n;
		if (is_sat(q, v))
			q->satisfied += n;
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_reset(s);

	/* Rows without a value: comments and multi answers. */
	if (!(s = stmt(a, ST_R_TEXTS, err, errlen)))
		return -EIO;
	bind_text(s, 1, r->campaign_id);
	bind_text(s, 2, r->version ? r->version : "");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct rquestion *q = answered_question(r, sqlite3_column_text(s, 0));
		int vals[ARCHIVE_MAX_MULTI], nv;
		int64_t n = sqlite3_column_int64(s, 2);

		if (!q)
			goto nomem;
		q->rows += n;
		q->texts += sqlite3_column_int64(s, 3);
		nv = parse_ints((const char *)sqlite3_column_text(s, 1), vals, ARCHIVE_MAX_MULTI);
		for (int k = 0; k < nv; k++)
			if (add_value(q, vals[k], n) < 0)
				goto nomem;
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_reset(s);

	/* Groups, in the order of their first question; pooled over rated questions. */
	for (int i = 0; i < r->nq; i++) {
		struct rquestion *q = &r->q[i];
		struct rgroup *g;

		if (q->position == 0)
			continue;
		if (!(g = find_group(r, q->grp, 1)))
			goto nomem;
		if (q->nsat == 0)
			continue;
		g->nrated++;
		g->ratings += q->valued;
		g->satisfied += q->satisfied;
		g->sum += q->sum;
		g->respondents = q->valued; /* exact when the group has one rated question */
		r->ratings += q->valued;
		r->satisfied += q->satisfied;
		r->sum += q->sum;
	}
	for (int i = 0; i < r->ng; i++) {
		struct rgroup *g = &r->g[i];

		if (g->nrated < 2)
			continue;
		if (!(s = stmt(a, ST_R_GROUP, err, errlen)))
			return -EIO;
		bind_text(s, 1, r->campaign_id);
		bind_text(s, 2, r->version);
		bind_text(s, 3, g->name);
		if (sqlite3_step(s) != SQLITE_ROW)
			goto sqlfail;
		g->respondents = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return 0;
sqlfail:
	seterr(err, errlen, "report %s: %s", r->campaign_id, sqlite3_errmsg(a->db));
	sqlite3_reset(s);
	return -EIO;
nomem:
	seterr(err, errlen, "out of memory");
	sqlite3_reset(s);
	return -ENOMEM;
}

/* 95% Wilson score interval of x successes in n trials, in [0, 1]. */
static void wilson(int64_t x, int64_t n, double *lo, double *hi)
{
	double z2 = ARCHIVE_Z * ARCHIVE_Z, p, den, mid, half;

	if (n <= 0) {
		*lo = *hi = NAN;
		return;
	}
	p = (double)x / (double)n;
	den = 1.0 + z2 / (double)n;
	mid = (p + z2 / (2.0 * (double)n)) / den;
	half = ARCHIVE_Z * sqrt(p * (1.0 - p) / (double)n + z2 / (4.0 * (double)n * (double)n)) / den;
	*lo = mid - half < 0 ? 0 : mid - half;
	*hi = mid + half > 1 ? 1 : mid + half;
}

static double ratio(int64_t x, int64_t n)
{
	return n > 0 ? (double)x / (double)n : NAN;
}

/* The mean of group shares over groups with ratings; sets *ngroups. */
static double mean_of_groups(const struct report *r, int *ngroups)
{
	double total = 0;
	int n = 0;

	for (int i = 0; i < r->ng; i++) {
		if (r->g[i].ratings > 0) {
			total += ratio(r->g[i].satisfied, r->g[i].ratings);
			n++;
		}
	}
	*ngroups = n;
	return n ? total / n : NAN;
}

static const char *group_label(const char *name)
{
	return name[0] ? name : "(no group)";
}

static const char *option_label(const struct rquestion *q, int value)
{
	for (int i = 0; i < q->nopts; i++)
		if (q->opts[i].value == value)
			return q->opts[i].label;
	return "";
}

/* What one question row shows, whatever the format. */
struct qline {
	int rated, scored;
	double share, lo, hi, mean;
};

static struct qline question_line(const struct rquestion *q)
{
	struct qline l = { .share = NAN, .lo = NAN, .hi = NAN, .mean = NAN };

	l.rated = q->nsat > 0;
	l.scored = strcmp(q->type, "scale") == 0;
	if (l.rated) {
		l.share = ratio(q->satisfied, q->valued);
		wilson(q->satisfied, q->valued, &l.lo, &l.hi);
	}
	if (l.scored && q->valued > 0)
		l.mean = q->sum / (double)q->valued;
	return l;
}

static const char method_pooled[] = "pooled: satisfied answers / all rated answers";
static const char method_mean[] = "mean of group shares: each group weighs the same";

/* -- table -- */

/* Display width of UTF-8 text in a terminal (combining marks 0, wide 2). */
static int text_width(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_int32_t cp;
	int w = 0;

	while (*p) {
		utf8proc_ssize_t k = utf8proc_iterate(p, -1, &cp);

		if (k <= 0) {
			p++;
			w++;
			continue;
		}
		w += utf8proc_charwidth(cp);
		p += k;
	}
	return w;
}

/* Print s padded to width (left-aligned, or right-aligned). */
static void cell(FILE *out, const char *s, int width, int right)
{
	int pad = width - text_width(s);

	if (right)
		for (; pad > 0; pad--)
			fputc(' ', out);
	fputs(s, out);
	if (!right)
		for (; pad > 0; pad--)
			fputc(' ', out);
}

static void fmt_pct(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f%%", v * 100.0);
}

static void fmt_ci(char *buf, size_t cap, double lo, double hi)
{
	if (isnan(lo))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f-%.2f%%", lo * 100.0, hi * 100.0);
}

static void fmt_num(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", v);
}

static void report_table(const struct report *r, FILE *out)
{
	char b[6][64];
	int wq = (int)strlen("Question"), wg = (int)strlen("Group"), ng;
	double lo, hi, mg;

	fprintf(out, "Campaign %s", r->campaign_id);
	if (r->name && r->name[0])
		fprintf(out, " - %s", r->name);
	fprintf(out, "\nQuestions of version %s; answers of all versions joined by question id.\n\n",
	        r->version ? r->version : "(none recorded)");

	fprintf(out, "Surveys: %lld\n", (long long)r->surveys);
	for (int i = 0; i <= NSTATUS; i++) {
		if (i == NSTATUS && r->status[i] == 0)
			continue;
		fmt_pct(b[0], sizeof b[0], ratio(r->status[i], r->surveys));
		fprintf(out, "  %-11s %8lld  %8s\n", i < NSTATUS ? status_names[i] : "other",
		        (long long)r->status[i], b[0]);
	}
	fmt_pct(b[0], sizeof b[0], ratio(r->status[0], r->surveys));
	fmt_pct(b[1], sizeof b[1], ratio(r->citizens_completed, r->citizens));
	fprintf(out, "Response rate: %s by survey (%lld/%lld), %s by citizen (%lld/%lld)\n\n", b[0],
	        (long long)r->status[0], (long long)r->surveys, b[1],
	        (long long)r->citizens_completed, (long long)r->citizens);

	for (int i = 0; i < r->nq; i++) {
		int w = text_width(r->q[i].id);
		if (w > wq)
			wq = w;
	}
	for (int i = 0; i < r->ng; i++) {
		int w = text_width(group_label(r->g[i].name));
		if (w > wg)
			wg = w;
	}

	/* Per question, in position order (questions of other versions last). */
	cell(out, "Question", wq, 0);
	fprintf(out, "  %-6s %9s %9s %8s %15s %6s  Counts by value\n", "Type", "Answers", "Satisfied",
	        "Share", "95% CI (Wilson)", "Mean");
	for (int i = 0; i < r->nq; i++) {
		const struct rquestion *q = &r->q[i];
		struct qline l = question_line(q);

		cell(out, q->id, wq, 0);
		fprintf(out, "  %-6s %9lld ", q->type, (long long)(strcmp(q->type, "text") == 0 ? q->texts : q->rows));
		if (l.rated)
			snprintf(b[0], sizeof b[0], "%lld", (long long)q->satisfied);
		else
			snprintf(b[0], sizeof b[0], "-");
		fmt_pct(b[1], sizeof b[1], l.share);
		fmt_ci(b[2], sizeof b[2], l.lo, l.hi);
		fmt_num(b[3], sizeof b[3], l.mean);
		fprintf(out, "%9s %8s %15s %6s  ", b[0], b[1], b[2], b[3]);
		if (strcmp(q->type, "text") == 0)
			fprintf(out, "comments");
		for (int k = 0; k < q->nvals; k++)
			fprintf(out, "%s%d:%lld", k ? " " : "", q->vals[k].value, (long long)q->vals[k].n);
		fputc('\n', out);
	}
	fputc('\n', out);

	/* Per group, pooled over its rated questions. */
	cell(out, "Group", wg, 0);
	fprintf(out, "  %11s %8s %9s %8s %15s %6s\n", "Respondents", "Ratings", "Satisfied", "Share",
	        "95% CI (Wilson)", "Mean");
	for (int i = 0; i < r->ng; i++) {
		const struct rgroup *g = &r->g[i];

		if (g->nrated == 0)
			continue;
		wilson(g->satisfied, g->ratings, &lo, &hi);
		fmt_pct(b[0], sizeof b[0], ratio(g->satisfied, g->ratings));
		fmt_ci(b[1], sizeof b[1], lo, hi);
		fmt_num(b[2], sizeof b[2], g->ratings ? g->sum / (double)g->ratings : NAN);
		cell(out, group_label(g->name), wg, 0);
		fprintf(out, "  %11lld %8lld %9lld %8s %15s %6s%s\n", (long long)g->respondents,
		        (long long)g->ratings, (long long)g->satisfied, b[0], b[1], b[2],
		        g->respondents < ARCHIVE_MIN_RESPONSES ? "  ! fewer than 30 responses" : "");
	}
	fputc('\n', out);

	wilson(r->satisfied, r->ratings, &lo, &hi);
	fmt_pct(b[0], sizeof b[0], ratio(r->satisfied, r->ratings));
	fmt_ci(b[1], sizeof b[1], lo, hi);
	fprintf(out, "Overall (%s): %s (%lld/%lld), 95%% CI %s\n", method_pooled, b[0],
	        (long long)r->satisfied, (long long)r->ratings, b[1]);
	mg = mean_of_groups(r, &ng);
	fmt_pct(b[0], sizeof b[0], mg);
	fprintf(out, "Overall (%s): %s over %d groups\n", method_mean, b[0], ng);
}

/* -- CSV -- */

static void csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void csv_num(FILE *out, double v, int pct)
{
	fputc(',', out);
	if (!isnan(v))
		fprintf(out, "%.4f", pct ? v * 100.0 : v);
}

/* One row: section,id,group,type,value,label,n,respondents,satisfied,share_pct,ci_low_pct,ci_high_pct,mean,flag */
static void csv_row(FILE *out, const char *section, const char *id, const char *grp, const char *type,
                    const char *value, const char *label, int64_t n, int64_t resp, int64_t sat,
                    double share, double lo, double hi, double mean, const char *flag)
{
	char num[32];

	csv_field(out, section);
	fputc(',', out);
	csv_field(out, id);
	fputc(',', out);
	csv_field(out, grp);
	fputc(',', out);
	csv_field(out, type);
	fputc(',', out);
	csv_field(out, value);
	fputc(',', out);
	csv_field(out, label);
	fprintf(out, ",%lld,", (long long)n);
	if (resp >= 0)
		fprintf(out, "%lld", (long long)resp);
	fputc(',', out);
	if (sat >= 0) {
		snprintf(num, sizeof num, "%lld", (long long)sat);
		fputs(num, out);
	}
	csv_num(out, share, 1);
	csv_num(out, lo, 1);
	csv_num(out, hi, 1);
	csv_num(out, mean, 0);
	fputc(',', out);
	csv_field(out, flag);
	fputc('\n', out);
}

static void report_csv(const struct report *r, FILE *out)
{
	char v[32];
	double lo, hi;
	int ng;

	fputs("section,id,group,type,value,label,n,respondents,satisfied,share_pct,ci_low_pct,"
	      "ci_high_pct,mean,flag\n", out);
	csv_row(out, "campaign", r->campaign_id, "", "", r->version ? r->version : "", r->name ? r->name : "",
	        r->surveys, r->citizens, -1, NAN, NAN, NAN, NAN, "");
	for (int i = 0; i < NSTATUS; i++)
		csv_row(out, "status", status_names[i], "", "", "", "", r->status[i], -1, -1,
		        ratio(r->status[i], r->surveys), NAN, NAN, NAN, "");
	if (r->status[NSTATUS])
		csv_row(out, "status", "other", "", "", "", "", r->status[NSTATUS], -1, -1,
		        ratio(r->status[NSTATUS], r->surveys), NAN, NAN, NAN, "");
	csv_row(out, "response_rate", "by_survey", "", "", "", "", r->surveys, -1, r->status[0],
	        ratio(r->status[0], r->surveys), NAN, NAN, NAN, "");
	csv_row(out, "response_rate", "by_citizen", "", "", "", "", r->citizens, -1,
	        r->citizens_completed, ratio(r->citizens_completed, r->citizens), NAN, NAN, NAN, "");
	for (int i = 0; i < r->nq; i++) {
		const struct rquestion *q = &r->q[i];
		struct qline l = question_line(q);
		int text = strcmp(q->type, "text") == 0;

		csv_row(out, "question", q->id, q->grp, q->type, "", "", text ? q->texts : q->rows,
		        -1, l.rated ? q->satisfied : -1, l.share, l.lo, l.hi, l.mean, "");
		for (int k = 0; k < q->nvals; k++) {
			snprintf(v, sizeof v, "%d", q->vals[k].value);
			csv_row(out, "value", q->id, q->grp, q->type, v, option_label(q, q->vals[k].value),
			        q->vals[k].n, -1, -1, NAN, NAN, NAN, NAN,
			        l.rated && is_sat(q, q->vals[k].value) ? "satisfied" : "");
		}
	}
	for (int i = 0; i < r->ng; i++) {
		const struct rgroup *g = &r->g[i];

		if (g->nrated == 0)
			continue;
		wilson(g->satisfied, g->ratings, &lo, &hi);
		csv_row(out, "group", "", g->name, "", "", "", g->ratings, g->respondents, g->satisfied,
		        ratio(g->satisfied, g->ratings), lo, hi,
		        g->ratings ? g->sum / (double)g->ratings : NAN,
		        g->respondents < ARCHIVE_MIN_RESPONSES ? "fewer_than_30" : "");
	}
	wilson(r->satisfied, r->ratings, &lo, &hi);
	csv_row(out, "overall", "pooled", "", "", "", method_pooled, r->ratings, -1, r->satisfied,
	        ratio(r->satisfied, r->ratings), lo, hi,
	        r->ratings ? r->sum / (double)r->ratings : NAN, "");
	double mg = mean_of_groups(r, &ng);
	csv_row(out, "overall", "mean_of_groups", "", "", "", method_mean, ng, -1, -1, mg, NAN, NAN,
	        NAN, "");
}

/* -- JSON -- */

static json_t *jnum(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *jpct(double v)
{
	return isnan(v) ? json_null() : json_real(v * 100.0);
}

static json_t *report_json(const struct report *r)
{
	json_t *root = json_object(), *st = json_object(), *qs = json_array(), *gs = json_array();
	double lo, hi, mg;
	int ng;

	if (!root || !st || !qs || !gs)
		goto fail;
	json_object_set_new(root, "campaign", json_string(r->campaign_id));
	json_object_set_new(root, "name", r->name ? json_string(r->name) : json_null());
	json_object_set_new(root, "version", r->version ? json_string(r->version) : json_null());
	json_object_set_new(root, "surveys", json_integer(r->surveys));
	for (int i = 0; i < NSTATUS; i++)
		json_object_set_new(st, status_names[i], json_integer(r->status[i]));
	if (r->status[NSTATUS])
		json_object_set_new(st, "other", json_integer(r->status[NSTATUS]));
	json_object_set_new(root, "by_status", st);
	st = NULL;
	json_object_set_new(root, "response_rate", json_pack("{s:o, s:o, s:I, s:I}",
		"by_survey_pct", jpct(ratio(r->status[0], r->surveys)),
		"by_citizen_pct", jpct(ratio(r->citizens_completed, r->citizens)),
		"citizens", (json_int_t)r->citizens, "citizens_completed", (json_int_t)r->citizens_completed));
	for (int i = 0; i < r->nq; i++) {
		const struct rquestion *q = &r->q[i];
		struct qline l = question_line(q);
		json_t *jq = json_object(), *counts = json_object();
		char v[32];

		if (!jq || !counts) {
			json_decref(jq);
			json_decref(counts);
			goto fail;
		}
		json_object_set_new(jq, "id", json_string(q->id));
		json_object_set_new(jq, "position", json_integer(q->position));
		json_object_set_new(jq, "group", q->grp[0] ? json_string(q->grp) : json_null());
		json_object_set_new(jq, "type", json_string(q->type));
		json_object_set_new(jq, "answers", json_integer(q->rows));
		if (strcmp(q->type, "text") == 0)
			json_object_set_new(jq, "comments", json_integer(q->texts));
		if (l.rated) {
			json_object_set_new(jq, "rated", json_integer(q->valued));
			json_object_set_new(jq, "satisfied", json_integer(q->satisfied));
			json_object_set_new(jq, "share_pct", jpct(l.share));
			json_object_set_new(jq, "ci_low_pct", jpct(l.lo));
			json_object_set_new(jq, "ci_high_pct", jpct(l.hi));
		}
		if (l.scored)
			json_object_set_new(jq, "mean", jnum(l.mean));
		for (int k = 0; k < q->nvals; k++) {
			snprintf(v, sizeof v, "%d", q->vals[k].value);
			json_object_set_new(counts, v, json_integer(q->vals[k].n));
		}
		json_object_set_new(jq, "counts", counts);
		json_array_append_new(qs, jq);
	}
	json_object_set_new(root, "questions", qs);
	qs = NULL;
	for (int i = 0; i < r->ng; i++) {
		const struct rgroup *g = &r->g[i];

		if (g->nrated == 0)
			continue;
		wilson(g->satisfied, g->ratings, &lo, &hi);
		json_array_append_new(gs, json_pack("{s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:b}",
			"group", g->name[0] ? json_string(g->name) : json_null(),
			"respondents", (json_int_t)g->respondents,
			"ratings", (json_int_t)g->ratings,
			"satisfied", (json_int_t)g->satisfied,
			"share_pct", jpct(ratio(g->satisfied, g->ratings)),
			"ci_low_pct", jpct(lo), "ci_high_pct", jpct(hi),
			"mean", jnum(g->ratings ? g->sum / (double)g->ratings : NAN),
			"few_responses", g->respondents < ARCHIVE_MIN_RESPONSES));
	}
	json_object_set_new(root, "groups", gs);
	gs = NULL;
	wilson(r->satisfied, r->ratings, &lo, &hi);
	mg = mean_of_groups(r, &ng);
	json_object_set_new(root, "overall", json_pack("{s:{s:s, s:I, s:I, s:o, s:o, s:o}, s:{s:s, s:i, s:o}}",
		"pooled", "method", method_pooled, "ratings", (json_int_t)r->ratings,
		"satisfied", (json_int_t)r->satisfied, "share_pct", jpct(ratio(r->satisfied, r->ratings)),
		"ci_low_pct", jpct(lo), "ci_high_pct", jpct(hi),
		"mean_of_groups", "method", method_mean, "groups", ng, "share_pct", jpct(mg)));
	return root;
fail:
	json_decref(root);
	json_decref(st);
	json_decref(qs);
	json_decref(gs);
	return NULL;
}

int archive_report(struct archive *a, const char *campaign_id, enum archive_format fmt,
                   FILE *out, char *err, size_t errlen)
{
	struct report r;
	json_t *j = NULL;
	int rc;

	memset(&r, 0, sizeof r);
	r.campaign_id = campaign_id;
	if (!campaign_id || !out) {
		seterr(err, errlen, "report: campaign and output are required");
		return -EINVAL;
	}
	if ((rc = report_load(a, &r, err, errlen)) < 0)
		goto fail;
	switch (fmt) {
	case ARCHIVE_FMT_TABLE:
		report_table(&r, out);
		break;
	case ARCHIVE_FMT_CSV:
		report_csv(&r, out);
		break;
	case ARCHIVE_FMT_JSON:
		if (!(j = report_json(&r)) ||
		    json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) < 0) {
			seterr(err, errlen, "report: cannot write JSON");
			rc = -EIO;
			goto fail;
		}
		fputc('\n', out);
		break;
	default:
		seterr(err, errlen, "report: unknown format %d", (int)fmt);
		rc = -EINVAL;
		goto fail;
	}
	if (ferror(out)) {
		seterr(err, errlen, "report: write error");
		rc = -EIO;
		goto fail;
	}
	rc = 0;
fail:
	json_decref(j);
	report_free(&r);
	return rc;
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

/* ---- online backup ---- */

int archive_backup(const char *src_path, const char *dst_path, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b = NULL;
	char tmp[4096];
	int rc = -EIO, pages = 0;
	struct stat st;

	if (stat(dst_path, &st) == 0) {
		seterr(err, errlen, "%s: exists (a backup never writes over a file)", dst_path);
		return -EEXIST;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.partial", dst_path) >= sizeof tmp) {
		seterr(err, errlen, "%s: path too long", dst_path);
		return -EINVAL;
	}
	unlink(tmp);
	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", src_path, src ? sqlite3_errmsg(src) : "cannot open");
		goto done;
	}
	sqlite3_busy_timeout(src, 5000);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", tmp, dst ? sqlite3_errmsg(dst) : "cannot open");
		goto done;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		seterr(err, errlen, "%s: %s", dst_path, sqlite3_errmsg(dst));
		goto done;
	}
	/* All pages in one step, inside one read transaction: the archive is in
	 * WAL mode, so hailongd's writes go on meanwhile, and the copy is the
	 * archive as of the step's start. (Copying a few pages at a time would
	 * restart at every write of another connection: under a steady writer
	 * it would never end.) Busy only while a writer changes the schema. */
	for (int tries = 0;; tries++) {
		int s = sqlite3_backup_step(b, -1);
		if (s == SQLITE_DONE)
			break;
		if ((s != SQLITE_BUSY && s != SQLITE_LOCKED) || tries >= 500) {
			seterr(err, errlen, "%s: backup: %s", src_path, sqlite3_errstr(s));
			goto done;
		}
		sqlite3_sleep(10);
	}
	pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	b = NULL;
	if (sqlite3_errcode(dst) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", tmp, sqlite3_errmsg(dst));
		goto done;
	}
	sqlite3_stmt *q = NULL;
	int ok = sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK &&
	         sqlite3_step(q) == SQLITE_ROW &&
	         strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
	sqlite3_finalize(q);
	if (!ok || sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: the copy does not pass PRAGMA quick_check", tmp);
		goto done;
	}
	sqlite3_close(dst);
	dst = NULL;
	if (link(tmp, dst_path) < 0) { /* never over a file made meanwhile */
		seterr(err, errlen, "%s: %s", dst_path, strerror(errno));
		goto done;
	}
	unlink(tmp);
	rc = pages;
done:
	if (b)
		sqlite3_backup_finish(b);
	sqlite3_close(dst);
	sqlite3_close(src);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
