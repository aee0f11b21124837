/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_route53.c — libFuzzer target for the Route 53 adapter's XML parsing: a page of
 * ListResourceRecordSets (MX or TXT), ListHostedZonesByName, ChangeInfo, error bodies and
 * their mapping. Selector (first byte): 0 MX RRsets, 1 TXT RRsets, 2 zones, 3 change,
 * 4 error (the second byte gives the HTTP status / 2 + 300). */
#include "fuzz_common.h"
#include "route53.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct r53_call call = {
	    "r53", "ChangeResourceRecordSets", "contoso.com", "Z1", "the MX RRset"};
	unsigned sel;
	char *body, *id = NULL, cid[64], status[32], code[64], msg[256];
	size_t len;
	struct mx_err err;
	struct mx_rrset rr;
	long http;
	int rc;

	if (fz_split(data, size, &sel, &body, &len))
		return 0;
	mx_err_clear(&err);
	memset(&rr, 0, sizeof(rr));
	http = len ? 300 + 2 * (unsigned char)body[0] : 500;
	switch (sel % 5) {
	case 0:
	case 1: {
		uint16_t type = sel % 5 == 0 ? DNS_T_MX : DNS_T_TXT;
		struct r53_rr_page page;

		memset(&page, 0, sizeof(page));
		snprintf(rr.name, sizeof(rr.name), "contoso.com");
		rr.type = type;
		rc = r53_rrsets_parse(body, len, "contoso.com", type, &rr, &page, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK) {
			prov_rrset_sort(&rr);
			fz_check_rrset(&rr, "contoso.com", type);
			if (strnlen(page.next_name, sizeof(page.next_name)) ==
			    sizeof(page.next_name))
				abort();
		}
		prov_rrset_clear(&rr);
		break;
	}
	case 2: {
		struct r53_zone_page page;

		memset(&page, 0, sizeof(page));
		rc = r53_zones_parse(body, len, "contoso.com", &id, &page, &err);
		fz_check_err(rc, &err);
		if (id && !id[0])
			abort();
		free(id);
		break;
	}
	case 3:
		rc = r53_change_parse(body, len, cid, sizeof(cid), status, sizeof(status), &err);
		fz_check_err(rc, &err);
		break;
	default:
		r53_error_parse(
		    len ? body + 1 : body, len ? len - 1 : 0, code, sizeof(code), msg, sizeof(msg));
		if (strlen(code) >= sizeof(code) || strlen(msg) >= sizeof(msg))
			abort();
		r53_retryable(http, len ? body + 1 : body, len ? len - 1 : 0);
		rc = r53_status_error(&call, http, len ? body + 1 : body, len ? len - 1 : 0, &err);
		if (rc == MX_OK || !err.msg[0])
			abort();
		break;
	}
	free(body);
	return 0;
}
