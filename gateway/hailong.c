/* hailong: the operator command line: `report`, `comments`, `campaign check` (and `trigger` slots into the command table). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <utf8proc.h>

#include "archive.h"
#include "campaign.h"
#include "cli_audit.h"
#include "cli_opt.h"
#include "cli_optout.h"
#include "cli_trigger.h"
#include "config.h"
#include "report.h"
#include "survey.h"
#include "text.h"
#include "tzone.h"

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
static int cmd_comments(const struct command *cmd, int argc, char **argv);
static int cmd_help(const struct command *cmd, int argc, char **argv);
static int cmd_campaign_check(const struct command *cmd, int argc, char **argv);
static int cmd_trigger(const struct command *cmd, int argc, char **argv);
static int cmd_archive_backup(const struct command *cmd, int argc, char **argv);
static int cmd_audit(const struct command *cmd, int argc, char **argv);
static int cmd_archive_verify(const struct command *cmd, int argc, char **argv);
static int cmd_optout(const struct command *cmd, int argc, char **argv);

static const struct command commands[] = {
	{ "report", "--db PATH --campaign ID [--format table|csv|json|html] [--by DIM[,DIM]] "
	  "[--from YYYY-MM-DD] [--to YYYY-MM-DD] [--agency A] [--procedure P] [--status S] "
	  "[--timezone Z | --config FILE] [--integrity]",
	  "print the satisfaction report of a campaign from the archive, per slice; DIM is agency, "
	  "procedure, channel, day, week, month, quarter or year (local days of --timezone, of the "
	  "gateway config's timezone, or by default of the zone hailongd wrote the archive in); --integrity: "
	  "the integrity signals instead (as `hailong audit integrity`)", cmd_report },
	{ "comments", "--db PATH --campaign ID [--format csv|json] [--from D] [--to D] [--agency A] "
	  "[--procedure P] [--status S] [--timezone Z | --config FILE]",
	  "print the citizens' comments with their agency, procedure, date and question; phone and "
	  "ID numbers masked", cmd_comments },
	{ "campaign check", "[--format text|json] FILE...",
	  "validate campaign files and show every message a citizen can receive: text, encoding, "
	  "length, SMS parts, and the cost of a completed survey", cmd_campaign_check },
	{ "trigger", "--csv FILE --url http://HOST:PORT --token T [--batch N]",
	  "post triggers from a CSV file to the HTTP API, with a per-row report", cmd_trigger },
	{ "archive backup", "--db PATH FILE",
	  "copy the archive to FILE while hailongd runs (SQLite online backup; never over an existing file)",
	  cmd_archive_backup },
	/* the inspecting office (docs/audit.md) */
	{ "audit keygen", "--out SECRET_KEY_FILE",
	  "post-check: make the inspecting office's key pair (the public key goes in the gateway config)", cmd_audit },
	{ "audit sample", "--db DB --campaign C --from YYYY-MM-DD --to YYYY-MM-DD --size N --seed S "
	  "[--by agency|procedure] [--floor N] [--format csv|json] [--out FILE]",
	  "post-check: draw a reproducible sample of finished surveys (sealed contacts)", cmd_audit },
	{ "audit open", "--secret-key FILE [--audit-campaign A] [--out FILE] SAMPLE",
	  "post-check: open the sealed contacts of a sample with the office's secret key", cmd_audit },
	{ "audit compare", "--db DB --campaign C --audit-campaign A [--identity-question ID] "
	  "[--by agency|procedure] [--alpha P] [--format table|csv|json|html]",
	  "post-check: compare the re-survey's answers with the original ones", cmd_audit },
	{ "audit integrity", "--db DB [--campaign C] [--from D --to D] [--by agency|procedure] [--window-hours 168] "
	  "[--max-per-number 5] [--max-agencies 3] [--min-item-seconds 3] [--fast-min 3] [--fast-share 0.10] "
	  "[--transactions FILE --coverage-ratio 0.5] [--stray-window-minutes 60] [--stray-min 3] "
	  "[--format table|csv|json]",
	  "flag integrity signals (the report's --integrity)", cmd_audit },
	{ "archive verify", "--db PATH [--head SEQ:HASH] [--format table|json]",
	  "check the archive's hash chain: name the first record changed, removed or inserted", cmd_archive_verify },
	/* opt-outs (docs/operations.md): the key is privacy.hash_key (--config) or DB.key */
	{ "optout add", "--db PATH [--config FILE | --hash-key K] [--source operator|api] NUMBER...",
	  "record citizens as opted out (their keyed hash is stored); a running hailongd applies it within"
	  " seconds", cmd_optout },
	{ "optout remove", "--db PATH [--config FILE | --hash-key K] NUMBER...",
	  "take citizens off the opt-out list (a running hailongd applies it within seconds)", cmd_optout },
	{ "optout list", "--db PATH [--format table|csv]",
	  "list the opt-outs: keyed hash, time, source (keyword, api, operator)", cmd_optout },
	{ "optout count", "--db PATH", "print the number of opt-outs", cmd_optout },
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

/* s in Unicode NFC, in buf when it differs and fits; else s. */
static const char *cli_nfc(const char *s, char *buf, size_t cap)
{
	char *n = s ? (char *)utf8proc_NFC((const utf8proc_uint8_t *)s) : NULL;
	const char *out = s;
	if (n && strcmp(n, s) != 0 && strlen(n) < cap) {
		memcpy(buf, n, strlen(n) + 1);
		out = buf;
	}
	free(n);
	return out;
}

/* The options report and comments share. Returns 0, or EXIT_USAGE after
 * printing one error line. */
static int report_args(const struct command *cmd, int argc, char **argv, const char **db,
                       const char **format, struct report_query *q, int comments, const char **tz,
                       const char **config)
{
	const char *by = NULL;
	char err[512];

	memset(q, 0, sizeof *q);
	q->nagencies = -1;
	for (int i = 0; i < argc; i++) {
		int m = 0;

		if ((m = cli_opt_value("--db", argc, argv, &i, db)) == 0 &&
		    (m = cli_opt_value("--campaign", argc, argv, &i, &q->campaign)) == 0 &&
		    (m = cli_opt_value("--format", argc, argv, &i, format)) == 0 &&
		    (comments || (m = cli_opt_value("--by", argc, argv, &i, &by)) == 0) &&
		    (m = cli_opt_value("--from", argc, argv, &i, &q->from)) == 0 &&
		    (m = cli_opt_value("--to", argc, argv, &i, &q->to)) == 0 &&
		    (m = cli_opt_value("--agency", argc, argv, &i, &q->agency)) == 0 &&
		    (m = cli_opt_value("--procedure", argc, argv, &i, &q->procedure)) == 0 &&
		    (m = cli_opt_value("--status", argc, argv, &i, &q->status)) == 0 &&
		    (m = cli_opt_value("--timezone", argc, argv, &i, tz)) == 0 &&
		    (m = cli_opt_value("--config", argc, argv, &i, config)) == 0) {
			fprintf(stderr, "hailong %s: unknown argument '%s'\n", cmd->words, argv[i]);
			return EXIT_USAGE;
		}
		if (m < 0) {
			fprintf(stderr, "hailong %s: %s needs a value\n", cmd->words, argv[i]);
			return EXIT_USAGE;
		}
	}
	/* in NFC, as hailongd stores a trigger's agency and procedure */
	static char nfc_agency[1024], nfc_procedure[1024];
	q->agency = cli_nfc(q->agency, nfc_agency, sizeof nfc_agency);
	q->procedure = cli_nfc(q->procedure, nfc_procedure, sizeof nfc_procedure);
	if (!*db || !q->campaign || !(*db)[0] || !q->campaign[0]) {
		fprintf(stderr, "hailong %s: --db and --campaign are required (usage: hailong %s %s)\n",
		        cmd->words, cmd->words, cmd->args);
		return EXIT_USAGE;
	}
	if (*tz && *config) {
		fprintf(stderr, "hailong %s: --timezone and --config exclude each other\n", cmd->words);
		return EXIT_USAGE;
	}
	if (*tz && tzone_check(*tz, err, sizeof err) < 0) {
		fprintf(stderr, "hailong %s: %s\n", cmd->words, err);
		return EXIT_USAGE;
	}
	if (by && report_parse_by(by, q, err, sizeof err) < 0) {
		fprintf(stderr, "hailong %s: %s\n", cmd->words, err);
		return EXIT_USAGE;
	}
	if ((q->from && report_check_date(q->from) < 0) || (q->to && report_check_date(q->to) < 0)) {
		fprintf(stderr, "hailong %s: bad date '%s' (YYYY-MM-DD, a real day)\n", cmd->words,
		        q->from && report_check_date(q->from) < 0 ? q->from : q->to);
		return EXIT_USAGE;
	}
	if (q->from && q->to && strcmp(q->from, q->to) > 0) {
		fprintf(stderr, "hailong %s: --from %s is after --to %s\n", cmd->words, q->from, q->to);
		return EXIT_USAGE;
	}
	if (q->status && report_check_status(q->status) < 0) {
		fprintf(stderr, "hailong %s: unknown status '%s' (completed, expired, abandoned, opted_out, "
		        "failed, suppressed or cancelled)\n", cmd->words, q->status);
		return EXIT_USAGE;
	}
	return 0;
}

/* Open the archive for reading: never created (a mistyped path is an error),
 * read through a read-only connection; an archive of an older schema is first
 * brought to the current one by archive_open. Returns NULL after printing one
 * error line. */
static struct report_db *report_open_db(const struct command *cmd, const char *db)
{
	struct archive *a;
	struct report_db *r;
	struct stat st;
	char err[512];

	if (stat(db, &st) < 0) {
		fprintf(stderr, "hailong %s: cannot open archive %s: %s\n", cmd->words, db, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "hailong %s: %s is not a file\n", cmd->words, db);
		return NULL;
	}
	if ((r = report_db_open(db, err, sizeof err)))
		return r;
	if (!(a = archive_open(db, err, sizeof err))) {
		fprintf(stderr, "hailong %s: cannot open archive %s\n", cmd->words, err);
		return NULL;
	}
	archive_close(a);
	if (!(r = report_db_open(db, err, sizeof err)))
		fprintf(stderr, "hailong %s: cannot open archive %s\n", cmd->words, err);
	return r;
}

/* The zone the report's periods are counted in: --timezone, else the
 * `timezone` of --config's gateway config, else the zone the archive's
 * rollups were counted in (hailongd's). Returns 0, or an exit status after
 * printing one error line. */
static int report_zone(const struct command *cmd, struct report_db *r, const char *tz, const char *config)
{
	char err[8192], zone[TZONE_MAX + 1];
	struct config *cfg = NULL;
	int rc;

	if (config) {
		if (config_load(config, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "hailong %s: %s\n", cmd->words, err);
			return EXIT_USAGE;
		}
		snprintf(zone, sizeof zone, "%s", cfg->timezone);
		config_free(cfg);
	} else if (tz) {
		snprintf(zone, sizeof zone, "%s", tz);
	} else if (report_db_timezone(r, zone, sizeof zone) < 0) {
		fprintf(stderr, "hailong %s: cannot read the archive's time zone\n", cmd->words);
		return EXIT_FAILURE;
	}
	if ((rc = tzone_use(zone, err, sizeof err)) < 0) {
		fprintf(stderr, "hailong %s: %s\n", cmd->words, err);
		return tz || config ? EXIT_USAGE : EXIT_FAILURE;
	}
	return 0;
}

static int parse_format(const struct command *cmd, const char *format, int html,
                        enum report_format *fmt)
{
	if (strcmp(format, "table") == 0 && html) {
		*fmt = REPORT_FMT_TABLE;
	} else if (strcmp(format, "csv") == 0) {
		*fmt = REPORT_FMT_CSV;
	} else if (strcmp(format, "json") == 0) {
		*fmt = REPORT_FMT_JSON;
	} else if (strcmp(format, "html") == 0 && html) {
		*fmt = REPORT_FMT_HTML;
	} else {
		fprintf(stderr, "hailong %s: unknown format '%s' (%s)\n", cmd->words, format,
		        html ? "table, csv, json or html" : "csv or json");
		return -1;
	}
	return 0;
}

static int cmd_report(const struct command *cmd, int argc, char **argv)
{
	const char *db = NULL, *format = "table", *tz = NULL, *config = NULL;
	enum report_format fmt;
	struct report_query q;
	struct report_db *r;
	json_t *doc = NULL;
	char err[512];
	int rc;

	/* --integrity: the integrity signals (hailong audit integrity, docs/audit.md) */
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--integrity") == 0) {
			char *sub[64];
			int n = 0;
			sub[n++] = (char *)"integrity";
			for (int k = 0; k < argc && n < 63; k++)
				if (k != i)
					sub[n++] = argv[k];
			sub[n] = NULL;
			return cli_audit_main(n, sub);
		}
	if ((rc = report_args(cmd, argc, argv, &db, &format, &q, 0, &tz, &config)) != 0)
		return rc;
	if (parse_format(cmd, format, 1, &fmt) < 0)
		return EXIT_USAGE;
	if (!(r = report_open_db(cmd, db)))
		return EXIT_FAILURE;
	if ((rc = report_zone(cmd, r, tz, config)) != 0) {
		report_db_close(r);
		return rc;
	}
	rc = report_run(r, &q, &doc, err, sizeof err);
	report_db_close(r);
	if (rc < 0) {
		fprintf(stderr, "hailong report: %s\n", err);
		return rc == -ENOENT || rc == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
	}
	rc = report_write(doc, fmt, stdout);
	json_decref(doc);
	if (rc < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "hailong report: cannot write: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int cmd_comments(const struct command *cmd, int argc, char **argv)
{
	const char *db = NULL, *format = "csv", *tz = NULL, *config = NULL;
	enum report_format fmt;
	struct report_query q;
	struct report_db *r;
	json_t *doc = NULL;
	char err[512];
	int rc;

	if ((rc = report_args(cmd, argc, argv, &db, &format, &q, 1, &tz, &config)) != 0)
		return rc;
	if (parse_format(cmd, format, 0, &fmt) < 0)
		return EXIT_USAGE;
	if (!(r = report_open_db(cmd, db)))
		return EXIT_FAILURE;
	if ((rc = report_zone(cmd, r, tz, config)) != 0) {
		report_db_close(r);
		return rc;
	}
	rc = report_comments(r, &q, &doc, err, sizeof err);
	report_db_close(r);
	if (rc < 0) {
		fprintf(stderr, "hailong comments: %s\n", err);
		return EXIT_FAILURE;
	}
	rc = report_write_comments(doc, fmt, stdout);
	json_decref(doc);
	if (rc < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "hailong comments: cannot write: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* ---- campaign check ---- */

#define CHECK_ERR_MAX 16384

/* "as written" or "unaccented": what a variant does to the text. */
static const char *check_variant_name(enum text_encoding enc, int json)
{
	if (enc == TEXT_ENC_UNACCENTED)
		return "unaccented";
	return json ? "as_written" : "as written";
}

static const char *check_encoding_name(enum text_encoding enc)
{
	static const char *const names[] = {"auto", "gsm7", "ucs2", "unaccented"};
	return (unsigned)enc < sizeof names / sizeof names[0] ? names[enc] : "?";
}

static const char *check_coding_name(enum text_coding c, int json)
{
	if (c == TEXT_CODING_UCS2)
		return json ? "ucs2" : "UCS-2";
	return json ? "gsm7" : "GSM 03.38";
}

static const char *check_unit_name(enum text_coding c)
{
	return c == TEXT_CODING_UCS2 ? "chars" : "septets";
}

/* What a message is, for people: "first (intro + item 1: access)". */
static void check_describe(const struct campaign *c, const struct survey_preview_msg *m, char *buf,
                           size_t n)
{
	const char *qid = m->q >= 0 && m->q < c->nquestions ? c->questions[m->q].id : "";

	switch (m->kind) {
	case SURVEY_MSG_FIRST:
		snprintf(buf, n, "first: %sitem 1 (%s)", c->msg.intro ? "intro + " : "", qid);
		break;
	case SURVEY_MSG_ITEM:
		snprintf(buf, n, "item %d (%s)", m->q + 1, qid);
		break;
	case SURVEY_MSG_INVALID:
	case SURVEY_MSG_REMINDER:
	case SURVEY_MSG_HELP:
		snprintf(buf, n, "%s + item %d (%s)", survey_msg_kind_name(m->kind), m->q + 1, qid);
		break;
	default:
		snprintf(buf, n, "%s", survey_msg_kind_name(m->kind));
		break;
	}
}

/* USSD: one screen per message, 182 GSM characters or 80 in UCS-2. */
static int check_screen_cap(const struct survey_variant *v)
{
	return v->coding == TEXT_CODING_UCS2 ? CAMPAIGN_USSD_UCS2 : CAMPAIGN_USSD_GSM;
}

static void check_text_variant(const struct campaign *c, const struct survey_variant *v,
                               const char *label, FILE *out)
{
	if (c->channel == CAMPAIGN_USSD && v->rc == 0)
		fprintf(out, "    %-22s %-9s %5d/%d %s on one USSD screen%s\n", label,
		        check_coding_name(v->coding, 0), v->units, check_screen_cap(v),
		        check_unit_name(v->coding), v->units > check_screen_cap(v) ? ": DOES NOT FIT" : "");
	else if (v->rc == -EMSGSIZE)
		fprintf(out, "    %-22s too long: more than %d SMS parts\n", label, TEXT_MAX_PARTS);
	else if (v->rc < 0)
		fprintf(out, "    %-22s cannot be encoded: %s\n", label, strerror(-v->rc));
	else
		fprintf(out, "    %-22s %-9s %5d %-7s %2d part%s\n", label, check_coding_name(v->coding, 0),
		        v->units, check_unit_name(v->coding), v->nparts, v->nparts == 1 ? "" : "s");
}

/* Each line of the text, indented, so the operator reads it as the phone shows it. */
static void check_text_body(const char *text, FILE *out)
{
	const char *p = text;
	do {
		size_t len = strcspn(p, "\n");
		fprintf(out, "      | %.*s\n", (int)len, p);
		p += len;
	} while (*p++ == '\n');
}

/* Prints one campaign's preview as text. Returns 1 when a message that is
 * sent cannot be (the file is bad), else 0. */
static int check_print_text(const char *file, const struct campaign *c,
                            const struct survey_preview *p, FILE *out)
{
	char what[160], label[64];
	int bad = 0;
	enum text_encoding enc0 = c->encoding, enc1 = c->encoding;

	if (p->nmsg > 0)
		enc0 = p->msg[0].v[0].enc, enc1 = p->msg[0].v[1].enc;
	fprintf(out, "%s: campaign %s, %d item%s, channel %s, encoding %s\n", file, c->id,
	        c->nquestions, c->nquestions == 1 ? "" : "s", c->channel == CAMPAIGN_USSD ? "ussd" : "sms",
	        check_encoding_name(c->encoding));
	if (p->nvariants == 2)
		fprintf(out, "  (sent: %s; shown beside it: %s, to choose `encoding:`)\n",
		        check_variant_name(enc0, 0), check_variant_name(enc1, 0));
	for (int i = 0; i < p->nmsg; i++) {
		const struct survey_preview_msg *m = &p->msg[i];

		check_describe(c, m, what, sizeof what);
		fprintf(out, "\n  %s\n", what);
		for (int v = 0; v < p->nvariants; v++) {
			snprintf(label, sizeof label, "%s%s", check_variant_name(m->v[v].enc, 0),
			         p->nvariants == 2 && v == 0 ? " (sent)" : "");
			check_text_variant(c, &m->v[v], label, out);
		}
		check_text_body(m->v[0].text, out);
		if (p->nvariants == 2 && strcmp(m->v[0].text, m->v[1].text) != 0) {
			fprintf(out, "    %s:\n", check_variant_name(m->v[1].enc, 0));
			check_text_body(m->v[1].text, out);
		}
		if (m->v[0].rc < 0)
			bad = 1;
	}
	fputc('\n', out);
	for (int i = 0; i < p->nmsg; i++) {
		const struct survey_preview_msg *m = &p->msg[i];

		check_describe(c, m, what, sizeof what);
		if (m->v[0].rc < 0)
			fprintf(out, "%s: ERROR: %s: %s\n", file, what,
			        m->v[0].rc == -EMSGSIZE ? "too long: more than 16 SMS parts"
			                                : "cannot be encoded");
		else if (m->kind == SURVEY_MSG_ITEM && m->v[0].nparts > 1) {
			fprintf(out, "%s: WARNING: %s takes %d SMS parts (%s, %d %s)", file, what,
			        m->v[0].nparts, check_coding_name(m->v[0].coding, 0), m->v[0].units,
			        check_unit_name(m->v[0].coding));
			if (p->nvariants == 2 && m->v[1].rc == 0)
				fprintf(out, "; %s: %d", check_variant_name(m->v[1].enc, 0), m->v[1].nparts);
			fputc('\n', out);
		}
	}
	fprintf(out, "%s: cost of a completed survey (first message, items 2..%d, thanks):", file,
	        c->nquestions);
	for (int v = 0; v < p->nvariants; v++) {
		const char *name = check_variant_name(v == 0 ? enc0 : enc1, 0);
		if (p->cost[v] < 0)
			fprintf(out, "%s %s: cannot be sent", v ? "," : "", name);
		else
			fprintf(out, "%s %d SMS parts %s%s", v ? "," : "", p->cost[v], name,
			        p->nvariants == 2 && v == 0 ? " (sent)" : "");
	}
	fputc('\n', out);
	return bad;
}

static json_t *check_json_variant(const struct campaign *c, const struct survey_variant *v)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (c->channel == CAMPAIGN_USSD && v->rc == 0) {
		json_object_set_new(o, "screen_capacity", json_integer(check_screen_cap(v)));
		json_object_set_new(o, "fits_screen", json_boolean(v->units <= check_screen_cap(v)));
	}
	json_object_set_new(o, "text", json_string(v->text));
	if (v->rc == 0) {
		json_object_set_new(o, "encoding", json_string(check_coding_name(v->coding, 1)));
		json_object_set_new(o, "length", json_integer(v->units));
		json_object_set_new(o, "unit", json_string(check_unit_name(v->coding)));
		json_object_set_new(o, "parts", json_integer(v->nparts));
	} else {
		json_object_set_new(o, "parts", json_null());
		json_object_set_new(o, "error", json_string(v->rc == -EMSGSIZE ? "too long: more than 16 SMS parts"
		                                                               : "cannot be encoded"));
	}
	return o;
}

/* The JSON object of one campaign's preview; *bad set as check_print_text returns. */
static json_t *check_json(const char *file, const struct campaign *c, const struct survey_preview *p,
                          int *bad)
{
	json_t *o = json_object(), *msgs = json_array(), *warn = json_array(), *errs = json_array();
	json_t *cost = json_object();
	char what[160];

	*bad = 0;
	if (!o || !msgs || !warn || !errs || !cost) {
		json_decref(o);
		json_decref(msgs);
		json_decref(warn);
		json_decref(errs);
		json_decref(cost);
		return NULL;
	}
	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "ok", json_true()); /* set again below, in place */
	json_object_set_new(o, "campaign", json_string(c->id));
	json_object_set_new(o, "items", json_integer(c->nquestions));
	json_object_set_new(o, "channel", json_string(c->channel == CAMPAIGN_USSD ? "ussd" : "sms"));
	json_object_set_new(o, "encoding", json_string(check_encoding_name(c->encoding)));
	json_object_set_new(o, "sent", json_string(check_variant_name(p->nmsg ? p->msg[0].v[0].enc : c->encoding, 1)));
	for (int i = 0; i < p->nmsg; i++) {
		const struct survey_preview_msg *m = &p->msg[i];
		json_t *jm = json_object(), *vs = json_object();

		check_describe(c, m, what, sizeof what);
		json_object_set_new(jm, "kind", json_string(survey_msg_kind_name(m->kind)));
		json_object_set_new(jm, "item", m->q >= 0 ? json_integer(m->q + 1) : json_null());
		json_object_set_new(jm, "question", m->q >= 0 ? json_string(c->questions[m->q].id) : json_null());
		for (int v = 0; v < p->nvariants; v++)
			json_object_set_new(vs, check_variant_name(m->v[v].enc, 1), check_json_variant(c, &m->v[v]));
		json_object_set_new(jm, "variants", vs);
		json_array_append_new(msgs, jm);
		if (m->v[0].rc < 0) {
			*bad = 1;
			json_array_append_new(errs, json_sprintf("%s: %s", what, m->v[0].rc == -EMSGSIZE
			                                         ? "too long: more than 16 SMS parts" : "cannot be encoded"));
		} else if (m->kind == SURVEY_MSG_ITEM && m->v[0].nparts > 1) {
			json_array_append_new(warn, json_sprintf("%s takes %d SMS parts", what, m->v[0].nparts));
		}
	}
	for (int v = 0; v < p->nvariants; v++)
		json_object_set_new(cost, check_variant_name(p->msg[0].v[v].enc, 1),
		                    p->cost[v] >= 0 ? json_integer(p->cost[v]) : json_null());
	json_object_set_new(o, "messages", msgs);
	json_object_set_new(o, "cost", cost);
	json_object_set_new(o, "warnings", warn);
	json_object_set_new(o, "errors", errs);
	json_object_set_new(o, "ok", json_boolean(!*bad));
	return o;
}

/* "file:line: message" lines of a failed load, as a JSON array of strings. */
static json_t *check_json_errors(const char *err)
{
	json_t *a = json_array();
	const char *p = err;

	while (a && *p) {
		size_t len = strcspn(p, "\n");
		if (len)
			json_array_append_new(a, json_stringn(p, len));
		p += len;
		p += strspn(p, "\n");
	}
	return a;
}

static int cmd_campaign_check(const struct command *cmd, int argc, char **argv)
{
	const char *format = "text";
	const char **files = NULL;
	int nfiles = 0, anybad = 0, json = 0, rc = EXIT_FAILURE;
	char *err = NULL;
	json_t *jfiles = NULL;
	struct survey_preview *p = NULL;

	files = calloc((size_t)argc + 1, sizeof *files);
	err = malloc(CHECK_ERR_MAX);
	p = malloc(sizeof *p);
	jfiles = json_array();
	if (!files || !err || !p || !jfiles) {
		fprintf(stderr, "hailong campaign check: out of memory\n");
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		int m;

		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				files[nfiles++] = argv[i];
			break;
		}
		if ((m = cli_opt_value("--format", argc, argv, &i, &format)) < 0) {
			fprintf(stderr, "hailong campaign check: --format needs a value\n");
			usage_of(cmd, stderr);
			rc = EXIT_USAGE;
			goto out;
		}
		if (m == 1)
			continue;
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "hailong campaign check: unknown argument '%s'\n", argv[i]);
			usage_of(cmd, stderr);
			rc = EXIT_USAGE;
			goto out;
		}
		files[nfiles++] = argv[i];
	}
	if (strcmp(format, "json") == 0) {
		json = 1;
	} else if (strcmp(format, "text") != 0) {
		fprintf(stderr, "hailong campaign check: unknown format '%s' (text or json)\n", format);
		rc = EXIT_USAGE;
		goto out;
	}
	if (nfiles == 0) {
		fprintf(stderr, "hailong campaign check: no campaign file given\n");
		usage_of(cmd, stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	for (int f = 0; f < nfiles; f++) {
		struct campaign *c = NULL;
		json_t *jf = NULL;
		int bad = 0;

		err[0] = '\0';
		if (campaign_load(files[f], &c, err, CHECK_ERR_MAX) < 0) {
			anybad = 1;
			if (json) {
				jf = json_pack("{s:s,s:b,s:o}", "file", files[f], "ok", 0, "errors",
				               check_json_errors(err));
				if (jf)
					json_array_append_new(jfiles, jf);
			} else {
				fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] != '\n' ? "\n" : "");
				if (f + 1 < nfiles)
					fputc('\n', stdout);
			}
			continue;
		}
		if (survey_preview(c, p) < 0) {
			fprintf(stderr, "hailong campaign check: out of memory\n");
			campaign_free(c);
			goto out;
		}
		if (json) {
			jf = check_json(files[f], c, p, &bad);
			if (!jf) {
				fprintf(stderr, "hailong campaign check: out of memory\n");
				survey_preview_clear(p);
				campaign_free(c);
				goto out;
			}
			json_array_append_new(jfiles, jf);
		} else {
			bad = check_print_text(files[f], c, p, stdout);
			if (f + 1 < nfiles)
				fputc('\n', stdout);
		}
		if (bad)
			anybad = 1;
		survey_preview_clear(p);
		campaign_free(c);
	}
	if (json) {
		json_t *doc = json_pack("{s:b,s:O}", "ok", !anybad, "files", jfiles);
		if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
			json_decref(doc);
			fprintf(stderr, "hailong campaign check: cannot write JSON\n");
			goto out;
		}
		json_decref(doc);
		fputc('\n', stdout);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "hailong campaign check: cannot write: %s\n", strerror(errno));
		goto out;
	}
	rc = anybad ? EXIT_FAILURE : EXIT_SUCCESS;
out:
	json_decref(jfiles);
	free(p);
	free(err);
	free(files);
	return rc;
}

static int cmd_trigger(const struct command *cmd, int argc, char **argv)
{
	(void)cmd;
	return cli_trigger_main(argc, argv);
}

static int cmd_archive_backup(const struct command *cmd, int argc, char **argv)
{
	const char *db = NULL, *file = NULL;
	char err[1024];

	for (int i = 0; i < argc; i++) {
		int m = cli_opt_value("--db", argc, argv, &i, &db);

		if (m < 0) {
			fprintf(stderr, "hailong archive backup: --db needs a value\n");
			usage_of(cmd, stderr);
			return EXIT_USAGE;
		}
		if (m > 0)
			continue;
		if (argv[i][0] == '-' || file) {
			fprintf(stderr, "hailong archive backup: unknown argument '%s'\n", argv[i]);
			usage_of(cmd, stderr);
			return EXIT_USAGE;
		}
		file = argv[i];
	}
	if (!db || !file || !db[0] || !file[0]) {
		fprintf(stderr, "hailong archive backup: --db and FILE are required\n");
		usage_of(cmd, stderr);
		return EXIT_USAGE;
	}
	struct stat st;
	if (stat(db, &st) != 0) {
		fprintf(stderr, "hailong archive backup: %s: no such archive\n", db);
		return EXIT_FAILURE;
	}
	int pages = archive_backup(db, file, err, sizeof err);
	if (pages < 0) {
		fprintf(stderr, "hailong archive backup: %s\n", err);
		return EXIT_FAILURE;
	}
	printf("%s: %d pages copied from %s, checked\n", file, pages, db);
	return EXIT_SUCCESS;
}

static int cmd_audit(const struct command *cmd, int argc, char **argv)
{
	(void)cmd;
	/* argv follows the subcommand's word in main's argv: hand it over too */
	return cli_audit_main(argc + 1, argv - 1);
}

static int cmd_archive_verify(const struct command *cmd, int argc, char **argv)
{
	(void)cmd;
	return cli_archive_verify(argc, argv);
}

static int cmd_optout(const struct command *cmd, int argc, char **argv)
{
	int rc = cli_optout_main(cmd->words + strlen("optout "), argc, argv);
	if (rc == EXIT_USAGE)
		usage_of(cmd, stderr);
	return rc;
}

/* The commands whose first word is `word` (a group: "optout", "audit"...),
 * one usage line each on out (NULL: none); how many. */
static int group_usage(const char *word, FILE *out)
{
	int n = 0;
	size_t len = strlen(word);
	for (int i = 0; i < NCOMMANDS; i++) {
		const char *w = commands[i].words;
		if (strncmp(w, word, len) != 0 || w[len] != ' ')
			continue;
		if (out && n == 0)
			fprintf(out, "usage:\n");
		if (out)
			fprintf(out, "  hailong %s %s\n      %s\n", w, commands[i].args, commands[i].summary);
		n++;
	}
	return n;
}

static int cmd_help(const struct command *cmd, int argc, char **argv)
{
	(void)cmd;
	if (argc == 1 && group_usage(argv[0], stdout) > 0)
		return EXIT_SUCCESS;
	for (int i = 0; argc > 0 && i < NCOMMANDS; i++) {
		if (match_words(&commands[i], argc, argv)) {
			int words = 1;
			for (const char *p = commands[i].words; *p; p++)
				words += *p == ' ';
			if (argc > words) { /* `help report --bogus` */
				fprintf(stderr, "hailong help: unexpected '%s' after '%s'\n", argv[words], commands[i].words);
				return EXIT_USAGE;
			}
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

		if (used <= 0)
			continue;
		/* every command answers --help, wherever it stands */
		for (int k = 1 + used; k < argc; k++)
			if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
				usage_of(&commands[i], stdout);
				printf("  %s\n", commands[i].summary);
				return EXIT_SUCCESS;
			}
		return commands[i].run(&commands[i], argc - 1 - used, argv + 1 + used);
	}
	/* a group's word alone, with --help, or with a word that is none of its commands */
	if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) &&
	    group_usage(argv[1], stdout) > 0)
		return EXIT_SUCCESS;
	if (group_usage(argv[1], NULL) > 0) {
		if (argc > 2)
			fprintf(stderr, "hailong %s: unknown %s '%s'\n", argv[1], argv[2][0] == '-' ? "option" : "command",
			        argv[2]);
		else
			fprintf(stderr, "hailong %s: which one?\n", argv[1]);
		group_usage(argv[1], stderr);
		return EXIT_USAGE;
	}
	fprintf(stderr, "hailong: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
