/* SPDX-License-Identifier: MIT */
/* src/steps.h — the cutover's program: one table of forward steps and one of rollback steps,
 * with, for every step, its journal key, title, flags, and as pure functions of (snapshot,
 * settings, target): whether it applies, the records it writes, its wait, its gate text.
 * `plan` renders this program over a snapshot; the engine (src/engine.c) executes it, adding
 * only what needs the outside world: reading the zone, fetching policies, asking a person.
 * Keys are journal keys and stable forever. docs/state-machine.md describes the program. */
#ifndef MX_STEPS_H
#define MX_STEPS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "provider.h"

/* The program's identity, part of every plan's checksum: bump it whenever a step, a record
 * rule, a wait rule or a gate changes meaning. */
#define MX_PROG_VERSION "mxcutover-program-3"

enum {
	MX_STEPF_WRITES = 1 << 0,   /* writes DNS through the provider */
	MX_STEPF_GATE = 1 << 1,	    /* a verification (often of a person's action) must pass */
	MX_STEPF_WAIT = 1 << 2,	    /* waits for a deadline */
	MX_STEPF_MTASTS = 1 << 3,   /* only when the domain publishes MTA-STS */
	MX_STEPF_ASK = 1 << 4,	    /* asks a person's yes/no (answered yes with --yes) */
	MX_STEPF_CHECKS = 1 << 5,   /* runs the prerequisite checks */
	MX_STEPF_EXCHANGE = 1 << 6, /* only with [exchange]: calls the Exchange Online admin API */
};

enum mx_step_id {
	STEP_EXO_PROVISION = 0,
	STEP_PREFLIGHT,
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
	STEP_EXO_MX_VALID,
	STEP_DANE_ENABLE,
	STEP_MTASTS_FINALIZE,
	STEP_COUNT
};

/* The rollback, in the mail-safe order: DANE off, a policy covering every host the MX is about
 * to hold, the legacy MX preferred again, the wait, the target removed, the snapshot exactly,
 * the original MTA-STS record. */
enum mx_rb_step_id {
	RB_DANE = 0,
	RB_MTASTS_COVER,
	RB_READD_LEGACY,
	RB_WAIT,
	RB_REMOVE_TARGET,
	RB_RESTORE_TTL,
	RB_MTASTS,
	RB_COUNT
};

struct mx_step_def {
	const char *key;   /* journal key, stable forever */
	const char *title; /* what people see */
	unsigned flags;	   /* MX_STEPF_* */
	const char *why;   /* one sentence: why this step exists */
};

/* The number of steps of a direction, and step i of it (NULL when out of range). */
int mx_prog_count(bool rollback);
const struct mx_step_def *mx_prog_step(bool rollback, int i);
/* The index of key in a direction, or -1. */
int mx_prog_find(bool rollback, const char *key);

/* The forward table itself and mx_prog_find(false, key), for front ends that index it. */
extern const struct mx_step_def mx_step_table[STEP_COUNT];
int mx_step_find(const char *key);

/* ---- states, with the one place they become strings ---- */

enum mx_run_state {
	MX_RUN_RUNNING = 0,
	MX_RUN_WAITING,
	MX_RUN_GATE,
	MX_RUN_DONE,
	MX_RUN_FAILED,
	MX_RUN_ROLLING_BACK,
	MX_RUN_ROLLED_BACK,
	MX_RUN_ABANDONED, /* superseded by a newer run before it wrote anything */
	MX_RUN_STATE_COUNT
};
/* "running", "waiting", … (the status --json contract's names). */
const char *mx_run_state_name(enum mx_run_state s);
/* The state named s, or -1. */
int mx_run_state_parse(const char *s);
/* done, rolled_back and abandoned runs are over; every other state can be resumed. */
bool mx_run_state_over(enum mx_run_state s);

enum mx_step_state {
	MX_STEP_PENDING = 0,
	MX_STEP_ACTIVE,
	MX_STEP_DONE,
	MX_STEP_SKIPPED,
	MX_STEP_STATE_COUNT
};
const char *mx_step_state_name(enum mx_step_state s);
int mx_step_state_parse(const char *s);

/* ---- the pure program ---- */

/* What the program depends on, and nothing else. */
struct mx_settings {
	int low_ttl; /* the configured low TTL, already raised to provider_min_ttl */
	int final_ttl;
	int final_preference;
	int gate_timeout;
	int provider_min_ttl; /* 0: no floor */
};

struct mx_prog_in {
	const char *domain, *target;
	struct mx_settings set;
	const struct mx_rrset *snap_mx;	 /* the snapshot, as the provider holds it */
	const struct mx_rrset *snap_sts; /* _mta-sts TXT (n 0: none) */
	uint32_t observed_ttl;		 /* max MX TTL served by any authoritative NS */
	/* MTA-STS (all NULL when the domain publishes no policy the cutover must follow) */
	const char *policy_now, *policy_staged, *policy_final;
	const char *id_stage, *id_final, *id_rollback;
	/* [exchange]: the run calls the Exchange Online admin API itself (provisioning, the MX
	 * validation, inbound DANE on and off) instead of asking a person to. */
	bool exchange;
};

/* The zone as the program sees it: the MX RRset and the _mta-sts TXT RRset. */
struct mx_zone {
	struct mx_rrset mx, sts;
};
void mx_zone_clear(struct mx_zone *z);
int mx_zone_copy(struct mx_zone *dst, const struct mx_zone *src, struct mx_err *err);

/* The TTL the cutover writes with: low_ttl, or the zone's own when it is already lower, but
 * never below the provider's minimum. */
uint32_t mx_prog_cut_ttl(const struct mx_prog_in *in);

/* The seconds a wait step waits (0 for other steps), counted from the end of the step
 * *from (the write whose effect resolvers must forget). Forward only; RB_WAIT depends on
 * the zone the rollback started from: mx_prog_rb_wait. */
int mx_prog_wait(const struct mx_prog_in *in, int step, int *from);

/* Does forward step apply to this snapshot (MTA-STS steps only with a policy; lower_ttl and
 * its wait only when the TTL is above the cutover's)? */
bool mx_prog_applies(const struct mx_prog_in *in, int step);

/* The RRset forward step writes into *out (cleared first): 1 when it writes, 0 when not. */
int mx_prog_records(
    const struct mx_prog_in *in, int step, struct mx_rrset *out, struct mx_err *err);

/* The zone once forward step upto has completed (upto -1: the snapshot). */
int mx_prog_zone_after(
    const struct mx_prog_in *in, int upto, struct mx_zone *out, struct mx_err *err);

/* The rollback from a zone (what was published when it started) and whether inbound DANE
 * was (possibly) enabled: does rollback step apply, what it writes (1/0 as above), and the
 * zone before it runs. */
struct mx_rb_in {
	const struct mx_zone *start;
	bool dane_touched;
};
bool mx_prog_rb_applies(const struct mx_prog_in *in, const struct mx_rb_in *rb, int step);
int mx_prog_rb_records(const struct mx_prog_in *in, const struct mx_rb_in *rb, int step,
    struct mx_rrset *out, struct mx_err *err);
int mx_prog_rb_zone_before(const struct mx_prog_in *in, const struct mx_rb_in *rb, int step,
    struct mx_zone *out, struct mx_err *err);
/* The seconds RB_WAIT waits: resolvers may hold what was published when the rollback
 * started for its whole TTL, and the re-added RRset for the cutover's. */
int mx_prog_rb_wait(const struct mx_prog_in *in, const struct mx_rb_in *rb);

/* The text a person reads at a gate (forward or rollback), into buf. "" when none. */
void mx_prog_gate_text(const struct mx_prog_in *in, bool rollback, int step, char *buf, size_t len);

/* With [exchange]: the cmdlet the step runs through the Exchange Online admin API, as a
 * PowerShell line ("" when the step calls none). */
void mx_prog_exo_call(const struct mx_prog_in *in, bool rollback, int step, char *buf, size_t len);

/* The MTA-STS TXT value announcing id ("v=STSv1; id=ID;") into buf. */
void mx_prog_sts_value(const char *id, char *buf, size_t len);

#endif
