/* test_archiver: the archive writer thread: writes run off the loop's thread
 * with their own connection, the loop keeps turning meanwhile, one batch at a
 * time (-EBUSY), the outcome comes back on the loop, drain and free finish
 * the batch in hand; a real write lands in SQLite. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "archiver.h"

struct job {
	int sleep_ms;          /* the write takes this long */
	int rc;                /* and returns this */
	pthread_t ran_on;      /* filled by the write */
	const struct archive_delivery *d;  /* a real write when set */
	int nd;
};

struct seen {
	int done;              /* done calls */
	int rc;
	char err[64];
	pthread_t done_on;
	struct job *job;
	int ticks;             /* timer ticks on the loop */
};

static pthread_t main_thread;

static int write_job(struct archive *a, void *arg, char *err, size_t errlen)
{
	struct job *j = arg;
	j->ran_on = pthread_self();
	if (j->sleep_ms) {
		struct timespec ts = {0, (long)j->sleep_ms * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (j->d)
		return archive_put_deliveries(a, j->d, j->nd, err, errlen);
	if (j->rc < 0)
		snprintf(err, errlen, "disk full");
	return j->rc;
}

static void on_done(void *arg, void *job, int rc, const char *err)
{
	struct seen *s = arg;
	s->done++;
	s->rc = rc;
	snprintf(s->err, sizeof s->err, "%s", err);
	s->done_on = pthread_self();
	s->job = job;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct seen *)arg)->ticks++;
}

/* Runs the loop until s->done reaches n (bounded: 3 s). */
static void run_until(struct event_base *base, struct seen *s, int n)
{
	for (int i = 0; i < 300 && s->done < n; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(s->done, n);
}

static void test_thread_busy_and_done(void **state)
{
	(void)state;
	char path[] = "/tmp/hailong-test-archiver-XXXXXX", db[64], err[256];
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof db, "%s/a.db", path);
	struct event_base *base = event_base_new();
	struct seen s;
	memset(&s, 0, sizeof s);
	struct archiver *w = archiver_new(base, db, on_done, &s, err, sizeof err);
	assert_non_null(w);
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, &s);
	struct timeval ten = {0, 10000};
	event_add(tick, &ten);

	/* a slow write: the loop keeps turning, a second batch waits its turn */
	struct job slow = {.sleep_ms = 200, .rc = 3}, other = {.rc = 1};
	assert_false(archiver_busy(w));
	assert_int_equal(archiver_submit(w, write_job, &slow), 0);
	assert_true(archiver_busy(w));
	assert_int_equal(archiver_submit(w, write_job, &other), -EBUSY);
	run_until(base, &s, 1);
	assert_true(s.ticks >= 5);  /* 200 ms of writing, the 10 ms timer went on */
	assert_false(pthread_equal(slow.ran_on, main_thread));
	assert_true(pthread_equal(s.done_on, main_thread));
	assert_ptr_equal(s.job, &slow);
	assert_int_equal(s.rc, 3);
	assert_false(archiver_busy(w));

	/* a failed write: its error comes back */
	struct job bad = {.rc = -EIO};
	assert_int_equal(archiver_submit(w, write_job, &bad), 0);
	run_until(base, &s, 2);
	assert_int_equal(s.rc, -EIO);
	assert_string_equal(s.err, "disk full");

	/* a real write, waited for (shutdown) */
	const struct archive_delivery d[] = {
		{"sim", "1A", "s1", 0, 1795000000, "delivered", 1795000005},
		{"sim", "1B", NULL, -1, 1795000001, "expired", 1795000100},
	};
	struct job real = {.d = d, .nd = 2};
	assert_int_equal(archiver_submit(w, write_job, &real), 0);
	archiver_drain(w);
	assert_int_equal(s.done, 3);
	assert_int_equal(s.rc, 2);
	/* the same again: a message already recorded keeps its first state */
	struct job again = {.d = d, .nd = 2};
	assert_int_equal(archiver_submit(w, write_job, &again), 0);
	archiver_drain(w);
	assert_int_equal(s.rc, 0);

	/* freed with a batch in hand: it is written, and its done called */
	struct job last = {.sleep_ms = 50, .rc = 5};
	assert_int_equal(archiver_submit(w, write_job, &last), 0);
	archiver_free(w);
	assert_int_equal(s.done, 5);
	assert_int_equal(s.rc, 5);
	assert_ptr_equal(s.job, &last);

	event_free(tick);
	event_base_free(base);
	char cmd[96];
	snprintf(cmd, sizeof cmd, "rm -rf %s", path);
	assert_int_equal(system(cmd), 0);
}

static void test_open_fails(void **state)
{
	(void)state;
	char err[256] = "";
	struct event_base *base = event_base_new();
	struct seen s;
	memset(&s, 0, sizeof s);
	struct archiver *w = archiver_new(base, "/nonexistent-dir/x/a.db", on_done, &s, err, sizeof err);
	assert_null(w);
	assert_true(strlen(err) > 0);
	archiver_free(NULL);
	event_base_free(base);
}

int main(void)
{
	main_thread = pthread_self();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_busy_and_done),
		cmocka_unit_test(test_open_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
