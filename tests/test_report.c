/* test_report: the report's query parsing, dates, digit masking and its JSON over a small archive, table-driven. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "archive.h"
#include "campaign.h"
#include "report.h"

static void test_parse_by(void **state)
{
	static const struct {
		const char *in;
		int rc, n;
		enum report_dim d0, d1;
		const char *err; /* part of the error */
	} cases[] = {
		{ "agency", 0, 1, REPORT_AGENCY, 0, NULL },
		{ "agency,month", 0, 2, REPORT_AGENCY, REPORT_MONTH, NULL },
		{ "quarter,procedure", 0, 2, REPORT_QUARTER, REPORT_PROCEDURE, NULL },
		{ "channel,week", 0, 2, REPORT_CHANNEL, REPORT_WEEK, NULL },
		{ "colour", -EINVAL, 0, 0, 0, "'colour'" },
		{ "agency,agency", -EINVAL, 0, 0, 0, "two different" },
		{ "month,day", -EINVAL, 0, 0, 0, "at most one period" },
		{ "agency,month,channel", -EINVAL, 0, 0, 0, "one or two" },
		{ "agency,", -EINVAL, 0, 0, 0, "comma" },
		{ "", -EINVAL, 0, 0, 0, "needs a dimension" },
		{ "Agency", -EINVAL, 0, 0, 0, "'Agency'" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct report_query q;
		char err[256] = "";
		int rc;

		memset(&q, 0, sizeof q);
		rc = report_parse_by(cases[i].in, &q, err, sizeof err);
		if (rc != cases[i].rc)
			fail_msg("'%s': %d, want %d (%s)", cases[i].in, rc, cases[i].rc, err);
		if (rc == 0) {
			assert_int_equal(q.nby, cases[i].n);
			assert_int_equal(q.by[0], cases[i].d0);
			if (q.nby > 1)
				assert_int_equal(q.by[1], cases[i].d1);
		} else if (!strstr(err, cases[i].err)) {
			fail_msg("'%s': error '%s' lacks '%s'", cases[i].in, err, cases[i].err);
		}
	}
}

static void test_dates_statuses(void **state)
{
	static const struct { const char *in; int ok; } dates[] = {
		{ "2026-11-28", 1 }, { "2024-02-29", 1 }, { "2026-02-29", 0 }, { "2026-13-01", 0 },
		{ "2026-04-31", 0 }, { "2026-1-01", 0 }, { "2026-11-28T00", 0 }, { "yesterday", 0 }, { "", 0 },
		{ "1999-12-31", 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++)
		if ((report_check_date(dates[i].in) == 0) != dates[i].ok)
			fail_msg("date '%s'", dates[i].in);
	assert_int_equal(report_check_status("completed"), 0);
	assert_int_equal(report_check_status("opted_out"), 0);
	assert_int_equal(report_check_status("happy"), -EINVAL);
	assert_int_equal(report_check_status(NULL), -EINVAL);
}

static void test_mask(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "Gọi 0912345678 nhé", "Gọi 09******78 nhé" },
		{ "số 0912 345 678.", "số 09** *** *78." },
		{ "+84-912-345-678", "+84-***-***-*78" },
		{ "CCCD 001099012345", "CCCD 00********45" },
		{ "CMND 123456789 cũ", "CMND 12*****89 cũ" },
		{ "mã 12345678 giữ", "mã 12345678 giữ" },      /* 8 digits: not a phone or an ID */
		{ "ngày 28.11.2026", "ngày 28.11.2026" },      /* 8 digits */
		{ "2 lần, 3 giờ", "2 lần, 3 giờ" },
		{ "0912345678", "09******78" },
		{ "", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[128];

		snprintf(buf, sizeof buf, "%s", cases[i].in);
		report_mask_digits(buf);
		if (strcmp(buf, cases[i].out) != 0)
			fail_msg("'%s' -> '%s', want '%s'", cases[i].in, buf, cases[i].out);
	}
}

/* Removes a test's archive and its WAL files. */
static void unlink_db(const char *path)
{
	char p[64];

	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

static const char yaml[] =
	"id: ca-r\n"
	"scales:\n"
	"  two:\n"
	"    satisfied: [2]\n"
	"    options:\n"
	"      - {value: 2, label: Tốt, keys: [\"1\"]}\n"
	"      - {value: 1, label: Kém, keys: [\"2\"]}\n"
	"questions:\n"
	"  - {id: q1, type: scale, scale: two, group: G, text: \"Câu {n}/{total}?\"}\n"
	"  - {id: c, type: text, optional: true, text: \"Góp ý\"}\n"
	"messages: {thanks: \"Cảm ơn\"}\n";

/* Surveys on both sides of local midnight; periods and the ranking. */
static void test_slices(void **state)
{
	char path[] = "/tmp/test_report_XXXXXX", err[512] = "", *buf = NULL;
	struct campaign *c = NULL;
	struct archive *a;
	struct report_db *db;
	struct report_query q;
	json_t *doc = NULL, *s;
	static const char *const only[] = { "B" };
	size_t len = 0;
	FILE *out;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	if (campaign_parse("r.yaml", yaml, strlen(yaml), &c, err, sizeof err) != 0)
		fail_msg("campaign_parse: %s", err);
	assert_non_null(a = archive_open(path, err, sizeof err));
	assert_int_equal(archive_put_campaign(a, c, err, sizeof err), 0);
	{
		const struct archive_answer good[] = { { "q1", 1, 2, NULL, 0 }, { "c", 0, 0, "Nhanh gọn", 0 } },
		                            bad[] = { { "q1", 1, 1, NULL, 0 } };
		/* 2026-10-31T16:59:59Z is Oct 31 in Hanoi; 17:00:00Z is Nov 1 */
		struct archive_survey sv[] = {
			{ "s1", "ca-r", c->version, "t1", "A", "p", "h1", "sms", "completed", NULL, 1793465999, 0, 0, 2, good, NULL, NULL, NULL },
			{ "s2", "ca-r", c->version, "t2", "A", "p", "h1", "sms", "completed", NULL, 1793466000, 0, 0, 1, bad, NULL, NULL, NULL },
			{ "s3", "ca-r", c->version, "t3", "B", "p", "h3", "ussd", "expired", NULL, 1793466000, 0, 0, 0, NULL, NULL, NULL, NULL },
		};
		assert_int_equal(archive_put(a, sv, 3, err, sizeof err), 3);
	}
	archive_close(a);
	assert_non_null(db = report_db_open(path, err, sizeof err));
	memset(&q, 0, sizeof q);
	q.campaign = "ca-r";
	q.nagencies = -1;
	assert_int_equal(report_parse_by("month", &q, err, sizeof err), 0);
	if (report_run(db, &q, &doc, err, sizeof err) != 0)
		fail_msg("report_run: %s", err);
	s = json_object_get(doc, "slices");
	assert_int_equal(json_array_size(s), 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(s, 0), "key"), "month")),
	                    "2026-10");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(s, 0), "surveys")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(s, 1), "surveys")), 2);
	/* citizen h1 answered in both months: once in each, once in the total */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "total"),
	                 "response_rate"), "citizens")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "questions"), 0),
	                    "text")), "Câu 1/2?");
	/* the ranking: A 1 of 2 satisfied, B no ratings (no rank) */
	s = json_object_get(json_object_get(doc, "ranking"), "units");
	assert_int_equal(json_array_size(s), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(s, 0), "unit")), "A");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(s, 0), "rank")), 1);
	assert_true(json_is_null(json_object_get(json_array_get(s, 1), "rank")));
	/* every format writes */
	for (int f = REPORT_FMT_TABLE; f <= REPORT_FMT_HTML; f++) {
		assert_non_null(out = open_memstream(&buf, &len));
		assert_int_equal(report_write(doc, (enum report_format)f, out), 0);
		fclose(out);
		assert_true(len > 100);
		if (f == REPORT_FMT_HTML)
			assert_non_null(strstr(buf, "<svg class=\"chart chart-trend\""));
		if (f == REPORT_FMT_TABLE) {
			/* one comment is "1 comment"; a question of fewer than 30
			 * answers ends its row with the flag, as groups do */
			assert_non_null(strstr(buf, "1 comment"));
			assert_null(strstr(buf, "1 comments"));
			const char *l = strstr(buf, "\nq1 ");
			assert_non_null(l);
			const char *e = strchr(l + 1, '\n');
			assert_true(e && e[-1] == '!');
		}
		free(buf);
		buf = NULL;
	}
	json_decref(doc);
	/* a scoped token sees B only; from/to keep November */
	{
		q.agencies = only;
		q.nagencies = 1;
		q.from = "2026-11-01";
		q.to = "2026-11-30";
		assert_int_equal(report_run(db, &q, &doc, err, sizeof err), 0);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "total"), "surveys")), 1);
		assert_int_equal(json_array_size(json_object_get(doc, "slices")), 1);
		json_decref(doc);
	}
	/* every unit with every day from 2000 to 2026: 2 x 4000 days filled
	 * would pass; 3 units would be 12 000 slices, refused (a gigabyte and
	 * more in one answer for a few hundred procedures) */
	{
		struct report_query big = q;
		big.agencies = NULL;
		big.nagencies = -1;
		big.from = "2000-01-01";
		big.to = "2026-12-31";
		big.nby = 0;
		assert_int_equal(report_parse_by("agency,day", &big, err, sizeof err), 0);
		assert_int_equal(report_run(db, &big, &doc, err, sizeof err), 0);
		assert_in_range(json_array_size(json_object_get(doc, "slices")), 8000, 8100); /* (4000 filled, and those seen) */
		json_decref(doc);
		big.nby = 0;
		assert_int_equal(report_parse_by("agency,channel", &big, err, sizeof err), 0);
		assert_int_equal(report_run(db, &big, &doc, err, sizeof err), 0); /* (2 x 2) */
		json_decref(doc);
		a = archive_open(path, err, sizeof err);
		assert_non_null(a);
		const struct archive_survey more[] = {
			{ "s4", "ca-r", c->version, "t4", "C", "p", "h4", "sms", "expired", NULL, 1793466000, 0, 0, 0, NULL, NULL, NULL, NULL },
		};
		assert_int_equal(archive_put(a, more, 1, err, sizeof err), 1);
		archive_close(a);
		big.nby = 0;
		assert_int_equal(report_parse_by("agency,day", &big, err, sizeof err), 0);
		doc = NULL;
		assert_int_equal(report_run(db, &big, &doc, err, sizeof err), -EINVAL);
		assert_null(doc);
		if (!strstr(err, "slices (every agency with every day), more than 10000: narrow from/to"))
			fail_msg("the refusal: %s", err);
	}
	q.campaign = "nope";
	assert_int_equal(report_run(db, &q, &doc, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "nope"));
	report_db_close(db);
	campaign_free(c);
	unlink_db(path);
}

/* The ranking in CSV and HTML: units named with spaces and commas, a unit
 * without a name and without ratings (no rank: an empty cell, not 0), and
 * more units than the HTML chart draws (the table lists them all). */
static void test_ranking_formats(void **state)
{
	char path[] = "/tmp/test_report_XXXXXX", err[512] = "", *buf = NULL;
	struct campaign *c = NULL;
	struct archive *a;
	struct report_db *db;
	struct report_query q;
	json_t *doc = NULL, *units;
	size_t len = 0;
	FILE *out;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	if (campaign_parse("r.yaml", yaml, strlen(yaml), &c, err, sizeof err) != 0)
		fail_msg("campaign_parse: %s", err);
	assert_non_null(a = archive_open(path, err, sizeof err));
	assert_int_equal(archive_put_campaign(a, c, err, sizeof err), 0);
	{
		const struct archive_answer good[] = { { "q1", 1, 2, NULL, 0 } };
		struct archive_survey sv[] = {
			{ "s1", "ca-r", c->version, "t1", "Công an Hà Nội", "p", "h1", "sms", "completed", NULL, 1793466000, 0, 0, 1, good, NULL, NULL, NULL },
			{ "s2", "ca-r", c->version, "t2", "Sở Tư pháp, HN", "p", "h2", "ussd", "completed", NULL, 1793466000, 0, 0, 1, good, NULL, NULL, NULL },
			{ "s3", "ca-r", c->version, "t3", NULL, "p", "h3", "sms", "expired", NULL, 1793466000, 0, 0, 0, NULL, NULL, NULL, NULL },
		};
		assert_int_equal(archive_put(a, sv, 3, err, sizeof err), 3);
	}
	archive_close(a);
	assert_non_null(db = report_db_open(path, err, sizeof err));
	memset(&q, 0, sizeof q);
	q.campaign = "ca-r";
	q.nagencies = -1;
	assert_int_equal(report_parse_by("agency", &q, err, sizeof err), 0);
	if (report_run(db, &q, &doc, err, sizeof err) != 0)
		fail_msg("report_run: %s", err);
	assert_non_null(out = open_memstream(&buf, &len));
	assert_int_equal(report_write(doc, REPORT_FMT_CSV, out), 0);
	fclose(out);
	if (!strstr(buf, "\nagency=Công an Hà Nội,ranking,1,\"Sở Tư pháp, HN\",") ||
	    !strstr(buf, "\n\"agency=Sở Tư pháp, HN\",ranking,1,Công an Hà Nội,") ||
	    !strstr(buf, "\nagency=(none),ranking,,,"))
		fail_msg("the ranking in CSV:\n%s", buf);
	free(buf);
	buf = NULL;
	/* 300 more units: every one in the HTML table */
	units = json_object_get(json_object_get(doc, "ranking"), "units");
	for (int i = 0; i < 300; i++) {
		char name[16];

		snprintf(name, sizeof name, "u%03d", i);
		json_array_append_new(units, json_pack("{s:s, s:n, s:n, s:n, s:n, s:i, s:i, s:b, s:[]}", "unit", name,
		                                       "rank", "share_pct", "ci_low_pct", "ci_high_pct", "ratings", 0,
		                                       "respondents", 0, "few_responses", 1, "overlaps_with"));
	}
	assert_non_null(out = open_memstream(&buf, &len));
	assert_int_equal(report_write(doc, REPORT_FMT_HTML, out), 0);
	fclose(out);
	assert_non_null(strstr(buf, "data-unit=\"u000\""));
	assert_non_null(strstr(buf, "data-unit=\"u299\""));
	assert_non_null(strstr(buf, "The chart shows the first 256 of 303 units"));
	free(buf);
	json_decref(doc);
	report_db_close(db);
	campaign_free(c);
	unlink_db(path);
}

/* A campaign edited (v2) and then put back as it was (v1): the report's
 * definitions (satisfied values, groups) are those of v1, the version in
 * force, not of v2 because v1 was first recorded before it. */
static void test_reverted_version(void **state)
{
	static const char yaml2[] =
		"id: ca-r\n"
		"scales:\n"
		"  two:\n"
		"    satisfied: [1]\n"
		"    options:\n"
		"      - {value: 2, label: Tốt, keys: [\"1\"]}\n"
		"      - {value: 1, label: Kém, keys: [\"2\"]}\n"
		"questions:\n"
		"  - {id: q1, type: scale, scale: two, group: H, text: \"Câu {n}/{total}?\"}\n"
		"messages: {thanks: \"Cảm ơn\"}\n";
	char path[] = "/tmp/test_report_XXXXXX", err[512] = "";
	struct campaign *c1 = NULL, *c2 = NULL;
	struct archive *a;
	struct report_db *db;
	struct report_query q;
	json_t *doc = NULL, *g;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	if (campaign_parse("r.yaml", yaml, strlen(yaml), &c1, err, sizeof err) != 0 ||
	    campaign_parse("r2.yaml", yaml2, strlen(yaml2), &c2, err, sizeof err) != 0)
		fail_msg("campaign_parse: %s", err);
	assert_non_null(a = archive_open(path, err, sizeof err));
	const struct archive_answer good[] = { { "q1", 1, 2, NULL, 0 } };
	const struct archive_survey s1[] = {
		{ "s1", "ca-r", c1->version, "t1", "A", "p", "h1", "sms", "completed", NULL, 1793466000, 0, 0, 1, good, NULL, NULL, NULL } };
	const struct archive_survey s2[] = {
		{ "s2", "ca-r", c2->version, "t2", "A", "p", "h2", "sms", "completed", NULL, 1793467000, 0, 0, 1, good, NULL, NULL, NULL } };
	const struct archive_survey s3[] = {
		{ "s3", "ca-r", c1->version, "t3", "A", "p", "h3", "sms", "completed", NULL, 1793468000, 0, 0, 1, good, NULL, NULL, NULL } };
	assert_int_equal(archive_put_campaign(a, c1, err, sizeof err), 0);
	assert_int_equal(archive_put(a, s1, 1, err, sizeof err), 1);
	assert_int_equal(archive_put_campaign(a, c2, err, sizeof err), 0); /* edited */
	assert_int_equal(archive_put(a, s2, 1, err, sizeof err), 1);
	assert_int_equal(archive_put_campaign(a, c1, err, sizeof err), 0); /* put back */
	assert_int_equal(archive_put(a, s3, 1, err, sizeof err), 1);
	archive_close(a);
	assert_non_null(db = report_db_open(path, err, sizeof err));
	memset(&q, 0, sizeof q);
	q.campaign = "ca-r";
	q.nagencies = -1;
	if (report_run(db, &q, &doc, err, sizeof err) != 0)
		fail_msg("report_run: %s", err);
	assert_string_equal(json_string_value(json_object_get(doc, "version")), c1->version);
	/* v1's satisfied value (2) over the three answers, all 2; its group G */
	g = json_array_get(json_object_get(json_object_get(doc, "total"), "groups"), 0);
	assert_string_equal(json_string_value(json_object_get(g, "group")), "G");
	assert_int_equal(json_integer_value(json_object_get(g, "satisfied")), 3);
	json_decref(doc);
	report_db_close(db);
	campaign_free(c1);
	campaign_free(c2);
	unlink_db(path);
}

/* hailong comments --format csv: a citizen's text that a spreadsheet would
 * run as a formula is written with a leading apostrophe; other cells and
 * other texts as they are. */
static void test_comments_csv_formula(void **state)
{
	(void)state;
	json_t *c = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]",
	                      "agency", "-x", "text", "=HYPERLINK(\"http://x\",\"y\")", "survey_id", "s1",
	                      "agency", "a", "text", "- cán bộ nhiệt tình", "survey_id", "s2",
	                      "agency", "a", "text", "Rất tốt, cảm ơn", "survey_id", "s3",
	                      "agency", "a", "text", "@SUM(1)", "survey_id", "s4");
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(c);
	assert_int_equal(report_write_comments(c, REPORT_FMT_CSV, out), 0);
	fclose(out);
	assert_non_null(strstr(buf, ",-x,"));                                 /* not the citizen's text */
	assert_non_null(strstr(buf, ",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",s1"));
	assert_non_null(strstr(buf, ",'- cán bộ nhiệt tình,s2"));
	assert_non_null(strstr(buf, ",\"Rất tốt, cảm ơn\",s3"));
	assert_non_null(strstr(buf, ",'@SUM(1),s4"));
	free(buf);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_by),
		cmocka_unit_test(test_dates_statuses),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_slices),
		cmocka_unit_test(test_ranking_formats),
		cmocka_unit_test(test_reverted_version),
		cmocka_unit_test(test_comments_csv_formula),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
