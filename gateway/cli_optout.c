/* cli_optout: `hailong optout add|remove|list|count` (see cli_optout.h). A
 * running hailongd applies adds and removes within seconds (its opt-out
 * sync, or at once on SIGHUP). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "archive.h"
#include "cli_opt.h"
#include "cli_optout.h"
#include "config.h"
#include "optout.h"
#include "phone.h"

#define EXIT_USAGE 2

struct optout_args {
	const char *db, *config, *hash_key, *source, *format;
	int nnum;
	char **num;
};

static int optout_parse(const char *verb, int argc, char **argv, struct optout_args *o)
{
	static const char *const names[] = {"--db", "--config", "--hash-key", "--source", "--format"};
	memset(o, 0, sizeof *o);
	o->num = argv;
	for (int i = 0; i < argc; i++) {
		const char **vals[] = {&o->db, &o->config, &o->hash_key, &o->source, &o->format};
		int m = 0;
		for (int k = 0; k < 5 && m == 0; k++) {
			m = cli_opt_value(names[k], argc, argv, &i, vals[k]);
			if (m < 0) {
				fprintf(stderr, "hailong optout %s: %s needs a value\n", verb, names[k]);
				return EXIT_USAGE;
			}
		}
		if (m)
			continue;
		if (argv[i][0] == '-') {
			fprintf(stderr, "hailong optout %s: unknown option '%s'\n", verb, argv[i]);
			return EXIT_USAGE;
		}
		argv[o->nnum++] = argv[i]; /* numbers, in order, at the front */
	}
	int numbers = !strcmp(verb, "add") || !strcmp(verb, "remove");
	if (numbers && o->nnum == 0) {
		fprintf(stderr, "hailong optout %s: give at least one NUMBER\n", verb);
		return EXIT_USAGE;
	}
	if (!numbers && o->nnum > 0) {
		fprintf(stderr, "hailong optout %s: unexpected argument '%s'\n", verb, o->num[0]);
		return EXIT_USAGE;
	}
	if (o->config && o->hash_key) {
		fprintf(stderr, "hailong optout %s: --config and --hash-key exclude each other\n", verb);
		return EXIT_USAGE;
	}
	if (o->source && (!numbers || strcmp(verb, "add") != 0 ||
	                  (strcmp(o->source, "operator") != 0 && strcmp(o->source, "api") != 0))) {
		fprintf(stderr, "hailong optout %s: --source is operator or api, with add only\n", verb);
		return EXIT_USAGE;
	}
	if (o->format && strcmp(o->format, "table") != 0 && strcmp(o->format, "csv") != 0) {
		fprintf(stderr, "hailong optout %s: --format is table or csv\n", verb);
		return EXIT_USAGE;
	}
	if (!o->db && !o->config) {
		fprintf(stderr, "hailong optout %s: --db (or --config with its sqlite path) is required\n", verb);
		return EXIT_USAGE;
	}
	return 0;
}

static int optout_print(void *arg, const char *hash, const char *at, const char *source)
{
	const struct optout_args *o = arg;
	if (o->format && !strcmp(o->format, "csv"))
		printf("%s,%s,%s\n", hash, at, source);
	else
		printf("%-64s  %-20s  %s\n", hash, at, source);
	return 0;
}

int cli_optout_main(const char *verb, int argc, char **argv)
{
	struct optout_args o;
	struct config *cfg = NULL;
	struct archive *a = NULL;
	unsigned char key[OPTOUT_KEYBYTES];
	char err[1024];
	int rc = optout_parse(verb, argc, argv, &o);
	if (rc)
		return rc;
	rc = EXIT_FAILURE;
	if (sodium_init() < 0) {
		fprintf(stderr, "hailong optout %s: libsodium failed to initialise\n", verb);
		return EXIT_FAILURE;
	}
	if (o.config) {
		if (config_load(o.config, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "hailong optout %s: %s\n", verb, err);
			return EXIT_FAILURE;
		}
		if (!o.db)
			o.db = cfg->sqlite_path;
	}
	struct stat st;
	if (stat(o.db, &st) != 0) {
		fprintf(stderr, "hailong optout %s: %s: no such archive\n", verb, o.db);
		goto done;
	}
	/* list and count only read: a copy is not changed by them, and one on
	 * read-only media can be read (an older schema is upgraded first) */
	int reads = !strcmp(verb, "count") || !strcmp(verb, "list"), older = 0;
	a = reads ? archive_open_readonly(o.db, &older, err, sizeof err) : NULL;
	if (!a && (!reads || older))
		a = archive_open(o.db, err, sizeof err);
	if (!a) {
		fprintf(stderr, "hailong optout %s: %s\n", verb, err);
		goto done;
	}
	if (!strcmp(verb, "count")) {
		int64_t n = optout_count(a, err, sizeof err);
		if (n < 0) {
			fprintf(stderr, "hailong optout count: %s\n", err);
			goto done;
		}
		printf("%lld\n", (long long)n);
		rc = EXIT_SUCCESS;
		goto done;
	}
	if (!strcmp(verb, "list")) {
		if (o.format && !strcmp(o.format, "csv"))
			printf("msisdn_hash,at,source\n");
		if (optout_each(a, optout_print, &o, err, sizeof err) < 0) {
			fprintf(stderr, "hailong optout list: %s\n", err);
			goto done;
		}
		rc = EXIT_SUCCESS;
		goto done;
	}
	/* add, remove: the key hailongd uses (never generated here: it would not be hailongd's) */
	if (optout_key(o.hash_key ? o.hash_key : cfg ? cfg->hash_key : NULL, o.db, 0, key, err, sizeof err) < 0) {
		fprintf(stderr, "hailong optout %s: %s\n", verb, err);
		goto done;
	}
	rc = EXIT_SUCCESS;
	for (int i = 0; i < o.nnum; i++) {
		char num[PHONE_MAX], mask[PHONE_MAX], h[OPTOUT_HEX], perr[128];
		if (phone_normalize(o.num[i], num, perr, sizeof perr) < 0) {
			fprintf(stderr, "hailong optout %s: '%s': %s\n", verb, o.num[i], perr);
			rc = EXIT_FAILURE;
			continue;
		}
		optout_hash(key, num, h);
		phone_mask(num, mask);
		int r = !strcmp(verb, "add")
		            ? optout_add(a, h, o.source ? o.source : "operator", (int64_t)time(NULL), err, sizeof err)
		            : optout_remove(a, h, err, sizeof err);
		if (r < 0) {
			fprintf(stderr, "hailong optout %s: %s: %s\n", verb, mask, err);
			rc = EXIT_FAILURE;
			break;
		}
		if (!strcmp(verb, "add"))
			printf("%s %s %s\n", mask, r ? "added" : "already opted out", h);
		else
			printf("%s %s %s\n", mask, r ? "removed" : "was not opted out", h);
	}
done:
	archive_close(a);
	config_free(cfg);
	return rc;
}
