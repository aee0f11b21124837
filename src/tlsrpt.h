/* SPDX-License-Identifier: MIT */
/* src/tlsrpt.h — SMTP TLS Reporting (RFC 8460 §3) without I/O: the `_smtp._tls` TXT record. */
#ifndef MX_TLSRPT_H
#define MX_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The `_smtp._tls.<domain>` TXT RRset as senders see it. */
struct tlsrpt_txt {
	size_t nrecords; /* records that start with "v=TLSRPTv1" */
	bool valid;	 /* exactly one such record, syntactically valid, with rua= */
	char **rua;	 /* report URIs (mailto: or https:), in order; NULL unless valid */
	size_t nrua;
	char error[256]; /* "" when valid; else one sentence saying what to fix */
};

/* Parses a TXT RRset: records[i] is one record with its character-strings concatenated.
 * Records that do not start with "v=TLSRPTv1" are ignored, as senders do. A broken record is
 * a result (valid = false, error set), not a failure. Returns MX_OK or MX_ENOMEM; on MX_OK
 * *out is the caller's, to free with tlsrpt_txt_free. */
int tlsrpt_txt_parse(
    const char *const *records, size_t nrecords, struct tlsrpt_txt **out, struct mx_err *err);
void tlsrpt_txt_free(struct tlsrpt_txt *t);

#endif
