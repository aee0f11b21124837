/* SPDX-License-Identifier: MIT */
/* providers/manual.c — the "manual" provider: a person applies every change. Reads come from
 * the zone's authoritative servers directly (never a cache); a write only says what must be
 * set, and the engine verifies it in DNS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

static int manual_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	if (!p->dns)
		return mx_err_set(err, MX_EINVAL, "manual: needs the resolver to read the zone");
	return MX_OK;
}

/* Reads from each authoritative server in turn and keeps the first authoritative answer. */
static int manual_read(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	char **addrs = NULL, value[600];
	size_t naddrs = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	rc = dns_zone_servers(p->dns, p->zone, &addrs, &naddrs, err);
	if (rc)
		return mx_err_prefix(err, "manual: cannot find the servers of %s", p->zone);
	rc = mx_err_set(err, MX_EDNS,
	    "manual: no authoritative server of %s answered for %s; check that they are reachable",
	    p->zone, name);
	for (size_t i = 0; i < naddrs; i++) {
		struct dns_answer *a = NULL;

		if (dns_query_direct(p->dns, addrs[i], name, type, 3000, &a, NULL) || !a)
			continue;
		if (!a->aa || (a->rcode != 0 && a->rcode != 3)) {
			dns_answer_free(a);
			continue;
		}
		out->ttl = a->ttl;
		rc = MX_OK;
		for (size_t k = 0; k < a->n && !rc; k++) {
			if (type == DNS_T_MX)
				rc = prov_mx_value(
				    a->rr[k].u.mx.pref, a->rr[k].u.mx.host, value, sizeof(value));
			else
				snprintf(value, sizeof(value), "%s", a->rr[k].u.txt);
			if (!rc)
				rc = prov_rrset_add(out, value, err);
		}
		dns_answer_free(a);
		if (!rc)
			mx_err_clear(err);
		break;
	}
	dns_strv_free(addrs, naddrs);
	if (rc)
		prov_rrset_clear(out);
	prov_rrset_sort(out);
	return rc;
}

/* Nothing is written: the caller shows the records to set and verifies them in DNS. */
static int manual_replace(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	char *text = prov_rrset_text(want);
	int rc = mx_err_set(err, MX_EAGAIN, "manual: set %s %s to %s at your DNS host", want->name,
	    want->type == DNS_T_MX ? "MX" : "TXT", text ? text : "(see the plan)");

	free(text);
	return rc;
}

/* Nothing to prove: a person makes every change. */
static int manual_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	(void)err;
	snprintf(out->proved, sizeof(out->proved),
	    "a person makes the changes for zone %.100s; the run shows each record and verifies "
	    "it in DNS",
	    p->zone);
	return MX_OK;
}

const struct prov_ops prov_manual_ops = {
    .name = "manual",
    .caps = PROV_CAP_HUMAN,
    .min_ttl = 1,
    .open = manual_open,
    .read_rrset = manual_read,
    .replace_rrset = manual_replace,
    .check_access = manual_check_access,
};
