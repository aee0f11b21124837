/* SPDX-License-Identifier: MIT */
/* ui/tui.h — what the wizard's curses files share: the model (domains, their runs, the log),
 * the screen table, the modal dialogs and the drawing helpers. Who does what:
 *   term.c     the terminal: setup, every way out restores it, colours, drawing primitives
 *   core.c     the engine loop (its own thread, no curses): checks, plans and runs
 *   model.c    the model: domains, runs and the log, updated from the engine loop's messages
 *   view.c     the current screen, the dialogs over it, the navigation keys
 *   loop.c     the loop: poll, draw, keys to the top dialog or the current screen
 *   actions.c  what keys do to runs and plans (start, resume, roll back, stop, export)
 *   scr_*.c    one file per screen, each a `struct ui_screen` row of UI_SCREENS below
 *   tui.c      `mxcutover tui`: options, start, the way out
 * Adding a screen: one new scr_NAME.c defining `const struct ui_screen ui_scr_NAME`, and one
 * row in UI_SCREENS. */
#ifndef MX_TUI_H
#define MX_TUI_H

#include <curses.h>
#include <signal.h>
#include <stdbool.h>

#include "domain.h"
#include "engine.h"
#include "steps.h"
#include "core.h"
#include "nameidx.h"

#define MIN_COLS 80
#define MIN_ROWS 24
#define LOG_MAX	 400
#define TEXT_MAX 1024

/* ---- the screen table ---- */

/* X(name): one row per screen, in the order of the enum. */
#define UI_SCREENS(X) X(domains) X(checks) X(target) X(plan) X(run) X(help)

enum ui_scr {
#define UI_SCR_ENUM(n) SCR_##n,
	UI_SCREENS(UI_SCR_ENUM)
#undef UI_SCR_ENUM
	    SCR_COUNT
};

struct tui;

struct ui_screen {
	const char *title; /* in the title bar */
	unsigned flags;	   /* UI_SCRF_* */
	void (*draw)(struct tui *t);
	void (*key)(struct tui *t, int ch);
};

enum {
	UI_SCRF_DOMAIN = 1 << 0,  /* shows one domain: not without domains */
	UI_SCRF_OVERLAY = 1 << 1, /* drawn over the screen it was opened from */
};

#define UI_SCR_DECL(n) extern const struct ui_screen ui_scr_##n;
UI_SCREENS(UI_SCR_DECL)
#undef UI_SCR_DECL

/* ---- colours ---- */

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

/* ---- the model ---- */

struct dom {
	char name[MX_NAME_MAX + 1];
	char target[MX_NAME_MAX + 1];
	char provider[64];
	/* [exchange]: an accepted domain of the tenant; unsupported: *.onmicrosoft.com, whose
	 * MX Microsoft manages (the endpoint does not apply) */
	bool accepted, unsupported;
	bool exo_read;			  /* its checks asked Exchange (tenant mode) */
	char exo_target[MX_NAME_MAX + 1]; /* the host Exchange assigned, "" when none yet */
	bool checking, checked;
	struct chk_domain chk; /* valid when checked */
	char chk_err[512];
	bool planning;
	json_t *plan; /* the reviewed plan, or NULL */
	char plan_err[512];
	bool export_wanted;  /* the plan arrived for `p`: ask where to write it */
	struct ui_run run;   /* its newest run, as the engine loop sent it */
	char note[TEXT_MAX]; /* the last outcome: a gate's reason, a failure */
	bool picked;	     /* named in the open batch dialog (S, Y): what its yes acts on */
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

/* ---- modal dialogs: drawn over the screen; keys go to the top one; no loop of their own ---- */

enum modal_kind { MODAL_CONFIRM, MODAL_PROMPT, MODAL_INFO };

struct modal;
/* Called once when the dialog closes: ok is true for yes/OK. */
typedef void modal_done_fn(struct tui *t, const struct modal *m, bool ok);

struct modal {
	enum modal_kind kind;
	char title[80];
	char text[TEXT_MAX + 200];
	char input[512];
	modal_done_fn *done; /* NULL: nothing to do */
	int dom;	     /* the domain the dialog is about, -1 when none */
	int answer;	     /* -1 open, 0 no/cancel, 1 yes/ok */
};

#define MODAL_MAX 4

struct tui {
	struct mx_app *app;
	struct ui_core *core; /* checks, plans and runs: the engine loop's thread */

	struct dom *doms;
	size_t ndoms, cap_doms;
	struct nameidx dom_idx; /* doms by name */
	const char *default_provider;

	enum ui_scr scr;
	enum ui_scr under; /* what an overlay screen is drawn over */
	int sel, top;	   /* domains list */
	char find[254];	   /* the domains list's last search (/), "" before the first */
	int scroll;	   /* checks / plan */
	int run_dom;	   /* the run screen's domain */
	struct modal modals[MODAL_MAX];
	int nmodals;
	char msg[TEXT_MAX];
	enum pair msg_color;

	char tinput[MX_NAME_MAX + 64]; /* target entry */
	int tprov;		       /* index of the provider in conf */

	struct pline *plines; /* the plan screen's lines, built from plines_of */
	size_t nplines;
	const json_t *plines_of;
	int plines_cols; /* the width they were wrapped to */
	int plan_dom;

	struct logline log[LOG_MAX];
	int nlog, log_head;

	bool ready; /* the runs of the journal have arrived */
	/* [exchange]: tenant mode — domains and targets come from Exchange Online */
	bool tenant;
	char tenant_name[254];
	bool color, utf8, warps, too_small, quit, dirty;
	time_t last_draw;
	int exit_status;
	/* each turn of the loop, from the poll's return to the next poll (MXCUTOVER_UI_TIMING) */
	double woke;		/* mx_mono_ms at the poll's return, 0 before the first */
	long turns, turns_over; /* over: longer than 20 ms */
	double turn_max_ms;
};

/* ---- term.c: the terminal and drawing primitives ---- */

extern volatile sig_atomic_t ui_sig_interrupt, ui_sig_winch;
extern int ui_sig_pipe[2];

/* Makes the signal pipe, installs the handlers and opens curses; every way out (return,
 * Ctrl-C, SIGTERM/SIGHUP, a fatal signal) restores the terminal. */
int term_open(struct tui *t);
/* Gives the terminal back; safe to call more than once. */
void term_restore(void);
/* Drains the signal pipe and follows a resize. */
void term_signals(struct tui *t);

/* The attributes of a colour role, or their monochrome stand-ins. */
attr_t role(const struct tui *t, enum pair p);
const char *sym(const struct tui *t, const char *utf8, const char *ascii);
/* Writes s at (y, x), at most w columns (UTF-8 aware); returns the columns used. */
int put(int y, int x, int w, attr_t a, const char *s);
/* The same, and when s does not fit its last column shows … (cut). */
int put_cut(const struct tui *t, int y, int x, int w, attr_t a, const char *s);
/* put_cut, but a text that ends in tail (a marker such as " +") keeps it when cut. */
int put_cut_tail(
    const struct tui *t, int y, int x, int w, attr_t a, const char *s, const char *tail);
int putf(int y, int x, int w, attr_t a, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void fill(int y, attr_t a);
/* Splits text into lines of at most w columns (at spaces when possible; '\n' breaks).
 * Returns the number of lines written to out (each ≤ 299 bytes). */
int wrap(const char *text, int w, char out[][300], int max);
/* A box with a title on row y0, h rows high and w wide. */
void frame(const struct tui *t, int y0, int x0, int h, int w, attr_t a, const char *title);
void draw_title(struct tui *t, const char *title);
/* "K:label  K:label" on the bottom row, keys in bold. */
void draw_keys(struct tui *t, const char *keys);
void draw_msg(struct tui *t);
/* The colour of a check status. */
enum pair chk_color(enum chk_status s);
void countdown(time_t left, char *out, size_t len);
void fmt_duration(long s, char *out, size_t len);

/* ---- model.c ---- */

void ui_log(struct tui *t, int dom, enum mx_sev sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void message(struct tui *t, enum pair color, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int find_dom(const struct tui *t, const char *name);
/* Adds a domain (normalized; nothing when it is there already); its index or -1. */
int add_domain(struct tui *t, const char *name, const char *target);
/* The run exists and is neither done, rolled back nor abandoned. */
bool run_unfinished(const struct ui_run *r);
/* Another mxcutover process drives the run (ui_run.held_pid): this wizard only shows it. */
bool run_held(const struct ui_run *r);
/* Says (status line) that another process drives d's run, and what to do; true when it does
 * (the action asked for is then not taken). */
bool held_elsewhere(struct tui *t, int k, const char *what);
/* Some run is driven by the engine now. */
bool any_live(const struct tui *t);
/* Applies the messages the engine loop sent, for at most about 30 ms; true when some are
 * left for the next turn. */
bool model_take(struct tui *t);
/* Asks the engine loop to check domain `only` again; UI_CHECK_ALL: every domain,
 * UI_CHECK_NEW: those never checked. *.onmicrosoft.com domains are never checked. */
enum { UI_CHECK_ALL = -1, UI_CHECK_NEW = -2 };
void submit_checks(struct tui *t, int only);
void submit_plan(struct tui *t, int k, bool export_after);
/* Sends a command about domain k (-1: none); false when memory ran out. */
bool send_cmd(struct tui *t, enum ui_cmd_kind kind, int k, bool flag);
time_t ui_now(const struct tui *t);

/* The sentence for a domain the cutover does not apply to (*.onmicrosoft.com). */
#define UNSUPPORTED_TEXT                                                                           \
	"a *.onmicrosoft.com domain: Microsoft manages its MX and the mx.microsoft endpoint "      \
	"does not apply; nothing to move"

/* ---- view.c ---- */

void goto_screen(struct tui *t, enum ui_scr s);
/* Opens a dialog over the screen (NULL when MODAL_MAX are open); done is called once when
 * it closes. */
struct modal *modal_open(struct tui *t, enum modal_kind kind, const char *title, int dom,
    modal_done_fn *done, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* What key ch answers in dialog m: -1 not yet, 0 no/cancel, 1 yes/OK (edits a prompt). */
int modal_answer(struct modal *m, int ch);
/* Hands ch to the top dialog, closing it when answered. */
void modal_key(struct tui *t, int ch);
void draw_modals(struct tui *t);
/* Moves *pos with the navigation keys; true when ch was one. */
bool nav_key(struct tui *t, int ch, int *pos, int max);
bool is_enter(int ch);

/* ---- loop.c ---- */

/* Runs until q or a signal. */
void ui_loop(struct tui *t);
void draw(struct tui *t);

/* ---- actions.c ---- */

void open_run(struct tui *t, int k);
void open_target(struct tui *t);
void open_plan(struct tui *t, int k);
void open_checks(struct tui *t);
void ask_start_run(struct tui *t, int k);
/* Tenant mode: Exchange has answered for the domain and has not provisioned its endpoint
 * (no target, so no plan): the run's first step provisions it. */
bool unprovisioned(const struct tui *t, const struct dom *d);
/* What S starts (ui/actions.c); the domains list counts these as ready. */
bool startable(const struct tui *t, const struct dom *d);
/* Asks, then starts such a run without a plan (as `mxcutover run` without --target-mx). */
void ask_start_provision(struct tui *t, int k);
void resume_run(struct tui *t, int k);
void ask_rollback(struct tui *t, int k);
void ask_stop(struct tui *t, int k);
/* Answers domain k's question. */
void answer(struct tui *t, int k, bool yes);
/* S on the domains list: asks once, then starts a run of every domain the readiness verdict
 * lets run that has a target and no unfinished run (the others are counted, left alone). */
void ask_start_all(struct tui *t);
/* Y on the domains list: asks once, naming them, then answers yes for every run that waits
 * at the inbound-test question. */
void ask_answer_all(struct tui *t);
void ask_quit(struct tui *t);
void ask_add_domain(struct tui *t);
void export_plan(struct tui *t, int k);
void recheck(struct tui *t, int only);

/* ---- scr_checks.c ---- */

/* The how-to-fix sentence for a check. */
extern const char *const fix_hint[CHK_COUNT];

#endif
