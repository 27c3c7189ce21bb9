/* gw_moparts: citizens' long replies (concatenated MOs), on the asynchronous
 * Redis connection. The parts are kept in Redis, not in this process: when
 * several gateways are bound to one SMSC, the parts of one message may reach
 * different gateways, and a part already answered must survive a crash. Each
 * part is answered once stored (MOPART); the part that completes the set
 * hands the whole text to the reply path (gw_mo.c, in order with the
 * number's other replies) and is answered once the reply it makes is stored
 * and its set marked handled (MOEND). A set with no new part for
 * GW_MOPART_AGE is dropped (MOSWEEP at the lease tick; logged, counted). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "esme.h"
#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "store.h"
#include "text.h"

#define GW_MOPART_TTL 7200  /* a set's key (safety net behind the sweep) */
#define GW_MOPART_AGE 3600  /* an incomplete set is dropped after this without a part */
#define GW_MOPART_DONE 600  /* a handled set is kept to recognise redelivered parts */
#define GW_MOPART_BUSY 60   /* a completed set is one caller's for at most this */

/* One part on its way: its MOPART, then (the last part) the reply and MOEND. */
struct gw_mopart {
	struct gw *g;
	int smsc;
	unsigned epoch;     /* the session's; its esme is valid while it holds */
	uint64_t token;
	double t_reply;
	int seq, total;
	char key[256];
	char from[PHONE_MAX * 2];
	char mask[PHONE_MAX];
	uint32_t status;    /* what the last part is answered once MOEND is back */
	struct gw_mojob *place; /* its place in the number's line of replies (NULL: none) */
};

/* Decodes the parts {dc1, hex1, ..., dcN, hexN}: runs of parts with one
 * data_coding are joined before decoding (a GSM escape or a UTF-16 pair may
 * straddle two parts). Returns a malloc'd UTF-8 string or NULL. */
static char *gw_mo_join(const struct store_list *l)
{
	size_t all = 0;
	for (size_t i = 1; i < l->n; i += 2)
		all += l->e[i].kind == STORE_STR ? l->e[i].len / 2 : 0;
	uint8_t *bytes = malloc(all + 1);
	size_t cap = all * 3 + 4, used = 0;
	char *text = malloc(cap);
	if (!bytes || !text) {
		free(bytes);
		free(text);
		return NULL;
	}
	text[0] = '\0';
	size_t i = 0;
	while (i + 1 < l->n) {
		const char *dc = l->e[i].kind == STORE_STR ? l->e[i].s : "0";
		size_t n = 0;
		for (; i + 1 < l->n; i += 2) {
			const struct store_item *d = &l->e[i], *p = &l->e[i + 1];
			if (d->kind != STORE_STR || strcmp(d->s, dc) != 0)
				break;
			size_t got = 0;
			if (p->kind == STORE_STR && sodium_hex2bin(bytes + n, all - n, p->s, p->len, NULL, &got, NULL) == 0)
				n += got;
		}
		int w = text_decode(atoi(dc), bytes, n, text + used, cap - used);
		if (w > 0)
			used += (size_t)w;
		text[used] = '\0';
		if (i + 1 < l->n && l->e[i].kind != STORE_STR)
			i += 2; /* a part without its coding: skipped */
	}
	free(bytes);
	return text;
}

static void gw_mopart_answer(struct gw_mopart *p, uint32_t status)
{
	if (p->place)
		gw_mo_go(p->place, NULL);
	gw_answer(p->g, p->smsc, p->epoch, p->token, status);
	free(p);
}

static void gw_mopart_on_end(void *arg, int rc, long long v, const char *err)
{
	struct gw_mopart *p = arg;
	(void)v;
	if (rc < 0) /* the set stays busy until GW_MOPART_BUSY, then is redone */
		log_warn("[%s] mo from=%s parts=%d msg=\"could not mark the message handled\" err=\"%s\"",
		         p->g->cfg->smsc[p->smsc].name, p->mask, p->total, err ? err : "");
	gw_mopart_answer(p, p->status);
}

/* The set's reply is stored (status 0) or not: MOEND says so (handled, or
 * free to be completed again by the SMSC's redelivery of this part), then
 * the part is answered. */
static void gw_mopart_end(struct gw *g, void *arg, uint32_t status)
{
	struct gw_mopart *p = arg;
	char sttl[12], sdone[12];
	snprintf(sttl, sizeof sttl, "%d", GW_MOPART_TTL);
	snprintf(sdone, sizeof sdone, "%d", GW_MOPART_DONE);
	const char *keys[] = {p->key, GW_K_MOSETS};
	const char *args[] = {status == SMPP_ESME_ROK ? "1" : "0", sttl, sdone};
	p->status = status;
	if (g->closing || store_async_run_int(g->store, STORE_MOEND, 2, keys, 3, args, gw_mopart_on_end, p) < 0)
		gw_mopart_answer(p, status);
}

/* The whole message is here: it is read as any reply. */
static void gw_mopart_complete(struct gw_mopart *p, const struct store_list *parts)
{
	struct gw *g = p->g;
	const char *name = g->cfg->smsc[p->smsc].name;
	struct esme *e = g->esme_epoch[p->smsc] == p->epoch ? g->esme[p->smsc] : NULL;
	char *text = gw_mo_join(parts);
	if (!text || !e || g->closing) {
		/* no memory, or the session is gone (its answer would go nowhere):
		 * not handled, the SMSC delivers the last part again */
		free(text);
		gw_mopart_end(g, p, SMPP_ESME_RX_T_APPN);
		return;
	}
	log_info("[%s] mo from=%s parts=%d msg=\"concatenated message complete\"", name, p->mask, p->total);
	char msisdn[PHONE_MAX];
	uint32_t status;
	if (gw_sms_trigger_then(g, e, p->token, p->from, text, gw_mopart_end, p)) {
		/* an office's trigger: the part answered once it is stored */
	} else if (gw_mo_front(g, e, p->from, msisdn, &status)) {
		gw_mopart_end(g, p, status);
	} else if (p->place) {
		/* in the line it kept since its part came: the number's replies in order */
		struct gw_mojob *j = p->place;
		p->place = NULL;
		gw_mo_go(j, text);
	} else {
		gw_mo_async_then(g, e, p->token, msisdn, text, p->t_reply, gw_mopart_end, p);
	}
	free(text);
}

/* MOPART's reply: the number of parts held, or (l->e[0] nested) the whole
 * set's parts. */
static void gw_mopart_on_reply(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_mopart *p = arg;
	struct gw *g = p->g;
	const char *name = g->cfg->smsc[p->smsc].name;
	if (rc < 0 || l->n < 1) {
		g->counters[GW_REDIS_ERR]++;
		g->counters[GW_MO_RETRY]++;
		log_warn("[%s] mo from=%s part=%d/%d msg=\"cannot store now, SMSC will retry\" err=\"%s\"", name,
		         p->mask, p->seq, p->total, err ? err : "no reply");
		gw_mopart_answer(p, SMPP_ESME_RX_T_APPN);
		return;
	}
	const struct store_item *r = &l->e[0];
	if (r->kind == STORE_INT) {
		uint32_t st = SMPP_ESME_ROK;
		if (r->i == -1) {
			st = SMPP_ESME_RX_T_APPN; /* its set is being handled right now */
			log_info("[%s] mo from=%s part=%d/%d msg=\"its message is being handled, SMSC will retry\"", name,
			         p->mask, p->seq, p->total);
		} else if (r->i == -2) {
			log_info("[%s] mo from=%s part=%d/%d msg=\"part of a message already taken, ignored\"", name,
			         p->mask, p->seq, p->total);
		} else {
			log_debug("[%s] mo from=%s part=%d/%d have=%lld", name, p->mask, p->seq, p->total, r->i);
		}
		gw_mopart_answer(p, st);
		return;
	}
	if (r->kind == STORE_NESTED && r->sub->n == 2 * (size_t)p->total)
		gw_mopart_complete(p, r->sub);
	else
		gw_mopart_end(g, p, SMPP_ESME_RX_T_APPN);
}

void gw_on_mo_part(void *arg, struct esme *e, uint64_t token, const struct smpp_sm *sm,
                   uint32_t ref, int total, int seq, const uint8_t *bytes, size_t n)
{
	struct gw *g = arg;
	int smsc = gw_esme_index(g, e);
	struct gw_mopart *p = smsc >= 0 ? calloc(1, sizeof *p) : NULL;
	char *hex = p ? malloc(2 * n + 1) : NULL;
	if (!hex) {
		free(p);
		esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return;
	}
	p->g = g;
	p->smsc = smsc;
	p->epoch = g->esme_epoch[smsc];
	p->token = token;
	p->t_reply = gw_clock();
	p->seq = seq;
	p->total = total;
	snprintf(p->from, sizeof p->from, "%s", sm->src_addr);
	phone_mask(sm->src_addr, p->mask);
	sodium_bin2hex(hex, 2 * n + 1, bytes, n);
	/* the addresses in hex: whatever the network sends, one key per set */
	char hsrc[2 * sizeof sm->src_addr + 1], hdst[2 * sizeof sm->dst_addr + 1];
	sodium_bin2hex(hsrc, sizeof hsrc, (const unsigned char *)sm->src_addr, strlen(sm->src_addr));
	sodium_bin2hex(hdst, sizeof hdst, (const unsigned char *)sm->dst_addr, strlen(sm->dst_addr));
	snprintf(p->key, sizeof p->key, GW_K_MO "%s:%s:%s:%u:%d", esme_name(e), hsrc, hdst, ref, total);
	char sseq[12], stotal[12], sdc[8], sttl[12], snow[24], sbusy[12];
	snprintf(sseq, sizeof sseq, "%d", seq);
	snprintf(stotal, sizeof stotal, "%d", total);
	snprintf(sdc, sizeof sdc, "%u", sm->data_coding);
	snprintf(sttl, sizeof sttl, "%d", GW_MOPART_TTL);
	snprintf(snow, sizeof snow, "%" PRId64, gw_now());
	snprintf(sbusy, sizeof sbusy, "%d", GW_MOPART_BUSY);
	const char *keys[] = {p->key, GW_K_MOSETS};
	const char *args[] = {sseq, stotal, sdc, hex, sttl, snow, sbusy};
	/* the number's later replies wait behind this part until its MOPART
	 * says whether it completes a message (a short reply sent after a long
	 * one is read after it) */
	char msisdn[PHONE_MAX], why[64];
	if (phone_normalize(sm->src_addr, msisdn, why, sizeof why) == 0)
		p->place = gw_mo_hold(g, e, token, msisdn, p->t_reply, gw_mopart_end, p);
	int rc = store_async_run_any(g->store, STORE_MOPART, 2, keys, 7, args, gw_mopart_on_reply, p);
	free(hex);
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		g->counters[GW_MO_RETRY]++;
		log_warn("[%s] mo from=%s part=%d/%d msg=\"cannot store now, SMSC will retry\" err=\"Redis cannot be "
		         "reached\"", esme_name(e), p->mask, seq, total);
		gw_mopart_answer(p, SMPP_ESME_RX_T_APPN);
	}
}

static void gw_mo_on_sweep(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw *g = arg;
	g->mo_sweeping = 0;
	if (rc < 0) {
		if (!g->closing)
			log_warn("mo_parts_sweep msg=\"failed, next tick\" err=\"%s\"", err ? err : "");
		return;
	}
	for (size_t i = 0; i + 1 < l->n; i += 2) {
		g->counters[GW_MO_PARTS_EXPIRED]++;
		/* the key names the set; its addresses are hex, not shown */
		const char *k = l->e[i].kind == STORE_STR ? l->e[i].s : "";
		const char *tail = strrchr(k, ':');
		log_warn("mo_parts_expired parts=%lld total=%s msg=\"a long reply never completed within %d s, "
		         "dropped\"", l->e[i + 1].i, tail ? tail + 1 : "?", GW_MOPART_AGE);
	}
}

void gw_mo_sweep(struct gw *g)
{
	if (g->mo_sweeping || g->closing)
		return;
	char before[24];
	snprintf(before, sizeof before, "%" PRId64, gw_now() - GW_MOPART_AGE);
	const char *keys[] = {GW_K_MOSETS};
	const char *args[] = {before, "100"};
	if (store_async_run_list(g->store, STORE_MOSWEEP, 1, keys, 2, args, gw_mo_on_sweep, g) == 0)
		g->mo_sweeping = 1;
}
