/* gw_pumps: the outbox pump to the SMSC sessions, their outcomes and receipts (the archive pump
 * is gw_archpump.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "esme.h"
#include "gw_int.h"
#include "log.h"
#include "record.h"
#include "store.h"
#include "survey.h"

/* ---- sending ---- */

void gw_outbox_pushed(struct gw *g, int smsc)
{
	for (int i = 0; i < g->nesme && i < CONFIG_MAX_SMSC; i++)
		if (smsc < 0 || i == smsc) {
			g->out_pushes[i]++;
			g->out_backlog[i] = 1;
		}
}

/* f is an item of a survey asked for the first time (its COMMIT, or the
 * TAKE that moved it from the outbox, raised sq to it) that waits unsent in
 * its session's queue. */
static int gw_inflight_unsent(struct gw *g, const struct gw_inflight *f)
{
	return f->q >= 0 && f->survey[0] && f->prev >= -1 && f->prev < f->q && f->smsc < g->nesme &&
	       esme_unsent(g->esme[f->smsc], f->tag);
}

int gw_item_unsent_to(struct gw *g, const char *msisdn, char *survey, int *q)
{
	uint64_t h = gw_hash64(msisdn);
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		if (f->to == h && gw_inflight_unsent(g, f)) {
			snprintf(survey, RECORD_ID_MAX, "%s", f->survey);
			*q = f->q;
			return 1;
		}
	return 0;
}

int gw_item_unsent(struct gw *g, const char *survey, int q)
{
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		if (f->q == q && strcmp(f->survey, survey) == 0 && gw_inflight_unsent(g, f))
			return 1;
	return 0;
}

/* Hands one outbox entry (taken into our sending list) to SMSC i's session;
 * may_wait: taken while esme_room allows, to wait in the session's queue
 * (the direct path, see gw_direct_smsc). taken: what TAKE said "sq" was
 * before it took the entry ("" = none; NULL: not taken by a TAKE, the
 * entry's "p" says), so that an item whose TAKE raised sq is known not to
 * have left while it waits in the queue (gw_inflight_unsent). 0, -EAGAIN
 * (no room: the caller puts it back), or another error (the entry cannot
 * be sent: the caller drops it). */
static int gw_submit_entry(struct gw *g, int i, const char *entry, int may_wait, const char *taken)
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
		if (taken) /* TAKE raised sq to this item when it was below (or none) */
			f->prev = taken[0] ? (int)strtol(taken, NULL, 10) : -1;
		f->to = gw_hash64(to);
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

/* A PUTBACK or an LREM on the asynchronous connection: who names the SMSC
 * in the log. */
struct gw_repair {
	struct gw *g;
	char who[96];
};

static void gw_putback_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw_repair *p = arg;
	(void)v;
	if (rc < 0 && rc != -EBADMSG) {
		/* lost (it may have run: it moves only what is still listed) or
		 * refused: what it did not move stays in our sending list, held by
		 * no session, and the lease tick's sweep gives it back */
		p->g->counters[GW_REDIS_ERR]++;
		if (!p->g->closing)
			log_warn("[%s] outbox msg=\"could not put messages back, the sweep will\" err=\"%s\"", p->who,
			         err ? err : "");
	}
	free(p);
}

/* PUTBACK of a's (entry, sq before) pairs from a sending list to its outbox
 * (bad: a could not be built whole: nothing runs, the sweep will); frees a.
 * who names the SMSC in the log. While the loop runs it goes on the
 * asynchronous connection, behind every TAKE and COMMIT sent before it and
 * ahead of the next TAKE and sweep (one connection keeps the order); at the
 * end (g->closing) on the synchronous one. */
static void gw_putback(struct gw *g, const char *who, const char *k_send, const char *k_out, struct record_strv *a,
                       int bad)
{
	char err[256] = "out of memory";
	const char *pk[] = {k_send, k_out};
	int rc = -ENOMEM;
	if (!bad && a->n && g->closing) {
		rc = store_run(g->store, STORE_PUTBACK, 2, pk, a->n, (const char **)a->v, err, sizeof err);
	} else if (!bad && a->n) {
		struct gw_repair *p = calloc(1, sizeof *p);
		if (p) {
			p->g = g;
			snprintf(p->who, sizeof p->who, "%s", who);
			rc = store_async_run_int(g->store, STORE_PUTBACK, 2, pk, a->n, (const char **)a->v, gw_putback_on_reply,
			                         p);
			if (rc < 0) {
				free(p);
				g->counters[GW_REDIS_ERR]++;
				snprintf(err, sizeof err, "redis cannot be reached");
			}
		}
	}
	if (rc < 0 && a->n)
		log_warn("[%s] outbox msg=\"could not put messages back, the sweep will\" err=\"%s\"", who, err);
	record_strv_free(a);
}

static void gw_unsendable_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw_repair *p = arg;
	(void)v;
	if (rc < 0 && rc != -EBADMSG) {
		p->g->counters[GW_REDIS_ERR]++;
		log_warn("[%s] outbox msg=\"could not remove an unsendable entry, the sweep gives it back\" err=\"%s\"",
		         p->who, err ? err : "");
	}
	free(p);
}

/* An entry that cannot be sent (gw_submit_entry said so: its survey is
 * archived failed) off our sending list, on the asynchronous connection; if
 * that fails it stays listed, the sweep gives it back, and it is dropped
 * again. */
static void gw_drop_unsendable(struct gw *g, int i, const char *k_send, const char *entry)
{
	const char *argv[] = {"LREM", k_send, "1", entry};
	struct gw_repair *p = calloc(1, sizeof *p);
	if (p) {
		p->g = g;
		snprintf(p->who, sizeof p->who, "%s", g->cfg->smsc[i].name);
	}
	if (!p || store_async_intv(g->store, 4, argv, gw_unsendable_on_reply, p) < 0) {
		free(p);
		g->counters[GW_REDIS_ERR]++;
	}
}

int gw_submit_now(struct gw *g, int i, char **entries, int n, const char *prev_sq)
{
	int k = 0;
	for (; k < n; k++) {
		int before = esme_room(g->esme[i]), free_slot = esme_capacity(g->esme[i]) > 0;
		int rc = gw_submit_entry(g, i, entries[k], 1, NULL);
		if (rc == 0) {
			g->counters[free_slot ? GW_MT_DIRECT : GW_MT_QUEUED]++;
			int used = before - esme_room(g->esme[i]);
			g->parts_avg[i] = 0.8 * g->parts_avg[i] + 0.2 * (used < 1 ? 1 : used);
			continue;
		}
		if (rc == -EAGAIN || rc == -ENOMEM)
			break; /* no room after all: this one and the rest go back */
		char k_send[160];
		gw_sending_key(g, i, k_send, sizeof k_send);
		log_error("[%s] entry not sendable rc=%d msg=\"dropped\"", g->cfg->smsc[i].name, rc);
		gw_drop_unsendable(g, i, k_send, entries[k]);
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
	gw_outbox_pushed(g, i);
	event_active(g->ev_outbox, 0, 0);
	return k;
}

void gw_putback_unsent(struct gw *g)
{
	for (int i = 0; i < g->nesme && i < CONFIG_MAX_SMSC; i++)
		gw_putback_unsent_on(g, i, g->esme[i]);
}

void gw_putback_unsent_on(struct gw *g, int i, const struct esme *e)
{
	if (!e || !g->registered || !g->store)
		return;
	/* g->inflight is newest first: the pairs are built oldest first */
	int n = 0;
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		n += f->smsc == i;
	const struct gw_inflight **v = n ? calloc((size_t)n, sizeof *v) : NULL;
	if (!v)
		return;
	int k = n;
	for (const struct gw_inflight *f = g->inflight; f; f = f->next)
		if (f->smsc == i)
			v[--k] = f;
	struct record_strv a = {0};
	int bad = 0;
	for (int j = 0; j < n; j++) {
		const struct gw_inflight *f = v[j];
		/* an item whose sq before is unknown is left to the REAP */
		if (!esme_unsent(e, f->tag) || (f->q >= 0 && f->prev < -1))
			continue;
		char prev[16] = "";
		if (f->q >= 0 && f->prev >= 0)
			snprintf(prev, sizeof prev, "%d", f->prev);
		bad |= record_strv_add(&a, f->json) || record_strv_add(&a, prev);
	}
	free(v);
	if (a.n == 0)
		return;
	char k_send[160], k_out[96];
	gw_sending_key(g, i, k_send, sizeof k_send);
	gw_key(k_out, sizeof k_out, GW_K_OUTBOX, g->cfg->smsc[i].name);
	log_info("[%s] event=putback_unsent n=%d msg=\"messages never written to the SMSC go back to the outbox\"",
	         g->cfg->smsc[i].name, a.n / 2);
	gw_putback(g, g->cfg->smsc[i].name, k_send, k_out, &a, bad);
	gw_outbox_pushed(g, i);
}

/* A TAKE on its way (the asynchronous connection): how many messages it
 * asked for (room reserved for them meanwhile) and the session it was for. */
struct gw_take {
	struct gw *g;
	int smsc, want;
	unsigned epoch;
	unsigned pushes; /* g->out_pushes[smsc] when it was sent */
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
	/* the outbox is empty when it gave less than asked, unless we put
	 * something there since the TAKE left */
	g->out_backlog[i] = n == (size_t)t->want || g->out_pushes[i] != t->pushes;
	g->take_again[i] = 0;
	if (g->closing || t->epoch != g->esme_epoch[i]) {
		/* shutting down, or the session was replaced by a reload: none of
		 * them left */
		gw_take_putback(g, t, r, 0);
		gw_outbox_pushed(g, i);
		return;
	}
	if (g->registered && store_connects(g->store) != g->lease_conn) {
		/* Redis was reached again since the lease was renewed: the lease
		 * first (was it lost? then what peers left is ours to take back),
		 * and these go back in line to be taken again after it */
		gw_lease_tick(g);
		gw_take_putback(g, t, r, 0); /* the sweep will if this fails */
		gw_outbox_pushed(g, i);
		event_active(g->ev_outbox, 0, 0);
		return;
	}
	const char *name = g->cfg->smsc[i].name;
	for (; k < n; k++) {
		const struct store_item *flag = &r->e[3 * k], *ent = &r->e[3 * k + 1], *prev = &r->e[3 * k + 2];
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
		int before = esme_room(g->esme[i]);
		int rc = gw_submit_entry(g, i, ent->s, 1, prev->kind == STORE_STR ? prev->s : "");
		if (rc == 0) {
			g->counters[GW_MT_OUTBOX]++;
			int used = before - esme_room(g->esme[i]);
			g->parts_avg[i] = 0.8 * g->parts_avg[i] + 0.2 * (used < 1 ? 1 : used);
			continue;
		}
		if (rc == -EAGAIN || rc == -ENOMEM)
			break; /* no room (or memory) after all: this one and the rest go back */
		log_error("[%s] outbox entry not sendable rc=%d msg=\"dropped\"", name, rc);
		gw_drop_unsendable(g, i, t->k_send, ent->s);
	}
	if (k < n) {
		gw_take_putback(g, t, r, k);
		gw_outbox_pushed(g, i);
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
	 * sweep must not give them back */
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
	 * the lease ran out, then take back our work) before sending anything;
	 * the renewal's reply calls us again */
	if (gw_lease_first(g) || !g->registered)
		return; /* (not in hl:instances yet: the first renewal's reply calls us) */
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
		int cap = esme_room(g->esme[i]) - g->reserved[i];
		if (cap <= 0)
			continue;
		/* as many messages as the session takes now, its window and its
		 * queue (esme_room: so that a response that frees a slot has the
		 * next message at hand, not a TAKE away): room counts
		 * parts, so divided by the parts a message had lately (room
		 * promised to steps being committed left aside) */
		int want = (int)(cap / g->parts_avg[i]);
		want = want < 1 ? 1 : want > GW_TAKE_MAX ? GW_TAKE_MAX : want;
		struct gw_take *t = calloc(1, sizeof *t);
		if (!t)
			return;
		t->g = g;
		t->smsc = i;
		t->want = want;
		t->epoch = g->esme_epoch[i];
		t->pushes = g->out_pushes[i];
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
			/* the record kept in memory until Redis is back (the lease tick's sweep, gw_lease.c),
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
		log_warn("[%s] send failed status=%s survey=%s item=%d first=%d", esme_name(e),
		         status == ESME_STATUS_TIMEOUT ? why : smpp_status_word(status), f->survey, f->q, f->first);
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

/* A session has room again: the outbox pump, unless the outbox is known
 * to hold nothing of ours (out_backlog clear: nothing pushed since a TAKE
 * found it empty). A TAKE per freed slot found nothing almost every time
 * (half a TAKE per step at a steady pace); what peers or scripts put there
 * without us knowing waits for the pump's 100 ms tick. */
static void gw_on_ready(void *arg, struct esme *e)
{
	struct gw *g = arg;
	for (int i = 0; i < g->nesme; i++)
		if (g->esme[i] == e && !g->out_backlog[i])
			return;
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
