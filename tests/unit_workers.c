/* SPDX-License-Identifier: MIT */
/* tests/unit_workers.c — the threads for blocking calls (src/workers.c): calls run in
 * parallel and wake the loop's descriptor; a call let go of while queued never runs, one let
 * go of while running is freed by its worker when it ends (and is found as an orphan until
 * then), one let go of after it ended is freed at once; calls still queued when the pool is
 * freed are freed unrun; a context the pool was not given is refused with a reason. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "workers.h"

static atomic_int running, most, gate_open, freed, freed_orphan;

struct call {
	int id, result;
	bool ran, gated;
};

static void run(struct mx_worker *w, void *arg)
{
	struct call *c = arg;
	int now = atomic_fetch_add(&running, 1) + 1, m = atomic_load(&most);

	(void)w;
	while (now > m && !atomic_compare_exchange_weak(&most, &m, now))
		;
	if (c->gated)
		while (!atomic_load(&gate_open))
			usleep(1000);
	else
		usleep(20000);
	c->result = c->id * 2;
	c->ran = true;
	atomic_fetch_sub(&running, 1);
}

static void release(void *arg, bool orphan)
{
	atomic_fetch_add(orphan ? &freed_orphan : &freed, 1);
	free(arg);
}

static bool is_id(const void *arg, const void *key)
{
	return ((const struct call *)arg)->id == *(const int *)key;
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	usleep(100000);
	atomic_store(&gate_open, 1);
	return NULL;
}

struct dns_probe {
	bool got;
	struct mx_err err;
};

static void ask_dns(struct mx_worker *w, void *arg)
{
	struct dns_probe *d = arg;

	d->got = mx_worker_dns(w, &d->err) != NULL;
}

static struct call *call_new(int id, bool gated)
{
	struct call *c = calloc(1, sizeof(*c));

	c->id = id;
	c->gated = gated;
	return c;
}

/* Waits (at most 5 s) until w ends, polling the pool's descriptor as a loop would. */
static bool wait_done(struct mx_workers *p, struct mx_work *w)
{
	for (int i = 0; i < 500 && !mx_work_done(p, w); i++) {
		struct pollfd pfd = {mx_workers_fd(p), POLLIN, 0};

		poll(&pfd, 1, 10);
		mx_workers_drain(p);
	}
	return mx_work_done(p, w);
}

int main(void)
{
	struct mx_workers *p = NULL;
	struct mx_work *w[8], *q;
	struct call *c[8];
	struct mx_err err;
	int key;

	mx_err_clear(&err);
	CHECK_INT(mx_workers_new(&p, 4, NULL, NULL, NULL, &err), MX_OK);
	if (!p)
		return 1;
	/* Eight calls on four threads: all end, with their results, some at the same time. */
	for (int i = 0; i < 8; i++) {
		c[i] = call_new(i + 1, false);
		w[i] = mx_work_start(p, NULL, run, c[i], release, &err);
		CHECK(w[i] != NULL);
	}
	for (int i = 0; i < 8; i++) {
		CHECK(wait_done(p, w[i]));
		CHECK(mx_work_arg(w[i]) == c[i]);
		CHECK(c[i]->ran);
		CHECK_INT(c[i]->result, 2 * (i + 1));
		mx_work_end(p, w[i]);
		free(c[i]);
	}
	CHECK(atomic_load(&most) >= 2);
	CHECK_INT(atomic_load(&freed), 0);

	/* Four gated calls keep every thread busy; a fifth waits in the queue. */
	atomic_store(&gate_open, 0);
	for (int i = 0; i < 4; i++) {
		c[i] = call_new(10 + i, true);
		w[i] = mx_work_start(p, NULL, run, c[i], release, &err);
	}
	for (int i = 0; i < 200 && atomic_load(&running) < 4; i++)
		usleep(5000);
	CHECK_INT(atomic_load(&running), 4);
	q = mx_work_start(p, NULL, run, call_new(99, false), release, &err);
	/* Let go of while queued: freed now, never run. */
	CHECK(!mx_work_abandon(p, q));
	CHECK_INT(atomic_load(&freed), 1);
	/* Let go of while running: its worker frees it when it ends; until then it is an
	 * orphan of its key. */
	CHECK(mx_work_abandon(p, w[0]));
	key = 10;
	CHECK(mx_workers_orphan(p, is_id, &key));
	key = 11;
	CHECK(!mx_workers_orphan(p, is_id, &key));
	CHECK_INT(atomic_load(&freed_orphan), 0);
	atomic_store(&gate_open, 1);
	for (int i = 1; i < 4; i++)
		CHECK(wait_done(p, w[i]));
	for (int i = 0; i < 200 && atomic_load(&freed_orphan) < 1; i++)
		usleep(5000);
	CHECK_INT(atomic_load(&freed_orphan), 1);
	key = 10;
	CHECK(!mx_workers_orphan(p, is_id, &key));
	/* Let go of after it ended: freed at once. */
	CHECK(!mx_work_abandon(p, w[1]));
	CHECK_INT(atomic_load(&freed), 2);
	for (int i = 2; i < 4; i++) {
		CHECK(c[i]->ran);
		mx_work_end(p, w[i]);
		free(c[i]);
	}
	CHECK(!mx_work_abandon(p, NULL));

	/* Lanes: four calls of a hung provider hold half the threads (two run, two wait); a call
	 * of another lane queued after them starts and ends at once, and so does a call in no
	 * lane; the waiting calls of the full lane run when one of its calls ends. */
	atomic_store(&gate_open, 0);
	atomic_store(&freed, 0);
	for (int i = 0; i < 4; i++) {
		c[i] = call_new(40 + i, true);
		w[i] = mx_work_start(p, "provider.slow", run, c[i], release, &err);
	}
	for (int i = 0; i < 200 && atomic_load(&running) < 2; i++)
		usleep(5000);
	usleep(50000);
	CHECK_INT(atomic_load(&running), 2);
	c[4] = call_new(50, false);
	w[4] = mx_work_start(p, "provider.fast", run, c[4], release, &err);
	c[5] = call_new(51, false);
	w[5] = mx_work_start(p, NULL, run, c[5], release, &err);
	CHECK(wait_done(p, w[4]));
	CHECK(wait_done(p, w[5]));
	CHECK_INT(c[4]->result, 100);
	CHECK_INT(atomic_load(&running), 2);
	CHECK(!c[2]->ran && !c[3]->ran);
	atomic_store(&gate_open, 1);
	for (int i = 0; i < 4; i++)
		CHECK(wait_done(p, w[i]));
	for (int i = 0; i < 6; i++) {
		CHECK(c[i]->ran);
		mx_work_end(p, w[i]);
		free(c[i]);
	}

	/* Calls still queued when the pool goes: freed, not run. Four gated calls hold the
	 * threads (let go of, as the pool's owner must), three wait; the gate opens only once
	 * mx_workers_free has dropped the queue. */
	atomic_store(&gate_open, 0);
	atomic_store(&freed, 0);
	atomic_store(&freed_orphan, 0);
	for (int i = 0; i < 4; i++)
		w[i] = mx_work_start(p, NULL, run, call_new(20 + i, true), release, &err);
	for (int i = 0; i < 200 && atomic_load(&running) < 4; i++)
		usleep(5000);
	CHECK_INT(atomic_load(&running), 4);
	for (int i = 0; i < 3; i++)
		mx_work_start(p, NULL, run, call_new(30 + i, false), release, &err);
	for (int i = 0; i < 4; i++)
		CHECK(mx_work_abandon(p, w[i]));
	{
		pthread_t t;

		pthread_create(&t, NULL, open_gate_later, NULL);
		mx_workers_free(p);
		pthread_join(t, NULL);
	}
	CHECK_INT(atomic_load(&freed), 3);
	CHECK_INT(atomic_load(&freed_orphan), 4);

	/* A context the pool was not given is refused, naming what is missing. */
	CHECK_INT(mx_workers_new(&p, 1, NULL, NULL, NULL, &err), MX_OK);
	{
		struct dns_probe *d = calloc(1, sizeof(*d));
		struct mx_work *k = mx_work_start(p, NULL, ask_dns, d, NULL, &err);

		CHECK(wait_done(p, k));
		CHECK(!d->got);
		CHECK_INT(d->err.rc, MX_EDNS);
		CHECK(strstr(d->err.msg, "no resolver") != NULL);
		mx_work_end(p, k);
		free(d);
	}
	mx_workers_free(p);
	return CHECK_DONE();
}
