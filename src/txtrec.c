/* SPDX-License-Identifier: MIT */
/* src/txtrec.c — the lexical pieces the TXT-record parsers share. */
#include "txtrec.h"

#include <string.h>

bool txt_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

bool txt_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char txt_to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

void txt_quote(char *dst, size_t size, const char *src, size_t n)
{
	size_t max = size - 4, i;

	if (max > 40)
		max = 40;
	for (i = 0; i < n && i < max; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	if (i < n) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

bool txt_ext_name_valid(const char *s, size_t n)
{
	if (n < 1 || n > 32 || !txt_is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!txt_is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

bool txt_ext_value_valid(const char *s, size_t n)
{
	if (n < 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == '=' || c == ';')
			return false;
	}
	return true;
}

size_t txt_find_version(
    const char *const *records, size_t n, const char *version, const char **found)
{
	size_t len = strlen(version), count = 0;

	*found = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *r = records[i];

		if (r && !strncmp(r, version, len) &&
		    (r[len] == ';' || txt_is_wsp(r[len]) || r[len] == '\0')) {
			count++;
			*found = r;
		}
	}
	return count;
}
