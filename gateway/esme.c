/* esme: one SMPP 3.4 client session (SPEC §8) on a libevent loop: bind, window,
 * response timers, enquire_link, reconnect with backoff, TPS, segmentation,
 * receipts and MO reassembly. No libsmpp34 here: smpp_pdu does the bytes.
 *
 * Life of an outgoing message: esme_submit splits it into parts (struct
 * esme_part, each holding its packed submit_sm); parts wait in e->queue, are
 * sent when the window and the token bucket allow, sit in a window slot until
 * their response (matched by sequence_number from the header) or their timer.
 * A temporary error or a timeout puts the part back in the queue with a
 * backoff; the message is reported once through on_sent. When the connection
 * drops, parts in flight go back to the queue untouched and are sent again
 * after the next bind (at-least-once).
 *
 * Callbacks (on_sent, on_mo, ...) may call esme_submit/esme_answer/
 * esme_capacity/esme_shutdown; only `done` (given to esme_shutdown) may call
 * esme_free. */
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

#define ESME_MAX_TRIES 5          /* default tries per part for temporary errors */
#define ESME_RETRY_BASE_MS 1000   /* first retry delay, doubled per try */
#define ESME_RETRY_MAX_MS 30000   /* the doubling stops here (or at the configured delay) */
#define ESME_THROTTLED_TRIES 20   /* built-in: ESME_RTHROTTLED 20 tries from 1 s (Jasmin: 20 x 30 s) */
#define ESME_QFUL_TRIES 3         /* built-in: ESME_RMSGQFUL 3 tries, 60 s apart (Jasmin: 2 x 180 s) */
#define ESME_QFUL_DELAY_MS 60000
#define ESME_IDMAP 2048
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
	char first_id[66];           /* message_id of part 0 */
	struct esme_part part[];     /* nparts */
};

/* One outstanding submit_sm. */
struct esme_slot {
	uint32_t seq;                /* 0 = free */
	uint64_t sent_no;            /* e->submits when it was written */
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
	uint32_t gen;                /* conn->gen then: a lost link drops it (the SMSC sends it again) */
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
	int16_t next[3];            /* chains of the index: by text, decimal, hex value (-1 = end) */
};

/* The ring of recent ids with an index, so that a receipt finds its message
 * in a few steps whatever the ring's size: buckets by the id's text, by its
 * decimal and by its hex value, newest first in each chain. */
#define ESME_IDX_BUCKETS 4096
enum { IDX_TEXT, IDX_DEC, IDX_HEX };
struct esme_idmap {
	struct esme_id ring[ESME_IDMAP];
	int16_t head[3][ESME_IDX_BUCKETS];
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
	int shutting;                /* esme_shutdown called */
	uint32_t gen;                /* connection generation (MO tokens carry it) */
	struct bufferevent *bev;
	uint32_t next_seq;           /* 1..0x7FFFFFFF */
	uint32_t bind_seq, el_seq, unbind_seq; /* 0 = none outstanding */
	int backoff_attempt;         /* reconnects since the last successful bind */
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

/* ---------- small helpers ---------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct event *ev, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

static uint64_t rnd(struct esme *e)
{
	uint64_t x = e->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	e->rng = x;
	return x;
}

/* ms plus 0-20 % jitter, so that many gateways do not reconnect in step. */
static int64_t jitter(struct esme *e, int64_t ms)
{
	return ms + (int64_t)(rnd(e) % (uint64_t)(ms / 5 + 1));
}

/* The response timer; 30 s when the config leaves it at 0. */
static int64_t resp_ms(const struct esme *e)
{
	return (int64_t)(e->cfg->response_timeout_s > 0 ? e->cfg->response_timeout_s : 30) * 1000;
}

static uint32_t take_seq(struct esme *e)
{
	uint32_t s = e->next_seq;
	e->next_seq = s >= 0x7FFFFFFFu ? 1 : s + 1;
	return s;
}

static int send_bytes(struct esme *e, const void *buf, size_t len)
{
	if (!e->bev)
		return -ENOTCONN;
	return bufferevent_write(e->bev, buf, len) == 0 ? 0 : -ENOMEM;
}

/* A header-only PDU (enquire_link, unbind, their responses, generic_nack). */
static void send_header(struct esme *e, uint32_t cmd, uint32_t status, uint32_t seq)
{
	uint8_t b[SMPP_HEADER_LEN];
	if (smpp_build_header(b, sizeof b, cmd, status, seq) == SMPP_HEADER_LEN)
		send_bytes(e, b, sizeof b);
}

/* deliver_sm_resp / data_sm_resp (message_id ""), any status. */
static void send_sm_resp(struct esme *e, uint32_t cmd_resp, uint32_t status, uint32_t seq)
{
	uint8_t b[64];
	int n = smpp_build_sm_resp(b, sizeof b, cmd_resp, status, seq, "");
	if (n > 0)
		send_bytes(e, b, (size_t)n);
	else
		send_header(e, cmd_resp, status, seq);
}

static void conn_lost(struct esme *e, const char *why);
static void pump(struct esme *e);
static void send_unbind(struct esme *e);

static void schedule_ready(struct esme *e)
{
	if (e->cbs->on_ready && !e->shutting && e->state == ES_BOUND &&
	    !event_pending(e->ready_ev, EV_TIMEOUT, NULL))
		event_active(e->ready_ev, EV_TIMEOUT, 1);
}

/* ---------- token bucket ---------- */

static double tps_rate(const struct esme *e, int64_t now)
{
	if (e->cfg->tps <= 0)
		return 0; /* unlimited */
	double r = e->cfg->tps;
	if (now < e->slow_until) {
		r /= (double)(1 << e->slow_level);
		if (r < 1)
			r = 1;
	}
	return r;
}

static double tokens_at(const struct esme *e, int64_t now)
{
	double r = tps_rate(e, now);
	double t = e->tokens + (double)(now - e->tok_last) * r / 1000.0;
	double cap = r < 1 ? 1 : r;
	return t > cap ? cap : t;
}

static void refill(struct esme *e, int64_t now)
{
	if (e->cfg->tps <= 0)
		return;
	e->tokens = tokens_at(e, now);
	e->tok_last = now;
	if (now >= e->slow_until)
		e->slow_level = 0;
}

/* A temporary error: halve the rate (again) for the next 10 s. */
static void slow_down(struct esme *e, int64_t now)
{
	refill(e, now);
	if (e->slow_level < ESME_SLOW_MAX_LEVEL)
		e->slow_level++;
	e->slow_until = now + ESME_SLOW_MS;
	double r = tps_rate(e, now), cap = r < 1 ? 1 : r;
	if (e->tokens > cap)
		e->tokens = cap;
	log_info("[%s] event=slow_down tps=%.1f for_ms=%d", e->name, r, ESME_SLOW_MS);
}

/* ---------- recent message ids ---------- */


static uint32_t idx_text(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % ESME_IDX_BUCKETS;
}

static uint32_t idx_num(uint64_t v)
{
	return (uint32_t)((v ^ v >> 29) * 0x9E3779B97F4A7C15ull >> 40) % ESME_IDX_BUCKETS;
}

/* The bucket of ring entry x in index k, or -1 when it is not in it. */
static int idx_bucket(const struct esme_id *x, int k)
{
	if (k == IDX_TEXT)
		return (int)idx_text(x->id);
	if (k == IDX_DEC)
		return x->has_dec ? (int)idx_num(x->dec) : -1;
	return x->has_hex ? (int)idx_num(x->hex) : -1;
}

static void idx_unlink(struct esme_idmap *m, int pos)
{
	struct esme_id *x = &m->ring[pos];
	for (int k = 0; k < 3; k++) {
		int b = idx_bucket(x, k);
		if (b < 0)
			continue;
		int16_t *pp = &m->head[k][b];
		while (*pp >= 0 && *pp != pos)
			pp = &m->ring[*pp].next[k];
		if (*pp == pos)
			*pp = x->next[k];
	}
	x->used = 0;
}

/* Remember that the SMSC called a part `id`; its message is `msg` (the id of
 * part 1, the one on_sent reported). Oldest entries are overwritten. */
static void idmap_put(struct esme *e, const char *id, const char *msg)
{
	if (!e->idmap || !id[0])
		return;
	struct esme_idmap *m = e->idmap;
	int pos = m->next;
	struct esme_id *x = &m->ring[pos];
	if (x->used)
		idx_unlink(m, pos);
	snprintf(x->id, sizeof x->id, "%s", id);
	snprintf(x->msg, sizeof x->msg, "%s", msg);
	x->has_dec = (uint8_t)smpp_parse_u64(x->id, 10, &x->dec);
	x->has_hex = (uint8_t)smpp_parse_u64(x->id, 16, &x->hex);
	x->used = 1;
	for (int k = 0; k < 3; k++) {
		int b = idx_bucket(x, k);
		x->next[k] = -1;
		if (b >= 0) {
			x->next[k] = m->head[k][b];
			m->head[k][b] = (int16_t)pos;
		}
	}
	m->next = (pos + 1) % ESME_IDMAP;
	if (m->n < ESME_IDMAP)
		m->n++;
}

/* How many puts ago ring entry pos was written (0 = the newest). */
static int idmap_age(const struct esme_idmap *m, int pos)
{
	return (m->next - 1 - pos + ESME_IDMAP) % ESME_IDMAP;
}

/* The newest entry of chain k from bucket of v whose number (decimal or hex,
 * as `field` says) equals v; its age in *age. */
static const struct esme_id *idmap_num(const struct esme_idmap *m, int k, uint64_t v, int *age)
{
	for (int pos = m->head[k][idx_num(v)]; pos >= 0; pos = m->ring[pos].next[k]) {
		const struct esme_id *x = &m->ring[pos];
		if (k == IDX_DEC ? x->dec == v : x->hex == v) {
			*age = idmap_age(m, pos);
			return x; /* chains are newest first */
		}
	}
	return NULL;
}

/* The message id (as on_sent gave it) of a receipt's id, written in hex or
 * decimal; an exact match wins over a numeric one; newest first. NULL when
 * the id is not among the recent ones. */
static const char *idmap_find(const struct esme *e, const char *id)
{
	if (!e->idmap || !id[0])
		return NULL;
	const struct esme_idmap *m = e->idmap;
	for (int pos = m->head[IDX_TEXT][idx_text(id)]; pos >= 0; pos = m->ring[pos].next[IDX_TEXT])
		if (strcmp(m->ring[pos].id, id) == 0)
			return m->ring[pos].msg;
	/* the same number written the other way: a decimal id against the hex
	 * one the SMSC gave (or the reverse), or leading zeros */
	uint64_t dec = 0, hex = 0;
	int has_dec = smpp_parse_u64(id, 10, &dec), has_hex = smpp_parse_u64(id, 16, &hex);
	const struct esme_id *best = NULL;
	int best_age = ESME_IDMAP;
	for (int k = IDX_DEC; k <= IDX_HEX; k++) {
		for (int w = 0; w < 2; w++) {
			if (!(w == 0 ? has_dec : has_hex))
				continue;
			int age;
			const struct esme_id *x = idmap_num(m, k, w == 0 ? dec : hex, &age);
			if (x && age < best_age) {
				best = x;
				best_age = age;
			}
		}
	}
	return best ? best->msg : NULL;
}

/* ---------- messages and the window ---------- */

static void msg_free_if_idle(struct esme *e, struct esme_out *m)
{
	if (m->inflight > 0)
		return;
	TAILQ_REMOVE(&e->msgs, m, link);
	free(m);
}

/* Report the outcome once; drop the parts still queued. May free m. */
static void msg_finish(struct esme *e, struct esme_out *m, uint32_t status)
{
	uint64_t tag = m->tag;
	char id[66];
	snprintf(id, sizeof id, "%s", status == 0 ? m->first_id : "");
	m->finished = 1;
	if (status == 0) {
		struct esme *root = e->parent ? e->parent : e;
		for (int i = 0; i < m->nparts; i++)
			idmap_put(root, m->part[i].id, m->first_id);
	}
	for (int i = 0; i < m->nparts; i++) {
		if (m->part[i].state == PART_QUEUED) {
			TAILQ_REMOVE(&e->queue, &m->part[i], link);
			e->queued--;
			m->part[i].state = PART_DONE;
		}
	}
	int nparts = m->nparts;
	msg_free_if_idle(e, m);
	if (status == 0)
		log_info("[%s] event=sent tag=%llu parts=%d msgid=%s", e->name, (unsigned long long)tag,
		         nparts, id);
	else
		log_warn("[%s] event=send_failed tag=%llu parts=%d status=%s", e->name,
		         (unsigned long long)tag, nparts, smpp_status_name(status));
	if (e->cbs->on_sent)
		e->cbs->on_sent(e->arg, e, tag, status, id);
	if (e->nheld > 0)
		event_active(e->held_ev, EV_TIMEOUT, 0); /* their message may be known now */
}

static struct esme_slot *slot_find(struct esme *e, uint32_t seq)
{
	if (seq == 0)
		return NULL;
	for (int i = 0; i < e->window; i++)
		if (e->slots[i].seq == seq)
			return &e->slots[i];
	return NULL;
}

static struct esme_slot *slot_free_one(struct esme *e)
{
	for (int i = 0; i < e->window; i++)
		if (e->slots[i].seq == 0)
			return &e->slots[i];
	return NULL;
}

static void slot_release(struct esme *e, struct esme_slot *s)
{
	evtimer_del(s->timer);
	s->seq = 0;
	s->part = NULL;
	e->inflight--;
}

/* How a failed try is retried: `tries` in all (0 = permanent: no retry). */
struct retry_rule {
	int tries;
	int delay_ms;
};

/* The retry rule for a status (or a timeout). Order: the smsc's `retry:` entry
 * for that exact status (any status, vendor codes included, becomes temporary
 * this way); esme_set_retry's values for the standard temporaries; built-in
 * rules for ESME_RTHROTTLED and ESME_RMSGQFUL; `retry: default` (else 5 tries
 * from 1 s) for the other standard temporaries and for timeouts. Everything
 * else is permanent. */
static struct retry_rule retry_rule(const struct esme *e, uint32_t status, int timed_out)
{
	const struct config_smsc *c = e->cfg;
	uint32_t key = timed_out ? CONFIG_RETRY_TIMEOUT : status;
	struct retry_rule r = {0, 0};
	for (int i = 0; i < c->nretry; i++)
		if (c->retry[i].status == key) {
			r.tries = c->retry[i].tries;
			r.delay_ms = c->retry[i].delay_ms;
			return r;
		}
	if (!timed_out && !smpp_status_temporary(status))
		return r;
	if (e->retry_set) {
		r.tries = e->max_tries;
		r.delay_ms = e->retry_base_ms;
		return r;
	}
	if (!timed_out && status == SMPP_ESME_RTHROTTLED) {
		r.tries = ESME_THROTTLED_TRIES;
		r.delay_ms = ESME_RETRY_BASE_MS;
		return r;
	}
	if (!timed_out && status == SMPP_ESME_RMSGQFUL) {
		r.tries = ESME_QFUL_TRIES;
		r.delay_ms = ESME_QFUL_DELAY_MS;
		return r;
	}
	r.tries = ESME_MAX_TRIES;
	r.delay_ms = ESME_RETRY_BASE_MS;
	for (int i = 0; i < c->nretry; i++)
		if (c->retry[i].status == CONFIG_RETRY_DEFAULT) {
			r.tries = c->retry[i].tries;
			r.delay_ms = c->retry[i].delay_ms;
		}
	return r;
}

/* The wait before try tries+1: delay doubled per try, capped at
 * max(delay, 30 s), plus 0-20 % jitter. */
static int64_t retry_delay(struct esme *e, const struct retry_rule *r, int tries)
{
	int64_t d = r->delay_ms > 0 ? r->delay_ms : ESME_RETRY_BASE_MS;
	int64_t cap = d > ESME_RETRY_MAX_MS ? d : ESME_RETRY_MAX_MS;
	for (int i = 1; i < tries && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return jitter(e, d);
}

/* The outcome of one part: a submit_sm_resp, a generic_nack, or a timeout
 * (timed_out = 1, status unused). */
static void part_result(struct esme *e, struct esme_slot *s, uint32_t status, const char *msgid,
                        int timed_out)
{
	struct esme_part *p = s->part;
	struct esme_out *m = p->msg;
	uint32_t seq = s->seq;
	slot_release(e, s);
	if (e->nheld > 0)
		event_active(e->held_ev, EV_TIMEOUT, 0); /* a receipt may wait for this answer */
	m->inflight--;
	if (m->finished) {
		p->state = PART_DONE;
		msg_free_if_idle(e, m);
	} else if (!timed_out && status == 0) {
		p->state = PART_DONE;
		snprintf(p->id, sizeof p->id, "%s", msgid ? msgid : "");
		if (p->idx == 0)
			snprintf(m->first_id, sizeof m->first_id, "%s", msgid ? msgid : "");
		m->nok++;
		log_debug("[%s] event=part_accepted tag=%llu part=%d/%d seq=%u msgid=%s", e->name,
		          (unsigned long long)m->tag, p->idx + 1, m->nparts, seq, msgid ? msgid : "");
		if (m->nok == m->nparts)
			msg_finish(e, m, 0);
	} else {
		struct retry_rule rule = retry_rule(e, status, timed_out);
		int64_t now = now_ms();
		p->tries++;
		if (rule.tries > 1)
			slow_down(e, now);
		if (p->tries >= rule.tries) {
			p->state = PART_DONE;
			msg_finish(e, m, timed_out ? ESME_STATUS_TIMEOUT : status);
		} else {
			int64_t d = retry_delay(e, &rule, p->tries);
			p->not_before = now + d;
			p->state = PART_QUEUED;
			TAILQ_INSERT_HEAD(&e->queue, p, link);
			e->queued++;
			log_warn("[%s] event=submit_retry tag=%llu part=%d/%d seq=%u status=%s try=%d/%d "
			         "delay_ms=%lld",
			         e->name, (unsigned long long)m->tag, p->idx + 1, m->nparts, seq,
			         timed_out ? "timeout" : smpp_status_name(status), p->tries, rule.tries,
			         (long long)d);
		}
	}
	if (e->shutting && e->state == ES_BOUND && e->inflight == 0)
		send_unbind(e);
	pump(e);
	schedule_ready(e);
}

static void slot_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme_slot *s = arg;
	struct esme *e = s->e;
	log_warn("[%s] event=response_timeout cmd=submit_sm seq=%u", e->name, s->seq);
	part_result(e, s, 0, NULL, 1);
}

static void send_part(struct esme *e, struct esme_slot *s, struct esme_part *p, int64_t now)
{
	(void)now;
	uint32_t seq = take_seq(e);
	smpp_put_u32(p->pdu + 12, seq);
	TAILQ_REMOVE(&e->queue, p, link);
	e->queued--;
	p->state = PART_INFLIGHT;
	p->msg->inflight++;
	s->seq = seq;
	s->sent_no = ++e->submits;
	s->part = p;
	e->inflight++;
	if (e->cfg->tps > 0)
		e->tokens -= 1;
	arm(s->timer, resp_ms(e));
	send_bytes(e, p->pdu, p->len);
	log_debug("[%s] event=submit_sm tag=%llu part=%d/%d seq=%u try=%d", e->name,
	          (unsigned long long)p->msg->tag, p->idx + 1, p->msg->nparts, seq, p->tries + 1);
}

/* Send queued parts while the window and the token bucket allow; arm the
 * timers that resume sending. */
static void pump(struct esme *e)
{
	if (e->state != ES_BOUND || e->shutting)
		return;
	int64_t now = now_ms();
	refill(e, now);
	int64_t next_retry = INT64_MAX;
	for (;;) {
		struct esme_slot *s = slot_free_one(e);
		if (!s)
			break;
		struct esme_part *p, *pick = NULL;
		TAILQ_FOREACH(p, &e->queue, link) {
			if (p->not_before <= now) {
				pick = p;
				break;
			}
			if (p->not_before < next_retry)
				next_retry = p->not_before;
		}
		if (!pick)
			break;
		if (e->cfg->tps > 0 && e->tokens < 1)
			break;
		send_part(e, s, pick, now);
		next_retry = INT64_MAX;
	}
	/* earliest retry among what is left */
	struct esme_part *p;
	next_retry = INT64_MAX;
	TAILQ_FOREACH(p, &e->queue, link)
		if (p->not_before > now && p->not_before < next_retry)
			next_retry = p->not_before;
	if (next_retry != INT64_MAX)
		arm(e->retry_ev, next_retry - now);
	if (e->cfg->tps > 0 && e->tokens < 1 && !event_pending(e->tps_ev, EV_TIMEOUT, NULL)) {
		double r = tps_rate(e, now);
		arm(e->tps_ev, (int64_t)((1 - e->tokens) * 1000.0 / r) + 1);
	}
}

static void tps_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	pump(e);
	schedule_ready(e);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->cbs->on_ready && esme_capacity(e) > 0)
		e->cbs->on_ready(e->arg, e);
}

/* ---------- connection ---------- */

static void reconnect_schedule(struct esme *e)
{
	int64_t d = ESME_BACKOFF_MIN_MS;
	for (int i = 0; i < e->backoff_attempt && d < ESME_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > ESME_BACKOFF_MAX_MS)
		d = ESME_BACKOFF_MAX_MS;
	d = jitter(e, d);
	e->backoff_attempt++;
	e->state = ES_IDLE;
	arm(e->reconnect_ev, d);
	log_info("[%s] event=reconnect_scheduled delay_ms=%lld attempt=%d", e->name, (long long)d,
	         e->backoff_attempt);
}

static void finish_shutdown(struct esme *e)
{
	e->state = ES_DONE;
	event_del(e->reconnect_ev);
	event_del(e->shut_ev);
	event_del(e->unbind_ev);
	log_info("[%s] event=shutdown_done unconfirmed_parts=%d", e->name, e->queued + e->inflight);
	event_active(e->done_ev, EV_TIMEOUT, 1);
}

static void close_bev(struct esme *e)
{
	if (e->bev) {
		bufferevent_free(e->bev);
		e->bev = NULL;
	}
	evtimer_del(e->bind_ev);
	evtimer_del(e->el_ev);
	evtimer_del(e->el_resp_ev);
	evtimer_del(e->flush_ev);
	evtimer_del(e->unbind_ev);
	e->bind_seq = e->el_seq = e->unbind_seq = 0;
}

/* The connection is gone (error, EOF, dead link, refused bind, closed by us):
 * put parts in flight back in the queue and reconnect (or finish a shutdown). */
static void conn_lost(struct esme *e, const char *why)
{
	int was_bound = e->bound;
	close_bev(e);
	int requeued = 0;
	for (int i = 0; i < e->window; i++) {
		struct esme_slot *s = &e->slots[i];
		if (s->seq == 0)
			continue;
		struct esme_part *p = s->part;
		slot_release(e, s);
		p->msg->inflight--;
		if (p->msg->finished) {
			p->state = PART_DONE;
			msg_free_if_idle(e, p->msg);
			continue;
		}
		p->state = PART_QUEUED;
		p->not_before = 0;
		TAILQ_INSERT_HEAD(&e->queue, p, link);
		e->queued++;
		requeued++;
	}
	/* a set handed to on_mo on this connection will never be answered: let the
	 * SMSC's redelivery of its last part complete it again */
	struct esme_mo *mo;
	TAILQ_FOREACH(mo, &e->mos, link) {
		if (mo->handed) {
			mo->handed = 0;
			free(mo->part[mo->last_seq - 1].data);
			mo->part[mo->last_seq - 1].data = NULL;
			mo->have--;
			mo->first = now_ms();
		}
	}
	e->bound = 0;
	log_warn("[%s] event=disconnected reason=%s requeued_parts=%d", e->name, why, requeued);
	if (e->shutting)
		finish_shutdown(e);
	else
		reconnect_schedule(e);
	if (was_bound && e->cbs->on_state) {
		e->in_state_cb++;
		e->cbs->on_state(e->arg, e, 0);
		e->in_state_cb--;
	}
}

/* Close once the output buffer is flushed (after unbind_resp or generic_nack). */
static void close_after_flush(struct esme *e, const char *why)
{
	if (!e->bev) {
		return;
	}
	e->state = ES_CLOSING;
	e->close_why = why;
	bufferevent_disable(e->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(e->bev)) == 0) {
		conn_lost(e, why);
		return;
	}
	arm(e->flush_ev, ESME_FLUSH_WAIT_MS);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	log_warn("[%s] event=flush_timeout", e->name);
	conn_lost(e, e->close_why ? e->close_why : "closed");
}

static void send_bind(struct esme *e)
{
	uint8_t b[256];
	uint32_t cmd = e->mode == EM_TX   ? SMPP_BIND_TRANSMITTER
	               : e->mode == EM_RX ? SMPP_BIND_RECEIVER
	                                  : SMPP_BIND_TRANSCEIVER;
	e->bind_seq = take_seq(e);
	int n = smpp_build_bind(b, sizeof b, cmd, e->bind_seq, e->cfg->system_id ? e->cfg->system_id : "",
	                        e->cfg->password ? e->cfg->password : "",
	                        e->cfg->system_type ? e->cfg->system_type : "");
	if (n < 0) {
		log_error("[%s] event=bind_build_failed err=%d (system_id/password/system_type too long?)",
		          e->name, n);
		conn_lost(e, "bind_build_failed");
		return;
	}
	send_bytes(e, b, (size_t)n);
	e->state = ES_BINDING;
	arm(e->bind_ev, resp_ms(e));
	log_info("[%s] event=bind_sent cmd=%s system_id=%s seq=%u", e->name, smpp_cmd_name(cmd),
	         e->cfg->system_id ? e->cfg->system_id : "", e->bind_seq);
}

static void bind_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	log_warn("[%s] event=%s_timeout", e->name, e->state == ES_CONNECTING ? "connect" : "bind");
	conn_lost(e, e->state == ES_CONNECTING ? "connect_timeout" : "bind_timeout");
}

static void el_timer_arm(struct esme *e, int64_t ms)
{
	if (e->cfg->enquire_link_s > 0)
		arm(e->el_ev, ms);
}

static void bind_result(struct esme *e, uint32_t status)
{
	evtimer_del(e->bind_ev);
	e->bind_seq = 0;
	if (status != 0) {
		log_warn("[%s] event=bind_refused status=%s", e->name, smpp_status_name(status));
		conn_lost(e, "bind_refused");
		return;
	}
	int64_t now = now_ms();
	e->state = ES_BOUND;
	e->bound = 1;
	e->backoff_attempt = 0;
	e->last_rx = now;
	e->tok_last = now;
	e->tokens = e->cfg->tps > 0 ? tps_rate(e, now) : 0;
	el_timer_arm(e, (int64_t)e->cfg->enquire_link_s * 1000);
	log_info("[%s] event=bound host=%s port=%d queued_parts=%d", e->name, e->cfg->host,
	         e->cfg->port, e->queued);
	if (e->shutting) {
		send_unbind(e);
		return;
	}
	pump(e);
	if (e->cbs->on_state)
		e->cbs->on_state(e->arg, e, 1);
	schedule_ready(e);
}

static void el_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->state != ES_BOUND && e->state != ES_UNBINDING)
		return;
	int64_t el_ms = (int64_t)e->cfg->enquire_link_s * 1000;
	int64_t idle = now_ms() - e->last_rx;
	if (idle >= el_ms && e->el_seq == 0) {
		e->el_seq = take_seq(e);
		send_header(e, SMPP_ENQUIRE_LINK, 0, e->el_seq);
		arm(e->el_resp_ev, resp_ms(e));
		log_debug("[%s] event=enquire_link seq=%u", e->name, e->el_seq);
		el_timer_arm(e, el_ms);
	} else {
		el_timer_arm(e, idle >= el_ms ? el_ms : el_ms - idle);
	}
}

static void el_resp_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	log_warn("[%s] event=enquire_link_timeout seq=%u", e->name, e->el_seq);
	conn_lost(e, "link_dead");
}

static void send_unbind(struct esme *e)
{
	evtimer_del(e->shut_ev);
	e->unbind_seq = take_seq(e);
	send_header(e, SMPP_UNBIND, 0, e->unbind_seq);
	e->state = ES_UNBINDING;
	int64_t w = resp_ms(e);
	arm(e->unbind_ev, w > ESME_UNBIND_WAIT_MS ? ESME_UNBIND_WAIT_MS : w);
	log_info("[%s] event=unbind_sent seq=%u inflight=%d", e->name, e->unbind_seq, e->inflight);
}

static void unbind_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_lost(arg, "unbind_timeout");
}

static void shut_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->state == ES_BOUND) {
		log_warn("[%s] event=shutdown_wait_timeout inflight=%d", e->name, e->inflight);
		send_unbind(e);
	}
}

/* This link finished its shutdown: call `done`, unless the receiver link of
 * a transmitter+receiver pair still runs (then rx_done_cb calls it). */
static void own_done(struct esme *e)
{
	if (e->rx_pending) {
		e->self_done = 1;
		return;
	}
	void (*f)(void *) = e->done;
	e->done = NULL;
	if (f)
		f(e->done_arg); /* may free e: nothing after this */
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	own_done(arg); /* may free e: nothing after this */
}

/* The receiver link finished its shutdown (`done` of esme_shutdown(e->rx)). */
static void rx_done_cb(void *arg)
{
	struct esme *e = arg;
	e->rx_pending = 0;
	if (e->self_done) {
		e->self_done = 0;
		own_done(e); /* may free e: nothing after this */
	}
}

/* ---------- receipts ---------- */

/* Case-insensitive search of `needle` in s (NUL-terminated). */
static const char *find_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (; *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return s;
	return NULL;
}

/* "id:" at the start or after a blank (so "xid:" does not count). */
static const char *find_key(const char *s, const char *key)
{
	const char *p = s;
	while ((p = find_ci(p, key)) != NULL) {
		if (p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == '\r')
			return p;
		p++;
	}
	return NULL;
}

/* Copy the token after key (spaces skipped) into out. Returns 1 if found. */
static int receipt_field(const char *s, const char *key, char *out, size_t cap)
{
	const char *p = find_key(s, key);
	if (!p)
		return 0;
	p += strlen(key);
	while (*p == ' ')
		p++;
	size_t n = 0;
	while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n' && n + 1 < cap) {
		out[n] = p[n];
		n++;
	}
	out[n] = '\0';
	return 1;
}

static enum esme_dlr stat_from_text(const char *st)
{
	static const struct {
		const char *name;
		enum esme_dlr v;
	} map[] = {
	    {"DELIVRD", ESME_DLR_DELIVERED}, {"DELIVERED", ESME_DLR_DELIVERED},
	    {"EXPIRED", ESME_DLR_EXPIRED},   {"DELETED", ESME_DLR_DELETED},
	    {"UNDELIV", ESME_DLR_UNDELIVERABLE}, {"UNDELIVERABLE", ESME_DLR_UNDELIVERABLE},
	    {"ACCEPTD", ESME_DLR_ACCEPTED},  {"ACCEPTED", ESME_DLR_ACCEPTED},
	    {"UNKNOWN", ESME_DLR_UNKNOWN},   {"REJECTD", ESME_DLR_REJECTED},
	    {"REJECTED", ESME_DLR_REJECTED}, {"ENROUTE", ESME_DLR_ENROUTE},
	    {"ACKED", ESME_DLR_ENROUTE},     {"BUFFRED", ESME_DLR_ENROUTE},
	    {"BUFFERED", ESME_DLR_ENROUTE},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(st, map[i].name) == 0)
			return map[i].v;
	return ESME_DLR_UNKNOWN;
}

/* text: the decoded short message (may be NULL). Cuts at "text:" so the
 * original text quoted in the receipt cannot fake its fields. */
/* A receipt in text form without the esm_class bits or TLVs that say so: it
 * must start with "id:" and have "stat:" before any "text:", so that a
 * citizen's reply that merely contains "id:" and "stat:" stays a reply. */
static int text_is_receipt(char *text)
{
	if (!text)
		return 0;
	char *t = (char *)find_key(text, "text:");
	if (t)
		*t = '\0';
	const char *p = text;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (strncasecmp(p, "id:", 3) != 0)
		return 0;
	return find_key(text, "stat:") != NULL;
}

static void receipt_deliver(struct esme *e, uint32_t cmd, uint32_t seq, const char *rid, const char *known,
                            enum esme_dlr state);
static int held_blocked(const struct esme *root, const struct esme_held *hd);

static void handle_receipt(struct esme *e, const struct smpp_hdr *h, const struct smpp_sm *sm,
                           const char *text)
{
	char id[66] = "", st[32] = "";
	enum esme_dlr state = ESME_DLR_UNKNOWN;
	if (sm->has_receipted_id && sm->receipted_id[0])
		snprintf(id, sizeof id, "%s", sm->receipted_id);
	else if (text)
		receipt_field(text, "id:", id, sizeof id);
	if (sm->has_message_state)
		state = sm->message_state >= 1 && sm->message_state <= 8 ? (enum esme_dlr)sm->message_state
		                                                           : ESME_DLR_UNKNOWN;
	else if (text && receipt_field(text, "stat:", st, sizeof st))
		state = stat_from_text(st);
	if (!id[0]) {
		log_warn("[%s] event=receipt_unparsed seq=%u esm_class=0x%02x", e->name, h->seq,
		         sm->esm_class);
		send_sm_resp(e, h->id | 0x80000000u, 0, h->seq);
		return;
	}
	struct esme *root = e->parent ? e->parent : e;
	const char *known = idmap_find(root, id);
	struct esme_held probe = {.wm = root->submits};
	snprintf(probe.id, sizeof probe.id, "%s", id);
	if (!known && root->idmap && root->nheld < ESME_HELD_MAX && held_blocked(root, &probe)) {
		struct esme_held *hd = calloc(1, sizeof *hd);
		if (hd) {
			*hd = probe;
			hd->conn = e;
			hd->gen = e->gen;
			hd->cmd = h->id | 0x80000000u;
			hd->seq = h->seq;
			hd->state = state;
			hd->at = now_ms();
			TAILQ_INSERT_TAIL(&root->held, hd, link);
			root->nheld++;
			log_debug("[%s] event=receipt_held id=%s msg=\"its message is still being submitted\"", e->name,
			          id);
			if (!evtimer_pending(root->held_ev, NULL))
				arm(root->held_ev, 500);
			return;
		}
	}
	receipt_deliver(e, h->id | 0x80000000u, h->seq, id, known, state);
}

/* The receipt, with the message id it names (known: from the ring, or NULL),
 * to the gateway; answered with what on_receipt says. */
static void receipt_deliver(struct esme *e, uint32_t cmd, uint32_t seq, const char *rid, const char *known,
                            enum esme_dlr state)
{
	char id[66];
	snprintf(id, sizeof id, "%s", rid);
	if (known && strcmp(known, id) != 0) {
		log_info("[%s] event=receipt msgid=%s receipt_id=%s state=%d", e->name, known, id,
		         (int)state);
		snprintf(id, sizeof id, "%s", known);
	} else {
		log_info("[%s] event=receipt msgid=%s state=%d%s", e->name, id, (int)state,
		         known ? "" : " (not a recent id)");
	}
	/* answered after the gateway stored it, like an MO (the owner's
	 * callbacks: an rx link forwards to them) */
	uint32_t status = e->cbs->on_receipt ? e->cbs->on_receipt(e->arg, e, id, state) : 0;
	send_sm_resp(e, cmd, status, seq);
}

/* 1 when a receipt whose id is not known (yet) may be for a message still
 * being submitted: a submit_sm written before the receipt came is still
 * unanswered (its id may be the receipt's), or a message not reported yet
 * has a part the SMSC accepted under that id. Receipts for anything else
 * (an id older than the ring, a peer's message) are not held. */
static int held_blocked(const struct esme *root, const struct esme_held *hd)
{
	for (int i = 0; i < root->window; i++)
		if (root->slots[i].seq != 0 && root->slots[i].sent_no <= hd->wm)
			return 1;
	const struct esme_out *m;
	TAILQ_FOREACH(m, &root->msgs, link) {
		if (m->finished)
			continue;
		for (int i = 0; i < m->nparts; i++)
			if (m->part[i].id[0] && esme_msgid_eq(m->part[i].id, hd->id))
				return 1;
	}
	return 0;
}

/* Held receipts: those whose message is now known go to the gateway; those
 * that can no longer be matched (no message left in submission, or too old)
 * go as they came; those whose link went are dropped (the SMSC sends them
 * again). Runs from its own event, never inside a callback. */
static void held_run(struct esme *root)
{
	int64_t now = now_ms();
	struct esme_held *hd, *next;
	for (hd = TAILQ_FIRST(&root->held); hd; hd = next) {
		next = TAILQ_NEXT(hd, link);
		struct esme *c = hd->conn;
		int gone = c->gen != hd->gen || !c->bev || (c->state != ES_BOUND && c->state != ES_UNBINDING);
		const char *known = gone ? NULL : idmap_find(root, hd->id);
		if (!gone && !known && held_blocked(root, hd) && now - hd->at < ESME_HELD_MS)
			continue;
		TAILQ_REMOVE(&root->held, hd, link);
		root->nheld--;
		if (gone)
			log_info("[%s] event=receipt_dropped id=%s (connection gone: the SMSC sends it again)", c->name,
			         hd->id);
		else
			receipt_deliver(c, hd->cmd, hd->seq, hd->id, known, hd->state);
		free(hd);
	}
	if (root->nheld > 0 && !evtimer_pending(root->held_ev, NULL))
		arm(root->held_ev, 500);
}

static void held_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	held_run(arg);
}

/* ---------- MO ---------- */

static uint64_t mo_token(struct esme *e, uint32_t cmd, uint32_t seq)
{
	return (uint64_t)(e->gen & ESME_GEN_MASK) << 33 | (uint64_t)(cmd == SMPP_DATA_SM) << 32 | seq;
}

static void mo_free(struct esme *e, struct esme_mo *mo)
{
	TAILQ_REMOVE(&e->mos, mo, link);
	e->nmos--;
	for (int i = 0; i < mo->total; i++)
		free(mo->part[i].data);
	free(mo);
}

static void mo_sweep(struct esme *e)
{
	int64_t now = now_ms();
	struct esme_mo *mo, *next;
	for (mo = TAILQ_FIRST(&e->mos); mo; mo = next) {
		next = TAILQ_NEXT(mo, link);
		int64_t ttl = mo->handed ? ESME_MO_HANDED_TTL_MS : ESME_MO_TTL_MS;
		if (now - mo->first >= ttl) {
			char m[PHONE_MAX];
			phone_mask(mo->src, m);
			log_warn("[%s] event=mo_parts_expired from=%s ref=%u have=%d total=%d handed=%d",
			         e->name, m, mo->ref & 0xFFFF, mo->have, mo->total, mo->handed);
			mo_free(e, mo);
		}
	}
	if (e->nmos > 0 && !evtimer_pending(e->mo_ev, NULL))
		arm(e->mo_ev, ESME_MO_SWEEP_MS);
}

static void mo_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mo_sweep(arg);
}

/* Decode and hand an MO (single, or the bytes of a completed set). */
static void mo_deliver(struct esme *e, const struct smpp_hdr *h, const struct smpp_sm *sm,
                       uint8_t dc, const uint8_t *bytes, size_t n, uint64_t token, int parts)
{
	size_t cap = n * 3 + 4;
	char *text = malloc(cap);
	if (!text) {
		send_sm_resp(e, h->id | 0x80000000u, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	int r = text_decode(dc, bytes, n, text, cap);
	if (r < 0)
		text[0] = '\0';
	char m[PHONE_MAX];
	phone_mask(sm->src_addr, m);
	log_info("[%s] event=mo from=%s parts=%d dc=%u chars_bytes=%d ussd_op=%d token=%llu", e->name,
	         m, parts, dc, r, sm->has_ussd_op ? sm->ussd_op : -1, (unsigned long long)token);
	if (e->cbs->on_mo)
		e->cbs->on_mo(e->arg, e, token, sm->src_addr, text, sm);
	else
		send_sm_resp(e, h->id | 0x80000000u, 0, h->seq);
	free(text);
}

static void handle_mo(struct esme *e, const struct smpp_hdr *h, const struct smpp_sm *sm)
{
	uint32_t resp = h->id | 0x80000000u;
	const uint8_t *bytes;
	size_t n;
	uint32_t ref = 0;
	int total = 1, seqn = 1;
	{
		/* short_message, or message_payload (a UDH may come inside it too) */
		struct smpp_ud ud;
		if (smpp_user_data(sm, &ud) < 0) {
			log_warn("[%s] event=mo_bad_udh seq=%u", e->name, h->seq);
			send_sm_resp(e, resp, SMPP_ESME_RINVMSGLEN, h->seq);
			return;
		}
		bytes = ud.text;
		n = ud.text_len;
		if (ud.total > 1) {
			ref = ud.ref;
			total = ud.total;
			seqn = ud.seq;
		}
	}
	if (total == 1 && sm->has_sar && sm->sar_total > 1) {
		ref = 0x10000u | sm->sar_ref;
		total = sm->sar_total;
		seqn = sm->sar_seq;
	}
	if (total > 1 && (seqn < 1 || seqn > total)) {
		log_warn("[%s] event=mo_bad_segment seq=%u part=%d total=%d (taken as a whole message)",
		         e->name, h->seq, seqn, total);
		total = 1;
	}
	uint64_t token = mo_token(e, h->id, h->seq);
	if (total == 1) {
		mo_deliver(e, h, sm, sm->data_coding, bytes, n, token, 1);
		return;
	}
	if (e->cbs->on_mo_part) {
		char m[PHONE_MAX];
		phone_mask(sm->src_addr, m);
		log_debug("[%s] event=mo_part from=%s ref=%u part=%d/%d token=%llu", e->name, m, ref & 0xFFFF,
		          seqn, total, (unsigned long long)token);
		e->cbs->on_mo_part(e->arg, e, token, sm, ref, total, seqn, bytes, n);
		return;
	}

	mo_sweep(e);
	struct esme_mo *mo;
	TAILQ_FOREACH(mo, &e->mos, link)
		if (mo->ref == ref && mo->total == total && strcmp(mo->src, sm->src_addr) == 0)
			break;
	if (mo && mo->handed) {
		/* the set is complete and waiting for esme_answer: come back later */
		send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	if (!mo) {
		if (e->nmos >= ESME_MO_MAX_SETS) {
			log_warn("[%s] event=mo_sets_full n=%d", e->name, e->nmos);
			send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
			return;
		}
		mo = calloc(1, sizeof *mo + (size_t)total * sizeof mo->part[0]);
		if (!mo) {
			send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
			return;
		}
		snprintf(mo->src, sizeof mo->src, "%s", sm->src_addr);
		mo->ref = ref;
		mo->total = total;
		mo->dc = sm->data_coding;
		mo->first = now_ms();
		TAILQ_INSERT_TAIL(&e->mos, mo, link);
		e->nmos++;
		if (!evtimer_pending(e->mo_ev, NULL))
			arm(e->mo_ev, ESME_MO_SWEEP_MS);
	}
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy) {
		send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	if (n)
		memcpy(copy, bytes, n);
	if (mo->part[seqn - 1].data)
		free(mo->part[seqn - 1].data); /* a repeated part replaces the first copy */
	else
		mo->have++;
	mo->part[seqn - 1].data = copy;
	mo->part[seqn - 1].len = n;
	if (mo->have < mo->total) {
		log_debug("[%s] event=mo_part ref=%u part=%d/%d have=%d", e->name, ref & 0xFFFF, seqn,
		          total, mo->have);
		send_sm_resp(e, resp, 0, h->seq);
		return;
	}
	size_t all = 0;
	for (int i = 0; i < mo->total; i++)
		all += mo->part[i].len;
	uint8_t *joined = malloc(all ? all : 1);
	if (!joined) {
		/* forget this part so its redelivery completes the set */
		free(mo->part[seqn - 1].data);
		mo->part[seqn - 1].data = NULL;
		mo->have--;
		send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	size_t off = 0;
	for (int i = 0; i < mo->total; i++) {
		memcpy(joined + off, mo->part[i].data, mo->part[i].len);
		off += mo->part[i].len;
	}
	mo->handed = 1;
	mo->token = token;
	mo->last_seq = seqn;
	mo->first = now_ms();
	mo_deliver(e, h, sm, mo->dc, joined, all, token, total);
	free(joined);
}

static void handle_sm(struct esme *e, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	uint32_t resp = h->id | 0x80000000u;
	if (e->state != ES_BOUND && e->state != ES_UNBINDING) {
		send_sm_resp(e, resp, SMPP_ESME_RINVBNDSTS, h->seq);
		return;
	}
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	uint32_t st = smpp_decode_sm(pdu, len, &sm);
	if (st != 0) {
		log_warn("[%s] event=decode_failed cmd=%s seq=%u status=%s", e->name, smpp_cmd_name(h->id),
		         h->seq, smpp_status_name(st));
		send_sm_resp(e, resp, st, h->seq);
		return;
	}
	/* the text, decoded, to look for a receipt */
	const uint8_t *raw = sm.payload && sm.payload_len ? sm.payload : sm.short_message;
	size_t rawn = sm.payload && sm.payload_len ? sm.payload_len : sm.sm_length;
	char *text = NULL;
	if (!(sm.esm_class & 0x40)) {
		size_t cap = rawn * 3 + 4;
		text = malloc(cap);
		if (text && text_decode(sm.data_coding, raw, rawn, text, cap) < 0)
			text[0] = '\0';
	}
	int receipt = (sm.esm_class & 0x3C) || (sm.has_receipted_id && sm.has_message_state);
	if (!receipt && text) {
		char *probe = strdup(text);
		receipt = probe && text_is_receipt(probe);
		free(probe);
	}
	if (receipt) {
		if (text) {
			char *t = (char *)find_key(text, "text:");
			if (t)
				*t = '\0';
		}
		handle_receipt(e, h, &sm, text);
		free(text);
		return;
	}
	free(text);
	if (e->shutting) {
		send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	handle_mo(e, h, &sm);
}

/* ---------- incoming PDUs ---------- */

static void handle_resp(struct esme *e, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	if (h->seq != 0 && h->seq == e->bind_seq &&
	    (h->id == SMPP_BIND_TRANSCEIVER_RESP || h->id == SMPP_BIND_TRANSMITTER_RESP ||
	     h->id == SMPP_BIND_RECEIVER_RESP || h->id == SMPP_GENERIC_NACK)) {
		uint32_t st = h->status;
		if (h->id == SMPP_GENERIC_NACK && st == 0)
			st = SMPP_ESME_RBINDFAIL;
		bind_result(e, st);
		return;
	}
	if (h->seq != 0 && h->seq == e->el_seq &&
	    (h->id == SMPP_ENQUIRE_LINK_RESP || h->id == SMPP_GENERIC_NACK)) {
		e->el_seq = 0;
		evtimer_del(e->el_resp_ev);
		return;
	}
	if (h->seq != 0 && h->seq == e->unbind_seq &&
	    (h->id == SMPP_UNBIND_RESP || h->id == SMPP_GENERIC_NACK)) {
		log_info("[%s] event=unbind_resp status=%s", e->name, smpp_status_name(h->status));
		e->unbind_seq = 0;
		conn_lost(e, "unbound");
		return;
	}
	struct esme_slot *s = NULL;
	if (h->id == SMPP_SUBMIT_SM_RESP || h->id == SMPP_GENERIC_NACK)
		s = slot_find(e, h->seq);
	if (!s) {
		log_warn("[%s] event=unmatched_response cmd=%s seq=%u status=%s", e->name,
		         smpp_cmd_name(h->id), h->seq, smpp_status_name(h->status));
		return;
	}
	uint32_t st = h->status;
	char id[66] = "";
	if (h->id == SMPP_GENERIC_NACK) {
		if (st == 0)
			st = SMPP_ESME_RSYSERR; /* a nack that says "OK": retry */
		log_warn("[%s] event=generic_nack seq=%u status=%s", e->name, h->seq,
		         smpp_status_name(st));
	} else if (st == 0 && smpp_decode_resp_msgid(pdu, len, id) != 0) {
		id[0] = '\0';
		log_warn("[%s] event=resp_msgid_undecodable seq=%u", e->name, h->seq);
	}
	part_result(e, s, st, id, 0);
}

static void handle_pdu(struct esme *e, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	if (h->id & 0x80000000u) {
		handle_resp(e, h, pdu, len);
		return;
	}
	switch (h->id) {
	case SMPP_DELIVER_SM:
	case SMPP_DATA_SM:
		handle_sm(e, h, pdu, len);
		break;
	case SMPP_ENQUIRE_LINK:
		send_header(e, SMPP_ENQUIRE_LINK_RESP, 0, h->seq);
		break;
	case SMPP_UNBIND:
		log_info("[%s] event=unbind_by_smsc seq=%u", e->name, h->seq);
		send_header(e, SMPP_UNBIND_RESP, 0, h->seq);
		close_after_flush(e, "unbind_by_smsc");
		break;
	case 0x00000102u: /* alert_notification: no response exists */
	case 0x0000000Bu: /* outbind: no response exists */
		log_info("[%s] event=ignored cmd=%s seq=%u", e->name, smpp_cmd_name(h->id), h->seq);
		break;
	default:
		log_warn("[%s] event=invalid_command cmd=0x%08x seq=%u", e->name, h->id, h->seq);
		send_header(e, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDID, h->seq);
		break;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct esme *e = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint32_t gen = e->gen;
	static uint8_t pdu[SMPP_MAX_PDU + 1]; /* event-loop thread only */
	for (;;) {
		if (e->bev != bev || e->gen != gen)
			return; /* closed while handling the last PDU */
		if (e->state == ES_CLOSING) {
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		size_t avail = evbuffer_get_length(in);
		uint8_t hb[SMPP_HEADER_LEN];
		size_t hn = avail < sizeof hb ? avail : sizeof hb;
		if (hn == 0)
			return;
		evbuffer_copyout(in, hb, hn);
		struct smpp_hdr h;
		int r = smpp_frame(hb, hn, &h);
		if (r == 0 && hn >= 4) {
			uint32_t l = smpp_get_u32(hb);
			if (l < SMPP_HEADER_LEN || l > SMPP_MAX_PDU)
				r = -EPROTO;
			else if (avail >= l) {
				const uint8_t *whole = evbuffer_pullup(in, (ev_ssize_t)l);
				if (!whole) {
					conn_lost(e, "out_of_memory");
					return;
				}
				r = smpp_frame(whole, l, &h);
			}
		}
		if (r < 0) {
			uint32_t seq = hn >= 16 ? smpp_get_u32(hb + 12) : 0;
			log_warn("[%s] event=framing_error command_length=%u", e->name,
			         hn >= 4 ? smpp_get_u32(hb) : 0);
			send_header(e, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDLEN, seq);
			close_after_flush(e, "framing_error");
			return;
		}
		if (r == 0)
			return;
		evbuffer_remove(in, pdu, (size_t)r);
		pdu[r] = '\0';
		e->last_rx = now_ms();
		handle_pdu(e, &h, pdu, (size_t)r);
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct esme *e = arg;
	if (e->state == ES_CLOSING && e->bev == bev &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_lost(e, e->close_why ? e->close_why : "closed");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct esme *e = arg;
	if (e->bev != bev)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		/* PDUs are small and several are in flight: without this, a
		 * deliver_sm_resp or submit_sm written while an earlier one is
		 * unacknowledged waits for the peer's delayed ACK (up to 40 ms) */
		int one = 1;
		if (setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
			log_warn("[%s] event=nodelay_failed err=\"%s\"", e->name, strerror(errno));
		log_info("[%s] event=connected host=%s port=%d", e->name, e->cfg->host, e->cfg->port);
		send_bind(e);
		return;
	}
	int err = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_EOF)
		conn_lost(e, e->state == ES_CLOSING && e->close_why ? e->close_why : "eof");
	else if (what & BEV_EVENT_ERROR) {
		log_warn("[%s] event=socket_error state=%d err=\"%s\"", e->name, (int)e->state,
		         evutil_socket_error_to_string(err));
		conn_lost(e, e->state == ES_CONNECTING ? "connect_failed" : "socket_error");
	} else
		conn_lost(e, "timeout");
}

static void conn_start(struct esme *e)
{
	char port[16];
	snprintf(port, sizeof port, "%d", e->cfg->port);
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	e->gen++;
	/* blocking only for host names; numeric addresses resolve at once */
	int rc = getaddrinfo(e->cfg->host ? e->cfg->host : "127.0.0.1", port, &hints, &ai);
	if (rc != 0 || !ai) {
		log_warn("[%s] event=resolve_failed host=%s err=\"%s\"", e->name,
		         e->cfg->host ? e->cfg->host : "", gai_strerror(rc));
		if (ai)
			freeaddrinfo(ai);
		reconnect_schedule(e);
		return;
	}
	e->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!e->bev) {
		freeaddrinfo(ai);
		reconnect_schedule(e);
		return;
	}
	bufferevent_setcb(e->bev, read_cb, write_cb, event_cb, e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
	e->state = ES_CONNECTING;
	arm(e->bind_ev, resp_ms(e));
	log_info("[%s] event=connecting host=%s port=%d", e->name, e->cfg->host, e->cfg->port);
	if (bufferevent_socket_connect(e->bev, ai->ai_addr, (int)ai->ai_addrlen) < 0) {
		freeaddrinfo(ai);
		conn_lost(e, "connect_failed");
		return;
	}
	freeaddrinfo(ai);
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->state == ES_IDLE && !e->shutting)
		conn_start(e);
}

/* ---------- public ---------- */

/* The receiver link of a TX+RX pair hands what it receives to the
 * transmitter's callbacks, as if the pair were one esme. */
static void rx_on_mo(void *arg, struct esme *rx, uint64_t token, const char *from,
                     const char *text, const struct smpp_sm *sm)
{
	(void)rx;
	struct esme *e = arg;
	if (e->cbs->on_mo)
		e->cbs->on_mo(e->arg, e, token | ESME_TOKEN_RX, from, text, sm);
	else
		esme_answer(e, token | ESME_TOKEN_RX, 0);
}

static uint32_t rx_on_receipt(void *arg, struct esme *rx, const char *msgid, enum esme_dlr state)
{
	(void)rx;
	struct esme *e = arg;
	return e->cbs->on_receipt ? e->cbs->on_receipt(e->arg, e, msgid, state) : 0;
}

static void rx_on_mo_part(void *arg, struct esme *rx, uint64_t token, const struct smpp_sm *sm,
                          uint32_t ref, int total, int seq, const uint8_t *bytes, size_t n)
{
	(void)rx;
	struct esme *e = arg;
	e->cbs->on_mo_part(e->arg, e, token | ESME_TOKEN_RX, sm, ref, total, seq, bytes, n);
}

static const struct esme_cbs rx_cbs = {.on_mo = rx_on_mo, .on_receipt = rx_on_receipt};
/* the same, when the owner keeps the parts of concatenated MOs itself */
static const struct esme_cbs rx_cbs_parts = {.on_mo = rx_on_mo, .on_mo_part = rx_on_mo_part,
                                             .on_receipt = rx_on_receipt};

static struct esme *esme_create(struct event_base *base, const struct config_smsc *cfg,
                                const struct esme_cbs *cbs, void *arg, enum esme_mode mode,
                                struct esme *parent)
{
	struct esme *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->base = base;
	e->cfg = cfg;
	e->cbs = cbs;
	e->arg = arg;
	e->mode = mode;
	e->parent = parent;
	e->name = cfg->name ? cfg->name : "smsc";
	if (mode == EM_RX) {
		snprintf(e->name_buf, sizeof e->name_buf, "%.40s/rx", e->name);
		e->name = e->name_buf;
	} else {
		e->idmap = calloc(1, sizeof *e->idmap);
		if (e->idmap)
			memset(e->idmap->head, 0xFF, sizeof e->idmap->head); /* every chain empty (-1) */
		if (!e->idmap)
			goto fail;
	}
	e->next_seq = 1;
	e->max_tries = ESME_MAX_TRIES;
	e->retry_base_ms = ESME_RETRY_BASE_MS;
	e->rng = (uint64_t)(uintptr_t)e ^ (uint64_t)now_ms() * 0x9E3779B97F4A7C15ull;
	if (!e->rng)
		e->rng = 88172645463325252ull;
	e->concat_ref = (uint8_t)rnd(e);
	e->window = cfg->window > 0 ? cfg->window : 10;
	if (e->window > ESME_MAX_WINDOW)
		e->window = ESME_MAX_WINDOW;
	TAILQ_INIT(&e->queue);
	TAILQ_INIT(&e->msgs);
	TAILQ_INIT(&e->mos);
	TAILQ_INIT(&e->held);
	e->slots = calloc((size_t)e->window, sizeof *e->slots);
	if (!e->slots)
		goto fail;
	for (int i = 0; i < e->window; i++) {
		e->slots[i].e = e;
		e->slots[i].timer = evtimer_new(base, slot_timeout_cb, &e->slots[i]);
		if (!e->slots[i].timer)
			goto fail;
	}
	struct {
		struct event **ev;
		event_callback_fn cb;
	} evs[] = {
	    {&e->reconnect_ev, reconnect_cb}, {&e->bind_ev, bind_timeout_cb},
	    {&e->el_ev, el_cb},               {&e->el_resp_ev, el_resp_cb},
	    {&e->tps_ev, tps_cb},             {&e->retry_ev, retry_cb},
	    {&e->shut_ev, shut_timeout_cb},   {&e->unbind_ev, unbind_timeout_cb},
	    {&e->flush_ev, flush_cb},         {&e->mo_ev, mo_sweep_cb},         {&e->held_ev, held_cb},
	    {&e->ready_ev, ready_cb},         {&e->done_ev, done_cb},
	};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		*evs[i].ev = evtimer_new(base, evs[i].cb, e);
		if (!*evs[i].ev)
			goto fail;
	}
	e->state = ES_IDLE;
	if (mode == EM_TX) {
		e->rx = esme_create(base, cfg, cbs->on_mo_part ? &rx_cbs_parts : &rx_cbs, e, EM_RX, e);
		if (!e->rx)
			goto fail;
	}
	conn_start(e);
	return e;
fail:
	esme_free(e);
	return NULL;
}

struct esme *esme_new(struct event_base *base, const struct config_smsc *cfg,
                      const struct esme_cbs *cbs, void *arg)
{
	return esme_create(base, cfg, cbs, arg, cfg->bind_trx ? EM_TRX : EM_TX, NULL);
}

void esme_free(struct esme *e)
{
	if (!e)
		return;
	esme_free(e->rx);
	free(e->idmap);
	if (e->bev)
		bufferevent_free(e->bev);
	struct event *evs[] = {e->reconnect_ev, e->bind_ev, e->el_ev,   e->el_resp_ev,
	                       e->tps_ev,       e->retry_ev, e->shut_ev, e->unbind_ev,
	                       e->flush_ev,     e->mo_ev,   e->ready_ev, e->done_ev, e->held_ev};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	if (e->slots) {
		for (int i = 0; i < e->window; i++)
			if (e->slots[i].timer)
				event_free(e->slots[i].timer);
		free(e->slots);
	}
	struct esme_out *m;
	while ((m = TAILQ_FIRST(&e->msgs)) != NULL) {
		TAILQ_REMOVE(&e->msgs, m, link);
		free(m);
	}
	struct esme_mo *mo;
	while ((mo = TAILQ_FIRST(&e->mos)) != NULL)
		mo_free(e, mo);
	struct esme_held *hd;
	while ((hd = TAILQ_FIRST(&e->held)) != NULL) {
		TAILQ_REMOVE(&e->held, hd, link);
		free(hd);
	}
	free(e);
}

void esme_shutdown(struct esme *e, int timeout_ms, void (*done)(void *arg), void *arg)
{
	e->done = done;
	e->done_arg = arg;
	if (e->shutting)
		return;
	e->shutting = 1;
	if (e->rx) {
		e->rx_pending = 1;
		esme_shutdown(e->rx, timeout_ms, rx_done_cb, e);
	}
	log_info("[%s] event=shutdown state=%d inflight=%d queued=%d", e->name, (int)e->state,
	         e->inflight, e->queued);
	switch (e->state) {
	case ES_BOUND:
		if (e->inflight == 0)
			send_unbind(e);
		else
			arm(e->shut_ev, timeout_ms > 0 ? timeout_ms : 0);
		return;
	case ES_UNBINDING:
	case ES_CLOSING:
		return; /* conn_lost will finish */
	default: {
		int was_bound = e->bound;
		close_bev(e);
		e->bound = 0;
		e->state = ES_DONE;
		event_del(e->reconnect_ev);
		if (was_bound && e->cbs->on_state)
			e->cbs->on_state(e->arg, e, 0);
		if (e->in_state_cb) {
			/* our caller still uses e after on_state returns: done may free it */
			event_active(e->done_ev, EV_TIMEOUT, 1);
			return;
		}
		own_done(e); /* may free e */
		return;
	}
	}
}

int esme_bound(const struct esme *e)
{
	return e->state == ES_BOUND;
}

/* Capacity counts parts, read as single-part messages: min(free window slots,
 * whole tokens) minus the parts already queued (retries waiting included). A
 * long message is accepted when the capacity is >= 1; its extra parts then wait
 * in the queue and hold the capacity at 0 until they are sent. */
int esme_capacity(const struct esme *e)
{
	if (e->state != ES_BOUND || e->shutting)
		return 0;
	int c = e->window - e->inflight - e->queued;
	if (e->cfg->tps > 0) {
		double t = tokens_at(e, now_ms());
		int tk = (int)t - e->queued;
		if (tk < c)
			c = tk;
	}
	return c > 0 ? c : 0;
}

/* source ton/npi from cfg, or derived from source_addr when cfg says -1. */
static void source_ton_npi(const struct config_smsc *cfg, uint8_t *ton, uint8_t *npi)
{
	const char *s = cfg->source_addr ? cfg->source_addr : "";
	size_t n = strlen(s);
	int digits = n > 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			digits = 0;
	int dton, dnpi;
	if (digits && n <= 8) {
		dton = 3;
		dnpi = 0;
	} else if (digits) {
		dton = 1;
		dnpi = 1;
	} else {
		dton = 5;
		dnpi = 0;
	}
	*ton = (uint8_t)(cfg->source_ton >= 0 ? cfg->source_ton : dton);
	*npi = (uint8_t)(cfg->source_npi >= 0 ? cfg->source_npi : dnpi);
}

int esme_submit(struct esme *e, const struct esme_msg *m)
{
	if (!m || !m->dst || !m->text)
		return -EINVAL;
	if (esme_capacity(e) <= 0)
		return -EAGAIN;
	struct text_parts *tp = malloc(sizeof *tp);
	if (!tp)
		return -ENOMEM;
	int rc = text_split(m->text, m->enc, tp);
	if (rc < 0) {
		free(tp);
		return rc;
	}
	if (tp->nparts < 1 || tp->nparts > TEXT_MAX_PARTS) {
		free(tp);
		return -EINVAL;
	}
	/* long_messages: payload needs one part only; calloc the most */
	struct esme_out *o = calloc(1, sizeof *o + (size_t)tp->nparts * sizeof o->part[0]);
	struct smpp_sm *sm = calloc(1, sizeof *sm);
	if (!o || !sm) {
		rc = -ENOMEM;
		goto fail;
	}
	o->tag = m->tag;
	enum config_long how = e->cfg->long_messages;
	int nparts = tp->nparts > 1 && how == CONFIG_LONG_PAYLOAD ? 1 : tp->nparts;
	o->nparts = nparts;
	uint16_t ref = 0;
	if (tp->nparts > 1) {
		ref = e->concat_ref++;
		if (how == CONFIG_LONG_SAR)
			ref = (uint16_t)(ref << 8 | (rnd(e) & 0xFF)); /* 16 bits for sar_msg_ref_num */
	}
	sm->cmd = SMPP_SUBMIT_SM;
	source_ton_npi(e->cfg, &sm->src_ton, &sm->src_npi);
	snprintf(sm->src_addr, sizeof sm->src_addr, "%s", e->cfg->source_addr ? e->cfg->source_addr : "");
	sm->dst_ton = 1;
	sm->dst_npi = 1;
	if (strlen(m->dst) >= sizeof sm->dst_addr) {
		rc = -EINVAL;
		goto fail;
	}
	snprintf(sm->dst_addr, sizeof sm->dst_addr, "%s", m->dst);
	sm->registered_delivery = 1;
	sm->data_coding = (uint8_t)tp->coding;
	if (m->ussd_op >= 0) {
		sm->has_ussd_op = 1;
		sm->ussd_op = (uint8_t)m->ussd_op;
	}
	if (nparts == 1 && tp->nparts > 1) {
		/* long_messages: payload: the whole text in message_payload, no UDH */
		size_t all = 0;
		for (int i = 0; i < tp->nparts; i++)
			all += tp->part[i].len;
		uint8_t *joined = malloc(all);
		if (!joined) {
			rc = -ENOMEM;
			goto fail;
		}
		all = 0;
		for (int i = 0; i < tp->nparts; i++) {
			memcpy(joined + all, tp->part[i].data, tp->part[i].len);
			all += tp->part[i].len;
		}
		sm->payload = joined;
		sm->payload_len = all;
		sm->sm_length = 0;
		int n = all > 1024 ? -EMSGSIZE
		                   : smpp_build_sm(o->part[0].pdu, sizeof o->part[0].pdu, SMPP_SUBMIT_SM,
		                                   1, sm);
		free(joined);
		sm->payload = NULL;
		if (n < 0) {
			rc = n == -ENOSPC || n == -EMSGSIZE ? -EMSGSIZE : -EINVAL;
			goto fail;
		}
		o->part[0].len = (size_t)n;
		o->part[0].msg = o;
		o->part[0].state = PART_QUEUED;
	}
	for (int i = 0; i < nparts && !(nparts == 1 && tp->nparts > 1); i++) {
		struct esme_part *p = &o->part[i];
		size_t off = 0;
		sm->esm_class = 0;
		if (tp->nparts > 1 && how == CONFIG_LONG_SAR) {
			sm->has_sar = 1;
			sm->sar_ref = ref;
			sm->sar_total = (uint8_t)tp->nparts;
			sm->sar_seq = (uint8_t)(i + 1);
		} else if (tp->nparts > 1) {
			sm->esm_class = 0x40;
			uint8_t udh[6] = {0x05, 0x00, 0x03, (uint8_t)ref, (uint8_t)tp->nparts,
			                  (uint8_t)(i + 1)};
			memcpy(sm->short_message, udh, sizeof udh);
			off = sizeof udh;
		}
		if (tp->part[i].len + off > sizeof sm->short_message) {
			rc = -EMSGSIZE;
			goto fail;
		}
		memcpy(sm->short_message + off, tp->part[i].data, tp->part[i].len);
		sm->sm_length = off + tp->part[i].len;
		int n = smpp_build_sm(p->pdu, sizeof p->pdu, SMPP_SUBMIT_SM, 1, sm);
		if (n < 0) {
			rc = n == -ENOSPC ? -EMSGSIZE : -EINVAL;
			goto fail;
		}
		p->len = (size_t)n;
		p->msg = o;
		p->idx = i;
		p->state = PART_QUEUED;
	}
	TAILQ_INSERT_TAIL(&e->msgs, o, link);
	for (int i = 0; i < o->nparts; i++) {
		TAILQ_INSERT_TAIL(&e->queue, &o->part[i], link);
		e->queued++;
	}
	char mk[PHONE_MAX];
	phone_mask(m->dst, mk);
	log_info("[%s] event=submit tag=%llu to=%s parts=%d dc=%d units=%d ussd_op=%d", e->name,
	         (unsigned long long)m->tag, mk, tp->nparts, (int)tp->coding, tp->units, m->ussd_op);
	free(sm);
	free(tp);
	pump(e);
	return 0;
fail:
	free(o);
	free(sm);
	free(tp);
	return rc;
}

void esme_answer(struct esme *e, uint64_t token, uint32_t status)
{
	if (token & ESME_TOKEN_RX) {
		if (e->rx)
			esme_answer(e->rx, token & ~ESME_TOKEN_RX, status);
		return;
	}
	uint32_t gen = (uint32_t)(token >> 33) & ESME_GEN_MASK;
	uint32_t cmd = (token >> 32) & 1 ? SMPP_DATA_SM_RESP : SMPP_DELIVER_SM_RESP;
	uint32_t seq = (uint32_t)token;
	struct esme_mo *mo;
	TAILQ_FOREACH(mo, &e->mos, link) {
		if (mo->handed && mo->token == token) {
			if (status == 0) {
				mo_free(e, mo);
			} else {
				/* keep the set: the SMSC delivers the last part again */
				mo->handed = 0;
				free(mo->part[mo->last_seq - 1].data);
				mo->part[mo->last_seq - 1].data = NULL;
				mo->have--;
				mo->first = now_ms();
			}
			break;
		}
	}
	if (gen != (e->gen & ESME_GEN_MASK) || !e->bev ||
	    (e->state != ES_BOUND && e->state != ES_UNBINDING)) {
		log_warn("[%s] event=answer_dropped seq=%u status=%s (connection gone)", e->name, seq,
		         smpp_status_name(status));
		return;
	}
	send_sm_resp(e, cmd, status, seq);
	log_debug("[%s] event=mo_answered seq=%u status=%s", e->name, seq, smpp_status_name(status));
}

const char *esme_name(const struct esme *e)
{
	return e->name;
}

void esme_set_retry(struct esme *e, int max_tries, int backoff_ms)
{
	e->retry_set = 1;
	if (max_tries > 0)
		e->max_tries = max_tries;
	if (backoff_ms > 0)
		e->retry_base_ms = backoff_ms;
}


/* Empty ids never match: a receipt without an id names no message. */
int esme_msgid_eq(const char *a, const char *b)
{
	if (!a || !b || !*a || !*b)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	uint64_t ad = 0, ah = 0, bd = 0, bh = 0;
	int has_ad = smpp_parse_u64(a, 10, &ad), has_ah = smpp_parse_u64(a, 16, &ah);
	int has_bd = smpp_parse_u64(b, 10, &bd), has_bh = smpp_parse_u64(b, 16, &bh);
	return (has_ad && has_bd && ad == bd) || (has_ah && has_bh && ah == bh) ||
	       (has_ah && has_bd && ah == bd) || (has_ad && has_bh && ad == bh);
}
