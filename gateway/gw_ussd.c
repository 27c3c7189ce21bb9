/* gw_ussd: USSD sessions over the operator's SMPP link (SPEC §9, docs/ussd.md).
 *
 * A survey of a `channel: ussd` campaign is the same survey as an SMS one
 * (state in its Redis hash, the same reading rules); what differs is how its
 * steps travel. Every step is ONE screen, an outbox entry carrying the
 * ussd_service_op to write: ussr_request while the survey runs, pssr_response
 * when it ends. A screen written in answer to a USSD MO (its job carries the
 * session, struct gw_ussd_ctx) goes back on the link the MO came from and
 * echoes its its_session_info / user_message_reference; a push (the first
 * screen after a trigger) takes the number's USSD link. The session itself
 * holds no state of its own: the survey hash says which item waits for an
 * answer, so a session that broke (network timeout, release) resumes when
 * the citizen dials the code again, on any gateway and after a restart.
 * What the gateway does keep is when each open session times out
 * (GW_K_USSD, a zset in Redis, so it outlives a restart and is shared by
 * every gateway): a screen that expects an answer arms it, an answer's next
 * screen re-arms it, an end, a release or a timeout removes it; a 1 s
 * timer closes the sessions left unanswered for the link's session_timeout
 * (hailong_ussd_sessions_total{event="timed_out"}).
 * A survey whose session ended unanswered gets one SMS inviting to dial
 * (ussd.invite_after, in place of the reminder; held by quiet hours like
 * every push). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "record.h"
#include "smpp_pdu.h"
#include "store.h"
#include "survey.h"
#include "ussd.h"

/* The final screen for a number without a running USSD survey. */
static const char gw_ussd_none_text[] = "Hien Ong/Ba khong co khao sat nao dang dien ra. Xin cam on.";

static void gw_ussd_ops(const struct config_smsc *s, struct ussd_ops *ops)
{
	ops->pssr_indication = s->ussd_op_pssr_indication;
	ops->pssr_response = s->ussd_op_pssr_response;
	ops->ussr_request = s->ussd_op_ussr_request;
	ops->ussr_confirm = s->ussd_op_ussr_confirm;
}

/* The USSD link of a number: its route when that entry carries USSD, else
 * the first entry that does; -1 when none does. */
int gw_ussd_route(const struct gw *g, const char *msisdn)
{
	int r = gw_route(g, msisdn);
	if (r >= 0 && r < g->cfg->nsmsc && g->cfg->smsc[r].has_ussd)
		return r;
	for (int i = 0; i < g->cfg->nsmsc; i++)
		if (g->cfg->smsc[i].has_ussd)
			return i;
	return -1;
}

/* A channel: ussd campaign needs an smpp entry with a ussd: block. */
int gw_ussd_check_campaign(const struct gw *g, const struct campaign *c, char *err, size_t errlen)
{
	if (c->channel != CAMPAIGN_USSD)
		return 0;
	int links = 0;
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		const struct config_smsc *s = &g->cfg->smsc[i];
		if (!s->has_ussd)
			continue;
		links++;
		/* the invitation is for a session that is over: never while the
		 * network may still hold the screen on the phone */
		int64_t after = c->ussd_invite_after > 0 ? c->ussd_invite_after : c->reminder_after;
		if (after > 0 && after < s->ussd_session_timeout_s) {
			snprintf(err, errlen,
			         "%s:1: %s (%llds) is shorter than the session_timeout (%ds) of "
			         "smpp %s: the SMS invitation could arrive while the session is still open",
			         c->file ? c->file : "campaign",
			         c->ussd_invite_after > 0 ? "ussd: invite_after" : "reminder_after (the invitation)",
			         (long long)after, s->ussd_session_timeout_s, s->name);
			return -EINVAL;
		}
	}
	if (links)
		return 0;
	snprintf(err, errlen,
	         "%s:1: channel: ussd, but no smpp entry of %s has a ussd: block (service_code, ops): "
	         "its screens have no link to go out on (docs/ussd.md)",
	         c->file ? c->file : "campaign", g->cfg->file ? g->cfg->file : "the configuration");
	return -EINVAL;
}

/* How a screen on link smsc goes out: its op, and when it answers an MO of
 * session x on that link, the TLVs to echo. */
void gw_ussd_out_for(const struct gw_ussd_ctx *x, const struct config *cfg, int smsc, int final,
                     struct gw_ussd_out *u)
{
	struct ussd_ops ops;
	memset(u, 0, sizeof *u);
	u->op = -1;
	if (smsc < 0 || smsc >= cfg->nsmsc || !cfg->smsc[smsc].has_ussd)
		return;
	gw_ussd_ops(&cfg->smsc[smsc], &ops);
	u->op = ussd_screen_op(&ops, final);
	if (x && x->active && x->smsc == smsc) {
		u->has_sess = x->has_sess;
		memcpy(u->sess, x->sess, sizeof u->sess);
		/* its_session_info's low bit is the end-of-session indicator
		 * (SMPP 3.4 5.3.2.43): set on the screen that ends it, as its op */
		if (final && u->has_sess)
			u->sess[1] |= 0x01;
		u->has_umr = x->has_umr;
		u->umr = x->umr;
	}
}

/* ---- session timeouts ---- */

/* Session timer changes wait here for up to GW_USSD_FLUSH_MS (never in the
 * way of the next screen), then go to Redis in one ZADD and one ZREM however
 * many steps there were. One entry per number: the last change wins. A
 * crash loses at most that much: a session then times out uncounted, or is
 * counted once more; the survey itself is in its hash and does not care. */
#define GW_USSD_TAKE 200      /* sessions closed per round trip */
#define GW_USSD_FLUSH_MS 100
struct gw_ussd_change {
	char msisdn[PHONE_MAX];
	double at;             /* the new deadline (unix s); 0 = the session is over */
};
struct gw_ussd_timers {
	struct event *tick;    /* every second: close the sessions past their deadline */
	struct event *flush;   /* sends the changes below */
	int taking;            /* a take is on its way (the asynchronous connection) */
	int rounds;            /* takes in this tick */
	struct gw_ussd_change *chg;
	int nchg, capchg;
};

/* Wall-clock seconds with milliseconds: session deadlines are shared by
 * every gateway, so not the monotonic clock. */
static double gw_ussd_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gw_ussd_flushed(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("ussd err=\"%s\" msg=\"session timers not written\"", err ? err : "");
	}
}

/* Sends the pending changes, on the asynchronous connection (sync: on the
 * synchronous one, at exit). A Redis error loses them: a session not armed
 * is not counted as timed out; one not removed is, later. */
static void gw_ussd_flush_on(struct gw *g, int sync)
{
	struct gw_ussd_timers *t = g->ussd_t;
	if (!t || !t->nchg)
		return;
	const char **av = malloc((size_t)(2 * t->nchg + 2) * sizeof *av);
	char(*score)[32] = malloc((size_t)t->nchg * sizeof *score);
	if (!av || !score) {
		free(av);
		free(score);
		return; /* kept for the next flush */
	}
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0: ZADD key score member...; pass 1: ZREM key member... */
		int n = 2;
		av[0] = pass ? "ZREM" : "ZADD";
		av[1] = GW_K_USSD;
		for (int i = 0; i < t->nchg; i++) {
			const struct gw_ussd_change *c = &t->chg[i];
			if ((c->at > 0) == pass)
				continue;
			if (!pass) {
				snprintf(score[i], sizeof score[i], "%.3f", c->at);
				av[n++] = score[i];
			}
			av[n++] = c->msisdn;
		}
		if (n == 2)
			continue;
		char err[256];
		int rc = sync ? store_execv(g->store, n, av, err, sizeof err)
		              : store_async_intv(g->store, n, av, gw_ussd_flushed, g);
		if (rc < 0) {
			g->counters[GW_REDIS_ERR]++;
			log_warn("ussd err=\"%s\" msg=\"session timers not written\"",
			         sync ? err : "Redis cannot be reached");
		}
	}
	free(av);
	free(score);
	t->nchg = 0;
}

static void gw_ussd_flush(struct gw *g)
{
	gw_ussd_flush_on(g, 0);
}

static void gw_ussd_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_ussd_flush(arg);
}

/* Records that msisdn's session now ends at `at` (0 = it is over). */
static void gw_ussd_change(struct gw *g, const char *msisdn, double at)
{
	struct gw_ussd_timers *t = g->ussd_t;
	if (!t)
		return;
	int i;
	for (i = 0; i < t->nchg && strcmp(t->chg[i].msisdn, msisdn) != 0; i++)
		;
	if (i == t->nchg) {
		if (t->nchg == t->capchg) {
			int cap = t->capchg ? 2 * t->capchg : 64;
			struct gw_ussd_change *n = realloc(t->chg, (size_t)cap * sizeof *n);
			if (!n) {
				gw_ussd_flush(g); /* write what is there, then try again */
				if (t->nchg == t->capchg)
					return;
			} else {
				t->chg = n;
				t->capchg = cap;
			}
		}
		i = t->nchg++;
		snprintf(t->chg[i].msisdn, sizeof t->chg[i].msisdn, "%s", msisdn);
	}
	t->chg[i].at = at;
	if (!evtimer_pending(t->flush, NULL)) {
		struct timeval tv = {0, GW_USSD_FLUSH_MS * 1000};
		evtimer_add(t->flush, &tv);
	}
}

void gw_ussd_step(struct gw *g, int smsc, const char *msisdn, int finished, int completed, int pushed_first,
                  int nmsg, int64_t last_at)
{
	if (finished && completed)
		g->counters[GW_USSD_COMPLETED]++;
	if (pushed_first && nmsg)
		g->counters[GW_USSD_OPENED]++; /* a push (a dial is counted when it comes) */
	if (finished) {
		gw_ussd_change(g, msisdn, 0);
		return;
	}
	if (!nmsg)
		return;
	int timeout = smsc >= 0 && smsc < g->cfg->nsmsc && g->cfg->smsc[smsc].has_ussd
	                      ? g->cfg->smsc[smsc].ussd_session_timeout_s
	                      : 180;
	/* from now, to the millisecond (a held push: from when it goes out) */
	double from = gw_ussd_clock();
	if ((double)last_at > from)
		from = (double)last_at;
	gw_ussd_change(g, msisdn, from + timeout);
}

/* Takes (removes and returns) up to ARGV[2] sessions of KEYS[1] whose
 * deadline is <= ARGV[1], in one step: a gateway that takes one is the only
 * one to count it, and a session re-armed meanwhile is not taken. */
static const char gw_ussd_take_lua[] =
	"local t = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))\n"
	"if #t > 0 then redis.call('ZREM', KEYS[1], unpack(t)) end\n"
	"return t\n";

static void gw_ussd_take(struct gw *g);

/* The sessions a take closed: counted and logged; a full take means more
 * may be past their deadline: another, up to 10 a tick. */
static void gw_ussd_taken(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw *g = arg;
	struct gw_ussd_timers *t = g->ussd_t;
	if (t)
		t->taking = 0;
	(void)err;
	if (rc < 0 && rc != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++; /* the next tick takes them */
		return;
	}
	size_t n = rc < 0 ? 0 : r->n;
	for (size_t i = 0; i < n; i++) {
		char mask[PHONE_MAX];
		if (r->e[i].kind != STORE_STR)
			continue;
		phone_mask(r->e[i].s, mask);
		g->counters[GW_USSD_TIMED_OUT]++;
		log_info("ussd msisdn=%s msg=\"session timed out without an answer: the survey waits for a "
		         "dial\"", mask);
	}
	if (t && n >= GW_USSD_TAKE && t->rounds < 10 && !g->closing)
		gw_ussd_take(g);
}

/* One take, on the asynchronous connection (after the changes flushed
 * before it: replies come in order). */
static void gw_ussd_take(struct gw *g)
{
	struct gw_ussd_timers *t = g->ussd_t;
	char now[24], max[16];
	if (t->taking)
		return; /* the last one is still on its way */
	snprintf(now, sizeof now, "%.3f", gw_ussd_clock());
	snprintf(max, sizeof max, "%d", GW_USSD_TAKE);
	const char *av[] = {"EVAL", gw_ussd_take_lua, "1", GW_K_USSD, now, max};
	if (store_async_listv(g->store, 6, av, gw_ussd_taken, g) < 0) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	t->taking = 1;
	t->rounds++;
}

/* Every second: the sessions left without an answer for their link's
 * session_timeout are over. Nothing is sent (the network has closed them);
 * the survey stays where it is, for a dial or the one SMS invitation. The
 * loop never waits for Redis here: both go on the asynchronous connection. */
static void gw_ussd_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	gw_ussd_flush(g); /* an answer handled just now re-armed its session */
	g->ussd_t->rounds = 0;
	gw_ussd_take(g);
}

int gw_ussd_start(struct gw *g)
{
	int any = 0;
	for (int i = 0; i < g->cfg->nsmsc; i++)
		any |= g->cfg->smsc[i].has_ussd;
	if (!any)
		return 0;
	struct gw_ussd_timers *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	g->ussd_t = t;
	t->tick = event_new(g->base, -1, EV_PERSIST, gw_ussd_tick_cb, g);
	t->flush = evtimer_new(g->base, gw_ussd_flush_cb, g);
	if (!t->tick || !t->flush)
		return -ENOMEM; /* gw_free -> gw_ussd_stop frees what was made */
	struct timeval sec = {1, 0};
	event_add(t->tick, &sec);
	return 0;
}

void gw_ussd_stop(struct gw *g)
{
	struct gw_ussd_timers *t = g->ussd_t;
	if (!t)
		return;
	if (g->store)
		gw_ussd_flush_on(g, 1); /* the timers of the last steps outlive this process */
	if (t->tick)
		event_free(t->tick);
	if (t->flush)
		event_free(t->flush);
	free(t->chg);
	free(t);
	g->ussd_t = NULL;
}

/* The citizen dialled the code (u: the session), and ACTIVE said where
 * their survey stands (rc, m, c, s as gw_active_parse leaves them, -ENOENT
 * excepted: the caller looks again): the screen of the item where their
 * USSD survey stands, prepared in k for its COMMIT (returns 1); 0 when this
 * code has nothing to show (no survey, an SMS one, one not running, or one
 * that cannot be read: archived as failed): the caller answers with
 * gw_ussd_none_async; < 0 when it cannot be written now. Clears s. */
int gw_ussd_dial_prepare(struct gw *g, const struct gw_ussd_ctx *u, int rc, const char *msisdn,
                         struct record_meta *m, const struct campaign *c, struct survey *s, struct gw_commit *k)
{
	if (rc == 1)
		return 0; /* no survey (s not loaded) */
	int kind = rc == 0 && c->channel == CAMPAIGN_USSD ? ussd_resume_kind(s) : -1;
	if (rc < 0 || kind < 0) {
		/* unreadable, not running, or an SMS survey: this code has nothing to show */
		if (rc < 0)
			gw_fail_broken(g, m, c, s, rc, msisdn);
		survey_clear(s);
		return 0;
	}
	struct survey_out o;
	memset(&o, 0, sizeof o);
	int64_t now = gw_now();
	rc = survey_compose(c, (enum survey_msg_kind)kind, s->q, &o.msg[0]);
	if (rc == 0 && o.msg[0]) {
		o.nmsg = 1;
		s->last_at = now;
		o.due = survey_next_due(c, s);
		rc = gw_commit_prepare_u(g, u, m, c, s, &o, m->ver, NULL, kind == SURVEY_MSG_FIRST, NULL, k);
	} else if (rc == 0) {
		rc = -EINVAL;
	}
	survey_out_clear(&o);
	survey_clear(s);
	return rc < 0 ? rc : 1;
}

/* A dial's screen is stored: the session is open where the survey stands. */
void gw_ussd_dial_done(struct gw *g, int smsc, const char *msisdn, const char *id, long long sq)
{
	char mask[PHONE_MAX];
	phone_mask(msisdn, mask);
	g->counters[GW_USSD_RESUMED]++;
	log_info("[%s] ussd dial msisdn=%s survey=%s item=%d msg=\"session opened where the survey stands\"",
	         g->cfg->smsc[smsc].name, mask, id, sq >= 0 ? (int)sq : 0);
}

/* The final "no survey" screen in session u (a dial of a number without a
 * running USSD survey, or of another code, dial 0): as gw_notice_async. */
int gw_ussd_none_async(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn, int dial,
                       gw_notice_fn done, void *arg)
{
	char mask[PHONE_MAX];
	phone_mask(msisdn, mask);
	if (dial)
		log_info("[%s] ussd dial msisdn=%s msg=\"no survey running\"", g->cfg->smsc[u->smsc].name, mask);
	return gw_notice_async_u(g, u, msisdn, gw_ussd_none_text, NULL, 0, done, arg);
}

/* The network released msisdn's session: nothing to time out. */
void gw_ussd_release(struct gw *g, const char *msisdn)
{
	gw_ussd_change(g, msisdn, 0);
}

/* 1 when the MO belongs to a USSD session (it is answered by the number's
 * line of replies, gw_mo.c: after what it asks for is stored, and after
 * the number's earlier MOs, SMS or USSD), 0 for an ordinary SMS. */
int gw_ussd_on_mo(struct gw *g, struct esme *e, uint64_t token, const char *from, const char *text,
                  const struct smpp_sm *sm)
{
	int i;
	for (i = 0; i < g->nesme && g->esme[i] != e; i++)
		;
	if (i == g->nesme || i >= g->cfg->nsmsc || !g->cfg->smsc[i].has_ussd || !sm)
		return 0;
	const struct config_smsc *cs = &g->cfg->smsc[i];
	struct ussd_ops ops;
	gw_ussd_ops(cs, &ops);
	enum ussd_event ev = ussd_classify(&ops, sm->has_ussd_op, sm->ussd_op, text, cs->ussd_service_code);
	if (ev == USSD_EV_NONE)
		return 0;
	double t_reply = gw_clock();
	char msisdn[PHONE_MAX], why[128];
	if (phone_normalize(from, msisdn, why, sizeof why) < 0) {
		log_info("[%s] ussd from=\"%.20s\" msg=\"not a mobile number, ignored\"", esme_name(e), from);
		esme_answer(e, token, SMPP_ESME_ROK);
		return 1;
	}
	struct gw_ussd_ctx u;
	memset(&u, 0, sizeof u);
	u.active = 1;
	u.smsc = i;
	u.has_sess = sm->has_its_session;
	memcpy(u.sess, sm->its_session, sizeof u.sess);
	u.has_umr = sm->has_umr;
	u.umr = sm->umr;
	switch (ev) {
	case USSD_EV_DIAL:
		g->counters[GW_USSD_OPENED]++;
		gw_mo_ussd(g, e, token, msisdn, text, t_reply, &u, GW_MOJ_DIAL);
		break;
	case USSD_EV_DIAL_OTHER:
		g->counters[GW_USSD_OPENED]++;
		gw_mo_ussd(g, e, token, msisdn, text, t_reply, &u, GW_MOJ_NONE);
		break;
	case USSD_EV_ANSWER: {
		/* the same reading as an SMS reply; the next screen echoes the session */
		uint32_t status;
		if (gw_sms_trigger_async(g, e, token, from, text))
			break; /* an office's trigger, answered once stored */
		if (gw_mo_front(g, e, from, msisdn, &status))
			esme_answer(e, token, status);
		else
			gw_mo_ussd(g, e, token, msisdn, text, t_reply, &u, GW_MOJ_REPLY);
		break;
	}
	default: {
		char mask[PHONE_MAX];
		phone_mask(msisdn, mask);
		g->counters[GW_USSD_RELEASED]++;
		log_info("[%s] ussd msisdn=%s op=%d msg=\"session released: the survey waits for a new dial\"",
		         esme_name(e), mask, sm->ussd_op);
		/* over: nothing to time out, once the number's earlier MOs are done */
		gw_mo_ussd(g, e, token, msisdn, text, t_reply, &u, GW_MOJ_RELEASE);
		break;
	}
	}
	return 1;
}

/* survey_tick on a USSD survey: the end (expired) is a final screen; a
 * reminder means the last screen went unanswered for ussd.invite_after (or
 * reminder_after): the session is over, and the citizen gets one SMS inviting
 * them to dial the code instead of a screen nobody is looking at. */
int gw_ussd_due_prepare(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                        struct survey_out *o, struct gw_commit *k, int *invite)
{
	*invite = 0;
	if (o->finished || o->nmsg == 0)
		return gw_commit_prepare(g, m, c, s, o, m->ver, NULL, 0, k);
	int us = gw_ussd_route(g, m->msisdn);
	char *inv = ussd_invite_text(c->ussd_invite, us >= 0 ? g->cfg->smsc[us].ussd_service_code : "");
	if (!inv)
		return -ENOMEM;
	for (int i = 0; i < o->nmsg; i++)
		free(o->msg[i]);
	o->msg[0] = inv;
	o->nmsg = 1;
	memset(&g->ussd, 0, sizeof g->ussd);
	g->ussd.invite = 1;
	int rc = gw_commit_prepare(g, m, c, s, o, m->ver, NULL, 0, k);
	g->ussd.invite = 0;
	*invite = rc == 0;
	return rc;
}
