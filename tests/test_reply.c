/* test_reply: a table of real-looking replies against the default scale and other item types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "campaign.h"
#include "reply.h"

static const char yaml[] =
	"id: t\n"
	"scales:\n"
	"  likert5:\n"
	"    satisfied: [5, 4]\n"
	"    options:\n"
	"      - {value: 5, label: Rất hài lòng, keys: [\"1\", \"a\"]}\n"
	"      - {value: 4, label: Hài lòng, keys: [\"2\", \"b\"]}\n"
	"      - {value: 3, label: Bình thường, keys: [\"3\", \"c\"]}\n"
	"      - {value: 2, label: Không hài lòng, keys: [\"4\", \"d\"]}\n"
	"      - {value: 1, label: Rất không hài lòng, keys: [\"5\", \"e\"]}\n"
	"questions:\n"
	"  - {id: q1, type: scale, scale: likert5, text: \"Câu {n}/{total}: Đánh giá?\"}\n"
	"  - id: improve\n"
	"    type: multi\n"
	"    text: \"Cần cải thiện gì?\"\n"
	"    options:\n"
	"      - {value: 1, label: Rút ngắn thời gian, keys: [\"1\"]}\n"
	"      - {value: 2, label: Thái độ cán bộ, keys: [\"2\"]}\n"
	"      - {value: 3, label: Cơ sở vật chất, keys: [\"3\"]}\n"
	"  - {id: ok, type: yesno, text: \"Đúng hạn?\"}\n"
	"  - {id: comment, type: text, optional: true, text: \"Góp ý?\"}\n"
	"  - {id: must, type: text, text: \"Bắt buộc?\"}\n"
	"messages: {thanks: \"Cảm ơn\"}\n";

static struct campaign *camp;

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

struct rcase {
	int q;                 /* question index */
	const char *in;
	enum reply_kind kind;
	int v1, v2;            /* expected values (0 = none) */
};

static const struct rcase rcases[] = {
	/* digits with noise */
	{0, "1", REPLY_ANSWER, 5, 0}, {0, " 1.", REPLY_ANSWER, 5, 0}, {0, "1!", REPLY_ANSWER, 5, 0},
	{0, "so 1", REPLY_ANSWER, 5, 0}, {0, "Số 2", REPLY_ANSWER, 4, 0}, {0, "chon 3", REPLY_ANSWER, 3, 0},
	{0, "\xef\xbc\x91", REPLY_ANSWER, 5, 0}, /* full-width 1 */
	{0, "(4)", REPLY_ANSWER, 2, 0}, {0, "5\n", REPLY_ANSWER, 1, 0}, {0, "  2  ", REPLY_ANSWER, 4, 0},
	{0, "tra loi: 1", REPLY_ANSWER, 5, 0},
	/* keys */
	{0, "a", REPLY_ANSWER, 5, 0}, {0, "B", REPLY_ANSWER, 4, 0}, {0, "e.", REPLY_ANSWER, 1, 0},
	/* labels, any case, with or without diacritics, composed or decomposed */
	{0, "Rất hài lòng", REPLY_ANSWER, 5, 0}, {0, "rat hai long", REPLY_ANSWER, 5, 0},
	{0, "RAT HAI LONG", REPLY_ANSWER, 5, 0}, {0, "Ra\xcc\x82\xcc\x81t ha\xcc\x80i lo\xcc\x80ng", REPLY_ANSWER, 5, 0},
	{0, "hài lòng", REPLY_ANSWER, 4, 0}, {0, "Hai long!", REPLY_ANSWER, 4, 0},
	{0, "binh thuong", REPLY_ANSWER, 3, 0}, {0, "Bình thường.", REPLY_ANSWER, 3, 0},
	{0, "khong hai long", REPLY_ANSWER, 2, 0}, {0, "KHÔNG HÀI LÒNG", REPLY_ANSWER, 2, 0},
	{0, "rat khong hai long", REPLY_ANSWER, 1, 0},
	/* small typos */
	{0, "rat hai lon", REPLY_ANSWER, 5, 0}, {0, "binh thuog", REPLY_ANSWER, 3, 0},
	{0, "khong hai lng", REPLY_ANSWER, 2, 0},
	/* not understood */
	{0, "", REPLY_INVALID, 0, 0}, {0, "???", REPLY_INVALID, 0, 0}, {0, "xyz", REPLY_INVALID, 0, 0},
	{0, "6", REPLY_INVALID, 0, 0}, {0, "0", REPLY_INVALID, 0, 0}, {0, "12", REPLY_INVALID, 0, 0},
	{0, "tot", REPLY_INVALID, 0, 0}, {0, "\xff\xfe", REPLY_INVALID, 0, 0},
	/* keywords, anywhere */
	{0, "HUY", REPLY_STOP, 0, 0}, {0, "huỷ", REPLY_STOP, 0, 0}, {0, "Hủy", REPLY_STOP, 0, 0},
	{0, "STOP", REPLY_STOP, 0, 0}, {0, "tu choi", REPLY_STOP, 0, 0}, {0, "Từ chối", REPLY_STOP, 0, 0},
	{0, "GIUP", REPLY_HELP, 0, 0}, {0, "giúp", REPLY_HELP, 0, 0}, {0, "help", REPLY_HELP, 0, 0},
	{0, "LAI", REPLY_REPEAT, 0, 0}, {0, "lại", REPLY_REPEAT, 0, 0},
	{3, "huy", REPLY_STOP, 0, 0},
	/* multi */
	{1, "1 3", REPLY_ANSWER, 1, 3}, {1, "3,1", REPLY_ANSWER, 1, 3}, {1, "13", REPLY_ANSWER, 1, 3},
	{1, "2", REPLY_ANSWER, 2, 0}, {1, "thai do can bo", REPLY_ANSWER, 2, 0}, {1, "1 1", REPLY_ANSWER, 1, 0},
	{1, "1 9", REPLY_INVALID, 0, 0}, {1, "abc", REPLY_INVALID, 0, 0},
	/* yes/no */
	{2, "1", REPLY_ANSWER, 1, 0}, {2, "có", REPLY_ANSWER, 1, 0}, {2, "CO", REPLY_ANSWER, 1, 0},
	{2, "2", REPLY_ANSWER, 2, 0}, {2, "không", REPLY_ANSWER, 2, 0}, {2, "ko", REPLY_ANSWER, 2, 0},
	{2, "k", REPLY_ANSWER, 2, 0}, {2, "maybe", REPLY_INVALID, 0, 0},
	/* text */
	{3, "Cán bộ nhiệt tình", REPLY_ANSWER, 0, 0}, {3, "0", REPLY_SKIP, 0, 0},
	{3, "bo qua", REPLY_SKIP, 0, 0}, {3, "Không", REPLY_SKIP, 0, 0}, {3, "", REPLY_INVALID, 0, 0},
	{4, "0", REPLY_ANSWER, 0, 0}, {4, "không có gì", REPLY_ANSWER, 0, 0},
};

static void test_reply_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
		const struct rcase *c = &rcases[i];
		struct reply r;
		assert_int_equal(reply_parse(&camp->questions[c->q], c->in, &r), 0);
		if (r.kind != c->kind)
			fail_msg("case %zu '%s': kind %d, want %d", i, c->in, r.kind, c->kind);
		int want = (c->v1 != 0) + (c->v2 != 0);
		if (camp->questions[c->q].type != Q_TEXT) {
			if (r.nvalues != want)
				fail_msg("case %zu '%s': %d values, want %d", i, c->in, r.nvalues, want);
			if (want >= 1)
				assert_int_equal(r.values[0], c->v1);
			if (want == 2)
				assert_int_equal(r.values[1], c->v2);
		}
		reply_clear(&r);
	}
}

static void test_reply_text_kept(void **state)
{
	(void)state;
	struct reply r;
	/* decomposed input comes back composed (NFC) and trimmed */
	assert_int_equal(reply_parse(&camp->questions[3], "  Ca\xcc\x81n bo\xcc\xa3\xcc\x82 to\xcc\x82\xcc\x81t  ", &r), 0);
	assert_int_equal(r.kind, REPLY_ANSWER);
	assert_string_equal(r.text, "Cán bộ tốt");
	reply_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_reply_text_kept),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
