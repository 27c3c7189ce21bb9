/* api: the HTTP API (SPEC §6) on libevent's evhttp. */
#ifndef HL_API_H
#define HL_API_H

#include <stddef.h>

#include <event2/event.h>

#include "config.h"
#include "gw.h"

struct api;

/* Listens on cfg->http_listen ("host:port"). NULL with err filled. */
struct api *api_new(struct event_base *base, const struct config *cfg, struct gw *g, char *err,
                    size_t errlen);
void api_free(struct api *a);
/* Shutting down: POST /v1/triggers answers 503 with Retry-After:
 * retry_after_s, /readyz 503 "draining"; the rest still answers. */
void api_drain(struct api *a, int retry_after_s);

#endif
