/* test_store: gateway/store.c against a real redis-server on 127.0.0.1 (a free
 * port, a temporary directory): the connection's promises (a dead connection
 * made again, a command whose reply was lost never sent again) and the
 * scripts, one table each (TAKE/PUTBACK and sq, COMMIT and its version, the
 * end noted in hl:c (the older hl:active and hl:last folded in) and read by ACTIVE, REAP and its unsend, SENT with
 * receipts, POP, TRIGGER/TXGET with derived ids, a running survey in its
 * citizen's hash from START to its end (and one of the previous layout in
 * hl:s:{id}), DUE_CLAIM), and the asynchronous connection (pipelined order, scripts
 * after a script cache flush, a lost reply reported once and not sent again,
 * an unreachable Redis). */
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
#include <event2/event.h>

#include "store_raw.h"

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
	cmd_str(s, "HSET hl:s:A q 2 sq 1 l 1000", NULL, NULL);
	cmd_str(s, "HSET hl:s:B q 3 l 1000", NULL, NULL);
	static const char *const entries[] = {
		"{\"s\":\"A\",\"q\":2,\"to\":\"84900000001\",\"text\":\"Q2\",\"u\":\"1\"}",
		"{\"s\":\"B\",\"q\":2,\"to\":\"84900000002\",\"text\":\"old\",\"u\":\"2\"}",
		"{\"s\":\"\",\"to\":\"84900000003\",\"text\":\"notice\",\"u\":\"3\"}",
	};
	for (size_t i = 0; i < N(entries); i++)
		cmd_str(s, "RPUSH hl:outbox:x %s", entries[i], NULL);
	const char *keys[] = {"hl:outbox:x", "hl:sending:x:i1"};
	const char *args[] = {"10", "2000"};
	char err[256];
	redisReply *r = store_script(s, STORE_TAKE, 2, keys, 2, args, err, sizeof err);
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
	/* the item left now: its reminder counts from now; B's (dropped) not */
	assert_string_equal(cmd_str(s, "HGET hl:s:A l", NULL, NULL), "2000");
	assert_string_equal(cmd_str(s, "HGET hl:s:B l", NULL, NULL), "1000");
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
 * end in the citizen's hash hl:c (made from an older version's hl:active and
 * hl:last), which ACTIVE then returns. */
static void test_commit_versions_and_end(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "HSET hl:s:A ver 3 q 1", NULL, NULL);
	cmd_str(s, "SET hl:active:849 A", NULL, NULL);
	cmd_str(s, "SET hl:last:849 1000 EX 5000", NULL, NULL); /* written by an older version */
	cmd_str(s, "RPUSH hl:wait:849 B", NULL, NULL);
	const char *keys[] = {"hl:s:A", "hl:c:849", "hl:wait:849", "hl:queue", "hl:archive", "hl:due",
	                      "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout",
	                      "hl:c:849"};
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
	/* its timer: the field "d" and the list of that second, indexed */
	assert_string_equal(cmd_str(s, "HGET hl:s:A d", NULL, NULL), "2000");
	assert_string_equal(cmd_str(s, "LRANGE hl:due:2000 0 -1", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "LLEN hl:due:2000", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "ZSCORE hl:dueb hl:due:2000", NULL, NULL), "2000");
	assert_string_equal(cmd_str(s, "GET hl:ndue", NULL, NULL), "1");
	/* the older layout's two keys were folded into the citizen's hash, TTL kept */
	assert_string_equal(cmd_str(s, "EXISTS hl:active:849 hl:last:849", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HGET hl:c:849 a", NULL, NULL), "A");
	assert_string_equal(cmd_str(s, "HGET hl:c:849 l", NULL, NULL), "1000");
	long long ttl = atoll(cmd_str(s, "TTL hl:c:849", NULL, NULL));
	if (ttl < 4000 || ttl > 5000)
		fail_msg("TTL %lld", ttl);
	/* a field given "" is deleted (a counter back at 0, "active": record.c) */
	cmd_str(s, "HSET hl:s:A i 2 st waiting", NULL, NULL);
	const char *zargs[] = {"A", "5", "0", "2000", "", "", "0", "1500", "0", "i", "", "st", "", "q", "3"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, keys, (int)N(zargs), zargs), 1);
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:A i", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:A st", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HGET hl:s:A q", NULL, NULL), "3");
	/* a hash written with the long names (record.c reads "invalid" when "i"
	 * is missing): a counter back at 0 deletes both, else it would read as
	 * the long name's old value */
	cmd_str(s, "HSET hl:s:A invalid 1 reminded 1 status active", NULL, NULL);
	const char *largs[] = {"A", "6", "0", "2000", "", "", "0", "1500", "0", "i", "", "r", "", "st", "", "q", "3"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, keys, (int)N(largs), largs), 1);
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:A invalid", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:A reminded", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:A status", NULL, NULL), "0");
	/* ACTIVE while it runs: {id, hash} */
	const char *akeys[] = {"hl:c:849", "hl:c:849"};
	char err[256];
	redisReply *r = store_script(s, STORE_ACTIVE, 2, akeys, 0, NULL, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_string_equal(r->element[0]->str, "A");
	freeReplyObject(r);
	/* the final step at 1700 */
	const char *fin[] = {"A", "7", "1", "0", "{\"archived\":1}", "", "0", "1700", "1", "{\"thanks\":1}"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, keys, (int)N(fin), fin), 1);
	assert_string_equal(cmd_str(s, "EXISTS hl:s:A", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HGET hl:c:849 a", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "LINDEX hl:queue 0", NULL, NULL), "B");
	assert_string_equal(cmd_str(s, "LINDEX hl:archive 0", NULL, NULL), "{\"archived\":1}");
	assert_string_equal(cmd_str(s, "HGET hl:c:849 l", NULL, NULL), "1000:1700");
	assert_string_equal(cmd_str(s, "GET hl:ndue", NULL, NULL), "0");
	/* no survey now: ACTIVE gives the second it ended */
	assert_int_equal(script_int(s, STORE_ACTIVE, 2, akeys, 0, NULL), 1700);
	const char *nokeys[] = {"hl:c:000", "hl:c:000"};
	assert_int_equal(script_int(s, STORE_ACTIVE, 2, nokeys, 0, NULL), 0);
	/* CLAIM still reads the start for resurvey_after: 1000 + 600 > 1500 */
	cmd_str(s, "HSET hl:s:C status queued", NULL, NULL);
	const char *ckeys[] = {"hl:c:849", "hl:wait:849", "hl:starting:i1", "hl:s:C", "hl:optout",
	                       "hl:c:849", "hl:queue", "hl:optout:ready:i1"};
	/* Redis without our opt-outs (came back empty): -2, nothing changed */
	const char *cargs[] = {"C", "849", "1500", "600", "100", "h849"};
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs), -2);
	assert_string_equal(cmd_str(s, "HGET hl:c:849 a", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "HGET hl:c:849 l", NULL, NULL), "1000:1700");
	cmd_str(s, "SET hl:optout:ready:i1 1", NULL, NULL);
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs), 3);
	/* the opt-out set holds keyed hashes: the hash refuses, the number is not looked at */
	cmd_str(s, "SADD hl:optout h849", NULL, NULL);
	const char *cargs2[] = {"C", "849", "1700", "600", "100", "h849"};
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs2), 2);
	cmd_str(s, "SREM hl:optout h849", NULL, NULL);
	cmd_str(s, "SADD hl:optout 849", NULL, NULL);
	assert_int_equal(script_int(s, STORE_CLAIM, 8, ckeys, 6, cargs2), 1);
	assert_string_equal(cmd_str(s, "HGET hl:c:849 l", NULL, NULL), "1700");
	assert_string_equal(cmd_str(s, "HGET hl:c:849 a", NULL, NULL), "C");
	assert_string_equal(cmd_str(s, "TTL hl:c:849", NULL, NULL), "100");
	/* the older layout met first by ACTIVE (no survey, an end noted) ... */
	cmd_str(s, "SET hl:last:852 1000:1800 EX 300", NULL, NULL);
	const char *okeys[] = {"hl:c:852", "hl:c:852"};
	assert_int_equal(script_int(s, STORE_ACTIVE, 2, okeys, 0, NULL), 1800);
	assert_string_equal(cmd_str(s, "EXISTS hl:last:852", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HGET hl:c:852 l", NULL, NULL), "1000:1800");
	ttl = atoll(cmd_str(s, "TTL hl:c:852", NULL, NULL));
	if (ttl < 200 || ttl > 300)
		fail_msg("TTL %lld", ttl);
	/* ... and by CLAIM (a survey running: the new one waits behind it) */
	cmd_str(s, "SET hl:active:853 Z", NULL, NULL);
	const char *c3keys[] = {"hl:c:853", "hl:wait:853", "hl:starting:i1", "hl:s:C", "hl:optout",
	                        "hl:c:853", "hl:queue", "hl:optout:ready:i1"};
	const char *c3args[] = {"C", "853", "1800", "0", "100", "h853"};
	assert_int_equal(script_int(s, STORE_CLAIM, 8, c3keys, 6, c3args), 0);
	assert_string_equal(cmd_str(s, "HGET hl:c:853 a", NULL, NULL), "Z");
	assert_string_equal(cmd_str(s, "LINDEX hl:wait:853 0", NULL, NULL), "C");
	assert_string_equal(cmd_str(s, "EXISTS hl:active:853", NULL, NULL), "0");
	/* UNCLAIM: back to the head of the queue, off our starting list */
	cmd_str(s, "RPUSH hl:starting:i1 C", NULL, NULL);
	cmd_str(s, "RPUSH hl:queue D", NULL, NULL);
	const char *ukeys[] = {"hl:starting:i1", "hl:queue"};
	const char *uargs[] = {"C"};
	assert_int_equal(script_int(s, STORE_UNCLAIM, 2, ukeys, 1, uargs), 1);
	assert_string_equal(cmd_str(s, "LINDEX hl:queue 0", NULL, NULL), "C");
	assert_string_equal(cmd_str(s, "LLEN hl:starting:i1", NULL, NULL), "0");
	/* not on our starting list (its START ran after all): left alone */
	char qlen[16];
	snprintf(qlen, sizeof qlen, "%s", cmd_str(s, "LLEN hl:queue", NULL, NULL));
	assert_int_equal(script_int(s, STORE_UNCLAIM, 2, ukeys, 1, uargs), 0);
	assert_string_equal(cmd_str(s, "LLEN hl:queue", NULL, NULL), qlen);
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

/* REAP puts back an item a COMMIT sent at once ("p": sq before) and lowers
 * sq again, unless the survey moved past it. */
static void test_reap_unsend(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "SADD hl:instances i3", NULL, NULL);
	cmd_str(s, "HSET hl:s:S1 sq 2", NULL, NULL);
	cmd_str(s, "HSET hl:s:S2 sq 0", NULL, NULL);
	cmd_str(s, "HSET hl:s:S3 sq 3", NULL, NULL);
	cmd_str(s, "RPUSH hl:sending:x:i3 %s", "{\"s\":\"S1\",\"q\":2,\"p\":1}", NULL);
	cmd_str(s, "RPUSH hl:sending:x:i3 %s", "{\"s\":\"S2\",\"q\":0,\"p\":-1}", NULL);
	cmd_str(s, "RPUSH hl:sending:x:i3 %s", "{\"s\":\"S3\",\"q\":2,\"p\":1}", NULL);
	cmd_str(s, "RPUSH hl:sending:x:i3 %s", "not json", NULL);
	const char *keys[] = {"hl:inst:i3", "hl:instances", "hl:starting:i3", "hl:queue", "hl:archiving:i3",
	                      "hl:archive", "hl:sending:x:i3", "hl:outbox:x"};
	const char *args[] = {"i3", "0"};
	assert_int_equal(script_int(s, STORE_REAP, (int)N(keys), keys, 2, args), 4);
	/* uq: the item whose fate the crash left unknown (gw_mo_judge) */
	static const struct {
		const char *what, *key, *want, *uq;
	} t[] = {
		{"sent at once, sq back", "hl:s:S1", "1", "2"},
		{"first item, sq gone", "hl:s:S2", "", "0"},
		{"survey moved on, left alone", "hl:s:S3", "3", ""},
	};
	for (size_t i = 0; i < N(t); i++) {
		const char *got = cmd_str(s, "HGET %s sq", t[i].key, NULL);
		if (strcmp(got, t[i].want) != 0)
			fail_msg("%s: sq %s, want %s", t[i].what, got, t[i].want);
		got = cmd_str(s, "HGET %s uq", t[i].key, NULL);
		if (strcmp(got, t[i].uq) != 0)
			fail_msg("%s: uq %s, want %s", t[i].what, got, t[i].uq);
	}
	assert_string_equal(cmd_str(s, "LLEN hl:outbox:x", NULL, NULL), "4");
	store_free(s);
}

/* An item TAKE moved from the outbox, raising sq ("tp" keeps what it was),
 * that is given back unsent (GIVEBACK: its hand-over failed; REAP: its
 * gateway died) has sq lowered again like one a COMMIT sent at once; a
 * later copy of an item that did leave (a reminder) raises nothing, and
 * giving it back lowers nothing. */
static void test_take_unsend(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "SADD hl:instances i4", NULL, NULL);
	cmd_str(s, "HSET hl:s:C q 2 sq 1", NULL, NULL); /* item 2 goes out */
	cmd_str(s, "HSET hl:s:D q 2 sq 2", NULL, NULL); /* item 2 left: its reminder goes out */
	cmd_str(s, "HSET hl:s:E q 0", NULL, NULL);      /* the first item goes out */
	static const char *const entries[] = {
		"{\"s\":\"C\",\"q\":2,\"to\":\"84900000001\",\"text\":\"Q2\",\"u\":\"c\"}",
		"{\"s\":\"D\",\"q\":2,\"to\":\"84900000002\",\"text\":\"Q2 again\",\"u\":\"d\"}",
		"{\"s\":\"E\",\"q\":0,\"to\":\"84900000003\",\"text\":\"Q1\",\"u\":\"e\"}",
	};
	for (size_t i = 0; i < N(entries); i++)
		cmd_str(s, "RPUSH hl:outbox:x %s", entries[i], NULL);
	const char *tk[] = {"hl:outbox:x", "hl:sending:x:i4"};
	const char *ta[] = {"10", "2000"};
	char err[256];
	redisReply *r = store_script(s, STORE_TAKE, 2, tk, 2, ta, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->elements, 9);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "HGET hl:s:C tp", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "HGET hl:s:D tp", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "HGET hl:s:E tp", NULL, NULL), "-1");
	/* C's hand-over failed half-way: the sweep gives it back */
	const char *gk[] = {"hl:sending:x:i4", "hl:outbox:x"};
	const char *ga[] = {entries[0]};
	assert_int_equal(script_int(s, STORE_GIVEBACK, 2, gk, 1, ga), 1);
	/* the gateway died with D's and E's: REAP */
	cmd_str(s, "DEL hl:inst:i4", NULL, NULL);
	const char *rk[] = {"hl:inst:i4", "hl:instances", "hl:starting:i4", "hl:queue", "hl:archiving:i4",
	                    "hl:archive", "hl:sending:x:i4", "hl:outbox:x"};
	const char *ra[] = {"i4", "0"};
	assert_int_equal(script_int(s, STORE_REAP, (int)N(rk), rk, 2, ra), 2);
	static const struct {
		const char *what, *key, *sq, *uq;
	} t[] = {
		{"taken, given back: sq back", "hl:s:C", "1", "2"},
		{"a copy of an item that left: sq stays", "hl:s:D", "2", ""},
		{"first item taken, reaped: sq gone", "hl:s:E", "", "0"},
	};
	for (size_t i = 0; i < N(t); i++) {
		const char *got = cmd_str(s, "HGET %s sq", t[i].key, NULL);
		if (strcmp(got, t[i].sq) != 0)
			fail_msg("%s: sq %s, want %s", t[i].what, got, t[i].sq);
		got = cmd_str(s, "HGET %s uq", t[i].key, NULL);
		if (strcmp(got, t[i].uq) != 0)
			fail_msg("%s: uq %s, want %s", t[i].what, got, t[i].uq);
		if (strcmp(cmd_str(s, "HGET %s tp", t[i].key, NULL), "") != 0)
			fail_msg("%s: tp left", t[i].what);
	}
	assert_string_equal(cmd_str(s, "LLEN hl:outbox:x", NULL, NULL), "3");
	store_free(s);
}

/* KEEP writes a message's record only while its entry is still on the
 * sending list (SENT did not run): when SENT ran and the receipt took the
 * record, writing it again would let a repeated receipt count twice. */
static void test_keep(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "RPUSH hl:sending:x:i1 %s", "E1", NULL);
	cmd_str(s, "RPUSH hl:sending:x:i1 %s", "E2", NULL);
	const char *k1[] = {"hl:sending:x:i1", "hl:msg:x:1"};
	const char *a1[] = {"E1", "{\"s\":\"S\",\"q\":0}", "259200"};
	assert_int_equal(script_int(s, STORE_KEEP, 2, k1, 3, a1), 1);
	assert_string_equal(cmd_str(s, "GET hl:msg:x:1", NULL, NULL), "{\"s\":\"S\",\"q\":0}");
	assert_string_equal(cmd_str(s, "LLEN hl:sending:x:i1", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LINDEX hl:sending:x:i1 0", NULL, NULL), "E2");
	/* SENT ran (entry gone), its receipt took the record: nothing written */
	const char *k2[] = {"hl:sending:x:i1", "hl:msg:x:2"};
	const char *a2[] = {"E3", "{}", "259200"};
	assert_int_equal(script_int(s, STORE_KEEP, 2, k2, 3, a2), 0);
	assert_string_equal(cmd_str(s, "EXISTS hl:msg:x:2", NULL, NULL), "0");
	store_free(s);
}

/* COMMIT with a 13th key puts the step's messages on that (sending) list,
 * not the outbox. */
static void test_commit_direct(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "HSET hl:s:D ver 1 q 0", NULL, NULL);
	const char *keys[] = {"hl:s:D", "hl:c:850", "hl:wait:850", "hl:queue", "hl:archive", "hl:due",
	                      "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout",
	                      "hl:c:850", "hl:sending:x:i1"};
	const char *args[] = {"D", "1", "0", "2000", "", "", "0", "1500", "2", "{\"m\":1}", "{\"m\":2}",
	                      "q", "1", "sq", "1"};
	assert_int_equal(script_int(s, STORE_COMMIT, 13, keys, (int)N(args), args), 1);
	assert_string_equal(cmd_str(s, "LLEN hl:outbox:x", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "LINDEX hl:sending:x:i1 0", NULL, NULL), "{\"m\":1}");
	assert_string_equal(cmd_str(s, "LINDEX hl:sending:x:i1 1", NULL, NULL), "{\"m\":2}");
	assert_string_equal(cmd_str(s, "HGET hl:s:D sq", NULL, NULL), "1");
	/* held (quiet hours): never straight to the session */
	const char *held[] = {"D", "2", "0", "2000", "", "", "9000", "1500", "1", "{\"m\":3}", "q", "2"};
	assert_int_equal(script_int(s, STORE_COMMIT, 13, keys, (int)N(held), held), 1);
	assert_string_equal(cmd_str(s, "LLEN hl:sending:x:i1", NULL, NULL), "2");
	assert_string_equal(cmd_str(s, "ZCARD hl:held:x", NULL, NULL), "1");
	store_free(s);
}

/* INFO commandstats: how many times Redis ran cmd (inside scripts too). */
static long long cmdstat_calls(struct store *s, const char *cmd)
{
	char err[256], *info = NULL, key[64];
	if (store_str(s, &info, err, sizeof err, "INFO commandstats") < 0 || !info)
		fail_msg("INFO: %s", err);
	snprintf(key, sizeof key, "cmdstat_%s:calls=", cmd);
	const char *p = strstr(info, key);
	long long n = p ? strtoll(p + strlen(key), NULL, 10) : 0;
	free(info);
	return n;
}

/* SENT: answers off the sending list with their records kept, then the
 * receipts of the same batch: first final one recorded, a second and an
 * unknown one not. */
static void test_sent_and_receipts(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "RPUSH hl:sending:x:i1 E1 E2 E3", NULL, NULL);
	const char *keys[] = {"hl:deliveries", "hl:sending:x:i1", "hl:msg:x:m1", "hl:sending:x:i1", "hl:msg:none",
	                      "hl:msg:x:m1", "hl:msg:x:m1", "hl:msg:x:zz"};
	const char *args[] = {"100", "1234", "2", "E1", "{\"s\":\"S\",\"q\":0}", "E3", "",
	                      "x", "m1", "delivered", "x", "m1", "delivered", "x", "zz", "expired"};
	char err[256];
	long long lpop0 = cmdstat_calls(s, "lpop"), lrem0 = cmdstat_calls(s, "lrem");
	redisReply *r = store_script(s, STORE_SENT, (int)N(keys), keys, (int)N(args), args, err, sizeof err);
	assert_non_null(r);
	/* E1 at the head goes by LPOP, E3 behind E2 by LREM */
	assert_int_equal(cmdstat_calls(s, "lpop") - lpop0, 1);
	assert_int_equal(cmdstat_calls(s, "lrem") - lrem0, 1);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 3);
	static const long long want[] = {1, 0, 0};
	for (size_t i = 0; i < N(want); i++)
		if (r->element[i]->integer != want[i])
			fail_msg("receipt %zu: got %lld want %lld", i, r->element[i]->integer, want[i]);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "LLEN hl:sending:x:i1", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LINDEX hl:sending:x:i1 0", NULL, NULL), "E2");
	assert_string_equal(cmd_str(s, "EXISTS hl:msg:x:m1", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "EXISTS hl:msg:none", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "LLEN hl:deliveries", NULL, NULL), "1");
	const char *d = cmd_str(s, "LINDEX hl:deliveries 0", NULL, NULL);
	assert_non_null(strstr(d, "\"st\":\"delivered\""));
	assert_non_null(strstr(d, "\"s\":\"S\""));
	assert_non_null(strstr(d, "\"at\":1234"));
	/* a SENT that runs after KEEP took its entry (its reply was lost):
	 * no record again */
	const char *k2[] = {"hl:deliveries", "hl:sending:x:i1", "hl:msg:x:m9"};
	const char *a2[] = {"100", "1235", "1", "E9", "{\"s\":\"S\",\"q\":1}"};
	r = store_script(s, STORE_SENT, 3, k2, 5, a2, err, sizeof err);
	assert_non_null(r);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "EXISTS hl:msg:x:m9", NULL, NULL), "0");
	store_free(s);
}

/* POP: up to `most` ids off the queue into our starting list, with their
 * records; an id whose record is gone comes with an empty one. */
static void test_pop(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "RPUSH hl:queue P1 P2 P3", NULL, NULL);
	cmd_str(s, "HSET hl:s:P1 status queued", NULL, NULL);
	cmd_str(s, "HSET hl:s:P3 status waiting", NULL, NULL);
	const char *keys[] = {"hl:queue", "hl:starting:i1"};
	static const struct {
		const char *most;
		size_t n;
		const char *first, *first_status;
	} t[] = {{"2", 2, "P1", "queued"}, {"2", 1, "P3", "waiting"}, {"2", 0, NULL, NULL}};
	for (size_t i = 0; i < N(t); i++) {
		const char *args[] = {t[i].most};
		char err[256];
		redisReply *r = store_script(s, STORE_POP, 2, keys, 1, args, err, sizeof err);
		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		if (r->elements != 2 * t[i].n)
			fail_msg("pop %zu: %zu elements, want %zu", i, r->elements, 2 * t[i].n);
		if (t[i].n) {
			assert_string_equal(r->element[0]->str, t[i].first);
			assert_int_equal(r->element[1]->elements, 2);
			assert_string_equal(r->element[1]->element[1]->str, t[i].first_status);
		}
		if (t[i].n == 2) /* P2 has no record */
			assert_int_equal(r->element[3]->elements, 0);
		freeReplyObject(r);
	}
	assert_string_equal(cmd_str(s, "LLEN hl:starting:i1", NULL, NULL), "3");
	store_free(s);
}

/* ARCHIVE_TAKE: up to max records move from the archive list to ours, in
 * order; while ours holds some (a write that failed), those come back again
 * and nothing moves. */
static void test_archive_take(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "RPUSH hl:archive A1 A2 A3 A4 A5", NULL, NULL);
	const char *keys[] = {"hl:archive", "hl:archiving:i1"};
	static const struct {
		const char *max, *want, *left; /* the records returned, then what the archive list holds */
		int done;                      /* the caller wrote them: our list emptied after */
	} t[] = {
	    {"3", "A1 A2 A3", "A4 A5", 0},
	    {"3", "A1 A2 A3", "A4 A5", 1}, /* not written: the same again */
	    {"3", "A4 A5", "", 1}, /* the whole line: renamed ours, not copied */
	    {"3", "", "", 1},
	};
	for (size_t i = 0; i < N(t); i++) {
		const char *args[] = {t[i].max};
		char err[256], got[256] = "";
		long long rpush0 = cmdstat_calls(s, "rpush"), rename0 = cmdstat_calls(s, "rename");
		redisReply *r = store_script(s, STORE_ARCHIVE_TAKE, 2, keys, 1, args, err, sizeof err);
		if (!r)
			fail_msg("take %zu: %s", i, err);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		for (size_t k = 0; k < r->elements; k++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", r->element[k]->str);
		freeReplyObject(r);
		if (strcmp(got, t[i].want) != 0)
			fail_msg("take %zu: got \"%s\", want \"%s\"", i, got, t[i].want);
		/* a part of the line is copied (RPUSH), the whole line renamed */
		int whole = t[i].want[0] && !t[i].left[0] && i > 0 && strcmp(t[i].want, t[i - 1].want) != 0;
		assert_int_equal(cmdstat_calls(s, "rename") - rename0, whole);
		if (whole)
			assert_int_equal(cmdstat_calls(s, "rpush") - rpush0, 0);
		/* ours holds what was returned, the archive what is left, in order */
		char ours[24], left[24];
		snprintf(ours, sizeof ours, "%zu", t[i].want[0] ? (strlen(t[i].want) + 1) / 3 : 0);
		snprintf(left, sizeof left, "%zu", t[i].left[0] ? (strlen(t[i].left) + 1) / 3 : 0);
		assert_string_equal(cmd_str(s, "LLEN hl:archiving:i1", NULL, NULL), ours);
		assert_string_equal(cmd_str(s, "LLEN hl:archive", NULL, NULL), left);
		if (t[i].left[0])
			assert_string_equal(cmd_str(s, "LINDEX hl:archive 0", NULL, NULL), "A4");
		if (t[i].done)
			cmd_str(s, "DEL hl:archiving:i1", NULL, NULL);
	}
	store_free(s);
}

/* START: CLAIM and the first COMMIT in one run; a refused claim commits
 * nothing, a moved version does nothing at all. */
static void test_start(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "SET hl:optout:ready:i1 1", NULL, NULL);
	static const struct {
		const char *what, *id, *msisdn, *ver, *pre;
		long long claim, commit;
		const char *outbox_len, *active;
	} t[] = {
		{"claimed and committed", "F1", "851", "1", NULL, 1, 1, "1", "F1"},
		{"opted out: nothing sent", "F2", "852", "1", "SADD hl:optout h852", 2, 0, "1", ""},
		{"version moved: nothing at all", "F3", "853", "7", NULL, -3, 0, "1", ""},
		{"behind a running survey", "F4", "851", "1", NULL, 0, 0, "1", "F1"},
	};
	for (size_t i = 0; i < N(t); i++) {
		char k_s[32], k_act[32], k_wait[32], k_last[32], h[16];
		snprintf(k_s, sizeof k_s, "hl:s:%s", t[i].id);
		snprintf(k_act, sizeof k_act, "hl:c:%s", t[i].msisdn);
		snprintf(k_wait, sizeof k_wait, "hl:wait:%s", t[i].msisdn);
		snprintf(k_last, sizeof k_last, "hl:c:%s", t[i].msisdn);
		snprintf(h, sizeof h, "h%s", t[i].msisdn);
		cmd_str(s, "HSET %s ver 1 st %s", k_s, "queued");
		if (t[i].pre)
			cmd_str(s, t[i].pre, NULL, NULL);
		const char *keys[] = {k_act, k_wait, "hl:starting:i1", k_s, "hl:optout", k_last, "hl:queue",
		                      "hl:optout:ready:i1",
		                      k_s, k_act, k_wait, "hl:queue", "hl:archive", "hl:due", "hl:outbox:x",
		                      "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout", k_last};
		const char *args[] = {"8", "6", t[i].id, t[i].msisdn, "1000", "0", "100", h,
		                      t[i].id, t[i].ver, "0", "2000", "", "", "0", "1000", "1", "{\"m\":1}", "q", "0"};
		char err[256];
		redisReply *r = store_script(s, STORE_START, (int)N(keys), keys, (int)N(args), args, err, sizeof err);
		if (!r)
			fail_msg("%s: %s", t[i].what, err);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		if (r->element[0]->integer != t[i].claim || r->element[1]->integer != t[i].commit)
			fail_msg("%s: got {%lld, %lld} want {%lld, %lld}", t[i].what, r->element[0]->integer,
			         r->element[1]->integer, t[i].claim, t[i].commit);
		freeReplyObject(r);
		const char *n = cmd_str(s, "LLEN hl:outbox:x", NULL, NULL);
		if (strcmp(n, t[i].outbox_len) != 0)
			fail_msg("%s: outbox %s want %s", t[i].what, n, t[i].outbox_len);
		const char *act = cmd_str(s, "HGET %s a", k_act, NULL);
		if (strcmp(act, t[i].active) != 0)
			fail_msg("%s: active %s want %s", t[i].what, act, t[i].active);
	}
	assert_string_equal(cmd_str(s, "HGET hl:s:F1 ver", NULL, NULL), "2");
	assert_string_equal(cmd_str(s, "HGET hl:s:F3 ver", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LINDEX hl:wait:851 0", NULL, NULL), "F4");
	store_free(s);
}

/* The id TRIGGER derives for transaction tx of campaign c in period p: 16
 * hex digits of SHA-1("c\ntx\np"), computed here by Redis itself. */
static const char *derived_id(struct store *s, const char *c, const char *tx, long long p)
{
	static char out[4][17];
	static int slot;
	char in[128], err[256];
	snprintf(in, sizeof in, "%s\n%s\n%lld", c, tx, p);
	redisReply *r = store_cmd(s, err, sizeof err, "EVAL %s 0 %s", "return redis.sha1hex(ARGV[1])", in);
	if (!r || r->type != REDIS_REPLY_STRING)
		fail_msg("sha1hex: %s", r ? "unexpected reply" : err);
	char *o = out[slot++ % 4];
	snprintf(o, 17, "%.16s", r->str);
	freeReplyObject(r);
	return o;
}

/* TRIGGER and TXGET: a transaction id is idempotent for tx_ttl seconds.
 * The survey's id is derived from campaign, transaction id and period, and
 * its entry in hl:i:{period} (raw id -> the number, expiring tx_ttl after
 * the period ends) is what makes the next trigger a duplicate; the hashes
 * (hl:t:{campaign}:{period}) and keys (hl:tx:{campaign}:{transaction}) of
 * older versions are still honoured, never written. */
static void test_trigger_tx(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	char now[24], past[24], later[24];
	long long t0 = (long long)time(NULL);
	snprintf(now, sizeof now, "%lld", t0);
	snprintf(past, sizeof past, "%lld", t0 - 250); /* two or three periods of 100 s back */
	snprintf(later, sizeof later, "%lld", t0 + 2000);
	cmd_str(s, "SET hl:tx:c:OLD X0 EX 1000", NULL, NULL); /* an older version's trigger */
	char k_oldp[32];
	snprintf(k_oldp, sizeof k_oldp, "hl:t:c:%lld", t0 / 2592000);
	cmd_str(s, "HSET %s OLDP X1", k_oldp, NULL); /* an older version's period hash (30 days) */
	const char *id1 = derived_id(s, "c", "T1", t0 / 100), *id4 = derived_id(s, "c", "T4", (t0 - 250) / 100);
	static const struct {
		const char *what, *tx, *at;
		long long fresh; /* the reply's first element */
		int got;         /* the id: 1 = T1's, 4 = T4's (written periods ago), 0 = X0, -1 = X1 */
	} t[] = {
		{"new", "T1", NULL, 1, 1},
		{"a duplicate (or the same call again, its reply lost)", "T1", NULL, 0, 1},
		{"an older version's key", "OLD", NULL, 0, 0},
		{"an older version's period hash", "OLDP", NULL, 0, -1},
		{"written periods ago", "T4", "past", 1, 4},
		{"its duplicate now", "T4", NULL, 0, 4},
	};
	for (size_t i = 0; i < N(t); i++) {
		char k_old[32];
		snprintf(k_old, sizeof k_old, "hl:tx:c:%s", t[i].tx);
		const char *keys[] = {k_old, "hl:s:unused", "hl:queue", "hl:t:c:"};
		const char *args[] = {"unused", "1000", t[i].at ? past : now, "100", t[i].tx,
		                      "c", "c", "m", "8491", "tx", t[i].tx};
		char err[256];
		redisReply *r = store_script(s, STORE_TRIGGER, 4, keys, (int)N(args), args, err, sizeof err);
		if (!r)
			fail_msg("%s: %s", t[i].what, err);
		const char *want = t[i].got == 1 ? id1 : t[i].got == 4 ? id4 : t[i].got == 0 ? "X0" : "X1";
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->integer != t[i].fresh ||
		    strcmp(r->element[1]->str, want) != 0)
			fail_msg("%s: unexpected reply", t[i].what);
		freeReplyObject(r);
	}
	assert_string_equal(cmd_str(s, "LLEN hl:queue", NULL, NULL), "2");
	assert_string_equal(cmd_str(s, "LINDEX hl:queue 0", NULL, NULL), id1);
	char k_s[32];
	snprintf(k_s, sizeof k_s, "hl:s:%s", id1);
	assert_string_equal(cmd_str(s, "HGET %s tx", k_s, NULL), "T1");
	assert_string_equal(cmd_str(s, "EXISTS hl:s:unused hl:tx:c:T1", NULL, NULL), "0");
	/* nothing written the older ways: one field of hl:i:{period}, raw id -> number */
	assert_string_equal(cmd_str(s, "HLEN %s", k_oldp, NULL), "1");
	char k_p[32];
	snprintf(k_p, sizeof k_p, "hl:i:%lld", t0 / 100);
	assert_string_equal(cmd_str(s, "HLEN %s", k_p, NULL), "1");
	assert_string_equal(cmd_str(s, "EVAL %s 1 %s",
	                            "local k = redis.call('HKEYS', KEYS[1])[1] "
	                            "return #k .. ':' .. redis.call('HGET', KEYS[1], k)", k_p),
	                    "8:8491");
	long long ttl = atoll(cmd_str(s, "TTL %s", k_p, NULL));
	if (ttl < 1000 || ttl > 1100)
		fail_msg("TTL %lld", ttl);
	/* TXGET */
	static const struct {
		const char *tx, *at;
		int want; /* as above; 9 = none */
	} g[] = {
		{"T1", "now", 1}, {"T4", "now", 4}, {"OLD", "now", 0}, {"OLDP", "now", -1}, {"T9", "now", 9},
		{"T1", "later", 9}, /* past tx_ttl: forgotten */
	};
	for (size_t i = 0; i < N(g); i++) {
		char k_old[32];
		snprintf(k_old, sizeof k_old, "hl:tx:c:%s", g[i].tx);
		const char *keys[] = {k_old, "hl:t:c:"};
		const char *args[] = {strcmp(g[i].at, "now") == 0 ? now : later, "1000", "100", g[i].tx};
		char err[256];
		redisReply *r = store_script(s, STORE_TXGET, 2, keys, 4, args, err, sizeof err);
		if (!r)
			fail_msg("TXGET %s: %s", g[i].tx, err);
		const char *got = r->type == REDIS_REPLY_STRING ? r->str : "";
		const char *want = g[i].want == 1 ? id1 : g[i].want == 4 ? id4 : g[i].want == 0 ? "X0"
		                 : g[i].want == -1 ? "X1" : "";
		if (strcmp(got, want) != 0)
			fail_msg("TXGET %s at %s: got '%s' want '%s'", g[i].tx, g[i].at, got, want);
		freeReplyObject(r);
	}
	store_free(s);
}

/* A reply's fields (HGETALL form) as "k=v,..." with "a" shown as its length
 * (8 raw bytes), for comparing with a table. */
static void fields_str(const redisReply *r, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		const char *k = r->element[i]->str;
		size_t n = strlen(out);
		if (strcmp(k, "a") == 0)
			snprintf(out + n, cap - n, "%sa=#%zu", n ? "," : "", r->element[i + 1]->len);
		else
			snprintf(out + n, cap - n, "%s%s=%s", n ? "," : "", k, r->element[i + 1]->str);
	}
}

static const char *script_fields(struct store *s, enum store_script w, int nk, const char **k, int na,
                                 const char **a)
{
	static char out[1024];
	char err[256];
	redisReply *r = store_script(s, w, nk, k, na, a, err, sizeof err);
	if (!r)
		fail_msg("script %d: %s", (int)w, err);
	fields_str(r, out, sizeof out);
	freeReplyObject(r);
	return out;
}

/* The running survey in its citizen's hash, step by step: TRIGGER writes
 * hl:s:{id} and hl:i; START moves it into hl:c:{msisdn} ("a" its id in 8 raw
 * bytes, no "m", no "st"), where ACTIVE, LOAD (by id alone), TAKE (by the
 * entry's "s" and "to"), COMMIT and DUE_CLAIM (its timer entry is the
 * number) find it; the final COMMIT leaves the citizen "l" = "start:end"
 * alone. A survey an older version started (hl:s:{id}, "a" in hex) runs to
 * its end where it is. */
static void test_citizen_layout(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	cmd_str(s, "SET hl:optout:ready:i1 1", NULL, NULL);
	char now[24], left[24];
	long long t0 = (long long)time(NULL);
	snprintf(now, sizeof now, "%lld", t0);
	snprintf(left, sizeof left, "%lld", t0 + 5);
	const char *tk[] = {"hl:tx:c:T1", "hl:s:unused", "hl:queue", "hl:t:c:"};
	const char *ta[] = {"unused", "1000", now, "100", "T1", "c", "c", "cv", "v1", "m", "8497", "tx", "T1",
	                    "t", now, "st", "queued", "ver", "0"};
	char err[256], id[17];
	redisReply *r = store_script(s, STORE_TRIGGER, 4, tk, (int)N(ta), ta, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->element[0]->integer, 1);
	snprintf(id, sizeof id, "%s", r->element[1]->str);
	freeReplyObject(r);
	char k_s[32];
	snprintf(k_s, sizeof k_s, "hl:s:%s", id);
	assert_string_equal(cmd_str(s, "LPOP hl:queue", NULL, NULL), id);
	/* START: claimed and moved, its first item in the outbox, its timer at 2000 */
	char entry[128];
	snprintf(entry, sizeof entry, "{\"s\":\"%s\",\"q\":0,\"to\":\"8497\",\"text\":\"Q1\",\"u\":\"1\"}", id);
	const char *sk[] = {"hl:c:8497", "hl:wait:8497", "hl:starting:i1", k_s, "hl:optout", "hl:c:8497",
	                    "hl:queue", "hl:optout:ready:i1",
	                    k_s, "hl:c:8497", "hl:wait:8497", "hl:queue", "hl:archive", "hl:due", "hl:outbox:x",
	                    "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout", "hl:c:8497"};
	const char *sa[] = {"8", "7", id, "8497", now, "0", "100000", "h8497", "100",
	                    id, "0", "0", "2000", "", "", "0", now, "1", entry, "q", "0", "s0", now, "l", now};
	r = store_script(s, STORE_START, (int)N(sk), sk, (int)N(sa), sa, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->element[0]->integer, 1);
	assert_int_equal(r->element[1]->integer, 1);
	freeReplyObject(r);
	char want[512];
	snprintf(want, sizeof want, "a=#8,l=%s,c=c,cv=v1,tx=T1,t=%s,ver=1,q=0,s0=%s,d=2000", now, now, now);
	const char *hall = "return redis.call('HGETALL', KEYS[1])";
	char got[1024];
	{
		r = store_cmd(s, err, sizeof err, "EVAL %s 1 hl:c:8497", hall);
		assert_non_null(r);
		fields_str(r, got, sizeof got);
		freeReplyObject(r);
	}
	assert_string_equal(got, want);
	assert_string_equal(cmd_str(s, "EXISTS %s", k_s, NULL), "0");
	assert_string_equal(cmd_str(s, "LRANGE hl:due:2000 0 0", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "LINDEX hl:due:2000 0", NULL, NULL), "8497");
	/* ACTIVE and LOAD read it, "m" added */
	const char *ak[] = {"hl:c:8497", "hl:c:8497"};
	r = store_script(s, STORE_ACTIVE, 2, ak, 0, NULL, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_string_equal(r->element[0]->str, id);
	fields_str(r->element[1], got, sizeof got);
	freeReplyObject(r);
	char want_m[600];
	snprintf(want_m, sizeof want_m, "%s,m=8497", want);
	assert_string_equal(got, want_m);
	const char *la[] = {id, now, "1000", "100"};
	assert_string_equal(script_fields(s, STORE_LOAD, 0, NULL, 4, la), want_m);
	/* TAKE raises its sq (and notes when it left) in the citizen's hash */
	const char *xk[] = {"hl:outbox:x", "hl:sending:x:i1"}, *xa[] = {"10", left};
	r = store_script(s, STORE_TAKE, 2, xk, 2, xa, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->elements, 3);
	assert_int_equal(r->element[0]->integer, 1);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "HGET hl:c:8497 sq", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HGET hl:c:8497 l", NULL, NULL), left);
	/* COMMIT: a step read at version 1 after item 0 left; then one of another
	 * survey of the same citizen (an id the hash does not name) changes nothing */
	const char *ck[] = {k_s, "hl:c:8497", "hl:wait:8497", "hl:queue", "hl:archive", "hl:due", "hl:outbox:x",
	                    "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout", "hl:c:8497"};
	const char *c1[] = {id, "1:0", "0", "2100", "", "", "0", "2000", "0", "q", "1"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, ck, (int)N(c1), c1), 1);
	const char *ck2[] = {"hl:s:ffffffffffffffff", "hl:c:8497", "hl:wait:8497", "hl:queue", "hl:archive",
	                     "hl:due", "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout",
	                     "hl:c:8497"};
	const char *c2[] = {"ffffffffffffffff", "2", "0", "2200", "", "", "0", "2000", "0", "q", "5"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, ck2, (int)N(c2), c2), 0);
	assert_string_equal(cmd_str(s, "HGET hl:c:8497 ver", NULL, NULL), "2");
	assert_string_equal(cmd_str(s, "HGET hl:c:8497 q", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LINDEX hl:due:2100 0", NULL, NULL), "8497");
	/* DUE_CLAIM hands it out by its number, with its state */
	const char *dk[] = {"hl:due"}, *da[] = {"2150", "60", "10"};
	r = store_script(s, STORE_DUE_CLAIM, 1, dk, 3, da, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->elements, 2);
	assert_string_equal(r->element[0]->str, id);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "HGET hl:c:8497 d", NULL, NULL), "2210");
	/* the end: archived, the citizen keeps "l" = start:end only, TTL kept */
	const char *c3[] = {id, "2", "1", "0", "{\"survey_id\":1}", "", "0", "3000", "0"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, ck, (int)N(c3), c3), 1);
	{
		r = store_cmd(s, err, sizeof err, "EVAL %s 1 hl:c:8497", hall);
		assert_non_null(r);
		fields_str(r, got, sizeof got);
		freeReplyObject(r);
	}
	snprintf(want, sizeof want, "l=%s:3000", now);
	assert_string_equal(got, want);
	long long ttl = atoll(cmd_str(s, "TTL hl:c:8497", NULL, NULL));
	if (ttl < 99000 || ttl > 100000)
		fail_msg("TTL %lld", ttl);
	assert_string_equal(cmd_str(s, "LLEN hl:archive", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "GET hl:nrunning", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "GET hl:ndue", NULL, NULL), "0");
	r = store_script(s, STORE_ACTIVE, 2, ak, 0, NULL, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	assert_int_equal(r->integer, 3000);
	freeReplyObject(r);
	assert_string_equal(script_fields(s, STORE_LOAD, 0, NULL, 4, la), "");
	/* a survey an older version started: found in hl:s:{id} by ACTIVE, TAKE, LOAD and COMMIT */
	cmd_str(s, "HSET hl:s:0123456789abcdef c c m 8498 tx T2 ver 1 q 0", NULL, NULL);
	cmd_str(s, "HSET hl:c:8498 a 0123456789abcdef l 1000", NULL, NULL);
	const char *ok[] = {"hl:c:8498", "hl:c:8498"};
	r = store_script(s, STORE_ACTIVE, 2, ok, 0, NULL, err, sizeof err);
	assert_non_null(r);
	assert_string_equal(r->element[0]->str, "0123456789abcdef");
	fields_str(r->element[1], got, sizeof got);
	freeReplyObject(r);
	assert_string_equal(got, "c=c,m=8498,tx=T2,ver=1,q=0");
	const char *ola[] = {"0123456789abcdef", now, "1000", "100"};
	assert_string_equal(script_fields(s, STORE_LOAD, 0, NULL, 4, ola), "c=c,m=8498,tx=T2,ver=1,q=0");
	cmd_str(s, "RPUSH hl:outbox:x %s", "{\"s\":\"0123456789abcdef\",\"q\":0,\"to\":\"8498\",\"u\":\"2\"}", NULL);
	r = store_script(s, STORE_TAKE, 2, xk, 2, xa, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->element[0]->integer, 1);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "HGET hl:s:0123456789abcdef sq", NULL, NULL), "0");
	const char *ok2[] = {"hl:s:0123456789abcdef", "hl:c:8498", "hl:wait:8498", "hl:queue", "hl:archive",
	                     "hl:due", "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout",
	                     "hl:c:8498"};
	const char *o3[] = {"0123456789abcdef", "1", "1", "0", "{\"survey_id\":2}", "", "0", "3000", "0"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, ok2, (int)N(o3), o3), 1);
	assert_string_equal(cmd_str(s, "EXISTS hl:s:0123456789abcdef", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "HGET hl:c:8498 l", NULL, NULL), "1000:3000");
	assert_string_equal(cmd_str(s, "HEXISTS hl:c:8498 a", NULL, NULL), "0");
	/* one an older version triggered (its id not in hl:i) and this one starts: it runs in hl:s:{id} */
	cmd_str(s, "HSET hl:s:00000000000000b7 c c m 8499 tx T3 ver 0 st queued t %s", now, NULL);
	const char *qk[] = {"hl:c:8499", "hl:wait:8499", "hl:starting:i1", "hl:s:00000000000000b7", "hl:optout",
	                    "hl:c:8499", "hl:queue", "hl:optout:ready:i1",
	                    "hl:s:00000000000000b7", "hl:c:8499", "hl:wait:8499", "hl:queue", "hl:archive", "hl:due",
	                    "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout", "hl:c:8499"};
	const char *qa[] = {"8", "7", "00000000000000b7", "8499", now, "0", "100000", "h8499", "100",
	                    "00000000000000b7", "0", "0", "2000", "", "", "0", now, "0", "q", "0"};
	r = store_script(s, STORE_START, (int)N(qk), qk, (int)N(qa), qa, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(r->element[0]->integer, 1);
	assert_int_equal(r->element[1]->integer, 1);
	freeReplyObject(r);
	assert_string_equal(cmd_str(s, "HGET hl:c:8499 a", NULL, NULL), "00000000000000b7");
	assert_string_equal(cmd_str(s, "HGET hl:s:00000000000000b7 ver", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "LINDEX hl:due:2000 -1", NULL, NULL), "00000000000000b7");
	store_free(s);
}

/* The timers: COMMIT, DEFER and DUE_CLAIM keep a survey's second in its
 * field "d" and in the list of that second its id (a survey in hl:s:{id})
 * or its citizen's number (a survey running in its citizen's hash);
 * DUE_CLAIM hands out what is due with its state (leased: moved lease
 * seconds ahead), drops entries whose "d" moved on or whose survey ended,
 * honours the zset hl:due of older versions, and WAKE puts a deferred start
 * back in the queue once. */
static void test_due(void **state)
{
	(void)state;
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	const char *ids[] = {"T1", "T2", "T3", "T4", "T5"};
	for (size_t i = 0; i < N(ids); i++)
		cmd_str(s, "HSET hl:s:%s ver 1", ids[i], NULL);
	/* T1 due at 100, T2 at 100 then moved to 300, T3 at 100 then ended, T4 an older version's */
	const char *ck[] = {NULL, "hl:c:1", "hl:wait:1", "hl:queue", "hl:archive", "hl:due", "hl:outbox:x",
	                    "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout", "hl:c:1"};
	static const struct {
		const char *id, *due;
	} steps[] = {{"T1", "100"}, {"T2", "100"}, {"T3", "100"}, {"T2", "300"}, {"T3", "0"}};
	for (size_t i = 0; i < N(steps); i++) {
		char k_s[16];
		snprintf(k_s, sizeof k_s, "hl:s:%s", steps[i].id);
		ck[0] = k_s;
		const char *a[] = {steps[i].id, "", "0", steps[i].due, "", "", "0", "50", "0", "q", "1"};
		assert_int_equal(script_int(s, STORE_COMMIT, 12, ck, (int)N(a), a), 1);
	}
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:T3 d", NULL, NULL), "0");
	/* T6 runs in its citizen's hash (id 00000000000000a6, "a" in 8 raw bytes), due at 100 */
	cmd_str(s, "EVAL %s 1 hl:c:8496", "redis.call('HSET', KEYS[1], 'a', '\\0\\0\\0\\0\\0\\0\\0\\166', "
	        "'c', 'x', 'ver', '1')", NULL);
	const char *ck6[] = {"hl:s:00000000000000a6", "hl:c:8496", "hl:wait:8496", "hl:queue", "hl:archive", "hl:due",
	                     "hl:outbox:x", "hl:starting:i1", "hl:held:x", "hl:heldseq", "hl:optout", "hl:c:8496"};
	const char *a6[] = {"00000000000000a6", "", "0", "100", "", "", "0", "50", "0", "q", "1"};
	assert_int_equal(script_int(s, STORE_COMMIT, 12, ck6, (int)N(a6), a6), 1);
	assert_string_equal(cmd_str(s, "LINDEX hl:due:100 -1", NULL, NULL), "8496");
	assert_string_equal(cmd_str(s, "EXISTS hl:s:00000000000000a6", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "GET hl:ndue", NULL, NULL), "3");
	cmd_str(s, "ZADD hl:due 90 T4", NULL, NULL);
	/* T5 queued, its start deferred to 200 */
	cmd_str(s, "RPUSH hl:starting:i1 T5", NULL, NULL);
	const char *dk[] = {"hl:due", "hl:starting:i1"}, *da[] = {"T5", "200"};
	assert_int_equal(script_int(s, STORE_DEFER, 2, dk, 2, da), 1);
	assert_string_equal(cmd_str(s, "LLEN hl:starting:i1", NULL, NULL), "0");
	static const struct {
		const char *now, *max, *want; /* the ids handed out, in order */
	} t[] = {
		{"99", "10", "T4"},          /* the older version's zset, T1 not yet */
		{"100", "10", "T1,T6"},      /* T2 moved on, T3 ended: dropped */
		{"150", "10", ""},           /* leased: 60 s ahead */
		{"250", "10", "T4,T1,T6,T5"}, /* the leases ran out (a crash retries), and the deferred start */
		{"300", "1", "T2"},          /* at most max */
		{"310", "10", "T4,T1,T6,T5"}, /* the leases of 250 */
		{"310", "10", ""},
		{"360", "10", "T2"},
	};
	const char *qk[] = {"hl:due"};
	for (size_t i = 0; i < N(t); i++) {
		const char *qa[] = {t[i].now, "60", t[i].max};
		char err[256], got[128] = "";
		redisReply *r = store_script(s, STORE_DUE_CLAIM, 1, qk, 3, qa, err, sizeof err);
		if (!r)
			fail_msg("DUE_CLAIM at %s: %s", t[i].now, err);
		/* {id, state, ...}: the state read with it ("m" added for one in its citizen's hash) */
		for (size_t j = 0; r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements; j += 2) {
			const char *id = r->element[j]->str;
			const redisReply *st = r->element[j + 1];
			int t6 = strcmp(id, "00000000000000a6") == 0;
			if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 ||
			    (t6 && strcmp(st->element[st->elements - 1]->str, "8496") != 0))
				fail_msg("DUE_CLAIM at %s: %s without its state", t[i].now, id);
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", j ? "," : "", t6 ? "T6" : id);
		}
		freeReplyObject(r);
		if (strcmp(got, t[i].want) != 0)
			fail_msg("DUE_CLAIM at %s max %s: got '%s' want '%s'", t[i].now, t[i].max, got, t[i].want);
	}
	assert_string_equal(cmd_str(s, "ZCARD hl:due", NULL, NULL), "0");
	/* WAKE: T5 back in the queue once, its timer gone */
	const char *wk[] = {"hl:due", "hl:queue"}, *wa[] = {"T5"};
	assert_int_equal(script_int(s, STORE_WAKE, 2, wk, 1, wa), 1);
	assert_int_equal(script_int(s, STORE_WAKE, 2, wk, 1, wa), 0);
	assert_string_equal(cmd_str(s, "LRANGE hl:queue 0 -1", NULL, NULL), "");
	assert_string_equal(cmd_str(s, "LLEN hl:queue", NULL, NULL), "1");
	assert_string_equal(cmd_str(s, "HEXISTS hl:s:T5 d", NULL, NULL), "0");
	assert_string_equal(cmd_str(s, "GET hl:ndue", NULL, NULL), "4"); /* T1, T2, T4, T6 */
	store_free(s);
}

/* ---- the asynchronous connection ---- */

struct acall {
	int n, errors;
	long long got[256];
	char err[256];
};

static void acb(void *arg, const redisReply *r, const char *err)
{
	struct acall *c = arg;
	if (!r) {
		c->errors++;
		snprintf(c->err, sizeof c->err, "%s", err ? err : "");
	} else if (c->n < 256) {
		c->got[c->n] = r->type == REDIS_REPLY_INTEGER ? r->integer : r->type == REDIS_REPLY_ARRAY ? -(long long)r->elements : -999;
	}
	c->n++;
}

static void run_until(struct event_base *base, const struct acall *c, int n, int ms)
{
	for (int i = 0; i < ms / 10 && c->n < n; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* Commands queued in one pass come back in order; a script still runs after
 * the server's script cache was flushed (NOSCRIPT: sent once more with its
 * body). */
static void test_async_order_and_noscript(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	store_attach(s, base);
	struct acall c = {0};
	unsigned long long c0 = store_commands(s);
	for (int i = 0; i < 200; i++) {
		const char *argv[] = {"INCR", "n"};
		assert_int_equal(store_async_argv(s, 2, argv, acb, &c), 0);
	}
	assert_int_equal(c.n, 0); /* never from inside the call */
	assert_int_equal(store_async_pending(s), 200);
	run_until(base, &c, 200, 3000);
	assert_int_equal(c.n, 200);
	assert_int_equal(c.errors, 0);
	for (int i = 0; i < 200; i++)
		if (c.got[i] != i + 1)
			fail_msg("reply %d: %lld", i, c.got[i]);
	assert_int_equal(store_commands(s) - c0, 200);
	assert_int_equal(store_async_pending(s), 0);
	/* a script, its cache flushed behind our back, then again */
	cmd_str(s, "RPUSH hl:queue A1 A2", NULL, NULL);
	const char *keys[] = {"hl:queue", "hl:starting:i9"};
	const char *one[] = {"1"};
	struct acall p = {0};
	assert_int_equal(store_async_script(s, STORE_POP, 2, keys, 1, one, acb, &p), 0);
	run_until(base, &p, 1, 3000);
	cmd_str(s, "SCRIPT FLUSH", NULL, NULL);
	assert_int_equal(store_async_script(s, STORE_POP, 2, keys, 1, one, acb, &p), 0);
	run_until(base, &p, 2, 3000);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.errors, 0);
	assert_int_equal(p.got[0], -2);
	assert_int_equal(p.got[1], -2);
	assert_string_equal(cmd_str(s, "LLEN hl:starting:i9", NULL, NULL), "2");
	store_free(s);
	event_base_free(base);
}

/* No reply within the deadline (Redis paused): reported as lost, and the
 * command is not sent again on the next connection, which works. */
static void test_async_reply_lost(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct store *s = store_new(url, NULL, 0);
	struct store *p = store_new(url, NULL, 0);
	flush(s);
	store_attach(s, base);
	struct acall c = {0};
	const char *ping[] = {"PING"};
	assert_int_equal(store_async_argv(s, 1, ping, acb, &c), 0); /* connected, scripts loaded */
	run_until(base, &c, 1, 3000);
	assert_int_equal(c.errors, 0);
	assert_string_equal(cmd_str(p, "CLIENT PAUSE 3000 WRITE", NULL, NULL), "OK");
	const char *incr[] = {"INCR", "lost"};
	assert_int_equal(store_async_argv(s, 2, incr, acb, &c), 0);
	run_until(base, &c, 2, 4000);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.errors, 1);
	assert_non_null(strstr(c.err, "reply lost"));
	cmd_str(p, "CLIENT UNPAUSE", NULL, NULL);
	sleep_ms(100);
	assert_string_equal(cmd_str(p, "GET lost", NULL, NULL), ""); /* it never ran, nor again */
	assert_int_equal(store_async_argv(s, 2, incr, acb, &c), 0);
	run_until(base, &c, 3, 3000);
	assert_int_equal(c.errors, 1);
	assert_int_equal(c.got[2], 1);
	store_free(p);
	store_free(s);
	event_base_free(base);
}

/* Redis unreachable: the callback says so (or the call fails at once), and
 * store_async_close answers what is pending. */
static void test_async_unreachable(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	char dead[64];
	snprintf(dead, sizeof dead, "redis://127.0.0.1:%d/0", free_port());
	struct store *s = store_new(dead, NULL, 0);
	store_attach(s, base);
	struct acall c = {0};
	const char *ping[] = {"PING"};
	int rc = store_async_argv(s, 1, ping, acb, &c);
	if (rc == 0) {
		run_until(base, &c, 1, 3000);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.errors, 1);
	} else {
		assert_int_equal(rc, -EIO);
	}
	/* right after a failed connect: fails at once, the callback not called */
	int n = c.n;
	assert_int_equal(store_async_argv(s, 1, ping, acb, &c), -EIO);
	assert_int_equal(c.n, n);
	store_free(s);
	/* pending commands at close: each answered with an error, once */
	s = store_new(url, NULL, 0);
	store_attach(s, base);
	struct acall d = {0};
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_async_argv(s, 1, ping, acb, &d), 0);
	store_async_close(s);
	assert_int_equal(d.n, 5);
	assert_int_equal(d.errors, 5);
	assert_int_equal(store_async_argv(s, 1, ping, acb, &d), -EIO); /* closed stays closed */
	store_free(s);
	event_base_free(base);
}

/* ---- the typed verbs (store_verbs.c) ---- */

/* Every shape a verb reads, what it does with another shape (-EBADMSG) and
 * with an error reply (-EPROTO), then each verb with Redis gone (-EIO, out
 * parameters left empty). */
static void test_verbs_sync(void **state)
{
	(void)state;
	char err[256];
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	long long v = -1;
	char *str = NULL;
	struct store_list l = {0, NULL};
	/* plain commands */
	assert_int_equal(store_exec(s, err, sizeof err, "SET k %s", "two words"), 0);
	assert_int_equal(store_str(s, &str, err, sizeof err, "GET k"), 1);
	assert_string_equal(str, "two words"); /* %s is one argument */
	free(str);
	assert_int_equal(store_str(s, &str, err, sizeof err, "GET nothing"), 0);
	assert_null(str);
	assert_int_equal(store_int(s, &v, err, sizeof err, "INCR n"), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_int(s, &v, err, sizeof err, "GET k"), -EBADMSG);
	assert_non_null(strstr(err, "unexpected reply"));
	assert_int_equal(store_str(s, &str, err, sizeof err, "INCR n"), -EBADMSG);
	assert_null(str);
	assert_int_equal(store_list(s, &l, err, sizeof err, "GET k"), -EBADMSG);
	assert_int_equal(l.n, 0);
	err[0] = '\0';
	assert_int_equal(store_exec(s, err, sizeof err, "LPUSH k x"), -EPROTO); /* WRONGTYPE: did not run */
	assert_non_null(strstr(err, "WRONGTYPE"));
	assert_int_equal(store_int(s, &v, err, sizeof err, "INCR k"), -EPROTO);
	const char *argv[] = {"RPUSH", "l", "a", "", "c d"};
	assert_int_equal(store_intv(s, &v, 5, argv, err, sizeof err), 0);
	assert_int_equal(v, 3);
	assert_int_equal(store_execv(s, 5, argv, err, sizeof err), 0);
	assert_int_equal(store_exec(s, err, sizeof err, "RPUSH l %b", "x\0y", (size_t)3), 0);
	assert_int_equal(store_list(s, &l, err, sizeof err, "LRANGE l 0 -1"), 0);
	assert_int_equal(l.n, 7);
	assert_int_equal(l.e[0].kind, STORE_STR);
	assert_string_equal(l.e[0].s, "a");
	assert_int_equal(l.e[1].len, 0);
	assert_string_equal(l.e[1].s, "");
	assert_string_equal(l.e[5].s, "c d");
	assert_int_equal(l.e[6].len, 3); /* binary-safe */
	assert_memory_equal(l.e[6].s, "x\0y", 4);
	store_list_clear(&l);
	assert_null(l.e);
	store_list_clear(&l); /* twice is harmless */
	/* every kind of element */
	assert_int_equal(store_list(s, &l, err, sizeof err, "EVAL %s 0", "return {7, 'x', false, {1, {'y', {}}}, 'z'}"), 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.e[0].kind, STORE_INT);
	assert_int_equal(l.e[0].i, 7);
	assert_null(l.e[0].s);
	assert_int_equal(l.e[1].kind, STORE_STR);
	assert_int_equal(l.e[2].kind, STORE_NIL);
	assert_int_equal(l.e[3].kind, STORE_NESTED);
	const struct store_list *in = l.e[3].sub;
	assert_int_equal(in->n, 2);
	assert_int_equal(in->e[0].i, 1);
	assert_int_equal(in->e[1].kind, STORE_NESTED);
	assert_int_equal(in->e[1].sub->n, 2);
	assert_string_equal(in->e[1].sub->e[0].s, "y");
	assert_int_equal(in->e[1].sub->e[1].sub->n, 0); /* an empty array */
	assert_null(in->e[1].sub->e[1].sub->e);
	assert_string_equal(l.e[4].s, "z");
	assert_null(l.e[4].sub);
	store_list_clear(&l);
	assert_int_equal(store_list(s, &l, err, sizeof err, "LRANGE empty 0 -1"), 0);
	assert_int_equal(l.n, 0);
	/* a hash, read by field */
	assert_int_equal(store_exec(s, err, sizeof err, "HSET h a 1 b %s", "x y"), 0);
	assert_int_equal(store_list(s, &l, err, sizeof err, "HGETALL h"), 0);
	assert_string_equal(store_list_field(&l, "b")->s, "x y");
	assert_string_equal(store_list_field(&l, "a")->s, "1");
	assert_null(store_list_field(&l, "c"));
	assert_null(store_list_field(&l, "1")); /* a value is no name */
	store_list_clear(&l);
	/* scripts, by the shape of their reply */
	assert_int_equal(store_exec(s, err, sizeof err, "RPUSH from a b"), 0);
	const char *rq[] = {"from", "to"};
	assert_int_equal(store_run_int(s, STORE_REQUEUE, 2, rq, 0, NULL, &v, err, sizeof err), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_run(s, STORE_REQUEUE, 2, rq, 0, NULL, err, sizeof err), 0);
	assert_int_equal(store_run_str(s, STORE_REQUEUE, 2, rq, 0, NULL, &str, err, sizeof err), -EBADMSG);
	assert_int_equal(store_run_list(s, STORE_REQUEUE, 2, rq, 0, NULL, &l, err, sizeof err), -EBADMSG);
	const char *pk[] = {"to", "starting"}, *one[] = {"1"};
	assert_int_equal(store_exec(s, err, sizeof err, "HSET hl:s:a f %s", "v w"), 0);
	assert_int_equal(store_run_list(s, STORE_POP, 2, pk, 1, one, &l, err, sizeof err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.e[0].s, "a");
	assert_int_equal(l.e[1].kind, STORE_NESTED); /* its record, as HGETALL gives it */
	assert_int_equal(l.e[1].sub->n, 2);
	assert_string_equal(store_list_field(l.e[1].sub, "f")->s, "v w");
	store_list_clear(&l);
	/* a reply of any shape, as one item */
	assert_int_equal(store_run_any(s, STORE_REQUEUE, 2, rq, 0, NULL, &l, err, sizeof err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.e[0].kind, STORE_INT);
	assert_int_equal(l.e[0].i, 0);
	store_list_clear(&l);
	assert_int_equal(store_exec(s, err, sizeof err, "RPUSH to b"), 0);
	assert_int_equal(store_run_any(s, STORE_POP, 2, pk, 1, one, &l, err, sizeof err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.e[0].kind, STORE_NESTED);
	assert_int_equal(l.e[0].sub->n, 2);
	assert_string_equal(l.e[0].sub->e[0].s, "b");
	assert_int_equal(l.e[0].sub->e[1].kind, STORE_NESTED);
	store_list_clear(&l);
	/* TRIGGER, then TXGET of its transaction */
	char now[24], id[33];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	const char *tk[] = {"hl:tx:c:T1", "hl:s:S1", "hl:queue", "hl:t:c:"};
	const char *ta[] = {"S1", "1000", now, "100", "T1", "c", "c"};
	int is_new = -1;
	assert_int_equal(store_trigger(s, 4, tk, 7, ta, &is_new, id, sizeof id, err, sizeof err), 0);
	assert_int_equal(is_new, 1);
	char id1[33]; /* derived from campaign, transaction and period: 16 hex digits */
	snprintf(id1, sizeof id1, "%s", id);
	assert_int_equal(strlen(id1), 16);
	ta[0] = "S2";
	assert_int_equal(store_trigger(s, 4, tk, 7, ta, &is_new, id, sizeof id, err, sizeof err), 0);
	assert_int_equal(is_new, 0);
	assert_string_equal(id, id1);
	const char *xk[] = {"hl:tx:c:T1", "hl:t:c:"}, *xa[] = {now, "1000", "100", "T1"};
	assert_int_equal(store_run_str(s, STORE_TXGET, 2, xk, 4, xa, &str, err, sizeof err), 1);
	assert_string_equal(str, id1);
	free(str);
	xa[3] = "T9";
	assert_int_equal(store_run_str(s, STORE_TXGET, 2, xk, 4, xa, &str, err, sizeof err), 0);
	assert_int_equal(store_run_int(s, STORE_TXGET, 2, xk, 4, xa, &v, err, sizeof err), -EBADMSG);
	/* ACTIVE: none, none since an end, running */
	struct store_active a;
	assert_int_equal(store_active(s, "hl:c:84900", "hl:c:84900", &a, err, sizeof err), 0);
	assert_int_equal(a.running, 0);
	assert_int_equal(a.ended_at, 0);
	store_active_clear(&a);
	assert_int_equal(store_exec(s, err, sizeof err, "HSET hl:c:84900 l 100:250"), 0);
	assert_int_equal(store_active(s, "hl:c:84900", "hl:c:84900", &a, err, sizeof err), 0);
	assert_int_equal(a.running, 0);
	assert_int_equal(a.ended_at, 250);
	store_active_clear(&a);
	assert_int_equal(store_exec(s, err, sizeof err, "HSET hl:c:84900 a %s", id1), 0);
	assert_int_equal(store_active(s, "hl:c:84900", "hl:c:84900", &a, err, sizeof err), 0);
	assert_int_equal(a.running, 1);
	assert_string_equal(a.id, id1);
	assert_int_equal(a.fields.n % 2, 0);
	assert_true(a.fields.n >= 2);
	assert_string_equal(store_list_field(&a.fields, "c")->s, "c"); /* TRIGGER wrote it */
	store_active_clear(&a);
	assert_null(a.id);
	store_active_clear(&a);
	/* Redis gone: every kind fails at once with -EIO and leaves nothing behind */
	redis_stop();
	v = 42;
	assert_int_equal(store_exec(s, err, sizeof err, "SET k v"), -EIO);
	assert_true(strlen(err) > 0);
	assert_int_equal(store_execv(s, 5, argv, err, sizeof err), -EIO);
	assert_int_equal(store_int(s, &v, err, sizeof err, "INCR n"), -EIO);
	assert_int_equal(store_intv(s, &v, 5, argv, err, sizeof err), -EIO);
	assert_int_equal(v, 42);
	str = (char *)"x";
	assert_int_equal(store_str(s, &str, err, sizeof err, "GET k"), -EIO);
	assert_null(str);
	l.n = 5;
	assert_int_equal(store_list(s, &l, err, sizeof err, "LRANGE l 0 -1"), -EIO);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_run(s, STORE_REQUEUE, 2, rq, 0, NULL, err, sizeof err), -EIO);
	assert_int_equal(store_run_int(s, STORE_REQUEUE, 2, rq, 0, NULL, &v, err, sizeof err), -EIO);
	assert_int_equal(store_run_str(s, STORE_TXGET, 2, xk, 4, xa, &str, err, sizeof err), -EIO);
	assert_int_equal(store_run_list(s, STORE_POP, 2, pk, 1, one, &l, err, sizeof err), -EIO);
	assert_int_equal(store_run_any(s, STORE_POP, 2, pk, 1, one, &l, err, sizeof err), -EIO);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_trigger(s, 4, tk, 7, ta, &is_new, id, sizeof id, err, sizeof err), -EIO);
	assert_int_equal(store_active(s, "hl:c:84900", "hl:c:84900", &a, err, sizeof err), -EIO);
	assert_int_equal(a.running, 0);
	assert_null(a.id);
	redis_start();
	store_free(s);
}

/* A reply lost to a cut connection: -EIO, and the command not sent again. */
static void test_verbs_reply_lost(void **state)
{
	(void)state;
	char err[256];
	struct store *s = store_new(url, err, sizeof err);
	struct store *p = store_new(url, err, sizeof err);
	flush(s);
	assert_string_equal(cmd_str(p, "CLIENT PAUSE 1500 WRITE", NULL, NULL), "OK");
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, killer, NULL), 0);
	long long v = 0;
	int rc = store_int(s, &v, err, sizeof err, "INCR n");
	pthread_join(t, NULL);
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(err, "reply lost"));
	sleep_ms(100);
	assert_int_equal(store_str(s, (char *[]){NULL}, err, sizeof err, "GET n"), 0); /* it never ran */
	store_free(p);
	store_free(s);
}

struct tcall {
	int n, rc[16];
	long long v[16];
	size_t len[16];
	char str[16][64];
};

static void tcall_int(void *arg, int rc, long long v, const char *err)
{
	struct tcall *c = arg;
	c->rc[c->n] = rc;
	c->v[c->n] = v;
	snprintf(c->str[c->n], sizeof c->str[0], "%s", rc < 0 ? err : "");
	c->n++;
}

static void tcall_list(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct tcall *c = arg;
	c->rc[c->n] = rc;
	c->len[c->n] = l ? l->n : 0;
	snprintf(c->str[c->n], sizeof c->str[0], "%s", rc < 0 ? err : l->n && l->e[0].s ? l->e[0].s : "");
	c->n++;
}

/* store_async_anyv: the one item's kind in v. */
static void tcall_any(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct tcall *c = arg;
	c->v[c->n] = l && l->n ? (long long)l->e[0].kind : -1;
	tcall_list(arg, rc, l, err);
}

static void tcall_trigger(void *arg, int rc, int is_new, const char *id, const char *err)
{
	struct tcall *c = arg;
	c->rc[c->n] = rc;
	c->v[c->n] = is_new;
	snprintf(c->str[c->n], sizeof c->str[0], "%s", rc < 0 ? err : id);
	c->n++;
}

static void tcall_active(void *arg, int rc, const struct store_active *a, const char *err)
{
	struct tcall *c = arg;
	c->rc[c->n] = rc;
	c->v[c->n] = a ? (a->running ? -1 : a->ended_at) : -2;
	c->len[c->n] = a ? a->fields.n : 0;
	snprintf(c->str[c->n], sizeof c->str[0], "%s", rc < 0 ? err : a->running ? a->id : "");
	c->n++;
}

static void trun_until(struct event_base *base, const struct tcall *c, int n, int ms)
{
	for (int i = 0; i < ms / 10 && c->n < n; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* The typed asynchronous verbs: each result, an error reply, a reply of
 * another shape, a lost reply; and with Redis unreachable, each verb fails
 * without calling its callback. */
static void test_verbs_async(void **state)
{
	(void)state;
	char err[256];
	struct event_base *base = event_base_new();
	struct store *s = store_new(url, NULL, 0);
	flush(s);
	store_attach(s, base);
	assert_int_equal(store_exec(s, err, sizeof err, "RPUSH from a b c"), 0);
	assert_int_equal(store_exec(s, err, sizeof err, "SET str v"), 0);
	struct tcall c = {0};
	const char *rq[] = {"from", "to"}, *pk[] = {"to", "starting"}, *two[] = {"2"};
	const char *incr[] = {"INCR", "n"}, *bad[] = {"LPUSH", "str", "x"}, *get[] = {"GET", "str"};
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	const char *tk[] = {"hl:tx:c:T1", "hl:s:S1", "hl:queue", "hl:t:c:"};
	const char *ta[] = {"S1", "1000", now, "100", "T1", "c", "c"};
	/* the id TRIGGER will derive (campaign, transaction, period), learnt
	 * from a run that is then undone */
	char sid[33], k_sid[40];
	int nw;
	assert_int_equal(store_trigger(s, 4, tk, 7, ta, &nw, sid, sizeof sid, err, sizeof err), 0);
	snprintf(k_sid, sizeof k_sid, "hl:s:%s", sid);
	flush(s);
	assert_int_equal(store_exec(s, err, sizeof err, "RPUSH from a b c"), 0);
	assert_int_equal(store_exec(s, err, sizeof err, "SET str v"), 0);
	assert_int_equal(store_async_run_int(s, STORE_REQUEUE, 2, rq, 0, NULL, tcall_int, &c), 0);
	assert_int_equal(store_async_run_list(s, STORE_POP, 2, pk, 1, two, tcall_list, &c), 0);
	assert_int_equal(store_async_intv(s, 2, incr, tcall_int, &c), 0);
	assert_int_equal(store_async_intv(s, 3, bad, tcall_int, &c), 0);
	assert_int_equal(store_async_intv(s, 2, get, tcall_int, &c), 0);
	assert_int_equal(store_async_trigger(s, 4, tk, 7, ta, tcall_trigger, &c), 0);
	assert_int_equal(store_async_active(s, "hl:c:84900", "hl:c:84900", tcall_active, &c), 0);
	assert_int_equal(store_async_run_list(s, STORE_REQUEUE, 2, rq, 0, NULL, tcall_list, &c), 0);
	const char *hget[] = {"HGETALL", k_sid};
	assert_int_equal(store_async_listv(s, 2, hget, tcall_list, &c), 0);
	assert_int_equal(store_async_run_any(s, STORE_REQUEUE, 2, rq, 0, NULL, tcall_list, &c), 0);
	assert_int_equal(c.n, 0); /* never from inside the call */
	trun_until(base, &c, 10, 3000);
	assert_int_equal(c.n, 10);
	assert_int_equal(c.rc[0], 0);
	assert_int_equal(c.v[0], 3);  /* REQUEUE moved three */
	assert_int_equal(c.rc[1], 0);
	assert_int_equal(c.len[1], 4); /* POP: id, record, id, record */
	assert_string_equal(c.str[1], "a");
	assert_int_equal(c.rc[2], 0);
	assert_int_equal(c.v[2], 1);
	assert_int_equal(c.rc[3], -EPROTO); /* WRONGTYPE */
	assert_non_null(strstr(c.str[3], "WRONGTYPE"));
	assert_int_equal(c.rc[4], -EBADMSG); /* a string where a number was wanted */
	assert_int_equal(c.rc[5], 0);
	assert_int_equal(c.v[5], 1);
	assert_string_equal(c.str[5], sid);
	assert_int_equal(c.rc[6], 0);
	assert_int_equal(c.v[6], 0);  /* nobody running, none ended */
	assert_int_equal(c.rc[7], -EBADMSG);
	assert_int_equal(c.len[7], 0);
	assert_int_equal(c.rc[8], 0);
	assert_true(c.len[8] >= 2);  /* the hash TRIGGER wrote: name, value... */
	assert_int_equal(c.rc[9], 0);
	assert_int_equal(c.len[9], 1); /* one item: the number */
	/* a running survey, then a duplicate trigger */
	assert_int_equal(store_exec(s, err, sizeof err, "HSET hl:c:84900 a %s", sid), 0);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_async_active(s, "hl:c:84900", "hl:c:84900", tcall_active, &c), 0);
	ta[0] = "S2";
	assert_int_equal(store_async_trigger(s, 4, tk, 7, ta, tcall_trigger, &c), 0);
	trun_until(base, &c, 2, 3000);
	assert_int_equal(c.rc[0], 0);
	assert_int_equal(c.v[0], -1);
	assert_string_equal(c.str[0], sid);
	assert_true(c.len[0] >= 2);
	assert_int_equal(c.rc[1], 0);
	assert_int_equal(c.v[1], 0);
	assert_string_equal(c.str[1], sid);
	/* a reply of more than one shape (the lease's SET ... GET): nil, then
	 * the old value; a plain SET's status */
	memset(&c, 0, sizeof c);
	const char *set1[] = {"SET", "lease", "v1", "EX", "10", "GET"}, *set2[] = {"SET", "lease", "v2", "EX", "10", "GET"};
	const char *set3[] = {"SET", "plain", "x"};
	assert_int_equal(store_async_anyv(s, 6, set1, tcall_any, &c), 0);
	assert_int_equal(store_async_anyv(s, 6, set2, tcall_any, &c), 0);
	assert_int_equal(store_async_anyv(s, 3, set3, tcall_any, &c), 0);
	trun_until(base, &c, 3, 3000);
	assert_int_equal(c.rc[0], 0);
	assert_int_equal(c.len[0], 1);
	assert_int_equal(c.v[0], STORE_NIL);
	assert_int_equal(c.rc[1], 0);
	assert_int_equal(c.v[1], STORE_STR);
	assert_string_equal(c.str[1], "v1");
	assert_int_equal(c.rc[2], 0);
	assert_int_equal(c.v[2], STORE_STR);
	assert_string_equal(c.str[2], "OK");
	/* a reply lost (Redis paused past the deadline): -EIO, not sent again */
	struct store *p = store_new(url, NULL, 0);
	assert_string_equal(cmd_str(p, "CLIENT PAUSE 3000 WRITE", NULL, NULL), "OK");
	memset(&c, 0, sizeof c);
	const char *lost[] = {"INCR", "lost"};
	assert_int_equal(store_async_intv(s, 2, lost, tcall_int, &c), 0);
	trun_until(base, &c, 1, 4000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.rc[0], -EIO);
	assert_non_null(strstr(c.str[0], "reply lost"));
	cmd_str(p, "CLIENT UNPAUSE", NULL, NULL);
	sleep_ms(100);
	assert_string_equal(cmd_str(p, "GET lost", NULL, NULL), "");
	store_free(p);
	/* Redis gone: a verb either fails now (no callback) or calls back -EIO;
	 * right after a failed connect each fails at once, no callback */
	redis_stop();
	memset(&c, 0, sizeof c);
	int rc = store_async_intv(s, 2, incr, tcall_int, &c);
	if (rc == 0) {
		trun_until(base, &c, 1, 3000);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.rc[0], -EIO);
	} else {
		assert_int_equal(rc, -EIO);
	}
	int n = c.n;
	assert_int_equal(store_async_intv(s, 2, incr, tcall_int, &c), -EIO);
	assert_int_equal(store_async_run_int(s, STORE_REQUEUE, 2, rq, 0, NULL, tcall_int, &c), -EIO);
	assert_int_equal(store_async_run_list(s, STORE_POP, 2, pk, 1, two, tcall_list, &c), -EIO);
	assert_int_equal(store_async_trigger(s, 4, tk, 7, ta, tcall_trigger, &c), -EIO);
	assert_int_equal(store_async_active(s, "hl:c:84900", "hl:c:84900", tcall_active, &c), -EIO);
	assert_int_equal(store_async_run_any(s, STORE_REQUEUE, 2, rq, 0, NULL, tcall_list, &c), -EIO);
	assert_int_equal(store_async_listv(s, 2, hget, tcall_list, &c), -EIO);
	trun_until(base, &c, n + 1, 200);
	assert_int_equal(c.n, n);
	redis_start();
	/* pending at close: each typed callback called once, with -EIO */
	memset(&c, 0, sizeof c);
	struct store *q = store_new(url, NULL, 0);
	store_attach(q, base);
	assert_int_equal(store_async_intv(q, 2, incr, tcall_int, &c), 0);
	assert_int_equal(store_async_active(q, "hl:c:84900", "hl:c:84900", tcall_active, &c), 0);
	store_async_close(q);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.rc[0], -EIO);
	assert_int_equal(c.rc[1], -EIO);
	assert_int_equal(c.v[1], -2); /* no result handed */
	store_free(q);
	store_free(s);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_restart),
		cmocka_unit_test(test_reply_lost_not_sent_again),
		cmocka_unit_test(test_take_putback),
		cmocka_unit_test(test_commit_versions_and_end),
		cmocka_unit_test(test_reap),
		cmocka_unit_test(test_reap_unsend),
		cmocka_unit_test(test_take_unsend),
		cmocka_unit_test(test_commit_direct),
		cmocka_unit_test(test_keep),
		cmocka_unit_test(test_sent_and_receipts),
		cmocka_unit_test(test_pop),
		cmocka_unit_test(test_archive_take),
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_trigger_tx),
		cmocka_unit_test(test_citizen_layout),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_async_order_and_noscript),
		cmocka_unit_test(test_async_reply_lost),
		cmocka_unit_test(test_async_unreachable),
		cmocka_unit_test(test_verbs_sync),
		cmocka_unit_test(test_verbs_reply_lost),
		cmocka_unit_test(test_verbs_async),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
