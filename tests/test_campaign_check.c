/* test_campaign_check: survey_preview, the numbers behind `hailong campaign check`,
 * against parts and encodings counted by hand. */
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

/* X160 is 160 'x', Y70 70 'y'. By hand, with GSM 03.38 (160 septets in one
 * part, 153 per part of a long message; '[' and ']' take 2 septets; à is in
 * the alphabet, â ó ô ú ả ơ are not) and UCS-2 (70 units, 67 per part):
 *   item 1 "Q1: " X160                       GSM 164        2 parts
 *   item 2 "Câu 2/2?\n1-Có 2-Không"           UCS-2 21       1 part
 *          unaccented "Cau 2/2?\n1-Co 2-Khong" GSM 21        1 part  */
#define X160 "@X160@"
#define Y70 "@Y70@"
static const char tiny_tmpl[] =
	"id: tiny\n"
	"encoding: @ENC@\n"
	"questions:\n"
	"  - {id: q1, type: text, text: \"Q{n}: " X160 "\"}\n"
	"  - id: q2\n"
	"    type: yesno\n"
	"    text: \"Câu {n}/{total}?\"\n"
	"    options:\n"
	"      - {value: 1, label: Có, keys: [\"1\"]}\n"
	"      - {value: 2, label: Không, keys: [\"2\"]}\n"
	"messages:\n"
	"  intro: \"Xin chào\"\n"
	"  invalid: \"Sai [1-2]\"\n"
	"  reminder: \"Nhac lai\"\n"
	"  help: \"Giúp\"\n"
	"  thanks: \"Cảm ơn " Y70 "\"\n"
	"  stopped: \"Da dung\"\n"
	"  expired: \"Het han\"\n";

static struct campaign *load(const char *enc, const char *tmpl)
{
	char y[4096];
	char err[2048];
	struct campaign *c = NULL;
	/* fill in the encoding and the long runs */
	size_t n = 0;
	for (const char *p = tmpl; *p && n + 2000 < sizeof y;) {
		if (strncmp(p, "@ENC@", 5) == 0) {
			n += (size_t)snprintf(y + n, sizeof y - n, "%s", enc);
			p += 5;
		} else if (strncmp(p, "@X160@", 6) == 0) {
			memset(y + n, 'x', 160);
			n += 160;
			p += 6;
		} else if (strncmp(p, "@Y70@", 5) == 0) {
			memset(y + n, 'y', 70);
			n += 70;
			p += 5;
		} else if (strncmp(p, "@X1100@", 7) == 0) {
			memset(y + n, 'x', 1100);
			n += 1100;
			p += 7;
		} else {
			y[n++] = *p++;
		}
	}
	y[n] = '\0';
	if (campaign_parse("tiny.yaml", y, n, &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	return c;
}

struct want {
	enum survey_msg_kind kind;
	int q;
	enum text_coding coding[2];
	int units[2];
	int parts[2];
};

#define G TEXT_CODING_GSM7
#define U TEXT_CODING_UCS2
/* [0] as written under auto, [1] unaccented */
static const struct want tiny_auto[] = {
	{SURVEY_MSG_FIRST, 0, {G, G}, {173, 173}, {2, 2}},    /* "Xin chào\n" + item 1 */
	{SURVEY_MSG_ITEM, 0, {G, G}, {164, 164}, {2, 2}},
	{SURVEY_MSG_ITEM, 1, {U, G}, {21, 21}, {1, 1}},
	{SURVEY_MSG_INVALID, 0, {G, G}, {176, 176}, {2, 2}},  /* "Sai [1-2]" is 11 septets */
	{SURVEY_MSG_INVALID, 1, {U, G}, {31, 33}, {1, 1}},    /* brackets: 1 unit, 2 septets */
	{SURVEY_MSG_REMINDER, 0, {G, G}, {173, 173}, {2, 2}},
	{SURVEY_MSG_REMINDER, 1, {U, G}, {30, 30}, {1, 1}},
	{SURVEY_MSG_HELP, 0, {U, G}, {169, 169}, {3, 2}},     /* ú: UCS-2, 169 > 2 * 67 */
	{SURVEY_MSG_HELP, 1, {U, G}, {26, 26}, {1, 1}},
	{SURVEY_MSG_THANKS, -1, {U, G}, {77, 77}, {2, 1}},    /* "Cảm ơn " + Y70 */
	{SURVEY_MSG_STOPPED, -1, {G, G}, {7, 7}, {1, 1}},
	{SURVEY_MSG_EXPIRED, -1, {G, G}, {7, 7}, {1, 1}},
};

static void expect(const struct survey_preview *p, const struct want *w, size_t n, int swap)
{
	assert_int_equal(p->nmsg, (int)n);
	for (size_t i = 0; i < n; i++) {
		const struct survey_preview_msg *m = &p->msg[i];
		assert_int_equal(m->kind, w[i].kind);
		assert_int_equal(m->q, w[i].q);
		for (int v = 0; v < p->nvariants; v++) {
			int k = swap ? 1 - v : v;
			if (m->v[v].rc != 0 || (int)m->v[v].coding != (int)w[i].coding[k] ||
			    m->v[v].units != w[i].units[k] || m->v[v].nparts != w[i].parts[k])
				fail_msg("message %zu (%s %d) variant %d: rc %d coding %d units %d parts %d,"
				         " want coding %d units %d parts %d", i,
				         survey_msg_kind_name(m->kind), m->q, v, m->v[v].rc, m->v[v].coding,
				         m->v[v].units, m->v[v].nparts, w[i].coding[k], w[i].units[k],
				         w[i].parts[k]);
		}
	}
}

static void test_preview_auto(void **state)
{
	(void)state;
	struct campaign *c = load("auto", tiny_tmpl);
	struct survey_preview *p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(survey_preview(c, p), 0);
	assert_int_equal(p->nvariants, 2);
	assert_int_equal(p->msg[0].v[0].enc, TEXT_ENC_AUTO);
	assert_int_equal(p->msg[0].v[1].enc, TEXT_ENC_UNACCENTED);
	expect(p, tiny_auto, sizeof tiny_auto / sizeof tiny_auto[0], 0);
	/* completed: first (2) + item 2 (1) + thanks (2 | 1) */
	assert_int_equal(p->cost[0], 5);
	assert_int_equal(p->cost[1], 4);
	/* the texts as they go out */
	assert_string_equal(p->msg[2].v[0].text, "Câu 2/2?\n1-Có 2-Không");
	assert_string_equal(p->msg[2].v[1].text, "Cau 2/2?\n1-Co 2-Khong");
	assert_int_equal(strncmp(p->msg[0].v[0].text, "Xin chào\nQ1: xxx", 17), 0);
	assert_int_equal(strncmp(p->msg[0].v[1].text, "Xin chao\nQ1: xxx", 16), 0);
	survey_preview_clear(p);
	free(p);
	campaign_free(c);
}

static void test_preview_unaccented(void **state)
{
	(void)state;
	struct campaign *c = load("unaccented", tiny_tmpl);
	struct survey_preview *p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(survey_preview(c, p), 0);
	assert_int_equal(p->nvariants, 2);
	/* sent folded; the alternative is as written */
	assert_int_equal(p->msg[0].v[0].enc, TEXT_ENC_UNACCENTED);
	assert_int_equal(p->msg[0].v[1].enc, TEXT_ENC_AUTO);
	expect(p, tiny_auto, sizeof tiny_auto / sizeof tiny_auto[0], 1);
	assert_int_equal(p->cost[0], 4);
	assert_int_equal(p->cost[1], 5);
	assert_string_equal(p->msg[9].v[0].text + 0, "Cam on yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	survey_preview_clear(p);
	free(p);
	campaign_free(c);
}

static void test_preview_ucs2(void **state)
{
	(void)state;
	struct campaign *c = load("ucs2", tiny_tmpl);
	struct survey_preview *p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(survey_preview(c, p), 0);
	assert_int_equal(p->nvariants, 1);
	assert_int_equal(p->nmsg, 12);
	/* everything UCS-2: first 173 units = 3 parts, item 2 1, thanks 2 */
	assert_int_equal(p->msg[0].v[0].coding, TEXT_CODING_UCS2);
	assert_int_equal(p->msg[0].v[0].units, 173);
	assert_int_equal(p->msg[0].v[0].nparts, 3);
	assert_int_equal(p->msg[1].v[0].nparts, 3); /* 164 units */
	assert_int_equal(p->msg[10].v[0].coding, TEXT_CODING_UCS2);
	assert_int_equal(p->cost[0], 3 + 1 + 2);
	assert_null(p->msg[0].v[1].text);
	survey_preview_clear(p);
	free(p);
	campaign_free(c);
}

/* No intro: the first message is item 1 alone. Too long for 16 parts: no cost. */
static void test_preview_no_intro_too_long(void **state)
{
	(void)state;
	static const char tmpl[] =
		"id: long\n"
		"encoding: @ENC@\n"
		"questions:\n"
		"  - {id: q1, type: text, text: \"Q: @X1100@\"}\n"
		"messages: {thanks: \"Xong\"}\n";
	struct campaign *c = load("ucs2", tmpl);
	struct survey_preview *p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(survey_preview(c, p), 0);
	assert_int_equal(p->msg[0].kind, SURVEY_MSG_FIRST);
	assert_int_equal(p->msg[0].v[0].rc, -EMSGSIZE); /* 1103 units > 16 * 67 */
	assert_int_equal(p->msg[0].v[0].nparts, 0);
	assert_int_equal(p->cost[0], -1);
	/* the default messages are there too: 1 + 4 + 3 */
	assert_int_equal(p->nmsg, 8);
	survey_preview_clear(p);
	free(p);
	campaign_free(c);
	/* under auto the same text is GSM: 1103 septets = 8 parts */
	c = load("auto", tmpl);
	p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(survey_preview(c, p), 0);
	assert_int_equal(p->msg[0].v[0].nparts, 8);
	assert_int_equal(p->msg[0].v[0].units, 1103);
	assert_int_equal(p->cost[0], 8 + 1);
	survey_preview_clear(p);
	free(p);
	campaign_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preview_auto),
		cmocka_unit_test(test_preview_unaccented),
		cmocka_unit_test(test_preview_ucs2),
		cmocka_unit_test(test_preview_no_intro_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
