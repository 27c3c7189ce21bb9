/* config_int: what the configuration reader's files (config.c, config_smsc.c)
 * share: the parse context and the value readers. Not for other modules. */
#ifndef HL_CONFIG_INT_H
#define HL_CONFIG_INT_H

#include <stddef.h>

#include "config.h"
#include "yamldoc.h"

/* One parse: the document, its error list and the config being filled. */
struct cctx {
	const struct ydoc *d;
	struct yerr *e;
	struct config *c;
	int nomem;      /* an allocation failed somewhere */
};

/* A string of at most `max` bytes (0 = no limit); empty allowed when
 * allow_empty. Replaces *out. 0, or a negative errno with the error added. */
int config_read_str(struct cctx *p, int node, const char *what, size_t max, int allow_empty,
                    char **out);
/* Set *out to a copy of def when it is still NULL. */
void config_set_default(struct cctx *p, char **out, const char *def);
/* The integer under `key` of map, min..max, into *out when present. */
int config_read_int(struct cctx *p, int map, const char *key, const char *what, long min,
                    long max, int *out);
/* Adds "what: missing required key 'key'". */
void config_missing(struct cctx *p, int map, const char *what, const char *key);
int config_all_digits(const char *s);
/* A host name, IPv4 address, "*" or a bracketed IPv6 address in s[0..n). */
int config_valid_host(const char *s, size_t n);
/* A bare IPv6 address ("::1"). */
int config_valid_ipv6_bare(const char *s);

/* config_smsc.c: one entry of `smpp:` (index idx, for errors) appended to p->c->smsc. */
void config_parse_smsc(struct cctx *p, int node, int idx);

#endif
