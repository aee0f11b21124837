/* SPDX-License-Identifier: MIT */
/* ui/scr_run.c — the run (or rollback) of one domain: its steps and their states, the live
 * countdown to the next deadline, a gate's exact command, and the domain's log. */
#include <stdio.h>
#include <string.h>

#include "tui.h"

/* How a step of the list looks. */
enum mark { MARK_PENDING, MARK_ACTIVE, MARK_GATE, MARK_DONE, MARK_SKIPPED, MARK_FAILED };

/* The same for both directions: the current step from the run, the others from the journal
 * (a rollback's steps have journal states of their own, skipped ones included). */
static enum mark step_mark(const struct ui_run *r, int i)
{
	bool unfinished = run_unfinished(r);

	if (i == r->step && unfinished)
		return r->st == MX_RUN_FAILED			? MARK_FAILED
		       : r->st == MX_RUN_GATE || r->question[0] ? MARK_GATE
								: MARK_ACTIVE;
	if (i >= UI_STEP_MAX)
		return MARK_PENDING;
	switch (r->steps[i]) {
	case MX_STEP_DONE:
		return MARK_DONE;
	case MX_STEP_SKIPPED:
		return MARK_SKIPPED;
	case MX_STEP_ACTIVE:
		return MARK_ACTIVE;
	default:
		/* A finished rollback's steps all ran (older journals kept no states). */
		return r->rollback && r->st == MX_RUN_ROLLED_BACK ? MARK_DONE : MARK_PENDING;
	}
}

/* A run that does not call Exchange Online never enters its steps: they are not shown. */
static bool step_shown(const struct ui_run *r, int i)
{
	return r->exchange || !(mx_prog_step(r->rollback, i)->flags & MX_STEPF_EXCHANGE);
}

/* Returns the rows used. */
static int draw_steps(struct tui *t, const struct dom *d, int y, int count)
{
	const struct ui_run *r = &d->run;
	int y0 = y;
	static const enum pair color[] = {[MARK_PENDING] = CP_DIM,
	    [MARK_ACTIVE] = CP_ACCENT,
	    [MARK_GATE] = CP_WARN,
	    [MARK_DONE] = CP_OK,
	    [MARK_SKIPPED] = CP_DIM,
	    [MARK_FAILED] = CP_FAIL};
	int wtitle = COLS - 4 - 16;
	char cd[40];

	if (wtitle > 56)
		wtitle = 56;
	for (int i = 0; i < count; i++) {
		enum mark m = step_mark(r, i);
		const char *title = mx_prog_step(r->rollback, i)->title;
		const char *marks[] = {[MARK_PENDING] = sym(t, "·", "."),
		    [MARK_ACTIVE] = sym(t, "▸", ">"),
		    [MARK_GATE] = "!",
		    [MARK_DONE] = sym(t, "✓", "+"),
		    [MARK_SKIPPED] = sym(t, "–", "-"),
		    [MARK_FAILED] = sym(t, "✗", "x")};

		if (!step_shown(r, i))
			continue;
		put(y, 2, 2, role(t, color[m]) | A_BOLD, marks[m]);
		put(y, 4, wtitle,
		    i == r->step && m != MARK_DONE ? A_BOLD
		    : color[m] == CP_DIM	   ? role(t, CP_DIM)
						   : A_NORMAL,
		    title);
		if (m == MARK_SKIPPED)
			put(y, 5 + wtitle, COLS - 6 - wtitle, role(t, CP_DIM), "skipped");
		if (i == r->step && r->live && r->wake && r->waiting_for[0]) {
			countdown(r->wake - ui_now(t), cd, sizeof(cd));
			putf(y, 5 + wtitle, COLS - 6 - wtitle, role(t, CP_ACCENT) | A_BOLD,
			    "%s left", cd);
		}
		y++;
	}
	return y - y0;
}

/* The question the run waits on, in a frame the loop keeps drawing under: y or n answers. */
static int draw_question(struct tui *t, const struct dom *d, int y)
{
	char lines[8][300];
	int n = wrap(d->run.question, COLS - 8, lines, 6), h = n + 3;

	if (y + h > LINES - 2)
		y = LINES - 2 - h;
	frame(t, y, 1, h, COLS - 2, role(t, CP_SEL), "Question");
	for (int i = 0; i < n; i++)
		put(y + 1 + i, 3, COLS - 6, role(t, CP_SEL), lines[i]);
	put(y + 1 + n, 3, COLS - 6, role(t, CP_SEL) | A_BOLD,
	    "y: yes   n: no   (the other runs go on meanwhile)");
	return y + h;
}

static void draw_run(struct tui *t)
{
	struct dom *d = &t->doms[t->run_dom];
	const struct ui_run *r = &d->run;
	bool unfinished = run_unfinished(r);
	int y, count = mx_prog_count(r->rollback), logtop, logrows;
	char cd[40], lines[12][300], state[40];
	int wstate;

	draw_title(t, r->rollback ? "Rollback" : "Run");
	/* The state on the right, never run into by the names on the left. */
	snprintf(state, sizeof(state), "%s%s", r->exists ? mx_run_state_name(r->st) : "no run",
	    r->live || !unfinished ? ""
	    : run_held(r)	   ? " (another process)"
				   : " (stopped)");
	wstate = (int)strlen(state);
	putf(1, 1, COLS - wstate - 4, A_BOLD, "%s %s %s", d->name, sym(t, "→", "->"),
	    d->target[0] ? d->target : "?");
	put(1, COLS - wstate - 1, wstate, role(t, r->live ? CP_ACCENT : CP_WARN), state);
	y = 2 + draw_steps(t, d, 2, count);
	/* What the run waits for, with the live countdown. */
	if (r->live && r->wake && r->waiting_for[0]) {
		char until[32];
		struct tm tm;
		time_t w = r->wake;

		gmtime_r(&w, &tm);
		strftime(until, sizeof(until), "%H:%M:%S UTC", &tm);
		countdown(r->wake - ui_now(t), cd, sizeof(cd));
		putf(y++, 2, COLS - 4, role(t, CP_ACCENT), "%s waiting for %s: %s left (until %s)",
		    sym(t, "⏳", "~"), r->waiting_for, cd, until);
	} else if (r->live) {
		putf(y++, 2, COLS - 4, role(t, CP_ACCENT), "%s working…", sym(t, "▸", ">"));
	} else if (r->st == MX_RUN_DONE) {
		putf(y++, 2, COLS - 4, role(t, CP_OK) | A_BOLD,
		    "Cutover complete: %s receives mail at %s.", d->name, d->target);
		putf(y++, 2, COLS - 4, A_NORMAL,
		    "Exchange Online's view: Get-DnssecStatusForVerifiedDomain -DomainName %s",
		    d->name);
	} else if (r->st == MX_RUN_ROLLED_BACK) {
		putf(y++, 2, COLS - 4, role(t, CP_OK) | A_BOLD,
		    "Rolled back: the MX of %s is exactly as it was before the run.", d->name);
	} else if (run_held(r)) {
		putf(y++, 2, COLS - 4, role(t, CP_ACCENT) | A_BOLD, "Run by another mxcutover (%s)",
		    r->held_by);
		putf(y++, 2, COLS - 4, A_NORMAL,
		    "Shown from its journal; Enter takes it over once that process has ended");
	} else if (unfinished) {
		putf(y++, 2, COLS - 4, role(t, CP_WARN) | A_BOLD,
		    "Stopped, resumable: Enter resumes %s; later: mxcutover resume %s",
		    r->rollback ? "the rollback" : "here", d->name);
	}
	logtop = y;
	if (r->question[0]) {
		logtop = draw_question(t, d, y);
	} else if (r->live && r->gate[0]) {
		/* A gate: the exact command a person must run. */
		int n = wrap(r->gate, COLS - 8, lines, 8);

		put(y++, 2, COLS - 4, role(t, CP_WARN) | A_BOLD, "ACTION NEEDED");
		for (int i = 0; i < n && y < LINES - 4; i++)
			put(y++, 4, COLS - 6, role(t, CP_KEY), lines[i]);
		logtop = y;
	} else if (!r->live && r->error[0] && unfinished) {
		int n = wrap(r->error, COLS - 6, lines, 3);

		for (int i = 0; i < n; i++)
			put(y++, 4, COLS - 6, role(t, CP_WARN), lines[i]);
		logtop = y;
	}
	/* The log pane: this domain's newest lines. */
	logrows = LINES - 3 - logtop - 1;
	if (logrows > 0) {
		int idx[LOG_MAX], n = 0;

		mvhline(logtop, 0, ACS_HLINE, COLS);
		put(logtop, 2, 6, A_BOLD, " Log ");
		for (int i = 0; i < t->nlog; i++) {
			struct logline *g = &t->log[(t->log_head + i) % LOG_MAX];

			if (g->dom == t->run_dom || g->dom < 0)
				idx[n++] = (t->log_head + i) % LOG_MAX;
		}
		for (int i = n > logrows ? n - logrows : 0, row = 0; i < n; i++, row++) {
			struct logline *g = &t->log[idx[i]];

			put(logtop + 1 + row, 2, COLS - 3,
			    role(t, g->sev >= MX_SEV_ERROR  ? CP_FAIL
				    : g->sev == MX_SEV_WARN ? CP_WARN
							    : 0),
			    g->text);
		}
	}
	draw_msg(t);
	if (r->question[0])
		draw_keys(t, "y:yes  n:no  q:stop  r:rollback  Esc:domains  ?:help");
	else if (r->live)
		draw_keys(t, "q:stop (resumable)  r:rollback  p:export plan  Esc:domains  ?:help");
	else if (unfinished)
		draw_keys(t, "Enter:resume  r:rollback  p:export plan  Esc:back  ?:help");
	else
		draw_keys(t, "r:rollback  p:export plan  Esc:back  ?:help");
}

static void key_run(struct tui *t, int ch)
{
	struct dom *d = &t->doms[t->run_dom];
	bool live = d->run.live;

	if (d->run.question[0] && (ch == 'y' || ch == 'Y' || ch == 'n' || ch == 'N')) {
		answer(t, t->run_dom, ch == 'y' || ch == 'Y');
		return;
	}
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!live && run_unfinished(&d->run))
			resume_run(t, t->run_dom);
		break;
	case 'r':
		ask_rollback(t, t->run_dom);
		break;
	case 'p':
		export_plan(t, t->run_dom);
		break;
	case 'q':
		if (live)
			ask_stop(t, t->run_dom);
		else
			goto_screen(t, SCR_domains);
		break;
	case 27:
	case KEY_LEFT:
		goto_screen(t, SCR_domains);
		break;
	}
}

const struct ui_screen ui_scr_run = {
    .title = "Run",
    .flags = UI_SCRF_DOMAIN,
    .draw = draw_run,
    .key = key_run,
};
