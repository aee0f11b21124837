/* SPDX-License-Identifier: MIT */
/* src/exo.c — the Exchange Online admin API client: InvokeCommand with an app-only token
 * (src/msid), retries of 429 and 5xx, one renewal of an expired token, and the mapping of
 * failures to the fix a person applies. JSON through jansson, HTTP through src/http. */
#include "exo.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "domain.h"
#include "msid.h"
#include "secret.h"

#define EXO_MAX_ATTEMPTS    6
#define EXO_MAX_RETRY_AFTER 60.0
/* The routing hint ExchangeOnlineManagement sends for app-only calls. */
#define EXO_ANCHOR "X-AnchorMailbox: APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"

struct exo_ctx {
	const struct mx_conf *conf;
	struct http_ctx *http;
	struct msid_app *app;
	char *exo_url; /* without trailing '/' */
	char *scope;   /* {exo_url}/.default */
	char *tenant, *client;
	bool no_wait;
	const char *cmdlet; /* the cmdlet exo_invoke is running, for exo_send's messages */
};

bool exo_configured(const struct mx_conf *conf)
{
	return conf && conf->exchange;
}

const char *exo_tenant(const struct exo_ctx *x)
{
	return x->tenant;
}

void exo_set_no_wait(struct exo_ctx *x, bool no_wait)
{
	x->no_wait = no_wait;
}

void exo_close(struct exo_ctx *x)
{
	if (!x)
		return;
	msid_app_free(x->app);
	free(x->exo_url);
	free(x->scope);
	free(x->tenant);
	free(x->client);
	free(x);
}

int exo_open(
    const struct mx_conf *conf, struct http_ctx *http, struct exo_ctx **out, struct mx_err *err)
{
	const struct mx_conf_section *s = conf ? conf->exchange : NULL;
	const char *url = mx_conf_get(s, "exo_url");
	struct exo_ctx *x;
	size_t len;
	int rc;

	*out = NULL;
	if (!s)
		return mx_err_set(err, MX_EINVAL,
		    "the config has no [exchange] section; add one (see docs/exchange.md) or give "
		    "the target with --target-mx");
	x = calloc(1, sizeof(*x));
	if (!x)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	x->conf = conf;
	x->http = http;
	rc = msid_app_open(s, "exchange", "[exchange]", true, &x->app, err);
	if (rc)
		goto out;
	if (!url || !*url)
		url = MX_CONF_EXO_URL;
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[exchange]: exo_url must be an https:// URL such as " MX_CONF_EXO_URL);
		goto out;
	}
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	x->exo_url = strndup(url, len);
	x->tenant = strdup(mx_conf_get(s, "tenant_id"));
	x->client = strdup(mx_conf_get(s, "client_id"));
	if (!x->exo_url || !x->tenant || !x->client ||
	    asprintf(&x->scope, "%s/.default", x->exo_url) < 0) {
		x->scope = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	}
out:
	if (rc)
		exo_close(x);
	else
		*out = x;
	return rc;
}

/* ------------------------------------------------------------------ transport */

static double backoff(int attempt)
{
	static const double steps[] = {0.5, 1, 2, 4, 8};

	return steps[attempt < 1 ? 0 : attempt > 5 ? 4 : attempt - 1];
}

/* The pause before retrying resp: its Retry-After (seconds) up to the maximum, else the
 * backoff of this attempt. */
static double retry_delay(const struct http_response *resp, int attempt)
{
	const char *ra = resp->status == 429 ? http_header(resp, "Retry-After") : NULL;
	char *end;
	double s;

	if (ra) {
		s = strtod(ra, &end);
		if (end != ra && s >= 0)
			return s > EXO_MAX_RETRY_AFTER ? EXO_MAX_RETRY_AFTER : s;
	}
	return backoff(attempt);
}

/* Whether req went to the admin API (else the sign-in endpoint). */
static bool exo_is_api(const struct exo_ctx *x, const struct http_request *req)
{
	size_t n = strlen(x->exo_url);

	return !strncmp(req->url, x->exo_url, n) && !strncmp(req->url + n, "/adminapi/", 10);
}

/* Who answered req, for messages: "Exchange Online's admin API (CMDLET)" or "the
 * Microsoft sign-in endpoint (signing in for CMDLET)". */
static void exo_who(const struct exo_ctx *x, const struct http_request *req, char *what, size_t len)
{
	bool api = exo_is_api(x, req);

	snprintf(what, len, "%s (%s%s)",
	    api ? "Exchange Online's admin API" : "the Microsoft sign-in endpoint",
	    api ? "" : "signing in for ", x->cmdlet ? x->cmdlet : "a cmdlet");
}

/* What an error's code and message say does not exist, whatever the HTTP status: the
 * cmdlet, or the object it names (a domain, a connector). No retry changes either. */
enum exo_missing { EXO_MISSING_NONE, EXO_MISSING_CMDLET, EXO_MISSING_OBJECT };

static enum exo_missing exo_missing(const char *code, const char *msg)
{
	if ((code && strstr(code, "CommandNotFound")) || (msg && strstr(msg, "is not recognized")))
		return EXO_MISSING_CMDLET;
	if ((code && strstr(code, "NotFound")) || (msg && strstr(msg, "couldn't be found")))
		return EXO_MISSING_OBJECT;
	return EXO_MISSING_NONE;
}

/* A server error whose body is a cmdlet's own failure that no retry changes (the cmdlet or
 * the object does not exist): exo_status_error says what it is. */
static bool exo_cmdlet_failure(const char *body)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *e = json_object_get(root, "error");
	bool yes = exo_missing(json_string_value(json_object_get(e, "code")),
		       json_string_value(json_object_get(e, "message"))) != EXO_MISSING_NONE;

	json_decref(root);
	return yes;
}

/* Driven by the engine (exo_set_no_wait), a call never pauses: a 429 ends it with its
 * Retry-After as MX_ERATELIMIT (at least 1 s), a 5xx or a missing answer as a passing
 * failure (MX_EPROVIDER, the status or err->transient), and the engine runs the step again
 * after a deadline (every call is safe to repeat). Whether the admin API or the sign-in
 * endpoint failed is said, never the request's body (it may hold the secret). */
static int engine_retries(const struct exo_ctx *x, const struct http_request *req,
    const struct http_response *resp, struct mx_err *err)
{
	char what[160];
	double delay;

	exo_who(x, req, what, sizeof(what));

	if (resp->fail != HTTP_FAIL_NONE) {
		mx_err_set(err, MX_EPROVIDER,
		    "exchange: cannot reach %s at %.200s (%s); check exo_url and login_url of "
		    "[exchange] and the network if it lasts",
		    what, req->url, resp->error[0] ? resp->error : "no response");
		if (err)
			err->transient = true;
		return MX_EPROVIDER;
	}
	if (resp->status == 429) {
		delay = retry_delay(resp, 1);
		mx_err_set(err, MX_ERATELIMIT,
		    "exchange: %s asked us to wait %.0f s (HTTP 429); the call is repeated then",
		    what, delay < 1 ? 1 : delay);
		if (err) {
			err->retry_after = delay < 1 ? 1 : (int)(delay + 0.999);
			err->http_status = 429;
		}
		return MX_ERATELIMIT;
	}
	mx_err_set(err, MX_EPROVIDER,
	    "exchange: %s failed with HTTP %ld; check the Microsoft 365 service health if it "
	    "lasts",
	    what, resp->status);
	if (err)
		err->http_status = (int)resp->status;
	return MX_EPROVIDER;
}

/* One request with retries of 429, 5xx and transport failures (msid_send_fn). */
static int exo_send(
    void *arg, const struct http_request *req, struct http_response **out, struct mx_err *err)
{
	struct exo_ctx *x = arg;
	struct http_response *resp = NULL;
	int rc = MX_OK;

	*out = NULL;
	for (int attempt = 1;; attempt++) {
		double delay;

		http_response_free(resp);
		resp = NULL;
		rc = http_perform(x->http, req, &resp, err);
		if (rc)
			goto out;
		if (resp->fail == HTTP_FAIL_NONE && resp->status != 429 && resp->status < 500)
			break;
		if (attempt >= EXO_MAX_ATTEMPTS) {
			if (resp->fail == HTTP_FAIL_NONE)
				break;
			char what[160];

			exo_who(x, req, what, sizeof(what));
			rc = mx_err_set(err, MX_EPROVIDER,
			    "exchange: cannot reach %s at %.200s (%s) after %d tries; "
			    "check exo_url and login_url of [exchange] and the network",
			    what, req->url, resp->error[0] ? resp->error : "no response", attempt);
			goto out;
		}
		if (x->no_wait) {
			if (resp->fail == HTTP_FAIL_NONE && resp->status >= 500 &&
			    exo_is_api(x, req) && exo_cmdlet_failure(resp->body))
				break; /* the caller says what failed */
			rc = engine_retries(x, req, resp, err);
			goto out;
		}
		delay = retry_delay(resp, attempt);
		mx_pause(delay, "the Exchange Online client");
	}
	*out = resp;
	resp = NULL;
out:
	http_response_free(resp);
	return rc;
}

/* ------------------------------------------------------------------ answers */

json_t *exo_prop(json_t *obj, const char *name)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	json_object_foreach(obj, key, v)
	{
		if (!strcasecmp(key, name))
			return v;
	}
	return NULL;
}

/* A string property copied into buf ("" when absent or not a string). */
static void prop_str(json_t *obj, const char *name, char *buf, size_t len)
{
	const char *s = json_string_value(exo_prop(obj, name));

	snprintf(buf, len, "%s", s ? s : "");
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* Copies text (Microsoft's words) for a message: printable ASCII, at most len - 1 bytes. */
static void quote(const char *text, char *buf, size_t len)
{
	size_t i = 0;

	for (; text && *text && i + 1 < len; text++)
		buf[i++] = (*text >= 0x20 && *text < 0x7f) ? *text : ' ';
	buf[i] = '\0';
}

static bool is_domain_cmdlet(const char *cmdlet)
{
	return strstr(cmdlet, "Domain") || strstr(cmdlet, "Dane");
}

int exo_status_error(const char *tenant, const char *client_id, const char *cmdlet,
    const char *subject, long status, const char *body, struct mx_err *err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL);
	json_t *e = json_object_get(root, "error");
	const char *code_s = json_string_value(json_object_get(e, "code"));
	const char *msg_s = json_string_value(json_object_get(e, "message"));
	enum exo_missing missing = exo_missing(code_s, msg_s);
	char code[64], detail[80] = "", said[200];
	int rc;

	quote(code_s, code, sizeof(code));
	for (char *p = code; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_')
			*p = '_';
	if (code[0])
		snprintf(detail, sizeof(detail), " %s", code);
	quote(msg_s, said, sizeof(said));
	if (!subject)
		subject = "";
	if (status == 401)
		rc = mx_err_set(err, MX_EAUTH,
		    "exchange: Exchange Online refused the token of app %s in tenant %s for %s "
		    "(HTTP 401%s); give the app the application permission Exchange.ManageAsApp "
		    "(Office 365 Exchange Online) and grant admin consent",
		    client_id, tenant, cmdlet, detail);
	else if (status == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "exchange: app %s may not run %s in tenant %s (HTTP 403%s); assign the app an "
		    "Exchange role that holds %s (see docs/exchange.md)",
		    client_id, cmdlet, tenant, detail, cmdlet);
	else if (missing == EXO_MISSING_CMDLET)
		rc = mx_err_set(err, MX_EINVAL,
		    "exchange: cmdlet %s is not available in tenant %s (HTTP %ld%s); the feature "
		    "has not reached this tenant or the app's Exchange role lacks it: run the step "
		    "in PowerShell, or remove [exchange] to be shown the cmdlet",
		    cmdlet, tenant, status, detail);
	else if ((status == 404 || missing == EXO_MISSING_OBJECT) && is_domain_cmdlet(cmdlet))
		rc = mx_err_set(err, MX_EINVAL,
		    "exchange: %s is not an accepted domain of tenant %s (%s: HTTP %ld%s); add and "
		    "verify it in the Microsoft 365 admin center, or check the domain name",
		    subject, tenant, cmdlet, status, detail);
	else if (status == 404 || missing == EXO_MISSING_OBJECT)
		rc = mx_err_set(err, MX_EINVAL,
		    "exchange: outbound connector \"%s\" was not found in tenant %s (%s: HTTP "
		    "%ld%s); check its name with Get-OutboundConnector",
		    subject, tenant, cmdlet, status, detail);
	else if (status == 429)
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "exchange: Exchange Online kept throttling %s (HTTP 429) after %d tries; wait "
		    "a "
		    "few minutes, then try again",
		    cmdlet, EXO_MAX_ATTEMPTS);
	else if (status >= 500)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "exchange: Exchange Online failed with HTTP %ld%s for %s after %d tries; check "
		    "the Microsoft 365 service health, then try again",
		    status, detail, cmdlet, EXO_MAX_ATTEMPTS);
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "exchange: %s %s refused (HTTP %ld%s: %s); fix what Exchange reports, then try "
		    "again",
		    cmdlet, subject, status, detail, said[0] ? said : "no reason given");
	if (err)
		err->http_status = (int)status;
	json_decref(root);
	return rc;
}

int exo_invoke(struct exo_ctx *x, const char *cmdlet, const char *subject, json_t *params,
    json_t **value, struct mx_err *err)
{
	struct http_request req = {0};
	struct http_response *resp = NULL;
	json_t *body = NULL, *root = NULL, *v;
	char *url = NULL, *text = NULL, *token = NULL, *auth = NULL, *anchor = NULL;
	const char *headers[6];
	int rc = MX_OK;

	*value = NULL;
	body = json_pack("{s:{s:s, s:o}}", "CmdletInput", "CmdletName", cmdlet, "Parameters",
	    params ? json_incref(params) : json_object());
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text ||
	    asprintf(&url, "%s/adminapi/beta/%s/InvokeCommand", x->exo_url, x->tenant) < 0 ||
	    asprintf(&anchor, EXO_ANCHOR "%s", x->tenant) < 0) {
		url = anchor = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	x->cmdlet = cmdlet;
	for (int round = 0; round < 2; round++) {
		mx_secret_free(token);
		mx_secret_free(auth);
		auth = NULL;
		rc = msid_token(x->app, x->scope, exo_send, x, &token, err);
		if (rc)
			goto out;
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
			auth = NULL;
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		headers[0] = auth;
		headers[1] = "Content-Type: application/json";
		headers[2] = "Accept: application/json";
		headers[3] = "X-ResponseFormat: json";
		headers[4] = anchor;
		headers[5] = NULL;
		req.method = "POST";
		req.url = url;
		req.headers = headers;
		req.body = text;
		req.body_len = strlen(text);
		http_response_free(resp);
		resp = NULL;
		rc = exo_send(x, &req, &resp, err); /* its errors name the cmdlet */
		if (rc)
			goto out;
		/* A token that expired (or was revoked) since we cached it: renew it once. */
		if (resp->status != 401)
			break;
		msid_token_forget(x->app, x->scope);
	}
	if (resp->status != 200 && resp->status != 204) {
		rc = exo_status_error(
		    x->tenant, x->client, cmdlet, subject, resp->status, resp->body, err);
		goto out;
	}
	if (resp->status == 204 || resp->len == 0) {
		*value = json_array();
		goto out;
	}
	root = json_loads(resp->body, 0, NULL);
	v = json_object_get(root, "value");
	if (!json_is_array(v)) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "exchange: the answer to %s is not the documented {\"value\":[…]} document; "
		    "check exo_url of [exchange]",
		    cmdlet);
		goto out;
	}
	*value = json_incref(v);
out:
	x->cmdlet = NULL;
	if (!rc && !*value)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	http_response_free(resp);
	json_decref(body);
	json_decref(root);
	free(text);
	free(url);
	free(anchor);
	mx_secret_free(token);
	mx_secret_free(auth);
	return rc;
}

/* Runs a cmdlet whose only parameter is DomainName; *first is the first output object
 * (new reference, NULL when the cmdlet returned none) when first is not NULL. */
static int invoke_domain(
    struct exo_ctx *x, const char *cmdlet, const char *domain, json_t **first, struct mx_err *err)
{
	json_t *params = json_pack("{s:s}", "DomainName", domain), *value = NULL;
	int rc;

	if (first)
		*first = NULL;
	if (!params)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	rc = exo_invoke(x, cmdlet, domain, params, &value, err);
	if (!rc && first && json_array_size(value))
		*first = json_incref(json_array_get(value, 0));
	json_decref(params);
	json_decref(value);
	return rc;
}

/* ------------------------------------------------------------------ typed cmdlets */

int exo_accepted_domains(struct exo_ctx *x, struct exo_domain **out, size_t *n, struct mx_err *err)
{
	json_t *value = NULL, *obj;
	size_t i, count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = exo_invoke(x, "Get-AcceptedDomain", NULL, NULL, &value, err);
	if (rc)
		return rc;
	*out = calloc(json_array_size(value) + 1, sizeof(**out));
	if (!*out) {
		json_decref(value);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	json_array_foreach(value, i, obj)
	{
		struct exo_domain *d = &(*out)[count];
		char name[EXO_HOST_MAX];
		struct mx_err ignored;

		prop_str(obj, "DomainName", name, sizeof(name));
		if (mx_domain_normalize(name, "DomainName", d->name, sizeof(d->name), &ignored))
			continue; /* not a name we could act on */
		prop_str(obj, "DomainType", d->type, sizeof(d->type));
		prop_str(obj, "SmtpDaneStatus", d->dane_status, sizeof(d->dane_status));
		d->supported = !mx_name_under(d->name, "onmicrosoft.com");
		count++;
	}
	*n = count;
	json_decref(value);
	return MX_OK;
}

bool exo_parse_mx_record(const char *record, int *pref, char *host, size_t hostlen)
{
	char copy[400], *tok, *save = NULL, *fields[8];
	int nf = 0, at = -1;
	size_t len;
	char *end;
	long p;

	*pref = -1;
	if (hostlen)
		host[0] = '\0';
	if (!record || strlen(record) >= sizeof(copy))
		return false;
	strcpy(copy, record);
	for (tok = strtok_r(copy, " \t", &save); tok && nf < 8; tok = strtok_r(NULL, " \t", &save))
		fields[nf++] = tok;
	for (int i = 0; i < nf; i++)
		if (!strcasecmp(fields[i], "MX"))
			at = i;
	if (at < 0 || at + 2 >= nf)
		return false;
	p = strtol(fields[at + 1], &end, 10);
	if (*end || p < 0 || p > 65535)
		return false;
	len = strlen(fields[at + 2]);
	if (len && fields[at + 2][len - 1] == '.')
		fields[at + 2][--len] = '\0';
	if (!len || len >= hostlen)
		return false;
	for (size_t i = 0; i <= len; i++)
		host[i] = (char)tolower((unsigned char)fields[at + 2][i]);
	*pref = (int)p;
	return true;
}

void exo_dnssec_status_clear(struct exo_dnssec_status *s)
{
	for (size_t i = 0; i < s->nmx_errors; i++)
		free(s->mx_errors[i]);
	free(s->mx_errors);
	memset(s, 0, sizeof(*s));
	s->expected_preference = -1;
}

int exo_dnssec_status(
    struct exo_ctx *x, const char *domain, struct exo_dnssec_status *out, struct mx_err *err)
{
	json_t *obj = NULL, *expected, *validation, *errors, *e;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->expected_preference = -1;
	rc = invoke_domain(x, "Get-DnssecStatusForVerifiedDomain", domain, &obj, err);
	if (rc)
		return rc;
	if (!obj)
		return mx_err_set(err, MX_EPROVIDER,
		    "exchange: Get-DnssecStatusForVerifiedDomain returned nothing for %s; check "
		    "the domain in the Exchange admin center",
		    domain);
	prop_str(obj, "DnssecFeatureStatus", out->feature, sizeof(out->feature));
	expected = exo_prop(obj, "ExpectedMxRecord");
	/* Record is a property of the object; a plain string is taken as the record too. */
	if (json_is_string(expected))
		snprintf(out->expected_record, sizeof(out->expected_record), "%s",
		    json_string_value(expected));
	else
		prop_str(expected, "Record", out->expected_record, sizeof(out->expected_record));
	exo_parse_mx_record(out->expected_record, &out->expected_preference, out->expected_host,
	    sizeof(out->expected_host));
	validation = exo_prop(obj, "MxValidation");
	prop_str(validation, "Status", out->mx_status, sizeof(out->mx_status));
	errors = exo_prop(validation, "Errors");
	if (json_is_string(errors) && *json_string_value(errors))
		errors = json_pack("[O]", errors);
	else
		json_incref(errors);
	out->mx_errors = calloc(json_array_size(errors) + 1, sizeof(char *));
	json_array_foreach(errors, i, e)
	{
		char text[400];
		json_t *m = json_is_object(e) ? exo_prop(e, "Message") : e;
		json_t *c = json_is_object(e) ? exo_prop(e, "Code") : NULL;

		if (json_is_string(c))
			snprintf(text, sizeof(text), "%s: %s", json_string_value(c),
			    json_string_value(m) ? json_string_value(m) : "");
		else
			quote(json_string_value(m), text, sizeof(text));
		if (out->mx_errors && text[0] && (out->mx_errors[out->nmx_errors] = strdup(text)))
			out->nmx_errors++;
	}
	json_decref(errors);
	json_decref(obj);
	if (!out->mx_errors) {
		exo_dnssec_status_clear(out);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	return MX_OK;
}

enum exo_mx_verdict exo_mx_judge(
    const struct exo_dnssec_status *st, int final_preference, char *why, size_t len)
{
	size_t used = 0;
	bool only_pref = st->nmx_errors > 0;

	if (!strcasecmp(st->mx_status, "Valid")) {
		snprintf(why, len, "Exchange reports MxValidation Valid");
		return EXO_MX_VALID;
	}
	used = (size_t)snprintf(why, len, "Exchange reports MxValidation %s",
	    st->mx_status[0] ? st->mx_status : "without a status");
	for (size_t i = 0; i < st->nmx_errors; i++) {
		if (!strstr(st->mx_errors[i], "EX003"))
			only_pref = false;
		if (used < len)
			used += (size_t)snprintf(
			    why + used, len - used, "%s%s", i ? "; " : ": ", st->mx_errors[i]);
	}
	/* Microsoft expects preference 10 where the documented end state is 0. */
	if (only_pref && st->expected_preference >= 0 &&
	    st->expected_preference != final_preference) {
		if (used < len)
			snprintf(why + used, len - used,
			    " — only the preference differs: the run writes final_preference %d "
			    "(Microsoft's documented end state), Exchange's check expects %d; mail "
			    "flows either way (set final_preference = %d to satisfy the check)",
			    final_preference, st->expected_preference, st->expected_preference);
		return EXO_MX_PREFERENCE_ONLY;
	}
	return EXO_MX_INVALID;
}

int exo_enable_dnssec(
    struct exo_ctx *x, const char *domain, char *mx_value, size_t len, struct mx_err *err)
{
	json_t *obj = NULL;
	char result[32], value[300], data[300], norm[MX_NAME_MAX + 1];
	struct exo_dnssec_status st;
	int rc;

	mx_value[0] = '\0';
	rc = invoke_domain(x, "Enable-DnssecForVerifiedDomain", domain, &obj, err);
	if (rc)
		return rc;
	prop_str(obj, "Result", result, sizeof(result));
	prop_str(obj, "DnssecMxValue", value, sizeof(value));
	quote(json_string_value(exo_prop(obj, "ErrorData")), data, sizeof(data));
	json_decref(obj);
	if (strcasecmp(result, "Success") || !value[0]) {
		/* Already enabled: the endpoint exists and its host is in the status. */
		bool known = exo_dnssec_status(x, domain, &st, NULL) == MX_OK &&
			     !strcasecmp(st.feature, "Enabled") && st.expected_host[0];

		snprintf(value, sizeof(value), "%s", known ? st.expected_host : "");
		exo_dnssec_status_clear(&st);
		if (!known)
			return mx_err_set(err, MX_EPROVIDER,
			    "exchange: Enable-DnssecForVerifiedDomain for %s returned %s (%s); fix "
			    "what Exchange reports, then try again",
			    domain, result[0] ? result : "no result",
			    data[0] ? data : "no error data");
	}
	if (mx_domain_normalize(value, "DnssecMxValue", norm, sizeof(norm), err))
		return mx_err_prefix(
		    err, "exchange: Enable-DnssecForVerifiedDomain for %s", domain);
	if (strlen(norm) >= len)
		return mx_err_set(
		    err, MX_EINVAL, "exchange: DnssecMxValue of %s is too long", domain);
	snprintf(mx_value, len, "%s", norm);
	return MX_OK;
}

int exo_disable_dnssec(struct exo_ctx *x, const char *domain, struct mx_err *err)
{
	return invoke_domain(x, "Disable-DnssecForVerifiedDomain", domain, NULL, err);
}

int exo_set_dane_inbound(struct exo_ctx *x, const char *domain, bool enable, struct mx_err *err)
{
	return invoke_domain(
	    x, enable ? "Enable-SmtpDaneInbound" : "Disable-SmtpDaneInbound", domain, NULL, err);
}

int exo_dane_status(
    struct exo_ctx *x, const char *domain, struct exo_dane_status *out, struct mx_err *err)
{
	json_t *obj = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = invoke_domain(x, "Get-SmtpDaneInboundStatus", domain, &obj, err);
	if (rc)
		return rc;
	prop_str(obj, "DnssecFeatureStatus", out->feature, sizeof(out->feature));
	prop_str(obj, "SmtpDaneStatus", out->dane, sizeof(out->dane));
	json_decref(obj);
	return MX_OK;
}

int exo_get_connector(
    struct exo_ctx *x, const char *identity, struct exo_connector *out, struct mx_err *err)
{
	json_t *params = json_pack("{s:s}", "Identity", identity), *value = NULL, *obj;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!params)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	rc = exo_invoke(x, "Get-OutboundConnector", identity, params, &value, err);
	json_decref(params);
	if (rc)
		return rc;
	obj = json_array_get(value, 0);
	if (!obj) {
		json_decref(value);
		return mx_err_set(err, MX_EINVAL,
		    "exchange: outbound connector \"%s\" was not found in tenant %s; check its "
		    "name "
		    "with Get-OutboundConnector",
		    identity, x->tenant);
	}
	prop_str(obj, "Identity", out->identity, sizeof(out->identity));
	if (!out->identity[0])
		snprintf(out->identity, sizeof(out->identity), "%s", identity);
	prop_str(obj, "SmtpDaneMode", out->smtp_dane_mode, sizeof(out->smtp_dane_mode));
	prop_str(obj, "MtaStsMode", out->mta_sts_mode, sizeof(out->mta_sts_mode));
	json_decref(value);
	return MX_OK;
}

int exo_set_connector(struct exo_ctx *x, const char *identity, const char *smtp_dane_mode,
    const char *mta_sts_mode, struct mx_err *err)
{
	json_t *params = json_pack("{s:s}", "Identity", identity), *value = NULL;
	int rc;

	if (!params)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	if (smtp_dane_mode)
		json_object_set_new(params, "SmtpDaneMode", json_string(smtp_dane_mode));
	if (mta_sts_mode)
		json_object_set_new(params, "MtaStsMode", json_string(mta_sts_mode));
	rc = exo_invoke(x, "Set-OutboundConnector", identity, params, &value, err);
	json_decref(params);
	json_decref(value);
	return rc;
}

/* ------------------------------------------------------------------ the checks */

static void verdict_set(struct chk_result *r, enum chk_status st, json_t *detail, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void verdict_set(
    struct chk_result *r, enum chk_status st, json_t *detail, const char *fmt, ...)
{
	va_list ap;

	r->present = true;
	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->summary, sizeof(r->summary), fmt, ap);
	va_end(ap);
	json_decref(r->detail);
	r->detail = detail ? detail : json_object();
}

void exo_verdict_clear(struct exo_verdict *v)
{
	json_decref(v->access.detail);
	json_decref(v->dnssec.detail);
	memset(v, 0, sizeof(*v));
}

int exo_check_domain(
    struct exo_ctx *x, const char *domain, struct exo_verdict *out, struct mx_err *err)
{
	const struct mx_conf *conf = x->conf;
	struct exo_dnssec_status st;
	struct exo_dane_status dane;
	struct mx_err e;
	json_t *detail, *errors;
	char note[200] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	mx_err_clear(&e);
	rc = exo_dnssec_status(x, domain, &st, &e);
	if (rc && rc != MX_EINVAL) {
		verdict_set(&out->access, CHK_FAIL,
		    json_pack("{s:s,s:s,s:s}", "tenant", x->tenant, "client_id", x->client, "error",
			mx_rc_name(e.rc)),
		    "%s", e.msg);
		verdict_set(&out->dnssec, CHK_SKIP, NULL,
		    "not checked: the Exchange Online admin API cannot be used (exchange.access)");
		return MX_OK;
	}
	verdict_set(&out->access, CHK_PASS,
	    json_pack("{s:s,s:s}", "tenant", x->tenant, "client_id", x->client),
	    "app %s can use the Exchange Online admin API of tenant %s", x->client, x->tenant);
	if (rc) {
		verdict_set(&out->dnssec, CHK_FAIL, json_pack("{s:s}", "error", mx_rc_name(e.rc)),
		    "%s", e.msg);
		return MX_OK;
	}
	errors = json_array();
	for (size_t i = 0; i < st.nmx_errors; i++)
		json_array_append_new(errors, json_string(st.mx_errors[i]));
	detail = json_pack("{s:s,s:s,s:s,s:i,s:i,s:{s:s,s:o}}", "feature_status", st.feature,
	    "expected_mx_record", st.expected_record, "expected_host", st.expected_host,
	    "expected_preference", st.expected_preference, "final_preference",
	    conf->final_preference, "mx_validation", "status", st.mx_status, "errors", errors);
	if (exo_dane_status(x, domain, &dane, NULL) == MX_OK)
		json_object_set_new(detail, "smtp_dane_status", json_string(dane.dane));
	if (st.expected_preference >= 0 && st.expected_preference != conf->final_preference)
		snprintf(note, sizeof(note),
		    "; Exchange expects preference %d where final_preference is %d, so "
		    "MxValidation will report EX003 after the cutover (set final_preference = %d "
		    "to satisfy it)",
		    st.expected_preference, conf->final_preference, st.expected_preference);
	if (!strcasecmp(st.feature, "Enabled") && st.expected_host[0]) {
		if (!mx_name_under(st.expected_host, conf->endpoint_suffix)) {
			verdict_set(&out->dnssec, CHK_FAIL, detail,
			    "Exchange assigned %s to %s, which is not under endpoint_suffix %s; "
			    "fix "
			    "endpoint_suffix in [cutover]",
			    st.expected_host, domain, conf->endpoint_suffix);
		} else {
			snprintf(out->target, sizeof(out->target), "%s", st.expected_host);
			verdict_set(&out->dnssec, CHK_PASS, detail,
			    "DNSSEC endpoint %s is provisioned; MxValidation %s%s%s",
			    st.expected_host, st.mx_status[0] ? st.mx_status : "not reported",
			    st.nmx_errors ? " (" : "", st.nmx_errors ? st.mx_errors[0] : "");
			if (st.nmx_errors) {
				size_t used = strlen(out->dnssec.summary);

				snprintf(out->dnssec.summary + used,
				    sizeof(out->dnssec.summary) - used, ")%s", note);
			} else {
				size_t used = strlen(out->dnssec.summary);

				snprintf(out->dnssec.summary + used,
				    sizeof(out->dnssec.summary) - used, "%s", note);
			}
		}
	} else if (!strcasecmp(st.feature, "Enabled")) {
		verdict_set(&out->dnssec, CHK_FAIL, detail,
		    "DNSSEC is Enabled for %s but Exchange reports no expected MX record; run "
		    "Get-DnssecStatusForVerifiedDomain -DomainName %s and contact Microsoft "
		    "support if it stays empty",
		    domain, domain);
	} else {
		verdict_set(&out->dnssec, CHK_WARN, detail,
		    "the DNSSEC endpoint of %s is not provisioned yet (DnssecFeatureStatus %s); "
		    "run "
		    "provisions it with Enable-DnssecForVerifiedDomain, and the target checks "
		    "follow",
		    domain, st.feature[0] ? st.feature : "not reported");
	}
	exo_dnssec_status_clear(&st);
	(void)err;
	return MX_OK;
}
