/* embedded: starts, watches and stops hailongd's private redis-server. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "embedded.h"

struct embedded {
	pid_t pid;               /* the redis-server child */
	char dir[4096];          /* DIR/redis */
	char url[4300];          /* unix:DIR/redis/redis.sock */
};

static void embedded_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* 1 when something accepts connections on the socket. */
static int embedded_alive(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path)
		return 0;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

struct embedded *embedded_start(const char *dir, char *err, size_t errlen)
{
	struct embedded *e = calloc(1, sizeof *e);
	char sock[4200], logf[4200];
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(e->dir, sizeof e->dir, "%s/redis", dir);
	snprintf(sock, sizeof sock, "%s/redis.sock", e->dir);
	snprintf(logf, sizeof logf, "%s/redis.log", e->dir);
	snprintf(e->url, sizeof e->url, "unix:%s", sock);
	struct sockaddr_un probe;
	if (strlen(sock) >= sizeof probe.sun_path) {
		snprintf(err, errlen, "redis: embedded: socket path too long: %s", sock);
		goto fail;
	}
	if (mkdir(e->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "redis: embedded: %s: %s", e->dir, strerror(errno));
		goto fail;
	}
	if (embedded_alive(sock)) {
		snprintf(err, errlen, "redis: embedded: %s is already served (another hailongd?)", sock);
		goto fail;
	}
	unlink(sock);
	pid_t parent = getpid();
	e->pid = fork();
	if (e->pid < 0) {
		snprintf(err, errlen, "redis: embedded: fork: %s", strerror(errno));
		goto fail;
	}
	if (e->pid == 0) {
		/* the child: dies with hailongd, keeps its own process group so a
		 * Ctrl-C to hailongd's terminal reaches hailongd only */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		setpgid(0, 0);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
		}
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		       "--dir", e->dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		       "--logfile", logf, "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (embedded_alive(sock))
			return e;
		int st;
		if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
			snprintf(err, errlen, "redis: embedded: redis-server exited at start (%s; see %s)",
			         WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "not installed" : "failed", logf);
			e->pid = 0;
			goto fail;
		}
		embedded_sleep_ms(50);
	}
	snprintf(err, errlen, "redis: embedded: redis-server did not answer on %s within 10 s", sock);
	embedded_stop(e);
	return NULL;
fail:
	free(e);
	return NULL;
}

const char *embedded_url(const struct embedded *e)
{
	return e->url;
}

void embedded_stop(struct embedded *e)
{
	if (!e)
		return;
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		int st;
		for (int i = 0; i < 200; i++) {
			if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
				e->pid = 0;
				break;
			}
			embedded_sleep_ms(50);
		}
		if (e->pid > 0) {
			kill(e->pid, SIGKILL);
			waitpid(e->pid, &st, 0);
		}
	}
	free(e);
}
