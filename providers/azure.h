/* SPDX-License-Identifier: MIT */
/* providers/azure.h — the Azure DNS adapter's pure helpers (record-set JSON, the token
 * answer, error mapping), exposed for the unit tests. The adapter itself is prov_azure_ops in
 * providers/azure.c. */
#ifndef MX_AZURE_H
#define MX_AZURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "provider.h"

#define AZ_API_VERSION "2018-05-01"
/* Microsoft.Authorization/permissions (what the caller may do on a resource). */
#define AZ_PERM_API_VERSION "2022-04-01"
/* The token's audience is always Azure Resource Manager, whatever base_url says. */
#define AZ_SCOPE "https://management.azure.com/.default"

/* What error messages name. All borrowed. */
struct az_names {
	const char *prov; /* [provider.NAME] */
	const char *zone;
	const char *tenant_id;
	const char *client_id;
	const char *subscription_id;
	const char *resource_group;
};

/* The record-set name of name relative to zone: "@" for the apex, "_mta-sts" for
 * "_mta-sts.<zone>". Caller frees; NULL when name is not inside zone (or out of memory). */
char *az_relative_name(const char *name, const char *zone);

/* "MX", "TXT"; NULL for a type the adapter does not handle. */
const char *az_type_name(uint16_t type);

/* Fills *out from the record-set object of GET/PUT .../{type}/{name} (properties.TTL,
 * MXRecords / TXTRecords, whose value arrays are concatenated) and *etag (caller frees;
 * NULL when the answer has none). *out must be empty; on failure it stays empty.
 * MX_EPROVIDER when body is not the documented object. */
int az_rrset_parse(const char *body, const char *name, uint16_t type, struct mx_rrset *out,
    char **etag, struct mx_err *err);

/* The PUT body for *want (want->n > 0): {"properties":{"TTL":…,"MXRecords":[…]}} or
 * TXTRecords with the text split into strings of at most 255 bytes. Caller frees; NULL
 * with err set when a value is malformed. */
char *az_rrset_body(const struct mx_rrset *want, struct mx_err *err);
/* The same, with the record set's metadata (compact JSON of an object, may be NULL) sent
 * again: a PUT replaces the record set whole, its metadata included. */
char *az_rrset_body_meta(const struct mx_rrset *want, const char *metadata, struct mx_err *err);
/* The metadata of a record set document (properties.metadata) as compact JSON, or NULL when
 * it has none (absent or empty). Caller frees. */
char *az_metadata_of(const char *body);

/* The access token and its lifetime from the token endpoint's answer. Caller frees *token
 * with mx_secret_free. MX_EPROVIDER when body is not the documented object. */
int az_token_parse(const char *body, char **token, long *expires_in, struct mx_err *err);

/* A failed token request → MX_EAUTH naming the app, the tenant, the status, the AADSTS
 * code and the fix (wrong secret, unknown app, unknown tenant). */
int az_token_error(const struct az_names *n, long status, const char *body, struct mx_err *err);

/* ARM's error code ("NotFound", "AuthorizationFailed", …) of an error answer, or "" when
 * there is none. Borrowed from buf. */
const char *az_error_code(const char *body, char *buf, size_t len);

/* An unexpected ARM answer → one sentence with provider, status, ARM code and the fix: 401
 * MX_EAUTH, 403 MX_EAUTH (the role to give), 404 zone/group/subscription not found, 409/412
 * MX_ECONFLICT, 429 MX_ERATELIMIT, others MX_EPROVIDER. what names the object ("the MX
 * record set of contoso.com"), write whether the call changes the zone. */
int az_status_error(const struct az_names *n, const char *what, bool write, long status,
    const char *body, struct mx_err *err);

/* Reads one page of ARM's permissions list (GET {resource}/providers/Microsoft.Authorization/
 * permissions: {"value":[{"actions":[…],"notActions":[…]}],"nextLink":…}) and sets allowed[i]
 * for each of the n actions[i] that some entry allows: one of its actions covers it ('*'
 * wildcards, case-insensitive) and none of its notActions does. allowed[] accumulates over
 * pages. *next_link: the next page's URL (caller frees) or NULL. MX_EPROVIDER when body is not
 * the documented object. */
int az_permissions_parse(const char *body, const char *const *actions, size_t n, bool *allowed,
    char **next_link, struct mx_err *err);

#endif
