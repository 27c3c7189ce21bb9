/* test_store: gateway/store.c against a real redis-server on 127.0.0.1 (a free
 * port, a temporary directory): the connection's promises (a dead connection
 * made again, a command whose reply was lost never sent again) and the
 * scripts, one table each (TAKE/PUTBACK and sq, COMMIT and its version, the
 * end noted in hl:last and read by ACTIVE, REAP). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int port;
static pid_t redis_pid = -1;
static char dir[64];
static char url[64];

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

static void redis_start(void)
{
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	redis_pid = fork();
	assert_true(redis_pid >= 0);
	if (redis_pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--dir", dir,
		       "--save", "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	/* up when a PING answers (bounded: 5 s) */
	struct store *s = store_new(url, NULL, 0);
	assert_non_null(s);
	int up = 0;
	for (int i = 0; i < 100 && !up; i++) {
		up = store_ping(s);
		if (!up)
			sleep_ms(50);
	}
	store_free(s);
	assert_true(up);
}

static void redis_stop(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/hailong-test-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	port = free_port();
	if (port <= 0)
		return -1;
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
	redis_start();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	redis_stop();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A string reply's text (or "" for nil), as a static copy; fails on an error. */
static const char *cmd_str(struct store *s, const char *fmt, const char *a, const char *b)
{
	static char out[4096];
	char err[256];
	redisReply *r = store_cmd(s, err, sizeof err, fmt, a, b);
	if (!r)
		fail_msg("%s: %s", fmt, err);
	out[0] = '\0';
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		snprintf(out, sizeof out, "%s", r->str);
	else if (r->type == REDIS_REPLY_INTEGER)
		snprintf(out, sizeof out, "%lld", r->integer);
	freeReplyObject(r);
	return out;
}

static long long script_int(struct store *s, enum store_script w, int nk, const char **k, int na, const char **a)
{
	char err[256];
	redisReply *r = store_script(s, w, nk, k, na, a, err, sizeof err);
	if (!r)
		fail_msg("script %d: %s", (int)w, err);
	long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
	freeReplyObject(r);
	return v;
}

static void flush(struct store *s)
{
	assert_string_equal(cmd_str(s, "FLUSHALL", NULL, NULL), "OK");
}

/* ---- the connection ---- */

static void test_counts_and_restart(void **state)
{
	(void)state;
	char err[256];
	struct store *s = store_new(url, err, sizeof err);
	assert_non_null(s);
	flush(s);
	unsigned long long c0 = store_commands(s);
	assert_string_equal(cmd_str(s, "SET k %s", "v", NULL), "OK");
	assert_string_equal(cmd_str(s, "GET k", NULL, NULL), "v");
	assert_int_equal(store_commands(s) - c0, 2);
	unsigned long conns = store_connects(s);
	/* Redis restarted: the dead connection is found before the next
	 * command is written, and the command simply runs on a new one */
	redis_stop();
	redis_start();
	assert_string_equal(cmd_str(s, "SET k %s", "w", NULL), "OK");
	assert_int_equal(store_connects(s), conns + 1);
	/* Redis away: an error, at once, not a crash */
	redis_stop();
	redisReply *r = store_cmd(s, err, sizeof err, "GET k");
	assert_null(r);
	assert_true(strlen(err) > 0);
	redis_start();
	int up = 0;
	for (int i = 0; i < 40 && !up; i++) {  /* the store waits 250 ms after a failed connect */
		up = store_ping(s);
		if (!up)
			sleep_ms(50);
	}
	assert_true(up);
	store_free(s);
}

static void *killer(void *arg)
{
	(void)arg;
	sleep_ms(300);
	struct store *k = store_new(url, NULL, 0);
	char err[256];
	redisReply *r = store_cmd(k, err, sizeof err, "CLIENT KILL TYPE normal SKIPME yes");
	if (r)
		freeReplyObject(r);
	r = store_cmd(k, err, sizeof err, "CLIENT UNPAUSE");
	if (r)
		freeReplyObject(r);
	store_free(k);
	return NULL;
}

/* A command whose reply is lost (the connection is cut while it waits) is
 * reported, and not sent again: had it been, it would have run once the
 * pause ended. */
static void test_reply_lost_not_sent_again(void **state)
{
	(void)state;
	char err[256];
	struct store *s = store_new(url, err, sizeof err);
	struct store *p = store_new(url, err, sizeof err);
	flush(s);
	assert_string_equal(cmd_str(p, "CLIENT PAUSE 1500 WRITE", NULL, NULL), "OK");
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, killer, NULL), 0);
	redisReply *r = store_cmd(s, err, sizeof err, "INCR n");
	pthread_join(t, NULL);
	assert_null(r);
	assert_non_null(strstr(err, "reply lost"));
	sleep_ms(100);
	assert_string_equal(cmd_str(s, "GET n", NULL, NULL), "");  /* it never ran */
	assert_string_equal(cmd_str(s, "INCR n", NULL, NULL), "1");
	store_free(p);
	store_free(s);
}

/* ---- scripts ---- */

/* TAKE hands out messages in order and raises sq for an item; an item its
 * survey moved past is dropped; PUTBACK gives back what did not leave and
 * lowers sq again. */
static void test_take_putback(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	/* survey A waits on item 2 (sq 1); survey B moved on to item 3 */
	cmd_str(s, "HSET hl:s:A q 2 sq 1", NULL, NULL);
	cmd_str(s, "HSET hl:s:B q 3", NULL, NULL);
	static const char *const entries[] = {
		"{\"s\":\"A\",\"q\":2,\"to\":\"84900000001\",\"text\":\"Q2\",\"u\":\"1\"}",
		"{\"s\":\"B\",\"q\":2,\"to\":\"84900000002\",\"text\":\"old\",\"u\":\"2\"}",
		"{\"s\":\"\",\"to\":\"84900000003\",\"text\":\"notice\",\"u\":\"3\"}",
	};
	for (size_t i = 0; i < N(entries); i++)
		cmd_str(s, "RPUSH hl:outbox:x %s", entries[i], NULL);
	const char *keys[] = {"hl:outbox:x", "hl:sending:x:i1"};
	const char *args[] = {"10"};
	char err[256];
	redisReply *r = store_script(s, STORE_TAKE, 2, keys, 1, args, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 9);
	static const struct {
		long long keep;
		const char *prev;
	} want[] = {{1, "1"}, {0, ""}, {1, ""}};
	for (size_t i = 0; i < N(want); i++) {
		assert_int_equal(r->element[3 * i]->integer, want[i].keep);
		assert_string_equal(r->element[3 * i + 1]->str, entries[i]);
		assert_string_equal(r->element[3 * i + 2]->str, want[i].prev);
	}
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "HGET hl:s:A sq", NULL, NULL), "2");
	assert_string_equal(cmd_str(s, "LLEN hl:sending:x:i1", NULL, NULL), "2");
	assert_string_equal(cmd_str(s, "LLEN hl:outbox:x", NULL, NULL), "0");
	/* the session could not take them: back at the head, in order, sq back to 1 */
	const char *pb[] = {entries[0], "1", entries[2], ""};
	const char *pkeys[] = {"hl:sending:x:i1", "hl:outbox:x"};
	assert_int_equal(script_int(s, STORE_PUTBACK, 2, pkeys, 4, pb), 2);
	assert_string_equal(cmd_str(s, "HGET hl:s:A sq", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LINDEX hl:outbox:x 0", NULL, NULL), entries[0]);
	assert_string_equal(cmd_str(s, "LINDEX hl:outbox:x 1", NULL, NULL), entries[2]);
	/* run twice (its reply was lost): nothing more moves */
	assert_int_equal(script_int(s, STORE_PUTBACK, 2, pkeys, 4, pb), 0);
	assert_string_equal(cmd_str(s, "LLEN hl:outbox:x", NULL, NULL), "2");
	store_free(s);
}

/* COMMIT against the version it read: a stale one changes nothing; a final
 * step archives, frees the citizen (their next survey queued) and notes the
 * end in hl:last, which ACTIVE then returns. */
static void test_commit_versions_and_end(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "HSET hl:s:A ver 3 q 1", NULL, NULL);
	cmd_str(s, "SET hl:active:849 A", NULL, NULL);
	cmd_str(s, "SET hl:last:849 1000", NULL, NULL);
	cmd_str(s, "RPUSH hl:wait:849 B", NULL, NULL);
	const char *keys[] = {"hl:s:A", "hl:active:849", "hl:wait:849", "hl:queue", "hl:archive", "hl:due",
	                      "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout",
	                      "hl:last:849"};
	static const struct {
		const char *what, *ver, *finished;
		long long want;
		const char *ver_after, *outbox_len;
	} t[] = {
		{"stale version", "2", "0", 0, "3", "0"},
		{"current version", "3", "0", 1, "4", "1"},
		{"the same read again", "3", "0", 0, "4", "1"},
		{"any version", "", "0", 1, "5", "2"},
	};
	for (size_t i = 0; i < N(t); i++) {
		const char *args[] = {"A", t[i].ver, t[i].finished, "2000", "", "", "0", "1500", "1", "{\"m\":1}",
		                      "q", "2"};
		long long got = script_int(s, STORE_COMMIT, 12, keys, (int)N(args), args);
		if (got != t[i].want)
			fail_msg("%s: got %lld want %lld", t[i].what, got, t[i].want);
		assert_string_equal(cmd_str(s, "HGET hl:s:A ver", NULL, NULL), t[i].ver_after);
		assert_string_equal(cmd_str(s, "LLEN hl:outbox:x", NULL, NULL), t[i].outbox_len);
	}
	assert_string_equal(cmd_str(s, "ZSCORE hl:due A", NULL, NULL), "2000");
	/* ACTIVE while it runs: {id, hash} */
	const char *akeys[] = {"hl:active:849", "hl:last:849"};
	char err[256];
	redisReply *r = store_script(s, STORE_ACTIVE, 2, akeys, 0, NULL, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_string_equal(r->element[0]->str, "A");
	freeReplyObject(r);
	/* the final step at 1700 */
	const char *fin[] = {"A", "5", "1", "0", "{\"archived\":1}", "", "0", "1700", "1", "{\"thanks\":1}"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, keys, (int)N(fin), fin), 1);
	assert_string_equal(cmd_str(s, "EXISTS hl:s:A", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "GET hl:active:849", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "LINDEX hl:queue 0", NULL, NULL), "B");
	assert_string_equal(cmd_str(s, "LINDEX hl:archive 0", NULL, NULL), "{\"archived\":1}");
	assert_string_equal(cmd_str(s, "GET hl:last:849", NULL, NULL), "1000:1700");
	assert_string_equal(cmd_str(s, "ZSCORE hl:due A", NULL, NULL), "");
	/* no survey now: ACTIVE gives the second it ended */
	assert_int_equal(script_int(s, STORE_ACTIVE, 2, akeys, 0, NULL), 1700);
	const char *nokeys[] = {"hl:active:000", "hl:last:000"};
	assert_int_equal(script_int(s, STORE_ACTIVE, 2, nokeys, 0, NULL), 0);
	/* CLAIM still reads the start for resurvey_after: 1000 + 600 > 1500 */
	cmd_str(s, "HSET hl:s:C status queued", NULL, NULL);
	const char *ckeys[] = {"hl:active:849", "hl:wait:849", "hl:starting:i1", "hl:s:C", "hl:optout",
	                       "hl:last:849", "hl:queue", "hl:optout:ready:i1"};
	/* Redis without our opt-outs (came back empty): -2, nothing changed */
	const char *cargs[] = {"C", "849", "1500", "600", "100", "h849"};
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs), -2);
	assert_string_equal(cmd_str(s, "GET hl:active:849", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "GET hl:last:849", NULL, NULL), "1000:1700");
	cmd_str(s, "SET hl:optout:ready:i1 1", NULL, NULL);
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs), 3);
	/* the opt-out set holds keyed hashes: the hash refuses, the number is not looked at */
	cmd_str(s, "SADD hl:optout h849", NULL, NULL);
	const char *cargs2[] = {"C", "849", "1700", "600", "100", "h849"};
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs2), 2);
	cmd_str(s, "SREM hl:optout h849", NULL, NULL);
	cmd_str(s, "SADD hl:optout 849", NULL, NULL);
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs2), 1);
	assert_string_equal(cmd_str(s, "GET hl:last:849", NULL, NULL), "1700");
	/* UNCLAIM: back to the head of the queue, off our starting list */
	cmd_str(s, "RPUSH hl:starting:i1 C", NULL, NULL);
	cmd_str(s, "RPUSH hl:queue D", NULL, NULL);
	const char *ukeys[] = {"hl:starting:i1", "hl:queue"};
	const char *uargs[] = {"C"};
	assert_int_equal(script_int(s, STORE_UNCLAIM, 2, ukeys, 1, uargs), 1);
	assert_string_equal(cmd_str(s, "LINDEX hl:queue 0", NULL, NULL), "C");
	assert_string_equal(cmd_str(s, "LLEN hl:starting:i1", NULL, NULL), "0");
	/* NOTICE with an opt-out: the hash, and a record for the archive once */
	const char *nkeys[] = {"hl:orphan:stop:849", "hl:outbox:x", "hl:optout", "hl:archive"};
	const char *nargs[] = {"86400", "{\"m\":2}", "h850", "{\"optout\":\"h850\"}"};
	cmd_str(s, "DEL hl:archive", NULL, NULL);
	assert_int_equal(script_int(s, STORE_NOTICE, 4, nkeys, 4, nargs), 1);
	assert_int_equal(script_int(s, STORE_NOTICE, 4, nkeys, 4, nargs), 0);
	assert_string_equal(cmd_str(s, "SISMEMBER hl:optout h850", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LLEN hl:archive", NULL, NULL), "1");
	store_free(s);
}

/* REAP: a live instance is left alone; a dead one's lists go back in line. */
static void test_reap(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "SADD hl:instances i2", NULL, NULL);
	cmd_str(s, "SET hl:inst:i2 1 EX 100", NULL, NULL);
	cmd_str(s, "RPUSH hl:starting:i2 S1", NULL, NULL);
	cmd_str(s, "RPUSH hl:archiving:i2 R1", NULL, NULL);
	cmd_str(s, "RPUSH hl:sending:x:i2 M1 M2", NULL, NULL);
	cmd_str(s, "RPUSH hl:outbox:x M3", NULL, NULL);
	const char *keys[] = {"hl:inst:i2", "hl:instances", "hl:starting:i2", "hl:queue", "hl:archiving:i2",
	                      "hl:archive", "hl:sending:x:i2", "hl:outbox:x"};
	static const struct {
		const char *what, *force;
		int lease;
		long long want;
	} t[] = {
		{"alive", "0", 1, -1},
		{"lease gone", "0", 0, 4},
		{"again: nothing left", "0", 0, 0},
	};
	for (size_t i = 0; i < N(t); i++) {
		if (!t[i].lease)
			cmd_str(s, "DEL hl:inst:i2", NULL, NULL);
		const char *args[] = {"i2", t[i].force};
		long long got = script_int(s, STORE_REAP, (int)N(keys), keys, 2, args);
		if (got != t[i].want)
			fail_msg("%s: got %lld want %lld", t[i].what, got, t[i].want);
	}
	assert_string_equal(cmd_str(s, "LINDEX hl:queue 0", NULL, NULL), "S1");
	assert_string_equal(cmd_str(s, "LINDEX hl:archive 0", NULL, NULL), "R1");
	/* in order, ahead of what was waiting */
	assert_string_equal(cmd_str(s, "LINDEX hl:outbox:x 0", NULL, NULL), "M1");
	assert_string_equal(cmd_str(s, "LINDEX hl:outbox:x 1", NULL, NULL), "M2");
	assert_string_equal(cmd_str(s, "LINDEX hl:outbox:x 2", NULL, NULL), "M3");
	assert_string_equal(cmd_str(s, "SISMEMBER hl:instances i2", NULL, NULL), "0");
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_restart),
		cmocka_unit_test(test_reply_lost_not_sent_again),
		cmocka_unit_test(test_take_putback),
		cmocka_unit_test(test_commit_versions_and_end),
		cmocka_unit_test(test_reap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
