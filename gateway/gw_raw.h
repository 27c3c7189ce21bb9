/* gw_raw: the gateway core's verbs that still pass hiredis replies, for the
 * files not yet moved to store.h's typed verbs (gw_step, gw_due,
 * gw_survey). Not for other modules; new code uses gw_int.h. */
#ifndef HL_GW_RAW_H
#define HL_GW_RAW_H

#include "gw_int.h"
#include "store_raw.h"

/* gw_step.c */
int gw_parse_survey(struct gw *g, const char *id, const redisReply *r, struct record_meta *m,
                    const struct campaign **c, struct survey *s);

#endif
