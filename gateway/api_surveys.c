/* api_surveys: the operator's look at surveys (see api_surveys.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_surveys.h"

static int api_surveys_err(json_t **body, int code, const char *field, const char *msg)
{
	*body = json_pack("{s:s}", "error", msg);
	if (field)
		json_object_set_new(*body, "field", json_string(field));
	return code;
}

static int api_allowed(const struct config_token *t, json_t *o)
{
	const char *ag = json_string_value(json_object_get(o, "agency"));
	return config_token_permits(t, ag ? ag : "");
}

/* A look-up or a cancel on its way to Redis: what the answer needs. */
struct api_surveys_job {
	struct gw *g;
	struct config_token token;  /* a copy: a reload may move the config's tokens while Redis answers */
	char id[64];                /* GET /v1/surveys/{id}, a cancel */
	api_surveys_reply_fn reply;
	void *ctx;
};

static void api_surveys_end(struct api_surveys_job *j, int code, json_t *body)
{
	j->reply(j->ctx, code, body);
	free(j);
}

/* An error answer, ended now. */
static void api_surveys_fail(struct api_surveys_job *j, int code, const char *field, const char *msg)
{
	json_t *body = NULL;
	api_surveys_err(&body, code, field, msg);
	api_surveys_end(j, code, body);
}

static void api_surveys_found(void *arg, int rc, json_t *arr)
{
	struct api_surveys_job *j = arg;
	if (rc < 0) {
		api_surveys_fail(j, 503, NULL, "the surveys cannot be read now; try again");
		return;
	}
	size_t found = json_array_size(arr);
	json_t *mine = json_array();
	for (size_t i = 0; i < found; i++)
		if (api_allowed(&j->token, json_array_get(arr, i)))
			json_array_append(mine, json_array_get(arr, i));
	json_decref(arr);
	if (found == 0)
		api_surveys_fail(j, 404, "transaction_id", "no survey with this transaction id");
	else if (json_array_size(mine) == 0)
		api_surveys_fail(j, 403, "transaction_id", "this token may not see these surveys");
	else
		api_surveys_end(j, 200, json_pack("{s:O}", "surveys", mine));
	json_decref(mine);
}

static void api_surveys_query(struct api_surveys_job *j, const char *query)
{
	struct evkeyvalq q;
	memset(&q, 0, sizeof q); /* evhttp_parse_query_str initialises it */
	if (!query || evhttp_parse_query_str(query, &q) < 0) {
		evhttp_clear_headers(&q);
		api_surveys_fail(j, 400, "transaction_id", "transaction_id is required");
		return;
	}
	const char *tx = NULL, *camp = NULL, *bad = NULL, *twice = NULL;
	for (struct evkeyval *kv = q.tqh_first; kv && !bad && !twice; kv = kv->next.tqe_next) {
		const char **slot = strcmp(kv->key, "transaction_id") == 0 ? &tx
		                    : strcmp(kv->key, "campaign") == 0     ? &camp
		                                                           : NULL;
		if (!slot)
			bad = kv->key;
		else if (*slot)
			twice = kv->key;
		else
			*slot = kv->value;
	}
	if (bad)
		api_surveys_fail(j, 400, bad, "unknown parameter (transaction_id, campaign)");
	else if (twice) /* which one was meant cannot be known */
		api_surveys_fail(j, 400, twice, "given twice");
	else if (!tx || !*tx)
		api_surveys_fail(j, 400, "transaction_id", "transaction_id is required");
	else
		gw_survey_find(j->g, tx, camp && *camp ? camp : NULL, api_surveys_found, j); /* (copies them) */
	evhttp_clear_headers(&q);
}

static void api_surveys_got(void *arg, int rc, json_t *o)
{
	struct api_surveys_job *j = arg;
	if (rc == -ENOENT)
		api_surveys_fail(j, 404, NULL, "no such survey");
	else if (rc < 0)
		api_surveys_fail(j, 503, NULL, "the survey cannot be read now; try again");
	else if (!api_allowed(&j->token, o)) {
		json_decref(o);
		api_surveys_fail(j, 403, NULL, "this token may not see this survey");
	} else {
		api_surveys_end(j, 200, o);
	}
}

static void api_surveys_cancelled(void *arg, int rc)
{
	struct api_surveys_job *j = arg;
	const char *by = j->token.name;
	if (rc == -ENOENT) /* it finished between the look and the cancel */
		api_surveys_fail(j, 409, NULL, "the survey has just finished: nothing to cancel");
	else if (rc < 0)
		api_surveys_fail(j, 503, NULL, "the survey cannot be cancelled now; try again");
	else
		api_surveys_end(j, 200, json_pack("{s:s,s:s,s:s}", "survey_id", j->id, "status", "cancelled",
		                                  "cancelled_by", by));
}

/* POST /v1/surveys/{id}/cancel, once the survey was looked at. A survey
 * outside the token's agencies is answered as an unknown one (404): a
 * token learns nothing of others'. */
static void api_surveys_cancel_got(void *arg, int rc, json_t *o)
{
	struct api_surveys_job *j = arg;
	if (rc == -ENOENT || (rc == 0 && !api_allowed(&j->token, o))) {
		json_decref(o);
		api_surveys_fail(j, 404, NULL, "no such survey");
		return;
	}
	if (rc < 0) {
		api_surveys_fail(j, 503, NULL, "the survey cannot be read now; try again");
		return;
	}
	if (!json_is_true(json_object_get(o, "running"))) {
		const char *st = json_string_value(json_object_get(o, "status"));
		char msg[160];
		snprintf(msg, sizeof msg, "the survey has already finished (status %s): nothing to cancel",
		         st ? st : "unknown");
		json_t *body = NULL;
		api_surveys_err(&body, 409, NULL, msg);
		json_object_set_new(body, "status", json_string(st ? st : "unknown"));
		json_decref(o); /* st pointed into it */
		api_surveys_end(j, 409, body);
		return;
	}
	json_decref(o);
	gw_survey_cancel(j->g, j->id, j->token.name, api_surveys_cancelled, j);
}

void api_surveys(const struct config *cfg, struct gw *g, int token, int is_get, const char *path, const char *query,
                 api_surveys_reply_fn reply, void *ctx)
{
	struct api_surveys_job *j = calloc(1, sizeof *j);
	if (!j) {
		json_t *body = NULL;
		reply(ctx, api_surveys_err(&body, 503, NULL, "out of memory; retry"), body);
		return;
	}
	j->g = g;
	j->reply = reply;
	j->ctx = ctx;
	if (token < 0 || token >= cfg->ntokens) {
		api_surveys_fail(j, 401, NULL, "a valid bearer token is required");
		return;
	}
	j->token = cfg->tokens[token];
	const char *rest = path + strlen("/v1/surveys");
	const char *cancel = strstr(rest, "/cancel");
	if (*rest == '/' && cancel && cancel > rest + 1 && strcmp(cancel, "/cancel") == 0 &&
	    !memchr(rest + 1, '/', (size_t)(cancel - rest - 1))) {
		size_t n = (size_t)(cancel - rest - 1);
		if (is_get) {
			api_surveys_fail(j, 405, NULL, "POST only");
		} else if (n >= sizeof j->id) {
			api_surveys_fail(j, 404, NULL, "no such survey");
		} else {
			memcpy(j->id, rest + 1, n);
			j->id[n] = '\0';
			gw_survey_get(g, j->id, api_surveys_cancel_got, j);
		}
		return;
	}
	if (*rest == '/' && rest[1] && !strchr(rest + 1, '/')) {
		if (!is_get)
			api_surveys_fail(j, 405, NULL, "GET only");
		else if (strlen(rest + 1) >= sizeof j->id)
			api_surveys_fail(j, 404, NULL, "no such survey"); /* (no id is that long) */
		else {
			snprintf(j->id, sizeof j->id, "%s", rest + 1);
			gw_survey_get(g, j->id, api_surveys_got, j);
		}
		return;
	}
	if (*rest == '\0') {
		if (!is_get)
			api_surveys_fail(j, 405, NULL, "GET only");
		else
			api_surveys_query(j, query);
		return;
	}
	api_surveys_fail(j, 404, NULL, "no such resource");
}
