/* SPDX-License-Identifier: MIT */
/* src/mtasts_fetch.h — fetching an MTA-STS policy the way sending MTAs do (RFC 8461 §3.3):
 * the HTTPS request (pinned to an address our validating resolver found, no redirects, a
 * 64 KiB limit) and the judgement of the response. Shared by `check` (the domain being
 * moved) and `outbound` (partner domains), so both read a policy by the same rules. */
#ifndef MX_MTASTS_FETCH_H
#define MX_MTASTS_FETCH_H

#include <stddef.h>

#include "http.h"
#include "mtasts.h"

/* Senders refuse a policy body larger than this (RFC 8461 §3.3). */
#define MTASTS_POLICY_MAX 65536

/* Writes the policy URL of domain, https://mta-sts.<domain>/.well-known/mta-sts.txt, into
 * url (≥ 300 bytes), and fills *req to fetch it: connected to connect_addr (an "ip" string,
 * or NULL to let curl resolve), no redirects, at most MTASTS_POLICY_MAX bytes, timeout_ms
 * (0: 10000). req borrows url and connect_addr until http_start has copied them. */
void mtasts_fetch_request(const char *domain, const char *connect_addr, long timeout_ms, char *url,
    size_t urllen, struct http_request *req);

/* How a fetch ended, in the order senders give up. */
enum mtasts_fetch {
	MTASTS_FETCH_OK = 0,	/* 200, text/plain, ≤ 64 KiB: *pol is set (it may be invalid) */
	MTASTS_FETCH_TRANSPORT, /* no response: DNS, connect, TLS or timeout (resp->error) */
	MTASTS_FETCH_CERT,	/* the HTTPS certificate is not valid for mta-sts.<domain> */
	MTASTS_FETCH_TOO_LARGE, /* body over 64 KiB */
	MTASTS_FETCH_REDIRECT,	/* 3xx: senders must not follow it */
	MTASTS_FETCH_STATUS,	/* another status than 200 */
	MTASTS_FETCH_CTYPE,	/* Content-Type is not text/plain */
	MTASTS_FETCH_NOMEM,
};

/* "ok", "transport", "certificate", "too_large", "redirect", "status", "content_type",
 * "nomem". */
const char *mtasts_fetch_name(enum mtasts_fetch f);

/* Judges a response as a sender would. On MTASTS_FETCH_OK *pol is the parsed policy (caller
 * frees with mtasts_policy_free; check pol->valid); otherwise *pol is NULL. */
enum mtasts_fetch mtasts_fetch_judge(const struct http_response *resp, struct mtasts_policy **pol);

#endif
