/* SPDX-License-Identifier: MIT */
/* ui/tui.c — the terminal wizard (`mxcutover tui`): domains with live badges, checks with
 * how-to-fix text, target entry, plan review, the run with its countdown, gates and log,
 * rollback, help. One loop on the UI thread polls the terminal, the signal pipe, the
 * background worker's pipe and the engine's DNS/HTTPS descriptors (mx_loop_once) with a
 * timeout of at most a second, steps the engine, and redraws; nothing in it sleeps. The
 * terminal is restored on every way out: return, Ctrl-C, SIGTERM/SIGHUP, a fatal signal. */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "domain.h"
#include "engine.h"
#include "loop.h"
#include "mtasts.h"
#include "plan.h"
#include "steps.h"
#include "ui.h"

#define MIN_COLS 80
#define MIN_ROWS 24
#define LOG_MAX	 400
#define TEXT_MAX 1024

enum ui_screen { SCR_DOMAINS, SCR_CHECKS, SCR_TARGET, SCR_PLAN, SCR_RUN };

enum pair {
	CP_OK = 1,
	CP_WARN,
	CP_FAIL,
	CP_DIM,
	CP_TITLE,
	CP_SEL,
	CP_KEY,
	CP_ADD,
	CP_DEL,
	CP_ACCENT,
};

/* What the engine says about a domain's run while it is loaded in the engine. */
struct live {
	bool in_engine;
	bool stopped;
	bool rollback;
	int step;
	char state[20];
	char step_key[40];
	time_t wake;
	char waiting_for[200];
	char gate[TEXT_MAX];
	int exit;
};

struct dom {
	char name[MX_NAME_MAX + 1];
	char target[MX_NAME_MAX + 1];
	char provider[64];
	bool checking, checked;
	struct chk_domain chk; /* valid when checked */
	char chk_err[512];
	bool planning;
	json_t *plan; /* the reviewed plan, or NULL */
	char plan_err[512];
	struct jnl_run run; /* newest journal run, id 0 when none */
	struct live live;
	char step_state[STEP_COUNT][12]; /* journal state of each forward step */
	char note[TEXT_MAX];		 /* the last outcome: a gate's reason, a failure */
};

struct logline {
	int dom; /* index in doms, -1 for the wizard's own lines */
	enum mx_sev sev;
	char text[240];
};

struct pline {
	enum pair color; /* 0: normal */
	int bold;
	char text[300];
};

enum modal_kind { MODAL_CONFIRM, MODAL_PROMPT, MODAL_INFO };

struct modal {
	enum modal_kind kind;
	char title[80];
	char text[TEXT_MAX + 200];
	char input[512];
	int answer; /* -1 open, 0 no/cancel, 1 yes/ok */
};

struct tui {
	struct mx_app *app;
	struct mx_clock clock;
	int warp_secs; /* MXCUTOVER_CLOCK=warp[:N]: a TTL wait lasts about N real seconds */
	time_t warp_wake;
	double warp_rate, warp_acc, last_tick;
	struct jnl *jnl;
	struct dns_ctx *dns;
	struct http_ctx *http;
	struct mx_engine *engine;
	bool in_engine; /* inside mx_engine_step: the engine must not be re-entered */
	bool engine_ready;
	time_t engine_wake;
	struct mx_sink sink;
	struct ui_worker worker;
	bool worker_on;

	struct dom *doms;
	size_t ndoms;
	const char *default_provider;

	enum ui_screen scr;
	int sel, top; /* domains list */
	int scroll;   /* checks / plan */
	int run_dom;  /* the run screen's domain */
	bool help;
	struct modal *modals[4];
	int nmodals;
	char msg[TEXT_MAX];
	enum pair msg_color;

	char tinput[MX_NAME_MAX + 64]; /* target entry */
	int tprov;		       /* index of the provider in conf */

	struct pline *plines;
	size_t nplines;
	int plan_dom;

	struct logline log[LOG_MAX];
	int nlog, log_head;

	bool color, utf8, too_small, quit, dirty;
	time_t last_draw;
	int exit_status;
};

/* ---- terminal hygiene: every way out restores the terminal ---- */

static volatile sig_atomic_t sig_interrupt, sig_winch;
static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t term_active;

static void term_restore(void)
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
		sig_winch = 1;
	else
		sig_interrupt = sig;
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], &b, 1) < 0) {
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
	const char *no_color = getenv("NO_COLOR");

	t->color = has_colors() && !(no_color && *no_color);
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

/* The attributes of a colour role, or their monochrome stand-ins. */
static attr_t role(const struct tui *t, enum pair p)
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

static const char *sym(const struct tui *t, const char *utf8, const char *ascii)
{
	return t->utf8 ? utf8 : ascii;
}

/* ---- drawing helpers (UTF-8 aware: widths come from wcwidth) ---- */

/* Writes s at (y, x), at most w columns, returns the columns used. */
static int put(int y, int x, int w, attr_t a, const char *s)
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

static int putf(int y, int x, int w, attr_t a, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int putf(int y, int x, int w, attr_t a, const char *fmt, ...)
{
	char buf[TEXT_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return put(y, x, w, a, buf);
}

static void fill(int y, attr_t a)
{
	attrset(a);
	mvhline(y, 0, ' ', COLS);
	attrset(A_NORMAL);
}

/* Splits text into lines of at most w columns (at spaces when possible; '\n' breaks).
 * Returns the number of lines written to out (each ≤ 299 bytes). */
static int wrap(const char *text, int w, char out[][300], int max)
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

/* ---- log and messages ---- */

static void logf_(struct tui *t, int dom, enum mx_sev sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void logf_(struct tui *t, int dom, enum mx_sev sev, const char *fmt, ...)
{
	struct logline *l = &t->log[(t->log_head + t->nlog) % LOG_MAX];
	va_list ap;

	if (t->nlog == LOG_MAX)
		t->log_head = (t->log_head + 1) % LOG_MAX;
	else
		t->nlog++;
	l->dom = dom;
	l->sev = sev;
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	t->dirty = true;
}

static void message(struct tui *t, enum pair color, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void message(struct tui *t, enum pair color, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	t->msg_color = color;
	t->dirty = true;
}

static int find_dom(const struct tui *t, const char *name)
{
	for (size_t i = 0; i < t->ndoms; i++)
		if (!strcmp(t->doms[i].name, name))
			return (int)i;
	return -1;
}

static bool unfinished(const char *state)
{
	return state && strcmp(state, "done") && strcmp(state, "rolled_back");
}

/* ---- the clock: real, or warped so a TTL wait lasts a few seconds ---- */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool live_waiting(const struct dom *d)
{
	return d->live.in_engine && !d->live.stopped && d->live.wake &&
	       (!strncmp(d->live.step_key, "wait", 4) || !strcmp(d->live.step_key, "rb_wait"));
}

static void warp_tick(struct tui *t)
{
	double now = mono_now(), dt = t->last_tick ? now - t->last_tick : 0;
	time_t wake = 0, cur = mx_now(&t->clock);

	t->last_tick = now;
	if (!t->warp_secs)
		return;
	for (size_t i = 0; i < t->ndoms; i++)
		if (live_waiting(&t->doms[i]) && (!wake || t->doms[i].live.wake < wake))
			wake = t->doms[i].live.wake;
	if (!wake || wake <= cur) {
		t->warp_acc = 0;
		return;
	}
	if (wake != t->warp_wake) {
		t->warp_wake = wake;
		t->warp_rate = (double)(wake - cur) / t->warp_secs;
		if (t->warp_rate < 1)
			t->warp_rate = 1;
	}
	/* Real time passes too; add only the extra. */
	t->warp_acc += dt * (t->warp_rate - 1);
	if (t->warp_acc >= 1) {
		time_t jump = (time_t)floor(t->warp_acc);

		if (jump > wake - cur)
			jump = wake - cur;
		t->clock.offset += jump;
		t->warp_acc -= (double)jump;
		t->dirty = true;
	}
}

/* ---- journal and engine state ---- */

static void refresh_journal(struct tui *t, struct dom *d)
{
	struct jnl_run row;
	struct mx_err err;

	memset(&row, 0, sizeof(row));
	if (jnl_run_latest(t->jnl, d->name, &row, &err))
		return;
	jnl_run_clear(&d->run);
	d->run = row;
	for (int s = 0; s < STEP_COUNT; s++) {
		char *st =
		    d->run.id ? jnl_step_state(t->jnl, d->run.id, mx_step_table[s].key) : NULL;

		snprintf(d->step_state[s], sizeof(d->step_state[s]), "%s", st ? st : "pending");
		free(st);
	}
	if (d->run.id && !d->target[0] && d->run.target)
		snprintf(d->target, sizeof(d->target), "%s", d->run.target);
	if (d->run.id && d->run.provider && !d->live.in_engine)
		snprintf(d->provider, sizeof(d->provider), "%s", d->run.provider);
	t->dirty = true;
}

static void refresh_live(struct tui *t)
{
	int n = t->engine ? mx_engine_nruns(t->engine) : 0;

	for (int i = 0; i < n; i++) {
		struct mx_run_info info;
		int k;
		struct live *l;

		mx_engine_run_info(t->engine, i, &info);
		k = find_dom(t, info.domain);
		if (k < 0)
			continue;
		l = &t->doms[k].live;
		l->in_engine = true;
		l->stopped = info.stopped;
		l->rollback = info.rollback;
		l->step = info.step;
		snprintf(l->state, sizeof(l->state), "%s", info.state ? info.state : "");
		snprintf(
		    l->step_key, sizeof(l->step_key), "%s", info.step_key ? info.step_key : "");
		l->wake = info.wake;
		snprintf(l->waiting_for, sizeof(l->waiting_for), "%s",
		    info.waiting_for ? info.waiting_for : "");
		snprintf(l->gate, sizeof(l->gate), "%s", info.gate ? info.gate : "");
		l->exit = info.exit;
	}
}

static bool engine_busy(const struct tui *t)
{
	return t->engine && !mx_engine_idle(t->engine);
}

static void on_event(const struct mx_event *ev, void *arg);
static bool on_confirm(void *arg, const char *domain, const char *question);

static int engine_open(struct tui *t, struct mx_err *err)
{
	struct mx_engine_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.conf = t->app->conf;
	cfg.jnl = t->jnl;
	cfg.dns = t->dns;
	cfg.http = t->http;
	cfg.clock = &t->clock;
	cfg.sink = &t->sink;
	cfg.confirm = on_confirm;
	cfg.confirm_arg = t;
	return mx_engine_new(&t->engine, &cfg, err);
}

/* An idle engine holds only stopped runs: a fresh one can take the domain again. */
static int engine_fresh(struct tui *t, struct mx_err *err)
{
	if (t->engine && !mx_engine_idle(t->engine))
		return MX_OK;
	mx_engine_free(t->engine);
	t->engine = NULL;
	for (size_t i = 0; i < t->ndoms; i++)
		t->doms[i].live.in_engine = false;
	return engine_open(t, err);
}

static bool dom_in_engine(const struct tui *t, const struct dom *d)
{
	return d->live.in_engine && t->engine;
}

/* ---- background jobs ---- */

static void submit_checks(struct tui *t, int only)
{
	const char **names, **targets;
	struct ui_job *j;
	size_t n = 0;

	if (!t->worker_on || !t->ndoms)
		return;
	names = calloc(t->ndoms, sizeof(*names));
	targets = calloc(t->ndoms, sizeof(*targets));
	for (size_t i = 0; names && targets && i < t->ndoms; i++) {
		if (only >= 0 && (int)i != only)
			continue;
		names[n] = t->doms[i].name;
		targets[n++] = t->doms[i].target;
		t->doms[i].checking = true;
	}
	j = names && targets ? ui_job_new(UI_JOB_CHECK, names, targets, n) : NULL;
	free(names);
	free(targets);
	if (!j) {
		message(t, CP_FAIL, "out of memory");
		return;
	}
	ui_worker_submit(&t->worker, j);
	t->dirty = true;
}

static void submit_plan(struct tui *t, int k, bool export_after)
{
	struct dom *d = &t->doms[k];
	const char *names[1] = {d->name}, *targets[1] = {d->target};
	struct ui_job *j;

	if (d->planning)
		return;
	j = ui_job_new(UI_JOB_PLAN, names, targets, 1);
	if (!j) {
		message(t, CP_FAIL, "out of memory");
		return;
	}
	snprintf(j->provider, sizeof(j->provider), "%s", d->provider);
	j->export_after = export_after;
	json_decref(d->plan);
	d->plan = NULL;
	d->plan_err[0] = '\0';
	d->planning = true;
	ui_worker_submit(&t->worker, j);
	t->dirty = true;
}

static void export_plan(struct tui *t, int k);
static void build_plan_lines(struct tui *t, int k);

static void take_jobs(struct tui *t)
{
	struct ui_job *j;

	while (t->worker_on && (j = ui_worker_take(&t->worker))) {
		if (j->kind == UI_JOB_CHECK) {
			for (size_t i = 0; i < j->n; i++) {
				int k = find_dom(t, j->domains[i]);
				struct dom *d;

				if (k < 0)
					continue;
				d = &t->doms[k];
				d->checking = false;
				if (j->rc) {
					snprintf(d->chk_err, sizeof(d->chk_err), "%s", j->err.msg);
					continue;
				}
				if (d->checked)
					chk_domain_clear(&d->chk);
				d->chk = j->res[i];
				memset(&j->res[i], 0, sizeof(j->res[i]));
				d->checked = true;
				d->chk_err[0] = '\0';
			}
		} else {
			int k = find_dom(t, j->domains[0]);

			if (k >= 0) {
				struct dom *d = &t->doms[k];

				d->planning = false;
				if (j->rc) {
					snprintf(
					    d->plan_err, sizeof(d->plan_err), "%s", j->err.msg);
				} else {
					d->plan = j->plan;
					j->plan = NULL;
				}
				if (t->plan_dom == k)
					build_plan_lines(t, k);
				if (j->export_after && d->plan)
					export_plan(t, k);
				else if (j->export_after)
					message(
					    t, CP_FAIL, "no plan for %s: %s", d->name, d->plan_err);
			}
		}
		ui_job_free(j);
		t->dirty = true;
	}
}

/* ---- the loop's one tick, shared by the main loop and modal dialogs ---- */

static void draw(struct tui *t);

static void handle_resize(struct tui *t)
{
	struct winsize ws;

	sig_winch = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resize_term(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
	t->dirty = true;
}

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
			logf_(t, -1, MX_SEV_ERROR, "engine: %s", err.msg);
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

/* Waits for input, a signal, a finished job or DNS/HTTPS progress, at most max_ms. */
static void tick(struct tui *t, int max_ms)
{
	int fds[8] = {STDIN_FILENO, sig_pipe[0], t->worker_on ? t->worker.pipe[0] : -1};
	int nfds = t->worker_on ? 3 : 2, timeout = max_ms;
	char buf[32];

	warp_tick(t);
	if (!t->in_engine)
		pump_engine(t);
	take_jobs(t);
	if (sig_winch)
		handle_resize(t);
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
	while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
		;
	if (sig_winch)
		handle_resize(t);
}

/* ---- modal dialogs (confirm, prompt, info): the loop keeps ticking under them ---- */

static int modal_key(struct tui *t, struct modal *m, int ch)
{
	size_t len = strlen(m->input);

	if (m->kind == MODAL_PROMPT) {
		if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
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
		return ch == '\n' || ch == '\r' || ch == KEY_ENTER || ch == 27 || ch == 'q' ||
			       ch == ' '
			   ? 1
			   : -1;
	if (ch == 'y' || ch == 'Y')
		return 1;
	if (ch == 'n' || ch == 'N' || ch == 27 || ch == 'q')
		return 0;
	return -1;
}

static int run_modal(struct tui *t, struct modal *m)
{
	m->answer = -1;
	if (t->nmodals >= 4)
		return 0;
	t->modals[t->nmodals++] = m;
	t->dirty = true;
	while (m->answer < 0 && !sig_interrupt) {
		int ch;

		tick(t, 1000);
		while (m->answer < 0 && (ch = getch()) != ERR) {
			if (ch == KEY_RESIZE) {
				t->dirty = true;
				continue;
			}
			m->answer = modal_key(t, m, ch);
			t->dirty = true;
		}
	}
	if (m->answer < 0)
		m->answer = 0;
	t->nmodals--;
	t->dirty = true;
	draw(t);
	return m->answer;
}

static bool confirm(struct tui *t, const char *title, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool confirm(struct tui *t, const char *title, const char *fmt, ...)
{
	struct modal m;
	va_list ap;

	memset(&m, 0, sizeof(m));
	m.kind = MODAL_CONFIRM;
	snprintf(m.title, sizeof(m.title), "%s", title);
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	return run_modal(t, &m) == 1;
}

/* The engine asks at gates that want a person's word. The engine is mid-step here, so the
 * dialog's loop draws and reads keys but does not step it. */
static bool on_confirm(void *arg, const char *domain, const char *question)
{
	struct tui *t = arg;
	int k = find_dom(t, domain);
	bool yes;

	if (k >= 0 && t->scr == SCR_RUN)
		t->run_dom = k;
	logf_(t, k, MX_SEV_WARN, "asks: %s", question);
	yes = confirm(t, "Confirm", "%s\n\n%s", domain, question);
	logf_(t, k, MX_SEV_INFO, "answer: %s", yes ? "yes" : "no");
	return yes;
}

/* ---- engine events ---- */

static void on_event(const struct mx_event *ev, void *arg)
{
	struct tui *t = arg;
	int k = find_dom(t, ev->domain);
	char when[32];

	switch (ev->kind) {
	case MX_EV_STEP:
		logf_(t, k, MX_SEV_INFO, "%s %s", sym(t, "▸", ">"), ev->text);
		if (k >= 0)
			t->doms[k].note[0] = '\0';
		break;
	case MX_EV_WAIT:
		logf_(t, k, MX_SEV_INFO, "%s (until %s)", ev->text,
		    mx_time_rfc3339(ev->until, when, sizeof(when)));
		break;
	case MX_EV_GATE: {
		char lines[12][300];
		int n = wrap(ev->text, 92, lines, 12);

		logf_(t, k, MX_SEV_WARN, "ACTION NEEDED:");
		for (int i = 0; i < n; i++)
			logf_(t, k, MX_SEV_WARN, "  %s", lines[i]);
		break;
	}
	case MX_EV_DONE:
		logf_(t, k, ev->sev, "%s%s", ev->sev >= MX_SEV_ERROR ? "stopped: " : "", ev->text);
		if (k >= 0) {
			snprintf(t->doms[k].note, sizeof(t->doms[k].note), "%s", ev->text);
			message(t, ev->sev >= MX_SEV_ERROR ? CP_FAIL : CP_OK, "%s: %s", ev->domain,
			    ev->text);
		}
		break;
	default:
		if (ev->sev > MX_SEV_DEBUG)
			logf_(t, k, ev->sev, "%s", ev->text);
		break;
	}
	if (k >= 0 && ev->kind != MX_EV_LOG)
		refresh_journal(t, &t->doms[k]);
	if (k >= 0 && ev->kind == MX_EV_DONE && ev->sev < MX_SEV_ERROR)
		submit_checks(t, k);
}

/* ---- the screens ---- */

static const char *const fix_hint[CHK_COUNT] = {
    [CHK_ZONE_DNSSEC] = "Sign the zone at the DNS host and publish its DS at the registrar; "
			"bogus usually means a DS that matches no DNSKEY, or expired signatures.",
    [CHK_NS_CONSISTENCY] = "Make every authoritative server serve the same zone: check zone "
			   "transfers and the secondary's SOA serial.",
    [CHK_MX_CURRENT] = "Keep exactly one MX, the Exchange Online host, at preference 0 or 10; "
		       "remove fallback hosts before the cutover.",
    [CHK_MX_TARGET] = "Paste DnssecMxValue exactly as Enable-DnssecForVerifiedDomain printed "
		      "it; the host must resolve with DNSSEC.",
    [CHK_MX_TARGET_TLSA] = "Microsoft publishes the TLSA after Enable-SmtpDaneInbound; absent "
			   "before that step is expected.",
    [CHK_MX_TARGET_DANE] = "The target's STARTTLS certificate must match its TLSA; an "
			   "unreachable port 25 from here is only a warning.",
    [CHK_MTASTS_RECORD] = "Publish one TXT at _mta-sts.<domain>: \"v=STSv1; id=<1-32 letters "
			  "or digits>;\".",
    [CHK_MTASTS_POLICY] = "Serve https://mta-sts.<domain>/.well-known/mta-sts.txt: HTTP 200, "
			  "text/plain, no redirect, a certificate valid for that name.",
    [CHK_MTASTS_COVERS] = "The run's first write step stages a policy listing the new host; "
			  "publish it when the run asks.",
    [CHK_TLSRPT] = "Publish _smtp._tls TXT \"v=TLSRPTv1; rua=mailto:…\" to get TLS failure "
		   "reports.",
    [CHK_SPF] = "Add the Exchange Online include (spf_include in the config) to the SPF "
		"record.",
    [CHK_PROVIDER_ACCESS] = "Give the provider's credentials read access to the zone (see "
			    "[provider.NAME] in the config).",
};

static enum pair status_color(enum chk_status s)
{
	return s == CHK_PASS ? CP_OK : s == CHK_WARN ? CP_WARN : s == CHK_FAIL ? CP_FAIL : CP_DIM;
}

static void badge_dnssec(const struct dom *d, char *out, size_t len, enum pair *c)
{
	enum dns_sec s = d->chk.facts.zone_sec;

	snprintf(out, len, "%s", dns_sec_name(s));
	*c = s == DNS_SEC_SECURE ? CP_OK : s == DNS_SEC_INSECURE ? CP_WARN : CP_FAIL;
}

static void badge_mx(const struct dom *d, char *out, size_t len, enum pair *c)
{
	const struct dns_answer *a = d->chk.facts.mx;

	*c = status_color(d->chk.res[CHK_MX_CURRENT].status);
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
	*c = status_color(d->chk.res[CHK_MTASTS_POLICY].status);
}

static void badge_tlsa(const struct dom *d, char *out, size_t len, enum pair *c)
{
	const struct chk_result *r = &d->chk.res[CHK_MX_TARGET_TLSA];

	*c = status_color(r->status);
	snprintf(out, len, "%s",
	    !d->target[0] || r->status == CHK_SKIP ? "-"
	    : r->status == CHK_PASS		   ? "ok"
	    : r->status == CHK_WARN		   ? "absent"
						   : "bad");
}

static void badge_run(const struct tui *t, const struct dom *d, char *out, size_t len, enum pair *c)
{
	const char *state = d->live.in_engine ? d->live.state : d->run.state;
	const char *step = d->live.in_engine ? d->live.step_key : d->run.step;

	if (!state || !*state) {
		snprintf(out, len, "-");
		*c = CP_DIM;
		return;
	}
	if (!strcmp(state, "done") || !strcmp(state, "rolled_back"))
		snprintf(out, len, "%s", !strcmp(state, "done") ? "done" : "rolled back");
	else
		snprintf(out, len, "%s %s%s", state, step ? step : "",
		    d->live.in_engine && !d->live.stopped ? "" : " (stopped)");
	*c = !strcmp(state, "done")		     ? CP_OK
	     : !strcmp(state, "failed")		     ? CP_FAIL
	     : !strcmp(state, "gate")		     ? CP_WARN
	     : !strcmp(state, "rolled_back")	     ? CP_DIM
	     : d->live.in_engine && !d->live.stopped ? CP_ACCENT
						     : CP_WARN;
}

static void draw_title(struct tui *t, const char *title)
{
	char when[32];
	time_t now = mx_now(&t->clock);
	struct tm tm;

	fill(0, role(t, CP_TITLE));
	putf(0, 1, COLS - 30, role(t, CP_TITLE) | A_BOLD, "mxcutover %s %s", sym(t, "—", "-"),
	    title);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
	putf(0, COLS - 24, 23, role(t, CP_TITLE), "%s%s", t->warp_secs ? "warp " : "", when);
}

static void draw_keys(struct tui *t, const char *keys)
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
		x += put(LINES - 1, x, COLS - x - 1, role(t, CP_SEL) | A_BOLD, key);
		x += put(LINES - 1, x, COLS - x - 1, role(t, CP_SEL), " ");
		x += put(LINES - 1, x, COLS - x - 1, role(t, CP_SEL), label);
		x += 2;
		if (!sep)
			break;
		p = sep + 2;
	}
}

static void draw_msg(struct tui *t)
{
	if (t->msg[0])
		put(LINES - 2, 1, COLS - 2, role(t, t->msg_color), t->msg);
}

static void draw_domains(struct tui *t)
{
	int y = 2, rows = LINES - 4 - 6, wdom = COLS >= 100 ? 22 : 18, wsec = 11;
	int avail = COLS - 2 - wdom - wsec - 17, wrun = avail * 45 / 100, wmx = avail - wrun;
	char b[300];
	enum pair c;

	draw_title(t, "Domains");
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
		put(y, x, wdom - 1, base | (sel ? A_BOLD : 0), d->name);
		x += wdom;
		if (d->checking && !d->checked) {
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
			put(y, x, wmx - 1, sel ? base : role(t, c), b);
			x += wmx;
			badge_mtasts(d, b, sizeof(b), &c);
			put(y, x, 8, sel ? base : role(t, c), b);
			x += 9;
			badge_tlsa(d, b, sizeof(b), &c);
			put(y, x, 7, sel ? base : role(t, c), b);
			x += 8;
		}
		badge_run(t, d, b, sizeof(b), &c);
		put(y, x, wrun > COLS - x - 1 ? wrun : COLS - x - 1, sel ? base : role(t, c), b);
	}
	/* The selected domain in a sentence or two. */
	if (t->ndoms) {
		struct dom *d = &t->doms[t->sel];
		int fails = 0, warns = 0;
		char lines[4][300];
		int n;

		y = LINES - 8;
		mvhline(y, 0, ACS_HLINE, COLS);
		putf(y + 1, 1, COLS - 2, A_BOLD, "%s", d->name);
		putf(y + 2, 1, COLS - 2, A_NORMAL, "target: %s   provider: %s",
		    d->target[0] ? d->target : "(not set: press t)", d->provider);
		if (d->checked) {
			bool staged = false;

			for (int i = 0; i < CHK_COUNT; i++) {
				if (!d->chk.res[i].present)
					continue;
				/* The run's mtasts_stage step is what makes the policy cover the
				 * target, as preflight knows. */
				if (i == CHK_MTASTS_COVERS && d->chk.res[i].status == CHK_FAIL) {
					staged = true;
					continue;
				}
				fails += d->chk.res[i].status == CHK_FAIL;
				warns += d->chk.res[i].status == CHK_WARN;
			}
			putf(y + 3, 1, COLS - 2, role(t, fails ? CP_FAIL : CP_OK),
			    "%s (%d failing, %d warning)%s",
			    fails ? "not ready" : "ready for the cutover", fails, warns,
			    fails ? " - Enter shows the checks and how to fix them"
			    : staged
				? "; the run first publishes an MTA-STS policy listing the target"
				: "");
		}
		if (d->run.id && d->run.error) {
			n = wrap(d->run.error, COLS - 4, lines, 2);
			for (int i = 0; i < n; i++)
				put(y + 4 + i, 1, COLS - 2, role(t, CP_WARN), lines[i]);
		} else if (d->run.id && unfinished(d->run.state)) {
			putf(y + 4, 1, COLS - 2, role(t, CP_WARN),
			    "an unfinished run (%s at %s): Enter opens it to resume, r rolls back",
			    d->run.state, d->run.step);
		}
	}
	draw_msg(t);
	draw_keys(t, "Enter:open  c:checks  t:target  p:export plan  r:rollback  R:recheck  "
		     "a:add  ?:help  q:quit");
}

static void draw_checks(struct tui *t)
{
	struct dom *d = &t->doms[t->sel];
	char lines[16][300];
	int y = 3, row = 0, bottom = LINES - 3;

	draw_title(t, "Checks");
	putf(1, 1, COLS - 2, A_BOLD, "%s %s %s", d->name, sym(t, "→", "->"),
	    d->target[0] ? d->target : "(no target yet: the target checks are skipped)");
	if (!d->checked) {
		put(y, 2, COLS - 4, role(t, d->checking ? CP_DIM : CP_FAIL),
		    d->checking ? "checking…" : d->chk_err);
		goto out;
	}
	for (int i = 0; i < CHK_COUNT; i++) {
		const struct chk_result *r = &d->chk.res[i];
		int n;

		if (!r->present)
			continue;
		n = wrap(r->summary, COLS - 30, lines, 6);
		for (int k = 0; k < n; k++, row++) {
			if (row < t->scroll || y >= bottom)
				continue;
			if (!k) {
				put(y, 2, 5, role(t, status_color(r->status)) | A_BOLD,
				    r->status == CHK_PASS   ? "PASS"
				    : r->status == CHK_WARN ? "WARN"
				    : r->status == CHK_FAIL ? "FAIL"
							    : "skip");
				put(y, 8, 21, A_NORMAL, chk_id_name(i));
			}
			put(y++, 30, COLS - 31, A_NORMAL, lines[k]);
		}
		if (r->status == CHK_WARN || r->status == CHK_FAIL) {
			n = wrap(fix_hint[i], COLS - 36, lines, 4);
			for (int k = 0; k < n; k++, row++) {
				if (row < t->scroll || y >= bottom)
					continue;
				if (!k)
					put(y, 30, 5, role(t, CP_KEY), "fix:");
				put(y++, 35, COLS - 36, role(t, CP_DIM), lines[k]);
			}
		}
	}
	if (t->scroll > row - 1)
		t->scroll = row > 0 ? row - 1 : 0;
out:
	draw_msg(t);
	draw_keys(t, "Enter:target  j/k:scroll  R:recheck  p:export plan  Esc:back  ?:help");
}

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
	memset(c, 0, 6 * sizeof(*c));
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
	int nc, y, x;
	const struct mx_conf *conf = t->app->conf;
	bool ok;

	draw_title(t, "Target MX host");
	putf(2, 2, COLS - 4, A_BOLD, "The new MX host for %s", d->name);
	put(3, 2, COLS - 4, A_NORMAL,
	    "Paste the DnssecMxValue that Exchange Online printed for this domain:");
	putf(4, 4, COLS - 6, role(t, CP_KEY), "Enable-DnssecForVerifiedDomain -DomainName %s",
	    d->name);
	put(5, 2, COLS - 4, role(t, CP_DIM),
	    "Microsoft assigns the middle label; the wizard never derives the host.");
	put(7, 2, 2, A_BOLD, ">");
	x = 4 + put(7, 4, COLS - 8, A_UNDERLINE, t->tinput);
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
	       : "Type or paste the host; it is checked as you type.");
	move(7, x < COLS - 1 ? 4 + (int)strlen(t->tinput) : COLS - 1);
	draw_msg(t);
	draw_keys(t, "Enter:plan  Tab:provider  ^U:clear  Esc:back  ?:help");
}

/* Writes the RRset difference between before and after as plan lines. */
static void plan_add(struct tui *t, enum pair color, int bold, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void plan_add(struct tui *t, enum pair color, int bold, const char *fmt, ...)
{
	struct pline *g = realloc(t->plines, (t->nplines + 1) * sizeof(*g));
	va_list ap;

	if (!g)
		return;
	t->plines = g;
	g[t->nplines].color = color;
	g[t->nplines].bold = bold;
	va_start(ap, fmt);
	vsnprintf(g[t->nplines].text, sizeof(g[0].text), fmt, ap);
	va_end(ap);
	t->nplines++;
}

static bool has_value(json_t *rrset, const char *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(json_object_get(rrset, "values"), i,
	    x) if (!strcmp(json_string_value(x), v)) return true;
	return false;
}

static void plan_diff(struct tui *t, json_t *before, json_t *after)
{
	const char *name = json_string_value(json_object_get(after, "name"));
	const char *type = json_string_value(json_object_get(after, "type"));
	long long bttl = json_integer_value(json_object_get(before, "ttl"));
	long long attl = json_integer_value(json_object_get(after, "ttl"));
	size_t i;
	json_t *v;

	plan_add(t, 0, 0, "      %s %s, TTL %lld%s%lld", name ? name : "", type ? type : "", bttl,
	    bttl != attl ? (t->utf8 ? " → " : " -> ") : " = ", attl);
	json_array_foreach(json_object_get(before, "values"), i, v)
	{
		const char *s = json_string_value(v);
		bool kept = has_value(after, s);

		plan_add(t, kept ? 0 : CP_DEL, 0, "        %s %s", kept ? " " : "-", s);
	}
	json_array_foreach(json_object_get(after, "values"), i, v)
	{
		const char *s = json_string_value(v);

		if (!has_value(before, s))
			plan_add(t, CP_ADD, 1, "        + %s", s);
	}
}

static void fmt_duration(long s, char *out, size_t len)
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

static void build_plan_lines(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	json_t *plan = d->plan, *cur_mx, *cur_sts, *step, *blockers;
	char *ps = NULL, dur[40], lines[16][300];
	size_t pslen = 0, i;
	long total = 0;
	FILE *fp;
	int n = 0;

	free(t->plines);
	t->plines = NULL;
	t->nplines = 0;
	t->plan_dom = k;
	if (!plan)
		return;
	plan_add(t, 0, 1, "Move the MX of %s to %s (provider %s)", d->name, d->target, d->provider);
	plan_add(t, CP_DIM, 0, "Snapshot %s",
	    json_string_value(json_object_get(json_object_get(plan, "snapshot"), "checksum")));
	blockers = json_object_get(plan, "blockers");
	json_array_foreach(blockers, i, step)
	    plan_add(t, CP_FAIL, 1, "BLOCKER: %s", json_string_value(step));
	cur_mx = json_object_get(json_object_get(plan, "snapshot"), "mx");
	cur_sts = json_object_get(json_object_get(plan, "snapshot"), "mta_sts_txt");
	plan_add(t, 0, 1, "Records now:");
	json_array_foreach(json_object_get(cur_mx, "values"), i, step) plan_add(t, 0, 0,
	    "      %s MX %lld %s", json_string_value(json_object_get(cur_mx, "name")),
	    json_integer_value(json_object_get(cur_mx, "ttl")), json_string_value(step));
	json_array_foreach(json_object_get(cur_sts, "values"), i, step)
	    plan_add(t, 0, 0, "      %s TXT \"%s\"",
		json_string_value(json_object_get(cur_sts, "name")), json_string_value(step));
	plan_add(t, 0, 1, "Steps:");
	json_array_foreach(json_object_get(plan, "steps"), i, step)
	{
		json_t *after = json_object_get(step, "after");
		const char *gate = json_string_value(json_object_get(step, "gate"));
		long wait = (long)json_integer_value(json_object_get(step, "wait_seconds"));

		plan_add(t, CP_ACCENT, 1, "%2zu. %s", i + 1,
		    json_string_value(json_object_get(step, "title")));
		plan_add(t, CP_DIM, 0, "      %s", json_string_value(json_object_get(step, "why")));
		if (after) {
			const char *type = json_string_value(json_object_get(after, "type"));
			bool mx = type && !strcmp(type, "MX");

			plan_diff(t, mx ? cur_mx : cur_sts, after);
			if (mx)
				cur_mx = after;
			else
				cur_sts = after;
		}
		if (wait) {
			fmt_duration(wait, dur, sizeof(dur));
			plan_add(t, CP_WARN, 1, "      wait %s", dur);
			total += wait;
		}
		if (gate) {
			n = wrap(gate, 80, lines, 16);
			for (int g = 0; g < n; g++)
				plan_add(t, CP_WARN, 0, "      %s %s", g ? " " : "gate:", lines[g]);
		}
	}
	fmt_duration(total, dur, sizeof(dur));
	plan_add(t, 0, 1, "Waits: %s in all, plus the gates.", dur);
	plan_add(t, 0, 1, "Exchange Online PowerShell:");
	fp = open_memstream(&ps, &pslen);
	if (fp) {
		mx_plan_render(plan, PLAN_POWERSHELL, NULL, fp, NULL);
		fclose(fp);
	}
	for (char *save = NULL, *l = ps ? strtok_r(ps, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save))
		plan_add(t, l[0] == '#' ? CP_DIM : CP_KEY, l[0] != '#', "      %s", l);
	free(ps);
}

static void draw_plan(struct tui *t)
{
	struct dom *d = &t->doms[t->plan_dom];
	int rows = LINES - 4;

	draw_title(t, "Plan review");
	if (d->planning) {
		putf(2, 2, COLS - 4, role(t, CP_DIM),
		    "building the plan from the live zone of %s (provider %s)…", d->name,
		    d->provider);
	} else if (!d->plan) {
		char lines[6][300];
		int n = wrap(d->plan_err, COLS - 6, lines, 6);

		put(2, 2, COLS - 4, role(t, CP_FAIL) | A_BOLD, "No plan:");
		for (int i = 0; i < n; i++)
			put(3 + i, 4, COLS - 6, role(t, CP_FAIL), lines[i]);
	} else {
		if (t->scroll > (int)t->nplines - rows)
			t->scroll = (int)t->nplines - rows > 0 ? (int)t->nplines - rows : 0;
		for (int i = 0; i < rows && t->scroll + i < (int)t->nplines; i++) {
			struct pline *p = &t->plines[t->scroll + i];

			put(1 + i, 1, COLS - 2, role(t, p->color) | (p->bold ? A_BOLD : 0),
			    p->text);
		}
	}
	draw_msg(t);
	draw_keys(t, "Enter:start the run  j/k/PgDn:scroll  p:export  Esc:back  ?:help");
}

static void countdown(time_t left, char *out, size_t len)
{
	if (left < 0)
		left = 0;
	if (left >= 3600)
		snprintf(out, len, "%ld:%02ld:%02ld", (long)left / 3600, (long)(left % 3600) / 60,
		    (long)left % 60);
	else
		snprintf(out, len, "%02ld:%02ld", (long)left / 60, (long)left % 60);
}

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
	    live ? "" : (unfinished(state) ? " (stopped)" : ""));
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

		if (!rollback && i == cur && unfinished(state))
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
	} else if (unfinished(state)) {
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
	} else if (!live && d->run.error && unfinished(state)) {
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
	else if (unfinished(state))
		draw_keys(t, "Enter:resume  r:rollback  p:export plan  Esc:back  ?:help");
	else
		draw_keys(t, "r:rollback  p:export plan  Esc:back  ?:help");
}

static const char *const help_text[] = {
    "Keys (like htop and tig)",
    "",
    "  ↑ ↓  j k    move, scroll           PgUp PgDn  g G   page, first, last",
    "  Enter       open, go on, start     Esc  q           back (q on Domains quits)",
    "  ?           this help              Ctrl-L           redraw",
    "",
    "Domains   c checks  t target  p export the plan  r roll back  R re-check  a add",
    "Checks    every prerequisite with the way to fix it; Enter: target entry",
    "Target    paste the DnssecMxValue; it is judged as you type; Tab: provider",
    "Plan      records before (-, red) and after (+, green), waits, gates and",
    "          the PowerShell lines; Enter starts the run after you confirm",
    "Run       steps and their states, the countdown to the next deadline,",
    "          gates with the exact command to run, the log. q stops where it",
    "          is (resumable); Ctrl-C stops and quits. Resume here with Enter,",
    "          or later with `mxcutover resume DOMAIN`.",
    "Rollback  r, then confirm: the snapshot returns in a mail-safe order.",
    "",
    "p writes the plan to a file; the extension picks the format: .md markdown,",
    ".json json, .ps1 powershell, .nsupdate nsupdate, anything else text.",
    "NO_COLOR=1 turns colours off. MXCUTOVER_CLOCK=warp[:N] makes each TTL wait",
    "last about N seconds (tests and the demo only).",
    "",
    "Press any key to close this help.",
};

static void draw_help(struct tui *t)
{
	int n = (int)(sizeof(help_text) / sizeof(help_text[0])), w = COLS < 84 ? COLS : 84;
	int h = n + 2;
	int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;

	if (x0 < 0)
		x0 = 0;
	if (y0 < 1)
		y0 = 1;
	for (int y = 0; y < h && y0 + y < LINES; y++) {
		attrset(role(t, CP_SEL));
		mvhline(y0 + y, x0, ' ', w < COLS ? w : COLS);
	}
	attrset(A_NORMAL);
	for (int i = 0; i < n && y0 + 1 + i < LINES; i++)
		put(y0 + 1 + i, x0 + 2, w - 4, role(t, CP_SEL) | (i == 0 ? A_BOLD : 0),
		    t->utf8 ? help_text[i]
			    : (i == 2 ? "  Up Down j k move, scroll           "
					"PgUp PgDn  g G   page, first, last"
				      : help_text[i]));
}

static void draw_modal(struct tui *t, const struct modal *m)
{
	char lines[20][300];
	int w = COLS - 10 < 90 ? COLS - 10 : 90, n = wrap(m->text, w - 4, lines, 16);
	int h = n + 5, y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;

	for (int y = 0; y < h; y++) {
		attrset(role(t, CP_SEL));
		mvhline(y0 + y, x0, ' ', w);
	}
	attrset(role(t, CP_SEL));
	mvhline(y0, x0, ACS_HLINE, w);
	mvhline(y0 + h - 1, x0, ACS_HLINE, w);
	mvvline(y0, x0, ACS_VLINE, h);
	mvvline(y0, x0 + w - 1, ACS_VLINE, h);
	mvaddch(y0, x0, ACS_ULCORNER);
	mvaddch(y0, x0 + w - 1, ACS_URCORNER);
	mvaddch(y0 + h - 1, x0, ACS_LLCORNER);
	mvaddch(y0 + h - 1, x0 + w - 1, ACS_LRCORNER);
	attrset(A_NORMAL);
	putf(y0, x0 + 2, w - 4, role(t, CP_SEL) | A_BOLD, " %s ", m->title);
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

static void draw(struct tui *t)
{
	t->last_draw = time(NULL);
	t->dirty = false;
	t->too_small = LINES < MIN_ROWS || COLS < MIN_COLS;
	erase();
	curs_set(0);
	if (t->too_small) {
		char lines[6][300];
		int n;
		char text[300];

		snprintf(text, sizeof(text),
		    "mxcutover needs a terminal of at least %d%s%d; this one is %d%s%d. Enlarge "
		    "it, or press q to quit. Runs keep going meanwhile.",
		    MIN_COLS, sym(t, "×", "x"), MIN_ROWS, COLS, sym(t, "×", "x"), LINES);
		n = wrap(text, COLS > 4 ? COLS - 2 : 2, lines, 6);
		for (int i = 0; i < n; i++)
			put(LINES / 2 - n / 2 + i, 1, COLS - 1, A_BOLD, lines[i]);
		refresh();
		return;
	}
	switch (t->scr) {
	case SCR_DOMAINS:
		draw_domains(t);
		break;
	case SCR_CHECKS:
		draw_checks(t);
		break;
	case SCR_TARGET:
		draw_target(t);
		curs_set(1);
		break;
	case SCR_PLAN:
		draw_plan(t);
		break;
	case SCR_RUN:
		draw_run(t);
		break;
	}
	if (t->help)
		draw_help(t);
	for (int i = 0; i < t->nmodals; i++)
		draw_modal(t, t->modals[i]);
	if (t->nmodals && t->modals[t->nmodals - 1]->kind == MODAL_PROMPT)
		curs_set(1);
	refresh();
}

/* ---- actions ---- */

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
static int write_plan_file(struct tui *t, struct dom *d, const char *path, struct mx_err *err)
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

static void export_plan(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	struct modal m;
	struct mx_err err;
	enum mx_plan_format fmt;

	if (!d->target[0]) {
		message(t, CP_WARN, "%s has no target host yet: press t to enter it", d->name);
		return;
	}
	if (!d->plan) {
		message(t, CP_DIM, "building the plan of %s to export it…", d->name);
		submit_plan(t, k, true);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.kind = MODAL_PROMPT;
	snprintf(m.title, sizeof(m.title), "Export the plan");
	snprintf(m.text, sizeof(m.text),
	    "File to write the plan of %s to (.md markdown, .json, .ps1 PowerShell, .nsupdate, "
	    "else text):",
	    d->name);
	snprintf(m.input, sizeof(m.input), "%s-plan.md", d->name);
	if (run_modal(t, &m) != 1 || !m.input[0])
		return;
	mx_err_clear(&err);
	if (write_plan_file(t, d, m.input, &err))
		message(t, CP_FAIL, "plan not written: %s", err.msg);
	else {
		char *abs = realpath(m.input, NULL);

		message(t, CP_OK, "plan of %s written to %s (%s)", d->name, abs ? abs : m.input,
		    format_for(m.input, &fmt));
		free(abs);
	}
}

static void open_run(struct tui *t, int k)
{
	t->run_dom = k;
	t->scr = SCR_RUN;
	refresh_journal(t, &t->doms[k]);
	t->dirty = true;
}

static void start_run(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	struct mx_err err;
	char *plan = NULL;

	if (!d->plan)
		return;
	if (json_array_size(json_object_get(d->plan, "blockers"))) {
		message(t, CP_FAIL,
		    "%s has failing checks: the run would stop at preflight; fix "
		    "them first (c shows how)",
		    d->name);
		return;
	}
	if (!confirm(t, "Start the cutover",
		"Start moving the MX of %s to %s through provider %s?\n\nEvery step is journaled "
		"first; q stops where it is and the run stays resumable.",
		d->name, d->target, d->provider))
		return;
	mx_err_clear(&err);
	plan = json_dumps(d->plan, JSON_COMPACT);
	if (engine_fresh(t, &err) ||
	    mx_engine_start(t->engine, d->name, d->target, d->provider, plan, &err)) {
		message(t, CP_FAIL, "%s", err.msg);
		free(plan);
		return;
	}
	free(plan);
	d->note[0] = '\0';
	logf_(t, k, MX_SEV_INFO, "run started: %s %s %s", d->name, sym(t, "→", "->"), d->target);
	refresh_live(t);
	open_run(t, k);
}

static void resume_run(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	struct mx_err err;

	mx_err_clear(&err);
	if (dom_in_engine(t, d) && !d->live.stopped)
		return;
	/* Other runs may go on: only this domain's stopped run leaves the engine. */
	if (t->engine)
		mx_engine_forget(t->engine, d->name);
	d->live.in_engine = false;
	if (engine_fresh(t, &err) || mx_engine_resume(t->engine, d->name, &err)) {
		message(t, CP_FAIL, "%s", err.msg);
		return;
	}
	logf_(t, k, MX_SEV_INFO, "resumed");
	message(t, 0, "%s resumed", d->name);
	refresh_live(t);
	open_run(t, k);
}

static void rollback_run(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	struct mx_err err;

	refresh_journal(t, d);
	if (!d->run.id || !strcmp(d->run.state, "rolled_back")) {
		message(t, CP_WARN, "%s has no run to roll back", d->name);
		return;
	}
	if (!confirm(t, "Roll back",
		"Roll %s back to its snapshot?\n\nThe legacy MX is preferred again first, then "
		"the TTL wait, then the new MX is removed and the original TTL and MTA-STS "
		"record return. Mail keeps flowing throughout.",
		d->name))
		return;
	mx_err_clear(&err);
	if (t->engine) {
		/* The forward run stops where it is and the rollback takes over from there; the
		 * other domains' runs go on. */
		mx_engine_stop_domain(t->engine, d->name);
		mx_engine_forget(t->engine, d->name);
	}
	d->live.in_engine = false;
	if (engine_fresh(t, &err) || mx_engine_rollback(t->engine, d->name, &err)) {
		message(t, CP_FAIL, "%s", err.msg);
		return;
	}
	logf_(t, k, MX_SEV_INFO, "rollback started");
	refresh_live(t);
	open_run(t, k);
}

static void add_domain(struct tui *t, const char *name, const char *target)
{
	struct dom *g;
	char norm[MX_NAME_MAX + 1];
	struct mx_err err;

	if (mx_domain_normalize(name, "domain", norm, sizeof(norm), &err)) {
		message(t, CP_FAIL, "%s", err.msg);
		return;
	}
	if (find_dom(t, norm) >= 0)
		return;
	g = realloc(t->doms, (t->ndoms + 1) * sizeof(*g));
	if (!g)
		return;
	t->doms = g;
	memset(&g[t->ndoms], 0, sizeof(g[0]));
	snprintf(g[t->ndoms].name, sizeof(g[0].name), "%s", norm);
	if (target && !mx_domain_normalize(target, "target", norm, sizeof(norm), &err))
		snprintf(g[t->ndoms].target, sizeof(g[0].target), "%s", norm);
	snprintf(g[t->ndoms].provider, sizeof(g[0].provider), "%s",
	    t->default_provider ? t->default_provider : "");
	t->ndoms++;
	refresh_journal(t, &t->doms[t->ndoms - 1]);
}

static void open_target(struct tui *t)
{
	struct dom *d = &t->doms[t->sel];
	const struct mx_conf *conf = t->app->conf;

	snprintf(t->tinput, sizeof(t->tinput), "%s", d->target);
	t->tprov = 0;
	for (size_t i = 0; i < conf->nprov; i++)
		if (!strcmp(conf->prov[i].name, d->provider))
			t->tprov = (int)i;
	t->scr = SCR_TARGET;
	t->dirty = true;
}

static void open_plan(struct tui *t, int k)
{
	t->scr = SCR_PLAN;
	t->scroll = 0;
	t->plan_dom = k;
	if (!t->doms[k].plan && !t->doms[k].planning)
		submit_plan(t, k, false);
	build_plan_lines(t, k);
}

/* ---- keys ---- */

static bool nav_key(struct tui *t, int ch, int *pos, int max)
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

static bool any_live(const struct tui *t)
{
	return engine_busy(t);
}

static void key_domains(struct tui *t, int ch)
{
	struct dom *d = t->ndoms ? &t->doms[t->sel] : NULL;

	if (nav_key(t, ch, &t->sel, t->ndoms ? (int)t->ndoms - 1 : 0))
		return;
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
	case KEY_RIGHT:
	case 'l':
		if (!d)
			break;
		if (d->live.in_engine || (d->run.id && unfinished(d->run.state)))
			open_run(t, t->sel);
		else {
			t->scr = SCR_CHECKS;
			t->scroll = 0;
		}
		break;
	case 'c':
		if (d) {
			t->scr = SCR_CHECKS;
			t->scroll = 0;
		}
		break;
	case 't':
		if (d)
			open_target(t);
		break;
	case 'p':
		if (d)
			export_plan(t, t->sel);
		break;
	case 'r':
		if (d)
			rollback_run(t, t->sel);
		break;
	case 'R':
	case KEY_F(5):
		submit_checks(t, -1);
		message(t, 0, "checking %zu domain(s)…", t->ndoms);
		break;
	case 'a': {
		struct modal m;

		memset(&m, 0, sizeof(m));
		m.kind = MODAL_PROMPT;
		snprintf(m.title, sizeof(m.title), "Add a domain");
		snprintf(m.text, sizeof(m.text), "Domain (an accepted domain of the tenant):");
		if (run_modal(t, &m) == 1 && m.input[0]) {
			size_t before = t->ndoms;

			add_domain(t, m.input, NULL);
			if (t->ndoms > before) {
				t->sel = (int)t->ndoms - 1;
				submit_checks(t, t->sel);
			}
		}
		break;
	}
	case 'q':
	case 27:
		if (any_live(t) && !confirm(t, "Quit",
				       "A run is active. Stop it where it is and quit? It stays "
				       "resumable (mxcutover resume, or this wizard)."))
			break;
		t->quit = true;
		break;
	}
}

static void key_checks(struct tui *t, int ch)
{
	if (nav_key(t, ch, &t->scroll, 200))
		return;
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 't':
		open_target(t);
		break;
	case 'R':
		submit_checks(t, t->sel);
		break;
	case 'p':
		export_plan(t, t->sel);
		break;
	case 'r':
		rollback_run(t, t->sel);
		break;
	case 'q':
	case 27:
	case KEY_LEFT:
	case 'h':
		t->scr = SCR_DOMAINS;
		break;
	}
	t->dirty = true;
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
		submit_checks(t, t->sel);
		open_plan(t, t->sel);
		break;
	case '\t':
	case KEY_BTAB:
		if (conf->nprov)
			t->tprov =
			    (t->tprov + (ch == '\t' ? 1 : (int)conf->nprov - 1)) % (int)conf->nprov;
		break;
	case 27:
		t->scr = SCR_CHECKS;
		break;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (len)
			t->tinput[len - 1] = '\0';
		break;
	case 21: /* ^U */
		t->tinput[0] = '\0';
		break;
	default:
		if (ch >= 32 && ch < 127 && ch != '?' && len + 1 < sizeof(t->tinput)) {
			t->tinput[len] = (char)ch;
			t->tinput[len + 1] = '\0';
		}
		break;
	}
	t->dirty = true;
}

static void key_plan(struct tui *t, int ch)
{
	int max = (int)t->nplines - (LINES - 4);

	if (nav_key(t, ch, &t->scroll, max > 0 ? max : 0))
		return;
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 's':
		if (t->doms[t->plan_dom].plan)
			start_run(t, t->plan_dom);
		break;
	case 'p':
		export_plan(t, t->plan_dom);
		break;
	case 'q':
	case 27:
	case KEY_LEFT:
		t->scr = SCR_TARGET;
		break;
	}
	t->dirty = true;
}

static void key_run(struct tui *t, int ch)
{
	struct dom *d = &t->doms[t->run_dom];
	bool live = dom_in_engine(t, d) && !d->live.stopped;

	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!live && d->run.id && unfinished(d->run.state))
			resume_run(t, t->run_dom);
		break;
	case 'r':
		rollback_run(t, t->run_dom);
		break;
	case 'p':
		export_plan(t, t->run_dom);
		break;
	case 'q':
		if (live) {
			if (confirm(t, "Stop the run",
				"Stop the run of %s where it is?\n\nThe journal holds its "
				"position: "
				"Enter on this screen resumes it, or later `mxcutover resume %s`.",
				d->name, d->name)) {
				mx_engine_stop(t->engine);
				refresh_live(t);
				refresh_journal(t, d);
				message(t, CP_WARN,
				    "%s stopped at %s, resumable: Enter resumes, or later "
				    "`mxcutover "
				    "resume %s`",
				    d->name, d->live.step_key, d->name);
			}
			break;
		}
		t->scr = SCR_DOMAINS;
		break;
	case 27:
	case KEY_LEFT:
		t->scr = SCR_DOMAINS;
		break;
	}
	t->dirty = true;
}

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
	if (t->help) {
		t->help = false;
		t->dirty = true;
		return;
	}
	if (ch == '?' || ch == KEY_F(1)) {
		t->help = true;
		t->dirty = true;
		return;
	}
	if (t->too_small) {
		if (ch == 'q')
			t->quit =
			    !any_live(t) || confirm(t, "Quit", "Stop the active run and quit?");
		return;
	}
	switch (t->scr) {
	case SCR_DOMAINS:
		key_domains(t, ch);
		break;
	case SCR_CHECKS:
		if (t->ndoms)
			key_checks(t, ch);
		break;
	case SCR_TARGET:
		key_target(t, ch);
		break;
	case SCR_PLAN:
		key_plan(t, ch);
		break;
	case SCR_RUN:
		key_run(t, ch);
		break;
	}
}

/* ---- entry ---- */

enum { OPT_FILE = 256, OPT_PROVIDER };

static const struct option tui_opts[] = {
    {"file", required_argument, NULL, OPT_FILE},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {NULL, 0, NULL, 0},
};

static int tui_open(struct tui *t, struct mx_err *err)
{
	const char *clock = getenv("MXCUTOVER_CLOCK");
	int rc;

	mx_clock_init(&t->clock, false);
	/* Test and demo seam: "warp[:N]" makes every TTL wait last about N seconds (5). */
	if (clock && !strncmp(clock, "warp", 4)) {
		t->warp_secs = clock[4] == ':' ? atoi(clock + 5) : 5;
		if (t->warp_secs < 1)
			t->warp_secs = 1;
	}
	t->sink.fn = on_event;
	t->sink.arg = t;
	rc = jnl_open(t->app->state_path, &t->jnl, err);
	if (!rc)
		rc = dns_ctx_new(&t->dns, t->app->resolver_conf, err);
	if (!rc)
		rc = http_ctx_new(&t->http, t->app->cacert, err);
	if (!rc)
		rc = engine_open(t, err);
	if (!rc)
		rc = ui_worker_start(&t->worker, t->app, err);
	t->worker_on = !rc;
	return rc;
}

static void tui_close(struct tui *t)
{
	if (t->worker_on || t->worker.pipe[0] > 0)
		ui_worker_stop(&t->worker);
	mx_engine_free(t->engine);
	http_ctx_free(t->http);
	dns_ctx_free(t->dns);
	for (size_t i = 0; i < t->ndoms; i++) {
		if (t->doms[i].checked)
			chk_domain_clear(&t->doms[i].chk);
		json_decref(t->doms[i].plan);
		jnl_run_clear(&t->doms[i].run);
	}
	free(t->doms);
	free(t->plines);
	jnl_close(t->jnl);
}

/* After the terminal is back: how to pick up every run that is not finished. */
static void say_resume(struct tui *t)
{
	for (size_t i = 0; i < t->ndoms; i++) {
		struct dom *d = &t->doms[i];

		refresh_journal(t, d);
		if (!d->run.id || !unfinished(d->run.state))
			continue;
		fprintf(stderr,
		    "mxcutover: %s stopped at %s (%s) and is safe where it is; continue with "
		    "`mxcutover resume %s` or `mxcutover tui`\n",
		    d->name, d->run.step, d->run.state, d->name);
		t->exit_status = MX_EXIT_BLOCKED;
	}
}

int mx_cmd_tui(struct mx_app *app, int argc, char **argv)
{
	struct tui *t = calloc(1, sizeof(*t));
	char **domains = NULL, **targets = NULL;
	const char *provider = NULL;
	struct jnl_run *runs = NULL;
	size_t n = 0, nruns = 0;
	struct mx_err err;
	int status = MX_EXIT_OK, idx = 0, opt, ch;

	if (!t)
		return MX_EXIT_RUNTIME;
	mx_err_clear(&err);
	while ((opt = mx_cli_getopt(app, argc, argv, "", tui_opts, &idx)) != -1) {
		switch (opt) {
		case 'h':
			mx_cli_help(stdout, "tui");
			goto out;
		case OPT_FILE:
			if (mx_cli_read_list(optarg, &domains, &targets, &n, &err)) {
				status = mx_cli_fail(app, &err);
				goto out;
			}
			break;
		case OPT_PROVIDER:
			provider = optarg;
			break;
		default:
			status = MX_EXIT_USAGE;
			goto out;
		}
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		status = mx_cli_usage_error("tui", "the wizard needs a terminal; use `mxcutover "
						   "check`, `plan` and `run --yes` in scripts");
		goto out;
	}
	t->app = app;
	if (mx_cli_load_config(app, &err)) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (provider && !mx_conf_provider(app->conf, provider)) {
		status =
		    mx_cli_usage_error("tui", "--provider %s: the config %s has no [provider.%s]",
			provider, app->conf->path ? app->conf->path : "(none)", provider);
		goto out;
	}
	t->default_provider = provider ? provider : app->conf->nprov ? app->conf->prov[0].name : "";
	if (tui_open(t, &err)) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		add_domain(t, domains[i], targets[i]);
	for (int i = idx; i < argc; i++)
		add_domain(t, argv[i], NULL);
	if (!jnl_run_list(t->jnl, &runs, &nruns, &err))
		for (size_t i = 0; i < nruns; i++)
			add_domain(t, runs[i].domain, runs[i].target);

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK)) {
		status = MX_EXIT_RUNTIME;
		goto out;
	}
	setlocale(LC_ALL, "");
	t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	install_signals();
	atexit(term_restore);
	if (!initscr()) {
		status = MX_EXIT_RUNTIME;
		goto out;
	}
	term_active = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	colors_init(t);
	submit_checks(t, -1);
	t->dirty = true;
	/* One unfinished run: that is what the person came back for. */
	{
		int open = -1, nopen = 0;

		for (size_t i = 0; i < t->ndoms; i++)
			if (t->doms[i].run.id && unfinished(t->doms[i].run.state)) {
				open = (int)i;
				nopen++;
			}
		if (nopen == 1) {
			t->sel = open;
			open_run(t, open);
		}
	}

	while (!t->quit && !sig_interrupt) {
		tick(t, 1000);
		while (!t->quit && !sig_interrupt && (ch = getch()) != ERR)
			handle_key(t, ch);
	}
	if (t->engine && !mx_engine_idle(t->engine))
		mx_engine_stop(t->engine);
	term_restore();
	say_resume(t);
	status = t->exit_status;
	if (sig_interrupt && !status)
		status = MX_EXIT_BLOCKED;
out:
	term_restore();
	if (t->app)
		tui_close(t);
	for (size_t i = 0; i < nruns; i++)
		jnl_run_clear(&runs[i]);
	free(runs);
	mx_cli_list_free(domains, targets, n);
	free(t);
	return status;
}
