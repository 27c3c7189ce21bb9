/* esme_mo: MOs from the SMSC: concatenated sets reassembled, handed to the gateway, answered after its effect. */
#include "esme_int.h"

/* ---------- MO ---------- */

static uint64_t mo_token(struct esme *e, uint32_t cmd, uint32_t seq)
{
	return (uint64_t)(e->gen & ESME_GEN_MASK) << 33 | (uint64_t)(cmd == SMPP_DATA_SM) << 32 | seq;
}

void esme_mo_free(struct esme *e, struct esme_mo *mo)
{
	TAILQ_REMOVE(&e->mos, mo, link);
	e->nmos--;
	for (int i = 0; i < mo->total; i++)
		free(mo->part[i].data);
	free(mo);
}

static void mo_sweep(struct esme *e)
{
	int64_t now = esme_now_ms();
	struct esme_mo *mo, *next;
	for (mo = TAILQ_FIRST(&e->mos); mo; mo = next) {
		next = TAILQ_NEXT(mo, link);
		int64_t ttl = mo->handed ? ESME_MO_HANDED_TTL_MS : ESME_MO_TTL_MS;
		if (now - mo->first >= ttl) {
			char m[PHONE_MAX];
			phone_mask(mo->src, m);
			log_warn("[%s] event=mo_parts_expired from=%s ref=%u have=%d total=%d handed=%d",
			         e->name, m, mo->ref & 0xFFFF, mo->have, mo->total, mo->handed);
			esme_mo_free(e, mo);
		}
	}
	if (e->nmos > 0 && !evtimer_pending(e->mo_ev, NULL))
		esme_arm(e->mo_ev, ESME_MO_SWEEP_MS);
}

void esme_mo_sweep_cb(evutil_socket_t fd, short what, void *arg)
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
		esme_send_sm_resp(e, h->id | 0x80000000u, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	int r = text_decode(dc, bytes, n, text, cap);
	if (r < 0)
		text[0] = '\0';
	char m[PHONE_MAX];
	phone_mask(sm->src_addr, m);
	log_info("[%s] event=mo from=%s parts=%d dc=%u chars_bytes=%d ussd_op=%d token=%llu", e->name,
	         m, parts, dc, r, sm->has_ussd_op ? sm->ussd_op : -1, (unsigned long long)token);
	if (e->cbs->on_mo) {
		e->answers_pending++; /* until esme_answer: a shutdown waits for it */
		e->cbs->on_mo(e->arg, e, token, sm->src_addr, text, sm);
	}
	else
		esme_send_sm_resp(e, h->id | 0x80000000u, 0, h->seq);
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
			esme_send_sm_resp(e, resp, SMPP_ESME_RINVMSGLEN, h->seq);
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
		e->answers_pending++; /* until esme_answer */
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
		esme_send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	if (!mo) {
		if (e->nmos >= ESME_MO_MAX_SETS) {
			log_warn("[%s] event=mo_sets_full n=%d", e->name, e->nmos);
			esme_send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
			return;
		}
		mo = calloc(1, sizeof *mo + (size_t)total * sizeof mo->part[0]);
		if (!mo) {
			esme_send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
			return;
		}
		snprintf(mo->src, sizeof mo->src, "%s", sm->src_addr);
		mo->ref = ref;
		mo->total = total;
		mo->dc = sm->data_coding;
		mo->first = esme_now_ms();
		TAILQ_INSERT_TAIL(&e->mos, mo, link);
		e->nmos++;
		if (!evtimer_pending(e->mo_ev, NULL))
			esme_arm(e->mo_ev, ESME_MO_SWEEP_MS);
	}
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy) {
		esme_send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
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
		esme_send_sm_resp(e, resp, 0, h->seq);
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
		esme_send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
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
	mo->first = esme_now_ms();
	mo_deliver(e, h, sm, mo->dc, joined, all, token, total);
	free(joined);
}

void esme_handle_sm(struct esme *e, const struct smpp_hdr *h, const uint8_t *pdu, size_t len)
{
	uint32_t resp = h->id | 0x80000000u;
	if (e->state != ES_BOUND && e->state != ES_UNBINDING) {
		esme_send_sm_resp(e, resp, SMPP_ESME_RINVBNDSTS, h->seq);
		return;
	}
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	uint32_t st = smpp_decode_sm(pdu, len, &sm);
	if (st != 0) {
		log_warn("[%s] event=decode_failed cmd=%s seq=%u status=%s", e->name, smpp_cmd_name(h->id),
		         h->seq, smpp_status_word(st));
		esme_send_sm_resp(e, resp, st, h->seq);
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
	} else if (sm.esm_class & 0x3C) {
		/* a receipt with UDHI (esm_class 0x44, some SMSCs): its text after
		 * the UDH, or all of it when the flag came with no UDH ("id:...") */
		struct smpp_ud ud;
		size_t cap = rawn * 3 + 4;
		text = malloc(cap);
		if (text && (smpp_user_data(&sm, &ud) < 0 ||
		             text_decode(sm.data_coding, ud.text, ud.text_len, text, cap) < 0 ||
		             !esme_find_key(text, "id:")) &&
		    text_decode(sm.data_coding, raw, rawn, text, cap) < 0)
			text[0] = '\0';
	}
	int receipt = (sm.esm_class & 0x3C) || (sm.has_receipted_id && sm.has_message_state);
	if (!receipt && text) {
		char *probe = strdup(text);
		receipt = probe && esme_text_is_receipt(probe);
		free(probe);
	}
	if (receipt) {
		if (text) {
			char *t = (char *)esme_find_key(text, "text:");
			if (t)
				*t = '\0';
		}
		esme_handle_receipt(e, h, &sm, text);
		free(text);
		return;
	}
	free(text);
	if (e->shutting) {
		esme_send_sm_resp(e, resp, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	handle_mo(e, h, &sm);
}

