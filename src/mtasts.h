/* SPDX-License-Identifier: MIT */
/* src/mtasts.h — MTA-STS (RFC 8461) without I/O: the _mta-sts TXT record, the policy file,
 * MX pattern matching, and rendering a policy to stage during the cutover. */
#ifndef MX_MTASTS_H
#define MX_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

#define MTASTS_ID_MAX	   32
#define MTASTS_MAX_AGE_MAX 31557600L

/* The _mta-sts TXT RRset as senders see it (RFC 8461 §3.1). */
struct mtasts_txt {
	size_t nrecords;	    /* records that start with "v=STSv1" */
	char id[MTASTS_ID_MAX + 1]; /* the id= value; "" unless valid */
	bool valid;		    /* exactly one such record, syntactically valid */
	char error[256];	    /* "" when valid; else one sentence saying what to fix */
};

/* Parses a TXT RRset: records[i] is one record with its character-strings concatenated.
 * Records that do not start with "v=STSv1" are ignored, as senders do. A broken record is a
 * result (valid = false, error set), not a failure. Returns MX_OK, or MX_ENOMEM.
 * On MX_OK *out is the caller's; free it with mtasts_txt_free. */
int mtasts_txt_parse(
    const char *const *records, size_t nrecords, struct mtasts_txt **out, struct mx_err *err);
void mtasts_txt_free(struct mtasts_txt *t);

enum mtasts_mode {
	MTASTS_MODE_UNSET = 0, /* missing or unrecognised */
	MTASTS_MODE_NONE,
	MTASTS_MODE_TESTING,
	MTASTS_MODE_ENFORCE,
};

/* "none", "testing", "enforce" ("unset" for MTASTS_MODE_UNSET). */
const char *mtasts_mode_name(enum mtasts_mode m);

/* A parsed policy file (RFC 8461 §3.2). */
struct mtasts_policy {
	bool valid; /* false: senders treat the domain as having no policy */
	enum mtasts_mode mode;
	long max_age; /* seconds; -1 when missing or invalid */
	char **mx;    /* mx patterns, lower-case, without trailing dot */
	size_t nmx;
	char **problems; /* why valid is false; one actionable sentence each */
	size_t nproblems;
	char **warnings; /* things senders tolerate but an admin should fix */
	size_t nwarnings;
};

/* Parses a policy body of len bytes (not necessarily NUL-terminated; lines end in LF or
 * CRLF). Unknown fields are ignored; a repeated field other than mx keeps the first value.
 * Returns MX_OK (a broken policy is a result: valid = false, problems set) or MX_ENOMEM.
 * On MX_OK *out is the caller's; free it with mtasts_policy_free. */
int mtasts_policy_parse(
    const char *text, size_t len, struct mtasts_policy **out, struct mx_err *err);
void mtasts_policy_free(struct mtasts_policy *p);

/* RFC 8461 §4.1: does the mx pattern match host? Case-insensitive, trailing dots ignored;
 * "*.example.net" matches exactly one extra leftmost label: "a.example.net", never
 * "example.net" nor "a.b.example.net". */
bool mtasts_mx_match(const char *pattern, const char *host);

/* True when one of the policy's mx patterns matches host. */
bool mtasts_policy_covers(const struct mtasts_policy *p, const char *host);

/* Is s a valid mx pattern ("[*.]domain", RFC 8461 §3.2)? A trailing dot is not allowed. */
bool mtasts_pattern_valid(const char *s);

/* Renders a policy body: version, mode, one mx line per pattern, max_age; CRLF line ends.
 * Mode must not be MTASTS_MODE_UNSET, patterns must be valid, at least one unless mode is
 * none, max_age within 0..31557600. Returns MX_OK with *out the caller's (free with free()),
 * MX_EINVAL with a message, or MX_ENOMEM. */
int mtasts_policy_render(enum mtasts_mode mode, const char *const *patterns, size_t npatterns,
    long max_age, char **out, struct mx_err *err);

/* Writes a fresh id for the _mta-sts TXT record derived from now (UTC), e.g.
 * "20261128T123456": letters and digits only, at most 32 characters. Returns MX_OK or
 * MX_EINVAL when now cannot be represented. */
int mtasts_new_id(time_t now, char out[MTASTS_ID_MAX + 1]);

#endif
