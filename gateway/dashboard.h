/* dashboard: GET /v1/report (the report's JSON) and GET /dashboard (HTML that refreshes itself) in hailongd. */
#ifndef HL_DASHBOARD_H
#define HL_DASHBOARD_H

#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

#include "config.h"

#define DASHBOARD_REFRESH_S 10   /* the page reloads itself this often */
#define DASHBOARD_MAX_JOBS 4     /* reports computed at once; more get 503 */

struct dashboard;

/* Reports are read from cfg->sqlite_path through read connections of their
 * own, on worker threads, so neither the event loop nor the archive writer
 * waits for them (WAL). NULL with err filled. */
struct dashboard *dashboard_new(struct event_base *base, const struct config *cfg, char *err,
                                size_t errlen);
/* Waits for the reports being computed, then frees. */
void dashboard_free(struct dashboard *d);

/* Serve req (path "/v1/report" or "/dashboard") for API token `token` (an
 * index into cfg->tokens, or -1 when the bearer token was missing or wrong;
 * the query's access_token is tried then). The reply is sent later, from the
 * event loop. */
void dashboard_serve(struct dashboard *d, struct evhttp_request *req, int token, int html);

/* The pure part, for tests: the report of query string `query` (e.g.
 * "campaign=x&by=agency") as a token with those agencies sees it.
 * agencies NULL (or a "*" entry) = all. Returns the HTTP status and sets
 * *body (owned by the caller) and *ctype. */
int dashboard_render(const char *db_path, const char *query, const char *const *agencies, int nagencies,
                     int html, char **body, size_t *len, const char **ctype);

#endif
