/* gw_gauges: what an on-call person watches in /metrics besides the
 * counters: queue, outbox and held depths per SMSC, the archive backlog,
 * surveys with a timer, sessions bound and the window in use, and two
 * latency histograms (submit_sm -> its response; a citizen's reply -> the
 * next question handed to the SMSC). docs/operations.md lists the alerts. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gw_int.h"
#include "text.h"

const double gw_hist_le[GW_HIST_NB] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

double gw_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void gw_hist_observe(struct gw_hist *h, double s)
{
	if (s < 0)
		s = 0;
	for (int i = 0; i < GW_HIST_NB; i++)
		if (s <= gw_hist_le[i])
			h->b[i]++;
	h->count++;
	h->sum += s;
}

/* A reply that asked for a next question: when it came, by survey. */
void gw_reply_mark(struct gw *g, const char *survey, double at)
{
	uint64_t k = gw_hash64(survey);
	struct gw_reply_at *r = &g->reply_at[k % GW_REPLY_SLOTS];
	r->key = k;
	r->at = at;
}

/* The survey's next item is handed to the SMSC now: the time since its reply. */
void gw_reply_sent(struct gw *g, const char *survey, double now)
{
	uint64_t k = gw_hash64(survey);
	struct gw_reply_at *r = &g->reply_at[k % GW_REPLY_SLOTS];
	if (r->key != k || r->at == 0)
		return;
	gw_hist_observe(&g->h_reply, now - r->at);
	r->at = 0;
}

struct gw_buf {
	char *b;
	size_t cap, n;
};

static void gw_bput(struct gw_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gw_bput(struct gw_buf *o, const char *fmt, ...)
{
	if (o->n >= o->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
	va_end(ap);
	o->n = w < 0 ? o->cap : o->n + (size_t)w;
}

static void gw_hist_put(struct gw_buf *o, const char *name, const char *help, const struct gw_hist *h)
{
	gw_bput(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < GW_HIST_NB; i++)
		gw_bput(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, gw_hist_le[i], h->b[i]);
	gw_bput(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->count, name,
	        h->sum, name, h->count);
}

/* hailong_surveys_running: hl:nrunning, which TRIGGER (a new survey) and
 * the final COMMIT (the one that deletes its hash) keep exact. A counter,
 * not a set of ids: 77 bytes of Redis less per survey. Where it was never
 * counted (surveys triggered by an older version, whose set hl:running is
 * dropped here, or a Redis that came back empty) it is counted first from
 * the survey hashes, in one script, so nothing starts or ends half-way. */
static const char gw_running_lua[] =
	"if redis.call('EXISTS', KEYS[2]) == 1 then return tonumber(redis.call('GET', KEYS[1]) or '0') end\n"
	"redis.call('DEL', 'hl:running')\n"
	"local n, cur = 0, '0'\n"
	"repeat\n"
	"  local r = redis.call('SCAN', cur, 'MATCH', 'hl:s:*', 'COUNT', 1000)\n"
	"  cur = r[1]\n"
	"  n = n + #r[2]\n"
	"until cur == '0'\n"
	"repeat\n" /* a running survey in its citizen's hash (store_lua.c) */
	"  local r = redis.call('SCAN', cur, 'MATCH', 'hl:c:*', 'COUNT', 1000)\n"
	"  cur = r[1]\n"
	"  for _, k in ipairs(r[2]) do n = n + redis.call('HEXISTS', k, 'c') end\n"
	"until cur == '0'\n"
	"redis.call('SET', KEYS[1], n)\n"
	"redis.call('SET', KEYS[2], '1')\n"
	"return n\n";

/* hailong_surveys_with_timer: hl:ndue (the scripts keep it with the
 * surveys' "d", store_lua.c), and the members of the zset of older versions. */
static const char gw_timers_lua[] =
	"return redis.call('ZCARD', KEYS[1]) + math.max(0, tonumber(redis.call('GET', KEYS[2]) or '0') or 0)\n";

/* The Redis gauges of one /metrics: their reads, all sent at once on the
 * asynchronous connection (one write), rendered when the last is back. */
enum { GW_G_QUEUE, GW_G_ARCHIVE, GW_G_RUNNING, GW_G_TIMERS, GW_G_OPTOUTS, GW_G_FIXED };
#define GW_G_N (GW_G_FIXED + 2 * CONFIG_MAX_SMSC) /* then per SMSC: outbox, held */
#define GW_G_UNASKED 1

struct gw_gauges_job;
struct gw_gauge {
	struct gw_gauges_job *j;
	int rc;                  /* 0 read; GW_G_UNASKED (a retired entry, or Redis found away before);
	                          * else the verb's error */
	long long v;
};
struct gw_gauges_job {
	struct gw *g;
	int left;                /* reads on their way (+1 while they are sent) */
	int nsmsc;               /* SMSC entries asked for (a reload may add some before the answer) */
	struct gw_gauge r[GW_G_N];
	gw_text_cb cb;
	void *arg;
};

/* The gauges' text, once every Redis value is in j. A read that found no
 * answer or an error reply means Redis is down: the gauges after it (in the
 * order they were read one by one before, kept here) are left out, as when
 * a synchronous read stopped there; a reply of another shape leaves out its
 * own gauge only. */
static char *gw_gauges(struct gw *g, struct gw_gauges_job *j)
{
	struct gw_buf o = {malloc(32768), 32768, 0};
	if (!o.b)
		return NULL;
	o.b[0] = '\0';
	int down = 0;
	long long val[GW_G_N];
	for (int i = 0; i < GW_G_N; i++) {
		const struct gw_gauge *x = &j->r[i];
		val[i] = !down && x->rc == 0 ? x->v : -1;
		if (!down && x->rc < 0 && x->rc != -EBADMSG)
			down = 1; /* no answer, or an error reply */
	}
	long long v;
	if ((v = val[GW_G_QUEUE]) >= 0)
		gw_bput(&o, "# TYPE hailong_queue_depth gauge\nhailong_queue_depth %lld\n", v);
	if ((v = val[GW_G_ARCHIVE]) >= 0)
		gw_bput(&o, "# TYPE hailong_archive_backlog gauge\nhailong_archive_backlog %lld\n", v);
	if ((v = val[GW_G_RUNNING]) >= 0)
		gw_bput(&o, "# TYPE hailong_surveys_running gauge\nhailong_surveys_running %lld\n", v);
	if ((v = val[GW_G_TIMERS]) >= 0)
		gw_bput(&o, "# TYPE hailong_surveys_with_timer gauge\nhailong_surveys_with_timer %lld\n", v);
	if ((v = val[GW_G_OPTOUTS]) >= 0)
		gw_bput(&o, "# TYPE hailong_optouts gauge\nhailong_optouts %lld\n", v);
	/* the window counts submit_sm PDUs: a long message takes one per part
	 * (one in all with long_messages: payload, as a USSD screen) */
	int inflight[CONFIG_MAX_SMSC] = {0};
	struct text_parts *tp = malloc(sizeof *tp);
	for (const struct gw_inflight *f = g->inflight; f; f = f->next) {
		if (f->smsc < 0 || f->smsc >= g->cfg->nsmsc)
			continue;
		json_t *e = json_loads(f->json, 0, NULL);
		const char *text = json_string_value(json_object_get(e, "text"));
		int parts = 1;
		if (tp && text && !json_is_integer(json_object_get(e, "op")) &&
		    g->cfg->smsc[f->smsc].long_messages != CONFIG_LONG_PAYLOAD &&
		    text_split(text, (enum text_encoding)json_integer_value(json_object_get(e, "enc")), tp) == 0)
			parts = tp->nparts;
		inflight[f->smsc] += parts;
		json_decref(e);
	}
	free(tp);
	/* each family in one group, as the exposition format asks */
	long long depth[2][CONFIG_MAX_SMSC];
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		/* an entry a reload added after the reads were sent: not read */
		depth[0][i] = i < j->nsmsc ? val[GW_G_FIXED + 2 * i] : -1;
		depth[1][i] = i < j->nsmsc ? val[GW_G_FIXED + 2 * i + 1] : -1;
	}
	static const char *const fam[4] = {"hailong_outbox_depth", "hailong_held_depth", "hailong_smsc_window_in_use",
	                                   "hailong_smsc_window"};
	for (int k = 0; k < 4; k++) {
		gw_bput(&o, "# TYPE %s gauge\n", fam[k]);
		for (int i = 0; i < g->cfg->nsmsc; i++) {
			/* an entry removed by a reload is left out: its messages went to the others */
			long long x = k < 2 ? depth[k][i] : k == 2 ? inflight[i] : g->cfg->smsc[i].window;
			if (!g->cfg->smsc[i].retired && x >= 0)
				gw_bput(&o, "%s{smsc=\"%s\"} %lld\n", fam[k], g->cfg->smsc[i].name, x);
		}
	}
	int bound = 0;
	for (int i = 0; i < g->nesme; i++)
		bound += esme_bound(g->esme[i]);
	gw_bput(&o, "# TYPE hailong_sessions_bound gauge\nhailong_sessions_bound %d\n", bound);
	gw_bput(&o, "# TYPE hailong_redis_up gauge\nhailong_redis_up %d\n", !down);
	gw_hist_put(&o, "hailong_submit_response_seconds",
	            "from handing a message to the SMSC session to its submit_sm_resp (TPS waits included)",
	            &g->h_submit);
	gw_hist_put(&o, "hailong_reply_to_next_question_seconds",
	            "from a citizen's reply to the next question handed to the SMSC session", &g->h_reply);
	return o.b;
}

static void gw_gauges_left(struct gw_gauges_job *j)
{
	if (--j->left > 0)
		return;
	char *gz = gw_gauges(j->g, j);
	char *text = gw_metrics_text(j->g, gz);
	free(gz);
	j->cb(j->arg, text);
	free(j);
}

static void gw_gauge_on_int(void *arg, int rc, long long v, const char *err)
{
	struct gw_gauge *x = arg;
	(void)err;
	x->rc = rc;
	x->v = rc == 0 ? v : -1;
	gw_gauges_left(x->j);
}

/* One read sent, unless Redis was found away by one before. */
static void gw_gauge_ask(struct gw_gauges_job *j, int i, int *down, int argc, const char **argv)
{
	struct gw_gauge *x = &j->r[i];
	x->j = j;
	if (*down)
		return;
	int rc = store_async_intv(j->g->store, argc, argv, gw_gauge_on_int, x);
	if (rc < 0) {
		x->rc = rc;
		*down = 1;
	} else {
		j->left++;
	}
}

void gw_metrics(struct gw *g, gw_text_cb cb, void *arg)
{
	struct gw_gauges_job *j = calloc(1, sizeof *j);
	if (!j) {
		cb(arg, NULL);
		return;
	}
	j->g = g;
	j->cb = cb;
	j->arg = arg;
	for (int i = 0; i < GW_G_N; i++)
		j->r[i].rc = GW_G_UNASKED;
	j->left = 1; /* held while the reads are sent */
	int down = 0;
	char key[128];
	gw_gauge_ask(j, GW_G_QUEUE, &down, 2, (const char *[]){"LLEN", GW_K_QUEUE});
	gw_gauge_ask(j, GW_G_ARCHIVE, &down, 2, (const char *[]){"LLEN", GW_K_ARCHIVE});
	gw_gauge_ask(j, GW_G_RUNNING, &down, 5, (const char *[]){"EVAL", gw_running_lua, "2", GW_K_RUNNING, GW_K_RUNNING_OK});
	gw_gauge_ask(j, GW_G_TIMERS, &down, 5, (const char *[]){"EVAL", gw_timers_lua, "2", GW_K_DUE, GW_K_NDUE});
	gw_gauge_ask(j, GW_G_OPTOUTS, &down, 2, (const char *[]){"SCARD", GW_K_OPTOUT});
	j->nsmsc = g->cfg->nsmsc;
	for (int i = 0; i < g->cfg->nsmsc; i++) {
		if (g->cfg->smsc[i].retired)
			continue;
		snprintf(key, sizeof key, GW_K_OUTBOX "%s", g->cfg->smsc[i].name);
		gw_gauge_ask(j, GW_G_FIXED + 2 * i, &down, 2, (const char *[]){"LLEN", key});
		snprintf(key, sizeof key, GW_K_HELD "%s", g->cfg->smsc[i].name);
		gw_gauge_ask(j, GW_G_FIXED + 2 * i + 1, &down, 2, (const char *[]){"ZCARD", key});
	}
	gw_gauges_left(j);
}
