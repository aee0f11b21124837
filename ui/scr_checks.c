/* SPDX-License-Identifier: MIT */
/* ui/scr_checks.c — the checks screen: every prerequisite with its one-line result, and for
 * each warning or failure the way to fix it. */
#include <stdio.h>
#include <string.h>

#include "tui.h"

const char *const fix_hint[CHK_COUNT] = {
    [CHK_ZONE_DNSSEC] = "Sign the zone at the DNS host and publish its DS at the registrar; "
			"bogus usually means a DS that matches no DNSKEY, or expired signatures.",
    [CHK_NS_CONSISTENCY] = "Make every authoritative server serve the same zone: check zone "
			   "transfers and the secondary's SOA serial.",
    [CHK_MX_CURRENT] = "Keep exactly one MX, the Exchange Online host, at preference 0 or 10; "
		       "remove fallback hosts before the cutover.",
    [CHK_MX_TARGET] = "Paste DnssecMxValue exactly as Enable-DnssecForVerifiedDomain printed "
		      "it; the host must resolve with DNSSEC.",
    [CHK_MX_TARGET_TLSA] = "Microsoft publishes the TLSA after Enable-SmtpDaneInbound; absent "
			   "before that step is expected.",
    [CHK_MX_TARGET_DANE] = "The target's STARTTLS certificate must match its TLSA; an "
			   "unreachable port 25 from here is only a warning.",
    [CHK_MTASTS_RECORD] = "Publish one TXT at _mta-sts.<domain>: \"v=STSv1; id=<1-32 letters "
			  "or digits>;\".",
    [CHK_MTASTS_POLICY] = "Serve https://mta-sts.<domain>/.well-known/mta-sts.txt: HTTP 200, "
			  "text/plain, no redirect, a certificate valid for that name.",
    [CHK_MTASTS_COVERS] = "The run's first write step stages a policy listing the new host; "
			  "publish it when the run asks.",
    [CHK_TLSRPT] = "Publish _smtp._tls TXT \"v=TLSRPTv1; rua=mailto:…\" to get TLS failure "
		   "reports.",
    [CHK_SPF] = "Add the Exchange Online include (spf_include in the config) to the SPF "
		"record.",
    [CHK_PROVIDER_ACCESS] = "Give the provider's credentials read access to the zone (see "
			    "[provider.NAME] in the config).",
    [CHK_EXCHANGE_ACCESS] = "Give the [exchange] app Exchange.ManageAsApp and an Exchange role "
			    "(see docs/exchange.md).",
    [CHK_EXCHANGE_DNSSEC] = "Enable-DnssecForVerifiedDomain provisions the endpoint; the run "
			    "calls it with [exchange].",
};

static void draw_checks(struct tui *t)
{
	struct dom *d = &t->doms[t->sel];
	char lines[16][300];
	int y = 3, row = 0, bottom = LINES - 3;

	draw_title(t, ui_scr_checks.title);
	putf(1, 1, COLS - 2, A_BOLD, "%s %s %s", d->name, sym(t, "→", "->"),
	    d->target[0] ? d->target : "(no target yet: the target checks are skipped)");
	if (!d->checked) {
		put(y, 2, COLS - 4, role(t, d->checking ? CP_DIM : CP_FAIL),
		    d->checking ? "checking…" : d->chk_err);
		goto out;
	}
	/* The verdict, chk_verdict's line verbatim, as on the domains screen. */
	put_cut(t, 2, 1, COLS - 2,
	    role(t, d->chk.verdict.runnable		 ? CP_OK
		    : d->chk.verdict.v == CHK_V_MIGRATED ? CP_DIM
							 : CP_FAIL) |
		A_BOLD,
	    d->chk.verdict.text);
	for (int i = 0; i < CHK_COUNT; i++) {
		const struct chk_result *r = &d->chk.res[i];
		int n;

		if (!r->present)
			continue;
		n = wrap(r->summary, COLS - 30, lines, 6);
		for (int k = 0; k < n; k++, row++) {
			if (row < t->scroll || y >= bottom)
				continue;
			if (!k) {
				put(y, 2, 5, role(t, chk_color(r->status)) | A_BOLD,
				    r->status == CHK_PASS   ? "PASS"
				    : r->status == CHK_WARN ? "WARN"
				    : r->status == CHK_FAIL ? "FAIL"
							    : "skip");
				put(y, 8, 21, A_NORMAL, chk_id_name(i));
			}
			put(y++, 30, COLS - 31, A_NORMAL, lines[k]);
		}
		if (r->status == CHK_WARN || r->status == CHK_FAIL) {
			n = wrap(fix_hint[i], COLS - 36, lines, 4);
			for (int k = 0; k < n; k++, row++) {
				if (row < t->scroll || y >= bottom)
					continue;
				if (!k)
					put(y, 30, 5, role(t, CP_KEY), "fix:");
				put(y++, 35, COLS - 36, role(t, CP_DIM), lines[k]);
			}
		}
	}
	if (t->scroll > row - 1)
		t->scroll = row > 0 ? row - 1 : 0;
out:
	draw_msg(t);
	draw_keys(t, "Enter:target  j/k:scroll  R:recheck  p:export plan  Esc:back  ?:help");
}

static void key_checks(struct tui *t, int ch)
{
	if (nav_key(t, ch, &t->scroll, 200))
		return;
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 't':
		open_target(t);
		break;
	case 'R':
		recheck(t, t->sel);
		break;
	case 'p':
		export_plan(t, t->sel);
		break;
	case 'r':
		ask_rollback(t, t->sel);
		break;
	case 'q':
	case 27:
	case KEY_LEFT:
	case 'h':
		goto_screen(t, SCR_domains);
		break;
	}
}

const struct ui_screen ui_scr_checks = {
    .title = "Checks",
    .flags = UI_SCRF_DOMAIN,
    .draw = draw_checks,
    .key = key_checks,
};
