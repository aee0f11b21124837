/* SPDX-License-Identifier: MIT */
/* ui/term.c — the terminal: curses setup, signals (every way out restores the terminal:
 * return, Ctrl-C, SIGTERM/SIGHUP, a fatal signal), colours and their monochrome stand-ins,
 * and the drawing primitives every screen uses (UTF-8 aware: widths come from wcwidth). */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "tui.h"

volatile sig_atomic_t ui_sig_interrupt, ui_sig_winch;
int ui_sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t term_active;

void term_restore(void)
{
	if (term_active) {
		term_active = 0;
		endwin();
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	char b = (char)sig;

	if (sig == SIGWINCH)
		ui_sig_winch = 1;
	else
		ui_sig_interrupt = sig;
	if (ui_sig_pipe[1] >= 0 && write(ui_sig_pipe[1], &b, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
	errno = saved;
}
static void on_fatal(int sig)
{
	/* endwin is not async-signal-safe, but a crashing process restoring the terminal
	 * is worth the risk; the default action follows at once. */
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signals(void)
{
	struct sigaction sa;
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
}

static void colors_init(struct tui *t)
{
	t->color = has_colors() && mx_cli_color(t->app, true);
	if (!t->color)
		return;
	start_color();
	use_default_colors();
	init_pair(CP_OK, COLOR_GREEN, -1);
	init_pair(CP_WARN, COLOR_YELLOW, -1);
	init_pair(CP_FAIL, COLOR_RED, -1);
	init_pair(CP_DIM, COLOR_BLUE, -1);
	init_pair(CP_TITLE, COLOR_BLACK, COLOR_CYAN);
	init_pair(CP_SEL, COLOR_BLACK, COLOR_WHITE);
	init_pair(CP_KEY, COLOR_CYAN, -1);
	init_pair(CP_ADD, COLOR_GREEN, -1);
	init_pair(CP_DEL, COLOR_RED, -1);
	init_pair(CP_ACCENT, COLOR_MAGENTA, -1);
}

int term_open(struct tui *t)
{
	if (pipe2(ui_sig_pipe, O_CLOEXEC | O_NONBLOCK))
		return -1;
	setlocale(LC_ALL, "");
	t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	install_signals();
	atexit(term_restore);
	if (!initscr())
		return -1;
	term_active = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	colors_init(t);
	return 0;
}

void term_signals(struct tui *t)
{
	char buf[32];

	while (ui_sig_pipe[0] >= 0 && read(ui_sig_pipe[0], buf, sizeof(buf)) > 0)
		;
	if (ui_sig_winch) {
		struct winsize ws;

		ui_sig_winch = 0;
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
			resize_term(ws.ws_row, ws.ws_col);
		clearok(curscr, TRUE);
		t->dirty = true;
	}
}

/* The attributes of a colour role, or their monochrome stand-ins. */
attr_t role(const struct tui *t, enum pair p)
{
	if (!p)
		return A_NORMAL;
	if (t->color) {
		attr_t a = COLOR_PAIR(p);

		if (p == CP_FAIL || p == CP_KEY || p == CP_ACCENT)
			a |= A_BOLD;
		return a;
	}
	switch (p) {
	case CP_FAIL:
	case CP_ACCENT:
	case CP_KEY:
		return A_BOLD;
	case CP_WARN:
		return A_UNDERLINE;
	case CP_TITLE:
	case CP_SEL:
		return A_REVERSE;
	case CP_DIM:
		return A_DIM;
	default:
		return A_NORMAL;
	}
}

const char *sym(const struct tui *t, const char *utf8, const char *ascii)
{
	return t->utf8 ? utf8 : ascii;
}

/* ---- drawing helpers (UTF-8 aware: widths come from wcwidth) ---- */

/* Writes s at (y, x), at most w columns, returns the columns used. */
/* The columns s takes on the terminal. */
static int text_cols(const char *s)
{
	wchar_t w[600];
	size_t n = mbstowcs(w, s, sizeof(w) / sizeof(w[0]) - 1);
	int cols;

	if (n == (size_t)-1)
		return (int)strlen(s);
	w[n] = 0;
	cols = wcswidth(w, n);
	return cols < 0 ? (int)n : cols;
}

int put(int y, int x, int w, attr_t a, const char *s)
{
	wchar_t wbuf[512];
	mbstate_t st;
	const char *p = s;
	size_t n;
	int used = 0, k = 0;

	if (w <= 0 || y < 0 || y >= LINES || x >= COLS)
		return 0;
	memset(&st, 0, sizeof(st));
	n = mbsrtowcs(wbuf, &p, sizeof(wbuf) / sizeof(wbuf[0]) - 1, &st);
	if (n == (size_t)-1) {
		/* Not valid in this locale: show the bytes that are plain ASCII. */
		for (n = 0; s[n] && n < 511; n++)
			wbuf[n] = (unsigned char)s[n] < 128 ? (wchar_t)s[n] : L'?';
	}
	wbuf[n] = 0;
	for (; k < (int)n; k++) {
		int cw = wcwidth(wbuf[k]);

		if (wbuf[k] == L'\t' || wbuf[k] == L'\n')
			wbuf[k] = L' ';
		if (cw < 0)
			cw = 1;
		if (used + cw > w)
			break;
		used += cw;
	}
	attrset(a);
	mvaddnwstr(y, x, wbuf, k);
	attrset(A_NORMAL);
	return used;
}

int putf(int y, int x, int w, attr_t a, const char *fmt, ...)
{
	char buf[TEXT_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return put(y, x, w, a, buf);
}

void fill(int y, attr_t a)
{
	attrset(a);
	mvhline(y, 0, ' ', COLS);
	attrset(A_NORMAL);
}

/* Splits text into lines of at most w columns (at spaces when possible; '\n' breaks).
 * Returns the number of lines written to out (each ≤ 299 bytes). */
int wrap(const char *text, int w, char out[][300], int max)
{
	wchar_t wt[TEXT_MAX + 256], line[300];
	mbstate_t st;
	const char *p = text;
	size_t n;
	int nl = 0, i = 0;

	if (w < 8)
		w = 8;
	if (w > 290)
		w = 290;
	memset(&st, 0, sizeof(st));
	n = mbsrtowcs(wt, &p, sizeof(wt) / sizeof(wt[0]) - 1, &st);
	if (n == (size_t)-1)
		n = 0;
	wt[n] = 0;
	while (i < (int)n && nl < max) {
		int len = 0, cols = 0, brk = -1;

		while (i + len < (int)n && wt[i + len] != L'\n') {
			int cw = wcwidth(wt[i + len]);

			cw = cw < 0 ? 1 : cw;
			if (cols + cw > w)
				break;
			if (wt[i + len] == L' ')
				brk = len;
			cols += cw;
			len++;
		}
		if (i + len < (int)n && wt[i + len] != L'\n' && brk > 0)
			len = brk;
		wmemcpy(line, wt + i, (size_t)len);
		line[len] = 0;
		memset(&st, 0, sizeof(st));
		{
			const wchar_t *lp = line;

			if (wcsrtombs(out[nl], &lp, 299, &st) == (size_t)-1)
				out[nl][0] = '\0';
			out[nl][299] = '\0';
		}
		nl++;
		i += len;
		if (i < (int)n && (wt[i] == L' ' || wt[i] == L'\n'))
			i++;
	}
	return nl;
}

void draw_title(struct tui *t, const char *title)
{
	char when[32], line[400];
	time_t now = ui_now(t);
	struct tm tm;

	fill(0, role(t, CP_TITLE));
	/* A title longer than its room (the domains list's counts at 80 columns) ends in "…". */
	snprintf(line, sizeof(line), "mxcutover %s %s", sym(t, "—", "-"), title);
	put_cut(t, 0, 1, COLS - 30, role(t, CP_TITLE) | A_BOLD, line);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
	putf(0, COLS - 24, 23, role(t, CP_TITLE), "%s%s", t->warps ? "warp " : "", when);
}

void draw_keys(struct tui *t, const char *keys)
{
	int x = 1;
	const char *p = keys;

	fill(LINES - 1, role(t, CP_SEL));
	/* "K:label  K:label": keys in bold. */
	while (*p && x < COLS - 1) {
		const char *colon = strchr(p, ':'), *sep = strstr(p, "  ");
		char key[16], label[64];
		size_t kl, ll;

		if (!colon)
			break;
		kl = (size_t)(colon - p) < sizeof(key) - 1 ? (size_t)(colon - p) : sizeof(key) - 1;
		memcpy(key, p, kl);
		key[kl] = '\0';
		ll = sep ? (size_t)(sep - colon - 1) : strlen(colon + 1);
		if (ll > sizeof(label) - 1)
			ll = sizeof(label) - 1;
		memcpy(label, colon + 1, ll);
		label[ll] = '\0';
		/* A key that does not fit whole is left out rather than cut. */
		if (x + text_cols(key) + 1 + text_cols(label) > COLS - 1)
			break;
		x += put(LINES - 1, x, COLS - x - 1, role(t, CP_SEL) | A_BOLD, key);
		x += put(LINES - 1, x, COLS - x - 1, role(t, CP_SEL), " ");
		x += put(LINES - 1, x, COLS - x - 1, role(t, CP_SEL), label);
		x += 2;
		if (!sep)
			break;
		p = sep + 2;
	}
}

void draw_msg(struct tui *t)
{
	if (t->msg[0])
		put(LINES - 2, 1, COLS - 2, role(t, t->msg_color), t->msg);
}

void countdown(time_t left, char *out, size_t len)
{
	if (left < 0)
		left = 0;
	if (left >= 3600)
		snprintf(out, len, "%ld:%02ld:%02ld", (long)left / 3600, (long)(left % 3600) / 60,
		    (long)left % 60);
	else
		snprintf(out, len, "%02ld:%02ld", (long)left / 60, (long)left % 60);
}

void fmt_duration(long s, char *out, size_t len)
{
	if (s >= 3600 && s % 3600 == 0)
		snprintf(out, len, "%ld h", s / 3600);
	else if (s >= 3600)
		snprintf(out, len, "%ld h %ld min", s / 3600, (s % 3600) / 60);
	else if (s >= 60)
		snprintf(out, len, "%ld min %ld s", s / 60, s % 60);
	else
		snprintf(out, len, "%ld s", s);
}

void frame(const struct tui *t, int y0, int x0, int h, int w, attr_t a, const char *title)
{
	if (w < 4 || h < 2)
		return;
	attrset(a);
	for (int y = 0; y < h; y++)
		mvhline(y0 + y, x0, ' ', w);
	mvhline(y0, x0, ACS_HLINE, w);
	mvhline(y0 + h - 1, x0, ACS_HLINE, w);
	mvvline(y0, x0, ACS_VLINE, h);
	mvvline(y0, x0 + w - 1, ACS_VLINE, h);
	mvaddch(y0, x0, ACS_ULCORNER);
	mvaddch(y0, x0 + w - 1, ACS_URCORNER);
	mvaddch(y0 + h - 1, x0, ACS_LLCORNER);
	mvaddch(y0 + h - 1, x0 + w - 1, ACS_LRCORNER);
	attrset(A_NORMAL);
	if (title && *title)
		putf(y0, x0 + 2, w - 4, a | A_BOLD, " %s ", title);
	(void)t;
}

enum pair chk_color(enum chk_status s)
{
	return s == CHK_PASS ? CP_OK : s == CHK_WARN ? CP_WARN : s == CHK_FAIL ? CP_FAIL : CP_DIM;
}

int put_cut(const struct tui *t, int y, int x, int w, attr_t a, const char *s)
{
	int used;

	if (w <= 0)
		return 0;
	if (text_cols(s) <= w || w < 2)
		return put(y, x, w, a, s);
	used = put(y, x, w - 1, a, s);
	return used + put(y, x + used, 1, a, sym(t, "…", "~"));
}

int put_cut_tail(
    const struct tui *t, int y, int x, int w, attr_t a, const char *s, const char *tail)
{
	size_t ls = strlen(s), lt = strlen(tail);
	int tw = text_cols(tail), used;
	char *head;

	if (ls < lt || strcmp(s + ls - lt, tail) || text_cols(s) <= w || w < tw + 2 ||
	    !(head = strndup(s, ls - lt)))
		return put_cut(t, y, x, w, a, s);
	used = put_cut(t, y, x, w - tw, a, head);
	free(head);
	return used + put(y, x + used, tw, a, tail);
}
