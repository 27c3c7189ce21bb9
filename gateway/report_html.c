/* report_html: the report document (report.h) as one self-contained HTML page with inline SVG charts, print-friendly (A4). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

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

/* Text escaped for HTML element content and attribute values. */
static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out); break;
		}
	}
}

/* At most max characters of UTF-8 text s (escaped), with "…" when cut. */
static void esc_short(FILE *out, const char *s, int max)
{
	const char *p = s;
	int n = 0;

	while (*p && n < max) {
		p++;
		while ((*p & 0xC0) == 0x80)
			p++;
		n++;
	}
	if (!*p) {
		esc(out, s);
		return;
	}
	{
		size_t len = (size_t)(p - s);
		char buf[512];

		if (len >= sizeof buf)
			len = sizeof buf - 1;
		memcpy(buf, s, len);
		buf[len] = '\0';
		esc(out, buf);
		fputs("…", out);
	}
}

/* A percentage cell: the number with 2 decimals, or "–" (no data). */
static void pct(FILE *out, double v)
{
	if (isnan(v))
		fputs("–", out);
	else
		fprintf(out, "%.2f%%", v);
}

static void ci(FILE *out, const json_t *o)
{
	if (isnan(num(o, "ci_low_pct")))
		fputs("–", out);
	else
		fprintf(out, "%.2f–%.2f%%", num(o, "ci_low_pct"), num(o, "ci_high_pct"));
}

static const char css[] =
	"@page{size:A4;margin:15mm}"
	"body{font-family:'DejaVu Sans','Noto Sans',Arial,sans-serif;font-size:11pt;color:#222;"
	"max-width:190mm;margin:0 auto;padding:8px}"
	"h1{font-size:16pt;margin:0 0 4px}h2{font-size:13pt;margin:18px 0 6px;border-bottom:1px solid #999}"
	"h3{font-size:11pt;margin:10px 0 4px}"
	"table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-size:9.5pt}"
	"th,td{border:1px solid #bbb;padding:2px 4px;text-align:left;vertical-align:top}"
	"td.n{text-align:right;white-space:nowrap}th{background:#eee}"
	".few{color:#a40}.meta{color:#555;font-size:9pt}"
	"svg{display:block;margin:4px 0 10px;max-width:100%}svg text{font-size:10px;fill:#222}"
	".bar{fill:#3a7bbf}.bar.few{fill:#e0a060}.whisker{stroke:#222;stroke-width:1.2}"
	".axis{stroke:#999;stroke-width:1}"
	"section{break-inside:avoid;page-break-inside:avoid}"
	"@media print{body{max-width:none}a{color:inherit;text-decoration:none}}";

/* Horizontal bars with interval whiskers on a 0-100% axis. Each item is an
 * object with share_pct, ci_low_pct, ci_high_pct; labels[i] names it. */
static void hbars(FILE *out, const char *cls, const json_t *const *items, const char *const *labels,
                  const int *few, size_t n)
{
	const int lw = 260, bw = 380, rowh = 22, top = 18;
	int h = top + (int)n * rowh + 8;

	fprintf(out, "<svg class=\"chart %s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
	        cls, lw + bw + 60, h, lw + bw + 60, h);
	for (int t = 0; t <= 100; t += 25) {
		int x = lw + bw * t / 100;

		fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		        "<text x=\"%d\" y=\"12\" text-anchor=\"middle\">%d%%</text>", x, top - 4, x, h - 6, x, t);
	}
	for (size_t i = 0; i < n; i++) {
		double s = num(items[i], "share_pct"), lo = num(items[i], "ci_low_pct"),
		       hi = num(items[i], "ci_high_pct");
		int y = top + (int)i * rowh;

		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 6, y + 14);
		esc_short(out, labels[i], 40);
		fputs("</text>", out);
		if (isnan(s)) {
			fprintf(out, "<text x=\"%d\" y=\"%d\">no data</text>", lw + 4, y + 14);
			continue;
		}
		fprintf(out, "<rect class=\"bar%s\" data-value=\"%.2f\" x=\"%d\" y=\"%d\" width=\"%.1f\" "
		        "height=\"%d\"><title>", few && few[i] ? " few" : "", s, lw, y + 3, bw * s / 100.0,
		        rowh - 8);
		esc(out, labels[i]);
		fprintf(out, ": %.2f%% (%.2f–%.2f%%)</title></rect>", s, lo, hi);
		fprintf(out, "<line class=\"whisker\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
		        "<line class=\"whisker\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
		        "<line class=\"whisker\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>",
		        lw + bw * lo / 100.0, y + 7, lw + bw * hi / 100.0, y + 7,
		        lw + bw * lo / 100.0, y + 3, lw + bw * lo / 100.0, y + 11,
		        lw + bw * hi / 100.0, y + 3, lw + bw * hi / 100.0, y + 11);
		fprintf(out, "<text x=\"%d\" y=\"%d\">%.1f%%</text>", lw + bw + 6, y + 14, s);
	}
	fputs("</svg>\n", out);
}

static void summary(FILE *out, const json_t *s)
{
	const json_t *rr = get(s, "response_rate"), *o = get(s, "overall");
	const json_t *p = get(o, "pooled"), *m = get(o, "mean_of_groups");
	const char *k;
	const json_t *v;

	fputs("<table class=\"summary\"><tr><th>Surveys triggered</th><td class=\"n\" data-k=\"surveys\">", out);
	fprintf(out, "%lld</td></tr><tr><th>Completed</th><td class=\"n\" data-k=\"completed\">%lld</td></tr>",
	        integer(s, "surveys"), integer(s, "completed"));
	json_object_foreach((json_t *)get(s, "by_status"), k, v) {
		if (strcmp(k, "completed") == 0)
			continue;
		fprintf(out, "<tr><th>– ");
		esc(out, k);
		fprintf(out, "</th><td class=\"n\">%lld</td></tr>", (long long)json_integer_value(v));
	}
	fputs("<tr><th>Response rate by survey</th><td class=\"n\" data-k=\"by_survey_pct\">", out);
	pct(out, num(rr, "by_survey_pct"));
	fprintf(out, " (%lld/%lld)</td></tr><tr><th>Response rate by citizen</th>"
	        "<td class=\"n\" data-k=\"by_citizen_pct\">", integer(s, "completed"), integer(s, "surveys"));
	pct(out, num(rr, "by_citizen_pct"));
	fprintf(out, " (%lld/%lld)</td></tr><tr><th>Satisfied, overall (", integer(rr, "citizens_completed"),
	        integer(rr, "citizens"));
	esc(out, str(p, "method"));
	fputs(")</th><td class=\"n\" data-k=\"pooled_share_pct\">", out);
	pct(out, num(p, "share_pct"));
	fprintf(out, " (%lld/%lld), 95%% interval ", integer(p, "satisfied"), integer(p, "ratings"));
	ci(out, p);
	fputs("</td></tr><tr><th>Satisfied, overall (", out);
	esc(out, str(m, "method"));
	fputs(")</th><td class=\"n\" data-k=\"mean_of_groups_share_pct\">", out);
	pct(out, num(m, "share_pct"));
	fprintf(out, " over %lld groups</td></tr><tr><th>Respondents</th><td class=\"n%s\">%lld%s</td></tr>"
	        "</table>\n", integer(m, "groups"), json_is_true(get(s, "few_responses")) ? " few" : "",
	        integer(s, "respondents"),
	        json_is_true(get(s, "few_responses")) ? " — fewer than 30: read with care" : "");
}

static void questions(FILE *out, const json_t *r, const json_t *s)
{
	const json_t *defs = get(r, "questions"), *items[64];
	const char *labels[64];
	int few[64];
	size_t n = 0;

	fputs("<table class=\"questions\"><tr><th>Question</th><th>Group</th><th>Answers</th><th>Satisfied"
	      "</th><th>Share</th><th>95% interval</th><th>Mean</th></tr>\n", out);
	for (size_t i = 0; i < json_array_size(get(s, "questions")); i++) {
		const json_t *q = json_array_get(get(s, "questions"), i), *d = json_array_get(defs, i);

		fputs("<tr><td>", out);
		esc(out, str(d, "text")[0] ? str(d, "text") : str(d, "id"));
		fputs(" <span class=\"meta\">(", out);
		esc(out, str(d, "id"));
		fputs(")</span>", out);
		if (json_array_size(get(d, "wordings")) > 1) {
			const json_t *w, *v;
			size_t k, j;

			/* answers were given under each of these wordings */
			fprintf(out, "<ul class=\"wordings meta\" data-wordings=\"%s\">", str(d, "id"));
			json_array_foreach(get(d, "wordings"), k, w) {
				fputs("<li>", out);
				json_array_foreach(get(w, "versions"), j, v) {
					fputs(j ? ", " : "version ", out);
					esc(out, json_string_value(v));
				}
				fputs(": ", out);
				esc(out, str(w, "text"));
				fputs("</li>", out);
			}
			fputs("</ul>", out);
		}
		fputs("</td><td>", out);
		esc(out, str(d, "group"));
		fprintf(out, "</td><td class=\"n\">%lld</td>", integer(q, "answers"));
		if (json_is_true(get(d, "rated"))) {
			fprintf(out, "<td class=\"n\">%lld</td><td class=\"n%s\" data-q=\"%s\">", integer(q, "satisfied"),
			        json_is_true(get(q, "few_responses")) ? " few" : "", str(d, "id"));
			pct(out, num(q, "share_pct"));
			fputs("</td><td class=\"n\">", out);
			ci(out, q);
			fputs("</td>", out);
			if (n < 64) {
				items[n] = q;
				labels[n] = str(d, "text")[0] ? str(d, "text") : str(d, "id");
				few[n] = json_is_true(get(q, "few_responses"));
				n++;
			}
		} else {
			if (get(q, "comments"))
				fprintf(out, "<td class=\"n\">–</td><td class=\"n\" colspan=\"2\">%lld comments</td>",
				        integer(q, "comments"));
			else
				fputs("<td class=\"n\">–</td><td class=\"n\">–</td><td class=\"n\">–</td>", out);
		}
		if (isnan(num(q, "mean")))
			fputs("<td class=\"n\">–</td></tr>\n", out);
		else
			fprintf(out, "<td class=\"n\">%.2f</td></tr>\n", num(q, "mean"));
	}
	fputs("</table>\n<h3>Share satisfied per question, with its 95% interval</h3>\n", out);
	hbars(out, "chart-questions", items, labels, few, n);
}

/* Counts per answer value, one small bar chart per question with options. */
static void counts(FILE *out, const json_t *r, const json_t *s)
{
	const json_t *defs = get(r, "questions");

	for (size_t i = 0; i < json_array_size(get(s, "questions")); i++) {
		const json_t *q = json_array_get(get(s, "questions"), i), *d = json_array_get(defs, i);
		const json_t *opts = get(d, "options");
		size_t no = json_array_size(opts);
		long long max = 1;
		int w = 60 + (int)no * 110, h = 130;

		if (no == 0)
			continue;
		for (size_t k = 0; k < no; k++) {
			char v[24];

			snprintf(v, sizeof v, "%lld", integer(json_array_get(opts, k), "value"));
			if (integer(get(q, "counts"), v) > max)
				max = integer(get(q, "counts"), v);
		}
		fputs("<section><h3>", out);
		esc(out, str(d, "text")[0] ? str(d, "text") : str(d, "id"));
		fprintf(out, "</h3><svg class=\"chart chart-counts\" data-q=\"%s\" width=\"%d\" height=\"%d\" "
		        "viewBox=\"0 0 %d %d\" role=\"img\">", str(d, "id"), w, h, w, h);
		fprintf(out, "<line class=\"axis\" x1=\"30\" y1=\"95\" x2=\"%d\" y2=\"95\"/>", w - 10);
		for (size_t k = 0; k < no; k++) {
			const json_t *op = json_array_get(opts, k);
			char v[24];
			long long c;
			double bh;
			int x = 50 + (int)k * 110;

			snprintf(v, sizeof v, "%lld", integer(op, "value"));
			c = integer(get(q, "counts"), v);
			bh = 80.0 * (double)c / (double)max;
			fprintf(out, "<rect class=\"bar\" data-value=\"%lld\" x=\"%d\" y=\"%.1f\" width=\"60\" "
			        "height=\"%.1f\"><title>", c, x, 95 - bh, bh);
			esc(out, str(op, "label"));
			fprintf(out, ": %lld</title></rect><text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">%lld</text>"
			        "<text x=\"%d\" y=\"110\" text-anchor=\"middle\">", c, x + 30, 92 - bh, c, x + 30);
			esc(out, str(op, "label"));
			fprintf(out, "</text><text x=\"%d\" y=\"123\" text-anchor=\"middle\">(%s)</text>", x + 30, v);
		}
		fputs("</svg></section>\n", out);
	}
}

static void ranking(FILE *out, const json_t *r)
{
	const json_t *rank = get(r, "ranking"), *units = get(rank, "units"), *items[256] = {0};
	const char *labels[256] = {0};
	int few[256] = {0};
	size_t n = json_array_size(units) < 256 ? json_array_size(units) : 256;

	fprintf(out, "<section><h2>Units ranked by %s</h2><p class=\"meta\">Pooled share satisfied. A unit "
	        "is ranked below another only when their 95%% intervals do not overlap; units that cannot be "
	        "told apart share a rank and name each other.</p>\n", str(rank, "by"));
	for (size_t i = 0; i < n; i++) {
		const json_t *u = json_array_get(units, i);

		items[i] = u;
		labels[i] = str(u, "unit")[0] ? str(u, "unit") : "(none)";
		few[i] = json_is_true(get(u, "few_responses"));
	}
	hbars(out, "chart-ranking", items, labels, few, n);
	if (n < json_array_size(units))
		fprintf(out, "<p class=\"meta\">The chart shows the first %zu of %zu units; the table lists them all.</p>\n",
		        n, json_array_size(units));
	fputs("<table class=\"ranking\"><tr><th>Rank</th><th>Unit</th><th>Share</th><th>95% interval</th>"
	      "<th>Respondents</th><th>Cannot be told apart from</th></tr>\n", out);
	/* the chart draws the first 256; the table lists every unit */
	for (size_t i = 0; i < json_array_size(units); i++) {
		const json_t *u = json_array_get(units, i), *ov = get(u, "overlaps_with");
		const char *label = str(u, "unit")[0] ? str(u, "unit") : "(none)";

		if (json_is_integer(get(u, "rank")))
			fprintf(out, "<tr><td class=\"n\">%lld</td><td>", integer(u, "rank"));
		else
			fputs("<tr><td class=\"n\">–</td><td>", out);
		esc(out, label);
		fputs("</td><td class=\"n\" data-unit=\"", out);
		esc(out, str(u, "unit"));
		fputs("\">", out);
		pct(out, num(u, "share_pct"));
		fputs("</td><td class=\"n\">", out);
		ci(out, u);
		fprintf(out, "</td><td class=\"n%s\">%lld</td><td>", json_is_true(get(u, "few_responses")) ? " few" : "",
		        integer(u, "respondents"));
		for (size_t j = 0; j < json_array_size(ov); j++) {
			fputs(j ? ", " : "", out);
			esc(out, json_string_value(json_array_get(ov, j)));
		}
		fputs("</td></tr>\n", out);
	}
	fputs("</table></section>\n", out);
}

static void trend(FILE *out, const json_t *r)
{
	const json_t *t = get(r, "trend"), *ps = get(t, "periods");
	size_t n = json_array_size(ps);
	int bw = n > 40 ? 12 : n > 12 ? 24 : 48, w = 50 + (int)n * (bw + 6) + 30, h = 200;

	fprintf(out, "<section><h2>Trend by %s</h2>\n<svg class=\"chart chart-trend\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", str(t, "by"), w, h, w, h);
	for (int v = 0; v <= 100; v += 25)
		fprintf(out, "<line class=\"axis\" x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/><text x=\"36\" y=\"%d\" "
		        "text-anchor=\"end\">%d%%</text>", 130 - v, w - 6, 130 - v, 134 - v, v);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(ps, i), *po = get(get(p, "overall"), "pooled");
		const char *lab = "";
		const char *k;
		const json_t *v;
		double s = num(po, "share_pct");
		int x = 46 + (int)i * (bw + 6);

		json_object_foreach((json_t *)get(p, "key"), k, v)
			lab = json_string_value(v);
		if (!isnan(s)) {
			fprintf(out, "<rect class=\"bar%s\" data-value=\"%.2f\" x=\"%d\" y=\"%.1f\" width=\"%d\" "
			        "height=\"%.1f\"><title>%s: %.2f%% (%lld surveys)</title></rect>",
			        json_is_true(get(p, "few_responses")) ? " few" : "", s, x, 130 - s, bw, s, lab, s,
			        integer(p, "surveys"));
			fprintf(out, "<line class=\"whisker\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>",
			        x + bw / 2, 130 - num(po, "ci_low_pct"), x + bw / 2, 130 - num(po, "ci_high_pct"));
		}
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" transform=\"rotate(-45 %d %d)\">%s</text>",
		        x + bw / 2, 146, x + bw / 2, 146, lab[0] ? lab : "?");
	}
	fputs("</svg>\n<table class=\"trend\"><tr><th>Period</th><th>Surveys</th><th>Completed</th>"
	      "<th>Share satisfied</th><th>95% interval</th><th>Respondents</th></tr>\n", out);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(ps, i), *po = get(get(p, "overall"), "pooled");
		const char *lab = "", *k;
		const json_t *v;

		json_object_foreach((json_t *)get(p, "key"), k, v)
			lab = json_string_value(v);
		fputs("<tr><td>", out);
		esc(out, lab[0] ? lab : "(no date)");
		fprintf(out, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">",
		        integer(p, "surveys"), integer(p, "completed"));
		pct(out, num(po, "share_pct"));
		fputs("</td><td class=\"n\">", out);
		ci(out, po);
		fprintf(out, "</td><td class=\"n%s\">%lld</td></tr>\n",
		        json_is_true(get(p, "few_responses")) ? " few" : "", integer(p, "respondents"));
	}
	fputs("</table></section>\n", out);
}

static void slices(FILE *out, const json_t *r)
{
	const json_t *by = get(r, "by"), *ss = get(r, "slices");

	if (json_array_size(by) == 0)
		return;
	fputs("<section><h2>By", out);
	for (size_t i = 0; i < json_array_size(by); i++) {
		fputs(i ? " and " : " ", out);
		esc(out, json_string_value(json_array_get(by, i)));
	}
	fputs("</h2>\n<table class=\"slices\"><tr>", out);
	for (size_t i = 0; i < json_array_size(by); i++) {
		fputs("<th>", out);
		esc(out, json_string_value(json_array_get(by, i)));
		fputs("</th>", out);
	}
	fputs("<th>Surveys</th><th>Completed</th><th>Response rate (survey)</th><th>Response rate (citizen)"
	      "</th><th>Share satisfied (pooled)</th><th>95% interval</th><th>Mean of groups</th>"
	      "<th>Respondents</th></tr>\n", out);
	for (size_t i = 0; i < json_array_size(ss); i++) {
		const json_t *s = json_array_get(ss, i), *o = get(s, "overall");

		fputs("<tr>", out);
		for (size_t d = 0; d < json_array_size(by); d++) {
			const char *v = str(get(s, "key"), json_string_value(json_array_get(by, d)));

			fputs("<td>", out);
			esc(out, v[0] ? v : "(none)");
			fputs("</td>", out);
		}
		fprintf(out, "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">", integer(s, "surveys"),
		        integer(s, "completed"));
		pct(out, num(get(s, "response_rate"), "by_survey_pct"));
		fputs("</td><td class=\"n\">", out);
		pct(out, num(get(s, "response_rate"), "by_citizen_pct"));
		fputs("</td><td class=\"n\">", out);
		pct(out, num(get(o, "pooled"), "share_pct"));
		fputs("</td><td class=\"n\">", out);
		ci(out, get(o, "pooled"));
		fputs("</td><td class=\"n\">", out);
		pct(out, num(get(o, "mean_of_groups"), "share_pct"));
		fprintf(out, "</td><td class=\"n%s\">%lld</td></tr>\n", json_is_true(get(s, "few_responses")) ? " few" : "",
		        integer(s, "respondents"));
	}
	fputs("</table></section>\n", out);
}

int report_write_html(const json_t *r, FILE *out, int refresh_s)
{
	const json_t *total = get(r, "total"), *f = get(r, "filters");
	const char *k;
	const json_t *v;
	int any = 0;

	fputs("<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">", out);
	if (refresh_s > 0)
		fprintf(out, "<meta http-equiv=\"refresh\" content=\"%d\">", refresh_s);
	fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>", out);
	esc(out, str(r, "name")[0] ? str(r, "name") : str(r, "campaign"));
	fprintf(out, "</title><style>%s</style></head><body>\n<h1>", css);
	esc(out, str(r, "name")[0] ? str(r, "name") : str(r, "campaign"));
	fputs("</h1>\n<p class=\"meta\">Campaign ", out);
	esc(out, str(r, "campaign"));
	fputs(", version ", out);
	esc(out, json_is_string(get(r, "version")) ? str(r, "version") : "–");
	fputs("; periods in ", out);
	esc(out, str(r, "timezone"));
	fprintf(out, " (UTC%s); filters:", str(r, "utc_offset"));
	json_object_foreach((json_t *)f, k, v) {
		if (!json_is_string(v))
			continue;
		fputs(" ", out);
		esc(out, k);
		fputs("=", out);
		esc(out, json_string_value(v));
		any = 1;
	}
	fputs(any ? "" : " none", out);
	fprintf(out, ". Interval: %s. A figure over fewer than %lld respondents is marked "
	        "<span class=\"few\">in orange</span>.</p>\n", str(get(r, "methods"), "interval"),
	        integer(r, "min_responses"));
	fputs("<section><h2>Summary</h2>\n", out);
	summary(out, total);
	fputs("</section>\n<section><h2>Questions</h2>\n", out);
	questions(out, r, total);
	fputs("</section>\n", out);
	if (json_array_size(get(total, "groups"))) {
		fputs("<section><h2>Criteria groups</h2><table class=\"groups\"><tr><th>Group</th><th>Ratings</th>"
		      "<th>Satisfied</th><th>Share</th><th>95% interval</th><th>Mean</th><th>Respondents</th></tr>\n",
		      out);
		for (size_t i = 0; i < json_array_size(get(total, "groups")); i++) {
			const json_t *g = json_array_get(get(total, "groups"), i);

			fputs("<tr><td>", out);
			esc(out, str(g, "group")[0] ? str(g, "group") : "(no group)");
			fprintf(out, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">",
			        integer(g, "ratings"), integer(g, "satisfied"));
			pct(out, num(g, "share_pct"));
			fputs("</td><td class=\"n\">", out);
			ci(out, g);
			if (isnan(num(g, "mean")))
				fputs("</td><td class=\"n\">–", out);
			else
				fprintf(out, "</td><td class=\"n\">%.2f", num(g, "mean"));
			fprintf(out, "</td><td class=\"n%s\">%lld</td></tr>\n",
			        json_is_true(get(g, "few_responses")) ? " few" : "", integer(g, "respondents"));
		}
		fputs("</table></section>\n", out);
	}
	ranking(out, r);
	trend(out, r);
	slices(out, r);
	fputs("<section><h2>Answers per value</h2>\n", out);
	counts(out, r, total);
	fputs("</section>\n</body></html>\n", out);
	return ferror(out) ? -EIO : 0;
}
