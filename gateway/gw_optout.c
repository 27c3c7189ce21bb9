/* gw_optout: opt-outs that outlive Redis. hl:optout holds keyed hashes (the
 * archive's msisdn_hash); every new opt-out also reaches the archive's
 * optouts table through hl:archive. At start, and whenever this gateway's
 * marker hl:optout:ready:{inst} is missing (Redis came back empty), the set
 * is filled again from the archive before CLAIM lets a survey start; the
 * operator's changes (`hailong optout`) are followed from the change log. */
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

/* Numbers an older hailongd put in hl:optout: replaced by their hash, and
 * sent to the archive (source keyword, the only one there was). */
static int gw_optout_migrate(struct gw *g)
{
	char err[256];
	struct store_list l;
	int rc = store_list(g->store, &l, err, sizeof err, "SMEMBERS %s", GW_K_OPTOUT);
	if (rc < 0 && rc != -EBADMSG)
		return -EIO;
	int moved = 0;
	rc = 0;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		const char *v = l.e[i].s;
		if (!v || optout_is_hash(v))
			continue;
		char h[65];
		gw_msisdn_hash(g, v, h);
		char *rec = gw_optout_record(h, gw_now(), "keyword");
		if (!rec) {
			rc = -ENOMEM;
			break;
		}
		/* hash first, then the archive, then the number: a crash in between repeats harmlessly */
		int ok = store_exec(g->store, err, sizeof err, "SADD %s %s", GW_K_OPTOUT, h) == 0 &&
		         store_exec(g->store, err, sizeof err, "RPUSH %s %s", GW_K_ARCHIVE, rec) == 0 &&
		         store_exec(g->store, err, sizeof err, "SREM %s %s", GW_K_OPTOUT, v) == 0;
		rc = ok ? 0 : -EIO;
		free(rec);
		moved += rc == 0;
	}
	store_list_clear(&l);
	if (moved)
		log_info("optout msg=\"numbers of an older version replaced by their hash\" count=%d", moved);
	return rc;
}

struct gw_optout_batch {
	struct gw *g;
	const char *argv[GW_OPTOUT_BATCH + 2];
	int n;
	long long total;
};

static int gw_optout_flush(struct gw_optout_batch *b)
{
	char err[256];
	if (b->n == 0)
		return 0;
	b->argv[0] = "SADD";
	b->argv[1] = GW_K_OPTOUT;
	int rc = store_execv(b->g->store, b->n + 2, b->argv, err, sizeof err);
	for (int i = 0; i < b->n; i++)
		free((void *)b->argv[i + 2]);
	b->total += b->n;
	b->n = 0;
	return rc < 0 ? -EIO : 0;
}

static int gw_optout_each(void *arg, const char *hash, const char *at, const char *source)
{
	(void)at;
	(void)source;
	struct gw_optout_batch *b = arg;
	if (!(b->argv[b->n + 2] = strdup(hash)))
		return -ENOMEM;
	b->n++;
	return b->n == GW_OPTOUT_BATCH ? gw_optout_flush(b) : 0;
}

int gw_optout_restore(struct gw *g)
{
	char err[256];
	if (!g->archive)
		return -EIO;
	if (gw_optout_migrate(g) < 0) {
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	/* the change log's position first: a change made while we read is applied next time */
	int64_t seq = optout_last_change(g->archive, err, sizeof err);
	if (seq < 0) {
		log_error("optout msg=\"cannot read the archive's opt-outs\" err=\"%s\"", err);
		return -EIO;
	}
	struct gw_optout_batch b;
	memset(&b, 0, sizeof b);
	b.g = g;
	int rc = optout_each(g->archive, gw_optout_each, &b, err, sizeof err);
	if (rc == 0)
		rc = gw_optout_flush(&b);
	for (int i = 0; i < b.n; i++)
		free((void *)b.argv[i + 2]);
	if (rc < 0) {
		log_error("optout msg=\"cannot restore the opt-outs into redis\" err=\"%s\"", err);
		return rc;
	}
	if (store_exec(g->store, err, sizeof err, "SET %s %" PRId64, g->k_optready, gw_now()) < 0) {
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	g->optout_seq = seq;
	g->optout_blocked = 0;
	g->optout_restores++;
	g->counters[GW_OPTOUT_RESTORES]++;
	log_info("optout msg=\"restored from the archive\" count=%lld", b.total);
	return 0;
}

static int gw_optout_apply(void *arg, const char *hash, int recorded)
{
	struct gw *g = arg;
	char err[256];
	if (store_exec(g->store, err, sizeof err, "%s %s %s", recorded ? "SADD" : "SREM", GW_K_OPTOUT, hash) < 0)
		return -EIO;
	return 0;
}

int gw_optout_sync(struct gw *g)
{
	char err[256];
	long long n = 0;
	int rc = store_int(g->store, &n, err, sizeof err, "EXISTS %s", g->k_optready);
	if (rc < 0 && rc != -EBADMSG) {
		g->counters[GW_REDIS_ERR]++;
		return -EIO;
	}
	int ready = rc == 0 && n == 1;
	if (!ready) {
		log_warn("optout msg=\"redis has no opt-outs from this gateway: restoring before any survey starts\"");
		rc = gw_optout_restore(g);
		if (rc == 0)
			event_active(g->ev_queue, 0, 0);
		return rc;
	}
	if (g->optout_blocked) {
		g->optout_blocked = 0;
		event_active(g->ev_queue, 0, 0);
	}
	int64_t last = g->optout_seq;
	rc = optout_changes(g->archive, g->optout_seq, gw_optout_apply, g, &last, err, sizeof err);
	if (last != g->optout_seq)
		log_info("optout msg=\"operator changes applied\" from=%" PRId64 " to=%" PRId64, g->optout_seq, last);
	g->optout_seq = last; /* what was applied stays applied; the rest next time */
	if (rc < 0) {
		log_warn("optout msg=\"cannot follow the operator's changes\" err=\"%s\"", err);
		return rc;
	}
	return 0;
}

void gw_optout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct gw *g = arg;
	if (!g->shutting_down)
		gw_optout_sync(g);
}
