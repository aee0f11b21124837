/* SPDX-License-Identifier: MIT */
/* tests/e2e_dns.c — the DNS module against the sandbox's fake internet: DNSSEC states through
 * libunbound (secure, insecure, bogus, expired, NXDOMAIN), the zone's server addresses, direct
 * SOA queries to each authoritative server, and DANE TLSA. Exit 77 without the sandbox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dns.h"

static struct dns_answer *resolve(struct dns_ctx *c, const char *name, uint16_t type)
{
	struct dns_answer *a = NULL;
	struct mx_err err = {0};

	if (dns_resolve(c, name, type, &a, &err) != MX_OK) {
		fprintf(stderr, "dns_resolve %s/%u: %s\n", name, (unsigned)type, err.msg);
		check_failures++;
		return NULL;
	}
	printf("%s/%u: rcode %s, %s, %zu RR(s)%s%s\n", name, (unsigned)type,
	    dns_rcode_name(a->rcode), dns_sec_name(a->sec), a->n, a->why_bogus ? ", why: " : "",
	    a->why_bogus ? a->why_bogus : "");
	return a;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static void test_dnssec_states(struct dns_ctx *c)
{
	struct dns_answer *a;

	a = resolve(c, "contoso.test", DNS_T_MX);
	if (a) {
		CHECK_INT(a->sec, DNS_SEC_SECURE);
		CHECK_INT(a->rcode, 0);
		CHECK(a->n >= 1);
		CHECK(a->n >= 1 && a->rr[0].u.mx.pref == 0 &&
		      ends_with(a->rr[0].u.mx.host, ".mail.protection.outlook.test"));
		CHECK(a->ttl > 0);
	}
	dns_answer_free(a);

	a = resolve(c, "fabrikam.test.", DNS_T_MX);
	if (a) {
		CHECK_INT(a->sec, DNS_SEC_INSECURE);
		CHECK_INT(a->rcode, 0);
		CHECK(a->n >= 1);
	}
	dns_answer_free(a);

	a = resolve(c, "bogus.test", DNS_T_MX);
	if (a) {
		CHECK_INT(a->sec, DNS_SEC_BOGUS);
		CHECK(a->why_bogus && *a->why_bogus);
	}
	dns_answer_free(a);

	a = resolve(c, "expired.test", DNS_T_MX);
	if (a) {
		CHECK_INT(a->sec, DNS_SEC_BOGUS);
		CHECK(a->why_bogus && *a->why_bogus);
	}
	dns_answer_free(a);

	a = resolve(c, "no-such-name-4711.contoso.test", DNS_T_MX);
	if (a) {
		CHECK(a->nxdomain);
		CHECK_INT(a->rcode, 3);
		CHECK_INT(a->sec, DNS_SEC_SECURE);
		CHECK_INT(a->n, 0);
	}
	dns_answer_free(a);
}

static void test_zone_servers(struct dns_ctx *c)
{
	char **addrs = NULL;
	size_t n = 0;
	struct mx_err err = {0};
	uint32_t serial = 0;

	if (dns_zone_servers(c, "contoso.test", &addrs, &n, &err) != MX_OK) {
		fprintf(stderr, "dns_zone_servers contoso.test: %s\n", err.msg);
		check_failures++;
		return;
	}
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(addrs[0], "127.0.3.1");
		CHECK_STR(addrs[1], "127.0.3.2");
	}
	for (size_t i = 0; i < n; i++) {
		struct dns_answer *a = NULL;

		printf("contoso.test server %s\n", addrs[i]);
		if (dns_query_direct(c, addrs[i], "contoso.test", DNS_T_SOA, 3000, &a, &err) !=
		    MX_OK) {
			fprintf(stderr, "direct SOA to %s: %s\n", addrs[i], err.msg);
			check_failures++;
			continue;
		}
		CHECK(a->aa);
		CHECK_INT(a->rcode, 0);
		CHECK_INT(a->n, 1);
		CHECK_INT(a->sec, DNS_SEC_INDETERMINATE);
		if (a->n == 1) {
			printf("  SOA serial %u\n", a->rr[0].u.soa.serial);
			if (i == 0)
				serial = a->rr[0].u.soa.serial;
			else
				CHECK_INT(a->rr[0].u.soa.serial, serial);
		}
		dns_answer_free(a);
	}
	dns_strv_free(addrs, n);
}

static void test_tlsa(struct dns_ctx *c)
{
	struct dns_answer *a =
	    resolve(c, "_25._tcp.contoso-test.o-v1.mx.microsoft.test", DNS_T_TLSA);

	if (!a)
		return;
	CHECK_INT(a->sec, DNS_SEC_SECURE);
	CHECK(a->n >= 1);
	for (size_t i = 0; i < a->n; i++) {
		CHECK_INT(a->rr[i].u.tlsa.usage, 3);
		CHECK(a->rr[i].u.tlsa.len > 0);
	}
	dns_answer_free(a);
}

/* Publishes (tlsa non-NULL) or withdraws the TLSA at `name` in the sandbox's endpoint zone,
 * through PowerDNS's API (tests/fakes/cloud_fake.py). */
static void set_tlsa(const char *name, const char *tlsa)
{
	const char *src = getenv("MX_SOURCE_DIR");
	char cmd[1400];

	snprintf(cmd, sizeof(cmd),
	    "python3 -c 'import sys; sys.path.insert(0, \"%s/tests/fakes\"); import cloud_fake; "
	    "cloud_fake.Pdns().replace(\"mx.microsoft.test\", \"%s\", \"TLSA\", 3600, "
	    "[\"%s\"] if \"%s\" else [])'",
	    src ? src : ".", name, tlsa ? tlsa : "", tlsa ? tlsa : "");
	CHECK_INT(system(cmd), 0);
}

static bool secure_tlsa(struct dns_ctx *c, const char *name)
{
	struct dns_answer *a = resolve(c, name, DNS_T_TLSA);
	bool yes = a && a->sec == DNS_SEC_SECURE && a->n >= 1;

	dns_answer_free(a);
	return yes;
}

static bool secure_nxdomain(struct dns_ctx *c, const char *name)
{
	struct dns_answer *a = resolve(c, name, DNS_T_TLSA);
	bool yes = a && a->sec == DNS_SEC_SECURE && a->nxdomain && a->n == 0;

	dns_answer_free(a);
	return yes;
}

/* dns_ctx_fresh, what the DANE gates ask: a TLSA published or withdrawn elsewhere is seen
 * within DNS_FRESH_MAX_AGE s by a long-lived resolver, never hidden by a cached denial (the
 * zone's negative TTL is 300 s) nor by a denial made up from another name's NSEC range. The
 * ordinary resolver, asked the same, makes that denial up (aggressive NSEC): the test can
 * tell. */
static void test_fresh(struct dns_ctx *c)
{
	const char *tlsa = getenv("MX_TARGET_TLSA_311");
	struct dns_ctx *f = NULL;
	struct mx_err err = {0};
	char a[200], b[200], data[200];

	if (!tlsa || !*tlsa) {
		fprintf(stderr, "test_fresh: no MX_TARGET_TLSA_311 in the sandbox\n");
		check_failures++;
		return;
	}
	snprintf(data, sizeof(data), "3 1 1 %s", tlsa);
	/* Two names in one NSEC gap of the zone, new in every run. */
	snprintf(a, sizeof(a), "_25._tcp.fresh-a-%d.o-v1.mx.microsoft.test", (int)getpid());
	snprintf(b, sizeof(b), "_25._tcp.fresh-b-%d.o-v1.mx.microsoft.test", (int)getpid());
	if (dns_ctx_fresh(&f, c, &err) != MX_OK) {
		fprintf(stderr, "dns_ctx_fresh: %s\n", err.msg);
		check_failures++;
		return;
	}
	CHECK(secure_nxdomain(f, a));
	CHECK(secure_nxdomain(c, a));
	set_tlsa(b, data);
	set_tlsa(a, data);
	/* At once: b lies in the NSEC range that denied a a moment ago. */
	CHECK(secure_tlsa(f, b));
	CHECK(secure_nxdomain(c, b)); /* the ordinary resolver makes the denial up */
	sleep(DNS_FRESH_MAX_AGE + 1);
	CHECK(secure_tlsa(f, a));
	set_tlsa(a, NULL);
	set_tlsa(b, NULL);
	sleep(DNS_FRESH_MAX_AGE + 1);
	CHECK(secure_nxdomain(f, a));
	CHECK(secure_nxdomain(f, b));
	dns_ctx_free(f);
}

/* Many validating lookups at once, answered through the one libunbound fd: more than
 * libunbound is handed at a time (DNS_UB_INFLIGHT), so most wait their turn; lookups
 * cancelled while waiting or while out never call back. */
struct many {
	int answered, secure;
};

static void many_cb(void *arg, struct dns_answer *a)
{
	struct many *m = arg;

	m->answered++;
	if (a && a->sec == DNS_SEC_SECURE && a->nxdomain)
		m->secure++;
	dns_answer_free(a);
}

static void test_many(struct dns_ctx *c)
{
	struct many m = {0, 0}, gone = {0, 0};
	struct mx_err err = {0};
	enum { MANY = 700, GONE = 100 };

	for (int i = 0; i < MANY + GONE; i++) {
		char name[64];
		/* Every eighth is one that will be cancelled: some are out, most wait. */
		bool cancel = i % 8 == 7 && i / 8 < GONE;

		snprintf(name, sizeof(name), "many-%d.contoso.test", i);
		if (dns_resolve_async(c, name, DNS_T_MX, many_cb, cancel ? &gone : &m, &err) !=
		    MX_OK) {
			fprintf(stderr, "dns_resolve_async %s: %s\n", name, err.msg);
			check_failures++;
		}
	}
	CHECK_INT(dns_pending(c), MANY + GONE);
	dns_cancel(c, &gone);
	CHECK_INT(dns_pending(c), MANY);
	CHECK_INT(dns_wait(c, &err), MX_OK);
	CHECK_INT(m.answered, MANY);
	CHECK_INT(m.secure, MANY);
	CHECK_INT(gone.answered, 0);
}

int main(void)
{
	const char *conf = getenv("MX_RESOLVER_CONF");
	struct dns_ctx *c = NULL;
	struct mx_err err = {0};

	if (!conf || !*conf) {
		printf("skipped: no sandbox\n");
		return 77;
	}
	if (dns_ctx_new(&c, conf, &err) != MX_OK) {
		fprintf(stderr, "dns_ctx_new: %s\n", err.msg);
		return 1;
	}
	test_dnssec_states(c);
	test_zone_servers(c);
	test_tlsa(c);
	test_many(c);
	test_fresh(c);
	CHECK_INT(dns_pending(c), 0);
	dns_ctx_free(c);
	return CHECK_DONE();
}
