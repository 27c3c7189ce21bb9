/* simargs: parses and checks hailong-sim's command line (see docs/simulator.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simargs.h"

const char *simargs_usage(void)
{
	return "usage: hailong-sim --listen HOST:PORT --system-id ID --password PW --campaign FILE\n"
	       "                   --citizens N --ledger FILE [--seed N] [--think-ms MIN-MAX]\n"
	       "                   [--invalid-share F] [--comment-share F]\n"
	       "                   [--answer-mode keys|labels|mixed] [--distribution \"5:40,4:35,...\"]\n"
	       "                   [--receipts on|off] [--control HOST:PORT] [--log-level LEVEL]\n";
}

int simargs_hostport(const char *s, char *host, size_t hostcap, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -EINVAL;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return -EINVAL;
		h = s + 1;
		hl -= 2;
	} else if (memchr(s, ':', hl)) {
		return -EINVAL; /* an IPv6 address needs brackets */
	}
	if (hl + 1 > hostcap)
		return -EINVAL;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || errno || p < 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_share(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0 || v > 1)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "MIN-MAX" or "N" milliseconds, at most one hour. */
static int parse_think(const char *s, int *min, int *max)
{
	char *end;
	errno = 0;
	long a = strtol(s, &end, 10), b = a;
	if (end == s || errno || a < 0)
		return -EINVAL;
	if (*end == '-') {
		const char *p = end + 1;
		b = strtol(p, &end, 10);
		if (end == p || errno)
			return -EINVAL;
	}
	if (*end || b < a || b > 3600000)
		return -EINVAL;
	*min = (int)a;
	*max = (int)b;
	return 0;
}

int simargs_parse(int argc, char **argv, struct simargs *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	citizens_opts_default(&out->cit);
	out->cit.count = -1;
	out->receipts = 1;
	out->log_level = "info";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -EINVAL;
		}
		/* --name=value or --name value */
		char name[32];
		const char *v;
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		if (nl >= sizeof name) {
			snprintf(err, errlen, "unknown option '%s'", a);
			return -EINVAL;
		}
		memcpy(name, a, nl);
		name[nl] = '\0';
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			snprintf(err, errlen, "%s needs a value", name);
			return -EINVAL;
		}
		long l = 0;
		int bad = 0;
		if (strcmp(name, "--listen") == 0) {
			out->listen = v;
		} else if (strcmp(name, "--system-id") == 0) {
			out->system_id = v;
			bad = strlen(v) == 0 || strlen(v) > 15;
		} else if (strcmp(name, "--password") == 0) {
			out->password = v;
			bad = strlen(v) > 8;
		} else if (strcmp(name, "--campaign") == 0) {
			out->campaign = v;
		} else if (strcmp(name, "--ledger") == 0) {
			out->ledger = v;
		} else if (strcmp(name, "--control") == 0) {
			out->control = v;
		} else if (strcmp(name, "--log-level") == 0) {
			out->log_level = v;
			bad = strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error");
		} else if (strcmp(name, "--citizens") == 0) {
			bad = parse_long(v, 0, CITIZENS_MAX, &l) < 0;
			out->cit.count = (int)l;
		} else if (strcmp(name, "--seed") == 0) {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(v, &end, 10);
			bad = end == v || *end || errno || v[0] == '-';
			out->cit.seed = (uint64_t)s;
		} else if (strcmp(name, "--think-ms") == 0) {
			bad = parse_think(v, &out->cit.think_min_ms, &out->cit.think_max_ms) < 0;
		} else if (strcmp(name, "--invalid-share") == 0) {
			bad = parse_share(v, &out->cit.invalid_share) < 0;
		} else if (strcmp(name, "--comment-share") == 0) {
			bad = parse_share(v, &out->cit.comment_share) < 0;
		} else if (strcmp(name, "--answer-mode") == 0) {
			if (strcmp(v, "keys") == 0)
				out->cit.mode = CITIZENS_KEYS;
			else if (strcmp(v, "labels") == 0)
				out->cit.mode = CITIZENS_LABELS;
			else if (strcmp(v, "mixed") == 0)
				out->cit.mode = CITIZENS_MIXED;
			else
				bad = 1;
		} else if (strcmp(name, "--distribution") == 0) {
			bad = citizens_parse_distribution(v, &out->cit) < 0;
		} else if (strcmp(name, "--receipts") == 0) {
			if (strcmp(v, "on") == 0)
				out->receipts = 1;
			else if (strcmp(v, "off") == 0)
				out->receipts = 0;
			else
				bad = 1;
		} else {
			snprintf(err, errlen, "unknown option '%s'", name);
			return -EINVAL;
		}
		if (bad) {
			snprintf(err, errlen, "bad value for %s: '%s'", name, v);
			return -EINVAL;
		}
	}
	static const char *const required[] = {"--listen", "--system-id", "--password",
	                                       "--campaign", "--ledger"};
	const char *have[] = {out->listen, out->system_id, out->password, out->campaign, out->ledger};
	for (int i = 0; i < 5; i++) {
		if (!have[i]) {
			snprintf(err, errlen, "%s is required", required[i]);
			return -EINVAL;
		}
	}
	if (out->cit.count < 0) {
		snprintf(err, errlen, "--citizens is required");
		return -EINVAL;
	}
	char host[64];
	int port;
	if (simargs_hostport(out->listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad value for --listen: '%s' (want HOST:PORT)", out->listen);
		return -EINVAL;
	}
	if (out->control && simargs_hostport(out->control, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad value for --control: '%s' (want HOST:PORT)", out->control);
		return -EINVAL;
	}
	return 0;
}
