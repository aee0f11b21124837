/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_mtasts_txt.c — libFuzzer target for mtasts_txt_parse: the input is split at NUL
 * and newline bytes into TXT records; checks the result's invariants. */
#include "mtasts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 8

static bool alnum_only(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9')))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *recs[MAX_RECORDS];
	struct mtasts_txt *t = NULL;
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
	if (mtasts_txt_parse((const char *const *)recs, n, &t, NULL) == MX_OK) {
		if (t->valid != (t->error[0] == '\0'))
			abort();
		if (t->valid && (t->nrecords != 1 || !t->id[0] || strlen(t->id) > MTASTS_ID_MAX ||
				    !alnum_only(t->id)))
			abort();
		if (!t->valid && t->id[0])
			abort();
		mtasts_txt_free(t);
	}
	free(copy);
	return 0;
}
