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

#define REPLY_MAX_WORDS 40  /* a reply of more words is read as text only */
#define REPLY_WORD_MAX 40   /* bytes of one folded word, NUL included */

struct reply_word {
	char w[REPLY_WORD_MAX];     /* folded: "ạ" -> "a", "Đúng" -> "dung" */
	char lw[REPLY_WORD_MAX];    /* as written, lower case, NFC: "ạ", "đúng" ("" if unknown) */
	unsigned char marked;       /* written with a mark or a full-width form */
	unsigned char dbar;         /* written with đ/Đ */
	unsigned char pause;        /* punctuation follows it: ',' or '?' ("không, ..."), else 0 */
};

/* A reply prepared once, at the edge, for every reading of it. */
struct reply_text {
	char *fold;                 /* text_fold of the whole reply; NULL: not UTF-8 */
	char *nfc;                  /* NFC as written (text answers, "dừng") */
	int nwords;                 /* words[] filled; -1 when too many or too long */
	struct reply_word words[REPLY_MAX_WORDS];
	unsigned char question;     /* a question mark anywhere: "Hài lòng?" is no answer */
	unsigned char rating;       /* a score: 1 stars, thumbs, "x/y", "x-y" ("5*", "4/5", "1-2");
	                             * 2 a decimal ("4.5", "4,5"; a list on a multi item) */
	unsigned char mood;         /* verdicts in emoji or emoticons: REPLY_MOOD_UP ("👍", "❤"),
	                             * REPLY_MOOD_DOWN ("👎", "😡", ":(") */
};
#define REPLY_MOOD_UP 1
#define REPLY_MOOD_DOWN 2

/* Prepares `utf8` (NULL is ""). Returns 0 or -ENOMEM; bad UTF-8 is not an
 * error (fold stays NULL and every reading says REPLY_INVALID). Release with
 * reply_text_clear, also after a failure. */
int reply_text_init(struct reply_text *t, const char *utf8);
void reply_text_clear(struct reply_text *t);

/* Reads a prepared reply as an answer to question q. Case, spaces,
 * punctuation and diacritics do not matter. Option items are read word by
 * word: SMS spellings of "không" (ko, k, kg, hok...) and "rất" (rat, lắm...)
 * are negation and intensity markers that must equal the label's, in order,
 * so that no typo tolerance or abbreviation can cross a polarity; content
 * words may carry one typo (3+ letters, one per 6 letters in all, none
 * in a label of fewer than 5 letters: "vui" is no "Vừa"); an emoji verdict
 * against the option read ("hài lòng 👎") makes the reply unread;
 * politeness and filler ("dạ", "ạ", "tôi", "em chọn", "cảm ơn") is dropped;
 * joined words ("rathailong") and initials ("hl") are cut and written out;
 * emphatic letters ("hài lònggg"), emoticons (":D" is no key "d") and VNI or
 * Telex leftovers that spell a label word ("lo2ng", "lofng") are undone;
 * a key and a label together ("2-Hài lòng") must name the same option, and
 * a key corrected ("2, à nhầm 3") is the key kept. Two
 * options, or a word that fits none, make the reply REPLY_INVALID: a wrong
 * value is worse than a re-prompt. Returns 0 (and fills *out; free with
 * reply_clear) or -ENOMEM. docs/campaigns.md "How replies are read". */
int reply_read(const struct campaign_question *q, const struct reply_text *t, struct reply *out);

/* reply_read of `utf8`, prepared here. Returns 0 or -ENOMEM. */
int reply_parse(const struct campaign_question *q, const char *utf8, struct reply *out);
void reply_clear(struct reply *r);

/* The keyword a folded reply is, if any (REPLY_STOP/HELP/REPEAT), else REPLY_ANSWER.
 * Unaccented "dung" is never a keyword: it is as much "đúng" (right, yes) as
 * "dừng" (stop); reply_parse takes "dừng" written with its marks as a stop. */
enum reply_kind reply_keyword(const char *folded);

/* 1 for the items reply_parse_many can fill: scale, choice and yesno (one
 * option each). multi and text items end a run of several answers. */
int reply_single_option(const struct campaign_question *q);

/* The side option opt of q takes: +1 satisfied (a scale's `satisfied`
 * values; a label whose negation is another option's), -1 dissatisfied (as
 * many values at the bottom of a scale; a negated label), 0 neither (the
 * middle, or an item without sides). A reason given with the answer must
 * judge the same way (the simulator writes its citizens' reasons so). */
int reply_option_side(const struct campaign_question *q, int opt);

/* Several answers in one message for the n (>= 2) consecutive one-option
 * items qs[0..n-1], the item awaiting an answer first: "1 2 1 1 3" (tokens
 * separated by spaces or punctuation, each a key or a one-word label of its
 * own item) or "12113" (only when every key of those n items is one
 * character). The message must give exactly n answers and must not be a
 * keyword or a single answer to qs[0] (those come first). On success fills
 * values[0..n-1] (values[i] answers qs[i]) and returns n; returns 0 when the
 * message is not such a reply (parse it with reply_parse: bad UTF-8 and lack
 * of memory also answer 0, and reply_parse then reports them). */
int reply_read_many(const struct campaign_question *qs, int n, const struct reply_text *t,
                    int values[CAMPAIGN_MAX_QUESTIONS]);
/* reply_read_many of `utf8`, prepared here. */
int reply_parse_many(const struct campaign_question *qs, int n, const char *utf8,
                     int values[CAMPAIGN_MAX_QUESTIONS]);

#endif
