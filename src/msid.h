/* SPDX-License-Identifier: MIT */
/* src/msid.h — the Microsoft identity platform (Entra ID) for an app: OAuth 2.0 client
 * credentials at {login_url}/{tenant}/oauth2/v2.0/token with a client secret or a
 * certificate (an RS256 JWT assertion signed with the certificate's key, header x5t#S256).
 * Tokens are cached per login URL, tenant, app and scope until shortly before they expire,
 * so every adapter of one app shares them. The one place that speaks to the token endpoint:
 * the Azure DNS adapter and the Exchange Online admin API client both use it. Secrets and
 * tokens never leave memory and are wiped when freed. */
#ifndef MX_MSID_H
#define MX_MSID_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "err.h"
#include "http.h"

#define MSID_DEFAULT_LOGIN  "https://login.microsoftonline.com"
#define MSID_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* What messages name. All borrowed. */
struct msid_names {
	const char *who;     /* message prefix: "azure", "exchange" */
	const char *section; /* the config section: "[provider.az]", "[exchange]" */
	const char *tenant_id;
	const char *client_id;
	bool certificate;      /* the app signs in with a certificate, not a secret */
	const char *login_url; /* without trailing '/' (may be NULL in msid_token_error) */
};

struct msid_app;

/* Reads an app's sign-in keys from config section s: tenant_id, client_id, login_url
 * (default MSID_DEFAULT_LOGIN) and the credential — client_secret_env | client_secret_file,
 * or (when allow_cert) certificate_file, a private PEM file (mode 0600) holding the RSA key
 * and the certificate registered with the app. Exactly one credential must be set. who and
 * section are copied, for messages. Errors (MX_EINVAL) name the section and the fix. Caller
 * frees with msid_app_free. */
int msid_app_open(const struct mx_conf_section *s, const char *who, const char *section,
    bool allow_cert, struct msid_app **out, struct mx_err *err);
void msid_app_free(struct msid_app *a);

/* The names of a (borrowed until msid_app_free). */
const struct msid_names *msid_app_names(const struct msid_app *a);

/* Sends one request and retries what the caller retries (429, 5xx, transport errors);
 * *out is the last response (the caller's). The token endpoint is called through it, so the
 * caller's retry and waiting rules (e.g. a provider's no_wait) apply to sign-in as well. */
typedef int msid_send_fn(
    void *arg, const struct http_request *req, struct http_response **out, struct mx_err *err);

/* A valid access token of app a for scope (e.g. "https://outlook.office365.com/.default")
 * in *token: the cached one, or a new one from the token endpoint through send. Caller frees
 * *token with mx_secret_free. A refused sign-in is MX_EAUTH with the fix (msid_token_error). */
int msid_token(struct msid_app *a, const char *scope, msid_send_fn *send, void *arg, char **token,
    struct mx_err *err);

/* Drops the cached token of a for scope (after the API called it expired or invalid). */
void msid_token_forget(struct msid_app *a, const char *scope);

/* ---- pure helpers, exposed for the unit tests ---- */

/* The access token and its lifetime from the token endpoint's answer (expires_in as number
 * or digit string; 3599 when absent). Caller frees *token with mx_secret_free. MX_EPROVIDER
 * (message prefixed with who) when body is not the documented object. */
int msid_token_parse(
    const char *who, const char *body, char **token, long *expires_in, struct mx_err *err);

/* A failed token request → MX_EAUTH naming the app, the tenant, the status, the AADSTS code
 * and the fix (wrong or expired secret, certificate not registered, unknown app, unknown
 * tenant). err->http_status is set. Never quotes the answer's free text. */
int msid_token_error(const struct msid_names *n, long status, const char *body, struct mx_err *err);

/* base64url without padding (RFC 7515) of len bytes; caller frees. NULL when out of memory. */
char *msid_b64url(const unsigned char *in, size_t len);

/* The client assertion: an RS256 JWT with header {"alg":"RS256","typ":"JWT","x5t#S256":…}
 * (the SHA-256 thumbprint of the DER certificate) and claims aud = token_url, iss = sub =
 * client_id, jti (random), nbf = iat = now, exp = now + 600, signed with the RSA key of
 * pem (key and certificate in one PEM text). Caller frees *jwt with mx_secret_free. Errors
 * (MX_EINVAL) say what the PEM lacks; what names the file for messages. */
int msid_assertion(const char *pem, const char *what, const char *client_id, const char *token_url,
    time_t now, char **jwt, struct mx_err *err);

#endif
