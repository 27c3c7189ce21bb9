/* esme_int: what the files of one SMPP session (esme.c, esme_*.c) share: its state and
 * the verbs one part offers another. Not for other modules. */
#ifndef HL_ESME_INT_H
#define HL_ESME_INT_H

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "esme.h"
#include "log.h"
#include "phone.h"
#include "smpp_link.h"

#define ESME_MAX_TRIES 5          /* default tries per part for temporary errors */
#define ESME_RETRY_BASE_MS 1000   /* first retry delay, doubled per try */
#define ESME_RETRY_MAX_MS 30000   /* the doubling stops here (or at the configured delay) */
#define ESME_THROTTLED_TRIES 20   /* built-in: ESME_RTHROTTLED 20 tries from 1 s (Jasmin: 20 x 30 s) */
#define ESME_QFUL_TRIES 3         /* built-in: ESME_RMSGQFUL 3 tries, 60 s apart (Jasmin: 2 x 180 s) */
#define ESME_QFUL_DELAY_MS 60000
#define ESME_IDMAP 16384         /* recent part ids kept to name a late receipt's message (about 40 s at 400 parts/s) */
#define ESME_HELD_MAX 512         /* receipts held for messages still being submitted */
#define ESME_HELD_MS 5000         /* at most this long */
/* An MO token: connection generation (30 bits) << 33 | data_sm << 32 | sequence
 * number; bit 63 set when it came on the receiver link of a TX+RX pair. */
#define ESME_GEN_MASK 0x3FFFFFFFu
#define ESME_TOKEN_RX (1ull << 63)           /* recent submit_sm_resp ids kept to normalise receipt ids */
#define ESME_BACKOFF_MIN_MS 1000  /* reconnect: 1 s doubling to 60 s, + jitter */
#define ESME_BACKOFF_MAX_MS 60000
#define ESME_SLOW_MS 10000        /* a temporary error halves the TPS for 10 s */
#define ESME_SLOW_MAX_LEVEL 6
#define ESME_MO_TTL_MS 60000      /* incomplete concatenated MO sets */
#define ESME_MO_HANDED_TTL_MS 600000 /* sets handed to on_mo and never answered */
#define ESME_MO_MAX_SETS 256      /* more incomplete sets: answer RX_T_APPN */
#define ESME_MO_SWEEP_MS 5000
#define ESME_UNBIND_WAIT_MS 5000  /* at most this long for unbind_resp */
#define ESME_FLUSH_WAIT_MS 1000   /* at most this long to flush before a close */
#define ESME_MAX_WINDOW 1024
#define ESME_PART_PDU 1280        /* a submit_sm, message_payload of 1024 octets included */

enum esme_state {
	ES_IDLE,        /* no connection; the reconnect timer may be pending */
	ES_CONNECTING,  /* TCP connect under way */
	ES_BINDING,     /* bind sent, waiting for its response */
	ES_BOUND,       /* bound: submits flow */
	ES_UNBINDING,   /* shutdown: unbind sent, waiting for unbind_resp */
	ES_CLOSING,     /* flushing the last bytes (unbind_resp, generic_nack), then close */
	ES_DONE,        /* shut down */
};

/* What one connection binds as. */
enum esme_mode { EM_TRX, EM_TX, EM_RX };

enum part_state { PART_QUEUED, PART_INFLIGHT, PART_DONE };

struct esme_out;

/* One submit_sm of a message. */
struct esme_part {
	TAILQ_ENTRY(esme_part) link; /* in e->queue while PART_QUEUED */
	struct esme_out *msg;        /* the message it belongs to */
	int idx;                     /* 0-based part number */
	enum part_state state;
	int tries;                   /* temporary failures (and timeouts) so far */
	int64_t not_before;          /* monotonic ms: retry backoff */
	char id[66];                 /* message_id from its submit_sm_resp */
	size_t len;                  /* bytes of pdu */
	uint8_t pdu[ESME_PART_PDU];  /* packed submit_sm; sequence_number patched per send */
};

/* One message given to esme_submit. */
struct esme_out {
	TAILQ_ENTRY(esme_out) link;  /* in e->msgs */
	uint64_t tag;                /* caller's id */
	int nparts;
	int nok;                     /* parts accepted */
	int inflight;                /* parts in a window slot */
	int finished;                /* on_sent called: remaining responses are ignored */
	int written;                 /* a part has been written to the SMSC (once is enough) */
	char first_id[66];           /* message_id of part 0 */
	struct esme_part part[];     /* nparts */
};

/* One outstanding submit_sm. */
struct esme_slot {
	uint32_t seq;                /* 0 = free */
	uint64_t sent_no;            /* e->submits when it was written */
	int64_t sent_ms;             /* monotonic ms it was written */
	struct esme_part *part;
	struct event *timer;         /* response timer */
	struct esme *e;
};

/* One concatenated MO being reassembled. */
struct esme_mo {
	TAILQ_ENTRY(esme_mo) link;
	char src[21];                /* source address */
	uint32_t ref;                /* reference; bit 16 set for sar_* refs */
	int total, have;
	uint8_t dc;                  /* data_coding of the first part seen */
	int64_t first;               /* monotonic ms of the first part (or of the handing) */
	int handed;                  /* complete and given to on_mo, not answered yet */
	uint64_t token;              /* when handed */
	int last_seq;                /* the part that completed the set (1-based) */
	struct {
		uint8_t *data;       /* NULL = missing */
		size_t len;
	} part[];                    /* total */
};

TAILQ_HEAD(part_q, esme_part);
TAILQ_HEAD(out_q, esme_out);
TAILQ_HEAD(mo_q, esme_mo);

/* A receipt that came while its message was still being submitted (a fast
 * SMSC reports part 1 delivered before it answered part 2): held unanswered
 * until the message's on_sent, so that the gateway has recorded the message
 * the receipt names. */
struct esme_held {
	TAILQ_ENTRY(esme_held) link;
	struct esme *conn;           /* the link it came on (this esme or its rx link) */
	uint32_t gen;                /* conn->gen then: on another link it is not answered (the SMSC sends it again) */
	uint32_t cmd, seq;           /* to answer it */
	char id[66];
	enum esme_dlr state;
	int64_t at;                  /* monotonic ms it came */
	uint64_t wm;                 /* the owner's submits when it came */
};
TAILQ_HEAD(held_q, esme_held);

/* A message id the SMSC gave (for any part) and its message's id. */
struct esme_id {
	char id[66];
	char msg[66];
	uint64_t dec, hex;          /* id read as a decimal and as a hex number */
	uint8_t has_dec, has_hex;   /* whether it reads as one */
	uint8_t used;
	int32_t next[3];            /* chains of the index: by text, decimal, hex value (-1 = end) */
};

/* The ring of recent ids with an index, so that a receipt finds its message
 * in a few steps whatever the ring's size: buckets by the id's text, by its
 * decimal and by its hex value, newest first in each chain. */
#define ESME_IDX_BUCKETS 16384
enum { IDX_TEXT, IDX_DEC, IDX_HEX };
struct esme_idmap {
	struct esme_id ring[ESME_IDMAP];
	int32_t head[3][ESME_IDX_BUCKETS];
	int next, n;
};

struct esme {
	struct event_base *base;     /* borrowed */
	const struct config_smsc *cfg; /* borrowed */
	const struct esme_cbs *cbs;  /* borrowed */
	void *arg;
	const char *name;            /* cfg->name or "smsc" */
	enum esme_state state;
	int bound;                   /* on_state(1) was reported */
	int paused;                  /* esme_pause_reading: the socket is not read */
	int shutting;                /* esme_shutdown called */
	int answers_pending;         /* MOs handed to on_mo/on_mo_part on this connection, not answered yet */
	uint32_t gen;                /* connection generation (MO tokens carry it) */
	struct bufferevent *bev;
	uint32_t next_seq;           /* 1..0x7FFFFFFF */
	uint32_t bind_seq, el_seq, unbind_seq; /* 0 = none outstanding */
	int backoff_attempt;         /* reconnects since the last successful bind */
	double resp_avg_ms;          /* submit_sm -> its response, moving average (0 = none yet) */
	uint64_t rng;                /* xorshift state for jitter */
	uint8_t concat_ref;          /* 8-bit UDH (and sar high byte) reference counter */
	int max_tries, retry_base_ms; /* esme_set_retry's values ... */
	int retry_set;               /* ... when it was called */

	int window;
	struct esme_slot *slots;     /* window entries */
	int inflight;                /* used slots */
	struct part_q queue;         /* parts waiting to be sent */
	int queued;                  /* parts in queue */
	struct out_q msgs;           /* every live message */

	double tokens;               /* token bucket */
	int64_t tok_last;            /* ms of the last refill */
	int slow_level;              /* TPS divided by 2^slow_level ... */
	int64_t slow_until;          /* ... until then */

	int64_t last_rx;             /* ms of the last PDU received */
	const char *close_why;       /* ES_CLOSING: why (static string, for the log) */
	int in_state_cb;             /* inside on_state: esme_shutdown defers `done` */
	struct mo_q mos;             /* concatenated MOs */
	int nmos;
	struct esme_idmap *idmap;    /* recent ids, owned; NULL on an rx link */
	struct held_q held;          /* receipts waiting for their message's on_sent (owner link) */
	uint64_t submits;            /* submit_sm written so far */
	int nheld;
	struct event *held_ev;
	struct esme *parent;         /* rx link: the esme that owns it (transmitter); else NULL */
	struct esme *rx;             /* transmitter+receiver: the receiver link, owned */
	enum esme_mode mode;
	int rx_pending;              /* shutdown: waiting for the receiver link to finish */
	int self_done;               /* shutdown: this link finished, rx_pending holds `done` */
	char name_buf[48];           /* "name/rx" */

	struct event *reconnect_ev, *bind_ev, *el_ev, *el_resp_ev, *tps_ev, *retry_ev,
	    *shut_ev, *unbind_ev, *flush_ev, *mo_ev, *ready_ev, *done_ev;
	void (*done)(void *arg);
	void *done_arg;
};

/* esme.c */
int64_t esme_now_ms(void);
void esme_arm(struct event *ev, int64_t ms);
int64_t esme_jitter(struct esme *e, int64_t ms);
int64_t esme_resp_ms(const struct esme *e);
uint32_t esme_take_seq(struct esme *e);
int esme_send_bytes(struct esme *e, const void *buf, size_t len);
void esme_send_header(struct esme *e, uint32_t cmd, uint32_t status, uint32_t seq);
void esme_send_sm_resp(struct esme *e, uint32_t cmd_resp, uint32_t status, uint32_t seq);
void esme_schedule_ready(struct esme *e);
void esme_conn_lost(struct esme *e, const char *why);

/* esme_link.c */
void esme_reconnect_schedule(struct esme *e);
void esme_finish_shutdown(struct esme *e);
void esme_close_bev(struct esme *e);
void esme_close_after_flush(struct esme *e, const char *why);
void esme_send_bind(struct esme *e);
void esme_bind_result(struct esme *e, uint32_t status);
void esme_send_unbind(struct esme *e);
void esme_flush_cb(evutil_socket_t fd, short what, void *arg);
void esme_bind_timeout_cb(evutil_socket_t fd, short what, void *arg);
void esme_el_cb(evutil_socket_t fd, short what, void *arg);
void esme_el_resp_cb(evutil_socket_t fd, short what, void *arg);
void esme_unbind_timeout_cb(evutil_socket_t fd, short what, void *arg);
void esme_shut_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* esme_send.c */
double esme_tps_rate(const struct esme *e, int64_t now);
double esme_tokens_at(const struct esme *e, int64_t now);
void esme_msg_free_if_idle(struct esme *e, struct esme_out *m);
struct esme_slot *esme_slot_find(struct esme *e, uint32_t seq);
void esme_slot_release(struct esme *e, struct esme_slot *s);
void esme_part_result(struct esme *e, struct esme_slot *s, uint32_t status, const char *msgid,
                      int timed_out);
void esme_slot_timeout_cb(evutil_socket_t fd, short what, void *arg);
void esme_pump(struct esme *e);
void esme_tps_cb(evutil_socket_t fd, short what, void *arg);
void esme_retry_cb(evutil_socket_t fd, short what, void *arg);
void esme_ready_cb(evutil_socket_t fd, short what, void *arg);

/* esme_dlr.c */
void esme_idmap_put(struct esme *e, const char *id, const char *msg);
const char *esme_find_key(const char *s, const char *key);
int esme_text_is_receipt(char *text);
void esme_handle_receipt(struct esme *e, const struct smpp_hdr *h, const struct smpp_sm *sm,
                         const char *text);
void esme_held_cb(evutil_socket_t fd, short what, void *arg);

/* esme_mo.c */
void esme_mo_free(struct esme *e, struct esme_mo *mo);
void esme_mo_sweep_cb(evutil_socket_t fd, short what, void *arg);
void esme_handle_sm(struct esme *e, const struct smpp_hdr *h, const uint8_t *pdu, size_t len);

/* esme_rx.c */
void esme_conn_start(struct esme *e);
void esme_reconnect_cb(evutil_socket_t fd, short what, void *arg);

#endif
