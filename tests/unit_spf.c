/* SPDX-License-Identifier: MIT */
/* tests/unit_spf.c — unit test of src/spf.c: finding the SPF record, terms, qualifiers,
 * include vs redirect, permanent errors. */
#include "check.h"
#include "spf.h"

#include <string.h>

#define MS "spf.protection.outlook.com"

static struct spf_record *parse(const char *const *recs, size_t n)
{
	struct spf_record *r = NULL;
	struct mx_err err;

	mx_err_clear(&err);
	CHECK_INT(spf_parse(recs, n, &r, &err), MX_OK);
	CHECK(r != NULL);
	return r;
}

static struct spf_record *one(const char *rec)
{
	const char *recs[] = {rec};

	return parse(recs, 1);
}

/* Parses rec and checks the include verdict and a piece of its message. */
static void verdict(const char *rec, enum spf_include_state want, const char *msg_has)
{
	struct spf_record *r = one(rec);
	char msg[256];
	enum spf_include_state got = spf_check_include(r, MS, msg, sizeof(msg));

	if (got != want || !strstr(msg, msg_has)) {
		fprintf(stderr, "record `%s`: state %d (want %d), msg `%s` (want `%s`)\n", rec, got,
		    want, msg, msg_has);
		CHECK(0);
	}
	spf_record_free(r);
}

static void test_terms(void)
{
	struct spf_record *r;
	char q = 0;

	r = one(
	    "v=spf1 ip4:192.0.2.0/24 a/24 mx:mail.contoso.com ~include:SPF.Protection.Outlook.COM."
	    " exp=explain._spf.%{d} -all");
	CHECK(r->valid);
	CHECK_STR(r->error, "");
	CHECK_INT(r->nrecords, 1);
	CHECK_INT(r->nterms, 6);
	CHECK_STR(r->terms[0].name, "ip4");
	CHECK_STR(r->terms[0].value, "192.0.2.0/24");
	CHECK_INT(r->terms[0].qualifier, '+');
	CHECK_STR(r->terms[1].name, "a");
	CHECK_STR(r->terms[1].value, "/24");
	CHECK_STR(r->terms[2].value, "mail.contoso.com");
	CHECK_INT(r->terms[3].qualifier, '~');
	CHECK(r->terms[4].modifier);
	CHECK_STR(r->terms[4].name, "exp");
	CHECK_INT(r->terms[4].qualifier, 0);
	CHECK_STR(r->terms[5].name, "all");
	CHECK_INT(r->terms[5].qualifier, '-');
	CHECK(r->redirect == NULL);
	CHECK_INT(r->dns_lookups, 3);
	CHECK(spf_has_include(r, MS, &q));
	CHECK_INT(q, '~');
	CHECK(spf_has_include(r, "spf.protection.outlook.com.", NULL));
	CHECK(!spf_has_include(r, "protection.outlook.com", NULL));
	spf_record_free(r);

	/* Case-insensitive version and mechanism names; extra spaces between terms. */
	r = one("V=SPF1  INCLUDE:spf.protection.outlook.com   ?ALL ");
	CHECK(r->valid);
	CHECK_INT(r->nterms, 2);
	CHECK_STR(r->terms[0].name, "include");
	CHECK(spf_has_include(r, MS, &q));
	CHECK_INT(q, '+');
	spf_record_free(r);

	r = one("v=spf1");
	CHECK(r->valid);
	CHECK_INT(r->nterms, 0);
	spf_record_free(r);
}

static void test_records(void)
{
	struct spf_record *r;

	{
		const char *recs[] = {"MS=ms12345", "v=spf1 include:" MS " -all", "v=spf10 -all",
		    "v=spf1x", "google-site-verification=x"};

		r = parse(recs, 5);
		CHECK(r->valid);
		CHECK_INT(r->nrecords, 1);
		CHECK_STR(r->text, "v=spf1 include:" MS " -all");
		spf_record_free(r);
	}
	{
		const char *recs[] = {"v=spf1 include:" MS " -all", "v=spf1 ip4:192.0.2.1 -all"};

		r = parse(recs, 2);
		CHECK(!r->valid);
		CHECK_INT(r->nrecords, 2);
		CHECK(r->text == NULL);
		CHECK(strstr(r->error, "2 SPF records") != NULL);
		CHECK(strstr(r->error, "merge them") != NULL);
		CHECK(!spf_has_include(r, MS, NULL));
		spf_record_free(r);
	}
	{
		const char *recs[] = {"v=DMARC1; p=none"};

		r = parse(recs, 1);
		CHECK(!r->valid);
		CHECK_INT(r->nrecords, 0);
		CHECK(strstr(r->error, "no SPF record") != NULL);
		spf_record_free(r);
		r = parse(NULL, 0);
		CHECK_INT(r->nrecords, 0);
		spf_record_free(r);
	}
}

static void test_errors(void)
{
	static const struct {
		const char *rec, *error_has;
	} bad[] = {
	    {"v=spf1 include -all", "lacks its argument"},
	    {"v=spf1 include: -all", "lacks its argument"},
	    {"v=spf1 ip4 -all", "lacks its argument"},
	    {"v=spf1 all:x", "takes no argument"},
	    {"v=spf1 inclde:" MS " -all", "unknown mechanism `inclde:" MS "`"},
	    {"v=spf1 +redirect=x", "not a valid modifier"},
	    {"v=spf1 redirect=a redirect=b", "more than one redirect="},
	    {"v=spf1 exp=a exp=b", "more than one exp="},
	    {"v=spf1 redirect=", "has no domain"},
	    {"v=spf1 include:" MS "\t-all", "tab or non-ASCII"},
	    {"v=spf1 1x=y", "not a valid modifier"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct spf_record *r = one(bad[i].rec);

		if (r->valid || !strstr(r->error, bad[i].error_has)) {
			fprintf(stderr, "record `%s`: valid=%d error=`%s`, want `%s`\n", bad[i].rec,
			    r->valid, r->error, bad[i].error_has);
			CHECK(0);
		}
		spf_record_free(r);
	}
	/* An unknown modifier is fine (RFC 7208 §6). */
	{
		struct spf_record *r = one("v=spf1 foo=bar -all");

		CHECK(r->valid);
		CHECK(r->terms[0].modifier);
		spf_record_free(r);
	}
	/* More than 10 lookups: valid syntax, but a warning. */
	{
		struct spf_record *r =
		    one("v=spf1 a mx ptr exists:x include:a include:b include:c include:d "
			"include:e include:f include:g -all");

		CHECK(r->valid);
		CHECK_INT(r->dns_lookups, 11);
		CHECK(strstr(r->warning, "11 DNS lookups") != NULL);
		spf_record_free(r);
	}
}

static void test_verdicts(void)
{
	verdict("v=spf1 include:" MS " -all", SPF_INCLUDE_PRESENT, "includes " MS);
	verdict("v=spf1 +include:" MS " -all", SPF_INCLUDE_PRESENT, "includes");
	verdict("v=spf1 -include:" MS " -all", SPF_INCLUDE_QUALIFIED, "`-include:" MS "`");
	verdict("v=spf1 ~include:" MS " -all", SPF_INCLUDE_QUALIFIED, "change it to `include:");
	verdict("v=spf1 ?include:" MS " -all", SPF_INCLUDE_QUALIFIED, "`?include:");
	/* Only a direct include counts; a redirect is reported with its target. */
	verdict(
	    "v=spf1 redirect=_spf.contoso.com", SPF_INCLUDE_REDIRECT, "redirect=_spf.contoso.com");
	verdict("v=spf1 include:" MS " redirect=_spf.contoso.com", SPF_INCLUDE_PRESENT, "includes");
	verdict(
	    "v=spf1 include:_spf.google.com ~all", SPF_INCLUDE_MISSING, "lacks `include:" MS "`");
	verdict("v=spf1 ip4:192.0.2.1 exists:" MS " -all", SPF_INCLUDE_MISSING, "lacks");
	verdict("v=spf1 include:" MS " bogus -all", SPF_INCLUDE_INVALID, "unknown mechanism");
	verdict("x", SPF_INCLUDE_NO_RECORD, "publish `v=spf1 include:" MS " -all`");
	{
		struct spf_record *r = one("v=spf1 redirect=_spf.Contoso.com");
		char msg[256];

		CHECK_STR(r->redirect, "_spf.Contoso.com");
		CHECK(!spf_has_include(r, MS, NULL));
		CHECK_INT(spf_check_include(NULL, MS, msg, sizeof(msg)), SPF_INCLUDE_NO_RECORD);
		spf_record_free(r);
	}
}

int main(void)
{
	test_terms();
	test_records();
	test_errors();
	test_verdicts();
	return CHECK_DONE();
}
