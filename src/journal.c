/* SPDX-License-Identifier: MIT */
/* src/journal.c — the state database (SQLite). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "paths.h"

/* Prepared statements kept for the connection's life: the same few dozen statements run for
 * every step of every run, and preparing one cost more than running it (a tenth of all CPU
 * with 1000 runs at once). A statement in use is busy; the same SQL asked for meanwhile is
 * prepared again (and kept too, while there is room). */
#define STMT_CACHE_MAX 64
struct stmt_slot {
	char *sql;
	sqlite3_stmt *st;
	bool busy;
};

struct jnl {
	sqlite3 *db;
	char *path;
	_Atomic long long busy_ns; /* wall time SQLite spent in statements (jnl_busy_ms) */
	pthread_mutex_t cache_mu;  /* the connection may be shared by threads (FULLMUTEX) */
	bool batch; /* jnl_batch_begin: transactions are savepoints inside one transaction */
	struct stmt_slot cache[STMT_CACHE_MAX];
	int ncache;
};

static struct jnl *jnl_alloc(const char *path)
{
	struct jnl *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	if (!(j->path = strdup(path))) {
		free(j);
		return NULL;
	}
	pthread_mutex_init(&j->cache_mu, NULL);
	return j;
}

/* SQLITE_TRACE_PROFILE: how long each statement ran, commits and their syncs included. */
static int trace_profile(unsigned type, void *ctx, void *stmt, void *ns)
{
	struct jnl *j = ctx;

	(void)stmt;
	if (type == SQLITE_TRACE_PROFILE)
		atomic_fetch_add(&j->busy_ns, (long long)*(sqlite3_int64 *)ns);
	return 0;
}

double jnl_busy_ms(const struct jnl *j)
{
	return j ? (double)atomic_load(&j->busy_ns) / 1e6 : 0;
}

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
    /* 1 → 2: outbound connector changes made through the Exchange Online admin API. */
    "CREATE TABLE connector_changes ("
    " id INTEGER PRIMARY KEY,"
    " tenant TEXT NOT NULL, connector TEXT NOT NULL,"
    " before TEXT NOT NULL,"   /* JSON {"SmtpDaneMode","MtaStsMode"} as found */
    " after TEXT NOT NULL,"    /* JSON of the modes set */
    " partners TEXT NOT NULL," /* JSON array of the partner domains judged */
    " state TEXT NOT NULL,"    /* intent|applied|failed|undo_intent|rolled_back */
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX connector_changes_name ON connector_changes(tenant, connector, id);",
    /* 2 → 3: the run's variables as typed columns instead of the JSON "options" bag
     * (docs/state-machine.md documents each). Existing runs keep their values; a run that
     * stopped at a rollback gate is recognised by its step key. */
    "CREATE TABLE run_vars ("
    " run_id INTEGER PRIMARY KEY REFERENCES runs(id),"
    " direction TEXT NOT NULL DEFAULT 'forward' CHECK (direction IN ('forward','rollback')),"
    " low_ttl INTEGER NOT NULL, final_ttl INTEGER NOT NULL,"
    " final_preference INTEGER NOT NULL, gate_timeout INTEGER NOT NULL,"
    " provider_min_ttl INTEGER NOT NULL DEFAULT 0,"
    " observed_ttl INTEGER NOT NULL DEFAULT 0,"
    " ns TEXT,"
    " plan TEXT, checksum TEXT,"
    " policy_now TEXT, policy_staged TEXT, policy_final TEXT,"
    " id_stage TEXT, id_final TEXT, id_rollback TEXT,"
    " gate_since INTEGER NOT NULL DEFAULT 0, prop_since INTEGER NOT NULL DEFAULT 0,"
    " verified INTEGER NOT NULL DEFAULT 0, confirmed INTEGER NOT NULL DEFAULT 0,"
    " rb_start TEXT,"
    " dane_touched INTEGER NOT NULL DEFAULT 0,"
    " exchange INTEGER NOT NULL DEFAULT 0,"
    " exo_provision INTEGER NOT NULL DEFAULT 0,"
    " exo_dane INTEGER NOT NULL DEFAULT 0,"
    " exo_dane_off INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO run_vars (run_id, direction, low_ttl, final_ttl, final_preference,"
    " gate_timeout, observed_ttl, ns, checksum, policy_now, policy_staged, policy_final,"
    " id_stage, id_final, gate_since, prop_since, verified, dane_touched)"
    " SELECT id,"
    "  CASE WHEN state IN ('rolling_back','rolled_back') OR step LIKE 'rb!_%' ESCAPE '!'"
    "   THEN 'rollback' ELSE 'forward' END,"
    "  COALESCE(json_extract(options, '$.low_ttl'), 30),"
    "  COALESCE(json_extract(options, '$.final_ttl'), 3600),"
    "  COALESCE(json_extract(options, '$.final_preference'), 0),"
    "  COALESCE(json_extract(options, '$.gate_timeout'), 3600),"
    "  COALESCE(json_extract(options, '$.old_ttl'), 0),"
    "  json_extract(options, '$.ns'),"
    "  json_extract(options, '$.checksum'),"
    "  json_extract(options, '$.policy_now'),"
    "  json_extract(options, '$.policy_staged'),"
    "  json_extract(options, '$.policy_final'),"
    "  json_extract(options, '$.id_stage'),"
    "  json_extract(options, '$.id_final'),"
    "  COALESCE(json_extract(options, '$.gate_since'), 0),"
    "  COALESCE(json_extract(options, '$.prop_since'), 0),"
    "  CASE WHEN step = 'mtasts_stage' THEN COALESCE(json_extract(options,"
    "   '$.staged_policy_seen'), 0) WHEN step = 'mtasts_finalize' THEN"
    "   COALESCE(json_extract(options, '$.final_policy_seen'), 0) ELSE 0 END,"
    "  EXISTS (SELECT 1 FROM steps s WHERE s.run_id = runs.id AND s.step = 'dane_enable'"
    "   AND s.state IN ('active','done'))"
    " FROM runs WHERE json_valid(options);",
};

/* What a person can do about a failure with this SQLite result code (and the system's
 * errno behind it: a full disk may surface as an I/O error on the WAL index). */
static const char *sql_fix(int code, int sys_errno)
{
	if (sys_errno == ENOSPC || sys_errno == EDQUOT)
		return "its file system is full: free space, then resume";
	if (sys_errno == EROFS || sys_errno == EACCES || sys_errno == EPERM)
		return "make the file and its folder writable, or point --state at a writable "
		       "folder";
	switch (code & 0xff) {
	case SQLITE_FULL:
		return "free space on its file system, then resume";
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return "make the file and its folder writable, or point --state at a writable "
		       "folder";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "the file is damaged: move it aside and restore it from a backup";
	case SQLITE_IOERR:
		return "check the disk and its file system, then resume";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "another process holds it: wait for it or stop it";
	default:
		return "check --state";
	}
}

static int sql_fail(struct jnl *j, const char *what, struct mx_err *err)
{
	int code = sqlite3_extended_errcode(j->db);

	return mx_err_set(err, MX_EIO, "state database %s: %s failed: %s; %s", j->path, what,
	    sqlite3_errmsg(j->db), sql_fix(code, sqlite3_system_errno(j->db)));
}

static int prep(struct jnl *j, const char *sql, sqlite3_stmt **st, struct mx_err *err);
static void unprep(struct jnl *j, sqlite3_stmt *st);

static int exec(struct jnl *j, const char *sql, const char *what, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* One statement (BEGIN, COMMIT, a PRAGMA) is kept prepared; a script (the migrations)
	 * goes through sqlite3_exec. */
	if (strchr(sql, ';')) {
		if (sqlite3_exec(j->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return sql_fail(j, what, err);
		return MX_OK;
	}
	rc = prep(j, sql, &st, err);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	unprep(j, st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
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

/* ---- test seam: a VFS that fails the database's writes (MXCUTOVER_JNL_FAULT) ----
 *
 * Only for tests: with MXCUTOVER_JNL_FAULT set, the database and its WAL are opened through
 * a VFS that wraps the default one and fails writes on demand, so a test can show that no
 * journal failure is dropped. Values:
 *   write:N   the N-th and every later xWrite/xSync of this process fails (SQLITE_FULL for
 *             writes, SQLITE_IOERR_FSYNC for syncs), as on a disk that fills up
 *   ioerr:N   the same with SQLITE_IOERR_WRITE for writes, as on a failing disk
 *   file:PATH every xWrite/xSync fails (SQLITE_FULL) while PATH exists, so a test switches
 *             the fault on and off while a run goes on
 * Writes and syncs are counted together, across every database handle of the process, from
 * its start (opening and migrating a database count too). */
#define FAULT_VFS "mxcutover-fault"

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
};

static struct {
	sqlite3_vfs vfs;
	sqlite3_vfs *real;
	long long from; /* fail the from-th and later writes; 0: never */
	int write_rc;	/* what a failed xWrite returns */
	char *when;	/* fail while this file exists; NULL: not used */
	long long count;
	bool on;
} fault;

static bool fault_hit(void)
{
	fault.count++;
	if (fault.from && fault.count >= fault.from)
		return true;
	return fault.when && access(fault.when, F_OK) == 0;
}

#define REAL(f) (((struct fault_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_hit())
		return fault.write_rc;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int ff_sync(sqlite3_file *f, int flags)
{
	if (fault_hit())
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int ff_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int ff_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int ff_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int ff_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int ff_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int ff_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ff_shm_map(sqlite3_file *f, int pg, int size, int extend, void volatile **out)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, size, extend, out);
}
static int ff_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void ff_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int ff_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: no memory-mapped I/O, so every write goes through ff_write. */
static const sqlite3_io_methods fault_io = {2, ff_close, ff_read, ff_write, ff_truncate, ff_sync,
    ff_size, ff_lock, ff_unlock, ff_reserved, ff_control, ff_sector, ff_device, ff_shm_map,
    ff_shm_lock, ff_shm_barrier, ff_shm_unmap, NULL, NULL};

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *oflags)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)&ff[1];
	rc = fault.real->xOpen(fault.real, name, ff->real, flags, oflags);
	ff->base.pMethods = ff->real->pMethods ? &fault_io : NULL;
	return rc;
}
static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs;
	return fault.real->xDelete(fault.real, name, sync);
}
static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return fault.real->xAccess(fault.real, name, flags, out);
}
static int fv_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return fault.real->xFullPathname(fault.real, name, n, out);
}

/* Reads MXCUTOVER_JNL_FAULT once and registers the VFS. *vfs: its name, or NULL when the
 * variable is not set. */
static int fault_setup(const char **vfs, struct mx_err *err)
{
	const char *spec = getenv("MXCUTOVER_JNL_FAULT");
	char *end;

	*vfs = NULL;
	if (!spec || !*spec)
		return MX_OK;
	if (fault.on) {
		*vfs = FAULT_VFS;
		return MX_OK;
	}
	fault.write_rc = SQLITE_FULL;
	if (!strncmp(spec, "write:", 6) || !strncmp(spec, "ioerr:", 6)) {
		if (spec[0] == 'i')
			fault.write_rc = SQLITE_IOERR_WRITE;
		errno = 0;
		fault.from = strtoll(spec + 6, &end, 10);
		if (errno || *end || fault.from < 1)
			goto bad;
	} else if (!strncmp(spec, "file:", 5) && spec[5]) {
		if (!(fault.when = strdup(spec + 5)))
			return mx_err_set(err, MX_ENOMEM, "out of memory");
	} else {
		goto bad;
	}
	fault.real = sqlite3_vfs_find(NULL);
	if (!fault.real)
		return mx_err_set(err, MX_EIO, "SQLite has no default VFS");
	fault.vfs = *fault.real;
	fault.vfs.pNext = NULL;
	fault.vfs.zName = FAULT_VFS;
	fault.vfs.szOsFile = (int)sizeof(struct fault_file) + fault.real->szOsFile;
	fault.vfs.xOpen = fv_open;
	fault.vfs.xDelete = fv_delete;
	fault.vfs.xAccess = fv_access;
	fault.vfs.xFullPathname = fv_full;
	if (sqlite3_vfs_register(&fault.vfs, 0) != SQLITE_OK)
		return mx_err_set(err, MX_EIO, "cannot register the journal fault VFS");
	fault.on = true;
	*vfs = FAULT_VFS;
	return MX_OK;
bad:
	return mx_err_set(err, MX_EINVAL,
	    "MXCUTOVER_JNL_FAULT=%s is not understood; use write:N, ioerr:N or file:PATH "
	    "(a test-only setting: unset it for real runs)",
	    spec);
}

/* ---- opening ---- */

/* The tables every mxcutover state database has (schema version 1 on). */
static const char *const own_tables[] = {"runs", "steps", "intents", "snapshots", "audit", "locks"};

/* Before anything is written: is this file an mxcutover state database (or an empty one)
 * that this build understands? Reading it also finds a damaged file. A file that is not
 * ours is never touched. */
static int check_file(struct jnl *j, struct mx_err *err)
{
	sqlite3_stmt *st;
	int have, tables = 0, own = 0, rc;

	have = jnl_schema_version(j);
	if (have < 0)
		return sql_fail(j, "reading", err);
	if (prep(j, "SELECT name FROM sqlite_master WHERE type = 'table'", &st, err))
		return MX_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		tables++;
		for (size_t i = 0; name && i < sizeof(own_tables) / sizeof(own_tables[0]); i++)
			own += !strcmp(name, own_tables[i]);
	}
	unprep(j, st);
	if (rc != SQLITE_DONE)
		return sql_fail(j, "reading", err);
	if (have > JNL_SCHEMA_VERSION)
		return mx_err_set(err, MX_EINVAL,
		    "state database %s has schema version %d, newer than this mxcutover "
		    "understands (%d); upgrade mxcutover",
		    j->path, have, JNL_SCHEMA_VERSION);
	if ((have == 0 && tables > 0) ||
	    (have > 0 && own < (int)(sizeof(own_tables) / sizeof(own_tables[0]))))
		return mx_err_set(err, MX_EINVAL,
		    "%s is a SQLite database of another application, not an mxcutover state "
		    "database; it was left untouched: point --state at another file",
		    j->path);
	/* A damaged page anywhere stops us here, before a run trusts the file. */
	if (prep(j, "PRAGMA quick_check", &st, err))
		return MX_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		/* The report spans lines: quote its first finding only. */
		const char *what = (const char *)sqlite3_column_text(st, 0), *nl;

		if (!strncmp(what, "*** ", 4) && (nl = strchr(what, '\n')))
			what = nl + 1;
		nl = strchr(what, '\n');
		mx_err_set(err, MX_EIO,
		    "state database %s is damaged (%.*s); move it aside and restore it from a "
		    "backup",
		    j->path, (int)(nl ? nl - what : (ptrdiff_t)strlen(what)), what);
		unprep(j, st);
		return MX_EIO;
	}
	unprep(j, st);
	if (rc != SQLITE_ROW)
		return sql_fail(j, "checking", err);
	return MX_OK;
}

/* WAL mode. Switching a new file to it needs the file to itself, and SQLite reports the
 * conflict at once (no busy handler) when another process that opens the same new file
 * reads it meanwhile: tried again for up to 5 s, like any other lock. */
static int enable_wal(struct jnl *j, struct mx_err *err)
{
	for (int i = 0;; i++) {
		int rc = sqlite3_exec(j->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);

		if (rc == SQLITE_OK)
			return MX_OK;
		if ((rc & 0xff) != SQLITE_BUSY || i >= 500)
			return sql_fail(j, "enabling WAL", err);
		usleep(10000);
	}
}

int jnl_open(const char *path, struct jnl **out, struct mx_err *err)
{
	struct jnl *j;
	const char *vfs;
	int fd, rc;

	rc = fault_setup(&vfs, err);
	if (rc)
		return rc;
	rc = mx_path_make_parent(path, err);
	if (rc)
		return rc;
	/* Create the file ourselves so it is 0600 from its first byte. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mx_err_set(err, MX_EIO, "state database %s: %s; %s", path, strerror(errno),
		    errno == ENOSPC
			? "free space on its file system"
			: "make it and its folder writable, or point --state elsewhere");
	close(fd);
	j = jnl_alloc(path);
	if (!j)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, vfs) !=
	    SQLITE_OK) {
		rc = sql_fail(j, "opening", err);
		goto fail;
	}
	sqlite3_extended_result_codes(j->db, 1);
	sqlite3_busy_timeout(j->db, 5000);
	sqlite3_trace_v2(j->db, SQLITE_TRACE_PROFILE, trace_profile, j);
	/* One read transaction: the schema version and the tables are read at one instant, so
	 * another process creating the same file meanwhile is seen either before or after. */
	rc = exec(j, "BEGIN", "starting to read", err);
	if (!rc) {
		rc = check_file(j, err);
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	}
	if (!rc)
		rc = enable_wal(j, err);
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
	for (int i = 0; i < j->ncache; i++) {
		sqlite3_finalize(j->cache[i].st);
		free(j->cache[i].sql);
	}
	pthread_mutex_destroy(&j->cache_mu);
	sqlite3_close_v2(j->db);
	free(j->path);
	free(j);
}

/* ---- statements ---- */

/* The statement for sql: a kept one that is not in use, else a new one (kept while there is
 * room). Give it back with unprep, never sqlite3_finalize. */
static int prep(struct jnl *j, const char *sql, sqlite3_stmt **st, struct mx_err *err)
{
	*st = NULL;
	pthread_mutex_lock(&j->cache_mu);
	for (int i = 0; i < j->ncache; i++)
		if (!j->cache[i].busy && !strcmp(j->cache[i].sql, sql)) {
			j->cache[i].busy = true;
			*st = j->cache[i].st;
			break;
		}
	pthread_mutex_unlock(&j->cache_mu);
	if (*st)
		return MX_OK;
	if (sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return sql_fail(j, "preparing a statement", err);
	pthread_mutex_lock(&j->cache_mu);
	if (j->ncache < STMT_CACHE_MAX) {
		char *copy = strdup(sql);

		if (copy)
			j->cache[j->ncache++] = (struct stmt_slot){copy, *st, true};
	}
	pthread_mutex_unlock(&j->cache_mu);
	return MX_OK;
}

/* Gives back a statement from prep: a kept one is reset (its read, if any, ended) and its
 * bindings cleared for the next user; any other is finalized. */
static void unprep(struct jnl *j, sqlite3_stmt *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&j->cache_mu);
	for (int i = 0; i < j->ncache; i++)
		if (j->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			j->cache[i].busy = false;
			pthread_mutex_unlock(&j->cache_mu);
			return;
		}
	pthread_mutex_unlock(&j->cache_mu);
	sqlite3_finalize(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows and finalizes it. */
static int done(struct jnl *j, sqlite3_stmt *st, const char *what, struct mx_err *err)
{
	int rc = sqlite3_step(st);

	unprep(j, st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sql_fail(j, what, err);
	return MX_OK;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? strdup((const char *)s) : NULL;
}

int jnl_begin(struct jnl *j, struct mx_err *err)
{
	if (j->batch)
		return exec(j, "SAVEPOINT jnl", "starting a transaction", err);
	return exec(j, "BEGIN IMMEDIATE", "starting a transaction", err);
}

void jnl_abort(struct jnl *j)
{
	/* Nothing to report: a failed ROLLBACK means SQLite already rolled back. */
	if (j->batch) {
		sqlite3_exec(j->db, "ROLLBACK TO jnl", NULL, NULL, NULL);
		sqlite3_exec(j->db, "RELEASE jnl", NULL, NULL, NULL);
		return;
	}
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
}

int jnl_commit(struct jnl *j, struct mx_err *err)
{
	int rc = exec(j, j->batch ? "RELEASE jnl" : "COMMIT", "committing", err);

	if (rc)
		jnl_abort(j);
	return rc;
}

int jnl_batch_begin(struct jnl *j, struct mx_err *err)
{
	int rc = exec(j, "BEGIN IMMEDIATE", "starting a transaction", err);

	j->batch = !rc;
	return rc;
}

int jnl_batch_commit(struct jnl *j, struct mx_err *err)
{
	int rc;

	if (!j->batch)
		return MX_OK;
	j->batch = false;
	rc = exec(j, "COMMIT", "committing", err);
	if (rc)
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

void jnl_run_clear(struct jnl_run *r)
{
	free(r->domain);
	free(r->target);
	free(r->provider);
	free(r->state);
	free(r->step);
	free(r->waiting_for);
	free(r->options);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

#define RUN_COLS                                                                                   \
	"id, domain, target, provider, state, step, next_at, waiting_for, options, error, "        \
	"created_at, updated_at"

static void run_from_row(sqlite3_stmt *st, struct jnl_run *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->domain = col_dup(st, 1);
	r->target = col_dup(st, 2);
	r->provider = col_dup(st, 3);
	r->state = col_dup(st, 4);
	r->step = col_dup(st, 5);
	r->next_at = sqlite3_column_int64(st, 6);
	r->waiting_for = col_dup(st, 7);
	r->options = col_dup(st, 8);
	r->error = col_dup(st, 9);
	r->created_at = sqlite3_column_int64(st, 10);
	r->updated_at = sqlite3_column_int64(st, 11);
}

int jnl_run_create(struct jnl *j, const char *domain, const char *target, const char *provider,
    const char *first_step, const char *options_json, long long now, long long *id,
    struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "INSERT INTO runs (domain, target, provider, state, step, options, created_at, "
	    "updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
	    &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, domain);
	bind_text(st, 2, target);
	bind_text(st, 3, provider);
	bind_text(st, 4, first_step);
	bind_text(st, 5, options_json ? options_json : "{}");
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, now);
	rc = done(j, st, "creating a run", err);
	if (!rc)
		*id = sqlite3_last_insert_rowid(j->db);
	return rc;
}

int jnl_run_latest(struct jnl *j, const char *domain, struct jnl_run *out, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(
	    j, "SELECT " RUN_COLS " FROM runs WHERE domain = ? ORDER BY id DESC LIMIT 1", &st, err);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	bind_text(st, 1, domain);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		run_from_row(st, out);
	unprep(j, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_fail(j, "reading a run", err);
	return MX_OK;
}

int jnl_run_list(struct jnl *j, struct jnl_run **out, size_t *n, struct mx_err *err)
{
	sqlite3_stmt *st;
	struct jnl_run *v = NULL;
	size_t count = 0;
	int rc = prep(j,
	    "SELECT " RUN_COLS " FROM runs r WHERE id = (SELECT MAX(id) FROM runs WHERE "
	    "domain = r.domain) ORDER BY domain",
	    &st, err);

	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct jnl_run *g = realloc(v, (count + 1) * sizeof(*v));

		if (!g) {
			unprep(j, st);
			for (size_t i = 0; i < count; i++)
				jnl_run_clear(&v[i]);
			free(v);
			return mx_err_set(err, MX_ENOMEM, "out of memory");
		}
		v = g;
		run_from_row(st, &v[count++]);
	}
	unprep(j, st);
	*out = v;
	*n = count;
	if (rc != SQLITE_DONE)
		return sql_fail(j, "listing runs", err);
	return MX_OK;
}

int jnl_run_update(struct jnl *j, long long run_id, const char *state, const char *step,
    long long next_at, const char *waiting_for, const char *error, long long now,
    struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "UPDATE runs SET state = ?, step = ?, next_at = ?, waiting_for = ?, error = ?, "
	    "updated_at = ? WHERE id = ?",
	    &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, state);
	bind_text(st, 2, step);
	if (next_at)
		sqlite3_bind_int64(st, 3, next_at);
	else
		sqlite3_bind_null(st, 3);
	bind_text(st, 4, waiting_for);
	bind_text(st, 5, error);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, run_id);
	return done(j, st, "updating a run", err);
}

int jnl_run_set_options(
    struct jnl *j, long long run_id, const char *options_json, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j, "UPDATE runs SET options = ? WHERE id = ?", &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, options_json);
	sqlite3_bind_int64(st, 2, run_id);
	return done(j, st, "updating a run", err);
}

int jnl_step_set(struct jnl *j, long long run_id, const char *step, const char *state,
    const char *detail, long long now, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "INSERT INTO steps (run_id, step, state, started_at, finished_at, detail) "
	    "VALUES (?1, ?2, ?3, ?4, CASE WHEN ?3 IN ('done','skipped','undone') THEN ?4 END, ?5) "
	    "ON CONFLICT (run_id, step) DO UPDATE SET state = ?3, detail = COALESCE(?5, detail), "
	    "finished_at = CASE WHEN ?3 IN ('done','skipped','undone') THEN ?4 END",
	    &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, step);
	bind_text(st, 3, state);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, detail);
	return done(j, st, "recording a step", err);
}

char *jnl_step_state(struct jnl *j, long long run_id, const char *step)
{
	sqlite3_stmt *st;
	char *s = NULL;

	if (prep(j, "SELECT state FROM steps WHERE run_id = ? AND step = ?", &st, NULL))
		return NULL;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, step);
	if (sqlite3_step(st) == SQLITE_ROW)
		s = col_dup(st, 0);
	unprep(j, st);
	return s;
}

int jnl_step_get(struct jnl *j, long long run_id, const char *step, char **state,
    long long *finished_at, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (state)
		*state = NULL;
	if (finished_at)
		*finished_at = 0;
	rc =
	    prep(j, "SELECT state, finished_at FROM steps WHERE run_id = ? AND step = ?", &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, step);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (state && !(*state = col_dup(st, 0))) {
			unprep(j, st);
			return mx_err_set(err, MX_ENOMEM, "out of memory");
		}
		if (finished_at)
			*finished_at = sqlite3_column_int64(st, 1);
	}
	unprep(j, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_fail(j, "reading a step", err);
	return MX_OK;
}

/* ---- run variables ---- */

enum vtype { V_INT, V_LL, V_TEXT, V_DIR };

/* One row per column of run_vars: the typed struct and the table stay one description. */
static const struct vfield {
	const char *col;
	enum vtype type;
	size_t off;
} vfields[] = {
    {"direction", V_DIR, offsetof(struct jnl_vars, rollback)},
    {"low_ttl", V_INT, offsetof(struct jnl_vars, low_ttl)},
    {"final_ttl", V_INT, offsetof(struct jnl_vars, final_ttl)},
    {"final_preference", V_INT, offsetof(struct jnl_vars, final_preference)},
    {"gate_timeout", V_INT, offsetof(struct jnl_vars, gate_timeout)},
    {"provider_min_ttl", V_INT, offsetof(struct jnl_vars, provider_min_ttl)},
    {"observed_ttl", V_LL, offsetof(struct jnl_vars, observed_ttl)},
    {"ns", V_TEXT, offsetof(struct jnl_vars, ns)},
    {"plan", V_TEXT, offsetof(struct jnl_vars, plan)},
    {"checksum", V_TEXT, offsetof(struct jnl_vars, checksum)},
    {"policy_now", V_TEXT, offsetof(struct jnl_vars, policy_now)},
    {"policy_staged", V_TEXT, offsetof(struct jnl_vars, policy_staged)},
    {"policy_final", V_TEXT, offsetof(struct jnl_vars, policy_final)},
    {"id_stage", V_TEXT, offsetof(struct jnl_vars, id_stage)},
    {"id_final", V_TEXT, offsetof(struct jnl_vars, id_final)},
    {"id_rollback", V_TEXT, offsetof(struct jnl_vars, id_rollback)},
    {"gate_since", V_LL, offsetof(struct jnl_vars, gate_since)},
    {"prop_since", V_LL, offsetof(struct jnl_vars, prop_since)},
    {"verified", V_INT, offsetof(struct jnl_vars, verified)},
    {"confirmed", V_INT, offsetof(struct jnl_vars, confirmed)},
    {"rb_start", V_TEXT, offsetof(struct jnl_vars, rb_start)},
    {"dane_touched", V_INT, offsetof(struct jnl_vars, dane_touched)},
    {"exchange", V_INT, offsetof(struct jnl_vars, exchange)},
    {"exo_provision", V_INT, offsetof(struct jnl_vars, exo_provision)},
    {"exo_dane", V_INT, offsetof(struct jnl_vars, exo_dane)},
    {"exo_dane_off", V_INT, offsetof(struct jnl_vars, exo_dane_off)},
};
#define NVFIELDS (sizeof(vfields) / sizeof(vfields[0]))

void jnl_vars_clear(struct jnl_vars *v)
{
	for (size_t i = 0; i < NVFIELDS; i++)
		if (vfields[i].type == V_TEXT)
			free(*(char **)((char *)v + vfields[i].off));
	memset(v, 0, sizeof(*v));
}

int jnl_vars_get(struct jnl *j, long long run_id, struct jnl_vars *out, struct mx_err *err)
{
	char sql[600];
	size_t used = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NVFIELDS; i++)
		used += (size_t)snprintf(
		    sql + used, sizeof(sql) - used, "%s%s", i ? ", " : "", vfields[i].col);
	snprintf(sql + used, sizeof(sql) - used, " FROM run_vars WHERE run_id = ?");
	rc = prep(j, sql, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		for (size_t i = 0; i < NVFIELDS; i++) {
			void *p = (char *)out + vfields[i].off;
			const unsigned char *t;

			switch (vfields[i].type) {
			case V_INT:
				*(int *)p = sqlite3_column_int(st, (int)i);
				break;
			case V_LL:
				*(long long *)p = sqlite3_column_int64(st, (int)i);
				break;
			case V_DIR:
				t = sqlite3_column_text(st, (int)i);
				*(int *)p = t && !strcmp((const char *)t, "rollback");
				break;
			case V_TEXT:
				*(char **)p = col_dup(st, (int)i);
				break;
			}
		}
	}
	unprep(j, st);
	if (rc == SQLITE_DONE)
		return mx_err_set(err, MX_EINVAL,
		    "state database %s: run %lld has no variables; roll it back or start again",
		    j->path, run_id);
	if (rc != SQLITE_ROW)
		return sql_fail(j, "reading a run's variables", err);
	return MX_OK;
}

int jnl_vars_put(struct jnl *j, long long run_id, const struct jnl_vars *v, struct mx_err *err)
{
	char sql[800];
	size_t used = (size_t)snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO run_vars (run_id");
	sqlite3_stmt *st;
	int rc;

	for (size_t i = 0; i < NVFIELDS; i++)
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, ", %s", vfields[i].col);
	used += (size_t)snprintf(sql + used, sizeof(sql) - used, ") VALUES (?");
	for (size_t i = 0; i < NVFIELDS; i++)
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, ", ?");
	snprintf(sql + used, sizeof(sql) - used, ")");
	rc = prep(j, sql, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	for (size_t i = 0; i < NVFIELDS; i++) {
		const void *p = (const char *)v + vfields[i].off;
		int col = (int)i + 2;

		switch (vfields[i].type) {
		case V_INT:
			sqlite3_bind_int(st, col, *(const int *)p);
			break;
		case V_LL:
			sqlite3_bind_int64(st, col, *(const long long *)p);
			break;
		case V_DIR:
			bind_text(st, col, *(const int *)p ? "rollback" : "forward");
			break;
		case V_TEXT:
			bind_text(st, col, *(char *const *)p);
			break;
		}
	}
	return done(j, st, "recording a run's variables", err);
}

int jnl_run_delete(struct jnl *j, long long run_id, struct mx_err *err)
{
	static const char *const sql[] = {
	    "DELETE FROM run_vars WHERE run_id = ?",
	    "DELETE FROM steps WHERE run_id = ?",
	    "DELETE FROM snapshots WHERE run_id = ?",
	    "DELETE FROM intents WHERE run_id = ?",
	    "DELETE FROM runs WHERE id = ?",
	};
	sqlite3_stmt *st;
	int rc = jnl_begin(j, err);

	for (size_t i = 0; !rc && i < sizeof(sql) / sizeof(sql[0]); i++) {
		rc = prep(j, sql[i], &st, err);
		if (rc)
			break;
		sqlite3_bind_int64(st, 1, run_id);
		rc = done(j, st, "deleting a run", err);
	}
	if (rc) {
		jnl_abort(j);
		return rc;
	}
	return jnl_commit(j, err);
}

int jnl_run_set_state(struct jnl *j, long long run_id, const char *state, const char *error,
    long long now, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "UPDATE runs SET state = ?, error = COALESCE(?, error), next_at = NULL, "
	    "waiting_for = NULL, updated_at = ? WHERE id = ?",
	    &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, state);
	bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, run_id);
	return done(j, st, "updating a run", err);
}

int jnl_run_set_provider(struct jnl *j, long long run_id, const char *provider, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j, "UPDATE runs SET provider = ? WHERE id = ?", &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, provider);
	sqlite3_bind_int64(st, 2, run_id);
	return done(j, st, "updating a run", err);
}

int jnl_run_set_target(struct jnl *j, long long run_id, const char *target, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j, "UPDATE runs SET target = ? WHERE id = ?", &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, target);
	sqlite3_bind_int64(st, 2, run_id);
	return done(j, st, "updating a run", err);
}

int jnl_intent_written(struct jnl *j, long long run_id, long long *count, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j, "SELECT COUNT(*) FROM intents WHERE run_id = ?", &st, err);

	*count = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	unprep(j, st);
	if (rc != SQLITE_ROW)
		return sql_fail(j, "counting a run's writes", err);
	return MX_OK;
}

void jnl_intent_clear(struct jnl_intent *i)
{
	free(i->step);
	free(i->rrname);
	free(i->rrtype);
	free(i->before);
	free(i->after);
	memset(i, 0, sizeof(*i));
}

int jnl_intent_begin(struct jnl *j, long long run_id, const char *step, const char *rrname,
    const char *rrtype, const char *before_json, const char *after_json, long long now,
    long long *id, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "INSERT INTO intents (run_id, step, rrname, rrtype, before, after, created_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)",
	    &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, step);
	bind_text(st, 3, rrname);
	bind_text(st, 4, rrtype);
	bind_text(st, 5, before_json);
	bind_text(st, 6, after_json);
	sqlite3_bind_int64(st, 7, now);
	rc = done(j, st, "recording a write intent", err);
	if (!rc)
		*id = sqlite3_last_insert_rowid(j->db);
	return rc;
}

int jnl_intent_done(
    struct jnl *j, long long intent_id, const char *outcome, long long now, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j, "UPDATE intents SET done_at = ?, outcome = ? WHERE id = ?", &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, outcome);
	sqlite3_bind_int64(st, 3, intent_id);
	return done(j, st, "completing a write intent", err);
}

int jnl_intent_open(struct jnl *j, long long run_id, struct jnl_intent *out, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "SELECT id, step, rrname, rrtype, before, after FROM intents WHERE run_id = ? AND "
	    "done_at IS NULL ORDER BY id DESC LIMIT 1",
	    &st, err);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->step = col_dup(st, 1);
		out->rrname = col_dup(st, 2);
		out->rrtype = col_dup(st, 3);
		out->before = col_dup(st, 4);
		out->after = col_dup(st, 5);
	}
	unprep(j, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_fail(j, "reading intents", err);
	return MX_OK;
}

int jnl_intent_count(struct jnl *j, long long run_id)
{
	sqlite3_stmt *st;
	int n = -1;

	if (prep(j, "SELECT COUNT(*) FROM intents WHERE run_id = ?", &st, NULL))
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	unprep(j, st);
	return n;
}

int jnl_snapshot_put(struct jnl *j, long long run_id, const char *rrname, const char *rrtype,
    const char *source, const char *rrset_json, const char *checksum, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "INSERT OR REPLACE INTO snapshots (run_id, rrname, rrtype, source, rrset, checksum) "
	    "VALUES (?, ?, ?, ?, ?, ?)",
	    &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, rrname);
	bind_text(st, 3, rrtype);
	bind_text(st, 4, source);
	bind_text(st, 5, rrset_json);
	bind_text(st, 6, checksum);
	return done(j, st, "storing the snapshot", err);
}

char *jnl_snapshot_get(
    struct jnl *j, long long run_id, const char *rrname, const char *rrtype, const char *source)
{
	sqlite3_stmt *st;
	char *s = NULL;

	if (prep(j,
		"SELECT rrset FROM snapshots WHERE run_id = ? AND rrname = ? AND rrtype = ? AND "
		"source = ?",
		&st, NULL))
		return NULL;
	sqlite3_bind_int64(st, 1, run_id);
	bind_text(st, 2, rrname);
	bind_text(st, 3, rrtype);
	bind_text(st, 4, source);
	if (sqlite3_step(st) == SQLITE_ROW)
		s = col_dup(st, 0);
	unprep(j, st);
	return s;
}

int jnl_audit(struct jnl *j, long long run_id, const char *domain, const char *event,
    const char *detail, long long now, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j, "INSERT INTO audit (at, run_id, domain, event, detail) VALUES (?,?,?,?,?)",
	    &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	if (run_id)
		sqlite3_bind_int64(st, 2, run_id);
	else
		sqlite3_bind_null(st, 2);
	bind_text(st, 3, domain);
	bind_text(st, 4, event);
	bind_text(st, 5, detail);
	return done(j, st, "writing the audit log", err);
}

/* This boot of this machine (Linux's random boot id), "" when it cannot be read. */
static void boot_id(char *buf, size_t len)
{
	FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");

	buf[0] = '\0';
	if (!fp)
		return;
	if (!fgets(buf, (int)len, fp))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(fp);
}

/* me and now_boot: this machine's name and boot id, read once by the caller. */
static bool owner_alive_on(
    long long pid, const char *host, const char *boot, const char *me, const char *now_boot)
{
	if (strcmp(host, me) != 0)
		return true; /* another machine: we cannot tell, so it holds the lock */
	/* Taken before this machine last started: that process is gone, whatever now runs
	 * under its pid. */
	if (boot && boot[0] && now_boot[0] && strcmp(boot, now_boot))
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static bool owner_alive(long long pid, const char *host, const char *boot)
{
	char me[256] = "", now_boot[64];

	gethostname(me, sizeof(me) - 1);
	boot_id(now_boot, sizeof(now_boot));
	return owner_alive_on(pid, host, boot, me, now_boot);
}

int jnl_lock(struct jnl *j, const char *domain, long long run_id, long long now, struct mx_err *err)
{
	sqlite3_stmt *st = NULL;
	char host[256] = "", detail[400], boot[64];
	long long pid = 0, since = 0;
	char *owner_host = NULL, *owner_boot = NULL, when[32];
	int rc;

	gethostname(host, sizeof(host) - 1);
	boot_id(boot, sizeof(boot));
	rc = jnl_begin(j, err);
	if (rc)
		return rc;
	rc =
	    prep(j, "SELECT pid, host, acquired_at, boot_id FROM locks WHERE domain = ?", &st, err);
	if (rc)
		goto fail;
	bind_text(st, 1, domain);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pid = sqlite3_column_int64(st, 0);
		owner_host = col_dup(st, 1);
		since = sqlite3_column_int64(st, 2);
		owner_boot = col_dup(st, 3);
	}
	unprep(j, st);
	if (owner_host && pid == (long long)getpid() && !strcmp(owner_host, host) &&
	    (!owner_boot || !strcmp(owner_boot, boot))) {
		free(owner_host);
		free(owner_boot);
		return jnl_commit(j, err);
	}
	if (owner_host && owner_alive(pid, owner_host, owner_boot)) {
		rc = mx_err_set(err, MX_ELOCKED,
		    "%s: another mxcutover (pid %lld on %s, since %s) is running this domain; wait "
		    "for it or stop it (Ctrl-C there leaves it resumable)",
		    domain, pid, owner_host, mx_time_rfc3339((time_t)since, when, sizeof(when)));
		goto fail;
	}
	if (owner_host) {
		snprintf(detail, sizeof(detail),
		    "lock taken over from pid %lld on %s (not running)", pid, owner_host);
		rc = jnl_audit(j, run_id, domain, "lock_takeover", detail, now, err);
		if (rc)
			goto fail;
	}
	rc = prep(j,
	    "INSERT OR REPLACE INTO locks (domain, run_id, pid, host, acquired_at, boot_id) "
	    "VALUES (?, ?, ?, ?, ?, ?)",
	    &st, err);
	if (rc)
		goto fail;
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, run_id);
	sqlite3_bind_int64(st, 3, (long long)getpid());
	bind_text(st, 4, host);
	sqlite3_bind_int64(st, 5, now);
	bind_text(st, 6, boot[0] ? boot : NULL);
	rc = done(j, st, "locking", err);
	if (rc)
		goto fail;
	free(owner_host);
	free(owner_boot);
	return jnl_commit(j, err);
fail:
	free(owner_host);
	free(owner_boot);
	jnl_abort(j);
	return rc;
}

void jnl_unlock(struct jnl *j, const char *domain)
{
	sqlite3_stmt *st;

	if (prep(j, "DELETE FROM locks WHERE domain = ? AND pid = ?", &st, NULL))
		return;
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, (long long)getpid());
	done(j, st, "unlocking", NULL);
}

void jnl_connector_change_clear(struct jnl_connector_change *c)
{
	free(c->tenant);
	free(c->connector);
	free(c->before);
	free(c->after);
	free(c->partners);
	free(c->state);
	memset(c, 0, sizeof(*c));
}

int jnl_connector_begin(struct jnl *j, const char *tenant, const char *connector,
    const char *before_json, const char *after_json, const char *partners_json, long long now,
    long long *id, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "INSERT INTO connector_changes (tenant, connector, before, after, partners, state, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'intent', ?, ?)",
	    &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, tenant);
	bind_text(st, 2, connector);
	bind_text(st, 3, before_json);
	bind_text(st, 4, after_json);
	bind_text(st, 5, partners_json);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, now);
	rc = done(j, st, "recording a connector change", err);
	if (!rc)
		*id = sqlite3_last_insert_rowid(j->db);
	return rc;
}

int jnl_connector_set_state(
    struct jnl *j, long long id, const char *state, long long now, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(
	    j, "UPDATE connector_changes SET state = ?, updated_at = ? WHERE id = ?", &st, err);

	if (rc)
		return rc;
	bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	return done(j, st, "recording a connector change", err);
}

int jnl_connector_latest(struct jnl *j, const char *tenant, const char *connector,
    struct jnl_connector_change *out, struct mx_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(j,
	    "SELECT id, tenant, connector, before, after, partners, state, created_at, updated_at "
	    "FROM connector_changes WHERE tenant = ? AND connector = ? AND state IN ('intent', "
	    "'applied', 'undo_intent') ORDER BY id DESC LIMIT 1",
	    &st, err);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	bind_text(st, 1, tenant);
	bind_text(st, 2, connector);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->tenant = col_dup(st, 1);
		out->connector = col_dup(st, 2);
		out->before = col_dup(st, 3);
		out->after = col_dup(st, 4);
		out->partners = col_dup(st, 5);
		out->state = col_dup(st, 6);
		out->created_at = sqlite3_column_int64(st, 7);
		out->updated_at = sqlite3_column_int64(st, 8);
	}
	unprep(j, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_fail(j, "reading connector changes", err);
	if (rc == SQLITE_ROW && (!out->before || !out->after || !out->state)) {
		jnl_connector_change_clear(out);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	return MX_OK;
}

/* ---- read-only access (status) ---- */

int jnl_open_ro(const char *path, struct jnl **out, struct mx_err *err)
{
	struct stat sb;
	struct jnl *j;
	int rc, have;

	*out = NULL;
	/* Looking must not create: no folder, no file, no database. */
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return MX_OK;
		return mx_err_set(
		    err, MX_EIO, "state database %s: %s; check --state", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return mx_err_set(err, MX_EIO,
		    "state database %s is not a regular file; point --state at the database", path);
	j = jnl_alloc(path);
	if (!j)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		rc = sql_fail(j, "opening", err);
		goto fail;
	}
	sqlite3_extended_result_codes(j->db, 1);
	sqlite3_busy_timeout(j->db, 5000);
	rc = check_file(j, err);
	if (rc)
		goto fail;
	have = jnl_schema_version(j);
	if (have == 0) {
		/* An empty file: no runs to show. An older schema still has every table read
		 * here (they date from version 1). */
		jnl_close(j);
		return MX_OK;
	}
	*out = j;
	return MX_OK;
fail:
	jnl_close(j);
	return rc;
}

void jnl_lock_info_clear(struct jnl_lock_info *l)
{
	free(l->host);
	memset(l, 0, sizeof(*l));
}

int jnl_lock_get(struct jnl *j, const char *domain, struct jnl_lock_info *out, struct mx_err *err)
{
	sqlite3_stmt *st;
	char *boot;
	int rc;

	memset(out, 0, sizeof(*out));
	rc =
	    prep(j, "SELECT pid, host, acquired_at, boot_id FROM locks WHERE domain = ?", &st, err);
	if (rc)
		return rc;
	bind_text(st, 1, domain);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->pid = sqlite3_column_int64(st, 0);
		out->host = col_dup(st, 1);
		out->since = sqlite3_column_int64(st, 2);
		boot = col_dup(st, 3);
		out->live = out->host && owner_alive(out->pid, out->host, boot);
		free(boot);
	}
	unprep(j, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_fail(j, "reading the locks", err);
	return MX_OK;
}

int jnl_lock_each(struct jnl *j,
    void (*fn)(const char *domain, const struct jnl_lock_info *l, void *arg), void *arg,
    struct mx_err *err)
{
	sqlite3_stmt *st;
	char me[256] = "", now_boot[64];
	long long self = (long long)getpid();
	int rc = prep(j, "SELECT domain, pid, host, acquired_at, boot_id FROM locks", &st, err);

	if (rc)
		return rc;
	gethostname(me, sizeof(me) - 1);
	boot_id(now_boot, sizeof(now_boot));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *domain = (const char *)sqlite3_column_text(st, 0);
		const char *boot = (const char *)sqlite3_column_text(st, 4);
		struct jnl_lock_info l = {.pid = sqlite3_column_int64(st, 1),
		    .host = col_dup(st, 2),
		    .since = sqlite3_column_int64(st, 3)};

		if (domain && l.host && l.pid && (l.pid != self || strcmp(l.host, me))) {
			l.live = owner_alive_on(l.pid, l.host, boot, me, now_boot);
			fn(domain, &l, arg);
		}
		free(l.host);
	}
	unprep(j, st);
	if (rc != SQLITE_DONE)
		return sql_fail(j, "reading the locks", err);
	return MX_OK;
}

void jnl_step_list_free(struct jnl_step *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].step);
		free(v[i].state);
		free(v[i].detail);
	}
	free(v);
}

int jnl_step_list(
    struct jnl *j, long long run_id, struct jnl_step **out, size_t *n, struct mx_err *err)
{
	sqlite3_stmt *st;
	struct jnl_step *v = NULL;
	size_t count = 0;
	int rc = prep(j,
	    "SELECT step, state, started_at, finished_at, detail FROM steps WHERE run_id = ? "
	    "ORDER BY COALESCE(started_at, finished_at), rowid",
	    &st, err);

	*out = NULL;
	*n = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct jnl_step *g = realloc(v, (count + 1) * sizeof(*v));

		if (!g) {
			unprep(j, st);
			jnl_step_list_free(v, count);
			return mx_err_set(err, MX_ENOMEM, "out of memory");
		}
		v = g;
		v[count].step = col_dup(st, 0);
		v[count].state = col_dup(st, 1);
		v[count].started_at = sqlite3_column_int64(st, 2);
		v[count].finished_at = sqlite3_column_int64(st, 3);
		v[count].detail = col_dup(st, 4);
		count++;
	}
	unprep(j, st);
	if (rc != SQLITE_DONE) {
		jnl_step_list_free(v, count);
		return sql_fail(j, "listing steps", err);
	}
	*out = v;
	*n = count;
	return MX_OK;
}
