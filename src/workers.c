/* SPDX-License-Identifier: MIT */
/* src/workers.c — threads, or fibers on the owner's loop, for the calls that may block
 * (see workers.h). */
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "fiber.h"
#include "loop.h"

#define WORKERS_MAX 16

enum work_state { W_QUEUED, W_RUNNING, W_DONE };

struct mx_work {
	mx_work_fn *fn;
	mx_work_free_fn *free_arg;
	void *arg;
	enum work_state state;
	bool orphan;
	char lane[80];	      /* "" when the call is in no lane */
	struct mx_work *next; /* in the queue, or in the orphans while it runs on */
};

struct mx_worker {
	struct mx_workers *p;
	int index;    /* in busy[] */
	bool on_loop; /* a fiber pool's: http and dns are the owner's, borrowed */
	struct http_ctx *http;
	struct dns_ctx *dns;
	struct dns_ctx *fresh;
	struct exo_ctx *exo;
};

struct mx_workers {
	pthread_t th[WORKERS_MAX];
	int nth;
	int lane_cap;			   /* threads one lane may hold at once */
	struct mx_work *busy[WORKERS_MAX]; /* what each thread runs, or NULL */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct mx_work *head, **tail;
	struct mx_work *orphans;
	bool stop;
	int pipe[2];
	const struct mx_conf *conf;
	const struct http_ctx *http_like;
	const struct dns_ctx *dns_like;
	/* A fiber pool (mx_workers_new_fibers): no threads; call i runs in fib[i] on the
	 * owner's thread, with slot[i]'s contexts; pipe[0] is a timerfd. */
	bool fibers;
	struct mx_fiber *fib[WORKERS_MAX];
	struct mx_worker slot[WORKERS_MAX];
	struct http_ctx *loop_http;
	struct dns_ctx *loop_dns;
	char budget_log[512]; /* MXCUTOVER_ENGINE_BUDGET_LOG, or "" */
};

struct http_ctx *mx_worker_http(struct mx_worker *w, struct mx_err *err)
{
	if (!w->http && w->on_loop) {
		mx_err_set(err, MX_EIO, "no HTTP context to make a request with");
		return NULL;
	}
	if (!w->http && http_ctx_like(&w->http, w->p->http_like, err))
		return NULL;
	return w->http;
}

/* *slot, made at first use like the pool's resolver (dns_ctx_like or dns_ctx_fresh). */
static struct dns_ctx *worker_resolver(struct mx_worker *w, struct dns_ctx **slot,
    int (*make)(struct dns_ctx **, const struct dns_ctx *, struct mx_err *), struct mx_err *err)
{
	if (!*slot && (!w->p->dns_like || w->on_loop)) {
		mx_err_set(err, MX_EDNS, "no resolver to make a lookup with");
		return NULL;
	}
	if (!*slot && make(slot, w->p->dns_like, err))
		return NULL;
	return *slot;
}

struct dns_ctx *mx_worker_dns(struct mx_worker *w, struct mx_err *err)
{
	return worker_resolver(w, &w->dns, dns_ctx_like, err);
}

struct exo_ctx *mx_worker_exo(struct mx_worker *w, struct mx_err *err)
{
	if (w->exo)
		return w->exo;
	if (!mx_worker_http(w, err) || exo_open(w->p->conf, w->http, &w->exo, err))
		return NULL;
	return w->exo;
}

struct dns_ctx *mx_worker_dns_fresh(struct mx_worker *w, struct mx_err *err)
{
	return worker_resolver(w, &w->fresh, dns_ctx_fresh, err);
}

bool mx_worker_exo_check(
    struct mx_worker *w, const char *domain, struct exo_verdict *v, struct mx_err *err)
{
	struct exo_ctx *exo = mx_worker_exo(w, err);

	return exo && exo_check_domain(exo, domain, v, err) == MX_OK;
}

const struct mx_conf *mx_worker_conf(const struct mx_worker *w)
{
	return w->p->conf;
}

static void fibers_arm(struct mx_workers *p, double when);

static void orphan_unlink(struct mx_workers *p, struct mx_work *k)
{
	for (struct mx_work **pp = &p->orphans; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			return;
		}
}

/* The first queued call whose lane holds fewer than lane_cap threads (a call in no lane is
 * always taken): one slow provider can hold up its own calls, never another's. */
static struct mx_work *next_call(struct mx_workers *p)
{
	for (struct mx_work **pp = &p->head; *pp; pp = &(*pp)->next) {
		struct mx_work *k = *pp;
		int held = 0;

		for (int i = 0; k->lane[0] && i < p->nth; i++)
			held += p->busy[i] && !strcmp(p->busy[i]->lane, k->lane);
		if (k->lane[0] && held >= p->lane_cap)
			continue;
		*pp = k->next;
		if (!*pp)
			p->tail = pp;
		k->next = NULL;
		return k;
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct mx_worker w = *(struct mx_worker *)arg;
	struct mx_workers *p = w.p;

	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct mx_work *k = NULL;
		char one = 1;

		while (!p->stop && !(k = next_call(p)))
			pthread_cond_wait(&p->cv, &p->mu);
		if (!k)
			break;
		k->state = W_RUNNING;
		p->busy[w.index] = k;
		pthread_mutex_unlock(&p->mu);
		k->fn(&w, k->arg);
		pthread_mutex_lock(&p->mu);
		p->busy[w.index] = NULL;
		k->state = W_DONE;
		/* A lane below its cap again: a thread waiting for it may go on. */
		if (p->head)
			pthread_cond_broadcast(&p->cv);
		if (k->orphan) {
			orphan_unlink(p, k);
			pthread_mutex_unlock(&p->mu);
			if (k->free_arg)
				k->free_arg(k->arg, true);
			free(k);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		/* A full pipe wakes the loop all the same. */
		(void)!write(p->pipe[1], &one, 1);
	}
	pthread_mutex_unlock(&p->mu);
	exo_close(w.exo);
	dns_ctx_free(w.dns);
	dns_ctx_free(w.fresh);
	http_ctx_free(w.http);
	return NULL;
}

/* What both kinds of pool start with; the descriptor (pipe) is the caller's to make. */
static struct mx_workers *pool_new(
    const struct mx_conf *conf, const struct http_ctx *http_like, const struct dns_ctx *dns_like)
{
	struct mx_workers *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tail = &p->head;
	p->pipe[0] = p->pipe[1] = -1;
	p->conf = conf;
	p->http_like = http_like;
	p->dns_like = dns_like;
	return p;
}

static void pool_release(struct mx_workers *p)
{
	for (int i = 0; i < 2; i++)
		if (p->pipe[i] >= 0)
			close(p->pipe[i]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int mx_workers_new(struct mx_workers **out, int n, const struct mx_conf *conf,
    const struct http_ctx *http_like, const struct dns_ctx *dns_like, struct mx_err *err)
{
	struct mx_workers *p = pool_new(conf, http_like, dns_like);

	*out = NULL;
	if (!p)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK)) {
		pool_release(p);
		return mx_err_set(
		    err, MX_EIO, "cannot make a pipe for the worker threads: %s", strerror(errno));
	}
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	/* The threads start once nth and lane_cap are set (they read both under mu). */
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < n; i++) {
		struct mx_worker *w = calloc(1, sizeof(*w));

		if (!w)
			break;
		w->p = p;
		w->index = i;
		if (pthread_create(&p->th[i], NULL, worker_main, w)) {
			free(w);
			break;
		}
		/* Named, so that a thread of the pool can be told apart (ps -L, /proc). */
		pthread_setname_np(p->th[i], "mx-worker");
		p->nth++;
	}
	/* Half the threads (at least one) per lane: the rest stay free for the others. */
	p->lane_cap = p->nth > 1 ? p->nth / 2 : 1;
	pthread_mutex_unlock(&p->mu);
	if (!p->nth) {
		mx_workers_free(p);
		return mx_err_set(err, MX_EIO, "cannot start the worker threads");
	}
	*out = p;
	return MX_OK;
}

static void fibers_free(struct mx_workers *p);

/* The calls still queued, freed unrun (free_arg, orphan false). */
static void drop_queued(struct mx_workers *p)
{
	while (p->head) {
		struct mx_work *k = p->head;

		p->head = k->next;
		if (k->free_arg)
			k->free_arg(k->arg, false);
		free(k);
	}
	p->tail = &p->head;
}

void mx_workers_free(struct mx_workers *p)
{
	if (!p)
		return;
	if (p->fibers) {
		fibers_free(p);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	drop_queued(p);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* A call under way ends within its timeouts. */
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	pool_release(p);
}

/* ---- a fiber pool: the calls on the owner's loop ---- */

/* The timer wakes the owner's loop at when (mx_mono_ms; 0: never). */
static void fibers_arm(struct mx_workers *p, double when)
{
	struct itimerspec its;
	double ms = when - mx_mono_ms();

	memset(&its, 0, sizeof(its));
	if (when > 0) {
		if (ms < 0.001)
			ms = 0.001; /* a zero it_value would disarm it */
		its.it_value.tv_sec = (time_t)(ms / 1000.0);
		its.it_value.tv_nsec = (long)((ms - (double)its.it_value.tv_sec * 1000.0) * 1e6);
	}
	timerfd_settime(p->pipe[0], 0, &its, NULL);
}

/* Runs call i's fiber to its next wait, measured like an engine call: its wall time less the
 * time the thread waited for a CPU; over MX_ENGINE_BUDGET_MS it goes to the budget log (the
 * test suite fails on such lines: the call blocked its loop). */
static void fiber_step(struct mx_workers *p, int i)
{
	double t0 = p->budget_log[0] ? mx_mono_ms() : 0, q0 = p->budget_log[0] ? mx_queued_ms() : 0;
	struct mx_work *k = p->busy[i];

	mx_fiber_resume(p->fib[i]);
	if (p->budget_log[0]) {
		double q1 = mx_queued_ms(), ms = mx_mono_ms() - t0 - (q1 >= q0 ? q1 - q0 : 0);

		if (ms > MX_ENGINE_BUDGET_MS)
			mx_budget_log(p->budget_log,
			    "- pool-call:%s took %.1f ms of its own in a fiber on its loop, "
			    "over the %d ms budget",
			    k->lane[0] ? k->lane : "-", ms, MX_ENGINE_BUDGET_MS);
	}
	if (!mx_fiber_done(p->fib[i]))
		return;
	mx_fiber_free(p->fib[i]);
	p->fib[i] = NULL;
	pthread_mutex_lock(&p->mu);
	p->busy[i] = NULL;
	k->state = W_DONE;
	if (k->orphan)
		orphan_unlink(p, k);
	pthread_mutex_unlock(&p->mu);
	if (k->orphan) {
		if (k->free_arg)
			k->free_arg(k->arg, true);
		free(k);
	}
}

static void fiber_main(void *arg)
{
	struct mx_worker *w = arg;
	struct mx_work *k = w->p->busy[w->index];

	k->fn(w, k->arg);
}

/* Resumes the calls whose wait is over (an answer their loop's callback woke them for, or
 * the end of a pause) and starts queued ones in free slots, then sets the timer to the next
 * pause's end. Never from inside a fiber. */
static void fibers_run(struct mx_workers *p)
{
	double now = mx_mono_ms(), next = 0;
	struct mx_work *k;
	struct mx_err err;

	if (mx_fiber_current())
		return;
	for (int i = 0; i < p->nth; i++) {
		double at = p->fib[i] ? mx_fiber_wake_at(p->fib[i]) : 0;

		if (at > 0 && at <= now)
			mx_fiber_wake(p->fib[i]);
		if (p->fib[i] && mx_fiber_ready(p->fib[i]))
			fiber_step(p, i);
	}
	for (int i = 0; i < p->nth; i++) {
		if (p->busy[i])
			continue;
		pthread_mutex_lock(&p->mu);
		k = next_call(p);
		if (k) {
			k->state = W_RUNNING;
			p->busy[i] = k;
		}
		pthread_mutex_unlock(&p->mu);
		if (!k)
			break;
		mx_err_clear(&err);
		if (mx_fiber_new(&p->fib[i], fiber_main, &p->slot[i], &err)) {
			/* No stack for it: it runs here, as a call on a thread would. */
			k->fn(&p->slot[i], k->arg);
			p->fib[i] = NULL;
			pthread_mutex_lock(&p->mu);
			p->busy[i] = NULL;
			k->state = W_DONE;
			pthread_mutex_unlock(&p->mu);
			i--; /* the slot is free again */
			continue;
		}
		fiber_step(p, i);
		if (!p->busy[i])
			i--; /* it ended at once: the slot takes the next */
	}
	for (int i = 0; i < p->nth; i++) {
		double at = p->fib[i] ? mx_fiber_wake_at(p->fib[i]) : 0;

		if (at > 0 && (next == 0 || at < next))
			next = at;
	}
	fibers_arm(p, next);
}

int mx_workers_new_fibers(struct mx_workers **out, int n, const struct mx_conf *conf,
    struct http_ctx *http, struct dns_ctx *dns, struct mx_err *err)
{
	struct mx_workers *p;
	const char *log = getenv("MXCUTOVER_ENGINE_BUDGET_LOG");

	*out = NULL;
	/* libunbound's setup goes deeper than a fiber's stack: done here, on the owner's. */
	if (dns && dns_ctx_setup(dns, err))
		return err ? err->rc : MX_EDNS;
	if (!(p = pool_new(conf, http, dns)))
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->pipe[0] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->pipe[0] < 0) {
		pool_release(p);
		return mx_err_set(
		    err, MX_EIO, "cannot make a timer for the calls: %s", strerror(errno));
	}
	p->fibers = true;
	p->loop_http = http;
	p->loop_dns = dns;
	snprintf(p->budget_log, sizeof(p->budget_log), "%s", log ? log : "");
	p->nth = n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : n;
	p->lane_cap = p->nth > 1 ? p->nth / 2 : 1;
	for (int i = 0; i < p->nth; i++)
		p->slot[i] = (struct mx_worker){
		    .p = p, .index = i, .on_loop = true, .http = http, .dns = dns};
	*out = p;
	return MX_OK;
}

/* Drops the queued calls, stops the calls under way (mx_fiber_cancel: their requests and
 * lookups in flight are dropped, the rest fail at once) and drives the loop until they have
 * ended, a turn or two: a Ctrl-C or the wizard's quit does not wait for a slow provider. */
static void fibers_free(struct mx_workers *p)
{
	bool busy = true;

	drop_queued(p);
	for (int i = 0; i < p->nth; i++)
		mx_fiber_cancel(p->fib[i]);
	while (busy && !mx_fiber_current()) {
		busy = false;
		for (int i = 0; i < p->nth; i++)
			busy |= p->busy[i] != NULL;
		if (!busy)
			break;
		if (p->loop_http && p->loop_dns) {
			struct mx_loop loop = {p->loop_dns, p->loop_http};

			mx_loop_once(&loop, &p->pipe[0], 1, 1000, NULL);
		} else {
			struct pollfd pfd = {p->pipe[0], POLLIN, 0};

			(void)poll(&pfd, 1, 1000);
		}
		mx_workers_drain(p);
	}
	for (int i = 0; i < p->nth; i++)
		exo_close(p->slot[i].exo);
	pool_release(p);
}

int mx_workers_fd(const struct mx_workers *p)
{
	return p ? p->pipe[0] : -1;
}

void mx_workers_drain(struct mx_workers *p)
{
	char buf[256];

	if (!p)
		return;
	while (read(p->pipe[0], buf, sizeof(buf)) > 0)
		; /* which calls ended, mx_work_done says */
	if (p->fibers)
		fibers_run(p);
}

struct mx_work *mx_work_start(struct mx_workers *p, const char *lane, mx_work_fn *fn, void *arg,
    mx_work_free_fn *free_arg, struct mx_err *err)
{
	struct mx_work *k = calloc(1, sizeof(*k));

	if (!k) {
		mx_err_set(err, MX_ENOMEM, "out of memory");
		return NULL;
	}
	k->fn = fn;
	k->arg = arg;
	k->free_arg = free_arg;
	snprintf(k->lane, sizeof(k->lane), "%s", lane ? lane : "");
	pthread_mutex_lock(&p->mu);
	*p->tail = k;
	p->tail = &k->next;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->fibers)
		fibers_arm(p, mx_mono_ms()); /* the owner's loop starts it at its next turn */
	return k;
}

bool mx_work_done(struct mx_workers *p, const struct mx_work *w)
{
	bool done;

	pthread_mutex_lock(&p->mu);
	done = w->state == W_DONE;
	pthread_mutex_unlock(&p->mu);
	return done;
}

void *mx_work_arg(const struct mx_work *w)
{
	return w->arg;
}

void mx_work_end(struct mx_workers *p, struct mx_work *w)
{
	(void)p;
	free(w);
}

bool mx_work_abandon(struct mx_workers *p, struct mx_work *w)
{
	if (!w)
		return false;
	pthread_mutex_lock(&p->mu);
	if (w->state == W_RUNNING) {
		w->orphan = true;
		w->next = p->orphans;
		p->orphans = w;
		/* A fiber pool's call is stopped: nobody reads what it would bring. */
		for (int i = 0; p->fibers && i < p->nth; i++)
			if (p->busy[i] == w)
				mx_fiber_cancel(p->fib[i]);
		pthread_mutex_unlock(&p->mu);
		if (p->fibers)
			fibers_arm(p, mx_mono_ms()); /* it ends at the loop's next turn */
		return true;
	}
	if (w->state == W_QUEUED) {
		for (struct mx_work **pp = &p->head; *pp; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				if (!*pp)
					p->tail = pp;
				break;
			}
	}
	pthread_mutex_unlock(&p->mu);
	if (w->free_arg)
		w->free_arg(w->arg, false);
	free(w);
	return false;
}

bool mx_workers_orphan(
    struct mx_workers *p, bool (*match)(const void *arg, const void *key), const void *key)
{
	bool found = false;

	if (!p)
		return false;
	pthread_mutex_lock(&p->mu);
	for (struct mx_work *k = p->orphans; k && !found; k = k->next)
		found = match(k->arg, key);
	pthread_mutex_unlock(&p->mu);
	return found;
}
