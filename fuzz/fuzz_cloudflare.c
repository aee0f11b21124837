/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_cloudflare.c — libFuzzer target for the Cloudflare adapter's answer parsing:
 * the zone lookup, a page of DNS records (then the RRset and the change plan built from it)
 * and the error mapping. Selector (first byte): 0 zone, 1 MX records, 2 TXT records, 3 error
 * answer (second byte: HTTP status / 2 + 300). */
#include "cloudflare.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel;
	char *body, *id = NULL;
	size_t len;
	struct mx_err err;
	int rc;

	if (fz_split(data, size, &sel, &body, &len))
		return 0;
	mx_err_clear(&err);
	switch (sel % 4) {
	case 0:
		rc = cf_zone_id_parse(body, "contoso.com", &id, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK && id && !id[0])
			abort();
		free(id);
		break;
	case 1:
	case 2: {
		uint16_t type = sel % 4 == 1 ? DNS_T_MX : DNS_T_TXT;
		struct cf_records recs = {0};
		struct mx_rrset rr;
		struct cf_op *ops = NULL;
		size_t nops = 0;
		int pages = 0;

		rc = cf_records_parse(body, "contoso.com", type, &recs, &pages, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK) {
			if (pages < 1)
				abort();
			memset(&rr, 0, sizeof(rr));
			rc = cf_records_rrset(&recs, "contoso.com", type, &rr, &err);
			fz_check_err(rc, &err);
			if (rc == MX_OK) {
				fz_check_rrset(&rr, "contoso.com", type);
				if (cf_plan(&recs, &rr, &ops, &nops, &err) == MX_OK)
					for (size_t i = 0; i < nops; i++)
						if (ops[i].kind != CF_OP_CREATE && !ops[i].id)
							abort();
				free(ops);
			}
			prov_rrset_clear(&rr);
		}
		cf_records_clear(&recs);
		break;
	}
	default: {
		long status = len ? 300 + 2 * (unsigned char)body[0] : 500;

		rc = cf_status_error("cf", "contoso.com", "the MX records of contoso.com", sel & 1,
		    status, len ? body + 1 : body, &err);
		if (rc == MX_OK || !err.msg[0])
			abort();
		break;
	}
	}
	free(body);
	return 0;
}
