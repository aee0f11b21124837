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
#include "check.h"

int mx_plan_format_parse(const char *name)
{
	static const char *const names[] = {"text", "json", "markdown", "nsupdate", "powershell"};

	for (int i = 0; i < 5; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

/* The settings as the program sees them: low_ttl raised to the provider's minimum. */
static void plan_settings(const struct mx_plan_in *in, struct mx_settings *set)
{
	const struct mx_conf *c = in->conf;

	set->low_ttl = c->low_ttl > in->provider_min_ttl ? c->low_ttl : in->provider_min_ttl;
	set->final_ttl = c->final_ttl;
	set->final_preference = c->final_preference;
	set->gate_timeout = c->gate_timeout;
	set->provider_min_ttl = in->provider_min_ttl;
}

static json_t *settings_json(const struct mx_settings *set)
{
	return json_pack("{s:i,s:i,s:i,s:i,s:i}", "low_ttl", set->low_ttl, "final_ttl",
	    set->final_ttl, "final_preference", set->final_preference, "gate_timeout",
	    set->gate_timeout, "provider_min_ttl", set->provider_min_ttl);
}

const char *mx_plan_program(void)
{
	return MX_PROG_VERSION "/" MX_VERSION;
}

int mx_plan_checksum(const struct mx_prog_in *in, char *out, size_t outlen, struct mx_err *err)
{
	/* The policies the run asks people to publish, not the one served: an admin may publish
	 * the staged policy ahead of the run, and the run is still the plan. */
	json_t *doc = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:o,s:o,s:b}", "program",
	    mx_plan_program(), "domain", in->domain, "target", in->target, "settings",
	    settings_json(&in->set), "mx", mx_rrset_json(in->snap_mx), "mta_sts_txt",
	    mx_rrset_json(in->snap_sts), "observed_ttl", (json_int_t)in->observed_ttl,
	    "policy_staged", in->policy_staged ? json_string(in->policy_staged) : json_null(),
	    "policy_final", in->policy_final ? json_string(in->policy_final) : json_null(),
	    "exchange", in->exchange);
	char *canon = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t used;
	int rc = MX_OK;

	if (!canon || !EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) ||
	    outlen < 8 + 2 * (size_t)mdlen) {
		rc = mx_err_set(err, MX_ENOMEM, "cannot compute the plan checksum");
		goto out;
	}
	used = (size_t)snprintf(out, outlen, "sha256:");
	for (unsigned i = 0; i < mdlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%02x", md[i]);
out:
	free(canon);
	json_decref(doc);
	return rc;
}

const char *mx_plan_policy_now(const struct chk_facts *f)
{
	if (f->mtasts_policy && f->mtasts_id[0] && f->mtasts_mode != MTASTS_MODE_NONE)
		return f->mtasts_policy;
	return NULL;
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

static json_t *zone_json(const struct mx_zone *z)
{
	return json_pack(
	    "{s:o,s:o}", "mx", mx_rrset_json(&z->mx), "mta_sts_txt", mx_rrset_json(&z->sts));
}

static json_t *step_json(const struct mx_step_def *d)
{
	return json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:b}", "key", d->key, "title", d->title, "why",
	    d->why, "writes", (d->flags & MX_STEPF_WRITES) != 0, "wait",
	    (d->flags & MX_STEPF_WAIT) != 0, "gate_step", (d->flags & MX_STEPF_GATE) != 0, "asks",
	    (d->flags & MX_STEPF_ASK) != 0);
}

/* The rollback as the program runs it from zone `start`: one item per step that applies,
 * with what it writes, how long it waits, what its gate asks and the zone after it. */
static int rollback_json(const struct mx_prog_in *in, const struct mx_zone *start,
    bool dane_touched, json_t **out, struct mx_err *err)
{
	struct mx_rb_in rb = {start, dane_touched};
	json_t *arr = json_array();
	char text[1024];
	int rc = MX_OK;

	for (int k = 0; k < RB_COUNT && !rc; k++) {
		const struct mx_step_def *d = mx_prog_step(true, k);
		struct mx_rrset rec;
		struct mx_zone after;
		json_t *item;
		int w;

		if (!mx_prog_rb_applies(in, &rb, k))
			continue;
		item = step_json(d);
		mx_prog_gate_text(in, true, k, text, sizeof(text));
		w = mx_prog_rb_records(in, &rb, k, &rec, err);
		if (w < 0) {
			rc = -w;
			json_decref(item);
			break;
		}
		json_object_set_new(item, "writes", json_boolean(w > 0));
		json_object_set_new(item, "action",
		    json_string(w > 0			     ? "write"
				: (d->flags & MX_STEPF_WAIT) ? "wait"
							     : "gate"));
		if (w > 0)
			json_object_set_new(item, "after", mx_rrset_json(&rec));
		prov_rrset_clear(&rec);
		json_object_set_new(item, "wait_seconds",
		    json_integer(k == RB_WAIT ? mx_prog_rb_wait(in, &rb) : 0));
		if (text[0]) {
			json_object_set_new(item, "gate", json_string(text));
			json_object_set_new(item, "text", json_string(text));
		}
		mx_prog_exo_call(in, true, k, text, sizeof(text));
		if (text[0])
			json_object_set_new(item, "exchange_call", json_string(text));
		rc = mx_prog_rb_zone_before(in, &rb, k + 1, &after, err);
		if (!rc) {
			json_object_set_new(item, "zone", zone_json(&after));
			mx_zone_clear(&after);
		}
		json_array_append_new(arr, item);
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return MX_OK;
}

int mx_plan_build(const struct mx_plan_in *in, json_t **out, struct mx_err *err)
{
	char *staged = NULL, *final = NULL, checksum[80], when[32], text[1024];
	char id1[MTASTS_ID_MAX + 1], id2[MTASTS_ID_MAX + 1], id3[MTASTS_ID_MAX + 1];
	json_t *doc = NULL, *steps = json_array(), *skipped = json_array(), *rb = NULL, *head;
	struct mtasts_policy *pol = NULL;
	struct mx_prog_in p;
	struct mx_zone zone;
	int rc = MX_OK;

	memset(&p, 0, sizeof(p));
	memset(&zone, 0, sizeof(zone));
	p.domain = in->domain;
	p.target = in->target;
	plan_settings(in, &p.set);
	p.snap_mx = in->mx;
	p.snap_sts = in->sts_txt;
	p.observed_ttl = in->observed_ttl;
	p.policy_now = in->policy;
	p.exchange = in->exchange;
	doc = json_object();
	if (in->policy && in->sts_txt->n) {
		rc =
		    mx_plan_mtasts_policies(in->conf, in->policy, in->target, &staged, &final, err);
		if (rc == MX_EINVAL) {
			/* The run stops at preflight too: mtasts.policy fails. */
			json_object_set_new(doc, "mta_sts", json_pack("{s:s}", "note", err->msg));
			mx_err_clear(err);
			rc = MX_OK;
		} else if (rc) {
			goto fail;
		} else {
			mtasts_new_id(in->now, id1);
			mtasts_new_id(in->now + 1, id2);
			mtasts_new_id(in->now + 2, id3);
			p.policy_staged = staged;
			p.policy_final = final;
			p.id_stage = id1;
			p.id_final = id2;
			p.id_rollback = id3;
			if (mtasts_policy_parse(in->policy, strlen(in->policy), &pol, err)) {
				rc = MX_ENOMEM;
				goto fail;
			}
			json_object_set_new(doc, "mta_sts",
			    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "url", "", "mode",
				mtasts_mode_name(pol->mode), "policy_now", in->policy,
				"policy_staged", staged, "policy_final", final, "id_stage", id1,
				"id_final", id2, "id_rollback", id3));
			json_object_set_new(json_object_get(doc, "mta_sts"), "url",
			    json_sprintf("https://mta-sts.%s/.well-known/mta-sts.txt", in->domain));
		}
	}
	rc = mx_plan_checksum(&p, checksum, sizeof(checksum), err);
	if (rc)
		goto fail;
	head = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:o,s:o,s:i,s:s},s:o}", "version", 2,
	    "program", mx_plan_program(), "domain", in->domain, "target", in->target, "provider",
	    in->provider, "provider_type", in->provider_type, "created_at",
	    mx_time_rfc3339(in->now, when, sizeof(when)), "snapshot", "mx", mx_rrset_json(in->mx),
	    "mta_sts_txt", mx_rrset_json(in->sts_txt), "observed_ttl", (json_int_t)in->observed_ttl,
	    "checksum", checksum, "settings", settings_json(&p.set));
	/* json_object_update copies the members' references: head is ours to release. */
	if (!head || json_object_update(doc, head)) {
		json_decref(head);
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto fail;
	}
	json_decref(head);
	json_object_set_new(
	    json_object_get(doc, "settings"), "cut_ttl", json_integer(mx_prog_cut_ttl(&p)));
	if (p.set.low_ttl != in->conf->low_ttl)
		json_object_set_new(doc, "notes",
		    json_pack("[s]", "low_ttl is raised to the provider's minimum TTL"));
	json_object_set_new(doc, "blockers", in->blockers ? json_copy(in->blockers) : json_array());
	json_object_set_new(doc, "exchange", json_boolean(p.exchange));

	for (int k = 0; k < STEP_COUNT; k++) {
		const struct mx_step_def *d = mx_prog_step(false, k);
		struct mx_rrset rec;
		json_t *item, *rbk = NULL;
		int w, from, wait;

		if (!mx_prog_applies(&p, k)) {
			json_array_append_new(skipped, json_string(d->key));
			continue;
		}
		item = step_json(d);
		w = mx_prog_records(&p, k, &rec, err);
		if (w < 0) {
			json_decref(item);
			rc = -w;
			goto fail;
		}
		json_object_set_new(item, "writes", json_boolean(w > 0));
		if (w > 0) {
			json_object_set_new(item, "after", mx_rrset_json(&rec));
			prov_rrset_clear(&rec);
		}
		wait = mx_prog_wait(&p, k, &from);
		json_object_set_new(item, "wait_seconds", json_integer(wait));
		if (from >= 0)
			json_object_set_new(
			    item, "wait_from", json_string(mx_prog_step(false, from)->key));
		mx_prog_gate_text(&p, false, k, text, sizeof(text));
		if (text[0])
			json_object_set_new(item, "gate", json_string(text));
		mx_prog_exo_call(&p, false, k, text, sizeof(text));
		if (text[0])
			json_object_set_new(item, "exchange_call", json_string(text));
		if (k == STEP_MTASTS_STAGE || k == STEP_MTASTS_FINALIZE) {
			json_object_set_new(
			    item, "policy", json_string(k == STEP_MTASTS_STAGE ? staged : final));
			json_object_set_new(
			    item, "mta_sts_id", json_string(k == STEP_MTASTS_STAGE ? id1 : id2));
		}
		rc = mx_prog_zone_after(&p, k, &zone, err);
		if (!rc)
			rc = rollback_json(&p, &zone, k >= STEP_DANE_ENABLE, &rbk, err);
		if (rc) {
			json_decref(item);
			goto fail;
		}
		json_object_set_new(item, "zone", zone_json(&zone));
		json_object_set_new(item, "rollback", rbk);
		mx_zone_clear(&zone);
		json_array_append_new(steps, item);
	}
	json_object_set_new(doc, "steps", steps);
	steps = NULL;
	json_object_set_new(doc, "skipped", skipped);
	skipped = NULL;
	/* The rollback after a completed cutover, in the mail-safe order. */
	rc = mx_prog_zone_after(&p, STEP_COUNT - 1, &zone, err);
	if (!rc)
		rc = rollback_json(&p, &zone, true, &rb, err);
	mx_zone_clear(&zone);
	if (rc)
		goto fail;
	json_object_set_new(doc, "rollback", rb);
	*out = doc;
	doc = NULL;
fail:
	json_decref(doc);
	json_decref(steps);
	json_decref(skipped);
	mtasts_policy_free(pol);
	free(staged);
	free(final);
	return rc;
}
