/* survey: one citizen's way through a campaign's items, driven by replies and time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "survey.h"

static const char *const survey_names[] = {
	"queued", "waiting", "active", "completed", "expired",
	"abandoned", "opted_out", "failed", "suppressed",
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
static char *survey_join(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	char *r = malloc(la + lb + 2);
	if (!r)
		return NULL;
	size_t n = 0;
	if (la) {
		memcpy(r, a, la);
		n = la;
	}
	if (la && lb)
		r[n++] = '\n';
	if (lb) {
		memcpy(r + n, b, lb);
		n += lb;
	}
	r[n] = '\0';
	return r;
}

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

/* Send the current item, optionally preceded by a message (intro, invalid, help). */
static int survey_send_item(const struct campaign *c, struct survey *s, const char *before,
                            int64_t now, struct survey_out *o)
{
	char *q = campaign_render_question(c, s->q);
	if (!q)
		return -ENOMEM;
	char *m = survey_join(before, q);
	free(q);
	s->last_at = now;
	return survey_emit(o, m);
}

static int64_t survey_next_due(const struct campaign *c, const struct survey *s)
{
	int64_t expire = s->started_at + c->expire_after;
	if (c->reminder_after > 0 && !s->reminded) {
		int64_t remind = s->last_at + c->reminder_after;
		if (remind < expire)
			return remind;
	}
	return expire;
}

static int survey_finish(const struct campaign *c, struct survey *s, enum survey_status st,
                         const char *msg, int64_t now, struct survey_out *o)
{
	s->status = st;
	s->finished_at = now;
	o->finished = 1;
	o->due = 0;
	(void)c;
	if (msg && *msg) {
		char *m = strdup(msg);
		return survey_emit(o, m);
	}
	return 0;
}

int survey_start(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o)
{
	memset(o, 0, sizeof *o);
	if (c->nquestions == 0)
		return survey_finish(c, s, SURVEY_FAILED, NULL, now, o);
	s->status = SURVEY_ACTIVE;
	s->q = 0;
	s->invalid = 0;
	s->started_at = now;
	int rc = survey_send_item(c, s, c->msg.intro, now, o);
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

int survey_feed(const struct campaign *c, struct survey *s, const char *text, int64_t now,
                struct survey_out *o)
{
	memset(o, 0, sizeof *o);
	if (s->status != SURVEY_ACTIVE || s->q >= c->nquestions)
		return 0;
	const struct campaign_question *q = &c->questions[s->q];
	struct reply r;
	int rc = reply_parse(q, text, &r);
	if (rc < 0)
		return rc;
	switch (r.kind) {
	case REPLY_STOP:
		rc = survey_finish(c, s, SURVEY_OPTED_OUT, c->msg.stopped, now, o);
		break;
	case REPLY_HELP:
		rc = survey_send_item(c, s, c->msg.help, now, o);
		break;
	case REPLY_REPEAT:
		rc = survey_send_item(c, s, NULL, now, o);
		break;
	case REPLY_INVALID:
		if (s->invalid >= c->max_invalid) {
			rc = survey_finish(c, s, SURVEY_ABANDONED, NULL, now, o);
			break;
		}
		s->invalid++;
		rc = survey_send_item(c, s, c->msg.invalid, now, o);
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
		if (survey_advance(c, s))
			rc = survey_send_item(c, s, NULL, now, o);
		else
			rc = survey_finish(c, s, SURVEY_COMPLETED, c->msg.thanks, now, o);
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
		return survey_finish(c, s, SURVEY_EXPIRED, c->msg.expired, now, o);
	int rc = 0;
	if (c->reminder_after > 0 && !s->reminded && now >= s->last_at + c->reminder_after) {
		s->reminded = 1;
		rc = survey_send_item(c, s, c->msg.reminder, now, o);
	}
	o->due = survey_next_due(c, s);
	return rc;
}
