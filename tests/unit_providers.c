/* SPDX-License-Identifier: MIT */
/* tests/unit_providers.c — the canonical RRset helpers of providers/registry.c, the PowerDNS
 * adapter's JSON building and parsing and TXT quoting, and the adapters' config checks. No
 * network. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "powerdns.h"
#include "provider.h"

static void set_values(
    struct mx_rrset *s, const char *name, uint16_t type, uint32_t ttl, const char *const *values)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->ttl = ttl;
	for (size_t i = 0; values[i]; i++)
		CHECK_INT(prov_rrset_add(s, values[i], NULL), MX_OK);
}

static void test_rrset_helpers(void)
{
	const char *mx[] = {"20 b.example", "0 a.example", NULL};
	const char *mx_sorted[] = {"0 a.example", "20 b.example", NULL};
	struct mx_rrset a, b, c = {0}, none = {0};
	char *text, value[64], host[64];
	unsigned pref;

	set_values(&a, "contoso.com", DNS_T_MX, 3600, mx);
	set_values(&b, "Contoso.COM", DNS_T_MX, 3600, mx_sorted);
	CHECK(!prov_rrset_equal(&a, &b, false)); /* not sorted yet */
	prov_rrset_sort(&a);
	CHECK_STR(a.values[0], "0 a.example");
	CHECK_STR(a.values[1], "20 b.example");
	CHECK(prov_rrset_equal(&a, &b, true)); /* names compare without case */
	b.ttl = 30;
	CHECK(!prov_rrset_equal(&a, &b, true));
	CHECK(prov_rrset_equal(&a, &b, false));
	b.type = DNS_T_TXT;
	CHECK(!prov_rrset_equal(&a, &b, false));

	CHECK_INT(prov_rrset_copy(&c, &a, NULL), MX_OK);
	CHECK(prov_rrset_equal(&a, &c, true));
	CHECK(c.values != a.values && c.values[0] != a.values[0]);
	text = prov_rrset_text(&c);
	CHECK_STR(text, "0 a.example, 20 b.example (TTL 3600)");
	free(text);

	/* Empty RRsets are equal whatever their TTL. */
	snprintf(none.name, sizeof(none.name), "contoso.com");
	none.type = DNS_T_MX;
	text = prov_rrset_text(&none);
	CHECK_STR(text, "(none)");
	free(text);
	c.ttl = 0;
	prov_rrset_clear(&c);
	CHECK_INT(c.n, 0);
	CHECK(c.values == NULL);
	c.ttl = 99;
	CHECK(prov_rrset_equal(&c, &none, true));
	prov_rrset_clear(&c);

	{
		const char *txt[] = {"v=STSv1; id=1;", NULL};

		set_values(&c, "_mta-sts.contoso.com", DNS_T_TXT, 300, txt);
		text = prov_rrset_text(&c);
		CHECK_STR(text, "\"v=STSv1; id=1;\" (TTL 300)");
		free(text);
		prov_rrset_clear(&c);
	}

	CHECK_INT(
	    prov_mx_value(10, "Contoso-COM.mail.protection.outlook.com.", value, sizeof(value)),
	    MX_OK);
	CHECK_STR(value, "10 contoso-com.mail.protection.outlook.com");
	CHECK_INT(prov_mx_value(0, "x.mx.microsoft", value, sizeof(value)), MX_OK);
	CHECK_STR(value, "0 x.mx.microsoft");
	CHECK_INT(prov_mx_value(0, "a-very-long-host.example", value, 8), MX_EINVAL);
	{
		/* A DNS name: at most 253 characters, labels of at most 63. */
		char nm[300], big[700];

		memset(nm, 'a', 63);
		strcpy(nm + 63, ".example");
		CHECK_INT(prov_mx_value(0, nm, big, sizeof(big)), MX_OK);
		memset(nm, 'a', 64);
		strcpy(nm + 64, ".example");
		CHECK_INT(prov_mx_value(0, nm, big, sizeof(big)), MX_EINVAL);
		for (int i = 0; i < 4; i++)
			memcpy(nm + 64 * i,
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 64);
		nm[253] = '\0';
		CHECK_INT(prov_mx_value(0, nm, big, sizeof(big)), MX_OK);
		nm[253] = 'a';
		nm[254] = '\0';
		CHECK_INT(prov_mx_value(0, nm, big, sizeof(big)), MX_EINVAL);
	}

	CHECK(prov_mx_parse("20 x.mx.microsoft", &pref, host, sizeof(host)));
	CHECK_INT(pref, 20);
	CHECK_STR(host, "x.mx.microsoft");
	CHECK(!prov_mx_parse("x.mx.microsoft", &pref, host, sizeof(host)));
	CHECK(!prov_mx_parse("70000 x.example", &pref, host, sizeof(host)));
	CHECK(!prov_mx_parse("10 ", &pref, host, sizeof(host)));
	CHECK(!prov_mx_parse("", &pref, host, sizeof(host)));

	prov_rrset_clear(&a);
	prov_rrset_clear(&b);
}

static void test_txt_quoting(void)
{
	char text[600], *q, *u;

	q = pdns_txt_quote("v=STSv1; id=20260101T000000;");
	CHECK_STR(q, "\"v=STSv1; id=20260101T000000;\"");
	free(q);
	q = pdns_txt_quote("");
	CHECK_STR(q, "\"\"");
	free(q);
	q = pdns_txt_quote("say \"hi\" \\ o\tk \xc3\xa9");
	CHECK_STR(q, "\"say \\\"hi\\\" \\\\ o\\009k \\195\\169\"");
	u = q ? pdns_txt_unquote(q) : NULL;
	CHECK_STR(u, "say \"hi\" \\ o\tk \xc3\xa9");
	free(u);
	free(q);

	/* 300 bytes: two character-strings, 255 + 45. */
	memset(text, 'x', 300);
	text[300] = 0;
	q = pdns_txt_quote(text);
	CHECK(q != NULL);
	if (q) {
		CHECK_INT(strlen(q), 255 + 2 + 1 + 45 + 2);
		CHECK(q[0] == '"' && q[256] == '"' && q[257] == ' ' && q[258] == '"');
		u = pdns_txt_unquote(q);
		CHECK_STR(u, text);
		free(u);
	}
	free(q);
	/* Exactly 255 bytes stay one string; 510 are two. */
	text[255] = 0;
	q = pdns_txt_quote(text);
	CHECK(q && strlen(q) == 257);
	free(q);
	memset(text, 'y', 510);
	text[510] = 0;
	q = pdns_txt_quote(text);
	CHECK(q && strlen(q) == 2 * 257 + 1);
	free(q);

	/* PowerDNS's own forms. */
	u = pdns_txt_unquote("\"v=spf1 include:spf.protection.outlook.com\" \" -all\"");
	CHECK_STR(u, "v=spf1 include:spf.protection.outlook.com -all");
	free(u);
	u = pdns_txt_unquote("bare\\032token");
	CHECK_STR(u, "bare token");
	free(u);
	u = pdns_txt_unquote("\"\"");
	CHECK_STR(u, "");
	free(u);
	CHECK(pdns_txt_unquote("\"unterminated") == NULL);
	CHECK(pdns_txt_unquote("\"nul \\000\"") == NULL);
	CHECK(pdns_txt_unquote("\"short \\12\"") == NULL);
	CHECK(pdns_txt_unquote("\"trailing \\") == NULL);
	CHECK(pdns_txt_unquote("\"big \\999\"") == NULL);
}

static void test_content(void)
{
	char *v;

	v = pdns_content_to_value(DNS_T_MX, "10 Contoso-COM.mail.protection.outlook.com.");
	CHECK_STR(v, "10 contoso-com.mail.protection.outlook.com");
	free(v);
	CHECK(pdns_content_to_value(DNS_T_MX, "ten host.example.") == NULL);
	CHECK(pdns_content_to_value(DNS_T_MX, "10 a. b.") == NULL);
	CHECK(pdns_content_to_value(DNS_T_A, "192.0.2.1") == NULL);
	v = pdns_content_to_value(DNS_T_TXT, "\"v=STSv1; id=1;\"");
	CHECK_STR(v, "v=STSv1; id=1;");
	free(v);

	v = pdns_value_to_content(DNS_T_MX, "0 x.mx.microsoft");
	CHECK_STR(v, "0 x.mx.microsoft.");
	free(v);
	v = pdns_value_to_content(DNS_T_MX, "0 x.mx.microsoft.");
	CHECK_STR(v, "0 x.mx.microsoft.");
	free(v);
	CHECK(pdns_value_to_content(DNS_T_MX, "x.mx.microsoft") == NULL);
	v = pdns_value_to_content(DNS_T_TXT, "a\"b");
	CHECK_STR(v, "\"a\\\"b\"");
	free(v);
	CHECK_STR(pdns_type_name(DNS_T_MX), "MX");
	CHECK_STR(pdns_type_name(DNS_T_TXT), "TXT");
	CHECK(pdns_type_name(DNS_T_A) == NULL);
}

static void test_zone_id(void)
{
	struct mx_err err = {0};
	char *id = NULL;

	CHECK_INT(pdns_zone_id_parse("[{\"name\":\"other.com.\",\"id\":\"other.com.\"},"
				     "{\"name\":\"Contoso.com.\",\"id\":\"Contoso.com.\","
				     "\"kind\":\"Native\"}]",
		      "contoso.com", &id, &err),
	    MX_OK);
	CHECK_STR(id, "Contoso.com.");
	free(id);
	CHECK_INT(pdns_zone_id_parse("[]", "contoso.com", &id, &err), MX_OK);
	CHECK(id == NULL);
	/* A sub-zone or a longer name is not the zone. */
	CHECK_INT(pdns_zone_id_parse("[{\"name\":\"contoso.com.au.\",\"id\":\"x\"},"
				     "{\"name\":\"sub.contoso.com.\",\"id\":\"y\"}]",
		      "contoso.com", &id, &err),
	    MX_OK);
	CHECK(id == NULL);
	CHECK_INT(pdns_zone_id_parse("{\"error\":\"x\"}", "contoso.com", &id, &err), MX_EPROVIDER);
	CHECK_INT(pdns_zone_id_parse("<html>", "contoso.com", &id, &err), MX_EPROVIDER);
	CHECK_INT(pdns_zone_id_parse(NULL, "contoso.com", &id, &err), MX_EPROVIDER);
}

static const char zone_json[] =
    "{\"id\":\"contoso.com.\",\"name\":\"contoso.com.\",\"rrsets\":["
    "{\"name\":\"contoso.com.\",\"type\":\"SOA\",\"ttl\":3600,\"records\":[{\"content\":"
    "\"ns1.contoso.com. h.contoso.com. 1 3600 600 604800 300\",\"disabled\":false}]},"
    "{\"name\":\"contoso.com.\",\"type\":\"MX\",\"ttl\":3600,\"records\":["
    "{\"content\":\"20 X.mx.microsoft.\",\"disabled\":false},"
    "{\"content\":\"0 contoso-com.mail.protection.outlook.com.\",\"disabled\":false},"
    "{\"content\":\"5 disabled.example.\",\"disabled\":true}],\"comments\":[]},"
    "{\"name\":\"www.contoso.com.\",\"type\":\"MX\",\"ttl\":60,\"records\":["
    "{\"content\":\"0 other.example.\",\"disabled\":false}]},"
    "{\"name\":\"_mta-sts.contoso.com.\",\"type\":\"TXT\",\"ttl\":300,\"records\":["
    "{\"content\":\"\\\"v=STSv1; \\\" \\\"id=1;\\\"\",\"disabled\":false}]}]}";

static void test_rrset_parse(void)
{
	struct mx_err err = {0};
	struct mx_rrset s;

	CHECK_INT(pdns_rrset_parse(zone_json, "contoso.com", DNS_T_MX, &s, &err), MX_OK);
	CHECK_STR(s.name, "contoso.com");
	CHECK_INT(s.type, DNS_T_MX);
	CHECK_INT(s.ttl, 3600);
	CHECK_INT(s.n, 2);
	if (s.n == 2) {
		CHECK_STR(s.values[0], "0 contoso-com.mail.protection.outlook.com");
		CHECK_STR(s.values[1], "20 x.mx.microsoft");
	}
	prov_rrset_clear(&s);

	CHECK_INT(pdns_rrset_parse(zone_json, "_mta-sts.contoso.com", DNS_T_TXT, &s, &err), MX_OK);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.ttl, 300);
	if (s.n == 1)
		CHECK_STR(s.values[0], "v=STSv1; id=1;");
	prov_rrset_clear(&s);

	CHECK_INT(pdns_rrset_parse(zone_json, "_mta-sts.contoso.com", DNS_T_MX, &s, &err), MX_OK);
	CHECK_INT(s.n, 0);
	CHECK_INT(pdns_rrset_parse(zone_json, "contoso.com", DNS_T_A, &s, &err), MX_EPROVIDER);
	CHECK_INT(pdns_rrset_parse("[]", "contoso.com", DNS_T_MX, &s, &err), MX_EPROVIDER);
	CHECK_INT(pdns_rrset_parse("not json", "contoso.com", DNS_T_MX, &s, &err), MX_EPROVIDER);
	CHECK_INT(pdns_rrset_parse("{\"rrsets\":[{\"name\":\"contoso.com.\",\"type\":\"MX\","
				   "\"ttl\":1,\"records\":[{\"content\":\"bogus\"}]}]}",
		      "contoso.com", DNS_T_MX, &s, &err),
	    MX_EPROVIDER);
	CHECK(strstr(err.msg, "bogus") != NULL);
	CHECK_INT(s.n, 0);
}

/* The one rrset of the PATCH body pdns_patch_body_kept makes for NAME MX VALUES at TTL,
 * keeping *off; *root owns it (json_decref). */
static json_t *kept_patch(const char *name, const char *const *values, uint32_t ttl,
    const struct mx_rrset *off, json_t **root)
{
	struct mx_err err = {0};
	struct mx_rrset want;
	char *body;

	set_values(&want, name, DNS_T_MX, ttl, values);
	body = pdns_patch_body_kept(&want, off, &err);
	CHECK(body != NULL);
	*root = json_loads(body ? body : "", 0, NULL);
	free(body);
	prov_rrset_clear(&want);
	return json_array_get(json_object_get(*root, "rrsets"), 0);
}

/* Disabled records are kept apart, and every write sends them back: a REPLACE beside the
 * records served, a REPLACE by them alone where the RRset would have been deleted. */
static void test_disabled_kept(void)
{
	const char *mx[] = {
	    "0 contoso-com.mail.protection.outlook.com", "5 disabled.example", NULL};
	const char *mx1[] = {"0 contoso-com.mail.protection.outlook.com", NULL};
	const char *none[] = {NULL};
	struct mx_err err = {0};
	struct mx_rrset s, off;
	json_t *root, *set, *recs;

	CHECK_INT(pdns_rrset_parse_kept(zone_json, "contoso.com", DNS_T_MX, &s, &off, &err), MX_OK);
	CHECK_INT(s.n, 2);
	CHECK_INT(off.n, 1);
	CHECK_INT(off.ttl, 3600);
	CHECK_STR(off.name, "contoso.com");
	if (off.n == 1)
		CHECK_STR(off.values[0], "5 disabled.example");
	prov_rrset_clear(&s);

	/* Beside the records served; a value served is not sent twice. */
	set = kept_patch("contoso.com", mx, 30, &off, &root);
	recs = json_object_get(set, "records");
	CHECK_INT(json_array_size(recs), 2);
	CHECK(json_is_false(json_object_get(json_array_get(recs, 1), "disabled")));
	json_decref(root);

	set = kept_patch("contoso.com", mx1, 30, &off, &root);
	recs = json_object_get(set, "records");
	CHECK_INT(json_array_size(recs), 2);
	CHECK_INT(json_integer_value(json_object_get(set, "ttl")), 30);
	CHECK_STR(json_string_value(json_object_get(json_array_get(recs, 1), "content")),
	    "5 disabled.example.");
	CHECK(json_is_true(json_object_get(json_array_get(recs, 1), "disabled")));
	json_decref(root);

	/* Nothing left to serve: the disabled records stay, at their TTL, instead of a DELETE. */
	set = kept_patch("contoso.com", none, 30, &off, &root);
	CHECK_STR(json_string_value(json_object_get(set, "changetype")), "REPLACE");
	CHECK_INT(json_integer_value(json_object_get(set, "ttl")), 3600);
	CHECK_INT(json_array_size(json_object_get(set, "records")), 1);
	json_decref(root);

	/* Another RRset's disabled records are not this one's. */
	set = kept_patch("www.contoso.com", none, 30, &off, &root);
	CHECK_STR(json_string_value(json_object_get(set, "changetype")), "DELETE");
	json_decref(root);
	prov_rrset_clear(&off);
}

static void test_patch_body(void)
{
	const char *mx[] = {"0 a.example", "20 x.mx.microsoft", NULL};
	const char *txt[] = {"v=STSv1; id=\"2\";", NULL};
	struct mx_err err = {0};
	struct mx_rrset s;
	json_t *root, *set, *recs;
	char *body;

	set_values(&s, "contoso.com", DNS_T_MX, 30, mx);
	body = pdns_patch_body(&s, &err);
	CHECK(body != NULL);
	root = json_loads(body ? body : "", 0, NULL);
	set = json_array_get(json_object_get(root, "rrsets"), 0);
	CHECK_INT(json_array_size(json_object_get(root, "rrsets")), 1);
	CHECK_STR(json_string_value(json_object_get(set, "name")), "contoso.com.");
	CHECK_STR(json_string_value(json_object_get(set, "type")), "MX");
	CHECK_STR(json_string_value(json_object_get(set, "changetype")), "REPLACE");
	CHECK_INT(json_integer_value(json_object_get(set, "ttl")), 30);
	recs = json_object_get(set, "records");
	CHECK_INT(json_array_size(recs), 2);
	CHECK_STR(
	    json_string_value(json_object_get(json_array_get(recs, 0), "content")), "0 a.example.");
	CHECK_STR(json_string_value(json_object_get(json_array_get(recs, 1), "content")),
	    "20 x.mx.microsoft.");
	CHECK(json_is_false(json_object_get(json_array_get(recs, 1), "disabled")));
	json_decref(root);
	free(body);
	prov_rrset_clear(&s);

	set_values(&s, "_mta-sts.contoso.com", DNS_T_TXT, 300, txt);
	body = pdns_patch_body(&s, &err);
	root = json_loads(body ? body : "", 0, NULL);
	set = json_array_get(json_object_get(root, "rrsets"), 0);
	recs = json_object_get(set, "records");
	CHECK_STR(json_string_value(json_object_get(json_array_get(recs, 0), "content")),
	    "\"v=STSv1; id=\\\"2\\\";\"");
	json_decref(root);
	free(body);
	prov_rrset_clear(&s);

	/* An empty RRset deletes. */
	set_values(&s, "_mta-sts.contoso.com", DNS_T_TXT, 300, (const char *[]){NULL});
	body = pdns_patch_body(&s, &err);
	root = json_loads(body ? body : "", 0, NULL);
	set = json_array_get(json_object_get(root, "rrsets"), 0);
	CHECK_STR(json_string_value(json_object_get(set, "changetype")), "DELETE");
	CHECK_STR(json_string_value(json_object_get(set, "name")), "_mta-sts.contoso.com.");
	CHECK(json_object_get(set, "records") == NULL);
	json_decref(root);
	free(body);

	/* Malformed values and types are refused. */
	set_values(&s, "contoso.com", DNS_T_MX, 30, (const char *[]){"no-preference", NULL});
	CHECK(pdns_patch_body(&s, &err) == NULL);
	CHECK_INT(err.rc, MX_EINVAL);
	prov_rrset_clear(&s);
	s.type = DNS_T_A;
	CHECK(pdns_patch_body(&s, &err) == NULL);

	body = pdns_error_text("{\"error\":\"RRset contoso.com. IN MX: Conflicts\"}");
	CHECK_STR(body, "RRset contoso.com. IN MX: Conflicts");
	free(body);
	CHECK(pdns_error_text("<html>") == NULL);
	CHECK(pdns_error_text(NULL) == NULL);
}

/* The adapters' open checks their keys; no request is made. */
static void test_open(void)
{
	char dir[] = "/tmp/unit_providers.XXXXXX", path[256];
	struct mx_conf *conf = NULL;
	struct mx_err err = {0};
	struct prov *p = NULL;
	FILE *fp;

	CHECK(prov_find("powerdns") == &prov_powerdns_ops);
	CHECK(prov_find("rfc2136") == &prov_rfc2136_ops);
	CHECK(prov_find("nope") == NULL);
	CHECK_INT(prov_powerdns_ops.caps, PROV_CAP_ATOMIC | PROV_CAP_HTTP);
	CHECK(!(prov_manual_ops.caps & PROV_CAP_HTTP));
	CHECK_INT(prov_rfc2136_ops.caps, PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_KEYED_WRITES);
	CHECK_INT(prov_powerdns_ops.min_ttl, 1);
	CHECK_INT(prov_rfc2136_ops.min_ttl, 1);

	if (!mkdtemp(dir)) {
		check_failures++;
		return;
	}
	snprintf(path, sizeof(path), "%s/mx.conf", dir);
	fp = fopen(path, "w");
	if (!fp) {
		check_failures++;
		return;
	}
	fputs("[provider.pdns]\ntype = powerdns\nurl = http://127.0.0.1:8081/api/v1/\n"
	      "api_key_env = UNIT_PROV_KEY\n"
	      "[provider.nourl]\ntype = powerdns\napi_key_env = UNIT_PROV_KEY\n"
	      "[provider.nokey]\ntype = powerdns\nurl = http://127.0.0.1:8081\n"
	      "api_key_env = UNIT_PROV_UNSET_4711\n"
	      "[provider.bind]\ntype = rfc2136\nserver = 192.0.2.53@5353\ntsig_name = k1\n"
	      "tsig_alg = hmac-sha512\ntsig_secret_env = UNIT_PROV_TSIG\n"
	      "[provider.bind6]\ntype = rfc2136\nserver = [2001:db8::53]@53\ntsig_name = k1.\n"
	      "tsig_secret_env = UNIT_PROV_TSIG\n"
	      "[provider.badserver]\ntype = rfc2136\nserver = ns1.example\ntsig_name = k1\n"
	      "tsig_secret_env = UNIT_PROV_TSIG\n"
	      "[provider.badport]\ntype = rfc2136\nserver = 192.0.2.53@99999\ntsig_name = k1\n"
	      "tsig_secret_env = UNIT_PROV_TSIG\n"
	      "[provider.badalg]\ntype = rfc2136\nserver = 192.0.2.53\ntsig_name = k1\n"
	      "tsig_alg = hmac-sha3\ntsig_secret_env = UNIT_PROV_TSIG\n"
	      "[provider.badsecret]\ntype = rfc2136\nserver = 192.0.2.53\ntsig_name = k1\n"
	      "tsig_secret_env = UNIT_PROV_BADTSIG\n"
	      "[provider.nosecret]\ntype = rfc2136\nserver = 192.0.2.53\ntsig_name = k1\n"
	      "[provider.noname]\ntype = rfc2136\nserver = 192.0.2.53\n"
	      "tsig_secret_env = UNIT_PROV_TSIG\n"
	      "[provider.unsigned]\ntype = rfc2136\nserver = 192.0.2.53\n",
	    fp);
	fclose(fp);
	setenv("UNIT_PROV_KEY", "unit-secret-key", 1);
	setenv("UNIT_PROV_TSIG", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=", 1);
	setenv("UNIT_PROV_BADTSIG", "not base64!", 1);
	unsetenv("UNIT_PROV_UNSET_4711");
	if (mx_conf_load(path, true, &conf, &err) != MX_OK) {
		fprintf(stderr, "mx_conf_load: %s\n", err.msg);
		check_failures++;
		goto out;
	}
#define OPEN(name, want)                                                                           \
	do {                                                                                       \
		p = NULL;                                                                          \
		CHECK_INT(prov_open(conf, name, "contoso.com", NULL, NULL, &p, &err), want);       \
		if ((want) != MX_OK)                                                               \
			printf("  %s: %s\n", name, err.msg);                                       \
		CHECK(strstr(err.msg, "unit-secret-key") == NULL);                                 \
		CHECK(strstr(err.msg, "c2VjcmV0") == NULL);                                        \
		prov_close(p);                                                                     \
		memset(&err, 0, sizeof(err));                                                      \
	} while (0)
	OPEN("pdns", MX_OK);
	OPEN("nourl", MX_EINVAL);
	CHECK(prov_open(conf, "nokey", "contoso.com", NULL, NULL, &p, &err) != MX_OK);
	CHECK(strstr(err.msg, "UNIT_PROV_UNSET_4711") != NULL);
	OPEN("bind", MX_OK);
	OPEN("bind6", MX_OK);
	OPEN("unsigned", MX_OK);
	OPEN("badserver", MX_EINVAL);
	OPEN("badport", MX_EINVAL);
	OPEN("badalg", MX_EINVAL);
	OPEN("badsecret", MX_EINVAL);
	OPEN("noname", MX_EINVAL);
	p = NULL;
	CHECK(prov_open(conf, "nosecret", "contoso.com", NULL, NULL, &p, &err) != MX_OK);
	CHECK(p == NULL);
#undef OPEN
	/* Names outside the zone and types the adapters do not handle are refused before any
	 * request. */
	p = NULL;
	if (prov_open(conf, "pdns", "contoso.com", NULL, NULL, &p, &err) == MX_OK) {
		struct mx_rrset out = {0};
		const char *mx[] = {"0 a.example", NULL};
		struct mx_rrset want;

		CHECK_INT(p->ops->read_rrset(p, "contoso.com.au", DNS_T_MX, &out, &err), MX_EINVAL);
		CHECK_INT(p->ops->read_rrset(p, "xcontoso.com", DNS_T_MX, &out, &err), MX_EINVAL);
		CHECK_INT(p->ops->read_rrset(p, "contoso.com", DNS_T_A, &out, &err), MX_EINVAL);
		set_values(&want, "contoso.com", DNS_T_MX, 0, mx);
		CHECK_INT(p->ops->replace_rrset(p, NULL, &want, &err), MX_EINVAL);
		prov_rrset_clear(&want);
		prov_close(p);
	}
out:
	mx_conf_free(conf);
	unlink(path);
	rmdir(dir);
}

/* The wait a 429 or a 503 asks for: delta-seconds only, bounded; nothing else counts. */
static void test_retry_after(void)
{
	CHECK_INT(pdns_retry_after(429, "5"), 5);
	CHECK_INT(pdns_retry_after(503, " 30 "), 30);
	CHECK_INT(pdns_retry_after(429, "0"), 0);
	CHECK_INT(pdns_retry_after(429, NULL), 0);
	CHECK_INT(pdns_retry_after(429, ""), 0);
	CHECK_INT(pdns_retry_after(429, "-3"), 0);
	CHECK_INT(pdns_retry_after(429, "5s"), 0);
	CHECK_INT(pdns_retry_after(429, "Fri, 04 Dec 2026 08:00:00 GMT"), 0);
	CHECK_INT(pdns_retry_after(429, "99999999999999999999"), PDNS_MAX_RETRY_AFTER);
	CHECK_INT(pdns_retry_after(500, "5"), 0);
	CHECK_INT(pdns_retry_after(200, "5"), 0);
}

/* A change the API accepted but does not list yet: reads of that RRset are a passing
 * failure until one shows it; other RRsets read as usual; after PROV_SETTLE_MAX the reader
 * sees what is there. */
static void test_settle(void)
{
	struct prov p;
	struct mx_rrset want = {.name = "contoso.test", .type = DNS_T_MX, .ttl = 30};
	struct mx_rrset old = {.name = "contoso.test", .type = DNS_T_MX, .ttl = 30};
	struct mx_err err;

	memset(&p, 0, sizeof(p));
	p.no_wait = true;
	CHECK(!prov_rrset_add(&want, "0 contoso-test.x.mx.microsoft", NULL));
	CHECK(!prov_rrset_add(&old, "0 contoso-test.mail.protection.outlook.com", NULL));
	CHECK(!prov_settle_pending(&p, "contoso.test", DNS_T_MX));
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_MX, &old, "x: the API", &err) == MX_OK);

	memset(&err, 0, sizeof(err));
	CHECK(prov_settle_wait(&p, &want, "x: the API", &err) == MX_EPROVIDER);
	CHECK(err.transient);
	CHECK(
	    strstr(err.msg, "x: the API accepted the change to the MX records of contoso.test but "
			    "does not list it yet") != NULL);
	CHECK(prov_settle_pending(&p, "CONTOSO.test", DNS_T_MX));
	CHECK(!prov_settle_pending(&p, "contoso.test", DNS_T_TXT));
	CHECK(!prov_settle_pending(&p, "_mta-sts.contoso.test", DNS_T_MX));
	/* Other RRsets are not held back. */
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_TXT, &old, "x: the API", &err) == MX_OK);
	/* The old records again: still pending, a passing failure. */
	memset(&err, 0, sizeof(err));
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_MX, &old, "x: the API", &err) ==
	      MX_EPROVIDER);
	CHECK(err.transient && prov_settle_pending(&p, "contoso.test", DNS_T_MX));
	/* A different TTL is not the change either. */
	want.ttl = 60;
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_MX, &want, "x: the API", &err) ==
	      MX_EPROVIDER);
	want.ttl = 30;
	/* Listed: forgotten. */
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_MX, &want, "x: the API", &err) == MX_OK);
	CHECK(!prov_settle_pending(&p, "contoso.test", DNS_T_MX));
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_MX, &old, "x: the API", &err) == MX_OK);
	/* Never listed: after PROV_SETTLE_MAX the reader sees what is there. */
	CHECK(prov_settle_wait(&p, &want, "x: the API", &err) == MX_EPROVIDER);
	p.settle.since -= PROV_SETTLE_MAX + 1;
	CHECK(prov_settle_check(&p, "contoso.test", DNS_T_MX, &old, "x: the API", &err) == MX_OK);
	CHECK(!prov_settle_pending(&p, "contoso.test", DNS_T_MX));
	/* A pending change is freed with the adapter (prov_close frees p->settle). */
	CHECK(prov_settle_wait(&p, &want, "x: the API", &err) == MX_EPROVIDER);
	prov_rrset_clear(&p.settle.want);
	prov_rrset_clear(&want);
	prov_rrset_clear(&old);
}

int main(void)
{
	test_rrset_helpers();
	test_txt_quoting();
	test_content();
	test_zone_id();
	test_rrset_parse();
	test_disabled_kept();
	test_patch_body();
	test_open();
	test_retry_after();
	test_settle();
	return CHECK_DONE();
}
