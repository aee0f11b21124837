/* SPDX-License-Identifier: MIT */
/* src/clock.c — the injected clock. */
#include "clock.h"

#include "fiber.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static time_t system_now(const struct mx_clock *c)
{
	return time(NULL) + (c ? c->offset : 0);
}

time_t mx_now(const struct mx_clock *c)
{
	if (!c || !c->now)
		return time(NULL);
	return c->now(c);
}

void mx_clock_init(struct mx_clock *c, bool warp)
{
	memset(c, 0, sizeof(*c));
	c->now = system_now;
	c->warp = warp;
}

int mx_clock_parse(struct mx_clock *c, const char *spec, struct mx_err *err)
{
	char *end;
	long secs;

	mx_clock_init(c, false);
	if (!spec || !*spec)
		return MX_OK;
	if (!strcmp(spec, "warp")) {
		c->warp = true;
		return MX_OK;
	}
	if (!strncmp(spec, "warp:", 5)) {
		secs = strtol(spec + 5, &end, 10);
		if (end != spec + 5 && !*end && secs >= 1 && secs <= 86400) {
			c->warp = true;
			c->warp_secs = (int)secs;
			return MX_OK;
		}
	}
	return mx_err_set(err, MX_EINVAL,
	    "MXCUTOVER_CLOCK=%.40s is not understood; use warp or warp:SECONDS, or unset it", spec);
}

double mx_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double mx_queued_ms(void)
{
	FILE *f = fopen("/proc/thread-self/schedstat", "re");
	unsigned long long run = 0, queued = 0;
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu", &run, &queued);
	fclose(f);
	return n == 2 ? (double)queued / 1e6 : -1;
}

double mx_thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double mono_now(void)
{
	return mx_mono_ms() / 1000.0;
}

bool mx_clock_warp_to(struct mx_clock *c, time_t t)
{
	time_t now;
	double real, dt;

	if (!c || !c->warp)
		return false;
	now = mx_now(c);
	if (t <= now)
		return true;
	if (!c->warp_secs) {
		c->offset += t - now;
		return true;
	}
	real = mono_now();
	dt = c->pace_last ? real - c->pace_last : 0;
	c->pace_last = real;
	if (t != c->pace_wake) {
		/* A new deadline: pace it from here; real time counts too (rate ≥ 1). */
		c->pace_wake = t;
		c->pace_rate = (double)(t - now) / c->warp_secs;
		if (c->pace_rate < 1)
			c->pace_rate = 1;
		c->pace_acc = 0;
		dt = 0;
	}
	c->pace_acc += dt * (c->pace_rate - 1);
	if (c->pace_acc >= 1) {
		time_t jump = (time_t)c->pace_acc;

		if (jump > t - now)
			jump = t - now;
		c->offset += jump;
		c->pace_acc -= (double)jump;
	}
	return mx_now(c) >= t;
}

int mx_clock_wait_ms(const struct mx_clock *c, time_t t, int max_ms)
{
	time_t left = t - mx_now(c);

	if (left <= 0)
		return 0;
	if (c && c->warp && max_ms > 100)
		max_ms = 100;
	return left * 1000 < max_ms ? (int)left * 1000 : max_ms;
}

char *mx_time_rfc3339(time_t t, char *buf, unsigned len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (!strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) && len)
		buf[0] = '\0';
	return buf;
}

void mx_budget_log(const char *path, const char *fmt, ...)
{
	char line[700];
	va_list ap;
	int n, m, fd;

	if (!path || !*path)
		return;
	n = snprintf(line, sizeof(line), "pid %ld: ", (long)getpid());
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n += m > 0 ? m : 0;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, line, (size_t)n);
		close(fd);
	}
}

static _Thread_local bool in_engine_call;

void mx_pause_forbid(bool on)
{
	in_engine_call = on;
}

void mx_pause(double seconds, const char *who)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	/* A call of a fiber pool (src/workers.h) waits without holding its loop's thread. */
	if (!in_engine_call && mx_fiber_current()) {
		mx_fiber_sleep(seconds);
		return;
	}
	if (in_engine_call)
		mx_budget_log(getenv("MXCUTOVER_ENGINE_BUDGET_LOG"),
		    "%s paused %.2f s on a worker inside an engine call (it must end the call and "
		    "leave the wait to the engine)",
		    who, seconds);
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
