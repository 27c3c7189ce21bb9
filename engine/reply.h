/* reply: understanding a citizen's reply to one survey item. */
#ifndef HL_REPLY_H
#define HL_REPLY_H

#include "campaign.h"

enum reply_kind {
	REPLY_ANSWER = 0, /* values[] (option questions) or text (text questions) */
	REPLY_SKIP,       /* an optional question skipped ("0", "bo qua", "khong") */
	REPLY_INVALID,    /* not understood: re-prompt */
	REPLY_STOP,       /* opt-out keyword: HUY, STOP, TU CHOI */
	REPLY_HELP,       /* GIUP, HELP */
	REPLY_REPEAT,     /* LAI: repeat the item */
};

struct reply {
	enum reply_kind kind;
	int nvalues;                          /* chosen option values, sorted, unique */
	int values[CAMPAIGN_MAX_OPTIONS];
	char *text;                           /* text answers: NFC, trimmed; malloc'd */
};

/* Parse `utf8` as an answer to question q. Matching ignores case, spaces,
 * punctuation and diacritics; a label may carry one typo per 6 letters when
 * only one option is that close. Returns 0 (and fills *out; free with
 * reply_clear) or -ENOMEM. Invalid UTF-8 is an ordinary REPLY_INVALID. */
int reply_parse(const struct campaign_question *q, const char *utf8, struct reply *out);
void reply_clear(struct reply *r);

/* The keyword a folded reply is, if any (REPLY_STOP/HELP/REPEAT), else REPLY_ANSWER.
 * Unaccented "dung" is never a keyword: it is as much "đúng" (right, yes) as
 * "dừng" (stop); reply_parse takes "dừng" written with its marks as a stop. */
enum reply_kind reply_keyword(const char *folded);

/* 1 for the items reply_parse_many can fill: scale, choice and yesno (one
 * option each). multi and text items end a run of several answers. */
int reply_single_option(const struct campaign_question *q);

/* Several answers in one message for the n (>= 2) consecutive one-option
 * items qs[0..n-1], the item awaiting an answer first: "1 2 1 1 3" (tokens
 * separated by spaces or punctuation, each a key or a one-word label of its
 * own item) or "12113" (only when every key of those n items is one
 * character). The message must give exactly n answers and must not be a
 * keyword or a single answer to qs[0] (those come first). On success fills
 * values[0..n-1] (values[i] answers qs[i]) and returns n; returns 0 when the
 * message is not such a reply (parse it with reply_parse: bad UTF-8 and lack
 * of memory also answer 0, and reply_parse then reports them). */
int reply_parse_many(const struct campaign_question *qs, int n, const char *utf8,
                     int values[CAMPAIGN_MAX_QUESTIONS]);

#endif
