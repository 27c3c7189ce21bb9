/* test_ussd: the decisions of a USSD session (engine/ussd.c) and the survey
 * timing of a USSD campaign (the invitation in place of the reminder). */
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
#include "ussd.h"

static const char yaml[] =
	"id: u\n"
	"channel: ussd\n"
	"encoding: unaccented\n"
	"reminder_after: 0\n"
	"expire_after: 24h\n"
	"max_invalid: 1\n"
	"ussd: {invite_after: 10m}\n"
	"scales:\n"
	"  s3:\n"
	"    satisfied: [3]\n"
	"    options:\n"
	"      - {value: 3, label: Tot, keys: [\"1\"]}\n"
	"      - {value: 2, label: Vua, keys: [\"2\"]}\n"
	"      - {value: 1, label: Kem, keys: [\"3\"]}\n"
	"questions:\n"
	"  - {id: a, type: scale, scale: s3, text: \"Cau {n}/{total}: A?\"}\n"
	"  - {id: b, type: scale, scale: s3, text: \"Cau {n}/{total}: B?\"}\n"
	"messages: {intro: \"Xin chao.\", invalid: \"Chua hieu.\", reminder: \"Nhac.\", thanks: \"Cam on.\",\n"
	"           stopped: \"Da dung.\", help: \"Tra loi 1-3.\", expired: \"Het han.\"}\n";

#include "text.h"

/* A built-in notice in a USSD session: the SMS "no survey" text (128
 * characters with Vietnamese marks: 256 octets in UCS-2, a screen holds 160)
 * is folded to one GSM screen; a longer text is cut at a blank with "...". */
static void test_fit_screen(void **state)
{
	(void)state;
	static const char no_survey[] =
		"Số này chỉ dùng để khảo sát sự hài lòng về dịch vụ hành chính công. "
		"Hiện Ông/Bà không có khảo sát nào đang diễn ra. Xin cảm ơn.";
	struct text_parts tp;
	assert_int_equal(text_split(no_survey, TEXT_ENC_AUTO, &tp), 0);
	assert_true(tp.coding == TEXT_CODING_UCS2 && tp.units > CAMPAIGN_USSD_UCS2); /* as it was sent */
	char *s = ussd_fit_screen(no_survey);
	assert_non_null(s);
	assert_string_equal(s, no_survey); /* fits once folded: nothing cut */
	assert_int_equal(text_split(s, TEXT_ENC_UNACCENTED, &tp), 0);
	assert_int_equal(tp.coding, TEXT_CODING_GSM7);
	assert_int_equal(tp.nparts, 1);
	assert_true(tp.units <= CAMPAIGN_USSD_GSM);
	free(s);
	/* 60 words of 4 letters: 299 characters, cut after a whole word */
	char longt[600]; /* 60 x 8 bytes */
	size_t off = 0;
	for (int i = 0; i < 60; i++)
		off += (size_t)snprintf(longt + off, sizeof longt - off, "%sĐiều", i ? " " : "");
	assert_true(off < sizeof longt);
	s = ussd_fit_screen(longt);
	assert_non_null(s);
	size_t n = strlen(s);
	assert_true(n > 3 && strcmp(s + n - 3, "...") == 0);
	assert_true(s[n - 4] == 'u'); /* "...Điều..." never "Đi..." */
	assert_int_equal(text_split(s, TEXT_ENC_UNACCENTED, &tp), 0);
	assert_true(tp.units <= CAMPAIGN_USSD_GSM && tp.units > CAMPAIGN_USSD_GSM - 8);
	free(s);
	/* one word longer than a screen: cut mid-word, never inside a character */
	char word[600];
	off = 0;
	for (int i = 0; i < 200; i++)
		off += (size_t)snprintf(word + off, sizeof word - off, "ư");
	assert_true(off < sizeof word);
	s = ussd_fit_screen(word);
	assert_non_null(s);
	assert_int_equal(text_split(s, TEXT_ENC_UNACCENTED, &tp), 0);
	assert_int_equal(tp.units, CAMPAIGN_USSD_GSM);
	assert_int_equal(strlen(s), (CAMPAIGN_USSD_GSM - 3) * 2 + 3);
	free(s);
	/* a short text as it is; bad UTF-8: NULL */
	s = ussd_fit_screen("Cam on.");
	assert_string_equal(s, "Cam on.");
	free(s);
	assert_null(ussd_fit_screen("\xff\xfe"));
}

static const struct ussd_ops std_ops = {1, 17, 2, 18};
static const struct ussd_ops vendor_ops = {0x01, 0x12, 0x11, 0x02};
static const int64_t T0 = 1763700000;

static const struct {
	const struct ussd_ops *ops;
	int has_op, op;
	const char *text, *code;
	enum ussd_event want;
} classify_cases[] = {
	{&std_ops, 0, 0, "1", "*8088#", USSD_EV_NONE},          /* an SMS on a USSD link */
	{&std_ops, 1, 1, "*8088#", "*8088#", USSD_EV_DIAL},
	{&std_ops, 1, 1, " *8088 # ", "*8088#", USSD_EV_DIAL},  /* spaces ignored */
	{&std_ops, 1, 1, "*8089#", "*8088#", USSD_EV_DIAL_OTHER},
	{&std_ops, 1, 1, "", "*8088#", USSD_EV_DIAL_OTHER},
	{&std_ops, 1, 18, "2", "*8088#", USSD_EV_ANSWER},
	{&std_ops, 1, 17, "", "*8088#", USSD_EV_RELEASED},      /* a PSSR response from the network */
	{&std_ops, 1, 32, "", "*8088#", USSD_EV_RELEASED},      /* Huawei: released */
	{&std_ops, 1, 33, "", "*8088#", USSD_EV_RELEASED},      /* Huawei: abort */
	{&vendor_ops, 1, 0x02, "1", "*8088#", USSD_EV_ANSWER},  /* vendor values */
	{&vendor_ops, 1, 18, "1", "*8088#", USSD_EV_RELEASED},  /* the standard value is not theirs */
	{&vendor_ops, 1, 0x01, "*8088#", "*8088#", USSD_EV_DIAL},
};

static void test_classify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof classify_cases / sizeof classify_cases[0]; i++) {
		enum ussd_event got = ussd_classify(classify_cases[i].ops, classify_cases[i].has_op,
		                                    classify_cases[i].op, classify_cases[i].text,
		                                    classify_cases[i].code);
		if (got != classify_cases[i].want)
			fail_msg("case %zu: got %d want %d", i, got, classify_cases[i].want);
	}
}

static void test_screen_op_and_alive(void **state)
{
	(void)state;
	assert_int_equal(ussd_screen_op(&std_ops, 0), 2);
	assert_int_equal(ussd_screen_op(&std_ops, 1), 17);
	assert_int_equal(ussd_screen_op(&vendor_ops, 0), 0x11);
	assert_int_equal(ussd_screen_op(&vendor_ops, 1), 0x12);
	assert_true(ussd_session_alive(T0, T0 + 179, 180));
	assert_false(ussd_session_alive(T0, T0 + 180, 180));
	assert_false(ussd_session_alive(T0, T0 - 1, 180)); /* a clock that went back */
}

static void test_screen_join(void **state)
{
	(void)state;
	struct survey_out o;
	memset(&o, 0, sizeof o);
	assert_null(ussd_screen(&o));
	o.msg[0] = strdup("Chua hieu.");
	o.msg[1] = strdup("Cau 1/2: A?");
	o.nmsg = 2;
	char *s = ussd_screen(&o);
	assert_string_equal(s, "Chua hieu.\nCau 1/2: A?");
	free(s);
	o.nmsg = 1;
	s = ussd_screen(&o);
	assert_string_equal(s, "Chua hieu.");
	free(s);
	o.nmsg = 2;
	survey_out_clear(&o);
}

static void test_invite_text(void **state)
{
	(void)state;
	static const struct {
		const char *tmpl, *code, *want;
	} cases[] = {
		{NULL, "*8088#",
		 "Ông/Bà chưa hoàn thành khảo sát. Bấm gọi *8088# (miễn phí) để tiếp tục. Xin cảm ơn."},
		{"Goi {code} de tiep tuc.", "*123#", "Goi *123# de tiep tuc."},
		{"{code}", "*1#", "*1#"},
		{"{code} hoac {code}!", "*8088*2#", "*8088*2# hoac *8088*2#!"},  /* every mark */
		{"Bam {code", "*1#", "Bam {code"},                              /* not a mark */
		{"{code}{code}", "", ""},
		{"Khong ma.", "*1#", "Khong ma."},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = ussd_invite_text(cases[i].tmpl, cases[i].code);
		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
}

/* `ussd: invite:` is read, must name {code}, and must be sendable. */
static void test_invite_config(void **state)
{
	(void)state;
	static const struct {
		const char *ussd, *err; /* err NULL = accepted */
	} cases[] = {
		{"ussd: {invite_after: 10m, invite: \"Bam {code} nhe.\"}\n", NULL},
		{"ussd: {invite_after: 10m, invite: \"Bam ma nhe.\"}\n", "u.yaml:7: ussd: invite: must contain {code}"},
		{"ussd: {invite: \"Bam {code}.\"}\n", "u.yaml:7: ussd: invite: never sent"},
		{"ussd: {invite_after: 10m, invite: \"\"}\n", "u.yaml:7: ussd: invite: must not be empty"},
		{"ussd: {invite_after: 10m, invitation: \"x\"}\n", "invitation"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char src[4096], err[2048] = "";
		const char *at = strstr(yaml, "ussd: {invite_after: 10m}\n");
		assert_non_null(at);
		snprintf(src, sizeof src, "%.*s%s%s", (int)(at - yaml), yaml, cases[i].ussd,
		         at + strlen("ussd: {invite_after: 10m}\n"));
		struct campaign *c = NULL;
		int rc = campaign_parse("u.yaml", src, strlen(src), &c, err, sizeof err);
		if (!cases[i].err) {
			assert_int_equal(rc, 0);
			assert_string_equal(c->ussd_invite, "Bam {code} nhe.");
			char *s = ussd_invite_text(c->ussd_invite, "*8088#");
			assert_string_equal(s, "Bam *8088# nhe.");
			free(s);
			campaign_free(c);
		} else {
			assert_int_equal(rc, -EINVAL);
			if (!strstr(err, cases[i].err))
				fail_msg("case %zu: %s", i, err);
		}
	}
}

/* push, silence, invitation once, a dial resumes at the unanswered item */
static void test_survey_resume_and_invite(void **state)
{
	(void)state;
	struct campaign *c = NULL;
	char err[2048];
	if (campaign_parse("u.yaml", yaml, sizeof yaml - 1, &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	struct survey s;
	struct survey_out o;
	survey_init(&s);
	assert_int_equal(ussd_resume_kind(&s), -1); /* not started: nothing to show */
	assert_int_equal(survey_start(c, &s, T0, &o), 0);
	assert_int_equal(o.nmsg, 1);
	assert_non_null(strstr(o.msg[0], "Xin chao.\nCau 1/2: A?\n1. Tot\n2. Vua\n3. Kem"));
	/* the reminder of a USSD campaign is the invitation, after invite_after */
	assert_int_equal(o.due, T0 + 600);
	survey_out_clear(&o);
	assert_int_equal(ussd_resume_kind(&s), SURVEY_MSG_FIRST); /* nothing answered: intro again */
	assert_int_equal(survey_tick(c, &s, T0 + 599, &o), 0);
	assert_int_equal(o.nmsg, 0);
	survey_out_clear(&o);
	assert_int_equal(survey_tick(c, &s, T0 + 600, &o), 0);
	assert_int_equal(o.nmsg, 1); /* the gateway writes the invitation in its place */
	assert_int_equal(o.due, T0 + 86400);
	survey_out_clear(&o);
	assert_int_equal(survey_tick(c, &s, T0 + 1300, &o), 0);
	assert_int_equal(o.nmsg, 0); /* at most one */
	survey_out_clear(&o);
	/* the citizen dials back and answers item 1; a later dial shows item 2 alone */
	assert_int_equal(survey_feed(c, &s, "1", T0 + 2000, &o), 0);
	assert_int_equal(o.nmsg, 1);
	assert_non_null(strstr(o.msg[0], "Cau 2/2: B?"));
	survey_out_clear(&o);
	assert_int_equal(s.q, 1);
	assert_int_equal(ussd_resume_kind(&s), SURVEY_MSG_ITEM);
	char *scr = NULL;
	assert_int_equal(survey_compose(c, SURVEY_MSG_ITEM, s.q, &scr), 0);
	assert_int_equal(strncmp(scr, "Cau 2/2: B?", 11), 0);
	free(scr);
	/* an invalid answer: the re-prompt is one screen */
	assert_int_equal(survey_feed(c, &s, "9", T0 + 2010, &o), 0);
	char *one = ussd_screen(&o);
	assert_non_null(strstr(one, "Chua hieu."));
	assert_non_null(strstr(one, "Cau 2/2: B?"));
	int units = 0, cap = 0;
	assert_int_equal(campaign_ussd_fit(one, c->encoding, &units, &cap), 1);
	free(one);
	survey_out_clear(&o);
	assert_int_equal(survey_feed(c, &s, "2", T0 + 2020, &o), 0);
	assert_int_equal(o.finished, 1);
	assert_int_equal(s.status, SURVEY_COMPLETED);
	assert_int_equal(ussd_resume_kind(&s), -1); /* finished: a dial gets "no survey" */
	survey_out_clear(&o);
	survey_clear(&s);
	campaign_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_screen),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_screen_op_and_alive),
		cmocka_unit_test(test_screen_join),
		cmocka_unit_test(test_invite_text),
		cmocka_unit_test(test_invite_config),
		cmocka_unit_test(test_survey_resume_and_invite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
