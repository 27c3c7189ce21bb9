/* api_surveys: GET /v1/surveys/{id}, GET /v1/surveys?transaction_id=...
 * and POST /v1/surveys/{id}/cancel for the operator, scoped by the token's
 * agencies (docs/operations.md). */
#ifndef HL_API_SURVEYS_H
#define HL_API_SURVEYS_H

#include <jansson.h>

#include "config.h"
#include "gw.h"

/* The answer: reply(ctx, code, body), body owned by reply. */
typedef void (*api_surveys_reply_fn)(void *ctx, int code, json_t *body);

/* path starts with "/v1/surveys"; query is the URI's query or NULL; token
 * is config_token_find's in cfg (-1 = none; the token is copied: a reload
 * may move the config's tokens before the answer); g outlives the answer.
 * Calls reply exactly once, with the HTTP status and the body: at once when
 * nothing has to be read from Redis, else when Redis answered (the
 * asynchronous connection: the loop does not wait; path and query are
 * copied as needed). 200, 400 (bad query), 401, 403 (outside the token's
 * agencies), 404 (unknown; for a cancel also outside the token's agencies),
 * 405, 409 (cancel of a finished survey), 503 (Redis or the archive away).
 * is_get: 1 for GET, 0 for any other method. */
void api_surveys(const struct config *cfg, struct gw *g, int token, int is_get, const char *path, const char *query,
                 api_surveys_reply_fn reply, void *ctx);

#endif
