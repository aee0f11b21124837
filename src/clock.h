/* SPDX-License-Identifier: MIT */
/* src/clock.h — the injected clock. The core asks this, never time(), so tests and the
 * demo can skip waits: a "warp" clock jumps forward instead of letting a front end sleep. */
#ifndef MX_CLOCK_H
#define MX_CLOCK_H

#include <stdbool.h>
#include <time.h>

#include "err.h"

struct mx_clock {
	time_t (*now)(const struct mx_clock *c);
	time_t offset; /* warp clocks: seconds added to the system time */
	bool warp;     /* true: mx_clock_warp_to moves the clock instead of letting time pass */
	int warp_secs; /* 0: jump to each deadline at once; N: each wait lasts about N s */
	/* The pace of a paced warp (warp_secs > 0): the deadline it was set for, the clock
	 * seconds per real second, the fraction not yet added, the last real instant seen. */
	time_t pace_wake;
	double pace_rate, pace_acc, pace_last;
};

/* The current time according to c (NULL: the system clock). */
time_t mx_now(const struct mx_clock *c);

/* A clock on the system time. With warp, sleeping only moves the offset forward. */
void mx_clock_init(struct mx_clock *c, bool warp);

/* Sets c from the MXCUTOVER_CLOCK test and demo seam (spec may be NULL or ""): nothing is
 * the system clock; "warp" jumps to every deadline at once; "warp:N" (N ≥ 1 seconds) lets
 * every wait last about N real seconds while the clock shows the real duration passing.
 * Anything else fails MX_EINVAL with a message naming the variable. The one parser: every
 * front end asks it. */
int mx_clock_parse(struct mx_clock *c, const char *spec, struct mx_err *err);

/* For front ends waiting for deadline t: a warp clock moves toward t ("warp": to t at once;
 * "warp:N": by the real time passed since the last call, at the pace that makes the wait
 * last about N seconds). Returns true when the clock has reached t (nothing to wait for),
 * false when the caller must wait (mx_clock_wait_ms says how long). */
bool mx_clock_warp_to(struct mx_clock *c, time_t t);

/* Real milliseconds a front end may wait for deadline t before looking again, at most
 * max_ms (0 when t is reached; a paced warp answers at most 100 so its pace stays smooth). */
int mx_clock_wait_ms(const struct mx_clock *c, time_t t, int max_ms);

/* Formats t as RFC 3339 UTC ("2026-11-28T23:46:41Z") into buf (≥ 21 bytes). Returns buf. */
char *mx_time_rfc3339(time_t t, char *buf, unsigned len);

/* Milliseconds on the monotonic clock (never warped): for measuring how long work took. */
double mx_mono_ms(void);

/* Milliseconds the calling thread has spent waiting for a CPU since it started (the
 * kernel's run-queue delay, /proc/thread-self/schedstat), or -1 where the kernel does not
 * tell. A unit of work's wall time less what it queued is what the work itself cost: on a
 * busy machine the difference is other processes' turn, not the work blocking. */
double mx_queued_ms(void);

/* Milliseconds of CPU the calling thread has used (CLOCK_THREAD_CPUTIME_ID). */
double mx_thread_cpu_ms(void);

/* Appends one line ("pid N: " and the formatted text, newline added) to the engine budget
 * log at path (MXCUTOVER_ENGINE_BUDGET_LOG), in one write so that concurrent writers do not
 * interleave; nothing when path is NULL or empty or the file cannot be opened. */
void mx_budget_log(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pauses the calling thread for seconds (an interrupted sleep resumes): an adapter's or the
 * Exchange client's pause before a retry. Inside a call of a fiber pool (src/workers.h) the
 * fiber sleeps instead (mx_fiber_sleep) and its loop goes on. A call of the engine never
 * pauses — its waits are the engine's deadlines — so a pause inside one (mx_pause_forbid)
 * is a bug: it is still made, and with MXCUTOVER_ENGINE_BUDGET_LOG set a line naming who paused and
 * how long goes to that log, on which the test suite fails (tests/engine_budget.sh). */
void mx_pause(double seconds, const char *who);
/* Marks the calling thread as running a call of the engine (on) or not (off). */
void mx_pause_forbid(bool on);

#endif
