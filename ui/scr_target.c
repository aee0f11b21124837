/* SPDX-License-Identifier: MIT */
/* ui/scr_target.c — target entry: the DnssecMxValue pasted by the person (in tenant mode
 * the host Exchange Online assigned, filled in), judged on every keystroke, and the provider
 * picked with Tab. */
#include <stdio.h>
#include <string.h>

#include "tui.h"

struct tcheck {
	bool ok;
	bool warn_only;
	char text[600];
};

/* Judges the target as typed; returns true when the run may use it. */
static bool judge_target(struct tui *t, const struct dom *d, char *norm, struct tcheck *c, int *nc)
{
	const struct mx_conf *conf = t->app->conf;
	struct mx_err err;
	char dashed[300];
	bool ok = true;
	int n = 0;

	*nc = 0;
	norm[0] = '\0';
	memset(c, 0, 8 * sizeof(*c));
	if (!t->tinput[0])
		return false;
	if (mx_domain_normalize(t->tinput, "target host", norm, MX_NAME_MAX + 1, &err)) {
		c[n].ok = false;
		snprintf(c[n++].text, sizeof(c[0].text), "%s", err.msg);
		*nc = n;
		return false;
	}
	c[n].ok = true;
	snprintf(c[n++].text, sizeof(c[0].text), "a valid host name");
	/* Tenant mode: Exchange's host is the target, and no other (as for the command line). */
	if (d->exo_target[0]) {
		c[n].ok = !strcmp(norm, d->exo_target);
		snprintf(c[n].text, sizeof(c[0].text), "%s",
		    c[n].ok ? "the host Exchange Online assigned (DnssecMxValue)"
			    : "not the host Exchange Online assigned: ^U and Enter takes it");
		ok &= c[n++].ok;
	}
	c[n].ok = mx_name_under(norm, conf->endpoint_suffix) && strcmp(norm, conf->endpoint_suffix);
	snprintf(c[n].text, sizeof(c[0].text), "%s %s (endpoint_suffix)",
	    c[n].ok ? "under" : "not under", conf->endpoint_suffix);
	ok &= c[n++].ok;
	c[n].ok = !mx_conf_is_legacy(conf, norm);
	snprintf(c[n].text, sizeof(c[0].text), "%s",
	    c[n].ok ? "not a legacy host" : "this is a legacy host: paste the new one");
	ok &= c[n++].ok;
	c[n].ok = strcmp(norm, d->name) != 0;
	if (!c[n].ok) {
		snprintf(c[n++].text, sizeof(c[0].text), "the domain itself is not its MX host");
		ok = false;
	}
	mx_domain_dashed(d->name, dashed, sizeof(dashed));
	if (ok && strncmp(norm, dashed, strlen(dashed))) {
		c[n].ok = false;
		c[n].warn_only = true;
		snprintf(c[n++].text, sizeof(c[0].text),
		    "Microsoft's hosts usually start with %.200s; check you pasted this domain's "
		    "value",
		    dashed);
	}
	*nc = n;
	return ok;
}

static void draw_target(struct tui *t)
{
	struct dom *d = &t->doms[t->sel];
	struct tcheck c[8];
	char norm[MX_NAME_MAX + 1];
	int nc, y, x, cx;
	const struct mx_conf *conf = t->app->conf;
	bool ok;

	draw_title(t, ui_scr_target.title);
	putf(2, 2, COLS - 4, A_BOLD, "The new MX host for %s", d->name);
	if (d->exo_target[0]) {
		putf(3, 2, COLS - 4, role(t, CP_OK),
		    "From Exchange Online: tenant %s assigned this host (DnssecMxValue),",
		    t->tenant_name);
		putf(4, 4, COLS - 6, role(t, CP_KEY),
		    "Get-DnssecStatusForVerifiedDomain -DomainName %s", d->name);
		put(5, 2, COLS - 4, role(t, CP_DIM),
		    "read by the wizard; the run provisions and confirms it in Exchange itself.");
	} else if (t->tenant) {
		put(3, 2, COLS - 4, role(t, CP_WARN),
		    d->exo_read ? "Exchange Online has not provisioned this domain's endpoint yet:"
				: "Exchange Online has not answered for this domain yet:");
		putf(4, 4, COLS - 6, role(t, CP_KEY),
		    "Enable-DnssecForVerifiedDomain -DomainName %s", d->name);
		put(5, 2, COLS - 4, role(t, CP_DIM),
		    "provisions it and prints the host; R on the checks screen asks Exchange "
		    "again.");
	} else {
		put(3, 2, COLS - 4, A_NORMAL,
		    "Paste the DnssecMxValue that Exchange Online printed for this domain:");
		putf(4, 4, COLS - 6, role(t, CP_KEY),
		    "Enable-DnssecForVerifiedDomain -DomainName %s", d->name);
		put(5, 2, COLS - 4, role(t, CP_DIM),
		    "Microsoft assigns the middle label; the wizard never derives the host.");
	}
	put(7, 2, 2, A_BOLD, ">");
	cx = 4 + put(7, 4, COLS - 8, A_UNDERLINE, t->tinput);
	ok = judge_target(t, d, norm, c, &nc);
	y = 9;
	for (int i = 0; i < nc; i++, y++) {
		enum pair p = c[i].ok ? CP_OK : c[i].warn_only ? CP_WARN : CP_FAIL;

		putf(y, 4, COLS - 6, role(t, p), "%s %s",
		    c[i].ok	     ? sym(t, "✓", "+")
		    : c[i].warn_only ? "!"
				     : sym(t, "✗", "x"),
		    c[i].text);
	}
	y++;
	put(y, 2, 10, A_NORMAL, "Provider:");
	x = 12;
	for (size_t i = 0; i < conf->nprov; i++) {
		bool cur = (int)i == t->tprov;

		x += putf(y, x, COLS - x - 1, cur ? role(t, CP_SEL) | A_BOLD : A_NORMAL, " %s ",
		    conf->prov[i].name);
		x += put(y, x, 1, A_NORMAL, " ");
	}
	if (conf->nprov)
		putf(y, x + 1, COLS - x - 2, role(t, CP_DIM), "(%s; Tab changes)",
		    conf->prov[t->tprov].type);
	else
		put(y, x, COLS - x - 1, role(t, CP_FAIL),
		    "the config has no [provider.NAME] section: add one to run a cutover");
	put(y + 2, 2, COLS - 4, ok ? role(t, CP_OK) : role(t, CP_DIM),
	    ok ? "Enter builds the plan from the live zone (nothing changes yet)."
	    : !t->tinput[0] && unprovisioned(t, d)
		? "Enter goes on without a host: the run provisions the endpoint first."
		: "Type or paste the host; it is checked as you type.");
	draw_msg(t);
	draw_keys(t, "Enter:plan  Tab:provider  ^U:clear  Esc:back  ?:help");
	move(7, cx < COLS - 1 ? cx : COLS - 1);
	curs_set(1);
}

static void key_target(struct tui *t, int ch)
{
	struct dom *d = &t->doms[t->sel];
	const struct mx_conf *conf = t->app->conf;
	size_t len = strlen(t->tinput);
	struct tcheck c[8];
	char norm[MX_NAME_MAX + 1];
	int nc;

	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!t->tinput[0] && unprovisioned(t, d) && conf->nprov) {
			/* No host until the run provisions the endpoint: the plan screen says so
			 * and offers that run. */
			snprintf(d->provider, sizeof(d->provider), "%s", conf->prov[t->tprov].name);
			open_plan(t, t->sel);
			break;
		}
		if (!judge_target(t, d, norm, c, &nc)) {
			message(
			    t, CP_FAIL, "the target host is not valid yet (see the checks above)");
			break;
		}
		if (!conf->nprov) {
			message(t, CP_FAIL, "the config has no provider");
			break;
		}
		if (strcmp(d->target, norm) || strcmp(d->provider, conf->prov[t->tprov].name)) {
			json_decref(d->plan);
			d->plan = NULL;
		}
		snprintf(d->target, sizeof(d->target), "%s", norm);
		snprintf(d->provider, sizeof(d->provider), "%s", conf->prov[t->tprov].name);
		recheck(t, t->sel);
		open_plan(t, t->sel);
		break;
	case '\t':
	case KEY_BTAB:
		if (conf->nprov)
			t->tprov =
			    (t->tprov + (ch == '\t' ? 1 : (int)conf->nprov - 1)) % (int)conf->nprov;
		break;
	case 27:
		goto_screen(t, SCR_checks);
		break;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (len)
			t->tinput[len - 1] = '\0';
		break;
	case 21: /* ^U: empty, or in tenant mode back to Exchange's host */
		snprintf(t->tinput, sizeof(t->tinput), "%s",
		    d->exo_target[0] && t->tinput[0] && strcmp(t->tinput, d->exo_target)
			? d->exo_target
			: "");
		break;
	default:
		if (ch >= 32 && ch < 127 && ch != '?' && len + 1 < sizeof(t->tinput)) {
			t->tinput[len] = (char)ch;
			t->tinput[len + 1] = '\0';
		}
		break;
	}
}

const struct ui_screen ui_scr_target = {
    .title = "Target MX host",
    .flags = UI_SCRF_DOMAIN,
    .draw = draw_target,
    .key = key_target,
};
