/* SPDX-License-Identifier: MIT */
/* src/exo.h — the Exchange Online admin API client (the [exchange] section): the cmdlets of
 * the cutover run as `POST {exo_url}/adminapi/beta/{tenant_id}/InvokeCommand` with an
 * app-only token from src/msid (client secret or certificate). One typed function per
 * cmdlet the product uses; results are copied into the caller's structs. Calls block until
 * the answer, retrying 429, 5xx and lost answers with pauses — or, with exo_set_no_wait,
 * never pause: the first of those ends the call (MX_ERATELIMIT with err->retry_after, or
 * MX_EPROVIDER with the status or err->transient), every call being safe to repeat. Messages
 * name the tenant, the app, the cmdlet, the HTTP status and the fix; never a secret or a
 * token. */
#ifndef MX_EXO_H
#define MX_EXO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "check.h"
#include "conf.h"
#include "err.h"
#include "http.h"

#define EXO_HOST_MAX 254

struct exo_ctx;

/* True when conf has an [exchange] section (the tenant is driven through the API). */
bool exo_configured(const struct mx_conf *conf);

/* Opens the client for conf's [exchange] app: reads its keys and credential (a secret file
 * or certificate file must be private, mode 0600). No network traffic yet. conf and http are
 * borrowed for the context's lifetime. MX_EINVAL (naming the key and the fix) when
 * [exchange] is absent or incomplete. Caller frees with exo_close. */
int exo_open(
    const struct mx_conf *conf, struct http_ctx *http, struct exo_ctx **out, struct mx_err *err);
void exo_close(struct exo_ctx *x);

/* Set by the engine: never pause inside a call. A 429 becomes MX_ERATELIMIT with
 * err->retry_after (call again after that many seconds); a 5xx or a missing answer becomes
 * MX_EPROVIDER with err->http_status or err->transient (the engine's passing failure). */
void exo_set_no_wait(struct exo_ctx *x, bool no_wait);

/* The tenant as configured (tenant_id), for messages. Borrowed. */
const char *exo_tenant(const struct exo_ctx *x);

/* Runs one cmdlet: params is a JSON object (borrowed; NULL for none). On success *value is
 * the answer's "value" array (new reference, caller decrefs; [] when the cmdlet returns
 * nothing). Retries 429 (Retry-After) and 5xx; renews an expired token once. Errors:
 * MX_EAUTH (sign-in refused, app lacks Exchange.ManageAsApp, no Exchange role for the
 * cmdlet), MX_EINVAL (domain not accepted, object not found, cmdlet not available in this
 * tenant), MX_ERATELIMIT, MX_EPROVIDER. `subject` (may be NULL) names the domain or
 * connector the call is about, for messages. */
int exo_invoke(struct exo_ctx *x, const char *cmdlet, const char *subject, json_t *params,
    json_t **value, struct mx_err *err);

/* A property of an output object, names compared case-insensitively (@odata.* ignored).
 * Borrowed from obj. */
json_t *exo_prop(json_t *obj, const char *name);

/* ---- accepted domains (Get-AcceptedDomain) ---- */
struct exo_domain {
	char name[EXO_HOST_MAX]; /* DomainName, lower-case */
	char type[32];		 /* DomainType: Authoritative, InternalRelay, … */
	char dane_status[32];	 /* SmtpDaneStatus, "" when not reported */
	bool supported;		 /* false: *.onmicrosoft.com (the new endpoint does not apply) */
};
/* Every accepted domain of the tenant, in the API's order. Caller frees *out with free(). */
int exo_accepted_domains(struct exo_ctx *x, struct exo_domain **out, size_t *n, struct mx_err *err);

/* ---- the DNSSEC endpoint ---- */

/* Enable-DnssecForVerifiedDomain: provisions the domain's endpoint under mx.microsoft and
 * writes its host (DnssecMxValue, verbatim but lower-cased, no trailing dot) to mx_value
 * (len ≥ EXO_HOST_MAX). Idempotent: when the feature is already enabled the host comes from
 * Get-DnssecStatusForVerifiedDomain. A Result other than Success is MX_EPROVIDER quoting
 * ErrorData. */
int exo_enable_dnssec(
    struct exo_ctx *x, const char *domain, char *mx_value, size_t len, struct mx_err *err);

/* Disable-DnssecForVerifiedDomain. Never while the new MX is live (the caller's rule). */
int exo_disable_dnssec(struct exo_ctx *x, const char *domain, struct mx_err *err);

struct exo_dnssec_status {
	char feature[32];		  /* DnssecFeatureStatus: Enabled, Disabled, Unknown */
	char expected_record[400];	  /* ExpectedMxRecord.Record verbatim, "" when none */
	char expected_host[EXO_HOST_MAX]; /* its host, lower-case, "" when none */
	int expected_preference;	  /* its preference, -1 when none */
	char mx_status[32]; /* MxValidation.Status: Valid, Invalid, …; "" when none */
	char **mx_errors;   /* MxValidation.Errors, verbatim (owned) */
	size_t nmx_errors;
};
/* Get-DnssecStatusForVerifiedDomain into *out (zeroed first; free with
 * exo_dnssec_status_clear). */
int exo_dnssec_status(
    struct exo_ctx *x, const char *domain, struct exo_dnssec_status *out, struct mx_err *err);
void exo_dnssec_status_clear(struct exo_dnssec_status *s);

/* What MxValidation says of a domain whose MX the run has swapped (the gate after swap). */
enum exo_mx_verdict {
	EXO_MX_VALID = 0,	/* Status Valid */
	EXO_MX_PREFERENCE_ONLY, /* only the preference differs (EX003) and it is the one
				 * final_preference chose: mail flows, Exchange keeps complaining */
	EXO_MX_INVALID,		/* anything else: not yet (caches) or wrong */
};
/* Judges *st for a run that writes final_preference; why (len ≥ 200) gets one sentence for
 * a person: Exchange's errors verbatim and, for EXO_MX_PREFERENCE_ONLY, what
 * final_preference = 10 would change. Pure. */
enum exo_mx_verdict exo_mx_judge(
    const struct exo_dnssec_status *st, int final_preference, char *why, size_t len);

/* ---- inbound DANE ---- */

/* Enable-SmtpDaneInbound (enable) or Disable-SmtpDaneInbound. Microsoft then publishes (or
 * removes) the TLSA at _25._tcp.<host> in its own zone, which takes minutes: verify in DNS. */
int exo_set_dane_inbound(struct exo_ctx *x, const char *domain, bool enable, struct mx_err *err);

struct exo_dane_status {
	char feature[32]; /* DnssecFeatureStatus */
	char dane[32];	  /* SmtpDaneStatus: Enabled, Disabled, EnabledPendingTlsa, … */
};
int exo_dane_status(
    struct exo_ctx *x, const char *domain, struct exo_dane_status *out, struct mx_err *err);

/* ---- outbound connectors ---- */
struct exo_connector {
	char identity[256];
	char smtp_dane_mode[32]; /* Opportunistic, Mandatory, None */
	char mta_sts_mode[32];	 /* Opportunistic, None */
};
/* Get-OutboundConnector -Identity identity. An unknown connector is MX_EINVAL naming it. */
int exo_get_connector(
    struct exo_ctx *x, const char *identity, struct exo_connector *out, struct mx_err *err);
/* Set-OutboundConnector -Identity identity with the given modes (NULL leaves one as is). */
int exo_set_connector(struct exo_ctx *x, const char *identity, const char *smtp_dane_mode,
    const char *mta_sts_mode, struct mx_err *err);

/* ---- the checks exchange.access and exchange.dnssec (one truth for check, plan, run) ---- */
struct exo_verdict {
	struct chk_result access;  /* exchange.access (detail owned) */
	struct chk_result dnssec;  /* exchange.dnssec (detail owned) */
	char target[EXO_HOST_MAX]; /* the endpoint host Exchange assigned, "" when unknown */
};
/* Reads (never changes) the domain's state in Exchange: Get-DnssecStatusForVerifiedDomain
 * and Get-SmtpDaneInboundStatus. access fails when the API refuses us (the message says
 * why); dnssec passes with the feature Enabled and an expected MX host under the endpoint
 * suffix, warns when the feature is still Disabled (run provisions it), and reports
 * MxValidation's errors verbatim with what final_preference means for them. Returns MX_OK
 * whenever *out was filled (also for failed checks); clear with exo_verdict_clear. */
int exo_check_domain(
    struct exo_ctx *x, const char *domain, struct exo_verdict *out, struct mx_err *err);
void exo_verdict_clear(struct exo_verdict *v);

/* ---- pure helpers, exposed for the unit tests ---- */

/* Splits ExpectedMxRecord.Record ("@ 60 IN MX 10 contoso-com.o-v1.mx.microsoft") into
 * preference and host (lower-case, no trailing dot). False when it is not an MX record. */
bool exo_parse_mx_record(const char *record, int *pref, char *host, size_t hostlen);

/* Maps a failed InvokeCommand answer to the error a person can act on. */
int exo_status_error(const char *tenant, const char *client_id, const char *cmdlet,
    const char *subject, long status, const char *body, struct mx_err *err);

#endif
