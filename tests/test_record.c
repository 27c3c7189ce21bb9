/* test_record: trigger times as the API accepts them, and the survey hash written and read back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"

static const struct {
	const char *in;
	int64_t want; /* -1 = refused */
} times[] = {
	{"2026-11-21T10:00:00Z", 1795255200},
	{"2026-11-21T10:00:00", 1795255200},
	{"2026-11-21T17:00:00+07:00", 1795255200},
	{"2026-11-21T09:30:00-00:30", 1795255200},
	{"2026-11-21T10:00:00.123Z", 1795255200},
	{"2026-11-21T10:00:00.5+00:00", 1795255200},
	{"2026-11-21T17:00:00+7:0", -1},   /* one-digit zone: once read past the end */
	{"2026-11-21T17:00:00+07", -1},
	{"2026-11-21T17:00:00+07:00x", -1},
	{"2026-11-21T17:00:00+15:00", -1},
	{"2026-11-21T17:00:00+07:60", -1},
	{"2026-11-21T17:00:00+", -1},
	{"2026-11-21T17:00:00.Z", -1},
	{"2026-11-21", -1},
	{"yesterday", -1},
	{"", -1},
};

static void test_parse_time(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		int64_t t = 0;
		int rc = record_parse_time(times[i].in, &t);
		if (times[i].want < 0) {
			if (rc != -EINVAL)
				fail_msg("'%s' accepted as %lld", times[i].in, (long long)t);
		} else {
			if (rc != 0)
				fail_msg("'%s' refused", times[i].in);
			assert_int_equal(t, times[i].want);
		}
	}
	char iso[21];
	record_iso8601(1795255200, iso);
	assert_string_equal(iso, "2026-11-21T10:00:00Z");
}

/* The strings of a growable vector are copies, and addf refuses what does not fit. */
static void test_strv(void **state)
{
	(void)state;
	struct record_strv sv = {0};
	char buf[8] = "abc";
	for (int i = 0; i < 100; i++)
		assert_int_equal(record_strv_addf(&sv, "k%d", i), 0);
	assert_int_equal(record_strv_add(&sv, buf), 0);
	buf[0] = 'x';
	assert_string_equal(sv.v[100], "abc");
	assert_string_equal(sv.v[99], "k99");
	char big[400];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(record_strv_addf(&sv, "%s", big), -EINVAL);
	assert_int_equal(sv.n, 101);
	record_strv_free(&sv);
	assert_int_equal(sv.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
