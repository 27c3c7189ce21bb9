/* gw_batch: what the SMSC sessions report in bulk, written to Redis every
 * few milliseconds (receipts: once per pass of the loop) in one script run
 * (SENT) on the asynchronous connection:
 * submit_sm_resp (the message off our sending list, its record kept for its
 * receipt) and receipts (each answered once stored). The answers go first, so that a
 * receipt of the same batch finds the record of its message. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "esme.h"
#include "gw_int.h"
#include "log.h"
#include "store.h"

#define GW_BATCH_MAX 256 /* receipts or answers per script run */

struct gw_sent_item {
	struct gw_inflight *d; /* its removal, in g->removals (d->batching) */
	char *k_msg, *val;     /* the record for its receipt (NULL = none) */
};

struct gw_dlr_item {
	unsigned epoch; /* of session slot smsc when it came (gw_answer) */
	uint64_t token;
	int smsc;
	enum esme_dlr state;
	uint64_t h; /* for g->dlr_seen */
	char key[192], msgid[66];
};

struct gw_batchq {
	struct gw_sent_item *sent;
	int nsent, capsent;
	struct gw_dlr_item *dlr;
	int ndlr, capdlr;
};

/* A script run on its way: the items it carries. */
struct gw_batch_run {
	struct gw *g;
	struct gw_sent_item *sent;
	struct gw_dlr_item *dlr;
	int nsent, ndlr;
};

static void gw_sent_item_free(struct gw_sent_item *it)
{
	free(it->k_msg);
	free(it->val);
}

static void gw_removal_drop(struct gw *g, struct gw_inflight *d)
{
	for (struct gw_inflight **pp = &g->removals; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			free(d->json);
			free(d);
			return;
		}
}

/* The SENT script's reply r, one number per receipt (rc < 0: not run, or
 * lost, err says why). */
static void gw_batch_done(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw_batch_run *b = arg;
	struct gw *g = b->g;
	if (rc == 0 && r->n != (size_t)b->ndlr) {
		err = "unexpected reply";
		rc = -EBADMSG;
	}
	if (rc < 0) {
		r = NULL;
		g->counters[GW_REDIS_ERR]++;
		log_warn("redis msg=\"%d answers and %d receipts not stored: the answers kept for the sweep, the "
		         "receipts sent again by the SMSC\" err=\"%s\"",
		         b->nsent, b->ndlr, err ? err : "");
	}
	for (int i = 0; i < b->nsent; i++) {
		struct gw_sent_item *it = &b->sent[i];
		it->d->batching = 0;
		if (r)
			gw_removal_drop(g, it->d); /* off our sending list now */
		else if (it->val)
			/* kept in memory until Redis is back (the lease tick's sweep), so
			 * that its receipt still finds the survey; the removal stays
			 * in g->removals for the sweep */
		{
			char k_send[160];
			gw_sending_key(g, it->d->smsc, k_send, sizeof k_send);
			gw_unkept_add(g, it->k_msg, it->val, k_send, it->d->json);
		}
		gw_sent_item_free(it);
	}
	for (int i = 0; i < b->ndlr; i++) {
		struct gw_dlr_item *it = &b->dlr[i];
		uint32_t status = SMPP_ESME_RX_T_APPN; /* not stored: the SMSC sends it again */
		if (r) {
			status = SMPP_ESME_ROK;
			const struct store_item *x = &r->e[i];
			if (x->kind == STORE_INT && x->i == 1) {
				g->receipts[it->state]++;
				/* recorded: the receipts of its other parts need nothing */
				g->dlr_seen[it->h % (sizeof g->dlr_seen / sizeof g->dlr_seen[0])] = it->h;
			} else if (gw_unkept_has(g, it->key)) {
				status = SMPP_ESME_RX_T_APPN; /* its record is not in Redis yet: again later */
			}
		}
		if (it->token)
			gw_answer(g, it->smsc, it->epoch, it->token, status);
	}
	free(b->sent);
	free(b->dlr);
	free(b);
}

/* One script run for sent[fs, fs+ns) and dlr[fd, fd+nd). */
static void gw_flush_run(struct gw *g, struct gw_batchq *q, int fs, int ns, int fd, int nd)
{
	struct gw_batch_run *b = calloc(1, sizeof *b);
	if (b) {
		b->g = g;
		b->sent = malloc(sizeof *b->sent * (size_t)(ns ? ns : 1));
		b->dlr = malloc(sizeof *b->dlr * (size_t)(nd ? nd : 1));
	}
	if (!b || !b->sent || !b->dlr) {
		/* out of memory: the removals stay for the sweep, the receipts come again */
		for (int i = fs; i < fs + ns; i++) {
			q->sent[i].d->batching = 0;
			gw_sent_item_free(&q->sent[i]);
		}
		for (int i = fd; i < fd + nd; i++)
			if (q->dlr[i].token)
				gw_answer(g, q->dlr[i].smsc, q->dlr[i].epoch, q->dlr[i].token, SMPP_ESME_RX_T_APPN);
		if (b) {
			free(b->sent);
			free(b->dlr);
		}
		free(b);
		return;
	}
	if (ns)
		memcpy(b->sent, q->sent + fs, sizeof *b->sent * (size_t)ns);
	if (nd)
		memcpy(b->dlr, q->dlr + fd, sizeof *b->dlr * (size_t)nd);
	b->nsent = ns;
	b->ndlr = nd;
	struct record_strv k = {0}, a = {0};
	char now[24];
	snprintf(now, sizeof now, "%" PRId64, gw_now());
	int bad = record_strv_add(&k, GW_K_DELIVERIES) || record_strv_add(&a, "259200") ||
	          record_strv_add(&a, now) || record_strv_addf(&a, "%d", ns);
	for (int i = 0; !bad && i < ns; i++) {
		char k_send[160];
		struct gw_sent_item *it = &b->sent[i];
		gw_sending_key(g, it->d->smsc, k_send, sizeof k_send);
		bad = record_strv_add(&k, k_send) || record_strv_add(&k, it->k_msg ? it->k_msg : GW_K_MSG "none") ||
		      record_strv_add(&a, it->d->json) || record_strv_add(&a, it->val ? it->val : "");
	}
	for (int i = 0; !bad && i < nd; i++) {
		struct gw_dlr_item *it = &b->dlr[i];
		bad = record_strv_add(&k, it->key) || record_strv_add(&a, g->cfg->smsc[it->smsc].name) ||
		      record_strv_add(&a, it->msgid) || record_strv_add(&a, gw_dlr_names[it->state]);
	}
	if (bad || store_async_run_list(g->store, STORE_SENT, k.n, (const char **)k.v, a.n, (const char **)a.v,
	                                gw_batch_done, b) < 0)
		gw_batch_done(b, -EIO, NULL, bad ? "out of memory" : "redis unreachable");
	record_strv_free(&k);
	record_strv_free(&a);
}

void gw_batch_flush(struct gw *g)
{
	struct gw_batchq *q = g->batchq;
	if (!q)
		return;
	/* every answer before the receipts: a receipt finds its message's record */
	int fs = 0, fd = 0;
	while (fs < q->nsent || fd < q->ndlr) {
		int ns = q->nsent - fs < GW_BATCH_MAX ? q->nsent - fs : GW_BATCH_MAX;
		int nd = fs + ns < q->nsent ? 0 : q->ndlr - fd < GW_BATCH_MAX - ns ? q->ndlr - fd : GW_BATCH_MAX - ns;
		gw_flush_run(g, q, fs, ns, fd, nd);
		fs += ns;
		fd += nd;
	}
	q->nsent = q->ndlr = 0;
}

static void gw_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_batch_flush(arg);
}

static struct gw_batchq *gw_batchq(struct gw *g)
{
	if (!g->batchq)
		g->batchq = calloc(1, sizeof *g->batchq);
	if (g->batchq && !g->ev_batch)
		g->ev_batch = event_new(g->base, -1, 0, gw_batch_cb, g);
	return g->ev_batch ? g->batchq : NULL;
}

/* Answers of the SMSC nobody waits for (submit_sm_resp) are written
 * GW_BATCH_MS after the first of a batch came, so that under load one
 * script run carries many. A receipt holds a place in the SMSC's window
 * until it is answered (the same window as the citizens' replies): a batch
 * with one is written GW_BATCH_DLR_US after its first receipt at the
 * latest, at once when GW_BATCH_DLR_MAX receipts wait (well inside any
 * window an SMSC gives) or the batch is full. Written at the end of each
 * loop pass instead, receipts arriving one by one at an even pace made
 * one script run each: about one more Redis command per survey step. */
#define GW_BATCH_MS 5

#ifndef GW_BATCH_DLR_US
#define GW_BATCH_DLR_US 2000
#endif
#define GW_BATCH_DLR_MAX 8

static void gw_batch_arm(struct gw *g)
{
	struct gw_batchq *q = g->batchq;
	struct timeval due;
	if (q->ndlr >= GW_BATCH_DLR_MAX || q->nsent + q->ndlr >= GW_BATCH_MAX) {
		event_del(g->ev_batch);
		event_active(g->ev_batch, 0, 0);
	} else if (q->ndlr > 0 && (!event_pending(g->ev_batch, EV_TIMEOUT, &due) || q->ndlr == 1)) {
		/* the first receipt of a batch: written GW_BATCH_DLR_US from now at the latest */
		struct timeval tv = {0, GW_BATCH_DLR_US};
		event_del(g->ev_batch);
		event_add(g->ev_batch, &tv);
	} else if (!event_pending(g->ev_batch, EV_TIMEOUT, NULL)) {
		struct timeval tv = {0, GW_BATCH_MS * 1000};
		event_add(g->ev_batch, &tv);
	}
}

int gw_batch_sent(struct gw *g, int smsc, const char *entry, uint64_t hash, const char *k_msg, const char *val)
{
	struct gw_batchq *q = gw_batchq(g);
	if (!q)
		return -ENOMEM;
	if (q->nsent == q->capsent) {
		int cap = q->capsent ? q->capsent * 2 : 64;
		struct gw_sent_item *n = realloc(q->sent, sizeof *n * (size_t)cap);
		if (!n)
			return -ENOMEM;
		q->sent = n;
		q->capsent = cap;
	}
	struct gw_inflight *d = calloc(1, sizeof *d);
	struct gw_sent_item *it = &q->sent[q->nsent];
	memset(it, 0, sizeof *it);
	if (!d || !(d->json = strdup(entry)) || (val && (!(it->k_msg = strdup(k_msg)) || !(it->val = strdup(val))))) {
		if (d)
			free(d->json);
		free(d);
		gw_sent_item_free(it);
		return -ENOMEM;
	}
	/* held as "sent, to be removed" from now: no sweep or peer takes it
	 * for a message still to send */
	d->smsc = smsc;
	d->hash = hash;
	d->batching = 1;
	d->next = g->removals;
	g->removals = d;
	it->d = d;
	q->nsent++;
	gw_batch_arm(g);
	return 0;
}

void gw_batch_receipt(struct gw *g, struct esme *e, uint64_t token, int smsc, const char *key, const char *msgid,
                      enum esme_dlr state, uint64_t h)
{
	struct gw_batchq *q = gw_batchq(g);
	if (q && q->ndlr == q->capdlr) {
		int cap = q->capdlr ? q->capdlr * 2 : 64;
		struct gw_dlr_item *n = realloc(q->dlr, sizeof *n * (size_t)cap);
		if (n) {
			q->dlr = n;
			q->capdlr = cap;
		}
	}
	if (!q || q->ndlr == q->capdlr) {
		if (token)
			esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return;
	}
	struct gw_dlr_item *it = &q->dlr[q->ndlr++];
	it->epoch = g->esme_epoch[smsc];
	it->token = token;
	it->smsc = smsc;
	it->state = state;
	it->h = h;
	snprintf(it->key, sizeof it->key, "%s", key);
	snprintf(it->msgid, sizeof it->msgid, "%s", msgid);
	gw_batch_arm(g);
}

/* At the end: what was not written yet goes now on the synchronous
 * connection (a shutdown must not leave a sent message on our sending list,
 * REAP would send it again), and the batch queue is freed. */
void gw_batch_free(struct gw *g)
{
	struct gw_batchq *q = g->batchq;
	if (q) {
		char err[256];
		for (int i = 0; i < q->nsent; i++) {
			struct gw_sent_item *it = &q->sent[i];
			char k_send[160];
			gw_sending_key(g, it->d->smsc, k_send, sizeof k_send);
			const char *keys[] = {GW_K_DELIVERIES, k_send, it->k_msg ? it->k_msg : GW_K_MSG "none"};
			const char *args[] = {"259200", "0", "1", it->d->json, it->val ? it->val : ""};
			int rc = store_run(g->store, STORE_SENT, 3, keys, 5, args, err, sizeof err);
			it->d->batching = 0;
			if (rc == 0)
				gw_removal_drop(g, it->d);
			gw_sent_item_free(it);
		}
		for (int i = 0; i < q->ndlr; i++)
			if (q->dlr[i].token)
				gw_answer(g, q->dlr[i].smsc, q->dlr[i].epoch, q->dlr[i].token, SMPP_ESME_RX_T_APPN);
		free(q->sent);
		free(q->dlr);
		free(q);
		g->batchq = NULL;
	}
	if (g->ev_batch)
		event_free(g->ev_batch);
	g->ev_batch = NULL;
}
