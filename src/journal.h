/* SPDX-License-Identifier: MIT */
/* src/journal.h — the state database (SQLite): runs, steps, intents and their completion,
 * snapshots, the audit log and per-domain run locks. The journal is the truth about every
 * run; it is written before DNS is, and it never holds a secret. */
#ifndef MX_JOURNAL_H
#define MX_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct jnl;

/* The schema version this build writes (PRAGMA user_version). */
#define JNL_SCHEMA_VERSION 3

/* Opens (creating when missing) the state database at path: its folder 0700, the file
 * 0600, WAL, synchronous=FULL, foreign keys on, migrations up to JNL_SCHEMA_VERSION applied
 * in one transaction. A database from a newer build is refused. Caller closes with
 * jnl_close. */
int jnl_open(const char *path, struct jnl **out, struct mx_err *err);
void jnl_close(struct jnl *j);

/* Milliseconds of wall time SQLite has spent running this handle's statements so far
 * (commits and their syncs to disk included): the engine reports the journal's share of a
 * unit of work apart from the rest. */
double jnl_busy_ms(const struct jnl *j);

/* The schema version found in the file after opening. */
int jnl_schema_version(struct jnl *j);

/* Groups the writes that follow into one transaction (so a step's completion and the run's
 * next position land together). */
int jnl_begin(struct jnl *j, struct mx_err *err);
int jnl_commit(struct jnl *j, struct mx_err *err);
/* Drops the open transaction's writes (after one of them failed): none of them lands. */
void jnl_abort(struct jnl *j);

/* One transaction around many (`run --file` starting every run of its list): until
 * jnl_batch_commit, each jnl_begin/jnl_commit/jnl_abort (and jnl_lock) is a savepoint inside
 * it, so that the whole list is journaled at once or not at all. It holds the database's
 * write lock throughout: other processes' writes wait (SQLite's busy timeout, 5 s). */
int jnl_batch_begin(struct jnl *j, struct mx_err *err);
/* Ends the batch; on failure none of it lands. Does nothing without a batch. */
int jnl_batch_commit(struct jnl *j, struct mx_err *err);

/* One run as stored. Strings are owned by the struct (jnl_run_clear frees them). */
struct jnl_run {
	long long id;
	char *domain, *target, *provider;
	char *state;	   /* running|waiting|gate|done|failed|rolling_back|rolled_back */
	char *step;	   /* step key */
	long long next_at; /* 0: no deadline */
	char *waiting_for; /* NULL or text */
	char *options;	   /* JSON text */
	char *error;	   /* NULL or the last failure's message */
	long long created_at, updated_at;
};
void jnl_run_clear(struct jnl_run *r);

/* Creates a run (state "running", step = first_step). Returns its id in *id. */
int jnl_run_create(struct jnl *j, const char *domain, const char *target, const char *provider,
    const char *first_step, const char *options_json, long long now, long long *id,
    struct mx_err *err);

/* The newest run of domain; MX_OK with out->id == 0 when there is none. */
int jnl_run_latest(struct jnl *j, const char *domain, struct jnl_run *out, struct mx_err *err);

/* The newest run of every domain, newest first; caller frees each with jnl_run_clear and the
 * array with free(). */
int jnl_run_list(struct jnl *j, struct jnl_run **out, size_t *n, struct mx_err *err);

/* Replaces the run's options/variables JSON text. */
int jnl_run_set_options(
    struct jnl *j, long long run_id, const char *options_json, struct mx_err *err);

/* Records where a run is. waiting_for and error may be NULL. */
int jnl_run_update(struct jnl *j, long long run_id, const char *state, const char *step,
    long long next_at, const char *waiting_for, const char *error, long long now,
    struct mx_err *err);

/* A step's state in this run: pending|active|done|skipped|undone. */
int jnl_step_set(struct jnl *j, long long run_id, const char *step, const char *state,
    const char *detail, long long now, struct mx_err *err);
/* The step's state, or NULL (caller frees). */
char *jnl_step_state(struct jnl *j, long long run_id, const char *step);
/* The step's state (*state NULL when the step has no row yet; caller frees) and when it
 * finished (*finished_at 0 when it has not). Either output may be NULL. A database error is
 * an error, never a made-up answer. */
int jnl_step_get(struct jnl *j, long long run_id, const char *step, char **state,
    long long *finished_at, struct mx_err *err);

/* The variables of a run (table run_vars; docs/state-machine.md documents every field).
 * Strings are owned by the struct (jnl_vars_clear frees them); NULL when unset. */
struct jnl_vars {
	int rollback; /* direction: 0 forward, 1 rolling back */
	/* settings the run was started with */
	int low_ttl, final_ttl, final_preference, gate_timeout, provider_min_ttl;
	/* preflight */
	long long observed_ttl; /* max MX TTL served by any authoritative server */
	char *ns;		/* JSON array of the authoritative servers' addresses */
	/* snapshot */
	char *plan; /* the reviewed plan document (run --plan FILE), checked at the snapshot */
	char *checksum;
	char *policy_now, *policy_staged, *policy_final; /* MTA-STS policies (NULL: none) */
	char *id_stage, *id_final, *id_rollback;	 /* their _mta-sts ids */
	/* the current gate */
	long long gate_since; /* when its clock started (0: not at a gate) */
	long long prop_since; /* when the wait for name servers started (0: not waiting) */
	int verified;	      /* its verification passed (a write may follow) */
	int confirmed;	      /* a person answered yes to its question */
	/* rollback */
	char *rb_start;	  /* JSON {"mx":RRset,"sts":RRset}: the zone when it started */
	int dane_touched; /* dane_enable was entered before the rollback started */
	/* [exchange]: the run calls the Exchange Online admin API; each call below is 0 not
	 * made, 1 intent recorded (the call may have happened), 2 done */
	int exchange;
	int exo_provision; /* Enable-DnssecForVerifiedDomain */
	int exo_dane;	   /* Enable-SmtpDaneInbound */
	int exo_dane_off;  /* Disable-SmtpDaneInbound (rollback) */
};
void jnl_vars_clear(struct jnl_vars *v);
/* Reads the run's variables; MX_EINVAL when the run has none. */
int jnl_vars_get(struct jnl *j, long long run_id, struct jnl_vars *out, struct mx_err *err);
/* Stores all of them (insert or replace). */
int jnl_vars_put(struct jnl *j, long long run_id, const struct jnl_vars *v, struct mx_err *err);

/* Deletes a run that wrote nothing (a refused preflight) with its steps, variables and
 * snapshots; the audit log keeps its lines. */
int jnl_run_delete(struct jnl *j, long long run_id, struct mx_err *err);
/* Records the state of a run directly (marks a superseded run "abandoned"). */
int jnl_run_set_state(struct jnl *j, long long run_id, const char *state, const char *error,
    long long now, struct mx_err *err);
/* Switches the provider of a run ([provider.NAME]). */
int jnl_run_set_provider(struct jnl *j, long long run_id, const char *provider, struct mx_err *err);
/* Records the target host of a run (with [exchange], learnt when the run provisions it). */
int jnl_run_set_target(struct jnl *j, long long run_id, const char *target, struct mx_err *err);
/* Number of intents of the run whose write may have reached the provider (any intent: an
 * open one may have been applied). */
int jnl_intent_written(struct jnl *j, long long run_id, long long *count, struct mx_err *err);

/* Write intents: recorded (and committed) before the provider is called, completed after. */
struct jnl_intent {
	long long id;
	char *step, *rrname, *rrtype, *before, *after; /* before/after: JSON RRsets */
};
void jnl_intent_clear(struct jnl_intent *i);
int jnl_intent_begin(struct jnl *j, long long run_id, const char *step, const char *rrname,
    const char *rrtype, const char *before_json, const char *after_json, long long now,
    long long *id, struct mx_err *err);
int jnl_intent_done(
    struct jnl *j, long long intent_id, const char *outcome, long long now, struct mx_err *err);
/* The run's intent that has no completion; MX_OK with out->id == 0 when none. */
int jnl_intent_open(struct jnl *j, long long run_id, struct jnl_intent *out, struct mx_err *err);
/* Number of intents of the run (for tests and audits). */
int jnl_intent_count(struct jnl *j, long long run_id);

/* Snapshots: the RRsets as they were before the run, per source ("provider", "dns"). */
int jnl_snapshot_put(struct jnl *j, long long run_id, const char *rrname, const char *rrtype,
    const char *source, const char *rrset_json, const char *checksum, struct mx_err *err);
/* The stored JSON (caller frees) or NULL. */
char *jnl_snapshot_get(
    struct jnl *j, long long run_id, const char *rrname, const char *rrtype, const char *source);

/* Appends to the audit log. */
int jnl_audit(struct jnl *j, long long run_id, const char *domain, const char *event,
    const char *detail, long long now, struct mx_err *err);

/* Per-domain run lock with owner pid and host. A lock whose owner is this host and whose
 * process is gone is taken over (and audited). Held by a live process → MX_ELOCKED with a
 * message naming the pid and host. */
int jnl_lock(
    struct jnl *j, const char *domain, long long run_id, long long now, struct mx_err *err);
void jnl_unlock(struct jnl *j, const char *domain);

/* Outbound connector changes (`outbound --apply`, `rollback --outbound`): the modes found
 * and the modes set, journaled like a DNS write — the intent is recorded and committed
 * before the API is called, its outcome after. Strings are owned (clear with
 * jnl_connector_change_clear). */
struct jnl_connector_change {
	long long id;
	char *tenant, *connector;
	char *before, *after; /* JSON {"SmtpDaneMode":…,"MtaStsMode":…} */
	char *partners;	      /* JSON array of the partner domains the modes were judged for */
	char *state;	      /* intent|applied|failed|undo_intent|rolled_back */
	long long created_at, updated_at;
};
void jnl_connector_change_clear(struct jnl_connector_change *c);
/* Records a change about to be made (state "intent"); its id in *id. */
int jnl_connector_begin(struct jnl *j, const char *tenant, const char *connector,
    const char *before_json, const char *after_json, const char *partners_json, long long now,
    long long *id, struct mx_err *err);
int jnl_connector_set_state(
    struct jnl *j, long long id, const char *state, long long now, struct mx_err *err);
/* The newest change of the connector that is not finished with (intent, applied or
 * undo_intent): what a rollback restores. MX_OK with out->id == 0 when there is none. */
int jnl_connector_latest(struct jnl *j, const char *tenant, const char *connector,
    struct jnl_connector_change *out, struct mx_err *err);

/* Read-only access, for commands that only look (status). */

/* Opens an existing state database read-only: never creates a folder, a file or a table and
 * never migrates. MX_OK with *out NULL when there is no database at path (no runs). Caller
 * closes with jnl_close. */
int jnl_open_ro(const char *path, struct jnl **out, struct mx_err *err);

/* Who holds domain's run lock: pid 0 when nobody. live: the owner still runs (on another
 * host we cannot tell, and assume it does). host is owned (jnl_lock_info_clear). */
struct jnl_lock_info {
	long long pid;
	char *host;
	long long since; /* when the lock was taken */
	bool live;
};
int jnl_lock_get(struct jnl *j, const char *domain, struct jnl_lock_info *out, struct mx_err *err);
void jnl_lock_info_clear(struct jnl_lock_info *l);

/* Calls fn for every run lock that another process holds (this process's own locks are
 * skipped), live or not; l and domain live until fn returns. For a front end that shows runs
 * driven elsewhere: one query, the owners' liveness checked without a file read per lock. */
int jnl_lock_each(struct jnl *j,
    void (*fn)(const char *domain, const struct jnl_lock_info *l, void *arg), void *arg,
    struct mx_err *err);

/* A run's steps in the order they started, with their states (pending|active|done|skipped|
 * undone) and times (0 when unset). Caller frees with jnl_step_list_free. */
struct jnl_step {
	char *step, *state, *detail;
	long long started_at, finished_at;
};
int jnl_step_list(
    struct jnl *j, long long run_id, struct jnl_step **out, size_t *n, struct mx_err *err);
void jnl_step_list_free(struct jnl_step *v, size_t n);

#endif
