/* SPDX-License-Identifier: MIT */
/* providers/powerdns.c — the PowerDNS Authoritative adapter: RRsets read and replaced through
 * the HTTP API (/api/v1), one PATCH per change (atomic, no compare-and-swap: the engine re-reads
 * right before it writes). JSON through jansson, HTTP through src/http. */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "powerdns.h"
#include "provider.h"
#include "secret.h"

struct pdns {
	char *url;	 /* as configured, without trailing '/', for messages */
	char *base;	 /* url + "/api/v1/servers/" + escaped server_id */
	char *server;	 /* server_id */
	char *api_key;	 /* the secret; only ever put into the X-API-Key header */
	char *zone_id;	 /* PowerDNS's id of p->zone: its name, or looked up (pdns_zone_id) */
	bool zone_known; /* the server confirmed zone_id (the lookup, or a 200 on the zone) */
	/* The records PowerDNS holds disabled in the MX and the TXT RRset, read with the whole
	 * zone before the first write of each: no resolver sees them, and every write keeps them
	 * (a REPLACE would drop them). */
	struct kept {
		bool read; /* an RRset of this type was read (name says which) */
		struct mx_rrset set;
	} kept[2];
};

static struct kept *kept_slot(struct pdns *d, uint16_t type)
{
	return type == DNS_T_MX ? &d->kept[0] : type == DNS_T_TXT ? &d->kept[1] : NULL;
}

/* ------------------------------------------------------------------ pure helpers */

const char *pdns_type_name(uint16_t type)
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

char *pdns_txt_quote(const char *text)
{
	size_t len = strlen(text), at = 0, outlen = 0;
	char *out = NULL;
	FILE *fp = open_memstream(&out, &outlen);

	if (!fp)
		return NULL;
	/* A character-string holds at most 255 bytes (RFC 1035 §3.3); longer text becomes
	 * several strings that readers concatenate (RFC 7208 §3.3). */
	do {
		size_t chunk = len - at > 255 ? 255 : len - at;

		if (at)
			fputc(' ', fp);
		fputc('"', fp);
		for (size_t i = at; i < at + chunk; i++) {
			unsigned char c = (unsigned char)text[i];

			if (c == '"' || c == '\\')
				fprintf(fp, "\\%c", c);
			else if (c < 0x20 || c > 0x7e)
				fprintf(fp, "\\%03u", c);
			else
				fputc(c, fp);
		}
		fputc('"', fp);
		at += chunk;
	} while (at < len);
	if (fclose(fp)) {
		free(out);
		return NULL;
	}
	return out;
}

char *pdns_txt_unquote(const char *content)
{
	const unsigned char *s = (const unsigned char *)content;
	char *out = NULL;
	size_t outlen = 0;
	bool ok = true;
	FILE *fp = open_memstream(&out, &outlen);

	if (!fp)
		return NULL;
	while (ok && *s) {
		bool quoted;

		if (isspace(*s)) {
			s++;
			continue;
		}
		quoted = *s == '"';
		if (quoted)
			s++;
		for (;;) {
			unsigned c = *s;

			if (!c) {
				ok = !quoted;
				break;
			}
			if (quoted && c == '"') {
				s++;
				break;
			}
			if (!quoted && isspace(c))
				break;
			s++;
			if (c == '\\') {
				if (isdigit(s[0])) {
					if (!isdigit(s[1]) || !isdigit(s[2])) {
						ok = false;
						break;
					}
					c = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 +
						       (s[2] - '0'));
					s += 3;
					/* A NUL cannot live in the canonical C string. */
					if (c == 0 || c > 255) {
						ok = false;
						break;
					}
				} else if (!*s) {
					ok = false;
					break;
				} else {
					c = *s++;
				}
			}
			fputc((int)c, fp);
		}
	}
	if (fclose(fp) || !ok) {
		free(out);
		return NULL;
	}
	return out;
}

char *pdns_content_to_value(uint16_t type, const char *content)
{
	if (type == DNS_T_TXT)
		return pdns_txt_unquote(content);
	if (type == DNS_T_MX) {
		char host[256], value[300];
		unsigned pref;

		if (!prov_mx_parse(content, &pref, host, sizeof(host)) || strchr(host, ' ') ||
		    prov_mx_value(pref, host, value, sizeof(value)))
			return NULL;
		return strdup(value);
	}
	return NULL;
}

char *pdns_value_to_content(uint16_t type, const char *value)
{
	if (type == DNS_T_TXT)
		return pdns_txt_quote(value);
	if (type == DNS_T_MX) {
		char host[256], *out = NULL;
		unsigned pref;
		size_t len;

		if (!prov_mx_parse(value, &pref, host, sizeof(host)) || strchr(host, ' '))
			return NULL;
		len = strlen(host);
		if (asprintf(&out, "%u %s%s", pref, host, host[len - 1] == '.' ? "" : ".") < 0)
			return NULL;
		return out;
	}
	return NULL;
}

/* A TTL as DNS allows it (RFC 2181 §8: 0 to 2^31 - 1). */
static bool ttl_ok(const json_t *ttl)
{
	return json_is_integer(ttl) && json_integer_value(ttl) >= 0 &&
	       json_integer_value(ttl) <= INT32_MAX;
}

/* True when the API's absolute name ("x.contoso.com.") is canonical name ("x.contoso.com"). */
static bool name_matches(const char *api_name, const char *name)
{
	size_t len = strlen(name);

	return !strncasecmp(api_name, name, len) && api_name[len] == '.' && !api_name[len + 1];
}

int pdns_zone_id_parse(const char *body, const char *zone, char **id, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL), *z;
	size_t i;
	int rc = MX_OK;

	*id = NULL;
	if (!json_is_array(root)) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "powerdns: the zone list is not the JSON array the API documents; check that "
		    "url "
		    "points at the PowerDNS webserver");
		goto out;
	}
	json_array_foreach(root, i, z)
	{
		const char *name = json_string_value(json_object_get(z, "name"));
		const char *zid = json_string_value(json_object_get(z, "id"));

		if (name && zid && name_matches(name, zone)) {
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

int pdns_rrset_parse(
    const char *body, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	return pdns_rrset_parse_kept(body, name, type, out, NULL, err);
}

int pdns_rrset_parse_kept(const char *body, const char *name, uint16_t type, struct mx_rrset *out,
    struct mx_rrset *disabled, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL), *rrsets, *set;
	const char *tname = pdns_type_name(type);
	size_t i;
	int rc = MX_OK;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	if (disabled) {
		memset(disabled, 0, sizeof(*disabled));
		snprintf(disabled->name, sizeof(disabled->name), "%s", name);
		disabled->type = type;
	}
	rrsets = json_object_get(root, "rrsets");
	if (!tname || !json_is_array(rrsets)) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "powerdns: the zone answer for %s has no \"rrsets\" array; check that url "
		    "points "
		    "at the PowerDNS webserver",
		    name);
		goto out;
	}
	json_array_foreach(rrsets, i, set)
	{
		const char *sname = json_string_value(json_object_get(set, "name"));
		const char *stype = json_string_value(json_object_get(set, "type"));
		json_t *records = json_object_get(set, "records"), *rec;
		size_t j;

		if (!sname || !stype || strcasecmp(stype, tname) || !name_matches(sname, name))
			continue;
		if (!ttl_ok(json_object_get(set, "ttl"))) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "powerdns: the %s RRset of %s has no valid TTL; fix it in PowerDNS",
			    tname, name);
			goto out;
		}
		out->ttl = (uint32_t)json_integer_value(json_object_get(set, "ttl"));
		if (disabled)
			disabled->ttl = out->ttl;
		json_array_foreach(records, j, rec)
		{
			const char *content = json_string_value(json_object_get(rec, "content"));
			bool off = json_is_true(json_object_get(rec, "disabled"));
			char *value;

			if (off && !disabled)
				continue;
			value = content ? pdns_content_to_value(type, content) : NULL;
			if (!value) {
				rc = mx_err_set(err, MX_EPROVIDER,
				    "powerdns: cannot parse the %s record \"%.80s\" of %s; fix it "
				    "in "
				    "PowerDNS",
				    tname, content ? content : "(no content)", name);
				goto out;
			}
			rc = prov_rrset_add(off ? disabled : out, value, err);
			free(value);
			if (rc)
				goto out;
		}
	}
	if (!out->n)
		out->ttl = 0;
	prov_rrset_sort(out);
	if (disabled)
		prov_rrset_sort(disabled);
out:
	if (rc) {
		prov_rrset_clear(out);
		if (disabled)
			prov_rrset_clear(disabled);
	}
	json_decref(root);
	return rc;
}

/* Appends the records of set to records, each {"content", "disabled": off}; skips a value
 * that skip holds (PowerDNS refuses the same record twice in an RRset). */
static int patch_records(json_t *records, const struct mx_rrset *set, const struct mx_rrset *skip,
    bool off, struct mx_err *err)
{
	const char *tname = pdns_type_name(set->type);

	for (size_t i = 0; i < set->n; i++) {
		char *content;
		bool dup = false;

		for (size_t k = 0; skip && k < skip->n && !dup; k++)
			dup = !strcmp(skip->values[k], set->values[i]);
		if (dup)
			continue;
		content = pdns_value_to_content(set->type, set->values[i]);
		if (!content)
			return mx_err_set(err, MX_EINVAL,
			    "powerdns: the %s value \"%.80s\" for %s is malformed", tname,
			    set->values[i], set->name);
		json_array_append_new(
		    records, json_pack("{s:s, s:b}", "content", content, "disabled", off));
		free(content);
	}
	return MX_OK;
}

char *pdns_patch_body(const struct mx_rrset *want, struct mx_err *err)
{
	return pdns_patch_body_kept(want, NULL, err);
}

char *pdns_patch_body_kept(
    const struct mx_rrset *want, const struct mx_rrset *disabled, struct mx_err *err)
{
	const char *tname = pdns_type_name(want->type);
	json_t *root = NULL, *records = json_array();
	char *fqdn = NULL, *out = NULL;
	bool keep = disabled && disabled->n && !strcmp(disabled->name, want->name) &&
		    disabled->type == want->type;

	if (!tname) {
		mx_err_set(err, MX_EINVAL, "powerdns: this adapter writes only MX and TXT RRsets");
		goto out;
	}
	if (asprintf(&fqdn, "%s.", want->name) < 0 || !records) {
		fqdn = NULL;
		mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (patch_records(records, want, NULL, false, err) ||
	    (keep && patch_records(records, disabled, want, true, err)))
		goto out;
	/* Without a record to serve, the disabled ones stay, at the TTL they had. */
	if (want->n || keep)
		root = json_pack("{s:[{s:s, s:s, s:I, s:s, s:O}]}", "rrsets", "name", fqdn, "type",
		    tname, "ttl",
		    (json_int_t)(want->n	 ? want->ttl
				 : disabled->ttl ? disabled->ttl
						 : 3600),
		    "changetype", "REPLACE", "records", records);
	else
		root = json_pack("{s:[{s:s, s:s, s:s}]}", "rrsets", "name", fqdn, "type", tname,
		    "changetype", "DELETE");
	out = root ? json_dumps(root, JSON_COMPACT) : NULL;
	if (!out)
		mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	json_decref(records);
	json_decref(root);
	free(fqdn);
	return out;
}

char *pdns_error_text(const char *body)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	const char *text = json_string_value(json_object_get(root, "error"));
	char *out = text ? strdup(text) : NULL;

	json_decref(root);
	return out;
}

int pdns_retry_after(long status, const char *retry_after)
{
	const char *p = retry_after;
	long secs = 0;

	if ((status != 429 && status != 503) || !p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++)
		if (secs <= PDNS_MAX_RETRY_AFTER)
			secs = secs * 10 + (*p - '0');
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return 0;
	return secs > PDNS_MAX_RETRY_AFTER ? PDNS_MAX_RETRY_AFTER : (int)secs;
}

/* ------------------------------------------------------------------ the API */

/* Performs one API request (path below base). *out receives any response that arrived;
 * transport failures become MX_EPROVIDER naming the URL and curl's error. */
/* Tries of one request when PowerDNS answers 5xx or 429. */
#define PDNS_ATTEMPTS 4
/* The longest pause inside a call when nobody waits for us in an event loop (no_wait
 * unset: check, plan); a longer Retry-After is cut to it. */
#define PDNS_MAX_PAUSE 60.0

static int pdns_request(struct prov *p, const char *method, const char *path, const char *body,
    struct http_response **out, struct mx_err *err)
{
	struct pdns *d = p->priv;
	struct http_request req = {0};
	struct http_response *resp = NULL;
	char *url = NULL, *key_header = NULL;
	const char *headers[4];
	int rc;

	*out = NULL;
	if (asprintf(&url, "%s%s", d->base, path) < 0 ||
	    asprintf(&key_header, "X-API-Key: %s", d->api_key) < 0) {
		url = key_header = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	headers[0] = key_header;
	headers[1] = "Accept: application/json";
	headers[2] = body ? "Content-Type: application/json" : NULL;
	headers[3] = NULL;
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	/* A read that meets a 5xx (a busy backend database, a restart) is retried a few times
	 * with a short backoff. A write is sent once: pdns_replace_rrset reads the zone before
	 * it sends it again. A 429 refuses the request, a write too, so it is sent again after
	 * the wait the server asks for (Retry-After), as is a read that met a 503 with
	 * Retry-After. A wait beyond a second, when the engine drives us (no_wait), is not
	 * slept here: prov_wait returns MX_ERATELIMIT with err->retry_after, and the engine
	 * waits for it as a deadline before the step runs again. */
	for (int attempt = 1;; attempt++) {
		bool get = !method || !strcmp(method, "GET");
		double wait;
		int ra;

		rc = http_perform(p->http, &req, &resp, err);
		if (rc) {
			mx_err_prefix(err, "powerdns: %s %s", method ? method : "GET", d->url);
			goto out;
		}
		if (attempt >= PDNS_ATTEMPTS || resp->fail != HTTP_FAIL_NONE)
			break;
		ra = pdns_retry_after(resp->status, http_header(resp, "Retry-After"));
		if (resp->status == 429 || (get && ra > 0)) {
			wait = ra > 0 ? ra : prov_backoff(attempt);
			if (!p->no_wait && wait > PDNS_MAX_PAUSE)
				wait = PDNS_MAX_PAUSE;
			http_response_free(resp);
			resp = NULL;
			rc = prov_wait(p, wait, err);
			if (rc)
				goto out;
			continue;
		}
		if (resp->status < 500 || !get)
			break;
		http_response_free(resp);
		resp = NULL;
		/* Driven by the engine: tried again at once (a busy backend's lock is held for
		 * milliseconds), never after a pause; the last 5xx goes to the engine, which
		 * runs the step again after a deadline. */
		if (!p->no_wait)
			prov_pause(prov_backoff(attempt));
	}
	if (resp->fail != HTTP_FAIL_NONE) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "powerdns: cannot reach the API at %s (%s); check url in [provider.%s] and "
		    "that "
		    "the PowerDNS webserver is running",
		    d->url, resp->error[0] ? resp->error : "no response", p->name);
		http_response_free(resp);
		goto out;
	}
	*out = resp;
out:
	free(url);
	mx_secret_free(key_header);
	return rc;
}

/* Turns an unexpected HTTP status into one actionable error. what names the object
 * ("zone contoso.com", "the MX RRset of contoso.com"). */
static int pdns_status_error(
    struct prov *p, const struct http_response *resp, const char *what, struct mx_err *err)
{
	struct pdns *d = p->priv;
	char *text = pdns_error_text(resp->body);
	long st = resp->status;
	int ra = pdns_retry_after(st, http_header(resp, "Retry-After")), rc;

	if (st == 401 || st == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "powerdns: the API key was refused (HTTP %ld); check api_key_file/api_key_env "
		    "of [provider.%s] and the webserver's api-key",
		    st, p->name);
	else if (st == 404)
		rc = mx_err_set(err, MX_ENOZONE,
		    "powerdns: zone %s is not on server %s at %s (HTTP 404); `pdnsutil "
		    "list-all-zones` on that server lists its zones — choose the provider that "
		    "holds %s, or fix server_id",
		    p->zone, d->server, d->url, p->zone);
	else if (ra > 0)
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "powerdns: the API asked us to wait %d s (HTTP %ld) for %s; a run waits and "
		    "tries again by itself, otherwise try again then",
		    ra, st, what);
	else if (st == 429)
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "powerdns: the API asked us to slow down (HTTP 429) for %s; a run waits and "
		    "tries again by itself, otherwise try again in a minute",
		    what);
	else if (st == 400 || st == 422)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "powerdns: the server rejected the change to %s (HTTP %ld): %.120s", what, st,
		    text ? text : "no reason given");
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "powerdns: unexpected HTTP %ld for %s from %s%s%.100s; check the server's log",
		    st, what, d->url, text ? ": " : "", text ? text : "");
	err->http_status = (int)st;
	/* The engine waits this long, as a deadline, before the step runs again. */
	err->retry_after = rc == MX_ERATELIMIT ? (ra > 0 ? ra : 1) : 0;
	free(text);
	return rc;
}

/* GET of the path fmt makes (below the server's base): *resp as pdns_request leaves it. */
static int pdns_get(struct prov *p, struct http_response **resp, struct mx_err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int pdns_get(
    struct prov *p, struct http_response **resp, struct mx_err *err, const char *fmt, ...)
{
	va_list ap;
	char *path = NULL;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&path, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	rc = pdns_request(p, "GET", path, NULL, resp, err);
	free(path);
	return rc;
}

/* Asks the server for PowerDNS's id of p->zone (GET /zones?zone=): sets zone_id and
 * zone_known, or says precisely what is wrong (the server id, a zone not on the server). */
static int pdns_zone_lookup(struct prov *p, struct mx_err *err)
{
	struct pdns *d = p->priv;
	struct http_response *resp = NULL;
	char *fqdn = NULL, *esc = NULL;
	int rc;

	free(d->zone_id);
	d->zone_id = NULL;
	d->zone_known = false;
	if (asprintf(&fqdn, "%s.", p->zone) < 0 || !(esc = http_escape(fqdn))) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = pdns_get(p, &resp, err, "/zones?zone=%s", esc);
	if (rc)
		goto out;
	if (resp->status == 404) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "powerdns: server %s is not known at %s (HTTP 404); fix server_id in "
		    "[provider.%s]",
		    d->server, d->url, p->name);
		err->http_status = 404;
		goto out;
	}
	if (resp->status != 200) {
		rc = pdns_status_error(p, resp, p->zone, err);
		goto out;
	}
	rc = pdns_zone_id_parse(resp->body, p->zone, &d->zone_id, err);
	d->zone_known = !rc && d->zone_id;
	if (!rc && !d->zone_id)
		rc = mx_err_set(err, MX_ENOZONE,
		    "powerdns: zone %s is not on server %s at %s; `pdnsutil list-all-zones` on "
		    "that server lists its zones — create it there, or choose the provider that "
		    "serves it",
		    p->zone, d->server, d->url);
out:
	http_response_free(resp);
	free(fqdn);
	free(esc);
	return rc;
}

/* PowerDNS's id of p->zone. A zone whose name holds only letters, digits, '-' and '.' has
 * its name as id (the API escapes other characters as "=XX"), so no request is needed: a
 * run's first read confirms it (zone_known); a 404 or 422 on it asks the server
 * (pdns_zone_lookup). Any other name is looked up first. */
static int pdns_zone_id(struct prov *p, struct mx_err *err)
{
	struct pdns *d = p->priv;
	bool plain = p->zone[0] != '\0';

	if (d->zone_id)
		return MX_OK;
	for (const char *c = p->zone; *c && plain; c++)
		plain = isalnum((unsigned char)*c) || *c == '-' || *c == '.';
	if (!plain)
		return pdns_zone_lookup(p, err);
	if (asprintf(&d->zone_id, "%s.", p->zone) < 0) {
		d->zone_id = NULL;
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	d->zone_known = false;
	return MX_OK;
}

/* Before a change: the id must be the server's (a 422 on a PATCH may mean either an unknown
 * zone or a refused change). A run's read before its write has confirmed it already. */
static int pdns_zone_confirmed(struct prov *p, struct mx_err *err)
{
	struct pdns *d = p->priv;
	int rc = pdns_zone_id(p, err);

	return rc || d->zone_known ? rc : pdns_zone_lookup(p, err);
}

/* The path of the zone's resource, "/zones/{id}". Caller frees. */
static char *pdns_zone_path(struct pdns *d)
{
	char *esc = http_escape(d->zone_id), *path = NULL;

	if (esc && asprintf(&path, "/zones/%s", esc) < 0)
		path = NULL;
	free(esc);
	return path;
}

/* Reads one RRset. whole: without the rrset_name/rrset_type filter, which PowerDNS 4.7 applies
 * to the disabled records too (it leaves them out): the whole zone, whose disabled records of
 * the RRset are then kept for the writes (d->kept). */
static int pdns_read(struct prov *p, const char *name, uint16_t type, bool whole,
    struct mx_rrset *out, struct mx_err *err)
{
	struct pdns *d = p->priv;
	struct http_response *resp = NULL;
	char *zpath = NULL, *fqdn = NULL, *esc = NULL;
	char what[300];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = prov_check_name(p, name, type, err);
	if (rc)
		goto out;
	rc = pdns_zone_id(p, err);
	if (rc)
		goto out;
	snprintf(what, sizeof(what), "the %s RRset of %s", pdns_type_name(type), name);
	if (asprintf(&fqdn, "%s.", name) < 0 || !(esc = http_escape(fqdn))) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	/* rrset_name/rrset_type narrow the answer to the one RRset (the sandbox's PowerDNS 4.7.3
	 * honours them); a server that does not know them sends the whole zone, from which
	 * pdns_rrset_parse picks the RRset all the same. */
	for (int round = 0; round < 2; round++) {
		free(zpath);
		http_response_free(resp);
		resp = NULL;
		if (!(zpath = pdns_zone_path(d))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		if (whole)
			rc = pdns_get(p, &resp, err, "%s?rrsets=true", zpath);
		else
			rc = pdns_get(p, &resp, err, "%s?rrsets=true&rrset_name=%s&rrset_type=%s",
			    zpath, esc, pdns_type_name(type));
		if (rc)
			goto out;
		/* Not found under the id taken from its name: ask the server (the precise
		 * error, or its own id for the zone), then read again. */
		if (d->zone_known || round || (resp->status != 404 && resp->status != 422))
			break;
		if ((rc = pdns_zone_lookup(p, err)))
			goto out;
	}
	if (resp->status == 200)
		d->zone_known = true;
	if (resp->status != 200) {
		rc = pdns_status_error(p, resp, what, err);
		goto out;
	}
	{
		struct kept *k = whole ? kept_slot(d, type) : NULL;
		struct mx_rrset off;

		rc = pdns_rrset_parse_kept(resp->body, name, type, out, &off, err);
		if (!rc && k) {
			prov_rrset_clear(&k->set);
			k->set = off;
			k->read = true;
		} else if (!rc) {
			prov_rrset_clear(&off);
		}
	}
out:
	http_response_free(resp);
	free(zpath);
	free(fqdn);
	free(esc);
	return rc;
}

static int pdns_read_rrset(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	return pdns_read(p, name, type, false, out, err);
}

static int pdns_replace_rrset(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	struct pdns *d = p->priv;
	struct http_response *resp = NULL;
	struct kept *k;
	char *path = NULL, *body = NULL;
	char what[300];
	int rc;

	/* No compare-and-swap in the API: the engine re-reads before writing, and a write whose
	 * answer is lost is reconciled by reading (below). */
	rc = prov_check_name(p, want->name, want->type, err);
	if (rc)
		goto out;
	if (want->n && want->ttl < 1) {
		rc = mx_err_set(err, MX_EINVAL, "powerdns: TTL %u for %s is below the minimum of 1",
		    want->ttl, want->name);
		goto out;
	}
	rc = pdns_zone_confirmed(p, err);
	if (rc)
		goto out;
	/* The RRset's disabled records, read with the whole zone before this process's first
	 * write of it; later writes keep what the first one kept. */
	k = kept_slot(d, want->type);
	if (k && (!k->read || strcmp(k->set.name, want->name))) {
		struct mx_rrset now;

		rc = pdns_read(p, want->name, want->type, true, &now, err);
		prov_rrset_clear(&now);
		if (rc)
			goto out;
	}
	body = pdns_patch_body_kept(want, k ? &k->set : NULL, err);
	if (!body) {
		rc = err ? err->rc : MX_EINVAL;
		goto out;
	}
	path = pdns_zone_path(d);
	if (!path) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "the %s RRset of %s", pdns_type_name(want->type), want->name);
	for (int attempt = 1;; attempt++) {
		struct mx_rrset now;
		struct mx_err rerr;
		bool done, unchanged;
		int ra;

		http_response_free(resp);
		resp = NULL;
		rc = pdns_request(p, "PATCH", path, body, &resp, err);
		if (!rc && (resp->status == 204 || resp->status == 200))
			break;
		/* Refused with a wait for the engine to keep (429, Retry-After): not made. */
		if (rc == MX_ERATELIMIT)
			break;
		if (!rc && resp->status < 500) {
			rc = pdns_status_error(p, resp, what, err);
			break;
		}
		/* The answer was lost or was a 5xx: the change may or may not have been made.
		 * Read the zone: done when it holds want; sent again only while it still holds
		 * what was read before the write, never blindly. */
		if (!rc)
			rc = pdns_status_error(p, resp, what, err);
		if (attempt >= PDNS_ATTEMPTS ||
		    pdns_read_rrset(p, want->name, want->type, &now, &rerr))
			break;
		done = prov_rrset_equal(&now, want, true) || (!want->n && !now.n);
		unchanged =
		    expect && (prov_rrset_equal(&now, expect, true) || (!expect->n && !now.n));
		prov_rrset_clear(&now);
		if (done) {
			rc = MX_OK;
			break;
		}
		if (!unchanged)
			break;
		/* A 503 with Retry-After: the wait the server asked for (the engine's deadline
		 * when it is longer than a second), not a backoff. */
		ra = resp ? pdns_retry_after(resp->status, http_header(resp, "Retry-After")) : 0;
		if (ra <= 0) {
			/* Not made: sent again, after a short pause — at once when the engine
			 * drives us (no pause on its workers); after the last try's 5xx the
			 * engine sends it again after a deadline, reading the zone first. */
			if (!p->no_wait)
				prov_pause(prov_backoff(attempt));
			continue;
		}
		rc = prov_wait(p, !p->no_wait && ra > PDNS_MAX_PAUSE ? PDNS_MAX_PAUSE : ra, err);
		if (rc)
			break;
	}
out:
	http_response_free(resp);
	free(path);
	free(body);
	return rc;
}

/* Proves the key may write without changing the zone: a PATCH of the zone's MX RRset with a
 * changetype PowerDNS does not know. It checks the key before anything else (401) and then
 * refuses the whole PATCH (422 "Changetype not understood") before touching a record. */
static int pdns_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	struct pdns *d = p->priv;
	struct http_response *resp = NULL;
	char *path = NULL, *body = NULL, fqdn[256];
	json_t *doc;
	int rc;

	rc = pdns_zone_confirmed(p, err);
	if (rc)
		return rc;
	snprintf(fqdn, sizeof(fqdn), "%s.", p->zone);
	doc = json_pack("{s:[{s:s,s:s,s:s}]}", "rrsets", "name", fqdn, "type", "MX", "changetype",
	    "MXCUTOVER-ACCESS-PROBE");
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	path = pdns_zone_path(d);
	if (!body || !path) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = pdns_request(p, "PATCH", path, body, &resp, err);
	if (rc)
		goto out;
	if (resp->status == 422 || resp->status == 400)
		snprintf(out->proved, sizeof(out->proved),
		    "the API key may change zone %.100s (a probe PATCH was let through and then "
		    "refused for its unknown changetype, HTTP %ld; nothing changed)",
		    p->zone, resp->status);
	else
		rc = pdns_status_error(p, resp, p->zone, err);
out:
	http_response_free(resp);
	free(path);
	free(body);
	return rc;
}

static void pdns_close(struct prov *p)
{
	struct pdns *d = p->priv;

	if (!d)
		return;
	free(d->url);
	free(d->base);
	free(d->server);
	free(d->zone_id);
	mx_secret_free(d->api_key);
	prov_rrset_clear(&d->kept[0].set);
	prov_rrset_clear(&d->kept[1].set);
	free(d);
	p->priv = NULL;
}

static int pdns_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	const char *url = mx_conf_get(cfg, "url");
	const char *server = mx_conf_get(cfg, "server_id");
	struct pdns *d;
	char *esc = NULL;
	size_t len;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->priv = d;
	if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: url must be the PowerDNS webserver's http:// or https:// base, "
		    "e.g. url = http://127.0.0.1:8081",
		    p->name);
		goto out;
	}
	if (!server || !*server)
		server = "localhost";
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	/* Allow the base with /api/v1 already on it. */
	if (len >= 7 && !strncmp(url + len - 7, "/api/v1", 7))
		len -= 7;
	d->url = strndup(url, len);
	d->server = strdup(server);
	esc = http_escape(server);
	if (!d->url || !d->server || !esc ||
	    asprintf(&d->base, "%s/api/v1/servers/%s", d->url, esc) < 0) {
		d->base = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	rc = mx_secret_load(cfg, "api_key_env", "api_key_file", true, &d->api_key, err);
out:
	free(esc);
	return rc;
}

const struct prov_ops prov_powerdns_ops = {
    .name = "powerdns",
    .caps = PROV_CAP_ATOMIC | PROV_CAP_HTTP,
    .min_ttl = 1,
    .open = pdns_open,
    .read_rrset = pdns_read_rrset,
    .replace_rrset = pdns_replace_rrset,
    .close = pdns_close,
    .check_access = pdns_check_access,
};
