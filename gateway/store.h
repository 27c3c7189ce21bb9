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
	STORE_NOTICE, STORE_TAKE, STORE_PUTBACK, STORE_DLR, STORE_GIVEBACK, STORE_ACTIVE, STORE_RECLAIM, STORE_MOPART,
	STORE_MOEND, STORE_MOSWEEP, STORE_SENT, STORE_UNCLAIM, STORE_NSCRIPTS };
redisReply *store_script(struct store *s, enum store_script which, int nkeys, const char **keys,
                         int nargs, const char **args, char *err, size_t errlen);

/* How many connections were made so far (a change means Redis was away). */
unsigned long store_connects(const struct store *s);
/* How many commands were sent so far (a script run counts one). */
unsigned long long store_commands(const struct store *s);

/* 1 when a PING succeeds now. */
int store_ping(struct store *s);

#endif
