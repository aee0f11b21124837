/* SPDX-License-Identifier: MIT */
/* ui/core.h — the wizard's engine loop: one thread that owns the journal, the resolver and
 * HTTPS contexts, the clock and the cutover engine, and runs every domain's checks, plans
 * and runs on one event loop (src/loop.c). The terminal side talks to it only through
 * commands (ui_core_send) and messages (ui_core_take): it never steps the engine, never
 * resolves a name and never reads the journal, so a slow name server, provider or person
 * never freezes the screen, and a question waiting for a person never stops the other runs.
 * No curses here. */
#ifndef MX_UI_CORE_H
#define MX_UI_CORE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "check.h"
#include "cli.h"
#include "engine.h"
#include "event.h"
#include "exo.h"
#include "steps.h"

#define UI_TEXT_MAX 1024
/* Steps of the longer direction (forward or rollback). */
#define UI_STEP_MAX ((int)STEP_COUNT > (int)RB_COUNT ? (int)STEP_COUNT : (int)RB_COUNT)

/* Everything the wizard shows of a domain's newest run, as the engine knows it. */
struct ui_run {
	bool exists;   /* the domain has a run (in the engine or the journal) */
	bool live;     /* the engine drives it now; false: stopped or finished */
	bool rollback; /* it is rolling (or rolled) back: step indexes the rollback program */
	bool exchange; /* it calls the Exchange Online admin API itself ([exchange]) */
	enum mx_run_state st;
	int step;	     /* index in the forward or rollback program; -1 when unknown */
	unsigned step_flags; /* MX_STEPF_* of that step */
	char step_key[40];   /* for messages only ("stopped at wait_old_ttl") */
	time_t wake;	     /* next deadline, 0 when none */
	char waiting_for[200];
	char gate[UI_TEXT_MAX];	    /* what a person must do, "" when nothing */
	char question[UI_TEXT_MAX]; /* a yes/no question waiting for the answer, "" when none */
	char target[254], provider[64];
	char error[512]; /* the last failure, "" when none */
	/* each step's state in the journal, of the direction shown (forward or rollback) */
	enum mx_step_state steps[UI_STEP_MAX];
	/* The MX the run last wrote (or found at its snapshot), "0 host" with " +" when there
	 * are more, "" when the engine has none: the domain's MX as it is now, whatever a
	 * resolver's cache still holds (the domains list shows it while the run is unfinished). */
	char mx_now[300];
	/* Another mxcutover process (another wizard, a `run` or `resume`) holds the run's lock
	 * and drives it: its pid (0 when none) and "pid N on HOST since HH:MM:SS UTC". This
	 * wizard only shows the journal's view of such a run, refreshed every few seconds. */
	long long held_pid;
	char held_by[160];
};

enum ui_cmd_kind {
	UI_CMD_CHECK,	 /* check domains[] (with targets[]); flag: with a fresh resolver */
	UI_CMD_PLAN,	 /* build the plan of domain to target through provider; flag: export */
	UI_CMD_START,	 /* start a run of domain to target through provider (plan_json) */
	UI_CMD_RESUME,	 /* resume domain's stopped run: a rollback resumes as a rollback */
	UI_CMD_ROLLBACK, /* roll domain back (its forward run stops where it is first) */
	UI_CMD_STOP,	 /* stop every run where it is (resumable) */
	UI_CMD_ANSWER,	 /* answer domain's question: flag is yes */
	UI_CMD_TENANT,	 /* [exchange]: read the tenant's accepted domains */
};

struct ui_cmd {
	enum ui_cmd_kind kind;
	char domain[254];
	char target[254];
	char provider[64];
	bool flag;
	char *plan_json; /* UI_CMD_START: owned, may be NULL */
	size_t n;	 /* UI_CMD_CHECK: domains[] and targets[] (entries may be NULL), owned */
	char **domains, **targets;
	struct ui_cmd *next;
};

enum ui_msg_kind {
	UI_MSG_EVENT,  /* ev: an engine event (log lines, steps, waits, gates, done) */
	UI_MSG_RUN,    /* run: the domain's run changed (also sent at start for every run) */
	UI_MSG_CHECK,  /* chk: the domain's checks finished (err.rc: they could not run) */
	UI_MSG_PLAN,   /* plan: the domain's plan (NULL with err), flag: export it */
	UI_MSG_FAIL,   /* err: a command failed (domain may be "") */
	UI_MSG_READY,  /* every run of the journal has been sent once */
	UI_MSG_TENANT, /* accepted[]: the tenant's accepted domains (err.rc: not read);
			* domain is the tenant's name */
};

struct ui_msg {
	enum ui_msg_kind kind;
	char domain[254];
	bool flag;
	struct mx_err err;
	struct mx_event ev;
	struct ui_run run;
	struct chk_domain chk; /* owned: release with chk_domain_clear, or move it out */
	/* UI_MSG_CHECK with [exchange]: the target host Exchange Online assigned to the domain
	 * (DnssecMxValue), "" when its endpoint is not provisioned or Exchange was not read */
	char exo_target[254];
	json_t *plan;		     /* owned */
	struct exo_domain *accepted; /* owned */
	size_t naccepted;
	struct ui_msg *next;
};

struct ui_core;

/* Opens the journal, the resolver and HTTPS contexts and the engine (on the calling thread,
 * so errors come back here), then starts the loop's thread. clock_spec is MXCUTOVER_CLOCK.
 * app is borrowed for the core's lifetime. Caller ends it with ui_core_free. */
int ui_core_new(
    struct ui_core **out, const struct mx_app *app, const char *clock_spec, struct mx_err *err);

/* A command with its domain set (may be NULL). NULL when memory ran out. */
struct ui_cmd *ui_cmd_new(enum ui_cmd_kind kind, const char *domain);

/* Queues a command for the loop; takes ownership of cmd. */
void ui_core_send(struct ui_core *c, struct ui_cmd *cmd);

/* A descriptor that is readable while messages wait. */
int ui_core_fd(const struct ui_core *c);

/* The oldest message, or NULL; never blocks. Caller frees it with ui_msg_free. */
struct ui_msg *ui_core_take(struct ui_core *c);
void ui_msg_free(struct ui_msg *m);

/* True with an [exchange] section: the tenant's domains, targets and the Microsoft side of
 * every run come from the Exchange Online admin API (all its calls are made on the engine
 * loop's thread). */
bool ui_core_tenant(const struct ui_core *c);

/* The engine's clock (a warp clock runs ahead of the system time), and whether it warps. */
time_t ui_core_now(const struct ui_core *c);
bool ui_core_warps(const struct ui_core *c);

/* Stops every run where it is and ends the loop's thread, waiting up to a few seconds for a
 * provider call in flight. The messages it sent (the last ones describe every run as
 * stopped) can still be taken until ui_core_free. */
void ui_core_stop(struct ui_core *c);
void ui_core_free(struct ui_core *c);

#endif
