/* gw_int: what the gateway core's files (gw.c, gw_*.c) share: the gateway struct,
 * its counters, and the verbs one job offers another. Not for other modules. */
#ifndef HL_GW_INT_H
#define HL_GW_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "campaign.h"
#include "config.h"
#include "archiver.h"
#include "esme.h"
#include "phone.h"
#include "gw.h"
#include "record.h"
#include "store.h"
#include "survey.h"

#define GW_TX_TTL (400 * 86400)     /* how long a transaction id stays idempotent */
#define GW_TX_PERIOD (100 * 86400)  /* survey ids are kept in one hash per period (hl:i:): a trigger looks in 5 */
#define GW_MAX_CAMPAIGNS 64       /* campaign files in the folder */
#define GW_MAX_VERSIONS 256       /* campaign versions kept in memory (current + retired) */
#define GW_RETIRE_MARGIN 3600     /* a replaced version is kept expire_after + this long */
#define GW_PUMP_BATCH 200
#define GW_POP_MAX 32   /* surveys taken from the queue in one round trip */
#define GW_ARCHIVE_BATCH 500
#define GW_DUE_LEASE 60
#define GW_TAKE_MAX 32            /* messages taken from an outbox in one round trip */
#define GW_LAST_TTL (400 * 86400) /* how long hl:c:{msisdn} is kept (resurvey_after) */
#define GW_NOTICE_TTL 86400       /* a reply without a survey is answered once per day */
#define GW_RECENT_END (6 * 3600)  /* a reply this soon after the survey ended gets no notice */

/* ---- Redis keys, all in one place (what each holds is written in store_lua.c) ---- */
#define GW_K_QUEUE "hl:queue"            /* ids waiting for their first item */
#define GW_K_DUE "hl:due"                /* + ":{second}": list of surveys due then (a number or an
                                          * id, store_lua.c); + "b": zset of those
                                          * lists (store_lua.c); alone: the zset of older versions */
#define GW_K_NDUE "hl:ndue"              /* how many surveys have a timer (store_lua.c) */
#define GW_K_ARCHIVE "hl:archive"        /* finished surveys (JSON) for SQLite */
#define GW_K_ARCHIVE_BAD "hl:archive:bad" /* records the archive pump could not read, kept */
#define GW_K_DELIVERIES "hl:deliveries"  /* first final receipts for SQLite */
#define GW_K_OPTOUT "hl:optout"          /* set of keyed hashes of citizens who opted out */
#define GW_K_MOSETS "hl:mosets"          /* zset of concatenated MO sets -> last part */
#define GW_K_INSTANCES "hl:instances"    /* set of gateway instance ids */
#define GW_K_HELDSEQ "hl:heldseq"        /* counter that orders held messages */
#define GW_K_RUNNING "hl:nrunning"       /* how many surveys are running (store_lua.c) */
#define GW_K_RUNNING_OK "hl:nrunning:ok" /* hl:nrunning was counted from the survey hashes */
#define GW_K_USSD "hl:ussd:sessions"    /* zset msisdn -> when its open USSD session times out */
/* prefixes, followed by what the comment says */
#define GW_K_SURVEY "hl:s:"              /* survey id: a survey not started yet (or started by an older
                                          * version); a running one is in its citizen's hash */
#define GW_K_IDX "hl:i:"                 /* period: hash survey id (raw) -> number (store_lua.c, Lua only) */
#define GW_K_TX "hl:tx:"                 /* campaign:transaction: survey id (older versions; read) */
#define GW_K_TXP "hl:t:"                 /* campaign:period: hash transaction -> survey id (older
                                          * versions; read, and its prefix names the campaign) */
#define GW_K_CITIZEN "hl:c:"             /* msisdn: hash, the running survey ("a" its id) or "l"
                                          * "start:end" of the last one (the scripts take it as both
                                          * keys below) */
#define GW_K_ACTIVE GW_K_CITIZEN         /* msisdn: the running survey (field "a") */
#define GW_K_WAIT "hl:wait:"             /* msisdn: the next surveys */
#define GW_K_LAST GW_K_CITIZEN           /* msisdn: "start[:end]" of the last survey (field "l") */
#define GW_K_ORPHAN "hl:orphan:"         /* msisdn: the no-survey notice was sent today */
#define GW_K_ORPHAN_STOP "hl:orphan:stop:" /* msisdn: the same for a HUY/STOP */
#define GW_K_OUTBOX "hl:outbox:"         /* smsc: messages to send */
#define GW_K_HELD "hl:held:"             /* smsc: messages held by quiet hours */
#define GW_K_SENDING "hl:sending:"       /* smsc:inst: messages one gateway handed over */
#define GW_K_STARTING "hl:starting:"     /* inst: ids one gateway took from the queue */
#define GW_K_ARCHIVING "hl:archiving:"   /* inst: records one gateway is archiving */
#define GW_K_DTAKING "hl:deliveries:taking:" /* inst: receipts one gateway is archiving */
#define GW_K_INST "hl:inst:"             /* inst: the lease */
#define GW_K_MSG "hl:msg:"               /* smsc:message id: a sent message until its receipt */
#define GW_K_MO "hl:mo:"                 /* smsc:from:to:ref:total: parts of a long MO */
#define GW_K_OPTREADY "hl:optout:ready:" /* inst: hl:optout holds this gateway's archived opt-outs */
/* the lists of the older single-process layout, put back at start */
#define GW_K_OLD_STARTING "hl:starting"
#define GW_K_OLD_ARCHIVING "hl:archiving"

/* Counters for /metrics. */
enum gw_counter {
	GW_TRIG_NEW, GW_TRIG_DUP, GW_TRIG_BAD, GW_TRIG_UNAVAIL,
	GW_MO, GW_MO_ORPHAN, GW_MO_RETRY, GW_MO_EARLY, GW_MO_AFTER_END, GW_MO_PARTS_EXPIRED, GW_LEASE_LOST, GW_LEASE_TAKEN, GW_MT_SENT, GW_MT_FAILED, GW_MT_STALE,
	GW_STARTED, GW_ARCHIVED, GW_REDIS_ERR,
	GW_HELD, GW_DEFERRED, GW_NOTICES, GW_RELOADS, GW_RELOAD_ERR, GW_SMS_TRIG,
	GW_USSD_OPENED, GW_USSD_COMPLETED, GW_USSD_TIMED_OUT, GW_USSD_RESUMED, GW_USSD_RELEASED,
	GW_USSD_INVITES,
	GW_OPTOUT_RESTORES,
	GW_MO_CACHED,
	GW_MO_LOST_COMMIT, GW_MO_REDELIVERED, GW_MO_ECHO, GW_MO_UNSURE_ITEM,
	GW_MT_DIRECT, GW_MT_QUEUED, GW_MT_OUTBOX,
	GW_NCOUNTERS
};

/* A latency histogram for /metrics (gw_gauges.c): cumulative buckets. */
#define GW_HIST_NB 15
extern const double gw_hist_le[GW_HIST_NB]; /* bucket bounds, seconds */
struct gw_hist {
	uint64_t b[GW_HIST_NB];
	uint64_t count;
	double sum;
};
#define GW_REPLY_SLOTS 1024 /* replies waiting for their next question (direct-mapped) */
struct gw_reply_at {
	uint64_t key;          /* gw_hash64 of the survey id */
	double at;             /* monotonic s; 0 = none */
};

/* A message handed to an esme, until its outcome is known. */
struct gw_inflight {
	uint64_t tag;
	uint64_t hash;         /* of json (gw_in_hand compares these first) */
	int smsc;              /* index in g->esme */
	char *json;            /* the outbox entry, to remove from hl:sending */
	char survey[RECORD_ID_MAX]; /* the survey of a survey's item, else "" */
	int q;                 /* the item it asks (-1 = an end message) */
	int first;             /* the survey's first item */
	int prev;              /* sq before its COMMIT sent it at once (the entry's "p") or its TAKE took it, -2 = none */
	uint64_t to;           /* gw_hash64 of the number it goes to */
	double handed_at;      /* monotonic s, when handed to the esme */
	int batching;          /* a removal whose SENT is in a batch (gw_batch.c): not the sweep's */
	int sweeping;          /* a removal whose LREM the lease tick's sweep sent: its reply decides */
	struct gw_inflight *next;
};

/* A survey step prepared for COMMIT (gw_step.c): its keys and arguments,
 * and what to do once it is stored. */
#define GW_MOQ_BUCKETS 1024
struct gw_mojob;
struct gw_unsure;
#define GW_NO_PREV (-2LL) /* gw_outbox_entry: no "p" (sq before) in the entry */
struct gw_commit {
	const char *keys[13];
	int nkeys;
	struct record_strv a;      /* ARGV */
	char k_s[64], k_act[48], k_wait[48], k_out[96], k_held[96], k_last[48], k_send[160];
	char id[RECORD_ID_MAX], campaign[RECORD_FIELD_MAX], msisdn[PHONE_MAX], reason[128];
	enum survey_status status;
	int finished, first, nout, nmsg, hold, ussd, ussd_push;
	int q;                     /* the item it asks next (-1: none, it ends) */
	int smsc;                  /* the session its messages go to */
	int64_t last_at;           /* the survey's last_at after the step */
	int handed;                /* gw_commit_done: messages handed to the session at once */
	int direct;                /* SMSC index its messages go to at once, -1 = the outbox */
	char **entries;            /* its nout outbox entries */
	char prev_sq[24];          /* direct: the survey's sq before, for PUTBACK */
	double t_reply;            /* the reply that asked for this step came then (0 = none) */
	char nonce[12];            /* written as "n" with the state: whether a COMMIT whose reply was lost ran */
	struct gw_commit *next;    /* g->committing */
};

/* A record for Redis that could not be written while it was away. */
struct gw_unkept {
	char *key, *val;
	char *send_key, *entry; /* its sending list and entry: written only if still there (KEEP); NULL = always */
	int sweeping;           /* its write is on its way (the lease tick's sweep) */
	struct gw_unkept *next;
};

/* One loaded campaign version. The current version of an id takes new
 * surveys; a replaced one stays until retire_at for the surveys that started
 * with it (they run at most expire_after). */
struct gw_camp {
	struct campaign *c;    /* owned */
	int current;           /* 1 = the version new surveys use */
	int64_t retire_at;     /* not current: freed after this (unix s) */
};

struct gw_ussd_timers;

/* How an outbox entry goes out as a USSD screen: op < 0 = an SMS. */
struct gw_ussd_out {
	int op;
	int has_sess; uint8_t sess[2];
	int has_umr; uint16_t umr;
};

/* The USSD session of an MO (gw_ussd.c): the screens its step writes go
 * back on the link it came from, as ussr_request / pssr_response, echoing
 * its session TLVs. A USSD MO's job carries its own (gw_mo.c) and hands it
 * to gw_commit_prepare_u / gw_notice_async_u; g->ussd is the context of the
 * steps written outside any MO (active = 0; the due tick's invite). */
struct gw_ussd_ctx {
	int active;
	int smsc;              /* the link it came on */
	int has_sess; uint8_t sess[2]; /* its_session_info to echo */
	int has_umr; uint16_t umr;     /* user_message_reference to echo */
	int invite;            /* gw_due_cb: the step's message is the invite SMS */
};

struct gw {
	struct event_base *base;
	struct gw_ussd_ctx ussd;              /* steps outside an MO: see struct gw_ussd_ctx */
	const struct config *cfg;
	struct gw_camp camps[GW_MAX_VERSIONS];
	int ncamps;
	char inst[17];                        /* this gateway's instance id (hash of host and http.listen) */
	char k_starting[48], k_archiving[48], k_lease[40];
	char k_dtaking[64];     /* our deliveries being archived */
	char lease_where[96];   /* boot id and pid namespace of this process, in the lease ("" = unknown) */
	uint64_t receipts[ESME_DLR_REJECTED + 1]; /* first final receipt per message, by state */
	uint64_t dlr_seen[4096];  /* hashes of messages whose receipt was handled (direct-mapped) */
	int registered;                       /* the lease was written once */
	uint64_t renewals;                    /* lease renewals: the lease's value changes each time */
	double redis_since;                   /* leases renewed without a gap since (monotonic s; 0 = not yet) */
	double last_renew;                    /* last lease renewal (monotonic s) */
	unsigned long lease_conn;             /* store_connects() at the last renewal */
	int bare_renewing;                    /* renewals sent on their own while a tick runs (gw_lease_cb) */
	int reclaim_pending;                  /* the lease ran out: take back what peers left */
	struct gw_tick *tick;                 /* the lease tick on its way (gw_lease.c), NULL = none */
	int tick_again;                       /* Redis was reached again while it was: one more after it */
	int outbox_after_renew;               /* the outbox pump waits for the tick's renewal */
	struct store *store;
	struct archive *archive;              /* the loop's connection: campaigns only */
	struct archiver *archiver;            /* surveys and receipts are written on its thread */
	int arch_turn;                        /* 1 = deliveries next, 0 = surveys */
	int arch_taking;                      /* an ARCHIVE_TAKE on its way (asynchronous connection) */
	double arch_rest_until;               /* after a small batch: the next waits until then (monotonic s),
	                                       * or the 200 ms tick (gw_archpump.c) */
	int arch_dels;                        /* DELs of written batches on their way */
	uint64_t arch_fails;                  /* writes failed in a row (disk full, read-only, locked) */
	double arch_fail_logged;              /* when the last of them was logged (monotonic s) */
	int due_claiming;                     /* a DUE_CLAIM on its way (gw_due.c) */
	int due_jobs;                         /* claimed surveys whose step is on its way */
	int due_more;                         /* the last claim was full: claim again when they are done */
	struct esme *esme[CONFIG_MAX_SMSC];
	int nesme;
	int bound[CONFIG_MAX_SMSC];
	struct timespec send_after[CONFIG_MAX_SMSC]; /* no items before this after a (re)bind (monotonic) */
	double parts_avg[CONFIG_MAX_SMSC];   /* SMS parts per message sent lately (sizes TAKE) */
	int reserved[CONFIG_MAX_SMSC];       /* room promised to steps being committed (direct) and to TAKEs on their way */
	int taking[CONFIG_MAX_SMSC];         /* a TAKE on its way (its entries may be in our sending list, in no session) */
	int take_again[CONFIG_MAX_SMSC];     /* the outbox was poked while it was: TAKE again after its reply */
	unsigned out_pushes[CONFIG_MAX_SMSC]; /* messages we put in the outbox (gw_outbox_pushed) */
	int out_backlog[CONFIG_MAX_SMSC];    /* the outbox may hold messages (we pushed one, or the last
	                                      * TAKE filled up): steps wait their turn there rather than
	                                      * in the session's queue (gw_direct_smsc) */
	double take_at[CONFIG_MAX_SMSC];     /* when the TAKE on its way was sent (gw_clock) */
	double sweep_at[CONFIG_MAX_SMSC];    /* the last sweep of our sending list (gw_sweep_judge) */
	uint64_t *unheld[CONFIG_MAX_SMSC];   /* hashes of the entries it found held by no session */
	size_t nunheld[CONFIG_MAX_SMSC];
	int closing;                         /* gw_free has begun: replies coming now hand nothing to a session */
	struct gw_commit *committing;        /* steps whose COMMIT is on its way */
	struct gw_mojob *moq[GW_MOQ_BUCKETS]; /* replies being handled, by number (gw_mo.c) */
	int mo_sweeping;                      /* a MOSWEEP is on its way (gw_moparts.c) */
	size_t mo_jobs;
	int pop_busy;                        /* a POP is on its way (gw_survey.c) */
	int pop_again;                       /* woken while it was: POP again after its reply */
	unsigned optout_restores;            /* opt-outs restored into Redis so far (gw_optout.c) */
	int starts_pending;                  /* STARTs on their way */
	int mo_paused;                       /* backpressure: the sessions are not read */
	struct gw_mocache **mocache;         /* surveys as last committed, by number (gw_mo.c) */
	struct gw_unsure **unsure;           /* replies whose COMMIT's answer was lost (gw_mo.c) */
	size_t nunsure;
	unsigned esme_epoch[CONFIG_MAX_SMSC]; /* moves when a slot's session is freed (re-bind) */
	struct gw_batchq *batchq;            /* SENT and receipts of this loop pass (gw_batch.c) */
	struct event *ev_batch;
	unsigned char hash_key[crypto_generichash_KEYBYTES]; /* key of msisdn_hash */
	struct event *ev_queue, *ev_outbox, *ev_due, *ev_archive, *ev_lease;
	struct gw_ussd_timers *ussd_t; /* USSD session timeouts (gw_ussd.c); NULL = no ussd: link */
	struct gw_inflight *inflight;
	struct gw_inflight *removals; /* sent, but their hl:sending entry could not be removed yet */
	struct gw_unkept *unkept;     /* hl:msg records that could not be written yet */
	uint64_t next_tag;
	uint64_t counters[GW_NCOUNTERS];
	uint64_t finished[SURVEY_NSTATUS];   /* by status */
	int shutting_down, pending_shutdown;
	struct gw_rebind *rebinding[CONFIG_MAX_SMSC]; /* SIGHUP: the old session of a changed entry, draining (gw_reload.c) */
	/* latency histograms (gw_gauges.c) */
	struct gw_hist h_submit, h_reply;
	struct gw_reply_at reply_at[GW_REPLY_SLOTS];
	/* opt-outs (gw_optout.c) */
	char k_optready[48];
	struct event *ev_optout;
	int64_t optout_seq;     /* the archive's opt-out change log applied up to here */
	int optout_blocked;     /* hl:optout could not be restored: no survey starts */
	struct gw_restore *restoring; /* a restore on its way (gw_optout.c), NULL = none */
	int optout_checking;    /* the marker's EXISTS, a restore or the changes on their way */
	char (*lost_starts)[RECORD_ID_MAX]; /* STARTs whose reply was lost: back in line at the lease tick */
	size_t nlost_starts;
	void (*done)(void *);
	void *done_arg;
};

extern const char *const gw_dlr_names[ESME_DLR_REJECTED + 1]; /* receipt states as DLR stores them */
extern const struct esme_cbs gw_esme_cbs; /* what the SMSC sessions tell the gateway (gw_pumps.c) */

/* gw.c: clock, routing */
int64_t gw_now(void);
int gw_route(const struct gw *g, const char *msisdn);

/* gw_campaigns.c */
int gw_load_campaigns(struct gw *g, int initial, char *err, size_t errlen);
void gw_retire_campaigns(struct gw *g, int64_t now);
const struct campaign *gw_campaign(const struct gw *g, const char *id, const char *ver);
int gw_hash_key(struct gw *g, char *err, size_t errlen);
void gw_msisdn_hash(const struct gw *g, const char *msisdn, char out[65]);

/* gw_step.c: keys, committing a step, reading a survey back */
void gw_key(char *out, size_t cap, const char *prefix, const char *id);
uint64_t gw_hash64(const char *s);
/* n random bytes (a per-thread pool refilled from the kernel; see gw.c). */
void gw_random(void *out, size_t n);
void gw_sending_key(const struct gw *g, int smsc, char *out, size_t cap);
int gw_commit_prepare(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                      struct survey_out *o, const char *expect_ver, const char *reason, int first,
                      struct gw_commit *k);
/* The same for a step a USSD MO asks for (u: its session; gw_commit_prepare
 * uses g->ussd); before: the state fields as read (record_state_fields), so
 * that only what the step changed is written (the COMMIT's version check
 * makes sure nothing else wrote them meanwhile), NULL = write them all. */
int gw_commit_prepare_u(struct gw *g, const struct gw_ussd_ctx *u, const struct record_meta *m,
                        const struct campaign *c, struct survey *s, struct survey_out *o, const char *expect_ver,
                        const char *reason, int first, const struct record_strv *before, struct gw_commit *k);
void gw_commit_clear(struct gw *g, struct gw_commit *k);
int gw_commit_done(struct gw *g, struct gw_commit *k, int rc, long long v, const char *err);
int gw_commit_async(struct gw *g, struct gw_commit *k, store_int_cb cb, void *arg);
/* A survey ended before (or instead of) its next item (status st, reason:
 * suppressed, failed, cancelled...), on the asynchronous connection: its COMMIT prepared in
 * k (the caller's, kept until cb) and sent; cb(arg, rc, v, err) is called
 * later and hands them to gw_commit_done(g, k, ...). 0 when sent; -ENOMEM,
 * or -EIO with k finished as unreachable (cb not called). */
int gw_finish_early_async(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                          enum survey_status st, const char *reason, struct gw_commit *k, store_int_cb cb,
                          void *arg);

/* gw_finish.c: surveys ended early on the asynchronous connection, nothing
 * awaited (a lost reply is counted and logged; what it should have ended
 * comes back by the usual ways) */
/* gw_finish_early_async with its own commit: starting = the survey is on
 * our starting list (counted as a start on its way; named for the lease
 * tick's UNCLAIM when its reply is lost). */
void gw_finish_later(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                     enum survey_status st, const char *reason, int starting);
/* A running survey that cannot be read (rc -ESRCH: its campaign version is
 * gone, -EINVAL) archived failed, its citizen released. */
void gw_fail_broken(struct gw *g, struct record_meta *m, const struct campaign *c, struct survey *s,
                    int rc, const char *msisdn);
/* The SMSC refused item q of survey id for good: LOAD, and archived failed
 * with reason if it still waits for that item (first: and nothing was
 * answered). */
void gw_item_failed(struct gw *g, const char *id, int q, int first, const char *reason);
/* The running survey ACTIVE's reply a names: id (RECORD_ID_MAX bytes), m, c,
 * s loaded as gw_parse_survey does (0, -ENOENT when it finished meanwhile:
 * look again, or another error); 1 when a names none (nothing loaded: s is
 * not to be cleared). */
int gw_active_read(struct gw *g, const struct store_active *a, char *id, struct record_meta *m,
                   const struct campaign **c, struct survey *s);
/* Read a survey from its hash's fields (name, value...: an HGETALL): meta,
 * its campaign and its state. Returns 0, -ENOENT (gone: no fields) or
 * -EINVAL / -ESRCH (a record we cannot read; -ESRCH: meta read, but no
 * version of its campaign is loaded, *c NULL). */
int gw_parse_survey(struct gw *g, const char *id, const struct store_list *fields, struct record_meta *m,
                    const struct campaign **c, struct survey *s);
/* LOAD of survey id sent on the asynchronous connection, and
 * cb(arg, rc, l, err) called later, which reads it with gw_load_read; or
 * -EIO / -ENOMEM now (cb not called). */
int gw_load_async(struct gw *g, const char *id, store_list_cb cb, void *arg);
/* What LOAD answered (rc, l, err as a store_list_cb has them): -EIO
 * (counted and logged) or gw_parse_survey's. */
int gw_load_read(struct gw *g, const char *id, int rc, const struct store_list *l, const char *err,
                 struct record_meta *m, const struct campaign **c, struct survey *s);
/* A message to a number outside any survey (answers to a reply without a
 * survey, to an SMS trigger), on the asynchronous connection: at most once
 * per GW_NOTICE_TTL per `marker` key when one is given; optout = record the
 * number as opted out. 0 = done(g, arg, rc) is called later with 1 (sent),
 * 0 (not needed: sent already within GW_NOTICE_TTL) or -EIO; < 0 = not sent
 * (done not called). */
typedef void (*gw_notice_fn)(struct gw *g, void *arg, int rc);
int gw_notice_async(struct gw *g, const char *msisdn, const char *text, const char *marker, int optout,
                    gw_notice_fn done, void *arg);
/* The same inside a USSD session u (u->active: the final screen on its link,
 * every time; u NULL or inactive = gw_notice_async). */
int gw_notice_async_u(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn, const char *text,
                      const char *marker, int optout, gw_notice_fn done, void *arg);
char *gw_outbox_entry(const char *survey, const char *to, enum text_encoding enc, const char *text,
                      int first, int q, const struct gw_ussd_out *u, long long prev);

/* gw_trigger.c */
/* An MO read from session e, from a whitelisted agency number and starting
 * with the keyword, is a trigger (config `sms_triggers`: number, agency,
 * campaign), stored on the asynchronous connection: 1 when it was one (the
 * deliver_sm is answered when its TRIGGER and the answer to the office
 * are stored, or at once with ESME_RX_T_APPN), 0 when not. */
int gw_sms_trigger_async(struct gw *g, struct esme *e, uint64_t token, const char *from, const char *text);
/* The same, the deliver_sm's answer handed to done(g, darg, status) instead
 * (a long MO's last part, gw_moparts.c). */
typedef void (*gw_sms_done_fn)(struct gw *g, void *arg, uint32_t status);
int gw_sms_trigger_then(struct gw *g, struct esme *e, uint64_t token, const char *from, const char *text,
                        gw_sms_done_fn done, void *darg);

/* gw_survey.c */
void gw_queue_cb(evutil_socket_t fd, short what, void *arg);
/* 1 while a POP or a START is on its way (our hl:starting is theirs). */
int gw_starts_busy(const struct gw *g);
#define GW_LOST_STARTS_MAX 4096 /* more lost at once wait for a moment without starts */
/* What gw_mo_judge makes of ACTIVE's reply for an MO. */
enum { GW_MO_DONE, GW_MO_AGAIN, GW_MO_FEED, GW_MO_STORED, GW_MO_NOTICE };
/* What ACTIVE's reply a means for an MO of msisdn: GW_MO_DONE (answer it
 * with *status), GW_MO_AGAIN (the survey finished meanwhile: look again),
 * GW_MO_FEED (m, c, s loaded: feed the text) or GW_MO_NOTICE (no survey
 * running: gw_no_survey_async answers it).
 * GW_MO_STORED: the reply was stored by a COMMIT whose answer was lost
 * (answer it ROK; the survey now waits on item m->sq: replies of the same
 * number that came before that item left answer nothing). */
int gw_mo_judge(struct gw *g, struct esme *e, const char *msisdn, const char *text, const struct store_active *a,
                struct record_meta *m, const struct campaign **c, struct survey *s, uint32_t *status);
/* A reply from a number with no survey running: HUY/STOP records the
 * opt-out and is confirmed; anything else gets the built-in answer. Either
 * at most once per day. As gw_notice_async: < 0 when Redis could not take
 * it (an opt-out would be lost: answer ESME_RX_T_APPN, the SMSC delivers it
 * again). */
int gw_no_survey_async(struct gw *g, const char *msisdn, const char *text, gw_notice_fn done, void *arg);
/* The same answering a USSD MO of session u (a final screen on its link). */
int gw_no_survey_async_u(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn, const char *text,
                         gw_notice_fn done, void *arg);
/* 1 when text is HUY/STOP (any case, any accents). */
int gw_is_stop(const char *text);
/* The first step of every MO after the SMS trigger's (gw_sms_trigger_async):
 * a number that is not a mobile one (ignored, *status set, returns 1), else
 * 0 with the canonical number in msisdn. */
int gw_mo_front(struct gw *g, struct esme *e, const char *from, char *msisdn,
                uint32_t *status);
/* gw_mo.c: a reply on the asynchronous connection; answers it. */
void gw_mo_async(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, const char *text,
                 double t_reply);
/* The same, but when its effect is stored (status 0) or cannot be (another
 * status), done(g, arg, status) is called instead of answering the
 * deliver_sm (a long MO's last part: gw_moparts.c). done is called exactly
 * once, possibly from inside this call. */
typedef void (*gw_mo_done_fn)(struct gw *g, void *arg, uint32_t status);
void gw_mo_async_then(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, const char *text,
                      double t_reply, gw_mo_done_fn done, void *arg);
/* Keeps a reply's place in its number's line before its text is known (a
 * long MO's part whose MOPART is on its way): the number's later replies
 * wait behind it. gw_mo_go(j, text) then handles it as gw_mo_async_then
 * would (done called at its end), or, text NULL, gives the place up (done
 * not called). NULL when out of memory. */
struct gw_mojob;
struct gw_mojob *gw_mo_hold(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, double t_reply,
                            gw_mo_done_fn done, void *arg);
void gw_mo_go(struct gw_mojob *j, const char *text);
/* A USSD MO of session u in its number's line (gw_ussd.c says which kind):
 * answered as gw_mo_async does, once what it asks for is stored. */
enum { GW_MOJ_REPLY = 0, /* an answer: read as an SMS reply, the next screen in the session */
	GW_MOJ_DIAL,     /* the service code: the screen where the survey stands (gw_ussd_dial_prepare) */
	GW_MOJ_NONE,     /* another code: the final "no survey" screen */
	GW_MOJ_RELEASE   /* the network released the session: its timer goes */
};
void gw_mo_ussd(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, const char *text,
                double t_reply, const struct gw_ussd_ctx *u, int kind);
size_t gw_mo_pending(const struct gw *g);
void gw_mo_free(struct gw *g);
/* Forget every cached survey (sq may have gone back: our lists given back). */
void gw_mo_cache_clear(struct gw *g);
/* The survey (m as read, s after the step) as a COMMIT that succeeded just
 * left it; sq: the item handed to the SMSC with it, -1 = not known. */
void gw_mo_cache_put(struct gw *g, const char *msisdn, const struct record_meta *m, const struct survey *s,
                     long long sq);
/* A reply whose COMMIT (nonce) may have run though its answer was lost: the
 * reply is answered "not stored" and the SMSC delivers it again. If the
 * survey then still carries that nonce, the COMMIT ran: the reply is
 * acknowledged, not fed again (it would answer the next item). */
/* Logs and counts a reply survey_feed ignored as a repeat (o.echo). */
void gw_mo_echo_note(struct gw *g, const char *mask, const char *id, int q);
void gw_mo_unsure_add(struct gw *g, const char *msisdn, const char *text, const char *nonce, const char *survey);
/* The reply is stored for sure (a later COMMIT of it succeeded). */
void gw_mo_unsure_forget(struct gw *g, const char *msisdn, const char *text);
/* 1 (and forgotten) when m is the state a lost COMMIT of this very reply
 * wrote, or names another survey than the one it was fed to (m NULL: none
 * is running): the reply is not fed again. */
int gw_mo_unsure_took(struct gw *g, const char *msisdn, const char *text, const struct record_meta *m);
void gw_on_mo(void *arg, struct esme *e, uint64_t token, const char *from, const char *text,
              const struct smpp_sm *sm);
void gw_on_mo_part(void *arg, struct esme *e, uint64_t token, const struct smpp_sm *sm,
                   uint32_t ref, int total, int seq, const uint8_t *bytes, size_t n);
void gw_mo_sweep(struct gw *g);
void gw_due_cb(evutil_socket_t fd, short what, void *arg);

/* gw_pumps.c */
void gw_outbox_cb(evutil_socket_t fd, short what, void *arg);
/* Hands entries a COMMIT put straight into our sending list to session i;
 * what it cannot take goes back to the outbox (PUTBACK, sq back to prev). */
/* 1 when item q of the survey is in one of our sessions' queues, asked
 * for the first time (its COMMIT raised sq to it) and not written to the
 * SMSC yet: a reply now cannot answer it. */
int gw_item_unsent(struct gw *g, const char *survey, int q);
/* The same looked up by number, when a reply comes: the survey (survey,
 * RECORD_ID_MAX bytes) and item of such an item waiting for msisdn, 1; else
 * 0. */
int gw_item_unsent_to(struct gw *g, const char *msisdn, char *survey, int *q);
/* We put messages in SMSC smsc's outbox (a step through the outbox, a
 * notice, a release, a put-back or give-back, a peer's reaped list): the
 * outbox has something waiting, and the next steps take their turn behind
 * it until a TAKE sent after this finds it empty (gw_direct_smsc). smsc -1:
 * every SMSC's. */
void gw_outbox_pushed(struct gw *g, int smsc);
int gw_submit_now(struct gw *g, int i, char **entries, int n, const char *prev_sq); /* how many handed */
/* At a clean stop, before the sessions are freed: the messages still
 * waiting in their queues, none of whose parts was written to the SMSC, go
 * back to the head of their outbox in order with their survey's "sq" as it
 * was (PUTBACK), so that the REAP that follows does not note them as items
 * that may have reached the citizen ("uq"): they did not. */
void gw_putback_unsent(struct gw *g);
/* The same for session e of slot i alone (a reload's old session, drained). */
void gw_putback_unsent_on(struct gw *g, int i, const struct esme *e);
/* 1 when a step being committed will hand this entry to session smsc. */
int gw_committing_has(const struct gw *g, int smsc, const char *entry);
void gw_unkept_free(struct gw_unkept *k);
int gw_esme_index(const struct gw *g, const struct esme *e);
/* Answers a deliver_sm taken from session slot i while it was at epoch:
 * dropped (the SMSC delivers it again) when that session was freed since. */
void gw_answer(struct gw *g, int i, unsigned epoch, uint64_t token, uint32_t status);
void gw_unkept_add(struct gw *g, const char *key, const char *val, const char *send_key, const char *entry);
int gw_unkept_has(const struct gw *g, const char *key);

/* gw_batch.c: submit_sm_resp and receipts written once per loop pass */
struct gw_batchq;
int gw_batch_sent(struct gw *g, int smsc, const char *entry, uint64_t hash, const char *k_msg, const char *val);
void gw_batch_receipt(struct gw *g, struct esme *e, uint64_t token, int smsc, const char *key, const char *msgid,
                      enum esme_dlr state, uint64_t h);
void gw_batch_flush(struct gw *g);
void gw_batch_free(struct gw *g);
void gw_archive_cb(evutil_socket_t fd, short what, void *arg);
void gw_arch_done(void *arg, void *job, int rc, const char *err);
void gw_archive_flush(struct gw *g);

/* gw_ussd.c: USSD sessions (docs/ussd.md) */
int gw_ussd_route(const struct gw *g, const char *msisdn);
int gw_ussd_check_campaign(const struct gw *g, const struct campaign *c, char *err, size_t errlen);
void gw_ussd_out_for(const struct gw_ussd_ctx *x, const struct config *cfg, int smsc, int final,
                     struct gw_ussd_out *u);
int gw_ussd_on_mo(struct gw *g, struct esme *e, uint64_t token, const char *from, const char *text,
                  const struct smpp_sm *sm);
/* A USSD survey's timer step (survey_tick's o): its COMMIT prepared in k
 * (gw_commit_prepare), a reminder turned into the SMS inviting the citizen
 * to dial (*invite 1). 0, or -ENOMEM. */
int gw_ussd_due_prepare(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                        struct survey_out *o, struct gw_commit *k, int *invite);
void gw_ussd_step(struct gw *g, int smsc, const char *msisdn, int finished, int completed, int pushed_first,
                  int nmsg, int64_t last_at);
int gw_ussd_dial_prepare(struct gw *g, const struct gw_ussd_ctx *u, int rc, const char *msisdn,
                         struct record_meta *m, const struct campaign *c, struct survey *s, struct gw_commit *k);
void gw_ussd_dial_done(struct gw *g, int smsc, const char *msisdn, const char *id, long long sq);
int gw_ussd_none_async(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn, int dial,
                       gw_notice_fn done, void *arg);
void gw_ussd_release(struct gw *g, const char *msisdn);
int gw_ussd_start(struct gw *g);
void gw_ussd_stop(struct gw *g);

/* gw_optout.c: opt-outs restored from the archive and kept in step with it */
#define GW_OPTOUT_REC_PREFIX "{\"optout\":" /* an opt-out record in hl:archive starts so */
char *gw_optout_record(const char *hash, int64_t at, const char *source);
/* gw_stray.c: a reply from a number without a survey, kept by hash in the
 * archive ({"stray":HASH,"at":N} in hl:archive; docs/audit.md). */
#define GW_STRAY_REC_PREFIX "{\"stray\":"
char *gw_stray_record(const char *hash, int64_t at);
void gw_stray_note(struct gw *g, const char *msisdn);
struct gw_restore;
/* At start (before the loop), on the synchronous connection: hl:optout
 * filled again from the archive, then our marker. 0 or -EIO. */
int gw_optout_restore(struct gw *g);
/* The same on the loop, on the asynchronous connection; fn(arg, rc) is
 * called once when it ends (one restore at a time: a caller that comes
 * while one is on its way waits for it). 0, or -EIO/-ENOMEM and fn is
 * never called. */
typedef void (*gw_restored_fn)(void *arg, int rc);
int gw_optout_restore_async(struct gw *g, gw_restored_fn fn, void *arg);
/* Our marker looked for (restored when it is gone), then the operator's
 * changes applied (every 5 s, and on SIGHUP): asynchronous, one at a time. */
void gw_optout_check(struct gw *g);
void gw_optout_cb(evutil_socket_t fd, short what, void *arg);

/* gw_gauges.c: gauges and histograms for /metrics */
double gw_clock(void);
void gw_hist_observe(struct gw_hist *h, double s);
void gw_reply_mark(struct gw *g, const char *survey, double at);
void gw_reply_sent(struct gw *g, const char *survey, double now);
/* gw.c: the counters' text of /metrics, with the gauges' text after them
 * (NULL: none); malloc'd, NULL without memory. */
char *gw_metrics_text(struct gw *g, const char *gauges);

/* gw_reload.c */
void gw_rebind_free(struct gw *g);

/* gw_lease.c */
/* REAP on the synchronous connection (start, exit). */
long long gw_reap(struct gw *g, const char *inst, int force);
/* The sweep's judgement of session i's sending list as r lists it (read
 * when `at` was): give(g, i, k_send, k_out, entry, arg) for each copy held
 * by no session, at once (a reload's sweep, gw_reload.c) or when the sweep
 * before saw it so too (the lease tick's). */
typedef void (*gw_give_fn)(struct gw *g, int i, const char *k_send, const char *k_out, const char *v, void *arg);
void gw_sweep_judge(struct gw *g, int i, const struct store_list *r, int at_once, double at, gw_give_fn give,
                    void *arg);
/* A GIVEBACK of session i's entry ran: counted, logged, the outbox pumped. */
void gw_given_back(struct gw *g, int i);
/* The 2 s timer: a lease tick, unless the last one is still on its way. */
void gw_lease_cb(evutil_socket_t fd, short what, void *arg);
/* A lease tick now (asynchronous connection): the renewal, then RECLAIM,
 * REAP of dead peers, the sweep of our sending and starting lists. When
 * one is on its way and Redis was reached again since its renewal left,
 * one more follows it. */
void gw_lease_tick(struct gw *g);
/* For the outbox pump: 1 when Redis was reached again since the lease was
 * renewed and a tick's renewal is on its way (the pump is called again
 * when it is back); a tick is started if none is. */
int gw_lease_first(struct gw *g);
int gw_take_over(struct gw *g, char *err, size_t errlen);
void gw_recover(struct gw *g);

#endif
