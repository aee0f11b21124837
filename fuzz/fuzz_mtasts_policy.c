/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_mtasts_policy.c — libFuzzer target for mtasts_policy_parse, mtasts_mx_match and
 * mtasts_policy_render: a valid policy must survive render → parse unchanged, and every mx
 * pattern must match a host built from it. */
#include "mtasts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct mtasts_policy *p)
{
	struct mtasts_policy *again = NULL;
	char *text = NULL;

	if (!p->valid || p->mode == MTASTS_MODE_UNSET)
		return;
	if (mtasts_policy_render(
		p->mode, (const char *const *)p->mx, p->nmx, p->max_age, &text, NULL) != MX_OK)
		abort();
	if (mtasts_policy_parse(text, strlen(text), &again, NULL) != MX_OK)
		abort();
	if (!again->valid || again->mode != p->mode || again->max_age != p->max_age ||
	    again->nmx != p->nmx)
		abort();
	for (size_t i = 0; i < p->nmx; i++)
		if (strcmp(again->mx[i], p->mx[i]) != 0)
			abort();
	mtasts_policy_free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtasts_policy *p = NULL;
	const char *nl;

	if (mtasts_policy_parse((const char *)data, size, &p, NULL) == MX_OK) {
		if (p->valid != (p->nproblems == 0))
			abort();
		for (size_t i = 0; i < p->nmx; i++) {
			char host[300];
			const char *pat = p->mx[i];

			if (!mtasts_pattern_valid(pat))
				abort();
			/* "*.rest" matches "x.rest" but never "rest" nor "x.y.rest". */
			if (pat[0] == '*') {
				snprintf(host, sizeof(host), "x.%s", pat + 2);
				if (!mtasts_mx_match(pat, host) || mtasts_mx_match(pat, pat + 2))
					abort();
				snprintf(host, sizeof(host), "x.y.%s", pat + 2);
				if (mtasts_mx_match(pat, host))
					abort();
			} else if (!mtasts_mx_match(pat, pat) || !mtasts_policy_covers(p, pat)) {
				abort();
			}
		}
		check_roundtrip(p);
		mtasts_policy_free(p);
	}
	/* The first two lines as pattern and host: matching must not crash or overread. */
	nl = memchr(data, '\n', size);
	if (nl && !memchr(data, '\0', size)) {
		char *buf = malloc(size + 1);

		if (buf) {
			memcpy(buf, data, size);
			buf[size] = '\0';
			buf[nl - (const char *)data] = '\0';
			mtasts_mx_match(buf, buf + (nl - (const char *)data) + 1);
			free(buf);
		}
	}
	return 0;
}
