/* SPDX-License-Identifier: MIT */
/* src/cmd_run.c — `run`, `resume`, `rollback` and `status`: the command-line front end of
 * the engine. It prints the engine's events as lines, asks at gates when a person is there
 * (never with --yes), and waits for deadlines in the event loop, never in the engine. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "domain.h"
#include "engine.h"
#include "exo.h"
#include "loop.h"
#include "steps.h"

enum { OPT_TARGET = 256, OPT_PROVIDER, OPT_FILE, OPT_YES, OPT_PLAN };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* Ctrl-C and SIGTERM are caught from before the first run is started or taken up: a signal
 * then stops the starting, and the runs already started stay where they are. */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* A start is never cut in two: the signals wait until its run is journaled or refused. */
static void hold_signals(bool hold, sigset_t *old)
{
	sigset_t set;

	if (!hold) {
		pthread_sigmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

/* A domain that did not finish: why, and the exit status it called for. */
struct front_stop {
	char domain[254];
	int exit;
	bool at_start;	/* it could not even start (or resume): other lines may follow */
	bool by_signal; /* stopped where it was by Ctrl-C or SIGTERM: resume continues it */
	char why[512];
};

struct front {
	struct mx_app *app;
	struct mx_clock clock;
	struct jnl *jnl;
	struct dns_ctx *dns;
	struct http_ctx *http;
	struct mx_engine *engine;
	struct exo_ctx *exo; /* [exchange], NULL without it */
	struct mx_sink sink;
	bool countdown;	 /* a countdown line is on the terminal (stderr) */
	bool live;	 /* stderr is a terminal and the user wants progress */
	char asked[254]; /* the domain whose question is on the terminal, "" when none */
	/* Every domain that did not finish, in the order they stopped: the last stderr line
	 * of a command over several domains sums them up. */
	struct front_stop *stops;
	int nstops;
	int ntried; /* domains the command tried to start or resume */
	/* The engine's last error per domain (its "stopped:" event): the reason of a run
	 * whose own is empty (a journal that failed as the run finished). */
	struct front_stop *errs;
	int nerrs;
};

/* Records (or updates) domain's entry in *list and returns it; best effort (NULL when out of
 * memory), as the domain's own line is printed anyway. */
static struct front_stop *note_stop(
    struct front_stop **list, int *n, const char *domain, int exit, bool at_start, const char *why)
{
	struct front_stop *s = NULL;

	for (int i = 0; i < *n && !s; i++)
		if (!strcmp((*list)[i].domain, domain))
			s = &(*list)[i];
	if (!s) {
		struct front_stop *grown = realloc(*list, (size_t)(*n + 1) * sizeof(**list));

		if (!grown)
			return NULL;
		*list = grown;
		s = &grown[(*n)++];
	}
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	s->exit = exit;
	s->at_start = at_start;
	s->by_signal = false;
	snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
	return s;
}

static const struct front_stop *find_stop(const struct front_stop *list, int n, const char *domain)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i].domain, domain))
			return &list[i];
	return NULL;
}

/* Erases the countdown line before anything else is printed. */
static void countdown_clear(struct front *f)
{
	if (f->countdown) {
		fputs("\r\033[K", stderr);
		f->countdown = false;
	}
}

/* On a terminal, one line on stderr counts down the nearest wait or gate. */
static void countdown_draw(struct front *f)
{
	struct mx_run_info info, best = {0};
	time_t t = mx_now(&f->clock);
	bool have = false;
	int nruns = mx_engine_nruns(f->engine), ended = 0;
	char line[600], head[64] = "";

	if (!f->live || f->asked[0])
		return;
	for (int i = 0; i < nruns; i++) {
		mx_engine_run_info(f->engine, i, &info);
		ended += info.stopped || mx_run_state_over(info.st);
		/* Work in progress (the prerequisite checks) is not a wait to count down. */
		if (info.stopped || !info.waiting_for[0] || info.wake <= t ||
		    (info.step_flags & MX_STEPF_CHECKS))
			continue;
		if (!have || info.wake < best.wake)
			best = info;
		have = true;
	}
	countdown_clear(f);
	if (!have)
		return;
	{
		long left = (long)(best.wake - t);

		/* With several runs, how many have ended, then the nearest wait. */
		if (nruns > 1)
			snprintf(head, sizeof(head), "[%d/%d ended] ", ended, nruns);
		snprintf(line, sizeof(line), "%s%s: %s — %ld:%02ld:%02ld left", head, best.domain,
		    best.waiting_for, left / 3600, left / 60 % 60, left % 60);
		mx_cli_fit(line, STDERR_FILENO);
		fputs(line, stderr);
		f->countdown = true;
		fflush(stderr);
	}
}

/* One run as `status --json` shows it (docs/contract.md, section 3.3). New reference. */
static json_t *run_json(const struct jnl_run *r)
{
	char when[32];

	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:o}", "domain", r->domain, "state",
	    r->state, "step", r->step, "next_at",
	    r->next_at ? json_string(mx_time_rfc3339((time_t)r->next_at, when, sizeof(when)))
		       : json_null(),
	    "waiting_for", r->waiting_for ? json_string(r->waiting_for) : json_null(), "target",
	    r->target, "provider", r->provider, "error",
	    r->error ? json_string(r->error) : json_null());
}

/* With --json, run/resume/rollback end with the `status --json` document of their runs. */
static void print_runs_json(struct front *f)
{
	json_t *doc = json_object(), *arr = json_array();

	for (int i = 0; i < mx_engine_nruns(f->engine); i++) {
		struct jnl_run r;

		if (jnl_run_latest(f->jnl, mx_engine_run_domain(f->engine, i), &r, NULL) == MX_OK &&
		    r.id)
			json_array_append_new(arr, run_json(&r));
		jnl_run_clear(&r);
	}
	json_object_set_new(doc, "runs", arr);
	json_dumpf(doc, f->app->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', f->app->out);
	json_decref(doc);
}

static void print_event(const struct mx_event *ev, void *arg)
{
	struct front *f = arg;
	FILE *fp = f->app->msg;
	char when[32];

	if (f->app->verbosity < 0 && ev->sev < MX_SEV_ERROR && ev->kind != MX_EV_GATE)
		return;
	countdown_clear(f);
	switch (ev->kind) {
	case MX_EV_STEP:
		fprintf(fp, "%s: ▸ %s\n", ev->domain, ev->text);
		break;
	case MX_EV_WAIT:
		fprintf(fp, "%s:   %s (until %s)\n", ev->domain, ev->text,
		    mx_time_rfc3339(ev->until, when, sizeof(when)));
		break;
	case MX_EV_GATE:
		fprintf(fp,
		    "%s: ACTION NEEDED ──────────────────────────────\n%s\n"
		    "─────────────────────────────────────────────────\n",
		    ev->domain, ev->text);
		break;
	case MX_EV_DONE:
		fprintf(fp, "%s: %s%s\n", ev->domain, ev->sev >= MX_SEV_ERROR ? "stopped: " : "",
		    ev->text);
		if (ev->sev >= MX_SEV_ERROR)
			note_stop(&f->errs, &f->nerrs, ev->domain, 0, false, ev->text);
		break;
	default:
		if (ev->sev > MX_SEV_DEBUG || f->app->verbosity > 0)
			fprintf(fp, "%s:   %s\n", ev->domain, ev->text);
		break;
	}
	fflush(fp);
}

static bool ask(void *arg, const char *domain, const char *question)
{
	char line[32];

	fprintf(stderr, "%s: %s [y/N] ", domain, question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static void front_close(struct front *f)
{
	free(f->stops);
	free(f->errs);
	mx_engine_free(f->engine);
	exo_close(f->exo);
	http_ctx_free(f->http);
	dns_ctx_free(f->dns);
	jnl_close(f->jnl);
}

/* Opens everything a run needs. yes: no prompts at all. */
static int front_open(struct front *f, struct mx_app *app, bool yes, struct mx_err *err)
{
	struct mx_engine_cfg cfg;
	int rc;

	memset(f, 0, sizeof(*f));
	f->app = app;
	/* Test and demo seam: "warp[:N]" makes waits pass faster than real time. */
	rc = mx_clock_parse(&f->clock, getenv("MXCUTOVER_CLOCK"), err);
	if (rc)
		return rc;
	f->live = isatty(STDERR_FILENO) && !app->json && app->verbosity >= 0;
	f->sink.fn = print_event;
	f->sink.arg = f;
	rc = mx_cli_load_config(app, err);
	if (!rc)
		rc = jnl_open(app->state_path, &f->jnl, err);
	if (!rc)
		rc = dns_ctx_new(&f->dns, app->resolver_conf, err);
	if (!rc)
		rc = http_ctx_new(&f->http, app->cacert, err);
	if (!rc && exo_configured(app->conf))
		rc = exo_open(app->conf, f->http, &f->exo, err);
	if (rc)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	cfg.exo = f->exo;
	cfg.conf = app->conf;
	cfg.jnl = f->jnl;
	cfg.dns = f->dns;
	cfg.http = f->http;
	cfg.clock = &f->clock;
	cfg.sink = &f->sink;
	cfg.assume_yes = yes;
	return mx_engine_new(&f->engine, &cfg, err);
}

/* The reason each run that did not finish stopped, from the journal (what `status` shows),
 * on stderr; with several, a last line that counts them. */
static void say_why(struct front *f)
{
	int nruns = mx_engine_nruns(f->engine);

	for (int i = 0; i < nruns; i++) {
		struct mx_run_info info;
		struct jnl_run r;
		char names[256], why[600];

		mx_engine_run_info(f->engine, i, &info);
		if (!info.exit)
			continue;
		memset(&r, 0, sizeof(r));
		if (jnl_run_latest(f->jnl, info.domain, &r, NULL) != MX_OK)
			r.error = NULL;
		/* The engine's own reason is the latest (a refused preflight leaves no row);
		 * when it has none, the error it announced (a journal that failed as the run
		 * finished records nothing). */
		if (info.error[0] || find_stop(f->errs, f->nerrs, info.domain)) {
			const struct front_stop *ev = find_stop(f->errs, f->nerrs, info.domain);

			free(r.error);
			r.error = strdup(info.error[0] ? info.error : ev->why);
		}
		/* Exit 2 from a run: the provider does not hold the zone; name the others. */
		names[0] = '\0';
		if (info.exit == MX_EXIT_USAGE)
			mx_cli_provider_names(f->app, names, sizeof(names));
		if (r.error && strchr(names, ',')) {
			snprintf(
			    why, sizeof(why), "%s (providers in the config: %s)", r.error, names);
			mx_cli_domain_reason(info.exit, info.domain, why);
		} else if (r.error) {
			snprintf(why, sizeof(why), "%s", r.error);
			mx_cli_domain_reason(info.exit, info.domain, why);
		} else {
			snprintf(why, sizeof(why),
			    "%s stopped at %s (%s); `mxcutover status %s` shows where it stands, "
			    "`mxcutover resume %s` continues",
			    info.domain, info.step_key, info.state, info.domain, info.domain);
			mx_cli_reason(info.exit, "%s", why);
		}
		note_stop(&f->stops, &f->nstops, info.domain, info.exit, false, why);
		jnl_run_clear(&r);
	}
}

/* A command over several domains ends, when it fails, with one line that sums up: how many
 * did not finish and the reason of the one whose exit status is the command's. It is left
 * out when the last line printed is already the one reason there is. */
static void say_summary(struct front *f, int status)
{
	const struct front_stop *s = NULL;
	char all[96] = "";
	int nsig = 0;
	size_t n;

	if (!status || !f->nstops || f->ntried < 2 || (f->nstops == 1 && !f->stops[0].at_start))
		return;
	for (int i = 0; i < f->nstops; i++)
		nsig += f->stops[i].by_signal;
	/* Exit 1 after Ctrl-C is the signal's doing: its line is the one that explains it. */
	for (int i = 0; i < f->nstops && !s; i++)
		if (f->stops[i].exit == status &&
		    (f->stops[i].by_signal || !nsig || status != MX_EXIT_BLOCKED))
			s = &f->stops[i];
	if (!s)
		s = &f->stops[0];
	/* Several stopped by Ctrl-C are all safe where they are: one command continues them. */
	if (nsig > 1 && nsig == f->nstops)
		snprintf(all, sizeof(all), "; `mxcutover resume` continues them all");
	else if (nsig > 1)
		snprintf(all, sizeof(all),
		    "; `mxcutover resume` continues the %d stopped by the signal", nsig);
	/* Reasons that begin with their domain are not prefixed twice. */
	n = strlen(s->domain);
	if (!strncmp(s->why, s->domain, n) && (s->why[n] == ':' || s->why[n] == ' '))
		mx_cli_reason(status,
		    "%d of %d domains did not finish (`mxcutover status` shows where each "
		    "stands%s); %s",
		    f->nstops, f->ntried, all, s->why);
	else
		mx_cli_reason(status,
		    "%d of %d domains did not finish (`mxcutover status` shows where each "
		    "stands%s); %s: %s",
		    f->nstops, f->ntried, all, s->domain, s->why);
}

/* The last line of a command stopped by a signal before it had started (or taken up) every
 * run. No step ran: the signal is seen before the first, so no zone was changed. */
static void say_not_reached(
    struct front *f, const char *cmd, size_t left, size_t total, const char *first)
{
	int runs = mx_engine_nruns(f->engine);

	if (runs)
		mx_cli_reason(MX_EXIT_BLOCKED,
		    "%s interrupted: %zu of %zu domains were not reached (the first: %s) and %d "
		    "run%s stopped before %s first step; nothing was changed — run the same "
		    "command again",
		    cmd, left, total, first, runs, runs == 1 ? "" : "s",
		    runs == 1 ? "its" : "their");
	else
		mx_cli_reason(MX_EXIT_BLOCKED,
		    "%s interrupted before any run started (%zu domains not reached, the first: "
		    "%s); nothing was changed — run the same command again",
		    cmd, left, first);
}

/* A question a run waits at is put to the person at the terminal; the answer is read from
 * stdin when it arrives, while the other runs go on. */
static void ask_pending(struct front *f, int *fds, int *n)
{
	struct mx_run_info info;
	struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
	char line[32];

	for (int i = 0; !f->asked[0] && i < mx_engine_nruns(f->engine); i++) {
		mx_engine_run_info(f->engine, i, &info);
		if (info.stopped || !info.question[0])
			continue;
		countdown_clear(f);
		/* The question itself was just printed with the run's events (unless -q). */
		if (f->app->verbosity < 0)
			fprintf(stderr, "%s: %s\n", info.domain, info.question);
		fprintf(stderr, "%s: answer y or n [y/N] ", info.domain);
		fflush(stderr);
		snprintf(f->asked, sizeof(f->asked), "%s", info.domain);
	}
	if (!f->asked[0])
		return;
	if (poll(&pfd, 1, 0) > 0) {
		struct mx_err err;
		bool yes = fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');

		mx_err_clear(&err);
		if (mx_engine_answer(f->engine, f->asked, yes, &err) && err.msg[0])
			fprintf(stderr, "mxcutover: %s\n", err.msg);
		f->asked[0] = '\0';
		return;
	}
	fds[(*n)++] = STDIN_FILENO;
}

/* MXCUTOVER_ENGINE_BUDGET_MS=N (a debugging aid): how long the engine's units of work took,
 * one line on stderr when the runs end, counting those over N ms. */
static void engine_timing(struct front *f)
{
	const char *env = getenv("MXCUTOVER_ENGINE_BUDGET_MS");
	struct mx_engine_timing t;

	if (!env || !*env)
		return;
	mx_engine_timing(f->engine, &t);
	fprintf(stderr,
	    "mxcutover: engine: %ld units of work, %ld over %d ms, the longest %.1f ms (%s); "
	    "the longest in the journal %.1f ms; calls: %ld on the engine's loop (at most %ld "
	    "at once; %ld to Exchange Online), %ld on workers\n",
	    t.units, t.over, atoi(env) > 0 ? atoi(env) : MX_ENGINE_BUDGET_MS, t.max_ms,
	    t.max_step[0] ? t.max_step : "-", t.max_jnl_ms, t.loop_calls, t.loop_most,
	    t.loop_exo_calls, t.worker_calls);
	fflush(stderr);
}

/* Between two reads of the network while the engine has steps due, at most this long. */
#define IO_EVERY_MS 5.0

/* Drives the engine until every run has stopped or a signal arrives. */
static int drive(struct front *f)
{
	struct mx_loop loop = {f->dns, f->http};
	double polled = mx_mono_ms();
	struct mx_err err;
	time_t wake;
	int rc, status;

	catch_signals();
	mx_err_clear(&err);
	while (!mx_engine_idle(f->engine) && !interrupted) {
		rc = mx_engine_step(f->engine, &wake, &err);
		if (rc == MX_OK && mx_mono_ms() - polled > IO_EVERY_MS) {
			/* A long stretch of due steps (a thousand preflights) must not hold up
			 * the transfers and lookups in flight: their answers are read between
			 * steps, without waiting. */
			int fds[9], n = mx_engine_fds(f->engine, fds, 8);

			mx_loop_once(&loop, fds, n, 0, NULL);
			polled = mx_mono_ms();
		} else if (rc == MX_EAGAIN) {
			int fds[9], n = mx_engine_fds(f->engine, fds, 8);

			ask_pending(f, fds, &n);
			if (!f->asked[0] && !mx_engine_io_pending(f->engine) &&
			    mx_clock_warp_to(&f->clock, wake))
				continue;
			countdown_draw(f);
			/* A countdown is redrawn every second. */
			mx_loop_once(&loop, fds, n,
			    mx_clock_wait_ms(&f->clock, wake, f->countdown ? 1000 : INT_MAX), NULL);
			polled = mx_mono_ms();
		} else if (rc) {
			countdown_clear(f);
			return mx_cli_fail(f->app, &err);
		}
	}
	countdown_clear(f);
	engine_timing(f);
	status = mx_engine_exit_status(f->engine);
	if (interrupted) {
		int busy = mx_engine_calls_in_flight(f->engine);

		if (busy) {
			fprintf(stderr,
			    "mxcutover: %d provider call(s) under way; letting them end before "
			    "stopping (each within its provider's timeout)\n",
			    busy);
			fflush(stderr);
		}
		/* The runs that had ended before the signal keep their own outcome: done, or
		 * stopped for a reason of their own (a refused preflight has nothing to resume). */
		if (status)
			say_why(f);
		for (int i = 0; i < mx_engine_nruns(f->engine); i++) {
			struct mx_run_info info;
			struct front_stop *st;
			char why[600];

			mx_engine_run_info(f->engine, i, &info);
			if (info.stopped)
				continue;
			snprintf(why, sizeof(why),
			    "stopped; %s is safe where it is — continue with `mxcutover resume %s`",
			    info.domain, info.domain);
			mx_cli_reason(MX_EXIT_BLOCKED, "%s", why);
			st = note_stop(
			    &f->stops, &f->nstops, info.domain, MX_EXIT_BLOCKED, false, why);
			if (st)
				st->by_signal = true;
			if (!status)
				status = MX_EXIT_BLOCKED;
		}
	} else if (status) {
		say_why(f);
	}
	if (f->app->json)
		print_runs_json(f);
	return status;
}

static const struct option run_opts[] = {
    {"target-mx", required_argument, NULL, OPT_TARGET},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"file", required_argument, NULL, OPT_FILE},
    {"yes", no_argument, NULL, OPT_YES},
    {"plan", required_argument, NULL, OPT_PLAN},
    {NULL, 0, NULL, 0},
};

static char *read_file(const char *path, struct mx_err *err)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!fp) {
		mx_err_set(err, MX_EINVAL,
		    "--plan %s: %s; give the file `mxcutover plan DOMAIN --format json -o FILE` "
		    "wrote",
		    path, strerror(errno));
		return NULL;
	}
	if (getdelim(&buf, &len, '\0', fp) < 0) {
		free(buf);
		buf = NULL;
		mx_err_set(err, MX_EINVAL,
		    "--plan %s: empty or unreadable; give the file `mxcutover plan DOMAIN --format "
		    "json -o FILE` wrote",
		    path);
	}
	fclose(fp);
	return buf;
}

static int need_person(struct mx_app *app, const char *cmd, bool yes)
{
	if (yes || isatty(STDIN_FILENO))
		return MX_EXIT_OK;
	return mx_cli_usage_error(cmd,
	    "stdin is not a terminal, so nobody can answer at the gates; pass --yes to run "
	    "without prompts");
}

int mx_cmd_run(struct mx_app *app, int argc, char **argv)
{
	const char *target = NULL, *provider = NULL, *file = NULL, *plan_path = NULL;
	char **domains = NULL, **targets = NULL, *plan = NULL, *plan_domain[1] = {NULL}, **pargv;
	json_t *pdoc = NULL;
	size_t n = 0, i = 0;
	int pargc;
	bool yes = false;
	struct front f;
	struct mx_err err;
	int status = MX_EXIT_OK, idx = 0, opt, started = 0;

	memset(&f, 0, sizeof(f));
	mx_err_clear(&err);
	while ((opt = mx_cli_getopt(app, argc, argv, "", run_opts, &idx)) != -1) {
		switch (opt) {
		case 'h':
			mx_cli_help(stdout, "run");
			return MX_EXIT_OK;
		case OPT_TARGET:
			target = optarg;
			break;
		case OPT_PROVIDER:
			provider = optarg;
			break;
		case OPT_FILE:
			file = optarg;
			break;
		case OPT_YES:
			yes = true;
			break;
		case OPT_PLAN:
			plan_path = optarg;
			break;
		default:
			return MX_EXIT_USAGE;
		}
	}
	pargv = argv + idx;
	pargc = argc - idx;
	if (app->json)
		app->msg = stderr;
	/* A reviewed plan is the run: what the command line leaves out (the domain, the target,
	 * the provider) is the plan's; what it names must be the plan's (the engine compares the
	 * domain and, at the snapshot, the target; the provider is compared here). */
	if (plan_path) {
		const char *pp;

		if (!(plan = read_file(plan_path, &err))) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
		pdoc = json_loads(plan, 0, NULL);
		if (!json_is_object(pdoc)) {
			mx_err_set(&err, MX_EINVAL,
			    "--plan %s is not a plan document; write one with `mxcutover plan "
			    "DOMAIN --format json -o FILE`",
			    plan_path);
			status = mx_cli_fail(app, &err);
			goto out;
		}
		pp = json_string_value(json_object_get(pdoc, "provider"));
		if (provider && pp && strcmp(provider, pp)) {
			status = mx_cli_usage_error("run",
			    "--provider %s is not the provider of the reviewed plan %s (%s); drop "
			    "--provider, or make and review a plan through %s",
			    provider, plan_path, pp, provider);
			goto out;
		}
		if (!provider)
			provider = pp;
		if (!file && idx == argc && json_string_value(json_object_get(pdoc, "domain"))) {
			plan_domain[0] = strdup(json_string_value(json_object_get(pdoc, "domain")));
			if (!plan_domain[0]) {
				mx_err_set(&err, MX_ENOMEM, "out of memory");
				status = mx_cli_fail(app, &err);
				goto out;
			}
			pargv = plan_domain;
			pargc = 1;
		}
		if (!target && !file && pargc == 1 &&
		    json_string_value(json_object_get(pdoc, "target")) &&
		    *json_string_value(json_object_get(pdoc, "target")))
			target = json_string_value(json_object_get(pdoc, "target"));
	}
	if (!provider) {
		status = mx_cli_usage_error("run", "--provider NAME is required%s",
		    plan_path ? " (the --plan file names none)" : "");
		goto out;
	}
	if (mx_cli_domains(file, pargv, pargc, target, &domains, &targets, &n, &err)) {
		status = err.rc == MX_EINVAL ? mx_cli_usage_error("run", "%s", err.msg)
					     : mx_cli_fail(app, &err);
		goto out;
	}
	if (n == 0) {
		status = mx_cli_usage_error("run", "name a domain, or --file FILE");
		goto out;
	}
	if (plan_path && n != 1) {
		status = mx_cli_usage_error("run", "--plan applies to one domain");
		goto out;
	}
	status = need_person(app, "run", yes);
	if (status)
		goto out;
	catch_signals();
	if (front_open(&f, app, yes, &err)) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (!mx_cli_provider(app, "run", provider)) {
		status = MX_EXIT_USAGE;
		goto out;
	}
	/* Without [exchange] the target is the person's to give; with it, Exchange assigns it
	 * (the run's exo_provision step) and a given one must be that host. */
	for (i = 0; !f.exo && i < n; i++)
		if (!targets[i]) {
			status = mx_cli_usage_error("run",
			    "%s has no target host; pass --target-mx (the DnssecMxValue) or put it "
			    "after the domain in --file",
			    domains[i]);
			goto out;
		}
	/* With --yes nobody is asked between two starts: the list's runs are journaled in one
	 * transaction, so a kill or a power loss while they start leaves all of them or none
	 * (and one durable write instead of two per domain). */
	if (yes && n > 1 && jnl_batch_begin(f.jnl, &err)) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	for (i = 0; i < n && !interrupted; i++) {
		char q[700];
		sigset_t old;
		int rc;

		if (!yes) {
			bool go;

			snprintf(q, sizeof(q),
			    "Start the cutover of %s to %s through [provider.%s]? (`mxcutover "
			    "plan` "
			    "shows every step first)",
			    domains[i],
			    targets[i] ? targets[i] : "the host Exchange Online assigns", provider);
			go = ask(NULL, domains[i], q);
			if (interrupted) {
				fputc('\n', stderr);
				break;
			}
			if (!go) {
				fprintf(app->msg, "%s: not started\n", domains[i]);
				continue;
			}
		}
		/* One domain's refusal (a lock, an unfinished run) does not stop the others. */
		f.ntried++;
		hold_signals(true, &old);
		rc = mx_engine_start(f.engine, domains[i], targets[i], provider, plan, &err);
		hold_signals(false, &old);
		if (rc) {
			int s = mx_cli_fail(app, &err);

			note_stop(&f.stops, &f.nstops, domains[i], s, true, err.msg);
			if (s > status || s == MX_EXIT_LOCKED)
				status = s;
			continue;
		}
		started++;
	}
	if (jnl_batch_commit(f.jnl, &err)) {
		/* A failed commit may still have landed (a sync that failed after the write): the
		 * same command again is right either way, as a run that changed nothing is
		 * superseded. */
		status = mx_cli_reason(MX_EXIT_RUNTIME,
		    "the start of %d runs could not be recorded (%s); no step ran and nothing was "
		    "changed — fix the state database, then run the same command again",
		    started, err.msg);
		goto out;
	}
	if (started) {
		int s = drive(&f);

		if (s > status && status != MX_EXIT_LOCKED)
			status = s;
	} else if (app->json) {
		print_runs_json(&f);
	}
	if (interrupted && i < n) {
		if (!status)
			status = MX_EXIT_BLOCKED;
		say_not_reached(&f, "run", n - i, n, domains[i]);
	} else {
		say_summary(&f, status);
	}
out:
	front_close(&f);
	json_decref(pdoc);
	free(plan_domain[0]);
	free(plan);
	mx_cli_list_free(domains, targets, n);
	return status;
}

static int resume_or_rollback(struct mx_app *app, int argc, char **argv, bool rollback)
{
	const char *cmd = rollback ? "rollback" : "resume";
	static const struct option opts[] = {
	    {"yes", no_argument, NULL, OPT_YES},
	    {"provider", required_argument, NULL, OPT_PROVIDER},
	    {"file", required_argument, NULL, OPT_FILE},
	    {NULL, 0, NULL, 0},
	};
	const char *provider = NULL, *file = NULL;
	char **names = NULL, **targets = NULL;
	size_t nnames = 0;
	struct jnl_run *runs = NULL;
	size_t nruns = 0;
	size_t reached = 0, unreached = 0, total = 0;
	char first[254] = "";
	bool yes = false;
	struct front f;
	struct mx_err err;
	int status = MX_EXIT_OK, idx = 0, opt, started = 0;

	memset(&f, 0, sizeof(f));
	mx_err_clear(&err);
	while ((opt = mx_cli_getopt(app, argc, argv, "", opts, &idx)) != -1) {
		if (opt == 'h') {
			mx_cli_help(stdout, cmd);
			return MX_EXIT_OK;
		}
		if (opt == OPT_YES)
			yes = true;
		else if (opt == OPT_PROVIDER && !rollback)
			provider = optarg;
		else if (opt == OPT_FILE)
			file = optarg;
		else
			return MX_EXIT_USAGE;
	}
	if (app->json)
		app->msg = stderr;
	if (rollback && idx >= argc && !file)
		return mx_cli_usage_error(cmd, "name the domain to roll back (or --file FILE)");
	/* The domains named and listed (a run's --file list: its target hosts are not needed). */
	if (mx_cli_domains(file, argv + idx, argc - idx, NULL, &names, &targets, &nnames, &err)) {
		status = err.rc == MX_EINVAL ? mx_cli_usage_error(cmd, "%s", err.msg)
					     : mx_cli_fail(app, &err);
		goto out;
	}
	if (provider && nnames != 1) {
		status = mx_cli_usage_error(cmd, "--provider applies to one domain; name it");
		goto out;
	}
	status = need_person(app, cmd, yes);
	if (status)
		goto out;
	catch_signals();
	if (front_open(&f, app, yes, &err)) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (provider && !mx_cli_provider(app, cmd, provider)) {
		status = MX_EXIT_USAGE;
		goto out;
	}
	if (nnames == 1) {
		if (rollback ? mx_engine_rollback(f.engine, names[0], &err)
			     : mx_engine_resume_provider(f.engine, names[0], provider, &err)) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
		started++;
	} else {
		/* The domains named or listed, else every unfinished run's; each on its own: one
		 * that cannot start does not hold up the others. */
		const char **take = NULL;
		size_t ntake = 0;

		if (!nnames && jnl_run_list(f.jnl, &runs, &nruns, &err)) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
		take = calloc(nnames + nruns + 1, sizeof(*take));
		if (!take) {
			mx_err_set(&err, MX_ENOMEM, "out of memory");
			status = mx_cli_fail(app, &err);
			goto out;
		}
		for (size_t i = 0; i < nnames; i++)
			take[ntake++] = names[i];
		for (size_t i = 0; i < nruns; i++) {
			int st = mx_run_state_parse(runs[i].state);

			if (!(st >= 0 && mx_run_state_over((enum mx_run_state)st)))
				take[ntake++] = runs[i].domain;
		}
		for (reached = 0; reached < ntake && !interrupted; reached++) {
			sigset_t old;
			int rc;

			f.ntried++;
			hold_signals(true, &old);
			rc = rollback ? mx_engine_rollback(f.engine, take[reached], &err)
				      : mx_engine_resume(f.engine, take[reached], &err);
			hold_signals(false, &old);
			if (rc) {
				int s = mx_cli_fail(app, &err);

				note_stop(&f.stops, &f.nstops, take[reached], s, true, err.msg);
				if (s > status)
					status = s;
				continue;
			}
			started++;
		}
		if (interrupted && reached < ntake)
			snprintf(first, sizeof(first), "%s", take[reached]);
		unreached = interrupted ? ntake - reached : 0;
		total = ntake;
		free(take);
		if (!ntake && !nnames)
			fprintf(app->msg, "mxcutover: no unfinished runs\n");
	}
	if (started) {
		int s = drive(&f);

		if (s > status)
			status = s;
	} else if (app->json) {
		print_runs_json(&f);
	}
	if (unreached) {
		if (!status)
			status = MX_EXIT_BLOCKED;
		say_not_reached(&f, cmd, unreached, total, first);
	} else {
		say_summary(&f, status);
	}
out:
	for (size_t i = 0; i < nruns; i++)
		jnl_run_clear(&runs[i]);
	free(runs);
	mx_cli_list_free(names, targets, nnames);
	front_close(&f);
	return status;
}

int mx_cmd_resume(struct mx_app *app, int argc, char **argv)
{
	return resume_or_rollback(app, argc, argv, false);
}

int mx_cmd_rollback(struct mx_app *app, int argc, char **argv)
{
	/* rollback --outbound CONNECTOR: the connector modes of outbound --apply. */
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--outbound", 10))
			return mx_cmd_outbound_rollback(app, argc, argv);
	return resume_or_rollback(app, argc, argv, true);
}

/* The title people see for a step key of the journal, forward or rollback; "" when unknown. */
static const char *status_step_title(const char *key)
{
	const struct mx_step_def *d = NULL;

	if (key) {
		d = mx_prog_step(false, mx_prog_find(false, key));
		if (!d)
			d = mx_prog_step(true, mx_prog_find(true, key));
	}
	return d ? d->title : "";
}

static bool status_finished(const struct jnl_run *r)
{
	enum mx_run_state st = mx_run_state_parse(r->state);

	return st == MX_RUN_DONE || st == MX_RUN_ROLLED_BACK || st == MX_RUN_ABANDONED;
}

/* What status knows of one run beyond its row: who holds it and its steps. */
struct status_run {
	struct jnl_lock_info lock;
	struct jnl_step *steps;
	size_t nsteps;
};

static json_t *status_json(const struct jnl_run *r, const struct status_run *x)
{
	json_t *o = run_json(r), *hist = json_array();
	char when[32];

	json_object_set_new(o, "title", json_string(status_step_title(r->step)));
	json_object_set_new(o, "live", json_boolean(x->lock.pid && x->lock.live));
	json_object_set_new(o, "owner",
	    x->lock.pid ? json_pack("{s:I,s:s,s:s,s:b}", "pid", (json_int_t)x->lock.pid, "host",
			      x->lock.host ? x->lock.host : "", "since",
			      mx_time_rfc3339((time_t)x->lock.since, when, sizeof(when)), "live",
			      x->lock.live)
			: json_null());
	for (size_t i = 0; i < x->nsteps; i++) {
		const struct jnl_step *st = &x->steps[i];
		long long at = st->finished_at ? st->finished_at : st->started_at;

		json_array_append_new(
		    hist, json_pack("{s:s,s:s,s:s,s:o}", "step", st->step, "title",
			      status_step_title(st->step), "state", st->state, "at",
			      at ? json_string(mx_time_rfc3339((time_t)at, when, sizeof(when)))
				 : json_null()));
	}
	json_object_set_new(o, "history", hist);
	return o;
}

static void status_text(
    struct mx_app *app, const struct jnl_run *r, const struct status_run *x, bool history)
{
	FILE *fp = app->out;
	char when[32];
	enum mx_run_state rs = mx_run_state_parse(r->state);

	if (rs == MX_RUN_DONE)
		fprintf(
		    fp, "%-28s done          cutover complete: MX is %s\n", r->domain, r->target);
	else if (rs == MX_RUN_ROLLED_BACK)
		fprintf(fp, "%-28s rolled_back   the MX is as it was before the run\n", r->domain);
	else if (rs == MX_RUN_ABANDONED)
		fprintf(fp,
		    "%-28s abandoned     stopped before it wrote anything; a later run "
		    "replaced it\n",
		    r->domain);
	else
		fprintf(fp, "%-28s %-13s %s (%s)\n", r->domain, r->state,
		    status_step_title(r->step), r->step);
	fprintf(fp, "%-28s target %s through [provider.%s]\n", "", r->target, r->provider);
	if (!status_finished(r)) {
		if (x->lock.pid && x->lock.live)
			fprintf(fp, "%-28s live: held by mxcutover pid %lld on %s since %s\n", "",
			    x->lock.pid, x->lock.host ? x->lock.host : "?",
			    mx_time_rfc3339((time_t)x->lock.since, when, sizeof(when)));
		else
			fprintf(fp,
			    "%-28s stopped: no process runs it; continue with `mxcutover resume "
			    "%s`, or undo it with `mxcutover rollback %s`\n",
			    "", r->domain, r->domain);
	}
	if (r->next_at && !status_finished(r))
		fprintf(fp, "%-28s next at %s: %s\n", "",
		    mx_time_rfc3339((time_t)r->next_at, when, sizeof(when)),
		    r->waiting_for ? r->waiting_for : "");
	if (r->error && !status_finished(r))
		fprintf(fp, "%-28s %s\n", "", r->error);
	if (!history)
		return;
	fprintf(fp, "%-28s history:\n", "");
	for (size_t i = 0; i < x->nsteps; i++) {
		const struct jnl_step *st = &x->steps[i];
		long long at = st->finished_at ? st->finished_at : st->started_at;

		fprintf(fp, "%-28s   %-20s %-8s %-16s %s\n", "",
		    at ? mx_time_rfc3339((time_t)at, when, sizeof(when)) : "", st->state, st->step,
		    status_step_title(st->step));
	}
}

int mx_cmd_status(struct mx_app *app, int argc, char **argv)
{
	char norm[MX_NAME_MAX + 1];
	struct jnl_run *runs = NULL;
	struct jnl *j = NULL;
	size_t n = 0, shown = 0, by_state[MX_RUN_STATE_COUNT + 1] = {0}, idle = 0;
	struct mx_err err;
	json_t *doc = NULL, *arr;
	int status = MX_EXIT_OK, idx = 0, opt, st;

	mx_err_clear(&err);
	while ((opt = mx_cli_getopt(app, argc, argv, "", NULL, &idx)) != -1) {
		if (opt == 'h') {
			mx_cli_help(stdout, "status");
			return MX_EXIT_OK;
		}
		return MX_EXIT_USAGE;
	}
	if (idx + 1 < argc)
		return mx_cli_usage_error("status", "name at most one domain");
	if (idx < argc && mx_domain_normalize(argv[idx], "domain", norm, sizeof(norm), &err))
		return mx_cli_usage_error("status", "%s", err.msg);
	/* status needs no settings, but a config named with --config that is missing or broken
	 * is a mistake to say, as every other command does. */
	if (app->config_given && mx_cli_load_config(app, &err))
		return mx_cli_usage_error("status", "%s", err.msg);
	/* Looking creates nothing: without a database there are no runs. */
	if (jnl_open_ro(app->state_path, &j, &err) || (j && jnl_run_list(j, &runs, &n, &err))) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	doc = json_object();
	arr = json_array();
	json_object_set_new(doc, "runs", arr);
	for (size_t i = 0; i < n; i++) {
		struct jnl_run *r = &runs[i];
		struct status_run x;

		if (idx < argc && strcmp(r->domain, norm))
			continue;
		memset(&x, 0, sizeof(x));
		if (jnl_lock_get(j, r->domain, &x.lock, &err) ||
		    jnl_step_list(j, r->id, &x.steps, &x.nsteps, &err)) {
			jnl_lock_info_clear(&x.lock);
			status = mx_cli_fail(app, &err);
			goto out;
		}
		json_array_append_new(arr, status_json(r, &x));
		st = mx_run_state_parse(r->state);
		by_state[st < 0 ? MX_RUN_STATE_COUNT : st]++;
		if (!status_finished(r) && !(x.lock.pid && x.lock.live))
			idle++;
		if (!app->json)
			/* The history of one named domain, or of every run with -v. */
			status_text(app, r, &x, idx < argc || app->verbosity > 0);
		shown++;
		jnl_lock_info_clear(&x.lock);
		jnl_step_list_free(x.steps, x.nsteps);
	}
	if (app->json) {
		json_dumpf(doc, app->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', app->out);
	} else if (shown > 1) {
		/* Many runs at a glance: "1000 runs: 990 done, 8 waiting, 2 failed (3 with no
		 * process: `mxcutover resume` continues them)". */
		const char *sep = ":";

		fprintf(app->out, "%zu runs", shown);
		for (int k = 0; k <= MX_RUN_STATE_COUNT; k++) {
			if (!by_state[k])
				continue;
			fprintf(app->out, "%s %zu %s", sep, by_state[k],
			    k < MX_RUN_STATE_COUNT ? mx_run_state_name((enum mx_run_state)k)
						   : "unknown");
			sep = ",";
		}
		if (idle)
			fprintf(app->out, " (%zu with no process: `mxcutover resume` continues %s)",
			    idle, idle > 1 ? "them" : "it");
		fputc('\n', app->out);
	} else if (!shown) {
		if (idx < argc)
			fprintf(app->out, "%s has no run\n", norm);
		else
			fprintf(app->out, "no runs%s%s\n",
			    j ? "" : ": there is no state database at ", j ? "" : app->state_path);
	}
out:
	json_decref(doc);
	for (size_t i = 0; i < n; i++)
		jnl_run_clear(&runs[i]);
	free(runs);
	jnl_close(j);
	return status;
}
