/* archiver: SQLite writes off the event loop: one writer thread with its own
 * archive connection, one batch at a time, its outcome reported on the loop.
 * A slow disk or a WAL checkpoint then delays the archive, never SMPP. */
#ifndef HL_ARCHIVER_H
#define HL_ARCHIVER_H

#include <stddef.h>

#include <event2/event.h>

#include "archive.h"

struct archiver;

/* Runs on the writer thread with its connection: writes `job` (borrowed),
 * returns what the archive_put* call returned (>= 0, or < 0 with err). */
typedef int (*archiver_write_fn)(struct archive *a, void *job, char *err, size_t errlen);
/* Runs on the loop's thread once the write is over: rc and err are the write's;
 * the callee owns job again (frees it). */
typedef void (*archiver_done_fn)(void *arg, void *job, int rc, const char *err);

/* Opens its own connection to the SQLite file at path and starts the thread.
 * done(arg, ...) is called from base's loop. NULL with err filled. */
struct archiver *archiver_new(struct event_base *base, const char *path, archiver_done_fn done, void *arg,
                              char *err, size_t errlen);
/* Stops the thread (after the batch in hand, whose done is then called here)
 * and closes the connection. NULL is a no-op. */
void archiver_free(struct archiver *w);

/* Hands one batch to the thread: write(conn, job) there, then done on the
 * loop. Returns 0, or -EBUSY while a batch is in hand (nothing taken). */
int archiver_submit(struct archiver *w, archiver_write_fn write, void *job);
/* 1 while a batch is in hand (submitted, its done not called yet). */
int archiver_busy(const struct archiver *w);
/* Waits for the batch in hand, if any, and calls its done now (shutdown). */
void archiver_drain(struct archiver *w);

#endif
