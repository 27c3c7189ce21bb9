/* config: read and validate the gateway's YAML configuration (SPEC §4, docs/config.md). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "config_int.h"
#include "phone.h"
#include "tzone.h"
#include "yamldoc.h"

#define CONFIG_MAX_FILE (1024 * 1024)

static const char *const config_top_keys[] = {"smpp", "redis", "storage", "http", "campaigns",
                                              "timezone", "privacy", "log_level", "sms_triggers",
                                              "audit", "drain_timeout", NULL};
static const char *const config_trigger_keys[] = {"number", "agency", "campaign", NULL};
static const char *const config_redis_keys[] = {"url", "lease", NULL};
static const char *const config_storage_keys[] = {"sqlite", NULL};
static const char *const config_http_keys[] = {"listen", "tokens", NULL};
static const char *const config_token_keys[] = {"name", "token", "token_sha256", "agencies", NULL};
static const char *const config_privacy_keys[] = {"hash_key", NULL};
static const char *const config_audit_keys[] = {"public_key", "keep_contact_days", NULL};

void config_free(struct config *c)
{
	int i, j;

	if (!c)
		return;
	free(c->file);
	for (i = 0; i < c->nsmsc; i++) {
		struct config_smsc *s = &c->smsc[i];

		free(s->name);
		free(s->host);
		free(s->system_id);
		free(s->password);
		free(s->system_type);
		free(s->source_addr);
		free(s->ussd_service_code);
		free(s->ussd_service_type);
		for (j = 0; j < s->nroutes; j++)
			free(s->routes[j]);
	}
	free(c->redis_url);
	free(c->sqlite_path);
	free(c->http_listen);
	for (i = 0; i < c->ntokens; i++) {
		free(c->tokens[i].name);
		for (j = 0; j < c->tokens[i].nagencies; j++)
			free(c->tokens[i].agencies[j]);
	}
	sodium_memzero(c->tokens, sizeof c->tokens);
	free(c->campaigns_dir);
	free(c->timezone);
	if (c->hash_key) {
		sodium_memzero(c->hash_key, strlen(c->hash_key));
		free(c->hash_key);
	}
	free(c->log_level);
	for (i = 0; i < c->nsms_triggers; i++) {
		free(c->sms_triggers[i].number);
		free(c->sms_triggers[i].agency);
		free(c->sms_triggers[i].campaign);
	}
	free(c);
}

/* ---- readers --------------------------------------------------------- */

/* A string of at most `max` bytes (0 = no limit); empty allowed when allow_empty. */
int config_read_str(struct cctx *p, int node, const char *what, size_t max, int allow_empty,
                    char **out)
{
	char *s = NULL;
	int rc = ydoc_str(p->d, node, what, &s, p->e);

	if (rc < 0) {
		if (rc == -ENOMEM)
			p->nomem = 1;
		return rc;
	}
	if (!allow_empty && !s[0]) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: must not be empty", what);
		free(s);
		return -EINVAL;
	}
	if (max && strlen(s) > max) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: '%.64s' is too long (%zu characters, at most %zu)",
		         what, s, strlen(s), max);
		free(s);
		return -EINVAL;
	}
	free(*out);
	*out = s;
	return 0;
}

/* Replace *out with a copy of a default. */
void config_set_default(struct cctx *p, char **out, const char *def)
{
	if (*out)
		return;
	*out = strdup(def);
	if (!*out)
		p->nomem = 1;
}

int config_read_int(struct cctx *p, int map, const char *key, const char *what, long min,
                    long max, int *out)
{
	int node = ydoc_get(p->d, map, key);
	long v;

	if (!node)
		return 0;
	if (ydoc_int(p->d, node, what, min, max, &v, p->e) < 0)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

void config_missing(struct cctx *p, int map, const char *what, const char *key)
{
	if (what)
		yerr_add(p->e, ydoc_line(p->d, map), "%s: missing required key '%s'", what, key);
	else
		yerr_add(p->e, ydoc_line(p->d, map), "missing required key '%s'", key);
}

int config_all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* A decimal port 1..65535 in s[0..n). */
static int valid_port(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* A host name, IPv4 address, "*" or a bracketed IPv6 address in s[0..n). */
int config_valid_host(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 253)
		return 0;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return 0;
		for (i = 1; i < n - 1; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			      (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':' || s[i] == '.'))
				return 0;
		return 1;
	}
	if (n == 1 && s[0] == '*')
		return 1;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '.' || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* A bare IPv6 address ("::1"), allowed where no port follows. */
int config_valid_ipv6_bare(const char *s)
{
	int colons = 0;

	for (; *s; s++) {
		if (*s == ':')
			colons++;
		else if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		           (*s >= 'A' && *s <= 'F') || *s == '.'))
			return 0;
	}
	return colons >= 2;
}

/* "host:port" with host as in valid_host. */
static int valid_listen(const char *s)
{
	const char *colon = strrchr(s, ':');

	if (!colon)
		return 0;
	return config_valid_host(s, (size_t)(colon - s)) && valid_port(colon + 1, strlen(colon + 1));
}

/* redis://host[:port][/db], unix:/path, or "embedded". */
static int valid_redis_url(const char *s)
{
	const char *h, *end, *colon, *slash;

	if (strcmp(s, "embedded") == 0)
		return 1;
	if (strncmp(s, "unix:", 5) == 0)
		return s[5] != '\0';
	if (strncmp(s, "redis://", 8) != 0)
		return 0;
	h = s + 8;
	slash = strchr(h, '/');
	end = slash ? slash : h + strlen(h);
	colon = NULL;
	if (h < end && h[0] == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (!rb)
			return 0;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return 0;
			colon = rb + 1;
		}
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
	}
	if (!config_valid_host(h, (size_t)((colon ? colon : end) - h)) || h[0] == '*') /* ("*": no host to reach) */
		return 0;
	if (colon && !valid_port(colon + 1, (size_t)(end - colon - 1)))
		return 0;
	if (slash) {
		size_t n = strlen(slash + 1);

		if (n == 0 || n > 3 || !config_all_digits(slash + 1) || strtol(slash + 1, NULL, 10) > 255)
			return 0;
	}
	return 1;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* ---- sections -------------------------------------------------------- */

/* sms_triggers: [{number, agency, campaign}, ...] */
/* s (taken over) in Unicode NFC, as the API puts a trigger's agency: a token's
 * agency typed decomposed still matches. s itself when it cannot be. */
static char *config_nfc(char *s)
{
	char *n = (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
	if (!n)
		return s;
	free(s);
	return n;
}

static void parse_sms_triggers(struct cctx *p, int node)
{
	struct config *c = p->c;
	int i, j, cnt;

	if (ydoc_kind(p->d, node) != YDOC_SEQ) {
		yerr_add(p->e, ydoc_line(p->d, node),
		         "sms_triggers: expected a list of {number, agency, campaign}");
		return;
	}
	cnt = ydoc_seq_len(p->d, node);
	if (cnt > CONFIG_MAX_SMS_TRIGGERS) {
		yerr_add(p->e, ydoc_line(p->d, node), "sms_triggers: too many entries (%d, at most %d)",
		         cnt, CONFIG_MAX_SMS_TRIGGERS);
		cnt = CONFIG_MAX_SMS_TRIGGERS;
	}
	for (i = 0; i < cnt; i++) {
		int item = ydoc_seq_item(p->d, node, i), n;
		struct config_sms_trigger *t;
		char w[64], ww[96];
		static const char *const fields[] = {"agency", "campaign"};

		snprintf(w, sizeof w, "sms_triggers %d", i + 1);
		if (ydoc_check_map(p->d, item, w, config_trigger_keys, p->e) < 0 &&
		    ydoc_kind(p->d, item) != YDOC_MAP)
			continue;
		t = &c->sms_triggers[c->nsms_triggers++];
		if (!(n = ydoc_get(p->d, item, "number"))) {
			config_missing(p, item, w, "number");
		} else {
			char *raw = NULL, canon[PHONE_MAX], why[128];

			snprintf(ww, sizeof ww, "%s: number", w);
			if (config_read_str(p, n, ww, 32, 0, &raw) == 0) {
				if (phone_normalize(raw, canon, why, sizeof why) < 0) {
					yerr_add(p->e, ydoc_line(p->d, n), "%s: '%.32s' is not a mobile number (%s)",
					         ww, raw, why);
				} else {
					for (j = 0; j < c->nsms_triggers - 1; j++)
						if (c->sms_triggers[j].number &&
						    strcmp(c->sms_triggers[j].number, canon) == 0)
							yerr_add(p->e, ydoc_line(p->d, n),
							         "%s: %s is already listed (sms_triggers %d)", ww,
							         canon, j + 1);
					t->number = strdup(canon);
					if (!t->number)
						p->nomem = 1;
				}
				free(raw);
			}
		}
		for (j = 0; j < 2; j++) {
			char **dst = j == 0 ? &t->agency : &t->campaign;
			const char *v;

			snprintf(ww, sizeof ww, "%s: %s", w, fields[j]);
			if (!(n = ydoc_get(p->d, item, fields[j]))) {
				config_missing(p, item, w, fields[j]);
				continue;
			}
			if (config_read_str(p, n, ww, j == 0 ? 128 : 64, 0, dst) < 0)
				continue;
			if (j == 0)
				*dst = config_nfc(*dst);
			for (v = *dst; *v; v++)
				if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
				      (*v >= '0' && *v <= '9') || *v == '-' || *v == '_' || *v == '.')) {
					yerr_add(p->e, ydoc_line(p->d, n),
					         "%s: '%.64s' may hold only letters, digits, '-', '_' and '.'", ww,
					         *dst);
					break;
				}
		}
	}
}

static void parse_token(struct cctx *p, int node, int idx)
{
	struct config *c = p->c;
	struct config_token *t;
	char w[96], ww[160];
	int n, tok, sha, i, ag;
	const char *name = ydoc_scalar(p->d, ydoc_get(p->d, node, "name"));

	if (name && name[0] && strlen(name) <= 64)
		snprintf(w, sizeof w, "http: token %s", name);
	else
		snprintf(w, sizeof w, "http: token %d", idx + 1);
	if (ydoc_check_map(p->d, node, w, config_token_keys, p->e) < 0 &&
	    ydoc_kind(p->d, node) != YDOC_MAP)
		return;
	t = &c->tokens[c->ntokens++];
	if (!(n = ydoc_get(p->d, node, "name"))) {
		config_missing(p, node, w, "name");
	} else {
		snprintf(ww, sizeof ww, "%s: name", w);
		if (config_read_str(p, n, ww, 64, 0, &t->name) == 0)
			for (i = 0; i < c->ntokens - 1; i++)
				if (c->tokens[i].name && strcmp(c->tokens[i].name, t->name) == 0)
					yerr_add(p->e, ydoc_line(p->d, n),
					         "%s: the name '%s' is already used by another token", ww,
					         t->name);
	}
	tok = ydoc_get(p->d, node, "token");
	sha = ydoc_get(p->d, node, "token_sha256");
	if (tok && sha) {
		yerr_add(p->e, ydoc_line(p->d, sha), "%s: give token or token_sha256, not both", w);
	} else if (!tok && !sha) {
		yerr_add(p->e, ydoc_line(p->d, node), "%s: needs token or token_sha256", w);
	} else if (tok) {
		char *secret = NULL;

		snprintf(ww, sizeof ww, "%s: token", w);
		if (config_read_str(p, tok, ww, 512, 0, &secret) == 0) {
			if (strlen(secret) < 8)
				yerr_add(p->e, ydoc_line(p->d, tok),
				         "%s: too short (at least 8 characters)", ww);
			crypto_hash_sha256(t->sha256, (const unsigned char *)secret, strlen(secret));
			sodium_memzero(secret, strlen(secret));
			free(secret);
		}
	} else {
		const char *h = ydoc_scalar(p->d, sha);
		int ok = h && strlen(h) == 64;

		for (i = 0; ok && i < 64; i++)
			if (hexval(h[i]) < 0)
				ok = 0;
		if (!ok)
			yerr_add(p->e, ydoc_line(p->d, sha),
			         "%s: token_sha256: expected 64 hexadecimal digits (sha256sum of the "
			         "token)",
			         w);
		for (i = 0; ok && i < 32; i++)
			t->sha256[i] = (unsigned char)(hexval(h[2 * i]) * 16 + hexval(h[2 * i + 1]));
	}
	/* one secret, two entries: the first would always match and the second's
	 * agencies never apply */
	for (i = 0; (tok || sha) && i < c->ntokens - 1; i++)
		if (sodium_memcmp(c->tokens[i].sha256, t->sha256, sizeof t->sha256) == 0 &&
		    !sodium_is_zero(t->sha256, sizeof t->sha256)) {
			yerr_add(p->e, ydoc_line(p->d, tok ? tok : sha), "%s: the same token as %s", w,
			         c->tokens[i].name ? c->tokens[i].name : "another entry");
			break;
		}

	ag = ydoc_get(p->d, node, "agencies");
	snprintf(ww, sizeof ww, "%s: agencies", w);
	if (!ag) {
		yerr_add(p->e, ydoc_line(p->d, node),
		         "%s: missing required key 'agencies' (a list of agency codes, or [\"*\"] for all)",
		         w);
		return;
	}
	if (ydoc_kind(p->d, ag) == YDOC_SCALAR) {
		char *a = NULL;

		if (config_read_str(p, ag, ww, 128, 0, &a) == 0)
			t->agencies[t->nagencies++] = config_nfc(a);
		return;
	}
	if (ydoc_kind(p->d, ag) != YDOC_SEQ || ydoc_seq_len(p->d, ag) == 0) {
		yerr_add(p->e, ydoc_line(p->d, ag),
		         "%s: expected a non-empty list of agency codes (or [\"*\"])", ww);
		return;
	}
	n = ydoc_seq_len(p->d, ag);
	if (n > CONFIG_MAX_AGENCIES) {
		yerr_add(p->e, ydoc_line(p->d, ag), "%s: too many agencies (%d, at most %d)", ww, n,
		         CONFIG_MAX_AGENCIES);
		n = CONFIG_MAX_AGENCIES;
	}
	for (i = 0; i < n; i++) {
		char *a = NULL;

		if (config_read_str(p, ydoc_seq_item(p->d, ag, i), ww, 128, 0, &a) == 0)
			t->agencies[t->nagencies++] = config_nfc(a);
	}
}

/* A section's node; a section written with nothing under it ("privacy:") is absent. */
static int section(const struct cctx *p, int root, const char *key)
{
	int n = ydoc_get(p->d, root, key);

	return ydoc_is_null(p->d, n) ? 0 : n;
}

static void parse_sections(struct cctx *p, int root)
{
	static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
	struct config *c = p->c;
	int n, sec, i, cnt;

	/* smpp: a list of binds, or one mapping */
	if (!(sec = ydoc_get(p->d, root, "smpp"))) {
		config_missing(p, root, NULL, "smpp");
	} else if (ydoc_kind(p->d, sec) == YDOC_MAP) {
		config_parse_smsc(p, sec, 0);
	} else if (ydoc_kind(p->d, sec) != YDOC_SEQ || ydoc_seq_len(p->d, sec) == 0) {
		yerr_add(p->e, ydoc_line(p->d, sec), "smpp: expected a list of at least one SMSC");
	} else {
		cnt = ydoc_seq_len(p->d, sec);
		if (cnt > CONFIG_MAX_SMSC) {
			yerr_add(p->e, ydoc_line(p->d, sec), "smpp: too many SMSCs (%d, at most %d)", cnt,
			         CONFIG_MAX_SMSC);
			cnt = CONFIG_MAX_SMSC;
		}
		for (i = 0; i < cnt; i++)
			config_parse_smsc(p, ydoc_seq_item(p->d, sec, i), i);
	}

	if ((sec = section(p, root, "redis")) != 0 &&
	    ydoc_check_map(p->d, sec, "redis", config_redis_keys, p->e) == 0 &&
	    (n = ydoc_get(p->d, sec, "url")) != 0 &&
	    config_read_str(p, n, "redis: url", 1024, 0, &c->redis_url) == 0 &&
	    !valid_redis_url(c->redis_url))
		yerr_add(p->e, ydoc_line(p->d, n),
		         "redis: url: '%.64s' is not redis://host:port/db, unix:/path or embedded",
		         c->redis_url);
	config_set_default(p, &c->redis_url, "redis://127.0.0.1:6379/0");
	c->lease_s = 15;
	if (sec && (n = ydoc_get(p->d, sec, "lease")) != 0) {
		const char *v = ydoc_scalar(p->d, n);
		int64_t d = 0;
		if (!v || ydoc_parse_duration(v, &d) < 0 || d < 5 || d > 600)
			yerr_add(p->e, ydoc_line(p->d, n), "redis: lease: '%.32s' is not a duration of 5s..10m",
			         v ? v : "");
		else
			c->lease_s = (int)d;
	}

	if ((sec = section(p, root, "storage")) != 0 &&
	    ydoc_check_map(p->d, sec, "storage", config_storage_keys, p->e) == 0 &&
	    (n = ydoc_get(p->d, sec, "sqlite")) != 0 &&
	    config_read_str(p, n, "storage: sqlite", 4096, 0, &c->sqlite_path) == 0)
		c->sqlite_line = ydoc_line(p->d, n);
	config_set_default(p, &c->sqlite_path, "var/hailong.db");

	if ((sec = section(p, root, "http")) != 0 &&
	    ydoc_check_map(p->d, sec, "http", config_http_keys, p->e) == 0) {
		if ((n = ydoc_get(p->d, sec, "listen")) != 0 &&
		    config_read_str(p, n, "http: listen", 300, 0, &c->http_listen) == 0) {
			c->listen_line = ydoc_line(p->d, n);
			if (!valid_listen(c->http_listen))
				yerr_add(p->e, ydoc_line(p->d, n),
				         "http: listen: '%.64s' is not host:port (port 1..65535)", c->http_listen);
		}
		if ((n = ydoc_get(p->d, sec, "tokens")) != 0 && !ydoc_is_null(p->d, n)) {
			if (ydoc_kind(p->d, n) != YDOC_SEQ) {
				yerr_add(p->e, ydoc_line(p->d, n), "http: tokens: expected a list");
			} else {
				cnt = ydoc_seq_len(p->d, n);
				if (cnt > CONFIG_MAX_TOKENS) {
					yerr_add(p->e, ydoc_line(p->d, n),
					         "http: tokens: too many tokens (%d, at most %d)", cnt,
					         CONFIG_MAX_TOKENS);
					cnt = CONFIG_MAX_TOKENS;
				}
				for (i = 0; i < cnt; i++)
					parse_token(p, ydoc_seq_item(p->d, n, i), i);
			}
		}
	}
	config_set_default(p, &c->http_listen, "127.0.0.1:8080");

	if ((n = ydoc_get(p->d, root, "campaigns")) != 0 &&
	    config_read_str(p, n, "campaigns", 4096, 0, &c->campaigns_dir) == 0)
		c->campaigns_line = ydoc_line(p->d, n);
	config_set_default(p, &c->campaigns_dir, "config/campaigns");

	if ((n = ydoc_get(p->d, root, "timezone")) != 0 &&
	    config_read_str(p, n, "timezone", TZONE_MAX, 0, &c->timezone) == 0) {
		char terr[256];

		if (tzone_check(c->timezone, terr, sizeof terr) < 0)
			yerr_add(p->e, ydoc_line(p->d, n), "%s", terr);
	}
	config_set_default(p, &c->timezone, TZONE_DEFAULT);

	if ((sec = section(p, root, "privacy")) != 0 &&
	    ydoc_check_map(p->d, sec, "privacy", config_privacy_keys, p->e) == 0 &&
	    (n = ydoc_get(p->d, sec, "hash_key")) != 0 && !ydoc_is_null(p->d, n) &&
	    config_read_str(p, n, "privacy: hash_key", 1024, 0, &c->hash_key) == 0 &&
	    strlen(c->hash_key) < 16)
		yerr_add(p->e, ydoc_line(p->d, n), "privacy: hash_key: too short (at least 16 characters)");

	if ((n = ydoc_get(p->d, root, "log_level")) != 0) {
		const char *s = ydoc_scalar(p->d, n);

		for (i = 0; s && levels[i]; i++)
			if (strcmp(s, levels[i]) == 0)
				break;
		if (!s || !levels[i])
			yerr_add(p->e, ydoc_line(p->d, n),
			         "log_level: unknown value '%.64s' (expected debug, info, warn or error)",
			         s ? s : "?");
		else
			config_read_str(p, n, "log_level", 8, 0, &c->log_level);
	}
	config_set_default(p, &c->log_level, "info");

	c->drain_timeout_s = 30;
	if ((n = ydoc_get(p->d, root, "drain_timeout")) != 0) {
		const char *v = ydoc_scalar(p->d, n);
		int64_t d = 0;
		if (!v || ydoc_parse_duration(v, &d) < 0 || d < 1 || d > 600)
			yerr_add(p->e, ydoc_line(p->d, n), "drain_timeout: '%.32s' is not a duration of 1s..10m",
			         v ? v : "");
		else
			c->drain_timeout_s = (int)d;
	}

	if ((sec = section(p, root, "sms_triggers")) != 0)
		parse_sms_triggers(p, sec);

	/* audit: the inspecting office's public key (docs/audit.md) */
	c->audit_keep_contact_days = 180;
	if ((sec = section(p, root, "audit")) != 0 &&
	    ydoc_check_map(p->d, sec, "audit", config_audit_keys, p->e) == 0) {
		const char *v, *end = NULL;
		size_t len = 0;
		if ((n = ydoc_get(p->d, sec, "public_key")) != 0 && !ydoc_is_null(p->d, n)) {
			v = ydoc_scalar(p->d, n);
			if (!v || sodium_base642bin(c->audit_public_key, sizeof c->audit_public_key, v, strlen(v),
			                            NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    *end || len != sizeof c->audit_public_key)
				yerr_add(p->e, ydoc_line(p->d, n),
				         "audit: public_key: '%.64s' is not a base64 X25519 public key (from hailong audit keygen)",
				         v ? v : "");
			else
				c->audit_has_key = 1;
		}
		config_read_int(p, sec, "keep_contact_days", "audit: keep_contact_days", 1, 3650,
		         &c->audit_keep_contact_days);
	}
}

int config_parse(const char *file, const char *yaml, size_t len, struct config **out, char *err,
                 size_t errlen)
{
	struct yerr e;
	struct cctx p;
	struct config *c = NULL;
	struct ydoc *d = NULL;
	int root, rc = -EINVAL;

	*out = NULL;
	yerr_init(&e, file, err, errlen);
	memset(&p, 0, sizeof p);
	p.e = &e;
	if (sodium_init() < 0) {
		yerr_add(&e, 0, "libsodium failed to initialise");
		goto fail;
	}
	if (len > CONFIG_MAX_FILE) {
		yerr_add(&e, 0, "too large (%zu bytes, at most %d)", len, CONFIG_MAX_FILE);
		goto fail;
	}
	c = calloc(1, sizeof *c);
	if (!c || !(c->file = strdup(file ? file : "<input>"))) {
		yerr_add(&e, 0, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	p.c = c;
	d = ydoc_load(yaml, yaml ? len : 0, &e);
	if (!d)
		goto fail;
	p.d = d;
	root = ydoc_root(d);
	if (ydoc_kind(d, root) != YDOC_MAP) {
		yerr_add(&e, ydoc_line(d, root), "the configuration must be a mapping of keys (smpp:, redis:, http: ...)");
		goto fail;
	}
	ydoc_check_map(d, root, "config", config_top_keys, &e);
	parse_sections(&p, root);
	if (p.nomem) {
		yerr_add(&e, 0, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	if (e.count > 0)
		goto fail;
	ydoc_free(d);
	*out = c;
	return 0;
fail:
	if (e.count == 0)
		yerr_add(&e, 0, "invalid configuration");
	ydoc_free(d);
	config_free(c);
	return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	rc = ydoc_read_file(path, CONFIG_MAX_FILE, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = config_parse(path, buf, len, out, err, errlen);
	sodium_memzero(buf, len); /* it held passwords and tokens */
	free(buf);
	return rc;
}

void config_where(const struct config *c, int line, char *out, size_t cap)
{
	if (line > 0)
		snprintf(out, cap, "%s:%d", c->file, line);
	else
		snprintf(out, cap, "%s", c->file);
}

int config_check_paths(const struct config *c, int storage, char *err, size_t errlen)
{
	char where[4200], dir[4096];
	struct stat st;
	int rc = 0;
	size_t used = 0;

	err[0] = '\0';
	DIR *d = opendir(c->campaigns_dir);
	if (d) {
		closedir(d);
	} else {
		rc = -errno;
		config_where(c, c->campaigns_line, where, sizeof where);
		used += (size_t)snprintf(err, errlen, "%s: campaigns: cannot read the folder '%s'%s: %s\n", where,
		                         c->campaigns_dir, c->campaigns_line ? "" : " (the default)", strerror(-rc));
	}
	/* the archive is created when missing, its folder is not */
	const char *slash = strrchr(c->sqlite_path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == c->sqlite_path ? 1 : (int)(slash - c->sqlite_path),
		         c->sqlite_path);
	int e = !storage ? 0 : stat(dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (e) {
		rc = rc ? rc : -e;
		config_where(c, c->sqlite_line, where, sizeof where);
		if (used < errlen)
			used += (size_t)snprintf(err + used, errlen - used, "%s: storage: sqlite: the folder '%s' of '%s'%s: %s\n",
			                         where, dir, c->sqlite_path, c->sqlite_line ? "" : " (the default)", strerror(e));
	}
	if (used > 0 && used < errlen && err[used - 1] == '\n')
		err[used - 1] = '\0';
	return rc;
}

int config_token_find(const struct config *c, const char *token)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	int i, found = -1;

	if (!c || !token || !*token)
		return -1;
	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	/* Compare against every token, without stopping early, in constant time. */
	for (i = 0; i < c->ntokens; i++)
		if (sodium_memcmp(h, c->tokens[i].sha256, sizeof h) == 0 && found < 0)
			found = i;
	return found;
}

const struct config_sms_trigger *config_sms_trigger_find(const struct config *c, const char *number)
{
	int i;

	if (!c || !number)
		return NULL;
	for (i = 0; i < c->nsms_triggers; i++)
		if (c->sms_triggers[i].number && strcmp(c->sms_triggers[i].number, number) == 0)
			return &c->sms_triggers[i];
	return NULL;
}

int config_token_allows(const struct config *c, int i, const char *agency)
{
	if (!c || i < 0 || i >= c->ntokens)
		return 0;
	return config_token_permits(&c->tokens[i], agency);
}

int config_token_permits(const struct config_token *t, const char *agency)
{
	int j;

	if (!t || !agency)
		return 0;
	for (j = 0; j < t->nagencies; j++) {
		const char *a = t->agencies[j];

		if (strcmp(a, "*") == 0 || strcmp(a, agency) == 0)
			return 1;
	}
	return 0;
}
