/* load: fires triggers at hailongd's HTTP API (libevent evhttp client) at a rate, lets the
 * simulator's citizens answer, and prints one JSON summary built from the simulator's /stats. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "citizens.h"
#include "httpc.h"
#include "load.h"

#define LOAD_MAX_CONN 64

struct load_opts {
	char api_host[64];
	int api_port;
	char ctl_host[64];
	int ctl_port;
	const char *token;
	const char *campaign;
	const char *agency;
	const char *procedure;     /* NULL = none */
	const char *prefix;        /* transaction id prefix */
	int first;                 /* first citizen index */
	int citizens;              /* distinct citizens cycled over */
	long count;                /* triggers at most */
	double rate;               /* triggers per second; 0 = as fast as they are taken */
	double duration_s;         /* firing stops after this */
	double drain_s;            /* then waits at most this for the surveys to end */
	int conns;                 /* HTTP connections */
};

struct load_conn {
	struct load *l;
	struct evhttp_connection *c;
	int busy;
};

struct load {
	struct load_opts o;
	struct event_base *base;
	struct event *tick;
	struct load_conn conn[LOAD_MAX_CONN];
	long sent, created, duplicate, rejected, failed;
	int inflight;
	double t0;                 /* monotonic seconds at the first trigger */
	double t_fired;            /* when firing ended */
	int stop_firing;
	char last_error[160];
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void load_fire(struct load *l, struct load_conn *lc);

static void load_maybe_end(struct load *l)
{
	if (l->stop_firing && l->inflight == 0)
		event_base_loopexit(l->base, NULL);
}

static void load_done_cb(struct evhttp_request *req, void *arg)
{
	struct load_conn *lc = arg;
	struct load *l = lc->l;
	lc->busy = 0;
	l->inflight--;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	if (code == 202) {
		l->created++;
	} else if (code == 200) {
		l->duplicate++;
	} else if (code == 0) {
		l->failed++;
		snprintf(l->last_error, sizeof l->last_error, "no HTTP response");
	} else {
		l->rejected++;
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		char b[120];
		if (n >= sizeof b)
			n = sizeof b - 1;
		evbuffer_copyout(in, b, n);
		b[n] = '\0';
		b[strcspn(b, "\r\n")] = '\0';
		snprintf(l->last_error, sizeof l->last_error, "%d %s", code, b);
	}
	if (!l->stop_firing && l->o.rate <= 0)
		load_fire(l, lc);
	load_maybe_end(l);
}

/* One trigger on lc, if the bounds allow. */
static void load_fire(struct load *l, struct load_conn *lc)
{
	double now = mono_s();
	if (l->sent >= l->o.count || now - l->t0 >= l->o.duration_s) {
		if (!l->stop_firing) {
			l->stop_firing = 1;
			l->t_fired = now;
		}
		return;
	}
	if (lc->busy)
		return;
	struct evhttp_request *req = evhttp_request_new(load_done_cb, lc);
	if (!req) {
		l->failed++;
		return;
	}
	char msisdn[16], txid[160];
	int idx = l->o.first + (int)(l->sent % l->o.citizens);
	citizens_msisdn(idx, msisdn);
	snprintf(txid, sizeof txid, "%s%ld", l->o.prefix, l->sent + 1);
	json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "campaign", l->o.campaign, "msisdn", msisdn,
	                      "transaction_id", txid, "agency", l->o.agency);
	if (b && l->o.procedure)
		json_object_set_new(b, "procedure", json_string(l->o.procedure));
	char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char host[96], auth[300];
	snprintf(host, sizeof host, "%s:%d", l->o.api_host, l->o.api_port);
	snprintf(auth, sizeof auth, "Bearer %s", l->o.token);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Authorization", auth);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (body)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	free(body);
	if (evhttp_make_request(lc->c, req, EVHTTP_REQ_POST, "/v1/triggers") != 0) {
		l->failed++; /* the request is freed by libevent on failure */
		return;
	}
	lc->busy = 1;
	l->inflight++;
	l->sent++;
}

/* Every millisecond: as many triggers as the rate allows by now. */
static void load_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct load *l = arg;
	double now = mono_s();
	long due = l->o.rate > 0 ? (long)((now - l->t0) * l->o.rate) + 1 : l->o.count;
	for (int i = 0; i < l->o.conns && !l->stop_firing && l->sent < due; i++)
		load_fire(l, &l->conn[i]);
	if (l->sent >= l->o.count || now - l->t0 >= l->o.duration_s) {
		if (!l->stop_firing) {
			l->stop_firing = 1;
			l->t_fired = now;
		}
		evtimer_del(l->tick);
		load_maybe_end(l);
	}
}

static const char *load_usage =
	"usage: hailong-sim load --api URL --token TOKEN --control HOST:PORT --citizens N\n"
	"                        [--first 1] [--count N] [--rate PER_S] [--duration S] [--drain S]\n"
	"                        [--campaign default] [--agency ca-vinhphuc] [--procedure P]\n"
	"                        [--connections 4] [--tx-prefix PREFIX]\n"
	"  --rate 0 (default) fires as fast as hailongd answers, one request per connection.\n";

static int parse_num(const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno || !isfinite(d) || d < lo || d > hi)
		return -EINVAL;
	*out = d;
	return 0;
}

static int load_args(int argc, char **argv, struct load_opts *o, char *prefix, size_t pcap)
{
	memset(o, 0, sizeof *o);
	o->campaign = "default";
	o->agency = "ca-vinhphuc";
	o->first = 1;
	o->count = 1000;
	o->duration_s = 60;
	o->drain_s = 60;
	o->conns = 4;
	const char *api = NULL, *ctl = NULL;
	snprintf(prefix, pcap, "LOAD-%ld-%d-", (long)time(NULL), (int)getpid());
	o->prefix = prefix;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(load_usage, stdout);
			return 1;
		}
		static const char *const known[] = {"--api", "--control", "--token", "--campaign", "--agency",
		                                    "--procedure", "--tx-prefix", "--first", "--citizens",
		                                    "--count", "--rate", "--duration", "--drain", "--connections"};
		int is_known = 0;
		for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
			is_known |= strcmp(a, known[k]) == 0;
		if (!is_known) {
			fprintf(stderr, "hailong-sim load: unknown option '%s'\n%s", a, load_usage);
			return -EINVAL;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "hailong-sim load: %s needs a value\n", a);
			return -EINVAL;
		}
		const char *v = argv[++i];
		double d = 0;
		int bad = 0;
		if (strcmp(a, "--api") == 0)
			api = v;
		else if (strcmp(a, "--control") == 0)
			ctl = v;
		else if (strcmp(a, "--token") == 0)
			o->token = v;
		else if (strcmp(a, "--campaign") == 0)
			o->campaign = v;
		else if (strcmp(a, "--agency") == 0)
			o->agency = v;
		else if (strcmp(a, "--procedure") == 0)
			o->procedure = v;
		else if (strcmp(a, "--tx-prefix") == 0)
			o->prefix = v;
		else if (strcmp(a, "--first") == 0)
			bad = parse_num(v, 1, CITIZENS_MAX, &d) < 0, o->first = (int)d;
		else if (strcmp(a, "--citizens") == 0)
			bad = parse_num(v, 1, CITIZENS_MAX, &d) < 0, o->citizens = (int)d;
		else if (strcmp(a, "--count") == 0)
			bad = parse_num(v, 1, 1e8, &d) < 0, o->count = (long)d;
		else if (strcmp(a, "--rate") == 0)
			bad = parse_num(v, 0, 1e6, &d) < 0, o->rate = d;
		else if (strcmp(a, "--duration") == 0)
			bad = parse_num(v, 0.1, 86400, &d) < 0, o->duration_s = d;
		else if (strcmp(a, "--drain") == 0)
			bad = parse_num(v, 0, 86400, &d) < 0, o->drain_s = d;
		else if (strcmp(a, "--connections") == 0)
			bad = parse_num(v, 1, LOAD_MAX_CONN, &d) < 0, o->conns = (int)d;
		else {
			fprintf(stderr, "hailong-sim load: unknown option '%s'\n%s", a, load_usage);
			return -EINVAL;
		}
		if (bad) {
			fprintf(stderr, "hailong-sim load: bad value for %s: '%s'\n", a, v);
			return -EINVAL;
		}
	}
	if (!api || !ctl || !o->token || !o->citizens) {
		fprintf(stderr, "hailong-sim load: --api, --control, --token and --citizens are required\n%s",
		        load_usage);
		return -EINVAL;
	}
	if (httpc_parse_url(api, o->api_host, sizeof o->api_host, &o->api_port) < 0 ||
	    httpc_parse_url(ctl, o->ctl_host, sizeof o->ctl_host, &o->ctl_port) < 0) {
		fprintf(stderr, "hailong-sim load: --api and --control are http://HOST:PORT\n");
		return -EINVAL;
	}
	if (o->first + o->citizens - 1 > CITIZENS_MAX) {
		fprintf(stderr, "hailong-sim load: --first + --citizens is past the last citizen\n");
		return -EINVAL;
	}
	return 0;
}

/* GET (or POST) a control path; the parsed JSON object or NULL. */
static json_t *ctl_json(const struct load_opts *o, const char *method, const char *path)
{
	char *body = NULL;
	int rc = httpc_request(o->ctl_host, o->ctl_port, method, path, method[0] == 'P' ? "{}" : NULL,
	                       &body, 5000);
	json_t *j = rc == 200 && body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	return j;
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

int simload_main(int argc, char **argv)
{
	struct load l;
	char prefix[96];
	memset(&l, 0, sizeof l);
	int rc = load_args(argc, argv, &l.o, prefix, sizeof prefix);
	if (rc)
		return rc > 0 ? 0 : 2;
	json_t *before = ctl_json(&l.o, "POST", "/stats/reset");
	if (!before) {
		fprintf(stderr, "hailong-sim load: the simulator's control API at %s:%d does not answer\n",
		        l.o.ctl_host, l.o.ctl_port);
		return 1;
	}
	l.base = event_base_new();
	l.tick = l.base ? event_new(l.base, -1, EV_PERSIST, load_tick_cb, &l) : NULL;
	if (!l.tick) {
		fprintf(stderr, "hailong-sim load: out of memory\n");
		return 1;
	}
	for (int i = 0; i < l.o.conns; i++) {
		l.conn[i].l = &l;
		l.conn[i].c = evhttp_connection_base_new(l.base, NULL, l.o.api_host,
		                                         (ev_uint16_t)l.o.api_port);
		if (!l.conn[i].c) {
			fprintf(stderr, "hailong-sim load: cannot create an HTTP connection\n");
			return 1;
		}
		evhttp_connection_set_timeout(l.conn[i].c, 10);
	}
	l.t0 = mono_s();
	struct timeval ms = {0, 1000};
	evtimer_add(l.tick, &ms);
	load_tick_cb(-1, 0, &l);
	/* bounded: the firing stops at --duration, every request times out in 10 s */
	event_base_dispatch(l.base);
	if (!l.t_fired)
		l.t_fired = mono_s();

	/* drain: until every new survey ended (completed, opted out, left unanswered) */
	long accepted = l.created;
	double t_end = l.t_fired, deadline = l.t_fired + l.o.drain_s;
	json_t *after = NULL;
	int all = 0;
	for (long guard = 0; guard < 10000000; guard++) {
		json_decref(after);
		after = ctl_json(&l.o, "GET", "/stats");
		if (!after)
			break;
		long ended = (long)(jint(after, "completed") - jint(before, "completed") +
		                    jint(after, "opted_out") - jint(before, "opted_out") +
		                    jint(after, "no_reply") - jint(before, "no_reply"));
		double now = mono_s();
		if (ended >= accepted) {
			all = 1;
			t_end = now;
			break;
		}
		if (now >= deadline) {
			t_end = now;
			break;
		}
		usleep(20000);
	}
	if (!after) {
		fprintf(stderr, "hailong-sim load: lost the simulator's control API\n");
		json_decref(before);
		return 1;
	}
	double elapsed = t_end - l.t0, fire = l.t_fired - l.t0;
	json_int_t steps = jint(after, "answers") - jint(before, "answers");
	json_int_t done = jint(after, "completed") - jint(before, "completed");
	json_t *lat = json_object_get(after, "latency_ms");
	json_t *sum = json_object();
	json_object_set_new(sum, "triggers_sent", json_integer(l.sent));
	json_object_set_new(sum, "triggers_accepted", json_integer(l.created + l.duplicate));
	json_object_set_new(sum, "triggers_new", json_integer(l.created));
	json_object_set_new(sum, "triggers_duplicate", json_integer(l.duplicate));
	json_object_set_new(sum, "triggers_rejected", json_integer(l.rejected));
	json_object_set_new(sum, "http_failures", json_integer(l.failed));
	json_object_set_new(sum, "fire_s", json_real(fire));
	json_object_set_new(sum, "trigger_rate_per_s", json_real(fire > 0 ? (double)l.sent / fire : 0));
	json_object_set_new(sum, "surveys_completed", json_integer(done));
	json_object_set_new(sum, "surveys_opted_out",
	                    json_integer(jint(after, "opted_out") - jint(before, "opted_out")));
	json_object_set_new(sum, "surveys_no_reply",
	                    json_integer(jint(after, "no_reply") - jint(before, "no_reply")));
	json_object_set_new(sum, "all_ended", json_boolean(all));
	json_object_set_new(sum, "mt_submit_sm",
	                    json_integer(jint(after, "submit_sm") - jint(before, "submit_sm")));
	json_object_set_new(sum, "mt_messages",
	                    json_integer(jint(after, "messages") - jint(before, "messages")));
	json_object_set_new(sum, "mo_deliver_sm", json_integer(jint(after, "mo") - jint(before, "mo")));
	json_object_set_new(sum, "receipts",
	                    json_integer(jint(after, "receipts") - jint(before, "receipts")));
	json_object_set_new(sum, "steps", json_integer(steps));
	json_object_set_new(sum, "elapsed_s", json_real(elapsed));
	json_object_set_new(sum, "steps_per_s", json_real(elapsed > 0 ? (double)steps / elapsed : 0));
	json_object_set_new(sum, "surveys_per_s", json_real(elapsed > 0 ? (double)done / elapsed : 0));
	json_object_set_new(sum, "latency_ms", lat ? json_incref(lat) : json_object());
	json_object_set_new(sum, "sim_errors",
	                    json_integer(jint(after, "errors") - jint(before, "errors")));
	json_object_set_new(sum, "errors", json_integer(l.rejected + l.failed +
	                                                jint(after, "errors") - jint(before, "errors")));
	json_object_set_new(sum, "last_error", json_string(l.last_error));
	char *out = json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	printf("%s\n", out ? out : "{}");
	fflush(stdout);
	free(out);
	json_decref(sum);
	json_decref(before);
	json_decref(after);
	for (int i = 0; i < l.o.conns; i++)
		evhttp_connection_free(l.conn[i].c);
	event_free(l.tick);
	event_base_free(l.base);
	return 0;
}
