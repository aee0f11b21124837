/* SPDX-License-Identifier: MIT */
/* tests/unit_secret.c — secrets from the environment or a private file. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "secret.h"

static struct mx_conf *conf_with(const char *body)
{
	char path[] = "/tmp/mxsecconf.XXXXXX";
	struct mx_conf *c = NULL;
	struct mx_err err;
	int fd = mkstemp(path);

	if (write(fd, body, strlen(body)) < 0)
		check_failures++;
	close(fd);
	if (mx_conf_load(path, true, &c, &err))
		fprintf(stderr, "conf: %s\n", err.msg);
	unlink(path);
	return c;
}

int main(void)
{
	char keyfile[] = "/tmp/mxsecret.XXXXXX", body[256], *secret = NULL;
	struct mx_conf *c;
	struct mx_err err;
	int fd;

	fd = mkstemp(keyfile);
	CHECK(write(fd, "s3cret-value\n", 13) == 13);
	close(fd);
	chmod(keyfile, 0600);

	/* From a file: one trailing newline dropped. */
	snprintf(body, sizeof(body), "[provider.p]\ntype = powerdns\napi_key_file = %s\n", keyfile);
	c = conf_with(body);
	CHECK(c != NULL);
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_OK);
	CHECK_STR(secret, "s3cret-value");
	mx_secret_free(secret);

	/* Group- or world-readable files are refused, and the message says how to fix it. */
	chmod(keyfile, 0640);
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_EINVAL);
	CHECK(strstr(err.msg, "chmod 600") != NULL);
	CHECK(strstr(err.msg, "s3cret") == NULL);
	CHECK(secret == NULL);
	chmod(keyfile, 0604);
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_EINVAL);
	mx_conf_free(c);

	/* From the environment. */
	c = conf_with("[provider.p]\ntype = powerdns\napi_key_env = MX_TEST_KEY\n");
	unsetenv("MX_TEST_KEY");
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_EINVAL);
	CHECK(strstr(err.msg, "MX_TEST_KEY") != NULL);
	setenv("MX_TEST_KEY", "envsecret", 1);
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_OK);
	CHECK_STR(secret, "envsecret");
	mx_secret_free(secret);
	mx_conf_free(c);

	/* Neither set: required fails naming both keys; optional gives NULL. */
	c = conf_with("[provider.p]\ntype = powerdns\n");
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_EINVAL);
	CHECK(strstr(err.msg, "api_key_env") && strstr(err.msg, "api_key_file"));
	CHECK_INT(mx_secret_load(mx_conf_provider(c, "p"), "api_key_env", "api_key_file", false,
		      &secret, &err),
	    MX_OK);
	CHECK(secret == NULL);
	mx_conf_free(c);

	/* Both set is ambiguous. */
	snprintf(body, sizeof(body),
	    "[provider.p]\ntype = powerdns\napi_key_env = X\napi_key_file = %s\n", keyfile);
	c = conf_with(body);
	CHECK_INT(mx_secret_load(
		      mx_conf_provider(c, "p"), "api_key_env", "api_key_file", true, &secret, &err),
	    MX_EINVAL);
	mx_conf_free(c);

	unlink(keyfile);
	return CHECK_DONE();
}
