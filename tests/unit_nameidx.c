/* SPDX-License-Identifier: MIT */
/* tests/unit_nameidx.c — the wizard's index of domains by name (ui/nameidx.c): every name
 * found at its position through growth and rehashing, while the array it indexes moves;
 * absent names, names that differ in one character, and the empty name are not found. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "nameidx.h"

struct arr {
	char (*names)[32];
};

static const char *key(const void *ctx, size_t i)
{
	return ((const struct arr *)ctx)->names[i];
}

int main(void)
{
	struct nameidx x = {0};
	struct arr a = {NULL};
	size_t n = 5000, cap = 0;
	char probe[40];

	CHECK(nameidx_find(&x, "a.test", key, &a) == -1);
	for (size_t i = 0; i < n; i++) {
		if (i == cap) { /* grows as the wizard's list does: the names move */
			cap = cap ? 2 * cap : 8;
			a.names = realloc(a.names, cap * sizeof(*a.names));
			CHECK(a.names != NULL);
			if (!a.names)
				return 1;
		}
		snprintf(a.names[i], sizeof(a.names[i]), "d%zu.example.test", i);
		CHECK_INT(nameidx_add(&x, i, key, &a), 0);
	}
	CHECK(x.n == n && x.nslots >= 2 * n);
	for (size_t i = 0; i < n; i++) {
		snprintf(probe, sizeof(probe), "d%zu.example.test", i);
		CHECK(nameidx_find(&x, probe, key, &a) == (long)i);
		snprintf(probe, sizeof(probe), "d%zu.example.tesu", i);
		CHECK(nameidx_find(&x, probe, key, &a) == -1);
	}
	CHECK(nameidx_find(&x, "", key, &a) == -1);
	CHECK(nameidx_find(&x, "d5000.example.test", key, &a) == -1);
	nameidx_free(&x);
	CHECK(x.slots == NULL && x.n == 0 && x.nslots == 0);
	CHECK(nameidx_find(&x, "d1.example.test", key, &a) == -1);
	free(a.names);
	CHECK_DONE();
}
