/* test_reply: a table of real-looking replies against the default scale and other item types. */
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
#include "reply.h"
#include "text.h"

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

/* Five scale items and an optional comment, like config/campaigns/default.yaml. */
static const char yaml_five[] =
	"id: five\n"
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
	"  - {id: q1, type: scale, scale: likert5, text: \"Q1\"}\n"
	"  - {id: q2, type: scale, scale: likert5, text: \"Q2\"}\n"
	"  - {id: q3, type: scale, scale: likert5, text: \"Q3\"}\n"
	"  - {id: q4, type: scale, scale: likert5, text: \"Q4\"}\n"
	"  - {id: q5, type: scale, scale: likert5, text: \"Q5\"}\n"
	"  - {id: comment, type: text, optional: true, text: \"Góp ý?\"}\n"
	"messages: {thanks: \"Cảm ơn\"}\n";

/* A scale, a yes/no (keys of several letters), a choice, a multi, a scale. */
static const char yaml_mixed[] =
	"id: mixed\n"
	"scales:\n"
	"  s3:\n"
	"    satisfied: [3]\n"
	"    options:\n"
	"      - {value: 3, label: Tốt, keys: [\"1\"]}\n"
	"      - {value: 2, label: Vừa, keys: [\"2\"]}\n"
	"      - {value: 1, label: Kém, keys: [\"3\"]}\n"
	"questions:\n"
	"  - {id: s, type: scale, scale: s3, text: \"S\"}\n"
	"  - {id: yn, type: yesno, text: \"YN\"}\n"
	"  - id: ch\n"
	"    type: choice\n"
	"    text: \"CH\"\n"
	"    options:\n"
	"      - {value: 10, label: Trực tiếp, keys: [\"1\"]}\n"
	"      - {value: 20, label: Bưu điện, keys: [\"2\"]}\n"
	"  - id: mu\n"
	"    type: multi\n"
	"    text: \"MU\"\n"
	"    options:\n"
	"      - {value: 1, label: Nhanh, keys: [\"1\"]}\n"
	"      - {value: 2, label: Rẻ, keys: [\"2\"]}\n"
	"  - {id: s2, type: scale, scale: s3, text: \"S2\"}\n"
	"messages: {thanks: \"Cảm ơn\"}\n";

static struct campaign *camp, *five, *mixed;

static int setup(void **state)
{
	(void)state;
	char err[2048];
	if (campaign_parse("t.yaml", yaml, sizeof yaml - 1, &camp, err, sizeof err) != 0 ||
	    campaign_parse("five.yaml", yaml_five, sizeof yaml_five - 1, &five, err, sizeof err) != 0 ||
	    campaign_parse("mixed.yaml", yaml_mixed, sizeof yaml_mixed - 1, &mixed, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	campaign_free(camp);
	campaign_free(five);
	campaign_free(mixed);
	return 0;
}

struct rcase {
	int q;                 /* question index */
	const char *in;
	enum reply_kind kind;
	int v1, v2;            /* expected values (0 = none); three values: test_reply_multi3 */
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
	/* more digits and keys with noise */
	{0, "1.", REPLY_ANSWER, 5, 0}, {0, "1)", REPLY_ANSWER, 5, 0}, {0, "#1", REPLY_ANSWER, 5, 0},
	{0, "'3'", REPLY_ANSWER, 3, 0}, {0, "\xef\xbc\x92", REPLY_ANSWER, 4, 0}, /* full-width 2 */
	{0, "\xef\xbc\xa1", REPLY_ANSWER, 5, 0},                                  /* full-width A */
	{0, "so 5", REPLY_ANSWER, 1, 0}, {0, "Chọn 2", REPLY_ANSWER, 4, 0}, {0, "Trả lời: 3", REPLY_ANSWER, 3, 0},
	{0, "dap an 4", REPLY_ANSWER, 2, 0}, {0, "toi chon 1", REPLY_ANSWER, 5, 0}, {0, "C", REPLY_ANSWER, 3, 0},
	{0, "\t4\r\n", REPLY_ANSWER, 2, 0}, {0, "D!", REPLY_ANSWER, 2, 0},
	/* more labels */
	{0, "RẤT HÀI LÒNG", REPLY_ANSWER, 5, 0}, {0, "rất hài lòng.", REPLY_ANSWER, 5, 0},
	{0, "Rat hai long!!!", REPLY_ANSWER, 5, 0}, {0, "Ha\xcc\x80i lo\xcc\x80ng", REPLY_ANSWER, 4, 0},
	{0, "BINH THUONG", REPLY_ANSWER, 3, 0}, {0, "bình thường", REPLY_ANSWER, 3, 0},
	{0, "không hài lòng!", REPLY_ANSWER, 2, 0}, {0, "Rất không hài lòng", REPLY_ANSWER, 1, 0},
	{0, "RAT KHONG HAI LONG", REPLY_ANSWER, 1, 0}, {0, "Khong Hai Long", REPLY_ANSWER, 2, 0},
	{0, "  hài   lòng  ", REPLY_ANSWER, 4, 0}, {0, "Hài lòng ạ", REPLY_ANSWER, 4, 0},
	/* more typos: one edit per 6 letters, and only one option that close */
	{0, "rat hai lonh", REPLY_ANSWER, 5, 0}, {0, "binh thuongg", REPLY_ANSWER, 3, 0},
	{0, "rat khong hai lon", REPLY_ANSWER, 1, 0}, {0, "hai lon", REPLY_ANSWER, 4, 0},
	{0, "kong hai long", REPLY_ANSWER, 2, 0}, {0, "ratt hai long", REPLY_ANSWER, 5, 0},
	{0, "hai lng", REPLY_ANSWER, 4, 0}, {0, "bnh thg", REPLY_ANSWER, 3, 0},
	/* not understood */
	{0, "7", REPLY_INVALID, 0, 0}, {0, "1 2", REPLY_INVALID, 0, 0}, {0, "a b", REPLY_INVALID, 0, 0},
	{0, "hello", REPLY_INVALID, 0, 0}, {0, "ok", REPLY_INVALID, 0, 0}, {0, "ff", REPLY_INVALID, 0, 0},
	/* "Đúng"/"dung" (right, yes) is never an opt-out; "dừng" (stop) with its marks is */
	{0, "dung", REPLY_INVALID, 0, 0}, {0, "Đúng", REPLY_INVALID, 0, 0}, {0, "ĐÚNG", REPLY_INVALID, 0, 0},
	{0, "đung", REPLY_INVALID, 0, 0}, {0, "Dung lai", REPLY_INVALID, 0, 0}, {2, "dung", REPLY_INVALID, 0, 0},
	{2, "Đúng", REPLY_ANSWER, 1, 0}, {3, "Đúng", REPLY_ANSWER, 0, 0}, {3, "dung", REPLY_ANSWER, 0, 0},
	{0, "dừng", REPLY_STOP, 0, 0}, {0, "DỪNG LẠI", REPLY_STOP, 0, 0}, {0, "Du\xcc\x9b\xcc\x80ng", REPLY_STOP, 0, 0},
	{0, "đừng", REPLY_INVALID, 0, 0},
	/* more keywords */
	{0, "Huỷ.", REPLY_STOP, 0, 0}, {0, "HỦY", REPLY_STOP, 0, 0}, {0, "huy bo", REPLY_STOP, 0, 0},
	{0, "Hủy khảo sát", REPLY_STOP, 0, 0}, {0, "stop!", REPLY_STOP, 0, 0}, {0, "Stop", REPLY_STOP, 0, 0},
	{0, "TU CHOI", REPLY_STOP, 0, 0}, {0, "TỪ CHỐI", REPLY_STOP, 0, 0}, {0, "tuchoi", REPLY_STOP, 0, 0},
	{0, "ngừng", REPLY_STOP, 0, 0}, {0, "Không tham gia", REPLY_STOP, 0, 0},
	{0, "help!", REPLY_HELP, 0, 0}, {0, "GIÚP", REPLY_HELP, 0, 0}, {0, "tro giup", REPLY_HELP, 0, 0},
	{0, "Hướng dẫn", REPLY_HELP, 0, 0}, {0, "LẠI", REPLY_REPEAT, 0, 0}, {0, "nhac lai", REPLY_REPEAT, 0, 0},
	{0, "Nhắc lại", REPLY_REPEAT, 0, 0}, {0, "repeat", REPLY_REPEAT, 0, 0},
	{1, "STOP", REPLY_STOP, 0, 0}, {1, "giup", REPLY_HELP, 0, 0}, {2, "Hủy", REPLY_STOP, 0, 0},
	{2, "lai", REPLY_REPEAT, 0, 0}, {3, "GIUP", REPLY_HELP, 0, 0}, {4, "lại", REPLY_REPEAT, 0, 0},
	{4, "tu choi", REPLY_STOP, 0, 0},
	/* more yes/no */
	{2, "yes", REPLY_ANSWER, 1, 0}, {2, "Y", REPLY_ANSWER, 1, 0}, {2, "no", REPLY_ANSWER, 2, 0},
	{2, "N", REPLY_ANSWER, 2, 0}, {2, "Có.", REPLY_ANSWER, 1, 0}, {2, "KHÔNG", REPLY_ANSWER, 2, 0},
	{2, "co'", REPLY_ANSWER, 1, 0}, {2, "so 1", REPLY_ANSWER, 1, 0}, {2, "3", REPLY_INVALID, 0, 0},
	/* more multi */
	{1, "1-3", REPLY_INVALID, 0, 0}, /* a range, or a list: unread */
	{1, "rut ngan thoi gian", REPLY_ANSWER, 1, 0}, {1, "1 2 9", REPLY_INVALID, 0, 0},
	{1, "chon 2 3", REPLY_ANSWER, 2, 3}, {1, "\xef\xbc\x91\xef\xbc\x93", REPLY_ANSWER, 1, 3},
	/* more text */
	{3, "Cán bộ nhiệt tình, chu đáo", REPLY_ANSWER, 0, 0}, {3, "skip", REPLY_SKIP, 0, 0},
	{3, "ko", REPLY_SKIP, 0, 0}, {3, "Bỏ qua.", REPLY_SKIP, 0, 0}, {3, "1 2 1 1 3", REPLY_ANSWER, 0, 0},
	{4, "bo qua", REPLY_ANSWER, 0, 0}, {4, "   ", REPLY_INVALID, 0, 0},
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

static void test_reply_multi3(void **state)
{
	(void)state;
	static const char *const ins[] = {"1,2,3", "123", "3 2 1", "1 2 3 3", "chon 1, 2 va 3"};
	static const int ok[] = {1, 1, 1, 1, 1};
	for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
		struct reply r;
		assert_int_equal(reply_parse(&camp->questions[1], ins[i], &r), 0);
		if (!ok[i]) {
			assert_int_equal(r.kind, REPLY_INVALID);
			continue;
		}
		assert_int_equal(r.kind, REPLY_ANSWER);
		assert_int_equal(r.nvalues, 3);
		assert_int_equal(r.values[0], 1);
		assert_int_equal(r.values[1], 2);
		assert_int_equal(r.values[2], 3);
		reply_clear(&r);
	}
}

/* Several answers in one message: the run of one-option items from q, as the
 * survey engine computes it (every item unanswered). */
struct mcase {
	int camp;          /* 0 five, 1 mixed */
	int q;             /* the item awaiting an answer */
	const char *in;
	int n;             /* answers taken, 0 = not several answers */
	int v[5];
};

static const struct mcase mcases[] = {
	{0, 0, "1 2 1 1 3", 5, {5, 4, 5, 5, 3}},
	{0, 0, "12113", 5, {5, 4, 5, 5, 3}},
	{0, 0, "1,2,1,1,3", 5, {5, 4, 5, 5, 3}},
	{0, 0, "1.2.1.1.3", 5, {5, 4, 5, 5, 3}},
	{0, 0, "1-2-1-1-3", 5, {5, 4, 5, 5, 3}},
	{0, 0, "1\n2\n1\n1\n3", 5, {5, 4, 5, 5, 3}},
	{0, 0, " 1 2 1 1 3! ", 5, {5, 4, 5, 5, 3}},
	{0, 0, "a b c d e", 0, {0}},   /* the legend copied back, not five answers */
	{0, 0, "ABCDE", 0, {0}},
	{0, 0, "12345", 0, {0}},
	{0, 0, "1 2 3 4 5", 0, {0}},
	{0, 0, "a b a a c", 5, {5, 4, 5, 5, 3}},
	{0, 0, "1 b 3 d 5", 0, {0}},   /* every option in legend order: a copy of it */
	{0, 0, "1 b 2 d 5", 5, {5, 4, 4, 2, 1}},
	{0, 0, "1b3d5", 0, {0}},       /* the legend in order */
	{0, 0, "1b2d5", 5, {5, 4, 4, 2, 1}},
	{0, 0, "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x91\xef\xbc\x91\xef\xbc\x93", 5, {5, 4, 5, 5, 3}},
	{0, 0, "so 1 2 1 1 3", 5, {5, 4, 5, 5, 3}},
	{0, 0, "tra loi: 55555", 5, {1, 1, 1, 1, 1}},
	{0, 2, "1 1 3", 3, {5, 5, 3, 0, 0}},
	{0, 2, "113", 3, {5, 5, 3, 0, 0}},
	{0, 3, "4 5", 2, {2, 1, 0, 0, 0}},
	{0, 3, "45", 0, {0}},       /* two keys written together on the last two: a number, or one key twice */
	{0, 3, "4 5", 2, {2, 1, 0, 0, 0}},
	{0, 3, "2 a", 0, {0}},      /* "2 ạ" written plainly */
	{0, 3, "b a", 0, {0}},      /* "b ạ" */
	{0, 3, "e 2", 0, {0}},      /* "em 2": a pronoun, then the answer to item 4 */
	{0, 3, "E 3 \xe1\xba\xa1", 0, {0}}, /* "E 3 ạ" */
	{0, 3, "c 2", 0, {0}},      /* "chị 2" */
	{0, 3, "2 b", 0, {0}},      /* the option's two keys, as the legend has them */
	{0, 3, "4 d", 0, {0}},
	{0, 3, "2 c", 2, {4, 3, 0, 0, 0}},
	{0, 2, "a 1 1", 0, {0}},    /* "anh 1 1" */
	{0, 0, "e 1 2 1 1", 0, {0}},
	{0, 3, "2 2", 0, {0}},      /* one answer said twice */
	{0, 3, "4.5", 0, {0}},      /* a decimal score */
	{0, 2, "123", 0, {0}},      /* a run of the legend */
	{0, 0, "54321", 0, {0}},
	{0, 1, "2 3 4 5", 0, {0}},
	{0, 2, "1 1 3", 3, {5, 5, 3, 0, 0}},
	{0, 3, "4/5", 0, {0}},      /* a score */
	{0, 3, "4-5", 0, {0}},      /* a range */
	{0, 3, "\xc3\xaa \xc3\xaa", 0, {0}}, /* "ê ê": no keys */
	/* the count does not fit, a token does not match its item, or it is something else */
	{0, 0, "1 2 1 1", 0, {0}},
	{0, 0, "1 2 1 1 3 1", 0, {0}},
	{0, 0, "1211", 0, {0}},
	{0, 0, "121131", 0, {0}},
	{0, 0, "1 2 1 1 6", 0, {0}},
	{0, 0, "1 2 1 1 x", 0, {0}},
	{0, 0, "12116", 0, {0}},
	{0, 0, "1 2 1 1 3 Cán bộ tốt", 0, {0}},
	{0, 0, "12 1 1 3", 0, {0}},
	{0, 0, "1", 0, {0}},
	{0, 0, "rat hai long", 0, {0}},
	{0, 0, "hai long hai long", 0, {0}},
	{0, 0, "HUY", 0, {0}},
	{0, 0, "tu choi", 0, {0}},
	{0, 0, "", 0, {0}},
	{0, 0, "\xff 1 2 1 1 3", 0, {0}},
	{0, 3, "4 5 1", 0, {0}},
	{0, 4, "5", 0, {0}},        /* one item left: a single reply */
	{0, 5, "1 2", 0, {0}},      /* a text item is never filled this way */
	/* mixed: the run from s is s, yn, ch (the multi ends it) */
	{1, 0, "1 co 2", 3, {3, 1, 20, 0, 0}},
	{1, 0, "1 1 2", 3, {3, 1, 20, 0, 0}},
	{1, 0, "3 không 1", 3, {1, 2, 10, 0, 0}},
	{1, 0, "2 Có Bưu điện", 0, {0}}, /* a label of two words is not one token */
	{1, 0, "2 yes 1", 3, {2, 1, 10, 0, 0}},
	{1, 0, "112", 0, {0}},     /* yes/no keys have several letters: spaces needed */
	{1, 0, "1 2", 0, {0}},
	{1, 0, "1 1 2 1", 0, {0}},
	{1, 1, "co 2", 2, {1, 20, 0, 0, 0}},
	{1, 1, "12", 0, {0}},
	{1, 3, "1 2", 0, {0}},      /* a multi item is not in a run */
	{1, 4, "1", 0, {0}},
};

static void test_reply_many(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof mcases / sizeof mcases[0]; i++) {
		const struct mcase *m = &mcases[i];
		const struct campaign *c = m->camp ? mixed : five;
		int run = 0;
		while (m->q + run < c->nquestions && reply_single_option(&c->questions[m->q + run]))
			run++;
		int values[CAMPAIGN_MAX_QUESTIONS] = {0};
		int n = reply_parse_many(&c->questions[m->q], run, m->in, values);
		if (n != m->n)
			fail_msg("many case %zu '%s': %d answers, want %d", i, m->in, n, m->n);
		for (int k = 0; k < n; k++)
			if (values[k] != m->v[k])
				fail_msg("many case %zu '%s': answer %d is %d, want %d", i, m->in, k + 1,
				         values[k], m->v[k]);
	}
}

/* The table must stay big: real replies are varied. */
/* text_squeeze undoes emphatic letters, on the letter a mark sits on, and
 * keeps what is no emphasis: a word that is one run ("kkk", a laugh, never
 * "k"), digits ("000", never "0"), pairs ("oo" is Telex). */
static void test_reply_squeeze(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"hài lònggg", "hài lòng"}, {"rấtttt", "rất"}, {"cóóó", "có"}, {"dạaaa hài lòng", "dạ hài lòng"},
		{"KHÔNGGGG", "KHÔNG"}, {"kkk hai long", "kkk hai long"}, {"kkkk", "kkkk"}, {"000 hai long", "000 hai long"},
		{"khoong", "khoong"}, {"hai  longgg!!!", "hai  long!!!"}, {"ha\xcc\x80iii", "hài"}, {"", ""},
		{"okkk 😊😊😊", "ok 😊😊😊"}, {"Đđđ", "Đđđ"}, {"Đđđa", "Đa"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = text_squeeze(cases[i][0]);
		assert_non_null(out);
		assert_string_equal(out, cases[i][1]);
		free(out);
	}
	assert_null(text_squeeze("\xff"));
	assert_true(text_has_symbol("2 😊"));
	assert_true(text_has_symbol("❤"));
	assert_false(text_has_symbol("2\xef\xb8\x8f\xe2\x83\xa3")); /* keycap 2️⃣ is a key */
	assert_false(text_has_symbol("Hài lòng, 2!"));
}

static void test_reply_table_size(void **state)
{
	(void)state;
	assert_true(sizeof rcases / sizeof rcases[0] + sizeof mcases / sizeof mcases[0] >= 150);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_reply_text_kept),
		cmocka_unit_test(test_reply_multi3),
		cmocka_unit_test(test_reply_many),
		cmocka_unit_test(test_reply_table_size),
		cmocka_unit_test(test_reply_squeeze),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
