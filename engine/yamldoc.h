/* yamldoc: typed, line-numbered access to a libyaml document, and a "file:line: message" error collector. */
#ifndef HL_YAMLDOC_H
#define HL_YAMLDOC_H

#include <stddef.h>
#include <stdint.h>

/* Collects errors as "file:line: message" lines (separated by '\n', no
 * trailing newline) into a caller's buffer; text past the buffer is dropped,
 * the count keeps going. Borrows `file` and `buf`. */
struct yerr {
	const char *file; /* named in every line */
	char *buf;        /* caller's buffer, always NUL-terminated (when cap > 0) */
	size_t cap;       /* its size */
	size_t len;       /* bytes used, without the NUL */
	int count;        /* errors added so far */
};

void yerr_init(struct yerr *e, const char *file, char *buf, size_t cap);
/* Append one error at `line` (1-based; 0 prints no line number). */
void yerr_add(struct yerr *e, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A loaded YAML document. Nodes are named by an int id; 0 means "absent",
 * and every accessor accepts 0 and answers "absent" without crashing. */
struct ydoc;

enum ydoc_kind { YDOC_NONE = 0, YDOC_SCALAR, YDOC_SEQ, YDOC_MAP };

/* Parse the first document of `text`. A syntax error, a second document or
 * an empty text is reported to `e` with its line and NULL is returned; NULL
 * is also returned on ENOMEM (reported as such). Owned by the caller. */
struct ydoc *ydoc_load(const char *text, size_t len, struct yerr *e);
/* Read a whole regular file of at most max bytes into a malloc'd,
 * NUL-terminated buffer (*buf, *len). Returns 0 or a negative errno
 * (-EINVAL: not a regular file, -EFBIG: larger than max), with
 * "path: cannot read: reason" in err. */
int ydoc_read_file(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen);

void ydoc_free(struct ydoc *d);

int ydoc_root(const struct ydoc *d);
enum ydoc_kind ydoc_kind(const struct ydoc *d, int node);
/* 1-based line where the node starts; 0 for an absent node. */
int ydoc_line(const struct ydoc *d, int node);

/* Scalar text (NUL-terminated, valid while the document lives), or NULL when
 * the node is not a scalar. */
const char *ydoc_scalar(const struct ydoc *d, int node);
/* "a scalar", "a list", "a mapping" or "nothing", for messages. */
const char *ydoc_kind_name(enum ydoc_kind k);
/* 1 when the scalar was written plain (unquoted) and is empty, "~" or "null". */
int ydoc_is_null(const struct ydoc *d, int node);

/* Sequences: number of items (0 for anything else) and the i-th item. */
int ydoc_seq_len(const struct ydoc *d, int node);
int ydoc_seq_item(const struct ydoc *d, int node, int i);

/* Mappings: number of pairs (0 for anything else), i-th key and value. */
int ydoc_map_len(const struct ydoc *d, int node);
int ydoc_map_key(const struct ydoc *d, int node, int i);
int ydoc_map_value(const struct ydoc *d, int node, int i);
/* Value node of scalar key `key`, or 0. */
int ydoc_get(const struct ydoc *d, int map, const char *key);

/* Line of the key `key` itself in `map` (a block list's value starts on the
 * next line), or 0. */
int ydoc_key_line(const struct ydoc *d, int map, const char *key);

/* Check that `node` is a mapping whose keys are scalars, unique and in
 * `allowed` (NULL-terminated; NULL = any key). Every problem is reported,
 * naming the mapping as `what`. Returns 0, or -EINVAL when anything was wrong
 * (for a node that is not a mapping at all: -EINVAL too). */
int ydoc_check_map(const struct ydoc *d, int node, const char *what,
                   const char *const *allowed, struct yerr *e);

/* Typed readers. Each reports "what: expected ..." at the node's line and
 * returns -EINVAL on a bad value, -ENOMEM when out of memory, 0 on success.
 * They do not touch *out on failure. */

/* A scalar as a malloc'd copy (which the caller owns). */
int ydoc_str(const struct ydoc *d, int node, const char *what, char **out, struct yerr *e);
/* A decimal integer within [min, max]. */
int ydoc_int(const struct ydoc *d, int node, const char *what, long min, long max,
             long *out, struct yerr *e);
/* true/false, yes/no, on/off (any case). */
int ydoc_bool(const struct ydoc *d, int node, const char *what, int *out, struct yerr *e);
/* A duration in seconds: "0", or one or more <number><unit> with unit s, m,
 * h or d ("90s", "30m", "2h", "1d", "1h30m"), at most 10 years. */
int ydoc_duration(const struct ydoc *d, int node, const char *what, int64_t *out,
                  struct yerr *e);
/* A calendar date "YYYY-MM-DD" as days since 1970-01-01. */
int ydoc_date(const struct ydoc *d, int node, const char *what, int64_t *days,
              struct yerr *e);
/* A daily time range "HH:MM-HH:MM" as minutes after midnight; the two ends
 * must differ (the range may cross midnight). */
int ydoc_timerange(const struct ydoc *d, int node, const char *what, int *start_min,
                   int *end_min, struct yerr *e);

/* Plain helpers on strings, shared with callers that read values themselves. */
int ydoc_parse_duration(const char *s, int64_t *out);
int ydoc_parse_date(const char *s, int64_t *days);
int ydoc_parse_timerange(const char *s, int *start_min, int *end_min);

#endif
