/* SPDX-License-Identifier: MIT */
/* src/spf.c — SPF (RFC 7208) without I/O: finding the domain's SPF record among its apex TXT
 * records, splitting it into terms, and checking that it includes Microsoft's SPF domain. */
#include "spf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "txtrec.h"

#define SPF_MAX_LOOKUPS 10

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "v=spf1" then a space or the end, RFC 7208 §4.5. */
static bool spf_version_prefix(const char *r)
{
	return strncasecmp(r, "v=spf1", 6) == 0 && (r[6] == ' ' || r[6] == '\0');
}

enum arg { ARG_NONE, ARG_OPTIONAL, ARG_REQUIRED };

/* The mechanisms of RFC 7208 §5: whether a domain/address argument follows and whether
 * evaluating it costs a DNS lookup (§4.6.4). */
static const struct {
	const char *name;
	enum arg arg;
	bool lookup;
} mechanisms[] = {
    {"all", ARG_NONE, false},
    {"include", ARG_REQUIRED, true},
    {"a", ARG_OPTIONAL, true},
    {"mx", ARG_OPTIONAL, true},
    {"ptr", ARG_OPTIONAL, true},
    {"ip4", ARG_REQUIRED, false},
    {"ip6", ARG_REQUIRED, false},
    {"exists", ARG_REQUIRED, true},
};

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static bool modifier_name_valid(const char *s, size_t n)
{
	if (n == 0 || !is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* Visible ASCII only (macro-string, domain-spec, addresses). */
static bool value_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool term_add(struct spf_record *r, bool modifier, char qualifier, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	struct spf_term *grown, *t;

	grown = realloc(r->terms, (r->nterms + 1) * sizeof(*grown));
	if (!grown)
		return false;
	r->terms = grown;
	t = &r->terms[r->nterms];
	t->modifier = modifier;
	t->qualifier = qualifier;
	t->name = strndup(name, nlen);
	t->value = strndup(value, vlen);
	if (!t->name || !t->value) {
		free(t->name);
		free(t->value);
		return false;
	}
	for (char *c = t->name; *c; c++)
		*c = txt_to_lower(*c);
	r->nterms++;
	return true;
}

/* Parses one term; returns false on ENOMEM only, errors go to r->error. */
static bool term_parse(struct spf_record *r, const char *s, size_t n)
{
	const char *name = s, *value = "";
	size_t nlen = n, vlen = 0, i;
	char qualifier = '+', q[48];

	txt_quote(q, sizeof(q), s, n);
	if (!value_chars_ok(s, n)) {
		snprintf(r->error, sizeof(r->error),
		    "the SPF record's term `%s` contains a tab or non-ASCII character; separate "
		    "terms with single spaces",
		    q);
		return true;
	}
	/* A modifier is name=value where "=" comes before any ":" or "/". */
	for (i = 0; i < n && s[i] != ':' && s[i] != '/' && s[i] != '='; i++)
		;
	if (i < n && s[i] == '=') {
		nlen = i;
		value = s + i + 1;
		vlen = n - i - 1;
		if (!modifier_name_valid(name, nlen)) {
			snprintf(r->error, sizeof(r->error),
			    "the SPF record's term `%s` is not a valid modifier; check its "
			    "spelling",
			    q);
			return true;
		}
		if ((nlen == 8 && strncasecmp(name, "redirect", 8) == 0) ||
		    (nlen == 3 && strncasecmp(name, "exp", 3) == 0)) {
			for (size_t k = 0; k < r->nterms; k++) {
				if (r->terms[k].modifier && strlen(r->terms[k].name) == nlen &&
				    strncasecmp(r->terms[k].name, name, nlen) == 0) {
					snprintf(r->error, sizeof(r->error),
					    "the SPF record has more than one %.*s= modifier, a "
					    "permanent error for receivers; keep one",
					    (int)nlen, name);
					return true;
				}
			}
			if (vlen == 0) {
				snprintf(r->error, sizeof(r->error),
				    "the SPF record's %.*s= modifier has no domain; write e.g. "
				    "`%.*s=_spf.contoso.com`",
				    (int)nlen, name, (int)nlen, name);
				return true;
			}
			if (nlen == 8)
				r->dns_lookups++;
		}
		if (!term_add(r, true, 0, name, nlen, value, vlen))
			return false;
		if (nlen == 8 && strncasecmp(name, "redirect", 8) == 0)
			r->redirect = r->terms[r->nterms - 1].value;
		return true;
	}
	if (n && (s[0] == '+' || s[0] == '-' || s[0] == '~' || s[0] == '?')) {
		qualifier = s[0];
		name++;
		n--;
		i--;
	}
	nlen = i;
	if (i < n) {
		/* "a/24" keeps the "/"; "include:x" drops the ":". */
		value = name + i + (name[i] == ':' ? 1 : 0);
		vlen = n - i - (name[i] == ':' ? 1 : 0);
	}
	for (size_t m = 0; m < sizeof(mechanisms) / sizeof(mechanisms[0]); m++) {
		if (strlen(mechanisms[m].name) != nlen ||
		    strncasecmp(mechanisms[m].name, name, nlen) != 0)
			continue;
		if (mechanisms[m].arg == ARG_NONE && i < n) {
			snprintf(r->error, sizeof(r->error),
			    "the SPF record's term `%s` takes no argument, a permanent error for "
			    "receivers; write just `%c%s`",
			    q, qualifier, mechanisms[m].name);
			return true;
		}
		if (mechanisms[m].arg == ARG_REQUIRED && (vlen == 0 || name[i] != ':')) {
			snprintf(r->error, sizeof(r->error),
			    "the SPF record's term `%s` lacks its argument, a permanent error for "
			    "receivers; write e.g. `%s:%s`",
			    q, mechanisms[m].name,
			    strcmp(mechanisms[m].name, "ip4") == 0 ? "192.0.2.0/24"
			    : strcmp(mechanisms[m].name, "ip6") == 0
				? "2001:db8::/32"
				: "spf.protection.outlook.com");
			return true;
		}
		if (mechanisms[m].lookup)
			r->dns_lookups++;
		return term_add(r, false, qualifier, name, nlen, value, vlen);
	}
	snprintf(r->error, sizeof(r->error),
	    "the SPF record has an unknown mechanism `%s`, a permanent error for receivers; fix "
	    "its spelling (e.g. `include:`, `ip4:`, `~all`)",
	    q);
	return true;
}

static bool record_parse(struct spf_record *r)
{
	const char *p = r->text + 6;

	while (*p) {
		const char *start;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != ' ')
			p++;
		if (!term_parse(r, start, (size_t)(p - start)))
			return false;
		if (r->error[0])
			return true;
	}
	if (r->dns_lookups > SPF_MAX_LOOKUPS)
		snprintf(r->warning, sizeof(r->warning),
		    "the SPF record needs %d DNS lookups, more than the limit of 10, so receivers "
		    "return a permanent error; replace a:, mx: or include: terms with ip4:/ip6:",
		    r->dns_lookups);
	r->valid = true;
	return true;
}

int spf_parse(
    const char *const *records, size_t nrecords, struct spf_record **out, struct mx_err *err)
{
	struct spf_record *r;
	const char *found = NULL;
	int rc = MX_OK;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto oom;
	for (size_t i = 0; i < nrecords; i++) {
		if (records[i] && spf_version_prefix(records[i])) {
			r->nrecords++;
			found = records[i];
		}
	}
	if (r->nrecords == 0) {
		snprintf(r->error, sizeof(r->error),
		    "the domain has no SPF record (a TXT record starting with `v=spf1`); publish "
		    "`v=spf1 include:spf.protection.outlook.com -all`");
	} else if (r->nrecords > 1) {
		snprintf(r->error, sizeof(r->error),
		    "the domain has %zu SPF records (TXT records starting with `v=spf1`), a "
		    "permanent error for receivers; merge them into one record",
		    r->nrecords);
	} else {
		r->text = strdup(found);
		if (!r->text || !record_parse(r))
			goto oom;
	}
	*out = r;
	r = NULL;
	goto out;
oom:
	rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing an SPF record");
out:
	spf_record_free(r);
	return rc;
}

void spf_record_free(struct spf_record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nterms; i++) {
		free(r->terms[i].name);
		free(r->terms[i].value);
	}
	free(r->terms);
	free(r->text);
	free(r);
}

static bool same_domain(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	while (na && a[na - 1] == '.')
		na--;
	while (nb && b[nb - 1] == '.')
		nb--;
	return na == nb && na && strncasecmp(a, b, na) == 0;
}

bool spf_has_include(const struct spf_record *r, const char *domain, char *qualifier)
{
	if (!r || !domain)
		return false;
	for (size_t i = 0; i < r->nterms; i++) {
		const struct spf_term *t = &r->terms[i];

		if (!t->modifier && strcmp(t->name, "include") == 0 &&
		    same_domain(t->value, domain)) {
			if (qualifier)
				*qualifier = t->qualifier;
			return true;
		}
	}
	return false;
}

enum spf_include_state spf_check_include(
    const struct spf_record *r, const char *domain, char *msg, size_t size)
{
	char qualifier = 0, q[48];

	if (!r || r->nrecords == 0) {
		snprintf(msg, size,
		    "the domain has no SPF record; publish `v=spf1 include:%s -all` so that mail "
		    "sent through Exchange Online passes SPF",
		    domain);
		return SPF_INCLUDE_NO_RECORD;
	}
	if (!r->valid) {
		snprintf(msg, size, "%s", r->error);
		return SPF_INCLUDE_INVALID;
	}
	if (spf_has_include(r, domain, &qualifier)) {
		if (qualifier == '+') {
			snprintf(msg, size, "the SPF record includes %s", domain);
			return SPF_INCLUDE_PRESENT;
		}
		snprintf(msg, size,
		    "the SPF record has `%cinclude:%s`, so Exchange Online's servers do not pass "
		    "SPF; change it to `include:%s`",
		    qualifier, domain, domain);
		return SPF_INCLUDE_QUALIFIED;
	}
	if (r->redirect) {
		txt_quote(q, sizeof(q), r->redirect, strlen(r->redirect));
		snprintf(msg, size,
		    "the SPF record does not include %s itself but hands over with redirect=%s; "
		    "make sure that record has `include:%s`, or add it here",
		    domain, q, domain);
		return SPF_INCLUDE_REDIRECT;
	}
	snprintf(msg, size,
	    "the SPF record lacks `include:%s`, so mail sent through Exchange Online may fail "
	    "SPF; add it before the final `all`",
	    domain);
	return SPF_INCLUDE_MISSING;
}
