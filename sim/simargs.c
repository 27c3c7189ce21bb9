/* simargs: parses and checks hailong-sim's command line (see docs/simulator.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simargs.h"
#include "yamldoc.h"

#define SIMARGS_POPULATION_MAX (1 << 20) /* bytes of a population file */

const char *simargs_usage(void)
{
	return "usage: hailong-sim --listen HOST:PORT --system-id ID --password PW --campaign FILE\n"
	       "                   --citizens N --ledger FILE [--seed N] [--think-ms MIN-MAX]\n"
	       "                   [--invalid-share F] [--comment-share F]\n"
	       "                   [--answer-mode keys|labels|mixed|written] [--distribution \"5:40,4:35,...\"]\n"
	       "                   [--receipts on|off] [--control HOST:PORT] [--log-level LEVEL]\n"
	       "                   [--account ID:PW]... [--fault NAME=VALUE]...\n"
	       "                   [--receipt-outcomes \"DELIVRD:90,UNDELIV:10\"] [--receipt-delay-ms MIN-MAX]\n"
	       "                   [--mo-retry-ms MS] [--enquire-link-s S]\n"
	       "                   [--receipt-delay-dist lognormal|uniform]\n"
	       "                   [--receipt-form both|text|tlv] [--profile ideal|realistic|hostile]\n"
	       "                   [--time-factor F] [--think-dist uniform|exp] [--no-reply-share F]\n"
	       "                   [--late-share F] [--optout-share F] [--multi-share F]\n"
	       "                   [--typo-share F] [--ucs2-share F] [--population FILE]\n"
	       "                   [--ussd CODE] [--ussd-ops IND,RESP,REQ,CONF] [--ussd-ignore-share F]\n"
	       "                   [--ussd-release-share F] [--ussd-release-op N] [--ussd-invite-share F]\n"
	       "                   [--ussd-drop-share F] [--ussd-redial-ms MIN-MAX] [--ussd-slow-share F]\n"
	       "                   [--ussd-slow-ms MS] [--ussd-timeout-ms MS]\n"
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

/* ---- population files (--population) ---- */

static const char *pop_kind(const struct ydoc *d, int node)
{
	return ydoc_kind_name(ydoc_kind(d, node));
}

/* A plain decimal number in [min, max]; `range` words the bounds for the message. */
static int pop_number(const struct ydoc *d, int node, const char *what, double min, double max,
                      const char *range, double *out, struct yerr *e)
{
	const char *s = ydoc_scalar(d, node);
	if (!s) {
		yerr_add(e, ydoc_line(d, node), "%s: expected a number, found %s", what,
		         pop_kind(d, node));
		return -EINVAL;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v)) {
		yerr_add(e, ydoc_line(d, node), "%s: expected a number, found '%.64s'", what, s);
		return -EINVAL;
	}
	if (v < min || v > max) {
		yerr_add(e, ydoc_line(d, node), "%s: %.64s is out of range (%s)", what, s, range);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* One more value:weight pair of a distribution (the checks come after). */
static int pop_weight_add(struct citizens_qdist *qd, long v, double w, int line, const char *what,
                          struct yerr *e)
{
	if (qd->n == CITIZENS_DIST_MAX) {
		yerr_add(e, line, "%s: more than %d values", what, CITIZENS_DIST_MAX);
		return -EINVAL;
	}
	qd->value[qd->n] = (int)v;
	qd->weight[qd->n] = w;
	qd->value_line[qd->n] = line;
	qd->n++;
	return 0;
}

/* "5:40,4:35" into qd; every pair is on the scalar's line. */
static int pop_weights_text(const char *s, int line, const char *what, struct citizens_qdist *qd,
                            struct yerr *e)
{
	const char *p = s;
	for (;;) {
		char *end;
		while (*p == ' ')
			p++;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < -1000000 || v > 1000000)
			goto syntax;
		p = end;
		while (*p == ' ')
			p++;
		if (*p != ':')
			goto syntax;
		p++;
		errno = 0;
		double w = strtod(p, &end);
		if (end == p || errno || !isfinite(w))
			goto syntax;
		p = end;
		while (*p == ' ')
			p++;
		if (pop_weight_add(qd, v, w, line, what, e) < 0)
			return -EINVAL;
		if (*p == '\0')
			return 0;
		if (*p != ',')
			goto syntax;
		p++;
	}
syntax:
	yerr_add(e, line,
	         "%s: expected VALUE:WEIGHT pairs separated by commas "
	         "(\"5:40,4:35\"), found '%.64s'",
	         what, s);
	return -EINVAL;
}

/* A distribution, "5:40,4:35" or a mapping {5: 40, 4: 35}, into qd: option
 * values (whole numbers, each once) and weights (>= 0, not all 0). */
static int pop_weights(const struct ydoc *d, int node, const char *what, struct citizens_qdist *qd,
                       struct yerr *e)
{
	int before = e->count;
	qd->n = 0;
	if (ydoc_kind(d, node) == YDOC_SCALAR) {
		if (pop_weights_text(ydoc_scalar(d, node), ydoc_line(d, node), what, qd, e) < 0)
			return -EINVAL;
	} else if (ydoc_kind(d, node) == YDOC_MAP) {
		for (int i = 0; i < ydoc_map_len(d, node); i++) {
			int k = ydoc_map_key(d, node, i);
			long v;
			double w;
			int kv = ydoc_map_value(d, node, i);
			int bad = ydoc_int(d, k, what, -1000000, 1000000, &v, e) < 0;
			bad |= pop_number(d, kv, what, -INFINITY, INFINITY, "", &w, e) < 0;
			if (!bad && pop_weight_add(qd, v, w, ydoc_line(d, k), what, e) < 0)
				return -EINVAL;
		}
	} else {
		yerr_add(e, ydoc_line(d, node),
		         "%s: expected \"VALUE:WEIGHT,...\" or a mapping {VALUE: WEIGHT}, "
		         "found %s",
		         what, pop_kind(d, node));
		return -EINVAL;
	}
	if (e->count > before)
		return -EINVAL;
	double sum = 0;
	for (int i = 0; i < qd->n; i++) {
		if (qd->weight[i] < 0)
			yerr_add(e, qd->value_line[i], "%s: the weight of %d is negative (%g)",
			         what, qd->value[i], qd->weight[i]);
		for (int j = 0; j < i; j++) {
			if (qd->value[j] == qd->value[i]) {
				yerr_add(e, qd->value_line[i], "%s: value %d is given twice", what,
				         qd->value[i]);
				break;
			}
		}
		sum += qd->weight[i];
	}
	if (e->count == before && !(sum > 0))
		yerr_add(e, ydoc_line(d, node), "%s: %s", what,
		         qd->n ? "every weight is 0" : "no values given");
	return e->count > before ? -EINVAL : 0;
}

static void pop_shares(const struct ydoc *d, int node, struct citizens_opts *o, struct yerr *e)
{
	static const char *const names[] = {"no_reply", "invalid", "late",    "optout", "multi",
	                                    "typo",     "ucs2",    "comment", NULL};
	double *const fields[] = {&o->no_reply_share, &o->invalid_share, &o->late_share,
	                          &o->optout_share,   &o->multi_share,   &o->typo_share,
	                          &o->ucs2_share,     &o->comment_share};
	if (ydoc_check_map(d, node, "shares", names, e) < 0 && ydoc_kind(d, node) != YDOC_MAP)
		return;
	for (int i = 0; names[i]; i++) {
		int v = ydoc_get(d, node, names[i]);
		char what[32];
		snprintf(what, sizeof what, "shares.%s", names[i]);
		if (v)
			pop_number(d, v, what, 0, 1, "0..1", fields[i], e);
	}
}

static void pop_questions(const struct ydoc *d, int node, struct citizens_opts *o, struct yerr *e)
{
	o->nqdist = 0;
	if (ydoc_check_map(d, node, "questions", NULL, e) < 0 && ydoc_kind(d, node) != YDOC_MAP)
		return;
	int n = ydoc_map_len(d, node);
	if (n > CITIZENS_QDIST_MAX) {
		yerr_add(e, ydoc_line(d, node), "questions: %d given, at most %d", n,
		         CITIZENS_QDIST_MAX);
		return;
	}
	for (int i = 0; i < n; i++) {
		int k = ydoc_map_key(d, node, i);
		const char *id = ydoc_scalar(d, k);
		if (!id)
			continue; /* reported by ydoc_check_map */
		if (!*id || strlen(id) > CITIZENS_QID_MAX) {
			yerr_add(e, ydoc_line(d, k), "questions: '%.64s' is not a question id", id);
			continue;
		}
		struct citizens_qdist *qd = &o->qdist[o->nqdist];
		memset(qd, 0, sizeof *qd);
		snprintf(qd->question, sizeof qd->question, "%s", id);
		qd->line = ydoc_line(d, k);
		char what[CITIZENS_QID_MAX + 16];
		snprintf(what, sizeof what, "questions.%s", id);
		if (pop_weights(d, ydoc_map_value(d, node, i), what, qd, e) == 0)
			o->nqdist++;
	}
}

int simargs_population_parse(const char *file, const char *text, size_t len,
                             struct citizens_opts *o, char *err, size_t errlen)
{
	static const char *const keys[] = {"profile",      "shares",      "answer_mode",
	                                   "distribution", "questions",   "think_ms",
	                                   "think_dist",   "time_factor", NULL};
	struct yerr e;
	yerr_init(&e, file, err, errlen);
	struct citizens_opts *t = malloc(sizeof *t);
	if (!t) {
		yerr_add(&e, 0, "out of memory");
		return -ENOMEM;
	}
	*t = *o;
	struct ydoc *d = ydoc_load(text, len, &e);
	int root = ydoc_root(d), v;
	if (!d)
		goto out;
	if (ydoc_check_map(d, root, "population", keys, &e) < 0 && ydoc_kind(d, root) != YDOC_MAP)
		goto out;
	/* the profile first: the file's other keys override it, wherever they are */
	if ((v = ydoc_get(d, root, "profile"))) {
		const char *s = ydoc_scalar(d, v);
		if (!s || simargs_profile(s, t) < 0)
			yerr_add(&e, ydoc_line(d, v),
			         "profile: expected ideal, realistic or hostile, found '%.64s'",
			         s ? s : pop_kind(d, v));
	}
	if ((v = ydoc_get(d, root, "shares")))
		pop_shares(d, v, t, &e);
	if ((v = ydoc_get(d, root, "answer_mode"))) {
		const char *s = ydoc_scalar(d, v);
		if (s && strcmp(s, "keys") == 0)
			t->mode = CITIZENS_KEYS;
		else if (s && strcmp(s, "labels") == 0)
			t->mode = CITIZENS_LABELS;
		else if (s && strcmp(s, "mixed") == 0)
			t->mode = CITIZENS_MIXED;
		else if (s && strcmp(s, "written") == 0)
			t->mode = CITIZENS_WRITTEN;
		else
			yerr_add(&e, ydoc_line(d, v),
			         "answer_mode: expected keys, labels, mixed or written, found '%.64s'",
			         s ? s : pop_kind(d, v));
	}
	if ((v = ydoc_get(d, root, "distribution"))) {
		struct citizens_qdist qd;
		memset(&qd, 0, sizeof qd);
		if (pop_weights(d, v, "distribution", &qd, &e) == 0) {
			t->ndist = qd.n;
			memcpy(t->dist_value, qd.value, sizeof qd.value);
			memcpy(t->dist_weight, qd.weight, sizeof qd.weight);
		}
	}
	if ((v = ydoc_get(d, root, "questions")))
		pop_questions(d, v, t, &e);
	if ((v = ydoc_get(d, root, "think_ms"))) {
		const char *s = ydoc_scalar(d, v);
		if (!s || parse_think(s, &t->think_min_ms, &t->think_max_ms) < 0)
			yerr_add(&e, ydoc_line(d, v),
			         "think_ms: expected MIN-MAX or N milliseconds (at most "
			         "3600000), found '%.64s'",
			         s ? s : pop_kind(d, v));
	}
	if ((v = ydoc_get(d, root, "think_dist"))) {
		const char *s = ydoc_scalar(d, v);
		if (s && strcmp(s, "uniform") == 0)
			t->think_dist = CITIZENS_THINK_UNIFORM;
		else if (s && strcmp(s, "exp") == 0)
			t->think_dist = CITIZENS_THINK_EXP;
		else
			yerr_add(&e, ydoc_line(d, v),
			         "think_dist: expected uniform or exp, found '%.64s'",
			         s ? s : pop_kind(d, v));
	}
	if ((v = ydoc_get(d, root, "time_factor"))) {
		double f;
		int rc = pop_number(d, v, "time_factor", 0, 1000, "above 0, at most 1000", &f, &e);
		if (rc == 0 && f > 0)
			t->time_factor = f;
		else if (rc == 0)
			yerr_add(&e, ydoc_line(d, v), "time_factor: must be above 0");
	}
out:
	ydoc_free(d);
	if (e.count == 0) {
		t->qdist_file = file;
		*o = *t;
	}
	free(t);
	return e.count ? -EINVAL : 0;
}

int simargs_population(const char *path, struct citizens_opts *o, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = ydoc_read_file(path, SIMARGS_POPULATION_MAX, &text, &len, err, errlen);
	if (rc < 0)
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	rc = simargs_population_parse(path, text, len, o, err, errlen);
	free(text);
	return rc;
}

int simargs_parse(int argc, char **argv, struct simargs *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	citizens_opts_default(&out->cit);
	out->cit.count = -1;
	out->receipts = 1;
	out->log_level = "info";
	sim_faults_default(&out->so.faults);
	out->so.receipt_min_ms = SMSC_RECEIPT_MIN_MS_DEFAULT;
	out->so.receipt_max_ms = SMSC_RECEIPT_MAX_MS_DEFAULT;
	out->so.receipt_dist = SMSC_DELAY_LOGNORMAL;
	out->so.enquire_link_ms = 30000;
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
			else if (strcmp(v, "written") == 0)
				out->cit.mode = CITIZENS_WRITTEN;
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
		} else if (strcmp(name, "--enquire-link-s") == 0) {
			bad = parse_long(v, 0, 3600, &l) < 0;
			out->so.enquire_link_ms = (int)l * 1000;
		} else if (strcmp(name, "--mo-retry-ms") == 0) {
			bad = parse_long(v, 1, 3600000, &l) < 0;
			out->so.retry_ms = (int)l;
		} else if (strcmp(name, "--receipt-delay-ms") == 0) {
			bad = parse_think(v, &out->so.receipt_min_ms, &out->so.receipt_max_ms) < 0;
		} else if (strcmp(name, "--receipt-delay-dist") == 0) {
			if (strcmp(v, "lognormal") == 0)
				out->so.receipt_dist = SMSC_DELAY_LOGNORMAL;
			else if (strcmp(v, "uniform") == 0)
				out->so.receipt_dist = SMSC_DELAY_UNIFORM;
			else
				bad = 1;
		} else if (strcmp(name, "--receipt-form") == 0) {
			if (strcmp(v, "both") == 0)
				out->so.receipt_form = SMSC_RECEIPT_BOTH;
			else if (strcmp(v, "text") == 0)
				out->so.receipt_form = SMSC_RECEIPT_TEXT;
			else if (strcmp(v, "tlv") == 0)
				out->so.receipt_form = SMSC_RECEIPT_TLV;
			else
				bad = 1;
		} else if (strcmp(name, "--ussd") == 0) {
			/* play a USSD centre too; v = the service code */
			bad = !*v || strspn(v, "0123456789*#") != strlen(v) || strlen(v) > 20;
			out->so.ussd_code = v;
		} else if (strcmp(name, "--ussd-ops") == 0) {
			/* pssr_indication,pssr_response,ussr_request,ussr_confirm (vendor values) */
			long ops[4];
			const char *q = v;
			int n = 0;
			for (; n < 4 && !bad; n++) {
				char *end;
				errno = 0;
				ops[n] = strtol(q, &end, 0); /* decimal or 0x.. */
				bad = end == q || errno || ops[n] < 0 || ops[n] > 255 ||
				      (n < 3 ? *end != ',' : *end != '\0');
				q = end + (*end == ',');
			}
			for (int k = 0; !bad && k < 4; k++)
				out->so.ussd_ops[k] = (int)ops[k];
		} else if (strcmp(name, "--ussd-ignore-share") == 0) {
			bad = parse_share(v, &out->so.ussd_ignore_share) < 0;
		} else if (strcmp(name, "--ussd-release-share") == 0) {
			bad = parse_share(v, &out->so.ussd_release_share) < 0;
		} else if (strcmp(name, "--ussd-release-op") == 0) {
			char *end;
			errno = 0;
			long op = strtol(v, &end, 0); /* decimal or 0x.. */
			bad = end == v || *end || errno || op < 1 || op > 255;
			out->so.ussd_release_op = (int)op;
		} else if (strcmp(name, "--ussd-invite-share") == 0) {
			bad = parse_share(v, &out->so.ussd_invite_share) < 0;
		} else if (strcmp(name, "--ussd-drop-share") == 0) {
			bad = parse_share(v, &out->so.ussd_drop_share) < 0;
		} else if (strcmp(name, "--ussd-redial-ms") == 0) {
			bad = parse_think(v, &out->so.ussd_redial_min_ms, &out->so.ussd_redial_max_ms) < 0;
		} else if (strcmp(name, "--ussd-slow-share") == 0) {
			bad = parse_share(v, &out->so.ussd_slow_share) < 0;
		} else if (strcmp(name, "--ussd-slow-ms") == 0) {
			bad = parse_long(v, 1, 3600000, &l) < 0;
			out->so.ussd_slow_ms = (int)l;
		} else if (strcmp(name, "--ussd-timeout-ms") == 0) {
			bad = parse_long(v, 0, 3600000, &l) < 0;
			out->so.ussd_timeout_ms = (int)l;
		} else if (strcmp(name, "--profile") == 0) {
			bad = simargs_profile(v, &out->cit) < 0;
		} else if (strcmp(name, "--population") == 0) {
			out->population = v;
			if (simargs_population(v, &out->cit, err, errlen) < 0)
				return -EBADMSG;
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
