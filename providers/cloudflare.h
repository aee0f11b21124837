/* SPDX-License-Identifier: MIT */
/* providers/cloudflare.h — the Cloudflare DNS adapter's pure helpers (JSON parsing and
 * building, the per-record change plan, error mapping, the request budget), exposed for the
 * unit tests. The adapter itself is prov_cloudflare_ops in providers/cloudflare.c. */
#ifndef MX_CLOUDFLARE_H
#define MX_CLOUDFLARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "provider.h"

/* Cloudflare's TTL 1 means "automatic"; the adapter reads it as this many seconds. */
#define CF_TTL_AUTO_SECONDS 300
/* The smallest TTL Cloudflare accepts besides 1 (automatic). */
#define CF_MIN_TTL 60
/* Cloudflare's documented global limit: 1200 requests per 5 minutes per user. */
#define CF_BUDGET_REQUESTS 1200
#define CF_BUDGET_SECONDS  300

/* One DNS record as the API lists it. */
struct cf_record {
	char *id;
	char *value;  /* canonical (MX "PREF host", TXT text) */
	uint32_t ttl; /* as the API holds it: 1 = automatic */
};

struct cf_records {
	struct cf_record *v;
	size_t n;
};

void cf_records_clear(struct cf_records *r);

/* The TTL a record serves with: api_ttl, or CF_TTL_AUTO_SECONDS for 1 (automatic). */
uint32_t cf_ttl_effective(uint32_t api_ttl);

/* Picks the id of zone (no trailing dot) out of the answer of GET /zones?name=ZONE. *id is
 * NULL when the answer lists no such zone. Caller frees *id. MX_EPROVIDER when body is not
 * the documented envelope. */
int cf_zone_id_parse(const char *body, const char *zone, char **id, struct mx_err *err);

/* Appends the records of name/type in one page of GET /zones/{id}/dns_records to *out and
 * sets *total_pages from result_info (1 when absent). MX_EPROVIDER when body is not the
 * documented envelope or a record cannot be parsed. */
int cf_records_parse(const char *body, const char *name, uint16_t type, struct cf_records *out,
    int *total_pages, struct mx_err *err);

/* The canonical RRset of the listed records: values sorted, TTL the smallest effective TTL
 * (so an automatic TTL reads as 300). *out must be empty; caller clears it. */
int cf_records_rrset(const struct cf_records *r, const char *name, uint16_t type,
    struct mx_rrset *out, struct mx_err *err);

/* The body of POST /dns_records or PUT /dns_records/{id} for one record: type, name,
 * content (MX host, TXT quoted character-strings), priority (MX), ttl. Caller frees; NULL
 * with err set when value is malformed. */
char *cf_record_body(
    const char *name, uint16_t type, const char *value, uint32_t ttl, struct mx_err *err);

enum cf_op_kind { CF_OP_CREATE, CF_OP_UPDATE, CF_OP_DELETE };

/* One call of the change plan; id and value are borrowed from the inputs. */
struct cf_op {
	enum cf_op_kind kind;
	const char *id;	   /* UPDATE, DELETE */
	const char *value; /* CREATE, UPDATE */
};

/* The fewest record calls that turn cur into want (name/type/TTL/values): records already
 * right are kept, changed ones updated in place (for MX, paired by host first), the rest
 * created or deleted. Order: creates, updates, deletes, so the RRset never becomes empty
 * while want is not. A record with TTL 1 counts as right when want->ttl is 300. *ops is
 * the caller's (free()); *nops == 0 when nothing is to be done. */
int cf_plan(const struct cf_records *cur, const struct mx_rrset *want, struct cf_op **ops,
    size_t *nops, struct mx_err *err);

/* Turns an HTTP error answer into one sentence naming the provider, the status and the fix.
 * prov is the [provider.NAME], zone the zone, what the object ("the MX records of
 * contoso.com"), write whether the call changes the zone. Returns the rc it set: MX_EAUTH
 * (401, 403 invalid token), MX_EAUTH (403 missing permission), MX_ERATELIMIT (429),
 * MX_EINVAL (400 bad TTL), MX_EPROVIDER (the rest). */
int cf_status_error(const char *prov, const char *zone, const char *what, bool write, long status,
    const char *body, struct mx_err *err);

/* A token bucket: capacity tokens, refilled at capacity/period per second. */
struct cf_bucket {
	double capacity;
	double period; /* seconds */
	double tokens;
	double last; /* time of the last refill (seconds, monotonic) */
	bool started;
};

/* Takes one token at time now. Returns how many seconds the caller must wait before its
 * request may go (0 when a token was there); the token is spent either way, so concurrent
 * callers queue up behind each other. */
double cf_bucket_take(struct cf_bucket *b, double now);

#endif
