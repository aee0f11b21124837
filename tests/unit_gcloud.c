/* SPDX-License-Identifier: MIT */
/* tests/unit_gcloud.c — the Google Cloud DNS adapter's pure parts: the service-account key,
 * the RS256 JWT (its signature verified here with OpenSSL against the key's public half),
 * base64url, the JSON of zones, record sets and changes, and every error mapping. No
 * network. */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gcloud.h"
#include "provider.h"

/* A fresh RSA key as PEM (PKCS#8, as in Google's key files); caller frees; *pkey kept. */
static char *new_key_pem(EVP_PKEY **pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long len;

	*pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!*pkey || !bio || !PEM_write_bio_PrivateKey(bio, *pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
out:
	BIO_free(bio);
	return out;
}

/* base64url (no padding) → bytes; caller frees. */
static unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen)
{
	size_t padded = (len + 3) / 4 * 4;
	char *tmp = calloc(1, padded + 1);
	unsigned char *out = malloc(padded);
	int n;

	for (size_t i = 0; i < padded; i++)
		tmp[i] = i < len ? (in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i]) : '=';
	n = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
	*outlen = n < 0 ? 0 : (size_t)n - (len % 4 ? 4 - len % 4 : 0);
	free(tmp);
	return out;
}

static json_t *decode_part(const char *part, size_t len)
{
	size_t n;
	unsigned char *raw = b64url_decode(part, len, &n);
	json_t *j = json_loadb((const char *)raw, n, 0, NULL);

	free(raw);
	return j;
}

static void test_b64url(void)
{
	char *s = gcp_b64url((const unsigned char *)"\xfb\xff\xfe", 3);

	CHECK_STR(s, "-__-");
	free(s);
	s = gcp_b64url((const unsigned char *)"ab", 2);
	CHECK_STR(s, "YWI");
	free(s);
	s = gcp_b64url((const unsigned char *)"", 0);
	CHECK_STR(s, "");
	free(s);
}

static void test_key_and_jwt(void)
{
	EVP_PKEY *pkey = NULL;
	char *pem = new_key_pem(&pkey), *json = NULL, *jwt = NULL;
	static const char not_sa[] = "{\"type\":\"authorized_user\"}";
	static const char no_key[] = "{\"type\":\"service_account\",\"client_email\":\"a@b\"}";
	struct gcp_key key;
	struct mx_err err = {0};
	json_t *doc;

	CHECK(pem != NULL);
	if (!pem)
		return;
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "service_account", "project_id",
	    "mx-project", "private_key_id", "kid-1", "private_key", pem, "client_email",
	    "mx@mx-project.iam.gserviceaccount.com");
	json = json_dumps(doc, 0);
	json_decref(doc);
	CHECK_INT(gcp_key_parse(json, strlen(json), "key.json", &key, &err), MX_OK);
	CHECK_STR(key.client_email, "mx@mx-project.iam.gserviceaccount.com");
	CHECK_STR(key.project_id, "mx-project");
	CHECK_STR(key.private_key_id, "kid-1");

	CHECK_INT(gcp_jwt_build(&key, GCP_SCOPE, "https://oauth2.googleapis.com/token", 1767225600,
		      &jwt, &err),
	    MX_OK);
	CHECK(jwt != NULL);
	if (jwt) {
		char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
		json_t *hdr, *claims;
		unsigned char *sig;
		size_t siglen;
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		CHECK(dot1 && dot2 && !strchr(jwt, '=') && !strchr(jwt, '+') && !strchr(jwt, '/'));
		hdr = decode_part(jwt, (size_t)(dot1 - jwt));
		claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
		CHECK_STR(json_string_value(json_object_get(hdr, "alg")), "RS256");
		CHECK_STR(json_string_value(json_object_get(hdr, "typ")), "JWT");
		CHECK_STR(json_string_value(json_object_get(hdr, "kid")), "kid-1");
		CHECK_STR(json_string_value(json_object_get(claims, "iss")),
		    "mx@mx-project.iam.gserviceaccount.com");
		CHECK_STR(json_string_value(json_object_get(claims, "scope")), GCP_SCOPE);
		CHECK_STR(json_string_value(json_object_get(claims, "aud")),
		    "https://oauth2.googleapis.com/token");
		CHECK_INT(json_integer_value(json_object_get(claims, "iat")), 1767225600);
		CHECK_INT(json_integer_value(json_object_get(claims, "exp")), 1767225600 + 3600);
		json_decref(hdr);
		json_decref(claims);

		/* The signature verifies with the public key over "header.claims". */
		sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
		CHECK_INT(siglen, 256);
		CHECK(md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1);
		CHECK_INT(EVP_DigestVerify(
			      md, sig, siglen, (const unsigned char *)jwt, (size_t)(dot2 - jwt)),
		    1);
		/* …and not over anything else. */
		EVP_MD_CTX_reset(md);
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey);
		CHECK(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
			  (size_t)(dot2 - jwt) - 1) != 1);
		EVP_MD_CTX_free(md);
		free(sig);
	}
	free(jwt);

	/* A key that is not RSA PEM: MX_EAUTH, and the message holds no key material. */
	free(key.private_key);
	key.private_key = strdup("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	CHECK_INT(gcp_jwt_build(&key, GCP_SCOPE, "aud", 0, &jwt, &err), MX_EAUTH);
	CHECK(jwt == NULL && !strstr(err.msg, "AAAA"));
	gcp_key_free(&key);

	/* Not a service-account key. */
	CHECK_INT(gcp_key_parse(not_sa, strlen(not_sa), "k.json", &key, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "k.json is not a service-account key") != NULL);
	CHECK_INT(gcp_key_parse(no_key, strlen(no_key), "k.json", &key, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "private_key") != NULL);
	CHECK_INT(gcp_key_parse("nope", 4, "k.json", &key, &err), MX_EINVAL);

	free(json);
	free(pem);
	EVP_PKEY_free(pkey);
}

static void test_token_parse(void)
{
	char *tok = NULL;
	long exp = 0;

	CHECK_INT(gcp_token_parse("{\"access_token\":\"ya29.x\",\"expires_in\":3599,"
				  "\"token_type\":\"Bearer\"}",
		      &tok, &exp, NULL),
	    MX_OK);
	CHECK_STR(tok, "ya29.x");
	CHECK_INT(exp, 3599);
	free(tok);
	CHECK_INT(gcp_token_parse("{}", &tok, &exp, NULL), MX_EPROVIDER);
}

static void test_json(void)
{
	static const char zones1[] = "{\"managedZones\":[{\"name\":\"contoso-private\",\"dnsName\":"
				     "\"contoso.com.\",\"visibility\":\"private\"}],"
				     "\"nextPageToken\":\"p2\"}";
	static const char zones2[] =
	    "{\"managedZones\":[{\"name\":\"contoso\",\"dnsName\":"
	    "\"contoso.com.\",\"visibility\":\"public\"},{\"name\":\"other\","
	    "\"dnsName\":\"contoso.net.\",\"visibility\":\"public\"}]}";
	static const char sets[] =
	    "{\"rrsets\":[{\"kind\":\"dns#resourceRecordSet\",\"name\":\"contoso.com.\",\"type\":"
	    "\"MX\",\"ttl\":3600,\"rrdatas\":[\"10 B.example.\",\"0 a.example.\"]}],"
	    "\"nextPageToken\":\"n\"}";
	static const char txt[] =
	    "{\"rrsets\":[{\"name\":\"_mta-sts.contoso.com.\",\"type\":\"TXT\","
	    "\"ttl\":300,\"rrdatas\":[\"\\\"v=STSv1; \\\" \\\"id=1;\\\"\"]}]}";
	const char *want_v[] = {"0 contoso-com.o-v1.mx.microsoft", NULL};
	char *name = NULL, *next = NULL, *body, id[32], status[16];
	struct mx_rrset out = {0}, expect = {0}, want = {0};
	struct mx_err err = {0};
	json_t *doc;
	int matches = 0;

	CHECK_INT(gcp_zones_parse(zones1, "contoso.com", &name, &matches, &next, &err), MX_OK);
	CHECK(name == NULL && matches == 0);
	CHECK_STR(next, "p2");
	free(next);
	CHECK_INT(gcp_zones_parse(zones2, "contoso.com", &name, &matches, &next, &err), MX_OK);
	CHECK_STR(name, "contoso");
	CHECK(matches == 1 && next == NULL);
	free(name);
	CHECK_INT(
	    gcp_zones_parse("[1]", "contoso.com", &name, &matches, &next, &err), MX_EPROVIDER);

	snprintf(out.name, sizeof(out.name), "contoso.com");
	out.type = DNS_T_MX;
	CHECK_INT(gcp_rrsets_parse(sets, "contoso.com", DNS_T_MX, &out, &next, &err), MX_OK);
	prov_rrset_sort(&out);
	CHECK_INT(out.n, 2);
	CHECK_INT(out.ttl, 3600);
	if (out.n == 2) {
		CHECK_STR(out.values[0], "0 a.example");
		CHECK_STR(out.values[1], "10 b.example");
	}
	CHECK_STR(next, "n");
	free(next);
	prov_rrset_clear(&out);
	snprintf(out.name, sizeof(out.name), "_mta-sts.contoso.com");
	out.type = DNS_T_TXT;
	CHECK_INT(
	    gcp_rrsets_parse(txt, "_mta-sts.contoso.com", DNS_T_TXT, &out, &next, &err), MX_OK);
	CHECK(out.n == 1 && !strcmp(out.values[0], "v=STSv1; id=1;"));
	prov_rrset_clear(&out);

	/* The change: deletions = expect exactly, additions = want. */
	snprintf(expect.name, sizeof(expect.name), "contoso.com");
	expect.type = want.type = DNS_T_MX;
	expect.ttl = 3600;
	prov_rrset_add(&expect, "0 contoso-com.mail.protection.outlook.com", NULL);
	snprintf(want.name, sizeof(want.name), "contoso.com");
	want.ttl = 30;
	for (size_t i = 0; want_v[i]; i++)
		prov_rrset_add(&want, want_v[i], NULL);
	body = gcp_change_body(&expect, &want, &err);
	doc = body ? json_loads(body, 0, NULL) : NULL;
	CHECK(doc != NULL);
	{
		json_t *del = json_array_get(json_object_get(doc, "deletions"), 0);
		json_t *add = json_array_get(json_object_get(doc, "additions"), 0);

		CHECK_STR(json_string_value(json_object_get(del, "name")), "contoso.com.");
		CHECK_STR(json_string_value(json_object_get(del, "type")), "MX");
		CHECK_INT(json_integer_value(json_object_get(del, "ttl")), 3600);
		CHECK_STR(json_string_value(json_array_get(json_object_get(del, "rrdatas"), 0)),
		    "0 contoso-com.mail.protection.outlook.com.");
		CHECK_INT(json_integer_value(json_object_get(add, "ttl")), 30);
		CHECK_STR(json_string_value(json_array_get(json_object_get(add, "rrdatas"), 0)),
		    "0 contoso-com.o-v1.mx.microsoft.");
	}
	json_decref(doc);
	free(body);
	/* Only additions when nothing existed; only deletions to remove. */
	{
		struct mx_rrset none = {0};

		none.type = DNS_T_MX;
		snprintf(none.name, sizeof(none.name), "contoso.com");
		body = gcp_change_body(&none, &want, NULL);
		CHECK(body && !strstr(body, "deletions") && strstr(body, "additions"));
		free(body);
		body = gcp_change_body(&expect, &none, NULL);
		CHECK(body && strstr(body, "deletions") && !strstr(body, "additions"));
		free(body);
		CHECK(gcp_change_body(&none, &none, &err) == NULL);
	}
	prov_rrset_clear(&expect);
	prov_rrset_clear(&want);

	CHECK_INT(gcp_change_parse("{\"kind\":\"dns#change\",\"id\":\"7\",\"status\":\"pending\"}",
		      id, sizeof(id), status, sizeof(status), NULL),
	    MX_OK);
	CHECK_STR(id, "7");
	CHECK_STR(status, "pending");
	CHECK_INT(
	    gcp_change_parse("{}", id, sizeof(id), status, sizeof(status), NULL), MX_EPROVIDER);
}

static char *google_error(long code, const char *reason, const char *message)
{
	char *out = NULL;

	if (asprintf(&out,
		"{\"error\":{\"code\":%ld,\"message\":\"%s\",\"errors\":[{\"message\":\"%s\","
		"\"domain\":\"global\",\"reason\":\"%s\"}]}}",
		code, message, message, reason) < 0)
		return NULL;
	return out;
}

static void check_mapping(
    long status, const char *reason, const char *message, bool change, int want_rc, const char *fix)
{
	struct gcp_call call = {
	    "gcp", "mx-project", "contoso", "the MX RRset of contoso.com", change};
	struct mx_err err = {0};
	char *body = google_error(status, reason, message), st[16];

	snprintf(st, sizeof(st), "HTTP %ld", status);
	CHECK_INT(gcp_status_error(&call, status, body, &err), want_rc);
	CHECK_INT(err.http_status, status);
	CHECK(!strncmp(err.msg, "gcloud: ", 8));
	if (!strstr(err.msg, st) || !strstr(err.msg, fix))
		fprintf(stderr, "mapping %ld %s: %s\n", status, reason, err.msg);
	CHECK(strstr(err.msg, st) != NULL);
	CHECK(strstr(err.msg, fix) != NULL);
	free(body);
}

static void test_errors(void)
{
	struct mx_err err = {0};

	check_mapping(403, "forbidden", "Forbidden", true, MX_EAUTH,
	    "gcloud: the service account cannot change managed zone contoso (HTTP 403); grant "
	    "it roles/dns.admin on the project or a custom role with dns.changes.create and "
	    "dns.resourceRecordSets.*");
	check_mapping(
	    403, "forbidden", "Forbidden", false, MX_EAUTH, "dns.resourceRecordSets.list");
	check_mapping(401, "authError", "Invalid Credentials", false, MX_EAUTH, "credentials_file");
	check_mapping(412, "conditionNotMet",
	    "Precondition not met for 'entity.change.deletions[0]'", true, MX_ECONFLICT,
	    "the MX RRset of contoso.com changed behind our back");
	check_mapping(409, "alreadyExists",
	    "The resource 'entity.change.additions[0]' already exists", true, MX_ECONFLICT,
	    "changed behind our back (HTTP 409, alreadyExists)");
	check_mapping(400, "conditionNotMet", "deletions[0] does not match", true, MX_ECONFLICT,
	    "resume or roll back");
	check_mapping(404, "notFound",
	    "The 'parameters.managedZone' resource named 'contoso' does "
	    "not exist.",
	    false, MX_ENOZONE, "fix project or managed_zone");
	check_mapping(
	    429, "rateLimitExceeded", "Rate Limit Exceeded", true, MX_ERATELIMIT, "wait a minute");
	check_mapping(400, "invalid", "Invalid value for 'entity.change.additions[0].ttl'", true,
	    MX_EPROVIDER, "invalid: Invalid value");
	check_mapping(500, "backendError", "Internal error", true, MX_EPROVIDER, "backendError");

	CHECK(gcp_retryable(429) && gcp_retryable(503) && !gcp_retryable(412));

	CHECK_INT(gcp_token_error("gcp", "/etc/k.json", 400,
		      "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT "
		      "Signature.\"}",
		      &err),
	    MX_EAUTH);
	CHECK(strstr(err.msg, "gcloud: Google refused the service-account key /etc/k.json (HTTP "
			      "400, invalid_grant: Invalid JWT Signature.)") != NULL);
	CHECK(strstr(err.msg, "credentials_file of [provider.gcp]") != NULL);
	CHECK_INT(gcp_token_error("gcp", "k", 502, "", &err), MX_EPROVIDER);
	CHECK(strstr(err.msg, "token_url") != NULL);
}

static void test_registry(void)
{
	const struct prov_ops *ops = prov_find("gcloud");

	CHECK(ops == &prov_gcloud_ops);
	CHECK(ops && (ops->caps & PROV_CAP_CAS) && (ops->caps & PROV_CAP_ATOMIC));
}

/* managedZones.testIamPermissions: the subset held, or {} for none. */
static void test_permissions(void)
{
	static const char *const perms[] = {"dns.changes.create", "dns.resourceRecordSets.update"};
	bool granted[2];
	struct mx_err err = {0};

	CHECK_INT(gcp_permissions_parse("{\"permissions\":[\"dns.resourceRecordSets.update\"]}",
		      perms, 2, granted, &err),
	    MX_OK);
	CHECK(!granted[0] && granted[1]);
	CHECK_INT(gcp_permissions_parse("{}", perms, 2, granted, &err), MX_OK);
	CHECK(!granted[0] && !granted[1]);
	CHECK_INT(gcp_permissions_parse("[]", perms, 2, granted, &err), MX_EPROVIDER);
	CHECK_INT(gcp_permissions_parse(
		      "{\"permissions\":\"dns.changes.create\"}", perms, 2, granted, &err),
	    MX_EPROVIDER);
}

int main(void)
{
	test_b64url();
	test_key_and_jwt();
	test_token_parse();
	test_json();
	test_errors();
	test_permissions();
	test_registry();
	return CHECK_DONE();
}
