/* SPDX-License-Identifier: MIT */
/* providers/route53.h — the Amazon Route 53 adapter's pure helpers (SigV4 signing, the XML
 * of the 2013-04-01 API, the error mapping), exposed for the unit tests. The adapter itself is
 * prov_route53_ops in providers/route53.c. */
#ifndef MX_ROUTE53_H
#define MX_ROUTE53_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "provider.h"

/* ------------------------------------------------------------------ SigV4 */

struct r53_header {
	const char *name;
	const char *value;
};

/* One request to sign. Every header listed is signed (host and x-amz-date must be among
 * them, and x-amz-security-token when a session token is used); all pointers are borrowed. */
struct r53_sigv4_req {
	const char *method;
	const char *path;  /* as sent on the wire, e.g. "/2013-04-01/hostedzone/Z1/rrset" */
	const char *query; /* as sent, without '?'; NULL or "" when none */
	const struct r53_header *headers;
	size_t nheaders;
	const char *body; /* NULL = empty */
	size_t body_len;
	const char *amz_date; /* "20150830T123600Z" (UTC) */
	const char *region;   /* "us-east-1" */
	const char *service;  /* "route53" */
	const char *key_id;
	const char *secret;
};

/* The three products of signing; each NUL-terminated, caller frees with r53_sigv4_free. */
struct r53_sigv4 {
	char *creq;  /* canonical request */
	char *sts;   /* string to sign */
	char *authz; /* the Authorization header's value */
};

/* Signs req with AWS Signature Version 4 (HMAC-SHA256): canonical request (URI-encoded path,
 * sorted query, lower-case sorted headers with trimmed values, duplicates joined with ','),
 * string to sign, signing key derived from the secret, date, region and service. MX_EINVAL
 * when a header list lacks host or x-amz-date, MX_ENOMEM. *out is empty on failure. */
int r53_sigv4_sign(const struct r53_sigv4_req *req, struct r53_sigv4 *out, struct mx_err *err);
void r53_sigv4_free(struct r53_sigv4 *s);

/* ------------------------------------------------------------------ XML */

/* The ChangeResourceRecordSetsRequest document that turns *expect into *want in one atomic
 * batch: DELETE of *expect exactly as read (Route 53 refuses it unless name, type, TTL and
 * every value match: the compare-and-swap), then CREATE of *want; either half is left out
 * when that RRset is empty. Built with libxml2's tree API. Caller frees with free(); NULL
 * with err set when a value is malformed, both sets are empty, or memory ran out. */
char *r53_change_batch_xml(
    const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err);

/* One page of ListResourceRecordSets (started at name/type). */
struct r53_rr_page {
	bool truncated;	  /* IsTruncated */
	bool past;	  /* the page held an RRset after name/type: nothing more to read */
	bool unsupported; /* an alias or routing-policy RRset at name/type */
	char next_name[256];
	char next_type[16];
	char next_id[128]; /* NextRecordIdentifier, "" when absent */
};

/* Adds the records of name/type found in one ListResourceRecordSetsResponse body to *out
 * (canonical values; TTL set; sorting is the caller's once the last page is read) and fills
 * *page. *out must be initialised (name, type). MX_EPROVIDER when the body is not the
 * documented XML or a value cannot be parsed. */
int r53_rrsets_parse(const char *body, size_t len, const char *name, uint16_t type,
    struct mx_rrset *out, struct r53_rr_page *page, struct mx_err *err);

/* One page of ListHostedZonesByName. */
struct r53_zone_page {
	bool truncated;
	int matches;	     /* public hosted zones named zone seen on this page */
	char next_name[256]; /* NextDNSName */
	char next_id[128];   /* NextHostedZoneId */
};

/* Finds the public hosted zone named zone ("contoso.com") in a ListHostedZonesByNameResponse
 * body; *id receives its bare id ("Z123", without "/hostedzone/") when found (first match,
 * caller frees) and stays as it was otherwise. Private zones are skipped. MX_EPROVIDER when
 * the body is not the documented XML. */
int r53_zones_parse(const char *body, size_t len, const char *zone, char **id,
    struct r53_zone_page *page, struct mx_err *err);

/* Id (bare, "C123") and Status ("PENDING", "INSYNC") of the ChangeInfo in a
 * ChangeResourceRecordSetsResponse or GetChangeResponse body. MX_EPROVIDER when absent. */
int r53_change_parse(const char *body, size_t len, char *id, size_t idlen, char *status,
    size_t statuslen, struct mx_err *err);

/* Code ("Throttling", "InvalidChangeBatch", …) and first message of an error body
 * (<ErrorResponse><Error> or <InvalidChangeBatch><Messages>). Empty strings when the body
 * holds neither. */
void r53_error_parse(
    const char *body, size_t len, char *code, size_t codelen, char *msg, size_t msglen);

/* ------------------------------------------------------------------ errors */

/* What an API call was for, so the error names it. */
struct r53_call {
	const char *provider; /* [provider.NAME] */
	const char *action;   /* IAM action: "ListHostedZonesByName", "ChangeResourceRecordSets" */
	const char *zone;     /* the DNS zone, "contoso.com" */
	const char *zone_id;  /* hosted zone id or NULL */
	const char *what;     /* "the MX RRset of contoso.com" */
};

/* True when the answer asks for a retry with backoff: HTTP 429, 5xx, or 400 with code
 * Throttling / ThrottlingException / PriorRequestNotComplete / RequestLimitExceeded. */
bool r53_retryable(long status, const char *body, size_t len);

/* Turns an error answer into one sentence naming route53, the HTTP status and the fix;
 * sets err->http_status and returns the code: MX_EAUTH (signature, unknown key, expired
 * token, access denied naming the IAM action), MX_ECONFLICT (InvalidChangeBatch: the RRset
 * is not what was read), MX_ERATELIMIT (throttling after the retries), MX_EPROVIDER
 * (NoSuchHostedZone, InvalidInput, anything else). */
int r53_status_error(
    const struct r53_call *call, long status, const char *body, size_t len, struct mx_err *err);

/* Name (as the API writes it, with its trailing dot) and Config/PrivateZone of the answer to
 * GetHostedZone. MX_EPROVIDER when body is not the documented XML. */
int r53_hosted_zone_parse(const char *body, size_t len, char *name, size_t namelen,
    bool *private_zone, struct mx_err *err);

#endif
