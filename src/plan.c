/* SPDX-License-Identifier: MIT */
/* src/plan.c — the dry-run plan: built as one JSON document (the model), rendered from it. */
#include "plan.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "domain.h"
#include "mtasts.h"
#include "rrset.h"
#include "steps.h"

int mx_plan_format_parse(const char *name)
{
	static const char *const names[] = {"text", "json", "markdown", "nsupdate", "powershell"};

	for (int i = 0; i < 5; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

int mx_plan_checksum(const struct mx_rrset *mx, const struct mx_rrset *sts_txt, char *out,
    size_t outlen, struct mx_err *err)
{
	json_t *snap =
	    json_pack("{s:o,s:o}", "mx", mx_rrset_json(mx), "mta_sts_txt", mx_rrset_json(sts_txt));
	char *canon = snap ? json_dumps(snap, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t used;
	int rc = MX_OK;

	if (!canon || !EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) ||
	    outlen < 8 + 2 * (size_t)mdlen) {
		rc = mx_err_set(err, MX_ENOMEM, "cannot compute the snapshot checksum");
		goto out;
	}
	used = (size_t)snprintf(out, outlen, "sha256:");
	for (unsigned i = 0; i < mdlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%02x", md[i]);
out:
	free(canon);
	json_decref(snap);
	return rc;
}

/* An MX RRset value list built step by step. */
static json_t *mx_after(const char *name, uint32_t ttl, json_t *values)
{
	return json_pack("{s:s,s:s,s:i,s:o}", "name", name, "type", "MX", "ttl", (json_int_t)ttl,
	    "values", values);
}

static json_t *mx_values(
    const struct mx_plan_in *in, bool keep_legacy, int legacy_pref, int target_pref)
{
	json_t *v = json_array();
	char value[600], host[300];
	unsigned pref;

	for (size_t i = 0; keep_legacy && i < in->mx->n; i++) {
		if (!prov_mx_parse(in->mx->values[i], &pref, host, sizeof(host)))
			continue;
		if (legacy_pref >= 0)
			pref = (unsigned)legacy_pref;
		prov_mx_value(pref, host, value, sizeof(value));
		json_array_append_new(v, json_string(value));
	}
	if (target_pref >= 0) {
		prov_mx_value((unsigned)target_pref, in->target, value, sizeof(value));
		json_array_append_new(v, json_string(value));
	}
	return v;
}

static json_t *step(int id, json_t *after, int wait, const char *gate)
{
	const struct mx_step_info *s = &mx_step_table[id];
	json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:i}", "key", s->key, "title", s->title, "why",
	    s->why, "writes", after != NULL, "wait_seconds", wait);

	if (after)
		json_object_set_new(o, "after", after);
	if (gate)
		json_object_set_new(o, "gate", json_string(gate));
	return o;
}

int mx_plan_mtasts_policies(const struct mx_conf *conf, const char *policy, const char *target,
    char **staged, char **final, struct mx_err *err)
{
	struct mtasts_policy *pol = NULL;
	const char **patterns = NULL;
	size_t n = 0, nfinal = 0;
	int rc;

	*staged = *final = NULL;
	rc = mtasts_policy_parse(policy, strlen(policy), &pol, err);
	if (rc)
		return rc;
	if (!pol->valid) {
		rc = mx_err_set(err, MX_EINVAL,
		    "the MTA-STS policy served now is not valid (%s); fix it before the cutover",
		    pol->nproblems ? pol->problems[0] : "see check");
		goto out;
	}
	patterns = calloc(pol->nmx + 1, sizeof(*patterns));
	if (!patterns) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < pol->nmx; i++)
		patterns[n++] = pol->mx[i];
	if (!mtasts_policy_covers(pol, target))
		patterns[n++] = target;
	rc = mtasts_policy_render(pol->mode, patterns, n, pol->max_age, staged, err);
	if (rc)
		goto out;
	/* The final policy keeps every pattern that does not exist for a legacy host. */
	for (size_t i = 0; i < n; i++) {
		bool legacy = false;

		for (size_t k = 0; k < conf->nlegacy; k++) {
			const char *p = patterns[i];

			if (!strncmp(p, "*.", 2))
				p += 2;
			legacy |= mx_name_under(p, conf->legacy_suffixes[k]);
		}
		if (!legacy)
			patterns[nfinal++] = patterns[i];
	}
	rc = mtasts_policy_render(pol->mode, patterns, nfinal, pol->max_age, final, err);
out:
	if (rc) {
		free(*staged);
		*staged = NULL;
	}
	mtasts_policy_free(pol);
	free(patterns);
	return rc;
}

/* The MTA-STS side: the staged policy (legacy + target) and the final one (target only). */
static int mtasts_steps(const struct mx_plan_in *in, json_t *steps, json_t *doc, struct mx_err *err)
{
	char *staged = NULL, *final = NULL, id1[MTASTS_ID_MAX + 1], id2[MTASTS_ID_MAX + 1];
	char txt[100], gate[900], url[300];
	struct mtasts_policy *pol = NULL;
	int rc;

	rc = mx_plan_mtasts_policies(in->conf, in->policy, in->target, &staged, &final, err);
	if (rc == MX_EINVAL) {
		json_object_set_new(doc, "mta_sts", json_pack("{s:s}", "note", err->msg));
		return MX_OK;
	}
	if (rc)
		return rc;
	if (mtasts_policy_parse(in->policy, strlen(in->policy), &pol, err)) {
		rc = MX_ENOMEM;
		goto out;
	}
	mtasts_new_id(in->now, id1);
	mtasts_new_id(in->now + 1, id2);
	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/mta-sts.txt", in->domain);
	snprintf(txt, sizeof(txt), "v=STSv1; id=%s;", id1);
	snprintf(gate, sizeof(gate),
	    "Publish this policy at %s (upload the file first), then the run verifies it by "
	    "fetching it and changes the _mta-sts id:\n%s",
	    url, staged);
	json_array_append_new(steps,
	    step(STEP_MTASTS_STAGE,
		json_pack("{s:s,s:s,s:i,s:[s]}", "name", in->sts_txt->name, "type", "TXT", "ttl",
		    (json_int_t)(in->sts_txt->ttl ? in->sts_txt->ttl : 300), "values", txt),
		0, gate));
	json_object_set_new(
	    json_array_get(steps, json_array_size(steps) - 1), "policy", json_string(staged));
	json_object_set_new(doc, "mta_sts",
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "url", url, "mode", mtasts_mode_name(pol->mode),
		"policy_now", in->policy, "policy_staged", staged, "policy_final", final));
	snprintf(txt, sizeof(txt), "v=STSv1; id=%s;", id2);
	json_object_set_new(doc, "_mtasts_final_txt", json_string(txt));
out:
	mtasts_policy_free(pol);
	free(staged);
	free(final);
	return rc;
}

int mx_plan_build(const struct mx_plan_in *in, json_t **out, struct mx_err *err)
{
	const struct mx_conf *c = in->conf;
	int low = c->low_ttl > in->provider_min_ttl ? c->low_ttl : in->provider_min_ttl;
	uint32_t old = in->observed_ttl > in->mx->ttl ? in->observed_ttl : in->mx->ttl;
	bool lowers = in->mx->ttl > (uint32_t)low, mtasts = false;
	json_t *doc, *steps = json_array(), *rollback = json_array(), *final_txt;
	char checksum[80], when[32], gate[600];
	int rc;

	rc = mx_plan_checksum(in->mx, in->sts_txt, checksum, sizeof(checksum), err);
	if (rc) {
		json_decref(steps);
		json_decref(rollback);
		return rc;
	}
	doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:{s:o,s:o,s:i,s:s},s:{s:i,s:i,s:i,s:i,s:i}}",
	    "version", 1, "domain", in->domain, "target", in->target, "provider", in->provider,
	    "provider_type", in->provider_type, "created_at",
	    mx_time_rfc3339(in->now, when, sizeof(when)), "snapshot", "mx", mx_rrset_json(in->mx),
	    "mta_sts_txt", mx_rrset_json(in->sts_txt), "observed_ttl", (json_int_t)in->observed_ttl,
	    "checksum", checksum, "settings", "low_ttl", low, "final_ttl", c->final_ttl,
	    "final_preference", c->final_preference, "gate_timeout", c->gate_timeout,
	    "provider_min_ttl", in->provider_min_ttl);
	if (low != c->low_ttl)
		json_object_set_new(doc, "notes",
		    json_pack("[s]", "low_ttl is raised to the provider's minimum TTL"));
	json_object_set_new(doc, "blockers", in->blockers ? json_copy(in->blockers) : json_array());

	json_array_append_new(steps, step(STEP_PREFLIGHT, NULL, 0, NULL));
	json_array_append_new(steps, step(STEP_SNAPSHOT, NULL, 0, NULL));
	if (in->policy && in->sts_txt->n) {
		rc = mtasts_steps(in, steps, doc, err);
		if (rc)
			goto fail;
		mtasts = json_object_get(doc, "_mtasts_final_txt") != NULL;
	}
	json_array_append_new(steps,
	    step(STEP_LOWER_TTL,
		lowers ? mx_after(in->domain, (uint32_t)low, mx_values(in, true, -1, -1)) : NULL, 0,
		NULL));
	json_array_append_new(steps, step(STEP_WAIT_OLD_TTL, NULL, lowers ? (int)old : 0, NULL));
	json_array_append_new(
	    steps, step(STEP_ADD_TARGET,
		       mx_after(in->domain, (uint32_t)low, mx_values(in, true, -1, 20)), 0, NULL));
	snprintf(gate, sizeof(gate),
	    "Every authoritative server must serve %s and it must resolve securely. Then test "
	    "inbound mail with the Remote Connectivity Analyzer, "
	    "https://testconnectivity.microsoft.com/ (the \"Inbound SMTP Email\" test), and "
	    "confirm.",
	    in->target);
	json_array_append_new(steps, step(STEP_VERIFY_TARGET, NULL, 0, gate));
	json_array_append_new(steps,
	    step(STEP_SWAP,
		mx_after(in->domain, (uint32_t)low, mx_values(in, true, 30, c->final_preference)),
		0, NULL));
	json_array_append_new(steps, step(STEP_WAIT_LOW_TTL, NULL, low, NULL));
	json_array_append_new(steps,
	    step(STEP_REMOVE_LEGACY,
		mx_after(in->domain, (uint32_t)low, mx_values(in, false, -1, c->final_preference)),
		0, NULL));
	json_array_append_new(steps, step(STEP_RAISE_TTL,
					 mx_after(in->domain, (uint32_t)c->final_ttl,
					     mx_values(in, false, -1, c->final_preference)),
					 0, NULL));
	snprintf(gate, sizeof(gate),
	    "Run in Exchange Online PowerShell: Enable-SmtpDaneInbound -DomainName %s — then the "
	    "run polls _25._tcp.%s TLSA until it is DNSSEC-secure (Microsoft takes 15-60 min; "
	    "gate_timeout %d s).",
	    in->domain, in->target, c->gate_timeout);
	json_array_append_new(steps, step(STEP_DANE_ENABLE, NULL, 0, gate));
	if (mtasts) {
		json_t *pol = json_object_get(json_object_get(doc, "mta_sts"), "policy_final");

		final_txt = json_object_get(doc, "_mtasts_final_txt");
		snprintf(gate, sizeof(gate),
		    "Publish the final policy (without the legacy host), then the id changes "
		    "again:\n%s",
		    json_string_value(pol));
		json_array_append_new(steps,
		    step(STEP_MTASTS_FINALIZE,
			json_pack("{s:s,s:s,s:i,s:[O]}", "name", in->sts_txt->name, "type", "TXT",
			    "ttl", (json_int_t)(in->sts_txt->ttl ? in->sts_txt->ttl : 300),
			    "values", final_txt),
			0, gate));
		json_object_set_new(
		    json_array_get(steps, json_array_size(steps) - 1), "policy", json_incref(pol));
		json_object_del(doc, "_mtasts_final_txt");
	}
	json_object_set_new(doc, "steps", steps);
	steps = NULL;

	/* Rollback in the mail-safe order of docs/state-machine.md. */
	snprintf(gate, sizeof(gate),
	    "If inbound DANE was enabled: Disable-SmtpDaneInbound -DomainName %s first.",
	    in->domain);
	json_array_append_new(rollback, json_pack("{s:s,s:s}", "action", "gate", "text", gate));
	json_array_append_new(
	    rollback, json_pack("{s:s,s:o}", "action", "write", "after",
			  mx_after(in->domain, (uint32_t)low, mx_values(in, true, -1, 30))));
	json_array_append_new(
	    rollback, json_pack("{s:s,s:i}", "action", "wait", "wait_seconds", (json_int_t)old));
	json_array_append_new(
	    rollback, json_pack("{s:s,s:o}", "action", "write", "after",
			  mx_after(in->domain, (uint32_t)low, mx_values(in, true, -1, -1))));
	json_array_append_new(
	    rollback, json_pack("{s:s,s:o}", "action", "write", "after", mx_rrset_json(in->mx)));
	if (mtasts)
		json_array_append_new(
		    rollback, json_pack("{s:s,s:o,s:s}", "action", "write", "after",
				  mx_rrset_json(in->sts_txt), "policy", in->policy));
	json_object_set_new(doc, "rollback", rollback);
	*out = doc;
	return MX_OK;
fail:
	json_decref(steps);
	json_decref(rollback);
	json_decref(doc);
	return rc;
}
