/* cli_audit: `hailong audit ...` (keygen, sample, open, compare, integrity) and `hailong archive verify`. */
#ifndef HL_CLI_AUDIT_H
#define HL_CLI_AUDIT_H

#include <stdio.h>

/* argv holds the arguments after the word `audit`: a subcommand and its
 * options. Returns the exit status: 0 ok (integrity: also when something
 * was flagged), 1 failure (audit open: a contact that did not open), 2 usage
 * error. */
int cli_audit_main(int argc, char **argv);
/* argv holds the arguments after `archive verify`. 0 intact, 1 a problem
 * found (or the file unreadable), 2 usage error. */
int cli_archive_verify(int argc, char **argv);

#endif
