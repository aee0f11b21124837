/* SPDX-License-Identifier: MIT */
/* tests/unit_mtasts.c — unit test of src/mtasts.c: the _mta-sts TXT record, policy parsing,
 * the one-label wildcard rule, policy rendering and ids. */
#include "check.h"
#include "mtasts.h"

#include <stdlib.h>
#include <string.h>

static struct mtasts_txt *txt(const char *const *recs, size_t n)
{
	struct mtasts_txt *t = NULL;
	struct mx_err err;

	mx_err_clear(&err);
	CHECK_INT(mtasts_txt_parse(recs, n, &t, &err), MX_OK);
	CHECK(t != NULL);
	return t;
}

static void txt_one(const char *rec, bool valid, const char *id, const char *error_has)
{
	const char *recs[] = {rec};
	struct mtasts_txt *t = txt(recs, 1);

	if (!t)
		return;
	if (t->valid != valid)
		fprintf(stderr, "record `%s`: valid=%d error=%s\n", rec, t->valid, t->error);
	CHECK(t->valid == valid);
	CHECK_INT(t->nrecords, 1);
	CHECK_STR(t->id, id);
	if (valid)
		CHECK_STR(t->error, "");
	if (error_has && !strstr(t->error, error_has)) {
		fprintf(stderr, "record `%s`: error `%s` lacks `%s`\n", rec, t->error, error_has);
		CHECK(0);
	}
	mtasts_txt_free(t);
}

static void test_txt(void)
{
	struct mtasts_txt *t;

	txt_one("v=STSv1; id=20261128T000000;", true, "20261128T000000", NULL);
	txt_one("v=STSv1; id=abc", true, "abc", NULL);
	txt_one("v=STSv1;id=abc", true, "abc", NULL);
	txt_one("v=STSv1 ;\tid=abc ; ", true, "abc", NULL);
	txt_one("v=STSv1; id=abc; ext_1.x=val:ue/1", true, "abc", NULL);
	txt_one("v=STSv1; ext=1; id=Z9", true, "Z9", NULL);
	/* 32 characters is the maximum, 33 is one too many. */
	txt_one("v=STSv1; id=12345678901234567890123456789012;", true,
	    "12345678901234567890123456789012", NULL);
	txt_one("v=STSv1; id=123456789012345678901234567890123;", false, "", "33 characters");
	txt_one("v=STSv1; id=2026-11-28;", false, "", "contains `-`");
	txt_one("v=STSv1; id=abc_def", false, "", "contains `_`");
	txt_one("v=STSv1; id=;", false, "", "empty id");
	txt_one("v=STSv1;", false, "", "no id= field");
	txt_one("v=STSv1", false, "", "no id= field");
	txt_one("v=STSv1; mode=x", false, "", "no id= field; publish `v=STSv1; id=");
	txt_one("v=STSv1; id=a; id=b", false, "", "more than one id=");
	txt_one("v=STSv1 id=abc", false, "", "separated by `;`");
	txt_one("v=STSv1; id", false, "", "malformed field `id`");
	txt_one("v=STSv1; =x; id=a", false, "", "malformed field");
	txt_one("v=STSv1; ext=a=b; id=a", false, "", "malformed value");

	/* Records that are not v=STSv1 are ignored; zero or two real ones are errors. */
	{
		const char *recs[] = {"google-site-verification=xyz", "v=STSv1; id=1"};

		t = txt(recs, 2);
		CHECK(t->valid);
		CHECK_INT(t->nrecords, 1);
		CHECK_STR(t->id, "1");
		mtasts_txt_free(t);
	}
	{
		const char *recs[] = {"v=STSv1; id=1", "v=STSv1; id=2"};

		t = txt(recs, 2);
		CHECK(!t->valid);
		CHECK_INT(t->nrecords, 2);
		CHECK(strstr(t->error, "2 TXT records") != NULL);
		CHECK(strstr(t->error, "delete all but one") != NULL);
		mtasts_txt_free(t);
	}
	{
		const char *recs[] = {"v=STSv10; id=1", "V=STSV1; id=2", " v=STSv1; id=3"};

		t = txt(recs, 3);
		CHECK(!t->valid);
		CHECK_INT(t->nrecords, 0);
		CHECK(strstr(t->error, "no _mta-sts TXT record") != NULL);
		mtasts_txt_free(t);
		t = txt(NULL, 0);
		CHECK(!t->valid);
		CHECK_INT(t->nrecords, 0);
		mtasts_txt_free(t);
	}
	/* Hostile content never reaches the message unescaped. */
	txt_one("v=STSv1; id=a\x1b[2Jb", false, "", "contains `?`");
}

static struct mtasts_policy *policy(const char *text)
{
	struct mtasts_policy *p = NULL;
	struct mx_err err;

	mx_err_clear(&err);
	CHECK_INT(mtasts_policy_parse(text, strlen(text), &p, &err), MX_OK);
	CHECK(p != NULL);
	return p;
}

static bool has_note(char **list, size_t n, const char *needle)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(list[i], needle))
			return true;
	return false;
}

static void dump(const struct mtasts_policy *p)
{
	for (size_t i = 0; i < p->nproblems; i++)
		fprintf(stderr, "  problem: %s\n", p->problems[i]);
	for (size_t i = 0; i < p->nwarnings; i++)
		fprintf(stderr, "  warning: %s\n", p->warnings[i]);
}

static void test_policy(void)
{
	struct mtasts_policy *p;

	p = policy("version: STSv1\r\nmode: enforce\r\nmx: mail.contoso.com\r\n"
		   "mx: *.mail.protection.outlook.com\r\nmax_age: 604800\r\n");
	CHECK(p->valid);
	CHECK_INT(p->mode, MTASTS_MODE_ENFORCE);
	CHECK_INT(p->max_age, 604800);
	CHECK_INT(p->nmx, 2);
	CHECK_STR(p->mx[0], "mail.contoso.com");
	CHECK_STR(p->mx[1], "*.mail.protection.outlook.com");
	CHECK_INT(p->nproblems, 0);
	CHECK_INT(p->nwarnings, 0);
	CHECK(mtasts_policy_covers(p, "contoso-com.mail.protection.outlook.com"));
	CHECK(!mtasts_policy_covers(p, "contoso-com.o-v1.mx.microsoft"));
	mtasts_policy_free(p);

	/* LF line ends, no final line break, fields in another order, extension ignored. */
	p = policy("mode: testing\nmax_age:86400\nmx: MX.Example.NET.\nversion: STSv1\n"
		   "x-note: hello world\nmx: b.example.net");
	if (!p->valid)
		dump(p);
	CHECK(p->valid);
	CHECK_INT(p->mode, MTASTS_MODE_TESTING);
	CHECK_INT(p->max_age, 86400);
	CHECK_INT(p->nmx, 2);
	CHECK_STR(p->mx[0], "mx.example.net");
	CHECK(has_note(p->warnings, p->nwarnings, "trailing dot"));
	mtasts_policy_free(p);

	/* mode none needs no mx; max_age 0 is allowed, with a warning. */
	p = policy("version: STSv1\nmode: none\nmax_age: 0\n");
	CHECK(p->valid);
	CHECK_INT(p->mode, MTASTS_MODE_NONE);
	CHECK_INT(p->max_age, 0);
	CHECK(has_note(p->warnings, p->nwarnings, "max_age is only 0 seconds"));
	mtasts_policy_free(p);

	/* max_age bounds. */
	p = policy("version: STSv1\nmode: none\nmax_age: 31557600\n");
	CHECK(p->valid);
	CHECK_INT(p->max_age, 31557600);
	mtasts_policy_free(p);
	p = policy("version: STSv1\nmode: none\nmax_age: 31557601\n");
	CHECK(!p->valid);
	CHECK_INT(p->max_age, -1);
	CHECK(has_note(p->problems, p->nproblems, "above the limit of 31557600"));
	mtasts_policy_free(p);
	p = policy("version: STSv1\nmode: none\nmax_age: 99999999999\n");
	CHECK(!p->valid);
	mtasts_policy_free(p);
	p = policy("version: STSv1\nmode: none\nmax_age: -5\n");
	CHECK(!p->valid);
	CHECK(has_note(p->problems, p->nproblems, "not a number of seconds"));
	mtasts_policy_free(p);
	p = policy("version: STSv1\nmode: none\nmax_age: 1w\n");
	CHECK(!p->valid);
	mtasts_policy_free(p);

	/* Enforce (or testing) without mx is broken. */
	p = policy("version: STSv1\r\nmode: enforce\r\nmax_age: 604800\r\n");
	CHECK(!p->valid);
	CHECK(has_note(p->problems, p->nproblems, "lists no `mx:` line"));
	mtasts_policy_free(p);

	/* Missing required fields and wrong values. */
	p = policy("mode: enforce\nmx: a.example\n");
	CHECK(!p->valid);
	CHECK(has_note(p->problems, p->nproblems, "no `version: STSv1`"));
	CHECK(has_note(p->problems, p->nproblems, "no `max_age:`"));
	CHECK_INT(p->max_age, -1);
	mtasts_policy_free(p);
	p = policy("version: STSv2\nmode: Enforce\nmx: a.example\nmax_age: 100000\n");
	CHECK(!p->valid);
	CHECK(has_note(p->problems, p->nproblems, "`version: STSv2` is not supported"));
	CHECK(has_note(p->problems, p->nproblems, "`mode: Enforce` is not valid"));
	CHECK_INT(p->mode, MTASTS_MODE_UNSET);
	mtasts_policy_free(p);
	p = policy("");
	CHECK(!p->valid);
	CHECK(has_note(p->problems, p->nproblems, "no `mode:`"));
	mtasts_policy_free(p);

	/* Field names are case-sensitive; a miscased one is ignored with a hint. */
	p = policy("version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 100000\n");
	CHECK(!p->valid);
	CHECK(has_note(p->warnings, p->nwarnings, "case-sensitive"));
	mtasts_policy_free(p);

	/* Repeated fields: the first wins. Duplicate mx lines collapse. */
	p = policy("version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmx: A.example\n"
		   "max_age: 100000\n");
	CHECK(p->valid);
	CHECK_INT(p->mode, MTASTS_MODE_TESTING);
	CHECK_INT(p->nmx, 1);
	CHECK(has_note(p->warnings, p->nwarnings, "more than once"));
	CHECK(has_note(p->warnings, p->nwarnings, "listed twice"));
	mtasts_policy_free(p);

	/* Syntax errors. */
	p = policy("version: STSv1\nmode enforce\nmx: a.example\nmax_age: 100000\n");
	CHECK(!p->valid);
	CHECK(has_note(p->problems, p->nproblems, "line 2 (`mode enforce`) is not a `key: value`"));
	mtasts_policy_free(p);
	p = policy("version: STSv1\nmode : enforce\nmx: a.example\nmax_age: 100000\n");
	CHECK(!p->valid);
	mtasts_policy_free(p);
	p = policy("version: STSv1\nmode: enforce\nmx: bad_host!\nmx: *.*.x.example\nmx: a..b\n"
		   "max_age: 100000\n");
	CHECK(!p->valid);
	CHECK_INT(p->nmx, 0);
	CHECK(has_note(p->problems, p->nproblems, "`mx: bad_host!` is not a host name"));
	mtasts_policy_free(p);
	p = policy("version: STSv1\n\nmode: none\nmax_age: 100000\n\n");
	CHECK(p->valid);
	CHECK(has_note(p->warnings, p->nwarnings, "line 2 is empty"));
	mtasts_policy_free(p);

	/* Embedded NUL: the length, not the NUL, ends the text. */
	{
		static const char text[] = "version: STSv1\nmode: none\0\nmax_age: 100000\n";
		struct mtasts_policy *q = NULL;
		struct mx_err err;

		CHECK_INT(mtasts_policy_parse(text, sizeof(text) - 1, &q, &err), MX_OK);
		CHECK(!q->valid);
		CHECK(has_note(q->problems, q->nproblems, "control"));
		mtasts_policy_free(q);
	}
}

static void test_match(void)
{
	/* The one-label wildcard rule of RFC 8461 §4.1. */
	CHECK(mtasts_mx_match("*.mx.microsoft", "a.mx.microsoft"));
	CHECK(!mtasts_mx_match("*.mx.microsoft", "contoso-com.o-v1.mx.microsoft"));
	CHECK(!mtasts_mx_match("*.mx.microsoft", "a.b-v1.mx.microsoft"));
	CHECK(!mtasts_mx_match("*.mx.microsoft", "mx.microsoft"));
	CHECK(!mtasts_mx_match("*.mx.microsoft", ".mx.microsoft"));
	CHECK(!mtasts_mx_match("*.mx.microsoft", "amx.microsoft"));
	CHECK(mtasts_mx_match("*.o-v1.mx.microsoft", "contoso-com.o-v1.mx.microsoft"));
	CHECK(mtasts_mx_match("*.O-V1.mx.microsoft.", "Contoso-COM.o-v1.MX.microsoft"));
	CHECK(mtasts_mx_match("contoso-com.o-v1.mx.microsoft", "contoso-com.o-v1.mx.microsoft."));
	CHECK(mtasts_mx_match("Mail.Contoso.com", "mail.contoso.COM"));
	CHECK(!mtasts_mx_match("mail.contoso.com", "mail.contoso.co"));
	CHECK(!mtasts_mx_match("mail.contoso.com", "x.mail.contoso.com"));
	CHECK(!mtasts_mx_match("a.*.example", "a.b.example"));
	CHECK(!mtasts_mx_match("", ""));
	CHECK(!mtasts_mx_match("*.", "a"));
	CHECK(!mtasts_mx_match(NULL, "a"));

	CHECK(mtasts_pattern_valid("*.mx.microsoft"));
	CHECK(mtasts_pattern_valid("contoso-com.o-v1.mx.microsoft"));
	CHECK(!mtasts_pattern_valid("*.*.mx.microsoft"));
	CHECK(!mtasts_pattern_valid("*"));
	CHECK(!mtasts_pattern_valid("-a.example"));
	CHECK(!mtasts_pattern_valid("a-.example"));
	CHECK(!mtasts_pattern_valid("a.example."));
	CHECK(!mtasts_pattern_valid(""));
}

static void test_render(void)
{
	const char *both[] = {
	    "contoso-com.mail.protection.outlook.com", "Contoso-com.o-v1.mx.microsoft"};
	const char *bad[] = {"*.*.example"};
	struct mtasts_policy *p;
	struct mx_err err;
	char *text = NULL;

	mx_err_clear(&err);
	CHECK_INT(mtasts_policy_render(MTASTS_MODE_ENFORCE, both, 2, 604800, &text, &err), MX_OK);
	CHECK_STR(text, "version: STSv1\r\nmode: enforce\r\n"
			"mx: contoso-com.mail.protection.outlook.com\r\n"
			"mx: contoso-com.o-v1.mx.microsoft\r\nmax_age: 604800\r\n");
	/* What we render, we parse back to the same policy. */
	p = policy(text);
	CHECK(p->valid);
	CHECK_INT(p->nwarnings, 0);
	CHECK(mtasts_policy_covers(p, "contoso-com.o-v1.mx.microsoft"));
	CHECK(mtasts_policy_covers(p, "contoso-com.mail.protection.outlook.com"));
	mtasts_policy_free(p);
	free(text);

	CHECK_INT(mtasts_policy_render(MTASTS_MODE_NONE, NULL, 0, 86400, &text, &err), MX_OK);
	CHECK_STR(text, "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n");
	free(text);

	text = NULL;
	CHECK_INT(
	    mtasts_policy_render(MTASTS_MODE_ENFORCE, NULL, 0, 86400, &text, &err), MX_EINVAL);
	CHECK(text == NULL);
	CHECK(strstr(err.msg, "at least one mx") != NULL);
	CHECK_INT(mtasts_policy_render(MTASTS_MODE_TESTING, bad, 1, 86400, &text, &err), MX_EINVAL);
	CHECK_INT(
	    mtasts_policy_render(MTASTS_MODE_TESTING, both, 2, 31557601, &text, &err), MX_EINVAL);
	CHECK_INT(mtasts_policy_render(MTASTS_MODE_UNSET, both, 2, 100, &text, &err), MX_EINVAL);
	CHECK(text == NULL);
}

static void test_new_id(void)
{
	char id[MTASTS_ID_MAX + 1];
	const char *recs[1];
	char rec[64];
	struct mtasts_txt *t;

	CHECK_INT(mtasts_new_id((time_t)1795869296, id), MX_OK); /* 2026-11-28 12:34:56 UTC */
	CHECK_STR(id, "20261128T123456");
	CHECK_INT(mtasts_new_id((time_t)0, id), MX_OK);
	CHECK_STR(id, "19700101T000000");
	/* The id we make is one the TXT parser accepts. */
	snprintf(rec, sizeof(rec), "v=STSv1; id=%s;", id);
	recs[0] = rec;
	t = txt(recs, 1);
	CHECK(t->valid);
	CHECK_STR(t->id, id);
	mtasts_txt_free(t);
}

int main(void)
{
	test_txt();
	test_policy();
	test_match();
	test_render();
	test_new_id();
	return CHECK_DONE();
}
