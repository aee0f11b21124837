/* SPDX-License-Identifier: MIT */
/* tests/unit_conf.c — the config file: defaults, values, validation with file and line. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"

static char path[64];

static int load(const char *text, struct mx_conf **c, struct mx_err *err)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	mx_err_clear(err);
	return mx_conf_load(path, true, c, err);
}

static void expect_error(const char *text, const char *fragment)
{
	struct mx_conf *c = NULL;
	struct mx_err err;

	CHECK_INT(load(text, &c, &err), MX_EINVAL);
	CHECK(c == NULL);
	if (!strstr(err.msg, fragment) || !strstr(err.msg, path)) {
		fprintf(
		    stderr, "message \"%s\" lacks \"%s\" or the file name\n", err.msg, fragment);
		check_failures++;
	}
}

int main(void)
{
	struct mx_conf *c = NULL;
	struct mx_err err;
	const struct mx_conf_section *s;
	int fd;

	snprintf(path, sizeof(path), "/tmp/mxconf.XXXXXX");
	fd = mkstemp(path);
	close(fd);

	/* Defaults: Microsoft's real names. */
	CHECK_INT(mx_conf_new_default(&c, &err), MX_OK);
	CHECK_STR(c->endpoint_suffix, "mx.microsoft");
	CHECK_INT(c->nlegacy, 3);
	CHECK_STR(c->legacy_suffixes[1], "mail.eo.outlook.com");
	CHECK_INT(c->low_ttl, 30);
	CHECK_INT(c->final_ttl, 3600);
	CHECK_INT(c->gate_timeout, 3600);
	CHECK(c->smtp_probe);
	CHECK(mx_conf_is_legacy(c, "contoso-com.mail.protection.outlook.com"));
	CHECK(!mx_conf_is_legacy(c, "contoso-com.o-v1.mx.microsoft"));
	mx_conf_free(c);

	/* A missing optional file gives the defaults; a named one must exist. */
	CHECK_INT(mx_conf_load("/nonexistent/mx.conf", false, &c, &err), MX_OK);
	CHECK_STR(c->spf_include, "spf.protection.outlook.com");
	mx_conf_free(c);
	c = NULL;
	CHECK_INT(mx_conf_load("/nonexistent/mx.conf", true, &c, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "/nonexistent/mx.conf") != NULL);

	CHECK_INT(load("# comment\n[cutover]\nendpoint_suffix = MX.Microsoft.Test. ; inline\n"
		       "legacy_suffixes = mail.protection.outlook.test,mail.eo.outlook.test\n"
		       "low_ttl = 60\nfinal_ttl=7200\nfinal_preference = 10\ngate_timeout = 0\n"
		       "smtp_probe = no\n\n[provider.pdns]\nurl = http://127.0.0.1:8081\n"
		       "type = powerdns\napi_key_env = PDNS_KEY\n[provider.hand]\ntype = manual\n",
		      &c, &err),
	    MX_OK);
	CHECK_STR(c->endpoint_suffix, "mx.microsoft.test");
	CHECK_INT(c->nlegacy, 2);
	CHECK_STR(c->legacy_suffixes[1], "mail.eo.outlook.test");
	CHECK_INT(c->low_ttl, 60);
	CHECK_INT(c->final_ttl, 7200);
	CHECK_INT(c->final_preference, 10);
	CHECK_INT(c->gate_timeout, 0);
	CHECK(!c->smtp_probe);
	CHECK_INT(c->nprov, 2);
	s = mx_conf_provider(c, "pdns");
	CHECK(s != NULL);
	CHECK_STR(s ? s->type : NULL, "powerdns");
	CHECK_STR(mx_conf_get(s, "url"), "http://127.0.0.1:8081");
	CHECK_INT(mx_conf_line(s, "api_key_env"), 14);
	CHECK(mx_conf_get(s, "server_id") == NULL);
	CHECK(mx_conf_provider(c, "hand") != NULL);
	CHECK(mx_conf_provider(c, "nope") == NULL);
	mx_conf_free(c);
	c = NULL;

	expect_error(
	    "[cutover]\nendpoint_suffx = mx.microsoft\n", "line 2: unknown key \"endpoint_suffx\"");
	expect_error("[cutover]\n[cutovr]\n", "line 2: unknown section [cutovr]");
	expect_error("[cutovr]\nlow_ttl = 30\n", "line 1: unknown section [cutovr]");
	expect_error("[cutover]\n\n[provider.empty]\n", "line 3: [provider.empty] has no type");
	expect_error("[cutover]\n\nlow_ttl = 10\n", "line 3: low_ttl \"10\"");
	expect_error("[cutover]\nlow_ttl = 30s\n", "low_ttl");
	expect_error("[cutover]\nfinal_preference = 5\n", "final_preference");
	expect_error("[cutover]\nsmtp_probe = maybe\n", "smtp_probe");
	expect_error("[cutover]\nendpoint_suffix = mx..microsoft\n", "empty label");
	expect_error("[provider.x]\ntype = bind\n", "unknown provider type \"bind\"");
	expect_error("[provider.x]\nurl = http://x\n", "has no type");
	expect_error("[provider.x]\ntype = manual\nurl = http://x\n",
	    "line 3: unknown key \"url\" for a manual provider");
	expect_error(
	    "[provider.x]\ntype = powerdns\napi_key = hunter2\n", "unknown key \"api_key\"");
	expect_error("[provider.x]\ntype = powerdns\ntype = powerdns\n", "appears twice");
	expect_error("[provider.X Y]\ntype = manual\n", "may hold only");
	expect_error("not ini at all\n", "line 1: not INI syntax");

	/* A secret written inline is refused without echoing it. */
	CHECK_INT(load("[provider.x]\ntype = powerdns\napi_key = hunter2\n", &c, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "hunter2") == NULL);

	unlink(path);
	return CHECK_DONE();
}
