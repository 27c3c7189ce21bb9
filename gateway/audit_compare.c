/* audit_compare: the re-survey against the original answers: reach, agreement, Cohen's kappa, a paired sign test (docs/audit.md). */
#include "audit.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

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
	struct cstat st;
};

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
			if (!(u[nu].name = strdup(unit)))
				goto nomem;
			nu++;
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
	char b1[32], b2[32], b3[32], b4[32];
	if (o->fmt == AUDIT_FMT_JSON) {
		json_t *doc = json_object(), *jq = json_array(), *ju = json_array();
		json_object_set_new(doc, "campaign", json_string(o->campaign));
		json_object_set_new(doc, "audit_campaign", json_string(o->audit_campaign));
		json_object_set_new(doc, "by", json_string(by));
		json_object_set_new(doc, "identity_question", json_string(idq));
		json_object_set_new(doc, "test", json_pack("{s:s,s:f}", "method",
		    "one-sided paired sign test: per reached survey the sign of the sum over rated questions of"
		    " (original - audit); ties dropped; p = P(X >= positives), X ~ Binomial(n, 1/2)", "alpha", alpha));
		for (int q = 0; q < nq; q++)
			json_array_append_new(jq, json_pack("{s:s,s:b,s:I,s:I,s:o,s:o}", "question", qs[q].id, "rated",
			                                    qs[q].rated, "pairs", (json_int_t)qst[q].pairs, "agree",
			                                    (json_int_t)qst[q].agree, "agreement_pct",
			                                    qst[q].pairs ? json_real(100.0 * (double)qst[q].agree / (double)qst[q].pairs)
			                                                 : json_null(),
			                                    "kappa", jnum(stat_kappa(&qst[q]))));
		for (int i = 0; i < nu; i++) {
			double p = audit_sign_p(u[i].pos, u[i].neg);
			json_array_append_new(ju, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:i,s:i,s:i,s:f,s:b}", "unit",
			                                    u[i].name, "audits", (json_int_t)u[i].audits, "reached",
			                                    (json_int_t)u[i].reached, "not_reached", (json_int_t)u[i].not_reached,
			                                    "never_surveyed", (json_int_t)u[i].never, "pairs",
			                                    (json_int_t)u[i].st.pairs, "agree", (json_int_t)u[i].st.agree,
			                                    "agreement_pct",
			                                    u[i].st.pairs ? json_real(100.0 * (double)u[i].st.agree / (double)u[i].st.pairs)
			                                                  : json_null(),
			                                    "kappa", jnum(stat_kappa(&u[i].st)), "original_higher", u[i].pos,
			                                    "audit_higher", u[i].neg, "ties", u[i].ties, "p_value", p,
			                                    "more_positive", p < alpha));
		}
		json_object_set_new(doc, "questions", jq);
		json_object_set_new(doc, "units", ju);
		json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(doc);
	} else if (o->fmt == AUDIT_FMT_CSV) {
		fputs("section,id,audits,reached,not_reached,never_surveyed,pairs,agree,agreement_pct,kappa,"
		      "original_higher,audit_higher,ties,p_value,flag\n", out);
		for (int q = 0; q < nq; q++) {
			fmt_pct(b1, sizeof b1, qst[q].agree, qst[q].pairs);
			fmt_num(b2, sizeof b2, stat_kappa(&qst[q]), 4);
			fprintf(out, "question,%s,,,,,%lld,%lld,%s,%s,,,,,%s\n", qs[q].id, (long long)qst[q].pairs,
			        (long long)qst[q].agree, b1, b2, qs[q].rated ? "rated" : "");
		}
		for (int i = 0; i < nu; i++) {
			double p = audit_sign_p(u[i].pos, u[i].neg);
			fmt_pct(b1, sizeof b1, u[i].st.agree, u[i].st.pairs);
			fmt_num(b2, sizeof b2, stat_kappa(&u[i].st), 4);
			fprintf(out, "unit,\"%s\",%lld,%lld,%lld,%lld,%lld,%lld,%s,%s,%d,%d,%d,%.6f,%s\n", u[i].name,
			        (long long)u[i].audits, (long long)u[i].reached, (long long)u[i].not_reached,
			        (long long)u[i].never, (long long)u[i].st.pairs, (long long)u[i].st.agree, b1, b2, u[i].pos,
			        u[i].neg, u[i].ties, p, p < alpha ? "more_positive" : "");
		}
	} else {
		fprintf(out, "Audit %s of campaign %s, by %s (\"never surveyed\" = %s answered %d)\n\n",
		        o->audit_campaign, o->campaign, by, idq, CMP_NEVER_VALUE);
		fprintf(out, "%-24s %7s %10s %7s\n", "question", "pairs", "agree %", "kappa");
		for (int q = 0; q < nq; q++) {
			fmt_pct(b1, sizeof b1, qst[q].agree, qst[q].pairs);
			fmt_num(b2, sizeof b2, stat_kappa(&qst[q]), 3);
			fprintf(out, "%-24s %7lld %10s %7s\n", qs[q].id, (long long)qst[q].pairs, b1, b2);
		}
		fprintf(out, "\n%-24s %6s %7s %7s %6s %8s %7s %9s %9s\n", "unit", "audits", "reached", "not", "never",
		        "agree %", "kappa", "orig>aud", "p");
		for (int i = 0; i < nu; i++) {
			double p = audit_sign_p(u[i].pos, u[i].neg);
			fmt_pct(b1, sizeof b1, u[i].st.agree, u[i].st.pairs);
			fmt_num(b2, sizeof b2, stat_kappa(&u[i].st), 3);
			snprintf(b3, sizeof b3, "%d/%d", u[i].pos, u[i].pos + u[i].neg);
			snprintf(b4, sizeof b4, "%.4f", p);
			fprintf(out, "%-24s %6lld %7lld %7lld %6lld %8s %7s %9s %9s%s\n", u[i].name[0] ? u[i].name : "(none)",
			        (long long)u[i].audits, (long long)u[i].reached, (long long)u[i].not_reached,
			        (long long)u[i].never, b1, b2, b3, b4,
			        p < alpha ? "  ! original answers more positive than the audit's" : "");
		}
		fprintf(out, "\nTest: one-sided paired sign test at alpha %.3g; per reached survey the sign of the sum over\n"
		             "rated questions of (original - audit), ties dropped; p = P(X >= orig>aud), X ~ Binomial(n, 1/2).\n",
		        alpha);
	}
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
		free(u[i].name);
	free(u);
	return rc;
}
