/* SPDX-License-Identifier: MIT */
/* src/clock.c — the injected clock. */
#include "clock.h"

#include <stdio.h>

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
	c->now = system_now;
	c->offset = 0;
	c->warp = warp;
}

bool mx_clock_warp_to(struct mx_clock *c, time_t t)
{
	time_t now;

	if (!c || !c->warp)
		return false;
	now = mx_now(c);
	if (t > now)
		c->offset += t - now;
	return true;
}

char *mx_time_rfc3339(time_t t, char *buf, unsigned len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (!strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) && len)
		buf[0] = '\0';
	return buf;
}
