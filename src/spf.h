/* SPDX-License-Identifier: MIT */
/* src/spf.h — SPF (RFC 7208) without I/O: finding the domain's SPF record among its apex TXT
 * records, splitting it into terms, and checking that it includes Microsoft's SPF domain. */
#ifndef MX_SPF_H
#define MX_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* One term of the record: a mechanism ("-include:x", "ip4:192.0.2.0/24", "~all") or a
 * modifier ("redirect=x", "exp=x"). */
struct spf_term {
	bool modifier;
	char qualifier; /* mechanisms: '+', '-', '~' or '?' ('+' when omitted); modifiers: 0 */
	char *name;	/* lower-case: "include", "ip4", "all", "redirect", … */
	char *value;	/* text after ':' or '=' ("/24" for "a/24"); "" when none */
};

/* The domain's SPF record as receivers see it. */
struct spf_record {
	size_t nrecords;	/* TXT records that start with "v=spf1" (then space or end) */
	bool valid;		/* exactly one such record and it parses (no permerror) */
	char *text;		/* that record, NULL unless nrecords == 1 */
	struct spf_term *terms; /* terms parsed, in order (up to an error, if any) */
	size_t nterms;
	const char *redirect; /* value of the redirect= modifier (in terms), or NULL */
	int dns_lookups;      /* terms of this record that cost a DNS lookup (limit 10) */
	char error[256];      /* "" when valid; else one sentence saying what to fix */
	char warning[256];    /* "" or one sentence about something to improve */
};

/* Finds and parses the SPF record among a name's TXT records (records[i] with its
 * character-strings concatenated). No record, several records or a syntax error (all
 * permerror or "none" for receivers) are results: valid = false with error set. Returns MX_OK
 * or MX_ENOMEM; on MX_OK *out is the caller's, to free with spf_record_free. */
int spf_parse(
    const char *const *records, size_t nrecords, struct spf_record **out, struct mx_err *err);
void spf_record_free(struct spf_record *r);

/* True when the record itself has an include:<domain> mechanism, with any qualifier (domain
 * compared case-insensitively, trailing dot ignored). Includes reached only through
 * redirect= (or nested includes) do not count: this is a check of the record as published.
 * *qualifier (may be NULL) receives the mechanism's qualifier. */
bool spf_has_include(const struct spf_record *r, const char *domain, char *qualifier);

enum spf_include_state {
	SPF_INCLUDE_PRESENT = 0, /* include:<domain>, qualifier + */
	SPF_INCLUDE_QUALIFIED,	 /* include:<domain> with -, ~ or ?: no pass for its servers */
	SPF_INCLUDE_REDIRECT,	 /* absent here, but redirect= hands over to another record */
	SPF_INCLUDE_MISSING,	 /* a valid record without it */
	SPF_INCLUDE_NO_RECORD,	 /* no SPF record */
	SPF_INCLUDE_INVALID,	 /* several SPF records or a syntax error (permerror) */
};

/* Judges whether mail from domain's servers passes SPF through this record and writes one
 * sentence for the admin into msg (what is wrong and how to fix it, or what was found). */
enum spf_include_state spf_check_include(
    const struct spf_record *r, const char *domain, char *msg, size_t size);

#endif
