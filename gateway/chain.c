/* chain: what archive_put adds for the inspecting office (docs/audit.md): the
 * hash chain that makes the archive tamper-evident, the audit links
 * (audit_of) and the sealed contacts. It runs its statements on the
 * archive's connection, inside archive_put's transaction. */
#include "chain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

/* The version tag that opens every canonical encoding. */
static const char chain_tag[] = "hailong-chain-1\n";

static const char chain_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS chain ("
	" seq INTEGER PRIMARY KEY,"           /* 1, 2, 3 ... in the order surveys were archived */
	" survey_id TEXT NOT NULL UNIQUE,"
	" hash BLOB NOT NULL,"                /* BLAKE2b-256(previous hash || canonical record) */
	" chained_at TEXT NOT NULL"
	");"
	"CREATE TABLE IF NOT EXISTS audit_links ("
	" survey_id TEXT NOT NULL PRIMARY KEY," /* the audit (re-survey) */
	" audit_of TEXT NOT NULL"             /* the survey it checks */
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS audit_links_of ON audit_links(audit_of);"
	"CREATE TABLE IF NOT EXISTS contacts ("
	" survey_id TEXT NOT NULL PRIMARY KEY,"
	" sealed TEXT,"                       /* base64 crypto_box_seal(number, audit public key); NULL once purged */
	" digest BLOB NOT NULL,"              /* BLAKE2b-256 of sealed, kept after the purge: on the chain */
	" stored_at TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS contacts_stored ON contacts(stored_at);";

static void chain_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void chain_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void chain_iso(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* Statements prepared once per connection (chain_new) and reset after use. */
enum chain_stmt { CS_SURVEY, CS_ANSWERS, CS_LAST, CS_INSERT, CS_LINK, CS_CONTACT, CS_MAX };

struct chain {
	sqlite3 *db;                  /* borrowed: the archive's connection */
	sqlite3_stmt *st[CS_MAX];     /* owned, lazily prepared */
	int head_ok;                  /* head_seq and head hold the last link of this transaction */
	int64_t head_seq;
	unsigned char head[CHAIN_HASH_BYTES];
};

static const char *const chain_stmt_sql[CS_MAX];

struct chain *chain_new(struct sqlite3 *db)
{
	struct chain *c = calloc(1, sizeof *c);

	if (c)
		c->db = db;
	return c;
}

void chain_free(struct chain *c)
{
	if (!c)
		return;
	for (int i = 0; i < CS_MAX; i++)
		sqlite3_finalize(c->st[i]);
	free(c);
}

static sqlite3_stmt *chain_stmt(struct chain *c, enum chain_stmt id)
{
	if (!c->st[id] && sqlite3_prepare_v3(c->db, chain_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
	                                     NULL) != SQLITE_OK)
		return NULL;
	sqlite3_reset(c->st[id]);
	sqlite3_clear_bindings(c->st[id]);
	return c->st[id];
}

/* ---- the canonical encoding -------------------------------------------- */

struct chain_buf {
	unsigned char *p;
	size_t len, cap;
	int nomem;
};

static void buf_add(struct chain_buf *b, const void *d, size_t n)
{
	if (b->nomem)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 512;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->nomem = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

/* One column value: 'N' (NULL); 'I' + 8 bytes big-endian; 'T' or 'B' + 4
 * bytes big-endian length + the bytes; 'R' + the IEEE double's 8 bytes.
 * The type is part of the encoding, so turning 5 into '5' is a change. */
static void buf_value(struct chain_buf *b, sqlite3_stmt *s, int col)
{
	unsigned char h[9];

	switch (sqlite3_column_type(s, col)) {
	case SQLITE_INTEGER: {
		uint64_t v = (uint64_t)sqlite3_column_int64(s, col);
		h[0] = 'I';
		for (int i = 0; i < 8; i++)
			h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
		buf_add(b, h, 9);
		break;
	}
	case SQLITE_FLOAT: {
		double d = sqlite3_column_double(s, col);
		uint64_t v;
		memcpy(&v, &d, sizeof v);
		h[0] = 'R';
		for (int i = 0; i < 8; i++)
			h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
		buf_add(b, h, 9);
		break;
	}
	case SQLITE_TEXT:
	case SQLITE_BLOB: {
		int type = sqlite3_column_type(s, col);
		const void *d = type == SQLITE_TEXT ? (const void *)sqlite3_column_text(s, col)
		                                    : sqlite3_column_blob(s, col);
		uint32_t n = (uint32_t)sqlite3_column_bytes(s, col);
		h[0] = type == SQLITE_TEXT ? 'T' : 'B';
		for (int i = 0; i < 4; i++)
			h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
		buf_add(b, h, 5);
		buf_add(b, d, n);
		break;
	}
	default:
		buf_add(b, "N", 1);
	}
}

/* The survey's columns, named one by one: a column added to the table later
 * does not change the encoding of the records already chained. cancelled_by
 * (schema 6) is encoded only when set ("C" and the value after the 15), so
 * the records chained before it keep their encoding. */
static const char chain_survey_sql[] =
	"SELECT survey_id, campaign_id, campaign_version, transaction_id, agency, procedure,"
	" msisdn_hash, channel, status, reason, triggered_at, finished_at, completed_at,"
	" (SELECT audit_of FROM audit_links l WHERE l.survey_id = s.survey_id),"
	" (SELECT digest FROM contacts c WHERE c.survey_id = s.survey_id),"
	" cancelled_by"
	" FROM surveys s WHERE survey_id = ?1";
#define CHAIN_SURVEY_COLS 15
static const char chain_answers_sql[] =
	"SELECT question_id, value, text, answered_at FROM answers WHERE survey_id = ?1"
	" ORDER BY question_id";

static const char *const chain_stmt_sql[CS_MAX] = {
	[CS_SURVEY] = chain_survey_sql,
	[CS_ANSWERS] = chain_answers_sql,
	[CS_LAST] = "SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1",
	[CS_INSERT] = "INSERT INTO chain(seq, survey_id, hash, chained_at) VALUES(?1, ?2, ?3, ?4)",
	[CS_LINK] = "INSERT OR IGNORE INTO audit_links(survey_id, audit_of) VALUES(?1, ?2)",
	[CS_CONTACT] = "INSERT OR IGNORE INTO contacts(survey_id, sealed, stored_at, digest) VALUES(?1, ?2, ?3, ?4)",
};

static int encode(struct chain *c, const char *survey_id, unsigned char **out, size_t *len)
{
	struct chain_buf b = {0};
	sqlite3_stmt *s;
	int rc = -EIO;

	*out = NULL;
	*len = 0;
	if (!(s = chain_stmt(c, CS_SURVEY)))
		goto done;
	sqlite3_bind_text(s, 1, survey_id, -1, SQLITE_STATIC);
	int st = sqlite3_step(s);
	if (st == SQLITE_DONE) {
		rc = -ENOENT;
		goto done;
	}
	if (st != SQLITE_ROW)
		goto done;
	buf_add(&b, chain_tag, sizeof chain_tag - 1);
	for (int i = 0; i < CHAIN_SURVEY_COLS; i++)
		buf_value(&b, s, i);
	if (sqlite3_column_type(s, CHAIN_SURVEY_COLS) != SQLITE_NULL) {
		buf_add(&b, "C", 1);
		buf_value(&b, s, CHAIN_SURVEY_COLS);
	}
	sqlite3_reset(s);
	if (!(s = chain_stmt(c, CS_ANSWERS)))
		goto done;
	sqlite3_bind_text(s, 1, survey_id, -1, SQLITE_STATIC);
	while ((st = sqlite3_step(s)) == SQLITE_ROW) {
		buf_add(&b, "A", 1);
		for (int i = 0; i < 4; i++)
			buf_value(&b, s, i);

	}
	if (st != SQLITE_DONE)
		goto done;
	buf_add(&b, "E", 1); /* the end: an answer appended later changes the record */
	if (b.nomem) {
		rc = -ENOMEM;
		goto done;
	}
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	rc = (int)b.len;
done:
	if (c->st[CS_SURVEY])
		sqlite3_reset(c->st[CS_SURVEY]);
	if (c->st[CS_ANSWERS])
		sqlite3_reset(c->st[CS_ANSWERS]);
	free(b.p);
	return rc;
}

/* The encodings buf_value gives for a text (or NULL), an integer and a blob. */
static void buf_text(struct chain_buf *b, const char *v)
{
	unsigned char h[5];
	uint32_t n;

	if (!v) {
		buf_add(b, "N", 1);
		return;
	}
	n = (uint32_t)strlen(v);
	h[0] = 'T';
	for (int i = 0; i < 4; i++)
		h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
	buf_add(b, h, 5);
	buf_add(b, v, n);
}

static void buf_int(struct chain_buf *b, int64_t v)
{
	unsigned char h[9];

	h[0] = 'I';
	for (int i = 0; i < 8; i++)
		h[1 + i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	buf_add(b, h, 9);
}

static void buf_blob(struct chain_buf *b, const unsigned char *d, uint32_t n)
{
	unsigned char h[5];

	h[0] = 'B';
	for (int i = 0; i < 4; i++)
		h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
	buf_add(b, h, 5);
	buf_add(b, d, n);
}

static int cmp_answer(const void *x, const void *y)
{
	const struct chain_answer *a = *(const struct chain_answer *const *)x, *b = *(const struct chain_answer *const *)y;

	return strcmp(a->question_id, b->question_id); /* BINARY collation, as ORDER BY question_id */
}

/* encode() of rows just written: the same bytes, without the two reads. */
static int encode_rows(const struct chain_rows *r, const char *audit_of, const unsigned char *digest,
                       const char *cancelled_by, unsigned char **out, size_t *len)
{
	struct chain_buf b = {0};
	const struct chain_answer *one[64], **ord = one;

	if (r->nanswers > 64 && !(ord = malloc(sizeof *ord * (size_t)r->nanswers)))
		return -ENOMEM;
	buf_add(&b, chain_tag, sizeof chain_tag - 1);
	for (int i = 0; i < 13; i++)
		buf_text(&b, r->col[i]);
	buf_text(&b, audit_of);
	if (digest)
		buf_blob(&b, digest, CHAIN_HASH_BYTES);
	else
		buf_add(&b, "N", 1);
	if (cancelled_by) { /* as encode(): only when set */
		buf_add(&b, "C", 1);
		buf_text(&b, cancelled_by);
	}
	for (int i = 0; i < r->nanswers; i++)
		ord[i] = &r->answers[i];
	qsort(ord, (size_t)r->nanswers, sizeof *ord, cmp_answer);
	for (int i = 0; i < r->nanswers; i++) {
		buf_add(&b, "A", 1);
		buf_text(&b, ord[i]->question_id);
		if (ord[i]->has_value)
			buf_int(&b, ord[i]->value);
		else
			buf_add(&b, "N", 1);
		buf_text(&b, ord[i]->text);
		buf_text(&b, ord[i]->answered_at);
	}
	buf_add(&b, "E", 1);
	if (ord != one)
		free(ord);
	if (b.nomem) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return (int)b.len;
}

int chain_encode(struct sqlite3 *db, const char *survey_id, unsigned char **out, size_t *len)
{
	struct chain *c = chain_new(db);
	int rc = c ? encode(c, survey_id, out, len) : -ENOMEM;

	chain_free(c);
	return rc;
}

static void chain_hash(const unsigned char prev[CHAIN_HASH_BYTES], const unsigned char *enc, size_t len,
                       unsigned char out[CHAIN_HASH_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, CHAIN_HASH_BYTES);
	crypto_generichash_update(&st, prev, CHAIN_HASH_BYTES);
	crypto_generichash_update(&st, enc, len);
	crypto_generichash_final(&st, out, CHAIN_HASH_BYTES);
}

/* ---- writing ------------------------------------------------------------ */

void chain_begin(struct chain *c)
{
	c->head_ok = 0;
}

/* The last link: its seq (0 when the chain is empty) and hash (zeros then);
 * read once per transaction, then followed in memory. */
static int chain_last(struct chain *c, int64_t *seq, unsigned char hash[CHAIN_HASH_BYTES])
{
	sqlite3_stmt *s;
	int rc = 0;

	if (c->head_ok) {
		*seq = c->head_seq;
		memcpy(hash, c->head, CHAIN_HASH_BYTES);
		return 0;
	}
	*seq = 0;
	memset(hash, 0, CHAIN_HASH_BYTES);
	if (!(s = chain_stmt(c, CS_LAST)))
		return -EIO;
	int st = sqlite3_step(s);
	if (st == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		if (sqlite3_column_bytes(s, 1) == CHAIN_HASH_BYTES)
			memcpy(hash, sqlite3_column_blob(s, 1), CHAIN_HASH_BYTES);
		else
			rc = -EIO; /* a damaged head: verify names it */
	} else if (st != SQLITE_DONE) {
		rc = -EIO;
	}
	sqlite3_reset(s);
	return rc;
}

/* Append one stored survey to the chain: its encoding `enc` (taken over),
 * or read back from the tables when NULL. */
static int chain_append_enc(struct chain *c, const char *survey_id, unsigned char *enc, size_t enc_len,
                            int64_t now, char *err, size_t errlen);

static int chain_append(struct chain *c, const char *survey_id, int64_t now, char *err, size_t errlen)
{
	return chain_append_enc(c, survey_id, NULL, 0, now, err, errlen);
}

static int chain_append_enc(struct chain *c, const char *survey_id, unsigned char *enc, size_t enc_len,
                            int64_t now, char *err, size_t errlen)
{
	unsigned char prev[CHAIN_HASH_BYTES], h[CHAIN_HASH_BYTES];
	size_t len = enc_len;
	int64_t seq;
	sqlite3 *db = c->db;
	sqlite3_stmt *s;
	char when[32];
	int rc;

	if (chain_last(c, &seq, prev) < 0) {
		free(enc);
		chain_seterr(err, errlen, "chain: cannot read the head: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	if (!enc && (rc = encode(c, survey_id, &enc, &len)) < 0) {
		chain_seterr(err, errlen, "chain: survey %s: cannot encode (%d)", survey_id, rc);
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	chain_hash(prev, enc, len, h);
	free(enc);
	chain_iso(now, when);
	rc = -EIO;
	if (!(s = chain_stmt(c, CS_INSERT)))
		goto done;
	sqlite3_bind_int64(s, 1, seq + 1);
	sqlite3_bind_text(s, 2, survey_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, h, sizeof h, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, when, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_DONE) {
		rc = 0;
		c->head_ok = 1;
		c->head_seq = seq + 1;
		memcpy(c->head, h, sizeof h);
	}
done:
	if (rc < 0)
		chain_seterr(err, errlen, "chain: survey %s: %s", survey_id, sqlite3_errmsg(db));
	if (c->st[CS_INSERT])
		sqlite3_reset(c->st[CS_INSERT]);
	return rc;
}

static int chain_exec2(struct chain *ch, enum chain_stmt id, const char *a, const char *b, const char *c)
{
	sqlite3_stmt *s = chain_stmt(ch, id);
	int rc = -EIO;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	if (c)
		sqlite3_bind_text(s, 3, c, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_DONE)
		rc = 0;
	sqlite3_reset(s);
	return rc;
}

int chain_put(struct chain *c, const struct archive_survey *sv, int64_t now, char *err, size_t errlen)
{
	return chain_put_rows(c, sv, NULL, now, err, errlen);
}

int chain_put_rows(struct chain *c, const struct archive_survey *sv, const struct chain_rows *rows, int64_t now,
                   char *err, size_t errlen)
{
	sqlite3 *db = c->db;
	unsigned char dg[CHAIN_HASH_BYTES];
	int exact = rows && rows->exact, has_dg = 0;

	if (sv->audit_of && sv->audit_of[0]) {
		if (chain_exec2(c, CS_LINK, sv->survey_id, sv->audit_of, NULL) < 0) {
			chain_seterr(err, errlen, "survey %s: audit_of: %s", sv->survey_id, sqlite3_errmsg(db));
			return -EIO;
		}
		exact &= sqlite3_changes(db) == 1; /* an older link stays: read back */
	}
	if (sv->contact && sv->contact[0]) {
		/* the sealed box's digest goes on the chain: a box swapped for another
		 * (anyone with the public key can seal a number) breaks it */
		char when[32];
		sqlite3_stmt *st = chain_stmt(c, CS_CONTACT);
		chain_iso(now, when);
		crypto_generichash(dg, sizeof dg, (const unsigned char *)sv->contact, strlen(sv->contact), NULL, 0);
		int ok = st != NULL;
		if (ok) {
			sqlite3_bind_text(st, 1, sv->survey_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, sv->contact, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, when, -1, SQLITE_STATIC);
			sqlite3_bind_blob(st, 4, dg, sizeof dg, SQLITE_STATIC);
			ok = sqlite3_step(st) == SQLITE_DONE;
			exact &= ok && sqlite3_changes(db) == 1;
			sqlite3_reset(st);
		}
		has_dg = 1;
		if (!ok) {
			chain_seterr(err, errlen, "survey %s: contact: %s", sv->survey_id, sqlite3_errmsg(db));
			return -EIO;
		}
	}
	if (exact) {
		unsigned char *enc = NULL;
		size_t len = 0;
		int rc = encode_rows(rows, sv->audit_of && sv->audit_of[0] ? sv->audit_of : NULL, has_dg ? dg : NULL,
		                     sv->cancelled_by, &enc, &len);
		if (rc < 0) {
			chain_seterr(err, errlen, "chain: survey %s: out of memory", sv->survey_id);
			return -ENOMEM;
		}
		return chain_append_enc(c, sv->survey_id, enc, len, now, err, errlen);
	}
	return chain_append(c, sv->survey_id, now, err, errlen);
}

int chain_migrate(struct sqlite3 *db, char *err, size_t errlen)
{
	char *msg = NULL;
	sqlite3_stmt *s = NULL;
	int rc = 0, st;

	if (sqlite3_exec(db, chain_schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		chain_seterr(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	/* Surveys stored before the chain existed join it now, oldest first, in
	 * this one transaction: a larger page cache keeps its index pages in
	 * memory (measured in docs/audit.md). */
	sqlite3_exec(db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "SELECT survey_id FROM surveys s WHERE NOT EXISTS"
	                           " (SELECT 1 FROM chain c WHERE c.survey_id = s.survey_id)"
	                           " ORDER BY finished_at, survey_id", -1, &s, NULL) != SQLITE_OK) {
		chain_seterr(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	int64_t now = (int64_t)time(NULL);
	struct chain *c = chain_new(db);
	if (!c)
		rc = -ENOMEM;
	while (rc == 0 && (st = sqlite3_step(s)) == SQLITE_ROW) {
		char *id = strdup((const char *)sqlite3_column_text(s, 0));
		if (!id) {
			rc = -ENOMEM;
			break;
		}
		rc = chain_append(c, id, now, err, errlen);
		free(id);
	}
	chain_free(c);
	sqlite3_finalize(s);
	sqlite3_exec(db, "PRAGMA cache_size = -2000", NULL, NULL, NULL); /* SQLite's default */
	return rc;
}

int chain_head(struct sqlite3 *db, int64_t *seq, char hex[CHAIN_HEX], char *err, size_t errlen)
{
	unsigned char h[CHAIN_HASH_BYTES];
	struct chain *c = chain_new(db);
	int rc = c ? chain_last(c, seq, h) : -ENOMEM;

	chain_free(c);
	if (rc < 0) {
		chain_seterr(err, errlen, "chain: cannot read the head: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sodium_bin2hex(hex, CHAIN_HEX, h, sizeof h);
	return 0;
}

int64_t chain_purge_contacts(struct sqlite3 *db, int64_t before, char *err, size_t errlen)
{
	char when[32];
	sqlite3_stmt *s = NULL;
	int64_t n = -EIO;

	chain_iso(before, when);
	/* the box goes, its digest (on the chain) stays */
	if (sqlite3_prepare_v2(db, "UPDATE contacts SET sealed = NULL WHERE stored_at < ?1 AND sealed IS NOT NULL", -1,
	                       &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, when, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_DONE)
			n = sqlite3_changes(db);
	}
	if (n < 0)
		chain_seterr(err, errlen, "contacts: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return n;
}

/* ---- verifying ---------------------------------------------------------- */

static void chain_problem(struct chain_report *r, FILE *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void chain_problem(struct chain_report *r, FILE *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (r->problems++ == 0)
		snprintf(r->first, sizeof r->first, "%s", line);
	if (out)
		fprintf(out, "%s\n", line);
}

/* Every row of `sql` (one text column) is a problem described by fmt. */
static int chain_list(sqlite3 *db, const char *sql, struct chain_report *r, FILE *out, const char *what)
{
	sqlite3_stmt *s = NULL;
	int st;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	while ((st = sqlite3_step(s)) == SQLITE_ROW)
		chain_problem(r, out, "survey %s: %s", (const char *)sqlite3_column_text(s, 0), what);
	sqlite3_finalize(s);
	return st == SQLITE_DONE ? 0 : -EIO;
}

static int chain_walk(struct sqlite3 *db, const char *expect, FILE *out, struct chain_report *r, char *err,
                      size_t errlen);

/* The walk and the checks after it in one read transaction: on an archive
 * being written they see one moment of it (else "2000 links, 4000 surveys":
 * the links read before a batch, the surveys after). */
int chain_verify(struct sqlite3 *db, const char *expect, FILE *out, struct chain_report *r, char *err,
                 size_t errlen)
{
	int in_txn = sqlite3_exec(db, "SAVEPOINT chain_verify", NULL, NULL, NULL) == SQLITE_OK;
	int rc = chain_walk(db, expect, out, r, err, errlen);
	if (in_txn)
		sqlite3_exec(db, "RELEASE chain_verify", NULL, NULL, NULL);
	return rc;
}

static int chain_walk(struct sqlite3 *db, const char *expect, FILE *out, struct chain_report *r, char *err,
                      size_t errlen)
{
	unsigned char prev[CHAIN_HASH_BYTES] = {0}, h[CHAIN_HASH_BYTES], want[CHAIN_HASH_BYTES];
	int64_t expect_seq = 0, next = 1;
	int expect_found = 0, st;
	sqlite3_stmt *s = NULL;

	memset(r, 0, sizeof *r);
	if (expect) {
		const char *colon = strchr(expect, ':');
		char *end;
		size_t bl = 0;
		expect_seq = colon ? strtoll(expect, &end, 10) : 0;
		if (!colon || end != colon || expect_seq < 0 ||
		    sodium_hex2bin(want, sizeof want, colon + 1, strlen(colon + 1), NULL, &bl, NULL) != 0 ||
		    bl != sizeof want) {
			chain_seterr(err, errlen, "--head: '%.80s' is not SEQ:HASH (the head line logged by hailongd)",
			             expect);
			return -EINVAL;
		}
	}
	if (expect && expect_seq == 0) {
		/* the head of an empty archive (hailongd logs it so at its first
		 * start): hash(0), 32 zero bytes, under every chain */
		expect_found = 1;
		if (!sodium_is_zero(want, sizeof want))
			chain_problem(r, out, "link 0: differs from the head kept elsewhere: the chain starts from 32 zero"
			              " bytes");
	}
	struct chain *ch = chain_new(db);
	if (!ch) {
		chain_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (sqlite3_prepare_v2(db, "SELECT seq, survey_id, hash FROM chain ORDER BY seq", -1, &s, NULL) !=
	    SQLITE_OK) {
		chain_free(ch);
		chain_seterr(err, errlen, "sqlite: %s (is this a hailong archive?)", sqlite3_errmsg(db));
		return -EIO;
	}
	while ((st = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);
		const char *id = (const char *)sqlite3_column_text(s, 1);
		int hlen = sqlite3_column_bytes(s, 2);
		const void *hash = sqlite3_column_blob(s, 2);
		unsigned char *enc = NULL;
		size_t len = 0;

		r->links++;
		if (seq != next)
			chain_problem(r, out, "links %lld..%lld are missing: %lld record(s) removed after survey at link %lld",
			              (long long)next, (long long)seq - 1, (long long)(seq - next), (long long)next - 1);
		int rc = encode(ch, id ? id : "", &enc, &len);
		if (rc == -ENOENT) {
			chain_problem(r, out, "link %lld: survey %s: removed (no longer in the archive)", (long long)seq,
			              id ? id : "?");
		} else if (rc < 0) {
			sqlite3_finalize(s);
			chain_free(ch);
			chain_seterr(err, errlen, "survey %s: cannot read it: %s", id ? id : "?", sqlite3_errmsg(db));
			return rc;
		} else {
			chain_hash(prev, enc, len, h);
			if (hlen != CHAIN_HASH_BYTES || sodium_memcmp(h, hash, CHAIN_HASH_BYTES) != 0)
				chain_problem(r, out, "link %lld: survey %s: changed (its record or link no longer matches the chain)",
				              (long long)seq, id);
		}
		free(enc);
		if (expect && seq == expect_seq) {
			expect_found = 1;
			if (hlen != CHAIN_HASH_BYTES || sodium_memcmp(want, hash, CHAIN_HASH_BYTES) != 0)
				chain_problem(r, out, "link %lld: differs from the head kept elsewhere: the chain was rewritten",
				              (long long)seq);
		}
		/* go on from the stored hash, so one change is reported once */
		if (hlen == CHAIN_HASH_BYTES)
			memcpy(prev, hash, CHAIN_HASH_BYTES);
		else
			memset(prev, 0, sizeof prev);
		r->head_seq = seq;
		next = seq + 1;
	}
	sqlite3_finalize(s);
	chain_free(ch);
	if (st != SQLITE_DONE) {
		chain_seterr(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sodium_bin2hex(r->head, sizeof r->head, prev, sizeof prev);
	if (expect && !expect_found)
		chain_problem(r, out, "link %lld: missing, but a head kept elsewhere names it: records removed at the end",
		              (long long)expect_seq);
	/* every sealed box still kept must match the digest on the chain */
	sqlite3_stmt *cs = NULL;
	if (sqlite3_prepare_v2(db, "SELECT survey_id, sealed, digest FROM contacts WHERE sealed IS NOT NULL"
	                           " ORDER BY survey_id", -1, &cs, NULL) != SQLITE_OK) {
		chain_seterr(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	while ((st = sqlite3_step(cs)) == SQLITE_ROW) {
		const unsigned char *box = sqlite3_column_text(cs, 1);
		unsigned char dg[CHAIN_HASH_BYTES];
		crypto_generichash(dg, sizeof dg, box, (unsigned long long)sqlite3_column_bytes(cs, 1), NULL, 0);
		if (sqlite3_column_bytes(cs, 2) != CHAIN_HASH_BYTES ||
		    sodium_memcmp(dg, sqlite3_column_blob(cs, 2), CHAIN_HASH_BYTES) != 0)
			chain_problem(r, out, "survey %s: sealed contact changed (it does not match its digest)",
			              (const char *)sqlite3_column_text(cs, 0));
	}
	sqlite3_finalize(cs);
	if (st != SQLITE_DONE) {
		chain_seterr(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	if (chain_list(db, "SELECT survey_id FROM surveys s WHERE NOT EXISTS"
	                   " (SELECT 1 FROM chain c WHERE c.survey_id = s.survey_id) ORDER BY survey_id",
	               r, out, "inserted (not on the chain)") < 0 ||
	    chain_list(db, "SELECT DISTINCT survey_id FROM answers a WHERE NOT EXISTS"
	                   " (SELECT 1 FROM surveys s WHERE s.survey_id = a.survey_id) ORDER BY survey_id",
	               r, out, "answers inserted without their survey") < 0 ||
	    chain_list(db, "SELECT survey_id FROM audit_links l WHERE NOT EXISTS"
	                   " (SELECT 1 FROM chain c WHERE c.survey_id = l.survey_id) ORDER BY survey_id",
	               r, out, "audit link inserted (not on the chain)") < 0) {
		chain_seterr(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_stmt *c = NULL;
	if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM surveys", -1, &c, NULL) == SQLITE_OK &&
	    sqlite3_step(c) == SQLITE_ROW)
		r->surveys = sqlite3_column_int64(c, 0);
	sqlite3_finalize(c);
	return r->problems ? 1 : 0;
}
