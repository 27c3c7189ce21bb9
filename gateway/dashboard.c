/* dashboard: GET /v1/report and GET /dashboard, computed on worker threads with read connections of their own. */
#include "dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <utf8proc.h>

#include "log.h"
#include "report.h"

/* One request being computed. The worker fills code/body; the event loop sends them. */
struct job {
	struct dashboard *d;
	struct evhttp_request *req;     /* NULL once its connection closed */
	char *query;
	const char *agencies[REPORT_MAX_AGENCIES];
	int nagencies;                  /* -1: all */
	int html;
	int code;
	char *body;
	size_t len;
	const char *ctype;
	pthread_t th;
	struct job *next;
};

struct dashboard {
	struct event_base *base;
	const struct config *cfg;
	int fds[2];                     /* workers write finished jobs' pointers to fds[1] */
	struct event *ev;               /* reads fds[0] in the loop */
	struct job *jobs;               /* running or finished, not yet replied */
	int njobs;
};

static char *error_body(int html, const char *msg, size_t *len, const char **ctype)
{
	char *out = NULL;

	if (html) {
		size_t cap = strlen(msg) + 16;

		if ((out = malloc(cap)))
			snprintf(out, cap, "%s\n", msg);
		*ctype = "text/plain; charset=utf-8";
	} else {
		json_t *o = json_pack("{s:s}", "error", msg);

		out = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		*ctype = "application/json";
	}
	*len = out ? strlen(out) : 0;
	return out;
}

/* A copy of s in Unicode NFC (s itself copied when it is no valid UTF-8), or NULL. */
static char *nfc_dup(const char *s)
{
	char *n = s ? (char *)utf8proc_NFC((const utf8proc_uint8_t *)s) : NULL;
	return n ? n : s ? strdup(s) : NULL;
}

int dashboard_render(const char *db_path, const char *query, const char *const *agencies, int nagencies,
                     int html, char **body, size_t *len, const char **ctype)
{
	struct evkeyvalq kv;
	struct report_query q;
	struct report_db *db = NULL;
	const char *by, *format;
	json_t *doc = NULL;
	char err[512], *buf = NULL;
	size_t blen = 0;
	FILE *out;
	int code = 200, rc, all = nagencies < 0 || !agencies;
	char *nfc_agency = NULL, *nfc_procedure = NULL;

	memset(&q, 0, sizeof q);
	TAILQ_INIT(&kv);
	*body = NULL;
	for (int i = 0; !all && i < nagencies; i++)
		all = strcmp(agencies[i], "*") == 0;
	if (evhttp_parse_query_str(query ? query : "", &kv) < 0) {
		snprintf(err, sizeof err, "bad query string");
		code = 400;
		goto fail;
	}
	/* a parameter misspelt or given twice is refused, not ignored: a report
	 * that silently left out a filter would be read as the filtered one */
	for (struct evkeyval *p = kv.tqh_first; p; p = p->next.tqe_next) {
		static const char *const known[] = {"campaign", "from", "to", "agency", "procedure", "status",
		                                    "by", "format", "access_token"};
		int ok = 0;

		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			ok |= strcmp(p->key, known[i]) == 0;
		if (!ok) {
			snprintf(err, sizeof err,
			         "%.64s: unknown parameter (campaign, by, from, to, agency, procedure, status, format)",
			         p->key);
			code = 400;
			goto fail;
		}
		for (struct evkeyval *o = kv.tqh_first; o != p; o = o->next.tqe_next)
			if (strcmp(o->key, p->key) == 0) {
				snprintf(err, sizeof err, "%.64s: given twice", p->key);
				code = 400;
				goto fail;
			}
	}
	q.campaign = evhttp_find_header(&kv, "campaign");
	q.from = evhttp_find_header(&kv, "from");
	q.to = evhttp_find_header(&kv, "to");
	/* the filters in NFC, as the API stores a trigger's agency and procedure */
	q.agency = nfc_agency = nfc_dup(evhttp_find_header(&kv, "agency"));
	q.procedure = nfc_procedure = nfc_dup(evhttp_find_header(&kv, "procedure"));
	q.status = evhttp_find_header(&kv, "status");
	q.agencies = all ? NULL : agencies;
	q.nagencies = all ? -1 : nagencies;
	by = evhttp_find_header(&kv, "by");
	format = evhttp_find_header(&kv, "format");
	code = 400;
	if (!q.campaign || !q.campaign[0]) {
		snprintf(err, sizeof err, "campaign: required (?campaign=ID)");
		goto fail;
	}
	if (by && by[0] && report_parse_by(by, &q, err, sizeof err) < 0)
		goto fail;
	if ((q.from && report_check_date(q.from) < 0) || (q.to && report_check_date(q.to) < 0)) {
		snprintf(err, sizeof err, "from/to: YYYY-MM-DD, a real day");
		goto fail;
	}
	if (q.from && q.to && strcmp(q.from, q.to) > 0) { /* (both YYYY-MM-DD: compared as text) */
		snprintf(err, sizeof err, "from: %s is after to %s", q.from, q.to);
		goto fail;
	}
	if (q.status && report_check_status(q.status) < 0) {
		snprintf(err, sizeof err,
		         "status: unknown '%.64s' (completed, expired, abandoned, opted_out, failed, suppressed or cancelled)",
		         q.status);
		goto fail;
	}
	if (format && strcmp(format, html ? "html" : "json") != 0) {
		snprintf(err, sizeof err, "format: %s here", html ? "html" : "json");
		goto fail;
	}
	if (q.agency && !all) {
		int ok = 0;

		for (int i = 0; i < nagencies; i++)
			ok |= strcmp(agencies[i], q.agency) == 0;
		if (!ok) {
			snprintf(err, sizeof err, "agency: this token may not see '%.64s'", q.agency);
			code = 403;
			goto fail;
		}
	}
	code = 503;
	if (!(db = report_db_open(db_path, err, sizeof err)))
		goto fail;
	if ((rc = report_run(db, &q, &doc, err, sizeof err)) < 0) {
		code = rc == -ENOENT ? 404 : rc == -EINVAL ? 400 : 503;
		goto fail;
	}
	if (!(out = open_memstream(&buf, &blen))) {
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	rc = html ? report_write_html(doc, out, DASHBOARD_REFRESH_S) : report_write(doc, REPORT_FMT_JSON, out);
	if (fclose(out) != 0 || rc < 0) {
		free(buf);
		snprintf(err, sizeof err, "cannot render the report");
		goto fail;
	}
	json_decref(doc);
	report_db_close(db);
	evhttp_clear_headers(&kv);
	free(nfc_agency);
	free(nfc_procedure);
	*body = buf;
	*len = blen;
	*ctype = html ? "text/html; charset=utf-8" : "application/json";
	return 200;
fail:
	json_decref(doc);
	report_db_close(db);
	evhttp_clear_headers(&kv);
	*body = error_body(html, err, len, ctype);
	free(nfc_agency);
	free(nfc_procedure);
	return code;
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	ssize_t w;

	j->code = dashboard_render(j->d->cfg->sqlite_path, j->query, j->agencies, j->nagencies, j->html,
	                           &j->body, &j->len, &j->ctype);
	do
		w = write(j->d->fds[1], &j, sizeof j); /* a pointer: one atomic pipe write */
	while (w < 0 && errno == EINTR);
	return NULL;
}

static void job_free(struct job *j)
{
	free(j->query);
	free(j->body);
	free(j);
}

static void unlink_job(struct dashboard *d, struct job *j)
{
	for (struct job **p = &d->jobs; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			d->njobs--;
			return;
		}
	}
}

static const char *reason(int code)
{
	return code == 200 ? "OK" : code == 400 ? "Bad Request" : code == 401 ? "Unauthorized"
	       : code == 403 ? "Forbidden" : code == 404 ? "Not Found" : code == 405 ? "Method Not Allowed"
	       : "Service Unavailable";
}

static void reply(struct evhttp_request *req, int code, const char *ctype, const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (b && body && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) /* (headers only: see api.c, api_send) */
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason(code), b);
	if (b)
		evbuffer_free(b);
}

static void conn_closed_cb(struct evhttp_connection *c, void *arg)
{
	struct dashboard *d = arg;

	for (struct job *j = d->jobs; j; j = j->next)
		if (j->req && evhttp_request_get_connection(j->req) == c)
			j->req = NULL; /* nobody to answer */
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dashboard *d = arg;
	struct job *j;

	(void)what;
	while (read(fd, &j, sizeof j) == (ssize_t)sizeof j) {
		pthread_join(j->th, NULL);
		unlink_job(d, j);
		if (j->code >= 500)
			log_warn("[http] report failed: code=%d %.*s", j->code, (int)(j->len < 200 ? j->len : 200),
			         j->body ? j->body : "");
		if (j->req) {
			/* a request whose connection timed out (evhttp_set_timeout) is
			 * detached from it, and still valid: answered into the void,
			 * libevent frees it then */
			struct evhttp_connection *c = evhttp_request_get_connection(j->req);
			if (c)
				evhttp_connection_set_closecb(c, NULL, NULL);
			reply(j->req, j->code, j->ctype, j->body, j->len);
		}
		job_free(j);
	}
}

void dashboard_serve(struct dashboard *d, struct evhttp_request *req, int token, int html)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	struct job *j;
	size_t len;
	const char *ctype;
	char *body;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		body = error_body(html, "use GET", &len, &ctype);
		reply(req, 405, ctype, body, len);
		free(body);
		return;
	}
	if (token < 0 && query) { /* RFC 6750 2.3: a browser on /dashboard cannot send a header */
		struct evkeyvalq kv;
		const char *t;

		TAILQ_INIT(&kv);
		if (evhttp_parse_query_str(query, &kv) == 0 && (t = evhttp_find_header(&kv, "access_token")))
			token = config_token_find(d->cfg, t);
		evhttp_clear_headers(&kv);
	}
	if (token < 0) {
		body = error_body(html, "missing or unknown bearer token", &len, &ctype);
		reply(req, 401, ctype, body, len);
		free(body);
		return;
	}
	if (d->njobs >= DASHBOARD_MAX_JOBS || !(j = calloc(1, sizeof *j))) {
		body = error_body(html, "busy: try again", &len, &ctype);
		reply(req, 503, ctype, body, len);
		free(body);
		return;
	}
	j->d = d;
	j->req = req;
	j->html = html;
	j->nagencies = d->cfg->tokens[token].nagencies;
	for (int i = 0; i < j->nagencies && i < REPORT_MAX_AGENCIES; i++)
		j->agencies[i] = d->cfg->tokens[token].agencies[i];
	if (j->nagencies > REPORT_MAX_AGENCIES)
		j->nagencies = REPORT_MAX_AGENCIES;
	if (!(j->query = strdup(query ? query : "")) || pthread_create(&j->th, NULL, job_main, j) != 0) {
		job_free(j);
		body = error_body(html, "cannot start the report", &len, &ctype);
		reply(req, 503, ctype, body, len);
		free(body);
		return;
	}
	j->next = d->jobs;
	d->jobs = j;
	d->njobs++;
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	if (c)
		evhttp_connection_set_closecb(c, conn_closed_cb, d);
}

struct dashboard *dashboard_new(struct event_base *base, const struct config *cfg, char *err,
                                size_t errlen)
{
	struct dashboard *d = calloc(1, sizeof *d);

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->base = base;
	d->cfg = cfg;
	d->fds[0] = d->fds[1] = -1;
	if (pipe(d->fds) < 0 || fcntl(d->fds[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(d->fds[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(d->fds[1], F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "dashboard: pipe: %s", strerror(errno));
		goto fail;
	}
	if (!(d->ev = event_new(base, d->fds[0], EV_READ | EV_PERSIST, done_cb, d)) || event_add(d->ev, NULL) < 0) {
		snprintf(err, errlen, "dashboard: cannot watch its pipe");
		goto fail;
	}
	return d;
fail:
	dashboard_free(d);
	return NULL;
}

void dashboard_free(struct dashboard *d)
{
	struct job *j;

	if (!d)
		return;
	while ((j = d->jobs)) {
		pthread_join(j->th, NULL);
		d->jobs = j->next;
		struct evhttp_connection *c = j->req ? evhttp_request_get_connection(j->req) : NULL;
		if (c)
			evhttp_connection_set_closecb(c, NULL, NULL);
		job_free(j);
	}
	if (d->ev)
		event_free(d->ev);
	if (d->fds[0] >= 0) {
		struct job *x;

		while (read(d->fds[0], &x, sizeof x) > 0) /* pointers of jobs freed above */
			;
		close(d->fds[0]);
	}
	if (d->fds[1] >= 0)
		close(d->fds[1]);
	free(d);
}
