/* gw_optout: opt-outs that outlive Redis. hl:optout holds keyed hashes (the
 * archive's msisdn_hash); every new opt-out also reaches the archive's
 * optouts table through hl:archive. At start, and whenever this gateway's
 * marker hl:optout:ready:{inst} is missing (Redis came back empty), the set
 * is filled again from the archive before CLAIM lets a survey start; the
 * operator's changes (`hailong optout`) are followed from the change log.
 * On the event loop all of it goes on the asynchronous connection; only the
 * restore at start runs on the synchronous one (before the loop). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"
#include "optout.h"
#include "store.h"

#define GW_OPTOUT_BATCH 500 /* hashes per SADD when restoring */

char *gw_optout_record(const char *hash, int64_t at, const char *source)
{
	/* a hash is hex and a source one fixed word: nothing to escape */
	size_t cap = 128 + strlen(hash);
	char *s = malloc(cap);
	if (s)
		snprintf(s, cap, GW_OPTOUT_REC_PREFIX "\"%s\",\"at\":%" PRId64 ",\"source\":\"%s\"}", hash, at, source);
	return s;
}

/* Someone waiting for a restore's end (a START that found no opt-outs). */
struct gw_owaiter {
	gw_restored_fn fn;
	void *arg;
	struct gw_owaiter *next;
};

/* A restore of hl:optout from the archive: SMEMBERS (numbers of an older
 * version become hashes), then every archived hash (SADD, GW_OPTOUT_BATCH at
 * a time), then, only when all of that was written, the marker. At start it
 * runs on the synchronous connection (sync); on the loop, as a chain of
 * replies on the asynchronous one. */
struct gw_restore {
	struct gw *g;
	int sync;               /* at start: the synchronous connection */
	int marker;             /* the writes are done: the marker's SET is on its way */
	int pending;            /* write replies awaited (+1 while a pass sends) */
	int failed;             /* a write failed or was lost: no marker, restored again later */
	int moved;              /* numbers of an older version replaced by their hash */
	int64_t seq;            /* the archive's change log position, read before its opt-outs */
	long long total;        /* hashes written */
	const char *argv[GW_OPTOUT_BATCH + 2]; /* the SADD being filled (hashes owned) */
	int n;
	struct gw_owaiter *waiters;
};

static void gw_restore_end(struct gw_restore *o, int rc);
static void gw_restore_on_write(void *arg, int rc, const struct store_list *l, const char *err);

/* One write of the restore (SADD, RPUSH, SREM, the marker's SET): made now
 * (sync), or sent (its reply decides). 0, or -EIO (o->failed). */
static int gw_restore_write(struct gw_restore *o, int argc, const char **argv)
{
	char err[256];
	if (o->failed)
		return -EIO;
	if (o->sync) {
		if (store_execv(o->g->store, argc, argv, err, sizeof err) < 0) {
			log_error("optout msg=\"cannot restore the opt-outs into redis\" err=\"%s\"", err);
			o->failed = 1;
			return -EIO;
		}
		return 0;
	}
	if (store_async_anyv(o->g->store, argc, argv, gw_restore_on_write, o) < 0) {
		o->failed = 1;
		return -EIO;
	}
	o->pending++;
	return 0;
}

static int gw_restore_flush(struct gw_restore *o)
{
	if (o->n == 0)
		return 0;
	o->argv[0] = "SADD";
	o->argv[1] = GW_K_OPTOUT;
	int rc = gw_restore_write(o, o->n + 2, o->argv);
	for (int i = 0; i < o->n; i++)
		free((void *)o->argv[i + 2]);
	o->total += o->n;
	o->n = 0;
	return rc;
}

static int gw_restore_each(void *arg, const char *hash, const char *at, const char *source)
{
	(void)at;
	(void)source;
	struct gw_restore *o = arg;
	if (!(o->argv[o->n + 2] = strdup(hash)))
		return -ENOMEM;
	o->n++;
	return o->n == GW_OPTOUT_BATCH ? gw_restore_flush(o) : 0;
}

/* Every write has come back (or, sync, was made): the marker, when all of
 * them were written. */
static void gw_restore_written(struct gw_restore *o)
{
	if (o->failed) {
		gw_restore_end(o, -EIO);
		return;
	}
	char at[24];
	snprintf(at, sizeof at, "%" PRId64, gw_now());
	const char *argv[] = {"SET", o->g->k_optready, at};
	o->marker = 1;
	if (gw_restore_write(o, 3, argv) < 0 || o->sync)
		gw_restore_end(o, o->failed ? -EIO : 0); /* (else its reply ends it) */
}

static void gw_restore_on_write(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_restore *o = arg;
	(void)l;
	if (rc < 0) {
		if (!o->failed && !o->g->closing)
			log_warn("optout msg=\"a write of the restore failed: not sent again, restored again later\" "
			         "err=\"%s\"", err ? err : "");
		o->failed = 1;
	}
	if (o->marker)
		gw_restore_end(o, o->failed ? -EIO : 0);
	else if (--o->pending == 0)
		gw_restore_written(o);
}

/* SMEMBERS hl:optout: numbers an older hailongd put there are replaced by
 * their hash and sent to the archive (source keyword, the only one there
 * was); then every archived opt-out goes in. */
static void gw_restore_on_members(void *arg, int rc, const struct store_list *l, const char *err)
{
	struct gw_restore *o = arg;
	struct gw *g = o->g;
	char e2[256];
	if (rc < 0 && rc != -EBADMSG) {
		if (!g->closing)
			log_warn("optout msg=\"cannot read hl:optout, restored later\" err=\"%s\"", err ? err : "");
		gw_restore_end(o, -EIO);
		return;
	}
	if (g->closing) {
		gw_restore_end(o, -EIO);
		return;
	}
	o->pending = 1; /* held while this pass writes */
	for (size_t i = 0; l && i < l->n && !o->failed; i++) {
		const char *v = l->e[i].s;
		if (!v || optout_is_hash(v))
			continue;
		char h[65];
		gw_msisdn_hash(g, v, h);
		char *rec = gw_optout_record(h, gw_now(), "keyword");
		if (!rec) {
			o->failed = 1;
			break;
		}
		/* hash first, then the archive, then the number: a crash in between repeats harmlessly */
		const char *sadd[] = {"SADD", GW_K_OPTOUT, h}, *rpush[] = {"RPUSH", GW_K_ARCHIVE, rec},
		           *srem[] = {"SREM", GW_K_OPTOUT, v};
		if (gw_restore_write(o, 3, sadd) == 0 && gw_restore_write(o, 3, rpush) == 0 &&
		    gw_restore_write(o, 3, srem) == 0)
			o->moved++;
		free(rec);
	}
	if (o->moved)
		log_info("optout msg=\"numbers of an older version replaced by their hash\" count=%d", o->moved);
	/* the change log's position first: a change made while we read is applied next time */
	if (!o->failed && (o->seq = optout_last_change(g->archive, e2, sizeof e2)) < 0) {
		log_error("optout msg=\"cannot read the archive's opt-outs\" err=\"%s\"", e2);
		o->failed = 1;
	}
	if (!o->failed) {
		int erc = optout_each(g->archive, gw_restore_each, o, e2, sizeof e2);
		if (erc == 0)
			erc = gw_restore_flush(o);
		if (erc < 0 && !o->failed)
			log_error("optout msg=\"cannot restore the opt-outs into redis\" err=\"%s\"", e2);
		if (erc < 0)
			o->failed = 1;
	}
	for (int i = 0; i < o->n; i++)
		free((void *)o->argv[i + 2]);
	o->n = 0;
	if (--o->pending == 0)
		gw_restore_written(o);
}

static void gw_restore_end(struct gw_restore *o, int rc)
{
	struct gw *g = o->g;
	if (rc == 0) {
		g->optout_seq = o->seq;
		g->optout_blocked = 0;
		g->optout_restores++;
		g->counters[GW_OPTOUT_RESTORES]++;
		log_info("optout msg=\"restored from the archive\" count=%lld", o->total);
	} else {
		g->counters[GW_REDIS_ERR]++;
	}
	if (g->restoring == o)
		g->restoring = NULL;
	while (o->waiters) {
		struct gw_owaiter *w = o->waiters;
		o->waiters = w->next;
		w->fn(w->arg, rc);
		free(w);
	}
	free(o);
}

static struct gw_restore *gw_restore_new(struct gw *g, int sync)
{
	struct gw_restore *o = g->archive ? calloc(1, sizeof *o) : NULL;
	if (o) {
		o->g = g;
		o->sync = sync;
	}
	return o;
}

/* Adds a waiter to o (fn NULL: none). 0 or -ENOMEM. */
static int gw_restore_wait(struct gw_restore *o, gw_restored_fn fn, void *arg)
{
	if (!fn)
		return 0;
	struct gw_owaiter *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->next = o->waiters;
	o->waiters = w;
	return 0;
}

static void gw_restore_rc(void *arg, int rc)
{
	*(int *)arg = rc;
}

int gw_optout_restore(struct gw *g)
{
	char err[256];
	int rc = -EIO;
	struct gw_restore *o = gw_restore_new(g, 1);
	if (!o)
		return -EIO;
	if (gw_restore_wait(o, gw_restore_rc, &rc) < 0) {
		free(o);
		return -ENOMEM;
	}
	struct store_list l;
	int lrc = store_list(g->store, &l, err, sizeof err, "SMEMBERS %s", GW_K_OPTOUT);
	gw_restore_on_members(o, lrc, lrc < 0 ? NULL : &l, err); /* (ends o, and sets rc) */
	store_list_clear(&l);
	return rc;
}

int gw_optout_restore_async(struct gw *g, gw_restored_fn fn, void *arg)
{
	if (g->restoring)
		return gw_restore_wait(g->restoring, fn, arg);
	struct gw_restore *o = gw_restore_new(g, 0);
	if (!o)
		return -EIO;
	const char *argv[] = {"SMEMBERS", GW_K_OPTOUT};
	if (gw_restore_wait(o, fn, arg) < 0 || store_async_listv(g->store, 2, argv, gw_restore_on_members, o) < 0) {
		free(o->waiters);
		free(o);
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	g->restoring = o;
	return 0;
}

/* ---- kept in step (every 5 s, and on SIGHUP) ---- */

/* The operator's changes being applied: their SADD/SREM replies. */
struct gw_ochanges {
	struct gw *g;
	int pending;            /* replies awaited (+1 while they are sent) */
	int failed;             /* one was not written: the log is applied again from `from` next time */
	int64_t from, last;     /* the change log applied up to from before, up to last when all are written */
};

static void gw_ochanges_release(struct gw_ochanges *c)
{
	if (--c->pending > 0)
		return;
	struct gw *g = c->g;
	if (!c->failed && c->last != c->from) {
		log_info("optout msg=\"operator changes applied\" from=%" PRId64 " to=%" PRId64, c->from, c->last);
		g->optout_seq = c->last;
	}
	g->optout_checking = 0;
	free(c);
}

static void gw_ochanges_on_reply(void *arg, int rc, long long v, const char *err)
{
	struct gw_ochanges *c = arg;
	(void)v;
	if (rc < 0 && rc != -EBADMSG) {
		if (!c->failed && !c->g->closing)
			log_warn("optout msg=\"an operator change not written: the log is applied again next time\" err=\"%s\"",
			         err ? err : "");
		c->g->counters[GW_REDIS_ERR]++;
		c->failed = 1;
	}
	gw_ochanges_release(c);
}

/* One change (by the row's current state: applying it again is harmless). */
static int gw_optout_apply(void *arg, const char *hash, int recorded)
{
	struct gw_ochanges *c = arg;
	const char *argv[] = {recorded ? "SADD" : "SREM", GW_K_OPTOUT, hash};
	if (store_async_intv(c->g->store, 3, argv, gw_ochanges_on_reply, c) < 0) {
		c->failed = 1;
		return -EIO;
	}
	c->pending++;
	return 0;
}

static void gw_optout_changes(struct gw *g)
{
	char err[256];
	struct gw_ochanges *c = calloc(1, sizeof *c);
	if (!c) {
		g->optout_checking = 0;
		return;
	}
	c->g = g;
	c->pending = 1;
	c->from = c->last = g->optout_seq;
	int rc = optout_changes(g->archive, g->optout_seq, gw_optout_apply, c, &c->last, err, sizeof err);
	if (rc < 0) {
		/* what was sent is applied; all of it again next time */
		log_warn("optout msg=\"cannot follow the operator's changes\" err=\"%s\"", err);
		c->failed = 1;
	}
	gw_ochanges_release(c);
}

static void gw_optout_restored(void *arg, int rc)
{
	struct gw *g = arg;
	g->optout_checking = 0;
	if (rc == 0)
		event_active(g->ev_queue, 0, 0);
}

/* EXISTS of our marker: restore when it is gone, else the changes. */
static void gw_optout_on_exists(void *arg, int rc, long long n, const char *err)
{
	struct gw *g = arg;
	if ((rc < 0 && rc != -EBADMSG) || g->closing) {
		if (rc < 0 && rc != -EBADMSG) {
			g->counters[GW_REDIS_ERR]++;
			if (!g->closing) /* (not for a reply cut by our own stop) */
				log_warn("optout msg=\"cannot look for the opt-outs' marker, next time\" err=\"%s\"",
				         err ? err : "");
		}
		g->optout_checking = 0;
		return;
	}
	if (!(rc == 0 && n == 1)) {
		log_warn("optout msg=\"redis has no opt-outs from this gateway: restoring before any survey starts\"");
		if (gw_optout_restore_async(g, gw_optout_restored, g) < 0)
			g->optout_checking = 0;
		return;
	}
	if (g->optout_blocked) {
		g->optout_blocked = 0;
		event_active(g->ev_queue, 0, 0);
	}
	gw_optout_changes(g);
}

void gw_optout_check(struct gw *g)
{
	if (g->optout_checking || g->shutting_down || g->closing || !g->archive)
		return; /* the last one is still on its way */
	const char *argv[] = {"EXISTS", g->k_optready};
	if (store_async_intv(g->store, 2, argv, gw_optout_on_exists, g) < 0) {
		g->counters[GW_REDIS_ERR]++;
		return;
	}
	g->optout_checking = 1;
}

void gw_optout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_optout_check(arg);
}
