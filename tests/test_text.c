/* Tests for engine/text.c: folding, GSM 03.38 / UCS-2 codecs and SMS segmentation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The question of the default campaign, NFC (58 code points, all BMP). */
#define Q1_NFC "C\u00e2u 1/5: \u00d4ng/B\u00e0 \u0111\u00e1nh gi\u00e1 th\u1ebf n\u00e0o v\u1ec1 vi\u1ec7c ti\u1ebfp c\u1eadn d\u1ecbch v\u1ee5?"
/* The same question, NFD (base letters + combining marks). */
#define Q1_NFD "Ca\u0302u 1/5: O\u0302ng/Ba\u0300 \u0111a\u0301nh gia\u0301 the\u0302\u0301 na\u0300o ve\u0302\u0300 vie\u0302\u0323c tie\u0302\u0301p ca\u0302\u0323n di\u0323ch vu\u0323?"
/* 70 code points in NFC (one UCS-2 part), 90 in NFD (would be two). */
#define Q70_NFC Q1_NFC " Xin c\u1ea3m \u01a1n!"
#define Q70_NFD Q1_NFD " Xin ca\u0309m o\u031bn!"
#define Q1_PLAIN "Cau 1/5: Ong/Ba danh gia the nao ve viec tiep can dich vu?"

/* ---- helpers -------------------------------------------------------- */

/* A malloc'd string of `n` copies of `unit` followed by `tail`. */
static char *rep(const char *unit, size_t n, const char *tail)
{
	size_t ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(ul * n + tl + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + ul * n, tail, tl + 1);
	return s;
}

/* Concatenate the parts and decode them back to UTF-8. */
static void parts_decode(const struct text_parts *tp, char *out, size_t cap)
{
	uint8_t all[TEXT_MAX_PARTS * 160];
	size_t n = 0;

	for (int i = 0; i < tp->nparts; i++) {
		memcpy(all + n, tp->part[i].data, tp->part[i].len);
		n += tp->part[i].len;
	}
	assert_true(text_decode(tp->coding, all, n, out, cap) >= 0);
}

/* ---- text_fold ------------------------------------------------------ */

static const struct {
	const char *in, *want; /* want NULL: must fail */
} fold_cases[] = {
	{"  R\u1ea5t H\u00c0I L\u00d2NG!! ", "rat hai long"},
	{"  Ra\u0302\u0301t HA\u0300I LO\u0300NG!! ", "rat hai long"}, /* NFD */
	{"Kh\u00f4ng h\u00e0i l\u00f2ng", "khong hai long"},
	{"\u0110\u00fang", "dung"},
	{"\u0111\u00e3 \u0110I", "da di"},
	{"\uff11", "1"},                               /* full-width digit */
	{"\uff21\uff22\uff43\uff01\uff12", "abc 2"},   /* full-width letters, ! */
	{"\u01b0\u01a1 \u01af\u01a0 \u1eeb \u1edd", "uo uo u o"}, /* horn stripped */
	{"1.", "1"},
	{"...5...", "5"},
	{"a\t\n-_,b", "a b"},
	{"a\u00adb", "ab"},                            /* soft hyphen ignored */
	{"R\u1ea5t\u00a0h\u00e0i\u3000l\u00f2ng", "rat hai long"}, /* NBSP, ideographic space */
	{"", ""},
	{"!!! ???", ""},
	{"\xF0\x9F\x98\x80 yes", "yes"},               /* emoji is not a letter */
	{"\u6ee1\u610f", "\u6ee1\u610f"},              /* CJK letters kept */
	{"Stra\u00dfe", "strasse"},
	{Q1_NFD, "cau 1 5 ong ba danh gia the nao ve viec tiep can dich vu"},
	{"\xC3", NULL},                                /* truncated sequence */
	{"a\xFF" "b", NULL},
	{"\xC0\xAF", NULL},                            /* overlong '/' */
	{"\xED\xA0\x80", NULL},                        /* UTF-8 encoded surrogate */
	{"\xF4\x90\x80\x80", NULL},                    /* > U+10FFFF */
};

static void test_fold(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(fold_cases); i++) {
		char *got = text_fold(fold_cases[i].in);
		if (fold_cases[i].want == NULL) {
			if (got != NULL)
				fail_msg("case %zu: want NULL, got \"%s\"", i, got);
			continue;
		}
		if (got == NULL)
			fail_msg("case %zu: NULL", i);
		if (strcmp(got, fold_cases[i].want) != 0)
			fail_msg("case %zu: want \"%s\" got \"%s\"", i, fold_cases[i].want, got);
		free(got);
	}
	assert_null(text_fold(NULL));
}

/* ---- text_nfc / text_unaccent --------------------------------------- */

static const struct {
	const char *in, *nfc, *plain; /* NULL: must fail */
} norm_cases[] = {
	{Q1_NFD, Q1_NFC, Q1_PLAIN},
	{Q1_NFC, Q1_NFC, Q1_PLAIN},
	{"\u0110\u1ea0I H\u1eccC", "\u0110\u1ea0I H\u1eccC", "DAI HOC"},
	{"\u01afu ti\u00ean", "\u01afu ti\u00ean", "Uu tien"},
	{"Tr\u01b0\u1eddng \u0111\u1ea1i h\u1ecdc", "Tr\u01b0\u1eddng \u0111\u1ea1i h\u1ecdc", "Truong dai hoc"},
	{"1 = R\u1ea5t k\u00e9m; 5 = R\u1ea5t t\u1ed1t!", "1 = R\u1ea5t k\u00e9m; 5 = R\u1ea5t t\u1ed1t!",
	 "1 = Rat kem; 5 = Rat tot!"},
	/* typographic punctuation, NBSP and a soft hyphen */
	{"\u201cC\u00f3\u201d \u2013 \u2018K\u2019\u00a0x\u00ady", "\u201cC\u00f3\u201d \u2013 \u2018K\u2019\u00a0x\u00ady",
	 "\"Co\" - 'K' xy"},
	{"\uff21\uff11", "\uff21\uff11", "A1"},
	{"", "", ""},
	{"\xE1\xBA", NULL, NULL},
};

static void test_nfc_unaccent(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(norm_cases); i++) {
		char *nfc = text_nfc(norm_cases[i].in);
		char *plain = text_unaccent(norm_cases[i].in);

		if (norm_cases[i].nfc == NULL) {
			assert_null(nfc);
			assert_null(plain);
			continue;
		}
		assert_non_null(nfc);
		assert_non_null(plain);
		if (strcmp(nfc, norm_cases[i].nfc) != 0)
			fail_msg("case %zu nfc: \"%s\"", i, nfc);
		if (strcmp(plain, norm_cases[i].plain) != 0)
			fail_msg("case %zu plain: want \"%s\" got \"%s\"", i, norm_cases[i].plain, plain);
		free(nfc);
		free(plain);
	}
	assert_null(text_nfc(NULL));
	assert_null(text_unaccent(NULL));
}

/* ---- counting --------------------------------------------------------- */

static const struct {
	const char *in;
	int septets, units;
} count_cases[] = {
	{"", 0, 0},
	{"hello", 5, 5},
	{"@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\u00d8\u00f8\u00c5\u00e5", 14, 14},
	{"\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9", 15, 15},
	{"\u00a4\u00a1\u00c4\u00d6\u00d1\u00dc\u00a7\u00bf\u00e4\u00f6\u00f1\u00fc\u00e0", 13, 13},
	{"\u20ac", 2, 1},
	{"^{}\\[~]|", 16, 8},
	{"a\u20acb", 4, 3},
	{"\r\n", 2, 2},
	{"\u00ea", -1, 1},                       /* ê is not GSM */
	{"e\u0301", -1, 2},                      /* NFD é: counted as given */
	{"\u00e7", -1, 1},                       /* ç: only Ç is GSM */
	{"`", -1, 1},
	{"\xF0\x9F\x98\x80", -1, 2},             /* emoji: surrogate pair */
	{"a\xF0\x9F\x98\x80" "b", -1, 4},
	{Q1_NFC, -1, 58},
	{Q1_NFD, -1, 76},
	{Q70_NFC, -1, 70},
	{Q70_NFD, -1, 90},
	{Q1_PLAIN, 58, 58},
	{"\xC3(", -1, -1},
	{"\xED\xB0\x80", -1, -1},
};

static void test_counts(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(count_cases); i++) {
		int s = text_gsm7_septets(count_cases[i].in);
		int u = text_ucs2_units(count_cases[i].in);
		if (s != count_cases[i].septets || u != count_cases[i].units)
			fail_msg("case %zu: septets %d/%d units %d/%d", i, s, count_cases[i].septets, u,
			         count_cases[i].units);
	}
	assert_int_equal(text_gsm7_septets(NULL), -1);
	assert_int_equal(text_ucs2_units(NULL), -1);
}

/* ---- GSM 03.38 codec ------------------------------------------------ */

static const struct {
	const char *in;
	int ret; /* bytes, or negative errno */
	uint8_t want[16];
} gsm_enc_cases[] = {
	{"@\u00a3$\u00a5", 4, {0x00, 0x01, 0x02, 0x03}},
	{"\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7", 6, {0x04, 0x05, 0x06, 0x07, 0x08, 0x09}},
	{"\u0394_\u03a9\u03a3", 4, {0x10, 0x11, 0x15, 0x18}},
	{"\u00c6\u00e6\u00df\u00c9", 4, {0x1C, 0x1D, 0x1E, 0x1F}},
	{" \u00a4\u00a1\u00a7\u00bf\u00e0", 6, {0x20, 0x24, 0x40, 0x5F, 0x60, 0x7F}},
	{"\u00c4\u00d6\u00d1\u00dc\u00e4\u00f6\u00f1\u00fc", 8, {0x5B, 0x5C, 0x5D, 0x5E, 0x7B, 0x7C, 0x7D, 0x7E}},
	{"Az09", 4, {0x41, 0x7A, 0x30, 0x39}},
	{"\u20ac^", 4, {0x1B, 0x65, 0x1B, 0x14}},
	{"{}\\", 6, {0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F}},
	{"[~]|", 8, {0x1B, 0x3C, 0x1B, 0x3D, 0x1B, 0x3E, 0x1B, 0x40}},
	{"", 0, {0}},
	{"a\u00eab", -EILSEQ, {0}},
	{"\xF0\x9F\x98\x80", -EILSEQ, {0}},
	{"ab\xC3", -EILSEQ, {0}},
};

static void test_gsm7_encode(void **state)
{
	uint8_t buf[16];

	(void)state;
	for (size_t i = 0; i < N(gsm_enc_cases); i++) {
		int n = text_gsm7_encode(gsm_enc_cases[i].in, buf, sizeof buf);
		if (n != gsm_enc_cases[i].ret)
			fail_msg("case %zu: ret %d want %d", i, n, gsm_enc_cases[i].ret);
		if (n > 0)
			assert_memory_equal(buf, gsm_enc_cases[i].want, (size_t)n);
	}
	assert_int_equal(text_gsm7_encode("abc", buf, 2), -ENOSPC);
	assert_int_equal(text_gsm7_encode("ab\u20ac", buf, 3), -ENOSPC); /* escape pair needs 2 */
	assert_int_equal(text_gsm7_encode("ab\u20ac", buf, 4), 4);
	assert_int_equal(text_gsm7_encode("", NULL, 0), 0);
}

static const struct {
	uint8_t in[8];
	size_t n;
	const char *want;
} gsm_dec_cases[] = {
	{{0x00, 0x02, 0x01, 0x03}, 4, "@$\u00a3\u00a5"},
	{{0x1B, 0x65, 0x1B, 0x14}, 4, "\u20ac^"},
	{{0x1B, 0x0A}, 2, "\f"},
	{{0x41, 0x1B}, 2, "A?"},                 /* trailing escape */
	{{0x1B, 0x41}, 2, "A"},                  /* escape + unknown: basic char */
	{{0x1B, 0x1B, 0x65}, 3, "?\u20ac"},
	{{0x80, 0xFF, 0x61}, 3, "??a"},          /* not septets */
	{{0x1B, 0x90}, 2, "??"},
	{{0x7F, 0x0A, 0x0D}, 3, "\u00e0\n\r"},
	{{0}, 0, ""},
};

static void test_gsm7_decode(void **state)
{
	char out[64];

	(void)state;
	for (size_t i = 0; i < N(gsm_dec_cases); i++) {
		int n = text_gsm7_decode(gsm_dec_cases[i].in, gsm_dec_cases[i].n, out, sizeof out);
		if (n != (int)strlen(gsm_dec_cases[i].want) || strcmp(out, gsm_dec_cases[i].want) != 0)
			fail_msg("case %zu: %d \"%s\"", i, n, out);
	}
	/* "@£" needs 1 + 2 bytes + NUL: cap 3 fails but stays terminated. */
	memset(out, 'x', sizeof out);
	assert_int_equal(text_gsm7_decode((const uint8_t *)"\x00\x01", 2, out, 3), -ENOSPC);
	assert_string_equal(out, "@");
	assert_int_equal(text_gsm7_decode((const uint8_t *)"\x00\x01", 2, out, 4), 3);
	assert_int_equal(text_gsm7_decode((const uint8_t *)"A", 1, out, 1), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(text_gsm7_decode((const uint8_t *)"A", 1, NULL, 0), -ENOSPC);
}

/* Every GSM code (basic and extension) decodes to one character that
 * encodes back to the same bytes. */
static void test_gsm7_roundtrip_all(void **state)
{
	static const uint8_t ext[] = {0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65};
	uint8_t in[2], back[4];
	char mid[8];

	(void)state;
	for (int c = 0; c < 128 + (int)N(ext); c++) {
		size_t n;
		if (c == 0x1B)
			continue;
		if (c < 128) {
			in[0] = (uint8_t)c;
			n = 1;
		} else {
			in[0] = 0x1B;
			in[1] = ext[c - 128];
			n = 2;
		}
		assert_true(text_gsm7_decode(in, n, mid, sizeof mid) > 0);
		assert_int_equal(text_ucs2_units(mid), 1);
		assert_int_equal(text_gsm7_septets(mid), (int)n);
		if (text_gsm7_encode(mid, back, sizeof back) != (int)n || memcmp(in, back, n) != 0)
			fail_msg("code 0x%02x%s does not round-trip", in[n - 1], n == 2 ? " (ext)" : "");
	}
}

/* ---- UCS-2 codec ------------------------------------------------------ */

static const struct {
	const char *in;
	int ret;
	uint8_t want[12];
} ucs2_enc_cases[] = {
	{"A\u00ea", 4, {0x00, 0x41, 0x00, 0xEA}},
	{"\u0111\u1ebf", 4, {0x01, 0x11, 0x1E, 0xBF}},
	{"\xF0\x9F\x98\x80", 4, {0xD8, 0x3D, 0xDE, 0x00}},
	{"\xF4\x8F\xBF\xBF", 4, {0xDB, 0xFF, 0xDF, 0xFF}},
	{"\uffff", 2, {0xFF, 0xFF}},
	{"", 0, {0}},
	{"a\xE1\xBA", -EILSEQ, {0}},
};

static void test_ucs2_encode(void **state)
{
	uint8_t buf[12];

	(void)state;
	for (size_t i = 0; i < N(ucs2_enc_cases); i++) {
		int n = text_ucs2_encode(ucs2_enc_cases[i].in, buf, sizeof buf);
		if (n != ucs2_enc_cases[i].ret)
			fail_msg("case %zu: ret %d want %d", i, n, ucs2_enc_cases[i].ret);
		if (n > 0)
			assert_memory_equal(buf, ucs2_enc_cases[i].want, (size_t)n);
	}
	assert_int_equal(text_ucs2_encode("ab", buf, 3), -ENOSPC);
	assert_int_equal(text_ucs2_encode("a\xF0\x9F\x98\x80", buf, 5), -ENOSPC); /* pair needs 4 */
}

static const struct {
	uint8_t in[10];
	size_t n;
	const char *want;
} ucs2_dec_cases[] = {
	{{0x00, 0x43, 0x00, 0xE2, 0x00, 0x75}, 6, "C\u00e2u"},
	{{0xD8, 0x3D, 0xDE, 0x00}, 4, "\xF0\x9F\x98\x80"},
	{{0xD8, 0x3D, 0x00, 0x41}, 4, "\ufffdA"},      /* lone high */
	{{0xDE, 0x00, 0x00, 0x41}, 4, "\ufffdA"},      /* lone low */
	{{0x00, 0x41, 0xD8, 0x3D}, 4, "A\ufffd"},      /* high at the end */
	{{0x00, 0x41, 0x00}, 3, "A"},                  /* odd trailing byte dropped */
	{{0x00, 0x41, 0x00, 0x00}, 4, "A"},            /* NUL padding dropped */
	{{0x1E, 0xBF}, 2, "\u1ebf"},
	{{0}, 0, ""},
};

static void test_ucs2_decode(void **state)
{
	char out[32];

	(void)state;
	for (size_t i = 0; i < N(ucs2_dec_cases); i++) {
		int n = text_ucs2_decode(ucs2_dec_cases[i].in, ucs2_dec_cases[i].n, out, sizeof out);
		if (n != (int)strlen(ucs2_dec_cases[i].want) || strcmp(out, ucs2_dec_cases[i].want) != 0)
			fail_msg("case %zu: %d \"%s\"", i, n, out);
	}
	memset(out, 'x', sizeof out);
	assert_int_equal(text_ucs2_decode((const uint8_t *)"\x00\x41\x1E\xBF", 4, out, 4), -ENOSPC);
	assert_string_equal(out, "A");
	assert_int_equal(text_ucs2_decode((const uint8_t *)"\x00\x41\x1E\xBF", 4, out, 5), 4);
}

static void test_latin1_and_dispatch(void **state)
{
	static const struct {
		int dc;
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{3, "caf\xE9", 4, "caf\u00e9"},
		{3, "\xA3\xFF", 2, "\u00a3\u00ff"},
		{3, "ok\0", 3, "ok"},
		{0, "\x00\x1B\x65", 3, "@\u20ac"},
		{1, "\x00\x1B\x65", 3, "@\u20ac"},
		{8, "\x00\x40\x20\xAC", 4, "@\u20ac"},
		{4, "\xE9", 1, "\u00e9"},   /* unknown dc: Latin-1 */
		{0x0E, "\xE9", 1, "\u00e9"},
		/* GSM 03.38 DCS passed through: by the alphabet bits */
		{0xF0, "\x00\x31", 2, "@1"},         /* class 0, GSM */
		{0xF4, "\xE9", 1, "\u00e9"},          /* class 0, 8-bit */
		{0x0F, "\x00\x31", 2, "@1"},         /* USSD, GSM, language unspecified */
		{0x18, "\x00\x31", 2, "1"},          /* UCS-2, class 0: "1", not a NUL and "1" */
		{0x48, "\x1E\xA1", 2, "\u1ea1"},      /* USSD UCS-2 */
		{0xE0, "\x00\x31", 2, "1"},          /* message waiting, UCS-2 */
		{0xC8, "\x00\x31", 2, "@1"},         /* message waiting, GSM */
		{0x14, "\xE9", 1, "\u00e9"},          /* 8-bit with a class */
		{0x80, "\xE9", 1, "\u00e9"},          /* reserved: Latin-1 */
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int n = text_decode(cases[i].dc, (const uint8_t *)cases[i].in, cases[i].n, out, sizeof out);
		if (n != (int)strlen(cases[i].want) || strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: %d \"%s\"", i, n, out);
	}
	assert_int_equal(text_latin1_decode((const uint8_t *)"a\xE9", 2, out, 3), -ENOSPC);
	assert_string_equal(out, "a");
}

/* ---- segmentation ------------------------------------------------------ */

struct split_case {
	const char *name;
	const char *unit; /* repeated `count` times, then `tail` */
	size_t count;
	const char *tail;
	enum text_encoding enc;
	int ret;
	enum text_coding coding;
	int units;
	int nparts;
	size_t len[4]; /* lengths of the first parts, octets */
};

static const struct split_case split_cases[] = {
	{"empty", "", 0, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 0, 1, {0}},
	{"empty ucs2", "", 0, "", TEXT_ENC_UCS2, 0, TEXT_CODING_UCS2, 0, 1, {0}},
	{"gsm 160", "a", 160, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 160, 1, {160}},
	{"gsm 161", "a", 161, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 161, 2, {153, 8}},
	{"gsm 158 + euro", "a", 158, "\u20ac", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 160, 1, {160}},
	{"gsm 159 + euro", "a", 159, "\u20ac", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 161, 2, {153, 8}},
	/* the escape would sit at septet 153: the pair moves to part 2 */
	{"ext at 153", "a", 152, "\u20acbbbbbbbbbb", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 164, 2, {152, 12}},
	{"ext ends at 153", "a", 151, "\u20acbbbbbbbbbb", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 163, 2, {153, 10}},
	{"gsm 3 parts", "a", 307, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 307, 3, {153, 153, 1}},
	{"gsm 16 parts", "a", 16 * 153, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 16 * 153, 16, {153, 153}},
	{"gsm 17 parts", "a", 16 * 153 + 1, "", TEXT_ENC_AUTO, -EMSGSIZE, 0, 0, 0, {0}},
	/* 2448 septets would fit 16 parts, but 153 cannot end on a whole pair */
	{"gsm 16 parts of pairs", "{", 16 * 76, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 16 * 152, 16, {152, 152}},
	{"gsm pairs overflow", "{", 16 * 153 / 2, "", TEXT_ENC_AUTO, -EMSGSIZE, 0, 0, 0, {0}},
	{"ucs2 70", "\u00ea", 70, "", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 70, 1, {140}},
	{"ucs2 71", "\u00ea", 71, "", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 71, 2, {134, 8}},
	/* the high surrogate would be unit 67: the pair moves to part 2 */
	{"pair at 67", "\u00ea", 66, "\xF0\x9F\x98\x80xxxxx", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 73, 2, {132, 14}},
	{"pair ends at 67", "\u00ea", 65, "\xF0\x9F\x98\x80xxxxx", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 72, 2, {134, 10}},
	{"pair fits 70", "\u00ea", 68, "\xF0\x9F\x98\x80", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 70, 1, {140}},
	{"ucs2 16 parts", "\u00ea", 16 * 67, "", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 16 * 67, 16, {134}},
	{"ucs2 17 parts", "\u00ea", 16 * 67 + 1, "", TEXT_ENC_AUTO, -EMSGSIZE, 0, 0, 0, {0}},
	{"forced ucs2", "a", 3, "", TEXT_ENC_UCS2, 0, TEXT_CODING_UCS2, 3, 1, {6}},
	{"forced gsm ok", "a", 3, "\u20ac", TEXT_ENC_GSM7, 0, TEXT_CODING_GSM7, 5, 1, {5}},
	{"forced gsm fails", "a", 3, "\u00ea", TEXT_ENC_GSM7, -EILSEQ, 0, 0, 0, {0}},
	{"bad utf8", "a", 3, "\xC3", TEXT_ENC_AUTO, -EILSEQ, 0, 0, 0, {0}},
	{"bad utf8 ucs2", "a", 3, "\xFF", TEXT_ENC_UCS2, -EILSEQ, 0, 0, 0, {0}},
	{"NFC question", Q1_NFC, 1, "", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 58, 1, {116}},
	{"NFC 70", Q70_NFC, 1, "", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 70, 1, {140}},
	{"NFD 70 counted after NFC", Q70_NFD, 1, "", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 70, 1, {140}},
	{"NFD 70 + 1", Q70_NFD, 1, "!", TEXT_ENC_AUTO, 0, TEXT_CODING_UCS2, 71, 2, {134, 8}},
	{"unaccented 70", Q70_NFD, 1, "", TEXT_ENC_UNACCENTED, 0, TEXT_CODING_GSM7, 70, 1, {70}},
	{"NFD e acute is GSM", "e\u0301", 160, "", TEXT_ENC_AUTO, 0, TEXT_CODING_GSM7, 160, 1, {160}},
	{"unaccented question", Q1_NFD, 1, "", TEXT_ENC_UNACCENTED, 0, TEXT_CODING_GSM7, 58, 1, {58}},
	{"unaccented 160", "\u1ec7", 160, "", TEXT_ENC_UNACCENTED, 0, TEXT_CODING_GSM7, 160, 1, {160}},
	{"unaccented emoji", "\u0111", 3, "\xF0\x9F\x98\x80", TEXT_ENC_UNACCENTED, 0, TEXT_CODING_UCS2, 5, 1, {10}},
	{"unaccented chinese", "\u6ee1", 2, "", TEXT_ENC_UNACCENTED, 0, TEXT_CODING_UCS2, 2, 1, {4}},
	{"bad enc", "a", 1, "", (enum text_encoding)42, -EINVAL, 0, 0, 0, {0}},
};

static void test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(split_cases); i++) {
		const struct split_case *c = &split_cases[i];
		char *in = rep(c->unit, c->count, c->tail);
		struct text_parts tp;
		int r = text_split(in, c->enc, &tp);

		if (r != c->ret)
			fail_msg("%s: ret %d want %d", c->name, r, c->ret);
		if (r < 0) {
			free(in);
			continue;
		}
		if (tp.coding != c->coding || tp.units != c->units || tp.nparts != c->nparts)
			fail_msg("%s: coding %d units %d nparts %d", c->name, tp.coding, tp.units, tp.nparts);
		for (int p = 0; p < tp.nparts && p < 4; p++)
			if (c->len[p] != 0 && tp.part[p].len != c->len[p])
				fail_msg("%s: part %d len %zu want %zu", c->name, p, tp.part[p].len, c->len[p]);
		/* Limits hold for every part, and the sum is the whole text. */
		size_t sum = 0, lim = tp.coding == TEXT_CODING_GSM7 ? (tp.nparts == 1 ? 160 : 153)
		                                                    : (tp.nparts == 1 ? 140 : 134);
		for (int p = 0; p < tp.nparts; p++) {
			assert_true(tp.part[p].len <= lim);
			sum += tp.part[p].len;
		}
		assert_int_equal(sum, (size_t)tp.units * (tp.coding == TEXT_CODING_UCS2 ? 2 : 1));
		free(in);
	}
}

/* No part ends on an escape or a high surrogate, and each part decodes alone. */
static void test_split_parts_standalone(void **state)
{
	char *gsm = rep("ab{", 300, "");
	char *ucs = rep("\u1ebf\xF0\x9F\x98\x80", 300, "");
	const char *texts[] = {gsm, ucs};
	char out[1024];

	(void)state;
	for (size_t t = 0; t < N(texts); t++) {
		struct text_parts tp;
		assert_int_equal(text_split(texts[t], TEXT_ENC_AUTO, &tp), 0);
		assert_int_equal(tp.nparts, t == 0 ? 8 : 14);
		for (int p = 0; p < tp.nparts; p++) {
			const uint8_t *d = tp.part[p].data;
			size_t n = tp.part[p].len;
			if (tp.coding == TEXT_CODING_GSM7) {
				size_t k = 0;
				while (k < n)
					k += d[k] == 0x1B ? 2 : 1;
				assert_int_equal(k, n); /* no escape hangs over the end */
			} else {
				assert_true((d[n - 2] & 0xFC) != 0xD8);
				assert_true((d[0] & 0xFC) != 0xDC);
			}
			assert_true(text_decode(tp.coding, d, n, out, sizeof out) >= 0);
			assert_null(strstr(out, "?"));
			assert_null(strstr(out, "\ufffd"));
		}
	}
	free(gsm);
	free(ucs);
}

/* encode -> split -> concatenate -> decode gives back the NFC text. */
static void test_split_roundtrip(void **state)
{
	static const struct {
		const char *in, *want;
		enum text_encoding enc;
	} cases[] = {
		{Q1_NFD, Q1_NFC, TEXT_ENC_AUTO},
		{Q70_NFD, Q70_NFC, TEXT_ENC_AUTO},
		{Q70_NFD, Q1_PLAIN " Xin cam on!", TEXT_ENC_UNACCENTED},
		{Q1_NFD, Q1_PLAIN, TEXT_ENC_UNACCENTED},
		{Q1_NFC, Q1_NFC, TEXT_ENC_UCS2},
		{"Price: 5\u20ac [ok] {x} ~^|\\ @\u00a3$\u00a5 \u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\u00d8\u00f8",
		 "Price: 5\u20ac [ok] {x} ~^|\\ @\u00a3$\u00a5 \u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\u00d8\u00f8",
		 TEXT_ENC_GSM7},
		{"C\u1ea3m \u01a1n \xF0\x9F\x98\x80", "C\u1ea3m \u01a1n \xF0\x9F\x98\x80", TEXT_ENC_UNACCENTED},
		{"Xin c\u1ea3m \u01a1n \u00d4ng/B\u00e0!", "Xin cam on Ong/Ba!", TEXT_ENC_UNACCENTED},
	};
	char out[2048];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct text_parts tp;
		assert_int_equal(text_split(cases[i].in, cases[i].enc, &tp), 0);
		parts_decode(&tp, out, sizeof out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\"", i, out);
	}

	/* A long Vietnamese message: 5 questions back to back. */
	char *longq = rep(Q1_NFD " ", 5, "");
	char *want = rep(Q1_NFC " ", 5, "");
	struct text_parts tp;
	assert_int_equal(text_split(longq, TEXT_ENC_AUTO, &tp), 0);
	assert_int_equal(tp.coding, TEXT_CODING_UCS2);
	assert_int_equal(tp.units, 5 * 59);
	assert_int_equal(tp.nparts, 5);
	parts_decode(&tp, out, sizeof out);
	assert_string_equal(out, want);
	free(longq);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_nfc_unaccent),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_gsm7_encode),
		cmocka_unit_test(test_gsm7_decode),
		cmocka_unit_test(test_gsm7_roundtrip_all),
		cmocka_unit_test(test_ucs2_encode),
		cmocka_unit_test(test_ucs2_decode),
		cmocka_unit_test(test_latin1_and_dispatch),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_parts_standalone),
		cmocka_unit_test(test_split_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
