/* audit_compare: the re-survey against the original answers: reach, agreement, Cohen's kappa, a paired sign test (docs/audit.md). */
#include "audit.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "csv.h"

#define CMP_MAXQ 64        /* questions compared */
#define CMP_MAXV 16        /* distinct values of one question in the kappa table */
#define CMP_NEVER_VALUE 2  /* yesno: 2 = Không (no) */

struct cq {                /* one question of the original campaign */
	char *id;
	int rated;             /* has a satisfied list: higher = more positive (the sign test) */
};

struct cstat {             /* pairs of answers to one question, or pooled for one unit */
	int64_t pairs, agree;
	int vals[CMP_MAXV], nvals;
	int64_t table[CMP_MAXV * CMP_MAXV];
	int overflow;          /* more than CMP_MAXV values: kappa not computed */
};

struct cunit {
	char *name;
	int64_t audits, reached, not_reached, never;
	int pos, neg, ties;    /* per reached survey: sign of sum(original - audit) over rated questions */
	struct cstat st;       /* its pairs, all questions pooled */
	struct cstat *qst;     /* its pairs per question (nq), owned */
};

/* What the writers print. */
struct cres {
	const struct audit_compare_opts *o;
	const char *by, *idq;
	double alpha;
	const struct cq *qs;
	const struct cstat *qst;
	int nq;
	const struct cunit *u;
	int nu;
};

static const char cmp_method[] =
	"one-sided paired sign test: per reached survey the sign of the sum over rated questions of"
	" (original - audit); ties dropped; p = P(X >= positives), X ~ Binomial(n, 1/2)";

static void cmp_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cmp_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

double audit_sign_p(int pos, int neg)
{
	int n = pos + neg;
	double p = 0;

	if (n == 0)
		return 1.0;
	/* sum_{k=pos}^{n} C(n,k) / 2^n, in logs so large n does not overflow */
	for (int k = pos; k <= n; k++)
		p += exp(lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) - n * log(2.0));
	return p > 1.0 ? 1.0 : p;
}

double audit_kappa(const int64_t *table, int n)
{
	double total = 0, po = 0, pe = 0;

	for (int i = 0; i < n * n; i++)
		total += (double)table[i];
	if (total <= 0)
		return NAN;
	for (int i = 0; i < n; i++) {
		double row = 0, col = 0;
		for (int j = 0; j < n; j++) {
			row += (double)table[i * n + j];
			col += (double)table[j * n + i];
		}
		po += (double)table[i * n + i];
		pe += (row / total) * (col / total);
	}
	po /= total;
	if (pe >= 1.0)
		return NAN;
	return (po - pe) / (1.0 - pe);
}

static int stat_index(struct cstat *st, int v)
{
	for (int i = 0; i < st->nvals; i++)
		if (st->vals[i] == v)
			return i;
	if (st->nvals == CMP_MAXV) {
		st->overflow = 1;
		return -1;
	}
	/* keep the values sorted: a new one shifts the table's rows and columns */
	int pos = st->nvals;
	while (pos > 0 && st->vals[pos - 1] > v)
		pos--;
	int64_t old[CMP_MAXV * CMP_MAXV];
	memcpy(old, st->table, sizeof old);
	memset(st->table, 0, sizeof st->table);
	for (int i = 0; i < st->nvals; i++)
		for (int j = 0; j < st->nvals; j++)
			st->table[(i + (i >= pos)) * CMP_MAXV + j + (j >= pos)] = old[i * CMP_MAXV + j];
	memmove(&st->vals[pos + 1], &st->vals[pos], sizeof st->vals[0] * (size_t)(st->nvals - pos));
	st->vals[pos] = v;
	st->nvals++;
	return pos;
}

static void stat_add(struct cstat *st, int orig, int audit)
{
	st->pairs++;
	st->agree += orig == audit;
	int i = stat_index(st, orig);
	int j = stat_index(st, audit);
	i = stat_index(st, orig); /* adding audit's value may have moved orig's */
	if (i >= 0 && j >= 0)
		st->table[i * CMP_MAXV + j]++;
}

static double stat_kappa(const struct cstat *st)
{
	int64_t t[CMP_MAXV * CMP_MAXV];

	if (st->overflow || st->nvals == 0)
		return NAN;
	for (int i = 0; i < st->nvals; i++)
		for (int j = 0; j < st->nvals; j++)
			t[i * st->nvals + j] = st->table[i * CMP_MAXV + j];
	return audit_kappa(t, st->nvals);
}

/* The valued answers of one survey, by question id. */
struct cans {
	char *q[CMP_MAXQ * 2];
	int v[CMP_MAXQ * 2];
	int n;
};

static void cans_free(struct cans *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->q[i]);
	c->n = 0;
}

static int cans_load(sqlite3 *db, const char *id, struct cans *c)
{
	sqlite3_stmt *s = NULL;
	int st;

	c->n = 0;
	if (sqlite3_prepare_v3(db, "SELECT question_id, value FROM answers WHERE survey_id = ?1 AND value IS NOT NULL",
	                       -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((st = sqlite3_step(s)) == SQLITE_ROW && c->n < (int)(sizeof c->v / sizeof c->v[0])) {
		if (!(c->q[c->n] = strdup((const char *)sqlite3_column_text(s, 0))))
			break;
		c->v[c->n++] = sqlite3_column_int(s, 1);
	}
	sqlite3_finalize(s);
	return st == SQLITE_ROW || st == SQLITE_DONE ? c->n : -EIO;
}

/* The value answered to q, or -1 (no answer). */
static int cans_get(const struct cans *c, const char *q, int *v)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->q[i], q) == 0) {
			*v = c->v[i];
			return 1;
		}
	return 0;
}

static void fmt_pct(char *b, size_t cap, int64_t num, int64_t den)
{
	if (den > 0)
		snprintf(b, cap, "%.1f", 100.0 * (double)num / (double)den);
	else
		snprintf(b, cap, "-");
}

static void fmt_num(char *b, size_t cap, double v, int decimals)
{
	if (isnan(v))
		snprintf(b, cap, "-");
	else
		snprintf(b, cap, "%.*f", decimals, v);
}

static json_t *jnum(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static double pct(int64_t num, int64_t den)
{
	return den > 0 ? 100.0 * (double)num / (double)den : NAN;
}

static json_t *jstat(const char *key, const char *name, const struct cstat *st)
{
	return json_pack("{s:s,s:I,s:I,s:o,s:o}", key, name, "pairs", (json_int_t)st->pairs, "agree",
	                 (json_int_t)st->agree, "agreement_pct", jnum(pct(st->agree, st->pairs)), "kappa",
	                 jnum(stat_kappa(st)));
}

static void write_json(const struct cres *r, FILE *out)
{
	json_t *doc = json_object(), *jq = json_array(), *ju = json_array();

	json_object_set_new(doc, "campaign", json_string(r->o->campaign));
	json_object_set_new(doc, "audit_campaign", json_string(r->o->audit_campaign));
	json_object_set_new(doc, "by", json_string(r->by));
	json_object_set_new(doc, "identity_question", json_string(r->idq));
	json_object_set_new(doc, "test", json_pack("{s:s,s:f}", "method", cmp_method, "alpha", r->alpha));
	for (int q = 0; q < r->nq; q++) {
		json_t *x = jstat("question", r->qs[q].id, &r->qst[q]);
		json_object_set_new(x, "rated", json_boolean(r->qs[q].rated));
		json_array_append_new(jq, x);
	}
	for (int i = 0; i < r->nu; i++) {
		const struct cunit *u = &r->u[i];
		double p = audit_sign_p(u->pos, u->neg);
		json_t *x = jstat("unit", u->name, &u->st), *uq = json_array();
		json_object_update_new(x, json_pack("{s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:f,s:b}", "audits", (json_int_t)u->audits,
		                                    "reached", (json_int_t)u->reached, "not_reached",
		                                    (json_int_t)u->not_reached, "never_surveyed", (json_int_t)u->never,
		                                    "original_higher", u->pos, "audit_higher", u->neg, "ties", u->ties,
		                                    "p_value", p, "more_positive", p < r->alpha));
		for (int q = 0; q < r->nq; q++)
			json_array_append_new(uq, jstat("question", r->qs[q].id, &u->qst[q]));
		json_object_set_new(x, "questions", uq);
		json_array_append_new(ju, x);
	}
	json_object_set_new(doc, "questions", jq);
	json_object_set_new(doc, "units", ju);
	json_dumpf(doc, out, JSON_INDENT(2));
	fputc('\n', out);
	json_decref(doc);
}

static void csv_stat(FILE *out, const struct cstat *st)
{
	char b1[32], b2[32];

	fmt_pct(b1, sizeof b1, st->agree, st->pairs);
	fmt_num(b2, sizeof b2, stat_kappa(st), 4);
	fprintf(out, ",%lld,%lld,%s,%s", (long long)st->pairs, (long long)st->agree, b1, b2);
}

static void write_csv(const struct cres *r, FILE *out)
{
	fputs("section,unit,question,audits,reached,not_reached,never_surveyed,pairs,agree,agreement_pct,kappa,"
	      "original_higher,audit_higher,ties,p_value,flag\n", out);
	for (int q = 0; q < r->nq; q++) {
		fputs("question,,", out);
		csv_field(out, r->qs[q].id);
		fputs(",,,,", out);
		csv_stat(out, &r->qst[q]);
		fprintf(out, ",,,,,%s\n", r->qs[q].rated ? "rated" : "");
	}
	for (int i = 0; i < r->nu; i++) {
		const struct cunit *u = &r->u[i];
		double p = audit_sign_p(u->pos, u->neg);
		fputs("unit,", out);
		csv_field(out, u->name);
		fprintf(out, ",,%lld,%lld,%lld,%lld", (long long)u->audits, (long long)u->reached,
		        (long long)u->not_reached, (long long)u->never);
		csv_stat(out, &u->st);
		fprintf(out, ",%d,%d,%d,%.6f,%s\n", u->pos, u->neg, u->ties, p, p < r->alpha ? "more_positive" : "");
		for (int q = 0; q < r->nq; q++) {
			fputs("unit_question,", out);
			csv_field(out, u->name);
			fputc(',', out);
			csv_field(out, r->qs[q].id);
			fputs(",,,,", out);
			csv_stat(out, &u->qst[q]);
			fputs(",,,,,\n", out);
		}
	}
}

static void write_table(const struct cres *r, FILE *out)
{
	char b1[32], b2[32], b3[32], b4[32];

	fprintf(out, "Audit %s of campaign %s, by %s (\"never surveyed\" = %s answered %d)\n\n", r->o->audit_campaign,
	        r->o->campaign, r->by, r->idq, CMP_NEVER_VALUE);
	fprintf(out, "%-24s %7s %10s %7s\n", "question", "pairs", "agree %", "kappa");
	for (int q = 0; q < r->nq; q++) {
		fmt_pct(b1, sizeof b1, r->qst[q].agree, r->qst[q].pairs);
		fmt_num(b2, sizeof b2, stat_kappa(&r->qst[q]), 3);
		fprintf(out, "%-24s %7lld %10s %7s\n", r->qs[q].id, (long long)r->qst[q].pairs, b1, b2);
	}
	fprintf(out, "\n%-24s %6s %7s %7s %6s %8s %7s %9s %9s\n", "unit", "audits", "reached", "not", "never", "agree %",
	        "kappa", "orig>aud", "p");
	for (int i = 0; i < r->nu; i++) {
		const struct cunit *u = &r->u[i];
		double p = audit_sign_p(u->pos, u->neg);
		fmt_pct(b1, sizeof b1, u->st.agree, u->st.pairs);
		fmt_num(b2, sizeof b2, stat_kappa(&u->st), 3);
		snprintf(b3, sizeof b3, "%d/%d", u->pos, u->pos + u->neg);
		snprintf(b4, sizeof b4, "%.4f", p);
		fprintf(out, "%-24s %6lld %7lld %7lld %6lld %8s %7s %9s %9s%s\n", u->name[0] ? u->name : "(none)",
		        (long long)u->audits, (long long)u->reached, (long long)u->not_reached, (long long)u->never, b1, b2,
		        b3, b4, p < r->alpha ? "  ! original answers more positive than the audit's" : "");
	}
	if (r->nq > 0) {
		fprintf(out, "\nagreement %% per unit and question\n%-24s", "unit");
		for (int q = 0; q < r->nq; q++)
			fprintf(out, " %10.10s", r->qs[q].id);
		fputc('\n', out);
		for (int i = 0; i < r->nu; i++) {
			fprintf(out, "%-24s", r->u[i].name[0] ? r->u[i].name : "(none)");
			for (int q = 0; q < r->nq; q++) {
				fmt_pct(b1, sizeof b1, r->u[i].qst[q].agree, r->u[i].qst[q].pairs);
				fprintf(out, " %10s", b1);
			}
			fputc('\n', out);
		}
	}
	fprintf(out, "\nTest: one-sided paired sign test at alpha %.3g; per reached survey the sign of the sum over\n"
	             "rated questions of (original - audit), ties dropped; p = P(X >= orig>aud), X ~ Binomial(n, 1/2).\n",
	        r->alpha);
}

static void html_s(FILE *out, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*v, out);
		}
	}
}

static void html_stat(FILE *out, const struct cstat *st)
{
	char b1[32], b2[32];

	fmt_pct(b1, sizeof b1, st->agree, st->pairs);
	fmt_num(b2, sizeof b2, stat_kappa(st), 3);
	fprintf(out, "<td>%lld</td><td>%s</td><td>%s</td>", (long long)st->pairs, b1, b2);
}

/* One self-contained page (no script, no external file). */
static void write_html(const struct cres *r, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Phúc tra ", out);
	html_s(out, r->o->campaign);
	fputs("</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
	      "td,th{border:1px solid #999;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
	      "tr.flag{background:#fdd}</style></head><body>\n<h1>Audit ", out);
	html_s(out, r->o->audit_campaign);
	fputs(" of campaign ", out);
	html_s(out, r->o->campaign);
	fputs("</h1>\n<p>Units by ", out);
	html_s(out, r->by);
	fputs("; \"never surveyed\" = question <code>", out);
	html_s(out, r->idq);
	fprintf(out, "</code> answered %d.</p>\n<h2>Per question</h2>\n<table><tr><th>question</th><th>pairs</th>"
	             "<th>agree %%</th><th>kappa</th></tr>\n", CMP_NEVER_VALUE);
	for (int q = 0; q < r->nq; q++) {
		fputs("<tr><td>", out);
		html_s(out, r->qs[q].id);
		fputs("</td>", out);
		html_stat(out, &r->qst[q]);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n<h2>Per unit</h2>\n<table><tr><th>unit</th><th>audits</th><th>reached</th><th>not reached</th>"
	      "<th>never surveyed</th><th>pairs</th><th>agree %</th><th>kappa</th><th>original higher</th>"
	      "<th>audit higher</th><th>p</th></tr>\n", out);
	for (int i = 0; i < r->nu; i++) {
		const struct cunit *u = &r->u[i];
		double p = audit_sign_p(u->pos, u->neg);
		fprintf(out, "<tr%s><td>", p < r->alpha ? " class=\"flag\"" : "");
		html_s(out, u->name[0] ? u->name : "(none)");
		fprintf(out, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>", (long long)u->audits,
		        (long long)u->reached, (long long)u->not_reached, (long long)u->never);
		html_stat(out, &u->st);
		fprintf(out, "<td>%d</td><td>%d</td><td>%.4f%s</td></tr>\n", u->pos, u->neg, p,
		        p < r->alpha ? " — original answers more positive" : "");
	}
	fputs("</table>\n<h2>Agreement % per unit and question</h2>\n<table><tr><th>unit</th>", out);
	for (int q = 0; q < r->nq; q++) {
		fputs("<th>", out);
		html_s(out, r->qs[q].id);
		fputs("</th>", out);
	}
	fputs("</tr>\n", out);
	for (int i = 0; i < r->nu; i++) {
		char b[32];
		fputs("<tr><td>", out);
		html_s(out, r->u[i].name[0] ? r->u[i].name : "(none)");
		fputs("</td>", out);
		for (int q = 0; q < r->nq; q++) {
			fmt_pct(b, sizeof b, r->u[i].qst[q].agree, r->u[i].qst[q].pairs);
			fprintf(out, "<td>%s</td>", b);
		}
		fputs("</tr>\n", out);
	}
	fprintf(out, "</table>\n<p>Test: %s; alpha %.3g. Kappa: Cohen's, unweighted; \"-\" when undefined.</p>\n"
	             "</body></html>\n", cmp_method, r->alpha);
}

int audit_compare(struct archive *a, const struct audit_compare_opts *o, FILE *out, char *err, size_t errlen)
{
	sqlite3 *db = archive_sqlite(a);
	sqlite3_stmt *s = NULL;
	struct cq qs[CMP_MAXQ];
	struct cstat qst[CMP_MAXQ];
	struct cunit *u = NULL;
	int nq = 0, nu = 0, capu = 0, rc = -EIO, st;
	const char *by = o->by ? o->by : "agency";
	const char *idq = o->identity_q ? o->identity_q : "surveyed";
	double alpha = o->alpha > 0 ? o->alpha : 0.05;
	struct cans oa = {0}, aa = {0};
	int64_t total = 0;

	memset(qst, 0, sizeof qst);
	if (!o->campaign || !o->audit_campaign || !audit_unit_valid(by)) {
		cmp_seterr(err, errlen, "compare: needs --campaign, --audit-campaign and --by agency|procedure");
		return -EINVAL;
	}
	/* the original campaign's questions, from its newest recorded version */
	if (sqlite3_prepare_v2(db, "SELECT question_id, satisfied <> '' FROM campaign_questions"
	                           " WHERE campaign_id = ?1 AND campaign_version = (SELECT campaign_version"
	                           " FROM campaign_versions WHERE campaign_id = ?1 ORDER BY rowid DESC LIMIT 1)"
	                           " AND type IN ('scale', 'choice', 'yesno') ORDER BY position", -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, o->campaign, -1, SQLITE_STATIC);
	while ((st = sqlite3_step(s)) == SQLITE_ROW && nq < CMP_MAXQ) {
		if (!(qs[nq].id = strdup((const char *)sqlite3_column_text(s, 0))))
			goto nomem;
		qs[nq++].rated = sqlite3_column_int(s, 1);
	}
	sqlite3_finalize(s);
	s = NULL;
	/* one audit per original survey: a completed one first, then the one with the most answers */
	char sql[1024];
	snprintf(sql, sizeof sql,
	         "SELECT l.audit_of, l.survey_id, COALESCE(o.%s, ''),"
	         " (SELECT COUNT(*) FROM answers x WHERE x.survey_id = l.survey_id) AS nans"
	         " FROM audit_links l JOIN surveys a ON a.survey_id = l.survey_id AND a.campaign_id = ?2"
	         " JOIN surveys o ON o.survey_id = l.audit_of AND o.campaign_id = ?1"
	         " ORDER BY 3, l.audit_of, a.status = 'completed' DESC, nans DESC, l.survey_id", by);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, o->campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o->audit_campaign, -1, SQLITE_STATIC);
	char last_of[160] = "";
	while ((st = sqlite3_step(s)) == SQLITE_ROW) {
		const char *of = (const char *)sqlite3_column_text(s, 0);
		const char *aid = (const char *)sqlite3_column_text(s, 1);
		const char *unit = (const char *)sqlite3_column_text(s, 2);
		if (strcmp(of, last_of) == 0)
			continue; /* a second audit of the same survey */
		snprintf(last_of, sizeof last_of, "%s", of);
		if (nu == 0 || strcmp(u[nu - 1].name, unit) != 0) {
			if (nu == capu) {
				int nc = capu ? capu * 2 : 16;
				struct cunit *p = realloc(u, sizeof *p * (size_t)nc);
				if (!p)
					goto nomem;
				u = p;
				capu = nc;
			}
			memset(&u[nu], 0, sizeof u[nu]);
			nu++;
			if (!(u[nu - 1].name = strdup(unit)) || !(u[nu - 1].qst = calloc((size_t)(nq ? nq : 1), sizeof(struct cstat))))
				goto nomem;
		}
		struct cunit *x = &u[nu - 1];
		x->audits++;
		total++;
		if (cans_load(db, of, &oa) < 0 || cans_load(db, aid, &aa) < 0)
			goto sqlfail;
		int idv = 0;
		int64_t any = sqlite3_column_int64(s, 3);
		if (cans_get(&aa, idq, &idv) && idv == CMP_NEVER_VALUE) {
			x->never++;
		} else if (any == 0) {
			x->not_reached++;
		} else {
			x->reached++;
			int d = 0, rated = 0;
			for (int q = 0; q < nq; q++) {
				int ov, av;
				if (!cans_get(&oa, qs[q].id, &ov) || !cans_get(&aa, qs[q].id, &av))
					continue;
				stat_add(&qst[q], ov, av);
				stat_add(&x->st, ov, av);
				stat_add(&x->qst[q], ov, av);
				if (qs[q].rated) {
					d += ov - av;
					rated++;
				}
			}
			if (rated && d > 0)
				x->pos++;
			else if (rated && d < 0)
				x->neg++;
			else if (rated)
				x->ties++;
		}
		cans_free(&oa);
		cans_free(&aa);
	}
	if (st != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	s = NULL;
	if (total == 0) {
		cmp_seterr(err, errlen, "compare: no survey of %s names a survey of %s in audit_of", o->audit_campaign,
		           o->campaign);
		rc = -ENOENT;
		goto done;
	}

	/* ---- output ---- */
	struct cres res = {o, by, idq, alpha, qs, qst, nq, u, nu};
	if (o->fmt == AUDIT_FMT_JSON)
		write_json(&res, out);
	else if (o->fmt == AUDIT_FMT_CSV)
		write_csv(&res, out);
	else if (o->fmt == AUDIT_FMT_HTML)
		write_html(&res, out);
	else
		write_table(&res, out);
	rc = 0;
	goto done;
nomem:
	cmp_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto done;
sqlfail:
	cmp_seterr(err, errlen, "compare: %s", sqlite3_errmsg(db));
	rc = -EIO;
done:
	cans_free(&oa);
	cans_free(&aa);
	sqlite3_finalize(s);
	for (int q = 0; q < nq; q++)
		free(qs[q].id);
	for (int i = 0; i < nu; i++)
	{
		free(u[i].name);
		free(u[i].qst);
	}
	free(u);
	return rc;
}
