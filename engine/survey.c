/* survey: one citizen's way through a campaign's items, driven by replies and time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "survey.h"
#include "text.h"

static const char *const survey_names[] = {
	"queued", "waiting", "active", "completed", "expired",
	"abandoned", "opted_out", "failed", "suppressed", "cancelled",
};

const char *survey_status_name(enum survey_status st)
{
	if ((unsigned)st < sizeof survey_names / sizeof survey_names[0])
		return survey_names[st];
	return "unknown";
}

int survey_status_parse(const char *name)
{
	for (size_t i = 0; i < sizeof survey_names / sizeof survey_names[0]; i++)
		if (strcmp(name, survey_names[i]) == 0)
			return (int)i;
	return -1;
}

int survey_status_final(enum survey_status st)
{
	return st >= SURVEY_COMPLETED;
}

void survey_init(struct survey *s)
{
	memset(s, 0, sizeof *s);
	s->status = SURVEY_QUEUED;
}

void survey_clear(struct survey *s)
{
	for (int i = 0; i < CAMPAIGN_MAX_QUESTIONS; i++) {
		free(s->answers[i].text);
		s->answers[i].text = NULL;
	}
}

void survey_out_clear(struct survey_out *o)
{
	for (int i = 0; i < o->nmsg; i++)
		free(o->msg[i]);
	memset(o, 0, sizeof *o);
}

/* Join up to two texts with a newline (either may be NULL or empty). */
static int survey_emit(struct survey_out *o, char *msg)
{
	if (!msg)
		return -ENOMEM;
	if (o->nmsg >= SURVEY_MAX_OUT) {
		free(msg);
		return -ENOSPC;
	}
	o->msg[o->nmsg++] = msg;
	return 0;
}

static const char *const survey_msg_names[SURVEY_MSG_KINDS] = {
	"first", "item", "invalid", "reminder", "help", "thanks", "stopped", "expired",
};

const char *survey_msg_kind_name(enum survey_msg_kind k)
{
	if ((unsigned)k < SURVEY_MSG_KINDS)
		return survey_msg_names[k];
	return "unknown";
}

/* The one place that knows how messages are put together: survey_start,
 * survey_feed, survey_tick and `hailong campaign check` all come here. */
int survey_compose(const struct campaign *c, enum survey_msg_kind kind, int q, char **out)
{
	const char *before = NULL, *end = NULL;

	*out = NULL;
	switch (kind) {
	case SURVEY_MSG_FIRST:
		before = c->msg.intro;
		q = 0;
		break;
	case SURVEY_MSG_ITEM:
		break;
	case SURVEY_MSG_INVALID:
		before = c->msg.invalid;
		break;
	case SURVEY_MSG_REMINDER:
		before = c->msg.reminder;
		break;
	case SURVEY_MSG_HELP:
		before = c->msg.help;
		break;
	case SURVEY_MSG_THANKS:
		end = c->msg.thanks;
		goto final;
	case SURVEY_MSG_STOPPED:
		end = c->msg.stopped;
		goto final;
	case SURVEY_MSG_EXPIRED:
		end = c->msg.expired;
		goto final;
	default:
		return -EINVAL;
	}
	if (q < 0 || q >= c->nquestions)
		return -EINVAL;
	char *item = campaign_render_question(c, q);
	if (!item)
		return -ENOMEM;
	*out = campaign_join(before, item);
	free(item);
	return *out ? 0 : -ENOMEM;
final:
	if (!end || !*end)
		return 0;
	*out = strdup(end);
	return *out ? 0 : -ENOMEM;
}

/* Send the current item as `kind` asks (alone, or after intro, invalid, reminder, help). */
static int survey_send_item(const struct campaign *c, struct survey *s, enum survey_msg_kind kind,
                            int64_t now, struct survey_out *o)
{
	char *m;
	int rc = survey_compose(c, kind, s->q, &m);
	if (rc < 0)
		return rc;
	s->last_at = now;
	s->resent = kind == SURVEY_MSG_REMINDER;
	return survey_emit(o, m);
}

/* How long after the last message the one reminder goes: reminder_after, or
 * on a USSD campaign with ussd.invite_after the SMS inviting to dial the code
 * (the gateway writes that SMS in place of the reminder, docs/ussd.md). */
static int64_t survey_remind_after(const struct campaign *c)
{
	if (c->channel == CAMPAIGN_USSD && c->ussd_invite_after > 0)
		return c->ussd_invite_after;
	return c->reminder_after;
}

int64_t survey_next_due(const struct campaign *c, const struct survey *s)
{
	int64_t expire = s->started_at + c->expire_after;
	if (survey_remind_after(c) > 0 && !s->reminded) {
		int64_t remind = s->last_at + survey_remind_after(c);
		if (remind < expire)
			return remind;
	}
	return expire;
}

/* End the survey with status st, sending message `kind` (thanks, stopped,
 * expired) or nothing when kind is SURVEY_NO_MSG. */
#define SURVEY_NO_MSG (-1)
static int survey_finish(const struct campaign *c, struct survey *s, enum survey_status st,
                         int kind, int64_t now, struct survey_out *o)
{
	s->status = st;
	s->finished_at = now;
	o->finished = 1;
	o->due = 0;
	if (kind == SURVEY_NO_MSG)
		return 0;
	char *m;
	int rc = survey_compose(c, (enum survey_msg_kind)kind, -1, &m);
	if (rc < 0 || !m)
		return rc;
	return survey_emit(o, m);
}

int survey_start(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o)
{
	memset(o, 0, sizeof *o);
	if (c->nquestions == 0)
		return survey_finish(c, s, SURVEY_FAILED, SURVEY_NO_MSG, now, o);
	s->status = SURVEY_ACTIVE;
	s->q = 0;
	s->invalid = 0;
	s->started_at = now;
	int rc = survey_send_item(c, s, SURVEY_MSG_FIRST, now, o);
	o->due = survey_next_due(c, s);
	return rc;
}

/* The next item that has no answer yet (after an answer to s->q). */
static int survey_advance(const struct campaign *c, struct survey *s)
{
	int q = s->q + 1;
	while (q < c->nquestions && s->answers[q].state != 0)
		q++;
	s->q = q;
	s->invalid = 0;
	return q < c->nquestions;
}

/* After an answer to s->q: the next item, or thanks at the end. */
static int survey_next(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o)
{
	if (survey_advance(c, s))
		return survey_send_item(c, s, SURVEY_MSG_ITEM, now, o);
	return survey_finish(c, s, SURVEY_COMPLETED, SURVEY_MSG_THANKS, now, o);
}

/* Several answers in one message for the run of unanswered one-option items
 * from s->q. Returns 1 when it took the reply (and stepped), 0 when the reply
 * is something else, or -ENOMEM. */
static int survey_feed_many(const struct campaign *c, struct survey *s, const struct reply_text *text,
                            int64_t now, struct survey_out *o)
{
	int run = 0;
	while (s->q + run < c->nquestions && s->answers[s->q + run].state == 0 &&
	       reply_single_option(&c->questions[s->q + run]))
		run++;
	if (run < 2)
		return 0;
	int values[CAMPAIGN_MAX_QUESTIONS];
	int n = reply_read_many(&c->questions[s->q], run, text, values);
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct survey_answer *a = &s->answers[s->q + i];
		a->state = 1;
		a->nvalues = 1;
		memset(a->values, 0, sizeof a->values);
		a->values[0] = values[i];
		free(a->text);
		a->text = NULL;
		a->at = now;
	}
	s->q += n - 1; /* the last item answered; survey_next moves past it */
	int rc = survey_next(c, s, now, o);
	return rc < 0 ? rc : 1;
}

static uint32_t survey_fold_hash(const struct reply_text *t)
{
	uint32_t h = (uint32_t)text_fnv1a64(t->fold ? t->fold : "", t->fold ? strlen(t->fold) : 0);
	return h ? h : 1;
}

uint32_t survey_reply_hash(const char *text)
{
	struct reply_text t;
	uint32_t h = reply_text_init(&t, text) < 0 ? 0 : survey_fold_hash(&t);
	reply_text_clear(&t);
	return h;
}

int survey_feed(const struct campaign *c, struct survey *s, const char *text, int64_t now,
                struct survey_out *o)
{
	memset(o, 0, sizeof *o);
	if (s->status != SURVEY_ACTIVE || s->q >= c->nquestions)
		return 0;
	/* the reply is prepared (folded, cut into words) once for every reading */
	struct reply_text t;
	int rc = reply_text_init(&t, text);
	if (rc < 0) {
		reply_text_clear(&t);
		return rc;
	}
	/* the folded text by hash: what a repeat of the last answer looks like */
	uint32_t h = survey_fold_hash(&t);
	s->last_h = h;
	if (s->echo_q && now - s->echo_at >= SURVEY_ECHO_KEEP)
		s->echo_q = 0;
	if (s->echo_q && s->q >= s->echo_q && h == s->echo_h) {
		/* the answer that crossed a reminder, again: not an answer to this item */
		reply_text_clear(&t);
		s->echo_q = 0;
		o->echo = 1;
		/* should it have been this item's answer after all (its citizen
		 * never saw the reminder, and answered the same), the reminder,
		 * armed again, asks for it once more instead of waiting forever */
		s->reminded = 0;
		o->due = survey_next_due(c, s);
		return 0;
	}
	rc = survey_feed_many(c, s, &t, now, o);
	if (rc != 0) {
		reply_text_clear(&t);
		if (rc > 0 && !o->finished)
			o->due = survey_next_due(c, s);
		return rc < 0 ? rc : 0;
	}
	const struct campaign_question *q = &c->questions[s->q];
	struct reply r;
	rc = reply_read(q, &t, &r);
	reply_text_clear(&t);
	if (rc < 0)
		return rc;
	switch (r.kind) {
	case REPLY_STOP:
		rc = survey_finish(c, s, SURVEY_OPTED_OUT, SURVEY_MSG_STOPPED, now, o);
		break;
	case REPLY_HELP:
		rc = survey_send_item(c, s, SURVEY_MSG_HELP, now, o);
		break;
	case REPLY_REPEAT:
		rc = survey_send_item(c, s, SURVEY_MSG_ITEM, now, o);
		break;
	case REPLY_INVALID:
		if (s->invalid >= c->max_invalid) {
			rc = survey_finish(c, s, SURVEY_ABANDONED, SURVEY_NO_MSG, now, o);
			break;
		}
		s->invalid++;
		rc = survey_send_item(c, s, SURVEY_MSG_INVALID, now, o);
		break;
	case REPLY_SKIP:
	case REPLY_ANSWER: {
		struct survey_answer *a = &s->answers[s->q];
		a->state = r.kind == REPLY_SKIP ? 2 : 1;
		a->nvalues = r.nvalues;
		memcpy(a->values, r.values, sizeof a->values);
		free(a->text);
		a->text = r.text;
		r.text = NULL;
		a->at = now;
		/* it crossed a re-send of its item when that left moments ago */
		/* (a USSD screen is answered in its session: nothing crosses) */
		int crossed = s->resent && now - s->last_at < SURVEY_ECHO_WINDOW && c->channel != CAMPAIGN_USSD;
		int answered = s->q;
		rc = survey_next(c, s, now, o);
		if (crossed && !o->finished) {
			s->echo_q = answered + 1;
			s->echo_h = h;
			s->echo_at = now;
		}
		break;
	}
	}
	reply_clear(&r);
	if (!o->finished)
		o->due = survey_next_due(c, s);
	return rc;
}

int survey_tick(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o)
{
	memset(o, 0, sizeof *o);
	if (s->status != SURVEY_ACTIVE)
		return 0;
	if (now >= s->started_at + c->expire_after)
		return survey_finish(c, s, SURVEY_EXPIRED, SURVEY_MSG_EXPIRED, now, o);
	int rc = 0;
	if (survey_remind_after(c) > 0 && !s->reminded && now >= s->last_at + survey_remind_after(c)) {
		s->reminded = 1;
		rc = survey_send_item(c, s, SURVEY_MSG_REMINDER, now, o);
	}
	o->due = survey_next_due(c, s);
	return rc;
}

/* ---- the preview of `hailong campaign check` ---- */

/* Fill v with `text` as text_split sends it under enc. Returns 0 or -ENOMEM;
 * a text that cannot be sent is an ordinary outcome (v->rc). */
static int survey_variant_fill(struct survey_variant *v, const char *text, enum text_encoding enc)
{
	struct text_parts *tp = malloc(sizeof *tp);
	if (!tp)
		return -ENOMEM;
	memset(v, 0, sizeof *v);
	v->enc = enc;
	v->rc = text_split(text, enc, tp);
	if (v->rc == 0) {
		v->coding = tp->coding;
		v->units = tp->units;
		v->nparts = tp->nparts;
	}
	free(tp);
	/* What goes out: the plain-Latin form when `unaccented` folded it to
	 * GSM (text_split falls back to the NFC text in UCS-2 otherwise). */
	if (enc == TEXT_ENC_UNACCENTED && (v->rc != 0 || v->coding == TEXT_CODING_GSM7))
		v->text = text_unaccent(text);
	else
		v->text = text_nfc(text);
	if (!v->text)
		v->text = strdup(text); /* bad UTF-8: shown as is, v->rc says why */
	return v->text ? 0 : -ENOMEM;
}

int survey_preview(const struct campaign *c, struct survey_preview *p)
{
	enum text_encoding enc[2] = {c->encoding, c->encoding};
	int rc = 0;

	memset(p, 0, sizeof *p);
	p->nvariants = 1;
	if (c->encoding == TEXT_ENC_AUTO) {
		enc[1] = TEXT_ENC_UNACCENTED;
		p->nvariants = 2;
	} else if (c->encoding == TEXT_ENC_UNACCENTED) {
		enc[1] = TEXT_ENC_AUTO;
		p->nvariants = 2;
	}
	static const enum survey_msg_kind per_item[] = {SURVEY_MSG_ITEM, SURVEY_MSG_INVALID,
	                                                SURVEY_MSG_REMINDER, SURVEY_MSG_HELP};
	static const enum survey_msg_kind ends[] = {SURVEY_MSG_THANKS, SURVEY_MSG_STOPPED,
	                                            SURVEY_MSG_EXPIRED};
	struct survey_plan {
		enum survey_msg_kind kind;
		int q;
	} plan[SURVEY_PREVIEW_MAX];
	int nplan = 0;
	if (c->nquestions > 0)
		plan[nplan++] = (struct survey_plan){SURVEY_MSG_FIRST, 0};
	for (size_t k = 0; k < sizeof per_item / sizeof per_item[0]; k++)
		for (int q = 0; q < c->nquestions && q < CAMPAIGN_MAX_QUESTIONS; q++)
			plan[nplan++] = (struct survey_plan){per_item[k], q};
	for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++)
		plan[nplan++] = (struct survey_plan){ends[k], -1};

	for (int i = 0; i < nplan; i++) {
		char *text;
		rc = survey_compose(c, plan[i].kind, plan[i].q, &text);
		if (rc < 0)
			goto fail;
		if (!text)
			continue; /* not sent by this campaign */
		struct survey_preview_msg *m = &p->msg[p->nmsg++];
		m->kind = plan[i].kind;
		m->q = plan[i].q;
		for (int v = 0; v < p->nvariants && rc == 0; v++)
			rc = survey_variant_fill(&m->v[v], text, enc[v]);
		free(text);
		if (rc < 0)
			goto fail;
	}
	/* A completed survey: first, items 2..n, thanks. */
	for (int v = 0; v < p->nvariants; v++) {
		int cost = 0;
		for (int i = 0; i < p->nmsg && cost >= 0; i++) {
			const struct survey_preview_msg *m = &p->msg[i];
			int on_path = m->kind == SURVEY_MSG_FIRST || m->kind == SURVEY_MSG_THANKS ||
			              (m->kind == SURVEY_MSG_ITEM && m->q > 0);
			if (on_path)
				cost = m->v[v].rc == 0 ? cost + m->v[v].nparts : -1;
		}
		p->cost[v] = cost;
	}
	return 0;
fail:
	survey_preview_clear(p);
	return rc;
}

void survey_preview_clear(struct survey_preview *p)
{
	for (int i = 0; i < p->nmsg; i++)
		for (int v = 0; v < 2; v++)
			free(p->msg[i].v[v].text);
	memset(p, 0, sizeof *p);
}
