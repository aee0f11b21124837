/* SPDX-License-Identifier: MIT */
/* ui/scr_help.c — the help: every key, drawn in a frame over the screen it was opened from;
 * any key closes it. */
#include <string.h>

#include "tui.h"

static const char *const help_text[] = {
    "Keys (like htop and tig)",
    "",
    " ↑ ↓ j k   move, scroll          PgUp PgDn g G   page, first, last",
    " Enter     open, go on, start    Esc q           back (q on Domains quits)",
    " ?         this help             Ctrl-L          redraw",
    "Domains   c checks  t target  p export  r roll back  R re-check  a add",
    "          S starts every ready domain  Y answers yes to every question",
    "          / finds a domain  n finds again  ! the next one that needs you",
    "Checks    every prerequisite with its fix; Enter: target entry",
    "Target    paste the DnssecMxValue, judged as you type; Tab: provider",
    "Plan      records before (-) and after (+), waits, gates, PowerShell;",
    "          Enter starts the run after you confirm",
    "Run       steps, countdown, gates with the exact command, the log; y/n",
    "          answers a question; q stops (resumable); Enter resumes a",
    "          stopped run, a stopped rollback as a rollback",
    "Rollback  r, then confirm: the snapshot returns in a mail-safe order",
    "Ctrl-C    stops every run where it is and quits; all stay resumable",
    "p writes the plan to a file: .md markdown, .json, .ps1 PowerShell,",
    ".nsupdate nsupdate, anything else text. NO_COLOR=1: no colours.",
    "Press any key to close this help.",
};

/* Framed, centred, and at 80x24 whole: 20 lines in a frame of 22 rows below the title. */
static void draw_help(struct tui *t)
{
	int n = (int)(sizeof(help_text) / sizeof(help_text[0]));
	int w = COLS - 2 < 80 ? COLS - 2 : 80, h = n + 2;
	int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;

	if (y0 < 1)
		y0 = 1;
	frame(t, y0, x0, h, w, role(t, CP_SEL), "Help");
	for (int i = 0; i < n && y0 + 1 + i < LINES - 1; i++)
		put(y0 + 1 + i, x0 + 2, w - 4, role(t, CP_SEL) | (i == 0 ? A_BOLD : 0),
		    t->utf8 || i != 2 ? help_text[i]
				      : " Up Down j k move, scroll          PgUp PgDn g G   page, "
					"first, last");
}

static void key_help(struct tui *t, int ch)
{
	(void)ch;
	goto_screen(t, t->under);
}

const struct ui_screen ui_scr_help = {
    .title = "Help",
    .flags = UI_SCRF_OVERLAY,
    .draw = draw_help,
    .key = key_help,
};
