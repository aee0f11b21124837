/* SPDX-License-Identifier: MIT */
/* tests/unit_workers.c — the threads for blocking calls (src/workers.c): calls run in
 * parallel and wake the loop's descriptor; a call let go of while queued never runs, one let
 * go of while running is freed by its worker when it ends (and is found as an orphan until
 * then), one let go of after it ended is freed at once; calls still queued when the pool is
 * freed are freed unrun; a context the pool was not given is refused with a reason. The same
 * pool on fibers (mx_workers_new_fibers): its calls run on the owner's thread, their pauses
 * hold neither that thread nor each other, a lane holds at most half the calls, the
 * descriptor wakes the loop when a pause ends, and a call let go of or still running when
 * the pool is freed is stopped at once. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "fiber.h"
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

/* ---- the pool on fibers ---- */

struct fcall {
	char lane[8];
	int pauses;	 /* of 200 ms each */
	bool on_owner;	 /* ran on the thread that made the pool, in a fiber */
	double ended_ms; /* mx_mono_ms when it ended */
	bool done;
};

static pthread_t owner;
static int f_running, f_most_a, f_freed, f_freed_orphan;

static void frun(struct mx_worker *w, void *arg)
{
	struct fcall *c = arg;
	bool a = !strcmp(c->lane, "a");

	(void)w;
	c->on_owner = pthread_equal(pthread_self(), owner) && mx_fiber_current() != NULL;
	f_running += a;
	if (a && f_running > f_most_a)
		f_most_a = f_running;
	for (int i = 0; i < c->pauses; i++)
		mx_pause(0.2, "the test"); /* a fiber's pause: its loop goes on */
	f_running -= a;
	c->ended_ms = mx_mono_ms();
	c->done = true;
}

static void frelease(void *arg, bool orphan)
{
	(orphan ? f_freed_orphan++ : f_freed++);
	free(arg);
}

/* The owner's loop: waits on the pool's descriptor alone, then lets the pool run. Returns
 * the longest drain (ms): a call must never hold it. */
static double fturns(struct mx_workers *p, bool (*until)(void *), void *arg, int max_ms, int *turns)
{
	double t0 = mx_mono_ms(), longest = 0;

	while (!until(arg) && mx_mono_ms() - t0 < max_ms) {
		struct pollfd pfd = {mx_workers_fd(p), POLLIN, 0};
		double d0;

		poll(&pfd, 1, 1000);
		d0 = mx_mono_ms();
		mx_workers_drain(p);
		if (mx_mono_ms() - d0 > longest)
			longest = mx_mono_ms() - d0;
		(*turns)++;
	}
	return longest;
}

struct fset {
	struct mx_workers *p;
	struct mx_work **w;
	int n;
};

static bool fall_done(void *arg)
{
	struct fset *s = arg;

	for (int i = 0; i < s->n; i++)
		if (!mx_work_done(s->p, s->w[i]))
			return false;
	return true;
}

static bool forphans_freed(void *arg)
{
	return f_freed_orphan >= *(int *)arg;
}

static bool fc_match(const void *arg, const void *key)
{
	return arg == key;
}

static void test_fibers(void)
{
	struct mx_workers *p = NULL;
	struct mx_work *w[8];
	struct fcall *c[8];
	struct mx_err err;
	struct fset set;
	double t0, longest;
	int turns = 0, want;

	owner = pthread_self();
	mx_err_clear(&err);
	CHECK_INT(mx_workers_new_fibers(&p, 4, NULL, NULL, NULL, &err), MX_OK);
	if (!p)
		return;
	/* Four calls of two 200 ms pauses each, on four slots: all four pause at the same
	 * time, on this thread, and no drain waits for a pause. The loop wakes for their ends
	 * (the descriptor), not by polling: a few turns per pause, not hundreds. */
	t0 = mx_mono_ms();
	for (int i = 0; i < 4; i++) {
		c[i] = calloc(1, sizeof(*c[i]));
		c[i]->pauses = 2;
		w[i] = mx_work_start(p, NULL, frun, c[i], frelease, &err);
		CHECK(w[i] != NULL);
	}
	set = (struct fset){p, w, 4};
	longest = fturns(p, fall_done, &set, 5000, &turns);
	CHECK(fall_done(&set));
	CHECK(longest < 50);
	CHECK(turns <= 20);
	for (int i = 0; i < 4; i++) {
		CHECK(c[i]->done && c[i]->on_owner);
		/* Together: 400 ms, not 1600 as one after another. */
		CHECK(c[i]->ended_ms - t0 >= 395 && c[i]->ended_ms - t0 < 1000);
		mx_work_end(p, w[i]);
		free(c[i]);
	}

	/* Lane "a" holds at most half the slots (2 of 4); lane "b" starts beside it at once. */
	f_most_a = 0;
	for (int i = 0; i < 5; i++) {
		c[i] = calloc(1, sizeof(*c[i]));
		c[i]->pauses = 1;
		snprintf(c[i]->lane, sizeof(c[i]->lane), "%s", i < 4 ? "a" : "b");
		w[i] = mx_work_start(p, c[i]->lane, frun, c[i], frelease, &err);
	}
	set = (struct fset){p, w, 5};
	t0 = mx_mono_ms();
	fturns(p, fall_done, &set, 5000, &turns);
	CHECK(fall_done(&set));
	CHECK_INT(f_most_a, 2);
	CHECK(c[4]->ended_ms - t0 < 300);  /* b did not wait for a */
	CHECK(c[3]->ended_ms - t0 >= 395); /* the third and fourth a waited for the first two */
	for (int i = 0; i < 5; i++) {
		mx_work_end(p, w[i]);
		free(c[i]);
	}

	/* A call let go of in its pause runs on as an orphan (found until it ends) and is freed
	 * by the pool when it ends; one let go of while queued is freed at once, unrun. */
	f_freed = f_freed_orphan = 0;
	for (int i = 0; i < 6; i++) {
		c[i] = calloc(1, sizeof(*c[i]));
		c[i]->pauses = 1;
		w[i] = mx_work_start(p, NULL, frun, c[i], frelease, &err);
	}
	mx_workers_drain(p); /* four start and pause; two wait */
	CHECK(mx_work_abandon(p, w[0]));
	CHECK(mx_workers_orphan(p, fc_match, c[0]));
	CHECK(!mx_work_abandon(p, w[5]));
	CHECK_INT(f_freed, 1);
	want = 1;
	fturns(p, forphans_freed, &want, 5000, &turns);
	CHECK_INT(f_freed_orphan, 1);
	CHECK(!mx_workers_orphan(p, fc_match, c[0]));
	set = (struct fset){p, w + 1, 4};
	fturns(p, fall_done, &set, 5000, &turns);
	for (int i = 1; i < 5; i++) {
		CHECK(c[i]->done);
		mx_work_end(p, w[i]);
		free(c[i]);
	}

	/* A call let go of in the middle of a 10 s pause is stopped: it ends at the loop's next
	 * turns, not 10 s later. */
	f_freed_orphan = 0;
	c[0] = calloc(1, sizeof(*c[0]));
	c[0]->pauses = 50;
	w[0] = mx_work_start(p, NULL, frun, c[0], frelease, &err);
	mx_workers_drain(p);
	CHECK(!mx_work_done(p, w[0]));
	t0 = mx_mono_ms();
	CHECK(mx_work_abandon(p, w[0]));
	want = 1;
	fturns(p, forphans_freed, &want, 5000, &turns);
	CHECK_INT(f_freed_orphan, 1);
	CHECK(mx_mono_ms() - t0 < 200);

	/* Freeing the pool stops the calls under way (they end within a turn or two; an
	 * abandoned one is freed as an orphan) and drops the queued ones unrun. */
	f_freed = f_freed_orphan = 0;
	for (int i = 0; i < 6; i++) {
		c[i] = calloc(1, sizeof(*c[i]));
		c[i]->pauses = 1;
		w[i] = mx_work_start(p, NULL, frun, c[i], frelease, &err);
	}
	mx_workers_drain(p);
	for (int i = 0; i < 6; i++)
		mx_work_abandon(p, w[i]);
	CHECK_INT(f_freed, 2);
	t0 = mx_mono_ms();
	mx_workers_free(p);
	CHECK_INT(f_freed_orphan, 4);
	CHECK(mx_mono_ms() - t0 < 150); /* their pauses were cut short */

	/* A fiber pool's calls have no short-memory resolver, nor contexts it was not given. */
	CHECK_INT(mx_workers_new_fibers(&p, 1, NULL, NULL, NULL, &err), MX_OK);
	{
		struct dns_probe *d = calloc(1, sizeof(*d));
		struct mx_work *k = mx_work_start(p, NULL, ask_dns, d, NULL, &err);

		CHECK(wait_done(p, k));
		CHECK(!d->got);
		CHECK(strstr(d->err.msg, "no resolver") != NULL);
		mx_work_end(p, k);
		free(d);
	}
	mx_workers_free(p);
	/* Outside a fiber a pause holds its thread, as before. */
	t0 = mx_mono_ms();
	mx_pause(0.05, "the test");
	CHECK(mx_mono_ms() - t0 >= 49);
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
	test_fibers();
	return CHECK_DONE();
}
