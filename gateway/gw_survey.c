/* gw_survey: surveys started from the queue, citizens' replies (reading and judging them; the
 * asynchronous path is gw_mo.c, long ones gw_moparts.c), timers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esme.h"
#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "reply.h"
#include "schedule.h"
#include "store.h"
#include "survey.h"
#include "text.h"

/* The answer to a reply from a number that has no survey running (built in:
 * it belongs to no campaign; docs/design.md). */
static const char gw_no_survey_text[] =
	"Số này chỉ dùng để khảo sát sự hài lòng về dịch vụ hành chính công. "
	"Hiện Ông/Bà không có khảo sát nào đang diễn ra. Xin cảm ơn.";

/* The confirmation of HUY/STOP sent by a number without a survey, when no
 * campaign named "default" gives its own `stopped` message. */
static const char gw_stopped_text[] =
	"Ông/Bà đã dừng khảo sát và sẽ không nhận thêm tin nhắn. Xin cảm ơn.";

/* ---- starting surveys ---- */

static void gw_drop_starting_done(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	(void)err;
	if (rc < 0)
		g->counters[GW_REDIS_ERR]++; /* left in our list: the lease tick puts it back, and it is dropped again */
}

/* (on the asynchronous connection: g outlives every callback, gw_free
 * closes the connection first) */
static void gw_drop_starting(struct gw *g, const char *id)
{
	const char *argv[] = {"LREM", g->k_starting, "0", id};
	if (store_async_intv(g->store, 4, argv, gw_drop_starting_done, g) < 0)
		g->counters[GW_REDIS_ERR]++;
}

/* A survey's START on its way (asynchronous connection): the survey as
 * read, and its first step prepared. */
struct gw_startjob {
	struct gw *g;
	struct record_meta m;
	struct survey s;
	struct gw_commit k;
	const char **keys, **args; /* START's: they point into k and the strings below */
	int nk, na;
	int tries;
	unsigned restores; /* g->optout_restores when START was sent */
	char k_act[48], k_wait[48], k_s[64], k_last[48];
	char snow[24], sre[24], sttl[24], h[65], sper[16];
};

static void gw_startjob_free(struct gw_startjob *j)
{
	j->g->starts_pending--;
	if (j->k.nkeys)
		gw_commit_clear(j->g, &j->k);
	survey_clear(&j->s);
	free(j->keys);
	free(j->args);
	free(j);
}

static void gw_start_done(void *arg, int rc, const struct store_list *r, const char *err);
static void gw_start_restored(void *arg, int rc);
static void gw_start_dropped(struct gw_startjob *j, long long claimed);

static int gw_start_send(struct gw_startjob *j)
{
	j->restores = j->g->optout_restores;
	return store_async_run_list(j->g->store, STORE_START, j->nk, j->keys, j->na, j->args, gw_start_done, j);
}

/* START's reply: the citizen claimed and the first item sent (1), or why not. */
static void gw_start_done(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw_startjob *j = arg;
	struct gw *g = j->g;
	char mask[PHONE_MAX];
	phone_mask(j->m.msisdn, mask);
	if (rc == -EIO || rc == -ENOMEM) {
		/* it may have run: if not, the id is still in our hl:starting and
		 * goes back in line at the next lease tick (gw_tick_starting:
		 * this one by its id, while other starts go on) */
		g->counters[GW_REDIS_ERR]++;
		gw_commit_done(g, &j->k, -EIO, 0, err);
		if (!g->lost_starts)
			g->lost_starts = calloc(GW_LOST_STARTS_MAX, sizeof *g->lost_starts);
		if (g->lost_starts && g->nlost_starts < GW_LOST_STARTS_MAX)
			snprintf(g->lost_starts[g->nlost_starts++], RECORD_ID_MAX, "%s", j->m.id);
		gw_startjob_free(j);
		return;
	}
	long long claimed = rc == 0 && r->n == 2 && r->e[0].kind == STORE_INT ? r->e[0].i : -1;
	/* Redis held no opt-outs of ours: restored (once for a whole batch:
	 * not again when another START restored them meanwhile, and a START
	 * that finds a restore on its way waits for it), claimed again */
	if (claimed == -2 && j->tries++ == 0) {
		if (j->restores != g->optout_restores) {
			if (gw_start_send(j) == 0)
				return;
		} else if (!g->closing && gw_optout_restore_async(g, gw_start_restored, j) == 0) {
			return; /* gw_start_restored goes on */
		}
	}
	if (claimed == 1) {
		int direct = j->k.direct, nout = j->k.nout;
		const struct store_item *st = &r->e[1];
		if (gw_commit_done(g, &j->k, 0, st->kind == STORE_INT ? st->i : 0, NULL) == 1) {
			/* the citizen's first reply goes straight to COMMIT (gw_mo.c) */
			if (j->s.status == SURVEY_ACTIVE)
				gw_mo_cache_put(g, j->m.msisdn, &j->m, &j->s, direct >= 0 && j->k.handed == nout ? j->s.q : -1);
			g->counters[GW_STARTED]++;
			log_debug("survey started survey=%s campaign=%s msisdn=%s", j->m.id, j->m.campaign, mask);
		}
		gw_startjob_free(j);
		return;
	}
	gw_start_dropped(j, claimed);
}

/* UNCLAIM of a survey that waits for the opt-outs: a failure leaves it on
 * our starting list, where the lease tick finds it. */
static void gw_start_on_unclaim(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	if (rc < 0 && rc != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++;
		if (!g->closing)
			log_warn("start msg=\"UNCLAIM failed: the lease tick puts it back\" err=\"%s\"", err ? err : "");
	}
}

/* The restore a START waited for (rc 0: done): its claim again, or not
 * started. */
static void gw_start_restored(void *arg, int rc)
{
	struct gw_startjob *j = arg;
	if (rc == 0 && !j->g->closing && gw_start_send(j) == 0)
		return;
	gw_start_dropped(j, -2);
}

/* A START that did not start its survey (claimed: CLAIM's answer): archived
 * as it was, nothing asked, or back in line. Frees j. */
static void gw_start_dropped(struct gw_startjob *j, long long claimed)
{
	struct gw *g = j->g;
	const struct campaign *c = gw_campaign(g, j->m.campaign, j->m.cver);
	gw_commit_clear(g, &j->k);
	/* not started after all: archived as it was, nothing asked */
	survey_clear(&j->s);
	survey_init(&j->s);
	if (claimed == -2) {
		/* back to the head of the queue; the queue waits for the restore (gw_optout_cb) */
		g->optout_blocked = 1;
		const char *uk[] = {g->k_starting, GW_K_QUEUE};
		const char *ua[] = {j->m.id};
		if (store_async_run_int(g->store, STORE_UNCLAIM, 2, uk, 1, ua, gw_start_on_unclaim, g) < 0)
			g->counters[GW_REDIS_ERR]++;
	} else if (claimed == -3) {
		log_warn("start survey=%s msg=\"changed while starting, left for REAP\"", j->m.id);
	} else if (claimed == 2 && c) {
		gw_finish_later(g, &j->m, c, &j->s, SURVEY_SUPPRESSED, schedule_reason(SCHEDULE_OPTED_OUT), 1);
	} else if (claimed == 3 && c) {
		gw_finish_later(g, &j->m, c, &j->s, SURVEY_SUPPRESSED, schedule_reason(SCHEDULE_RESURVEY), 1);
	}
	gw_startjob_free(j);
}

/* A start held by quiet hours: its DEFER on its way (the asynchronous
 * connection). */
struct gw_defer {
	struct gw *g;
	int64_t until;
	char id[RECORD_ID_MAX], mask[PHONE_MAX];
};

static void gw_defer_done(void *arg, int rc, long long v, const char *err)
{
	struct gw_defer *d = arg;
	struct gw *g = d->g;
	(void)v;
	g->starts_pending--;
	if (rc == 0) {
		g->counters[GW_DEFERRED]++;
		log_info("start survey=%s msisdn=%s msg=\"quiet hours: start held\" until=%" PRId64, d->id, d->mask,
		         d->until);
	} else {
		/* not run: still in our hl:starting, back in line at a lease tick */
		g->counters[GW_REDIS_ERR]++;
		log_warn("start survey=%s msg=\"quiet hours: could not hold the start\" err=\"%s\"", d->id, err ? err : "");
	}
	free(d);
}

/* Starts survey id, whose record POP returned (rec): its first step is
 * prepared here and START (claim and first COMMIT in one script) goes on
 * the asynchronous connection; gw_start_done does the rest. */
static void gw_start_one(struct gw *g, const char *id, const struct store_list *rec)
{
	struct record_meta m;
	const struct campaign *c = NULL;
	struct survey s;
	int rc = gw_parse_survey(g, id, rec, &m, &c, &s);
	char mask[PHONE_MAX];
	if (rc == -ENOENT) {
		gw_drop_starting(g, id);
		survey_clear(&s);
		return;
	}
	if (rc == -ESRCH) {
		log_error("start survey=%s campaign=%s msg=\"campaign no longer loaded\"", id, m.campaign);
		gw_finish_later(g, &m, NULL, &s, SURVEY_FAILED, "campaign not loaded", 1);
		survey_clear(&s);
		return;
	}
	if (rc < 0) {
		log_error("start survey=%s msg=\"unreadable survey record, dropped\" rc=%d", id, rc);
		gw_drop_starting(g, id);
		survey_clear(&s);
		return;
	}
	if (s.status != SURVEY_QUEUED && s.status != SURVEY_WAITING) {
		/* started already (a copy of its id put back in line by a peer that
		 * thought us dead): starting it again would resend item 1 */
		log_warn("start survey=%s status=%s msg=\"already started, not again\"", id, survey_status_name(s.status));
		gw_drop_starting(g, id);
		survey_clear(&s);
		return;
	}
	phone_mask(m.msisdn, mask);
	/* a survey that has not sent anything yet takes the current version */
	const struct campaign *cur = gw_campaign(g, m.campaign, NULL);
	if (cur && cur != c) {
		survey_clear(&s);
		survey_init(&s);
		c = cur;
	}
	snprintf(m.cver, sizeof m.cver, "%s", c->version);
	int64_t now = gw_now();
	if (!schedule_in_window(c, m.triggered_at)) {
		gw_finish_later(g, &m, c, &s, SURVEY_SUPPRESSED, schedule_reason(SCHEDULE_OUTSIDE_WINDOW), 1);
		survey_clear(&s);
		return;
	}
	int64_t quiet = schedule_quiet_until(c, now);
	if (quiet) {
		char at[24];
		snprintf(at, sizeof at, "%" PRId64, quiet);
		const char *keys[] = {GW_K_DUE, g->k_starting};
		const char *args[] = {m.id, at};
		struct gw_defer *d = malloc(sizeof *d);
		if (d) {
			d->g = g;
			d->until = quiet;
			snprintf(d->id, sizeof d->id, "%s", m.id);
			snprintf(d->mask, sizeof d->mask, "%s", mask);
		}
		/* a start on its way (starts_pending): the lease tick leaves our
		 * hl:starting alone meanwhile */
		if (d && store_async_run_int(g->store, STORE_DEFER, 2, keys, 2, args, gw_defer_done, d) == 0) {
			g->starts_pending++;
		} else {
			free(d); /* stays in our hl:starting; put back in line by the lease tick */
			g->counters[GW_REDIS_ERR]++;
		}
		survey_clear(&s);
		return;
	}
	struct gw_startjob *j = calloc(1, sizeof *j);
	if (!j) {
		survey_clear(&s);
		return; /* stays in our hl:starting; put back in line by the lease tick */
	}
	j->g = g;
	j->m = m;
	j->s = s; /* owns its answers now */
	g->starts_pending++;
	gw_key(j->k_act, sizeof j->k_act, GW_K_ACTIVE, m.msisdn);
	gw_key(j->k_wait, sizeof j->k_wait, GW_K_WAIT, m.msisdn);
	gw_key(j->k_s, sizeof j->k_s, GW_K_SURVEY, m.id);
	gw_key(j->k_last, sizeof j->k_last, GW_K_LAST, m.msisdn);
	snprintf(j->snow, sizeof j->snow, "%" PRId64, now);
	snprintf(j->sre, sizeof j->sre, "%" PRId64, c->resurvey_after);
	/* hl:c: also names the running survey: kept while it can run */
	snprintf(j->sttl, sizeof j->sttl, "%" PRId64, (int64_t)GW_LAST_TTL + c->expire_after);
	gw_msisdn_hash(g, m.msisdn, j->h);
	/* the first step, prepared now: CLAIM and its COMMIT go in one script
	 * (START), the COMMIT done only when the citizen is ours */
	struct survey_out o;
	int have = survey_start(c, &j->s, now, &o) == 0 &&
	           gw_commit_prepare(g, &j->m, c, &j->s, &o, j->m.ver, NULL, 1, &j->k) == 0;
	survey_out_clear(&o);
	if (!have) {
		log_error("start survey=%s msg=\"first step could not be prepared\"", m.id);
		gw_startjob_free(j);
		return; /* stays in our hl:starting; put back in line by the lease tick */
	}
	const char *ck[] = {j->k_act, j->k_wait, g->k_starting, j->k_s, GW_K_OPTOUT, j->k_last, GW_K_QUEUE, g->k_optready};
	/* the period of hl:i: a survey whose id is there moves into its citizen's hash */
	snprintf(j->sper, sizeof j->sper, "%d", GW_TX_PERIOD);
	const char *ca[] = {j->m.id, j->m.msisdn, j->snow, j->sre, j->sttl, j->h, j->sper};
	j->keys = malloc(sizeof *j->keys * (size_t)(8 + j->k.nkeys));
	j->args = malloc(sizeof *j->args * (size_t)(9 + j->k.a.n));
	if (!j->keys || !j->args) {
		gw_startjob_free(j);
		return;
	}
	static const char nck[] = "8", nca[] = "7";
	j->args[j->na++] = nck;
	j->args[j->na++] = nca;
	for (int i = 0; i < 8; i++)
		j->keys[j->nk++] = ck[i];
	for (int i = 0; i < 7; i++)
		j->args[j->na++] = ca[i];
	for (int i = 0; i < j->k.nkeys; i++)
		j->keys[j->nk++] = j->k.keys[i];
	for (int i = 0; i < j->k.a.n; i++)
		j->args[j->na++] = j->k.a.v[i];
	if (gw_start_send(j) < 0) {
		g->counters[GW_REDIS_ERR]++;
		gw_commit_done(g, &j->k, -EIO, 0, "redis unreachable");
		gw_startjob_free(j);
	}
}

static void gw_pop_done(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw *g = arg;
	g->pop_busy = 0;
	int again = g->pop_again;
	g->pop_again = 0;
	if (rc == 0 && g->shutting_down)
		return; /* draining: what it took waits in our hl:starting, put back in line at the end (REAP) */
	if (rc < 0) {
		/* what it took (if it ran) waits in our hl:starting for the lease tick */
		g->counters[GW_REDIS_ERR]++;
		log_warn("start err=\"%s\"", err ? err : "");
		return;
	}
	/* {id, its record, id, its record...}; a record that is no list (gone) reads as empty */
	size_t got = r->n / 2;
	static const struct store_list none;
	for (size_t i = 0; i < got; i++) {
		const struct store_item *id = &r->e[2 * i], *rec = &r->e[2 * i + 1];
		if (id->kind == STORE_STR && id->len < RECORD_ID_MAX)
			gw_start_one(g, id->s, rec->kind == STORE_NESTED ? rec->sub : &none);
	}
	/* more may be waiting (a full batch, or a trigger came while this POP
	 * was on its way): after the other events, not at the next 1 s tick */
	if ((got == GW_POP_MAX || again) && !g->shutting_down)
		event_active(g->ev_queue, 0, 0);
}

/* Takes up to GW_POP_MAX surveys from the queue with their records (POP,
 * one round trip on the asynchronous connection) and starts them; one POP
 * at a time. */
void gw_queue_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	if (g->pop_busy) {
		g->pop_again = 1;
		return;
	}
	if (g->shutting_down || !g->registered)
		return; /* (not in hl:instances yet: a crash would leave our starting list to no one) */
	if (g->optout_blocked)
		return; /* the opt-outs are not in Redis: gw_optout_cb restores them first */
	char most[12];
	snprintf(most, sizeof most, "%d", GW_POP_MAX);
	const char *keys[] = {GW_K_QUEUE, g->k_starting};
	const char *args[] = {most};
	if (store_async_run_list(g->store, STORE_POP, 2, keys, 1, args, gw_pop_done, g) < 0) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	g->pop_busy = 1;
}

/* 1 while a POP or a START is on its way: our hl:starting is theirs. */
int gw_starts_busy(const struct gw *g)
{
	return g->pop_busy || g->starts_pending > 0;
}

/* ---- replies ---- */

int gw_is_stop(const char *text)
{
	char *f = text_fold(text);
	int stop = f && reply_keyword(f) == REPLY_STOP;
	free(f);
	return stop;
}

/* The text answering a reply without a survey. */
static const char *gw_no_survey_msg(struct gw *g, int stop)
{
	if (!stop)
		return gw_no_survey_text;
	const struct campaign *d = gw_campaign(g, "default", NULL);
	return d && d->msg.stopped ? d->msg.stopped : gw_stopped_text;
}

int gw_no_survey_async(struct gw *g, const char *msisdn, const char *text, gw_notice_fn done, void *arg)
{
	return gw_no_survey_async_u(g, NULL, msisdn, text, done, arg);
}

int gw_no_survey_async_u(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn, const char *text,
                         gw_notice_fn done, void *arg)
{
	int stop = gw_is_stop(text);
	gw_stray_note(g, msisdn); /* kept by hash for the integrity signals (gw_stray.c) */
	return gw_notice_async_u(g, u, msisdn, gw_no_survey_msg(g, stop), stop ? GW_K_ORPHAN_STOP : GW_K_ORPHAN,
	                         stop, done, arg);
}

/* 1 when `text` reads as an answer to item i of c (an option or a skip), 0
 * when not, -ENOMEM. */
static int gw_reply_fits(const struct campaign *c, int i, const char *text)
{
	struct reply rp;
	if (reply_parse(&c->questions[i], text, &rp) < 0)
		return -ENOMEM;
	int fits = rp.kind == REPLY_ANSWER || rp.kind == REPLY_SKIP;
	reply_clear(&rp);
	return fits;
}

/* Whether a reply that came while item s->q's fate is unknown (uq: handed to
 * the SMSC by a gateway that died before it heard back) may answer it. Only
 * when nothing else can explain it: it is not the last reply fed again (a
 * redelivery), it reads as an answer to item q, and it reads as no answer to
 * the item answered before (else it may be a correction or a rewording of
 * that answer, written by a citizen who never saw item q: a wrong value is
 * worse than the re-prompt the reminder makes). Returns 1, 0 or -ENOMEM. */
static int gw_unsure_reply_answers(const struct campaign *c, const struct survey *s, const char *text)
{
	if (!c || s->q <= 0 || s->q >= c->nquestions || !s->last_h || survey_reply_hash(text) == s->last_h)
		return 0;
	int prev = -1;
	for (int i = s->q - 1; i >= 0 && prev < 0; i--)
		if (s->answers[i].state)
			prev = i;
	int fits = gw_reply_fits(c, s->q, text);
	if (fits <= 0)
		return fits;
	if (prev < 0)
		return 1;
	fits = gw_reply_fits(c, prev, text);
	return fits < 0 ? fits : !fits;
}

int gw_mo_judge(struct gw *g, struct esme *e, const char *msisdn, const char *text, const struct store_active *a,
                struct record_meta *m, const struct campaign **c, struct survey *s, uint32_t *status)
{
	char mask[PHONE_MAX];
	phone_mask(msisdn, mask);
	*status = SMPP_ESME_ROK;
	if (!a->running && a->ended_at > 0 && gw_now() - a->ended_at < GW_RECENT_END &&
	    !gw_is_stop(text)) {
		/* their survey ended a moment ago: this is its last answer
		 * delivered again (a crash between its commit and its
		 * deliver_sm_resp) or a word after the thanks; the notice
		 * "no survey running" would only confuse them */
		g->counters[GW_MO_AFTER_END]++;
		log_info("[%s] mo msisdn=%s msg=\"survey ended recently, acknowledged\"", esme_name(e), mask);
		return GW_MO_DONE;
	}
	char id[RECORD_ID_MAX];
	int rc = gw_active_read(g, a, id, m, c, s);
	if (rc == 1 && gw_mo_unsure_took(g, msisdn, text, NULL)) {
		log_info("[%s] mo msisdn=%s msg=\"the survey this reply was stored to has ended: acknowledged\"",
		         esme_name(e), mask);
		return GW_MO_DONE;
	}
	if (rc == 1) {
		g->counters[GW_MO_ORPHAN]++;
		log_info("[%s] mo msisdn=%s msg=\"no survey running\"", esme_name(e), mask);
		return GW_MO_NOTICE;
	}
	if (rc == -ENOENT) {
		survey_clear(s);
		return GW_MO_AGAIN; /* finished meanwhile: look again */
	}
	if (rc < 0) {
		gw_fail_broken(g, m, *c, s, rc, msisdn);
		survey_clear(s);
		return GW_MO_DONE;
	}
	if (gw_mo_unsure_took(g, msisdn, text, m)) {
		/* this reply's COMMIT ran though its answer was lost: stored */
		log_info("[%s] mo msisdn=%s survey=%s msg=\"this reply was stored though its commit's answer was lost: acknowledged\"",
		         esme_name(e), mask, id);
		m->sq = s->status == SURVEY_ACTIVE ? s->q : -1;
		survey_clear(s);
		return GW_MO_STORED;
	}
	int unsure = 0;
	if (s->status == SURVEY_ACTIVE && m->sq < s->q && m->uq == s->q)
		unsure = gw_unsure_reply_answers(*c, s, text);
	if (unsure < 0) {
		*status = SMPP_ESME_RX_T_APPN; /* no memory to read it: delivered again later */
		survey_clear(s);
		return GW_MO_DONE;
	}
	if (unsure) {
		/* the item was handed to the SMSC by a gateway that died before
		 * it heard whether it left (sq went back when it was put back in
		 * line): it may well have reached the citizen, and this reply
		 * can only be its answer (gw_unsure_reply_answers). Else it would
		 * be lost: the item, sent again, is the same question, which many
		 * ignore */
		g->counters[GW_MO_UNSURE_ITEM]++;
		log_info("[%s] mo msisdn=%s survey=%s item=%d msg=\"item may have left before a crash, reply can only answer it: taken\"",
		         esme_name(e), mask, id, s->q);
		return GW_MO_FEED;
	}
	if (s->status == SURVEY_ACTIVE && m->sq < s->q && gw_is_stop(text)) {
		/* an opt-out answers no item: it is honoured whatever has left */
		log_info("[%s] mo msisdn=%s survey=%s msg=\"opt-out before the item reached the SMSC: taken\"",
		         esme_name(e), mask, id);
		return GW_MO_FEED;
	}
	if (s->status != SURVEY_ACTIVE || m->sq < s->q) {
		/* the item it would answer has not been accepted by the SMSC yet,
		 * so the citizen cannot have read it: this reply is a duplicate
		 * deliver_sm of the previous answer, or a message typed before
		 * the trigger, and answers nothing (after a crash that left the
		 * item's fate unknown, one with the previous answer's text) */
		g->counters[GW_MO_EARLY]++;
		log_info("[%s] mo msisdn=%s survey=%s item=%d msg=\"reply before the item reached the SMSC, ignored\"",
		         esme_name(e), mask, id, s->q);
		survey_clear(s);
		return GW_MO_DONE;
	}
	return GW_MO_FEED;
}

int gw_mo_front(struct gw *g, struct esme *e, const char *from, char *msisdn,
                uint32_t *status)
{
	char why[128];
	g->counters[GW_MO]++;
	*status = SMPP_ESME_RX_T_APPN;
	if (phone_normalize(from, msisdn, why, sizeof why) < 0) {
		log_info("[%s] mo from=\"%.20s\" msg=\"not a mobile number, ignored\"", esme_name(e), from);
		*status = SMPP_ESME_ROK;
		return 1;
	}
	return 0;
}

void gw_on_mo(void *arg, struct esme *e, uint64_t token, const char *from, const char *text,
              const struct smpp_sm *sm)
{
	struct gw *g = arg;
	if (gw_ussd_on_mo(arg, e, token, from, text, sm))
		return; /* a USSD session's MO, answered there */
	double t_reply = gw_clock();
	if (gw_sms_trigger_async(g, e, token, from, text))
		return; /* an office's trigger, answered once stored */
	char msisdn[PHONE_MAX];
	uint32_t status;
	if (gw_mo_front(g, e, from, msisdn, &status))
		esme_answer(e, token, status);
	else
		gw_mo_async(g, e, token, msisdn, text, t_reply);
}
