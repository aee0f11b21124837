/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_azure.c — libFuzzer target for the Azure DNS adapter's answer parsing: a record
 * set (MX or TXT), the token endpoint's answer, ARM error answers and their mapping.
 * Selector (first byte): 0 MX record set, 1 TXT record set, 2 token, 3 ARM error, 4 token
 * error (for 3 and 4 the second byte gives the HTTP status / 2 + 300). */
#include "azure.h"
#include "fuzz_common.h"
#include "secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct az_names names = {"az", "contoso.com", "tenant", "client", "sub", "rg"};
	unsigned sel;
	char *body, *etag = NULL, *token = NULL, code[128];
	size_t len;
	struct mx_err err;
	struct mx_rrset rr;
	long expires = 0, status;
	int rc;

	if (fz_split(data, size, &sel, &body, &len))
		return 0;
	mx_err_clear(&err);
	memset(&rr, 0, sizeof(rr));
	status = len ? 300 + 2 * (unsigned char)body[0] : 500;
	switch (sel % 5) {
	case 0:
	case 1: {
		uint16_t type = sel % 5 == 0 ? DNS_T_MX : DNS_T_TXT;

		rc = az_rrset_parse(body, "contoso.com", type, &rr, &etag, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK) {
			char *again;

			fz_check_rrset(&rr, "contoso.com", type);
			/* What we would PUT back parses to the same RRset. */
			if (rr.n && (again = az_rrset_body(&rr, &err))) {
				struct mx_rrset back;
				char *etag2 = NULL;

				memset(&back, 0, sizeof(back));
				if (az_rrset_parse(
					again, "contoso.com", type, &back, &etag2, &err) != MX_OK ||
				    !prov_rrset_equal(&rr, &back, true))
					abort();
				prov_rrset_clear(&back);
				free(etag2);
				free(again);
			}
		} else if (rr.n || etag) {
			abort();
		}
		prov_rrset_clear(&rr);
		free(etag);
		break;
	}
	case 2:
		rc = az_token_parse(body, &token, &expires, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK && !token)
			abort();
		mx_secret_free(token);
		break;
	case 3:
		az_error_code(body, code, sizeof(code));
		if (strlen(code) >= sizeof(code))
			abort();
		rc = az_status_error(&names, "the MX record set of contoso.com", sel & 1, status,
		    len ? body + 1 : body, &err);
		if (rc == MX_OK || !err.msg[0])
			abort();
		break;
	default:
		rc = az_token_error(&names, status, len ? body + 1 : body, &err);
		if (rc == MX_OK || !err.msg[0])
			abort();
		break;
	}
	free(body);
	return 0;
}
