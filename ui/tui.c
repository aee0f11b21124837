/* SPDX-License-Identifier: MIT */
/* ui/tui.c — `mxcutover tui`: the wizard's entry. Reads the options and the config, opens
 * the journal, the resolver and HTTPS contexts, the engine and the background worker, loads
 * the domains (arguments, --file, every domain with a run), runs the loop (ui/loop.c), and
 * on the way out says how to pick up every run that is not finished. */
#include <getopt.h>
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
		if (!d->run.id || !run_unfinished(d->run.state))
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

	if (term_open(t)) {
		mx_err_set(&err, MX_EIO, "cannot open the terminal (TERM=%s); check TERM",
		    getenv("TERM") ? getenv("TERM") : "");
		status = mx_cli_fail(app, &err);
		goto out;
	}
	submit_checks(t, -1);
	t->dirty = true;
	/* One unfinished run: that is what the person came back for. */
	{
		int open = -1, nopen = 0;

		for (size_t i = 0; i < t->ndoms; i++)
			if (t->doms[i].run.id && run_unfinished(t->doms[i].run.state)) {
				open = (int)i;
				nopen++;
			}
		if (nopen == 1) {
			t->sel = open;
			open_run(t, open);
		}
	}

	ui_loop(t);
	if (t->engine && !mx_engine_idle(t->engine))
		mx_engine_stop(t->engine);
	term_restore();
	say_resume(t);
	status = t->exit_status;
	if (ui_sig_interrupt && !status)
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
