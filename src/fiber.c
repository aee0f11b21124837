/* SPDX-License-Identifier: MIT */
/* src/fiber.c — fibers on ucontext (see fiber.h). Each has its own stack, mapped with an
 * inaccessible page below it, so that a stack that overflows faults instead of writing into
 * other memory. Under AddressSanitizer every switch is announced to it. */
#include "fiber.h"

#include "clock.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#ifdef FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* The adapters' code between two waits: JSON and XML parsing, request signing. 256 KiB is
 * several times what they use; AddressSanitizer's frames are larger. Pages are touched only
 * as the stack grows into them. */
#ifdef FIBER_ASAN
#define FIBER_STACK (1024 * 1024)
#else
#define FIBER_STACK (256 * 1024)
#endif

struct mx_fiber {
	ucontext_t ctx;	   /* the fiber's */
	ucontext_t caller; /* whoever resumed it */
	void *map;	   /* the mapping: guard page, then the stack */
	size_t map_len;
	mx_fiber_fn *fn;
	void *arg;
	bool started, done, ready, cancelled;
	double wake_at; /* mx_fiber_sleep: when it is due (mx_mono_ms), or 0 */
#ifdef FIBER_ASAN
	void *fake_caller, *fake_fiber; /* each side's fake stack while switched away */
	const void *caller_bottom;	/* the resumer's stack, for switching back */
	size_t caller_size;
#endif
};

/* Stacks of ended fibers kept for the next ones (not under AddressSanitizer, whose stack
 * poisoning is per use): a call made a thousand times maps, faults in and unmaps no stack
 * after the first few, and the process's memory map is not rewritten under its other
 * threads at every call. */
#ifdef FIBER_ASAN
#define FIBER_SPARE 0
#else
#define FIBER_SPARE 32
#endif
#if FIBER_SPARE
static __thread void *spare[FIBER_SPARE];
static __thread int nspare;
#endif

static __thread struct mx_fiber *current;
static __thread struct mx_fiber *starting; /* handed to fiber_main (makecontext's ints) */

static void switch_begin(struct mx_fiber *f, bool to_fiber, bool ending)
{
#ifdef FIBER_ASAN
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (to_fiber)
		__sanitizer_start_switch_fiber(
		    &f->fake_caller, (char *)f->map + page, f->map_len - page);
	else
		__sanitizer_start_switch_fiber(
		    ending ? NULL : &f->fake_fiber, f->caller_bottom, f->caller_size);
#else
	(void)f;
	(void)to_fiber;
	(void)ending;
#endif
}

static void switch_end(struct mx_fiber *f, bool in_fiber)
{
#ifdef FIBER_ASAN
	if (in_fiber)
		__sanitizer_finish_switch_fiber(f->fake_fiber, &f->caller_bottom, &f->caller_size);
	else
		__sanitizer_finish_switch_fiber(f->fake_caller, NULL, NULL);
#else
	(void)f;
	(void)in_fiber;
#endif
}

static void fiber_main(void)
{
	struct mx_fiber *f = starting;

	starting = NULL;
	switch_end(f, true);
	f->fn(f->arg);
	f->done = true;
	current = NULL;
	/* This stack is never used again. */
	switch_begin(f, false, true);
	setcontext(&f->caller);
	abort(); /* not reached */
}

int mx_fiber_new(struct mx_fiber **out, mx_fiber_fn *fn, void *arg, struct mx_err *err)
{
	struct mx_fiber *f = calloc(1, sizeof(*f));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	*out = NULL;
	if (!f)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	f->map_len = FIBER_STACK + page;
#if FIBER_SPARE
	if (nspare > 0) {
		f->map = spare[--nspare];
	} else
#endif
	{
		f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (f->map == MAP_FAILED) {
			free(f);
			return mx_err_set(err, MX_ENOMEM, "out of memory for a call's stack");
		}
		/* The stack grows down: the lowest page is the guard. */
		if (mprotect(f->map, page, PROT_NONE) != 0) {
			munmap(f->map, f->map_len);
			free(f);
			return mx_err_set(err, MX_ENOMEM, "cannot prepare a call's stack");
		}
	}
	if (getcontext(&f->ctx) != 0) {
		munmap(f->map, f->map_len);
		free(f);
		return mx_err_set(err, MX_ENOMEM, "cannot prepare a call's stack");
	}
	f->ctx.uc_stack.ss_sp = (char *)f->map + page;
	f->ctx.uc_stack.ss_size = f->map_len - page;
	f->ctx.uc_link = NULL;
	makecontext(&f->ctx, fiber_main, 0);
	f->fn = fn;
	f->arg = arg;
	f->ready = true;
	*out = f;
	return MX_OK;
}

void mx_fiber_resume(struct mx_fiber *f)
{
	if (!f || f->done || current)
		return;
	f->ready = false;
	current = f;
	if (!f->started) {
		f->started = true;
		starting = f;
	}
	switch_begin(f, true, false);
	swapcontext(&f->caller, &f->ctx);
	switch_end(f, false);
	current = NULL;
}

void mx_fiber_yield(void)
{
	struct mx_fiber *f = current;

	if (!f)
		return;
	current = NULL;
	switch_begin(f, false, false);
	swapcontext(&f->ctx, &f->caller);
	switch_end(f, true);
	current = f;
}

bool mx_fiber_done(const struct mx_fiber *f)
{
	return f->done;
}

bool mx_fiber_ready(const struct mx_fiber *f)
{
	return !f->done && f->ready;
}

void mx_fiber_wake(struct mx_fiber *f)
{
	if (f)
		f->ready = true;
}

void mx_fiber_sleep(double seconds)
{
	struct mx_fiber *f = current;

	if (!f || seconds <= 0)
		return;
	f->wake_at = mx_mono_ms() + seconds * 1000.0;
	/* A wake for something else (none is expected) does not cut the pause short. */
	while (mx_mono_ms() < f->wake_at && !f->cancelled)
		mx_fiber_yield();
	f->wake_at = 0;
}

void mx_fiber_cancel(struct mx_fiber *f)
{
	if (f && !f->done) {
		f->cancelled = true;
		f->ready = true;
	}
}

bool mx_fiber_cancelled(void)
{
	return current && current->cancelled;
}

double mx_fiber_wake_at(const struct mx_fiber *f)
{
	return f && !f->done ? f->wake_at : 0;
}

void mx_fiber_free(struct mx_fiber *f)
{
	if (!f)
		return;
#if FIBER_SPARE
	if (nspare < FIBER_SPARE) {
		spare[nspare++] = f->map;
		free(f);
		return;
	}
#endif
	munmap(f->map, f->map_len);
	free(f);
}

void mx_fiber_release_spares(void)
{
#if FIBER_SPARE
	size_t len = FIBER_STACK + (size_t)sysconf(_SC_PAGESIZE);

	while (nspare > 0)
		munmap(spare[--nspare], len);
#endif
}

struct mx_fiber *mx_fiber_current(void)
{
	return current;
}
