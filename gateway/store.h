/* store: the Redis connections and the Lua scripts that keep every survey
 * step atomic, offered as typed verbs: the caller gets numbers, strings and
 * lists, never a hiredis reply (only the store's own files, and its tests,
 * see those: store_raw.h). */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <stddef.h>

struct store;
struct event_base;

/* url: redis://host:port/db, or unix:/path/to.sock (db 0). Connects lazily:
 * a Redis that is down now is not an error here. Returns NULL on a bad url. */
struct store *store_new(const char *url, char *err, size_t errlen);
void store_free(struct store *s);

/* The registered scripts. What each does (its KEYS, ARGV and reply) is
 * written above it in store_lua.c. */
enum store_script { STORE_TRIGGER = 0, STORE_CLAIM, STORE_COMMIT, STORE_DUE_CLAIM,
	STORE_ARCHIVE_TAKE, STORE_REQUEUE, STORE_DEFER, STORE_WAKE, STORE_HELD_RELEASE, STORE_REAP,
	STORE_NOTICE, STORE_TAKE, STORE_PUTBACK, STORE_GIVEBACK, STORE_ACTIVE, STORE_RECLAIM, STORE_MOPART,
	STORE_MOEND, STORE_MOSWEEP, STORE_SENT, STORE_POP, STORE_START, STORE_UNCLAIM,
	STORE_KEEP, STORE_TXGET, STORE_LOAD, STORE_NSCRIPTS };

/* How many connections were made so far (a change means Redis was away). */
unsigned long store_connects(const struct store *s);
/* How many commands were sent so far (a script run counts one). */
unsigned long long store_commands(const struct store *s);
/* Of them, how many runs of script which; and its name for /metrics. */
unsigned long long store_script_runs(const struct store *s, enum store_script which);
const char *store_script_name(enum store_script which);

/* 1 when a PING succeeds now. */
int store_ping(struct store *s);

/* ---- typed verbs (store_verbs.c) ----
 *
 * Every verb returns 0 (or what it says, never negative) when Redis answered
 * with the shape the verb reads, else a negative errno with err filled:
 *   -EIO     Redis cannot be reached, or the reply was lost: the connection
 *            broke after the command left, or no reply within 2 s. Such a
 *            command may have run; it is never sent again here, and the
 *            caller decides.
 *   -EPROTO  Redis answered an error: a command refused (a wrong type:
 *            it did not run), or a script that stopped with an error (what
 *            it wrote before that stays).
 *   -EBADMSG Redis answered, with a reply of another shape than the verb
 *            reads (the command ran).
 *   -ENOMEM
 * A connection found dead before a command is written is made again, and a
 * command that could not be written whole is sent once more on a fresh one
 * (Redis runs only whole commands). Scripts run by SHA, loaded again on
 * NOSCRIPT (which means it did not run).
 *
 * fmt is hiredis's command format, not printf's: each %s is one whole
 * argument (spaces and all), %b a pointer and a length, %d an int, %lld a
 * long long; words outside % are split on spaces. keys and args are
 * NUL-terminated strings, borrowed for the call. */

/* One element of an array reply. */
enum store_kind {
	STORE_NIL = 0,  /* nil (a missing key, a Lua false) */
	STORE_INT,      /* an integer */
	STORE_STR,      /* a bulk string or a status ("OK") */
	STORE_NESTED    /* an array (POP's records, an HGETALL inside a script's reply): sub */
};
struct store_list;
struct store_item {
	enum store_kind kind;
	long long i;       /* STORE_INT: the number; else 0 */
	const char *s;     /* STORE_STR: the text, NUL-terminated (len says where it ends if it holds a NUL);
	                    * else NULL */
	size_t len;        /* STORE_STR: its length */
	const struct store_list *sub; /* STORE_NESTED: its elements (part of the top list); else NULL */
};
/* An array reply. Zeroed = empty; store_list_clear frees what a verb filled
 * (one allocation: the items, nested lists and their texts) and zeroes it
 * again. */
struct store_list {
	size_t n;
	struct store_item *e;
};
void store_list_clear(struct store_list *l);
/* The value after field name in a list of name, value, name, value... (an
 * HGETALL): NULL when the name is not there or its value is no string. */
const struct store_item *store_list_field(const struct store_list *l, const char *name);

/* A command whose reply only has to be no error (SET, SADD, LREM, DEL...). */
int store_exec(struct store *s, char *err, size_t errlen, const char *fmt, ...);
int store_execv(struct store *s, int argc, const char **argv, char *err, size_t errlen);
/* A command answered with an integer (*out). */
int store_int(struct store *s, long long *out, char *err, size_t errlen, const char *fmt, ...);
int store_intv(struct store *s, long long *out, int argc, const char **argv, char *err, size_t errlen);
/* A command answered with a string or nil: 1 and *out (malloc'd, NUL-
 * terminated; the caller frees it), or 0 and *out = NULL for nil. */
int store_str(struct store *s, char **out, char *err, size_t errlen, const char *fmt, ...);
/* A command answered with an array (LRANGE, SMEMBERS, ZRANGE WITHSCORES):
 * *out filled (the caller clears it); on an error *out is left empty. */
int store_list(struct store *s, struct store_list *out, char *err, size_t errlen, const char *fmt, ...);

/* Scripts, by the shape of their reply (see each script in store_lua.c). */
int store_run(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
              const char **args, char *err, size_t errlen);
int store_run_int(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                  const char **args, long long *out, char *err, size_t errlen);
int store_run_str(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                  const char **args, char **out, char *err, size_t errlen);
int store_run_list(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                   const char **args, struct store_list *out, char *err, size_t errlen);
/* A script whose reply takes more than one shape (MOPART: a number or the
 * parts): out->e[0] is the reply, whatever it is (an array: NESTED, in sub). */
int store_run_any(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                  const char **args, struct store_list *out, char *err, size_t errlen);

/* TRIGGER (KEYS and ARGV as store_lua.c says): *is_new 1 when this call made the
 * survey, 0 when the transaction had one already; id (cap bytes, at least
 * 33) its survey id. */
int store_trigger(struct store *s, int nkeys, const char **keys, int nargs, const char **args, int *is_new,
                  char *id, size_t cap, char *err, size_t errlen);

/* ACTIVE (KEYS active, last): the citizen's running survey, or when none
 * runs, when their last one ended. */
struct store_active {
	int running;              /* 1: id and fields say which survey runs */
	char *id;                 /* running: its id (owned) */
	struct store_list fields; /* running: its hash, name, value, name, value...
	                           * (empty: the survey finished just now) */
	long long ended_at;       /* not running: when their last survey ended (unix s; 0 = none noted) */
};
void store_active_clear(struct store_active *a);
int store_active(struct store *s, const char *k_active, const char *k_last, struct store_active *out, char *err,
                 size_t errlen);

/* ---- the asynchronous connection (store_async.c) ----
 * A second connection, on the event loop (hiredis async with the libevent
 * adapter), for the survey step's hot path. Commands issued during one pass
 * of the loop go out in one write (pipelined); their replies come back in
 * order. Scripts are loaded on connect before anything else. A reply lost
 * (the connection broke, or none within the timeout, 2 s) is reported as an
 * error (-EIO) and the command is never sent again: it may have run, and the
 * caller decides. */

/* Uses base for the asynchronous connection (made at the first command). */
void store_attach(struct store *s, struct event_base *base);

/* The typed asynchronous verbs (store_verbs.c). A verb returns 0, and then
 * calls cb exactly once, later (never from inside the call), with rc as
 * above and the result (valid only during the call); or it returns -EIO
 * (Redis cannot be reached now) or -ENOMEM, and never calls cb. */
typedef void (*store_int_cb)(void *arg, int rc, long long v, const char *err);
typedef void (*store_list_cb)(void *arg, int rc, const struct store_list *l, const char *err);
typedef void (*store_trigger_cb)(void *arg, int rc, int is_new, const char *id, const char *err);
typedef void (*store_active_cb)(void *arg, int rc, const struct store_active *a, const char *err);
int store_async_run_int(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                        const char **args, store_int_cb cb, void *arg);
int store_async_run_list(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                         const char **args, store_list_cb cb, void *arg);
int store_async_run_any(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                        const char **args, store_list_cb cb, void *arg);
int store_async_intv(struct store *s, int argc, const char **argv, store_int_cb cb, void *arg);
int store_async_listv(struct store *s, int argc, const char **argv, store_list_cb cb, void *arg);
/* A command whose reply takes more than one shape (SET ... GET: a string or
 * nil; SET, PING: a status): l->e[0] is the reply, as store_run_any gives it. */
int store_async_anyv(struct store *s, int argc, const char **argv, store_list_cb cb, void *arg);
int store_async_trigger(struct store *s, int nkeys, const char **keys, int nargs, const char **args,
                        store_trigger_cb cb, void *arg);
int store_async_active(struct store *s, const char *k_active, const char *k_last, store_active_cb cb, void *arg);

/* Commands sent whose reply has not come yet. */
size_t store_async_pending(const struct store *s);
/* fn(arg) after the reply that leaves no command pending (backpressure). */
void store_async_on_idle(struct store *s, void (*fn)(void *), void *arg);
/* Closes the asynchronous connection: every pending cb is called with an
 * error now (a shutdown). */
void store_async_close(struct store *s);

#endif
