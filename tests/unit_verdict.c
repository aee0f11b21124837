/* SPDX-License-Identifier: MIT */
/* tests/unit_verdict.c — chk_verdict: ready / blocked (root causes) / migrated, the runnable
 * flag and the one-line text, from hand-made check results. */
#include <stdlib.h>
#include <string.h>

#include "../src/check.h" /* the checks; "check.h" here is the test macros */
#include "check.h"

static struct mx_conf *conf;

/* A domain whose every check passed; mx lists "pref host" pairs for facts.mx. */
static void make(struct chk_domain *d, const char *target, const char *const *hosts, size_t n)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->domain, sizeof(d->domain), "contoso.com");
	snprintf(d->target, sizeof(d->target), "%s", target ? target : "");
	for (int i = 0; i < CHK_COUNT; i++) {
		d->res[i].present = i != CHK_PROVIDER_ACCESS;
		d->res[i].status = CHK_PASS;
		snprintf(
		    d->res[i].summary, sizeof(d->res[i].summary), "%s is fine", chk_id_name(i));
	}
	d->facts.mx = calloc(1, sizeof(*d->facts.mx));
	d->facts.mx->qname = strdup("contoso.com");
	d->facts.mx->qtype = DNS_T_MX;
	d->facts.mx->sec = DNS_SEC_SECURE;
	d->facts.mx->n = n;
	d->facts.mx->rr = calloc(n ? n : 1, sizeof(*d->facts.mx->rr));
	for (size_t i = 0; i < n; i++) {
		d->facts.mx->rr[i].type = DNS_T_MX;
		d->facts.mx->rr[i].u.mx.pref = (uint16_t)(10 * i);
		d->facts.mx->rr[i].u.mx.host = strdup(hosts[i]);
	}
}

static void fail_check(struct chk_domain *d, enum chk_id id, const char *summary)
{
	d->res[id].status = CHK_FAIL;
	snprintf(d->res[id].summary, sizeof(d->res[id].summary), "%s", summary);
}

int main(void)
{
	static const char *const legacy[] = {"contoso-com.mail.protection.outlook.com"};
	static const char *const migrated[] = {"contoso-com.o-v1.mx.microsoft"};
	static const char *const both[] = {
	    "contoso-com.mail.protection.outlook.com", "contoso-com.o-v1.mx.microsoft"};
	const char *target = "contoso-com.o-v1.mx.microsoft";
	struct chk_verdict_info v;
	struct chk_domain d;
	struct mx_err err;

	CHECK_INT(mx_conf_new_default(&conf, &err), MX_OK);
	CHECK_STR(chk_id_name(CHK_MTASTS_COVERS_CURRENT), "mtasts.covers_current");

	/* Everything passes: ready, runnable, one plain line. */
	make(&d, target, legacy, 1);
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_READY);
	CHECK(v.runnable);
	CHECK_INT(v.nroots, 0);
	CHECK_STR(v.text, "ready for the cutover");
	CHECK_STR(chk_verdict_name(v.v), "ready");
	/* warnings are counted; no target says where the value comes from */
	d.res[CHK_TLSRPT].status = CHK_WARN;
	chk_verdict(&d, conf, &v);
	CHECK_STR(v.text, "ready for the cutover (1 warning)");
	d.target[0] = '\0';
	chk_verdict(&d, conf, &v);
	CHECK(strstr(v.text, "DnssecMxValue") != NULL);
	chk_domain_clear(&d);

	/* A bogus zone: its dependent checks are skip (not judged), so zone.dnssec is the one
	 * root and its fix is the verdict's. */
	make(&d, target, legacy, 1);
	fail_check(&d, CHK_ZONE_DNSSEC, "DNSSEC validation fails; fix the DS");
	d.res[CHK_MX_CURRENT].status = CHK_SKIP;
	d.res[CHK_SPF].status = CHK_SKIP;
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_BLOCKED);
	CHECK(!v.runnable);
	CHECK_INT(v.nroots, 1);
	CHECK_INT(v.roots[0], CHK_ZONE_DNSSEC);
	CHECK_STR(v.text, "blocked by zone.dnssec: DNSSEC validation fails; fix the DS");
	CHECK_STR(chk_verdict_name(v.v), "blocked");
	/* Two roots: the first with its fix, the others named. */
	fail_check(&d, CHK_TLSRPT, "bad rua");
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.nroots, 2);
	CHECK_STR(v.text,
	    "blocked by zone.dnssec: DNSSEC validation fails; fix the DS — also failing: tlsrpt");
	/* A long summary is cut, never the list of the other roots. */
	memset(d.res[CHK_ZONE_DNSSEC].summary, 'x', sizeof(d.res[0].summary) - 1);
	d.res[CHK_ZONE_DNSSEC].summary[sizeof(d.res[0].summary) - 1] = '\0';
	chk_verdict(&d, conf, &v);
	CHECK(strlen(v.text) < sizeof(v.text));
	CHECK(strstr(v.text, " — also failing: tlsrpt") != NULL);
	chk_domain_clear(&d);

	/* Only mtasts.covers_target fails: blocked, but the run resolves it itself. */
	make(&d, target, legacy, 1);
	fail_check(&d, CHK_MTASTS_COVERS, "the enforce policy does not cover the target");
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_BLOCKED);
	CHECK(v.runnable);
	CHECK_INT(v.nroots, 1);
	CHECK(strstr(v.text, "mtasts_stage") != NULL);
	/* ...but not together with another failure */
	fail_check(&d, CHK_MTASTS_COVERS_CURRENT, "the current MX is not covered");
	chk_verdict(&d, conf, &v);
	CHECK(!v.runnable);
	CHECK_INT(v.nroots, 2);
	chk_domain_clear(&d);

	/* Already migrated: one line, nothing to move. */
	make(&d, target, migrated, 1);
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_MIGRATED);
	CHECK_STR(
	    v.text, "already migrated: the MX is contoso-com.o-v1.mx.microsoft; nothing to move");
	CHECK_STR(chk_verdict_name(v.v), "migrated");
	CHECK(!v.runnable);
	/* a migrated domain with a live problem still says what fails */
	fail_check(&d, CHK_MTASTS_COVERS_CURRENT, "the enforce policy does not cover it");
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_MIGRATED);
	CHECK_INT(v.nroots, 1);
	CHECK(strstr(v.text, "already migrated") == v.text);
	CHECK(
	    strstr(v.text, "mtasts.covers_current: the enforce policy does not cover it") != NULL);
	chk_domain_clear(&d);

	/* Legacy and new host together: a cutover in progress is not "migrated"; mx.current
	 * fails and is the root. */
	make(&d, target, both, 2);
	fail_check(&d, CHK_MX_CURRENT, "a cutover is in progress; see `mxcutover status`");
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_BLOCKED);
	CHECK_INT(v.roots[0], CHK_MX_CURRENT);
	CHECK(strstr(v.text, "in progress") != NULL);
	chk_domain_clear(&d);

	/* An MX that could not be validated never counts as migrated. */
	make(&d, target, migrated, 1);
	d.facts.mx->sec = DNS_SEC_BOGUS;
	fail_check(&d, CHK_ZONE_DNSSEC, "bogus");
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_BLOCKED);
	chk_domain_clear(&d);

	/* Nothing evaluated yet. */
	memset(&d, 0, sizeof(d));
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, CHK_V_BLOCKED);
	CHECK(!v.runnable);
	CHECK_STR(v.text, "not checked yet");

	/* Slimmed for a front end: the details, addresses and policy go; the verdict, every
	 * status and summary and the MX stay, and the verdict is the same (one truth). */
	make(&d, target, legacy, 1);
	fail_check(&d, CHK_SPF, "no include");
	d.res[CHK_SPF].detail = json_pack("{s:s}", "record", "v=spf1 -all");
	d.res[CHK_ZONE_DNSSEC].detail = json_pack("{s:[s,s]}", "ns", "a", "b");
	d.facts.ns_addrs = calloc(2, sizeof(char *));
	d.facts.ns_addrs[0] = strdup("192.0.2.1");
	d.facts.ns_addrs[1] = strdup("192.0.2.2");
	d.facts.nns = 2;
	d.facts.mtasts_policy = strdup("version: STSv1\nmode: enforce\n");
	d.facts.mtasts_mode = 2;
	chk_verdict(&d, conf, &d.verdict);
	chk_domain_slim(&d);
	CHECK(d.res[CHK_SPF].detail == NULL && d.res[CHK_ZONE_DNSSEC].detail == NULL);
	CHECK(d.facts.ns_addrs == NULL && d.facts.nns == 0 && d.facts.mtasts_policy == NULL);
	CHECK_INT(d.res[CHK_SPF].status, CHK_FAIL);
	CHECK_STR(d.res[CHK_SPF].summary, "no include");
	CHECK_INT(d.facts.mtasts_mode, 2);
	CHECK(d.facts.mx && d.facts.mx->n == 1);
	chk_verdict(&d, conf, &v);
	CHECK_INT(v.v, d.verdict.v);
	CHECK_STR(v.text, d.verdict.text);
	chk_domain_slim(&d); /* twice is harmless */
	chk_domain_clear(&d);

	mx_conf_free(conf);
	return CHECK_DONE();
}
