/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_gcloud.c — libFuzzer target for the Google Cloud DNS adapter's parsing: managed
 * zones, a page of RRsets (MX or TXT), a Change, the token answer, a service-account key
 * file and the error mapping. Selector (first byte): 0 zones, 1 MX RRsets, 2 TXT RRsets,
 * 3 change, 4 token, 5 key file, 6 API error, 7 token error (for 6 and 7 the second byte
 * gives the HTTP status / 2 + 300). */
#include "fuzz_common.h"
#include "gcloud.h"
#include "secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct gcp_call call = {"gc", "proj", "contoso-com", "the MX RRset", false};
	unsigned sel;
	char *body, *name = NULL, *next = NULL, *token = NULL, id[64], status[32];
	size_t len;
	struct mx_err err;
	struct mx_rrset rr;
	struct gcp_key key;
	long expires = 0, http;
	int rc, matches = 0;

	if (fz_split(data, size, &sel, &body, &len))
		return 0;
	mx_err_clear(&err);
	memset(&rr, 0, sizeof(rr));
	http = len ? 300 + 2 * (unsigned char)body[0] : 500;
	switch (sel % 8) {
	case 0:
		rc = gcp_zones_parse(body, "contoso.com", &name, &matches, &next, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK && (matches < 0 || (matches > 0) != (name != NULL)))
			abort();
		free(name);
		free(next);
		break;
	case 1:
	case 2: {
		uint16_t type = sel % 8 == 1 ? DNS_T_MX : DNS_T_TXT;

		snprintf(rr.name, sizeof(rr.name), "contoso.com");
		rr.type = type;
		rc = gcp_rrsets_parse(body, "contoso.com", type, &rr, &next, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK) {
			prov_rrset_sort(&rr);
			fz_check_rrset(&rr, "contoso.com", type);
		}
		prov_rrset_clear(&rr);
		free(next);
		break;
	}
	case 3:
		rc = gcp_change_parse(body, id, sizeof(id), status, sizeof(status), &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK && (strlen(id) >= sizeof(id) || strlen(status) >= sizeof(status)))
			abort();
		break;
	case 4:
		rc = gcp_token_parse(body, &token, &expires, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK && !token)
			abort();
		mx_secret_free(token);
		break;
	case 5:
		memset(&key, 0, sizeof(key));
		rc = gcp_key_parse(body, len, "key.json", &key, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK && (!key.client_email || !key.private_key))
			abort();
		gcp_key_free(&key);
		break;
	case 6:
		gcp_retryable(http);
		rc = gcp_status_error(&call, http, len ? body + 1 : body, &err);
		if (rc == MX_OK || !err.msg[0])
			abort();
		break;
	default:
		rc = gcp_token_error("gc", "key.json", http, len ? body + 1 : body, &err);
		if (rc == MX_OK || !err.msg[0])
			abort();
		break;
	}
	free(body);
	return 0;
}
