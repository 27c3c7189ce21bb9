/* reply: matches a citizen's reply against the options of one survey item. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "text.h"

/* Opt-out. Never "dung": unaccented it is "đúng" (right, yes) as often as
 * "dừng" (stop); see reply_accented_stop for "dừng" written with its marks. */
static const char *const reply_stop_words[] = {
	"huy", "huy bo", "huy khao sat", "stop", "tu choi", "tuchoi", "unsubscribe",
	"ngung", "ngung khao sat", "khong tham gia",
};
/* "dừng", "dừng lại"... once folded: a stop only when the ư is written. */
static const char *const reply_dung_words[] = {"dung", "dung lai", "dung khao sat", "dung lai khao sat"};
static const char *const reply_help_words[] = {"giup", "help", "tro giup", "huong dan"};
static const char *const reply_repeat_words[] = {"lai", "nhac lai", "repeat"};
static const char *const reply_skip_words[] = {"0", "k", "ko", "khong", "bo qua", "boqua", "skip",
                                               "khong co", "khong gop y", "ko co"};
/* Filler words a citizen writes before the answer: "so 1", "chon 2", "tra loi: 3". */
static const char *const reply_fillers[] = {"tra loi", "dap an", "chon", "so", "y kien", "toi chon", "ans"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int reply_in(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
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
 * "đung", "dung" stay answers. Returns 1 for a stop, 0 otherwise (also on ENOMEM:
 * the reply is then matched as an answer, never mistaken for a stop). */
static int reply_accented_stop(const char *utf8, const char *folded)
{
	if (!reply_in(folded, reply_dung_words, NELEM(reply_dung_words)))
		return 0;
	char *nfc = text_nfc(utf8);
	if (!nfc)
		return 0;
	int stop = (strstr(nfc, "\xe1\xbb\xab") || strstr(nfc, "\xe1\xbb\xaa")) &&
	           !strstr(nfc, "\xc4\x91") && !strstr(nfc, "\xc4\x90");
	free(nfc);
	return stop;
}

/* The keyword the reply is (folded, and as written for "dừng"). */
static enum reply_kind reply_keyword_of(const char *utf8, const char *folded)
{
	enum reply_kind kw = reply_keyword(folded);
	if (kw == REPLY_ANSWER && reply_accented_stop(utf8, folded))
		kw = REPLY_STOP;
	return kw;
}

/* Levenshtein distance of two short ASCII strings, capped at cap+1. */
static int reply_distance(const char *a, const char *b, int cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > (size_t)cap)
		return cap + 1;
	int prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		int rowmin = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			int m = sub < del ? sub : del;
			cur[j] = m < ins ? m : ins;
			if (cur[j] < rowmin)
				rowmin = cur[j];
		}
		if (rowmin > cap)
			return cap + 1;
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

/* The option whose key or label equals the token (exactly), or -1. */
static int reply_match_exact(const struct campaign_question *q, const char *tok)
{
	for (int i = 0; i < q->nopts; i++) {
		const struct campaign_option *o = &q->opts[i];
		for (int k = 0; k < o->nkeys; k++)
			if (strcmp(o->keys[k], tok) == 0)
				return i;
		if (o->label_fold && strcmp(o->label_fold, tok) == 0)
			return i;
	}
	return -1;
}

/* A label with small typos: the single option within one edit per 6 letters. */
static int reply_match_fuzzy(const struct campaign_question *q, const char *tok)
{
	int best = -1, bestd = 1000, ties = 0;
	size_t len = strlen(tok);
	if (len < 5)
		return -1;
	int cap = (int)(len / 6);
	if (cap < 1)
		cap = 1;
	for (int i = 0; i < q->nopts; i++) {
		const char *lf = q->opts[i].label_fold;
		if (!lf)
			continue;
		int d = reply_distance(tok, lf, cap);
		if (d > cap)
			continue;
		if (d < bestd) {
			bestd = d;
			best = i;
			ties = 0;
		} else if (d == bestd) {
			ties++;
		}
	}
	return ties ? -1 : best;
}

/* Strip one leading filler word ("so 1" -> "1"). Returns a pointer into s. */
static const char *reply_strip_filler(const char *s)
{
	for (size_t i = 0; i < NELEM(reply_fillers); i++) {
		size_t n = strlen(reply_fillers[i]);
		if (strncmp(s, reply_fillers[i], n) == 0 && s[n] == ' ' && s[n + 1])
			return s + n + 1;
	}
	return s;
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

/* multi: "1 3", "1,3", "13" (when every key is one character). */
static void reply_parse_multi(const struct campaign_question *q, const char *f, struct reply *r)
{
	char buf[256];
	size_t n = strlen(f);
	if (n >= sizeof buf)
		return;
	memcpy(buf, f, n + 1);
	int whole = reply_match_exact(q, buf);
	if (whole >= 0) {
		reply_add_value(r, q->opts[whole].value);
		r->kind = REPLY_ANSWER;
		return;
	}
	char *save = NULL;
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		int i = reply_match_exact(q, tok);
		if (i >= 0) {
			reply_add_value(r, q->opts[i].value);
			continue;
		}
		/* a run of single-character keys written together: "13" */
		for (const char *c = tok; *c; c++) {
			char one[2] = {*c, '\0'};
			int j = reply_match_exact(q, one);
			if (j < 0) {
				r->nvalues = 0;
				return;
			}
			reply_add_value(r, q->opts[j].value);
		}
	}
	if (r->nvalues > 0)
		r->kind = REPLY_ANSWER;
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

int reply_parse(const struct campaign_question *q, const char *utf8, struct reply *out)
{
	memset(out, 0, sizeof *out);
	out->kind = REPLY_INVALID;
	char *folded = text_fold(utf8 ? utf8 : "");
	if (!folded)
		return 0; /* not UTF-8: not understood */
	enum reply_kind kw = reply_keyword_of(utf8 ? utf8 : "", folded);
	if (kw != REPLY_ANSWER) {
		out->kind = kw;
		goto done;
	}
	if (q->type == Q_TEXT) {
		if (folded[0] == '\0')
			goto done;
		if (q->optional && reply_in(folded, reply_skip_words, NELEM(reply_skip_words))) {
			out->kind = REPLY_SKIP;
			goto done;
		}
		char *nfc = text_nfc(utf8);
		if (!nfc)
			goto done;
		out->text = reply_trim_dup(nfc);
		free(nfc);
		if (!out->text) {
			free(folded);
			return -ENOMEM;
		}
		out->kind = REPLY_ANSWER;
		goto done;
	}
	if (folded[0] == '\0')
		goto done;
	const char *tok = reply_strip_filler(folded);
	if (q->type == Q_MULTI) {
		reply_parse_multi(q, tok, out);
		goto done;
	}
	int i = reply_match_exact(q, tok);
	if (i < 0)
		i = reply_match_fuzzy(q, tok);
	if (i >= 0) {
		reply_add_value(out, q->opts[i].value);
		out->kind = REPLY_ANSWER;
	} else if (q->optional && reply_in(folded, reply_skip_words, NELEM(reply_skip_words))) {
		out->kind = REPLY_SKIP;
	}
done:
	free(folded);
	return 0;
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

int reply_parse_many(const struct campaign_question *qs, int n, const char *utf8,
                     int values[CAMPAIGN_MAX_QUESTIONS])
{
	if (n < 2 || n > CAMPAIGN_MAX_QUESTIONS || !utf8)
		return 0;
	for (int i = 0; i < n; i++)
		if (!reply_single_option(&qs[i]))
			return 0;
	char *folded = text_fold(utf8);
	if (!folded)
		return 0; /* not UTF-8: reply_parse says invalid */
	int got = 0;
	if (reply_keyword_of(utf8, folded) != REPLY_ANSWER || folded[0] == '\0')
		goto done;
	const char *body = reply_strip_filler(folded);
	/* A single answer to the current item comes first ("rat hai long" is
	 * one answer even if "rat", "hai" and "long" were keys). */
	if (reply_match_exact(&qs[0], body) >= 0 || reply_match_exact(&qs[0], folded) >= 0)
		goto done;
	if (!strchr(body, ' ')) {
		/* "12113": one character per item, every key one character */
		if (strlen(body) != (size_t)n || !reply_one_char_keys(qs, n))
			goto done;
		for (int i = 0; i < n; i++) {
			char one[2] = {body[i], '\0'};
			int o = reply_match_exact(&qs[i], one);
			if (o < 0)
				goto done;
			values[i] = qs[i].opts[o].value;
		}
		got = n;
		goto done;
	}
	/* "1 2 1 1 3", "1,2,1,1,3", "a b a a c": one token per item */
	const char *p = body;
	int i = 0;
	while (*p) {
		size_t len = strcspn(p, " ");
		char tok[64];
		if (i >= n || len >= sizeof tok)
			goto done;
		memcpy(tok, p, len);
		tok[len] = '\0';
		int o = reply_match_exact(&qs[i], tok);
		if (o < 0)
			goto done;
		values[i] = qs[i].opts[o].value;
		i++;
		p += len;
		p += strspn(p, " ");
	}
	if (i == n)
		got = n;
done:
	free(folded);
	return got;
}
