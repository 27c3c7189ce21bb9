/* tzone: report periods in the configured time zone, through the C library's own zone code (TZ, localtime_r) and the tzdata files. */
#include "tzone.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char zone_name[TZONE_MAX + 1];  /* the zone in use, as named */
static int zone_set;                   /* tzone_use was called */
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;

/* "+07:00", "-3:30", "+7", "UTC", "UTC+07:00", "Z" -> seconds east of UTC.
 * Returns 0, or -EINVAL when s is not an offset. */
static int parse_offset(const char *s, int *out)
{
	int sign, h = 0, m = 0, nd = 0;

	if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0 || strcmp(s, "GMT") == 0) {
		*out = 0;
		return 0;
	}
	if (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0)
		s += 3;
	if (*s != '+' && *s != '-')
		return -EINVAL;
	sign = *s++ == '-' ? -1 : 1;
	while (*s >= '0' && *s <= '9' && nd < 2) {
		h = h * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0)
		return -EINVAL;
	if (*s == ':') {
		s++;
		if (!(s[0] >= '0' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9'))
			return -EINVAL;
		m = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
	}
	if (*s || h > 14 || (h == 14 && m > 0))
		return -EINVAL;
	*out = sign * (h * 3600 + m * 60);
	return 0;
}

/* 0 if `name` is a compiled zone file (it starts with "TZif") under the zone folder. */
static int zone_file_ok(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[4096], magic[4];
	FILE *f;
	int ok;

	if (!dir || !dir[0])
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path || !(f = fopen(path, "rb")))
		return -ENOENT;
	ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok ? 0 : -ENOENT;
}

int tzone_check(const char *name, char *err, size_t errlen)
{
	int off, ok;

	if (!name || !name[0] || strlen(name) > TZONE_MAX) {
		snprintf(err, errlen, "timezone: empty or longer than %d characters", TZONE_MAX);
		return -EINVAL;
	}
	if (parse_offset(name, &off) == 0)
		return 0;
	ok = name[0] != '/' && !strstr(name, "..");
	for (const char *s = name; ok && *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '/' || *s == '_' || *s == '-' || *s == '+'))
			ok = 0;
	if (ok && zone_file_ok(name) == 0)
		return 0;
	snprintf(err, errlen,
	         "timezone: '%.64s' is neither a time zone installed here (an IANA name such as Asia/Ho_Chi_Minh:"
	         " Debian package tzdata) nor an offset such as +07:00", name);
	return -EINVAL;
}

int tzone_use(const char *name, char *err, size_t errlen)
{
	char posix[TZONE_MAX + 32];
	int off;

	if (tzone_check(name, err, errlen) < 0)
		return -EINVAL;
	if (parse_offset(name, &off) == 0) {
		/* POSIX counts west of UTC: UTC+07:00 is "<+0700>-07:00" */
		int a = off < 0 ? -off : off;

		snprintf(posix, sizeof posix, "<%c%02d%02d>%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60,
		         off < 0 ? '+' : '-', a / 3600, a / 60 % 60);
	} else {
		snprintf(posix, sizeof posix, ":%s", name);
	}
	if (setenv("TZ", posix, 1) < 0) {
		snprintf(err, errlen, "timezone: %s", strerror(errno));
		return -errno;
	}
	tzset();
	snprintf(zone_name, sizeof zone_name, "%s", name);
	zone_set = 1;
	return 0;
}

static void zone_default(void)
{
	char err[256];

	if (!zone_set && tzone_use(TZONE_DEFAULT, err, sizeof err) < 0) {
		/* no tzdata: the default zone's offset, which has not changed since 1975 */
		tzone_use("+07:00", err, sizeof err);
		snprintf(zone_name, sizeof zone_name, "%s", "+07:00");
	}
}

const char *tzone_name(void)
{
	if (!zone_set)
		pthread_once(&zone_once, zone_default);
	return zone_name;
}

static int local_tm(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;

	if (!zone_set)
		pthread_once(&zone_once, zone_default);
	return localtime_r(&tt, tm) ? 0 : -EINVAL;
}

int64_t tzone_day(int64_t t)
{
	struct tm tm, d;

	if (local_tm(t, &tm) < 0)
		return t >= 0 ? t / 86400 : (t - 86399) / 86400;
	memset(&d, 0, sizeof d);
	d.tm_year = tm.tm_year;
	d.tm_mon = tm.tm_mon;
	d.tm_mday = tm.tm_mday;
	return (int64_t)timegm(&d) / 86400;
}

int tzone_offset(int64_t t)
{
	struct tm tm;

	return local_tm(t, &tm) < 0 ? 0 : (int)tm.tm_gmtoff;
}

int64_t tzone_day_start(int64_t day)
{
	/* the smallest t whose local day is `day`: offsets lie within ±26 h */
	int64_t lo = day * 86400 - 26 * 3600, hi = day * 86400 + 26 * 3600;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (tzone_day(mid) >= day)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void tzone_offset_label(int off, char *buf, size_t cap)
{
	int a = off < 0 ? -off : off;

	snprintf(buf, cap, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}
