/* smsc: the SMPP server of hailong-sim: sessions, submit_sm intake, MO and receipt delivery. */
#ifndef HL_SIM_SMSC_H
#define HL_SIM_SMSC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct citizens;

/* Faults the SMSC injects, consulted in the submit_sm path. All 0 = none.
 * Set from the control API (POST /faults). */
struct sim_faults {
	uint32_t throttle_every;   /* answer every Nth submit_sm with ESME_RTHROTTLED */
	uint32_t qfull_every;      /* answer every Nth submit_sm with ESME_RMSGQFUL */
};

struct smsc_opts {
	const char *system_id;     /* credentials an ESME must bind with */
	const char *password;
	int receipts;              /* send delivery receipts when registered_delivery asks */
	int window;                /* deliver_sm outstanding per session (default 10) */
	int retry_ms;              /* delay before a deliver_sm is sent again (default 1000) */
	int resp_timeout_ms;       /* no deliver_sm_resp after this: send again (default 30000) */
	int max_attempts;          /* give up a deliver_sm after this many sends (default 3600) */
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
int smsc_send_mo(struct smsc *s, const char *from, const char *to, const char *text,
                 int delay_ms, char *ledger);

/* Unbind every session and leave the event loop when all are closed or
 * after timeout_ms. */
void smsc_shutdown(struct smsc *s, int timeout_ms);

struct sim_faults *smsc_faults(struct smsc *s);
void smsc_stats(const struct smsc *s, struct smsc_stats *out);
/* The stats as one JSON object, malloc'd. */
char *smsc_stats_json(const struct smsc *s);
/* Texts received by msisdn, oldest first (see inbox_list). */
int smsc_inbox(const struct smsc *s, const char *msisdn, const char **out, int max);

#endif
