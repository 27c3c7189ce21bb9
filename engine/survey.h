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
	SURVEY_CANCELLED,  /* by an operator (POST /v1/surveys/{id}/cancel) */
};
#define SURVEY_NSTATUS (SURVEY_CANCELLED + 1)

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
	int resent;              /* 1: the last message was the reminder of the current item */
	int echo_q;              /* 1 + the item whose answer crossed its reminder; 0 = none */
	uint32_t echo_h;         /* hash of that answer's folded text */
	int64_t echo_at;         /* when it came (unix s) */
	uint32_t last_h;         /* hash of the last reply fed (survey_reply_hash), 0 = none */
	struct survey_answer answers[CAMPAIGN_MAX_QUESTIONS];
};

/* An answer that comes within this many seconds of the reminder of its item
 * crossed it (no one reads a message on a basic phone and keys an answer
 * that fast; times are whole seconds, so this is 4 to 6 s): the citizen
 * reads the reminder after answering and may answer it again. That repeat,
 * the same text again, must not become the answer to a later item: for
 * SURVEY_ECHO_KEEP seconds the first reply with that text to a later item
 * is taken for nothing (a citizen who repeats sends the same text again,
 * which then answers that item as meant; should it have been a real answer
 * after all, the reminder, armed again, asks for it once more). A re-prompt
 * is an answer to the citizen's own message, awaited: not covered. */
#define SURVEY_ECHO_WINDOW 5
#define SURVEY_ECHO_KEEP 180

#define SURVEY_MAX_OUT 2

/* What a step asks the gateway to do: messages to send, in order. */
struct survey_out {
	int nmsg;
	char *msg[SURVEY_MAX_OUT];   /* UTF-8, malloc'd (owned) */
	int finished;                /* the survey reached a final status: archive it */
	int64_t due;                 /* when survey_tick must run next (0 = never) */
	int echo;                    /* survey_feed: the reply repeated the last answer (see SURVEY_ECHO_WINDOW): ignored */
};

void survey_init(struct survey *s);
/* Frees what the survey owns (answer texts); the struct itself is the caller's. */
void survey_clear(struct survey *s);
void survey_out_clear(struct survey_out *o);

/* Send the first item (intro + question 1). Returns 0 or -ENOMEM. */
int survey_start(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o);
/* A reply from the citizen. Returns 0 or -ENOMEM; a reply to a finished
 * survey changes nothing. One message may answer several items at once
 * ("1 2 1 1 3", see reply_parse_many): the run of one-option items from the
 * current one; the next item (or thanks) follows. */
/* The hash survey_feed keeps of a reply (last_h, echo_h): of its folded
 * text, so a copy of the same deliver_sm always gives the same value; never 0.
 * Returns 0 when the text cannot be read (-ENOMEM, bad UTF-8). */
uint32_t survey_reply_hash(const char *reply);
int survey_feed(const struct campaign *c, struct survey *s, const char *reply, int64_t now,
                struct survey_out *o);
/* Time passes: the reminder once after reminder_after of silence, expiry
 * after expire_after since the start. Returns 0 or -ENOMEM. */
int survey_tick(const struct campaign *c, struct survey *s, int64_t now, struct survey_out *o);
/* When survey_tick must next run for an active survey: the reminder (once,
 * reminder_after after the last message) if it comes before the expiry, else
 * the expiry (expire_after after the start). What the engine puts in
 * survey_out.due; the gateway asks again when it holds messages and moves
 * last_at to the moment they really go out. */
int64_t survey_next_due(const struct campaign *c, const struct survey *s);

/* The messages a citizen can receive. */
enum survey_msg_kind {
	SURVEY_MSG_FIRST = 0, /* intro + "\n" + item 1 (item 1 alone without intro) */
	SURVEY_MSG_ITEM,      /* an item alone: the next item, or a repeat (LAI) */
	SURVEY_MSG_INVALID,   /* invalid + "\n" + item: the re-prompt */
	SURVEY_MSG_REMINDER,  /* reminder + "\n" + item */
	SURVEY_MSG_HELP,      /* help + "\n" + item */
	SURVEY_MSG_THANKS,
	SURVEY_MSG_STOPPED,
	SURVEY_MSG_EXPIRED,
};
#define SURVEY_MSG_KINDS 8

/* "first", "item", "invalid", "reminder", "help", "thanks", "stopped", "expired". */
const char *survey_msg_kind_name(enum survey_msg_kind k);

/* The text of one message exactly as survey_start/feed/tick send it; `q` is
 * the 0-based item for FIRST..HELP (ignored for FIRST and the end messages).
 * Returns 0 and a malloc'd *out, or *out = NULL when the campaign sends no
 * such message (an empty end message); -EINVAL for a bad q, -ENOMEM. */
int survey_compose(const struct campaign *c, enum survey_msg_kind kind, int q, char **out);

/* One message as it goes out under one encoding. */
struct survey_variant {
	enum text_encoding enc;  /* what text_split was asked for */
	char *text;              /* the text sent: NFC, or plain Latin (text_unaccent) when
	                          * `unaccented` folded it; malloc'd */
	enum text_coding coding; /* TEXT_CODING_GSM7 or TEXT_CODING_UCS2 */
	int units;               /* septets (GSM 03.38) or UTF-16 code units (UCS-2) */
	int nparts;              /* SMS parts; 0 when rc < 0 */
	int rc;                  /* 0, or text_split's error (-EMSGSIZE: more than
	                          * TEXT_MAX_PARTS parts; -EILSEQ: not GSM under gsm7) */
};

#define SURVEY_PREVIEW_MAX (4 * CAMPAIGN_MAX_QUESTIONS + 4)

struct survey_preview_msg {
	enum survey_msg_kind kind;
	int q;                      /* 0-based item, -1 for thanks, stopped, expired */
	struct survey_variant v[2]; /* [0] as the campaign sends it, [1] the alternative */
};

/* Every message a citizen can receive from a campaign, for `hailong campaign
 * check`: first, each item, then invalid/reminder/help + each item, thanks,
 * stopped, expired. Auto and unaccented campaigns get a second variant (auto:
 * unaccented; unaccented: as written, auto) so the operator can choose. */
struct survey_preview {
	int nvariants;              /* 1, or 2 for auto and unaccented campaigns */
	int nmsg;
	struct survey_preview_msg msg[SURVEY_PREVIEW_MAX];
	int cost[2];                /* SMS parts of a completed survey per variant:
	                             * first + items 2..n + thanks; -1 when one of them
	                             * cannot be sent */
};

/* Fills *p (the caller's). Returns 0 or -ENOMEM; free with survey_preview_clear. */
int survey_preview(const struct campaign *c, struct survey_preview *p);
void survey_preview_clear(struct survey_preview *p);

const char *survey_status_name(enum survey_status st);
/* -1 for an unknown name. */
int survey_status_parse(const char *name);
/* 1 for the final statuses. */
int survey_status_final(enum survey_status st);

#endif
