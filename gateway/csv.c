/* csv: one CSV field written as RFC 4180 wants it. */
#include "csv.h"

#include <string.h>

void csv_field(FILE *out, const char *v)
{
	if (!v)
		return;
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}
