/* api: POST /v1/triggers, POST /v1/optouts, GET /v1/surveys and POST /v1/surveys/{id}/cancel (api_surveys.c), GET /v1/report and /dashboard (dashboard.c), GET /healthz, /readyz and /metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <utf8proc.h>

#include "api.h"
#include "api_surveys.h"
#include "dashboard.h"
#include "log.h"
#include "phone.h"

#define API_MAX_BODY (1024 * 1024)
#define API_MAX_BATCH 1000
#define API_MAX_HEADERS (64 * 1024) /* request line and headers */

struct api_wait;
struct api {
	struct evhttp *http;
	const struct config *cfg;
	struct gw *gw;
	struct dashboard *dash;
	int draining;           /* api_drain: triggers get 503 */
	int retry_after_s;      /* what Retry-After says then */
	struct api_wait *waits; /* requests waiting for Redis */
};

/* A request answered later: what it asks is on its way to Redis (the
 * asynchronous connection), and the loop goes on meanwhile. libevent may
 * free the request before that, with its connection (evhttp_free at
 * api_free, or any connection freed while the request is attached to it):
 * the connection's close callback (api_wait_closed) forgets such a request
 * here first, so nothing is ever sent on a freed request. A client that
 * closed its end is not seen until then (libevent 2.1 does not read a
 * connection whose request waits for its answer): the answer is written,
 * fails, and libevent frees the request and the connection. One whose
 * connection timed out (evhttp_set_timeout) is detached from it and stays
 * valid: answered all the same, into the void, libevent frees it then. */
struct api_wait {
	struct api *a;              /* NULL once the API is freed */
	struct evhttp_request *req; /* NULL: nobody to answer any more */
	struct api_wait *next;      /* a->waits */
};

/* A connection is going: its request waiting here goes with it. */
static void api_wait_closed(struct evhttp_connection *evcon, void *arg)
{
	struct api *a = arg;
	for (struct api_wait *w = a->waits; w; w = w->next)
		if (w->req && evhttp_request_get_connection(w->req) == evcon) {
			w->req = NULL;
			log_debug("http msg=\"connection closed before its answer\"");
		}
}

static void api_wait_begin(struct api *a, struct api_wait *w, struct evhttp_request *req)
{
	w->a = a;
	w->req = req;
	w->next = a->waits;
	a->waits = w;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon) /* (a request waits alone on its connection: evhttp reads the next once this one is answered) */
		evhttp_connection_set_closecb(evcon, api_wait_closed, a);
}

/* The request to answer now, or NULL (nobody to answer); w leaves a's list. */
static struct evhttp_request *api_wait_end(struct api_wait *w)
{
	if (w->a) {
		struct api_wait **pp = &w->a->waits;
		while (*pp && *pp != w)
			pp = &(*pp)->next;
		if (*pp)
			*pp = w->next;
	}
	struct evhttp_request *req = w->req;
	w->a = NULL;
	w->req = NULL;
	w->next = NULL;
	return req;
}

/* A POST /v1/triggers whose triggers are on their way to Redis
 * (gw_trigger_async): answered when the last comes back. */
struct api_job {
	struct api_wait w;      /* first: the request */
	json_t *results;        /* one answer per trigger, in order (a batch) */
	int batch;              /* 0: one trigger, answered with its own status */
	int single_code;
	int left;               /* triggers still on their way */
	struct api_item {
		struct api_job *j;
		size_t i;
	} items[];
};

/* Sends the answer; a HEAD gets its headers only. libevent 2.1 writes the
 * body of a HEAD answer (without a Content-Length), which a client that keeps
 * the connection (a load balancer's health check) reads as the start of the
 * next answer. */
static void api_send(struct evhttp_request *req, int code, const char *reason, struct evbuffer *out)
{
	if (out && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		evbuffer_drain(out, evbuffer_get_length(out));
	evhttp_send_reply(req, code, reason, out);
}

static void api_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	char *txt = json_dumps(body, JSON_COMPACT);
	struct evbuffer *out = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	if (out && txt) {
		evbuffer_add(out, txt, strlen(txt));
		evbuffer_add(out, "\n", 1);
	}
	const char *reason = code == 200 ? "OK" : code == 201 ? "Created" : code == 202 ? "Accepted" : code == 400 ? "Bad Request"
	                     : code == 401 ? "Unauthorized" : code == 403 ? "Forbidden" : code == 404 ? "Not Found"
	                     : code == 405 ? "Method Not Allowed" : code == 409 ? "Conflict"
	                     : code == 413 ? "Payload Too Large"
	                     : code == 503 ? "Service Unavailable" : "Error";
	api_send(req, code, reason, out);
	if (out)
		evbuffer_free(out);
	free(txt);
	json_decref(body);
}

static void api_error(struct evhttp_request *req, int code, const char *field, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	if (field)
		json_object_set_new(o, "field", json_string(field));
	api_reply_json(req, code, o);
}

/* The token of "Authorization: Bearer TOKEN", or -1 (with why). */
static int api_auth(struct api *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return -1;
	const char *tok = h + 7;
	while (*tok == ' ')
		tok++;
	return config_token_find(a->cfg, tok);
}

static const char *api_str(json_t *o, const char *k, int *bad)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/* The HTTP status for what gw_trigger_async gave: 202 new, 200 accepted
 * before, 400 a bad field, 404 an unknown campaign, 503 not stored now. */
static int api_trigger_status(int rc)
{
	switch (rc) {
	case GW_TRIGGER_NEW:
		return 202;
	case GW_TRIGGER_DUPLICATE:
		return 200;
	case -EINVAL:
		return 400;
	case -ENOENT:
		return 404;
	default: /* -EAGAIN, -ENOMEM: nothing was stored, the client retries */
		return 503;
	}
}

static void api_trigger_done(void *arg, int rc, const char *id, const char *err);

/* The answer to one trigger that was stored (or not) by Redis. */
static json_t *api_trigger_answer(int code, const char *id, const char *field, const char *err)
{
	json_t *o;
	if (code == 200 || code == 202) {
		o = json_pack("{s:s,s:s}", "survey_id", id, "status", code == 202 ? "queued" : "duplicate");
	} else {
		o = json_pack("{s:s}", "error", code == 503 ? "cannot store the trigger now; retry" : err);
		if (field)
			json_object_set_new(o, "field", json_string(field));
		if (code == 503)
			log_warn("trigger msg=\"not durable\" err=\"%s\"", err);
	}
	return o;
}

/* The string at o[key], if one, put in Unicode NFC (SPEC §8: NFC first): an
 * agency or procedure typed on a system that writes decomposed Vietnamese
 * (NFD: "o" + U+0302 + U+0301 for "ố") is the same unit in the token's list,
 * the archive and the reports as the one written composed. */
static void api_nfc(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		return;
	char *n = (char *)utf8proc_NFC((const utf8proc_uint8_t *)json_string_value(v));
	if (n && strcmp(n, json_string_value(v)) != 0)
		json_object_set_new(o, key, json_string(n));
	free(n);
}

/* One trigger object -> (HTTP status, JSON answer), or 0 when it went to
 * Redis (it of job j: api_trigger_done answers it). */
static int api_one(struct api *a, int token, json_t *item, json_t **answer, struct api_item *it)
{
	char err[256], id[33];
	const char *field = NULL;
	if (!json_is_object(item)) {
		*answer = json_pack("{s:s}", "error", "a trigger must be a JSON object");
		return 400;
	}
	static const char *const fields[] = {"campaign", "msisdn", "transaction_id", "agency", "procedure",
	                                     "completed_at", "audit_of"};
	const char *key;
	json_t *val;
	json_object_foreach(item, key, val)
	{
		int known = 0;
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
			known |= strcmp(key, fields[i]) == 0;
		if (!known) {
			snprintf(err, sizeof err, "%s: unknown field", key);
			*answer = json_pack("{s:s,s:s}", "error", err, "field", key);
			return 400;
		}
	}
	api_nfc(item, "agency");
	api_nfc(item, "procedure");
	struct gw_trigger t;
	const char *bad = NULL;
	int b = 0;
	t.campaign = api_str(item, "campaign", &b);
	if (b && !bad)
		bad = "campaign";
	t.msisdn = api_str(item, "msisdn", &b);
	if (b && !bad)
		bad = "msisdn";
	t.transaction_id = api_str(item, "transaction_id", &b);
	if (b && !bad)
		bad = "transaction_id";
	t.agency = api_str(item, "agency", &b);
	if (b && !bad)
		bad = "agency";
	t.procedure = api_str(item, "procedure", &b);
	if (b && !bad)
		bad = "procedure";
	t.completed_at = api_str(item, "completed_at", &b);
	if (b && !bad)
		bad = "completed_at";
	t.audit_of = api_str(item, "audit_of", &b); /* audit campaigns (docs/audit.md) */
	if (b && !bad)
		bad = "audit_of";
	if (bad) {
		snprintf(err, sizeof err, "%s: must be a string", bad);
		*answer = json_pack("{s:s,s:s}", "error", err, "field", bad);
		return 400;
	}
	if (t.agency && !config_token_allows(a->cfg, token, t.agency)) {
		snprintf(err, sizeof err, "agency: this token may not trigger for '%s'", t.agency);
		*answer = json_pack("{s:s,s:s}", "error", err, "field", "agency");
		return 403;
	}
	(void)id;
	int rc = gw_trigger_async(a->gw, &t, &field, err, sizeof err, api_trigger_done, it);
	if (rc == 0) {
		it->j->left++;
		return 0;
	}
	int code = api_trigger_status(rc);
	*answer = api_trigger_answer(code, "", field, err);
	return code;
}

/* Answers the job's request (when someone still waits for it) and frees j. */
static void api_job_answer(struct api_job *j)
{
	struct evhttp_request *req = api_wait_end(&j->w);
	if (req && j->batch) {
		api_reply_json(req, 200, json_pack("{s:o}", "results", j->results));
		j->results = NULL;
	} else if (req) {
		json_t *one = json_incref(json_array_get(j->results, 0));
		json_object_del(one, "index");
		json_object_del(one, "code");
		api_reply_json(req, j->single_code, one);
	}
	json_decref(j->results);
	free(j);
}

static void api_item_set(struct api_job *j, size_t i, int code, json_t *one)
{
	json_object_set_new(one, "index", json_integer((json_int_t)i));
	json_object_set_new(one, "code", json_integer(code));
	json_array_set_new(j->results, i, one);
	if (!j->batch)
		j->single_code = code;
}

static void api_trigger_done(void *arg, int rc, const char *id, const char *err)
{
	struct api_item *it = arg;
	struct api_job *j = it->j;
	int code = api_trigger_status(rc);
	api_item_set(j, it->i, code, api_trigger_answer(code, id, NULL, err));
	if (--j->left > 0)
		return;
	api_job_answer(j);
}

/* The request's body as JSON, or NULL (je says why). A key written twice
 * in one object is refused: which of the two was meant cannot be known. */
static json_t *api_load(struct evbuffer *in, json_error_t *je)
{
	size_t len = evbuffer_get_length(in);
	memset(je, 0, sizeof *je);
	if (len == 0)
		return NULL;
	return json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, JSON_REJECT_DUPLICATES, je);
}

/* What was wrong with a body api_load refused, for the 400. */
static void api_json_why(size_t len, const json_error_t *je, char *msg, size_t cap)
{
	if (len == 0)
		snprintf(msg, cap, "body: empty; expected a JSON object (or an array of them)");
	else
		snprintf(msg, cap, "body: not JSON (line %d column %d: %s)", je->line, je->column, je->text);
}

static void api_triggers(struct api *a, struct evhttp_request *req)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		api_error(req, 405, NULL, "use POST");
		return;
	}
	if (a->draining) {
		/* another gateway, or this one restarted, takes it: nothing was stored */
		char ra[16];
		snprintf(ra, sizeof ra, "%d", a->retry_after_s);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
		api_error(req, 503, NULL, "hailongd is shutting down; retry");
		return;
	}
	int token = api_auth(a, req);
	if (token < 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
		api_error(req, 401, NULL, "missing or unknown bearer token");
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len > API_MAX_BODY) {
		api_error(req, 413, "body", "body: larger than 1 MiB; send at most 1000 triggers per request");
		return;
	}
	json_error_t je;
	json_t *body = api_load(in, &je);
	if (!body) {
		char msg[256];
		api_json_why(len, &je, msg, sizeof msg);
		api_error(req, 400, "body", msg);
		return;
	}
	size_t n = json_is_array(body) ? json_array_size(body) : 1;
	if (json_is_array(body) && (n == 0 || n > API_MAX_BATCH)) {
		json_decref(body);
		api_error(req, 400, "body", "a batch holds 1 to 1000 triggers");
		return;
	}
	/* every trigger goes to Redis at once (one write for the whole batch);
	 * the answer leaves when the last is back. A batch answers 200 with one
	 * result per item, each with its own status. */
	struct api_job *j = calloc(1, sizeof *j + n * sizeof j->items[0]);
	if (j)
		j->results = json_array();
	if (!j || !j->results) {
		free(j);
		json_decref(body);
		api_error(req, 503, NULL, "out of memory; retry");
		return;
	}
	api_wait_begin(a, &j->w, req);
	j->batch = json_is_array(body);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(j->results, json_null());
	j->left = 1; /* held while the triggers are issued */
	for (size_t i = 0; i < n; i++) {
		json_t *one = NULL;
		j->items[i].j = j;
		j->items[i].i = i;
		int code = api_one(a, token, j->batch ? json_array_get(body, i) : body, &one, &j->items[i]);
		if (code)
			api_item_set(j, i, code, one);
	}
	json_decref(body);
	if (--j->left == 0)
		api_job_answer(j);
}

static void api_optout_done(void *arg, int rc, int is_new, const char *ended)
{
	struct api_wait *w = arg;
	struct evhttp_request *req = api_wait_end(w);
	free(w);
	if (!req)
		return;
	if (rc < 0) {
		api_error(req, 503, NULL, "cannot store the opt-out now; retry");
		return;
	}
	json_t *o = json_pack("{s:b,s:b}", "optout", 1, "new", is_new);
	json_object_set_new(o, "survey_ended", ended && *ended ? json_string(ended) : json_null());
	api_reply_json(req, is_new ? 201 : 200, o);
}

/* POST /v1/optouts {"msisdn": "..."}: the citizen is never surveyed again
 * (source api); any valid token may record one. 201 new, 200 recorded
 * before, 400 a bad body or number, 401, 503 when Redis cannot take it. */
static void api_optouts(struct api *a, struct evhttp_request *req)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		api_error(req, 405, NULL, "use POST");
		return;
	}
	if (api_auth(a, req) < 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
		api_error(req, 401, NULL, "missing or unknown bearer token");
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t je;
	if (len > API_MAX_BODY) {
		api_error(req, 413, "body", "body: larger than 1 MiB");
		return;
	}
	json_t *body = api_load(in, &je);
	int bad = 0;
	const char *raw = json_is_object(body) ? api_str(body, "msisdn", &bad) : NULL;
	char msisdn[PHONE_MAX], why[128] = "required";
	if (!body) {
		char msg[256];
		api_json_why(len, &je, msg, sizeof msg);
		api_error(req, 400, "body", msg);
	} else if (!json_is_object(body)) {
		api_error(req, 400, "body", "expected a JSON object {\"msisdn\": \"0912345678\"}");
	} else if (json_object_size(body) != 1 || !raw || bad || phone_normalize(raw, msisdn, why, sizeof why) < 0) {
		char msg[200];
		if (raw && !bad && json_object_size(body) == 1)
			snprintf(msg, sizeof msg, "msisdn: %s", why);
		else
			snprintf(msg, sizeof msg, "msisdn: required, a string, and the only field");
		api_error(req, 400, "msisdn", msg);
	} else {
		struct api_wait *w = calloc(1, sizeof *w);
		if (!w) {
			api_error(req, 503, NULL, "out of memory; retry");
		} else {
			api_wait_begin(a, w, req);
			gw_optout_api(a->gw, msisdn, api_optout_done, w);
		}
	}
	json_decref(body);
}

static void api_text(struct evhttp_request *req, int code, const char *ctype, const char *txt)
{
	struct evbuffer *out = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	if (out)
		evbuffer_add(out, txt, strlen(txt));
	api_send(req, code, code == 200 ? "OK" : "Service Unavailable", out);
	if (out)
		evbuffer_free(out);
}

static void api_metrics_done(void *arg, char *text)
{
	struct api_wait *w = arg;
	struct evhttp_request *req = api_wait_end(w);
	free(w);
	if (req)
		api_text(req, 200, "text/plain; version=0.0.4", text ? text : "");
	free(text);
}

static void api_surveys_done(void *arg, int code, json_t *body)
{
	struct api_wait *w = arg;
	struct evhttp_request *req = api_wait_end(w);
	free(w);
	if (req)
		api_reply_json(req, code, body);
	else
		json_decref(body);
}

static void api_ready_done(void *arg, int ok, const char *why)
{
	struct api_wait *w = arg;
	int draining = w->a && w->a->draining; /* (it may have begun meanwhile) */
	struct evhttp_request *req = api_wait_end(w);
	free(w);
	char line[160];
	snprintf(line, sizeof line, "%s\n", draining ? "draining" : ok ? "ready" : why);
	if (req)
		api_text(req, ok && !draining ? 200 : 503, "text/plain", line);
}

/* A 405 for a method /v1/surveys... does not take (GET for a survey or a
 * look-up, POST for a cancel): 1 when answered so, 0 for the others (an
 * unknown path under /v1/surveys stays a 404, from api_surveys). */
static int api_surveys_method(struct evhttp_request *req, const char *path)
{
	const char *rest = path + strlen("/v1/surveys"), *slash = *rest == '/' ? strchr(rest + 1, '/') : NULL;
	const char *allow = NULL;
	if (*rest == '\0' || (rest[1] && !slash))
		allow = "GET, HEAD";
	else if (slash && slash > rest + 1 && strcmp(slash, "/cancel") == 0)
		allow = "POST";
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (!allow || (allow[0] == 'G' ? (cmd & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)) : cmd == EVHTTP_REQ_POST))
		return 0;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	api_error(req, 405, NULL, allow[0] == 'G' ? "GET only" : "POST only");
	return 1;
}

static void api_cb(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	if (!path) {
		api_error(req, 400, NULL, "bad request line");
	} else if (strcmp(path, "/v1/triggers") == 0) {
		api_triggers(a, req);
	} else if (strcmp(path, "/v1/optouts") == 0) {
		api_optouts(a, req);
	} else if (strcmp(path, "/v1/report") == 0 || strcmp(path, "/dashboard") == 0) {
		dashboard_serve(a->dash, req, api_auth(a, req), strcmp(path, "/dashboard") == 0);
	} else if (strncmp(path, "/v1/surveys", 11) == 0 && (path[11] == '\0' || path[11] == '/') &&
	           api_surveys_method(req, path)) {
		/* answered 405 with its Allow (RFC 9110 15.5.6) */
	} else if (strncmp(path, "/v1/surveys", 11) == 0 && (path[11] == '\0' || path[11] == '/')) {
		struct api_wait *w = calloc(1, sizeof *w);
		if (!w) {
			api_error(req, 503, NULL, "out of memory; retry");
		} else {
			api_wait_begin(a, w, req);
			api_surveys(a->cfg, a->gw, api_auth(a, req),
			            (evhttp_request_get_command(req) & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)) != 0, path,
			            evhttp_uri_get_query(u), api_surveys_done, w);
		}
	} else if ((strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 || strcmp(path, "/metrics") == 0) &&
	           !(evhttp_request_get_command(req) & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD))) {
		/* read-only: a probe that POSTs or DELETEs is told so, not answered as a GET */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		api_error(req, 405, NULL, "use GET");
	} else if (strcmp(path, "/healthz") == 0) {
		api_text(req, 200, "text/plain", "ok\n");
	} else if (strcmp(path, "/readyz") == 0) {
		struct api_wait *w = a->draining ? NULL : calloc(1, sizeof *w);
		if (!w) {
			api_text(req, 503, "text/plain", a->draining ? "draining\n" : "out of memory\n");
		} else {
			api_wait_begin(a, w, req);
			gw_ready(a->gw, api_ready_done, w);
		}
	} else if (strcmp(path, "/metrics") == 0) {
		struct api_wait *w = calloc(1, sizeof *w);
		if (!w) {
			api_text(req, 503, "text/plain", "out of memory\n");
		} else {
			api_wait_begin(a, w, req);
			gw_metrics(a->gw, api_metrics_done, w);
		}
	} else {
		api_error(req, 404, NULL, "no such resource");
	}
	if (u)
		evhttp_uri_free(u);
}

struct api *api_new(struct event_base *base, const struct config *cfg, struct gw *g, char *err,
                    size_t errlen)
{
	struct api *a = calloc(1, sizeof *a);
	char host[256];
	if (!a)
		return NULL;
	a->cfg = cfg;
	a->gw = g;
	const char *colon = strrchr(cfg->http_listen, ':');
	long port = colon ? strtol(colon + 1, NULL, 10) : 0;
	char where[4200];
	config_where(cfg, cfg->listen_line, where, sizeof where);
	if (!colon || port <= 0 || port > 65535 || (size_t)(colon - cfg->http_listen) >= sizeof host) {
		snprintf(err, errlen, "%s: http: listen: expected host:port, got '%s'", where, cfg->http_listen);
		goto fail;
	}
	memcpy(host, cfg->http_listen, (size_t)(colon - cfg->http_listen));
	host[colon - cfg->http_listen] = '\0';
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* "[::1]:8080": the address without its brackets */
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (!(a->dash = dashboard_new(base, cfg, err, errlen)))
		goto fail;
	a->http = evhttp_new(base);
	if (!a->http)
		goto fail;
	/* libevent answers a body over its limit itself, in HTML: up to 4 times
	 * ours, the handlers answer a JSON 413 naming the limit */
	evhttp_set_max_body_size(a->http, 4 * API_MAX_BODY);
	/* libevent's default is no limit: a client that never ends its headers
	 * held as much memory as it sent (and its line was searched again at
	 * each read); beyond this the connection is answered 400 and closed */
	evhttp_set_max_headers_size(a->http, API_MAX_HEADERS);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_gencb(a->http, api_cb, a);
	errno = 0;
	if (!evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port)) {
		snprintf(err, errlen, "%s: http: listen: cannot listen on %s: %s", where, cfg->http_listen,
		         errno ? strerror(errno) : "no such address here");
		goto fail;
	}
	return a;
fail:
	api_free(a);
	return NULL;
}

void api_drain(struct api *a, int retry_after_s)
{
	if (!a)
		return;
	a->draining = 1;
	a->retry_after_s = retry_after_s;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	dashboard_free(a->dash); /* before the requests it answers go */
	/* the requests still waiting for Redis: those on a connection go with
	 * the server (nothing to answer); a detached one (its connection timed
	 * out) is answered into the void when its reply comes, and freed then */
	for (struct api_wait *w = a->waits; w; w = w->next) {
		w->a = NULL;
		if (w->req && evhttp_request_get_connection(w->req))
			w->req = NULL;
	}
	a->waits = NULL;
	if (a->http)
		evhttp_free(a->http);
	free(a);
}
