/* SPDX-License-Identifier: MIT */
/* tests/unit_journal.c — the state database: private modes, WAL, schema version. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "journal.h"

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

	/* An unwritable location names the path and the option. */
	CHECK(jnl_open("/proc/nonexistent/state.db", &j, &err) != MX_OK);
	CHECK(strstr(err.msg, "/proc/nonexistent") != NULL);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
