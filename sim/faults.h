/* faults: the faults hailong-sim injects, by name, set from flags (--fault k=v) and the control API. */
#ifndef HL_SIM_FAULTS_H
#define HL_SIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

/* Faults the SMSC injects. All 0 = none. Set at start with --fault NAME=VALUE
 * and at run time with POST /faults {"NAME": VALUE}; the names are the field
 * names (docs/simulator.md lists them). Shares are chances in 0..1 drawn from
 * the SMSC's own PRNG, so a run is reproducible for the same seed. */
struct sim_faults {
	uint32_t throttle_every;     /* answer every Nth submit_sm with ESME_RTHROTTLED */
	uint32_t qfull_every;        /* answer every Nth submit_sm with ESME_RMSGQFUL */
	double throttle_share;       /* share of submit_sm answered ESME_RTHROTTLED */
	double qfull_share;          /* share of submit_sm answered ESME_RMSGQFUL */
	double nack_share;           /* share answered generic_nack ESME_RTHROTTLED instead of a resp */
	double vendor_share;         /* share answered with vendor_status */
	uint32_t vendor_status;      /* a vendor status code (default 0x400) */
	double drop_resp_share;      /* share of submit_sm never answered (the message is delivered) */
	uint32_t resp_delay_ms;      /* every submit_sm_resp is sent this late */
	uint32_t disconnect_every_s; /* close every ESME connection every N seconds */
	uint32_t bind_refuse;        /* refuse every bind with this status (0 = accept) */
	double dup_deliver_share;    /* share of MO deliver_sm sent twice */
	double malformed_share;      /* share of deliver_sm preceded by a malformed PDU */
	double receipt_loss_share;   /* share of delivery receipts never sent */
	uint32_t receipt_late_ms;    /* every receipt is sent this much later */
	double early_receipt_share;  /* share of receipts sent before their submit_sm_resp */
};

/* Defaults: everything off, vendor_status 0x400. */
void sim_faults_default(struct sim_faults *f);

/* Set one fault by name from text ("0.1", "500", "0x58"). 0, or -EINVAL
 * with err filled (unknown name, value out of range). */
int sim_faults_set(struct sim_faults *f, const char *name, const char *value, char *err,
                   size_t errlen);
/* "name=value" as given to --fault. */
int sim_faults_set_arg(struct sim_faults *f, const char *arg, char *err, size_t errlen);

/* Every fault as one JSON object, malloc'd (NULL on out of memory). */
char *sim_faults_json(const struct sim_faults *f);

/* 1 when any fault is on. */
int sim_faults_any(const struct sim_faults *f);

#endif
