/* gw_step: one survey step written to Redis (COMMIT), survey records read back, notices. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gw_int.h"
#include "log.h"
#include "phone.h"
#include "record.h"
#include "schedule.h"
#include "seal.h"
#include "store.h"
#include "survey.h"
#include "text.h"
#include "ussd.h"

/* ---- committing a survey step ---- */

void gw_key(char *out, size_t cap, const char *prefix, const char *id)
{
	snprintf(out, cap, "%s%s", prefix, id);
}

int gw_active_read(struct gw *g, const struct store_active *a, char *id, struct record_meta *m,
                   const struct campaign **c, struct survey *s)
{
	if (!a->running || !a->id)
		return 1;
	snprintf(id, RECORD_ID_MAX, "%s", a->id);
	return gw_parse_survey(g, id, &a->fields, m, c, s);
}

/* An outbox entry: the survey it belongs to ("" = none), the number, the
 * text and its encoding; first = the survey's first item (a permanent
 * failure to send it fails the survey). */
char *gw_outbox_entry(const char *survey, const char *to, enum text_encoding enc, const char *text,
                      int first, int q, const struct gw_ussd_out *uo, long long prev)
{
	/* "u": each message is one of a kind, so a copy of it (a peer's REAP
	 * put back what our session still holds) is recognised as such */
	unsigned char rnd[6];
	char u[13];
	gw_random(rnd, sizeof rnd);
	sodium_bin2hex(u, sizeof u, rnd, sizeof rnd);
	json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s}", "s", survey, "to", to, "text", text, "enc", (int)enc, "u", u);
	if (!o)
		return NULL;
	if (first)
		json_object_set_new(o, "first", json_true());
	if (q >= 0)
		json_object_set_new(o, "q", json_integer(q));
	if (prev != GW_NO_PREV)
		json_object_set_new(o, "p", json_integer(prev));
	if (uo && uo->op >= 0) {
		/* a USSD screen: its op, and the session TLVs to echo */
		json_object_set_new(o, "op", json_integer(uo->op));
		if (uo->has_sess)
			json_object_set_new(o, "si", json_integer(uo->sess[0] << 8 | uo->sess[1]));
		if (uo->has_umr)
			json_object_set_new(o, "umr", json_integer(uo->umr));
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

uint64_t gw_hash64(const char *s)
{
	return text_fnv1a64(s, strlen(s));
}

void gw_sending_key(const struct gw *g, int smsc, char *out, size_t cap)
{
	snprintf(out, cap, GW_K_SENDING "%s:%s", g->cfg->smsc[smsc].name, g->inst);
}

/* The SMSC session a step's messages can be handed to at once, in the
 * same COMMIT that stores the step (no TAKE round trip): a plain SMS step,
 * sent now, on a session bound past its grace with room for all of them
 * (room already promised to steps still committing counted). Room is the
 * free window, plus, while the outbox has nothing waiting that we know of,
 * the session's queue (esme_room: 64 parts, or a window or a second's
 * TPS tokens): a step that
 * meets a full window goes out as the next slot frees, rather than through
 * the outbox and a TAKE round trip. -1 = through the outbox. */
static int gw_direct_smsc(struct gw *g, const struct gw_ussd_ctx *u, int smsc, const struct campaign *c,
                          int64_t hold, int nout)
{
	if (hold || nout <= 0 || !c || c->channel == CAMPAIGN_USSD || u->active || smsc >= g->nesme ||
	    !g->esme[smsc] || g->shutting_down || !g->registered)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < g->send_after[smsc].tv_sec ||
	    (now.tv_sec == g->send_after[smsc].tv_sec && now.tv_nsec < g->send_after[smsc].tv_nsec))
		return -1;
	int room = g->out_backlog[smsc] ? esme_capacity(g->esme[smsc]) : esme_room(g->esme[smsc]);
	return room - g->reserved[smsc] >= nout ? smsc : -1;
}

/* Prepare one step for COMMIT (its keys and arguments in k): state,
 * messages to send (held in hl:held:{smsc} while the campaign's quiet hours
 * last, or straight into our sending list when the session can take them
 * now, see gw_direct_smsc), timers, and on a final status the archive
 * record, the opt-out and the citizen's next survey. `first` marks the
 * messages as the survey's first item. The step may be adjusted here: when
 * messages are held, last_at moves to the moment they go out, so the
 * reminder counts from then. 0 or -ENOMEM. */
int gw_commit_prepare(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                      struct survey_out *o, const char *expect_ver, const char *reason, int first,
                      struct gw_commit *k)
{
	return gw_commit_prepare_u(g, &g->ussd, m, c, s, o, expect_ver, reason, first, NULL, k);
}

/* The same, for a step written in answer to a USSD MO of session u (its
 * screens go back on u's link, echoing its TLVs, never held). */
int gw_commit_prepare_u(struct gw *g, const struct gw_ussd_ctx *u, const struct record_meta *m,
                        const struct campaign *c, struct survey *s, struct survey_out *o, const char *expect_ver,
                        const char *reason, int first, const struct record_strv *before, struct gw_commit *k)
{
	memset(k, 0, sizeof *k);
	k->direct = -1;
	int smsc = gw_route(g, m->msisdn);
	/* a USSD campaign's step is one screen on the USSD link (the session's,
	 * or the number's for a push); its invite goes as an SMS (gw_ussd.c) */
	struct gw_ussd_out uo = {.op = -1};
	char *screen = NULL;
	k->ussd = c && c->channel == CAMPAIGN_USSD && !u->invite;
	k->ussd_push = k->ussd && !u->active;
	if (k->ussd) {
		int us = u->active ? u->smsc : gw_ussd_route(g, m->msisdn);
		if (us >= 0) {
			smsc = us;
			gw_ussd_out_for(u, g->cfg, us, o->finished, &uo);
		}
		if (o->nmsg > 0 && !(screen = ussd_screen(o)))
			return -ENOMEM;
	}
	int nout = screen ? 1 : o->nmsg;
	snprintf(k->id, sizeof k->id, "%s", m->id);
	snprintf(k->campaign, sizeof k->campaign, "%s", m->campaign);
	snprintf(k->msisdn, sizeof k->msisdn, "%s", m->msisdn);
	snprintf(k->reason, sizeof k->reason, "%s", reason ? reason : "");
	k->status = s->status;
	k->finished = o->finished;
	k->first = first;
	k->nout = nout;
	k->nmsg = o->nmsg;
	gw_key(k->k_s, sizeof k->k_s, GW_K_SURVEY, m->id);
	gw_key(k->k_act, sizeof k->k_act, GW_K_ACTIVE, m->msisdn);
	gw_key(k->k_wait, sizeof k->k_wait, GW_K_WAIT, m->msisdn);
	gw_key(k->k_last, sizeof k->k_last, GW_K_LAST, m->msisdn);
	gw_key(k->k_out, sizeof k->k_out, GW_K_OUTBOX, g->cfg->smsc[smsc].name);
	gw_key(k->k_held, sizeof k->k_held, GW_K_HELD, g->cfg->smsc[smsc].name);
	char *arch = NULL;
	int rc = -ENOMEM;
	int64_t now = gw_now();
	/* a screen inside a session the citizen opened is never held */
	int64_t hold = (c && o->nmsg && !u->active) ? schedule_quiet_until(c, now) : 0;
	k->hold = hold != 0;
	char opt_hash[65] = "";
	if (s->status == SURVEY_OPTED_OUT)
		gw_msisdn_hash(g, m->msisdn, opt_hash);
	if (hold && !o->finished && s->status == SURVEY_ACTIVE) {
		if (s->last_at < hold)
			s->last_at = hold;
		o->due = survey_next_due(c, s);
	}
	k->smsc = smsc;
	k->last_at = s->last_at;
	k->direct = gw_direct_smsc(g, u, smsc, c, hold, nout);
	if (k->direct >= 0)
		gw_sending_key(g, smsc, k->k_send, sizeof k->k_send);
	if (o->finished) {
		char h[65];
		gw_msisdn_hash(g, m->msisdn, h);
		arch = record_archive_json(m, c, s, h, reason);
		/* audit.public_key: the number goes to the archive sealed (docs/audit.md) */
		if (arch && g->cfg->audit_has_key &&
		    seal_add_to_record(&arch, g->cfg->audit_public_key, m->msisdn) < 0) {
			free(arch);
			arch = NULL;
		}
		if (!arch)
			goto done;
	}
	struct record_strv *a = &k->a;
	if (record_strv_add(a, m->id) || record_strv_add(a, expect_ver ? expect_ver : "") ||
	    record_strv_add(a, o->finished ? "1" : "0") || record_strv_addf(a, "%" PRId64, o->due) ||
	    record_strv_add(a, arch ? arch : "") ||
	    record_strv_add(a, opt_hash) ||
	    record_strv_addf(a, "%" PRId64, hold) || record_strv_addf(a, "%" PRId64, now) ||
	    record_strv_addf(a, "%d", nout))
		goto done;
	int q = o->finished ? -1 : s->q;
	k->q = q;
	k->entries = calloc((size_t)(nout > 0 ? nout : 1), sizeof *k->entries);
	if (!k->entries)
		goto done;
	for (int i = 0; i < nout; i++) {
		/* sent at once: the entry says what "sq" was, for REAP to put back
		 * should it never leave (a crash before its submit_sm) */
		long long prev = k->direct >= 0 && q >= 0 ? m->sq : GW_NO_PREV;
		k->entries[i] = gw_outbox_entry(m->id, m->msisdn, c ? c->encoding : TEXT_ENC_AUTO,
		                                screen ? screen : o->msg[i], first, q, &uo, prev);
		if (!k->entries[i] || record_strv_add(a, k->entries[i]))
			goto done;
	}
	/* "n": a nonce, so that whoever lost this COMMIT's reply can tell
	 * whether it ran (gw_mo_unsure_*, replies only). The first step's
	 * commit answers no reply: it writes none (9 bytes less in the hash of
	 * a survey waiting for its first answer; no "n" reads as "not this
	 * commit", which is true of every reply's). */
	uint32_t nonce;
	gw_random(&nonce, sizeof nonce);
	snprintf(k->nonce, sizeof k->nonce, "%" PRIu32, (nonce & 0x7fffffffu) | 1u); /* 31 bits: Redis keeps it in 4 bytes */
	if (!o->finished && c &&
	    (record_state_fields_since(c, s, before, a) || record_strv_add(a, "cv") || record_strv_add(a, m->cver) ||
	     (!first && (record_strv_add(a, "n") || record_strv_add(a, k->nonce)))))
		goto done;
	/* sent at once: "sq" (the last item handed to the SMSC) rises in the same step, as TAKE would */
	if (k->direct >= 0 && q >= 0 && !o->finished &&
	    (record_strv_add(a, "sq") || record_strv_addf(a, "%d", q)))
		goto done;
	if (k->direct >= 0)
		snprintf(k->prev_sq, sizeof k->prev_sq, "%lld", m->sq < 0 ? -1LL : m->sq);
	k->keys[0] = k->k_s;
	k->keys[1] = k->k_act;
	k->keys[2] = k->k_wait;
	k->keys[3] = GW_K_QUEUE;
	k->keys[4] = GW_K_ARCHIVE;
	k->keys[5] = GW_K_DUE;
	k->keys[6] = k->k_out;
	k->keys[7] = g->k_starting;
	k->keys[8] = k->k_held;
	k->keys[9] = GW_K_HELDSEQ;
	k->keys[10] = GW_K_OPTOUT;
	k->keys[11] = k->k_last;
	k->nkeys = 12;
	if (k->direct >= 0) {
		k->keys[k->nkeys++] = k->k_send;
		g->reserved[k->direct] += nout;
	}
	k->next = g->committing;
	g->committing = k;
	rc = 0;
done:
	free(screen);
	free(arch);
	if (rc < 0)
		gw_commit_clear(g, k);
	return rc;
}

void gw_commit_clear(struct gw *g, struct gw_commit *k)
{
	for (struct gw_commit **pp = &g->committing; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	k->next = NULL;
	if (k->direct >= 0 && k->nkeys == 13)
		g->reserved[k->direct] -= k->nout;
	k->direct = -1;
	k->nkeys = 0;
	for (int i = 0; k->entries && i < k->nout; i++)
		free(k->entries[i]);
	free(k->entries);
	k->entries = NULL;
	record_strv_free(&k->a);
}

/* What follows a COMMIT's reply, as a typed verb gives it (rc < 0: Redis
 * did not answer or answered an error, err says why; -EBADMSG: a reply that
 * is no number, read as 0; else v): the messages sent at once are handed to
 * their session, the counters and the log. Returns 1 (stored), 0 (the
 * survey moved on meanwhile: retry) or -EIO. Clears k. */
int gw_commit_done(struct gw *g, struct gw_commit *k, int res, long long v, const char *err)
{
	int rc;
	if (res < 0 && res != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++;
		log_warn("commit survey=%s err=\"%s\"", k->id, err ? err : "");
		rc = -EIO;
	} else {
		rc = res == 0 && v == 1;
	}
	int direct = k->direct;
	if (direct >= 0 && k->nkeys == 13) {
		g->reserved[direct] -= k->nout;
		k->nkeys = 0;
	}
	if (rc == 1 && !k->finished && k->nmsg > 0 && k->t_reply > 0)
		gw_reply_mark(g, k->id, k->t_reply); /* for hailong_reply_to_next_question_seconds */
	k->handed = 0;
	if (rc == 1 && direct >= 0)
		k->handed = gw_submit_now(g, direct, k->entries, k->nout, k->prev_sq);
	if (rc == 1 && k->finished) {
		g->finished[k->status]++;
		event_active(g->ev_archive, 0, 0);
		char mask[PHONE_MAX];
		phone_mask(k->msisdn, mask);
		log_info("survey finished survey=%s campaign=%s msisdn=%s status=%s reason=\"%s\"", k->id, k->campaign,
		         mask, survey_status_name(k->status), k->reason);
	}
	if (rc == 1 && k->ussd) /* the session's timer and metrics */
		gw_ussd_step(g, k->smsc, k->msisdn, k->finished, k->status == SURVEY_COMPLETED, k->first && k->ussd_push,
		             k->nmsg, k->last_at);
	if (rc == 1 && k->hold)
		g->counters[GW_HELD] += (uint64_t)k->nout;
	else if (rc == 1 && k->nmsg && direct < 0) {
		gw_outbox_pushed(g, k->smsc);
		event_active(g->ev_outbox, 0, 0);
	}
	gw_commit_clear(g, k);
	return rc;
}

/* COMMIT a prepared step on the asynchronous connection: cb(arg, rc, v, err)
 * then calls gw_commit_done(g, k, rc, v, err). 0 when queued; -EIO when
 * Redis cannot be reached now (k is finished here as unreachable, cb is not
 * called). */
int gw_commit_async(struct gw *g, struct gw_commit *k, store_int_cb cb, void *arg)
{
	if (store_async_run_int(g->store, STORE_COMMIT, k->nkeys, k->keys, k->a.n, (const char **)k->a.v, cb, arg) ==
	    0)
		return 0;
	gw_commit_done(g, k, -EIO, 0, "redis unreachable");
	return -EIO;
}

/* The step that ends a survey before (or instead of) its next item. */
static void gw_finish_step(struct survey *s, enum survey_status st, struct survey_out *o)
{
	memset(o, 0, sizeof *o);
	s->status = st;
	s->finished_at = gw_now();
	o->finished = 1;
}

int gw_finish_early_async(struct gw *g, const struct record_meta *m, const struct campaign *c, struct survey *s,
                          enum survey_status st, const char *reason, struct gw_commit *k, store_int_cb cb,
                          void *arg)
{
	struct survey_out o;
	gw_finish_step(s, st, &o);
	if (gw_commit_prepare(g, m, c, s, &o, m->ver, reason, 0, k) < 0)
		return -ENOMEM;
	return gw_commit_async(g, k, cb, arg);
}

int gw_parse_survey(struct gw *g, const char *id, const struct store_list *fields, struct record_meta *m,
                    const struct campaign **c, struct survey *s)
{
	survey_init(s);
	*c = NULL;
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	int rc = record_meta_parse_list(fields, m);
	if (rc == 0) {
		*c = gw_campaign(g, m->campaign, m->cver);
		rc = *c ? record_state_parse_list(fields, *c, s) : -ESRCH;
	}
	return rc;
}

/* LOAD's arguments for survey id (the periods it may be in, counted from
 * now): args[4], pointing into bufs. */
static void gw_load_args(const char *id, char bufs[3][24], const char *args[4])
{
	snprintf(bufs[0], 24, "%" PRId64, gw_now());
	snprintf(bufs[1], 24, "%d", GW_TX_TTL);
	snprintf(bufs[2], 24, "%d", GW_TX_PERIOD);
	args[0] = id;
	args[1] = bufs[0];
	args[2] = bufs[1];
	args[3] = bufs[2];
}

int gw_load_read(struct gw *g, const char *id, int rc, const struct store_list *l, const char *err,
                 struct record_meta *m, const struct campaign **c, struct survey *s)
{
	if (rc < 0) {
		survey_init(s);
		*c = NULL;
		g->counters[GW_REDIS_ERR]++;
		log_warn("load survey=%s err=\"%s\"", id, err ? err : "");
		return -EIO;
	}
	return gw_parse_survey(g, id, l, m, c, s);
}

int gw_load_async(struct gw *g, const char *id, store_list_cb cb, void *arg)
{
	char bufs[3][24];
	const char *args[4];
	gw_load_args(id, bufs, args);
	return store_async_run_list(g->store, STORE_LOAD, 0, NULL, 4, args, cb, arg);
}

/* A notice on its way: the keys and arguments of its NOTICE (marker given)
 * or RPUSH, and what to do after. */
struct gw_notice {
	struct gw *g;
	int smsc, optout, marked;
	char k_out[96], mk[96], ttl[16], h[65];
	char *entry, *rec;
	const char *keys[4], *args[4]; /* NOTICE's (marked) */
	const char *argv[3];           /* else RPUSH's */
	gw_notice_fn done;
	void *arg;
};

static void gw_notice_free(struct gw_notice *n)
{
	if (!n)
		return;
	free(n->entry);
	free(n->rec);
	free(n);
}

static struct gw_notice *gw_notice_new(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn,
                                       const char *text, const char *marker, int optout)
{
	struct gw_notice *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->g = g;
	n->optout = optout;
	n->smsc = gw_route(g, msisdn);
	struct gw_ussd_out uo = {.op = -1};
	enum text_encoding enc = TEXT_ENC_AUTO;
	char *screen = NULL;
	if (u && u->active) {
		/* inside a USSD session: the final screen, on its link, every time
		 * the citizen dials (not once a day: a session must be answered) */
		n->smsc = u->smsc;
		gw_ussd_out_for(u, g->cfg, n->smsc, 1, &uo);
		if (!optout)
			marker = NULL;
		/* one screen, or the SMPP layer refuses it and the phone waits in
		 * vain: the built-in texts are SMS of two screens in UCS-2 */
		if (uo.op >= 0) {
			if (!(screen = ussd_fit_screen(text)))
				goto fail;
			text = screen;
			enc = TEXT_ENC_UNACCENTED;
		}
	}
	gw_key(n->k_out, sizeof n->k_out, GW_K_OUTBOX, g->cfg->smsc[n->smsc].name);
	n->entry = gw_outbox_entry("", msisdn, enc, text, 0, -1, &uo, GW_NO_PREV);
	free(screen);
	if (!n->entry)
		goto fail;
	n->argv[0] = "RPUSH";
	n->argv[1] = n->k_out;
	n->argv[2] = n->entry;
	if (marker) {
		n->marked = 1;
		snprintf(n->mk, sizeof n->mk, "%s%s", marker, msisdn);
		snprintf(n->ttl, sizeof n->ttl, "%d", GW_NOTICE_TTL);
		/* an opt-out: the hash in Redis, and a record for the archive's optouts */
		if (optout) {
			gw_msisdn_hash(g, msisdn, n->h);
			if (!(n->rec = gw_optout_record(n->h, gw_now(), "keyword")))
				goto fail;
		}
		const char *keys[] = {n->mk, n->k_out, GW_K_OPTOUT, GW_K_ARCHIVE};
		const char *args[] = {n->ttl, n->entry, n->h, n->rec ? n->rec : ""};
		memcpy(n->keys, keys, sizeof keys);
		memcpy(n->args, args, sizeof args);
	}
	return n;
fail:
	gw_notice_free(n);
	return NULL;
}

/* The result of a notice's NOTICE or RPUSH (rc < 0: not run, or lost; v:
 * what NOTICE answered): 1 sent, 0 not needed (sent already within
 * GW_NOTICE_TTL), -EIO. */
static int gw_notice_result(struct gw_notice *n, int rc, long long v, const char *err)
{
	struct gw *g = n->g;
	if (rc < 0) {
		rc = -EIO;
		g->counters[GW_REDIS_ERR]++;
		log_warn("notice err=\"%s\"", err ? err : "");
	} else {
		rc = n->marked ? (int)v : 1;
	}
	if (rc >= 0 && n->marked && n->optout)
		event_active(g->ev_archive, 0, 0);
	if (rc == 1) {
		g->counters[GW_NOTICES]++;
		gw_outbox_pushed(g, n->smsc);
		event_active(g->ev_outbox, 0, 0);
	}
	return rc;
}

static void gw_notice_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw_notice *n = arg;
	rc = gw_notice_result(n, rc, v, err);
	n->done(n->g, n->arg, rc);
	gw_notice_free(n);
}

int gw_notice_async(struct gw *g, const char *msisdn, const char *text, const char *marker, int optout,
                    gw_notice_fn done, void *arg)
{
	return gw_notice_async_u(g, &g->ussd, msisdn, text, marker, optout, done, arg);
}

int gw_notice_async_u(struct gw *g, const struct gw_ussd_ctx *u, const char *msisdn, const char *text,
                      const char *marker, int optout, gw_notice_fn done, void *arg)
{
	struct gw_notice *n = gw_notice_new(g, u, msisdn, text, marker, optout);
	if (!n)
		return -ENOMEM;
	n->done = done;
	n->arg = arg;
	int rc;
	if (n->marked)
		rc = store_async_run_int(g->store, STORE_NOTICE, 4, n->keys, 4, n->args, gw_notice_on_reply, n);
	else
		rc = store_async_intv(g->store, 3, n->argv, gw_notice_on_reply, n);
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		gw_notice_free(n);
	}
	return rc;
}

