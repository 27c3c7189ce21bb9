/* test_tzone: local days of the configured zone (IANA names through tzdata, fixed offsets), and the names refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tzone.h"

#define DAY(y, m, d) day_of(y, m, d)

/* days since 1970-01-01 of a civil date */
static int64_t day_of(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void use(const char *z)
{
	char err[256] = "";

	if (tzone_use(z, err, sizeof err) < 0)
		fail_msg("tzone_use(%s): %s", z, err);
	assert_string_equal(tzone_name(), z);
}

static void test_default_is_hanoi(void **state)
{
	(void)state;
	assert_string_equal(tzone_name(), TZONE_DEFAULT); /* never set in this process yet */
	/* 2026-11-21T23:30:00Z is 06:30 on the 22nd in Hanoi */
	assert_int_equal(tzone_day(1795303800), DAY(2026, 11, 22));
	assert_int_equal(tzone_offset(1795303800), 25200);
}

static const struct {
	const char *zone;
	int64_t t;              /* unix time */
	int y, m, d;            /* its local date */
	int off;                /* seconds east of UTC then */
} days[] = {
	{"Asia/Ho_Chi_Minh", 1795303800, 2026, 11, 22, 25200},   /* 23:30Z */
	{"Asia/Ho_Chi_Minh", 1795280399, 2026, 11, 21, 25200},   /* 16:59:59Z = 23:59:59 */
	{"Asia/Ho_Chi_Minh", 1795280400, 2026, 11, 22, 25200},   /* 17:00:00Z = midnight */
	{"UTC", 1795303800, 2026, 11, 21, 0},
	{"+05:30", 1795303800, 2026, 11, 22, 19800},             /* 05:00 */
	{"UTC-03:00", 1795303800, 2026, 11, 21, -10800},
	{"-03:00", 1795256580, 2026, 11, 21, -10800},            /* 10:23Z = 07:23 */
	{"Europe/Paris", 1774738800, 2026, 3, 29, 3600},         /* 2026-03-28T23:00Z: midnight, winter time */
	{"Europe/Paris", 1774746000, 2026, 3, 29, 7200},         /* 01:00Z: 03:00 summer time */
	{"America/New_York", 1795303800, 2026, 11, 21, -18000},  /* 18:30 EST */
};

static void test_days(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
		use(days[i].zone);
		if (tzone_day(days[i].t) != DAY(days[i].y, days[i].m, days[i].d) || tzone_offset(days[i].t) != days[i].off)
			fail_msg("case %zu %s: day %lld off %d", i, days[i].zone, (long long)tzone_day(days[i].t),
			         tzone_offset(days[i].t));
	}
	use(TZONE_DEFAULT);
}

static void test_day_start(void **state)
{
	(void)state;
	use("Asia/Ho_Chi_Minh");
	assert_int_equal(tzone_day_start(DAY(2026, 11, 22)), 1795280400); /* 2026-11-21T17:00:00Z */
	use("Europe/Paris");
	/* the day summer time starts: midnight is 23:00Z the day before; the day is 23 h long */
	assert_int_equal(tzone_day_start(DAY(2026, 3, 29)), 1774738800);
	assert_int_equal(tzone_day_start(DAY(2026, 3, 30)) - tzone_day_start(DAY(2026, 3, 29)), 23 * 3600);
	use("America/Sao_Paulo");
	assert_int_equal(tzone_day_start(DAY(2026, 1, 1)), 1767236400); /* 2026-01-01T03:00:00Z */
	use(TZONE_DEFAULT);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {"", "Asia/Atlantis", "../../etc/passwd", "/etc/localtime", "+15:00",
	                                  "+07:60", "7", "UTC+", "Asia/Ho Chi Minh", "zone.tab"};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (tzone_check(bad[i], err, sizeof err) != -22)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err, "timezone"));
		assert_int_equal(tzone_use(bad[i], err, sizeof err), -22);
	}
	assert_string_equal(tzone_name(), TZONE_DEFAULT); /* a refused name changes nothing */
	assert_int_equal(tzone_check("+14:00", err, sizeof err), 0);
	assert_int_equal(tzone_check("Etc/GMT-7", err, sizeof err), 0);
}

static void test_label(void **state)
{
	char b[16];

	(void)state;
	tzone_offset_label(25200, b, sizeof b);
	assert_string_equal(b, "+07:00");
	tzone_offset_label(-12600, b, sizeof b);
	assert_string_equal(b, "-03:30");
	tzone_offset_label(0, b, sizeof b);
	assert_string_equal(b, "+00:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_hanoi),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_day_start),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_label),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
