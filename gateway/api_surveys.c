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

static int api_allowed(const struct config *cfg, int token, json_t *o)
{
	const char *ag = json_string_value(json_object_get(o, "agency"));
	return config_token_allows(cfg, token, ag ? ag : "");
}

static int api_surveys_query(const struct config *cfg, struct gw *g, int token, const char *query, json_t **body)
{
	struct evkeyvalq q;
	memset(&q, 0, sizeof q); /* evhttp_parse_query_str initialises it */
	if (!query || evhttp_parse_query_str(query, &q) < 0) {
		evhttp_clear_headers(&q);
		return api_surveys_err(body, 400, "transaction_id", "transaction_id is required");
	}
	const char *tx = NULL, *camp = NULL;
	int code = 0;
	for (struct evkeyval *kv = q.tqh_first; kv && !code; kv = kv->next.tqe_next) {
		if (strcmp(kv->key, "transaction_id") == 0)
			tx = kv->value;
		else if (strcmp(kv->key, "campaign") == 0)
			camp = kv->value;
		else
			code = api_surveys_err(body, 400, kv->key, "unknown parameter (transaction_id, campaign)");
	}
	if (!code && (!tx || !*tx))
		code = api_surveys_err(body, 400, "transaction_id", "transaction_id is required");
	json_t *arr = NULL;
	if (!code && gw_survey_find(g, tx, camp && *camp ? camp : NULL, &arr) < 0)
		code = api_surveys_err(body, 503, NULL, "the surveys cannot be read now; try again");
	if (!code) {
		size_t found = json_array_size(arr);
		json_t *mine = json_array();
		for (size_t i = 0; i < found; i++)
			if (api_allowed(cfg, token, json_array_get(arr, i)))
				json_array_append(mine, json_array_get(arr, i));
		if (found == 0)
			code = api_surveys_err(body, 404, "transaction_id", "no survey with this transaction id");
		else if (json_array_size(mine) == 0)
			code = api_surveys_err(body, 403, "transaction_id", "this token may not see these surveys");
		else {
			*body = json_pack("{s:O}", "surveys", mine);
			code = 200;
		}
		json_decref(mine);
	}
	json_decref(arr);
	evhttp_clear_headers(&q);
	return code;
}

/* POST /v1/surveys/{id}/cancel. A survey outside the token's agencies is
 * answered as an unknown one (404): a token learns nothing of others'. */
static int api_surveys_cancel(const struct config *cfg, struct gw *g, int token, const char *id, json_t **body)
{
	json_t *o = NULL;
	int rc = gw_survey_get(g, id, &o);
	if (rc == -ENOENT || (rc == 0 && !api_allowed(cfg, token, o))) {
		json_decref(o);
		return api_surveys_err(body, 404, NULL, "no such survey");
	}
	if (rc < 0)
		return api_surveys_err(body, 503, NULL, "the survey cannot be read now; try again");
	if (!json_is_true(json_object_get(o, "running"))) {
		const char *st = json_string_value(json_object_get(o, "status"));
		char msg[160];
		snprintf(msg, sizeof msg, "the survey has already finished (status %s): nothing to cancel",
		         st ? st : "unknown");
		api_surveys_err(body, 409, NULL, msg);
		json_object_set_new(*body, "status", json_string(st ? st : "unknown"));
		json_decref(o); /* st pointed into it */
		return 409;
	}
	json_decref(o);
	const char *by = cfg->tokens[token].name;
	rc = gw_survey_cancel(g, id, by);
	if (rc == -ENOENT) /* it finished between the look and the cancel */
		return api_surveys_err(body, 409, NULL, "the survey has just finished: nothing to cancel");
	if (rc < 0)
		return api_surveys_err(body, 503, NULL, "the survey cannot be cancelled now; try again");
	*body = json_pack("{s:s,s:s,s:s}", "survey_id", id, "status", "cancelled", "cancelled_by", by);
	return 200;
}

int api_surveys(const struct config *cfg, struct gw *g, int token, int is_get, const char *path, const char *query,
                json_t **body)
{
	*body = NULL;
	if (token < 0)
		return api_surveys_err(body, 401, NULL, "a valid bearer token is required");
	const char *rest = path + strlen("/v1/surveys");
	const char *cancel = strstr(rest, "/cancel");
	if (*rest == '/' && cancel && cancel > rest + 1 && strcmp(cancel, "/cancel") == 0 &&
	    !memchr(rest + 1, '/', (size_t)(cancel - rest - 1))) {
		if (is_get)
			return api_surveys_err(body, 405, NULL, "POST only");
		char id[64];
		size_t n = (size_t)(cancel - rest - 1);
		if (n >= sizeof id)
			return api_surveys_err(body, 404, NULL, "no such survey");
		memcpy(id, rest + 1, n);
		id[n] = '\0';
		return api_surveys_cancel(cfg, g, token, id, body);
	}
	if (*rest == '/' && rest[1] && !strchr(rest + 1, '/')) {
		if (!is_get)
			return api_surveys_err(body, 405, NULL, "GET only");
		json_t *o = NULL;
		int rc = gw_survey_get(g, rest + 1, &o);
		if (rc == -ENOENT)
			return api_surveys_err(body, 404, NULL, "no such survey");
		if (rc < 0)
			return api_surveys_err(body, 503, NULL, "the survey cannot be read now; try again");
		if (!api_allowed(cfg, token, o)) {
			json_decref(o);
			return api_surveys_err(body, 403, NULL, "this token may not see this survey");
		}
		*body = o;
		return 200;
	}
	if (*rest == '\0') {
		if (!is_get)
			return api_surveys_err(body, 405, NULL, "GET only");
		return api_surveys_query(cfg, g, token, query, body);
	}
	return api_surveys_err(body, 404, NULL, "no such resource");
}
