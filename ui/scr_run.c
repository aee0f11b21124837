/* SPDX-License-Identifier: MIT */
/* ui/scr_run.c — the run (or rollback) of one domain: its steps and their states, the live
 * countdown to the next deadline, a gate's exact command, and the domain's log. */
#include <stdio.h>
#include <string.h>

#include "tui.h"

static void draw_run(struct tui *t)
{
	struct dom *d = &t->doms[t->run_dom];
	const struct live *l = &d->live;
	bool live = dom_in_engine(t, d) && !l->stopped;
	bool rollback = live || l->in_engine
			    ? l->rollback
			    : (d->run.state && (!strcmp(d->run.state, "rolling_back") ||
						   !strcmp(d->run.state, "rolled_back")));
	const char *state = l->in_engine ? l->state : d->run.state ? d->run.state : "";
	int y = 3, count = rollback ? mx_engine_rb_count() : STEP_COUNT, cur, logtop, logrows;
	char cd[40], lines[12][300];

	draw_title(t, rollback ? "Rollback" : "Run");
	putf(1, 1, COLS - 2, A_BOLD, "%s %s %s", d->name, sym(t, "→", "->"),
	    d->target[0] ? d->target : "?");
	putf(1, COLS - 34, 33, role(t, live ? CP_ACCENT : CP_WARN), "%s%s", state,
	    live ? "" : (run_unfinished(state) ? " (stopped)" : ""));
	if (l->in_engine)
		cur = l->step;
	else
		cur = rollback ? count : mx_step_find(d->run.step ? d->run.step : "");
	if (!strcmp(state, "done") || !strcmp(state, "rolled_back"))
		cur = count;
	for (int i = 0; i < count; i++, y++) {
		const char *title = rollback ? mx_engine_rb_title(i) : mx_step_table[i].title;
		const char *st = rollback ? (i < cur	   ? "done"
						: i == cur ? "active"
							   : "pending")
					  : d->step_state[i];
		const char *mark;
		enum pair c;

		if (!rollback && i == cur && run_unfinished(state))
			st = !strcmp(state, "failed") ? "failed"
			     : !strcmp(state, "gate") ? "gate"
						      : "active";
		if (!strcmp(st, "done")) {
			mark = sym(t, "✓", "+");
			c = CP_OK;
		} else if (!strcmp(st, "skipped") || !strcmp(st, "undone")) {
			mark = sym(t, "–", "-");
			c = CP_DIM;
		} else if (!strcmp(st, "active")) {
			mark = sym(t, "▸", ">");
			c = CP_ACCENT;
		} else if (!strcmp(st, "gate")) {
			mark = "!";
			c = CP_WARN;
		} else if (!strcmp(st, "failed")) {
			mark = sym(t, "✗", "x");
			c = CP_FAIL;
		} else {
			mark = sym(t, "·", ".");
			c = CP_DIM;
		}
		put(y, 2, 2, role(t, c) | A_BOLD, mark);
		put(y, 4, 48, i == cur ? A_BOLD : (c == CP_DIM ? role(t, CP_DIM) : A_NORMAL),
		    title);
		if (!strcmp(st, "skipped"))
			put(y, 53, COLS - 54, role(t, CP_DIM), "skipped");
		if (i == cur && live && l->wake && l->waiting_for[0]) {
			time_t left = l->wake - mx_now(&t->clock);

			countdown(left, cd, sizeof(cd));
			putf(y, 53, COLS - 54, role(t, CP_ACCENT) | A_BOLD, "%s left", cd);
		}
	}
	y++;
	/* What the run waits for, with the live countdown. */
	if (live && l->wake && l->waiting_for[0]) {
		char until[32];
		struct tm tm;
		time_t w = l->wake;

		gmtime_r(&w, &tm);
		strftime(until, sizeof(until), "%H:%M:%S UTC", &tm);
		countdown(l->wake - mx_now(&t->clock), cd, sizeof(cd));
		putf(y++, 2, COLS - 4, role(t, CP_ACCENT), "%s waiting for %s: %s left (until %s)",
		    sym(t, "⏳", "~"), l->waiting_for, cd, until);
	} else if (live) {
		putf(y++, 2, COLS - 4, role(t, CP_ACCENT), "%s working…", sym(t, "▸", ">"));
	} else if (!strcmp(state, "done")) {
		putf(y++, 2, COLS - 4, role(t, CP_OK) | A_BOLD,
		    "Cutover complete: %s receives mail at %s.", d->name, d->target);
		putf(y++, 2, COLS - 4, A_NORMAL,
		    "Exchange Online's view: Get-DnssecStatusForVerifiedDomain -DomainName %s",
		    d->name);
	} else if (!strcmp(state, "rolled_back")) {
		putf(y++, 2, COLS - 4, role(t, CP_OK) | A_BOLD,
		    "Rolled back: the MX of %s is exactly as it was before the run.", d->name);
	} else if (run_unfinished(state)) {
		putf(y++, 2, COLS - 4, role(t, CP_WARN) | A_BOLD,
		    "Stopped, resumable: Enter resumes here; later: mxcutover resume %s", d->name);
	}
	/* A gate: the exact command a person must run. */
	logtop = y;
	if (live && l->gate[0]) {
		int n = wrap(l->gate, COLS - 8, lines, 8);

		put(y++, 2, COLS - 4, role(t, CP_WARN) | A_BOLD, "ACTION NEEDED");
		for (int i = 0; i < n && y < LINES - 4; i++)
			put(y++, 4, COLS - 6, role(t, CP_KEY), lines[i]);
		logtop = y;
	} else if (!live && d->run.error && run_unfinished(state)) {
		int n = wrap(d->run.error, COLS - 6, lines, 3);

		for (int i = 0; i < n; i++)
			put(y++, 4, COLS - 6, role(t, CP_WARN), lines[i]);
		logtop = y;
	}
	/* The log pane: this domain's newest lines. */
	mvhline(logtop, 0, ACS_HLINE, COLS);
	put(logtop, 2, 6, A_BOLD, " Log ");
	logrows = LINES - 3 - logtop - 1;
	{
		int idx[LOG_MAX], n = 0;

		for (int i = 0; i < t->nlog; i++) {
			struct logline *g = &t->log[(t->log_head + i) % LOG_MAX];

			if (g->dom == t->run_dom || g->dom < 0)
				idx[n++] = (t->log_head + i) % LOG_MAX;
		}
		for (int i = n > logrows ? n - logrows : 0, r = 0; i < n; i++, r++) {
			struct logline *g = &t->log[idx[i]];

			put(logtop + 1 + r, 2, COLS - 3,
			    role(t, g->sev >= MX_SEV_ERROR  ? CP_FAIL
				    : g->sev == MX_SEV_WARN ? CP_WARN
							    : 0),
			    g->text);
		}
	}
	draw_msg(t);
	if (live)
		draw_keys(t, "q:stop (resumable)  r:rollback  p:export plan  Esc:domains  ?:help");
	else if (run_unfinished(state))
		draw_keys(t, "Enter:resume  r:rollback  p:export plan  Esc:back  ?:help");
	else
		draw_keys(t, "r:rollback  p:export plan  Esc:back  ?:help");
}

static void key_run(struct tui *t, int ch)
{
	struct dom *d = &t->doms[t->run_dom];
	bool live = dom_in_engine(t, d) && !d->live.stopped;

	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!live && d->run.id && run_unfinished(d->run.state))
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
