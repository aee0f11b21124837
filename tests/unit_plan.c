/* SPDX-License-Identifier: MIT */
/* tests/unit_plan.c — the plan built from given RRsets, without DNS: the steps and their
 * records, the waits, the rollback order, the MTA-STS policies, the checksum, and the
 * invariants (the MX is never empty; the target is preferred only at the swap). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "plan.h"

static json_t *step(json_t *plan, const char *key)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(plan, "steps"), i,
	    s) if (!strcmp(json_string_value(json_object_get(s, "key")), key)) return s;
	return NULL;
}

static const char *value(json_t *set, size_t i)
{
	return json_string_value(json_array_get(json_object_get(set, "values"), i));
}

static void set_of(struct mx_rrset *s, const char *name, uint16_t type, uint32_t ttl,
    const char *v1, const char *v2)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->ttl = ttl;
	if (v1)
		prov_rrset_add(s, v1, NULL);
	if (v2)
		prov_rrset_add(s, v2, NULL);
	prov_rrset_sort(s);
}

int main(void)
{
	struct mx_conf *conf = NULL;
	struct mx_rrset mx, sts, mx2;
	struct mx_plan_in in;
	struct mx_err err;
	json_t *plan = NULL, *s, *b;
	char sum1[80], sum2[80], *text = NULL;
	size_t len = 0, i;
	FILE *fp;
	const char *target = "contoso-com.o-v1.mx.microsoft";
	const char *policy = "version: STSv1\r\nmode: enforce\r\nmx: "
			     "*.mail.protection.outlook.com\r\nmax_age: 604800\r\n";
	bool preferred_seen = false;

	CHECK_INT(mx_conf_new_default(&conf, &err), MX_OK);
	set_of(
	    &mx, "contoso.com", DNS_T_MX, 3600, "0 contoso-com.mail.protection.outlook.com", NULL);
	set_of(&sts, "_mta-sts.contoso.com", DNS_T_TXT, 300, "v=STSv1; id=1;", NULL);
	memset(&in, 0, sizeof(in));
	in.conf = conf;
	in.domain = "contoso.com";
	in.target = target;
	in.provider = "dns";
	in.provider_type = "cloudflare";
	in.provider_min_ttl = 60;
	in.mx = &mx;
	in.sts_txt = &sts;
	in.observed_ttl = 7200; /* one server serves a longer TTL than the provider holds */
	in.policy = policy;
	in.now = 1795000000;
	CHECK_INT(mx_plan_build(&in, &plan, &err), MX_OK);

	/* Settings: low_ttl raised to the provider's minimum, and said so. */
	CHECK_INT(
	    json_integer_value(json_object_get(json_object_get(plan, "settings"), "low_ttl")), 60);
	CHECK(json_array_size(json_object_get(plan, "notes")) == 1);

	/* The waits come from what the servers serve, not only from the provider. */
	CHECK_INT(
	    json_integer_value(json_object_get(step(plan, "wait_old_ttl"), "wait_seconds")), 7200);
	CHECK_INT(
	    json_integer_value(json_object_get(step(plan, "wait_low_ttl"), "wait_seconds")), 60);

	/* The records of each writing step. */
	s = json_object_get(step(plan, "lower_ttl"), "after");
	CHECK_INT(json_integer_value(json_object_get(s, "ttl")), 60);
	s = json_object_get(step(plan, "add_target"), "after");
	CHECK_INT(json_array_size(json_object_get(s, "values")), 2);
	CHECK_STR(value(s, 0), "0 contoso-com.mail.protection.outlook.com");
	CHECK_STR(value(s, 1), "20 contoso-com.o-v1.mx.microsoft");
	s = json_object_get(step(plan, "swap"), "after");
	CHECK_STR(value(s, 0), "0 contoso-com.o-v1.mx.microsoft");
	CHECK_STR(value(s, 1), "30 contoso-com.mail.protection.outlook.com");
	s = json_object_get(step(plan, "raise_ttl"), "after");
	CHECK_INT(json_integer_value(json_object_get(s, "ttl")), 3600);
	CHECK_INT(json_array_size(json_object_get(s, "values")), 1);
	CHECK_STR(value(s, 0), "0 contoso-com.o-v1.mx.microsoft");

	/* Invariants over the whole plan: no empty MX; the target is never preferred over the
	 * legacy host before the swap, and verify_target comes before the swap. */
	json_array_foreach(json_object_get(plan, "steps"), i, s)
	{
		json_t *after = json_object_get(s, "after");
		const char *key = json_string_value(json_object_get(s, "key"));

		if (!strcmp(key, "verify_target"))
			preferred_seen = true; /* from here on the swap may prefer it */
		if (!after || strcmp(json_string_value(json_object_get(after, "type")), "MX"))
			continue;
		CHECK(json_array_size(json_object_get(after, "values")) > 0);
		/* Before verify_target the target may be listed, but never at a preference as
		 * good as the legacy host's (0). */
		for (size_t k = 0;
		     !preferred_seen && k < json_array_size(json_object_get(after, "values"));
		     k++) {
			const char *v = value(after, k);

			if (strstr(v, target))
				CHECK(atoi(v) > 0);
		}
	}

	/* MTA-STS: staged lists legacy + target (a *. pattern covers one label only, so the
	 * target is listed by name), final only the target; ids differ and change. */
	s = step(plan, "mtasts_stage");
	CHECK(s != NULL);
	CHECK(strstr(json_string_value(json_object_get(s, "policy")),
		  "mx: *.mail.protection.outlook.com") != NULL);
	CHECK(strstr(json_string_value(json_object_get(s, "policy")),
		  "mx: contoso-com.o-v1.mx.microsoft") != NULL);
	s = step(plan, "mtasts_finalize");
	CHECK(s != NULL);
	CHECK(strstr(json_string_value(json_object_get(s, "policy")), "outlook") == NULL);
	CHECK(strstr(json_string_value(json_object_get(s, "policy")), "max_age: 604800") != NULL);
	CHECK(strcmp(value(json_object_get(step(plan, "mtasts_stage"), "after"), 0),
		  value(json_object_get(s, "after"), 0)) != 0);
	CHECK(strcmp(value(json_object_get(s, "after"), 0), "v=STSv1; id=1;") != 0);

	/* Rollback after completion: DANE off first, a policy covering both hosts (with a new
	 * id), legacy preferred with the target at 30, the wait for what resolvers may hold
	 * (the final TTL), the target removed, the snapshot exactly, the original MTA-STS. */
	b = json_object_get(plan, "rollback");
	{
		static const char *const keys[] = {"rb_dane", "rb_mtasts_cover", "rb_readd_legacy",
		    "rb_wait", "rb_remove_target", "rb_restore_ttl", "rb_mtasts"};

		CHECK_INT(json_array_size(b), 7);
		for (size_t k = 0; k < 7; k++)
			CHECK_STR(json_string_value(json_object_get(json_array_get(b, k), "key")),
			    keys[k]);
	}
	CHECK_STR(json_string_value(json_object_get(json_array_get(b, 0), "action")), "gate");
	CHECK(strstr(json_string_value(json_object_get(json_array_get(b, 0), "gate")),
		  "Disable-SmtpDaneInbound -DomainName contoso.com") != NULL);
	s = json_object_get(json_array_get(b, 1), "after");
	CHECK_STR(json_string_value(json_object_get(s, "type")), "TXT");
	CHECK(strstr(json_string_value(json_object_get(json_array_get(b, 1), "gate")),
		  "mx: *.mail.protection.outlook.com") != NULL);
	s = json_object_get(json_array_get(b, 2), "after");
	CHECK_STR(value(s, 0), "0 contoso-com.mail.protection.outlook.com");
	CHECK_STR(value(s, 1), "30 contoso-com.o-v1.mx.microsoft");
	CHECK_INT(json_integer_value(json_object_get(s, "ttl")), 60);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(b, 3), "wait_seconds")), 3600);
	s = json_object_get(json_array_get(b, 5), "after");
	CHECK_INT(json_integer_value(json_object_get(s, "ttl")), 3600);
	CHECK_STR(value(s, 0), "0 contoso-com.mail.protection.outlook.com");
	s = json_object_get(json_array_get(b, 6), "after");
	CHECK_STR(value(s, 0), "v=STSv1; id=1;");

	/* A rollback after add_target: no DANE gate and no MTA-STS cover step's new policy
	 * needed beyond the staged one; the wait is the cutover's TTL. */
	b = json_object_get(step(plan, "add_target"), "rollback");
	CHECK_STR(json_string_value(json_object_get(json_array_get(b, 0), "key")), "rb_mtasts_cover");
	CHECK_INT(json_integer_value(json_object_get(json_array_get(b, 2), "wait_seconds")), 60);
	/* A rollback after lower_ttl only restores the TTL and the MTA-STS record. */
	b = json_object_get(step(plan, "lower_ttl"), "rollback");
	CHECK_INT(json_array_size(b), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(b, 0), "key")), "rb_restore_ttl");

	/* The checksum covers the zone, the settings and the program: stable, and different when
	 * any of them differs. */
	{
		struct mx_prog_in p;

		memset(&p, 0, sizeof(p));
		p.domain = "contoso.com";
		p.target = target;
		p.set.low_ttl = 60;
		p.set.final_ttl = 3600;
		p.set.gate_timeout = 3600;
		p.set.provider_min_ttl = 60;
		p.snap_mx = &mx;
		p.snap_sts = &sts;
		p.observed_ttl = 7200;
		p.policy_now = policy;
		p.policy_staged = json_string_value(json_object_get(json_object_get(plan, "mta_sts"), "policy_staged"));
		p.policy_final = json_string_value(json_object_get(json_object_get(plan, "mta_sts"), "policy_final"));
		CHECK_INT(mx_plan_checksum(&p, sum1, sizeof(sum1), &err), MX_OK);
		CHECK_STR(json_string_value(
			      json_object_get(json_object_get(plan, "snapshot"), "checksum")),
		    sum1);
		set_of(&mx2, "contoso.com", DNS_T_MX, 600, "0 contoso-com.mail.protection.outlook.com",
		    NULL);
		p.snap_mx = &mx2;
		CHECK_INT(mx_plan_checksum(&p, sum2, sizeof(sum2), &err), MX_OK);
		CHECK(strcmp(sum1, sum2) != 0);
		p.snap_mx = &mx;
		p.set.low_ttl = 120;
		CHECK_INT(mx_plan_checksum(&p, sum2, sizeof(sum2), &err), MX_OK);
		CHECK(strcmp(sum1, sum2) != 0);
		CHECK(strncmp(sum1, "sha256:", 7) == 0 && strlen(sum1) == 71);
		CHECK_STR(json_string_value(json_object_get(plan, "program")), mx_plan_program());
	}

	/* Every format renders; nsupdate lines are nsupdate commands or comments. */
	for (int f = PLAN_TEXT; f <= PLAN_POWERSHELL; f++) {
		fp = open_memstream(&text, &len);
		CHECK_INT(
		    mx_plan_render(plan, (enum mx_plan_format)f, "192.0.2.1@53", fp, &err), MX_OK);
		fclose(fp);
		CHECK(len > 100);
		if (f == PLAN_NSUPDATE) {
			char *save = NULL;

			for (char *l = strtok_r(text, "\n", &save); l;
			     l = strtok_r(NULL, "\n", &save))
				CHECK(l[0] == ';' || !strncmp(l, "server ", 7) ||
				      !strncmp(l, "zone ", 5) || !strncmp(l, "update ", 7) ||
				      !strcmp(l, "send") || !strncmp(l, "STOP: ", 6) ||
				      !strncmp(l, "WAIT: ", 6) || !strncmp(l, "GATE: ", 6) ||
				      !strncmp(l, "NEXT: ", 6) || !strncmp(l, "ROLLBACK: ", 10));
		}
		if (f == PLAN_POWERSHELL)
			CHECK(strstr(text, "# Enable-SmtpDaneInbound -DomainName contoso.com") !=
			      NULL);
		free(text);
		text = NULL;
	}
	CHECK_INT(mx_plan_format_parse("markdown"), PLAN_MARKDOWN);
	CHECK_INT(mx_plan_format_parse("yaml"), -1);

	/* Without MTA-STS the two policy steps are absent. */
	json_decref(plan);
	in.policy = NULL;
	prov_rrset_clear(&sts);
	set_of(&sts, "_mta-sts.contoso.com", DNS_T_TXT, 0, NULL, NULL);
	CHECK_INT(mx_plan_build(&in, &plan, &err), MX_OK);
	CHECK(step(plan, "mtasts_stage") == NULL && step(plan, "mtasts_finalize") == NULL);

	json_decref(plan);
	prov_rrset_clear(&mx);
	prov_rrset_clear(&mx2);
	prov_rrset_clear(&sts);
	mx_conf_free(conf);
	return CHECK_DONE();
}
