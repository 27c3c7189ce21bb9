/* test_schedule: window, quiet hours (across midnight, other offsets), resurvey and due times, time passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "campaign.h"
#include "schedule.h"
#include "survey.h"

/* 2026-11-21 00:00 local (+07:00) */
static const int64_t MIDNIGHT = 1795194000;
#define H (3600)
#define M (60)

static struct campaign *load(const char *extra)
{
	char yaml[2048], err[1024];
	snprintf(yaml, sizeof yaml,
	         "id: t\n%s"
	         "questions:\n"
	         "  - {id: a, type: yesno, text: \"A?\"}\n"
	         "messages: {thanks: \"Cảm ơn.\"}\n",
	         extra);
	struct campaign *c = NULL;
	int rc = campaign_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	return c;
}

static void test_window(void **state)
{
	(void)state;
	struct campaign *c = load("window: {start: 2026-11-01, end: 2026-12-31}\n");
	static const struct {
		int64_t t;
		int in;
	} cases[] = {
		{1793466000 - 1, 0},   /* 2026-10-31 23:59:59 local */
		{1793466000, 1},       /* 2026-11-01 00:00 local */
		{MIDNIGHT + 12 * H, 1},
		{1798736400 - 1, 1},   /* 2026-12-31 23:59:59 local */
		{1798736400, 0},       /* 2027-01-01 00:00 local */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(schedule_in_window(c, cases[i].t), cases[i].in);
	campaign_free(c);
	c = load("");
	assert_int_equal(schedule_in_window(c, 0), 1);
	assert_int_equal(schedule_in_window(c, MIDNIGHT), 1);
	campaign_free(c);
}

static void test_quiet_across_midnight(void **state)
{
	(void)state;
	struct campaign *c = load("quiet_hours: \"21:00-07:00\"\n");
	static const struct {
		int64_t t, until;
	} cases[] = {
		{MIDNIGHT + 20 * H + 59 * M, 0},
		{MIDNIGHT + 21 * H, MIDNIGHT + 31 * H},          /* held to 07:00 next day */
		{MIDNIGHT + 23 * H + 30 * M, MIDNIGHT + 31 * H},
		{MIDNIGHT, MIDNIGHT + 7 * H},
		{MIDNIGHT + 6 * H + 59 * M + 59, MIDNIGHT + 7 * H},
		{MIDNIGHT + 7 * H, 0},
		{MIDNIGHT + 12 * H, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(schedule_quiet_until(c, cases[i].t), cases[i].until);
	campaign_free(c);
}

static void test_quiet_same_day_and_offset(void **state)
{
	(void)state;
	struct campaign *c = load("quiet_hours: \"12:00-13:30\"\n");
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 11 * H), 0);
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 12 * H), MIDNIGHT + 13 * H + 30 * M);
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 13 * H + 29 * M), MIDNIGHT + 13 * H + 30 * M);
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 13 * H + 30 * M), 0);
	campaign_free(c);
	/* the same wall-clock range at UTC: 7 hours later in absolute time */
	c = load("quiet_hours: \"12:00-13:30\"\nutc_offset: \"+00:00\"\n");
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 12 * H), 0);
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 19 * H), MIDNIGHT + 20 * H + 30 * M);
	campaign_free(c);
	c = load("");
	assert_int_equal(schedule_quiet_until(c, MIDNIGHT + 23 * H), 0);
	campaign_free(c);
}

static void test_resurvey(void **state)
{
	(void)state;
	struct campaign *c = load("resurvey_after: 30d\n");
	assert_int_equal(schedule_resurvey_blocked(c, 0, MIDNIGHT), 0);
	assert_int_equal(schedule_resurvey_blocked(c, MIDNIGHT - 29 * 86400, MIDNIGHT), 1);
	assert_int_equal(schedule_resurvey_blocked(c, MIDNIGHT - 30 * 86400, MIDNIGHT), 0);
	campaign_free(c);
	c = load("");
	assert_int_equal(schedule_resurvey_blocked(c, MIDNIGHT - 1, MIDNIGHT), 0);
	campaign_free(c);
	assert_string_equal(schedule_reason(SCHEDULE_OUTSIDE_WINDOW), "outside window");
	assert_string_equal(schedule_reason(SCHEDULE_RESURVEY), "resurvey");
	assert_string_equal(schedule_reason(SCHEDULE_OPTED_OUT), "opted out");
	assert_null(schedule_reason(SCHEDULE_OK));
}

static void test_next_due(void **state)
{
	(void)state;
	struct campaign *c = load("reminder_after: 2h\nexpire_after: 24h\n");
	struct survey s;
	survey_init(&s);
	s.status = SURVEY_ACTIVE;
	s.started_at = MIDNIGHT;
	s.last_at = MIDNIGHT;
	assert_int_equal(survey_next_due(c, &s), MIDNIGHT + 2 * H);
	s.last_at = MIDNIGHT + 23 * H; /* a reminder after the expiry never comes */
	assert_int_equal(survey_next_due(c, &s), MIDNIGHT + 24 * H);
	s.last_at = MIDNIGHT;
	s.reminded = 1;
	assert_int_equal(survey_next_due(c, &s), MIDNIGHT + 24 * H);
	/* the engine agrees: a start gives the same due time */
	struct survey s2;
	struct survey_out o;
	survey_init(&s2);
	assert_int_equal(survey_start(c, &s2, MIDNIGHT, &o), 0);
	assert_int_equal(o.due, survey_next_due(c, &s2));
	survey_out_clear(&o);
	survey_clear(&s2);
	survey_clear(&s);
	campaign_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_quiet_across_midnight),
		cmocka_unit_test(test_quiet_same_day_and_offset),
		cmocka_unit_test(test_resurvey),
		cmocka_unit_test(test_next_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
