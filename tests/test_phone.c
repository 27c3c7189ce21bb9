/* test_phone: Vietnamese mobile number validation and masking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "phone.h"

static const struct {
	const char *in;
	const char *want; /* NULL = refused */
} cases[] = {
	{"0912345678", "84912345678"},
	{"84912345678", "84912345678"},
	{"+84912345678", "84912345678"},
	{"+84 912 345 678", "84912345678"},
	{"091.234.5678", "84912345678"},
	{"091-234-5678", "84912345678"},
	{"0084912345678", "84912345678"},
	{"(091) 2345678", "84912345678"},
	{"912345678", "84912345678"},
	{"0321234567", "84321234567"},   /* Viettel 03x */
	{"0861234567", "84861234567"},
	{"0701234567", "84701234567"},   /* MobiFone 070 */
	{"0521234567", "84521234567"},
	{"0591234567", "84591234567"},
	{"0991234567", "84991234567"},
	{"0871234567", "84871234567"},   /* Itel */
	{"0241234567", NULL},            /* Hà Nội landline area code */
	{"0281234567", NULL},            /* HCMC landline */
	{"0951234567", NULL},            /* 095: no operator */
	{"0311234567", NULL},            /* 031 is not a mobile prefix */
	{"091234567", NULL},             /* 9 digits with a trunk 0 */
	{"09123456789", NULL},           /* 11 digits with a trunk 0 */
	{"+85512345678", NULL},          /* Cambodia */
	{"+8491234567", NULL},           /* too short */
	{"0912a45678", NULL},
	{"", NULL},
	{"+", NULL},
	{"++84912345678", NULL},
	{"84 91 234 5678 9", NULL},
	{"0912345678\n", NULL},
	{"００９１２３４５６７８", NULL}, /* full-width: not accepted from an API */
};

static void test_normalize_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[PHONE_MAX] = "", err[128] = "";
		int rc = phone_normalize(cases[i].in, out, err, sizeof err);
		if (cases[i].want) {
			if (rc != 0)
				fail_msg("'%s' refused: %s", cases[i].in, err);
			assert_string_equal(out, cases[i].want);
		} else {
			if (rc != -EINVAL)
				fail_msg("'%s' accepted as %s", cases[i].in, out);
			assert_true(err[0] != '\0');
		}
	}
}

static void test_normalize_null(void **state)
{
	(void)state;
	char out[PHONE_MAX], err[64];
	assert_int_equal(phone_normalize(NULL, out, err, sizeof err), -EINVAL);
}

static void test_mask(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} t[] = {
		{"84912345678", "84912***678"},
		{"0912345678", "09123***678"},
		{"12345678901234567890", "12345***890"},  /* an SMPP address of 20 */
		{"123456789", "12345***789"},
		{"12345678", "12***78"},
		{"8088", "***"},
		{"12345", "12***45"},
		{"123", "***"},
		{"", "***"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[PHONE_MAX];
		memset(out, 'x', sizeof out);
		phone_mask(t[i].in, out);
		if (strcmp(out, t[i].want) != 0)
			fail_msg("\"%s\": got \"%s\" want \"%s\"", t[i].in, out, t[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_normalize_null),
		cmocka_unit_test(test_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
