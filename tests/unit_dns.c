/* SPDX-License-Identifier: MIT */
/* tests/unit_dns.c — the DNS module without network: answer conversion from wire packets
 * built with ldns, direct queries against an in-process UDP/TCP responder on 127.0.0.1
 * (plain answer, dropped first query, truncation to TCP, forged id, timeout, 500 at once),
 * and DNS messages over non-blocking TCP, blocking and from fibers that yield to the loop
 * (answer, refused connection, a server that never replies, cancelling, a cancelled fiber). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "check.h"
#include "dns.h"
#include "fiber.h"

/* ---- building responses ---- */

/* A response to qname/qtype carrying the RRs given in presentation form. */
static ldns_pkt *make_pkt(const char *qname, uint16_t qtype, int rcode, bool aa,
    const char *const *answer, const char *const *authority)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype, LDNS_RR_CLASS_IN, 0);

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, aa);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (int s = 0; s < 2; s++) {
		const char *const *list = s == 0 ? answer : authority;

		for (size_t i = 0; list && list[i]; i++) {
			ldns_rr *rr = NULL;

			if (ldns_rr_new_frm_str(&rr, list[i], 0, NULL, NULL) != LDNS_STATUS_OK) {
				fprintf(stderr, "bad test RR: %s\n", list[i]);
				abort();
			}
			ldns_pkt_push_rr(
			    p, s == 0 ? LDNS_SECTION_ANSWER : LDNS_SECTION_AUTHORITY, rr);
		}
	}
	return p;
}

static struct dns_answer *convert(const char *qname, uint16_t qtype, int rcode,
    const char *const *answer, const char *const *authority)
{
	ldns_pkt *p = make_pkt(qname, qtype, rcode, true, answer, authority);
	uint8_t *wire = NULL;
	size_t len = 0;
	struct dns_answer *a = NULL;
	struct mx_err err = {0};

	CHECK(ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK);
	CHECK_INT(dns_answer_from_wire(wire, len, qname, qtype, &a, &err), MX_OK);
	free(wire);
	ldns_pkt_free(p);
	if (!a) {
		fprintf(stderr, "conversion of %s failed: %s\n", qname, err.msg);
		exit(1);
	}
	return a;
}

static void test_mx(void)
{
	const char *an[] = {"Contoso.TEST. 3600 IN MX 0 contoso-test.mail.protection.outlook.test.",
	    "contoso.test. 300 IN MX 10 Backup.Contoso.test.", NULL};
	struct dns_answer *a = convert("Contoso.Test.", DNS_T_MX, 0, an, NULL), *d;

	CHECK_STR(a->qname, "contoso.test");
	CHECK_INT(a->qtype, DNS_T_MX);
	CHECK_INT(a->rcode, 0);
	CHECK(!a->nxdomain && !a->nodata && a->aa);
	CHECK_INT(a->sec, DNS_SEC_INDETERMINATE);
	CHECK_INT(a->n, 2);
	CHECK_INT(a->ttl, 300);
	CHECK_STR(a->rr[0].owner, "contoso.test");
	CHECK_INT(a->rr[0].u.mx.pref, 0);
	CHECK_STR(a->rr[0].u.mx.host, "contoso-test.mail.protection.outlook.test");
	CHECK_INT(a->rr[1].u.mx.pref, 10);
	CHECK_STR(a->rr[1].u.mx.host, "backup.contoso.test");
	CHECK(a->rr[0].text && strstr(a->rr[0].text, "MX") && !strchr(a->rr[0].text, '\n'));
	d = dns_answer_dup(a);
	CHECK(d && d->n == 2 && d->rr[1].u.mx.host != a->rr[1].u.mx.host);
	CHECK_STR(d->rr[1].u.mx.host, "backup.contoso.test");
	CHECK_STR(d->rr[0].text, a->rr[0].text);
	dns_answer_free(d);
	dns_answer_free(a);
}

static void test_txt(void)
{
	const char *an[] = {
	    "contoso.test. 300 IN TXT \"v=spf1 include:spf.protection.outlook.test\" "
	    "\" -all\"",
	    "contoso.test. 300 IN TXT \"MS=ms12345678\"", NULL};
	struct dns_answer *a = convert("contoso.test", DNS_T_TXT, 0, an, NULL);

	CHECK_INT(a->n, 2);
	CHECK_STR(a->rr[0].u.txt, "v=spf1 include:spf.protection.outlook.test -all");
	CHECK_STR(a->rr[1].u.txt, "MS=ms12345678");
	dns_answer_free(a);
}

static void test_tlsa(void)
{
	const char *an[] = {"_25._tcp.mx.contoso.test. 600 IN TLSA 3 1 1 "
			    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	    NULL};
	struct dns_answer *a = convert("_25._tcp.mx.contoso.test", DNS_T_TLSA, 0, an, NULL), *d;

	CHECK_INT(a->n, 1);
	CHECK_INT(a->ttl, 600);
	CHECK_INT(a->rr[0].u.tlsa.usage, 3);
	CHECK_INT(a->rr[0].u.tlsa.selector, 1);
	CHECK_INT(a->rr[0].u.tlsa.mtype, 1);
	CHECK_INT(a->rr[0].u.tlsa.len, 32);
	CHECK(a->rr[0].u.tlsa.data[1] == 0x11 && a->rr[0].u.tlsa.data[31] == 0xff);
	d = dns_answer_dup(a);
	CHECK(d && d->rr[0].u.tlsa.len == 32 &&
	      memcmp(d->rr[0].u.tlsa.data, a->rr[0].u.tlsa.data, 32) == 0);
	dns_answer_free(d);
	dns_answer_free(a);
}

static void test_soa_ns_addr(void)
{
	const char *soa[] = {"contoso.test. 3600 IN SOA ns1.contoso.test. hostmaster.contoso.test. "
			     "2024010101 7200 3600 1209600 300",
	    NULL};
	const char *ns[] = {"contoso.test. 86400 IN NS ns1.contoso.test.",
	    "contoso.test. 86400 IN NS NS2.contoso.test.", NULL};
	const char *addr[] = {"ns1.contoso.test. 60 IN A 192.0.2.1",
	    "ns1.contoso.test. 60 IN AAAA 2001:db8::53", NULL};
	struct dns_answer *a;

	a = convert("contoso.test", DNS_T_SOA, 0, soa, NULL);
	CHECK_INT(a->n, 1);
	CHECK_STR(a->rr[0].u.soa.mname, "ns1.contoso.test");
	CHECK_STR(a->rr[0].u.soa.rname, "hostmaster.contoso.test");
	CHECK_INT(a->rr[0].u.soa.serial, 2024010101u);
	CHECK_INT(a->rr[0].u.soa.refresh, 7200);
	CHECK_INT(a->rr[0].u.soa.retry, 3600);
	CHECK_INT(a->rr[0].u.soa.expire, 1209600);
	CHECK_INT(a->rr[0].u.soa.minimum, 300);
	dns_answer_free(a);

	a = convert("contoso.test", DNS_T_NS, 0, ns, NULL);
	CHECK_INT(a->n, 2);
	CHECK_STR(a->rr[0].u.host, "ns1.contoso.test");
	CHECK_STR(a->rr[1].u.host, "ns2.contoso.test");
	dns_answer_free(a);

	a = convert("ns1.contoso.test", DNS_T_A, 0, addr, NULL);
	CHECK_INT(a->n, 1);
	CHECK_STR(a->rr[0].u.addr, "192.0.2.1");
	dns_answer_free(a);
	a = convert("ns1.contoso.test", DNS_T_AAAA, 0, addr, NULL);
	CHECK_INT(a->n, 1);
	CHECK_STR(a->rr[0].u.addr, "2001:db8::53");
	dns_answer_free(a);
}

static void test_ds_dnskey(void)
{
	const char *ds[] = {"contoso.test. 3600 IN DS 12345 13 2 "
			    "0011223344556677889900112233445566778899001122334455667788990011",
	    NULL};
	const char *key[] = {
	    "contoso.test. 3600 IN DNSKEY 257 3 13 "
	    "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0"
	    "rAK9iUzy1L53eKGQ==",
	    NULL};
	struct dns_answer *a;

	a = convert("contoso.test", DNS_T_DS, 0, ds, NULL);
	CHECK_INT(a->n, 1);
	CHECK_INT(a->rr[0].u.ds.keytag, 12345);
	CHECK_INT(a->rr[0].u.ds.alg, 13);
	CHECK_INT(a->rr[0].u.ds.digest_type, 2);
	dns_answer_free(a);
	a = convert("contoso.test", DNS_T_DNSKEY, 0, key, NULL);
	CHECK_INT(a->n, 1);
	CHECK_INT(a->rr[0].u.dnskey.flags, 257);
	CHECK_INT(a->rr[0].u.dnskey.alg, 13);
	CHECK(a->rr[0].u.dnskey.keytag != 0);
	dns_answer_free(a);
}

static void test_cname_chain(void)
{
	const char *an[] = {"www.contoso.test. 300 IN CNAME alias.contoso.test.",
	    "alias.contoso.test. 200 IN CNAME final.fabrikam.test.",
	    "final.fabrikam.test. 120 IN A 192.0.2.7", "final.fabrikam.test. 90 IN A 192.0.2.8",
	    NULL};
	struct dns_answer *a = convert("www.contoso.test", DNS_T_A, 0, an, NULL);

	CHECK_INT(a->n, 2);
	CHECK_INT(a->ttl, 90);
	CHECK_STR(a->rr[0].owner, "final.fabrikam.test");
	CHECK_STR(a->rr[0].u.addr, "192.0.2.7");
	CHECK_STR(a->rr[1].u.addr, "192.0.2.8");
	CHECK(!a->nodata);
	dns_answer_free(a);

	a = convert("www.contoso.test", DNS_T_CNAME, 0, an, NULL);
	CHECK_INT(a->n, 2);
	CHECK_STR(a->rr[0].u.host, "alias.contoso.test");
	dns_answer_free(a);
}

static void test_negative(void)
{
	const char *soa[] = {"contoso.test. 3600 IN SOA ns1.contoso.test. hostmaster.contoso.test. "
			     "1 7200 3600 1209600 300",
	    NULL};
	struct dns_answer *a, *d;
	struct mx_err err = {0};
	const unsigned char junk[] = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x05};

	a = convert("nope.contoso.test", DNS_T_MX, LDNS_RCODE_NXDOMAIN, NULL, soa);
	CHECK_INT(a->rcode, 3);
	CHECK(a->nxdomain && !a->nodata);
	CHECK_INT(a->n, 0);
	CHECK_INT(a->ttl, 300);
	CHECK_STR(a->zone, "contoso.test");
	dns_answer_free(a);

	a = convert("contoso.test", DNS_T_TLSA, 0, NULL, soa);
	CHECK(a->nodata && !a->nxdomain);
	CHECK_INT(a->n, 0);
	dns_answer_free(a);

	/* No SOA at a name inside the zone: the authority SOA names the zone that holds it. */
	a = convert("eu.contoso.test", DNS_T_SOA, 0, NULL, soa);
	CHECK(a->nodata);
	CHECK_STR(a->zone, "contoso.test");
	d = dns_answer_dup(a);
	CHECK(d && d->zone && d->zone != a->zone && !strcmp(d->zone, "contoso.test"));
	dns_answer_free(d);
	dns_answer_free(a);

	a = convert("contoso.test", DNS_T_A, LDNS_RCODE_SERVFAIL, NULL, NULL);
	CHECK(!a->nodata && !a->nxdomain);
	CHECK_INT(a->rcode, 2);
	dns_answer_free(a);

	a = (struct dns_answer *)1;
	CHECK_INT(dns_answer_from_wire(junk, sizeof(junk), "x.test", DNS_T_A, &a, &err), MX_EDNS);
	CHECK(a == NULL);
	CHECK(strstr(err.msg, "x.test") != NULL);
}

static void test_names(void)
{
	CHECK_STR(dns_rcode_name(-1), "TIMEOUT");
	CHECK_STR(dns_rcode_name(0), "NOERROR");
	CHECK_STR(dns_rcode_name(3), "NXDOMAIN");
	CHECK_STR(dns_sec_name(DNS_SEC_BOGUS), "bogus");
	CHECK_STR(dns_sec_name(DNS_SEC_INDETERMINATE), "indeterminate");
	CHECK(dns_answer_dup(NULL) == NULL);
	dns_answer_free(NULL);
}

/* ---- an in-process authoritative server ---- */

struct responder {
	int udp4, udp6, tcp, silent;
	uint16_t port, silent_port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int drop_seen, udp_seen, tcp_seen, bad_query;
};

static ldns_pkt *respond(const ldns_pkt *q, bool over_tcp, bool *drop)
{
	const ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	char *name = ldns_rdf2str(ldns_rr_owner(qr));
	char rr[128];
	const char *an[4] = {NULL};
	ldns_pkt *p = NULL;
	unsigned i;

	*drop = false;
	if (strcmp(name, "ok.test.") == 0) {
		an[0] = "ok.test. 123 IN A 192.0.2.1";
		p = make_pkt(name, ldns_rr_get_type(qr), 0, true, an, NULL);
	} else if (strcmp(name, "drop.test.") == 0) {
		an[0] = "drop.test. 50 IN A 192.0.2.9";
		p = make_pkt(name, ldns_rr_get_type(qr), 0, true, an, NULL);
	} else if (strcmp(name, "tc.test.") == 0) {
		an[0] = "tc.test. 77 IN TXT \"part one,\" \" part two,\" \" part three\"";
		p = make_pkt(name, ldns_rr_get_type(qr), 0, true, over_tcp ? an : NULL, NULL);
		ldns_pkt_set_tc(p, !over_tcp);
	} else if (strcmp(name, "nx.test.") == 0) {
		an[0] = "test. 60 IN SOA ns.test. h.test. 7 1 1 1 30";
		p = make_pkt(name, ldns_rr_get_type(qr), LDNS_RCODE_NXDOMAIN, true, NULL, an);
	} else if (sscanf(name, "q%u.many.test.", &i) == 1) {
		snprintf(rr, sizeof(rr), "%s 30 IN A 10.0.%u.%u", name, i / 256, i % 256);
		an[0] = rr;
		p = make_pkt(name, ldns_rr_get_type(qr), 0, true, an, NULL);
	} else {
		p = make_pkt(name, ldns_rr_get_type(qr), LDNS_RCODE_REFUSED, false, NULL, NULL);
	}
	ldns_pkt_set_id(p, ldns_pkt_id(q));
	free(name);
	return p;
}

static void check_query(struct responder *r, const ldns_pkt *q)
{
	if (ldns_pkt_rd(q) || !ldns_pkt_edns_do(q) || ldns_pkt_edns_udp_size(q) != 1232 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(q)) != 1)
		atomic_fetch_add(&r->bad_query, 1);
}

static void serve_udp(struct responder *r, int fd)
{
	uint8_t buf[4096], *out = NULL;
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	ldns_pkt *q = NULL, *p;
	size_t olen;
	bool drop;

	if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
		return;
	atomic_fetch_add(&r->udp_seen, 1);
	check_query(r, q);
	p = respond(q, false, &drop);
	{
		char *qn = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0)));

		if (strcmp(qn, "drop.test.") == 0 && atomic_fetch_add(&r->drop_seen, 1) == 0)
			drop = true;
		if (strcmp(qn, "spoof.test.") == 0) {
			/* A forged answer first (wrong id), then the real one. */
			const char *fake[] = {"spoof.test. 5 IN A 6.6.6.6", NULL};
			const char *real[] = {"spoof.test. 5 IN A 192.0.2.2", NULL};
			ldns_pkt *f = make_pkt(qn, DNS_T_A, 0, true, fake, NULL);

			ldns_pkt_set_id(f, (uint16_t)(ldns_pkt_id(q) + 1));
			if (ldns_pkt2wire(&out, f, &olen) == LDNS_STATUS_OK)
				sendto(fd, out, olen, 0, (struct sockaddr *)&from, flen);
			free(out);
			out = NULL;
			ldns_pkt_free(f);
			ldns_pkt_free(p);
			p = make_pkt(qn, DNS_T_A, 0, true, real, NULL);
			ldns_pkt_set_id(p, ldns_pkt_id(q));
		}
		free(qn);
	}
	if (!drop && ldns_pkt2wire(&out, p, &olen) == LDNS_STATUS_OK)
		sendto(fd, out, olen, 0, (struct sockaddr *)&from, flen);
	free(out);
	ldns_pkt_free(p);
	ldns_pkt_free(q);
}

static void serve_tcp(struct responder *r)
{
	int fd = accept(r->tcp, NULL, NULL);
	struct timeval tv = {2, 0};
	uint8_t *in = NULL, *out = NULL, *framed = NULL;
	size_t ilen = 0, olen = 0;
	ldns_pkt *q = NULL, *p = NULL;
	bool drop;

	if (fd < 0)
		return;
	atomic_fetch_add(&r->tcp_seen, 1);
	in = ldns_tcp_read_wire_timeout(fd, &ilen, tv);
	if (!in || ldns_wire2pkt(&q, in, ilen) != LDNS_STATUS_OK)
		goto out;
	check_query(r, q);
	p = respond(q, true, &drop);
	if (ldns_pkt2wire(&out, p, &olen) != LDNS_STATUS_OK)
		goto out;
	framed = malloc(olen + 2);
	ldns_write_uint16(framed, (uint16_t)olen);
	memcpy(framed + 2, out, olen);
	if (write(fd, framed, olen + 2) < 0)
		perror("tcp responder write");
out:
	free(framed);
	free(out);
	free(in);
	ldns_pkt_free(p);
	ldns_pkt_free(q);
	close(fd);
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd pfd[3] = {
		    {r->udp4, POLLIN, 0}, {r->tcp, POLLIN, 0}, {r->udp6, POLLIN, 0}};

		if (poll(pfd, r->udp6 >= 0 ? 3 : 2, 50) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			serve_udp(r, r->udp4);
		if (pfd[1].revents & POLLIN)
			serve_tcp(r);
		if (r->udp6 >= 0 && (pfd[2].revents & POLLIN))
			serve_udp(r, r->udp6);
	}
	return NULL;
}

static int bind_port(int type, int family, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(family, type, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		s->sin6_addr = in6addr_loopback;
		len = sizeof(*s);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		close(fd);
		return -1;
	}
	if (bound) {
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

static int responder_start(struct responder *r)
{
	memset(r, 0, sizeof(*r));
	for (int tries = 0; tries < 20; tries++) {
		r->udp4 = bind_port(SOCK_DGRAM, AF_INET, 0, &r->port);
		r->tcp = bind_port(SOCK_STREAM, AF_INET, r->port, NULL);
		if (r->udp4 >= 0 && r->tcp >= 0)
			break;
		close(r->udp4);
		r->udp4 = -1;
	}
	if (r->udp4 < 0 || r->tcp < 0)
		return -1;
	r->udp6 = bind_port(SOCK_DGRAM, AF_INET6, r->port, NULL);
	r->silent = bind_port(SOCK_DGRAM, AF_INET, 0, &r->silent_port);
	return pthread_create(&r->thread, NULL, responder_main, r) == 0 ? 0 : -1;
}

static void responder_stop(struct responder *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->udp4);
	close(r->tcp);
	close(r->silent);
	if (r->udp6 >= 0)
		close(r->udp6);
}

/* ---- direct queries ---- */

static int64_t ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct many {
	int answered, right;
};

static void many_cb(void *arg, struct dns_answer *a)
{
	struct many *m = arg;
	unsigned i;
	char want[32];

	m->answered++;
	if (a && a->n == 1 && sscanf(a->qname, "q%u.many.test", &i) == 1) {
		snprintf(want, sizeof(want), "10.0.%u.%u", i / 256, i % 256);
		if (strcmp(a->rr[0].u.addr, want) == 0 && a->rcode == 0)
			m->right++;
	}
	dns_answer_free(a);
}

static void flag_cb(void *arg, struct dns_answer *a)
{
	*(int *)arg += 1;
	dns_answer_free(a);
}

static void test_direct(void)
{
	struct responder r;
	struct dns_ctx *c = NULL;
	struct mx_err err = {0};
	struct dns_answer *a = NULL;
	char srv[64], want[64];
	int64_t t0;
	int fds[4], called = 0;
	struct many m = {0, 0};
	enum { MANY = 500 };

	if (responder_start(&r) < 0) {
		fprintf(stderr, "cannot start the test responder\n");
		check_failures++;
		return;
	}
	CHECK_INT(dns_ctx_new(&c, NULL, &err), MX_OK);
	if (!c) {
		fprintf(stderr, "dns_ctx_new: %s\n", err.msg);
		check_failures++;
		responder_stop(&r);
		return;
	}
	CHECK(dns_fds(c, fds, 4) >= 2);
	CHECK_INT(dns_timeout_ms(c), -1);
	snprintf(srv, sizeof(srv), "127.0.0.1@%u", r.port);

	/* Plain answer; server text normalised. */
	CHECK_INT(dns_query_direct(c, srv, "OK.test.", DNS_T_A, 2000, &a, &err), MX_OK);
	if (a) {
		CHECK_STR(a->qname, "ok.test");
		CHECK_INT(a->rcode, 0);
		CHECK(a->aa);
		CHECK_INT(a->n, 1);
		CHECK_INT(a->ttl, 123);
		CHECK_INT(a->sec, DNS_SEC_INDETERMINATE);
		CHECK_STR(a->server, srv);
		CHECK_STR(a->n ? a->rr[0].u.addr : NULL, "192.0.2.1");
	}
	dns_answer_free(a);

	/* The callback runs from the loop, never from inside the _async call. */
	CHECK_INT(dns_query_direct_async(c, srv, "ok.test", DNS_T_A, 2000, flag_cb, &called, &err),
	    MX_OK);
	CHECK_INT(called, 0);
	CHECK_INT(dns_pending(c), 1);
	CHECK(dns_timeout_ms(c) >= 0 && dns_timeout_ms(c) <= 400);
	CHECK_INT(dns_wait(c, &err), MX_OK);
	CHECK_INT(called, 1);
	CHECK_INT(dns_pending(c), 0);

	/* First datagram dropped: answered after one retransmission. */
	t0 = ms();
	CHECK_INT(dns_query_direct(c, srv, "drop.test", DNS_T_A, 3000, &a, &err), MX_OK);
	CHECK(ms() - t0 >= 350);
	CHECK(a && a->rcode == 0 && a->n == 1);
	CHECK_INT(atomic_load(&r.drop_seen), 2);
	dns_answer_free(a);

	/* Truncated over UDP: the full answer comes over TCP. */
	CHECK_INT(dns_query_direct(c, srv, "tc.test", DNS_T_TXT, 2000, &a, &err), MX_OK);
	CHECK_INT(atomic_load(&r.tcp_seen), 1);
	CHECK(a && a->n == 1 && a->rcode == 0 && a->aa);
	if (a && a->n == 1)
		CHECK_STR(a->rr[0].u.txt, "part one, part two, part three");
	dns_answer_free(a);

	/* A datagram with the wrong id is ignored. */
	CHECK_INT(dns_query_direct(c, srv, "spoof.test", DNS_T_A, 2000, &a, &err), MX_OK);
	CHECK(a && a->n == 1);
	if (a && a->n == 1)
		CHECK_STR(a->rr[0].u.addr, "192.0.2.2");
	dns_answer_free(a);

	CHECK_INT(dns_query_direct(c, srv, "nx.test", DNS_T_MX, 2000, &a, &err), MX_OK);
	CHECK(a && a->nxdomain && a->rcode == 3 && a->n == 0 && a->ttl == 30);
	dns_answer_free(a);

	/* A server that never answers. */
	snprintf(want, sizeof(want), "127.0.0.1@%u", r.silent_port);
	t0 = ms();
	CHECK_INT(dns_query_direct(c, want, "ok.test", DNS_T_A, 600, &a, &err), MX_OK);
	CHECK(ms() - t0 >= 550 && ms() - t0 < 2000);
	CHECK(a && a->rcode == -1 && a->n == 0 && !a->aa);
	CHECK_STR(a ? a->server : NULL, want);
	dns_answer_free(a);

	/* Many at once on the shared socket. */
	for (int i = 0; i < MANY; i++) {
		char name[64];

		snprintf(name, sizeof(name), "q%d.many.test", i);
		if (dns_query_direct_async(c, srv, name, DNS_T_A, 3000, many_cb, &m, &err) != MX_OK)
			fprintf(stderr, "query %d: %s\n", i, err.msg);
	}
	CHECK_INT(dns_pending(c), MANY);
	CHECK_INT(dns_wait(c, &err), MX_OK);
	CHECK_INT(m.answered, MANY);
	CHECK_INT(m.right, MANY);

	/* IPv6, when the host has ::1. */
	if (r.udp6 >= 0) {
		snprintf(want, sizeof(want), "::1@%u", r.port);
		CHECK_INT(dns_query_direct(c, want, "ok.test", DNS_T_A, 2000, &a, &err), MX_OK);
		CHECK(a && a->rcode == 0 && a->n == 1);
		CHECK_STR(a ? a->server : NULL, want);
		dns_answer_free(a);
	}

	/* Bad input is refused at once. */
	CHECK_INT(
	    dns_query_direct(c, "ns1.contoso.test", "ok.test", DNS_T_A, 100, &a, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "ns1.contoso.test") != NULL);
	CHECK_INT(
	    dns_query_direct(c, "127.0.0.1@70000", "ok.test", DNS_T_A, 100, &a, &err), MX_EINVAL);
	CHECK_INT(dns_query_direct(c, srv, "a..b", DNS_T_A, 100, &a, &err), MX_EINVAL);
	CHECK(a == NULL);
	CHECK_INT(dns_pending(c), 0);

	/* Cancelling: the queries of one owner go, in flight or answered, callbacks unrun; the
	 * others' stay. */
	{
		int mine = 0, other = 0;

		CHECK_INT(
		    dns_query_direct_async(c, srv, "ok.test", DNS_T_A, 2000, flag_cb, &mine, &err),
		    MX_OK);
		CHECK_INT(
		    dns_query_direct_async(c, srv, "ok.test", DNS_T_MX, 2000, flag_cb, &mine, &err),
		    MX_OK);
		CHECK_INT(
		    dns_query_direct_async(c, srv, "ok.test", DNS_T_A, 2000, flag_cb, &other, &err),
		    MX_OK);
		dns_cancel(c, &mine);
		CHECK_INT(dns_pending(c), 1);
		CHECK_INT(dns_wait(c, &err), MX_OK);
		CHECK_INT(mine, 0);
		CHECK_INT(other, 1);
		/* A second round: the same owner can be cancelled again. */
		CHECK_INT(
		    dns_query_direct_async(c, srv, "ok.test", DNS_T_A, 2000, flag_cb, &mine, &err),
		    MX_OK);
		CHECK_INT(
		    dns_query_direct_async(c, srv, "ok.test", DNS_T_A, 2000, flag_cb, &other, &err),
		    MX_OK);
		dns_cancel(c, &mine);
		CHECK_INT(dns_wait(c, &err), MX_OK);
		CHECK_INT(mine, 0);
		CHECK_INT(other, 2);
		CHECK_INT(dns_pending(c), 0);
		dns_cancel(c, &mine); /* nothing left: harmless */
		dns_cancel(NULL, &mine);
	}

	/* Freeing with queries in flight. */
	CHECK_INT(dns_query_direct_async(c, srv, "ok.test", DNS_T_A, 2000, flag_cb, &called, &err),
	    MX_OK);
	dns_ctx_free(c);
	responder_stop(&r);
	CHECK_INT(atomic_load(&r.bad_query), 0);
}

static void test_ctx_errors(void)
{
	struct dns_ctx *c = (struct dns_ctx *)1;
	struct mx_err err = {0};
	char path[] = "/tmp/unit_dns_conf.XXXXXX";
	int fd;

	CHECK_INT(dns_ctx_new(&c, "/nonexistent/unbound.conf", &err), MX_EINVAL);
	CHECK(c == NULL);
	CHECK(strstr(err.msg, "resolver config /nonexistent/unbound.conf") != NULL);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, "server:\n  no-such-option: 42\n", 29) == 29);
	close(fd);
	CHECK_INT(dns_ctx_new(&c, path, &err), MX_EINVAL);
	CHECK(strstr(err.msg, path) != NULL);
	unlink(path);
}

/* ---- DNS messages over TCP ---- */

/* The wire of a query as the direct queries send it (the responder checks the flags). */
static size_t query_wire(const char *name, uint16_t type, uint16_t id, uint8_t *buf, size_t max)
{
	ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, 0);
	uint8_t *w = NULL;
	size_t len = 0;

	ldns_pkt_set_id(q, id);
	ldns_pkt_set_rd(q, false);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ldns_pkt_set_edns_do(q, true);
	if (ldns_pkt2wire(&w, q, &len) != LDNS_STATUS_OK || len > max)
		len = 0;
	else
		memcpy(buf, w, len);
	free(w);
	ldns_pkt_free(q);
	return len;
}

/* The A record of a reply, "" when there is none. */
static void reply_addr(const unsigned char *wire, size_t len, uint16_t id, char *out, size_t max)
{
	ldns_pkt *p = NULL;

	snprintf(out, max, "%s", "");
	if (!wire || ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return;
	if (ldns_pkt_id(p) == id && ldns_rr_list_rr_count(ldns_pkt_answer(p)) == 1) {
		char *a = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));

		snprintf(out, max, "%s", a ? a : "");
		free(a);
	}
	ldns_pkt_free(p);
}

struct tcp_fiber {
	struct dns_ctx *c;
	const char *srv;
	uint16_t id;
	int rc;
	char addr[64];
};

static void tcp_fiber_main(void *arg)
{
	struct tcp_fiber *t = arg;
	uint8_t q[512];
	size_t qlen = query_wire("ok.test.", DNS_T_A, t->id, q, sizeof(q));
	unsigned char *reply = NULL;
	size_t rlen = 0;
	struct mx_err err = {0};

	t->rc = dns_send_tcp(t->c, t->srv, q, qlen, 2000, &reply, &rlen, &err);
	reply_addr(reply, rlen, t->id, t->addr, sizeof(t->addr));
	free(reply);
}

static void msg_flag_cb(void *arg, const unsigned char *reply, size_t len, const char *why)
{
	(void)reply;
	(void)len;
	(void)why;
	*(int *)arg += 1;
}

static void test_tcp_messages(void)
{
	enum { FIBERS = 4 };
	struct responder r;
	struct dns_ctx *c = NULL;
	struct mx_err err = {0};
	struct mx_fiber *f[FIBERS] = {NULL};
	struct tcp_fiber tf[FIBERS];
	unsigned char *reply = NULL;
	uint8_t q[512];
	size_t qlen, rlen = 0;
	char srv[64], addr[64], mute_srv[64];
	int fds[4], nfd, called = 0, mute, left;
	uint16_t mute_port = 0;
	int64_t t0;

	if (responder_start(&r) < 0 || dns_ctx_new(&c, NULL, &err) != MX_OK) {
		fprintf(stderr, "cannot start the test responder or resolver: %s\n", err.msg);
		check_failures++;
		return;
	}
	snprintf(srv, sizeof(srv), "127.0.0.1@%u", r.port);
	nfd = dns_fds(c, fds, 4);

	/* Blocking: the reply's wire, as sent. */
	qlen = query_wire("ok.test.", DNS_T_A, 4711, q, sizeof(q));
	CHECK(qlen > 12);
	CHECK_INT(dns_send_tcp(c, srv, q, qlen, 2000, &reply, &rlen, &err), MX_OK);
	reply_addr(reply, rlen, 4711, addr, sizeof(addr));
	CHECK_STR(addr, "192.0.2.1");
	free(reply);
	reply = NULL;
	CHECK_INT(dns_pending(c), 0);

	/* From fibers: each yields at once, and the loop (poll on dns_fds, dns_process) brings
	 * every reply in and wakes its fiber. */
	for (int i = 0; i < FIBERS; i++) {
		tf[i] = (struct tcp_fiber){.c = c, .srv = srv, .id = (uint16_t)(100 + i), .rc = -1};
		CHECK_INT(mx_fiber_new(&f[i], tcp_fiber_main, &tf[i], &err), MX_OK);
		if (f[i]) {
			mx_fiber_resume(f[i]);
			CHECK(!mx_fiber_done(f[i])); /* it waits: dns_send_tcp did not block */
		}
	}
	CHECK_INT(dns_pending(c), FIBERS);
	CHECK(dns_fds(c, fds, 4) == nfd + 1); /* the TCP connections' epoll descriptor */
	t0 = ms();
	for (left = FIBERS; left > 0 && ms() - t0 < 5000;) {
		struct pollfd pfd[4];
		int n = dns_fds(c, fds, 4);

		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){fds[i], POLLIN, 0};
		poll(pfd, (nfds_t)n, dns_timeout_ms(c));
		dns_process(c, NULL);
		left = 0;
		for (int i = 0; i < FIBERS; i++) {
			if (f[i] && !mx_fiber_done(f[i]) && mx_fiber_ready(f[i]))
				mx_fiber_resume(f[i]);
			left += f[i] && !mx_fiber_done(f[i]);
		}
	}
	for (int i = 0; i < FIBERS; i++) {
		CHECK(f[i] && mx_fiber_done(f[i]));
		CHECK_INT(tf[i].rc, MX_OK);
		CHECK_STR(tf[i].addr, "192.0.2.1");
		mx_fiber_free(f[i]);
	}
	CHECK_INT(dns_pending(c), 0);

	/* Nothing listens: the connection is refused, said so. */
	mute = bind_port(SOCK_STREAM, AF_INET, 0, &mute_port);
	close(mute);
	snprintf(mute_srv, sizeof(mute_srv), "127.0.0.1@%u", mute_port);
	t0 = ms();
	CHECK_INT(dns_send_tcp(c, mute_srv, q, qlen, 2000, &reply, &rlen, &err), MX_EDNS);
	CHECK(ms() - t0 < 500); /* said at once, not at the deadline */
	CHECK(strstr(err.msg, "connection refused") != NULL);
	CHECK(strstr(err.msg, mute_srv) != NULL);
	CHECK(reply == NULL);

	/* A server that takes the connection and never replies: its deadline. */
	mute = bind_port(SOCK_STREAM, AF_INET, 0, &mute_port);
	snprintf(mute_srv, sizeof(mute_srv), "127.0.0.1@%u", mute_port);
	t0 = ms();
	CHECK_INT(dns_send_tcp(c, mute_srv, q, qlen, 400, &reply, &rlen, &err), MX_EDNS);
	CHECK(ms() - t0 >= 350 && ms() - t0 < 2000);
	CHECK(strstr(err.msg, "no reply in time") != NULL);

	/* A fiber waiting for that server is cancelled (mx_fiber_cancel): its message is
	 * dropped, dns_send_tcp fails at its next resume, saying it was stopped, and nothing is
	 * left in flight; the fiber's next exchange fails unsent. */
	tf[0] = (struct tcp_fiber){.c = c, .srv = mute_srv, .id = 7, .rc = -1};
	CHECK_INT(mx_fiber_new(&f[0], tcp_fiber_main, &tf[0], &err), MX_OK);
	if (f[0]) {
		mx_fiber_resume(f[0]);
		CHECK(!mx_fiber_done(f[0]));
		CHECK_INT(dns_pending(c), 1);
		mx_fiber_cancel(f[0]);
		CHECK(mx_fiber_ready(f[0]));
		t0 = ms();
		mx_fiber_resume(f[0]);
		CHECK(mx_fiber_done(f[0]));
		CHECK(ms() - t0 < 100);
		CHECK_INT(tf[0].rc, MX_EDNS);
		CHECK_INT(dns_pending(c), 0);
		mx_fiber_free(f[0]);
	}

	/* Cancelled: no callback, nothing left. */
	CHECK_INT(
	    dns_send_tcp_async(c, mute_srv, q, qlen, 2000, msg_flag_cb, &called, &err), MX_OK);
	CHECK_INT(dns_pending(c), 1);
	dns_cancel(c, &called);
	CHECK_INT(dns_pending(c), 0);
	CHECK_INT(called, 0);

	/* Bad input is refused at once. */
	CHECK_INT(dns_send_tcp(c, "ns1.test", q, qlen, 100, &reply, &rlen, &err), MX_EINVAL);
	CHECK_INT(dns_send_tcp(c, srv, q, 5, 100, &reply, &rlen, &err), MX_EINVAL);

	/* Freeing with a message in flight. */
	CHECK_INT(
	    dns_send_tcp_async(c, mute_srv, q, qlen, 2000, msg_flag_cb, &called, &err), MX_OK);
	dns_ctx_free(c);
	CHECK_INT(called, 0);
	close(mute);
	mx_fiber_release_spares();
	responder_stop(&r);
	CHECK_INT(atomic_load(&r.bad_query), 0);
}

int main(void)
{
	test_names();
	test_mx();
	test_txt();
	test_tlsa();
	test_soa_ns_addr();
	test_ds_dnskey();
	test_cname_chain();
	test_negative();
	test_ctx_errors();
	test_direct();
	test_tcp_messages();
	return CHECK_DONE();
}
