/* test_audit: the hash chain (verify after edits, removals, insertions, replays, concurrent writers and a
 * crash), sealed contacts, the sample, the comparison statistics and the integrity signals. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archive.h"
#include "audit.h"
#include "campaign.h"
#include "chain.h"
#include "config.h"
#include "seal.h"

#define T0 1795250000 /* 2026-11-21T... UTC */

static const char yaml[] =
	"id: ca-t\n"
	"name: T\n"
	"channel: sms\n"
	"expire_after: 24h\n"
	"scales:\n"
	"  l5:\n"
	"    satisfied: [5, 4]\n"
	"    options:\n"
	"      - {value: 5, label: a, keys: [\"1\"]}\n"
	"      - {value: 4, label: b, keys: [\"2\"]}\n"
	"      - {value: 3, label: c, keys: [\"3\"]}\n"
	"      - {value: 2, label: d, keys: [\"4\"]}\n"
	"      - {value: 1, label: e, keys: [\"5\"]}\n"
	"questions:\n"
	"  - {id: access, type: scale, scale: l5, text: \"Q1\"}\n"
	"  - {id: staff, type: scale, scale: l5, text: \"Q2\"}\n"
	"messages: {thanks: \"ok\"}\n";

struct fx {
	char path[64];
	struct archive *a;
	struct campaign *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[1024] = "";

	assert_non_null(f);
	snprintf(f->path, sizeof f->path, "/tmp/test_audit_XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->path);
	f->a = archive_open(f->path, err, sizeof err);
	if (!f->a)
		fail_msg("archive_open: %s", err);
	if (campaign_parse("t.yaml", yaml, strlen(yaml), &f->c, err, sizeof err) != 0)
		fail_msg("campaign_parse: %s", err);
	assert_int_equal(archive_put_campaign(f->a, f->c, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[96];

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

/* Put one completed survey with answers access=v1, staff=v2. */
static int put_one(struct archive *a, const char *cver, const char *id, const char *tx, const char *agency,
                   const char *hash, int64_t t, int v1, int v2, const char *audit_of, const char *contact)
{
	struct archive_answer ans[2] = {{"access", 1, v1, NULL, t + 10}, {"staff", 1, v2, NULL, t + 20}};
	struct archive_survey s = {id, "ca-t", cver, tx, agency, NULL, hash, "sms", "completed", NULL, t, t + 30, 0,
	                           2, ans, audit_of, contact, NULL};
	char err[256] = "";
	int rc = archive_put(a, &s, 1, err, sizeof err);
	if (rc < 0)
		fail_msg("archive_put: %s", err);
	return rc;
}

static int verify(struct fx *f, const char *expect, struct chain_report *r)
{
	char err[256] = "";
	int rc = chain_verify(archive_sqlite(f->a), expect, NULL, r, err, sizeof err);
	if (rc < 0)
		fail_msg("chain_verify: %s", err);
	return rc;
}

static void exec_sql(struct fx *f, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static void put_ten(struct fx *f)
{
	char id[16], tx[16];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "s%02d", i);
		snprintf(tx, sizeof tx, "t%02d", i);
		assert_int_equal(put_one(f->a, f->c->version, id, tx, i % 2 ? "A" : "B", "h", T0 + i * 60, 5, 4, NULL, NULL), 1);
	}
}

/* ---- the chain ---- */

static void test_chain_intact_and_replay(void **state)
{
	struct fx *f = *state;
	struct chain_report r;

	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 0);
	put_ten(f);
	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 10);
	assert_int_equal(r.surveys, 10);
	int64_t seq;
	char head[CHAIN_HEX], err[128];
	assert_int_equal(chain_head(archive_sqlite(f->a), &seq, head, err, sizeof err), 0);
	assert_int_equal(seq, 10);
	assert_string_equal(head, r.head);
	/* a replay stores nothing and leaves the head where it was */
	assert_int_equal(put_one(f->a, f->c->version, "s03", "t03", "A", "h", T0, 1, 1, NULL, NULL), 0);
	assert_int_equal(put_one(f->a, f->c->version, "other", "t04", "A", "h", T0, 1, 1, NULL, NULL), 0);
	assert_int_equal(chain_head(archive_sqlite(f->a), &seq, head, err, sizeof err), 0);
	assert_int_equal(seq, 10);
	assert_string_equal(head, r.head);
	char expect[96];
	snprintf(expect, sizeof expect, "10:%s", head);
	assert_int_equal(verify(f, expect, &r), 0);
	/* the head hash is BLAKE2b-256(previous || encoding): recompute link 1 by hand */
	unsigned char *enc = NULL, zero[32] = {0}, h[32];
	size_t len = 0;
	assert_true(chain_encode(archive_sqlite(f->a), "s00", &enc, &len) > 0);
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, zero, 32);
	crypto_generichash_update(&st, enc, len);
	crypto_generichash_final(&st, h, 32);
	free(enc);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(archive_sqlite(f->a), "SELECT hash FROM chain WHERE seq = 1", -1, &s, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_memory_equal(sqlite3_column_blob(s, 0), h, 32);
	sqlite3_finalize(s);
}

/* Each deliberate edit of the file, and what verify must say first. */
static void test_chain_tamper(void **state)
{
	static const struct {
		const char *sql;
		const char *first;     /* substring of the first problem */
	} cases[] = {
		{"UPDATE answers SET value = 5 WHERE survey_id = 's04' AND question_id = 'staff'", "link 5: survey s04: changed"},
		{"UPDATE surveys SET agency = 'X' WHERE survey_id = 's02'", "link 3: survey s02: changed"},
		{"UPDATE answers SET value = 4.0001 WHERE survey_id = 's06' AND question_id = 'staff'", "link 7: survey s06: changed"},
		{"UPDATE answers SET text = 'x' WHERE survey_id = 's09' AND question_id = 'staff'", "link 10: survey s09: changed"},
		{"DELETE FROM answers WHERE survey_id = 's01' AND question_id = 'access'", "link 2: survey s01: changed"},
		{"INSERT INTO answers(survey_id, question_id, value, campaign_id) VALUES('s05', 'extra', 5, 'ca-t')",
		 "link 6: survey s05: changed"},
		{"DELETE FROM answers WHERE survey_id = 's07'; DELETE FROM surveys WHERE survey_id = 's07'",
		 "link 8: survey s07: removed"},
		{"DELETE FROM answers WHERE survey_id = 's07'; DELETE FROM surveys WHERE survey_id = 's07';"
		 " DELETE FROM chain WHERE seq = 8", "links 8..8 are missing"},
		{"INSERT INTO surveys(survey_id, campaign_id, transaction_id, status) VALUES('fake', 'ca-t', 'tf', 'completed')",
		 "survey fake: inserted"},
		{"INSERT INTO answers(survey_id, question_id, value, campaign_id) VALUES('ghost', 'access', 5, 'ca-t')",
		 "survey ghost: answers inserted"},
		{"UPDATE chain SET hash = zeroblob(32) WHERE seq = 9", "link 9: survey s08: changed"},
		{"INSERT INTO audit_links(survey_id, audit_of) VALUES('s03', 's00')", "link 4: survey s03: changed"},
	};
	struct fx *f = *state;
	struct chain_report r;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		archive_close(f->a);
		unlink(f->path);
		char p[96];
		snprintf(p, sizeof p, "%s-wal", f->path);
		unlink(p);
		snprintf(p, sizeof p, "%s-shm", f->path);
		unlink(p);
		char err[256];
		f->a = archive_open(f->path, err, sizeof err);
		assert_non_null(f->a);
		assert_int_equal(archive_put_campaign(f->a, f->c, err, sizeof err), 0);
		put_ten(f);
		assert_int_equal(verify(f, NULL, &r), 0);
		exec_sql(f, cases[i].sql);
		if (verify(f, NULL, &r) != 1)
			fail_msg("case %zu (%s): not detected", i, cases[i].sql);
		if (!strstr(r.first, cases[i].first))
			fail_msg("case %zu: first problem '%s', expected '%s'", i, r.first, cases[i].first);
	}
}

/* A chain rebuilt from scratch by someone with the file verifies on its own;
 * the head kept elsewhere catches it, and catches records cut off the end. */
static void test_chain_rewritten(void **state)
{
	struct fx *f = *state;
	struct chain_report r;
	char head[CHAIN_HEX], err[128], expect[96];
	int64_t seq;

	put_ten(f);
	assert_int_equal(chain_head(archive_sqlite(f->a), &seq, head, err, sizeof err), 0);
	snprintf(expect, sizeof expect, "%lld:%s", (long long)seq, head);
	/* cut the last two off the end, links and all */
	exec_sql(f, "DELETE FROM answers WHERE survey_id IN ('s08', 's09'); DELETE FROM surveys WHERE survey_id IN"
	            " ('s08', 's09'); DELETE FROM chain WHERE seq > 8");
	assert_int_equal(verify(f, NULL, &r), 0); /* alone it cannot tell */
	assert_int_equal(verify(f, expect, &r), 1);
	assert_non_null(strstr(r.first, "link 10: missing"));
	/* a bad --head is a usage error */
	assert_int_equal(chain_verify(archive_sqlite(f->a), "10:zz", NULL, &r, err, sizeof err), -EINVAL);
	/* a changed answer with the whole chain recomputed: only the kept head shows it */
	exec_sql(f, "UPDATE answers SET value = 1 WHERE survey_id = 's02'; DELETE FROM chain");
	archive_close(f->a);
	exec_sql(f, "PRAGMA user_version = 2");
	f->a = archive_open(f->path, err, sizeof err); /* the migration re-chains what is there */
	assert_non_null(f->a);
	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 8);
	snprintf(expect, sizeof expect, "8:%s", head); /* any kept head of that length differs */
	assert_int_equal(verify(f, expect, &r), 1);
	assert_non_null(strstr(r.first, "rewritten"));
}

/* The head hailongd logs for an empty archive, "0:000...0" (its verify=
 * hint), is a head like any other: it checks, later too; any other hash at
 * link 0 is a rewritten chain. */
static void test_chain_empty_head(void **state)
{
	struct fx *f = *state;
	struct chain_report r;
	char head[CHAIN_HEX], err[128], expect[96];
	int64_t seq;

	assert_int_equal(chain_head(archive_sqlite(f->a), &seq, head, err, sizeof err), 0);
	assert_int_equal(seq, 0);
	snprintf(expect, sizeof expect, "%lld:%s", (long long)seq, head);
	assert_int_equal(verify(f, expect, &r), 0);
	assert_int_equal(r.links, 0);
	put_ten(f);
	assert_int_equal(verify(f, expect, &r), 0);
	assert_int_equal(r.links, 10);
	expect[2] = '1';
	assert_int_equal(verify(f, expect, &r), 1);
	assert_non_null(strstr(r.first, "link 0: differs from the head kept elsewhere"));
	assert_int_equal(chain_verify(archive_sqlite(f->a), "-1:00", NULL, &r, err, sizeof err), -EINVAL);
}

/* The office's commands open the archive for reading only: the chain
 * verifies through that connection, nothing can be written through it, and
 * an older schema is left to archive_open (which upgrades it). */
static void test_open_readonly(void **state)
{
	struct fx *f = *state;
	struct chain_report r;
	char err[256] = "";
	int older = -1;

	put_ten(f);
	struct archive *ro = archive_open_readonly(f->path, &older, err, sizeof err);
	if (!ro)
		fail_msg("archive_open_readonly: %s", err);
	assert_int_equal(older, 0);
	assert_int_equal(chain_verify(archive_sqlite(ro), NULL, NULL, &r, err, sizeof err), 0);
	assert_int_equal(r.links, 10);
	assert_int_not_equal(sqlite3_exec(archive_sqlite(ro), "DELETE FROM answers", NULL, NULL, NULL), SQLITE_OK);
	archive_close(ro);
	exec_sql(f, "PRAGMA user_version = 3");
	assert_null(archive_open_readonly(f->path, &older, err, sizeof err));
	assert_int_equal(older, 1);
	assert_non_null(strstr(err, "older"));
}

/* A database of schema 2 with surveys gets them chained when opened. */
static void test_chain_migration(void **state)
{
	struct fx *f = *state;
	struct chain_report r;
	char err[256];

	put_ten(f);
	archive_close(f->a);
	exec_sql(f, "DROP TABLE chain; DROP TABLE audit_links; DROP TABLE contacts; PRAGMA user_version = 2");
	f->a = archive_open(f->path, err, sizeof err);
	assert_non_null(f->a);
	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 10);
	put_one(f->a, f->c->version, "new", "tn", "A", "h", T0 + 9999, 3, 3, NULL, NULL);
	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 11);
}

/* Two processes writing one file at once: the chain stays one line. */
static void test_chain_concurrent_writers(void **state)
{
	struct fx *f = *state;
	struct chain_report r;
	pid_t kids[2];

	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			char err[256];
			struct archive *a = archive_open(f->path, err, sizeof err);
			if (!a)
				_exit(3);
			for (int b = 0; b < 40; b++) {
				struct archive_answer ans[1] = {{"access", 1, 4, NULL, T0}};
				struct archive_survey s[5];
				char ids[5][32], txs[5][32];
				for (int i = 0; i < 5; i++) {
					snprintf(ids[i], sizeof ids[i], "w%d-%d-%d", k, b, i);
					/* both writers also replay the same shared survey id */
					if (i == 4)
						snprintf(ids[i], sizeof ids[i], "shared-%d", b);
					snprintf(txs[i], sizeof txs[i], "tx-%s", ids[i]);
					s[i] = (struct archive_survey){ids[i], "ca-t", f->c->version, txs[i], k ? "A" : "B", NULL, "h",
					                               "sms", "completed", NULL, T0, T0 + 5, 0, 1, ans, NULL, NULL, NULL};
				}
				if (archive_put(a, s, 5, err, sizeof err) < 0)
					_exit(4);
			}
			archive_close(a);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 2 * 40 * 4 + 40);
	assert_int_equal(r.surveys, r.links);
}

/* A writer killed at any moment (between or inside batches) leaves a valid chain. */
static void test_chain_crash(void **state)
{
	struct fx *f = *state;
	struct chain_report r = {0};

	for (int round = 0; round < 3; round++) {
		pid_t kid = fork();
		assert_true(kid >= 0);
		if (kid == 0) {
			char err[256];
			struct archive *a = archive_open(f->path, err, sizeof err);
			if (!a)
				_exit(3);
			for (int b = 0; b < 100000; b++) {
				struct archive_answer ans[1] = {{"access", 1, 4, NULL, T0}};
				struct archive_survey s[20];
				char ids[20][32];
				for (int i = 0; i < 20; i++) {
					snprintf(ids[i], sizeof ids[i], "c%d-%d-%d", round, b, i);
					s[i] = (struct archive_survey){ids[i], "ca-t", f->c->version, ids[i], "A", NULL, "h", "sms",
					                               "completed", NULL, T0, T0 + 5, 0, 1, ans, NULL, NULL, NULL};
				}
				archive_put(a, s, 20, err, sizeof err);
			}
			_exit(0);
		}
		/* wait until it has written something more (bounded), then kill it
		 * a few ms later, wherever it is */
		int64_t before = r.links;
		for (int w = 0; w < 500; w++) {
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
			sqlite3 *db;
			sqlite3_stmt *q;
			int64_t n = 0;
			if (sqlite3_open(f->path, &db) == SQLITE_OK &&
			    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM chain", -1, &q, NULL) == SQLITE_OK) {
				if (sqlite3_step(q) == SQLITE_ROW)
					n = sqlite3_column_int64(q, 0);
				sqlite3_finalize(q);
			}
			sqlite3_close(db);
			if (n > before)
				break;
		}
		struct timespec ts = {0, (3 + 7 * round) * 1000000L};
		nanosleep(&ts, NULL);
		kill(kid, SIGKILL);
		int status;
		waitpid(kid, &status, 0);
		assert_int_equal(verify(f, NULL, &r), 0);
		assert_int_equal(r.links % 20, 0); /* whole batches only */
		assert_int_equal(r.surveys, r.links);
	}
	assert_true(r.links > 0);
}

/* ---- sealed contacts ---- */

static void test_seal(void **state)
{
	struct fx *f = *state;
	char key[80], key2[80], pk_b64[SEAL_B64_KEY], pk2_b64[SEAL_B64_KEY], err[256];
	unsigned char pk[32], sk[32], pk2[32], sk2[32];
	struct stat st;

	snprintf(key, sizeof key, "%s.key", f->path);
	snprintf(key2, sizeof key2, "%s.key2", f->path);
	unlink(key);
	unlink(key2);
	assert_int_equal(seal_keygen(key, pk_b64, err, sizeof err), 0);
	assert_int_equal(seal_keygen(key, pk_b64, err, sizeof err), -EEXIST); /* never overwritten */
	assert_int_equal(seal_keygen(key2, pk2_b64, err, sizeof err), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(seal_load_secret(key, pk, sk, err, sizeof err), 0);
	assert_int_equal(seal_load_secret(key2, pk2, sk2, err, sizeof err), 0);
	unsigned char pkp[32];
	assert_int_equal(seal_parse_public(pk_b64, pkp), 0);
	assert_memory_equal(pk, pkp, 32);
	assert_int_equal(seal_parse_public("AAAA", pkp), -EINVAL);

	/* the archive holds the sealed numbers and no readable digits of them */
	const char *numbers[] = {"84912345678", "84987654321", "84911122233"};
	for (int i = 0; i < 3; i++) {
		char *c = seal_contact(pk, numbers[i]);
		char id[8], tx[8];
		assert_non_null(c);
		snprintf(id, sizeof id, "c%d", i);
		snprintf(tx, sizeof tx, "x%d", i);
		put_one(f->a, f->c->version, id, tx, "A", "h", T0, 4, 4, NULL, c);
		free(c);
	}
	archive_close(f->a);
	f->a = NULL;
	char cmd[256];
	for (int i = 0; i < 3; i++) {
		/* every file SQLite wrote: the database, its WAL */
		snprintf(cmd, sizeof cmd, "cat %s %s-wal 2>/dev/null | grep -a -c -e %s -e %.9s", f->path, f->path, numbers[i],
		         numbers[i] + 2);
		FILE *p = popen(cmd, "r");
		int n = -1;
		assert_non_null(p);
		assert_int_equal(fscanf(p, "%d", &n), 1);
		pclose(p);
		assert_int_equal(n, 0);
	}
	f->a = archive_open(f->path, err, sizeof err);
	assert_non_null(f->a);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(archive_sqlite(f->a), "SELECT sealed FROM contacts ORDER BY survey_id", -1, &s,
	                                    NULL), SQLITE_OK);
	for (int i = 0; i < 3; i++) {
		char out[64];
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		const char *b64 = (const char *)sqlite3_column_text(s, 0);
		assert_int_equal(seal_open(pk, sk, b64, out, sizeof out), 0);
		assert_string_equal(out, numbers[i]);
		/* the other key does not open it */
		assert_int_equal(seal_open(pk2, sk2, b64, out, sizeof out), -EACCES);
		/* nor does a changed box */
		char bad[200];
		snprintf(bad, sizeof bad, "%s", b64);
		bad[10] = bad[10] == 'A' ? 'B' : 'A';
		assert_int_equal(seal_open(pk, sk, bad, out, sizeof out), -EACCES);
	}
	sqlite3_finalize(s);
	assert_int_equal(seal_open(pk, sk, "not base64!", (char[64]){0}, 64), -EINVAL);
	/* the box's digest is on the chain: a box swapped for another is named */
	struct chain_report r;
	assert_int_equal(verify(f, NULL, &r), 0);
	exec_sql(f, "UPDATE contacts SET sealed = (SELECT sealed FROM contacts WHERE survey_id = 'c1') WHERE survey_id = 'c0'");
	assert_int_equal(verify(f, NULL, &r), 1);
	assert_non_null(strstr(r.first, "survey c0: sealed contact changed"));
	{ /* and the sample will not hand it out */
		struct audit_sample_opts so = {"ca-t", "2026-11-20", "2026-11-22", "agency", "s", 10, 5, AUDIT_FMT_CSV};
		char *sb = NULL;
		size_t sl = 0;
		FILE *so_out = open_memstream(&sb, &sl);
		assert_int_equal(audit_sample(f->a, &so, so_out, NULL, err, sizeof err), -EBADMSG);
		fclose(so_out);
		free(sb);
		assert_non_null(strstr(err, "survey c0"));
	}
	/* so is a contact forged for a survey archived without one */
	put_one(f->a, f->c->version, "nc", "xnc", "A", "h", T0, 4, 4, NULL, NULL);
	exec_sql(f, "INSERT INTO contacts(survey_id, sealed, digest, stored_at) SELECT 'nc', sealed, digest, stored_at"
	            " FROM contacts WHERE survey_id = 'c2'");
	assert_int_equal(verify(f, NULL, &r), 1);
	assert_non_null(strstr(r.first, "survey nc: changed"));
	exec_sql(f, "DELETE FROM contacts WHERE survey_id = 'nc'");
	/* the purge drops the boxes and keeps their digests: the chain stays intact */
	assert_int_equal(chain_purge_contacts(archive_sqlite(f->a), T0, err, sizeof err), 0);
	assert_int_equal(chain_purge_contacts(archive_sqlite(f->a), (int64_t)time(NULL) + 10, err, sizeof err), 3);
	assert_int_equal(chain_purge_contacts(archive_sqlite(f->a), (int64_t)time(NULL) + 10, err, sizeof err), 0);
	assert_int_equal(verify(f, NULL, &r), 0);
	assert_int_equal(r.links, 4);
	/* a secret key file readable by others is refused */
	chmod(key, 0644);
	assert_int_equal(seal_load_secret(key, pk, sk, err, sizeof err), -EPERM);
	assert_non_null(strstr(err, "too open"));
	unlink(key);
	unlink(key2);
}

static void test_config_audit(void **state)
{
	(void)state;
	static const struct {
		const char *audit;
		int ok;
		const char *msg;
	} cases[] = {
		{"audit:\n  public_key: 9w9+Zy6hZUlfo6YpeqfAbVq6b3I4fvcOfNvhYoNvT3Q=\n  keep_contact_days: 90\n", 1, NULL},
		{"audit:\n  public_key: 9w9+Zy6hZUlfo6YpeqfAbVq6b3I4fvcOfNvhYoNvT3Q\n", 0, "cfg.yaml:8: audit: public_key"},
		{"audit:\n  public_key: abc\n", 0, "cfg.yaml:8: audit: public_key"},
		{"audit:\n  keep_contact_days: 0\n", 0, "cfg.yaml:8: audit: keep_contact_days"},
		{"audit:\n  secret_key: x\n", 0, "secret_key"},
		{"", 1, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char y[512], err[1024] = "";
		struct config *c = NULL;
		snprintf(y, sizeof y, "smpp:\n  - name: main\n    host: 127.0.0.1\n    port: 2775\n"
		                      "    system_id: hailong\n    source_addr: \"8088\"\n%s", cases[i].audit);
		int rc = config_parse("cfg.yaml", y, strlen(y), &c, err, sizeof err);
		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err);
			assert_int_equal(c->audit_has_key, i == 0);
			assert_int_equal(c->audit_keep_contact_days, i == 0 ? 90 : 180);
			config_free(c);
		} else {
			assert_true(rc < 0);
			if (!strstr(err, cases[i].msg))
				fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
		}
	}
}

/* ---- sampling ---- */

static char *run_sample(struct fx *f, struct audit_sample_opts *o, int *rc)
{
	char *buf = NULL, err[256] = "";
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	*rc = audit_sample(f->a, o, out, NULL, err, sizeof err);
	fclose(out);
	return buf;
}

/* The summary on the terminal: units' counts in one column whatever bytes
 * their names take ("Công an tỉnh" was pushed left by its accents). */
static void test_sample_info_columns(void **state)
{
	struct fx *f = *state;
	char id[16], tx[16];
	const char *const units[] = {"Công an tỉnh Vĩnh Phúc", "ca-vinhphuc"};
	for (int k = 0; k < 4; k++) {
		snprintf(id, sizeof id, "ic%03d", k);
		snprintf(tx, sizeof tx, "tc%03d", k);
		put_one(f->a, f->c->version, id, tx, units[k % 2], "h", T0 + k, 5, 4, NULL, NULL);
	}
	struct audit_sample_opts o = {"ca-t", "2026-11-20", "2026-11-22", "agency", "s", 2, 1, AUDIT_FMT_CSV};
	char *buf = NULL, *ibuf = NULL, err[256] = "";
	size_t len = 0, ilen = 0;
	FILE *out = open_memstream(&buf, &len), *info = open_memstream(&ibuf, &ilen);
	assert_int_equal(audit_sample(f->a, &o, out, info, err, sizeof err), 2);
	fclose(out);
	fclose(info);
	const char *a = strstr(ibuf, "Công an"), *b = strstr(ibuf, "ca-vinhphuc");
	assert_non_null(a);
	assert_non_null(b);
	/* characters from the line's start to "completed" */
	int col[2];
	for (int i = 0; i < 2; i++) {
		const char *l = i ? b : a, *c = strstr(l, "completed");
		assert_non_null(c);
		col[i] = 0;
		for (const char *p = l; p < c; p++)
			col[i] += ((unsigned char)*p & 0xC0) != 0x80;
	}
	assert_int_equal(col[0], col[1]);
	free(buf);
	free(ibuf);
}

static void test_sample(void **state)
{
	struct fx *f = *state;
	char id[16], tx[16];
	/* unit A: 100 completed, B: 20, C: 2; all on 2026-11-21 UTC */
	const struct { const char *unit; int n; } units[] = {{"A", 100}, {"B", 20}, {"C", 2}};
	int k = 0;
	for (size_t u = 0; u < 3; u++)
		for (int i = 0; i < units[u].n; i++, k++) {
			snprintf(id, sizeof id, "id%03d", k);
			snprintf(tx, sizeof tx, "tx%03d", k);
			put_one(f->a, f->c->version, id, tx, units[u].unit, "h", T0 + k, 5, 4, NULL, NULL);
		}
	struct audit_sample_opts o = {"ca-t", "2026-11-20", "2026-11-22", "agency", "draw-2026", 30, 5, AUDIT_FMT_JSON};
	int rc;
	char *j1 = run_sample(f, &o, &rc);
	assert_int_equal(rc, 30);
	char *j2 = run_sample(f, &o, &rc);
	assert_string_equal(j1, j2); /* the same seed draws the same sample */
	json_t *doc = json_loads(j1, 0, NULL);
	assert_non_null(doc);
	json_t *u = json_object_get(doc, "units");
	/* C gets its 2; A and B get 5 each, then the other 18 in proportion to
	 * 95 and 15 left: 15.545 + 2.454 -> 15 + 2, the last seat to A (0.545) */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(u, 0), "drawn")), 21);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(u, 1), "drawn")), 7);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(u, 2), "drawn")), 2);
	/* A's drawn rows are its 21 smallest ranks */
	json_t *rows = json_object_get(doc, "sample");
	assert_int_equal(json_array_size(rows), 30);
	const char *last = json_string_value(json_object_get(json_array_get(rows, 20), "rank"));
	int below = 0;
	for (int i = 0; i < 100; i++) {
		char hex[65];
		snprintf(id, sizeof id, "id%03d", i);
		audit_rank("draw-2026", id, hex);
		below += strcmp(hex, last) <= 0;
	}
	assert_int_equal(below, 21);
	/* the rank is what b2sum -l 256 gives for the documented text */
	FILE *p = popen("printf 'hailong-sample-v1\\ndraw-2026\\nid007' | b2sum -l 256", "r");
	char line[128] = "", hex[65];
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof line, p));
	pclose(p);
	audit_rank("draw-2026", "id007", hex);
	assert_memory_equal(line, hex, 64);
	json_decref(doc);
	free(j2);
	/* another seed, another sample */
	o.seed = "draw-2027";
	j2 = run_sample(f, &o, &rc);
	assert_string_not_equal(j1, j2);
	free(j1);
	free(j2);
	/* CSV: header + 30 rows; the answers column */
	o.fmt = AUDIT_FMT_CSV;
	j1 = run_sample(f, &o, &rc);
	int lines = 0;
	for (char *c = j1; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 31);
	assert_non_null(strstr(j1, "access=5;staff=4"));
	free(j1);
	/* a period with nothing, bad dates */
	o.from = "2027-01-01";
	o.to = "2027-01-31";
	free(run_sample(f, &o, &rc));
	assert_int_equal(rc, -ENOENT);
	o.from = "2026-13";
	free(run_sample(f, &o, &rc));
	assert_int_equal(rc, -EINVAL);
}

/* ---- comparison statistics ---- */

static void test_stats(void **state)
{
	(void)state;
	/* sign test: 9 of 10 positive: P(X >= 9) = 11/1024 */
	assert_true(fabs(audit_sign_p(9, 1) - 11.0 / 1024) < 1e-12);
	assert_true(fabs(audit_sign_p(0, 0) - 1.0) < 1e-12);
	assert_true(fabs(audit_sign_p(5, 5) - 638.0 / 1024) < 1e-12);
	/* kappa: the textbook 2x2 (20 5 / 10 15): po 0.7, pe 0.5, kappa 0.4 */
	int64_t t[4] = {20, 5, 10, 15};
	assert_true(fabs(audit_kappa(t, 2) - 0.4) < 1e-12);
	int64_t perfect[4] = {7, 0, 0, 3};
	assert_true(fabs(audit_kappa(perfect, 2) - 1.0) < 1e-12);
	int64_t one[1] = {5};
	assert_true(isnan(audit_kappa(one, 1)));
}

static void test_compare(void **state)
{
	struct fx *f = *state;
	char err[256], id[16], tx[16], of[16];
	/* the audit campaign: "surveyed" yes/no, then the same two questions */
	static const char ay[] =
		"id: ca-audit\nname: Audit\nchannel: sms\nexpire_after: 24h\n"
		"scales:\n  l5:\n    satisfied: [5, 4]\n    options:\n"
		"      - {value: 5, label: a, keys: [\"1\"]}\n      - {value: 4, label: b, keys: [\"2\"]}\n"
		"      - {value: 3, label: c, keys: [\"3\"]}\n      - {value: 2, label: d, keys: [\"4\"]}\n"
		"      - {value: 1, label: e, keys: [\"5\"]}\n"
		"questions:\n  - {id: surveyed, type: yesno, text: \"Q0\"}\n"
		"  - {id: access, type: scale, scale: l5, text: \"Q1\"}\n  - {id: staff, type: scale, scale: l5, text: \"Q2\"}\n"
		"messages: {thanks: \"ok\"}\n";
	struct campaign *ac = NULL;
	assert_int_equal(campaign_parse("a.yaml", ay, strlen(ay), &ac, err, sizeof err), 0);
	assert_int_equal(archive_put_campaign(f->a, ac, err, sizeof err), 0);
	/* unit HONEST: 10 originals, audits agree. unit PADDED: 10 originals
	 * all 5/5, audits say 2/2 on 9 of them and 5/5 on one; plus 2 never
	 * surveyed and 1 not reached */
	for (int i = 0; i < 23; i++) {
		const char *unit = i < 10 ? "HONEST" : "PADDED";
		snprintf(id, sizeof id, "o%02d", i);
		snprintf(tx, sizeof tx, "to%02d", i);
		int ov = i < 10 ? 3 + i % 3 : 5;
		put_one(f->a, f->c->version, id, tx, unit, "h", T0 + i, ov, ov, NULL, NULL);
		snprintf(of, sizeof of, "o%02d", i);
		snprintf(id, sizeof id, "a%02d", i);
		snprintf(tx, sizeof tx, "ta%02d", i);
		struct archive_answer ans[3] = {{"surveyed", 1, 1, NULL, T0}, {"access", 1, 0, NULL, T0}, {"staff", 1, 0, NULL, T0}};
		int nans = 3;
		const char *status = "completed";
		if (i < 10) {
			ans[1].value = ans[2].value = ov;
		} else if (i < 19) {
			ans[1].value = ans[2].value = 2;
		} else if (i == 19) {
			ans[1].value = ans[2].value = 5;
		} else if (i < 22) {
			ans[0].value = 2; /* "no, I was never surveyed" */
			nans = 1;
		} else {
			nans = 0;
			status = "expired";
		}
		struct archive_survey s = {id, "ca-audit", ac->version, tx, unit, NULL, "h", "sms", status, NULL, T0, T0 + 9, 0,
		                           nans, nans ? ans : NULL, of, NULL, NULL};
		assert_int_equal(archive_put(f->a, &s, 1, err, sizeof err), 1);
	}
	struct audit_compare_opts o = {"ca-t", "ca-audit", "surveyed", "agency", 0.05, AUDIT_FMT_JSON};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_int_equal(audit_compare(f->a, &o, out, err, sizeof err), 0);
	fclose(out);
	json_t *doc = json_loads(buf, 0, NULL);
	assert_non_null(doc);
	json_t *units = json_object_get(doc, "units");
	json_t *h = json_array_get(units, 0), *p = json_array_get(units, 1);
	assert_string_equal(json_string_value(json_object_get(h, "unit")), "HONEST");
	assert_int_equal(json_integer_value(json_object_get(h, "reached")), 10);
	assert_true(fabs(json_real_value(json_object_get(h, "agreement_pct")) - 100.0) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(h, "kappa")) - 1.0) < 1e-9);
	assert_false(json_is_true(json_object_get(h, "more_positive")));
	assert_string_equal(json_string_value(json_object_get(p, "unit")), "PADDED");
	assert_int_equal(json_integer_value(json_object_get(p, "audits")), 13);
	assert_int_equal(json_integer_value(json_object_get(p, "reached")), 10);
	assert_int_equal(json_integer_value(json_object_get(p, "never_surveyed")), 2);
	assert_int_equal(json_integer_value(json_object_get(p, "not_reached")), 1);
	assert_int_equal(json_integer_value(json_object_get(p, "original_higher")), 9);
	assert_int_equal(json_integer_value(json_object_get(p, "ties")), 1);
	/* 9 of 9 untied: p = 1/512 */
	assert_true(fabs(json_real_value(json_object_get(p, "p_value")) - 1.0 / 512) < 1e-12);
	assert_true(json_is_true(json_object_get(p, "more_positive")));
	/* per unit and question: PADDED's access agrees once in 10 (the 5/5 audit) */
	json_t *pq = json_array_get(json_object_get(p, "questions"), 0);
	assert_string_equal(json_string_value(json_object_get(pq, "question")), "access");
	assert_int_equal(json_integer_value(json_object_get(pq, "pairs")), 10);
	assert_int_equal(json_integer_value(json_object_get(pq, "agree")), 1);
	json_t *q = json_array_get(json_object_get(doc, "questions"), 0);
	assert_string_equal(json_string_value(json_object_get(q, "question")), "access");
	assert_int_equal(json_integer_value(json_object_get(q, "pairs")), 20);
	assert_int_equal(json_integer_value(json_object_get(q, "agree")), 11);
	json_decref(doc);
	free(buf);
	/* table and CSV name the flagged unit */
	o.fmt = AUDIT_FMT_TABLE;
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_compare(f->a, &o, out, err, sizeof err), 0);
	fclose(out);
	assert_non_null(strstr(buf, "PADDED"));
	assert_non_null(strstr(buf, "more positive than the audit"));
	free(buf);
	o.fmt = AUDIT_FMT_CSV;
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_compare(f->a, &o, out, err, sizeof err), 0);
	fclose(out);
	assert_non_null(strstr(buf, "\nunit,PADDED,,13,10,1,2,20,2,10.0,"));
	assert_non_null(strstr(buf, "more_positive\n"));
	assert_non_null(strstr(buf, "\nunit_question,PADDED,access,,,,,10,1,10.0,"));
	free(buf);
	o.fmt = AUDIT_FMT_HTML;
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_compare(f->a, &o, out, err, sizeof err), 0);
	fclose(out);
	assert_non_null(strstr(buf, "<tr class=\"flag\"><td>PADDED</td>"));
	assert_non_null(strstr(buf, "</html>"));
	free(buf);
	o.audit_campaign = "nothing";
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_compare(f->a, &o, out, err, sizeof err), -ENOENT);
	fclose(out);
	free(buf);
	campaign_free(ac);
}

/* ---- integrity signals ---- */

static void test_integrity(void **state)
{
	struct fx *f = *state;
	char err[256], id[16], tx[16], hash[16];
	/* a staff phone: hash "staff" for 8 transactions at 2 agencies in 2 days;
	 * citizens: one survey each, answered at a human pace (60 s per item) */
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof id, "st%d", i);
		snprintf(tx, sizeof tx, "tst%d", i);
		put_one(f->a, f->c->version, id, tx, i < 6 ? "FAST" : "SLOW", "staff", T0 + i * 3600 * 6, 5, 5, NULL, NULL);
	}
	for (int i = 0; i < 20; i++) {
		struct archive_answer ans[2] = {{"access", 1, 4, NULL, T0 + 100}, {"staff", 1, 4, NULL, T0 + 160}};
		const char *unit = i < 10 ? "FAST" : "SLOW";
		if (i < 6) /* FAST answers in 1 s */
			ans[1].answered_at = T0 + 101;
		snprintf(id, sizeof id, "c%02d", i);
		snprintf(tx, sizeof tx, "tc%02d", i);
		snprintf(hash, sizeof hash, "h%02d", i);
		struct archive_survey s = {id, "ca-t", f->c->version, tx, unit, NULL, hash, "sms", "completed", NULL, T0, T0 + 200,
		                           0, 2, ans, NULL, NULL, NULL};
		assert_int_equal(archive_put(f->a, &s, 1, err, sizeof err), 1);
	}
	char tpath[80];
	snprintf(tpath, sizeof tpath, "%s.tx.csv", f->path);
	FILE *t = fopen(tpath, "w");
	/* FAST: 16 triggers for 20 transactions; SLOW: 12 for 100 (12% against a median of 46%);
	 * OTHER counted no transaction, so it has no coverage */
	fputs("unit,transactions\nFAST,20\nSLOW,100\nOTHER,0\n", t);
	fclose(t);
	/* a number at three agencies in two hours: few transactions, but three offices */
	const char *roam[] = {"X1", "X2", "X3"};
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof id, "ro%d", i);
		snprintf(tx, sizeof tx, "tro%d", i);
		put_one(f->a, f->c->version, id, tx, roam[i], "roam", T0 + i * 3600, 4, 4, NULL, NULL);
	}
	struct audit_integrity_opts o = {.campaign = "ca-t", .by = "agency", .window_s = 7 * 86400,
	                                 .max_per_number = 5, .max_agencies = 3, .min_item_s = 3.0, .fast_min = 3,
	                                 .fast_share = 0.10, .transactions = tpath, .coverage_ratio = 0.5,
	                                 .stray_window_s = 3600, .stray_min = 3, .fmt = AUDIT_FMT_JSON};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int n = audit_integrity(f->a, &o, out, err, sizeof err);
	fclose(out);
	if (n < 0)
		fail_msg("integrity: %s", err);
	json_t *doc = json_loads(buf, 0, NULL);
	json_t *fl = json_object_get(doc, "flags");
	int shared = 0, fast = 0, low = 0;
	for (size_t i = 0; i < json_array_size(fl); i++) {
		json_t *x = json_array_get(fl, i);
		const char *sig = json_string_value(json_object_get(x, "signal"));
		const char *unit = json_string_value(json_object_get(x, "unit"));
		const char *detail = json_string_value(json_object_get(x, "detail"));
		if (strcmp(sig, "shared_number") == 0 && strstr(unit, "staff")) {
			shared++;
			assert_int_equal((int)json_real_value(json_object_get(x, "observed")), 8);
			assert_true(fabs(json_real_value(json_object_get(x, "strength")) - 8.0 / 5) < 1e-9);
			assert_non_null(strstr(detail, "2 agencies: FAST SLOW"));
		} else if (strcmp(sig, "shared_number") == 0) {
			shared++;
			assert_non_null(strstr(unit, "roam"));
			assert_int_equal((int)json_real_value(json_object_get(x, "observed")), 3); /* agencies */
			assert_non_null(strstr(detail, "3 transactions within 2 h at 3 agencies: X1 X2 X3"));
		} else if (strcmp(sig, "fast_answers") == 0) {
			fast++;
			assert_string_equal(unit, "FAST"); /* 6 of its 16 (the staff phone's took 10 s per item) */
		} else if (strcmp(sig, "low_coverage") == 0) {
			low++;
			assert_string_equal(unit, "SLOW");
		}
	}
	assert_int_equal(shared, 2);
	assert_int_equal(fast, 1);
	assert_int_equal(low, 1);
	assert_int_equal(n, 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "stray_replies"), "total")), 0);
	json_decref(doc);
	free(buf);
	/* stricter thresholds flag nothing shared */
	o.max_per_number = 9;
	o.max_agencies = 4;
	o.transactions = NULL;
	o.fmt = AUDIT_FMT_TABLE;
	out = open_memstream(&buf, &len);
	n = audit_integrity(f->a, &o, out, err, sizeof err);
	fclose(out);
	assert_int_equal(n, 1);
	assert_non_null(strstr(buf, "low_coverage: not measured"));
	free(buf);
	unlink(tpath);
}


/* Replies from numbers with no survey: four arrive five minutes after one of
 * PROXY's surveys went to another number (someone answering for the
 * citizens from one phone); a citizen surveyed before writing late, a reply
 * near no survey, and one after CLEAN's survey are not enough to flag. */
static void test_integrity_stray(void **state)
{
	struct fx *f = *state;
	char err[256], id[16], tx[16], hash[16];
	struct archive_stray st[7];
	int nst = 0;

	for (int k = 0; k < 4; k++) {
		snprintf(id, sizeof id, "px%d", k);
		snprintf(tx, sizeof tx, "tpx%d", k);
		snprintf(hash, sizeof hash, "p%d", k);
		put_one(f->a, f->c->version, id, tx, "PROXY", hash, T0 + k * 7200, 5, 5, NULL, NULL);
		st[nst++] = (struct archive_stray){"staffphone", T0 + k * 7200 + 300};
	}
	for (int k = 0; k < 3; k++) {
		snprintf(id, sizeof id, "cl%d", k);
		snprintf(tx, sizeof tx, "tcl%d", k);
		snprintf(hash, sizeof hash, "c%d", k);
		put_one(f->a, f->c->version, id, tx, "CLEAN", hash, T0 + 100000 + k * 7200, 4, 4, NULL, NULL);
	}
	st[nst++] = (struct archive_stray){"c0", T0 + 100000 + 600};          /* surveyed before: late */
	st[nst++] = (struct archive_stray){"other", T0 + 100000 + 7200 + 60}; /* after CLEAN's survey */
	st[nst++] = (struct archive_stray){"lost", T0 + 400000};              /* near no survey */
	assert_int_equal(archive_put_strays(f->a, st, nst, err, sizeof err), 7);
	assert_int_equal(archive_put_strays(f->a, st, nst, err, sizeof err), 0); /* a replay stores nothing */
	struct archive_stray bad = {"", T0};
	assert_int_equal(archive_put_strays(f->a, &bad, 1, err, sizeof err), -EINVAL);

	struct audit_integrity_opts o = {.campaign = "ca-t", .by = "agency", .window_s = 7 * 86400,
	                                 .max_per_number = 5, .max_agencies = 3, .min_item_s = 3.0, .fast_min = 3,
	                                 .fast_share = 0.10, .coverage_ratio = 0.5, .stray_window_s = 3600,
	                                 .stray_min = 3, .fmt = AUDIT_FMT_JSON};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int n = audit_integrity(f->a, &o, out, err, sizeof err);
	fclose(out);
	if (n < 0)
		fail_msg("integrity: %s", err);
	json_t *doc = json_loads(buf, 0, NULL), *sum = json_object_get(doc, "stray_replies");
	assert_int_equal(n, 1);
	json_t *x = json_array_get(json_object_get(doc, "flags"), 0);
	assert_string_equal(json_string_value(json_object_get(x, "signal")), "other_number");
	assert_string_equal(json_string_value(json_object_get(x, "unit")), "PROXY");
	assert_int_equal((int)json_real_value(json_object_get(x, "observed")), 4);
	assert_true(fabs(json_real_value(json_object_get(x, "strength")) - 4.0 / 3) < 1e-9);
	assert_non_null(strstr(json_string_value(json_object_get(x, "detail")), "(100.0 per 100 of its 4 surveys"));
	assert_int_equal(json_integer_value(json_object_get(sum, "total")), 7);
	assert_int_equal(json_integer_value(json_object_get(sum, "attributed")), 5);
	assert_int_equal(json_integer_value(json_object_get(sum, "late_citizen")), 1);
	assert_int_equal(json_integer_value(json_object_get(sum, "unattributed")), 1);
	json_decref(doc);
	free(buf);
	/* a window shorter than the five minutes: nothing attributed */
	o.stray_window_s = 240;
	o.fmt = AUDIT_FMT_TABLE;
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_integrity(f->a, &o, out, err, sizeof err), 0);
	fclose(out);
	assert_non_null(strstr(buf, "stray replies (from numbers with no survey running): 7, 1 attributed"));
	free(buf);
	/* the archive still holds no number: hashes only */
	o.stray_window_s = 3600;
	o.by = "procedure";
	o.fmt = AUDIT_FMT_CSV;
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_integrity(f->a, &o, out, err, sizeof err), 1); /* procedure '' of both units */
	fclose(out);
	assert_non_null(strstr(buf, "stray_replies,,7,"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_intact_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_empty_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal, setup, teardown),
		cmocka_unit_test(test_config_audit),
		cmocka_unit_test_setup_teardown(test_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_info_columns, setup, teardown),
		cmocka_unit_test(test_stats),
		cmocka_unit_test_setup_teardown(test_integrity_stray, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
