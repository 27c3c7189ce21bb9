/* archive_int: what archive.c, archive_rollup.c and archive_rollup_count.c share; not an API. */
#ifndef HL_ARCHIVE_INT_H
#define HL_ARCHIVE_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "archive.h"

#define ARCHIVE_MAX_GROUPS 32     /* criteria groups of one survey */
#define ARCHIVE_MAX_UNITS 256     /* (agency, procedure, channel) ids remembered */
#define ARCHIVE_CITIZENS_RECENT 32768 /* rollup_citizens_recent rows that make a merge */
#define ARCHIVE_STR_(x) #x
#define ARCHIVE_STR(x) ARCHIVE_STR_(x)
#define status_names archive_status_names
#define NSTATUS ARCHIVE_NSTATUS

/* Statements prepared once on first use and reset after each use. */
enum archive_stmt {
	ST_INS_SURVEY,
	ST_INS_ANSWER,
	ST_QTYPE,
	ST_INS_VERSION,
	ST_REPUT_VERSION,
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
	ST_RU_ZONE,
	ST_RU_NAME_GET,
	ST_RU_NAME_INS,
	ST_RU_RECENT_COUNT,
	ST_MAX
};

/* The questions of the campaign version last written, so that putting an
 * answer costs no lookup (cleared when a campaign is recorded). */
struct qinfo {
	char *id, *grp;          /* grp "" = none */
	int multi, rated;        /* type multi; has satisfied values */
};

/* One rollup row's count in this transaction: its key in small integers
 * (strings interned in a->rn), so that adding to it costs no allocation and
 * no string compare (archive_rollup_count.c adds to it, archive_rollup_flush
 * writes it). */
struct rdelta {
	int table;                  /* 0 rollup_surveys, 1 rollup_answers, 2 rollup_groups */
	int32_t c, st, x;           /* interned campaign, status, question or group ("" = none) */
	int kind, value;            /* rollup_answers */
	int64_t dayn, uid;
	int64_t n, rated;
	uint64_t h;
	int64_t cdb, stdb, xdb;     /* their rollup_names ids, found at flush */
};

struct archive {
	sqlite3 *db;
	sqlite3_stmt *st[ST_MAX]; /* lazily prepared, owned, finalized by archive_close */
	struct chain *chain;      /* chain.c's statements (hash chain, audit links, contacts), owned */
	char *qc_campaign, *qc_version; /* whose questions qc holds (owned), NULL = none */
	struct qinfo *qc;
	int nqc;
	struct aunit { char *agency, *procedure, *channel; int64_t uid; } units[ARCHIVE_MAX_UNITS];
	int nunits;
	struct chain_answer *ca;        /* the answer rows of the survey being put, for the chain */
	char (*ca_at)[32];              /* their answered_at ("" = NULL) */
	char **ca_own;                  /* their text (owned) */
	int nca, capca;
	/* Rollup counts of this transaction, not yet written (archive_rollup_count.c):
	 * keyed by small integers, the strings interned once in rn. */
	struct rdelta *rd;              /* the deltas, rdn of them (owned) */
	int rdn, rdmax;
	int32_t *rdix;                  /* open addressing over rd: index, -1 = empty (owned) */
	int rdixcap;
	struct rname { char *s; uint64_t h; int64_t dbid; } *rn; /* interned strings by id (owned); dbid: rollup_names.id, 0 = not known */
	int rnn, rnmax;
	int32_t *rnix;                  /* open addressing over rn (owned) */
	int rnixcap;
	/* rollup_citizens rows of this transaction, written sorted at flush
	 * (their keys are random: in key order the inserts walk the B-tree once) */
	struct rcitizen { const char *c; int64_t cid, k; } *cz; /* c: the interned campaign (rn's string) */
	int czn, czmax;
};

/* One survey's rollup key, and the criteria groups it has rated answers in. */
struct archive_rkey {
	const char *campaign_id, *version, *agency, *procedure, *channel, *status;
	const char *msisdn_hash;           /* NULL: not a citizen to count */
	int64_t dayn;                      /* local day in days since 1970-01-01, or ARCHIVE_NO_DAY */
	int32_t ids[2];                    /* campaign and status interned */
	int64_t uid;                       /* rollup_units.uid of (agency, procedure, channel) */
	int ids_ok;                        /* ids filled (archive_rkey_day clears it) */
	char *groups[ARCHIVE_MAX_GROUPS];  /* owned; distinct */
	int ngroups;
	int rated;                         /* any rated answer */
};

void archive_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
sqlite3_stmt *archive_stmt_get(struct archive *a, enum archive_stmt id, char *err, size_t errlen);
int archive_exec(struct archive *a, const char *sql, char *err, size_t errlen);
/* archive_migrate.c: schema 6 (cancelled, cancelled_by) and 7 (fewer indexes, stray_replies). */
int archive_migrate_v6(struct archive *a, char *err, size_t errlen);
int archive_migrate_v7(struct archive *a, char *err, size_t errlen);
/* Schema 8: rollup tables keyed by integers (rollup_s, rollup_a, rollup_g,
 * rollup_names) behind views with the old names and columns; the old tables
 * dropped and the rollups counted again from the rows. */
int archive_migrate_v8(struct archive *a, char *err, size_t errlen);
/* Schema 9: rollup_citizens_recent, the citizens of the last batches. */
int archive_migrate_v9(struct archive *a, char *err, size_t errlen);
const char *archive_iso_time(int64_t t, char *buf, size_t cap);
void archive_bind_text(sqlite3_stmt *s, int i, const char *v);

/* archive_rollup.c: the rollup tables, their zone, the counts written. */
/* Create the rollup tables and views (IF NOT EXISTS); temp: TEMP copies
 * (dropped first) that shadow the archive's on this connection; else
 * rollup tables of schema 3-7 are dropped first. 0 or -EIO. */
int archive_rollup_schema(struct archive *a, int temp, char *err, size_t errlen);
/* "YYYY-MM-DD" of a day number (days since 1970-01-01) into buf[11]; "" for ARCHIVE_NO_DAY. */
const char *archive_day_text(int64_t dayn, char buf[16]);
/* Count again, from the rows, the surveys of campaign_id (NULL = all) in the
 * process's zone (tzone.h), inside the caller's transaction; unless temp,
 * the zone is recorded in rollup_meta. */
int archive_rollup_rebuild(struct archive *a, const char *campaign_id, int temp, char *err, size_t errlen);
/* Inside archive_put's transaction: rebuild the rollups when they count
 * local days of a zone other than the process's. */
int archive_rollup_zone(struct archive *a, char *err, size_t errlen);
/* Write the rollup counts gathered in this transaction (one upsert per key,
 * however many surveys share it); discard them after a rollback. */
int archive_rollup_flush(struct archive *a);

/* archive_rollup_count.c: the counts of this transaction, in memory. */
void archive_rkey_day(struct archive_rkey *k, int64_t t);
void archive_rkey_clear(struct archive_rkey *k);
void archive_qcache_clear(struct archive *a);
int archive_question_info(struct archive *a, const char *campaign_id, const char *version,
                         const char *qid, int *multi, const char **grp, int *rated);
int archive_rollup_answer(struct archive *a, struct archive_rkey *k, const char *qid, int has_value, int value,
                         const char *text);
int archive_rollup_survey(struct archive *a, struct archive_rkey *k);
void archive_units_forget(struct archive *a);
void archive_rollup_discard(struct archive *a);
/* archive_rollup_discard, and the interned strings too (archive_close). */
void archive_rollup_names_free(struct archive *a);

#endif
