/* cli_optout: `hailong optout add|remove|list|count`: the operator's view of
 * the archive's opt-outs (a number in, its keyed hash stored; docs/operations.md). */
#ifndef HL_CLI_OPTOUT_H
#define HL_CLI_OPTOUT_H

/* verb is "add", "remove", "list" or "count"; argv holds the arguments after
 * it. Returns 0, 1 (failure, with a message on stderr) or 2 (usage). */
int cli_optout_main(const char *verb, int argc, char **argv);

#endif
