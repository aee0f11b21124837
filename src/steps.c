/* SPDX-License-Identifier: MIT */
/* src/steps.c — the cutover's steps as one table. */
#include "steps.h"

#include <string.h>

const struct mx_step_info mx_step_table[STEP_COUNT] = {
    [STEP_PREFLIGHT] = {"preflight", "Check the prerequisites", 0,
	"every check must pass before anything changes"},
    [STEP_SNAPSHOT] = {"snapshot", "Record the current MX and MTA-STS", 0,
	"rollback restores exactly what was there"},
    [STEP_MTASTS_STAGE] = {"mtasts_stage", "Publish an MTA-STS policy listing both hosts",
	MX_STEPF_WRITES | MX_STEPF_GATE | MX_STEPF_MTASTS,
	"senders with an enforce policy refuse an MX the policy does not list"},
    [STEP_LOWER_TTL] = {"lower_ttl", "Lower the MX TTL", MX_STEPF_WRITES,
	"later changes then reach every resolver within seconds"},
    [STEP_WAIT_OLD_TTL] = {"wait_old_ttl", "Wait for the old TTL to expire", MX_STEPF_WAIT,
	"resolvers may hold the old RRset for its whole previous TTL"},
    [STEP_ADD_TARGET] = {"add_target", "Add the new MX at preference 20", MX_STEPF_WRITES,
	"the new host is published, but not yet preferred"},
    [STEP_VERIFY_TARGET] = {"verify_target", "Verify the new MX everywhere", MX_STEPF_GATE,
	"a host is never preferred before every server serves it and it resolves securely"},
    [STEP_SWAP] = {"swap", "Prefer the new MX", MX_STEPF_WRITES,
	"mail moves to the new host; the legacy one stays as a fallback"},
    [STEP_WAIT_LOW_TTL] = {"wait_low_ttl", "Wait for the low TTL to expire", MX_STEPF_WAIT,
	"resolvers must see the swap before the fallback disappears"},
    [STEP_REMOVE_LEGACY] = {"remove_legacy", "Remove the legacy MX", MX_STEPF_WRITES,
	"Microsoft's end state has the new MX alone"},
    [STEP_RAISE_TTL] = {"raise_ttl", "Raise the MX TTL", MX_STEPF_WRITES,
	"a long TTL again, as Microsoft recommends"},
    [STEP_DANE_ENABLE] = {"dane_enable", "Enable inbound DANE", MX_STEPF_GATE,
	"Microsoft publishes the TLSA record only after Enable-SmtpDaneInbound"},
    [STEP_MTASTS_FINALIZE] = {"mtasts_finalize", "Drop the legacy host from MTA-STS",
	MX_STEPF_WRITES | MX_STEPF_GATE | MX_STEPF_MTASTS,
	"the policy then lists only the host that receives mail"},
};

int mx_step_find(const char *key)
{
	for (int i = 0; i < STEP_COUNT; i++)
		if (!strcmp(mx_step_table[i].key, key))
			return i;
	return -1;
}
