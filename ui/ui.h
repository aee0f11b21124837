/* SPDX-License-Identifier: MIT */
/* ui/ui.h — what the wizard's files share: the background worker that runs checks and
 * builds plans off the UI thread (so a slow name server never freezes the screen), and the
 * data each domain row carries. Only ui/ includes curses; this header does not. */
#ifndef MX_UI_H
#define MX_UI_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "check.h"
#include "cli.h"
#include "err.h"

enum ui_job_kind {
	UI_JOB_CHECK, /* chk_run over the job's domains */
	UI_JOB_PLAN,  /* provider read + checks + mx_plan_build for one domain */
};

/* One unit of background work. Filled by the UI thread, handed to the worker with
 * ui_worker_submit, and handed back (results filled) by ui_worker_take. */
struct ui_job {
	enum ui_job_kind kind;
	size_t n;		/* domains in this job */
	char **domains;		/* owned */
	char **targets;		/* owned; entries may be NULL */
	char provider[64];	/* UI_JOB_PLAN: [provider.NAME] */
	bool export_after;	/* UI_JOB_PLAN: the `p` key asked for it */
	struct chk_domain *res; /* UI_JOB_CHECK results (n entries), owned */
	json_t *plan;		/* UI_JOB_PLAN result, owned */
	struct mx_err err;	/* set when the job could not run at all */
	int rc;
	struct ui_job *next;
};

/* Allocates a job over n domains (targets may be NULL). NULL when memory ran out. Caller
 * frees with ui_job_free (after taking it back, never while the worker holds it). */
struct ui_job *ui_job_new(
    enum ui_job_kind kind, const char *const *domains, const char *const *targets, size_t n);
void ui_job_free(struct ui_job *j);

struct ui_worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ui_job *queue; /* waiting, oldest first */
	struct ui_job *done;  /* finished, oldest first */
	bool quit;
	bool busy;
	int pipe[2]; /* the worker writes a byte per finished job; the UI polls pipe[0] */
	const struct mx_app *app;
	struct dns_ctx *dns; /* the worker's own: libunbound and curl contexts are per thread */
	struct http_ctx *http;
};

/* Starts the worker thread with its own resolver and HTTPS contexts (created here, on the
 * calling thread). app is borrowed for the worker's lifetime. */
int ui_worker_start(struct ui_worker *w, const struct mx_app *app, struct mx_err *err);

/* Queues a job; takes ownership until ui_worker_take returns it. */
void ui_worker_submit(struct ui_worker *w, struct ui_job *j);

/* A finished job, or NULL; never blocks. Drains the wake-up pipe. */
struct ui_job *ui_worker_take(struct ui_worker *w);

/* True while a job is queued or running. */
bool ui_worker_busy(struct ui_worker *w);

/* Stops the worker: drops queued jobs, waits up to two seconds for the running one. When it
 * does not finish in time (a query still waiting for its timeout), the thread is left to end
 * with the process and its contexts are not freed. */
void ui_worker_stop(struct ui_worker *w);

/* The wizard's entry (src/cli.h declares it as mx_cmd_tui). */

#endif
