/* cli_trigger: `hailong trigger --csv FILE --url URL --token T`: triggers from a CSV file, posted to the API in batches. */
#ifndef HL_CLI_TRIGGER_H
#define HL_CLI_TRIGGER_H

#include <stdio.h>

/* argv holds the arguments after the word `trigger`. Prints one line per row
 * (accepted / duplicate / refused and why) and a summary to stdout. Returns 0
 * when every row was accepted or a duplicate, 1 when a row was refused (or
 * the file or the API could not be used), 2 on a usage error. */
int cli_trigger_main(int argc, char **argv);
/* The same, writing the report to out and errors to err (for tests). */
int cli_trigger_run(int argc, char **argv, FILE *out, FILE *err);

/* Split one CSV record (RFC 4180 quoting: "a,b" and "" inside quotes; no
 * newline inside a field) into at most max malloc'd fields. Returns the
 * number of fields, or -EINVAL (unbalanced quote) / -E2BIG / -ENOMEM; on
 * error nothing is left allocated. */
int cli_csv_split(const char *line, char **fields, int max);

#endif
