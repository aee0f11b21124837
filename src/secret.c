/* SPDX-License-Identifier: MIT */
/* src/secret.c — secrets from the environment or a private file; wiped when freed. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX (1 << 20)

int mx_secret_read_file(
    const char *path, const char *what, char **out, size_t *len, struct mx_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	ssize_t n;
	int fd, rc = MX_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mx_err_set(err, errno == ENOENT ? MX_EINVAL : MX_EIO,
		    "%s: cannot open secret file %s (%s)", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = mx_err_set(err, MX_EINVAL, "%s: %s is not a regular file", what, path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s: secret file %s is accessible to group or others (mode %03o); run chmod "
		    "600 %s",
		    what, path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	if (st.st_size > SECRET_MAX) {
		rc = mx_err_set(
		    err, MX_EINVAL, "%s: secret file %s is larger than 1 MiB", what, path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	while (
	    used < (size_t)st.st_size && (n = read(fd, buf + used, (size_t)st.st_size - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	*out = buf;
	*len = used;
	buf = NULL;
out:
	close(fd);
	mx_secret_free(buf);
	return rc;
}

int mx_secret_load(const struct mx_conf_section *s, const char *env_key, const char *file_key,
    bool required, char **out, struct mx_err *err)
{
	const char *env_name = env_key ? mx_conf_get(s, env_key) : NULL;
	const char *file = file_key ? mx_conf_get(s, file_key) : NULL;
	const char *value;
	char what[160];
	size_t len;
	int rc;

	*out = NULL;
	/* A provider section has a type; a top-level section such as [exchange] has none. */
	snprintf(what, sizeof(what), s->type ? "[provider.%s]" : "[%s]", s->name);
	if (env_name && file)
		return mx_err_set(err, MX_EINVAL,
		    "config %s line %d: %s sets both %s and %s; keep one", s->file,
		    mx_conf_line(s, file_key), what, env_key, file_key);
	if (env_name) {
		value = getenv(env_name);
		if (!value || !*value)
			return mx_err_set(err, MX_EINVAL,
			    "%s: environment variable %s (named by %s) is not set; export it or "
			    "use %s",
			    what, env_name, env_key, file_key ? file_key : "another key");
		*out = strdup(value);
		return *out ? MX_OK : mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	if (file) {
		rc = mx_secret_read_file(file, what, out, &len, err);
		if (rc)
			return rc;
		while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
			(*out)[--len] = '\0';
		if (!len) {
			mx_secret_free(*out);
			*out = NULL;
			return mx_err_set(
			    err, MX_EINVAL, "%s: secret file %s is empty", what, file);
		}
		return MX_OK;
	}
	if (!required)
		return MX_OK;
	if (env_key && file_key)
		return mx_err_set(err, MX_EINVAL,
		    "%s needs a secret: set %s (an environment variable's name) or %s (a file "
		    "with mode 600)",
		    what, env_key, file_key);
	return mx_err_set(
	    err, MX_EINVAL, "%s needs a secret: set %s", what, env_key ? env_key : file_key);
}

void mx_secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
