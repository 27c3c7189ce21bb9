/* httpc: blocking HTTP/1.0 over one TCP connection, with poll() deadlines; enough for a control API. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "simargs.h"

#define HTTPC_MAX (8u << 20)

int httpc_parse_url(const char *url, char *host, size_t hostcap, int *port)
{
	if (strncmp(url, "http://", 7) == 0)
		url += 7;
	char tmp[256];
	size_t n = strcspn(url, "/");
	if (n == 0 || n >= sizeof tmp)
		return -EINVAL;
	memcpy(tmp, url, n);
	tmp[n] = '\0';
	return simargs_hostport(tmp, host, hostcap, port);
}

static long ms_left(const struct timespec *end)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

static int wait_fd(int fd, short ev, const struct timespec *end)
{
	struct pollfd p = {fd, ev, 0};
	long left = ms_left(end);
	if (left <= 0)
		return -ETIMEDOUT;
	int rc = poll(&p, 1, (int)left);
	if (rc == 0)
		return -ETIMEDOUT;
	return rc < 0 ? -errno : 0;
}

int httpc_request(const char *host, int port, const char *method, const char *path,
                  const char *body, char **resp, int timeout_ms)
{
	*resp = NULL;
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	char ps[8];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -e;
	}
	freeaddrinfo(ai);
	size_t blen = body ? strlen(body) : 0;
	char head[1024];
	int hl = snprintf(head, sizeof head,
	                  "%s %s HTTP/1.0\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
	                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                  method, path, host, port, blen);
	int rc = -EIO;
	char *buf = NULL;
	if (hl < 0 || (size_t)hl >= sizeof head)
		goto out;
	const char *parts[2] = {head, body};
	size_t lens[2] = {(size_t)hl, blen};
	for (int i = 0; i < 2; i++) {
		size_t off = 0;
		while (off < lens[i]) {
			if ((rc = wait_fd(fd, POLLOUT, &end)) < 0)
				goto out;
			ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
			if (w < 0 && errno != EINTR) {
				rc = -errno;
				goto out;
			}
			off += w > 0 ? (size_t)w : 0;
		}
	}
	size_t cap = 4096, len = 0;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		if ((rc = wait_fd(fd, POLLIN, &end)) < 0)
			goto out;
		if (len == cap) {
			if (cap >= HTTPC_MAX) {
				rc = -EMSGSIZE;
				goto out;
			}
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + len, cap - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	int status = 0;
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
		rc = -EPROTO;
		goto out;
	}
	char *sep = strstr(buf, "\r\n\r\n");
	const char *b = sep ? sep + 4 : "";
	*resp = strdup(b);
	rc = *resp ? status : -ENOMEM;
out:
	free(buf);
	close(fd);
	return rc;
}
