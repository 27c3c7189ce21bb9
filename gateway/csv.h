/* csv: one CSV field written as RFC 4180 wants it (every CSV output of hailong goes through here). */
#ifndef HL_CSV_H
#define HL_CSV_H

#include <stdio.h>

/* Writes v (NULL = empty), in double quotes with inner quotes doubled when it
 * holds a comma, a quote or a line break; as it is otherwise. */
void csv_field(FILE *out, const char *v);

#endif
