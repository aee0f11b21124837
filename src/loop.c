/* SPDX-License-Identifier: MIT */
/* src/loop.c — one event loop for DNS and HTTPS. */
#include "loop.h"

int mx_loop_once(
    struct mx_loop *l, const int *extra_fds, int nextra, int timeout_ms, struct mx_err *err)
{
	int fds[16], n = 0, dns_ms, rc;

	for (int i = 0; i < nextra && n < 12; i++)
		fds[n++] = extra_fds[i];
	n += dns_fds(l->dns, fds + n, 16 - n);
	dns_ms = dns_timeout_ms(l->dns);
	if (dns_ms >= 0 && (timeout_ms < 0 || dns_ms < timeout_ms))
		timeout_ms = dns_ms;
	/* curl_multi_wait needs a finite timeout; a second keeps countdowns alive. */
	if (timeout_ms < 0 || timeout_ms > 1000)
		timeout_ms = 1000;
	rc = http_wait(l->http, fds, n, timeout_ms, err);
	if (rc)
		return rc;
	return dns_process(l->dns, err);
}
