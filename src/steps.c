/* SPDX-License-Identifier: MIT */
/* src/steps.c — the cutover's program: the step tables and the pure rules of every step. */
#include "steps.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "domain.h"

const struct mx_step_def mx_step_table[STEP_COUNT] = {
    [STEP_EXO_PROVISION] = {"exo_provision", "Provision the DNSSEC endpoint in Exchange Online",
	MX_STEPF_EXCHANGE,
	"Exchange assigns the new MX host (DnssecMxValue) before anything else happens"},
    [STEP_PREFLIGHT] = {"preflight", "Check the prerequisites", MX_STEPF_CHECKS,
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
    [STEP_VERIFY_TARGET] = {"verify_target", "Verify the new MX everywhere",
	MX_STEPF_GATE | MX_STEPF_ASK,
	"a host is never preferred before every server serves it and it resolves securely"},
    [STEP_SWAP] = {"swap", "Prefer the new MX", MX_STEPF_WRITES,
	"mail moves to the new host; the legacy one stays as a fallback"},
    [STEP_WAIT_LOW_TTL] = {"wait_low_ttl", "Wait for the low TTL to expire", MX_STEPF_WAIT,
	"resolvers must see the swap before the fallback disappears"},
    [STEP_REMOVE_LEGACY] = {"remove_legacy", "Remove the legacy MX", MX_STEPF_WRITES,
	"Microsoft's end state has the new MX alone"},
    [STEP_RAISE_TTL] = {"raise_ttl", "Raise the MX TTL", MX_STEPF_WRITES,
	"a long TTL again, as Microsoft recommends"},
    [STEP_EXO_MX_VALID] = {"exo_mx_validation", "Confirm the MX with Exchange Online",
	MX_STEPF_EXCHANGE | MX_STEPF_GATE,
	"Exchange validates the live MX before inbound DANE is enabled"},
    [STEP_DANE_ENABLE] = {"dane_enable", "Enable inbound DANE", MX_STEPF_GATE,
	"Microsoft publishes the TLSA record only after Enable-SmtpDaneInbound"},
    [STEP_MTASTS_FINALIZE] = {"mtasts_finalize", "Drop the legacy host from MTA-STS",
	MX_STEPF_WRITES | MX_STEPF_GATE | MX_STEPF_MTASTS,
	"the policy then lists only the host that receives mail"},
};

static const struct mx_step_def rb_steps[RB_COUNT] = {
    [RB_DANE] = {"rb_dane", "Disable inbound DANE first", MX_STEPF_GATE,
	"DANE senders must stop expecting the new host's TLSA before it leaves"},
    [RB_MTASTS_COVER] = {"rb_mtasts_cover", "Publish an MTA-STS policy listing both hosts",
	MX_STEPF_WRITES | MX_STEPF_GATE | MX_STEPF_MTASTS,
	"senders with an enforce policy refuse an MX the policy does not list"},
    [RB_READD_LEGACY] = {"rb_readd_legacy", "Prefer the legacy MX again", MX_STEPF_WRITES,
	"mail moves back while the new host stays as a fallback"},
    [RB_WAIT] = {"rb_wait", "Wait for the TTL to expire", MX_STEPF_WAIT,
	"resolvers must see the legacy MX before the new one disappears"},
    [RB_REMOVE_TARGET] = {"rb_remove_target", "Remove the new MX", MX_STEPF_WRITES,
	"the new host leaves only once nobody prefers it"},
    [RB_RESTORE_TTL] = {"rb_restore_ttl", "Restore the MX exactly", MX_STEPF_WRITES,
	"the snapshot's values, preferences and TTL"},
    [RB_MTASTS] = {"rb_mtasts", "Restore the MTA-STS record",
	MX_STEPF_WRITES | MX_STEPF_GATE | MX_STEPF_MTASTS,
	"the original policy and its record, exactly"},
};

int mx_prog_count(bool rollback)
{
	return rollback ? RB_COUNT : STEP_COUNT;
}

const struct mx_step_def *mx_prog_step(bool rollback, int i)
{
	if (i < 0 || i >= mx_prog_count(rollback))
		return NULL;
	return rollback ? &rb_steps[i] : &mx_step_table[i];
}

int mx_step_find(const char *key)
{
	return mx_prog_find(false, key);
}

int mx_prog_find(bool rollback, const char *key)
{
	for (int i = 0; key && i < mx_prog_count(rollback); i++)
		if (!strcmp(mx_prog_step(rollback, i)->key, key))
			return i;
	return -1;
}

/* ---- states ---- */

static const char *const run_state_names[MX_RUN_STATE_COUNT] = {
    [MX_RUN_RUNNING] = "running",
    [MX_RUN_WAITING] = "waiting",
    [MX_RUN_GATE] = "gate",
    [MX_RUN_DONE] = "done",
    [MX_RUN_FAILED] = "failed",
    [MX_RUN_ROLLING_BACK] = "rolling_back",
    [MX_RUN_ROLLED_BACK] = "rolled_back",
    [MX_RUN_ABANDONED] = "abandoned",
};

static const char *const step_state_names[MX_STEP_STATE_COUNT] = {
    [MX_STEP_PENDING] = "pending",
    [MX_STEP_ACTIVE] = "active",
    [MX_STEP_DONE] = "done",
    [MX_STEP_SKIPPED] = "skipped",
};

static int find_name(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

const char *mx_run_state_name(enum mx_run_state s)
{
	return (unsigned)s < MX_RUN_STATE_COUNT ? run_state_names[s] : "unknown";
}

int mx_run_state_parse(const char *s)
{
	return find_name(run_state_names, MX_RUN_STATE_COUNT, s);
}

bool mx_run_state_over(enum mx_run_state s)
{
	return s == MX_RUN_DONE || s == MX_RUN_ROLLED_BACK || s == MX_RUN_ABANDONED;
}

const char *mx_step_state_name(enum mx_step_state s)
{
	return (unsigned)s < MX_STEP_STATE_COUNT ? step_state_names[s] : "unknown";
}

int mx_step_state_parse(const char *s)
{
	return find_name(step_state_names, MX_STEP_STATE_COUNT, s);
}

/* ---- zones ---- */

void mx_zone_clear(struct mx_zone *z)
{
	prov_rrset_clear(&z->mx);
	prov_rrset_clear(&z->sts);
}

int mx_zone_copy(struct mx_zone *dst, const struct mx_zone *src, struct mx_err *err)
{
	memset(dst, 0, sizeof(*dst));
	if (prov_rrset_copy(&dst->mx, &src->mx, err) ||
	    prov_rrset_copy(&dst->sts, &src->sts, err)) {
		mx_zone_clear(dst);
		return err ? err->rc : MX_ENOMEM;
	}
	return MX_OK;
}

/* ---- the forward program ---- */

uint32_t mx_prog_cut_ttl(const struct mx_prog_in *in)
{
	uint32_t low = (uint32_t)in->set.low_ttl,
		 ttl = in->snap_mx->ttl < low ? in->snap_mx->ttl : low;

	if (in->set.provider_min_ttl > 0 && ttl < (uint32_t)in->set.provider_min_ttl)
		ttl = (uint32_t)in->set.provider_min_ttl;
	return ttl;
}

static bool has_mtasts(const struct mx_prog_in *in)
{
	return in->policy_staged && in->policy_final && in->id_stage && in->id_final &&
	       in->snap_sts->n > 0;
}

bool mx_prog_applies(const struct mx_prog_in *in, int step)
{
	switch (step) {
	case STEP_MTASTS_STAGE:
	case STEP_MTASTS_FINALIZE:
		return has_mtasts(in);
	case STEP_LOWER_TTL:
	case STEP_WAIT_OLD_TTL:
		return in->snap_mx->ttl > mx_prog_cut_ttl(in);
	case STEP_EXO_PROVISION:
	case STEP_EXO_MX_VALID:
		return in->exchange;
	default:
		return step >= 0 && step < STEP_COUNT;
	}
}

int mx_prog_wait(const struct mx_prog_in *in, int step, int *from)
{
	uint32_t old = in->observed_ttl > in->snap_mx->ttl ? in->observed_ttl : in->snap_mx->ttl;

	if (from)
		*from = -1;
	if (!mx_prog_applies(in, step))
		return 0;
	if (step == STEP_WAIT_OLD_TTL) {
		if (from)
			*from = STEP_LOWER_TTL;
		return (int)old;
	}
	if (step == STEP_WAIT_LOW_TTL) {
		if (from)
			*from = STEP_SWAP;
		return (int)mx_prog_cut_ttl(in);
	}
	return 0;
}

static int add_mx(struct mx_rrset *s, unsigned pref, const char *host, struct mx_err *err)
{
	char value[300];

	if (prov_mx_value(pref, host, value, sizeof(value)))
		return mx_err_set(err, MX_EINVAL, "MX host %s is too long", host);
	return prov_rrset_add(s, value, err);
}

static void rrset_init(struct mx_rrset *out, const char *name, int type, uint32_t ttl)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	out->ttl = ttl;
}

/* The snapshot's hosts, each at pref (< 0: its own preference). */
static int add_snapshot_hosts(
    const struct mx_prog_in *in, struct mx_rrset *out, int pref, struct mx_err *err)
{
	unsigned p;
	char host[300];
	int rc = MX_OK;

	for (size_t i = 0; i < in->snap_mx->n && !rc; i++)
		if (prov_mx_parse(in->snap_mx->values[i], &p, host, sizeof(host)))
			rc = add_mx(out, pref < 0 ? p : (unsigned)pref, host, err);
	return rc;
}

static int sts_rrset(
    const struct mx_prog_in *in, const char *id, struct mx_rrset *out, struct mx_err *err)
{
	char value[100];

	rrset_init(out, in->snap_sts->name, DNS_T_TXT, in->snap_sts->ttl ? in->snap_sts->ttl : 300);
	mx_prog_sts_value(id, value, sizeof(value));
	return prov_rrset_add(out, value, err);
}

void mx_prog_sts_value(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "v=STSv1; id=%s;", id ? id : "");
}

int mx_prog_records(const struct mx_prog_in *in, int step, struct mx_rrset *out, struct mx_err *err)
{
	uint32_t cut = mx_prog_cut_ttl(in);
	unsigned fin = (unsigned)in->set.final_preference;
	int rc = MX_OK;

	memset(out, 0, sizeof(*out));
	if (!mx_prog_applies(in, step) || !(mx_step_table[step].flags & MX_STEPF_WRITES))
		return 0;
	if (step == STEP_MTASTS_STAGE || step == STEP_MTASTS_FINALIZE) {
		rc = sts_rrset(
		    in, step == STEP_MTASTS_STAGE ? in->id_stage : in->id_final, out, err);
		return rc ? -rc : 1;
	}
	rrset_init(out, in->snap_mx->name[0] ? in->snap_mx->name : in->domain, DNS_T_MX, cut);
	switch (step) {
	case STEP_LOWER_TTL:
		rc = add_snapshot_hosts(in, out, -1, err);
		break;
	case STEP_ADD_TARGET:
		rc = add_snapshot_hosts(in, out, -1, err);
		if (!rc)
			rc = add_mx(out, 20, in->target, err);
		break;
	case STEP_SWAP:
		rc = add_snapshot_hosts(in, out, 30, err);
		if (!rc)
			rc = add_mx(out, fin, in->target, err);
		break;
	case STEP_REMOVE_LEGACY:
		rc = add_mx(out, fin, in->target, err);
		break;
	case STEP_RAISE_TTL:
		out->ttl = (uint32_t)in->set.final_ttl;
		rc = add_mx(out, fin, in->target, err);
		break;
	default:
		break;
	}
	prov_rrset_sort(out);
	if (rc) {
		prov_rrset_clear(out);
		return -rc;
	}
	return 1;
}

int mx_prog_zone_after(
    const struct mx_prog_in *in, int upto, struct mx_zone *out, struct mx_err *err)
{
	struct mx_rrset rec;
	int rc;

	memset(out, 0, sizeof(*out));
	if (prov_rrset_copy(&out->mx, in->snap_mx, err) ||
	    prov_rrset_copy(&out->sts, in->snap_sts, err))
		goto fail;
	for (int k = 0; k <= upto && k < STEP_COUNT; k++) {
		rc = mx_prog_records(in, k, &rec, err);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			continue;
		if (rec.type == DNS_T_MX) {
			prov_rrset_clear(&out->mx);
			out->mx = rec;
		} else {
			prov_rrset_clear(&out->sts);
			out->sts = rec;
		}
	}
	return MX_OK;
fail:
	mx_zone_clear(out);
	return err && err->rc ? err->rc : MX_ENOMEM;
}

/* ---- the rollback program ---- */

static bool mx_has_host(const struct mx_rrset *s, const char *host)
{
	unsigned pref;
	char h[300];

	for (size_t i = 0; i < s->n; i++)
		if (prov_mx_parse(s->values[i], &pref, h, sizeof(h)) && !strcasecmp(h, host))
			return true;
	return false;
}

bool mx_prog_rb_applies(const struct mx_prog_in *in, const struct mx_rb_in *rb, int step)
{
	bool target_in = mx_has_host(&rb->start->mx, in->target);
	bool sts = in->policy_now && in->snap_sts->n > 0;

	switch (step) {
	case RB_DANE:
		return rb->dane_touched;
	case RB_MTASTS_COVER:
		return sts && has_mtasts(in) && target_in;
	case RB_READD_LEGACY:
	case RB_WAIT:
	case RB_REMOVE_TARGET:
		return target_in;
	case RB_RESTORE_TTL: {
		struct mx_zone before;
		bool differs = true;

		if (!mx_prog_rb_zone_before(in, rb, step, &before, NULL)) {
			differs = !prov_rrset_equal(&before.mx, in->snap_mx, true);
			mx_zone_clear(&before);
		}
		return differs;
	}
	case RB_MTASTS: {
		struct mx_zone before;
		bool differs = true;

		if (!sts)
			return false;
		if (!mx_prog_rb_zone_before(in, rb, step, &before, NULL)) {
			differs = !prov_rrset_equal(&before.sts, in->snap_sts, true);
			mx_zone_clear(&before);
		}
		return differs;
	}
	default:
		return false;
	}
}

int mx_prog_rb_records(const struct mx_prog_in *in, const struct mx_rb_in *rb, int step,
    struct mx_rrset *out, struct mx_err *err)
{
	uint32_t cut = mx_prog_cut_ttl(in);
	int rc = MX_OK;

	memset(out, 0, sizeof(*out));
	if (step < 0 || step >= RB_COUNT || !(rb_steps[step].flags & MX_STEPF_WRITES) ||
	    !mx_prog_rb_applies(in, rb, step))
		return 0;
	switch (step) {
	case RB_MTASTS_COVER:
		/* A new id: senders holding the final policy (or any other) fetch again and find
		 * the one verified to cover every host the MX is about to hold. */
		rc = sts_rrset(in, in->id_rollback, out, err);
		break;
	case RB_MTASTS:
		rc = prov_rrset_copy(out, in->snap_sts, err);
		break;
	case RB_RESTORE_TTL:
		rc = prov_rrset_copy(out, in->snap_mx, err);
		break;
	case RB_READD_LEGACY:
	case RB_REMOVE_TARGET:
		rrset_init(out, in->snap_mx->name, DNS_T_MX, cut);
		rc = add_snapshot_hosts(in, out, -1, err);
		if (!rc && step == RB_READD_LEGACY)
			rc = add_mx(out, 30, in->target, err);
		prov_rrset_sort(out);
		break;
	default:
		return 0;
	}
	if (rc) {
		prov_rrset_clear(out);
		return -rc;
	}
	return 1;
}

int mx_prog_rb_zone_before(const struct mx_prog_in *in, const struct mx_rb_in *rb, int step,
    struct mx_zone *out, struct mx_err *err)
{
	struct mx_rrset rec;
	int rc;

	if (mx_zone_copy(out, rb->start, err))
		return MX_ENOMEM;
	for (int k = 0; k < step && k < RB_COUNT; k++) {
		/* Only write steps change the zone; RB_RESTORE_TTL and RB_MTASTS ask for the zone
		 * before themselves, so the recursion ends. */
		if (!(rb_steps[k].flags & MX_STEPF_WRITES))
			continue;
		rc = mx_prog_rb_records(in, rb, k, &rec, err);
		if (rc < 0) {
			mx_zone_clear(out);
			return -rc;
		}
		if (rc == 0)
			continue;
		if (rec.type == DNS_T_MX) {
			prov_rrset_clear(&out->mx);
			out->mx = rec;
		} else {
			prov_rrset_clear(&out->sts);
			out->sts = rec;
		}
	}
	return MX_OK;
}

int mx_prog_rb_wait(const struct mx_prog_in *in, const struct mx_rb_in *rb)
{
	uint32_t cut = mx_prog_cut_ttl(in), held = rb->start->mx.ttl;

	if (!mx_prog_rb_applies(in, rb, RB_WAIT))
		return 0;
	return (int)(held > cut ? held : cut);
}

/* ---- gates ---- */

void mx_prog_gate_text(const struct mx_prog_in *in, bool rollback, int step, char *buf, size_t len)
{
	const char *d = in->domain, *t = in->target;

	buf[0] = '\0';
	if (!rollback) {
		switch (step) {
		case STEP_MTASTS_STAGE:
			snprintf(buf, len,
			    "Publish this MTA-STS policy at "
			    "https://mta-sts.%s/.well-known/mta-sts.txt "
			    "now (upload the file first; the run verifies it by fetching it as "
			    "senders "
			    "do, then changes the _mta-sts id itself):\n%s",
			    d, in->policy_staged ? in->policy_staged : "");
			break;
		case STEP_VERIFY_TARGET:
			snprintf(buf, len,
			    "Every authoritative server must serve %s and it must resolve "
			    "securely. "
			    "Then test inbound mail to %s with the Remote Connectivity Analyzer "
			    "(https://testconnectivity.microsoft.com/, \"Inbound SMTP Email\"). "
			    "Did "
			    "it pass?",
			    t, d);
			break;
		case STEP_EXO_MX_VALID:
			snprintf(buf, len,
			    "Exchange Online must validate the MX of %s (MxValidation of "
			    "Get-DnssecStatusForVerifiedDomain); the run asks it every 30 s "
			    "(gate_timeout %d s). With final_preference %d, an EX003 about the "
			    "preference alone is accepted: mail flows either way.",
			    d, in->set.gate_timeout, in->set.final_preference);
			break;
		case STEP_DANE_ENABLE:
			if (in->exchange)
				snprintf(buf, len,
				    "The run calls Enable-SmtpDaneInbound -DomainName %s through "
				    "the "
				    "Exchange Online admin API; Microsoft then publishes TLSA at "
				    "_25._tcp.%s (15-60 min) and the run polls it until it is "
				    "DNSSEC-secure (gate_timeout %d s).",
				    d, t, in->set.gate_timeout);
			else
				snprintf(buf, len,
				    "Run in Exchange Online PowerShell:  Enable-SmtpDaneInbound "
				    "-DomainName %s\nMicrosoft then publishes TLSA at _25._tcp.%s "
				    "(15-60 "
				    "min); the run polls it until it is DNSSEC-secure "
				    "(gate_timeout %d s).",
				    d, t, in->set.gate_timeout);
			break;
		case STEP_MTASTS_FINALIZE:
			snprintf(buf, len,
			    "Publish the final MTA-STS policy (without the legacy host) at "
			    "https://mta-sts.%s/.well-known/mta-sts.txt; the run verifies it by "
			    "fetching it, then changes the _mta-sts id again:\n%s",
			    d, in->policy_final ? in->policy_final : "");
			break;
		default:
			break;
		}
		return;
	}
	switch (step) {
	case RB_DANE:
		if (in->exchange)
			snprintf(buf, len,
			    "Before the MX goes back, the rollback calls Disable-SmtpDaneInbound "
			    "-DomainName %s through the Exchange Online admin API (only when this "
			    "run "
			    "enabled it), then waits until Microsoft has withdrawn the TLSA at "
			    "_25._tcp.%s (gate_timeout %d s).",
			    d, t, in->set.gate_timeout);
		else
			snprintf(buf, len,
			    "Before the MX goes back, run in Exchange Online PowerShell:  "
			    "Disable-SmtpDaneInbound -DomainName %s\n"
			    "The rollback waits until Microsoft has withdrawn the TLSA at "
			    "_25._tcp.%s "
			    "(gate_timeout %d s).",
			    d, t, in->set.gate_timeout);
		break;
	case RB_MTASTS_COVER:
		snprintf(buf, len,
		    "Before the legacy MX returns, publish this MTA-STS policy at "
		    "https://mta-sts.%s/.well-known/mta-sts.txt (it lists every host the MX will "
		    "hold; the rollback verifies it by fetching it, then changes the _mta-sts "
		    "id):\n%s",
		    d, in->policy_staged ? in->policy_staged : "");
		break;
	case RB_MTASTS:
		snprintf(buf, len,
		    "Publish the original MTA-STS policy again at "
		    "https://mta-sts.%s/.well-known/mta-sts.txt; the rollback verifies that the "
		    "policy served covers the restored MX, then restores the _mta-sts record:\n%s",
		    d, in->policy_now ? in->policy_now : "");
		break;
	default:
		break;
	}
}

void mx_prog_exo_call(const struct mx_prog_in *in, bool rollback, int step, char *buf, size_t len)
{
	const char *cmdlet = NULL;

	buf[0] = '\0';
	if (!in->exchange)
		return;
	if (rollback)
		cmdlet = step == RB_DANE ? "Disable-SmtpDaneInbound" : NULL;
	else if (step == STEP_EXO_PROVISION)
		cmdlet = "Enable-DnssecForVerifiedDomain";
	else if (step == STEP_EXO_MX_VALID)
		cmdlet = "Get-DnssecStatusForVerifiedDomain";
	else if (step == STEP_DANE_ENABLE)
		cmdlet = "Enable-SmtpDaneInbound";
	if (cmdlet)
		snprintf(buf, len, "%s -DomainName %s", cmdlet, in->domain);
}
