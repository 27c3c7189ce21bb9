/* report_fmt: the report document (report.h, JSON) written as a terminal table, CSV or JSON; comments as CSV or JSON. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "csv.h"

/* ---- reading the document ---- */

static const json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static double num(const json_t *o, const char *k)
{
	const json_t *x = get(o, k);

	return json_is_number(x) ? json_number_value(x) : NAN;
}

static long long integer(const json_t *o, const char *k)
{
	return (long long)json_integer_value(get(o, k));
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(get(o, k));

	return s ? s : "";
}

/* "agency=ca-hanoi month=2026-11", or "total" for an empty key. */
static void key_label(const json_t *key, char *buf, size_t cap, const char *sep)
{
	const char *k;
	const json_t *v;
	size_t len = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)key, k, v) {
		const char *s = json_string_value(v);

		if (len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s=%s", len ? sep : "", k,
			                        s && s[0] ? s : "(none)");
	}
	if (!buf[0])
		snprintf(buf, cap, "total");
}

/* ---- table ---- */

/* s cut to at most `width` columns (whole characters), padded on the right. */
static void cell(FILE *out, const char *s, int width, int right)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_int32_t cp;
	int w = 0, pad;
	size_t bytes = 0;

	while (p[bytes]) {
		utf8proc_ssize_t k = utf8proc_iterate(p + bytes, -1, &cp);
		int cw = k > 0 ? utf8proc_charwidth(cp) : 1;

		if (w + cw > width)
			break;
		w += cw;
		bytes += k > 0 ? (size_t)k : 1;
	}
	pad = width - w;
	if (right)
		for (; pad > 0; pad--)
			fputc(' ', out);
	fwrite(s, 1, bytes, out);
	if (!right)
		for (; pad > 0; pad--)
			fputc(' ', out);
}

static void fmt_pct(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f%%", v);
}

static void fmt_ci(char *buf, size_t cap, const json_t *o)
{
	if (isnan(num(o, "ci_low_pct")))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f-%.2f%%", num(o, "ci_low_pct"), num(o, "ci_high_pct"));
}

static void fmt_num(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", v);
}

#define WQ 44 /* question column: id and wording */
#define WG 24 /* group column */

static void table_slice(const json_t *r, const json_t *s, FILE *out)
{
	const json_t *defs = get(r, "questions"), *rr = get(s, "response_rate"), *st = get(s, "by_status");
	const json_t *o = get(s, "overall"), *pooled = get(o, "pooled"), *mg = get(o, "mean_of_groups");
	const char *k;
	const json_t *v;
	char b[4][64], label[512];
	size_t i;

	key_label(get(s, "key"), label, sizeof label, " ");
	fprintf(out, "\n== %s ==\n", label);
	fprintf(out, "Surveys: %lld (", integer(s, "surveys"));
	i = 0;
	json_object_foreach((json_t *)st, k, v)
		fprintf(out, "%s%s %lld", i++ ? ", " : "", k, (long long)json_integer_value(v));
	fputs(")\n", out);
	fmt_pct(b[0], sizeof b[0], num(rr, "by_survey_pct"));
	fmt_pct(b[1], sizeof b[1], num(rr, "by_citizen_pct"));
	fprintf(out, "Response rate: %s by survey (%lld/%lld), %s by citizen (%lld/%lld)\n", b[0],
	        integer(s, "completed"), integer(s, "surveys"), b[1], integer(rr, "citizens_completed"),
	        integer(rr, "citizens"));
	fprintf(out, "Respondents (a rated answer): %lld%s\n", integer(s, "respondents"),
	        json_is_true(get(s, "few_responses")) ? "  ! fewer than 30 responses" : "");
	cell(out, "Question", WQ, 0);
	fputs("  ", out);
	cell(out, "Group", WG, 0);
	fputs("  Answers  Satisf.    Share  95% interval     Mean  Counts\n", out);
	for (i = 0; i < json_array_size(get(s, "questions")); i++) {
		const json_t *q = json_array_get(get(s, "questions"), i), *d = json_array_get(defs, i);
		char qt[512];
		size_t len = 0;

		snprintf(qt, sizeof qt, "%s %s", str(d, "id"), str(d, "text"));
		cell(out, qt, WQ, 0);
		fputs("  ", out);
		cell(out, str(d, "group"), WG, 0);
		fmt_pct(b[0], sizeof b[0], num(q, "share_pct"));
		fmt_ci(b[1], sizeof b[1], q);
		fmt_num(b[2], sizeof b[2], num(q, "mean"));
		if (get(q, "satisfied"))
			snprintf(b[3], sizeof b[3], "%lld", integer(q, "satisfied"));
		else
			snprintf(b[3], sizeof b[3], "-");
		fprintf(out, "  %7lld  %7s  %7s  %-15s  %5s  ", integer(q, "answers"), b[3], b[0], b[1], b[2]);
		json_object_foreach((json_t *)get(q, "counts"), k, v)
			len += (size_t)fprintf(out, "%s%s:%lld", len ? " " : "", k, (long long)json_integer_value(v));
		if (get(q, "comments"))
			len += (size_t)fprintf(out, "%s%lld comment%s", len ? " " : "", integer(q, "comments"),
			                       integer(q, "comments") == 1 ? "" : "s");
		if (json_is_true(get(q, "few_responses")))
			fprintf(out, "%s!", len ? "  " : "");
		fputc('\n', out);
	}
	for (i = 0; i < json_array_size(get(s, "groups")); i++) {
		const json_t *g = json_array_get(get(s, "groups"), i);
		char gt[512];

		snprintf(gt, sizeof gt, "Group: %s", str(g, "group")[0] ? str(g, "group") : "(no group)");
		fmt_pct(b[0], sizeof b[0], num(g, "share_pct"));
		fmt_ci(b[1], sizeof b[1], g);
		fmt_num(b[2], sizeof b[2], num(g, "mean"));
		cell(out, gt, WQ + WG + 2, 0);
		fprintf(out, "  %7lld  %7lld  %7s  %-15s  %5s  %lld respondents%s\n", integer(g, "ratings"),
		        integer(g, "satisfied"), b[0], b[1], b[2], integer(g, "respondents"),
		        json_is_true(get(g, "few_responses")) ? "  ! fewer than 30 responses" : "");
	}
	fmt_pct(b[0], sizeof b[0], num(pooled, "share_pct"));
	fmt_ci(b[1], sizeof b[1], pooled);
	fprintf(out, "Overall (%s): %s (%lld/%lld), 95%% interval %s\n", str(pooled, "method"), b[0],
	        integer(pooled, "satisfied"), integer(pooled, "ratings"), b[1]);
	fmt_pct(b[0], sizeof b[0], num(mg, "share_pct"));
	fprintf(out, "Overall (%s): %s over %lld groups\n", str(mg, "method"), b[0], integer(mg, "groups"));
}

/* "v1 v2": the versions of one wording. */
static void versions_text(const json_t *w, char *buf, size_t cap)
{
	size_t len = 0, i;
	const json_t *v;

	buf[0] = '\0';
	json_array_foreach(get(w, "versions"), i, v) {
		int n = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", json_string_value(v));
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
}

/* The questions whose wording differs between the campaign versions answered. */
static void table_wordings(const json_t *r, FILE *out)
{
	const json_t *d, *w;
	size_t i, k;
	char vb[512];
	int head = 0;

	json_array_foreach(get(r, "questions"), i, d) {
		if (json_array_size(get(d, "wordings")) < 2)
			continue;
		if (!head++)
			fputs("Wording changed between campaign versions (answers were given under each):\n", out);
		fprintf(out, "  %s\n", str(d, "id"));
		json_array_foreach(get(d, "wordings"), k, w) {
			versions_text(w, vb, sizeof vb);
			fprintf(out, "    version %s: %s\n", vb, str(w, "text"));
		}
	}
}

static void table(const json_t *r, FILE *out)
{
	const json_t *f = get(r, "filters"), *rank = get(r, "ranking"), *trend = get(r, "trend");
	const char *k;
	const json_t *v;
	size_t i;

	fprintf(out, "Campaign %s \"%s\" (version %s), periods in %s (UTC%s)\n", str(r, "campaign"), str(r, "name"),
	        json_is_string(get(r, "version")) ? str(r, "version") : "-", str(r, "timezone"), str(r, "utc_offset"));
	fputs("Filters:", out);
	i = 0;
	json_object_foreach((json_t *)f, k, v)
		if (json_is_string(v) && (i = 1))
			fprintf(out, " %s=%s", k, json_string_value(v));
	fputs(i ? "\n" : " none\n", out);
	table_wordings(r, out);
	table_slice(r, get(r, "total"), out);
	for (i = 0; i < json_array_size(get(r, "slices")) && json_array_size(get(r, "by")); i++)
		table_slice(r, json_array_get(get(r, "slices"), i), out);
	fprintf(out, "\n== Ranking by %s (pooled share; a unit is ranked below another only when their "
	        "95%% intervals do not overlap) ==\n", str(rank, "by"));
	fputs("Rank  ", out);
	cell(out, "Unit", 24, 0);
	fputs("    Share  95% interval     Respondents  Cannot be told apart from\n", out);
	for (i = 0; i < json_array_size(get(rank, "units")); i++) {
		const json_t *u = json_array_get(get(rank, "units"), i), *ov = get(u, "overlaps_with");
		char b[2][64];

		fmt_pct(b[0], sizeof b[0], num(u, "share_pct"));
		fmt_ci(b[1], sizeof b[1], u);
		if (json_is_integer(get(u, "rank")))
			fprintf(out, "%4lld  ", integer(u, "rank"));
		else
			fputs("   -  ", out);
		cell(out, str(u, "unit")[0] ? str(u, "unit") : "(none)", 24, 0);
		fprintf(out, "  %7s  %-15s  %11lld%s  ", b[0], b[1], integer(u, "respondents"),
		        json_is_true(get(u, "few_responses")) ? "!" : " ");
		for (size_t j = 0; j < json_array_size(ov); j++)
			fprintf(out, "%s%s", j ? ", " : "", json_string_value(json_array_get(ov, j)));
		fputc('\n', out);
	}
	fprintf(out, "\n== Trend by %s ==\n", str(trend, "by"));
	fputs("Period        Surveys  Completed    Share  95% interval     Respondents\n", out);
	for (i = 0; i < json_array_size(get(trend, "periods")); i++) {
		const json_t *p = json_array_get(get(trend, "periods"), i);
		const json_t *pooled = get(get(p, "overall"), "pooled");
		const char *lab = "";
		char b[2][64];

		json_object_foreach((json_t *)get(p, "key"), k, v)
			lab = json_string_value(v);
		fmt_pct(b[0], sizeof b[0], num(pooled, "share_pct"));
		fmt_ci(b[1], sizeof b[1], pooled);
		fprintf(out, "%-12s  %7lld  %9lld  %7s  %-15s  %11lld%s\n", lab[0] ? lab : "(no date)",
		        integer(p, "surveys"), integer(p, "completed"), b[0], b[1], integer(p, "respondents"),
		        json_is_true(get(p, "few_responses")) ? " !" : "");
	}
	fputs("\n! fewer than 30 responses: read with care.\n", out);
}

/* ---- CSV: UTF-8 with a byte order mark, so Excel reads Vietnamese right ---- */

static void csv_num(FILE *out, const json_t *o, const char *k)
{
	double v = num(o, k);

	if (!isnan(v)) {
		if (json_is_integer(get(o, k)))
			fprintf(out, "%lld", integer(o, k));
		else
			fprintf(out, "%.4f", v);
	}
}

static const char csv_header[] = "slice,section,id,text,group,type,value,label,n,respondents,satisfied,"
	"share_pct,ci_low_pct,ci_high_pct,mean,flag\n";

/* One row; o holds the numbers (n from nkey). */
static void csv_row(FILE *out, const char *slice, const char *section, const char *id, const char *text,
                    const char *grp, const char *type, const char *value, const char *label,
                    const json_t *o, const char *nkey, const char *flag)
{
	const char *f[8] = {slice, section, id, text, grp, type, value, label};

	for (int i = 0; i < 8; i++) {
		csv_field(out, f[i]);
		fputc(',', out);
	}
	csv_num(out, o, nkey);
	fputc(',', out);
	csv_num(out, o, "respondents");
	fputc(',', out);
	csv_num(out, o, "satisfied");
	fputc(',', out);
	csv_num(out, o, "share_pct");
	fputc(',', out);
	csv_num(out, o, "ci_low_pct");
	fputc(',', out);
	csv_num(out, o, "ci_high_pct");
	fputc(',', out);
	csv_num(out, o, "mean");
	fputc(',', out);
	csv_field(out, flag);
	fputc('\n', out);
}

static void csv_slice(const json_t *r, const json_t *s, FILE *out)
{
	const json_t *defs = get(r, "questions"), *o = get(s, "overall");
	const char *k;
	const json_t *v;
	char label[512];

	key_label(get(s, "key"), label, sizeof label, ";");
	csv_row(out, label, "surveys", "", "", "", "", "", "", s, "surveys", "");
	json_object_foreach((json_t *)get(s, "by_status"), k, v) {
		json_t *x = json_pack("{s:O, s:o}", "n", v, "share_pct",
		                      integer(s, "surveys") ? json_real(100.0 * (double)json_integer_value(v) /
		                                                        (double)integer(s, "surveys"))
		                                            : json_null());
		csv_row(out, label, "status", k, "", "", "", "", "", x, "n", "");
		json_decref(x);
	}
	{
		json_t *x = json_pack("{s:O, s:O}", "n", get(get(s, "response_rate"), "citizens"), "share_pct",
		                      get(get(s, "response_rate"), "by_citizen_pct"));
		json_t *y = json_pack("{s:O, s:O}", "n", get(s, "surveys"), "share_pct",
		                      get(get(s, "response_rate"), "by_survey_pct"));

		csv_row(out, label, "response_rate", "by_survey", "", "", "", "", "", y, "n", "");
		csv_row(out, label, "response_rate", "by_citizen", "", "", "", "", "", x, "n", "");
		json_decref(x);
		json_decref(y);
	}
	for (size_t i = 0; i < json_array_size(get(s, "questions")); i++) {
		const json_t *q = json_array_get(get(s, "questions"), i), *d = json_array_get(defs, i);
		const json_t *opts = get(d, "options");

		csv_row(out, label, "question", str(d, "id"), str(d, "text"), str(d, "group"), str(d, "type"), "",
		        "", q, "answers", json_is_true(get(q, "few_responses")) ? "fewer_than_30" : "");
		if (strcmp(label, "total") == 0 && json_array_size(get(d, "wordings")) > 1) {
			const json_t *w;
			size_t wi;
			char vb[512];

			json_array_foreach(get(d, "wordings"), wi, w) {
				versions_text(w, vb, sizeof vb);
				csv_row(out, label, "wording", str(d, "id"), str(w, "text"), str(d, "group"), str(d, "type"),
				        "", vb, NULL, NULL, "");
			}
		}
		json_object_foreach((json_t *)get(q, "counts"), k, v) {
			const char *lab = "", *flag = "";
			json_t *x = json_pack("{s:O}", "n", v);

			for (size_t j = 0; j < json_array_size(opts); j++) {
				const json_t *op = json_array_get(opts, j);
				char vb[24];

				snprintf(vb, sizeof vb, "%lld", integer(op, "value"));
				if (strcmp(vb, k) == 0) {
					lab = str(op, "label");
					flag = json_is_true(get(op, "satisfied")) ? "satisfied" : "";
				}
			}
			csv_row(out, label, "value", str(d, "id"), "", str(d, "group"), str(d, "type"), k, lab, x, "n",
			        flag);
			json_decref(x);
		}
	}
	for (size_t i = 0; i < json_array_size(get(s, "groups")); i++) {
		const json_t *g = json_array_get(get(s, "groups"), i);

		csv_row(out, label, "group", "", "", str(g, "group"), "", "", "", g, "ratings",
		        json_is_true(get(g, "few_responses")) ? "fewer_than_30" : "");
	}
	csv_row(out, label, "overall", "pooled", str(get(o, "pooled"), "method"), "", "", "", "",
	        get(o, "pooled"), "ratings", json_is_true(get(s, "few_responses")) ? "fewer_than_30" : "");
	csv_row(out, label, "overall", "mean_of_groups", str(get(o, "mean_of_groups"), "method"), "", "", "",
	        "", get(o, "mean_of_groups"), "groups", "");
}

static void csv(const json_t *r, FILE *out)
{
	const json_t *rank = get(r, "ranking");

	fputs("\xEF\xBB\xBF", out);
	fputs(csv_header, out);
	csv_slice(r, get(r, "total"), out);
	for (size_t i = 0; i < json_array_size(get(r, "slices")) && json_array_size(get(r, "by")); i++)
		csv_slice(r, json_array_get(get(r, "slices"), i), out);
	for (size_t i = 0; i < json_array_size(get(rank, "units")); i++) {
		const json_t *u = json_array_get(get(rank, "units"), i), *ov = get(u, "overlaps_with");
		char rankb[24] = "", *slice = NULL, *over = NULL;
		size_t slen = 0, olen = 0;
		FILE *so = open_memstream(&slice, &slen), *oo = open_memstream(&over, &olen);

		/* named as the slices are ((none) for no unit); no rank left empty,
		 * not 0; the units it overlaps separated by "; ", since names hold
		 * spaces and commas ("Công an Hà Nội"), whole however many */
		if (so && oo) {
			fprintf(so, "%s=%s", str(rank, "by"), str(u, "unit")[0] ? str(u, "unit") : "(none)");
			for (size_t j = 0; j < json_array_size(ov); j++) {
				const char *w = json_string_value(json_array_get(ov, j));

				fprintf(oo, "%s%s", j ? "; " : "", w && w[0] ? w : "(none)");
			}
		}
		if (so)
			fclose(so);
		if (oo)
			fclose(oo);
		if (json_is_integer(get(u, "rank")))
			snprintf(rankb, sizeof rankb, "%lld", integer(u, "rank"));
		csv_row(out, slice ? slice : "", "ranking", rankb, over ? over : "", "", "", "", "", u, "ratings",
		        json_is_true(get(u, "few_responses")) ? "fewer_than_30" : "");
		free(slice);
		free(over);
	}
}

int report_write(const json_t *r, enum report_format fmt, FILE *out)
{
	switch (fmt) {
	case REPORT_FMT_TABLE:
		table(r, out);
		break;
	case REPORT_FMT_CSV:
		csv(r, out);
		break;
	case REPORT_FMT_JSON:
		if (json_dumpf(r, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) < 0)
			return -EIO;
		fputc('\n', out);
		break;
	case REPORT_FMT_HTML:
		return report_write_html(r, out, 0);
	}
	return ferror(out) ? -EIO : 0;
}

int report_write_comments(const json_t *c, enum report_format fmt, FILE *out)
{
	static const char *const cols[] = {"date", "agency", "procedure", "channel", "status", "question",
	                                   "question_text", "text", "survey_id"};
	const size_t ncols = sizeof cols / sizeof cols[0];

	if (fmt == REPORT_FMT_JSON) {
		if (json_dumpf(c, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			return -EIO;
		fputc('\n', out);
		return ferror(out) ? -EIO : 0;
	}
	fputs("\xEF\xBB\xBF", out);
	for (size_t k = 0; k < ncols; k++)
		fprintf(out, "%s%s", k ? "," : "", cols[k]);
	fputc('\n', out);
	for (size_t i = 0; i < json_array_size(c); i++) {
		for (size_t k = 0; k < ncols; k++) {
			const char *v = str(json_array_get(c, i), cols[k]);
			if (k)
				fputc(',', out);
			/* a citizen's text that a spreadsheet would take for a formula
			 * ("=HYPERLINK(...)", or "- cán bộ..." shown as #NAME?) is kept
			 * text by a leading apostrophe (OWASP, CSV injection) */
			if (strcmp(cols[k], "text") == 0 && v && v[0] && strchr("=+-@\t\r", v[0])) {
				size_t n = strlen(v) + 2;
				char *t = malloc(n);
				if (!t)
					return -ENOMEM;
				snprintf(t, n, "'%s", v);
				csv_field(out, t);
				free(t);
			} else {
				csv_field(out, v);
			}
		}
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}
