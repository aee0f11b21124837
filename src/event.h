/* SPDX-License-Identifier: MIT */
/* src/event.h — the core → front-end event sink. The core never prints: it emits events,
 * and the command line (lines on stderr) or the wizard (screens) draws them. */
#ifndef MX_EVENT_H
#define MX_EVENT_H

#include <time.h>

enum mx_event_kind {
	MX_EV_LOG = 0,	/* a line for the log */
	MX_EV_STEP,	/* a step changed state (text: the step's title) */
	MX_EV_WAIT,	/* waiting until `until` (text: what for) */
	MX_EV_GATE,	/* a person must act (text: exactly what to do) */
	MX_EV_CHECK,	/* a check finished (text: the one-line summary) */
	MX_EV_PROGRESS, /* done/total units of a longer job */
	MX_EV_DONE,	/* a run or job ended (sev tells how) */
};

enum mx_sev { MX_SEV_DEBUG = 0, MX_SEV_INFO, MX_SEV_WARN, MX_SEV_ERROR };

/* Copied into the sink; sinks keep no pointers to it. */
struct mx_event {
	enum mx_event_kind kind;
	enum mx_sev sev;
	int step;     /* index in the step table, -1 when not about a step */
	time_t until; /* MX_EV_WAIT: the deadline */
	int done, total;
	char domain[254];
	char text[1024]; /* gates carry whole commands and policy texts */
};

typedef void mx_event_fn(const struct mx_event *ev, void *arg);

struct mx_sink {
	mx_event_fn *fn; /* NULL: events are dropped */
	void *arg;
};

/* Emits one event built from the arguments (text is printf-formatted and truncated to fit).
 * sink may be NULL. */
void mx_emit(const struct mx_sink *sink, enum mx_event_kind kind, enum mx_sev sev,
    const char *domain, int step, time_t until, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Emits an already-built event. */
void mx_emit_event(const struct mx_sink *sink, const struct mx_event *ev);

#endif
