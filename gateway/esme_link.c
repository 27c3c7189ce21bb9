/* esme_link: the life of one SMPP connection: bind and its result, enquire_link
 * while bound, unbind, a close once the last bytes are flushed, the reconnect
 * backoff, and the timers that guard each step. What a lost connection does to
 * the window and the MOs is esme_conn_lost's (esme.c); connecting and reading
 * are in esme_rx.c. */
#include "esme_int.h"

/* Idle until the reconnect timer: 1 s doubling to 60 s per failed attempt, + jitter. */
void esme_reconnect_schedule(struct esme *e)
{
	int64_t d = ESME_BACKOFF_MIN_MS;
	for (int i = 0; i < e->backoff_attempt && d < ESME_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > ESME_BACKOFF_MAX_MS)
		d = ESME_BACKOFF_MAX_MS;
	d = esme_jitter(e, d);
	e->backoff_attempt++;
	e->state = ES_IDLE;
	esme_arm(e->reconnect_ev, d);
	log_info("[%s] event=reconnect_scheduled delay_ms=%lld attempt=%d", e->name, (long long)d,
	         e->backoff_attempt);
}

/* The shutdown is over (the connection is closed): stop the timers, then
 * `done` from the loop. */
void esme_finish_shutdown(struct esme *e)
{
	e->state = ES_DONE;
	event_del(e->reconnect_ev);
	event_del(e->shut_ev);
	event_del(e->unbind_ev);
	log_info("[%s] event=shutdown_done unconfirmed_parts=%d", e->name, e->queued + e->inflight);
	event_active(e->done_ev, EV_TIMEOUT, 1);
}

/* Free the socket and stop the timers of this connection; nothing outstanding. */
void esme_close_bev(struct esme *e)
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

/* Close once the output buffer is flushed (after unbind_resp or generic_nack). */
void esme_close_after_flush(struct esme *e, const char *why)
{
	if (!e->bev) {
		return;
	}
	e->state = ES_CLOSING;
	e->close_why = why;
	bufferevent_disable(e->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(e->bev)) == 0) {
		esme_conn_lost(e, why);
		return;
	}
	esme_arm(e->flush_ev, ESME_FLUSH_WAIT_MS);
}

void esme_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	log_warn("[%s] event=flush_timeout", e->name);
	esme_conn_lost(e, e->close_why ? e->close_why : "closed");
}

void esme_send_bind(struct esme *e)
{
	uint8_t b[256];
	uint32_t cmd = e->mode == EM_TX   ? SMPP_BIND_TRANSMITTER
	               : e->mode == EM_RX ? SMPP_BIND_RECEIVER
	                                  : SMPP_BIND_TRANSCEIVER;
	e->bind_seq = esme_take_seq(e);
	int n = smpp_build_bind(b, sizeof b, cmd, e->bind_seq, e->cfg->system_id ? e->cfg->system_id : "",
	                        e->cfg->password ? e->cfg->password : "",
	                        e->cfg->system_type ? e->cfg->system_type : "");
	if (n < 0) {
		log_error("[%s] event=bind_build_failed err=%d (system_id/password/system_type too long?)",
		          e->name, n);
		esme_conn_lost(e, "bind_build_failed");
		return;
	}
	esme_send_bytes(e, b, (size_t)n);
	e->state = ES_BINDING;
	esme_arm(e->bind_ev, esme_resp_ms(e));
	log_info("[%s] event=bind_sent cmd=%s system_id=%s seq=%u", e->name, smpp_cmd_name(cmd),
	         e->cfg->system_id ? e->cfg->system_id : "", e->bind_seq);
}

void esme_bind_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	log_warn("[%s] event=%s_timeout", e->name, e->state == ES_CONNECTING ? "connect" : "bind");
	esme_conn_lost(e, e->state == ES_CONNECTING ? "connect_timeout" : "bind_timeout");
}

static void el_timer_arm(struct esme *e, int64_t ms)
{
	if (e->cfg->enquire_link_s > 0)
		esme_arm(e->el_ev, ms);
}

void esme_bind_result(struct esme *e, uint32_t status)
{
	evtimer_del(e->bind_ev);
	e->bind_seq = 0;
	if (status != 0) {
		log_warn("[%s] event=bind_refused status=%s", e->name, smpp_status_word(status));
		esme_conn_lost(e, "bind_refused");
		return;
	}
	int64_t now = esme_now_ms();
	e->state = ES_BOUND;
	e->bound = 1;
	if (e->paused && e->bev) /* backpressure outlives a reconnect */
		bufferevent_disable(e->bev, EV_READ);
	e->backoff_attempt = 0;
	e->last_rx = now;
	e->tok_last = now;
	e->tokens = e->cfg->tps > 0 ? esme_tps_rate(e, now) : 0;
	el_timer_arm(e, (int64_t)e->cfg->enquire_link_s * 1000);
	log_info("[%s] event=bound host=%s port=%d queued_parts=%d", e->name, e->cfg->host,
	         e->cfg->port, e->queued);
	if (e->shutting) {
		esme_send_unbind(e);
		return;
	}
	esme_pump(e);
	if (e->cbs->on_state)
		e->cbs->on_state(e->arg, e, 1);
	esme_schedule_ready(e);
}

void esme_el_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->state != ES_BOUND && e->state != ES_UNBINDING)
		return;
	int64_t el_ms = (int64_t)e->cfg->enquire_link_s * 1000;
	int64_t idle = esme_now_ms() - e->last_rx;
	if (idle >= el_ms && e->el_seq == 0) {
		e->el_seq = esme_take_seq(e);
		esme_send_header(e, SMPP_ENQUIRE_LINK, 0, e->el_seq);
		esme_arm(e->el_resp_ev, esme_resp_ms(e));
		log_debug("[%s] event=enquire_link seq=%u", e->name, e->el_seq);
		el_timer_arm(e, el_ms);
	} else {
		el_timer_arm(e, idle >= el_ms ? el_ms : el_ms - idle);
	}
}

void esme_el_resp_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	log_warn("[%s] event=enquire_link_timeout seq=%u", e->name, e->el_seq);
	esme_conn_lost(e, "link_dead");
}

void esme_send_unbind(struct esme *e)
{
	evtimer_del(e->shut_ev);
	e->unbind_seq = esme_take_seq(e);
	esme_send_header(e, SMPP_UNBIND, 0, e->unbind_seq);
	e->state = ES_UNBINDING;
	int64_t w = esme_resp_ms(e);
	esme_arm(e->unbind_ev, w > ESME_UNBIND_WAIT_MS ? ESME_UNBIND_WAIT_MS : w);
	log_info("[%s] event=unbind_sent seq=%u inflight=%d", e->name, e->unbind_seq, e->inflight);
}

void esme_unbind_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	esme_conn_lost(arg, "unbind_timeout");
}

void esme_shut_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->state == ES_BOUND) {
		/* what is still in flight goes back to the gateway's outbox (conn_lost,
		 * gw_reap); MOs not answered are delivered again by the SMSC */
		log_warn("[%s] event=shutdown_wait_timeout inflight=%d answers_pending=%d", e->name, e->inflight,
		         e->answers_pending);
		esme_send_unbind(e);
	}
}
