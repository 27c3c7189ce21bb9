/* store: Redis access for hailongd, the synchronous connection (short
 * timeouts); every multi-key survey step is one Lua script (store_lua.c),
 * the asynchronous connection is store_async.c, the typed verbs
 * store_verbs.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "store_int.h"

static void store_seterr(char *err, size_t errlen, const char *what, const char *detail)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

struct store *store_new(const char *url, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	TAILQ_INIT(&s->reqs);
	s->timeout_ms = 2000;
	if (strncmp(url, "unix:", 5) == 0) {
		s->path = strdup(url + 5);
		if (!s->path || !*s->path)
			goto fail;
	} else if (strncmp(url, "redis://", 8) == 0) {
		/* the host as config.c accepts it: a name, IPv4, or IPv6 in brackets
		 * ("redis://[::1]:6379/0", handed to hiredis without them) */
		const char *h = url + 8, *slash = strchr(h, '/'), *rb = *h == '[' ? strchr(h, ']') : NULL;
		if (*h == '[' && (!rb || (slash && rb > slash)))
			goto fail;
		const char *colon = strchr(rb ? rb : h, ':');
		if (colon && slash && colon > slash)
			colon = NULL;
		const char *hend = colon ? colon : slash ? slash : h + strlen(h);
		if (rb && hend != rb + 1)
			goto fail;
		s->host = rb ? strndup(h + 1, (size_t)(rb - h - 1)) : strndup(h, (size_t)(hend - h));
		s->port = 6379;
		if (colon) {
			char *end;
			long p = strtol(colon + 1, &end, 10);
			if (p <= 0 || p > 65535 || (*end && *end != '/'))
				goto fail;
			s->port = (int)p;
		}
		if (slash) {
			char *end;
			long d = strtol(slash + 1, &end, 10);
			if (d < 0 || d > 255 || *end || end == slash + 1) /* (config.c's range; the server's own is its `databases`) */
				goto fail;
			s->db = (int)d;
		}
		if (!s->host || !*s->host)
			goto fail;
	} else {
		goto fail;
	}
	return s;
fail:
	store_seterr(err, errlen, "bad redis url (redis://host:port/db or unix:/path)", url);
	store_free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	store_async_free(s);
	if (s->c)
		redisFree(s->c);
	free(s->host);
	free(s->path);
	free(s);
}

static int store_connect(struct store *s, char *err, size_t errlen)
{
	if (s->c)
		return 0;
	/* an unreachable Redis costs a connect timeout per try: while it is
	 * away, callers fail at once for a moment instead of each waiting, so
	 * the event loop keeps answering the SMSC and the API */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < s->retry_at.tv_sec ||
	    (now.tv_sec == s->retry_at.tv_sec && now.tv_nsec < s->retry_at.tv_nsec)) {
		store_seterr(err, errlen, "redis", "unreachable (retrying shortly)");
		return -EIO;
	}
	struct timeval tv = {1, 0};
	redisContext *c = s->path ? redisConnectUnixWithTimeout(s->path, tv)
	                          : redisConnectWithTimeout(s->host, s->port, tv);
	if (!c || c->err) {
		store_seterr(err, errlen, "redis connect", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		s->retry_at = now;
		s->retry_at.tv_nsec += 250000000L; /* 250 ms */
		if (s->retry_at.tv_nsec >= 1000000000L) {
			s->retry_at.tv_sec++;
			s->retry_at.tv_nsec -= 1000000000L;
		}
		return -EIO;
	}
	struct timeval ctv = {2, 0};
	redisSetTimeout(c, ctv);
	if (s->host)
		redisEnableKeepAlive(c); /* TCP only: on a unix socket it fails and marks the context broken */
	if (s->db) {
		redisReply *r = redisCommand(c, "SELECT %d", s->db);
		int ok = r && r->type != REDIS_REPLY_ERROR;
		if (!ok) /* the server's word ("ERR DB index is out of range": its `databases`), else the link's */
			store_seterr(err, errlen, "redis select", r && r->str ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		if (!ok) {
			redisFree(c);
			return -EIO;
		}
	}
	s->c = c;
	s->connects++;
	for (int i = 0; i < STORE_NSCRIPTS; i++)
		s->sha[i][0] = '\0';
	return 0;
}

unsigned long store_connects(const struct store *s)
{
	return s->connects;
}

unsigned long long store_script_runs(const struct store *s, enum store_script which)
{
	return which >= 0 && which < STORE_NSCRIPTS ? s->runs[which] : 0;
}

const char *store_script_name(enum store_script which)
{
	static const char *const names[STORE_NSCRIPTS] = {
		[STORE_TRIGGER] = "trigger", [STORE_CLAIM] = "claim", [STORE_COMMIT] = "commit",
		[STORE_DUE_CLAIM] = "due_claim", [STORE_ARCHIVE_TAKE] = "archive_take", [STORE_REQUEUE] = "requeue",
		[STORE_DEFER] = "defer", [STORE_WAKE] = "wake", [STORE_HELD_RELEASE] = "held_release",
		[STORE_REAP] = "reap", [STORE_NOTICE] = "notice", [STORE_TAKE] = "take", [STORE_PUTBACK] = "putback",
		[STORE_GIVEBACK] = "giveback", [STORE_ACTIVE] = "active", [STORE_RECLAIM] = "reclaim",
		[STORE_MOPART] = "mopart", [STORE_MOEND] = "moend", [STORE_MOSWEEP] = "mosweep", [STORE_SENT] = "sent",
		[STORE_POP] = "pop", [STORE_START] = "start", [STORE_UNCLAIM] = "unclaim", [STORE_KEEP] = "keep",
		[STORE_TXGET] = "txget", [STORE_LOAD] = "load",
	};
	return which >= 0 && which < STORE_NSCRIPTS && names[which] ? names[which] : "?";
}

unsigned long long store_commands(const struct store *s)
{
	return s->commands;
}

/* Checks a reply: NULL (I/O) drops the connection; an error reply is passed
 * back as NULL with its text in err. */
static redisReply *store_check(struct store *s, redisReply *r, char *err, size_t errlen)
{
	if (!r) {
		store_seterr(err, errlen, "redis", s->c ? s->c->errstr : "not connected");
		redisFree(s->c);
		s->c = NULL;
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		store_seterr(err, errlen, "redis error", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* 1 when the connection is dead before anything is written on it: Redis
 * closed it (a restart, a client timeout) and nobody read that yet. Costs one
 * non-blocking peek. */
static int store_conn_dead(const redisContext *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return 1; /* end of stream */
	if (n < 0)
		return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
	return 1; /* bytes nobody asked for: out of step, start afresh */
}

static void store_drop(struct store *s)
{
	redisFree(s->c);
	s->c = NULL;
}

/* Sends the command appended to s->c and reads its reply. A command that
 * could not be written whole never ran (Redis runs only whole commands):
 * -EAGAIN, the caller may send it again on a fresh connection. A reply lost
 * after the command left (the connection broke, or no answer within the
 * timeout) may or may not have run: NULL with err saying so, and it is never
 * sent again here. */
static redisReply *store_roundtrip(struct store *s, int *again, char *err, size_t errlen)
{
	int done = 0;
	*again = 0;
	s->commands++;
	while (!done) {
		if (redisBufferWrite(s->c, &done) != REDIS_OK) {
			store_seterr(err, errlen, "redis", s->c->errstr);
			store_drop(s);
			*again = 1;
			return NULL;
		}
	}
	void *reply = NULL;
	if (redisGetReply(s->c, &reply) != REDIS_OK) {
		store_seterr(err, errlen, "redis reply lost (the command may have run; not sent again)",
		             s->c->errstr);
		store_drop(s);
		return NULL;
	}
	return store_check(s, reply, err, errlen);
}

/* A live connection, made again when the one we had is found dead before use. */
static int store_ready(struct store *s, char *err, size_t errlen)
{
	if (s->c && store_conn_dead(s->c))
		store_drop(s);
	return store_connect(s, err, errlen);
}

/* One command already in protocol form (cmd, len; borrowed): sent on a live
 * connection, and once more on a fresh one only when it was not written whole. */
redisReply *store_send(struct store *s, const char *cmd, size_t len, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (store_ready(s, err, errlen) < 0)
			return NULL;
		if (redisAppendFormattedCommand(s->c, cmd, len) != REDIS_OK) {
			store_seterr(err, errlen, "redis", "out of memory");
			store_drop(s);
			return NULL;
		}
		int again;
		redisReply *r = store_roundtrip(s, &again, err, errlen);
		if (r || !again)
			return r;
	}
	return NULL;
}

redisReply *store_cmdargv(struct store *s, char *err, size_t errlen, int argc, const char **argv,
                          const size_t *lens)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0) {
		store_seterr(err, errlen, "redis", "out of memory");
		return NULL;
	}
	redisReply *r = store_send(s, cmd, (size_t)len, err, errlen);
	redisFreeCommand(cmd);
	return r;
}

redisReply *store_cmd(struct store *s, char *err, size_t errlen, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		store_seterr(err, errlen, "redis", "out of memory or a bad format");
		return NULL;
	}
	redisReply *r = store_send(s, cmd, (size_t)len, err, errlen);
	redisFreeCommand(cmd);
	return r;
}

static int store_load_script(struct store *s, enum store_script w, char *err, size_t errlen)
{
	redisReply *r = store_cmd(s, err, errlen, "SCRIPT LOAD %s", store_lua[w]);
	if (!r)
		return -EIO;
	int ok = r->type == REDIS_REPLY_STRING && r->len == 40;
	if (ok)
		memcpy(s->sha[w], r->str, 41);
	freeReplyObject(r);
	if (!ok) {
		store_seterr(err, errlen, "redis script load", "unexpected reply");
		return -EIO;
	}
	return 0;
}

redisReply *store_script(struct store *s, enum store_script w, int nkeys, const char **keys,
                         int nargs, const char **args, char *err, size_t errlen)
{
	int argc = 3 + nkeys + nargs;
	const char **argv = malloc(sizeof(char *) * (size_t)argc);
	size_t *lens = malloc(sizeof(size_t) * (size_t)argc);
	char nk[16];
	redisReply *r = NULL;
	if (!argv || !lens) {
		store_seterr(err, errlen, "out of memory", NULL);
		goto done;
	}
	s->runs[w]++;
	snprintf(nk, sizeof nk, "%d", nkeys);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (store_connect(s, err, errlen) < 0)
			goto done;
		if (!s->sha[w][0] && store_load_script(s, w, err, errlen) < 0)
			goto done;
		argv[0] = "EVALSHA";
		argv[1] = s->sha[w];
		argv[2] = nk;
		for (int i = 0; i < nkeys; i++)
			argv[3 + i] = keys[i];
		for (int i = 0; i < nargs; i++)
			argv[3 + nkeys + i] = args[i];
		for (int i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		r = store_cmdargv(s, err, errlen, argc, argv, lens);
		if (r || !err || strstr(err, "NOSCRIPT") == NULL)
			goto done;
		s->sha[w][0] = '\0'; /* flushed or a new server: load again */
	}
done:
	free(argv);
	free(lens);
	return r;
}

int store_ping(struct store *s)
{
	char err[128];
	redisReply *r = store_cmd(s, err, sizeof err, "PING");
	int ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	return ok;
}
