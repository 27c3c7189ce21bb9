/* test_record: trigger times as the API accepts them, and the survey hash written and read back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>


#include "record.h"
#include "store.h"

static const struct {
	const char *in;
	int64_t want; /* -1 = refused */
} times[] = {
	{"2026-11-21T10:00:00Z", 1795255200},
	{"2026-11-21T10:00:00", 1795255200},
	{"2026-11-21T17:00:00+07:00", 1795255200},
	{"2026-11-21T09:30:00-00:30", 1795255200},
	{"2026-11-21T10:00:00.123Z", 1795255200},
	{"2026-11-21T10:00:00.5+00:00", 1795255200},
	{"2026-11-21T17:00:00+7:0", -1},   /* one-digit zone: once read past the end */
	{"2026-11-21T17:00:00+07", -1},
	{"2026-11-21T17:00:00+07:00x", -1},
	{"2026-11-21T17:00:00+15:00", -1},
	{"2026-11-21T17:00:00+07:60", -1},
	{"2026-11-21T17:00:00+", -1},
	{"2026-11-21T17:00:00.Z", -1},
	{"2026-11-21", -1},
	{"2026-02-30T10:00:00Z", -1},      /* not a real day: once taken as March 2 */
	{"2026-04-31T10:00:00+07:00", -1},
	{"2028-02-29T10:00:00Z", 1835431200}, /* a leap day */
	{"yesterday", -1},
	{"", -1},
};

static void test_parse_time(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		int64_t t = 0;
		int rc = record_parse_time(times[i].in, &t);
		if (times[i].want < 0) {
			if (rc != -EINVAL)
				fail_msg("'%s' accepted as %lld", times[i].in, (long long)t);
		} else {
			if (rc != 0)
				fail_msg("'%s' refused", times[i].in);
			assert_int_equal(t, times[i].want);
		}
	}
	char iso[21];
	record_iso8601(1795255200, iso);
	assert_string_equal(iso, "2026-11-21T10:00:00Z");
}

/* The strings of a growable vector are copies, and addf refuses what does not fit. */
static void test_strv(void **state)
{
	(void)state;
	struct record_strv sv = {0};
	char buf[8] = "abc";
	for (int i = 0; i < 100; i++)
		assert_int_equal(record_strv_addf(&sv, "k%d", i), 0);
	assert_int_equal(record_strv_add(&sv, buf), 0);
	buf[0] = 'x';
	assert_string_equal(sv.v[100], "abc");
	assert_string_equal(sv.v[99], "k99");
	char big[400];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(record_strv_addf(&sv, "%s", big), -EINVAL);
	assert_int_equal(sv.n, 101);
	record_strv_free(&sv);
	assert_int_equal(sv.n, 0);
}

/* An HGETALL reply made of field/value strings (what Redis gives back), as
 * the typed verbs hand it over (store.h). */
static void fake_list(char **kv, int n, struct store_list *l, struct store_item *items)
{
	for (int i = 0; i < n; i++) {
		memset(&items[i], 0, sizeof items[i]);
		items[i].kind = STORE_STR;
		items[i].s = kv[i];
		items[i].len = strlen(kv[i]);
	}
	l->n = (size_t)n;
	l->e = items;
}

/* The same on the heap (fake_free). */
static struct store_list *fake_hash(char **kv, int n)
{
	struct store_list *l = calloc(1, sizeof *l);
	fake_list(kv, n, l, calloc((size_t)n, sizeof *l->e));
	return l;
}

static void fake_free(struct store_list *l)
{
	free(l->e);
	free(l);
}

/* The survey hash's meta: short names, nothing written for an absent
 * procedure, completed_at or the sms channel; read back the same; a hash of
 * the older long names still reads. */
static void test_meta_round_trip(void **state)
{
	(void)state;
	static const struct {
		const char *procedure, *channel;
		int64_t completed_at;
		int nfields;  /* field/value strings written */
	} t[] = {
		{"", "sms", 0, 16},
		{"HS-1", "sms", 0, 18},
		{"", "ussd", 1795255200, 20},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct record_meta m, back;
		memset(&m, 0, sizeof m);
		snprintf(m.id, sizeof m.id, "0123456789abcdef");
		snprintf(m.campaign, sizeof m.campaign, "default");
		snprintf(m.cver, sizeof m.cver, "8d114ca4b5646f6a");
		snprintf(m.msisdn, sizeof m.msisdn, "84912000001");
		snprintf(m.agency, sizeof m.agency, "ca-vinhphuc");
		snprintf(m.procedure, sizeof m.procedure, "%s", t[i].procedure);
		snprintf(m.txid, sizeof m.txid, "TX-%zu", i);
		snprintf(m.channel, sizeof m.channel, "%s", t[i].channel);
		m.triggered_at = 1795255100;
		m.completed_at = t[i].completed_at;
		struct record_strv sv = {0};
		assert_int_equal(record_meta_fields(&m, &sv), 0);
		assert_int_equal(sv.n, t[i].nfields);
		struct store_list *r = fake_hash(sv.v, sv.n);
		memset(&back, 0, sizeof back);
		snprintf(back.id, sizeof back.id, "%s", m.id);
		assert_int_equal(record_meta_parse_list(r, &back), 0);
		assert_string_equal(back.campaign, m.campaign);
		assert_string_equal(back.cver, m.cver);
		assert_string_equal(back.msisdn, m.msisdn);
		assert_string_equal(back.agency, m.agency);
		assert_string_equal(back.procedure, m.procedure);
		assert_string_equal(back.txid, m.txid);
		assert_string_equal(back.channel, m.channel);
		assert_int_equal(back.triggered_at, m.triggered_at);
		assert_int_equal(back.completed_at, m.completed_at);
		assert_string_equal(back.ver, "0");
		assert_int_equal(back.sq, -1);
		fake_free(r);
		record_strv_free(&sv);
	}
	/* a hash written before the short names */
	char *old[] = {"campaign", "default", "cver", "8d114ca4b5646f6a", "msisdn", "84912000002",
	               "agency", "ca", "procedure", "", "txid", "T-OLD", "channel", "sms",
	               "triggered_at", "1795255000", "completed_at", "0", "status", "active", "ver", "3",
	               "sq", "2"};
	struct store_list *r = fake_hash(old, (int)(sizeof old / sizeof old[0]));
	struct record_meta back;
	memset(&back, 0, sizeof back);
	assert_int_equal(record_meta_parse_list(r, &back), 0);
	assert_string_equal(back.msisdn, "84912000002");
	assert_string_equal(back.txid, "T-OLD");
	assert_int_equal(back.triggered_at, 1795255000);
	assert_string_equal(back.ver, "3");
	assert_int_equal(back.sq, 2);
	fake_free(r);
	/* one without its number is refused */
	char *bad[] = {"c", "default", "cv", "x", "ag", "a", "tx", "T", "t", "1", "st", "queued", "ver", "0"};
	r = fake_hash(bad, (int)(sizeof bad / sizeof bad[0]));
	assert_int_equal(record_meta_parse_list(r, &back), -EINVAL);
	fake_free(r);
}

/* The state of a running survey: "active" and counters at 0 are written as
 * "" (COMMIT deletes those fields), a hash without them reads as active
 * with zeros, and a hash that still holds them (written by an older
 * version) reads the same. */
/* Two scale items and a text item; a survey of it at its second item, the
 * first answered. */
static struct campaign *state_campaign(struct survey *s)
{
	static const char yaml[] =
	    "id: t\nname: T\nscales:\n  s2:\n    satisfied: [1]\n    options:\n"
	    "      - {value: 1, label: Co, keys: [\"1\"]}\n      - {value: 2, label: Khong, keys: [\"2\"]}\n"
	    "questions:\n  - {id: a, type: scale, scale: s2, text: \"A?\"}\n"
	    "  - {id: b, type: scale, scale: s2, text: \"B?\"}\n"
	    "  - {id: c, type: text, text: \"C?\"}\n"
	    "messages: {intro: \"X.\", invalid: \"I.\", reminder: \"R.\", thanks: \"T.\",\n"
	    "           stopped: \"S.\", help: \"H.\", expired: \"E.\"}\n";
	struct campaign *c = NULL;
	char err[1024];
	if (campaign_parse("t.yaml", yaml, sizeof yaml - 1, &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	memset(s, 0, sizeof *s);
	s->status = SURVEY_ACTIVE;
	s->q = 1;
	s->started_at = 1795255000;
	s->last_at = 1795255100;
	s->answers[0].state = 1;
	s->answers[0].at = 1795255050;
	s->answers[0].nvalues = 1;
	s->answers[0].values[0] = 2;
	return c;
}

static void test_state_round_trip(void **state)
{
	(void)state;
	struct survey s;
	struct campaign *c = state_campaign(&s);
	struct record_strv sv = {0};
	assert_int_equal(record_state_fields(c, &s, &sv), 0);
	/* what COMMIT keeps: the fields whose value is not "" */
	char *kept[32];
	int nk = 0, nempty = 0;
	for (int i = 0; i + 1 < sv.n; i += 2) {
		if (!sv.v[i + 1][0]) {
			nempty++;
			continue;
		}
		kept[nk++] = sv.v[i];
		kept[nk++] = sv.v[i + 1];
	}
	assert_int_equal(nempty, 5); /* st, i, r, rs, eq */
	for (int i = 0; i < nk; i += 2)
		if (strcmp(kept[i], "st") == 0 || strcmp(kept[i], "i") == 0 || strcmp(kept[i], "eq") == 0)
			fail_msg("%s kept", kept[i]);
	struct store_list *r = fake_hash(kept, nk);
	struct survey back;
	memset(&back, 0, sizeof back);
	assert_int_equal(record_state_parse_list(r, c, &back), 0);
	assert_int_equal(back.status, SURVEY_ACTIVE);
	assert_int_equal(back.q, 1);
	assert_int_equal(back.invalid, 0);
	assert_int_equal(back.started_at, 1795255000);
	assert_int_equal(back.last_at, 1795255100);
	assert_int_equal(back.answers[0].state, 1);
	assert_int_equal(back.answers[0].values[0], 2);
	fake_free(r);
	survey_clear(&back);
	/* a nonzero counter and another status are kept */
	s.invalid = 1;
	s.status = SURVEY_WAITING;
	record_strv_free(&sv);
	assert_int_equal(record_state_fields(c, &s, &sv), 0);
	int seen = 0;
	for (int i = 0; i + 1 < sv.n; i += 2) {
		if (strcmp(sv.v[i], "i") == 0 && strcmp(sv.v[i + 1], "1") == 0)
			seen |= 1;
		if (strcmp(sv.v[i], "st") == 0 && strcmp(sv.v[i + 1], "waiting") == 0)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	record_strv_free(&sv);
	/* the older layout: "st active" and zeros written out */
	char *old[] = {"st", "active", "q", "1", "i", "0", "r", "0", "s0", "1795255000", "l", "1795255100",
	               "rs", "0", "eq", "0"};
	r = fake_hash(old, (int)(sizeof old / sizeof old[0]));
	memset(&back, 0, sizeof back);
	assert_int_equal(record_state_parse_list(r, c, &back), 0);
	assert_int_equal(back.status, SURVEY_ACTIVE);
	assert_int_equal(back.q, 1);
	fake_free(r);
	/* a status that is no status is refused */
	char *bad[] = {"st", "bogus", "q", "0"};
	r = fake_hash(bad, 4);
	assert_int_equal(record_state_parse_list(r, c, &back), -EINVAL);
	fake_free(r);
	campaign_free(c);
}

/* A hash as COMMIT leaves it: fields set, "" deleting (at most 32). */
struct mini_hash {
	char k[32][64], v[32][128];
	int n;
};

static void mini_apply(struct mini_hash *h, const struct record_strv *sv)
{
	for (int i = 0; i + 1 < sv->n; i += 2) {
		int j = 0;
		while (j < h->n && strcmp(h->k[j], sv->v[i]) != 0)
			j++;
		if (!sv->v[i + 1][0]) {
			if (j < h->n) {
				h->n--;
				memmove(h->k[j], h->k[h->n], sizeof h->k[0]);
				memmove(h->v[j], h->v[h->n], sizeof h->v[0]);
			}
			continue;
		}
		assert_true(j < 32);
		if (j == h->n)
			h->n++;
		snprintf(h->k[j], sizeof h->k[j], "%s", sv->v[i]);
		snprintf(h->v[j], sizeof h->v[j], "%s", sv->v[i + 1]);
	}
}

static void mini_same(const struct mini_hash *a, const struct mini_hash *b)
{
	assert_int_equal(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		int j = 0;
		while (j < b->n && strcmp(a->k[i], b->k[j]) != 0)
			j++;
		assert_true(j < b->n);
		assert_string_equal(a->v[i], b->v[j]);
	}
}

/* A step's COMMIT writes only what changed (record_state_fields_since):
 * the hash it leaves is the one writing every field leaves, and an
 * unchanged answer, start time or zero counter is not sent at all. */
static void test_state_fields_since(void **state)
{
	(void)state;
	struct survey s;
	struct campaign *c = state_campaign(&s);
	s.invalid = 1;
	struct record_strv before = {0}, diff = {0}, full = {0};
	assert_int_equal(record_state_fields(c, &s, &before), 0);
	struct mini_hash h0 = {0}, hd, hf;
	mini_apply(&h0, &before);
	/* the step: item b answered, the invalid count back to 0, c asked */
	s.q = 2;
	s.invalid = 0;
	s.last_at = 1795255200;
	s.answers[1].state = 1;
	s.answers[1].at = 1795255200;
	s.answers[1].nvalues = 1;
	s.answers[1].values[0] = 1;
	assert_int_equal(record_state_fields_since(c, &s, &before, &diff), 0);
	assert_int_equal(record_state_fields(c, &s, &full), 0);
	hd = h0;
	hf = h0;
	mini_apply(&hd, &diff);
	mini_apply(&hf, &full);
	mini_same(&hd, &hf);
	int seen = 0;
	for (int i = 0; i + 1 < diff.n; i += 2) {
		const char *k = diff.v[i], *v = diff.v[i + 1];
		if (strcmp(k, "q") == 0 && strcmp(v, "2") == 0)
			seen |= 1;
		else if (strcmp(k, "i") == 0 && !v[0])
			seen |= 2; /* back to 0: deleted */
		else if (strcmp(k, "l") == 0 && strcmp(v, "1795255200") == 0)
			seen |= 4;
		else if (strcmp(k, "a:b") == 0)
			seen |= 8;
		else
			fail_msg("unchanged field %s=%s written", k, v);
	}
	assert_int_equal(seen, 15);
	/* no state as read: every field */
	struct record_strv all = {0};
	assert_int_equal(record_state_fields_since(c, &s, NULL, &all), 0);
	assert_int_equal(all.n, full.n);
	record_strv_free(&all);
	/* nothing changed: nothing written */
	record_strv_free(&diff);
	assert_int_equal(record_state_fields_since(c, &s, &full, &diff), 0);
	assert_int_equal(diff.n, 0);
	record_strv_free(&diff);
	record_strv_free(&before);
	record_strv_free(&full);
	campaign_free(c);
}

/* A typed verb's list (store.h) of the same field/value strings. */

/* The survey hash read from a typed list (ACTIVE on the asynchronous
 * connection) gives what the HGETALL reply gives: short and older long
 * names, an answer, sq; an empty list is no survey; a hash without its
 * number is refused. */
static void test_list_parse(void **state)
{
	(void)state;
	static const char yaml[] =
	    "id: t\nname: T\nscales:\n  s2:\n    satisfied: [1]\n    options:\n"
	    "      - {value: 1, label: Co, keys: [\"1\"]}\n      - {value: 2, label: Khong, keys: [\"2\"]}\n"
	    "questions:\n  - {id: a, type: scale, scale: s2, text: \"A?\"}\n"
	    "  - {id: b, type: text, text: \"B?\"}\n"
	    "messages: {intro: \"X.\", invalid: \"I.\", reminder: \"R.\", thanks: \"T.\",\n"
	    "           stopped: \"S.\", help: \"H.\", expired: \"E.\"}\n";
	struct campaign *c = NULL;
	char err[1024];
	if (campaign_parse("t.yaml", yaml, sizeof yaml - 1, &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	char *kv[][26] = {
	    {"c", "t", "cv", "8d114ca4b5646f6a", "m", "84912000003", "ag", "ca", "tx", "T-L", "t", "1795255000",
	     "ver", "7", "sq", "1", "uq", "1", "n", "12345", "q", "1", "l", "1795255100", "a:a", "1;1795255050;2;"},
	    {"campaign", "t", "cver", "8d114ca4b5646f6a", "msisdn", "84912000003", "agency", "ca", "txid", "T-L",
	     "triggered_at", "1795255000", "ver", "7", "sq", "1", "uq", "1", "n", "12345", "q", "1", "l",
	     "1795255100", "a:a", "1;1795255050;2;"},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		struct store_item items[26];
		struct store_list l;
		fake_list(kv[i], 26, &l, items);
		struct record_meta b;
		memset(&b, 0, sizeof b);
		assert_int_equal(record_meta_parse_list(&l, &b), 0);
		assert_string_equal(b.msisdn, "84912000003");
		assert_string_equal(b.ver, "7");
		assert_string_equal(b.nonce, "12345");
		assert_int_equal(b.sq, 1);
		assert_int_equal(b.uq, 1);
		struct survey sb;
		memset(&sb, 0, sizeof sb);
		assert_int_equal(record_state_parse_list(&l, c, &sb), 0);
		assert_int_equal(sb.status, SURVEY_ACTIVE);
		assert_int_equal(sb.q, 1);
		assert_int_equal(sb.last_at, 1795255100);
		assert_int_equal(sb.answers[0].state, 1);
		assert_int_equal(sb.answers[0].at, 1795255050);
		assert_int_equal(sb.answers[0].values[0], 2);
		assert_int_equal(sb.answers[1].state, 0);
		survey_clear(&sb);
	}
	struct store_list empty = {0, NULL};
	struct record_meta m;
	memset(&m, 0, sizeof m);
	assert_int_equal(record_meta_parse_list(&empty, &m), -ENOENT);
	char *bad[] = {"c", "t", "cv", "x", "ag", "a", "tx", "T", "t", "1", "ver", "0"};
	struct store_item items[12];
	struct store_list l;
	fake_list(bad, 12, &l, items);
	assert_int_equal(record_meta_parse_list(&l, &m), -EINVAL);
	/* an answer that cannot be read is refused, as from the reply */
	char *badans[] = {"q", "1", "a:a", "3;x"};
	struct survey s;
	memset(&s, 0, sizeof s);
	fake_list(badans, 4, &l, items);
	assert_int_equal(record_state_parse_list(&l, c, &s), -EINVAL);
	survey_clear(&s);
	campaign_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_meta_round_trip),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_fields_since),
		cmocka_unit_test(test_list_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
