/* Tests for sim/: argument parsing, citizens (recognition, answers, ledger) and a client scenario against the SMSC on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "campaign.h"
#include "citizens.h"
#include "faults.h"
#include "log.h"
#include "reply.h"
#include "simargs.h"
#include "smpp_pdu.h"
#include "smsc.h"
#include "text.h"
#include "weights.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char test_yaml[] =
	"id: test-sim\n"
	"name: Khảo sát thử\n"
	"channel: sms\n"
	"encoding: auto\n"
	"reminder_after: 2h\n"
	"expire_after: 24h\n"
	"max_invalid: 2\n"
	"scales:\n"
	"  likert5:\n"
	"    satisfied: [5, 4]\n"
	"    options:\n"
	"      - {value: 5, label: Rất hài lòng,       keys: [\"1\", \"a\"]}\n"
	"      - {value: 4, label: Hài lòng,           keys: [\"2\", \"b\"]}\n"
	"      - {value: 3, label: Bình thường,        keys: [\"3\", \"c\"]}\n"
	"      - {value: 2, label: Không hài lòng,     keys: [\"4\", \"d\"]}\n"
	"      - {value: 1, label: Rất không hài lòng, keys: [\"5\", \"e\"]}\n"
	"questions:\n"
	"  - id: access\n"
	"    type: scale\n"
	"    scale: likert5\n"
	"    text: \"Câu {n}/{total}: Ông/Bà đánh giá thế nào về việc tiếp cận dịch vụ (nơi tiếp đón, hướng dẫn, trang thiết bị)?\"\n"
	"  - id: officer\n"
	"    type: scale\n"
	"    scale: likert5\n"
	"    text: \"Câu {n}/{total}: Ông/Bà đánh giá thế nào về thái độ của công chức giải quyết hồ sơ?\"\n"
	"  - id: channel\n"
	"    type: choice\n"
	"    options:\n"
	"      - {value: 1, label: Trực tiếp, keys: [\"1\"]}\n"
	"      - {value: 2, label: Bưu điện, keys: [\"2\"]}\n"
	"      - {value: 3, label: Trực tuyến, keys: [\"3\"]}\n"
	"    text: \"Câu {n}/{total}: Ông/Bà nộp hồ sơ bằng cách nào?\"\n"
	"  - id: again\n"
	"    type: yesno\n"
	"    text: \"Câu {n}/{total}: Ông/Bà có giới thiệu dịch vụ cho người khác không?\"\n"
	"  - id: improve\n"
	"    type: multi\n"
	"    options:\n"
	"      - {value: 1, label: Rút ngắn thời gian, keys: [\"1\"]}\n"
	"      - {value: 2, label: Thái độ cán bộ, keys: [\"2\"]}\n"
	"      - {value: 3, label: Cơ sở vật chất, keys: [\"3\"]}\n"
	"    text: \"Câu {n}/{total}: Cần cải thiện điều gì? (có thể chọn nhiều)\"\n"
	"  - id: comment\n"
	"    type: text\n"
	"    optional: true\n"
	"    text: \"Câu {n}/{total}: Ông/Bà có góp ý gì thêm? Trả lời nội dung góp ý, hoặc 0 để bỏ qua.\"\n"
	"messages:\n"
	"  intro: \"Cảm ơn Ông/Bà đã sử dụng dịch vụ hành chính công. Xin mời trả lời khảo sát.\"\n"
	"  invalid: \"Xin lỗi, câu trả lời chưa hợp lệ.\"\n"
	"  reminder: \"Ông/Bà chưa hoàn thành khảo sát.\"\n"
	"  thanks: \"Xin trân trọng cảm ơn Ông/Bà đã tham gia đánh giá.\"\n";

enum { Q_ACCESS = 0, Q_OFFICER, Q_CHANNEL, Q_AGAIN, Q_IMPROVE, Q_COMMENT, NQ };

static struct campaign *load_test_campaign(void)
{
	struct campaign *c = NULL;
	char err[2048] = "";
	int rc = campaign_parse("test.yaml", test_yaml, strlen(test_yaml), &c, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c->nquestions, NQ);
	return c;
}

static struct citizens *make_pop(const struct campaign *c, int count, uint64_t seed, FILE *ledger,
                                 void (*tweak)(struct citizens_opts *))
{
	struct citizens_opts o;
	citizens_opts_default(&o);
	o.count = count;
	o.seed = seed;
	if (tweak)
		tweak(&o);
	char err[256];
	struct citizens *p = citizens_new(c, &o, ledger, err, sizeof err);
	assert_non_null(p);
	return p;
}

/* The text of the whole ledger file. */
static char *slurp(FILE *f)
{
	fflush(f);
	long n = ftell(f);
	assert_true(n >= 0);
	char *s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	rewind(f);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fseek(f, 0, SEEK_END);
	return s;
}

/* ---- arguments ---- */

static int parse_argv(const char *const *args, int n, struct simargs *a, char *err, size_t errlen)
{
	char *argv[40];
	assert_true(n < 39);
	argv[0] = (char *)"hailong-sim";
	for (int i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	return simargs_parse(n + 1, argv, a, err, errlen);
}

static void test_args_ok(void **state)
{
	(void)state;
	const char *args[] = {"--listen", "127.0.0.1:2775", "--system-id", "hailong", "--password",
	                      "secret", "--campaign", "c.yaml", "--citizens", "200", "--ledger",
	                      "l.jsonl", "--seed", "7", "--think-ms", "5-50", "--invalid-share",
	                      "0.1", "--comment-share=0.5", "--answer-mode", "mixed",
	                      "--distribution", "5:1,1:1", "--receipts", "off", "--control",
	                      "127.0.0.1:8089", "--log-level", "warn"};
	struct simargs a;
	char err[256] = "";
	assert_int_equal(parse_argv(args, (int)N(args), &a, err, sizeof err), 0);
	assert_string_equal(a.listen, "127.0.0.1:2775");
	assert_string_equal(a.system_id, "hailong");
	assert_string_equal(a.password, "secret");
	assert_int_equal(a.cit.count, 200);
	assert_int_equal(a.cit.seed, 7);
	assert_int_equal(a.cit.think_min_ms, 5);
	assert_int_equal(a.cit.think_max_ms, 50);
	assert_true(a.cit.invalid_share > 0.09 && a.cit.invalid_share < 0.11);
	assert_true(a.cit.comment_share > 0.49 && a.cit.comment_share < 0.51);
	assert_int_equal(a.cit.mode, CITIZENS_MIXED);
	assert_int_equal(a.cit.ndist, 2);
	assert_int_equal(a.receipts, 0);
	assert_string_equal(a.control, "127.0.0.1:8089");
	assert_string_equal(a.log_level, "warn");

	/* defaults */
	const char *min[] = {"--listen", "127.0.0.1:0", "--system-id", "x", "--password", "",
	                     "--campaign", "c", "--citizens", "1", "--ledger", "l"};
	assert_int_equal(parse_argv(min, (int)N(min), &a, err, sizeof err), 0);
	assert_int_equal(a.cit.seed, 1);
	assert_int_equal(a.cit.think_min_ms, 20);
	assert_int_equal(a.cit.think_max_ms, 200);
	assert_int_equal(a.cit.mode, CITIZENS_KEYS);
	assert_int_equal(a.cit.ndist, 5);
	assert_int_equal(a.receipts, 1);
	assert_null(a.control);
	const char *help[] = {"--help"};
	assert_int_equal(parse_argv(help, 1, &a, err, sizeof err), 1);
}

static void test_args_errors(void **state)
{
	(void)state;
	static const struct {
		const char *extra[2];   /* appended to a valid command line */
		const char *drop;       /* option removed from it */
		const char *want;       /* in the error message */
	} cases[] = {
		{{"--citizens", "-1"}, NULL, "--citizens"},
		{{"--citizens", "10000000"}, NULL, "--citizens"},
		{{"--citizens", "12x"}, NULL, "--citizens"},
		{{"--think-ms", "200-20"}, NULL, "--think-ms"},
		{{"--think-ms", "a-b"}, NULL, "--think-ms"},
		{{"--invalid-share", "1.5"}, NULL, "--invalid-share"},
		{{"--comment-share", "-0.1"}, NULL, "--comment-share"},
		{{"--answer-mode", "words"}, NULL, "--answer-mode"},
		{{"--distribution", "5:40,4"}, NULL, "--distribution"},
		{{"--distribution", "5:0,4:0"}, NULL, "--distribution"},
		{{"--distribution", "5:1,5:2"}, NULL, "--distribution"},
		{{"--receipts", "yes"}, NULL, "--receipts"},
		{{"--seed", "-3"}, NULL, "--seed"},
		{{"--control", "localhost"}, NULL, "--control"},
		{{"--log-level", "loud"}, NULL, "--log-level"},
		{{"--system-id", "a-very-long-system-id"}, NULL, "--system-id"},
		{{"--password", "toolongpw"}, NULL, "--password"},
		{{"--bogus", "1"}, NULL, "unknown option"},
		{{"stray", NULL}, NULL, "unexpected argument"},
		{{"--seed", NULL}, NULL, "needs a value"},
		{{NULL, NULL}, "--ledger", "--ledger is required"},
		{{NULL, NULL}, "--citizens", "--citizens is required"},
		{{NULL, NULL}, "--campaign", "--campaign is required"},
		{{"--listen", "127.0.0.1"}, "--listen", "--listen"},
		{{"--listen", "127.0.0.1:70000"}, "--listen", "--listen"},
	};
	static const char *const base[] = {"--listen", "127.0.0.1:2775", "--system-id", "hailong",
	                                   "--password", "secret", "--campaign", "c.yaml",
	                                   "--citizens", "10", "--ledger", "l.jsonl"};
	for (size_t i = 0; i < N(cases); i++) {
		const char *args[20];
		int n = 0;
		for (size_t k = 0; k < N(base); k += 2) {
			if (cases[i].drop && strcmp(base[k], cases[i].drop) == 0)
				continue;
			args[n++] = base[k];
			args[n++] = base[k + 1];
		}
		for (int k = 0; k < 2 && cases[i].extra[k]; k++)
			args[n++] = cases[i].extra[k];
		struct simargs a;
		char err[256] = "";
		int rc = parse_argv(args, n, &a, err, sizeof err);
		if (rc != -EINVAL || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc=%d err='%s' want '%s'", i, rc, err, cases[i].want);
	}
}

static void test_hostport(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		const char *host;
		int port;
	} cases[] = {
		{"127.0.0.1:2775", 0, "127.0.0.1", 2775},
		{"127.0.0.1:0", 0, "127.0.0.1", 0},
		{"[::1]:8080", 0, "::1", 8080},
		{"::1:8080", -EINVAL, NULL, 0},
		{":80", -EINVAL, NULL, 0},
		{"127.0.0.1:", -EINVAL, NULL, 0},
		{"127.0.0.1:-1", -EINVAL, NULL, 0},
		{"127.0.0.1:65536", -EINVAL, NULL, 0},
		{"host", -EINVAL, NULL, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char host[64];
		int port = -1;
		int rc = simargs_hostport(cases[i].in, host, sizeof host, &port);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
}

/* ---- citizens ---- */

static void test_msisdn_index(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 50, 1, NULL, NULL);
	char m[16];
	citizens_msisdn(1, m);
	assert_string_equal(m, "84910000001");
	citizens_msisdn(1234567, m);
	assert_string_equal(m, "84911234567");
	assert_int_equal(citizens_index(p, "84910000001"), 1);
	assert_int_equal(citizens_index(p, "+84910000050"), 50);
	assert_int_equal(citizens_index(p, "84910000051"), 0); /* beyond --citizens */
	assert_int_equal(citizens_index(p, "84910000000"), 0);
	assert_int_equal(citizens_index(p, "84920000001"), 0);
	assert_int_equal(citizens_index(p, "8491000001"), 0);
	assert_int_equal(citizens_index(p, "8491000000a"), 0);
	citizens_free(p);
	campaign_free(c);
}

static void test_recognise(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 1, 1, NULL, NULL);
	for (int i = 0; i < c->nquestions; i++) {
		char *q = campaign_render_question(c, i);
		assert_non_null(q);
		struct citizens_recog r = citizens_recognise(p, q);
		assert_int_equal(r.kind, CITIZENS_MSG_QUESTION);
		assert_int_equal(r.question, i);
		/* the same text without diacritics (encoding: unaccented) */
		char *u = text_unaccent(q);
		r = citizens_recognise(p, u);
		assert_int_equal(r.kind, CITIZENS_MSG_QUESTION);
		assert_int_equal(r.question, i);
		/* re-prompt and reminder */
		char buf[2048];
		snprintf(buf, sizeof buf, "%s\n%s", c->msg.invalid, q);
		r = citizens_recognise(p, buf);
		assert_int_equal(r.kind, CITIZENS_MSG_REPROMPT);
		assert_int_equal(r.question, i);
		snprintf(buf, sizeof buf, "%s %s", c->msg.reminder, q);
		r = citizens_recognise(p, buf);
		assert_int_equal(r.kind, CITIZENS_MSG_REMINDER);
		assert_int_equal(r.question, i);
		free(u);
		free(q);
	}
	char buf[2048];
	char *q1 = campaign_render_question(c, 0);
	snprintf(buf, sizeof buf, "%s\n%s", c->msg.intro, q1);
	struct citizens_recog r = citizens_recognise(p, buf);
	assert_int_equal(r.kind, CITIZENS_MSG_QUESTION);
	assert_int_equal(r.question, 0);
	free(q1);
	r = citizens_recognise(p, c->msg.thanks);
	assert_int_equal(r.kind, CITIZENS_MSG_THANKS);
	r = citizens_recognise(p, c->msg.intro);
	assert_int_equal(r.kind, CITIZENS_MSG_OTHER);
	r = citizens_recognise(p, c->msg.reminder);
	assert_int_equal(r.kind, CITIZENS_MSG_REMINDER);
	assert_int_equal(r.question, -1);
	r = citizens_recognise(p, "Khuyến mãi 50% cước gọi");
	assert_int_equal(r.kind, CITIZENS_MSG_OTHER);
	citizens_free(p);
	campaign_free(c);
}

/* The default campaign of config/, when the tests run from the top of the tree. */
static void test_recognise_default_campaign(void **state)
{
	(void)state;
	struct campaign *c = NULL;
	char err[2048];
	if (campaign_load("config/campaigns/default.yaml", &c, err, sizeof err) != 0) {
		fprintf(stderr, "skipped: %s\n", err);
		skip();
	}
	struct citizens *p = make_pop(c, 1, 1, NULL, NULL);
	for (int i = 0; i < c->nquestions; i++) {
		char *q = campaign_render_question(c, i);
		struct citizens_recog r = citizens_recognise(p, q);
		assert_int_equal(r.kind, CITIZENS_MSG_QUESTION);
		assert_int_equal(r.question, i);
		free(q);
	}
	assert_int_equal(citizens_recognise(p, c->msg.thanks).kind, CITIZENS_MSG_THANKS);
	assert_int_equal(citizens_recognise(p, c->msg.intro).kind, CITIZENS_MSG_OTHER);
	citizens_free(p);
	campaign_free(c);
}

/* Feed the whole survey to citizen idx; collects replies and delays into out. */
static void run_survey(struct citizens *p, const struct campaign *c, int idx, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (int i = 0; i < c->nquestions; i++) {
		char *q = campaign_render_question(c, i);
		struct citizens_reply r;
		for (int round = 0; round < 3; round++) {
			int rc = citizens_receive(p, idx, "8088", q, &r);
			assert_int_equal(rc, 1);
			off += (size_t)snprintf(out + off, cap - off, "%d:%s|%s;", r.delay_ms, r.text,
			                        r.ledger ? r.ledger : "-");
			assert_true(off < cap);
			int real = r.ledger != NULL;
			free(r.ledger);
			if (real)
				break;
			/* an unintelligible reply: the gateway re-prompts */
			char buf[2048];
			snprintf(buf, sizeof buf, "%s\n%s", c->msg.invalid, q);
			free(q);
			q = strdup(buf);
		}
		free(q);
	}
}

static void tweak_mixed(struct citizens_opts *o)
{
	o->mode = CITIZENS_MIXED;
	o->invalid_share = 0.3;
	o->comment_share = 0.5;
}

static void test_determinism(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *a = make_pop(c, 100, 42, NULL, tweak_mixed);
	struct citizens *b = make_pop(c, 100, 42, NULL, tweak_mixed);
	struct citizens *d = make_pop(c, 100, 43, NULL, tweak_mixed);
	char ra[8192], rb[8192], rd[8192];
	int differ = 0;
	for (int idx = 1; idx <= 100; idx++) {
		run_survey(a, c, idx, ra, sizeof ra);
		run_survey(b, c, idx, rb, sizeof rb);
		run_survey(d, c, idx, rd, sizeof rd);
		assert_string_equal(ra, rb);
		differ += strcmp(ra, rd) != 0;
	}
	assert_true(differ > 90);
	citizens_free(a);
	citizens_free(b);
	citizens_free(d);
	campaign_free(c);
}

static void tweak_think(struct citizens_opts *o)
{
	o->think_min_ms = 30;
	o->think_max_ms = 40;
}

static void test_answer_distribution(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 4000, 9, NULL, tweak_think);
	char *q = campaign_render_question(c, Q_ACCESS);
	int count[6] = {0};
	for (int idx = 1; idx <= 4000; idx++) {
		struct citizens_reply r;
		assert_int_equal(citizens_receive(p, idx, "8088", q, &r), 1);
		assert_true(r.delay_ms >= 30 && r.delay_ms <= 40);
		json_error_t je;
		json_t *o = json_loads(r.ledger, 0, &je);
		assert_non_null(o);
		int v = (int)json_integer_value(json_object_get(o, "value"));
		assert_true(v >= 1 && v <= 5);
		/* keys mode: the option's first key; key "1" is value 5 */
		char want[16];
		snprintf(want, sizeof want, "%d", 6 - v);
		assert_string_equal(r.text, want);
		count[v]++;
		json_decref(o);
		free(r.ledger);
	}
	/* 40/35/15/7/3 percent, within a few points */
	static const int pct[6] = {0, 3, 7, 15, 35, 40};
	for (int v = 1; v <= 5; v++) {
		int got = count[v] * 100 / 4000;
		if (got < pct[v] - 3 || got > pct[v] + 3)
			fail_msg("value %d: %d%% of answers, want about %d%%", v, got, pct[v]);
	}
	free(q);
	citizens_free(p);
	campaign_free(c);
}

static void tweak_labels(struct citizens_opts *o)
{
	o->mode = CITIZENS_LABELS;
	citizens_parse_distribution("3:1", o);
}

static void test_labels_mode(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 300, 5, NULL, tweak_labels);
	char *q = campaign_render_question(c, Q_OFFICER);
	int variants[3] = {0}; /* as written, unaccented, upper case */
	for (int idx = 1; idx <= 300; idx++) {
		struct citizens_reply r;
		assert_int_equal(citizens_receive(p, idx, "8088", q, &r), 1);
		assert_non_null(strstr(r.ledger, "\"value\":3,"));
		char *f = text_fold(r.text);
		assert_string_equal(f, "binh thuong");
		free(f);
		if (strcmp(r.text, "Bình thường") == 0)
			variants[0]++;
		else if (strcmp(r.text, "Binh thuong") == 0)
			variants[1]++;
		else if (strcmp(r.text, "BÌNH THƯỜNG") == 0)
			variants[2]++;
		else
			fail_msg("unexpected reply '%s'", r.text);
		free(r.ledger);
	}
	assert_true(variants[0] > 0 && variants[1] > 0 && variants[2] > 0);
	free(q);
	citizens_free(p);
	campaign_free(c);
}

static void test_multi_and_choice(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 500, 3, NULL, NULL);
	char *qm = campaign_render_question(c, Q_IMPROVE);
	char *qc = campaign_render_question(c, Q_CHANNEL);
	int two = 0, one = 0, seen[4] = {0};
	for (int idx = 1; idx <= 500; idx++) {
		struct citizens_reply r;
		assert_int_equal(citizens_receive(p, idx, "8088", qm, &r), 1);
		json_t *o = json_loads(r.ledger, 0, NULL);
		json_t *vals = json_object_get(o, "values");
		assert_true(json_is_null(json_object_get(o, "value")));
		assert_true(json_is_array(vals));
		size_t n = json_array_size(vals);
		if (n == 1) {
			one++;
			char want[8];
			snprintf(want, sizeof want, "%d", (int)json_integer_value(json_array_get(vals, 0)));
			assert_string_equal(r.text, want);
		} else {
			assert_int_equal(n, 2);
			two++;
			int a = (int)json_integer_value(json_array_get(vals, 0));
			int b = (int)json_integer_value(json_array_get(vals, 1));
			assert_true(a < b); /* distinct, sorted */
			char w1[8], w2[8];
			snprintf(w1, sizeof w1, "%d %d", a, b);
			snprintf(w2, sizeof w2, "%d %d", b, a);
			assert_true(strcmp(r.text, w1) == 0 || strcmp(r.text, w2) == 0);
		}
		json_decref(o);
		free(r.ledger);
		/* choice: uniform over its options */
		assert_int_equal(citizens_receive(p, idx, "8088", qc, &r), 1);
		int v = r.text[0] - '0';
		assert_true(v >= 1 && v <= 3);
		seen[v]++;
		free(r.ledger);
	}
	assert_true(one > 150 && two > 150);
	for (int v = 1; v <= 3; v++)
		assert_true(seen[v] > 100);
	free(qm);
	free(qc);
	citizens_free(p);
	campaign_free(c);
}

static void tweak_always_invalid(struct citizens_opts *o)
{
	o->invalid_share = 1.0;
	o->comment_share = 0.0;
}

static void test_ledger_format(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	FILE *f = tmpfile();
	assert_non_null(f);
	struct citizens *p = make_pop(c, 3, 11, f, tweak_always_invalid);
	char *q = campaign_render_question(c, Q_ACCESS);
	struct citizens_reply r;

	/* an unintelligible reply first: no ledger line */
	assert_int_equal(citizens_receive(p, 2, "8088", q, &r), 1);
	assert_null(r.ledger);
	char *g = text_fold(r.text);
	assert_non_null(g);
	assert_true(strcmp(g, "1") && strcmp(g, "rat hai long"));
	free(g);
	/* the re-prompt: now the real answer, with its ledger line */
	char buf[2048];
	snprintf(buf, sizeof buf, "%s\n%s", c->msg.invalid, q);
	assert_int_equal(citizens_receive(p, 2, "8088", buf, &r), 1);
	assert_non_null(r.ledger);
	char want[256];
	json_t *o = json_loads(r.ledger, 0, NULL);
	int v = (int)json_integer_value(json_object_get(o, "value"));
	json_decref(o);
	snprintf(want, sizeof want,
	         "{\"msisdn\":\"84910000002\",\"question\":\"access\",\"value\":%d,\"text\":null,\"reply\":\"%d\"}",
	         v, 6 - v);
	assert_string_equal(r.ledger, want);
	assert_int_equal(citizens_ledger_write(p, r.ledger), 0);
	char first[CITIZENS_REPLY_MAX];
	snprintf(first, sizeof first, "%s", r.text);
	free(r.ledger);
	/* a plain duplicate of an answered question is ignored; a re-prompt repeats the answer */
	assert_int_equal(citizens_receive(p, 2, "8088", q, &r), 0);
	assert_int_equal(citizens_receive(p, 2, "8088", buf, &r), 1);
	assert_null(r.ledger);
	assert_string_equal(r.text, first);
	/* the reminder alone repeats the answer to the last question */
	assert_int_equal(citizens_receive(p, 2, "8088", c->msg.reminder, &r), 1);
	assert_string_equal(r.text, first);

	/* optional comment skipped (comment share 0): never an invalid reply for text */
	char *qt = campaign_render_question(c, Q_COMMENT);
	assert_int_equal(citizens_receive(p, 2, "8088", qt, &r), 1);
	assert_string_equal(r.text, "0");
	assert_string_equal(r.ledger, "{\"msisdn\":\"84910000002\",\"question\":\"comment\",\"skip\":true,"
	                              "\"value\":null,\"text\":null,\"reply\":\"0\"}");
	assert_int_equal(citizens_ledger_write(p, r.ledger), 0);
	free(r.ledger);

	/* thanks: the completed line, once */
	assert_int_equal(citizens_receive(p, 2, "8088", c->msg.thanks, &r), 0);
	assert_int_equal(citizens_receive(p, 2, "8088", c->msg.thanks, &r), 0);
	assert_int_equal(citizens_completed(p), 1);
	assert_int_equal(citizens_answers(p), 2);
	/* not one of ours */
	assert_int_equal(citizens_receive(p, 4, "8088", q, &r), 0);

	char *all = slurp(f);
	char expect[1024];
	snprintf(expect, sizeof expect,
	         "%s\n{\"msisdn\":\"84910000002\",\"question\":\"comment\",\"skip\":true,\"value\":null,"
	         "\"text\":null,\"reply\":\"0\"}\n{\"msisdn\":\"84910000002\",\"event\":\"completed\"}\n",
	         want);
	assert_string_equal(all, expect);
	free(all);
	free(qt);
	free(q);
	citizens_free(p);
	fclose(f);
	campaign_free(c);
}

static void tweak_comments(struct citizens_opts *o)
{
	o->comment_share = 1.0;
}

static void test_comments(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 200, 17, NULL, tweak_comments);
	char *q = campaign_render_question(c, Q_COMMENT);
	int long_ones = 0;
	for (int idx = 1; idx <= 200; idx++) {
		struct citizens_reply r;
		assert_int_equal(citizens_receive(p, idx, "8088", q, &r), 1);
		json_t *o = json_loads(r.ledger, 0, NULL);
		assert_true(json_is_null(json_object_get(o, "value")));
		assert_string_equal(json_string_value(json_object_get(o, "text")), r.text);
		assert_null(json_object_get(o, "skip"));
		json_decref(o);
		int units = text_ucs2_units(r.text);
		assert_true(units > 0);
		assert_true(text_gsm7_septets(r.text) < 0); /* Vietnamese: sent as UCS-2 */
		if (units > 70)
			long_ones++;
		free(r.ledger);
	}
	assert_true(long_ones > 20);
	free(q);
	citizens_free(p);
	campaign_free(c);
}

static void tweak_everything(struct citizens_opts *o)
{
	o->mode = CITIZENS_MIXED;
	o->invalid_share = 1.0;
	o->comment_share = 0.5;
}

/* What the citizens send parses, with the gateway's own parser, to what the
 * ledger says they meant; their unintelligible replies do not parse. */
static void check_answers_parse(const struct campaign *c)
{
	struct citizens *p = make_pop(c, 300, 21, NULL, tweak_everything);
	for (int idx = 1; idx <= 300; idx++) {
		for (int i = 0; i < c->nquestions; i++) {
			const struct campaign_question *q = &c->questions[i];
			char *text = campaign_render_question(c, i);
			struct citizens_reply r;
			struct reply rp;
			assert_int_equal(citizens_receive(p, idx, "8088", text, &r), 1);
			if (!r.ledger) {
				assert_int_equal(reply_parse(q, r.text, &rp), 0);
				if (rp.kind != REPLY_INVALID)
					fail_msg("'%s' to %s is understood (kind %d)", r.text, q->id, rp.kind);
				reply_clear(&rp);
				char buf[2048];
				snprintf(buf, sizeof buf, "%s\n%s", c->msg.invalid, text);
				assert_int_equal(citizens_receive(p, idx, "8088", buf, &r), 1);
				assert_non_null(r.ledger);
			}
			assert_int_equal(reply_parse(q, r.text, &rp), 0);
			json_t *o = json_loads(r.ledger, 0, NULL);
			assert_non_null(o);
			if (json_is_true(json_object_get(o, "skip"))) {
				assert_int_equal(rp.kind, REPLY_SKIP);
			} else if (json_is_string(json_object_get(o, "text"))) {
				assert_int_equal(rp.kind, REPLY_ANSWER);
				assert_string_equal(rp.text, json_string_value(json_object_get(o, "text")));
			} else {
				if (rp.kind != REPLY_ANSWER)
					fail_msg("'%s' to %s not understood", r.text, q->id);
				json_t *vals = json_object_get(o, "values");
				if (vals) {
					assert_int_equal(rp.nvalues, (int)json_array_size(vals));
					for (int k = 0; k < rp.nvalues; k++)
						assert_int_equal(rp.values[k],
						                 json_integer_value(json_array_get(vals, (size_t)k)));
				} else {
					assert_int_equal(rp.nvalues, 1);
					assert_int_equal(rp.values[0], json_integer_value(json_object_get(o, "value")));
				}
			}
			json_decref(o);
			reply_clear(&rp);
			free(r.ledger);
			free(text);
		}
	}
	citizens_free(p);
}

static void test_answers_parse(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	check_answers_parse(c);
	campaign_free(c);
	char err[2048];
	if (campaign_load("config/campaigns/default.yaml", &c, err, sizeof err) == 0) {
		check_answers_parse(c);
		campaign_free(c);
	}
}

/* ---- the SMSC, driven by a client on 127.0.0.1 ---- */

struct server {
	struct event_base *base;
	struct smsc *smsc;
	pthread_t th;
};

static void *server_main(void *arg)
{
	struct server *sv = arg;
	event_base_dispatch(sv->base);
	return NULL;
}

struct cli {
	int fd;
	uint32_t seq;
};

static void cli_connect(struct cli *c, int port)
{
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
	c->seq = 0;
	struct timeval tv = {5, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void cli_send(struct cli *c, const uint8_t *b, int n)
{
	assert_true(n >= SMPP_HEADER_LEN);
	assert_int_equal(write(c->fd, b, (size_t)n), n);
}

static int read_full(int fd, uint8_t *b, size_t n)
{
	size_t got = 0;
	for (int guard = 0; guard < 1000 && got < n; guard++) {
		ssize_t k = read(fd, b + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return got == n ? 0 : -1;
}

/* Next PDU (blocking, 5 s timeout per read): its length, or -1 on EOF/timeout. */
static int cli_read(struct cli *c, uint8_t *buf, size_t cap, struct smpp_hdr *h, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (read_full(c->fd, buf, SMPP_HEADER_LEN) < 0)
		return -1;
	uint32_t len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	assert_true(len >= SMPP_HEADER_LEN && len < cap);
	if (read_full(c->fd, buf + SMPP_HEADER_LEN, len - SMPP_HEADER_LEN) < 0)
		return -1;
	assert_int_equal(smpp_frame(buf, len, h), (int)len);
	return (int)len;
}

static void cli_ack(struct cli *c, uint32_t seq, uint32_t status)
{
	uint8_t b[64];
	cli_send(c, b, smpp_build_sm_resp(b, sizeof b, SMPP_DELIVER_SM_RESP, status, seq, ""));
}

/* What came back for one message sent to a citizen. */
struct outcome {
	int resps;            /* submit_sm_resp OK */
	int receipts;
	int mo_parts;         /* MO deliver_sm accepted */
	int appn_sent;        /* MO deliver_sm refused with RX_T_APPN */
	int redelivered;      /* the refused part came again, identical */
	char mo[2048];        /* the reassembled MO text */
	uint8_t mo_dc, mo_esm;
	uint8_t refused[256]; /* body of the refused part */
	size_t refused_len;
};

enum cat { CAT_UDH8, CAT_UDH16, CAT_SAR };

/* Send `text` to `to` as UCS-2 parts concatenated as `cat` asks, then read until
 * the responses, receipts and (if want_mo) the whole MO are in. */
static void send_and_collect(struct cli *c, const char *to, const char *text, enum cat cat,
                             int receipt, int want_mo, int refuse_first, uint16_t ref,
                             struct outcome *out)
{
	memset(out, 0, sizeof *out);
	struct text_parts tp;
	assert_int_equal(text_split(text, TEXT_ENC_UCS2, &tp), 0);
	for (int i = 0; i < tp.nparts; i++) {
		struct smpp_sm sm;
		memset(&sm, 0, sizeof sm);
		snprintf(sm.src_addr, sizeof sm.src_addr, "8088");
		sm.src_ton = 3;
		snprintf(sm.dst_addr, sizeof sm.dst_addr, "%s", to);
		sm.dst_ton = 1;
		sm.dst_npi = 1;
		sm.data_coding = 8;
		sm.registered_delivery = receipt ? 1 : 0;
		size_t off = 0;
		if (tp.nparts > 1 && cat == CAT_UDH8) {
			const uint8_t udh[] = {5, 0, 3, (uint8_t)ref, (uint8_t)tp.nparts, (uint8_t)(i + 1)};
			memcpy(sm.short_message, udh, sizeof udh);
			off = sizeof udh;
			sm.esm_class = 0x40;
		} else if (tp.nparts > 1 && cat == CAT_UDH16) {
			const uint8_t udh[] = {6, 8, 4, (uint8_t)(ref >> 8), (uint8_t)ref,
			                       (uint8_t)tp.nparts, (uint8_t)(i + 1)};
			memcpy(sm.short_message, udh, sizeof udh);
			off = sizeof udh;
			sm.esm_class = 0x40;
		} else if (tp.nparts > 1) {
			sm.has_sar = 1;
			sm.sar_ref = ref;
			sm.sar_total = (uint8_t)tp.nparts;
			sm.sar_seq = (uint8_t)(i + 1);
		}
		memcpy(sm.short_message + off, tp.part[i].data, tp.part[i].len);
		sm.sm_length = off + tp.part[i].len;
		uint8_t b[SMPP_MAX_PDU];
		cli_send(c, b, smpp_build_sm(b, sizeof b, SMPP_SUBMIT_SM, ++c->seq, &sm));
	}
	char parts[8][1024];
	int mo_total = 0, mo_have = 0;
	memset(parts, 0, sizeof parts);
	for (int it = 0; it < 64; it++) {
		int done = out->resps == tp.nparts && out->receipts == (receipt ? tp.nparts : 0) &&
		           (!want_mo || (mo_total > 0 && mo_have == mo_total));
		if (done)
			break;
		uint8_t buf[SMPP_MAX_PDU + 1];
		struct smpp_hdr h;
		int n = cli_read(c, buf, sizeof buf, &h, 5000);
		assert_true(n > 0);
		if (h.id == SMPP_SUBMIT_SM_RESP) {
			assert_int_equal(h.status, SMPP_ESME_ROK);
			char id[66];
			assert_int_equal(smpp_decode_resp_msgid(buf, (size_t)n, id), 0);
			assert_true(strlen(id) > 0 && strspn(id, "0123456789ABCDEF") == strlen(id));
			out->resps++;
			continue;
		}
		assert_int_equal(h.id, SMPP_DELIVER_SM);
		struct smpp_sm sm;
		memset(&sm, 0, sizeof sm);
		assert_int_equal(smpp_decode_sm(buf, (size_t)n, &sm), 0);
		if (sm.esm_class & 0x04) {
			assert_true(sm.has_receipted_id && sm.has_message_state);
			assert_int_equal(sm.message_state, 2);
			char rtext[256];
			snprintf(rtext, sizeof rtext, "%.*s", (int)sm.sm_length, (const char *)sm.short_message);
			char idpart[160];
			snprintf(idpart, sizeof idpart, "id:%s sub:001 dlvrd:001 submit date:", sm.receipted_id);
			assert_true(strncmp(rtext, idpart, strlen(idpart)) == 0);
			assert_non_null(strstr(rtext, " stat:DELIVRD err:000 text:"));
			assert_string_equal(sm.src_addr, to);
			assert_string_equal(sm.dst_addr, "8088");
			cli_ack(c, h.seq, SMPP_ESME_ROK);
			out->receipts++;
			continue;
		}
		assert_string_equal(sm.src_addr, to);
		assert_string_equal(sm.dst_addr, "8088");
		if (refuse_first && !out->appn_sent) {
			out->appn_sent = 1;
			memcpy(out->refused, sm.short_message, sm.sm_length);
			out->refused_len = sm.sm_length;
			cli_ack(c, h.seq, SMPP_ESME_RX_T_APPN);
			continue;
		}
		if (out->appn_sent && !out->redelivered && sm.sm_length == out->refused_len &&
		    memcmp(sm.short_message, out->refused, sm.sm_length) == 0)
			out->redelivered = 1;
		struct smpp_ud ud;
		assert_int_equal(smpp_user_data(&sm, &ud), 0);
		int seq = ud.total > 1 ? ud.seq : 1;
		mo_total = ud.total > 1 ? ud.total : 1;
		assert_true(seq >= 1 && seq <= 8);
		out->mo_dc = sm.data_coding;
		out->mo_esm = sm.esm_class;
		if (!parts[seq - 1][0])
			mo_have++;
		assert_true(text_decode(sm.data_coding, ud.text, ud.text_len, parts[seq - 1],
		                        sizeof parts[0]) >= 0);
		out->mo_parts++;
		cli_ack(c, h.seq, SMPP_ESME_ROK);
	}
	assert_int_equal(out->resps, tp.nparts);
	size_t off = 0;
	for (int i = 0; i < mo_total; i++) {
		size_t k = strlen(parts[i]);
		assert_true(off + k < sizeof out->mo);
		memcpy(out->mo + off, parts[i], k + 1);
		off += k;
	}
}

static void tweak_scenario(struct citizens_opts *o)
{
	o->think_min_ms = 1;
	o->think_max_ms = 5;
	o->comment_share = 1.0;
}

static uint32_t bind_status(struct cli *c, uint32_t cmd, const char *sid, const char *pw)
{
	uint8_t b[256];
	uint32_t seq = ++c->seq;
	cli_send(c, b, smpp_build_bind(b, sizeof b, cmd, seq, sid, pw, ""));
	struct smpp_hdr h;
	assert_true(cli_read(c, b, sizeof b, &h, 5000) > 0);
	assert_int_equal(h.id, cmd | 0x80000000u);
	assert_int_equal(h.seq, seq);
	return h.status;
}

static void test_smsc_scenario(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	FILE *ledger = tmpfile();
	assert_non_null(ledger);
	struct citizens *pop = make_pop(c, 10, 5, ledger, tweak_scenario);
	struct server sv;
	sv.base = event_base_new();
	assert_non_null(sv.base);
	struct smsc_opts so = {.system_id = "hailong", .password = "secret", .receipts = 1,
	                       .retry_ms = 50};
	sv.smsc = smsc_new(sv.base, &so, pop);
	assert_non_null(sv.smsc);
	char err[256];
	assert_int_equal(smsc_listen(sv.smsc, "127.0.0.1:0", err, sizeof err), 0);
	int port = smsc_port(sv.smsc);
	assert_true(port > 0);
	assert_int_equal(pthread_create(&sv.th, NULL, server_main, &sv), 0);

	struct cli cl;
	cli_connect(&cl, port);
	uint8_t b[SMPP_MAX_PDU + 1];
	struct smpp_hdr h;
	/* submit_sm before any bind */
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	snprintf(sm.src_addr, sizeof sm.src_addr, "8088");
	snprintf(sm.dst_addr, sizeof sm.dst_addr, "84910000001");
	sm.sm_length = 2;
	memcpy(sm.short_message, "hi", 2);
	cli_send(&cl, b, smpp_build_sm(b, sizeof b, SMPP_SUBMIT_SM, ++cl.seq, &sm));
	assert_true(cli_read(&cl, b, sizeof b, &h, 5000) > 0);
	assert_int_equal(h.id, SMPP_SUBMIT_SM_RESP);
	assert_int_equal(h.status, SMPP_ESME_RINVBNDSTS);
	/* credentials */
	assert_int_equal(bind_status(&cl, SMPP_BIND_TRANSCEIVER, "hailong", "wrong"),
	                 SMPP_ESME_RINVPASWD);
	assert_int_equal(bind_status(&cl, SMPP_BIND_TRANSCEIVER, "other", "secret"),
	                 SMPP_ESME_RINVSYSID);
	assert_int_equal(bind_status(&cl, SMPP_BIND_TRANSCEIVER, "hailong", "secret"), SMPP_ESME_ROK);
	assert_int_equal(bind_status(&cl, SMPP_BIND_TRANSCEIVER, "hailong", "secret"),
	                 SMPP_ESME_RALYBND);
	/* enquire_link and an unknown command */
	cli_send(&cl, b, smpp_build_header(b, sizeof b, SMPP_ENQUIRE_LINK, 0, 77));
	assert_true(cli_read(&cl, b, sizeof b, &h, 5000) > 0);
	assert_int_equal(h.id, SMPP_ENQUIRE_LINK_RESP);
	assert_int_equal(h.seq, 77);
	cli_send(&cl, b, smpp_build_header(b, sizeof b, 0x00000077u, 0, 78));
	assert_true(cli_read(&cl, b, sizeof b, &h, 5000) > 0);
	assert_int_equal(h.id, SMPP_GENERIC_NACK);
	assert_int_equal(h.status, SMPP_ESME_RINVCMDID);
	assert_int_equal(h.seq, 78);

	/* the survey: every question to citizen 1, concatenated three ways */
	static const enum cat cats[NQ] = {CAT_UDH8, CAT_UDH16, CAT_SAR, CAT_UDH8, CAT_SAR, CAT_UDH8};
	char replies[NQ][2048];
	for (int i = 0; i < NQ; i++) {
		char *q = campaign_render_question(c, i);
		struct outcome o;
		send_and_collect(&cl, "84910000001", q, cats[i], i == 0, 1, i == 0,
		                 (uint16_t)(0x1200 + i), &o);
		if (i == 0) {
			assert_true(o.receipts >= 2); /* one per part */
			assert_true(o.appn_sent && o.redelivered);
		}
		if (i == Q_COMMENT && text_ucs2_units(o.mo) > 70) {
			assert_int_equal(o.mo_dc, 8);
			assert_true(o.mo_esm & 0x40);
			assert_true(o.mo_parts >= 2);
		} else if (text_gsm7_septets(o.mo) >= 0) {
			assert_int_equal(o.mo_dc, 0);
		}
		snprintf(replies[i], sizeof replies[i], "%s", o.mo);
		free(q);
	}
	struct outcome o;
	send_and_collect(&cl, "84910000001", c->msg.thanks, CAT_UDH8, 0, 0, 0, 0x30, &o);
	/* someone who is not a citizen: accepted and receipted, nobody answers */
	send_and_collect(&cl, "84987654321", "Xin chào", CAT_UDH8, 1, 0, 0, 0x31, &o);
	assert_int_equal(o.receipts, 1);
	assert_true(cli_read(&cl, b, sizeof b, &h, 300) < 0);
	/* a framing error: generic_nack, then the connection closes */
	const uint8_t bad[16] = {0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 99};
	cli_send(&cl, bad, sizeof bad);
	assert_true(cli_read(&cl, b, sizeof b, &h, 5000) > 0);
	assert_int_equal(h.id, SMPP_GENERIC_NACK);
	assert_int_equal(h.status, SMPP_ESME_RINVCMDLEN);
	assert_true(cli_read(&cl, b, sizeof b, &h, 5000) < 0);
	close(cl.fd);

	/* a second client: shutdown unbinds it */
	cli_connect(&cl, port);
	assert_int_equal(bind_status(&cl, SMPP_BIND_RECEIVER, "hailong", "secret"), SMPP_ESME_ROK);
	/* stop from this thread: the loop was made thread-safe in main() */
	event_base_loopexit(sv.base, NULL);
	pthread_join(sv.th, NULL);
	smsc_shutdown(sv.smsc, 1000);
	assert_int_equal(pthread_create(&sv.th, NULL, server_main, &sv), 0);
	assert_true(cli_read(&cl, b, sizeof b, &h, 5000) > 0);
	assert_int_equal(h.id, SMPP_UNBIND);
	cli_send(&cl, b, smpp_build_header(b, sizeof b, SMPP_UNBIND_RESP, 0, h.seq));
	pthread_join(sv.th, NULL); /* the loop ends once every session is closed */
	close(cl.fd);

	/* what the citizen received and answered */
	const char *texts[16];
	assert_int_equal(smsc_inbox(sv.smsc, "84910000001", texts, 16), NQ + 1);
	char *q0 = campaign_render_question(c, 0);
	assert_string_equal(texts[0], q0);
	free(q0);
	assert_string_equal(texts[NQ], c->msg.thanks);
	assert_int_equal(smsc_inbox(sv.smsc, "84987654321", texts, 16), 1);
	assert_string_equal(texts[0], "Xin chào");

	char *all = slurp(ledger);
	int lines = 0;
	char *next = NULL;
	for (char *line = all; *line && lines < 64; line = next) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		next = nl + 1;
		json_t *e = json_loads(line, 0, NULL);
		assert_non_null(e);
		assert_string_equal(json_string_value(json_object_get(e, "msisdn")), "84910000001");
		if (lines < NQ) {
			const char *qid = json_string_value(json_object_get(e, "question"));
			assert_string_equal(qid, c->questions[lines].id);
			assert_string_equal(json_string_value(json_object_get(e, "reply")), replies[lines]);
			if (lines == Q_COMMENT)
				assert_string_equal(json_string_value(json_object_get(e, "text")), replies[lines]);
		} else {
			assert_string_equal(json_string_value(json_object_get(e, "event")), "completed");
		}
		json_decref(e);
		lines++;
	}
	assert_int_equal(lines, NQ + 1);
	free(all);

	struct smsc_stats st;
	smsc_stats(sv.smsc, &st);
	assert_int_equal(st.binds, 2);
	assert_int_equal(st.bind_refused, 3);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.answers, NQ);
	assert_true(st.resent >= 1);
	assert_true(st.parts >= 6);
	assert_int_equal(st.messages, NQ + 2);
	assert_int_equal(st.deliver_sm, st.mo + st.receipts);
	char *js = smsc_stats_json(sv.smsc);
	assert_non_null(strstr(js, "\"binds\":2,"));
	free(js);

	smsc_free(sv.smsc);
	event_base_free(sv.base);
	citizens_free(pop);
	fclose(ledger);
	campaign_free(c);
}


/* ---- faults, new flags, behaviours ---- */

static void test_faults_table(void **state)
{
	(void)state;
	struct sim_faults f;
	char err[256];
	sim_faults_default(&f);
	assert_false(sim_faults_any(&f));
	assert_int_equal(f.vendor_status, 0x400);
	assert_int_equal(sim_faults_set_arg(&f, "throttle_share=0.25", err, sizeof err), 0);
	assert_true(f.throttle_share > 0.24 && f.throttle_share < 0.26);
	assert_int_equal(sim_faults_set_arg(&f, "vendor_status=0x401", err, sizeof err), 0);
	assert_int_equal(f.vendor_status, 0x401);
	assert_int_equal(sim_faults_set(&f, "bind_refuse", "13", err, sizeof err), 0);
	assert_int_equal(f.bind_refuse, 13);
	assert_int_equal(sim_faults_set(&f, "disconnect_every_s", "5", err, sizeof err), 0);
	assert_true(sim_faults_any(&f));
	struct sim_faults g;
	sim_faults_default(&g);
	assert_true(g.early_receipt_share == 0); /* off by default */
	assert_int_equal(sim_faults_set_arg(&g, "early_receipt_share=0.5", err, sizeof err), 0);
	assert_true(g.early_receipt_share > 0.49 && g.early_receipt_share < 0.51);
	assert_true(sim_faults_any(&g));
	assert_int_equal(sim_faults_set_arg(&g, "early_receipt_share=2", err, sizeof err), -EINVAL);
	static const char *const bad[] = {"throttle_share=1.5", "nack_share=-0.1", "resp_delay_ms=x",
	                                  "nope=1", "=1", "throttle_share", "resp_delay_ms=-1",
	                                  "disconnect_every_s=999999"};
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(sim_faults_set_arg(&f, bad[i], err, sizeof err), -EINVAL);
	char *js = sim_faults_json(&f);
	assert_non_null(strstr(js, "\"throttle_share\":0.25"));
	assert_non_null(strstr(js, "\"vendor_status\":1025"));
	assert_non_null(strstr(js, "\"early_receipt_share\":0"));
	free(js);
}

static void test_args_more(void **state)
{
	(void)state;
	const char *args[] = {"--listen", "127.0.0.1:0", "--account", "hailong:secret", "--account",
	                      "partner:pw2", "--campaign", "c", "--citizens", "5", "--ledger", "l",
	                      "--fault", "nack_share=0.1", "--receipt-outcomes", "DELIVRD:9,UNDELIV:1",
	                      "--receipt-delay-ms", "10-20", "--receipt-delay-dist", "uniform",
	                      "--receipt-form", "tlv", "--profile",
	                      "realistic", "--optout-share", "0.5", "--time-factor", "0.1",
	                      "--think-dist", "exp", "--ucs2-share", "1", "--enquire-link-s", "5"};
	struct simargs a;
	char err[256] = "";
	assert_int_equal(parse_argv(args, (int)N(args), &a, err, sizeof err), 0);
	assert_string_equal(a.system_id, "hailong");
	assert_string_equal(a.password, "secret");
	assert_int_equal(a.naccounts, 2);
	assert_string_equal(a.accounts[1].system_id, "partner");
	assert_true(a.so.faults.nack_share > 0.09);
	assert_int_equal(a.so.noutcomes, 2);
	assert_int_equal(a.so.outcomes[1].state, 5);
	assert_int_equal(a.so.receipt_min_ms, 10);
	assert_int_equal(a.so.receipt_max_ms, 20);
	assert_int_equal(a.so.receipt_dist, SMSC_DELAY_UNIFORM);
	assert_int_equal(a.so.receipt_form, SMSC_RECEIPT_TLV);
	assert_int_equal(a.cit.mode, CITIZENS_MIXED); /* from the profile */
	assert_true(a.cit.optout_share > 0.49);      /* the flag after it wins */
	assert_int_equal(a.cit.think_dist, CITIZENS_THINK_EXP);
	assert_int_equal(a.so.enquire_link_ms, 5000);
	static const char *const bad[][2] = {{"--enquire-link-s", "-1"}, {"--enquire-link-s", "soon"},{"--account", "nocolon"}, {"--fault", "x=1"},
	                                     {"--receipt-outcomes", "SENT:1"},
	                                     {"--receipt-outcomes", "DELIVRD:0"},
	                                     {"--receipt-form", "pdf"}, {"--profile", "angry"},
	                                     {"--receipt-delay-dist", "normal"},
	                                     {"--receipt-delay-ms", "500-100"},
	                                     {"--time-factor", "0"}, {"--multi-share", "2"}};
	for (size_t i = 0; i < N(bad); i++) {
		const char *b[] = {"--listen", "127.0.0.1:0", "--system-id", "x", "--password", "",
		                   "--campaign", "c", "--citizens", "1", "--ledger", "l", bad[i][0], bad[i][1]};
		assert_int_equal(parse_argv(b, (int)N(b), &a, err, sizeof err), -EINVAL);
	}
}

/* The USSD centre's options: vendor ops, the citizens' behaviours, the faults. */
static void test_args_ussd(void **state)
{
	(void)state;
	const char *args[] = {"--listen", "127.0.0.1:0", "--system-id", "x", "--password", "",
	                      "--campaign", "c", "--citizens", "1", "--ledger", "l",
	                      "--ussd", "*8088#", "--ussd-ops", "1,0x12,0x11,2", "--ussd-release-op", "0x21",
	                      "--ussd-ignore-share", "0.1", "--ussd-invite-share", "0.2",
	                      "--ussd-release-share", "0.3", "--ussd-drop-share", "0.4",
	                      "--ussd-redial-ms", "6500-7000", "--ussd-slow-share", "0.5",
	                      "--ussd-slow-ms", "9000", "--ussd-timeout-ms", "6000"};
	struct simargs a;
	char err[256] = "";
	assert_int_equal(parse_argv(args, (int)N(args), &a, err, sizeof err), 0);
	assert_string_equal(a.so.ussd_code, "*8088#");
	assert_int_equal(a.so.ussd_ops[1], 0x12);
	assert_int_equal(a.so.ussd_ops[2], 0x11);
	assert_int_equal(a.so.ussd_release_op, 0x21);
	assert_true(a.so.ussd_invite_share > 0.19 && a.so.ussd_invite_share < 0.21);
	assert_true(a.so.ussd_drop_share > 0.39 && a.so.ussd_drop_share < 0.41);
	assert_true(a.so.ussd_slow_share > 0.49 && a.so.ussd_slow_share < 0.51);
	assert_int_equal(a.so.ussd_redial_min_ms, 6500);
	assert_int_equal(a.so.ussd_redial_max_ms, 7000);
	assert_int_equal(a.so.ussd_slow_ms, 9000);
	assert_int_equal(a.so.ussd_timeout_ms, 6000);
	static const char *const bad[][2] = {{"--ussd", "*80a#"}, {"--ussd-ops", "1,2,3"},
	                                     {"--ussd-ops", "1,2,3,256"}, {"--ussd-release-op", "0"},
	                                     {"--ussd-release-op", "x"}, {"--ussd-invite-share", "1.1"},
	                                     {"--ussd-drop-share", "-1"}, {"--ussd-redial-ms", "9-1"},
	                                     {"--ussd-slow-ms", "0"}, {"--ussd-timeout-ms", "-5"}};
	for (size_t i = 0; i < N(bad); i++) {
		const char *b[] = {"--listen", "127.0.0.1:0", "--system-id", "x", "--password", "",
		                   "--campaign", "c", "--citizens", "1", "--ledger", "l", bad[i][0], bad[i][1]};
		if (parse_argv(b, (int)N(b), &a, err, sizeof err) != -EINVAL)
			fail_msg("%s %s accepted", bad[i][0], bad[i][1]);
		if (!strstr(err, bad[i][0]))
			fail_msg("%s %s: unclear error '%s'", bad[i][0], bad[i][1], err);
	}
}

static void tweak_optout(struct citizens_opts *o)
{
	o->optout_share = 1.0;
	o->ucs2_share = 1.0;
}

/* Opt-out: HUY at some question, an opted_out ledger line, then silence. */
static void test_optout(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	FILE *ledger = tmpfile();
	struct citizens *p = make_pop(c, 3, 5, ledger, tweak_optout);
	int stopped_at = -1;
	for (int i = 0; i < NQ; i++) {
		char *q = campaign_render_question(c, i);
		struct citizens_reply r;
		int rc = citizens_receive(p, 1, "8088", q, &r);
		free(q);
		if (stopped_at >= 0) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, 1);
		assert_int_equal(r.ucs2, 1);
		if (strstr(r.ledger, "\"event\":\"opted_out\"")) {
			stopped_at = i;
			assert_true(strcmp(r.text, "HUY") == 0 || strcmp(r.text, "Huy") == 0 ||
			            strcmp(r.text, "huy") == 0 || strcmp(r.text, "STOP") == 0);
		}
		free(r.ledger);
	}
	assert_true(stopped_at >= 0);
	assert_int_equal(citizens_opted_out(p), 1);
	citizens_free(p);
	fclose(ledger);
	campaign_free(c);
}

static void tweak_multi(struct citizens_opts *o)
{
	o->multi_share = 1.0;
	o->comment_share = 0;
}

/* Several answers in one message: settled by what the gateway sends next. */
static void test_several_answers(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	FILE *ledger = tmpfile();
	struct citizens *p = make_pop(c, 3, 9, ledger, tweak_multi);
	char *q0 = campaign_render_question(c, 0), *q3 = campaign_render_question(c, Q_IMPROVE);
	struct citizens_reply r;
	/* citizen 1: the gateway took all four (access, officer, channel, again) */
	assert_int_equal(citizens_receive(p, 1, "8088", q0, &r), 1);
	assert_non_null(strstr(r.ledger, "several_answers"));
	int spaces = 0;
	for (const char *t = r.text; *t; t++)
		spaces += *t == ' ';
	assert_int_equal(spaces, 3);
	citizens_ledger_write(p, r.ledger);
	free(r.ledger);
	assert_int_equal(citizens_receive(p, 1, "8088", q0, &r), 0); /* a duplicate */
	assert_int_equal(citizens_receive(p, 1, "8088", q3, &r), 1); /* the 5th question */
	free(r.ledger);
	assert_int_equal(citizens_answers(p), 4);
	/* citizen 2: the gateway re-prompts question 1: the planned answer alone */
	assert_int_equal(citizens_receive(p, 2, "8088", q0, &r), 1);
	char first[16];
	snprintf(first, sizeof first, "%.*s", (int)strcspn(r.text, " "), r.text);
	free(r.ledger);
	char buf[2048];
	snprintf(buf, sizeof buf, "%s %s", c->msg.invalid, q0);
	assert_int_equal(citizens_receive(p, 2, "8088", buf, &r), 1);
	assert_string_equal(r.text, first);
	assert_non_null(strstr(r.ledger, "\"question\":\"access\""));
	free(r.ledger);
	free(q0);
	free(q3);
	citizens_free(p);
	fclose(ledger);
	campaign_free(c);
}

static void tweak_typo(struct citizens_opts *o)
{
	o->typo_share = 1.0;
	o->mode = CITIZENS_MIXED;
}

/* Typos: every one still parses as the value the ledger says. */
static void test_typos(void **state)
{
	(void)state;
	struct campaign *c = load_test_campaign();
	struct citizens *p = make_pop(c, 200, 3, NULL, tweak_typo);
	int changed = 0;
	for (int idx = 1; idx <= 200; idx++) {
		for (int qi = 0; qi < Q_IMPROVE; qi++) {
			char *q = campaign_render_question(c, qi);
			struct citizens_reply r;
			assert_int_equal(citizens_receive(p, idx, "8088", q, &r), 1);
			json_t *e = json_loads(r.ledger, 0, NULL);
			int want = (int)json_integer_value(json_object_get(e, "value"));
			struct reply rp;
			assert_int_equal(reply_parse(&c->questions[qi], r.text, &rp), 0);
			assert_int_equal(rp.kind, REPLY_ANSWER);
			assert_int_equal(rp.values[0], want);
			reply_clear(&rp);
			const struct campaign_question *cq = &c->questions[qi];
			int plain = 0;
			for (int o = 0; o < cq->nopts; o++)
				plain |= (cq->opts[o].nkeys && strcmp(r.text, cq->opts[o].keys[0]) == 0) ||
				         (cq->opts[o].label && strcmp(r.text, cq->opts[o].label) == 0);
			changed += !plain;
			json_decref(e);
			free(r.ledger);
			free(q);
		}
	}
	assert_true(changed > 300);
	citizens_free(p);
	campaign_free(c);
}

static void test_outcomes(void **state)
{
	(void)state;
	struct smsc_opts o;
	memset(&o, 0, sizeof o);
	assert_int_equal(smsc_parse_outcomes("DELIVRD:90,UNDELIV:5,EXPIRED:3,REJECTD:2", &o), 0);
	assert_int_equal(o.noutcomes, 4);
	assert_string_equal(o.outcomes[3].stat, "REJECTD");
	assert_int_equal(o.outcomes[3].state, 8);
	assert_int_equal(smsc_parse_outcomes("DELIVRD", &o), -EINVAL);
	assert_int_equal(smsc_parse_outcomes("DELIVRD:1,", &o), -EINVAL);
	assert_int_equal(smsc_parse_outcomes("delivrd:1", &o), -EINVAL);
}

/* The one "key:weight" list parser behind --distribution and --receipt-outcomes. */
static void test_weights_parse(void **state)
{
	(void)state;
	static const struct {
		const char *spec;
		int want;         /* items, or -EINVAL */
		const char *key2; /* the second key, when there is one */
		double w2;
	} t[] = {
		{"5:40,4:35,3:15", 3, "4", 35},
		{"DELIVRD:90,UNDELIV:5.5", 2, "UNDELIV", 5.5},
		{"a:0,b:1", 2, "b", 1},
		{"x:1", 1, NULL, 0},
		{"", -EINVAL, NULL, 0},
		{"x", -EINVAL, NULL, 0},
		{":1", -EINVAL, NULL, 0},
		{"x:", -EINVAL, NULL, 0},
		{"x:1,", -EINVAL, NULL, 0},
		{"x:1,,y:1", -EINVAL, NULL, 0},
		{"x:1;y:1", -EINVAL, NULL, 0},
		{"x:-1", -EINVAL, NULL, 0},
		{"x:nan", -EINVAL, NULL, 0},
		{"x:inf", -EINVAL, NULL, 0},
		{"x:2e9", -EINVAL, NULL, 0},
		{"x:0,y:0", -EINVAL, NULL, 0},
		{"x,y:1", -EINVAL, NULL, 0},
		{"0123456789abcdef:1", -EINVAL, NULL, 0},   /* key of 16 bytes */
		{"0123456789abcde:1", 1, NULL, 0},          /* 15 */
		{"a:1,b:1,c:1,d:1,e:1", -EINVAL, NULL, 0},  /* more than max (4) */
		{"a:1,b:1,c:1,d:1", 4, "b", 1},
	};
	for (size_t i = 0; i < N(t); i++) {
		struct weights_item it[4];
		int n = weights_parse(t[i].spec, it, 4);
		if (n != t[i].want)
			fail_msg("\"%s\": got %d want %d", t[i].spec, n, t[i].want);
		if (t[i].key2) {
			assert_string_equal(it[1].key, t[i].key2);
			assert_true(it[1].weight == t[i].w2);
		}
	}
	assert_int_equal(weights_parse(NULL, NULL, 4), -EINVAL);
	/* the callers add meaning: numbers, known states, no value twice */
	struct citizens_opts co;
	citizens_opts_default(&co);
	assert_int_equal(citizens_parse_distribution("5:1,05:2", &co), -EINVAL);
	assert_int_equal(citizens_parse_distribution("5x:1", &co), -EINVAL);
	assert_int_equal(citizens_parse_distribution("-2:1,7:3", &co), 0);
	assert_int_equal(co.ndist, 2);
	assert_int_equal(co.dist_value[0], -2);
	assert_true(co.dist_weight[1] == 3);
}

/* Faults over a socket: a refused bind, then generic_nack, a vendor status
 * and a dropped response, switched while the session runs. */
static void test_smsc_faults(void **state)
{
	(void)state;
	struct server sv;
	sv.base = event_base_new();
	struct smsc_account acct = {"partner", "pw2"};
	struct smsc_opts so = {.system_id = "hailong", .password = "secret", .accounts = &acct,
	                       .naccounts = 1, .seed = 3};
	sim_faults_default(&so.faults);
	so.faults.bind_refuse = SMPP_ESME_RBINDFAIL;
	sv.smsc = smsc_new(sv.base, &so, NULL);
	char err[256];
	assert_int_equal(smsc_listen(sv.smsc, "127.0.0.1:0", err, sizeof err), 0);
	assert_int_equal(pthread_create(&sv.th, NULL, server_main, &sv), 0);
	struct cli cl;
	cli_connect(&cl, smsc_port(sv.smsc));
	assert_int_equal(bind_status(&cl, SMPP_BIND_TRANSCEIVER, "partner", "pw2"), SMPP_ESME_RBINDFAIL);
	smsc_faults(sv.smsc)->bind_refuse = 0; /* a plain store, read by the server thread later */
	assert_int_equal(bind_status(&cl, SMPP_BIND_TRANSCEIVER, "partner", "pw2"), SMPP_ESME_ROK);
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	snprintf(sm.src_addr, sizeof sm.src_addr, "8088");
	snprintf(sm.dst_addr, sizeof sm.dst_addr, "84987654321");
	sm.sm_length = 2;
	memcpy(sm.short_message, "hi", 2);
	uint8_t b[SMPP_MAX_PDU + 1];
	struct smpp_hdr h;
	static const struct {
		double nack, vendor, drop;
		uint32_t want_id, want_status;
	} steps[] = {
		{1, 0, 0, SMPP_GENERIC_NACK, SMPP_ESME_RTHROTTLED},
		{0, 1, 0, SMPP_SUBMIT_SM_RESP, 0x400},
		{0, 0, 1, 0, 0},
		{0, 0, 0, SMPP_SUBMIT_SM_RESP, SMPP_ESME_ROK},
	};
	for (size_t i = 0; i < N(steps); i++) {
		struct sim_faults *f = smsc_faults(sv.smsc);
		f->nack_share = steps[i].nack;
		f->vendor_share = steps[i].vendor;
		f->drop_resp_share = steps[i].drop;
		uint32_t seq = ++cl.seq;
		cli_send(&cl, b, smpp_build_sm(b, sizeof b, SMPP_SUBMIT_SM, seq, &sm));
		int n = cli_read(&cl, b, sizeof b, &h, steps[i].want_id ? 5000 : 300);
		if (!steps[i].want_id) {
			assert_true(n < 0); /* never answered */
			continue;
		}
		assert_true(n > 0);
		assert_int_equal(h.id, steps[i].want_id);
		assert_int_equal(h.status, steps[i].want_status);
		assert_int_equal(h.seq, seq);
	}
	close(cl.fd);
	event_base_loopexit(sv.base, NULL);
	pthread_join(sv.th, NULL);
	struct smsc_stats st;
	smsc_stats(sv.smsc, &st);
	assert_int_equal(st.faults, 4); /* the refused bind, the nack, the vendor status, the drop */
	smsc_free(sv.smsc);
	event_base_free(sv.base);
}

/* ---- receipts after their response ---- */

static void test_receipt_delay_draw(void **state)
{
	(void)state;
	const double u_hi = 0.06687; /* exp(-2.326^2 / 2): |z| = 2.326 */
	static const struct {
		int lo, hi;
		enum smsc_delay_dist dist;
		double u1, u2;
		int want_min, want_max;
	} cases[] = {
		{250, 6000, SMSC_DELAY_LOGNORMAL, 1.0, 0.0, 1220, 1230},   /* z = 0: the median sqrt(lo*hi) */
		{250, 6000, SMSC_DELAY_LOGNORMAL, u_hi, 0.0, 5990, 6000},  /* z = +2.326: hi */
		{250, 6000, SMSC_DELAY_LOGNORMAL, u_hi, 0.5, 250, 252},    /* z = -2.326: lo */
		{250, 6000, SMSC_DELAY_LOGNORMAL, 1e-12, 0.0, 6000, 6000}, /* clamped to hi */
		{250, 6000, SMSC_DELAY_LOGNORMAL, 1e-12, 0.5, 250, 250},   /* clamped to lo */
		{100, 200, SMSC_DELAY_UNIFORM, 0.5, 0.0, 150, 151},
		{100, 200, SMSC_DELAY_UNIFORM, 1.0, 0.0, 200, 200},
		{0, 0, SMSC_DELAY_LOGNORMAL, 0.3, 0.3, 0, 0},              /* 0-0: at once */
		{700, 700, SMSC_DELAY_LOGNORMAL, 0.3, 0.3, 700, 700},      /* fixed */
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smsc_opts o;
		memset(&o, 0, sizeof o);
		o.receipt_min_ms = cases[i].lo;
		o.receipt_max_ms = cases[i].hi;
		o.receipt_dist = cases[i].dist;
		int d = smsc_receipt_delay_ms(&o, cases[i].u1, cases[i].u2);
		if (d < cases[i].want_min || d > cases[i].want_max)
			fail_msg("case %zu: %d not in %d..%d", i, d, cases[i].want_min, cases[i].want_max);
	}
	/* the command line's default looks like handsets: 90 % between 300 ms and 5 s */
	struct simargs a;
	char err[256];
	char *argv[] = {"hailong-sim", "--listen", "127.0.0.1:0", "--system-id", "x", "--password", "",
	                "--campaign", "c", "--citizens", "1", "--ledger", "l"};
	assert_int_equal(simargs_parse((int)N(argv), argv, &a, err, sizeof err), 0);
	assert_int_equal(a.so.receipt_dist, SMSC_DELAY_LOGNORMAL);
	assert_int_equal(a.so.receipt_min_ms, SMSC_RECEIPT_MIN_MS_DEFAULT);
	assert_int_equal(a.so.receipt_max_ms, SMSC_RECEIPT_MAX_MS_DEFAULT);
	uint64_t st = 7;
	int in = 0, n = 2000;
	double sum = 0;
	for (int i = 0; i < n; i++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		double u1 = ((double)(st >> 11) + 1) / 9007199254740992.0;
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		double u2 = ((double)(st >> 11) + 1) / 9007199254740992.0;
		int d = smsc_receipt_delay_ms(&a.so, u1, u2);
		assert_true(d >= SMSC_RECEIPT_MIN_MS_DEFAULT && d <= SMSC_RECEIPT_MAX_MS_DEFAULT);
		in += d >= 300 && d <= 5000;
		sum += d;
	}
	assert_true(in >= n * 90 / 100);
	assert_true(sum / n > 1000 && sum / n < 2500);
}

/* Submits "hi" to 84987654321 asking for a receipt; returns its sequence number. */
static uint32_t submit_hi(struct cli *c)
{
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	snprintf(sm.src_addr, sizeof sm.src_addr, "8088");
	snprintf(sm.dst_addr, sizeof sm.dst_addr, "84987654321");
	sm.registered_delivery = 1;
	sm.sm_length = 2;
	memcpy(sm.short_message, "hi", 2);
	uint8_t b[SMPP_MAX_PDU];
	uint32_t seq = ++c->seq;
	cli_send(c, b, smpp_build_sm(b, sizeof b, SMPP_SUBMIT_SM, seq, &sm));
	return seq;
}

/* Next PDU within timeout_ms: 'R' a submit_sm_resp (id filled), 'D' a receipt
 * (acknowledged, id filled), 0 none. */
static int next_pdu(struct cli *c, int timeout_ms, char id[66])
{
	uint8_t b[SMPP_MAX_PDU + 1];
	struct smpp_hdr h;
	int n = cli_read(c, b, sizeof b, &h, timeout_ms);
	if (n < 0)
		return 0;
	if (h.id == SMPP_SUBMIT_SM_RESP) {
		assert_int_equal(h.status, SMPP_ESME_ROK);
		assert_int_equal(smpp_decode_resp_msgid(b, (size_t)n, id), 0);
		return 'R';
	}
	assert_int_equal(h.id, SMPP_DELIVER_SM);
	struct smpp_sm sm;
	memset(&sm, 0, sizeof sm);
	assert_int_equal(smpp_decode_sm(b, (size_t)n, &sm), 0);
	assert_true(sm.esm_class & 0x04);
	snprintf(id, 66, "%s", sm.receipted_id);
	cli_ack(c, h.seq, SMPP_ESME_ROK);
	return 'D';
}

static void start_server(struct server *sv, const struct smsc_opts *so)
{
	sv->base = event_base_new();
	assert_non_null(sv->base);
	sv->smsc = smsc_new(sv->base, so, NULL);
	assert_non_null(sv->smsc);
	char err[256];
	assert_int_equal(smsc_listen(sv->smsc, "127.0.0.1:0", err, sizeof err), 0);
	assert_int_equal(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void stop_server(struct server *sv, struct smsc_stats *st)
{
	event_base_loopexit(sv->base, NULL);
	pthread_join(sv->th, NULL);
	smsc_stats(sv->smsc, st);
	smsc_free(sv->smsc);
	event_base_free(sv->base);
}

/* A receipt never leaves before its message's submit_sm_resp: on a
 * transceiver, on a transmitter + receiver of the same account (not on
 * another account's receiver), with the response delayed, lost or cut off by
 * a closed connection; and before it only with early_receipt_share. */
static void test_receipt_order(void **state)
{
	(void)state;
	struct smsc_account acct = {"partner", "pw2"};
	struct smsc_opts so = {.system_id = "hailong", .password = "secret", .accounts = &acct,
	                       .naccounts = 1, .seed = 5, .receipts = 1};
	struct server sv;
	start_server(&sv, &so);
	int port = smsc_port(sv.smsc);
	struct sim_faults *f = smsc_faults(sv.smsc);
	char id[66], rid[66];

	/* a transceiver, the response 300 ms late: the response, then the receipt */
	struct cli trx;
	cli_connect(&trx, port);
	assert_int_equal(bind_status(&trx, SMPP_BIND_TRANSCEIVER, "hailong", "secret"), SMPP_ESME_ROK);
	f->resp_delay_ms = 300;
	submit_hi(&trx);
	assert_int_equal(next_pdu(&trx, 2000, id), 'R');
	assert_int_equal(next_pdu(&trx, 2000, rid), 'D');
	assert_string_equal(rid, id);
	close(trx.fd);

	/* transmitter + receiver of hailong, a receiver of partner */
	struct cli tx, rx, other;
	cli_connect(&rx, port);
	assert_int_equal(bind_status(&rx, SMPP_BIND_RECEIVER, "hailong", "secret"), SMPP_ESME_ROK);
	cli_connect(&other, port);
	assert_int_equal(bind_status(&other, SMPP_BIND_RECEIVER, "partner", "pw2"), SMPP_ESME_ROK);
	cli_connect(&tx, port);
	assert_int_equal(bind_status(&tx, SMPP_BIND_TRANSMITTER, "hailong", "secret"), SMPP_ESME_ROK);
	submit_hi(&tx);
	assert_int_equal(next_pdu(&rx, 200, rid), 0); /* not before the response */
	assert_int_equal(next_pdu(&tx, 2000, id), 'R');
	assert_int_equal(next_pdu(&rx, 2000, rid), 'D');
	assert_string_equal(rid, id);
	assert_int_equal(next_pdu(&other, 100, rid), 0); /* never to another account */

	/* a lost response: the receipt waits for the account's next response */
	f->resp_delay_ms = 0;
	f->drop_resp_share = 1;
	submit_hi(&tx);
	assert_int_equal(next_pdu(&tx, 300, id), 0);
	assert_int_equal(next_pdu(&rx, 300, rid), 0);
	f->drop_resp_share = 0;
	submit_hi(&tx); /* the ESME's resubmission */
	assert_int_equal(next_pdu(&tx, 2000, id), 'R');
	char r1[66], r2[66];
	assert_int_equal(next_pdu(&rx, 2000, r1), 'D');
	assert_int_equal(next_pdu(&rx, 2000, r2), 'D');
	assert_true(strcmp(r1, id) == 0 || strcmp(r2, id) == 0);
	assert_string_not_equal(r1, r2);

	/* the connection drops while the response is held back: an orphan too */
	f->resp_delay_ms = 400;
	submit_hi(&tx);
	usleep(50 * 1000);
	close(tx.fd);
	assert_int_equal(next_pdu(&rx, 700, rid), 0);
	f->resp_delay_ms = 0;
	cli_connect(&tx, port);
	assert_int_equal(bind_status(&tx, SMPP_BIND_TRANSMITTER, "hailong", "secret"), SMPP_ESME_ROK);
	assert_int_equal(next_pdu(&rx, 200, rid), 0);
	submit_hi(&tx);
	assert_int_equal(next_pdu(&tx, 2000, id), 'R');
	assert_int_equal(next_pdu(&rx, 2000, r1), 'D');
	assert_int_equal(next_pdu(&rx, 2000, r2), 'D');
	assert_true(strcmp(r1, id) == 0 || strcmp(r2, id) == 0);

	/* early_receipt_share: the receipt first, on purpose, on the receiver and
	 * on a transceiver */
	f->early_receipt_share = 1;
	submit_hi(&tx);
	assert_int_equal(next_pdu(&rx, 2000, rid), 'D');
	assert_int_equal(next_pdu(&tx, 2000, id), 'R');
	assert_string_equal(rid, id);
	close(other.fd); /* partner's only receiver is now its transceiver */
	usleep(100 * 1000);
	cli_connect(&trx, port);
	assert_int_equal(bind_status(&trx, SMPP_BIND_TRANSCEIVER, "partner", "pw2"), SMPP_ESME_ROK);
	submit_hi(&trx);
	assert_int_equal(next_pdu(&trx, 2000, rid), 'D');
	assert_int_equal(next_pdu(&trx, 2000, id), 'R');
	assert_string_equal(rid, id);
	/* partner's receipts go to its transceiver or its receiver, never to hailong's */
	assert_int_equal(next_pdu(&rx, 100, rid), 0);
	close(trx.fd);
	close(tx.fd);
	close(rx.fd);
	struct smsc_stats st;
	stop_server(&sv, &st);
	assert_int_equal(st.receipts_early, 2);
	assert_int_equal(st.receipts_orphaned, 2);
	assert_int_equal(st.receipts, 8);
}

/* A receipt leaves its delay after the response, not at once. */
static void test_receipt_delay_socket(void **state)
{
	(void)state;
	struct smsc_opts so = {.system_id = "hailong", .password = "secret", .seed = 9, .receipts = 1,
	                       .receipt_min_ms = 300, .receipt_max_ms = 400};
	struct server sv;
	start_server(&sv, &so);
	struct cli c;
	cli_connect(&c, smsc_port(sv.smsc));
	assert_int_equal(bind_status(&c, SMPP_BIND_TRANSCEIVER, "hailong", "secret"), SMPP_ESME_ROK);
	char id[66], rid[66];
	submit_hi(&c);
	assert_int_equal(next_pdu(&c, 2000, id), 'R');
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	assert_int_equal(next_pdu(&c, 250, rid), 0);
	assert_int_equal(next_pdu(&c, 2000, rid), 'D');
	gettimeofday(&t1, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	assert_true(ms >= 290 && ms < 1500);
	assert_string_equal(rid, id);
	close(c.fd);
	struct smsc_stats st;
	stop_server(&sv, &st);
	assert_int_equal(st.receipts, 1);
}

/* ---- population files (--population) ---- */

static const char pop_good[] =
	"# a population\n"                                   /* 1 */
	"profile: hostile\n"                                 /* 2 */
	"shares: {no_reply: 0.1, invalid: 0.05, late: 0.05,\n"
	"         optout: 0.01, multi: 0.1, typo: 0.05,\n"
	"         ucs2: 0.2, comment: 0.4}\n"                 /* 5 */
	"answer_mode: labels\n"                              /* 6 */
	"distribution: \"5:50,1:50\"\n"                      /* 7 */
	"think_ms: 10-30\n"                                  /* 8 */
	"think_dist: exp\n"                                  /* 9 */
	"time_factor: 0.5\n"                                 /* 10 */
	"questions:\n"                                       /* 11 */
	"  officer: \"5:10,4:20,3:30,2:30,1:10\"\n"          /* 12 */
	"  channel: {1: 70, 2: 30}\n"                        /* 13 */
	"  again:\n"                                         /* 14 */
	"    1: 0.9\n"                                       /* 15 */
	"    2: 0.1\n";                                      /* 16 */

static void test_population_parse(void **state)
{
	(void)state;
	struct citizens_opts o;
	citizens_opts_default(&o);
	char err[1024] = "";
	int rc = simargs_population_parse("pop.yaml", pop_good, strlen(pop_good), &o, err,
	                                  sizeof err);
	if (rc != 0)
		fail_msg("%s", err);
	assert_string_equal(o.qdist_file, "pop.yaml");
	assert_int_equal(o.mode, CITIZENS_LABELS);
	assert_true(o.no_reply_share > 0.099 && o.no_reply_share < 0.101);
	assert_true(o.invalid_share > 0.049 && o.invalid_share < 0.051); /* not hostile's 0.3 */
	assert_true(o.optout_share > 0.009 && o.optout_share < 0.011);
	assert_true(o.multi_share > 0.099 && o.multi_share < 0.101);
	assert_true(o.typo_share > 0.049 && o.typo_share < 0.051);
	assert_true(o.ucs2_share > 0.199 && o.ucs2_share < 0.201);
	assert_true(o.comment_share > 0.399 && o.comment_share < 0.401);
	assert_int_equal(o.think_min_ms, 10);
	assert_int_equal(o.think_max_ms, 30);
	assert_int_equal(o.think_dist, CITIZENS_THINK_EXP);
	assert_true(o.time_factor > 0.49 && o.time_factor < 0.51);
	assert_int_equal(o.ndist, 2);
	assert_int_equal(o.dist_value[1], 1);
	assert_int_equal(o.nqdist, 3);
	assert_string_equal(o.qdist[0].question, "officer");
	assert_int_equal(o.qdist[0].line, 12);
	assert_int_equal(o.qdist[0].n, 5);
	assert_int_equal(o.qdist[0].value[2], 3);
	assert_true(o.qdist[0].weight[2] == 30);
	assert_string_equal(o.qdist[1].question, "channel");
	assert_int_equal(o.qdist[1].n, 2);
	assert_int_equal(o.qdist[1].value[0], 1);
	assert_true(o.qdist[1].weight[0] == 70);
	assert_int_equal(o.qdist[2].value_line[1], 16);
	assert_true(o.qdist[2].weight[1] > 0.09 && o.qdist[2].weight[1] < 0.11);

	/* it checks out against the campaign */
	struct campaign *c = load_test_campaign();
	o.count = 3;
	struct citizens *p = citizens_new(c, &o, NULL, err, sizeof err);
	if (!p)
		fail_msg("%s", err);
	citizens_free(p);

	/* the profile alone, keys from an earlier file kept unless given again */
	static const char only_profile[] = "profile: realistic\n";
	assert_int_equal(simargs_population_parse("p2.yaml", only_profile, strlen(only_profile), &o,
	                                          err, sizeof err),
	                 0);
	assert_true(o.invalid_share > 0.049 && o.invalid_share < 0.051);
	assert_true(o.no_reply_share > 0.079 && o.no_reply_share < 0.081);
	assert_int_equal(o.mode, CITIZENS_MIXED);
	assert_int_equal(o.nqdist, 3);
	/* a failed file changes nothing */
	struct citizens_opts before = o;
	static const char broken[] = "answer_mode: keys\nquestions: {officer: \"5:-1\"}\n";
	assert_int_equal(
	        simargs_population_parse("p3.yaml", broken, strlen(broken), &o, err, sizeof err),
	        -EINVAL);
	assert_memory_equal(&before, &o, sizeof o);
	campaign_free(c);
}

static void test_population_errors(void **state)
{
	(void)state;
	static const struct {
		const char *yaml;
		const char *want; /* the whole "file:line: ..." start of one error */
	} cases[] = {
	        {"colour: red\n", "pop.yaml:1: population: unknown key 'colour'"},
	        {"answer_mode: keys\nshares: {invalid: 0.1, bogus: 1}\n",
	         "pop.yaml:2: shares: unknown key 'bogus'"},
	        {"shares:\n  late: 1.5\n", "pop.yaml:2: shares.late: 1.5 is out of range"},
	        {"shares: {typo: lots}\n", "pop.yaml:1: shares.typo: expected a number"},
	        {"shares: [1]\n", "pop.yaml:1: shares: expected a mapping"},
	        {"profile: angry\n", "pop.yaml:1: profile: expected ideal, realistic or hostile"},
	        {"\nanswer_mode: words\n",
	         "pop.yaml:2: answer_mode: expected keys, labels, mixed or written"},
	        {"distribution: \"5:40,4\"\n", "pop.yaml:1: distribution: expected VALUE:WEIGHT"},
	        {"distribution: \"5:0,4:0\"\n", "pop.yaml:1: distribution: every weight is 0"},
	        {"distribution: \"5:1,5:2\"\n", "pop.yaml:1: distribution: value 5 is given twice"},
	        {"questions:\n  officer: \"5:10,4:-20\"\n",
	         "pop.yaml:2: questions.officer: the weight of 4 is negative"},
	        {"questions:\n  officer:\n    5: 1\n    4: -2\n",
	         "pop.yaml:4: questions.officer: the weight of 4 is negative"},
	        {"questions:\n  channel: {1: 0, 2: 0}\n",
	         "pop.yaml:2: questions.channel: every weight is 0"},
	        {"questions:\n  channel: {}\n", "pop.yaml:2: questions.channel: no values given"},
	        {"questions:\n  channel:\n    one: 1\n",
	         "pop.yaml:3: questions.channel: expected a whole number"},
	        {"questions:\n  channel:\n    1: many\n",
	         "pop.yaml:3: questions.channel: expected a number"},
	        {"questions:\n  channel: [1, 2]\n",
	         "pop.yaml:2: questions.channel: expected \"VALUE:WEIGHT,...\""},
	        {"questions:\n  channel: \"1:1\"\n  channel: \"2:1\"\n",
	         "pop.yaml:3: questions: duplicate key 'channel'"},
	        {"questions: \"1:1\"\n", "pop.yaml:1: questions: expected a mapping"},
	        {"think_ms: 30-10\n", "pop.yaml:1: think_ms: expected MIN-MAX"},
	        {"think_dist: normal\n", "pop.yaml:1: think_dist: expected uniform or exp"},
	        {"time_factor: 0\n", "pop.yaml:1: time_factor: must be above 0"},
	        {"- 1\n", "pop.yaml:1: population: expected a mapping"},
	        {"questions: {channel: \"1:1\"\n", "pop.yaml:2: YAML syntax error"},
	        {"", "pop.yaml:1: the file is empty"},
	        {"a: 1\n---\nb: 2\n", "pop.yaml:2: only one YAML document"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct citizens_opts o;
		citizens_opts_default(&o);
		char err[1024] = "";
		int rc = simargs_population_parse("pop.yaml", cases[i].yaml, strlen(cases[i].yaml),
		                                  &o, err, sizeof err);
		if (rc != -EINVAL || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc=%d err='%s' want '%s'", i, rc, err, cases[i].want);
	}

	/* well-formed, but not this campaign: citizens_new says where */
	static const struct {
		const char *yaml;
		const char *want;
	} camp[] = {
	        {"questions:\n  access: \"5:1\"\n  nope: \"1:1\"\n",
	         "pop.yaml:3: questions: 'nope' is not a question of campaign 'test-sim'"},
	        {"questions:\n  officer: \"5:1,9:1\"\n",
	         "pop.yaml:2: questions.officer: 9 is not a value"},
	        {"questions:\n  channel:\n    1: 5\n    4: 5\n",
	         "pop.yaml:4: questions.channel: 4 is not a value of that question (1, 2, 3)"},
	        {"\nquestions:\n  again: {0: 1}\n",
	         "pop.yaml:3: questions.again: 0 is not a value"},
	        {"questions:\n  improve: \"1:1\"\n",
	         "pop.yaml:2: questions.improve: a multi question"},
	        {"questions:\n  comment: \"1:1\"\n",
	         "pop.yaml:2: questions.comment: a text question"},
	};
	struct campaign *c = load_test_campaign();
	for (size_t i = 0; i < N(camp); i++) {
		struct citizens_opts o;
		citizens_opts_default(&o);
		o.count = 2;
		char err[1024] = "";
		int rc = simargs_population_parse("pop.yaml", camp[i].yaml, strlen(camp[i].yaml),
		                                  &o, err, sizeof err);
		if (rc != 0)
			fail_msg("case %zu parses: %s", i, err);
		struct citizens *p = citizens_new(c, &o, NULL, err, sizeof err);
		if (p || !strstr(err, camp[i].want))
			fail_msg("case %zu: err='%s' want '%s'", i, err, camp[i].want);
	}
	campaign_free(c);
}

/* config/population.example.yaml fits config/campaigns/default.yaml, when the
 * tests run from the top of the tree. */
static void test_population_example(void **state)
{
	(void)state;
	struct campaign *c = NULL;
	char err[2048];
	if (campaign_load("config/campaigns/default.yaml", &c, err, sizeof err) != 0) {
		fprintf(stderr, "skipped: %s\n", err);
		skip();
	}
	struct citizens_opts o;
	citizens_opts_default(&o);
	o.count = 1;
	if (simargs_population("config/population.example.yaml", &o, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(o.nqdist, 2);
	struct citizens *p = citizens_new(c, &o, NULL, err, sizeof err);
	if (!p)
		fail_msg("%s", err);
	citizens_free(p);
	campaign_free(c);
}

/* --population applies where it stands: flags before it are overridden by
 * the file, flags after it override the file. */
static void test_population_flags(void **state)
{
	(void)state;
	char path[] = "/tmp/hailong-test-pop-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char text[] = "shares: {invalid: 0.3, typo: 0.2}\nanswer_mode: labels\n"
	                           "questions: {officer: {1: 100}}\n";
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	const char *args[] = {
	        "--listen",      "127.0.0.1:0", "--system-id",     "x",   "--password",   "",
	        "--campaign",    "c",           "--citizens",      "1",   "--ledger",     "l",
	        "--profile",     "hostile",     "--invalid-share", "0.1", "--population", path,
	        "--answer-mode", "keys",        "--ucs2-share",    "0"};
	struct simargs a;
	char err[1024] = "";
	int rc = parse_argv(args, (int)N(args), &a, err, sizeof err);
	if (rc != 0)
		fail_msg("%s", err);
	assert_string_equal(a.population, path);
	assert_true(a.cit.invalid_share > 0.29 && a.cit.invalid_share < 0.31); /* the file won */
	assert_true(a.cit.typo_share > 0.19 && a.cit.typo_share < 0.21);       /* over the profile */
	assert_true(a.cit.optout_share > 0.09 && a.cit.optout_share < 0.11);   /* the profile's */
	assert_int_equal(a.cit.mode, CITIZENS_KEYS);                           /* the flag after won */
	assert_true(a.cit.ucs2_share == 0);
	assert_int_equal(a.cit.nqdist, 1);
	assert_string_equal(a.cit.qdist_file, path);

	/* a file that does not read: -EBADMSG, err names the file and line */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("answer_mode: keys\nshares: {invalid: 7}\n", f);
	fclose(f);
	rc = parse_argv(args, (int)N(args), &a, err, sizeof err);
	assert_int_equal(rc, -EBADMSG);
	char want[128];
	snprintf(want, sizeof want, "%s:2: shares.invalid", path);
	assert_non_null(strstr(err, want));
	unlink(path);
	rc = parse_argv(args, (int)N(args), &a, err, sizeof err);
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(strstr(err, "cannot read"));
}

/* Per-question weights, statistically: 2000 citizens answer four questions;
 * the listed ones follow their weights, the others the defaults. */
static void test_population_distribution(void **state)
{
	(void)state;
	enum { NC = 2000 };
	static const char text[] = "questions:\n"
	                           "  officer: \"5:10,4:20,3:30,2:30,1:10\"\n"
	                           "  channel: {1: 70, 2: 30}\n";
	struct citizens_opts o;
	citizens_opts_default(&o);
	char err[1024] = "";
	assert_int_equal(
	        simargs_population_parse("pop.yaml", text, strlen(text), &o, err, sizeof err), 0);
	o.count = NC;
	o.seed = 2024;
	struct campaign *c = load_test_campaign();
	struct citizens *p = citizens_new(c, &o, NULL, err, sizeof err);
	if (!p)
		fail_msg("%s", err);
	static const int qs[] = {Q_ACCESS, Q_OFFICER, Q_CHANNEL, Q_AGAIN};
	int count[4][6] = {{0}}, total[4] = {0};
	for (int idx = 1; idx <= NC; idx++) {
		for (size_t k = 0; k < N(qs); k++) {
			char *q = campaign_render_question(c, qs[k]);
			struct citizens_reply r;
			assert_int_equal(citizens_receive(p, idx, "8088", q, &r), 1);
			free(q);
			assert_non_null(r.ledger);
			json_t *j = json_loads(r.ledger, 0, NULL);
			assert_non_null(j);
			int v = (int)json_integer_value(json_object_get(j, "value"));
			assert_true(v >= 1 && v <= 5);
			count[k][v]++;
			total[k]++;
			json_decref(j);
			free(r.ledger);
		}
	}
	static const double want[4][6] = {
	        {0, 3, 7, 15, 35, 40},   /* access: the default distribution */
	        {0, 10, 30, 30, 20, 10}, /* officer: its own */
	        {0, 70, 30, 0, 0, 0},    /* channel: its own (3 never) */
	        {0, 50, 50, 0, 0, 0},    /* again: unlisted yesno, uniform */
	};
	for (size_t k = 0; k < N(qs); k++) {
		assert_int_equal(total[k], NC);
		for (int v = 1; v <= 5; v++) {
			double got = 100.0 * count[k][v] / total[k];
			if (got < want[k][v] - 4 || got > want[k][v] + 4 ||
			    (want[k][v] == 0 && count[k][v]))
				fail_msg("question %zu value %d: %.1f%% of %d answers, want %.0f%%",
				         k, v, got, total[k], want[k][v]);
		}
	}
	citizens_free(p);
	campaign_free(c);
}

/* An ESME that never answers the SMSC's deliver_sm: the same deliver_sm
 * again after the response timer and the retry delay, under a new sequence
 * number, and given up after max_attempts sends. */
static void test_deliver_no_answer(void **state)
{
	(void)state;
	struct smsc_opts so = {.system_id = "hailong", .password = "secret", .seed = 7,
	                       .resp_timeout_ms = 300, .retry_ms = 100, .max_attempts = 3};
	struct server sv;
	sv.base = event_base_new();
	assert_non_null(sv.base);
	sv.smsc = smsc_new(sv.base, &so, NULL);
	assert_non_null(sv.smsc);
	char err[256];
	assert_int_equal(smsc_listen(sv.smsc, "127.0.0.1:0", err, sizeof err), 0);
	/* queued before the loop runs (the SMSC is not thread-safe) */
	assert_int_equal(smsc_send_mo(sv.smsc, "84987654321", "8088", "no answer", 0, NULL), 0);
	assert_int_equal(pthread_create(&sv.th, NULL, server_main, &sv), 0);
	struct cli c;
	cli_connect(&c, smsc_port(sv.smsc));
	assert_int_equal(bind_status(&c, SMPP_BIND_RECEIVER, "hailong", "secret"), SMPP_ESME_ROK);
	uint8_t b[SMPP_MAX_PDU + 1], first[SMPP_MAX_PDU + 1];
	struct smpp_hdr h;
	int64_t at[4] = {0};
	int n0 = 0, got = 0;
	for (int i = 0; i < 4; i++) {
		int n = cli_read(&c, b, sizeof b, &h, i < 3 ? 2000 : 1200);
		if (n < 0)
			break;
		assert_int_equal(h.id, SMPP_DELIVER_SM);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		at[got++] = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (i == 0) {
			n0 = n;
			memcpy(first, b, (size_t)n);
		} else {
			/* the same PDU but for its sequence number */
			assert_int_equal(n, n0);
			assert_memory_equal(b + SMPP_HEADER_LEN, first + SMPP_HEADER_LEN,
			                    (size_t)n - SMPP_HEADER_LEN);
			assert_int_not_equal(smpp_get_u32(b + 12), smpp_get_u32(first + 12));
		}
	}
	assert_int_equal(got, 3); /* sent three times, then given up */
	assert_true(at[1] - at[0] >= 350 && at[2] - at[1] >= 350);
	close(c.fd);
	struct smsc_stats st;
	stop_server(&sv, &st);
	assert_int_equal(st.mo, 3);
	assert_int_equal(st.resent, 2);
	assert_int_equal(st.errors, 1);
}

int main(void)
{
	log_set_level("error");
	evthread_use_pthreads();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_ok),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_msisdn_index),
		cmocka_unit_test(test_recognise),
		cmocka_unit_test(test_recognise_default_campaign),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_answer_distribution),
		cmocka_unit_test(test_labels_mode),
		cmocka_unit_test(test_multi_and_choice),
		cmocka_unit_test(test_ledger_format),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_answers_parse),
		cmocka_unit_test(test_smsc_scenario),
		cmocka_unit_test(test_faults_table),
		cmocka_unit_test(test_args_more),
		cmocka_unit_test(test_args_ussd),
		cmocka_unit_test(test_deliver_no_answer),
		cmocka_unit_test(test_optout),
		cmocka_unit_test(test_several_answers),
		cmocka_unit_test(test_typos),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_weights_parse),
		cmocka_unit_test(test_smsc_faults),
		cmocka_unit_test(test_receipt_delay_draw),
		cmocka_unit_test(test_receipt_order),
		cmocka_unit_test(test_receipt_delay_socket),
		cmocka_unit_test(test_population_parse),
		cmocka_unit_test(test_population_errors),
		cmocka_unit_test(test_population_example),
		cmocka_unit_test(test_population_flags),
		cmocka_unit_test(test_population_distribution),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
