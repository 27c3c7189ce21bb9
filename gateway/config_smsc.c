/* config_smsc: the `smpp:` entries of the configuration (SMSC connection,
 * retry rules, USSD, routes), docs/config.md. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "smpp_pdu.h"

static const char *const config_smsc_keys[] = {
	"name", "host", "port", "system_id", "password", "system_type", "bind", "source_addr",
	"source_ton", "source_npi", "window", "tps", "routes", "enquire_link_s",
	"response_timeout_s", "retry", "long_messages", "ussd", NULL};
static const char *const config_ussd_keys[] = {"service_code", "service_type", "ops",
                                               "session_timeout", NULL};
static const char *const config_ussd_op_keys[] = {"pssr_indication", "pssr_response",
                                                  "ussr_request", "ussr_confirm", NULL};
static const char *const config_retry_keys[] = {"tries", "delay", NULL};

/* A delay: "500ms", or a duration as ydoc_parse_duration reads it ("30s",
 * "3m", "1m30s"), or a bare number of seconds. 1 ms .. 1 day. */
static int parse_delay_ms(const char *s, int *out)
{
	int64_t v = 0;
	size_t n = strlen(s);

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		size_t i;

		if (n > 11)
			return -EINVAL;
		for (i = 0; i < n - 2; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -EINVAL;
			v = v * 10 + (s[i] - '0');
		}
	} else if (config_all_digits(s)) {
		if (n > 6)
			return -EINVAL;
		v = strtol(s, NULL, 10) * 1000;
	} else {
		if (ydoc_parse_duration(s, &v) < 0 || v > 86400)
			return -EINVAL;
		v *= 1000;
	}
	if (v < 1 || v > 86400000)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* A key of `retry:`: default, timeout, an ESME_* name, or a number (0x458, 88). */
static int retry_key(const char *k, unsigned int *out)
{
	uint32_t v;

	if (strcmp(k, "default") == 0) {
		*out = CONFIG_RETRY_DEFAULT;
		return 0;
	}
	if (strcmp(k, "timeout") == 0) {
		*out = CONFIG_RETRY_TIMEOUT;
		return 0;
	}
	if (smpp_status_from_name(k, &v) == 0) {
		*out = v;
		return 0;
	}
	return -EINVAL;
}

/* retry: {KEY: {tries: N, delay: D}, ...} */
static void parse_retry(struct cctx *p, int node, const char *w, struct config_smsc *s)
{
	char ww[200];
	int i, j, cnt;

	snprintf(ww, sizeof ww, "%s: retry", w);
	if (ydoc_kind(p->d, node) != YDOC_MAP) {
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: expected a mapping such as {ESME_RTHROTTLED: {tries: 20, delay: 30s}}", ww);
		return;
	}
	cnt = ydoc_map_len(p->d, node);
	if (cnt > CONFIG_MAX_RETRY) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: too many entries (%d, at most %d)", ww, cnt,
		         CONFIG_MAX_RETRY);
		cnt = CONFIG_MAX_RETRY;
	}
	for (i = 0; i < cnt; i++) {
		int kn = ydoc_map_key(p->d, node, i), vn = ydoc_map_value(p->d, node, i);
		const char *k = ydoc_scalar(p->d, kn);
		char wk[280];
		struct config_retry r = {0, 0, 1000};
		int tn, dn;

		if (!k || retry_key(k, &r.status) < 0) {
			yerr_add(p->e, ydoc_line(p->d, kn),
			         "%s: unknown status '%.64s' (expected default, timeout, an ESME_* name "
			         "or a number such as 0x458)",
			         ww, k ? k : "?");
			continue;
		}
		snprintf(wk, sizeof wk, "%s: %s", ww, k);
		if (r.status == 0) {
			yerr_add(p->e, ydoc_line(p->d, kn), "%s: ESME_ROK is not an error", wk);
			continue;
		}
		for (j = 0; j < s->nretry; j++)
			if (s->retry[j].status == r.status)
				yerr_add(p->e, ydoc_line(p->d, kn), "%s: status 0x%X is listed twice", wk,
				         r.status);
		if (ydoc_check_map(p->d, vn, wk, config_retry_keys, p->e) < 0)
			continue;
		if (!(tn = ydoc_get(p->d, vn, "tries"))) {
			config_missing(p, vn, wk, "tries");
			continue;
		}
		char wt[300];
		snprintf(wt, sizeof wt, "%s: tries", wk);
		if (config_read_int(p, vn, "tries", wt, 1, 1000, &r.tries) < 0)
			continue;
		if ((dn = ydoc_get(p->d, vn, "delay")) != 0) {
			const char *d = ydoc_scalar(p->d, dn);

			if (!d || parse_delay_ms(d, &r.delay_ms) < 0) {
				yerr_add(p->e, ydoc_line(p->d, dn),
				         "%s: delay: bad delay '%.64s' (expected 500ms, 30s, 3m ... up to 1d)",
				         wk, d ? d : "?");
				continue;
			}
		}
		s->retry[s->nretry++] = r;
	}
}

/* `ussd:` of an smpp entry. An op value is one octet; the four must differ
 * (the gateway tells the flows apart by them). */
static void parse_ussd(struct cctx *p, int node, const char *w, struct config_smsc *s)
{
	char ww[192];
	int n, ops, i, j;
	int *vals[4];

	s->has_ussd = 1;
	s->ussd_op_pssr_indication = 1;
	s->ussd_op_pssr_response = 17;
	s->ussd_op_ussr_request = 2;
	s->ussd_op_ussr_confirm = 18;
	s->ussd_session_timeout_s = 180;
	snprintf(ww, sizeof ww, "%s: ussd", w);
	if (ydoc_kind(p->d, node) != YDOC_MAP) {
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: expected a map {service_code, service_type, ops, session_timeout}", ww);
		return;
	}
	ydoc_check_map(p->d, node, ww, config_ussd_keys, p->e);
	if (!(n = ydoc_get(p->d, node, "service_code"))) {
		config_missing(p, node, ww, "service_code");
	} else {
		char www[224];

		snprintf(www, sizeof www, "%s: service_code", ww);
		if (config_read_str(p, n, www, 20, 0, &s->ussd_service_code) == 0) {
			const char *q;

			for (q = s->ussd_service_code; *q; q++)
				if (!((*q >= '0' && *q <= '9') || *q == '*' || *q == '#'))
					break;
			if (*q)
				yerr_add(p->e, ydoc_line(p->d, n),
				         "%s: '%.32s' is not a USSD code (digits, * and #, such as \"*8088#\")",
				         www, s->ussd_service_code);
		}
	}
	if ((n = ydoc_get(p->d, node, "service_type")) != 0 && !ydoc_is_null(p->d, n)) {
		char www[224];

		snprintf(www, sizeof www, "%s: service_type", ww);
		config_read_str(p, n, www, 5, 1, &s->ussd_service_type);
	}
	config_set_default(p, &s->ussd_service_type, "USSD");
	if ((n = ydoc_get(p->d, node, "session_timeout")) != 0) {
		const char *v = ydoc_scalar(p->d, n);
		int64_t d = 0;

		if (!v || ydoc_parse_duration(v, &d) < 0 || d < 5 || d > 3600)
			yerr_add(p->e, ydoc_line(p->d, n),
			         "%s: session_timeout: '%.32s' is not a duration of 5s..1h", ww,
			         v ? v : "?");
		else
			s->ussd_session_timeout_s = (int)d;
	}
	ops = ydoc_get(p->d, node, "ops");
	if (!ops || ydoc_is_null(p->d, ops))
		return;
	if (ydoc_kind(p->d, ops) != YDOC_MAP) {
		yerr_add(p->e, ydoc_line(p->d, ops),
		         "%s: ops: expected a map {pssr_indication, pssr_response, ussr_request, "
		         "ussr_confirm}",
		         ww);
		return;
	}
	{
		char www[224];

		snprintf(www, sizeof www, "%s: ops", ww);
		ydoc_check_map(p->d, ops, www, config_ussd_op_keys, p->e);
		vals[0] = &s->ussd_op_pssr_indication;
		vals[1] = &s->ussd_op_pssr_response;
		vals[2] = &s->ussd_op_ussr_request;
		vals[3] = &s->ussd_op_ussr_confirm;
		for (i = 0; i < 4; i++) {
			char k[256];

			int on = ydoc_get(p->d, ops, config_ussd_op_keys[i]);
			const char *v = on ? ydoc_scalar(p->d, on) : NULL;
			uint64_t u = 0;
			int okv;

			if (!on)
				continue;
			snprintf(k, sizeof k, "%s: %s", www, config_ussd_op_keys[i]);
			/* decimal, or hex written 0x.. (some stacks document them so) */
			if (v && (strncmp(v, "0x", 2) == 0 || strncmp(v, "0X", 2) == 0))
				okv = smpp_parse_u64(v + 2, 16, &u);
			else
				okv = v && smpp_parse_u64(v, 10, &u);
			if (!okv || u > 255)
				yerr_add(p->e, ydoc_line(p->d, on),
				         "%s: '%.32s' is not an op value 0..255 (decimal or 0x..)", k,
				         v ? v : "?");
			else
				*vals[i] = (int)u;
		}
		for (i = 0; i < 4; i++)
			for (j = i + 1; j < 4; j++)
				if (*vals[i] == *vals[j])
					yerr_add(p->e, ydoc_line(p->d, ops),
					         "%s: %s and %s are both %d (the gateway tells USSD flows "
					         "apart by these values)",
					         www, config_ussd_op_keys[i], config_ussd_op_keys[j],
					         *vals[i]);
	}
}

void config_parse_smsc(struct cctx *p, int node, int idx)
{
	static const char *const binds[] = {"transceiver", "transmitter+receiver", NULL};
	struct config *c = p->c;
	struct config_smsc *s;
	char w[96], ww[160];
	int n, i, j, k, routes;
	const char *name = ydoc_scalar(p->d, ydoc_get(p->d, node, "name"));

	if (name && name[0] && strlen(name) <= 32)
		snprintf(w, sizeof w, "smpp %s", name);
	else
		snprintf(w, sizeof w, "smpp %d", idx + 1);
	if (ydoc_check_map(p->d, node, w, config_smsc_keys, p->e) < 0 &&
	    ydoc_kind(p->d, node) != YDOC_MAP)
		return;
	s = &c->smsc[c->nsmsc++];
	s->port = 0;
	s->bind_trx = 1;
	s->source_ton = -1;
	s->source_npi = -1;
	s->window = 10;
	s->tps = 50;
	s->enquire_link_s = 30;
	s->response_timeout_s = 30;

	if (!(n = ydoc_get(p->d, node, "name"))) {
		config_missing(p, node, w, "name");
	} else {
		snprintf(ww, sizeof ww, "%s: name", w);
		if (config_read_str(p, n, ww, 32, 0, &s->name) == 0) {
			for (i = 0; i < c->nsmsc - 1; i++)
				if (c->smsc[i].name && strcmp(c->smsc[i].name, s->name) == 0)
					yerr_add(p->e, ydoc_line(p->d, n),
					         "%s: the name '%s' is already used by another smsc", ww,
					         s->name);
		}
	}
	if (!(n = ydoc_get(p->d, node, "host"))) {
		config_missing(p, node, w, "host");
	} else {
		snprintf(ww, sizeof ww, "%s: host", w);
		if (config_read_str(p, n, ww, 253, 0, &s->host) == 0) {
			size_t hl = strlen(s->host);
			if ((!config_valid_host(s->host, hl) && !config_valid_ipv6_bare(s->host)) ||
			    strcmp(s->host, "*") == 0) /* ("*" listens anywhere; it connects nowhere) */
				yerr_add(p->e, ydoc_line(p->d, n), "%s: '%.64s' is not a host name or address", ww,
				         s->host);
			else if (s->host[0] == '[') { /* "[::1]": the address getaddrinfo takes is inside */
				memmove(s->host, s->host + 1, hl - 2);
				s->host[hl - 2] = '\0';
			}
		}
	}
	snprintf(ww, sizeof ww, "%s: port", w);
	if (!ydoc_get(p->d, node, "port"))
		config_missing(p, node, w, "port");
	else
		config_read_int(p, node, "port", ww, 1, 65535, &s->port);
	if (!(n = ydoc_get(p->d, node, "system_id"))) {
		config_missing(p, node, w, "system_id");
	} else {
		snprintf(ww, sizeof ww, "%s: system_id", w);
		config_read_str(p, n, ww, 15, 0, &s->system_id);
	}
	snprintf(ww, sizeof ww, "%s: password", w);
	if ((n = ydoc_get(p->d, node, "password")) != 0)
		config_read_str(p, n, ww, 8, 1, &s->password);
	config_set_default(p, &s->password, "");
	snprintf(ww, sizeof ww, "%s: system_type", w);
	if ((n = ydoc_get(p->d, node, "system_type")) != 0 && !ydoc_is_null(p->d, n))
		config_read_str(p, n, ww, 12, 1, &s->system_type);
	config_set_default(p, &s->system_type, "");
	if ((n = ydoc_get(p->d, node, "bind")) != 0) {
		const char *b = ydoc_scalar(p->d, n);

		for (i = 0; b && binds[i]; i++)
			if (strcmp(b, binds[i]) == 0)
				break;
		if (!b || !binds[i])
			yerr_add(p->e, ydoc_line(p->d, n),
			         "%s: bind: unknown value '%.64s' (expected transceiver or "
			         "transmitter+receiver)",
			         w, b ? b : "?");
		else
			s->bind_trx = i == 0;
	}
	if (!(n = ydoc_get(p->d, node, "source_addr"))) {
		config_missing(p, node, w, "source_addr");
	} else {
		snprintf(ww, sizeof ww, "%s: source_addr", w);
		config_read_str(p, n, ww, 20, 0, &s->source_addr);
	}
	snprintf(ww, sizeof ww, "%s: source_ton", w);
	config_read_int(p, node, "source_ton", ww, 0, 6, &s->source_ton);
	snprintf(ww, sizeof ww, "%s: source_npi", w);
	config_read_int(p, node, "source_npi", ww, 0, 18, &s->source_npi);
	snprintf(ww, sizeof ww, "%s: window", w);
	config_read_int(p, node, "window", ww, 1, 1000, &s->window);
	snprintf(ww, sizeof ww, "%s: tps", w);
	config_read_int(p, node, "tps", ww, 1, 100000, &s->tps);
	snprintf(ww, sizeof ww, "%s: enquire_link_s", w);
	config_read_int(p, node, "enquire_link_s", ww, 1, 3600, &s->enquire_link_s);
	snprintf(ww, sizeof ww, "%s: response_timeout_s", w);
	config_read_int(p, node, "response_timeout_s", ww, 1, 600, &s->response_timeout_s);

	if ((n = ydoc_get(p->d, node, "long_messages")) != 0) {
		static const char *const longs[] = {"udh", "sar", "payload", NULL};
		const char *b = ydoc_scalar(p->d, n);

		for (i = 0; b && longs[i]; i++)
			if (strcmp(b, longs[i]) == 0)
				break;
		if (!b || !longs[i])
			yerr_add(p->e, ydoc_line(p->d, n),
			         "%s: long_messages: unknown value '%.64s' (expected udh, sar or payload)", w,
			         b ? b : "?");
		else
			s->long_messages = (enum config_long)i;
	}
	if ((n = ydoc_get(p->d, node, "retry")) != 0 && !ydoc_is_null(p->d, n))
		parse_retry(p, n, w, s);
	if ((n = ydoc_get(p->d, node, "ussd")) != 0 && !ydoc_is_null(p->d, n))
		parse_ussd(p, n, w, s);

	routes = ydoc_get(p->d, node, "routes");
	snprintf(ww, sizeof ww, "%s: routes", w);
	if (!routes || ydoc_is_null(p->d, routes))
		return;
	if (ydoc_kind(p->d, routes) != YDOC_SEQ) {
		yerr_add(p->e, ydoc_line(p->d, routes), "%s: expected a list of number prefixes", ww);
		return;
	}
	n = ydoc_seq_len(p->d, routes);
	if (n > CONFIG_MAX_ROUTES) {
		yerr_add(p->e, ydoc_line(p->d, routes), "%s: too many routes (%d, at most %d)", ww, n,
		         CONFIG_MAX_ROUTES);
		n = CONFIG_MAX_ROUTES;
	}
	for (i = 0; i < n; i++) {
		int item = ydoc_seq_item(p->d, routes, i);
		char *r = NULL;

		if (config_read_str(p, item, ww, 15, 0, &r) < 0)
			continue;
		if (!config_all_digits(r)) {
			yerr_add(p->e, ydoc_line(p->d, item),
			         "%s: '%.64s' is not a prefix of digits (such as \"8491\")", ww, r);
			free(r);
			continue;
		}
		for (j = 0; j < c->nsmsc; j++) {
			for (k = 0; k < c->smsc[j].nroutes; k++) {
				if (strcmp(c->smsc[j].routes[k], r) == 0) {
					yerr_add(p->e, ydoc_line(p->d, item),
					         "%s: prefix %s is already routed to smsc %s", ww, r,
					         c->smsc[j].name ? c->smsc[j].name : "?");
					break;
				}
			}
		}
		s->routes[s->nroutes++] = r;
	}
}


static int str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int config_smsc_same_link(const struct config_smsc *a, const struct config_smsc *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->host, b->host) || a->port != b->port ||
	    !str_eq(a->system_id, b->system_id) || !str_eq(a->password, b->password) ||
	    !str_eq(a->system_type, b->system_type) || a->bind_trx != b->bind_trx ||
	    !str_eq(a->source_addr, b->source_addr) || a->source_ton != b->source_ton ||
	    a->source_npi != b->source_npi || a->window != b->window || a->tps != b->tps ||
	    a->enquire_link_s != b->enquire_link_s || a->response_timeout_s != b->response_timeout_s ||
	    a->nretry != b->nretry || a->long_messages != b->long_messages || a->has_ussd != b->has_ussd)
		return 0;
	for (int i = 0; i < a->nretry; i++)
		if (a->retry[i].status != b->retry[i].status || a->retry[i].tries != b->retry[i].tries ||
		    a->retry[i].delay_ms != b->retry[i].delay_ms)
			return 0;
	return !a->has_ussd ||
	       (str_eq(a->ussd_service_code, b->ussd_service_code) &&
	        str_eq(a->ussd_service_type, b->ussd_service_type) &&
	        a->ussd_op_pssr_indication == b->ussd_op_pssr_indication &&
	        a->ussd_op_pssr_response == b->ussd_op_pssr_response &&
	        a->ussd_op_ussr_request == b->ussd_op_ussr_request &&
	        a->ussd_op_ussr_confirm == b->ussd_op_ussr_confirm &&
	        a->ussd_session_timeout_s == b->ussd_session_timeout_s);
}
