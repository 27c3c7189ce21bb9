/* tools: `hailong-sim phone` (an interactive terminal phone on the control API) and
 * `hailong-sim archive-gen` (fills an archive through gateway/archive.c, timed, for the benchmark). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "campaign.h"
#include "httpc.h"
#include "load.h"
#include "phone.h"
#include "tzone.h"

/* ---- phone ---- */

static const char *phone_usage =
	"usage: hailong-sim phone NUMBER [--control HOST:PORT] [--interval-ms 300] [--to ADDR] [--ussd]\n"
	"  --ussd: dial the simulator's USSD service code now (a line \"#\" dials again); each\n"
	"          reply answers the screen on the phone\n"
	"                              [--linger-ms 0]\n"
	"  Shows what the simulator delivers to NUMBER and sends each line you type as its reply.\n"
	"  End with Ctrl-D (then it keeps showing messages for --linger-ms) or Ctrl-C.\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints texts numbered *since and later; advances *since. 0 or negative errno. */
static int phone_poll(const char *host, int port, const char *msisdn, unsigned long *since)
{
	char path[96], *body = NULL;
	snprintf(path, sizeof path, "/inbox/%s?since=%lu", msisdn, *since);
	int rc = httpc_request(host, port, "GET", path, NULL, &body, 5000);
	if (rc != 200) {
		free(body);
		return rc < 0 ? rc : -EPROTO;
	}
	json_t *o = json_loads(body, 0, NULL);
	free(body);
	json_t *texts = json_object_get(o, "texts");
	size_t i;
	json_t *t;
	json_array_foreach(texts, i, t) {
		/* one message per "<< " line; its own line breaks become indented lines */
		const char *m = json_string_value(t);
		fputs("<< ", stdout);
		for (; m && *m; m++) {
			putchar(*m);
			if (*m == '\n')
				fputs("   ", stdout);
		}
		putchar('\n');
	}
	json_int_t next = json_integer_value(json_object_get(o, "next"));
	if (next > 0)
		*since = (unsigned long)next;
	json_decref(o);
	fflush(stdout);
	return 0;
}

/* USSD: ask the simulator's USSD centre to dial the service code for msisdn. */
static int phone_dial(const char *host, int port, const char *msisdn)
{
	json_t *o = json_pack("{s:s}", "from", msisdn);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL, *resp = NULL;
	json_decref(o);
	int rc = body ? httpc_request(host, port, "POST", "/ussd/dial", body, &resp, 5000) : -ENOMEM;
	if (rc == 202)
		printf("-- dialled the USSD code\n");
	else
		fprintf(stderr, "hailong-sim phone: cannot dial (%d): %s\n", rc, resp ? resp : "no answer");
	free(body);
	free(resp);
	return rc == 202 ? 0 : -1;
}

int simphone_main(int argc, char **argv)
{
	const char *number = NULL, *ctl = "127.0.0.1:8089", *to = NULL;
	long interval = 300, linger = 0;
	int ussd = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(phone_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--ussd") == 0) {
			ussd = 1;
			continue;
		}
		if (strncmp(argv[i], "--", 2) != 0) {
			if (number) {
				fprintf(stderr, "hailong-sim phone: one number only\n%s", phone_usage);
				return 2;
			}
			number = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--control") != 0 && strcmp(argv[i], "--to") != 0 &&
		    strcmp(argv[i], "--interval-ms") != 0 && strcmp(argv[i], "--linger-ms") != 0) {
			fprintf(stderr, "hailong-sim phone: unknown option '%s'\n%s", argv[i], phone_usage);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "hailong-sim phone: %s needs a value\n", argv[i]);
			return 2;
		}
		const char *v = argv[++i];
		char *end;
		if (strcmp(argv[i - 1], "--control") == 0) {
			ctl = v;
		} else if (strcmp(argv[i - 1], "--to") == 0) {
			to = v;
		} else if (strcmp(argv[i - 1], "--interval-ms") == 0 ||
		           strcmp(argv[i - 1], "--linger-ms") == 0) {
			errno = 0;
			long n = strtol(v, &end, 10);
			if (end == v || *end || errno || n < 0 || n > 3600000 ||
			    (argv[i - 1][2] == 'i' && n < 10)) {
				fprintf(stderr, "hailong-sim phone: bad value for %s: '%s'\n", argv[i - 1], v);
				return 2;
			}
			*(argv[i - 1][2] == 'i' ? &interval : &linger) = n;
		} else {
			fprintf(stderr, "hailong-sim phone: unknown option '%s'\n%s", argv[i - 1], phone_usage);
			return 2;
		}
	}
	char msisdn[PHONE_MAX], err[256], host[64];
	int port;
	if (!number) {
		fprintf(stderr, "hailong-sim phone: a NUMBER is required\n%s", phone_usage);
		return 2;
	}
	if (phone_normalize(number, msisdn, err, sizeof err) < 0) {
		fprintf(stderr, "hailong-sim phone: %s: %s\n", number, err);
		return 2;
	}
	if (httpc_parse_url(ctl, host, sizeof host, &port) < 0) {
		fprintf(stderr, "hailong-sim phone: bad --control '%s' (want HOST:PORT)\n", ctl);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned long since = 0;
	/* start from what is there now: the tester sees the questions still to come */
	if (phone_poll(host, port, msisdn, &since) < 0) {
		fprintf(stderr, "hailong-sim phone: the simulator's control API at %s does not answer\n", ctl);
		return 1;
	}
	printf("-- phone %s: type a reply and Enter; Ctrl-D to end\n", msisdn);
	if (ussd && phone_dial(host, port, msisdn) < 0)
		return 1;
	char line[1024];
	size_t have = 0;
	int eof = 0;
	double stop_at = 0;
	for (;;) {
		struct pollfd p = {STDIN_FILENO, POLLIN, 0};
		int n = eof ? 0 : poll(&p, 1, (int)interval);
		if (eof)
			usleep((useconds_t)interval * 1000);
		if (n > 0 && (p.revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(STDIN_FILENO, line + have, sizeof line - 1 - have);
			if (r <= 0) {
				eof = 1;
				stop_at = now_s() + (double)linger / 1000.0;
			} else {
				have += (size_t)r;
			}
			char *nl;
			while ((nl = memchr(line, '\n', have)) != NULL || have == sizeof line - 1) {
				size_t len = nl ? (size_t)(nl - line) : have;
				line[len] = '\0';
				if (len && line[len - 1] == '\r')
					line[len - 1] = '\0';
				if (ussd && strcmp(line, "#") == 0) {
					if (phone_dial(host, port, msisdn) < 0)
						return 1;
				} else if (line[0]) {
					json_t *o = json_pack("{s:s,s:s}", "from", msisdn, "text", line);
					if (o && to)
						json_object_set_new(o, "to", json_string(to));
					char *body = o ? json_dumps(o, JSON_COMPACT) : NULL, *resp = NULL;
					json_decref(o);
					int rc = body ? httpc_request(host, port, "POST", "/mo", body, &resp, 5000) : -ENOMEM;
					printf(rc == 202 ? ">> %s\n" : "!! not sent: %s\n", line);
					free(body);
					free(resp);
				}
				size_t used = nl ? len + 1 : len;
				memmove(line, line + used, have - used);
				have -= used;
			}
		}
		if (phone_poll(host, port, msisdn, &since) < 0) {
			fprintf(stderr, "hailong-sim phone: lost the control API\n");
			return 1;
		}
		if (eof && now_s() >= stop_at)
			return 0;
	}
}

/* ---- archive-gen ---- */

static uint64_t gen_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

int simarchive_main(int argc, char **argv)
{
	const char *db = NULL, *cfile = NULL, *tz = NULL, *order = "finish";
	long surveys = 0, batch = 2000, first = 0;
	unsigned long long seed = 1;
	static const char *const usage = "usage: hailong-sim archive-gen --db FILE --campaign FILE --surveys N "
	                                 "[--batch 2000] [--seed 1] [--first 0] [--timezone Asia/Ho_Chi_Minh]\n"
	                                 "       [--order finish|random]\n";
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		if (strcmp(a, "--db") != 0 && strcmp(a, "--campaign") != 0 && strcmp(a, "--surveys") != 0 &&
		    strcmp(a, "--batch") != 0 && strcmp(a, "--seed") != 0 && strcmp(a, "--first") != 0 &&
		    strcmp(a, "--timezone") != 0 && strcmp(a, "--order") != 0) {
			fprintf(stderr, "hailong-sim archive-gen: unknown option '%s'\n%s", a, usage);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "hailong-sim archive-gen: %s needs a value\n%s", a, usage);
			return 2;
		}
		const char *v = argv[i + 1];
		char *end;
		errno = 0;
		if (strcmp(a, "--db") == 0)
			db = v;
		else if (strcmp(a, "--campaign") == 0)
			cfile = v;
		else if (strcmp(a, "--timezone") == 0) /* the zone of the rollups' local days (hailongd's) */
			tz = v;
		else if (strcmp(a, "--order") == 0) /* finish: as hailongd archives; random: any day of the 90 */
			order = v;
		else if (strcmp(a, "--surveys") == 0)
			surveys = strtol(v, &end, 10);
		else if (strcmp(a, "--batch") == 0)
			batch = strtol(v, &end, 10);
		else if (strcmp(a, "--seed") == 0)
			seed = strtoull(v, &end, 10);
		else if (strcmp(a, "--first") == 0) /* number of the first transaction (GEN-N) */
			first = strtol(v, &end, 10);
		else {
			fprintf(stderr, "hailong-sim archive-gen: unknown option '%s'\n%s", a, usage);
			return 2;
		}
	}
	if (!db || !cfile || surveys <= 0 || surveys > 100000000 || batch <= 0 || batch > 100000 ||
	    first < 0 || first > 1000000000 || argc % 2 == 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(order, "finish") != 0 && strcmp(order, "random") != 0) {
		fprintf(stderr, "hailong-sim archive-gen: --order is finish or random, not '%s'\n%s", order, usage);
		return 2;
	}
	char err[512];
	struct campaign *c = NULL;
	if (tzone_use(tz ? tz : TZONE_DEFAULT, err, sizeof err) < 0) {
		fprintf(stderr, "hailong-sim archive-gen: %s\n", err);
		return 2;
	}
	if (campaign_load(cfile, &c, err, sizeof err) < 0) {
		fprintf(stderr, "hailong-sim archive-gen: %s\n", err);
		return 1;
	}
	struct archive *a = archive_open(db, err, sizeof err);
	if (!a || archive_put_campaign(a, c, err, sizeof err) < 0) {
		fprintf(stderr, "hailong-sim archive-gen: %s\n", err);
		archive_close(a);
		campaign_free(c);
		return 1;
	}
	int nq = c->nquestions;
	struct archive_survey *sv = calloc((size_t)batch, sizeof *sv);
	struct archive_answer *ans = calloc((size_t)batch * (size_t)nq, sizeof *ans);
	char (*ids)[33] = calloc((size_t)batch, sizeof *ids);
	char (*tx)[40] = calloc((size_t)batch, sizeof *tx);
	char (*hash)[65] = calloc((size_t)batch, sizeof *hash);
	static const char *const agencies[] = {"ca-vinhphuc", "ca-hanoi", "so-tuphap", "ca-danang"};
	static const char *const procs[] = {"cap-ho-chieu", "dang-ky-thuong-tru", "dang-ky-xe"};
	static const char *const comments[] = {"Cán bộ nhiệt tình", "Thời gian chờ còn lâu",
	                                       "Thủ tục nhanh gọn"};
	int status = 1;
	if (!sv || !ans || !ids || !tx || !hash) {
		fprintf(stderr, "hailong-sim archive-gen: out of memory\n");
		goto out;
	}
	uint64_t rng = seed;
	int random_days = strcmp(order, "random") == 0;
	int64_t base_t = (int64_t)time(NULL) - 90 * 86400;
	long rows = 0, done = 0;
	double put_s = 0;
	uint64_t run = gen_rng(&rng);
	while (done < surveys) {
		int n = (int)(surveys - done < batch ? surveys - done : batch);
		int na = 0;
		for (int i = 0; i < n; i++) {
			long k = first + done + i;
			struct archive_survey *s = &sv[i];
			memset(s, 0, sizeof *s);
			snprintf(ids[i], sizeof ids[i], "%016" PRIx64 "%016lx", run, (unsigned long)k);
			snprintf(tx[i], sizeof tx[i], "GEN-%ld", k);
			snprintf(hash[i], sizeof hash[i], "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
			         gen_rng(&rng), gen_rng(&rng), gen_rng(&rng), gen_rng(&rng));
			uint64_t r = gen_rng(&rng);
			s->survey_id = ids[i];
			s->campaign_id = c->id;
			s->campaign_version = c->version;
			s->transaction_id = tx[i];
			s->agency = agencies[r % 4];
			s->procedure = procs[(r >> 8) % 3];
			s->msisdn_hash = hash[i];
			s->channel = "sms";
			int roll = (int)((r >> 16) % 100);
			s->status = roll < 80 ? "completed" : roll < 92 ? "expired" : roll < 97 ? "abandoned" : "opted_out";
			/* finish: surveys come about in the order they end, as hailongd
			 * archives them (GEN-K's place in the run's 90 days, triggered up
			 * to a day before); random: each on any of the 90 days, so that a
			 * batch touches nearly every rollup row (the worst case) */
			if (random_days)
				s->triggered_at = base_t + (int64_t)((r >> 24) % (90 * 86400));
			else
				s->triggered_at = base_t + 86400 +
				                  (int64_t)((double)(k - first) / (double)surveys * (89.0 * 86400)) -
				                  (int64_t)((r >> 24) % 86400);
			s->finished_at = s->triggered_at + 60 + (int64_t)((r >> 48) % 3600);
			int upto = roll < 80 ? nq : (int)((r >> 40) % (uint64_t)nq);
			s->answers = &ans[na];
			for (int q = 0; q < upto; q++) {
				const struct campaign_question *cq = &c->questions[q];
				struct archive_answer *x = &ans[na];
				uint64_t rr = gen_rng(&rng);
				memset(x, 0, sizeof *x);
				x->question_id = cq->id;
				x->answered_at = s->triggered_at + 10 * (q + 1);
				if (cq->type == Q_TEXT || cq->nopts == 0) {
					if (rr % 4)
						continue; /* most skip the comment */
					x->text = comments[(rr >> 8) % 3];
				} else {
					/* skewed to the satisfied end like real answers */
					int pick = (int)((rr >> 8) % 100);
					int oi = pick < 45 ? 0 : pick < 80 ? 1 : pick < 92 ? 2 : pick < 97 ? 3 : 4;
					if (oi >= cq->nopts)
						oi = cq->nopts - 1;
					x->has_value = 1;
					x->value = cq->opts[oi].value;
				}
				na++;
				s->nanswers++;
			}
		}
		double t0 = now_s();
		int rc = archive_put(a, sv, n, err, sizeof err);
		put_s += now_s() - t0;
		if (rc < 0) {
			fprintf(stderr, "hailong-sim archive-gen: %s\n", err);
			goto out;
		}
		rows += n + na;
		done += n;
	}
	printf("{\"surveys\":%ld,\"rows\":%ld,\"seconds\":%.3f,\"rows_per_s\":%.0f,\"surveys_per_s\":%.0f}\n",
	       done, rows, put_s, put_s > 0 ? (double)rows / put_s : 0,
	       put_s > 0 ? (double)done / put_s : 0);
	status = 0;
out:
	free(sv);
	free(ans);
	free(ids);
	free(tx);
	free(hash);
	archive_close(a);
	campaign_free(c);
	return status;
}
