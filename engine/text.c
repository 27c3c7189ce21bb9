/* text: NFC, accent folding, GSM 03.38 and UCS-2 codecs, SMS segmentation (utf8proc does the Unicode part). */
#include "text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define GSM_ESC 0x1B
#define GSM_SINGLE 160      /* septets in a single-part message */
#define GSM_MULTI 153       /* septets per part of a long message (UDH takes 7) */
#define UCS2_SINGLE 70      /* UTF-16 units in a single-part message */
#define UCS2_MULTI 67       /* UTF-16 units per part of a long message */
#define GSM_MAX (TEXT_MAX_PARTS * GSM_MULTI)
#define UCS2_MAX (TEXT_MAX_PARTS * UCS2_MULTI)
#define UNACCENT_OPTS (UTF8PROC_COMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE | UTF8PROC_LUMP)
#define FOLD_OPTS (UTF8PROC_COMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

/* GSM 03.38 default alphabet: code -> Unicode code point. 0x1B is the escape
 * to the extension table and has no character of its own. */
static const int32_t gsm_basic[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, /* @£$¥èéùì */
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5, /* òÇ\nØø\rÅå */
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, /* Δ_ΦΓΛΩΠΨ */
	0x03A3, 0x0398, 0x039E, -1,     0x00C6, 0x00E6, 0x00DF, 0x00C9, /* ΣΘΞ ÆæßÉ */
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, /*  !"#¤%&' */
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, /* ()*+,-./ */
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, /* 01234567 */
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, /* 89:;<=>? */
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, /* ¡ABCDEFG */
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, /* HIJKLMNO */
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, /* PQRSTUVW */
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, /* XYZÄÖÑÜ§ */
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, /* ¿abcdefg */
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, /* hijklmno */
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, /* pqrstuvw */
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0, /* xyzäöñüà */
};

/* GSM 03.38 extension table: each is sent as 0x1B followed by `code`. */
static const struct {
	uint8_t code;
	int32_t cp;
} gsm_ext[] = {
	{0x0A, 0x000C}, /* form feed */
	{0x14, 0x005E}, /* ^ */
	{0x28, 0x007B}, /* { */
	{0x29, 0x007D}, /* } */
	{0x2F, 0x005C}, /* \ */
	{0x3C, 0x005B}, /* [ */
	{0x3D, 0x007E}, /* ~ */
	{0x3E, 0x005D}, /* ] */
	{0x40, 0x007C}, /* | */
	{0x65, 0x20AC}, /* € */
};

#define GSM_EXT_N (sizeof gsm_ext / sizeof gsm_ext[0])

/* GSM code for `cp`: 0..127 for the basic table, 0x100 | code for the
 * extension table, -1 when the character is not in the GSM alphabet. */
static int gsm_lookup(int32_t cp)
{
	for (size_t i = 0; i < 128; i++)
		if (gsm_basic[i] == cp)
			return (int)i;
	for (size_t i = 0; i < GSM_EXT_N; i++)
		if (gsm_ext[i].cp == cp)
			return 0x100 | gsm_ext[i].code;
	return -1;
}

/* Next code point of NUL-terminated `*s`; advances `*s`. Returns 1, 0 at the
 * end of the string, or -EILSEQ on bad UTF-8 (overlong, surrogate, > U+10FFFF). */
static int next_cp(const char **s, int32_t *cp)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)*s;

	if (*p == 0)
		return 0;
	/* A UTF-8 sequence is at most 4 bytes; strnlen stops at the NUL. */
	utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)strnlen(*s, 4), cp);
	if (n <= 0)
		return -EILSEQ;
	*s += n;
	return 1;
}

/* Hand-coded mappings utf8proc lacks, applied before its own: đ/Đ have no
 * decomposition (the bar is part of the letter), full-width ASCII forms are
 * only reachable through COMPAT, which would also rewrite ², ﬁ, ㎞..., and
 * LUMP (in utf8proc 2.6) maps curly single quotes but not double ones. */
static utf8proc_int32_t plain_latin_cb(utf8proc_int32_t cp, void *data)
{
	(void)data;
	if (cp == 0x0111)
		return 'd';
	if (cp == 0x0110)
		return 'D';
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return cp - 0xFEE0;
	if (cp >= 0x201C && cp <= 0x201F)
		return '"';
	return cp;
}

/* utf8proc_map_custom on a NUL-terminated string; *out is malloc'd. */
static int map_utf8(const char *in, utf8proc_option_t opts, utf8proc_custom_func cb, char **out)
{
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t n;

	*out = NULL;
	if (in == NULL)
		return -EINVAL;
	n = utf8proc_map_custom((const utf8proc_uint8_t *)in, 0, &dst,
	                        UTF8PROC_NULLTERM | UTF8PROC_STABLE | opts, cb, NULL);
	if (n < 0)
		return n == UTF8PROC_ERROR_NOMEM ? -ENOMEM : -EILSEQ;
	*out = (char *)dst;
	return 0;
}

char *text_nfc(const char *utf8)
{
	char *out;

	map_utf8(utf8, UTF8PROC_COMPOSE, NULL, &out);
	return out;
}

/* Unaccented form also drops default-ignorable characters (soft hyphen,
 * zero-width space, BOM) and lumps typographic punctuation (“ ” ’ – NBSP) to
 * ASCII, so that text pasted from a word processor still fits GSM 03.38. */
char *text_unaccent(const char *utf8)
{
	char *out;

	map_utf8(utf8, UNACCENT_OPTS, plain_latin_cb, &out);
	return out;
}

static bool is_alnum_cp(int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);

	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || c == UTF8PROC_CATEGORY_ND;
}

/* The plain lower-case ASCII letter `cp` is written on ('ó' -> 'o', 'Đ' ->
 * 'd'), or 0 for anything else (digits, symbols, other scripts). */
static int base_letter(int32_t cp)
{
	utf8proc_int32_t d[4];
	int last = 0;

	if (cp == 0x0111 || cp == 0x0110)
		return 'd';
	if (cp < 128)
		return (cp >= 'a' && cp <= 'z') ? (int)cp : (cp >= 'A' && cp <= 'Z') ? (int)cp + 32 : 0;
	if (utf8proc_category(cp) < UTF8PROC_CATEGORY_LU || utf8proc_category(cp) > UTF8PROC_CATEGORY_LO)
		return 0;
	utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 4, UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK |
	                                             UTF8PROC_CASEFOLD, &last);
	if (n != 1 || d[0] >= 128)
		return 0;
	return (d[0] >= 'a' && d[0] <= 'z') ? (int)d[0] : 0;
}

bool text_has_symbol(const char *utf8)
{
	int32_t cp;

	while (next_cp(&utf8, &cp) > 0)
		if (utf8proc_category(cp) == UTF8PROC_CATEGORY_SO)
			return true;
	return false;
}

char *text_squeeze(const char *utf8)
{
	char *nfc = text_nfc(utf8);
	if (nfc == NULL)
		return NULL;
	/* Squeezing only shrinks the string. */
	char *out = malloc(strlen(nfc) + 1);
	int32_t cps[256];
	size_t w = 0;
	const char *p = nfc;

	if (out == NULL)
		goto fail;
	while (*p) {
		/* one word: a run of letters (marks are composed into them by NFC) */
		int n = 0;
		const char *q = p;
		int32_t cp;
		while (n < (int)(sizeof cps / sizeof cps[0]) && next_cp(&q, &cp) > 0 && base_letter(cp)) {
			cps[n++] = cp;
			p = q;
		}
		if (n == 0) {
			/* not a letter: copied as it is */
			if (q == p)
				goto fail; /* not UTF-8 (text_nfc took it, so never) */
			size_t len = (size_t)(q - p);
			memcpy(out + w, p, len);
			w += len;
			p = q;
			continue;
		}
		int run = 1;
		for (int i = 1; i <= n; i++) {
			if (i < n && base_letter(cps[i]) == base_letter(cps[i - 1])) {
				run++;
				continue;
			}
			/* cps[i - run .. i - 1] is one run: 3 or more keep their first,
			 * unless the run is the whole word ("kkk", a laugh, is no "k") */
			int keep = run >= 3 && run < n ? 1 : run;
			for (int j = i - run; j < i - run + keep; j++)
				w += (size_t)utf8proc_encode_char(cps[j], (utf8proc_uint8_t *)out + w);
			run = 1;
		}
	}
	out[w] = '\0';
	free(nfc);
	return out;
fail:
	free(out);
	free(nfc);
	return NULL;
}

/* Collapses runs of characters that are not letters or digits (marks count
 * as part of a word; a mark with no letter before it is dropped) to one ' ',
 * or `pause` when the run holds more than white space ('?' when it holds a
 * question mark), trimmed. Takes over `mapped` (frees it). */
static char *collapse_words(char *mapped, char pause)
{
	const char *p = mapped;
	size_t w = 0;
	bool gap = false, punct = false, question = false;
	int32_t cp;
	int r;
	/* Collapsing only shrinks the string: strlen(mapped) + 1 is enough. */
	char *out = malloc(strlen(mapped) + 1);

	if (out == NULL)
		goto fail;
	while ((r = next_cp(&p, &cp)) > 0) {
		utf8proc_category_t c = utf8proc_category(cp);
		bool mark = c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC;
		if (mark && (gap || w == 0))
			continue; /* a stray mark: no word of its own */
		if (!is_alnum_cp(cp) && !mark) {
			gap = true;
			if (cp == '?' || cp == 0xFF1F)
				question = true;
			punct |= c != UTF8PROC_CATEGORY_ZS && cp != '\t' && cp != '\n' && cp != '\r';
			continue;
		}
		if (gap && w > 0)
			out[w++] = question && pause != ' ' ? '?' : punct ? pause : ' ';
		gap = punct = question = false;
		w += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out + w);
	}
	if (r < 0)
		goto fail;
	out[w] = '\0';
	free(mapped);
	return out;
fail:
	free(out);
	free(mapped);
	return NULL;
}

/* Full-width ASCII forms only (see plain_latin_cb): text_lower keeps đ and marks. */
static utf8proc_int32_t fullwidth_cb(utf8proc_int32_t cp, void *data)
{
	(void)data;
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return cp - 0xFEE0;
	return cp;
}

char *text_lower(const char *utf8)
{
	char *mapped;

	if (map_utf8(utf8, UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE, fullwidth_cb,
	             &mapped) < 0)
		return NULL;
	return collapse_words(mapped, ',');
}

uint64_t text_fnv1a64(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

char *text_fold(const char *utf8)
{
	char *mapped;

	if (map_utf8(utf8, FOLD_OPTS, plain_latin_cb, &mapped) < 0)
		return NULL;
	return collapse_words(mapped, ' ');
}

int text_gsm7_septets(const char *utf8)
{
	const char *p = utf8;
	int32_t cp;
	int r, n = 0;

	if (utf8 == NULL)
		return -1;
	while ((r = next_cp(&p, &cp)) > 0) {
		int g = gsm_lookup(cp);
		if (g < 0)
			return -1;
		n += g >= 0x100 ? 2 : 1;
	}
	return r < 0 ? -1 : n;
}

int text_ucs2_units(const char *utf8)
{
	const char *p = utf8;
	int32_t cp;
	int r, n = 0;

	if (utf8 == NULL)
		return -1;
	while ((r = next_cp(&p, &cp)) > 0)
		n += cp >= 0x10000 ? 2 : 1;
	return r < 0 ? -1 : n;
}

int text_gsm7_encode(const char *utf8, uint8_t *out, size_t cap)
{
	const char *p = utf8;
	size_t w = 0;
	int32_t cp;
	int r;

	if (utf8 == NULL || (out == NULL && cap > 0))
		return -EINVAL;
	while ((r = next_cp(&p, &cp)) > 0) {
		int g = gsm_lookup(cp);
		if (g < 0)
			return -EILSEQ;
		if (g >= 0x100) {
			if (cap - w < 2)
				return -ENOSPC;
			out[w++] = GSM_ESC;
			out[w++] = (uint8_t)(g & 0x7F);
		} else {
			if (cap - w < 1)
				return -ENOSPC;
			out[w++] = (uint8_t)g;
		}
	}
	return r < 0 ? r : (int)w;
}

int text_ucs2_encode(const char *utf8, uint8_t *out, size_t cap)
{
	const char *p = utf8;
	size_t w = 0;
	int32_t cp;
	int r;

	if (utf8 == NULL || (out == NULL && cap > 0))
		return -EINVAL;
	while ((r = next_cp(&p, &cp)) > 0) {
		if (cp >= 0x10000) {
			int32_t v = cp - 0x10000;
			uint16_t hi = (uint16_t)(0xD800 | (v >> 10)), lo = (uint16_t)(0xDC00 | (v & 0x3FF));
			if (cap - w < 4)
				return -ENOSPC;
			out[w++] = (uint8_t)(hi >> 8);
			out[w++] = (uint8_t)hi;
			out[w++] = (uint8_t)(lo >> 8);
			out[w++] = (uint8_t)lo;
		} else {
			if (cap - w < 2)
				return -ENOSPC;
			out[w++] = (uint8_t)(cp >> 8);
			out[w++] = (uint8_t)cp;
		}
	}
	return r < 0 ? r : (int)w;
}

/* Output cursor of the decoders: appends UTF-8 and keeps `buf` NUL-terminated. */
struct sink {
	char *buf;
	size_t cap, len;
	bool full;
};

static void sink_put(struct sink *s, int32_t cp)
{
	utf8proc_uint8_t tmp[4];
	utf8proc_ssize_t n;

	if (s->full)
		return;
	/* U+0000 would cut the C string short; SMSCs pad with it, so drop it. */
	if (cp == 0)
		return;
	n = utf8proc_encode_char(cp, tmp);
	if (s->cap == 0 || s->cap - 1 - s->len < (size_t)n) {
		s->full = true;
		return;
	}
	memcpy(s->buf + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
}

static int sink_begin(struct sink *s, char *out, size_t cap)
{
	s->buf = out;
	s->cap = cap;
	s->len = 0;
	s->full = false;
	if (out == NULL && cap > 0)
		return -EINVAL;
	if (cap > 0)
		out[0] = '\0';
	return 0;
}

static int sink_end(const struct sink *s)
{
	return s->full ? -ENOSPC : (int)s->len;
}

/* An escape followed by a code the extension table lacks shows the basic-table
 * character of that code (3GPP TS 23.038 6.2.1.1); a trailing or doubled
 * escape, and octets above 0x7F, become '?'. */
int text_gsm7_decode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	struct sink s;

	if (sink_begin(&s, out, cap) < 0 || (in == NULL && n > 0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		int32_t cp = '?';

		if (c == GSM_ESC) {
			if (i + 1 < n && in[i + 1] != GSM_ESC && in[i + 1] < 0x80) {
				uint8_t e = in[++i];
				cp = gsm_basic[e];
				for (size_t k = 0; k < GSM_EXT_N; k++)
					if (gsm_ext[k].code == e)
						cp = gsm_ext[k].cp;
			}
		} else if (c < 0x80) {
			cp = gsm_basic[c];
		}
		sink_put(&s, cp);
	}
	return sink_end(&s);
}

int text_ucs2_decode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	struct sink s;
	size_t units = n / 2;

	if (sink_begin(&s, out, cap) < 0 || (in == NULL && n > 0))
		return -EINVAL;
	for (size_t i = 0; i < units; i++) {
		int32_t u = (int32_t)in[2 * i] << 8 | in[2 * i + 1];

		if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units) {
			int32_t l = (int32_t)in[2 * i + 2] << 8 | in[2 * i + 3];
			if (l >= 0xDC00 && l <= 0xDFFF) {
				sink_put(&s, 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00));
				i++;
				continue;
			}
		}
		if (u >= 0xD800 && u <= 0xDFFF)
			u = 0xFFFD;
		sink_put(&s, u);
	}
	return sink_end(&s);
}

int text_latin1_decode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	struct sink s;

	if (sink_begin(&s, out, cap) < 0 || (in == NULL && n > 0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		sink_put(&s, in[i]);
	return sink_end(&s);
}

/* The alphabet of a data_coding SMPP leaves reserved (0x0F-0xBF, 0xC0-0xFF)
 * as GSM 03.38 / 3GPP 23.038 define it, since SMSCs and USSD centres pass
 * the handset's DCS through: 0x0F GSM 7-bit (USSD, language unspecified);
 * 0x10-0x7F general coding groups (class, compression, auto-deletion bits),
 * alphabet in bits 3-2 (0x18 UCS-2 class 0, 0x48 UCS-2 USSD); 0xC0-0xDF
 * message waiting, GSM; 0xE0-0xEF message waiting, UCS-2; 0xF0-0xFF class
 * control, bit 2 = 8-bit data. 0 GSM, 8 UCS-2, 3 for 8-bit (Latin-1). */
static int text_dcs_alphabet(int dc)
{
	if (dc == 0x0F || (dc >= 0xC0 && dc <= 0xDF))
		return 0;
	if (dc >= 0xE0 && dc <= 0xEF)
		return TEXT_CODING_UCS2;
	if (dc >= 0xF0 && dc <= 0xFF)
		return dc & 0x04 ? TEXT_CODING_LATIN1 : 0;
	if (dc >= 0x10 && dc <= 0x7F) {
		int a = (dc >> 2) & 3;
		return a == 0 ? 0 : a == 2 ? TEXT_CODING_UCS2 : TEXT_CODING_LATIN1;
	}
	return TEXT_CODING_LATIN1;
}

int text_decode(int dc, const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (dc > 0x0E)
		dc = text_dcs_alphabet(dc);
	switch (dc) {
	case 0:
	case 1:
		return text_gsm7_decode(in, n, out, cap);
	case TEXT_CODING_UCS2:
		return text_ucs2_decode(in, n, out, cap);
	default:
		return text_latin1_decode(in, n, out, cap);
	}
}

/* Cut `buf` (GSM septets or UTF-16BE) into parts of at most `per` units,
 * never between an escape and its code nor between two surrogates. */
static int split_units(const uint8_t *buf, size_t len, bool gsm, struct text_parts *out)
{
	size_t unit = gsm ? 1 : 2;
	size_t single = gsm ? GSM_SINGLE : 2 * UCS2_SINGLE;
	size_t per = gsm ? GSM_MULTI : 2 * UCS2_MULTI;
	size_t pos = 0;
	int np = 0;

	if (len <= single) {
		memcpy(out->part[0].data, buf, len);
		out->part[0].len = len;
		out->nparts = 1;
		return 0;
	}
	while (pos < len) {
		size_t end = pos;

		if (np == TEXT_MAX_PARTS)
			return -EMSGSIZE;
		while (end < len) {
			size_t step = unit;
			if (gsm && buf[end] == GSM_ESC)
				step = 2;
			else if (!gsm && (buf[end] & 0xFC) == 0xD8)
				step = 4; /* high surrogate: take its low half too */
			if (end + step - pos > per)
				break;
			end += step;
		}
		memcpy(out->part[np].data, buf + pos, end - pos);
		out->part[np].len = end - pos;
		np++;
		pos = end;
	}
	out->nparts = np;
	return 0;
}

static int split_gsm(const char *nfc, int septets, struct text_parts *out)
{
	uint8_t buf[GSM_MAX];
	int n;

	if (septets > GSM_MAX)
		return -EMSGSIZE;
	n = text_gsm7_encode(nfc, buf, sizeof buf);
	if (n < 0)
		return n;
	out->coding = TEXT_CODING_GSM7;
	out->units = septets;
	return split_units(buf, (size_t)n, true, out);
}

static int split_ucs2(const char *nfc, struct text_parts *out)
{
	uint8_t buf[2 * UCS2_MAX];
	int units = text_ucs2_units(nfc), n;

	if (units < 0)
		return -EILSEQ;
	if (units > UCS2_MAX)
		return -EMSGSIZE;
	n = text_ucs2_encode(nfc, buf, sizeof buf);
	if (n < 0)
		return n;
	out->coding = TEXT_CODING_UCS2;
	out->units = units;
	return split_units(buf, (size_t)n, false, out);
}

/* Under TEXT_ENC_UNACCENTED a text that still is not GSM after folding (an
 * emoji, Chinese) goes out as UCS-2 of the NFC text with its accents: UCS-2
 * costs the same per character either way, so the citizen reads it properly. */
int text_split(const char *utf8, enum text_encoding enc, struct text_parts *out)
{
	char *nfc = NULL, *plain = NULL;
	int r, septets;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	r = map_utf8(utf8, UTF8PROC_COMPOSE, NULL, &nfc);
	if (r < 0)
		return r;
	switch (enc) {
	case TEXT_ENC_AUTO:
		septets = text_gsm7_septets(nfc);
		r = septets >= 0 ? split_gsm(nfc, septets, out) : split_ucs2(nfc, out);
		break;
	case TEXT_ENC_GSM7:
		septets = text_gsm7_septets(nfc);
		r = septets >= 0 ? split_gsm(nfc, septets, out) : -EILSEQ;
		break;
	case TEXT_ENC_UCS2:
		r = split_ucs2(nfc, out);
		break;
	case TEXT_ENC_UNACCENTED:
		r = map_utf8(nfc, UNACCENT_OPTS, plain_latin_cb, &plain);
		if (r < 0)
			break;
		septets = text_gsm7_septets(plain);
		r = septets >= 0 ? split_gsm(plain, septets, out) : split_ucs2(nfc, out);
		break;
	default:
		r = -EINVAL;
		break;
	}
	free(plain);
	free(nfc);
	if (r < 0)
		memset(out, 0, sizeof *out);
	return r;
}
