/* store_async: the asynchronous Redis connection of the event loop (hiredis
 * async, libevent adapter): pipelined commands, scripts loaded on connect,
 * a deadline on the oldest pending reply (hiredis 0.14 has no async timeout),
 * a lost reply reported once and never sent again. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "store_int.h"

#include <adapters/libevent.h>

/* One command sent, its reply not yet come. A script keeps its arguments:
 * a NOSCRIPT reply (the server's script cache was flushed) means it did not
 * run, and it is sent once more with its body. */
struct store_req {
	store_cb cb;
	void *arg;
	int which;              /* script, or -1 */
	int resent;
	int argc;
	char **argv;            /* script only: argv[0..argc) after EVALSHA sha nkeys */
	size_t *lens;
	struct timespec at;     /* sent (monotonic) */
	TAILQ_ENTRY(store_req) link;
};

static void store_req_free(struct store_req *q)
{
	if (!q)
		return;
	for (int i = 0; q->argv && i < q->argc; i++)
		free(q->argv[i]);
	free(q->argv);
	free(q->lens);
	free(q);
}

static int64_t ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void store_arm(struct store *s)
{
	struct store_req *q = TAILQ_FIRST(&s->reqs);
	if (!s->timer)
		return;
	if (!q) {
		evtimer_del(s->timer);
		return;
	}
	int64_t left = s->timeout_ms - ms_since(&q->at);
	if (left < 1)
		left = 1;
	struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
	evtimer_add(s->timer, &tv);
}

/* Drops the connection: every pending reply is lost (their callbacks run
 * now, from hiredis, with no reply). */
static void store_async_drop(struct store *s, const char *why)
{
	redisAsyncContext *ac = s->ac;
	if (!ac)
		return;
	s->ac = NULL;
	s->ac_up = 0;
	if (s->npending)
		log_warn("redis_async_drop pending=%zu why=\"%s\"", s->npending, why);
	redisAsyncFree(ac);
}

static void store_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct store *s = arg;
	struct store_req *q = TAILQ_FIRST(&s->reqs);
	if (q && ms_since(&q->at) >= s->timeout_ms)
		store_async_drop(s, "no reply within the timeout");
	store_arm(s);
}

static void store_on_reply(redisAsyncContext *ac, void *reply, void *priv);

static int store_send_req(struct store *s, struct store_req *q)
{
	const char **argv = malloc(sizeof(char *) * (size_t)(q->argc + 3));
	size_t *lens = malloc(sizeof(size_t) * (size_t)(q->argc + 3));
	char nk[16];
	int argc = 0, rc = -EIO;
	if (!argv || !lens)
		goto done;
	if (q->which >= 0) {
		/* EVALSHA when this connection knows the SHA, else EVAL with the body */
		int body = !s->asha[q->which][0];
		argv[0] = body ? "EVAL" : "EVALSHA";
		argv[1] = body ? store_lua[q->which] : s->asha[q->which];
		snprintf(nk, sizeof nk, "%d", (int)strtol(q->argv[0], NULL, 10));
		argv[2] = nk;
		lens[0] = strlen(argv[0]);
		lens[1] = strlen(argv[1]);
		lens[2] = strlen(nk);
		argc = 3;
		for (int i = 1; i < q->argc; i++, argc++) {
			argv[argc] = q->argv[i];
			lens[argc] = q->lens[i];
		}
	} else {
		for (int i = 0; i < q->argc; i++, argc++) {
			argv[argc] = q->argv[i];
			lens[argc] = q->lens[i];
		}
	}
	if (!s->ac || redisAsyncCommandArgv(s->ac, store_on_reply, q, argc, argv, lens) != REDIS_OK)
		goto done;
	clock_gettime(CLOCK_MONOTONIC, &q->at);
	TAILQ_INSERT_TAIL(&s->reqs, q, link);
	s->npending++;
	s->commands++;
	if (q->which >= 0)
		s->runs[q->which]++;
	if (s->npending == 1)
		store_arm(s);
	rc = 0;
done:
	free(argv);
	free(lens);
	return rc;
}

static void store_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct store *s = ac->data;
	struct store_req *q = priv;
	redisReply *r = reply;
	TAILQ_REMOVE(&s->reqs, q, link);
	s->npending--;
	if (r && r->type == REDIS_REPLY_ERROR && q->which >= 0 && !q->resent && s->ac == ac &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		/* it did not run: once more, with its body */
		s->asha[q->which][0] = '\0';
		q->resent = 1;
		if (store_send_req(s, q) == 0)
			return;
	}
	char err[256];
	const char *e = NULL;
	if (!r) {
		snprintf(err, sizeof err, "redis reply lost (the command may have run; not sent again): %s",
		         ac->errstr[0] ? ac->errstr : "connection closed");
		e = err;
		/* the connection is going (hiredis runs these callbacks before its
		 * disconnect callback, and takes no command meanwhile): a command
		 * a callback sends now goes on a new one */
		if (s->ac == ac) {
			s->ac = NULL;
			s->ac_up = 0;
		}
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, sizeof err, STORE_ERR_REPLY "%s", r->str);
		e = err;
		r = NULL;
	}
	q->cb(q->arg, r, e);
	store_req_free(q);
	if (s->npending == 0 && s->idle)
		s->idle(s->idle_arg);
	else
		store_arm(s);
}

static void store_on_sha(redisAsyncContext *ac, void *reply, void *priv)
{
	struct store *s = ac->data;
	redisReply *r = reply;
	int w = (int)(intptr_t)priv;
	if (s->ac == ac && r && r->type == REDIS_REPLY_STRING && r->len == 40)
		memcpy(s->asha[w], r->str, 41);
}

static void store_on_select(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)priv;
	redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ERROR)
		log_error("redis_select_failed err=\"%s\"", r->str);
	(void)ac;
}

static void store_on_connect(const redisAsyncContext *ac, int status)
{
	struct store *s = ac->data;
	if (s->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this: pending callbacks get no reply */
		log_warn("redis_async_connect_failed err=\"%s\"", ac->errstr);
		s->ac = NULL;
		s->ac_up = 0;
		clock_gettime(CLOCK_MONOTONIC, &s->aretry_at);
		return;
	}
	s->ac_up = 1;
}

static void store_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct store *s = ac->data;
	(void)status;
	if (s->ac == ac) {
		s->ac = NULL;
		s->ac_up = 0;
	}
}

void store_attach(struct store *s, struct event_base *base)
{
	s->base = base;
	if (!s->timer)
		s->timer = evtimer_new(base, store_on_timer, s);
}

/* A connection, made now if there is none (its first commands: SELECT and
 * the scripts, so that every command after them finds them loaded). */
static int store_async_ready(struct store *s)
{
	if (s->ac)
		return 0;
	if (!s->base)
		return -EIO;
	if (s->aretry_at.tv_sec && ms_since(&s->aretry_at) < 250)
		return -EIO; /* a connect failed a moment ago: fail fast meanwhile */
	redisAsyncContext *ac = s->path ? redisAsyncConnectUnix(s->path) : redisAsyncConnect(s->host, s->port);
	if (!ac || ac->err) {
		log_warn("redis_async_connect_failed err=\"%s\"", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		clock_gettime(CLOCK_MONOTONIC, &s->aretry_at);
		return -EIO;
	}
	ac->data = s;
	if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
		redisAsyncFree(ac);
		return -EIO;
	}
	redisAsyncSetConnectCallback(ac, store_on_connect);
	redisAsyncSetDisconnectCallback(ac, store_on_disconnect);
	s->ac = ac;
	s->aretry_at.tv_sec = 0;
	s->connects++;
	if (s->db) {
		char db[8];
		snprintf(db, sizeof db, "%d", s->db);
		const char *argv[] = {"SELECT", db};
		redisAsyncCommandArgv(ac, store_on_select, NULL, 2, argv, NULL);
	}
	for (int i = 0; i < STORE_NSCRIPTS; i++) {
		s->asha[i][0] = '\0';
		const char *argv[] = {"SCRIPT", "LOAD", store_lua[i]};
		redisAsyncCommandArgv(ac, store_on_sha, (void *)(intptr_t)i, 3, argv, NULL);
	}
	return 0;
}

static int store_async_queue(struct store *s, int which, int argc, const char **argv, store_cb cb, void *arg)
{
	if (store_async_ready(s) < 0)
		return -EIO;
	struct store_req *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->cb = cb;
	q->arg = arg;
	q->which = which;
	q->argc = argc;
	q->argv = calloc((size_t)argc, sizeof *q->argv);
	q->lens = calloc((size_t)argc, sizeof *q->lens);
	for (int i = 0; q->argv && q->lens && i < argc; i++) {
		q->lens[i] = strlen(argv[i]);
		if (!(q->argv[i] = malloc(q->lens[i] + 1)))
			break;
		memcpy(q->argv[i], argv[i], q->lens[i] + 1);
	}
	int ok = q->argv && q->lens;
	for (int i = 0; ok && i < argc; i++)
		ok = q->argv[i] != NULL;
	if (!ok) {
		store_req_free(q);
		return -ENOMEM;
	}
	if (store_send_req(s, q) < 0) {
		store_req_free(q);
		return -EIO;
	}
	return 0;
}

int store_async_script(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                       const char **args, store_cb cb, void *arg)
{
	int argc = 1 + nkeys + nargs;
	const char **argv = malloc(sizeof(char *) * (size_t)argc);
	char nk[16];
	if (!argv)
		return -ENOMEM;
	snprintf(nk, sizeof nk, "%d", nkeys);
	argv[0] = nk;
	for (int i = 0; i < nkeys; i++)
		argv[1 + i] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[1 + nkeys + i] = args[i];
	int rc = store_async_queue(s, (int)which, argc, argv, cb, arg);
	free(argv);
	return rc;
}

int store_async_argv(struct store *s, int argc, const char **argv, store_cb cb, void *arg)
{
	return store_async_queue(s, -1, argc, argv, cb, arg);
}

size_t store_async_pending(const struct store *s)
{
	return s->npending;
}

void store_async_on_idle(struct store *s, void (*fn)(void *), void *arg)
{
	s->idle = fn;
	s->idle_arg = arg;
}

void store_async_close(struct store *s)
{
	s->base = NULL; /* no new connection: what the callbacks queue fails at once */
	store_async_drop(s, "closed");
}

void store_async_free(struct store *s)
{
	s->idle = NULL;
	store_async_drop(s, "closed");
	if (s->timer)
		event_free(s->timer);
	s->timer = NULL;
}
