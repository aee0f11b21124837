/* SPDX-License-Identifier: MIT */
/* src/event.c — the core → front-end event sink. */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mx_emit_event(const struct mx_sink *sink, const struct mx_event *ev)
{
	if (sink && sink->fn)
		sink->fn(ev, sink->arg);
}

void mx_emit(const struct mx_sink *sink, enum mx_event_kind kind, enum mx_sev sev,
    const char *domain, int step, time_t until, const char *fmt, ...)
{
	struct mx_event ev;
	va_list ap;

	if (!sink || !sink->fn)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.sev = sev;
	ev.step = step;
	ev.until = until;
	if (domain)
		snprintf(ev.domain, sizeof(ev.domain), "%s", domain);
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	sink->fn(&ev, sink->arg);
}
