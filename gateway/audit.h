/* audit: what the inspecting office reads from the archive (docs/audit.md):
 * the post-check sample, the comparison with the re-survey, and the
 * integrity signals. Each reads through the archive's connection. */
#ifndef HL_AUDIT_H
#define HL_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "archive.h"

enum audit_format { AUDIT_FMT_TABLE = 0, AUDIT_FMT_CSV, AUDIT_FMT_JSON, AUDIT_FMT_HTML /* compare only */ };

/* 1 when `by` names a unit column ("agency" or "procedure"). */
int audit_unit_valid(const char *by);

/* The rank of a survey in a sample drawn with `seed`: BLAKE2b-256 of
 * "hailong-sample-v1\n" SEED "\n" SURVEY_ID, in hex (what `b2sum -l 256`
 * prints for that text). */
void audit_rank(const char *seed, const char *survey_id, char hex[65]);

struct audit_sample_opts {
	const char *campaign;
	const char *from, *to;     /* YYYY-MM-DD, inclusive, UTC days of finished_at */
	const char *by;            /* "agency" (default) or "procedure" */
	const char *seed;
	int size;                  /* wanted in all */
	int floor;                 /* at least this many per unit (all it has when fewer) */
	enum audit_format fmt;     /* CSV or JSON */
};

/* Draw the sample: per unit, the completed surveys of the period in
 * ascending rank; each unit takes min(floor, its count), the rest of `size`
 * goes to the units in proportion to what they have left (largest
 * remainders, ties by unit name). Writes the sample to out and a per-unit
 * summary to info (may be NULL). Returns the number drawn, or -ENOENT (no
 * completed survey in the period), -EINVAL, -EIO with err filled. */
int audit_sample(struct archive *a, const struct audit_sample_opts *o, FILE *out, FILE *info, char *err,
                 size_t errlen);

struct audit_compare_opts {
	const char *campaign;         /* the original campaign */
	const char *audit_campaign;   /* the re-survey */
	const char *identity_q;       /* yes/no question of the audit: value 2 = "I was never surveyed" */
	const char *by;               /* unit: agency (default) or procedure */
	double alpha;                 /* one-sided level of the sign test, default 0.05 */
	enum audit_format fmt;
};

/* Per question and per unit: reached / not reached / never surveyed,
 * agreement, Cohen's kappa, and the one-sided paired sign test of "the
 * original answers are more positive than the audit's". Returns 0, -ENOENT
 * (no audit of that campaign), -EIO with err filled. */
int audit_compare(struct archive *a, const struct audit_compare_opts *o, FILE *out, char *err, size_t errlen);

/* One-sided sign test: P(X >= pos) for X ~ Binomial(pos + neg, 1/2). */
double audit_sign_p(int pos, int neg);
/* Cohen's kappa of an n x n table of counts (rows: original, columns:
 * audit). NAN when undefined (no pairs, or chance agreement 1). */
double audit_kappa(const int64_t *table, int n);

struct audit_integrity_opts {
	const char *campaign;         /* NULL = every campaign */
	const char *from, *to;        /* YYYY-MM-DD inclusive, or NULL */
	const char *by;               /* unit column */
	int64_t window_s;             /* shared number: the window, default 7 days */
	int max_per_number;           /* shared number: triggers in the window to flag, default 5 */
	int max_agencies;             /* shared number: distinct agencies in the window to flag, default 3 */
	double min_item_s;            /* fast: seconds per item below which a survey is fast, default 3 */
	int fast_min;                 /* fast: surveys a unit needs to be flagged, default 3 */
	double fast_share;            /* fast: share of a unit's surveys, default 0.10 */
	const char *transactions;     /* coverage: CSV unit,transactions (NULL = not measured) */
	double coverage_ratio;        /* coverage: flag below this times the peers' median, default 0.5 */
	int64_t stray_window_s;       /* other number: a stray reply this soon after a unit's survey, default 1 h */
	int stray_min;                /* other number: stray replies a unit needs to be flagged, default 3 */
	enum audit_format fmt;
};

/* The integrity signals (docs/audit.md). Returns the number of flags, or a
 * negative errno with err filled. */
int audit_integrity(struct archive *a, const struct audit_integrity_opts *o, FILE *out, char *err,
                    size_t errlen);

#endif
