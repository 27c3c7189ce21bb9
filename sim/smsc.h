/* smsc: the SMPP server of hailong-sim: sessions, submit_sm intake, MO and receipt delivery. */
#ifndef HL_SIM_SMSC_H
#define HL_SIM_SMSC_H

#include <stddef.h>
#include <stdint.h>

#include "faults.h"

struct event_base;
struct citizens;

#define SMSC_ACCOUNTS_MAX 16
#define SMSC_OUTCOMES_MAX 8

/* One system_id/password an ESME may bind with. */
struct smsc_account {
	char system_id[16];
	char password[9];
};

/* One receipt outcome and its weight ("UNDELIV:5"). */
struct smsc_outcome {
	char stat[8];              /* DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD */
	uint8_t state;             /* message_state TLV value */
	double weight;
};

enum smsc_receipt_form { SMSC_RECEIPT_BOTH = 0, SMSC_RECEIPT_TEXT, SMSC_RECEIPT_TLV };

/* How a receipt's delay is drawn in [receipt_min_ms, receipt_max_ms]:
 * log-normal with those as its 1st and 99th percentiles (clamped), as
 * handsets answer; or uniform. */
enum smsc_delay_dist { SMSC_DELAY_LOGNORMAL = 0, SMSC_DELAY_UNIFORM };

/* The command line's default receipt delay (a handset: median about 1.2 s). */
#define SMSC_RECEIPT_MIN_MS_DEFAULT 250
#define SMSC_RECEIPT_MAX_MS_DEFAULT 6000

struct smsc_opts {
	const char *system_id;     /* credentials an ESME must bind with (may be NULL when */
	const char *password;      /* accounts are given) */
	const struct smsc_account *accounts;  /* more accounts (copied), naccounts of them */
	int naccounts;
	uint64_t seed;             /* seeds the PRNG of faults and receipt outcomes */
	int receipt_min_ms;        /* receipts are sent after a delay in [min, max], counted */
	int receipt_max_ms;        /* from when the submit_sm_resp was written (0-0: at once) */
	enum smsc_delay_dist receipt_dist;
	enum smsc_receipt_form receipt_form;  /* stat in the text, the TLVs, or both */
	int noutcomes;             /* receipt outcomes; 0 = always DELIVRD */
	struct smsc_outcome outcomes[SMSC_OUTCOMES_MAX];
	struct sim_faults faults;  /* faults on from the start */
	int receipts;              /* send delivery receipts when registered_delivery asks */
	int window;                /* deliver_sm outstanding per session (default 10) */
	int retry_ms;              /* delay before a deliver_sm is sent again (default 1000) */
	int resp_timeout_ms;       /* no deliver_sm_resp after this: send again (default 30000) */
	int max_attempts;          /* give up a deliver_sm after this many sends (default 3600) */
	int enquire_link_ms;       /* a bound session silent this long gets an enquire_link; silent
	                            * as long again after it, it is closed (0 = never) */
	/* USSD centre (--ussd CODE, docs/ussd.md): screens are submit_sm with
	 * ussd_service_op; a citizen's reply to a screen goes back as ussr_confirm
	 * with its_session_info. */
	const char *ussd_code;     /* the service code citizens dial; NULL = no USSD */
	int ussd_ops[4];           /* pssr_indication, pssr_response, ussr_request, ussr_confirm
	                            * (all 0 = 1, 17, 2, 18) */
	double ussd_ignore_share;  /* a pushed screen is ignored; the citizen dials 1-3 s later */
	double ussd_invite_share;  /* a pushed screen is ignored; the citizen dials when the SMS
	                            * invitation (an SMS naming the code) comes */
	double ussd_release_share; /* the network releases a session instead of a screen; redial */
	int ussd_release_op;       /* op of that release (default 32, Huawei "released") */
	double ussd_drop_share;    /* the citizen cancels a screen mid-session (nothing reaches the
	                            * ESME, as on networks that do not report it) and redials */
	int ussd_redial_min_ms, ussd_redial_max_ms; /* when a dropped session is dialled again
	                            * (both 0 = 1000-3000) */
	double ussd_slow_share;    /* a slow phone: the answer to a screen is sent ussd_slow_ms late */
	int ussd_slow_ms;          /* (default 8000) */
	int ussd_timeout_ms;       /* the centre's session lifetime without an answer: a later
	                            * answer is not delivered, the session is released (release op)
	                            * and the citizen redials; 0 = no limit */
};

/* Counters reported at exit and by GET /stats. */
struct smsc_stats {
	uint64_t sessions;         /* TCP connections accepted */
	uint64_t binds;            /* successful binds */
	uint64_t bind_refused;     /* binds answered with an error */
	uint64_t submit_sm;        /* submit_sm and data_sm received */
	uint64_t parts;            /* of those, parts of concatenated messages */
	uint64_t messages;         /* whole messages handed to a number after reassembly */
	uint64_t deliver_sm;       /* deliver_sm sent: MO parts and receipts, resends included */
	uint64_t mo;               /* of those, MO parts */
	uint64_t receipts;         /* of those, delivery receipts */
	uint64_t resent;           /* deliver_sm sent again after an error status or timeout */
	uint64_t completed;        /* surveys the citizens saw completed (thanks) */
	uint64_t answers;          /* answers the gateway took (ledger lines) */
	uint64_t errors;           /* requests answered with an error, framing errors, MOs given up */
	uint64_t faults;           /* faults injected (refused, dropped, delayed, nacked responses...) */
	uint64_t duplicates;       /* deliver_sm sent twice on purpose */
	uint64_t malformed;        /* malformed PDUs sent on purpose */
	uint64_t receipts_lost;    /* receipts not sent on purpose */
	uint64_t receipts_early;   /* receipts sent before their response on purpose */
	uint64_t receipts_orphaned;/* receipts whose response never reached the ESME */
	uint64_t ussd_screens;     /* USSD screens received */
	uint64_t ussd_dials;       /* citizens who dialled the service code */
	uint64_t ussd_released;    /* sessions released by the network on purpose */
	uint64_t ussd_ignored;     /* pushed screens ignored on purpose */
	uint64_t ussd_bad_echo;    /* screens that did not echo the session's its_session_info */
	uint64_t ussd_invites;     /* SMS invitations to dial the code (the citizen dials unless
	                            * a session is open) */
	uint64_t ussd_dropped;     /* screens cancelled mid-session on purpose (then a redial) */
	uint64_t ussd_slow;        /* answers sent late on purpose (slow phone) */
	uint64_t ussd_late;        /* answers later than --ussd-timeout-ms: session released */
	uint64_t disconnects;      /* connections closed on purpose */
	uint64_t enquire_links;    /* enquire_link sent to ESMEs */
	uint64_t links_dead;       /* sessions closed: no answer to an enquire_link */
	uint64_t opted_out;        /* citizens who sent HUY */
	uint64_t no_reply;         /* citizens who chose not to answer a survey */
};

/* Latency from a citizen's reply (last deliver_sm part sent) to the next
 * submit_sm to that citizen, in milliseconds. */
struct smsc_latency {
	uint64_t n;
	double p50, p95, p99, max;
};

struct smsc;

/* Borrows base and pop (pop may be NULL: nobody answers). */
struct smsc *smsc_new(struct event_base *base, const struct smsc_opts *o, struct citizens *pop);
void smsc_free(struct smsc *s);

/* Listen on "host:port" (port 0 = any free port). 0 or negative errno, err filled. */
int smsc_listen(struct smsc *s, const char *hostport, char *err, size_t errlen);
/* The port listened on, after smsc_listen. */
int smsc_port(const struct smsc *s);

/* Queue an MO from `from` to `to` (NULL: the last source address an ESME
 * used, else "8088"), delivered after delay_ms. `ledger`, if not NULL, is a
 * line written once every part was accepted (taken over). 0 or negative errno. */
/* USSD centre: the citizen `msisdn` dials the service code after delay_ms
 * (a new session). -EINVAL when the centre plays no USSD. */
int smsc_ussd_dial(struct smsc *s, const char *msisdn, int delay_ms);
int smsc_send_mo(struct smsc *s, const char *from, const char *to, const char *text,
                 int delay_ms, char *ledger);

/* The same, sent in UCS-2 when ucs2 is set even if it fits GSM 03.38. */
int smsc_send_mo_enc(struct smsc *s, const char *from, const char *to, const char *text,
                     int delay_ms, char *ledger, int ucs2);

/* The same for a tester: ref (0..255, -1 = the next one) as the
 * concatenation reference of a long text, and only the parts whose bit is set
 * in `only` (bit 0 = part 1; 0 = all), to rehearse a lost part or a reference
 * a phone reuses; sms: an SMS even from a number whose USSD session is open
 * (a citizen who texts while a screen is on the phone). */
int smsc_send_mo_parts(struct smsc *s, const char *from, const char *to, const char *text, int delay_ms,
                       int ucs2, int ref, uint32_t only, int sms);

/* Unbind every session and leave the event loop when all are closed or
 * after timeout_ms. */
void smsc_shutdown(struct smsc *s, int timeout_ms);

/* The faults in force; after changing them call smsc_faults_changed. */
struct sim_faults *smsc_faults(struct smsc *s);
void smsc_faults_changed(struct smsc *s);
/* A receipt's delay in ms as o asks (receipt_min_ms..receipt_max_ms,
 * receipt_dist) from two uniform draws u1, u2 in (0, 1]. */
int smsc_receipt_delay_ms(const struct smsc_opts *o, double u1, double u2);
/* Parse "DELIVRD:90,UNDELIV:5,EXPIRED:5" into o->outcomes. 0 or -EINVAL. */
int smsc_parse_outcomes(const char *spec, struct smsc_opts *o);
void smsc_latency(const struct smsc *s, struct smsc_latency *out);
/* Forget the latency samples (a load run starts a fresh measure). */
void smsc_latency_reset(struct smsc *s);
void smsc_stats(const struct smsc *s, struct smsc_stats *out);
/* The stats as one JSON object, malloc'd. */
char *smsc_stats_json(const struct smsc *s);
/* The population (borrowed; may be NULL). */
struct citizens *smsc_citizens(struct smsc *s);
/* Texts received by msisdn, oldest first (see inbox_list). */
int smsc_inbox(const struct smsc *s, const char *msisdn, const char **out, int max);
/* The same from text number `since` on (see inbox_list_since). */
int smsc_inbox_since(const struct smsc *s, const char *msisdn, unsigned long since,
                     const char **out, int max, unsigned long *total);

#endif
