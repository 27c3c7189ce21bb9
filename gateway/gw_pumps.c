/* gw_pumps: the outbox pump to the SMSC sessions, their outcomes and receipts, the archive pump to SQLite. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "archive.h"
#include "archiver.h"
#include "esme.h"
#include "gw_int.h"
#include "log.h"
#include "optout.h"
#include "record.h"
#include "store.h"
#include "survey.h"

/* ---- sending ---- */

static void gw_item_failed(struct gw *g, const char *id, int q, int first, const char *reason);

int gw_item_unsent(struct gw *g, const char *survey, int q)
{
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		if (f->q == q && f->prev >= -1 && f->prev < q && strcmp(f->survey, survey) == 0 &&
		    f->smsc < g->nesme && esme_unsent(g->esme[f->smsc], f->tag))
			return 1;
	return 0;
}

/* Hands one outbox entry (taken into our sending list) to SMSC i's session;
 * may_wait: taken while esme_room allows, to wait in the session's queue
 * (the direct path, see gw_direct_smsc). 0, -EAGAIN (no room: the caller
 * puts it back), or another error (the entry cannot be sent: the caller
 * drops it). */
static int gw_submit_entry(struct gw *g, int i, const char *entry, int may_wait)
{
	json_error_t je;
	json_t *o = json_loads(entry, 0, &je);
	const char *to = json_string_value(json_object_get(o, "to"));
	const char *text = json_string_value(json_object_get(o, "text"));
	const char *sid = json_string_value(json_object_get(o, "s"));
	int first = json_is_true(json_object_get(o, "first"));
	json_t *jq = json_object_get(o, "q");
	json_int_t enc = json_integer_value(json_object_get(o, "enc"));
	struct gw_inflight *f = calloc(1, sizeof *f);
	int rc = -EINVAL;
	if (f && to && text && (f->json = strdup(entry)) != NULL) {
		struct esme_msg msg = {.tag = ++g->next_tag, .dst = to, .text = text,
		                       .enc = (enum text_encoding)enc, .ussd_op = -1, .may_wait = may_wait};
		json_t *jop = json_object_get(o, "op"), *jsi = json_object_get(o, "si"),
		       *jumr = json_object_get(o, "umr");
		if (json_is_integer(jop)) {
			/* a USSD screen (gw_ussd.c): one submit_sm with the link's service_type */
			msg.ussd_op = (int)(json_integer_value(jop) & 0xFF);
			msg.service_type = g->cfg->smsc[i].ussd_service_type;
			if (json_is_integer(jsi)) {
				msg.has_sess = 1;
				msg.sess[0] = (uint8_t)(json_integer_value(jsi) >> 8);
				msg.sess[1] = (uint8_t)json_integer_value(jsi);
			}
			if (json_is_integer(jumr)) {
				msg.has_umr = 1;
				msg.umr = (uint16_t)json_integer_value(jumr);
			}
		}
		f->tag = msg.tag;
		f->hash = gw_hash64(entry);
		f->smsc = i;
		f->q = json_is_integer(jq) ? (int)json_integer_value(jq) : -1;
		f->first = first;
		json_t *jp = json_object_get(o, "p");
		f->prev = json_is_integer(jp) ? (int)json_integer_value(jp) : -2;
		if (sid && f->q >= 0)
			snprintf(f->survey, sizeof f->survey, "%s", sid);
		f->handed_at = gw_clock();
		rc = esme_submit(g->esme[i], &msg);
		if (rc == 0 && f->survey[0] && !first)
			gw_reply_sent(g, f->survey, f->handed_at);
		if (rc == 0 && f->survey[0]) /* the survey's path: tag= leads to submit, sent and msgid */
			log_info("[%s] event=item survey=%s item=%d tag=%llu", g->cfg->smsc[i].name, f->survey, f->q,
			         (unsigned long long)msg.tag);
	}
	if (!f || (to && text && !f->json))
		rc = -ENOMEM; /* this process, not the message: try again */
	if (rc == 0) {
		f->next = g->inflight;
		g->inflight = f;
	} else if (f) {
		free(f->json);
		free(f);
	}
	if (rc != 0 && rc != -EAGAIN && rc != -ENOMEM && sid && json_is_integer(jq) && json_integer_value(jq) >= 0)
		gw_item_failed(g, sid, (int)json_integer_value(jq), first, "text cannot be sent");
	json_decref(o);
	return rc;
}

/* 1 when this entry is one our sessions hold (in flight) or sent and still
 * to be removed from our list. */
static int gw_in_hand(const struct gw *g, int smsc, const char *entry)
{
	uint64_t h = gw_hash64(entry);
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		if (f->hash == h && f->smsc == smsc && strcmp(f->json, entry) == 0)
			return 1;
	for (const struct gw_inflight *f = g->removals; f; f = f->next)
		if (f->hash == h && f->smsc == smsc && strcmp(f->json, entry) == 0)
			return 1;
	return gw_committing_has(g, smsc, entry);
}

int gw_committing_has(const struct gw *g, int smsc, const char *entry)
{
	for (const struct gw_commit *k = g->committing; k; k = k->next)
		for (int i = 0; k->direct == smsc && i < k->nout; i++)
			if (strcmp(k->entries[i], entry) == 0)
				return 1;
	return 0;
}

/* PUTBACK of a's (entry, sq before) pairs from a sending list to its outbox
 * (bad: a could not be built whole: nothing runs, the sweep will); frees a.
 * who names the SMSC in the log. */
static void gw_putback(struct gw *g, const char *who, const char *k_send, const char *k_out, struct record_strv *a,
                       int bad)
{
	char err[256] = "out of memory";
	const char *pk[] = {k_send, k_out};
	int rc = !bad && a->n ? store_run(g->store, STORE_PUTBACK, 2, pk, a->n, (const char **)a->v, err, sizeof err)
	                      : -ENOMEM;
	if (rc < 0 && a->n)
		log_warn("[%s] outbox msg=\"could not put messages back, the sweep will\" err=\"%s\"", who, err);
	record_strv_free(a);
}

int gw_submit_now(struct gw *g, int i, char **entries, int n, const char *prev_sq)
{
	int k = 0;
	for (; k < n; k++) {
		int before = esme_room(g->esme[i]), free_slot = esme_capacity(g->esme[i]) > 0;
		int rc = gw_submit_entry(g, i, entries[k], 1);
		if (rc == 0) {
			g->counters[free_slot ? GW_MT_DIRECT : GW_MT_QUEUED]++;
			int used = before - esme_room(g->esme[i]);
			g->parts_avg[i] = 0.8 * g->parts_avg[i] + 0.2 * (used < 1 ? 1 : used);
			continue;
		}
		if (rc == -EAGAIN || rc == -ENOMEM)
			break; /* no room after all: this one and the rest go back */
		char err[256], k_send[160];
		gw_sending_key(g, i, k_send, sizeof k_send);
		log_error("[%s] entry not sendable rc=%d msg=\"dropped\"", g->cfg->smsc[i].name, rc);
		if (store_exec(g->store, err, sizeof err, "LREM %s 1 %s", k_send, entries[k]) < 0)
			g->counters[GW_REDIS_ERR]++; /* still listed: the sweep gives it back, and it is dropped again */
	}
	if (k == n)
		return n;
	/* back to the head of the outbox, in order, sq as it was */
	struct record_strv a = {0};
	int bad = 0;
	for (int j = k; j < n; j++)
		bad |= record_strv_add(&a, entries[j]) || record_strv_add(&a, strcmp(prev_sq, "-1") ? prev_sq : "");
	char k_send[160], k_out[96];
	gw_sending_key(g, i, k_send, sizeof k_send);
	gw_key(k_out, sizeof k_out, GW_K_OUTBOX, g->cfg->smsc[i].name);
	gw_putback(g, g->cfg->smsc[i].name, k_send, k_out, &a, bad);
	g->out_backlog[i] = 1;
	event_active(g->ev_outbox, 0, 0);
	return k;
}

/* A TAKE on its way (the asynchronous connection): how many messages it
 * asked for (room reserved for them meanwhile) and the session it was for. */
struct gw_take {
	struct gw *g;
	int smsc, want;
	unsigned epoch;
	char k_send[160], k_out[96];
};

/* The messages of a TAKE's reply from index k on did not leave: back to the
 * head of the outbox, in order, with their survey's "sq" as it was. */
static void gw_take_putback(struct gw *g, const struct gw_take *t, const struct store_list *l, size_t k)
{
	size_t n = l->n / 3;
	struct record_strv a = {0};
	int bad = 0;
	for (size_t j = k; j < n; j++) {
		const struct store_item *flag = &l->e[3 * j], *ent = &l->e[3 * j + 1], *prev = &l->e[3 * j + 2];
		if (ent->kind != STORE_STR || (flag->kind == STORE_INT && flag->i == 0) ||
		    (t->epoch == g->esme_epoch[t->smsc] && gw_in_hand(g, t->smsc, ent->s)))
			continue;
		bad |= record_strv_add(&a, ent->s) || record_strv_add(&a, prev->kind == STORE_STR ? prev->s : "");
	}
	gw_putback(g, t->k_out, t->k_send, t->k_out, &a, bad);
}

/* A TAKE's reply: its entries handed to the session or put back. */
static void gw_take_hand(struct gw_take *t, int took, const struct store_list *r, const char *err)
{
	struct gw *g = t->g;
	int i = t->smsc;
	if (took < 0) {
		/* whatever it moved stays in our sending list, held by no session:
		 * the sweep gives it back at the next lease tick */
		g->counters[GW_REDIS_ERR]++;
		if (!g->closing)
			log_warn("[%s] outbox msg=\"TAKE failed\" err=\"%s\"", g->cfg->smsc[i].name,
			         err ? err : "unexpected reply");
		return;
	}
	size_t n = r->n / 3, k = 0;
	int more = g->take_again[i] || n == (size_t)t->want;
	g->out_backlog[i] = n == (size_t)t->want;
	g->take_again[i] = 0;
	if (g->closing || t->epoch != g->esme_epoch[i]) {
		/* shutting down, or the session was replaced by a reload: none of
		 * them left */
		gw_take_putback(g, t, r, 0);
		return;
	}
	if (g->registered && store_connects(g->store) != g->lease_conn) {
		/* Redis was reached again since the lease was renewed: the lease
		 * first (was it lost? then what peers left is ours to take back),
		 * and these go back in line to be taken again after it */
		gw_lease_cb(-1, 0, g);
		gw_take_putback(g, t, r, 0); /* the sweep will if this fails */
		event_active(g->ev_outbox, 0, 0);
		return;
	}
	const char *name = g->cfg->smsc[i].name;
	for (; k < n; k++) {
		const struct store_item *flag = &r->e[3 * k], *ent = &r->e[3 * k + 1];
		if (ent->kind != STORE_STR)
			continue;
		if (flag->kind == STORE_INT && flag->i == 0) {
			/* an item its survey has moved past: a copy re-sent after a
			 * crash would only confuse the citizen */
			g->counters[GW_MT_STALE]++;
			log_info("[%s] outbox msg=\"stale item not sent again\"", name);
			continue;
		}
		if (gw_in_hand(g, i, ent->s)) {
			/* our own message, back in the outbox by a peer's REAP (our
			 * lease ran out): it is in flight or sent already, and its one
			 * copy is in our list again */
			log_warn("[%s] outbox msg=\"a message this gateway holds came back: not sent twice\"", name);
			continue;
		}
		int before = esme_capacity(g->esme[i]);
		int rc = gw_submit_entry(g, i, ent->s, 0);
		if (rc == 0) {
			g->counters[GW_MT_OUTBOX]++;
			int used = before - esme_capacity(g->esme[i]);
			g->parts_avg[i] = 0.8 * g->parts_avg[i] + 0.2 * (used < 1 ? 1 : used);
			continue;
		}
		if (rc == -EAGAIN || rc == -ENOMEM)
			break; /* no room (or memory) after all: this one and the rest go back */
		char e2[256];
		log_error("[%s] outbox entry not sendable rc=%d msg=\"dropped\"", name, rc);
		if (store_exec(g->store, e2, sizeof e2, "LREM %s 1 %s", t->k_send, ent->s) < 0)
			g->counters[GW_REDIS_ERR]++; /* still listed: the sweep gives it back, and it is dropped again */
	}
	if (k < n) {
		gw_take_putback(g, t, r, k);
		more = 0;
	}
	if (more)
		event_active(g->ev_outbox, 0, 0);
}

static void gw_take_on_reply(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw_take *t = arg;
	struct gw *g = t->g;
	g->reserved[t->smsc] -= t->want;
	/* taking stays set until the entries are in a session or put back: the
	 * sweep (gw_lease_cb in gw_take_hand may run it) must not give them back */
	gw_take_hand(t, rc, r, err);
	g->taking[t->smsc] = 0;
	free(t);
}

/* The outbox pump: for each session with room, one TAKE on the asynchronous
 * connection moves as many messages as the room takes from the SMSC's outbox
 * to our sending list (room reserved until its reply), and its reply hands
 * them to the session. Another comes when room frees, or at once when the
 * outbox may hold more. */
void gw_outbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	/* Redis came back since our last lease renewal: renew (and see whether
	 * the lease ran out, then take back our work) before sending anything */
	if (g->registered && store_connects(g->store) != g->lease_conn)
		gw_lease_cb(-1, 0, g);
	for (int i = 0; i < g->nesme && !g->closing; i++) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < g->send_after[i].tv_sec ||
		    (now.tv_sec == g->send_after[i].tv_sec && now.tv_nsec < g->send_after[i].tv_nsec))
			continue; /* just (re)bound: the 100 ms tick comes back */
		if (g->taking[i]) {
			g->take_again[i] = 1; /* whatever came into the outbox meanwhile: after its reply */
			continue;
		}
		int cap = esme_capacity(g->esme[i]) - g->reserved[i];
		if (cap <= 0)
			continue;
		/* as many messages as the bind takes now: capacity counts parts, so
		 * divided by the parts a message had lately (room promised to steps
		 * being committed left aside) */
		int want = (int)(cap / g->parts_avg[i]);
		want = want < 1 ? 1 : want > GW_TAKE_MAX ? GW_TAKE_MAX : want;
		struct gw_take *t = calloc(1, sizeof *t);
		if (!t)
			return;
		t->g = g;
		t->smsc = i;
		t->want = want;
		t->epoch = g->esme_epoch[i];
		gw_sending_key(g, i, t->k_send, sizeof t->k_send);
		snprintf(t->k_out, sizeof t->k_out, GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
		char smax[12], snow[24];
		snprintf(smax, sizeof smax, "%d", want);
		snprintf(snow, sizeof snow, "%" PRId64, gw_now());
		const char *tk[] = {t->k_out, t->k_send};
		const char *ta[] = {smax, snow};
		g->reserved[i] += want;
		g->taking[i] = 1;
		g->take_at[i] = gw_clock();
		if (store_async_run_list(g->store, STORE_TAKE, 2, tk, 2, ta, gw_take_on_reply, t) < 0) {
			g->reserved[i] -= want;
			g->taking[i] = 0;
			g->counters[GW_REDIS_ERR]++;
			free(t);
			return;
		}
	}
}

/* An item of a survey could not be delivered (a permanent SMPP status, or a
 * temporary one after its retries): the citizen cannot answer it, so the
 * survey is archived as failed with the status as the reason and the answers
 * given so far, if it still waits for that item (and, for the first item,
 * nothing was answered). */
static void gw_item_failed(struct gw *g, const char *id, int q, int first, const char *reason)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		struct record_meta m;
		const struct campaign *c = NULL;
		struct survey s;
		int rc = gw_load(g, id, &m, &c, &s);
		int untouched = rc == 0 && s.status == SURVEY_ACTIVE && s.q == q;
		for (int i = 0; first && untouched && c && i < c->nquestions; i++)
			untouched = s.answers[i].state == 0;
		if (untouched)
			rc = gw_finish_early(g, &m, c, &s, SURVEY_FAILED, reason);
		survey_clear(&s);
		if (!untouched || rc != 0)
			return;
	}
}

void gw_unkept_add(struct gw *g, const char *key, const char *val, const char *send_key, const char *entry)
{
	struct gw_unkept *k = calloc(1, sizeof *k);
	if (!k || !(k->key = strdup(key)) || !(k->val = strdup(val)) ||
	    (send_key && entry && (!(k->send_key = strdup(send_key)) || !(k->entry = strdup(entry))))) {
		if (k)
			gw_unkept_free(k);
		return;
	}
	k->next = g->unkept;
	g->unkept = k;
}

void gw_unkept_free(struct gw_unkept *k)
{
	free(k->key);
	free(k->val);
	free(k->send_key);
	free(k->entry);
	free(k);
}

/* 1 when a record for this key still waits to be written. */
int gw_unkept_has(const struct gw *g, const char *key)
{
	for (const struct gw_unkept *k = g->unkept; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			return 1;
	return 0;
}

static void gw_on_sent(void *arg, struct esme *e, uint64_t tag, uint32_t status, const char *msgid)
{
	struct gw *g = arg;
	struct gw_inflight **pp = &g->inflight;
	while (*pp && (*pp)->tag != tag)
		pp = &(*pp)->next;
	struct gw_inflight *f = *pp;
	if (!f)
		return;
	*pp = f->next;
	char err[256], k_send[160], k_msg[192] = "";
	char *v = NULL;
	gw_sending_key(g, f->smsc, k_send, sizeof k_send);
	if (status == SMPP_ESME_ROK && msgid && *msgid) {
		/* remembered until its receipt comes (or for three days) */
		snprintf(k_msg, sizeof k_msg, GW_K_MSG "%s:%s", g->cfg->smsc[f->smsc].name, msgid);
		json_t *o = json_pack("{s:s,s:i,s:I}", "s", f->survey, "q", f->q, "t", (json_int_t)gw_now());
		v = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	/* off our sending list and its record kept, with the other answers of
	 * this loop pass in one round trip (gw_batch.c) */
	if (gw_batch_sent(g, f->smsc, f->json, f->hash, k_msg, v) < 0) {
		const char *keys[] = {GW_K_DELIVERIES, k_send, k_msg[0] ? k_msg : GW_K_MSG "none"};
		const char *args[] = {"259200", "0", "1", f->json, v ? v : ""};
		if (store_run(g->store, STORE_SENT, 3, keys, 5, args, err, sizeof err) < 0) {
			g->counters[GW_REDIS_ERR]++;
			/* done with, but still listed: remove it when Redis is back, so
			 * that it is never taken for a message to send again */
			struct gw_inflight *d = calloc(1, sizeof *d);
			if (d && (d->json = strdup(f->json)) != NULL) {
				d->smsc = f->smsc;
				d->hash = f->hash;
				d->next = g->removals;
				g->removals = d;
			} else {
				free(d);
			}
			/* the record kept in memory until Redis is back (gw_sweep_sending),
			 * so that its receipt still finds the survey */
			if (v)
				gw_unkept_add(g, k_msg, v, k_send, f->json);
		}
	}
	free(v);
	if (status != ESME_STATUS_TIMEOUT)
		gw_hist_observe(&g->h_submit, gw_clock() - f->handed_at);
	if (status == SMPP_ESME_ROK) {
		g->counters[GW_MT_SENT]++;
		log_debug("[%s] sent msgid=%s", esme_name(e), msgid ? msgid : "");
	} else {
		const char *why = status == ESME_STATUS_TIMEOUT ? "timeout" : smpp_status_name(status);
		g->counters[GW_MT_FAILED]++;
		log_warn("[%s] send failed status=%s survey=%s item=%d first=%d", esme_name(e), why, f->survey, f->q,
		         f->first);
		if (f->survey[0])
			gw_item_failed(g, f->survey, f->q, f->first, why);
	}
	free(f->json);
	free(f);
}

/* Names of the delivery states, as the archive writes them. */
const char *const gw_dlr_names[ESME_DLR_REJECTED + 1] = {
	[ESME_DLR_ENROUTE] = "enroute", [ESME_DLR_DELIVERED] = "delivered", [ESME_DLR_EXPIRED] = "expired",
	[ESME_DLR_DELETED] = "deleted", [ESME_DLR_UNDELIVERABLE] = "undeliverable",
	[ESME_DLR_ACCEPTED] = "accepted", [ESME_DLR_UNKNOWN] = "unknown", [ESME_DLR_REJECTED] = "rejected",
};

int gw_esme_index(const struct gw *g, const struct esme *e)
{
	for (int i = 0; i < g->nesme; i++)
		if (g->esme[i] == e)
			return i;
	return -1;
}

void gw_answer(struct gw *g, int i, unsigned epoch, uint64_t token, uint32_t status)
{
	if (token && i >= 0 && i < g->nesme && g->esme[i] && g->esme_epoch[i] == epoch)
		esme_answer(g->esme[i], token, status);
}

/* A final receipt: the message's state goes to the archive (deliveries), once
 * per message, and is counted; answered once stored (gw_batch.c). ENROUTE
 * is not final and changes nothing. */
static void gw_on_receipt(void *arg, struct esme *e, uint64_t token, const char *msgid, enum esme_dlr state)
{
	struct gw *g = arg;
	int i = gw_esme_index(g, e);
	if (i < 0 || state <= ESME_DLR_ENROUTE || state > ESME_DLR_REJECTED || !msgid || !*msgid) {
		if (token)
			esme_answer(e, token, SMPP_ESME_ROK);
		return;
	}
	char key[192];
	snprintf(key, sizeof key, GW_K_MSG "%s:%s", g->cfg->smsc[i].name, msgid);
	/* a long message gets a receipt per part, all under its id: after the
	 * first, the others need no round trip (a collision in this small cache
	 * only costs one, the script itself records a message once) */
	uint64_t h = gw_hash64(key) | 1;
	if (g->dlr_seen[h % (sizeof g->dlr_seen / sizeof g->dlr_seen[0])] == h) {
		if (token)
			esme_answer(e, token, SMPP_ESME_ROK);
		return;
	}
	gw_batch_receipt(g, e, token, i, key, msgid, state, h);
}

static void gw_on_ready(void *arg, struct esme *e)
{
	struct gw *g = arg;
	(void)e;
	event_active(g->ev_outbox, 0, 0);
}

/* After a (re)bind the SMSC first delivers again the replies we could not
 * answer before the link went (a crash, a drop): they must meet the item they
 * answered, not the next one. So no message leaves for GW_REBIND_GRACE_MS
 * after a bind; a redelivered answer then finds the next item not sent yet
 * and changes nothing (see gw_on_mo), and the citizen's real reply still can. */
#define GW_REBIND_GRACE_MS 1500

static void gw_on_state(void *arg, struct esme *e, int bound)
{
	struct gw *g = arg;
	for (int i = 0; i < g->nesme; i++) {
		if (g->esme[i] != e)
			continue;
		g->bound[i] = bound;
		g->out_backlog[i] = 1; /* until a TAKE finds the outbox empty */
		if (bound) {
			/* a session bound (or re-bound by a reload) while the replies
			 * wait for Redis is not read either (backpressure) */
			esme_pause_reading(e, g->mo_paused);
			clock_gettime(CLOCK_MONOTONIC, &g->send_after[i]);
			g->send_after[i].tv_nsec += (long)GW_REBIND_GRACE_MS % 1000 * 1000000L;
			g->send_after[i].tv_sec += GW_REBIND_GRACE_MS / 1000 + g->send_after[i].tv_nsec / 1000000000L;
			g->send_after[i].tv_nsec %= 1000000000L;
		}
	}
	if (bound)
		event_active(g->ev_outbox, 0, 0);
}

const struct esme_cbs gw_esme_cbs = {
	.on_mo = gw_on_mo,
	.on_mo_part = gw_on_mo_part,
	.on_receipt_later = gw_on_receipt,
	.on_sent = gw_on_sent,
	.on_ready = gw_on_ready,
	.on_state = gw_on_state,
};

/* ---- archiving ---- */

/* A batch on its way to SQLite (written by the archiver's thread): the
 * records of one list, parsed; their strings live in the json holders. */
struct gw_arch_job {
	int deliveries;                 /* 1 = hl:deliveries records, 0 = surveys */
	int n;                          /* records parsed */
	struct archive_survey *s;       /* surveys (answers malloc'd each) */
	struct archive_delivery *d;     /* or deliveries */
	json_t **holders;               /* n of them */
	int took;                       /* records taken from Redis (the list to clear) */
	struct optout *o;               /* opt-outs: records of their own and opted_out surveys */
	char (*ohash)[65];              /* their hashes */
	int no;
	struct archive_stray *st;       /* replies from numbers without a survey (gw_stray.c) */
	char (*sthash)[65];
	int nst;
};

static void gw_arch_job_free(struct gw_arch_job *j)
{
	if (!j)
		return;
	for (int i = 0; i < j->n; i++) {
		if (j->s)
			free((void *)j->s[i].answers);
		json_decref(j->holders[i]);
	}
	free(j->s);
	free(j->d);
	free(j->holders);
	free(j->o);
	free(j->ohash);
	free(j->st);
	free(j->sthash);
	free(j);
}

/* The next batch for the archive: what our list `taking` still holds (left
 * by a failed write) or up to GW_ARCHIVE_BATCH records moved there from
 * `from`. NULL when Redis cannot be reached. */
/* An ARCHIVE_TAKE on its way: k = 0 for the kind whose turn it is, 1 for the other. */
struct gw_arch_take {
	struct gw *g;
	int k;
};

static int gw_archive_take(struct gw *g, const char *from, const char *taking, struct store_list *out)
{
	char max[16], err[256];
	snprintf(max, sizeof max, "%d", GW_ARCHIVE_BATCH);
	const char *keys[] = {from, taking};
	const char *args[] = {max};
	int rc = store_run_list(g->store, STORE_ARCHIVE_TAKE, 2, keys, 1, args, out, err, sizeof err);
	if (rc < 0)
		g->counters[GW_REDIS_ERR]++;
	return rc;
}

/* A record of a taken batch (a string; anything else reads as ""). */
static const char *gw_arch_rec(const struct store_list *l, size_t i)
{
	return l->e[i].kind == STORE_STR ? l->e[i].s : "";
}

/* Delivery records (hl:deliveries) parsed into a job; NULL when none. */
static struct gw_arch_job *gw_arch_deliveries(const struct store_list *r)
{
	size_t n = r->n;
	struct gw_arch_job *j = n ? calloc(1, sizeof *j) : NULL;
	if (!j)
		return NULL;
	j->deliveries = 1;
	j->took = (int)n;
	j->d = calloc(n, sizeof *j->d);
	j->holders = calloc(n, sizeof *j->holders);
	for (size_t i = 0; j->d && j->holders && i < n; i++) {
		json_error_t je;
		json_t *o = json_loads(gw_arch_rec(r, i), 0, &je);
		struct archive_delivery *x = &j->d[j->n];
		x->smsc = json_string_value(json_object_get(o, "smsc"));
		x->message_id = json_string_value(json_object_get(o, "m"));
		x->state = json_string_value(json_object_get(o, "st"));
		x->survey_id = json_string_value(json_object_get(o, "s"));
		if (x->survey_id && !*x->survey_id)
			x->survey_id = NULL;
		json_t *q = json_object_get(o, "q");
		x->item = json_is_integer(q) ? (int)json_integer_value(q) : -1;
		x->submitted_at = json_integer_value(json_object_get(o, "t"));
		x->state_at = json_integer_value(json_object_get(o, "at"));
		if (!x->smsc || !x->message_id || !x->state) {
			log_error("archive msg=\"unreadable delivery record dropped\"");
			json_decref(o);
			continue;
		}
		j->holders[j->n++] = o;
	}
	if (!j->d || !j->holders) {
		gw_arch_job_free(j);
		return NULL;
	}
	return j;
}

/* An opt-out record of hl:archive ({"optout":HASH,"at":N,"source":S}) into the job. */
static int gw_arch_optout(struct gw_arch_job *j, const char *str)
{
	json_error_t je;
	json_t *o = json_loads(str, 0, &je);
	const char *h = json_string_value(json_object_get(o, "optout"));
	const char *src = json_string_value(json_object_get(o, "source"));
	json_t *at = json_object_get(o, "at");
	int rc = -EINVAL;
	if (h && optout_is_hash(h) && json_is_integer(at) && src &&
	    (!strcmp(src, "keyword") || !strcmp(src, "api") || !strcmp(src, "operator"))) {
		snprintf(j->ohash[j->no], sizeof j->ohash[j->no], "%s", h);
		j->o[j->no] = (struct optout){j->ohash[j->no], json_integer_value(at),
		                              !strcmp(src, "keyword") ? "keyword" : !strcmp(src, "api") ? "api" : "operator"};
		j->no++;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Survey records (hl:archive) parsed into a job; an unreadable one is kept
 * in hl:archive:bad. NULL when none. */
static struct gw_arch_job *gw_arch_surveys(struct gw *g, const struct store_list *r)
{
	char err[256];
	size_t n = r->n;
	struct gw_arch_job *j = n ? calloc(1, sizeof *j) : NULL;
	if (!j)
		return NULL;
	j->took = (int)n;
	j->s = calloc(n, sizeof *j->s);
	j->holders = calloc(n, sizeof *j->holders);
	j->o = calloc(n, sizeof *j->o);
	j->ohash = calloc(n, sizeof *j->ohash);
	j->st = calloc(n, sizeof *j->st);
	j->sthash = calloc(n, sizeof *j->sthash);
	for (size_t i = 0; j->s && j->holders && j->o && j->ohash && j->st && j->sthash && i < n; i++) {
		const char *str = gw_arch_rec(r, i);
		if (strncmp(str, GW_STRAY_REC_PREFIX, strlen(GW_STRAY_REC_PREFIX)) == 0) {
			json_t *o = json_loads(str, 0, NULL);
			const char *h = json_string_value(json_object_get(o, "stray"));
			if (h && optout_is_hash(h) && json_integer_value(json_object_get(o, "at")) > 0) {
				snprintf(j->sthash[j->nst], sizeof j->sthash[j->nst], "%s", h);
				j->st[j->nst] = (struct archive_stray){j->sthash[j->nst], json_integer_value(json_object_get(o, "at"))};
				j->nst++;
			}
			json_decref(o);
			continue;
		}
		if (strncmp(str, GW_OPTOUT_REC_PREFIX, strlen(GW_OPTOUT_REC_PREFIX)) == 0) {
			if (gw_arch_optout(j, str) < 0) {
				log_error("archive msg=\"unreadable opt-out record kept in hl:archive:bad\"");
				if (store_exec(g->store, err, sizeof err, "RPUSH hl:archive:bad %s", str) < 0)
					g->counters[GW_REDIS_ERR]++;
			}
			continue;
		}
		if (record_archive_parse(str, &j->holders[j->n], &j->s[j->n]) == 0) {
			const struct archive_survey *v = &j->s[j->n];
			/* a survey ended by HUY/STOP: the opt-out itself is kept too */
			if (strcmp(v->status, "opted_out") == 0 && optout_is_hash(v->msisdn_hash)) {
				snprintf(j->ohash[j->no], sizeof j->ohash[j->no], "%s", v->msisdn_hash);
				j->o[j->no] = (struct optout){j->ohash[j->no], v->finished_at, "keyword"};
				j->no++;
			}
			j->n++;
		} else {
			log_error("archive msg=\"unreadable record kept in hl:archive:bad\"");
			if (store_exec(g->store, err, sizeof err, "RPUSH hl:archive:bad %s", str) < 0)
				g->counters[GW_REDIS_ERR]++;
			free((void *)j->s[j->n].answers);
			json_decref(j->holders[j->n]);
			j->holders[j->n] = NULL;
			memset(&j->s[j->n], 0, sizeof j->s[j->n]);
		}
	}
	if (!j->s || !j->holders || !j->o || !j->ohash || !j->st || !j->sthash) {
		gw_arch_job_free(j);
		return NULL;
	}
	return j;
}

/* On the archiver's thread, with its own connection. */
static int gw_arch_write(struct archive *a, void *job, char *err, size_t errlen)
{
	struct gw_arch_job *j = job;
	if (j->deliveries)
		return archive_put_deliveries(a, j->d, j->n, err, errlen);
	int rc = archive_put(a, j->s, j->n, err, errlen);
	if (rc >= 0 && j->no > 0) {
		/* the same batch: cleared from Redis only once both are written */
		int r2 = optout_put(a, j->o, j->no, err, errlen);
		if (r2 < 0)
			return r2;
	}
	if (rc >= 0 && j->nst > 0) {
		int r3 = archive_put_strays(a, j->st, j->nst, err, errlen);
		if (r3 < 0)
			return r3;
	}
	return rc;
}

/* Back on the loop: the batch is in SQLite (our list of it is cleared) or
 * not (it stays in our list and is written again on the next pass). */
static void gw_arch_del_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	g->arch_dels--;
	if (rc < 0) {
		/* the batch may come back from the taking list: written again,
		 * which changes nothing (archive_put skips a survey it has) */
		g->counters[GW_REDIS_ERR]++;
		log_warn("archive msg=\"could not clear the batch written\" err=\"%s\"", err ? err : "");
	}
}

void gw_arch_done(void *arg, void *job, int rc, const char *err)
{
	struct gw *g = arg;
	struct gw_arch_job *j = job;
	if (rc >= 0) {
		char e[256];
		if (!j->deliveries)
			g->counters[GW_ARCHIVED] += (uint64_t)rc;
		const char *del[] = {"DEL", j->deliveries ? g->k_dtaking : g->k_archiving};
		if (!g->shutting_down && !g->closing) {
			/* on the asynchronous connection, before the next TAKE of the
			 * same list (one connection keeps the order) */
			if (store_async_intv(g->store, 2, del, gw_arch_del_on_reply, g) < 0)
				g->counters[GW_REDIS_ERR]++;
			else
				g->arch_dels++;
		} else {
			if (store_exec(g->store, e, sizeof e, "DEL %s", del[1]) < 0)
				g->counters[GW_REDIS_ERR]++;
		}
	} else {
		log_error("archive msg=\"cannot write %s, will retry\" err=\"%s\"",
		          j->deliveries ? "deliveries" : "surveys", err);
	}
	gw_arch_job_free(j);
	if (rc >= 0 && !g->shutting_down)
		event_active(g->ev_archive, 0, 0); /* more may be waiting */
}

/* A batch taken: handed to the archiver's thread. 1 when there was one. */
static int gw_arch_hand(struct gw *g, int deliveries, const struct store_list *r)
{
	struct gw_arch_job *j = deliveries ? gw_arch_deliveries(r) : gw_arch_surveys(g, r);
	if (!j)
		return 0;
	g->arch_turn = !deliveries;
	if (archiver_submit(g->archiver, gw_arch_write, j) < 0)
		gw_arch_job_free(j); /* cannot happen: not busy */
	return 1;
}

static int gw_arch_take_async(struct gw *g, int k);

static void gw_arch_on_take(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw_arch_take *t = arg;
	struct gw *g = t->g;
	int k = t->k;
	free(t);
	g->arch_taking = 0;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		if (!g->shutting_down)
			log_warn("archive msg=\"could not take a batch\" err=\"%s\"", err ? err : "");
		return; /* the next tick looks again; what it moved is in the taking list */
	}
	if (g->shutting_down || archiver_busy(g->archiver))
		return; /* left in the taking list: the flush (or the next start) takes it */
	if (!gw_arch_hand(g, g->arch_turn ^ k, r) && k == 0)
		gw_arch_take_async(g, 1); /* nothing of this kind: the other */
}

/* ARCHIVE_TAKE of kind arch_turn ^ k on the asynchronous connection. */
static int gw_arch_take_async(struct gw *g, int k)
{
	struct gw_arch_take *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->g = g;
	t->k = k;
	int deliveries = g->arch_turn ^ k;
	char max[16];
	snprintf(max, sizeof max, "%d", GW_ARCHIVE_BATCH);
	const char *keys[] = {deliveries ? GW_K_DELIVERIES : GW_K_ARCHIVE, deliveries ? g->k_dtaking : g->k_archiving};
	const char *args[] = {max};
	g->arch_taking = 1;
	if (store_async_run_list(g->store, STORE_ARCHIVE_TAKE, 2, keys, 1, args, gw_arch_on_take, t) < 0) {
		g->arch_taking = 0;
		g->counters[GW_REDIS_ERR]++;
		free(t);
		return -EIO;
	}
	return 0;
}

/* Takes the next batch (surveys and deliveries in turn) and hands it to the
 * archiver's thread; nothing while a batch is being written (its end looks
 * again) or taken. SQLite never runs on this thread, and the loop never
 * waits for Redis here: the TAKE goes on the asynchronous connection. */
void gw_archive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	if (archiver_busy(g->archiver) || g->arch_taking || g->shutting_down)
		return;
	gw_arch_take_async(g, 0);
}

/* Shutdown: the batch in hand, then one more of each kind, written now (on
 * the synchronous connection: the loop is ending). */
void gw_archive_flush(struct gw *g)
{
	archiver_drain(g->archiver);
	/* a DEL still on its way would clear a batch taken now while it is
	 * written: what waits stays in line (REAP at the end, or the next start) */
	for (int i = 0; i < 2 && !g->arch_dels; i++) {
		for (int k = 0; k < 2; k++) {
			int deliveries = g->arch_turn ^ k;
			struct store_list r = {0};
			if ((deliveries ? gw_archive_take(g, GW_K_DELIVERIES, g->k_dtaking, &r)
			                : gw_archive_take(g, GW_K_ARCHIVE, g->k_archiving, &r)) < 0)
				break;
			int handed = gw_arch_hand(g, deliveries, &r);
			store_list_clear(&r);
			if (handed)
				break;
		}
		archiver_drain(g->archiver);
	}
}
