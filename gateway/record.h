/* record: how a survey is written in Redis (a hash) and handed to the archive (JSON). */
#ifndef HL_RECORD_H
#define HL_RECORD_H

#include <stdint.h>

#include <jansson.h>

#include "archive.h"
#include "campaign.h"
#include "phone.h"
#include "survey.h"


#define RECORD_ID_MAX 33
#define RECORD_FIELD_MAX 129
/* A field of words a person writes (the procedure's name: "Cấp đổi giấy
 * phép lái xe", often longer): 128 characters of up to 4 bytes each. */
#define RECORD_TEXT_CHARS 128
#define RECORD_TEXT_MAX (4 * RECORD_TEXT_CHARS + 1)

/* What a survey is about: fixed at trigger time. */
struct record_meta {
	char id[RECORD_ID_MAX];                 /* survey id (32 hex) */
	char campaign[RECORD_FIELD_MAX];
	char cver[17];                          /* campaign version it runs with */
	char msisdn[PHONE_MAX];                 /* canonical; never leaves Redis */
	char agency[RECORD_FIELD_MAX];
	char procedure[RECORD_TEXT_MAX];        /* "" = none */
	char txid[RECORD_FIELD_MAX];
	char channel[8];                        /* "sms" | "ussd" */
	char audit_of[RECORD_FIELD_MAX];        /* survey this one re-checks (audit), "" = none */
	int64_t triggered_at, completed_at;     /* unix s; completed_at 0 = absent */
	char ver[24];                           /* optimistic-lock version, "" before */
	long long sq;                           /* last item handed to the SMSC, -1 = none yet */
	long long uq;                           /* "uq": an item whose hand-over a crash left unknown (sq went
	                                         * back below it, see STORE_LUA_UNSEND), -1 = none */
	char nonce[12];                         /* "n": the nonce of the COMMIT that wrote this state ("" = none) */
	char cancelled_by[RECORD_FIELD_MAX];    /* set by a cancel (the token's name), never read from Redis */
};

/* A growable list of strings (hash field/value pairs, script arguments). */
struct record_strv {
	char **v;
	int n, cap;
};
int record_strv_add(struct record_strv *sv, const char *s);          /* copies */
int record_strv_addf(struct record_strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void record_strv_free(struct record_strv *sv);

/* Fields for a new survey hash (meta and status queued, ver 0). */
int record_meta_fields(const struct record_meta *m, struct record_strv *out);
/* Fields for the survey's state (status, position, timers, answers). */
int record_state_fields(const struct campaign *c, const struct survey *s, struct record_strv *out);
/* The same, but only what differs from before (the fields
 * record_state_fields gave for the state as read): a changed or new field
 * with its value, one gone as "" (deleted); a field unchanged is left out.
 * before NULL: every field (record_state_fields). 0 or -ENOMEM. */
int record_state_fields_since(const struct campaign *c, const struct survey *s, const struct record_strv *before,
                              struct record_strv *out);

/* Read meta from a survey hash's fields as a typed verb hands them over
 * (store.h: name, value... of an HGETALL). Returns 0, or -ENOENT for no
 * fields (no such survey), -EINVAL for a hash that lacks what it must have. */
struct store_list;
int record_meta_parse_list(const struct store_list *l, struct record_meta *m);
/* Read the state (answers matched by question id) from the same fields.
 * The survey must be survey_init()ed; it takes ownership of answer texts. */
int record_state_parse_list(const struct store_list *l, const struct campaign *c, struct survey *s);

/* The archive record of a finished survey (JSON text, malloc'd). msisdn_hash
 * is the keyed hash; reason may be NULL. */
char *record_archive_json(const struct record_meta *m, const struct campaign *c,
                          const struct survey *s, const char *msisdn_hash, const char *reason);
/* Parse one archive record into *out, whose strings point into *holder (keep
 * it until archive_put returned, then json_decref) and whose answers array is
 * malloc'd (free it). Returns 0 or -EINVAL. */
int record_archive_parse(const char *json, json_t **holder, struct archive_survey *out);

/* ISO 8601 UTC "2026-11-21T10:00:00Z" <-> unix seconds. */
void record_iso8601(int64_t t, char out[21]);
/* Accepts "YYYY-MM-DDThh:mm:ss" with "Z", "+hh:mm" or no zone (= UTC), and
 * fractional seconds. Returns 0 or -EINVAL. */
int record_parse_time(const char *s, int64_t *out);

#endif
