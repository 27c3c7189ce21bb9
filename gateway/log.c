/* log: one line per event to stderr, with a UTC timestamp and level. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

static enum log_level log_threshold = LOG_INFO;

int log_set_level(const char *name)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			log_threshold = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level_value(enum log_level l)
{
	log_threshold = l;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	static const char *tag[] = {"debug", "info", "warn", "error"};
	if (l < log_threshold)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[2048];
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000, tag[l]);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

static void log_event_cb(int severity, const char *msg)
{
	enum log_level l = severity == EVENT_LOG_DEBUG ? LOG_DEBUG
	                   : severity == EVENT_LOG_MSG ? LOG_INFO
	                   : severity == EVENT_LOG_WARN ? LOG_WARN
	                                                : LOG_ERROR;
	log_msg(l, "libevent msg=\"%s\"", msg);
}

void log_hook_libevent(void)
{
	event_set_log_callback(log_event_cb);
}
