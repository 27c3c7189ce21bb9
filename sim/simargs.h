/* simargs: the command line of hailong-sim, parsed without side effects so it can be tested. */
#ifndef HL_SIM_SIMARGS_H
#define HL_SIM_SIMARGS_H

#include <stddef.h>

#include "citizens.h"
#include "smsc.h"

struct simargs {
	const char *listen;        /* host:port of the SMPP server */
	const char *system_id;
	const char *password;
	const char *campaign;      /* campaign YAML file */
	const char *ledger;        /* JSON-lines file of what the citizens answered */
	const char *control;       /* host:port of the control API, or NULL */
	const char *log_level;     /* "info" by default */
	const char *population;    /* the last --population file (read into cit), or NULL */
	int receipts;              /* 1 unless --receipts off */
	struct smsc_opts so;       /* receipts (--receipt-*), faults (--fault), accounts (--account);
	                            * so.accounts points at accounts[] below */
	struct smsc_account accounts[SMSC_ACCOUNTS_MAX];
	int naccounts;
	struct citizens_opts cit;  /* --citizens, --seed, --think-ms, shares, mode, distribution */
};

/* Parse argv (argv[0] is skipped); strings point into argv. Options apply in
 * order, so a flag overrides a --profile or --population given before it.
 * Returns 0, 1 for --help (usage printed by the caller), -EINVAL with a
 * message in err (a bad flag), or -EBADMSG when a --population file does not
 * read: err holds its "file:line: message" lines (no usage needed). */
int simargs_parse(int argc, char **argv, struct simargs *out, char *err, size_t errlen);

/* Apply a behaviour profile (ideal, realistic, hostile) to o. 0 or -EINVAL. */
int simargs_profile(const char *name, struct citizens_opts *o);

/* Apply a population file (YAML, docs/simulator.md) to o: its `profile`
 * first, then the other keys; `questions` replaces o->qdist. All or nothing:
 * on failure o is untouched and err holds every mistake found as
 * "file:line: message" (one per line). The question ids and values are
 * checked against the campaign later, by citizens_new. o->qdist_file
 * borrows `file`/`path`. 0 or -EINVAL (-ENOMEM). */
int simargs_population(const char *path, struct citizens_opts *o, char *err, size_t errlen);
/* The same on a text in memory; `file` names it in the errors. */
int simargs_population_parse(const char *file, const char *text, size_t len,
                             struct citizens_opts *o, char *err, size_t errlen);

/* Usage text. */
const char *simargs_usage(void);

/* Split "127.0.0.1:2775" or "[::1]:2775" into host and port (0..65535).
 * 0 or -EINVAL. */
int simargs_hostport(const char *s, char *host, size_t hostcap, int *port);

#endif
