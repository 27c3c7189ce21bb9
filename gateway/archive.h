/* archive: the SQLite archive of finished surveys (SPEC §7) and the rollups reports read (report.h). */
#ifndef HL_ARCHIVE_H
#define HL_ARCHIVE_H

#include <stdint.h>
#include <stdio.h>

#include "campaign.h"

struct archive;
struct sqlite3;

/* The archive's schema (PRAGMA user_version): 2 deliveries, 3 rollups, 4 the
 * hash chain, audit links and sealed contacts, 5 opt-outs (optout.h), 6
 * cancelled, 7 fewer indexes and stray replies, 8 rollups keyed by integers
 * behind views of the old names. archive_open upgrades. */
#define ARCHIVE_SCHEMA_VERSION 9

/* The statuses the archive stores; rollup_citizens keeps a status as its position here. */
#define ARCHIVE_NSTATUS 7
extern const char *const archive_status_names[ARCHIVE_NSTATUS];
/* rollup_citizens.day of a survey without a trigger time. */
#define ARCHIVE_NO_DAY (-1000000)
/* rollup_citizens.k: local day (days since 1970-01-01, or ARCHIVE_NO_DAY), unit
 * id and status position packed in one integer, so that a report reads two
 * numbers per row. uid < 2^20, status < 16. */
#define ARCHIVE_CITIZEN_K(day, uid, st) ((((int64_t)(day) - ARCHIVE_NO_DAY) << 24) | ((int64_t)(uid) << 4) | (st))
#define ARCHIVE_CITIZEN_DAY(k) (((k) >> 24) + ARCHIVE_NO_DAY)
#define ARCHIVE_CITIZEN_UID(k) (((k) >> 4) & 0xFFFFF)
#define ARCHIVE_CITIZEN_STATUS(k) ((int)((k) & 15))
/* rollup_citizens.cid: the 64-bit FNV-1a hash of msisdn_hash. Two citizens
 * share one only by a 64-bit collision (about 3e-8 for a million citizens). */
uint64_t archive_citizen_id(const char *msisdn_hash);

struct archive_answer {
	const char *question_id;
	int has_value;           /* scale/choice/yesno: value; multi: one entry per chosen value,
	                          * stored as one row (value NULL, text "1 3"; docs/archive.md) */
	int value;
	const char *text;        /* free text, or NULL */
	int64_t answered_at;     /* unix seconds */
};

struct archive_survey {
	const char *survey_id;
	const char *campaign_id;
	const char *campaign_version;
	const char *transaction_id;
	const char *agency;
	const char *procedure;   /* may be NULL */
	const char *msisdn_hash; /* hex keyed hash, never the number */
	const char *channel;     /* "sms" | "ussd" */
	const char *status;      /* completed | expired | abandoned | opted_out | failed | suppressed | cancelled */
	const char *reason;      /* why failed/suppressed/cancelled, or NULL */
	int64_t triggered_at, finished_at;  /* unix seconds; stored as ISO 8601 UTC text */
	int64_t completed_at;    /* the trigger's completed_at (0 = absent) */
	int nanswers;
	const struct archive_answer *answers;
	const char *audit_of;    /* the survey this one re-checks (audit campaigns), or NULL */
	const char *contact;     /* the number sealed to audit.public_key (base64), or NULL */
	const char *cancelled_by; /* cancelled: the API token's name, else NULL */
};

/* Open (creating the schema if needed; WAL mode). Returns NULL with err
 * filled. One thread at a time may use the archive (it may change hands). */
struct archive *archive_open(const char *path, char *err, size_t errlen);

/* The archive at path for reading only (the inspecting office's commands:
 * archive verify, audit sample|compare|integrity): nothing is written, not
 * even the journal mode, so a copy kept as evidence stays as it was and one
 * on read-only media (a share, a disc) can be read. An archive whose -shm
 * cannot be made there (WAL mode on read-only media) is read as immutable.
 * NULL with err filled; *older = 1 (and NULL) when its schema is older than
 * this program's: archive_open upgrades it. */
struct archive *archive_open_readonly(const char *path, int *older, char *err, size_t errlen);
void archive_close(struct archive *a);
/* The connection, for the modules that add their own statements to the
 * archive (chain.c, audit_*.c). Borrowed: valid until archive_close. */
struct sqlite3 *archive_sqlite(struct archive *a);

/* Record the questions of a campaign version (id, position, group, type,
 * satisfied values, value range) so reports need only the database. Idempotent. */
int archive_put_campaign(struct archive *a, const struct campaign *c, char *err, size_t errlen);

/* Store n surveys in one transaction. A survey_id (or campaign_id +
 * transaction_id) already stored is left as it is, so replaying is harmless.
 * Returns the number newly inserted, -EINVAL (missing ids, bad status or
 * channel: nothing stored) or -EIO, with err filled. */
int archive_put(struct archive *a, const struct archive_survey *s, int n, char *err, size_t errlen);

/* The final state of one message sent (from its delivery receipt). */
struct archive_delivery {
	const char *smsc;
	const char *message_id;  /* as the SMSC gave it in submit_sm_resp */
	const char *survey_id;   /* NULL for messages outside a survey */
	int item;                /* question index, -1 for other messages */
	int64_t submitted_at;    /* unix seconds */
	const char *state;       /* delivered | expired | deleted | undeliverable | accepted | unknown | rejected */
	int64_t state_at;
};

/* Store delivery states in one transaction; a message already recorded keeps
 * its first state. Returns the number inserted, -EINVAL (bad record, nothing
 * written) or -EIO. */
int archive_put_deliveries(struct archive *a, const struct archive_delivery *d, int n, char *err,
                           size_t errlen);

/* A reply from a number with no survey running (issue 12's "reply from a
 * number other than the one surveyed"): its keyed hash and arrival time. */
struct archive_stray {
	const char *msisdn_hash;  /* keyed hash, never the number */
	int64_t at;               /* unix seconds */
};

/* Store stray replies in one transaction; the same (hash, second) is stored
 * once, so a replayed batch is harmless. Returns the number inserted,
 * -EINVAL (nothing written) or -EIO. */
int archive_put_strays(struct archive *a, const struct archive_stray *s, int n, char *err, size_t errlen);

/* Copies the archive at src_path to dst_path with SQLite's online backup in
 * one read transaction (WAL: a running hailongd keeps writing); the copy is
 * consistent as of one moment, checked (PRAGMA quick_check), in rollback
 * journal mode, and appears at dst_path only when whole. Never writes over an
 * existing file (-EEXIST). Returns the number of pages copied, or -errno
 * with err filled. */
int archive_backup(const char *src_path, const char *dst_path, char *err, size_t errlen);

/* Archived surveys by survey_id, or by transaction_id (within campaign_id,
 * or in any campaign when NULL): fn(arg, v) per row, v[ARCHIVE_LOOKUP_NCOLS]
 * being survey_id, campaign_id, campaign_version, transaction_id, agency,
 * procedure, channel, status, reason, triggered_at, finished_at,
 * completed_at, cancelled_by (text or NULL; never the number or its hash). Returns the
 * rows seen, or -errno (fn's negative return stops and is returned). */
#define ARCHIVE_LOOKUP_NCOLS 13
typedef int (*archive_lookup_fn)(void *arg, const char *const *v);
int archive_lookup(struct archive *a, const char *survey_id, const char *campaign_id, const char *transaction_id,
                   archive_lookup_fn fn, void *arg, char *err, size_t errlen);

/* Rollup days are local days of the zone in use (tzone.h, the config's
 * `timezone`); rollup_meta records which. archive_put rebuilds them when the
 * zone changed. archive_rollup_temp fills TEMP copies of the rollup tables
 * on a report's own (even read-only) connection, counted in the zone in use,
 * for campaign_id only: they shadow the archive's for that connection. */
int archive_rollup_temp(struct sqlite3 *db, const char *campaign_id, char *err, size_t errlen);
/* Count the rollups again now if they are in another zone than the
 * process's (what archive_put would do before its first batch). 0 or -EIO. */
int archive_rollup_sync(struct archive *a, char *err, size_t errlen);
/* The zone an archive's rollups count in, read on any connection to it
 * (TZONE_DEFAULT when not recorded). 0, or -EIO. */
int archive_rollup_zone_of(struct sqlite3 *db, char *buf, size_t cap);

/* Number of surveys stored for a campaign (NULL = all), by status (NULL = all). */
int64_t archive_count(struct archive *a, const char *campaign_id, const char *status);

#endif
