/* SPDX-License-Identifier: MIT */
/* ui/nameidx.h — finds an entry of an array by its name in constant time: the wizard keeps
 * a thousand domains and looks one up for every message, so a linear search was a million
 * comparisons a second. The array stays the caller's (it may move when it grows); the index
 * holds positions and reads the names through key(ctx, i). No curses here. */
#ifndef MX_UI_NAMEIDX_H
#define MX_UI_NAMEIDX_H

#include <stddef.h>

typedef const char *nameidx_key_fn(const void *ctx, size_t i);

struct nameidx {
	size_t *slots; /* position + 1; 0: empty */
	size_t nslots; /* a power of 2, at least twice the entries */
	size_t n;
};

/* The position of name, or -1. */
long nameidx_find(const struct nameidx *x, const char *name, nameidx_key_fn *key, const void *ctx);
/* Adds position i (its name read through key); -1 when memory ran out (nothing changed). */
int nameidx_add(struct nameidx *x, size_t i, nameidx_key_fn *key, const void *ctx);
void nameidx_free(struct nameidx *x);

#endif
