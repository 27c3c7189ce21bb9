/* log: one line per event, key=value fields, to stderr; also takes libevent's messages. */
#ifndef HL_LOG_H
#define HL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the threshold ("debug", "info", "warn", "error"); returns -EINVAL for others. */
int log_set_level(const char *name);
void log_set_level_value(enum log_level l);
/* Route libevent's own messages through this module. */
void log_hook_libevent(void);
struct event_base;
/* Lines of the thread calling this (the loop's) go out once per loop pass of
 * base, in one write; warnings and errors at once. log_batch_off() (before
 * base is freed) writes what is left and goes back to a write per line.
 * Returns 0 or -ENOMEM (lines are then written one by one). */
int log_batch_on(struct event_base *base);
void log_batch_off(void);

#include <stddef.h>

/* One log line in logfmt from a message as the code writes it: "ts=TS
 * level=LEVEL", then "[peer] " as peer=, leading words without '=' as
 * event= ("lease instance=x" -> event=lease instance=x), key=value pairs as
 * written (quoted values kept whole), and stray words gathered in note="...".
 * Returns the length written to out (NUL-terminated, cut at cap). */
size_t log_logfmt(char *out, size_t cap, const char *ts, const char *level, const char *msg);

void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
