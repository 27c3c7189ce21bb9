/* optout: the lasting record of opt-outs (SPEC §7 `optouts`) in the SQLite
 * archive, the operator's change log hailongd follows, and the keyed phone
 * number hash both hailongd and the CLI compute (docs/design.md). */
#ifndef HL_OPTOUT_H
#define HL_OPTOUT_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"

#define OPTOUT_HEX 65 /* a keyed hash in hex, with its NUL */
#define OPTOUT_KEYBYTES 32

struct sqlite3;

/* One opt-out: the keyed hash, when (unix s), and its source: "keyword"
 * (HUY/STOP from the citizen), "api" or "operator". */
struct optout {
	const char *msisdn_hash;
	int64_t at;
	const char *source;
};

/* Schema step 5 (archive_open, inside its transaction): the optouts table,
 * the change log, and every citizen already archived `opted_out` carried
 * over. Idempotent. */
int optout_migrate(struct sqlite3 *db, char *err, size_t errlen);

/* The 32-byte key of the phone-number hash: BLAKE2b-256 of `configured`
 * (privacy.hash_key), or of the 64 hex digits kept in DB_PATH.key; with
 * create = 1 that file is made (mode 0600) when missing. 0, or -errno with err. */
int optout_key(const char *configured, const char *db_path, int create, unsigned char key[OPTOUT_KEYBYTES],
               char *err, size_t errlen);
/* The keyed hash of a canonical number, in hex. */
void optout_hash(const unsigned char key[OPTOUT_KEYBYTES], const char *msisdn, char out[OPTOUT_HEX]);
/* 1 when s looks like a hash (64 lower-case hex digits), else 0. */
int optout_is_hash(const char *s);

/* Records n opt-outs in one transaction; one already recorded keeps its first
 * time and source. Returns the number new, -EINVAL (bad record, nothing
 * written) or -EIO, with err. */
int optout_put(struct archive *a, const struct optout *o, int n, char *err, size_t errlen);
/* The operator's add and remove: the table and the change log hailongd
 * follows, in one transaction. 1 = changed, 0 = already so, or -errno. */
int optout_add(struct archive *a, const char *hash, const char *source, int64_t at, char *err, size_t errlen);
int optout_remove(struct archive *a, const char *hash, char *err, size_t errlen);
/* Number recorded, or -EIO. */
int64_t optout_count(struct archive *a, char *err, size_t errlen);
/* 1 when recorded, 0 when not, -EIO. */
int optout_has(struct archive *a, const char *hash, char *err, size_t errlen);

/* Calls fn for every opt-out, oldest first; a non-zero return stops (and is
 * returned). at is ISO 8601 UTC text. -EIO on a read error. */
typedef int (*optout_each_fn)(void *arg, const char *hash, const char *at, const char *source);
int optout_each(struct archive *a, optout_each_fn fn, void *arg, char *err, size_t errlen);

/* The change log after `since`: fn(arg, hash, recorded) with recorded = 1 when
 * the hash is in the table now (add it), 0 when not (remove it). *last gets the
 * last sequence number seen (unchanged when none). 0 or -EIO. */
typedef int (*optout_change_fn)(void *arg, const char *hash, int recorded);
int optout_changes(struct archive *a, int64_t since, optout_change_fn fn, void *arg, int64_t *last, char *err,
                   size_t errlen);
/* The last sequence number of the change log (0 = empty), or -EIO. */
int64_t optout_last_change(struct archive *a, char *err, size_t errlen);

#endif
