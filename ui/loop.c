/* SPDX-License-Identifier: MIT */
/* ui/loop.c — the terminal's loop: one poll over the keyboard, the signal pipe and the engine
 * loop's message pipe, with a timeout of at most a second; then the messages are applied to
 * the model and the screen is redrawn. It never steps the engine nor waits for the network:
 * the engine loop (ui/core.c) does that on its own thread.
 * Keys go to the top dialog (ui/view.c), else to the current screen of the screen table. */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tui.h"

#define UI_SCR_ROW(n) [SCR_##n] = &ui_scr_##n,
static const struct ui_screen *const screens[SCR_COUNT] = {UI_SCREENS(UI_SCR_ROW)};
#undef UI_SCR_ROW

/* The time from the poll's return to the next poll: how long a key may wait for the loop
 * (MXCUTOVER_UI_TIMING, bench/wizard_gap). */
static void busy_end(struct tui *t)
{
	double ms;

	if (!t->woke)
		return;
	ms = mx_mono_ms() - t->woke;
	t->turns++;
	t->turns_over += ms > 20.0;
	if (ms > t->turn_max_ms)
		t->turn_max_ms = ms;
}

/* Waits for a key, a signal or the engine loop's messages, at most a second (the clock in
 * the title and the countdowns move every second; a warp clock's every 100 ms). */
static void tick(struct tui *t)
{
	struct pollfd p[3] = {{STDIN_FILENO, POLLIN, 0}, {ui_sig_pipe[0], POLLIN, 0},
	    {ui_core_fd(t->core), POLLIN, 0}};

	bool more = model_take(t);

	for (size_t i = 0; i < t->ndoms; i++)
		if (t->doms[i].export_wanted && !t->nmodals) {
			t->doms[i].export_wanted = false;
			export_plan(t, (int)i);
		}
	term_signals(t);
	if (t->dirty || time(NULL) != t->last_draw)
		draw(t);
	busy_end(t);
	poll(p, 3, more ? 0 : t->warps ? 100 : 1000);
	t->woke = mx_mono_ms();
	term_signals(t);
}

/* ---- screens ---- */

static void draw_too_small(struct tui *t)
{
	char lines[6][300], text[300];
	int n;

	snprintf(text, sizeof(text),
	    "mxcutover needs a terminal of at least %d%s%d; this one is %d%s%d. Enlarge "
	    "it, or press q to quit. Runs keep going meanwhile.",
	    MIN_COLS, sym(t, "×", "x"), MIN_ROWS, COLS, sym(t, "×", "x"), LINES);
	n = wrap(text, COLS > 4 ? COLS - 2 : 2, lines, 6);
	for (int i = 0; i < n; i++)
		put(LINES / 2 - n / 2 + i, 1, COLS - 1, A_BOLD, lines[i]);
}

void draw(struct tui *t)
{
	const struct ui_screen *s = screens[t->scr];

	t->last_draw = time(NULL);
	t->dirty = false;
	t->too_small = LINES < MIN_ROWS || COLS < MIN_COLS;
	erase();
	curs_set(0);
	if (t->too_small) {
		draw_too_small(t);
		refresh();
		return;
	}
	if (s->flags & UI_SCRF_OVERLAY)
		screens[t->under]->draw(t);
	s->draw(t);
	draw_modals(t);
	refresh();
}

/* ---- keys ---- */

static void handle_key(struct tui *t, int ch)
{
	if (ch == KEY_RESIZE) {
		t->dirty = true;
		return;
	}
	if (ch == 12) { /* ^L */
		clearok(curscr, TRUE);
		t->dirty = true;
		return;
	}
	if (t->nmodals) {
		modal_key(t, ch);
		return;
	}
	if (t->too_small) {
		if (ch == 'q')
			ask_quit(t);
		return;
	}
	if ((ch == '?' || ch == KEY_F(1)) && t->scr != SCR_help) {
		if (!(screens[t->scr]->flags & UI_SCRF_OVERLAY))
			t->under = t->scr;
		goto_screen(t, SCR_help);
		return;
	}
	if ((screens[t->scr]->flags & UI_SCRF_DOMAIN) && !t->ndoms)
		return;
	screens[t->scr]->key(t, ch);
	t->dirty = true;
}

void ui_loop(struct tui *t)
{
	int ch;

	while (!t->quit && !ui_sig_interrupt) {
		tick(t);
		while (!t->quit && !ui_sig_interrupt && (ch = getch()) != ERR)
			handle_key(t, ch);
	}
}
