/* fuzz_reply: arbitrary text as a citizen's reply to every item of the default campaign (and of the reading
 * corpus's other items), and through the text codecs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "reply.h"
#include "survey.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct campaign *camp, *items;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!camp) {
		char err[4096];
		if (campaign_load("config/campaigns/default.yaml", &camp, err, sizeof err) != 0 ||
		    campaign_load("tests/reading/items.yaml", &items, err, sizeof err) != 0)
			abort();
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (int q = 0; q < camp->nquestions; q++) {
		struct reply r;
		if (reply_parse(&camp->questions[q], s, &r) == 0)
			reply_clear(&r);
	}
	/* other labels: yes/no items whose words are said back, choices */
	for (int q = 0; q < items->nquestions; q++) {
		struct reply r;
		if (reply_parse(&items->questions[q], s, &r) == 0)
			reply_clear(&r);
	}
	/* a whole survey fed with this reply (several answers at once included) */
	struct survey sv;
	struct survey_out o;
	survey_init(&sv);
	if (survey_start(camp, &sv, 1000, &o) == 0) {
		survey_out_clear(&o);
		for (int i = 0; i < 3 && survey_feed(camp, &sv, s, 1001 + i, &o) == 0; i++)
			survey_out_clear(&o);
		survey_out_clear(&o);
	} else {
		survey_out_clear(&o);
	}
	survey_clear(&sv);
	free(text_fold(s));
	free(text_unaccent(s));
	struct text_parts *p = malloc(sizeof *p);
	if (p) {
		(void)text_split(s, TEXT_ENC_AUTO, p);
		(void)text_split(s, TEXT_ENC_UNACCENTED, p);
		free(p);
	}
	char out[2048];
	(void)text_decode(0, data, size, out, sizeof out);
	(void)text_decode(8, data, size, out, sizeof out);
	(void)text_decode(3, data, size, out, sizeof out);
	free(s);
	return 0;
}
