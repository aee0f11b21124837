/* SPDX-License-Identifier: MIT */
/* src/mtasts_fetch.c — the MTA-STS policy fetch and its judgement, by the rules senders
 * apply (RFC 8461 §3.3). */
#include "mtasts_fetch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void mtasts_fetch_request(const char *domain, const char *connect_addr, long timeout_ms, char *url,
    size_t urllen, struct http_request *req)
{
	snprintf(url, urllen, "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
	memset(req, 0, sizeof(*req));
	req->url = url;
	req->connect_addr = connect_addr && *connect_addr ? connect_addr : NULL;
	/* http.c reports a body over max_body as too large, so "exactly 64 KiB" still passes. */
	req->max_body = MTASTS_POLICY_MAX;
	req->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	req->follow_redirects = false;
}

const char *mtasts_fetch_name(enum mtasts_fetch f)
{
	static const char *const names[] = {
	    [MTASTS_FETCH_OK] = "ok",
	    [MTASTS_FETCH_TRANSPORT] = "transport",
	    [MTASTS_FETCH_CERT] = "certificate",
	    [MTASTS_FETCH_TOO_LARGE] = "too_large",
	    [MTASTS_FETCH_REDIRECT] = "redirect",
	    [MTASTS_FETCH_STATUS] = "status",
	    [MTASTS_FETCH_CTYPE] = "content_type",
	    [MTASTS_FETCH_NOMEM] = "nomem",
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "transport";
}

/* "text/plain", optionally followed by parameters ("; charset=utf-8"). */
static bool is_text_plain(const char *ctype)
{
	return ctype && !strncasecmp(ctype, "text/plain", 10) &&
	       (!ctype[10] || ctype[10] == ';' || ctype[10] == ' ');
}

enum mtasts_fetch mtasts_fetch_judge(const struct http_response *resp, struct mtasts_policy **pol)
{
	*pol = NULL;
	if (resp->fail == HTTP_FAIL_TLS_CERT)
		return MTASTS_FETCH_CERT;
	if (resp->fail != HTTP_FAIL_NONE && resp->fail != HTTP_FAIL_TOO_LARGE)
		return MTASTS_FETCH_TRANSPORT;
	if (resp->fail == HTTP_FAIL_TOO_LARGE)
		return MTASTS_FETCH_TOO_LARGE;
	if (resp->status >= 300 && resp->status < 400)
		return MTASTS_FETCH_REDIRECT;
	if (resp->status != 200)
		return MTASTS_FETCH_STATUS;
	if (!is_text_plain(http_header(resp, "Content-Type")))
		return MTASTS_FETCH_CTYPE;
	if (mtasts_policy_parse(resp->body, resp->len, pol, NULL) != MX_OK || !*pol) {
		*pol = NULL;
		return MTASTS_FETCH_NOMEM;
	}
	return MTASTS_FETCH_OK;
}
