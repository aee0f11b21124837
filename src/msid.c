/* SPDX-License-Identifier: MIT */
/* src/msid.c — OAuth 2.0 client credentials against the Microsoft identity platform, with a
 * client secret or a certificate assertion; a process-wide token cache. JSON through
 * jansson, signing and base64 through OpenSSL, HTTP through the caller's send function. */
#include "msid.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secret.h"

#define MSID_TOKEN_MARGIN   60 /* renew this many seconds before a token expires */
#define MSID_ASSERTION_LIFE 600

struct msid_app {
	char *who, *section;
	char *login; /* without trailing '/' */
	char *tenant, *client;
	char *secret;	 /* client secret, or NULL */
	char *cert_pem;	 /* key + certificate, or NULL */
	char *cert_path; /* for messages */
	struct msid_names names;
};

/* ------------------------------------------------------------------ pure helpers */

char *msid_b64url(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	int n;

	if (!out)
		return NULL;
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (char *c = out; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	return out;
}

static char *b64url_json(json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL, *out;

	if (!s)
		return NULL;
	out = msid_b64url((const unsigned char *)s, strlen(s));
	free(s);
	return out;
}

/* The RSA key and the certificate of a PEM text; both NULL on failure (err set). */
static int load_pem(
    const char *pem, const char *what, EVP_PKEY **key, X509 **cert, struct mx_err *err)
{
	BIO *kb = BIO_new_mem_buf(pem, -1), *cb = BIO_new_mem_buf(pem, -1);
	int rc = MX_OK;

	*key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	*cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	if (!*key || EVP_PKEY_get_base_id(*key) != EVP_PKEY_RSA)
		rc = mx_err_set(err, MX_EINVAL,
		    "%s holds no unencrypted RSA private key in PEM form; put the app "
		    "certificate's "
		    "key (BEGIN PRIVATE KEY) and the certificate in that file",
		    what);
	else if (!*cert)
		rc = mx_err_set(err, MX_EINVAL,
		    "%s holds no certificate in PEM form; append the certificate registered with "
		    "the "
		    "app (BEGIN CERTIFICATE) to the key",
		    what);
	else if (X509_check_private_key(*cert, *key) != 1)
		rc = mx_err_set(err, MX_EINVAL,
		    "%s: the private key does not belong to the certificate; put the matching key "
		    "and certificate in that file",
		    what);
	if (rc) {
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
	}
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

int msid_assertion(const char *pem, const char *what, const char *client_id, const char *token_url,
    time_t now, char **jwt, struct mx_err *err)
{
	json_t *hdr = NULL, *claims = NULL;
	char *h64 = NULL, *c64 = NULL, *input = NULL, *s64 = NULL, *thumb = NULL, jti[33];
	unsigned char *sig = NULL, digest[EVP_MAX_MD_SIZE], rnd[16];
	unsigned int dlen = 0;
	size_t siglen = 0;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	EVP_MD_CTX *md = NULL;
	int rc;

	*jwt = NULL;
	rc = load_pem(pem, what, &key, &cert, err);
	if (rc)
		goto out;
	if (X509_digest(cert, EVP_sha256(), digest, &dlen) != 1 || RAND_bytes(rnd, 16) != 1) {
		rc = mx_err_set(
		    err, MX_EINVAL, "%s: cannot compute the certificate's thumbprint", what);
		goto out;
	}
	for (int i = 0; i < 16; i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	thumb = msid_b64url(digest, dlen);
	hdr = thumb ? json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "x5t#S256", thumb)
		    : NULL;
	claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", token_url, "iss",
	    client_id, "sub", client_id, "jti", jti, "nbf", (json_int_t)now, "iat", (json_int_t)now,
	    "exp", (json_int_t)now + MSID_ASSERTION_LIFE);
	h64 = b64url_json(hdr);
	c64 = b64url_json(claims);
	if (!h64 || !c64 || asprintf(&input, "%s.%s", h64, c64) < 0) {
		input = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
	    !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
	    !(s64 = msid_b64url(sig, siglen)) || asprintf(jwt, "%s.%s", input, s64) < 0) {
		*jwt = NULL;
		rc = mx_err_set(err, MX_EINVAL,
		    "%s: signing the sign-in assertion with the certificate's key failed; check "
		    "the key",
		    what);
	}
out:
	json_decref(hdr);
	json_decref(claims);
	free(h64);
	free(c64);
	free(input);
	free(s64);
	free(sig);
	free(thumb);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int msid_token_parse(
    const char *who, const char *body, char **token, long *expires_in, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *tok = json_string_value(json_object_get(root, "access_token"));
	json_t *exp = json_object_get(root, "expires_in");
	int rc = MX_OK;

	*token = NULL;
	*expires_in = 0;
	if (!tok || !*tok) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "%s: the token endpoint's answer has no access_token; check login_url", who);
		goto out;
	}
	/* expires_in is a number, or a string of digits on older endpoints. */
	if (json_is_integer(exp))
		*expires_in = (long)json_integer_value(exp);
	else if (json_is_string(exp))
		*expires_in = atol(json_string_value(exp));
	if (*expires_in <= 0)
		*expires_in = 3599;
	*token = strdup(tok);
	if (!*token)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	json_decref(root);
	return rc;
}

/* The AADSTS number of a token error answer: error_codes[0], or the digits after "AADSTS"
 * in error_description; 0 when neither is there. */
static long aadsts(json_t *root)
{
	json_t *codes = json_array_get(json_object_get(root, "error_codes"), 0);
	const char *desc = json_string_value(json_object_get(root, "error_description"));
	const char *at = desc ? strstr(desc, "AADSTS") : NULL;

	if (json_is_integer(codes))
		return (long)json_integer_value(codes);
	return at ? atol(at + 6) : 0;
}

int msid_token_error(const struct msid_names *n, long status, const char *body, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *error = json_string_value(json_object_get(root, "error"));
	long code = aadsts(root);
	char what[64];
	int rc;

	if (code)
		snprintf(what, sizeof(what), "AADSTS%ld", code);
	else
		snprintf(what, sizeof(what), "%.40s", error ? error : "no reason given");
	for (char *p = what; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (n->certificate && (code == 700027 || code == 700024 || code == 7000274 ||
				  code == 700023 || code == 7000215 || code == 7000222))
		rc = mx_err_set(err, MX_EAUTH,
		    "%s: the certificate of app %s was refused by tenant %s (HTTP %ld, %s); upload "
		    "the certificate of certificate_file in %s to the app registration "
		    "(Certificates & secrets) and check the machine's clock",
		    n->who, n->client_id, n->tenant_id, status, what, n->section);
	else if (code == 7000215 || code == 7000222 || code == 7000216)
		rc = mx_err_set(err, MX_EAUTH,
		    "%s: the client secret of app %s was refused by tenant %s (HTTP %ld, %s); "
		    "create a new client secret for the app and put it in "
		    "client_secret_file/client_secret_env of %s",
		    n->who, n->client_id, n->tenant_id, status, what, n->section);
	else if (code == 700016)
		rc = mx_err_set(err, MX_EAUTH,
		    "%s: app %s was not found in tenant %s (HTTP %ld, %s); check client_id and "
		    "tenant_id of %s",
		    n->who, n->client_id, n->tenant_id, status, what, n->section);
	else if (code == 90002 || code == 900023)
		rc = mx_err_set(err, MX_EAUTH,
		    "%s: tenant %s was not found (HTTP %ld, %s); check tenant_id of %s", n->who,
		    n->tenant_id, status, what, n->section);
	else
		rc = mx_err_set(err, MX_EAUTH,
		    "%s: sign-in of app %s in tenant %s failed (HTTP %ld, %s); check tenant_id, "
		    "client_id and the %s of %s",
		    n->who, n->client_id, n->tenant_id, status, what,
		    n->certificate ? "certificate" : "client secret", n->section);
	if (err)
		err->http_status = (int)status;
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ the app */

void msid_app_free(struct msid_app *a)
{
	if (!a)
		return;
	free(a->who);
	free(a->section);
	free(a->login);
	free(a->tenant);
	free(a->client);
	free(a->cert_path);
	mx_secret_free(a->secret);
	mx_secret_free(a->cert_pem);
	free(a);
}

const struct msid_names *msid_app_names(const struct msid_app *a)
{
	return &a->names;
}

int msid_app_open(const struct mx_conf_section *s, const char *who, const char *section,
    bool allow_cert, struct msid_app **out, struct mx_err *err)
{
	const char *cert = allow_cert ? mx_conf_get(s, "certificate_file") : NULL;
	const char *login = mx_conf_get(s, "login_url");
	struct msid_app *a = calloc(1, sizeof(*a));
	size_t len;
	int rc = MX_OK;

	*out = NULL;
	if (!a)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	a->who = strdup(who);
	a->section = strdup(section);
	if (!a->who || !a->section) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "client_id" : "tenant_id";
		const char *v = mx_conf_get(s, key);
		char **dst = i ? &a->client : &a->tenant;

		if (!v || !*v || strpbrk(v, " /?#&%")) {
			rc = mx_err_set(err, MX_EINVAL,
			    "%s: %s is %s; copy it from the app registration in the Entra admin "
			    "center",
			    section, key, v && *v ? "malformed" : "missing");
			goto out;
		}
		if (!(*dst = strdup(v))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!login || !*login)
		login = MSID_DEFAULT_LOGIN;
	if (strncasecmp(login, "http://", 7) && strncasecmp(login, "https://", 8)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s: login_url must be an http:// or https:// URL such as " MSID_DEFAULT_LOGIN,
		    section);
		goto out;
	}
	len = strlen(login);
	while (len && login[len - 1] == '/')
		len--;
	if (!(a->login = strndup(login, len))) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (cert && (mx_conf_get(s, "client_secret_env") || mx_conf_get(s, "client_secret_file"))) {
		rc = mx_err_set(err, MX_EINVAL,
		    "config %s line %d: %s sets both a client secret and certificate_file; keep "
		    "one",
		    s->file ? s->file : "(defaults)", mx_conf_line(s, "certificate_file"), section);
		goto out;
	}
	if (cert) {
		EVP_PKEY *key = NULL;
		X509 *x = NULL;
		char what[300];

		snprintf(what, sizeof(what), "%s: certificate_file %s", section, cert);
		rc = mx_secret_read_file(cert, section, &a->cert_pem, &len, err);
		if (!rc)
			rc = load_pem(a->cert_pem, what, &key, &x, err);
		EVP_PKEY_free(key);
		X509_free(x);
		if (rc)
			goto out;
		if (!(a->cert_path = strdup(cert))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	} else {
		rc = mx_secret_load(
		    s, "client_secret_env", "client_secret_file", false, &a->secret, err);
		if (rc)
			goto out;
		if (!a->secret) {
			rc = mx_err_set(err, MX_EINVAL,
			    "%s needs a credential: set client_secret_env (an environment "
			    "variable's name) or client_secret_file (a file with mode 600)%s",
			    section,
			    allow_cert ? ", or certificate_file (key + certificate, mode 600)"
				       : "");
			goto out;
		}
	}
	a->names = (struct msid_names){
	    a->who, a->section, a->tenant, a->client, a->cert_pem != NULL, a->login};
out:
	if (rc)
		msid_app_free(a);
	else
		*out = a;
	return rc;
}

/* ------------------------------------------------------------------ the token cache */

/* One process serves many domains with one or two apps: a short list is enough. */
struct cached {
	struct cached *next;
	char *key; /* login|tenant|client|credential kind|scope */
	char *token;
	time_t expires; /* CLOCK_MONOTONIC seconds */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache;

static time_t monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static char *cache_key(const struct msid_app *a, const char *scope)
{
	char *key = NULL;

	if (asprintf(&key, "%s|%s|%s|%s|%s", a->login, a->tenant, a->client,
		a->cert_pem ? "cert" : "secret", scope) < 0)
		return NULL;
	return key;
}

void msid_token_forget(struct msid_app *a, const char *scope)
{
	char *key = cache_key(a, scope);

	pthread_mutex_lock(&cache_lock);
	for (struct cached *c = cache; key && c; c = c->next) {
		if (!strcmp(c->key, key)) {
			mx_secret_free(c->token);
			c->token = NULL;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	free(key);
}

/* Stores token (taking ownership) under key (taking ownership). */
static void cache_put(char *key, char *token, long expires_in)
{
	struct cached *c;

	pthread_mutex_lock(&cache_lock);
	for (c = cache; c && strcmp(c->key, key); c = c->next)
		;
	if (!c && (c = calloc(1, sizeof(*c)))) {
		c->key = key;
		key = NULL;
		c->next = cache;
		cache = c;
	}
	if (c) {
		mx_secret_free(c->token);
		c->token = token;
		token = NULL;
		c->expires = monotonic() + (expires_in > 2 * MSID_TOKEN_MARGIN
						   ? expires_in - MSID_TOKEN_MARGIN
						   : expires_in / 2);
	}
	pthread_mutex_unlock(&cache_lock);
	free(key);
	mx_secret_free(token);
}

/* The form body of the token request (caller frees with mx_secret_free). */
static int token_form(
    struct msid_app *a, const char *scope, const char *url, char **form, struct mx_err *err)
{
	char *esc_id = http_escape(a->client), *esc_scope = http_escape(scope), *esc_cred = NULL;
	char *jwt = NULL, what[300];
	int rc = MX_OK;

	*form = NULL;
	if (a->cert_pem) {
		snprintf(what, sizeof(what), "%s: certificate_file %s", a->section, a->cert_path);
		rc = msid_assertion(a->cert_pem, what, a->client, url, time(NULL), &jwt, err);
		if (rc)
			goto out;
		esc_cred = http_escape(jwt);
	} else {
		esc_cred = http_escape(a->secret);
	}
	if (!esc_id || !esc_scope || !esc_cred) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (a->cert_pem)
		rc = asprintf(form,
			 "grant_type=client_credentials&client_id=%s&scope=%s&client_assertion_"
			 "type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type%%3Ajwt-"
			 "bearer&client_assertion=%s",
			 esc_id, esc_scope, esc_cred) < 0;
	else
		rc = asprintf(form,
			 "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s",
			 esc_id, esc_cred, esc_scope) < 0;
	if (rc) {
		*form = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	}
out:
	free(esc_id);
	free(esc_scope);
	mx_secret_free(esc_cred);
	mx_secret_free(jwt);
	return rc;
}

int msid_token(struct msid_app *a, const char *scope, msid_send_fn *send, void *arg, char **token,
    struct mx_err *err)
{
	static const char *const headers[] = {
	    "Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL};
	struct http_request req = {0};
	struct http_response *resp = NULL;
	char *key = cache_key(a, scope), *url = NULL, *form = NULL, *fresh = NULL;
	long expires_in = 0;
	int rc = MX_OK;

	*token = NULL;
	if (!key) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&cache_lock);
	for (struct cached *c = cache; c; c = c->next)
		if (!strcmp(c->key, key) && c->token && monotonic() < c->expires)
			*token = strdup(c->token);
	pthread_mutex_unlock(&cache_lock);
	if (*token)
		goto out;
	if (asprintf(&url, "%s/%s/oauth2/v2.0/token", a->login, a->tenant) < 0) {
		url = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = token_form(a, scope, url, &form, err);
	if (rc)
		goto out;
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = form;
	req.body_len = strlen(form);
	rc = send(arg, &req, &resp, err);
	if (rc)
		goto out;
	if (resp->status != 200) {
		rc = msid_token_error(&a->names, resp->status, resp->body, err);
		goto out;
	}
	rc = msid_token_parse(a->who, resp->body, &fresh, &expires_in, err);
	if (rc)
		goto out;
	*token = strdup(fresh);
	if (!*token) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	cache_put(key, fresh, expires_in);
	key = fresh = NULL;
out:
	http_response_free(resp);
	free(key);
	free(url);
	mx_secret_free(form);
	mx_secret_free(fresh);
	return rc;
}
