/* test_route: which SMPP entry a number goes to (gw_route, gw_ussd_route), with entries a reload retired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "gw_int.h"

#define ERRLEN 8192

/* Three entries: a (routes 8491, 84912), b (no routes: the default), c (USSD, routes 8498). */
static const char yaml[] =
	"smpp:\n"
	"  - {name: a, host: 127.0.0.1, port: 1, system_id: x, source_addr: \"8088\", routes: [\"8491\", \"84912\"]}\n"
	"  - {name: b, host: 127.0.0.1, port: 2, system_id: x, source_addr: \"8088\"}\n"
	"  - {name: c, host: 127.0.0.1, port: 3, system_id: x, source_addr: \"8088\", routes: [\"8498\"],\n"
	"     ussd: {service_code: \"*8088#\"}}\n";

static void test_route_retired(void **state)
{
	(void)state;
	struct config *c = NULL;
	char err[ERRLEN];
	assert_int_equal(config_parse("r.yaml", yaml, strlen(yaml), &c, err, sizeof err), 0);
	struct gw *g = calloc(1, sizeof *g);
	assert_non_null(g);
	g->cfg = c;
	assert_int_equal(gw_route(g, "84912345678"), 0);
	assert_int_equal(gw_route(g, "84981234567"), 2);
	assert_int_equal(gw_route(g, "84351234567"), 1); /* no route matches: the default */
	assert_int_equal(gw_ussd_route(g, "84351234567"), 2);
	/* a removed: its numbers go to the default; the others keep their index */
	c->smsc[0].retired = 1;
	assert_int_equal(gw_route(g, "84912345678"), 1);
	assert_int_equal(gw_route(g, "84981234567"), 2);
	/* b removed too: no default left, the first entry in use takes the rest */
	c->smsc[1].retired = 1;
	assert_int_equal(gw_route(g, "84912345678"), 2);
	assert_int_equal(gw_route(g, "84351234567"), 2);
	/* a retired USSD link is never picked (gw_reload clears has_ussd with retired) */
	c->smsc[0].retired = 0;
	c->smsc[2].retired = 1;
	c->smsc[2].has_ussd = 0;
	assert_int_equal(gw_route(g, "84981234567"), 0);
	assert_int_equal(gw_ussd_route(g, "84981234567"), -1);
	free(g);
	config_free(c);
}

/* gw_random: draws across pool refills never repeat (64-bit draws: a
 * repeat in 2000 would mean a broken pool), big draws bypass the pool. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_random_pool(void **state)
{
	(void)state;
	enum { N = 2000 }; /* 16 000 bytes: the 4 KiB pool is refilled three times */
	uint64_t *v = calloc(N, sizeof *v);
	assert_non_null(v);
	for (int i = 0; i < N; i++)
		gw_random(&v[i], sizeof v[i]);
	qsort(v, N, sizeof *v, cmp_u64);
	for (int i = 1; i < N; i++)
		assert_true(v[i] != v[i - 1]);
	unsigned char big[3000] = {0}, zero[3000] = {0};
	gw_random(big, sizeof big);
	assert_true(memcmp(big, zero, sizeof big) != 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_retired),
		cmocka_unit_test(test_random_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
