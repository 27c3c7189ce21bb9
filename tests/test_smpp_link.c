/* test_smpp_link: the one SMPP framing loop, fed literal bytes through an
 * evbuffer: whole, split and back-to-back PDUs, and bad lengths (seen as soon
 * as their 4 bytes are in, with the sequence number when it came). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "smpp_link.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int v = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
		      : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		assert_true(n < cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return n;
}

#define EL "00000010 00000015 00000000 00000007"            /* enquire_link seq 7 */
#define ELR "00000010 80000015 00000000 00000008"           /* enquire_link_resp seq 8 */
#define DSM_RESP "00000011 80000005 00000000 00000009 00"   /* deliver_sm_resp seq 9, 17 bytes */

static void test_read_table(void **state)
{
	(void)state;
	static const struct {
		const char *what, *bytes;
		int want[3];          /* results of three reads in a row */
		uint32_t seq;         /* bad_seq of the last read */
		size_t left;          /* bytes left in the buffer */
	} t[] = {
		{"nothing", "", {0, 0, 0}, 0, 0},
		{"3 bytes", "000000", {0, 0, 0}, 0, 3},
		{"a header cut short", "00000010 000000", {0, 0, 0}, 0, 7},
		{"one PDU", EL, {16, 0, 0}, 0, 0},
		{"two back to back", EL ELR, {16, 16, 0}, 0, 0},
		{"one and a half", EL "00000011 80000005", {16, 0, 0}, 0, 8},
		{"a body byte", DSM_RESP, {17, 0, 0}, 0, 0},
		{"length 15, 4 bytes in", "0000000F", {-EPROTO, -EPROTO, -EPROTO}, 0, 4},
		{"length 15, header in", "0000000F 00000015 00000000 0000002A", {-EPROTO, -EPROTO, -EPROTO}, 42, 16},
		{"length 64 KiB", "00010000 00000005 00000000 00000009", {-EPROTO, -EPROTO, -EPROTO}, 9, 16},
		{"good then bad", EL "00000000 00000015 00000000 00000003", {16, -EPROTO, -EPROTO}, 3, 16},
		{"length 4096 (the cap), cut", "00001000 00000005 00000000 00000001 00", {0, 0, 0}, 0, 17},
	};
	for (size_t i = 0; i < N(t); i++) {
		uint8_t bytes[256];
		size_t n = hex(t[i].bytes, bytes, sizeof bytes);
		struct evbuffer *in = evbuffer_new();
		evbuffer_add(in, bytes, n);
		uint8_t pdu[SMPP_MAX_PDU + 1];
		uint32_t seq = 99;
		for (int k = 0; k < 3; k++) {
			struct smpp_hdr h;
			memset(pdu, 0xEE, 20);
			int r = smpp_link_read(in, pdu, &h, &seq);
			if (r != t[i].want[k])
				fail_msg("%s: read %d gave %d want %d", t[i].what, k, r, t[i].want[k]);
			if (r > 0) {
				assert_int_equal(h.len, (uint32_t)r);
				assert_int_equal(pdu[r], 0);  /* NUL after the PDU */
			}
		}
		if (seq != t[i].seq)
			fail_msg("%s: bad_seq %u want %u", t[i].what, seq, t[i].seq);
		if (evbuffer_get_length(in) != t[i].left)
			fail_msg("%s: %zu bytes left want %zu", t[i].what, evbuffer_get_length(in), t[i].left);
		evbuffer_free(in);
	}
}

/* A PDU arriving a byte at a time is taken once whole, with its header. */
static void test_byte_by_byte(void **state)
{
	(void)state;
	uint8_t bytes[64];
	size_t n = hex(DSM_RESP ELR, bytes, sizeof bytes);
	struct evbuffer *in = evbuffer_new();
	uint8_t pdu[SMPP_MAX_PDU + 1];
	int got = 0;
	for (size_t i = 0; i < n; i++) {
		evbuffer_add(in, bytes + i, 1);
		struct smpp_hdr h;
		uint32_t seq;
		int r = smpp_link_read(in, pdu, &h, &seq);
		assert_true(r >= 0);
		if (r > 0) {
			got++;
			if (got == 1) {
				assert_int_equal(i, 16);
				assert_int_equal(h.id, SMPP_DELIVER_SM_RESP);
				assert_int_equal(h.seq, 9);
			} else {
				assert_int_equal(i, n - 1);
				assert_int_equal(h.id, SMPP_ENQUIRE_LINK_RESP);
			}
		}
	}
	assert_int_equal(got, 2);
	evbuffer_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_table),
		cmocka_unit_test(test_byte_by_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
