/* store: the Redis connection (hiredis, synchronous with short timeouts) and
 * the Lua scripts that keep every survey step atomic. */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <stddef.h>

#include <hiredis.h>

struct store;

/* url: redis://host:port/db, or unix:/path/to.sock (db 0). Connects lazily:
 * a Redis that is down now is not an error here. Returns NULL on a bad url. */
struct store *store_new(const char *url, char *err, size_t errlen);
void store_free(struct store *s);

/* One command. Returns the reply (caller frees with freeReplyObject) or NULL
 * when Redis cannot be reached or answered an error; err says which. A
 * connection found dead before the command is written is made again; a
 * command that could not be written whole is sent once more on a fresh
 * connection; a command whose reply was lost (the connection broke after it
 * left, or the 2 s timeout passed) is never sent again here: it may have run,
 * and the caller, which sees an error, decides what to do. */
redisReply *store_cmd(struct store *s, char *err, size_t errlen, const char *fmt, ...);
redisReply *store_cmdargv(struct store *s, char *err, size_t errlen, int argc,
                          const char **argv, const size_t *lens);

/* Run a registered script by SHA (loading it on NOSCRIPT). keys and args are
 * NUL-terminated strings. What each script does is written above it in store.c. */
enum store_script { STORE_TRIGGER = 0, STORE_CLAIM, STORE_COMMIT, STORE_DUE_CLAIM,
	STORE_ARCHIVE_TAKE, STORE_REQUEUE, STORE_DEFER, STORE_WAKE, STORE_HELD_RELEASE, STORE_REAP,
	STORE_NOTICE, STORE_TAKE, STORE_PUTBACK, STORE_GIVEBACK, STORE_ACTIVE, STORE_RECLAIM, STORE_MOPART,
	STORE_MOEND, STORE_MOSWEEP, STORE_SENT, STORE_POP, STORE_START, STORE_UNCLAIM,
	STORE_KEEP, STORE_TXGET, STORE_LOAD, STORE_NSCRIPTS };
redisReply *store_script(struct store *s, enum store_script which, int nkeys, const char **keys,
                         int nargs, const char **args, char *err, size_t errlen);

/* How many connections were made so far (a change means Redis was away). */
unsigned long store_connects(const struct store *s);
/* How many commands were sent so far (a script run counts one). */
unsigned long long store_commands(const struct store *s);

/* 1 when a PING succeeds now. */
int store_ping(struct store *s);

/* ---- the asynchronous connection (store_async.c) ----
 * A second connection, on the event loop (hiredis async with the libevent
 * adapter), for the survey step's hot path. Commands issued during one pass
 * of the loop go out in one write (pipelined); their replies come back in
 * order. Scripts are loaded on connect before anything else. A reply lost
 * (the connection broke, or none within the timeout, 2 s) is reported as an
 * error and the command is never sent again: it may have run, and the
 * caller decides. */
struct event_base;
/* r: the reply (valid only during the call), or NULL with err saying why
 * (Redis unreachable, reply lost, an error reply). */
typedef void (*store_cb)(void *arg, const redisReply *r, const char *err);
/* Uses base for the asynchronous connection (made at the first command). */
void store_attach(struct store *s, struct event_base *base);
/* Queue a script run / a command. 0 = cb will be called exactly once (later,
 * never from inside this call); -EIO = Redis cannot be reached now (cb is
 * not called). */
int store_async_script(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                       const char **args, store_cb cb, void *arg);
int store_async_argv(struct store *s, int argc, const char **argv, store_cb cb, void *arg);
/* Commands sent whose reply has not come yet. */
size_t store_async_pending(const struct store *s);
/* fn(arg) after the reply that leaves no command pending (backpressure). */
void store_async_on_idle(struct store *s, void (*fn)(void *), void *arg);
/* Closes the asynchronous connection: every pending cb is called with an
 * error now (a shutdown). */
void store_async_close(struct store *s);

#endif
