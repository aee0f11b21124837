/* SPDX-License-Identifier: MIT */
/* src/dns.c — validating resolution through libunbound, direct queries to authoritative
 * servers with ldns (shared non-blocking UDP sockets, TCP on truncation), DNS messages over
 * non-blocking TCP (dynamic updates), and the conversion of wire-format answers into struct
 * dns_answer. The only file that includes unbound.h. Inside a fiber (src/fiber.h) the
 * blocking forms yield until their answer is in: the loop that owns the context drives it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <unbound.h>

#include "dns.h"
#include "fiber.h"

#define DIRECT_RETRANSMIT_MS	  400
#define DIRECT_SEND_RETRY_MS	  10 /* the socket buffer was full: try again soon */
#define DIRECT_DEFAULT_TIMEOUT_MS 5000
#define DIRECT_EDNS_SIZE	  1232
#define DIRECT_QUERY_BUF	  512 /* a query: header, name, EDNS; ldns grows it if need be */
#define UDP_RCVBUF		  (4 * 1024 * 1024)
#define ROOT_TRUST_ANCHOR	  "/usr/share/dns/root.key"

/* A finished query whose callback has not run yet. Allocated with the query, so completing
 * a query never needs memory. */
struct dns_done {
	struct dns_done *next;
	dns_cb *cb;
	void *arg;
	struct dns_answer *ans;
};

struct ub_query {
	struct ub_query *prev, *next;
	struct dns_ctx *c;
	char *qname;
	uint16_t qtype;
	int async_id;
	struct dns_done *done;
};

struct direct_query {
	struct direct_query *prev, *next;
	struct dns_ctx *c;
	struct sockaddr_storage to;
	socklen_t tolen;
	int fd;
	char *server; /* "ip@port" */
	char *qname;
	ldns_rdf *qdname; /* to match the question of a response */
	uint16_t qtype;
	uint16_t id;
	uint8_t *wire;
	size_t wlen;
	int64_t deadline, next_tx;
	bool in_tcp; /* truncated over UDP: asked again over TCP (tcp_xfer with arg q) */
	struct dns_done *done;
};

/* One DNS message sent over TCP and its one reply (RFC 1035 §4.2.2: each with a two-byte
 * length), without blocking: the socket is registered with the context's epoll descriptor
 * (tcp_ep, among dns_fds) for writing while it connects and sends, for reading after. */
struct tcp_xfer {
	struct tcp_xfer *next;
	int fd;
	char *server;	    /* "ip@port" */
	unsigned char *out; /* length + message */
	size_t olen, ooff;
	unsigned char lenbuf[2];
	size_t loff;
	unsigned char *in;
	size_t ilen, ioff;
	bool connected, reading;
	int64_t deadline;
	const char *why; /* set when it failed */
	dns_msg_cb *cb;
	void *arg;
};

struct dns_ctx {
	struct ub_ctx *ub;
	int udp4, udp6;
	struct ub_query *ubq; /* handed to libunbound */
	int n_ub;
	struct ub_query *wait_head, **wait_tail; /* not yet: ub_max are out */
	int ub_max;
	int n_wait;
	struct direct_query *dq;
	int n_direct;
	struct tcp_xfer *tx; /* DNS messages over TCP in flight */
	int n_tcp;
	int tcp_ep; /* epoll descriptor of their sockets, -1 until the first */
	struct dns_done *done_head, **done_tail;
	int n_done;
	unsigned char *rxbuf;		    /* one datagram or TCP message */
	struct root_probe *abandoned_probe; /* dns_probe_root gave up waiting for it */
	char *conf;			    /* the resolver config it was made with, or NULL */
	bool ub_started;		    /* a lookup was made: the context is set up */
};

enum { RXBUF_SIZE = 65535 };

static void tcp_free_all(struct dns_ctx *c);

/* How many lookups a context hands libunbound at once: DNS_INFLIGHT_LOOP unless the caller
 * says otherwise (dns_set_inflight, src/dns.h). */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *dns_sec_name(enum dns_sec s)
{
	switch (s) {
	case DNS_SEC_INSECURE:
		return "insecure";
	case DNS_SEC_SECURE:
		return "secure";
	case DNS_SEC_BOGUS:
		return "bogus";
	case DNS_SEC_INDETERMINATE:
		break;
	}
	return "indeterminate";
}

const char *dns_rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
	    "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};

	if (rcode == -1)
		return "TIMEOUT";
	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	return "UNKNOWN";
}

/* Lower-case, without the trailing dot (except for the root, "."). */
static char *norm_name(const char *name)
{
	size_t len = strlen(name);
	char *s;

	if (len > 1 && name[len - 1] == '.')
		len--;
	if (len == 0)
		return strdup(".");
	s = malloc(len + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++)
		s[i] = (char)tolower((unsigned char)name[i]);
	s[len] = '\0';
	return s;
}

static char *dname_str(const ldns_rdf *rdf)
{
	char *s, *n;

	if (!rdf)
		return strdup(".");
	s = ldns_rdf2str(rdf);
	if (!s)
		return NULL;
	n = norm_name(s);
	free(s);
	return n;
}

static void rr_free(struct dns_rr *r)
{
	free(r->owner);
	free(r->text);
	switch (r->type) {
	case DNS_T_MX:
		free(r->u.mx.host);
		break;
	case DNS_T_TXT:
		free(r->u.txt);
		break;
	case DNS_T_NS:
	case DNS_T_CNAME:
		free(r->u.host);
		break;
	case DNS_T_TLSA:
		free(r->u.tlsa.data);
		break;
	case DNS_T_SOA:
		free(r->u.soa.mname);
		free(r->u.soa.rname);
		break;
	default:
		break;
	}
}

void dns_answer_free(struct dns_answer *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		rr_free(&a->rr[i]);
	free(a->rr);
	free(a->qname);
	free(a->why_bogus);
	free(a->server);
	free(a->zone);
	free(a);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

static int rr_dup(struct dns_rr *d, const struct dns_rr *s)
{
	int bad = 0;

	*d = *s;
	d->owner = NULL;
	d->text = NULL;
	switch (s->type) {
	case DNS_T_MX:
		bad |= dup_str(&d->u.mx.host, s->u.mx.host);
		break;
	case DNS_T_TXT:
		bad |= dup_str(&d->u.txt, s->u.txt);
		break;
	case DNS_T_NS:
	case DNS_T_CNAME:
		bad |= dup_str(&d->u.host, s->u.host);
		break;
	case DNS_T_TLSA:
		d->u.tlsa.data = malloc(s->u.tlsa.len ? s->u.tlsa.len : 1);
		if (d->u.tlsa.data)
			memcpy(d->u.tlsa.data, s->u.tlsa.data, s->u.tlsa.len);
		else
			bad = -1;
		break;
	case DNS_T_SOA:
		bad |= dup_str(&d->u.soa.mname, s->u.soa.mname);
		bad |= dup_str(&d->u.soa.rname, s->u.soa.rname);
		break;
	default:
		break;
	}
	bad |= dup_str(&d->owner, s->owner);
	bad |= dup_str(&d->text, s->text);
	return bad;
}

struct dns_answer *dns_answer_dup(const struct dns_answer *a)
{
	struct dns_answer *d;
	int bad = 0;

	if (!a)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	*d = *a;
	d->qname = NULL;
	d->why_bogus = NULL;
	d->server = NULL;
	d->zone = NULL;
	d->rr = NULL;
	d->n = 0;
	bad |= dup_str(&d->qname, a->qname);
	bad |= dup_str(&d->why_bogus, a->why_bogus);
	bad |= dup_str(&d->server, a->server);
	bad |= dup_str(&d->zone, a->zone);
	if (a->n) {
		d->rr = calloc(a->n, sizeof(*d->rr));
		if (!d->rr)
			bad = -1;
		for (size_t i = 0; d->rr && i < a->n; i++) {
			d->n++;
			bad |= rr_dup(&d->rr[i], &a->rr[i]);
		}
	}
	if (bad) {
		dns_answer_free(d);
		return NULL;
	}
	return d;
}

static struct dns_answer *answer_empty(const char *qname, uint16_t qtype, int rcode)
{
	struct dns_answer *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->qname = norm_name(qname);
	if (!a->qname) {
		free(a);
		return NULL;
	}
	a->qtype = qtype;
	a->rcode = rcode;
	a->nxdomain = rcode == LDNS_RCODE_NXDOMAIN;
	a->sec = DNS_SEC_INDETERMINATE;
	return a;
}

/* The i-th RDATA field as an integer of its size; 0 when the field is missing or too
 * short (ldns's converters assert on a missing field). */
static uint32_t rd_int(const ldns_rr *rr, size_t i, size_t size)
{
	const ldns_rdf *f = i < ldns_rr_rd_count(rr) ? ldns_rr_rdf(rr, i) : NULL;

	if (!f || ldns_rdf_size(f) < size)
		return 0;
	if (size == 1)
		return ldns_rdf2native_int8(f);
	return size == 2 ? ldns_rdf2native_int16(f) : ldns_rdf2native_int32(f);
}

/* Fills the type-specific member from the RDATA. Returns -1 on allocation failure; RDATA
 * that is too short for its type leaves the member zeroed (the text still shows it). */
static int rr_fill(struct dns_rr *o, const ldns_rr *rr)
{
	const ldns_rdf *f0 = ldns_rr_rdf(rr, 0);
	size_t total = 0, len;
	char *p;

	switch (o->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (f0 && ldns_rdf_size(f0) == 4)
			inet_ntop(AF_INET, ldns_rdf_data(f0), o->u.addr, sizeof(o->u.addr));
		else if (f0 && ldns_rdf_size(f0) == 16)
			inet_ntop(AF_INET6, ldns_rdf_data(f0), o->u.addr, sizeof(o->u.addr));
		return 0;
	case DNS_T_NS:
	case DNS_T_CNAME:
		o->u.host = dname_str(f0);
		return o->u.host ? 0 : -1;
	case DNS_T_MX:
		o->u.mx.pref = rd_int(rr, 0, 2);
		o->u.mx.host = dname_str(ldns_rr_rdf(rr, 1));
		return o->u.mx.host ? 0 : -1;
	case DNS_T_TXT:
		/* Each rdf is one <character-string>: a length byte, then the bytes. */
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
			total += ldns_rdf_size(ldns_rr_rdf(rr, i));
		o->u.txt = p = malloc(total + 1);
		if (!p)
			return -1;
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);

			if (ldns_rdf_size(f) < 1)
				continue;
			len = ldns_rdf_data(f)[0];
			if (len > ldns_rdf_size(f) - 1)
				len = ldns_rdf_size(f) - 1;
			memcpy(p, ldns_rdf_data(f) + 1, len);
			p += len;
		}
		*p = '\0';
		return 0;
	case DNS_T_TLSA:
		o->u.tlsa.usage = rd_int(rr, 0, 1);
		o->u.tlsa.selector = rd_int(rr, 1, 1);
		o->u.tlsa.mtype = rd_int(rr, 2, 1);
		len = ldns_rr_rdf(rr, 3) ? ldns_rdf_size(ldns_rr_rdf(rr, 3)) : 0;
		o->u.tlsa.data = malloc(len ? len : 1);
		if (!o->u.tlsa.data)
			return -1;
		if (len)
			memcpy(o->u.tlsa.data, ldns_rdf_data(ldns_rr_rdf(rr, 3)), len);
		o->u.tlsa.len = len;
		return 0;
	case DNS_T_SOA:
		o->u.soa.mname = dname_str(f0);
		o->u.soa.rname = dname_str(ldns_rr_rdf(rr, 1));
		o->u.soa.serial = rd_int(rr, 2, 4);
		o->u.soa.refresh = rd_int(rr, 3, 4);
		o->u.soa.retry = rd_int(rr, 4, 4);
		o->u.soa.expire = rd_int(rr, 5, 4);
		o->u.soa.minimum = rd_int(rr, 6, 4);
		return o->u.soa.mname && o->u.soa.rname ? 0 : -1;
	case DNS_T_DS:
		o->u.ds.keytag = rd_int(rr, 0, 2);
		o->u.ds.alg = rd_int(rr, 1, 1);
		o->u.ds.digest_type = rd_int(rr, 2, 1);
		return 0;
	case DNS_T_DNSKEY:
		o->u.dnskey.flags = rd_int(rr, 0, 2);
		o->u.dnskey.alg = rd_int(rr, 2, 1);
		if (ldns_rr_rd_count(rr) >= 4)
			o->u.dnskey.keytag = ldns_calc_keytag(rr);
		return 0;
	default:
		return 0;
	}
}

static int rr_convert(struct dns_rr *o, const ldns_rr *rr)
{
	size_t len;

	memset(o, 0, sizeof(*o));
	o->type = (uint16_t)ldns_rr_get_type(rr);
	o->ttl = ldns_rr_ttl(rr);
	o->owner = dname_str(ldns_rr_owner(rr));
	o->text = ldns_rr2str(rr);
	if (!o->owner || !o->text)
		return -1;
	len = strlen(o->text);
	while (len > 0 && (o->text[len - 1] == '\n' || o->text[len - 1] == '\r'))
		o->text[--len] = '\0';
	return rr_fill(o, rr);
}

/* RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA MINIMUM) of the authority SOA.
 * *zone gets that SOA's owner, the zone that holds the name (NULL without one). */
static uint32_t negative_ttl(const ldns_pkt *pkt, char **zone)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		uint32_t min;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
			continue;
		min = rd_int(rr, 6, 4);
		*zone = dname_str(ldns_rr_owner(rr));
		return ldns_rr_ttl(rr) < min ? ldns_rr_ttl(rr) : min;
	}
	return 0;
}

static struct dns_answer *answer_from_pkt(const ldns_pkt *pkt, const char *qname, uint16_t qtype)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t count = 0;
	struct dns_answer *a = answer_empty(qname, qtype, ldns_pkt_get_rcode(pkt));

	if (!a)
		return NULL;
	a->aa = ldns_pkt_aa(pkt);
	/* A CNAME chain is in the answer section before the target's RRset: keep only qtype. */
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(an, i)) == qtype)
			count++;
	if (count) {
		a->rr = calloc(count, sizeof(*a->rr));
		if (!a->rr)
			goto fail;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && a->n < count; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) != qtype)
			continue;
		a->n++;
		if (rr_convert(&a->rr[a->n - 1], rr) < 0)
			goto fail;
		if (a->n == 1 || a->rr[a->n - 1].ttl < a->ttl)
			a->ttl = a->rr[a->n - 1].ttl;
	}
	if (a->n == 0)
		a->ttl = negative_ttl(pkt, &a->zone);
	a->nodata = a->rcode == LDNS_RCODE_NOERROR && a->n == 0;
	return a;
fail:
	dns_answer_free(a);
	return NULL;
}

/* ldns_wire2pkt of a reply without its additional section (its count set to 0 in a copy):
 * nothing here reads it (EDNS, TSIG), and Debian's libldns leaks an additional-section TSIG
 * record of a message that holds two — found by fuzz/fuzz_dns_answer; a forged datagram must
 * cost no memory. */
static ldns_status parse_reply(ldns_pkt **pkt, const uint8_t *wire, size_t len)
{
	uint8_t *copy;
	ldns_status st;

	*pkt = NULL;
	if (len < LDNS_HEADER_SIZE)
		return ldns_wire2pkt(pkt, wire, len);
	if (!(copy = malloc(len)))
		return LDNS_STATUS_MEM_ERR;
	memcpy(copy, wire, len);
	ldns_write_uint16(copy + LDNS_ARCOUNT_OFF, 0);
	st = ldns_wire2pkt(pkt, copy, len);
	free(copy);
	return st;
}

int dns_answer_from_wire(const unsigned char *wire, size_t len, const char *qname, uint16_t qtype,
    struct dns_answer **out, struct mx_err *err)
{
	ldns_pkt *pkt = NULL;
	ldns_status st;
	int rc = MX_OK;

	*out = NULL;
	st = parse_reply(&pkt, wire, len);
	if (st != LDNS_STATUS_OK) {
		rc = mx_err_set(err, MX_EDNS, "the DNS response for %s could not be parsed (%s)",
		    qname, ldns_get_errorstr_by_id(st));
		goto out;
	}
	*out = answer_from_pkt(pkt, qname, qtype);
	if (!*out)
		rc = mx_err_set(
		    err, MX_ENOMEM, "out of memory parsing the DNS response for %s", qname);
out:
	ldns_pkt_free(pkt);
	return rc;
}

/* ---- completion queue ---- */

static void enqueue_done(struct dns_ctx *c, struct dns_done *d, struct dns_answer *ans)
{
	d->ans = ans;
	d->next = NULL;
	*c->done_tail = d;
	c->done_tail = &d->next;
	c->n_done++;
}

/* Runs the callbacks of finished queries. One at a time off the head, so a callback may start
 * new queries or even run a nested blocking call. */
static void deliver(struct dns_ctx *c)
{
	struct dns_done *d;

	while ((d = c->done_head)) {
		c->done_head = d->next;
		if (!c->done_head)
			c->done_tail = &c->done_head;
		c->n_done--;
		d->cb(d->arg, d->ans);
		free(d);
	}
}

/* ---- context ---- */

static void udp_open(struct dns_ctx *c, int family)
{
	int *fd = family == AF_INET ? &c->udp4 : &c->udp6;
	int one = 1, size = UDP_RCVBUF;

	if (*fd >= 0)
		return;
	*fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return;
	if (family == AF_INET6)
		setsockopt(*fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* A burst of hundreds of answers must not overflow the default receive buffer. */
	setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* libunbound's log stream is one process-wide FILE (log_file() sets a global), so a
 * context must not close it: it is opened once and lives as long as the process. */
static FILE *ub_log;
static pthread_once_t ub_log_once = PTHREAD_ONCE_INIT;

/* libunbound's configuration reader and the setup of a context at its first lookup use the
 * library's global state (the config parser, logging, a few limits): contexts made and
 * started on several threads at once (the engine's workers) take turns here. */
static pthread_mutex_t ub_setup_lock = PTHREAD_MUTEX_INITIALIZER;

static void ub_log_open(void)
{
	ub_log = fopen("/dev/null", "we");
}

/* libunbound's cache limits (unbound.conf(5)); see dns_ctx_new. The key and negative
 * caches hold about one entry (0.5–1 KiB) per zone checked, needed only while that zone is
 * in flight (at most 128) and for the shared tree above it: at 256 KiB and 128 KiB instead
 * of 1 MiB and 512 KiB the peak RSS of a check is 3 MiB lower at 1000 and at 10 000
 * domains, at the same CPU. The message and RRset caches hold the answers of the domains
 * in flight (about 12 RRsets each) and the shared tree: 512 KiB and 1 MiB keep all of them
 * (a quarter of the old sizes evicted answers still needed and cost 10–14 % more CPU) and
 * fragment the allocator less than 1 and 2 MiB did (docs/performance.md). */
static const char *const ub_cache_sizes[][2] = {
    {"msg-cache-size:", "512k"},
    {"rrset-cache-size:", "1m"},
    {"key-cache-size:", "256k"},
    {"neg-cache-size:", "128k"},
    {"infra-cache-numhosts:", "1000"},
};

/* The cache of a resolver made by dns_ctx_fresh, set after any --resolver-conf so that it
 * wins: no answer, positive or negative, kept longer than DNS_FRESH_MAX_AGE seconds, and no
 * answer made up from a cached NSEC range (another name's denial). */
#define STR_(x) #x
#define STR(x)	STR_(x)
static const char *const ub_fresh_opts[][2] = {
    {"cache-max-ttl:", STR(DNS_FRESH_MAX_AGE)},
    {"cache-max-negative-ttl:", STR(DNS_FRESH_MAX_AGE)},
    {"aggressive-nsec:", "no"},
    {"prefetch:", "no"},
    {"serve-expired:", "no"},
};

static int ub_options(struct dns_ctx *c, const char *const opts[][2], size_t n, struct mx_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = ub_ctx_set_option(c->ub, opts[i][0], opts[i][1]);

		if (r != 0)
			return mx_err_set(err, MX_EDNS, "the DNS resolver refused %s %s: %s",
			    opts[i][0], opts[i][1], ub_strerror(r));
	}
	return MX_OK;
}

static int dns_ctx_make(
    struct dns_ctx **out, const char *resolver_conf, bool fresh, struct mx_err *err)
{
	struct dns_ctx *c;
	FILE *f;
	int r, rc = MX_OK;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return mx_err_set(err, MX_ENOMEM, "out of memory creating the DNS resolver");
	c->udp4 = c->udp6 = -1;
	c->tcp_ep = -1;
	c->done_tail = &c->done_head;
	c->wait_tail = &c->wait_head;
	c->ub_max = DNS_INFLIGHT_LOOP;
	c->rxbuf = malloc(RXBUF_SIZE);
	pthread_mutex_lock(&ub_setup_lock);
	c->ub = ub_ctx_create();
	c->conf = resolver_conf ? strdup(resolver_conf) : NULL;
	if (!c->rxbuf || !c->ub || (resolver_conf && !c->conf)) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory creating the DNS resolver");
		goto out;
	}
	/* A resolver thread: results arrive on ub_fd, callbacks run in ub_process. */
	r = ub_ctx_async(c->ub, 1);
	if (r != 0) {
		rc = mx_err_set(err, MX_EDNS, "the DNS resolver cannot run in the background: %s",
		    ub_strerror(r));
		goto out;
	}
	/* Sized caches: checking tens of thousands of domains needs the shared top of the tree
	 * (root, TLDs, the endpoint's zone) cached, not every finished domain's answers, so the
	 * resolver's memory stays the same whatever the number of domains. A --resolver-conf
	 * read below may set other sizes. */
	rc = ub_options(c, ub_cache_sizes, sizeof(ub_cache_sizes) / sizeof(ub_cache_sizes[0]), err);
	if (rc != MX_OK)
		goto out;
	if (resolver_conf) {
		f = fopen(resolver_conf, "r");
		if (!f) {
			rc = mx_err_set(err, MX_EINVAL,
			    "resolver config %s: cannot be read (%s); check the path and its "
			    "permissions",
			    resolver_conf, strerror(errno));
			goto out;
		}
		fclose(f);
		r = ub_ctx_config(c->ub, resolver_conf);
		if (r != 0) {
			rc = mx_err_set(err, MX_EINVAL, "resolver config %s: %s", resolver_conf,
			    ub_strerror(r));
			goto out;
		}
	} else if (access(ROOT_TRUST_ANCHOR, R_OK) == 0) {
		r = ub_ctx_add_ta_file(c->ub, ROOT_TRUST_ANCHOR);
		if (r != 0) {
			rc = mx_err_set(
			    err, MX_EDNS, "trust anchor %s: %s", ROOT_TRUST_ANCHOR, ub_strerror(r));
			goto out;
		}
	}
	if (fresh) {
		rc = ub_options(
		    c, ub_fresh_opts, sizeof(ub_fresh_opts) / sizeof(ub_fresh_opts[0]), err);
		if (rc != MX_OK)
			goto out;
	}
	/* libunbound logs to stderr, which would draw over the wizard's screen. */
	pthread_once(&ub_log_once, ub_log_open);
	if (ub_log)
		ub_ctx_debugout(c->ub, ub_log);
	udp_open(c, AF_INET);
	udp_open(c, AF_INET6);
out:
	pthread_mutex_unlock(&ub_setup_lock);
	if (rc != MX_OK)
		dns_ctx_free(c);
	else
		*out = c;
	return rc;
}

static void direct_free(struct direct_query *q)
{
	free(q->server);
	free(q->qname);
	ldns_rdf_deep_free(q->qdname);
	free(q->wire);
	free(q->done);
	free(q);
}

static void ubq_free(struct ub_query *q)
{
	free(q->qname);
	free(q->done);
	free(q);
}

int dns_ctx_new(struct dns_ctx **out, const char *resolver_conf, struct mx_err *err)
{
	return dns_ctx_make(out, resolver_conf, false, err);
}

int dns_ctx_like(struct dns_ctx **out, const struct dns_ctx *like, struct mx_err *err)
{
	return dns_ctx_make(out, like ? like->conf : NULL, false, err);
}

int dns_ctx_fresh(struct dns_ctx **out, const struct dns_ctx *like, struct mx_err *err)
{
	return dns_ctx_make(out, like ? like->conf : NULL, true, err);
}

void dns_set_inflight(struct dns_ctx *c, int n)
{
	if (c && n > 0)
		c->ub_max = n;
}

void dns_ctx_free(struct dns_ctx *c)
{
	if (!c)
		return;
	free(c->conf);
	/* After ub_ctx_delete no libunbound callback can run, so the queries can go. */
	if (c->ub)
		ub_ctx_delete(c->ub);
	while (c->ubq) {
		struct ub_query *q = c->ubq;

		c->ubq = q->next;
		ubq_free(q);
	}
	while (c->wait_head) {
		struct ub_query *q = c->wait_head;

		c->wait_head = q->next;
		ubq_free(q);
	}
	tcp_free_all(c);
	while (c->dq) {
		struct direct_query *q = c->dq;

		c->dq = q->next;
		direct_free(q);
	}
	while (c->done_head) {
		struct dns_done *d = c->done_head;

		c->done_head = d->next;
		dns_answer_free(d->ans);
		free(d);
	}
	if (c->udp4 >= 0)
		close(c->udp4);
	if (c->udp6 >= 0)
		close(c->udp6);
	free(c->rxbuf);
	free(c->abandoned_probe);
	free(c);
}

/* ---- validating resolution ---- */

static void ubq_unlink(struct dns_ctx *c, struct ub_query *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		c->ubq = q->next;
	if (q->next)
		q->next->prev = q->prev;
	c->n_ub--;
}

static struct dns_answer *answer_from_ub(
    const struct ub_query *q, int err, const struct ub_result *res)
{
	struct dns_answer *a = NULL;

	if (!err && res && res->answer_packet && res->answer_len > 0)
		dns_answer_from_wire(
		    res->answer_packet, (size_t)res->answer_len, q->qname, q->qtype, &a, NULL);
	if (!a)
		a = answer_empty(q->qname, q->qtype, LDNS_RCODE_SERVFAIL);
	if (!a)
		return NULL;
	a->aa = false;
	if (err || !res)
		return a;
	a->rcode = res->rcode;
	a->nxdomain = a->rcode == LDNS_RCODE_NXDOMAIN;
	a->nodata = a->rcode == LDNS_RCODE_NOERROR && a->n == 0;
	/* A bogus answer still carries its data: judge by the flags, not by havedata. */
	if (res->secure) {
		a->sec = DNS_SEC_SECURE;
	} else if (res->bogus) {
		a->sec = DNS_SEC_BOGUS;
		a->why_bogus = strdup(res->why_bogus && *res->why_bogus
					  ? res->why_bogus
					  : "DNSSEC validation failed (no reason given)");
	} else if (a->rcode == LDNS_RCODE_SERVFAIL || !res->answer_packet) {
		a->sec = DNS_SEC_INDETERMINATE;
	} else {
		a->sec = DNS_SEC_INSECURE;
	}
	return a;
}

static void ub_done(void *mydata, int err, struct ub_result *result)
{
	struct ub_query *q = mydata;
	struct dns_ctx *c = q->c;

	enqueue_done(c, q->done, answer_from_ub(q, err, result));
	q->done = NULL;
	if (result)
		ub_resolve_free(result);
	ubq_unlink(c, q);
	ubq_free(q);
}

static void ub_discard(void *mydata, int err, struct ub_result *result)
{
	(void)mydata;
	(void)err;
	ub_resolve_free(result);
}

int dns_ctx_setup(struct dns_ctx *c, struct mx_err *err)
{
	int r, id;

	if (c->ub_started)
		return MX_OK;
	/* libunbound sets a context up at its first lookup: one that is dropped at once. */
	pthread_mutex_lock(&ub_setup_lock);
	r = ub_resolve_async(c->ub, ".", DNS_T_NS, LDNS_RR_CLASS_IN, NULL, ub_discard, &id);
	pthread_mutex_unlock(&ub_setup_lock);
	if (r != 0)
		return mx_err_set(err, r == UB_SYNTAX ? MX_EINVAL : MX_EDNS,
		    "the DNS resolver cannot start: %s", ub_strerror(r));
	c->ub_started = true;
	ub_cancel(c->ub, id);
	return MX_OK;
}

/* Hands q to libunbound and links it in c->ubq. */
static int ubq_start(struct dns_ctx *c, struct ub_query *q, struct mx_err *err)
{
	int r;

	if (!c->ub_started && mx_fiber_current())
		return mx_err_set(err, MX_EDNS,
		    "cannot look up %s: the resolver was not set up (dns_ctx_setup) before its "
		    "first lookup in a fiber",
		    q->qname);
	if (!c->ub_started) {
		/* The first lookup sets the context up (see ub_setup_lock). */
		pthread_mutex_lock(&ub_setup_lock);
		r = ub_resolve_async(
		    c->ub, q->qname, q->qtype, LDNS_RR_CLASS_IN, q, ub_done, &q->async_id);
		pthread_mutex_unlock(&ub_setup_lock);
		c->ub_started = true;
	} else {
		r = ub_resolve_async(
		    c->ub, q->qname, q->qtype, LDNS_RR_CLASS_IN, q, ub_done, &q->async_id);
	}
	if (r != 0)
		return mx_err_set(err, r == UB_SYNTAX ? MX_EINVAL : MX_EDNS,
		    "cannot look up %s (type %u): %s", q->qname, (unsigned)q->qtype,
		    ub_strerror(r));
	q->prev = NULL;
	q->next = c->ubq;
	if (c->ubq)
		c->ubq->prev = q;
	c->ubq = q;
	c->n_ub++;
	return MX_OK;
}

/* The first waiting lookup, unlinked, or NULL. */
static struct ub_query *wait_pop(struct dns_ctx *c)
{
	struct ub_query *q = c->wait_head;

	if (!q)
		return NULL;
	c->wait_head = q->next;
	if (!c->wait_head)
		c->wait_tail = &c->wait_head;
	c->n_wait--;
	q->next = NULL;
	return q;
}

/* A lookup libunbound never took: its caller gets a SERVFAIL answer (indeterminate), as
 * for a lookup libunbound failed. */
static void ubq_fail(struct dns_ctx *c, struct ub_query *q)
{
	enqueue_done(c, q->done, answer_from_ub(q, UB_SERVFAIL, NULL));
	q->done = NULL;
	ubq_free(q);
}

/* Hands waiting lookups to libunbound while fewer than ub_max are out. */
static void ubq_pump(struct dns_ctx *c)
{
	struct ub_query *q;

	while (c->n_ub < c->ub_max && (q = wait_pop(c)))
		if (ubq_start(c, q, NULL))
			ubq_fail(c, q);
}

int dns_resolve_async(
    struct dns_ctx *c, const char *name, uint16_t type, dns_cb *cb, void *arg, struct mx_err *err)
{
	struct ub_query *q;
	int rc = MX_OK;

	q = calloc(1, sizeof(*q));
	if (!q)
		return mx_err_set(err, MX_ENOMEM, "out of memory looking up %s", name);
	q->c = c;
	q->qtype = type;
	q->qname = norm_name(name);
	q->done = calloc(1, sizeof(*q->done));
	if (!q->qname || !q->done) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory looking up %s", name);
		goto out;
	}
	q->done->cb = cb;
	q->done->arg = arg;
	if (c->n_ub >= c->ub_max) {
		*c->wait_tail = q;
		c->wait_tail = &q->next;
		c->n_wait++;
		return MX_OK;
	}
	rc = ubq_start(c, q, err);
out:
	if (rc != MX_OK)
		ubq_free(q);
	return rc;
}

/* The resolver thread is gone: fail every lookup so that every caller still gets its
 * callback (blocking callers wait for exactly that). */
static void ub_fail_all(struct dns_ctx *c)
{
	while (c->ubq) {
		struct ub_query *q = c->ubq;

		ub_cancel(c->ub, q->async_id);
		ub_done(q, UB_PIPE, NULL);
	}
	for (struct ub_query *q; (q = wait_pop(c));)
		ubq_fail(c, q);
}

/* ---- direct queries ---- */

static int parse_server(const char *server, struct sockaddr_storage *ss, socklen_t *sslen,
    char **canon, struct mx_err *err)
{
	char host[INET6_ADDRSTRLEN + 2], shown[INET6_ADDRSTRLEN];
	const char *at = strrchr(server, '@');
	size_t hlen = at ? (size_t)(at - server) : strlen(server);
	unsigned long port = 53;
	char *end, buf[INET6_ADDRSTRLEN + 8];
	const void *addr;

	memset(ss, 0, sizeof(*ss));
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, server, hlen);
	host[hlen] = '\0';
	if (at) {
		errno = 0;
		port = strtoul(at + 1, &end, 10);
		if (errno || end == at + 1 || *end || port == 0 || port > 65535)
			goto bad;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
		addr = &sin->sin_addr;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
		addr = &sin6->sin6_addr;
	} else {
		goto bad;
	}
	inet_ntop(ss->ss_family, addr, shown, sizeof(shown));
	snprintf(buf, sizeof(buf), "%s@%lu", shown, port);
	*canon = strdup(buf);
	if (!*canon)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	return MX_OK;
bad:
	return mx_err_set(err, MX_EINVAL,
	    "DNS server \"%s\" is not an IP address with an optional @port (e.g. 192.0.2.1@53)",
	    server);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static struct direct_query *direct_find(
    struct dns_ctx *c, uint16_t id, const struct sockaddr_storage *from)
{
	for (struct direct_query *q = c->dq; q; q = q->next)
		if (q->id == id && same_addr(&q->to, from))
			return q;
	return NULL;
}

static int pick_id(
    struct dns_ctx *c, const struct sockaddr_storage *to, uint16_t *id, struct mx_err *err)
{
	for (int tries = 0; tries < 100; tries++) {
		if (getrandom(id, sizeof(*id), 0) != (ssize_t)sizeof(*id))
			return mx_err_set(err, MX_EIO, "no random numbers for DNS query ids: %s",
			    strerror(errno));
		if (!direct_find(c, *id, to))
			return MX_OK;
	}
	return mx_err_set(err, MX_EDNS, "too many DNS queries in flight to one server");
}

static void direct_send(struct direct_query *q, int64_t now)
{
	ssize_t r = sendto(q->fd, q->wire, q->wlen, 0, (const struct sockaddr *)&q->to, q->tolen);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
		q->next_tx = now + DIRECT_SEND_RETRY_MS;
	else
		q->next_tx = now + DIRECT_RETRANSMIT_MS;
}

int dns_query_direct_async(struct dns_ctx *c, const char *server, const char *name, uint16_t type,
    int timeout_ms, dns_cb *cb, void *arg, struct mx_err *err)
{
	struct direct_query *q;
	ldns_pkt *pkt = NULL;
	ldns_buffer *wbuf = NULL;
	ldns_rdf *dn;
	int64_t now = now_ms();
	int rc = MX_OK;

	q = calloc(1, sizeof(*q));
	if (!q)
		return mx_err_set(err, MX_ENOMEM, "out of memory querying %s", name);
	q->c = c;
	q->qtype = type;
	q->qname = norm_name(name);
	q->done = calloc(1, sizeof(*q->done));
	if (!q->qname || !q->done) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory querying %s", name);
		goto out;
	}
	q->done->cb = cb;
	q->done->arg = arg;
	rc = parse_server(server, &q->to, &q->tolen, &q->server, err);
	if (rc != MX_OK)
		goto out;
	udp_open(c, q->to.ss_family);
	q->fd = q->to.ss_family == AF_INET ? c->udp4 : c->udp6;
	if (q->fd < 0) {
		rc = mx_err_set(err, MX_EIO, "cannot open a UDP socket to query %s: %s", q->server,
		    strerror(errno));
		goto out;
	}
	q->qdname = ldns_dname_new_frm_str(q->qname);
	if (!q->qdname) {
		rc = mx_err_set(err, MX_EINVAL, "\"%s\" is not a valid domain name", name);
		goto out;
	}
	rc = pick_id(c, &q->to, &q->id, err);
	if (rc != MX_OK)
		goto out;
	dn = ldns_rdf_clone(q->qdname);
	pkt = dn ? ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, 0) : NULL;
	if (!pkt) {
		ldns_rdf_deep_free(dn);
		rc = mx_err_set(err, MX_ENOMEM, "out of memory querying %s", name);
		goto out;
	}
	ldns_pkt_set_id(pkt, q->id);
	ldns_pkt_set_rd(pkt, false);
	ldns_pkt_set_edns_udp_size(pkt, DIRECT_EDNS_SIZE);
	ldns_pkt_set_edns_do(pkt, true);
	/* ldns_pkt2wire hands back a buffer of the largest packet (64 KiB) for a query of a few
	 * dozen bytes, kept until the answer is in: with hundreds of queries in flight that was
	 * the largest part of the heap. Kept instead at its length. */
	wbuf = ldns_buffer_new(DIRECT_QUERY_BUF);
	if (!wbuf || ldns_pkt2buffer_wire(wbuf, pkt) != LDNS_STATUS_OK ||
	    !(q->wire = malloc(ldns_buffer_position(wbuf)))) {
		rc = mx_err_set(err, MX_ENOMEM, "cannot build the DNS query for %s", name);
		goto out;
	}
	q->wlen = ldns_buffer_position(wbuf);
	memcpy(q->wire, ldns_buffer_begin(wbuf), q->wlen);
	q->deadline = now + (timeout_ms > 0 ? timeout_ms : DIRECT_DEFAULT_TIMEOUT_MS);
	direct_send(q, now);
	q->next = c->dq;
	if (c->dq)
		c->dq->prev = q;
	c->dq = q;
	c->n_direct++;
out:
	ldns_buffer_free(wbuf);
	ldns_pkt_free(pkt);
	if (rc != MX_OK)
		direct_free(q);
	return rc;
}

/* Takes q off the context's list and frees it. */
static void direct_drop(struct dns_ctx *c, struct direct_query *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		c->dq = q->next;
	if (q->next)
		q->next->prev = q->prev;
	c->n_direct--;
	direct_free(q);
}

static void direct_finish(struct dns_ctx *c, struct direct_query *q, struct dns_answer *a)
{
	if (a) {
		a->sec = DNS_SEC_INDETERMINATE;
		a->server = strdup(q->server);
	}
	enqueue_done(c, q->done, a);
	q->done = NULL;
	direct_drop(c, q);
}

static void direct_timeout(struct dns_ctx *c, struct direct_query *q)
{
	direct_finish(c, q, answer_empty(q->qname, q->qtype, -1));
}

/* ---- DNS messages over TCP ---- */

static void tcp_xfer_free(struct tcp_xfer *x)
{
	if (x->fd >= 0)
		close(x->fd);
	free(x->server);
	free(x->out);
	free(x->in);
	free(x);
}

/* Wants the socket to be writable (connecting, sending) or readable (the reply). */
static int tcp_watch(struct dns_ctx *c, struct tcp_xfer *x, bool add)
{
	struct epoll_event ev = {.events = x->reading ? EPOLLIN : EPOLLOUT, .data.ptr = x};

	return epoll_ctl(c->tcp_ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, x->fd, &ev);
}

int dns_send_tcp_async(struct dns_ctx *c, const char *server, const unsigned char *wire, size_t len,
    int timeout_ms, dns_msg_cb *cb, void *arg, struct mx_err *err)
{
	struct sockaddr_storage to;
	socklen_t tolen;
	struct tcp_xfer *x;
	int rc;

	if (len < 12 || len > 65535)
		return mx_err_set(err, MX_EINVAL, "a DNS message of %zu bytes cannot be sent", len);
	x = calloc(1, sizeof(*x));
	if (!x)
		return mx_err_set(err, MX_ENOMEM, "out of memory sending to %s", server);
	x->fd = -1;
	rc = parse_server(server, &to, &tolen, &x->server, err);
	if (rc != MX_OK)
		goto fail;
	if (c->tcp_ep < 0 && (c->tcp_ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rc = mx_err_set(err, MX_EIO, "cannot watch TCP connections: %s", strerror(errno));
		goto fail;
	}
	x->olen = len + 2;
	x->out = malloc(x->olen);
	if (!x->out) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory sending to %s", x->server);
		goto fail;
	}
	ldns_write_uint16(x->out, (uint16_t)len);
	memcpy(x->out + 2, wire, len);
	x->fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		rc = mx_err_set(
		    err, MX_EIO, "cannot open a TCP socket to %s: %s", x->server, strerror(errno));
		goto fail;
	}
	if (connect(x->fd, (const struct sockaddr *)&to, tolen) == 0)
		x->connected = true;
	else if (errno != EINPROGRESS)
		x->why = errno == ECONNREFUSED ? "connection refused" : "cannot connect";
	if (!x->why && tcp_watch(c, x, true) != 0) {
		rc = mx_err_set(err, MX_EIO, "cannot watch the TCP connection to %s: %s", x->server,
		    strerror(errno));
		goto fail;
	}
	x->deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : DIRECT_DEFAULT_TIMEOUT_MS);
	x->cb = cb;
	x->arg = arg;
	x->next = c->tx;
	c->tx = x;
	c->n_tcp++;
	return MX_OK;
fail:
	tcp_xfer_free(x);
	return rc;
}

/* Moves x on as far as it goes without blocking; true once it has ended (x->why says why
 * when no reply came). */
static bool tcp_step(struct dns_ctx *c, struct tcp_xfer *x, int64_t now)
{
	ssize_t r;

	if (x->why)
		return true;
	if (!x->connected) {
		struct pollfd pfd = {x->fd, POLLOUT, 0};
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (poll(&pfd, 1, 0) <= 0)
			goto wait;
		if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
			x->why = soerr == ECONNREFUSED ? "connection refused" : "cannot connect";
			return true;
		}
		x->connected = true;
	}
	while (!x->reading) {
		r = send(x->fd, x->out + x->ooff, x->olen - x->ooff, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				goto wait;
			x->why = "the connection broke while sending";
			return true;
		}
		x->ooff += (size_t)r;
		if (x->ooff == x->olen) {
			x->reading = true;
			if (tcp_watch(c, x, false) != 0) {
				x->why = "cannot watch the connection";
				return true;
			}
		}
	}
	for (;;) {
		unsigned char *dst = x->in ? x->in + x->ioff : x->lenbuf + x->loff;
		size_t want = x->in ? x->ilen - x->ioff : 2 - x->loff;

		r = recv(x->fd, dst, want, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				goto wait;
			x->why = "the connection broke while reading";
			return true;
		}
		if (r == 0) {
			x->why = "the server closed the connection without a reply";
			return true;
		}
		if (x->in) {
			x->ioff += (size_t)r;
			if (x->ioff == x->ilen)
				return true;
			continue;
		}
		x->loff += (size_t)r;
		if (x->loff < 2)
			continue;
		x->ilen = ldns_read_uint16(x->lenbuf);
		if (x->ilen < 12) {
			x->why = "the reply is not a DNS message";
			return true;
		}
		if (!(x->in = malloc(x->ilen))) {
			x->why = "out of memory";
			return true;
		}
	}
wait:
	if (now >= x->deadline) {
		x->why = "no reply in time";
		return true;
	}
	return false;
}

/* Ends what can end, then runs their callbacks (a callback may start new transfers or run a
 * blocking call: the ended ones are off the list first). */
static void tcp_process(struct dns_ctx *c)
{
	struct tcp_xfer **pp = &c->tx, *ended = NULL, *x;
	int64_t now = now_ms();

	while ((x = *pp)) {
		if (!tcp_step(c, x, now)) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		c->n_tcp--;
		x->next = ended;
		ended = x;
	}
	while ((x = ended)) {
		ended = x->next;
		if (x->why)
			x->cb(x->arg, NULL, 0, x->why);
		else
			x->cb(x->arg, x->in, x->ilen, NULL);
		tcp_xfer_free(x);
	}
}

/* Drops the transfers whose callback argument is arg, without their callbacks. */
static void tcp_cancel(struct dns_ctx *c, const void *arg)
{
	for (struct tcp_xfer **pp = &c->tx, *x; (x = *pp);) {
		if (x->arg != arg) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		c->n_tcp--;
		tcp_xfer_free(x);
	}
}

static void tcp_free_all(struct dns_ctx *c)
{
	while (c->tx) {
		struct tcp_xfer *x = c->tx;

		c->tx = x->next;
		tcp_xfer_free(x);
	}
	c->n_tcp = 0;
	if (c->tcp_ep >= 0)
		close(c->tcp_ep);
	c->tcp_ep = -1;
}

static bool question_matches(const ldns_pkt *pkt, const struct direct_query *q)
{
	const ldns_rr_list *qs = ldns_pkt_question(pkt);
	const ldns_rr *qr;

	if (ldns_rr_list_rr_count(qs) != 1)
		return false;
	qr = ldns_rr_list_rr(qs, 0);
	return ldns_rr_get_type(qr) == q->qtype && ldns_rr_get_class(qr) == LDNS_RR_CLASS_IN &&
	       ldns_dname_compare(ldns_rr_owner(qr), q->qdname) == 0;
}

/* The TCP reply to a truncated direct query (arg: the query). */
static void direct_tcp_done(void *arg, const unsigned char *reply, size_t len, const char *why)
{
	struct direct_query *q = arg;
	struct dns_answer *a = NULL;
	ldns_pkt *pkt = NULL;

	(void)why;
	if (reply && parse_reply(&pkt, reply, len) == LDNS_STATUS_OK && ldns_pkt_id(pkt) == q->id &&
	    question_matches(pkt, q))
		a = answer_from_pkt(pkt, q->qname, q->qtype);
	ldns_pkt_free(pkt);
	direct_finish(q->c, q, a ? a : answer_empty(q->qname, q->qtype, -1));
}

/* The UDP answer was truncated: ask again over TCP for the time left, without blocking. */
static void direct_tcp(struct dns_ctx *c, struct direct_query *q)
{
	int64_t left = q->deadline - now_ms();

	if (left > 0 && dns_send_tcp_async(c, q->server, q->wire, q->wlen, (int)left,
			    direct_tcp_done, q, NULL) == MX_OK) {
		q->in_tcp = true;
		return;
	}
	direct_timeout(c, q);
}

static void direct_read(struct dns_ctx *c, int fd)
{
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t r;
		ldns_pkt *pkt = NULL;
		struct direct_query *q;

		r = recvfrom(
		    fd, c->rxbuf, RXBUF_SIZE, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN, or an ICMP error we cannot attribute */
		}
		/* Forged or late datagrams are dropped: id, source and question must match. */
		if (parse_reply(&pkt, c->rxbuf, (size_t)r) != LDNS_STATUS_OK)
			continue;
		q = ldns_pkt_qr(pkt) ? direct_find(c, ldns_pkt_id(pkt), &from) : NULL;
		if (q && question_matches(pkt, q)) {
			if (ldns_pkt_tc(pkt))
				direct_tcp(c, q);
			else
				direct_finish(c, q, answer_from_pkt(pkt, q->qname, q->qtype));
		}
		ldns_pkt_free(pkt);
	}
}

static void direct_timers(struct dns_ctx *c)
{
	int64_t now = now_ms();
	struct direct_query *q, *next;

	for (q = c->dq; q; q = next) {
		next = q->next;
		if (q->in_tcp)
			continue; /* the TCP transfer has the deadline */
		if (now >= q->deadline)
			direct_timeout(c, q);
		else if (now >= q->next_tx)
			direct_send(q, now);
	}
}

/* ---- event loop ---- */

int dns_fds(struct dns_ctx *c, int *fds, int max)
{
	int n = 0;

	if (n < max)
		fds[n++] = ub_fd(c->ub);
	if (n < max && c->udp4 >= 0)
		fds[n++] = c->udp4;
	if (n < max && c->udp6 >= 0)
		fds[n++] = c->udp6;
	if (n < max && c->tx)
		fds[n++] = c->tcp_ep;
	return n;
}

int dns_timeout_ms(struct dns_ctx *c)
{
	int64_t now, best = -1;

	if (c->n_done > 0)
		return 0;
	if (!c->dq && !c->tx)
		return -1;
	now = now_ms();
	for (const struct direct_query *q = c->dq; q; q = q->next) {
		int64_t t = q->next_tx < q->deadline ? q->next_tx : q->deadline;

		if (!q->in_tcp && (best < 0 || t < best))
			best = t;
	}
	/* One whose connection was refused at once ends at the next dns_process. */
	for (const struct tcp_xfer *x = c->tx; x; x = x->next)
		if (best < 0 || (x->why ? now : x->deadline) < best)
			best = x->why ? now : x->deadline;
	if (best < 0)
		return -1;
	best -= now;
	if (best < 0)
		best = 0;
	return best > 60000 ? 60000 : (int)best;
}

int dns_process(struct dns_ctx *c, struct mx_err *err)
{
	int r, rc = MX_OK;

	if (c->n_ub > 0) {
		r = ub_process(c->ub);
		if (r != 0) {
			rc = mx_err_set(
			    err, MX_EDNS, "the DNS resolver stopped working: %s", ub_strerror(r));
			ub_fail_all(c);
		}
	}
	ubq_pump(c);
	if (c->udp4 >= 0)
		direct_read(c, c->udp4);
	if (c->udp6 >= 0)
		direct_read(c, c->udp6);
	direct_timers(c);
	if (c->tx)
		tcp_process(c);
	deliver(c);
	return rc;
}

int dns_pending(const struct dns_ctx *c)
{
	return c->n_ub + c->n_wait + c->n_direct + c->n_done + c->n_tcp;
}

void dns_cancel(struct dns_ctx *c, const void *arg)
{
	struct dns_done **pd;

	if (!c)
		return;
	for (struct ub_query *q = c->ubq, *next; q; q = next) {
		next = q->next;
		if (q->done && q->done->arg == arg) {
			ub_cancel(c->ub, q->async_id);
			ubq_unlink(c, q);
			ubq_free(q);
		}
	}
	/* Waiting ones; the list's tail is where the walk ends. */
	for (c->wait_tail = &c->wait_head; *c->wait_tail;) {
		struct ub_query *q = *c->wait_tail;

		if (!q->done || q->done->arg != arg) {
			c->wait_tail = &q->next;
			continue;
		}
		*c->wait_tail = q->next;
		c->n_wait--;
		ubq_free(q);
	}
	ubq_pump(c);
	for (struct direct_query *q = c->dq, *next; q; q = next) {
		next = q->next;
		if (q->done && q->done->arg == arg) {
			if (q->in_tcp)
				tcp_cancel(c, q);
			direct_drop(c, q);
		}
	}
	tcp_cancel(c, arg);
	/* Finished, callback not run yet. */
	for (pd = &c->done_head; *pd;) {
		struct dns_done *d = *pd;

		if (d->arg != arg) {
			pd = &d->next;
			continue;
		}
		*pd = d->next;
		c->n_done--;
		dns_answer_free(d->ans);
		free(d);
	}
	c->done_tail = &c->done_head;
	while (*c->done_tail)
		c->done_tail = &(*c->done_tail)->next;
}

/* Polls and processes until *count drops to zero (count NULL: until nothing is pending).
 * Every query always completes (resolver failures fail their lookups, direct queries have
 * deadlines), so this ends; the first error is reported after the wait. In a fiber (count
 * given) it yields instead: the loop that owns c processes it, and the callback that brings
 * *count to zero wakes the fiber; a fiber that is cancelled (mx_fiber_cancel) stops waiting,
 * its queries (those whose callback argument is arg) are dropped and the wait fails. */
static int run_until(struct dns_ctx *c, const int *count, const void *arg, struct mx_err *err)
{
	int rc = MX_OK;

	if (count && mx_fiber_current()) {
		while (*count > 0 && !mx_fiber_cancelled())
			mx_fiber_yield();
		if (*count > 0) { /* cancelled: its queries go, their callbacks never run */
			dns_cancel(c, arg);
			return mx_err_set(
			    err, MX_EDNS, "the lookup was stopped: the call was stopped");
		}
		return MX_OK;
	}

	while (count ? *count > 0 : dns_pending(c) > 0) {
		struct pollfd pfd[4];
		int fds[4], n = dns_fds(c, fds, 4), r;

		for (int i = 0; i < n; i++) {
			pfd[i].fd = fds[i];
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		r = poll(pfd, (nfds_t)n, dns_timeout_ms(c));
		if (r < 0 && errno != EINTR && rc == MX_OK)
			rc = mx_err_set(
			    err, MX_EIO, "waiting for DNS answers failed: %s", strerror(errno));
		r = dns_process(c, rc == MX_OK ? err : NULL);
		if (r != MX_OK && rc == MX_OK)
			rc = r;
	}
	return rc;
}

int dns_wait(struct dns_ctx *c, struct mx_err *err)
{
	return run_until(c, NULL, NULL, err);
}

struct blocking {
	int pending;
	struct dns_answer *ans;
	struct mx_fiber *fiber; /* the fiber that waits (run_until), or NULL */
};

static void blocking_cb(void *arg, struct dns_answer *ans)
{
	struct blocking *b = arg;

	b->ans = ans;
	b->pending = 0;
	if (b->fiber)
		mx_fiber_wake(b->fiber);
}

static int blocking_finish(struct dns_ctx *c, struct blocking *b, const char *name,
    struct dns_answer **out, struct mx_err *err)
{
	int rc = run_until(c, &b->pending, b, err);

	if (rc == MX_OK && !b->ans)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory looking up %s", name);
	if (rc != MX_OK) {
		dns_answer_free(b->ans);
		return rc;
	}
	*out = b->ans;
	return MX_OK;
}

int dns_resolve(
    struct dns_ctx *c, const char *name, uint16_t type, struct dns_answer **out, struct mx_err *err)
{
	struct blocking b = {1, NULL, mx_fiber_current()};
	int rc;

	*out = NULL;
	rc = dns_resolve_async(c, name, type, blocking_cb, &b, err);
	if (rc != MX_OK)
		return rc;
	return blocking_finish(c, &b, name, out, err);
}

int dns_query_direct(struct dns_ctx *c, const char *server, const char *name, uint16_t type,
    int timeout_ms, struct dns_answer **out, struct mx_err *err)
{
	struct blocking b = {1, NULL, mx_fiber_current()};
	int rc;

	*out = NULL;
	rc = dns_query_direct_async(c, server, name, type, timeout_ms, blocking_cb, &b, err);
	if (rc != MX_OK)
		return rc;
	return blocking_finish(c, &b, name, out, err);
}

struct blocking_msg {
	int pending;
	unsigned char *reply;
	size_t len;
	char why[80];
	struct mx_fiber *fiber;
};

static void blocking_msg_cb(void *arg, const unsigned char *reply, size_t len, const char *why)
{
	struct blocking_msg *b = arg;

	b->pending = 0;
	if (reply && (b->reply = malloc(len))) {
		memcpy(b->reply, reply, len);
		b->len = len;
	} else {
		snprintf(b->why, sizeof(b->why), "%s", reply ? "out of memory" : why);
	}
	if (b->fiber)
		mx_fiber_wake(b->fiber);
}

int dns_send_tcp(struct dns_ctx *c, const char *server, const unsigned char *wire, size_t len,
    int timeout_ms, unsigned char **reply, size_t *rlen, struct mx_err *err)
{
	struct blocking_msg b = {.pending = 1, .fiber = mx_fiber_current()};
	int rc;

	*reply = NULL;
	*rlen = 0;
	rc = dns_send_tcp_async(c, server, wire, len, timeout_ms, blocking_msg_cb, &b, err);
	if (rc == MX_OK)
		rc = run_until(c, &b.pending, &b, err);
	if (rc == MX_OK && !b.reply)
		rc = mx_err_set(err, MX_EDNS, "no reply from %s over TCP: %s", server, b.why);
	if (rc != MX_OK) {
		free(b.reply);
		return rc;
	}
	*reply = b.reply;
	*rlen = b.len;
	return MX_OK;
}

/* ---- can this machine resolve? ---- */

/* Heap state of the root probe: the callback may run after the probe gave up waiting (the
 * query is still in the resolver), so whoever comes second frees it. */
struct root_probe {
	struct dns_ctx *c;
	bool abandoned, done;
	struct dns_answer *ans;
};

static void root_probe_cb(void *arg, struct dns_answer *ans)
{
	struct root_probe *p = arg;

	if (p->abandoned) {
		p->c->abandoned_probe = NULL;
		dns_answer_free(ans);
		free(p);
		return;
	}
	p->ans = ans;
	p->done = true;
}

int dns_probe_root(struct dns_ctx *c, const char *resolver_conf, int timeout_ms, struct mx_err *err)
{
	struct root_probe *p = calloc(1, sizeof(*p));
	int64_t deadline = now_ms() + timeout_ms;
	const char *hint;
	char where[400];
	int rc;

	if (!p)
		return mx_err_set(err, MX_ENOMEM, "out of memory probing DNS");
	if (c->abandoned_probe) {
		/* an earlier probe is still unanswered */
		free(p);
		return mx_err_set(err, MX_EDNS,
		    "this machine cannot reach DNS: the root zone is still unanswered; check the "
		    "network and that outbound port 53 is open (or give --resolver-conf)");
	}
	p->c = c;
	rc = dns_resolve_async(c, ".", DNS_T_NS, root_probe_cb, p, err);
	if (rc != MX_OK) {
		free(p);
		return rc;
	}
	while (!p->done && now_ms() < deadline) {
		struct pollfd pfd[4];
		int fds[4], n = dns_fds(c, fds, 4), wait = (int)(deadline - now_ms()),
			    t = dns_timeout_ms(c);

		if (t >= 0 && t < wait)
			wait = t;
		for (int i = 0; i < n; i++) {
			pfd[i].fd = fds[i];
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, wait < 0 ? 0 : wait) < 0 && errno != EINTR)
			break;
		dns_process(c, NULL);
	}
	if (resolver_conf)
		snprintf(where, sizeof(where), "the servers that %s names", resolver_conf);
	else
		snprintf(where, sizeof(where), "the DNS root servers");
	hint =
	    resolver_conf ? "check that those servers run" : "give a resolver with --resolver-conf";
	if (!p->done) {
		/* freed by the callback when the resolver gives up, or with the context */
		p->abandoned = true;
		c->abandoned_probe = p;
		return mx_err_set(err, MX_EDNS,
		    "this machine cannot reach DNS: %s did not answer within %d s; check the "
		    "network and that outbound port 53 is open, or %s",
		    where, timeout_ms / 1000, hint);
	}
	if (!p->ans)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory probing DNS");
	else if (p->ans->sec == DNS_SEC_BOGUS)
		rc = mx_err_set(err, MX_EDNSSEC,
		    "this machine's DNSSEC trust anchor does not validate the root zone (%s); "
		    "update the trust anchor (%s)",
		    p->ans->why_bogus ? p->ans->why_bogus : "bogus",
		    resolver_conf ? resolver_conf : ROOT_TRUST_ANCHOR);
	else if (p->ans->rcode != 0 || !p->ans->n)
		rc = mx_err_set(err, MX_EDNS,
		    "this machine cannot reach DNS: asking %s for the root zone gave %s; check "
		    "the network and that outbound port 53 is open, or %s",
		    where, p->ans->rcode != 0 ? dns_rcode_name(p->ans->rcode) : "no answer", hint);
	dns_answer_free(p->ans);
	free(p);
	return rc;
}

/* ---- zone servers ---- */

struct zone_addrs {
	int pending;
	bool enomem;
	char **v;
	size_t n, cap;
	struct mx_fiber *fiber; /* the fiber that waits (run_until), or NULL */
};

static void zone_addr_cb(void *arg, struct dns_answer *ans)
{
	struct zone_addrs *z = arg;

	if (--z->pending == 0 && z->fiber)
		mx_fiber_wake(z->fiber);
	if (!ans) {
		z->enomem = true;
		return;
	}
	/* An address the validator rejected is not one the zone really has. */
	for (size_t i = 0; ans->sec != DNS_SEC_BOGUS && i < ans->n; i++) {
		const struct dns_rr *rr = &ans->rr[i];

		if (rr->type != DNS_T_A && rr->type != DNS_T_AAAA)
			continue;
		if (z->n == z->cap) {
			size_t cap = z->cap ? z->cap * 2 : 8;
			char **v = realloc(z->v, cap * sizeof(*v));

			if (!v) {
				z->enomem = true;
				break;
			}
			z->v = v;
			z->cap = cap;
		}
		z->v[z->n] = strdup(rr->u.addr);
		if (!z->v[z->n]) {
			z->enomem = true;
			break;
		}
		z->n++;
	}
	dns_answer_free(ans);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dns_zone_servers(
    struct dns_ctx *c, const char *zone, char ***out_addrs, size_t *out_n, struct mx_err *err)
{
	struct dns_answer *ns = NULL;
	struct zone_addrs z = {.fiber = mx_fiber_current()};
	int rc, wrc;
	size_t k = 0;

	*out_addrs = NULL;
	*out_n = 0;
	rc = dns_resolve(c, zone, DNS_T_NS, &ns, err);
	if (rc != MX_OK)
		goto out;
	if (ns->sec == DNS_SEC_BOGUS) {
		rc = mx_err_set(err, MX_EDNSSEC,
		    "the NS records of %s failed DNSSEC validation (%s); fix the zone's signatures "
		    "or DS record",
		    ns->qname, ns->why_bogus ? ns->why_bogus : "no reason given");
		goto out;
	}
	if (ns->rcode != LDNS_RCODE_NOERROR || ns->n == 0) {
		rc = mx_err_set(err, MX_EDNS,
		    "%s has no NS records (%s); check that it is a delegated zone", ns->qname,
		    ns->rcode == 0 ? "no data" : dns_rcode_name(ns->rcode));
		if (err)
			err->dns_rcode = ns->rcode;
		goto out;
	}
	for (size_t i = 0; i < ns->n && rc == MX_OK; i++) {
		static const uint16_t types[] = {DNS_T_A, DNS_T_AAAA};

		for (size_t t = 0; t < 2 && rc == MX_OK; t++) {
			rc =
			    dns_resolve_async(c, ns->rr[i].u.host, types[t], zone_addr_cb, &z, err);
			if (rc == MX_OK)
				z.pending++;
		}
	}
	/* Wait even after a failed start: started lookups point at z on this stack. */
	wrc = run_until(c, &z.pending, &z, rc == MX_OK ? err : NULL);
	if (rc == MX_OK)
		rc = wrc;
	if (rc == MX_OK && z.enomem)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory looking up the servers of %s", zone);
	if (rc != MX_OK)
		goto out;
	if (z.n == 0) {
		rc = mx_err_set(err, MX_EDNS,
		    "none of the name servers of %s has an address the resolver can find", zone);
		goto out;
	}
	qsort(z.v, z.n, sizeof(*z.v), cmp_str);
	for (size_t i = 0; i < z.n; i++) {
		if (k > 0 && strcmp(z.v[k - 1], z.v[i]) == 0) {
			free(z.v[i]);
			continue;
		}
		z.v[k++] = z.v[i];
	}
	z.n = k;
	*out_addrs = z.v;
	*out_n = z.n;
	z.v = NULL;
	z.n = 0;
out:
	dns_strv_free(z.v, z.n);
	dns_answer_free(ns);
	return rc;
}

void dns_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
