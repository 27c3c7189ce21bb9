/* Tests for gateway/esme.c: scenarios against a small fake SMSC on 127.0.0.1
 * (an evconnlistener on the same event_base), plus esme_msgid_eq as a table. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "esme.h"
#include "log.h"
#include "smpp_pdu.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAXREC 96

/* ---- fake SMSC ------------------------------------------------------ */

struct got {            /* a PDU the fake received (responses and requests) */
	uint32_t id, status, seq;
	uint8_t raw[48];    /* its first bytes, for byte-exact checks */
	size_t len;         /* its whole length */
};

struct fake {
	struct event_base *base;
	struct evconnlistener *lis;
	int port;
	struct bufferevent *bev;     /* the current connection */
	int conn_gen;                /* bumped per connection */
	int nconn, nbind;
	char bind_system_id[16];
	uint8_t bind_version;
	uint32_t bind_cmd;
	int refuse_binds;            /* the first N binds are refused (header-only, RINVPASWD) */
	uint32_t script[16];         /* status for the i-th submit_sm (0 beyond) */
	int nscript;
	int nack_first;              /* answer the first submit_sm with generic_nack RTHROTTLED */
	int delay_ms;                /* answer submit_sm after this long */
	int drop_at_submit;          /* close the connection on this submit_sm (1-based), once */
	int no_el_answer;            /* never answer enquire_link */
	int silent_at_submit;        /* never answer this submit_sm (1-based), once */
	int outstanding, max_outstanding;
	int nsubmit;
	struct smpp_sm subs[MAXREC];
	uint32_t next_id;
	struct got got[MAXREC];      /* everything else the ESME sent */
	int ngot;
	int nel;                     /* enquire_link received */
	int nunbind;
	int multi;                   /* keep earlier connections open (transmitter+receiver) */
	struct bufferevent *conns[4];/* multi: every open connection ... */
	uint32_t conn_bind[4];       /* ... and what it bound as */
	int nconns;
	int no_resp_body;            /* answer submit_sm OK without a message_id body */
	int resp_body_on_error;      /* error submit_sm_resp carry a 1-byte body (an empty id) */
	uint32_t last_submit_seq;    /* sequence number of the last submit_sm */
	struct bufferevent *last_submit_bev; /* the connection it came on */
};

struct delayed {
	struct fake *f;
	struct event *ev;
	int gen;
	uint32_t seq, status;
};

static void fake_send(struct fake *f, const uint8_t *b, int n)
{
	assert_true(n >= 16);
	if (f->bev)
		bufferevent_write(f->bev, b, (size_t)n);
}

static void fake_answer_submit(struct fake *f, uint32_t seq, uint32_t status)
{
	uint8_t b[128];
	char id[16];
	f->outstanding--;
	if (status == 0 && f->no_resp_body) {
		fake_send(f, b, smpp_build_header(b, sizeof b, SMPP_SUBMIT_SM_RESP, 0, seq));
	} else if (status == 0) {
		snprintf(id, sizeof id, "%X", f->next_id++);
		fake_send(f, b, smpp_build_sm_resp(b, sizeof b, SMPP_SUBMIT_SM_RESP, 0, seq, id));
	} else if (f->resp_body_on_error) {
		int n = smpp_build_header(b, sizeof b, SMPP_SUBMIT_SM_RESP, status, seq);
		b[3] = 17;
		b[16] = 0;
		fake_send(f, b, n + 1);
	} else {
		/* like real SMSCs: header only for an error */
		fake_send(f, b, smpp_build_header(b, sizeof b, SMPP_SUBMIT_SM_RESP, status, seq));
	}
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct delayed *d = arg;
	if (d->gen == d->f->conn_gen)
		fake_answer_submit(d->f, d->seq, d->status);
	event_free(d->ev);
	free(d);
}

static void fake_forget(struct fake *f, struct bufferevent *bev)
{
	for (int i = 0; i < f->nconns; i++)
		if (f->conns[i] == bev) {
			f->conns[i] = f->conns[f->nconns - 1];
			f->conn_bind[i] = f->conn_bind[f->nconns - 1];
			f->nconns--;
			break;
		}
}

static void fake_drop(struct fake *f)
{
	if (f->bev) {
		fake_forget(f, f->bev);
		bufferevent_free(f->bev);
		f->bev = NULL;
	}
	f->outstanding = 0;
	f->conn_gen++;
}

static void fake_pdu(struct fake *f, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	uint8_t b[256];
	switch (h->id) {
	case SMPP_BIND_TRANSCEIVER:
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_RECEIVER: {
		struct smpp_bind bd;
		memset(&bd, 0, sizeof bd);
		assert_int_equal(smpp_decode_bind(pdu, len, &bd), 0);
		f->nbind++;
		f->bind_cmd = h->id;
		for (int i = 0; i < f->nconns; i++)
			if (f->conns[i] == f->bev)
				f->conn_bind[i] = h->id;
		f->bind_version = bd.interface_version;
		snprintf(f->bind_system_id, sizeof f->bind_system_id, "%s", bd.system_id);
		if (f->nbind <= f->refuse_binds)
			fake_send(f, b, smpp_build_header(b, sizeof b, h->id | 0x80000000u,
			                                  SMPP_ESME_RINVPASWD, h->seq));
		else
			fake_send(f, b, smpp_build_bind_resp(b, sizeof b, h->id | 0x80000000u, 0, h->seq,
			                                     "fake"));
		break;
	}
	case SMPP_SUBMIT_SM: {
		assert_true(f->nsubmit < MAXREC);
		struct smpp_sm *sm = &f->subs[f->nsubmit];
		memset(sm, 0, sizeof *sm);
		assert_int_equal(smpp_decode_sm(pdu, len, sm), 0);
		sm->payload = NULL; /* points into the PDU */
		int i = f->nsubmit++;
		f->last_submit_seq = h->seq;
		f->last_submit_bev = f->bev;
		f->outstanding++;
		if (f->outstanding > f->max_outstanding)
			f->max_outstanding = f->outstanding;
		if (f->drop_at_submit == f->nsubmit) {
			f->drop_at_submit = 0;
			fake_drop(f);
			return;
		}
		if (f->silent_at_submit == f->nsubmit) {
			f->silent_at_submit = 0;
			return;
		}
		if (f->nack_first && i == 0) {
			f->outstanding--;
			fake_send(f, b, smpp_build_header(b, sizeof b, SMPP_GENERIC_NACK,
			                                  SMPP_ESME_RTHROTTLED, h->seq));
			return;
		}
		uint32_t st = i < f->nscript ? f->script[i] : 0;
		if (f->delay_ms > 0) {
			struct delayed *d = calloc(1, sizeof *d);
			assert_non_null(d);
			d->f = f;
			d->gen = f->conn_gen;
			d->seq = h->seq;
			d->status = st;
			d->ev = evtimer_new(f->base, delayed_cb, d);
			struct timeval tv = {0, f->delay_ms * 1000};
			evtimer_add(d->ev, &tv);
		} else {
			fake_answer_submit(f, h->seq, st);
		}
		break;
	}
	case SMPP_ENQUIRE_LINK:
		f->nel++;
		if (!f->no_el_answer)
			fake_send(f, b, smpp_build_header(b, sizeof b, SMPP_ENQUIRE_LINK_RESP, 0, h->seq));
		break;
	case SMPP_UNBIND:
		f->nunbind++;
		fake_send(f, b, smpp_build_header(b, sizeof b, SMPP_UNBIND_RESP, 0, h->seq));
		break;
	default:
		if (f->ngot < MAXREC) {
			struct got *g = &f->got[f->ngot++];
			*g = (struct got){.id = h->id, .status = h->status, .seq = h->seq, .len = len};
			memcpy(g->raw, pdu, len < sizeof g->raw ? len : sizeof g->raw);
		}
		break;
	}
}

static void fake_read_cb(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (f->multi)
		f->bev = bev; /* answer on the connection the request came on */
	while (f->bev == bev) {
		size_t avail = evbuffer_get_length(in);
		uint8_t *p = evbuffer_pullup(in, -1);
		struct smpp_hdr h;
		int r = smpp_frame(p, avail, &h);
		assert_true(r >= 0);
		if (r == 0)
			return;
		uint8_t pdu[SMPP_MAX_PDU + 1];
		memcpy(pdu, p, (size_t)r);
		pdu[r] = 0;
		evbuffer_drain(in, (size_t)r);
		fake_pdu(f, &h, pdu, (size_t)r);
	}
}

static void fake_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fake *f = arg;
	(void)what;
	if (f->bev == bev) {
		fake_drop(f);
	} else if (f->multi) {
		fake_forget(f, bev);
		bufferevent_free(bev);
	}
}

static void fake_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	struct fake *f = arg;
	if (!f->multi)
		fake_drop(f);
	f->nconn++;
	f->bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (f->nconns < 4) {
		f->conn_bind[f->nconns] = 0;
		f->conns[f->nconns++] = f->bev;
	}
	bufferevent_setcb(f->bev, fake_read_cb, NULL, fake_event_cb, f);
	bufferevent_enable(f->bev, EV_READ | EV_WRITE);
}

static void fake_start(struct fake *f, struct event_base *base)
{
	memset(f, 0, sizeof *f);
	f->base = base;
	f->next_id = 0x1A;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	f->lis = evconnlistener_new_bind(base, fake_accept_cb, f,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	                                 (struct sockaddr *)&sin, sizeof sin);
	assert_non_null(f->lis);
	socklen_t sl = sizeof sin;
	assert_int_equal(getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&sin, &sl), 0);
	f->port = ntohs(sin.sin_port);
}

static void fake_stop(struct fake *f)
{
	fake_drop(f);
	while (f->nconns > 0) {
		f->bev = f->conns[0];
		fake_drop(f);
	}
	evconnlistener_free(f->lis);
}

/* Send one request from the fake to the ESME. */
static void fake_deliver(struct fake *f, uint32_t seq, const struct smpp_sm *sm)
{
	uint8_t b[SMPP_MAX_PDU];
	int n = smpp_build_sm(b, sizeof b, SMPP_DELIVER_SM, seq, sm);
	assert_true(n > 0);
	fake_send(f, b, n);
}

/* ---- the ESME side ----------------------------------------------------- */

struct rec {
	int pause_at_mo; /* on_mo pauses reading at this MO (0 = never) */
	int nsent;
	uint64_t sent_tag[MAXREC];
	uint32_t sent_status[MAXREC];
	char sent_id[MAXREC][66];
	int nmo;
	uint64_t mo_token[MAXREC];
	char mo_from[MAXREC][24];
	char mo_text[MAXREC][512];
	int mo_answer_now;           /* answer from inside on_mo */
	int nparts;                  /* on_mo_part calls */
	uint32_t part_ref[MAXREC];
	int part_total[MAXREC], part_seq[MAXREC];
	char part_bytes[MAXREC][64];
	int nrcpt;
	int rcpt_nsent[MAXREC];      /* on_sent calls made when the receipt came */
	char rcpt_id[MAXREC][66];
	enum esme_dlr rcpt_state[MAXREC];
	int nready, nup, ndown;
	int ndone;
	int shutdown_on_down;        /* call esme_shutdown from on_state(0) */
	struct esme **owner;         /* freed by on_done_free */
	/* window test: submit this many messages, as capacity allows */
	int to_submit, submitted;
	struct esme *e;
};

struct ctx {
	struct event_base *base;
	struct fake f;
	struct config_smsc cfg;
	struct esme_cbs cbs;
	struct rec r;
	struct esme *e;
};

static void on_mo(void *arg, struct esme *e, uint64_t token, const char *from, const char *text,
                  const struct smpp_sm *sm)
{
	(void)sm;
	struct rec *r = arg;
	assert_true(r->nmo < MAXREC);
	r->mo_token[r->nmo] = token;
	snprintf(r->mo_from[r->nmo], sizeof r->mo_from[0], "%s", from);
	snprintf(r->mo_text[r->nmo], sizeof r->mo_text[0], "%s", text);
	r->nmo++;
	if (r->mo_answer_now)
		esme_answer(e, token, 0);
	if (r->pause_at_mo && r->nmo == r->pause_at_mo)
		esme_pause_reading(e, 1); /* as the gateway's backpressure does */
}

static void on_mo_part(void *arg, struct esme *e, uint64_t token, const struct smpp_sm *sm, uint32_t ref,
                       int total, int seq, const uint8_t *bytes, size_t n)
{
	(void)sm;
	struct rec *r = arg;
	assert_true(r->nparts < MAXREC && n < sizeof r->part_bytes[0]);
	r->part_ref[r->nparts] = ref;
	r->part_total[r->nparts] = total;
	r->part_seq[r->nparts] = seq;
	memcpy(r->part_bytes[r->nparts], bytes, n);
	r->part_bytes[r->nparts][n] = '\0';
	r->nparts++;
	esme_answer(e, token, seq == 2 ? SMPP_ESME_RX_T_APPN : 0);
}

static uint32_t on_receipt(void *arg, struct esme *e, const char *msgid, enum esme_dlr state)
{
	(void)e;
	struct rec *r = arg;
	assert_true(r->nrcpt < MAXREC);
	r->rcpt_nsent[r->nrcpt] = r->nsent;
	snprintf(r->rcpt_id[r->nrcpt], sizeof r->rcpt_id[0], "%s", msgid);
	r->rcpt_state[r->nrcpt++] = state;
	return 0;
}

static void submit_more(struct rec *r, struct esme *e);

static void on_sent(void *arg, struct esme *e, uint64_t tag, uint32_t status, const char *msgid)
{
	struct rec *r = arg;
	assert_true(r->nsent < MAXREC);
	assert_non_null(msgid);
	r->sent_tag[r->nsent] = tag;
	r->sent_status[r->nsent] = status;
	snprintf(r->sent_id[r->nsent], sizeof r->sent_id[0], "%s", msgid);
	r->nsent++;
	submit_more(r, e);
}

static void on_ready(void *arg, struct esme *e)
{
	struct rec *r = arg;
	r->nready++;
	submit_more(r, e);
}

static void on_done(void *arg)
{
	struct rec *r = arg;
	r->ndone++;
}

static void on_done_free(void *arg)
{
	struct rec *r = arg;
	esme_free(*r->owner);
	*r->owner = NULL;
	r->ndone++;
}

static void on_state(void *arg, struct esme *e, int bound)
{
	struct rec *r = arg;
	if (bound)
		r->nup++;
	else
		r->ndown++;
	if (!bound && r->shutdown_on_down) {
		esme_shutdown(e, 100, on_done_free, r);
		assert_int_equal(r->ndone, 0); /* deferred: the esme is still in use */
	}
}

static void submit_more(struct rec *r, struct esme *e)
{
	while (r->submitted < r->to_submit && esme_capacity(e) > 0) {
		struct esme_msg m = {.tag = (uint64_t)(100 + r->submitted), .dst = "84912345678",
		                     .text = "window", .enc = TEXT_ENC_AUTO, .ussd_op = -1};
		assert_int_equal(esme_submit(e, &m), 0);
		r->submitted++;
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until *v >= want or ms pass. Returns 1 if reached. */
static int wait_int(struct event_base *b, const int *v, int want, int ms)
{
	struct event *tick = event_new(b, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 10000};
	event_add(tick, &tv);
	int64_t end = mono_ms() + ms;
	while (*v < want && mono_ms() < end)
		event_base_loop(b, EVLOOP_ONCE);
	event_free(tick);
	return *v >= want;
}

/* Run the loop for ms. */
static void spin(struct event_base *b, int ms)
{
	int never = 0;
	wait_int(b, &never, 1, ms);
}

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof *c);
	c->base = event_base_new();
	assert_non_null(c->base);
	fake_start(&c->f, c->base);
	c->cfg = (struct config_smsc){
	    .name = "t",
	    .host = "127.0.0.1",
	    .port = c->f.port,
	    .system_id = "hailong",
	    .password = "secret",
	    .system_type = "",
	    .bind_trx = 1,
	    .source_addr = "8088",
	    .source_ton = -1,
	    .source_npi = -1,
	    .window = 10,
	    .tps = 100,
	    .enquire_link_s = 30,
	    .response_timeout_s = 2,
	};
	c->cbs = (struct esme_cbs){.on_mo = on_mo, .on_receipt = on_receipt, .on_sent = on_sent,
	                           .on_ready = on_ready, .on_state = on_state};
}

static void ctx_start(struct ctx *c)
{
	c->e = esme_new(c->base, &c->cfg, &c->cbs, &c->r);
	assert_non_null(c->e);
	c->r.e = c->e;
	assert_true(wait_int(c->base, &c->r.nup, 1, 3000));
	assert_true(esme_bound(c->e));
}

static void ctx_fini(struct ctx *c)
{
	esme_free(c->e);
	fake_stop(&c->f);
	spin(c->base, 20); /* let the delayed answers run out */
	event_base_free(c->base);
}

static int submit_text(struct ctx *c, uint64_t tag, const char *text)
{
	struct esme_msg m = {.tag = tag, .dst = "84912345678", .text = text, .enc = TEXT_ENC_AUTO,
	                     .ussd_op = -1};
	return esme_submit(c->e, &m);
}

/* ---- scenarios ----------------------------------------------------------- */

static void test_bind_ok(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	assert_int_equal(c.f.nbind, 1);
	assert_int_equal(c.f.bind_cmd, SMPP_BIND_TRANSCEIVER);
	assert_int_equal(c.f.bind_version, 0x34);
	assert_string_equal(c.f.bind_system_id, "hailong");
	assert_true(esme_capacity(c.e) > 0);
	assert_string_equal(esme_name(c.e), "t");
	ctx_fini(&c);
}

static void test_bind_refused_then_retried(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.refuse_binds = 1;
	int64_t t0 = mono_ms();
	c.e = esme_new(c.base, &c.cfg, &c.cbs, &c.r);
	assert_true(wait_int(c.base, &c.f.nbind, 1, 2000));
	spin(c.base, 50);
	assert_false(esme_bound(c.e));
	assert_int_equal(esme_capacity(c.e), 0);
	assert_int_equal(submit_text(&c, 1, "x"), -EAGAIN);
	assert_true(wait_int(c.base, &c.r.nup, 1, 3000));
	assert_int_equal(c.f.nbind, 2);
	assert_int_equal(c.f.nconn, 2);
	/* backoff of at least 1 s, counted by libevent from its cached time of
	 * the loop pass (up to a few ms before t0 on a loaded machine) */
	assert_true(mono_ms() - t0 >= 950);
	ctx_fini(&c);
}

static void test_connect_refused_then_retried(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	/* nobody listens: take the port away, then bring a listener back */
	int port = c.f.port;
	evconnlistener_free(c.f.lis);
	c.f.lis = NULL;
	c.e = esme_new(c.base, &c.cfg, &c.cbs, &c.r);
	spin(c.base, 300);
	assert_false(esme_bound(c.e));
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	c.f.lis = evconnlistener_new_bind(c.base, fake_accept_cb, &c.f,
	                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	                                  (struct sockaddr *)&sin, sizeof sin);
	assert_non_null(c.f.lis);
	assert_true(wait_int(c.base, &c.r.nup, 1, 3000));
	ctx_fini(&c);
}

static void test_submit_single(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 7, "Hello"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	spin(c.base, 50);
	assert_int_equal(c.r.nsent, 1);
	assert_int_equal(c.r.sent_tag[0], 7);
	assert_int_equal(c.r.sent_status[0], 0);
	assert_string_equal(c.r.sent_id[0], "1A");
	assert_int_equal(c.f.nsubmit, 1);
	struct smpp_sm *sm = &c.f.subs[0];
	assert_int_equal(sm->esm_class, 0);
	assert_int_equal(sm->registered_delivery, 1);
	assert_int_equal(sm->data_coding, 0);
	assert_string_equal(sm->src_addr, "8088");
	assert_int_equal(sm->src_ton, 3); /* short code: all digits, <= 8 */
	assert_int_equal(sm->src_npi, 0);
	assert_string_equal(sm->dst_addr, "84912345678");
	assert_int_equal(sm->dst_ton, 1);
	assert_int_equal(sm->dst_npi, 1);
	assert_int_equal(sm->sm_length, 5);
	assert_memory_equal(sm->short_message, "Hello", 5);
	assert_false(sm->has_ussd_op);
	ctx_fini(&c);
}

static void test_submit_ussd_alnum_source(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.source_addr = "DVCQG";
	ctx_start(&c);
	struct esme_msg m = {.tag = 1, .dst = "84912345678", .text = "1. Co 2. Khong",
	                     .enc = TEXT_ENC_AUTO, .ussd_op = 2, .service_type = "USSD",
	                     .has_sess = 1, .sess = {0x12, 0x34}, .has_umr = 1, .umr = 0x0203};
	assert_int_equal(esme_submit(c.e, &m), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	assert_int_equal(c.f.subs[0].src_ton, 5);
	assert_int_equal(c.f.subs[0].src_npi, 0);
	assert_true(c.f.subs[0].has_ussd_op);
	assert_int_equal(c.f.subs[0].ussd_op, 2);
	/* the session is echoed, the screen has its service_type and no receipt */
	assert_string_equal(c.f.subs[0].service_type, "USSD");
	assert_true(c.f.subs[0].has_its_session);
	assert_int_equal(c.f.subs[0].its_session[0], 0x12);
	assert_int_equal(c.f.subs[0].its_session[1], 0x34);
	assert_true(c.f.subs[0].has_umr);
	assert_int_equal(c.f.subs[0].umr, 0x0203);
	assert_int_equal(c.f.subs[0].registered_delivery, 0);
	assert_int_equal(c.f.subs[0].esm_class, 0);
	/* a full screen of 182 GSM characters is one submit_sm, no UDH */
	char full[183];
	memset(full, 'b', sizeof full - 1);
	full[sizeof full - 1] = '\0';
	struct esme_msg f = {.tag = 3, .dst = "84912345678", .text = full, .enc = TEXT_ENC_AUTO,
	                     .ussd_op = 2, .service_type = "USSD"};
	assert_int_equal(esme_submit(c.e, &f), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 2, 2000));
	assert_int_equal(c.f.subs[1].sm_length, 182);
	assert_int_equal(c.f.subs[1].esm_class, 0);
	assert_false(c.f.subs[1].has_sar);
	/* a screen longer than one submit_sm is refused, never concatenated */
	char longt[184];
	memset(longt, 'a', sizeof longt - 1);
	longt[sizeof longt - 1] = '\0';
	struct esme_msg l = {.tag = 2, .dst = "84912345678", .text = longt, .enc = TEXT_ENC_AUTO,
	                     .ussd_op = 17};
	assert_int_equal(esme_submit(c.e, &l), -EMSGSIZE);
	ctx_fini(&c);
}

static void test_submit_three_parts_ucs2(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	char text[150 * 3 + 1];
	for (int i = 0; i < 150; i++)
		memcpy(text + i * 3, "\xe1\xba\xbf", 3); /* U+1EBF, not GSM: UCS-2 */
	text[450] = '\0';
	assert_int_equal(submit_text(&c, 42, text), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	spin(c.base, 50);
	assert_int_equal(c.r.nsent, 1); /* once per message */
	assert_int_equal(c.r.sent_status[0], 0);
	assert_string_equal(c.r.sent_id[0], "1A"); /* the first part's id */
	assert_int_equal(c.f.nsubmit, 3);
	uint8_t ref = c.f.subs[0].short_message[3];
	size_t want_len[3] = {134, 134, 32};
	for (int i = 0; i < 3; i++) {
		struct smpp_sm *sm = &c.f.subs[i];
		assert_int_equal(sm->esm_class, 0x40);
		assert_int_equal(sm->data_coding, 8);
		uint8_t udh[6] = {0x05, 0x00, 0x03, ref, 3, (uint8_t)(i + 1)};
		assert_memory_equal(sm->short_message, udh, 6);
		assert_int_equal(sm->sm_length, 6 + want_len[i]);
		assert_int_equal(sm->short_message[6], 0x1E);
		assert_int_equal(sm->short_message[7], 0xBF);
	}
	/* the next long message takes the next reference */
	assert_int_equal(submit_text(&c, 43, text), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 2, 2000));
	assert_int_equal(c.f.subs[3].short_message[3], (uint8_t)(ref + 1));
	ctx_fini(&c);
}

static void test_submit_bad_text(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	struct esme_msg m = {.tag = 1, .dst = "84912345678", .text = "\xe1\xba", .enc = TEXT_ENC_AUTO,
	                     .ussd_op = -1};
	assert_int_equal(esme_submit(c.e, &m), -EILSEQ);
	spin(c.base, 50);
	assert_int_equal(c.f.nsubmit, 0);
	ctx_fini(&c);
}

static void test_throttled_then_accepted(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.script[0] = SMPP_ESME_RTHROTTLED;
	c.f.nscript = 1;
	ctx_start(&c);
	esme_set_retry(c.e, 5, 200);
	int64_t t0 = mono_ms();
	assert_int_equal(submit_text(&c, 9, "retry me"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 3000));
	assert_true(mono_ms() - t0 >= 200);
	spin(c.base, 50);
	assert_int_equal(c.r.nsent, 1);
	assert_int_equal(c.r.sent_status[0], 0);
	assert_int_equal(c.f.nsubmit, 2);
	assert_string_equal(c.r.sent_id[0], "1A");
	ctx_fini(&c);
}

static void test_temporary_retries_run_out(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	for (int i = 0; i < 3; i++)
		c.f.script[i] = SMPP_ESME_RMSGQFUL;
	c.f.nscript = 3;
	ctx_start(&c);
	esme_set_retry(c.e, 3, 50);
	assert_int_equal(submit_text(&c, 5, "full"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 3000));
	spin(c.base, 100);
	assert_int_equal(c.r.nsent, 1);
	assert_int_equal(c.r.sent_status[0], SMPP_ESME_RMSGQFUL);
	assert_int_equal(c.f.nsubmit, 3);
	ctx_fini(&c);
}

static void test_permanent_error(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.script[0] = SMPP_ESME_RINVDSTADR;
	c.f.nscript = 1;
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 3, "nope"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	spin(c.base, 300);
	assert_int_equal(c.r.nsent, 1);
	assert_int_equal(c.r.sent_status[0], SMPP_ESME_RINVDSTADR);
	assert_string_equal(c.r.sent_id[0], "");
	assert_int_equal(c.f.nsubmit, 1);
	ctx_fini(&c);
}

static void test_generic_nack_throttled(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.nack_first = 1;
	ctx_start(&c);
	esme_set_retry(c.e, 5, 100);
	assert_int_equal(submit_text(&c, 11, "nacked"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 3000));
	spin(c.base, 50);
	assert_int_equal(c.r.nsent, 1);
	assert_int_equal(c.r.sent_status[0], 0);
	assert_int_equal(c.f.nsubmit, 2);
	assert_true(esme_bound(c.e)); /* a nack for a submit does not drop the bind */
	ctx_fini(&c);
}

static void test_response_timeout_retried(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.response_timeout_s = 1;
	c.f.silent_at_submit = 1;
	ctx_start(&c);
	esme_set_retry(c.e, 5, 100);
	int64_t t0 = mono_ms();
	assert_int_equal(submit_text(&c, 31, "slow"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 3000));
	assert_true(mono_ms() - t0 >= 1000);
	assert_int_equal(c.r.sent_status[0], 0);
	assert_int_equal(c.f.nsubmit, 2);
	assert_true(esme_bound(c.e));
	ctx_fini(&c);
}

/* Messages that may wait (may_wait) fill the window and then a queue of
 * ESME_QUEUE_MIN parts (the window being smaller), and no more; the wire
 * never carries more than the window, and they leave in order. */
static void test_queue_behind_window(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.window = 3;
	c.f.delay_ms = 5;
	ctx_start(&c);
	assert_int_equal(esme_room(c.e), 3 + ESME_QUEUE_MIN);
	int n = 0;
	for (;; n++) {
		struct esme_msg m = {.tag = (uint64_t)n + 1, .dst = "84912345678", .text = "q", .enc = TEXT_ENC_AUTO,
		                     .ussd_op = -1, .may_wait = 1};
		int rc = esme_submit(c.e, &m);
		if (rc == -EAGAIN)
			break;
		assert_int_equal(rc, 0);
	}
	assert_int_equal(n, 3 + ESME_QUEUE_MIN);
	assert_int_equal(esme_room(c.e), 0);
	assert_int_equal(esme_capacity(c.e), 0);
	assert_true(wait_int(c.base, &c.r.nsent, n, 8000));
	assert_true(c.f.max_outstanding <= 3);
	for (int i = 0; i < n; i++) {
		assert_int_equal(c.r.sent_tag[i], (uint64_t)i + 1);
		assert_int_equal(c.r.sent_status[i], 0);
	}
	assert_int_equal(esme_room(c.e), 3 + ESME_QUEUE_MIN);
	ctx_fini(&c);
}

/* Under a TPS limit the queue holds a second's tokens (at least a window),
 * not ESME_QUEUE_MIN parts: what TAKE moves there counts as gone. */
static void test_queue_tps_bound(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.window = 3;
	c.cfg.tps = 10;
	ctx_start(&c);
	assert_int_equal(esme_room(c.e), 3 + 10);
	ctx_fini(&c);
	ctx_init(&c);
	c.cfg.window = 8;
	c.cfg.tps = 2;
	ctx_start(&c);
	assert_int_equal(esme_room(c.e), 8 + 8);
	ctx_fini(&c);
	ctx_init(&c);
	c.cfg.window = 3;
	c.cfg.tps = 500;
	ctx_start(&c);
	assert_int_equal(esme_room(c.e), 3 + ESME_QUEUE_MIN);
	ctx_fini(&c);
}

/* An SMSC that answers slowly gets a queue of about a second of its pace
 * (window * 1000 / the mean response time), at least a window. */
static void test_queue_pace_bound(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.window = 2;
	c.f.delay_ms = 200;
	ctx_start(&c);
	assert_int_equal(esme_room(c.e), 2 + ESME_QUEUE_MIN); /* nothing answered yet */
	c.r.to_submit = 2;
	submit_more(&c.r, c.e);
	assert_true(wait_int(c.base, &c.r.nsent, 2, 3000));
	/* answered in ~200 ms: 2 * 1000 / 200 = 10 a second */
	int room = esme_room(c.e);
	if (room < 2 + 7 || room > 2 + 10)
		fail_msg("room %d after responses 200 ms late, want about 12", room);
	ctx_fini(&c);
}

static void test_window_respected(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.window = 3;
	c.f.delay_ms = 150;
	ctx_start(&c);
	assert_int_equal(esme_capacity(c.e), 3);
	c.r.to_submit = 9;
	submit_more(&c.r, c.e);
	assert_int_equal(c.r.submitted, 3);
	assert_int_equal(esme_capacity(c.e), 0);
	assert_int_equal(submit_text(&c, 1, "over"), -EAGAIN);
	assert_true(wait_int(c.base, &c.r.nsent, 9, 4000));
	assert_int_equal(c.f.nsubmit, 9);
	assert_true(c.f.max_outstanding <= 3);
	assert_int_equal(c.f.max_outstanding, 3);
	assert_true(c.r.nready > 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(c.r.sent_status[i], 0);
	ctx_fini(&c);
}

static void test_tps_limit(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.tps = 5;
	c.cfg.window = 50;
	ctx_start(&c);
	int64_t t0 = mono_ms();
	c.r.to_submit = 10;
	submit_more(&c.r, c.e);
	assert_true(c.r.submitted <= 5);
	assert_true(wait_int(c.base, &c.r.nsent, 10, 4000));
	/* 5 at once, then 5 more at 5/s: about a second */
	assert_true(mono_ms() - t0 >= 700);
	ctx_fini(&c);
}

static struct smpp_sm mo_part(const char *from, int dc, const uint8_t *ud, size_t n, int udhi)
{
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	sm.cmd = SMPP_DELIVER_SM;
	sm.src_ton = 1;
	sm.src_npi = 1;
	snprintf(sm.src_addr, sizeof sm.src_addr, "%s", from);
	snprintf(sm.dst_addr, sizeof sm.dst_addr, "8088");
	sm.esm_class = udhi ? 0x40 : 0;
	sm.data_coding = (uint8_t)dc;
	memcpy(sm.short_message, ud, n);
	sm.sm_length = n;
	return sm;
}

static int count_got(const struct fake *f, uint32_t id, uint32_t seq, uint32_t *status)
{
	int n = 0;
	for (int i = 0; i < f->ngot; i++)
		if (f->got[i].id == id && f->got[i].seq == seq) {
			n++;
			if (status)
				*status = f->got[i].status;
		}
	return n;
}

static void test_mo_three_parts(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	const char *texts[3] = {"Toi rat ", "hai long ", "voi dich vu"};
	int order[3] = {2, 0, 1}; /* out of order on purpose */
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		uint8_t ud[64] = {0x05, 0x00, 0x03, 0x77, 3, (uint8_t)(i + 1)};
		size_t n = strlen(texts[i]);
		memcpy(ud + 6, texts[i], n);
		struct smpp_sm sm = mo_part("84987654321", 0, ud, 6 + n, 1);
		fake_deliver(&c.f, (uint32_t)(500 + k), &sm);
	}
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	spin(c.base, 100);
	assert_int_equal(c.r.nmo, 1);
	assert_string_equal(c.r.mo_text[0], "Toi rat hai long voi dich vu");
	assert_string_equal(c.r.mo_from[0], "84987654321");
	/* first two answered at once, the last one not yet */
	uint32_t st = 99;
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 500, &st), 1);
	assert_int_equal(st, 0);
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 501, NULL), 1);
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 502, NULL), 0);
	esme_answer(c.e, c.r.mo_token[0], 0);
	int want = 3;
	assert_true(wait_int(c.base, &c.f.ngot, want, 1000));
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 502, &st), 1);
	assert_int_equal(st, 0);
	ctx_fini(&c);
}

/* With on_mo_part, the parts are handed one by one (the gateway keeps them in
 * Redis) and each is answered with the status the callee gives. */
static void test_mo_parts_handed(void **state)
{
	(void)state;
	for (int trx = 1; trx >= 0; trx--) {
		struct ctx c;
		ctx_init(&c);
		c.cfg.bind_trx = trx;
		c.cbs.on_mo_part = on_mo_part;
		ctx_start(&c);
		uint8_t ud[16] = {0x05, 0x00, 0x03, 0x42, 3, 2, 'b', 'c'};
		struct smpp_sm sm = mo_part("84987654321", 0, ud, 8, 1);
		fake_deliver(&c.f, 800, &sm);
		struct smpp_sm sar = mo_part("84987654321", 0, (const uint8_t *)"xyz", 3, 0);
		sar.has_sar = 1;
		sar.sar_ref = 0x0102;
		sar.sar_total = 2;
		sar.sar_seq = 1;
		fake_deliver(&c.f, 801, &sar);
		assert_true(wait_int(c.base, &c.r.nparts, 2, 2000));
		spin(c.base, 50);
		assert_int_equal(c.r.nmo, 0);
		assert_int_equal(c.r.part_ref[0], 0x42);
		assert_int_equal(c.r.part_total[0], 3);
		assert_int_equal(c.r.part_seq[0], 2);
		assert_string_equal(c.r.part_bytes[0], "bc"); /* the UDH is not part of the text */
		assert_int_equal(c.r.part_ref[1], 0x10102);   /* sar references: bit 16 */
		assert_int_equal(c.r.part_seq[1], 1);
		assert_string_equal(c.r.part_bytes[1], "xyz");
		uint32_t st = 0;
		assert_true(wait_int(c.base, &c.f.ngot, 2, 1000));
		assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 800, &st), 1);
		assert_int_equal(st, SMPP_ESME_RX_T_APPN);
		assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 801, &st), 1);
		assert_int_equal(st, 0);
		ctx_fini(&c);
	}
}

static void test_mo_sar_ucs2_and_retry_later(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	/* "Rất" "hài" in UCS-2 split by sar_* TLVs */
	const uint8_t p1[] = {0x00, 'R', 0x1E, 0xA5, 0x00, 't', 0x00, ' '};
	const uint8_t p2[] = {0x00, 'h', 0x00, 0xE0, 0x00, 'i'};
	struct smpp_sm a = mo_part("84911111222", 8, p1, sizeof p1, 0);
	a.has_sar = 1;
	a.sar_ref = 0x1234;
	a.sar_total = 2;
	a.sar_seq = 1;
	struct smpp_sm b = mo_part("84911111222", 8, p2, sizeof p2, 0);
	b.has_sar = 1;
	b.sar_ref = 0x1234;
	b.sar_total = 2;
	b.sar_seq = 2;
	fake_deliver(&c.f, 600, &a);
	fake_deliver(&c.f, 601, &b);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], "R\xe1\xba\xa5t h\xc3\xa0i");
	/* the service cannot take it now: the SMSC delivers the last part again */
	esme_answer(c.e, c.r.mo_token[0], SMPP_ESME_RX_T_APPN);
	assert_true(wait_int(c.base, &c.f.ngot, 2, 1000));
	uint32_t st = 0;
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 601, &st), 1);
	assert_int_equal(st, SMPP_ESME_RX_T_APPN);
	fake_deliver(&c.f, 602, &b);
	assert_true(wait_int(c.base, &c.r.nmo, 2, 2000));
	assert_string_equal(c.r.mo_text[1], "R\xe1\xba\xa5t h\xc3\xa0i");
	esme_answer(c.e, c.r.mo_token[1], 0);
	assert_true(wait_int(c.base, &c.f.ngot, 3, 1000));
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 602, &st), 1);
	assert_int_equal(st, 0);
	ctx_fini(&c);
}

static void test_mo_single_answered_in_callback(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	c.r.mo_answer_now = 1;
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)"5", 1, 0);
	fake_deliver(&c.f, 700, &sm);
	assert_true(wait_int(c.base, &c.f.ngot, 1, 2000));
	assert_int_equal(c.r.nmo, 1);
	assert_string_equal(c.r.mo_text[0], "5");
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 700, NULL), 1);
	ctx_fini(&c);
}

static void test_mo_16bit_ref(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	c.r.mo_answer_now = 1;
	const char *texts[2] = {"ab", "cd"};
	for (int i = 0; i < 2; i++) {
		uint8_t ud[16] = {0x06, 0x08, 0x04, 0x12, 0x34, 2, (uint8_t)(i + 1)};
		memcpy(ud + 7, texts[i], 2);
		struct smpp_sm sm = mo_part("84911222333", 0, ud, 9, 1);
		fake_deliver(&c.f, (uint32_t)(550 + i), &sm);
	}
	/* another sender with the same reference is another set */
	uint8_t ud[16] = {0x06, 0x08, 0x04, 0x12, 0x34, 2, 1, 'x'};
	struct smpp_sm other = mo_part("84911222444", 0, ud, 8, 1);
	fake_deliver(&c.f, 552, &other);
	assert_true(wait_int(c.base, &c.f.ngot, 3, 2000));
	assert_int_equal(c.r.nmo, 1);
	assert_string_equal(c.r.mo_text[0], "abcd");
	ctx_fini(&c);
}

/* data_sm by hand: no builder for it; text in message_payload. */
static void test_mo_data_sm_payload(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	uint8_t b[128];
	size_t n = 16;
	b[n++] = 0;                                   /* service_type "" */
	b[n++] = 1; b[n++] = 1;
	memcpy(b + n, "84912000111", 12); n += 12;    /* source_addr */
	b[n++] = 0; b[n++] = 0;
	memcpy(b + n, "8088", 5); n += 5;             /* destination_addr */
	b[n++] = 0; b[n++] = 0; b[n++] = 0;           /* esm_class, registered_delivery, data_coding */
	b[n++] = 0x04; b[n++] = 0x24; b[n++] = 0; b[n++] = 4; /* message_payload */
	memcpy(b + n, "Co 1", 4); n += 4;
	uint8_t hdr[16];
	smpp_build_header(hdr, sizeof hdr, SMPP_DATA_SM, 0, 580);
	memcpy(b, hdr, 16);
	b[0] = 0; b[1] = 0; b[2] = 0; b[3] = (uint8_t)n;
	fake_send(&c.f, b, (int)n);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], "Co 1");
	assert_string_equal(c.r.mo_from[0], "84912000111");
	esme_answer(c.e, c.r.mo_token[0], 0);
	assert_true(wait_int(c.base, &c.f.ngot, 1, 1000));
	uint32_t st = 1;
	assert_int_equal(count_got(&c.f, SMPP_DATA_SM_RESP, 580, &st), 1);
	assert_int_equal(st, 0);
	ctx_fini(&c);
}

static void test_receipt_text(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	const char *r1 = "id:1A sub:001 dlvrd:001 submit date:2401011200 done date:240101120030 "
	                 "stat:DELIVRD err:000 text:hello stat:REJECTD";
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)r1, strlen(r1), 0);
	sm.esm_class = 0x04;
	fake_deliver(&c.f, 800, &sm);
	/* no receipt bit: recognised by its text; Text: and no seconds */
	const char *r2 = "id:0026 sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 "
	                 "stat:UNDELIV err:001 Text:xin chao";
	sm = mo_part("84912345678", 0, (const uint8_t *)r2, strlen(r2), 0);
	fake_deliver(&c.f, 801, &sm);
	assert_true(wait_int(c.base, &c.r.nrcpt, 2, 2000));
	assert_string_equal(c.r.rcpt_id[0], "1A");
	assert_int_equal(c.r.rcpt_state[0], ESME_DLR_DELIVERED);
	assert_string_equal(c.r.rcpt_id[1], "0026");
	assert_int_equal(c.r.rcpt_state[1], ESME_DLR_UNDELIVERABLE);
	assert_true(esme_msgid_eq(c.r.rcpt_id[1], "1A"));
	assert_true(wait_int(c.base, &c.f.ngot, 2, 1000));
	uint32_t st = 1;
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 800, &st), 1);
	assert_int_equal(st, 0);
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 801, &st), 1);
	assert_int_equal(st, 0);
	assert_int_equal(c.r.nmo, 0);
	ctx_fini(&c);
}

/* Receipts with UDHI in esm_class (0x44, some SMSCs): the text after a UDH,
 * or, when the flag is set with no UDH, the whole short message. */
static void test_receipt_udhi(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	const char *r1 = "id:77 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
	                 "stat:DELIVRD err:000 text:";
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)r1, strlen(r1), 0);
	sm.esm_class = 0x44; /* no UDH at all */
	fake_deliver(&c.f, 810, &sm);
	uint8_t ud[200] = {5, 0, 3, 0x11, 1, 1};
	const char *r2 = "id:78 sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 "
	                 "stat:EXPIRED err:000 text:";
	memcpy(ud + 6, r2, strlen(r2));
	sm = mo_part("84912345678", 0, ud, 6 + strlen(r2), 0);
	sm.esm_class = 0x44; /* a UDH before the text */
	fake_deliver(&c.f, 811, &sm);
	assert_true(wait_int(c.base, &c.r.nrcpt, 2, 2000));
	assert_string_equal(c.r.rcpt_id[0], "77");
	assert_int_equal(c.r.rcpt_state[0], ESME_DLR_DELIVERED);
	assert_string_equal(c.r.rcpt_id[1], "78");
	assert_int_equal(c.r.rcpt_state[1], ESME_DLR_EXPIRED);
	assert_int_equal(c.r.nmo, 0);
	ctx_fini(&c);
}

/* A fast SMSC reports a message delivered before it answered its submit_sm
 * (or the last of its parts): the receipt is held, unanswered, until on_sent
 * gave the gateway the message id; then it comes with that id. */
static void test_receipt_before_response(void **state)
{
	(void)state;
	for (int trx = 1; trx >= 0; trx--) {
		struct ctx c;
		ctx_init(&c);
		c.cfg.bind_trx = trx;
		c.f.delay_ms = 300;
		c.f.multi = !trx;
		ctx_start(&c);
		assert_int_equal(submit_text(&c, 31, "early receipt"), 0);
		assert_true(wait_int(c.base, &c.f.nsubmit, 1, 1000));
		/* the fake numbers its ids from 0x1A: the receipt names "1A" in decimal */
		struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)"x", 1, 0);
		sm.esm_class = 0x04;
		sm.has_receipted_id = 1;
		snprintf(sm.receipted_id, sizeof sm.receipted_id, "26");
		sm.has_message_state = 1;
		sm.message_state = 2;
		sm.short_message[0] = 0;
		sm.sm_length = 0;
		fake_deliver(&c.f, 900, &sm);
		spin(c.base, 100);
		assert_int_equal(c.r.nrcpt, 0); /* held */
		assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 900, NULL), 0);
		assert_true(wait_int(c.base, &c.r.nrcpt, 1, 2000));
		assert_int_equal(c.r.rcpt_nsent[0], 1); /* after on_sent */
		assert_string_equal(c.r.sent_id[0], "1A");
		assert_string_equal(c.r.rcpt_id[0], "1A"); /* the id on_sent gave */
		assert_int_equal(c.r.rcpt_state[0], ESME_DLR_DELIVERED);
		uint32_t st = 1;
		assert_true(wait_int(c.base, &c.f.ngot, 1, 1000));
		assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 900, &st), 1);
		assert_int_equal(st, 0);
		/* with no message in submission, an unknown id is not held */
		snprintf(sm.receipted_id, sizeof sm.receipted_id, "FFFF");
		fake_deliver(&c.f, 901, &sm);
		assert_true(wait_int(c.base, &c.r.nrcpt, 2, 1000));
		assert_string_equal(c.r.rcpt_id[1], "FFFF");
		ctx_fini(&c);
	}
}

/* A receipt in TLV form (receipted_message_id "id", message_state DELIVERED). */
static struct smpp_sm receipt_sm(const char *id)
{
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)"x", 1, 0);
	sm.esm_class = 0x04;
	sm.has_receipted_id = 1;
	snprintf(sm.receipted_id, sizeof sm.receipted_id, "%s", id);
	sm.has_message_state = 1;
	sm.message_state = 2;
	sm.short_message[0] = 0;
	sm.sm_length = 0;
	return sm;
}

/* The receipt before the response, then the response, then the SMSC unbinds,
 * all in one burst (as when an SMSC shuts down): the held receipt's message
 * is reported just before its link goes, and the receipt must still reach
 * the gateway with the message's id (unanswered: the SMSC sends it again,
 * the gateway records a message once). With transmitter+receiver, the
 * receiver link goes with the receipt held and the response comes later on
 * the transmitter. Before, the held receipt was dropped with its link and
 * the message never got its delivery record. */
static void test_receipt_before_response_then_unbind(void **state)
{
	(void)state;
	for (int trx = 1; trx >= 0; trx--) {
		struct ctx c;
		ctx_init(&c);
		c.cfg.bind_trx = trx;
		c.f.multi = !trx;
		c.f.silent_at_submit = 1; /* answered by hand below */
		ctx_start(&c);
		if (!trx) {
			assert_true(wait_int(c.base, &c.f.nbind, 2, 2000));
			spin(c.base, 50);
		}
		assert_int_equal(submit_text(&c, 41, "receipt first"), 0);
		assert_true(wait_int(c.base, &c.f.nsubmit, 1, 1000));
		struct bufferevent *tx = c.f.last_submit_bev, *rx = tx;
		for (int i = 0; i < c.f.nconns; i++)
			if (c.f.conn_bind[i] == SMPP_BIND_RECEIVER)
				rx = c.f.conns[i];
		uint8_t b[64];
		struct smpp_sm sm = receipt_sm("1A"); /* the id the response below gives */
		c.f.bev = rx;
		fake_deliver(&c.f, 950, &sm);
		if (!trx) {
			/* the receiver link goes with the receipt held ... */
			fake_send(&c.f, b, smpp_build_header(b, sizeof b, SMPP_UNBIND, 0, 951));
			spin(c.base, 100);
			assert_int_equal(c.r.nrcpt, 0);
			c.f.bev = tx; /* ... then the response on the transmitter */
			c.f.outstanding++;
			fake_answer_submit(&c.f, c.f.last_submit_seq, 0);
		} else {
			c.f.outstanding++;
			fake_answer_submit(&c.f, c.f.last_submit_seq, 0);
			fake_send(&c.f, b, smpp_build_header(b, sizeof b, SMPP_UNBIND, 0, 951));
		}
		assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
		assert_string_equal(c.r.sent_id[0], "1A");
		assert_true(wait_int(c.base, &c.r.nrcpt, 1, 2000));
		assert_int_equal(c.r.rcpt_nsent[0], 1); /* after on_sent */
		assert_string_equal(c.r.rcpt_id[0], "1A");
		assert_int_equal(c.r.rcpt_state[0], ESME_DLR_DELIVERED);
		/* the SMSC sends it again after the rebind: passed on again (the
		 * gateway's record is taken by then: it records nothing twice) */
		assert_true(wait_int(c.base, &c.r.nup, trx ? 2 : 1, 3000));
		spin(c.base, 50);
		assert_int_equal(c.r.nrcpt, 1); /* not twice from the hold */
		ctx_fini(&c);
	}
}

static void test_receipt_tlv(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)"", 0, 0);
	sm.has_receipted_id = 1;
	snprintf(sm.receipted_id, sizeof sm.receipted_id, "26");
	sm.has_message_state = 1;
	sm.message_state = 5;
	fake_deliver(&c.f, 900, &sm);
	assert_true(wait_int(c.base, &c.r.nrcpt, 1, 2000));
	assert_string_equal(c.r.rcpt_id[0], "26");
	assert_int_equal(c.r.rcpt_state[0], ESME_DLR_UNDELIVERABLE);
	assert_true(wait_int(c.base, &c.f.ngot, 1, 1000));
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 900, NULL), 1);
	ctx_fini(&c);
}

static void test_bad_deliver_answered(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	/* a deliver_sm cut after service_type: must be answered with an error */
	uint8_t b[] = {0, 0, 0, 20, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 1, 1, '8'};
	fake_send(&c.f, b, sizeof b);
	assert_true(wait_int(c.base, &c.f.ngot, 1, 2000));
	uint32_t st = 0;
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 1000, &st), 1);
	assert_true(st != 0);
	assert_true(esme_bound(c.e));
	ctx_fini(&c);
}

static void test_unknown_command(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	uint8_t b[16];
	fake_send(&c.f, b, smpp_build_header(b, sizeof b, 0x00000099u, 0, 77));
	assert_true(wait_int(c.base, &c.f.ngot, 1, 2000));
	uint32_t st = 0;
	assert_int_equal(count_got(&c.f, SMPP_GENERIC_NACK, 77, &st), 1);
	assert_int_equal(st, SMPP_ESME_RINVCMDID);
	assert_true(esme_bound(c.e));
	ctx_fini(&c);
}

static void test_enquire_link(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.enquire_link_s = 1;
	ctx_start(&c);
	uint8_t b[16];
	fake_send(&c.f, b, smpp_build_header(b, sizeof b, SMPP_ENQUIRE_LINK, 0, 55));
	assert_true(wait_int(c.base, &c.f.ngot, 1, 2000));
	assert_int_equal(count_got(&c.f, SMPP_ENQUIRE_LINK_RESP, 55, NULL), 1);
	/* idle for a second: the ESME probes the link itself */
	assert_true(wait_int(c.base, &c.f.nel, 1, 2500));
	assert_true(esme_bound(c.e));
	ctx_fini(&c);
}

static void test_enquire_link_unanswered_reconnects(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.enquire_link_s = 1;
	c.cfg.response_timeout_s = 1;
	c.f.no_el_answer = 1;
	ctx_start(&c);
	assert_true(wait_int(c.base, &c.r.ndown, 1, 3500));
	c.f.no_el_answer = 0;
	assert_true(wait_int(c.base, &c.r.nup, 2, 3000));
	assert_int_equal(c.f.nconn, 2);
	ctx_fini(&c);
}

static void test_disconnect_resends_in_flight(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.drop_at_submit = 1;
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 21, "again"), 0);
	assert_true(wait_int(c.base, &c.r.ndown, 1, 2000));
	assert_int_equal(c.r.nsent, 0); /* not reported failed */
	assert_true(wait_int(c.base, &c.r.nsent, 1, 3000));
	assert_int_equal(c.r.nup, 2);
	assert_int_equal(c.f.nconn, 2);
	assert_int_equal(c.f.nsubmit, 2);
	assert_int_equal(c.r.sent_status[0], 0);
	assert_int_equal(c.r.sent_tag[0], 21);
	assert_memory_equal(c.f.subs[1].short_message, "again", 5);
	ctx_fini(&c);
}

static void test_unbind_by_smsc_reconnects(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	uint8_t b[16];
	fake_send(&c.f, b, smpp_build_header(b, sizeof b, SMPP_UNBIND, 0, 66));
	assert_true(wait_int(c.base, &c.f.ngot, 1, 2000));
	assert_int_equal(count_got(&c.f, SMPP_UNBIND_RESP, 66, NULL), 1);
	assert_true(wait_int(c.base, &c.r.ndown, 1, 2000));
	assert_true(wait_int(c.base, &c.r.nup, 2, 3000));
	ctx_fini(&c);
}

/* Backpressure outlives a reconnect: a session paused, dropped and bound
 * again reads nothing until it is resumed. */
static void test_paused_across_reconnect(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	c.r.mo_answer_now = 1;
	uint8_t b[16];
	fake_send(&c.f, b, smpp_build_header(b, sizeof b, SMPP_UNBIND, 0, 66));
	assert_true(wait_int(c.base, &c.r.ndown, 1, 2000));
	esme_pause_reading(c.e, 1); /* while it reconnects */
	assert_true(wait_int(c.base, &c.r.nup, 2, 3000));
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)"5", 1, 0);
	fake_deliver(&c.f, 701, &sm);
	spin(c.base, 300);
	assert_int_equal(c.r.nmo, 0);
	esme_pause_reading(c.e, 0);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], "5");
	ctx_fini(&c);
}

/* Backpressure that comes with an MO stops at that MO: the PDUs already
 * read with it wait in the buffer, and are handled, in order, on resume
 * (no new byte need come). */
static void test_paused_mid_buffer(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	c.r.mo_answer_now = 1;
	c.r.pause_at_mo = 1;
	static const char *const texts[] = {"1", "2", "3"};
	for (int i = 0; i < 3; i++) {
		struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)texts[i], 1, 0);
		fake_deliver(&c.f, 710 + (uint32_t)i, &sm);
	}
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	spin(c.base, 300);
	assert_int_equal(c.r.nmo, 1);
	esme_pause_reading(c.e, 0);
	assert_true(wait_int(c.base, &c.r.nmo, 3, 2000));
	for (int i = 0; i < 3; i++)
		assert_string_equal(c.r.mo_text[i], texts[i]);
	ctx_fini(&c);
}

static void test_framing_error_nack_and_reconnect(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	uint8_t b[16] = {0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9}; /* length 8 < 16 */
	fake_send(&c.f, b, sizeof b);
	assert_true(wait_int(c.base, &c.r.ndown, 1, 2000));
	assert_true(wait_int(c.base, &c.r.nup, 2, 3000));
	ctx_fini(&c);
}

static void test_shutdown_unbinds(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.delay_ms = 200;
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 1, "last"), 0);
	spin(c.base, 20);
	esme_shutdown(c.e, 2000, on_done, &c.r);
	assert_int_equal(esme_capacity(c.e), 0);
	assert_int_equal(submit_text(&c, 2, "too late"), -EAGAIN);
	assert_true(wait_int(c.base, &c.r.ndone, 1, 3000));
	assert_int_equal(c.r.nsent, 1); /* the in-flight response was awaited */
	assert_int_equal(c.f.nunbind, 1);
	assert_int_equal(c.r.ndown, 1);
	ctx_fini(&c);
}

/* Draining: an MO handed to the gateway and not answered yet holds the
 * unbind until its answer goes out (then the session unbinds at once); a
 * new MO during the drain is answered ESME_RX_T_APPN (the SMSC delivers it
 * again to whoever runs next), never handed. */
static void test_shutdown_waits_for_mo_answer(void **state)
{
	(void)state;
	struct ctx c;
	uint32_t st = 99;
	ctx_init(&c);
	ctx_start(&c);
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)"2", 1, 0);
	fake_deliver(&c.f, 710, &sm);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	esme_shutdown(c.e, 3000, on_done, &c.r);
	spin(c.base, 300);
	assert_int_equal(c.f.nunbind, 0); /* the SMSC still waits for deliver_sm_resp 710 */
	assert_int_equal(c.r.ndone, 0);
	struct smpp_sm late = mo_part("84912345679", 0, (const uint8_t *)"1", 1, 0);
	fake_deliver(&c.f, 711, &late);
	assert_true(wait_int(c.base, &c.f.ngot, 1, 2000));
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 711, &st), 1);
	assert_int_equal(st, SMPP_ESME_RX_T_APPN);
	assert_int_equal(c.r.nmo, 1);
	int64_t t0 = mono_ms();
	esme_answer(c.e, c.r.mo_token[0], 0);
	assert_true(wait_int(c.base, &c.r.ndone, 1, 3000));
	assert_true(mono_ms() - t0 < 1500); /* at once, not after the 3 s wait */
	assert_int_equal(count_got(&c.f, SMPP_DELIVER_SM_RESP, 710, &st), 1);
	assert_int_equal(st, 0);
	assert_int_equal(c.f.nunbind, 1);
	ctx_fini(&c);
}

static void test_shutdown_unconnected(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.f.refuse_binds = 100;
	c.e = esme_new(c.base, &c.cfg, &c.cbs, &c.r);
	assert_true(wait_int(c.base, &c.f.nbind, 1, 2000));
	esme_shutdown(c.e, 1000, on_done, &c.r);
	assert_int_equal(c.r.ndone, 1);
	ctx_fini(&c);
}

static void test_shutdown_from_on_state_then_free(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	c.r.shutdown_on_down = 1;
	c.r.owner = &c.e;
	uint8_t b[16];
	fake_send(&c.f, b, smpp_build_header(b, sizeof b, SMPP_UNBIND, 0, 67));
	assert_true(wait_int(c.base, &c.r.ndone, 1, 2000));
	assert_null(c.e);
	spin(c.base, 50);
	assert_int_equal(c.f.nconn, 1);
	ctx_fini(&c);
}

/* ---- PDU bytes in, PDU bytes out ------------------------------------------ */

/* "00 00 00 11 80..." (spaces ignored) to bytes; returns the count. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *h; h++) {
		int v;
		if (*h >= '0' && *h <= '9')
			v = *h - '0';
		else if (*h >= 'a' && *h <= 'f')
			v = *h - 'a' + 10;
		else if (*h >= 'A' && *h <= 'F')
			v = *h - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

/* Send a request: header (command_length computed) + body in hex. */
static void send_req(struct fake *f, uint32_t cmd, uint32_t seq, const char *body_hex)
{
	uint8_t b[SMPP_MAX_PDU];
	size_t n = unhex(body_hex, b + 16, sizeof b - 16);
	smpp_build_header(b, sizeof b, cmd, 0, seq);
	b[0] = (uint8_t)((n + 16) >> 24);
	b[1] = (uint8_t)((n + 16) >> 16);
	b[2] = (uint8_t)((n + 16) >> 8);
	b[3] = (uint8_t)(n + 16);
	fake_send(f, b, (int)(n + 16));
}

static void send_hex(struct fake *f, const char *hex)
{
	uint8_t b[SMPP_MAX_PDU];
	size_t n = unhex(hex, b, sizeof b);
	if (f->bev)
		bufferevent_write(f->bev, b, n);
}

/* The bytes the ESME answered to seq with id must be exactly `hex`. */
static void expect_out(struct ctx *c, uint32_t id, uint32_t seq, const char *hex)
{
	uint8_t want[48];
	size_t n = unhex(hex, want, sizeof want);
	int64_t end = mono_ms() + 2000;
	const struct got *g = NULL;
	while (!g && mono_ms() < end) {
		for (int i = 0; i < c->f.ngot; i++)
			if (c->f.got[i].id == id && c->f.got[i].seq == seq)
				g = &c->f.got[i];
		if (!g)
			spin(c->base, 10);
	}
	if (!g)
		fail_msg("no answer 0x%08x to seq %u", id, seq);
	assert_int_equal(g->len, n);
	assert_memory_equal(g->raw, want, n);
}

/* A deliver_sm body from 84912345678 to 8088, data_coding 0, text "5". */
#define DELIVER_5 "00 0101 3834393132333435363738 00 0000 38303838 00" \
                  " 00 00 00 00 00 00 00 00 00 01 35"

static void test_bytes_valid_deliver(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	send_req(&c.f, SMPP_DELIVER_SM, 0x3E9, DELIVER_5);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], "5");
	assert_string_equal(c.r.mo_from[0], "84912345678");
	spin(c.base, 30);
	assert_int_equal(c.f.ngot, 0); /* not answered before the effect is stored */
	esme_answer(c.e, c.r.mo_token[0], 0);
	expect_out(&c, SMPP_DELIVER_SM_RESP, 0x3E9, "00000011 80000005 00000000 000003E9 00");
	/* the SMSC delivers it again (its resp was lost): answered again, by the callee */
	send_req(&c.f, SMPP_DELIVER_SM, 0x3EA, DELIVER_5);
	assert_true(wait_int(c.base, &c.r.nmo, 2, 2000));
	esme_answer(c.e, c.r.mo_token[1], SMPP_ESME_RX_T_APPN);
	expect_out(&c, SMPP_DELIVER_SM_RESP, 0x3EA, "00000011 80000005 00000064 000003EA 00");
	ctx_fini(&c);
}

/* A reply carrying 40 vendor TLVs (some SMSCs attach dozens) is a citizen's
 * reply like any other: decoded, handed over, answered after its effect. */
static void test_bytes_deliver_vendor_tlvs(void **state)
{
	(void)state;
	char many[1024];
	size_t n = 0;
	n += (size_t)snprintf(many + n, sizeof many - n, "%s", DELIVER_5);
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, " %04X 0002 %04X", 0x1400 + i, i);
	assert_true(n < sizeof many - 1);
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	send_req(&c.f, SMPP_DELIVER_SM, 0x3F0, many);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], "5");
	assert_string_equal(c.r.mo_from[0], "84912345678");
	esme_answer(c.e, c.r.mo_token[0], 0);
	expect_out(&c, SMPP_DELIVER_SM_RESP, 0x3F0, "00000011 80000005 00000000 000003F0 00");
	assert_true(esme_bound(c.e));
	ctx_fini(&c);
}

/* Bad request bodies: the matching _resp with an error status, the bind kept. */
static void test_bytes_bad_deliver_table(void **state)
{
	(void)state;
	static const struct {
		const char *what, *body;
		uint32_t status;
	} t[] = {
	    {"cut in destination_addr", "00 0101 3834393132333435363738 00 0000 3830", 0x02},
	    {"cut after esm_class", "00 0101 3834393132333435363738 00 0000 38303838 00 00", 0x02},
	    {"sm_length past the end", "00 0101 3834393132333435363738 00 0000 38303838 00"
	                               " 00 00 00 00 00 00 00 00 00 05 35", 0x01},
	    {"source_addr of 21 characters",
	     "00 0101 313233343536373839303132333435363738393031 00 0000 38303838 00"
	     " 00 00 00 00 00 00 00 00 00 01 35", 0x0A},
	    {"message_state of 2 octets", DELIVER_5 " 0427 0002 0002", 0xC2},
	    {"sar_total_segments of 2 octets", DELIVER_5 " 020E 0002 0002", 0xC2},
	    {"sar_msg_ref_num of 1 octet", DELIVER_5 " 020C 0001 01", 0xC2},
	    {"its_session_info of 1 octet", DELIVER_5 " 1383 0001 00", 0xC2},
	    {"user_message_reference of 4", DELIVER_5 " 0204 0004 00000001", 0xC2},
	    {"ussd_service_op of 0", DELIVER_5 " 0501 0000", 0xC2},
	    {"TLV length past the end", DELIVER_5 " 0424 0010 41", 0xC2},
	    {"TLV header cut", DELIVER_5 " 04", 0xC2},
	};
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	for (size_t i = 0; i < N(t); i++) {
		uint32_t seq = (uint32_t)(2000 + i);
		char want[80];
		send_req(&c.f, SMPP_DELIVER_SM, seq, t[i].body);
		snprintf(want, sizeof want, "00000011 80000005 %08X %08X 00", t[i].status, seq);
		expect_out(&c, SMPP_DELIVER_SM_RESP, seq, want);
	}
	assert_int_equal(c.r.nmo, 0);
	assert_true(esme_bound(c.e));
	assert_int_equal(c.f.nconn, 1);
	/* the same check for data_sm: data_sm_resp with an empty message_id */
	send_req(&c.f, SMPP_DATA_SM, 2100, "00 0101 3834393132333435363738 00 0000 38303838 00"
	                                   " 00 00 00 0427 0002 0002");
	expect_out(&c, SMPP_DATA_SM_RESP, 2100, "00000011 80000103 000000C2 00000834 00");
	ctx_fini(&c);
}

static void test_bytes_framing_and_commands(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	send_hex(&c.f, "00000010 00000015 00000000 00000031");          /* enquire_link */
	expect_out(&c, SMPP_ENQUIRE_LINK_RESP, 0x31, "00000010 80000015 00000000 00000031");
	send_hex(&c.f, "00000010 00000099 00000000 0000004D");          /* unknown command */
	expect_out(&c, SMPP_GENERIC_NACK, 0x4D, "00000010 80000000 00000003 0000004D");
	send_hex(&c.f, "00000010 00000102 00000000 0000004E");          /* alert_notification */
	spin(c.base, 50);
	assert_int_equal(count_got(&c.f, SMPP_GENERIC_NACK, 0x4E, NULL), 0);
	/* oversized: command_length 64 KiB; nack, close, reconnect */
	send_hex(&c.f, "00010000 00000005 00000000 00000009 00000000");
	expect_out(&c, SMPP_GENERIC_NACK, 9, "00000010 80000000 00000002 00000009");
	assert_true(wait_int(c.base, &c.r.ndown, 1, 2000));
	assert_true(wait_int(c.base, &c.r.nup, 2, 3000));
	assert_int_equal(c.f.nconn, 2);
	ctx_fini(&c);
}

/* Responses the ESME must read from the header alone. */
static void test_bytes_error_responses(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	/* a vendor code is permanent: one try */
	c.f.script[0] = 0x458;
	/* an error with a body (1 octet) is still retried */
	c.f.script[1] = SMPP_ESME_RTHROTTLED;
	c.f.nscript = 2;
	c.f.resp_body_on_error = 1;
	ctx_start(&c);
	esme_set_retry(c.e, 5, 50);
	assert_int_equal(submit_text(&c, 1, "vendor"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	assert_int_equal(c.r.sent_status[0], 0x458);
	assert_string_equal(c.r.sent_id[0], "");
	assert_int_equal(c.f.nsubmit, 1);
	assert_int_equal(submit_text(&c, 2, "throttled"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 2, 2000));
	assert_int_equal(c.r.sent_status[1], 0);
	assert_int_equal(c.f.nsubmit, 3);
	/* status 0 without a body: accepted, no id */
	c.f.no_resp_body = 1;
	assert_int_equal(submit_text(&c, 3, "no body"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 3, 2000));
	assert_int_equal(c.r.sent_status[2], 0);
	assert_string_equal(c.r.sent_id[2], "");
	/* a response nobody asked for is ignored */
	send_hex(&c.f, "00000011 80000004 00000000 00007777 00");
	send_hex(&c.f, "00000010 80000000 00000058 00007778");
	spin(c.base, 50);
	assert_int_equal(c.r.nsent, 3);
	assert_true(esme_bound(c.e));
	ctx_fini(&c);
}

/* retry: per status, vendor codes made temporary, default for the rest. */
static void test_retry_per_status(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.retry[0] = (struct config_retry){0x458, 3, 50};
	c.cfg.retry[1] = (struct config_retry){SMPP_ESME_RMSGQFUL, 2, 150};
	c.cfg.retry[2] = (struct config_retry){SMPP_ESME_RINVDSTADR, 1, 10};
	c.cfg.nretry = 3;
	for (int i = 0; i < 3; i++)
		c.f.script[i] = 0x458;          /* message 1: 3 tries, all refused */
	c.f.script[3] = SMPP_ESME_RMSGQFUL; /* message 2: through on its 2nd try */
	c.f.script[5] = SMPP_ESME_RMSGQFUL; /* message 3: 2 tries, both full */
	c.f.script[6] = SMPP_ESME_RMSGQFUL;
	c.f.nscript = 7;
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 1, "a"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 3000));
	assert_int_equal(c.r.sent_status[0], 0x458);
	assert_int_equal(c.f.nsubmit, 3);
	int64_t t0 = mono_ms();
	assert_int_equal(submit_text(&c, 2, "b"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 2, 3000));
	assert_true(mono_ms() - t0 >= 150);
	assert_int_equal(c.r.sent_status[1], 0);
	assert_int_equal(c.f.nsubmit, 5);
	assert_int_equal(submit_text(&c, 3, "c"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 3, 3000));
	assert_int_equal(c.r.sent_status[2], SMPP_ESME_RMSGQFUL);
	assert_int_equal(c.f.nsubmit, 7);
	ctx_fini(&c);
}

/* A citizen's reply that contains "id:" and "stat:" is still a reply, not a
 * receipt: without esm_class bits or TLVs, a text receipt must start with "id:". */
static void test_reply_looks_like_receipt(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	const char *t = "Toi co id: 123, stat: hai long";
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)t, strlen(t), 0);
	fake_deliver(&c.f, 900, &sm);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], t);
	assert_int_equal(c.r.nrcpt, 0);
	esme_answer(c.e, c.r.mo_token[0], 0);
	ctx_fini(&c);
}

/* Receipts name the message as submit_sm_resp did, whatever base they use. */
static void test_receipt_id_normalised(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 1, "short"), 0); /* id 1A */
	char text[140 * 3 + 1];
	for (int i = 0; i < 140; i++)
		memcpy(text + i * 3, "\xe1\xba\xbf", 3);
	text[420] = '\0';
	assert_int_equal(submit_text(&c, 2, text), 0);    /* ids 1B, 1C, 1D */
	assert_true(wait_int(c.base, &c.r.nsent, 2, 2000));
	assert_string_equal(c.r.sent_id[1], "1B");
	const char *r1 = "id:26 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
	                 "stat:DELIVRD err:000 text:short";
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)r1, strlen(r1), 0);
	sm.esm_class = 0x04;
	fake_deliver(&c.f, 810, &sm);
	/* part 3 of the long message, by TLVs, in decimal (0x1D = 29) */
	sm = mo_part("84912345678", 0, (const uint8_t *)"", 0, 0);
	sm.esm_class = 0x04;
	sm.has_receipted_id = 1;
	snprintf(sm.receipted_id, sizeof sm.receipted_id, "29");
	sm.has_message_state = 1;
	sm.message_state = 3;
	fake_deliver(&c.f, 811, &sm);
	/* an id we never gave: passed on as it came */
	const char *r3 = "id:999999 stat:REJECTD";
	sm = mo_part("84912345678", 0, (const uint8_t *)r3, strlen(r3), 0);
	fake_deliver(&c.f, 812, &sm);
	assert_true(wait_int(c.base, &c.r.nrcpt, 3, 2000));
	assert_string_equal(c.r.rcpt_id[0], "1A");
	assert_int_equal(c.r.rcpt_state[0], ESME_DLR_DELIVERED);
	assert_string_equal(c.r.rcpt_id[1], "1B");
	assert_int_equal(c.r.rcpt_state[1], ESME_DLR_EXPIRED);
	assert_string_equal(c.r.rcpt_id[2], "999999");
	assert_int_equal(c.r.rcpt_state[2], ESME_DLR_REJECTED);
	expect_out(&c, SMPP_DELIVER_SM_RESP, 811, "00000011 80000005 00000000 0000032B 00");
	ctx_fini(&c);
}

static void test_long_messages_sar_and_payload(void **state)
{
	(void)state;
	char text[150 * 3 + 1];
	for (int i = 0; i < 150; i++)
		memcpy(text + i * 3, "\xe1\xba\xbf", 3);
	text[450] = '\0';
	struct ctx c;
	ctx_init(&c);
	c.cfg.long_messages = CONFIG_LONG_SAR;
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 1, text), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	assert_int_equal(c.f.nsubmit, 3);
	for (int i = 0; i < 3; i++) {
		struct smpp_sm *sm = &c.f.subs[i];
		assert_int_equal(sm->esm_class, 0);         /* no UDH */
		assert_true(sm->has_sar);
		assert_int_equal(sm->sar_ref, c.f.subs[0].sar_ref);
		assert_int_equal(sm->sar_total, 3);
		assert_int_equal(sm->sar_seq, i + 1);
		assert_int_equal(sm->short_message[0], 0x1E);
		assert_int_equal(sm->data_coding, 8);
	}
	assert_int_equal(c.f.subs[2].sm_length, 2 * 150 - 2 * 134);
	ctx_fini(&c);

	ctx_init(&c);
	c.cfg.long_messages = CONFIG_LONG_PAYLOAD;
	ctx_start(&c);
	assert_int_equal(submit_text(&c, 2, text), 0);
	assert_int_equal(submit_text(&c, 3, "short stays short"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 2, 2000));
	assert_int_equal(c.f.nsubmit, 2);
	assert_int_equal(c.f.subs[0].sm_length, 0);
	assert_int_equal(c.f.subs[0].payload_len, 300);
	assert_int_equal(c.f.subs[0].esm_class, 0);
	assert_false(c.f.subs[0].has_sar);
	assert_int_equal(c.f.subs[1].sm_length, 17);
	assert_int_equal(c.f.subs[1].payload_len, 0);
	ctx_fini(&c);
}

/* A long MO whose parts carry their UDH inside message_payload. */
static void test_mo_udh_in_payload(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	ctx_start(&c);
	c.r.mo_answer_now = 1;
	const char *texts[2] = {"Rat ", "tot"};
	for (int i = 0; i < 2; i++) {
		uint8_t ud[32] = {0x05, 0x00, 0x03, 0x42, 2, (uint8_t)(i + 1)};
		size_t n = strlen(texts[i]);
		memcpy(ud + 6, texts[i], n);
		struct smpp_sm sm = mo_part("84913000111", 0, (const uint8_t *)"", 0, 1);
		sm.payload = ud;
		sm.payload_len = 6 + n;
		fake_deliver(&c.f, (uint32_t)(1300 + i), &sm);
	}
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_string_equal(c.r.mo_text[0], "Rat tot");
	expect_out(&c, SMPP_DELIVER_SM_RESP, 1300, "00000011 80000005 00000000 00000514 00");
	expect_out(&c, SMPP_DELIVER_SM_RESP, 1301, "00000011 80000005 00000000 00000515 00");
	ctx_fini(&c);
}

/* bind: transmitter+receiver: two connections; MOs come on the receiver and
 * are answered there through the transmitter's esme. */
static void test_bind_tx_rx(void **state)
{
	(void)state;
	struct ctx c;
	ctx_init(&c);
	c.cfg.bind_trx = 0;
	c.f.multi = 1;
	ctx_start(&c);
	assert_true(wait_int(c.base, &c.f.nbind, 2, 2000));
	spin(c.base, 50);
	assert_int_equal(c.f.nconns, 2);
	int rx = -1, tx = -1;
	for (int i = 0; i < 2; i++) {
		if (c.f.conn_bind[i] == SMPP_BIND_RECEIVER)
			rx = i;
		if (c.f.conn_bind[i] == SMPP_BIND_TRANSMITTER)
			tx = i;
	}
	assert_true(rx >= 0 && tx >= 0);
	assert_int_equal(c.r.nup, 1); /* reported once, for the transmitter */
	assert_int_equal(submit_text(&c, 5, "over tx"), 0);
	assert_true(wait_int(c.base, &c.r.nsent, 1, 2000));
	assert_int_equal(c.r.sent_status[0], 0);
	/* an MO and a receipt on the receiver */
	c.f.bev = c.f.conns[rx];
	send_req(&c.f, SMPP_DELIVER_SM, 77, DELIVER_5);
	const char *r = "id:26 stat:DELIVRD";
	struct smpp_sm sm = mo_part("84912345678", 0, (const uint8_t *)r, strlen(r), 0);
	sm.esm_class = 0x04;
	fake_deliver(&c.f, 78, &sm);
	assert_true(wait_int(c.base, &c.r.nmo, 1, 2000));
	assert_true(wait_int(c.base, &c.r.nrcpt, 1, 2000));
	assert_string_equal(c.r.rcpt_id[0], "1A"); /* normalised with the transmitter's ids */
	esme_answer(c.e, c.r.mo_token[0], 0);
	expect_out(&c, SMPP_DELIVER_SM_RESP, 77, "00000011 80000005 00000000 0000004D 00");
	/* shutdown unbinds both */
	esme_shutdown(c.e, 1000, on_done, &c.r);
	assert_true(wait_int(c.base, &c.r.ndone, 1, 3000));
	assert_int_equal(c.f.nunbind, 2);
	ctx_fini(&c);
}

static void test_msgid_eq(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		int eq;
	} t[] = {
	    {"1A", "26", 1},         {"26", "1A", 1},     {"1a", "1A", 1},
	    {"abc-1", "abc-1", 1},   {"0026", "26", 1},   {"1A", "27", 0},
	    {"", "", 0},             {"x", "", 0},        {"ff", "255", 1},
	    {"FFFFFFFFFFFFFFFFF", "1", 0}, {"10", "16", 1}, {"10", "10", 1},
	    {"abc-1", "ABC-1", 0},   {"12345678901234567890", "12345678901234567890", 1},
	    {"0x1A", "26", 0},
	};
	for (size_t i = 0; i < N(t); i++) {
		if (esme_msgid_eq(t[i].a, t[i].b) != t[i].eq)
			fail_msg("msgid_eq(%s, %s) != %d", t[i].a, t[i].b, t[i].eq);
	}
}

int main(void)
{
	log_set_level_value(LOG_WARN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_msgid_eq),
	    cmocka_unit_test(test_bind_ok),
	    cmocka_unit_test(test_bind_refused_then_retried),
	    cmocka_unit_test(test_connect_refused_then_retried),
	    cmocka_unit_test(test_submit_single),
	    cmocka_unit_test(test_submit_ussd_alnum_source),
	    cmocka_unit_test(test_submit_three_parts_ucs2),
	    cmocka_unit_test(test_submit_bad_text),
	    cmocka_unit_test(test_throttled_then_accepted),
	    cmocka_unit_test(test_temporary_retries_run_out),
	    cmocka_unit_test(test_permanent_error),
	    cmocka_unit_test(test_generic_nack_throttled),
	    cmocka_unit_test(test_response_timeout_retried),
	    cmocka_unit_test(test_window_respected),
	    cmocka_unit_test(test_queue_behind_window),
	    cmocka_unit_test(test_queue_tps_bound),
	    cmocka_unit_test(test_queue_pace_bound),
	    cmocka_unit_test(test_tps_limit),
	    cmocka_unit_test(test_mo_three_parts),
	    cmocka_unit_test(test_mo_sar_ucs2_and_retry_later),
	    cmocka_unit_test(test_mo_parts_handed),
	    cmocka_unit_test(test_receipt_before_response),
	    cmocka_unit_test(test_receipt_before_response_then_unbind),
	    cmocka_unit_test(test_mo_single_answered_in_callback),
	    cmocka_unit_test(test_mo_16bit_ref),
	    cmocka_unit_test(test_mo_data_sm_payload),
	    cmocka_unit_test(test_receipt_text),
	    cmocka_unit_test(test_receipt_udhi),
	    cmocka_unit_test(test_receipt_tlv),
	    cmocka_unit_test(test_bad_deliver_answered),
	    cmocka_unit_test(test_unknown_command),
	    cmocka_unit_test(test_enquire_link),
	    cmocka_unit_test(test_enquire_link_unanswered_reconnects),
	    cmocka_unit_test(test_disconnect_resends_in_flight),
	    cmocka_unit_test(test_unbind_by_smsc_reconnects),
	    cmocka_unit_test(test_paused_across_reconnect),
	    cmocka_unit_test(test_paused_mid_buffer),
	    cmocka_unit_test(test_framing_error_nack_and_reconnect),
	    cmocka_unit_test(test_shutdown_unbinds),
	    cmocka_unit_test(test_shutdown_waits_for_mo_answer),
	    cmocka_unit_test(test_shutdown_unconnected),
	    cmocka_unit_test(test_shutdown_from_on_state_then_free),
	    cmocka_unit_test(test_bytes_valid_deliver),
	    cmocka_unit_test(test_bytes_deliver_vendor_tlvs),
	    cmocka_unit_test(test_bytes_bad_deliver_table),
	    cmocka_unit_test(test_bytes_framing_and_commands),
	    cmocka_unit_test(test_bytes_error_responses),
	    cmocka_unit_test(test_retry_per_status),
	    cmocka_unit_test(test_receipt_id_normalised),
	    cmocka_unit_test(test_reply_looks_like_receipt),
	    cmocka_unit_test(test_long_messages_sar_and_payload),
	    cmocka_unit_test(test_mo_udh_in_payload),
	    cmocka_unit_test(test_bind_tx_rx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
