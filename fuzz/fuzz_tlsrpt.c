/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_tlsrpt.c — libFuzzer target for tlsrpt_txt_parse: the input is split at NUL and
 * newline bytes into TXT records; checks the result's invariants. */
#include "tlsrpt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RECORDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *recs[MAX_RECORDS];
	struct tlsrpt_txt *t = NULL;
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
	if (tlsrpt_txt_parse((const char *const *)recs, n, &t, NULL) == MX_OK) {
		if (t->valid != (t->error[0] == '\0'))
			abort();
		if (t->valid && (t->nrecords != 1 || t->nrua == 0))
			abort();
		if (!t->valid && (t->nrua || t->rua))
			abort();
		for (size_t i = 0; i < t->nrua; i++)
			if (strncasecmp(t->rua[i], "mailto:", 7) != 0 &&
			    strncasecmp(t->rua[i], "https://", 8) != 0)
				abort();
		tlsrpt_txt_free(t);
	}
	free(copy);
	return 0;
}
