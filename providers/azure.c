/* SPDX-License-Identifier: MIT */
/* providers/azure.c — the Azure DNS adapter: an OAuth2 client-credentials token from the
 * shared Microsoft identity module (src/msid, cached until it expires), then the ARM
 * record-set API, one PUT
 * or DELETE per change. Writes are compare-and-swap: If-Match with the ETag of the record set
 * we compared, If-None-Match: * when it must not exist yet; 412 means someone else changed
 * it. 429 waits for Retry-After, 5xx is retried. JSON through jansson, HTTP through src/http. */
#include <ctype.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "azure.h"
#include "http.h"
#include "msid.h"
#include "provider.h"
#include "secret.h"

#define AZ_DEFAULT_BASE	   "https://management.azure.com"
#define AZ_MAX_ATTEMPTS	   6
#define AZ_MAX_RETRY_AFTER 60.0
#define AZ_VERIFY_READS	   5

/* The last record set read or written per type, so a write can use the ETag of exactly
 * the state the engine compared. */
struct az_seen {
	bool valid;
	struct mx_rrset set;
	char *etag;	/* NULL: the set did not exist */
	char *metadata; /* its metadata (compact JSON), kept by a write; NULL: none */
};

struct az {
	char *base; /* base_url without trailing '/' */
	char *tenant, *client, *sub, *group;
	struct msid_app *app;	/* sign-in: login_url, tenant, app, client secret */
	struct az_seen seen[2]; /* [0] MX at any name, [1] TXT */
	struct az_names names;
};

/* ------------------------------------------------------------------ pure helpers */

const char *az_type_name(uint16_t type)
{
	switch (type) {
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	default:
		return NULL;
	}
}

char *az_relative_name(const char *name, const char *zone)
{
	size_t nl = strlen(name), zl = strlen(zone);

	if (!strcasecmp(name, zone))
		return strdup("@");
	if (nl <= zl + 1 || strcasecmp(name + nl - zl, zone) || name[nl - zl - 1] != '.')
		return NULL;
	return strndup(name, nl - zl - 1);
}

int az_rrset_parse(const char *body, const char *name, uint16_t type, struct mx_rrset *out,
    char **etag, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL), *props, *recs, *rec;
	const char *tname = az_type_name(type), *tag;
	size_t i;
	int rc = MX_OK;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	*etag = NULL;
	props = json_object_get(root, "properties");
	recs = json_object_get(props, type == DNS_T_MX ? "MXRecords" : "TXTRecords");
	if (!tname || !json_is_object(props) || (recs && !json_is_array(recs))) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: the %s record set of %s is not the documented JSON object; check "
		    "base_url",
		    tname ? tname : "?", name);
		goto out;
	}
	json_array_foreach(recs, i, rec)
	{
		char value[600];

		if (type == DNS_T_MX) {
			const char *host = json_string_value(json_object_get(rec, "exchange"));
			json_int_t pref = json_integer_value(json_object_get(rec, "preference"));

			if (!host || !*host || strchr(host, ' ') || pref < 0 || pref > 65535 ||
			    prov_mx_value((unsigned)pref, host, value, sizeof(value))) {
				rc = mx_err_set(err, MX_EPROVIDER,
				    "azure: cannot parse an MX record of %s; fix it in the Azure "
				    "portal",
				    name);
				goto out;
			}
			rc = prov_rrset_add(out, value, err);
		} else {
			json_t *strs = json_object_get(rec, "value"), *s;
			char *text = NULL;
			size_t len = 0, j;
			FILE *fp = open_memstream(&text, &len);

			if (!fp) {
				rc = mx_err_set(err, MX_ENOMEM, "out of memory");
				goto out;
			}
			json_array_foreach(strs, j, s)
			    fputs(json_string_value(s) ? json_string_value(s) : "", fp);
			fclose(fp);
			rc = text ? prov_rrset_add(out, text, err)
				  : mx_err_set(err, MX_ENOMEM, "out of memory");
			free(text);
		}
		if (rc)
			goto out;
	}
	if (out->n) {
		json_t *ttl = json_object_get(props, "TTL");

		if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
		    json_integer_value(ttl) > INT32_MAX) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "azure: the record set of %s has no valid TTL; check base_url", name);
			goto out;
		}
		out->ttl = (uint32_t)json_integer_value(ttl);
	}
	prov_rrset_sort(out);
	tag = json_string_value(json_object_get(root, "etag"));
	if (tag && !(*etag = strdup(tag)))
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	if (rc)
		prov_rrset_clear(out);
	json_decref(root);
	return rc;
}

char *az_metadata_of(const char *body)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *m = json_object_get(json_object_get(root, "properties"), "metadata");
	char *out = json_is_object(m) && json_object_size(m) ? json_dumps(m, JSON_COMPACT) : NULL;

	json_decref(root);
	return out;
}

char *az_rrset_body(const struct mx_rrset *want, struct mx_err *err)
{
	return az_rrset_body_meta(want, NULL, err);
}

char *az_rrset_body_meta(const struct mx_rrset *want, const char *metadata, struct mx_err *err)
{
	json_t *recs = json_array(), *root = NULL;
	char *out = NULL;

	if (!recs || !az_type_name(want->type)) {
		mx_err_set(
		    err, MX_EINVAL, "azure: this adapter writes only MX and TXT record sets");
		goto out;
	}
	for (size_t i = 0; i < want->n; i++) {
		if (want->type == DNS_T_MX) {
			char host[256];
			unsigned pref;

			if (!prov_mx_parse(want->values[i], &pref, host, sizeof(host)) ||
			    strchr(host, ' ')) {
				mx_err_set(err, MX_EINVAL,
				    "azure: the MX value \"%.80s\" for %s is malformed",
				    want->values[i], want->name);
				goto out;
			}
			json_array_append_new(recs,
			    json_pack("{s:i, s:s}", "preference", (int)pref, "exchange", host));
		} else {
			/* A TXT string holds at most 255 bytes; longer text is split. */
			const char *t = want->values[i];
			size_t len = strlen(t), at = 0;
			json_t *strs = json_array();

			do {
				size_t chunk = len - at > 255 ? 255 : len - at;

				json_array_append_new(strs, json_stringn(t + at, chunk));
				at += chunk;
			} while (at < len);
			json_array_append_new(recs, json_pack("{s:o}", "value", strs));
		}
	}
	root = json_pack("{s:{s:I, s:O}}", "properties", "TTL", (json_int_t)want->ttl,
	    want->type == DNS_T_MX ? "MXRecords" : "TXTRecords", recs);
	/* A PUT replaces the record set whole: its metadata goes with it unless sent again. */
	if (root && metadata) {
		json_t *m = json_loads(metadata, 0, NULL);

		if (json_is_object(m))
			json_object_set(json_object_get(root, "properties"), "metadata", m);
		json_decref(m);
	}
	out = root ? json_dumps(root, JSON_COMPACT) : NULL;
	if (!out)
		mx_err_set(err, MX_ENOMEM, "out of memory (or a TXT value is not UTF-8)");
out:
	json_decref(recs);
	json_decref(root);
	return out;
}

int az_token_parse(const char *body, char **token, long *expires_in, struct mx_err *err)
{
	return msid_token_parse("azure", body, token, expires_in, err);
}

int az_token_error(const struct az_names *n, long status, const char *body, struct mx_err *err)
{
	char section[160];
	struct msid_names names = {"azure", section, n->tenant_id, n->client_id, false, NULL};

	snprintf(section, sizeof(section), "[provider.%s]", n->prov);
	return msid_token_error(&names, status, body, err);
}

const char *az_error_code(const char *body, char *buf, size_t len)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *code =
	    json_string_value(json_object_get(json_object_get(root, "error"), "code"));

	snprintf(buf, len, "%s", code ? code : "");
	for (char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_')
			*p = '_';
	json_decref(root);
	return buf;
}

int az_status_error(const struct az_names *n, const char *what, bool write, long status,
    const char *body, struct mx_err *err)
{
	char code[64], detail[80] = "";
	int rc;

	if (*az_error_code(body, code, sizeof(code)))
		snprintf(detail, sizeof(detail), " %s", code);
	if (status == 401)
		rc = mx_err_set(err, MX_EAUTH,
		    "azure: Azure Resource Manager refused the access token of app %s (HTTP "
		    "401%s); "
		    "check tenant_id: it must be the tenant of subscription %s",
		    n->client_id, detail, n->subscription_id);
	else if (status == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "azure: app %s may not %s %s (HTTP 403%s); give the app DNS Zone Contributor "
		    "on the zone %s (resource group %s)",
		    n->client_id, write ? "change" : "read", what, detail, n->zone,
		    n->resource_group);
	else if (status == 404 && !strcmp(code, "ResourceGroupNotFound"))
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: resource group %s was not found in subscription %s (HTTP 404%s); fix "
		    "resource_group of [provider.%s]",
		    n->resource_group, n->subscription_id, detail, n->prov);
	else if (status == 404 && !strcmp(code, "SubscriptionNotFound"))
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: subscription %s was not found (HTTP 404%s); fix subscription_id of "
		    "[provider.%s]",
		    n->subscription_id, detail, n->prov);
	else if (status == 404 && !code[0])
		/* A 404 whose error cannot be read (a proxy's page, a cut answer) says nothing
		 * about the configuration: the run stops resumable. */
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: Azure Resource Manager answered HTTP 404 for %s without an error it "
		    "could read; resume, and if it persists check resource_group and "
		    "subscription_id of [provider.%s]",
		    what, n->prov);
	else if (status == 404)
		rc = mx_err_set(err, MX_ENOZONE,
		    "azure: DNS zone %s is not in resource group %s of subscription %s (HTTP "
		    "404%s); "
		    "fix resource_group/subscription_id of [provider.%s] or create the zone",
		    n->zone, n->resource_group, n->subscription_id, detail, n->prov);
	else if (status == 409 || status == 412)
		rc = mx_err_set(err, MX_ECONFLICT,
		    "azure: %s changed behind our back (HTTP %ld%s); check who else edits zone %s, "
		    "then resume or roll back",
		    what, status, detail, n->zone);
	else if (status == 429)
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "azure: Azure Resource Manager kept throttling requests for %s (HTTP 429) "
		    "after "
		    "%d tries; wait a few minutes, then resume",
		    what, AZ_MAX_ATTEMPTS);
	else if (status >= 500)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: Azure DNS failed with HTTP %ld%s for %s after %d tries; check Azure's "
		    "status page, then resume",
		    status, detail, what, AZ_MAX_ATTEMPTS);
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: Azure DNS refused the request for %s (HTTP %ld%s); fix the record set "
		    "in "
		    "the Azure portal or report this, then resume",
		    what, status, detail);
	if (err)
		err->http_status = (int)status;
	return rc;
}

/* True when pattern (an ARM action with '*' wildcards, compared case-insensitively, '*'
 * spanning '/') covers action. */
static bool az_action_covers(const char *pattern, const char *action)
{
	return pattern && !fnmatch(pattern, action, FNM_CASEFOLD);
}

static bool az_list_covers(json_t *list, const char *action)
{
	json_t *pat;
	size_t i;

	json_array_foreach(list, i, pat)
	{
		if (az_action_covers(json_string_value(pat), action))
			return true;
	}
	return false;
}

int az_permissions_parse(const char *body, const char *const *actions, size_t n, bool *allowed,
    char **next_link, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *value = json_object_get(root, "value"), *perm;
	const char *next = json_string_value(json_object_get(root, "nextLink"));
	size_t i;
	int rc = MX_OK;

	*next_link = NULL;
	if (!json_is_array(value)) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "azure: the permissions list is not the documented JSON object; check "
		    "base_url");
		goto out;
	}
	/* Each entry is one role's permissions: an action is allowed by an entry whose actions
	 * cover it and whose notActions do not; the entries (roles) add up. */
	json_array_foreach(value, i, perm)
	{
		json_t *acts = json_object_get(perm, "actions");
		json_t *nots = json_object_get(perm, "notActions");

		for (size_t a = 0; a < n; a++)
			if (az_list_covers(acts, actions[a]) && !az_list_covers(nots, actions[a]))
				allowed[a] = true;
	}
	if (next && *next && !(*next_link = strdup(next)))
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ the token */

/* Sends one request with retries of 429 and 5xx; *out is the last response. */
static int az_send(struct prov *p, const struct http_request *req, const char *where,
    struct http_response **out, struct mx_err *err)
{
	struct http_response *resp = NULL;
	int rc = MX_OK;

	*out = NULL;
	for (int attempt = 1;; attempt++) {
		http_response_free(resp);
		resp = NULL;
		rc = http_perform(p->http, req, &resp, err);
		if (rc) {
			mx_err_prefix(err, "azure: %s %s", req->method, where);
			goto out;
		}
		if (resp->fail == HTTP_FAIL_NONE && resp->status != 429 && resp->status < 500)
			break;
		/* Driven by the engine: a server error goes to the caller as usual, a missing
		 * answer is a passing failure; the engine retries the step after a deadline. */
		if (prov_engine_retries(p, resp)) {
			if (resp->fail == HTTP_FAIL_NONE)
				break;
			rc = prov_no_answer("azure", where, resp, err);
			goto out;
		}
		if (attempt >= AZ_MAX_ATTEMPTS) {
			if (resp->fail == HTTP_FAIL_NONE)
				break;
			rc = mx_err_set(err, MX_EPROVIDER,
			    "azure: cannot reach %s (%s) after %d tries; check base_url and "
			    "login_url of [provider.%s] and the network",
			    where, resp->error[0] ? resp->error : "no response", attempt, p->name);
			goto out;
		}
		rc = prov_wait(p, prov_retry_delay(resp, attempt, AZ_MAX_RETRY_AFTER), err);
		if (rc)
			goto out;
	}
	*out = resp;
	resp = NULL;
out:
	http_response_free(resp);
	return rc;
}

struct az_send_arg {
	struct prov *p;
	const char *where;
};

/* The token endpoint's requests go through az_send too: same retries, same no_wait. */
static int az_send_cb(
    void *arg, const struct http_request *req, struct http_response **out, struct mx_err *err)
{
	struct az_send_arg *a = arg;

	return az_send(a->p, req, a->where, out, err);
}

/* A valid access token for ARM in *token (caller frees with mx_secret_free). */
static int az_token(struct prov *p, char **token, struct mx_err *err)
{
	struct az *d = p->priv;
	struct az_send_arg arg = {p, msid_app_names(d->app)->login_url};

	return msid_token(d->app, AZ_SCOPE, az_send_cb, &arg, token, err);
}

/* ------------------------------------------------------------------ record sets */

/* One ARM request to url (absolute). cond is an If-Match/If-None-Match header line or NULL.
 * A token ARM calls expired or invalid is renewed once. */
static int az_call(struct prov *p, const char *method, const char *url, const char *cond,
    const char *body, struct http_response **out, struct mx_err *err)
{
	struct az *d = p->priv;
	struct http_request req = {0};
	char *token = NULL, *auth = NULL;
	const char *headers[5];
	int rc = MX_OK;

	*out = NULL;
	for (int round = 0; round < 2; round++) {
		char code[64];

		mx_secret_free(token);
		mx_secret_free(auth);
		token = auth = NULL;
		rc = az_token(p, &token, err);
		if (rc)
			goto out;
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
			auth = NULL;
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		headers[0] = auth;
		headers[1] = "Accept: application/json";
		headers[2] = body ? "Content-Type: application/json" : cond;
		headers[3] = body ? cond : NULL;
		headers[4] = NULL;
		req.method = method;
		req.url = url;
		req.headers = headers;
		req.body = body;
		req.body_len = body ? strlen(body) : 0;
		http_response_free(*out);
		*out = NULL;
		rc = az_send(p, &req, d->base, out, err);
		if (rc)
			goto out;
		if ((*out)->status != 401)
			break;
		az_error_code((*out)->body, code, sizeof(code));
		if (strcmp(code, "ExpiredAuthenticationToken") &&
		    strcmp(code, "InvalidAuthenticationToken"))
			break;
		msid_token_forget(d->app, AZ_SCOPE);
	}
out:
	mx_secret_free(token);
	mx_secret_free(auth);
	return rc;
}

/* The zone's ARM resource path below base_url: "/subscriptions/S/resourceGroups/G/providers/
 * Microsoft.Network/dnsZones/Z", escaped. Caller frees; NULL when out of memory. */
static char *az_zone_path(struct prov *p)
{
	struct az *d = p->priv;
	char *esc_zone = http_escape(p->zone), *esc_sub = http_escape(d->sub);
	char *esc_group = http_escape(d->group), *out = NULL;

	if (!esc_zone || !esc_sub || !esc_group ||
	    asprintf(&out,
		"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/dnsZones/%s",
		esc_sub, esc_group, esc_zone) < 0)
		out = NULL;
	free(esc_zone);
	free(esc_sub);
	free(esc_group);
	return out;
}

/* One ARM request on the record set name/type (see az_call). */
static int az_request(struct prov *p, const char *method, const char *name, uint16_t type,
    const char *cond, const char *body, struct http_response **out, struct mx_err *err)
{
	struct az *d = p->priv;
	char *rel = az_relative_name(name, p->zone), *esc_rel = NULL, *zone = az_zone_path(p);
	char *url = NULL;
	int rc;

	*out = NULL;
	esc_rel = rel && strcmp(rel, "@") ? http_escape(rel) : (rel ? strdup(rel) : NULL);
	if (!esc_rel || !zone ||
	    asprintf(&url, "%s%s/%s/%s?api-version=" AZ_API_VERSION, d->base, zone,
		az_type_name(type), esc_rel) < 0) {
		url = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = az_call(p, method, url, cond, body, out, err);
out:
	free(rel);
	free(esc_rel);
	free(zone);
	free(url);
	return rc;
}

static int az_check_name(struct prov *p, const char *name, uint16_t type, struct mx_err *err)
{
	char *rel;

	if (prov_check_name(p, name, type, err))
		return err ? err->rc : MX_EINVAL;
	rel = az_relative_name(name, p->zone);
	if (!rel)
		return mx_err_set(err, MX_EINVAL, "azure: %s is not inside zone %s", name, p->zone);
	free(rel);
	return MX_OK;
}

static struct az_seen *az_seen_slot(struct az *d, uint16_t type)
{
	return &d->seen[type == DNS_T_MX ? 0 : 1];
}

/* Remembers set, etag and metadata (taking ownership of both) as the state of
 * set->name/type. */
static void az_remember(struct az *d, const struct mx_rrset *set, char *etag, char *metadata)
{
	struct az_seen *s = az_seen_slot(d, set->type);

	prov_rrset_clear(&s->set);
	free(s->etag);
	free(s->metadata);
	s->etag = etag;
	s->metadata = metadata;
	s->valid = !prov_rrset_copy(&s->set, set, NULL);
}

/* GET: *out is the set (n == 0 when it does not exist), *etag its ETag (NULL then). */
static int az_get(struct prov *p, const char *name, uint16_t type, struct mx_rrset *out,
    char **etag, struct mx_err *err)
{
	struct az *d = p->priv;
	struct http_response *resp = NULL;
	char what[300], code[64];
	int rc;

	memset(out, 0, sizeof(*out));
	*etag = NULL;
	snprintf(what, sizeof(what), "the %s record set of %s", az_type_name(type), name);
	rc = az_request(p, "GET", name, type, NULL, NULL, &resp, err);
	if (rc)
		goto out;
	if (resp->status == 200)
		rc = az_rrset_parse(resp->body, name, type, out, etag, err);
	else if (resp->status == 404 &&
		 !strcmp(az_error_code(resp->body, code, sizeof(code)), "NotFound")) {
		/* The zone is there; the record set is not. */
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->type = type;
	} else
		rc = az_status_error(&d->names, what, false, resp->status, resp->body, err);
	if (!rc) {
		char *copy = *etag ? strdup(*etag) : NULL;

		az_remember(d, out, copy, resp->status == 200 ? az_metadata_of(resp->body) : NULL);
	}
out:
	http_response_free(resp);
	return rc;
}

static int az_read_rrset(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	char *etag = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = az_check_name(p, name, type, err);
	if (!rc)
		rc = az_get(p, name, type, out, &etag, err);
	if (!rc)
		rc = prov_settle_check(p, name, type, out, "azure: Azure DNS", err);
	if (rc)
		prov_rrset_clear(out);
	free(etag);
	return rc;
}

/* Reads until the API shows want (eventual consistency), so the engine's next
 * read-and-compare sees our own write. etag: what the write answered, or NULL. */
static int az_settle(
    struct prov *p, const struct mx_rrset *want, const char *etag, struct mx_err *err)
{
	char what[300];

	for (int i = 0; i < AZ_VERIFY_READS; i++) {
		struct mx_rrset got;
		char *tag = NULL;
		bool same;
		int rc;

		if (i)
			prov_pause(prov_backoff(i) / 2);
		rc = az_get(p, want->name, want->type, &got, &tag, err);
		same = !rc && prov_rrset_equal(&got, want, true) &&
		       (!etag || !tag || !strcmp(tag, etag));
		prov_rrset_clear(&got);
		free(tag);
		if (rc || same)
			return rc;
		/* Driven by the engine: it reads again after a deadline. */
		if (p->no_wait)
			return prov_settle_wait(p, want, "azure: Azure DNS", err);
	}
	snprintf(
	    what, sizeof(what), "the %s record set of %s", az_type_name(want->type), want->name);
	return mx_err_set(err, MX_EPROVIDER,
	    "azure: Azure DNS accepted the change to %s but still shows the old records after %d "
	    "reads; wait a minute, then resume",
	    what, AZ_VERIFY_READS);
}

static int az_replace_rrset(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	struct az *d = p->priv;
	struct az_seen *seen = az_seen_slot(d, want->type);
	struct http_response *resp = NULL;
	struct mx_rrset cur = {0}, after = {0};
	char *etag = NULL, *new_etag = NULL, *body = NULL, *cond = NULL, what[300];
	int rc;

	rc = az_check_name(p, want->name, want->type, err);
	if (rc)
		goto out;
	if (want->n && want->ttl < 1) {
		rc = mx_err_set(err, MX_EINVAL, "azure: TTL %u for %s is below the minimum of 1",
		    want->ttl, want->name);
		goto out;
	}
	snprintf(
	    what, sizeof(what), "the %s record set of %s", az_type_name(want->type), want->name);
	/* The ETag must be that of *expect: the one we read when the engine compared, or a
	 * fresh one when the zone still holds *expect. */
	if (seen->valid && !strcasecmp(seen->set.name, want->name) &&
	    prov_rrset_equal(&seen->set, expect, true) &&
	    !prov_settle_pending(p, want->name, want->type)) {
		if (seen->etag && !(etag = strdup(seen->etag))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	} else {
		rc = az_get(p, want->name, want->type, &cur, &etag, err);
		if (!rc)
			rc = prov_settle_check(
			    p, want->name, want->type, &cur, "azure: Azure DNS", err);
		if (rc)
			goto out;
		if (prov_rrset_equal(&cur, want, true))
			goto out; /* a replay after a crash: already done */
		if (!prov_rrset_equal(&cur, expect, true)) {
			rc = mx_err_set(err, MX_ECONFLICT,
			    "azure: %s changed behind our back; check who else edits zone %s, then "
			    "resume or roll back",
			    what, p->zone);
			goto out;
		}
	}
	if (!want->n && !expect->n)
		goto out;
	if (expect->n && etag)
		rc = asprintf(&cond, "If-Match: %s", etag) < 0;
	else if (!expect->n)
		rc = asprintf(&cond, "If-None-Match: *") < 0;
	if (rc) {
		cond = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (want->n) {
		/* The metadata of the state compared (the engine's read, or the read above). */
		body = az_rrset_body_meta(want,
		    seen->valid && !strcasecmp(seen->set.name, want->name) ? seen->metadata : NULL,
		    err);
		if (!body) {
			rc = err ? err->rc : MX_EINVAL;
			goto out;
		}
		rc = az_request(p, "PUT", want->name, want->type, cond, body, &resp, err);
	} else {
		rc = az_request(p, "DELETE", want->name, want->type, cond, NULL, &resp, err);
	}
	if (rc)
		goto out;
	if (resp->status == 412) {
		/* Our own earlier write may have landed before a crash; anything else is a
		 * change behind our back. */
		char *tag = NULL;

		rc = az_get(p, want->name, want->type, &after, &tag, err);
		free(tag);
		if (!rc && !prov_rrset_equal(&after, want, true))
			rc = az_status_error(&d->names, what, true, 412, resp->body, err);
		goto out;
	}
	if (want->n && (resp->status == 200 || resp->status == 201)) {
		rc = az_rrset_parse(resp->body, want->name, want->type, &after, &new_etag, err);
		if (!rc)
			rc = az_settle(p, want, new_etag, err);
	} else if (!want->n && (resp->status == 200 || resp->status == 204)) {
		rc = az_settle(p, want, NULL, err);
	} else {
		rc = az_status_error(&d->names, what, true, resp->status, resp->body, err);
	}
out:
	http_response_free(resp);
	prov_rrset_clear(&cur);
	prov_rrset_clear(&after);
	free(etag);
	free(new_etag);
	free(body);
	free(cond);
	return rc;
}

/* The ARM actions a run needs on the zone: it writes the MX record set and the _mta-sts TXT
 * record set (PUT). */
static const char *const az_write_actions[] = {
    "Microsoft.Network/dnsZones/MX/write",
    "Microsoft.Network/dnsZones/TXT/write",
};
#define AZ_NWRITE     (sizeof(az_write_actions) / sizeof(az_write_actions[0]))
#define AZ_PERM_PAGES 20

/* Proves write permission without a change: ARM's permissions list of the zone resource
 * (GET {zone}/providers/Microsoft.Authorization/permissions) holds the actions and
 * notActions of every role the app has there, inherited ones included. */
static int az_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	struct az *d = p->priv;
	bool allowed[AZ_NWRITE] = {false};
	char *zone = az_zone_path(p), *url = NULL, *prefix = NULL;
	int rc = MX_OK;

	if (!zone ||
	    asprintf(&url,
		"%s%s/providers/Microsoft.Authorization/"
		"permissions?api-version=" AZ_PERM_API_VERSION,
		d->base, zone) < 0 ||
	    asprintf(&prefix, "%s/", d->base) < 0) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (int page = 0; url && page < AZ_PERM_PAGES; page++) {
		struct http_response *resp = NULL;
		char *next = NULL;

		rc = az_call(p, "GET", url, NULL, NULL, &resp, err);
		if (!rc && resp->status != 200) {
			char what[300];

			snprintf(what, sizeof(what), "the permissions list of zone %s", p->zone);
			rc = az_status_error(&d->names, what, false, resp->status, resp->body, err);
		}
		if (!rc)
			rc = az_permissions_parse(
			    resp->body, az_write_actions, AZ_NWRITE, allowed, &next, err);
		http_response_free(resp);
		free(url);
		url = NULL;
		if (rc)
			goto out;
		/* The bearer token goes to Resource Manager only: a nextLink elsewhere ends
		 * the list. */
		if (next && !strncasecmp(next, prefix, strlen(prefix)))
			url = next;
		else
			free(next);
	}
	for (size_t a = 0; a < AZ_NWRITE; a++) {
		if (allowed[a])
			continue;
		rc = mx_err_set(err, MX_EAUTH,
		    "azure: app %s may read zone %s but not change it (its roles there do not "
		    "allow %s); assign it the role DNS Zone Contributor on the zone (az role "
		    "assignment create --assignee %s --role \"DNS Zone Contributor\" --scope "
		    "%.200s)",
		    d->client, p->zone, az_write_actions[a], d->client, zone);
		goto out;
	}
	/* check's summary shows 200 characters of this: client ids are GUIDs (36). */
	snprintf(out->proved, sizeof(out->proved),
	    "app %.36s may change zone %.55s (its roles allow "
	    "Microsoft.Network/dnsZones/MX/write and TXT/write; nothing changed)",
	    d->client, p->zone);
	snprintf(out->unproved, sizeof(out->unproved),
	    "deny assignments, which Azure's permissions list does not show");
out:
	free(zone);
	free(url);
	free(prefix);
	return rc;
}

static void az_close(struct prov *p)
{
	struct az *d = p->priv;

	if (!d)
		return;
	free(d->base);
	msid_app_free(d->app);
	free(d->tenant);
	free(d->client);
	free(d->sub);
	free(d->group);
	for (int i = 0; i < 2; i++) {
		prov_rrset_clear(&d->seen[i].set);
		free(d->seen[i].etag);
		free(d->seen[i].metadata);
	}
	free(d);
	p->priv = NULL;
}

/* A copy of url without trailing '/', or NULL (err set) when it is not http(s). */
static char *az_url(
    struct prov *p, const char *key, const char *url, const char *dflt, struct mx_err *err)
{
	size_t len;
	char *out;

	if (!url || !*url)
		url = dflt;
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: %s must be an http:// or https:// URL such as %s", p->name, key,
		    dflt);
		return NULL;
	}
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	out = strndup(url, len);
	if (!out)
		mx_err_set(err, MX_ENOMEM, "out of memory");
	return out;
}

static int az_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	static const char *const required[] = {
	    "tenant_id", "client_id", "subscription_id", "resource_group"};
	struct az *d;
	char **dst[4], section[160];
	int rc = MX_OK;

	d = calloc(1, sizeof(*d));
	if (!d)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->priv = d;
	dst[0] = &d->tenant;
	dst[1] = &d->client;
	dst[2] = &d->sub;
	dst[3] = &d->group;
	for (int i = 0; i < 4; i++) {
		const char *v = mx_conf_get(cfg, required[i]);

		if (!v || !*v || strpbrk(v, " /?#&")) {
			rc = mx_err_set(err, MX_EINVAL,
			    "[provider.%s]: %s is %s; copy it from the Azure portal", p->name,
			    required[i], v && *v ? "malformed" : "missing");
			goto out;
		}
		*dst[i] = strdup(v);
		if (!*dst[i]) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	d->base = az_url(p, "base_url", mx_conf_get(cfg, "base_url"), AZ_DEFAULT_BASE, err);
	if (!d->base) {
		rc = err ? err->rc : MX_EINVAL;
		goto out;
	}
	snprintf(section, sizeof(section), "[provider.%s]", p->name);
	rc = msid_app_open(cfg, "azure", section, false, &d->app, err);
	if (rc)
		goto out;
	d->names = (struct az_names){p->name, p->zone, d->tenant, d->client, d->sub, d->group};
out:
	return rc;
}

const struct prov_ops prov_azure_ops = {
    .name = "azure",
    .caps = PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_HTTP,
    .min_ttl = 1,
    .open = az_open,
    .read_rrset = az_read_rrset,
    .replace_rrset = az_replace_rrset,
    .close = az_close,
    .check_access = az_check_access,
};
