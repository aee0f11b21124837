/* SPDX-License-Identifier: MIT */
/* src/paths.c — default file locations (XDG base directories) and private folders. */
#include "paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int xdg_path(
    const char *var, const char *fallback, const char *leaf, char **out, struct mx_err *err)
{
	const char *base = getenv(var), *home = getenv("HOME");
	int n;

	if (base && base[0] == '/') {
		n = asprintf(out, "%s/mxcutover/%s", base, leaf);
	} else {
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());

			home = pw ? pw->pw_dir : NULL;
		}
		if (!home)
			return mx_err_set(
			    err, MX_EINVAL, "cannot find the home folder; set HOME or %s", var);
		n = asprintf(out, "%s/%s/mxcutover/%s", home, fallback, leaf);
	}
	return n < 0 ? mx_err_set(err, MX_ENOMEM, "out of memory") : MX_OK;
}

int mx_path_default_state(char **out, struct mx_err *err)
{
	return xdg_path("XDG_STATE_HOME", ".local/state", "state.db", out, err);
}

int mx_path_default_config(char **out, struct mx_err *err)
{
	return xdg_path("XDG_CONFIG_HOME", ".config", "config", out, err);
}

/* A folder that cannot be made: the reason, and what makes it possible. */
static int mkdir_fail(const char *dir, struct mx_err *err)
{
	int e = errno;

	if (e == EROFS || e == EACCES || e == EPERM)
		return mx_err_set(err, MX_EIO,
		    "cannot create folder %s: %s; make its parent writable, or choose a path on a "
		    "writable file system",
		    dir, strerror(e));
	return mx_err_set(err, MX_EIO, "cannot create folder %s: %s", dir, strerror(e));
}

static int make_dirs(char *dir, mode_t last_mode, struct mx_err *err)
{
	char *slash;

	if (mkdir(dir, last_mode) == 0 || errno == EEXIST)
		return MX_OK;
	if (errno != ENOENT)
		return mkdir_fail(dir, err);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return mx_err_set(err, MX_EIO, "cannot create folder %s", dir);
	*slash = '\0';
	if (make_dirs(dir, 0755, err) != MX_OK)
		return err ? err->rc : MX_EIO;
	*slash = '/';
	if (mkdir(dir, last_mode) == 0 || errno == EEXIST)
		return MX_OK;
	return mkdir_fail(dir, err);
}

int mx_path_make_parent(const char *file, struct mx_err *err)
{
	char *dir = strdup(file), *slash;
	int rc = MX_OK;

	if (!dir)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = make_dirs(dir, 0700, err);
	}
	free(dir);
	return rc;
}
