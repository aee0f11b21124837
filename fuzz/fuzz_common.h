/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_common.h — what the fuzz targets of the core share: the input split into a
 * selector byte and a NUL-terminated body, and the invariants every parsed RRset and every
 * error must hold. Each target includes it once. */
#ifndef MX_FUZZ_COMMON_H
#define MX_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "err.h"
#include "provider.h"
#include "rrset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input: data[0] selects what to call (seeds write it as an ASCII digit), the rest is
 * the body, copied with a terminating NUL. Caller frees *body. */
static int fz_split(const uint8_t *data, size_t size, unsigned *sel, char **body, size_t *len)
{
	if (size < 1)
		return -1;
	*sel = data[0] & 0x0f;
	*len = size - 1;
	*body = malloc(size);
	if (!*body)
		return -1;
	memcpy(*body, data + 1, size - 1);
	(*body)[size - 1] = '\0';
	return 0;
}

/* A failure carries a code and a message. */
static void fz_check_err(int rc, const struct mx_err *err)
{
	if (rc != MX_OK && (err->rc != rc || !err->msg[0]))
		abort();
}

/* A parsed RRset is canonical: its name and type as asked, MX values "PREF host", and it
 * survives the journal's JSON form unchanged. */
static void fz_check_rrset(const struct mx_rrset *s, const char *name, uint16_t type)
{
	struct mx_rrset back;
	struct mx_err err;
	char *text;

	if (strcmp(s->name, name) || s->type != type || (s->n && !s->values))
		abort();
	for (size_t i = 0; i < s->n; i++) {
		unsigned pref;
		char host[256];

		if (!s->values[i])
			abort();
		if (type == DNS_T_MX && !prov_mx_parse(s->values[i], &pref, host, sizeof(host)))
			abort();
	}
	/* Only a TXT value that is not UTF-8 may keep an RRset out of JSON (and then the
	 * whole RRset fails, never one value silently). */
	text = mx_rrset_dumps(s);
	if (!text) {
		if (type != DNS_T_TXT)
			abort();
		return;
	}
	if (mx_rrset_loads(text, &back, &err) != MX_OK)
		abort();
	if (!prov_rrset_equal(s, &back, true))
		abort();
	prov_rrset_clear(&back);
	free(text);
}

#endif
