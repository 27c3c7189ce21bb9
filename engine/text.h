/* text: Unicode normalisation, accent folding, GSM 03.38 / UCS-2 codecs and SMS segmentation. */
#ifndef HL_TEXT_H
#define HL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NFC-normalise UTF-8 text. Returns a malloc'd string the caller owns, or NULL
 * when the input is not valid UTF-8 (or on ENOMEM). */
char *text_nfc(const char *utf8);

/* Key for matching replies: NFC, case-folded to lower case, Vietnamese (and any
 * other) diacritics removed, đ/Đ -> d, full-width digits and letters mapped to
 * ASCII, runs of white space and punctuation collapsed to one ' ', trimmed.
 * "  Rất HÀI LÒNG!! " -> "rat hai long"; "１" -> "1". malloc'd, or NULL on bad UTF-8. */
char *text_fold(const char *utf8);

/* text_fold's words with their marks kept: NFC, lower case, full-width forms
 * mapped to ASCII, a run of white space collapsed to one ' ', a run with
 * punctuation to one ',' (a pause), trimmed.
 * "Dạ, HÀI LÒNG ạ!" -> "dạ,hài lòng ạ". Word for word like text_fold, so a
 * reader can tell "ạ" from "a" and "đúng" from "dừng". malloc'd, or NULL. */
char *text_lower(const char *utf8);

/* Emphatic spellings undone: NFC, then in each word a run of 3 or more
 * letters written on the same plain letter keeps only its first ("hài
 * lònggg" -> "hài lòng", "cóóó" -> "có", "dạaaa" -> "dạ"); a word that is
 * one such run is kept ("kkk", a laugh); digits are kept ("000").
 * malloc'd, or NULL on bad UTF-8 or ENOMEM. */
char *text_squeeze(const char *utf8);

/* true when the text holds a symbol (Unicode category So): an emoji, a
 * star, a heart ("😊", "★", "❤"). */
bool text_has_symbol(const char *utf8);

/* Plain-Latin form of Vietnamese text for `encoding: unaccented`: NFC first,
 * tones and marks removed, đ->d, Đ->D, case and punctuation kept. malloc'd or NULL. */
char *text_unaccent(const char *utf8);

/* Number of GSM 03.38 septets the text needs (extension-table characters
 * count 2), or -1 when some character is not in the GSM alphabet. */
int text_gsm7_septets(const char *utf8);

/* Number of UTF-16 code units (surrogate pairs count 2), or -1 on bad UTF-8. */
int text_ucs2_units(const char *utf8);

/* UTF-8 -> unpacked GSM 03.38 (one septet per octet, extension characters as
 * 0x1B + code). Returns bytes written, -EILSEQ if not representable, -ENOSPC. */
int text_gsm7_encode(const char *utf8, uint8_t *out, size_t cap);
/* Unpacked GSM 03.38 octets -> UTF-8 (NUL-terminated). Returns bytes written
 * (without the NUL) or -ENOSPC. Unknown codes become '?'. Never fails on content. */
int text_gsm7_decode(const uint8_t *in, size_t n, char *out, size_t cap);
/* UTF-8 -> UCS-2/UTF-16BE. Returns bytes written, -EILSEQ, -ENOSPC. */
int text_ucs2_encode(const char *utf8, uint8_t *out, size_t cap);
/* UTF-16BE -> UTF-8 (NUL-terminated); an odd trailing byte is dropped, lone
 * surrogates become U+FFFD. Returns bytes written or -ENOSPC. */
int text_ucs2_decode(const uint8_t *in, size_t n, char *out, size_t cap);
/* ISO-8859-1 -> UTF-8 (NUL-terminated). Returns bytes written or -ENOSPC. */
int text_latin1_decode(const uint8_t *in, size_t n, char *out, size_t cap);

/* SMPP data_coding values we send and understand. */
enum text_coding {
	TEXT_CODING_GSM7 = 0,   /* SMSC default alphabet, unpacked septets */
	TEXT_CODING_LATIN1 = 3,
	TEXT_CODING_UCS2 = 8,
};

/* What the campaign asks for. */
enum text_encoding {
	TEXT_ENC_AUTO = 0,   /* GSM 03.38 when the text fits, else UCS-2 */
	TEXT_ENC_GSM7,       /* force GSM: characters outside it fail with -EILSEQ */
	TEXT_ENC_UCS2,       /* force UCS-2 */
	TEXT_ENC_UNACCENTED, /* fold to plain Latin first, then GSM 03.38 */
};

#define TEXT_MAX_PARTS 16
#define TEXT_PART_MAX 140 /* payload octets per part, before UDH */

/* One message split into SMS parts. Each part's payload is already encoded
 * (GSM unpacked septets: at most 160 single / 153 per part of a long message;
 * UCS-2: 140 / 134 octets); the UDH is added by the SMPP layer. An extension
 * escape or a surrogate pair is never split between two parts. */
struct text_parts {
	enum text_coding coding;   /* data_coding of every part */
	int nparts;                /* 1..TEXT_MAX_PARTS */
	int units;                 /* septets (GSM) or UTF-16 units (UCS-2) in total */
	struct {
		uint8_t data[160]; /* GSM unpacked septets need up to 160 octets */
		size_t len;
	} part[TEXT_MAX_PARTS];
};

/* Encode and split `utf8` (NFC-normalised first) as `enc` asks. Returns 0,
 * -EILSEQ (bad UTF-8, or not GSM under TEXT_ENC_GSM7), or -EMSGSIZE when it
 * needs more than TEXT_MAX_PARTS parts. */
int text_split(const char *utf8, enum text_encoding enc, struct text_parts *out);

/* Decode an incoming short message of data_coding `dc` (0 and 1 = GSM unpacked,
 * 3 = Latin-1, 8 = UCS-2; the values SMPP leaves reserved by their GSM 03.38
 * alphabet bits, such as 0x0F GSM, 0x18 / 0x48 / 0xE0 UCS-2, 0xF0 GSM, 0xF4
 * 8-bit; anything else is treated as Latin-1) to UTF-8.
 * Returns bytes written or -ENOSPC. */
int text_decode(int dc, const uint8_t *in, size_t n, char *out, size_t cap);

/* FNV-1a, 64 bits, of n bytes (campaign versions, numbers' buckets, replies
 * compared by hash). Not a keyed hash: never for a citizen's number that
 * leaves the process. */
uint64_t text_fnv1a64(const char *s, size_t n);

#endif
