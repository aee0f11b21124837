/* SPDX-License-Identifier: MIT */
/* src/workers.h — a pool for the calls that wait for the network (a provider's API, an RFC
 * 2136 update, Exchange Online's admin API), so that an event loop never waits for them:
 * `check --provider` and the wizard's plans, Exchange checks and tenant reads hand such calls
 * here and go on. Two kinds of pool behind one interface:
 * - on fibers (mx_workers_new_fibers): each call runs in a fiber on the owner's thread, its
 *   requests are transfers and queries of the owner's loop, its pauses deadlines of the
 *   pool's timer; no thread is started.
 * - on threads (mx_workers_new): each thread has its own HTTP context, resolver and admin
 *   API context, made when a call first asks for them (a context is used by one thread at a
 *   time); only an engine made without a loop uses it.
 * The loop learns that calls can go on or ended through one descriptor (mx_workers_fd). */
#ifndef MX_WORKERS_H
#define MX_WORKERS_H

#include <stdbool.h>

#include "conf.h"
#include "dns.h"
#include "err.h"
#include "exo.h"
#include "http.h"

struct mx_workers;
struct mx_worker; /* the thread a call runs on: its contexts */
struct mx_work;	  /* one call */

/* The call itself, on a worker thread: it reads and writes only arg and the worker's
 * contexts. */
typedef void mx_work_fn(struct mx_worker *w, void *arg);
/* Frees arg of a call its owner let go of (mx_work_abandon): on the owner's thread when the
 * call had not started or had ended (orphan false), on the worker's when it was running
 * (orphan true: it ran to its end without its owner). */
typedef void mx_work_free_fn(void *arg, bool orphan);

/* n threads (at most 16); their contexts are made like http_like (its CA bundle), dns_like
 * (its resolver configuration) and conf ([exchange]). All three are borrowed and must
 * outlive the pool; dns_like and conf may be NULL (calls asking for them then fail). */
int mx_workers_new(struct mx_workers **out, int n, const struct mx_conf *conf,
    const struct http_ctx *http_like, const struct dns_ctx *dns_like, struct mx_err *err);
/* The same pool without threads: at most n calls (at most 16) at once, each in a fiber
 * (src/fiber.h) on the owner's thread, with the owner's own HTTP context and resolver
 * (borrowed; the owner's loop drives them: mx_loop_once over both, with mx_workers_fd among
 * its descriptors, and mx_workers_drain after every turn). A call's request or lookup yields
 * until its answer is in, and its pauses (mx_pause) are deadlines of the pool's timer, so no
 * call holds the loop and no thread waits for the network. A call's worker has no
 * short-memory resolver (mx_worker_dns_fresh fails). dns is set up now (dns_ctx_setup). */
int mx_workers_new_fibers(struct mx_workers **out, int n, const struct mx_conf *conf,
    struct http_ctx *http, struct dns_ctx *dns, struct mx_err *err);
/* Stops the threads once the calls under way have ended (within their timeouts); a fiber
 * pool's calls under way are stopped (mx_fiber_cancel) and end within a turn or two of its
 * loop, which this drives. Calls still queued are dropped (free_arg, orphan false). Every
 * call the owner still holds must have been let go of (mx_work_abandon) first. NULL is
 * fine. */
void mx_workers_free(struct mx_workers *p);

/* Readable when a call has ended (a fiber pool's: when a pause ends or a call was queued);
 * mx_workers_drain empties it (a fiber pool's also runs its calls to their next wait). */
int mx_workers_fd(const struct mx_workers *p);
void mx_workers_drain(struct mx_workers *p);

/* Queues fn(arg) on the next free thread. lane names what the call waits for (a provider
 * section, "exchange", "dns"; NULL: none): the calls of one lane hold at most half the
 * threads at once, so a slow provider or a backlog of one kind of call never holds up the
 * others — a call whose lane is full waits while later calls of other lanes start. NULL (err
 * set) only when memory runs out; arg is then still the caller's. */
struct mx_work *mx_work_start(struct mx_workers *p, const char *lane, mx_work_fn *fn, void *arg,
    mx_work_free_fn *free_arg, struct mx_err *err);
/* Has the call ended? Then its arg holds the result, and the owner frees the call with
 * mx_work_end (arg stays the owner's). */
bool mx_work_done(struct mx_workers *p, const struct mx_work *w);
void *mx_work_arg(const struct mx_work *w);
void mx_work_end(struct mx_workers *p, struct mx_work *w);
/* The owner lets go of the call (its run or task goes away): a queued or finished one is
 * freed now (free_arg, orphan false) and false returned; a running one goes on to its end
 * and is freed then (free_arg, orphan true) — true is returned, and whatever it borrowed
 * from the owner must be left to it. A fiber pool's running call is stopped
 * (mx_fiber_cancel: its request in flight is dropped, later ones fail unsent), so it ends
 * at the loop's next turns; its calls are reads, which nobody needs once let go of. */
bool mx_work_abandon(struct mx_workers *p, struct mx_work *w);
/* Is a call that was let go of while running still under way with an arg that match says is
 * key's? (A new run of a domain waits until its stopped run's write has ended.) */
bool mx_workers_orphan(
    struct mx_workers *p, bool (*match)(const void *arg, const void *key), const void *key);

/* The worker's contexts, made at the first call that asks: NULL with err set when they
 * cannot be made. */
struct http_ctx *mx_worker_http(struct mx_worker *w, struct mx_err *err);
struct dns_ctx *mx_worker_dns(struct mx_worker *w, struct mx_err *err);
/* The worker's own dns_ctx_fresh resolver (made at first use, like the pool's resolver), or
 * NULL with err set. */
struct dns_ctx *mx_worker_dns_fresh(struct mx_worker *w, struct mx_err *err);
/* The worker's admin API context (made at first use), or NULL with err set. Its calls
 * retry with pauses unless the caller sets exo_set_no_wait (the engine does, for its calls). */
struct exo_ctx *mx_worker_exo(struct mx_worker *w, struct mx_err *err);
/* One domain's Exchange checks (exo_check_domain, which never changes the tenant) through
 * the worker's admin API context: true when *v holds the verdicts, false with err set when
 * no context could be made. */
bool mx_worker_exo_check(
    struct mx_worker *w, const char *domain, struct exo_verdict *v, struct mx_err *err);
/* The configuration the pool was made with. */
const struct mx_conf *mx_worker_conf(const struct mx_worker *w);

#endif
