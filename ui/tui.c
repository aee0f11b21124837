/* SPDX-License-Identifier: MIT */
/* ui/tui.c — `mxcutover tui`: the wizard's entry. Reads the options and the config, starts
 * the engine loop (ui/core.c), loads the domains (arguments, --file, and every domain with a
 * run, which the engine loop sends), runs the terminal's loop (ui/loop.c), and on the way out
 * says how to pick up every run that is not finished. */
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

enum { OPT_FILE = 256, OPT_PROVIDER };

static const struct option tui_opts[] = {
    {"file", required_argument, NULL, OPT_FILE},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {NULL, 0, NULL, 0},
};

static void tui_close(struct tui *t)
{
	ui_core_free(t->core);
	for (size_t i = 0; i < t->ndoms; i++) {
		if (t->doms[i].checked)
			chk_domain_clear(&t->doms[i].chk);
		json_decref(t->doms[i].plan);
	}
	free(t->doms);
	nameidx_free(&t->dom_idx);
	free(t->plines);
}

/* Until the engine loop has sent the runs of the journal (it does so first thing). */
static void await_ready(struct tui *t)
{
	for (int i = 0; i < 50 && !t->ready; i++) {
		struct pollfd p = {ui_core_fd(t->core), POLLIN, 0};

		poll(&p, 1, 100);
		model_take(t);
	}
}

/* MXCUTOVER_UI_TIMING=FILE (a measuring aid, bench/wizard_gap): one line appended to FILE
 * at the end: the loop's turns, how many took over 20 ms from the poll's return to the next
 * poll (the longest a key could wait for the loop), and the longest. */
static void ui_timing(const struct tui *t)
{
	const char *path = getenv("MXCUTOVER_UI_TIMING");
	FILE *fp;

	if (!path || !*path || !(fp = fopen(path, "a")))
		return;
	fprintf(fp, "ui: %ld turns of the loop, %ld over 20 ms, the longest %.1f ms\n", t->turns,
	    t->turns_over, t->turn_max_ms);
	fclose(fp);
}

/* After the terminal is back: how to pick up every run that is not finished. */
static void say_resume(struct tui *t)
{
	for (size_t i = 0; i < t->ndoms; i++) {
		struct dom *d = &t->doms[i];

		if (!run_unfinished(&d->run) || run_held(&d->run))
			continue; /* finished, or another process's to finish */
		t->exit_status = mx_cli_reason(MX_EXIT_BLOCKED,
		    "%s stopped at %s (%s) and is safe where it is; continue with `mxcutover "
		    "resume %s` or `mxcutover tui`",
		    d->name, d->run.step_key, mx_run_state_name(d->run.st), d->name);
	}
}

int mx_cmd_tui(struct mx_app *app, int argc, char **argv)
{
	struct tui *t = calloc(1, sizeof(*t));
	char **domains = NULL, **targets = NULL;
	const char *provider = NULL;
	size_t n = 0;
	struct mx_err err;
	int status = MX_EXIT_OK, idx = 0, opt;

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
	for (size_t i = 0; i < n; i++)
		add_domain(t, domains[i], targets[i]);
	for (int i = idx; i < argc; i++)
		add_domain(t, argv[i], NULL);
	if (ui_core_new(&t->core, app, getenv("MXCUTOVER_CLOCK"), &err)) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	t->warps = ui_core_warps(t->core);

	if (term_open(t)) {
		mx_err_set(&err, MX_EIO, "cannot open the terminal (TERM=%s); check TERM",
		    getenv("TERM") ? getenv("TERM") : "");
		status = mx_cli_fail(app, &err);
		goto out;
	}
	await_ready(t);
	submit_checks(t, UI_CHECK_ALL);
	/* Tenant mode: the accepted domains come from Exchange, on the engine loop's thread. */
	t->tenant = ui_core_tenant(t->core);
	if (t->tenant && send_cmd(t, UI_CMD_TENANT, -1, false))
		message(t, CP_DIM, "reading the tenant's accepted domains from Exchange Online…");
	t->dirty = true;
	/* One unfinished run: that is what the person came back for. */
	{
		int open = -1, nopen = 0;

		for (size_t i = 0; i < t->ndoms; i++)
			if (run_unfinished(&t->doms[i].run)) {
				open = (int)i;
				nopen++;
			}
		if (nopen == 1) {
			t->sel = open;
			open_run(t, open);
		}
	}

	ui_loop(t);
	ui_timing(t);
	/* Every run stops where it is; the last views say where. */
	ui_core_stop(t->core);
	model_take(t);
	term_restore();
	say_resume(t);
	status = t->exit_status;
	if (ui_sig_interrupt && !status)
		status = MX_EXIT_BLOCKED;
out:
	term_restore();
	if (t->app)
		tui_close(t);
	mx_cli_list_free(domains, targets, n);
	free(t);
	return status;
}
