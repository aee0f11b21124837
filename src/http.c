/* SPDX-License-Identifier: MIT */
/* src/http.c — HTTPS for the whole product through the libcurl multi interface: transfers run
 * side by side, driven by http_wait from the caller's event loop. The only file that uses
 * libcurl. Request headers may carry API secrets: they are handed to curl and never logged,
 * copied into messages or kept after the transfer. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fiber.h"

#define HTTP_DEFAULT_MAX_BODY	  (16u * 1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS	  30000L
#define HTTP_MAX_IDLE_CONNECTIONS 16
/* A response with more header lines or bytes than this is hostile; the rest are dropped. */
#define HTTP_MAX_HEADERS      256
#define HTTP_MAX_HEADER_BYTES (64u * 1024)

struct http_xfer {
	struct http_ctx *ctx;
	CURL *easy;
	struct curl_slist *req_headers;
	struct curl_slist *resolve;
	struct http_response *resp;
	size_t body_cap;
	size_t max_body;
	size_t header_bytes;
	bool too_large;
	http_cb *cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct http_xfer *prev, *next;
};

struct http_ctx {
	CURLM *multi;
	char *cacert;
	struct http_xfer *xfers;
	int pending;
};

static pthread_once_t http_global_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *http_header(const struct http_response *r, const char *name)
{
	size_t n = strlen(name);

	if (!r)
		return NULL;
	for (size_t i = 0; i < r->nheaders; i++) {
		const char *h = r->headers[i];

		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

static void http_headers_clear(struct http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	http_headers_clear(r);
	free(r->body);
	free(r);
}

/* The CA bundle must be a readable file with at least one PEM certificate (what libcurl's
 * CAINFO takes); checked once, up front. */
static int cacert_check(const char *path, struct mx_err *err)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "re");
	int rc = MX_OK;

	if (!f)
		return mx_err_set(err, MX_EINVAL,
		    "--cacert %s cannot be read (%s); give the path of a PEM CA bundle", path,
		    strerror(errno));
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, begin) != NULL;
	if (ferror(f))
		rc = mx_err_set(err, MX_EINVAL,
		    "--cacert %s cannot be read (%s); give the path of a PEM CA bundle", path,
		    strerror(errno));
	else if (!found)
		rc = mx_err_set(err, MX_EINVAL,
		    "--cacert %s holds no PEM certificate (no \"%s\" line); give the path of a "
		    "PEM CA bundle",
		    path, begin);
	fclose(f);
	return rc;
}

int http_ctx_new(struct http_ctx **out, const char *cacert, struct mx_err *err)
{
	struct http_ctx *c = NULL;
	int rc = MX_OK;

	*out = NULL;
	pthread_once(&http_global_once, http_global_init);
	if (http_global_rc != CURLE_OK) {
		rc = mx_err_set(err, MX_EIO,
		    "libcurl could not be initialised (%s); check the TLS "
		    "library installation",
		    curl_easy_strerror(http_global_rc));
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory creating the HTTP context");
		goto out;
	}
	if (cacert) {
		rc = cacert_check(cacert, err);
		if (rc)
			goto out;
		c->cacert = strdup(cacert);
		if (!c->cacert) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory creating the HTTP context");
			goto out;
		}
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		rc = mx_err_set(err, MX_ENOMEM, "libcurl could not create a multi handle");
		goto out;
	}
	/* Idle connections kept for reuse. By default libcurl keeps four per transfer ever
	 * added, each with its TLS state: thousands of MTA-STS hosts are fetched once each, so
	 * only a few (the provider APIs' hosts) are worth keeping. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_MAX_IDLE_CONNECTIONS);
	*out = c;
	c = NULL;
out:
	http_ctx_free(c);
	return rc;
}

static void http_xfer_free(struct http_xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->req_headers);
	curl_slist_free_all(x->resolve);
	http_response_free(x->resp);
	free(x);
}

static void http_xfer_unlink(struct http_ctx *c, struct http_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		c->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	curl_multi_remove_handle(c->multi, x->easy);
	c->pending--;
}

void http_ctx_free(struct http_ctx *c)
{
	if (!c)
		return;
	while (c->xfers) {
		struct http_xfer *x = c->xfers;

		http_xfer_unlink(c, x);
		http_xfer_free(x);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->cacert);
	free(c);
}

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	struct http_response *r = x->resp;
	size_t n = size * nmemb;

	if (n > x->max_body - r->len) {
		x->too_large = true;
		return 0;
	}
	if (r->len + n + 1 > x->body_cap) {
		size_t cap = x->body_cap ? x->body_cap : 4096;
		char *p;

		while (cap < r->len + n + 1)
			cap *= 2;
		p = realloc(r->body, cap);
		if (!p)
			return 0;
		r->body = p;
		x->body_cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* curl hands over each header line of every response (redirects, 100 Continue, the final
 * one); a status line starts a new response, so only the final response's lines remain. */
static size_t http_on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	struct http_response *r = x->resp;
	size_t n = size * nmemb, len = n;
	char **list, *line;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		http_headers_clear(r);
		x->header_bytes = 0;
		return n;
	}
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (!len || r->nheaders >= HTTP_MAX_HEADERS ||
	    x->header_bytes + len > HTTP_MAX_HEADER_BYTES)
		return n;
	line = strndup(data, len);
	if (!line)
		return 0;
	list = realloc(r->headers, (r->nheaders + 1) * sizeof(*list));
	if (!list) {
		free(line);
		return 0;
	}
	r->headers = list;
	r->headers[r->nheaders++] = line;
	x->header_bytes += len;
	return n;
}

/* "host:port:addr:port" for CURLOPT_CONNECT_TO, from the URL's host and (default) port.
 * Not CURLOPT_RESOLVE: its entries stay in the multi handle's DNS cache for good, one per
 * MTA-STS host ever fetched, so memory would grow with the number of domains checked. */
static int http_resolve_entry(
    const char *url, const char *addr, struct curl_slist **out, struct mx_err *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *entry = NULL;
	struct curl_slist *list;
	bool bracket;
	size_t hlen;
	int rc = MX_OK;

	if (!u) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing a URL");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		rc = mx_err_set(
		    err, MX_EINVAL, "the URL %.120s is not valid; check its spelling", url);
		goto out;
	}
	/* curl keeps the brackets of an IPv6 literal host; an IPv6 address needs them too. */
	bracket = strchr(addr, ':') && addr[0] != '[';
	hlen = strlen(host) + 2 * strlen(port) + strlen(addr) + 6;
	entry = malloc(hlen);
	if (!entry) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing a URL");
		goto out;
	}
	snprintf(entry, hlen, "%s:%s:%s%s%s:%s", host, port, bracket ? "[" : "", addr,
	    bracket ? "]" : "", port);
	list = curl_slist_append(*out, entry);
	if (!list) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory parsing a URL");
		goto out;
	}
	*out = list;
out:
	free(entry);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static int http_xfer_setup(
    struct http_ctx *c, struct http_xfer *x, const struct http_request *req, struct mx_err *err)
{
	const char *method = req->method ? req->method : "GET";
	bool is_https = strncasecmp(req->url, "https:", 6) == 0;
	int rc = MX_OK;
	CURLcode cc = CURLE_OK;
	CURL *e = x->easy;

	if (req->headers) {
		for (const char *const *h = req->headers; *h; h++) {
			struct curl_slist *l = curl_slist_append(x->req_headers, *h);

			if (!l) {
				rc = mx_err_set(err, MX_ENOMEM, "out of memory starting a request");
				goto out;
			}
			x->req_headers = l;
		}
	}
	if (req->connect_addr) {
		rc = http_resolve_entry(req->url, req->connect_addr, &x->resolve, err);
		if (rc != MX_OK)
			goto out;
	}

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (cc == CURLE_OK)                                                                \
			cc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->cacert)
		SET(CURLOPT_CAINFO, c->cacert);
	/* The bundle alone (--cacert, else the system's bundle file), no CA directory beside it:
	 * then libcurl parses the bundle once and keeps the store in the multi handle
	 * (CURLOPT_CA_CACHE_TIMEOUT). With a directory set, as Debian's libcurl does by default,
	 * it reads and parses the whole file again for every connection: in a profile of many
	 * MTA-STS fetches that was the largest part of the TLS cost. */
	SET(CURLOPT_CAPATH, NULL);
	SET(CURLOPT_USERAGENT, "mxcutover/" MX_VERSION);
	SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
	SET(CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
	if (req->follow_redirects) {
		SET(CURLOPT_MAXREDIRS, 5L);
		/* Never downgrade from https to plain http on a redirect. */
		SET(CURLOPT_REDIR_PROTOCOLS_STR, is_https ? "https" : "http,https");
	}
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
	SET(CURLOPT_WRITEFUNCTION, http_on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, http_on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_PRIVATE, x);
	if (x->req_headers)
		SET(CURLOPT_HTTPHEADER, x->req_headers);
	if (x->resolve)
		SET(CURLOPT_CONNECT_TO, x->resolve);

	if (strcmp(method, "GET") == 0 && !req->body) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (req->body || strcmp(method, "POST") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(req->body ? req->body_len : 0));
			SET(CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		}
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
		/* libcurl sends a request again, unasked, when a reused connection dies before
		 * the answer: for a write whose answer was lost, that is a blind replay (a second
		 * record created). A fresh connection is never retried that way; the caller
		 * reconciles by reading. */
		SET(CURLOPT_FRESH_CONNECT, 1L);
	}
#undef SET
	if (cc != CURLE_OK)
		rc = mx_err_set(err, cc == CURLE_OUT_OF_MEMORY ? MX_ENOMEM : MX_EINVAL,
		    "libcurl refused a request option (%s); this build of libcurl may be too old "
		    "(7.85 or later is needed)",
		    curl_easy_strerror(cc));
out:
	return rc;
}

int http_start(
    struct http_ctx *c, const struct http_request *req, http_cb *cb, void *arg, struct mx_err *err)
{
	struct http_xfer *x = NULL;
	int rc = MX_OK;

	if (!req || !req->url || !cb) {
		rc = mx_err_set(err, MX_EINVAL, "an HTTP request needs a URL and a callback");
		goto out;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->resp = calloc(1, sizeof(*x->resp))) || !(x->easy = curl_easy_init())) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory starting a request");
		goto out;
	}
	x->ctx = c;
	x->cb = cb;
	x->arg = arg;
	x->max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	rc = http_xfer_setup(c, x, req, err);
	if (rc != MX_OK)
		goto out;
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
		rc = mx_err_set(err, MX_EIO, "libcurl could not queue the request");
		goto out;
	}
	x->next = c->xfers;
	if (c->xfers)
		c->xfers->prev = x;
	c->xfers = x;
	c->pending++;
	x = NULL;
out:
	http_xfer_free(x);
	return rc;
}

static enum http_fail http_map_fail(CURLcode cc, bool too_large)
{
	switch (cc) {
	case CURLE_OK:
		return HTTP_FAIL_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_FAIL_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return HTTP_FAIL_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return HTTP_FAIL_TLS_CERT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return HTTP_FAIL_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_FAIL_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_FAIL_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return too_large ? HTTP_FAIL_TOO_LARGE : HTTP_FAIL_OTHER;
	default:
		return HTTP_FAIL_OTHER;
	}
}

/* Completes finished transfers: fills in the response and hands it to the callback. A
 * callback may start new transfers; they are picked up by the next curl_multi_perform. */
static int http_drain(struct http_ctx *c)
{
	struct CURLMsg *m;
	int left, completed = 0;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct http_xfer *x = NULL;
		struct http_response *r;
		http_cb *cb;
		void *arg;
		CURLcode cc;
		double secs = 0;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		cc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		r = x->resp;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
		r->status = status;
		r->seconds = secs;
		r->fail = http_map_fail(cc, x->too_large);
		if (r->fail == HTTP_FAIL_TOO_LARGE)
			snprintf(r->error, sizeof(r->error),
			    "the response body is larger than the limit of %zu bytes", x->max_body);
		else if (cc != CURLE_OK)
			snprintf(r->error, sizeof(r->error), "%s",
			    x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
		if (!r->body)
			r->body = calloc(1, 1); /* NULL stays possible only on ENOMEM */
		cb = x->cb;
		arg = x->arg;
		http_xfer_unlink(c, x);
		x->resp = NULL;
		/* The request headers (possibly secrets) go with the handle before the callback. */
		http_xfer_free(x);
		completed++;
		cb(arg, r);
	}
	return completed;
}

static int http_perform_multi(struct http_ctx *c, int *completed, struct mx_err *err)
{
	int running;
	CURLMcode mc = curl_multi_perform(c->multi, &running);

	if (mc != CURLM_OK)
		return mx_err_set(err, MX_EIO, "libcurl failed to advance transfers (%s)",
		    curl_multi_strerror(mc));
	*completed = http_drain(c);
	return MX_OK;
}

int http_wait_fds(
    struct http_ctx *c, struct http_pollfd *fds, int nfds, int timeout_ms, struct mx_err *err)
{
	struct curl_waitfd stack_wfd[16], *wfd = stack_wfd;
	CURLMcode mc;
	int rc = MX_OK, n = 0, completed = 0;

	if (nfds < 0)
		nfds = 0;
	if (nfds > (int)(sizeof(stack_wfd) / sizeof(stack_wfd[0]))) {
		wfd = calloc((size_t)nfds, sizeof(*wfd));
		if (!wfd) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory waiting for HTTP transfers");
			goto out;
		}
	}
	for (int i = 0; i < nfds; i++) {
		fds[i].ready = false;
		wfd[i] = (struct curl_waitfd){.fd = fds[i].fd, .events = CURL_WAIT_POLLIN};
	}
	/* Start transfers queued since the last call, so their sockets take part in the poll. */
	rc = http_perform_multi(c, &completed, err);
	if (rc != MX_OK)
		goto out;
	/* Progress was made (a callback ran): report the fds' state, but do not sleep. */
	if (completed || timeout_ms < 0)
		timeout_ms = 0;
	mc = curl_multi_poll(c->multi, nfds ? wfd : NULL, (unsigned)nfds, timeout_ms, &n);
	if (mc != CURLM_OK) {
		rc = mx_err_set(
		    err, MX_EIO, "waiting for HTTP transfers failed (%s)", curl_multi_strerror(mc));
		goto out;
	}
	for (int i = 0; i < nfds; i++)
		fds[i].ready = wfd[i].revents != 0;
	rc = http_perform_multi(c, &completed, err);
out:
	if (wfd != stack_wfd)
		free(wfd);
	return rc;
}

int http_wait(
    struct http_ctx *c, const int *extra_fds, int nextra, int timeout_ms, struct mx_err *err)
{
	struct http_pollfd stack_fds[16], *fds = stack_fds;
	int rc;

	if (nextra < 0 || !extra_fds)
		nextra = 0;
	if (nextra > (int)(sizeof(stack_fds) / sizeof(stack_fds[0]))) {
		fds = calloc((size_t)nextra, sizeof(*fds));
		if (!fds)
			return mx_err_set(
			    err, MX_ENOMEM, "out of memory waiting for HTTP transfers");
	}
	for (int i = 0; i < nextra; i++)
		fds[i] = (struct http_pollfd){.fd = extra_fds[i]};
	rc = http_wait_fds(c, fds, nextra, timeout_ms, err);
	if (fds != stack_fds)
		free(fds);
	return rc;
}

int http_ctx_like(struct http_ctx **out, const struct http_ctx *like, struct mx_err *err)
{
	return http_ctx_new(out, like ? like->cacert : NULL, err);
}

void http_cancel(struct http_ctx *c, const void *arg)
{
	if (!c)
		return;
	for (struct http_xfer *x = c->xfers, *next; x; x = next) {
		next = x->next;
		if (x->arg == arg) {
			http_xfer_unlink(c, x);
			http_xfer_free(x);
		}
	}
}

int http_pending(const struct http_ctx *c)
{
	return c ? c->pending : 0;
}

struct http_sync {
	struct http_response *resp;
	bool done;
	struct mx_fiber *fiber; /* the fiber that waits, or NULL: http_perform drives c */
};

static void http_sync_done(void *arg, struct http_response *resp)
{
	struct http_sync *s = arg;

	s->resp = resp;
	s->done = true;
	mx_fiber_wake(s->fiber);
}

int http_perform(struct http_ctx *c, const struct http_request *req, struct http_response **out,
    struct mx_err *err)
{
	struct http_sync sync = {.fiber = mx_fiber_current()};
	int rc;

	*out = NULL;
	if (mx_fiber_cancelled())
		return mx_err_set(err, MX_EIO,
		    "the request to %.200s was not sent: the call was stopped",
		    req && req->url ? req->url : "-");
	rc = http_start(c, req, http_sync_done, &sync, err);
	if (rc != MX_OK)
		goto out;
	while (!sync.done) {
		/* In a fiber, the loop that owns c drives the transfer and resumes us. */
		if (sync.fiber && mx_fiber_cancelled()) {
			http_cancel(c, &sync);
			rc = mx_err_set(err, MX_EIO,
			    "the request to %.200s was stopped: the call was stopped", req->url);
			goto out;
		}
		if (sync.fiber) {
			mx_fiber_yield();
			continue;
		}
		rc = http_wait(c, NULL, 0, 1000, err);
		if (rc != MX_OK)
			goto out;
	}
	if (!sync.resp) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory receiving an HTTP response");
		goto out;
	}
	*out = sync.resp;
	sync.resp = NULL;
out:
	return rc;
}

char *http_escape(const char *s)
{
	char *e, *copy;

	if (!s)
		return NULL;
	pthread_once(&http_global_once, http_global_init);
	e = curl_easy_escape(NULL, s, (int)strlen(s));
	if (!e)
		return NULL;
	/* Callers free with free(), not curl_free(). */
	copy = strdup(e);
	curl_free(e);
	return copy;
}
