/* log: one logfmt line per event to stderr (ts= level= peer= event= key=value...). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

static enum log_level log_threshold = LOG_INFO;

/* Batched lines (log_batch_on): the loop thread's info and debug lines
 * collect in stderr's buffer and go out in one write at the end of the loop
 * pass that wrote them (a gateway at full speed writes several lines per
 * message: one write(2) each was a tenth of its time). Warnings and errors,
 * and lines from other threads, are written at once. */
static struct event *log_flush_ev;
static int log_flush_pending;
static pthread_t log_loop_thread;
static char log_buf[1 << 16];

static void log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush_pending = 0;
	fflush(stderr);
}

int log_batch_on(struct event_base *base)
{
	log_flush_ev = event_new(base, -1, 0, log_flush_cb, NULL);
	if (!log_flush_ev)
		return -ENOMEM;
	log_loop_thread = pthread_self();
	fflush(stderr);
	setvbuf(stderr, log_buf, _IOFBF, sizeof log_buf);
	return 0;
}

void log_batch_off(void)
{
	fflush(stderr);
	setvbuf(stderr, NULL, _IONBF, 0);
	if (log_flush_ev)
		event_free(log_flush_ev);
	log_flush_ev = NULL;
	log_flush_pending = 0;
}

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

/* Appends to out[*n] within cap (always NUL-terminated, cut when full). */
static void log_put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + 1 >= cap)
		return;
	if (len > cap - 1 - *n)
		len = cap - 1 - *n;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = '\0';
}

static int log_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '.' || c == '-';
}

/* Length of a key=value token at s (a quoted value runs to its closing
 * quote, escapes kept), or 0 when s is not one. */
static size_t log_kv_len(const char *s)
{
	size_t k = 0;
	while (log_keychar(s[k]))
		k++;
	if (k == 0 || s[k] != '=')
		return 0;
	const char *v = s + k + 1;
	if (*v == '"') {
		const char *e = v + 1;
		while (*e && *e != '"') {
			if (*e == '\\' && e[1])
				e++;
			e++;
		}
		return (size_t)(e - s) + (*e == '"');
	}
	return k + 1 + strcspn(v, " ");
}

size_t log_logfmt(char *out, size_t cap, const char *ts, const char *level, const char *msg)
{
	size_t n = 0;
	const char *p = msg;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	log_put(out, cap, &n, "ts=", 3);
	log_put(out, cap, &n, ts, strlen(ts));
	log_put(out, cap, &n, " level=", 7);
	log_put(out, cap, &n, level, strlen(level));
	/* "[main] ...": the peer */
	if (*p == '[' && strchr(p, ']')) {
		const char *e = strchr(p, ']');
		log_put(out, cap, &n, " peer=", 6);
		for (const char *c = p + 1; c < e; c++)
			if (log_keychar(*c))
				log_put(out, cap, &n, c, 1);
		p = e + 1;
	}
	p += strspn(p, " ");
	/* leading words without '=' name the event: "lease instance=..." */
	if (!log_kv_len(p) && *p) {
		log_put(out, cap, &n, " event=", 7);
		int first = 1;
		while (*p && !log_kv_len(p)) {
			size_t w = strcspn(p, " ");
			if (!first)
				log_put(out, cap, &n, "_", 1);
			for (size_t i = 0; i < w; i++)
				if (log_keychar(p[i]))
					log_put(out, cap, &n, p + i, 1);
			first = 0;
			p += w;
			p += strspn(p, " ");
		}
	}
	/* key=value pairs as written; stray words after them go to note="..." */
	char note[512];
	size_t nn = 0;
	note[0] = '\0';
	while (*p) {
		size_t kv = log_kv_len(p);
		if (kv) {
			log_put(out, cap, &n, " ", 1);
			log_put(out, cap, &n, p, kv);
			p += kv;
		} else {
			size_t w = strcspn(p, " ");
			if (nn)
				log_put(note, sizeof note, &nn, " ", 1);
			for (size_t i = 0; i < w; i++) {
				if (p[i] == '"' || p[i] == '\\')
					log_put(note, sizeof note, &nn, "\\", 1);
				log_put(note, sizeof note, &nn, p + i, 1);
			}
			p += w;
		}
		p += strspn(p, " ");
	}
	if (nn) {
		log_put(out, cap, &n, " note=\"", 7);
		log_put(out, cap, &n, note, nn);
		log_put(out, cap, &n, "\"", 1);
	}
	return n;
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
	char when[64], msg[2048], line[2600];
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_logfmt(line, sizeof line, when, tag[l], msg);
	fprintf(stderr, "%s\n", line);
	if (!log_flush_ev || l >= LOG_WARN || !pthread_equal(pthread_self(), log_loop_thread))
		fflush(stderr);
	else if (!log_flush_pending) {
		log_flush_pending = 1;
		event_active(log_flush_ev, 0, 0);
	}
}

static void log_event_cb(int severity, const char *msg)
{
	enum log_level l = severity == EVENT_LOG_DEBUG ? LOG_DEBUG
	                   : severity == EVENT_LOG_MSG ? LOG_INFO
	                   : severity == EVENT_LOG_WARN ? LOG_WARN
	                                                : LOG_ERROR;
	char clean[512];
	size_t k = 0;
	for (const char *c = msg; *c && k + 2 < sizeof clean; c++) {
		if (*c == '"' || *c == '\\')
			clean[k++] = '\\';
		clean[k++] = *c;
	}
	clean[k] = '\0';
	log_msg(l, "libevent msg=\"%s\"", clean);
}

void log_hook_libevent(void)
{
	event_set_log_callback(log_event_cb);
}
