/* SPDX-License-Identifier: MIT */
/* ui/model.c — the wizard's model: the domains with their checks, plans and runs, the log,
 * and the status message. It follows the engine's events and the background worker's
 * finished jobs; screens only read it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

void ui_log(struct tui *t, int dom, enum mx_sev sev, const char *fmt, ...)
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

void message(struct tui *t, enum pair color, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	t->msg_color = color;
	t->dirty = true;
}

int find_dom(const struct tui *t, const char *name)
{
	for (size_t i = 0; i < t->ndoms; i++)
		if (!strcmp(t->doms[i].name, name))
			return (int)i;
	return -1;
}

bool run_unfinished(const char *state)
{
	return state && strcmp(state, "done") && strcmp(state, "rolled_back");
}

/* ---- the clock: real, or warped so a TTL wait lasts a few seconds ---- */

double mono_now(void)
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

void warp_tick(struct tui *t)
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

void refresh_journal(struct tui *t, struct dom *d)
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

void refresh_live(struct tui *t)
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

bool engine_busy(const struct tui *t)
{
	return t->engine && !mx_engine_idle(t->engine);
}

int engine_open(struct tui *t, struct mx_err *err)
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
int engine_fresh(struct tui *t, struct mx_err *err)
{
	if (t->engine && !mx_engine_idle(t->engine))
		return MX_OK;
	mx_engine_free(t->engine);
	t->engine = NULL;
	for (size_t i = 0; i < t->ndoms; i++)
		t->doms[i].live.in_engine = false;
	return engine_open(t, err);
}

bool dom_in_engine(const struct tui *t, const struct dom *d)
{
	return d->live.in_engine && t->engine;
}

void submit_checks(struct tui *t, int only)
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

void submit_plan(struct tui *t, int k, bool export_after)
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

void take_jobs(struct tui *t)
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
				if (j->export_after && d->plan)
					d->export_wanted = true;
				else if (j->export_after)
					message(
					    t, CP_FAIL, "no plan for %s: %s", d->name, d->plan_err);
			}
		}
		ui_job_free(j);
		t->dirty = true;
	}
}

/* The engine asks at gates that want a person's word. The engine is mid-step here, so the
 * wait draws and reads keys but does not step it. */
bool on_confirm(void *arg, const char *domain, const char *question)
{
	struct tui *t = arg;
	int k = find_dom(t, domain);
	bool yes;

	if (k >= 0 && t->scr == SCR_run)
		t->run_dom = k;
	ui_log(t, k, MX_SEV_WARN, "asks: %s", question);
	yes = modal_await(t, "Confirm", "%s\n\n%s", domain, question);
	ui_log(t, k, MX_SEV_INFO, "answer: %s", yes ? "yes" : "no");
	return yes;
}

/* ---- engine events ---- */

void on_event(const struct mx_event *ev, void *arg)
{
	struct tui *t = arg;
	int k = find_dom(t, ev->domain);
	char when[32];

	switch (ev->kind) {
	case MX_EV_STEP:
		ui_log(t, k, MX_SEV_INFO, "%s %s", sym(t, "▸", ">"), ev->text);
		if (k >= 0)
			t->doms[k].note[0] = '\0';
		break;
	case MX_EV_WAIT:
		ui_log(t, k, MX_SEV_INFO, "%s (until %s)", ev->text,
		    mx_time_rfc3339(ev->until, when, sizeof(when)));
		break;
	case MX_EV_GATE: {
		char lines[12][300];
		int n = wrap(ev->text, 92, lines, 12);

		ui_log(t, k, MX_SEV_WARN, "ACTION NEEDED:");
		for (int i = 0; i < n; i++)
			ui_log(t, k, MX_SEV_WARN, "  %s", lines[i]);
		break;
	}
	case MX_EV_DONE:
		ui_log(t, k, ev->sev, "%s%s", ev->sev >= MX_SEV_ERROR ? "stopped: " : "", ev->text);
		if (k >= 0) {
			snprintf(t->doms[k].note, sizeof(t->doms[k].note), "%s", ev->text);
			message(t, ev->sev >= MX_SEV_ERROR ? CP_FAIL : CP_OK, "%s: %s", ev->domain,
			    ev->text);
		}
		break;
	default:
		if (ev->sev > MX_SEV_DEBUG)
			ui_log(t, k, ev->sev, "%s", ev->text);
		break;
	}
	if (k >= 0 && ev->kind != MX_EV_LOG)
		refresh_journal(t, &t->doms[k]);
	if (k >= 0 && ev->kind == MX_EV_DONE && ev->sev < MX_SEV_ERROR)
		submit_checks(t, k);
}

void add_domain(struct tui *t, const char *name, const char *target)
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
