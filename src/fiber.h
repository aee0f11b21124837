/* SPDX-License-Identifier: MIT */
/* src/fiber.h — calls that wait for the network without holding their thread: a fiber runs a
 * function on its own stack, on the thread that resumes it, until the function waits for an
 * HTTP transfer (http_perform inside a fiber starts the transfer on its context and yields);
 * the thread's event loop drives the transfer (http_wait) and resumes the fiber when it has
 * ended. The engine runs its HTTP providers' calls this way, one fiber per call, on its own
 * loop: a provider adapter's request-by-request code is then a state machine whose states are
 * its waits, and no thread waits for a provider.
 *
 * A fiber is made, resumed and freed on one thread; it yields only from inside itself. */
#ifndef MX_FIBER_H
#define MX_FIBER_H

#include <stdbool.h>

#include "err.h"

struct mx_fiber;

typedef void mx_fiber_fn(void *arg);

/* A fiber that will run fn(arg) from its first mx_fiber_resume. */
int mx_fiber_new(struct mx_fiber **out, mx_fiber_fn *fn, void *arg, struct mx_err *err);
/* Runs the fiber until it yields or fn returns. Not from inside a fiber; not once done. */
void mx_fiber_resume(struct mx_fiber *f);
/* Has fn returned? */
bool mx_fiber_done(const struct mx_fiber *f);
/* Has what the fiber waits for happened (mx_fiber_wake) since it last yielded? A fiber made
 * and not yet resumed is ready. */
bool mx_fiber_ready(const struct mx_fiber *f);
/* What the fiber waits for has happened: it is ready to be resumed. From the fiber's thread
 * (an I/O callback of its loop), never from inside the fiber itself. */
void mx_fiber_wake(struct mx_fiber *f);
/* Frees a fiber that is done or was never resumed. Its stack is kept for this thread's next
 * fibers (a few at most) until mx_fiber_release_spares. */
void mx_fiber_free(struct mx_fiber *f);
/* Unmaps the stacks this thread keeps for its next fibers. */
void mx_fiber_release_spares(void);

/* The fiber running on this thread, or NULL outside every fiber. */
struct mx_fiber *mx_fiber_current(void);
/* Inside a fiber: returns to whoever resumed it; comes back at the next mx_fiber_resume. The
 * caller loops until what it waits for is there (a wake may come for a wait already over). */
void mx_fiber_yield(void);

/* Inside a fiber: waits seconds without holding the thread (an adapter's or the Exchange
 * client's pause before a retry, in a call of a fiber pool: src/workers.h). Whoever resumes
 * the fiber wakes it once mx_fiber_wake_at has passed; outside a fiber, returns at once. */
void mx_fiber_sleep(double seconds);
/* When a sleeping fiber is due (mx_mono_ms), or 0 when it is not sleeping. */
double mx_fiber_wake_at(const struct mx_fiber *f);
/* Nobody wants the fiber's result any more (its pool is being freed, its owner let go of
 * it): it is woken, and from then on every wait inside it ends at once — the request or
 * lookup in flight is dropped and fails, later ones fail without being sent, a pause is cut
 * short — so its function runs to its end within a few turns of its loop. */
void mx_fiber_cancel(struct mx_fiber *f);
/* Inside a fiber: has it been cancelled? False outside every fiber. */
bool mx_fiber_cancelled(void);

#endif
