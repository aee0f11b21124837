/* SPDX-License-Identifier: MIT */
/* src/workers.c — threads for the calls that may block (see workers.h). */
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	int index; /* in busy[] */
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
};

struct http_ctx *mx_worker_http(struct mx_worker *w, struct mx_err *err)
{
	if (!w->http && http_ctx_like(&w->http, w->p->http_like, err))
		return NULL;
	return w->http;
}

/* *slot, made at first use like the pool's resolver (dns_ctx_like or dns_ctx_fresh). */
static struct dns_ctx *worker_resolver(struct mx_worker *w, struct dns_ctx **slot,
    int (*make)(struct dns_ctx **, const struct dns_ctx *, struct mx_err *), struct mx_err *err)
{
	if (!*slot && !w->p->dns_like) {
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

const struct mx_conf *mx_worker_conf(const struct mx_worker *w)
{
	return w->p->conf;
}

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

int mx_workers_new(struct mx_workers **out, int n, const struct mx_conf *conf,
    const struct http_ctx *http_like, const struct dns_ctx *dns_like, struct mx_err *err)
{
	struct mx_workers *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK)) {
		free(p);
		return mx_err_set(
		    err, MX_EIO, "cannot make a pipe for the worker threads: %s", strerror(errno));
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tail = &p->head;
	p->conf = conf;
	p->http_like = http_like;
	p->dns_like = dns_like;
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

void mx_workers_free(struct mx_workers *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	while (p->head) {
		struct mx_work *k = p->head;

		p->head = k->next;
		if (k->free_arg)
			k->free_arg(k->arg, false);
		free(k);
	}
	p->tail = &p->head;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* A call under way ends within its timeouts. */
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	close(p->pipe[0]);
	close(p->pipe[1]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int mx_workers_fd(const struct mx_workers *p)
{
	return p ? p->pipe[0] : -1;
}

void mx_workers_drain(struct mx_workers *p)
{
	char buf[256];

	if (p)
		while (read(p->pipe[0], buf, sizeof(buf)) > 0)
			; /* which calls ended, mx_work_done says */
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
		pthread_mutex_unlock(&p->mu);
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
