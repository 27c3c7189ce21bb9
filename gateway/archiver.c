/* archiver: the archive's writer thread (its own SQLite connection), one batch at a time. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver.h"

struct archiver {
	struct archive *conn;        /* the thread's own connection */
	struct event *wake;          /* on the loop: the thread finished a batch */
	int pipe_r, pipe_w;          /* the thread writes a byte, the loop reads it */
	archiver_done_fn done;
	void *arg;
	pthread_t thread;
	int started;                 /* the thread runs (join it) */
	pthread_mutex_t mu;          /* guards what follows */
	pthread_cond_t work;         /* a batch came, or quit */
	pthread_cond_t fin;          /* a batch is written */
	void *job;                   /* the batch in hand, NULL = none */
	archiver_write_fn write;
	int finished;                /* job written; rc and err hold the outcome */
	int rc;
	char err[256];
	int quit;
};

static void *archiver_main(void *arg)
{
	struct archiver *w = arg;
	/* rollups of another zone (the config's timezone changed): counted again
	 * here, off the loop, before the first batch rather than in it, so that
	 * the dashboard reads them in the new zone without waiting for a survey */
	archive_rollup_sync(w->conn, NULL, 0);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->quit && !(w->job && !w->finished))
			pthread_cond_wait(&w->work, &w->mu);
		if (w->job && !w->finished) {
			void *job = w->job;
			archiver_write_fn fn = w->write;
			pthread_mutex_unlock(&w->mu);
			char err[256] = "";
			int rc = fn(w->conn, job, err, sizeof err);
			pthread_mutex_lock(&w->mu);
			w->rc = rc;
			memcpy(w->err, err, sizeof err);
			w->finished = 1;
			pthread_cond_broadcast(&w->fin);
			ssize_t n = write(w->pipe_w, "x", 1); /* a full pipe already says so */
			(void)n;
			continue;
		}
		break; /* quit, nothing in hand */
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* On the loop: the batch's outcome to its owner, if it is written. */
static void archiver_complete(struct archiver *w)
{
	pthread_mutex_lock(&w->mu);
	if (!w->job || !w->finished) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	void *job = w->job;
	int rc = w->rc;
	char err[256];
	memcpy(err, w->err, sizeof err);
	w->job = NULL;
	w->finished = 0;
	pthread_mutex_unlock(&w->mu);
	w->done(w->arg, job, rc, err);
}

static void archiver_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	char b[64];
	while (read(fd, b, sizeof b) > 0)
		;
	archiver_complete(arg);
}

struct archiver *archiver_new(struct event_base *base, const char *path, archiver_done_fn done, void *arg,
                              char *err, size_t errlen)
{
	struct archiver *w = calloc(1, sizeof *w);
	int fds[2] = {-1, -1};
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->pipe_r = w->pipe_w = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->fin, NULL);
	w->done = done;
	w->arg = arg;
	w->conn = archive_open(path, err, errlen);
	if (!w->conn)
		goto fail;
	if (pipe(fds) < 0) {
		snprintf(err, errlen, "archiver pipe: %s", strerror(errno));
		goto fail;
	}
	w->pipe_r = fds[0];
	w->pipe_w = fds[1];
	for (int i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "archiver pipe: %s", strerror(errno));
			goto fail;
		}
	}
	w->wake = event_new(base, w->pipe_r, EV_READ | EV_PERSIST, archiver_wake_cb, w);
	if (!w->wake || event_add(w->wake, NULL) < 0) {
		snprintf(err, errlen, "archiver event: out of memory");
		goto fail;
	}
	int rc = pthread_create(&w->thread, NULL, archiver_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "archiver thread: %s", strerror(rc));
		goto fail;
	}
	w->started = 1;
	return w;
fail:
	archiver_free(w);
	return NULL;
}

void archiver_free(struct archiver *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->quit = 1;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL); /* after the batch in hand */
		archiver_complete(w);
	}
	if (w->wake)
		event_free(w->wake);
	if (w->pipe_r >= 0)
		close(w->pipe_r);
	if (w->pipe_w >= 0)
		close(w->pipe_w);
	archive_close(w->conn);
	pthread_cond_destroy(&w->fin);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int archiver_submit(struct archiver *w, archiver_write_fn write, void *job)
{
	pthread_mutex_lock(&w->mu);
	if (w->job) {
		pthread_mutex_unlock(&w->mu);
		return -EBUSY;
	}
	w->job = job;
	w->write = write;
	w->finished = 0;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int archiver_busy(const struct archiver *w)
{
	/* the loop is the only writer of job's presence, so its own read needs no lock */
	return w->job != NULL;
}

void archiver_drain(struct archiver *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->job && !w->finished)
		pthread_cond_wait(&w->fin, &w->mu);
	pthread_mutex_unlock(&w->mu);
	archiver_complete(w);
}
