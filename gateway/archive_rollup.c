/* archive_rollup: the rollups the report reads (docs/archive.md), kept in the transaction of archive_put, and rebuilt from the rows of an older archive. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Schema 8's rollup tables: every key a small integer, so that an upsert
 * compares integers, not six strings, and the tables are a third of the
 * size (docs/archive.md, "Cost"). c, st, q and g are rollup_names ids
 * (campaign, status, question, group), u a rollup_units id, day the local
 * day number (ARCHIVE_NO_DAY when unknown). The views rollup_surveys,
 * rollup_answers and rollup_groups show them with the names and columns
 * the rollups had before (schema 3): the report reads those. */
#define RU_KEY " c INTEGER NOT NULL, day INTEGER NOT NULL, u INTEGER NOT NULL, st INTEGER NOT NULL,"
#define RU_PK "c, day, u, st"
#define RU_COLS "c.name AS campaign_id," \
	" CASE WHEN r.day = -1000000 THEN '' ELSE date(r.day * 86400, 'unixepoch') END AS day," \
	" u.agency AS agency, u.procedure AS procedure, u.channel AS channel, s.name AS status"
#define RU_JOIN " r JOIN rollup_names c ON c.id = r.c JOIN rollup_units u ON u.uid = r.u" \
	" JOIN rollup_names s ON s.id = r.st"
#define ROLLUP_TABLES(TMP) \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_s (" RU_KEY \
	" surveys INTEGER NOT NULL,"  /* surveys */ \
	" rated INTEGER NOT NULL,"    /* of them, with at least one rated answer */ \
	" PRIMARY KEY (" RU_PK ")) WITHOUT ROWID;" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_a (" RU_KEY \
	" q INTEGER NOT NULL," \
	" kind INTEGER NOT NULL,"     /* 0 valued, 1 chosen multi option, 2 row without value, \
	                               * 3 row without value with a comment */ \
	" value INTEGER NOT NULL,"    /* kinds 0 and 1; 0 otherwise */ \
	" n INTEGER NOT NULL," \
	" PRIMARY KEY (" RU_PK ", q, kind, value)) WITHOUT ROWID;" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_g (" RU_KEY \
	" g INTEGER NOT NULL,"        /* criteria group ('' = none) */ \
	" n INTEGER NOT NULL,"        /* surveys with a rated answer in it */ \
	" PRIMARY KEY (" RU_PK ", g)) WITHOUT ROWID;" \
	/* Distinct citizens: one small row per (citizen, local day, unit, status), \
	 * in citizen order, so that a report counts them in one short scan. */ \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_units (uid INTEGER PRIMARY KEY, agency TEXT NOT NULL," \
	" procedure TEXT NOT NULL, channel TEXT NOT NULL, UNIQUE (agency, procedure, channel));" \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_citizens (campaign_id TEXT NOT NULL," \
	" cid INTEGER NOT NULL,"        /* 64-bit FNV-1a of msisdn_hash */ \
	" k INTEGER NOT NULL,"          /* ARCHIVE_CITIZEN_K(local day, rollup_units.uid, status) */ \
	" PRIMARY KEY (campaign_id, cid, k)) WITHOUT ROWID;" \
	/* Schema 9: the rows of the last batches, merged into rollup_citizens \
	 * when ARCHIVE_CITIZENS_RECENT of them are here (archive_rollup_flush). \
	 * Their keys are random: a batch inserting into the small table rewrites \
	 * few pages, where it rewrote most of rollup_citizens' every time. \
	 * Readers take both (a row may be in both: it counts once). */ \
	"CREATE " TMP "TABLE IF NOT EXISTS rollup_citizens_recent (campaign_id TEXT NOT NULL," \
	" cid INTEGER NOT NULL, k INTEGER NOT NULL, PRIMARY KEY (campaign_id, cid, k)) WITHOUT ROWID;" \
	"CREATE " TMP "VIEW IF NOT EXISTS rollup_surveys AS SELECT " RU_COLS ", r.surveys AS surveys," \
	" r.rated AS rated FROM rollup_s" RU_JOIN ";" \
	"CREATE " TMP "VIEW IF NOT EXISTS rollup_answers AS SELECT " RU_COLS ", q.name AS question_id," \
	" r.kind AS kind, r.value AS value, r.n AS n FROM rollup_a" RU_JOIN " JOIN rollup_names q ON q.id = r.q;" \
	"CREATE " TMP "VIEW IF NOT EXISTS rollup_groups AS SELECT " RU_COLS ", g.name AS grp, r.n AS n" \
	" FROM rollup_g" RU_JOIN " JOIN rollup_names g ON g.id = r.g;"

int archive_rollup_schema(struct archive *a, int temp, char *err, size_t errlen)
{
	static const char *const old[3] = { "rollup_surveys", "rollup_answers", "rollup_groups" };

	if (temp)
		return archive_exec(a, "DROP VIEW IF EXISTS temp.rollup_surveys; DROP VIEW IF EXISTS temp.rollup_answers;"
		                    " DROP VIEW IF EXISTS temp.rollup_groups; DROP TABLE IF EXISTS temp.rollup_s;"
		                    " DROP TABLE IF EXISTS temp.rollup_a; DROP TABLE IF EXISTS temp.rollup_g;"
		                    " DROP TABLE IF EXISTS temp.rollup_names; DROP TABLE IF EXISTS temp.rollup_units;"
		                    " DROP TABLE IF EXISTS temp.rollup_citizens;"
		                    " DROP TABLE IF EXISTS temp.rollup_citizens_recent;" ROLLUP_TABLES("TEMP "), err, errlen);
	/* schema 3-7 had tables where the views are now */
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *s = NULL;
		char sql[64];
		int rc = sqlite3_prepare_v2(a->db, "SELECT type FROM main.sqlite_master WHERE name = ?1", -1, &s, NULL);
		int table = 0;

		if (rc == SQLITE_OK) {
			archive_bind_text(s, 1, old[i]);
			rc = sqlite3_step(s);
			table = rc == SQLITE_ROW && sqlite3_column_text(s, 0) &&
			        strcmp((const char *)sqlite3_column_text(s, 0), "table") == 0;
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			archive_seterr(err, errlen, "rollup schema: %s", sqlite3_errmsg(a->db));
			return -EIO;
		}
		snprintf(sql, sizeof sql, "DROP TABLE main.%s", old[i]);
		if (table && archive_exec(a, sql, err, errlen) < 0)
			return -EIO;
	}
	return archive_exec(a, ROLLUP_TABLES(""), err, errlen);
}

/* The local day of t in the zone in use (tzone.h). */
void archive_rkey_day(struct archive_rkey *k, int64_t t)
{
	k->dayn = t == 0 ? ARCHIVE_NO_DAY : tzone_day(t);
	k->ids_ok = 0; /* a new survey: its strings are interned again on first use */
}

/* Days since 1970-01-01 to the civil date (H. Hinnant's days_from_civil, inverted). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

const char *archive_day_text(int64_t dayn, char buf[16])
{
	int64_t y;
	int m, d;

	buf[0] = '\0';
	if (dayn == ARCHIVE_NO_DAY)
		return buf;
	civil_from_days(dayn, &y, &m, &d);
	if (y < 1000 || y > 9999) { /* not 4 digits: as strftime writes it */
		time_t tt = (time_t)(dayn * 86400);
		struct tm tm;

		if (gmtime_r(&tt, &tm))
			strftime(buf, 16, "%Y-%m-%d", &tm);
		return buf;
	}
	int f[3] = { (int)y, m, d };
	char *p = buf;

	for (int i = 0; i < 3; i++) {
		if (i) {
			*p++ = '-';
		} else {
			*p++ = (char)('0' + f[0] / 1000);
			*p++ = (char)('0' + f[0] / 100 % 10);
		}
		*p++ = (char)('0' + f[i] / 10 % 10);
		*p++ = (char)('0' + f[i] % 10);
	}
	*p = '\0';
	return buf;
}

int archive_rollup_zone_of(struct sqlite3 *db, char *buf, size_t cap)
{
	sqlite3_stmt *s = NULL;
	int rc;

	snprintf(buf, cap, "%s", TZONE_DEFAULT);
	if (sqlite3_prepare_v2(db, "SELECT value FROM rollup_meta WHERE key = 'timezone'", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int archive_rollup_zone(struct archive *a, char *err, size_t errlen)
{
	sqlite3_stmt *s = archive_stmt_get(a, ST_RU_ZONE, err, errlen);
	const unsigned char *v;
	int rc, same;

	if (!s)
		return -EIO;
	if ((rc = sqlite3_step(s)) != SQLITE_ROW && rc != SQLITE_DONE) {
		archive_seterr(err, errlen, "rollup zone: %s", sqlite3_errmsg(a->db));
		sqlite3_reset(s);
		return -EIO;
	}
	v = rc == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
	same = strcmp(v ? (const char *)v : TZONE_DEFAULT, tzone_name()) == 0;
	sqlite3_reset(s);
	if (same)
		return 0;
	archive_units_forget(a);
	return archive_rollup_rebuild(a, NULL, 0, err, errlen);
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

/* What the survey's campaign version says of question `qid`: multi, its
 * group, whether it is rated (has satisfied values). 0 when not recorded. */
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

/* One rollup row's count in this transaction: its key in small integers
 * (strings interned in a->rn), so that adding to it costs no allocation and
 * no string compare. */
struct rdelta {
	int table;                  /* 0 rollup_surveys, 1 rollup_answers, 2 rollup_groups */
	int32_t c, st, x;           /* interned campaign, status, question or group ("" = none) */
	int kind, value;            /* rollup_answers */
	int64_t dayn, uid;
	int64_t n, rated;
	uint64_t h;
	int64_t cdb, stdb, xdb;     /* their rollup_names ids, found at flush */
};

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

/* The rollup_names id of interned string id, created on first use. */
static int64_t name_dbid(struct archive *a, int32_t id)
{
	sqlite3_stmt *s;
	int64_t dbid = 0;

	if (a->rn[id].dbid)
		return a->rn[id].dbid;
	for (int pass = 0; pass < 2 && dbid <= 0; pass++) {
		int rc;

		if (!(s = archive_stmt_get(a, pass ? ST_RU_NAME_INS : ST_RU_NAME_GET, NULL, 0)))
			return -EIO;
		archive_bind_text(s, 1, a->rn[id].s);
		rc = sqlite3_step(s);
		if (!pass && rc == SQLITE_ROW)
			dbid = sqlite3_column_int64(s, 0);
		else if (pass && rc == SQLITE_DONE)
			dbid = sqlite3_last_insert_rowid(a->db);
		else if (rc != SQLITE_DONE)
			dbid = -EIO;
		sqlite3_reset(s);
		if (dbid < 0)
			return dbid;
	}
	return a->rn[id].dbid = dbid;
}

static int cmp64(int64_t x, int64_t y)
{
	return (x > y) - (x < y);
}

/* Flush order: the tables' primary key order, so that the upserts walk each
 * B-tree from left to right. */
static int rdelta_cmp(const void *x, const void *y)
{
	const struct rdelta *p = x, *q = y;
	int c;

	if (p->table != q->table)
		return p->table - q->table;
	if ((c = cmp64(p->cdb, q->cdb)) || (c = cmp64(p->dayn, q->dayn)) || (c = cmp64(p->uid, q->uid)) ||
	    (c = cmp64(p->stdb, q->stdb)) || (c = cmp64(p->xdb, q->xdb)) || (c = cmp64(p->kind, q->kind)))
		return c;
	return cmp64(p->value, q->value);
}

/* rollup_citizens_recent into rollup_citizens once it holds
 * ARCHIVE_CITIZENS_RECENT rows: sorted, so that the big table's pages are
 * each rewritten once per merge rather than once per batch. 0 or -EIO. */
static int citizens_merge(struct archive *a)
{
	sqlite3_stmt *s = archive_stmt_get(a, ST_RU_RECENT_COUNT, NULL, 0);
	int64_t n;

	if (!s || sqlite3_step(s) != SQLITE_ROW) {
		if (s)
			sqlite3_reset(s);
		return -EIO;
	}
	n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (n < ARCHIVE_CITIZENS_RECENT)
		return 0;
	return archive_exec(a, "INSERT OR IGNORE INTO rollup_citizens(campaign_id, cid, k)"
	                       " SELECT campaign_id, cid, k FROM rollup_citizens_recent ORDER BY campaign_id, cid, k;"
	                       " DELETE FROM rollup_citizens_recent;", NULL, 0) < 0 ? -EIO : 0;
}

/* rollup_citizens' key order: campaign (BINARY), cid and k as SQLite's signed integers. */
static int rcitizen_cmp(const void *x, const void *y)
{
	const struct rcitizen *p = x, *q = y;
	int c;

	if (p->c != q->c && (c = strcmp(p->c, q->c)) != 0)
		return c;
	if ((c = cmp64(p->cid, q->cid)))
		return c;
	return cmp64(p->k, q->k);
}

int archive_rollup_flush(struct archive *a)
{
	static const enum archive_stmt st[3] = { ST_RU_SURVEY, ST_RU_ANSWER, ST_RU_GROUP };
	int rc = 0;

	for (int i = 0; i < a->rdn; i++) {
		struct rdelta *d = &a->rd[i];

		if ((d->cdb = name_dbid(a, d->c)) < 0 || (d->stdb = name_dbid(a, d->st)) < 0 ||
		    (d->xdb = d->table ? name_dbid(a, d->x) : 0) < 0)
			return -EIO;
	}
	if (a->rdn > 1)
		qsort(a->rd, (size_t)a->rdn, sizeof *a->rd, rdelta_cmp); /* the index is reset by the discard below */
	for (int i = 0; i < a->rdn && rc == 0; i++) {
		const struct rdelta *d = &a->rd[i];
		sqlite3_stmt *s;
		int c = 5;

		if (!(s = archive_stmt_get(a, st[d->table], NULL, 0))) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_int64(s, 1, d->cdb);
		sqlite3_bind_int64(s, 2, d->dayn);
		sqlite3_bind_int64(s, 3, d->uid);
		sqlite3_bind_int64(s, 4, d->stdb);
		if (d->table) {
			sqlite3_bind_int64(s, c++, d->xdb);
			if (d->table == 1) {
				sqlite3_bind_int(s, c++, d->kind);
				sqlite3_bind_int(s, c++, d->value);
			}
			sqlite3_bind_int64(s, c, d->n);
		} else {
			sqlite3_bind_int64(s, 5, d->n);
			sqlite3_bind_int64(s, 6, d->rated);
		}
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = -EIO;
		sqlite3_reset(s);
	}
	if (a->czn > 1)
		qsort(a->cz, (size_t)a->czn, sizeof *a->cz, rcitizen_cmp);
	for (int i = 0; i < a->czn && rc == 0; i++) {
		const struct rcitizen *z = &a->cz[i];
		sqlite3_stmt *s = archive_stmt_get(a, ST_RU_CITIZEN, NULL, 0);

		if (!s) {
			rc = -EIO;
			break;
		}
		archive_bind_text(s, 1, z->c);
		sqlite3_bind_int64(s, 2, z->cid);
		sqlite3_bind_int64(s, 3, z->k);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = -EIO;
		sqlite3_reset(s);
	}
	if (rc == 0 && a->czn > 0)
		rc = citizens_merge(a);
	if (rc == 0)
		archive_rollup_discard(a);
	return rc;
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

/* Fill the rollups from the surveys and answers already stored (a database
 * from before schema 3), inside the caller's transaction. */
int archive_rollup_rebuild(struct archive *a, const char *campaign_id, int temp, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT s.survey_id, s.campaign_id, s.campaign_version, s.agency, s.procedure, s.channel,"
		" s.status, COALESCE(CAST(strftime('%s', s.triggered_at) AS INTEGER), 0),"
		" a.question_id, a.value, a.text, s.msisdn_hash"
		" FROM surveys s LEFT JOIN answers a ON a.survey_id = s.survey_id"
		" WHERE ?1 IS NULL OR s.campaign_id = ?1 ORDER BY s.survey_id";
	sqlite3_stmt *q = NULL;
	struct archive_rkey k;
	char *cur = NULL, *f[7] = {0};
	int rc = -EIO, step;

	memset(&k, 0, sizeof k);
	if (archive_exec(a, "DELETE FROM rollup_s; DELETE FROM rollup_a; DELETE FROM rollup_g;"
	         " DELETE FROM rollup_citizens; DELETE FROM rollup_citizens_recent;", err, errlen) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(a->db, sql, -1, &q, NULL) != SQLITE_OK)
		goto sqlfail;
	archive_bind_text(q, 1, campaign_id);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);

		if (!cur || strcmp(cur, id) != 0) {
			if (cur && archive_rollup_survey(a, &k) < 0)
				goto sqlfail;
			archive_rkey_clear(&k);
			free(cur);
			for (int i = 0; i < 7; i++) {
				const unsigned char *v = sqlite3_column_text(q, i < 6 ? i + 1 : 11);

				free(f[i]);
				f[i] = v ? strdup((const char *)v) : NULL;
			}
			cur = strdup(id);
			if (!cur)
				goto nomem;
			k.campaign_id = f[0];
			k.version = f[1];
			k.agency = f[2];
			k.procedure = f[3];
			k.channel = f[4];
			k.status = f[5];
			k.msisdn_hash = f[6];
			archive_rkey_day(&k, sqlite3_column_int64(q, 7));
		}
		if (sqlite3_column_type(q, 8) == SQLITE_NULL)
			continue; /* a survey without answers */
		if ((rc = archive_rollup_answer(a, &k, (const char *)sqlite3_column_text(q, 8),
		                        sqlite3_column_type(q, 9) != SQLITE_NULL, sqlite3_column_int(q, 9),
		                        (const char *)sqlite3_column_text(q, 10))) < 0) {
			if (rc == -ENOMEM)
				goto nomem;
			goto sqlfail;
		}
	}
	if (step != SQLITE_DONE || (cur && archive_rollup_survey(a, &k) < 0) || archive_rollup_flush(a) < 0)
		goto sqlfail;
	if (!temp) {
		sqlite3_stmt *m = NULL;

		if (sqlite3_prepare_v2(a->db, "INSERT OR REPLACE INTO rollup_meta VALUES ('timezone', ?1)", -1, &m,
		                       NULL) != SQLITE_OK)
			goto sqlfail;
		archive_bind_text(m, 1, tzone_name());
		step = sqlite3_step(m);
		sqlite3_finalize(m);
		if (step != SQLITE_DONE)
			goto sqlfail;
	}
	rc = 0;
	goto out;
nomem:
	archive_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto out;
sqlfail:
	archive_seterr(err, errlen, "rollup: %s", sqlite3_errmsg(a->db));
	rc = -EIO;
out:
	if (rc < 0)
		archive_rollup_discard(a);
	archive_rkey_clear(&k);
	free(cur);
	for (int i = 0; i < 7; i++)
		free(f[i]);
	sqlite3_finalize(q);
	return rc;
}
