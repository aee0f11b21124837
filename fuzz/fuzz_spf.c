/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_spf.c — libFuzzer target for spf_parse and spf_check_include: the input is split
 * at NUL and newline bytes into TXT records; checks the result's invariants. */
#include "spf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *recs[MAX_RECORDS], msg[256];
	struct spf_record *r = NULL;
	size_t n = 0, start = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && n < MAX_RECORDS; i++) {
		if (i == size || copy[i] == '\0' || copy[i] == '\n') {
			copy[i] = '\0';
			recs[n++] = copy + start;
			start = i + 1;
		}
	}
	if (spf_parse((const char *const *)recs, n, &r, NULL) == MX_OK) {
		enum spf_include_state st;

		if (r->valid != (r->error[0] == '\0'))
			abort();
		if ((r->nrecords == 1) != (r->text != NULL))
			abort();
		for (size_t i = 0; i < r->nterms; i++) {
			const struct spf_term *t = &r->terms[i];

			if (!t->name[0] ||
			    (t->modifier ? t->qualifier != 0
					 : !strchr("+-~?", t->qualifier) || !t->qualifier))
				abort();
		}
		st = spf_check_include(r, "spf.protection.outlook.com", msg, sizeof(msg));
		if (!msg[0] || (st == SPF_INCLUDE_REDIRECT && !r->redirect))
			abort();
		if ((st == SPF_INCLUDE_PRESENT || st == SPF_INCLUDE_QUALIFIED) &&
		    !spf_has_include(r, "SPF.protection.outlook.com.", NULL))
			abort();
		spf_record_free(r);
	}
	free(copy);
	return 0;
}
