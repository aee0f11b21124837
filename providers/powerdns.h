/* SPDX-License-Identifier: MIT */
/* providers/powerdns.h — the PowerDNS Authoritative HTTP API adapter's pure helpers (JSON
 * building and parsing, TXT quoting), exposed for the unit tests. The adapter itself is
 * prov_powerdns_ops in providers/powerdns.c. */
#ifndef MX_POWERDNS_H
#define MX_POWERDNS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "provider.h"

/* TXT text (canonical, unquoted) → PowerDNS record content: one or more quoted
 * character-strings of at most 255 bytes each, separated by a space; '"' and '\' are escaped
 * with a backslash, bytes outside printable ASCII as \DDD. "" gives "\"\"". Caller frees
 * with free(); NULL when memory ran out. */
char *pdns_txt_quote(const char *text);

/* PowerDNS TXT content (quoted and/or bare character-strings with \X and \DDD escapes) →
 * the canonical text, strings concatenated. Caller frees with free(). NULL when the content
 * is malformed (unterminated quote, bad escape, NUL byte) or memory ran out. */
char *pdns_txt_unquote(const char *content);

/* One record's content as PowerDNS holds it → canonical value (MX "PREF host", TXT text).
 * Caller frees with free(); NULL when the content cannot be parsed for type. */
char *pdns_content_to_value(uint16_t type, const char *content);

/* Canonical value → PowerDNS content (MX "PREF host.", TXT quoted). Caller frees; NULL when
 * the value is malformed. */
char *pdns_value_to_content(uint16_t type, const char *value);

/* "MX", "TXT"; NULL for a type the adapter does not write. */
const char *pdns_type_name(uint16_t type);

/* Picks the zone id for zone ("contoso.com", no trailing dot) out of the answer of
 * GET /servers/{server}/zones?zone=NAME. (a JSON array of zone objects). *id is NULL when
 * the array holds no such zone. Caller frees *id with free(). MX_EPROVIDER when body is not
 * the expected JSON. */
int pdns_zone_id_parse(const char *body, const char *zone, char **id, struct mx_err *err);

/* Fills *out (name, type, TTL, values of the records that are not disabled, sorted) from the
 * zone object of GET /zones/{id}?rrsets=true. name is canonical (no trailing dot). A missing
 * RRset gives n == 0. *out must be empty; on failure it stays empty. MX_EPROVIDER when body
 * is not the expected JSON or a record cannot be parsed. */
int pdns_rrset_parse(
    const char *body, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err);
/* The same, and *disabled (when not NULL; empty on entry) gets the RRset's disabled records
 * and its TTL: PowerDNS keeps them, no resolver sees them, and a write must not drop them. */
int pdns_rrset_parse_kept(const char *body, const char *name, uint16_t type, struct mx_rrset *out,
    struct mx_rrset *disabled, struct mx_err *err);

/* The PATCH /zones/{id} body that makes the zone hold *want: one rrset, changetype REPLACE
 * with want's records and TTL, or DELETE when want->n == 0. Caller frees with free(); NULL
 * with err set when a value is malformed or memory ran out. */
char *pdns_patch_body(const struct mx_rrset *want, struct mx_err *err);
/* The same, keeping *disabled (the RRset's disabled records as read, may be NULL): they are
 * sent again with "disabled": true beside want's records (a value want holds is not sent
 * twice), and when want has no record the RRset is replaced by them alone, at their TTL,
 * instead of deleted. */
char *pdns_patch_body_kept(
    const struct mx_rrset *want, const struct mx_rrset *disabled, struct mx_err *err);

/* PowerDNS's "error" text from an error response body, or NULL. Caller frees with free(). */
char *pdns_error_text(const char *body);

/* The seconds an answer asks us to wait before the next request: a 429, or a 503, with a
 * Retry-After header of delta-seconds (at most PDNS_MAX_RETRY_AFTER). 0 when it asks
 * nothing: another status, no header, a value that is not a number of seconds (an HTTP
 * date is not parsed; the caller's backoff applies). */
int pdns_retry_after(long status, const char *retry_after);
#define PDNS_MAX_RETRY_AFTER 3600

#endif
