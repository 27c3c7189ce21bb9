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

/* The keyword a folded reply is, if any (REPLY_STOP/HELP/REPEAT), else REPLY_ANSWER. */
enum reply_kind reply_keyword(const char *folded);

#endif
