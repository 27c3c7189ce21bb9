/* tzone: the time zone that report periods are counted in (config `timezone`): an IANA zone name or a fixed offset. */
#ifndef HL_TZONE_H
#define HL_TZONE_H

#include <stddef.h>
#include <stdint.h>

#define TZONE_DEFAULT "Asia/Ho_Chi_Minh"
#define TZONE_MAX 64             /* longest name accepted */

/* 0 if name is an IANA zone installed on this machine (the tzdata package:
 * /usr/share/zoneinfo, or $TZDIR) or a fixed offset ("+07:00", "-03:30",
 * "UTC", "UTC+07:00"); -EINVAL with err filled otherwise. */
int tzone_check(const char *name, char *err, size_t errlen);

/* Count local days in zone `name` from now on, in the whole process (it sets
 * TZ for the C library). Call it before starting threads: the archive writer
 * and the report workers read the zone without a lock. A process that never
 * calls it counts in TZONE_DEFAULT. Returns 0 or -EINVAL with err filled. */
int tzone_use(const char *name, char *err, size_t errlen);

/* The zone in use, as it was named. */
const char *tzone_name(void);

/* The local day of unix time t, as days since 1970-01-01. */
int64_t tzone_day(int64_t t);
/* The first unix second of local day `day` (days since 1970-01-01). */
int64_t tzone_day_start(int64_t day);
/* Seconds east of UTC at unix time t. */
int tzone_offset(int64_t t);
/* "+07:00" for 25200. */
void tzone_offset_label(int off, char *buf, size_t cap);

#endif
