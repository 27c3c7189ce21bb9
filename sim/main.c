/* hailong-sim: an SMSC simulator with virtual citizens that answer hailong's surveys (docs/simulator.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "campaign.h"
#include "citizens.h"
#include "control.h"
#include "load.h"
#include "log.h"
#include "simargs.h"
#include "smsc.h"

#define SIM_SHUTDOWN_MS 2000

static void sim_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("[sim] signal=%d: shutting down", (int)sig);
	smsc_shutdown(arg, SIM_SHUTDOWN_MS);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "load") == 0)
		return simload_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "phone") == 0)
		return simphone_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "archive-gen") == 0)
		return simarchive_main(argc - 1, argv + 1);
	struct simargs a;
	char err[4096];
	int rc = simargs_parse(argc, argv, &a, err, sizeof err);
	if (rc == 1) {
		fputs(simargs_usage(), stdout);
		return 0;
	}
	if (rc == -EBADMSG) {
		/* a population file that does not read: like a campaign, file:line and 1 */
		fprintf(stderr, "hailong-sim: %s\n", err);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "hailong-sim: %s\n%s", err, simargs_usage());
		return 2;
	}
	log_set_level(a.log_level);
	log_hook_libevent();
	signal(SIGPIPE, SIG_IGN);

	int status = 1;
	struct campaign *c = NULL;
	FILE *ledger = NULL;
	struct citizens *pop = NULL;
	struct event_base *base = NULL;
	struct smsc *s = NULL;
	struct simctl *ctl = NULL;
	struct event *sigterm = NULL, *sigint = NULL;

	if (campaign_load(a.campaign, &c, err, sizeof err) < 0) {
		fprintf(stderr, "hailong-sim: %s\n", err);
		goto out;
	}
	ledger = fopen(a.ledger, "w");
	if (!ledger) {
		fprintf(stderr, "hailong-sim: %s: %s\n", a.ledger, strerror(errno));
		goto out;
	}
	pop = citizens_new(c, &a.cit, ledger, err, sizeof err);
	base = event_base_new();
	if (base)
		log_batch_on(base);
	struct smsc_opts so = a.so;
	so.system_id = a.system_id;
	so.password = a.password;
	so.accounts = a.accounts;
	so.naccounts = a.naccounts;
	s = (pop && base) ? smsc_new(base, &so, pop) : NULL;
	if (!s) {
		fprintf(stderr, "hailong-sim: %s\n", pop ? "out of memory" : err);
		goto out;
	}
	if (smsc_listen(s, a.listen, err, sizeof err) < 0) {
		fprintf(stderr, "hailong-sim: %s\n", err);
		goto out;
	}
	if (a.control && !(ctl = simctl_new(base, s, a.control, err, sizeof err))) {
		fprintf(stderr, "hailong-sim: %s\n", err);
		goto out;
	}
	sigterm = evsignal_new(base, SIGTERM, sim_signal_cb, s);
	sigint = evsignal_new(base, SIGINT, sim_signal_cb, s);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0) {
		fprintf(stderr, "hailong-sim: cannot install signal handlers\n");
		goto out;
	}
	log_info("[sim] listening smpp=%s port=%d control=%s citizens=%d campaign=%s seed=%llu "
	         "population=%s questions_weighted=%d",
	         a.listen, smsc_port(s), a.control ? a.control : "-", a.cit.count, c->id,
	         (unsigned long long)a.cit.seed, a.population ? a.population : "-", a.cit.nqdist);
	if (event_base_dispatch(base) < 0) {
		fprintf(stderr, "hailong-sim: event loop failed\n");
		goto out;
	}
	char *stats = smsc_stats_json(s);
	printf("%s\n", stats ? stats : "{}");
	fflush(stdout);
	free(stats);
	status = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	simctl_free(ctl);
	smsc_free(s);
	citizens_free(pop);
	log_batch_off();
	if (base)
		event_base_free(base);
	if (ledger && fclose(ledger) != 0) {
		fprintf(stderr, "hailong-sim: %s: %s\n", a.ledger, strerror(errno));
		status = 1;
	}
	campaign_free(c);
	return status;
}
