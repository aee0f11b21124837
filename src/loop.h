/* SPDX-License-Identifier: MIT */
/* src/loop.h — one event loop for DNS (libunbound + direct queries) and HTTPS (curl multi),
 * plus the caller's own descriptors (the terminal). Nothing here blocks longer than the
 * timeout it is given. */
#ifndef MX_LOOP_H
#define MX_LOOP_H

#include "dns.h"
#include "err.h"
#include "http.h"

struct mx_loop {
	struct dns_ctx *dns;   /* borrowed */
	struct http_ctx *http; /* borrowed */
};

/* Waits up to timeout_ms (-1: until something happens) for DNS, HTTPS or the extra fds,
 * then runs every completion callback that is ready. */
int mx_loop_once(
    struct mx_loop *l, const int *extra_fds, int nextra, int timeout_ms, struct mx_err *err);

#endif
