/* SPDX-License-Identifier: MIT */
/* src/dane.h — SMTP DANE (RFC 7672) verified on the wire: a STARTTLS probe of every address
 * of an MX host (banner, EHLO, STARTTLS, TLS handshake with SNI = the MX host), checked by
 * OpenSSL's DANE code against the host's TLSA RRset. Many probes run at once on non-blocking
 * sockets behind one descriptor that the caller's event loop polls (like libunbound's fd);
 * every step has a deadline, so a silent host costs a bounded time. Results are data: a host
 * that cannot be reached is "not verifiable from here", not an error. */
#ifndef MX_DANE_H
#define MX_DANE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "err.h"

/* What the wire says about DANE for one address, or for a host (the worst of its addresses:
 * mismatch, then no-starttls, then unreachable, then verified). Names are contract
 * (docs/outbound.md, `probe`). */
enum dane_probe_status {
	DANE_PROBE_VERIFIED = 0, /* the handshake authenticated against a usable TLSA record */
	DANE_PROBE_MISMATCH,	/* TLS up (or failed), but no usable TLSA record authenticates it */
	DANE_PROBE_NO_STARTTLS, /* STARTTLS not offered or refused: DANE senders defer */
	DANE_PROBE_UNREACHABLE, /* port 25 not reachable from here: not verifiable */
	DANE_PROBE_SKIPPED,	/* nothing to verify (no usable TLSA, no address) */
};

/* "verified", "mismatch", "no-starttls", "unreachable", "skipped". */
const char *dane_probe_name(enum dane_probe_status s);

/* RFC 7672 §3.1: SMTP uses only DANE-TA(2) and DANE-EE(3), with selector 0/1 and matching
 * type 0/1/2; PKIX-TA(0) and PKIX-EE(1) records are unusable. */
bool dane_tlsa_usable(unsigned usage, unsigned selector, unsigned mtype);

/* Usable TLSA records (as above) among the TLSA RRs of an answer; 0 for NULL. Does not look
 * at the answer's DNSSEC state: callers use only secure answers. */
size_t dane_tlsa_count_usable(const struct dns_answer *tlsa);

/* The probe of one address. */
struct dane_addr_result {
	char addr[46];
	enum dane_probe_status status;
	bool connected;	    /* TCP connection made */
	bool starttls;	    /* STARTTLS listed in the EHLO reply */
	bool tls;	    /* TLS handshake completed */
	bool verified;	    /* DANE authentication succeeded */
	int usage;	    /* the TLSA record that matched, -1 when none */
	int selector;	    /* … */
	int mtype;	    /* … */
	int depth;	    /* chain depth of the match (0: the server's own certificate), -1 */
	bool have_cert;	    /* the server presented a certificate; days_left is known */
	long days_left;	    /* days until the leaf certificate expires; negative once expired */
	char not_after[32]; /* the leaf's expiry, RFC 3339 UTC, "" when unknown */
	bool pkix_checked;  /* dane_opts.pkix: the chain was also judged against the CA store */
	bool pkix_valid;    /* … trusted and valid for the host name (what MTA-STS requires) */
	char pkix_error[128];
	char tls_version[16]; /* "TLSv1.3", "" before TLS */
	char error[256];      /* why it is not verified, one sentence; "" when verified */
	long ms;	      /* time the probe of this address took */
};

/* The probe of one MX host. */
struct dane_result {
	char host[254];
	enum dane_probe_status status; /* the worst of the addresses (see the enum) */
	size_t nusable;		       /* usable TLSA records the probe was given */
	bool rollover_ready;	       /* nusable >= 2: a key can roll without breaking DANE */
	size_t naddr;
	struct dane_addr_result *addr; /* naddr entries, in the order given */
};

/* Frees a result and what it owns. NULL is fine. */
void dane_result_free(struct dane_result *r);

/* {"host","probe","usable_tlsa","rollover_ready","addresses":[{"address","probe",
 * "connected","starttls","tls","tls_version","verified","matched":{usage,selector,
 * matching_type,depth}|null,"days_left"|null,"not_after","pkix_valid"(when checked),"error",
 * "ms"}]}. New reference, caller decrefs. */
json_t *dane_result_json(const struct dane_result *r);

struct dane_opts {
	int port;		/* 0: 25 (other ports are for tests) */
	int connect_timeout_ms; /* 0: 5000 */
	int io_timeout_ms;	/* each read and the handshake; 0: 10000 */
	int budget_ms;		/* the whole probe of one address; 0: 30000 */
	int max_parallel;	/* connections open at once, the rest wait; 0: 256 */
	const char *helo_name;	/* EHLO argument; NULL: this machine's FQDN, else "localhost" */
	bool pkix;		/* also judge the chain against a CA store and the host name */
	const char *cafile;	/* that store (pkix); NULL: OpenSSL's default locations */
};

struct dane_ctx;

/* Creates a prober (an epoll descriptor and an OpenSSL context with DANE enabled). o may be
 * NULL for the defaults; it is copied (cafile is read now). Caller frees with dane_ctx_free.
 * MX_EIO when the descriptor or the TLS context cannot be made, MX_EINVAL for a bad cafile. */
int dane_ctx_new(struct dane_ctx **out, const struct dane_opts *o, struct mx_err *err);

/* Frees the prober; probes still in flight are dropped without their callbacks. NULL is
 * fine. */
void dane_ctx_free(struct dane_ctx *c);

/* Completion callback; takes ownership of *res (dane_result_free); res is NULL only when
 * memory ran out. Called from dane_process / dane_wait, never from dane_probe_start. It may
 * start new probes but must not free the context. */
typedef void dane_cb(void *arg, struct dane_result *res);

/* Starts the probe of MX host `host` at each of addrs[0..naddr) (IPv4 or IPv6 text) in
 * parallel, verified against the usable TLSA RRs of `tlsa` (copied; pass only a secure
 * answer, or NULL). Without a usable record or without addresses the result is "skipped"
 * (with no address nothing is connected; without usable TLSA the connection facts and the
 * PKIX judgement are still filled in). MX_EINVAL for a bad address or host name, MX_ENOMEM. */
int dane_probe_start(struct dane_ctx *c, const char *host, const char *const *addrs, size_t naddr,
    const struct dns_answer *tlsa, dane_cb *cb, void *arg, struct mx_err *err);

/* The one descriptor to poll for reading: it becomes readable when any probe can advance. */
int dane_fd(const struct dane_ctx *c);

/* Milliseconds until the next probe deadline, -1 when nothing is in flight. */
int dane_timeout_ms(const struct dane_ctx *c);

/* Advances every probe that can move without blocking, handles deadlines, and runs the
 * callbacks of finished probes. */
int dane_process(struct dane_ctx *c, struct mx_err *err);

/* dane_process that advances at most max_events connections that are ready (0: all), so an
 * event loop with a time budget does a bounded share of the TLS handshakes per call; the
 * rest stay ready on the descriptor (level-triggered) and wake the loop again at once. */
int dane_process_max(struct dane_ctx *c, int max_events, struct mx_err *err);

/* Number of host probes in flight. */
int dane_pending(const struct dane_ctx *c);

/* Waits up to timeout_ms (-1: until the next deadline) for the descriptor, then
 * dane_process. For callers without an event loop. */
int dane_wait(struct dane_ctx *c, int timeout_ms, struct mx_err *err);

/* Blocking form of dane_probe_start: runs until this host's probe is done. *out is the
 * caller's (dane_result_free). */
int dane_probe(struct dane_ctx *c, const char *host, const char *const *addrs, size_t naddr,
    const struct dns_answer *tlsa, struct dane_result **out, struct mx_err *err);

#endif
