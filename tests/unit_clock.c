/* SPDX-License-Identifier: MIT */
/* tests/unit_clock.c — the injected clock: the MXCUTOVER_CLOCK parser every front end uses,
 * a jumping warp, and a paced warp that makes a long wait pass in about N real seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"

static int parse(struct mx_clock *c, const char *spec)
{
	struct mx_err err;

	mx_err_clear(&err);
	return mx_clock_parse(c, spec, &err);
}

/* A pause outside an engine call is silent; inside one (mx_pause_forbid) it is still made and
 * reported to MXCUTOVER_ENGINE_BUDGET_LOG, which fails the suite (tests/engine_budget.sh). */
static void test_pause_guard(void)
{
	char path[] = "/tmp/unit_clock_budget.XXXXXX", buf[600] = "";
	int fd = mkstemp(path);
	double t0;
	FILE *f;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	setenv("MXCUTOVER_ENGINE_BUDGET_LOG", path, 1);
	t0 = mx_mono_ms();
	mx_pause(0.02, "an adapter");
	CHECK(mx_mono_ms() - t0 >= 19);
	mx_pause_forbid(true);
	mx_pause(0, "nobody"); /* no pause, nothing to say */
	mx_pause(0.01, "the test adapter");
	mx_pause_forbid(false);
	mx_pause(0.01, "after the call");
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
	}
	CHECK(strstr(buf, "the test adapter paused 0.01 s on a worker inside an engine call") !=
	      NULL);
	CHECK(strstr(buf, "nobody") == NULL && strstr(buf, "after the call") == NULL);
	CHECK(strchr(buf, '\n') == strrchr(buf, '\n')); /* one line */
	unsetenv("MXCUTOVER_ENGINE_BUDGET_LOG");
	unlink(path);
}

int main(void)
{
	struct mx_clock c;
	struct mx_err err;
	struct timespec ts = {0, 20 * 1000 * 1000};
	time_t start, wake;
	int calls = 0;

	CHECK_INT(parse(&c, NULL), MX_OK);
	CHECK(!c.warp);
	CHECK_INT(parse(&c, ""), MX_OK);
	CHECK(!c.warp);
	CHECK_INT(parse(&c, "warp"), MX_OK);
	CHECK(c.warp && c.warp_secs == 0);
	CHECK_INT(parse(&c, "warp:10"), MX_OK);
	CHECK(c.warp && c.warp_secs == 10);
	CHECK_INT(parse(&c, "warp:0"), MX_EINVAL);
	CHECK_INT(parse(&c, "warp:"), MX_EINVAL);
	CHECK_INT(parse(&c, "warp:10s"), MX_EINVAL);
	CHECK_INT(parse(&c, "fast"), MX_EINVAL);
	mx_err_clear(&err);
	mx_clock_parse(&c, "fast", &err);
	CHECK(strstr(err.msg, "MXCUTOVER_CLOCK=fast") && strstr(err.msg, "warp:SECONDS"));

	/* A real clock never moves by itself and waits the real time. */
	mx_clock_parse(&c, NULL, &err);
	wake = mx_now(&c) + 3600;
	CHECK(!mx_clock_warp_to(&c, wake));
	CHECK_INT(mx_clock_wait_ms(&c, wake, 1000), 1000);
	CHECK_INT(mx_clock_wait_ms(&c, mx_now(&c) - 1, 1000), 0);

	/* "warp" reaches any deadline at once. */
	mx_clock_parse(&c, "warp", &err);
	wake = mx_now(&c) + 3600;
	CHECK(mx_clock_warp_to(&c, wake));
	CHECK(mx_now(&c) >= wake);

	/* "warp:1": an hour's wait passes in about a second of real time, not at once. */
	mx_clock_parse(&c, "warp:1", &err);
	start = time(NULL);
	wake = mx_now(&c) + 3600;
	CHECK(!mx_clock_warp_to(&c, wake));
	while (!mx_clock_warp_to(&c, wake) && time(NULL) - start < 30) {
		CHECK(mx_clock_wait_ms(&c, wake, 1000) <= 100);
		nanosleep(&ts, NULL);
		calls++;
	}
	CHECK(mx_now(&c) >= wake);
	CHECK(mx_now(&c) <= wake + 30);
	CHECK(calls >= 10); /* it took real time: at least ~0.2 s of 20 ms naps */
	test_pause_guard();
	return CHECK_DONE();
}
