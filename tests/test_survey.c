/* test_survey: state machine transitions, narrated with time passed in. */
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
#include "survey.h"

static const char yaml[] =
	"id: t\n"
	"reminder_after: 2h\n"
	"expire_after: 24h\n"
	"max_invalid: 2\n"
	"scales:\n"
	"  s3:\n"
	"    satisfied: [3]\n"
	"    options:\n"
	"      - {value: 3, label: Tốt, keys: [\"1\"]}\n"
	"      - {value: 2, label: Vừa, keys: [\"2\"]}\n"
	"      - {value: 1, label: Kém, keys: [\"3\"]}\n"
	"questions:\n"
	"  - {id: a, type: scale, scale: s3, text: \"Câu {n}/{total}: A?\"}\n"
	"  - {id: b, type: scale, scale: s3, text: \"Câu {n}/{total}: B?\"}\n"
	"  - {id: c, type: text, optional: true, text: \"Câu {n}/{total}: Góp ý?\"}\n"
	"messages: {intro: \"Xin chào.\", invalid: \"Chưa hiểu.\", reminder: \"Nhắc.\", thanks: \"Cảm ơn.\",\n"
	"           stopped: \"Đã dừng.\", help: \"Trả lời 1-3.\", expired: \"Hết hạn.\"}\n";

static struct campaign *camp;
static const int64_t T0 = 1763700000;

static int setup(void **state)
{
	(void)state;
	char err[2048];
	if (campaign_parse("t.yaml", yaml, sizeof yaml - 1, &camp, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	campaign_free(camp);
	return 0;
}

/* The one message of a step must start with `prefix` and contain `has`. */
static void expect_msg(struct survey_out *o, const char *prefix, const char *has)
{
	assert_int_equal(o->nmsg, 1);
	if (strncmp(o->msg[0], prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", o->msg[0], prefix);
	if (has && !strstr(o->msg[0], has))
		fail_msg("message '%s' lacks '%s'", o->msg[0], has);
}

static void feed(struct survey *s, const char *reply, int64_t t, struct survey_out *o)
{
	survey_out_clear(o);
	assert_int_equal(survey_feed(camp, s, reply, t, o), 0);
}

static void test_complete_path(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	assert_int_equal(survey_start(camp, &s, T0, &o), 0);
	expect_msg(&o, "Xin chào.\nCâu 1/3: A?", "1-Tốt");
	assert_int_equal(s.status, SURVEY_ACTIVE);
	assert_int_equal(o.due, T0 + 7200);
	feed(&s, "1", T0 + 10, &o);
	expect_msg(&o, "Câu 2/3: B?", NULL);
	feed(&s, "kém", T0 + 20, &o);
	expect_msg(&o, "Câu 3/3: Góp ý?", NULL);
	assert_false(o.finished);
	feed(&s, "Rất tốt", T0 + 30, &o);
	expect_msg(&o, "Cảm ơn.", NULL);
	assert_true(o.finished);
	assert_int_equal(s.status, SURVEY_COMPLETED);
	assert_int_equal(s.answers[0].values[0], 3);
	assert_int_equal(s.answers[1].values[0], 1);
	assert_string_equal(s.answers[2].text, "Rất tốt");
	assert_int_equal(s.answers[2].at, T0 + 30);
	/* a reply after the end changes nothing */
	feed(&s, "1", T0 + 40, &o);
	assert_int_equal(o.nmsg, 0);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_invalid_then_abandon(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "xyz", T0 + 1, &o);
	expect_msg(&o, "Chưa hiểu.\nCâu 1/3: A?", NULL);
	feed(&s, "2", T0 + 2, &o); /* a valid answer resets the count */
	expect_msg(&o, "Câu 2/3", NULL);
	feed(&s, "?", T0 + 3, &o);
	expect_msg(&o, "Chưa hiểu.", NULL);
	feed(&s, "??", T0 + 4, &o);
	expect_msg(&o, "Chưa hiểu.", NULL);
	assert_int_equal(s.invalid, 2);
	feed(&s, "???", T0 + 5, &o);
	assert_true(o.finished);
	assert_int_equal(s.status, SURVEY_ABANDONED);
	assert_int_equal(s.answers[0].state, 1);
	assert_int_equal(s.answers[1].state, 0);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_keywords(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "GIUP", T0 + 1, &o);
	expect_msg(&o, "Trả lời 1-3.\nCâu 1/3", NULL);
	feed(&s, "lai", T0 + 2, &o);
	expect_msg(&o, "Câu 1/3", NULL);
	assert_int_equal(s.invalid, 0);
	feed(&s, "HUY", T0 + 3, &o);
	expect_msg(&o, "Đã dừng.", NULL);
	assert_true(o.finished);
	assert_int_equal(s.status, SURVEY_OPTED_OUT);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_skip_optional(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "1", T0 + 1, &o);
	feed(&s, "1", T0 + 2, &o);
	feed(&s, "0", T0 + 3, &o);
	assert_true(o.finished);
	assert_int_equal(s.status, SURVEY_COMPLETED);
	assert_int_equal(s.answers[2].state, 2);
	assert_null(s.answers[2].text);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_reminder_and_expiry(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	survey_out_clear(&o);
	assert_int_equal(survey_tick(camp, &s, T0 + 7199, &o), 0);
	assert_int_equal(o.nmsg, 0);
	assert_int_equal(o.due, T0 + 7200);
	survey_out_clear(&o);
	assert_int_equal(survey_tick(camp, &s, T0 + 7200, &o), 0);
	expect_msg(&o, "Nhắc.\nCâu 1/3", NULL);
	assert_int_equal(o.due, T0 + 86400); /* reminded once: next is expiry */
	survey_out_clear(&o);
	assert_int_equal(survey_tick(camp, &s, T0 + 9000, &o), 0);
	assert_int_equal(o.nmsg, 0);
	survey_out_clear(&o);
	assert_int_equal(survey_tick(camp, &s, T0 + 86400, &o), 0);
	expect_msg(&o, "Hết hạn.", NULL);
	assert_true(o.finished);
	assert_int_equal(s.status, SURVEY_EXPIRED);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int st = SURVEY_QUEUED; st <= SURVEY_SUPPRESSED; st++)
		assert_int_equal(survey_status_parse(survey_status_name((enum survey_status)st)), st);
	assert_int_equal(survey_status_parse("nope"), -1);
	assert_true(survey_status_final(SURVEY_COMPLETED));
	assert_false(survey_status_final(SURVEY_ACTIVE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_path),
		cmocka_unit_test(test_invalid_then_abandon),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_skip_optional),
		cmocka_unit_test(test_reminder_and_expiry),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
