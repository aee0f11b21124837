/* SPDX-License-Identifier: MIT */
/* ui/scr_domains.c — the domains screen: one row per domain with live badges (DNSSEC, the MX
 * served now, MTA-STS, the target's TLSA, the run), and the selected domain in a sentence. */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"
#include "tui.h"

static void badge_dnssec(const struct dom *d, char *out, size_t len, enum pair *c)
{
	enum dns_sec s = d->chk.facts.zone_sec;

	snprintf(out, len, "%s", dns_sec_name(s));
	*c = s == DNS_SEC_SECURE ? CP_OK : s == DNS_SEC_INSECURE ? CP_WARN : CP_FAIL;
}

static void badge_mx(const struct dom *d, char *out, size_t len, enum pair *c)
{
	const struct dns_answer *a = d->chk.facts.mx;
	const char *host = strchr(d->run.mx_now, ' ');

	/* While a run is under way, the MX it last wrote: the check's answer is from before.
	 * The target alone is green; on the way there, the run's colour. */
	if (run_unfinished(&d->run) && d->run.mx_now[0]) {
		snprintf(out, len, "%s", d->run.mx_now);
		*c = host && d->target[0] && !strcmp(host + 1, d->target) ? CP_OK : CP_ACCENT;
		return;
	}
	*c = chk_color(d->chk.res[CHK_MX_CURRENT].status);
	if (!a || !a->n) {
		snprintf(out, len, "none");
		return;
	}
	snprintf(out, len, "%u %s%s", a->rr[0].u.mx.pref, a->rr[0].u.mx.host, a->n > 1 ? " +" : "");
	if (d->target[0] && a->n == 1 && !strcmp(a->rr[0].u.mx.host, d->target))
		*c = CP_OK;
}

static void badge_mtasts(const struct dom *d, char *out, size_t len, enum pair *c)
{
	int m = d->chk.facts.mtasts_mode;

	if (!m) {
		snprintf(out, len, "none");
		*c = CP_DIM;
		return;
	}
	snprintf(out, len, "%s", mtasts_mode_name((enum mtasts_mode)m));
	*c = chk_color(d->chk.res[CHK_MTASTS_POLICY].status);
}

static void badge_tlsa(const struct dom *d, char *out, size_t len, enum pair *c)
{
	const struct chk_result *r = &d->chk.res[CHK_MX_TARGET_TLSA];

	*c = chk_color(r->status);
	snprintf(out, len, "%s",
	    !d->target[0] || r->status == CHK_SKIP ? "-"
	    : r->status == CHK_PASS		   ? "ok"
	    : r->status == CHK_WARN		   ? "absent"
						   : "bad");
}

static void badge_run(const struct dom *d, char *out, size_t len, enum pair *c)
{
	const struct ui_run *r = &d->run;

	*c = r->st == MX_RUN_DONE	   ? CP_OK
	     : r->st == MX_RUN_FAILED	   ? CP_FAIL
	     : r->question[0]		   ? CP_WARN
	     : r->st == MX_RUN_GATE	   ? CP_WARN
	     : r->st == MX_RUN_ROLLED_BACK ? CP_DIM
	     : r->live			   ? CP_ACCENT
					   : CP_WARN;
	if (!r->exists) {
		snprintf(out, len, "-");
		*c = CP_DIM;
	} else if (!run_unfinished(r)) {
		snprintf(out, len, "%s",
		    r->st == MX_RUN_DONE	  ? "done"
		    : r->st == MX_RUN_ROLLED_BACK ? "rolled back"
						  : mx_run_state_name(r->st));
	} else if (r->question[0]) {
		snprintf(out, len, "asks at %s", r->step_key);
	} else {
		/* The column is narrow: who drives the run comes before its step. */
		snprintf(out, len, "%s %s",
		    r->live	  ? mx_run_state_name(r->st)
		    : run_held(r) ? "elsewhere"
				  : "stopped",
		    r->step_key);
	}
}

/* Writes text wrapped from row *y on, at most up to row last; moves *y. */
static void say(struct tui *t, int *y, int last, attr_t a, const char *text)
{
	char lines[4][300];
	int n = wrap(text, COLS - 3, lines, 4);

	for (int i = 0; i < n && *y <= last; i++)
		put((*y)++, 1, COLS - 2, a, lines[i]);
}

/* The readiness verdict of a checked domain: chk_verdict's line, verbatim (one truth). */
static enum pair verdict(const struct dom *d, char *out, size_t len)
{
	const struct chk_verdict_info *v = &d->chk.verdict;

	snprintf(out, len, "%s", v->text);
	return v->v == CHK_V_READY || v->runnable ? CP_OK
	       : v->v == CHK_V_MIGRATED		  ? CP_DIM
						  : CP_FAIL;
}

/* The selected domain in a few sentences, from row y to the message row. */
static void draw_selected(struct tui *t, const struct dom *d, int y)
{
	int last = LINES - 3;
	char text[TEXT_MAX + 300];
	enum pair c;

	mvhline(y++, 0, ACS_HLINE, COLS);
	put(y++, 1, COLS - 2, A_BOLD, d->name);
	if (d->unsupported) {
		say(t, &y, last, role(t, CP_DIM), UNSUPPORTED_TEXT);
		return;
	}
	snprintf(text, sizeof(text), "target: %s%s   provider: %s",
	    d->target[0]	       ? d->target
	    : t->tenant && d->exo_read ? "(not provisioned in Exchange Online yet)"
	    : t->tenant		       ? "(asking Exchange Online…)"
				       : "(not set: press t)",
	    d->target[0] && d->exo_target[0] && !strcmp(d->target, d->exo_target)
		? " (from Exchange Online)"
		: "",
	    d->provider);
	say(t, &y, last, A_NORMAL, text);
	/* The checks' verdict is from before a run; while one is under way, where it is. */
	if (d->checked && !d->run.live && !run_unfinished(&d->run)) {
		c = verdict(d, text, sizeof(text));
		say(t, &y, last, role(t, c), text);
	}
	if (d->run.live && !d->run.question[0]) {
		const char *who = d->run.rollback ? "the rollback" : "the run";
		char cd[32] = "";

		if (d->run.wake && d->run.waiting_for[0])
			countdown(d->run.wake - ui_now(t), cd, sizeof(cd));
		if (d->run.st == MX_RUN_GATE)
			snprintf(text, sizeof(text),
			    "%s waits at %s for you to act: Enter shows what to do", who,
			    d->run.step_key);
		else if (d->run.waiting_for[0])
			snprintf(text, sizeof(text), "%s waits at %s for %s%s%s%s; Enter opens it",
			    who, d->run.step_key, d->run.waiting_for, cd[0] ? " (" : "", cd,
			    cd[0] ? " left)" : "");
		else
			snprintf(text, sizeof(text), "%s is at %s; Enter opens it", who,
			    d->run.step_key);
		say(t, &y, last, role(t, CP_ACCENT), text);
	}
	if (d->run.exists && d->run.error[0] && !d->run.live) {
		say(t, &y, last, role(t, CP_WARN), d->run.error);
	} else if (d->run.question[0]) {
		say(t, &y, last, role(t, CP_WARN),
		    "the run asks a question: Enter opens it to answer (Y answers every waiting "
		    "run at once)");
	} else if (run_unfinished(&d->run) && !d->run.live) {
		snprintf(text, sizeof(text),
		    "an unfinished %s (%s at %s): Enter opens it to resume, r rolls back",
		    d->run.rollback ? "rollback" : "run", mx_run_state_name(d->run.st),
		    d->run.step_key);
		say(t, &y, last, role(t, CP_WARN), text);
	}
}

/* Column widths: the domain and the current MX as wide as their longest value, as far as
 * the run's column keeps 16 columns; the MX is cut (with …) only below that. */
static void widths(const struct tui *t, int *wdom, int *wmx, int *wrun)
{
	int dom = 7, mx = 11, avail;
	char b[300];
	enum pair c;

	for (size_t i = 0; i < t->ndoms; i++) {
		const struct dom *d = &t->doms[i];

		if ((int)strlen(d->name) + 1 > dom)
			dom = (int)strlen(d->name) + 1;
		if (d->checked) {
			badge_mx(d, b, sizeof(b), &c);
			if ((int)strlen(b) + 1 > mx)
				mx = (int)strlen(b) + 1;
		}
	}
	*wdom = dom < 24 ? dom : 24;
	avail = COLS - 2 - *wdom - 11 - 17;
	*wmx = mx < avail - 16 ? mx : avail - 16;
	*wrun = avail - *wmx;
}

/* Where a domain stands, for the title's counts and for ! (the next that needs a person). What
 * waits for a person comes first. A domain without a run is "ready" when S would start it
 * (startable), else it stands by its checks' verdict. */
enum dom_state {
	DS_ASK,
	DS_GATE,
	DS_FAILED,
	DS_STOPPED,
	DS_RUNNING,
	DS_CHECKING,
	DS_NOT_READY,
	DS_NO_TARGET,
	DS_READY,
	DS_DONE,
	DS_MIGRATED,
	DS_BACK,
	DS_NONE, /* *.onmicrosoft.com: nothing to move */
};

static const char *const dom_state_name[DS_NONE] = {"asking", "at a gate", "failed", "stopped",
    "running", "checking", "not ready", "no target", "ready", "done", "migrated", "rolled back"};

static enum dom_state dom_state(const struct tui *t, const struct dom *d)
{
	const struct ui_run *r = &d->run;
	const struct chk_verdict_info *v = &d->chk.verdict;

	if (d->unsupported)
		return DS_NONE;
	if (r->exists && r->st == MX_RUN_DONE)
		return DS_DONE;
	if (r->exists && r->st == MX_RUN_ROLLED_BACK)
		return DS_BACK;
	if (run_unfinished(r))
		return r->question[0]		  ? DS_ASK
		       : r->st == MX_RUN_FAILED	  ? DS_FAILED
		       : r->st == MX_RUN_GATE	  ? DS_GATE
		       : !r->live && !run_held(r) ? DS_STOPPED
						  : DS_RUNNING;
	if (!d->checked)
		return d->checking ? DS_CHECKING : DS_NOT_READY;
	if (v->v == CHK_V_MIGRATED)
		return DS_MIGRATED;
	if (startable(t, d))
		return DS_READY;
	return v->runnable && !d->target[0] ? DS_NO_TARGET : DS_NOT_READY;
}

/* A person is wanted: a question, a gate, a failure, a stopped run, a domain not ready. */
static bool needs_you(enum dom_state s)
{
	return s <= DS_STOPPED || s == DS_NOT_READY;
}

/* The list at a glance for the title: "(1000): 30 asking, 2 stopped, 612 running, 356 done";
 * a count of nothing is left out. */
static void summary(const struct tui *t, char *out, size_t len)
{
	size_t n[DS_NONE + 1] = {0}, at;
	const char *sep = ":";

	for (size_t i = 0; i < t->ndoms; i++)
		n[dom_state(t, &t->doms[i])]++;
	at = (size_t)snprintf(out, len, " (%zu)", t->ndoms);
	for (int k = 0; k < DS_NONE && at < len; k++) {
		if (!n[k])
			continue;
		at +=
		    (size_t)snprintf(out + at, len - at, "%s %zu %s", sep, n[k], dom_state_name[k]);
		sep = ",";
	}
}

static void draw_domains(struct tui *t)
{
	int y = 2, rows = LINES - 4 - 6, wdom, wsec = 11, wmx, wrun;
	size_t at;
	char b[300];
	enum pair c;

	widths(t, &wdom, &wmx, &wrun);
	if (t->tenant && t->tenant_name[0])
		at = (size_t)snprintf(b, sizeof(b), "Domains of tenant %s", t->tenant_name);
	else
		at = (size_t)snprintf(b, sizeof(b), "%s", ui_scr_domains.title);
	if (t->ndoms > 1 && at < sizeof(b))
		summary(t, b + at, sizeof(b) - at);
	draw_title(t, b);
	putf(1, 1, COLS - 2, A_BOLD, "%-*s %-*s %-*s %-8s %-7s %s", wdom - 1, "DOMAIN", wsec - 1,
	    "DNSSEC", wmx - 1, "CURRENT MX", "MTA-STS", "TLSA", "RUN");
	if (!t->ndoms)
		put(3, 2, COLS - 4, role(t, CP_DIM),
		    "No domains yet: press a to add one (or start with `mxcutover tui "
		    "DOMAIN...`).");
	if (t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= t->top + rows)
		t->top = t->sel - rows + 1;
	for (int i = t->top; i < (int)t->ndoms && y < 2 + rows; i++, y++) {
		struct dom *d = &t->doms[i];
		bool sel = i == t->sel;
		attr_t base = sel ? role(t, CP_SEL) : A_NORMAL;
		int x = 1;

		if (sel)
			fill(y, base);
		put_cut(t, y, x, wdom - 1, base | (sel ? A_BOLD : 0), d->name);
		x += wdom;
		if (d->unsupported) {
			put(y, x, COLS - x - 1, base | role(t, CP_DIM),
			    "*.onmicrosoft.com: unsupported (Microsoft manages its MX)");
			continue;
		} else if (d->checking && !d->checked) {
			put(y, x, wsec + wmx, base | role(t, CP_DIM), "checking…");
			x += wsec + wmx + 8 + 8;
		} else if (!d->checked) {
			put(y, x, wsec + wmx, base | role(t, CP_FAIL),
			    d->chk_err[0] ? d->chk_err : "not checked");
			x += wsec + wmx + 8 + 8;
		} else {
			badge_dnssec(d, b, sizeof(b), &c);
			put(y, x, wsec - 1, sel ? base : role(t, c), b);
			x += wsec;
			badge_mx(d, b, sizeof(b), &c);
			/* " +": more hosts than the first, kept when the host is cut */
			put_cut_tail(t, y, x, wmx - 1, sel ? base : role(t, c), b, " +");
			x += wmx;
			badge_mtasts(d, b, sizeof(b), &c);
			put(y, x, 8, sel ? base : role(t, c), b);
			x += 9;
			badge_tlsa(d, b, sizeof(b), &c);
			put(y, x, 7, sel ? base : role(t, c), b);
			x += 8;
		}
		badge_run(d, b, sizeof(b), &c);
		put_cut(t, y, x, COLS - x - 1, sel ? base : role(t, c), b);
	}
	if (t->ndoms)
		draw_selected(t, &t->doms[t->sel], LINES - 8);
	draw_msg(t);
	/* S and Y where the bar has room for them (the help always lists them). */
	draw_keys(t, COLS >= 116 ? "Enter:open  t:target  p:export  r:rollback  R:recheck  a:add  "
				   "S:start all  Y:yes to all  ?:help  q:quit"
				 : "Enter:open  t:target  p:export  r:rollback  R:recheck  a:add  "
				   "?:help  q:quit");
}

/* The keys that act on the selected domain's checks, target or plan. */
static bool opens_domain(int ch)
{
	return ch == '\n' || ch == '\r' || ch == KEY_ENTER || ch == KEY_RIGHT || ch == 'l' ||
	       ch == 'c' || ch == 't' || ch == 'p';
}

/* Selects the first domain from sel + from on (wrapping) whose name holds t->find, any case. */
static void find_next(struct tui *t, int from)
{
	size_t n = t->ndoms;

	if (!t->find[0]) {
		message(t, CP_DIM, "nothing to find again yet: / finds a domain");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int k = (int)(((size_t)t->sel + (size_t)from + i) % n);

		if (strcasestr(t->doms[k].name, t->find)) {
			t->sel = k;
			t->dirty = true;
			return;
		}
	}
	message(t, CP_WARN, "no domain's name holds \"%s\"", t->find);
}

static void find_done(struct tui *t, const struct modal *m, bool ok)
{
	size_t len = strlen(m->input);

	if (!ok || !len)
		return;
	/* A name as typed, or as written with a trailing dot. */
	snprintf(t->find, sizeof(t->find), "%.*s",
	    (int)(len > 1 && m->input[len - 1] == '.' ? len - 1 : len), m->input);
	find_next(t, 0);
}

/* Selects the next domain (after sel, wrapping) that a person has to look at. */
static void next_needing_you(struct tui *t)
{
	for (size_t i = 1; i <= t->ndoms; i++) {
		int k = (int)(((size_t)t->sel + i) % t->ndoms);
		enum dom_state s = dom_state(t, &t->doms[k]);

		if (needs_you(s)) {
			t->sel = k;
			t->dirty = true;
			message(t, CP_DIM, "%s: %s", t->doms[k].name, dom_state_name[s]);
			return;
		}
	}
	message(t, CP_OK,
	    "no domain needs you now: none asks, waits at a gate, failed, stopped or "
	    "is not ready");
}

static void key_domains(struct tui *t, int ch)
{
	struct dom *d = t->ndoms ? &t->doms[t->sel] : NULL;

	if (nav_key(t, ch, &t->sel, t->ndoms ? (int)t->ndoms - 1 : 0))
		return;
	if (ch == 'a')
		ask_add_domain(t);
	else if (ch == 'q' || ch == 27)
		ask_quit(t);
	else if (ch == 'S')
		ask_start_all(t);
	else if (ch == 'Y')
		ask_answer_all(t);
	else if (ch == '/')
		modal_open(t, MODAL_PROMPT, "Find a domain", -1, find_done,
		    "Part of its name (n finds the next one):");
	else if (ch == 'n')
		find_next(t, 1);
	else if (ch == '!')
		next_needing_you(t);
	else if (ch == 'R' || ch == KEY_F(5)) {
		recheck(t, UI_CHECK_ALL);
		/* Tenant mode: domains the tenant accepted since join the list. */
		if (t->tenant)
			send_cmd(t, UI_CMD_TENANT, -1, false);
	}
	if (!d)
		return;
	if (d->unsupported && opens_domain(ch)) {
		message(t, CP_DIM, "%s is " UNSUPPORTED_TEXT, d->name);
		return;
	}
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
	case KEY_RIGHT:
	case 'l':
		if (d->run.live || run_unfinished(&d->run))
			open_run(t, t->sel);
		else
			open_checks(t);
		break;
	case 'c':
		open_checks(t);
		break;
	case 't':
		open_target(t);
		break;
	case 'p':
		export_plan(t, t->sel);
		break;
	case 'r':
		ask_rollback(t, t->sel);
		break;
	}
}

const struct ui_screen ui_scr_domains = {
    .title = "Domains",
    .draw = draw_domains,
    .key = key_domains,
};
