/* fuzz_record: what an API client may send as completed_at, and archive records read back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t t;
	(void)record_parse_time(s, &t);
	json_t *holder = NULL;
	struct archive_survey a;
	if (record_archive_parse(s, &holder, &a) == 0)
		free((void *)a.answers);
	json_decref(holder);
	free(s);
	return 0;
}
