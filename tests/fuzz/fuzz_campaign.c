/* fuzz_campaign: arbitrary YAML as a campaign file (errors, never a crash). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "campaign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct campaign *c = NULL;
	char err[2048];
	if (campaign_parse("fuzz.yaml", (const char *)data, size, &c, err, sizeof err) == 0) {
		for (int i = 0; i < c->nquestions; i++)
			free(campaign_render_question(c, i));
		campaign_free(c);
	}
	return 0;
}
