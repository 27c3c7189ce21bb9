/* esme_rx: reading the SMSC: framing, requests answered, responses matched by sequence number. */
#include "esme_int.h"

/* ---------- incoming PDUs ---------- */

static void handle_resp(struct esme *e, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	if (h->seq != 0 && h->seq == e->bind_seq &&
	    (h->id == SMPP_BIND_TRANSCEIVER_RESP || h->id == SMPP_BIND_TRANSMITTER_RESP ||
	     h->id == SMPP_BIND_RECEIVER_RESP || h->id == SMPP_GENERIC_NACK)) {
		uint32_t st = h->status;
		if (h->id == SMPP_GENERIC_NACK && st == 0)
			st = SMPP_ESME_RBINDFAIL;
		esme_bind_result(e, st);
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
		log_info("[%s] event=unbind_resp status=%s", e->name, smpp_status_word(h->status));
		e->unbind_seq = 0;
		esme_conn_lost(e, "unbound");
		return;
	}
	struct esme_slot *s = NULL;
	if (h->id == SMPP_SUBMIT_SM_RESP || h->id == SMPP_GENERIC_NACK)
		s = esme_slot_find(e, h->seq);
	if (!s) {
		log_warn("[%s] event=unmatched_response cmd=%s seq=%u status=%s", e->name,
		         smpp_cmd_name(h->id), h->seq, smpp_status_word(h->status));
		return;
	}
	if (h->id == SMPP_SUBMIT_SM_RESP) { /* the pace the SMSC answers at (esme_room) */
		double ms = (double)(esme_now_ms() - s->sent_ms);
		e->resp_avg_ms = e->resp_avg_ms > 0 ? 0.9 * e->resp_avg_ms + 0.1 * ms : (ms > 0.1 ? ms : 0.1);
	}
	uint32_t st = h->status;
	char id[66] = "";
	if (h->id == SMPP_GENERIC_NACK) {
		if (st == 0)
			st = SMPP_ESME_RSYSERR; /* a nack that says "OK": retry */
		log_warn("[%s] event=generic_nack seq=%u status=%s", e->name, h->seq,
		         smpp_status_word(st));
	} else if (st == 0 && smpp_decode_resp_msgid(pdu, len, id) != 0) {
		id[0] = '\0';
		log_warn("[%s] event=resp_msgid_undecodable seq=%u", e->name, h->seq);
	}
	esme_part_result(e, s, st, id, 0);
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
		esme_handle_sm(e, h, pdu, len);
		break;
	case SMPP_ENQUIRE_LINK:
		esme_send_header(e, SMPP_ENQUIRE_LINK_RESP, 0, h->seq);
		break;
	case SMPP_UNBIND:
		log_info("[%s] event=unbind_by_smsc seq=%u", e->name, h->seq);
		esme_send_header(e, SMPP_UNBIND_RESP, 0, h->seq);
		esme_close_after_flush(e, "unbind_by_smsc");
		break;
	case 0x00000102u: /* alert_notification: no response exists */
	case 0x0000000Bu: /* outbind: no response exists */
		log_info("[%s] event=ignored cmd=%s seq=%u", e->name, smpp_cmd_name(h->id), h->seq);
		break;
	default:
		log_warn("[%s] event=invalid_command cmd=0x%08x seq=%u", e->name, h->id, h->seq);
		esme_send_header(e, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDID, h->seq);
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
		if (e->paused && e->state == ES_BOUND)
			return; /* backpressure came with the last PDU: the rest waits (esme_pause_reading) */
		struct smpp_hdr h;
		uint32_t seq;
		int r = smpp_link_read(in, pdu, &h, &seq);
		if (r < 0) {
			log_warn("[%s] event=framing_error", e->name);
			esme_send_header(e, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDLEN, seq);
			esme_close_after_flush(e, "framing_error");
			return;
		}
		if (r == 0)
			return;
		e->last_rx = esme_now_ms();
		handle_pdu(e, &h, pdu, (size_t)r);
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct esme *e = arg;
	if (e->state == ES_CLOSING && e->bev == bev &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		esme_conn_lost(e, e->close_why ? e->close_why : "closed");
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
		esme_send_bind(e);
		return;
	}
	int err = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_EOF)
		esme_conn_lost(e, e->state == ES_CLOSING && e->close_why ? e->close_why : "eof");
	else if (what & BEV_EVENT_ERROR) {
		log_warn("[%s] event=socket_error state=%d err=\"%s\"", e->name, (int)e->state,
		         evutil_socket_error_to_string(err));
		esme_conn_lost(e, e->state == ES_CONNECTING ? "connect_failed" : "socket_error");
	} else
		esme_conn_lost(e, "timeout");
}

void esme_conn_start(struct esme *e)
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
		esme_reconnect_schedule(e);
		return;
	}
	e->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!e->bev) {
		freeaddrinfo(ai);
		esme_reconnect_schedule(e);
		return;
	}
	bufferevent_setcb(e->bev, read_cb, write_cb, event_cb, e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
	e->state = ES_CONNECTING;
	esme_arm(e->bind_ev, esme_resp_ms(e));
	log_info("[%s] event=connecting host=%s port=%d", e->name, e->cfg->host, e->cfg->port);
	if (bufferevent_socket_connect(e->bev, ai->ai_addr, (int)ai->ai_addrlen) < 0) {
		freeaddrinfo(ai);
		esme_conn_lost(e, "connect_failed");
		return;
	}
	freeaddrinfo(ai);
}

void esme_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct esme *e = arg;
	if (e->state == ES_IDLE && !e->shutting)
		esme_conn_start(e);
}

