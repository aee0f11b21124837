/* SPDX-License-Identifier: MIT */
/* tests/unit_journal_open.c — opening a state database that is damaged, another
 * application's, from a newer build, or on a disk that fails writes (the fault VFS of
 * MXCUTOVER_JNL_FAULT): each is refused with one clear message and the file is left as it
 * was; a write that fails leaves nothing half-written. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "journal.h"

static char dir[] = "/tmp/mxjnlopen.XXXXXX";

static void put_file(const char *path, const void *data, size_t n)
{
	FILE *fp = fopen(path, "wb");

	CHECK(fp != NULL);
	if (fp) {
		CHECK(fwrite(data, 1, n, fp) == n);
		fclose(fp);
	}
}

/* The whole file, for comparing before and after (caller frees). */
static char *slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long len;

	*n = 0;
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, fp) == (size_t)len)
		*n = (size_t)len;
	fclose(fp);
	return buf;
}

static void sql(const char *path, const char *text)
{
	sqlite3 *db;

	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, text, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

/* Opening path fails with rc, a message containing want, and leaves the file's bytes. */
static void refused(const char *path, int rc, const char *want)
{
	struct jnl *j = NULL;
	struct mx_err err;
	size_t n0, n1;
	char *before = slurp(path, &n0), *after;

	mx_err_clear(&err);
	CHECK_INT(jnl_open(path, &j, &err), rc);
	CHECK(j == NULL);
	if (!strstr(err.msg, want))
		fprintf(stderr, "message: %s\n", err.msg);
	CHECK(strstr(err.msg, want) != NULL);
	if (strchr(err.msg, '\n'))
		fprintf(stderr, "multi-line: %s\n", err.msg);
	CHECK(strchr(err.msg, '\n') == NULL);
	after = slurp(path, &n1);
	CHECK(n0 == n1 && (!n0 || memcmp(before, after, n0) == 0));
	free(before);
	free(after);
}

int main(void)
{
	char path[256], flag[256];
	struct jnl *j = NULL;
	struct jnl_run run;
	struct mx_err err;
	long long id = 0;

	CHECK(mkdtemp(dir) != NULL);
	/* The seam is read once, at the first open: switched by the flag file below. */
	snprintf(flag, sizeof(flag), "%s/fail-writes", dir);
	{
		char spec[300];

		snprintf(spec, sizeof(spec), "file:%s", flag);
		setenv("MXCUTOVER_JNL_FAULT", spec, 1);
	}

	/* Not a database at all. */
	snprintf(path, sizeof(path), "%s/garbage.db", dir);
	put_file(path, "this is not a database, just some text\n", 40);
	refused(path, MX_EIO, "not a database");

	/* A SQLite database with a damaged page. */
	snprintf(path, sizeof(path), "%s/damaged.db", dir);
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	for (int i = 0; i < 50; i++)
		CHECK_INT(jnl_audit(j, 0, "contoso.com", "test",
			      "some detail that fills a few pages of the audit table", i, &err),
		    MX_OK);
	jnl_close(j);
	j = NULL;
	{
		size_t n;
		char *b = slurp(path, &n);
		FILE *fp;

		CHECK(b && n > 4096 * 3);
		/* Scribble over the headers of the b-tree pages after the first. */
		if (b && n > 4096 * 3) {
			for (size_t pg = 1; pg < n / 4096; pg++)
				memset(b + 4096 * pg, 0xa5, 12);
			fp = fopen(path, "wb");
			CHECK(fp && fwrite(b, 1, n, fp) == n);
			if (fp)
				fclose(fp);
		}
		free(b);
	}
	refused(path, MX_EIO, "damaged");

	/* Another application's database: refused, exit status 2 (a wrong --state). */
	snprintf(path, sizeof(path), "%s/foreign.db", dir);
	sql(path, "CREATE TABLE contacts (name TEXT, phone TEXT);"
		  "INSERT INTO contacts VALUES ('Ada', '555');");
	refused(path, MX_EINVAL, "another application");
	snprintf(path, sizeof(path), "%s/foreign2.db", dir);
	sql(path, "CREATE TABLE runs (x); PRAGMA user_version = 1;");
	refused(path, MX_EINVAL, "another application");

	/* A newer build's database. */
	snprintf(path, sizeof(path), "%s/newer.db", dir);
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	jnl_close(j);
	j = NULL;
	sql(path, "PRAGMA user_version = 99;");
	refused(path, MX_EINVAL, "newer than this mxcutover understands");

	/* A disk that fails every write: a new database cannot be created, and says why. */
	snprintf(path, sizeof(path), "%s/full.db", dir);
	put_file(flag, "", 0);
	mx_err_clear(&err);
	CHECK_INT(jnl_open(path, &j, &err), MX_EIO);
	CHECK(strstr(err.msg, "full") != NULL);
	CHECK(strstr(err.msg, "free space") != NULL);
	unlink(flag);

	/* A disk that fills up after the database exists: the failed transaction leaves
	 * nothing behind, and the database works again once there is space. */
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	CHECK_INT(jnl_run_create(j, "contoso.com", "c.mx.microsoft", "dns", "preflight", "{}", 1000,
		      &id, &err),
	    MX_OK);
	put_file(flag, "", 0);
	CHECK_INT(jnl_begin(j, &err), MX_OK);
	CHECK_INT(
	    jnl_run_update(j, id, "waiting", "wait_old_ttl", 4600, "old TTL", NULL, 1001, &err),
	    MX_OK);
	CHECK_INT(jnl_step_set(j, id, "preflight", "done", NULL, 1001, &err), MX_OK);
	mx_err_clear(&err);
	CHECK_INT(jnl_commit(j, &err), MX_EIO);
	CHECK(strstr(err.msg, "free space") != NULL);
	/* Autocommit writes fail too, one by one. */
	mx_err_clear(&err);
	CHECK_INT(jnl_audit(j, id, "contoso.com", "test", NULL, 1002, &err), MX_EIO);
	unlink(flag);
	jnl_close(j);
	j = NULL;
	CHECK_INT(jnl_open(path, &j, &err), MX_OK);
	CHECK_INT(jnl_run_latest(j, "contoso.com", &run, &err), MX_OK);
	CHECK_INT(run.id, id);
	CHECK_STR(run.state, "running");
	CHECK_STR(run.step, "preflight");
	jnl_run_clear(&run);
	{
		char *state = jnl_step_state(j, id, "preflight");

		CHECK(state == NULL);
		free(state);
	}
	CHECK_INT(
	    jnl_run_update(j, id, "waiting", "wait_old_ttl", 4600, "old TTL", NULL, 1003, &err),
	    MX_OK);
	jnl_close(j);

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return CHECK_DONE();
}
