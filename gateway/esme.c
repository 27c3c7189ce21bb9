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
 * esme_free.
 *
 * This file: the session as a whole (made, freed, shut down, its connection
 * lost) and the public verbs. The link's own steps (bind, enquire_link,
 * unbind, reconnect backoff) are in esme_link.c, the outgoing side in
 * esme_send.c, receipts in esme_dlr.c, MOs in esme_mo.c, connecting and
 * reading the SMSC in esme_rx.c; esme_int.h is what they share. */
#include "esme_int.h"

/* ---------- small helpers ---------- */

int64_t esme_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void esme_arm(struct event *ev, int64_t ms)
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
int64_t esme_jitter(struct esme *e, int64_t ms)
{
	return ms + (int64_t)(rnd(e) % (uint64_t)(ms / 5 + 1));
}

/* The response timer; 30 s when the config leaves it at 0. */
int64_t esme_resp_ms(const struct esme *e)
{
	return (int64_t)(e->cfg->response_timeout_s > 0 ? e->cfg->response_timeout_s : 30) * 1000;
}

uint32_t esme_take_seq(struct esme *e)
{
	uint32_t s = e->next_seq;
	e->next_seq = s >= 0x7FFFFFFFu ? 1 : s + 1;
	return s;
}

int esme_send_bytes(struct esme *e, const void *buf, size_t len)
{
	if (!e->bev)
		return -ENOTCONN;
	return bufferevent_write(e->bev, buf, len) == 0 ? 0 : -ENOMEM;
}

/* A header-only PDU (enquire_link, unbind, their responses, generic_nack). */
void esme_send_header(struct esme *e, uint32_t cmd, uint32_t status, uint32_t seq)
{
	uint8_t b[SMPP_HEADER_LEN];
	if (smpp_build_header(b, sizeof b, cmd, status, seq) == SMPP_HEADER_LEN)
		esme_send_bytes(e, b, sizeof b);
}

/* deliver_sm_resp / data_sm_resp (message_id ""), any status. */
void esme_send_sm_resp(struct esme *e, uint32_t cmd_resp, uint32_t status, uint32_t seq)
{
	uint8_t b[64];
	int n = smpp_build_sm_resp(b, sizeof b, cmd_resp, status, seq, "");
	if (n > 0)
		esme_send_bytes(e, b, (size_t)n);
	else
		esme_send_header(e, cmd_resp, status, seq);
}

void esme_schedule_ready(struct esme *e)
{
	if (e->cbs->on_ready && !e->shutting && e->state == ES_BOUND &&
	    !event_pending(e->ready_ev, EV_TIMEOUT, NULL))
		event_active(e->ready_ev, EV_TIMEOUT, 1);
}

/* ---------- connection lost ---------- */

/* The connection is gone (error, EOF, dead link, refused bind, closed by us):
 * put parts in flight back in the queue and reconnect (or finish a shutdown). */
void esme_conn_lost(struct esme *e, const char *why)
{
	int was_bound = e->bound;
	esme_close_bev(e);
	int requeued = 0;
	for (int i = 0; i < e->window; i++) {
		struct esme_slot *s = &e->slots[i];
		if (s->seq == 0)
			continue;
		struct esme_part *p = s->part;
		esme_slot_release(e, s);
		p->msg->inflight--;
		if (p->msg->finished) {
			p->state = PART_DONE;
			esme_msg_free_if_idle(e, p->msg);
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
			mo->first = esme_now_ms();
		}
	}
	e->bound = 0;
	e->answers_pending = 0; /* their tokens are of the old connection: the SMSC delivers them again */
	log_warn("[%s] event=disconnected reason=%s requeued_parts=%d", e->name, why, requeued);
	if (e->shutting)
		esme_finish_shutdown(e);
	else
		esme_reconnect_schedule(e);
	if (was_bound && e->cbs->on_state) {
		e->in_state_cb++;
		e->cbs->on_state(e->arg, e, 0);
		e->in_state_cb--;
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

static void rx_on_receipt_later(void *arg, struct esme *rx, uint64_t token, const char *msgid,
                                enum esme_dlr state)
{
	struct esme *e = arg;
	if (e->cbs->on_receipt_later) {
		e->cbs->on_receipt_later(e->arg, e, token ? token | ESME_TOKEN_RX : 0, msgid, state);
		return;
	}
	uint32_t status = e->cbs->on_receipt ? e->cbs->on_receipt(e->arg, e, msgid, state) : 0;
	if (token)
		esme_answer(rx, token, status);
}

static void rx_on_mo_part(void *arg, struct esme *rx, uint64_t token, const struct smpp_sm *sm,
                          uint32_t ref, int total, int seq, const uint8_t *bytes, size_t n)
{
	(void)rx;
	struct esme *e = arg;
	e->cbs->on_mo_part(e->arg, e, token | ESME_TOKEN_RX, sm, ref, total, seq, bytes, n);
}

static const struct esme_cbs rx_cbs = {.on_mo = rx_on_mo, .on_receipt = rx_on_receipt,
                                       .on_receipt_later = rx_on_receipt_later};
/* the same, when the owner keeps the parts of concatenated MOs itself */
static const struct esme_cbs rx_cbs_parts = {.on_mo = rx_on_mo, .on_mo_part = rx_on_mo_part,
                                             .on_receipt = rx_on_receipt,
                                             .on_receipt_later = rx_on_receipt_later};

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
	e->rng = (uint64_t)(uintptr_t)e ^ (uint64_t)esme_now_ms() * 0x9E3779B97F4A7C15ull;
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
		e->slots[i].timer = evtimer_new(base, esme_slot_timeout_cb, &e->slots[i]);
		if (!e->slots[i].timer)
			goto fail;
	}
	struct {
		struct event **ev;
		event_callback_fn cb;
	} evs[] = {
	    {&e->reconnect_ev, esme_reconnect_cb},  {&e->bind_ev, esme_bind_timeout_cb},
	    {&e->el_ev, esme_el_cb},                {&e->el_resp_ev, esme_el_resp_cb},
	    {&e->tps_ev, esme_tps_cb},              {&e->retry_ev, esme_retry_cb},
	    {&e->shut_ev, esme_shut_timeout_cb},    {&e->unbind_ev, esme_unbind_timeout_cb},
	    {&e->flush_ev, esme_flush_cb},          {&e->mo_ev, esme_mo_sweep_cb},
	    {&e->held_ev, esme_held_cb},            {&e->ready_ev, esme_ready_cb},
	    {&e->done_ev, done_cb},
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
	esme_conn_start(e);
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
		esme_mo_free(e, mo);
	struct esme_held *hd;
	while ((hd = TAILQ_FIRST(&e->held)) != NULL) {
		TAILQ_REMOVE(&e->held, hd, link);
		free(hd);
	}
	free(e);
}

void esme_shutdown(struct esme *e, int timeout_ms, void (*done)(void *arg), void *arg)
{
	if (!e) { /* no session (one that could not be made again): nothing to drain */
		done(arg);
		return;
	}
	e->done = done;
	e->done_arg = arg;
	if (e->shutting)
		return;
	e->shutting = 1;
	if (e->rx) {
		e->rx_pending = 1;
		esme_shutdown(e->rx, timeout_ms, rx_done_cb, e);
	}
	log_info("[%s] event=shutdown state=%d inflight=%d queued=%d answers_pending=%d", e->name, (int)e->state,
	         e->inflight, e->queued, e->answers_pending);
	switch (e->state) {
	case ES_BOUND:
		if (e->inflight == 0 && e->answers_pending == 0)
			esme_send_unbind(e);
		else
			esme_arm(e->shut_ev, timeout_ms > 0 ? timeout_ms : 0);
		return;
	case ES_UNBINDING:
	case ES_CLOSING:
		return; /* conn_lost will finish */
	default: {
		int was_bound = e->bound;
		esme_close_bev(e);
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
	return e && e->state == ES_BOUND;
}

/* Capacity counts parts, read as single-part messages: min(free window slots,
 * whole tokens) minus the parts already queued (retries waiting included). A
 * long message is accepted when the capacity is >= 1; its extra parts then wait
 * in the queue and hold the capacity at 0 until they are sent. */
int esme_capacity(const struct esme *e)
{
	if (!e || e->state != ES_BOUND || e->shutting)
		return 0;
	int c = e->window - e->inflight - e->queued;
	if (e->cfg->tps > 0) {
		double t = esme_tokens_at(e, esme_now_ms());
		int tk = (int)t - e->queued;
		if (tk < c)
			c = tk;
	}
	return c > 0 ? c : 0;
}

int esme_room(const struct esme *e)
{
	if (!e || e->state != ES_BOUND || e->shutting)
		return 0;
	int q = e->window > ESME_QUEUE_MIN ? e->window : ESME_QUEUE_MIN;
	/* about a second of sending, at least a window: more would only wait
	 * longer, each message already counted as gone by Redis. Under a TPS
	 * limit, a second's tokens; and a window answered in resp_avg_ms goes
	 * out window * 1000 / resp_avg_ms times a second */
	int per_s = e->cfg->tps > 0 ? e->cfg->tps : q;
	if (e->resp_avg_ms > 0 && e->window * 1000.0 / e->resp_avg_ms < per_s)
		per_s = (int)(e->window * 1000.0 / e->resp_avg_ms);
	if (per_s < q)
		q = per_s > e->window ? per_s : e->window;
	int c = e->window + q - e->inflight - e->queued;
	return c > 0 ? c : 0;
}

int esme_unsent(const struct esme *e, uint64_t tag)
{
	if (!e)
		return 0;
	const struct esme_out *m;
	TAILQ_FOREACH(m, &e->msgs, link)
		if (m->tag == tag)
			return !m->written && !m->finished;
	return 0;
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
	if ((m->may_wait ? esme_room(e) : esme_capacity(e)) <= 0)
		return -EAGAIN;
	/* on the stack (3 KB): two large mallocs per message were a
	 * noticeable share of the loop's time (glibc consolidates its fast
	 * bins before every large request) */
	struct text_parts tpv;
	struct text_parts *tp = &tpv;
	int rc = text_split(m->text, m->enc, tp);
	if (rc < 0)
		return rc;
	if (tp->nparts < 1 || tp->nparts > TEXT_MAX_PARTS)
		return -EINVAL;
	/* long_messages: payload needs one part only; calloc the most */
	struct esme_out *o = calloc(1, sizeof *o + (size_t)tp->nparts * sizeof o->part[0]);
	struct smpp_sm smv;
	memset(&smv, 0, sizeof smv);
	struct smpp_sm *sm = &smv;
	if (!o) {
		rc = -ENOMEM;
		goto fail;
	}
	o->tag = m->tag;
	enum config_long how = e->cfg->long_messages;
	int nparts = tp->nparts > 1 && (how == CONFIG_LONG_PAYLOAD || m->ussd_op >= 0) ? 1 : tp->nparts;
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
		/* a USSD screen is one submit_sm, never concatenated (SPEC §9): up to
		 * 182 GSM septets (unpacked, one octet each) or 80 UCS-2 units */
		size_t all = 0;
		for (int i = 0; i < tp->nparts; i++)
			all += tp->part[i].len;
		if (all > (tp->coding == TEXT_CODING_UCS2 ? 160u : 182u)) {
			rc = -EMSGSIZE;
			goto fail;
		}
		all = 0;
		for (int i = 0; i < tp->nparts; i++) {
			memcpy(sm->short_message + all, tp->part[i].data, tp->part[i].len);
			all += tp->part[i].len;
		}
		sm->sm_length = all;
		sm->has_ussd_op = 1;
		sm->ussd_op = (uint8_t)m->ussd_op;
		sm->registered_delivery = 0; /* a screen has no receipt: the answer is the proof */
		if (m->service_type && strlen(m->service_type) >= sizeof sm->service_type) {
			rc = -EINVAL;
			goto fail;
		}
		snprintf(sm->service_type, sizeof sm->service_type, "%s", m->service_type ? m->service_type : "");
		if (m->has_sess) {
			sm->has_its_session = 1;
			sm->its_session[0] = m->sess[0];
			sm->its_session[1] = m->sess[1];
		}
		if (m->has_umr) {
			sm->has_umr = 1;
			sm->umr = m->umr;
		}
	}
	if (m->ussd_op >= 0) {
		int n = smpp_build_sm(o->part[0].pdu, sizeof o->part[0].pdu, SMPP_SUBMIT_SM, 1, sm);
		if (n < 0) {
			rc = n == -ENOSPC ? -EMSGSIZE : -EINVAL;
			goto fail;
		}
		o->part[0].len = (size_t)n;
		o->part[0].msg = o;
		o->part[0].state = PART_QUEUED;
	} else if (nparts == 1 && tp->nparts > 1) {
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
	for (int i = 0; i < nparts && m->ussd_op < 0 && !(nparts == 1 && tp->nparts > 1); i++) {
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
	esme_pump(e);
	return 0;
fail:
	free(o);
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
				esme_mo_free(e, mo);
			} else {
				/* keep the set: the SMSC delivers the last part again */
				mo->handed = 0;
				free(mo->part[mo->last_seq - 1].data);
				mo->part[mo->last_seq - 1].data = NULL;
				mo->have--;
				mo->first = esme_now_ms();
			}
			break;
		}
	}
	if (gen != (e->gen & ESME_GEN_MASK) || !e->bev ||
	    (e->state != ES_BOUND && e->state != ES_UNBINDING)) {
		log_warn("[%s] event=answer_dropped seq=%u status=%s (connection gone)", e->name, seq,
		         smpp_status_word(status));
		return;
	}
	esme_send_sm_resp(e, cmd, status, seq);
	log_debug("[%s] event=mo_answered seq=%u status=%s", e->name, seq, smpp_status_word(status));
	if (e->answers_pending > 0)
		e->answers_pending--;
	/* draining: the last answer the SMSC waited for went out */
	if (e->shutting && e->state == ES_BOUND && e->inflight == 0 && e->answers_pending == 0)
		esme_send_unbind(e);
}

const char *esme_name(const struct esme *e)
{
	return e->name;
}

/* Backpressure: a bound session stops reading (and resumes) the socket;
 * the SMSC's window then holds what it has not sent. */
void esme_pause_reading(struct esme *e, int pause)
{
	if (!e)
		return;
	e->paused = pause;
	if (e->bev && e->state == ES_BOUND) {
		if (pause) {
			bufferevent_disable(e->bev, EV_READ);
		} else {
			bufferevent_enable(e->bev, EV_READ);
			/* PDUs read before the pause and not handled yet: the read
			 * callback takes them from the next loop pass (no new byte
			 * may come to call it) */
			if (evbuffer_get_length(bufferevent_get_input(e->bev)) > 0)
				bufferevent_trigger(e->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		}
	}
	esme_pause_reading(e->rx, pause);
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

