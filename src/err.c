/* SPDX-License-Identifier: MIT */
/* src/err.c — the error module: result codes, one actionable message, exit statuses. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum mx_exit exit;
} rc_info[MX_RC_COUNT] = {
    [MX_OK] = {"ok", MX_EXIT_OK},
    [MX_EAGAIN] = {"again", MX_EXIT_OK},
    [MX_ENOMEM] = {"nomem", MX_EXIT_RUNTIME},
    [MX_EINVAL] = {"invalid", MX_EXIT_USAGE},
    [MX_EIO] = {"io", MX_EXIT_RUNTIME},
    [MX_EDNS] = {"dns", MX_EXIT_RUNTIME},
    [MX_EDNSSEC] = {"dnssec", MX_EXIT_RUNTIME},
    [MX_EAUTH] = {"auth", MX_EXIT_RUNTIME},
    [MX_EPROVIDER] = {"provider", MX_EXIT_RUNTIME},
    [MX_ERATELIMIT] = {"ratelimit", MX_EXIT_RUNTIME},
    [MX_ECONFLICT] = {"conflict", MX_EXIT_RUNTIME},
    [MX_ELOCKED] = {"locked", MX_EXIT_LOCKED},
    [MX_ECANCELED] = {"canceled", MX_EXIT_RUNTIME},
    [MX_EGATE] = {"gate", MX_EXIT_BLOCKED},
    [MX_ENOZONE] = {"nozone", MX_EXIT_USAGE},
};

int mx_err_vset(struct mx_err *e, enum mx_rc rc, const char *fmt, va_list ap)
{
	if (!e)
		return rc;
	e->rc = rc;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return rc;
}

int mx_err_set(struct mx_err *e, enum mx_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mx_err_vset(e, rc, fmt, ap);
	va_end(ap);
	return rc;
}

int mx_err_prefix(struct mx_err *e, const char *fmt, ...)
{
	char prefix[128], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return MX_OK;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* The message keeps its end when the prefix makes it too long. */
	snprintf(e->msg, sizeof(e->msg), "%.127s: %.382s", prefix, old);
	return e->rc;
}

void mx_err_clear(struct mx_err *e)
{
	if (!e)
		return;
	e->rc = MX_OK;
	e->http_status = 0;
	e->dns_rcode = -1;
	e->retry_after = 0;
	e->transient = false;
	e->msg[0] = '\0';
}

const char *mx_rc_name(enum mx_rc rc)
{
	if ((unsigned)rc >= MX_RC_COUNT)
		return "unknown";
	return rc_info[rc].name;
}

enum mx_exit mx_rc_exit(enum mx_rc rc)
{
	if ((unsigned)rc >= MX_RC_COUNT)
		return MX_EXIT_RUNTIME;
	return rc_info[rc].exit;
}
