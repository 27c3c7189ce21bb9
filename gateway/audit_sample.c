/* audit_sample: the post-check sample, stratified by unit and drawn in seeded BLAKE2b order (docs/audit.md). */
#include "audit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "csv.h"

#define AUDIT_SAMPLE_TAG "hailong-sample-v1\n"

struct sitem {
	char *id, *agency, *procedure, *finished_at, *contact;
	const char *unit;               /* agency or procedure (points into the above), "" = none */
	char rank[65];
};

struct sunit {
	const char *name;
	int first, count;               /* its items: [first, first + count) after sorting */
	int take;                       /* drawn */
	double rem;                     /* remainder of its proportional share */
};

static void sample_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sample_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int audit_unit_valid(const char *by)
{
	return by && (strcmp(by, "agency") == 0 || strcmp(by, "procedure") == 0);
}

void audit_rank(const char *seed, const char *survey_id, char hex[65])
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)AUDIT_SAMPLE_TAG, sizeof AUDIT_SAMPLE_TAG - 1);
	crypto_generichash_update(&st, (const unsigned char *)seed, strlen(seed));
	crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
	crypto_generichash_update(&st, (const unsigned char *)survey_id, strlen(survey_id));
	crypto_generichash_final(&st, h, sizeof h);
	sodium_bin2hex(hex, 65, h, sizeof h);
}

static int cmp_item(const void *x, const void *y)
{
	const struct sitem *a = x, *b = y;
	int c = strcmp(a->unit, b->unit);

	return c ? c : strcmp(a->rank, b->rank);
}

static char *dup_col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return strdup(t ? (const char *)t : "");
}

static int valid_date(const char *d)
{
	if (!d || strlen(d) != 10)
		return 0;
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

/* Allocate o->size over the units: the floor first, then the rest in
 * proportion to what each unit has left (largest remainder method). */
static void allocate(struct sunit *u, int nu, int size, int floor)
{
	int64_t left_pop = 0;
	int given = 0;

	for (int i = 0; i < nu; i++) {
		u[i].take = u[i].count < floor ? u[i].count : floor;
		given += u[i].take;
		left_pop += u[i].count - u[i].take;
	}
	int rest = size - given;
	if (rest <= 0 || left_pop == 0)
		return;
	if (rest >= left_pop) {
		for (int i = 0; i < nu; i++)
			u[i].take = u[i].count;
		return;
	}
	int handed = 0;
	for (int i = 0; i < nu; i++) {
		double share = (double)rest * (double)(u[i].count - u[i].take) / (double)left_pop;
		int whole = (int)share;
		u[i].rem = share - whole;
		u[i].take += whole;
		handed += whole;
	}
	/* the seats left over, to the largest remainders (ties: unit name order,
	 * which is the array order) */
	while (handed < rest) {
		int best = -1;
		for (int i = 0; i < nu; i++)
			if (u[i].take < u[i].count && (best < 0 || u[i].rem > u[best].rem))
				best = i;
		if (best < 0)
			break;
		u[best].take++;
		u[best].rem = -1;
		handed++;
	}
}

/* The answers of one survey: "q=v;q=v" (text answers quoted by the CSV writer) and a JSON object. */
static int answers_of(sqlite3 *db, const char *id, char **flat, json_t **obj)
{
	sqlite3_stmt *s = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *o = json_object();
	int st, n = 0;

	*flat = NULL;
	*obj = NULL;
	if (!f || !o || sqlite3_prepare_v3(db, "SELECT a.question_id, a.value, a.text FROM answers a"
	                                       " JOIN surveys s ON s.survey_id = a.survey_id"
	                                       " LEFT JOIN campaign_questions q ON q.campaign_id = s.campaign_id"
	                                       " AND q.campaign_version = s.campaign_version"
	                                       " AND q.question_id = a.question_id WHERE a.survey_id = ?1"
	                                       " ORDER BY COALESCE(q.position, 1000000), a.question_id", -1,
	                                   SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((st = sqlite3_step(s)) == SQLITE_ROW) {
		const char *q = (const char *)sqlite3_column_text(s, 0);
		if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
			long long v = sqlite3_column_int64(s, 1);
			fprintf(f, "%s%s=%lld", n++ ? ";" : "", q, v);
			json_object_set_new(o, q, json_integer(v));
		} else {
			const char *t = (const char *)sqlite3_column_text(s, 2);
			fprintf(f, "%s%s=%s", n++ ? ";" : "", q, t ? t : "");
			json_object_set_new(o, q, json_string(t ? t : ""));
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	if (st != SQLITE_DONE || fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	*flat = buf;
	*obj = o;
	return 0;
fail:
	if (f)
		fclose(f);
	free(buf);
	json_decref(o);
	sqlite3_finalize(s);
	return -EIO;
}

int audit_sample(struct archive *a, const struct audit_sample_opts *o, FILE *out, FILE *info, char *err,
                 size_t errlen)
{
	sqlite3 *db = archive_sqlite(a);
	sqlite3_stmt *s = NULL;
	struct sitem *it = NULL;
	struct sunit *u = NULL;
	int n = 0, cap = 0, nu = 0, rc = -EIO, st, drawn = 0;
	const char *by = o->by ? o->by : "agency";
	json_t *doc = NULL;

	if (!o->campaign || !o->seed || !o->seed[0] || !valid_date(o->from) || !valid_date(o->to) ||
	    o->size < 1 || o->floor < 0 || !audit_unit_valid(by)) {
		sample_seterr(err, errlen, "sample: needs a campaign, a seed, --from/--to as YYYY-MM-DD, a size >= 1,"
		              " a floor >= 0 and --by agency|procedure");
		return -EINVAL;
	}
	if (strcmp(o->from, o->to) > 0) {
		sample_seterr(err, errlen, "sample: --from %s is after --to %s", o->from, o->to);
		return -EINVAL;
	}
	if (sqlite3_prepare_v2(db, "SELECT s.survey_id, s.agency, s.procedure, s.finished_at, c.sealed, c.digest"
	                           " FROM surveys s LEFT JOIN contacts c ON c.survey_id = s.survey_id"
	                           " WHERE s.campaign_id = ?1 AND s.status = 'completed'"
	                           " AND substr(s.finished_at, 1, 10) BETWEEN ?2 AND ?3", -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, o->campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, o->to, -1, SQLITE_STATIC);
	while ((st = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			int ncap = cap ? cap * 2 : 256;
			struct sitem *p = realloc(it, sizeof *p * (size_t)ncap);
			if (!p)
				goto nomem;
			it = p;
			cap = ncap;
		}
		struct sitem *x = &it[n];
		memset(x, 0, sizeof *x);
		n++;
		x->id = dup_col(s, 0);
		x->agency = dup_col(s, 1);
		x->procedure = dup_col(s, 2);
		x->finished_at = dup_col(s, 3);
		x->contact = dup_col(s, 4);
		if (!x->id || !x->agency || !x->procedure || !x->finished_at || !x->contact)
			goto nomem;
		x->unit = strcmp(by, "agency") == 0 ? x->agency : x->procedure;
		if (x->contact[0]) {
			/* a box that is not the one chained is not handed to the caller */
			unsigned char dg[32];
			crypto_generichash(dg, sizeof dg, (const unsigned char *)x->contact, strlen(x->contact), NULL, 0);
			if (sqlite3_column_bytes(s, 5) != (int)sizeof dg || sodium_memcmp(dg, sqlite3_column_blob(s, 5), sizeof dg)) {
				sample_seterr(err, errlen, "sample: survey %s: its sealed contact does not match the digest on the"
				              " chain (see hailong archive verify)", x->id);
				rc = -EBADMSG;
				goto done;
			}
		}
		audit_rank(o->seed, x->id, x->rank);
	}
	if (st != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	s = NULL;
	if (n == 0) {
		sample_seterr(err, errlen, "sample: campaign %s has no completed survey from %s to %s", o->campaign,
		              o->from, o->to);
		rc = -ENOENT;
		goto done;
	}
	qsort(it, (size_t)n, sizeof *it, cmp_item);
	if (!(u = calloc((size_t)n, sizeof *u)))
		goto nomem;
	for (int i = 0; i < n; i++) {
		if (nu == 0 || strcmp(u[nu - 1].name, it[i].unit) != 0) {
			u[nu].name = it[i].unit;
			u[nu].first = i;
			nu++;
		}
		u[nu - 1].count++;
	}
	allocate(u, nu, o->size, o->floor);
	for (int i = 0; i < nu; i++)
		drawn += u[i].take;

	/* the sample: per unit in name order, its first `take` items in rank order */
	json_t *rows = NULL, *units = NULL;
	if (o->fmt == AUDIT_FMT_JSON) {
		doc = json_object();
		rows = json_array();
		units = json_array();
		if (!doc || !rows || !units) {
			json_decref(rows);
			json_decref(units);
			goto nomem;
		}
		json_object_set_new(doc, "method",
		                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s}", "campaign", o->campaign,
		                              "from", o->from, "to", o->to, "by", by, "seed", o->seed, "size", o->size,
		                              "floor", o->floor, "drawn", drawn, "order",
		                              "BLAKE2b-256 of \"hailong-sample-v1\\n\" SEED \"\\n\" SURVEY_ID, ascending"));
		json_object_set_new(doc, "units", units);
		json_object_set_new(doc, "sample", rows);
	} else {
		fputs("survey_id,unit,agency,procedure,finished_at,rank,answers,contact\n", out);
	}
	for (int k = 0; k < nu; k++) {
		if (units)
			json_array_append_new(units, json_pack("{s:s,s:i,s:i}", "unit", u[k].name, "completed", u[k].count,
			                                       "drawn", u[k].take));
		for (int i = u[k].first; i < u[k].first + u[k].take; i++) {
			char *flat = NULL;
			json_t *ans = NULL;
			if (answers_of(db, it[i].id, &flat, &ans) < 0)
				goto sqlfail;
			if (rows) {
				json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s?}", "survey_id", it[i].id,
				                                      "unit", it[i].unit, "agency", it[i].agency,
				                                      "procedure", it[i].procedure, "finished_at",
				                                      it[i].finished_at, "rank", it[i].rank, "answers", ans,
				                                      "contact", it[i].contact[0] ? it[i].contact : NULL));
			} else {
				json_decref(ans);
				const char *f[] = {it[i].id, it[i].unit, it[i].agency, it[i].procedure, it[i].finished_at,
				                   it[i].rank, flat, it[i].contact};
				for (int c = 0; c < 8; c++) {
					if (c)
						fputc(',', out);
					csv_field(out, f[c]);
				}
				fputc('\n', out);
			}
			free(flat);
		}
	}
	if (doc) {
		if (json_dumpf(doc, out, JSON_INDENT(2)) != 0)
			goto sqlfail;
		fputc('\n', out);
	}
	if (info) {
		fprintf(info, "sample of %s, %s..%s, by %s, seed \"%s\": %d of %d completed surveys (asked %d, floor %d)\n",
		        o->campaign, o->from, o->to, by, o->seed, drawn, n, o->size, o->floor);
		for (int k = 0; k < nu; k++) {
			const char *name = u[k].name[0] ? u[k].name : "(none)";
			/* padded to 40 characters, not bytes (UTF-8 lead bytes counted): "Vĩnh Phúc" has more bytes than characters */
			int cols = 0;
			for (const unsigned char *c = (const unsigned char *)name; *c; c++)
				cols += (*c & 0xC0) != 0x80;
			fprintf(info, "  %s%*s %6d completed %5d drawn\n", name, cols < 40 ? 40 - cols : 0, "", u[k].count,
			        u[k].take);
		}
		if (drawn > o->size)
			fprintf(info, "  note: the floor of %d per unit makes the sample larger than asked\n", o->floor);
	}
	rc = drawn;
	goto done;
nomem:
	sample_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto done;
sqlfail:
	sample_seterr(err, errlen, "sample: %s", sqlite3_errmsg(db));
	rc = -EIO;
done:
	sqlite3_finalize(s);
	json_decref(doc);
	for (int i = 0; i < n; i++) {
		free(it[i].id);
		free(it[i].agency);
		free(it[i].procedure);
		free(it[i].finished_at);
		free(it[i].contact);
	}
	free(it);
	free(u);
	return rc;
}
