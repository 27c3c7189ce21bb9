/* httpc: a tiny blocking HTTP/1.0 client for loopback control calls (load summary, phone). */
#ifndef HL_SIM_HTTPC_H
#define HL_SIM_HTTPC_H

#include <stddef.h>

/* Split "http://host:port", "host:port" or "[::1]:port" into host and port.
 * 0 or -EINVAL. */
int httpc_parse_url(const char *url, char *host, size_t hostcap, int *port);

/* One request (body may be NULL) with a deadline of timeout_ms. Returns the
 * HTTP status and sets *resp to the malloc'd body (NUL-terminated; the caller
 * frees it), or a negative errno. Bodies are capped at 8 MiB. */
int httpc_request(const char *host, int port, const char *method, const char *path,
                  const char *body, char **resp, int timeout_ms);

#endif
