/* SPDX-License-Identifier: MIT */
/* tests/unit_dane.c — the connector-mode verdict (ob_verdict) from per-host facts, TLSA
 * classification, the cmdlet line and the JSON shape, without DNS; and the probe's SMTP
 * state machine against tiny in-process servers on 127.0.0.1 (refused, silent, no
 * STARTTLS, a banner that refuses us), with its time-outs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dane.h"
#include "outbound.h"

/* ---- facts → verdict ---- */

static struct ob_host host(const char *name, enum ob_tlsa tlsa, enum dane_probe_status probe)
{
	struct ob_host h;

	memset(&h, 0, sizeof(h));
	snprintf(h.host, sizeof(h.host), "%s", name);
	h.preference = 10;
	h.addr_sec = DNS_SEC_SECURE;
	h.naddr = 1;
	h.tlsa = tlsa;
	h.probe = probe;
	h.starttls = OB_UNKNOWN;
	h.pkix = OB_UNKNOWN;
	return h;
}

/* A domain with an MX RRset that is secure, no MTA-STS, and the given hosts. */
static struct ob_domain domain(struct ob_host *hosts, size_t n)
{
	struct ob_domain d;

	memset(&d, 0, sizeof(d));
	snprintf(d.domain, sizeof(d.domain), "fabrikam.example");
	d.mx_state = OB_MX_OK;
	d.mx_sec = DNS_SEC_SECURE;
	d.hosts = hosts;
	d.nhosts = n;
	return d;
}

static void test_dane_modes(void)
{
	struct ob_host h[2];
	struct ob_domain d;

	/* One host, everything secure, verified on the wire: Mandatory. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_MANDATORY);
	CHECK_INT(d.sts_mode, OB_STS_OPPORTUNISTIC);
	CHECK(!d.warning);
	CHECK(strstr(d.reason, "verified on port 25"));

	/* Two hosts: the second cannot be reached from here → not Mandatory, says why. */
	h[1] = host("mx2.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_UNREACHABLE);
	snprintf(h[1].probe_error, sizeof(h[1].probe_error), "connection refused");
	d = domain(h, 2);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(!d.warning);
	CHECK(strstr(d.reason, "mx2.fabrikam.example"));
	CHECK(strstr(d.reason, "(connection refused); run outbound where port 25 is open"));
	CHECK(strstr(d.reason, "other MX hosts verify"));

	/* Usable TLSA that fails on the wire, on any host: None, loudly. */
	h[1] = host("mx2.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_MISMATCH);
	snprintf(h[1].probe_error, sizeof(h[1].probe_error), "no matching DANE TLSA records");
	d = domain(h, 2);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_NONE);
	CHECK(d.warning);
	CHECK(strstr(d.reason, "mx2.fabrikam.example publishes usable TLSA but fails"));
	CHECK(strstr(d.reason, "24 h"));

	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_NO_STARTTLS);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_NONE);
	CHECK(d.warning);

	/* A failing probe without usable TLSA is no DANE failure (nothing published). */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_ABSENT, DANE_PROBE_NO_STARTTLS);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(!d.warning);
	CHECK(strstr(d.reason, "publishes no TLSA record"));

	/* Only usages 0/1. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_UNUSABLE, DANE_PROBE_SKIPPED);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "0/1"));

	/* TLSA in an unsigned zone. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_INSECURE, DANE_PROBE_SKIPPED);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "not DNSSEC-secure"));

	/* Verified on the wire, but the MX RRset is insecure: DANE cannot apply. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	d = domain(h, 1);
	d.mx_sec = DNS_SEC_INSECURE;
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "MX RRset of fabrikam.example is insecure"));

	/* Insecure addresses. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	h[0].addr_sec = DNS_SEC_INSECURE;
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "addresses of mx1.fabrikam.example are insecure"));

	/* No address at all. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_SKIPPED);
	h[0].naddr = 0;
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "has no address"));
}

static void test_dane_bogus(void)
{
	struct ob_host h[1];
	struct ob_domain d;

	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	d = domain(h, 1);
	d.mx_sec = DNS_SEC_BOGUS;
	snprintf(d.why_bogus, sizeof(d.why_bogus), "signature expired");
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_NONE);
	CHECK(d.warning);
	CHECK(strstr(d.reason, "DNSSEC-bogus (signature expired)"));

	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	h[0].addr_sec = DNS_SEC_BOGUS;
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_NONE);
	CHECK(d.warning);
	CHECK(strstr(d.reason, "bogus (address"));

	h[0] = host("mx1.fabrikam.example", OB_TLSA_BOGUS, DANE_PROBE_SKIPPED);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_NONE);
	CHECK(strstr(d.reason, "bogus (TLSA lookup"));
}

static void test_mx_states(void)
{
	struct ob_domain d = domain(NULL, 0);

	d.mx_state = OB_MX_NXDOMAIN;
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "does not exist"));
	d.mx_state = OB_MX_NULL;
	ob_verdict(&d);
	CHECK(strstr(d.reason, "null MX"));
	d.mx_state = OB_MX_FAILED;
	d.mx_sec = DNS_SEC_INDETERMINATE;
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "failed"));
	CHECK(!d.warning);
}

static void test_sts_modes(void)
{
	struct ob_host h[2];
	struct ob_domain d;

	h[0] = host("mx1.fabrikam.example", OB_TLSA_ABSENT, DANE_PROBE_SKIPPED);
	d = domain(h, 1);
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "no MTA-STS record"));

	/* A record without a policy in force. */
	d.sts.record = true;
	snprintf(d.sts.problem, sizeof(d.sts.problem), "HTTP 404");
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "HTTP 404"));

	/* testing never blocks mail. */
	d.sts.record_valid = d.sts.policy_valid = true;
	d.sts.problem[0] = '\0';
	d.sts.mode = MTASTS_MODE_TESTING;
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_OPPORTUNISTIC);
	CHECK(strstr(d.reason, "testing"));

	/* enforce, host not covered: None, loudly. */
	d.sts.mode = MTASTS_MODE_ENFORCE;
	h[0].sts_covered = false;
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_NONE);
	CHECK(d.warning);
	CHECK(strstr(d.sts_reason, "not listed"));
	CHECK_INT(d.dane_mode, OB_DANE_OPPORTUNISTIC);

	/* covered, certificate rejected. */
	h[0].sts_covered = true;
	h[0].starttls = OB_YES;
	h[0].pkix = OB_NO;
	snprintf(h[0].pkix_error, sizeof(h[0].pkix_error), "certificate has expired");
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_NONE);
	CHECK(strstr(d.sts_reason, "certificate has expired"));

	/* covered, no STARTTLS. */
	h[0].starttls = OB_NO;
	h[0].pkix = OB_UNKNOWN;
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_NONE);
	CHECK(strstr(d.sts_reason, "STARTTLS"));

	/* covered and valid. */
	h[0].starttls = OB_YES;
	h[0].pkix = OB_YES;
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_OPPORTUNISTIC);
	CHECK(!d.warning);
	CHECK(strstr(d.sts_reason, "certificates validate"));

	/* covered, not verifiable from here: still Opportunistic, says so. */
	h[1] = host("mx2.fabrikam.example", OB_TLSA_ABSENT, DANE_PROBE_SKIPPED);
	h[1].sts_covered = true;
	d.hosts = h;
	d.nhosts = 2;
	ob_verdict(&d);
	CHECK_INT(d.sts_mode, OB_STS_OPPORTUNISTIC);
	CHECK(strstr(d.sts_reason, "not verifiable from here"));

	/* DANE Mandatory and MTA-STS None together: the warning is still raised. */
	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	d = domain(h, 1);
	d.sts.record = d.sts.record_valid = d.sts.policy_valid = true;
	d.sts.mode = MTASTS_MODE_ENFORCE;
	ob_verdict(&d);
	CHECK_INT(d.dane_mode, OB_DANE_MANDATORY);
	CHECK_INT(d.sts_mode, OB_STS_NONE);
	CHECK(d.warning);
}

static void test_command_and_json(void)
{
	struct ob_host h[1];
	struct ob_domain d;
	char cmd[400];
	json_t *j, *hj;

	h[0] = host("mx1.fabrikam.example", OB_TLSA_USABLE, DANE_PROBE_VERIFIED);
	d = domain(h, 1);
	ob_verdict(&d);
	ob_command(&d, "Fabrikam", cmd, sizeof(cmd));
	CHECK_STR(cmd, "Set-OutboundConnector -Identity \"Fabrikam\" -SmtpDaneMode Mandatory "
		       "-MtaStsMode Opportunistic");
	ob_command(&d, NULL, cmd, sizeof(cmd));
	CHECK(strstr(cmd, "\"<connector to fabrikam.example>\""));

	j = ob_domain_json(&d, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "domain")), "fabrikam.example");
	CHECK_STR(json_string_value(json_object_get(j, "smtp_dane_mode")), "Mandatory");
	CHECK_STR(json_string_value(json_object_get(j, "mta_sts_mode")), "Opportunistic");
	CHECK(json_is_string(json_object_get(j, "reason")));
	hj = json_array_get(json_object_get(j, "hosts"), 0);
	CHECK_STR(json_string_value(json_object_get(hj, "host")), "mx1.fabrikam.example");
	CHECK(json_is_true(json_object_get(hj, "mx_secure")));
	CHECK(json_is_true(json_object_get(hj, "address_secure")));
	CHECK_STR(json_string_value(json_object_get(hj, "tlsa")), "usable");
	CHECK_STR(json_string_value(json_object_get(hj, "probe")), "verified");
	json_decref(j);
}

static void test_tlsa(void)
{
	unsigned char digest[32] = {1, 2, 3};
	struct dns_rr rr[2];
	struct dns_answer a;

	CHECK(dane_tlsa_usable(3, 1, 1));
	CHECK(dane_tlsa_usable(2, 0, 2));
	CHECK(!dane_tlsa_usable(1, 1, 1));
	CHECK(!dane_tlsa_usable(0, 1, 1));
	CHECK(!dane_tlsa_usable(3, 2, 1));
	CHECK(!dane_tlsa_usable(3, 1, 3));

	memset(&a, 0, sizeof(a));
	memset(rr, 0, sizeof(rr));
	CHECK_INT(ob_tlsa_classify(NULL), OB_TLSA_BOGUS);
	a.sec = DNS_SEC_SECURE;
	a.nodata = true;
	CHECK_INT(ob_tlsa_classify(&a), OB_TLSA_ABSENT);
	a.sec = DNS_SEC_INSECURE;
	CHECK_INT(ob_tlsa_classify(&a), OB_TLSA_INSECURE);
	a.sec = DNS_SEC_BOGUS;
	CHECK_INT(ob_tlsa_classify(&a), OB_TLSA_BOGUS);
	a.sec = DNS_SEC_INDETERMINATE;
	a.rcode = 2;
	CHECK_INT(ob_tlsa_classify(&a), OB_TLSA_BOGUS);

	for (int i = 0; i < 2; i++) {
		rr[i].type = DNS_T_TLSA;
		rr[i].u.tlsa.selector = 1;
		rr[i].u.tlsa.mtype = 1;
		rr[i].u.tlsa.data = digest;
		rr[i].u.tlsa.len = sizeof(digest);
	}
	rr[0].u.tlsa.usage = 0;
	rr[1].u.tlsa.usage = 1;
	a.rcode = 0;
	a.nodata = false;
	a.sec = DNS_SEC_SECURE;
	a.rr = rr;
	a.n = 2;
	CHECK_INT(ob_tlsa_classify(&a), OB_TLSA_UNUSABLE);
	CHECK_INT(dane_tlsa_count_usable(&a), 0);
	rr[1].u.tlsa.usage = 3;
	CHECK_INT(ob_tlsa_classify(&a), OB_TLSA_USABLE);
	CHECK_INT(dane_tlsa_count_usable(&a), 1);

	CHECK_STR(dane_probe_name(DANE_PROBE_NO_STARTTLS), "no-starttls");
	CHECK_STR(ob_tlsa_name(OB_TLSA_ABSENT), "absent");
	CHECK_STR(ob_dane_mode_name(OB_DANE_NONE), "None");
}

/* ---- the probe's state machine against in-process servers ---- */

enum srv_kind { SRV_SILENT, SRV_NO_STARTTLS, SRV_REFUSE_BANNER, SRV_STARTTLS_502 };

struct srv {
	int lfd;
	int port;
	enum srv_kind kind;
	pthread_t thread;
};

static void srv_write(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		return;
}

static void srv_readline(int fd)
{
	char c;

	while (read(fd, &c, 1) == 1 && c != '\n')
		;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	switch (s->kind) {
	case SRV_SILENT: /* accept and never greet: the banner deadline must fire */
		srv_readline(fd);
		break;
	case SRV_REFUSE_BANNER: /* refuse and hang up at once: the reply must still count */
		srv_write(fd, "554 5.7.1 no service for you\r\n");
		break;
	case SRV_NO_STARTTLS:
	case SRV_STARTTLS_502:
		srv_write(fd, "220 mx.test ESMTP\r\n");
		srv_readline(fd); /* EHLO */
		srv_write(fd, s->kind == SRV_NO_STARTTLS
				  ? "250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
				  : "250-mx.test\r\n250-starttls\r\n250 8BITMIME\r\n");
		srv_readline(fd); /* QUIT or STARTTLS */
		if (s->kind == SRV_STARTTLS_502) {
			srv_write(fd, "502 5.5.1 not now\r\n");
			srv_readline(fd);
		}
		break;
	}
	close(fd);
	return NULL;
}

static int srv_start(struct srv *s, enum srv_kind kind)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->kind = kind;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->lfd, 4) ||
	    getsockname(s->lfd, (struct sockaddr *)&sa, &len))
		return -1;
	s->port = ntohs(sa.sin_port);
	return pthread_create(&s->thread, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static struct dns_answer *usable_tlsa(struct dns_rr *rr, unsigned char *digest)
{
	static struct dns_answer a;

	memset(&a, 0, sizeof(a));
	memset(rr, 0, sizeof(*rr));
	rr->type = DNS_T_TLSA;
	rr->u.tlsa.usage = 3;
	rr->u.tlsa.selector = 1;
	rr->u.tlsa.mtype = 1;
	rr->u.tlsa.data = digest;
	rr->u.tlsa.len = 32;
	a.sec = DNS_SEC_SECURE;
	a.rr = rr;
	a.n = 1;
	return &a;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void probe_one(int port, int io_ms, enum dane_probe_status want, const char *want_text)
{
	unsigned char digest[32] = {0};
	const char *addrs[] = {"127.0.0.1"};
	struct dane_opts o = {.port = port, .connect_timeout_ms = 500, .io_timeout_ms = io_ms};
	struct dane_ctx *c = NULL;
	struct dane_result *r = NULL;
	struct dns_rr rr;
	struct mx_err err;

	CHECK_INT(dane_ctx_new(&c, &o, &err), MX_OK);
	if (!c)
		return;
	CHECK_INT(dane_probe(c, "mx.test", addrs, 1, usable_tlsa(&rr, digest), &r, &err), MX_OK);
	if (r) {
		CHECK_INT(r->naddr, 1);
		CHECK_INT(r->status, want);
		CHECK_INT(r->addr[0].status, want);
		if (!strstr(r->addr[0].error, want_text))
			fprintf(stderr, "error text: %s\n", r->addr[0].error);
		CHECK(strstr(r->addr[0].error, want_text));
		CHECK(!r->addr[0].verified);
	}
	CHECK_INT(dane_pending(c), 0);
	dane_result_free(r);
	dane_ctx_free(c);
}

static void test_probe_local(void)
{
	struct srv s;
	struct timespec t0;
	int lfd, port;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	/* A port nobody listens on: refused at once → unreachable. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(!bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK(!getsockname(lfd, (struct sockaddr *)&sa, &len));
	port = ntohs(sa.sin_port);
	close(lfd);
	probe_one(port, 1000, DANE_PROBE_UNREACHABLE, "not verifiable from here");

	/* More addresses than connection slots: the rest wait their turn, all finish. */
	{
		const char *five[] = {"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "::1"};
		struct dane_opts o = {.port = port, .max_parallel = 2};
		struct dane_ctx *c = NULL;
		struct dane_result *r = NULL;
		struct mx_err err;
		unsigned char digest[32] = {0};
		struct dns_rr rr;

		CHECK_INT(dane_ctx_new(&c, &o, &err), MX_OK);
		CHECK_INT(
		    dane_probe(c, "mx.test", five, 5, usable_tlsa(&rr, digest), &r, &err), MX_OK);
		CHECK(r && r->naddr == 5 && r->status == DANE_PROBE_UNREACHABLE);
		for (size_t i = 0; r && i < r->naddr; i++)
			CHECK_INT(r->addr[i].status, DANE_PROBE_UNREACHABLE);
		CHECK_INT(dane_pending(c), 0);
		dane_result_free(r);
		dane_ctx_free(c);
	}

	/* Connected, never greeted: the banner deadline (300 ms) ends it. */
	CHECK(!srv_start(&s, SRV_SILENT));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	probe_one(s.port, 300, DANE_PROBE_UNREACHABLE, "its greeting");
	CHECK(since(&t0) < 2.0);
	shutdown(s.lfd, SHUT_RDWR);
	srv_stop(&s);

	CHECK(!srv_start(&s, SRV_REFUSE_BANNER));
	probe_one(s.port, 1000, DANE_PROBE_UNREACHABLE, "554 5.7.1");
	srv_stop(&s);

	CHECK(!srv_start(&s, SRV_NO_STARTTLS));
	probe_one(s.port, 1000, DANE_PROBE_NO_STARTTLS, "does not offer STARTTLS");
	srv_stop(&s);

	/* "starttls" in lower case is still the keyword; a 502 to the command is a refusal. */
	CHECK(!srv_start(&s, SRV_STARTTLS_502));
	probe_one(s.port, 1000, DANE_PROBE_NO_STARTTLS, "refuses it");
	srv_stop(&s);
}

static void test_probe_args(void)
{
	struct dane_ctx *c = NULL;
	struct dane_result *r = NULL;
	const char *bad[] = {"not-an-ip"};
	struct mx_err err;

	CHECK_INT(dane_ctx_new(&c, NULL, &err), MX_OK);
	if (!c)
		return;
	CHECK_INT(dane_probe(c, "mx.test", bad, 1, NULL, &r, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "not-an-ip"));
	/* No address: nothing to connect, "skipped" at once. */
	CHECK_INT(dane_probe(c, "mx.test", NULL, 0, NULL, &r, &err), MX_OK);
	CHECK(r && r->status == DANE_PROBE_SKIPPED && r->naddr == 0);
	dane_result_free(r);
	CHECK_INT(dane_timeout_ms(c), -1);
	dane_ctx_free(c);
}

int main(void)
{
	test_dane_modes();
	test_dane_bogus();
	test_mx_states();
	test_sts_modes();
	test_command_and_json();
	test_tlsa();
	test_probe_args();
	test_probe_local();
	return CHECK_DONE();
}
