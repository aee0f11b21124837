/* SPDX-License-Identifier: MIT */
/* src/domain.h — domain-name validation and IDN → A-label conversion (libidn2). */
#ifndef MX_DOMAIN_H
#define MX_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define MX_NAME_MAX 253 /* presentation form without the trailing dot */

/* Normalizes a domain or host name a person typed: trims spaces and one trailing dot,
 * converts Unicode labels to A-labels (IDNA 2008, UTS #46 non-transitional), lower-cases,
 * and checks it: 2+ labels, each 1–63 letters/digits/hyphens not starting or ending with a
 * hyphen, ≤ 253 characters in all. `what` names the value in messages ("domain",
 * "--target-mx"). Writes the result to out (≥ MX_NAME_MAX + 1 bytes). */
int mx_domain_normalize(
    const char *in, const char *what, char *out, size_t outlen, struct mx_err *err);

/* True when name equals suffix or ends with "." suffix (both normalized). */
bool mx_name_under(const char *name, const char *suffix);

/* Converts "contoso.com" to the label Microsoft uses in host names, "contoso-com"; for
 * display and sandbox fixtures only — target hosts are never derived. */
void mx_domain_dashed(const char *name, char *out, size_t outlen);

#endif
