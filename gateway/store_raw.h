/* store_raw: the store's commands with their hiredis replies, under the
 * typed verbs (store_verbs.c) and for the store's own tests. Every other
 * file uses store.h. */
#ifndef HL_STORE_RAW_H
#define HL_STORE_RAW_H

#include <hiredis.h>

#include "store.h"

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
/* Run a registered script by SHA (loading it on NOSCRIPT). */
redisReply *store_script(struct store *s, enum store_script which, int nkeys, const char **keys,
                         int nargs, const char **args, char *err, size_t errlen);

/* r: the reply (valid only during the call), or NULL with err saying why
 * (Redis unreachable, reply lost, an error reply). */
typedef void (*store_cb)(void *arg, const redisReply *r, const char *err);
/* Queue a script run / a command. 0 = cb will be called exactly once (later,
 * never from inside this call); -EIO = Redis cannot be reached now (cb is
 * not called). */
int store_async_script(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                       const char **args, store_cb cb, void *arg);
int store_async_argv(struct store *s, int argc, const char **argv, store_cb cb, void *arg);

#endif
