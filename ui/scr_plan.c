/* SPDX-License-Identifier: MIT */
/* ui/scr_plan.c — plan review: the records now, each step with its records before (-) and
 * after (+), its wait and its gate, the total of the waits and the PowerShell lines; built
 * from the plan document (`mxcutover plan --format json`). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "tui.h"

static void plan_line(struct tui *t, enum pair color, int bold, const char *text)
{
	struct pline *g = realloc(t->plines, (t->nplines + 1) * sizeof(*g));

	if (!g)
		return;
	t->plines = g;
	g[t->nplines].color = color;
	g[t->nplines].bold = bold;
	size_t n = strnlen(text, sizeof(g[0].text) - 1); /* a longer line is cut, never overrun */

	memcpy(g[t->nplines].text, text, n);
	g[t->nplines].text[n] = '\0';
	t->nplines++;
}

/* Adds a line, wrapped to the screen's width: a continuation is indented past the line's
 * own indent, so a long BLOCKER or gate stays whole and readable. */
static void plan_add(struct tui *t, enum pair color, int bold, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void plan_add(struct tui *t, enum pair color, int bold, const char *fmt, ...)
{
	char text[TEXT_MAX + 300], lines[24][300], line[320];
	int indent = 0, width = COLS - 2, n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	while (text[indent] == ' ')
		indent++;
	if (indent > width / 2)
		indent = 0;
	n = wrap(text + indent, width - indent - 4, lines, 24);
	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%*s%.299s", indent + (i ? 4 : 0), "", lines[i]);
		plan_line(t, color, bold, line);
	}
	if (!n)
		plan_line(t, color, bold, "");
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

static void build_plan_lines(struct tui *t, int k)
{
	struct dom *d = &t->doms[k];
	json_t *plan = d->plan, *cur_mx, *cur_sts, *step, *blockers;
	char *ps = NULL, dur[40];
	size_t pslen = 0, i;
	long total = 0;
	FILE *fp;

	free(t->plines);
	t->plines = NULL;
	t->nplines = 0;
	t->plines_of = plan;
	t->plines_cols = COLS;
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
		if (gate)
			plan_add(t, CP_WARN, 0, "      gate: %s", gate);
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

	if (t->plines_of != d->plan || t->plines_cols != COLS)
		build_plan_lines(t, t->plan_dom);
	draw_title(t, ui_scr_plan.title);
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
	draw_keys(t, d->plan ? "Enter:start the run  j/k/PgDn:scroll  p:export  Esc:back  ?:help"
		     : unprovisioned(t, d)
			 ? "Enter:start the run (it provisions)  R:plan again  Esc:back  ?:help"
			 : "R:build it again  Esc:back  ?:help");
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
			ask_start_run(t, t->plan_dom);
		else if (unprovisioned(t, &t->doms[t->plan_dom]))
			ask_start_provision(t, t->plan_dom);
		else if (!t->doms[t->plan_dom].planning)
			message(t, CP_WARN, "%s: %s", t->doms[t->plan_dom].name,
			    t->doms[t->plan_dom].plan_err);
		break;
	case 'p':
		export_plan(t, t->plan_dom);
		break;
	case 'R':
		if (!t->doms[t->plan_dom].plan)
			submit_plan(t, t->plan_dom, false);
		break;
	case 'q':
	case 27:
	case KEY_LEFT:
		goto_screen(t, SCR_target);
		break;
	}
}

const struct ui_screen ui_scr_plan = {
    .title = "Plan review",
    .flags = UI_SCRF_DOMAIN,
    .draw = draw_plan,
    .key = key_plan,
};
