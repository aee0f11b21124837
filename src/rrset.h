/* SPDX-License-Identifier: MIT */
/* src/rrset.h — the canonical RRset (providers/provider.h) as JSON, for the journal, plans
 * and exports: {"name","type":"MX"|"TXT","ttl","values":[…]}. */
#ifndef MX_RRSET_H
#define MX_RRSET_H

#include <jansson.h>

#include "err.h"
#include "provider.h"

/* New reference. */
json_t *mx_rrset_json(const struct mx_rrset *s);
/* JSON text of the RRset; caller frees. */
char *mx_rrset_dumps(const struct mx_rrset *s);
/* Fills *out (cleared first; free with prov_rrset_clear) from JSON. Values are sorted. */
int mx_rrset_from_json(json_t *j, struct mx_rrset *out, struct mx_err *err);
int mx_rrset_loads(const char *text, struct mx_rrset *out, struct mx_err *err);

#endif
