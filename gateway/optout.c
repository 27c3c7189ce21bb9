/* optout: the lasting record of opt-outs in the SQLite archive (see optout.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archive_int.h"
#include "optout.h"

static const char optout_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS optouts ("
	"  msisdn_hash TEXT PRIMARY KEY,"
	"  at TEXT NOT NULL,"
	"  source TEXT NOT NULL CHECK (source IN ('keyword', 'api', 'operator'))"
	") WITHOUT ROWID;"
	/* the operator's adds and removes, in order: hailongd follows it */
	"CREATE TABLE IF NOT EXISTS optout_changes ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  msisdn_hash TEXT NOT NULL,"
	"  at TEXT NOT NULL"
	");"
	/* citizens archived opted_out before this table existed */
	"INSERT OR IGNORE INTO optouts(msisdn_hash, at, source)"
	"  SELECT msisdn_hash, MIN(COALESCE(finished_at, triggered_at, '')), 'keyword' FROM surveys"
	"  WHERE status = 'opted_out' AND msisdn_hash IS NOT NULL GROUP BY msisdn_hash;";

int optout_migrate(struct sqlite3 *db, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, optout_schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		archive_seterr(err, errlen, "optouts: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int optout_key(const char *configured, const char *db_path, int create, unsigned char key[OPTOUT_KEYBYTES],
               char *err, size_t errlen)
{
	const char *k = configured;
	char buf[65];
	if (!k) {
		char path[4096];
		snprintf(path, sizeof path, "%s.key", db_path);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, 64, f);
			fclose(f);
			buf[n] = '\0';
			if (n != 64) {
				archive_seterr(err, errlen, "%s: expected 64 hex digits", path);
				return -EINVAL;
			}
		} else if (!create) {
			archive_seterr(err, errlen, "%s: %s (no privacy.hash_key given: give --config or --hash-key)",
			               path, strerror(errno));
			return -ENOENT;
		} else {
			unsigned char raw[32];
			randombytes_buf(raw, sizeof raw);
			sodium_bin2hex(buf, sizeof buf, raw, sizeof raw);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
			if (fd < 0 || write(fd, buf, 64) != 64) {
				archive_seterr(err, errlen, "%s: cannot keep the generated hash key: %s", path,
				               strerror(errno));
				if (fd >= 0)
					close(fd);
				return -EIO;
			}
			close(fd);
		}
		k = buf;
	}
	/* any length of configured key -> a 32-byte BLAKE2b key */
	crypto_generichash(key, OPTOUT_KEYBYTES, (const unsigned char *)k, strlen(k), NULL, 0);
	return 0;
}

void optout_hash(const unsigned char key[OPTOUT_KEYBYTES], const char *msisdn, char out[OPTOUT_HEX])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof h, (const unsigned char *)msisdn, strlen(msisdn), key, OPTOUT_KEYBYTES);
	sodium_bin2hex(out, OPTOUT_HEX, h, sizeof h);
}

int optout_is_hash(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 64;
}

static int source_valid(const char *s)
{
	return s && (!strcmp(s, "keyword") || !strcmp(s, "api") || !strcmp(s, "operator"));
}

static int optout_exec(struct archive *a, const char *sql, char *err, size_t errlen)
{
	return archive_exec(a, sql, err, errlen) < 0 ? -EIO : 0;
}

/* Prepare, or -EIO with err. */
static int optout_prepare(struct archive *a, const char *sql, sqlite3_stmt **s, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(a->db, sql, -1, s, NULL) != SQLITE_OK) {
		archive_seterr(err, errlen, "optouts: %s", sqlite3_errmsg(a->db));
		*s = NULL;
		return -EIO;
	}
	return 0;
}

int optout_put(struct archive *a, const struct optout *o, int n, char *err, size_t errlen)
{
	char t[32];
	sqlite3_stmt *s = NULL;
	int added = 0;
	for (int i = 0; i < n; i++) {
		if (!o[i].msisdn_hash || !optout_is_hash(o[i].msisdn_hash) || !source_valid(o[i].source)) {
			archive_seterr(err, errlen, "opt-out %d: a 64-hex-digit hash and a source (keyword, api, "
			               "operator) are required", i);
			return -EINVAL;
		}
	}
	if (n == 0)
		return 0;
	if (optout_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if (optout_prepare(a, "INSERT OR IGNORE INTO optouts(msisdn_hash, at, source) VALUES(?1, ?2, ?3)", &s, err,
	                   errlen) < 0)
		goto fail;
	for (int i = 0; i < n; i++) {
		sqlite3_reset(s);
		archive_bind_text(s, 1, o[i].msisdn_hash);
		archive_bind_text(s, 2, archive_iso_time(o[i].at, t, sizeof t));
		archive_bind_text(s, 3, o[i].source);
		if (sqlite3_step(s) != SQLITE_DONE) {
			archive_seterr(err, errlen, "optouts: %s", sqlite3_errmsg(a->db));
			goto fail;
		}
		added += sqlite3_changes(a->db) > 0;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (optout_exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return added;
fail:
	sqlite3_finalize(s);
	archive_exec(a, "ROLLBACK", NULL, 0);
	return -EIO;
}

/* One statement with the hash (and maybe at, source), then the change log. */
static int optout_change(struct archive *a, const char *sql, const char *hash, const char *at, const char *source,
                         char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int changed;
	if (!hash || !optout_is_hash(hash)) {
		archive_seterr(err, errlen, "not a hash: 64 lower-case hex digits expected");
		return -EINVAL;
	}
	if (optout_exec(a, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	if (optout_prepare(a, sql, &s, err, errlen) < 0)
		goto fail;
	archive_bind_text(s, 1, hash);
	if (source) {
		archive_bind_text(s, 2, at);
		archive_bind_text(s, 3, source);
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		archive_seterr(err, errlen, "optouts: %s", sqlite3_errmsg(a->db));
		goto fail;
	}
	changed = sqlite3_changes(a->db) > 0;
	sqlite3_finalize(s);
	s = NULL;
	if (changed) {
		char now[32];
		if (optout_prepare(a, "INSERT INTO optout_changes(msisdn_hash, at) VALUES(?1, ?2)", &s, err,
		                   errlen) < 0)
			goto fail;
		archive_bind_text(s, 1, hash);
		archive_bind_text(s, 2, archive_iso_time((int64_t)time(NULL), now, sizeof now));
		if (sqlite3_step(s) != SQLITE_DONE) {
			archive_seterr(err, errlen, "optout_changes: %s", sqlite3_errmsg(a->db));
			goto fail;
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	if (optout_exec(a, "COMMIT", err, errlen) < 0)
		goto fail;
	return changed;
fail:
	sqlite3_finalize(s);
	archive_exec(a, "ROLLBACK", NULL, 0);
	return -EIO;
}

int optout_add(struct archive *a, const char *hash, const char *source, int64_t at, char *err, size_t errlen)
{
	char t[32];
	if (!source_valid(source)) {
		archive_seterr(err, errlen, "bad source '%s' (keyword, api, operator)", source ? source : "");
		return -EINVAL;
	}
	return optout_change(a, "INSERT OR IGNORE INTO optouts(msisdn_hash, at, source) VALUES(?1, ?2, ?3)", hash,
	                     archive_iso_time(at, t, sizeof t), source, err, errlen);
}

int optout_remove(struct archive *a, const char *hash, char *err, size_t errlen)
{
	return optout_change(a, "DELETE FROM optouts WHERE msisdn_hash = ?1", hash, NULL, NULL, err, errlen);
}

/* A single integer from sql (with an optional text ?1), or -EIO. */
static int64_t optout_scalar(struct archive *a, const char *sql, const char *arg, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -EIO;
	if (optout_prepare(a, sql, &s, err, errlen) < 0)
		return -EIO;
	if (arg)
		archive_bind_text(s, 1, arg);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		archive_seterr(err, errlen, "optouts: %s", sqlite3_errmsg(a->db));
	sqlite3_finalize(s);
	return v;
}

int64_t optout_count(struct archive *a, char *err, size_t errlen)
{
	return optout_scalar(a, "SELECT COUNT(*) FROM optouts", NULL, err, errlen);
}

int optout_has(struct archive *a, const char *hash, char *err, size_t errlen)
{
	return (int)optout_scalar(a, "SELECT COUNT(*) FROM optouts WHERE msisdn_hash = ?1", hash, err, errlen);
}

int64_t optout_last_change(struct archive *a, char *err, size_t errlen)
{
	return optout_scalar(a, "SELECT COALESCE(MAX(seq), 0) FROM optout_changes", NULL, err, errlen);
}

int optout_each(struct archive *a, optout_each_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc;
	if (optout_prepare(a, "SELECT msisdn_hash, at, source FROM optouts ORDER BY at, msisdn_hash", &s, err,
	                   errlen) < 0)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r = fn(arg, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
		           (const char *)sqlite3_column_text(s, 2));
		if (r) {
			sqlite3_finalize(s);
			return r;
		}
	}
	if (rc != SQLITE_DONE) {
		archive_seterr(err, errlen, "optouts: %s", sqlite3_errmsg(a->db));
		sqlite3_finalize(s);
		return -EIO;
	}
	sqlite3_finalize(s);
	return 0;
}

int optout_changes(struct archive *a, int64_t since, optout_change_fn fn, void *arg, int64_t *last, char *err,
                   size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc;
	if (optout_prepare(a,
	                   "SELECT c.seq, c.msisdn_hash, EXISTS (SELECT 1 FROM optouts o WHERE o.msisdn_hash ="
	                   " c.msisdn_hash) FROM optout_changes c WHERE c.seq > ?1 ORDER BY c.seq",
	                   &s, err, errlen) < 0)
		return -EIO;
	sqlite3_bind_int64(s, 1, since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r = fn(arg, (const char *)sqlite3_column_text(s, 1), sqlite3_column_int(s, 2));
		if (r) {
			sqlite3_finalize(s);
			return r;
		}
		*last = sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE) {
		archive_seterr(err, errlen, "optout_changes: %s", sqlite3_errmsg(a->db));
		sqlite3_finalize(s);
		return -EIO;
	}
	sqlite3_finalize(s);
	return 0;
}
