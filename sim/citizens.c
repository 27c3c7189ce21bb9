/* citizens: virtual citizens that read questions, think, answer as configured, and keep the ledger. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "campaign.h"
#include "citizens.h"
#include "reply.h"
#include "text.h"
#include "weights.h"
#include "yamldoc.h"

_Static_assert(CITIZENS_QDIST_MAX >= CAMPAIGN_MAX_QUESTIONS, "a distribution per question");
_Static_assert(CITIZENS_DIST_MAX >= CAMPAIGN_MAX_OPTIONS, "a weight per option");

/* One citizen's memory of the survey it is in. Allocated on its first message. */
struct citizen {
	uint64_t rng;                                  /* PRNG state (splitmix64) */
	int completed;                                 /* thanks received for this survey */
	int last_q;                                    /* last question recognised, -1 */
	uint8_t invalid_sent[CAMPAIGN_MAX_QUESTIONS];  /* an unintelligible reply was sent */
	uint8_t answered[CAMPAIGN_MAX_QUESTIONS];      /* a real answer was decided */
	char *reply[CAMPAIGN_MAX_QUESTIONS];           /* its text, sent again on a re-prompt */
	int64_t mark_us;                               /* when its last reply was sent, 0 = none */
	int drawn;                                     /* the per-survey draws below are made */
	int silent;                                    /* answers nothing in this survey */
	int stopped;                                   /* sent HUY in this survey */
	int optout_q;                                  /* question it sends HUY to, -1 */
	int multi_from, multi_to;                      /* questions [from, to) answered at once, -1 */
	char *plan[CAMPAIGN_MAX_QUESTIONS];            /* the planned answers of that message */
	char *plan_ledger[CAMPAIGN_MAX_QUESTIONS];     /* and their ledger lines */
};

struct citizens {
	const struct campaign *c;                 /* borrowed */
	struct citizens_opts o;
	FILE *ledger;                             /* borrowed, may be NULL */
	struct citizen **pop;                     /* [count + 1], entries lazily allocated */
	char *qfold[CAMPAIGN_MAX_QUESTIONS];      /* text_fold of each rendered question */
	char *invalid_fold;                       /* folded messages (text before any '{'), or NULL */
	char *reminder_fold;
	char *thanks_fold;
	uint64_t completed;                       /* thanks received */
	uint64_t answers;                         /* answer lines written */
	uint64_t opted_out;                       /* HUY sent */
	uint64_t no_reply;                        /* surveys left unanswered */
	uint8_t qweighted[CAMPAIGN_MAX_QUESTIONS];  /* answered by qweight, not the defaults */
	double qweight[CAMPAIGN_MAX_QUESTIONS][CAMPAIGN_MAX_OPTIONS];  /* by option index */
};

/* Realistic comments. Some are longer than 70 characters so they need 2 or 3
 * UCS-2 parts (67 characters per part of a long message). */
static const char *const citizens_comments[] = {
	"Cán bộ nhiệt tình",
	"Cán bộ nhiệt tình, hướng dẫn rõ ràng, dễ hiểu.",
	"Thời gian chờ đến lượt còn hơi lâu.",
	"Cần thêm ghế ngồi chờ và nước uống cho người dân.",
	"Thủ tục nhanh gọn, tôi rất hài lòng.",
	"Nhân viên trả kết quả đúng hẹn, cảm ơn các anh chị.",
	"Thủ tục nhanh gọn, tôi rất hài lòng với cách phục vụ của cán bộ tiếp nhận hồ sơ tại bộ phận một cửa.",
	"Nên có thêm hướng dẫn nộp hồ sơ trực tuyến trên cổng dịch vụ công, nhiều người lớn tuổi chưa biết cách làm.",
	"Tôi phải đi lại ba lần mới hoàn thành hồ sơ vì mỗi lần cán bộ chỉ yêu cầu bổ sung một loại giấy tờ. "
	"Đề nghị niêm yết đầy đủ thành phần hồ sơ để người dân chuẩn bị một lần.",
	"Bãi gửi xe chật, trời mưa không có mái che. Đề nghị bố trí thêm chỗ để xe cho người dân đến làm thủ tục.",
};
#define CITIZENS_NCOMMENTS (sizeof citizens_comments / sizeof citizens_comments[0])

/* Replies no parser should understand; checked against each question's options. */
static const char *const citizens_gibberish[] = {"???", "xyz", "hmm", "zzz", "?!", "qq"};
#define CITIZENS_NGIBBERISH (sizeof citizens_gibberish / sizeof citizens_gibberish[0])

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int rng_below(uint64_t *s, int n)
{
	return n <= 1 ? 0 : (int)(rng_next(s) % (uint64_t)n);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void citizens_opts_default(struct citizens_opts *o)
{
	static const int values[] = {5, 4, 3, 2, 1};
	static const double weights[] = {40, 35, 15, 7, 3};
	memset(o, 0, sizeof *o);
	o->seed = 1;
	o->think_min_ms = 20;
	o->think_max_ms = 200;
	o->invalid_share = 0;
	o->comment_share = 0.3;
	o->mode = CITIZENS_KEYS;
	o->time_factor = 1.0;
	o->ndist = 5;
	for (int i = 0; i < 5; i++) {
		o->dist_value[i] = values[i];
		o->dist_weight[i] = weights[i];
	}
}

int citizens_parse_distribution(const char *s, struct citizens_opts *o)
{
	struct weights_item it[CITIZENS_DIST_MAX];
	int n = weights_parse(s, it, CITIZENS_DIST_MAX);
	if (n < 0)
		return n;
	int values[CITIZENS_DIST_MAX];
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long v = strtol(it[i].key, &end, 10);
		if (end == it[i].key || *end || errno || v < -1000000 || v > 1000000)
			return -EINVAL;
		values[i] = (int)v;
		for (int k = 0; k < i; k++)
			if (values[k] == values[i])
				return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		o->dist_value[i] = values[i];
		o->dist_weight[i] = it[i].weight;
	}
	o->ndist = n;
	return 0;
}

/* text_fold of the part of a message before its first placeholder, NULL when empty. */
static char *fold_prefix(const char *text)
{
	if (!text)
		return NULL;
	size_t n = strcspn(text, "{");
	char *head = strndup(text, n);
	if (!head)
		return NULL;
	char *f = text_fold(head);
	free(head);
	if (f && !*f) {
		free(f);
		return NULL;
	}
	return f;
}

/* The name of a question type, for error messages. */
static const char *qtype_name(enum question_type t)
{
	switch (t) {
	case Q_SCALE:
		return "scale";
	case Q_CHOICE:
		return "choice";
	case Q_YESNO:
		return "yesno";
	case Q_MULTI:
		return "multi";
	default:
		return "text";
	}
}

/* The option values of q as "5, 4, 3" (for an error message). */
static void option_values(const struct campaign_question *q, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < q->nopts && len < cap; i++) {
		int n = snprintf(out + len, cap - len, "%s%d", i ? ", " : "", q->opts[i].value);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

/* Checks o->qdist against the campaign and turns it into weights by option
 * index. Every mistake is reported as "file:line: message"; -EINVAL if any. */
static int resolve_qdist(struct citizens *p, char *err, size_t errlen)
{
	const struct campaign *c = p->c;
	struct yerr e;
	yerr_init(&e, p->o.qdist_file, err, errlen);
	if (p->o.nqdist < 0 || p->o.nqdist > CITIZENS_QDIST_MAX) {
		yerr_add(&e, 0, "questions: at most %d", CITIZENS_QDIST_MAX);
		return -EINVAL;
	}
	for (int k = 0; k < p->o.nqdist; k++) {
		const struct citizens_qdist *d = &p->o.qdist[k];
		int qi = campaign_question_index(c, d->question);
		if (qi < 0 || qi >= CAMPAIGN_MAX_QUESTIONS) {
			char ids[256];
			size_t len = 0;
			ids[0] = '\0';
			for (int i = 0; i < c->nquestions && len < sizeof ids; i++) {
				int n = snprintf(ids + len, sizeof ids - len, "%s%s", i ? ", " : "",
				                 c->questions[i].id);
				if (n < 0)
					break;
				len += (size_t)n;
			}
			yerr_add(&e, d->line, "questions: '%s' is not a question of campaign '%s' (%s)",
			         d->question, c->id ? c->id : "", ids);
			continue;
		}
		const struct campaign_question *q = &c->questions[qi];
		if (q->type != Q_SCALE && q->type != Q_CHOICE && q->type != Q_YESNO) {
			yerr_add(&e, d->line,
			         "questions.%s: a %s question cannot be given weights (only scale, "
			         "choice and yesno questions)",
			         d->question, qtype_name(q->type));
			continue;
		}
		double w[CAMPAIGN_MAX_OPTIONS] = {0}, sum = 0;
		int bad = 0;
		for (int v = 0; v < d->n && v < CITIZENS_DIST_MAX; v++) {
			int found = -1;
			for (int i = 0; i < q->nopts; i++)
				if (q->opts[i].value == d->value[v])
					found = i;
			if (found < 0) {
				char vals[128];
				option_values(q, vals, sizeof vals);
				yerr_add(&e, d->value_line[v] ? d->value_line[v] : d->line,
				         "questions.%s: %d is not a value of that question (%s)", d->question,
				         d->value[v], vals);
				bad = 1;
				continue;
			}
			if (!(d->weight[v] >= 0) || !isfinite(d->weight[v])) {
				yerr_add(&e, d->value_line[v] ? d->value_line[v] : d->line,
				         "questions.%s: the weight of %d must be a number >= 0", d->question,
				         d->value[v]);
				bad = 1;
				continue;
			}
			w[found] = d->weight[v];
			sum += d->weight[v];
		}
		if (bad)
			continue;
		if (!(sum > 0)) {
			yerr_add(&e, d->line, "questions.%s: every weight is 0", d->question);
			continue;
		}
		if (p->qweighted[qi]) {
			yerr_add(&e, d->line, "questions.%s: given twice", d->question);
			continue;
		}
		p->qweighted[qi] = 1;
		memcpy(p->qweight[qi], w, sizeof w);
	}
	return e.count ? -EINVAL : 0;
}

struct citizens *citizens_new(const struct campaign *c, const struct citizens_opts *o,
                              FILE *ledger, char *err, size_t errlen)
{
	if (o->count < 0 || o->count > CITIZENS_MAX || o->think_min_ms < 0 ||
	    o->think_max_ms < o->think_min_ms) {
		snprintf(err, errlen, "bad citizens options");
		return NULL;
	}
	struct citizens *p = calloc(1, sizeof *p);
	if (!p)
		goto nomem;
	p->c = c;
	p->o = *o;
	p->ledger = ledger;
	p->pop = calloc((size_t)o->count + 1, sizeof *p->pop);
	if (!p->pop)
		goto nomem;
	for (int i = 0; i < c->nquestions && i < CAMPAIGN_MAX_QUESTIONS; i++) {
		char *r = campaign_render_question(c, i);
		if (!r)
			goto nomem;
		p->qfold[i] = text_fold(r);
		free(r);
		if (!p->qfold[i]) {
			snprintf(err, errlen, "question %d: text is not valid UTF-8", i + 1);
			citizens_free(p);
			return NULL;
		}
	}
	p->invalid_fold = fold_prefix(c->msg.invalid);
	p->reminder_fold = fold_prefix(c->msg.reminder);
	p->thanks_fold = fold_prefix(c->msg.thanks);
	if (resolve_qdist(p, err, errlen) < 0) {
		citizens_free(p);
		return NULL;
	}
	return p;
nomem:
	snprintf(err, errlen, "out of memory");
	citizens_free(p);
	return NULL;
}

static void citizen_reset(struct citizen *z)
{
	for (int i = 0; i < CAMPAIGN_MAX_QUESTIONS; i++) {
		free(z->reply[i]);
		z->reply[i] = NULL;
		free(z->plan[i]);
		z->plan[i] = NULL;
		free(z->plan_ledger[i]);
		z->plan_ledger[i] = NULL;
	}
	z->drawn = 0;
	z->silent = 0;
	z->stopped = 0;
	z->optout_q = -1;
	z->multi_from = z->multi_to = -1;
	memset(z->invalid_sent, 0, sizeof z->invalid_sent);
	memset(z->answered, 0, sizeof z->answered);
	z->completed = 0;
	z->last_q = -1;
}

void citizens_free(struct citizens *p)
{
	if (!p)
		return;
	if (p->pop) {
		for (int i = 0; i <= p->o.count; i++) {
			if (p->pop[i]) {
				citizen_reset(p->pop[i]);
				free(p->pop[i]);
			}
		}
		free(p->pop);
	}
	for (int i = 0; i < CAMPAIGN_MAX_QUESTIONS; i++)
		free(p->qfold[i]);
	free(p->invalid_fold);
	free(p->reminder_fold);
	free(p->thanks_fold);
	free(p);
}

int citizens_index(const struct citizens *p, const char *msisdn)
{
	if (msisdn[0] == '+')
		msisdn++;
	if (strlen(msisdn) != 11 || strncmp(msisdn, CITIZENS_PREFIX, 4) != 0)
		return 0;
	int idx = 0;
	for (int i = 4; i < 11; i++) {
		if (msisdn[i] < '0' || msisdn[i] > '9')
			return 0;
		idx = idx * 10 + (msisdn[i] - '0');
	}
	return idx >= 1 && idx <= p->o.count ? idx : 0;
}

void citizens_msisdn(int index, char out[16])
{
	snprintf(out, 16, CITIZENS_PREFIX "%07d", index % 10000000);
}

static struct citizen *citizen_get(struct citizens *p, int index)
{
	struct citizen *z = p->pop[index];
	if (z)
		return z;
	z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	uint64_t s = p->o.seed ^ ((uint64_t)index * 0xD1B54A32D192ED03ull);
	z->rng = rng_next(&s);
	z->last_q = -1;
	z->optout_q = -1;
	z->multi_from = z->multi_to = -1;
	p->pop[index] = z;
	return z;
}

struct citizens_recog citizens_recognise(const struct citizens *p, const char *text)
{
	struct citizens_recog r = {CITIZENS_MSG_OTHER, -1};
	char *f = text_fold(text);
	if (!f)
		return r;
	size_t bestlen = 0;
	for (int i = 0; i < p->c->nquestions && i < CAMPAIGN_MAX_QUESTIONS; i++) {
		const char *q = p->qfold[i];
		size_t n = q ? strlen(q) : 0;
		if (n > bestlen && strstr(f, q)) {
			bestlen = n;
			r.question = i;
		}
	}
	if (r.question >= 0) {
		r.kind = CITIZENS_MSG_QUESTION;
		if (p->invalid_fold && strstr(f, p->invalid_fold))
			r.kind = CITIZENS_MSG_REPROMPT;
		else if (p->reminder_fold && strstr(f, p->reminder_fold))
			r.kind = CITIZENS_MSG_REMINDER;
	} else if (p->thanks_fold && strstr(f, p->thanks_fold)) {
		r.kind = CITIZENS_MSG_THANKS;
	} else if (p->reminder_fold && strstr(f, p->reminder_fold)) {
		r.kind = CITIZENS_MSG_REMINDER;
	}
	free(f);
	return r;
}

static void upper_utf8(const char *in, char *out, size_t cap)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)in;
	size_t n = strlen(in), o = 0;
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			break;
		i += (size_t)k;
		utf8proc_uint8_t b[4];
		utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_toupper(cp), b);
		if (o + (size_t)m + 1 > cap)
			break;
		memcpy(out + o, b, (size_t)m);
		o += (size_t)m;
	}
	out[o] = '\0';
}

static const char *pick(struct citizen *z, const char *const *list, int n)
{
	return list[rng_below(&z->rng, n)];
}

/* One word of a label the way it is texted: "không" as ko, k, kg, khg, hok,
 * kô, hông, khum; "rất" as rat or rât; others as written or unaccented. */
static void texted_word(struct citizen *z, const char *word, int plain, char *out, size_t cap)
{
	static const char *const khong[] = {"không", "ko", "k", "kg", "khg", "hok", "kô", "hông", "khum", "Ko", "K"};
	static const char *const rat[] = {"rất", "rat", "rât", "Rất"};
	char *f = text_fold(word);
	char *u = text_unaccent(word);
	if (f && strcmp(f, "khong") == 0)
		copy_str(out, cap, pick(z, khong, 11));
	else if (f && strcmp(f, "rat") == 0)
		copy_str(out, cap, plain ? "rat" : pick(z, rat, 4));
	else
		copy_str(out, cap, plain && u ? u : word);
	free(f);
	free(u);
}

/* A label as a citizen texts it: word by word (texted_word), "hài lòng" now
 * and then as "hl", "bình thường" as "bt", "Rất X" as "X lắm", or all the
 * words joined ("rathailong"). The value meant never changes. */
static void texted_label(struct citizen *z, const char *label, char *out, size_t cap)
{
	char words[16][64];
	int n = 0;
	const char *s = label;
	while (*s && n < 16) {
		size_t len = strcspn(s, " ");
		if (len >= sizeof words[0])
			len = sizeof words[0] - 1;
		memcpy(words[n], s, len);
		words[n][len] = '\0';
		n++;
		s += strcspn(s, " ");
		s += strspn(s, " ");
	}
	int plain = rng_unit(&z->rng) < 0.4;
	int style = rng_below(&z->rng, 10);
	char *f = text_fold(label);
	out[0] = '\0';
	if (style == 0 && f) {
		/* joined: "rathailong", "khonghailong" */
		size_t o = 0;
		for (const char *c = f; *c && o + 1 < cap; c++)
			if (*c != ' ')
				out[o++] = *c;
		out[o] = '\0';
		free(f);
		return;
	}
	int lam = style == 1 && f && strncmp(f, "rat ", 4) == 0 && !strstr(f, "khong");
	free(f);
	size_t o = 0;
	for (int i = lam ? 1 : 0; i < n; i++) {
		char w[64];
		char *a = text_fold(words[i]), *b = i + 1 < n ? text_fold(words[i + 1]) : NULL;
		int pair_hl = a && b && strcmp(a, "hai") == 0 && strcmp(b, "long") == 0 && rng_unit(&z->rng) < 0.3;
		int pair_bt = a && b && strcmp(a, "binh") == 0 && strcmp(b, "thuong") == 0 && rng_unit(&z->rng) < 0.3;
		free(a);
		free(b);
		if (pair_hl || pair_bt) {
			copy_str(w, sizeof w, pair_hl ? (rng_unit(&z->rng) < 0.5 ? "hl" : "HL") : "bt");
			i++;
		} else {
			texted_word(z, words[i], plain, w, sizeof w);
		}
		int k = snprintf(out + o, cap - o, "%s%s", o ? " " : "", w);
		if (k < 0 || (size_t)k >= cap - o)
			break;
		o += (size_t)k;
	}
	if (lam && o + 1 < cap)
		snprintf(out + o, cap - o, " %s", plain ? "lam" : "lắm");
}

/* A reply written as people text: the label texted (texted_label), the
 * legend echoed ("2-Hài lòng", "2. hai long"), politeness around it ("Dạ ...
 * ạ", "Tôi ...", "... a", "Em chọn 2", "Da 2"), a reason after it that
 * agrees with the answer's side (reply_option_side: "Không hài lòng vì
 * phải chờ lâu", "Hài lòng vì thủ tục nhanh"; none for a middle answer),
 * or the key alone. */
static void written_text(struct citizen *z, const struct campaign_option *op, int side, char *out,
                         size_t cap)
{
	char lab[CITIZENS_REPLY_MAX];
	const char *key = op->nkeys > 0 ? op->keys[0] : NULL;
	texted_label(z, op->label, lab, sizeof lab);
	static const char *const good[] = {"cán bộ hướng dẫn tận tình", "thủ tục nhanh", "không phải chờ lâu"};
	static const char *const bad[] = {"phải chờ lâu", "thủ tục rườm rà", "cho lau qua"};
	int form = rng_below(&z->rng, 13);
	if (form == 12 && side != 0) {
		/* an answer, then why */
		snprintf(out, cap, "%s %s %s", lab, rng_unit(&z->rng) < 0.5 ? "vì" : "vi",
		         side > 0 ? pick(z, good, 3) : pick(z, bad, 3));
		return;
	}
	if (form == 12)
		form = 0;
	if (!key && form >= 9)
		form = 0;
	switch (form) {
	case 0: case 1: case 2:
		copy_str(out, cap, lab);
		break;
	case 3:
		snprintf(out, cap, "%s-%s", key ? key : "", lab);
		break;
	case 4:
		snprintf(out, cap, "%s. %s", key ? key : "", lab);
		break;
	case 5:
		snprintf(out, cap, "Dạ %s ạ", lab);
		break;
	case 6:
		snprintf(out, cap, "%s %s", rng_unit(&z->rng) < 0.5 ? "Tôi" : "toi", lab);
		break;
	case 7:
		snprintf(out, cap, "%s a", lab);
		break;
	case 8:
		snprintf(out, cap, "%s, cảm ơn", lab);
		break;
	case 9:
		snprintf(out, cap, "Em chọn %s", key);
		break;
	case 10:
		snprintf(out, cap, "Da %s", key);
		break;
	default:
		copy_str(out, cap, key);
		break;
	}
	if (!key && (form == 3 || form == 4))
		copy_str(out, cap, lab);
}

/* The reply text for one option, as the answer mode says. */
static void option_text(struct citizens *p, struct citizen *z, const struct campaign_question *q, int opt,
                        char *out, size_t cap)
{
	const struct campaign_option *op = &q->opts[opt];
	enum citizens_mode mode = p->o.mode;
	if (mode == CITIZENS_WRITTEN && op->label) {
		written_text(z, op, reply_option_side(q, opt), out, cap);
		return;
	}
	if (mode == CITIZENS_MIXED)
		mode = rng_unit(&z->rng) < 0.5 ? CITIZENS_KEYS : CITIZENS_LABELS;
	if ((mode == CITIZENS_KEYS && op->nkeys > 0) || !op->label) {
		copy_str(out, cap, op->nkeys > 0 ? op->keys[0] : "");
		return;
	}
	double r = rng_unit(&z->rng);
	if (r < 0.6) {
		copy_str(out, cap, op->label);
	} else if (r < 0.85) {
		char *u = text_unaccent(op->label);
		copy_str(out, cap, u ? u : op->label);
		free(u);
	} else {
		upper_utf8(op->label, out, cap);
	}
}

/* Index of the option chosen for question qi: its own weights when the
 * population file gives them; else the distribution for scale questions (by
 * value), uniform for the others or when no option value is weighted. */
static int choose_option(struct citizens *p, struct citizen *z, int qi)
{
	const struct campaign_question *q = &p->c->questions[qi];
	double w[CAMPAIGN_MAX_OPTIONS], sum = 0;
	for (int i = 0; i < q->nopts; i++) {
		w[i] = 0;
		if (p->qweighted[qi]) {
			w[i] = p->qweight[qi][i];
		} else {
			for (int d = 0; q->type == Q_SCALE && d < p->o.ndist; d++)
				if (p->o.dist_value[d] == q->opts[i].value)
					w[i] = p->o.dist_weight[d];
		}
		sum += w[i];
	}
	if (sum <= 0)
		return rng_below(&z->rng, q->nopts);
	double r = rng_unit(&z->rng) * sum;
	int last = 0;
	for (int i = 0; i < q->nopts; i++) {
		if (w[i] <= 0)
			continue;
		if (r < w[i])
			return i;
		r -= w[i];
		last = i;
	}
	return last;
}

static char *ledger_line(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return s;
}

/* 1 when the engine's parser reads `text` as exactly `value` for q. */
static int parses_as(const struct campaign_question *q, const char *text, int value)
{
	struct reply r;
	if (reply_parse(q, text, &r) < 0)
		return 0;
	int ok = r.kind == REPLY_ANSWER && r.nvalues == 1 && r.values[0] == value;
	reply_clear(&r);
	return ok;
}

/* A typo'd variant of an answer the parser still reads as `value` (so the
 * ledger stays what the gateway archives); leaves `text` alone when no
 * variant tried does. Keys get punctuation and spaces, labels a swapped,
 * dropped or doubled ASCII letter. */
static void add_typo(struct citizen *z, const struct campaign_question *q, int value, char *text,
                     size_t cap)
{
	char v[CITIZENS_REPLY_MAX];
	size_t n = strlen(text);
	for (int attempt = 0; attempt < 6; attempt++) {
		if (n <= 2) {
			static const char *const pre[] = {"", " ", "", "(", "", "'"};
			static const char *const post[] = {".", " ", "!", ")", ",", ""};
			int f = rng_below(&z->rng, 6);
			snprintf(v, sizeof v, "%s%s%s", pre[f], text, post[f]);
		} else {
			int i = rng_below(&z->rng, (int)n - 1), kind = rng_below(&z->rng, 3);
			unsigned char a = (unsigned char)text[i], b = (unsigned char)text[i + 1];
			int letters = a < 0x80 && b < 0x80 && a > ' ' && b > ' ';
			if (!letters || n + 2 > sizeof v)
				continue;
			memcpy(v, text, n + 1);
			if (kind == 0) {
				v[i] = (char)b;
				v[i + 1] = (char)a;
			} else if (kind == 1) {
				memmove(v + i, v + i + 1, n - (size_t)i);
			} else {
				memmove(v + i + 1, v + i, n - (size_t)i + 1);
			}
		}
		if (strcmp(v, text) != 0 && parses_as(q, v, value)) {
			copy_str(text, cap, v);
			return;
		}
	}
}

/* A real answer to question qi: fills out->text and out->ledger. With
 * keys_only the option's key is used whatever the answer mode. */
static int real_answer_x(struct citizens *p, struct citizen *z, int index, int qi,
                         struct citizens_reply *out, int keys_only)
{
	const struct campaign_question *q = &p->c->questions[qi];
	char msisdn[16];
	citizens_msisdn(index, msisdn);
	json_t *o = json_object();
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "msisdn", json_string(msisdn));
	json_object_set_new(o, "question", json_string(q->id));
	if (q->type == Q_TEXT || q->nopts == 0) {
		if (!q->optional || rng_unit(&z->rng) < p->o.comment_share) {
			const char *cm = citizens_comments[rng_below(&z->rng, (int)CITIZENS_NCOMMENTS)];
			copy_str(out->text, sizeof out->text, cm);
			json_object_set_new(o, "value", json_null());
			json_object_set_new(o, "text", json_string(cm));
		} else {
			copy_str(out->text, sizeof out->text, "0");
			json_object_set_new(o, "skip", json_true());
			json_object_set_new(o, "value", json_null());
			json_object_set_new(o, "text", json_null());
		}
	} else if (q->type == Q_MULTI) {
		int k = 1 + rng_below(&z->rng, 2);
		int a = rng_below(&z->rng, q->nopts), b = -1;
		if (k == 2 && q->nopts > 1) {
			b = rng_below(&z->rng, q->nopts - 1);
			if (b >= a)
				b++;
		}
		const struct campaign_option *oa = &q->opts[a];
		const char *ka = oa->nkeys ? oa->keys[0] : oa->label;
		json_t *vals = json_array();
		if (b < 0) {
			copy_str(out->text, sizeof out->text, ka);
			json_array_append_new(vals, json_integer(oa->value));
		} else {
			const struct campaign_option *ob = &q->opts[b];
			const char *kb = ob->nkeys ? ob->keys[0] : ob->label;
			snprintf(out->text, sizeof out->text, "%s %s", ka, kb);
			int lo = oa->value < ob->value ? oa->value : ob->value;
			int hi = oa->value < ob->value ? ob->value : oa->value;
			json_array_append_new(vals, json_integer(lo));
			json_array_append_new(vals, json_integer(hi));
		}
		json_object_set_new(o, "value", json_null());
		json_object_set_new(o, "values", vals);
		json_object_set_new(o, "text", json_null());
	} else {
		int opt = choose_option(p, z, qi);
		const struct campaign_option *op = &q->opts[opt];
		if (keys_only && op->nkeys > 0)
			copy_str(out->text, sizeof out->text, op->keys[0]);
		else
			option_text(p, z, q, opt, out->text, sizeof out->text);
		if (!keys_only && p->o.typo_share > 0 && rng_unit(&z->rng) < p->o.typo_share)
			add_typo(z, q, op->value, out->text, sizeof out->text);
		json_object_set_new(o, "value", json_integer(op->value));
		json_object_set_new(o, "text", json_null());
	}
	json_object_set_new(o, "reply", json_string(out->text));
	out->ledger = ledger_line(o);
	if (!out->ledger)
		return -ENOMEM;
	return 0;
}

static int real_answer(struct citizens *p, struct citizen *z, int index, int qi,
                       struct citizens_reply *out)
{
	return real_answer_x(p, z, index, qi, out, 0);
}

/* An unintelligible reply that matches none of the question's options. */
static int gibberish(struct citizens *p, struct citizen *z, int qi, char *out, size_t cap)
{
	const struct campaign_question *q = &p->c->questions[qi];
	int start = rng_below(&z->rng, (int)CITIZENS_NGIBBERISH);
	for (int n = 0; n < (int)CITIZENS_NGIBBERISH; n++) {
		const char *g = citizens_gibberish[(start + n) % (int)CITIZENS_NGIBBERISH];
		char *f = text_fold(g);
		int clash = 0;
		for (int i = 0; f && i < q->nopts && !clash; i++) {
			const struct campaign_option *op = &q->opts[i];
			if (op->label_fold && strcmp(op->label_fold, f) == 0)
				clash = 1;
			for (int k = 0; k < op->nkeys && !clash; k++) {
				/* the whole reply, or one of its letters (multi: "13" is 1 and 3) */
				const char *key = op->keys[k];
				if (strcmp(key, f) == 0 || (key[0] && !key[1] && strchr(f, key[0])))
					clash = 1;
			}
		}
		free(f);
		if (!clash) {
			copy_str(out, cap, g);
			return 0;
		}
	}
	return -ENOENT;
}

static int ledger_put(struct citizens *p, const char *line)
{
	if (!p->ledger)
		return 0;
	if (fputs(line, p->ledger) < 0 || fputc('\n', p->ledger) == EOF || fflush(p->ledger) != 0)
		return -EIO;
	return 0;
}

int citizens_ledger_write(struct citizens *p, const char *line)
{
	if (!strstr(line, "\"event\":"))
		p->answers++; /* events (opted_out, several_answers) are not answers */
	return ledger_put(p, line);
}

/* An event line {"msisdn":..., "event":..., "question":...} (question may be NULL). */
static char *event_line(int index, const char *event, const char *question, const char *reply)
{
	char msisdn[16];
	citizens_msisdn(index, msisdn);
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "msisdn", json_string(msisdn));
		json_object_set_new(o, "event", json_string(event));
		if (question)
			json_object_set_new(o, "question", json_string(question));
		if (reply)
			json_object_set_new(o, "reply", json_string(reply));
	}
	return ledger_line(o);
}

static int put_event(struct citizens *p, int index, const char *event, const char *question)
{
	char *line = event_line(index, event, question, NULL);
	if (!line)
		return -ENOMEM;
	int rc = ledger_put(p, line);
	free(line);
	return rc;
}

/* The answers of a several-answers message were taken for questions
 * [multi_from, upto): write their planned ledger lines. */
static int multi_settle(struct citizens *p, struct citizen *z, int upto)
{
	int rc = 0;
	for (int q = z->multi_from; q >= 0 && q < upto && q < z->multi_to; q++) {
		if (!z->plan_ledger[q])
			continue;
		p->answers++;
		if (ledger_put(p, z->plan_ledger[q]) < 0)
			rc = -EIO;
		z->answered[q] = 1;
		free(z->reply[q]);
		z->reply[q] = z->plan[q];
		z->plan[q] = NULL;
	}
	z->multi_from = z->multi_to = -1;
	return rc;
}

/* Plans one answer per option question from qi on and joins their keys:
 * "1 2 1 1 3". Returns how many (0 when fewer than two questions qualify). */
static int multi_plan(struct citizens *p, struct citizen *z, int index, int qi,
                      struct citizens_reply *out)
{
	int k = qi;
	size_t len = 0;
	out->text[0] = '\0';
	for (; k < p->c->nquestions && k < CAMPAIGN_MAX_QUESTIONS; k++) {
		const struct campaign_question *q = &p->c->questions[k];
		if (q->type == Q_TEXT || q->type == Q_MULTI || q->nopts == 0)
			break;
		struct citizens_reply one;
		memset(&one, 0, sizeof one);
		if (real_answer_x(p, z, index, k, &one, 1) < 0)
			break;
		size_t n = strlen(one.text);
		if (len + n + 2 >= sizeof out->text) {
			free(one.ledger);
			break;
		}
		if (len)
			out->text[len++] = ' ';
		memcpy(out->text + len, one.text, n + 1);
		len += n;
		z->plan[k] = strdup(one.text);
		z->plan_ledger[k] = one.ledger;
	}
	if (k - qi < 2) {
		for (int q = qi; q < k; q++) {
			free(z->plan[q]);
			free(z->plan_ledger[q]);
			z->plan[q] = z->plan_ledger[q] = NULL;
		}
		return 0;
	}
	z->multi_from = qi;
	z->multi_to = k;
	return k - qi;
}

void citizens_unanswer(struct citizens *p, int index)
{
	if (index < 1 || index > p->o.count || !p->pop[index])
		return;
	struct citizen *z = p->pop[index];
	if (z->last_q >= 0 && z->last_q < CAMPAIGN_MAX_QUESTIONS)
		z->answered[z->last_q] = 0;
}

int citizens_receive(struct citizens *p, int index, const char *from, const char *text,
                     struct citizens_reply *out)
{
	memset(out, 0, sizeof *out);
	if (index < 1 || index > p->o.count)
		return 0;
	struct citizen *z = citizen_get(p, index);
	if (!z)
		return -ENOMEM;
	out->index = index;
	copy_str(out->to, sizeof out->to, from);

	struct citizens_recog r = citizens_recognise(p, text);
	if (r.kind == CITIZENS_MSG_THANKS) {
		if (z->completed)
			return 0;
		if (z->multi_from >= 0 && multi_settle(p, z, z->multi_to) < 0)
			return -EIO;
		z->completed = 1;
		p->completed++;
		return put_event(p, index, "completed", NULL);
	}
	int qi = r.question;
	if (r.kind == CITIZENS_MSG_REMINDER && qi < 0) {
		if (z->completed)
			return 0;
		qi = z->last_q;
	}
	if (r.kind == CITIZENS_MSG_OTHER || qi < 0)
		return 0;
	/* A new survey: after the thanks, or a question earlier than the last one. */
	if (z->completed || (r.kind == CITIZENS_MSG_QUESTION && qi < z->last_q))
		citizen_reset(z);
	const struct campaign_question *q = &p->c->questions[qi];
	if (!z->drawn) {
		/* once per survey: does this citizen answer at all, and will it opt out? */
		z->drawn = 1;
		if (p->o.no_reply_share > 0 && rng_unit(&z->rng) < p->o.no_reply_share) {
			z->silent = 1;
			p->no_reply++;
			z->last_q = qi;
			return put_event(p, index, "no_reply", q->id);
		}
		if (p->o.optout_share > 0 && rng_unit(&z->rng) < p->o.optout_share)
			z->optout_q = qi + rng_below(&z->rng, p->c->nquestions - qi);
	}
	if (z->silent || z->stopped) {
		z->last_q = qi > z->last_q ? qi : z->last_q;
		return 0;
	}
	/* A several-answers message was sent: what came back says how much of it
	 * the gateway took. A later question: all before it; a re-prompt or a
	 * reminder of the first: none (it is answered on its own below). */
	if (z->multi_from >= 0) {
		if (r.kind == CITIZENS_MSG_QUESTION && qi > z->multi_from) {
			if (multi_settle(p, z, qi) < 0)
				return -EIO;
		} else if (r.kind != CITIZENS_MSG_QUESTION && qi == z->multi_from) {
			z->answered[qi] = 0;
			z->multi_from = z->multi_to = -1;
		} else {
			return 0; /* a duplicate of the question it answered at once */
		}
	}
	z->last_q = qi;

	int span = p->o.think_max_ms - p->o.think_min_ms;
	double think;
	if (p->o.think_dist == CITIZENS_THINK_EXP) {
		double u = rng_unit(&z->rng);
		think = p->o.think_min_ms - log(1.0 - u) * ((double)span / 2.0);
		if (think > 5.0 * p->o.think_max_ms)
			think = 5.0 * p->o.think_max_ms;
	} else {
		think = p->o.think_min_ms + rng_below(&z->rng, span + 1);
	}
	double tf = p->o.time_factor > 0 ? p->o.time_factor : 1.0;
	think *= tf;
	out->delay_ms = think > 86400000.0 ? 86400000 : (int)think;
	if (p->o.ucs2_share > 0 && rng_unit(&z->rng) < p->o.ucs2_share)
		out->ucs2 = 1;

	if (z->answered[qi]) {
		/* The same question without a re-prompt or reminder is a duplicate:
		 * answering it again would answer the next question. */
		if (r.kind == CITIZENS_MSG_QUESTION)
			return 0;
		copy_str(out->text, sizeof out->text, z->reply[qi]);
		return 1;
	}
	if (qi == z->optout_q) {
		static const char *const stops[] = {"HUY", "Huy", "huy", "STOP"};
		copy_str(out->text, sizeof out->text, stops[rng_below(&z->rng, 4)]);
		out->ledger = event_line(index, "opted_out", q->id, out->text);
		if (!out->ledger)
			return -ENOMEM;
		z->stopped = 1;
		p->opted_out++;
		return 1;
	}
	if (r.kind == CITIZENS_MSG_QUESTION && p->o.late_share > 0 &&
	    rng_unit(&z->rng) < p->o.late_share) {
		/* it reads the question but answers only when reminded */
		return put_event(p, index, "late", q->id);
	}
	if (r.kind == CITIZENS_MSG_QUESTION && qi == 0 && p->o.multi_share > 0 &&
	    rng_unit(&z->rng) < p->o.multi_share && multi_plan(p, z, index, qi, out) > 0) {
		out->ledger = event_line(index, "several_answers", q->id, out->text);
		if (!out->ledger)
			return -ENOMEM;
		for (int k = z->multi_from; k < z->multi_to; k++)
			z->answered[k] = 1; /* until the gateway says which it took */
		return 1;
	}
	if (r.kind == CITIZENS_MSG_QUESTION && !z->invalid_sent[qi] && q->type != Q_TEXT &&
	    p->o.invalid_share > 0 && rng_unit(&z->rng) < p->o.invalid_share &&
	    gibberish(p, z, qi, out->text, sizeof out->text) == 0) {
		z->invalid_sent[qi] = 1;
		return 1;
	}
	int rc;
	if (z->plan[qi] && z->plan_ledger[qi]) {
		/* a re-prompt after the several-answers message: the planned answer */
		copy_str(out->text, sizeof out->text, z->plan[qi]);
		out->ledger = z->plan_ledger[qi];
		z->plan_ledger[qi] = NULL;
		rc = 0;
	} else {
		rc = real_answer(p, z, index, qi, out);
	}
	if (rc < 0)
		return rc;
	z->answered[qi] = 1;
	free(z->reply[qi]);
	z->reply[qi] = strdup(out->text);
	if (!z->reply[qi]) {
		free(out->ledger);
		out->ledger = NULL;
		return -ENOMEM;
	}
	return 1;
}

uint64_t citizens_opted_out(const struct citizens *p)
{
	return p->opted_out;
}

uint64_t citizens_no_reply(const struct citizens *p)
{
	return p->no_reply;
}

const struct campaign *citizens_campaign(const struct citizens *p)
{
	return p->c;
}

void citizens_mark_sent(struct citizens *p, int index, int64_t us)
{
	if (index >= 1 && index <= p->o.count && p->pop[index])
		p->pop[index]->mark_us = us;
}

int64_t citizens_take_mark(struct citizens *p, int index)
{
	if (index < 1 || index > p->o.count || !p->pop[index])
		return 0;
	int64_t t = p->pop[index]->mark_us;
	p->pop[index]->mark_us = 0;
	return t;
}

uint64_t citizens_completed(const struct citizens *p)
{
	return p->completed;
}

uint64_t citizens_answers(const struct citizens *p)
{
	return p->answers;
}
