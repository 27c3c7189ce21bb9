/* embedded: a private redis-server run by hailongd (redis.url: embedded). */
#ifndef HL_EMBEDDED_H
#define HL_EMBEDDED_H

#include <stddef.h>
#include <sys/types.h>

struct embedded;

/* Start redis-server in the background with its data (AOF, appendfsync
 * everysec) in DIR/redis/ and a unix socket DIR/redis/redis.sock only (no TCP
 * port), and wait until it answers (up to 10 s). The server is told to stop
 * when hailongd dies (PR_SET_PDEATHSIG), so a crash leaves nothing behind, and
 * a restart finds the same data. NULL with err filled. */
struct embedded *embedded_start(const char *dir, char *err, size_t errlen);
/* "unix:/path/to/redis.sock", for store_new. */
const char *embedded_url(const struct embedded *e);
/* SIGTERM the server (it writes its AOF) and wait for it (up to 10 s, then
 * SIGKILL). NULL is a no-op. */
void embedded_stop(struct embedded *e);

#endif
