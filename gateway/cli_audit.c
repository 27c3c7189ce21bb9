/* cli_audit: the inspecting office's commands: `hailong audit keygen|sample|open|compare|integrity` and `hailong archive verify` (docs/audit.md). */
#include "cli_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archive.h"
#include "audit.h"
#include "chain.h"
#include "cli_trigger.h"
#include "csv.h"
#include "report.h"
#include "seal.h"

#define CLI_EXIT_USAGE 2
#define CLI_MAX_OPTS 16
#define CLI_SAMPLE_LINE 65536

/* The options of one subcommand: "--name VALUE" or "--name=VALUE". */
struct copts {
	const char *names[CLI_MAX_OPTS];
	const char *vals[CLI_MAX_OPTS];
	int n;
	const char *pos[4];    /* positional arguments */
	int npos;
};

/* Parse argv against the allowed names (a NULL-terminated list). Returns 0,
 * or -1 with a message on stderr. */
static int copts_parse(const char *cmd, const char *const *allowed, int argc, char **argv, struct copts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			if (o->npos == 4) {
				fprintf(stderr, "hailong %s: too many arguments ('%s')\n", cmd, a);
				return -1;
			}
			o->pos[o->npos++] = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		int k;
		for (k = 0; allowed[k]; k++)
			if (strlen(allowed[k]) == len && strncmp(allowed[k], a, len) == 0)
				break;
		if (!allowed[k]) {
			fprintf(stderr, "hailong %s: unknown option '%s'\n", cmd, a);
			return -1;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (!v) {
			if (i + 1 >= argc) {
				fprintf(stderr, "hailong %s: %s needs a value\n", cmd, allowed[k]);
				return -1;
			}
			v = argv[++i];
		}
		if (o->n == CLI_MAX_OPTS)
			return -1;
		o->names[o->n] = allowed[k];
		o->vals[o->n++] = v;
	}
	return 0;
}

static const char *copt(const struct copts *o, const char *name, const char *def)
{
	for (int i = o->n - 1; i >= 0; i--)
		if (strcmp(o->names[i], name) == 0)
			return o->vals[i];
	return def;
}

/* An integer option in [min, max]; -1 with a message when it is not. */
static int copt_int(const char *cmd, const struct copts *o, const char *name, long def, long min, long max, long *out)
{
	const char *v = copt(o, name, NULL);
	char *end;

	*out = def;
	if (!v)
		return 0;
	long x = strtol(v, &end, 10);
	if (!*v || *end || x < min || x > max) {
		fprintf(stderr, "hailong %s: %s: '%s' is not a whole number in %ld..%ld\n", cmd, name, v, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

static int copt_double(const char *cmd, const struct copts *o, const char *name, double def, double min, double max,
                       double *out)
{
	const char *v = copt(o, name, NULL);
	char *end;

	*out = def;
	if (!v)
		return 0;
	double x = strtod(v, &end);
	if (!*v || *end || !(x >= min && x <= max)) {
		fprintf(stderr, "hailong %s: %s: '%s' is not a number in %g..%g\n", cmd, name, v, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

/* table_ok: 0 csv|json, 1 and table, 2 and html, 3 table|json only. */
static int copt_format(const char *cmd, const struct copts *o, const char *def, int table_ok, enum audit_format *f)
{
	const char *v = copt(o, "--format", def);

	if (table_ok == 2 && strcmp(v, "html") == 0)
		*f = AUDIT_FMT_HTML;
	else if (table_ok != 3 && strcmp(v, "csv") == 0)
		*f = AUDIT_FMT_CSV;
	else if (strcmp(v, "json") == 0)
		*f = AUDIT_FMT_JSON;
	else if (table_ok && strcmp(v, "table") == 0)
		*f = AUDIT_FMT_TABLE;
	else {
		fprintf(stderr, "hailong %s: --format: '%s' is not %s\n", cmd, v,
		        table_ok == 3   ? "table or json"
		        : table_ok == 2 ? "table, csv, json or html"
		        : table_ok      ? "table, csv or json"
		                        : "csv or json");
		return -1;
	}
	return 0;
}

/* The archive at --db, which must exist (a typo must not create an empty one). */
static struct archive *open_db(const char *cmd, const char *path)
{
	struct stat st;
	char err[512];

	if (!path) {
		fprintf(stderr, "hailong %s: --db PATH is required\n", cmd);
		return NULL;
	}
	if (stat(path, &st) != 0) {
		fprintf(stderr, "hailong %s: %s: %s\n", cmd, path, strerror(errno));
		return NULL;
	}
	/* read only: a copy kept as evidence is not changed by reading it, and
	 * one on read-only media can be read; an older schema is upgraded first */
	int older = 0;
	struct archive *a = archive_open_readonly(path, &older, err, sizeof err);
	if (!a && older)
		a = archive_open(path, err, sizeof err);
	if (!a)
		fprintf(stderr, "hailong %s: %s\n", cmd, err);
	return a;
}

/* A new file for --out, with this mode (less the umask): never one that
 * exists (the sample itself, the archive, or a file others may read). NULL
 * with a message on stderr. */
static FILE *create_out(const char *cmd, const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		fprintf(stderr, "hailong %s: --out %s: %s\n", cmd, path,
		        errno == EEXIST ? "exists (--out never writes over a file)" : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

/* --from and --to, when given: real days (YYYY-MM-DD), from not after to.
 * Returns 0, or -1 with a message on stderr. */
static int check_days(const char *cmd, const char *from, const char *to)
{
	const char *bad = from && report_check_date(from) < 0 ? from : to && report_check_date(to) < 0 ? to : NULL;

	if (bad) {
		fprintf(stderr, "hailong %s: %s '%s' is not a day (YYYY-MM-DD, a real day)\n", cmd,
		        bad == from ? "--from" : "--to", bad);
		return -1;
	}
	if (from && to && strcmp(from, to) > 0) {
		fprintf(stderr, "hailong %s: --from %s is after --to %s\n", cmd, from, to);
		return -1;
	}
	return 0;
}

/* ---- keygen ---- */

static int audit_keygen(int argc, char **argv)
{
	static const char *const allowed[] = {"--out", NULL};
	struct copts o;
	char pk[SEAL_B64_KEY], err[512];

	if (copts_parse("audit keygen", allowed, argc, argv, &o) < 0 || o.npos || !copt(&o, "--out", NULL)) {
		fprintf(stderr, "usage: hailong audit keygen --out SECRET_KEY_FILE\n");
		return CLI_EXIT_USAGE;
	}
	const char *path = copt(&o, "--out", NULL);
	if (seal_keygen(path, pk, err, sizeof err) < 0) {
		fprintf(stderr, "hailong audit keygen: %s\n", err);
		return 1;
	}
	printf("# secret key written to %s (mode 0600): keep it with the inspecting office, offline.\n"
	       "# Put this in the gateway configuration:\n"
	       "audit:\n  public_key: %s\n", path, pk);
	return 0;
}

/* ---- sample ---- */

static int audit_sample_cmd(int argc, char **argv)
{
	static const char *const allowed[] = {"--db", "--campaign", "--from", "--to", "--size", "--by", "--seed",
	                                      "--floor", "--format", "--out", NULL};
	struct copts o;
	struct audit_sample_opts so = {0};
	long size, floor;
	char err[512];

	if (copts_parse("audit sample", allowed, argc, argv, &o) < 0 || o.npos ||
	    copt_int("audit sample", &o, "--size", 0, 1, 1000000, &size) < 0 ||
	    copt_int("audit sample", &o, "--floor", 5, 0, 100000, &floor) < 0 ||
	    copt_format("audit sample", &o, "csv", 0, &so.fmt) < 0)
		goto usage;
	so.campaign = copt(&o, "--campaign", NULL);
	so.from = copt(&o, "--from", NULL);
	so.to = copt(&o, "--to", NULL);
	so.by = copt(&o, "--by", "agency");
	so.seed = copt(&o, "--seed", NULL);
	so.size = (int)size;
	so.floor = (int)floor;
	if (!so.campaign || !so.from || !so.to || !so.seed || !so.seed[0] || size < 1) {
		fprintf(stderr, "hailong audit sample: --campaign, --from, --to, --size and --seed are required\n");
		goto usage;
	}
	if (!audit_unit_valid(so.by)) {
		fprintf(stderr, "hailong audit sample: --by: '%s' is not agency or procedure\n", so.by);
		goto usage;
	}
	if (check_days("audit sample", so.from, so.to) < 0)
		goto usage;
	struct archive *a = open_db("audit sample", copt(&o, "--db", NULL));
	if (!a)
		return 1;
	const char *path = copt(&o, "--out", NULL);
	FILE *out = path ? create_out("audit sample", path, 0644) : stdout;
	if (!out) {
		archive_close(a);
		return 1;
	}
	int rc = audit_sample(a, &so, out, stderr, err, sizeof err);
	archive_close(a);
	if (path && fclose(out) != 0 && rc >= 0) {
		fprintf(stderr, "hailong audit sample: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "hailong audit sample: %s\n", err);
		return rc == -EINVAL ? CLI_EXIT_USAGE : 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: hailong audit sample --db DB --campaign C --from YYYY-MM-DD --to YYYY-MM-DD --size N"
	                " --seed S [--by agency|procedure] [--floor N] [--format csv|json] [--out FILE]\n");
	return CLI_EXIT_USAGE;
}

/* ---- open ---- */

struct orow {
	const char *id, *unit, *agency, *procedure, *finished_at, *contact;
};

/* One CSV field, quoted when it needs it (RFC 4180). */
static void csv_put(FILE *out, const char *v, int last)
{
	csv_field(out, v);
	fputc(last ? '\n' : ',', out);
}

/* Open each row's contact and print it. Returns 0, or 1 when a contact did not open. */
static int open_row(const struct orow *r, const unsigned char *pk, const unsigned char *sk, const char *audit_campaign,
                    FILE *out, int *bad)
{
	char num[64];
	int rc;

	if (!r->contact || !r->contact[0]) {
		fprintf(stderr, "hailong audit open: survey %s: no sealed contact (archived without audit.public_key,"
		                " or purged)\n", r->id);
		(*bad)++;
		return 0;
	}
	if ((rc = seal_open(pk, sk, r->contact, num, sizeof num)) < 0) {
		fprintf(stderr, "hailong audit open: survey %s: %s\n", r->id,
		        rc == -EACCES ? "the contact does not open with this key (another key, or it was changed)"
		                      : "the contact is not a sealed box");
		(*bad)++;
		return 0;
	}
	if (audit_campaign) {
		char tx[200];
		snprintf(tx, sizeof tx, "audit-%s", r->id);
		const char *f[] = {audit_campaign, num, tx, r->agency, r->procedure, r->id};
		for (int i = 0; i < 6; i++)
			csv_put(out, f[i], i == 5);
	} else {
		const char *f[] = {r->id, r->unit, r->finished_at, num};
		for (int i = 0; i < 4; i++)
			csv_put(out, f[i], i == 3);
	}
	sodium_memzero(num, sizeof num);
	return 0;
}

static int audit_open(int argc, char **argv)
{
	static const char *const allowed[] = {"--secret-key", "--audit-campaign", "--out", NULL};
	struct copts o;
	unsigned char pk[SEAL_KEY_BYTES], sk[SEAL_KEY_BYTES];
	char err[512];
	int bad = 0, rows = 0, rc = 1;

	if (copts_parse("audit open", allowed, argc, argv, &o) < 0 || o.npos != 1 || !copt(&o, "--secret-key", NULL)) {
		fprintf(stderr, "usage: hailong audit open --secret-key FILE [--audit-campaign A] [--out FILE] SAMPLE\n");
		return CLI_EXIT_USAGE;
	}
	if (seal_load_secret(copt(&o, "--secret-key", NULL), pk, sk, err, sizeof err) < 0) {
		fprintf(stderr, "hailong audit open: %s\n", err);
		return 1;
	}
	const char *acamp = copt(&o, "--audit-campaign", NULL);
	const char *path = copt(&o, "--out", NULL);
	FILE *in = fopen(o.pos[0], "r");
	FILE *out = NULL;
	json_t *doc = NULL;
	char *line = NULL;
	if (!in) {
		fprintf(stderr, "hailong audit open: %s: %s\n", o.pos[0], strerror(errno));
		goto done;
	}
	/* the opened numbers: a new file, readable by the owner only */
	out = path ? create_out("audit open", path, 0600) : stdout;
	if (!out)
		goto done;
	fputs(acamp ? "campaign,msisdn,transaction_id,agency,procedure,audit_of\n" : "survey_id,unit,finished_at,msisdn\n",
	      out);
	unsigned char bom[3]; /* a UTF-8 BOM: the sample saved again by a spreadsheet */
	if (fread(bom, 1, 3, in) != 3 || memcmp(bom, "\xEF\xBB\xBF", 3) != 0)
		rewind(in);
	int ch = fgetc(in);
	while (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
		ch = fgetc(in);
	if (ch != EOF)
		ungetc(ch, in);
	if (ch == '{') {
		json_error_t je;
		doc = json_loadf(in, 0, &je);
		json_t *arr = json_object_get(doc, "sample");
		if (!json_is_array(arr)) {
			fprintf(stderr, "hailong audit open: %s:%d: not a sample from hailong audit sample --format json (%s)\n",
			        o.pos[0], je.line, doc ? "no \"sample\" array" : je.text);
			goto done;
		}
		size_t i;
		json_t *x;
		json_array_foreach(arr, i, x) {
			struct orow r = {json_string_value(json_object_get(x, "survey_id")),
			                 json_string_value(json_object_get(x, "unit")),
			                 json_string_value(json_object_get(x, "agency")),
			                 json_string_value(json_object_get(x, "procedure")),
			                 json_string_value(json_object_get(x, "finished_at")),
			                 json_string_value(json_object_get(x, "contact"))};
			if (!r.id || !r.unit || !r.agency || !r.procedure || !r.finished_at) {
				fprintf(stderr, "hailong audit open: %s: sample row %zu lacks survey_id/unit/agency/procedure/finished_at\n",
				        o.pos[0], i);
				goto done;
			}
			rows++;
			open_row(&r, pk, sk, acamp, out, &bad);
		}
	} else {
		/* CSV from hailong audit sample: survey_id,unit,agency,procedure,finished_at,rank,answers,contact */
		if (!(line = malloc(CLI_SAMPLE_LINE)))
			goto done;
		int lineno = 0;
		while (fgets(line, CLI_SAMPLE_LINE, in)) {
			char *f[8] = {0};
			lineno++;
			line[strcspn(line, "\r\n")] = '\0';
			int n = cli_csv_split(line, f, 8);
			if (lineno == 1) {
				int hdr = n == 8 && strcmp(f[0], "survey_id") == 0 && strcmp(f[7], "contact") == 0;
				for (int k = 0; k < n; k++)
					free(f[k]);
				if (!hdr) {
					fprintf(stderr, "hailong audit open: %s:1: not a sample from hailong audit sample"
					                " (header survey_id,...,contact)\n", o.pos[0]);
					goto done;
				}
				continue;
			}
			if (n != 8) {
				fprintf(stderr, "hailong audit open: %s:%d: expected 8 fields\n", o.pos[0], lineno);
				for (int k = 0; k < n; k++)
					free(f[k]);
				goto done;
			}
			struct orow r = {f[0], f[1], f[2], f[3], f[4], f[7]};
			rows++;
			open_row(&r, pk, sk, acamp, out, &bad);
			for (int k = 0; k < n; k++)
				free(f[k]);
		}
	}
	fprintf(stderr, "hailong audit open: %d of %d contacts opened\n", rows - bad, rows);
	rc = bad ? 1 : 0;
done:
	sodium_memzero(sk, sizeof sk);
	free(line);
	json_decref(doc);
	if (in)
		fclose(in);
	if (out && out != stdout && fclose(out) != 0)
		rc = 1;
	/* nothing opened (another key, not a sample): no --out file is left in
	 * the way of the run that follows with the right key or file */
	if (out && out != stdout && rc != 0 && rows - bad == 0)
		unlink(path);
	return rc;
}

/* ---- compare ---- */

static int audit_compare_cmd(int argc, char **argv)
{
	static const char *const allowed[] = {"--db", "--campaign", "--audit-campaign", "--identity-question", "--by",
	                                      "--alpha", "--format", NULL};
	struct copts o;
	struct audit_compare_opts co = {0};
	char err[512];

	if (copts_parse("audit compare", allowed, argc, argv, &o) < 0 || o.npos ||
	    copt_double("audit compare", &o, "--alpha", 0.05, 1e-9, 0.5, &co.alpha) < 0 ||
	    copt_format("audit compare", &o, "table", 2, &co.fmt) < 0)
		goto usage;
	co.campaign = copt(&o, "--campaign", NULL);
	co.audit_campaign = copt(&o, "--audit-campaign", NULL);
	co.identity_q = copt(&o, "--identity-question", "surveyed");
	co.by = copt(&o, "--by", "agency");
	if (!co.campaign || !co.audit_campaign || !audit_unit_valid(co.by))
		goto usage;
	struct archive *a = open_db("audit compare", copt(&o, "--db", NULL));
	if (!a)
		return 1;
	int rc = audit_compare(a, &co, stdout, err, sizeof err);
	archive_close(a);
	if (rc < 0) {
		fprintf(stderr, "hailong audit compare: %s\n", err);
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: hailong audit compare --db DB --campaign C --audit-campaign A [--identity-question ID]"
	                " [--by agency|procedure] [--alpha P] [--format table|csv|json|html]\n");
	return CLI_EXIT_USAGE;
}

/* ---- integrity ---- */

static int audit_integrity_cmd(int argc, char **argv)
{
	static const char *const allowed[] = {"--db", "--campaign", "--from", "--to", "--by", "--window-hours",
	                                      "--max-per-number", "--max-agencies", "--min-item-seconds", "--fast-min", "--fast-share",
	                                      "--transactions", "--coverage-ratio", "--stray-window-minutes", "--stray-min",
	                                      "--format", NULL};
	const char *cmd = "audit integrity";
	struct copts o;
	struct audit_integrity_opts io = {0};
	long hours, maxn, maxa, fmin, smin, scount;
	char err[512];

	if (copts_parse(cmd, allowed, argc, argv, &o) < 0 || o.npos ||
	    copt_int(cmd, &o, "--window-hours", 168, 1, 24 * 366, &hours) < 0 ||
	    copt_int(cmd, &o, "--max-per-number", 5, 2, 1000000, &maxn) < 0 ||
	    copt_int(cmd, &o, "--max-agencies", 3, 2, 1000000, &maxa) < 0 ||
	    copt_int(cmd, &o, "--fast-min", 3, 1, 1000000, &fmin) < 0 ||
	    copt_double(cmd, &o, "--min-item-seconds", 3, 0.01, 3600, &io.min_item_s) < 0 ||
	    copt_double(cmd, &o, "--fast-share", 0.10, 0.0001, 1, &io.fast_share) < 0 ||
	    copt_double(cmd, &o, "--coverage-ratio", 0.5, 0.0001, 1, &io.coverage_ratio) < 0 ||
	    copt_int(cmd, &o, "--stray-window-minutes", 60, 1, 7 * 24 * 60, &smin) < 0 ||
	    copt_int(cmd, &o, "--stray-min", 3, 1, 1000000, &scount) < 0 ||
	    copt_format(cmd, &o, "table", 1, &io.fmt) < 0)
		goto usage;
	io.campaign = copt(&o, "--campaign", NULL);
	io.from = copt(&o, "--from", NULL);
	io.to = copt(&o, "--to", NULL);
	io.by = copt(&o, "--by", "agency");
	io.transactions = copt(&o, "--transactions", NULL);
	io.window_s = (int64_t)hours * 3600;
	io.max_per_number = (int)maxn;
	io.max_agencies = (int)maxa;
	io.fast_min = (int)fmin;
	io.stray_window_s = (int64_t)smin * 60;
	io.stray_min = (int)scount;
	if (!audit_unit_valid(io.by)) {
		fprintf(stderr, "hailong %s: --by: '%s' is not agency or procedure\n", cmd, io.by);
		goto usage;
	}
	if (check_days(cmd, io.from, io.to) < 0)
		goto usage;
	struct archive *a = open_db(cmd, copt(&o, "--db", NULL));
	if (!a)
		return 1;
	int rc = audit_integrity(a, &io, stdout, err, sizeof err);
	archive_close(a);
	if (rc < 0) {
		fprintf(stderr, "hailong %s: %s\n", cmd, err);
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: hailong audit integrity --db DB [--campaign C] [--from D --to D] [--by agency|procedure]\n"
	                "  [--window-hours 168] [--max-per-number 5] [--max-agencies 3] [--min-item-seconds 3] [--fast-min 3]\n"
	                "  [--fast-share 0.10] [--transactions FILE --coverage-ratio 0.5] [--stray-window-minutes 60]\n"
	                "  [--stray-min 3] [--format table|csv|json]\n");
	return CLI_EXIT_USAGE;
}

int cli_audit_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} subs[] = {
		{"keygen", audit_keygen}, {"sample", audit_sample_cmd}, {"open", audit_open},
		{"compare", audit_compare_cmd}, {"integrity", audit_integrity_cmd},
	};
	for (size_t i = 0; argc > 0 && i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(argv[0], subs[i].name) == 0)
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "usage: hailong audit keygen|sample|open|compare|integrity ... (docs/audit.md)\n");
	return CLI_EXIT_USAGE;
}

/* ---- archive verify ---- */

int cli_archive_verify(int argc, char **argv)
{
	static const char *const allowed[] = {"--db", "--head", "--format", NULL};
	struct copts o;
	enum audit_format fmt;
	struct chain_report r;
	char err[512];

	if (copts_parse("archive verify", allowed, argc, argv, &o) < 0 || o.npos ||
	    copt_format("archive verify", &o, "table", 3, &fmt) < 0) {
		fprintf(stderr, "usage: hailong archive verify --db DB [--head SEQ:HASH] [--format table|json]\n");
		return CLI_EXIT_USAGE;
	}
	struct archive *a = open_db("archive verify", copt(&o, "--db", NULL));
	if (!a)
		return 1;
	int rc = chain_verify(archive_sqlite(a), copt(&o, "--head", NULL), fmt == AUDIT_FMT_JSON ? NULL : stdout, &r,
	                      err, sizeof err);
	archive_close(a);
	if (rc < 0) {
		fprintf(stderr, "hailong archive verify: %s\n", err);
		return rc == -EINVAL ? CLI_EXIT_USAGE : 1;
	}
	if (fmt == AUDIT_FMT_JSON) {
		json_t *doc = json_pack("{s:b,s:I,s:I,s:I,s:s?,s:I,s:s}", "intact", rc == 0, "links", (json_int_t)r.links,
		                        "surveys", (json_int_t)r.surveys, "problems", (json_int_t)r.problems, "first",
		                        r.problems ? r.first : NULL, "head_seq", (json_int_t)r.head_seq, "head", r.head);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(doc);
	} else if (rc == 0) {
		printf("intact: %lld links, %lld surveys, head %lld:%s\n", (long long)r.links, (long long)r.surveys,
		       (long long)r.head_seq, r.head);
	} else {
		printf("NOT INTACT: %lld problem%s; the first: %s\n", (long long)r.problems, r.problems == 1 ? "" : "s",
		       r.first);
	}
	return rc == 0 ? 0 : 1;
}
