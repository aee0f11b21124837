/* SPDX-License-Identifier: MIT */
/* src/journal.c — the state database (SQLite). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

struct jnl {
	sqlite3 *db;
	char *path;
};

/* Migrations: entry i brings the schema from version i to i + 1. Never edit a shipped
 * entry; append a new one. */
static const char *const migrations[] = {
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " domain TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " state TEXT NOT NULL," /* running|waiting|gate|done|failed|rolling_back|rolled_back */
    " step TEXT NOT NULL,"  /* the step key (stable forever) */
    " next_at INTEGER,"	    /* unix time of the next deadline, NULL when none */
    " waiting_for TEXT,"
    " options TEXT NOT NULL," /* JSON: settings the run was started with */
    " error TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX runs_domain ON runs(domain, id);"
    "CREATE TABLE steps ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " step TEXT NOT NULL,"
    " state TEXT NOT NULL," /* pending|active|done|skipped|undone */
    " started_at INTEGER, finished_at INTEGER, detail TEXT,"
    " PRIMARY KEY (run_id, step));"
    "CREATE TABLE intents ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " step TEXT NOT NULL,"
    " rrname TEXT NOT NULL, rrtype TEXT NOT NULL,"
    " before TEXT NOT NULL," /* JSON RRset expected before the write (the inverse) */
    " after TEXT NOT NULL,"  /* JSON RRset wanted */
    " created_at INTEGER NOT NULL,"
    " done_at INTEGER,"
    " outcome TEXT);" /* applied|already|reconciled|undone */
    "CREATE TABLE snapshots ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " rrname TEXT NOT NULL, rrtype TEXT NOT NULL,"
    " source TEXT NOT NULL," /* provider|dns */
    " rrset TEXT NOT NULL,"  /* JSON */
    " checksum TEXT NOT NULL,"
    " PRIMARY KEY (run_id, rrname, rrtype, source));"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " run_id INTEGER, domain TEXT,"
    " event TEXT NOT NULL, detail TEXT);"
    "CREATE TABLE locks ("
    " domain TEXT PRIMARY KEY,"
    " run_id INTEGER,"
    " pid INTEGER NOT NULL, host TEXT NOT NULL, boot_id TEXT,"
    " acquired_at INTEGER NOT NULL);",
};

static int sql_fail(struct jnl *j, const char *what, struct mx_err *err)
{
	return mx_err_set(
	    err, MX_EIO, "state database %s: %s failed: %s", j->path, what, sqlite3_errmsg(j->db));
}

static int exec(struct jnl *j, const char *sql, const char *what, struct mx_err *err)
{
	if (sqlite3_exec(j->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(j, what, err);
	return MX_OK;
}

int jnl_schema_version(struct jnl *j)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(j->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct jnl *j, struct mx_err *err)
{
	int have = jnl_schema_version(j), rc;
	char pragma[64];

	if (have < 0)
		return sql_fail(j, "reading the schema version", err);
	if (have > JNL_SCHEMA_VERSION)
		return mx_err_set(err, MX_EINVAL,
		    "state database %s has schema version %d, newer than this mxcutover "
		    "understands (%d); upgrade mxcutover",
		    j->path, have, JNL_SCHEMA_VERSION);
	if (have == JNL_SCHEMA_VERSION)
		return MX_OK;
	rc = exec(j, "BEGIN IMMEDIATE", "starting the migration", err);
	if (rc)
		return rc;
	/* Re-read under the write lock: another process may have migrated meanwhile. */
	have = jnl_schema_version(j);
	for (int v = have; v < JNL_SCHEMA_VERSION; v++) {
		rc = exec(j, migrations[v], "migrating the schema", err);
		if (rc)
			goto fail;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", JNL_SCHEMA_VERSION);
	rc = exec(j, pragma, "recording the schema version", err);
	if (rc)
		goto fail;
	return exec(j, "COMMIT", "committing the migration", err);
fail:
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int jnl_open(const char *path, struct jnl **out, struct mx_err *err)
{
	struct jnl *j;
	int fd, rc;

	rc = mx_path_make_parent(path, err);
	if (rc)
		return rc;
	/* Create the file ourselves so it is 0600 from its first byte. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mx_err_set(
		    err, MX_EIO, "state database %s: %s; check --state", path, strerror(errno));
	close(fd);
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		rc = sql_fail(j, "opening", err);
		goto fail;
	}
	sqlite3_busy_timeout(j->db, 5000);
	rc = exec(j, "PRAGMA journal_mode = WAL", "enabling WAL", err);
	if (!rc)
		rc = exec(j, "PRAGMA synchronous = FULL", "setting synchronous", err);
	if (!rc)
		rc = exec(j, "PRAGMA foreign_keys = ON", "enabling foreign keys", err);
	if (!rc)
		rc = migrate(j, err);
	if (rc)
		goto fail;
	*out = j;
	return MX_OK;
fail:
	jnl_close(j);
	return rc;
}

void jnl_close(struct jnl *j)
{
	if (!j)
		return;
	sqlite3_close_v2(j->db);
	free(j->path);
	free(j);
}
