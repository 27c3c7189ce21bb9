/* test_archive: the SQLite archive (schema, idempotent puts, counts) and its satisfaction report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "archive.h"
#include "archive_int.h"
#include "chain.h"
#include "optout.h"
#include "report.h"
#include "campaign.h"
#include "chain.h"
#include "tzone.h"

#define GA "Tiếp cận dịch vụ hành chính công"
#define GB "Công chức trực tiếp giải quyết công việc"

static const char yaml[] =
	"id: ca-test\n"
	"name: Kiểm thử\n"
	"channel: sms\n"
	"expire_after: 24h\n"
	"scales:\n"
	"  likert5:\n"
	"    satisfied: [5, 4]\n"
	"    options:\n"
	"      - {value: 5, label: Rất hài lòng,       keys: [\"1\"]}\n"
	"      - {value: 4, label: Hài lòng,           keys: [\"2\"]}\n"
	"      - {value: 3, label: Bình thường,        keys: [\"3\"]}\n"
	"      - {value: 2, label: Không hài lòng,     keys: [\"4\"]}\n"
	"      - {value: 1, label: Rất không hài lòng, keys: [\"5\"]}\n"
	"questions:\n"
	"  - {id: access, group: " GA ", type: scale, scale: likert5, text: \"Câu {n}: tiếp cận?\"}\n"
	"  - {id: staff, group: " GB ", type: scale, scale: likert5, text: \"Câu {n}: công chức?\"}\n"
	"  - {id: guide, group: " GB ", type: scale, scale: likert5, text: \"Câu {n}: hướng dẫn?\"}\n"
	"  - id: improve\n"
	"    type: multi\n"
	"    text: \"Câu {n}: cần cải thiện?\"\n"
	"    options:\n"
	"      - {value: 1, label: Thời gian, keys: [\"1\"]}\n"
	"      - {value: 2, label: Thái độ, keys: [\"2\"]}\n"
	"      - {value: 3, label: Cơ sở vật chất, keys: [\"3\"]}\n"
	"  - {id: comment, type: text, optional: true, text: \"Góp ý?\"}\n"
	"messages: {thanks: \"Cảm ơn\"}\n";

struct fx {
	char path[64];
	struct archive *a;
	struct campaign *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[1024] = "";
	int fd;

	assert_non_null(f);
	snprintf(f->path, sizeof f->path, "/tmp/test_archive_XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->path); /* let SQLite create it */
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	if (campaign_parse("test.yaml", yaml, strlen(yaml), &f->c, err, sizeof err) != 0)
		fail_msg("campaign_parse: %s", err);
	assert_int_equal(archive_put_campaign(f->a, f->c, err, sizeof err), 0);
	assert_int_equal(archive_put_campaign(f->a, f->c, err, sizeof err), 0); /* idempotent */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[80];

	archive_close(f->a);
	campaign_free(f->c);
	unlink(f->path);
	snprintf(p, sizeof p, "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", f->path);
	unlink(p);
	free(f);
	return 0;
}

#define T0 1795255200 /* 2026-11-21T10:00:00Z */
#define V(q, v) { q, 1, v, NULL, T0 + 60 }
#define TXT(q, t) { q, 0, 0, t, T0 + 90 }

/* s1..s4 completed; access 5 4 3 5 (3/4), staff 4 2 5 1 (2/4), guide 5 5 - 4 (3/3). */
static const struct archive_answer ans1[] = {
	V("access", 5), V("staff", 4), V("guide", 5), V("improve", 3), V("improve", 1),
	TXT("comment", "Tốt"),
};
static const struct archive_answer ans2[] = {
	V("access", 4), V("staff", 2), V("guide", 5), V("improve", 2), TXT("comment", ""),
};
static const struct archive_answer ans3[] = {
	V("access", 3), V("staff", 5), TXT("comment", "Cần nhanh hơn"),
};
static const struct archive_answer ans4[] = {
	V("access", 5), V("staff", 1), V("guide", 4),
};

#define SURVEY(id, tx, hash, st, ans, nans) \
	{ id, "ca-test", NULL, tx, "pc-vinhphuc", "passport", hash, "sms", st, NULL, \
	  T0, T0 + 300, T0 - 3600, nans, ans, NULL, NULL, NULL }

static void fill(struct fx *f, struct archive_survey *s, int n)
{
	for (int i = 0; i < n; i++)
		s[i].campaign_version = f->c->version;
}

static int put_basic(struct fx *f)
{
	struct archive_survey s[] = {
		SURVEY("s1", "t1", "h1", "completed", ans1, 6),
		SURVEY("s2", "t2", "h2", "completed", ans2, 5),
		SURVEY("s3", "t3", "h3", "completed", ans3, 3),
		SURVEY("s4", "t4", "h4", "completed", ans4, 3),
		SURVEY("s5", "t5", "h5", "expired", NULL, 0),
		SURVEY("s6", "t6", "h1", "opted_out", NULL, 0),
	};
	char err[256] = "";
	int rc;

	fill(f, s, 6);
	rc = archive_put(f->a, s, 6, err, sizeof err);
	if (rc < 0)
		fail_msg("archive_put: %s", err);
	return rc;
}

/* The report of a whole campaign through a read connection of its own. */
static char *report(struct fx *f, const char *campaign, enum report_format fmt, int *rc)
{
	char *buf = NULL, err[256] = "";
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct report_query q = { .campaign = campaign, .nagencies = -1 };
	struct report_db *db = report_db_open(f->path, err, sizeof err);
	json_t *doc = NULL;

	assert_non_null(out);
	if (!db)
		fail_msg("report_db_open: %s", err);
	*rc = report_run(db, &q, &doc, err, sizeof err);
	if (*rc == 0)
		assert_int_equal(report_write(doc, fmt, out), 0);
	json_decref(doc);
	report_db_close(db);
	fclose(out);
	return buf;
}

static void test_put_idempotent(void **state)
{
	struct fx *f = *state;
	struct archive_survey again[] = {
		SURVEY("s1", "t1", "h1", "completed", ans1, 6),
		SURVEY("s1-new-id", "t2", "h2", "expired", ans2, 5), /* same campaign + transaction */
	};
	char err[256];

	assert_int_equal(put_basic(f), 6);
	assert_int_equal(put_basic(f), 0);
	fill(f, again, 2);
	assert_int_equal(archive_put(f->a, again, 2, err, sizeof err), 0);
	assert_int_equal(archive_count(f->a, "ca-test", NULL), 6);
	assert_int_equal(archive_count(f->a, NULL, NULL), 6);
	assert_int_equal(archive_count(f->a, "ca-test", "completed"), 4);
	assert_int_equal(archive_count(f->a, NULL, "expired"), 1);
	assert_int_equal(archive_count(f->a, "ca-test", "failed"), 0);
	assert_int_equal(archive_count(f->a, "other", NULL), 0);
}

static void test_put_rejects_bad_input(void **state)
{
	struct fx *f = *state;
	struct archive_survey bad[] = {
		SURVEY("b1", "tb1", "h9", "completed", NULL, 0),
		SURVEY("b2", "tb2", "h9", "done", NULL, 0),
	};
	char err[256] = "";

	fill(f, bad, 2);
	assert_int_equal(archive_put(f->a, bad, 2, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "b2"));
	assert_int_equal(archive_count(f->a, NULL, NULL), 0); /* nothing of the batch stored */
	bad[1].status = "failed";
	bad[1].channel = "fax";
	assert_int_equal(archive_put(f->a, bad, 2, err, sizeof err), -EINVAL);
	assert_int_equal(archive_count(f->a, NULL, NULL), 0);
}

/* Look at the rows themselves: times, multi answers, no doubled answers. */
static void test_rows(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	sqlite3_stmt *s;
	int uv = -1;

	put_basic(f);
	put_basic(f);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT triggered_at, finished_at, completed_at, msisdn_hash,"
		" (SELECT COUNT(*) FROM answers),"
		" (SELECT quote(value) || '|' || text FROM answers WHERE survey_id = 's1' AND question_id = 'improve'),"
		" (SELECT quote(value) || '|' || text FROM answers WHERE survey_id = 's2' AND question_id = 'improve'),"
		" (SELECT answered_at FROM answers WHERE survey_id = 's1' AND question_id = 'access'),"
		" (SELECT satisfied || '|' || min_value || '|' || max_value || '|' || grp FROM campaign_questions"
		"  WHERE question_id = 'access'),"
		" (SELECT COUNT(*) FROM campaign_questions)"
		" FROM surveys WHERE survey_id = 's1'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(s, 0), "2026-11-21T10:00:00Z");
	assert_string_equal(sqlite3_column_text(s, 1), "2026-11-21T10:05:00Z");
	assert_string_equal(sqlite3_column_text(s, 2), "2026-11-21T09:00:00Z");
	assert_string_equal(sqlite3_column_text(s, 3), "h1");
	assert_int_equal(sqlite3_column_int(s, 4), 5 + 5 + 3 + 3); /* improve of s1 is one row */
	assert_string_equal(sqlite3_column_text(s, 5), "NULL|1 3");
	assert_string_equal(sqlite3_column_text(s, 6), "NULL|2"); /* multi known from the campaign */
	assert_string_equal(sqlite3_column_text(s, 7), "2026-11-21T10:01:00Z");
	assert_string_equal(sqlite3_column_text(s, 8), "5,4|1|5|" GA);
	assert_int_equal(sqlite3_column_int(s, 9), 5);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	uv = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	assert_int_equal(uv, ARCHIVE_SCHEMA_VERSION);
	sqlite3_close(db);
}

static int64_t scalar(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void test_deliveries(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	const struct archive_delivery d[] = {
		{"main", "1A2B", "s1", 0, T0, "delivered", T0 + 5},
		{"main", "1A2C", "s1", 1, T0 + 10, "undeliverable", T0 + 20},
		{"main", "1A2D", NULL, -1, T0 + 30, "expired", T0 + 90},
	};
	assert_int_equal(archive_put_deliveries(f->a, d, 3, err, sizeof err), 3);
	/* the same message again (a second receipt): the first state stays */
	const struct archive_delivery again = {"main", "1A2B", "s1", 0, T0, "rejected", T0 + 50};
	assert_int_equal(archive_put_deliveries(f->a, &again, 1, err, sizeof err), 0);
	/* the same id on another SMSC is another message */
	const struct archive_delivery other = {"backup", "1A2B", "s2", 0, T0, "delivered", T0 + 5};
	assert_int_equal(archive_put_deliveries(f->a, &other, 1, err, sizeof err), 1);
	const struct archive_delivery bad = {"main", "1A2E", "s1", 2, T0, "lost", T0};
	assert_int_equal(archive_put_deliveries(f->a, &bad, 1, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "state"));
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM deliveries"), 4);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM deliveries WHERE message_id = '1A2B' AND smsc = 'main'"
	                                 " AND state = 'delivered' AND state_at = '2026-11-21T10:00:05Z'"), 1);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM deliveries WHERE survey_id IS NULL AND item IS NULL"), 1);
}

/* A database of schema 1 (no deliveries table) is brought up to date when opened. */
static void test_migration_v1(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	sqlite3 *db;

	archive_close(f->a);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE deliveries; PRAGMA user_version = 1;", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), ARCHIVE_SCHEMA_VERSION);
	const struct archive_delivery d = {"main", "77", "s1", 0, T0, "delivered", T0 + 5};
	assert_int_equal(archive_put_deliveries(f->a, &d, 1, err, sizeof err), 1);
	/* a newer schema than this program knows is refused, not damaged */
	archive_close(f->a);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 10;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	f->a = archive_open(f->path, err, sizeof err);
	assert_null(f->a);
	assert_non_null(strstr(err, "newer"));
}

static int lookup_collect(void *arg, const char *const *v)
{
	/* status, reason, cancelled_by */
	char *out = arg;
	snprintf(out, 256, "%s|%s|%s", v[7] ? v[7] : "-", v[8] ? v[8] : "-", v[12] ? v[12] : "-");
	return 0;
}

/* Schema 6: a schema 5 archive (whose CHECK knows no `cancelled` and which
 * has no cancelled_by) is rebuilt with every row, index and chain link kept;
 * then a cancelled survey is stored with who cancelled it, chained, and read
 * back; a status outside the list is still refused by the table. */
static void test_migration_v6_cancelled(void **state)
{
	struct fx *f = *state;
	char err[256] = "", got[256] = "";
	sqlite3 *db;

	put_basic(f);
	archive_close(f->a);
	int64_t nanswers = scalar(f->path, "SELECT COUNT(*) FROM answers");
	assert_true(nanswers > 10);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"BEGIN;"
		"CREATE TABLE s5 (survey_id TEXT NOT NULL PRIMARY KEY, campaign_id TEXT NOT NULL,"
		" campaign_version TEXT, transaction_id TEXT NOT NULL, agency TEXT, procedure TEXT,"
		" msisdn_hash TEXT, channel TEXT CHECK (channel IN ('sms', 'ussd')),"
		" status TEXT NOT NULL CHECK (status IN ('completed', 'expired', 'abandoned',"
		"  'opted_out', 'failed', 'suppressed')), reason TEXT, triggered_at TEXT,"
		" finished_at TEXT, completed_at TEXT, UNIQUE (campaign_id, transaction_id)) WITHOUT ROWID;"
		"INSERT INTO s5 SELECT survey_id, campaign_id, campaign_version, transaction_id, agency,"
		" procedure, msisdn_hash, channel, status, reason, triggered_at, finished_at, completed_at FROM surveys;"
		"DROP TABLE surveys; ALTER TABLE s5 RENAME TO surveys;"
		"CREATE INDEX surveys_campaign_status ON surveys(campaign_id, status, msisdn_hash);"
		"CREATE INDEX surveys_campaign_version ON surveys(campaign_id, campaign_version);"
		"CREATE INDEX surveys_agency ON surveys(agency, campaign_id);"
		"PRAGMA user_version = 5; COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM pragma_table_info('surveys') WHERE name = 'cancelled_by'"), 0);

	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), ARCHIVE_SCHEMA_VERSION);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM surveys"), 6);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM surveys WHERE status = 'expired' AND survey_id = 's5'"
	                                 " AND transaction_id = 't5' AND triggered_at = '2026-11-21T10:00:00Z'"), 1);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM answers"), nanswers);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
	                                 " AND tbl_name = 'surveys' AND name LIKE 'surveys_%'"), 1); /* schema 7 keeps one */
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);

	struct archive_survey c = SURVEY("s7", "t7", "h7", "cancelled", NULL, 0);
	c.reason = "cancelled through the API";
	c.cancelled_by = "one-stop-vinhphuc";
	assert_int_equal(archive_put(f->a, &c, 1, err, sizeof err), 1);
	assert_int_equal(archive_count(f->a, "ca-test", "cancelled"), 1);
	assert_true(archive_lookup(f->a, "s7", NULL, NULL, lookup_collect, got, err, sizeof err) == 1);
	assert_string_equal(got, "cancelled|cancelled through the API|one-stop-vinhphuc");
	assert_true(archive_lookup(f->a, "s5", NULL, NULL, lookup_collect, got, err, sizeof err) == 1);
	assert_string_equal(got, "expired|-|-");

	/* the chain is whole across the rebuild, and covers who cancelled */
	struct chain_report r;
	assert_int_equal(chain_verify(archive_sqlite(f->a), NULL, NULL, &r, err, sizeof err), 0);
	assert_int_equal(r.links, 7);
	assert_int_equal(sqlite3_exec(archive_sqlite(f->a), "UPDATE surveys SET cancelled_by = 'someone-else'"
	                              " WHERE survey_id = 's7'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(chain_verify(archive_sqlite(f->a), NULL, NULL, &r, err, sizeof err), 1);
	/* the table's own CHECK still refuses a status outside the list */
	assert_int_not_equal(sqlite3_exec(archive_sqlite(f->a), "UPDATE surveys SET status = 'bogus'"
	                                  " WHERE survey_id = 's1'", NULL, NULL, NULL), SQLITE_OK);
}

static int count_each(void *arg, const char *hash, const char *at, const char *source)
{
	(void)hash;
	(void)at;
	(void)source;
	(*(int *)arg)++;
	return 0;
}

struct seen_change {
	char hash[8][65];
	int recorded[8];
	int n;
};

static int note_change(void *arg, const char *hash, int recorded)
{
	struct seen_change *c = arg;
	if (c->n < 8) {
		snprintf(c->hash[c->n], sizeof c->hash[c->n], "%s", hash);
		c->recorded[c->n++] = recorded;
	}
	return 0;
}

/* Opt-outs (schema 5): a schema 4 archive carries its opted_out citizens over;
 * put keeps the first record; add and remove go through the change log, which
 * tells the current state of each hash changed; bad input is refused whole. */
static void test_optouts(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	sqlite3 *db;
	char ha[65], hb[65];
	memset(ha, 'a', 64);
	ha[64] = '\0';
	memset(hb, 'b', 64);
	hb[64] = '\0';

	/* s6 (msisdn_hash "h1") was archived opted_out; a schema 4 archive has no optouts table */
	put_basic(f);
	archive_close(f->a);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE optouts; DROP TABLE optout_changes; PRAGMA user_version = 4;",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), ARCHIVE_SCHEMA_VERSION);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM optouts WHERE msisdn_hash = 'h1' AND source = 'keyword'"), 1);
	assert_int_equal(optout_count(f->a, err, sizeof err), 1);

	static const struct {
		const char *what, *hash, *source;
		int want;
	} bad[] = {
		{"not a hash", "8491234", "keyword", -EINVAL},
		{"upper-case hex", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "keyword", -EINVAL},
		{"unknown source", NULL, "sms", -EINVAL},
		{"no source", NULL, NULL, -EINVAL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct optout o[2] = {{hb, T0, "api"}, {bad[i].hash ? bad[i].hash : ha, T0, bad[i].source}};
		int rc = optout_put(f->a, o, 2, err, sizeof err);
		if (rc != bad[i].want)
			fail_msg("%s: got %d want %d", bad[i].what, rc, bad[i].want);
		assert_int_equal(optout_count(f->a, err, sizeof err), 1); /* nothing of the batch written */
	}
	struct optout o[3] = {{ha, T0, "keyword"}, {ha, T0 + 9, "api"}, {hb, T0 + 1, "api"}};
	assert_int_equal(optout_put(f->a, o, 3, err, sizeof err), 2);
	assert_int_equal(optout_put(f->a, o, 3, err, sizeof err), 0);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM optouts WHERE source = 'keyword'"), 2); /* the first kept */
	assert_int_equal(optout_has(f->a, ha, err, sizeof err), 1);
	/* put does not touch the change log: hailongd put them in Redis itself */
	assert_int_equal(optout_last_change(f->a, err, sizeof err), 0);

	char hc[65];
	memset(hc, 'c', 64);
	hc[64] = '\0';
	assert_int_equal(optout_add(f->a, hc, "operator", T0, err, sizeof err), 1);
	assert_int_equal(optout_add(f->a, hc, "operator", T0, err, sizeof err), 0);
	assert_int_equal(optout_remove(f->a, ha, err, sizeof err), 1);
	assert_int_equal(optout_remove(f->a, ha, err, sizeof err), 0);
	assert_int_equal(optout_add(f->a, "nothex", "operator", T0, err, sizeof err), -EINVAL);
	assert_int_equal(optout_add(f->a, hc, "sms", T0, err, sizeof err), -EINVAL);
	assert_int_equal(optout_last_change(f->a, err, sizeof err), 2);
	int n = 0;
	assert_int_equal(optout_each(f->a, count_each, &n, err, sizeof err), 0);
	assert_int_equal(n, 3); /* h1, b..., c... */
	struct seen_change c = {0};
	int64_t last = 0;
	assert_int_equal(optout_changes(f->a, 0, note_change, &c, &last, err, sizeof err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(last, 2);
	assert_string_equal(c.hash[0], hc);
	assert_int_equal(c.recorded[0], 1);
	assert_string_equal(c.hash[1], ha);
	assert_int_equal(c.recorded[1], 0);
	/* a change read again reports the state now: c removed after its add */
	assert_int_equal(optout_remove(f->a, hc, err, sizeof err), 1);
	memset(&c, 0, sizeof c);
	assert_int_equal(optout_changes(f->a, 0, note_change, &c, &last, err, sizeof err), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.recorded[0], 0);
	assert_int_equal(last, 3);
	memset(&c, 0, sizeof c);
	assert_int_equal(optout_changes(f->a, 3, note_change, &c, &last, err, sizeof err), 0);
	assert_int_equal(c.n, 0);
}

/* The keyed hash: the same key from config text or the DB.key file; no file
 * and create = 0 is refused; a file of the wrong length too. */
static void test_optout_key(void **state)
{
	struct fx *f = *state;
	char err[256] = "", path[600], h1[65], h2[65];
	unsigned char k1[OPTOUT_KEYBYTES], k2[OPTOUT_KEYBYTES];
	snprintf(path, sizeof path, "%s.key", f->path);
	unlink(path);
	assert_int_equal(optout_key(NULL, f->path, 0, k1, err, sizeof err), -ENOENT);
	assert_int_equal(optout_key(NULL, f->path, 1, k1, err, sizeof err), 0);
	assert_int_equal(optout_key(NULL, f->path, 0, k2, err, sizeof err), 0);
	assert_memory_equal(k1, k2, sizeof k1);
	optout_hash(k1, "84912345678", h1);
	assert_int_equal(optout_is_hash(h1), 1);
	assert_int_equal(optout_key("text key", f->path, 0, k2, err, sizeof err), 0);
	optout_hash(k2, "84912345678", h2);
	assert_string_not_equal(h1, h2);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("abc", fp);
	fclose(fp);
	assert_int_equal(optout_key(NULL, f->path, 0, k1, err, sizeof err), -EINVAL);
	unlink(path);
}

/* The text of every rollup row, for comparing two states of one archive. */
static char *rollups(const char *path)
{
	static const char sql[] =
		"SELECT group_concat(x, '|') FROM (SELECT campaign_id || day || agency || procedure || channel"
		" || status || ':' || surveys || '/' || rated AS x FROM rollup_surveys"
		" UNION ALL SELECT campaign_id || day || agency || procedure || channel || status || question_id"
		" || ':' || kind || ':' || value || '=' || n FROM rollup_answers"
		" UNION ALL SELECT campaign_id || day || agency || procedure || channel || status || grp || '=' || n"
		" FROM rollup_groups UNION ALL SELECT c.campaign_id || c.cid || (c.k >> 24) || u.agency || u.procedure"
		" || u.channel || (c.k & 15) FROM (SELECT * FROM rollup_citizens%s) c JOIN rollup_units u"
		" ON u.uid = (c.k >> 4) & 1048575 ORDER BY 1)";
	char q[2048];
	sqlite3 *db;
	sqlite3_stmt *s;
	char *out;

	/* schema 9: the rows of the last batches in rollup_citizens_recent (a row may be in both) */
	snprintf(q, sizeof q, sql, scalar(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollup_citizens_recent'")
	         ? " UNION SELECT * FROM rollup_citizens_recent" : "");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	out = strdup(sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

/* Schema 8 and before: every rollup_citizens row in the one table. */
#define V8_CITIZENS "INSERT OR IGNORE INTO rollup_citizens SELECT * FROM rollup_citizens_recent;" \
	" DROP TABLE rollup_citizens_recent;"

/* Turn the archive at path into what schema 7 wrote: the rollups in tables
 * keyed by text (copied from the views), no rollup_s/a/g or rollup_names.
 * drop: then drop those rollups too, as an archive of schema 2 had none. */
static void make_v7(const char *path, int drop)
{
	static const char sql[] =
		"CREATE TABLE v7_s AS SELECT * FROM rollup_surveys;"
		"CREATE TABLE v7_a AS SELECT * FROM rollup_answers;"
		"CREATE TABLE v7_g AS SELECT * FROM rollup_groups;"
		"DROP VIEW rollup_surveys; DROP VIEW rollup_answers; DROP VIEW rollup_groups;"
		"DROP TABLE rollup_s; DROP TABLE rollup_a; DROP TABLE rollup_g; DROP TABLE rollup_names;"
		"CREATE TABLE rollup_surveys (campaign_id TEXT NOT NULL, day TEXT NOT NULL, agency TEXT NOT NULL,"
		" procedure TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL, surveys INTEGER NOT NULL,"
		" rated INTEGER NOT NULL, PRIMARY KEY (campaign_id, day, agency, procedure, channel, status)) WITHOUT ROWID;"
		"CREATE TABLE rollup_answers (campaign_id TEXT NOT NULL, day TEXT NOT NULL, agency TEXT NOT NULL,"
		" procedure TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL, question_id TEXT NOT NULL,"
		" kind INTEGER NOT NULL, value INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (campaign_id, day,"
		" agency, procedure, channel, status, question_id, kind, value)) WITHOUT ROWID;"
		"CREATE TABLE rollup_groups (campaign_id TEXT NOT NULL, day TEXT NOT NULL, agency TEXT NOT NULL,"
		" procedure TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL, grp TEXT NOT NULL,"
		" n INTEGER NOT NULL, PRIMARY KEY (campaign_id, day, agency, procedure, channel, status, grp)) WITHOUT ROWID;"
		"INSERT INTO rollup_surveys SELECT * FROM v7_s; INSERT INTO rollup_answers SELECT * FROM v7_a;"
		"INSERT INTO rollup_groups SELECT * FROM v7_g; DROP TABLE v7_s; DROP TABLE v7_a; DROP TABLE v7_g;"
		V8_CITIZENS "PRAGMA user_version = 7;";
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	if (drop)
		assert_int_equal(sqlite3_exec(db, "DROP TABLE rollup_surveys; DROP TABLE rollup_answers;"
		                                  " DROP TABLE rollup_groups; DROP TABLE rollup_meta;"
		                                  " DROP TABLE rollup_citizens; DROP TABLE rollup_units;"
		                                  " PRAGMA user_version = 2;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The report of campaign ca-test in every format (JSON, table, CSV). */
static void reports_all(struct fx *f, char *out[3])
{
	static const enum report_format fmts[] = { REPORT_FMT_JSON, REPORT_FMT_TABLE, REPORT_FMT_CSV };
	int rc;
	for (int i = 0; i < 3; i++) {
		out[i] = report(f, "ca-test", fmts[i], &rc);
		assert_int_equal(rc, 0);
	}
}

/* The reports now are byte for byte those of `before` (freed). */
static void reports_same(struct fx *f, char *before[3])
{
	char *now[3];
	reports_all(f, now);
	for (int i = 0; i < 3; i++) {
		assert_true(strlen(now[i]) > 100);
		assert_string_equal(before[i], now[i]);
		free(before[i]);
		free(now[i]);
	}
}

/* A schema 7 archive (rollups keyed by text) opened by this program: the
 * rollups are counted again into schema 8's integer tables, read through
 * views that give the same rows, and every report is byte for byte what it
 * was before the archive was turned into schema 7's. */
static void test_migration_v7_rollups(void **state)
{
	struct fx *f = *state;
	char err[256] = "", *before, *after, *rb[3];

	put_basic(f);
	before = rollups(f->path);
	reports_all(f, rb);
	archive_close(f->a);
	f->a = NULL;
	make_v7(f->path, 0);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), 7);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollup_a'"), 0);
	after = rollups(f->path);
	assert_string_equal(after, before); /* the old tables hold the same rows */
	free(after);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), ARCHIVE_SCHEMA_VERSION);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollup_a'"), 1);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view'"), 3);
	after = rollups(f->path);
	assert_string_equal(before, after);
	reports_same(f, rb);
	free(before);
	free(after);
}

/* A schema 8 archive (every citizen row in rollup_citizens) opened by this
 * program gets an empty rollup_citizens_recent; nothing moves, the reports
 * are byte for byte the same, and the next surveys' citizens go to the new
 * table and are counted with the old ones. */
static void test_migration_v8_recent(void **state)
{
	struct fx *f = *state;
	char err[256] = "", *before, *after, *rb[3], *json;
	sqlite3 *db;
	int rc;

	put_basic(f);
	before = rollups(f->path);
	reports_all(f, rb);
	archive_close(f->a);
	f->a = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, V8_CITIZENS "PRAGMA user_version = 8;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	int64_t n = scalar(f->path, "SELECT COUNT(*) FROM rollup_citizens");
	assert_true(n > 0);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollup_citizens_recent'"), 0);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), 9);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM rollup_citizens_recent"), 0);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM rollup_citizens"), n);
	after = rollups(f->path);
	assert_string_equal(before, after);
	free(after);
	reports_same(f, rb);
	/* a new citizen after the upgrade: in the new table, and in the report */
	struct archive_survey s = SURVEY("after-v9", "t-v9", "h-after-v9", "completed", NULL, 0);

	fill(f, &s, 1);
	assert_int_equal(archive_put(f->a, &s, 1, err, sizeof err), 1);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM rollup_citizens_recent"), 1);
	assert_int_equal(scalar(f->path, "SELECT COUNT(*) FROM rollup_citizens"), n);
	after = rollups(f->path);
	assert_string_not_equal(before, after);
	json = report(f, "ca-test", REPORT_FMT_JSON, &rc);
	assert_int_equal(rc, 0);
	json_error_t je;
	json_t *j = json_loads(json, 0, &je), *rr;
	assert_non_null(j);
	rr = json_object_get(json_object_get(json_object_get(j, "total"), "response_rate"), "citizens");
	assert_int_equal(json_integer_value(rr), scalar(f->path, "SELECT COUNT(DISTINCT msisdn_hash) FROM surveys"));
	assert_int_equal(json_integer_value(rr), 6);
	json_decref(j);
	free(json);
	free(before);
	free(after);
}

/* A schema 2 archive with surveys gets its rollups rebuilt from the rows when
 * opened, equal to those kept survey by survey. */
static void test_migration_v2_rollups(void **state)
{
	struct fx *f = *state;
	char err[256] = "", *before, *after;

	put_basic(f);
	before = rollups(f->path);
	assert_non_null(strstr(before, "access:0:5=2"));
	archive_close(f->a);
	f->a = NULL;
	make_v7(f->path, 1);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	assert_int_equal(scalar(f->path, "PRAGMA user_version"), ARCHIVE_SCHEMA_VERSION);
	after = rollups(f->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* archive_iso_time writes dates by arithmetic: the same text as gmtime_r +
 * strftime for every second tried, leap days, 1970 and before, and years
 * that are not four digits; 0 is absent (NULL). */
static void test_iso_time(void **state)
{
	static const struct { int64_t t; const char *iso; } tab[] = {
		{ 1, "1970-01-01T00:00:01Z" },
		{ -1, "1969-12-31T23:59:59Z" },
		{ 951782400, "2000-02-29T00:00:00Z" },
		{ 4107542399, "2100-02-28T23:59:59Z" },
		{ 4107542400, "2100-03-01T00:00:00Z" },
		{ T0, "2026-11-21T10:00:00Z" },
		{ 253402300799, "9999-12-31T23:59:59Z" },
	};
	char buf[32], want[32];

	(void)state;
	assert_null(archive_iso_time(0, buf, sizeof buf));
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		assert_non_null(archive_iso_time(tab[i].t, buf, sizeof buf));
		assert_string_equal(buf, tab[i].iso);
	}
	for (int64_t t = -70000000000LL; t < 400000000000LL; t += 86399 * 97 + (t & 4095)) {
		time_t tt = (time_t)t;
		struct tm tm;

		if (t == 0)
			continue;
		assert_non_null(gmtime_r(&tt, &tm));
		assert_true(strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
		assert_non_null(archive_iso_time(t, buf, sizeof buf));
		assert_string_equal(buf, want);
	}
}

/* The rollup counts gathered in a transaction that fails are dropped with it,
 * and the next batches count exactly: the rollups after an ok batch, a batch
 * refused half-way (its third survey has too many values) and another ok
 * batch, on many days, equal the rollups rebuilt from the rows. */
static void test_rollup_after_failed_batch(void **state)
{
	struct fx *f = *state;
	struct archive_answer many[65];
	struct archive_survey s[3][40];
	char ids[3][40][16], hash[3][40][16], err[256] = "", *kept, *rebuilt;

	for (int i = 0; i < 65; i++)
		many[i] = (struct archive_answer)V("improve", 1 + i % 3);
	for (int b = 0; b < 3; b++) {
		for (int i = 0; i < 40; i++) {
			const struct archive_answer *ans[4] = { ans1, ans2, ans3, ans4 };
			static const int nans[4] = { 6, 5, 3, 3 };
			static const char *const st[3] = { "completed", "expired", "abandoned" };

			snprintf(ids[b][i], sizeof ids[b][i], "r%d-%d", b, i);
			snprintf(hash[b][i], sizeof hash[b][i], "h%d", (b * 40 + i) % 29);
			s[b][i] = (struct archive_survey)SURVEY(ids[b][i], ids[b][i], hash[b][i], st[i % 3],
			                                      ans[i % 4], nans[i % 4]);
			s[b][i].triggered_at = T0 + (int64_t)(i * 7 % 23) * 86400 + i * 3000; /* the same keys in every batch */
			s[b][i].agency = i % 5 == 0 ? "pc-hanoi" : "pc-vinhphuc";
		}
		fill(f, s[b], 40);
	}
	s[1][2].answers = many;
	s[1][2].nanswers = 65;
	assert_int_equal(archive_put(f->a, s[0], 40, err, sizeof err), 40);
	assert_int_equal(archive_put(f->a, s[1], 40, err, sizeof err), -EINVAL);
	assert_int_equal(archive_count(f->a, NULL, NULL), 40);
	s[1][2].answers = ans3;
	s[1][2].nanswers = 3;
	assert_int_equal(archive_put(f->a, s[2], 40, err, sizeof err), 40);
	assert_int_equal(archive_put(f->a, s[1], 40, err, sizeof err), 40);
	kept = rollups(f->path);
	archive_close(f->a);
	f->a = NULL;
	make_v7(f->path, 1);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	rebuilt = rollups(f->path);
	assert_true(strlen(kept) > 1000);
	assert_string_equal(kept, rebuilt);
	free(kept);
	free(rebuilt);
}

static void test_report_json(void **state)
{
	struct fx *f = *state;
	json_error_t je;
	json_t *j, *t, *q, *g, *o, *defs;
	char *out;
	int rc;

	put_basic(f);
	out = report(f, "ca-test", REPORT_FMT_JSON, &rc);
	assert_int_equal(rc, 0);
	j = json_loads(out, 0, &je);
	if (!j)
		fail_msg("bad JSON (%s): %s", je.text, out);
	t = json_object_get(j, "total");
	defs = json_object_get(j, "questions");
	assert_string_equal(json_string_value(json_object_get(j, "version")), f->c->version);
	assert_int_equal(json_integer_value(json_object_get(t, "surveys")), 6);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "by_status"), "completed")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "by_status"), "opted_out")), 1);
	o = json_object_get(t, "response_rate");
	assert_float_equal(json_real_value(json_object_get(o, "by_survey_pct")), 66.6667, 1e-4);
	assert_float_equal(json_real_value(json_object_get(o, "by_citizen_pct")), 80.0, 1e-9); /* 4 of 5 */

	q = json_array_get(json_object_get(t, "questions"), 0);
	assert_string_equal(json_string_value(json_object_get(q, "id")), "access");
	assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 0), "group")), GA);
	assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 0), "text")), "Câu 1: tiếp cận?");
	assert_int_equal(json_integer_value(json_object_get(q, "answers")), 4);
	assert_int_equal(json_integer_value(json_object_get(q, "satisfied")), 3);
	assert_float_equal(json_real_value(json_object_get(q, "share_pct")), 75.0, 1e-9);
	assert_float_equal(json_real_value(json_object_get(q, "mean")), 4.25, 1e-9);
	/* Wilson, z = 1.96, x = 3, n = 4: (0.75 + 0.4802) / 1.9604 -/+ 1.96 * sqrt(0.046875 + 0.060025) / 1.9604 */
	assert_float_equal(json_real_value(json_object_get(q, "ci_low_pct")), 30.06, 0.005);
	assert_float_equal(json_real_value(json_object_get(q, "ci_high_pct")), 95.44, 0.005);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "counts"), "5")), 2);

	q = json_array_get(json_object_get(t, "questions"), 1); /* staff: 2 of 4 */
	assert_float_equal(json_real_value(json_object_get(q, "share_pct")), 50.0, 1e-9);
	assert_float_equal(json_real_value(json_object_get(q, "mean")), 3.0, 1e-9);
	assert_float_equal(json_real_value(json_object_get(q, "ci_low_pct")), 15.00, 0.005);
	assert_float_equal(json_real_value(json_object_get(q, "ci_high_pct")), 85.00, 0.005);

	q = json_array_get(json_object_get(t, "questions"), 2); /* guide: 3 of 3 */
	assert_int_equal(json_integer_value(json_object_get(q, "answers")), 3);
	assert_float_equal(json_real_value(json_object_get(q, "ci_low_pct")), 43.85, 0.005);
	assert_float_equal(json_real_value(json_object_get(q, "ci_high_pct")), 100.0, 1e-9);

	q = json_array_get(json_object_get(t, "questions"), 3); /* improve: multi */
	assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 3), "type")), "multi");
	assert_int_equal(json_integer_value(json_object_get(q, "answers")), 2);
	assert_null(json_object_get(q, "share_pct"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "counts"), "1")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "counts"), "2")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "counts"), "3")), 1);

	q = json_array_get(json_object_get(t, "questions"), 4); /* comment: 2 non-empty */
	assert_int_equal(json_integer_value(json_object_get(q, "comments")), 2);

	assert_int_equal(json_array_size(json_object_get(t, "groups")), 2);
	g = json_array_get(json_object_get(t, "groups"), 1); /* staff + guide: 5 of 7 */
	assert_string_equal(json_string_value(json_object_get(g, "group")), GB);
	assert_int_equal(json_integer_value(json_object_get(g, "respondents")), 4);
	assert_int_equal(json_integer_value(json_object_get(g, "ratings")), 7);
	assert_float_equal(json_real_value(json_object_get(g, "share_pct")), 71.43, 0.005);
	assert_float_equal(json_real_value(json_object_get(g, "ci_low_pct")), 35.89, 0.005);
	assert_float_equal(json_real_value(json_object_get(g, "ci_high_pct")), 91.78, 0.005);
	assert_true(json_is_true(json_object_get(g, "few_responses")));

	o = json_object_get(t, "overall");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "pooled"), "ratings")), 11);
	assert_float_equal(json_real_value(json_object_get(json_object_get(o, "pooled"), "share_pct")), 72.73, 0.005);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(o, "pooled"), "method")), "pooled"));
	/* (75 + 71.4286) / 2 */
	assert_float_equal(json_real_value(json_object_get(json_object_get(o, "mean_of_groups"), "share_pct")), 73.21, 0.005);
	json_decref(j);
	free(out);
}


/* sum of rollup_surveys.surveys on a local day, read on its own connection */
static int rollup_day(struct fx *f, const char *day)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int n = -1;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(surveys), 0) FROM rollup_surveys WHERE day = ?1",
	                                    -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* The surveys of one report slice --by day (0 when the slice is absent). */
static int report_day(struct fx *f, const char *day, const char *from, const char *to, char *zone, size_t zcap)
{
	struct report_query q = { .campaign = "ca-test", .nagencies = -1, .from = from, .to = to };
	char err[256] = "";
	struct report_db *db = report_db_open(f->path, err, sizeof err);
	json_t *doc = NULL, *sl;
	size_t i;
	int n = 0;

	if (!db)
		fail_msg("report_db_open: %s", err);
	assert_int_equal(report_parse_by("day", &q, err, sizeof err), 0);
	if (report_run(db, &q, &doc, err, sizeof err) < 0)
		fail_msg("report_run: %s", err);
	snprintf(zone, zcap, "%s", json_string_value(json_object_get(doc, "timezone")));
	json_array_foreach(json_object_get(doc, "slices"), i, sl)
		if (strcmp(json_string_value(json_object_get(json_object_get(sl, "key"), "day")), day) == 0)
			n = (int)json_integer_value(json_object_get(sl, "surveys"));
	json_decref(doc);
	report_db_close(db);
	return n;
}

/* Periods are local days of the configured zone: a survey at 23:30 UTC is on
 * the next day in Asia/Ho_Chi_Minh. A report in another zone counts again in
 * its own TEMP tables and leaves the archive as it is; a writer in another
 * zone rebuilds the rollups in it, exactly. */
static void test_report_timezone(void **state)
{
	struct fx *f = *state;
	char err[256] = "", zone[TZONE_MAX + 1], rec[TZONE_MAX + 1];
	struct archive_survey s[] = {
		SURVEY("z1", "tz1", "hz1", "completed", ans4, 3),
		SURVEY("z2", "tz2", "hz2", "expired", NULL, 0),
		SURVEY("z3", "tz3", "hz3", "completed", ans3, 3),
	};

	assert_int_equal(tzone_use("Asia/Ho_Chi_Minh", err, sizeof err), 0);
	fill(f, s, 3);
	s[0].triggered_at = 1795303800; /* 2026-11-21T23:30:00Z = 2026-11-22 06:30 in Hanoi */
	s[1].triggered_at = 1795280340; /* 2026-11-21T16:59:00Z = 2026-11-21 23:59 in Hanoi */
	s[2].triggered_at = 1795280460; /* 2026-11-21T17:01:00Z = 2026-11-22 00:01 in Hanoi */
	assert_int_equal(archive_put(f->a, s, 2, err, sizeof err), 2);
	assert_int_equal(rollup_day(f, "2026-11-22"), 1);
	assert_int_equal(rollup_day(f, "2026-11-21"), 1);
	assert_int_equal(report_day(f, "2026-11-22", NULL, NULL, zone, sizeof zone), 1);
	assert_string_equal(zone, "Asia/Ho_Chi_Minh");
	assert_int_equal(report_day(f, "2026-11-22", "2026-11-22", "2026-11-22", zone, sizeof zone), 1);
	assert_int_equal(report_day(f, "2026-11-21", "2026-11-22", "2026-11-22", zone, sizeof zone), 0);

	/* a report in UTC: both on the 21st, and the archive is left alone */
	assert_int_equal(tzone_use("UTC", err, sizeof err), 0);
	assert_int_equal(report_day(f, "2026-11-21", NULL, NULL, zone, sizeof zone), 2);
	assert_string_equal(zone, "UTC");
	assert_int_equal(report_day(f, "2026-11-22", NULL, NULL, zone, sizeof zone), 0);
	assert_int_equal(rollup_day(f, "2026-11-22"), 1);
	assert_int_equal(archive_rollup_zone_of(archive_sqlite(f->a), rec, sizeof rec), 0);
	assert_string_equal(rec, "Asia/Ho_Chi_Minh");

	/* a writer in UTC+05:30: the rollups are counted again in it before its batch */
	assert_int_equal(tzone_use("+05:30", err, sizeof err), 0);
	assert_int_equal(archive_put(f->a, &s[2], 1, err, sizeof err), 1);
	assert_int_equal(archive_rollup_zone_of(archive_sqlite(f->a), rec, sizeof rec), 0);
	assert_string_equal(rec, "+05:30");
	assert_int_equal(rollup_day(f, "2026-11-21"), 2); /* 22:29 and 22:31 local */
	assert_int_equal(rollup_day(f, "2026-11-22"), 1); /* 05:00 local */
	assert_int_equal(report_day(f, "2026-11-22", NULL, NULL, zone, sizeof zone), 1);

	/* back: rebuilt in Hanoi's days, the same as if written there */
	assert_int_equal(tzone_use(TZONE_DEFAULT, err, sizeof err), 0);
	s[0].survey_id = "z4";
	s[0].transaction_id = "tz4";
	assert_int_equal(archive_put(f->a, s, 1, err, sizeof err), 1);
	assert_int_equal(rollup_day(f, "2026-11-21"), 1);
	assert_int_equal(rollup_day(f, "2026-11-22"), 3);
}


/* Answers given under two versions of a campaign whose wording changed: the
 * report shows each version's wording (numbers as the citizen read them),
 * and a question dropped from the newer version keeps its own. */
static void test_report_wordings(void **state)
{
	struct fx *f = *state;
	char err[512] = "", *v2yaml, *out, *p;
	struct campaign *c2 = NULL;
	json_t *j, *defs, *d, *w;
	json_error_t je;
	size_t i;
	int rc;
	const char *old = "text: \"Câu {n}: tiếp cận?\"";
	const char *newer = "text: \"Câu {n}/{total}: Ông/Bà tiếp cận dịch vụ thế nào?\"";
	const char *guide = "  - {id: guide, group: " GB ", type: scale, scale: likert5, text: \"Câu {n}: hướng dẫn?\"}\n";
	struct archive_survey s1[] = { SURVEY("w1", "tw1", "hw1", "completed", ans1, 6) };
	struct archive_survey s2[] = { SURVEY("w2", "tw2", "hw2", "completed", ans3, 3) };

	/* version 2: access reworded, guide dropped (so improve is now item 3) */
	v2yaml = calloc(1, sizeof yaml + 128);
	assert_non_null(v2yaml);
	p = strstr(yaml, old);
	assert_non_null(p);
	memcpy(v2yaml, yaml, (size_t)(p - yaml));
	strcat(v2yaml, newer);
	strcat(v2yaml, p + strlen(old));
	p = strstr(v2yaml, guide);
	assert_non_null(p);
	memmove(p, p + strlen(guide), strlen(p + strlen(guide)) + 1);
	if (campaign_parse("test.yaml", v2yaml, strlen(v2yaml), &c2, err, sizeof err) != 0)
		fail_msg("campaign_parse: %s", err);
	assert_string_not_equal(c2->version, f->c->version);
	fill(f, s1, 1);
	assert_int_equal(archive_put(f->a, s1, 1, err, sizeof err), 1);
	assert_int_equal(archive_put_campaign(f->a, c2, err, sizeof err), 0);
	s2[0].campaign_version = c2->version;
	assert_int_equal(archive_put(f->a, s2, 1, err, sizeof err), 1);

	out = report(f, "ca-test", REPORT_FMT_JSON, &rc);
	assert_int_equal(rc, 0);
	j = json_loads(out, 0, &je);
	free(out);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "version")), c2->version);
	defs = json_object_get(j, "questions");
	json_array_foreach(defs, i, d) {
		const char *id = json_string_value(json_object_get(d, "id"));
		json_t *ws = json_object_get(d, "wordings");

		if (strcmp(id, "access") == 0) {
			assert_string_equal(json_string_value(json_object_get(d, "text")),
			                    "Câu 1/4: Ông/Bà tiếp cận dịch vụ thế nào?");
			assert_int_equal(json_array_size(ws), 2);
			w = json_array_get(ws, 0);
			assert_string_equal(json_string_value(json_object_get(w, "text")), "Câu 1: tiếp cận?");
			assert_string_equal(json_string_value(json_array_get(json_object_get(w, "versions"), 0)), f->c->version);
			w = json_array_get(ws, 1);
			assert_string_equal(json_string_value(json_object_get(w, "text")),
			                    "Câu 1/4: Ông/Bà tiếp cận dịch vụ thế nào?");
			assert_string_equal(json_string_value(json_array_get(json_object_get(w, "versions"), 0)), c2->version);
		} else if (strcmp(id, "staff") == 0) {
			assert_int_equal(json_array_size(ws), 1); /* the same words in both */
			assert_int_equal(json_array_size(json_object_get(json_array_get(ws, 0), "versions")), 2);
		} else if (strcmp(id, "improve") == 0) {
			assert_int_equal(json_array_size(ws), 2); /* item 4, then item 3 */
			assert_string_equal(json_string_value(json_object_get(json_array_get(ws, 0), "text")),
			                    "Câu 4: cần cải thiện?");
			assert_string_equal(json_string_value(json_object_get(json_array_get(ws, 1), "text")),
			                    "Câu 3: cần cải thiện?");
		} else if (strcmp(id, "guide") == 0) { /* only in version 1, answered there */
			assert_int_equal(json_integer_value(json_object_get(d, "position")), 0);
			assert_string_equal(json_string_value(json_object_get(d, "text")), "Câu 3: hướng dẫn?");
			assert_string_equal(json_string_value(json_object_get(d, "group")), GB);
			assert_int_equal(json_array_size(ws), 1);
		}
	}
	json_decref(j);
	out = report(f, "ca-test", REPORT_FMT_TABLE, &rc);
	assert_non_null(strstr(out, "Wording changed between campaign versions"));
	assert_non_null(strstr(out, "Câu 1: tiếp cận?"));
	free(out);
	out = report(f, "ca-test", REPORT_FMT_CSV, &rc);
	assert_non_null(strstr(out, "total,wording,access,Câu 1: tiếp cận?"));
	free(out);
	out = report(f, "ca-test", REPORT_FMT_HTML, &rc);
	assert_non_null(strstr(out, "<ul class=\"wordings meta\" data-wordings=\"access\">"));
	free(out);
	campaign_free(c2);
	free(v2yaml);
}


/* The chain encodes the rows archive_put has just written without reading
 * them back: the same bytes verify reads from the tables, whatever the
 * rows hold (multi answers, empty and missing texts and times, NULL
 * columns, an audit link, a sealed contact); and a survey whose answer row
 * already existed (INSERT OR IGNORE kept it) is read back instead. */
static void test_chain_rows(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct chain_report r;
	static const struct archive_answer odd[] = {
		{ "improve", 1, 3, NULL, T0 + 5 }, { "access", 1, 5, NULL, 0 }, { "improve", 1, 1, NULL, T0 + 9 },
		{ "comment", 0, 0, "", T0 + 7 }, { "staff", 1, 2, "ghi chú", T0 + 8 }, { "zzz", 0, 0, NULL, 0 },
	};
	struct archive_survey s[] = {
		SURVEY("r1", "tr1", "hr1", "completed", odd, 6),
		SURVEY("r2", "tr2", NULL, "failed", NULL, 0),
		SURVEY("r3", "tr3", "hr3", "completed", ans1, 6),
	};
	sqlite3 *db;

	fill(f, s, 3);
	s[0].procedure = NULL;
	s[0].completed_at = 0;
	s[1].campaign_version = NULL;
	s[1].channel = NULL;
	s[1].reason = "SMSC refused";
	s[1].triggered_at = 0;
	s[2].audit_of = "r1";
	s[2].contact = "c2VhbGVkIGJveA==";
	/* an answer row of r3 left from before (an orphan): kept, so r3 is read back */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO answers(survey_id, question_id, value, text, answered_at,"
	                                  " campaign_id) VALUES('r3', 'access', 1, NULL, NULL, 'ca-test')",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(archive_put(f->a, s, 3, err, sizeof err), 3);
	memset(&r, 0, sizeof r);
	if (chain_verify(archive_sqlite(f->a), NULL, NULL, &r, err, sizeof err) != 0)
		fail_msg("verify: %s (%s)", r.first, err);
	assert_int_equal(r.links, 3);
}

static void test_report_table_csv(void **state)
{
	struct fx *f = *state;
	char *out, *line;
	int rc;

	put_basic(f);
	out = report(f, "ca-test", REPORT_FMT_TABLE, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "Response rate: 66.67% by survey (4/6), 80.00% by citizen (4/5)"));
	line = strstr(out, "\naccess ");
	assert_non_null(line);
	line = strndup(line + 1, strcspn(line + 1, "\n"));
	assert_non_null(strstr(line, " 75.00% "));
	assert_non_null(strstr(line, " 30.06-95.44% "));
	assert_non_null(strstr(line, " 4.25 "));
	assert_non_null(strstr(line, "  3:1 4:1 5:2")); /* nobody answered 1: not listed */
	assert_non_null(strstr(line, "3:1 4:1 5:2"));
	free(line);
	assert_non_null(strstr(out, "! fewer than 30 responses"));
	assert_non_null(strstr(out, "Overall (pooled: satisfied answers / all rated answers): 72.73% (8/11)"));
	assert_non_null(strstr(out, "Overall (mean of group shares: each group weighs the same): 73.21% over 2 groups"));
	free(out);

	out = report(f, "ca-test", REPORT_FMT_CSV, &rc);
	assert_int_equal(rc, 0);
	/* UTF-8 with a byte order mark, so that Excel reads the Vietnamese right */
	assert_memory_equal(out, "\xEF\xBB\xBFslice,section,id,text,group,type,value,label,n,respondents,"
	                         "satisfied,share_pct,ci_low_pct,ci_high_pct,mean,flag\n", 94);
	assert_non_null(strstr(out, "\ntotal,question,access,Câu 1: tiếp cận?," GA ",scale,,,4,,3,75.0000,"
	                            "30.0642,95.4413,4.2500,fewer_than_30\n"));
	assert_non_null(strstr(out, "\ntotal,value,access,," GA ",scale,5,Rất hài lòng,2,,,,,,,satisfied\n"));
	assert_non_null(strstr(out, "\ntotal,question,comment,Góp ý?,,text,,,3,,,,,,,\n"));
	/* 4 2 5 1 and 5 5 4: 26 / 7 = 3.7143 */
	assert_non_null(strstr(out, "\ntotal,group,,," GB ",,,,7,4,5,71.4286,35.8934,91.7781,3.7143,fewer_than_30\n"));
	assert_non_null(strstr(out, "\ntotal,status,completed,,,,,,4,,,66.6667,,,,\n"));
	assert_non_null(strstr(out, "\ntotal,overall,mean_of_groups,mean of group shares: each group weighs the same"
	                            ",,,,,2,,,73.2143,,,,\n"));
	free(out);
}

/* 30 respondents in the access group: no flag there; the other group keeps it. */
static void test_report_flag_threshold(void **state)
{
	struct fx *f = *state;
	static const struct archive_answer five[] = { V("access", 5) }, three[] = { V("access", 3) };
	struct archive_survey s[30];
	char ids[30][2][16], err[256];
	json_t *j, *g;
	char *out;
	int rc;

	for (int i = 0; i < 30; i++) {
		snprintf(ids[i][0], sizeof ids[i][0], "n%d", i);
		snprintf(ids[i][1], sizeof ids[i][1], "tx%d", i);
		s[i] = (struct archive_survey)SURVEY(ids[i][0], ids[i][1], "h", "completed",
		                                     i < 24 ? five : three, 1);
	}
	fill(f, s, 30);
	assert_int_equal(archive_put(f->a, s, 30, err, sizeof err), 30);
	out = report(f, "ca-test", REPORT_FMT_JSON, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(j = json_loads(out, 0, NULL));
	g = json_array_get(json_object_get(json_object_get(j, "total"), "groups"), 0);
	assert_int_equal(json_integer_value(json_object_get(g, "respondents")), 30);
	assert_false(json_is_true(json_object_get(g, "few_responses")));
	assert_float_equal(json_real_value(json_object_get(g, "share_pct")), 80.0, 1e-9);
	assert_float_equal(json_real_value(json_object_get(g, "ci_low_pct")), 62.69, 0.005);
	assert_float_equal(json_real_value(json_object_get(g, "ci_high_pct")), 90.49, 0.005);
	g = json_array_get(json_object_get(json_object_get(j, "total"), "groups"), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "respondents")), 0);
	assert_true(json_is_true(json_object_get(g, "few_responses")));
	json_decref(j);
	free(out);
}

static void test_report_unknown_campaign(void **state)
{
	struct fx *f = *state;
	char *out;
	int rc;

	put_basic(f);
	out = report(f, "no-such-campaign", REPORT_FMT_TABLE, &rc);
	assert_int_equal(rc, -ENOENT);
	assert_string_equal(out, "");
	free(out);
}

/* A campaign recorded but not yet surveyed reports zeros, not an error. */
static void test_report_empty_campaign(void **state)
{
	struct fx *f = *state;
	char *out;
	int rc;

	out = report(f, "ca-test", REPORT_FMT_TABLE, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "Surveys: 0"));
	free(out);
	out = report(f, "ca-test", REPORT_FMT_JSON, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "\"share_pct\": null"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_rejects_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliveries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_v2_rollups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_v7_rollups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_v8_recent, setup, teardown),
		cmocka_unit_test(test_iso_time),
		cmocka_unit_test_setup_teardown(test_rollup_after_failed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_v6_cancelled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_optouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_optout_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_timezone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_wordings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_table_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_flag_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_unknown_campaign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_empty_campaign, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
