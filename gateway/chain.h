/* chain: the archive's hash chain (tamper evidence), the audit links and the sealed contacts tables. */
#ifndef HL_CHAIN_H
#define HL_CHAIN_H

#include <stdint.h>
#include <stdio.h>

#include "archive.h"

struct sqlite3;
struct chain;

#define CHAIN_HASH_BYTES 32
#define CHAIN_HEX (CHAIN_HASH_BYTES * 2 + 1)

/* Schema step 3 (idempotent): the tables chain, audit_links and contacts,
 * and the surveys already stored put on the chain in (finished_at,
 * survey_id) order. Run inside the caller's write transaction. Returns 0 or
 * -EIO with err filled. */
int chain_migrate(struct sqlite3 *db, char *err, size_t errlen);

/* The chain's statements on the archive's connection (borrowed; free the
 * chain before closing it). NULL when out of memory. */
struct chain *chain_new(struct sqlite3 *db);
/* A write transaction begins: the head is read again at the next chain_put
 * (then followed in memory, so a batch reads it once). */
void chain_begin(struct chain *c);
void chain_free(struct chain *c);

/* Called by archive_put inside its BEGIN IMMEDIATE transaction, after the
 * survey `s` and its answers were inserted: stores its audit link and sealed
 * contact (when given), then appends it to the chain: reads the current head
 * (the transaction holds the write lock, so several gateways writing one
 * file serialise here) and stores BLAKE2b(head || canonical record).
 * `now` is unix seconds. Returns 0, -EINVAL (a contact that is not base64)
 * or -EIO, with err filled. */
int chain_put(struct chain *c, const struct archive_survey *s, int64_t now, char *err,
              size_t errlen);

/* The rows archive_put has just written for one survey, as stored, so that
 * chain_put_rows encodes them without reading them back: the survey's 13
 * columns (text or NULL, in chain_encode's order) and its answer rows. */
struct chain_answer {
	const char *question_id;
	int has_value, value;     /* value column: integer, or NULL */
	const char *text;         /* text column, or NULL */
	const char *answered_at;  /* ISO text, or NULL */
};
struct chain_rows {
	const char *col[13];
	const struct chain_answer *answers;  /* any order */
	int nanswers;
	int exact;                /* 0: an INSERT OR IGNORE kept an older row, read back instead */
};
/* chain_put, encoding `rows` (NULL: read back from the tables). The encoding
 * is the one chain_encode gives for the same rows, so verify agrees. */
int chain_put_rows(struct chain *c, const struct archive_survey *s, const struct chain_rows *rows, int64_t now,
                   char *err, size_t errlen);

/* The head: seq of the last link (0 = empty chain) and its hash in hex. */
int chain_head(struct sqlite3 *db, int64_t *seq, char hex[CHAIN_HEX], char *err, size_t errlen);

/* The canonical encoding of one stored survey (its row, audit link and
 * answers in question_id order), malloc'd into *out. Returns its length,
 * -ENOENT when there is no such survey, or -EIO/-ENOMEM. */
int chain_encode(struct sqlite3 *db, const char *survey_id, unsigned char **out, size_t *len);

/* What archive verify found. */
struct chain_report {
	int64_t links;          /* links walked */
	int64_t surveys;        /* surveys in the table */
	int64_t problems;       /* number of problems found */
	char first[512];        /* the first problem, "" when none */
	int64_t head_seq;       /* the head after the walk */
	char head[CHAIN_HEX];
};

/* Walk the chain from its start and name the first record changed, removed
 * or inserted. `expect` (may be NULL) is a head kept elsewhere, "SEQ:HEX":
 * the link SEQ must still carry that hash (this catches a chain rewritten
 * from scratch). Problems are printed one per line to `out` (may be NULL).
 * Returns 0 when the chain is intact, 1 when a problem was found, or a
 * negative errno with err filled. */
int chain_verify(struct sqlite3 *db, const char *expect, FILE *out, struct chain_report *r,
                 char *err, size_t errlen);

/* Delete sealed contacts stored before `before` (unix seconds). Returns the
 * number deleted or -EIO. */
int64_t chain_purge_contacts(struct sqlite3 *db, int64_t before, char *err, size_t errlen);

#endif
