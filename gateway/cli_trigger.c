/* cli_trigger: reads a CSV of triggers and posts them to POST /v1/triggers in batches (evhttp client). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "cli_trigger.h"

#define CLI_COLS 7
#define CLI_MAX_LINE 8192
#define CLI_DEFAULT_BATCH 100
#define CLI_MAX_BATCH 1000 /* the API's limit */

static const char *const cli_cols[CLI_COLS] = {"campaign", "msisdn", "transaction_id", "agency", "procedure",
                                               "completed_at", "audit_of"};
static const int cli_required[CLI_COLS] = {1, 1, 1, 1, 0, 0, 0};

int cli_csv_split(const char *line, char **fields, int max)
{
	int n = 0;
	const char *p = line;
	size_t cap = strlen(line) + 1;
	for (;;) {
		if (n == max)
			goto toobig;
		char *f = malloc(cap);
		if (!f)
			goto nomem;
		size_t k = 0;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0') {
					free(f);
					goto bad;
				}
				if (*p == '"' && p[1] == '"') {
					f[k++] = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					f[k++] = *p++;
				}
			}
			if (*p && *p != ',') {
				free(f);
				goto bad;
			}
		} else {
			while (*p && *p != ',')
				f[k++] = *p++;
		}
		f[k] = '\0';
		fields[n++] = f;
		if (*p != ',')
			break;
		p++;
	}
	return n;
toobig:
	for (int i = 0; i < n; i++)
		free(fields[i]);
	return -E2BIG;
nomem:
	for (int i = 0; i < n; i++)
		free(fields[i]);
	return -ENOMEM;
bad:
	for (int i = 0; i < n; i++)
		free(fields[i]);
	return -EINVAL;
}

/* One row of the file, as sent. */
struct cli_row {
	int line;       /* line number in the file */
	char *txid;     /* for the report */
	json_t *item;   /* the trigger object; NULL when refused locally */
	char *local;    /* why it was refused before sending */
};

/* The answer of one HTTP request. */
struct cli_http {
	struct event_base *base;
	int code;       /* 0 = no answer */
	char *body;
};

static void cli_http_done(struct evhttp_request *req, void *arg)
{
	struct cli_http *h = arg;
	if (req) {
		h->code = evhttp_request_get_response_code(req);
		struct evbuffer *b = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(b);
		h->body = malloc(n + 1);
		if (h->body) {
			evbuffer_remove(b, h->body, n);
			h->body[n] = '\0';
		}
	}
	event_base_loopexit(h->base, NULL);
}

/* POST body to url; fills code (0 when unreachable) and body. */
static void cli_post(const char *host, int port, const char *path, const char *token, const char *body,
                     struct cli_http *h)
{
	memset(h, 0, sizeof *h);
	h->base = event_base_new();
	if (!h->base)
		return;
	struct evhttp_connection *conn = evhttp_connection_base_new(h->base, NULL, host, (ev_uint16_t)port);
	struct evhttp_request *req = conn ? evhttp_request_new(cli_http_done, h) : NULL;
	if (req) {
		char auth[600], hostport[300];
		evhttp_connection_set_timeout(conn, 60);
		snprintf(auth, sizeof auth, "Bearer %s", token);
		snprintf(hostport, sizeof hostport, "%s:%d", host, port);
		struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
		evhttp_add_header(hd, "Host", hostport);
		evhttp_add_header(hd, "Authorization", auth);
		evhttp_add_header(hd, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
		if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, path) == 0)
			event_base_dispatch(h->base);
	}
	if (conn)
		evhttp_connection_free(conn);
	event_base_free(h->base);
	h->base = NULL;
}

struct cli_tally {
	int accepted, duplicate, refused;
};

static void cli_report(FILE *out, const struct cli_row *r, int code, json_t *res, const char *why,
                       struct cli_tally *t)
{
	const char *sid = json_string_value(json_object_get(res, "survey_id"));
	const char *err = json_string_value(json_object_get(res, "error"));
	if (code == 202 && sid) {
		t->accepted++;
		fprintf(out, "line %d tx=%s: accepted survey=%s\n", r->line, r->txid, sid);
	} else if (code == 200 && sid) {
		t->duplicate++;
		fprintf(out, "line %d tx=%s: duplicate survey=%s\n", r->line, r->txid, sid);
	} else {
		t->refused++;
		fprintf(out, "line %d tx=%s: refused %d %s\n", r->line, r->txid, code,
		        why ? why : err ? err : "unexpected answer");
	}
}

/* Send rows[0..n) (those with an item) as one batch and report them. */
static void cli_batch(const char *host, int port, const char *path, const char *token, struct cli_row *rows,
                      int n, FILE *out, struct cli_tally *t)
{
	json_t *arr = json_array();
	int *map = calloc((size_t)n, sizeof *map);
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (rows[i].local) {
			t->refused++;
			fprintf(out, "line %d tx=%s: refused %s\n", rows[i].line, rows[i].txid, rows[i].local);
			continue;
		}
		json_array_append(arr, rows[i].item);
		map[m++] = i;
	}
	if (m > 0 && map) {
		char *body = json_dumps(arr, JSON_COMPACT);
		struct cli_http h;
		cli_post(host, port, path, token, body ? body : "[]", &h);
		free(body);
		json_error_t je;
		json_t *ans = h.code == 200 && h.body ? json_loads(h.body, 0, &je) : NULL;
		json_t *results = json_object_get(ans, "results");
		char why[300];
		if (h.code == 0)
			snprintf(why, sizeof why, "cannot reach http://%s:%d%s", host, port, path);
		else if (!json_is_array(results)) {
			json_t *e = h.body ? json_loads(h.body, 0, &je) : NULL;
			const char *msg = json_string_value(json_object_get(e, "error"));
			snprintf(why, sizeof why, "HTTP %d: %s", h.code, msg ? msg : "unexpected answer");
			json_decref(e);
		}
		for (int k = 0; k < m; k++) {
			json_t *res = NULL;
			for (size_t j = 0; json_is_array(results) && j < json_array_size(results) && !res; j++) {
				json_t *x = json_array_get(results, j);
				if (json_integer_value(json_object_get(x, "index")) == k)
					res = x;
			}
			int code = (int)json_integer_value(json_object_get(res, "code"));
			cli_report(out, &rows[map[k]], code, res, json_is_array(results) ? (res ? NULL : "no result")
			                                                                    : why, t);
		}
		json_decref(ans);
		free(h.body);
	}
	free(map);
	json_decref(arr);
}

static void cli_usage(FILE *f)
{
	fprintf(f, "usage: hailong trigger --csv FILE --url http://HOST:PORT --token TOKEN [--batch N]\n"
	           "  FILE has a header row naming its columns: campaign,msisdn,transaction_id,agency\n"
	           "  and optionally procedure,completed_at,audit_of (an empty cell = absent).\n"
	           "  The token may also come from the environment variable HAILONG_TOKEN.\n");
}

static void cli_rows_free(struct cli_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		free(rows[i].txid);
		free(rows[i].local);
		json_decref(rows[i].item);
	}
}

int cli_trigger_run(int argc, char **argv, FILE *out, FILE *err)
{
	const char *csv = NULL, *url = NULL, *token = getenv("HAILONG_TOKEN");
	long batch = CLI_DEFAULT_BATCH;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
			csv = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
			token = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			char *end;
			batch = strtol(argv[++i], &end, 10);
			if (*end || batch < 1 || batch > CLI_MAX_BATCH) {
				fprintf(err, "hailong trigger: --batch: 1 to %d\n", CLI_MAX_BATCH);
				return 2;
			}
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_usage(out);
			return 0;
		} else {
			fprintf(err, "hailong trigger: unknown argument '%s'\n", argv[i]);
			cli_usage(err);
			return 2;
		}
	}
	if (!csv || !url || !token || !*token) {
		cli_usage(err);
		return 2;
	}
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	if (!u || !scheme || strcmp(scheme, "http") != 0 || !host) {
		fprintf(err, "hailong trigger: --url: expected http://HOST:PORT (https is not built in), got '%s'\n", url);
		if (u)
			evhttp_uri_free(u);
		return 2;
	}
	int port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
	const char *up = evhttp_uri_get_path(u);
	char path[512];
	snprintf(path, sizeof path, "%s", up && *up && strcmp(up, "/") != 0 ? up : "/v1/triggers");
	char hostbuf[256];
	snprintf(hostbuf, sizeof hostbuf, "%s", host);
	evhttp_uri_free(u);

	FILE *f = fopen(csv, "r");
	if (!f) {
		fprintf(err, "hailong trigger: %s: %s\n", csv, strerror(errno));
		return 1;
	}
	char *line = malloc(CLI_MAX_LINE);
	struct cli_row *rows = calloc((size_t)batch, sizeof *rows);
	int colmap[16], ncols = 0, lineno = 0, nrows = 0, rc = 1;
	struct cli_tally t = {0, 0, 0};
	if (!line || !rows)
		goto done;
	while (fgets(line, CLI_MAX_LINE, f)) {
		lineno++;
		size_t l = strlen(line);
		if (l == CLI_MAX_LINE - 1 && line[l - 1] != '\n') {
			if (ncols == 0) {
				fprintf(err, "%s:%d: line longer than %d bytes\n", csv, lineno, CLI_MAX_LINE - 2);
				goto done;
			}
			/* a row: refused and reported like any bad row, the rows around it go on */
			int ch;
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
			struct cli_row *r = &rows[nrows++];
			r->line = lineno;
			r->txid = strdup("?");
			char why[64];
			snprintf(why, sizeof why, "line longer than %d bytes", CLI_MAX_LINE - 2);
			r->local = strdup(why);
			if (nrows == batch) {
				cli_batch(hostbuf, port, path, token, rows, nrows, out, &t);
				cli_rows_free(rows, nrows);
				memset(rows, 0, sizeof *rows * (size_t)batch);
				nrows = 0;
			}
			continue;
		}
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (lineno == 1 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
		    (unsigned char)line[2] == 0xBF)
			memmove(line, line + 3, l - 2); /* a UTF-8 BOM from a spreadsheet */
		if (line[0] == '\0')
			continue;
		char *fields[16];
		int n = cli_csv_split(line, fields, 16);
		if (ncols == 0) { /* the header */
			if (n < 0) {
				fprintf(err, "%s:%d: header: not CSV\n", csv, lineno);
				goto done;
			}
			int seen[CLI_COLS] = {0}, bad = 0;
			for (int i = 0; i < n; i++) {
				colmap[i] = -1;
				for (int k = 0; k < CLI_COLS; k++)
					if (strcmp(fields[i], cli_cols[k]) == 0)
						colmap[i] = k;
				if (colmap[i] < 0 || seen[colmap[i]]++) {
					fprintf(err, "%s:%d: header: %s column '%s'\n", csv, lineno,
					        colmap[i] < 0 ? "unknown" : "repeated", fields[i]);
					bad = 1;
				}
			}
			for (int k = 0; k < CLI_COLS; k++)
				if (cli_required[k] && !seen[k]) {
					fprintf(err, "%s:%d: header: column '%s' is missing\n", csv, lineno, cli_cols[k]);
					bad = 1;
				}
			for (int i = 0; i < n; i++)
				free(fields[i]);
			if (bad)
				goto done;
			ncols = n;
			continue;
		}
		struct cli_row *r = &rows[nrows++];
		r->line = lineno;
		if (n != ncols) {
			r->txid = strdup("?");
			char why[96];
			snprintf(why, sizeof why, n < 0 ? "not CSV (a quote is not closed)" : "%d cells, the header has %d",
			         n, ncols);
			r->local = strdup(why);
		} else {
			r->item = json_object();
			for (int i = 0; i < n; i++) {
				if (colmap[i] == 2)
					r->txid = strdup(fields[i]);
				json_t *v = fields[i][0] ? json_string(fields[i]) : NULL;
				if (v) {
					json_object_set_new(r->item, cli_cols[colmap[i]], v);
				} else if (fields[i][0] && !r->local) {
					/* (json_string takes UTF-8 only): the cell would be left out, silently */
					char why[160];
					snprintf(why, sizeof why,
					         "column '%s': not UTF-8 text (save the file as \"CSV UTF-8\")", cli_cols[colmap[i]]);
					r->local = strdup(why);
				}
			}
			if (!r->txid)
				r->txid = strdup("?");
		}
		for (int i = 0; i < n; i++)
			free(fields[i]);
		if (nrows == batch) {
			cli_batch(hostbuf, port, path, token, rows, nrows, out, &t);
			cli_rows_free(rows, nrows);
			memset(rows, 0, sizeof *rows * (size_t)batch);
			nrows = 0;
		}
	}
	if (ncols == 0) {
		fprintf(err, "%s: empty file (a header row is required)\n", csv);
		goto done;
	}
	if (nrows)
		cli_batch(hostbuf, port, path, token, rows, nrows, out, &t);
	fprintf(out, "summary: rows=%d accepted=%d duplicate=%d refused=%d\n", t.accepted + t.duplicate + t.refused,
	        t.accepted, t.duplicate, t.refused);
	rc = t.refused ? 1 : 0;
done:
	if (rows)
		cli_rows_free(rows, nrows);
	free(rows);
	free(line);
	fclose(f);
	return rc;
}

int cli_trigger_main(int argc, char **argv)
{
	return cli_trigger_run(argc, argv, stdout, stderr);
}
