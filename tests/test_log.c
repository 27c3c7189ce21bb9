/* test_log: every log line comes out as logfmt, whatever shape the message was written in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "log.h"

static const struct {
	const char *msg, *want;
} cases[] = {
	{"[main] event=bound host=127.0.0.1 port=2775 queued_parts=0",
	 "ts=T level=info peer=main event=bound host=127.0.0.1 port=2775 queued_parts=0"},
	{"lease instance=ab12 in_hand=3 taken_by_peers=0", "ts=T level=info event=lease instance=ab12 in_hand=3 taken_by_peers=0"},
	{"[sim] mo msisdn=84912***678 msg=\"no survey running\"",
	 "ts=T level=info peer=sim event=mo msisdn=84912***678 msg=\"no survey running\""},
	{"[main] quiet hours over released=4", "ts=T level=info peer=main event=quiet_hours_over released=4"},
	{"[main] send failed status=ESME_RINVDSTADR survey=s1 item=2",
	 "ts=T level=info peer=main event=send_failed status=ESME_RINVDSTADR survey=s1 item=2"},
	{"[main] event=answer_dropped seq=7 status=0x58 (connection gone)",
	 "ts=T level=info peer=main event=answer_dropped seq=7 status=0x58 note=\"(connection gone)\""},
	{"archive msg=\"cannot write, will retry\" err=\"disk I/O error\"",
	 "ts=T level=info event=archive msg=\"cannot write, will retry\" err=\"disk I/O error\""},
	{"msg=\"a quoted \\\"word\\\" inside\" n=1", "ts=T level=info msg=\"a quoted \\\"word\\\" inside\" n=1"},
	{"stopped", "ts=T level=info event=stopped"},
	{"", "ts=T level=info"},
	{"[we ird] x=1", "ts=T level=info peer=weird x=1"},
	{"reload campaigns=3 broken=1", "ts=T level=info event=reload campaigns=3 broken=1"},
	{"a \"b\" c=1 d", "ts=T level=info event=a_b c=1 note=\"d\""},
};

static void test_logfmt_table(void **state)
{
	(void)state;
	char out[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = log_logfmt(out, sizeof out, "T", "info", cases[i].msg);
		assert_int_equal(n, strlen(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu '%s':\n got  %s\n want %s", i, cases[i].msg, out, cases[i].want);
	}
}

/* A line never overflows its buffer, whatever the message. */
static void test_logfmt_cut(void **state)
{
	(void)state;
	char big[4000], out[64];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	size_t n = log_logfmt(out, sizeof out, "2026-11-28T00:00:00.000Z", "warn", big);
	assert_int_equal(n, strlen(out));
	assert_true(n < sizeof out);
	n = log_logfmt(out, 1, "T", "info", "x=1");
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
}

/* The lines of one loop pass go out together at its end; a warning at once. */
static long stderr_size(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

static void test_batch_per_loop_pass(void **state)
{
	(void)state;
	char path[] = "/tmp/hailong-test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	struct event_base *base = event_base_new();
	assert_int_equal(log_batch_on(base), 0);
	log_info("one n=1");
	log_info("two n=2");
	long before = stderr_size(path);
	event_base_loop(base, EVLOOP_NONBLOCK);
	long after = stderr_size(path);
	log_warn("three n=3");
	long warned = stderr_size(path);
	log_batch_off();
	event_base_free(base);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	unlink(path);
	assert_int_equal(before, 0);
	assert_true(after > 0);
	assert_true(warned > after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt_table),
		cmocka_unit_test(test_batch_per_loop_pass),
		cmocka_unit_test(test_logfmt_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
