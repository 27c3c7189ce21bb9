/* inbox: a hash of numbers, each with a ring of the last texts it received. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inbox.h"

#define INBOX_BUCKETS 8192

struct inbox_number {
	char *msisdn;
	char *text[INBOX_PER_NUMBER];   /* ring, owned */
	unsigned head;                  /* index of the oldest */
	unsigned n;                     /* texts held */
	unsigned long total;            /* texts ever received */
	struct inbox_number *next;      /* bucket chain */
};

struct inbox {
	struct inbox_number *bucket[INBOX_BUCKETS];
	unsigned numbers;
};

static unsigned inbox_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; s[i] && i < 64; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h % INBOX_BUCKETS;
}

struct inbox *inbox_new(void)
{
	return calloc(1, sizeof(struct inbox));
}

void inbox_free(struct inbox *ib)
{
	if (!ib)
		return;
	for (unsigned b = 0; b < INBOX_BUCKETS; b++) {
		struct inbox_number *e = ib->bucket[b];
		while (e) {
			struct inbox_number *next = e->next;
			for (unsigned i = 0; i < INBOX_PER_NUMBER; i++)
				free(e->text[i]);
			free(e->msisdn);
			free(e);
			e = next;
		}
	}
	free(ib);
}

static struct inbox_number *inbox_find(const struct inbox *ib, const char *msisdn)
{
	for (struct inbox_number *e = ib->bucket[inbox_hash(msisdn)]; e; e = e->next)
		if (strcmp(e->msisdn, msisdn) == 0)
			return e;
	return NULL;
}

int inbox_add(struct inbox *ib, const char *msisdn, const char *text)
{
	struct inbox_number *e = inbox_find(ib, msisdn);
	if (!e) {
		if (ib->numbers >= INBOX_MAX_NUMBERS)
			return -ENOSPC;
		e = calloc(1, sizeof *e);
		if (!e || !(e->msisdn = strdup(msisdn))) {
			free(e);
			return -ENOMEM;
		}
		unsigned h = inbox_hash(msisdn);
		e->next = ib->bucket[h];
		ib->bucket[h] = e;
		ib->numbers++;
	}
	char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	e->total++;
	if (e->n == INBOX_PER_NUMBER) {
		free(e->text[e->head]);
		e->text[e->head] = copy;
		e->head = (e->head + 1) % INBOX_PER_NUMBER;
	} else {
		e->text[(e->head + e->n) % INBOX_PER_NUMBER] = copy;
		e->n++;
	}
	return 0;
}

int inbox_list_since(const struct inbox *ib, const char *msisdn, unsigned long since,
                     const char **out, int max, unsigned long *total)
{
	const struct inbox_number *e = inbox_find(ib, msisdn);
	*total = e ? e->total : 0;
	if (!e)
		return 0;
	unsigned long first = e->total - e->n; /* number of the oldest text held */
	int k = 0;
	for (unsigned i = 0; i < e->n && k < max; i++)
		if (first + i >= since)
			out[k++] = e->text[(e->head + i) % INBOX_PER_NUMBER];
	return k;
}

int inbox_list(const struct inbox *ib, const char *msisdn, const char **out, int max)
{
	const struct inbox_number *e = inbox_find(ib, msisdn);
	int k = 0;
	for (unsigned i = 0; e && i < e->n && k < max; i++)
		out[k++] = e->text[(e->head + i) % INBOX_PER_NUMBER];
	return k;
}
