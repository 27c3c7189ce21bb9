/* control: the control API over libevent's evhttp: stats, MO injection, inboxes and faults as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "campaign.h"
#include "citizens.h"
#include "control.h"
#include "faults.h"
#include "log.h"
#include "simargs.h"
#include "smsc.h"

#define SIMCTL_MAX_BODY 65536
#define SIMCTL_INBOX_MAX 64

struct simctl {
	struct evhttp *http;
	struct smsc *s;        /* borrowed */
};

/* Answer with a JSON body; takes over `body` (malloc'd, may be NULL). */
static void send_json(struct evhttp_request *req, int code, const char *reason, char *body)
{
	struct evbuffer *out = evbuffer_new();
	if (out) {
		evbuffer_add_printf(out, "%s\n", body ? body : "{}");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		                  "application/json");
	}
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
	free(body);
}

static void send_error(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	send_json(req, code, reason, body);
}

/* The request body parsed as a JSON object, or NULL (error answered). */
static json_t *read_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (n == 0 || n > SIMCTL_MAX_BODY) {
		send_error(req, 400, "Bad Request", "a JSON object body is required");
		return NULL;
	}
	const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	json_error_t je;
	json_t *o = p ? json_loadb(p, n, 0, &je) : NULL;
	if (!o || !json_is_object(o)) {
		json_decref(o);
		send_error(req, 400, "Bad Request", "body is not a JSON object");
		return NULL;
	}
	return o;
}

static void on_mo(struct simctl *c, struct evhttp_request *req)
{
	json_t *o = read_body(req);
	if (!o)
		return;
	json_t *from = json_object_get(o, "from"), *text = json_object_get(o, "text");
	json_t *to = json_object_get(o, "to"), *delay = json_object_get(o, "delay_ms");
	json_t *ref = json_object_get(o, "ref"), *parts = json_object_get(o, "parts");
	json_t *ucs2 = json_object_get(o, "ucs2"), *sms = json_object_get(o, "sms");
	if (!json_is_string(from) || !json_is_string(text) || (to && !json_is_string(to)) ||
	    (delay && !json_is_integer(delay)) || (ucs2 && !json_is_boolean(ucs2)) || (sms && !json_is_boolean(sms)) ||
	    (ref && (!json_is_integer(ref) || json_integer_value(ref) < 0 || json_integer_value(ref) > 255)) ||
	    (parts && !json_is_array(parts))) {
		json_decref(o);
		send_error(req, 400, "Bad Request",
		           "want {\"from\": \"...\", \"text\": \"...\"} (optional: to, delay_ms, ucs2: true|false, "
		           "ref: 0..255, parts: [1, 3], sms: true|false)");
		return;
	}
	uint32_t only = 0;
	size_t i;
	json_t *v;
	json_array_foreach(parts, i, v) {
		json_int_t k = json_integer_value(v);
		if (!json_is_integer(v) || k < 1 || k > 32) {
			json_decref(o);
			send_error(req, 400, "Bad Request", "parts: numbers 1..32 (the parts to send)");
			return;
		}
		only |= 1u << (k - 1);
	}
	int d = delay ? (int)json_integer_value(delay) : 0;
	if (d < 0 || d > 3600000)
		d = 0;
	int rc = smsc_send_mo_parts(c->s, json_string_value(from), to ? json_string_value(to) : NULL,
	                            json_string_value(text), d, json_is_true(ucs2), ref ? (int)json_integer_value(ref) : -1,
	                            only, json_is_true(sms));
	json_decref(o);
	if (rc < 0) {
		send_error(req, 400, "Bad Request", "from/to must be 1-20 characters");
		return;
	}
	send_json(req, 202, "Accepted", strdup("{\"queued\":true}"));
}

/* POST /ussd/dial {"from": "849..."}: the citizen dials the service code
 * (a new USSD session); 409 when the simulator plays no USSD centre. */
static void on_ussd_dial(struct simctl *c, struct evhttp_request *req)
{
	json_t *o = read_body(req);
	if (!o)
		return;
	json_t *from = json_object_get(o, "from");
	if (!json_is_string(from)) {
		json_decref(o);
		send_error(req, 400, "Bad Request", "want {\"from\": \"...\"}");
		return;
	}
	int rc = smsc_ussd_dial(c->s, json_string_value(from), 0);
	json_decref(o);
	if (rc < 0) {
		send_error(req, 409, "Conflict", "no USSD centre (start hailong-sim with --ussd CODE)");
		return;
	}
	send_json(req, 202, "Accepted", strdup("{\"dialled\":true}"));
}

/* GET /inbox/N: the texts as an array. GET /inbox/N?since=K: an object
 * {"next": T, "texts": [...]} with the texts numbered K and later, T being
 * the `since` of the next poll (what the interactive phone uses). */
static void on_inbox(struct simctl *c, struct evhttp_request *req, const char *msisdn,
                     const char *query)
{
	const char *texts[SIMCTL_INBOX_MAX];
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	const char *since = NULL;
	if (query && evhttp_parse_query_str(query, &q) == 0)
		since = evhttp_find_header(&q, "since");
	unsigned long from = 0, total = 0;
	if (since) {
		char *end;
		errno = 0;
		from = strtoul(since, &end, 10);
		if (end == since || *end || errno || since[0] == '-') {
			evhttp_clear_headers(&q);
			send_error(req, 400, "Bad Request", "since is a text number >= 0");
			return;
		}
	}
	int n = since ? smsc_inbox_since(c->s, msisdn, from, texts, SIMCTL_INBOX_MAX, &total)
	              : smsc_inbox(c->s, msisdn, texts, SIMCTL_INBOX_MAX);
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(texts[i]));
	json_t *o = since ? json_pack("{s:I,s:o}", "next", (json_int_t)total, "texts", a) : a;
	char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	evhttp_clear_headers(&q);
	send_json(req, 200, "OK", body);
}


static void on_faults_post(struct simctl *c, struct evhttp_request *req)
{
	json_t *o = read_body(req);
	if (!o)
		return;
	/* all or nothing: the faults change only when every value is good */
	struct sim_faults f = *smsc_faults(c->s);
	const char *k;
	json_t *v;
	char err[256];
	if (json_is_true(json_object_get(o, "reset")))
		sim_faults_default(&f);
	json_object_foreach(o, k, v) {
		char val[64];
		if (strcmp(k, "reset") == 0)
			continue;
		if (json_is_integer(v))
			snprintf(val, sizeof val, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else if (json_is_real(v))
			snprintf(val, sizeof val, "%.17g", json_real_value(v));
		else if (json_is_string(v))
			snprintf(val, sizeof val, "%s", json_string_value(v));
		else
			snprintf(val, sizeof val, "?");
		if (sim_faults_set(&f, k, val, err, sizeof err) < 0) {
			json_decref(o);
			send_error(req, 400, "Bad Request", err);
			return;
		}
	}
	json_decref(o);
	*smsc_faults(c->s) = f;
	smsc_faults_changed(c->s);
	char *body = sim_faults_json(smsc_faults(c->s));
	log_info("[control] faults %s", body ? body : "?");
	send_json(req, 200, "OK", body);
}

/* GET /campaign: the questions as the gateway renders them, and the end
 * messages, so an ESME under test can send what the citizens recognise. */
static void on_campaign(struct simctl *c, struct evhttp_request *req)
{
	struct citizens *pop = smsc_citizens(c->s);
	const struct campaign *cp = pop ? citizens_campaign(pop) : NULL;
	if (!cp) {
		send_error(req, 404, "Not Found", "no campaign loaded");
		return;
	}
	json_t *qs = json_array();
	for (int i = 0; i < cp->nquestions; i++) {
		char *r = campaign_render_question(cp, i);
		json_array_append_new(qs, json_pack("{s:s,s:s}", "id", cp->questions[i].id, "text",
		                                    r ? r : ""));
		free(r);
	}
	json_t *o = json_pack("{s:s,s:o,s:s,s:s}", "id", cp->id, "questions", qs, "thanks",
	                      cp->msg.thanks ? cp->msg.thanks : "", "reminder",
	                      cp->msg.reminder ? cp->msg.reminder : "");
	char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	send_json(req, 200, "OK", body);
}

static void simctl_cb(struct evhttp_request *req, void *arg)
{
	struct simctl *c = arg;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path) {
		send_error(req, 400, "Bad Request", "bad URI");
		return;
	}
	if (strcmp(path, "/stats") == 0) {
		if (m != EVHTTP_REQ_GET)
			send_error(req, 405, "Method Not Allowed", "use GET");
		else
			send_json(req, 200, "OK", smsc_stats_json(c->s));
	} else if (strcmp(path, "/campaign") == 0) {
		if (m != EVHTTP_REQ_GET)
			send_error(req, 405, "Method Not Allowed", "use GET");
		else
			on_campaign(c, req);
	} else if (strcmp(path, "/stats/reset") == 0) {
		if (m != EVHTTP_REQ_POST) {
			send_error(req, 405, "Method Not Allowed", "use POST");
		} else {
			smsc_latency_reset(c->s);
			send_json(req, 200, "OK", smsc_stats_json(c->s));
		}
	} else if (strcmp(path, "/ussd/dial") == 0) {
		if (m != EVHTTP_REQ_POST)
			send_error(req, 405, "Method Not Allowed", "use POST");
		else
			on_ussd_dial(c, req);
	} else if (strcmp(path, "/mo") == 0) {
		if (m != EVHTTP_REQ_POST)
			send_error(req, 405, "Method Not Allowed", "use POST");
		else
			on_mo(c, req);
	} else if (strncmp(path, "/inbox/", 7) == 0) {
		if (m != EVHTTP_REQ_GET)
			send_error(req, 405, "Method Not Allowed", "use GET");
		else
			on_inbox(c, req, path + 7, evhttp_uri_get_query(uri));
	} else if (strcmp(path, "/faults") == 0) {
		if (m == EVHTTP_REQ_GET)
			send_json(req, 200, "OK", sim_faults_json(smsc_faults(c->s)));
		else if (m == EVHTTP_REQ_POST)
			on_faults_post(c, req);
		else
			send_error(req, 405, "Method Not Allowed", "use GET or POST");
	} else {
		send_error(req, 404, "Not Found", "no such resource");
	}
}

struct simctl *simctl_new(struct event_base *base, struct smsc *s, const char *hostport,
                          char *err, size_t errlen)
{
	char host[64];
	int port;
	if (simargs_hostport(hostport, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad control address '%s' (want HOST:PORT)", hostport);
		return NULL;
	}
	struct simctl *c = calloc(1, sizeof *c);
	if (!c || !(c->http = evhttp_new(base))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->s = s;
	evhttp_set_max_body_size(c->http, SIMCTL_MAX_BODY);
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(c->http, simctl_cb, c);
	if (evhttp_bind_socket(c->http, host, (ev_uint16_t)port) != 0) {
		snprintf(err, errlen, "cannot listen on %s for the control API", hostport);
		simctl_free(c);
		return NULL;
	}
	return c;
}

void simctl_free(struct simctl *c)
{
	if (!c)
		return;
	if (c->http)
		evhttp_free(c->http);
	free(c);
}
