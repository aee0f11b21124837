/* SPDX-License-Identifier: MIT */
/* tests/unit_target.c — tgt_judge: the target host as typed, and what the current MX says
 * about it (the judgement `check --target-mx` and the wizard share). */
#include <stdlib.h>
#include <string.h>

#include "../src/target.h"
#include "check.h"

static struct dns_answer *mx_answer(const char *const *hosts, size_t n)
{
	struct dns_answer *a = calloc(1, sizeof(*a));

	a->qname = strdup("contoso.com");
	a->qtype = DNS_T_MX;
	a->sec = DNS_SEC_SECURE;
	a->n = n;
	a->rr = calloc(n ? n : 1, sizeof(*a->rr));
	for (size_t i = 0; i < n; i++) {
		a->rr[i].type = DNS_T_MX;
		a->rr[i].u.mx.host = strdup(hosts[i]);
	}
	return a;
}

static bool has(const struct tgt_judgement *j, enum tgt_level level, const char *needle)
{
	for (int i = 0; i < j->n; i++)
		if (j->f[i].level == level && strstr(j->f[i].text, needle))
			return true;
	return false;
}

int main(void)
{
	static const char *const legacy[] = {"contoso-com.mail.protection.outlook.com"};
	static const char *const gateway[] = {"mx1.gateway.example"};
	static const char *const other_new[] = {"contoso-com.o-v2.mx.microsoft"};
	struct mx_conf *conf = NULL;
	struct tgt_judgement j;
	struct dns_answer *mx;
	struct mx_err err;

	CHECK_INT(mx_conf_new_default(&conf, &err), MX_OK);

	/* The right host, typed with a trailing dot and capitals: usable, no warning. */
	mx = mx_answer(legacy, 1);
	tgt_judge(conf, "contoso.com", "Contoso-com.o-v1.MX.microsoft.", mx, &j);
	CHECK(j.usable);
	CHECK_STR(j.host, "contoso-com.o-v1.mx.microsoft");
	CHECK(tgt_first(&j, TGT_WARN) == NULL);
	CHECK(tgt_first(&j, TGT_FAIL) == NULL);
	CHECK(!j.mx_not_microsoft);
	dns_answer_free(mx);

	/* A legacy host given as the target. */
	tgt_judge(conf, "contoso.com", "contoso-com.mail.protection.outlook.com", NULL, &j);
	CHECK(!j.usable);
	CHECK(has(&j, TGT_FAIL, "legacy Exchange Online host"));

	/* Outside the endpoint suffix, and the suffix itself. */
	tgt_judge(conf, "contoso.com", "mx.elsewhere.example", NULL, &j);
	CHECK(!j.usable);
	CHECK(has(&j, TGT_FAIL, "is not under mx.microsoft"));
	tgt_judge(conf, "contoso.com", "mx.microsoft", NULL, &j);
	CHECK(!j.usable);

	/* Not a host name at all. */
	tgt_judge(conf, "contoso.com", "bad..name", NULL, &j);
	CHECK(!j.usable);
	CHECK_STR(j.host, "");
	tgt_judge(conf, "contoso.com", "", NULL, &j);
	CHECK(!j.usable);
	CHECK(has(&j, TGT_FAIL, "DnssecMxValue"));

	/* Another domain's value: usable, with a warning naming the expected first label. */
	tgt_judge(conf, "contoso.com", "fabrikam-com.o-v1.mx.microsoft", NULL, &j);
	CHECK(j.usable);
	CHECK(has(&j, TGT_WARN, "start with contoso-com"));

	/* The current MX points at a gateway: no cutover applies. */
	mx = mx_answer(gateway, 1);
	tgt_judge(conf, "contoso.com", "contoso-com.o-v1.mx.microsoft", mx, &j);
	CHECK(j.usable);
	CHECK(j.mx_not_microsoft);
	CHECK(has(&j, TGT_WARN, "not at Exchange Online"));
	dns_answer_free(mx);

	/* The MX already lists another new-endpoint host. */
	mx = mx_answer(other_new, 1);
	tgt_judge(conf, "contoso.com", "contoso-com.o-v1.mx.microsoft", mx, &j);
	CHECK(j.usable);
	CHECK(has(&j, TGT_WARN, "contoso-com.o-v2.mx.microsoft"));
	dns_answer_free(mx);

	mx_conf_free(conf);
	return CHECK_DONE();
}
