/* archive_rollup_count: the rollup counts of one transaction, gathered in memory before
 * archive_rollup_flush writes them: the survey's key strings interned to small integers,
 * one delta per rollup row (however many surveys share it), the citizens counted, the
 * (agency, procedure, channel) unit ids and the questions of the campaign version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"
#include "tzone.h"

static void units_free_one(struct aunit *u)
{
	free(u->agency);
	free(u->procedure);
	free(u->channel);
	memset(u, 0, sizeof *u);
}

/* Forget the rollup_units and rollup_names ids remembered: after a rollback
 * (those created in the transaction are gone) or a rebuild. */
void archive_units_forget(struct archive *a)
{
	for (int i = 0; i < a->nunits; i++)
		units_free_one(&a->units[i]);
	a->nunits = 0;
	for (int i = 0; i < a->rnn; i++)
		a->rn[i].dbid = 0;
}

/* The local day of t in the zone in use (tzone.h). */
void archive_rkey_day(struct archive_rkey *k, int64_t t)
{
	k->dayn = t == 0 ? ARCHIVE_NO_DAY : tzone_day(t);
	k->ids_ok = 0; /* a new survey: its strings are interned again on first use */
}

uint64_t archive_citizen_id(const char *msisdn_hash)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = msisdn_hash; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

void archive_rkey_clear(struct archive_rkey *k)
{
	for (int i = 0; i < k->ngroups; i++)
		free(k->groups[i]);
	k->ngroups = 0;
	k->rated = 0;
}

/* Forget the questions cached (a campaign was recorded, or the archive closes). */
void archive_qcache_clear(struct archive *a)
{
	for (int i = 0; i < a->nqc; i++) {
		free(a->qc[i].id);
		free(a->qc[i].grp);
	}
	free(a->qc);
	free(a->qc_campaign);
	free(a->qc_version);
	a->qc = NULL;
	a->nqc = 0;
	a->qc_campaign = a->qc_version = NULL;
}

/* Load the questions of (campaign_id, version) into the cache. */
static int qcache_load(struct archive *a, const char *campaign_id, const char *version)
{
	sqlite3_stmt *s = archive_stmt_get(a, ST_QTYPE, NULL, 0);
	int rc;

	archive_qcache_clear(a);
	if (!s)
		return -EIO;
	if (!(a->qc_campaign = strdup(campaign_id)) || !(a->qc_version = strdup(version)))
		goto nomem;
	archive_bind_text(s, 1, campaign_id);
	archive_bind_text(s, 2, version);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(s, 0), *t = sqlite3_column_text(s, 1),
		                    *g = sqlite3_column_text(s, 2);
		struct qinfo *nq = realloc(a->qc, (size_t)(a->nqc + 1) * sizeof *nq);

		if (!nq)
			goto nomem;
		a->qc = nq;
		nq = &a->qc[a->nqc];
		nq->id = strdup(id ? (const char *)id : "");
		nq->grp = strdup(g ? (const char *)g : "");
		if (!nq->id || !nq->grp) {
			free(nq->id);
			free(nq->grp);
			goto nomem;
		}
		nq->multi = t && strcmp((const char *)t, "multi") == 0;
		nq->rated = sqlite3_column_int(s, 3);
		a->nqc++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
nomem:
	sqlite3_reset(s);
	archive_qcache_clear(a);
	return -ENOMEM;
}

/* What the survey's campaign version says of question `qid`: multi, its
 * group, whether it is rated (has satisfied values). Returns 1 when found, 0
 * when not recorded (all zero), or a negative errno. */
int archive_question_info(struct archive *a, const char *campaign_id, const char *version,
                         const char *qid, int *multi, const char **grp, int *rated)
{
	int rc;

	*multi = *rated = 0;
	*grp = "";
	if (!campaign_id || !version || !qid)
		return 0;
	if ((!a->qc_campaign || strcmp(a->qc_campaign, campaign_id) != 0 ||
	     strcmp(a->qc_version, version) != 0) && (rc = qcache_load(a, campaign_id, version)) < 0)
		return rc;
	for (int i = 0; i < a->nqc; i++) {
		if (strcmp(a->qc[i].id, qid) == 0) {
			*multi = a->qc[i].multi;
			*grp = a->qc[i].grp;
			*rated = a->qc[i].rated;
			return 1;
		}
	}
	return 0;
}

#define RN_MAX 65536 /* interned strings kept between transactions */
#define RD_KEEP 65536 /* deltas whose arrays are kept between transactions */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xBF58476D1CE4E5B9ull;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void names_forget(struct archive *a)
{
	for (int i = 0; i < a->rnn; i++)
		free(a->rn[i].s);
	free(a->rn);
	free(a->rnix);
	a->rn = NULL;
	a->rnix = NULL;
	a->rnn = a->rnmax = a->rnixcap = 0;
}

static int names_reindex(struct archive *a, int cap)
{
	int32_t *ix = malloc(sizeof *ix * (size_t)cap);

	if (!ix)
		return -ENOMEM;
	for (int i = 0; i < cap; i++)
		ix[i] = -1;
	for (int i = 0; i < a->rnn; i++) {
		uint64_t x = a->rn[i].h & (uint64_t)(cap - 1);

		while (ix[x] >= 0)
			x = (x + 1) & (uint64_t)(cap - 1);
		ix[x] = i;
	}
	free(a->rnix);
	a->rnix = ix;
	a->rnixcap = cap;
	return 0;
}

/* The id of string v (NULL = ""), interned on first use; negative errno. */
static int32_t name_id(struct archive *a, const char *v)
{
	uint64_t h, x;
	int32_t i;

	if (!v)
		v = "";
	h = str_hash(v);
	if (a->rnixcap) {
		for (x = h & (uint64_t)(a->rnixcap - 1); (i = a->rnix[x]) >= 0; x = (x + 1) & (uint64_t)(a->rnixcap - 1))
			if (a->rn[i].h == h && strcmp(a->rn[i].s, v) == 0)
				return i;
	}
	if ((a->rnn + 1) * 2 > a->rnixcap && names_reindex(a, a->rnixcap ? a->rnixcap * 2 : 64) < 0)
		return -ENOMEM;
	if (a->rnn == a->rnmax) {
		int max = a->rnmax ? a->rnmax * 2 : 32;
		struct rname *nr = realloc(a->rn, sizeof *nr * (size_t)max);

		if (!nr)
			return -ENOMEM;
		a->rn = nr;
		a->rnmax = max;
	}
	if (!(a->rn[a->rnn].s = strdup(v)))
		return -ENOMEM;
	a->rn[a->rnn].h = h;
	a->rn[a->rnn].dbid = 0;
	for (x = h & (uint64_t)(a->rnixcap - 1); a->rnix[x] >= 0; x = (x + 1) & (uint64_t)(a->rnixcap - 1))
		;
	a->rnix[x] = a->rnn;
	return a->rnn++;
}

/* The deltas are dropped; their arrays stay for the next transaction, unless
 * a very large one (a rebuild) grew them. */
void archive_rollup_discard(struct archive *a)
{
	if (a->rdmax > RD_KEEP) {
		free(a->rd);
		free(a->rdix);
		a->rd = NULL;
		a->rdix = NULL;
		a->rdmax = a->rdixcap = 0;
	}
	for (int i = 0; i < a->rdixcap; i++)
		a->rdix[i] = -1;
	a->rdn = 0;
	if (a->czmax > RD_KEEP) {
		free(a->cz);
		a->cz = NULL;
		a->czmax = 0;
	}
	a->czn = 0;
	if (a->rnn > RN_MAX)
		names_forget(a); /* bounded: the ids only live as long as a transaction's deltas */
}

void archive_rollup_names_free(struct archive *a)
{
	free(a->rd);
	free(a->rdix);
	a->rd = NULL;
	a->rdix = NULL;
	a->rdn = a->rdmax = a->rdixcap = 0;
	free(a->cz);
	a->cz = NULL;
	a->czn = a->czmax = 0;
	names_forget(a);
}

static int rdelta_reindex(struct archive *a, int cap)
{
	int32_t *ix = malloc(sizeof *ix * (size_t)cap);

	if (!ix)
		return -ENOMEM;
	for (int i = 0; i < cap; i++)
		ix[i] = -1;
	for (int i = 0; i < a->rdn; i++) {
		uint64_t x = a->rd[i].h & (uint64_t)(cap - 1);

		while (ix[x] >= 0)
			x = (x + 1) & (uint64_t)(cap - 1);
		ix[x] = i;
	}
	free(a->rdix);
	a->rdix = ix;
	a->rdixcap = cap;
	return 0;
}

static int64_t unit_id(struct archive *a, const struct archive_rkey *k);

/* Intern the survey's key strings and find its unit, once per survey. */
static int rkey_ids(struct archive *a, struct archive_rkey *k)
{
	if ((k->ids[0] = name_id(a, k->campaign_id)) < 0 || (k->ids[1] = name_id(a, k->status)) < 0)
		return -ENOMEM;
	if ((k->uid = unit_id(a, k)) < 0)
		return -EIO;
	k->ids_ok = 1;
	return 0;
}

/* Add n (and rated) to one rollup row of this transaction. 0, -ENOMEM or -EIO. */
static int rdelta_add(struct archive *a, int table, struct archive_rkey *k, const char *extra,
                      int kind, int value, int64_t n, int64_t rated)
{
	struct rdelta key, *d;
	uint64_t h, x;
	int32_t i;
	int rc;

	if (!k->ids_ok && (rc = rkey_ids(a, k)) < 0)
		return rc;
	memset(&key, 0, sizeof key);
	key.table = table;
	key.c = k->ids[0];
	key.st = k->ids[1];
	if ((key.x = name_id(a, extra)) < 0)
		return -ENOMEM;
	key.kind = kind;
	key.value = value;
	key.dayn = k->dayn;
	key.uid = k->uid;
	h = mix((uint64_t)table, (uint64_t)key.dayn);
	h = mix(h, (uint64_t)key.uid);
	h = mix(h, (uint64_t)(uint32_t)key.c);
	h = mix(h, (uint64_t)(uint32_t)key.st);
	h = mix(h, (uint64_t)(uint32_t)key.x);
	h = mix(h, (uint64_t)(uint32_t)kind);
	h = mix(h, (uint64_t)(uint32_t)value);
	if (a->rdixcap) {
		for (x = h & (uint64_t)(a->rdixcap - 1); (i = a->rdix[x]) >= 0; x = (x + 1) & (uint64_t)(a->rdixcap - 1)) {
			d = &a->rd[i];
			if (d->h == h && d->table == table && d->dayn == key.dayn && d->uid == key.uid && d->c == key.c &&
			    d->st == key.st && d->x == key.x && d->kind == kind && d->value == value) {
				d->n += n;
				d->rated += rated;
				return 0;
			}
		}
	}
	if ((a->rdn + 1) * 2 > a->rdixcap && rdelta_reindex(a, a->rdixcap ? a->rdixcap * 2 : 1024) < 0)
		return -ENOMEM;
	if (a->rdn == a->rdmax) {
		int max = a->rdmax ? a->rdmax * 2 : 512;
		struct rdelta *nd = realloc(a->rd, sizeof *nd * (size_t)max);

		if (!nd)
			return -ENOMEM;
		a->rd = nd;
		a->rdmax = max;
	}
	key.n = n;
	key.rated = rated;
	key.h = h;
	a->rd[a->rdn] = key;
	for (x = h & (uint64_t)(a->rdixcap - 1); a->rdix[x] >= 0; x = (x + 1) & (uint64_t)(a->rdixcap - 1))
		;
	a->rdix[x] = a->rdn++;
	return 0;
}
static int rollup_answer_kind(struct archive *a, struct archive_rkey *k, const char *qid, int kind,
                              int value)
{
	return rdelta_add(a, 1, k, qid, kind, value, 1, 0);
}

/* Count one stored answer row (value, or NULL value with text: a comment or
 * a multi answer "1 3") in the answer rollup, and note its group. */
int archive_rollup_answer(struct archive *a, struct archive_rkey *k, const char *qid, int has_value, int value,
                         const char *text)
{
	const char *grp;
	int multi, rated, rc;

	if ((rc = archive_question_info(a, k->campaign_id, k->version, qid, &multi, &grp, &rated)) < 0)
		return rc;
	rc = 0;
	if (has_value) {
		if ((rc = rollup_answer_kind(a, k, qid, 0, value)) < 0)
			return rc;
		if (rated) {
			int i = 0;

			k->rated = 1;
			while (i < k->ngroups && strcmp(k->groups[i], grp) != 0)
				i++;
			if (i == k->ngroups && k->ngroups < ARCHIVE_MAX_GROUPS) {
				if (!(k->groups[k->ngroups] = strdup(grp)))
					return -ENOMEM;
				k->ngroups++;
			}
		}
		return 0;
	}
	if ((rc = rollup_answer_kind(a, k, qid, 2, 0)) < 0)
		return rc;
	if (multi) {
		const char *p = text;

		while (p && *p) {
			char *end;
			long v;

			while (*p == ' ')
				p++;
			errno = 0;
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (errno == 0 && v >= -2147483647L && v <= 2147483647L &&
			    (rc = rollup_answer_kind(a, k, qid, 1, (int)v)) < 0)
				return rc;
			p = end;
		}
		return 0;
	}
	if (text && text[0])
		rc = rollup_answer_kind(a, k, qid, 3, 0);
	return rc;
}

/* The id of a unit (agency, procedure, channel), created on first use. */
static int64_t unit_id(struct archive *a, const struct archive_rkey *k)
{
	const char *v[3] = { k->agency ? k->agency : "", k->procedure ? k->procedure : "",
	                     k->channel ? k->channel : "" };
	sqlite3_stmt *s;
	int64_t uid = -1;

	for (int i = 0; i < a->nunits; i++)
		if (strcmp(a->units[i].agency, v[0]) == 0 && strcmp(a->units[i].procedure, v[1]) == 0 &&
		    strcmp(a->units[i].channel, v[2]) == 0)
			return a->units[i].uid;
	for (int pass = 0; pass < 2 && uid < 0; pass++) {
		if (!(s = archive_stmt_get(a, pass ? ST_RU_UNIT_INS : ST_RU_UNIT_GET, NULL, 0)))
			return -EIO;
		for (int i = 0; i < 3; i++)
			archive_bind_text(s, i + 1, v[i]);
		int rc = sqlite3_step(s);
		if (!pass && rc == SQLITE_ROW)
			uid = sqlite3_column_int64(s, 0);
		else if (pass && rc == SQLITE_DONE)
			uid = sqlite3_last_insert_rowid(a->db);
		else if (rc != SQLITE_DONE)
			return -EIO;
		sqlite3_reset(s);
	}
	/* remembered for the next survey; a rollback forgets them all (archive_put) */
	if (a->nunits < ARCHIVE_MAX_UNITS) {
		struct aunit *u = &a->units[a->nunits];

		u->agency = strdup(v[0]);
		u->procedure = strdup(v[1]);
		u->channel = strdup(v[2]);
		u->uid = uid;
		if (u->agency && u->procedure && u->channel)
			a->nunits++;
		else
			units_free_one(u);
	}
	return uid;
}

/* Count the survey itself, its citizen and its groups, after its answers. */
int archive_rollup_survey(struct archive *a, struct archive_rkey *k)
{
	int rc;

	if (!k->ids_ok && (rc = rkey_ids(a, k)) < 0)
		return rc;
	if (k->msisdn_hash) {
		int64_t uid = k->uid;
		int st = 0;

		if (uid < 0 || uid > 0xFFFFF)
			return -EIO;
		while (st < NSTATUS && strcmp(status_names[st], k->status) != 0)
			st++;
		if (a->czn == a->czmax) {
			int max = a->czmax ? a->czmax * 2 : 1024;
			struct rcitizen *nc = realloc(a->cz, sizeof *nc * (size_t)max);

			if (!nc)
				return -ENOMEM;
			a->cz = nc;
			a->czmax = max;
		}
		a->cz[a->czn++] = (struct rcitizen){ a->rn[k->ids[0]].s, (int64_t)archive_citizen_id(k->msisdn_hash),
		                                     ARCHIVE_CITIZEN_K(k->dayn, uid, st) };
	}
	if ((rc = rdelta_add(a, 0, k, NULL, 0, 0, 1, k->rated)) < 0)
		return rc;
	for (int i = 0; i < k->ngroups; i++)
		if ((rc = rdelta_add(a, 2, k, k->groups[i], 0, 0, 1, 0)) < 0)
			return rc;
	return 0;
}
