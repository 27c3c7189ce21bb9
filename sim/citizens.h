/* citizens: the virtual citizens of hailong-sim: who they are, how they answer, and the ledger. */
#ifndef HL_SIM_CITIZENS_H
#define HL_SIM_CITIZENS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct campaign;

#define CITIZENS_MAX 9999999   /* numbers are 8491 + a 7-digit index */
#define CITIZENS_PREFIX "8491"
#define CITIZENS_DIST_MAX  16 /* weighted values in one distribution (a question's options) */
#define CITIZENS_REPLY_MAX 512
#define CITIZENS_QDIST_MAX 32 /* questions with their own distribution (a campaign's questions) */
#define CITIZENS_QID_MAX   64 /* longest question id (as the campaign allows) */

/* keys: "1"; labels: the label; mixed: half and half; written: the way
 * people text (abbreviations of không/rất/hài lòng, the legend echoed,
 * politeness, joined words), see citizens.c written_text. */
enum citizens_mode { CITIZENS_KEYS = 0, CITIZENS_LABELS, CITIZENS_MIXED, CITIZENS_WRITTEN };
enum citizens_think { CITIZENS_THINK_UNIFORM = 0, CITIZENS_THINK_EXP };

/* The answer weights of one question, by option value, as a population file
 * (--population, `questions:`) gives them. Not checked against the campaign
 * yet: citizens_new does that, naming `line` and `value_line` in its errors. */
struct citizens_qdist {
	char question[CITIZENS_QID_MAX + 1]; /* the question id as written */
	int line;                            /* file line of the id (0 = unknown) */
	int n;                               /* values weighted */
	int value[CITIZENS_DIST_MAX];        /* option values */
	double weight[CITIZENS_DIST_MAX];    /* >= 0, not all 0 */
	int value_line[CITIZENS_DIST_MAX];   /* file line of each value */
};

/* How the population behaves (filled from the command line). */
struct citizens_opts {
	int count;                  /* citizens 1..count */
	uint64_t seed;              /* with the citizen's index, seeds its PRNG */
	int think_min_ms;           /* think time drawn uniformly in [min, max] */
	int think_max_ms;
	double invalid_share;       /* chance of one unintelligible reply first, per question */
	double comment_share;       /* chance of a comment on an optional text question */
	enum citizens_mode mode;    /* reply with keys, labels or a mix */
	enum citizens_think think_dist;  /* uniform in [min, max], or min + exponential
	                                  * with mean (max - min) / 2, capped at 5 x max */
	double time_factor;         /* every think time is multiplied by this (default 1) */
	double no_reply_share;      /* chance a citizen never answers a survey */
	double late_share;          /* chance it answers a question only after the reminder */
	double optout_share;        /* chance it sends HUY at a random question of a survey */
	double multi_share;         /* chance it answers every option question at once ("1 2 1 1 3") */
	double typo_share;          /* chance an answer carries a typo the parser still understands */
	double ucs2_share;          /* chance a reply is sent in UCS-2 even when it fits GSM */
	int ndist;                  /* answer distribution over scale values */
	int dist_value[CITIZENS_DIST_MAX];
	double dist_weight[CITIZENS_DIST_MAX];
	const char *qdist_file;     /* the file qdist[] comes from, for errors (borrowed, or NULL) */
	int nqdist;                 /* questions answered by their own weights, not by the above */
	struct citizens_qdist qdist[CITIZENS_QDIST_MAX];
};

/* Defaults: seed 1, think 20-200 ms, invalid 0, comment 0.3, keys,
 * distribution 5:40,4:35,3:15,2:7,1:3. count is 0 (the caller sets it). */
void citizens_opts_default(struct citizens_opts *o);

/* What a message means to a citizen (see citizens_recognise). */
enum citizens_kind {
	CITIZENS_MSG_OTHER = 0,   /* intro, help, a message from nobody we know */
	CITIZENS_MSG_QUESTION,    /* a question of the campaign */
	CITIZENS_MSG_REPROMPT,    /* the `invalid` text followed by a question */
	CITIZENS_MSG_REMINDER,    /* the `reminder` text (question may be -1) */
	CITIZENS_MSG_THANKS,      /* the `thanks` text: the survey is over */
};

struct citizens_recog {
	enum citizens_kind kind;
	int question;             /* 0-based index, or -1 */
};

/* A reply a citizen decided to send. */
struct citizens_reply {
	int index;                      /* the citizen, 1-based */
	int delay_ms;                   /* think time before it is sent */
	char to[21];                    /* the address the question came from */
	char text[CITIZENS_REPLY_MAX];  /* UTF-8 */
	int ucs2;                       /* send in UCS-2 even when GSM 03.38 would do */
	char *ledger;                   /* malloc'd JSON line (no newline) to write with
	                                 * citizens_ledger_write once the gateway took
	                                 * the reply; NULL for an unintelligible or a
	                                 * repeated reply. The caller owns it. */
};

struct citizens;

/* Borrows c (it must outlive the population) and ledger (may be NULL: no
 * ledger). Returns NULL and fills err on failure. Each o->qdist entry must
 * name a scale, choice or yesno question of c and only values of its
 * options; otherwise err holds one "file:line: message" per mistake. */
struct citizens *citizens_new(const struct campaign *c, const struct citizens_opts *o,
                              FILE *ledger, char *err, size_t errlen);
void citizens_free(struct citizens *p);

/* 1-based index of one of our numbers ("84910000001" -> 1), 0 for anyone else. */
int citizens_index(const struct citizens *p, const char *msisdn);
/* The number of citizen `index`. */
void citizens_msisdn(int index, char out[16]);

/* Which question (or end message) a text received by a citizen is: the
 * longest rendered question whose folded text (no case, marks, punctuation)
 * it contains. Pure: the same text always gives the same answer. */
struct citizens_recog citizens_recognise(const struct citizens *p, const char *text);

/* The answer citizen `index` gave to the last question it read never
 * reached the gateway (its USSD session was released before): shown that
 * question again, it answers anew (and the ledger gets that answer). */
void citizens_unanswer(struct citizens *p, int index);

/* Citizen `index` reads a whole (reassembled) message sent from `from`.
 * Returns 1 and fills *out when it will answer, 0 when it does not, -ENOMEM.
 * The thanks message writes the "completed" ledger line at once. */
int citizens_receive(struct citizens *p, int index, const char *from, const char *text,
                     struct citizens_reply *out);

/* Append one JSON line to the ledger and flush it. 0 or -EIO. */
int citizens_ledger_write(struct citizens *p, const char *line);

uint64_t citizens_completed(const struct citizens *p);  /* thanks received */
uint64_t citizens_opted_out(const struct citizens *p);  /* HUY sent */
uint64_t citizens_no_reply(const struct citizens *p);   /* surveys left unanswered on purpose */

/* When citizen `index` last sent a reply (monotonic microseconds), for the
 * reply -> next question latency. take returns it and clears it (0 = none). */
/* The campaign the citizens answer (borrowed). */
const struct campaign *citizens_campaign(const struct citizens *p);

void citizens_mark_sent(struct citizens *p, int index, int64_t us);
int64_t citizens_take_mark(struct citizens *p, int index);
uint64_t citizens_answers(const struct citizens *p);    /* answer lines written */

/* Parse "5:40,4:35,3:15,2:7,1:3" into o->dist_*. 0 or -EINVAL. */
int citizens_parse_distribution(const char *s, struct citizens_opts *o);

#endif
