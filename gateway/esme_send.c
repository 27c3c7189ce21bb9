/* esme_send: the outgoing side of a session: the token bucket, messages split into parts, the window, retries. */
#include "esme_int.h"

/* ---------- token bucket ---------- */

double esme_tps_rate(const struct esme *e, int64_t now)
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

double esme_tokens_at(const struct esme *e, int64_t now)
{
	double r = esme_tps_rate(e, now);
	double t = e->tokens + (double)(now - e->tok_last) * r / 1000.0;
	double cap = r < 1 ? 1 : r;
	return t > cap ? cap : t;
}

static void refill(struct esme *e, int64_t now)
{
	if (e->cfg->tps <= 0)
		return;
	e->tokens = esme_tokens_at(e, now);
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
	double r = esme_tps_rate(e, now), cap = r < 1 ? 1 : r;
	if (e->tokens > cap)
		e->tokens = cap;
	log_info("[%s] event=slow_down tps=%.1f for_ms=%d", e->name, r, ESME_SLOW_MS);
}

/* ---------- messages and the window ---------- */

void esme_msg_free_if_idle(struct esme *e, struct esme_out *m)
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
			esme_idmap_put(root, m->part[i].id, m->first_id);
	}
	for (int i = 0; i < m->nparts; i++) {
		if (m->part[i].state == PART_QUEUED) {
			TAILQ_REMOVE(&e->queue, &m->part[i], link);
			e->queued--;
			m->part[i].state = PART_DONE;
		}
	}
	int nparts = m->nparts;
	esme_msg_free_if_idle(e, m);
	if (status == 0)
		log_info("[%s] event=sent tag=%llu parts=%d msgid=%s", e->name, (unsigned long long)tag,
		         nparts, id);
	else
		log_warn("[%s] event=send_failed tag=%llu parts=%d status=%s", e->name,
		         (unsigned long long)tag, nparts, smpp_status_word(status));
	if (e->cbs->on_sent)
		e->cbs->on_sent(e->arg, e, tag, status, id);
	if (e->nheld > 0)
		event_active(e->held_ev, EV_TIMEOUT, 0); /* their message may be known now */
}

struct esme_slot *esme_slot_find(struct esme *e, uint32_t seq)
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

void esme_slot_release(struct esme *e, struct esme_slot *s)
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
	return esme_jitter(e, d);
}

/* The outcome of one part: a submit_sm_resp, a generic_nack, or a timeout
 * (timed_out = 1, status unused). */
void esme_part_result(struct esme *e, struct esme_slot *s, uint32_t status, const char *msgid,
                      int timed_out)
{
	struct esme_part *p = s->part;
	struct esme_out *m = p->msg;
	uint32_t seq = s->seq;
	esme_slot_release(e, s);
	if (e->nheld > 0)
		event_active(e->held_ev, EV_TIMEOUT, 0); /* a receipt may wait for this answer */
	m->inflight--;
	if (m->finished) {
		p->state = PART_DONE;
		esme_msg_free_if_idle(e, m);
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
		int64_t now = esme_now_ms();
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
			         timed_out ? "timeout" : smpp_status_word(status), p->tries, rule.tries,
			         (long long)d);
		}
	}
	if (e->shutting && e->state == ES_BOUND && e->inflight == 0 && e->answers_pending == 0)
		esme_send_unbind(e);
	esme_pump(e);
	esme_schedule_ready(e);
}

void esme_slot_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme_slot *s = arg;
	struct esme *e = s->e;
	log_warn("[%s] event=response_timeout cmd=submit_sm seq=%u", e->name, s->seq);
	esme_part_result(e, s, 0, NULL, 1);
}

static void send_part(struct esme *e, struct esme_slot *s, struct esme_part *p, int64_t now)
{
	uint32_t seq = esme_take_seq(e);
	smpp_put_u32(p->pdu + 12, seq);
	TAILQ_REMOVE(&e->queue, p, link);
	e->queued--;
	p->state = PART_INFLIGHT;
	p->msg->inflight++;
	p->msg->written = 1;
	s->seq = seq;
	s->sent_no = ++e->submits;
	s->sent_ms = now;
	s->part = p;
	e->inflight++;
	if (e->cfg->tps > 0)
		e->tokens -= 1;
	esme_arm(s->timer, esme_resp_ms(e));
	esme_send_bytes(e, p->pdu, p->len);
	log_debug("[%s] event=submit_sm tag=%llu part=%d/%d seq=%u try=%d", e->name,
	          (unsigned long long)p->msg->tag, p->idx + 1, p->msg->nparts, seq, p->tries + 1);
}

/* Send queued parts while the window and the token bucket allow; arm the
 * timers that resume sending. */
void esme_pump(struct esme *e)
{
	if (e->state != ES_BOUND || e->shutting)
		return;
	int64_t now = esme_now_ms();
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
		esme_arm(e->retry_ev, next_retry - now);
	if (e->cfg->tps > 0 && e->tokens < 1 && !event_pending(e->tps_ev, EV_TIMEOUT, NULL)) {
		double r = esme_tps_rate(e, now);
		esme_arm(e->tps_ev, (int64_t)((1 - e->tokens) * 1000.0 / r) + 1);
	}
}

void esme_tps_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	esme_pump(e);
	esme_schedule_ready(e);
}

void esme_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	esme_pump(arg);
}

void esme_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->cbs->on_ready && esme_capacity(e) > 0)
		e->cbs->on_ready(e->arg, e);
}

