/* SPDX-License-Identifier: MIT */
/* src/plan.h — the dry-run plan of a cutover: every step with the records before and after,
 * the waits, the gates and the rollback, built from live state and rendered for change
 * boards (text, json, markdown, nsupdate, powershell). Building a plan writes nothing. */
#ifndef MX_PLAN_H
#define MX_PLAN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "conf.h"
#include "err.h"
#include "provider.h"
#include "steps.h"

struct mx_plan_in {
	const struct mx_conf *conf;
	const char *domain;
	const char *target;
	const char *provider;	   /* [provider.NAME] */
	const char *provider_type; /* its type */
	int provider_min_ttl;
	const struct mx_rrset *mx;	/* the MX RRset as the provider holds it */
	const struct mx_rrset *sts_txt; /* _mta-sts TXT as the provider holds it (n 0: none) */
	uint32_t observed_ttl;		/* max MX TTL served by any authoritative NS */
	const char *policy;		/* the MTA-STS policy served now, or NULL */
	json_t *blockers;		/* borrowed array of failing check summaries, or NULL */
	time_t now;
	bool exchange; /* [exchange]: the run calls the Exchange Online admin API itself */
};

enum mx_plan_format { PLAN_TEXT, PLAN_JSON, PLAN_MARKDOWN, PLAN_NSUPDATE, PLAN_POWERSHELL };

/* Parses "text", "json", … Returns -1 for an unknown name. */
int mx_plan_format_parse(const char *name);

/* Builds the plan document (the JSON format of docs/plan-schema.md). New reference. */
int mx_plan_build(const struct mx_plan_in *in, json_t **out, struct mx_err *err);

/* The plan's checksum: "sha256:" + hex of the canonical JSON of everything the program
 * depends on — the snapshot (MX and _mta-sts TXT), the settings, the domain and target, the
 * observed TTL, the MTA-STS policies the run will ask for, and the program's identity (mx_plan_program).
 * A run given a plan computes it again and refuses to go on when they differ. out ≥ 72. */
int mx_plan_checksum(const struct mx_prog_in *in, char *out, size_t outlen, struct mx_err *err);

/* The program's identity, "mxcutover-program-N/VERSION". */
const char *mx_plan_program(void);

/* The MTA-STS policy the cutover must follow: the one served, when the domain announces one
 * (an _mta-sts record with an id) whose mode is not none; NULL otherwise. */
struct chk_facts;
const char *mx_plan_policy_now(const struct chk_facts *f);

/* The MTA-STS policies of a cutover from the policy served now: *staged lists the current
 * patterns plus the target (unless already covered), *final drops every pattern for a legacy
 * host. Same mode and max_age. MX_EINVAL when the current policy is not valid. Caller frees
 * both with free(). */
int mx_plan_mtasts_policies(const struct mx_conf *conf, const char *policy, const char *target,
    char **staged, char **final, struct mx_err *err);

/* Writes the plan in a format. nsupdate needs server (ip[@port]) or NULL for a placeholder. */
int mx_plan_render(
    json_t *plan, enum mx_plan_format fmt, const char *server, FILE *fp, struct mx_err *err);

/* The nsupdate format as one file per writing step in folder dir (created when missing):
 * NN-STEP.nsupdate in order, rollback-NN.nsupdate, and a README with the order, the gates
 * and the waits between them. Each file is written whole or not at all. */
int mx_plan_render_dir(json_t *plan, const char *server, const char *dir, struct mx_err *err);

#endif
