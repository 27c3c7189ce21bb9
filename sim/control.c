/* control: the control API over libevent's evhttp: stats, MO injection, inboxes and faults as JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "control.h"
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
	if (!json_is_string(from) || !json_is_string(text) || (to && !json_is_string(to)) ||
	    (delay && !json_is_integer(delay))) {
		json_decref(o);
		send_error(req, 400, "Bad Request", "want {\"from\": \"...\", \"text\": \"...\"}");
		return;
	}
	int d = delay ? (int)json_integer_value(delay) : 0;
	if (d < 0 || d > 3600000)
		d = 0;
	int rc = smsc_send_mo(c->s, json_string_value(from), to ? json_string_value(to) : NULL,
	                      json_string_value(text), d, NULL);
	json_decref(o);
	if (rc < 0) {
		send_error(req, 400, "Bad Request", "from/to must be 1-20 characters");
		return;
	}
	send_json(req, 202, "Accepted", strdup("{\"queued\":true}"));
}

static void on_inbox(struct simctl *c, struct evhttp_request *req, const char *msisdn)
{
	const char *texts[SIMCTL_INBOX_MAX];
	int n = smsc_inbox(c->s, msisdn, texts, SIMCTL_INBOX_MAX);
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(texts[i]));
	char *body = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	send_json(req, 200, "OK", body);
}

static char *faults_json(struct sim_faults *f)
{
	json_t *o = json_pack("{s:I,s:I}", "throttle_every", (json_int_t)f->throttle_every,
	                      "qfull_every", (json_int_t)f->qfull_every);
	char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return body;
}

static void on_faults_post(struct simctl *c, struct evhttp_request *req)
{
	json_t *o = read_body(req);
	if (!o)
		return;
	struct sim_faults f = *smsc_faults(c->s);
	static const char *const keys[] = {"throttle_every", "qfull_every"};
	uint32_t *fields[] = {&f.throttle_every, &f.qfull_every};
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(o, keys[i]);
		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000000) {
			json_decref(o);
			send_error(req, 400, "Bad Request", "fault values are integers >= 0");
			return;
		}
		*fields[i] = (uint32_t)json_integer_value(v);
	}
	json_decref(o);
	*smsc_faults(c->s) = f;
	log_info("[control] faults throttle_every=%u qfull_every=%u", f.throttle_every,
	         f.qfull_every);
	send_json(req, 200, "OK", faults_json(smsc_faults(c->s)));
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
	} else if (strcmp(path, "/mo") == 0) {
		if (m != EVHTTP_REQ_POST)
			send_error(req, 405, "Method Not Allowed", "use POST");
		else
			on_mo(c, req);
	} else if (strncmp(path, "/inbox/", 7) == 0) {
		if (m != EVHTTP_REQ_GET)
			send_error(req, 405, "Method Not Allowed", "use GET");
		else
			on_inbox(c, req, path + 7);
	} else if (strcmp(path, "/faults") == 0) {
		if (m == EVHTTP_REQ_GET)
			send_json(req, 200, "OK", faults_json(smsc_faults(c->s)));
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
