/* SPDX-License-Identifier: MIT */
/* tests/unit_exo.c — the [exchange] config section, the Microsoft identity module (the
 * certificate assertion, token answers and sign-in errors) and the Exchange admin API
 * client's pure parts (ExpectedMxRecord, the error mapping). No network. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "exo.h"
#include "msid.h"
#include "secret.h"

#define CHECK_HAS(hay, needle)                                                                     \
	do {                                                                                       \
		if (!strstr((hay), (needle))) {                                                    \
			fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, (hay), \
			    (needle));                                                             \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

static char dir[64];

static char *write_file(const char *name, const char *text, mode_t mode)
{
	char *p = NULL;
	FILE *fp;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	fp = fopen(p, "w");
	fputs(text, fp);
	fclose(fp);
	chmod(p, mode);
	return p;
}

static int load(const char *text, struct mx_conf **c, struct mx_err *err)
{
	char *p = write_file("conf", text, 0600);
	int rc;

	mx_err_clear(err);
	rc = mx_conf_load(p, true, c, err);
	free(p);
	return rc;
}

static void test_conf(void)
{
	struct mx_conf *c = NULL;
	struct mx_err err;

	CHECK_INT(load("[exchange]\ntenant_id = contoso.onmicrosoft.com\nclient_id = app-1\n"
		       "client_secret_env = EXO_SECRET\n",
		      &c, &err),
	    MX_OK);
	CHECK(exo_configured(c));
	CHECK_STR(mx_conf_get(c->exchange, "tenant_id"), "contoso.onmicrosoft.com");
	CHECK_INT(mx_conf_line(c->exchange, "client_id"), 3);
	mx_conf_free(c);

	c = NULL;
	CHECK_INT(load("[cutover]\nlow_ttl = 60\n", &c, &err), MX_OK);
	CHECK(!exo_configured(c));
	mx_conf_free(c);

	static const struct {
		const char *text, *fragment;
	} bad[] = {
	    {"[exchange]\ntenant_id = t\nclient_id = a\n", "line 1: [exchange] has no credential"},
	    {"[exchange]\nclient_id = a\nclient_secret_env = X\n", "[exchange] has no tenant_id"},
	    {"[exchange]\ntenant_id = t\nclient_id = a\nclient_secret_env = X\ncertificate_file = "
	     "/k.pem\n",
		"line 5: [exchange] sets both client_secret_env and certificate_file"},
	    {"[exchange]\ntenant_id = t\nclient_id = a\nsecret = x\n",
		"line 4: unknown key \"secret\" in [exchange]"},
	    {"[exchange]\ntenant_id = t\ntenant_id = u\n",
		"line 3: key \"tenant_id\" appears twice"},
	    {"[exchange]\ntenant_id = t\nclient_id = a\nclient_secret_env = X\nexo_url = ftp://x\n",
		"line 5: exo_url in [exchange] must be an https:// URL"},
	    {"[exchang]\n", "unknown section [exchang]; use [cutover], [exchange]"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = NULL;
		CHECK_INT(load(bad[i].text, &c, &err), MX_EINVAL);
		CHECK(c == NULL);
		CHECK_HAS(err.msg, bad[i].fragment);
		CHECK_HAS(err.msg, dir);
	}
}

/* A fresh RSA key and a self-signed certificate, as one PEM text (caller frees). */
static char *make_pem(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(
	    X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"app", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	PEM_write_bio_X509(b, x);
	len = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)len);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	return out;
}

/* base64url → bytes through OpenSSL (the test's own decoding). */
static unsigned char *b64url_decode(const char *in, size_t inlen, size_t *outlen)
{
	char *std = calloc(1, inlen + 4);
	unsigned char *out = calloc(1, inlen + 4);
	size_t n = 0;
	int got;

	for (size_t i = 0; i < inlen; i++)
		std[n++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	while (n % 4)
		std[n++] = '=';
	got = EVP_DecodeBlock(out, (unsigned char *)std, (int)n);
	*outlen = (size_t)got - (inlen % 4 == 2 ? 2 : inlen % 4 == 3 ? 1 : 0);
	free(std);
	return out;
}

static void test_assertion(void)
{
	char *pem = make_pem(), *jwt = NULL, *dot1, *dot2;
	struct mx_err err = {0};
	unsigned char *hdr_raw, *claims_raw, *sig, digest[32];
	size_t hl, cl, sl;
	json_t *hdr, *claims;
	BIO *b;
	X509 *x;
	EVP_PKEY *pub;
	EVP_MD_CTX *md;
	unsigned dlen;
	char *thumb;

	CHECK_INT(msid_assertion(pem, "certificate_file k.pem", "app-1",
		      "https://login.example/t/oauth2/v2.0/token", 1700000000, &jwt, &err),
	    MX_OK);
	dot1 = strchr(jwt, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	CHECK(dot1 && dot2);
	if (!dot1 || !dot2)
		return;
	hdr_raw = b64url_decode(jwt, (size_t)(dot1 - jwt), &hl);
	claims_raw = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &cl);
	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sl);
	hdr = json_loadb((const char *)hdr_raw, hl, 0, NULL);
	claims = json_loadb((const char *)claims_raw, cl, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(hdr, "alg")), "RS256");
	CHECK_STR(json_string_value(json_object_get(claims, "aud")),
	    "https://login.example/t/oauth2/v2.0/token");
	CHECK_STR(json_string_value(json_object_get(claims, "iss")), "app-1");
	CHECK_STR(json_string_value(json_object_get(claims, "sub")), "app-1");
	CHECK_INT(json_integer_value(json_object_get(claims, "exp")), 1700000600);
	CHECK_INT(strlen(json_string_value(json_object_get(claims, "jti"))), 32);
	/* x5t#S256 is the SHA-256 of the DER certificate, and the key signed the input. */
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	X509_digest(x, EVP_sha256(), digest, &dlen);
	thumb = msid_b64url(digest, dlen);
	CHECK_STR(json_string_value(json_object_get(hdr, "x5t#S256")), thumb);
	pub = X509_get_pubkey(x);
	md = EVP_MD_CTX_new();
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1);
	CHECK(EVP_DigestVerify(md, sig, sl, (const unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	X509_free(x);
	free(thumb);
	json_decref(hdr);
	json_decref(claims);
	free(hdr_raw);
	free(claims_raw);
	free(sig);
	mx_secret_free(jwt);

	/* A PEM without the certificate, or without the key, says what is missing. */
	{
		char *cert_only = strstr(pem, "-----BEGIN CERTIFICATE");

		CHECK_INT(
		    msid_assertion(cert_only, "certificate_file k.pem", "a", "u", 0, &jwt, &err),
		    MX_EINVAL);
		CHECK_HAS(err.msg, "no unencrypted RSA private key");
		*cert_only = '\0';
		CHECK_INT(msid_assertion(pem, "certificate_file k.pem", "a", "u", 0, &jwt, &err),
		    MX_EINVAL);
		CHECK_HAS(err.msg, "holds no certificate");
	}
	free(pem);
}

static void test_app_open(void)
{
	char *pem = make_pem(), *cert, *loose, *text = NULL;
	struct mx_conf *c = NULL;
	struct msid_app *app = NULL;
	struct mx_err err;

	cert = write_file("app.pem", pem, 0600);
	loose = write_file("loose.pem", pem, 0644);
	if (asprintf(&text,
		"[exchange]\ntenant_id = t1\nclient_id = a1\ncertificate_file = %s\n"
		"login_url = http://127.0.0.1:1/\n",
		cert) < 0)
		abort();
	CHECK_INT(load(text, &c, &err), MX_OK);
	CHECK_INT(msid_app_open(c->exchange, "exchange", "[exchange]", true, &app, &err), MX_OK);
	CHECK(msid_app_names(app)->certificate);
	CHECK_STR(msid_app_names(app)->login_url, "http://127.0.0.1:1");
	msid_app_free(app);
	mx_conf_free(c);
	free(text);

	/* The 0600 rule of every secret file. */
	if (asprintf(&text, "[exchange]\ntenant_id = t1\nclient_id = a1\ncertificate_file = %s\n",
		loose) < 0)
		abort();
	CHECK_INT(load(text, &c, &err), MX_OK);
	CHECK_INT(
	    msid_app_open(c->exchange, "exchange", "[exchange]", true, &app, &err), MX_EINVAL);
	CHECK_HAS(err.msg, "[exchange]: secret file");
	CHECK_HAS(err.msg, "chmod 600");
	mx_conf_free(c);
	free(text);

	/* A secret from an unset variable names the variable, for [exchange]. */
	unsetenv("EXO_TEST_UNSET");
	CHECK_INT(load("[exchange]\ntenant_id = t1\nclient_id = a1\nclient_secret_env = "
		       "EXO_TEST_UNSET\n",
		      &c, &err),
	    MX_OK);
	CHECK_INT(
	    msid_app_open(c->exchange, "exchange", "[exchange]", true, &app, &err), MX_EINVAL);
	CHECK_HAS(err.msg, "[exchange]: environment variable EXO_TEST_UNSET");
	mx_conf_free(c);
	free(cert);
	free(loose);
	free(pem);
}

static void test_token_answers(void)
{
	struct msid_names secret = {"exchange", "[exchange]", "t1", "a1", false, NULL};
	struct msid_names certificate = {"exchange", "[exchange]", "t1", "a1", true, NULL};
	struct mx_err err = {0};
	char *tok = NULL;
	long exp = 0;

	CHECK_INT(msid_token_parse("exchange", "{\"expires_in\":\"120\",\"access_token\":\"a\"}",
		      &tok, &exp, &err),
	    MX_OK);
	CHECK_INT(exp, 120);
	mx_secret_free(tok);
	CHECK_INT(msid_token_parse("exchange", "{}", &tok, &exp, &err), MX_EPROVIDER);
	CHECK_HAS(err.msg, "exchange: the token endpoint's answer has no access_token");

	CHECK_INT(msid_token_error(&secret, 401,
		      "{\"error\":\"invalid_client\",\"error_codes\":[7000215]}", &err),
	    MX_EAUTH);
	CHECK_HAS(err.msg, "exchange: the client secret of app a1 was refused by tenant t1 (HTTP "
			   "401, AADSTS7000215); create a new client secret");
	CHECK_HAS(err.msg, "of [exchange]");
	CHECK_INT(msid_token_error(&certificate, 401,
		      "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS700027: Client "
		      "assertion failed signature validation.\"}",
		      &err),
	    MX_EAUTH);
	CHECK_HAS(err.msg, "the certificate of app a1 was refused by tenant t1 (HTTP 401, "
			   "AADSTS700027); upload the certificate");
}

static void test_exo_helpers(void)
{
	static const struct {
		long status;
		const char *cmdlet, *subject, *body, *fix;
		int rc;
	} errs[] = {
	    {401, "Get-AcceptedDomain", NULL, "",
		"give the app the application permission "
		"Exchange.ManageAsApp",
		MX_EAUTH},
	    {403, "Enable-SmtpDaneInbound", "contoso.com",
		"{\"error\":{\"code\":\"Forbidden\",\"message\":\"x\"}}",
		"app a1 may not run Enable-SmtpDaneInbound in tenant t1 (HTTP 403 Forbidden); "
		"assign the app an Exchange role that holds Enable-SmtpDaneInbound",
		MX_EAUTH},
	    {404, "Enable-DnssecForVerifiedDomain", "contoso.com",
		"{\"error\":{\"code\":\"ManagementObjectNotFound\",\"message\":\"The operation "
		"couldn't be performed because object 'contoso.com' couldn't be found.\"}}",
		"contoso.com is not an accepted domain of tenant t1", MX_EINVAL},
	    {400, "Enable-SmtpDaneInbound", "contoso.com",
		"{\"error\":{\"code\":\"CommandNotFound\",\"message\":\"The term "
		"'Enable-SmtpDaneInbound' is not recognized as a name of a cmdlet.\"}}",
		"cmdlet Enable-SmtpDaneInbound is not available in tenant t1", MX_EINVAL},
	    {404, "Get-OutboundConnector", "To partners", "",
		"outbound connector \"To partners\" was not found", MX_EINVAL},
	    {429, "Get-AcceptedDomain", NULL, "", "kept throttling", MX_ERATELIMIT},
	    {503, "Get-AcceptedDomain", NULL, "", "failed with HTTP 503", MX_EPROVIDER},
	    {400, "Set-OutboundConnector", "c1",
		"{\"error\":{\"code\":\"BadRequest\",\"message\":\"Bad\\nvalue\"}}",
		"(HTTP 400 BadRequest: Bad value)", MX_EPROVIDER},
	};
	char host[EXO_HOST_MAX];
	int pref;

	CHECK(exo_parse_mx_record(
	    "@ 60 IN MX 10 contoso-com.o-v1.mx.microsoft", &pref, host, sizeof(host)));
	CHECK_INT(pref, 10);
	CHECK_STR(host, "contoso-com.o-v1.mx.microsoft");
	CHECK(exo_parse_mx_record(
	    "contoso.com. 3600 IN MX 0 Contoso-COM.o-v1.mx.microsoft.", &pref, host, sizeof(host)));
	CHECK_INT(pref, 0);
	CHECK_STR(host, "contoso-com.o-v1.mx.microsoft");
	CHECK(!exo_parse_mx_record("", &pref, host, sizeof(host)));
	CHECK(!exo_parse_mx_record("@ 60 IN TXT x", &pref, host, sizeof(host)));
	CHECK(!exo_parse_mx_record("@ 60 IN MX ten host", &pref, host, sizeof(host)));
	{
		char ex3[] = "EX003: The MX record for h has preference 0; the expected "
			     "preference is 10.",
		     ex1[] = "EX001: No MX record points to h.";
		char *e1[] = {ex3}, *e2[] = {ex1, ex3};
		struct exo_dnssec_status st = {.expected_preference = 10};
		char why[600];

		snprintf(st.mx_status, sizeof(st.mx_status), "Valid");
		CHECK_INT(exo_mx_judge(&st, 0, why, sizeof(why)), EXO_MX_VALID);
		snprintf(st.mx_status, sizeof(st.mx_status), "Invalid");
		st.mx_errors = e1;
		st.nmx_errors = 1;
		CHECK_INT(exo_mx_judge(&st, 0, why, sizeof(why)), EXO_MX_PREFERENCE_ONLY);
		CHECK_HAS(why, "EX003: The MX record");
		CHECK_HAS(why, "set final_preference = 10");
		CHECK_INT(exo_mx_judge(&st, 10, why, sizeof(why)), EXO_MX_INVALID);
		st.mx_errors = e2;
		st.nmx_errors = 2;
		CHECK_INT(exo_mx_judge(&st, 0, why, sizeof(why)), EXO_MX_INVALID);
		CHECK_HAS(why, "Invalid: EX001: No MX record points to h.; EX003");
	}
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		struct mx_err err = {0};

		CHECK_INT(exo_status_error("t1", "a1", errs[i].cmdlet, errs[i].subject,
			      errs[i].status, errs[i].body, &err),
		    errs[i].rc);
		CHECK_INT(err.http_status, errs[i].status);
		CHECK(!strncmp(err.msg, "exchange: ", 10));
		CHECK_HAS(err.msg, errs[i].fix);
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mxexo.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_conf();
	test_assertion();
	test_app_open();
	test_token_answers();
	test_exo_helpers();
	{
		char *cmd = NULL;

		if (asprintf(&cmd, "rm -rf %s", dir) >= 0 && system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		free(cmd);
	}
	return CHECK_DONE();
}
