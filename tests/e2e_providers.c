/* SPDX-License-Identifier: MIT */
/* tests/e2e_providers.c — the PowerDNS (HTTP API) and RFC 2136 (BIND) adapters against the
 * sandbox: read the legacy MX, replace it, see the change on every authoritative server, write
 * and delete the _mta-sts TXT, restore, replay idempotently, compare-and-swap conflicts, refused
 * credentials, unknown zones, and nothing else in the zone touched. Exit 77 without the
 * sandbox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "dns.h"
#include "http.h"
#include "provider.h"

#define LEGACY_SUFFIX ".mail.protection.outlook.test"
#define BAD_PDNS_KEY  "bad-key-4711-never-valid"

static struct mx_conf *conf;
static struct dns_ctx *dns;
static struct http_ctx *http;

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static void rrset_init(
    struct mx_rrset *s, const char *name, uint16_t type, uint32_t ttl, const char *const *values)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->ttl = ttl;
	for (size_t i = 0; values && values[i]; i++)
		CHECK_INT(prov_rrset_add(s, values[i], NULL), MX_OK);
	prov_rrset_sort(s);
}

static void print_rrset(const char *what, const struct mx_rrset *s)
{
	char *text = prov_rrset_text(s);

	printf("  %s %s: %s\n", what, s->name, text ? text : "?");
	free(text);
}

static int do_read(struct prov *p, const char *name, uint16_t type, struct mx_rrset *out)
{
	struct mx_err err = {0};
	int rc = p->ops->read_rrset(p, name, type, out, &err);

	if (rc)
		fprintf(stderr, "  read %s/%u: %s (%s)\n", name, type, err.msg, mx_rc_name(rc));
	return rc;
}

static int do_replace(struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want)
{
	struct mx_err err = {0};
	int rc = p->ops->replace_rrset(p, expect, want, &err);

	if (rc)
		printf("  replace %s: %s (%s)\n", want->name, err.msg, mx_rc_name(rc));
	return rc;
}

/* Reads name/type through the provider and checks it is exactly *want (values and TTL). */
static void check_read_equals(struct prov *p, const struct mx_rrset *want)
{
	struct mx_rrset got = {0};

	CHECK_INT(do_read(p, want->name, want->type, &got), MX_OK);
	print_rrset("read", &got);
	CHECK(prov_rrset_equal(&got, want, true));
	prov_rrset_clear(&got);
}

/* Checks that every authoritative server of zone serves *want, by direct query. */
static void check_servers_serve(const char *zone, const struct mx_rrset *want)
{
	char **addrs = NULL;
	size_t n = 0;
	struct mx_err err = {0};

	if (dns_zone_servers(dns, zone, &addrs, &n, &err) != MX_OK) {
		fprintf(stderr, "dns_zone_servers %s: %s\n", zone, err.msg);
		check_failures++;
		return;
	}
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++) {
		struct dns_answer *a = NULL;
		struct mx_rrset got = {0};

		if (dns_query_direct(dns, addrs[i], want->name, want->type, 3000, &a, &err)) {
			fprintf(stderr, "direct %s @%s: %s\n", want->name, addrs[i], err.msg);
			check_failures++;
			continue;
		}
		snprintf(got.name, sizeof(got.name), "%s", want->name);
		got.type = want->type;
		got.ttl = a->n ? a->ttl : 0;
		for (size_t j = 0; j < a->n; j++) {
			char value[300];

			if (want->type == DNS_T_MX && !prov_mx_value(a->rr[j].u.mx.pref,
							  a->rr[j].u.mx.host, value, sizeof(value)))
				prov_rrset_add(&got, value, NULL);
			else if (want->type == DNS_T_TXT)
				prov_rrset_add(&got, a->rr[j].u.txt, NULL);
		}
		prov_rrset_sort(&got);
		CHECK(a->aa);
		if (!prov_rrset_equal(&got, want, true)) {
			fprintf(stderr, "  server %s does not serve the wanted RRset:\n", addrs[i]);
			print_rrset("served", &got);
			print_rrset("wanted", want);
			check_failures++;
		}
		prov_rrset_clear(&got);
		dns_answer_free(a);
	}
	dns_strv_free(addrs, n);
}

/* Every RRset of the zone that the adapters must never touch, as served by the first
 * authoritative server: one text line per RR, sorted per RRset. Caller frees. */
static char *zone_others(const char *zone)
{
	static const struct {
		const char *label;
		uint16_t type;
	} others[] = {
	    {"", DNS_T_NS},
	    {"", DNS_T_TXT},
	    {"", DNS_T_DNSKEY},
	    {"www", DNS_T_A},
	    {"ftp", DNS_T_CNAME},
	    {"info", DNS_T_TXT},
	    {"_smtp._tls", DNS_T_TXT},
	    {"mta-sts", DNS_T_A},
	    {"ns1", DNS_T_A},
	    {"ns2", DNS_T_A},
	};
	char **addrs = NULL, *out = NULL;
	size_t n = 0, len = 0;
	struct mx_err err = {0};
	FILE *fp;

	if (dns_zone_servers(dns, zone, &addrs, &n, &err) != MX_OK || !n) {
		fprintf(stderr, "dns_zone_servers %s: %s\n", zone, err.msg);
		check_failures++;
		return strdup("");
	}
	fp = open_memstream(&out, &len);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		char name[300];
		struct dns_answer *a = NULL;
		struct mx_rrset lines = {0};

		snprintf(name, sizeof(name), "%s%s%s", others[i].label, *others[i].label ? "." : "",
		    zone);
		if (dns_query_direct(dns, addrs[0], name, others[i].type, 3000, &a, &err)) {
			fprintf(stderr, "direct %s: %s\n", name, err.msg);
			check_failures++;
			continue;
		}
		fprintf(fp, "%s/%u rcode %d:\n", name, others[i].type, a->rcode);
		for (size_t j = 0; j < a->n; j++)
			prov_rrset_add(&lines, a->rr[j].text, NULL);
		prov_rrset_sort(&lines);
		for (size_t j = 0; j < lines.n; j++)
			fprintf(fp, "  %s\n", lines.values[j]);
		prov_rrset_clear(&lines);
		dns_answer_free(a);
	}
	fclose(fp);
	dns_strv_free(addrs, n);
	return out;
}

/* The shared scenario: MX and _mta-sts TXT through the adapter, then restore. */
static void exercise(struct prov *p, const char *zone, const char *target, bool cas)
{
	char sts_name[300], long_text[400], *before, *after;
	struct mx_rrset orig_mx = {0}, orig_sts = {0}, want = {0}, want2 = {0}, none = {0};
	char legacy_value[300], target_value[300];
	const char *sts_new[] = {"v=STSv1; id=20260202T000000;", NULL};
	const char *long_values[] = {long_text, NULL};

	before = zone_others(zone);

	/* The legacy MX as the sandbox created it. */
	CHECK_INT(do_read(p, zone, DNS_T_MX, &orig_mx), MX_OK);
	print_rrset("original", &orig_mx);
	CHECK_INT(orig_mx.n, 1);
	CHECK_INT(orig_mx.ttl, 3600);
	CHECK_INT(orig_mx.type, DNS_T_MX);
	CHECK_STR(orig_mx.name, zone);
	if (orig_mx.n != 1)
		goto out;
	CHECK(!strncmp(orig_mx.values[0], "0 ", 2) && ends_with(orig_mx.values[0], LEGACY_SUFFIX));
	snprintf(legacy_value, sizeof(legacy_value), "%s", orig_mx.values[0]);

	/* Two values at TTL 30, as in the add_target step. */
	snprintf(target_value, sizeof(target_value), "20 %s", target);
	{
		const char *values[] = {legacy_value, target_value, NULL};

		rrset_init(&want, zone, DNS_T_MX, 30, values);
	}
	CHECK_INT(do_replace(p, &orig_mx, &want), MX_OK);
	check_read_equals(p, &want);
	check_servers_serve(zone, &want);

	/* A replay after a crash: same arguments, same result. */
	CHECK_INT(do_replace(p, &orig_mx, &want), MX_OK);
	check_read_equals(p, &want);

	/* Compare-and-swap: expect is stale (the zone holds want, not orig_mx). */
	if (cas) {
		const char *values[] = {"0 other.mx.microsoft.test", NULL};
		struct mx_err err = {0};

		rrset_init(&want2, zone, DNS_T_MX, 30, values);
		CHECK_INT(p->ops->replace_rrset(p, &orig_mx, &want2, &err), MX_ECONFLICT);
		printf("  conflict: %s\n", err.msg);
		CHECK(strstr(err.msg, "changed") != NULL);
		check_read_equals(p, &want);
		/* A stale "does not exist" expectation conflicts too. */
		rrset_init(&none, zone, DNS_T_MX, 0, NULL);
		CHECK_INT(p->ops->replace_rrset(p, &none, &want2, &err), MX_ECONFLICT);
		check_read_equals(p, &want);
		prov_rrset_clear(&want2);
	}

	/* _mta-sts TXT: a long value with quotes and a backslash (two character-strings), a new
	 * id, deletion and re-creation, then the original back. */
	snprintf(sts_name, sizeof(sts_name), "_mta-sts.%s", zone);
	CHECK_INT(do_read(p, sts_name, DNS_T_TXT, &orig_sts), MX_OK);
	print_rrset("original", &orig_sts);
	CHECK_INT(orig_sts.n, 1);
	if (orig_sts.n == 1)
		CHECK(!strncmp(orig_sts.values[0], "v=STSv1; id=", 12));
	memset(long_text, 'a', 300);
	memcpy(long_text, "v=STSv1; id=\"quoted\\back\"; ", 27);
	long_text[300] = 0;
	rrset_init(&want2, sts_name, DNS_T_TXT, 300, long_values);
	CHECK_INT(do_replace(p, &orig_sts, &want2), MX_OK);
	check_read_equals(p, &want2);
	check_servers_serve(zone, &want2);
	prov_rrset_clear(&want2);
	{
		struct mx_rrset long_set;

		rrset_init(&long_set, sts_name, DNS_T_TXT, 300, long_values);
		rrset_init(&want2, sts_name, DNS_T_TXT, 300, sts_new);
		CHECK_INT(do_replace(p, &long_set, &want2), MX_OK);
		check_read_equals(p, &want2);
		check_servers_serve(zone, &want2);
		prov_rrset_clear(&long_set);
	}
	rrset_init(&none, sts_name, DNS_T_TXT, 0, NULL);
	CHECK_INT(do_replace(p, &want2, &none), MX_OK);
	check_read_equals(p, &none);
	check_servers_serve(zone, &none);
	CHECK_INT(do_replace(p, &want2, &none), MX_OK); /* deleting twice is fine */
	CHECK_INT(do_replace(p, &none, &orig_sts), MX_OK);
	check_read_equals(p, &orig_sts);
	check_servers_serve(zone, &orig_sts);
	prov_rrset_clear(&want2);

	/* Back to the original MX; a replay is a no-op. */
	CHECK_INT(do_replace(p, &want, &orig_mx), MX_OK);
	check_read_equals(p, &orig_mx);
	check_servers_serve(zone, &orig_mx);
	CHECK_INT(do_replace(p, &want, &orig_mx), MX_OK);
	check_read_equals(p, &orig_mx);

	/* Names outside the zone and other types are refused without a request. */
	{
		struct mx_rrset out = {0};
		struct mx_err err = {0};

		CHECK_INT(p->ops->read_rrset(p, "example.org", DNS_T_MX, &out, &err), MX_EINVAL);
		CHECK_INT(p->ops->read_rrset(p, zone, DNS_T_A, &out, &err), MX_EINVAL);
	}

	after = zone_others(zone);
	if (strcmp(before, after)) {
		fprintf(stderr, "the zone's other RRsets changed:\n--- before\n%s--- after\n%s",
		    before, after);
		check_failures++;
	}
	free(after);
out:
	free(before);
	prov_rrset_clear(&orig_mx);
	prov_rrset_clear(&orig_sts);
	prov_rrset_clear(&want);
	prov_rrset_clear(&want2);
}

/* Creates a fresh zone on the child PowerDNS with tests/sandbox/mkzone; *target gets the
 * target host it prints. */
static bool mkzone(const char *zone, char *target, size_t len)
{
	const char *tools = getenv("MX_SANDBOX_TOOLS");
	char cmd[512];
	FILE *fp;
	bool ok;

	snprintf(cmd, sizeof(cmd), "'%s/mkzone' %s", tools ? tools : "tests/sandbox", zone);
	fp = popen(cmd, "r");
	if (!fp)
		return false;
	ok = fgets(target, (int)len, fp) != NULL;
	if (pclose(fp) != 0)
		ok = false;
	target[strcspn(target, "\r\n")] = 0;
	return ok && *target;
}

static void test_powerdns(void)
{
	char zone[64], target[256];
	struct prov *p = NULL;
	struct mx_err err = {0};

	printf("powerdns\n");
	snprintf(zone, sizeof(zone), "prov%ld.test", (long)getpid());
	if (!mkzone(zone, target, sizeof(target))) {
		fprintf(stderr, "mkzone %s failed\n", zone);
		check_failures++;
		return;
	}
	printf("  zone %s, target %s\n", zone, target);
	CHECK_INT(prov_open(conf, "pdns", zone, dns, http, &p, &err), MX_OK);
	if (!p) {
		fprintf(stderr, "prov_open pdns: %s\n", err.msg);
		return;
	}
	CHECK_STR(p->ops->name, "powerdns");
	CHECK_INT(p->ops->caps, PROV_CAP_ATOMIC | PROV_CAP_HTTP);
	exercise(p, zone, target, false);
	prov_close(p);

	/* A zone the server does not have. */
	p = NULL;
	CHECK_INT(prov_open(conf, "pdns", "nosuchzone4711.test", dns, http, &p, &err), MX_OK);
	if (p) {
		struct mx_rrset out = {0};

		CHECK_INT(
		    p->ops->read_rrset(p, "nosuchzone4711.test", DNS_T_MX, &out, &err), MX_ENOZONE);
		printf("  unknown zone: %s\n", err.msg);
		CHECK(strstr(err.msg, "nosuchzone4711.test") && strstr(err.msg, "localhost"));
		prov_close(p);
	}
	/* ... and a change to it, before any read: the server is asked first (a 422 on a
	 * PATCH could be a refused change as well as an unknown zone). */
	p = NULL;
	CHECK_INT(prov_open(conf, "pdns", "nosuchzone4711.test", dns, http, &p, &err), MX_OK);
	if (p) {
		struct mx_rrset want = {0};
		const char *values[] = {"0 nothing.mx.microsoft.test", NULL};

		rrset_init(&want, "nosuchzone4711.test", DNS_T_MX, 30, values);
		CHECK_INT(p->ops->replace_rrset(p, NULL, &want, &err), MX_ENOZONE);
		printf("  change to an unknown zone: %s\n", err.msg);
		prov_rrset_clear(&want);
		prov_close(p);
	}
}

static void test_rfc2136(void)
{
	const char *zone = "northwind.test";
	struct prov *p = NULL;
	struct mx_err err = {0};

	printf("rfc2136\n");
	CHECK_INT(prov_open(conf, "bind", zone, dns, http, &p, &err), MX_OK);
	if (!p) {
		fprintf(stderr, "prov_open bind: %s\n", err.msg);
		return;
	}
	CHECK_STR(p->ops->name, "rfc2136");
	CHECK_INT(p->ops->caps, PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_KEYED_WRITES);
	exercise(p, zone, "northwind-test.o-v1.mx.microsoft.test", true);
	prov_close(p);

	/* A zone the server does not serve. */
	p = NULL;
	CHECK_INT(prov_open(conf, "bind", "nosuchzone4711.test", dns, http, &p, &err), MX_OK);
	if (p) {
		struct mx_rrset out = {0};

		CHECK_INT(
		    p->ops->read_rrset(p, "nosuchzone4711.test", DNS_T_MX, &out, &err), MX_ENOZONE);
		printf("  unknown zone: %s\n", err.msg);
		CHECK(strstr(err.msg, "nosuchzone4711.test") != NULL);
		prov_close(p);
	}
}

/* Wrong credentials: a config of our own whose secrets come from the environment. */
static void test_bad_credentials(const char *dir)
{
	char path[512], tsig_key[600];
	const char *keyfile = getenv("PDNS_API_KEY_FILE");
	struct mx_conf *bad = NULL;
	struct mx_err err = {0};
	struct prov *p = NULL;
	struct mx_rrset out = {0}, want = {0};
	const char *values[] = {"0 nothing.mx.microsoft.test", NULL};
	FILE *fp;

	printf("bad credentials\n");
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	fp = fopen(path, "w");
	if (!fp) {
		check_failures++;
		return;
	}
	fprintf(fp,
	    "[provider.badkey]\ntype = powerdns\nurl = %s\napi_key_env = MX_TEST_BAD_PDNS_KEY\n"
	    "[provider.badtsig]\ntype = rfc2136\nserver = %s\ntsig_name = %s\n"
	    "tsig_secret_env = MX_TEST_BAD_TSIG\n"
	    "[provider.nokey]\ntype = rfc2136\nserver = %s\ntsig_name = nosuchkey\n"
	    "tsig_secret_env = MX_TEST_BAD_TSIG\n"
	    "[provider.down]\ntype = powerdns\nurl = http://127.0.0.1:9\n"
	    "api_key_env = MX_TEST_BAD_PDNS_KEY\n"
	    "[provider.badserver]\ntype = powerdns\nurl = %s\napi_key_file = %s\n"
	    "server_id = nosuchserver\n",
	    getenv("PDNS_API_URL"), getenv("BIND_SERVER"), getenv("TSIG_NAME"),
	    getenv("BIND_SERVER"), getenv("PDNS_API_URL"), keyfile ? keyfile : "/nonexistent");
	fclose(fp);
	setenv("MX_TEST_BAD_PDNS_KEY", BAD_PDNS_KEY, 1);
	/* A valid base64 secret of the right size that is not the server's. */
	snprintf(tsig_key, sizeof(tsig_key), "%s", "c2FuZGJveC13cm9uZy1zZWNyZXQtMzItYnl0ZXMhIQ==");
	setenv("MX_TEST_BAD_TSIG", tsig_key, 1);
	if (mx_conf_load(path, true, &bad, &err) != MX_OK) {
		fprintf(stderr, "mx_conf_load %s: %s\n", path, err.msg);
		check_failures++;
		return;
	}
	(void)keyfile;

	CHECK_INT(prov_open(bad, "badkey", "contoso.test", dns, http, &p, &err), MX_OK);
	if (p) {
		CHECK_INT(p->ops->read_rrset(p, "contoso.test", DNS_T_MX, &out, &err), MX_EAUTH);
		printf("  powerdns: %s\n", err.msg);
		CHECK(strstr(err.msg, "401") != NULL);
		CHECK(strstr(err.msg, BAD_PDNS_KEY) == NULL);
		CHECK_INT(err.http_status, 401);
		prov_close(p);
		p = NULL;
	}
	/* The zone's id is taken from its name; a 404 on it asks the server, whose answer
	 * names the wrong server_id. */
	CHECK_INT(prov_open(bad, "badserver", "contoso.test", dns, http, &p, &err), MX_OK);
	if (p) {
		CHECK_INT(
		    p->ops->read_rrset(p, "contoso.test", DNS_T_MX, &out, &err), MX_EPROVIDER);
		printf("  powerdns wrong server_id: %s\n", err.msg);
		CHECK(strstr(err.msg, "server nosuchserver is not known") != NULL);
		CHECK(strstr(err.msg, "fix server_id in [provider.badserver]") != NULL);
		CHECK_INT(err.http_status, 404);
		prov_close(p);
		p = NULL;
	}
	CHECK_INT(prov_open(bad, "down", "contoso.test", dns, http, &p, &err), MX_OK);
	if (p) {
		CHECK_INT(
		    p->ops->read_rrset(p, "contoso.test", DNS_T_MX, &out, &err), MX_EPROVIDER);
		printf("  powerdns down: %s\n", err.msg);
		CHECK(strstr(err.msg, "http://127.0.0.1:9") != NULL);
		CHECK(strstr(err.msg, BAD_PDNS_KEY) == NULL);
		prov_close(p);
		p = NULL;
	}

	rrset_init(&want, "northwind.test", DNS_T_MX, 30, values);
	CHECK_INT(prov_open(bad, "badtsig", "northwind.test", dns, http, &p, &err), MX_OK);
	if (p) {
		CHECK_INT(p->ops->replace_rrset(p, NULL, &want, &err), MX_EAUTH);
		printf("  rfc2136 wrong secret: %s\n", err.msg);
		CHECK(strstr(err.msg, getenv("TSIG_NAME")) != NULL);
		CHECK(strstr(err.msg, tsig_key) == NULL);
		prov_close(p);
		p = NULL;
	}
	CHECK_INT(prov_open(bad, "nokey", "northwind.test", dns, http, &p, &err), MX_OK);
	if (p) {
		CHECK_INT(p->ops->replace_rrset(p, NULL, &want, &err), MX_EAUTH);
		printf("  rfc2136 unknown key: %s\n", err.msg);
		CHECK(strstr(err.msg, "nosuchkey") != NULL);
		prov_close(p);
		p = NULL;
	}
	prov_rrset_clear(&want);
	mx_conf_free(bad);
	unlink(path);
}

int main(void)
{
	struct mx_err err = {0};
	char dir[] = "/tmp/e2e_providers.XXXXXX";

	if (!getenv("MX_SANDBOX_ENV")) {
		printf("skipped: no sandbox\n");
		return 77;
	}
	if (mx_conf_load(getenv("MX_CONFIG"), true, &conf, &err) ||
	    dns_ctx_new(&dns, getenv("MX_RESOLVER_CONF"), &err) ||
	    http_ctx_new(&http, getenv("MX_CACERT"), &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	test_powerdns();
	test_rfc2136();
	if (mkdtemp(dir)) {
		test_bad_credentials(dir);
		rmdir(dir);
	} else {
		check_failures++;
	}
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_conf_free(conf);
	return CHECK_DONE();
}
