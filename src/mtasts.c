/* SPDX-License-Identifier: MIT */
/* src/mtasts.c — MTA-STS (RFC 8461) without I/O: the _mta-sts TXT record, the policy file,
 * MX pattern matching, and rendering a policy to stage during the cutover. */
#include "mtasts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "txtrec.h"

/* A policy full of errors does not need more than this many messages to be fixed. */
#define MTASTS_MAX_NOTES 20

#define TXT_EXAMPLE "`v=STSv1; id=20261128T000000;`"

/* Checks the one record against RFC 8461 §3.1; fills t->id, or t->error. */
static void txt_check(struct mtasts_txt *t, const char *rec)
{
	const char *p = rec + 7;
	char q[48];
	bool have_id = false;

	for (;;) {
		const char *name, *eq, *val;
		size_t nlen, vlen;

		while (txt_is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ';') {
			txt_quote(q, sizeof(q), p, strlen(p));
			snprintf(t->error, sizeof(t->error),
			    "the _mta-sts TXT record has unexpected text `%s`; fields must be "
			    "separated by `;`, as in " TXT_EXAMPLE,
			    q);
			return;
		}
		p++;
		while (txt_is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		name = p;
		while (*p && *p != '=' && *p != ';' && !txt_is_wsp(*p))
			p++;
		eq = p;
		nlen = (size_t)(eq - name);
		if (*eq != '=' || !txt_ext_name_valid(name, nlen)) {
			txt_quote(q, sizeof(q), name, nlen ? nlen : strlen(name));
			snprintf(t->error, sizeof(t->error),
			    "the _mta-sts TXT record has a malformed field `%s`; each field must "
			    "be "
			    "name=value, as in " TXT_EXAMPLE,
			    q);
			return;
		}
		val = ++p;
		while (*p && *p != ';' && !txt_is_wsp(*p))
			p++;
		vlen = (size_t)(p - val);
		if (nlen == 2 && memcmp(name, "id", 2) == 0) {
			if (have_id) {
				snprintf(t->error, sizeof(t->error),
				    "the _mta-sts TXT record has more than one id= field; keep "
				    "one, "
				    "as in " TXT_EXAMPLE);
				return;
			}
			have_id = true;
			txt_quote(q, sizeof(q), val, vlen);
			if (vlen == 0) {
				snprintf(t->error, sizeof(t->error),
				    "the _mta-sts TXT record has an empty id=; use 1 to 32 letters "
				    "and digits, as in " TXT_EXAMPLE);
				return;
			}
			for (size_t i = 0; i < vlen; i++) {
				if (!txt_is_alnum(val[i])) {
					snprintf(t->error, sizeof(t->error),
					    "the _mta-sts TXT id `%s` contains `%c`; use only "
					    "letters "
					    "and digits, as in " TXT_EXAMPLE,
					    q, (val[i] >= 0x20 && val[i] < 0x7f) ? val[i] : '?');
					return;
				}
			}
			if (vlen > MTASTS_ID_MAX) {
				snprintf(t->error, sizeof(t->error),
				    "the _mta-sts TXT id `%s` is %zu characters long; use at most "
				    "32 letters and digits, as in " TXT_EXAMPLE,
				    q, vlen);
				return;
			}
			memcpy(t->id, val, vlen);
			t->id[vlen] = '\0';
		} else if (!txt_ext_value_valid(val, vlen)) {
			txt_quote(q, sizeof(q), name, nlen);
			snprintf(t->error, sizeof(t->error),
			    "the _mta-sts TXT field `%s` has an empty or malformed value; remove "
			    "it "
			    "or give it a value without spaces, `=` or `;`",
			    q);
			return;
		}
	}
	if (!have_id) {
		snprintf(t->error, sizeof(t->error),
		    "the _mta-sts TXT record has no id= field; publish " TXT_EXAMPLE);
		return;
	}
	t->valid = true;
}

int mtasts_txt_parse(
    const char *const *records, size_t nrecords, struct mtasts_txt **out, struct mx_err *err)
{
	struct mtasts_txt *t;
	const char *found = NULL;
	int rc = MX_OK;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing the _mta-sts TXT record");
		goto out;
	}
	t->nrecords = txt_find_version(records, nrecords, "v=STSv1", &found);
	if (t->nrecords == 0)
		snprintf(t->error, sizeof(t->error),
		    "there is no _mta-sts TXT record starting with v=STSv1, so senders see no "
		    "MTA-STS policy; publish " TXT_EXAMPLE " to announce one");
	else if (t->nrecords > 1)
		snprintf(t->error, sizeof(t->error),
		    "the _mta-sts name has %zu TXT records starting with v=STSv1, and senders "
		    "then ignore MTA-STS entirely; delete all but one",
		    t->nrecords);
	else
		txt_check(t, found);
	if (!t->valid)
		t->id[0] = '\0';
	*out = t;
out:
	return rc;
}

void mtasts_txt_free(struct mtasts_txt *t)
{
	free(t);
}

const char *mtasts_mode_name(enum mtasts_mode m)
{
	switch (m) {
	case MTASTS_MODE_NONE:
		return "none";
	case MTASTS_MODE_TESTING:
		return "testing";
	case MTASTS_MODE_ENFORCE:
		return "enforce";
	default:
		return "unset";
	}
}

bool mtasts_pattern_valid(const char *s)
{
	size_t total, label = 0;

	if (!s)
		return false;
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	total = strlen(s);
	if (total == 0 || total > 253)
		return false;
	for (size_t i = 0; i <= total; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!txt_is_alnum(c) && !(c == '-' && label > 0))
			return false;
		label++;
	}
	return true;
}

static size_t len_without_dots(const char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '.')
		n--;
	return n;
}

bool mtasts_mx_match(const char *pattern, const char *host)
{
	size_t plen, hlen, rlen, llen;
	const char *rest;

	if (!pattern || !host)
		return false;
	plen = len_without_dots(pattern);
	hlen = len_without_dots(host);
	if (plen == 0 || hlen == 0)
		return false;
	if (plen < 2 || pattern[0] != '*' || pattern[1] != '.')
		return plen == hlen && strncasecmp(pattern, host, plen) == 0;
	/* "*.rest": exactly one label, then ".rest". */
	rest = pattern + 2;
	rlen = plen - 2;
	if (rlen == 0 || hlen < rlen + 2)
		return false;
	llen = hlen - rlen - 1;
	if (host[llen] != '.' || strncasecmp(host + llen + 1, rest, rlen) != 0)
		return false;
	return memchr(host, '.', llen) == NULL;
}

bool mtasts_policy_covers(const struct mtasts_policy *p, const char *host)
{
	if (!p)
		return false;
	for (size_t i = 0; i < p->nmx; i++)
		if (mtasts_mx_match(p->mx[i], host))
			return true;
	return false;
}

/* Appends a formatted note to a list; returns false only when out of memory. */
static bool __attribute__((format(printf, 3, 4)))
note(char ***list, size_t *n, const char *fmt, ...)
{
	char buf[320], **grown, *s;
	va_list ap;

	if (*n > MTASTS_MAX_NOTES)
		return true;
	if (*n == MTASTS_MAX_NOTES)
		snprintf(buf, sizeof(buf), "more problems of the same kind were not listed");
	else {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
	}
	s = strdup(buf);
	if (!s)
		return false;
	grown = realloc(*list, (*n + 1) * sizeof(*grown));
	if (!grown) {
		free(s);
		return false;
	}
	grown[(*n)++] = s;
	*list = grown;
	return true;
}

enum { F_VERSION, F_MODE, F_MAX_AGE, F_COUNT };
static const char *const field_names[F_COUNT] = {"version", "mode", "max_age"};

struct policy_parse {
	struct mtasts_policy *p;
	bool seen[F_COUNT];
	bool oom;
	bool blank_warned;
};

#define PROBLEM(pp, ...)                                                                           \
	do {                                                                                       \
		if (!note(&(pp)->p->problems, &(pp)->p->nproblems, __VA_ARGS__))                   \
			(pp)->oom = true;                                                          \
	} while (0)
#define WARN(pp, ...)                                                                              \
	do {                                                                                       \
		if (!note(&(pp)->p->warnings, &(pp)->p->nwarnings, __VA_ARGS__))                   \
			(pp)->oom = true;                                                          \
	} while (0)

static void policy_mx(struct policy_parse *pp, size_t lineno, const char *v, size_t vlen)
{
	struct mtasts_policy *p = pp->p;
	char q[48], *pat, **grown;
	size_t n = vlen;

	txt_quote(q, sizeof(q), v, vlen);
	while (n && v[n - 1] == '.')
		n--;
	pat = strndup(v, n);
	if (!pat) {
		pp->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		pat[i] = txt_to_lower(pat[i]);
	if (memchr(v, '\0', vlen) || !mtasts_pattern_valid(pat)) {
		PROBLEM(pp,
		    "line %zu: `mx: %s` is not a host name or `*.` pattern; write e.g. "
		    "`mx: contoso-com.o-v1.mx.microsoft`",
		    lineno, q);
		free(pat);
		return;
	}
	if (n < vlen)
		WARN(pp, "line %zu: `mx: %s` ends in a dot; write it without the trailing dot",
		    lineno, q);
	for (size_t i = 0; i < p->nmx; i++) {
		if (strcmp(p->mx[i], pat) == 0) {
			WARN(pp, "line %zu: `mx: %s` is listed twice; remove the duplicate", lineno,
			    q);
			free(pat);
			return;
		}
	}
	grown = realloc(p->mx, (p->nmx + 1) * sizeof(*grown));
	if (!grown) {
		free(pat);
		pp->oom = true;
		return;
	}
	p->mx = grown;
	p->mx[p->nmx++] = pat;
}

static void policy_field(struct policy_parse *pp, size_t lineno, const char *key, size_t klen,
    const char *v, size_t vlen)
{
	struct mtasts_policy *p = pp->p;
	char q[48];
	int f;

	txt_quote(q, sizeof(q), v, vlen);
	if (klen == 2 && memcmp(key, "mx", 2) == 0) {
		policy_mx(pp, lineno, v, vlen);
		return;
	}
	for (f = 0; f < F_COUNT; f++)
		if (strlen(field_names[f]) == klen && memcmp(key, field_names[f], klen) == 0)
			break;
	if (f == F_COUNT) {
		/* Unknown fields are ignored (RFC 8461 §3.2), but a miscased known one is a typo. */
		for (int k = 0; k < F_COUNT; k++)
			if (strlen(field_names[k]) == klen &&
			    strncasecmp(key, field_names[k], klen) == 0)
				WARN(pp,
				    "line %zu: field names are case-sensitive, so senders ignore "
				    "`%.*s`; write `%s`",
				    lineno, (int)klen, key, field_names[k]);
		if (klen == 2 && strncasecmp(key, "mx", 2) == 0)
			WARN(pp,
			    "line %zu: field names are case-sensitive, so senders ignore `%.*s`; "
			    "write `mx`",
			    lineno, (int)klen, key);
		return;
	}
	if (pp->seen[f]) {
		WARN(pp,
		    "line %zu: `%s` appears more than once and senders use the first; remove "
		    "the repeat",
		    lineno, field_names[f]);
		return;
	}
	pp->seen[f] = true;
	switch (f) {
	case F_VERSION:
		if (vlen != 5 || memcmp(v, "STSv1", 5) != 0)
			PROBLEM(pp,
			    "line %zu: `version: %s` is not supported; write `version: STSv1`",
			    lineno, q);
		break;
	case F_MODE:
		if (vlen == 7 && memcmp(v, "enforce", 7) == 0)
			p->mode = MTASTS_MODE_ENFORCE;
		else if (vlen == 7 && memcmp(v, "testing", 7) == 0)
			p->mode = MTASTS_MODE_TESTING;
		else if (vlen == 4 && memcmp(v, "none", 4) == 0)
			p->mode = MTASTS_MODE_NONE;
		else
			PROBLEM(pp,
			    "line %zu: `mode: %s` is not valid; write `mode: enforce`, `mode: "
			    "testing` or `mode: none` (lower case)",
			    lineno, q);
		break;
	case F_MAX_AGE: {
		long age = 0;
		size_t i;

		for (i = 0; i < vlen && i < 10 && v[i] >= '0' && v[i] <= '9'; i++)
			age = age * 10 + (v[i] - '0');
		if (vlen == 0 || i != vlen)
			PROBLEM(pp,
			    "line %zu: `max_age: %s` is not a number of seconds; write e.g. "
			    "`max_age: 604800`",
			    lineno, q);
		else if (age > MTASTS_MAX_AGE_MAX)
			PROBLEM(pp,
			    "line %zu: max_age %ld is above the limit of 31557600 seconds (one "
			    "year); lower it, e.g. to 604800",
			    lineno, age);
		else
			p->max_age = age;
		break;
	}
	}
}

static void policy_line(struct policy_parse *pp, size_t lineno, const char *s, size_t n)
{
	const char *colon, *v, *end = s + n;
	char q[48];

	if (n == 0 || (n == 1 && s[0] == '\r')) {
		if (!pp->blank_warned)
			WARN(pp, "line %zu is empty; remove blank lines from the policy", lineno);
		pp->blank_warned = true;
		return;
	}
	if (s[n - 1] == '\r')
		end--;
	txt_quote(q, sizeof(q), s, (size_t)(end - s));
	for (const char *c = s; c < end; c++) {
		unsigned char u = (unsigned char)*c;

		if ((u < 0x20 && u != '\t') || u >= 0x7f) {
			PROBLEM(pp,
			    "line %zu (`%s`) contains a control or non-ASCII character; save the "
			    "policy as plain ASCII text",
			    lineno, q);
			return;
		}
	}
	colon = memchr(s, ':', (size_t)(end - s));
	if (!colon || !txt_ext_name_valid(s, (size_t)(colon - s))) {
		PROBLEM(pp,
		    "line %zu (`%s`) is not a `key: value` field; write fields like `mode: "
		    "enforce`, with no space before the colon",
		    lineno, q);
		return;
	}
	v = colon + 1;
	while (v < end && txt_is_wsp(*v))
		v++;
	while (end > v && txt_is_wsp(end[-1]))
		end--;
	policy_field(pp, lineno, s, (size_t)(colon - s), v, (size_t)(end - v));
}

int mtasts_policy_parse(
    const char *text, size_t len, struct mtasts_policy **out, struct mx_err *err)
{
	struct policy_parse pp = {0};
	size_t pos = 0, lineno = 0;
	int rc = MX_OK;

	*out = NULL;
	pp.p = calloc(1, sizeof(*pp.p));
	if (!pp.p)
		goto oom;
	pp.p->max_age = -1;
	while (pos < len && !pp.oom) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		/* A final line break ends the last field; it does not start an empty line. */
		policy_line(&pp, lineno, text + pos, n);
		pos += n + (nl ? 1 : 0);
	}
	if (!pp.seen[F_VERSION])
		PROBLEM(&pp, "the policy has no `version: STSv1` line; add it as the first line");
	if (!pp.seen[F_MODE])
		PROBLEM(&pp, "the policy has no `mode:` line; add `mode: testing` or `mode: "
			     "enforce`");
	if (!pp.seen[F_MAX_AGE])
		PROBLEM(&pp, "the policy has no `max_age:` line; add e.g. `max_age: 604800`");
	if ((pp.p->mode == MTASTS_MODE_ENFORCE || pp.p->mode == MTASTS_MODE_TESTING) &&
	    pp.p->nmx == 0)
		PROBLEM(&pp,
		    "the policy is in mode %s but lists no `mx:` line; add one per MX host, e.g. "
		    "`mx: contoso-com.o-v1.mx.microsoft`",
		    mtasts_mode_name(pp.p->mode));
	if (pp.p->max_age >= 0 && pp.p->max_age < 86400)
		WARN(&pp,
		    "max_age is only %ld seconds, so senders forget the policy quickly; RFC 8461 "
		    "suggests weeks, e.g. `max_age: 604800`",
		    pp.p->max_age);
	if (pp.oom)
		goto oom;
	pp.p->valid = pp.p->nproblems == 0;
	*out = pp.p;
	pp.p = NULL;
	goto out;
oom:
	rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing an MTA-STS policy");
out:
	mtasts_policy_free(pp.p);
	return rc;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void mtasts_policy_free(struct mtasts_policy *p)
{
	if (!p)
		return;
	free_list(p->mx, p->nmx);
	free_list(p->problems, p->nproblems);
	free_list(p->warnings, p->nwarnings);
	free(p);
}

int mtasts_policy_render(enum mtasts_mode mode, const char *const *patterns, size_t npatterns,
    long max_age, char **out, struct mx_err *err)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = NULL;
	int rc = MX_OK;

	*out = NULL;
	if (mode != MTASTS_MODE_NONE && mode != MTASTS_MODE_TESTING &&
	    mode != MTASTS_MODE_ENFORCE) {
		rc = mx_err_set(err, MX_EINVAL,
		    "an MTA-STS policy needs mode enforce, testing "
		    "or none");
		goto out;
	}
	if (max_age < 0 || max_age > MTASTS_MAX_AGE_MAX) {
		rc = mx_err_set(err, MX_EINVAL,
		    "MTA-STS max_age %ld is outside 0..31557600 seconds; use e.g. 604800", max_age);
		goto out;
	}
	if (npatterns == 0 && mode != MTASTS_MODE_NONE) {
		rc = mx_err_set(err, MX_EINVAL,
		    "an MTA-STS policy in mode %s needs at least one mx pattern",
		    mtasts_mode_name(mode));
		goto out;
	}
	for (size_t i = 0; i < npatterns; i++) {
		if (!mtasts_pattern_valid(patterns[i])) {
			rc = mx_err_set(err, MX_EINVAL,
			    "`%.100s` is not a valid MTA-STS mx pattern; use a host name or "
			    "`*.` followed by a domain",
			    patterns[i] ? patterns[i] : "(null)");
			goto out;
		}
	}
	f = open_memstream(&buf, &size);
	if (!f)
		goto oom;
	fprintf(f, "version: STSv1\r\nmode: %s\r\n", mtasts_mode_name(mode));
	for (size_t i = 0; i < npatterns; i++) {
		fputs("mx: ", f);
		for (const char *c = patterns[i]; *c; c++)
			fputc(txt_to_lower(*c), f);
		fputs("\r\n", f);
	}
	fprintf(f, "max_age: %ld\r\n", max_age);
	if (ferror(f) || fclose(f) != 0) {
		f = NULL;
		goto oom;
	}
	f = NULL;
	*out = buf;
	buf = NULL;
	goto out;
oom:
	rc = mx_err_set(err, MX_ENOMEM, "out of memory rendering an MTA-STS policy");
out:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

int mtasts_new_id(time_t now, char out[MTASTS_ID_MAX + 1])
{
	struct tm tm;
	size_t n;

	out[0] = '\0';
	if (!gmtime_r(&now, &tm))
		return MX_EINVAL;
	n = strftime(out, MTASTS_ID_MAX + 1, "%Y%m%dT%H%M%S", &tm);
	if (n == 0)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!txt_is_alnum(out[i]))
			goto bad;
	return MX_OK;
bad:
	out[0] = '\0';
	return MX_EINVAL;
}
