/* SPDX-License-Identifier: MIT */
/* src/dns.h — DNS for the whole product: validating resolution through libunbound
 * (asynchronous, many queries in flight on one fd) and direct, non-recursive queries to one
 * authoritative server (ldns wire format over a shared UDP socket, TCP on truncation).
 * DNS outcomes (NXDOMAIN, NODATA, bogus, SERVFAIL) are data in struct dns_answer, never
 * errors; an mx_err is returned only when a query could not be made at all. */
#ifndef MX_DNS_H
#define MX_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* RR types we parse (numeric values as on the wire). */
enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_DS = 43,
	DNS_T_DNSKEY = 48,
	DNS_T_TLSA = 52,
};

/* DNSSEC state of an answer, RFC 4035 §4.3. */
enum dns_sec {
	DNS_SEC_INDETERMINATE = 0, /* no answer could be validated (e.g. SERVFAIL, timeout) */
	DNS_SEC_INSECURE,	   /* provably unsigned */
	DNS_SEC_SECURE,
	DNS_SEC_BOGUS,
};

/* "secure", "insecure", "bogus", "indeterminate". */
const char *dns_sec_name(enum dns_sec s);

/* One parsed resource record. Names are absolute, lower-case, without the trailing dot
 * ("contoso-com.o-v1.mx.microsoft"). Only the member for `type` is meaningful. */
struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	char *owner; /* owner name */
	union {
		struct {
			uint16_t pref;
			char *host;
		} mx;
		char *txt;     /* TXT: all character-strings concatenated (RFC 7208 §3.3) */
		char *host;    /* NS, CNAME target */
		char addr[46]; /* A, AAAA in presentation form */
		struct {
			uint8_t usage, selector, mtype;
			unsigned char *data;
			size_t len;
		} tlsa;
		struct {
			char *mname, *rname;
			uint32_t serial, refresh, retry, expire, minimum;
		} soa;
		struct {
			uint16_t keytag;
			uint8_t alg, digest_type;
		} ds;
		struct {
			uint16_t flags, keytag;
			uint8_t alg;
		} dnskey;
	} u;
	char *text; /* the whole RR in presentation form (for messages, snapshots) */
};

struct dns_answer {
	char *qname; /* as asked, lower-case, no trailing dot */
	uint16_t qtype;
	int rcode;	   /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, …; -1: no response (timeout) */
	bool nxdomain;	   /* rcode 3 */
	bool nodata;	   /* NOERROR with no RR of qtype */
	bool aa;	   /* direct queries: the server answered authoritatively */
	enum dns_sec sec;  /* resolver answers; INDETERMINATE for direct queries */
	char *why_bogus;   /* unbound's explanation when sec == BOGUS, else NULL */
	uint32_t ttl;	   /* TTL of the answer RRset (resolver: remaining; direct: as served);
			    * with no RR of qtype, the negative TTL min(SOA TTL, SOA MINIMUM) of the
			    * authority SOA (RFC 2308 §5), 0 without one */
	char *server;	   /* direct queries: "ip@port" asked; NULL for resolver answers */
	char *zone;	   /* with no RR of qtype: the owner of the authority SOA, the zone that
			    * holds qname (lower-case, no trailing dot); NULL without one */
	size_t n;	   /* RRs of qtype (a CNAME chain is followed by the resolver) */
	struct dns_rr *rr; /* n entries */
};

/* Frees an answer and everything it owns. NULL is fine. */
void dns_answer_free(struct dns_answer *a);

/* Deep copy, caller frees with dns_answer_free. NULL on allocation failure. */
struct dns_answer *dns_answer_dup(const struct dns_answer *a);

/* rcode as text: "NOERROR", "SERVFAIL", "NXDOMAIN", "TIMEOUT" (rcode -1), … */
const char *dns_rcode_name(int rcode);

/* Completion callback. Takes ownership of *ans (free with dns_answer_free); ans is NULL only
 * when memory ran out. Called from dns_process / dns_wait (or a blocking call's loop), never
 * from inside dns_resolve_async / dns_query_direct_async. A callback may start new queries
 * and may run blocking calls, but must not free the context. */
typedef void dns_cb(void *arg, struct dns_answer *ans);

struct dns_ctx;

/* Creates the resolver. resolver_conf: an unbound.conf(5) file (trust anchors, root hints,
 * stubs) or NULL for full recursion from the real root with the trust anchor in
 * /usr/share/dns/root.key. Caller frees with dns_ctx_free. Errors name the file and
 * unbound's reason. */
int dns_ctx_new(struct dns_ctx **out, const char *resolver_conf, struct mx_err *err);

/* A new resolver with like's configuration (for another thread: a context is used by one
 * thread at a time). */
int dns_ctx_like(struct dns_ctx **out, const struct dns_ctx *like, struct mx_err *err);

/* How old, in seconds, an answer of a dns_ctx_fresh resolver can be at most. */
#define DNS_FRESH_MAX_AGE 5

/* Like dns_ctx_like, for gates that verify a change made elsewhere (Microsoft's TLSA): its
 * cache keeps nothing, answers, denials or keys, longer than DNS_FRESH_MAX_AGE seconds and
 * never makes up a denial from another name's cached NSEC range, so a gate polled every
 * 30 s always gets what the servers say now, while lookups close together share the
 * validated chain. Long-lived: one per thread, not one per lookup. */
int dns_ctx_fresh(struct dns_ctx **out, const struct dns_ctx *like, struct mx_err *err);

/* Sets the resolver up now rather than at its first lookup (libunbound reads its
 * configuration and starts its thread then, deeper than a fiber's stack goes): needed before
 * a context's first lookup from inside a fiber. */
int dns_ctx_setup(struct dns_ctx *c, struct mx_err *err);

/* Frees the resolver; queries still in flight are dropped without their callbacks. NULL is
 * fine. */
void dns_ctx_free(struct dns_ctx *c);

/* Starts a validating lookup; the callback runs later. name may carry a trailing dot. */
int dns_resolve_async(
    struct dns_ctx *c, const char *name, uint16_t type, dns_cb *cb, void *arg, struct mx_err *err);

/* Starts a direct query (RD=0, EDNS0 DO, 1232-byte buffer) to one server, "ip" or "ip@port"
 * (default 53; IPv4 or IPv6). Retransmits over UDP every 400 ms until timeout_ms (<= 0: 5000),
 * asks again over TCP (dns_send_tcp_async) for the time left when truncated. The answer's sec is
 * INDETERMINATE, server is "ip@port", and rcode -1 on timeout or when the TCP retry fails.
 * MX_EINVAL for a bad server or name. */
int dns_query_direct_async(struct dns_ctx *c, const char *server, const char *name, uint16_t type,
    int timeout_ms, dns_cb *cb, void *arg, struct mx_err *err);

/* The reply to a message of dns_send_tcp_async: its wire, len bytes, valid during the call;
 * NULL with why ("connection refused", "no reply in time", …) when none came. */
typedef void dns_msg_cb(void *arg, const unsigned char *reply, size_t len, const char *why);

/* Sends one DNS message in wire format (a TSIG-signed UPDATE, built and signed with ldns) to
 * server ("ip" or "ip@port", default 53) over TCP and reads its one reply, without blocking:
 * a new connection per message, timeout_ms (<= 0: 5000) for all of it. Nothing is checked in
 * the reply (its id, its signature): that is the caller's. The callback runs from
 * dns_process. MX_EINVAL for a bad server or a message that is not 12–65535 bytes. */
int dns_send_tcp_async(struct dns_ctx *c, const char *server, const unsigned char *wire, size_t len,
    int timeout_ms, dns_msg_cb *cb, void *arg, struct mx_err *err);

/* Can this machine resolve at all? Asks the resolver for the root's NS RRset once and waits
 * at most timeout_ms: MX_OK when a validated answer came; otherwise MX_EDNS ("this machine
 * cannot reach DNS …", naming resolver_conf when one is in use, may be NULL) or MX_EDNSSEC
 * when the root does not validate with the trust anchor. Failures of a domain's own lookups
 * mean something only once this passed. The answer stays in the resolver's cache, so a
 * working machine loses nothing. */
int dns_probe_root(
    struct dns_ctx *c, const char *resolver_conf, int timeout_ms, struct mx_err *err);

/* Blocking forms of the calls above (they run the loop until their answer arrives; in a
 * fiber they yield until it has, while the loop that owns c drives it: the owner's thread
 * only, never dns_wait).
 * *out is the caller's; free with dns_answer_free. */
int dns_resolve(struct dns_ctx *c, const char *name, uint16_t type, struct dns_answer **out,
    struct mx_err *err);
int dns_query_direct(struct dns_ctx *c, const char *server, const char *name, uint16_t type,
    int timeout_ms, struct dns_answer **out, struct mx_err *err);
/* *reply (the caller's, free) and *rlen; MX_EDNS naming the server and why when no reply
 * came. */
int dns_send_tcp(struct dns_ctx *c, const char *server, const unsigned char *wire, size_t len,
    int timeout_ms, unsigned char **reply, size_t *rlen, struct mx_err *err);

/* Event-loop integration: the descriptors to poll for reading (libunbound's fd, the direct
 * query sockets and the epoll descriptor of the TCP connections), at most `max` (4 is all);
 * returns how many were written. */
int dns_fds(struct dns_ctx *c, int *fds, int max);

/* Milliseconds until the next direct-query retransmission or timeout, -1 when none. */
int dns_timeout_ms(struct dns_ctx *c);

/* Reads whatever is ready without blocking, handles timers, and runs callbacks. MX_EDNS when
 * libunbound's background resolver broke; its lookups then complete as SERVFAIL. */
int dns_process(struct dns_ctx *c, struct mx_err *err);

/* Number of queries in flight (resolver + direct). */
int dns_pending(const struct dns_ctx *c);

/* How many lookups a context hands libunbound at once; the others wait their turn in order,
 * at about 100 bytes each. Each one in libunbound holds its query state until answered (a
 * check of 128 domains at a time had up to 1010 out, near libunbound's own limit of 1024 a
 * thread, past which it drops queries; docs/performance.md). A lookup reaches libunbound's
 * thread as two blocking writes into a local socket, which is full once about 100 wait
 * there unread (139 of 55 bytes, 104 of the longest names, with Linux's default 208 KiB
 * buffer) while that thread is busy validating:
 * - DNS_INFLIGHT_LOOP (the default): no more than 96 can wait unread, so the caller never
 *   blocks. For a loop that must not stop (the engine's, the wizard's): with 256 a burst
 *   of 60 preflights held the engine's loop for up to 180 ms.
 * - DNS_INFLIGHT_BATCH: more lookups out for servers far away, where libunbound's thread
 *   waits on the network and reads its socket at once; when it is busy instead, a write
 *   may wait for it, which only delays a batch (check, outbound). */
enum { DNS_INFLIGHT_LOOP = 96, DNS_INFLIGHT_BATCH = 256 };
void dns_set_inflight(struct dns_ctx *c, int n);

/* Drops every query whose callback argument is arg, in flight or finished, without running
 * its callback: the owner of arg is going away. */
void dns_cancel(struct dns_ctx *c, const void *arg);

/* Runs until no query is in flight (blocking). */
int dns_wait(struct dns_ctx *c, struct mx_err *err);

/* The absolute names and addresses of a zone's authoritative servers, as the resolver sees
 * them: NS RRset of `zone`, then A/AAAA of each NS host. out_addrs receives "ip" strings
 * (caller frees each and the array with dns_strv_free). Blocking. The A/AAAA lookups run
 * concurrently; addresses are unique and sorted (strcmp), bogus address answers are left
 * out. MX_EDNSSEC when the NS RRset is bogus, MX_EDNS when there is no NS RRset or no
 * address at all. */
int dns_zone_servers(
    struct dns_ctx *c, const char *zone, char ***out_addrs, size_t *out_n, struct mx_err *err);
void dns_strv_free(char **v, size_t n);

/* Converts one DNS response in wire format (as received, or as libunbound's answer_packet)
 * into a dns_answer for qname/qtype: rcode, aa, nxdomain, nodata and the answer-section RRs of
 * qtype (the CNAMEs of a chain are skipped), ttl as documented above, sec INDETERMINATE.
 * Exposed for tests and fuzzers. *out is the caller's (dns_answer_free). MX_EDNS when the
 * response cannot be parsed. */
int dns_answer_from_wire(const unsigned char *wire, size_t len, const char *qname, uint16_t qtype,
    struct dns_answer **out, struct mx_err *err);

#endif
