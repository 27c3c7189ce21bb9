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

static void feed_c(const struct campaign *c, struct survey *s, const char *reply, int64_t t,
                   struct survey_out *o)
{
	survey_out_clear(o);
	assert_int_equal(survey_feed(c, s, reply, t, o), 0);
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

/* A new survey whose first item was reminded at T0 + 2 h (o: the reminder). */
static void reminded(struct survey *s, struct survey_out *o)
{
	survey_init(s);
	survey_out_clear(o);
	survey_start(camp, s, T0, o);
	survey_out_clear(o);
	assert_int_equal(survey_tick(camp, s, T0 + 7200, o), 0);
}

/* An answer that crossed a reminder (or a re-prompt) of its item: the
 * citizen, reading the reminder after answering, sends the same answer
 * again. That repeat is taken for nothing (once), never as the answer to the
 * next item; the same text after it, or an answer that came long after the
 * reminder, is an answer as usual. */
static void test_repeat_after_crossing(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	reminded(&s, &o);
	expect_msg(&o, "Nhắc.\nCâu 1/3", NULL);
	feed(&s, "1", T0 + 7201, &o); /* typed before the reminder arrived */
	expect_msg(&o, "Câu 2/3", NULL);
	assert_int_equal(s.answers[0].values[0], 3);
	feed(&s, " 1 ", T0 + 7205, &o); /* the same answer, to the reminder */
	assert_true(o.echo);
	assert_int_equal(o.nmsg, 0);
	assert_int_equal(s.q, 1);
	assert_int_equal(s.answers[1].state, 0);
	feed(&s, "1", T0 + 7210, &o); /* now it is an answer to item 2 */
	assert_false(o.echo);
	expect_msg(&o, "Câu 3/3", NULL);
	assert_int_equal(s.answers[1].values[0], 3);
	survey_clear(&s);

	/* the repeat after the answer to item 2: not item 3's answer either */
	reminded(&s, &o);
	feed(&s, "1", T0 + 7200, &o);
	feed(&s, "2", T0 + 7203, &o); /* item 2 */
	expect_msg(&o, "Câu 3/3", NULL);
	feed(&s, "1", T0 + 7204, &o); /* the repeat for item 1, late */
	assert_true(o.echo);
	assert_int_equal(s.reminded, 0); /* a reminder asks again, should it have been item 3's answer */
	assert_int_equal(o.due, s.last_at + 7200);
	assert_int_equal(s.q, 2);
	assert_int_equal(s.answers[2].state, 0);
	feed(&s, "1", T0 + 7205, &o); /* once only */
	assert_false(o.echo);
	assert_int_equal(s.answers[2].state, 1);
	survey_clear(&s);

	/* not after SURVEY_ECHO_KEEP */
	reminded(&s, &o);
	feed(&s, "1", T0 + 7200, &o);
	feed(&s, "1", T0 + 7200 + SURVEY_ECHO_KEEP, &o);
	assert_false(o.echo);
	assert_int_equal(s.answers[1].values[0], 3);
	survey_clear(&s);

	/* a different answer after the crossing is an answer; a re-prompt is no reminder */
	reminded(&s, &o);
	feed(&s, "2", T0 + 7200, &o);
	feed(&s, "3", T0 + 7201, &o);
	assert_false(o.echo);
	assert_int_equal(s.answers[1].values[0], 1);
	survey_clear(&s);
	survey_init(&s);
	survey_out_clear(&o);
	survey_start(camp, &s, T0, &o);
	feed(&s, "xyz", T0 + 5, &o);
	expect_msg(&o, "Chưa hiểu.", NULL);
	feed(&s, "2", T0 + 5, &o);
	feed(&s, "2", T0 + 5, &o);
	assert_false(o.echo);
	assert_int_equal(s.answers[1].values[0], 2);
	survey_clear(&s);

	/* an answer long after the reminder crossed nothing */
	reminded(&s, &o);
	feed(&s, "1", T0 + 7200 + SURVEY_ECHO_WINDOW, &o);
	feed(&s, "1", T0 + 7200 + SURVEY_ECHO_WINDOW + 5, &o);
	assert_false(o.echo);
	assert_int_equal(s.answers[1].values[0], 3);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_several_answers(void **state)
{
	(void)state;
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "xyz", T0 + 1, &o); /* one re-prompt first: the count resets after */
	feed(&s, "1 3", T0 + 2, &o);  /* items a and b; the optional comment is asked next */
	expect_msg(&o, "Câu 3/3: Góp ý?", NULL);
	assert_false(o.finished);
	assert_int_equal(s.q, 2);
	assert_int_equal(s.invalid, 0);
	assert_int_equal(s.answers[0].state, 1);
	assert_int_equal(s.answers[0].values[0], 3);
	assert_int_equal(s.answers[1].state, 1);
	assert_int_equal(s.answers[1].nvalues, 1);
	assert_int_equal(s.answers[1].values[0], 1);
	assert_int_equal(s.answers[1].at, T0 + 2);
	assert_int_equal(o.due, T0 + 2 + 7200);
	feed(&s, "0", T0 + 3, &o);
	assert_true(o.finished);
	assert_int_equal(s.status, SURVEY_COMPLETED);
	survey_out_clear(&o);
	survey_clear(&s);

	/* written together for two items: "21" is as likely a number (or a key
	 * pressed twice) as two answers: re-prompted, never guessed */
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "21", T0 + 1, &o);
	expect_msg(&o, "Chưa hiểu.\nCâu 1/3", NULL);
	assert_int_equal(s.answers[0].state, 0);
	survey_out_clear(&o);
	survey_clear(&s);

	/* on the last option item, "1 3" is a single reply: not understood */
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "1", T0 + 1, &o);
	feed(&s, "1 3", T0 + 2, &o);
	expect_msg(&o, "Chưa hiểu.\nCâu 2/3", NULL);
	assert_int_equal(s.answers[1].state, 0);
	/* three answers for two items: not understood either */
	survey_out_clear(&o);
	survey_clear(&s);
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	feed(&s, "1 1 1", T0 + 1, &o);
	expect_msg(&o, "Chưa hiểu.\nCâu 1/3", NULL);
	assert_int_equal(s.answers[0].state, 0);
	feed(&s, "huy", T0 + 2, &o);
	assert_int_equal(s.status, SURVEY_OPTED_OUT);
	survey_out_clear(&o);
	survey_clear(&s);
}

/* Five scale items then an optional comment: "1 2 1 1 3" answers all five. */
static void test_several_answers_five(void **state)
{
	(void)state;
	static const char y[] =
		"id: five\n"
		"scales:\n"
		"  s:\n"
		"    satisfied: [5]\n"
		"    options:\n"
		"      - {value: 5, label: Rất hài lòng, keys: [\"1\"]}\n"
		"      - {value: 4, label: Hài lòng, keys: [\"2\"]}\n"
		"      - {value: 3, label: Bình thường, keys: [\"3\"]}\n"
		"questions:\n"
		"  - {id: q1, type: scale, scale: s, text: Q1}\n"
		"  - {id: q2, type: scale, scale: s, text: Q2}\n"
		"  - {id: q3, type: scale, scale: s, text: Q3}\n"
		"  - {id: q4, type: scale, scale: s, text: Q4}\n"
		"  - {id: q5, type: scale, scale: s, text: Q5}\n"
		"messages: {thanks: Xong}\n";
	struct campaign *c;
	char err[1024];
	assert_int_equal(campaign_parse("five.yaml", y, sizeof y - 1, &c, err, sizeof err), 0);
	static const char *const ways[] = {"1 2 1 1 3", "12113", "1, 2, 1, 1, 3"};
	for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
		struct survey s;
		struct survey_out o = {0};
		survey_init(&s);
		survey_start(c, &s, T0, &o);
		survey_out_clear(&o);
		assert_int_equal(survey_feed(c, &s, ways[w], T0 + 5, &o), 0);
		expect_msg(&o, "Xong", NULL);
		assert_true(o.finished);
		assert_int_equal(o.due, 0);
		assert_int_equal(s.status, SURVEY_COMPLETED);
		static const int want[] = {5, 4, 5, 5, 3};
		for (int i = 0; i < 5; i++) {
			assert_int_equal(s.answers[i].state, 1);
			assert_int_equal(s.answers[i].values[0], want[i]);
		}
		survey_out_clear(&o);
		survey_clear(&s);
	}
	/* from item 3: the three left */
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(c, &s, T0, &o);
	feed_c(c, &s, "1", T0 + 1, &o);
	feed_c(c, &s, "Hài lòng", T0 + 2, &o);
	feed_c(c, &s, "3 3 1", T0 + 3, &o);
	assert_int_equal(s.status, SURVEY_COMPLETED);
	assert_int_equal(s.answers[2].values[0], 3);
	assert_int_equal(s.answers[4].values[0], 5);
	survey_out_clear(&o);
	survey_clear(&s);
	campaign_free(c);
}

/* survey_compose gives exactly what the steps send. */
static void test_compose(void **state)
{
	(void)state;
	char *m;
	assert_int_equal(survey_compose(camp, SURVEY_MSG_FIRST, 0, &m), 0);
	assert_string_equal(m, "Xin chào.\nCâu 1/3: A?\n1-Tốt 2-Vừa 3-Kém");
	free(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_ITEM, 2, &m), 0);
	assert_string_equal(m, "Câu 3/3: Góp ý?");
	free(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_INVALID, 1, &m), 0);
	assert_string_equal(m, "Chưa hiểu.\nCâu 2/3: B?\n1-Tốt 2-Vừa 3-Kém");
	free(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_REMINDER, 2, &m), 0);
	assert_string_equal(m, "Nhắc.\nCâu 3/3: Góp ý?");
	free(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_HELP, 0, &m), 0);
	assert_string_equal(m, "Trả lời 1-3.\nCâu 1/3: A?\n1-Tốt 2-Vừa 3-Kém");
	free(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_EXPIRED, -1, &m), 0);
	assert_string_equal(m, "Hết hạn.");
	free(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_ITEM, 3, &m), -EINVAL);
	assert_null(m);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_HELP, -1, &m), -EINVAL);
	assert_string_equal(survey_msg_kind_name(SURVEY_MSG_REMINDER), "reminder");
	assert_string_equal(survey_msg_kind_name((enum survey_msg_kind)99), "unknown");

	/* and the step sends the same bytes */
	struct survey s;
	struct survey_out o = {0};
	survey_init(&s);
	survey_start(camp, &s, T0, &o);
	assert_int_equal(survey_compose(camp, SURVEY_MSG_FIRST, 0, &m), 0);
	assert_string_equal(o.msg[0], m);
	free(m);
	survey_out_clear(&o);
	survey_clear(&s);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int st = SURVEY_QUEUED; st < SURVEY_NSTATUS; st++)
		assert_int_equal(survey_status_parse(survey_status_name((enum survey_status)st)), st);
	assert_int_equal(survey_status_parse("nope"), -1);
	assert_true(survey_status_final(SURVEY_COMPLETED));
	assert_false(survey_status_final(SURVEY_ACTIVE));
	assert_string_equal(survey_status_name(SURVEY_CANCELLED), "cancelled");
	assert_true(survey_status_final(SURVEY_CANCELLED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_path),
		cmocka_unit_test(test_invalid_then_abandon),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_skip_optional),
		cmocka_unit_test(test_reminder_and_expiry),
		cmocka_unit_test(test_repeat_after_crossing),
		cmocka_unit_test(test_several_answers),
		cmocka_unit_test(test_several_answers_five),
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
