/* SPDX-License-Identifier: MIT */
/* src/tlsrpt.c — SMTP TLS Reporting (RFC 8460 §3) without I/O: the `_smtp._tls` TXT record. */
#include "tlsrpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "txtrec.h"

#define TLSRPT_EXAMPLE "`v=TLSRPTv1; rua=mailto:tlsrpt@contoso.com`"

/* Visible ASCII only: a URI has no spaces or control characters (RFC 3986). */
static bool uri_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Checks one rua URI; on error writes the sentence to error and returns false. */
static bool uri_check(const char *u, size_t n, char *error, size_t size)
{
	char q[48];
	const char *colon = memchr(u, ':', n);

	txt_quote(q, sizeof(q), u, n);
	if (n == 0) {
		snprintf(error, size,
		    "the _smtp._tls TXT rua= list has an empty entry; separate URIs with single "
		    "commas, as in " TLSRPT_EXAMPLE);
		return false;
	}
	if (!uri_chars_ok(u, n)) {
		snprintf(error, size,
		    "the _smtp._tls TXT rua= URI `%s` contains spaces or non-ASCII characters; "
		    "percent-encode them",
		    q);
		return false;
	}
	if (colon && colon - u == 6 && strncasecmp(u, "mailto", 6) == 0) {
		const char *addr = colon + 1, *end = u + n;
		const char *at = memchr(addr, '@', (size_t)(end - addr));

		if (!at || at == addr || at + 1 == end) {
			snprintf(error, size,
			    "the _smtp._tls TXT rua= URI `%s` has no mailbox; write "
			    "`mailto:name@domain`",
			    q);
			return false;
		}
		return true;
	}
	if (colon && colon - u == 5 && strncasecmp(u, "https", 5) == 0) {
		const char *rest = colon + 1, *end = u + n;

		if (end - rest < 3 || rest[0] != '/' || rest[1] != '/' || rest[2] == '/') {
			snprintf(error, size,
			    "the _smtp._tls TXT rua= URI `%s` has no host; write "
			    "`https://host/path`",
			    q);
			return false;
		}
		return true;
	}
	snprintf(error, size,
	    "the _smtp._tls TXT rua= URI `%s` is neither mailto: nor https:, the only kinds "
	    "senders deliver reports to; use e.g. `rua=mailto:tlsrpt@contoso.com`",
	    q);
	return false;
}

static bool rua_add(struct tlsrpt_txt *t, const char *u, size_t n)
{
	char **grown, *s = strndup(u, n);

	if (!s)
		return false;
	grown = realloc(t->rua, (t->nrua + 1) * sizeof(*grown));
	if (!grown) {
		free(s);
		return false;
	}
	t->rua = grown;
	t->rua[t->nrua++] = s;
	return true;
}

static void rua_clear(struct tlsrpt_txt *t)
{
	for (size_t i = 0; i < t->nrua; i++)
		free(t->rua[i]);
	free(t->rua);
	t->rua = NULL;
	t->nrua = 0;
}

/* Parses the rua= value (up to the next ";"); returns false on ENOMEM only. */
static bool rua_parse(struct tlsrpt_txt *t, const char *v, size_t n)
{
	size_t pos = 0;

	for (;;) {
		size_t start = pos, end;

		while (pos < n && v[pos] != ',')
			pos++;
		end = pos;
		while (start < end && txt_is_wsp(v[start]))
			start++;
		while (end > start && txt_is_wsp(v[end - 1]))
			end--;
		if (!uri_check(v + start, end - start, t->error, sizeof(t->error)))
			return true;
		if (!rua_add(t, v + start, end - start))
			return false;
		if (pos >= n)
			break;
		pos++; /* the comma */
	}
	return true;
}

/* Checks the one record; returns false on ENOMEM only (t->error tells the rest). */
static bool record_check(struct tlsrpt_txt *t, const char *rec)
{
	const char *p = rec + 10;
	char q[48];
	bool have_rua = false;

	for (;;) {
		const char *name, *val;
		size_t nlen, vlen;

		while (txt_is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ';') {
			txt_quote(q, sizeof(q), p, strlen(p));
			snprintf(t->error, sizeof(t->error),
			    "the _smtp._tls TXT record has unexpected text `%s`; fields must be "
			    "separated by `;`, as in " TLSRPT_EXAMPLE,
			    q);
			return true;
		}
		p++;
		while (txt_is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		name = p;
		while (*p && *p != '=' && *p != ';' && !txt_is_wsp(*p))
			p++;
		nlen = (size_t)(p - name);
		if (*p != '=' || !txt_ext_name_valid(name, nlen)) {
			txt_quote(q, sizeof(q), name, nlen ? nlen : strlen(name));
			snprintf(t->error, sizeof(t->error),
			    "the _smtp._tls TXT record has a malformed field `%s`; each field must "
			    "be name=value, as in " TLSRPT_EXAMPLE,
			    q);
			return true;
		}
		val = ++p;
		if (nlen == 3 && memcmp(name, "rua", 3) == 0) {
			/* URIs may be separated by "," with spaces around; ";" ends the list. */
			while (*p && *p != ';')
				p++;
			vlen = (size_t)(p - val);
			while (vlen && txt_is_wsp(val[vlen - 1]))
				vlen--;
			if (have_rua) {
				snprintf(t->error, sizeof(t->error),
				    "the _smtp._tls TXT record has more than one rua= field; list "
				    "all URIs in one, separated by commas");
				return true;
			}
			have_rua = true;
			if (!rua_parse(t, val, vlen))
				return false;
			if (t->error[0])
				return true;
			continue;
		}
		while (*p && *p != ';' && !txt_is_wsp(*p))
			p++;
		vlen = (size_t)(p - val);
		if (!txt_ext_value_valid(val, vlen)) {
			txt_quote(q, sizeof(q), name, nlen);
			snprintf(t->error, sizeof(t->error),
			    "the _smtp._tls TXT field `%s` has an empty or malformed value; remove "
			    "it or give it a value without spaces, `=` or `;`",
			    q);
			return true;
		}
	}
	if (!have_rua) {
		snprintf(t->error, sizeof(t->error),
		    "the _smtp._tls TXT record has no rua= field, so senders have nowhere to "
		    "send reports; publish " TLSRPT_EXAMPLE);
		return true;
	}
	t->valid = true;
	return true;
}

int tlsrpt_txt_parse(
    const char *const *records, size_t nrecords, struct tlsrpt_txt **out, struct mx_err *err)
{
	struct tlsrpt_txt *t = NULL;
	const char *found = NULL;
	int rc = MX_OK;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto oom;
	t->nrecords = txt_find_version(records, nrecords, "v=TLSRPTv1", &found);
	if (t->nrecords == 0)
		snprintf(t->error, sizeof(t->error),
		    "there is no _smtp._tls TXT record starting with v=TLSRPTv1, so senders send "
		    "no TLS reports; publish " TLSRPT_EXAMPLE " to receive them");
	else if (t->nrecords > 1)
		snprintf(t->error, sizeof(t->error),
		    "the _smtp._tls name has %zu TXT records starting with v=TLSRPTv1, and "
		    "senders then send no reports at all; delete all but one",
		    t->nrecords);
	else if (!record_check(t, found))
		goto oom;
	if (!t->valid)
		rua_clear(t);
	*out = t;
	t = NULL;
	goto out;
oom:
	rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing the _smtp._tls TXT record");
out:
	tlsrpt_txt_free(t);
	return rc;
}

void tlsrpt_txt_free(struct tlsrpt_txt *t)
{
	if (!t)
		return;
	rua_clear(t);
	free(t);
}
