/* test_campaign: campaign parsing, validation errors with line numbers, rendering, and garbage input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "campaign.h"
#include "yamldoc.h"

#define ERRLEN 8192

/* A small valid campaign; cases below are edits of it. */
static const char small_yaml[] =
	"id: t\n"                                         /* 1 */
	"scales:\n"                                       /* 2 */
	"  s3:\n"                                         /* 3 */
	"    satisfied: [3]\n"                            /* 4 */
	"    options:\n"                                  /* 5 */
	"      - {value: 3, label: Tốt, keys: [\"1\", a]}\n" /* 6 */
	"      - {value: 2, label: Vừa, keys: [\"2\"]}\n" /* 7 */
	"      - {value: 1, label: Kém, keys: [\"3\"]}\n" /* 8 */
	"questions:\n"                                    /* 9 */
	"  - id: q1\n"                                    /* 10 */
	"    type: scale\n"                               /* 11 */
	"    scale: s3\n"                                 /* 12 */
	"    text: \"Câu {n}/{total}: Dịch vụ?\"\n"       /* 13 */
	"  - id: q2\n"                                    /* 14 */
	"    type: yesno\n"                               /* 15 */
	"    text: \"Câu {n}/{total}: Đúng hạn?\"\n"      /* 16 */
	"  - id: q3\n"                                    /* 17 */
	"    type: text\n"                                /* 18 */
	"    optional: true\n"                            /* 19 */
	"    text: \"Câu {n}/{total}: Góp ý?\"\n"         /* 20 */
	"messages:\n"                                     /* 21 */
	"  thanks: Cảm ơn\n";                             /* 22 */

static int parse(const char *yaml, struct campaign **c, char *err)
{
	return campaign_parse("t.yaml", yaml, strlen(yaml), c, err, ERRLEN);
}

static void test_small_parses(void **state)
{
	struct campaign *c = NULL;
	char err[ERRLEN];
	(void)state;

	assert_int_equal(parse(small_yaml, &c, err), 0);
	assert_non_null(c);
	assert_string_equal(c->id, "t");
	assert_string_equal(c->name, "t");
	assert_int_equal(c->nquestions, 3);
	assert_int_equal(c->channel, CAMPAIGN_SMS);
	assert_int_equal(c->encoding, TEXT_ENC_AUTO);
	assert_int_equal(c->reminder_after, 7200);
	assert_int_equal(c->expire_after, 86400);
	assert_int_equal(c->max_invalid, 2);
	assert_int_equal(c->resurvey_after, 0);
	assert_int_equal(c->quiet_start, -1);
	assert_int_equal(c->window_start, 0);
	assert_int_equal(c->legend, 1);
	assert_int_equal(c->tz_offset, 7 * 3600);
	assert_null(c->msg.intro);
	assert_non_null(c->msg.invalid);
	assert_non_null(c->msg.help);
	assert_string_equal(c->msg.thanks, "Cảm ơn");
	assert_int_equal(strlen(c->version), 16);

	assert_int_equal(c->questions[0].type, Q_SCALE);
	assert_ptr_equal(c->questions[0].scale, &c->scales[0]);
	assert_int_equal(c->questions[0].nopts, 3);
	assert_string_equal(c->questions[0].opts[0].label, "Tốt");
	assert_string_equal(c->questions[0].opts[0].label_fold, "tot");
	assert_string_equal(c->questions[0].opts[0].keys[1], "a");
	assert_int_equal(c->questions[1].type, Q_YESNO);
	assert_int_equal(c->questions[1].nopts, 2);
	assert_int_equal(c->questions[1].opts[0].value, 1);
	assert_int_equal(c->questions[1].opts[0].nkeys, 5);
	assert_string_equal(c->questions[1].opts[1].keys[3], "ko");
	assert_int_equal(c->questions[1].opts[1].value, 2);
	assert_int_equal(c->questions[2].type, Q_TEXT);
	assert_int_equal(c->questions[2].optional, 1);
	assert_int_equal(c->questions[2].nopts, 0);

	assert_true(campaign_is_satisfied(&c->questions[0], 3));
	assert_false(campaign_is_satisfied(&c->questions[0], 2));
	assert_false(campaign_is_satisfied(&c->questions[1], 1));
	assert_int_equal(campaign_question_index(c, "q2"), 1);
	assert_int_equal(campaign_question_index(c, "nope"), -1);
	assert_int_equal(campaign_question_index(c, NULL), -1);
	campaign_free(c);
	campaign_free(NULL);
}

static void test_render(void **state)
{
	static const struct {
		int idx;
		const char *want;
	} cases[] = {
		{0, "Câu 1/3: Dịch vụ?\n1-Tốt 2-Vừa 3-Kém"},
		{1, "Câu 2/3: Đúng hạn?\n1-Có 2-Không"},
		{2, "Câu 3/3: Góp ý?"},
	};
	struct campaign *c = NULL;
	char err[ERRLEN];
	size_t i;
	(void)state;

	assert_int_equal(parse(small_yaml, &c, err), 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = campaign_render_question(c, cases[i].idx);

		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
	assert_null(campaign_render_question(c, 3));
	assert_null(campaign_render_question(c, -1));
	c->legend = 0;
	{
		char *s = campaign_render_question(c, 0);

		assert_string_equal(s, "Câu 1/3: Dịch vụ?");
		free(s);
	}
	campaign_free(c);
}

static void test_legend_off_and_options(void **state)
{
	static const char yaml[] =
		"id: t2\n"
		"legend: false\n"
		"utc_offset: \"+05:30\"\n"
		"window: {start: 2026-11-01, end: 2026-11-01}\n"
		"quiet_hours: \"21:00-07:00\"\n"
		"resurvey_after: 30d\n"
		"reminder_after: 0\n"
		"channel: ussd\n"
		"encoding: unaccented\n"
		"questions:\n"
		"  - id: improve\n"
		"    type: multi\n"
		"    options:\n"
		"      - {value: 1, label: Rút ngắn thời gian, keys: [\"1\"]}\n"
		"      - {value: 2, label: Thái độ cán bộ, keys: \"2\"}\n"
		"    text: \"Điều gì cần cải thiện? {n}\"\n"
		"messages: {thanks: Cảm ơn, intro: Chào}\n";
	struct campaign *c = NULL;
	char err[ERRLEN];
	char *s;
	(void)state;

	assert_int_equal(parse(yaml, &c, err), 0);
	assert_int_equal(c->legend, 0);
	assert_int_equal(c->tz_offset, 5 * 3600 + 1800);
	/* 2026-11-01 is day 20758 since 1970-01-01 */
	assert_int_equal(c->window_start, (int64_t)20758 * 86400 - 19800);
	assert_int_equal(c->window_end, (int64_t)20759 * 86400 - 19800);
	assert_int_equal(c->quiet_start, 21 * 60);
	assert_int_equal(c->quiet_end, 7 * 60);
	assert_int_equal(c->resurvey_after, 30 * 86400);
	assert_int_equal(c->reminder_after, 0);
	assert_int_equal(c->channel, CAMPAIGN_USSD);
	assert_int_equal(c->encoding, TEXT_ENC_UNACCENTED);
	assert_string_equal(c->msg.intro, "Chào");
	assert_int_equal(c->questions[0].type, Q_MULTI);
	assert_int_equal(c->questions[0].opts[1].nkeys, 1);
	s = campaign_render_question(c, 0);
	assert_string_equal(s, "Điều gì cần cải thiện? 1");
	free(s);
	c->legend = 1;
	/* a USSD screen: one option per line */
	s = campaign_render_question(c, 0);
	assert_string_equal(s, "Điều gì cần cải thiện? 1\n1. Rút ngắn thời gian\n2. Thái độ cán bộ");
	free(s);
	c->channel = CAMPAIGN_SMS;
	s = campaign_render_question(c, 0);
	assert_string_equal(s, "Điều gì cần cải thiện? 1\n1-Rút ngắn thời gian 2-Thái độ cán bộ");
	free(s);
	campaign_free(c);
}

/* channel: ussd: every screen must fit one submit_sm (182 GSM characters, 80
 * in UCS-2), refused with the line of the item or message at fault; the
 * ussd block belongs to USSD campaigns only. */
static void test_ussd_screens(void **state)
{
	(void)state;
	static const char head[] =
		"id: u\n"
		"channel: ussd\n"
		"encoding: %s\n"
		"ussd: {invite_after: 10m}\n"
		"scales:\n"
		"  s:\n"
		"    satisfied: [5, 4]\n"
		"    options:\n"
		"      - {value: 5, label: Rất hài lòng, keys: [\"1\"]}\n"
		"      - {value: 4, label: Hài lòng, keys: [\"2\"]}\n"
		"      - {value: 3, label: Bình thường, keys: [\"3\"]}\n"
		"      - {value: 2, label: Không hài lòng, keys: [\"4\"]}\n"
		"      - {value: 1, label: Rất không hài lòng, keys: [\"5\"]}\n"
		"questions:\n"
		"  - {id: access, type: scale, scale: s, text: \"Câu {n}/{total}: Tiếp cận dịch vụ?\"}\n"
		"  - {id: officer, type: scale, scale: s,\n"
		"     text: \"Câu {n}/{total}: Ông/Bà đánh giá thế nào về thái độ của cán bộ một cửa?\"}\n"
		"messages:\n"
		"  intro: \"Khảo sát hài lòng.\"\n"
		"  invalid: \"Chưa hợp lệ.\"\n"
		"  help: \"Chọn 1-5.\"\n"
		"  thanks: \"Cảm ơn Ông/Bà.\"\n";
	char yaml[4096], err[ERRLEN];
	struct campaign *c = NULL;

	/* unaccented: every screen fits 182 GSM characters */
	snprintf(yaml, sizeof yaml, head, "unaccented");
	if (parse(yaml, &c, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(c->ussd_invite_after, 600);
	int units, cap;
	char *item = campaign_render_question(c, 1);
	assert_int_equal(campaign_ussd_fit(item, c->encoding, &units, &cap), 1);
	assert_int_equal(cap, CAMPAIGN_USSD_GSM);
	assert_true(units > 80 && units <= 182);
	free(item);
	campaign_free(c);
	c = NULL;
	/* as written (UCS-2): item 2's screen is far over 80: the line of item 2 */
	snprintf(yaml, sizeof yaml, head, "auto");
	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:16: questions: item 2 'officer': its USSD screen alone is"));
	assert_non_null(strstr(err, "a screen holds 80 (UCS-2)"));
	assert_non_null(strstr(err, "encoding: unaccented"));
	/* ... and with `invalid` before it, the line of messages: invalid */
	assert_non_null(strstr(err, "t.yaml:20: questions: item 2 'officer': its USSD screen after messages: invalid"));
	/* a ussd block on an SMS campaign */
	assert_int_equal(parse("id: x\nussd: {invite_after: 1h}\nquestions:\n  - {id: a, type: text, text: A}\n"
	                       "messages: {thanks: ok}\n", &c, err), -EINVAL);
	assert_non_null(strstr(err, ":2: ussd: only for a campaign with channel: ussd"));
	assert_int_equal(parse("id: x\nchannel: ussd\nussd: {invitation: 1h}\nquestions:\n  - {id: a, type: text, text: A}\n"
	                       "messages: {thanks: ok}\n", &c, err), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'invitation'"));
	/* the invitation's text must say what to dial */
	assert_int_equal(parse("id: x\nchannel: ussd\nussd: {invite_after: 1h, invite: 1h}\nquestions:\n"
	                       "  - {id: a, type: text, text: A}\nmessages: {thanks: ok}\n", &c, err), -EINVAL);
	assert_non_null(strstr(err, ":3: ussd: invite: must contain {code}"));
}

static const char *find_default(void)
{
	static const char *const paths[] = {"config/campaigns/default.yaml",
	                                    "../config/campaigns/default.yaml",
	                                    "../../config/campaigns/default.yaml",
	                                    "../../../config/campaigns/default.yaml"};
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		FILE *f = fopen(paths[i], "r");

		if (f) {
			fclose(f);
			return paths[i];
		}
	}
	return NULL;
}

static void test_default_campaign(void **state)
{
	static const char *const groups[] = {
		"Tiếp cận dịch vụ hành chính công", "Thủ tục hành chính",
		"Công chức trực tiếp giải quyết công việc", "Kết quả cung ứng dịch vụ hành chính công",
		"Tiếp nhận, giải quyết góp ý, phản ánh, kiến nghị"};
	const char *path = find_default();
	struct campaign *c = NULL, *c2 = NULL;
	char err[ERRLEN];
	char *s;
	int i, rc;
	(void)state;

	assert_non_null(path);
	rc = campaign_load(path, &c, err, sizeof err);
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->id, "default");
	assert_int_equal(c->nquestions, 6);
	assert_int_equal(c->nscales, 1);
	assert_string_equal(c->scales[0].name, "likert5");
	for (i = 0; i < 5; i++) {
		assert_int_equal(c->questions[i].type, Q_SCALE);
		assert_string_equal(c->questions[i].group, groups[i]);
		assert_int_equal(c->questions[i].nopts, 5);
	}
	assert_true(campaign_is_satisfied(&c->questions[0], 5));
	assert_true(campaign_is_satisfied(&c->questions[0], 4));
	assert_false(campaign_is_satisfied(&c->questions[0], 3));
	assert_int_equal(c->questions[0].opts[0].value, 5);
	assert_string_equal(c->questions[0].opts[0].keys[0], "1");
	assert_string_equal(c->questions[0].opts[0].label_fold, "rat hai long");
	assert_int_equal(c->questions[5].type, Q_TEXT);
	assert_int_equal(c->questions[5].optional, 1);
	assert_int_equal(campaign_question_index(c, "comment"), 5);
	assert_non_null(c->msg.intro);
	assert_non_null(c->msg.expired);

	s = campaign_render_question(c, 0);
	assert_non_null(strstr(s, "Câu 1/6: "));
	assert_non_null(strstr(s, "\n1-Rất hài lòng 2-Hài lòng 3-Bình thường 4-Không hài lòng "
	                          "5-Rất không hài lòng"));
	free(s);
	s = campaign_render_question(c, 5);
	assert_string_equal(s, "Câu 6/6: Ông/Bà có góp ý gì thêm? Nhắn nội dung, hoặc 0 để bỏ qua.");
	free(s);

	/* the version is a hash of the bytes: same file, same version */
	rc = campaign_load(path, &c2, err, sizeof err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->version, c2->version);
	campaign_free(c2);
	campaign_free(c);

	assert_int_equal(campaign_load("/nonexistent/x.yaml", &c, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.yaml: cannot read"));
	assert_null(c);
}

/* ---- errors ---------------------------------------------------------- */

#define Q1 "questions:\n  - id: q1\n    type: yesno\n    text: Câu hỏi\n"
#define MSG "messages: {thanks: Cảm ơn}\n"
#define S3 "scales:\n  s:\n    satisfied: [1]\n    options:\n" \
           "      - {value: 1, label: Tốt, keys: [\"1\"]}\n" \
           "      - {value: 2, label: Kém, keys: [\"2\"]}\n"

static const struct {
	const char *yaml;
	const char *want; /* substring of the error text */
} error_cases[] = {
	/* syntax and shape */
	{"id: t\nquestions: [\n", "t.yaml:3: YAML syntax error"},
	{"id: t\n  bad: indent\nx: y\n", "t.yaml:2: YAML syntax error"},
	{"", "t.yaml:1: the file is empty"},
	{"# only a comment\n", "t.yaml:1: the file is empty"},
	{"just a scalar\n", "t.yaml:1: a campaign must be a mapping"},
	{"- a\n- b\n", "t.yaml:1: a campaign must be a mapping"},
	{"id: t\n---\nid: u\n", "t.yaml:2: only one YAML document"},
	{"id: a\x01\n", "t.yaml:1: YAML syntax error"},
	{"id: \"a\xff\"\n", "t.yaml:1: YAML syntax error"},
	/* required and unknown keys */
	{Q1 MSG, "t.yaml:1: missing required key 'id'"},
	{"id: t\n" MSG, "t.yaml:1: missing required key 'questions'"},
	{"id: t\n" Q1, "t.yaml:1: missing required key 'messages'"},
	{"id: t\n" Q1 "messages: {help: x}\n", "t.yaml:6: messages: missing required key 'thanks'"},
	{"id: t\ncolour: red\n" Q1 MSG, "t.yaml:2: campaign: unknown key 'colour'"},
	{"id: t\n" Q1 "    colour: red\n" MSG, "t.yaml:6: question q1: unknown key 'colour'"},
	{"id: t\n" Q1 "messages: {thanks: a, bye: b}\n", "t.yaml:6: messages: unknown key 'bye'"},
	{"id: t\nid: u\n" Q1 MSG, "t.yaml:2: campaign: duplicate key 'id' (first on line 1)"},
	{"id: T t\n" Q1 MSG, "t.yaml:1: id: 'T t' is not a valid id"},
	{"id: t\nwindow: {start: 2026-01-01}\n" Q1 MSG, "t.yaml:2: window: needs both"},
	{"id: t\nwindow: {start: 2026-01-01, end: 2026-01-01, x: 1}\n" Q1 MSG,
	 "t.yaml:2: window: unknown key 'x'"},
	/* values */
	{"id: t\nchannel: fax\n" Q1 MSG, "t.yaml:2: channel: unknown value 'fax' (expected sms or ussd)"},
	{"id: t\nencoding: utf8\n" Q1 MSG, "t.yaml:2: encoding: unknown value 'utf8'"},
	{"id: t\nreminder_after: 2x\n" Q1 MSG, "t.yaml:2: reminder_after: bad duration '2x'"},
	{"id: t\nexpire_after: h\n" Q1 MSG, "t.yaml:2: expire_after: bad duration 'h'"},
	{"id: t\nexpire_after: 0\n" Q1 MSG, "t.yaml:2: expire_after: must be longer than 0"},
	{"id: t\nresurvey_after: [1d]\n" Q1 MSG, "t.yaml:2: resurvey_after: expected a duration"},
	{"id: t\nreminder_after: 1d\nexpire_after: 2h\n" Q1 MSG,
	 "t.yaml:2: reminder_after: must be shorter than expire_after"},
	{"id: t\nwindow: {start: 2026-02-30, end: 2026-03-01}\n" Q1 MSG,
	 "t.yaml:2: window: start: bad date '2026-02-30'"},
	{"id: t\nwindow:\n  start: 2026-03-01\n  end: 2026-3-1\n" Q1 MSG,
	 "t.yaml:4: window: end: bad date '2026-3-1'"},
	{"id: t\nwindow:\n  start: 2026-03-02\n  end: 2026-03-01\n" Q1 MSG,
	 "t.yaml:4: window: end is before start"},
	{"id: t\nquiet_hours: \"21:00-25:00\"\n" Q1 MSG, "t.yaml:2: quiet_hours: bad time range"},
	{"id: t\nquiet_hours: \"21:00-21:00\"\n" Q1 MSG, "t.yaml:2: quiet_hours: bad time range"},
	{"id: t\nquiet_hours: 2100\n" Q1 MSG, "t.yaml:2: quiet_hours: bad time range '2100'"},
	{"id: t\nmax_invalid: 99\n" Q1 MSG, "t.yaml:2: max_invalid: 99 is out of range (0..10)"},
	{"id: t\nmax_invalid: two\n" Q1 MSG, "t.yaml:2: max_invalid: expected a whole number"},
	{"id: t\nlegend: maybe\n" Q1 MSG, "t.yaml:2: legend: expected true or false"},
	{"id: t\nutc_offset: 7\n" Q1 MSG, "t.yaml:2: utc_offset: expected +HH:MM"},
	{"id: t\nname: \"  \"\n" Q1 MSG, "t.yaml:2: name: must not be empty"},
	/* questions */
	{"id: t\nquestions: []\n" MSG, "t.yaml:2: questions: needs at least one question"},
	{"id: t\nquestions: {a: b}\n" MSG, "t.yaml:2: questions: expected a list"},
	{"id: t\n" Q1 "  - id: q1\n    type: yesno\n    text: x\n" MSG,
	 "t.yaml:6: question q1: id: duplicate question id (also question 1)"},
	{"id: t\nquestions:\n  - type: yesno\n    text: x\n" MSG,
	 "t.yaml:3: question 1: missing required key 'id'"},
	{"id: t\nquestions:\n  - id: q1\n    type: yesno\n    text: \"\"\n" MSG,
	 "t.yaml:5: question q1: text: must not be empty"},
	{"id: t\nquestions:\n  - id: q1\n    type: yesno\n" MSG,
	 "t.yaml:3: question q1: missing required key 'text'"},
	{"id: t\nquestions:\n  - id: q1\n    type: poll\n    text: x\n" MSG,
	 "t.yaml:4: question q1: type: unknown value 'poll'"},
	{"id: t\nquestions:\n  - id: q1\n    text: x\n" MSG,
	 "t.yaml:3: question q1: missing required key 'type'"},
	{"id: t\nquestions:\n  - id: q1\n    type: yesno\n    text: \"Câu {m}/{total}\"\n" MSG,
	 "t.yaml:5: question q1: text: unknown placeholder {m}"},
	{"id: t\nquestions:\n  - id: q1\n    type: text\n    text: x\n"
	 "    options:\n      - {value: 1, label: A, keys: [\"1\"]}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:6: question q1: a text question has no options"},
	{"id: t\nquestions:\n  - id: q1\n    type: scale\n    text: x\n" MSG,
	 "t.yaml:3: question q1: type scale needs 'scale'"},
	{"id: t\n" S3 "questions:\n  - id: q1\n    type: scale\n    scale: likert7\n    text: x\n" MSG,
	 "t.yaml:11: question q1: scale: unknown scale 'likert7'"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n" MSG,
	 "t.yaml:3: question q1: type choice needs 'options'"},
	{"id: t\nquestions:\n  - id: q1\n    type: multi\n    text: x\n    options: []\n" MSG,
	 "t.yaml:6: question q1: options: needs at least 2 options"},
	{"id: t\n" S3 "questions:\n  - id: q1\n    type: yesno\n    scale: s\n    text: x\n" MSG,
	 "t.yaml:11: question q1: 'scale' is only for questions of type scale"},
	{"id: t\n" S3 "questions:\n  - id: q1\n    type: scale\n    scale: s\n    optional: true\n"
	 "    text: x\n" MSG,
	 "t.yaml:12: question q1: only text questions can be optional"},
	/* options */
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\"]}\n"
	 "      - {value: 1, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:8: question q1: option 2: value 1 is already used by option 1"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\", \"x\", \"X\"]}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: keys: duplicate key 'x'"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\"]}\n"
	 "      - {value: 2, label: B, keys: [\"2\", \"1\"]}\n" MSG,
	 "t.yaml:8: question q1: option 2: key '1' is also a key of option 1"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: Hài lòng, keys: [\"1\"]}\n"
	 "      - {value: 2, label: HAI LONG, keys: [\"2\"]}\n" MSG,
	 "t.yaml:8: question q1: option 2: label 'HAI LONG' reads the same as option 1's"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\"]}\n"
	 "      - {value: 2, label: B, keys: [\"a\"]}\n" MSG,
	 "t.yaml:8: question q1: option 2: key 'a' is the label of option 1"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\", huy]}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: keys: 'huy' is a reserved reply word"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\"], colour: red}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: unknown key 'colour'"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, keys: [\"1\"]}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: missing required key 'label'"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: missing required key 'keys'"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: one, label: A, keys: [\"1\"]}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: value: expected a whole number, found 'one'"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"!!\"]}\n"
	 "      - {value: 2, label: B, keys: [\"2\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: keys: '!!' must have 1 to 32 letters or digits"},
	{"id: t\nquestions:\n  - id: q1\n    type: choice\n    text: x\n    options:\n"
	 "      - {value: 1, label: A, keys: [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}\n"
	 "      - {value: 2, label: B, keys: [\"b\"]}\n" MSG,
	 "t.yaml:7: question q1: option 1: keys: too many keys (9, at most 8)"},
	/* scales */
	{"id: t\nscales:\n  s:\n    options:\n      - {value: 1, label: Tốt, keys: [\"1\"]}\n"
	 "      - {value: 2, label: Kém, keys: [\"2\"]}\n" Q1 MSG,
	 "t.yaml:4: scale s: needs 'satisfied'"},
	{"id: t\nscales:\n  s:\n    satisfied: []\n    options:\n"
	 "      - {value: 1, label: Tốt, keys: [\"1\"]}\n"
	 "      - {value: 2, label: Kém, keys: [\"2\"]}\n" Q1 MSG,
	 "t.yaml:4: scale s: needs 'satisfied'"},
	{"id: t\nscales:\n  s:\n    satisfied: [1, 7]\n    options:\n"
	 "      - {value: 1, label: Tốt, keys: [\"1\"]}\n"
	 "      - {value: 2, label: Kém, keys: [\"2\"]}\n" Q1 MSG,
	 "t.yaml:4: scale s: satisfied: value 7 is not the value of any option"},
	{"id: t\nscales:\n  s:\n    satisfied: [1]\n" Q1 MSG,
	 "t.yaml:4: scale s: missing required key 'options'"},
	{"id: t\nscales:\n  s:\n    satisfied: [1]\n    weights: [1]\n    options:\n"
	 "      - {value: 1, label: Tốt, keys: [\"1\"]}\n"
	 "      - {value: 2, label: Kém, keys: [\"2\"]}\n" Q1 MSG,
	 "t.yaml:5: scale s: unknown key 'weights'"},
	{"id: t\nscales: [a]\n" Q1 MSG, "t.yaml:2: scales: expected a mapping, found a list"},
	{"id: t\nencoding: gsm7\n" Q1 "messages: {thanks: Cảm ơn}\n",
	 "t.yaml:7: messages: thanks: has characters outside GSM 03.38"},
	{"id: t\nencoding: gsm7\n" Q1 "messages: {thanks: Cam on}\n",
	 "t.yaml:5: question q1: the default labels Có/Không are outside GSM 03.38"},
	/* nasty but not crashing */
	{"id: t\nquestions: &a [*a]\n" MSG, "t.yaml:2: question 1: expected a mapping, found a list"},
	{"id: \"t\\0u\"\n" Q1 MSG, "t.yaml:1: id: contains a NUL character"},
	{"? [a, b]\n: c\nid: t\n" Q1 MSG, "t.yaml:1: campaign: a key must be a plain word"},
};

static void test_errors(void **state)
{
	size_t i;
	(void)state;

	for (i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		struct campaign *c = (struct campaign *)1;
		char err[ERRLEN];
		int rc = parse(error_cases[i].yaml, &c, err);

		if (rc != -EINVAL || !strstr(err, error_cases[i].want))
			fail_msg("case %zu: rc=%d\nwant: %s\ngot:\n%s", i, rc, error_cases[i].want, err);
		assert_null(c);
	}
}

/* Every mistake is reported, not only the first. */
static void test_collects_all_errors(void **state)
{
	static const char yaml[] =
		"id: t\n"
		"channel: fax\n"
		"encoding: utf8\n"
		"questions:\n"
		"  - id: q1\n"
		"    type: yesno\n"
		"    text: \"\"\n"
		"  - id: q1\n"
		"    type: text\n"
		"    text: x\n"
		"messages: {}\n";
	struct campaign *c = NULL;
	char err[ERRLEN];
	int lines = 1;
	const char *s;
	(void)state;

	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:2: channel"));
	assert_non_null(strstr(err, "t.yaml:3: encoding"));
	assert_non_null(strstr(err, "t.yaml:7: question q1: text: must not be empty"));
	assert_non_null(strstr(err, "t.yaml:8: question q1: id: duplicate question id (also question 1)"));
	assert_non_null(strstr(err, "t.yaml:11: messages: missing required key 'thanks'"));
	for (s = err; *s; s++)
		lines += *s == '\n';
	assert_int_equal(lines, 5);
}

static void test_limits(void **state)
{
	char *yaml = malloc(65536);
	char err[ERRLEN];
	struct campaign *c = NULL;
	size_t n = 0;
	int i;
	(void)state;

	assert_non_null(yaml);
	n += (size_t)snprintf(yaml + n, 65536 - n, "id: t\nquestions:\n");
	for (i = 0; i < CAMPAIGN_MAX_QUESTIONS + 1; i++)
		n += (size_t)snprintf(yaml + n, 65536 - n,
		                      "  - {id: q%d, type: yesno, text: x}\n", i);
	n += (size_t)snprintf(yaml + n, 65536 - n, MSG);
	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:3: questions: too many questions (33, at most 32)"));

	n = 0;
	n += (size_t)snprintf(yaml + n, 65536 - n,
	                      "id: t\nquestions:\n  - id: q\n    type: choice\n    text: x\n"
	                      "    options:\n");
	for (i = 0; i < CAMPAIGN_MAX_OPTIONS + 1; i++)
		n += (size_t)snprintf(yaml + n, 65536 - n,
		                      "      - {value: %d, label: L%d, keys: [\"%d\"]}\n", i, i, i);
	n += (size_t)snprintf(yaml + n, 65536 - n, MSG);
	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:7: question q: options: too many options (17, at most 16)"));

	n = 0;
	n += (size_t)snprintf(yaml + n, 65536 - n, "id: t\nscales:\n");
	for (i = 0; i < 9; i++)
		n += (size_t)snprintf(yaml + n, 65536 - n,
		                      "  s%d: {satisfied: [1], options: [{value: 1, label: A, keys: [a]},"
		                      " {value: 2, label: B, keys: [b]}]}\n", i);
	n += (size_t)snprintf(yaml + n, 65536 - n, Q1 MSG);
	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:3: scales: too many scales (9, at most 8)"));

	/* deep flow nesting is refused before libyaml (quadratic there), quoted brackets are text */
	n = 0;
	n += (size_t)snprintf(yaml + n, 65536 - n, "id: t\n# [[[[ not counted\nx: ");
	for (i = 0; i < 65; i++)
		yaml[n++] = '[';
	yaml[n] = '\0';
	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_string_equal(err, "t.yaml:3: lists and mappings nested more than 64 deep");
	n = 0;
	n += (size_t)snprintf(yaml + n, 65536 - n, "id: t\nquestions:\n  - id: q\n    type: text\n"
	                      "    text: \"");
	for (i = 0; i < 100; i++)
		yaml[n++] = '[';
	n += (size_t)snprintf(yaml + n, 65536 - n, "\\\" it's '[[[[[[\"\n" MSG);
	assert_int_equal(parse(yaml, &c, err), 0);
	assert_int_equal(strlen(c->questions[0].text), 100 + 14);
	campaign_free(c);

	/* a tiny error buffer truncates but stays a string */
	{
		char small[16];

		assert_int_equal(campaign_parse("t.yaml", "id: [\n", 6, &c, small, sizeof small), -EINVAL);
		assert_int_equal(strlen(small), 15);
		assert_int_equal(campaign_parse("t.yaml", "id: [\n", 6, &c, NULL, 0), -EINVAL);
	}
	free(yaml);
}

/* ---- garbage --------------------------------------------------------- */

static void parse_quietly(const char *s, size_t n)
{
	struct campaign *c = NULL;
	char err[512];
	int rc = campaign_parse("g.yaml", s, n, &c, err, sizeof err);

	if (rc == 0) {
		int i;

		for (i = 0; i < c->nquestions; i++)
			free(campaign_render_question(c, i));
		campaign_free(c);
	} else {
		assert_true(rc == -EINVAL || rc == -ENOMEM);
		assert_null(c);
		assert_true(strlen(err) > 0);
	}
}

static void test_garbage(void **state)
{
	static const char *const fixed[] = {
		"", "\n", "~", "null", "42", "[]", "{}", "- - - -", "id:", ":", "? ? ?", "&a *a",
		"*x", "!!binary aGVsbG8=", "%YAML 1.1\n---\nid: t", "\t", "id: t\n\tquestions: x",
		"questions: [{}, [], x, ~]", "messages: [1]", "scales: {s: {options: x}}",
		"scales: {s: {options: [{}, [], ~]}}", "{a: {b: {c: {d: [[[[]]]]}}}}",
		"id: t\nquestions:\n  - &q {id: a, type: yesno, text: x}\n  - *q\n" MSG,
		"\xef\xbb\xbfid: t", "\xfe\xff\x00i\x00d", "id: t\r\nquestions: []\r\n",
	};
	char *deep;
	size_t i, n = 200000;
	char *base;
	const char *path = find_default();
	FILE *f;
	long len;
	unsigned seed = 12345;
	int iter;
	(void)state;

	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		parse_quietly(fixed[i], strlen(fixed[i]));
	parse_quietly(NULL, 0);
	parse_quietly("id: t\0questions", 15);

	/* deep nesting, flow and block */
	deep = malloc(n * 2 + 8);
	assert_non_null(deep);
	for (i = 0; i < n; i++)
		deep[i] = '[';
	for (i = 0; i < n; i++)
		deep[n + i] = ']';
	parse_quietly(deep, 2 * n);
	for (i = 0; i < n; i++)
		deep[i] = i % 2 ? ' ' : '-';
	parse_quietly(deep, n);
	memset(deep, 'a', 2 * n);
	parse_quietly(deep, 2 * n);
	free(deep);
	parse_quietly("x", (size_t)2 * 1024 * 1024); /* too large: refused before reading */

	/* mutations of the default campaign: flip, drop and duplicate bytes */
	assert_non_null(path);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	base = malloc((size_t)len + 1);
	assert_non_null(base);
	assert_int_equal(fread(base, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (iter = 0; iter < 3000; iter++) {
		char *m = malloc((size_t)len + 16);
		size_t mlen = (size_t)len;
		int k, edits;

		assert_non_null(m);
		memcpy(m, base, (size_t)len);
		seed = seed * 1103515245u + 12345u;
		edits = 1 + (int)((seed >> 16) % 4);
		for (k = 0; k < edits; k++) {
			size_t pos;

			seed = seed * 1103515245u + 12345u;
			pos = (seed >> 8) % mlen;
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 16) % 4) {
			case 0:
				m[pos] = (char)(seed >> 3);
				break;
			case 1:
				memmove(m + pos, m + pos + 1, mlen - pos - 1);
				mlen--;
				break;
			case 2:
				m[pos] = "[]{}:-#&*!|>'\"\n \t,?%@`"[(seed >> 4) % 23];
				break;
			default:
				if (mlen < (size_t)len + 8) {
					memmove(m + pos + 1, m + pos, mlen - pos);
					mlen++;
				}
				break;
			}
		}
		parse_quietly(m, mlen);
		free(m);
	}
	free(base);
}

static void test_yamldoc_helpers(void **state)
{
	static const struct {
		const char *s;
		int64_t v; /* -1 = invalid */
	} durs[] = {
		{"90s", 90}, {"30m", 1800}, {"2h", 7200}, {"1d", 86400}, {"1h30m", 5400}, {"0", 0},
		{"", -1}, {"h", -1}, {"5", -1}, {"1w", -1}, {"-1h", -1}, {"1.5h", -1}, {"2h ", -1},
		{"99999999999d", -1}, {"3660d", 3660 * 86400}, {"3661d", -1},
	};
	static const struct {
		const char *s;
		int64_t days; /* -1 = invalid */
	} dates[] = {
		{"1970-01-01", 0}, {"2026-11-01", 20758}, {"2024-02-29", 19782}, {"2023-02-29", -1},
		{"2026-13-01", -1}, {"2026-00-10", -1}, {"2026-1-1", -1}, {"26-01-01", -1},
		{"2026-04-31", -1}, {"1969-12-31", -1},
	};
	static const struct {
		const char *s;
		int a, b; /* a = -1: invalid */
	} ranges[] = {
		{"21:00-07:00", 1260, 420}, {"9:30-17:45", 570, 1065}, {"21:00 - 07:00", 1260, 420},
		{"21:00-21:00", -1, 0}, {"24:00-07:00", -1, 0}, {"21:60-07:00", -1, 0},
		{"21-07", -1, 0}, {"21:00-", -1, 0}, {"21:00-07:00x", -1, 0},
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof durs / sizeof durs[0]; i++) {
		int64_t v = -7;
		int rc = ydoc_parse_duration(durs[i].s, &v);

		if (durs[i].v < 0)
			assert_true(rc < 0);
		else {
			assert_int_equal(rc, 0);
			assert_int_equal(v, durs[i].v);
		}
	}
	for (i = 0; i < sizeof dates / sizeof dates[0]; i++) {
		int64_t v = -7;
		int rc = ydoc_parse_date(dates[i].s, &v);

		if (dates[i].days < 0)
			assert_true(rc < 0);
		else {
			assert_int_equal(rc, 0);
			assert_int_equal(v, dates[i].days);
		}
	}
	for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		int a = -7, b = -7;
		int rc = ydoc_parse_timerange(ranges[i].s, &a, &b);

		if (ranges[i].a < 0)
			assert_true(rc < 0);
		else {
			assert_int_equal(rc, 0);
			assert_int_equal(a, ranges[i].a);
			assert_int_equal(b, ranges[i].b);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_parses),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_legend_off_and_options),
		cmocka_unit_test(test_ussd_screens),
		cmocka_unit_test(test_default_campaign),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_collects_all_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_yamldoc_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
