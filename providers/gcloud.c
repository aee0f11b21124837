/* SPDX-License-Identifier: MIT */
/* providers/gcloud.c — the Google Cloud DNS adapter: a service-account key signs an RS256 JWT
 * (OpenSSL) that the token endpoint trades for an access token, cached until it expires; the
 * v1 API reads RRsets and writes them with the Changes API, whose "deletions" must match the
 * zone exactly (412 conditionNotMet otherwise): the compare-and-swap. A change is polled
 * until "done"; the engine's propagation wait follows. JSON through jansson, HTTP through
 * src/http. */
#include <ctype.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gcloud.h"
#include "http.h"
#include "powerdns.h"
#include "provider.h"
#include "secret.h"

#define GCP_ATTEMPTS	 6   /* tries of one request on 429 / 5xx */
#define GCP_BACKOFF_MS	 250 /* first pause; doubled, at most GCP_MAX_PAUSE */
#define GCP_MAX_PAUSE	 8000
#define GCP_DONE_POLLS	 40 /* changes.get polls before we leave it to the engine's wait */
#define GCP_DONE_MAX_MS	 5000
#define GCP_TOKEN_MARGIN 60 /* seconds before expiry a cached token is renewed */

struct gcp {
	char *base; /* DNS API base, no trailing '/' */
	char *token_url;
	char *project;
	char *credentials; /* the key file's path, for messages */
	char *mzone;	   /* managed zone resource name, configured or looked up */
	struct gcp_key key;
	char *token; /* access token (secret) */
	time_t token_until;
};

/* ------------------------------------------------------------------ pure helpers */

static char *json_strdup(json_t *obj, const char *field)
{
	const char *s = json_string_value(json_object_get(obj, field));

	return s && *s ? strdup(s) : NULL;
}

int gcp_key_parse(
    const char *json, size_t len, const char *what, struct gcp_key *key, struct mx_err *err)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *type = json_string_value(json_object_get(root, "type"));
	int rc = MX_OK;

	memset(key, 0, sizeof(*key));
	if (!json_is_object(root)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s is not JSON; download a service-account key (JSON) from the Google Cloud "
		    "console",
		    what);
		goto out;
	}
	if (!type || strcmp(type, "service_account")) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s is not a service-account key (\"type\" is %s); create a key for a "
		    "service account",
		    what, type ? type : "missing");
		goto out;
	}
	key->client_email = json_strdup(root, "client_email");
	key->private_key = json_strdup(root, "private_key");
	key->private_key_id = json_strdup(root, "private_key_id");
	key->project_id = json_strdup(root, "project_id");
	if (!key->client_email || !key->private_key)
		rc = mx_err_set(err, MX_EINVAL,
		    "%s lacks \"%s\"; download the service-account key again", what,
		    key->client_email ? "private_key" : "client_email");
out:
	if (rc)
		gcp_key_free(key);
	json_decref(root);
	return rc;
}

void gcp_key_free(struct gcp_key *key)
{
	free(key->client_email);
	mx_secret_free(key->private_key);
	free(key->private_key_id);
	free(key->project_id);
	memset(key, 0, sizeof(*key));
}

char *gcp_b64url(const unsigned char *in, size_t len)
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
	char *s = json_dumps(obj, JSON_COMPACT), *out;

	if (!s)
		return NULL;
	out = gcp_b64url((const unsigned char *)s, strlen(s));
	free(s);
	return out;
}

int gcp_jwt_build(const struct gcp_key *key, const char *scope, const char *aud, time_t now,
    char **out, struct mx_err *err)
{
	json_t *hdr = NULL, *claims = NULL;
	char *h64 = NULL, *c64 = NULL, *input = NULL, *s64 = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	int rc = MX_OK;

	*out = NULL;
	hdr = key->private_key_id ? json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT",
					"kid", key->private_key_id)
				  : json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", key->client_email, "scope", scope,
	    "aud", aud, "iat", (json_int_t)now, "exp", (json_int_t)now + 3600);
	h64 = hdr ? b64url_json(hdr) : NULL;
	c64 = claims ? b64url_json(claims) : NULL;
	if (!h64 || !c64 || asprintf(&input, "%s.%s", h64, c64) < 0) {
		input = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	bio = BIO_new_mem_buf(key->private_key, -1);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: the private_key of the service-account key is not an RSA key in PEM "
		    "form; download the key again");
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
	    !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
	    !(s64 = gcp_b64url(sig, siglen)) || asprintf(out, "%s.%s", input, s64) < 0) {
		*out = NULL;
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: signing the token request with the service-account key failed; "
		    "download the key again");
	}
out:
	json_decref(hdr);
	json_decref(claims);
	free(h64);
	free(c64);
	free(input);
	free(s64);
	free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

int gcp_token_parse(const char *body, char **token, long *expires_in, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *t = json_string_value(json_object_get(root, "access_token"));
	json_t *exp = json_object_get(root, "expires_in");
	int rc = MX_OK;

	*token = NULL;
	*expires_in = json_is_integer(exp) ? (long)json_integer_value(exp) : 3600;
	if (!t || !*t)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: the token endpoint's answer holds no access_token; check token_url");
	else if (!(*token = strdup(t)))
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	json_decref(root);
	return rc;
}

/* "contoso.com." (the API's form) equals canonical name. */
static bool gcp_name_is(const char *api, const char *name)
{
	size_t len = strlen(name);

	return api && !strncasecmp(api, name, len) &&
	       (!api[len] || (api[len] == '.' && !api[len + 1]));
}

int gcp_zones_parse(
    const char *body, const char *zone, char **name, int *matches, char **next, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *zones = json_object_get(root, "managedZones"), *z;
	size_t i;
	int rc = MX_OK;

	*next = NULL;
	if (!json_is_object(root) || (zones && !json_is_array(zones))) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: the managed zone list is not the documented JSON; check base_url");
		goto out;
	}
	json_array_foreach(zones, i, z)
	{
		const char *vis = json_string_value(json_object_get(z, "visibility"));

		if (!gcp_name_is(json_string_value(json_object_get(z, "dnsName")), zone) ||
		    (vis && strcmp(vis, "public")))
			continue;
		(*matches)++;
		if (!*name && !(*name = json_strdup(z, "name"))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	*next = json_strdup(root, "nextPageToken");
out:
	json_decref(root);
	return rc;
}

int gcp_rrsets_parse(const char *body, const char *name, uint16_t type, struct mx_rrset *out,
    char **next, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *sets = json_object_get(root, "rrsets"), *set;
	const char *tname = pdns_type_name(type);
	size_t i;
	int rc = MX_OK;

	*next = NULL;
	if (!tname || !json_is_object(root) || (sets && !json_is_array(sets))) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: the record set list for %s is not the documented JSON; check base_url",
		    name);
		goto out;
	}
	json_array_foreach(sets, i, set)
	{
		json_t *datas = json_object_get(set, "rrdatas"), *d;
		const char *stype = json_string_value(json_object_get(set, "type"));
		size_t j;

		if (!gcp_name_is(json_string_value(json_object_get(set, "name")), name) || !stype ||
		    strcmp(stype, tname))
			continue;
		if (!json_is_integer(json_object_get(set, "ttl")) ||
		    json_integer_value(json_object_get(set, "ttl")) < 0 ||
		    json_integer_value(json_object_get(set, "ttl")) > INT32_MAX) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "gcloud: the %s record set of %s has no valid TTL; check base_url",
			    stype, name);
			goto out;
		}
		out->ttl = (uint32_t)json_integer_value(json_object_get(set, "ttl"));
		json_array_foreach(datas, j, d)
		{
			const char *raw = json_string_value(d);
			char *value = raw ? pdns_content_to_value(type, raw) : NULL;

			if (!value) {
				rc = mx_err_set(err, MX_EPROVIDER,
				    "gcloud: cannot parse the %s rrdata \"%.80s\" of %s; fix it in "
				    "Cloud DNS",
				    tname, raw ? raw : "(none)", name);
				goto out;
			}
			rc = prov_rrset_add(out, value, err);
			free(value);
			if (rc)
				goto out;
		}
	}
	*next = json_strdup(root, "nextPageToken");
out:
	json_decref(root);
	return rc;
}

/* {"name","type","ttl","rrdatas"} of set, or NULL with err set. */
static json_t *gcp_rrset_json(const struct mx_rrset *set, struct mx_err *err)
{
	json_t *datas = json_array(), *obj = NULL;
	char *fqdn = NULL;

	if (!datas || asprintf(&fqdn, "%s.", set->name) < 0) {
		fqdn = NULL;
		mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set->n; i++) {
		char *content = pdns_value_to_content(set->type, set->values[i]);

		if (!content) {
			mx_err_set(err, MX_EINVAL,
			    "gcloud: the %s value \"%.80s\" for %s is malformed",
			    pdns_type_name(set->type), set->values[i], set->name);
			goto out;
		}
		json_array_append_new(datas, json_string(content));
		free(content);
	}
	obj = json_pack("{s:s, s:s, s:I, s:O}", "name", fqdn, "type", pdns_type_name(set->type),
	    "ttl", (json_int_t)set->ttl, "rrdatas", datas);
	if (!obj)
		mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	json_decref(datas);
	free(fqdn);
	return obj;
}

char *gcp_change_body(
    const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	json_t *root = json_object(), *part;
	char *out = NULL;

	if (!pdns_type_name(want->type) || (expect->n && expect->type != want->type)) {
		mx_err_set(err, MX_EINVAL, "gcloud: this adapter writes only MX and TXT RRsets");
		goto out;
	}
	if (!expect->n && !want->n) {
		mx_err_set(err, MX_EINVAL, "gcloud: a change needs a deletion or an addition");
		goto out;
	}
	if (!root) {
		mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (expect->n) {
		part = gcp_rrset_json(expect, err);
		if (!part)
			goto out;
		json_object_set_new(root, "deletions", json_pack("[o]", part));
	}
	if (want->n) {
		part = gcp_rrset_json(want, err);
		if (!part)
			goto out;
		json_object_set_new(root, "additions", json_pack("[o]", part));
	}
	out = json_dumps(root, JSON_COMPACT);
	if (!out)
		mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	json_decref(root);
	return out;
}

int gcp_change_parse(
    const char *body, char *id, size_t idlen, char *status, size_t statuslen, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *i = json_string_value(json_object_get(root, "id"));
	const char *s = json_string_value(json_object_get(root, "status"));
	int rc = MX_OK;

	snprintf(id, idlen, "%s", i ? i : "");
	snprintf(status, statuslen, "%s", s ? s : "");
	if (!i || !*i || !s || !*s)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: the change answer holds no id and status; check base_url");
	json_decref(root);
	return rc;
}

bool gcp_retryable(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/* Google's error: message and the first reason of {"error":{"message","errors":[{reason}]}}. */
static void gcp_error_text(const char *body, char *reason, size_t rlen, char *msg, size_t mlen)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *e = json_object_get(root, "error");
	json_t *first = json_array_get(json_object_get(e, "errors"), 0);
	const char *r = json_string_value(json_object_get(first, "reason"));
	const char *m = json_string_value(json_object_get(e, "message"));

	if (!r)
		r = json_string_value(json_object_get(e, "status"));
	snprintf(reason, rlen, "%s", r ? r : "");
	snprintf(msg, mlen, "%s", m ? m : "");
	json_decref(root);
}

int gcp_status_error(const struct gcp_call *c, long st, const char *body, struct mx_err *err)
{
	char reason[64], msg[200];
	int rc;

	gcp_error_text(body, reason, sizeof(reason), msg, sizeof(msg));
	if (st == 401)
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: the access token was refused (HTTP 401%s%s); check that "
		    "credentials_file of [provider.%s] holds a current service-account key",
		    *reason ? ", " : "", reason, c->provider);
	else if (st == 403 && c->change)
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: the service account cannot change managed zone %s (HTTP 403); grant "
		    "it roles/dns.admin on the project or a custom role with dns.changes.create "
		    "and dns.resourceRecordSets.*",
		    c->zone);
	else if (st == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: the service account cannot read managed zone %s of project %s (HTTP "
		    "403); grant it roles/dns.admin on the project or a custom role with "
		    "dns.managedZones.list, dns.resourceRecordSets.list, dns.changes.get and "
		    "dns.changes.create",
		    c->zone, c->project);
	else if (st == 412 || st == 409 ||
		 (st == 400 &&
		     (!strcmp(reason, "conditionNotMet") || strstr(msg, "does not match"))))
		rc = mx_err_set(err, MX_ECONFLICT,
		    "gcloud: %s changed behind our back (HTTP %ld%s%s); check who changed it, then "
		    "resume or roll back",
		    c->what, st, *reason ? ", " : "", reason);
	else if (st == 404)
		rc = mx_err_set(err, MX_ENOZONE,
		    "gcloud: managed zone %s of project %s was not found (HTTP 404); fix project "
		    "or "
		    "managed_zone of [provider.%s]",
		    c->zone, c->project, c->provider);
	else if (st == 429)
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "gcloud: Cloud DNS kept asking us to slow down for %s (HTTP 429) after %d "
		    "tries; wait a minute, then resume",
		    c->what, GCP_ATTEMPTS);
	else if (*msg)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: Cloud DNS refused the request for %s (HTTP %ld%s%s: %.120s); fix the "
		    "cause and resume",
		    c->what, st, *reason ? ", " : "", reason, msg);
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: unexpected HTTP %ld for %s; check base_url of [provider.%s]", st,
		    c->what, c->provider);
	err->http_status = (int)st;
	return rc;
}

int gcp_token_error(
    const char *provider, const char *credentials, long st, const char *body, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *code = json_string_value(json_object_get(root, "error"));
	const char *desc = json_string_value(json_object_get(root, "error_description"));
	int rc;

	if (st == 400 || st == 401 || st == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: Google refused the service-account key %s (HTTP %ld, %s%s%.100s); the "
		    "key may be deleted or disabled: create a new key for the service account and "
		    "point credentials_file of [provider.%s] at it",
		    credentials, st, code ? code : "no error code", desc ? ": " : "",
		    desc ? desc : "", provider);
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: the token endpoint answered HTTP %ld; check token_url of "
		    "[provider.%s]",
		    st, provider);
	err->http_status = (int)st;
	json_decref(root);
	return rc;
}

int gcp_permissions_parse(
    const char *body, const char *const *perms, size_t n, bool *granted, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *list = json_object_get(root, "permissions"), *perm;
	size_t i;
	int rc = MX_OK;

	for (size_t k = 0; k < n; k++)
		granted[k] = false;
	/* An empty answer is "{}": Google leaves out empty lists. */
	if (!json_is_object(root) || (list && !json_is_array(list))) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "gcloud: the permission test's answer is not the documented JSON; check "
		    "base_url");
		goto out;
	}
	json_array_foreach(list, i, perm)
	{
		for (size_t k = 0; k < n; k++)
			if (json_string_value(perm) && !strcmp(json_string_value(perm), perms[k]))
				granted[k] = true;
	}
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ the API */

/* One HTTP exchange with retries on 429/5xx (Retry-After honoured). headers are borrowed. */
static int gcp_perform(struct prov *p, const char *method, const char *url, const char **headers,
    const char *body, struct http_response **out, struct mx_err *err)
{
	struct http_response *resp = NULL;
	long pause = GCP_BACKOFF_MS;
	int rc;

	*out = NULL;
	for (int attempt = 1;; attempt++) {
		struct http_request req = {0};
		const char *ra;

		req.method = method;
		req.url = url;
		req.headers = headers;
		req.body = body;
		req.body_len = body ? strlen(body) : 0;
		rc = http_perform(p->http, &req, &resp, err);
		if (rc) {
			mx_err_prefix(err, "gcloud: %s %s", method, url);
			return rc;
		}
		if (resp->fail != HTTP_FAIL_NONE) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "gcloud: cannot reach %s (%s); check base_url and token_url of "
			    "[provider.%s] and the network",
			    url, resp->error[0] ? resp->error : "no response", p->name);
			http_response_free(resp);
			return rc;
		}
		if (attempt >= GCP_ATTEMPTS || !gcp_retryable(resp->status))
			break;
		/* Driven by the engine: a server error goes to the caller, and the engine tries
		 * the step again after a deadline. */
		if (prov_engine_retries(p, resp))
			break;
		ra = http_header(resp, "Retry-After");
		if (ra && atol(ra) > 0)
			pause = atol(ra) * 1000 > GCP_MAX_PAUSE ? GCP_MAX_PAUSE : atol(ra) * 1000;
		http_response_free(resp);
		resp = NULL;
		if (prov_wait(p, (double)pause / 1000.0, err))
			return MX_ERATELIMIT;
		pause = pause * 2 > GCP_MAX_PAUSE ? GCP_MAX_PAUSE : pause * 2;
	}
	*out = resp;
	return MX_OK;
}

/* A valid access token in d->token: the cached one, or a new one from the token endpoint. */
static int gcp_token(struct prov *p, struct mx_err *err)
{
	struct gcp *d = p->priv;
	struct http_response *resp = NULL;
	const char *headers[] = {
	    "Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL};
	char *jwt = NULL, *form = NULL, *token = NULL;
	time_t now = time(NULL);
	long expires = 0;
	int rc;

	if (d->token && now < d->token_until)
		return MX_OK;
	rc = gcp_jwt_build(&d->key, GCP_SCOPE, d->token_url, now, &jwt, err);
	if (rc)
		goto out;
	if (asprintf(&form,
		"grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%"
		"s",
		jwt) < 0) {
		form = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = gcp_perform(p, "POST", d->token_url, headers, form, &resp, err);
	if (rc)
		goto out;
	if (resp->status != 200) {
		rc = gcp_token_error(p->name, d->credentials, resp->status, resp->body, err);
		goto out;
	}
	rc = gcp_token_parse(resp->body, &token, &expires, err);
	if (rc)
		goto out;
	mx_secret_free(d->token);
	d->token = token;
	d->token_until =
	    now + (expires > 2 * GCP_TOKEN_MARGIN ? expires - GCP_TOKEN_MARGIN : expires);
out:
	http_response_free(resp);
	mx_secret_free(jwt);
	mx_secret_free(form);
	return rc;
}

/* One authorised API request (path below base). */
static int gcp_request(struct prov *p, const char *method, const char *path, const char *body,
    struct http_response **out, struct mx_err *err)
{
	struct gcp *d = p->priv;
	char *url = NULL, *auth = NULL;
	const char *headers[4];
	int rc;

	*out = NULL;
	rc = gcp_token(p, err);
	if (rc)
		return rc;
	if (asprintf(&url, "%s%s", d->base, path) < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", d->token) < 0) {
		free(url);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	headers[0] = auth;
	headers[1] = "Accept: application/json";
	headers[2] = body ? "Content-Type: application/json" : NULL;
	headers[3] = NULL;
	rc = gcp_perform(p, method, url, headers, body, out, err);
	free(url);
	mx_secret_free(auth);
	return rc;
}

/* The managed zone of p->zone: configured, or looked up (once) by dnsName. */
static int gcp_zone(struct prov *p, struct mx_err *err)
{
	struct gcp *d = p->priv;
	struct gcp_call call = {p->name, d->project, p->zone, p->zone, false};
	char *proj = NULL, *dns = NULL, *page = NULL, *found = NULL;
	int rc = MX_OK, matches = 0;

	if (d->mzone)
		return MX_OK;
	proj = http_escape(d->project);
	dns = http_escape(p->zone);
	if (!proj || !dns) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (int pages = 0; pages < 100; pages++) {
		struct http_response *resp = NULL;
		char *path = NULL, *tok = page ? http_escape(page) : NULL, *next = NULL;

		if ((page && !tok) ||
		    asprintf(&path, "/projects/%s/managedZones?dnsName=%s.%s%s", proj, dns,
			tok ? "&pageToken=" : "", tok ? tok : "") < 0) {
			free(tok);
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		free(tok);
		rc = gcp_request(p, "GET", path, NULL, &resp, err);
		free(path);
		if (!rc && resp->status != 200)
			rc = gcp_status_error(&call, resp->status, resp->body, err);
		if (!rc)
			rc = gcp_zones_parse(resp->body, p->zone, &found, &matches, &next, err);
		http_response_free(resp);
		free(page);
		page = next;
		if (rc || !page)
			break;
	}
	if (rc)
		goto out;
	if (!found)
		rc = mx_err_set(err, MX_ENOZONE,
		    "gcloud: project %s has no public managed zone for %s (`gcloud dns "
		    "managed-zones list` shows its zones); create it in Cloud DNS, choose the "
		    "provider that holds it, or set managed_zone in [provider.%s]",
		    d->project, p->zone, p->name);
	else if (matches > 1)
		rc = mx_err_set(err, MX_EINVAL,
		    "gcloud: %d public managed zones of project %s serve %s; set managed_zone in "
		    "[provider.%s]",
		    matches, d->project, p->zone, p->name);
	else {
		d->mzone = found;
		found = NULL;
	}
out:
	free(proj);
	free(dns);
	free(page);
	free(found);
	return rc;
}

/* "/projects/P/managedZones/Z" + suffix; caller frees. */
static char *gcp_zone_path(struct gcp *d, const char *suffix)
{
	char *proj = http_escape(d->project), *mz = http_escape(d->mzone), *out = NULL;

	if (proj && mz && asprintf(&out, "/projects/%s/managedZones/%s%s", proj, mz, suffix) < 0)
		out = NULL;
	free(proj);
	free(mz);
	return out;
}

static int gcp_read_rrset(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	struct gcp *d = p->priv;
	char what[300], *fqdn = NULL, *page = NULL;
	struct gcp_call call = {p->name, NULL, NULL, what, false};
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	for (char *c = out->name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	out->type = type;
	rc = prov_check_name(p, name, type, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "the %s RRset of %s", pdns_type_name(type), name);
	rc = gcp_zone(p, err);
	if (rc)
		return rc;
	call.project = d->project;
	call.zone = d->mzone;
	if (asprintf(&fqdn, "%s.", out->name) < 0) {
		fqdn = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (int pages = 0; pages < 100; pages++) {
		struct http_response *resp = NULL;
		char *suffix = NULL, *path = NULL, *en = http_escape(fqdn), *next = NULL;
		char *tok = page ? http_escape(page) : NULL;

		if (!en || (page && !tok) ||
		    asprintf(&suffix, "/rrsets?name=%s&type=%s%s%s", en, pdns_type_name(type),
			tok ? "&pageToken=" : "", tok ? tok : "") < 0)
			suffix = NULL;
		path = suffix ? gcp_zone_path(d, suffix) : NULL;
		free(en);
		free(tok);
		free(suffix);
		if (!path) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		rc = gcp_request(p, "GET", path, NULL, &resp, err);
		free(path);
		if (!rc && resp->status != 200)
			rc = gcp_status_error(&call, resp->status, resp->body, err);
		if (!rc)
			rc = gcp_rrsets_parse(resp->body, out->name, type, out, &next, err);
		http_response_free(resp);
		free(page);
		page = next;
		if (rc || !page)
			break;
	}
	if (!rc) {
		if (!out->n)
			out->ttl = 0;
		prov_rrset_sort(out);
	}
out:
	if (rc)
		prov_rrset_clear(out);
	free(fqdn);
	free(page);
	return rc;
}

/* Polls changes.get until "done"; a change still pending at the end is left to the
 * engine's propagation wait (Cloud DNS has accepted it atomically). */
static int gcp_wait_done(
    struct prov *p, const char *change_id, struct gcp_call *call, struct mx_err *err)
{
	struct gcp *d = p->priv;
	char suffix[160], *path, id[128], status[32];
	long pause = GCP_BACKOFF_MS;
	int rc = MX_OK;

	snprintf(suffix, sizeof(suffix), "/changes/%s", change_id);
	path = gcp_zone_path(d, suffix);
	if (!path)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	/* With no_wait the engine's propagation wait replaces the polling. */
	for (int polls = 0; polls < GCP_DONE_POLLS && !p->no_wait; polls++) {
		struct http_response *resp = NULL;

		rc = gcp_request(p, "GET", path, NULL, &resp, err);
		if (!rc && resp->status != 200)
			rc = gcp_status_error(call, resp->status, resp->body, err);
		if (!rc)
			rc = gcp_change_parse(
			    resp->body, id, sizeof(id), status, sizeof(status), err);
		http_response_free(resp);
		if (rc || !strcmp(status, "done"))
			break;
		prov_pause((double)(pause) / 1000.0);
		pause = pause * 2 > GCP_DONE_MAX_MS ? GCP_DONE_MAX_MS : pause * 2;
	}
	free(path);
	return rc;
}

static int gcp_replace_rrset(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	struct gcp *d = p->priv;
	struct http_response *resp = NULL;
	struct mx_rrset cur = {0};
	char what[300], id[128], status[32], *body = NULL, *path = NULL;
	struct gcp_call call = {p->name, NULL, NULL, what, true};
	int rc;

	rc = prov_check_name(p, want->name, want->type, err);
	if (rc)
		goto out;
	snprintf(what, sizeof(what), "the %s RRset of %s", pdns_type_name(want->type), want->name);
	if (want->n && want->ttl < 1) {
		rc = mx_err_set(err, MX_EINVAL, "gcloud: TTL %u for %s is below the minimum of 1",
		    want->ttl, want->name);
		goto out;
	}
	if ((!expect->n && !want->n) || (expect->n && prov_rrset_equal(expect, want, true)))
		goto out;
	rc = gcp_zone(p, err);
	if (rc)
		goto out;
	call.project = d->project;
	call.zone = d->mzone;
	body = gcp_change_body(expect, want, err);
	path = gcp_zone_path(d, "/changes");
	if (!body || !path) {
		if (body)
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		else
			rc = err ? (int)err->rc : MX_EINVAL;
		goto out;
	}
	rc = gcp_request(p, "POST", path, body, &resp, err);
	if (rc)
		goto out;
	if (resp->status != 200) {
		rc = gcp_status_error(&call, resp->status, resp->body, err);
		/* Resume after a crash may send the change again: when the zone already holds
		 * *want, the refused deletion is our own earlier change, not a conflict. */
		if (rc == MX_ECONFLICT) {
			struct mx_err rerr = {0};

			if (!gcp_read_rrset(p, want->name, want->type, &cur, &rerr) &&
			    prov_rrset_equal(&cur, want, true))
				rc = MX_OK;
		}
		goto out;
	}
	rc = gcp_change_parse(resp->body, id, sizeof(id), status, sizeof(status), err);
	if (rc || !strcmp(status, "done"))
		goto out;
	rc = gcp_wait_done(p, id, &call, err);
out:
	if (!rc && err)
		mx_err_clear(err);
	prov_rrset_clear(&cur);
	http_response_free(resp);
	free(body);
	free(path);
	return rc;
}

/* What a run needs on the managed zone: changes.create with additions and deletions (the
 * change replaces an RRset: create, update or delete permission, as Cloud DNS sees it) and
 * changes.get to follow it until done. */
static const char *const gcp_write_perms[] = {
    "dns.changes.create",
    "dns.changes.get",
    "dns.resourceRecordSets.create",
    "dns.resourceRecordSets.update",
    "dns.resourceRecordSets.delete",
};
#define GCP_NPERMS (sizeof(gcp_write_perms) / sizeof(gcp_write_perms[0]))

/* Proves write permission without a change: managedZones.testIamPermissions answers which of
 * the named permissions the caller holds on the managed zone, whether granted on the zone
 * itself or inherited from the project, folder or organization. */
static int gcp_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	struct gcp *d = p->priv;
	struct http_response *resp = NULL;
	bool granted[GCP_NPERMS];
	char what[300], missing[300] = "", *path = NULL, *body = NULL;
	struct gcp_call call = {p->name, NULL, NULL, what, false};
	json_t *doc = json_array();
	int rc;

	rc = gcp_zone(p, err);
	if (rc)
		goto out;
	call.project = d->project;
	call.zone = d->mzone;
	snprintf(what, sizeof(what), "the permission test on managed zone %s", d->mzone);
	for (size_t k = 0; doc && k < GCP_NPERMS; k++)
		json_array_append_new(doc, json_string(gcp_write_perms[k]));
	doc = doc ? json_pack("{s:o}", "permissions", doc) : NULL;
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	path = gcp_zone_path(d, ":testIamPermissions");
	if (!body || !path) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = gcp_request(p, "POST", path, body, &resp, err);
	if (!rc && resp->status != 200)
		rc = gcp_status_error(&call, resp->status, resp->body, err);
	if (!rc)
		rc = gcp_permissions_parse(resp->body, gcp_write_perms, GCP_NPERMS, granted, err);
	if (rc)
		goto out;
	for (size_t k = 0; k < GCP_NPERMS; k++)
		if (!granted[k])
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
			    "%s%s", *missing ? ", " : "", gcp_write_perms[k]);
	if (*missing) {
		rc = mx_err_set(err, MX_EAUTH,
		    "gcloud: service account %.100s may read managed zone %.60s but lacks %s "
		    "there; grant it roles/dns.admin on the zone or project %.60s, or a custom "
		    "role with those permissions",
		    d->key.client_email, d->mzone, missing, d->project);
		goto out;
	}
	/* check's summary shows 200 characters of this. */
	snprintf(out->proved, sizeof(out->proved),
	    "service account %.50s may change managed zone %.40s (IAM grants it the "
	    "permissions a change needs there; nothing changed)",
	    d->key.client_email, d->mzone);
	snprintf(out->unproved, sizeof(out->unproved),
	    "Google documents its permission test as advisory (it may fail open)");
out:
	json_decref(doc);
	http_response_free(resp);
	free(path);
	free(body);
	return rc;
}

static void gcp_close(struct prov *p)
{
	struct gcp *d = p->priv;

	if (!d)
		return;
	free(d->base);
	free(d->token_url);
	free(d->project);
	free(d->credentials);
	free(d->mzone);
	gcp_key_free(&d->key);
	mx_secret_free(d->token);
	free(d);
	p->priv = NULL;
}

/* value without trailing '/' (NULL → def); caller frees. */
static char *url_key(const char *value, const char *def)
{
	size_t len;

	if (!value || !*value)
		value = def;
	len = strlen(value);
	while (len && value[len - 1] == '/')
		len--;
	return strndup(value, len);
}

static int gcp_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	const char *project = mx_conf_get(cfg, "project");
	const char *cred = mx_conf_get(cfg, "credentials_file");
	const char *mzone = mx_conf_get(cfg, "managed_zone");
	char what[300], *json = NULL;
	size_t len = 0;
	struct gcp *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->priv = d;
	d->base = url_key(mx_conf_get(cfg, "base_url"), "https://dns.googleapis.com/dns/v1");
	d->token_url =
	    url_key(mx_conf_get(cfg, "token_url"), "https://oauth2.googleapis.com/token");
	if (!d->base || !d->token_url) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if ((strncasecmp(d->base, "http://", 7) && strncasecmp(d->base, "https://", 8)) ||
	    (strncasecmp(d->token_url, "http://", 7) && strncasecmp(d->token_url, "https://", 8))) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: base_url and token_url must be https:// URLs such as "
		    "https://dns.googleapis.com/dns/v1",
		    p->name);
		goto out;
	}
	if (!cred || !*cred) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: credentials_file must name the service account's JSON key file",
		    p->name);
		goto out;
	}
	d->credentials = strdup(cred);
	snprintf(what, sizeof(what), "[provider.%s] credentials_file", p->name);
	rc = mx_secret_read_file(cred, what, &json, &len, err);
	if (rc)
		goto out;
	snprintf(what, sizeof(what), "[provider.%s]: credentials_file %s", p->name, cred);
	rc = gcp_key_parse(json, len, what, &d->key, err);
	if (rc)
		goto out;
	if (!project || !*project)
		project = d->key.project_id;
	if (!project || !*project) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: set project to the Google Cloud project that holds the zone",
		    p->name);
		goto out;
	}
	d->project = strdup(project);
	if (mzone && *mzone)
		d->mzone = strdup(mzone);
	if (!d->project || !d->credentials || (mzone && *mzone && !d->mzone))
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	mx_secret_free(json);
	return rc;
}

const struct prov_ops prov_gcloud_ops = {
    .name = "gcloud",
    .caps = PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_HTTP,
    .min_ttl = 1,
    .open = gcp_open,
    .read_rrset = gcp_read_rrset,
    .replace_rrset = gcp_replace_rrset,
    .close = gcp_close,
    .check_access = gcp_check_access,
};
