/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_rrset.c — libFuzzer target for the journal's and the plan's stored RRsets
 * (mx_rrset_loads): the input is the stored JSON text. What loads is a canonical RRset
 * (MX or TXT, sorted values) that dumps and loads back unchanged. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct mx_rrset rr;
	struct mx_err err;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	mx_err_clear(&err);
	rc = mx_rrset_loads(text, &rr, &err);
	fz_check_err(rc, &err);
	if (rc == MX_OK) {
		if (rr.type != DNS_T_MX && rr.type != DNS_T_TXT)
			abort();
		fz_check_rrset(&rr, rr.name, rr.type);
		for (size_t i = 1; i < rr.n; i++)
			if (strcmp(rr.values[i - 1], rr.values[i]) > 0)
				abort();
		prov_rrset_clear(&rr);
	} else if (rr.n || rr.values) {
		abort();
	}
	free(text);
	return 0;
}
