/* test_config: gateway configuration parsing, defaults, validation errors with line numbers, tokens. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "store.h"

#define ERRLEN 8192

static int parse(const char *yaml, struct config **c, char *err)
{
	return config_parse("h.yaml", yaml, strlen(yaml), c, err, ERRLEN);
}

/* The smallest valid configuration: one SMSC, everything else defaulted. */
#define SMSC "smpp:\n  - name: main\n    host: 127.0.0.1\n    port: 2775\n" \
             "    system_id: hailong\n    source_addr: \"8088\"\n"

static void test_minimal_defaults(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN];
	(void)state;

	assert_int_equal(parse(SMSC, &c, err), 0);
	assert_int_equal(c->nsmsc, 1);
	assert_string_equal(c->smsc[0].name, "main");
	assert_int_equal(c->smsc[0].port, 2775);
	assert_string_equal(c->smsc[0].password, "");
	assert_string_equal(c->smsc[0].system_type, "");
	assert_int_equal(c->smsc[0].bind_trx, 1);
	assert_int_equal(c->smsc[0].source_ton, -1);
	assert_int_equal(c->smsc[0].source_npi, -1);
	assert_int_equal(c->smsc[0].window, 10);
	assert_int_equal(c->smsc[0].tps, 50);
	assert_int_equal(c->smsc[0].enquire_link_s, 30);
	assert_int_equal(c->smsc[0].response_timeout_s, 30);
	assert_int_equal(c->smsc[0].nroutes, 0);
	assert_string_equal(c->redis_url, "redis://127.0.0.1:6379/0");
	assert_int_equal(c->lease_s, 15);
	assert_int_equal(c->drain_timeout_s, 30);
	assert_string_equal(c->sqlite_path, "var/hailong.db");
	assert_string_equal(c->http_listen, "127.0.0.1:8080");
	assert_string_equal(c->campaigns_dir, "config/campaigns");
	assert_string_equal(c->timezone, "Asia/Ho_Chi_Minh");
	assert_string_equal(c->log_level, "info");
	assert_null(c->hash_key);
	assert_int_equal(c->ntokens, 0);
	assert_int_equal(config_token_find(c, "anything"), -1);
	config_free(c);
	config_free(NULL);
}

static void test_full(void **state)
{
	static const char yaml[] =
		"smpp:\n"
		"  - name: main\n"
		"    host: smsc.example.vn\n"
		"    port: 2776\n"
		"    system_id: hailong\n"
		"    password: secret\n"
		"    system_type: VMA\n"
		"    bind: transmitter+receiver\n"
		"    source_addr: \"8088\"\n"
		"    source_ton: 3\n"
		"    source_npi: 0\n"
		"    window: 20\n"
		"    tps: 100\n"
		"    enquire_link_s: 15\n"
		"    response_timeout_s: 10\n"
		"    routes: [\"8496\", \"8497\"]\n"
		"  - {name: backup, host: \"::1\", port: 2777, system_id: b, source_addr: HAILONG}\n"
		"redis: {url: \"unix:/run/redis.sock\", lease: 1m}\n"
		"drain_timeout: 45s\n"
		"storage: {sqlite: /var/lib/hailong/h.db}\n"
		"http:\n"
		"  listen: \"[::1]:9090\"\n"
		"  tokens:\n"
		"    - name: a\n"
		"      token: \"change-me\"\n"
		"      agencies: [\"*\"]\n"
		"    - name: b\n"
		"      token_sha256: \"%s\"\n"
		"      agencies: [VP01, VP02]\n"
		"campaigns: /etc/hailong/campaigns\n"
		"timezone: Asia/Bangkok\n"
		"log_level: debug\n"
		"privacy: {hash_key: \"0123456789abcdef0123\"}\n";
	static const unsigned char change_me[32] = {
		0xe2, 0x18, 0x6d, 0xbd, 0xb1, 0xbb, 0x41, 0x93, 0x60, 0x86, 0x05,
		0xe8, 0x4f, 0x33, 0x20, 0x87, 0x65, 0xb5, 0x69, 0x3b, 0x55, 0xed,
		0xd4, 0xf7, 0x30, 0xa7, 0x19, 0xa1, 0x00, 0xee, 0xea, 0x6f};
	char text[4096];
	struct config *c = NULL;
	char err[ERRLEN];
	int rc;
	(void)state;

	/* sha256sum of "other-token", upper case to check hex parsing */
	snprintf(text, sizeof text, yaml,
	         "6C67163BBED989F232B31ACC4F04DF54B31285BFC01BD022C735B71E041A4754");
	rc = parse(text, &c, err);
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c->nsmsc, 2);
	assert_int_equal(c->smsc[0].bind_trx, 0);
	assert_int_equal(c->smsc[0].source_ton, 3);
	assert_int_equal(c->smsc[0].source_npi, 0);
	assert_int_equal(c->smsc[0].window, 20);
	assert_int_equal(c->smsc[0].tps, 100);
	assert_int_equal(c->smsc[0].nroutes, 2);
	assert_string_equal(c->smsc[0].routes[1], "8497");
	assert_string_equal(c->smsc[0].system_type, "VMA");
	assert_string_equal(c->smsc[1].name, "backup");
	assert_string_equal(c->smsc[1].host, "::1");
	assert_string_equal(c->redis_url, "unix:/run/redis.sock");
	assert_int_equal(c->lease_s, 60);
	assert_int_equal(c->drain_timeout_s, 45);
	assert_string_equal(c->http_listen, "[::1]:9090");
	assert_string_equal(c->timezone, "Asia/Bangkok");
	assert_string_equal(c->log_level, "debug");
	assert_string_equal(c->hash_key, "0123456789abcdef0123");
	assert_int_equal(c->ntokens, 2);
	assert_memory_equal(c->tokens[0].sha256, change_me, 32);

	assert_int_equal(config_token_find(c, "change-me"), 0);
	assert_int_equal(config_token_find(c, "other-token"), 1);
	assert_int_equal(config_token_find(c, "change-mf"), -1);
	assert_int_equal(config_token_find(c, ""), -1);
	assert_int_equal(config_token_find(c, NULL), -1);
	assert_true(config_token_allows(c, 0, "anything"));
	assert_true(config_token_allows(c, 1, "VP02"));
	assert_false(config_token_allows(c, 1, "VP03"));
	assert_false(config_token_allows(c, 1, "vp01"));
	assert_false(config_token_allows(c, 2, "VP01"));
	assert_false(config_token_allows(c, -1, "VP01"));
	config_free(c);
}

static const char *find_example(void)
{
	static const char *const paths[] = {"config/hailongd.yaml", "../config/hailongd.yaml",
	                                    "../../config/hailongd.yaml",
	                                    "../../../config/hailongd.yaml"};
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		FILE *f = fopen(paths[i], "r");

		if (f) {
			fclose(f);
			return paths[i];
		}
	}
	return NULL;
}

static void test_example_file(void **state)
{
	const char *path = find_example();
	struct config *c = NULL;
	char err[ERRLEN];
	int rc;
	(void)state;

	assert_non_null(path);
	rc = config_load(path, &c, err, sizeof err);
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->smsc[0].host, "127.0.0.1");
	assert_int_equal(c->smsc[0].port, 2775);
	assert_string_equal(c->redis_url, "redis://127.0.0.1:6379/0");
	assert_string_equal(c->sqlite_path, "var/hailong.db");
	assert_string_equal(c->campaigns_dir, "config/campaigns");
	assert_true(c->ntokens >= 1);
	config_free(c);

	assert_int_equal(config_load("/nonexistent/h.yaml", &c, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/h.yaml: cannot read"));
	assert_null(c);
}

#define TOK "http:\n  tokens:\n    - name: a\n"

static const struct {
	const char *yaml;
	const char *want;
} error_cases[] = {
	{"", "h.yaml:1: the file is empty"},
	{"smpp: [\n", "h.yaml:2: YAML syntax error"},
	{"- a\n", "h.yaml:1: the configuration must be a mapping"},
	{"redis: {url: embedded}\n", "h.yaml:1: missing required key 'smpp'"},
	{"smpp: []\n", "h.yaml:1: smpp: expected a list of at least one SMSC"},
	{SMSC "colour: red\n", "h.yaml:7: config: unknown key 'colour'"},
	{SMSC "    colour: red\n", "h.yaml:7: smpp main: unknown key 'colour'"},
	{SMSC "smpp: []\n", "h.yaml:7: config: duplicate key 'smpp' (first on line 1)"},
	{"smpp:\n  - host: h\n    port: 1\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:2: smpp 1: missing required key 'name'"},
	{"smpp:\n  - name: m\n    port: 1\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:2: smpp m: missing required key 'host'"},
	{"smpp:\n  - name: m\n    host: h\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:2: smpp m: missing required key 'port'"},
	{"smpp:\n  - name: m\n    host: h\n    port: 1\n    source_addr: a\n",
	 "h.yaml:2: smpp m: missing required key 'system_id'"},
	{"smpp:\n  - name: m\n    host: h\n    port: 1\n    system_id: s\n",
	 "h.yaml:2: smpp m: missing required key 'source_addr'"},
	{"smpp:\n  - name: m\n    host: h\n    port: 70000\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:4: smpp m: port: 70000 is out of range (1..65535)"},
	{"smpp:\n  - name: m\n    host: h\n    port: 0\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:4: smpp m: port: 0 is out of range (1..65535)"},
	{"smpp:\n  - name: m\n    host: h\n    port: http\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:4: smpp m: port: expected a whole number, found 'http'"},
	{"smpp:\n  - name: m\n    host: h b\n    port: 1\n    system_id: s\n    source_addr: a\n",
	 "h.yaml:3: smpp m: host: 'h b' is not a host name or address"},
	{SMSC "    system_type: \"\"\n    password: toolongpw\n",
	 "h.yaml:8: smpp main: password: 'toolongpw' is too long (9 characters, at most 8)"},
	{"smpp:\n  - name: m\n    host: h\n    port: 1\n    system_id: sixteen-chars-xx\n"
	 "    source_addr: a\n",
	 "h.yaml:5: smpp m: system_id: 'sixteen-chars-xx' is too long (16 characters, at most 15)"},
	{SMSC "    bind: receiver\n", "h.yaml:7: smpp main: bind: unknown value 'receiver'"},
	{SMSC "    window: 0\n", "h.yaml:7: smpp main: window: 0 is out of range"},
	{SMSC "    tps: -5\n", "h.yaml:7: smpp main: tps: -5 is out of range"},
	{SMSC "    source_ton: 9\n", "h.yaml:7: smpp main: source_ton: 9 is out of range (0..6)"},
	{SMSC "    routes: [\"8496\", \"84a7\"]\n",
	 "h.yaml:7: smpp main: routes: '84a7' is not a prefix of digits"},
	{SMSC "    routes: [\"+8496\"]\n",
	 "h.yaml:7: smpp main: routes: '+8496' is not a prefix of digits"},
	{SMSC "    routes: \"8496\"\n", "h.yaml:7: smpp main: routes: expected a list"},
	{SMSC "    routes: [\"8496\"]\n"
	      "  - {name: b, host: h, port: 1, system_id: s, source_addr: a, routes: [\"8496\"]}\n",
	 "h.yaml:8: smpp b: routes: prefix 8496 is already routed to smsc main"},
	{SMSC "  - {name: main, host: h, port: 1, system_id: s, source_addr: a}\n",
	 "h.yaml:7: smpp main: name: the name 'main' is already used by another smsc"},
	{SMSC "redis: {url: \"http://x\"}\n",
	 "h.yaml:7: redis: url: 'http://x' is not redis://host:port/db"},
	{SMSC "redis: {url: \"redis://h:99999/0\"}\n", "h.yaml:7: redis: url:"},
	{SMSC "redis: {lease: 2s}\n", "h.yaml:7: redis: lease: '2s' is not a duration of 5s..10m"},
	{SMSC "redis: {lease: forever}\n", "h.yaml:7: redis: lease: 'forever' is not a duration of 5s..10m"},
	{SMSC "drain_timeout: 0s\n", "h.yaml:7: drain_timeout: '0s' is not a duration of 1s..10m"},
	{SMSC "drain_timeout: 1h\n", "h.yaml:7: drain_timeout: '1h' is not a duration of 1s..10m"},
	{SMSC "redis: {url: \"redis://:6379/0\"}\n", "h.yaml:7: redis: url:"},
	{SMSC "redis: {url: \"redis://h:6379/x\"}\n", "h.yaml:7: redis: url:"},
	{SMSC "redis: {url: \"unix:\"}\n", "h.yaml:7: redis: url:"},
	{SMSC "redis:\n  host: h\n", "h.yaml:8: redis: unknown key 'host'"},
	{SMSC "http: {listen: \"127.0.0.1\"}\n", "h.yaml:7: http: listen: '127.0.0.1' is not host:port"},
	{SMSC "http: {listen: \"127.0.0.1:0\"}\n", "h.yaml:7: http: listen:"},
	{SMSC TOK "      agencies: [\"*\"]\n", "h.yaml:9: http: token a: needs token or token_sha256"},
	{SMSC TOK "      token: change-me\n      token_sha256: \"00\"\n      agencies: [x]\n",
	 "h.yaml:11: http: token a: give token or token_sha256, not both"},
	{SMSC TOK "      token_sha256: \"abc\"\n      agencies: [x]\n",
	 "h.yaml:10: http: token a: token_sha256: expected 64 hexadecimal digits"},
	{SMSC TOK "      token_sha256: \"6c67163bbed989f232b31acc4f04df54b31285bfc01bd022c735b71e041a475g\"\n"
	          "      agencies: [x]\n",
	 "h.yaml:10: http: token a: token_sha256: expected 64 hexadecimal digits"},
	{SMSC TOK "      token: change-me\n",
	 "h.yaml:9: http: token a: missing required key 'agencies'"},
	{SMSC TOK "      token: change-me\n      agencies: []\n",
	 "h.yaml:11: http: token a: agencies: expected a non-empty list"},
	{SMSC TOK "      token: short\n      agencies: [x]\n",
	 "h.yaml:10: http: token a: token: too short"},
	{SMSC TOK "      token: change-me\n      agencies: [x]\n    - name: a\n      token: change-me2\n"
	          "      agencies: [x]\n",
	 "h.yaml:12: http: token a: name: the name 'a' is already used by another token"},
	{SMSC TOK "      token: change-me-1\n      agencies: [\"*\"]\n    - name: b\n      token: change-me-1\n"
	          "      agencies: [ca-x]\n",
	 "h.yaml:13: http: token b: the same token as a"},
	{SMSC TOK "      token: change-me-1\n      agencies: [\"*\"]\n    - name: b\n"
	          "      token_sha256: \"A39C91D9037E1E70C6AFAB8D24AC59CD5B39DE8C97A7C596E6ED9D1A52584CD2\"\n      agencies: [x]\n",
	 "h.yaml:13: http: token b: the same token as a"},
	{SMSC TOK "      token: change-me\n      agencies: [x]\n      scope: all\n",
	 "h.yaml:12: http: token a: unknown key 'scope'"},
	{SMSC "http: {tokens: {a: b}}\n", "h.yaml:7: http: tokens: expected a list"},
	{SMSC "timezone: \"../../etc/passwd\"\n", "h.yaml:7: timezone: '../../etc/passwd' is neither a time zone"},
	{SMSC "timezone: Asia/Atlantis\n", "h.yaml:7: timezone: 'Asia/Atlantis' is neither a time zone installed here"},
	{SMSC "timezone: \"+15:00\"\n", "h.yaml:7: timezone: '+15:00' is neither"},
	{SMSC "timezone: \"+07:61\"\n", "h.yaml:7: timezone: '+07:61' is neither"},
	{SMSC "log_level: verbose\n", "h.yaml:7: log_level: unknown value 'verbose'"},
	{SMSC "privacy: {hash_key: short}\n", "h.yaml:7: privacy: hash_key: too short"},
	{SMSC "storage: {sqlite: \"\"}\n", "h.yaml:7: storage: sqlite: must not be empty"},
	{SMSC "campaigns: [a]\n", "h.yaml:7: campaigns: expected a text, found a list"},
	{SMSC "    long_messages: split\n", "h.yaml:7: smpp main: long_messages: unknown value 'split'"},
	{SMSC "    retry: [1]\n", "h.yaml:7: smpp main: retry: expected a mapping"},
	{SMSC "    retry:\n      ESME_RFOO: {tries: 2}\n",
	 "h.yaml:8: smpp main: retry: unknown status 'ESME_RFOO'"},
	{SMSC "    retry:\n      ESME_ROK: {tries: 2}\n", "h.yaml:8: smpp main: retry: ESME_ROK: ESME_ROK is not an error"},
	{SMSC "    retry:\n      0x58: {tries: 2}\n      ESME_RTHROTTLED: {tries: 3}\n",
	 "h.yaml:9: smpp main: retry: ESME_RTHROTTLED: status 0x58 is listed twice"},
	{SMSC "    retry:\n      default: {delay: 1s}\n",
	 "h.yaml:8: smpp main: retry: default: missing required key 'tries'"},
	{SMSC "    retry:\n      default: {tries: 0}\n",
	 "h.yaml:8: smpp main: retry: default: tries: 0 is out of range (1..1000)"},
	{SMSC "    retry:\n      0x458: {tries: 2, delay: soon}\n",
	 "h.yaml:8: smpp main: retry: 0x458: delay: bad delay 'soon'"},
	{SMSC "    retry:\n      0x458: {tries: 2, delay: 2d}\n",
	 "h.yaml:8: smpp main: retry: 0x458: delay: bad delay '2d'"},
	{SMSC "    retry:\n      0x458: {tries: 2, wait: 1s}\n",
	 "h.yaml:8: smpp main: retry: 0x458: unknown key 'wait'"},
	{SMSC "sms_triggers: {number: x}\n", "h.yaml:7: sms_triggers: expected a list"},
	{SMSC "sms_triggers:\n  - {number: \"12345\", agency: a, campaign: default}\n",
	 "h.yaml:8: sms_triggers 1: number: '12345' is not a mobile number"},
	{SMSC "sms_triggers:\n  - {number: \"0912345678\", campaign: default}\n",
	 "h.yaml:8: sms_triggers 1: missing required key 'agency'"},
	{SMSC "sms_triggers:\n  - {number: \"0912345678\", agency: a}\n",
	 "h.yaml:8: sms_triggers 1: missing required key 'campaign'"},
	{SMSC "sms_triggers:\n  - {number: \"0912345678\", agency: \"a b\", campaign: default}\n",
	 "h.yaml:8: sms_triggers 1: agency: 'a b' may hold only letters"},
	{SMSC "sms_triggers:\n  - {number: \"0912345678\", agency: a, campaign: default, x: 1}\n",
	 "h.yaml:8: sms_triggers 1: unknown key 'x'"},
	{SMSC "sms_triggers:\n  - {number: \"0912345678\", agency: a, campaign: c}\n"
	      "  - {number: \"+84 912 345 678\", agency: b, campaign: c}\n",
	 "h.yaml:9: sms_triggers 2: number: 84912345678 is already listed (sms_triggers 1)"},
	/* ussd: (SPEC §9) */
	{SMSC "    ussd: {service_type: USSD}\n", "h.yaml:7: smpp main: ussd: missing required key 'service_code'"},
	{SMSC "    ussd: \"*8088#\"\n", "h.yaml:7: smpp main: ussd: expected a map"},
	{SMSC "    ussd: {service_code: \"*80x#\"}\n", "h.yaml:7: smpp main: ussd: service_code: '*80x#' is not a USSD code"},
	{SMSC "    ussd: {service_code: \"*8088#\", colour: red}\n", "h.yaml:7: smpp main: ussd: unknown key 'colour'"},
	{SMSC "    ussd: {service_code: \"*8088#\", service_type: TOOLONG}\n",
	 "h.yaml:7: smpp main: ussd: service_type: 'TOOLONG' is too long"},
	{SMSC "    ussd: {service_code: \"*8088#\", session_timeout: 2s}\n",
	 "h.yaml:7: smpp main: ussd: session_timeout: '2s' is not a duration of 5s..1h"},
	{SMSC "    ussd:\n      service_code: \"*8088#\"\n      ops: {ussr_request: 300}\n",
	 "h.yaml:9: smpp main: ussd: ops: ussr_request"},
	{SMSC "    ussd:\n      service_code: \"*8088#\"\n      ops: {ussr_request: 18}\n",
	 "h.yaml:9: smpp main: ussd: ops: ussr_request and ussr_confirm are both 18"},
	{SMSC "    ussd:\n      service_code: \"*8088#\"\n      ops: {released: 32}\n",
	 "h.yaml:9: smpp main: ussd: ops: unknown key 'released'"},
};

/* ussd: defaults, vendor op values, an entry without it */
static void test_ussd(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN];
	(void)state;
	const char *y = SMSC
	    "    ussd: {service_code: \"*8088#\"}\n"
	    "  - name: vendor\n    host: 127.0.0.1\n    port: 2776\n    system_id: v\n    source_addr: \"8089\"\n"
	    "    routes: [\"8498\"]\n"
	    "    ussd:\n"
	    "      service_code: \"*123*4#\"\n"
	    "      service_type: \"\"\n"
	    "      ops: {pssr_indication: 0x12, pssr_response: 0x11, ussr_request: 0x21, ussr_confirm: 0x22}\n"
	    "      session_timeout: 1m\n"
	    "  - {name: sms, host: 127.0.0.1, port: 2777, system_id: s, source_addr: \"8090\", routes: [\"8497\"]}\n";

	if (parse(y, &c, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(c->nsmsc, 3);
	const struct config_smsc *a = &c->smsc[0], *b = &c->smsc[1];
	assert_int_equal(a->has_ussd, 1);
	assert_string_equal(a->ussd_service_code, "*8088#");
	assert_string_equal(a->ussd_service_type, "USSD");
	assert_int_equal(a->ussd_op_pssr_indication, 1);
	assert_int_equal(a->ussd_op_pssr_response, 17);
	assert_int_equal(a->ussd_op_ussr_request, 2);
	assert_int_equal(a->ussd_op_ussr_confirm, 18);
	assert_int_equal(a->ussd_session_timeout_s, 180);
	assert_int_equal(b->has_ussd, 1);
	assert_string_equal(b->ussd_service_code, "*123*4#");
	assert_string_equal(b->ussd_service_type, "");
	assert_int_equal(b->ussd_op_pssr_indication, 0x12);
	assert_int_equal(b->ussd_op_pssr_response, 0x11);
	assert_int_equal(b->ussd_op_ussr_request, 0x21);
	assert_int_equal(b->ussd_op_ussr_confirm, 0x22);
	assert_int_equal(b->ussd_session_timeout_s, 60);
	assert_int_equal(c->smsc[2].has_ussd, 0);
	assert_null(c->smsc[2].ussd_service_code);
	config_free(c);
}

/* retry:, long_messages:, several smpp entries, sms_triggers: */
static void test_smpp_extras(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN];
	(void)state;
	const char *y = SMSC
	    "    bind: transmitter+receiver\n"
	    "    long_messages: sar\n"
	    "    retry:\n"
	    "      ESME_RTHROTTLED: {tries: 20, delay: 30s}\n"
	    "      ESME_RMSGQFUL: {tries: 2, delay: 3m}\n"
	    "      0x458: {tries: 3, delay: 500ms}\n"
	    "      default: {tries: 5, delay: 1}\n"
	    "      timeout: {tries: 2}\n"
	    "  - {name: second, host: 10.0.0.2, port: 2776, system_id: s, source_addr: \"8088\","
	    " routes: [\"8498\"], long_messages: payload}\n"
	    "  - {name: third, host: smsc.example.vn, port: 2777, system_id: s, source_addr: HAILONG}\n"
	    "sms_triggers:\n"
	    "  - number: \"0912 345 678\"\n"
	    "    agency: ca-vinhphuc\n"
	    "    campaign: default\n"
	    "  - {number: \"+84987654321\", agency: tp-vinhyen, campaign: one-stop_2026}\n";

	if (parse(y, &c, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(c->nsmsc, 3);
	const struct config_smsc *s = &c->smsc[0];
	assert_int_equal(s->bind_trx, 0);
	assert_int_equal(s->long_messages, CONFIG_LONG_SAR);
	assert_int_equal(s->nretry, 5);
	assert_int_equal(s->retry[0].status, 0x58);
	assert_int_equal(s->retry[0].tries, 20);
	assert_int_equal(s->retry[0].delay_ms, 30000);
	assert_int_equal(s->retry[1].status, 0x14);
	assert_int_equal(s->retry[1].delay_ms, 180000);
	assert_int_equal(s->retry[2].status, 0x458);
	assert_int_equal(s->retry[2].delay_ms, 500);
	assert_int_equal(s->retry[3].status, CONFIG_RETRY_DEFAULT);
	assert_int_equal(s->retry[3].delay_ms, 1000);
	assert_int_equal(s->retry[4].status, CONFIG_RETRY_TIMEOUT);
	assert_int_equal(s->retry[4].tries, 2);
	assert_int_equal(s->retry[4].delay_ms, 1000);
	assert_int_equal(c->smsc[1].long_messages, CONFIG_LONG_PAYLOAD);
	assert_int_equal(c->smsc[1].nroutes, 1);
	assert_int_equal(c->smsc[2].long_messages, CONFIG_LONG_UDH);
	assert_int_equal(c->smsc[2].nretry, 0);
	assert_int_equal(c->nsms_triggers, 2);
	assert_string_equal(c->sms_triggers[0].number, "84912345678");
	assert_string_equal(c->sms_triggers[0].agency, "ca-vinhphuc");
	assert_string_equal(c->sms_triggers[0].campaign, "default");
	assert_string_equal(c->sms_triggers[1].number, "84987654321");
	assert_ptr_equal(config_sms_trigger_find(c, "84987654321"), &c->sms_triggers[1]);
	assert_null(config_sms_trigger_find(c, "84900000000"));
	config_free(c);
}

static void test_errors(void **state)
{
	size_t i;
	(void)state;

	for (i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		struct config *c = (struct config *)1;
		char err[ERRLEN];
		int rc = parse(error_cases[i].yaml, &c, err);

		if (rc != -EINVAL || !strstr(err, error_cases[i].want))
			fail_msg("case %zu: rc=%d\nwant: %s\ngot:\n%s", i, rc, error_cases[i].want, err);
		assert_null(c);
	}
}

static void test_collects_all(void **state)
{
	static const char yaml[] =
		"smpp:\n"
		"  - name: main\n"
		"    host: h\n"
		"    port: 99999\n"
		"    system_id: s\n"
		"    password: far-too-long\n"
		"    source_addr: a\n"
		"log_level: loud\n";
	struct config *c = NULL;
	char err[ERRLEN];
	(void)state;

	assert_int_equal(parse(yaml, &c, err), -EINVAL);
	assert_non_null(strstr(err, "h.yaml:4: smpp main: port"));
	assert_non_null(strstr(err, "h.yaml:6: smpp main: password"));
	assert_non_null(strstr(err, "h.yaml:8: log_level"));
}

static void test_redis_urls(void **state)
{
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
		{"redis://127.0.0.1:6379/0", 1}, {"redis://localhost", 1}, {"redis://h:6380", 1},
		{"redis://[::1]:6379/2", 1}, {"unix:/tmp/r.sock", 1}, {"embedded", 1},
		{"redis://[::1]", 1}, {"redis://[::1]/3", 1}, {"redis://h:6379/255", 1}, {"redis://h/20", 1},
		{"redis://*:6379/0", 0},
		{"redis://h:6379/", 0}, {"redis://h:/0", 0}, {"redis://h:6379/256", 0},
		{"redis://user@h:6379/0", 0}, {"redis:/h", 0}, {"Embedded", 0}, {"", 0},
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char yaml[512], err[ERRLEN];
		struct config *c = NULL;
		int rc;

		snprintf(yaml, sizeof yaml, SMSC "redis: {url: \"%s\"}\n", cases[i].url);
		rc = parse(yaml, &c, err);
		if ((rc == 0) != cases[i].ok)
			fail_msg("url '%s': rc=%d %s", cases[i].url, rc, err);
		/* what the config takes, the Redis wrapper takes: else hailongd
		 * stopped at start with no file:line ("bad redis url") */
		if (rc == 0 && strcmp(cases[i].url, "embedded") != 0) {
			struct store *st = store_new(c->redis_url, err, sizeof err);
			if (!st)
				fail_msg("url '%s' passes the config but not store_new: %s", cases[i].url, err);
			store_free(st);
		}
		config_free(c);
	}
}

static void test_garbage(void **state)
{
	static const char *const fixed[] = {
		"~", "42", "[]", "{}", "smpp:", "smpp: ~", "smpp: [~, 1, [], {}]", "smpp: {}",
		"http: {tokens: [~, [], x, {}]}", "privacy:", "redis: [x]", "? [a]\n: b",
		"smpp: &a [*a]", "smpp: [{routes: [[], {}, ~]}]", "http: {tokens: [{agencies: [[]]}]}",
	};
	const char *path = find_example();
	char *base;
	FILE *f;
	long len;
	unsigned seed = 777;
	size_t i;
	int iter;
	(void)state;

	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		struct config *c = NULL;
		char err[256];
		int rc = config_parse("g.yaml", fixed[i], strlen(fixed[i]), &c, err, sizeof err);

		assert_true(rc == 0 || rc == -EINVAL);
		config_free(c);
	}
	assert_non_null(path);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	base = malloc((size_t)len + 1);
	assert_non_null(base);
	assert_int_equal(fread(base, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (iter = 0; iter < 3000; iter++) {
		char *m = malloc((size_t)len + 1);
		struct config *c = NULL;
		char err[256];
		size_t mlen = (size_t)len;
		int k, rc;

		assert_non_null(m);
		memcpy(m, base, (size_t)len);
		for (k = 0; k < 3; k++) {
			size_t pos;

			seed = seed * 1103515245u + 12345u;
			pos = (seed >> 8) % mlen;
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 3 == 0) {
				memmove(m + pos, m + pos + 1, mlen - pos - 1);
				mlen--;
			} else {
				m[pos] = "[]{}:-#&*!|>'\"\n \t,?0x"[(seed >> 4) % 22];
			}
		}
		rc = config_parse("g.yaml", m, mlen, &c, err, sizeof err);
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc)
			assert_null(c);
		config_free(c);
		free(m);
	}
	free(base);
}

/* What SIGHUP compares: the same entry with other routes is the same session;
 * any other key (tps, password, retry, ussd ops) makes a new one. */
static void test_smsc_same_link(void **state)
{
	(void)state;
	static const char *const base =
		"smpp:\n  - {name: m, host: 127.0.0.1, port: 2775, system_id: s, password: p, source_addr: \"8088\","
		" tps: 50, routes: [\"8491\"], retry: {ESME_RTHROTTLED: {tries: 3, delay: 1s}},"
		" ussd: {service_code: \"*8088#\", ops: {ussr_confirm: 18}}}\n";
	static const struct {
		const char *from, *to;
		int same;
	} cases[] = {
		{"routes: [\"8491\"]", "routes: [\"8491\", \"8496\"]", 1},
		{"routes: [\"8491\"]", "routes: []", 1},
		{"tps: 50", "tps: 40", 0},
		{"password: p", "password: q", 0},
		{"port: 2775", "port: 2776", 0},
		{"tries: 3", "tries: 4", 0},
		{"ussr_confirm: 18", "ussr_confirm: 19", 0},
		{"source_addr: \"8088\"", "source_addr: \"8089\"", 0},
	};
	char err[ERRLEN], buf[1024];
	struct config *a = NULL, *b = NULL;
	assert_int_equal(parse(base, &a, err), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *at = strstr(base, cases[i].from);
		assert_non_null(at);
		snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - base), base, cases[i].to, at + strlen(cases[i].from));
		if (parse(buf, &b, err) != 0)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(config_smsc_same_link(&a->smsc[0], &b->smsc[0]), cases[i].same);
		config_free(b);
		b = NULL;
	}
	assert_int_equal(config_smsc_same_link(&a->smsc[0], &a->smsc[0]), 1);
	config_free(a);
}

/* An SMSC's host as getaddrinfo takes it: "[::1]" is kept as "::1" (it was
 * kept with its brackets and never resolved: resolve_failed at each try),
 * and "*", which means anywhere for a listener, is no host to connect to. */
static void test_smsc_host(void **state)
{
	static const struct {
		const char *host, *want; /* want NULL: refused */
	} cases[] = {
		{"\"[::1]\"", "::1"}, {"\"::1\"", "::1"}, {"127.0.0.1", "127.0.0.1"}, {"smsc.example.vn", "smsc.example.vn"},
		{"\"*\"", NULL}, {"\"[::1\"", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char yaml[512], err[ERRLEN];
		struct config *c = NULL;
		snprintf(yaml, sizeof yaml,
		         "smpp:\n  - name: main\n    host: %s\n    port: 2775\n    system_id: hailong\n"
		         "    source_addr: \"8088\"\n",
		         cases[i].host);
		int rc = parse(yaml, &c, err);
		if (cases[i].want) {
			if (rc != 0)
				fail_msg("host %s refused: %s", cases[i].host, err);
			assert_string_equal(c->smsc[0].host, cases[i].want);
		} else {
			if (rc == 0)
				fail_msg("host %s accepted as '%s'", cases[i].host, c->smsc[0].host);
			assert_non_null(strstr(err, "h.yaml:3: smpp main: host: "));
		}
		config_free(c);
	}
}

/* The folders a start needs are checked after loading, each error with the
 * line of its key (SPEC §4: file:line), or "(the default)" when absent. */
static void test_check_paths(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN];
	(void)state;

	assert_int_equal(parse(SMSC "storage:\n  sqlite: /nonexistent-hl/dir/h.db\n"
	                              "campaigns: /nonexistent-hl/campaigns\n",
	                       &c, err),
	                 0);
	assert_int_equal(config_check_paths(c, 1, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "h.yaml:9: campaigns: cannot read the folder '/nonexistent-hl/campaigns'"));
	assert_non_null(strstr(err, "h.yaml:8: storage: sqlite: the folder '/nonexistent-hl/dir'"));
	config_free(c);

	assert_int_equal(parse(SMSC "storage:\n  sqlite: /etc/passwd/h.db\ncampaigns: /\n", &c, err), 0);
	assert_int_equal(config_check_paths(c, 1, err, sizeof err), -ENOTDIR);
	assert_non_null(strstr(err, "h.yaml:8: storage: sqlite: the folder '/etc/passwd'"));
	assert_null(strstr(err, "campaigns"));
	assert_int_equal(config_check_paths(c, 0, err, sizeof err), 0); /* --check: not the state folder */
	config_free(c);

	assert_int_equal(parse(SMSC "storage:\n  sqlite: /h.db\ncampaigns: /tmp\n", &c, err), 0);
	assert_int_equal(config_check_paths(c, 1, err, sizeof err), 0); /* a file at the root: its folder is / */
	config_free(c);

	assert_int_equal(parse(SMSC "storage:\n  sqlite: h.db\ncampaigns: /nonexistent-hl\n", &c, err), 0);
	assert_int_equal(config_check_paths(c, 1, err, sizeof err), -ENOENT); /* h.db: in the working folder */
	assert_null(strstr(err, "storage"));
	config_free(c);

	assert_int_equal(parse(SMSC, &c, err), 0); /* both defaulted (config/campaigns, var/hailong.db) */
	if (config_check_paths(c, 1, err, sizeof err) < 0)
		assert_non_null(strstr(err, "h.yaml: "));
	if (strstr(err, "campaigns"))
		assert_non_null(strstr(err, "h.yaml: campaigns: cannot read the folder 'config/campaigns' (the default)"));
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_collects_all),
		cmocka_unit_test(test_redis_urls),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_smpp_extras),
		cmocka_unit_test(test_ussd),
		cmocka_unit_test(test_smsc_same_link),
		cmocka_unit_test(test_check_paths),
		cmocka_unit_test(test_smsc_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
