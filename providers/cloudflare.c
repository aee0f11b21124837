/* SPDX-License-Identifier: MIT */
/* providers/cloudflare.c — the Cloudflare DNS adapter: API token (Bearer), zone found by name,
 * records listed page by page and changed one record per call (creates first, deletes last,
 * so the MX RRset is never empty), 429/5xx retried, and one request budget for the whole
 * process (1200 per 5 minutes). Not atomic and no compare-and-swap: the engine re-reads and
 * compares right before it writes. JSON through jansson, HTTP through src/http. */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cloudflare.h"
#include "http.h"
#include "powerdns.h"
#include "provider.h"
#include "secret.h"

#define CF_DEFAULT_BASE	   "https://api.cloudflare.com/client/v4"
#define CF_PER_PAGE	   100
#define CF_MAX_PAGES	   1000
#define CF_MAX_ATTEMPTS	   6
#define CF_MAX_RETRY_AFTER 60.0
#define CF_VERIFY_READS	   5

struct cf {
	char *base;    /* base_url without trailing '/' */
	char *auth;    /* "Authorization: Bearer TOKEN": a secret */
	char *zone_id; /* configured, or looked up by name on first use */
	bool unknown;  /* the last write may or may not have been made (its answer was lost) */
};

/* ------------------------------------------------------------------ pure helpers */

void cf_records_clear(struct cf_records *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].value);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

uint32_t cf_ttl_effective(uint32_t api_ttl)
{
	return api_ttl == 1 ? CF_TTL_AUTO_SECONDS : api_ttl;
}

/* The "success"/"result" envelope every answer has; NULL when body is not one. */
static json_t *cf_envelope(json_t *root)
{
	if (!json_is_object(root) || !json_is_true(json_object_get(root, "success")))
		return NULL;
	return json_object_get(root, "result");
}

int cf_zone_id_parse(const char *body, const char *zone, char **id, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *result = cf_envelope(root), *z;
	size_t i;
	int rc = MX_OK;

	*id = NULL;
	if (!json_is_array(result)) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "cloudflare: the zone list for %s is not the documented JSON envelope; check "
		    "base_url",
		    zone);
		goto out;
	}
	json_array_foreach(result, i, z)
	{
		const char *name = json_string_value(json_object_get(z, "name"));
		const char *zid = json_string_value(json_object_get(z, "id"));

		if (name && zid && !strcasecmp(name, zone)) {
			if (!zid[0] || strlen(zid) > 64 || strpbrk(zid, "/?#%& ")) {
				rc = mx_err_set(err, MX_EPROVIDER,
				    "cloudflare: the zone list names %s with the id \"%.64s\", "
				    "which is "
				    "not a zone id; check base_url",
				    zone, zid);
				break;
			}
			*id = strdup(zid);
			if (!*id)
				rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			break;
		}
	}
out:
	json_decref(root);
	return rc;
}

/* One record object → canonical value; NULL when it cannot be parsed. */
static char *cf_record_value(uint16_t type, json_t *rec)
{
	const char *content = json_string_value(json_object_get(rec, "content"));

	if (!content)
		return NULL;
	if (type == DNS_T_MX) {
		json_t *prio = json_object_get(rec, "priority");
		char value[300];

		if (!json_is_integer(prio) || json_integer_value(prio) < 0 ||
		    json_integer_value(prio) > 65535 || !*content || strchr(content, ' ') ||
		    prov_mx_value(
			(unsigned)json_integer_value(prio), content, value, sizeof(value)))
			return NULL;
		return strdup(value);
	}
	/* Records created before Cloudflare required quoted TXT content are listed bare. */
	if (content[0] == '"')
		return pdns_txt_unquote(content);
	return strdup(content);
}

int cf_records_parse(const char *body, const char *name, uint16_t type, struct cf_records *out,
    int *total_pages, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *result = cf_envelope(root), *rec, *pages;
	const char *tname = pdns_type_name(type);
	size_t i;
	int rc = MX_OK;

	*total_pages = 1;
	if (!tname || !json_is_array(result)) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "cloudflare: the record list for %s is not the documented JSON envelope; check "
		    "base_url",
		    name);
		goto out;
	}
	pages = json_object_get(json_object_get(root, "result_info"), "total_pages");
	if (json_is_integer(pages) && json_integer_value(pages) > 0)
		*total_pages = json_integer_value(pages) > CF_MAX_PAGES
				   ? CF_MAX_PAGES
				   : (int)json_integer_value(pages);
	json_array_foreach(result, i, rec)
	{
		const char *rname = json_string_value(json_object_get(rec, "name"));
		const char *rtype = json_string_value(json_object_get(rec, "type"));
		const char *rid = json_string_value(json_object_get(rec, "id"));
		json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));
		struct cf_record *grown;
		char *value;

		if (!rname || !rtype || strcasecmp(rname, name) || strcasecmp(rtype, tname))
			continue;
		value = cf_record_value(type, rec);
		if (!value || !rid || ttl < 1 || ttl > INT32_MAX) {
			free(value);
			rc = mx_err_set(err, MX_EPROVIDER,
			    "cloudflare: cannot parse the %s record %s of %s; fix it in the "
			    "Cloudflare dashboard",
			    tname, rid ? rid : "(no id)", name);
			goto out;
		}
		grown = realloc(out->v, (out->n + 1) * sizeof(*grown));
		if (!grown || !(grown[out->n].id = strdup(rid))) {
			if (grown)
				out->v = grown;
			free(value);
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		out->v = grown;
		out->v[out->n].value = value;
		out->v[out->n].ttl = (uint32_t)ttl;
		out->n++;
	}
out:
	json_decref(root);
	return rc;
}

int cf_records_rrset(const struct cf_records *r, const char *name, uint16_t type,
    struct mx_rrset *out, struct mx_err *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	for (size_t i = 0; i < r->n; i++) {
		uint32_t ttl = cf_ttl_effective(r->v[i].ttl);
		bool dup = false;

		/* Identical records collapse into one RR in DNS. */
		for (size_t j = 0; j < out->n && !dup; j++)
			dup = !strcmp(out->values[j], r->v[i].value);
		if (!dup && prov_rrset_add(out, r->v[i].value, err)) {
			prov_rrset_clear(out);
			return MX_ENOMEM;
		}
		if (!i || ttl < out->ttl)
			out->ttl = ttl;
	}
	prov_rrset_sort(out);
	return MX_OK;
}

char *cf_record_body(
    const char *name, uint16_t type, const char *value, uint32_t ttl, struct mx_err *err)
{
	const char *tname = pdns_type_name(type);
	json_t *root = NULL;
	char *content = NULL, *out = NULL, host[256];
	unsigned pref = 0;

	if (type == DNS_T_MX) {
		if (!prov_mx_parse(value, &pref, host, sizeof(host)) || strchr(host, ' ')) {
			mx_err_set(err, MX_EINVAL,
			    "cloudflare: the MX value \"%.80s\" for %s is malformed", value, name);
			goto out;
		}
		root = json_pack("{s:s, s:s, s:s, s:i, s:I}", "type", tname, "name", name,
		    "content", host, "priority", (int)pref, "ttl", (json_int_t)ttl);
	} else if (type == DNS_T_TXT) {
		content = pdns_txt_quote(value);
		if (content)
			root = json_pack("{s:s, s:s, s:s, s:I}", "type", tname, "name", name,
			    "content", content, "ttl", (json_int_t)ttl);
	} else {
		mx_err_set(
		    err, MX_EINVAL, "cloudflare: this adapter writes only MX and TXT records");
		goto out;
	}
	out = root ? json_dumps(root, JSON_COMPACT) : NULL;
	if (!out)
		mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	json_decref(root);
	free(content);
	return out;
}

static bool cf_ttl_right(uint32_t api_ttl, uint32_t want)
{
	return api_ttl == want || (api_ttl == 1 && want == CF_TTL_AUTO_SECONDS);
}

static bool cf_same_host(const char *a, const char *b)
{
	const char *ha = strchr(a, ' '), *hb = strchr(b, ' ');

	return ha && hb && !strcmp(ha, hb);
}

int cf_plan(const struct cf_records *cur, const struct mx_rrset *want, struct cf_op **ops,
    size_t *nops, struct mx_err *err)
{
	bool *cur_done = calloc(cur->n + 1, sizeof(bool));
	bool *want_done = calloc(want->n + 1, sizeof(bool));
	struct cf_op *updates = calloc(want->n + 1, sizeof(*updates));
	struct cf_op *out = calloc(cur->n + want->n + 1, sizeof(*out));
	size_t n = 0, nupdates = 0;
	int rc = MX_OK;

	*ops = NULL;
	*nops = 0;
	if (!cur_done || !want_done || !updates || !out) {
		free(out);
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	/* Pass 0 keeps records that are already right; the later passes pair what is left so
	 * that a changed record is updated in place rather than deleted and created: same
	 * value (TTL changed), then the same MX host (preference changed), then any. */
	for (int pass = 0; pass < 4; pass++) {
		for (size_t w = 0; w < want->n; w++) {
			for (size_t c = 0; c < cur->n && !want_done[w]; c++) {
				const struct cf_record *r = &cur->v[c];
				bool pair;

				if (cur_done[c])
					continue;
				if (pass == 0)
					pair = !strcmp(r->value, want->values[w]) &&
					       cf_ttl_right(r->ttl, want->ttl);
				else if (pass == 1)
					pair = !strcmp(r->value, want->values[w]);
				else if (pass == 2)
					pair = want->type == DNS_T_MX &&
					       cf_same_host(r->value, want->values[w]);
				else
					pair = true;
				if (!pair)
					continue;
				cur_done[c] = want_done[w] = true;
				if (pass > 0)
					updates[nupdates++] =
					    (struct cf_op){CF_OP_UPDATE, r->id, want->values[w]};
			}
		}
	}
	/* Creates go first and deletes last, so the RRset never becomes empty on the way. */
	for (size_t w = 0; w < want->n; w++)
		if (!want_done[w])
			out[n++] = (struct cf_op){CF_OP_CREATE, NULL, want->values[w]};
	for (size_t u = 0; u < nupdates; u++)
		out[n++] = updates[u];
	for (size_t c = 0; c < cur->n; c++)
		if (!cur_done[c])
			out[n++] = (struct cf_op){CF_OP_DELETE, cur->v[c].id, NULL};
	*ops = out;
	*nops = n;
out:
	free(updates);
	free(cur_done);
	free(want_done);
	return rc;
}

/* The first entry of the "errors" array: its code (0 when none) and message. */
static int cf_first_error(json_t *root, const char **message)
{
	json_t *e = json_array_get(json_object_get(root, "errors"), 0);

	*message = json_string_value(json_object_get(e, "message"));
	return (int)json_integer_value(json_object_get(e, "code"));
}

int cf_status_error(const char *prov, const char *zone, const char *what, bool write, long status,
    const char *body, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *msg = NULL;
	int code = cf_first_error(root, &msg), rc;
	char detail[160] = "";

	if (code || msg)
		snprintf(detail, sizeof(detail), ", code %d: %.100s", code, msg ? msg : "");
	/* 9109 (invalid access token) and 6003/6111 (malformed Authorization header) are how
	 * Cloudflare answers a wrong token on some endpoints. */
	if (status == 401 || code == 9109 || code == 6003 || code == 6111 || code == 10001)
		rc = mx_err_set(err, MX_EAUTH,
		    "cloudflare: the API token was refused for zone %s (HTTP %ld%s); check "
		    "api_token_file/api_token_env of [provider.%s] and that the token is active "
		    "and "
		    "not expired",
		    zone, status, detail, prov);
	else if (status == 403 && write)
		rc = mx_err_set(err, MX_EAUTH,
		    "cloudflare: the API token cannot edit zone %s (HTTP 403); give it "
		    "Zone.DNS:Edit",
		    zone);
	else if (status == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "cloudflare: the API token cannot read zone %s (HTTP 403); give it "
		    "Zone.Zone:Read "
		    "and Zone.DNS:Edit on this zone",
		    zone);
	else if (status == 404)
		rc = mx_err_set(err, MX_ENOZONE,
		    "cloudflare: zone %s was not found at its zone id (HTTP 404); fix zone_id in "
		    "[provider.%s] or leave it out so the zone is looked up by name",
		    zone, prov);
	else if (status == 429)
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "cloudflare: the API kept answering HTTP 429 (rate limited) for %s after %d "
		    "tries; wait five minutes, then resume",
		    what, CF_MAX_ATTEMPTS);
	else if (status >= 500)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "cloudflare: the API failed with HTTP %ld for %s after %d tries%s; check "
		    "Cloudflare's status page, then resume",
		    status, what, CF_MAX_ATTEMPTS, detail);
	else if (status == 400 && code == 9021)
		rc = mx_err_set(err, MX_EINVAL,
		    "cloudflare: Cloudflare refused the TTL for %s (HTTP 400%s); use a TTL of %d "
		    "or "
		    "more (low_ttl)",
		    what, detail, CF_MIN_TTL);
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "cloudflare: the API refused the request for %s (HTTP %ld%s); fix the records "
		    "in "
		    "the Cloudflare dashboard, then resume",
		    what, status, detail);
	if (err)
		err->http_status = (int)status;
	json_decref(root);
	return rc;
}

double cf_bucket_take(struct cf_bucket *b, double now)
{
	double wait = 0;

	if (!b->started) {
		b->tokens = b->capacity;
		b->last = now;
		b->started = true;
	}
	if (now > b->last) {
		b->tokens += (now - b->last) * b->capacity / b->period;
		if (b->tokens > b->capacity)
			b->tokens = b->capacity;
		b->last = now;
	}
	b->tokens -= 1;
	if (b->tokens < 0)
		wait = -b->tokens * b->period / b->capacity;
	return wait;
}

/* ------------------------------------------------------------------ the API */

/* One budget for every Cloudflare adapter in the process: Cloudflare counts requests per
 * user, whichever zone they are for, so a run over many domains shares it. */
static pthread_mutex_t cf_budget_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cf_bucket cf_budget = {
    .capacity = CF_BUDGET_REQUESTS,
    .period = CF_BUDGET_SECONDS,
};

static int cf_budget_wait(struct prov *p, struct mx_err *err)
{
	double wait;

	pthread_mutex_lock(&cf_budget_lock);
	wait = cf_bucket_take(&cf_budget, prov_monotonic());
	pthread_mutex_unlock(&cf_budget_lock);
	return prov_wait(p, wait, err);
}

/* Performs one API request (path below base) within the budget, retrying 429 (after
 * Retry-After, at most a minute), 5xx and transport failures with backoff. *out receives
 * the last response, whatever its status; the caller maps an unexpected one. */
static int cf_request(struct prov *p, const char *method, const char *path, const char *body,
    struct http_response **out, struct mx_err *err)
{
	struct cf *d = p->priv;
	struct http_request req = {0};
	struct http_response *resp = NULL;
	const char *headers[4];
	char *url = NULL;
	int rc = MX_OK;

	*out = NULL;
	if (asprintf(&url, "%s%s", d->base, path) < 0) {
		url = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	headers[0] = d->auth;
	headers[1] = "Accept: application/json";
	headers[2] = body ? "Content-Type: application/json" : NULL;
	headers[3] = NULL;
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	for (int attempt = 1;; attempt++) {
		http_response_free(resp);
		resp = NULL;
		rc = cf_budget_wait(p, err);
		if (rc)
			goto out;
		rc = http_perform(p->http, &req, &resp, err);
		if (rc) {
			mx_err_prefix(err, "cloudflare: %s %s", method, d->base);
			goto out;
		}
		if (resp->fail == HTTP_FAIL_NONE && resp->status != 429 && resp->status < 500)
			break;
		/* A write that may have reached the API (an answer lost, a 500/502/504) is not
		 * sent again unread: a second POST would create a second record. 429 and 503
		 * refuse the request, and a refused connection never sent it. */
		if (strcmp(method, "GET") && resp->status != 429 && resp->status != 503 &&
		    resp->fail != HTTP_FAIL_CONNECT && resp->fail != HTTP_FAIL_RESOLVE) {
			d->unknown = true;
			if (resp->fail == HTTP_FAIL_NONE)
				break;
			rc = mx_err_set(err, MX_EPROVIDER,
			    "cloudflare: the answer to a change of zone %s was lost (%s); it may "
			    "or "
			    "may not have been made: resume reads the zone and goes on",
			    p->zone, resp->error[0] ? resp->error : "no response");
			goto out;
		}
		/* Driven by the engine: a server error goes to the caller as usual, a refused
		 * connection is a passing failure; the engine retries the step after a
		 * deadline. */
		if (prov_engine_retries(p, resp)) {
			char where[sizeof("the API at ") + 300];

			if (resp->fail == HTTP_FAIL_NONE)
				break;
			snprintf(where, sizeof(where), "the API at %.300s", d->base);
			rc = prov_no_answer("cloudflare", where, resp, err);
			goto out;
		}
		if (attempt >= CF_MAX_ATTEMPTS) {
			if (resp->fail == HTTP_FAIL_NONE)
				break;
			rc = mx_err_set(err, MX_EPROVIDER,
			    "cloudflare: cannot reach the API at %s (%s) after %d tries; check "
			    "base_url in [provider.%s] and the network",
			    d->base, resp->error[0] ? resp->error : "no response", attempt,
			    p->name);
			goto out;
		}
		rc = prov_wait(p, prov_retry_delay(resp, attempt, CF_MAX_RETRY_AFTER), err);
		if (rc)
			goto out;
	}
	*out = resp;
	resp = NULL;
out:
	http_response_free(resp);
	free(url);
	return rc;
}

/* Looks up (once) the zone id of p->zone by name. */
static int cf_zone_id(struct prov *p, struct mx_err *err)
{
	struct cf *d = p->priv;
	struct http_response *resp = NULL;
	char *esc = NULL, *path = NULL;
	int rc;

	if (d->zone_id)
		return MX_OK;
	esc = http_escape(p->zone);
	if (!esc || asprintf(&path, "/zones?name=%s", esc) < 0) {
		path = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = cf_request(p, "GET", path, NULL, &resp, err);
	if (rc)
		goto out;
	if (resp->status != 200) {
		rc = cf_status_error(
		    p->name, p->zone, p->zone, false, resp->status, resp->body, err);
		goto out;
	}
	rc = cf_zone_id_parse(resp->body, p->zone, &d->zone_id, err);
	if (!rc && !d->zone_id)
		rc = mx_err_set(err, MX_ENOZONE,
		    "cloudflare: zone %s is not in any account the API token can see; add the zone "
		    "to Cloudflare, or give the token Zone.Zone:Read on it (or choose the provider "
		    "that serves it)",
		    p->zone);
out:
	http_response_free(resp);
	free(esc);
	free(path);
	return rc;
}

/* Lists every record of name/type, page by page. */
static int cf_list(
    struct prov *p, const char *name, uint16_t type, struct cf_records *out, struct mx_err *err)
{
	struct cf *d = p->priv;
	char *esc = http_escape(name), what[300];
	int rc = MX_OK, pages = 1;

	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "the %s records of %s", pdns_type_name(type), name);
	if (!esc)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	for (int page = 1; page <= pages; page++) {
		struct http_response *resp = NULL;
		char *path = NULL;

		if (asprintf(&path, "/zones/%s/dns_records?type=%s&name=%s&per_page=%d&page=%d",
			d->zone_id, pdns_type_name(type), esc, CF_PER_PAGE, page) < 0) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			break;
		}
		rc = cf_request(p, "GET", path, NULL, &resp, err);
		free(path);
		if (!rc && resp->status != 200)
			rc = cf_status_error(
			    p->name, p->zone, what, false, resp->status, resp->body, err);
		if (!rc)
			rc = cf_records_parse(resp->body, name, type, out, &pages, err);
		http_response_free(resp);
		if (rc)
			break;
	}
	free(esc);
	if (rc)
		cf_records_clear(out);
	return rc;
}

static int cf_read_rrset(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	struct cf_records recs = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = prov_check_name(p, name, type, err);
	if (!rc)
		rc = cf_zone_id(p, err);
	if (!rc)
		rc = cf_list(p, name, type, &recs, err);
	if (!rc)
		rc = cf_records_rrset(&recs, name, type, out, err);
	if (!rc)
		rc = prov_settle_check(p, name, type, out, "cloudflare: the API", err);
	cf_records_clear(&recs);
	if (rc)
		prov_rrset_clear(out);
	return rc;
}

/* One call of the plan. */
static int cf_apply(struct prov *p, const struct mx_rrset *want, const struct cf_op *op,
    const char *what, struct mx_err *err)
{
	struct cf *d = p->priv;
	struct http_response *resp = NULL;
	char *path = NULL, *body = NULL;
	const char *method;
	int rc = MX_OK;

	if (op->kind != CF_OP_DELETE) {
		body = cf_record_body(want->name, want->type, op->value, want->ttl, err);
		if (!body)
			return err ? err->rc : MX_EINVAL;
	}
	if (op->kind == CF_OP_CREATE) {
		method = "POST";
		rc = asprintf(&path, "/zones/%s/dns_records", d->zone_id) < 0;
	} else {
		/* PATCH changes the fields sent and keeps the record's comment and tags. */
		method = op->kind == CF_OP_UPDATE ? "PATCH" : "DELETE";
		rc = asprintf(&path, "/zones/%s/dns_records/%s", d->zone_id, op->id) < 0;
	}
	if (rc) {
		path = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = cf_request(p, method, path, body, &resp, err);
	if (rc)
		goto out;
	if (resp->status == 200 || resp->status == 201)
		goto out;
	/* Replays after a lost answer: the record is already there, or already gone. */
	if (op->kind == CF_OP_DELETE && resp->status == 404)
		goto out;
	if (op->kind == CF_OP_CREATE && resp->status == 400) {
		json_t *root = json_loads(resp->body ? resp->body : "", 0, NULL);
		const char *msg;
		int code = cf_first_error(root, &msg);

		json_decref(root);
		if (code == 81057 || code == 81058)
			goto out;
	}
	if (op->kind == CF_OP_UPDATE && resp->status == 404) {
		rc = mx_err_set(err, MX_ECONFLICT,
		    "cloudflare: a record of %s vanished while we changed it (HTTP 404); check who "
		    "else edits zone %s, then resume or roll back",
		    what, p->zone);
		err->http_status = 404;
		goto out;
	}
	rc = cf_status_error(p->name, p->zone, what, true, resp->status, resp->body, err);
out:
	http_response_free(resp);
	free(path);
	free(body);
	return rc;
}

static int cf_replace_rrset(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	struct cf_records recs = {0};
	struct mx_rrset got = {0};
	struct cf_op *ops = NULL;
	size_t nops = 0;
	char what[300];
	int rc;

	(void)expect; /* no compare-and-swap in the API: the engine re-reads before writing */
	rc = prov_check_name(p, want->name, want->type, err);
	if (rc)
		goto out;
	if (want->n && want->ttl != 1 && want->ttl < CF_MIN_TTL) {
		rc = mx_err_set(err, MX_EINVAL,
		    "cloudflare: TTL %u for %s is below Cloudflare's minimum of %d s; set low_ttl "
		    "to "
		    "%d or more",
		    want->ttl, want->name, CF_MIN_TTL, CF_MIN_TTL);
		goto out;
	}
	snprintf(
	    what, sizeof(what), "the %s records of %s", pdns_type_name(want->type), want->name);
	rc = cf_zone_id(p, err);
	/* A change is several record calls. When the answer to one is lost, the records are
	 * read again and the rest planned from what the zone holds now: never a blind resend. */
	for (int attempt = 1; !rc; attempt++) {
		struct cf *d = p->priv;

		cf_records_clear(&recs);
		free(ops);
		ops = NULL;
		nops = 0;
		d->unknown = false;
		rc = cf_list(p, want->name, want->type, &recs, err);
		/* A change of ours the API does not list yet is never planned again. */
		if (!rc && prov_settle_pending(p, want->name, want->type)) {
			rc = cf_records_rrset(&recs, want->name, want->type, &got, err);
			if (!rc)
				rc = prov_settle_check(
				    p, want->name, want->type, &got, "cloudflare: the API", err);
			prov_rrset_clear(&got);
		}
		if (!rc)
			rc = cf_plan(&recs, want, &ops, &nops, err);
		for (size_t i = 0; !rc && i < nops; i++)
			rc = cf_apply(p, want, &ops[i], what, err);
		if (!rc || !d->unknown || attempt >= CF_MAX_ATTEMPTS)
			break;
		/* Driven by the engine: it lists the records again and plans the rest after a
		 * deadline, instead of a pause here. */
		if (p->no_wait) {
			if (err)
				err->transient = true;
			break;
		}
		rc = MX_OK;
		prov_pause(prov_backoff(attempt));
	}
	if (rc || !nops)
		goto out;
	/* The API is eventually consistent: read until it lists what we wrote, so the engine's
	 * next read-and-compare does not mistake our own change for someone else's. */
	for (int i = 0; i < CF_VERIFY_READS; i++) {
		cf_records_clear(&recs);
		prov_rrset_clear(&got);
		if (i)
			prov_pause(prov_backoff(i) / 2);
		rc = cf_list(p, want->name, want->type, &recs, err);
		if (!rc)
			rc = cf_records_rrset(&recs, want->name, want->type, &got, err);
		if (rc || prov_rrset_equal(&got, want, true))
			goto out;
		/* Driven by the engine: it reads again after a deadline. */
		if (p->no_wait) {
			rc = prov_settle_wait(p, want, "cloudflare: the API", err);
			goto out;
		}
	}
	rc = mx_err_set(err, MX_EPROVIDER,
	    "cloudflare: the API accepted the change to %s but still lists the old records after "
	    "%d reads; wait a minute, then resume",
	    what, CF_VERIFY_READS);
out:
	prov_rrset_clear(&got);
	cf_records_clear(&recs);
	free(ops);
	return rc;
}

/* The token's status from GET .../tokens/verify: MX_OK with *active, the expiry in expires
 * (or ""), or the refusal. *answered is false when the endpoint does not know the token (an
 * account-owned token asked at /user). */
static int cf_verify(struct prov *p, const char *path, bool *answered, char *status, size_t slen,
    char *expires, size_t elen, struct mx_err *err)
{
	struct http_response *resp = NULL;
	json_t *root = NULL, *result;
	int rc;

	*answered = false;
	*status = *expires = '\0';
	rc = cf_request(p, "GET", path, NULL, &resp, err);
	if (rc)
		goto out;
	root = json_loads(resp->body ? resp->body : "", 0, NULL);
	result = cf_envelope(root);
	if (resp->status == 200 && json_is_object(result)) {
		const char *st = json_string_value(json_object_get(result, "status"));
		const char *exp = json_string_value(json_object_get(result, "expires_on"));

		*answered = true;
		snprintf(status, slen, "%s", st ? st : "unknown");
		snprintf(expires, elen, "%s", exp ? exp : "");
	} else if (resp->status != 401 && resp->status != 400 && resp->status != 403 &&
		   resp->status != 404)
		rc = cf_status_error(p->name, p->zone, "the token verification", false,
		    resp->status, resp->body, err);
out:
	json_decref(root);
	http_response_free(resp);
	return rc;
}

/* The id of the account that holds the zone (GET /zones/{id}), for an account-owned token's
 * verification; "" when the answer does not say. */
static int cf_zone_account(struct prov *p, char *account, size_t len, struct mx_err *err)
{
	struct cf *d = p->priv;
	struct http_response *resp = NULL;
	json_t *root = NULL;
	const char *id;
	char *path = NULL;
	int rc;

	*account = '\0';
	if (asprintf(&path, "/zones/%s", d->zone_id) < 0)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	rc = cf_request(p, "GET", path, NULL, &resp, err);
	if (rc)
		goto out;
	root = json_loads(resp->body ? resp->body : "", 0, NULL);
	id =
	    json_string_value(json_object_get(json_object_get(cf_envelope(root), "account"), "id"));
	if (resp->status == 200 && id && *id && strlen(id) <= 64 && !strpbrk(id, "/?#%& "))
		snprintf(account, len, "%s", id);
out:
	json_decref(root);
	http_response_free(resp);
	free(path);
	return rc;
}

/* Cloudflare has no call that tests a DNS write without making it, and a token's permissions
 * can be read only by a token that also holds API Tokens Read. What can be proved: the token
 * is active (GET /user/tokens/verify, or /accounts/{account}/tokens/verify for an
 * account-owned token) and, by the read before, it may read the zone's records. A disabled or
 * expired token fails. */
static int cf_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	char status[32], expires[64], account[80], path[160], until[72] = "";
	bool answered = false;
	int rc;

	rc = cf_zone_id(p, err);
	if (!rc)
		rc = cf_verify(p, "/user/tokens/verify", &answered, status, sizeof(status), expires,
		    sizeof(expires), err);
	if (!rc && !answered) {
		rc = cf_zone_account(p, account, sizeof(account), err);
		if (!rc && *account) {
			snprintf(path, sizeof(path), "/accounts/%s/tokens/verify", account);
			rc = cf_verify(p, path, &answered, status, sizeof(status), expires,
			    sizeof(expires), err);
		}
	}
	if (rc)
		return rc;
	if (answered && strcmp(status, "active"))
		return mx_err_set(err, MX_EAUTH,
		    "cloudflare: the API token of [provider.%s] is %s; roll it or create a new "
		    "token with Zone.DNS:Edit on zone %s and point api_token_file/api_token_env at "
		    "it",
		    p->name, status, p->zone);
	if (*expires)
		snprintf(until, sizeof(until), " until %.60s", expires);
	if (answered)
		snprintf(out->unproved, sizeof(out->unproved),
		    "the token is active%s and may read zone %.80s, but Cloudflare has no way to "
		    "test Zone.DNS:Edit without changing a record; make sure the token has it",
		    until, p->zone);
	else
		snprintf(out->unproved, sizeof(out->unproved),
		    "the token may read zone %.80s, but Cloudflare did not confirm it active (its "
		    "verify endpoint does not know it) and has no way to test Zone.DNS:Edit "
		    "without changing a record; make sure the token has it",
		    p->zone);
	return MX_OK;
}

static void cf_close(struct prov *p)
{
	struct cf *d = p->priv;

	if (!d)
		return;
	free(d->base);
	free(d->zone_id);
	mx_secret_free(d->auth);
	free(d);
	p->priv = NULL;
}

static int cf_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	const char *base = mx_conf_get(cfg, "base_url");
	const char *zone_id = mx_conf_get(cfg, "zone_id");
	char *token = NULL;
	struct cf *d;
	size_t len;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->priv = d;
	if (!base || !*base)
		base = CF_DEFAULT_BASE;
	if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: base_url must be an http:// or https:// URL such as %s",
		    p->name, CF_DEFAULT_BASE);
		goto out;
	}
	len = strlen(base);
	while (len && base[len - 1] == '/')
		len--;
	d->base = strndup(base, len);
	if (!d->base || (zone_id && *zone_id && !(d->zone_id = strdup(zone_id)))) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (d->zone_id && strspn(d->zone_id, "0123456789abcdefABCDEF") != strlen(d->zone_id)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: zone_id must be the zone's hexadecimal id from the Cloudflare "
		    "dashboard (Overview, API section), or be left out",
		    p->name);
		goto out;
	}
	rc = mx_secret_load(cfg, "api_token_env", "api_token_file", true, &token, err);
	if (rc) /* its messages name [provider.NAME] */
		goto out;
	if (!*token || strpbrk(token, " \t\r\n")) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: the API token is empty or contains white space; paste the "
		    "token itself",
		    p->name);
		goto out;
	}
	if (asprintf(&d->auth, "Authorization: Bearer %s", token) < 0) {
		d->auth = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	}
out:
	mx_secret_free(token);
	return rc;
}

const struct prov_ops prov_cloudflare_ops = {
    .name = "cloudflare",
    .caps = PROV_CAP_HTTP,
    .min_ttl = CF_MIN_TTL,
    .open = cf_open,
    .read_rrset = cf_read_rrset,
    .replace_rrset = cf_replace_rrset,
    .close = cf_close,
    .check_access = cf_check_access,
};
