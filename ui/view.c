/* SPDX-License-Identifier: MIT */
/* ui/view.c — what is on the screen besides the screen itself: which screen is current, the
 * dialogs drawn over it (confirm, prompt, info), and the navigation keys shared by lists.
 * A dialog is answered through its callback: it has no loop of its own, so nothing stops
 * while one is open. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tui.h"

void goto_screen(struct tui *t, enum ui_scr s)
{
	t->scr = s;
	t->dirty = true;
}

static void draw_modal(struct tui *t, const struct modal *m)
{
	char lines[20][300];
	int w = COLS - 10 < 90 ? COLS - 10 : 90, n = wrap(m->text, w - 4, lines, 16);
	int h = n + 5, y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;

	frame(t, y0, x0, h, w, role(t, CP_SEL), m->title);
	for (int i = 0; i < n; i++)
		put(y0 + 1 + i, x0 + 2, w - 4, role(t, CP_SEL), lines[i]);
	if (m->kind == MODAL_PROMPT) {
		attrset(A_NORMAL);
		mvhline(y0 + n + 2, x0 + 2, ' ', w - 4);
		put(y0 + n + 2, x0 + 2, w - 4, A_UNDERLINE, m->input);
		put(y0 + n + 3, x0 + 2, w - 4, role(t, CP_SEL), "Enter: OK   Esc: cancel");
		move(y0 + n + 2, x0 + 2 + (int)strlen(m->input));
	} else if (m->kind == MODAL_INFO) {
		put(y0 + n + 3, x0 + 2, w - 4, role(t, CP_SEL) | A_BOLD, "Enter: close");
	} else {
		put(y0 + n + 3, x0 + 2, w - 4, role(t, CP_SEL) | A_BOLD, "y: yes   n: no");
	}
}

struct modal *modal_open(struct tui *t, enum modal_kind kind, const char *title, int dom,
    modal_done_fn *done, const char *fmt, ...)
{
	struct modal *m;
	va_list ap;

	if (t->nmodals >= MODAL_MAX)
		return NULL;
	m = &t->modals[t->nmodals++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->dom = dom;
	m->done = done;
	m->answer = -1;
	snprintf(m->title, sizeof(m->title), "%s", title);
	va_start(ap, fmt);
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
	va_end(ap);
	t->dirty = true;
	return m;
}

int modal_answer(struct modal *m, int ch)
{
	size_t len = strlen(m->input);

	if (m->kind == MODAL_PROMPT) {
		if (is_enter(ch))
			return 1;
		if (ch == 27)
			return 0;
		if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
			if (len)
				m->input[len - 1] = '\0';
		} else if (ch == 21) {
			m->input[0] = '\0';
		} else if (ch >= 32 && ch < 127 && len + 1 < sizeof(m->input)) {
			m->input[len] = (char)ch;
			m->input[len + 1] = '\0';
		}
		return -1;
	}
	if (m->kind == MODAL_INFO)
		return is_enter(ch) || ch == 27 || ch == 'q' || ch == ' ' ? 1 : -1;
	if (ch == 'y' || ch == 'Y')
		return 1;
	if (ch == 'n' || ch == 'N' || ch == 27 || ch == 'q')
		return 0;
	return -1;
}

/* Closes the top dialog with answer and runs its callback (which may open another). */
static void modal_close(struct tui *t, int answer)
{
	struct modal m = t->modals[--t->nmodals];

	m.answer = answer;
	t->dirty = true;
	if (m.done)
		m.done(t, &m, answer == 1);
}

void modal_key(struct tui *t, int ch)
{
	int answer;

	if (!t->nmodals)
		return;
	answer = modal_answer(&t->modals[t->nmodals - 1], ch);
	t->dirty = true;
	if (answer >= 0)
		modal_close(t, answer);
}

void draw_modals(struct tui *t)
{
	for (int i = 0; i < t->nmodals; i++)
		draw_modal(t, &t->modals[i]);
	if (t->nmodals && t->modals[t->nmodals - 1].kind == MODAL_PROMPT)
		curs_set(1);
}

bool is_enter(int ch)
{
	return ch == '\n' || ch == '\r' || ch == KEY_ENTER;
}

bool nav_key(struct tui *t, int ch, int *pos, int max)
{
	int page = LINES - 6;

	switch (ch) {
	case KEY_UP:
	case 'k':
		(*pos)--;
		break;
	case KEY_DOWN:
	case 'j':
		(*pos)++;
		break;
	case KEY_PPAGE:
		*pos -= page;
		break;
	case KEY_NPAGE:
	case ' ':
		*pos += page;
		break;
	case KEY_HOME:
	case 'g':
		*pos = 0;
		break;
	case KEY_END:
	case 'G':
		*pos = max;
		break;
	default:
		return false;
	}
	if (*pos > max)
		*pos = max;
	if (*pos < 0)
		*pos = 0;
	t->dirty = true;
	return true;
}
