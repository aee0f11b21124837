/* SPDX-License-Identifier: MIT */
/* src/clock.h — the injected clock. The core asks this, never time(), so tests and the
 * demo can skip waits: a "warp" clock jumps forward instead of letting a front end sleep. */
#ifndef MX_CLOCK_H
#define MX_CLOCK_H

#include <stdbool.h>
#include <time.h>

struct mx_clock {
	time_t (*now)(const struct mx_clock *c);
	time_t offset; /* warp clocks: seconds added to the system time */
	bool warp;     /* true: mx_clock_sleep_until jumps instead of waiting */
};

/* The current time according to c (NULL: the system clock). */
time_t mx_now(const struct mx_clock *c);

/* A clock on the system time. With warp, sleeping only moves the offset forward. */
void mx_clock_init(struct mx_clock *c, bool warp);

/* For front ends: returns true when the clock was warped to `t` (nothing to wait for),
 * false when a real clock must wait. */
bool mx_clock_warp_to(struct mx_clock *c, time_t t);

/* Formats t as RFC 3339 UTC ("2026-11-28T23:46:41Z") into buf (≥ 21 bytes). Returns buf. */
char *mx_time_rfc3339(time_t t, char *buf, unsigned len);

#endif
