/* gw_mo: a citizen's one-part reply on the asynchronous Redis connection:
 * ACTIVE, then COMMIT (whose messages go straight to the SMSC session when
 * it has room, see gw_direct_smsc): two round trips from the deliver_sm to
 * the next question's submit_sm, pipelined with every other citizen's. The
 * deliver_sm is answered only once its effect is stored. The replies of one
 * number are handled one after another, in the order they came (a queue per
 * number in this process); when too many commands wait for Redis, the SMPP
 * sessions stop reading (backpressure) until the replies catch up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esme.h"
#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "survey.h"

struct gw_mojob {
	struct gw *g;
	struct esme *e;      /* valid while g->esme_epoch[smsc] == epoch */
	int smsc;
	unsigned epoch;
	uint64_t token;
	uint64_t h; /* gw_hash64 of the number: its bucket */
	char msisdn[PHONE_MAX], mask[PHONE_MAX];
	char *text;
	double t_reply;
	int attempt;
	int busy;   /* its ACTIVE or COMMIT is on its way */
	int before_q; /* it came before item before_q was handed to the SMSC (-1: no such item) */
	int fed_q;    /* the item the survey was at when the reply was fed */
	int unsent_q; /* when it came, item unsent_q of survey unsent_id waited unsent in our
	               * session's queue (gw_item_unsent_to; -1: none) */
	char unsent_id[RECORD_ID_MAX];
	struct gw_commit k;
	struct gw_mocache *after; /* the survey as its COMMIT leaves it (for the cache) */
	int kind;            /* GW_MOJ_*: a reply (SMS or USSD), or a USSD dial, other code, release */
	struct gw_ussd_ctx ussd; /* a USSD MO: its session (active 0: an SMS) */
	gw_mo_done_fn done;  /* called instead of answering (NULL: answer) */
	void *done_arg;
	struct gw_mojob *next; /* same bucket, in arrival order */
};

/* The survey of a citizen as this process last committed it: their next
 * reply goes straight to COMMIT, expecting that version (one round trip, no
 * ACTIVE). Anyone else's change moves the version (every COMMIT does), so a
 * stale entry only costs the COMMIT that finds out, then ACTIVE as usual.
 * Kept only when the item asked was handed to the SMSC by that very commit
 * (sq known); dropped when sq may have gone back without a version change
 * (our lists given back: gw_mo_cache_clear). Direct-mapped by number. */
#define GW_MOCACHE_SLOTS 4096
struct gw_mocache {
	char msisdn[PHONE_MAX];
	struct record_meta m;
	struct survey s;
};

static void gw_mo_active(struct gw_mojob *j);
static void gw_mo_dial(struct gw_mojob *j, const struct store_active *a);
static void gw_mo_feed(struct gw_mojob *j, struct record_meta *m, const struct campaign *c, struct survey *s);

/* Reading pauses above this many commands waiting for Redis, and resumes
 * below the low mark. */
#define GW_MO_HIGH 2048
#define GW_MO_LOW 512

static void gw_mo_pause(struct gw *g, int pause)
{
	if (g->mo_paused == pause)
		return;
	g->mo_paused = pause;
	for (int i = 0; i < g->nesme; i++)
		if (g->esme[i])
			esme_pause_reading(g->esme[i], pause);
	log_info("%s pending=%zu", pause ? "backpressure_on" : "backpressure_off",
	         store_async_pending(g->store));
}

static void gw_mo_check_pressure(struct gw *g)
{
	size_t n = store_async_pending(g->store);
	if (!g->mo_paused && n >= GW_MO_HIGH)
		gw_mo_pause(g, 1);
	else if (g->mo_paused && n <= GW_MO_LOW)
		gw_mo_pause(g, 0);
}

static void gw_mocache_free(struct gw_mocache *e)
{
	if (e) {
		survey_clear(&e->s);
		free(e);
	}
}

static int survey_copy(struct survey *dst, const struct survey *src)
{
	memcpy(dst, src, sizeof *dst);
	int ok = 1;
	for (int i = 0; i < CAMPAIGN_MAX_QUESTIONS; i++)
		if (src->answers[i].text && !(dst->answers[i].text = strdup(src->answers[i].text)))
			ok = 0;
	return ok ? 0 : -ENOMEM;
}

static struct gw_mocache **gw_mocache_slot(struct gw *g, const char *msisdn)
{
	if (!g->mocache && !(g->mocache = calloc(GW_MOCACHE_SLOTS, sizeof *g->mocache)))
		return NULL;
	return &g->mocache[gw_hash64(msisdn) % GW_MOCACHE_SLOTS];
}

static void gw_mocache_drop(struct gw *g, const char *msisdn)
{
	struct gw_mocache **e = gw_mocache_slot(g, msisdn);
	if (e && *e && strcmp((*e)->msisdn, msisdn) == 0) {
		gw_mocache_free(*e);
		*e = NULL;
	}
}

void gw_mo_cache_put(struct gw *g, const char *msisdn, const struct record_meta *m, const struct survey *s,
                     long long sq)
{
	struct gw_mocache **e = gw_mocache_slot(g, msisdn);
	struct gw_mocache *n = e ? calloc(1, sizeof *n) : NULL;
	if (!n)
		return;
	snprintf(n->msisdn, sizeof n->msisdn, "%s", msisdn);
	n->m = *m;
	snprintf(n->m.ver, sizeof n->m.ver, "%lld", atoll(m->ver) + 1);
	n->m.sq = sq;
	if (survey_copy(&n->s, s) < 0) {
		gw_mocache_free(n);
		return;
	}
	gw_mocache_free(*e);
	*e = n;
}

void gw_mo_cache_clear(struct gw *g)
{
	for (int i = 0; g->mocache && i < GW_MOCACHE_SLOTS; i++) {
		gw_mocache_free(g->mocache[i]);
		g->mocache[i] = NULL;
	}
}

/* ---- replies whose COMMIT's answer was lost ----
 * The COMMIT may have run (Redis ran it, then the connection broke or the
 * reply came too late), so the reply is answered "not stored" and comes
 * again: from the SMSC, or at once from gw_mo_on_commit's second look. The
 * survey's "n" says whether it ran: then the reply is acknowledged and not
 * fed again, since it would be taken as the answer to the next item. One
 * entry per number and text, its nonces (one per lost attempt), for
 * GW_UNSURE_AGE; at most GW_UNSURE_MAX entries (beyond that, logged). */
#define GW_UNSURE_BUCKETS 1024
#define GW_UNSURE_NONCES 6
#define GW_UNSURE_AGE 1800.0
#define GW_UNSURE_MAX 65536
struct gw_unsure {
	char msisdn[PHONE_MAX];
	uint64_t text;    /* gw_hash64 of the reply */
	char nonce[GW_UNSURE_NONCES][12];
	char survey[RECORD_ID_MAX]; /* the survey the reply was fed to */
	int n;
	double at;        /* monotonic s, the last loss */
	struct gw_unsure *next;
};

/* Unlinks and frees the entry *pp. */
static void gw_unsure_drop(struct gw *g, struct gw_unsure **pp)
{
	struct gw_unsure *u = *pp;
	*pp = u->next;
	free(u);
	g->nunsure--;
}

/* The entry of (msisdn, text), dropping the expired ones of its bucket on the way. */
static struct gw_unsure **gw_unsure_find(struct gw *g, const char *msisdn, uint64_t text)
{
	if (!g->unsure && !(g->unsure = calloc(GW_UNSURE_BUCKETS, sizeof *g->unsure)))
		return NULL;
	struct gw_unsure **pp = &g->unsure[gw_hash64(msisdn) % GW_UNSURE_BUCKETS];
	double now = gw_clock();
	while (*pp) {
		struct gw_unsure *u = *pp;
		if (now - u->at > GW_UNSURE_AGE) {
			gw_unsure_drop(g, pp);
			continue;
		}
		if (u->text == text && strcmp(u->msisdn, msisdn) == 0)
			return pp;
		pp = &u->next;
	}
	return pp;
}

void gw_mo_unsure_add(struct gw *g, const char *msisdn, const char *text, const char *nonce, const char *survey)
{
	g->counters[GW_MO_LOST_COMMIT]++;
	uint64_t th = gw_hash64(text);
	struct gw_unsure **pp = gw_unsure_find(g, msisdn, th);
	if (!pp)
		return;
	struct gw_unsure *u = *pp;
	if (!u) {
		if (g->nunsure >= GW_UNSURE_MAX || !(u = calloc(1, sizeof *u))) {
			log_error("mo msg=\"too many replies whose commit is unknown: a redelivery may answer the next item\"");
			return;
		}
		snprintf(u->msisdn, sizeof u->msisdn, "%s", msisdn);
		u->text = th;
		*pp = u;
		g->nunsure++;
	}
	snprintf(u->nonce[u->n % GW_UNSURE_NONCES], sizeof u->nonce[0], "%s", nonce);
	snprintf(u->survey, sizeof u->survey, "%s", survey);
	u->n++;
	u->at = gw_clock();
}

int gw_mo_unsure_took(struct gw *g, const char *msisdn, const char *text, const struct record_meta *m)
{
	if (!g->nunsure)
		return 0;
	struct gw_unsure **pp = gw_unsure_find(g, msisdn, gw_hash64(text));
	struct gw_unsure *u = pp ? *pp : NULL;
	if (!u)
		return 0;
	/* another survey running, or none: the lost COMMIT may have been the
	 * one that ended the survey the reply was for; it answers no other */
	int took = !m || strcmp(m->id, u->survey) != 0;
	for (int i = 0; !took && m->nonce[0] && i < u->n && i < GW_UNSURE_NONCES; i++)
		took = strcmp(u->nonce[i], m->nonce) == 0;
	if (took) {
		gw_unsure_drop(g, pp);
		g->counters[GW_MO_REDELIVERED]++;
	}
	return took;
}

void gw_mo_unsure_forget(struct gw *g, const char *msisdn, const char *text)
{
	if (!g->nunsure)
		return;
	struct gw_unsure **pp = gw_unsure_find(g, msisdn, gw_hash64(text));
	if (pp && *pp)
		gw_unsure_drop(g, pp);
}

static void gw_unsure_free(struct gw *g)
{
	for (int b = 0; g->unsure && b < GW_UNSURE_BUCKETS; b++)
		while (g->unsure[b])
			gw_unsure_drop(g, &g->unsure[b]);
	free(g->unsure);
	g->unsure = NULL;
}

void gw_mo_echo_note(struct gw *g, const char *mask, const char *id, int q)
{
	g->counters[GW_MO_ECHO]++;
	log_info("mo msisdn=%s survey=%s item=%d msg=\"the last answer again, after a reminder or re-prompt it "
	         "crossed: not taken as this item's answer\"", mask, id, q);
}

/* j out of its bucket (not freed); returns the next reply of the same
 * number, if any. */
static struct gw_mojob *gw_mo_unlink(struct gw_mojob *j)
{
	struct gw *g = j->g;
	struct gw_mojob **pp = &g->moq[j->h % GW_MOQ_BUCKETS];
	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	struct gw_mojob *n = j->next;
	while (n && strcmp(n->msisdn, j->msisdn) != 0)
		n = n->next;
	g->mo_jobs--;
	return n;
}

/* The job is answered: out of its bucket, and the next reply of the same
 * number (if any) goes on. */
static void gw_mo_finish(struct gw_mojob *j, uint32_t status)
{
	struct gw *g = j->g;
	if (status != SMPP_ESME_ROK) {
		g->counters[GW_MO_RETRY]++;
		log_warn("[%s] mo msisdn=%s msg=\"cannot store now, SMSC will retry\"", g->cfg->smsc[j->smsc].name,
		         j->mask);
	}
	if (j->done && j->text)
		j->done(g, j->done_arg, status);
	else if (!j->done)
		gw_answer(g, j->smsc, j->epoch, j->token, status);
	/* (a place kept for a long reply, text NULL, is answered by its owner,
	 * gw_moparts.c, whose MOPART reply always comes first) */
	struct gw_mojob *n = gw_mo_unlink(j);
	gw_mocache_free(j->after);
	free(j->text);
	free(j);
	if (n)
		gw_mo_active(n);
	gw_mo_check_pressure(g);
}

/* The replies of this number that came while j was handled came before
 * item q left: none of them answers it (a duplicated deliver_sm of j's
 * reply, sent in the same breath, is the usual one). same_text_only: only
 * the copies of j's text (q was asked again, and read already). */
static void gw_mo_mark_before(struct gw_mojob *j, int q, int same_text_only)
{
	for (struct gw_mojob *n = j->next; n; n = n->next)
		if (strcmp(n->msisdn, j->msisdn) == 0 && n->before_q < 0 &&
		    (!same_text_only || (n->text && j->text && strcmp(n->text, j->text) == 0)))
			n->before_q = q;
}

static void gw_mo_on_commit(void *arg, int res, long long v, const char *err)
{
	struct gw_mojob *j = arg;
	j->busy = 0;
	int asks = j->k.nmsg > 0 && !j->k.finished ? j->k.q : -1;
	int direct = j->k.direct, nout = j->k.nout;
	char nonce[sizeof j->k.nonce], id[RECORD_ID_MAX];
	memcpy(nonce, j->k.nonce, sizeof nonce);
	memcpy(id, j->k.id, sizeof id);
	int rc = gw_commit_done(j->g, &j->k, res, v, err);
	gw_mocache_drop(j->g, j->msisdn);
	if (rc < 0) /* it may have run: the second look (or the redelivery) tells */
		gw_mo_unsure_add(j->g, j->msisdn, j->text, nonce, id);
	else if (rc == 1 && j->attempt > 1)
		gw_mo_unsure_forget(j->g, j->msisdn, j->text); /* stored now, for sure */
	if (rc == 1 && j->after && asks >= 0) {
		/* ver one more; sq is the item asked when it left with this
		 * commit, else unknown (TAKE raises it: the COMMIT checks) */
		struct gw_mocache **e = gw_mocache_slot(j->g, j->msisdn);
		if (e) {
			gw_mocache_free(*e);
			j->after->m.sq = direct >= 0 && j->k.handed == nout ? asks : -1;
			*e = j->after;
			j->after = NULL;
		}
	}
	gw_mocache_free(j->after);
	j->after = NULL;
	/* (an item asked again, a re-prompt, was read already: replies that
	 * came meanwhile may answer it, but a copy of this very reply, a
	 * duplicated deliver_sm, would only be re-prompted and counted again) */
	if (rc == 1 && asks >= 0)
		gw_mo_mark_before(j, asks, asks == j->fed_q);
	if (rc == 1)
		gw_mo_finish(j, SMPP_ESME_ROK);
	else if (rc <= 0 && j->attempt < 5)
		gw_mo_active(j); /* the survey moved on meanwhile: look again */
	else
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
}

/* The notice to a number without a survey is stored (or not). */
static void gw_mo_on_notice(struct gw *g, void *arg, int rc)
{
	struct gw_mojob *j = arg;
	(void)g;
	j->busy = 0;
	gw_mo_finish(j, rc < 0 ? SMPP_ESME_RX_T_APPN : SMPP_ESME_ROK);
}

/* ---- USSD dials ---- */

/* The final "no survey" screen of a dial (dial 1) or another code. */
static void gw_mo_none(struct gw_mojob *j, int dial)
{
	j->busy = 1;
	if (gw_ussd_none_async(j->g, &j->ussd, j->msisdn, dial, gw_mo_on_notice, j) < 0) {
		j->busy = 0;
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
	}
}

static void gw_mo_on_dial_commit(void *arg, int res, long long v, const char *err)
{
	struct gw_mojob *j = arg;
	j->busy = 0;
	char id[RECORD_ID_MAX];
	memcpy(id, j->k.id, sizeof id);
	int rc = gw_commit_done(j->g, &j->k, res, v, err);
	gw_mocache_drop(j->g, j->msisdn); /* its version moved on */
	if (rc == 1) {
		gw_ussd_dial_done(j->g, j->smsc, j->msisdn, id, j->fed_q);
		gw_mo_finish(j, SMPP_ESME_ROK);
	} else if (rc == 0 && j->attempt < 5) {
		gw_mo_active(j); /* the survey moved on meanwhile: look again */
	} else if (rc == 0) {
		gw_mo_none(j, 1);
	} else {
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN); /* the SMSC delivers the dial again */
	}
}

/* ACTIVE's reply r to a dial: the screen where the survey stands, once its
 * COMMIT is back, or the "no survey" screen. */
static void gw_mo_dial(struct gw_mojob *j, const struct store_active *a)
{
	struct gw *g = j->g;
	char id[RECORD_ID_MAX];
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	int rc = gw_active_read(g, a, id, &m, &c, &s);
	if (rc == -ENOENT) { /* finished meanwhile: look again */
		survey_clear(&s);
		if (j->attempt < 5)
			gw_mo_active(j);
		else
			gw_mo_none(j, 1);
		return;
	}
	j->fed_q = rc == 0 ? (int)m.sq : -1;
	rc = gw_ussd_dial_prepare(g, &j->ussd, rc, j->msisdn, &m, c, &s, &j->k);
	if (rc == 0) {
		gw_mo_none(j, 1);
		return;
	}
	j->busy = 1;
	if (rc < 0 || gw_commit_async(g, &j->k, gw_mo_on_dial_commit, j) < 0) {
		j->busy = 0;
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
	}
}

static void gw_mo_on_active(void *arg, int res, const struct store_active *a, const char *err)
{
	struct gw_mojob *j = arg;
	struct gw *g = j->g;
	j->busy = 0;
	if (res < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("[%s] mo msisdn=%s err=\"%s\"", g->cfg->smsc[j->smsc].name, j->mask, err ? err : "");
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
		return;
	}
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	uint32_t status = SMPP_ESME_RX_T_APPN;
	if (g->esme_epoch[j->smsc] != j->epoch) {
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN); /* its session is gone: the SMSC delivers it again */
		return;
	}
	if (j->kind == GW_MOJ_DIAL) {
		gw_mo_dial(j, a);
		return;
	}
	int v = gw_mo_judge(g, j->e, j->msisdn, j->text, a, &m, &c, &s, &status);
	if (v == GW_MO_STORED) {
		/* as after our own COMMIT: the replies of this number that came
		 * meanwhile came before the item it asks left (a duplicate
		 * deliver_sm of this very reply is the usual one) */
		if (m.sq >= 0)
			gw_mo_mark_before(j, (int)m.sq, 0);
		gw_mo_finish(j, SMPP_ESME_ROK);
		return;
	}
	if (v == GW_MO_AGAIN && j->attempt < 5) {
		gw_mo_active(j);
		return;
	}
	if (v == GW_MO_NOTICE) {
		if (gw_no_survey_async_u(g, &j->ussd, j->msisdn, j->text, gw_mo_on_notice, j) < 0)
			gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
		else
			j->busy = 1;
		return;
	}
	if (v != GW_MO_FEED) {
		gw_mo_finish(j, v == GW_MO_AGAIN ? SMPP_ESME_RX_T_APPN : status);
		return;
	}
	gw_mo_feed(j, &m, c, &s);
}

/* Feeds the reply to the survey (m, c, s: read now, or from the cache) and
 * sends its COMMIT. Clears s. */
static void gw_mo_feed(struct gw_mojob *j, struct record_meta *m, const struct campaign *c, struct survey *s)
{
	struct gw *g = j->g;
	if (((j->before_q >= 0 && s->q >= j->before_q) ||
	     /* (an item a crash left unsure of may have been read: gw_mo_judge) */
	     (s->status == SURVEY_ACTIVE && m->uq != s->q &&
	      ((j->unsent_q == s->q && strcmp(j->unsent_id, m->id) == 0) || gw_item_unsent(g, m->id, s->q)))) &&
	    !gw_is_stop(j->text)) {
		/* (an opt-out answers no item: honoured whatever has left) */
		g->counters[GW_MO_EARLY]++;
		log_info("[%s] mo msisdn=%s survey=%s item=%d msg=\"reply came before the item left, ignored\"",
		         g->cfg->smsc[j->smsc].name, j->mask, m->id, s->q);
		survey_clear(s);
		gw_mo_finish(j, SMPP_ESME_ROK);
		return;
	}
	struct survey_out o;
	j->fed_q = s->q;
	/* the state as read: the COMMIT writes only what the step changes */
	struct record_strv before = {0};
	int diff = record_state_fields(c, s, &before) == 0;
	int rc = survey_feed(c, s, j->text, gw_now(), &o);
	if (rc == 0 && o.echo)
		gw_mo_echo_note(g, j->mask, m->id, s->q);
	if (rc == 0)
		rc = gw_commit_prepare_u(g, &j->ussd, m, c, s, &o, m->ver, NULL, 0, diff ? &before : NULL, &j->k);
	record_strv_free(&before);
	if (rc == 0 && !o.finished && (j->after = calloc(1, sizeof *j->after)) != NULL) {
		snprintf(j->after->msisdn, sizeof j->after->msisdn, "%s", j->msisdn);
		j->after->m = *m;
		snprintf(j->after->m.ver, sizeof j->after->m.ver, "%lld", atoll(m->ver) + 1);
		if (survey_copy(&j->after->s, s) < 0) {
			gw_mocache_free(j->after);
			j->after = NULL;
		}
	}
	survey_out_clear(&o);
	survey_clear(s);
	if (rc < 0) {
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
		return;
	}
	j->k.t_reply = j->t_reply;
	j->busy = 1;
	if (gw_commit_async(g, &j->k, gw_mo_on_commit, j) < 0) {
		j->busy = 0;
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
	}
}

static void gw_mo_active(struct gw_mojob *j)
{
	struct gw *g = j->g;
	if (!j->text)
		return; /* a place kept for a long reply still being put together: gw_mo_go starts it */
	if (j->kind == GW_MOJ_RELEASE) { /* nothing to store: in line only for its order */
		gw_ussd_release(g, j->msisdn);
		gw_mo_finish(j, SMPP_ESME_ROK);
		return;
	}
	if (j->kind == GW_MOJ_NONE) {
		gw_mo_none(j, 0);
		return;
	}
	if (j->attempt == 0 && j->kind == GW_MOJ_REPLY) {
		/* the survey as we left it: straight to COMMIT */
		struct gw_mocache **e = gw_mocache_slot(g, j->msisdn);
		const struct campaign *c = NULL;
		if (e && *e && strcmp((*e)->msisdn, j->msisdn) == 0 && (*e)->s.status == SURVEY_ACTIVE &&
		    (c = gw_campaign(g, (*e)->m.campaign, (*e)->m.cver)) != NULL) {
			struct record_meta m = (*e)->m;
			struct survey s;
			if (m.sq < (*e)->s.q) {
				/* whether the item left is Redis's to say: "ver:q" makes
				 * the COMMIT also require sq >= q (else 0: ACTIVE judges) */
				snprintf(m.ver, sizeof m.ver, "%.11s:%d", (*e)->m.ver, (*e)->s.q % 1000);
				m.sq = (*e)->s.q;
			}
			if (survey_copy(&s, &(*e)->s) == 0) {
				j->attempt++;
				g->counters[GW_MO_CACHED]++;
				gw_mo_feed(j, &m, c, &s);
				return;
			}
			survey_clear(&s);
		}
	}
	char k_act[48], k_last[48];
	gw_key(k_act, sizeof k_act, GW_K_ACTIVE, j->msisdn);
	gw_key(k_last, sizeof k_last, GW_K_LAST, j->msisdn);
	j->attempt++;
	j->busy = 1;
	if (store_async_active(g->store, k_act, k_last, gw_mo_on_active, j) < 0) {
		j->busy = 0;
		g->counters[GW_REDIS_ERR]++;
		gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
		return;
	}
	gw_mo_check_pressure(g);
}

void gw_mo_async(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, const char *text,
                 double t_reply)
{
	gw_mo_async_then(g, e, token, msisdn, text, t_reply, NULL, NULL);
}

/* The first job of its number in its bucket (the one being handled). */
static int gw_mo_first(const struct gw_mojob *j)
{
	const struct gw_mojob *x = j->g->moq[j->h % GW_MOQ_BUCKETS];
	while (x && strcmp(x->msisdn, j->msisdn) != 0)
		x = x->next;
	return x == j;
}

void gw_mo_go(struct gw_mojob *j, const char *text)
{
	struct gw *g = j->g;
	if (text && (j->text = strdup(text)) != NULL) {
		if (gw_mo_first(j))
			gw_mo_active(j);
		return;
	}
	/* nothing to handle, or (text given) no memory to: out of line, the
	 * number's next reply goes on; with no memory its owner hears that it
	 * was not stored (the SMSC delivers it again) */
	gw_mo_done_fn done = text ? j->done : NULL;
	void *arg = j->done_arg;
	int first = gw_mo_first(j);
	struct gw_mojob *n = gw_mo_unlink(j);
	free(j);
	if (done)
		done(g, arg, SMPP_ESME_RX_T_APPN);
	if (n && first)
		gw_mo_active(n);
}

/* A job in its number's line; text NULL keeps the place (gw_mo_hold). NULL
 * when out of memory. */
static struct gw_mojob *gw_mo_enqueue(struct gw *g, struct esme *e, uint64_t token, const char *msisdn,
                                      const char *text, double t_reply, gw_mo_done_fn done, void *arg)
{
	int smsc = gw_esme_index(g, e);
	struct gw_mojob *j = smsc >= 0 ? calloc(1, sizeof *j) : NULL;
	if (j && text && !(j->text = strdup(text))) {
		free(j);
		j = NULL;
	}
	if (!j)
		return NULL;
	j->done = done;
	j->done_arg = arg;
	j->g = g;
	j->e = e;
	j->smsc = smsc;
	j->epoch = g->esme_epoch[smsc];
	j->token = token;
	j->t_reply = t_reply;
	j->k.direct = -1;
	j->before_q = -1;
	j->unsent_q = -1;
	if (text) /* (a long reply's place: its parts came before) */
		gw_item_unsent_to(g, msisdn, j->unsent_id, &j->unsent_q);
	snprintf(j->msisdn, sizeof j->msisdn, "%s", msisdn);
	phone_mask(msisdn, j->mask);
	j->h = gw_hash64(msisdn);
	/* at the end of its bucket; it waits when an earlier reply of the
	 * same number is still on its way */
	struct gw_mojob **pp = &g->moq[j->h % GW_MOQ_BUCKETS];
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
	g->mo_jobs++;
	return j;
}

struct gw_mojob *gw_mo_hold(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, double t_reply,
                            gw_mo_done_fn done, void *arg)
{
	return gw_mo_enqueue(g, e, token, msisdn, NULL, t_reply, done, arg);
}

void gw_mo_ussd(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, const char *text,
                double t_reply, const struct gw_ussd_ctx *u, int kind)
{
	struct gw_mojob *j = gw_mo_enqueue(g, e, token, msisdn, text ? text : "", t_reply, NULL, NULL);
	if (!j) {
		esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return;
	}
	j->kind = kind;
	j->ussd = *u;
	if (gw_mo_first(j))
		gw_mo_active(j);
}

void gw_mo_async_then(struct gw *g, struct esme *e, uint64_t token, const char *msisdn, const char *text,
                      double t_reply, gw_mo_done_fn done, void *arg)
{
	struct gw_mojob *j = gw_mo_enqueue(g, e, token, msisdn, text, t_reply, done, arg);
	if (!j) {
		if (done)
			done(g, arg, SMPP_ESME_RX_T_APPN);
		else
			esme_answer(e, token, SMPP_ESME_RX_T_APPN);
		return;
	}
	if (gw_mo_first(j))
		gw_mo_active(j);
}

size_t gw_mo_pending(const struct gw *g)
{
	return g->mo_jobs;
}

/* At the end (the asynchronous connection closed): what still waits is
 * answered "not stored", the SMSC delivers it again. */
void gw_mo_free(struct gw *g)
{
	gw_unsure_free(g);
	gw_mo_cache_clear(g);
	free(g->mocache);
	g->mocache = NULL;
	for (int b = 0; b < GW_MOQ_BUCKETS; b++)
		while (g->moq[b]) {
			struct gw_mojob *j = g->moq[b];
			if (j->busy) { /* cannot be: its callback ran at the close */
				g->moq[b] = j->next;
				continue;
			}
			gw_mo_finish(j, SMPP_ESME_RX_T_APPN);
		}
}
