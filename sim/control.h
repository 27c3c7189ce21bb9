/* control: hailong-sim's loopback HTTP control API (GET /stats, POST /mo, GET /inbox/N, faults). */
#ifndef HL_SIM_CONTROL_H
#define HL_SIM_CONTROL_H

#include <stddef.h>

struct event_base;
struct smsc;

struct simctl;

/* Serve the control API on hostport, driving s (borrowed). NULL with err filled on failure. */
struct simctl *simctl_new(struct event_base *base, struct smsc *s, const char *hostport,
                          char *err, size_t errlen);
void simctl_free(struct simctl *c);

#endif
