/* SPDX-License-Identifier: MIT */
/* src/domain.c — domain-name validation and IDN → A-label conversion (libidn2). */
#include "domain.h"

#include <ctype.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static int check_labels(const char *name, const char *what, const char *shown, struct mx_err *err)
{
	const char *p = name, *label;
	int labels = 0;
	size_t len;

	if (strlen(name) > MX_NAME_MAX)
		return mx_err_set(err, MX_EINVAL,
		    "%s \"%.60s…\" is %zu characters long; a domain name has at most %d", what,
		    shown, strlen(name), MX_NAME_MAX);
	while (*p) {
		label = p;
		while (*p && *p != '.')
			p++;
		len = (size_t)(p - label);
		if (len == 0)
			return mx_err_set(err, MX_EINVAL,
			    "%s \"%s\" has an empty label (two dots in a row or a leading dot)",
			    what, shown);
		if (len > 63)
			return mx_err_set(err, MX_EINVAL,
			    "%s \"%.60s\" has a label of %zu characters; a label has at most 63",
			    what, shown, len);
		if (label[0] == '-' || label[len - 1] == '-')
			return mx_err_set(err, MX_EINVAL,
			    "%s \"%s\": a label may not start or end with a hyphen", what, shown);
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)label[i]) && label[i] != '-')
				return mx_err_set(err, MX_EINVAL,
				    "%s \"%s\" contains '%c'; use letters, digits, hyphens and "
				    "dots",
				    what, shown, label[i]);
		labels++;
		if (*p == '.')
			p++;
	}
	if (labels < 2)
		return mx_err_set(err, MX_EINVAL,
		    "%s \"%s\" is not a fully qualified name; give it with its parent, e.g. "
		    "contoso.com",
		    what, shown);
	return MX_OK;
}

int mx_domain_normalize(
    const char *in, const char *what, char *out, size_t outlen, struct mx_err *err)
{
	char buf[1024], *ascii = NULL;
	size_t len;
	int rc;

	while (*in && isspace((unsigned char)*in))
		in++;
	len = strlen(in);
	while (len && isspace((unsigned char)in[len - 1]))
		len--;
	if (len && in[len - 1] == '.')
		len--;
	if (len == 0)
		return mx_err_set(
		    err, MX_EINVAL, "%s is empty; give a name such as contoso.com", what);
	if (len >= sizeof(buf))
		return mx_err_set(err, MX_EINVAL,
		    "%s is %zu characters long; a domain name has at most %d", what, len,
		    MX_NAME_MAX);
	memcpy(buf, in, len);
	buf[len] = '\0';

	if (!is_ascii(buf)) {
		rc = idn2_to_ascii_8z(buf, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
		if (rc != IDN2_OK)
			return mx_err_set(err, MX_EINVAL,
			    "%s \"%s\" is not a valid internationalized name (%s)", what, buf,
			    idn2_strerror(rc));
		snprintf(buf, sizeof(buf), "%s", ascii);
		idn2_free(ascii);
	}
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	rc = check_labels(buf, what, buf, err);
	if (rc)
		return rc;
	if (strlen(buf) >= outlen)
		return mx_err_set(err, MX_EINVAL, "%s \"%s\" is too long", what, buf);
	memcpy(out, buf, strlen(buf) + 1);
	return MX_OK;
}

bool mx_name_under(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	if (s == 0 || n < s)
		return false;
	if (strcasecmp(name + n - s, suffix) != 0)
		return false;
	return n == s || name[n - s - 1] == '.';
}

void mx_domain_dashed(const char *name, char *out, size_t outlen)
{
	size_t i;

	if (!outlen)
		return;
	for (i = 0; name[i] && i + 1 < outlen; i++)
		out[i] = name[i] == '.' ? '-' : name[i];
	out[i] = '\0';
}
