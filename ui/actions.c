/* SPDX-License-Identifier: MIT */
/* ui/actions.c — what the keys do beyond moving around: open a screen for a domain, start,
 * resume, stop and roll back runs (each asked first in a dialog), add a domain, export a
 * plan, quit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"
#include "tui.h"

static const char *format_for(const char *path, enum mx_plan_format *fmt)
{
	const char *dot = strrchr(path, '.');

	*fmt = PLAN_TEXT;
	if (!dot)
		return "text";
	if (!strcmp(dot, ".md"))
		*fmt = PLAN_MARKDOWN;
	else if (!strcmp(dot, ".json"))
		*fmt = PLAN_JSON;
	else if (!strcmp(dot, ".ps1"))
		*fmt = PLAN_POWERSHELL;
	else if (!strcmp(dot, ".nsupdate"))
		*fmt = PLAN_NSUPDATE;
	return *fmt == PLAN_MARKDOWN	 ? "markdown"
	       : *fmt == PLAN_JSON	 ? "json"
	       : *fmt == PLAN_POWERSHELL ? "powershell"
	       : *fmt == PLAN_NSUPDATE	 ? "nsupdate"
					 : "text";
}

/* Writes through a temporary file renamed into place: the file is whole or absent. */
static int write_plan_file(struct tui *t, const struct dom *d, const char *path, struct mx_err *err)
{
	const struct mx_conf_section *sec = mx_conf_provider(t->app->conf, d->provider);
	enum mx_plan_format fmt;
	char tmp[600];
	FILE *fp;
	int rc;

	format_for(path, &fmt);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fp = fopen(tmp, "w");
	if (!fp)
		return mx_err_set(err, MX_EIO, "%s: %s", path, strerror(errno));
	rc = mx_plan_render(d->plan, fmt,
	    sec && !strcmp(sec->type, "rfc2136") ? mx_conf_get(sec, "server") : NULL, fp, err);
	if (fclose(fp) && !rc)
		rc = mx_err_set(err, MX_EIO, "%s: %s", path, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = mx_err_set(err, MX_EIO, "%s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

static void export_done(struct tui *t, const struct modal *m, bool ok)
{
	struct dom *d = &t->doms[m->dom];
	struct mx_err err;
	enum mx_plan_format fmt;
	char *abs;

	if (!ok || !m->input[0] || !d->plan)
		return;
	mx_err_clear(&err);
	if (write_plan_file(t, d, m->input, &err)) {
		message(t, CP_FAIL, "plan not written: %s", err.msg);
		return;
	}
	abs = realpath(m->input, NULL);
	message(t, CP_OK, "plan of %s written to %s (%s)", d->name, abs ? abs : m->input,
	    format_for(m->input, &fmt));
	free(abs);
}

void export_plan(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	struct modal *m;

	if (!d->target[0]) {
		message(t, CP_WARN, "%s has no target host yet: %s", d->name,
		    t->tenant ? "Exchange Online has not provisioned its endpoint"
			      : "press t to enter it");
		return;
	}
	if (!d->plan) {
		message(t, CP_DIM, "building the plan of %s to export it…", d->name);
		submit_plan(t, k, true);
		return;
	}
	m = modal_open(t, MODAL_PROMPT, "Export the plan", k, export_done,
	    "File to write the plan of %s to (.md markdown, .json, .ps1 PowerShell, .nsupdate, "
	    "else text):",
	    d->name);
	if (m)
		snprintf(m->input, sizeof(m->input), "%s-plan.md", d->name);
}

void open_run(struct tui *t, int k)
{
	t->run_dom = k;
	goto_screen(t, SCR_run);
}

void open_checks(struct tui *t)
{
	t->scroll = 0;
	goto_screen(t, SCR_checks);
}

void open_target(struct tui *t)
{
	struct dom *d = &t->doms[t->sel];
	const struct mx_conf *conf = t->app->conf;

	snprintf(t->tinput, sizeof(t->tinput), "%s", d->target);
	t->tprov = 0;
	for (size_t i = 0; i < conf->nprov; i++)
		if (!strcmp(conf->prov[i].name, d->provider))
			t->tprov = (int)i;
	goto_screen(t, SCR_target);
}

void open_plan(struct tui *t, int k)
{
	t->scroll = 0;
	t->plan_dom = k;
	t->msg[0] = '\0';
	if (!t->doms[k].plan && !t->doms[k].planning)
		submit_plan(t, k, false);
	goto_screen(t, SCR_plan);
}

void recheck(struct tui *t, int only)
{
	submit_checks(t, only);
	if (only < 0)
		message(t, 0, "checking %zu domain(s)…", t->ndoms);
}

static void start_done(struct tui *t, const struct modal *m, bool ok)
{
	struct dom *d = &t->doms[m->dom];

	if (!ok || (!d->plan && !unprovisioned(t, d)) || !send_cmd(t, UI_CMD_START, m->dom, false))
		return;
	d->note[0] = '\0';
	ui_log(t, m->dom, MX_SEV_INFO, "run started: %s %s %s", d->name, sym(t, "→", "->"),
	    d->target[0] ? d->target : "the host Exchange Online assigns");
	open_run(t, m->dom);
}

void ask_start_run(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];

	if (!d->plan)
		return;
	/* The one readiness verdict decides (chk_verdict), as it does for `plan` and `run`:
	 * its line is the reason. The plan's blockers are the same verdict's, at plan time. */
	if (d->checked && !d->chk.verdict.runnable) {
		message(t, d->chk.verdict.v == CHK_V_MIGRATED ? CP_WARN : CP_FAIL,
		    "%s: %s; the run does not start (c shows the checks)", d->name,
		    d->chk.verdict.text);
		return;
	}
	if (json_array_size(json_object_get(d->plan, "blockers"))) {
		message(t, CP_FAIL, "%s: %s; the run does not start (c shows the checks)", d->name,
		    json_string_value(json_array_get(json_object_get(d->plan, "blockers"), 0)));
		return;
	}
	modal_open(t, MODAL_CONFIRM, "Start the cutover", k, start_done,
	    "Start moving the MX of %s to %s through provider %s?\n\n%sEvery step is journaled "
	    "first; q stops where it is and the run stays resumable.",
	    d->name, d->target, d->provider,
	    t->tenant ? "The run calls Exchange Online itself: Enable-DnssecForVerifiedDomain "
			"first, MxValidation after the swap, Enable-SmtpDaneInbound at the end. "
		      : "");
}

bool unprovisioned(const struct tui *t, const struct dom *d)
{
	return t->tenant && d->exo_read && !d->exo_target[0] && !d->target[0] && !d->unsupported;
}

void ask_start_provision(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];

	if (d->checked && !d->chk.verdict.runnable) {
		message(t, CP_FAIL, "%s: %s; the run does not start (c shows the checks)", d->name,
		    d->chk.verdict.text);
		return;
	}
	modal_open(t, MODAL_CONFIRM, "Provision and start the cutover", k, start_done,
	    "Exchange Online has not provisioned the DNSSEC endpoint of %s yet. Start the run "
	    "through provider %s anyway?\n\nIts first step calls Enable-DnssecForVerifiedDomain "
	    "and takes the new MX host Exchange assigns; nothing is written to DNS before the "
	    "checks pass. Then the steps of the plan follow, MxValidation after the swap and "
	    "Enable-SmtpDaneInbound at the end.",
	    d->name, d->provider);
}

bool held_elsewhere(struct tui *t, int k, const char *what)
{
	struct dom *d = &t->doms[k];

	if (!run_held(&d->run))
		return false;
	message(t, CP_WARN, "%s: another mxcutover (pid %lld) runs it; %s once it has ended",
	    d->name, d->run.held_pid, what);
	return true;
}

/* A stopped run continues as what it was: a rollback resumes as a rollback. */
void resume_run(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];

	if (d->run.live || held_elsewhere(t, k, "resume it") ||
	    !send_cmd(t, UI_CMD_RESUME, k, false))
		return;
	ui_log(t, k, MX_SEV_INFO, "%s resumed", d->run.rollback ? "rollback" : "run");
	message(t, 0, "%s: %s resumed", d->name, d->run.rollback ? "rollback" : "run");
	open_run(t, k);
}

static void rollback_done(struct tui *t, const struct modal *m, bool ok)
{
	if (!ok || !send_cmd(t, UI_CMD_ROLLBACK, m->dom, false))
		return;
	ui_log(t, m->dom, MX_SEV_INFO, "rollback started");
	open_run(t, m->dom);
}

void ask_rollback(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];

	if (!d->run.exists || d->run.st == MX_RUN_ROLLED_BACK) {
		message(t, CP_WARN, "%s has no run to roll back", d->name);
		return;
	}
	if (held_elsewhere(t, k, "roll it back"))
		return;
	modal_open(t, MODAL_CONFIRM, "Roll back", k, rollback_done,
	    "Roll %s back to its snapshot?\n\n%sThe legacy MX is preferred again first, then "
	    "the TTL wait, then the new MX is removed and the original TTL and MTA-STS record "
	    "return. Mail keeps flowing throughout.",
	    d->name,
	    d->run.exchange ? "Inbound DANE goes off first: the rollback calls "
			      "Disable-SmtpDaneInbound itself if its run enabled it. "
			    : "");
}

void answer(struct tui *t, int k, bool yes)
{
	struct dom *d = &t->doms[k];

	if (!send_cmd(t, UI_CMD_ANSWER, k, yes))
		return;
	ui_log(t, k, MX_SEV_INFO, "answer: %s", yes ? "yes" : "no");
	/* Until the engine loop's next view arrives, the question is answered. */
	d->run.question[0] = '\0';
}

/* ---- the batch keys of the domains list ---- */

/* What S starts: a domain the one readiness verdict lets run, with a target (or, in tenant
 * mode, one Exchange has yet to provision: its run's first step does), and no run under way
 * or unfinished (that one is resumed or rolled back on its own). */
bool startable(const struct tui *t, const struct dom *d)
{
	return !d->unsupported && d->checked && d->chk.verdict.runnable && !d->run.live &&
	       !run_unfinished(&d->run) && (d->target[0] || unprovisioned(t, d)) &&
	       !(d->plan && json_array_size(json_object_get(d->plan, "blockers")));
}

static bool asks(const struct dom *d)
{
	return d->run.live && d->run.question[0];
}

/* Marks the domains pick() takes; their names ("a, b, c and 7 more") in out; how many. */
static size_t pick_all(
    struct tui *t, bool (*pick)(const struct tui *, const struct dom *), char *out, size_t len)
{
	size_t n = 0, at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < t->ndoms; i++) {
		struct dom *d = &t->doms[i];

		d->picked = pick(t, d);
		if (!d->picked)
			continue;
		if (n < 3 && at < len)
			at += (size_t)snprintf(out + at, len - at, "%s%s", n ? ", " : "", d->name);
		n++;
	}
	if (n > 3 && at < len)
		snprintf(out + at, len - at, " and %zu more", n - 3);
	return n;
}

/* The next domain marked by pick_all from index from on, its mark taken off; -1 when none. */
static int next_picked(struct tui *t, int from)
{
	for (int i = from; i < (int)t->ndoms; i++)
		if (t->doms[i].picked) {
			t->doms[i].picked = false;
			return i;
		}
	return -1;
}

static void unpick_all(struct tui *t)
{
	while (next_picked(t, 0) >= 0)
		;
}

static bool pick_start(const struct tui *t, const struct dom *d)
{
	return startable(t, d);
}

static bool pick_asks(const struct tui *t, const struct dom *d)
{
	(void)t;
	return asks(d);
}

static void start_all_done(struct tui *t, const struct modal *m, bool ok)
{
	size_t started = 0, gone = 0;

	(void)m;
	if (!ok) {
		unpick_all(t);
		return;
	}
	for (int i = 0; (i = next_picked(t, i)) >= 0; i++) {
		struct dom *d = &t->doms[i];

		/* What changed while the dialog was open (a check, a run) is left alone. */
		if (!startable(t, d)) {
			gone++;
			continue;
		}
		if (!send_cmd(t, UI_CMD_START, i, false)) {
			unpick_all(t);
			break;
		}
		d->note[0] = '\0';
		ui_log(t, i, MX_SEV_INFO, "run started: %s %s %s", d->name, sym(t, "→", "->"),
		    d->target[0] ? d->target : "the host Exchange Online assigns");
		started++;
	}
	message(t, CP_OK,
	    "%zu run(s) started%s; each asks for the inbound test when it gets there: Y answers "
	    "the waiting ones",
	    started, gone ? " (the others changed meanwhile and were left alone)" : "");
}

void ask_start_all(struct tui *t)
{
	char names[300];
	size_t n = pick_all(t, pick_start, names, sizeof(names)), checking = 0;

	for (size_t i = 0; i < t->ndoms; i++)
		checking += t->doms[i].checking && !t->doms[i].checked;
	if (!n) {
		message(t, CP_WARN, "no domain to start: %s",
		    checking ? "the checks are still running; S again "
			       "when they are done"
			     : "every domain is either not ready (c shows "
			       "why), without a target (t), or has a run");
		return;
	}
	if (!modal_open(t, MODAL_CONFIRM, "Start every ready domain", -1, start_all_done,
		"Start the cutover of %zu domain(s): %s, each through its provider?\n\n%zu other "
		"domain(s) are left alone: not ready, %sno target, or a run already.%s Every run "
		"is journaled on its own and can be stopped, resumed or rolled back by itself. "
		"Each asks for the inbound test when its new MX is in place: Y on this list "
		"answers every waiting question at once.",
		n, names, t->ndoms - n, checking ? "still being checked, " : "",
		t->tenant ? " Each run calls Exchange Online itself." : ""))
		unpick_all(t);
}

static void answer_all_done(struct tui *t, const struct modal *m, bool ok)
{
	size_t n = 0;

	(void)m;
	/* Only the runs named in the dialog, and only if they still ask. */
	for (int i = 0; (i = next_picked(t, i)) >= 0; i++)
		if (ok && asks(&t->doms[i])) {
			answer(t, i, true);
			n++;
		}
	if (ok)
		message(t, CP_OK, "answered yes for %zu run(s)", n);
}

void ask_answer_all(struct tui *t)
{
	char names[300];
	size_t n = pick_all(t, pick_asks, names, sizeof(names));

	if (!n) {
		message(t, CP_DIM, "no run waits for an answer");
		return;
	}
	if (!modal_open(t, MODAL_CONFIRM, "Answer every waiting question", -1, answer_all_done,
		"Answer yes for the %zu run(s) waiting at the inbound test: %s?\n\nYes only if "
		"Microsoft's Remote Connectivity Analyzer "
		"(https://testconnectivity.microsoft.com/, "
		"\"Inbound SMTP Email\") passed for each of them. A run answered no (Enter on it, "
		"then n) stops at its gate, resumable.",
		n, names))
		unpick_all(t);
}

static void stop_done(struct tui *t, const struct modal *m, bool ok)
{
	struct dom *d = &t->doms[m->dom];

	if (!ok || !send_cmd(t, UI_CMD_STOP, -1, false))
		return;
	message(t, CP_WARN,
	    "%s stopped at %s, resumable: Enter resumes, or later `mxcutover resume %s`", d->name,
	    d->run.step_key, d->name);
}

void ask_stop(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];

	modal_open(t, MODAL_CONFIRM, "Stop the run", k, stop_done,
	    "Stop the run of %s where it is?\n\nThe journal holds its position: Enter on this "
	    "screen resumes it, or later `mxcutover resume %s`.",
	    d->name, d->name);
}

static void quit_done(struct tui *t, const struct modal *m, bool ok)
{
	(void)m;
	if (ok)
		t->quit = true;
}

void ask_quit(struct tui *t)
{
	if (!any_live(t)) {
		t->quit = true;
		return;
	}
	modal_open(t, MODAL_CONFIRM, "Quit", -1, quit_done,
	    "A run is active. Stop it where it is and quit? It stays resumable (mxcutover "
	    "resume, or this wizard).");
}

static void add_done(struct tui *t, const struct modal *m, bool ok)
{
	size_t before = t->ndoms;
	int k;

	if (!ok || !m->input[0] || (k = add_domain(t, m->input, NULL)) < 0)
		return;
	t->sel = k;
	if (t->ndoms > before)
		submit_checks(t, k);
}

void ask_add_domain(struct tui *t)
{
	modal_open(t, MODAL_PROMPT, "Add a domain", -1, add_done,
	    "Domain (an accepted domain of the tenant):");
}
