/* SPDX-License-Identifier: MIT */
/* src/engine.h — the cutover engine: the steps of src/steps.h as a state machine, one
 * bounded unit of work at a time, every decision journaled before it touches DNS, so a run
 * survives a crash at any instant, resumes to the same end state, and rolls back exactly.
 * The engine never sleeps and never prints: it returns the next deadline and emits events.
 * docs/state-machine.md describes the states, transitions and invariants. */
#ifndef MX_ENGINE_H
#define MX_ENGINE_H

#include <stdbool.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "dns.h"
#include "err.h"
#include "event.h"
#include "http.h"
#include "journal.h"
#include "steps.h"

struct mx_engine;

struct mx_engine_cfg {
	const struct mx_conf *conf; /* borrowed, as are the others */
	struct jnl *jnl;
	struct dns_ctx *dns;
	struct http_ctx *http;
	struct mx_clock *clock;
	const struct mx_sink *sink;
	/* --yes: questions that want a person's word (the inbound test) are answered yes;
	 * otherwise the run waits at the gate until the front end calls mx_engine_answer. */
	bool assume_yes;
	/* [exchange]: the Exchange Online admin API client (src/exo.h), NULL without it. Runs
	 * started with it provision the endpoint, confirm the MX and switch inbound DANE on
	 * (and, rolling back, off) themselves; the engine sets it to never pause. */
	struct exo_ctx *exo;
};

int mx_engine_new(struct mx_engine **out, const struct mx_engine_cfg *cfg, struct mx_err *err);
void mx_engine_free(struct mx_engine *e);

/* Starts a new run of domain to target through [provider.NAME]. plan_json (may be NULL) is
 * a reviewed plan (`plan --format json`): the run refuses when the live zone's snapshot no
 * longer matches its checksum. Fails MX_ELOCKED when another process runs the domain, and
 * MX_EINVAL when an unfinished run exists (resume or roll it back first). */
int mx_engine_start(struct mx_engine *e, const char *domain, const char *target,
    const char *provider, const char *plan_json, struct mx_err *err);

/* Picks up the newest unfinished run of domain, in its direction: a stopped rollback goes on
 * rolling back. */
int mx_engine_resume(struct mx_engine *e, const char *domain, struct mx_err *err);
/* The same, switching the run to [provider.NAME] first (provider NULL: keep it). */
int mx_engine_resume_provider(
    struct mx_engine *e, const char *domain, const char *provider, struct mx_err *err);

/* Rolls the newest run of domain back to its snapshot (also after it completed). */
int mx_engine_rollback(struct mx_engine *e, const char *domain, struct mx_err *err);

/* Answers the question a run of domain waits at (mx_run_info.question): yes passes the
 * gate, no stops the run there (resumable, exit 1). MX_EINVAL when no question waits. */
int mx_engine_answer(struct mx_engine *e, const char *domain, bool yes, struct mx_err *err);

/* One bounded unit of work over all runs. MX_OK: call again at once. MX_EAGAIN: nothing
 * to do before *wake. Runs that fail are recorded and stop; the others go on. */
int mx_engine_step(struct mx_engine *e, time_t *wake, struct mx_err *err);

/* The engine's own descriptors for the front end's poll (SMTP probes of checks in flight),
 * at most max; returns how many. DNS and HTTPS use the shared contexts of the config. */
int mx_engine_fds(const struct mx_engine *e, int *fds, int max);

/* True while a run waits for work on the event loop (checks in flight) rather than for a
 * deadline: a warp clock must not jump then, the loop must run. */
bool mx_engine_io_pending(const struct mx_engine *e);

/* True when every run has stopped (done, rolled back, failed or stopped at a gate). */
bool mx_engine_idle(const struct mx_engine *e);

/* The command line's exit status over all runs: 0 all done, 1 a gate not passed or
 * preflight blockers, 3 a runtime failure, 4 a lock. */
int mx_engine_exit_status(const struct mx_engine *e);

/* How long the engine's calls took: every call of mx_engine_step is measured (wall time on
 * the monotonic clock less the time its thread waited for a CPU and less the time the
 * journal's statements took, which is kept apart); one that ran a step is a unit. The engine
 * is meant never to block, so a call over the budget (MX_ENGINE_BUDGET_MS, or
 * MXCUTOVER_ENGINE_BUDGET_MS) is counted, and with MXCUTOVER_ENGINE_BUDGET_LOG=FILE appended
 * to FILE as one line naming domain and step. */
#define MX_ENGINE_BUDGET_MS 20
struct mx_engine_timing {
	long units, over;
	double max_ms;	   /* the longest call, the journal's time left out */
	char max_step[64]; /* its step key */
	double max_jnl_ms; /* the longest time one call spent in the journal */
	/* Calls made in fibers on the engine's loop (HTTP providers and Exchange Online), the
	 * most of them under way at once, how many of them were Exchange Online's, and calls
	 * made on the workers (RFC 2136 and manual providers, the DANE gates' fresh lookups). */
	long loop_calls, loop_most, loop_exo_calls, worker_calls;
};
void mx_engine_timing(const struct mx_engine *e, struct mx_engine_timing *out);

/* Writes under way (a provider's change of the zone, an Exchange Online cmdlet that changes
 * the tenant). mx_engine_free waits for them, each within its provider's timeouts, so that
 * their outcome is journaled and no other process takes the domain while one may still land:
 * a front end that stops says so first. Reads under way are stopped at once instead. */
int mx_engine_calls_in_flight(struct mx_engine *e);

/* What a front end shows of run i. Strings are borrowed until the next mx_engine_step. */
struct mx_run_info {
	const char *domain, *target, *provider;
	enum mx_run_state st; /* src/steps.h */
	const char *state;    /* its name: running|waiting|gate|done|failed|… */
	bool rollback;	      /* rolling back (step indexes the rollback table) */
	int step;	      /* index in mx_prog_step(rollback, …); the count when finished */
	unsigned step_flags;  /* MX_STEPF_* of the current step (0 when finished) */
	const char *step_key; /* journal key of the current step */
	const char *step_title;
	time_t wake;		 /* next deadline (0 when none) */
	const char *waiting_for; /* "" when not waiting */
	const char *gate;	 /* the gate text a person must act on, "" when none */
	const char *question;	 /* non-empty: waits for mx_engine_answer */
	bool stopped;
	int exit;	   /* exit status of a stopped run */
	const char *error; /* why it stopped on an error or at a gate, "" otherwise */
	/* The zone's MX as far as the run knows (its snapshot, then what it wrote): "0 host",
	 * with " +" when there are more records; "" before the snapshot. */
	const char *mx;
};
void mx_engine_run_info(const struct mx_engine *e, int i, struct mx_run_info *out);

/* Asks every run to stop where it is (Ctrl-C, q): nothing more is started; the journal
 * already holds a resumable position. */
void mx_engine_stop(struct mx_engine *e);

/* Stops one domain's run where it is (resumable), leaving the others running. */
void mx_engine_stop_domain(struct mx_engine *e, const char *domain);

/* Drops the engine's stopped runs of domain, so that it can be resumed or rolled back again
 * while other runs go on. */
void mx_engine_forget(struct mx_engine *e, const char *domain);

/* Number of runs the engine drives, and the journal state of run i ("done", …). */
int mx_engine_nruns(const struct mx_engine *e);
const char *mx_engine_run_state(const struct mx_engine *e, int i);
const char *mx_engine_run_domain(const struct mx_engine *e, int i);

#endif
