/* load: `hailong-sim load`, `phone` and `archive-gen`, the simulator's tools for testers and the benchmark. */
#ifndef HL_SIM_LOAD_H
#define HL_SIM_LOAD_H

/* Each takes the arguments after the subcommand name (argv[0] is the name)
 * and returns the process exit status (0 ok, 1 failure, 2 usage). */
int simload_main(int argc, char **argv);
int simphone_main(int argc, char **argv);
int simarchive_main(int argc, char **argv);

#endif
