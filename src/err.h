/* SPDX-License-Identifier: MIT */
/* src/err.h — the error module: result codes, one actionable message, exit statuses. */
#ifndef MX_ERR_H
#define MX_ERR_H

#include <stdarg.h>
#include <stdbool.h>

enum mx_rc {
	MX_OK = 0,
	MX_EAGAIN, /* nothing to do now: call again later (not a failure) */
	MX_ENOMEM,
	MX_EINVAL,     /* bad input: usage, config, domain name */
	MX_EIO,	       /* file, socket, database */
	MX_EDNS,       /* resolution failed (SERVFAIL, timeout, no server) */
	MX_EDNSSEC,    /* an answer that had to be secure was not */
	MX_EAUTH,      /* a provider refused our credentials */
	MX_EPROVIDER,  /* a provider failed or answered something unexpected */
	MX_ERATELIMIT, /* a provider asked us to slow down and retries ran out */
	MX_ECONFLICT,  /* the zone changed behind our back (compare-and-swap failed) */
	MX_ELOCKED,    /* another process holds this domain's run lock */
	MX_ECANCELED,  /* the user or a signal stopped the work */
	MX_EGATE,      /* a gate could not be passed (a person's step not done in time) */
	MX_ENOZONE,    /* the provider does not hold the domain's zone (a config error) */
	MX_RC_COUNT
};

/* Exit statuses of the command line (docs/contract.md, section 2). */
enum mx_exit {
	MX_EXIT_OK = 0,
	MX_EXIT_BLOCKED = 1, /* checks found blockers / run stopped at a gate */
	MX_EXIT_USAGE = 2,   /* usage or config error */
	MX_EXIT_RUNTIME = 3, /* DNS, provider, I/O */
	MX_EXIT_LOCKED = 4,  /* another process holds the domain's run lock */
};

struct mx_err {
	enum mx_rc rc;
	int http_status; /* 0 when no HTTP exchange was involved */
	int dns_rcode;	 /* -1 when no DNS answer was involved */
	int retry_after; /* MX_ERATELIMIT: seconds the service asked us to wait; 0 otherwise */
	bool transient;	 /* a passing failure (a server error, a refused or lost connection):
			  * the same request later may well succeed */
	char msg[512];	 /* one full sentence a person can act on; never a secret */
};

/* Records rc and a printf-formatted message in *e (e may be NULL). Returns rc, so a caller
 * can write `return mx_err_set(err, MX_EIO, "...")`. A later call overwrites the message. */
int mx_err_set(struct mx_err *e, enum mx_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mx_err_vset(struct mx_err *e, enum mx_rc rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prefixes the existing message with "prefix: " (keeps rc). Returns e->rc. */
int mx_err_prefix(struct mx_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets *e to "no error". */
void mx_err_clear(struct mx_err *e);

/* Stable lower-case name of a code ("ok", "dns", "conflict", …), for logs and JSON. */
const char *mx_rc_name(enum mx_rc rc);

/* The command-line exit status for a failure with this code. */
enum mx_exit mx_rc_exit(enum mx_rc rc);

#endif
