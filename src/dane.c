/* SPDX-License-Identifier: MIT */
/* src/dane.c — SMTP DANE on the wire: STARTTLS probes verified by OpenSSL's DANE code.
 *
 * Each address of a host is one connection, a small state machine on a non-blocking socket:
 * connect → 220 banner → EHLO → STARTTLS → TLS handshake → QUIT. Every socket is registered
 * with one epoll descriptor, which is what the caller polls; each state has a deadline, and
 * the whole connection a budget, so a silent host costs bounded time and hundreds of probes
 * run side by side. The handshake runs with SSL_VERIFY_NONE so that it completes even when
 * DANE fails: the verdict is read afterwards from the verify result and the matched TLSA
 * record, and the certificate's facts (expiry, chain) are reported either way. The TLS
 * context holds no CA store: DANE trust comes from the TLSA records alone (RFC 7672). */
#include "dane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DANE_DEFAULT_CONNECT_MS 5000
#define DANE_DEFAULT_IO_MS	10000
#define DANE_DEFAULT_BUDGET_MS	30000
/* Well below the usual 1024-descriptor limit, and plenty for loopback and the Internet. */
#define DANE_DEFAULT_PARALLEL 256
/* An SMTP reply longer than this is hostile or broken; EHLO replies are a few hundred bytes. */
#define DANE_REPLY_MAX 8192

enum conn_state {
	ST_CONNECT = 0,
	ST_BANNER,
	ST_EHLO,
	ST_STARTTLS,
	ST_HANDSHAKE,
	ST_DONE,
	ST_QUEUED, /* waiting for a free connection slot (dane_opts.max_parallel) */
};

struct dane_probe;

struct dane_conn {
	struct dane_probe *p;
	struct dane_addr_result *res;
	int fd;
	SSL *ssl;
	enum conn_state st;
	uint32_t events; /* registered epoll events, 0 when not registered */
	int64_t started, deadline, budget_end;
	char in[DANE_REPLY_MAX];
	size_t inlen;
	char out[600];
	size_t outlen, outoff;
	bool eof;	/* the server closed its side; what it sent before still counts */
	int read_errno; /* a read error, 0 when none */
};

struct dane_tlsa_rec {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct dane_probe {
	struct dane_ctx *ctx;
	struct dane_result *res;
	struct dane_tlsa_rec *tlsa; /* usable records only */
	size_t ntlsa;
	struct dane_conn *conns;
	size_t nconn, open;
	dane_cb *cb;
	void *arg;
	struct dane_probe *prev, *next;
};

struct dane_ctx {
	struct dane_opts o;
	char helo[256];
	int ep;
	SSL_CTX *ssl_ctx;
	X509_STORE *pkix_store;
	struct dane_probe *probes;
	struct dane_probe *finished; /* callbacks to run */
	int pending;
	int active; /* connections started and not done */
	int queued; /* connections waiting for a slot */
};

const char *dane_probe_name(enum dane_probe_status s)
{
	static const char *const names[] = {
	    "verified", "mismatch", "no-starttls", "unreachable", "skipped"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "skipped";
}

bool dane_tlsa_usable(unsigned usage, unsigned selector, unsigned mtype)
{
	return (usage == 2 || usage == 3) && selector <= 1 && mtype <= 2;
}

size_t dane_tlsa_count_usable(const struct dns_answer *tlsa)
{
	size_t n = 0;

	for (size_t i = 0; tlsa && i < tlsa->n; i++) {
		const struct dns_rr *rr = &tlsa->rr[i];

		if (rr->type == DNS_T_TLSA &&
		    dane_tlsa_usable(rr->u.tlsa.usage, rr->u.tlsa.selector, rr->u.tlsa.mtype))
			n++;
	}
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- results ---- */

void dane_result_free(struct dane_result *r)
{
	if (!r)
		return;
	free(r->addr);
	free(r);
}

/* The host's status is the worst of its addresses: one address that fails is enough for a
 * DANE sender to defer some of the mail, one that cannot be tested cannot be vouched for. */
static enum dane_probe_status worst_status(const struct dane_result *r)
{
	static const int rank[] = {[DANE_PROBE_MISMATCH] = 0,
	    [DANE_PROBE_NO_STARTTLS] = 1,
	    [DANE_PROBE_UNREACHABLE] = 2,
	    [DANE_PROBE_VERIFIED] = 3,
	    [DANE_PROBE_SKIPPED] = 4};
	enum dane_probe_status worst = DANE_PROBE_SKIPPED;

	for (size_t i = 0; i < r->naddr; i++)
		if (rank[r->addr[i].status] < rank[worst])
			worst = r->addr[i].status;
	return worst;
}

json_t *dane_result_json(const struct dane_result *r)
{
	json_t *o = json_object(), *addrs = json_array();

	json_object_set_new(o, "host", json_string(r->host));
	json_object_set_new(o, "probe", json_string(dane_probe_name(r->status)));
	json_object_set_new(o, "usable_tlsa", json_integer((json_int_t)r->nusable));
	json_object_set_new(o, "rollover_ready", json_boolean(r->rollover_ready));
	for (size_t i = 0; i < r->naddr; i++) {
		const struct dane_addr_result *a = &r->addr[i];
		json_t *ao = json_object();

		json_object_set_new(ao, "address", json_string(a->addr));
		json_object_set_new(ao, "probe", json_string(dane_probe_name(a->status)));
		json_object_set_new(ao, "connected", json_boolean(a->connected));
		json_object_set_new(ao, "starttls", json_boolean(a->starttls));
		json_object_set_new(ao, "tls", json_boolean(a->tls));
		json_object_set_new(ao, "tls_version", json_string(a->tls_version));
		json_object_set_new(ao, "verified", json_boolean(a->verified));
		if (a->usage >= 0)
			json_object_set_new(ao, "matched",
			    json_pack("{s:i,s:i,s:i,s:i}", "usage", a->usage, "selector",
				a->selector, "matching_type", a->mtype, "depth", a->depth));
		else
			json_object_set_new(ao, "matched", json_null());
		json_object_set_new(
		    ao, "days_left", a->have_cert ? json_integer(a->days_left) : json_null());
		json_object_set_new(ao, "not_after", json_string(a->not_after));
		if (a->pkix_checked) {
			json_object_set_new(ao, "pkix_valid", json_boolean(a->pkix_valid));
			if (!a->pkix_valid)
				json_object_set_new(ao, "pkix_error", json_string(a->pkix_error));
		}
		json_object_set_new(ao, "error", json_string(a->error));
		json_object_set_new(ao, "ms", json_integer(a->ms));
		json_array_append_new(addrs, ao);
	}
	json_object_set_new(o, "addresses", addrs);
	return o;
}

/* ---- the context ---- */

static void openssl_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no further detail");
	ERR_clear_error();
}

int dane_ctx_new(struct dane_ctx **out, const struct dane_opts *o, struct mx_err *err)
{
	struct dane_ctx *c = calloc(1, sizeof(*c));
	char why[200];
	int rc = MX_OK;

	*out = NULL;
	if (!c)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	c->ep = -1;
	if (o)
		c->o = *o;
	c->o.cafile = NULL; /* read below, not kept */
	if (c->o.port <= 0 || c->o.port > 65535)
		c->o.port = 25;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = DANE_DEFAULT_CONNECT_MS;
	if (c->o.io_timeout_ms <= 0)
		c->o.io_timeout_ms = DANE_DEFAULT_IO_MS;
	if (c->o.budget_ms <= 0)
		c->o.budget_ms = DANE_DEFAULT_BUDGET_MS;
	if (c->o.max_parallel <= 0)
		c->o.max_parallel = DANE_DEFAULT_PARALLEL;
	if (o && o->helo_name && *o->helo_name)
		snprintf(c->helo, sizeof(c->helo), "%s", o->helo_name);
	else if (gethostname(c->helo, sizeof(c->helo) - 1) != 0 || !strchr(c->helo, '.'))
		snprintf(c->helo, sizeof(c->helo), "localhost");
	c->o.helo_name = NULL;

	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0) {
		rc = mx_err_set(err, MX_EIO, "cannot create the descriptor for SMTP probes (%s)",
		    strerror(errno));
		goto out;
	}
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ssl_ctx || SSL_CTX_dane_enable(c->ssl_ctx) <= 0) {
		openssl_error(why, sizeof(why));
		rc = mx_err_set(
		    err, MX_EIO, "cannot set up TLS with DANE for SMTP probes (%s)", why);
		goto out;
	}
	/* RFC 7672 §3.2.3: DANE-EE(3) authenticates the key alone; names do not matter. */
	SSL_CTX_dane_set_flags(c->ssl_ctx, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
	if (o && o->pkix) {
		c->pkix_store = X509_STORE_new();
		if (!c->pkix_store) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		if (o->cafile ? X509_STORE_load_file(c->pkix_store, o->cafile) != 1
			      : X509_STORE_set_default_paths(c->pkix_store) != 1) {
			openssl_error(why, sizeof(why));
			rc = mx_err_set(err, MX_EINVAL,
			    "cannot load the CA bundle %s for the certificate check (%s); name a "
			    "PEM file with --cacert",
			    o->cafile ? o->cafile : "(system default)", why);
			goto out;
		}
	}
out:
	if (rc)
		dane_ctx_free(c);
	else
		*out = c;
	return rc;
}

static void conn_close(struct dane_conn *k)
{
	if (k->ssl) {
		SSL_free(k->ssl);
		k->ssl = NULL;
	}
	if (k->fd >= 0) {
		/* close() also drops the descriptor from the epoll set. */
		close(k->fd);
		k->fd = -1;
	}
	k->events = 0;
}

static void probe_free(struct dane_probe *p)
{
	for (size_t i = 0; i < p->nconn; i++)
		conn_close(&p->conns[i]);
	for (size_t i = 0; i < p->ntlsa; i++)
		free(p->tlsa[i].data);
	free(p->tlsa);
	free(p->conns);
	dane_result_free(p->res);
	free(p);
}

void dane_ctx_free(struct dane_ctx *c)
{
	struct dane_probe *p, *next;

	if (!c)
		return;
	for (p = c->probes; p; p = next) {
		next = p->next;
		probe_free(p);
	}
	for (p = c->finished; p; p = next) {
		next = p->next;
		probe_free(p);
	}
	if (c->ep >= 0)
		close(c->ep);
	SSL_CTX_free(c->ssl_ctx);
	X509_STORE_free(c->pkix_store);
	free(c);
}

int dane_fd(const struct dane_ctx *c)
{
	return c ? c->ep : -1;
}

int dane_pending(const struct dane_ctx *c)
{
	return c ? c->pending : 0;
}

/* ---- one connection ---- */

static void conn_watch(struct dane_conn *k, uint32_t events)
{
	struct epoll_event ev;

	if (k->fd < 0 || k->events == events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = k;
	if (epoll_ctl(k->p->ctx->ep, k->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, k->fd, &ev) == 0)
		k->events = events;
}

static void probe_conn_done(struct dane_probe *p);

static void conn_finish(struct dane_conn *k, enum dane_probe_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_finish(struct dane_conn *k, enum dane_probe_status st, const char *fmt, ...)
{
	va_list ap;

	if (k->st == ST_DONE)
		return;
	if (k->st != ST_QUEUED)
		k->p->ctx->active--;
	k->res->status = st;
	k->res->verified = st == DANE_PROBE_VERIFIED;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(k->res->error, sizeof(k->res->error), fmt, ap);
		va_end(ap);
	}
	k->res->ms = (long)(now_ms() - k->started);
	k->st = ST_DONE;
	conn_close(k);
	probe_conn_done(k->p);
}

static const char *state_what(enum conn_state st)
{
	switch (st) {
	case ST_BANNER:
		return "its greeting";
	case ST_EHLO:
		return "the EHLO reply";
	case ST_STARTTLS:
		return "the STARTTLS reply";
	case ST_HANDSHAKE:
		return "the TLS handshake";
	default:
		return "the connection";
	}
}

/* Queues an SMTP command and tries to send it; a short command normally leaves at once. */
static int conn_send(struct dane_conn *k, const char *line)
{
	ssize_t w;

	k->outlen = (size_t)snprintf(k->out, sizeof(k->out), "%s\r\n", line);
	k->outoff = 0;
	while (k->outoff < k->outlen) {
		w = send(k->fd, k->out + k->outoff, k->outlen - k->outoff, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
			return -1;
		k->outoff += (size_t)w;
	}
	return 0;
}

/* Finds a complete SMTP reply at the start of k->in: returns its code and the length of the
 * reply (through the final "ddd " line), 0 when more bytes are needed, -1 when malformed. */
static int reply_complete(const char *buf, size_t len, int *code, size_t *end)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t linelen;

		if (!nl)
			return 0;
		linelen = (size_t)(nl - (buf + pos));
		if (linelen < 3 || buf[pos] < '2' || buf[pos] > '5' || buf[pos + 1] < '0' ||
		    buf[pos + 1] > '9' || buf[pos + 2] < '0' || buf[pos + 2] > '9')
			return -1;
		if (linelen == 3 || buf[pos + 3] == ' ' || buf[pos + 3] == '\r') {
			*code = (buf[pos] - '0') * 100 + (buf[pos + 1] - '0') * 10 +
				(buf[pos + 2] - '0');
			*end = (size_t)(nl - buf) + 1;
			return 1;
		}
		if (buf[pos + 3] != '-')
			return -1;
		pos = (size_t)(nl - buf) + 1;
	}
	return 0;
}

/* True when an EHLO reply lists the STARTTLS keyword (RFC 3207) on one of its lines. */
static bool reply_has_starttls(const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len, n;

		if (end > pos + 4) {
			n = end - (pos + 4);
			while (n && (buf[pos + 4 + n - 1] == '\r' || buf[pos + 4 + n - 1] == ' '))
				n--;
			if (n == 8 && !strncasecmp(buf + pos + 4, "STARTTLS", 8))
				return true;
		}
		pos = end + 1;
	}
	return false;
}

/* The first line of a reply, printable, for messages. */
static void reply_text(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < len && i + 1 < outlen && buf[i] != '\r' && buf[i] != '\n'; i++)
		out[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	out[i] = '\0';
}

static void conn_set_state(struct dane_conn *k, enum conn_state st)
{
	const struct dane_opts *o = &k->p->ctx->o;
	int64_t d = now_ms() + o->io_timeout_ms;

	k->st = st;
	k->deadline = d < k->budget_end ? d : k->budget_end;
}

static void cert_facts(struct dane_conn *k)
{
	struct dane_addr_result *r = k->res;
	X509 *leaf = SSL_get0_peer_certificate(k->ssl);
	const ASN1_TIME *na;
	struct tm tm;
	int days = 0, secs = 0;

	if (!leaf)
		return;
	na = X509_get0_notAfter(leaf);
	if (na && ASN1_TIME_diff(&days, &secs, NULL, na)) {
		r->have_cert = true;
		r->days_left = days;
	}
	if (na && ASN1_TIME_to_tm(na, &tm))
		strftime(r->not_after, sizeof(r->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The chain as an MTA-STS sender judges it (RFC 8461 §4.2): trusted by the CA store, valid
 * now, and valid for the MX host name. */
static void pkix_check(struct dane_conn *k)
{
	struct dane_ctx *c = k->p->ctx;
	struct dane_addr_result *r = k->res;
	X509 *leaf = SSL_get0_peer_certificate(k->ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(k->ssl);
	X509_STORE_CTX *sc;

	if (!c->pkix_store || !leaf)
		return;
	sc = X509_STORE_CTX_new();
	if (!sc || X509_STORE_CTX_init(sc, c->pkix_store, leaf, chain) != 1) {
		X509_STORE_CTX_free(sc);
		return;
	}
	X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set_hostflags(
	    X509_STORE_CTX_get0_param(sc), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(sc), k->p->res->host, 0);
	r->pkix_checked = true;
	r->pkix_valid = X509_verify_cert(sc) == 1;
	if (!r->pkix_valid)
		snprintf(r->pkix_error, sizeof(r->pkix_error), "%s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
}

/* After the handshake: the DANE verdict, with a reason a person can act on. */
static void conn_judge(struct dane_conn *k)
{
	struct dane_probe *p = k->p;
	struct dane_addr_result *r = k->res;
	uint8_t usage = 0, selector = 0, mtype = 0;
	unsigned const char *data = NULL;
	size_t dlen = 0;
	long vr;
	int depth;
	STACK_OF(X509) * chain;
	bool only_ta = true;

	r->tls = true;
	snprintf(r->tls_version, sizeof(r->tls_version), "%s", SSL_get_version(k->ssl));
	cert_facts(k);
	pkix_check(k);
	/* A polite end; the verdict does not depend on the reply. */
	SSL_write(k->ssl, "QUIT\r\n", 6);
	ERR_clear_error();
	if (!p->ntlsa) {
		conn_finish(k, DANE_PROBE_SKIPPED, "no usable TLSA record to verify against");
		return;
	}
	vr = SSL_get_verify_result(k->ssl);
	depth = SSL_get0_dane_tlsa(k->ssl, &usage, &selector, &mtype, &data, &dlen);
	if (vr == X509_V_OK && depth >= 0) {
		r->usage = usage;
		r->selector = selector;
		r->mtype = mtype;
		r->depth = depth;
		conn_finish(k, DANE_PROBE_VERIFIED, NULL);
		return;
	}
	for (size_t i = 0; i < p->ntlsa; i++)
		if (p->tlsa[i].usage != 2)
			only_ta = false;
	chain = SSL_get_peer_cert_chain(k->ssl);
	if (vr == X509_V_ERR_CERT_HAS_EXPIRED)
		conn_finish(k, DANE_PROBE_MISMATCH,
		    "the certificate expired on %s; with DANE-TA(2) records the chain must be "
		    "valid now: renew the certificate",
		    r->not_after[0] ? r->not_after : "an earlier date");
	else if (vr == X509_V_ERR_HOSTNAME_MISMATCH)
		conn_finish(k, DANE_PROBE_MISMATCH,
		    "the certificate is not valid for %s; with DANE-TA(2) records the name must "
		    "match the MX host",
		    p->res->host);
	else if (only_ta && chain && sk_X509_num(chain) < 2)
		conn_finish(k, DANE_PROBE_MISMATCH,
		    "the server sends only its own certificate, but the DANE-TA(2) record names "
		    "an issuer: the server must send the trust-anchor certificate in its chain "
		    "(RFC 7672 §3.2.2)");
	else
		conn_finish(k, DANE_PROBE_MISMATCH,
		    "the TLSA record does not match the certificate the server presents (%s): "
		    "DANE senders will defer mail",
		    X509_verify_cert_error_string(vr));
}

static void conn_handshake(struct dane_conn *k)
{
	char why[200];
	int r, e;

	ERR_clear_error();
	r = SSL_connect(k->ssl);
	if (r == 1) {
		conn_judge(k);
		return;
	}
	e = SSL_get_error(k->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		conn_watch(k, EPOLLIN);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		conn_watch(k, EPOLLOUT);
		return;
	}
	openssl_error(why, sizeof(why));
	if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		snprintf(why, sizeof(why), "the server closed the connection");
	/* A sender that requires TLS cannot deliver either: count it as a failure on the wire. */
	conn_finish(k, DANE_PROBE_MISMATCH,
	    "the TLS handshake after STARTTLS failed (%s): DANE senders will defer mail", why);
}

static void conn_start_tls(struct dane_conn *k)
{
	struct dane_probe *p = k->p;
	const char *host = p->res->host;
	char why[200];

	k->ssl = SSL_new(p->ctx->ssl_ctx);
	if (!k->ssl || SSL_set_fd(k->ssl, k->fd) != 1 ||
	    SSL_set_tlsext_host_name(k->ssl, host) != 1) {
		openssl_error(why, sizeof(why));
		conn_finish(k, DANE_PROBE_SKIPPED, "TLS could not be set up (%s)", why);
		return;
	}
	if (p->ntlsa) {
		/* SSL_dane_enable also makes host the reference identifier for DANE-TA(2). */
		if (SSL_dane_enable(k->ssl, host) <= 0) {
			openssl_error(why, sizeof(why));
			conn_finish(k, DANE_PROBE_SKIPPED, "DANE could not be enabled (%s)", why);
			return;
		}
		SSL_set_hostflags(k->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(k->ssl, host);
		for (size_t i = 0; i < p->ntlsa; i++)
			SSL_dane_tlsa_add(k->ssl, p->tlsa[i].usage, p->tlsa[i].selector,
			    p->tlsa[i].mtype, p->tlsa[i].data, p->tlsa[i].len);
		ERR_clear_error();
	}
	conn_set_state(k, ST_HANDSHAKE);
	conn_handshake(k);
}

/* Reads what is there. End of stream or a read error is noted (k->eof): a server that
 * answers "554 go away" and hangs up must be reported with its reply. Returns false (and
 * finishes the connection) only when the buffer overflows. */
static bool conn_read(struct dane_conn *k)
{
	ssize_t n;

	while (!k->eof) {
		if (k->inlen >= sizeof(k->in)) {
			conn_finish(k, DANE_PROBE_UNREACHABLE,
			    "the server sent an SMTP reply longer than %zu bytes; not verifiable",
			    sizeof(k->in));
			return false;
		}
		n = recv(k->fd, k->in + k->inlen, sizeof(k->in) - k->inlen, 0);
		if (n > 0) {
			k->inlen += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0 && errno == EINTR)
			continue;
		k->eof = true;
		k->read_errno = n < 0 ? errno : 0;
	}
	return true;
}

static void conn_plain(struct dane_conn *k)
{
	char text[160];
	size_t end = 0;
	int code = 0, got;

	if (k->outoff < k->outlen) {
		ssize_t w = send(k->fd, k->out + k->outoff, k->outlen - k->outoff, MSG_NOSIGNAL);

		if (w > 0)
			k->outoff += (size_t)w;
		else if (!(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
			conn_finish(k, DANE_PROBE_UNREACHABLE,
			    "the connection broke while sending to the server (%s)",
			    strerror(errno));
			return;
		}
		conn_watch(k, k->outoff < k->outlen ? EPOLLOUT : EPOLLIN);
		if (k->outoff < k->outlen)
			return;
	}
	if (!conn_read(k))
		return;
	got = reply_complete(k->in, k->inlen, &code, &end);
	if (got == 0 && k->eof) {
		conn_finish(k, DANE_PROBE_UNREACHABLE,
		    "the server closed the connection before %s%s%s; not verifiable from here",
		    state_what(k->st), k->read_errno ? ": " : "",
		    k->read_errno ? strerror(k->read_errno) : "");
		return;
	}
	if (got == 0)
		return;
	if (got < 0) {
		reply_text(k->in, k->inlen, text, sizeof(text));
		conn_finish(k, DANE_PROBE_UNREACHABLE,
		    "the server's reply is not SMTP (\"%s\"); is port %d a mail server?", text,
		    k->p->ctx->o.port);
		return;
	}
	reply_text(k->in, end, text, sizeof(text));
	switch (k->st) {
	case ST_BANNER:
		if (code != 220) {
			conn_finish(k, DANE_PROBE_UNREACHABLE,
			    "the server refuses this client (\"%s\"); not verifiable from here",
			    text);
			return;
		}
		{
			char cmd[300];

			snprintf(cmd, sizeof(cmd), "EHLO %s", k->p->ctx->helo);
			if (conn_send(k, cmd)) {
				conn_finish(k, DANE_PROBE_UNREACHABLE,
				    "the connection broke after the greeting");
				return;
			}
		}
		conn_set_state(k, ST_EHLO);
		break;
	case ST_EHLO:
		k->res->starttls = code == 250 && reply_has_starttls(k->in, end);
		if (!k->res->starttls) {
			enum dane_probe_status st =
			    k->p->ntlsa ? DANE_PROBE_NO_STARTTLS : DANE_PROBE_SKIPPED;

			conn_send(k, "QUIT");
			if (code == 250)
				conn_finish(k, st,
				    "the server does not offer STARTTLS: with a TLSA record "
				    "published, DANE senders will defer mail");
			else
				conn_finish(k, st,
				    "the server rejects EHLO (\"%s\"), so it offers no STARTTLS",
				    text);
			return;
		}
		if (conn_send(k, "STARTTLS")) {
			conn_finish(k, DANE_PROBE_UNREACHABLE, "the connection broke after EHLO");
			return;
		}
		conn_set_state(k, ST_STARTTLS);
		break;
	case ST_STARTTLS:
		if (code != 220) {
			conn_send(k, "QUIT");
			conn_finish(k, k->p->ntlsa ? DANE_PROBE_NO_STARTTLS : DANE_PROBE_SKIPPED,
			    "the server offers STARTTLS but refuses it (\"%s\")", text);
			return;
		}
		/* Bytes after the 220 would be injected into the TLS session (CVE-2011-0411
		 * class); they are dropped, never read as TLS. */
		k->inlen = 0;
		conn_start_tls(k);
		return;
	default:
		return;
	}
	memmove(k->in, k->in + end, k->inlen - end);
	k->inlen -= end;
	conn_watch(k, k->outoff < k->outlen ? EPOLLOUT : EPOLLIN);
}

static void conn_connected(struct dane_conn *k)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		soerr = errno;
	if (soerr) {
		conn_finish(k, DANE_PROBE_UNREACHABLE,
		    "port %d of %s cannot be reached (%s): not verifiable from here",
		    k->p->ctx->o.port, k->res->addr, strerror(soerr));
		return;
	}
	k->res->connected = true;
	conn_set_state(k, ST_BANNER);
	conn_watch(k, EPOLLIN);
}

static void conn_advance(struct dane_conn *k)
{
	switch (k->st) {
	case ST_CONNECT:
		conn_connected(k);
		break;
	case ST_BANNER:
	case ST_EHLO:
	case ST_STARTTLS:
		conn_plain(k);
		break;
	case ST_HANDSHAKE:
		conn_handshake(k);
		break;
	default:
		break;
	}
}

static void conn_timeout(struct dane_conn *k)
{
	const struct dane_opts *o = &k->p->ctx->o;

	if (k->st == ST_CONNECT)
		conn_finish(k, DANE_PROBE_UNREACHABLE,
		    "port %d of %s did not answer within %d ms: not verifiable from here (is "
		    "outbound port 25 blocked?)",
		    o->port, k->res->addr, o->connect_timeout_ms);
	else
		conn_finish(k, DANE_PROBE_UNREACHABLE,
		    "the server did not complete %s within %d ms: not verifiable from here",
		    state_what(k->st), o->io_timeout_ms);
}

static void conn_start(struct dane_conn *k)
{
	const struct dane_opts *o = &k->p->ctx->o;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fam;

	memset(&ss, 0, sizeof(ss));
	k->p->ctx->active++;
	k->st = ST_CONNECT;
	k->started = now_ms();
	k->budget_end = k->started + o->budget_ms;
	k->deadline = k->started + o->connect_timeout_ms;
	if (k->deadline > k->budget_end)
		k->deadline = k->budget_end;
	if (inet_pton(AF_INET, k->res->addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		fam = AF_INET;
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o->port);
		sl = sizeof(struct sockaddr_in);
	} else {
		fam = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)o->port);
		inet_pton(AF_INET6, k->res->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		sl = sizeof(struct sockaddr_in6);
	}
	k->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		conn_finish(k, DANE_PROBE_UNREACHABLE,
		    "cannot open a socket for %s (%s): not verifiable from here", k->res->addr,
		    strerror(errno));
		return;
	}
	if (connect(k->fd, (struct sockaddr *)&ss, sl) == 0 || errno == EINPROGRESS) {
		conn_watch(k, EPOLLOUT);
		if (!k->events)
			conn_finish(k, DANE_PROBE_UNREACHABLE,
			    "cannot watch the connection to %s (%s)", k->res->addr,
			    strerror(errno));
		return;
	}
	conn_finish(k, DANE_PROBE_UNREACHABLE,
	    "port %d of %s cannot be reached (%s): not verifiable from here", o->port, k->res->addr,
	    strerror(errno));
}

/* ---- probes of hosts ---- */

static void probe_unlink(struct dane_probe *p)
{
	struct dane_ctx *c = p->ctx;

	if (p->prev)
		p->prev->next = p->next;
	else
		c->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void probe_conn_done(struct dane_probe *p)
{
	struct dane_ctx *c = p->ctx;
	struct dane_probe **tail;

	if (--p->open > 0)
		return;
	p->res->status = worst_status(p->res);
	probe_unlink(p);
	/* Callbacks run from dane_process, never from dane_probe_start. */
	for (tail = &c->finished; *tail; tail = &(*tail)->next)
		;
	*tail = p;
}

/* Starts queued connections, oldest probe first, while slots are free. Called where no list
 * walk is in progress (a connection that fails at once unlinks its probe). */
static void pump(struct dane_ctx *c)
{
	struct dane_probe *p = c->probes, *prev;

	if (!c->queued || c->active >= c->o.max_parallel)
		return;
	while (p && p->next)
		p = p->next;
	for (; p && c->queued && c->active < c->o.max_parallel; p = prev) {
		prev = p->prev;
		for (size_t i = 0; i < p->nconn && c->active < c->o.max_parallel; i++)
			if (p->conns[i].st == ST_QUEUED) {
				c->queued--;
				conn_start(&p->conns[i]);
			}
	}
}

static bool addr_valid(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int dane_probe_start(struct dane_ctx *c, const char *host, const char *const *addrs, size_t naddr,
    const struct dns_answer *tlsa, dane_cb *cb, void *arg, struct mx_err *err)
{
	struct dane_probe *p;
	size_t nusable = dane_tlsa_count_usable(tlsa);

	if (!host || !*host || strlen(host) >= sizeof(p->res->host))
		return mx_err_set(
		    err, MX_EINVAL, "the MX host name to probe is missing or too long");
	for (size_t i = 0; i < naddr; i++)
		if (!addrs[i] || !addr_valid(addrs[i]))
			return mx_err_set(err, MX_EINVAL,
			    "%s: \"%s\" is not an IP address to probe", host,
			    addrs[i] ? addrs[i] : "(null)");
	p = calloc(1, sizeof(*p));
	if (!p)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->ctx = c;
	p->cb = cb;
	p->arg = arg;
	p->res = calloc(1, sizeof(*p->res));
	p->conns = calloc(naddr ? naddr : 1, sizeof(*p->conns));
	p->tlsa = calloc(nusable ? nusable : 1, sizeof(*p->tlsa));
	if (p->res)
		p->res->addr = calloc(naddr ? naddr : 1, sizeof(*p->res->addr));
	if (!p->res || !p->conns || !p->tlsa || !p->res->addr)
		goto nomem;
	for (size_t i = 0; tlsa && i < tlsa->n; i++) {
		const struct dns_rr *rr = &tlsa->rr[i];
		struct dane_tlsa_rec *t = &p->tlsa[p->ntlsa];

		if (rr->type != DNS_T_TLSA ||
		    !dane_tlsa_usable(rr->u.tlsa.usage, rr->u.tlsa.selector, rr->u.tlsa.mtype))
			continue;
		t->data = malloc(rr->u.tlsa.len ? rr->u.tlsa.len : 1);
		if (!t->data)
			goto nomem;
		memcpy(t->data, rr->u.tlsa.data, rr->u.tlsa.len);
		t->len = rr->u.tlsa.len;
		t->usage = rr->u.tlsa.usage;
		t->selector = rr->u.tlsa.selector;
		t->mtype = rr->u.tlsa.mtype;
		p->ntlsa++;
	}
	snprintf(p->res->host, sizeof(p->res->host), "%s", host);
	p->res->nusable = p->ntlsa;
	p->res->rollover_ready = p->ntlsa >= 2;
	p->res->naddr = naddr;
	p->nconn = naddr;
	p->open = naddr + 1; /* held until every connection has started */
	p->next = c->probes;
	if (c->probes)
		c->probes->prev = p;
	c->probes = p;
	c->pending++;
	for (size_t i = 0; i < naddr; i++) {
		struct dane_conn *k = &p->conns[i];

		k->p = p;
		k->fd = -1;
		k->res = &p->res->addr[i];
		snprintf(k->res->addr, sizeof(k->res->addr), "%s", addrs[i]);
		k->res->status = DANE_PROBE_SKIPPED;
		k->res->usage = k->res->selector = k->res->mtype = k->res->depth = -1;
		k->st = ST_QUEUED;
		c->queued++;
	}
	pump(c);
	probe_conn_done(p);
	return MX_OK;
nomem:
	probe_free(p);
	return mx_err_set(err, MX_ENOMEM, "out of memory");
}

int dane_timeout_ms(const struct dane_ctx *c)
{
	int64_t next = -1, now;

	if (!c)
		return -1;
	if (c->finished || (c->queued && c->active < c->o.max_parallel))
		return 0;
	for (const struct dane_probe *p = c->probes; p; p = p->next)
		for (size_t i = 0; i < p->nconn; i++)
			if (p->conns[i].st != ST_DONE && p->conns[i].st != ST_QUEUED &&
			    (next < 0 || p->conns[i].deadline < next))
				next = p->conns[i].deadline;
	if (next < 0)
		return -1;
	now = now_ms();
	return next <= now ? 0 : (int)(next - now);
}

int dane_process(struct dane_ctx *c, struct mx_err *err)
{
	return dane_process_max(c, 0, err);
}

int dane_process_max(struct dane_ctx *c, int max_events, struct mx_err *err)
{
	struct epoll_event evs[64];
	int n, want, left = max_events > 0 ? max_events : -1;
	int64_t now;

	while (left != 0) {
		want = left > 0 && left < 64 ? left : 64;
		n = epoll_wait(c->ep, evs, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mx_err_set(
			    err, MX_EIO, "waiting for SMTP probes failed (%s)", strerror(errno));
		for (int i = 0; i < n; i++)
			conn_advance(evs[i].data.ptr);
		if (left > 0)
			left -= n;
		if (n < want)
			break;
	}
	now = now_ms();
	for (struct dane_probe *p = c->probes, *next; p; p = next) {
		next = p->next;
		for (size_t i = 0; i < p->nconn; i++)
			if (p->conns[i].st != ST_DONE && p->conns[i].st != ST_QUEUED &&
			    p->conns[i].deadline <= now)
				conn_timeout(&p->conns[i]);
	}
	pump(c);
	while (c->finished) {
		struct dane_probe *p = c->finished;
		struct dane_result *res = p->res;
		dane_cb *cb = p->cb;
		void *arg = p->arg;

		c->finished = p->next;
		p->res = NULL;
		c->pending--;
		probe_free(p);
		if (cb)
			cb(arg, res);
		else
			dane_result_free(res);
	}
	return MX_OK;
}

int dane_wait(struct dane_ctx *c, int timeout_ms, struct mx_err *err)
{
	struct pollfd pfd = {.fd = c->ep, .events = POLLIN};
	int next = dane_timeout_ms(c);

	if (timeout_ms < 0 || (next >= 0 && next < timeout_ms))
		timeout_ms = next;
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return mx_err_set(
		    err, MX_EIO, "waiting for SMTP probes failed (%s)", strerror(errno));
	return dane_process(c, err);
}

struct dane_sync {
	struct dane_result *res;
	bool done;
};

static void dane_sync_done(void *arg, struct dane_result *res)
{
	struct dane_sync *s = arg;

	s->res = res;
	s->done = true;
}

int dane_probe(struct dane_ctx *c, const char *host, const char *const *addrs, size_t naddr,
    const struct dns_answer *tlsa, struct dane_result **out, struct mx_err *err)
{
	struct dane_sync sync = {NULL, false};
	int rc;

	*out = NULL;
	rc = dane_probe_start(c, host, addrs, naddr, tlsa, dane_sync_done, &sync, err);
	while (!rc && !sync.done)
		rc = dane_wait(c, -1, err);
	if (!rc && !sync.res)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	*out = sync.res;
	return rc;
}
