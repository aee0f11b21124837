/* SPDX-License-Identifier: MIT */
/* tests/unit_journal.c — the state database: private modes, WAL, schema version, processes
 * that create it at the same instant. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "journal.h"

struct seen_locks {
	int n, held_live, reboot_live, ours;
	long long held_pid;
};

static void note_lock(const char *domain, const struct jnl_lock_info *l, void *arg)
{
	struct seen_locks *sl = arg;

	sl->n++;
	if (!strcmp(domain, "held.example")) {
		sl->held_live = l->live;
		sl->held_pid = l->pid;
	} else if (!strcmp(domain, "reboot.example")) {
		sl->reboot_live = l->live;
	} else {
		sl->ours++;
	}
}

int main(void)
{
	char dir[] = "/tmp/mxjnl.XXXXXX", path[256], cmd[600];
	struct jnl *j = NULL;
	struct mx_err err;
	struct stat st;
	FILE *fp;

	CHECK(mkdtemp(dir) != NULL);
	/* Two levels that do not exist yet: both are created, the last one 0700. */
	snprintf(path, sizeof(path), "%s/a/mxcutover/state.db", dir);
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	CHECK_INT(jnl_schema_version(j), JNL_SCHEMA_VERSION);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(cmd, sizeof(cmd), "%s/a/mxcutover", dir);
	CHECK(stat(cmd, &st) == 0 && (st.st_mode & 0777) == 0700);
	jnl_close(j);

	/* Reopening keeps the version and does not migrate twice. */
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	CHECK_INT(jnl_schema_version(j), JNL_SCHEMA_VERSION);
	jnl_close(j);

	/* Runs, steps, intents, snapshots, audit and locks. */
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	{
		struct jnl_run run, *list = NULL;
		struct jnl_intent open;
		long long id = 0, id2 = 0, intent = 0;
		size_t n = 0;
		char *state, *snap;

		CHECK_INT(jnl_run_create(j, "contoso.com", "c.mx.microsoft", "dns", "preflight",
			      "{\"low_ttl\":30}", 1000, &id, &err),
		    MX_OK);
		CHECK(id > 0);
		CHECK_INT(jnl_run_latest(j, "contoso.com", &run, &err), MX_OK);
		CHECK_INT(run.id, id);
		CHECK_STR(run.state, "running");
		CHECK_STR(run.step, "preflight");
		CHECK_STR(run.options, "{\"low_ttl\":30}");
		jnl_run_clear(&run);
		CHECK_INT(jnl_run_update(
			      j, id, "waiting", "wait_old_ttl", 4600, "old TTL", NULL, 1001, &err),
		    MX_OK);
		CHECK_INT(jnl_run_latest(j, "contoso.com", &run, &err), MX_OK);
		CHECK_STR(run.state, "waiting");
		CHECK_INT(run.next_at, 4600);
		CHECK_STR(run.waiting_for, "old TTL");
		jnl_run_clear(&run);
		CHECK_INT(jnl_run_latest(j, "nothing.example", &run, &err), MX_OK);
		CHECK_INT(run.id, 0);

		/* Step states, and the time a step finished (what waits are computed from). */
		CHECK_INT(jnl_step_set(j, id, "lower_ttl", "active", NULL, 1002, &err), MX_OK);
		{
			long long at = -1;

			CHECK_INT(jnl_step_get(j, id, "lower_ttl", NULL, &at, &err), MX_OK);
			CHECK_INT(at, 0);
			CHECK_INT(
			    jnl_step_set(j, id, "lower_ttl", "done", NULL, 1003, &err), MX_OK);
			state = jnl_step_state(j, id, "lower_ttl");
			CHECK_STR(state, "done");
			free(state);
			CHECK_INT(jnl_step_get(j, id, "lower_ttl", &state, &at, &err), MX_OK);
			CHECK_STR(state, "done");
			free(state);
			CHECK_INT(at, 1003);
			CHECK(jnl_step_state(j, id, "swap") == NULL);
			CHECK_INT(jnl_step_get(j, id, "swap", &state, &at, &err), MX_OK);
			CHECK(state == NULL);
			CHECK_INT(at, 0);
		}

		/* The run's typed variables: every field round-trips. */
		{
			struct jnl_vars v, w;

			memset(&v, 0, sizeof(v));
			CHECK_INT(jnl_vars_get(j, id, &w, &err), MX_EINVAL);
			v.rollback = 1;
			v.low_ttl = 60;
			v.final_ttl = 3600;
			v.final_preference = 10;
			v.gate_timeout = 900;
			v.provider_min_ttl = 60;
			v.observed_ttl = 7200;
			v.ns = strdup("[\"127.0.0.1\"]");
			v.policy_now = strdup("version: STSv1\r\n");
			v.id_rollback = strdup("20261203T000000");
			v.gate_since = 1234;
			v.verified = 1;
			v.dane_touched = 1;
			CHECK_INT(jnl_vars_put(j, id, &v, &err), MX_OK);
			CHECK_INT(jnl_vars_get(j, id, &w, &err), MX_OK);
			CHECK_INT(w.rollback, 1);
			CHECK_INT(w.low_ttl, 60);
			CHECK_INT(w.final_preference, 10);
			CHECK_INT(w.gate_timeout, 900);
			CHECK_INT(w.provider_min_ttl, 60);
			CHECK_INT(w.observed_ttl, 7200);
			CHECK_STR(w.ns, "[\"127.0.0.1\"]");
			CHECK_STR(w.policy_now, "version: STSv1\r\n");
			CHECK(w.policy_staged == NULL);
			CHECK_STR(w.id_rollback, "20261203T000000");
			CHECK_INT(w.gate_since, 1234);
			CHECK_INT(w.verified, 1);
			CHECK_INT(w.confirmed, 0);
			CHECK_INT(w.dane_touched, 1);
			jnl_vars_clear(&v);
			jnl_vars_clear(&w);
		}

		/* An intent without completion is found again; a completed one is not. */
		CHECK_INT(jnl_intent_begin(j, id, "add_target", "contoso.com", "MX", "{\"b\":1}",
			      "{\"a\":1}", 1004, &intent, &err),
		    MX_OK);
		CHECK_INT(jnl_intent_open(j, id, &open, &err), MX_OK);
		CHECK_INT(open.id, intent);
		CHECK_STR(open.step, "add_target");
		CHECK_STR(open.before, "{\"b\":1}");
		CHECK_STR(open.after, "{\"a\":1}");
		jnl_intent_clear(&open);
		CHECK_INT(jnl_intent_done(j, intent, "applied", 1005, &err), MX_OK);
		CHECK_INT(jnl_intent_open(j, id, &open, &err), MX_OK);
		CHECK_INT(open.id, 0);
		CHECK_INT(jnl_intent_count(j, id), 1);

		/* Snapshots by source. */
		CHECK_INT(jnl_snapshot_put(j, id, "contoso.com", "MX", "provider", "{\"x\":1}",
			      "sha256:00", &err),
		    MX_OK);
		snap = jnl_snapshot_get(j, id, "contoso.com", "MX", "provider");
		CHECK_STR(snap, "{\"x\":1}");
		free(snap);
		CHECK(jnl_snapshot_get(j, id, "contoso.com", "MX", "dns") == NULL);

		/* The newest run of each domain, in domain order. */
		CHECK_INT(jnl_run_create(j, "contoso.com", "d.mx.microsoft", "dns", "preflight",
			      NULL, 1010, &id2, &err),
		    MX_OK);
		CHECK_INT(jnl_run_create(j, "adatum.com", "a.mx.microsoft", "dns", "preflight",
			      NULL, 1011, &id, &err),
		    MX_OK);
		CHECK_INT(jnl_run_list(j, &list, &n, &err), MX_OK);
		CHECK_INT(n, 2);
		if (n == 2) {
			CHECK_STR(list[0].domain, "adatum.com");
			CHECK_INT(list[1].id, id2);
			CHECK_STR(list[1].target, "d.mx.microsoft");
		}
		for (size_t i = 0; i < n; i++)
			jnl_run_clear(&list[i]);
		free(list);

		/* Locks: ours again is fine; a live process's lock refuses with its pid; a dead
		 * process's lock (same host) is taken over and audited. */
		CHECK_INT(jnl_lock(j, "contoso.com", id2, 1020, &err), MX_OK);
		CHECK_INT(jnl_lock(j, "contoso.com", id2, 1021, &err), MX_OK);
		jnl_unlock(j, "contoso.com");
		{
			char host[256] = "", sql[1200];

			gethostname(host, sizeof(host) - 1);
			/* pid 1 is alive (init); a pid beyond pid_max never is. */
			snprintf(sql, sizeof(sql),
			    "sqlite3 '%s' \"INSERT INTO locks (domain, pid, host, acquired_at) "
			    "VALUES "
			    "('held.example', 1, '%s', 1), ('dead.example', 99999999, '%s', 1)\"",
			    path, host, host);
			CHECK(system(sql) == 0);
			/* pid 1 again, but taken before this machine last started: stale. */
			snprintf(sql, sizeof(sql),
			    "sqlite3 '%s' \"INSERT INTO locks (domain, pid, host, acquired_at, "
			    "boot_id) "
			    "VALUES ('reboot.example', 1, '%s', 1, 'an-earlier-boot')\"",
			    path, host);
			CHECK(system(sql) == 0);
		}
		CHECK_INT(jnl_lock(j, "held.example", 0, 1030, &err), MX_ELOCKED);
		CHECK(strstr(err.msg, "pid 1 ") != NULL);
		CHECK_INT(jnl_lock(j, "dead.example", 0, 1031, &err), MX_OK);
		/* The locks of other processes, each once; ours (dead.example, taken over) not. */
		{
			struct seen_locks sl = {0};

			CHECK_INT(jnl_lock_each(j, note_lock, &sl, &err), MX_OK);
			CHECK_INT(sl.n, 2);
			CHECK_INT(sl.held_live, 1);
			CHECK_INT(sl.held_pid, 1);
			CHECK_INT(sl.ours, 0);
			if (access("/proc/sys/kernel/random/boot_id", R_OK) == 0)
				CHECK_INT(sl.reboot_live, 0);
		}
		if (access("/proc/sys/kernel/random/boot_id", R_OK) == 0) {
			struct jnl_lock_info li;

			CHECK_INT(jnl_lock_get(j, "reboot.example", &li, &err), MX_OK);
			CHECK(!li.live);
			jnl_lock_info_clear(&li);
			CHECK_INT(jnl_lock(j, "reboot.example", 0, 1032, &err), MX_OK);
			/* Ours now, with this boot's id: held while we live. */
			CHECK_INT(jnl_lock_get(j, "reboot.example", &li, &err), MX_OK);
			CHECK(li.live);
			jnl_lock_info_clear(&li);
		}
		snprintf(cmd, sizeof(cmd),
		    "sqlite3 '%s' \"SELECT COUNT(*) FROM audit WHERE event='lock_takeover' AND "
		    "domain='dead.example'\"",
		    path);
		fp = popen(cmd, "r");
		if (fp) {
			char count[16] = "";

			if (fgets(count, sizeof(count), fp))
				CHECK(atoi(count) == 1);
			pclose(fp);
		}
	}
	jnl_close(j);

	/* WAL mode is persistent in the file. */
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA journal_mode'", path);
	fp = popen(cmd, "r");
	if (fp) {
		char mode[32] = "";

		if (fgets(mode, sizeof(mode), fp))
			CHECK(strncmp(mode, "wal", 3) == 0);
		pclose(fp);
	}

	/* A database from a newer build is refused with a clear message. */
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA user_version = 99'", path);
	CHECK(system(cmd) == 0);
	CHECK_INT(jnl_open(path, &j, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "upgrade mxcutover") != NULL);

	/* Processes that create the same new state database at the same instant (a tenant's
	 * runs started together) all open it: none mistakes a half-made file for another
	 * application's. Each round releases its processes at once through a pipe. */
	for (int round = 0; round < 20; round++) {
		int gate[2], bad = 0;
		pid_t kids[6];

		snprintf(path, sizeof(path), "%s/race%d.db", dir, round);
		CHECK(pipe(gate) == 0);
		for (int k = 0; k < 6; k++) {
			char c;

			if ((kids[k] = fork()) == 0) {
				close(gate[1]);
				(void)!read(gate[0], &c, 1);
				if (jnl_open(path, &j, &err)) {
					fprintf(stderr, "round %d: %s\n", round, err.msg);
					_exit(1);
				}
				jnl_close(j);
				_exit(0);
			}
		}
		close(gate[0]);
		close(gate[1]);
		for (int k = 0; k < 6; k++) {
			int status = 0;

			waitpid(kids[k], &status, 0);
			bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
		CHECK_INT(bad, 0);
	}

	/* An unwritable location names the path and the option. */
	CHECK(jnl_open("/proc/nonexistent/state.db", &j, &err) != MX_OK);
	CHECK(strstr(err.msg, "/proc/nonexistent") != NULL);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
