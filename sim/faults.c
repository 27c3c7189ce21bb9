/* faults: one table of named faults, parsed from flags and the control API, printed as JSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "faults.h"

enum fault_kind { FAULT_SHARE, FAULT_COUNT, FAULT_STATUS };

static const struct fault_def {
	const char *name;
	enum fault_kind kind;
	size_t off;
	uint32_t max;                /* counts: the largest value */
} fault_defs[] = {
	{"throttle_every", FAULT_COUNT, offsetof(struct sim_faults, throttle_every), 1000000000u},
	{"qfull_every", FAULT_COUNT, offsetof(struct sim_faults, qfull_every), 1000000000u},
	{"throttle_share", FAULT_SHARE, offsetof(struct sim_faults, throttle_share), 0},
	{"qfull_share", FAULT_SHARE, offsetof(struct sim_faults, qfull_share), 0},
	{"nack_share", FAULT_SHARE, offsetof(struct sim_faults, nack_share), 0},
	{"vendor_share", FAULT_SHARE, offsetof(struct sim_faults, vendor_share), 0},
	{"vendor_status", FAULT_STATUS, offsetof(struct sim_faults, vendor_status), 0xFFFFFFFFu},
	{"drop_resp_share", FAULT_SHARE, offsetof(struct sim_faults, drop_resp_share), 0},
	{"resp_delay_ms", FAULT_COUNT, offsetof(struct sim_faults, resp_delay_ms), 600000u},
	{"disconnect_every_s", FAULT_COUNT, offsetof(struct sim_faults, disconnect_every_s), 86400u},
	{"bind_refuse", FAULT_STATUS, offsetof(struct sim_faults, bind_refuse), 0xFFFFFFFFu},
	{"dup_deliver_share", FAULT_SHARE, offsetof(struct sim_faults, dup_deliver_share), 0},
	{"malformed_share", FAULT_SHARE, offsetof(struct sim_faults, malformed_share), 0},
	{"receipt_loss_share", FAULT_SHARE, offsetof(struct sim_faults, receipt_loss_share), 0},
	{"receipt_late_ms", FAULT_COUNT, offsetof(struct sim_faults, receipt_late_ms), 3600000u},
	{"early_receipt_share", FAULT_SHARE, offsetof(struct sim_faults, early_receipt_share), 0},
};
#define FAULT_NDEFS (sizeof fault_defs / sizeof fault_defs[0])

void sim_faults_default(struct sim_faults *f)
{
	memset(f, 0, sizeof *f);
	f->vendor_status = 0x400;
}

int sim_faults_set(struct sim_faults *f, const char *name, const char *value, char *err,
                   size_t errlen)
{
	const struct fault_def *d = NULL;
	for (size_t i = 0; i < FAULT_NDEFS; i++)
		if (strcmp(fault_defs[i].name, name) == 0)
			d = &fault_defs[i];
	if (!d) {
		snprintf(err, errlen, "unknown fault '%s'", name);
		return -EINVAL;
	}
	char *end;
	errno = 0;
	if (d->kind == FAULT_SHARE) {
		double v = strtod(value, &end);
		if (end == value || *end || errno || !isfinite(v) || v < 0 || v > 1) {
			snprintf(err, errlen, "fault %s: '%s' is not a share in 0..1", name, value);
			return -EINVAL;
		}
		memcpy((char *)f + d->off, &v, sizeof v);
		return 0;
	}
	unsigned long long v = strtoull(value, &end, d->kind == FAULT_STATUS ? 0 : 10);
	if (end == value || *end || errno || value[0] == '-' || v > d->max) {
		snprintf(err, errlen, "fault %s: '%s' is not an integer in 0..%u", name, value, d->max);
		return -EINVAL;
	}
	uint32_t u = (uint32_t)v;
	memcpy((char *)f + d->off, &u, sizeof u);
	return 0;
}

int sim_faults_set_arg(struct sim_faults *f, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char name[64];
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
		snprintf(err, errlen, "bad fault '%s' (want NAME=VALUE)", arg);
		return -EINVAL;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	return sim_faults_set(f, name, eq + 1, err, errlen);
}

char *sim_faults_json(const struct sim_faults *f)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < FAULT_NDEFS; i++) {
		const struct fault_def *d = &fault_defs[i];
		if (d->kind == FAULT_SHARE) {
			double v;
			memcpy(&v, (const char *)f + d->off, sizeof v);
			json_object_set_new(o, d->name, json_real(v));
		} else {
			uint32_t v;
			memcpy(&v, (const char *)f + d->off, sizeof v);
			json_object_set_new(o, d->name, json_integer((json_int_t)v));
		}
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	return s;
}

int sim_faults_any(const struct sim_faults *f)
{
	/* field by field: the struct has padding */
	for (size_t i = 0; i < FAULT_NDEFS; i++) {
		const struct fault_def *d = &fault_defs[i];
		if (d->kind == FAULT_SHARE) {
			double v;
			memcpy(&v, (const char *)f + d->off, sizeof v);
			if (v > 0)
				return 1;
		} else if (d->off != offsetof(struct sim_faults, vendor_status)) {
			uint32_t v;
			memcpy(&v, (const char *)f + d->off, sizeof v);
			if (v)
				return 1;
		}
	}
	return 0;
}
