/* reply: reads a citizen's reply to one survey item, word by word, so that a negation can never be lost. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "text.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- keywords: whole replies (unchanged by the word reader) ---- */

/* Opt-out. Never "dung": unaccented it is "đúng" (right, yes) as often as
 * "dừng" (stop); see reply_accented_stop for "dừng" written with its marks. */
static const char *const reply_stop_words[] = {
	"huy", "huy bo", "huy khao sat", "stop", "tu choi", "tuchoi", "unsubscribe",
	"ngung", "ngung khao sat", "khong tham gia", "ko tham gia", "k tham gia", "kg tham gia",
	"khong muon tham gia", "ko muon tham gia",
	/* "đừng/dừng nhắn tin nữa" (don't text any more): both are a stop, so
	 * here "dung" needs no marks; "hủy đăng ký" (cancel the subscription) */
	"dung nhan tin", "dung nhan tin nua", "dung nhan nua", "dung gui tin", "dung gui tin nua",
	"dung gui nua", "ngung nhan tin", "ngung gui tin", "khong nhan tin nua", "ko nhan tin nua",
	"k nhan tin nua", "khong muon nhan tin", "ko muon nhan tin", "huy dang ky", "huy dk",
};
/* "dừng", "dừng lại"... once folded: a stop only when the ư is written. */
static const char *const reply_dung_words[] = {"dung", "dung lai", "dung khao sat", "dung lai khao sat"};
static const char *const reply_help_words[] = {"giup", "help", "tro giup", "huong dan"};
static const char *const reply_repeat_words[] = {"lai", "nhac lai", "repeat"};
static const char *const reply_skip_words[] = {
	"0", "k", "ko", "kg", "khg", "khong", "bo qua", "boqua", "skip", "khong co", "ko co", "k co", "kg co",
	"khong gop y", "ko gop y", "k gop y", "khong co gi", "ko co gi", "k co gi", "khong y kien", "ko y kien",
	"khong co y kien", "ko co y kien", "k co y kien", "khong co gop y", "ko co gop y", "khong gop y gi",
	"ko gop y gi", "khong co gop y gi", "ko co gop y gi", "het", "het roi",
};


/* ---- the words a reply is read with (all folded) ---- */

/* "không" and the ways it is texted: a negation decides the polarity. */
static const char *const reply_neg_words[] = {
	"khong", "ko", "k", "kg", "khg", "kh", "kog", "kong", "khog", "khom", "khum", "hok", "hog",
	"hong", "hk", "hem", "hum", "k0", "chang", "cha", "chua", "dech",
};
/* "rất" and the other words of intensity ("lắm", "quá", "cực kỳ"...). */
static const char *const reply_int_words[] = {"rat", "lam", "qua", "cuc", "zat"};
static const char *const reply_int_pairs[] = {"cuc ky", "cuc ki", "vo cung", "het suc", "hoan toan"};
/* Politeness and filler: "dạ", "tôi", "em chọn", "ý kiến của tôi là", "cảm ơn". */
static const char *const reply_fillers[] = {
	"da", "toi", "tui", "em", "minh", "chau", "con", "xin", "chon", "thay", "la", "cua", "so",
	"muc", "nha", "nhe", "nhen", "thanks", "tks", "thank", "you", "ans", "kq",
	"luon", "thoi", "anh", "chi",
};
static const char *const reply_filler_pairs[] = {
	"tra loi", "y kien", "dap an", "danh gia", "cam on", "cam thay", "lua chon", "phuong an",
	"ket qua", "camon nhe",
};
/* Words that are filler unless the item is a yes/no one (where they say yes). */
static const char *const reply_soft_yes[] = {"ok", "oke", "okie", "okay", "oki", "vang", "u", "uh",
                                             "um", "uhm", "uk", "roi"};
/* Yes/no items: more ways of saying yes and no than their keys. */
static const char *const reply_yes_words[] = {"co", "c", "yes", "y", "ok", "oke", "okie", "okay",
                                              "oki", "vang", "u", "uh", "um", "uhm", "uk", "roi"};
static const char *const reply_no_words[] = {"sai", "no", "n"};
/* Question particles, as written: a reply with one asks, it does not answer. */
static const char *const reply_question_words[] = {
	"\xc3\xa0", "\xc3\xa1", "\xe1\xba\xa3", "\xc3\xa3", "\xc6\xb0", "h\xe1\xba\xa3", "nh\xe1\xbb\x89",
	"h\xe1\xbb\xad", "h\xe1\xbb\x9f", "ch\xe1\xbb\xa9", "sao", "\xe1\xbb\xa9",
}; /* à á ả ã ư hả nhỉ hử hở chứ sao, and ứ (a pout, or a slip for ừ) */

static int reply_in(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* A skip of an optional item: one of reply_skip_words, also with "dạ"
 * before it or "ạ" after it ("Dạ không có ạ"). */
static int reply_is_skip(const char *fold)
{
	char buf[64];
	size_t n = strlen(fold);
	if (n >= sizeof buf)
		return 0;
	memcpy(buf, fold, n + 1);
	char *p = buf;
	if (strncmp(p, "da ", 3) == 0)
		p += 3;
	n = strlen(p);
	if (n > 2 && strcmp(p + n - 2, " a") == 0)
		p[n - 2] = '\0';
	return reply_in(p, reply_skip_words, NELEM(reply_skip_words));
}

enum reply_kind reply_keyword(const char *folded)
{
	if (reply_in(folded, reply_stop_words, NELEM(reply_stop_words)))
		return REPLY_STOP;
	if (reply_in(folded, reply_help_words, NELEM(reply_help_words)))
		return REPLY_HELP;
	if (reply_in(folded, reply_repeat_words, NELEM(reply_repeat_words)))
		return REPLY_REPEAT;
	return REPLY_ANSWER;
}

/* "Dừng" (stop) written with its marks: the folded text is one of
 * reply_dung_words and the NFC text has ừ/Ừ (U+1EEB/U+1EEA) and no đ/Đ. "Đúng",
 * "đung", "dung" stay answers. */
static int reply_accented_stop(const char *nfc, const char *folded)
{
	if (!nfc || !reply_in(folded, reply_dung_words, NELEM(reply_dung_words)))
		return 0;
	return (strstr(nfc, "\xe1\xbb\xab") || strstr(nfc, "\xe1\xbb\xaa")) && !strstr(nfc, "\xc4\x91") &&
	       !strstr(nfc, "\xc4\x90");
}

/* The keyword the reply is (folded, and as written for "dừng"). */
static enum reply_kind reply_keyword_of(const struct reply_text *t)
{
	enum reply_kind kw = reply_keyword(t->fold);
	if (kw == REPLY_ANSWER && reply_accented_stop(t->nfc, t->fold))
		kw = REPLY_STOP;
	return kw;
}

/* ---- the prepared reply ---- */

/* Splits `s` at spaces into at most `cap` words of fewer than REPLY_WORD_MAX
 * bytes. Returns the count, or -1 when there are more or longer words. */
static int reply_split(const char *s, char (*w)[REPLY_WORD_MAX], int cap)
{
	int n = 0;
	while (*s) {
		size_t len = strcspn(s, " ,?");
		if (n >= cap || len >= REPLY_WORD_MAX)
			return -1;
		memcpy(w[n], s, len);
		w[n][len] = '\0';
		n++;
		s += len;
		s += strspn(s, " ,?");
	}
	return n;
}

/* For each word of text_lower's `s`, the punctuation that follows it. */
static void reply_pauses(const char *s, struct reply_word *words, int n)
{
	for (int i = 0; i < n && *s; i++) {
		s += strcspn(s, " ,?");
		words[i].pause = *s == ',' || *s == '?' ? (unsigned char)*s : 0;
		s += strspn(s, " ,?");
	}
}

/* A '*' that is a star: beside a number anywhere in the reply ("5*", "*5",
 * "5 *"), alone or in a run of three or more ("*", "***"); one or two
 * against a word are emphasis ("**hài lòng**"). */
static int reply_has_star(const char *nfc)
{
	if (!strchr(nfc, '*'))
		return 0;
	if (strpbrk(nfc, "0123456789"))
		return 1;
	for (const char *p = nfc; (p = strchr(p, '*')) != NULL;) {
		size_t run = strspn(p, "*");
		unsigned char before = p > nfc ? (unsigned char)p[-1] : ' ';
		unsigned char after = (unsigned char)p[run];
		int word = before >= 0x80 || ((before | 0x20) >= 'a' && (before | 0x20) <= 'z') ||
		           after >= 0x80 || ((after | 0x20) >= 'a' && (after | 0x20) <= 'z');
		if (run >= 3 || !word)
			return 1;
		p += run;
	}
	return 0;
}

/* A rating rather than an answer: stars ("5*", "5★", "⭐"), or exactly two
 * numbers with '-' or '/' between ("4/5", "1-2": a score, or a range). */
static int reply_is_rating(const char *nfc)
{
	if (reply_has_star(nfc) || strstr(nfc, "\xe2\x98\x85") || strstr(nfc, "\xe2\x98\x86") ||
	    strstr(nfc, "\xe2\xad\x90") || strstr(nfc, "\xf0\x9f\x8c\x9f"))
		return 1; /* * ★ ☆ ⭐ 🌟 */
	/* an emoji beside a number is a score too, or says the other way round
	 * ("5 👍", "5 😊": the best, or key 5?); folded hands are politeness
	 * ("2 ạ 🙏"), as "dạ" is */
	if (strpbrk(nfc, "0123456789")) {
		char *plain = strdup(nfc);
		if (plain == NULL)
			return 1; /* unread rather than guessed */
		for (char *h = strstr(plain, "\xf0\x9f\x99\x8f"); h; h = strstr(h, "\xf0\x9f\x99\x8f"))
			memset(h, ' ', 4); /* 🙏 */
		int symbol = text_has_symbol(plain);
		free(plain);
		if (symbol)
			return 1;
	}
	/* a signed number ("+1": agreed, a like; "-1"): no key */
	const char *sgn = nfc + strspn(nfc, " \t");
	if ((*sgn == '+' || *sgn == '-') && sgn[1] >= '0' && sgn[1] <= '9')
		return 1;
	/* a decimal score: "4.5", "4,5" */
	const char *q = nfc + strspn(nfc, " \t");
	size_t d1 = strspn(q, "0123456789");
	if (d1 && (q[d1] == '.' || q[d1] == ',') && strspn(q + d1 + 1, "0123456789") > 0 &&
	    q[d1 + 1 + strspn(q + d1 + 1, "0123456789")] == '\0')
		return 2; /* (a list "3,1" on a multi item) */
	const char *p = nfc + strspn(nfc, " \t");
	size_t d = strspn(p, "0123456789");
	if (!d)
		return 0;
	p += d;
	p += strspn(p, " ");
	if (*p != '-' && *p != '/')
		return 0;
	p++;
	p += strspn(p, " ");
	d = strspn(p, "0123456789");
	if (!d)
		return 0;
	p += d;
	return p[strspn(p, " \t\r\n.!")] == '\0';
}

/* An ASCII emoticon: eyes ':', ';', '=' (a nose '-' or '\'' may follow)
 * and a mouth of one or more of ")(DdPpVvOo3|/\\[]<>*@$" (":)", ":D",
 * ":-P", ":v", "=))"), or "xD", "XD", "^^", "^_^", "<3", "-_-", "T_T". */
static int reply_is_emoticon(const char *s, size_t len)
{
	static const char *const whole[] = {"xD", "XD", "xd", "^^", "^_^", "<3", "-_-", "T_T", "=.=", ":'("};
	for (size_t i = 0; i < NELEM(whole); i++)
		if (len == strlen(whole[i]) && memcmp(s, whole[i], len) == 0)
			return 1;
	if (len < 2 || !strchr(":;=", s[0]))
		return 0;
	size_t i = 1 + (s[1] == '-' || s[1] == '\'');
	if (i >= len)
		return 0;
	for (; i < len; i++)
		if (!strchr(")(DdPpVvOo3|/\\[]<>*@$", s[i]))
			return 0;
	return 1;
}

/* A sad or angry emoticon: ":(", ":((", ":-(", ":'(", ":[", "T_T", "-_-", "=.=". */
static int reply_is_sad_emoticon(const char *s, size_t len)
{
	static const char *const whole[] = {"T_T", "-_-", "=.=", ":'(", ">:("};
	for (size_t i = 0; i < NELEM(whole); i++)
		if (len == strlen(whole[i]) && memcmp(s, whole[i], len) == 0)
			return 1;
	if (len < 2 || !strchr(":;=", s[0]))
		return 0;
	size_t i = 1 + (s[1] == '-');
	if (i >= len)
		return 0;
	for (; i < len; i++)
		if (s[i] != '(' && s[i] != '[')
			return 0;
	return 1;
}

/* Emoji that give a verdict: approval (thumb up, OK hand, hearts, 100) and
 * disapproval (thumb down, angry, sulking, sad, crying, a broken heart).
 * Smiles and grins are politeness or laughter, no verdict. */
static const char *const reply_mood_up[] = {
	"\xf0\x9f\x91\x8d", "\xf0\x9f\x91\x8c", "\xe2\x9d\xa4", "\xf0\x9f\x98\x8d", "\xf0\x9f\xa5\xb0",
	"\xf0\x9f\x92\xaf",
}; /* 👍 👌 ❤ 😍 🥰 💯 */
static const char *const reply_mood_down[] = {
	"\xf0\x9f\x91\x8e", "\xf0\x9f\x98\xa1", "\xf0\x9f\x98\xa0", "\xf0\x9f\xa4\xac", "\xf0\x9f\x98\xa4",
	"\xf0\x9f\x98\x92", "\xf0\x9f\x98\x9e", "\xf0\x9f\x98\x94", "\xf0\x9f\x98\xa2", "\xf0\x9f\x98\xad",
	"\xf0\x9f\x92\x94", "\xf0\x9f\x98\xa9", "\xf0\x9f\x98\xab", "\xf0\x9f\x99\x81", "\xe2\x98\xb9",
	"\xf0\x9f\x98\x91",
}; /* 👎 😡 😠 🤬 😤 😒 😞 😔 😢 😭 💔 😩 😫 🙁 ☹ 😑 */

/* REPLY_MOOD_UP and REPLY_MOOD_DOWN of the verdicts in `s`. */
static unsigned char reply_mood(const char *s)
{
	unsigned char mood = 0;
	for (size_t i = 0; i < NELEM(reply_mood_up); i++)
		if (strstr(s, reply_mood_up[i]))
			mood |= REPLY_MOOD_UP;
	for (size_t i = 0; i < NELEM(reply_mood_down); i++)
		if (strstr(s, reply_mood_down[i]))
			mood |= REPLY_MOOD_DOWN;
	for (const char *p = s; *p;) {
		p += strspn(p, " \t\r\n");
		size_t len = strcspn(p, " \t\r\n");
		if (len && reply_is_sad_emoticon(p, len))
			mood |= REPLY_MOOD_DOWN;
		p += len;
	}
	return mood;
}

/* A copy of `s` with its emoticons (words of their own, reply_is_emoticon)
 * blanked: ":D" is a grin, not the key "d". *found says whether there were
 * any. malloc'd, or NULL. */
static char *reply_drop_emoticons(const char *s, int *found)
{
	char *out = strdup(s);
	*found = 0;
	if (out == NULL)
		return NULL;
	for (char *p = out; *p;) {
		size_t sp = strspn(p, " \t\r\n");
		p += sp;
		size_t len = strcspn(p, " \t\r\n");
		if (len && reply_is_emoticon(p, len)) {
			memset(p, ' ', len);
			*found = 1;
		}
		p += len;
	}
	return out;
}

int reply_text_init(struct reply_text *t, const char *utf8)
{
	memset(t, 0, sizeof *t);
	t->nwords = -1;
	if (!utf8)
		utf8 = "";
	t->fold = text_fold(utf8);
	if (!t->fold)
		return 0; /* not UTF-8: read as not understood */
	t->nfc = text_nfc(utf8);
	/* words are read with their emphatic letters undone ("hài lònggg",
	 * "khôngggg"); the text as written stays in nfc */
	int emoticon = 0;
	char *plain = reply_drop_emoticons(utf8, &emoticon);
	char *squeezed = plain ? text_squeeze(plain) : NULL;
	/* an emoticon beside a number, like an emoji: a score, or the other
	 * way round ("5 :)"); the digits of "<3" are no number */
	emoticon &= plain && strpbrk(plain, "0123456789") != NULL;
	free(plain);
	char *lower = squeezed ? text_lower(squeezed) : NULL;
	char *fold = squeezed ? text_fold(squeezed) : NULL;
	free(squeezed);
	if (!t->nfc || !lower || !fold) {
		free(lower);
		free(fold);
		reply_text_clear(t);
		return -ENOMEM;
	}
	free(t->fold);
	t->fold = fold;
	t->question = strchr(t->nfc, '?') || strstr(t->nfc, "\xef\xbc\x9f");
	t->rating = (unsigned char)reply_is_rating(t->nfc);
	t->mood = reply_mood(t->nfc);
	if (emoticon)
		t->rating = 1;
	char fw[REPLY_MAX_WORDS][REPLY_WORD_MAX];
	char lw[REPLY_MAX_WORDS][REPLY_WORD_MAX];
	int n = reply_split(t->fold, fw, REPLY_MAX_WORDS);
	int m = reply_split(lower, lw, REPLY_MAX_WORDS);
	if (n < 0 || m != n) {
		/* too long to be an option, or written so that the words as written
		 * cannot be told apart (marks, pauses): not read as an option */
		free(lower);
		return 0;
	}
	reply_pauses(lower, t->words, n);
	free(lower);
	for (int i = 0; i < n; i++) {
		struct reply_word *w = &t->words[i];
		memcpy(w->w, fw[i], sizeof w->w);
		memcpy(w->lw, lw[i], sizeof w->lw);
		/* the word as written differs from its folded form by marks
		 * (or a full-width form, which maps to the same ASCII) */
		w->marked = strcmp(fw[i], lw[i]) != 0;
		w->dbar = strncmp(lw[i], "\xc4\x91", 2) == 0;
	}
	t->nwords = n;
	return 0;
}

void reply_text_clear(struct reply_text *t)
{
	free(t->fold);
	free(t->nfc);
	t->fold = t->nfc = NULL;
	t->nwords = -1;
}

/* ---- distances ---- */

/* Edit distance of two short ASCII strings, a swap of two neighbours
 * counting one edit (optimal string alignment), capped at cap+1. */
static int reply_distance(const char *a, const char *b, int cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > (size_t)cap)
		return cap + 1;
	int d[65][65];
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		d[i][0] = (int)i;
		int rowmin = d[i][0];
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			int m = sub < del ? sub : del;
			m = m < ins ? m : ins;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < m)
				m = d[i - 2][j - 2] + 1;
			d[i][j] = m;
			if (m < rowmin)
				rowmin = m;
		}
		if (rowmin > cap)
			return cap + 1;
	}
	return d[la][lb];
}

/* ---- words of one item ---- */

#define REPLY_TOKS 96

enum reply_class {
	RC_WORD = 0, /* a content word, to be matched against labels */
	RC_NEG,      /* a negation */
	RC_INT,      /* intensity */
	RC_FILLER,   /* politeness, filler: dropped */
	RC_KEY,      /* an option's key (and nothing else) */
	RC_CONTENT,  /* in a signature: where the content words stand */
};

struct reply_tok {
	char w[REPLY_WORD_MAX];
	char lw[REPLY_WORD_MAX];    /* as written (lower case, marks kept), or w when cut from a word */
	unsigned char marked, dbar, pause;
	enum reply_class cls;
	int key;                    /* option index whose key this word is, or -1 */
};

/* What the item's labels are made of, so that a reply's words can be read. */
struct reply_vocab {
	const struct campaign_question *q;
	char words[128][REPLY_WORD_MAX]; /* every word of every label, folded */
	int nwords;
	char initials[CAMPAIGN_MAX_OPTIONS][REPLY_WORD_MAX]; /* "hl" for "hai long", or "" */
	int yes_opt, no_opt;        /* yes/no items with the usual labels: their options, else -1 */
	int no_int;                 /* no label holds intensity: "rất tốt" can only be "Tốt" */
};

static int reply_label_word(const struct reply_vocab *v, const char *w)
{
	for (int i = 0; i < v->nwords; i++)
		if (strcmp(v->words[i], w) == 0)
			return 1;
	return 0;
}

static int reply_key_of(const struct campaign_question *q, const char *w)
{
	for (int i = 0; i < q->nopts; i++)
		for (int k = 0; k < q->opts[i].nkeys; k++)
			if (strcmp(q->opts[i].keys[k], w) == 0)
				return i;
	return -1;
}

/* A negation as labels write it (folded): "khong" and its spellings. */
static int reply_is_neg(const char *w)
{
	return reply_in(w, reply_neg_words, NELEM(reply_neg_words));
}

/* Intensity as labels write it (folded). */
static int reply_is_int(const char *w)
{
	return reply_in(w, reply_int_words, NELEM(reply_int_words));
}

/* Negations written with their marks ("không", "hông", "chẳng"...). Not the
 * pouting "ứ": one tone from "ừ" (yes), it is left unread. A marked word that folds to a negation but is written
 * otherwise is something else: "hồng" (a name), "chả"/"cha" (father),
 * "chồng" (husband) one letter from "khong". */
static const char *const reply_neg_marked[] = {
	"kh\xc3\xb4ng", "k\xc3\xb4", "kh\xc3\xb4g", "kh\xc3\xb4m", "h\xc3\xb4ng", "h\xe1\xbb\x95ng",
	"ch\xe1\xba\xb3ng", "ch\xc6\xb0" "a", "ch\xe1\xba\xa3", "\xc4\x91\xe1\xba\xbf\x63h",
};
/* Folded negations that are other words when written without marks. */
static const char *const reply_neg_marked_only[] = {"cha", "dech", "u"};

/* A negation in a reply, read from the word as written: a spelling of
 * "không" (reply_neg_words) without marks, or one of reply_neg_marked; also
 * "khong" with one typo when it starts like it (k..., or kh...ô... written
 * with marks). */
static int reply_neg_tok(const struct reply_tok *t)
{
	const char *w = t->w, *lw = t->lw;
	int unmarked = !t->marked && !t->dbar;
	if (!unmarked && reply_in(lw, reply_neg_marked, NELEM(reply_neg_marked)))
		return 1;
	if (unmarked && reply_is_neg(w) && !reply_in(w, reply_neg_marked_only, NELEM(reply_neg_marked_only)))
		return 1;
	if (strlen(w) < 4 || w[0] != 'k' || reply_distance(w, "khong", 1) > 1)
		return 0;
	return unmarked || (lw[0] == 'k' && strstr(lw, "\xc3\xb4"));
}

/* Intensity in a reply: "rất" (rat, rât, ratt) anywhere; "lắm", "quá" as
 * written anywhere, and unmarked "lam", "qua" only after the words they
 * intensify ("hai long lam"), never "làm" (to make) or "qua" (past) before
 * them; "cực" only as written (not "cục"). */
static int reply_int_tok(const struct reply_tok *t, int after_content)
{
	const char *w = t->w, *lw = t->lw;
	int unmarked = !t->marked;
	if (strcmp(w, "rat") == 0)
		return unmarked || strcmp(lw, "r\xe1\xba\xa5t") == 0 || strcmp(lw, "r\xc3\xa2t") == 0;
	if (strcmp(w, "zat") == 0 || (strcmp(w, "ratt") == 0 && unmarked))
		return unmarked;
	if (strcmp(w, "lam") == 0)
		return strcmp(lw, "l\xe1\xba\xafm") == 0 || (unmarked && after_content);
	if (strcmp(w, "qua") == 0)
		return strcmp(lw, "qu\xc3\xa1") == 0 || (unmarked && after_content);
	if (strcmp(w, "cuc") == 0)
		return strcmp(lw, "c\xe1\xbb\xb1\x63") == 0;
	return 0;
}

/* Yes-words written with marks: "có", "ừ", "ờ", "vâng", "rồi". Others that
 * fold alike are other words: "cô" (a teacher), "ứ" (a pout: no), "ư" (a
 * question). Unmarked spellings count as they are. */
static const char *const reply_yes_marked[] = {
	"c\xc3\xb3", "\xe1\xbb\xab", "\xe1\xbb\x9d", "v\xc3\xa2ng", "r\xe1\xbb\x93i", "\xe1\xbb\xabm",
}; /* có ừ ờ vâng rồi ừm */

static int reply_yes_spelled(const struct reply_tok *t)
{
	return (!t->marked && !t->dbar) || reply_in(t->lw, reply_yes_marked, NELEM(reply_yes_marked));
}

/* Filler on items that are not yes/no: "ok", "vâng", "ừ", "rồi"... */
static int reply_soft_yes_tok(const struct reply_tok *t)
{
	return reply_in(t->w, reply_soft_yes, NELEM(reply_soft_yes)) && reply_yes_spelled(t);
}

/* Class of a word of a label (labels are written in full: no filler there). */
static enum reply_class reply_label_class(const char *w)
{
	if (reply_is_neg(w))
		return RC_NEG;
	if (reply_is_int(w))
		return RC_INT;
	return RC_WORD;
}

/* A label's signature: its markers and where its content stands, in order
 * (consecutive repeats merged: "rất không hài lòng" is INT NEG CONTENT), and
 * its content words. Label words go through the same pairs ("hoan toan"). */
struct reply_sig {
	enum reply_class m[8];
	int nm;
	char w[12][REPLY_WORD_MAX];
	int nw;
	int overflow;
};

static void sig_mark(struct reply_sig *s, enum reply_class c)
{
	if (s->nm > 0 && s->m[s->nm - 1] == c)
		return;
	if (s->nm >= (int)NELEM(s->m)) {
		s->overflow = 1;
		return;
	}
	s->m[s->nm++] = c;
}

static void sig_word(struct reply_sig *s, const char *w)
{
	sig_mark(s, RC_CONTENT);
	if (s->nw >= (int)NELEM(s->w)) {
		s->overflow = 1;
		return;
	}
	memcpy(s->w[s->nw++], w, REPLY_WORD_MAX);
}

static int reply_pair_at(const char (*w)[REPLY_WORD_MAX], int n, int i, const char *const *pairs,
                         size_t npairs)
{
	if (i + 1 >= n)
		return 0;
	char two[2 * REPLY_WORD_MAX + 1];
	size_t a = strlen(w[i]), b = strlen(w[i + 1]);
	memcpy(two, w[i], a);
	two[a] = ' ';
	memcpy(two + a + 1, w[i + 1], b + 1);
	return reply_in(two, pairs, npairs);
}

static void reply_label_sig(const char *label_fold, struct reply_sig *s)
{
	char w[24][REPLY_WORD_MAX];
	memset(s, 0, sizeof *s);
	int n = reply_split(label_fold ? label_fold : "", w, 24);
	if (n < 0) {
		s->overflow = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		if (reply_pair_at((const char(*)[REPLY_WORD_MAX])w, n, i, reply_int_pairs, NELEM(reply_int_pairs))) {
			sig_mark(s, RC_INT);
			i++;
			continue;
		}
		enum reply_class c = reply_label_class(w[i]);
		if (c == RC_WORD)
			sig_word(s, w[i]);
		else
			sig_mark(s, c);
	}
}

static void reply_vocab_init(struct reply_vocab *v, const struct campaign_question *q)
{
	memset(v, 0, sizeof *v);
	v->q = q;
	v->yes_opt = v->no_opt = -1;
	v->no_int = 1;
	for (int i = 0; i < q->nopts; i++) {
		const char *lf = q->opts[i].label_fold;
		char w[24][REPLY_WORD_MAX];
		int n = reply_split(lf ? lf : "", w, 24);
		for (int k = 0; k < n && v->nwords < (int)NELEM(v->words); k++)
			memcpy(v->words[v->nwords++], w[k], REPLY_WORD_MAX);
		/* initials of two or more content words: "hl" (hài lòng), "bt" (bình thường) */
		struct reply_sig s;
		reply_label_sig(lf, &s);
		for (int k = 0; k < s.nm; k++)
			v->no_int &= s.m[k] != RC_INT && !s.overflow;
		if (!s.overflow && s.nw >= 2 && s.nw < REPLY_WORD_MAX) {
			for (int k = 0; k < s.nw; k++)
				v->initials[i][k] = s.w[k][0];
			v->initials[i][s.nw] = '\0';
		}
		if (q->type == Q_YESNO && lf && strcmp(lf, "co") == 0)
			v->yes_opt = i;
		if (q->type == Q_YESNO && lf && strcmp(lf, "khong") == 0)
			v->no_opt = i;
	}
	/* initials shared by two different word lists say nothing */
	for (int i = 0; i < q->nopts; i++)
		for (int j = i + 1; j < q->nopts; j++)
			if (v->initials[i][0] && strcmp(v->initials[i], v->initials[j]) == 0) {
				struct reply_sig a, b;
				reply_label_sig(q->opts[i].label_fold, &a);
				reply_label_sig(q->opts[j].label_fold, &b);
				int same = a.nw == b.nw;
				for (int k = 0; same && k < a.nw; k++)
					same = strcmp(a.w[k], b.w[k]) == 0;
				if (!same)
					v->initials[i][0] = v->initials[j][0] = '\0';
			}
	if (v->yes_opt < 0 || v->no_opt < 0)
		v->yes_opt = v->no_opt = -1;
}

/* The content words the initials `w` stand for, or NULL. */
static const char *reply_initials(const struct reply_vocab *v, const char *w, int *opt)
{
	for (int i = 0; i < v->q->nopts; i++)
		if (v->initials[i][0] && strcmp(v->initials[i], w) == 0) {
			*opt = i;
			return v->initials[i];
		}
	return NULL;
}

/* A word the segmenter may cut a joined word into. */
static int reply_known(const struct reply_vocab *v, const char *w)
{
	int o;
	return reply_label_word(v, w) || reply_in(w, reply_neg_words, NELEM(reply_neg_words)) ||
	       reply_in(w, reply_int_words, NELEM(reply_int_words)) ||
	       (strlen(w) >= 2 && reply_in(w, reply_fillers, NELEM(reply_fillers))) ||
	       reply_initials(v, w, &o) != NULL;
}

/* Cuts a joined word ("rathailong", "kohl") into the fewest known words.
 * Returns the number of pieces (ends in cut[], each the end offset), or 0. */
/* A piece a joined word may be cut into: a label's word or initials, or a
 * negation or intensity word; never filler ("khanh" is no "kh" + "anh"). */
static int reply_seg_piece(const struct reply_vocab *v, const char *w)
{
	int o;
	return reply_label_word(v, w) || reply_in(w, reply_neg_words, NELEM(reply_neg_words)) ||
	       reply_in(w, reply_int_words, NELEM(reply_int_words)) || reply_initials(v, w, &o) != NULL;
}

static int reply_segment(const struct reply_vocab *v, const char *w, int cut[REPLY_WORD_MAX])
{
	int n = (int)strlen(w);
	int best[REPLY_WORD_MAX + 1], from[REPLY_WORD_MAX + 1];
	if (n < 3 || n >= REPLY_WORD_MAX)
		return 0;
	best[0] = 0;
	for (int e = 1; e <= n; e++) {
		best[e] = 1000;
		for (int s = 0; s < e; s++) {
			if (best[s] >= 1000)
				continue;
			char piece[REPLY_WORD_MAX];
			memcpy(piece, w + s, (size_t)(e - s));
			piece[e - s] = '\0';
			if (reply_seg_piece(v, piece) && best[s] + 1 < best[e]) {
				best[e] = best[s] + 1;
				from[e] = s;
			}
		}
	}
	if (best[n] >= 1000 || best[n] < 2)
		return 0;
	int k = best[n], label = 0;
	for (int e = n, i = k - 1; e > 0; e = from[e], i--) {
		char piece[REPLY_WORD_MAX];
		int o;
		cut[i] = e;
		memcpy(piece, w + from[e], (size_t)(e - from[e]));
		piece[e - from[e]] = '\0';
		label |= reply_label_word(v, piece) || reply_initials(v, piece, &o) != NULL;
	}
	return label ? k : 0; /* only what names a label is cut */
}

/* Pushes a word; `rw` is the word as written when this is all of it (its
 * marks and its lower-case form), NULL for a piece cut from a longer word. */
static int tok_push(struct reply_tok *t, int *n, const char *w, size_t len, const struct reply_word *rw)
{
	if (*n >= REPLY_TOKS || len >= REPLY_WORD_MAX)
		return -1;
	struct reply_tok *k = &t[(*n)++];
	memset(k, 0, sizeof *k);
	memcpy(k->w, w, len);
	k->w[len] = '\0';
	if (rw && rw->lw[0]) {
		memcpy(k->lw, rw->lw, sizeof k->lw);
		k->marked = rw->marked;
		k->dbar = rw->dbar;
	} else {
		memcpy(k->lw, k->w, sizeof k->lw);
	}
	k->key = -1;
	return 0;
}

static int reply_is_digits(const char *w)
{
	return *w && strspn(w, "0123456789") == strlen(w);
}

/* Pushes one word, or the content words of the label whose initials it is
 * ("hl" -> "hai", "long") unless it is a key (`key`) or a label's own word.
 * `rw` (may be NULL) gives the marks of the word as written. */
static int reply_push_word(const struct reply_vocab *v, struct reply_tok *out, int *n, const char *w,
                           size_t len, int key, const struct reply_word *rw)
{
	char x[REPLY_WORD_MAX];
	int o;
	if (len >= sizeof x)
		return -1;
	memcpy(x, w, len);
	x[len] = '\0';
	/* shorthands of label words: "bth", "btg", "bthuong" (bình thường), "thg" */
	static const char *const alias[][3] = {
		{"bth", "binh", "thuong"}, {"btg", "binh", "thuong"}, {"bthuong", "binh", "thuong"},
		{"thg", "thuong", ""}, {"hlong", "hai", "long"},
	};
	for (size_t i = 0; !key && i < NELEM(alias); i++) {
		if (strcmp(x, alias[i][0]) != 0 || !reply_label_word(v, alias[i][1]) ||
		    (alias[i][2][0] && !reply_label_word(v, alias[i][2])))
			continue;
		for (int j = 1; j < 3 && alias[i][j][0]; j++)
			if (tok_push(out, n, alias[i][j], strlen(alias[i][j]), NULL) < 0)
				return -1;
		return 0;
	}
	if (!key && !reply_label_word(v, x) && reply_initials(v, x, &o)) {
		struct reply_sig s;
		reply_label_sig(v->q->opts[o].label_fold, &s);
		for (int j = 0; j < s.nw; j++)
			if (tok_push(out, n, s.w[j], strlen(s.w[j]), NULL) < 0)
				return -1;
		return 0;
	}
	return tok_push(out, n, x, len, rw);
}

/* A word typed with a Vietnamese input method's keys left in it: VNI
 * ("lo2ng", "ra61t": digits 1-9 after the letters they mark) or Telex
 * ("lofng", "raats", "thuwowngf": a tone letter f s r x j after the vowel,
 * w for a horn or breve, a doubled vowel for a circumflex). Vietnamese
 * syllables never hold those letters there, so the word is read without
 * them, into `out`, only when that spells a word of the item's labels or
 * intensity exactly: it is a spelling, not a typo, and never an
 * abbreviation ("kos" is not read as "ko"). Returns 1 when read. */
static int reply_input_method(const struct reply_vocab *v, const char *w, char out[REPLY_WORD_MAX])
{
	size_t len = strlen(w), o = 0;
	if (len < 3 || len >= REPLY_WORD_MAX || reply_key_of(v->q, w) >= 0 || reply_known(v, w))
		return 0;
	size_t first_digit = strcspn(w, "123456789");
	if (first_digit < len) {
		/* VNI: letters, then a digit, then a letter somewhere after it */
		if (first_digit == 0 || w[first_digit + strspn(w + first_digit, "0123456789")] == '\0')
			return 0;
		for (size_t i = 0; i < len; i++) {
			if (w[i] >= '1' && w[i] <= '9')
				continue;
			if (w[i] < 'a' || w[i] > 'z')
				return 0;
			out[o++] = w[i];
		}
	} else {
		if (strspn(w, "abcdefghijklmnopqrstuvwxyz") != len)
			return 0;
		size_t fv = strcspn(w, "aeiouy");
		int tones = 0;
		char tmp[REPLY_WORD_MAX];
		size_t m = 0;
		for (size_t i = 0; i < len; i++) {
			if (i > fv && strchr("fsrxj", w[i]) && !tones) {
				tones++;
				continue;
			}
			if (w[i] == 'w' && i > 0 && strchr("aou", w[i - 1]))
				continue;
			tmp[m++] = w[i];
		}
		tmp[m] = '\0';
		for (size_t i = 0; i < m; i++) {
			if (i > 0 && tmp[i] == tmp[i - 1] && (strchr("aeo", tmp[i]) || (tmp[i] == 'd' && i == 1)))
				continue;
			out[o++] = tmp[i];
		}
	}
	out[o] = '\0';
	if (strcmp(out, w) == 0)
		return 0;
	return reply_label_word(v, out) || reply_is_int(out);
}

/* The reply's words, ready to classify: digits cut from letters ("2hailong"),
 * joined words cut ("rathailong"), initials written out ("hl"). Returns the
 * count, or -1 when they do not fit. */
static int reply_expand(const struct reply_vocab *v, const struct reply_text *t, struct reply_tok *out)
{
	int n = 0;
	for (int i = 0; i < t->nwords; i++) {
		if (i > 0 && n > 0)
			out[n - 1].pause = t->words[i - 1].pause;
		const struct reply_word *rw = &t->words[i];
		const char *w = rw->w;
		char part[3][REPLY_WORD_MAX];
		int np = 0;
		if (!rw->marked && reply_input_method(v, w, part[0])) {
			if (tok_push(out, &n, part[0], strlen(part[0]), NULL) < 0)
				return -1;
			continue;
		}
		/* "2hailong", "so1", "1hl": a run of digits and a run of letters */
		size_t d = strspn(w, "0123456789");
		if (reply_key_of(v->q, w) < 0 && d > 0 && w[d] && strcspn(w + d, "0123456789") == strlen(w + d)) {
			memcpy(part[0], w, d);
			part[0][d] = '\0';
			memcpy(part[1], w + d, strlen(w + d) + 1);
			np = 2;
		} else if (reply_key_of(v->q, w) < 0 && !reply_is_neg(w) && !d && w[strcspn(w, "0123456789")] &&
		           strspn(w + strcspn(w, "0123456789"), "0123456789") == strlen(w + strcspn(w, "0123456789"))) {
			size_t l = strcspn(w, "0123456789");
			memcpy(part[0], w, l);
			part[0][l] = '\0';
			memcpy(part[1], w + l, strlen(w + l) + 1);
			np = 2;
		} else {
			memcpy(part[0], w, REPLY_WORD_MAX);
			np = 1;
		}
		for (int p = 0; p < np; p++) {
			const char *x = part[p];
			int cut[REPLY_WORD_MAX], k = 0;
			if (reply_key_of(v->q, x) < 0 && !reply_known(v, x) && !reply_is_neg(x) &&
			    !reply_is_int(x) && !reply_is_digits(x))
				k = reply_segment(v, x, cut);
			if (k == 0) {
				/* a key keeps its letters ("hl" may be one) */
				int key = reply_key_of(v->q, x) >= 0;
				if (reply_push_word(v, out, &n, x, strlen(x), key, np == 1 ? rw : NULL) < 0)
					return -1;
				continue;
			}
			for (int j = 0, s = 0; j < k; s = cut[j], j++)
				if (reply_push_word(v, out, &n, x + s, (size_t)(cut[j] - s), 0, NULL) < 0)
					return -1;
		}
	}
	return n;
}

/* Classifies the expanded words of a reply to a scale, choice or multi item.
 * Words of the item's labels are never filler. "câu 2" (the item's number
 * echoed back) is filler. A lone "a" ("ạ") or "e" ("em") is filler where it
 * cannot be a key: "ạ" written with its mark, "a" after words of a label,
 * "e" before other words. "0" before words is "không" (zero). */
static void reply_classify(const struct reply_vocab *v, struct reply_tok *t, int n, int yesno)
{
	int words = 0, content = 0;
	for (int i = 0; i < n; i++) {
		const char *w = t[i].w, *lw = t[i].lw;
		/* a word written with marks or đ is no key (keys are plain): "ạ",
		 * "ê", "đ"; "có"/"không" are read as words of their own */
		t[i].key = t[i].marked || t[i].dbar ? -1 : reply_key_of(v->q, w);
		if (reply_label_word(v, w)) {
			enum reply_class c = reply_label_class(w);
			if (c == RC_NEG && !reply_neg_tok(&t[i]))
				c = RC_WORD; /* "hồng" is not "hông" even where a label has "hong" */
			t[i].cls = c;
			words++;
			content |= c == RC_WORD;
			continue;
		}
		if (i + 1 < n && strcmp(w, "cau") == 0 && reply_is_digits(t[i + 1].w)) {
			/* "câu 2: 1": the item's number echoed back; another number is
			 * another item's answer (or a guess): left unread */
			int same = strtol(t[i + 1].w, NULL, 10) == v->q->index + 1 && strlen(t[i + 1].w) <= 2;
			t[i].cls = t[i + 1].cls = same ? RC_FILLER : RC_WORD;
			t[i].key = t[i + 1].key = -1;
			i++;
			words += !same;
			continue;
		}
		char pair[2 * REPLY_WORD_MAX + 1] = "";
		if (i + 1 < n) {
			size_t a = strlen(w);
			memcpy(pair, w, a);
			pair[a] = ' ';
			memcpy(pair + a + 1, t[i + 1].w, strlen(t[i + 1].w) + 1);
		}
		if (pair[0] && reply_in(pair, reply_int_pairs, NELEM(reply_int_pairs))) {
			t[i].cls = t[i + 1].cls = RC_INT;
			t[i].key = t[i + 1].key = -1;
			i++;
			words++;
			continue;
		}
		if (pair[0] && reply_in(pair, reply_filler_pairs, NELEM(reply_filler_pairs))) {
			t[i].cls = t[i + 1].cls = RC_FILLER;
			t[i].key = t[i + 1].key = -1;
			i++;
			continue;
		}
		if (reply_in(lw, reply_question_words, NELEM(reply_question_words)) ||
		    strcmp(lw, "ah") == 0 || strcmp(lw, "ak") == 0) {
			t[i].cls = RC_WORD; /* "à", "ư", "hả", "nhỉ": a question, no answer */
			t[i].key = -1;
			words++;
		} else if (reply_neg_tok(&t[i])) {
			t[i].cls = RC_NEG;
			words++;
		} else if (t[i].key < 0 && reply_int_tok(&t[i], content)) {
			t[i].cls = RC_INT;
			words++;
		} else if (v->no_int && !t[i].marked && strcmp(w, "qua") == 0) {
			t[i].cls = RC_FILLER; /* "qua bưu điện": via (no label is "quá" anything) */
		} else if (t[i].key >= 0) {
			t[i].cls = RC_KEY;
		} else if (!yesno && strcmp(lw, "u") == 0 && i == n - 1 && i > 0) {
			t[i].cls = RC_WORD; /* "hai long u": "ư" (a question) as much as "ừ" */
			t[i].key = -1;
			words++;
		} else if (reply_in(w, reply_fillers, NELEM(reply_fillers)) ||
		           (!yesno && reply_soft_yes_tok(&t[i])) ||
		           (strcmp(w, "r") == 0 && i == n - 1 && n > 1)) {
			t[i].cls = RC_FILLER; /* ... and a closing "r" (rồi) */
		} else {
			t[i].cls = RC_WORD;
			words += !reply_is_digits(w);
			content |= !reply_is_digits(w);
		}
	}
	/* "a" and "e": keys, and also "ạ"/"anh" and "em" in SMS. Written with a
	 * mark: "ạ" is politeness, any other ("à", "ê") a word of its own. Alone,
	 * or right after "chọn"/"số"/"đáp án": the key. Beside other keys only:
	 * a key (so "2 a" names two options). Beside words: the pronoun or the
	 * particle ("a hài lòng", "hai long a", "e chon 3"); among politeness
	 * only ("cảm ơn a", "ok e"): nothing. */
	/* Any other letter key (b, c, d: also "bạn", "chị", "được") among
	 * politeness only is nothing: "ok c", "cảm ơn b"; after "chọn" a key. */
	for (int i = 0; i < n && n > 1; i++) {
		if (t[i].w[1] || t[i].cls != RC_KEY || t[i].w[0] == 'a' || t[i].w[0] == 'e' ||
		    (t[i].w[0] >= '0' && t[i].w[0] <= '9'))
			continue;
		int others = 0;
		for (int j = 0; j < n; j++)
			others += j != i && t[j].cls != RC_FILLER;
		int chosen = i > 0 && (strcmp(t[i - 1].w, "chon") == 0 || strcmp(t[i - 1].w, "so") == 0 ||
		                       strcmp(t[i - 1].w, "an") == 0 || strcmp(t[i - 1].w, "loi") == 0);
		if (!others && !chosen) {
			t[i].cls = RC_FILLER;
			t[i].key = -1;
		}
	}
	for (int i = 0; i < n && n > 1; i++) {
		if (t[i].w[1] || (t[i].w[0] != 'a' && t[i].w[0] != 'e') || t[i].cls == RC_FILLER)
			continue;
		/* beside punctuation it is the legend's letter ("a) Hài lòng",
		 * "Hài lòng (a)"): a key, to agree with the words or not */
		if (!t[i].marked && (t[i].pause || (i > 0 && t[i - 1].pause)))
			continue;
		int particle;
		if (t[i].marked || t[i].dbar) {
			particle = strcmp(t[i].lw, "\xe1\xba\xa1") == 0; /* ạ */
			if (!particle) {
				t[i].cls = RC_WORD;
				t[i].key = -1;
				continue;
			}
		} else if (i == 0 && t[1].cls == RC_FILLER && !reply_is_digits(t[1].w)) {
			particle = 1; /* "e chọn 3", "a thấy hài lòng": the pronoun */
		} else if (i > 0 && t[i - 1].cls == RC_FILLER &&
		           (strcmp(t[i - 1].w, "chon") == 0 || strcmp(t[i - 1].w, "so") == 0 ||
		            strcmp(t[i - 1].w, "an") == 0 || strcmp(t[i - 1].w, "loi") == 0)) {
			particle = 0;
		} else {
			int others = 0, keys = 0;
			for (int j = 0; j < n; j++)
				if (j != i && t[j].cls != RC_FILLER) {
					others++;
					keys += t[j].cls == RC_KEY;
				}
			/* where it is no key of the item it can only be "ạ" or "em" */
			particle = others == 0 || keys < others || reply_key_of(v->q, t[i].w) < 0;
		}
		if (particle) {
			t[i].cls = RC_FILLER;
			t[i].key = -1;
		}
	}
	/* "0 hài lòng": zero is read "không" */
	for (int i = 0; i + 1 < n; i++)
		if (strcmp(t[i].w, "0") == 0 && t[i].key < 0 && words > 0)
			t[i].cls = RC_NEG;
}

/* The fewest letters a label's content words must have for a typo in them to be read. */
#define REPLY_TYPO_LETTERS 5

/* How well the reply's content words match a label's: 0 exactly, 1 within
 * typos (one per word of 3+ letters, one per 6 letters in all), -1 not. */
static int reply_words_match(char (*rw)[REPLY_WORD_MAX], int nr, const struct reply_sig *ls)
{
	if (nr == ls->nw) {
		int exact = 1, total = 0, len = 0;
		for (int i = 0; i < nr; i++) {
			len += (int)strlen(ls->w[i]);
			if (strcmp(rw[i], ls->w[i]) == 0)
				continue;
			exact = 0;
			if (strlen(rw[i]) < 3 || strlen(ls->w[i]) < 3 || reply_is_digits(rw[i]))
				return -1;
			int d = reply_distance(rw[i], ls->w[i], 1);
			if (d > 1)
				return -1;
			total += d;
		}
		if (exact)
			return 0;
		/* a label of fewer than 5 letters takes no typo: one letter
		 * off "vua" (Vừa) is "vui" (glad), off "tot" (Tốt) "tat", "tet" */
		if (len < REPLY_TYPO_LETTERS)
			return -1;
		int cap = len / 6 < 1 ? 1 : len / 6;
		return total <= cap ? 1 : -1;
	}
	/* a word split or joined by a typo ("hailon"): the words joined, when
	 * every word of the reply is 3+ letters (a stray short word is never absorbed) */
	char a[256] = "", b[256] = "";
	size_t la = 0, lb = 0;
	for (int i = 0; i < nr; i++) {
		size_t l = strlen(rw[i]);
		if (l < 3 || reply_is_digits(rw[i]) || la + l >= sizeof a)
			return -1;
		memcpy(a + la, rw[i], l + 1);
		la += l;
	}
	for (int i = 0; i < ls->nw; i++) {
		size_t l = strlen(ls->w[i]);
		if (lb + l >= sizeof b)
			return -1;
		memcpy(b + lb, ls->w[i], l + 1);
		lb += l;
	}
	if (la < 5 || nr == 0 || lb < REPLY_TYPO_LETTERS)
		return -1;
	int cap = (int)lb / 6 < 1 ? 1 : (int)lb / 6;
	return reply_distance(a, b, cap) <= cap ? 1 : -1;
}

/* The option whose label the reply's markers and content words name: markers
 * (negation, intensity, in order) must be the label's exactly; only content
 * words may carry typos, so a typo never crosses a polarity. -1: none, -2:
 * more than one. */
static int reply_label_vote(const struct campaign_question *q, const enum reply_class *m, int nm,
                            char (*w)[REPLY_WORD_MAX], int nw)
{
	int best = -1, bestq = 2, ties = 0;
	for (int i = 0; i < q->nopts; i++) {
		struct reply_sig s;
		reply_label_sig(q->opts[i].label_fold, &s);
		if (s.overflow || s.nm != nm || memcmp(s.m, m, sizeof *m * (size_t)nm) != 0)
			continue;
		if (nw == 0 && s.nw == 0) {
			if (best >= 0 && bestq == 0)
				ties++;
			else {
				best = i;
				bestq = 0;
				ties = 0;
			}
			continue;
		}
		if (nw == 0 || s.nw == 0)
			continue;
		int qm = reply_words_match(w, nw, &s);
		if (qm < 0)
			continue;
		if (qm < bestq) {
			best = i;
			bestq = qm;
			ties = 0;
		} else if (qm == bestq && best != i) {
			ties++;
		}
	}
	if (best < 0)
		return -1;
	return ties ? -2 : best;
}

/* Reads a reply to a scale or choice item: every key written and the label
 * named by the rest must agree on one option. */
static int reply_read_single(const struct reply_vocab *v, struct reply_tok *t, int n)
{
	const struct campaign_question *q = v->q;
	enum reply_class m[16];
	int nm = 0, nw = 0, vote = -1, negated = 0;
	char w[24][REPLY_WORD_MAX];
	for (int i = 0; i < n; i++) {
		switch (t[i].cls) {
		case RC_FILLER:
			break;
		case RC_KEY:
			if (vote >= 0)
				return -1; /* two keys: "1 2", or "1 1 1" meant for several items */
			vote = t[i].key;
			break;
		case RC_NEG:
		case RC_INT:
			/* "Không, hài lòng": a negation cut off by punctuation
			 * from the words after it says nothing sure */
			if (t[i].cls == RC_NEG && t[i].pause && i + 1 < n) {
				/* ... unless it opens the reply and the words after
				 * it say the negation again: "Không, không hài lòng" */
				int j = i + 1;
				while (j < n && (t[j].cls == RC_FILLER || t[j].cls == RC_INT))
					j++;
				if (nm == 0 && nw == 0 && vote < 0 && t[i].pause == ',' && j < n && t[j].cls == RC_NEG)
					break;
				return -1;
			}
			/* where no label holds intensity it tells no option from
			 * another ("rất tốt" is Tốt); after a negation it still
			 * makes the reply unsure ("không tốt lắm", not very good) */
			if (t[i].cls == RC_INT && v->no_int && !negated)
				break;
			negated |= t[i].cls == RC_NEG;
			if (nm > 0 && m[nm - 1] == t[i].cls)
				break;
			if (nm >= (int)NELEM(m))
				return -1;
			m[nm++] = t[i].cls;
			break;
		case RC_WORD:
			if (reply_is_digits(t[i].w) || nw >= (int)NELEM(w))
				return -1; /* a number that is no key: "6", "12" */
			memcpy(w[nw++], t[i].w, REPLY_WORD_MAX);
			if (nm > 0 && m[nm - 1] == RC_CONTENT)
				break;
			if (nm >= (int)NELEM(m))
				return -1;
			m[nm++] = RC_CONTENT;
			break;
		case RC_CONTENT:
			break;
		}
	}
	if (nm == 0 && nw == 0)
		return vote;
	/* "hài lòng lắm" is "rất hài lòng"; "không hài lòng lắm" (not very
	 * satisfied) and a trailing "không" (a question) match no label */
	int neg = 0;
	for (int i = 0; i < nm; i++)
		neg |= m[i] == RC_NEG;
	if (!neg && nm >= 2 && m[nm - 1] == RC_INT && m[nm - 2] == RC_CONTENT) {
		nm--;
		if (m[0] != RC_INT) {
			memmove(m + 1, m, sizeof *m * (size_t)nm);
			m[0] = RC_INT;
			nm++;
		}
	}
	int lab = reply_label_vote(q, m, nm, w, nw);
	if (lab < 0)
		return -1;
	if (vote >= 0 && vote != lab)
		return -1; /* "1 hài lòng": the number and the words disagree */
	return lab;
}

/* 1 when option `opt`'s label holds a negation ("Không hài lòng"). */
static int reply_label_negated(const struct campaign_question *q, int opt)
{
	struct reply_sig s;
	reply_label_sig(q->opts[opt].label_fold, &s);
	for (int k = 0; k < s.nm; k++)
		if (s.m[k] == RC_NEG)
			return 1;
	return 0;
}

/* The side option `opt` takes: +1 satisfied, -1 the other way, 0 none. On
 * a scale that names its satisfied values, those are +1 and as many at the
 * bottom -1 (likert5 with satisfied [5, 4]: 1 and 2); elsewhere a negated
 * label is -1 ("Không hài lòng") and the same words without the negation
 * +1 ("Hài lòng", "Rất hài lòng"); other options take no side ("Bình
 * thường", "Vừa"). */
static int reply_side(const struct campaign_question *q, int opt)
{
	const struct campaign_scale *sc = q->type == Q_SCALE ? q->scale : NULL;
	if (sc && sc->nsatisfied > 0) {
		int v = q->opts[opt].value, below = 0;
		for (int i = 0; i < sc->nsatisfied; i++)
			if (sc->satisfied[i] == v)
				return 1;
		for (int i = 0; i < q->nopts; i++)
			below += q->opts[i].value < v;
		return below < sc->nsatisfied ? -1 : 0;
	}
	if (reply_label_negated(q, opt))
		return -1;
	struct reply_sig mine;
	reply_label_sig(q->opts[opt].label_fold, &mine);
	for (int i = 0; i < q->nopts; i++) {
		struct reply_sig other;
		if (i == opt || !reply_label_negated(q, i))
			continue;
		reply_label_sig(q->opts[i].label_fold, &other);
		int same = other.nw == mine.nw && mine.nw > 0;
		for (int k = 0; same && k < mine.nw; k++)
			same = strcmp(other.w[k], mine.w[k]) == 0;
		if (same)
			return 1;
	}
	return 0;
}

int reply_option_side(const struct campaign_question *q, int opt)
{
	return opt >= 0 && opt < q->nopts ? reply_side(q, opt) : 0;
}

/* An emoji or emoticon that says the other way round from the option read
 * ("hài lòng 👎", "Rất hài lòng 😡", "ko hài lòng 👍", "tốt 👎"): sarcasm,
 * or a slip; unread. An option without a side takes any ("bình thường
 * 😑"); a smile or a grin is no verdict ("ko :D"). */
static int reply_mood_fits(const struct campaign_question *q, const struct reply_text *t, int opt)
{
	if (!t->mood || (q->type != Q_SCALE && q->type != Q_CHOICE))
		return 1;
	int side = reply_side(q, opt);
	return !((side > 0 && (t->mood & REPLY_MOOD_DOWN)) || (side < 0 && (t->mood & REPLY_MOOD_UP)));
}

/* Words that open a reason ("vì chờ lâu"), and words that turn or question
 * what came before ("nhưng", "hay", "hoặc", "nếu"): see reply_read_clause. */
static const char *const reply_reason_words[] = {"vi", "do", "boi", "tai", "voi", "ve", "because"};
/* ... written with their marks (unmarked they count too; "dở", bad, is no "do") */
static const char *const reply_reason_marked[] = {
	"v\xc3\xac", "b\xe1\xbb\x9fi", "t\xe1\xba\xa1i", "v\xe1\xbb\x9bi", "v\xe1\xbb\x81",
}; /* vì bởi tại với về */
static const char *const reply_turn_words[] = {"nhung", "tuy", "ma", "song", "hay", "hoac", "neu", "or", "but",
                                               "con", "chu", "rieng", "tru", "thi", "sao", "ai", "dau"};

/* Words that judge, in a reason: good and bad, folded and as written with
 * their marks. A word written with marks must be that word ("chăm", keen,
 * is no "chậm"); unmarked, only the words whose plain spelling is seldom
 * another word count ("phuc" is "phục vụ" as often as "phức tạp"). */
static const struct {
	const char *plain, *marked;
	signed char judge;     /* +1 good, -1 bad */
	unsigned char unmarked; /* read when written without marks */
} reply_judge_words[] = {
	{"nhanh", "nhanh", 1, 1}, {"tot", "t\xe1\xbb\x91t", 1, 1}, {"nhiet", "nhi\xe1\xbb\x87t", 1, 1},
	{"vui", "vui", 1, 1}, {"gon", "g\xe1\xbb\x8dn", 1, 1}, {"tuyet", "tuy\xe1\xbb\x87t", 1, 1},
	{"tan", "t\xe1\xba\xadn", 1, 0}, {"cham", "ch\xe1\xba\xadm", -1, 1}, {"lau", "l\xc3\xa2u", -1, 1},
	{"kem", "k\xc3\xa9m", -1, 1}, {"ruom", "r\xc6\xb0\xe1\xbb\x9dm", -1, 1},
	{"phien", "phi\xe1\xbb\x81n", -1, 1}, {"thieu", "thi\xe1\xba\xbfu", -1, 1},
	{"xau", "x\xe1\xba\xa5u", -1, 1}, {"met", "m\xe1\xbb\x87t", -1, 1}, {"te", "t\xe1\xbb\x87", -1, 0},
	{"kho", "kh\xc3\xb3", -1, 0}, {"phuc", "ph\xe1\xbb\xa9\x63", -1, 0}, {"cau", "c\xc3\xa1u", -1, 0},
}; /* nhanh tốt nhiệt(tình) vui gọn tuyệt tận(tình); chậm lâu kém rườm(rà) phiền
    * thiếu xấu mệt tệ khó phức(tạp) cáu */

/* +1 when the word judges well, -1 badly, else 0. */
static int reply_judge(const struct reply_tok *t)
{
	for (size_t i = 0; i < NELEM(reply_judge_words); i++) {
		if (strcmp(t->w, reply_judge_words[i].plain) != 0)
			continue;
		if (t->marked || t->dbar)
			return strcmp(t->lw, reply_judge_words[i].marked) == 0 ? reply_judge_words[i].judge : 0;
		return reply_judge_words[i].unmarked ? reply_judge_words[i].judge : 0;
	}
	return 0;
}

/* reply_judge of t, the first of the n words left: "tận" praises only in
 * "tận tình", "tận tâm" (caring); "chờ tận ba tiếng" (as long as three
 * hours) is no praise. */
static int reply_judge_at(const struct reply_tok *t, int n)
{
	if (strcmp(t->w, "tan") == 0 && (n < 2 || (strcmp(t[1].w, "tinh") != 0 && strcmp(t[1].w, "tam") != 0)))
		return 0;
	return reply_judge(t);
}

/* A talkative reply: an answer, then a reason or a remark ("Không hài lòng vì
 * phải chờ lâu", "Hài lòng, cán bộ nhiệt tình"). The first clause (up to a
 * reason word, or up to the first punctuation) must read as one option on its
 * own. After a reason word anything may follow but a turn ("nhưng"...); after
 * punctuation only plain words: no negation, intensity, key or label word, so
 * "hài lòng, không" (a question) or "hài lòng, 2" stay unread. */
static int reply_read_clause(const struct reply_vocab *v, struct reply_tok *t, int n)
{
	int cut = -1, reason = 0, content = 0;
	for (int i = 1; i < n && cut < 0; i++) {
		if (reply_in(t[i].w, reply_reason_words, NELEM(reply_reason_words)) && !reply_label_word(v, t[i].w) &&
		    (!t[i].marked || reply_in(t[i].lw, reply_reason_marked, NELEM(reply_reason_marked)))) {
			cut = i;
			reason = 1;
		}
	}
	if (cut < 1 || cut >= n)
		return -1;
	/* the first clause names its option with words: a bare key followed by
	 * a remark ("5 vì rất hài lòng", "1, chờ lâu") is as likely a score the
	 * other way round (5 stars) as the key: unread */
	for (int i = 0; i < cut; i++)
		content |= t[i].cls == RC_WORD && reply_label_word(v, t[i].w);
	if (!content)
		return -1;
	for (int i = cut; i < n; i++) {
		if (reply_in(t[i].w, reply_turn_words, NELEM(reply_turn_words)) || t[i].pause == '?' ||
		    t[i].key >= 0 || reply_is_digits(t[i].w) ||
		    (reply_label_word(v, t[i].w) && t[i].cls == RC_WORD))
			return -1;
		if (!reason && (t[i].cls == RC_NEG || t[i].cls == RC_INT))
			return -1;
	}
	t[cut - 1].pause = 0; /* the clause read alone ends there */
	int lab = reply_read_single(v, t, cut);
	/* after a reason word, words that judge the other way contradict the
	 * answer: after "về"/"với" (about, with: what the answer is about) they
	 * judge something else ("Hài lòng về cán bộ thủ tục chậm", "Không hài
	 * lòng về thủ tục cán bộ tốt"), after "vì" (because) the answer is
	 * sarcasm or a slip ("Rất hài lòng vì phải chờ lâu"): unread either way;
	 * a negation turns the words after it ("vì không phải chờ lâu") */
	int side = lab >= 0 ? reply_side(v->q, lab) : 0;
	for (int i = cut, flip = 0; side && reason && i < n; i++) {
		flip ^= t[i].cls == RC_NEG;
		int pol = reply_judge_at(&t[i], n - i);
		if (pol && (flip ? -pol : pol) != side)
			return -1;
		if (t[i].pause)
			flip = 0;
	}
	/* a second remark past a pause may judge something else the other way
	 * ("Hài lòng về cán bộ, thủ tục phải đi lại nhiều"): read only a remark
	 * that judges the same way ("Rất hài lòng vì cán bộ nhiệt tình, thủ tục
	 * nhanh"), or that says "not" again after a negated answer ("Không hài
	 * lòng vì chờ lâu, cán bộ không nhiệt tình") */
	int negated = lab >= 0 && reply_label_negated(v->q, lab);
	for (int i = cut; lab >= 0 && i + 1 < n; i++) {
		if (!t[i].pause)
			continue;
		int again = 0, words = 0, agree = 0, disagree = 0; /* in the remark after this pause */
		for (int k = i + 1, flip = 0; k < n; k++) {
			again |= t[k].cls == RC_NEG;
			flip ^= t[k].cls == RC_NEG;
			words += t[k].cls != RC_FILLER;
			int pol = reply_judge_at(&t[k], n - k) * (flip ? -1 : 1);
			agree |= pol && pol == side;
			disagree |= pol && pol != side;
			if (t[k].pause)
				break;
		}
		/* (politeness alone, "..., cảm ơn", is no remark; a judgement
		 * that agrees is one more reason) */
		if (disagree || (words && !agree && (!negated || !again)))
			return -1;
	}
	return lab;
}

/* One word as written ("nhầm"), or its plain spelling ("nham"). */
static int reply_tok_is(const struct reply_tok *t, const char *plain, const char *marked)
{
	return strcmp(t->lw, marked) == 0 || (!t->marked && !t->dbar && strcmp(t->w, plain) == 0);
}

/* A key, then a correction of it: "2 nhầm 3", "2, à nhầm 3" (oops, 3), "3
 * chứ không phải 2" (3, not 2), "không phải 2 mà là 3" (not 2 but 3). Only
 * keys, only these shapes, and the two keys must differ; the option kept is
 * returned, else -1. */
static int reply_read_correction(struct reply_tok *t, int n)
{
	static const char *const oops[] = {"\xc3\xa0", "\xc3\xa1", "\xc6\xa1", "\xe1\xbb\x9d", "\xe1\xbb\x93",
	                                   "a", "ah", "oh", "\xc3\xb4i"}; /* à á ơ ờ ồ a ah oh ôi */
	const struct reply_tok *w[6];
	int m = 0;
	for (int i = 0; i < n; i++)
		if (t[i].cls != RC_FILLER) {
			if (m >= (int)NELEM(w))
				return -1;
			w[m++] = &t[i];
		}
	if (m < 3 || w[m - 1]->cls != RC_KEY)
		return -1;
	const struct reply_tok *last = w[m - 1];
	/* "2 nhầm 3", "2, à nhầm 3" */
	if (w[0]->cls == RC_KEY && w[0]->key != last->key && reply_tok_is(w[m - 2], "nham", "nh\xe1\xba\xa7m") &&
	    (m == 3 || (m == 4 && reply_in(w[1]->lw, oops, NELEM(oops)))))
		return last->key;
	if (m != 5)
		return -1;
	/* "3 chứ không phải 2" */
	if (w[0]->cls == RC_KEY && w[0]->key != last->key && reply_tok_is(w[1], "chu", "ch\xe1\xbb\xa9") &&
	    w[2]->cls == RC_NEG && reply_tok_is(w[3], "phai", "ph\xe1\xba\xa3i"))
		return w[0]->key;
	/* "không phải 2 mà là 3" ("là" is filler) */
	if (w[0]->cls == RC_NEG && reply_tok_is(w[1], "phai", "ph\xe1\xba\xa3i") && w[2]->cls == RC_KEY &&
	    w[2]->key != last->key && reply_tok_is(w[3], "ma", "m\xc3\xa0"))
		return last->key;
	return -1;
}

/* Yes/no items with the usual Có/Không labels: a negation, or a "no" word,
 * says no; a "yes" word (có, ok, vâng, đúng) says yes; a negation before one
 * "yes" word ("không có", "không đúng") says no. Anything else is unread. */
/* Where the word `w` (2+ letters, no key) stands among the words of `text`
 * (folded, or lower case with marks: text_fold or text_lower of the item's
 * text), at `after` + 1 when `after` >= 0 (the next word of a phrase), else
 * anywhere: its index, or -1. */
static int reply_echo_word(const struct campaign_question *q, const char *text, const char *w, int after)
{
	size_t len = strlen(w);
	if (!text || len < 2 || reply_is_digits(w) || reply_key_of(q, w) >= 0)
		return -1;
	int k = 0;
	for (const char *p = text + strspn(text, " ,"); *p; k++) {
		size_t l = strcspn(p, " ,");
		if (l == len && memcmp(p, w, len) == 0 && (after < 0 || k == after + 1))
			return k;
		p += l;
		p += strspn(p, " ,");
	}
	return -1;
}

/* Words of an item after which its words are no phrase of what it asks
 * (lower case, with their marks: folded, "cho" would also be "chờ"):
 * prepositions and "khi" (when); see reply_read_yesno. */
static const char *const reply_echo_after[] = {
	"ngo\xc3\xa0i", "theo", "trong", "c\xe1\xbb\xa7\x61", "cho", "v\xe1\xbb\x81", "v\xe1\xbb\x9bi",
	"khi", "sau", "tr\xc6\xb0\xe1\xbb\x9b\x63", "t\xe1\xba\xa1i", "\xe1\xbb\x9f", "b\xe1\xba\xb1ng",
	"t\xe1\xbb\xab", "\xc4\x91\xe1\xba\xbfn", "nh\xc6\xb0", "h\xc6\xa1n",
}; /* ngoài theo trong của cho về với khi sau trước tại ở bằng từ đến như hơn */

/* The index of the word `k` of `text` (as reply_echo_word counts them)
 * copied into out; 0, or -1 when there is none. */
static int reply_item_word(const char *text, int k, char *out, size_t cap)
{
	int i = 0;
	for (const char *p = text + strspn(text, " ,"); *p; i++) {
		size_t l = strcspn(p, " ,");
		if (i == k) {
			if (l >= cap)
				return -1;
			memcpy(out, p, l);
			out[l] = '\0';
			return 0;
		}
		p += l;
		p += strspn(p, " ,");
	}
	return -1;
}

/* Where the item's own words begin in its folded text: past a label ending
 * with ':' ("Câu {n}/{total}: Hồ sơ ..."), else 0. Its first word there is
 * the item's subject ("hồ sơ"), not what it asks. */
static int reply_item_start(const char *text)
{
	const char *colon = text ? strchr(text, ':') : NULL;
	if (!colon)
		return 0;
	char label[128];
	size_t len = (size_t)(colon - text);
	if (len >= sizeof label)
		return 0;
	memcpy(label, text, len);
	label[len] = '\0';
	char *f = text_fold(label);
	int k = 0;
	for (const char *p = f ? f + strspn(f, " ,") : ""; *p; k++) {
		p += strcspn(p, " ,");
		p += strspn(p, " ,");
	}
	free(f);
	return k;
}

static int reply_read_yesno(const struct reply_vocab *v, struct reply_tok *t, int n)
{
	int neg = 0, no = 0, yes = 0, neg_first = 0, vote = -1, echo = 0, echo_plain = 0, at = -1, said = -1;
	int first_at = -1, first_i = -1; /* the echo's first word: in the item, in the reply */
	/* the item's own words said back after the answer ("Đúng hạn" to "...
	 * đúng hạn?", "Không phải chờ" to "... phải chờ lâu không?") are
	 * filler, where no pause cuts the reply ("Không, chờ lâu" stays unread)
	 * and nothing answers after them ("đúng hạn không" asks); they are one
	 * phrase of the item, in its order ("được giải quyết", not "hạn
	 * giải", nor "hồ sơ ... hạn"). A word with
	 * marks must be the item's as written ("không hẳn", not quite, is no
	 * "không hạn"); unmarked ones only as two words or more ("khong dung
	 * han"), "khong han" being either */
	int echo_ok = 1;
	for (int i = 0; i + 1 < n; i++)
		echo_ok &= !t[i].pause;
	char *qfold = NULL, *qlower = NULL; /* made when a word may be an echo */
	for (int i = 0; i < n; i++) {
		const char *w = t[i].w;
		if (reply_in(t[i].lw, reply_question_words, NELEM(reply_question_words)) ||
		    strcmp(t[i].lw, "ah") == 0 || strcmp(t[i].lw, "ak") == 0)
			goto unread;
		/* "không có chi" (you are welcome): "chi" is no "chị" there */
		if (i > 0 && strcmp(w, "chi") == 0 && strcmp(t[i - 1].w, "co") == 0)
			goto unread;
		if (reply_neg_tok(&t[i])) {
			if (echo || echo_plain)
				goto unread;
			if (!neg && !yes)
				neg_first = 1;
			neg = 1;
			if (t[i].pause && i + 1 < n)
				neg_first = 0; /* "không, có": not "không có" */
		} else if (reply_in(w, reply_no_words, NELEM(reply_no_words)) && !t[i].marked && !t[i].dbar) {
			if (echo || echo_plain)
				goto unread;
			no++; /* "nó" (it, him) is no "no" */
		} else if ((reply_in(w, reply_yes_words, NELEM(reply_yes_words)) && reply_yes_spelled(&t[i])) ||
		           (strcmp(w, "dung") == 0 && t[i].dbar)) {
			if (echo || echo_plain)
				goto unread;
			yes++;
		} else if (t[i].key >= 0 && t[i].cls != RC_FILLER) {
			if ((vote >= 0 && vote != t[i].key) || echo || echo_plain)
				goto unread;
			vote = t[i].key;
		} else if (t[i].cls != RC_FILLER) {
			int marked = t[i].marked || t[i].dbar;
			/* one phrase of the item, its words in its order */
			if (!(neg || no || yes) || !echo_ok || !v->q->text)
				goto unread;
			if (!qfold && ((qfold = text_fold(v->q->text)) == NULL || (qlower = text_lower(v->q->text)) == NULL))
				goto unread; /* (out of memory: unread rather than guessed) */
			at = reply_echo_word(v->q, marked ? qlower : qfold, marked ? t[i].lw : w, at);
			if (at < 0)
				goto unread;
			if (first_i < 0) {
				first_at = at;
				first_i = i;
			}
			echo += marked;
			echo_plain += !marked;
		}
	}
	/* the echo is no answer where it names the item's subject ("Không
	 * có hồ sơ" to "Hồ sơ được giải quyết đúng hạn?": no file at all, no
	 * "not on time"), where one word of it makes a phrase with "có" that
	 * the item does not ("có hạn", limited; "có lần", once), or beside a
	 * number ("Có 1 lần": a count, not the key 1) */
	if (first_i >= 0) {
		char before[REPLY_WORD_MAX] = "";
		int odd = vote >= 0 || first_at == reply_item_start(v->q->text);
		if (first_at > 0 && reply_item_word(qfold, first_at - 1, before, sizeof before) < 0)
			before[0] = '\0';
		if (!odd && echo + echo_plain == 1 && first_i > 0 && strcmp(t[first_i - 1].w, "co") == 0 &&
		    strcmp(before, "co") != 0)
			odd = 1;
		if (first_at > 0 && reply_item_word(qlower, first_at - 1, before, sizeof before) < 0)
			before[0] = '\0';
		/* nor where it opens inside a phrase of the item's that a word
		 * such as "ngoài" (outside), "theo" (by) or "khi" (when) begins:
		 * "Có quy định" to "... nộp thêm khoản phí nào ngoài quy định
		 * không?" says the fee is in the rules, not "yes, I paid one" */
		if (!odd && reply_in(before, reply_echo_after, NELEM(reply_echo_after)))
			odd = 1;
		if (odd)
			goto unread;
	}
	free(qfold);
	free(qlower);
	qfold = qlower = NULL;
	if (echo_plain == 1 && !echo)
		return -1;
	/* "c"/"y" beside politeness only: "C cảm ơn" is "chị cảm ơn" (thanks) */
	for (int i = 0; i < n && n > 1; i++)
		if ((strcmp(t[i].w, "c") == 0 || strcmp(t[i].w, "y") == 0) && !t[i].marked) {
			int others = 0;
			for (int j = 0; j < n; j++)
				others += j != i && t[j].cls != RC_FILLER;
			if (!others)
				return -1;
		}
	/* "Không, cảm ơn", "no thanks": the survey declined, not an answer */
	for (int i = 0; i < n && (neg || no); i++)
		if (strcmp(t[i].w, "thanks") == 0 || strcmp(t[i].w, "tks") == 0 || strcmp(t[i].w, "thank") == 0 ||
		    (i + 1 < n && strcmp(t[i].w, "cam") == 0 && strcmp(t[i + 1].w, "on") == 0))
			return -1;
	if ((neg || no) && !yes && !(neg && no))
		said = v->no_opt;
	else if (yes == 1 && neg && neg_first && !no)
		said = v->no_opt;
	else if (yes && !neg && !no)
		said = v->yes_opt;
	else if (neg || no || yes)
		return -1;
	if (said < 0)
		return vote;
	if (vote >= 0 && vote != said)
		return -1;
	return said;
unread:
	free(qfold);
	free(qlower);
	return -1;
}

static void reply_add_value(struct reply *r, int v)
{
	for (int i = 0; i < r->nvalues; i++)
		if (r->values[i] == v)
			return;
	int i = r->nvalues++;
	while (i > 0 && r->values[i - 1] > v) {
		r->values[i] = r->values[i - 1];
		i--;
	}
	r->values[i] = v;
}

/* multi: keys and labels in any order ("1 3", "13", "thái độ cán bộ và 1"):
 * the words are covered left to right by labels (the longest first, markers
 * exact, content words within typos) and keys; a word that fits nothing
 * makes the reply unread. */
static int reply_read_multi(const struct reply_vocab *v, struct reply_tok *t, int n, struct reply *r)
{
	const struct campaign_question *q = v->q;
	int i = 0;
	while (i < n) {
		if (t[i].cls == RC_FILLER || strcmp(t[i].w, "va") == 0 || strcmp(t[i].w, "voi") == 0) {
			i++;
			continue;
		}
		int best = -1, bestlen = 0, ambiguous = 0;
		for (int o = 0; o < q->nopts; o++) {
			struct reply_sig s;
			char lw[24][REPLY_WORD_MAX];
			int ln = reply_split(q->opts[o].label_fold ? q->opts[o].label_fold : "", lw, 24);
			reply_label_sig(q->opts[o].label_fold, &s);
			if (ln <= 0 || i + ln > n || s.overflow)
				continue;
			/* the same words, markers written as markers, content within typos */
			int ok = 1, nw = 0;
			char w[24][REPLY_WORD_MAX];
			enum reply_class m[16];
			int nm = 0;
			for (int k = 0; k < ln && ok; k++) {
				enum reply_class lc = reply_label_class(lw[k]);
				enum reply_class rc = t[i + k].cls == RC_NEG || t[i + k].cls == RC_INT ? t[i + k].cls : RC_WORD;
				if (lc != rc)
					ok = 0;
				if (rc == RC_WORD)
					memcpy(w[nw++], t[i + k].w, REPLY_WORD_MAX);
				enum reply_class mc = rc == RC_WORD ? RC_CONTENT : rc;
				if (ok && !(nm > 0 && m[nm - 1] == mc))
					m[nm++] = mc;
			}
			if (!ok || nm != s.nm || memcmp(m, s.m, sizeof *m * (size_t)nm) != 0)
				continue;
			if (nw > 0 && reply_words_match(w, nw, &s) < 0)
				continue;
			if (ln > bestlen) {
				best = o;
				bestlen = ln;
				ambiguous = 0;
			} else if (ln == bestlen && best != o) {
				ambiguous = 1;
			}
		}
		if (best >= 0) {
			if (ambiguous)
				return -1;
			reply_add_value(r, q->opts[best].value);
			i += bestlen;
			continue;
		}
		if (t[i].key >= 0) {
			reply_add_value(r, q->opts[t[i].key].value);
			i++;
			continue;
		}
		/* a run of single-character keys written together: "13" */
		for (const char *c = t[i].w; *c; c++) {
			char one[2] = {*c, '\0'};
			int j = reply_key_of(q, one);
			if (j < 0)
				return -1;
			reply_add_value(r, q->opts[j].value);
		}
		i++;
	}
	return r->nvalues > 0 ? 0 : -1;
}

/* The option whose key or label equals the whole folded reply, or -1. */
static int reply_match_exact(const struct campaign_question *q, const char *f)
{
	for (int i = 0; i < q->nopts; i++) {
		const struct campaign_option *o = &q->opts[i];
		for (int k = 0; k < o->nkeys; k++)
			if (strcmp(o->keys[k], f) == 0)
				return i;
		if (o->label_fold && strcmp(o->label_fold, f) == 0)
			return i;
	}
	return -1;
}

static char *reply_trim_dup(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* An option item: the whole reply as a key or label first, then word by word. */
static void reply_read_options(const struct campaign_question *q, const struct reply_text *t,
                               struct reply *out)
{
	/* a question ("Hài lòng?", "hài lòng à?") or a rating in stars or x/y
	 * ("5*": five stars is the best, key 5 the worst) answers nothing */
	if (t->question || (t->rating && !(q->type == Q_MULTI && t->rating == 2)) || t->nwords <= 0)
		return;
	struct reply_vocab v;
	reply_vocab_init(&v, q);
	int yesno = v.yes_opt >= 0;
	/* the whole reply as a key or label, unless punctuation cuts it
	 * ("Không, hài lòng" is not the label "Không hài lòng"), a word is
	 * written with marks where a key is meant ("ạ" is no "a"), or it is a
	 * yes/no item (its own reader tells "có" from "cô") */
	int cut = 0, marked = 0;
	for (int k = 0; k < t->nwords; k++) {
		cut |= k + 1 < t->nwords && t->words[k].pause;
		marked |= t->words[k].marked || t->words[k].dbar;
	}
	int i = cut || yesno ? -1 : reply_match_exact(q, t->fold);
	if (i >= 0 && marked && reply_key_of(q, t->fold) >= 0)
		i = -1;
	if (i >= 0 && q->type != Q_MULTI) {
		if (!reply_mood_fits(q, t, i))
			return;
		reply_add_value(out, q->opts[i].value);
		out->kind = REPLY_ANSWER;
		return;
	}
	struct reply_tok tok[REPLY_TOKS];
	int n = reply_expand(&v, t, tok);
	if (n <= 0)
		return;
	reply_classify(&v, tok, n, yesno);
	if (q->type == Q_MULTI) {
		if (i >= 0) {
			reply_add_value(out, q->opts[i].value);
		} else if (reply_read_multi(&v, tok, n, out) < 0) {
			out->nvalues = 0;
			return;
		}
		out->kind = REPLY_ANSWER;
		return;
	}
	i = yesno ? reply_read_yesno(&v, tok, n) : reply_read_single(&v, tok, n);
	if (i < 0 && !yesno)
		i = reply_read_clause(&v, tok, n);
	if (i < 0)
		i = reply_read_correction(tok, n);
	if (i >= 0 && reply_mood_fits(q, t, i)) {
		reply_add_value(out, q->opts[i].value);
		out->kind = REPLY_ANSWER;
	}
}

int reply_read(const struct campaign_question *q, const struct reply_text *t, struct reply *out)
{
	memset(out, 0, sizeof *out);
	out->kind = REPLY_INVALID;
	if (!t->fold)
		return 0; /* not UTF-8: not understood */
	enum reply_kind kw = reply_keyword_of(t);
	if (kw != REPLY_ANSWER) {
		out->kind = kw;
		return 0;
	}
	/* a comment may be an emoji alone ("👍"): it says something */
	if (t->fold[0] == '\0' && (q->type != Q_TEXT || !t->nfc || !text_has_symbol(t->nfc)))
		return 0;
	if (q->type == Q_TEXT) {
		if (q->optional && reply_is_skip(t->fold)) {
			out->kind = REPLY_SKIP;
			return 0;
		}
		out->text = reply_trim_dup(t->nfc);
		if (!out->text)
			return -ENOMEM;
		out->kind = REPLY_ANSWER;
		return 0;
	}
	reply_read_options(q, t, out);
	if (out->kind == REPLY_INVALID && q->optional &&
	    reply_is_skip(t->fold))
		out->kind = REPLY_SKIP;
	return 0;
}

int reply_parse(const struct campaign_question *q, const char *utf8, struct reply *out)
{
	struct reply_text t;
	memset(out, 0, sizeof *out);
	out->kind = REPLY_INVALID;
	int rc = reply_text_init(&t, utf8);
	if (rc < 0)
		return rc;
	rc = reply_read(q, &t, out);
	reply_text_clear(&t);
	return rc;
}

void reply_clear(struct reply *r)
{
	free(r->text);
	r->text = NULL;
	r->nvalues = 0;
}

int reply_single_option(const struct campaign_question *q)
{
	return (q->type == Q_SCALE || q->type == Q_CHOICE || q->type == Q_YESNO) && q->nopts > 0;
}

/* 1 when every key of every option of qs[0..n-1] is one character. */
static int reply_one_char_keys(const struct campaign_question *qs, int n)
{
	for (int i = 0; i < n; i++)
		for (int o = 0; o < qs[i].nopts; o++)
			for (int k = 0; k < qs[i].opts[o].nkeys; k++) {
				const char *key = qs[i].opts[o].keys[k];
				if (!key[0] || key[1])
					return 0;
			}
	return 1;
}

/* Politeness that may open ("dạ", "em chọn", "trả lời") or close ("ạ",
 * written with its mark) several answers in one message. */
static int reply_many_filler(const struct reply_word *w, const struct reply_word *next)
{
	if (reply_in(w->w, reply_fillers, NELEM(reply_fillers)))
		return 1;
	if (next && ((strcmp(w->w, "tra") == 0 && strcmp(next->w, "loi") == 0) ||
	             (strcmp(w->w, "dap") == 0 && strcmp(next->w, "an") == 0)))
		return 2;
	return 0;
}

int reply_read_many(const struct campaign_question *qs, int n, const struct reply_text *t,
                    int values[CAMPAIGN_MAX_QUESTIONS])
{
	if (n < 2 || n > CAMPAIGN_MAX_QUESTIONS || !t->fold || t->nwords <= 0 || t->question || t->rating)
		return 0;
	for (int i = 0; i < n; i++)
		if (!reply_single_option(&qs[i]))
			return 0;
	if (reply_keyword_of(t) != REPLY_ANSWER)
		return 0;
	/* A single answer to the current item comes first ("rat hai long" is
	 * one answer even if "rat", "hai" and "long" were keys). */
	if (reply_match_exact(&qs[0], t->fold) >= 0)
		return 0;
	int from = 0, to = t->nwords;
	while (from < to) {
		int k = reply_many_filler(&t->words[from], from + 1 < to ? &t->words[from + 1] : NULL);
		if (k == 0 || from + k >= to)
			break;
		from += k;
	}
	/* a closing "ạ" with its mark (unmarked "a" is a key: "a b c d e") */
	while (to > from + 1 && strcmp(t->words[to - 1].w, "a") == 0 && t->words[to - 1].marked)
		to--;
	for (int i = from; i < to; i++) {
		const struct reply_word *w = &t->words[i];
		if ((w->marked || w->dbar) && !reply_in(w->lw, reply_yes_marked, NELEM(reply_yes_marked)) &&
		    !reply_in(w->lw, reply_neg_marked, NELEM(reply_neg_marked)))
			return 0; /* keys are plain: "ê", "đ", "cô" are no keys; "có", "không" are */
	}
	if (to - from == 1) {
		/* "12113": one character per item, every key one character, for
		 * three items or more ("11" on the last two is as likely a key
		 * pressed twice, "12" a number) */
		const char *body = t->words[from].w;
		if (n < 3 || reply_match_exact(&qs[0], body) >= 0)
			return 0;
		/* the legend's keys in a row ("12345", "abcde") copied back */
		if ((size_t)qs[0].nopts == strlen(body)) {
			int legend = 2;
			for (int k = 0; k < 2 && legend == 2; k++) {
				legend = 1;
				for (int i = 0; i < qs[0].nopts && legend; i++)
					legend = qs[0].opts[i].nkeys > k && strlen(qs[0].opts[i].keys[k]) == 1 &&
					         qs[0].opts[i].keys[k][0] == body[i];
				legend = legend ? 1 : 2;
			}
			if (legend == 1)
				return 0;
		}
		if (strlen(body) != (size_t)n || !reply_one_char_keys(qs, n))
			return 0;
		int up = 1, down = 1, prev = -1;
		for (int i = 0; i < n; i++) {
			char one[2] = {body[i], '\0'};
			int o = reply_match_exact(&qs[i], one);
			if (o < 0)
				return 0;
			values[i] = qs[i].opts[o].value;
			if (i > 0) {
				up &= o == prev + 1;
				down &= o == prev - 1;
			}
			prev = o;
		}
		int same = qs[0].scale != NULL;
		for (int i = 1; i < n; i++)
			same &= qs[i].scale == qs[0].scale;
		return same && (up || down) ? 0 : n; /* "123", "54321": a run of the legend, no answers */
	}
	/* "1 2 1 1 3", "1,2,1,1,3", "a b a a c": one word per item */
	if (to - from != n)
		return 0;
	/* a closing "a" or "e" after a number may be "ạ"/"em" written plainly
	 * ("2 a"): several answers only when every word is a letter */
	const char *last = t->words[to - 1].w;
	if ((strcmp(last, "a") == 0 || strcmp(last, "e") == 0) && (n == 2 || reply_is_digits(t->words[to - 2].w)))
		return 0;
	/* a letter opening numbers ("e 2", "a 1 1", "c 2 ạ") is a pronoun
	 * as often as a key: "em 2", "anh 1 1", "chị 2" */
	{
		const char *w0 = t->words[from].w;
		if (w0[0] >= 'a' && w0[0] <= 'z' && w0[1] == '\0' && reply_is_digits(t->words[from + 1].w))
			return 0;
	}
	/* two yes/no items: "có ko" is a question, "ko ko" one emphatic no */
	if (n == 2 && qs[0].type == Q_YESNO && qs[1].type == Q_YESNO)
		return 0;
	/* the same word twice for two items ("k k", "2 2") may be one answer said twice */
	if (n == 2 && strcmp(t->words[from].w, t->words[from + 1].w) == 0)
		return 0;
	/* ... or the option's two keys, as the legend writes them ("2 b", "4 d") */
	if (n == 2 && qs[0].scale != NULL && qs[0].scale == qs[1].scale &&
	    reply_key_of(&qs[0], t->words[from].w) >= 0 &&
	    reply_key_of(&qs[0], t->words[from].w) == reply_key_of(&qs[0], t->words[from + 1].w))
		return 0;
	/* a run of the legend's keys, up or down ("1 2 3", "5 4 3 2 1", "b c d e") */
	int same_scale = qs[0].scale != NULL;
	for (int i = 1; i < n; i++)
		same_scale &= qs[i].scale == qs[0].scale;
	if (n >= 3 && same_scale) {
		int up = 1, down = 1, prev = -1;
		for (int i = 0; i < n; i++) {
			int o = reply_key_of(&qs[i], t->words[from + i].w);
			if (o < 0) {
				up = down = 0;
				break;
			}
			if (i > 0) {
				up &= o == prev + 1;
				down &= o == prev - 1;
			}
			prev = o;
		}
		if (up || down)
			return 0;
	}
	/* the legend copied back ("1 2 3 4 5", "a b c d e") is no answer */
	for (int k = 0; n == qs[0].nopts && k < 2; k++) {
		int legend = 1;
		for (int i = 0; i < n && legend; i++)
			legend = qs[0].opts[i].nkeys > k && strcmp(t->words[from + i].w, qs[0].opts[i].keys[k]) == 0;
		if (legend)
			return 0;
	}
	for (int i = 0; i < n; i++) {
		int o = reply_match_exact(&qs[i], t->words[from + i].w);
		if (o < 0)
			return 0;
		values[i] = qs[i].opts[o].value;
	}
	return n;
}

int reply_parse_many(const struct campaign_question *qs, int n, const char *utf8,
                     int values[CAMPAIGN_MAX_QUESTIONS])
{
	struct reply_text t;
	if (n < 2 || !utf8 || reply_text_init(&t, utf8) < 0)
		return 0;
	int got = reply_read_many(qs, n, &t, values);
	reply_text_clear(&t);
	return got;
}
