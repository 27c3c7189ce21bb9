/* campaign: parse and validate a campaign file (SPEC §5, docs/campaigns.md) and render its questions. */
#include "campaign.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "text.h"
#include "yamldoc.h"

#define CAMPAIGN_MAX_SCALES ((int)(sizeof(((struct campaign *)0)->scales) / sizeof(struct campaign_scale)))
#define CAMPAIGN_MAX_FILE (1024 * 1024) /* a campaign file is a few kilobytes */
#define CAMPAIGN_MAX_ID 64
#define CAMPAIGN_MAX_TEXT 2000          /* bytes of one question text or message */
#define CAMPAIGN_MAX_KEYLEN 32          /* bytes of one folded reply key */

/* Built-in messages for those a campaign does not write (thanks is required). */
static const char campaign_default_invalid[] =
	"Xin lỗi, Ông/Bà trả lời chưa đúng. Vui lòng trả lời bằng một trong các lựa chọn dưới đây.";
static const char campaign_default_reminder[] =
	"Ông/Bà chưa trả lời khảo sát. Xin vui lòng dành ít phút trả lời câu hỏi sau.";
static const char campaign_default_stopped[] =
	"Ông/Bà đã dừng khảo sát và sẽ không nhận thêm tin nhắn. Xin cảm ơn.";
static const char campaign_default_help[] =
	"Trả lời bằng số hoặc chữ cái của lựa chọn. Nhắn LAI để nhận lại câu hỏi, HUY để dừng khảo sát.";
static const char campaign_default_expired[] =
	"Khảo sát đã kết thúc do quá thời gian trả lời. Xin cảm ơn Ông/Bà.";

struct pctx {
	const struct ydoc *d;
	struct yerr *e;
	struct campaign *c;
	int nomem;      /* an allocation failed somewhere */
};

static const char *const campaign_top_keys[] = {
	"id", "name", "channel", "encoding", "window", "quiet_hours", "reminder_after",
	"expire_after", "max_invalid", "resurvey_after", "scales", "questions", "messages",
	"legend", "utc_offset", "ussd", NULL};
static const char *const campaign_window_keys[] = {"start", "end", NULL};
static const char *const campaign_scale_keys[] = {"options", "satisfied", NULL};
static const char *const campaign_option_keys[] = {"value", "label", "keys", NULL};
static const char *const campaign_question_keys[] = {"id", "group", "type", "scale", "options",
                                                     "text", "optional", NULL};
static const char *const campaign_message_keys[] = {"intro", "invalid", "reminder", "thanks",
                                                    "stopped", "help", "expired", NULL};

/* ---- freeing --------------------------------------------------------- */

static void option_clear(struct campaign_option *o)
{
	int i;

	free(o->label);
	free(o->label_fold);
	for (i = 0; i < o->nkeys; i++)
		free(o->keys[i]);
	memset(o, 0, sizeof *o);
}

void campaign_free(struct campaign *c)
{
	int i, j;

	if (!c)
		return;
	free(c->id);
	free(c->name);
	free(c->file);
	for (i = 0; i < c->nscales; i++) {
		free(c->scales[i].name);
		for (j = 0; j < c->scales[i].nopts; j++)
			option_clear(&c->scales[i].opts[j]);
	}
	for (i = 0; i < c->nquestions; i++) {
		struct campaign_question *q = &c->questions[i];

		free(q->id);
		free(q->group);
		free(q->text);
		for (j = 0; j < q->nopts; j++)
			option_clear(&q->opts[j]);
	}
	free(c->msg.intro);
	free(c->msg.invalid);
	free(c->msg.reminder);
	free(c->msg.thanks);
	free(c->msg.stopped);
	free(c->msg.help);
	free(c->msg.expired);
	free(c->ussd_invite);
	free(c);
}

/* ---- small readers --------------------------------------------------- */

static void note_rc(struct pctx *p, int rc)
{
	if (rc == -ENOMEM)
		p->nomem = 1;
}

/* A non-empty text, NFC-normalised, into *out (owned). */
static int read_text(struct pctx *p, int node, const char *what, char **out)
{
	char *raw = NULL, *nfc;
	const char *s;
	int rc;

	rc = ydoc_str(p->d, node, what, &raw, p->e);
	if (rc < 0) {
		note_rc(p, rc);
		return rc;
	}
	for (s = raw; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
		;
	if (!*s) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: must not be empty", what);
		free(raw);
		return -EINVAL;
	}
	if (strlen(raw) > CAMPAIGN_MAX_TEXT) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: too long (%zu bytes, at most %d)", what,
		         strlen(raw), CAMPAIGN_MAX_TEXT);
		free(raw);
		return -EINVAL;
	}
	nfc = text_nfc(raw);
	free(raw);
	if (!nfc) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: not valid UTF-8 (or out of memory)", what);
		return -EINVAL;
	}
	*out = nfc;
	return 0;
}

/* [a-z0-9_-]{1,64} */
static int valid_ident(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	}
	return n > 0 && n <= CAMPAIGN_MAX_ID;
}

static int read_ident(struct pctx *p, int node, const char *what, char **out)
{
	char *s = NULL;
	int rc = ydoc_str(p->d, node, what, &s, p->e);

	if (rc < 0) {
		note_rc(p, rc);
		return rc;
	}
	if (!valid_ident(s)) {
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: '%.64s' is not a valid id (1 to 64 of a-z, 0-9, '_', '-')", what, s);
		free(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

/* Which of `names` the scalar is; reports and returns -EINVAL otherwise. */
static int read_enum(struct pctx *p, int node, const char *what, const char *const *names,
                     const char *expected, int *out)
{
	const char *s = ydoc_scalar(p->d, node);
	int i;

	if (!s) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: expected one of %s", what, expected);
		return -EINVAL;
	}
	for (i = 0; names[i]; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	}
	yerr_add(p->e, ydoc_line(p->d, node), "%s: unknown value '%.64s' (expected %s)", what, s,
	         expected);
	return -EINVAL;
}

/* "+07:00", "-03:30", "+7" -> seconds east of UTC. */
static int parse_utc_offset(const char *s, int *out)
{
	int sign, h = 0, m = 0, nd = 0;

	if (*s != '+' && *s != '-')
		return -EINVAL;
	sign = *s++ == '-' ? -1 : 1;
	while (*s >= '0' && *s <= '9' && nd < 2) {
		h = h * 10 + (*s++ - '0');
		nd++;
	}
	if (!nd)
		return -EINVAL;
	if (*s == ':') {
		s++;
		if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9')
			return -EINVAL;
		m = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
	}
	if (*s || h > 14 || (h == 14 && m > 0))
		return -EINVAL;
	*out = sign * (h * 3600 + m * 60);
	return 0;
}

/* Checks every text the citizen may receive fits GSM 03.38 when the campaign forces gsm7. */
static void check_gsm(struct pctx *p, int node, const char *what, const char *s)
{
	if (s && p->c->encoding == TEXT_ENC_GSM7 && text_gsm7_septets(s) < 0)
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: has characters outside GSM 03.38, which encoding gsm7 cannot send "
		         "(use auto, ucs2 or unaccented)",
		         what);
}

/* ---- options --------------------------------------------------------- */

/* One option {value, label, keys}. */
static int parse_option(struct pctx *p, int node, const char *what, struct campaign_option *o)
{
	char w[200];
	long v = 0;
	int keys, rc = 0, i, j, n;

	if (ydoc_check_map(p->d, node, what, campaign_option_keys, p->e) < 0)
		rc = -EINVAL;
	if (ydoc_kind(p->d, node) != YDOC_MAP)
		return -EINVAL;
	snprintf(w, sizeof w, "%.160s: value", what);
	if (!ydoc_get(p->d, node, "value")) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: missing required key 'value'", what);
		rc = -EINVAL;
	} else if (ydoc_int(p->d, ydoc_get(p->d, node, "value"), w, -1000000, 1000000, &v, p->e) < 0) {
		rc = -EINVAL;
	}
	o->value = (int)v;
	snprintf(w, sizeof w, "%.160s: label", what);
	if (!ydoc_get(p->d, node, "label")) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: missing required key 'label'", what);
		rc = -EINVAL;
	} else if (read_text(p, ydoc_get(p->d, node, "label"), w, &o->label) == 0) {
		check_gsm(p, ydoc_get(p->d, node, "label"), w, o->label);
		o->label_fold = text_fold(o->label);
		if (!o->label_fold) {
			p->nomem = 1;
			rc = -ENOMEM;
		} else if (!o->label_fold[0]) {
			yerr_add(p->e, ydoc_line(p->d, ydoc_get(p->d, node, "label")),
			         "%s: has no letters or digits", w);
			rc = -EINVAL;
		}
	} else {
		rc = -EINVAL;
	}

	keys = ydoc_get(p->d, node, "keys");
	snprintf(w, sizeof w, "%.160s: keys", what);
	if (!keys) {
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: missing required key 'keys' (the replies that choose it, e.g. [\"1\", \"a\"])",
		         what);
		return -EINVAL;
	}
	if (ydoc_kind(p->d, keys) == YDOC_SCALAR) {
		n = 1; /* keys: "1" is a list of one */
	} else if (ydoc_kind(p->d, keys) == YDOC_SEQ) {
		n = ydoc_seq_len(p->d, keys);
		if (n == 0) {
			yerr_add(p->e, ydoc_line(p->d, keys), "%s: must list at least one key", w);
			return -EINVAL;
		}
	} else {
		yerr_add(p->e, ydoc_line(p->d, keys), "%s: expected a list of keys", w);
		return -EINVAL;
	}
	if (n > CAMPAIGN_MAX_KEYS) {
		yerr_add(p->e, ydoc_line(p->d, keys), "%s: too many keys (%d, at most %d)", w, n,
		         CAMPAIGN_MAX_KEYS);
		rc = -EINVAL;
		n = CAMPAIGN_MAX_KEYS;
	}
	for (i = 0; i < n; i++) {
		int kn = ydoc_kind(p->d, keys) == YDOC_SCALAR ? keys : ydoc_seq_item(p->d, keys, i);
		char *raw = NULL, *f;

		if (ydoc_str(p->d, kn, w, &raw, p->e) < 0) {
			rc = -EINVAL;
			continue;
		}
		f = text_fold(raw);
		if (!f) {
			yerr_add(p->e, ydoc_line(p->d, kn), "%s: '%.64s' is not valid UTF-8", w, raw);
			free(raw);
			rc = -EINVAL;
			continue;
		}
		if (!f[0] || strlen(f) > CAMPAIGN_MAX_KEYLEN) {
			yerr_add(p->e, ydoc_line(p->d, kn),
			         "%s: '%.64s' must have 1 to %d letters or digits", w, raw,
			         CAMPAIGN_MAX_KEYLEN);
			free(raw);
			free(f);
			rc = -EINVAL;
			continue;
		}
		if (reply_keyword(f) != REPLY_ANSWER) {
			yerr_add(p->e, ydoc_line(p->d, kn),
			         "%s: '%.64s' is a reserved reply word (stop, help or repeat)", w, raw);
			free(raw);
			free(f);
			rc = -EINVAL;
			continue;
		}
		free(raw);
		for (j = 0; j < o->nkeys; j++)
			if (strcmp(o->keys[j], f) == 0)
				break;
		if (j < o->nkeys) {
			yerr_add(p->e, ydoc_line(p->d, kn), "%s: duplicate key '%s'", w, f);
			free(f);
			rc = -EINVAL;
			continue;
		}
		o->keys[o->nkeys++] = f;
	}
	return rc;
}

/* A list of options; checks values, keys and labels are unique across options. */
static int parse_options(struct pctx *p, int node, const char *what,
                         struct campaign_option *opts, int *nopts)
{
	char w[200];
	int i, j, k, m, n, rc = 0;

	if (ydoc_kind(p->d, node) != YDOC_SEQ) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: options: expected a list of options", what);
		return -EINVAL;
	}
	n = ydoc_seq_len(p->d, node);
	if (n < 2) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: options: needs at least 2 options", what);
		rc = -EINVAL;
	}
	if (n > CAMPAIGN_MAX_OPTIONS) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: options: too many options (%d, at most %d)",
		         what, n, CAMPAIGN_MAX_OPTIONS);
		rc = -EINVAL;
		n = CAMPAIGN_MAX_OPTIONS;
	}
	for (i = 0; i < n; i++) {
		int item = ydoc_seq_item(p->d, node, i);
		struct campaign_option *o = &opts[*nopts];

		snprintf(w, sizeof w, "%.160s: option %d", what, i + 1);
		(*nopts)++;
		if (parse_option(p, item, w, o) < 0)
			rc = -EINVAL;
		for (j = 0; j < *nopts - 1; j++) {
			const struct campaign_option *a = &opts[j];

			if (ydoc_get(p->d, item, "value") &&
			    ydoc_get(p->d, ydoc_seq_item(p->d, node, j), "value") && a->value == o->value) {
				yerr_add(p->e, ydoc_line(p->d, item),
				         "%s: value %d is already used by option %d", w, o->value, j + 1);
				rc = -EINVAL;
			}
			if (a->label_fold && o->label_fold && a->label_fold[0] &&
			    strcmp(a->label_fold, o->label_fold) == 0) {
				yerr_add(p->e, ydoc_line(p->d, item),
				         "%s: label '%s' reads the same as option %d's", w, o->label, j + 1);
				rc = -EINVAL;
			}
			for (k = 0; k < o->nkeys; k++) {
				for (m = 0; m < a->nkeys; m++) {
					if (strcmp(o->keys[k], a->keys[m]) == 0) {
						yerr_add(p->e, ydoc_line(p->d, item),
						         "%s: key '%s' is also a key of option %d", w,
						         o->keys[k], j + 1);
						rc = -EINVAL;
					}
				}
				if (a->label_fold && strcmp(o->keys[k], a->label_fold) == 0) {
					yerr_add(p->e, ydoc_line(p->d, item),
					         "%s: key '%s' is the label of option %d", w, o->keys[k],
					         j + 1);
					rc = -EINVAL;
				}
			}
			for (m = 0; m < a->nkeys; m++) {
				if (o->label_fold && strcmp(a->keys[m], o->label_fold) == 0) {
					yerr_add(p->e, ydoc_line(p->d, item),
					         "%s: label '%s' is a key of option %d", w, o->label, j + 1);
					rc = -EINVAL;
				}
			}
		}
	}
	return rc;
}

static int option_copy(struct campaign_option *dst, const struct campaign_option *src)
{
	int i;

	memset(dst, 0, sizeof *dst);
	dst->value = src->value;
	dst->label = src->label ? strdup(src->label) : NULL;
	dst->label_fold = src->label_fold ? strdup(src->label_fold) : NULL;
	if ((src->label && !dst->label) || (src->label_fold && !dst->label_fold))
		goto fail;
	for (i = 0; i < src->nkeys; i++) {
		dst->keys[i] = strdup(src->keys[i]);
		if (!dst->keys[i])
			goto fail;
		dst->nkeys++;
	}
	return 0;
fail:
	option_clear(dst);
	return -ENOMEM;
}

/* ---- scales ---------------------------------------------------------- */

static void parse_scales(struct pctx *p, int node)
{
	struct campaign *c = p->c;
	char w[200];
	int i, j, k, n;

	if (ydoc_check_map(p->d, node, "scales", NULL, p->e) < 0 && ydoc_kind(p->d, node) != YDOC_MAP)
		return;
	n = ydoc_map_len(p->d, node);
	if (n > CAMPAIGN_MAX_SCALES) {
		yerr_add(p->e, ydoc_line(p->d, node), "scales: too many scales (%d, at most %d)", n,
		         CAMPAIGN_MAX_SCALES);
		n = CAMPAIGN_MAX_SCALES;
	}
	for (i = 0; i < n; i++) {
		const char *name = ydoc_scalar(p->d, ydoc_map_key(p->d, node, i));
		int sn = ydoc_map_value(p->d, node, i), opts, sat;
		struct campaign_scale *s;

		if (!name)
			continue; /* already reported by ydoc_check_map */
		for (j = 0; j < c->nscales; j++)
			if (strcmp(c->scales[j].name, name) == 0)
				break;
		if (j < c->nscales)
			continue; /* duplicate, reported */
		s = &c->scales[c->nscales];
		s->name = strdup(name);
		if (!s->name) {
			p->nomem = 1;
			return;
		}
		c->nscales++;
		snprintf(w, sizeof w, "scale %.64s", name);
		if (!valid_ident(name))
			yerr_add(p->e, ydoc_line(p->d, ydoc_map_key(p->d, node, i)),
			         "%s: not a valid scale name (1 to 64 of a-z, 0-9, '_', '-')", w);
		if (ydoc_check_map(p->d, sn, w, campaign_scale_keys, p->e) < 0 &&
		    ydoc_kind(p->d, sn) != YDOC_MAP)
			continue;
		opts = ydoc_get(p->d, sn, "options");
		if (!opts)
			yerr_add(p->e, ydoc_line(p->d, sn), "%s: missing required key 'options'", w);
		else
			parse_options(p, opts, w, s->opts, &s->nopts);

		sat = ydoc_get(p->d, sn, "satisfied");
		if (!sat || (ydoc_kind(p->d, sat) == YDOC_SEQ && ydoc_seq_len(p->d, sat) == 0) ||
		    ydoc_is_null(p->d, sat)) {
			yerr_add(p->e, ydoc_line(p->d, sat ? sat : sn),
			         "%s: needs 'satisfied', the list of values that count as satisfied "
			         "(e.g. [5, 4])",
			         w);
			continue;
		}
		if (ydoc_kind(p->d, sat) != YDOC_SEQ) {
			yerr_add(p->e, ydoc_line(p->d, sat), "%s: satisfied: expected a list of values", w);
			continue;
		}
		for (j = 0; j < ydoc_seq_len(p->d, sat) && j < CAMPAIGN_MAX_OPTIONS; j++) {
			int item = ydoc_seq_item(p->d, sat, j);
			char ws[220];
			long v;
			int found = 0;

			snprintf(ws, sizeof ws, "%.160s: satisfied", w);
			if (ydoc_int(p->d, item, ws, -1000000, 1000000, &v, p->e) < 0)
				continue;
			for (k = 0; k < s->nopts; k++)
				if (s->opts[k].value == v)
					found = 1;
			if (opts && !found)
				yerr_add(p->e, ydoc_line(p->d, item),
				         "%s: value %ld is not the value of any option", ws, v);
			for (k = 0; k < s->nsatisfied; k++)
				if (s->satisfied[k] == v)
					break;
			if (k < s->nsatisfied) {
				yerr_add(p->e, ydoc_line(p->d, item), "%s: value %ld is listed twice", ws, v);
				continue;
			}
			s->satisfied[s->nsatisfied++] = (int)v;
		}
		if (ydoc_seq_len(p->d, sat) > CAMPAIGN_MAX_OPTIONS)
			yerr_add(p->e, ydoc_line(p->d, sat), "%s: satisfied: too many values", w);
	}
}

/* ---- questions ------------------------------------------------------- */

/* Only {n} and {total} are substituted; anything else in braces is a typo. */
static void check_placeholders(struct pctx *p, int node, const char *what, const char *text)
{
	const char *s = text;

	while ((s = strchr(s, '{')) != NULL) {
		const char *e = s + 1;

		while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') || *e == '_')
			e++;
		if (*e == '}' && e > s + 1) {
			size_t n = (size_t)(e - s - 1);

			if (!((n == 1 && s[1] == 'n') || (n == 5 && strncmp(s + 1, "total", 5) == 0)))
				yerr_add(p->e, ydoc_line(p->d, node),
				         "%s: unknown placeholder {%.*s} (only {n} and {total})", what,
				         (int)n, s + 1);
		}
		s++;
	}
}

static int yesno_defaults(struct campaign_question *q)
{
	static const char *const yes_keys[] = {"1", "co", "c", "yes", "y"};
	static const char *const no_keys[] = {"2", "khong", "k", "ko", "no", "n"};
	static const struct {
		int value;
		const char *label, *fold;
		const char *const *keys;
		int nkeys;
	} def[2] = {{1, "Có", "co", yes_keys, 5}, {2, "Không", "khong", no_keys, 6}};
	int i, j;

	for (i = 0; i < 2; i++) {
		struct campaign_option *o = &q->opts[i];

		o->value = def[i].value;
		o->label = strdup(def[i].label);
		o->label_fold = strdup(def[i].fold);
		q->nopts++;
		if (!o->label || !o->label_fold)
			return -ENOMEM;
		for (j = 0; j < def[i].nkeys; j++) {
			o->keys[j] = strdup(def[i].keys[j]);
			if (!o->keys[j])
				return -ENOMEM;
			o->nkeys++;
		}
	}
	return 0;
}

static void parse_question(struct pctx *p, int node, int idx)
{
	static const char *const types[] = {"scale", "choice", "multi", "yesno", "text", NULL};
	struct campaign *c = p->c;
	struct campaign_question *q = &c->questions[c->nquestions];
	char w[200], ww[230];
	int type, opts, scale, optional, text, i, t = -1;

	/* Name the question by its id in errors when it has a usable one. */
	{
		const char *id = ydoc_scalar(p->d, ydoc_get(p->d, node, "id"));

		if (id && valid_ident(id))
			snprintf(w, sizeof w, "question %.64s", id);
		else
			snprintf(w, sizeof w, "question %d", idx + 1);
	}
	if (ydoc_check_map(p->d, node, w, campaign_question_keys, p->e) < 0 &&
	    ydoc_kind(p->d, node) != YDOC_MAP)
		return;
	c->nquestions++;
	q->line = ydoc_line(p->d, node);
	q->index = c->nquestions - 1;

	if (!ydoc_get(p->d, node, "id")) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: missing required key 'id'", w);
	} else {
		snprintf(ww, sizeof ww, "%.160s: id", w);
		if (read_ident(p, ydoc_get(p->d, node, "id"), ww, &q->id) == 0) {
			for (i = 0; i < c->nquestions - 1; i++) {
				if (c->questions[i].id && strcmp(c->questions[i].id, q->id) == 0)
					yerr_add(p->e, ydoc_line(p->d, ydoc_get(p->d, node, "id")),
					         "%s: duplicate question id (also question %d)", ww, i + 1);
			}
		}
	}

	if (ydoc_get(p->d, node, "group")) {
		snprintf(ww, sizeof ww, "%.160s: group", w);
		read_text(p, ydoc_get(p->d, node, "group"), ww, &q->group);
	}

	text = ydoc_get(p->d, node, "text");
	snprintf(ww, sizeof ww, "%.160s: text", w);
	if (!text) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: missing required key 'text'", w);
	} else if (read_text(p, text, ww, &q->text) == 0) {
		check_placeholders(p, text, ww, q->text);
		check_gsm(p, text, ww, q->text);
	}

	type = ydoc_get(p->d, node, "type");
	snprintf(ww, sizeof ww, "%.160s: type", w);
	if (!type)
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: missing required key 'type' (scale, choice, multi, yesno or text)", w);
	else if (read_enum(p, type, ww, types, "scale, choice, multi, yesno or text", &t) < 0)
		t = -1;
	q->type = t < 0 ? Q_TEXT : (enum question_type)t;

	opts = ydoc_get(p->d, node, "options");
	scale = ydoc_get(p->d, node, "scale");
	optional = ydoc_get(p->d, node, "optional");

	if (optional) {
		snprintf(ww, sizeof ww, "%.160s: optional", w);
		if (ydoc_bool(p->d, optional, ww, &q->optional, p->e) == 0 && q->optional &&
		    t >= 0 && q->type != Q_TEXT) {
			yerr_add(p->e, ydoc_line(p->d, optional),
			         "%s: only text questions can be optional", w);
			q->optional = 0;
		}
	}
	if (t < 0)
		return;
	if (scale && q->type != Q_SCALE)
		yerr_add(p->e, ydoc_line(p->d, scale), "%s: 'scale' is only for questions of type scale",
		         w);
	switch (q->type) {
	case Q_SCALE:
		if (opts)
			yerr_add(p->e, ydoc_key_line(p->d, node, "options"),
			         "%s: a scale question takes its options from its scale; remove 'options'",
			         w);
		if (!scale) {
			yerr_add(p->e, ydoc_line(p->d, node),
			         "%s: type scale needs 'scale', the name of one of the scales", w);
			break;
		}
		{
			const char *name = ydoc_scalar(p->d, scale);

			for (i = 0; name && i < c->nscales; i++)
				if (strcmp(c->scales[i].name, name) == 0)
					break;
			if (!name || i >= c->nscales) {
				yerr_add(p->e, ydoc_line(p->d, scale), "%s: scale: unknown scale '%.64s'", w,
				         name ? name : "?");
				break;
			}
			q->scale = &c->scales[i];
			for (i = 0; i < q->scale->nopts; i++) {
				if (option_copy(&q->opts[i], &q->scale->opts[i]) < 0) {
					p->nomem = 1;
					break;
				}
				q->nopts++;
			}
		}
		break;
	case Q_CHOICE:
	case Q_MULTI:
		if (!opts) {
			yerr_add(p->e, ydoc_line(p->d, node), "%s: type %s needs 'options'", w,
			         types[q->type]);
			break;
		}
		parse_options(p, opts, w, q->opts, &q->nopts);
		break;
	case Q_YESNO:
		if (opts)
			parse_options(p, opts, w, q->opts, &q->nopts);
		else if (yesno_defaults(q) < 0)
			p->nomem = 1;
		else if (c->encoding == TEXT_ENC_GSM7)
			yerr_add(p->e, ydoc_line(p->d, type),
			         "%s: the default labels Có/Không are outside GSM 03.38, which encoding "
			         "gsm7 cannot send (give options, or use auto, ucs2 or unaccented)",
			         w);
		break;
	case Q_TEXT:
		if (opts)
			yerr_add(p->e, ydoc_key_line(p->d, node, "options"),
			         "%s: a text question has no options", w);
		break;
	}
}

static void parse_questions(struct pctx *p, int node)
{
	int i, n;

	if (ydoc_kind(p->d, node) != YDOC_SEQ) {
		yerr_add(p->e, ydoc_line(p->d, node), "questions: expected a list of questions");
		return;
	}
	n = ydoc_seq_len(p->d, node);
	if (n == 0)
		yerr_add(p->e, ydoc_line(p->d, node), "questions: needs at least one question");
	if (n > CAMPAIGN_MAX_QUESTIONS) {
		yerr_add(p->e, ydoc_line(p->d, node), "questions: too many questions (%d, at most %d)", n,
		         CAMPAIGN_MAX_QUESTIONS);
		n = CAMPAIGN_MAX_QUESTIONS;
	}
	for (i = 0; i < n; i++)
		parse_question(p, ydoc_seq_item(p->d, node, i), i);
}

/* ---- messages -------------------------------------------------------- */

static void parse_message(struct pctx *p, int map, const char *key, char **out, int *line,
                          const char *def)
{
	int node = ydoc_get(p->d, map, key);
	char w[64];

	if (node)
		*line = ydoc_line(p->d, node);
	snprintf(w, sizeof w, "messages: %s", key);
	if (node && strcmp(key, "intro") == 0 && ydoc_is_null(p->d, node))
		return; /* intro: null = no intro */
	if (node) {
		if (read_text(p, node, w, out) == 0)
			check_gsm(p, node, w, *out);
		return;
	}
	if (!def) {
		yerr_add(p->e, ydoc_line(p->d, map), "messages: missing required key '%s'", key);
		return;
	}
	*out = strdup(def);
	if (!*out)
		p->nomem = 1;
}

static void parse_messages(struct pctx *p, int root)
{
	struct campaign_messages *m = &p->c->msg;
	int node = ydoc_get(p->d, root, "messages");

	if (!node) {
		yerr_add(p->e, ydoc_line(p->d, root),
		         "missing required key 'messages' (at least messages: thanks)");
		return;
	}
	if (ydoc_check_map(p->d, node, "messages", campaign_message_keys, p->e) < 0 &&
	    ydoc_kind(p->d, node) != YDOC_MAP)
		return;
	if (ydoc_get(p->d, node, "intro"))
		parse_message(p, node, "intro", &m->intro, &m->intro_line, NULL); /* no intro unless written */
	parse_message(p, node, "thanks", &m->thanks, &m->thanks_line, NULL);
	parse_message(p, node, "invalid", &m->invalid, &m->invalid_line, campaign_default_invalid);
	parse_message(p, node, "reminder", &m->reminder, &m->reminder_line, campaign_default_reminder);
	parse_message(p, node, "stopped", &m->stopped, &m->stopped_line, campaign_default_stopped);
	parse_message(p, node, "help", &m->help, &m->help_line, campaign_default_help);
	parse_message(p, node, "expired", &m->expired, &m->expired_line, campaign_default_expired);
}

/* ---- the campaign ---------------------------------------------------- */

static void parse_top(struct pctx *p, int root)
{
	static const char *const channels[] = {"sms", "ussd", NULL};
	static const char *const encodings[] = {"auto", "gsm7", "ucs2", "unaccented", NULL};
	static const enum text_encoding enc_map[] = {TEXT_ENC_AUTO, TEXT_ENC_GSM7, TEXT_ENC_UCS2,
	                                             TEXT_ENC_UNACCENTED};
	struct campaign *c = p->c;
	const struct ydoc *d = p->d;
	int64_t start_days = 0, end_days = 0;
	int node, v, have_window = 0;
	long l;

	if ((node = ydoc_get(d, root, "utc_offset")) != 0) {
		const char *s = ydoc_scalar(d, node);

		if (!s || parse_utc_offset(s, &c->tz_offset) < 0)
			yerr_add(p->e, ydoc_line(d, node),
			         "utc_offset: expected +HH:MM or -HH:MM (at most 14 hours), found '%.64s'",
			         s ? s : "?");
	}
	if ((node = ydoc_get(d, root, "legend")) != 0)
		ydoc_bool(d, node, "legend", &c->legend, p->e);

	if (!(node = ydoc_get(d, root, "id")))
		yerr_add(p->e, ydoc_line(d, root), "missing required key 'id'");
	else
		read_ident(p, node, "id", &c->id);
	if ((node = ydoc_get(d, root, "name")) != 0)
		read_text(p, node, "name", &c->name);
	if ((node = ydoc_get(d, root, "channel")) != 0 &&
	    read_enum(p, node, "channel", channels, "sms or ussd", &v) == 0)
		c->channel = (enum campaign_channel)v;
	if ((node = ydoc_get(d, root, "encoding")) != 0 &&
	    read_enum(p, node, "encoding", encodings, "auto, gsm7, ucs2 or unaccented", &v) == 0)
		c->encoding = enc_map[v];

	if ((node = ydoc_get(d, root, "window")) != 0 &&
	    ydoc_check_map(d, node, "window", campaign_window_keys, p->e) == 0) {
		int s = ydoc_get(d, node, "start"), e = ydoc_get(d, node, "end");
		int ok = 1;

		if (!s || !e) {
			yerr_add(p->e, ydoc_line(d, node), "window: needs both 'start' and 'end'");
			ok = 0;
		}
		if (s && ydoc_date(d, s, "window: start", &start_days, p->e) < 0)
			ok = 0;
		if (e && ydoc_date(d, e, "window: end", &end_days, p->e) < 0)
			ok = 0;
		if (ok && end_days < start_days) {
			yerr_add(p->e, ydoc_line(d, e), "window: end is before start");
			ok = 0;
		}
		have_window = ok;
	}
	if ((node = ydoc_get(d, root, "quiet_hours")) != 0)
		ydoc_timerange(d, node, "quiet_hours", &c->quiet_start, &c->quiet_end, p->e);
	if ((node = ydoc_get(d, root, "reminder_after")) != 0)
		ydoc_duration(d, node, "reminder_after", &c->reminder_after, p->e);
	if ((node = ydoc_get(d, root, "expire_after")) != 0 &&
	    ydoc_duration(d, node, "expire_after", &c->expire_after, p->e) == 0 &&
	    c->expire_after <= 0) {
		yerr_add(p->e, ydoc_line(d, node), "expire_after: must be longer than 0");
		c->expire_after = 86400;
	}
	if (c->reminder_after > 0 && c->reminder_after >= c->expire_after) {
		node = ydoc_get(d, root, "reminder_after");
		yerr_add(p->e, ydoc_line(d, node ? node : root),
		         "reminder_after: must be shorter than expire_after (or 0 for no reminder)");
	}
	if ((node = ydoc_get(d, root, "max_invalid")) != 0 &&
	    ydoc_int(d, node, "max_invalid", 0, 10, &l, p->e) == 0)
		c->max_invalid = (int)l;
	if ((node = ydoc_get(d, root, "resurvey_after")) != 0)
		ydoc_duration(d, node, "resurvey_after", &c->resurvey_after, p->e);
	if ((node = ydoc_get(d, root, "ussd")) != 0) {
		static const char *const ussd_keys[] = {"invite_after", "invite", NULL};
		int n2;
		if (c->channel != CAMPAIGN_USSD)
			yerr_add(p->e, ydoc_line(d, node), "ussd: only for a campaign with channel: ussd");
		else if (ydoc_check_map(d, node, "ussd", ussd_keys, p->e) == 0) {
			if ((n2 = ydoc_get(d, node, "invite_after")) != 0)
				ydoc_duration(d, n2, "ussd: invite_after", &c->ussd_invite_after, p->e);
			if ((n2 = ydoc_get(d, node, "invite")) != 0 &&
			    read_text(p, n2, "ussd: invite", &c->ussd_invite) == 0) {
				c->ussd_invite_line = ydoc_line(d, n2);
				/* the invitation exists to tell the citizen what to dial */
				if (!strstr(c->ussd_invite, "{code}"))
					yerr_add(p->e, c->ussd_invite_line,
					         "ussd: invite: must contain {code} (the service code to dial, "
					         "written in by the gateway)");
			}
		}
	}
	if (c->ussd_invite && c->ussd_invite_after <= 0 && c->reminder_after <= 0)
		yerr_add(p->e, c->ussd_invite_line,
		         "ussd: invite: never sent: set ussd: invite_after (or reminder_after)");

	if (have_window) {
		c->window_start = start_days * 86400 - c->tz_offset;
		c->window_end = (end_days + 1) * 86400 - c->tz_offset;
	}
}

static void check_ussd_screens(struct pctx *p);

int campaign_parse(const char *file, const char *yaml, size_t len, struct campaign **out,
                   char *err, size_t errlen)
{
	struct yerr e;
	struct pctx p;
	struct campaign *c = NULL;
	struct ydoc *d = NULL;
	int root, node, rc = -EINVAL;

	*out = NULL;
	yerr_init(&e, file, err, errlen);
	memset(&p, 0, sizeof p);
	p.e = &e;
	if (len > CAMPAIGN_MAX_FILE) {
		yerr_add(&e, 0, "too large (%zu bytes, at most %d)", len, CAMPAIGN_MAX_FILE);
		goto fail;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		yerr_add(&e, 0, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	p.c = c;
	c->file = strdup(file ? file : "<input>");
	if (!c->file) {
		p.nomem = 1;
		goto fail;
	}
	snprintf(c->version, sizeof c->version, "%016llx",
	         (unsigned long long)text_fnv1a64(yaml ? yaml : "", yaml ? len : 0));
	c->channel = CAMPAIGN_SMS;
	c->encoding = TEXT_ENC_AUTO;
	c->quiet_start = c->quiet_end = -1;
	c->reminder_after = 2 * 3600;
	c->expire_after = 24 * 3600;
	c->max_invalid = 2;
	c->legend = 1;
	c->tz_offset = 7 * 3600;

	d = ydoc_load(yaml, yaml ? len : 0, &e);
	if (!d)
		goto fail;
	p.d = d;
	root = ydoc_root(d);
	if (ydoc_kind(d, root) != YDOC_MAP) {
		yerr_add(&e, ydoc_line(d, root),
		         "a campaign must be a mapping of keys (id:, questions:, messages: ...)");
		goto fail;
	}
	ydoc_check_map(d, root, "campaign", campaign_top_keys, &e);
	parse_top(&p, root);
	if ((node = ydoc_get(d, root, "scales")) != 0)
		parse_scales(&p, node);
	if (!(node = ydoc_get(d, root, "questions")))
		yerr_add(&e, ydoc_line(d, root), "missing required key 'questions'");
	else
		parse_questions(&p, node);
	parse_messages(&p, root);
	if (c->channel == CAMPAIGN_USSD && e.count == 0)
		check_ussd_screens(&p);
	if (!c->name && c->id) {
		c->name = strdup(c->id);
		if (!c->name)
			p.nomem = 1;
	}
	if (p.nomem) {
		yerr_add(&e, 0, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	if (e.count > 0)
		goto fail;
	ydoc_free(d);
	*out = c;
	return 0;
fail:
	if (e.count == 0)
		yerr_add(&e, 0, "invalid campaign");
	ydoc_free(d);
	campaign_free(c);
	return rc;
}

int campaign_load(const char *path, struct campaign **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	rc = ydoc_read_file(path, CAMPAIGN_MAX_FILE, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = campaign_parse(path, buf, len, out, err, errlen);
	free(buf);
	return rc;
}

/* ---- rendering ------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	int nomem;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->nomem)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *ns;

		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns) {
			b->nomem = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

char *campaign_render_question(const struct campaign *c, int idx)
{
	const struct campaign_question *q;
	struct sbuf b = {0};
	const char *s;
	char num[16];
	int i;

	if (!c || idx < 0 || idx >= c->nquestions)
		return NULL;
	q = &c->questions[idx];
	sb_put(&b, "", 0);
	for (s = q->text ? q->text : ""; *s; s++) {
		if (strncmp(s, "{n}", 3) == 0) {
			snprintf(num, sizeof num, "%d", idx + 1);
			sb_str(&b, num);
			s += 2;
		} else if (strncmp(s, "{total}", 7) == 0) {
			snprintf(num, sizeof num, "%d", c->nquestions);
			sb_str(&b, num);
			s += 6;
		} else {
			sb_put(&b, s, 1);
		}
	}
	if (c->legend && q->type != Q_TEXT && q->nopts > 0) {
		int ussd = c->channel == CAMPAIGN_USSD;

		sb_str(&b, "\n");
		for (i = 0; i < q->nopts; i++) {
			const struct campaign_option *o = &q->opts[i];

			if (i > 0)
				sb_str(&b, ussd ? "\n" : " ");
			sb_str(&b, o->nkeys > 0 ? o->keys[0] : "?");
			sb_str(&b, ussd ? ". " : "-");
			sb_str(&b, o->label ? o->label : "");
		}
	}
	if (b.nomem) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

char *campaign_join(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	char *r = malloc(la + lb + 2);
	size_t n = 0;

	if (!r)
		return NULL;
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

int campaign_ussd_fit(const char *text, enum text_encoding enc, int *units, int *cap)
{
	char *plain = NULL;
	const char *t = text;
	int n;

	if (enc == TEXT_ENC_UNACCENTED) {
		plain = text_unaccent(text);
		if (!plain)
			return -ENOMEM;
		t = plain;
	}
	n = enc == TEXT_ENC_UCS2 ? -1 : text_gsm7_septets(t);
	if (n >= 0) {
		*units = n;
		*cap = CAMPAIGN_USSD_GSM;
	} else {
		/* gsm7 campaigns never get here: check_gsm refused the text */
		*units = text_ucs2_units(t);
		*cap = CAMPAIGN_USSD_UCS2;
	}
	free(plain);
	return *units >= 0 && *units <= *cap;
}

/* channel: ussd: every screen a citizen can get must fit one screen: the
 * first (intro + item 1), each item alone and after `invalid` and `help`,
 * and the final ones. Errors name the line of the item or message. */
static void check_ussd_screens(struct pctx *p)
{
	struct campaign *c = p->c;
	const char *hint = c->encoding == TEXT_ENC_UNACCENTED || c->encoding == TEXT_ENC_GSM7
	                           ? "write it shorter or shorten the labels"
	                           : "write it shorter, shorten the labels, or use encoding: unaccented";
	struct {
		const char *name;
		const char *text;
		int line;
	} before[] = {{"alone", NULL, 0}, {"after messages: invalid", c->msg.invalid, c->msg.invalid_line},
	              {"after messages: help", c->msg.help, c->msg.help_line}};
	struct {
		const char *name;
		const char *text;
		int line;
	} ends[] = {{"thanks", c->msg.thanks, c->msg.thanks_line},
	            {"stopped", c->msg.stopped, c->msg.stopped_line},
	            {"expired", c->msg.expired, c->msg.expired_line}};
	int units, cap, fit;

	for (int q = 0; q < c->nquestions; q++) {
		char *item = campaign_render_question(c, q);
		if (!item) {
			p->nomem = 1;
			return;
		}
		for (size_t k = 0; k < sizeof before / sizeof before[0] + (q == 0); k++) {
			int first = k == sizeof before / sizeof before[0];
			const char *pre = first ? c->msg.intro : before[k].text;
			char *screen = campaign_join(pre, item);
			if (!screen || (fit = campaign_ussd_fit(screen, c->encoding, &units, &cap)) < 0) {
				free(screen);
				free(item);
				p->nomem = 1;
				return;
			}
			if (!fit && first)
				yerr_add(p->e, c->msg.intro_line ? c->msg.intro_line : c->questions[q].line,
				         "messages: intro: the first USSD screen (intro + item 1 '%s') is %d "
				         "characters, a screen holds %d: %s", c->questions[q].id, units, cap, hint);
			else if (!fit)
				yerr_add(p->e, k > 0 && before[k].line ? before[k].line : c->questions[q].line,
				         "questions: item %d '%s': its USSD screen %s is %d characters, a screen "
				         "holds %d (%s): %s", q + 1, c->questions[q].id, before[k].name, units, cap,
				         cap == CAMPAIGN_USSD_GSM ? "GSM 03.38" : "UCS-2", hint);
			free(screen);
		}
		free(item);
	}
	for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
		if (!ends[k].text || !*ends[k].text)
			continue;
		if ((fit = campaign_ussd_fit(ends[k].text, c->encoding, &units, &cap)) < 0) {
			p->nomem = 1;
			return;
		}
		if (!fit)
			yerr_add(p->e, ends[k].line, "messages: %s: %d characters, a USSD screen holds %d: %s",
			         ends[k].name, units, cap, hint);
	}
}

int campaign_question_index(const struct campaign *c, const char *id)
{
	int i;

	if (!c || !id)
		return -1;
	for (i = 0; i < c->nquestions; i++)
		if (c->questions[i].id && strcmp(c->questions[i].id, id) == 0)
			return i;
	return -1;
}

int campaign_is_satisfied(const struct campaign_question *q, int value)
{
	int i;

	if (!q || q->type != Q_SCALE || !q->scale)
		return 0;
	for (i = 0; i < q->scale->nsatisfied; i++)
		if (q->scale->satisfied[i] == value)
			return 1;
	return 0;
}
