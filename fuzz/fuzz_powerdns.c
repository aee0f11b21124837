/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_powerdns.c — libFuzzer target for the PowerDNS adapter's parsing: the zone
 * lookup, the zone object's RRsets (MX or TXT), error bodies, and record content (TXT
 * unquoting and MX content), with the round trips the adapter relies on. Selector (first
 * byte): 0 zone list, 1 MX RRset, 2 TXT RRset, 3 error body, 4 TXT content, 5 MX content. */
#include "fuzz_common.h"
#include "powerdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel;
	char *body, *id = NULL, *text, *again, *back;
	size_t len;
	struct mx_err err;
	struct mx_rrset rr;
	int rc;

	if (fz_split(data, size, &sel, &body, &len))
		return 0;
	mx_err_clear(&err);
	memset(&rr, 0, sizeof(rr));
	switch (sel % 6) {
	case 0:
		rc = pdns_zone_id_parse(body, "contoso.com", &id, &err);
		fz_check_err(rc, &err);
		free(id);
		break;
	case 1:
	case 2: {
		uint16_t type = sel % 6 == 1 ? DNS_T_MX : DNS_T_TXT;

		rc = pdns_rrset_parse(body, "contoso.com", type, &rr, &err);
		fz_check_err(rc, &err);
		if (rc == MX_OK) {
			fz_check_rrset(&rr, "contoso.com", type);
			if (rr.n && !(again = pdns_patch_body(&rr, &err)))
				fz_check_err(err.rc, &err);
			else if (rr.n)
				free(again);
		} else if (rr.n) {
			abort();
		}
		prov_rrset_clear(&rr);
		break;
	}
	case 3:
		free(pdns_error_text(body));
		break;
	case 4:
		/* Unquoted text quotes back to content that unquotes to the same text. */
		if ((text = pdns_txt_unquote(body))) {
			if (!(again = pdns_txt_quote(text)))
				abort();
			back = pdns_txt_unquote(again);
			if (!back || strcmp(back, text))
				abort();
			free(back);
			free(again);
			free(text);
		}
		break;
	default:
		if ((text = pdns_content_to_value(DNS_T_MX, body))) {
			unsigned pref;
			char host[256];

			if (!prov_mx_parse(text, &pref, host, sizeof(host)))
				abort();
			if (!(again = pdns_value_to_content(DNS_T_MX, text)))
				abort();
			back = pdns_content_to_value(DNS_T_MX, again);
			if (!back || strcmp(back, text))
				abort();
			free(back);
			free(again);
			free(text);
		}
		break;
	}
	free(body);
	return 0;
}
