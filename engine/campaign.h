/* campaign: the campaign model, parsed and validated from YAML (SPEC §5, docs/campaigns.md). */
#ifndef HL_CAMPAIGN_H
#define HL_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

#define CAMPAIGN_MAX_QUESTIONS 32
#define CAMPAIGN_MAX_OPTIONS 16
#define CAMPAIGN_MAX_KEYS 8
/* One USSD screen is one submit_sm, never concatenated: 182 GSM 03.38
 * characters (160 octets packed), 80 in UCS-2. */
#define CAMPAIGN_USSD_GSM 182
#define CAMPAIGN_USSD_UCS2 80

enum campaign_channel { CAMPAIGN_SMS = 0, CAMPAIGN_USSD };

enum question_type { Q_SCALE = 0, Q_CHOICE, Q_MULTI, Q_YESNO, Q_TEXT };

struct campaign_option {
	int value;                       /* stored in answers.value */
	char *label;                     /* as written (NFC) */
	char *label_fold;                /* text_fold(label), for matching */
	char *keys[CAMPAIGN_MAX_KEYS];   /* reply keys, text_fold()ed */
	int nkeys;
};

struct campaign_scale {
	char *name;
	struct campaign_option opts[CAMPAIGN_MAX_OPTIONS];
	int nopts;
	int satisfied[CAMPAIGN_MAX_OPTIONS]; /* values that count as satisfied */
	int nsatisfied;
};

struct campaign_question {
	char *id;                       /* unique in the campaign, [a-z0-9_-] */
	char *group;                    /* criteria group, may be NULL */
	enum question_type type;
	const struct campaign_scale *scale; /* Q_SCALE: the named scale; else NULL */
	/* The options a reply is matched against: a copy of the scale's for
	 * Q_SCALE, the question's own for choice/multi, 1=Có/2=Không for yesno
	 * unless given; none for text. */
	struct campaign_option opts[CAMPAIGN_MAX_OPTIONS];
	int nopts;
	int optional;                   /* a text question the citizen may skip */
	char *text;                     /* as written, with {n} and {total} */
	int line;                       /* line of the question in its file (errors) */
	int index;                      /* 0-based position in the campaign ("câu {n}" = index + 1) */
};

struct campaign_messages {
	char *intro, *invalid, *reminder, *thanks, *stopped, *help, *expired;
	/* lines in the file (0 = the built-in default), for errors */
	int intro_line, invalid_line, reminder_line, thanks_line, stopped_line, help_line, expired_line;
};

struct campaign {
	char *id;
	char *name;
	char *file;                     /* path it was loaded from (for errors) */
	char version[17];               /* 16 hex digits: hash of the file's bytes */
	enum campaign_channel channel;
	enum text_encoding encoding;
	int64_t window_start;           /* unix seconds (00:00 local of start), 0 = none */
	int64_t window_end;             /* unix seconds (24:00 local of end), 0 = none */
	int quiet_start, quiet_end;     /* minutes after local midnight, -1 = none */
	int64_t reminder_after;         /* seconds, 0 = no reminder */
	int64_t expire_after;           /* seconds, > 0 */
	int max_invalid;                /* re-prompts before abandoning */
	int64_t resurvey_after;         /* seconds, 0 = none */
	int legend;                     /* append "1-Label 2-Label..." to option questions (default 1) */
	int tz_offset;                  /* seconds east of UTC for window/quiet hours (default +7h) */
	int64_t ussd_invite_after;      /* channel ussd: one SMS inviting to dial the code this long
	                                 * after a pushed session ended unanswered (0 = none) */
	char *ussd_invite;              /* channel ussd: that SMS, "{code}" = the service code
	                                 * (NULL = the default text, engine/ussd.c) */
	int ussd_invite_line;           /* its line in the file, 0 = not given */
	struct campaign_scale scales[8];
	int nscales;
	struct campaign_question questions[CAMPAIGN_MAX_QUESTIONS];
	int nquestions;
	struct campaign_messages msg;
};

/* Parse a campaign from YAML text. `file` names it in errors. On success
 * returns 0 and *out owns a new campaign. On failure returns -EINVAL and
 * fills err with every mistake found, one per line, each as
 * "file:line: message" (truncated to errlen). Never crashes on any input. */
int campaign_parse(const char *file, const char *yaml, size_t len,
                   struct campaign **out, char *err, size_t errlen);

/* Read a file and parse it (the one place in engine/ that reads a file:
 * callers from gateway/ and sim/ need the same thing). */
int campaign_load(const char *path, struct campaign **out, char *err, size_t errlen);

void campaign_free(struct campaign *c);

/* The text of question `idx` (0-based) as the citizen receives it: {n} and
 * {total} substituted, followed by the legend of its options when the
 * campaign asks for one: on one line for SMS ("\n1-Rất hài lòng 2-Hài lòng
 * ..."), one option per line on a USSD screen ("\n1. Rất hài lòng\n2. Hài
 * lòng..."). malloc'd. */
char *campaign_render_question(const struct campaign *c, int idx);

/* `a` + "\n" + `b`, either may be NULL or empty (then no newline). malloc'd.
 * The one rule by which a message is put together from its parts. */
char *campaign_join(const char *a, const char *b);

/* What `text` costs on one USSD screen under encoding enc: the characters
 * (GSM 03.38 septets, or UTF-16 units) in *units and the screen's capacity in
 * *cap (CAMPAIGN_USSD_GSM or CAMPAIGN_USSD_UCS2). Returns 1 when it fits, 0
 * when not, -ENOMEM. */
int campaign_ussd_fit(const char *text, enum text_encoding enc, int *units, int *cap);

/* Index of the question with this id, or -1. */
int campaign_question_index(const struct campaign *c, const char *id);

/* 1 if `value` counts as satisfied for question q (scale questions only). */
int campaign_is_satisfied(const struct campaign_question *q, int value);

#endif
