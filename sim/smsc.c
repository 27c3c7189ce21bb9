/* smsc: SMPP server sessions, submit_sm intake and reassembly, MO and receipt delivery with resends. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>

#include "citizens.h"
#include "inbox.h"
#include "log.h"
#include "simargs.h"
#include "smpp_link.h"
#include "smpp_pdu.h"
#include "smsc.h"
#include "text.h"
#include "weights.h"

#define SMSC_ASM_MAX 4096           /* reassemblies in progress */
#define SMSC_ASM_TTL_S 600          /* an incomplete message is dropped after this */
#define SMSC_INPUT_CAP (256 * 1024) /* read high watermark per session */
#define SMSC_SYSTEM_ID "hailong-sim"
#define SMSC_OUT_MAX 200000         /* deliver_sm owed at once (receipts pile up without a receiver) */
#define SMSC_LAT_MAX 4000000        /* latency samples kept (the first ones) */
#define SMSC_ROUTES_MAX 256         /* source addresses whose account MOs are routed to */
#define SMSC_MSGS 65536             /* messages query_sm knows (the last ones; a power of 2) */

/* SMPP 3.4 commands the SMSC answers beyond smpp_pdu.h's */
#define SMSC_QUERY_SM 0x00000003u
#define SMSC_REPLACE_SM 0x00000007u
#define SMSC_CANCEL_SM 0x00000008u
#define SMSC_ESME_RCANCELFAIL 0x11u
#define SMSC_ESME_RREPLACEFAIL 0x13u
#define SMSC_ESME_RQUERYFAIL 0x67u

/* An accepted message, for query_sm: slot (id - first id) % SMSC_MSGS. */
struct msgrec {
	uint64_t id;              /* its message id (0 = empty slot) */
	time_t done;              /* when it reached its final state */
	uint8_t state;            /* message_state: the receipt's outcome, DELIVERED when none */
	int8_t acct;              /* the account that submitted it */
	char src[21];             /* its source address */
};

/* A deliver_sm the SMSC owes an ESME: WAIT (timer armed: first send or
 * resend delay), READY (queued for a session with room), INFLIGHT (sent,
 * response timer armed). A receipt is first HELD until its message's
 * submit_sm_resp has left for the ESME (on the submitting session's held
 * list, by output byte mark), or RESP while that response is itself delayed
 * (fault resp_delay_ms), or ORPHAN when the response never reached the ESME
 * (lost on purpose, or its connection closed first): an orphan waits for the
 * account's next response. */
enum out_state { OUT_WAIT = 0, OUT_READY, OUT_INFLIGHT, OUT_HELD, OUT_RESP, OUT_ORPHAN };

struct mo;
struct sess;

struct outmsg {
	struct smsc *s;
	struct mo *mo;            /* the MO this part belongs to; NULL for a receipt */
	int acct;                 /* the account (index) whose receivers it goes to: a receipt's
	                           * submitter, an MO's route (-1 = any account) */
	int delay_ms;             /* a receipt: sent this long after its response left */
	uint64_t mark;            /* HELD: released when the session has written this many bytes */
	struct delayed *dl;       /* RESP: the delayed response it waits for */
	struct smpp_sm sm;        /* the deliver_sm */
	enum out_state state;
	int attempts;             /* sends so far */
	struct sess *sess;        /* session it is in flight on */
	uint32_t seq;             /* its sequence_number there */
	struct event *timer;      /* resend delay, or response timer in flight */
	TAILQ_ENTRY(outmsg) q;    /* the ready or inflight queue */
	TAILQ_ENTRY(outmsg) all;  /* every outmsg, for smsc_free */
};
TAILQ_HEAD(outq, outmsg);

/* One mobile-originated message: waits for the think time, then is split
 * into parts; the ledger line is written when every part was accepted. */
struct mo {
	struct smsc *s;
	char from[21], to[21];
	char *text;               /* owned until the split */
	char *ledger;             /* owned; written when every part was taken */
	int parts_left;           /* parts not yet accepted or given up */
	int failed;               /* a part was given up: no ledger line */
	int enc;                  /* enum text_encoding of the parts */
	int citizen;              /* index of the citizen who sends it, 0 = none */
	int ref;                  /* concatenation reference, -1 = the next one */
	uint32_t only;            /* parts sent (bit i = part i+1), 0 = all */
	struct event *think;      /* fires when the citizen sends */
	int ussd_op;              /* USSD: the op it carries, -1 = an SMS */
	uint16_t ussd_sess;       /* USSD: its_session_info */
	LIST_ENTRY(mo) link;
};

/* A USSD session the centre holds for a number (direct-mapped by number). */
#define SMSC_USSD_SLOTS 4096
struct ussd_slot {
	char msisdn[21];
	uint16_t id;              /* its_session_info: id << 1 (the low bit = end of session) */
	uint8_t open;
	int64_t shown_us;         /* when its last screen reached the phone (monotonic us) */
	uint32_t screens;         /* screens this number was sent (the draws below count them) */
};

/* An ESME connection. */
struct sess {
	struct smsc *s;
	struct bufferevent *bev;
	uint32_t bound;           /* the bind command id, 0 = not bound */
	uint32_t seq;             /* last sequence number we used */
	int inflight;             /* our deliver_sm awaiting a response */
	int closing;              /* no more reads; freed by the reaper */
	char peer[64];
	struct event *reaper;     /* frees the session outside its callbacks */
	LIST_HEAD(, delayed) delayed;  /* responses held back by the resp_delay_ms fault */
	char system_id[16];       /* the account it bound with */
	int acct;                 /* its index in smsc.acct */
	uint64_t out_added;       /* bytes ever put into its output buffer */
	uint64_t out_drained;     /* of those, bytes written to the socket */
	struct evbuffer_cb_entry *out_cb;  /* counts them */
	struct outq held;         /* receipts waiting for their response to leave */
	struct event *release;    /* releases them outside the buffer callback */
	struct event *elink;      /* enquire_link timer (--enquire-link-s), persistent */
	int64_t last_rx_us;       /* when the ESME last sent a PDU (monotonic) */
	int el_pending;           /* an enquire_link of ours has had no PDU back since */
	TAILQ_ENTRY(sess) link;
};

/* A response written later (fault resp_delay_ms). */
struct delayed {
	struct sess *ss;
	struct event *ev;
	size_t len;
	uint8_t b[128];
	struct outmsg *rcpt;      /* the receipt that waits for this response, or NULL */
	LIST_ENTRY(delayed) link;
};

/* A concatenated message being reassembled, keyed on (destination, ref). */
struct asm_entry {
	char dst[21], src[21];
	uint16_t ref;
	uint8_t total, have;
	time_t first;             /* when its first part came */
	char **part;              /* [total] decoded texts, owned */
	TAILQ_ENTRY(asm_entry) link;
};

struct smsc {
	struct event_base *base;          /* borrowed */
	struct smsc_opts o;
	struct smsc_account acct[SMSC_ACCOUNTS_MAX + 1];  /* who may bind */
	int nacct;
	uint64_t rng;                     /* PRNG of faults and receipt outcomes */
	struct event *disc_timer;         /* fault disconnect_every_s */
	float *lat;                       /* latency samples in ms */
	size_t nlat, caplat;
	struct citizens *pop;             /* borrowed, may be NULL */
	struct evconnlistener *lst;
	int port;
	TAILQ_HEAD(, sess) sessions;
	struct outq ready, inflight, all; /* ready: MOs, to any receiver */
	struct outq rready[SMSC_ACCOUNTS_MAX + 1];  /* receipts ready, per account */
	struct outq mready[SMSC_ACCOUNTS_MAX + 1];  /* MOs ready, routed to an account */
	struct {
		char addr[21];            /* a source address ESMEs submit from (a short code) */
		int acct;                 /* the account that last did */
	} route[SMSC_ROUTES_MAX];         /* where the MOs to each address go */
	int nroute;
	struct outq orphans[SMSC_ACCOUNTS_MAX + 1]; /* receipts whose response was lost */
	int nout;                         /* outmsgs in `all` */
	LIST_HEAD(, mo) mos;
	TAILQ_HEAD(, asm_entry) asms;     /* oldest first */
	int nasm;
	struct inbox *inbox;
	struct sim_faults faults;
	struct smsc_stats st;
	uint64_t next_id;                 /* next message id */
	uint64_t first_id;                /* the first one (query_sm's slots count from it) */
	struct msgrec *msgs;              /* SMSC_MSGS of them */
	uint32_t submits;                 /* submit_sm counted for the faults */
	uint8_t mo_ref[4096];             /* concatenation reference of a number's next long MO, by a
	                                   * hash of the number: as a phone keeps its own counter, so
	                                   * that one number's consecutive messages never share one */
	int turn;                         /* the ready queue pump serves next */
	char last_src[21];                /* source address of the last submit_sm */
	int stopping;
	struct event *stop_timer;
	struct ussd_slot *ussd;           /* SMSC_USSD_SLOTS of them when o.ussd_code */
	uint16_t ussd_next;               /* next session id */
};

static void pump(struct smsc *s);
static void rcpt_orphan(struct outmsg *om);
static void sess_free(struct sess *ss);
static void resp_written(struct sess *ss, struct outmsg *rcpt);
static struct ussd_slot *ussd_find(struct smsc *s, const char *msisdn);
static int ussd_late(struct smsc *s, const struct mo *mo);

/* A receipt sent before its response (fault early_receipt_share): the
 * response follows at least this much later, so the receipt is on the wire
 * first even when it goes over another connection (a receiver bind). */
#define SMSC_EARLY_LEAD_MS 100

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static uint64_t rng_next(uint64_t *st)
{
	uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* 1 with probability p (p <= 0: never, no draw, so faults off cost no randomness). */
static int chance(struct smsc *s, double p)
{
	if (p <= 0)
		return 0;
	return (double)(rng_next(&s->rng) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* "84912345678" -> "84912***678" (SMPP addresses are at most 20 characters). */
static const char *mask(const char *msisdn, char out[24])
{
	size_t n = strlen(msisdn);
	if (n < 9)
		copy_str(out, 24, msisdn);
	else
		snprintf(out, 24, "%.5s***%s", msisdn, msisdn + n - 3);
	return out;
}

/* ---- sessions: writing ---- */

static uint32_t sess_next_seq(struct sess *ss)
{
	ss->seq = ss->seq >= 0x7FFFFFFFu ? 1 : ss->seq + 1;
	return ss->seq;
}

static void sess_write(struct sess *ss, const uint8_t *buf, int n)
{
	if (n > 0)
		bufferevent_write(ss->bev, buf, (size_t)n);
	else
		log_error("[smsc] cannot build a PDU peer=%s rc=%d", ss->peer, n);
}

static void reply_header(struct sess *ss, uint32_t cmd, uint32_t status, uint32_t seq)
{
	uint8_t b[SMPP_HEADER_LEN + 1];
	sess_write(ss, b, smpp_build_header(b, sizeof b, cmd, status, seq));
}

static void reply_sm(struct sess *ss, uint32_t cmd, uint32_t status, uint32_t seq, const char *id)
{
	uint8_t b[128];
	sess_write(ss, b, smpp_build_sm_resp(b, sizeof b, cmd, status, seq, id));
}

/* A delayed response is dropped unwritten (its session is freed): the receipt
 * waiting for it is an orphan. */
static void delayed_free(struct delayed *d)
{
	LIST_REMOVE(d, link);
	if (d->rcpt) {
		struct outmsg *om = d->rcpt;
		d->rcpt = NULL;
		om->dl = NULL;
		rcpt_orphan(om);
	}
	event_free(d->ev);
	free(d);
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct delayed *d = arg;
	struct sess *ss = d->ss;
	if (!ss->closing) {
		bufferevent_write(ss->bev, d->b, d->len);
		struct outmsg *rcpt = d->rcpt;
		d->rcpt = NULL;
		if (rcpt)
			rcpt->dl = NULL;
		resp_written(ss, rcpt);
	}
	delayed_free(d); /* a receipt still attached becomes an orphan */
	pump(ss->s);
}

/* A submit_sm_resp/data_sm_resp, or none, or later, as the faults say. The
 * message's receipt (rcpt, may be NULL) leaves only after this response was
 * written to the ESME (early: the receipt went already, the response follows
 * at least SMSC_EARLY_LEAD_MS later). */
static void reply_submit(struct sess *ss, uint32_t cmd, uint32_t status, uint32_t seq,
                         const char *id, struct outmsg *rcpt, int early)
{
	struct smsc *s = ss->s;
	if (chance(s, s->faults.drop_resp_share)) {
		s->st.faults++;
		log_info("[smsc] fault: no response peer=%s seq=%u", ss->peer, seq);
		if (rcpt)
			rcpt_orphan(rcpt);
		return;
	}
	uint8_t b[128];
	int n = smpp_build_sm_resp(b, sizeof b, cmd, status, seq, id);
	int delay = (int)s->faults.resp_delay_ms;
	if (early && delay < SMSC_EARLY_LEAD_MS)
		delay = SMSC_EARLY_LEAD_MS;
	struct delayed *d = NULL;
	if (n > 0 && delay > 0) {
		d = calloc(1, sizeof *d);
		if (d && !(d->ev = evtimer_new(s->base, delayed_cb, d))) {
			free(d);
			d = NULL;
		}
	}
	if (!d) {
		sess_write(ss, b, n);
		resp_written(ss, rcpt);
		return;
	}
	if (s->faults.resp_delay_ms)
		s->st.faults++;
	d->ss = ss;
	d->len = (size_t)n;
	memcpy(d->b, b, (size_t)n);
	if (rcpt) {
		d->rcpt = rcpt;
		rcpt->dl = d;
		rcpt->state = OUT_RESP;
	}
	LIST_INSERT_HEAD(&ss->delayed, d, link);
	struct timeval tv = ms_tv(delay);
	evtimer_add(d->ev, &tv);
}

static void sess_close(struct sess *ss)
{
	if (ss->closing)
		return;
	ss->closing = 1;
	bufferevent_disable(ss->bev, EV_READ);
	/* Freed once the output is flushed (write callback), at the latest in 2 s. */
	struct timeval tv = ms_tv(evbuffer_get_length(bufferevent_get_output(ss->bev)) ? 2000 : 0);
	evtimer_add(ss->reaper, &tv);
}

/* ---- outbound deliver_sm ---- */

/* The ready queue of an outmsg: receipts go to their account's receivers,
 * MOs to their route's (any receiver when the address has none). */
static struct outq *ready_q(struct smsc *s, struct outmsg *om)
{
	if (om->mo)
		return om->acct < 0 ? &s->ready : &s->mready[om->acct];
	return &s->rready[om->acct];
}

/* The account an MO to `addr` goes to, as a real SMSC routes a short code to
 * the ESME it belongs to: the account that last submitted from addr; -1 when
 * none did (any receiver takes it). */
static int route_of(const struct smsc *s, const char *addr)
{
	for (int i = 0; i < s->nroute; i++)
		if (strcmp(s->route[i].addr, addr) == 0)
			return s->route[i].acct;
	return -1;
}

/* Account acct submitted from addr: MOs to addr go to it from now on. When
 * the table is full the address is not learnt (its MOs go to any receiver). */
static void route_learn(struct smsc *s, const char *addr, int acct)
{
	for (int i = 0; i < s->nroute; i++)
		if (strcmp(s->route[i].addr, addr) == 0) {
			s->route[i].acct = acct;
			return;
		}
	if (s->nroute < SMSC_ROUTES_MAX && *addr) {
		copy_str(s->route[s->nroute].addr, sizeof s->route[s->nroute].addr, addr);
		s->route[s->nroute++].acct = acct;
	}
}

static void out_detach(struct outmsg *om)
{
	struct smsc *s = om->s;
	if (om->state == OUT_READY) {
		TAILQ_REMOVE(ready_q(s, om), om, q);
	} else if (om->state == OUT_INFLIGHT) {
		TAILQ_REMOVE(&s->inflight, om, q);
		om->sess->inflight--;
	} else if (om->state == OUT_HELD) {
		TAILQ_REMOVE(&om->sess->held, om, q);
	} else if (om->state == OUT_RESP) {
		if (om->dl)
			om->dl->rcpt = NULL;
		om->dl = NULL;
	} else if (om->state == OUT_ORPHAN) {
		TAILQ_REMOVE(&s->orphans[om->acct], om, q);
	}
	om->state = OUT_WAIT;
	om->sess = NULL;
	evtimer_del(om->timer);
}

static void out_free(struct outmsg *om)
{
	if (!om)
		return;
	out_detach(om);
	TAILQ_REMOVE(&om->s->all, om, all);
	om->s->nout--;
	event_free(om->timer);
	free(om);
}

static void mo_free(struct mo *mo)
{
	if (!mo)
		return;
	LIST_REMOVE(mo, link);
	if (mo->think)
		event_free(mo->think);
	free(mo->text);
	free(mo->ledger);
	free(mo);
}

/* One part of an MO is over (accepted or given up). */
static void mo_part_done(struct mo *mo)
{
	if (--mo->parts_left > 0)
		return;
	struct smsc *s = mo->s;
	if (!mo->failed && mo->ledger && s->pop && citizens_ledger_write(s->pop, mo->ledger) < 0)
		log_error("[sim] cannot write the ledger");
	mo_free(mo);
}

static void out_give_up(struct outmsg *om, const char *why)
{
	char m[24];
	om->s->st.errors++;
	log_warn("[smsc] deliver_sm given up to=%s attempts=%d reason=%s", mask(om->sm.dst_addr, m),
	         om->attempts, why);
	struct mo *mo = om->mo;
	out_free(om);
	if (mo) {
		mo->failed = 1;
		mo_part_done(mo);
	}
}

static void out_resend_later(struct outmsg *om, const char *why)
{
	out_detach(om);
	if (om->attempts >= om->s->o.max_attempts) {
		out_give_up(om, why);
		return;
	}
	struct timeval tv = ms_tv(om->s->o.retry_ms);
	evtimer_add(om->timer, &tv);
}

static void out_ready(struct outmsg *om)
{
	om->state = OUT_READY;
	TAILQ_INSERT_TAIL(ready_q(om->s, om), om, q);
}

/* ---- receipts after their response ---- */

/* A receipt whose response has left: sent after its own delay. */
static void rcpt_schedule(struct outmsg *om)
{
	om->state = OUT_WAIT;
	if (om->delay_ms <= 0) {
		out_ready(om);
		return;
	}
	struct timeval tv = ms_tv(om->delay_ms);
	evtimer_add(om->timer, &tv); /* OUT_WAIT: the timer makes it ready */
}

/* Held on ss until ss has written `mark` bytes (its response's last byte). */
static void rcpt_hold(struct sess *ss, struct outmsg *om, uint64_t mark)
{
	om->state = OUT_HELD;
	om->sess = ss;
	om->mark = mark;
	TAILQ_INSERT_TAIL(&ss->held, om, q);
	if (mark <= ss->out_drained)
		event_active(ss->release, EV_TIMEOUT, 0);
}

/* Its response never reached the ESME: the message was accepted all the same
 * (the handset gets it), and its receipt waits for the account's next
 * response, which is usually the one to the ESME's resubmission. */
static void rcpt_orphan(struct outmsg *om)
{
	struct smsc *s = om->s;
	om->state = OUT_ORPHAN;
	om->sess = NULL;
	TAILQ_INSERT_TAIL(&s->orphans[om->acct], om, q);
	s->st.receipts_orphaned++;
}

/* A submit_sm_resp was put in ss's output: rcpt (may be NULL), and the
 * orphans of ss's account, leave once it is written. */
static void resp_written(struct sess *ss, struct outmsg *rcpt)
{
	struct smsc *s = ss->s;
	struct outq *orph = &s->orphans[ss->acct];
	for (int guard = 0; guard < SMSC_OUT_MAX && !TAILQ_EMPTY(orph); guard++) {
		struct outmsg *om = TAILQ_FIRST(orph);
		TAILQ_REMOVE(orph, om, q);
		rcpt_hold(ss, om, ss->out_added);
	}
	if (rcpt)
		rcpt_hold(ss, rcpt, ss->out_added);
}

/* Counts the bytes a session writes; wakes `release` when a held receipt's
 * response has gone (never sends from inside the buffer's callback). */
static void sess_outbuf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)buf;
	struct sess *ss = arg;
	ss->out_added += info->n_added;
	ss->out_drained += info->n_deleted;
	struct outmsg *om = TAILQ_FIRST(&ss->held);
	if (info->n_deleted && om && om->mark <= ss->out_drained)
		event_active(ss->release, EV_TIMEOUT, 0);
}

/* Releases the receipts whose response ss has written. 1 if any. */
static int sess_release(struct sess *ss)
{
	int any = 0;
	for (int guard = 0; guard < SMSC_OUT_MAX; guard++) {
		struct outmsg *om = TAILQ_FIRST(&ss->held);
		if (!om || om->mark > ss->out_drained)
			break;
		TAILQ_REMOVE(&ss->held, om, q);
		rcpt_schedule(om);
		any = 1;
	}
	return any;
}

static void sess_release_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sess *ss = arg;
	if (sess_release(ss))
		pump(ss->s);
}

static void out_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct outmsg *om = arg;
	struct smsc *s = om->s;
	if (om->state == OUT_INFLIGHT) {
		log_warn("[smsc] no deliver_sm_resp peer=%s seq=%u: resending", om->sess->peer, om->seq);
		out_resend_later(om, "timeout");
		return;
	}
	out_ready(om);
	pump(s);
}

static struct outmsg *out_new(struct smsc *s, struct mo *mo)
{
	if (s->nout >= SMSC_OUT_MAX) {
		log_warn("[smsc] %d deliver_sm waiting (is a receiver bound?): dropping one", s->nout);
		return NULL;
	}
	struct outmsg *om = calloc(1, sizeof *om);
	if (!om)
		return NULL;
	om->timer = evtimer_new(s->base, out_timer_cb, om);
	if (!om->timer) {
		free(om);
		return NULL;
	}
	om->s = s;
	om->mo = mo;
	om->acct = -1;
	TAILQ_INSERT_TAIL(&s->all, om, all);
	s->nout++;
	return om;
}

/* One of three PDUs a strict ESME must refuse without falling over: a
 * deliver_sm whose body is cut short, an unknown command id, a deliver_sm
 * with a TLV that runs past the end. */
static void send_malformed(struct sess *ss)
{
	struct smsc *s = ss->s;
	uint32_t seq = sess_next_seq(ss);
	uint8_t b[64];
	size_t n = 0;
	int kind = (int)(s->st.malformed % 3);
	uint32_t cmd = kind == 1 ? 0x00000777u : SMPP_DELIVER_SM;
	memset(b, 0, sizeof b);
	smpp_build_header(b, sizeof b, cmd, 0, seq);
	n = SMPP_HEADER_LEN;
	if (kind == 0) {
		memcpy(b + n, "abc", 3); /* service_type without its NUL */
		n += 3;
	} else if (kind == 2) {
		/* service_type "", addresses "1" and "2", 12 zero octets up to
		 * sm_length = 0, then a TLV claiming 200 octets */
		static const uint8_t body[] = {0, 1, 1, '1', 0, 1, 1, '2', 0, 0, 0, 0, 0, 0, 0, 0,
		                               0, 0, 0x04, 0x24, 0x00, 0xC8, 'x'};
		memcpy(b + n, body, sizeof body);
		n += sizeof body;
	}
	smpp_put_u32(b, (uint32_t)n);
	bufferevent_write(ss->bev, b, n);
	s->st.malformed++;
	log_info("[smsc] fault: malformed PDU kind=%d peer=%s seq=%u", kind, ss->peer, seq);
}

static void out_send(struct sess *ss, struct outmsg *om)
{
	struct smsc *s = ss->s;
	uint8_t buf[SMPP_MAX_PDU + 1];
	uint32_t seq = sess_next_seq(ss);
	int n = smpp_build_sm(buf, sizeof buf, SMPP_DELIVER_SM, seq, &om->sm);
	if (n < 0) {
		out_give_up(om, "build");
		return;
	}
	if (chance(s, s->faults.malformed_share))
		send_malformed(ss);
	bufferevent_write(ss->bev, buf, (size_t)n);
	if (om->mo && chance(s, s->faults.dup_deliver_share)) {
		/* the same deliver_sm again under another sequence number: its
		 * response matches nothing in flight and is ignored */
		uint32_t dseq = sess_next_seq(ss);
		smpp_put_u32(buf + 12, dseq);
		bufferevent_write(ss->bev, buf, (size_t)n);
		s->st.duplicates++;
		s->st.deliver_sm++;
	}
	if (om->mo && om->mo->citizen && s->pop)
		citizens_mark_sent(s->pop, om->mo->citizen, now_us());
	om->state = OUT_INFLIGHT;
	om->sess = ss;
	om->seq = seq;
	TAILQ_INSERT_TAIL(&s->inflight, om, q);
	ss->inflight++;
	if (om->attempts > 0)
		s->st.resent++;
	om->attempts++;
	s->st.deliver_sm++;
	if (om->mo)
		s->st.mo++;
	else
		s->st.receipts++;
	struct timeval tv = ms_tv(s->o.resp_timeout_ms);
	evtimer_add(om->timer, &tv);
}

/* The bound receiver or transceiver with the fewest deliver_sm in flight,
 * of account acct (its index; -1 = any account). */
static struct sess *pick_session(struct smsc *s, int acct)
{
	struct sess *best = NULL, *ss;
	TAILQ_FOREACH(ss, &s->sessions, link) {
		if (ss->closing || ss->inflight >= s->o.window)
			continue;
		if (ss->bound != SMPP_BIND_RECEIVER && ss->bound != SMPP_BIND_TRANSCEIVER)
			continue;
		if (acct >= 0 && ss->acct != acct)
			continue;
		if (!best || ss->inflight < best->inflight)
			best = ss;
	}
	return best;
}

/* Send what is ready while some session has room: the unrouted MOs, and
 * each account's receipts and MOs, in turn, one deliver_sm at a time, the
 * turn kept from call to call (a slot freed by a response goes to the next
 * queue, so that neither MOs nor receipts starve while the window is full). */
static void pump(struct smsc *s)
{
	/* queue 0 = unrouted MOs; 2a+1 = account a's receipts, 2a+2 its MOs */
	int nq = 2 * s->nacct + 1;
	for (int guard = 0; guard < 100000 && !s->stopping; guard++) {
		int sent = 0;
		for (int i = 0; i < nq && !sent; i++) {
			int k = (s->turn + i) % nq;
			int a = (k - 1) / 2;
			struct outq *q = k == 0 ? &s->ready : k % 2 ? &s->rready[a] : &s->mready[a];
			struct outmsg *om = TAILQ_FIRST(q);
			if (!om)
				continue;
			struct sess *ss = pick_session(s, k == 0 ? -1 : a);
			if (!ss)
				continue;
			TAILQ_REMOVE(q, om, q);
			om->state = OUT_WAIT;
			out_send(ss, om);
			s->turn = (k + 1) % nq;
			sent = 1;
		}
		if (!sent)
			return;
	}
}

/* A deliver_sm_resp or generic_nack for one of ours. */
static void on_deliver_resp(struct sess *ss, uint32_t seq, uint32_t status)
{
	struct smsc *s = ss->s;
	struct outmsg *om;
	TAILQ_FOREACH(om, &s->inflight, q) {
		if (om->sess == ss && om->seq == seq)
			break;
	}
	if (!om) {
		log_debug("[smsc] response for nothing in flight peer=%s seq=%u", ss->peer, seq);
		return;
	}
	if (status == SMPP_ESME_ROK) {
		struct mo *mo = om->mo;
		out_free(om);
		if (mo)
			mo_part_done(mo);
	} else if (smpp_status_temporary(status)) {
		log_info("[smsc] deliver_sm refused peer=%s status=%s: again in %d ms", ss->peer,
		         smpp_status_name(status), s->o.retry_ms);
		out_resend_later(om, smpp_status_name(status));
	} else {
		out_give_up(om, smpp_status_name(status));
	}
	pump(s);
}

/* ---- MO ---- */

static void mo_think_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mo *mo = arg;
	struct smsc *s = mo->s;
	if (ussd_late(s, mo)) {
		mo_free(mo);
		return;
	}
	struct text_parts *tp = malloc(sizeof *tp);
	int rc = tp ? text_split(mo->text, (enum text_encoding)mo->enc, tp) : -ENOMEM;
	char m[24];
	if (rc < 0) {
		log_warn("[smsc] mo cannot be encoded from=%s rc=%d", mask(mo->from, m), rc);
		s->st.errors++;
		free(tp);
		mo_free(mo);
		return;
	}
	uint8_t ref = mo->ref >= 0 ? (uint8_t)mo->ref
	                           : s->mo_ref[text_fnv1a64(mo->from, strlen(mo->from)) % sizeof s->mo_ref]++;
	log_info("[smsc] mo from=%s to=%s parts=%d dc=%d", mask(mo->from, m), mo->to, tp->nparts,
	         (int)tp->coding);
	mo->parts_left = 0;
	for (int i = 0; i < tp->nparts; i++)
		mo->parts_left += !mo->only || (i < 32 && (mo->only >> i & 1));
	for (int i = 0; i < tp->nparts; i++) {
		if (mo->only && (i >= 32 || !(mo->only >> i & 1)))
			continue; /* a part the tester wants lost */
		struct outmsg *om = out_new(s, mo);
		if (!om) {
			s->st.errors++;
			mo->failed = 1;
			mo->parts_left--;
			continue;
		}
		om->acct = route_of(s, mo->to);
		struct smpp_sm *d = &om->sm;
		d->src_ton = 1;
		d->src_npi = 1;
		copy_str(d->src_addr, sizeof d->src_addr, mo->from);
		copy_str(d->dst_addr, sizeof d->dst_addr, mo->to);
		d->data_coding = (uint8_t)tp->coding;
		size_t off = 0;
		if (tp->nparts > 1) {
			const uint8_t udh[6] = {5, 0, 3, ref, (uint8_t)tp->nparts, (uint8_t)(i + 1)};
			memcpy(d->short_message, udh, sizeof udh);
			off = sizeof udh;
			d->esm_class = 0x40;
		}
		memcpy(d->short_message + off, tp->part[i].data, tp->part[i].len);
		d->sm_length = off + tp->part[i].len;
		if (mo->ussd_op >= 0) {
			d->has_ussd_op = 1;
			d->ussd_op = (uint8_t)mo->ussd_op;
			d->has_its_session = 1;
			d->its_session[0] = (uint8_t)(mo->ussd_sess >> 8);
			d->its_session[1] = (uint8_t)mo->ussd_sess;
		}
		out_ready(om);
	}
	free(tp);
	free(mo->text);
	mo->text = NULL;
	if (mo->parts_left <= 0) {
		mo_free(mo);
		return;
	}
	pump(s);
}

/* ---- USSD centre ---- */

static struct ussd_slot *ussd_slot(struct smsc *s, const char *msisdn)
{
	uint32_t h = 2166136261u;
	for (const char *p = msisdn; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &s->ussd[h % SMSC_USSD_SLOTS];
}

/* The open session of a number, or NULL. */
static struct ussd_slot *ussd_find(struct smsc *s, const char *msisdn)
{
	if (!s->ussd)
		return NULL;
	struct ussd_slot *u = ussd_slot(s, msisdn);
	return u->open && strcmp(u->msisdn, msisdn) == 0 ? u : NULL;
}

static struct ussd_slot *ussd_open(struct smsc *s, const char *msisdn)
{
	struct ussd_slot *u = ussd_slot(s, msisdn);
	if (strcmp(u->msisdn, msisdn) != 0)
		u->screens = 0;
	copy_str(u->msisdn, sizeof u->msisdn, msisdn);
	u->open = 1;
	u->id = (uint16_t)(++s->ussd_next & 0x7FFF);
	return u;
}

/* An MO of a USSD session: `op` with its_session_info of u. */
static int ussd_mo(struct smsc *s, struct ussd_slot *u, const char *text, int op, int delay_ms)
{
	char from[21];
	copy_str(from, sizeof from, u->msisdn);
	uint16_t id = u->id;
	u->open = 0; /* not an answer: set op and session by hand */
	int rc = smsc_send_mo_enc(s, from, s->last_src[0] ? s->last_src : "8088", text, delay_ms, NULL, 0);
	u->open = 1;
	if (rc == 0) {
		struct mo *mo = LIST_FIRST(&s->mos);
		mo->ussd_op = op;
		mo->ussd_sess = (uint16_t)(id << 1);
	}
	return rc;
}

int smsc_ussd_dial(struct smsc *s, const char *msisdn, int delay_ms)
{
	if (!s->ussd || strlen(msisdn) > 20)
		return -EINVAL;
	struct ussd_slot *u = ussd_open(s, msisdn);
	s->st.ussd_dials++;
	log_info("[smsc] ussd dial from=%.6s... code=%s session=%u", msisdn, s->o.ussd_code, u->id);
	return ussd_mo(s, u, s->o.ussd_code, s->o.ussd_ops[0], delay_ms);
}

/* What a citizen does with a USSD screen is drawn from the seed, the number,
 * what is drawn and how many screens the number had: a seed plays the same
 * behaviours whatever the timing (the shared generator is drawn in the order
 * events happen, which varies from run to run). */
enum { USSD_DRAW_IGNORE = 1, USSD_DRAW_INVITE, USSD_DRAW_DROP, USSD_DRAW_SLOW };
static int ussd_chance(const struct smsc *s, const char *msisdn, int what, uint32_t n, double p)
{
	if (p <= 0)
		return 0;
	uint64_t h = (s->o.seed ^ 0x55D0C0DEull) + (uint64_t)what * 0x9E3779B97F4A7C15ull + ((uint64_t)n << 20);
	for (const char *c = msisdn; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	h ^= h >> 30;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 27;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 31;
	return (double)(h >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* When a citizen whose session broke dials again (--ussd-redial-ms). */
static int ussd_redial_ms(struct smsc *s)
{
	int a = s->o.ussd_redial_min_ms, b = s->o.ussd_redial_max_ms;
	if (!a && !b) {
		a = 1000;
		b = 3000;
	}
	return a + (b > a ? (int)(rng_next(&s->rng) % (uint64_t)(b - a + 1)) : 0);
}

/* A slow phone's answer that comes after the centre's session lifetime
 * (--ussd-timeout-ms) is not delivered: the network releases the session
 * (the release op reaches the ESME) and the citizen, told so by the phone,
 * dials again 0.8 s later. 1 when mo
 * is such an answer (the caller drops it: no ledger line). */
static int ussd_late(struct smsc *s, const struct mo *mo)
{
	if (!s->ussd || s->o.ussd_timeout_ms <= 0 || mo->ussd_op != s->o.ussd_ops[3])
		return 0;
	struct ussd_slot *u = ussd_find(s, mo->from);
	if (!u || (uint16_t)(u->id << 1) != mo->ussd_sess ||
	    now_us() - u->shown_us <= (int64_t)s->o.ussd_timeout_ms * 1000)
		return 0;
	char m[24];
	s->st.ussd_late++;
	s->st.ussd_released++;
	log_info("[smsc] fault: ussd answer from=%s after %d ms, the network released session=%u",
	         mask(mo->from, m), s->o.ussd_timeout_ms, u->id);
	if (s->pop && mo->citizen)
		citizens_unanswer(s->pop, mo->citizen);
	ussd_mo(s, u, "", s->o.ussd_release_op, 0);
	u->open = 0;
	smsc_ussd_dial(s, mo->from, 800); /* the phone said so: the citizen dials at once */
	return 1;
}

/* A submit_sm with ussd_service_op: 1 when the citizen sees it (deliver it),
 * 0 when the network or the citizen drops it on purpose. */
static int ussd_screen(struct smsc *s, const struct smpp_sm *sm)
{
	const int *ops = s->o.ussd_ops;
	struct ussd_slot *u = ussd_find(s, sm->dst_addr);
	s->st.ussd_screens++;
	if (u && (!sm->has_its_session || (sm->its_session[0] << 8 | sm->its_session[1]) >> 1 != u->id)) {
		s->st.ussd_bad_echo++;
		log_warn("[smsc] ussd screen without the session's its_session_info session=%u", u->id);
	}
	if (sm->ussd_op == ops[1]) {
		if (u)
			u->open = 0; /* the final screen ends the session */
		return 1;
	}
	if (sm->ussd_op != ops[2])
		return 1;
	/* the citizens' behaviours are for the simulated population; a tester's
	 * phone does what the tester does */
	int citizen = s->pop && citizens_index(s->pop, sm->dst_addr);
	if (!u) {
		/* a push opens a session */
		u = ussd_open(s, sm->dst_addr);
		u->screens++;
		if (citizen && ussd_chance(s, u->msisdn, USSD_DRAW_IGNORE, u->screens, s->o.ussd_ignore_share)) {
			s->st.ussd_ignored++;
			u->open = 0;
			smsc_ussd_dial(s, sm->dst_addr, 1000 + (int)(rng_next(&s->rng) % 2000));
			return 0;
		}
		if (citizen && ussd_chance(s, u->msisdn, USSD_DRAW_INVITE, u->screens, s->o.ussd_invite_share)) {
			/* left on the phone; the citizen dials when the SMS invitation comes */
			s->st.ussd_ignored++;
			u->open = 0;
			return 0;
		}
		u->shown_us = now_us();
		return 1;
	}
	u->screens++;
	if (chance(s, s->o.ussd_release_share)) {
		s->st.ussd_released++;
		log_info("[smsc] fault: ussd session released by the network session=%u", u->id);
		ussd_mo(s, u, "", s->o.ussd_release_op, 0);
		u->open = 0;
		smsc_ussd_dial(s, sm->dst_addr, 800);
		return 0;
	}
	if (citizen && ussd_chance(s, u->msisdn, USSD_DRAW_DROP, u->screens, s->o.ussd_drop_share)) {
		/* the citizen presses Cancel: this network tells the ESME nothing */
		s->st.ussd_dropped++;
		log_info("[smsc] fault: ussd session cancelled on the phone session=%u", u->id);
		u->open = 0;
		smsc_ussd_dial(s, sm->dst_addr, ussd_redial_ms(s));
		return 0;
	}
	u->shown_us = now_us();
	return 1;
}

int smsc_send_mo_parts(struct smsc *s, const char *from, const char *to, const char *text, int delay_ms,
                       int ucs2, int ref, uint32_t only, int sms)
{
	int rc = smsc_send_mo_enc(s, from, to, text, delay_ms, NULL, ucs2);
	if (rc == 0) {
		struct mo *mo = LIST_FIRST(&s->mos); /* the one just queued */
		mo->ref = ref;
		mo->only = only;
		if (sms)
			mo->ussd_op = -1;
	}
	return rc;
}

int smsc_send_mo(struct smsc *s, const char *from, const char *to, const char *text,
                 int delay_ms, char *ledger)
{
	return smsc_send_mo_enc(s, from, to, text, delay_ms, ledger, 0);
}

int smsc_send_mo_enc(struct smsc *s, const char *from, const char *to, const char *text,
                     int delay_ms, char *ledger, int ucs2)
{
	if (!to)
		to = s->last_src[0] ? s->last_src : "8088";
	if (strlen(from) > 20 || strlen(to) > 20 || !*from || !*to) {
		free(ledger);
		return -EINVAL;
	}
	struct mo *mo = calloc(1, sizeof *mo);
	if (!mo) {
		free(ledger);
		return -ENOMEM;
	}
	mo->s = s;
	mo->ledger = ledger;
	mo->enc = ucs2 ? TEXT_ENC_UCS2 : TEXT_ENC_AUTO;
	mo->citizen = s->pop ? citizens_index(s->pop, from) : 0;
	mo->ref = -1;
	mo->ussd_op = -1;
	struct ussd_slot *u = ussd_find(s, from);
	if (u) {
		/* the answer to the screen on the phone */
		mo->ussd_op = s->o.ussd_ops[3];
		mo->ussd_sess = (uint16_t)(u->id << 1);
	}
	LIST_INSERT_HEAD(&s->mos, mo, link);
	copy_str(mo->from, sizeof mo->from, from);
	copy_str(mo->to, sizeof mo->to, to);
	mo->text = strdup(text);
	mo->think = evtimer_new(s->base, mo_think_cb, mo);
	if (!mo->text || !mo->think) {
		mo_free(mo);
		return -ENOMEM;
	}
	struct timeval tv = ms_tv(delay_ms < 0 ? 0 : delay_ms);
	evtimer_add(mo->think, &tv);
	return 0;
}

/* ---- submit_sm intake ---- */

/* A whole message reached `dst`: the inbox keeps it, a citizen reads it. */
static void deliver(struct smsc *s, const char *src, const char *dst, const char *text)
{
	char m[24];
	s->st.messages++;
	if (inbox_add(s->inbox, dst, text) < 0)
		log_warn("[smsc] inbox full, not kept to=%s", mask(dst, m));
	int idx = s->pop ? citizens_index(s->pop, dst) : 0;
	log_debug("[smsc] message to=%s citizen=%d chars=%zu", mask(dst, m), idx, strlen(text));
	if (!idx)
		return;
	if (s->ussd && strstr(text, s->o.ussd_code)) {
		/* an SMS naming the service code: the invitation; the citizen dials
		 * unless a session is open (or a dial on its way) */
		s->st.ussd_invites++;
		if (!ussd_find(s, dst))
			smsc_ussd_dial(s, dst, 500 + (int)(rng_next(&s->rng) % 1000));
		return;
	}
	struct citizens_reply r;
	int rc = citizens_receive(s->pop, idx, src, text, &r);
	if (rc < 0) {
		s->st.errors++;
		return;
	}
	if (rc == 0)
		return;
	char from[16];
	citizens_msisdn(idx, from);
	struct ussd_slot *us = ussd_find(s, from);
	if (us && ussd_chance(s, from, USSD_DRAW_SLOW, us->screens, s->o.ussd_slow_share)) {
		/* a slow phone: the answer to this screen comes late */
		s->st.ussd_slow++;
		r.delay_ms = s->o.ussd_slow_ms > 0 ? s->o.ussd_slow_ms : 8000;
	}
	if (smsc_send_mo_enc(s, from, r.to, r.text, r.delay_ms, r.ledger, r.ucs2) < 0)
		s->st.errors++;
}

static void asm_drop(struct smsc *s, struct asm_entry *e)
{
	TAILQ_REMOVE(&s->asms, e, link);
	s->nasm--;
	for (int i = 0; i < e->total; i++)
		free(e->part[i]);
	free(e->part);
	free(e);
}

/* One part of a concatenated message; delivers the whole when complete. */
static void asm_add(struct smsc *s, const struct smpp_sm *sm, uint16_t ref, uint8_t total,
                    uint8_t seq, const char *text)
{
	time_t now = time(NULL);
	for (int guard = s->nasm + 1; guard > 0; guard--) {
		struct asm_entry *old = TAILQ_FIRST(&s->asms);
		if (!old || (now - old->first < SMSC_ASM_TTL_S && s->nasm < SMSC_ASM_MAX))
			break;
		log_warn("[smsc] incomplete message dropped ref=%u have=%u/%u", old->ref, old->have,
		         old->total);
		s->st.errors++;
		asm_drop(s, old);
	}
	struct asm_entry *e;
	TAILQ_FOREACH(e, &s->asms, link) {
		if (e->ref == ref && strcmp(e->dst, sm->dst_addr) == 0)
			break;
	}
	if (e && e->total != total) {
		asm_drop(s, e);
		e = NULL;
	}
	if (!e) {
		e = calloc(1, sizeof *e);
		if (!e || !(e->part = calloc(total, sizeof *e->part))) {
			free(e);
			s->st.errors++;
			return;
		}
		copy_str(e->dst, sizeof e->dst, sm->dst_addr);
		copy_str(e->src, sizeof e->src, sm->src_addr);
		e->ref = ref;
		e->total = total;
		e->first = now;
		TAILQ_INSERT_TAIL(&s->asms, e, link);
		s->nasm++;
	}
	char *copy = strdup(text);
	if (!copy) {
		s->st.errors++;
		return;
	}
	if (e->part[seq - 1])
		free(e->part[seq - 1]);
	else
		e->have++;
	e->part[seq - 1] = copy;
	if (e->have < e->total)
		return;
	size_t n = 1;
	for (int i = 0; i < e->total; i++)
		n += strlen(e->part[i]);
	char *whole = malloc(n), *p = whole;
	if (whole) {
		for (int i = 0; i < e->total; i++) {
			size_t k = strlen(e->part[i]);
			memcpy(p, e->part[i], k);
			p += k;
		}
		*p = '\0';
		char src[21], dst[21];
		copy_str(src, sizeof src, e->src);
		copy_str(dst, sizeof dst, e->dst);
		asm_drop(s, e);
		deliver(s, src, dst, whole);
		free(whole);
	} else {
		s->st.errors++;
		asm_drop(s, e);
	}
}

/* Up to 20 characters of text that read the same in ASCII and GSM 03.38. */
static void receipt_snippet(const char *text, char out[21])
{
	static const char ok[] = " !\"#%&'()*+,-./:;<=>?";
	char *u = text_unaccent(text);
	const char *t = u ? u : "";
	int k = 0;
	for (size_t i = 0; t[i] && k < 20; i++) {
		char ch = t[i];
		int alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
		out[k++] = alnum || (ch && strchr(ok, ch)) ? ch : ' ';
	}
	out[k] = '\0';
	free(u);
}

/* The outcome of one receipt, drawn by weight (DELIVRD when none is configured). */
static const struct smsc_outcome *receipt_outcome(struct smsc *s)
{
	static const struct smsc_outcome delivered = {"DELIVRD", 2, 1};
	double sum = 0;
	for (int i = 0; i < s->o.noutcomes; i++)
		sum += s->o.outcomes[i].weight;
	if (sum <= 0)
		return &delivered;
	double r = (double)(rng_next(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * sum;
	for (int i = 0; i < s->o.noutcomes; i++) {
		if (r < s->o.outcomes[i].weight)
			return &s->o.outcomes[i];
		r -= s->o.outcomes[i].weight;
	}
	return &s->o.outcomes[s->o.noutcomes - 1];
}

/* A uniform draw in (0, 1]. */
static double uniform01(struct smsc *s)
{
	return ((double)(rng_next(&s->rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

int smsc_receipt_delay_ms(const struct smsc_opts *o, double u1, double u2)
{
	int lo = o->receipt_min_ms, hi = o->receipt_max_ms;
	if (hi <= lo)
		return lo;
	if (o->receipt_dist == SMSC_DELAY_UNIFORM) {
		int d = lo + (int)(u1 * (double)(hi - lo + 1));
		return d > hi ? hi : d;
	}
	/* log-normal (Box-Muller), lo and hi its 1st and 99th percentiles (z = 2.326), clamped */
	double a = lo > 0 ? lo : 1, mu = 0.5 * (log(a) + log(hi));
	double sigma = (log(hi) - log(a)) / (2 * 2.326);
	double z = sqrt(-2 * log(u1 > 0 ? u1 : 1e-300)) * cos(2 * M_PI * u2);
	double d = exp(mu + sigma * z);
	d = d < lo ? lo : d > hi ? hi : d;
	return (int)(d + 0.5);
}

/* How long after its response a receipt leaves: --receipt-delay-ms drawn as
 * --receipt-delay-dist says, plus the fault receipt_late_ms. */
static int receipt_delay(struct smsc *s)
{
	double u1 = uniform01(s), u2 = uniform01(s);
	return smsc_receipt_delay_ms(&s->o, u1, u2) + (int)s->faults.receipt_late_ms;
}

/* A final state that is not a success: what registered_delivery 2 (receipt
 * on failure only) asks a receipt for. ENROUTE is not final, ACCEPTD is not a
 * failure. */
static int outcome_failed(const struct smsc_outcome *oc)
{
	return oc->state != 1 && oc->state != 2 && oc->state != 6;
}

/* The receipt of a message accepted from session ss, not yet scheduled (the
 * caller holds it until the response is written), or NULL: lost on purpose
 * (fault receipt_loss_share), not asked for (failure_only, as
 * registered_delivery 2 says, and the message was delivered) or out of
 * memory. */
static struct outmsg *make_receipt(struct sess *ss, const struct smpp_sm *sub, const char *id,
                                   const char *text, int failure_only, uint8_t *state)
{
	struct smsc *s = ss->s;
	if (chance(s, s->faults.receipt_loss_share)) {
		s->st.receipts_lost++;
		return NULL;
	}
	const struct smsc_outcome *oc = receipt_outcome(s);
	*state = oc->state;
	if (failure_only && !outcome_failed(oc))
		return NULL;
	struct outmsg *om = out_new(s, NULL);
	if (!om) {
		s->st.errors++;
		return NULL;
	}
	om->acct = ss->acct;
	struct smpp_sm *d = &om->sm;
	d->src_ton = sub->dst_ton;
	d->src_npi = sub->dst_npi;
	copy_str(d->src_addr, sizeof d->src_addr, sub->dst_addr);
	d->dst_ton = sub->src_ton;
	d->dst_npi = sub->src_npi;
	copy_str(d->dst_addr, sizeof d->dst_addr, sub->src_addr);
	d->esm_class = 0x04;
	d->data_coding = 0;
	char date[64], snip[21];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	snprintf(date, sizeof date, "%02d%02d%02d%02d%02d", tm.tm_year % 100, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min);
	receipt_snippet(text, snip);
	if (s->o.receipt_form != SMSC_RECEIPT_TLV) {
		int delivered = oc->state == 2;
		int n = snprintf((char *)d->short_message, sizeof d->short_message,
		                 "id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s",
		                 id, delivered ? "001" : "000", date, date, oc->stat,
		                 delivered ? "000" : "001", snip);
		d->sm_length = n < 0 ? 0 : (size_t)n < sizeof d->short_message ? (size_t)n : sizeof d->short_message - 1;
	}
	if (s->o.receipt_form != SMSC_RECEIPT_TEXT) {
		d->has_receipted_id = 1;
		copy_str(d->receipted_id, sizeof d->receipted_id, id);
		d->has_message_state = 1;
		d->message_state = oc->state;
	}
	om->delay_ms = receipt_delay(s);
	return om;
}

static uint32_t fault_status(struct smsc *s)
{
	s->submits++;
	if (s->faults.throttle_every && s->submits % s->faults.throttle_every == 0)
		return SMPP_ESME_RTHROTTLED;
	if (s->faults.qfull_every && s->submits % s->faults.qfull_every == 0)
		return SMPP_ESME_RMSGQFUL;
	if (chance(s, s->faults.throttle_share))
		return SMPP_ESME_RTHROTTLED;
	if (chance(s, s->faults.qfull_share))
		return SMPP_ESME_RMSGQFUL;
	if (chance(s, s->faults.vendor_share))
		return s->faults.vendor_status ? s->faults.vendor_status : 0x400;
	return SMPP_ESME_ROK;
}

static void lat_add(struct smsc *s, double ms)
{
	if (s->nlat == s->caplat) {
		if (s->caplat >= SMSC_LAT_MAX)
			return;
		size_t cap = s->caplat ? s->caplat * 2 : 4096;
		float *n = realloc(s->lat, cap * sizeof *n);
		if (!n)
			return;
		s->lat = n;
		s->caplat = cap;
	}
	s->lat[s->nlat++] = (float)ms;
}

/* An SMPP 3.4 time (section 7.1.1): empty, or "YYMMDDhhmmsstnnp" with p '+'
 * or '-' (absolute, nn quarter hours from UTC, at most 48) or 'R' (relative:
 * any digits). 1 when t is one. */
static int sm_time_ok(const char *t)
{
	if (!*t)
		return 1;
	if (strlen(t) != 16 || !strchr("+-R", t[15]))
		return 0;
	int v[8];
	for (int i = 0; i < 15; i++)
		if (t[i] < '0' || t[i] > '9')
			return 0;
	for (int i = 0; i < 6; i++)
		v[i] = (t[2 * i] - '0') * 10 + (t[2 * i + 1] - '0');
	v[6] = t[12] - '0';
	v[7] = (t[13] - '0') * 10 + (t[14] - '0');
	if (t[15] == 'R')
		return 1;
	return v[1] >= 1 && v[1] <= 12 && v[2] >= 1 && v[2] <= 31 && v[3] <= 23 && v[4] <= 59 &&
	       v[5] <= 59 && v[7] <= 48;
}

static void on_submit(struct sess *ss, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	struct smsc *s = ss->s;
	uint32_t resp = h->id == SMPP_DATA_SM ? SMPP_DATA_SM_RESP : SMPP_SUBMIT_SM_RESP;
	s->st.submit_sm++;
	if (ss->bound != SMPP_BIND_TRANSMITTER && ss->bound != SMPP_BIND_TRANSCEIVER) {
		s->st.errors++;
		reply_sm(ss, resp, SMPP_ESME_RINVBNDSTS, h->seq, "");
		return;
	}
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	uint32_t st = smpp_decode_sm(pdu, len, &sm);
	const uint8_t *data = NULL;
	size_t dlen = 0;
	uint16_t ref = 0;
	uint8_t total = 0, seq = 0;
	if (st == SMPP_ESME_ROK) {
		/* message_payload, when it came, is the user data (a UDH included
		 * when esm_class has UDHI), even beside a short_message, which SMPP
		 * forbids: the payload wins, as at hailongd */
		struct smpp_ud ud;
		size_t sm_len = sm.sm_length;
		if (sm.payload && sm.payload_len)
			sm.sm_length = 0;
		int ud_rc = smpp_user_data(&sm, &ud);
		sm.sm_length = sm_len;
		if (ud_rc < 0) {
			st = SMPP_ESME_RINVMSGLEN;
		} else {
			data = ud.text;
			dlen = ud.text_len;
			ref = ud.ref;
			total = ud.total;
			seq = ud.seq;
		}
		if (st == SMPP_ESME_ROK && total <= 1 && sm.has_sar && sm.sar_total > 1) {
			ref = sm.sar_ref;
			total = sm.sar_total;
			seq = sm.sar_seq;
		}
		if (st == SMPP_ESME_ROK && total > 1 && (seq < 1 || seq > total))
			st = SMPP_ESME_RINVOPTPARAMVAL;
		if (st == SMPP_ESME_ROK && sm.dst_addr[0] == '\0')
			st = SMPP_ESME_RINVDSTADR;
		/* accepted as written (the message is delivered at once), but
		 * refused as a real SMSC would when not an SMPP time */
		if (st == SMPP_ESME_ROK && !sm_time_ok(sm.schedule_delivery_time))
			st = SMPP_ESME_RINVSCHED;
		if (st == SMPP_ESME_ROK && !sm_time_ok(sm.validity_period))
			st = SMPP_ESME_RINVEXPIRY;
	}
	if (st != SMPP_ESME_ROK) {
		s->st.errors++; /* a request that does not decode */
	} else if (chance(s, s->faults.nack_share)) {
		s->st.faults++;
		log_info("[smsc] fault: generic_nack ESME_RTHROTTLED peer=%s seq=%u", ss->peer, h->seq);
		reply_header(ss, SMPP_GENERIC_NACK, SMPP_ESME_RTHROTTLED, h->seq);
		return;
	} else {
		st = fault_status(s); /* injected faults are not errors */
		if (st != SMPP_ESME_ROK)
			s->st.faults++;
	}
	if (st != SMPP_ESME_ROK) {
		log_info("[smsc] %s refused peer=%s seq=%u status=%s", smpp_cmd_name(h->id), ss->peer,
		         h->seq, smpp_status_name(st));
		reply_sm(ss, resp, st, h->seq, "");
		return;
	}
	if (s->pop) {
		/* the latency of a step: the citizen's reply sent -> this question */
		int idx = citizens_index(s->pop, sm.dst_addr);
		int64_t t = idx ? citizens_take_mark(s->pop, idx) : 0;
		if (t > 0)
			lat_add(s, (double)(now_us() - t) / 1000.0);
	}
	char id[24];
	uint64_t nid = s->next_id++;
	snprintf(id, sizeof id, "%" PRIX64, nid);
	char text[8192];
	if (text_decode(sm.data_coding, data, dlen, text, sizeof text) < 0)
		text[0] = '\0';
	struct outmsg *rcpt = NULL;
	/* registered_delivery bits 1-0: 1 = a receipt on success or failure,
	 * 2 = on failure only (3 is reserved in SMPP 3.4: none) */
	int rd = sm.registered_delivery & 0x03;
	uint8_t state = 2; /* DELIVERED, unless a receipt's outcome says otherwise */
	if (s->o.receipts && (rd == 1 || rd == 2))
		rcpt = make_receipt(ss, &sm, id, text, rd == 2, &state);
	struct msgrec *mr = &s->msgs[(nid - s->first_id) % SMSC_MSGS];
	mr->id = nid;
	mr->done = time(NULL);
	mr->state = state;
	mr->acct = (int8_t)ss->acct;
	copy_str(mr->src, sizeof mr->src, sm.src_addr);
	int early = rcpt && chance(s, s->faults.early_receipt_share);
	if (early) {
		/* the race on purpose: the receipt goes first, the response after it */
		s->st.faults++;
		s->st.receipts_early++;
		log_info("[smsc] fault: receipt before its response peer=%s id=%s", ss->peer, id);
		rcpt->state = OUT_READY;
		TAILQ_INSERT_HEAD(ready_q(s, rcpt), rcpt, q);
		pump(s);
		rcpt = NULL;
	}
	reply_submit(ss, resp, SMPP_ESME_ROK, h->seq, id, rcpt, early);
	copy_str(s->last_src, sizeof s->last_src, sm.src_addr);
	route_learn(s, sm.src_addr, ss->acct);

	if (total > 1) {
		s->st.parts++;
		asm_add(s, &sm, ref, total, seq, text);
	} else if (sm.has_ussd_op && s->ussd && !ussd_screen(s, &sm)) {
		if (inbox_add(s->inbox, sm.dst_addr, text) < 0)
			s->st.errors++; /* kept, but nobody read it */
	} else {
		deliver(s, sm.src_addr, sm.dst_addr, text);
	}
	pump(s);
}

/* query_sm: the state of one of the account's messages (the last SMSC_MSGS
 * accepted). Its body: message_id, source_addr_ton, _npi, source_addr; its
 * response: message_id, final_date, message_state, error_code. An id the
 * SMSC does not know (or another account's, or from another source address)
 * is ESME_RQUERYFAIL. */
static void on_query(struct sess *ss, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	struct smsc *s = ss->s;
	char id[66] = "", src[21] = "";
	uint32_t st = SMPP_ESME_ROK;
	size_t off = SMPP_HEADER_LEN;
	const uint8_t *nul = memchr(pdu + off, 0, len - off);
	if (!nul || (size_t)(nul - (pdu + off)) >= sizeof id) {
		st = nul ? SMPP_ESME_RINVMSGID : SMPP_ESME_RINVCMDLEN;
	} else {
		memcpy(id, pdu + off, (size_t)(nul - (pdu + off)) + 1);
		off += strlen(id) + 1 + 2; /* and the TON, NPI */
		nul = off < len ? memchr(pdu + off, 0, len - off) : NULL;
		if (!nul)
			st = SMPP_ESME_RINVCMDLEN;
		else if ((size_t)(nul - (pdu + off)) >= sizeof src)
			st = SMPP_ESME_RINVSRCADR;
		else
			memcpy(src, pdu + off, (size_t)(nul - (pdu + off)) + 1);
	}
	if (st == SMPP_ESME_ROK && ss->bound != SMPP_BIND_TRANSMITTER && ss->bound != SMPP_BIND_TRANSCEIVER)
		st = SMPP_ESME_RINVBNDSTS;
	uint64_t v = 0;
	const struct msgrec *mr = NULL;
	if (st == SMPP_ESME_ROK) {
		if (smpp_parse_u64(id, 16, &v) && v >= s->first_id)
			mr = &s->msgs[(v - s->first_id) % SMSC_MSGS];
		if (!mr || mr->id != v || mr->acct != ss->acct || strcmp(mr->src, src) != 0)
			st = SMSC_ESME_RQUERYFAIL;
	}
	uint8_t b[SMPP_HEADER_LEN + 66 + 17 + 2];
	size_t n = SMPP_HEADER_LEN;
	if (st == SMPP_ESME_ROK) {
		struct tm tm;
		char date[40];
		gmtime_r(&mr->done, &tm);
		int dl = snprintf(date, sizeof date, "%02d%02d%02d%02d%02d%02d000+", tm.tm_year % 100,
		                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		memcpy(b + n, id, strlen(id) + 1);
		n += strlen(id) + 1;
		memcpy(b + n, date, dl == 16 ? 17 : 1); /* "YYMMDDhhmmss000+" in UTC */
		n += dl == 16 ? 17 : 1;
		b[n++] = mr->state;
		b[n++] = mr->state == 2 || mr->state == 6 ? 0 : 1; /* as the receipt's err */
	} else {
		s->st.errors++;
	}
	smpp_build_header(b, sizeof b, h->id | 0x80000000u, st, h->seq);
	smpp_put_u32(b, (uint32_t)n);
	sess_write(ss, b, (int)n);
}

/* cancel_sm, replace_sm: every message is delivered as soon as it is
 * accepted, so there is never one left to cancel or replace: the command's
 * response with ESME_RCANCELFAIL / ESME_RREPLACEFAIL (ESME_RINVBNDSTS from a
 * receiver or before a bind). */
static void on_cancel_replace(struct sess *ss, const struct smpp_hdr *h)
{
	uint32_t st = h->id == SMSC_CANCEL_SM ? SMSC_ESME_RCANCELFAIL : SMSC_ESME_RREPLACEFAIL;
	if (ss->bound != SMPP_BIND_TRANSMITTER && ss->bound != SMPP_BIND_TRANSCEIVER)
		st = SMPP_ESME_RINVBNDSTS;
	ss->s->st.errors++;
	reply_header(ss, h->id | 0x80000000u, st, h->seq);
}

/* ---- sessions: reading ---- */

static void on_bind(struct sess *ss, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	struct smsc *s = ss->s;
	struct smpp_bind b;
	memset(&b, 0, sizeof b);
	uint32_t st = smpp_decode_bind(pdu, len, &b);
	if (st == SMPP_ESME_ROK && ss->bound)
		st = SMPP_ESME_RALYBND;
	if (st == SMPP_ESME_ROK && s->stopping)
		st = SMPP_ESME_RBINDFAIL;
	if (st == SMPP_ESME_ROK && s->faults.bind_refuse) {
		st = s->faults.bind_refuse;
		s->st.faults++;
	}
	if (st == SMPP_ESME_ROK) {
		const struct smsc_account *a = NULL;
		for (int i = 0; i < s->nacct && !a; i++)
			if (strcmp(b.system_id, s->acct[i].system_id) == 0) {
				a = &s->acct[i];
				ss->acct = i;
			}
		if (!a)
			st = SMPP_ESME_RINVSYSID;
		else if (strcmp(b.password, a->password) != 0)
			st = SMPP_ESME_RINVPASWD;
	}
	uint8_t buf[64];
	sess_write(ss, buf, smpp_build_bind_resp(buf, sizeof buf, h->id | 0x80000000u, st, h->seq,
	                                         SMSC_SYSTEM_ID));
	if (st != SMPP_ESME_ROK) {
		s->st.bind_refused++;
		log_warn("[smsc] %s refused peer=%s system_id=%s status=%s", smpp_cmd_name(h->id),
		         ss->peer, b.system_id, smpp_status_name(st));
		return;
	}
	ss->bound = h->id;
	copy_str(ss->system_id, sizeof ss->system_id, b.system_id);
	s->st.binds++;
	log_info("[smsc] %s peer=%s system_id=%s version=0x%02x", smpp_cmd_name(h->id), ss->peer,
	         b.system_id, b.interface_version);
	pump(s);
}

static void sess_handle(struct sess *ss, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	/* any PDU shows the ESME alive, an enquire_link_resp or not */
	ss->last_rx_us = now_us();
	ss->el_pending = 0;
	switch (h->id) {
	case SMPP_BIND_RECEIVER:
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_TRANSCEIVER:
		on_bind(ss, h, pdu, len);
		break;
	case SMPP_SUBMIT_SM:
	case SMPP_DATA_SM:
		on_submit(ss, h, pdu, len);
		break;
	case SMPP_DELIVER_SM: /* an ESME does not send these */
		ss->s->st.errors++;
		reply_sm(ss, SMPP_DELIVER_SM_RESP, SMPP_ESME_RINVBNDSTS, h->seq, "");
		break;
	case SMPP_ENQUIRE_LINK:
		reply_header(ss, SMPP_ENQUIRE_LINK_RESP, SMPP_ESME_ROK, h->seq);
		break;
	case SMSC_QUERY_SM:
		on_query(ss, h, pdu, len);
		break;
	case SMSC_CANCEL_SM:
	case SMSC_REPLACE_SM:
		on_cancel_replace(ss, h);
		break;
	case SMPP_UNBIND:
		reply_header(ss, SMPP_UNBIND_RESP, SMPP_ESME_ROK, h->seq);
		log_info("[smsc] unbind peer=%s", ss->peer);
		sess_close(ss);
		break;
	case SMPP_UNBIND_RESP:
		sess_close(ss);
		break;
	case SMPP_DELIVER_SM_RESP:
		on_deliver_resp(ss, h->seq, h->status);
		break;
	case SMPP_GENERIC_NACK:
		on_deliver_resp(ss, h->seq, h->status ? h->status : SMPP_ESME_RSYSERR);
		break;
	case SMPP_ENQUIRE_LINK_RESP:
		break;
	default:
		if (h->id & 0x80000000u) {
			log_debug("[smsc] unexpected %s peer=%s", smpp_cmd_name(h->id), ss->peer);
			break;
		}
		ss->s->st.errors++;
		log_info("[smsc] unknown command 0x%08x peer=%s", h->id, ss->peer);
		reply_header(ss, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDID, h->seq);
		break;
	}
}

static void sess_read_cb(struct bufferevent *bev, void *arg)
{
	struct sess *ss = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t pdu[SMPP_MAX_PDU + 1];
	for (size_t guard = evbuffer_get_length(in) / SMPP_HEADER_LEN + 1; guard > 0 && !ss->closing;
	     guard--) {
		struct smpp_hdr h;
		uint32_t seq;
		int n = smpp_link_read(in, pdu, &h, &seq);
		if (n == 0)
			return;
		if (n < 0) {
			ss->s->st.errors++;
			log_warn("[smsc] framing error peer=%s: closing", ss->peer);
			reply_header(ss, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDLEN, seq);
			sess_close(ss);
			return;
		}
		sess_handle(ss, &h, pdu, (size_t)n);
	}
}

static void sess_write_cb(struct bufferevent *bev, void *arg)
{
	struct sess *ss = arg;
	if (ss->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		struct timeval tv = {0, 0};
		evtimer_add(ss->reaper, &tv);
	}
}

static void sess_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sess *ss = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	log_info("[smsc] connection closed peer=%s%s", ss->peer,
	         (what & BEV_EVENT_ERROR) ? " (error)" : "");
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	ss->closing = 1;
	struct timeval tv = {0, 0};
	evtimer_add(ss->reaper, &tv);
}

/* Frees a session; its deliver_sm in flight are sent again elsewhere. */
static void sess_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sess *ss = arg;
	struct smsc *s = ss->s;
	struct outmsg *om, *next;
	for (om = TAILQ_FIRST(&s->inflight); om; om = next) {
		next = TAILQ_NEXT(om, q);
		if (om->sess == ss)
			out_resend_later(om, "disconnected");
	}
	TAILQ_REMOVE(&s->sessions, ss, link);
	/* receipts whose response was written go on; the others' responses
	 * never reached the ESME: orphans */
	sess_release(ss);
	for (int guard = 0; guard < SMSC_OUT_MAX && !TAILQ_EMPTY(&ss->held); guard++) {
		struct outmsg *h = TAILQ_FIRST(&ss->held);
		TAILQ_REMOVE(&ss->held, h, q);
		rcpt_orphan(h);
	}
	for (int guard = 0; guard < 1000000 && !LIST_EMPTY(&ss->delayed); guard++)
		delayed_free(LIST_FIRST(&ss->delayed));
	sess_free(ss);
	if (s->stopping && TAILQ_EMPTY(&s->sessions))
		event_base_loopexit(s->base, NULL);
	else
		pump(s);
}

/* A bound session the ESME has not spoken on for --enquire-link-s gets an
 * enquire_link, as a real SMSC checks an idle link. Silent as long again
 * after it while it holds deliver_sm of ours unanswered, the link is taken
 * for dead and closed (they go again on another session or after a
 * rebind); silent with nothing of ours on it, it is asked again and kept: a
 * tester's minimal client that answers no enquire_link (node-smpp does not
 * by itself) stays bound while it waits. */
static void sess_elink_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sess *ss = arg;
	struct smsc *s = ss->s;
	if (ss->closing || !ss->bound || s->stopping)
		return;
	if (now_us() - ss->last_rx_us < (int64_t)s->o.enquire_link_ms * 1000 - 50000)
		return; /* traffic since: nothing to ask */
	if (ss->el_pending && ss->inflight > 0) {
		s->st.links_dead++;
		log_warn("[smsc] no answer to enquire_link peer=%s: closing", ss->peer);
		bufferevent_disable(ss->bev, EV_READ | EV_WRITE);
		ss->closing = 1;
		struct timeval tv = {0, 0};
		evtimer_add(ss->reaper, &tv);
		return;
	}
	ss->el_pending = 1;
	s->st.enquire_links++;
	reply_header(ss, SMPP_ENQUIRE_LINK, SMPP_ESME_ROK, sess_next_seq(ss));
}

/* Frees a session's own resources (it is out of every list, owes nothing). */
static void sess_free(struct sess *ss)
{
	if (ss->bev) {
		if (ss->out_cb)
			evbuffer_remove_cb_entry(bufferevent_get_output(ss->bev), ss->out_cb);
		bufferevent_free(ss->bev);
	}
	if (ss->reaper)
		event_free(ss->reaper);
	if (ss->release)
		event_free(ss->release);
	if (ss->elink)
		event_free(ss->elink);
	free(ss);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                      int alen, void *arg)
{
	(void)l;
	(void)alen;
	struct smsc *s = arg;
	struct sess *ss = calloc(1, sizeof *ss);
	if (!ss || s->stopping) {
		free(ss);
		evutil_closesocket(fd);
		return;
	}
	ss->s = s;
	LIST_INIT(&ss->delayed);
	TAILQ_INIT(&ss->held);
	ss->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	ss->reaper = evtimer_new(s->base, sess_reaper_cb, ss);
	ss->release = evtimer_new(s->base, sess_release_cb, ss);
	ss->elink = event_new(s->base, -1, EV_PERSIST, sess_elink_cb, ss);
	ss->last_rx_us = now_us();
	if (ss->bev)
		ss->out_cb = evbuffer_add_cb(bufferevent_get_output(ss->bev), sess_outbuf_cb, ss);
	if (!ss->bev || !ss->reaper || !ss->release || !ss->elink || !ss->out_cb) {
		if (!ss->bev)
			evutil_closesocket(fd);
		sess_free(ss);
		return;
	}
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)addr;
		evutil_inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)addr;
		evutil_inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
	}
	snprintf(ss->peer, sizeof ss->peer, "%s:%d", ip, port);
	bufferevent_setcb(ss->bev, sess_read_cb, sess_write_cb, sess_event_cb, ss);
	bufferevent_setwatermark(ss->bev, EV_READ, 0, SMSC_INPUT_CAP);
	bufferevent_enable(ss->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->sessions, ss, link);
	s->st.sessions++;
	if (s->o.enquire_link_ms > 0) {
		struct timeval tv = ms_tv(s->o.enquire_link_ms);
		evtimer_add(ss->elink, &tv);
	}
	log_info("[smsc] connection peer=%s", ss->peer);
}

/* ---- the server ---- */

/* Fault disconnect_every_s: every ESME connection is closed, as a flaky link would. */
static void disc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smsc *s = arg;
	struct sess *ss;
	TAILQ_FOREACH(ss, &s->sessions, link) {
		if (ss->closing)
			continue;
		log_info("[smsc] fault: disconnecting peer=%s", ss->peer);
		s->st.disconnects++;
		bufferevent_disable(ss->bev, EV_READ | EV_WRITE);
		ss->closing = 1;
		struct timeval tv = {0, 0};
		evtimer_add(ss->reaper, &tv);
	}
}

void smsc_faults_changed(struct smsc *s)
{
	evtimer_del(s->disc_timer);
	if (s->faults.disconnect_every_s && !s->stopping) {
		struct timeval tv = {(time_t)s->faults.disconnect_every_s, 0};
		evtimer_add(s->disc_timer, &tv);
	}
}

struct smsc *smsc_new(struct event_base *base, const struct smsc_opts *o, struct citizens *pop)
{
	struct smsc *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = base;
	s->o = *o;
	if (s->o.window <= 0)
		s->o.window = 10;
	if (s->o.retry_ms <= 0)
		s->o.retry_ms = 1000;
	if (s->o.resp_timeout_ms <= 0)
		s->o.resp_timeout_ms = 30000;
	if (s->o.max_attempts <= 0)
		s->o.max_attempts = 3600;
	if (s->o.ussd_code) {
		if (!s->o.ussd_ops[0] && !s->o.ussd_ops[1] && !s->o.ussd_ops[2] && !s->o.ussd_ops[3]) {
			s->o.ussd_ops[0] = 1;
			s->o.ussd_ops[1] = 17;
			s->o.ussd_ops[2] = 2;
			s->o.ussd_ops[3] = 18;
		}
		if (s->o.ussd_release_op <= 0)
			s->o.ussd_release_op = 32;
		s->ussd = calloc(SMSC_USSD_SLOTS, sizeof *s->ussd);
		if (!s->ussd) {
			free(s);
			return NULL;
		}
	}
	if (o->system_id) {
		copy_str(s->acct[0].system_id, sizeof s->acct[0].system_id, o->system_id);
		copy_str(s->acct[0].password, sizeof s->acct[0].password, o->password);
		s->nacct = 1;
	}
	for (int i = 0; i < o->naccounts && s->nacct <= SMSC_ACCOUNTS_MAX; i++)
		s->acct[s->nacct++] = o->accounts[i];
	s->o.system_id = s->acct[0].system_id;
	s->o.password = s->acct[0].password;
	s->o.accounts = NULL;
	s->o.naccounts = 0;
	if (s->o.noutcomes < 0 || s->o.noutcomes > SMSC_OUTCOMES_MAX)
		s->o.noutcomes = 0;
	if (s->o.receipt_min_ms < 0)
		s->o.receipt_min_ms = 0;
	if (s->o.receipt_max_ms < s->o.receipt_min_ms)
		s->o.receipt_max_ms = s->o.receipt_min_ms;
	s->rng = o->seed ^ 0x5EEDF00Dull;
	s->faults = o->faults;
	if (!sim_faults_any(&s->faults))
		sim_faults_default(&s->faults);
	s->pop = pop;
	TAILQ_INIT(&s->sessions);
	TAILQ_INIT(&s->ready);
	TAILQ_INIT(&s->inflight);
	TAILQ_INIT(&s->all);
	for (int i = 0; i <= SMSC_ACCOUNTS_MAX; i++) {
		TAILQ_INIT(&s->rready[i]);
		TAILQ_INIT(&s->mready[i]);
		TAILQ_INIT(&s->orphans[i]);
	}
	LIST_INIT(&s->mos);
	TAILQ_INIT(&s->asms);
	/* Message ids start from the clock so a restarted simulator never reuses one. */
	s->next_id = (uint64_t)time(NULL) << 20;
	s->first_id = s->next_id;
	s->inbox = inbox_new();
	s->msgs = calloc(SMSC_MSGS, sizeof *s->msgs);
	s->disc_timer = event_new(base, -1, EV_PERSIST, disc_timer_cb, s);
	if (!s->inbox || !s->disc_timer || !s->msgs) {
		inbox_free(s->inbox);
		free(s->msgs);
		if (s->disc_timer)
			event_free(s->disc_timer);
		free(s);
		return NULL;
	}
	smsc_faults_changed(s);
	return s;
}

void smsc_free(struct smsc *s)
{
	if (!s)
		return;
	if (s->lst)
		evconnlistener_free(s->lst);
	for (int guard = 0; guard < 10000000 && !TAILQ_EMPTY(&s->all); guard++)
		out_free(TAILQ_FIRST(&s->all));
	for (int guard = 0; guard < 10000000 && !LIST_EMPTY(&s->mos); guard++)
		mo_free(LIST_FIRST(&s->mos));
	for (int guard = 0; guard < 10000000 && !TAILQ_EMPTY(&s->asms); guard++)
		asm_drop(s, TAILQ_FIRST(&s->asms));
	free(s->ussd);
	s->ussd = NULL;
	for (int guard = 0; guard < 10000000 && !TAILQ_EMPTY(&s->sessions); guard++) {
		struct sess *ss = TAILQ_FIRST(&s->sessions);
		TAILQ_REMOVE(&s->sessions, ss, link);
		for (int g = 0; g < 1000000 && !LIST_EMPTY(&ss->delayed); g++)
			delayed_free(LIST_FIRST(&ss->delayed));
		sess_free(ss);
	}
	if (s->stop_timer)
		event_free(s->stop_timer);
	if (s->disc_timer)
		event_free(s->disc_timer);
	free(s->lat);
	free(s->msgs);
	inbox_free(s->inbox);
	free(s);
}

int smsc_listen(struct smsc *s, const char *hostport, char *err, size_t errlen)
{
	char host[64];
	int port;
	struct sockaddr_storage sa;
	socklen_t salen;
	memset(&sa, 0, sizeof sa);
	if (simargs_hostport(hostport, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad address '%s' (want HOST:PORT)", hostport);
		return -EINVAL;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		salen = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		salen = sizeof *a6;
	} else {
		snprintf(err, errlen, "bad address '%s' (want a numeric IP)", hostport);
		return -EINVAL;
	}
	s->lst = evconnlistener_new_bind(s->base, accept_cb, s,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
	                                 (struct sockaddr *)&sa, (int)salen);
	if (!s->lst) {
		int e = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "cannot listen on %s: %s", hostport, strerror(e));
		return -e;
	}
	struct sockaddr_storage got;
	socklen_t gl = sizeof got;
	if (getsockname(evconnlistener_get_fd(s->lst), (struct sockaddr *)&got, &gl) == 0)
		s->port = got.ss_family == AF_INET6
		              ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
		              : ntohs(((struct sockaddr_in *)&got)->sin_port);
	return 0;
}

int smsc_port(const struct smsc *s)
{
	return s->port;
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smsc *s = arg;
	log_warn("[smsc] sessions still open at shutdown: leaving anyway");
	event_base_loopexit(s->base, NULL);
}

void smsc_shutdown(struct smsc *s, int timeout_ms)
{
	if (s->stopping) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->stopping = 1;
	evtimer_del(s->disc_timer);
	if (s->lst)
		evconnlistener_disable(s->lst);
	struct sess *ss;
	TAILQ_FOREACH(ss, &s->sessions, link) {
		if (ss->closing)
			continue;
		if (ss->bound)
			reply_header(ss, SMPP_UNBIND, SMPP_ESME_ROK, sess_next_seq(ss));
		else
			sess_close(ss);
	}
	if (TAILQ_EMPTY(&s->sessions)) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->stop_timer = evtimer_new(s->base, stop_timer_cb, s);
	struct timeval tv = ms_tv(timeout_ms);
	if (s->stop_timer)
		evtimer_add(s->stop_timer, &tv);
	else
		event_base_loopexit(s->base, NULL);
}

struct sim_faults *smsc_faults(struct smsc *s)
{
	return &s->faults;
}

void smsc_stats(const struct smsc *s, struct smsc_stats *out)
{
	*out = s->st;
	out->completed = s->pop ? citizens_completed(s->pop) : 0;
	out->opted_out = s->pop ? citizens_opted_out(s->pop) : 0;
	out->no_reply = s->pop ? citizens_no_reply(s->pop) : 0;
	out->answers = s->pop ? citizens_answers(s->pop) : 0;
}

char *smsc_stats_json(const struct smsc *s)
{
	struct smsc_stats st;
	smsc_stats(s, &st);
	json_t *o = json_object();
	if (!o)
		return NULL;
	const struct {
		const char *k;
		uint64_t v;
	} f[] = {
	    {"sessions", st.sessions},   {"binds", st.binds},         {"bind_refused", st.bind_refused},
	    {"submit_sm", st.submit_sm}, {"parts", st.parts},         {"messages", st.messages},
	    {"deliver_sm", st.deliver_sm}, {"mo", st.mo},             {"receipts", st.receipts},
	    {"resent", st.resent},       {"completed", st.completed}, {"answers", st.answers},
	    {"errors", st.errors},       {"faults", st.faults},       {"duplicates", st.duplicates},
	    {"malformed", st.malformed}, {"receipts_lost", st.receipts_lost},
	    {"receipts_early", st.receipts_early}, {"receipts_orphaned", st.receipts_orphaned},
	    {"disconnects", st.disconnects}, {"enquire_links", st.enquire_links},
	    {"links_dead", st.links_dead}, {"opted_out", st.opted_out}, {"no_reply", st.no_reply},
	    {"ussd_screens", st.ussd_screens}, {"ussd_dials", st.ussd_dials},
	    {"ussd_released", st.ussd_released}, {"ussd_ignored", st.ussd_ignored},
	    {"ussd_bad_echo", st.ussd_bad_echo}, {"ussd_invites", st.ussd_invites},
	    {"ussd_dropped", st.ussd_dropped}, {"ussd_slow", st.ussd_slow}, {"ussd_late", st.ussd_late},
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		json_object_set_new(o, f[i].k, json_integer((json_int_t)f[i].v));
	struct smsc_latency l;
	smsc_latency(s, &l);
	json_object_set_new(o, "latency_ms",
	                    json_pack("{s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)l.n, "p50", l.p50,
	                              "p95", l.p95, "p99", l.p99, "max", l.max));
	char *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	return out;
}

static int float_cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

void smsc_latency(const struct smsc *s, struct smsc_latency *out)
{
	memset(out, 0, sizeof *out);
	if (!s->nlat)
		return;
	float *v = malloc(s->nlat * sizeof *v);
	if (!v)
		return;
	memcpy(v, s->lat, s->nlat * sizeof *v);
	qsort(v, s->nlat, sizeof *v, float_cmp);
	size_t n = s->nlat;
	/* nearest rank */
	out->n = n;
	out->p50 = v[(size_t)(0.50 * (double)(n - 1) + 0.5)];
	out->p95 = v[(size_t)(0.95 * (double)(n - 1) + 0.5)];
	out->p99 = v[(size_t)(0.99 * (double)(n - 1) + 0.5)];
	out->max = v[n - 1];
	free(v);
}

void smsc_latency_reset(struct smsc *s)
{
	s->nlat = 0;
}

int smsc_parse_outcomes(const char *spec, struct smsc_opts *o)
{
	static const struct {
		const char *stat;
		uint8_t state;
	} known[] = {{"ENROUTE", 1}, {"DELIVRD", 2}, {"EXPIRED", 3}, {"DELETED", 4},
	             {"UNDELIV", 5}, {"ACCEPTD", 6}, {"UNKNOWN", 7}, {"REJECTD", 8}};
	struct weights_item it[SMSC_OUTCOMES_MAX];
	int n = weights_parse(spec, it, SMSC_OUTCOMES_MAX);
	if (n < 0)
		return n;
	int found[SMSC_OUTCOMES_MAX];
	for (int i = 0; i < n; i++) {
		found[i] = -1;
		for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
			if (strcmp(known[k].stat, it[i].key) == 0)
				found[i] = (int)k;
		if (found[i] < 0)
			return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		copy_str(o->outcomes[i].stat, sizeof o->outcomes[i].stat, known[found[i]].stat);
		o->outcomes[i].state = known[found[i]].state;
		o->outcomes[i].weight = it[i].weight;
	}
	o->noutcomes = n;
	return 0;
}

int smsc_inbox(const struct smsc *s, const char *msisdn, const char **out, int max)
{
	return inbox_list(s->inbox, msisdn, out, max);
}

int smsc_inbox_since(const struct smsc *s, const char *msisdn, unsigned long since,
                     const char **out, int max, unsigned long *total)
{
	return inbox_list_since(s->inbox, msisdn, since, out, max, total);
}

struct citizens *smsc_citizens(struct smsc *s)
{
	return s->pop;
}
