/* report_load: the rows a report needs (campaign version, rollups, distinct citizens), the empty slices, the comments. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "tzone.h"

/* ---- loading ---- */

/* WHERE clause for the query's filters over a table with columns day (or
 * triggered_at when `surveys`), agency, procedure, status; binds from ?2 on. */
static void where_sql(const struct report_query *q, int surveys, char *buf, size_t cap)
{
	size_t len = (size_t)snprintf(buf, cap, "campaign_id = ?1");

	if (q->from && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, surveys ? " AND triggered_at >= ?2" : " AND day >= ?2");
	if (q->to && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, surveys ? " AND triggered_at < ?3" : " AND day <= ?3");
	if (q->agency && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " AND agency = ?4");
	if (q->procedure && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " AND procedure = ?5");
	if (q->status && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " AND status = ?6");
	if (q->nagencies == 0 && len < cap) {
		snprintf(buf + len, cap - len, " AND 0"); /* a token that may see no agency */
	} else if (q->nagencies > 0 && len < cap) {
		len += (size_t)snprintf(buf + len, cap - len, " AND agency IN (");
		for (int i = 0; i < q->nagencies && len < cap; i++)
			len += (size_t)snprintf(buf + len, cap - len, "%s?%d", i ? ", " : "", 10 + i);
		if (len < cap)
			snprintf(buf + len, cap - len, ")");
	}
}

/* The UTC instant (ISO text) where local day `date` (+ add days) begins. */
static void day_start_utc(const char *date, int add, char *buf, size_t cap)
{
	int64_t days = 0;
	int64_t t;
	int y, m, d;

	rp_parse_date(date, &days);
	t = tzone_day_start(days + add);
	rp_civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &m, &d);
	t -= (t >= 0 ? t / 86400 : (t - 86399) / 86400) * 86400;
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(t / 3600), (int)(t / 60 % 60),
	         (int)(t % 60));
}

static int prepare(struct report_db *db, const struct report_query *q, const char *sql, int surveys,
                   sqlite3_stmt **out, char *err, size_t errlen)
{
	char a[32], b[32];

	if (sqlite3_prepare_v2(db->db, sql, -1, out, NULL) != SQLITE_OK) {
		rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
		return -EIO;
	}
	sqlite3_bind_text(*out, 1, q->campaign, -1, SQLITE_TRANSIENT);
	if (q->from) {
		if (surveys)
			day_start_utc(q->from, 0, a, sizeof a);
		sqlite3_bind_text(*out, 2, surveys ? a : q->from, -1, SQLITE_TRANSIENT);
	}
	if (q->to) {
		if (surveys)
			day_start_utc(q->to, 1, b, sizeof b);
		sqlite3_bind_text(*out, 3, surveys ? b : q->to, -1, SQLITE_TRANSIENT);
	}
	if (q->agency)
		sqlite3_bind_text(*out, 4, q->agency, -1, SQLITE_TRANSIENT);
	if (q->procedure)
		sqlite3_bind_text(*out, 5, q->procedure, -1, SQLITE_TRANSIENT);
	if (q->status)
		sqlite3_bind_text(*out, 6, q->status, -1, SQLITE_TRANSIENT);
	for (int i = 0; i < q->nagencies; i++)
		sqlite3_bind_text(*out, 10 + i, q->agencies[i], -1, SQLITE_TRANSIENT);
	return 0;
}

/* A question's wording as the citizen read it: "{n}" its number, "{total}"
 * the number of questions. Replaces *text (owned). */
static int fill_numbers(char **text, int n, int total)
{
	size_t cap = strlen(*text) * 2 + 32, len = 0;
	char *out = malloc(cap);
	const char *p = *text;

	if (!out)
		return -ENOMEM;
	while (*p && len + 24 < cap) {
		if (strncmp(p, "{n}", 3) == 0) {
			len += (size_t)snprintf(out + len, cap - len, "%d", n);
			p += 3;
		} else if (strncmp(p, "{total}", 7) == 0) {
			len += (size_t)snprintf(out + len, cap - len, "%d", total);
			p += 7;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	free(*text);
	*text = out;
	return 0;
}

/* The version whose questions are shown, its name, and the definitions. */
int rp_load_defs(struct report_db *db, struct rep *r, const char *campaign, json_t *root,
                     char *err, size_t errlen)
{
	static const char vsql[] =
		"SELECT v.campaign_version, v.name FROM campaign_versions v WHERE v.campaign_id = ?1"
		" ORDER BY EXISTS(SELECT 1 FROM surveys s WHERE s.campaign_id = v.campaign_id"
		" AND s.campaign_version = v.campaign_version) DESC, v.rowid DESC LIMIT 1";
	static const char qsql[] =
		"SELECT question_id, position, COALESCE(grp, ''), type, COALESCE(text, ''), satisfied"
		" FROM campaign_questions WHERE campaign_id = ?1 AND campaign_version = ?2 ORDER BY position";
	static const char osql[] =
		"SELECT question_id, value, COALESCE(label, '') FROM campaign_options"
		" WHERE campaign_id = ?1 AND campaign_version = ?2 ORDER BY question_id, value";
	sqlite3_stmt *s = NULL;
	char *version = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db->db, vsql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		version = strdup(rp_col(s, 0));
		json_object_set_new(root, "name", json_string(rp_col(s, 1)));
		json_object_set_new(root, "version", json_string(rp_col(s, 0)));
	} else if (rc != SQLITE_DONE) {
		goto sqlfail;
	} else {
		json_object_set_new(root, "name", json_null());
		json_object_set_new(root, "version", json_null());
	}
	sqlite3_finalize(s);
	s = NULL;
	if (!version)
		return 0;
	if (sqlite3_prepare_v2(db->db, qsql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct qdef *q = rp_add_q(r, rp_col(s, 0));

		if (!q || !(q->grp = strdup(rp_col(s, 2))) || !(q->type = strdup(rp_col(s, 3))) ||
		    !(q->text = strdup(rp_col(s, 4))))
			goto nomem;
		q->position = sqlite3_column_int(s, 1);
		q->nsat = rp_parse_ints(rp_col(s, 5), q->sat, 32);
		if (q->nsat > 0 && rp_find_g(r, q->grp, 1) < 0)
			goto nomem;
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	s = NULL;
	for (int i = 0; i < r->nq; i++)
		if (fill_numbers(&r->q[i].text, r->q[i].position, r->nq) < 0)
			goto nomem;
	if (sqlite3_prepare_v2(db->db, osql, -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int i = rp_find_q(r, rp_col(s, 0));
		struct qdef *q = i >= 0 ? &r->q[i] : NULL;

		if (!q || q->nopts == 32)
			continue;
		q->opts[q->nopts].value = sqlite3_column_int(s, 1);
		if (!(q->opts[q->nopts].label = strdup(rp_col(s, 2))))
			goto nomem;
		q->nopts++;
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	free(version);
	return 0;
nomem:
	rp_seterr(err, errlen, "out of memory");
	sqlite3_finalize(s);
	free(version);
	return -ENOMEM;
sqlfail:
	rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
	sqlite3_finalize(s);
	free(version);
	return -EIO;
}

/* Each question's wording in every version of the campaign that has surveys
 * in the archive, so that answers given under an older wording are shown
 * with it: root's "questions"[i]["wordings"] = [{"text", "versions": [...]}],
 * one entry per distinct wording (numbers filled in), in the order the
 * versions were recorded. A question answered but absent from the report's
 * version takes its group and wording from the newest version that has it.
 * Cheap: the versions with surveys are found through an index. */
int rp_load_wordings(struct report_db *db, struct rep *r, const char *campaign, json_t *defs, char *err,
                     size_t errlen)
{
	static const char sql[] =
		"SELECT v.campaign_version, q.question_id, q.position, COALESCE(q.text, ''), COALESCE(q.grp, ''),"
		" (SELECT COUNT(*) FROM campaign_questions n WHERE n.campaign_id = v.campaign_id"
		"  AND n.campaign_version = v.campaign_version)"
		" FROM campaign_versions v JOIN campaign_questions q ON q.campaign_id = v.campaign_id"
		" AND q.campaign_version = v.campaign_version"
		" WHERE v.campaign_id = ?1 AND EXISTS (SELECT 1 FROM surveys s WHERE s.campaign_id = v.campaign_id"
		" AND s.campaign_version = v.campaign_version)"
		" ORDER BY v.rowid, q.position";
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
		return -EIO;
	}
	sqlite3_bind_text(s, 1, campaign, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int i = rp_find_q(r, rp_col(s, 1));
		char *text = strdup(rp_col(s, 3));
		json_t *jq = json_array_get(defs, (size_t)(i < 0 ? 0 : i)), *ws, *w = NULL;
		size_t k;

		if (!text || fill_numbers(&text, sqlite3_column_int(s, 2), sqlite3_column_int(s, 5)) < 0) {
			free(text);
			goto nomem;
		}
		if (i < 0 || !jq) { /* not answered in this campaign: nothing to show it for */
			free(text);
			continue;
		}
		if (r->q[i].position == 0) { /* only in older versions: their wording and group */
			json_object_set_new(jq, "text", json_string(text));
			json_object_set_new(jq, "group", rp_col(s, 4)[0] ? json_string(rp_col(s, 4)) : json_null());
		}
		if (!(ws = json_object_get(jq, "wordings"))) {
			ws = json_array();
			json_object_set_new(jq, "wordings", ws);
		}
		json_array_foreach(ws, k, w)
			if (strcmp(json_string_value(json_object_get(w, "text")), text) == 0)
				break;
		if (k == json_array_size(ws)) {
			w = json_pack("{s:s, s:[]}", "text", text, "versions");
			json_array_append_new(ws, w);
		}
		free(text);
		if (!w || json_array_append_new(json_object_get(w, "versions"), json_string(rp_col(s, 0))) < 0)
			goto nomem;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
		return -EIO;
	}
	return 0;
nomem:
	sqlite3_finalize(s);
	rp_seterr(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The row's slices in every view, reused while consecutive rows share
 * their (day, agency, procedure, channel): rows come in primary-key order. */
struct lastkey {
	char k[4][256];
	int valid;
	struct slice *sl[NVIEWS];
};

static int lastkey_slices(struct rep *r, struct lastkey *lk, sqlite3_stmt *s)
{
	int same = lk->valid;

	for (int i = 0; i < 4 && same; i++)
		same = strcmp(lk->k[i], rp_col(s, i)) == 0;
	if (same)
		return 0;
	for (int i = 0; i < 4; i++)
		snprintf(lk->k[i], sizeof lk->k[i], "%s", rp_col(s, i));
	lk->valid = 1;
	for (int v = 0; v < NVIEWS; v++) {
		struct rowkey k = { lk->k[0], lk->k[1], lk->k[2], lk->k[3] };

		lk->sl[v] = NULL;
		if (!r->v[v].off && !(lk->sl[v] = rp_row_slice(&r->v[v], &k)))
			return -ENOMEM;
	}
	return 0;
}

/* Add the rollup rows of q to every view's slices: surveys by status,
 * answers by question, kind and value, respondents by group. */
int rp_load_rollups(struct report_db *db, struct rep *r, const struct report_query *q, char *err,
                    size_t errlen)
{
	static const char *const table[3] = {"rollup_surveys", "rollup_answers", "rollup_groups"};
	static const char *const extra[3] = {"status, surveys, rated", "question_id, kind, value, n", "grp, n"};
	char where[2048], sql[4096], lastq[256] = "";
	int rc, qi = -1;

	where_sql(q, 0, where, sizeof where);
	for (int t = 0; t < 3; t++) {
		sqlite3_stmt *s = NULL;
		struct lastkey lk;

		lk.valid = 0;
		snprintf(sql, sizeof sql, "SELECT day, agency, procedure, channel, %s FROM %s WHERE %s", extra[t],
		         table[t], where);
		if ((rc = prepare(db, q, sql, 0, &s, err, errlen)) < 0)
			return rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			int gi = -1, kind = 0, value = 0, si = NSTATUS;
			int64_t n = sqlite3_column_int64(s, t == 1 ? 7 : 5);
			const struct qdef *d = NULL;

			if (lastkey_slices(r, &lk, s) < 0)
				goto nomem;
			if (t == 0) {
				while (si > 0 && strcmp(rp_col(s, 4), status_names[si - 1]) != 0)
					si--;
				if (si == 0)
					si = NSTATUS + 1; /* not a known status: "other" */
			} else if (t == 1) {
				if (qi < 0 || strcmp(lastq, rp_col(s, 4)) != 0) {
					if ((qi = rp_answered_q(r, rp_col(s, 4))) < 0)
						goto nomem;
					snprintf(lastq, sizeof lastq, "%s", rp_col(s, 4));
				}
				d = &r->q[qi];
				kind = sqlite3_column_int(s, 5);
				value = sqlite3_column_int(s, 6);
			} else if ((gi = rp_find_g(r, rp_col(s, 4), 1)) < 0) {
				goto nomem;
			}
			for (int v = 0; v < NVIEWS; v++) {
				struct slice *sl = lk.sl[v];
				struct qacc *a;
				int64_t *g;

				if (!sl)
					continue;
				if (t == 0) {
					sl->status[si - 1] += n;
					sl->surveys += n;
					sl->rated += sqlite3_column_int64(s, 6);
				} else if (t == 2) {
					if (!(g = rp_slice_g(sl, gi)))
						goto nomem;
					*g += n;
				} else {
					if (!(a = rp_slice_q(sl, qi)))
						goto nomem;
					if (kind == 0) {
						a->rows += n;
						a->valued += n;
						a->sum += (double)value * (double)n;
						if (rp_is_sat(d, value))
							a->satisfied += n;
						if (rp_qacc_add(a, value, n) < 0)
							goto nomem;
					} else if (kind == 1) {
						if (rp_qacc_add(a, value, n) < 0)
							goto nomem;
					} else if (kind == 2) {
						a->rows += n;
					} else {
						a->texts += n;
					}
				}
			}
			continue;
nomem:
			sqlite3_finalize(s);
			rp_seterr(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (rc != SQLITE_DONE) {
			rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
			sqlite3_finalize(s);
			return -EIO;
		}
		sqlite3_finalize(s);
	}
	return 0;
}

/* (local day number, unit id) -> its slice in every view: an open-addressing
 * table, so that a row of rollup_citizens costs one lookup. */
struct ccache {
	struct centry { int64_t key; int used; struct slice *s[NVIEWS]; } *e;
	int cap, n;
};

static struct slice *const *cached_slices(struct rep *r, struct ccache *c, int64_t dayn, int64_t uid,
                                          char *const *unit)
{
	int64_t key = dayn * 1048576 + uid;
	uint64_t x;
	struct rowkey k;
	char day[16];

	if (c->n * 2 >= c->cap) {
		int cap = c->cap ? c->cap * 2 : 1024;
		struct centry *ne = calloc((size_t)cap, sizeof *ne);

		if (!ne)
			return NULL;
		for (int i = 0; i < c->cap; i++) {
			if (!c->e[i].used)
				continue;
			x = ((uint64_t)c->e[i].key * 0x9E3779B97F4A7C15ull) >> 20 & (uint64_t)(cap - 1);
			while (ne[x].used)
				x = (x + 1) & (uint64_t)(cap - 1);
			ne[x] = c->e[i];
		}
		free(c->e);
		c->e = ne;
		c->cap = cap;
	}
	x = ((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 20 & (uint64_t)(c->cap - 1);
	while (c->e[x].used) {
		if (c->e[x].key == key)
			return c->e[x].s;
		x = (x + 1) & (uint64_t)(c->cap - 1);
	}
	if (dayn == ARCHIVE_NO_DAY)
		day[0] = '\0';
	else
		rp_fmt_day(dayn, day, sizeof day);
	k.day = day;
	k.agency = unit[0];
	k.procedure = unit[1];
	k.channel = unit[2];
	for (int v = 0; v < NVIEWS; v++) {
		c->e[x].s[v] = NULL;
		if (!r->v[v].off && !(c->e[x].s[v] = rp_row_slice(&r->v[v], &k)))
			return NULL;
	}
	c->e[x].key = key;
	c->e[x].used = 1;
	c->n++;
	return c->e[x].s;
}

/* Distinct citizens per slice: one pass over rollup_citizens, in citizen
 * order (a few bytes per citizen, day, unit and status); a slice counts a
 * citizen once. Filters are applied here, on unit ids and day numbers. */
int rp_load_citizens(struct report_db *db, struct rep *r, const struct report_query *q, char *err,
                         size_t errlen)
{
	sqlite3_stmt *s = NULL;
	char *(*units)[3] = NULL;
	unsigned char *ok = NULL;
	int64_t nunits = 0, from = INT64_MIN, to = INT64_MAX, prev = 0;
	uint64_t epoch = 0;
	int rc = -EIO, st = -1, first = 1;
	struct ccache cc = { NULL, 0, 0 };
	struct slice *const *sls;

	if (q->from)
		rp_parse_date(q->from, &from);
	if (q->to)
		rp_parse_date(q->to, &to);
	if (q->status)
		for (st = 0; st < ARCHIVE_NSTATUS && strcmp(archive_status_names[st], q->status) != 0; st++)
			;
	if (sqlite3_prepare_v2(db->db, "SELECT MAX(uid) FROM rollup_units", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto sqlfail;
	nunits = sqlite3_column_int64(s, 0) + 1;
	sqlite3_finalize(s);
	s = NULL;
	if (nunits < 1 || nunits > 1000000 || !(units = calloc((size_t)nunits, sizeof *units)) ||
	    !(ok = calloc((size_t)nunits, 1)))
		goto nomem;
	if (sqlite3_prepare_v2(db->db, "SELECT uid, agency, procedure, channel FROM rollup_units", -1, &s, NULL) !=
	    SQLITE_OK)
		goto sqlfail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t u = sqlite3_column_int64(s, 0);
		int allowed = q->nagencies < 0;

		if (u < 0 || u >= nunits)
			continue;
		for (int i = 0; i < 3; i++)
			if (!(units[u][i] = strdup(rp_col(s, i + 1))))
				goto nomem;
		for (int i = 0; i < q->nagencies; i++)
			allowed |= strcmp(q->agencies[i], units[u][0]) == 0;
		ok[u] = allowed && (!q->agency || strcmp(q->agency, units[u][0]) == 0) &&
		        (!q->procedure || strcmp(q->procedure, units[u][1]) == 0);
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	sqlite3_finalize(s);
	s = NULL;
	/* both tables in citizen order, merged (no sort: each is read in key
	 * order); a row in both comes twice, next to itself, and counts once */
	if (sqlite3_prepare_v2(db->db, "SELECT cid, k FROM rollup_citizens WHERE campaign_id = ?1 UNION ALL"
	                       " SELECT cid, k FROM rollup_citizens_recent WHERE campaign_id = ?1 ORDER BY 1",
	                       -1, &s, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(s, 1, q->campaign, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t cid = sqlite3_column_int64(s, 0), k = sqlite3_column_int64(s, 1);
		int64_t day = ARCHIVE_CITIZEN_DAY(k), u = ARCHIVE_CITIZEN_UID(k);
		int status = ARCHIVE_CITIZEN_STATUS(k);

		if (u < 0 || u >= nunits || !ok[u] || (st >= 0 && status != st) ||
		    ((q->from || q->to) && (day == ARCHIVE_NO_DAY || day < from || day > to)))
			continue;
		if (first || cid != prev) {
			epoch++;
			prev = cid;
			first = 0;
		}
		if (!(sls = cached_slices(r, &cc, day, u, units[u])))
			goto nomem;
		for (int v = 0; v < NVIEWS; v++) {
			struct slice *sl = sls[v];

			if (!sl)
				continue;
			if (sl->seen != epoch) {
				sl->seen = epoch;
				sl->citizens++;
			}
			if (status == 0 && sl->seen_done != epoch) {
				sl->seen_done = epoch;
				sl->citizens_completed++;
			}
		}
	}
	if (rc != SQLITE_DONE)
		goto sqlfail;
	rc = 0;
	goto out;
nomem:
	rp_seterr(err, errlen, "out of memory");
	rc = -ENOMEM;
	goto out;
sqlfail:
	rp_seterr(err, errlen, "report: %s", sqlite3_errmsg(db->db));
	rc = -EIO;
out:
	sqlite3_finalize(s);
	for (int64_t i = 0; units && i < nunits; i++)
		for (int k = 0; k < 3; k++)
			free(units[i][k]);
	free(units);
	free(ok);
	free(cc.e);
	return rc;
}

/* Local day of an ISO UTC time "YYYY-MM-DDTHH:MM:SSZ" into buf ("" if not one). */
static void local_day(const char *iso, char *buf, size_t cap)
{
	int64_t days;
	int h, mi, s;

	if (rp_parse_date(iso, &days) < 0 || strlen(iso) < 19 || rp_digits(iso + 11, 2, &h) < 0 ||
	    rp_digits(iso + 14, 2, &mi) < 0 || rp_digits(iso + 17, 2, &s) < 0) {
		snprintf(buf, cap, "%s", "");
		return;
	}
	rp_fmt_day(tzone_day(days * 86400 + h * 3600 + mi * 60 + s), buf, cap);
}

static int cmp_slice(const void *a, const void *b)
{
	const struct slice *x = *(const struct slice *const *)a, *y = *(const struct slice *const *)b;

	for (int i = 0; i < REPORT_MAX_BY; i++) {
		int c = strcmp(x->key[i], y->key[i]);

		if (c)
			return c;
	}
	return 0;
}

struct strlist {
	char **s;
	int n, cap;
};

static int strlist_add(struct strlist *l, const char *v)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->s[i], v) == 0)
			return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		char **ns = realloc(l->s, (size_t)cap * sizeof *ns);

		if (!ns)
			return -ENOMEM;
		l->s = ns;
		l->cap = cap;
	}
	if (!(l->s[l->n] = strdup(v)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static void strlist_free(struct strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
}

/* Empty slices too: every combination of the values seen in each dimension,
 * periods filled in between (and out to --from and --to). Then sorted. */
int rp_fill_view(struct view *v, const struct report_query *q)
{
	struct strlist vals[REPORT_MAX_BY];
	int rc = -ENOMEM;

	memset(vals, 0, sizeof vals);
	for (int d = 0; d < v->ndim; d++) {
		char lab[16], next[16];
		const char *lo = NULL, *hi = NULL;

		for (int i = 0; i < v->ns; i++)
			if (strlist_add(&vals[d], v->s[i]->key[d]) < 0)
				goto out;
		if (!rp_dim_is_period(v->dim[d]))
			continue;
		if (q->from) {
			rp_period_label(v->dim[d], q->from, lab, sizeof lab);
			if (strlist_add(&vals[d], lab) < 0)
				goto out;
		}
		if (q->to) {
			rp_period_label(v->dim[d], q->to, lab, sizeof lab);
			if (strlist_add(&vals[d], lab) < 0)
				goto out;
		}
		for (int i = 0; i < vals[d].n; i++) {
			const char *x = vals[d].s[i];

			if (!x[0])
				continue;
			if (!lo || strcmp(x, lo) < 0)
				lo = x;
			if (!hi || strcmp(x, hi) > 0)
				hi = x;
		}
		if (!lo)
			continue;
		snprintf(lab, sizeof lab, "%s", lo);
		snprintf(next, sizeof next, "%s", hi);
		for (int k = 0; k < REPORT_MAX_FILL && strcmp(lab, next) < 0; k++) {
			char n2[16];

			if (rp_period_next(v->dim[d], lab, n2, sizeof n2) < 0)
				break;
			snprintf(lab, sizeof lab, "%s", n2);
			if (strlist_add(&vals[d], lab) < 0)
				goto out;
		}
	}
	/* every combination is a slice (an empty one shows as zeros): 300
	 * procedures by day over a year would be a gigabyte and more */
	if (v->ndim > 0 && (long long)vals[0].n * (v->ndim > 1 ? vals[1].n : 1) > REPORT_MAX_SLICES) {
		v->toomany = (long long)vals[0].n * (v->ndim > 1 ? vals[1].n : 1);
		rc = -E2BIG;
		goto out;
	}
	if (v->ndim == 0) {
		if (!rp_view_slice(v, NULL))
			goto out;
	} else {
		for (int i = 0; i < vals[0].n; i++) {
			for (int j = 0; j < (v->ndim > 1 ? vals[1].n : 1); j++) {
				const char *k[REPORT_MAX_BY] = { vals[0].s[i], v->ndim > 1 ? vals[1].s[j] : "" };

				if (!rp_view_slice(v, k))
					goto out;
			}
		}
	}
	rc = 0;
out:
	for (int d = 0; d < REPORT_MAX_BY; d++)
		strlist_free(&vals[d]);
	return rc;
}

int rp_sort_view(struct view *v)
{
	if (v->ns > 1)
		qsort(v->s, (size_t)v->ns, sizeof v->s[0], cmp_slice);
	return rp_view_rehash(v, v->hcap ? v->hcap : 64);
}

/* ---- comments ---- */

void report_mask_digits(char *s)
{
	size_t i = 0;

	while (s[i]) {
		size_t j = i, end = i;
		int nd = 0;

		if (!isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		/* the run: rp_digits, with single spaces, dots or dashes between them; a '+' before is kept */
		while (s[j]) {
			if (isdigit((unsigned char)s[j])) {
				nd++;
				end = ++j;
			} else if ((s[j] == ' ' || s[j] == '.' || s[j] == '-') && isdigit((unsigned char)s[j + 1])) {
				j++;
			} else {
				break;
			}
		}
		if (nd >= 9) {
			int k = 0;

			for (size_t x = i; x < end; x++) {
				if (!isdigit((unsigned char)s[x]))
					continue;
				if (k >= 2 && k < nd - 2)
					s[x] = '*';
				k++;
			}
		}
		i = end;
	}
}

int report_comments(struct report_db *db, const struct report_query *q, json_t **out, char *err,
                    size_t errlen)
{
	char where[2048], sql[4096];
	sqlite3_stmt *s = NULL;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (!arr) {
		rp_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	where_sql(q, 1, where, sizeof where);
	/* the question's type and wording from the survey's own campaign version */
	snprintf(sql, sizeof sql,
	         "SELECT s.survey_id, COALESCE(s.agency, ''), COALESCE(s.procedure, ''),"
	         " COALESCE(s.channel, ''), s.status, s.triggered_at, a.question_id,"
	         " COALESCE(q.text, ''), a.text, a.answered_at, COALESCE(q.position, 0),"
	         " (SELECT COUNT(*) FROM campaign_questions n WHERE n.campaign_id = s.campaign_id"
	         " AND n.campaign_version = s.campaign_version)"
	         " FROM (SELECT * FROM surveys WHERE %s) s JOIN answers a ON a.survey_id = s.survey_id"
	         " LEFT JOIN campaign_questions q ON q.campaign_id = s.campaign_id"
	         " AND q.campaign_version = s.campaign_version AND q.question_id = a.question_id"
	         " WHERE a.value IS NULL AND a.text <> '' AND COALESCE(q.type, 'text') <> 'multi'"
	         " ORDER BY s.triggered_at, s.survey_id, a.question_id", where);
	if ((rc = prepare(db, q, sql, 1, &s, err, errlen)) < 0) {
		json_decref(arr);
		return rc;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char day[16], *text = strdup(rp_col(s, 8)), *qtext = strdup(rp_col(s, 7));

		if (!text || !qtext || fill_numbers(&qtext, sqlite3_column_int(s, 10), sqlite3_column_int(s, 11)) < 0) {
			free(text);
			free(qtext);
			break;
		}
		report_mask_digits(text);
		local_day(rp_col(s, 5), day, sizeof day);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			"survey_id", rp_col(s, 0), "agency", rp_col(s, 1), "procedure", rp_col(s, 2), "channel", rp_col(s, 3),
			"status", rp_col(s, 4), "date", day, "question", rp_col(s, 6), "question_text", qtext,
			"text", text, "answered_at", rp_col(s, 9)));
		free(text);
		free(qtext);
	}
	if (rc != SQLITE_DONE) {
		rp_seterr(err, errlen, "comments: %s", rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(db->db));
		sqlite3_finalize(s);
		json_decref(arr);
		return rc == SQLITE_ROW ? -ENOMEM : -EIO;
	}
	sqlite3_finalize(s);
	*out = arr;
	return 0;
}
