/* SPDX-License-Identifier: MIT */
/* src/target.c — the target host judgement shared by the checks and the wizard. */
#include "target.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void add(struct tgt_judgement *j, enum tgt_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(struct tgt_judgement *j, enum tgt_level level, const char *fmt, ...)
{
	va_list ap;

	if (j->n >= TGT_MAX_FINDINGS)
		return;
	j->f[j->n].level = level;
	va_start(ap, fmt);
	vsnprintf(j->f[j->n].text, sizeof(j->f[0].text), fmt, ap);
	va_end(ap);
	if (level == TGT_FAIL)
		j->usable = false;
	j->n++;
}

/* What the current MX says about the target (only when it could be read). */
static void judge_current(const struct mx_conf *conf, const char *host, const struct dns_answer *mx,
    struct tgt_judgement *j)
{
	const char *other = NULL, *other_new = NULL;
	size_t nlegacy = 0, nnew = 0;

	if (!mx || mx->rcode != 0 || mx->sec == DNS_SEC_BOGUS || !mx->n)
		return;
	for (size_t i = 0; i < mx->n; i++) {
		const char *h = mx->rr[i].u.mx.host;

		if (mx->rr[i].type != DNS_T_MX)
			continue;
		if (mx_conf_is_legacy(conf, h))
			nlegacy++;
		else if (mx_name_under(h, conf->endpoint_suffix)) {
			nnew++;
			if (strcmp(h, host))
				other_new = h;
		} else
			other = h;
	}
	if (!nlegacy && !nnew) {
		j->mx_not_microsoft = true;
		add(j, TGT_WARN,
		    "the MX points at %.120s, not at Exchange Online: no cutover applies (with an "
		    "inbound gateway, change its smart host to the new host instead)",
		    other);
	} else if (other_new)
		add(j, TGT_WARN,
		    "the MX already lists %.120s under %.60s, not this host: check which value "
		    "Exchange Online gave",
		    other_new, conf->endpoint_suffix);
}

void tgt_judge(const struct mx_conf *conf, const char *domain, const char *typed,
    const struct dns_answer *current_mx, struct tgt_judgement *out)
{
	char dashed[MX_NAME_MAX + 1];
	struct mx_err err;

	memset(out, 0, sizeof(*out));
	out->usable = true;
	if (!typed || !typed[0]) {
		add(out, TGT_FAIL,
		    "no target host given: it is the DnssecMxValue that "
		    "Enable-DnssecForVerifiedDomain -DomainName %.200s prints",
		    domain);
		return;
	}
	mx_err_clear(&err);
	if (mx_domain_normalize(typed, "target host", out->host, sizeof(out->host), &err)) {
		out->host[0] = '\0';
		add(out, TGT_FAIL, "%s", err.msg);
		return;
	}
	add(out, TGT_OK, "a valid host name");
	if (mx_conf_is_legacy(conf, out->host)) {
		add(out, TGT_FAIL,
		    "%.120s is a legacy Exchange Online host (legacy_suffixes), the one being "
		    "replaced: give the new host, DnssecMxValue",
		    out->host);
	} else if (!mx_name_under(out->host, conf->endpoint_suffix) ||
		   !strcmp(out->host, conf->endpoint_suffix)) {
		add(out, TGT_FAIL,
		    "%.120s is not under %.60s (endpoint_suffix); copy DnssecMxValue exactly as "
		    "Enable-DnssecForVerifiedDomain printed it",
		    out->host, conf->endpoint_suffix);
	} else {
		add(out, TGT_OK, "under %.60s (endpoint_suffix), not a legacy host",
		    conf->endpoint_suffix);
	}
	if (domain && !strcmp(out->host, domain))
		add(out, TGT_FAIL, "the domain itself is not its MX host; give DnssecMxValue");
	if (out->usable && domain) {
		mx_domain_dashed(domain, dashed, sizeof(dashed));
		if (strncmp(out->host, dashed, strlen(dashed)))
			add(out, TGT_WARN,
			    "Microsoft's hosts for %.100s start with %.100s; check you pasted this "
			    "domain's value",
			    domain, dashed);
	}
	if (out->usable)
		judge_current(conf, out->host, current_mx, out);
}

const struct tgt_finding *tgt_first(const struct tgt_judgement *j, enum tgt_level level)
{
	for (int i = 0; i < j->n; i++)
		if (j->f[i].level == level)
			return &j->f[i];
	return NULL;
}
