/* SPDX-License-Identifier: MIT */
/* ui/model.c — the wizard's model: the domains with their checks, plans and runs, the log,
 * and the status message. It changes only through the engine loop's messages (ui/core.h)
 * and the person's keys; screens only read it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nameidx.h"
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

static const char *dom_key(const void *ctx, size_t i)
{
	return ((const struct tui *)ctx)->doms[i].name;
}

int find_dom(const struct tui *t, const char *name)
{
	return (int)nameidx_find(&t->dom_idx, name, dom_key, t);
}

int add_domain(struct tui *t, const char *name, const char *target)
{
	struct dom *g;
	char norm[MX_NAME_MAX + 1];
	struct mx_err err;
	int k;

	if (mx_domain_normalize(name, "domain", norm, sizeof(norm), &err)) {
		message(t, CP_FAIL, "%s", err.msg);
		return -1;
	}
	if ((k = find_dom(t, norm)) >= 0)
		return k;
	if (t->ndoms == t->cap_doms) {
		size_t cap = t->cap_doms ? 2 * t->cap_doms : 64;

		if (!(g = realloc(t->doms, cap * sizeof(*g))))
			return -1;
		t->doms = g;
		t->cap_doms = cap;
	}
	g = &t->doms[t->ndoms];
	memset(g, 0, sizeof(*g));
	g->run.step = -1;
	snprintf(g->name, sizeof(g->name), "%s", norm);
	if (target && !mx_domain_normalize(target, "target", norm, sizeof(norm), &err))
		snprintf(g->target, sizeof(g->target), "%s", norm);
	snprintf(
	    g->provider, sizeof(g->provider), "%s", t->default_provider ? t->default_provider : "");
	if (nameidx_add(&t->dom_idx, t->ndoms, dom_key, t))
		return -1;
	t->dirty = true;
	return (int)t->ndoms++;
}

bool run_held(const struct ui_run *r)
{
	return r->exists && !r->live && r->held_pid != 0 && run_unfinished(r);
}

bool run_unfinished(const struct ui_run *r)
{
	return r->exists && r->st != MX_RUN_DONE && r->st != MX_RUN_ROLLED_BACK &&
	       r->st != MX_RUN_ABANDONED;
}

bool any_live(const struct tui *t)
{
	for (size_t i = 0; i < t->ndoms; i++)
		if (t->doms[i].run.live)
			return true;
	return false;
}

time_t ui_now(const struct tui *t)
{
	return ui_core_now(t->core);
}

/* ---- commands ---- */

bool send_cmd(struct tui *t, enum ui_cmd_kind kind, int k, bool flag)
{
	struct ui_cmd *c = ui_cmd_new(kind, k >= 0 ? t->doms[k].name : NULL);

	if (!c) {
		message(t, CP_FAIL, "out of memory");
		return false;
	}
	c->flag = flag;
	if (k >= 0) {
		snprintf(c->target, sizeof(c->target), "%s", t->doms[k].target);
		snprintf(c->provider, sizeof(c->provider), "%s", t->doms[k].provider);
		if (kind == UI_CMD_START && t->doms[k].plan)
			c->plan_json = json_dumps(t->doms[k].plan, JSON_COMPACT);
	}
	ui_core_send(t->core, c);
	return true;
}

void submit_checks(struct tui *t, int only)
{
	struct ui_cmd *c = ui_cmd_new(UI_CMD_CHECK, NULL);
	size_t n = only >= 0 ? 1 : t->ndoms;

	if (!t->ndoms || (only >= 0 && t->doms[only].unsupported)) {
		free(c);
		return;
	}
	if (c) {
		c->domains = calloc(n, sizeof(*c->domains));
		c->targets = calloc(n, sizeof(*c->targets));
	}
	if (!c || !c->domains || !c->targets) {
		if (c) {
			free(c->domains);
			free(c->targets);
		}
		free(c);
		message(t, CP_FAIL, "out of memory");
		return;
	}
	for (size_t i = 0; i < t->ndoms; i++) {
		struct dom *d = &t->doms[i];

		if ((only >= 0 && (int)i != only) || d->unsupported ||
		    (only == UI_CHECK_NEW && (d->checked || d->checking)))
			continue;
		c->domains[c->n] = strdup(d->name);
		c->targets[c->n] = d->target[0] ? strdup(d->target) : NULL;
		if (!c->domains[c->n])
			break;
		c->n++;
		d->checking = true;
	}
	if (!c->n) {
		free(c->domains);
		free(c->targets);
		free(c);
		return;
	}
	ui_core_send(t->core, c);
	t->dirty = true;
}

void submit_plan(struct tui *t, int k, bool export_after)
{
	struct dom *d = &t->doms[k];

	if (d->planning)
		return;
	json_decref(d->plan);
	d->plan = NULL;
	d->plan_err[0] = '\0';
	d->planning = send_cmd(t, UI_CMD_PLAN, k, export_after);
	t->dirty = true;
}

/* ---- the engine loop's messages ---- */

static void take_event(struct tui *t, const struct mx_event *ev)
{
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
		/* What the zone serves now, from a resolver without a memory of before. */
		if (k >= 0 && ev->sev < MX_SEV_ERROR)
			submit_checks(t, k);
		break;
	default:
		if (ev->sev > MX_SEV_DEBUG)
			ui_log(t, k, ev->sev, "%s", ev->text);
		break;
	}
}

static void take_run(struct tui *t, struct ui_msg *m)
{
	size_t before = t->ndoms;
	int k = find_dom(t, m->domain);
	struct dom *d;

	if (k < 0)
		k = add_domain(t, m->domain, m->run.target[0] ? m->run.target : NULL);
	if (k < 0)
		return;
	if (t->ndoms > before && t->ready)
		submit_checks(t, k);
	d = &t->doms[k];
	if (m->run.question[0] && !d->run.question[0])
		ui_log(t, k, MX_SEV_WARN, "asks: %s", m->run.question);
	d->run = m->run;
	if (!d->target[0] && d->run.target[0])
		snprintf(d->target, sizeof(d->target), "%s", d->run.target);
	if (d->run.exists && d->run.provider[0] && !d->run.live)
		snprintf(d->provider, sizeof(d->provider), "%s", d->run.provider);
}

static void take_check(struct tui *t, struct ui_msg *m)
{
	int k = find_dom(t, m->domain);
	struct dom *d;

	if (k < 0)
		return;
	d = &t->doms[k];
	d->checking = false;
	if (m->err.rc) {
		snprintf(d->chk_err, sizeof(d->chk_err), "%s", m->err.msg);
		return;
	}
	if (d->checked)
		chk_domain_clear(&d->chk);
	d->chk = m->chk;
	memset(&m->chk, 0, sizeof(m->chk));
	d->checked = true;
	d->chk_err[0] = '\0';
	if (!t->tenant)
		return;
	/* Tenant mode: the target is the host Exchange assigned (a run that is not finished
	 * keeps the one it was started with). */
	d->exo_read = true;
	snprintf(d->exo_target, sizeof(d->exo_target), "%s", m->exo_target);
	if (d->exo_target[0] && !run_unfinished(&d->run) && strcmp(d->target, d->exo_target)) {
		snprintf(d->target, sizeof(d->target), "%s", d->exo_target);
		json_decref(d->plan);
		d->plan = NULL;
	}
}

/* Tenant mode: the accepted domains join the list (the *.onmicrosoft.com ones marked
 * unsupported), and the new ones are checked. */
static void take_tenant(struct tui *t, struct ui_msg *m)
{
	size_t unsupported = 0;

	snprintf(t->tenant_name, sizeof(t->tenant_name), "%s", m->domain);
	if (m->err.rc) {
		message(t, CP_FAIL, "%s", m->err.msg);
		ui_log(t, -1, MX_SEV_ERROR, "%s", m->err.msg);
		return;
	}
	for (size_t i = 0; i < m->naccepted; i++) {
		int k = add_domain(t, m->accepted[i].name, NULL);

		if (k < 0)
			continue;
		t->doms[k].accepted = true;
		t->doms[k].unsupported = !m->accepted[i].supported;
		unsupported += t->doms[k].unsupported;
	}
	message(t, 0,
	    "tenant %s: %zu accepted domain%s, %zu of them *.onmicrosoft.com (unsupported)",
	    t->tenant_name, m->naccepted, m->naccepted == 1 ? "" : "s", unsupported);
	submit_checks(t, UI_CHECK_NEW);
}

static void take_plan(struct tui *t, struct ui_msg *m)
{
	int k = find_dom(t, m->domain);
	struct dom *d;

	if (k < 0)
		return;
	d = &t->doms[k];
	d->planning = false;
	json_decref(d->plan);
	d->plan = m->plan;
	m->plan = NULL;
	snprintf(d->plan_err, sizeof(d->plan_err), "%s", d->plan ? "" : m->err.msg);
	if (m->flag && d->plan)
		d->export_wanted = true;
	else if (m->flag)
		message(t, CP_FAIL, "no plan for %s: %s", d->name, d->plan_err);
}

bool model_take(struct tui *t)
{
	struct ui_msg *m;
	struct timespec t0, t1;
	unsigned n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		/* A flood of messages (a thousand runs) is taken in slices of about 30 ms, each
		 * followed by a redraw and the keys, so the screen never freezes behind it. */
		if (++n % 16 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >=
			    30)
				return true;
		}
		if (!(m = ui_core_take(t->core)))
			return false;
		switch (m->kind) {
		case UI_MSG_EVENT:
			take_event(t, &m->ev);
			break;
		case UI_MSG_RUN:
			take_run(t, m);
			break;
		case UI_MSG_CHECK:
			take_check(t, m);
			break;
		case UI_MSG_PLAN:
			take_plan(t, m);
			break;
		case UI_MSG_TENANT:
			take_tenant(t, m);
			break;
		case UI_MSG_READY:
			t->ready = true;
			break;
		case UI_MSG_FAIL:
			message(t, CP_FAIL, "%s", m->err.msg);
			ui_log(t, find_dom(t, m->domain), MX_SEV_ERROR, "%s", m->err.msg);
			break;
		}
		ui_msg_free(m);
		t->dirty = true;
	}
}
