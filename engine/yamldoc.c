/* yamldoc: typed, line-numbered access to a libyaml document, and a "file:line: message" error collector. */
#include "yamldoc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct ydoc {
	yaml_document_t doc; /* the first document of the text */
};

/* ---- errors ---------------------------------------------------------- */

void yerr_init(struct yerr *e, const char *file, char *buf, size_t cap)
{
	e->file = file ? file : "<input>";
	e->buf = buf;
	e->cap = cap;
	e->len = 0;
	e->count = 0;
	if (buf && cap > 0)
		buf[0] = '\0';
}

/* Append formatted text, dropping what does not fit. */
static void yerr_put(struct yerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void yerr_put(struct yerr *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!e->buf || e->len + 1 >= e->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= e->cap - e->len)
		e->len = e->cap - 1;
	else
		e->len += (size_t)n;
}

void yerr_add(struct yerr *e, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (e->count > 0)
		yerr_put(e, "\n");
	if (line > 0)
		yerr_put(e, "%s:%d: %s", e->file, line, msg);
	else
		yerr_put(e, "%s: %s", e->file, msg);
	e->count++;
}

/* ---- loading --------------------------------------------------------- */

/* 1-based line of byte `offset` in text (for reader errors, which carry only an offset). */
static int line_of_offset(const char *text, size_t len, size_t offset)
{
	int line = 1;
	size_t i;

	if (offset > len)
		offset = len;
	for (i = 0; i < offset; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static void report_parser_error(const yaml_parser_t *p, const char *text, size_t len,
                                struct yerr *e)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		yerr_add(e, 0, "out of memory while reading YAML");
		break;
	case YAML_READER_ERROR:
		yerr_add(e, line_of_offset(text, len, p->problem_offset),
		         "YAML syntax error: %s (byte %zu)", problem, p->problem_offset);
		break;
	default:
		if (p->context && p->context_mark.line != p->problem_mark.line)
			yerr_add(e, (int)p->problem_mark.line + 1,
			         "YAML syntax error: %s %s started on line %d", problem, p->context,
			         (int)p->context_mark.line + 1);
		else if (p->context)
			yerr_add(e, (int)p->problem_mark.line + 1, "YAML syntax error: %s %s", problem,
			         p->context);
		else
			yerr_add(e, (int)p->problem_mark.line + 1, "YAML syntax error: %s", problem);
		break;
	}
}

#define YDOC_MAX_FLOW_DEPTH 64

/* libyaml's scanner is quadratic in the nesting depth of flow collections
 * ("[[[[..." of 400 kB takes a minute), so deep flow nesting is refused
 * before parsing. Approximate YAML lexing: comments and quoted scalars
 * (opened at the start of a token) are skipped. Returns the 1-based line
 * where the limit is passed, or 0. */
static int flow_too_deep(const char *t, size_t len)
{
	int depth = 0, line = 1;
	size_t i;
	char prev = '\n';

	for (i = 0; i < len; i++) {
		char ch = t[i];
		int tok_start = prev == '\n' || prev == ' ' || prev == '\t' || prev == ':' ||
		                prev == ',' || prev == '[' || prev == '{' || prev == '-';

		if (ch == '\n') {
			line++;
		} else if (ch == '#' && (prev == '\n' || prev == ' ' || prev == '\t')) {
			while (i + 1 < len && t[i + 1] != '\n')
				i++;
		} else if ((ch == '"' || ch == '\'') && tok_start) {
			for (i++; i < len; i++) {
				if (t[i] == '\n')
					line++;
				if (ch == '"' && t[i] == '\\') {
					i++;
					if (i < len && t[i] == '\n')
						line++;
				} else if (t[i] == ch) {
					if (ch == '\'' && i + 1 < len && t[i + 1] == '\'')
						i++;
					else
						break;
				}
			}
		} else if (ch == '[' || ch == '{') {
			if (++depth > YDOC_MAX_FLOW_DEPTH)
				return line;
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
		}
		prev = i < len ? t[i] : '\n';
	}
	return 0;
}

struct ydoc *ydoc_load(const char *text, size_t len, struct yerr *e)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	struct ydoc *d = NULL;
	yaml_node_t *root;
	int parser_ok = 0, doc_ok = 0, line;

	d = calloc(1, sizeof *d);
	if (!d) {
		yerr_add(e, 0, "out of memory");
		goto fail;
	}
	if (!yaml_parser_initialize(&parser)) {
		yerr_add(e, 0, "out of memory");
		goto fail;
	}
	parser_ok = 1;
	if (text && (line = flow_too_deep(text, len)) > 0) {
		yerr_add(e, line, "lists and mappings nested more than %d deep", YDOC_MAX_FLOW_DEPTH);
		goto fail;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""),
	                             text ? len : 0);
	if (!yaml_parser_load(&parser, &d->doc)) {
		report_parser_error(&parser, text, len, e);
		goto fail;
	}
	doc_ok = 1;
	root = yaml_document_get_root_node(&d->doc);
	if (!root) {
		yerr_add(e, 1, "the file is empty");
		goto fail;
	}
	/* One document per file: a second one is a mistake, not something to ignore. */
	if (!yaml_parser_load(&parser, &extra)) {
		report_parser_error(&parser, text, len, e);
		goto fail;
	}
	root = yaml_document_get_root_node(&extra);
	if (root)
		yerr_add(e, (int)extra.start_mark.line + 1,
		         "only one YAML document is allowed in the file");
	yaml_document_delete(&extra);
	if (root)
		goto fail;
	yaml_parser_delete(&parser);
	return d;
fail:
	if (doc_ok)
		yaml_document_delete(&d->doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	free(d);
	return NULL;
}

void ydoc_free(struct ydoc *d)
{
	if (!d)
		return;
	yaml_document_delete(&d->doc);
	free(d);
}

/* ---- nodes ----------------------------------------------------------- */

static yaml_node_t *node_get(const struct ydoc *d, int node)
{
	if (!d || node <= 0)
		return NULL;
	return yaml_document_get_node((yaml_document_t *)&d->doc, node);
}

int ydoc_root(const struct ydoc *d)
{
	if (!d || !yaml_document_get_root_node((yaml_document_t *)&d->doc))
		return 0;
	return 1; /* libyaml numbers the root node 1 */
}

enum ydoc_kind ydoc_kind(const struct ydoc *d, int node)
{
	yaml_node_t *n = node_get(d, node);

	if (!n)
		return YDOC_NONE;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return YDOC_SCALAR;
	case YAML_SEQUENCE_NODE:
		return YDOC_SEQ;
	case YAML_MAPPING_NODE:
		return YDOC_MAP;
	default:
		return YDOC_NONE;
	}
}

int ydoc_line(const struct ydoc *d, int node)
{
	yaml_node_t *n = node_get(d, node);

	return n ? (int)n->start_mark.line + 1 : 0;
}

const char *ydoc_scalar(const struct ydoc *d, int node)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

int ydoc_is_null(const struct ydoc *d, int node)
{
	yaml_node_t *n = node_get(d, node);
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = (const char *)n->data.scalar.value;
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0;
}

int ydoc_seq_len(const struct ydoc *d, int node)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

int ydoc_seq_item(const struct ydoc *d, int node, int i)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_SEQUENCE_NODE || i < 0 || i >= ydoc_seq_len(d, node))
		return 0;
	return n->data.sequence.items.start[i];
}

int ydoc_map_len(const struct ydoc *d, int node)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_MAPPING_NODE)
		return 0;
	return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

int ydoc_map_key(const struct ydoc *d, int node, int i)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_MAPPING_NODE || i < 0 || i >= ydoc_map_len(d, node))
		return 0;
	return n->data.mapping.pairs.start[i].key;
}

int ydoc_map_value(const struct ydoc *d, int node, int i)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_MAPPING_NODE || i < 0 || i >= ydoc_map_len(d, node))
		return 0;
	return n->data.mapping.pairs.start[i].value;
}

int ydoc_get(const struct ydoc *d, int map, const char *key)
{
	int i, n = ydoc_map_len(d, map);

	for (i = 0; i < n; i++) {
		const char *k = ydoc_scalar(d, ydoc_map_key(d, map, i));

		if (k && strcmp(k, key) == 0)
			return ydoc_map_value(d, map, i);
	}
	return 0;
}

int ydoc_key_line(const struct ydoc *d, int map, const char *key)
{
	int i, n = ydoc_map_len(d, map);

	for (i = 0; i < n; i++) {
		const char *k = ydoc_scalar(d, ydoc_map_key(d, map, i));

		if (k && strcmp(k, key) == 0)
			return ydoc_line(d, ydoc_map_key(d, map, i));
	}
	return 0;
}

const char *ydoc_kind_name(enum ydoc_kind k)
{
	switch (k) {
	case YDOC_SCALAR:
		return "a scalar";
	case YDOC_SEQ:
		return "a list";
	case YDOC_MAP:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* Scalars with an embedded NUL ("\0" escape) cannot be used as C strings. */
static const char *scalar_checked(const struct ydoc *d, int node, const char *what,
                                  const char *expected, struct yerr *e)
{
	yaml_node_t *n = node_get(d, node);

	if (!n || n->type != YAML_SCALAR_NODE) {
		yerr_add(e, ydoc_line(d, node), "%s: expected %s, found %s", what, expected,
		         ydoc_kind_name(ydoc_kind(d, node)));
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		yerr_add(e, ydoc_line(d, node), "%s: contains a NUL character", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int ydoc_check_map(const struct ydoc *d, int node, const char *what,
                   const char *const *allowed, struct yerr *e)
{
	int i, j, n, rc = 0;

	if (ydoc_kind(d, node) != YDOC_MAP) {
		yerr_add(e, ydoc_line(d, node), "%s: expected a mapping, found %s", what,
		         ydoc_kind_name(ydoc_kind(d, node)));
		return -EINVAL;
	}
	n = ydoc_map_len(d, node);
	for (i = 0; i < n; i++) {
		int key = ydoc_map_key(d, node, i);
		const char *k = ydoc_scalar(d, key);
		int known = 0;

		if (!k) {
			yerr_add(e, ydoc_line(d, key), "%s: a key must be a plain word, found %s",
			         what, ydoc_kind_name(ydoc_kind(d, key)));
			rc = -EINVAL;
			continue;
		}
		if (!allowed) {
			known = 1;
		} else {
			for (j = 0; allowed[j]; j++)
				if (strcmp(allowed[j], k) == 0)
					known = 1;
		}
		if (!known) {
			yerr_add(e, ydoc_line(d, key), "%s: unknown key '%.64s'", what, k);
			rc = -EINVAL;
			continue;
		}
		/* Duplicates: quadratic, so bounded; callers limit the sizes they accept. */
		for (j = 0; j < i && j < 1024; j++) {
			const char *k2 = ydoc_scalar(d, ydoc_map_key(d, node, j));

			if (k2 && strcmp(k, k2) == 0) {
				yerr_add(e, ydoc_line(d, key), "%s: duplicate key '%.64s' (first on line %d)",
				         what, k, ydoc_line(d, ydoc_map_key(d, node, j)));
				rc = -EINVAL;
				break;
			}
		}
	}
	return rc;
}

/* ---- typed readers --------------------------------------------------- */

int ydoc_str(const struct ydoc *d, int node, const char *what, char **out, struct yerr *e)
{
	const char *s = scalar_checked(d, node, what, "a text", e);
	char *copy;

	if (!s)
		return -EINVAL;
	copy = strdup(s);
	if (!copy) {
		yerr_add(e, ydoc_line(d, node), "%s: out of memory", what);
		return -ENOMEM;
	}
	*out = copy;
	return 0;
}

static int parse_long(const char *s, long *out)
{
	long v = 0;
	int neg = 0;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (LONG_MAX - (*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

int ydoc_int(const struct ydoc *d, int node, const char *what, long min, long max,
             long *out, struct yerr *e)
{
	const char *s = scalar_checked(d, node, what, "a whole number", e);
	long v;

	if (!s)
		return -EINVAL;
	if (parse_long(s, &v) < 0) {
		yerr_add(e, ydoc_line(d, node), "%s: expected a whole number, found '%.64s'", what, s);
		return -EINVAL;
	}
	if (v < min || v > max) {
		yerr_add(e, ydoc_line(d, node), "%s: %ld is out of range (%ld..%ld)", what, v, min,
		         max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int ydoc_bool(const struct ydoc *d, int node, const char *what, int *out, struct yerr *e)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = scalar_checked(d, node, what, "true or false", e);
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	yerr_add(e, ydoc_line(d, node), "%s: expected true or false, found '%.64s'", what, s);
	return -EINVAL;
}

#define YDOC_MAX_DURATION ((int64_t)10 * 366 * 86400)

int ydoc_parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;

	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		int64_t v = 0, mult;
		int digits = 0;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s - '0');
			if (v > YDOC_MAX_DURATION)
				return -ERANGE;
			s++;
			digits++;
		}
		if (!digits)
			return -EINVAL;
		switch (*s) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -EINVAL;
		}
		s++;
		total += v * mult;
		if (total > YDOC_MAX_DURATION)
			return -ERANGE;
	}
	*out = total;
	return 0;
}

int ydoc_duration(const struct ydoc *d, int node, const char *what, int64_t *out,
                  struct yerr *e)
{
	const char *s = scalar_checked(d, node, what, "a duration such as 90s, 30m, 2h or 1d", e);
	int rc;

	if (!s)
		return -EINVAL;
	rc = ydoc_parse_duration(s, out);
	if (rc == -ERANGE) {
		yerr_add(e, ydoc_line(d, node), "%s: '%.64s' is too long (at most 10 years)", what, s);
		return -EINVAL;
	}
	if (rc < 0) {
		yerr_add(e, ydoc_line(d, node),
		         "%s: bad duration '%.64s' (expected a number and a unit s, m, h or d, "
		         "e.g. 90s, 30m, 2h, 1d)",
		         what, s);
		return -EINVAL;
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int dd)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits_at(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int ydoc_parse_date(const char *s, int64_t *days)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, dd;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	if (digits_at(s, 4, &y) < 0 || digits_at(s + 5, 2, &m) < 0 || digits_at(s + 8, 2, &dd) < 0)
		return -EINVAL;
	if (y < 1970 || m < 1 || m > 12 || dd < 1 || dd > mdays[m - 1])
		return -EINVAL;
	if (m == 2 && dd == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	*days = days_from_civil(y, m, dd);
	return 0;
}

int ydoc_date(const struct ydoc *d, int node, const char *what, int64_t *days, struct yerr *e)
{
	const char *s = scalar_checked(d, node, what, "a date YYYY-MM-DD", e);

	if (!s)
		return -EINVAL;
	if (ydoc_parse_date(s, days) < 0) {
		yerr_add(e, ydoc_line(d, node), "%s: bad date '%.64s' (expected YYYY-MM-DD)", what, s);
		return -EINVAL;
	}
	return 0;
}

/* "H:MM" or "HH:MM" at *s; advances *s. */
static int parse_hhmm(const char **s, int *minutes)
{
	const char *p = *s;
	int h = 0, m, nd = 0;

	while (*p >= '0' && *p <= '9' && nd < 2) {
		h = h * 10 + (*p - '0');
		p++;
		nd++;
	}
	if (nd == 0 || *p != ':')
		return -EINVAL;
	p++;
	if (digits_at(p, 2, &m) < 0)
		return -EINVAL;
	p += 2;
	if (h > 23 || m > 59)
		return -EINVAL;
	*minutes = h * 60 + m;
	*s = p;
	return 0;
}

int ydoc_parse_timerange(const char *s, int *start_min, int *end_min)
{
	int a, b;

	while (*s == ' ')
		s++;
	if (parse_hhmm(&s, &a) < 0)
		return -EINVAL;
	while (*s == ' ')
		s++;
	if (*s != '-')
		return -EINVAL;
	s++;
	while (*s == ' ')
		s++;
	if (parse_hhmm(&s, &b) < 0)
		return -EINVAL;
	while (*s == ' ')
		s++;
	if (*s || a == b)
		return -EINVAL;
	*start_min = a;
	*end_min = b;
	return 0;
}

int ydoc_timerange(const struct ydoc *d, int node, const char *what, int *start_min,
                   int *end_min, struct yerr *e)
{
	const char *s = scalar_checked(d, node, what, "a time range HH:MM-HH:MM", e);

	if (!s)
		return -EINVAL;
	if (ydoc_parse_timerange(s, start_min, end_min) < 0) {
		yerr_add(e, ydoc_line(d, node),
		         "%s: bad time range '%.64s' (expected HH:MM-HH:MM with two different times)",
		         what, s);
		return -EINVAL;
	}
	return 0;
}

static int ydoc_read_fd(const char *path, size_t max, char **out, size_t *outlen);

int ydoc_read_file(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
	int rc = ydoc_read_fd(path, max, out, outlen);
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
	return rc;
}

static int ydoc_read_fd(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t have = 0;
	int fd, rc;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		rc = -EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto fail;
	}
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	close(fd);
	*out = buf;
	*outlen = have;
	return 0;
fail:
	close(fd);
	free(buf);
	return rc;
}
