/* cli_opt: reading "--name VALUE" / "--name=VALUE" options, for the hailong commands. */
#ifndef HL_CLI_OPT_H
#define HL_CLI_OPT_H

/* Takes the value of option `name` at argv[*i] ("--db PATH" or "--db=PATH").
 * Returns 1 when it matched (*val set, *i past the value), 0 when argv[*i] is
 * another option, -1 when the value is missing. */
int cli_opt_value(const char *name, int argc, char **argv, int *i, const char **val);

#endif
