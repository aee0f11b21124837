/* SPDX-License-Identifier: MIT */
/* tests/unit_cloudflare_azure.c — the Cloudflare and Azure adapters' pure parts: JSON
 * parsing and building, Cloudflare's per-record change plan, every error mapping (the
 * message names the provider, the HTTP status and the fix), the request budget, and the
 * config checks of open. No network. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azure.h"
#include "check.h"
#include "cloudflare.h"
#include "provider.h"

#define CHECK_HAS(hay, needle)                                                                     \
	do {                                                                                       \
		if (!strstr((hay), (needle))) {                                                    \
			fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, (hay), \
			    (needle));                                                             \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

static void set_values(
    struct mx_rrset *s, const char *name, uint16_t type, uint32_t ttl, const char *const *values)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->ttl = ttl;
	for (size_t i = 0; values[i]; i++)
		CHECK_INT(prov_rrset_add(s, values[i], NULL), MX_OK);
	prov_rrset_sort(s);
}

/* ------------------------------------------------------------------ Cloudflare */

static const char cf_page1[] =
    "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":["
    "{\"id\":\"r1\",\"type\":\"MX\",\"name\":\"contoso.com\",\"content\":\"Contoso-com.mail."
    "protection.outlook.com\",\"priority\":0,\"ttl\":1,\"proxied\":false},"
    "{\"id\":\"r2\",\"type\":\"MX\",\"name\":\"contoso.com\",\"content\":\"x.mx.microsoft\","
    "\"priority\":20,\"ttl\":3600},"
    "{\"id\":\"r3\",\"type\":\"MX\",\"name\":\"sub.contoso.com\",\"content\":\"y.example\","
    "\"priority\":5,\"ttl\":60}],"
    "\"result_info\":{\"page\":1,\"per_page\":3,\"count\":3,\"total_count\":5,"
    "\"total_pages\":2}}";

static void test_cf_parse(void)
{
	struct cf_records recs = {0};
	struct mx_rrset set;
	struct mx_err err = {0};
	char *id = NULL;
	int pages = 0;

	CHECK_INT(cf_zone_id_parse("{\"success\":true,\"result\":[{\"id\":\"abc123\",\"name\":"
				   "\"Contoso.com\"}],\"result_info\":{}}",
		      "contoso.com", &id, &err),
	    MX_OK);
	CHECK_STR(id, "abc123");
	free(id);
	CHECK_INT(
	    cf_zone_id_parse("{\"success\":true,\"result\":[]}", "contoso.com", &id, &err), MX_OK);
	CHECK(id == NULL);
	CHECK_INT(cf_zone_id_parse("<html>", "contoso.com", &id, &err), MX_EPROVIDER);
	CHECK_HAS(err.msg, "cloudflare:");
	CHECK_INT(cf_zone_id_parse("{\"success\":false,\"errors\":[]}", "contoso.com", &id, &err),
	    MX_EPROVIDER);

	CHECK_INT(cf_records_parse(cf_page1, "contoso.com", DNS_T_MX, &recs, &pages, &err), MX_OK);
	CHECK_INT(pages, 2);
	CHECK_INT(recs.n, 2); /* sub.contoso.com is another name */
	CHECK_STR(recs.v[0].value, "0 contoso-com.mail.protection.outlook.com");
	CHECK_INT(recs.v[0].ttl, 1);
	CHECK_STR(recs.v[1].id, "r2");
	CHECK_INT(cf_records_rrset(&recs, "contoso.com", DNS_T_MX, &set, &err), MX_OK);
	CHECK_INT(set.n, 2);
	CHECK_INT(set.ttl, 300); /* automatic reads as 300, the smaller one */
	CHECK_STR(set.values[0], "0 contoso-com.mail.protection.outlook.com");
	prov_rrset_clear(&set);
	cf_records_clear(&recs);
	CHECK_INT(cf_ttl_effective(1), 300);
	CHECK_INT(cf_ttl_effective(60), 60);

	/* TXT: quoted (current API) and bare (older records) content. */
	CHECK_INT(
	    cf_records_parse("{\"success\":true,\"result\":["
			     "{\"id\":\"t1\",\"type\":\"TXT\",\"name\":\"_mta-sts.contoso.com\","
			     "\"content\":\"\\\"v=STSv1; id=1\\\"\",\"ttl\":300},"
			     "{\"id\":\"t2\",\"type\":\"TXT\",\"name\":\"_mta-sts.contoso.com\","
			     "\"content\":\"v=STSv1; id=2\",\"ttl\":300}]}",
		"_mta-sts.contoso.com", DNS_T_TXT, &recs, &pages, &err),
	    MX_OK);
	CHECK_INT(pages, 1);
	CHECK_INT(recs.n, 2);
	CHECK_STR(recs.v[0].value, "v=STSv1; id=1");
	CHECK_STR(recs.v[1].value, "v=STSv1; id=2");
	cf_records_clear(&recs);

	/* An MX without priority cannot be read: say which record. */
	CHECK_INT(
	    cf_records_parse("{\"success\":true,\"result\":[{\"id\":\"bad1\",\"type\":\"MX\","
			     "\"name\":\"contoso.com\",\"content\":\"a.example\",\"ttl\":1}]}",
		"contoso.com", DNS_T_MX, &recs, &pages, &err),
	    MX_EPROVIDER);
	CHECK_HAS(err.msg, "bad1");
	cf_records_clear(&recs);
}

static void test_cf_body(void)
{
	struct mx_err err = {0};
	char *body = cf_record_body("contoso.com", DNS_T_MX, "20 x.mx.microsoft", 60, &err);
	json_t *j = json_loads(body ? body : "", 0, NULL);

	CHECK_STR(json_string_value(json_object_get(j, "type")), "MX");
	CHECK_STR(json_string_value(json_object_get(j, "name")), "contoso.com");
	CHECK_STR(json_string_value(json_object_get(j, "content")), "x.mx.microsoft");
	CHECK_INT(json_integer_value(json_object_get(j, "priority")), 20);
	CHECK_INT(json_integer_value(json_object_get(j, "ttl")), 60);
	json_decref(j);
	free(body);

	body = cf_record_body("_mta-sts.contoso.com", DNS_T_TXT, "v=STSv1; id=\"x\"", 300, &err);
	j = json_loads(body ? body : "", 0, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "content")), "\"v=STSv1; id=\\\"x\\\"\"");
	CHECK(json_object_get(j, "priority") == NULL);
	json_decref(j);
	free(body);

	CHECK(cf_record_body("contoso.com", DNS_T_MX, "x.example", 60, &err) == NULL);
	CHECK_INT(err.rc, MX_EINVAL);
	CHECK_HAS(err.msg, "cloudflare:");
}

static void add_rec(struct cf_records *r, const char *id, const char *value, uint32_t ttl)
{
	r->v = realloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n].id = strdup(id);
	r->v[r->n].value = strdup(value);
	r->v[r->n].ttl = ttl;
	r->n++;
}

/* The plan as "C value|U id value|D id" lines joined by ';'. */
static char *plan_text(const struct cf_records *cur, const struct mx_rrset *want)
{
	struct cf_op *ops = NULL;
	size_t n = 0, len = 0;
	char *out = NULL;
	FILE *fp = open_memstream(&out, &len);

	CHECK_INT(cf_plan(cur, want, &ops, &n, NULL), MX_OK);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind == CF_OP_CREATE)
			fprintf(fp, "%sC %s", i ? ";" : "", ops[i].value);
		else if (ops[i].kind == CF_OP_UPDATE)
			fprintf(fp, "%sU %s %s", i ? ";" : "", ops[i].id, ops[i].value);
		else
			fprintf(fp, "%sD %s", i ? ";" : "", ops[i].id);
	}
	fclose(fp);
	free(ops);
	return out;
}

static void test_cf_plan(void)
{
	const char *legacy[] = {"0 l.outlook.test", NULL};
	const char *added[] = {"0 l.outlook.test", "20 t.mx.test", NULL};
	const char *swapped[] = {"30 l.outlook.test", "0 t.mx.test", NULL};
	const char *final[] = {"0 t.mx.test", NULL};
	const char *rolled[] = {"0 l.outlook.test", "30 t.mx.test", NULL};
	const char *sts[] = {"v=STSv1; id=2", NULL};
	const char *none[] = {NULL};
	struct cf_records cur = {0};
	struct mx_rrset want;
	char *t;

	/* lower_ttl: the record is updated in place. */
	add_rec(&cur, "r1", "0 l.outlook.test", 3600);
	set_values(&want, "contoso.com", DNS_T_MX, legacy[0] ? 60 : 0, legacy);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "U r1 0 l.outlook.test");
	free(t);
	prov_rrset_clear(&want);
	/* Nothing to do when the zone already holds want; TTL 1 (auto) is right for 300. */
	cur.v[0].ttl = 1;
	set_values(&want, "contoso.com", DNS_T_MX, 300, legacy);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "");
	free(t);
	prov_rrset_clear(&want);
	/* add_target: one create. */
	cur.v[0].ttl = 60;
	set_values(&want, "contoso.com", DNS_T_MX, 60, added);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "C 20 t.mx.test");
	free(t);
	prov_rrset_clear(&want);
	/* swap: both updated in place, each paired with its own host. */
	add_rec(&cur, "r2", "20 t.mx.test", 60);
	set_values(&want, "contoso.com", DNS_T_MX, 60, swapped);
	t = plan_text(&cur, &want);
	CHECK(t && (!strcmp(t, "U r2 0 t.mx.test;U r1 30 l.outlook.test") ||
		       !strcmp(t, "U r1 30 l.outlook.test;U r2 0 t.mx.test")));
	free(t);
	prov_rrset_clear(&want);
	/* remove_legacy: one delete, the target kept. */
	free(cur.v[0].value);
	cur.v[0].value = strdup("30 l.outlook.test");
	free(cur.v[1].value);
	cur.v[1].value = strdup("0 t.mx.test");
	set_values(&want, "contoso.com", DNS_T_MX, 60, final);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "D r1");
	free(t);
	prov_rrset_clear(&want);
	cf_records_clear(&cur);
	/* Rollback from {0 t}: legacy created before anything is deleted or demoted. */
	add_rec(&cur, "r2", "0 t.mx.test", 3600);
	set_values(&want, "contoso.com", DNS_T_MX, 60, rolled);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "C 0 l.outlook.test;U r2 30 t.mx.test");
	free(t);
	prov_rrset_clear(&want);
	/* A different host replaces the only record: creates come before deletes. */
	set_values(&want, "contoso.com", DNS_T_MX, 3600, legacy);
	add_rec(&cur, "r3", "10 extra.example", 3600);
	t = plan_text(&cur, &want);
	CHECK(t && !strncmp(t, "U ", 2) && strstr(t, ";D "));
	free(t);
	prov_rrset_clear(&want);
	cf_records_clear(&cur);
	/* TXT: an id change is one update; deleting the RRset deletes every record. */
	add_rec(&cur, "s1", "v=STSv1; id=1", 300);
	set_values(&want, "_mta-sts.contoso.com", DNS_T_TXT, 300, sts);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "U s1 v=STSv1; id=2");
	free(t);
	prov_rrset_clear(&want);
	add_rec(&cur, "s2", "other", 300);
	set_values(&want, "_mta-sts.contoso.com", DNS_T_TXT, 300, none);
	t = plan_text(&cur, &want);
	CHECK_STR(t, "D s1;D s2");
	free(t);
	prov_rrset_clear(&want);
	cf_records_clear(&cur);
}

static void test_cf_errors(void)
{
	static const struct {
		long status;
		bool write;
		const char *body;
		int rc;
		const char *fix;
	} cases[] = {
	    {401, false,
		"{\"success\":false,\"errors\":[{\"code\":10000,\"message\":"
		"\"Authentication error\"}]}",
		MX_EAUTH, "check api_token_file/api_token_env of [provider.cf]"},
	    {403, false,
		"{\"success\":false,\"errors\":[{\"code\":9109,\"message\":\"Invalid "
		"access token\"}]}",
		MX_EAUTH, "check api_token_file/api_token_env"},
	    {400, false,
		"{\"success\":false,\"errors\":[{\"code\":6003,\"message\":\"Invalid "
		"request headers\"}]}",
		MX_EAUTH, "check api_token_file/api_token_env"},
	    {403, true, "{\"success\":false,\"errors\":[{\"code\":10000}]}", MX_EAUTH,
		"cannot edit zone contoso.com (HTTP 403); give it Zone.DNS:Edit"},
	    {403, false, "{\"success\":false,\"errors\":[{\"code\":10000}]}", MX_EAUTH,
		"give it Zone.Zone:Read"},
	    {404, false, "{}", MX_ENOZONE, "fix zone_id in [provider.cf]"},
	    {429, false, "", MX_ERATELIMIT, "wait five minutes, then resume"},
	    {500, true, "", MX_EPROVIDER, "check Cloudflare's status page"},
	    {503, false, "not json", MX_EPROVIDER, "check Cloudflare's status page"},
	    {400, true,
		"{\"success\":false,\"errors\":[{\"code\":9021,\"message\":\"Invalid "
		"TTL\"}]}",
		MX_EINVAL, "use a TTL of 60 or more"},
	    {400, true,
		"{\"success\":false,\"errors\":[{\"code\":9005,\"message\":\"Content "
		"for record is invalid.\"}]}",
		MX_EPROVIDER, "fix the records in the Cloudflare dashboard"},
	    {409, true, "", MX_EPROVIDER, "then resume"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mx_err err = {0};
		char status[32];

		CHECK_INT(cf_status_error("cf", "contoso.com", "the MX records of contoso.com",
			      cases[i].write, cases[i].status, cases[i].body, &err),
		    cases[i].rc);
		CHECK_INT(err.rc, cases[i].rc);
		CHECK_INT(err.http_status, cases[i].status);
		snprintf(status, sizeof(status), "HTTP %ld", cases[i].status);
		CHECK(!strncmp(err.msg, "cloudflare: ", 12));
		CHECK_HAS(err.msg, status);
		CHECK_HAS(err.msg, cases[i].fix);
		CHECK(strlen(err.msg) < sizeof(err.msg) - 1);
	}
}

static void test_cf_bucket(void)
{
	struct cf_bucket b = {.capacity = CF_BUDGET_REQUESTS, .period = CF_BUDGET_SECONDS};
	double wait = 0;

	/* A full bucket lets 1200 requests through at once… */
	for (int i = 0; i < CF_BUDGET_REQUESTS; i++)
		wait += cf_bucket_take(&b, 100.0);
	CHECK(wait == 0);
	/* …then one per 0.25 s (1200 per 300 s), queued behind each other. */
	CHECK(cf_bucket_take(&b, 100.0) > 0.249 && cf_bucket_take(&b, 100.0) > 0.499);
	/* Time refills it, never above capacity. */
	CHECK(cf_bucket_take(&b, 101.0) < 0.0001 + 0.0);
	CHECK(cf_bucket_take(&b, 10000.0) == 0);
	CHECK(b.tokens <= CF_BUDGET_REQUESTS - 1 + 0.0001);
}

/* ------------------------------------------------------------------ Azure */

static void test_az_parse(void)
{
	struct mx_rrset set, want;
	struct mx_err err = {0};
	char *etag = NULL, *body, *tok = NULL, *rel;
	long exp = 0;
	json_t *j, *strs;
	const char *mx[] = {"0 t.mx.test", "30 l.outlook.test", NULL};
	char longtxt[600];

	rel = az_relative_name("contoso.com", "contoso.com");
	CHECK_STR(rel, "@");
	free(rel);
	rel = az_relative_name("_mta-sts.Contoso.com", "contoso.com");
	CHECK_STR(rel, "_mta-sts");
	free(rel);
	CHECK(az_relative_name("contoso.com.au", "contoso.com") == NULL);
	CHECK(az_relative_name("xcontoso.com", "contoso.com") == NULL);

	CHECK_INT(
	    az_rrset_parse("{\"id\":\"/x\",\"name\":\"@\",\"etag\":\"e-1\",\"properties\":"
			   "{\"TTL\":3600,\"MXRecords\":[{\"preference\":10,\"exchange\":"
			   "\"L.Outlook.test.\"},{\"preference\":0,\"exchange\":\"t.mx.test\"}]}}",
		"contoso.com", DNS_T_MX, &set, &etag, &err),
	    MX_OK);
	CHECK_STR(etag, "e-1");
	CHECK_INT(set.ttl, 3600);
	CHECK_INT(set.n, 2);
	CHECK_STR(set.values[0], "0 t.mx.test");
	CHECK_STR(set.values[1], "10 l.outlook.test");
	prov_rrset_clear(&set);
	free(etag);
	CHECK_INT(az_rrset_parse("{\"etag\":\"e-2\",\"properties\":{\"TTL\":300,\"TXTRecords\":"
				 "[{\"value\":[\"v=STSv1; \",\"id=42\"]}]}}",
		      "_mta-sts.contoso.com", DNS_T_TXT, &set, &etag, &err),
	    MX_OK);
	CHECK_INT(set.n, 1);
	CHECK_STR(set.values[0], "v=STSv1; id=42");
	prov_rrset_clear(&set);
	free(etag);
	CHECK_INT(az_rrset_parse("[]", "contoso.com", DNS_T_MX, &set, &etag, &err), MX_EPROVIDER);
	CHECK_HAS(err.msg, "azure:");
	CHECK_INT(az_rrset_parse("{\"properties\":{\"TTL\":1,\"MXRecords\":[{\"preference\":1}]}}",
		      "contoso.com", DNS_T_MX, &set, &etag, &err),
	    MX_EPROVIDER);
	CHECK(set.n == 0 && etag == NULL);

	set_values(&want, "contoso.com", DNS_T_MX, 30, mx);
	body = az_rrset_body(&want, &err);
	j = json_loads(body ? body : "", 0, NULL);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "properties"), "TTL")), 30);
	strs = json_object_get(json_object_get(j, "properties"), "MXRecords");
	CHECK_INT(json_array_size(strs), 2);
	CHECK_STR(
	    json_string_value(json_object_get(json_array_get(strs, 0), "exchange")), "t.mx.test");
	CHECK_INT(json_integer_value(json_object_get(json_array_get(strs, 1), "preference")), 30);
	json_decref(j);
	free(body);
	prov_rrset_clear(&want);

	memset(longtxt, 'a', sizeof(longtxt) - 1);
	longtxt[sizeof(longtxt) - 1] = '\0';
	{
		const char *txt[] = {longtxt, NULL};

		set_values(&want, "_mta-sts.contoso.com", DNS_T_TXT, 300, txt);
	}
	body = az_rrset_body(&want, &err);
	j = json_loads(body ? body : "", 0, NULL);
	strs = json_object_get(
	    json_array_get(json_object_get(json_object_get(j, "properties"), "TXTRecords"), 0),
	    "value");
	CHECK_INT(json_array_size(strs), 3); /* 255 + 255 + 89 */
	CHECK_INT(strlen(json_string_value(json_array_get(strs, 2))), 89);
	json_decref(j);
	free(body);
	prov_rrset_clear(&want);

	CHECK_INT(az_token_parse("{\"token_type\":\"Bearer\",\"expires_in\":3599,"
				 "\"access_token\":\"eyJ0\"}",
		      &tok, &exp, &err),
	    MX_OK);
	CHECK_STR(tok, "eyJ0");
	CHECK_INT(exp, 3599);
	free(tok);
	CHECK_INT(
	    az_token_parse("{\"expires_in\":\"120\",\"access_token\":\"a\"}", &tok, &exp, &err),
	    MX_OK);
	CHECK_INT(exp, 120);
	free(tok);
	CHECK_INT(az_token_parse("{}", &tok, &exp, &err), MX_EPROVIDER);
	CHECK(tok == NULL);
}

/* A record set's metadata is read from its document and sent again with a PUT. */
static void test_az_metadata(void)
{
	const char *mx[] = {"0 t.mx.test", NULL};
	struct mx_err err = {0};
	struct mx_rrset want;
	char *meta, *body;
	json_t *j;

	meta = az_metadata_of("{\"etag\":\"e\",\"properties\":{\"TTL\":60,"
			      "\"metadata\":{\"owner\":\"mail-team\"},\"MXRecords\":[]}}");
	CHECK_STR(meta, "{\"owner\":\"mail-team\"}");
	CHECK(az_metadata_of("{\"properties\":{\"metadata\":{}}}") == NULL);
	CHECK(az_metadata_of("{\"properties\":{}}") == NULL);
	CHECK(az_metadata_of("not json") == NULL);

	set_values(&want, "contoso.com", DNS_T_MX, 30, mx);
	body = az_rrset_body_meta(&want, meta, &err);
	j = json_loads(body ? body : "", 0, NULL);
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(j, "properties"), "metadata"), "owner")),
	    "mail-team");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "properties"), "TTL")), 30);
	json_decref(j);
	free(body);
	body = az_rrset_body_meta(&want, NULL, &err);
	j = json_loads(body ? body : "", 0, NULL);
	CHECK(json_object_get(json_object_get(j, "properties"), "metadata") == NULL);
	json_decref(j);
	free(body);
	prov_rrset_clear(&want);
	free(meta);
}

static const struct az_names names = {
    "az", "contoso.com", "tenant-1", "client-1", "sub-1", "rg-dns"};

static void test_az_errors(void)
{
	static const struct {
		long status;
		const char *body;
		const char *fix;
	} tokens[] = {
	    {401,
		"{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid "
		"client secret provided.\",\"error_codes\":[7000215]}",
		"client secret of app client-1 was refused by tenant tenant-1 (HTTP 401, "
		"AADSTS7000215); create a new client secret"},
	    {401,
		"{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000222: The "
		"provided client secret keys are expired.\"}",
		"AADSTS7000222); create a new client secret"},
	    {400, "{\"error\":\"unauthorized_client\",\"error_codes\":[700016]}",
		"app client-1 was not found in tenant tenant-1 (HTTP 400, AADSTS700016); check "
		"client_id and tenant_id"},
	    {400, "{\"error\":\"invalid_request\",\"error_codes\":[90002]}",
		"tenant tenant-1 was not found (HTTP 400, AADSTS90002); check tenant_id"},
	    {500, "oops", "sign-in of app client-1 in tenant tenant-1 failed (HTTP 500"},
	};
	static const struct {
		long status;
		bool write;
		const char *body;
		int rc;
		const char *fix;
	} arm[] = {
	    {401, false, "{\"error\":{\"code\":\"InvalidAuthenticationToken\"}}", MX_EAUTH,
		"(HTTP 401 InvalidAuthenticationToken); check tenant_id"},
	    {403, true, "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"The client\"}}",
		MX_EAUTH,
		"app client-1 may not change the MX record set of contoso.com (HTTP 403 "
		"AuthorizationFailed); give the app DNS Zone Contributor on the zone contoso.com"},
	    {403, false, "{\"error\":{\"code\":\"AuthorizationFailed\"}}", MX_EAUTH,
		"may not read the MX record set of contoso.com (HTTP 403 AuthorizationFailed); "
		"give "
		"the app DNS Zone Contributor"},
	    {404, false, "{\"error\":{\"code\":\"ResourceGroupNotFound\"}}", MX_EPROVIDER,
		"resource group rg-dns was not found in subscription sub-1 (HTTP 404 "
		"ResourceGroupNotFound); fix resource_group"},
	    {404, false, "{\"error\":{\"code\":\"SubscriptionNotFound\"}}", MX_EPROVIDER,
		"subscription sub-1 was not found (HTTP 404 SubscriptionNotFound); fix "
		"subscription_id"},
	    {404, false, "{\"error\":{\"code\":\"ParentResourceNotFound\"}}", MX_ENOZONE,
		"DNS zone contoso.com is not in resource group rg-dns of subscription sub-1 (HTTP "
		"404 ParentResourceNotFound)"},
	    {404, false, "<html>Not Found</html>", MX_EPROVIDER,
		"404 for the MX record set of contoso.com without an error it could read; resume"},
	    {412, true, "{\"error\":{\"code\":\"PreconditionFailed\"}}", MX_ECONFLICT,
		"the MX record set of contoso.com changed behind our back (HTTP 412 "
		"PreconditionFailed); check who else edits zone contoso.com"},
	    {409, true, "", MX_ECONFLICT, "changed behind our back (HTTP 409)"},
	    {429, false, "{\"error\":{\"code\":\"TooManyRequests\"}}", MX_ERATELIMIT,
		"(HTTP 429) after 6 tries; wait a few minutes"},
	    {500, true, "{\"error\":{\"code\":\"InternalServerError\"}}", MX_EPROVIDER,
		"failed with HTTP 500 InternalServerError"},
	    {400, true, "{\"error\":{\"code\":\"BadRequest\"}}", MX_EPROVIDER,
		"(HTTP 400 BadRequest); fix the record set in the Azure portal"},
	};

	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		struct mx_err err = {0};

		CHECK_INT(az_token_error(&names, tokens[i].status, tokens[i].body, &err), MX_EAUTH);
		CHECK_INT(err.http_status, tokens[i].status);
		CHECK(!strncmp(err.msg, "azure: ", 7));
		CHECK_HAS(err.msg, tokens[i].fix);
		CHECK_HAS(err.msg, "[provider.az]");
	}
	for (size_t i = 0; i < sizeof(arm) / sizeof(arm[0]); i++) {
		struct mx_err err = {0};
		char status[32];

		CHECK_INT(az_status_error(&names, "the MX record set of contoso.com", arm[i].write,
			      arm[i].status, arm[i].body, &err),
		    arm[i].rc);
		snprintf(status, sizeof(status), "HTTP %ld", arm[i].status);
		CHECK(!strncmp(err.msg, "azure: ", 7));
		CHECK_HAS(err.msg, status);
		CHECK_HAS(err.msg, arm[i].fix);
	}
	{
		char buf[64];

		CHECK_STR(az_error_code("{\"error\":{\"code\":\"Not\\nFound\"}}", buf, sizeof(buf)),
		    "Not_Found");
		CHECK_STR(az_error_code("", buf, sizeof(buf)), "");
	}
}

/* ------------------------------------------------------------------ open */

static void test_open(void)
{
	char path[] = "/tmp/unit_cfaz.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct mx_conf *conf = NULL;
	struct mx_err err = {0};
	struct prov *p;

	if (!fp) {
		check_failures++;
		return;
	}
	fputs(
	    "[provider.cf]\ntype = cloudflare\napi_token_env = UNIT_CF_TOKEN\n"
	    "[provider.cfid]\ntype = cloudflare\napi_token_env = UNIT_CF_TOKEN\nzone_id = 0123abc\n"
	    "[provider.cfbadid]\ntype = cloudflare\napi_token_env = UNIT_CF_TOKEN\n"
	    "zone_id = ../x\n"
	    "[provider.cfnotoken]\ntype = cloudflare\n"
	    "[provider.cfurl]\ntype = cloudflare\napi_token_env = UNIT_CF_TOKEN\n"
	    "base_url = ftp://x\n"
	    "[provider.az]\ntype = azure\ntenant_id = t\nclient_id = c\n"
	    "client_secret_env = UNIT_AZ_SECRET\nsubscription_id = s\nresource_group = g\n"
	    "[provider.aznotenant]\ntype = azure\nclient_id = c\n"
	    "client_secret_env = UNIT_AZ_SECRET\nsubscription_id = s\nresource_group = g\n"
	    "[provider.azbadgroup]\ntype = azure\ntenant_id = t\nclient_id = c\n"
	    "client_secret_env = UNIT_AZ_SECRET\nsubscription_id = s\nresource_group = a/b\n"
	    "[provider.aznosecret]\ntype = azure\ntenant_id = t\nclient_id = c\n"
	    "subscription_id = s\nresource_group = g\n",
	    fp);
	fclose(fp);
	setenv("UNIT_CF_TOKEN", "unit-cf-token", 1);
	setenv("UNIT_AZ_SECRET", "unit-az-secret", 1);
	if (mx_conf_load(path, true, &conf, &err) != MX_OK) {
		fprintf(stderr, "mx_conf_load: %s\n", err.msg);
		check_failures++;
		goto out;
	}
#define OPEN(name, want, needle)                                                                   \
	do {                                                                                       \
		p = NULL;                                                                          \
		memset(&err, 0, sizeof(err));                                                      \
		CHECK_INT(prov_open(conf, name, "contoso.com", NULL, NULL, &p, &err), want);       \
		if ((want) != MX_OK)                                                               \
			CHECK_HAS(err.msg, needle);                                                \
		CHECK(strstr(err.msg, "unit-cf-token") == NULL);                                   \
		CHECK(strstr(err.msg, "unit-az-secret") == NULL);                                  \
		prov_close(p);                                                                     \
	} while (0)
	OPEN("cf", MX_OK, "");
	OPEN("cfid", MX_OK, "");
	OPEN("cfbadid", MX_EINVAL, "zone_id");
	OPEN("cfnotoken", MX_EINVAL, "api_token");
	OPEN("cfurl", MX_EINVAL, "base_url");
	OPEN("az", MX_OK, "");
	OPEN("aznotenant", MX_EINVAL, "tenant_id is missing");
	OPEN("azbadgroup", MX_EINVAL, "resource_group is malformed");
	OPEN("aznosecret", MX_EINVAL, "client_secret");
#undef OPEN
	CHECK(prov_find("cloudflare") == &prov_cloudflare_ops);
	CHECK(prov_find("azure") == &prov_azure_ops);
	CHECK_INT(prov_cloudflare_ops.min_ttl, 60);
	CHECK(!(prov_cloudflare_ops.caps & (PROV_CAP_ATOMIC | PROV_CAP_CAS)));
	CHECK_INT(prov_azure_ops.caps, PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_HTTP);
	CHECK(prov_cloudflare_ops.caps & PROV_CAP_HTTP);
	/* Names outside the zone and other types are refused before any request. */
	p = NULL;
	if (prov_open(conf, "cf", "contoso.com", NULL, NULL, &p, &err) == MX_OK) {
		struct mx_rrset out = {0};

		CHECK_INT(p->ops->read_rrset(p, "contoso.com.au", DNS_T_MX, &out, &err), MX_EINVAL);
		CHECK_INT(p->ops->read_rrset(p, "contoso.com", DNS_T_A, &out, &err), MX_EINVAL);
		prov_close(p);
	}
	p = NULL;
	if (prov_open(conf, "az", "contoso.com", NULL, NULL, &p, &err) == MX_OK) {
		struct mx_rrset out = {0};

		CHECK_INT(p->ops->read_rrset(p, "xcontoso.com", DNS_T_MX, &out, &err), MX_EINVAL);
		CHECK_HAS(err.msg, "not inside zone contoso.com");
		prov_close(p);
	}
out:
	mx_conf_free(conf);
	unlink(path);
}

/* ARM's permissions list: an action is allowed by a role whose actions cover it (wildcards,
 * any case) unless that same role's notActions cover it; roles add up over pages. */
static void test_az_permissions(void)
{
	static const char *const acts[] = {
	    "Microsoft.Network/dnsZones/MX/write", "Microsoft.Network/dnsZones/TXT/write"};
	bool allowed[2] = {false, false};
	struct mx_err err = {0};
	char *next = NULL;

	CHECK_INT(az_permissions_parse("{\"value\":[{\"actions\":[\"*/read\"],\"notActions\":[]}],"
				       "\"nextLink\":\"https://m.example/x?$skiptoken=1\"}",
		      acts, 2, allowed, &next, &err),
	    MX_OK);
	CHECK(!allowed[0] && !allowed[1]);
	CHECK_STR(next, "https://m.example/x?$skiptoken=1");
	free(next);
	CHECK_INT(
	    az_permissions_parse("{\"value\":[{\"actions\":[\"microsoft.network/DNSZONES/*\"],"
				 "\"notActions\":[\"Microsoft.Network/dnsZones/MX/*\"]}]}",
		acts, 2, allowed, &next, &err),
	    MX_OK);
	CHECK(!allowed[0] && allowed[1]);
	CHECK(next == NULL);
	/* Another role allows what the first excluded. */
	CHECK_INT(az_permissions_parse(
		      "{\"value\":[{\"actions\":[\"*\"]}]}", acts, 2, allowed, &next, &err),
	    MX_OK);
	CHECK(allowed[0] && allowed[1]);
	allowed[0] = allowed[1] = false;
	CHECK_INT(az_permissions_parse("{\"value\":[]}", acts, 2, allowed, &next, &err), MX_OK);
	CHECK(!allowed[0] && !allowed[1]);
	CHECK_INT(az_permissions_parse("<html>", acts, 2, allowed, &next, &err), MX_EPROVIDER);
	CHECK(strstr(err.msg, "permissions list") != NULL);
}

int main(void)
{
	test_cf_parse();
	test_cf_body();
	test_cf_plan();
	test_cf_errors();
	test_cf_bucket();
	test_az_parse();
	test_az_metadata();
	test_az_errors();
	test_az_permissions();
	test_open();
	return CHECK_DONE();
}
