/* SPDX-License-Identifier: MIT */
/* tests/unit_domain.c — domain-name validation and IDN conversion. */
#include <string.h>

#include "check.h"
#include "domain.h"

static int norm(const char *in, char *out)
{
	struct mx_err err;

	mx_err_clear(&err);
	return mx_domain_normalize(in, "domain", out, MX_NAME_MAX + 1, &err);
}

static void expect_error(const char *in, const char *fragment)
{
	struct mx_err err;
	char out[MX_NAME_MAX + 1];

	mx_err_clear(&err);
	CHECK_INT(mx_domain_normalize(in, "domain", out, sizeof(out), &err), MX_EINVAL);
	if (!strstr(err.msg, fragment)) {
		fprintf(
		    stderr, "input \"%s\": message \"%s\" lacks \"%s\"\n", in, err.msg, fragment);
		check_failures++;
	}
}

int main(void)
{
	char out[MX_NAME_MAX + 1], label63[64], label64[65], long_name[300];

	CHECK_INT(norm("Contoso.COM", out), MX_OK);
	CHECK_STR(out, "contoso.com");
	CHECK_INT(norm("contoso.com.", out), MX_OK);
	CHECK_STR(out, "contoso.com");
	CHECK_INT(norm("  contoso.com \n", out), MX_OK);
	CHECK_STR(out, "contoso.com");
	/* IDN: U-labels become A-labels; upper-case Unicode is folded first. */
	CHECK_INT(norm("bücher.example", out), MX_OK);
	CHECK_STR(out, "xn--bcher-kva.example");
	CHECK_INT(norm("münchen.de.", out), MX_OK);
	CHECK_STR(out, "xn--mnchen-3ya.de");
	CHECK_INT(norm("xn--bcher-kva.example", out), MX_OK);
	CHECK_STR(out, "xn--bcher-kva.example");

	expect_error("", "empty");
	expect_error(".", "empty");
	expect_error("contoso..com", "empty label");
	expect_error(".contoso.com", "empty label");
	expect_error("localhost", "fully qualified");
	expect_error("-contoso.com", "hyphen");
	expect_error("contoso-.com", "hyphen");
	expect_error("con_toso.com", "contains '_'");
	expect_error("contoso com.org", "contains ' '");

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(long_name, sizeof(long_name), "%s.com", label63);
	CHECK_INT(norm(long_name, out), MX_OK);
	snprintf(long_name, sizeof(long_name), "%s.com", label64);
	expect_error(long_name, "at most 63");
	/* 4 labels of 63 + 3 dots + ".com" = 259 > 253 */
	snprintf(
	    long_name, sizeof(long_name), "%s.%s.%s.%s.com", label63, label63, label63, label63);
	expect_error(long_name, "at most 253");
	/* exactly 253 characters is fine */
	snprintf(
	    long_name, sizeof(long_name), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	CHECK_INT(strlen(long_name), 253);
	CHECK_INT(norm(long_name, out), MX_OK);

	CHECK(mx_name_under("a.o-v1.mx.microsoft", "mx.microsoft"));
	CHECK(mx_name_under("mx.microsoft", "mx.microsoft"));
	CHECK(!mx_name_under("xmx.microsoft", "mx.microsoft"));
	CHECK(!mx_name_under("microsoft", "mx.microsoft"));
	CHECK(mx_name_under("A.MX.Microsoft", "mx.microsoft"));

	mx_domain_dashed("contoso.com", out, sizeof(out));
	CHECK_STR(out, "contoso-com");
	return CHECK_DONE();
}
