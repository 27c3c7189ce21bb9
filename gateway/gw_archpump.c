/* gw_archpump: the archive pump, finished surveys and delivery records from
 * Redis to SQLite: ARCHIVE_TAKE on the asynchronous connection, the batch
 * written by the archiver's thread, then its list cleared (DEL). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "archive.h"
#include "archiver.h"
#include "gw_int.h"
#include "log.h"
#include "optout.h"
#include "record.h"
#include "store.h"

/* ---- archiving ---- */

#define GW_ARCH_REST_S 0.02 /* after a small batch, before the next (s) */
#define GW_ARCH_FAIL_LOG_S 60.0 /* a write that keeps failing: logged once a minute (s) */

/* A batch on its way to SQLite (written by the archiver's thread): the
 * records of one list, parsed; their strings live in the json holders. */
struct gw_arch_job {
	int deliveries;                 /* 1 = hl:deliveries records, 0 = surveys */
	int n;                          /* records parsed */
	struct archive_survey *s;       /* surveys (answers malloc'd each) */
	struct archive_delivery *d;     /* or deliveries */
	json_t **holders;               /* n of them */
	int took;                       /* records taken from Redis (the list to clear) */
	struct optout *o;               /* opt-outs: records of their own and opted_out surveys */
	char (*ohash)[65];              /* their hashes */
	int no;
	struct archive_stray *st;       /* replies from numbers without a survey (gw_stray.c) */
	char (*sthash)[65];
	int nst;
	char **bad;                     /* unreadable records, for hl:archive:bad (malloc'd each) */
	int nbad;
};

static void gw_arch_job_free(struct gw_arch_job *j)
{
	if (!j)
		return;
	for (int i = 0; i < j->n; i++) {
		if (j->s)
			free((void *)j->s[i].answers);
		json_decref(j->holders[i]);
	}
	free(j->s);
	free(j->d);
	free(j->holders);
	free(j->o);
	free(j->ohash);
	free(j->st);
	free(j->sthash);
	for (int i = 0; i < j->nbad; i++)
		free(j->bad[i]);
	free(j->bad);
	free(j);
}

/* An unreadable record of the batch, kept for hl:archive:bad (pushed
 * there when the batch is written, by the script that clears our list,
 * gw_arch_done): 0, or -ENOMEM. */
static int gw_arch_bad(struct gw_arch_job *j, const char *str)
{
	char *c = strdup(str);
	if (!c)
		return -ENOMEM;
	j->bad[j->nbad++] = c;
	return 0;
}

/* The next batch for the archive: what our list `taking` still holds (left
 * by a failed write) or up to GW_ARCHIVE_BATCH records moved there from
 * `from`. NULL when Redis cannot be reached. */
/* An ARCHIVE_TAKE on its way: k = 0 for the kind whose turn it is, 1 for the other. */
struct gw_arch_take {
	struct gw *g;
	int k;
};

static int gw_archive_take(struct gw *g, const char *from, const char *taking, struct store_list *out)
{
	char max[16], err[256];
	snprintf(max, sizeof max, "%d", GW_ARCHIVE_BATCH);
	const char *keys[] = {from, taking};
	const char *args[] = {max};
	int rc = store_run_list(g->store, STORE_ARCHIVE_TAKE, 2, keys, 1, args, out, err, sizeof err);
	if (rc < 0)
		g->counters[GW_REDIS_ERR]++;
	return rc;
}

/* A record of a taken batch (a string; anything else reads as ""). */
static const char *gw_arch_rec(const struct store_list *l, size_t i)
{
	return l->e[i].kind == STORE_STR ? l->e[i].s : "";
}

/* Delivery records (hl:deliveries) parsed into a job; NULL when none. */
static struct gw_arch_job *gw_arch_deliveries(const struct store_list *r)
{
	size_t n = r->n;
	struct gw_arch_job *j = n ? calloc(1, sizeof *j) : NULL;
	if (!j)
		return NULL;
	j->deliveries = 1;
	j->took = (int)n;
	j->d = calloc(n, sizeof *j->d);
	j->holders = calloc(n, sizeof *j->holders);
	for (size_t i = 0; j->d && j->holders && i < n; i++) {
		json_error_t je;
		json_t *o = json_loads(gw_arch_rec(r, i), 0, &je);
		struct archive_delivery *x = &j->d[j->n];
		x->smsc = json_string_value(json_object_get(o, "smsc"));
		x->message_id = json_string_value(json_object_get(o, "m"));
		x->state = json_string_value(json_object_get(o, "st"));
		x->survey_id = json_string_value(json_object_get(o, "s"));
		if (x->survey_id && !*x->survey_id)
			x->survey_id = NULL;
		json_t *q = json_object_get(o, "q");
		x->item = json_is_integer(q) ? (int)json_integer_value(q) : -1;
		x->submitted_at = json_integer_value(json_object_get(o, "t"));
		x->state_at = json_integer_value(json_object_get(o, "at"));
		if (!x->smsc || !x->message_id || !x->state) {
			log_error("archive msg=\"unreadable delivery record dropped\"");
			json_decref(o);
			continue;
		}
		j->holders[j->n++] = o;
	}
	if (!j->d || !j->holders) {
		gw_arch_job_free(j);
		return NULL;
	}
	return j;
}

/* An opt-out record of hl:archive ({"optout":HASH,"at":N,"source":S}) into the job. */
static int gw_arch_optout(struct gw_arch_job *j, const char *str)
{
	json_error_t je;
	json_t *o = json_loads(str, 0, &je);
	const char *h = json_string_value(json_object_get(o, "optout"));
	const char *src = json_string_value(json_object_get(o, "source"));
	json_t *at = json_object_get(o, "at");
	int rc = -EINVAL;
	if (h && optout_is_hash(h) && json_is_integer(at) && src &&
	    (!strcmp(src, "keyword") || !strcmp(src, "api") || !strcmp(src, "operator"))) {
		snprintf(j->ohash[j->no], sizeof j->ohash[j->no], "%s", h);
		j->o[j->no] = (struct optout){j->ohash[j->no], json_integer_value(at),
		                              !strcmp(src, "keyword") ? "keyword" : !strcmp(src, "api") ? "api" : "operator"};
		j->no++;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Survey records (hl:archive) parsed into a job; an unreadable one is kept
 * in hl:archive:bad. NULL when none. */
static struct gw_arch_job *gw_arch_surveys(const struct store_list *r)
{
	size_t n = r->n;
	struct gw_arch_job *j = n ? calloc(1, sizeof *j) : NULL;
	if (!j)
		return NULL;
	j->took = (int)n;
	j->s = calloc(n, sizeof *j->s);
	j->holders = calloc(n, sizeof *j->holders);
	j->o = calloc(n, sizeof *j->o);
	j->ohash = calloc(n, sizeof *j->ohash);
	j->st = calloc(n, sizeof *j->st);
	j->sthash = calloc(n, sizeof *j->sthash);
	j->bad = calloc(n, sizeof *j->bad);
	int nomem = 0;
	for (size_t i = 0; j->s && j->holders && j->o && j->ohash && j->st && j->sthash && j->bad && !nomem && i < n;
	     i++) {
		const char *str = gw_arch_rec(r, i);
		if (strncmp(str, GW_STRAY_REC_PREFIX, strlen(GW_STRAY_REC_PREFIX)) == 0) {
			json_t *o = json_loads(str, 0, NULL);
			const char *h = json_string_value(json_object_get(o, "stray"));
			if (h && optout_is_hash(h) && json_integer_value(json_object_get(o, "at")) > 0) {
				snprintf(j->sthash[j->nst], sizeof j->sthash[j->nst], "%s", h);
				j->st[j->nst] = (struct archive_stray){j->sthash[j->nst], json_integer_value(json_object_get(o, "at"))};
				j->nst++;
			}
			json_decref(o);
			continue;
		}
		if (strncmp(str, GW_OPTOUT_REC_PREFIX, strlen(GW_OPTOUT_REC_PREFIX)) == 0) {
			if (gw_arch_optout(j, str) < 0) {
				log_error("archive msg=\"unreadable opt-out record kept in hl:archive:bad\"");
				nomem = gw_arch_bad(j, str) < 0;
			}
			continue;
		}
		if (record_archive_parse(str, &j->holders[j->n], &j->s[j->n]) == 0) {
			const struct archive_survey *v = &j->s[j->n];
			/* a survey ended by HUY/STOP: the opt-out itself is kept too */
			if (strcmp(v->status, "opted_out") == 0 && optout_is_hash(v->msisdn_hash)) {
				snprintf(j->ohash[j->no], sizeof j->ohash[j->no], "%s", v->msisdn_hash);
				j->o[j->no] = (struct optout){j->ohash[j->no], v->finished_at, "keyword"};
				j->no++;
			}
			j->n++;
		} else {
			log_error("archive msg=\"unreadable record kept in hl:archive:bad\"");
			nomem = gw_arch_bad(j, str) < 0;
			free((void *)j->s[j->n].answers);
			json_decref(j->holders[j->n]);
			j->holders[j->n] = NULL;
			memset(&j->s[j->n], 0, sizeof j->s[j->n]);
		}
	}
	if (!j->s || !j->holders || !j->o || !j->ohash || !j->st || !j->sthash || !j->bad || nomem) {
		gw_arch_job_free(j);
		return NULL;
	}
	return j;
}

/* On the archiver's thread, with its own connection. */
static int gw_arch_write(struct archive *a, void *job, char *err, size_t errlen)
{
	struct gw_arch_job *j = job;
	if (j->deliveries)
		return archive_put_deliveries(a, j->d, j->n, err, errlen);
	int rc = archive_put(a, j->s, j->n, err, errlen);
	if (rc >= 0 && j->no > 0) {
		/* the same batch: cleared from Redis only once both are written */
		int r2 = optout_put(a, j->o, j->no, err, errlen);
		if (r2 < 0)
			return r2;
	}
	if (rc >= 0 && j->nst > 0) {
		int r3 = archive_put_strays(a, j->st, j->nst, err, errlen);
		if (r3 < 0)
			return r3;
	}
	return rc;
}

/* Back on the loop: the batch is in SQLite (our list of it is cleared) or
 * not (it stays in our list and is written again on the next pass). */
static void gw_arch_del_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	(void)v;
	g->arch_dels--;
	if (rc < 0) {
		/* the batch may come back from the taking list: written again,
		 * which changes nothing (archive_put skips a survey it has) */
		g->counters[GW_REDIS_ERR]++;
		log_warn("archive msg=\"could not clear the batch written\" err=\"%s\"", err ? err : "");
	}
}

/* The DEL of our list of a batch written, on the asynchronous connection,
 * before the next TAKE of the same list (one connection keeps the order). */
static void gw_arch_del(struct gw *g, const char *k_taking)
{
	const char *del[] = {"DEL", k_taking};
	if (store_async_intv(g->store, 2, del, gw_arch_del_on_reply, g) < 0)
		g->counters[GW_REDIS_ERR]++;
	else
		g->arch_dels++;
}

/* KEYS hl:archive:bad, our list of the batch, a free name for what
 * hl:archive:bad held when it was no list; ARGV the batch's unreadable
 * records: kept, and the list cleared, together (a reply lost cannot leave
 * the batch in line with its records kept already: written again, it would
 * push them again). Returns the DEL's count, plus 2 when hl:archive:bad
 * was no list (an operator's SET, say): it is renamed to KEYS[3] (or,
 * when that is taken, KEYS[3].1, .2, ...: never over another), kept, and
 * a new list started (else every pass would fail on it, the batch stuck in
 * line for ever). */
static const char gw_arch_bad_lua[] =
	"local moved = 0\n"
	"local t = redis.call('TYPE', KEYS[1])['ok']\n"
	"if t ~= 'list' and t ~= 'none' then\n"
	"  local aside, n = KEYS[3], 0\n"
	"  while redis.call('EXISTS', aside) == 1 do n = n + 1; aside = KEYS[3] .. '.' .. n end\n"
	"  redis.call('RENAME', KEYS[1], aside)\n"
	"  moved = 2\n"
	"end\n"
	"redis.call('RPUSH', KEYS[1], unpack(ARGV))\n"
	"return redis.call('DEL', KEYS[2]) + moved\n";

/* The name hl:archive:bad is given when it holds no list. */
static void gw_arch_bad_aside(char *out, size_t cap)
{
	snprintf(out, cap, "%s:displaced:%lld", GW_K_ARCHIVE_BAD, (long long)time(NULL));
}

/* The script above's argv for batch j, our list k_taking and the name
 * aside (malloc'd; NULL: no memory); *argc set. */
static const char **gw_arch_bad_argv(const struct gw_arch_job *j, const char *k_taking, const char *aside,
                                     int *argc)
{
	const char **argv = calloc((size_t)j->nbad + 6, sizeof *argv);
	if (!argv)
		return NULL;
	int n = 0;
	argv[n++] = "EVAL";
	argv[n++] = gw_arch_bad_lua;
	argv[n++] = "3";
	argv[n++] = GW_K_ARCHIVE_BAD;
	argv[n++] = k_taking;
	argv[n++] = aside;
	for (int i = 0; i < j->nbad; i++)
		argv[n++] = j->bad[i];
	*argc = n;
	return argv;
}

/* Says so when the script found hl:archive:bad holding no list. */
static void gw_arch_bad_moved(int rc, long long v)
{
	if (rc >= 0 && v >= 2)
		log_error("archive msg=\"hl:archive:bad held no list: renamed %s:displaced:<unix time>, kept; "
		          "unreadable records go to a new list\"", GW_K_ARCHIVE_BAD);
}

/* The unreadable records kept and our list cleared: as a DEL's reply
 * (gw_arch_del_on_reply). A reply lost or refused leaves the batch in
 * line, taken and written again (which changes nothing) if the script did
 * not run; if it ran, both are done. */
static void gw_arch_bad_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw *g = arg;
	if (rc < 0 && rc != -EBADMSG && !g->closing)
		log_warn("archive msg=\"could not keep unreadable records in hl:archive:bad; the batch stays in line\" "
		         "err=\"%s\"", err ? err : "");
	gw_arch_bad_moved(rc, v);
	gw_arch_del_on_reply(arg, rc, v, err);
}

/* The script on the asynchronous connection, as gw_arch_del: before the
 * next TAKE of the same list (one connection keeps the order); no flush
 * meanwhile (arch_dels). 0 when on its way. */
static int gw_arch_bad_async(struct gw *g, const struct gw_arch_job *j, const char *k_taking)
{
	int argc = 0;
	char aside[64];
	gw_arch_bad_aside(aside, sizeof aside);
	const char **argv = gw_arch_bad_argv(j, k_taking, aside, &argc);
	if (!argv)
		return -ENOMEM;
	int rc = store_async_intv(g->store, argc, argv, gw_arch_bad_on_reply, g);
	free(argv);
	if (rc < 0)
		return rc;
	g->arch_dels++;
	return 0;
}

/* The same on the synchronous connection (shutdown): 0 when it ran. */
static int gw_arch_clear_sync(struct gw *g, const struct gw_arch_job *j, const char *k_taking)
{
	char e[256];
	if (!j->nbad)
		return store_exec(g->store, e, sizeof e, "DEL %s", k_taking) < 0 ? -EIO : 0;
	int argc = 0;
	long long x = 0;
	char aside[64];
	gw_arch_bad_aside(aside, sizeof aside);
	const char **argv = gw_arch_bad_argv(j, k_taking, aside, &argc);
	if (!argv)
		return -ENOMEM;
	int rc = store_intv(g->store, &x, argc, argv, e, sizeof e);
	free(argv);
	gw_arch_bad_moved(rc, x);
	return rc < 0 && rc != -EBADMSG ? -EIO : 0;
}

void gw_arch_done(void *arg, void *job, int rc, const char *err)
{
	struct gw *g = arg;
	struct gw_arch_job *j = job;
	if (rc >= 0) {
		if (g->arch_fails)
			log_info("archive msg=\"writing again\" failed_before=%llu", (unsigned long long)g->arch_fails);
		g->arch_fails = 0;
		if (!j->deliveries)
			g->counters[GW_ARCHIVED] += (uint64_t)rc;
		const char *k_taking = j->deliveries ? g->k_dtaking : g->k_archiving;
		if (!g->shutting_down && !g->closing) {
			if (!j->nbad)
				gw_arch_del(g, k_taking);
			else if (gw_arch_bad_async(g, j, k_taking) < 0)
				g->counters[GW_REDIS_ERR]++; /* our list stays: taken and written again */
		} else if (gw_arch_clear_sync(g, j, k_taking) < 0) {
			g->counters[GW_REDIS_ERR]++;
		}
	} else if (g->arch_fails++ == 0 || gw_clock() >= g->arch_fail_logged + GW_ARCH_FAIL_LOG_S) {
		/* tried again every tick: the first failure and then one line a
		 * minute, not five a second into a journal on the same full disk */
		log_error("archive msg=\"cannot write %s, will retry\" err=\"%s\" failures=%llu",
		          j->deliveries ? "deliveries" : "surveys", err, (unsigned long long)g->arch_fails);
		g->arch_fail_logged = gw_clock();
	}
	/* a small batch: the list had little, the next one waits a moment to
	 * gather more (fewer ARCHIVE_TAKE/DEL round trips and SQLite commits;
	 * the archive is GW_ARCH_REST_S behind at most) */
	int small = j->took < GW_ARCHIVE_BATCH / 4;
	gw_arch_job_free(j);
	g->arch_rest_until = rc >= 0 && small ? gw_clock() + GW_ARCH_REST_S : 0;
	if (rc >= 0 && !small && !g->shutting_down)
		event_active(g->ev_archive, 0, 0); /* more may be waiting */
}

/* A batch taken: handed to the archiver's thread. 1 when there was one. */
static int gw_arch_hand(struct gw *g, int deliveries, const struct store_list *r)
{
	struct gw_arch_job *j = deliveries ? gw_arch_deliveries(r) : gw_arch_surveys(r);
	if (!j)
		return 0;
	g->arch_turn = !deliveries;
	if (archiver_submit(g->archiver, gw_arch_write, j) < 0)
		gw_arch_job_free(j); /* cannot happen: not busy */
	return 1;
}

static int gw_arch_take_async(struct gw *g, int k);

static void gw_arch_on_take(void *arg, int rc, const struct store_list *r, const char *err)
{
	struct gw_arch_take *t = arg;
	struct gw *g = t->g;
	int k = t->k;
	free(t);
	g->arch_taking = 0;
	if (rc < 0) {
		g->counters[GW_REDIS_ERR]++;
		if (!g->shutting_down)
			log_warn("archive msg=\"could not take a batch\" err=\"%s\"", err ? err : "");
		return; /* the next tick looks again; what it moved is in the taking list */
	}
	if (g->shutting_down || archiver_busy(g->archiver))
		return; /* left in the taking list: the flush (or the next start) takes it */
	if (!gw_arch_hand(g, g->arch_turn ^ k, r) && k == 0)
		gw_arch_take_async(g, 1); /* nothing of this kind: the other */
}

/* ARCHIVE_TAKE of kind arch_turn ^ k on the asynchronous connection. */
static int gw_arch_take_async(struct gw *g, int k)
{
	struct gw_arch_take *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->g = g;
	t->k = k;
	int deliveries = g->arch_turn ^ k;
	char max[16];
	snprintf(max, sizeof max, "%d", GW_ARCHIVE_BATCH);
	const char *keys[] = {deliveries ? GW_K_DELIVERIES : GW_K_ARCHIVE, deliveries ? g->k_dtaking : g->k_archiving};
	const char *args[] = {max};
	g->arch_taking = 1;
	if (store_async_run_list(g->store, STORE_ARCHIVE_TAKE, 2, keys, 1, args, gw_arch_on_take, t) < 0) {
		g->arch_taking = 0;
		g->counters[GW_REDIS_ERR]++;
		free(t);
		return -EIO;
	}
	return 0;
}

/* Takes the next batch (surveys and deliveries in turn) and hands it to the
 * archiver's thread; nothing while a batch is being written (its end looks
 * again) or taken, nor, but at the 200 ms tick, for GW_ARCH_REST_S after a
 * small batch. SQLite never runs on this thread, and the loop never waits
 * for Redis here: the TAKE goes on the asynchronous connection. */
void gw_archive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct gw *g = arg;
	if (archiver_busy(g->archiver) || g->arch_taking || g->shutting_down || !g->registered)
		return;
	if (!(what & EV_TIMEOUT) && gw_clock() < g->arch_rest_until)
		return; /* resting after a small batch: the next finish after it, or the tick */
	gw_arch_take_async(g, 0);
}

/* Shutdown: the batch in hand, then one more of each kind, written now (on
 * the synchronous connection: the loop is ending). */
void gw_archive_flush(struct gw *g)
{
	archiver_drain(g->archiver);
	/* a DEL still on its way would clear a batch taken now while it is
	 * written: what waits stays in line (REAP at the end, or the next start) */
	for (int i = 0; i < 2 && !g->arch_dels; i++) {
		for (int k = 0; k < 2; k++) {
			int deliveries = g->arch_turn ^ k;
			struct store_list r = {0};
			if ((deliveries ? gw_archive_take(g, GW_K_DELIVERIES, g->k_dtaking, &r)
			                : gw_archive_take(g, GW_K_ARCHIVE, g->k_archiving, &r)) < 0)
				break;
			int handed = gw_arch_hand(g, deliveries, &r);
			store_list_clear(&r);
			if (handed)
				break;
		}
		archiver_drain(g->archiver);
	}
}
