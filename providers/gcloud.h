/* SPDX-License-Identifier: MIT */
/* providers/gcloud.h — the Google Cloud DNS adapter's pure helpers (service-account key,
 * RS256 JWT, the JSON of the v1 API, the error mapping), exposed for the unit tests. The
 * adapter itself is prov_gcloud_ops in providers/gcloud.c. */
#ifndef MX_GCLOUD_H
#define MX_GCLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "provider.h"

#define GCP_SCOPE "https://www.googleapis.com/auth/ndev.clouddns.readwrite"

/* The fields of a service-account JSON key file that the adapter uses. */
struct gcp_key {
	char *client_email;
	char *private_key; /* PEM; a secret, wiped by gcp_key_free */
	char *private_key_id;
	char *project_id; /* may be NULL */
};

/* Parses a service-account key (type "service_account"). what names the file in messages.
 * MX_EINVAL naming the missing field when the JSON is not such a key. Never copies key
 * material into a message. Free with gcp_key_free. */
int gcp_key_parse(
    const char *json, size_t len, const char *what, struct gcp_key *key, struct mx_err *err);
void gcp_key_free(struct gcp_key *key);

/* base64url (RFC 4648 §5) without padding, via EVP_EncodeBlock. Caller frees; NULL on
 * allocation failure. */
char *gcp_b64url(const unsigned char *in, size_t len);

/* The signed JWT assertion of RFC 7523 for key: header {"alg":"RS256","typ":"JWT","kid"},
 * claims {"iss","scope","aud","iat","exp" = iat + 3600}, signed with the PEM key
 * (EVP_DigestSign, SHA-256). Caller frees *out. MX_EAUTH when the key cannot be read. */
int gcp_jwt_build(const struct gcp_key *key, const char *scope, const char *aud, time_t now,
    char **out, struct mx_err *err);

/* access_token and expires_in from the token endpoint's answer. Caller frees *token with
 * mx_secret_free. MX_EPROVIDER when absent. */
int gcp_token_parse(const char *body, char **token, long *expires_in, struct mx_err *err);

/* Picks the public managed zone whose dnsName is zone ("contoso.com") from one page of
 * managedZones.list; *name receives its resource name on the first match (caller frees),
 * *matches counts matches, *next the nextPageToken or NULL (caller frees). */
int gcp_zones_parse(
    const char *body, const char *zone, char **name, int *matches, char **next, struct mx_err *err);

/* Adds name/type's records from one page of resourceRecordSets.list to *out (canonical
 * values, TTL); *next receives nextPageToken or NULL (caller frees). *out must be
 * initialised (name, type). */
int gcp_rrsets_parse(const char *body, const char *name, uint16_t type, struct mx_rrset *out,
    char **next, struct mx_err *err);

/* The changes.create body: "deletions" holding *expect exactly as read (Cloud DNS refuses it
 * with 412 conditionNotMet unless TTL and rrdatas match: the compare-and-swap) and
 * "additions" holding *want; an empty RRset is left out. Caller frees; NULL with err set. */
char *gcp_change_body(
    const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err);

/* id and status ("pending", "done") of a Change resource. */
int gcp_change_parse(
    const char *body, char *id, size_t idlen, char *status, size_t statuslen, struct mx_err *err);

/* What a call was for, so the error names it. */
struct gcp_call {
	const char *provider; /* [provider.NAME] */
	const char *project;
	const char *zone; /* managed zone (resource name) or the DNS zone */
	const char *what; /* "the MX RRset of contoso.com" */
	bool change;	  /* a changes.create / changes.get call */
};

/* True for 429 and 5xx: retried with backoff. */
bool gcp_retryable(long status);

/* Turns an error answer of the DNS API into one sentence naming gcloud, the HTTP status and
 * the fix; sets err->http_status. MX_EAUTH (401, 403 naming roles/dns.admin or the
 * permissions), MX_ECONFLICT (412 conditionNotMet, 409 alreadyExists, 400 naming a
 * mismatch), MX_ERATELIMIT (429 after the retries), MX_EPROVIDER otherwise. */
int gcp_status_error(
    const struct gcp_call *call, long status, const char *body, struct mx_err *err);

/* The same for the token endpoint (invalid_grant, invalid_client, …): MX_EAUTH naming the
 * credentials file, or MX_EPROVIDER. */
int gcp_token_error(const char *provider, const char *credentials, long status, const char *body,
    struct mx_err *err);

/* Reads the answer of managedZones.testIamPermissions ({"permissions":[…]}, or {} when
 * none is held) and sets granted[k] for each of the n perms[k] it lists. MX_EPROVIDER when body
 * is not the documented object. */
int gcp_permissions_parse(
    const char *body, const char *const *perms, size_t n, bool *granted, struct mx_err *err);

#endif
