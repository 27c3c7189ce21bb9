/* store_int: what store.c (the synchronous connection, the scripts) and
 * store_async.c (the asynchronous one) share. Not for other modules. */
#ifndef HL_STORE_INT_H
#define HL_STORE_INT_H

#include <stddef.h>
#include <sys/queue.h>
#include <time.h>

#include <hiredis.h>
#include <async.h>

#include "store_raw.h"

/* How an error reply starts in err (sync and async): the verbs tell it
 * (-EPROTO, the command did not run) from a lost reply (-EIO). */
#define STORE_ERR_REPLY "redis error: "

struct store_req;

struct store {
	char *host;            /* NULL for a unix socket */
	char *path;            /* unix socket path */
	int port;
	int db;
	redisContext *c;       /* NULL until connected */
	struct timespec retry_at; /* after a failed connect, no new try before this (monotonic) */
	char sha[STORE_NSCRIPTS][41]; /* script SHA1s, "" until loaded */
	unsigned long connects; /* connections made so far */
	unsigned long long commands; /* commands sent (EVALSHA counts one), for /metrics */
	unsigned long long runs[STORE_NSCRIPTS]; /* of them, each script's runs sent */
	/* the asynchronous connection (store_async.c) */
	struct event_base *base;        /* NULL until store_attach */
	redisAsyncContext *ac;          /* NULL until (re)connected */
	int ac_up;                      /* its connect callback said yes */
	char asha[STORE_NSCRIPTS][41];  /* SHA1s the async connection knows ("" = send the body) */
	struct timespec aretry_at;      /* after a failed connect, none before this */
	TAILQ_HEAD(, store_req) reqs;   /* sent, reply not yet come, oldest first */
	size_t npending;
	struct event *timer;            /* the oldest pending reply's deadline */
	int timeout_ms;
	void (*idle)(void *);           /* called when the last pending reply came */
	void *idle_arg;
};

extern const char *const store_lua[STORE_NSCRIPTS];

void store_async_free(struct store *s);
/* One command already in protocol form (cmd, len; borrowed), as store_cmd
 * sends it. */
redisReply *store_send(struct store *s, const char *cmd, size_t len, char *err, size_t errlen);

#endif
