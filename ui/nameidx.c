/* SPDX-License-Identifier: MIT */
/* ui/nameidx.c — open addressing over FNV-1a hashes of the names, linear probing, grown to
 * keep it at most half full. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nameidx.h"

static size_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static void put(size_t *slots, size_t nslots, size_t i, const char *name)
{
	size_t at = hash(name) & (nslots - 1);

	while (slots[at])
		at = (at + 1) & (nslots - 1);
	slots[at] = i + 1;
}

long nameidx_find(const struct nameidx *x, const char *name, nameidx_key_fn *key, const void *ctx)
{
	if (!x->nslots)
		return -1;
	for (size_t at = hash(name) & (x->nslots - 1); x->slots[at];
	     at = (at + 1) & (x->nslots - 1))
		if (!strcmp(key(ctx, x->slots[at] - 1), name))
			return (long)(x->slots[at] - 1);
	return -1;
}

int nameidx_add(struct nameidx *x, size_t i, nameidx_key_fn *key, const void *ctx)
{
	if (2 * (x->n + 1) > x->nslots) {
		size_t n = x->nslots ? 2 * x->nslots : 128, *slots = calloc(n, sizeof(*slots));

		if (!slots)
			return -1;
		for (size_t at = 0; at < x->nslots; at++)
			if (x->slots[at])
				put(slots, n, x->slots[at] - 1, key(ctx, x->slots[at] - 1));
		free(x->slots);
		x->slots = slots;
		x->nslots = n;
	}
	put(x->slots, x->nslots, i, key(ctx, i));
	x->n++;
	return 0;
}

void nameidx_free(struct nameidx *x)
{
	free(x->slots);
	memset(x, 0, sizeof(*x));
}
