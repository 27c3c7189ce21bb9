/* survey: the per-citizen survey state machine (pure: time is a parameter). */
#ifndef HL_SURVEY_H
#define HL_SURVEY_H

#include <stdint.h>

#include "campaign.h"

enum survey_status {
	SURVEY_QUEUED = 0, /* accepted, first item not sent yet */
	SURVEY_WAITING,    /* the citizen has another survey running */
	SURVEY_ACTIVE,     /* items going back and forth */
	SURVEY_COMPLETED,
	SURVEY_EXPIRED,
	SURVEY_ABANDONED,
	SURVEY_OPTED_OUT,
	SURVEY_FAILED,
	SURVEY_SUPPRESSED,
};

struct survey_answer {
	int state;                          /* 0 none, 1 answered, 2 skipped */
	int nvalues;
	int values[CAMPAIGN_MAX_OPTIONS];   /* option values, sorted */
	char *text;                         /* free text, malloc'd (owned) */
	int64_t at;                         /* unix seconds */
};

struct survey {
	enum survey_status status;
	int q;                   /* index of the item awaiting an answer */
	int invalid;             /* re-prompts sent for the current item */
	int reminded;            /* 1 once the reminder went out */
	int64_t started_at;      /* first item sent (unix s), 0 before */
	int64_t last_at;         /* last message sent (unix s) */
	int64_t finished_at;
	struct survey_answer answers[CAMPAIGN_MAX_QUESTIONS];
};

#define SURVEY_MAX_OUT 2

/* What a step asks the gateway to do: messages to send, in order. */
struct survey_out {
	int nmsg;
	char *msg[SURVEY_MAX_OUT];   /* UTF-8, malloc'd (owned) */
	int finished;                /* the survey reached a final status: archive it */
	int64_t due;                 /* when survey_tick must run next (0 = never) */
};

void survey_init(struct survey *s);
/* Frees what the survey owns (answer texts); the struct itself is the caller's. */
void survey_clear(struct survey *s);
void survey_out_clear(struct survey_out *o);

/* Send the first item (intro + question 1). Returns 0 or -ENOMEM. */
int survey_start(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o);
/* A reply from the citizen. Returns 0 or -ENOMEM; a reply to a finished
 * survey changes nothing. */
int survey_feed(const struct campaign *c, struct survey *s, const char *reply, int64_t now,
                struct survey_out *o);
/* Time passes: the reminder once after reminder_after of silence, expiry
 * after expire_after since the start. Returns 0 or -ENOMEM. */
int survey_tick(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o);

const char *survey_status_name(enum survey_status st);
/* -1 for an unknown name. */
int survey_status_parse(const char *name);
/* 1 for the final statuses. */
int survey_status_final(enum survey_status st);

#endif
