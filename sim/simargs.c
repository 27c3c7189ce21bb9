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
	       "                   [--receipts on|off] [--control HOST:PORT] [--log-level LEVEL]\n"
	       "                   [--account ID:PW]... [--fault NAME=VALUE]...\n"
	       "                   [--receipt-outcomes \"DELIVRD:90,UNDELIV:10\"] [--receipt-delay-ms MIN-MAX]\n"
	       "                   [--receipt-form both|text|tlv] [--profile ideal|realistic|hostile]\n"
	       "                   [--time-factor F] [--think-dist uniform|exp] [--no-reply-share F]\n"
	       "                   [--late-share F] [--optout-share F] [--multi-share F]\n"
	       "                   [--typo-share F] [--ucs2-share F]\n"
	       "       hailong-sim load --api URL --token T --control HOST:PORT ... (docs/simulator.md)\n"
	       "       hailong-sim phone NUMBER [--control HOST:PORT]\n"
	       "       hailong-sim archive-gen --db FILE --campaign FILE --surveys N\n";
}

int simargs_profile(const char *name, struct citizens_opts *o)
{
	if (strcmp(name, "ideal") == 0) {
		o->mode = CITIZENS_KEYS;
		o->invalid_share = o->no_reply_share = o->late_share = o->optout_share = 0;
		o->multi_share = o->typo_share = o->ucs2_share = 0;
	} else if (strcmp(name, "realistic") == 0) {
		o->mode = CITIZENS_MIXED;
		o->think_dist = CITIZENS_THINK_EXP;
		o->invalid_share = 0.05;
		o->comment_share = 0.3;
		o->no_reply_share = 0.08;
		o->late_share = 0.05;
		o->optout_share = 0.02;
		o->multi_share = 0.05;
		o->typo_share = 0.1;
		o->ucs2_share = 0.3;
	} else if (strcmp(name, "hostile") == 0) {
		o->mode = CITIZENS_MIXED;
		o->think_dist = CITIZENS_THINK_EXP;
		o->invalid_share = 0.3;
		o->comment_share = 0.6;
		o->no_reply_share = 0.1;
		o->late_share = 0.1;
		o->optout_share = 0.1;
		o->multi_share = 0.2;
		o->typo_share = 0.3;
		o->ucs2_share = 0.5;
	} else {
		return -EINVAL;
	}
	return 0;
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
	sim_faults_default(&out->so.faults);
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
		} else if (strcmp(name, "--account") == 0) {
			const char *colon = strchr(v, ':');
			size_t il = colon ? (size_t)(colon - v) : 0;
			bad = !colon || il == 0 || il > 15 || strlen(colon + 1) > 8 ||
			      out->naccounts >= SMSC_ACCOUNTS_MAX;
			if (!bad) {
				struct smsc_account *ac = &out->accounts[out->naccounts++];
				memcpy(ac->system_id, v, il);
				ac->system_id[il] = '\0';
				snprintf(ac->password, sizeof ac->password, "%s", colon + 1);
			}
		} else if (strcmp(name, "--fault") == 0) {
			if (sim_faults_set_arg(&out->so.faults, v, err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(name, "--receipt-outcomes") == 0) {
			bad = smsc_parse_outcomes(v, &out->so) < 0;
		} else if (strcmp(name, "--receipt-delay-ms") == 0) {
			bad = parse_think(v, &out->so.receipt_min_ms, &out->so.receipt_max_ms) < 0;
		} else if (strcmp(name, "--receipt-form") == 0) {
			if (strcmp(v, "both") == 0)
				out->so.receipt_form = SMSC_RECEIPT_BOTH;
			else if (strcmp(v, "text") == 0)
				out->so.receipt_form = SMSC_RECEIPT_TEXT;
			else if (strcmp(v, "tlv") == 0)
				out->so.receipt_form = SMSC_RECEIPT_TLV;
			else
				bad = 1;
		} else if (strcmp(name, "--profile") == 0) {
			bad = simargs_profile(v, &out->cit) < 0;
		} else if (strcmp(name, "--time-factor") == 0) {
			char *end;
			errno = 0;
			double f = strtod(v, &end);
			bad = end == v || *end || errno || !isfinite(f) || f <= 0 || f > 1000;
			out->cit.time_factor = f;
		} else if (strcmp(name, "--think-dist") == 0) {
			if (strcmp(v, "uniform") == 0)
				out->cit.think_dist = CITIZENS_THINK_UNIFORM;
			else if (strcmp(v, "exp") == 0)
				out->cit.think_dist = CITIZENS_THINK_EXP;
			else
				bad = 1;
		} else if (strcmp(name, "--no-reply-share") == 0) {
			bad = parse_share(v, &out->cit.no_reply_share) < 0;
		} else if (strcmp(name, "--late-share") == 0) {
			bad = parse_share(v, &out->cit.late_share) < 0;
		} else if (strcmp(name, "--optout-share") == 0) {
			bad = parse_share(v, &out->cit.optout_share) < 0;
		} else if (strcmp(name, "--multi-share") == 0) {
			bad = parse_share(v, &out->cit.multi_share) < 0;
		} else if (strcmp(name, "--typo-share") == 0) {
			bad = parse_share(v, &out->cit.typo_share) < 0;
		} else if (strcmp(name, "--ucs2-share") == 0) {
			bad = parse_share(v, &out->cit.ucs2_share) < 0;
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
	/* --account can stand for --system-id/--password */
	if (out->naccounts > 0 && !out->system_id && !out->password) {
		out->system_id = out->accounts[0].system_id;
		out->password = out->accounts[0].password;
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
	out->so.accounts = out->accounts;
	out->so.naccounts = out->naccounts;
	out->so.seed = out->cit.seed;
	out->so.receipts = out->receipts;
	return 0;
}
