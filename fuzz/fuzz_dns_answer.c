/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_dns_answer.c — libFuzzer target for DNS answers as the checks read them
 * (dns_answer_from_wire): the first byte picks the question type (MX, TXT, TLSA, A, AAAA,
 * NS, CNAME, SOA, DS, DNSKEY, CAA), the rest is the response in wire format. What parses is
 * consistent: RRs only of the asked type, nxdomain iff rcode 3, nodata iff NOERROR without
 * such RRs, and a deep copy equals the original. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = {15, 16, 52, 1, 28, 2, 5, 6, 43, 48, 257};
	struct dns_answer *a = NULL, *b;
	struct mx_err err;
	uint16_t qtype;
	int rc;

	if (size < 1)
		return 0;
	qtype = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	mx_err_clear(&err);
	rc = dns_answer_from_wire(data + 1, size - 1, "contoso.com", qtype, &a, &err);
	fz_check_err(rc, &err);
	if (rc == MX_OK) {
		if (!a || a->qtype != qtype || (a->n && !a->rr))
			abort();
		if (a->nxdomain != (a->rcode == 3))
			abort();
		if (a->rcode == 0 && a->nodata != (a->n == 0))
			abort();
		for (size_t i = 0; i < a->n; i++) {
			if (a->rr[i].type != qtype || !a->rr[i].owner)
				abort();
			if (qtype == 15 && !a->rr[i].u.mx.host)
				abort();
			if (qtype == 16 && !a->rr[i].u.txt)
				abort();
		}
		if (!(b = dns_answer_dup(a)))
			abort();
		if (b->n != a->n || b->rcode != a->rcode || b->ttl != a->ttl)
			abort();
		dns_answer_free(b);
	}
	dns_answer_free(a);
	return 0;
}
