/* gw_raw: the gateway core's verbs that still pass hiredis replies, for the
 * files not yet moved to store.h's typed verbs (gw_step, gw_mo, gw_due,
 * gw_survey, gw_pumps). Not for other modules; new code uses gw_int.h. */
#ifndef HL_GW_RAW_H
#define HL_GW_RAW_H

#include "gw_int.h"
#include "store_raw.h"

/* gw_step.c */
/* ACTIVE: the citizen's running survey and its record, or when none runs the
 * second their last survey ended, in one round trip. The caller frees the
 * reply; NULL (err filled) when Redis did not answer. */
redisReply *gw_active(struct gw *g, const char *msisdn, char *err, size_t errlen);
/* The running survey an ACTIVE reply r names: id (RECORD_ID_MAX bytes), m,
 * c, s loaded as gw_parse_survey does (0, -ENOENT when it finished
 * meanwhile: look again, or another error); 1 when r names none (nothing
 * loaded: s is not to be cleared). */
int gw_active_parse(struct gw *g, const redisReply *r, char *id, struct record_meta *m,
                    const struct campaign **c, struct survey *s);
int gw_parse_survey(struct gw *g, const char *id, const redisReply *r, struct record_meta *m,
                    const struct campaign **c, struct survey *s);

/* gw_survey.c */
/* What ACTIVE's reply r means for an MO of msisdn: GW_MO_DONE (answer it
 * with *status), GW_MO_AGAIN (the survey finished meanwhile: look again),
 * GW_MO_FEED (m, c, s loaded: feed the text) or GW_MO_NOTICE (no survey
 * running: gw_no_survey answers it).
 * GW_MO_STORED: the reply was stored by a COMMIT whose answer was lost
 * (answer it ROK; the survey now waits on item m->sq: replies of the same
 * number that came before that item left answer nothing). */
int gw_mo_judge(struct gw *g, struct esme *e, const char *msisdn, const char *text, const redisReply *r,
                struct record_meta *m, const struct campaign **c, struct survey *s, uint32_t *status);

#endif
