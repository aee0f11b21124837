/* SPDX-License-Identifier: MIT */
/* src/http.h — HTTPS for the whole product (MTA-STS policies, provider APIs) through the
 * libcurl multi interface: many transfers in flight, driven by the caller's event loop.
 * TLS verification is never switched off. */
#ifndef MX_HTTP_H
#define MX_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Why a transfer produced no HTTP response. */
enum http_fail {
	HTTP_FAIL_NONE = 0, /* a response arrived (any status) */
	HTTP_FAIL_RESOLVE,  /* host name could not be resolved */
	HTTP_FAIL_CONNECT,  /* TCP connect refused / unreachable */
	HTTP_FAIL_TLS_CERT, /* certificate not valid for the name or not trusted */
	HTTP_FAIL_TLS,	    /* other TLS failure */
	HTTP_FAIL_TIMEOUT,
	HTTP_FAIL_TOO_LARGE, /* body exceeded max_body (status and headers are kept) */
	HTTP_FAIL_OTHER,
};

struct http_request {
	const char *method; /* NULL = "GET" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;	    /* request body or NULL */
	size_t body_len;
	/* Connect to this address instead of resolving the URL's host (CURLOPT_CONNECT_TO; the
	 * host name is still what TLS verifies), e.g. an address our validating resolver
	 * found; NULL lets curl resolve. */
	const char *connect_addr;
	size_t max_body;       /* 0 = 16 MiB */
	long timeout_ms;       /* 0 = 30000 */
	bool follow_redirects; /* false: a 3xx is returned as is */
};

struct http_response {
	long status; /* HTTP status, 0 when fail != NONE before a response */
	enum http_fail fail;
	char error[256]; /* transport error text (curl's), empty when none; no secrets */
	char *body;	 /* NUL-terminated for convenience; len excludes the NUL */
	size_t len;
	char **headers; /* "Name: value" lines of the final response */
	size_t nheaders;
	double seconds; /* total transfer time */
};

/* Case-insensitive lookup of a response header's value (leading spaces trimmed), or NULL.
 * Borrowed until the response is freed. */
const char *http_header(const struct http_response *r, const char *name);
void http_response_free(struct http_response *r);

/* Completion callback; takes ownership of *resp. Called from http_wait, never from
 * http_start. */
typedef void http_cb(void *arg, struct http_response *resp);

struct http_ctx;

/* cacert: CA bundle file used for every request, or NULL for the system CAs. A cacert that
 * cannot be read, or holds no PEM certificate, is MX_EINVAL naming the path (a usage error,
 * found before any request rather than blamed on a web server). */
int http_ctx_new(struct http_ctx **out, const char *cacert, struct mx_err *err);
/* A new context with the CA bundle of like (for another thread: a context is used by one
 * thread at a time). */
int http_ctx_like(struct http_ctx **out, const struct http_ctx *like, struct mx_err *err);
/* Drops transfers still in flight without calling their callbacks. Not from a callback. */
void http_ctx_free(struct http_ctx *c);

/* Starts a transfer; the request is copied, so it may be freed after the call. */
int http_start(
    struct http_ctx *c, const struct http_request *req, http_cb *cb, void *arg, struct mx_err *err);

/* Blocking form: runs until this transfer completes. *out is the caller's. Inside a fiber
 * (src/fiber.h) it does not block its thread: it starts the transfer on c and yields until
 * the transfer has ended; whoever resumes the fiber drives c with http_wait (and must keep
 * doing so, and keep c, until the fiber is done). */
int http_perform(struct http_ctx *c, const struct http_request *req, struct http_response **out,
    struct mx_err *err);

/* Waits up to timeout_ms for activity on curl's sockets or on any of the extra fds (e.g. the
 * DNS fds, the terminal), then advances transfers and runs completion callbacks. */
int http_wait(
    struct http_ctx *c, const int *extra_fds, int nextra, int timeout_ms, struct mx_err *err);

/* One extra descriptor for http_wait_fds: watched for readability; ready tells whether it
 * became readable during the wait. */
struct http_pollfd {
	int fd;
	bool ready;
};

/* Same as http_wait, and reports which of the extra fds became readable (fds[i].ready), so
 * one loop can drive HTTP and, e.g., the DNS fd or the terminal. */
int http_wait_fds(
    struct http_ctx *c, struct http_pollfd *fds, int nfds, int timeout_ms, struct mx_err *err);

/* Number of transfers in flight. */
int http_pending(const struct http_ctx *c);

/* Drops every transfer whose callback argument is arg without calling its callback: the
 * owner of arg is going away. Not from a callback of one of those transfers. */
void http_cancel(struct http_ctx *c, const void *arg);

/* URL-escapes s (caller frees with free()), or NULL on allocation failure. */
char *http_escape(const char *s);

#endif
