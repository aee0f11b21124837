/* SPDX-License-Identifier: MIT */
/* tests/unit_tlsrpt.c — unit test of src/tlsrpt.c: the `_smtp._tls` TXT record (RFC 8460). */
#include "check.h"
#include "tlsrpt.h"

#include <string.h>

static struct tlsrpt_txt *parse(const char *const *recs, size_t n)
{
	struct tlsrpt_txt *t = NULL;
	struct mx_err err;

	mx_err_clear(&err);
	CHECK_INT(tlsrpt_txt_parse(recs, n, &t, &err), MX_OK);
	CHECK(t != NULL);
	return t;
}

/* Parses one record; checks validity, the number of URIs and a piece of the error text. */
static struct tlsrpt_txt *one(const char *rec, bool valid, size_t nrua, const char *error_has)
{
	const char *recs[] = {rec};
	struct tlsrpt_txt *t = parse(recs, 1);

	if (t->valid != valid)
		fprintf(stderr, "record `%s`: valid=%d error=%s\n", rec, t->valid, t->error);
	CHECK(t->valid == valid);
	CHECK_INT(t->nrecords, 1);
	CHECK_INT(t->nrua, nrua);
	if (valid)
		CHECK_STR(t->error, "");
	else
		CHECK(t->rua == NULL);
	if (error_has && !strstr(t->error, error_has)) {
		fprintf(stderr, "record `%s`: error `%s` lacks `%s`\n", rec, t->error, error_has);
		CHECK(0);
	}
	return t;
}

int main(void)
{
	struct tlsrpt_txt *t;

	t = one("v=TLSRPTv1; rua=mailto:tlsrpt@contoso.com", true, 1, NULL);
	CHECK_STR(t->rua[0], "mailto:tlsrpt@contoso.com");
	tlsrpt_txt_free(t);

	t = one("v=TLSRPTv1;rua=mailto:a@contoso.com, https://reports.contoso.com/tls ,"
		"MAILTO:b@fabrikam.com;",
	    true, 3, NULL);
	CHECK_STR(t->rua[0], "mailto:a@contoso.com");
	CHECK_STR(t->rua[1], "https://reports.contoso.com/tls");
	CHECK_STR(t->rua[2], "MAILTO:b@fabrikam.com");
	tlsrpt_txt_free(t);

	t = one("v=TLSRPTv1 ; ext-1=x ; rua=https://r.example/x?a=1 ;\t", true, 1, NULL);
	CHECK_STR(t->rua[0], "https://r.example/x?a=1");
	tlsrpt_txt_free(t);

	/* rua is required; only mailto: and https: are deliverable. */
	tlsrpt_txt_free(one("v=TLSRPTv1;", false, 0, "no rua= field"));
	tlsrpt_txt_free(one("v=TLSRPTv1", false, 0, "no rua= field"));
	tlsrpt_txt_free(one("v=TLSRPTv1; foo=bar", false, 0, "no rua= field"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=http://r.example/", false, 0, "neither mailto"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=ftp://r.example/", false, 0, "neither mailto"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=tlsrpt@contoso.com", false, 0, "neither mailto"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=mailto:", false, 0, "no mailbox"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=mailto:@x", false, 0, "no mailbox"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=https:/x", false, 0, "no host"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=https://", false, 0, "no host"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=", false, 0, "empty entry"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=mailto:a@b,,mailto:c@d", false, 0, "empty entry"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua=mailto:a b@c", false, 0, "contains spaces"));
	tlsrpt_txt_free(
	    one("v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d", false, 0, "more than one rua="));
	tlsrpt_txt_free(one("v=TLSRPTv1 rua=mailto:a@b", false, 0, "separated by `;`"));
	tlsrpt_txt_free(one("v=TLSRPTv1; rua", false, 0, "malformed field"));
	tlsrpt_txt_free(one("v=TLSRPTv1; x=; rua=mailto:a@b", false, 0, "malformed value"));

	/* Exactly one v=TLSRPTv1 record counts; others at the name are ignored. */
	{
		const char *recs[] = {"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@b"};

		t = parse(recs, 2);
		CHECK(t->valid);
		CHECK_INT(t->nrecords, 1);
		tlsrpt_txt_free(t);
	}
	{
		const char *recs[] = {"v=TLSRPTv1; rua=mailto:a@b", "v=TLSRPTv1; rua=mailto:c@d"};

		t = parse(recs, 2);
		CHECK(!t->valid);
		CHECK_INT(t->nrecords, 2);
		CHECK_INT(t->nrua, 0);
		CHECK(strstr(t->error, "delete all but one") != NULL);
		tlsrpt_txt_free(t);
	}
	{
		const char *recs[] = {"v=TLSRPTv10; rua=mailto:a@b", "v=tlsrptv1; rua=mailto:a@b"};

		t = parse(recs, 2);
		CHECK(!t->valid);
		CHECK_INT(t->nrecords, 0);
		CHECK(strstr(t->error, "no _smtp._tls TXT record") != NULL);
		tlsrpt_txt_free(t);
	}
	t = parse(NULL, 0);
	CHECK(!t->valid);
	CHECK_INT(t->nrecords, 0);
	tlsrpt_txt_free(t);
	return CHECK_DONE();
}
