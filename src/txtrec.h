/* SPDX-License-Identifier: MIT */
/* src/txtrec.h — the lexical pieces the TXT-record parsers share (MTA-STS and TLS-RPT use the
 * same "key=value;" grammar, RFC 8461 §3.1 and RFC 8460 §3; SPF quotes records the same way in
 * its messages). ASCII only, independent of the locale. */
#ifndef MX_TXTREC_H
#define MX_TXTREC_H

#include <stdbool.h>
#include <stddef.h>

/* WSP: space or tab. */
bool txt_is_wsp(char c);
/* ALPHA / DIGIT. */
bool txt_is_alnum(char c);
/* ASCII lower case of c. */
char txt_to_lower(char c);

/* Copies at most 40 bytes of src[0..n) into dst (size ≥ 8) for a message, replacing what is
 * not printable ASCII and marking a cut with "...", so a hostile record cannot inject control
 * characters into the output. */
void txt_quote(char *dst, size_t size, const char *src, size_t n);

/* Among a name's TXT records (character-strings joined), those that start with `version`
 * ("v=STSv1", "v=TLSRPTv1") followed by ';', WSP or the end: how many, and in *found the last
 * one (NULL when none). Records of other kinds are ignored, as senders do. */
size_t txt_find_version(
    const char *const *records, size_t n, const char *version, const char **found);

/* ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
bool txt_ext_name_valid(const char *s, size_t n);

/* ext-value: 1*(%x21-3A / %x3C / %x3E-7E) — visible ASCII except "=" and ";". */
bool txt_ext_value_valid(const char *s, size_t n);

#endif
