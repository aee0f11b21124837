/* SPDX-License-Identifier: MIT */
/* src/steps.h — the cutover's steps (docs/state-machine.md) as one table: keys are journal keys and
 * stable forever; the engine, the plan and the wizard all read this table. */
#ifndef MX_STEPS_H
#define MX_STEPS_H

enum {
	MX_STEPF_WRITES = 1 << 0, /* writes DNS through the provider */
	MX_STEPF_GATE = 1 << 1,	  /* needs a person or a verification to pass */
	MX_STEPF_WAIT = 1 << 2,	  /* waits for a deadline */
	MX_STEPF_MTASTS = 1 << 3, /* only when the domain publishes MTA-STS */
};

struct mx_step_info {
	const char *key;   /* journal key */
	const char *title; /* what people see */
	unsigned flags;
	const char *why; /* one sentence: why this step exists */
};

enum mx_step_id {
	STEP_PREFLIGHT = 0,
	STEP_SNAPSHOT,
	STEP_MTASTS_STAGE,
	STEP_LOWER_TTL,
	STEP_WAIT_OLD_TTL,
	STEP_ADD_TARGET,
	STEP_VERIFY_TARGET,
	STEP_SWAP,
	STEP_WAIT_LOW_TTL,
	STEP_REMOVE_LEGACY,
	STEP_RAISE_TTL,
	STEP_DANE_ENABLE,
	STEP_MTASTS_FINALIZE,
	STEP_COUNT
};

extern const struct mx_step_info mx_step_table[STEP_COUNT];

/* The step whose key is key, or -1. */
int mx_step_find(const char *key);

#endif
