/* SPDX-License-Identifier: MIT */
/* ui/loop.c — the wizard's loop: one poll over the terminal, the signal pipe, the background
 * worker's pipe and the engine's DNS/HTTPS descriptors (mx_loop_once), with a timeout of at
 * most a second; then the engine steps, finished jobs are taken, and the screen is redrawn.
 * Keys go to the top dialog (ui/view.c), else to the current screen of the screen table. */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "tui.h"

#define UI_SCR_ROW(n) [SCR_##n] = &ui_scr_##n,
static const struct ui_screen *const screens[SCR_COUNT] = {UI_SCREENS(UI_SCR_ROW)};
#undef UI_SCR_ROW

/* Steps the engine for at most ~50 ms, so keys stay responsive. */
static void pump_engine(struct tui *t)
{
	double start = mono_now();
	struct mx_err err;
	time_t wake;
	int rc;

	t->engine_ready = false;
	if (!t->engine || t->in_engine)
		return;
	while (!mx_engine_idle(t->engine)) {
		mx_err_clear(&err);
		t->in_engine = true;
		rc = mx_engine_step(t->engine, &wake, &err);
		t->in_engine = false;
		if (rc == MX_EAGAIN) {
			t->engine_wake = wake;
			break;
		}
		if (rc) {
			/* A failure of the engine itself (not of a run): stop everything where
			 * it is; the journal keeps every run resumable. */
			mx_engine_stop(t->engine);
			message(t, CP_FAIL, "the engine failed: %s", err.msg);
			ui_log(t, -1, MX_SEV_ERROR, "engine: %s", err.msg);
			break;
		}
		t->dirty = true;
		refresh_live(t);
		if (mono_now() - start > 0.05) {
			t->engine_ready = true;
			break;
		}
	}
	refresh_live(t);
}

void tick(struct tui *t, int max_ms)
{
	int fds[8] = {STDIN_FILENO, ui_sig_pipe[0], t->worker_on ? t->worker.pipe[0] : -1};
	int nfds = t->worker_on ? 3 : 2, timeout = max_ms;

	warp_tick(t);
	if (!t->in_engine)
		pump_engine(t);
	take_jobs(t);
	for (size_t i = 0; i < t->ndoms; i++)
		if (t->doms[i].export_wanted) {
			t->doms[i].export_wanted = false;
			export_plan(t, (int)i);
		}
	term_signals(t);
	if (t->dirty || time(NULL) != t->last_draw)
		draw(t);
	if (t->engine_ready)
		timeout = 0;
	else if (engine_busy(t) && t->engine_wake) {
		time_t left = t->engine_wake - mx_now(&t->clock);

		if (left <= 0)
			timeout = 0;
		else if (left * 1000 < timeout)
			timeout = (int)left * 1000;
	}
	if (t->warp_secs && timeout > 100)
		timeout = 100;
	if (!t->in_engine) {
		struct mx_loop loop = {t->dns, t->http};

		/* The engine's preflight checks run on this loop too. */
		if (t->engine)
			nfds += mx_engine_fds(t->engine, fds + nfds, 8 - nfds);
		mx_loop_once(&loop, fds, nfds, timeout, NULL);
	} else {
		struct pollfd p[3];

		for (int i = 0; i < nfds; i++) {
			p[i].fd = fds[i];
			p[i].events = POLLIN;
		}
		poll(p, (nfds_t)nfds, timeout);
	}
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

/* The engine's confirmation is asked from inside mx_engine_step: until the engine asks
 * through its state instead, this waits for the answer while the loop draws and reads
 * keys (the engine is not re-entered). */
bool modal_await(struct tui *t, const char *title, const char *fmt, ...)
{
	int depth = t->nmodals, ch, answer = -1;
	struct modal *m;
	va_list ap;

	m = modal_open(t, MODAL_CONFIRM, title, -1, NULL, "%s", "");
	if (!m)
		return false;
	va_start(ap, fmt);
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
	va_end(ap);
	while (answer < 0 && !ui_sig_interrupt) {
		tick(t, 1000);
		while (answer < 0 && (ch = getch()) != ERR) {
			if (ch == KEY_RESIZE) {
				t->dirty = true;
				continue;
			}
			if (t->nmodals == depth + 1)
				answer = modal_answer(&t->modals[depth], ch);
			t->dirty = true;
		}
	}
	t->nmodals = depth;
	t->dirty = true;
	return answer == 1;
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
		tick(t, 1000);
		while (!t->quit && !ui_sig_interrupt && (ch = getch()) != ERR)
			handle_key(t, ch);
	}
}
