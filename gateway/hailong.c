/* hailong: the operator command line (reports now; `campaign check` and `trigger` slot into the command table). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"

#define EXIT_USAGE 2

/* A subcommand: `words` are matched against the first arguments ("report",
 * or "campaign check"); run gets the arguments after them and returns the
 * exit status (0 ok, 1 failure, 2 usage). */
struct command {
	const char *words;
	const char *args;
	const char *summary;
	int (*run)(const struct command *cmd, int argc, char **argv);
};

static int cmd_report(const struct command *cmd, int argc, char **argv);
static int cmd_help(const struct command *cmd, int argc, char **argv);

static const struct command commands[] = {
	{ "report", "--db PATH --campaign ID [--format table|csv|json]",
	  "print the satisfaction report of a campaign from the archive", cmd_report },
	{ "help", "[COMMAND]", "show this help, or the help of one command", cmd_help },
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage_of(const struct command *c, FILE *out)
{
	fprintf(out, "usage: hailong %s %s\n", c->words, c->args);
}

static void usage(FILE *out)
{
	fputs("usage: hailong COMMAND [OPTIONS]\n\ncommands:\n", out);
	for (int i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s %s\n      %s\n", commands[i].words, commands[i].args, commands[i].summary);
	fputs("\nexit status: 0 ok, 1 failure, 2 usage error\n", out);
}

/* Number of leading arguments that spell c->words, or 0 when they do not. */
static int match_words(const struct command *c, int argc, char **argv)
{
	const char *w = c->words;
	int used = 0;

	while (*w) {
		size_t len = strcspn(w, " ");

		if (used >= argc || strlen(argv[used]) != len || strncmp(argv[used], w, len) != 0)
			return 0;
		used++;
		w += len;
		w += strspn(w, " ");
	}
	return used;
}

/* Take the value of option `name` at argv[*i] ("--db PATH" or "--db=PATH").
 * Returns 1 when it matched (and *val is set), 0 when not, -1 when the value
 * is missing. */
static int opt_value(const char *name, int argc, char **argv, int *i, const char **val)
{
	size_t len = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, len) != 0)
		return 0;
	if (a[len] == '=') {
		*val = a + len + 1;
		return 1;
	}
	if (a[len] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static int cmd_report(const struct command *cmd, int argc, char **argv)
{
	const char *db = NULL, *campaign = NULL, *format = "table";
	enum archive_format fmt;
	struct archive *a = NULL;
	struct stat st;
	char err[512];
	int rc;

	for (int i = 0; i < argc; i++) {
		int m = 0;

		if ((m = opt_value("--db", argc, argv, &i, &db)) == 0 &&
		    (m = opt_value("--campaign", argc, argv, &i, &campaign)) == 0 &&
		    (m = opt_value("--format", argc, argv, &i, &format)) == 0) {
			fprintf(stderr, "hailong report: unknown argument '%s'\n", argv[i]);
			usage_of(cmd, stderr);
			return EXIT_USAGE;
		}
		if (m < 0) {
			fprintf(stderr, "hailong report: %s needs a value\n", argv[i]);
			usage_of(cmd, stderr);
			return EXIT_USAGE;
		}
	}
	if (!db || !campaign || !db[0] || !campaign[0]) {
		fprintf(stderr, "hailong report: --db and --campaign are required\n");
		usage_of(cmd, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(format, "table") == 0) {
		fmt = ARCHIVE_FMT_TABLE;
	} else if (strcmp(format, "csv") == 0) {
		fmt = ARCHIVE_FMT_CSV;
	} else if (strcmp(format, "json") == 0) {
		fmt = ARCHIVE_FMT_JSON;
	} else {
		fprintf(stderr, "hailong report: unknown format '%s' (table, csv or json)\n", format);
		return EXIT_USAGE;
	}
	/* A report never creates an archive: a mistyped path is an error. */
	if (stat(db, &st) < 0) {
		fprintf(stderr, "hailong report: cannot open archive %s: %s\n", db, strerror(errno));
		return EXIT_FAILURE;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "hailong report: %s is not a file\n", db);
		return EXIT_FAILURE;
	}
	if (!(a = archive_open(db, err, sizeof err))) {
		fprintf(stderr, "hailong report: cannot open archive %s\n", err);
		return EXIT_FAILURE;
	}
	rc = archive_report(a, campaign, fmt, stdout, err, sizeof err);
	archive_close(a);
	if (rc < 0) {
		fprintf(stderr, "hailong report: %s\n", err);
		return EXIT_FAILURE;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "hailong report: cannot write: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int cmd_help(const struct command *cmd, int argc, char **argv)
{
	(void)cmd;
	for (int i = 0; argc > 0 && i < NCOMMANDS; i++) {
		if (match_words(&commands[i], argc, argv)) {
			usage_of(&commands[i], stdout);
			printf("  %s\n", commands[i].summary);
			return EXIT_SUCCESS;
		}
	}
	if (argc > 0) {
		fprintf(stderr, "hailong help: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}
	usage(stdout);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(NULL, 0, NULL);
	for (int i = 0; i < NCOMMANDS; i++) {
		int used = match_words(&commands[i], argc - 1, argv + 1);

		if (used > 0)
			return commands[i].run(&commands[i], argc - 1 - used, argv + 1 + used);
	}
	fprintf(stderr, "hailong: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
