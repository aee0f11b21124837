/* SPDX-License-Identifier: MIT */
/* src/cmd_check.c — `mxcutover check`: readable verdicts per domain, or the contract JSON. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "domain.h"
#include "exo.h"
#include "loop.h"
#include "provider.h"
#include "workers.h"

/* provider.access reads under way at once (check --provider; fibers on the loop:
 * src/workers.h) */
#define CHECK_PROVIDER_CALLS 8

struct prov_env {
	const struct mx_conf *conf;
	const char *name;
	struct dns_ctx *dns;
	struct http_ctx *http;
};

/* provider.access: the adapter reads the zone's MX RRset as it holds it, then proves what it
 * can of write permission without changing the zone (the adapter's check_access). */
static int read_mx(void *arg, struct mx_worker *w, const char *domain, json_t **values,
    struct chk_provider_proof *proof, struct mx_err *err)
{
	struct prov_env *env = arg;
	struct dns_ctx *dns = env->dns;
	struct http_ctx *http = env->http;
	struct prov_access acc;
	struct mx_rrset set;
	struct prov *p = NULL;
	int rc;

	memset(&set, 0, sizeof(set));
	memset(&acc, 0, sizeof(acc));
	/* In a fiber of the pool: the loop's own contexts, which its requests yield on. */
	if (w && (!(dns = mx_worker_dns(w, err)) || !(http = mx_worker_http(w, err))))
		return err->rc ? err->rc : MX_EIO;
	rc = prov_open(env->conf, env->name, domain, dns, http, &p, err);
	if (!rc)
		rc = p->ops->read_rrset(p, domain, DNS_T_MX, &set, err);
	if (!rc && p->ops->check_access)
		rc = p->ops->check_access(p, &acc, err);
	else if (!rc)
		snprintf(acc.unproved, sizeof(acc.unproved),
		    "the %s adapter has no way to test write permission without a change",
		    p->ops->name);
	if (!rc) {
		snprintf(proof->proved, sizeof(proof->proved), "%s", acc.proved);
		snprintf(proof->unproved, sizeof(proof->unproved), "%s", acc.unproved);
		*values = json_array();
		for (size_t i = 0; i < set.n; i++)
			json_array_append_new(*values, json_string(set.values[i]));
	}
	prov_rrset_clear(&set);
	prov_close(p);
	return rc;
}

/* [exchange]: the verdicts of exchange.access and exchange.dnssec, learnt before the DNS
 * checks start (they name the target), handed to the checks by exo_result. */
struct exo_env {
	const char *const *domains;
	struct exo_verdict *verdicts;
	size_t n;
};

/* One domain's Exchange checks (exo_check_domain, which changes nothing in the tenant), a call
 * of a pool of fibers with an admin API context of its own (mx_worker_exo) on the check's
 * HTTP context. filled: *v holds the verdicts. */
struct exo_call {
	const char *domain;
	struct exo_verdict *v;
	bool filled;
};

static void exo_call_run(struct mx_worker *w, void *arg)
{
	struct exo_call *x = arg;
	struct mx_err err;

	mx_err_clear(&err);
	x->filled = mx_worker_exo_check(w, x->domain, x->v, &err);
}

/* The Exchange checks of every domain, at most CHECK_EXO_CALLS at once (Exchange answers in
 * a few hundred milliseconds a call, two calls a domain: a tenant of 500 domains one after
 * another takes minutes), each domain's verdicts in verdicts[i]. A domain whose call could
 * not run (no admin API context) is checked through exo afterwards, as before. */
#define CHECK_EXO_CALLS 8

static int exo_checks(const struct mx_app *app, struct exo_ctx *exo, struct http_ctx *http,
    struct dns_ctx *dns, char **domains, size_t n, struct exo_verdict *verdicts, struct mx_err *err)
{
	struct exo_call *calls = calloc(n ? n : 1, sizeof(*calls));
	struct mx_work **work = calloc(n ? n : 1, sizeof(*work));
	struct mx_workers *pool = NULL;
	size_t left = 0;
	int rc = MX_OK;

	if (!calls || !work)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	if (!rc)
		rc = mx_workers_new_fibers(&pool, CHECK_EXO_CALLS, app->conf, http, dns, err);
	for (size_t i = 0; !rc && i < n; i++) {
		calls[i] = (struct exo_call){domains[i], &verdicts[i], false};
		if (!(work[i] = mx_work_start(pool, NULL, exo_call_run, &calls[i], NULL, err)))
			rc = err->rc ? err->rc : MX_ENOMEM;
		else
			left++;
	}
	while (!rc && left) {
		struct mx_loop loop = {dns, http};
		int fd = mx_workers_fd(pool);

		rc = mx_loop_once(&loop, &fd, 1, 1000, err);
		mx_workers_drain(pool);
		left = 0;
		for (size_t i = 0; i < n; i++)
			left += work[i] && !mx_work_done(pool, work[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (work[i] && mx_work_abandon(pool, work[i]))
			work[i] = NULL; /* still running (an error above): the pool stops it */
	mx_workers_free(pool);
	for (size_t i = 0; !rc && i < n; i++)
		if (!calls[i].filled) {
			exo_verdict_clear(&verdicts[i]);
			exo_check_domain(exo, domains[i], &verdicts[i], err);
		}
	free(calls);
	free(work);
	return rc;
}

static void exo_result(
    void *arg, const char *domain, struct chk_result *access, struct chk_result *dnssec)
{
	struct exo_env *env = arg;

	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->domains[i], domain))
			continue;
		*access = env->verdicts[i].access;
		*dnssec = env->verdicts[i].dnssec;
		json_incref(access->detail);
		json_incref(dnssec->detail);
		return;
	}
}

/* The tenant's accepted domains (--tenant) as the domain list; *.onmicrosoft.com ones are
 * left out (the new endpoint does not apply to them). */
static int tenant_domains(struct mx_app *app, struct exo_ctx *x, char ***domains, char ***targets,
    size_t *n, struct mx_err *err)
{
	struct exo_domain *list = NULL;
	size_t count = 0, skipped = 0;
	int rc = exo_accepted_domains(x, &list, &count, err);

	if (rc)
		return rc;
	*domains = calloc(count + 1, sizeof(char *));
	*targets = calloc(count + 1, sizeof(char *));
	if (!*domains || !*targets) {
		free(list);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < count; i++) {
		if (!list[i].supported) {
			skipped++;
			continue;
		}
		if (!((*domains)[*n] = strdup(list[i].name))) {
			free(list);
			return mx_err_set(err, MX_ENOMEM, "out of memory");
		}
		(*n)++;
	}
	if (skipped && app->verbosity >= 0)
		fprintf(stderr,
		    "mxcutover check: tenant %s: %zu accepted domain%s checked, %zu "
		    "*.onmicrosoft.com "
		    "domain%s left out (they keep their Microsoft-managed MX)\n",
		    exo_tenant(x), *n, *n == 1 ? "" : "s", skipped, skipped == 1 ? "" : "s");
	free(list);
	return MX_OK;
}

enum { OPT_TARGET = 256, OPT_PROVIDER, OPT_FILE, OPT_TENANT };

static const struct option check_opts[] = {
    {"target-mx", required_argument, NULL, OPT_TARGET},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"file", required_argument, NULL, OPT_FILE},
    {"tenant", no_argument, NULL, OPT_TENANT},
    {NULL, 0, NULL, 0},
};

static const char *status_tag(const struct mx_app *app, enum chk_status s)
{
	static const char *const plain[] = {"PASS", "WARN", "FAIL", "skip"};
	static const char *const color[] = {"\033[32mPASS\033[0m", "\033[33mWARN\033[0m",
	    "\033[1;31mFAIL\033[0m", "\033[2mskip\033[0m"};

	return app->color ? color[s] : plain[s];
}

static void print_text(const struct mx_app *app, const struct chk_domain *d)
{
	const struct chk_verdict_info *v = &d->verdict;
	FILE *fp = app->msg;
	const char *word = v->v == CHK_V_READY ? "ready"
			   : v->runnable       ? "ready to run"
					       : "NOT READY";
	bool ok = v->v == CHK_V_READY || v->runnable;

	/* An already migrated domain has nothing to move: the verdict alone, unless something
	 * still fails (or -v asks for every check). */
	if (v->v == CHK_V_MIGRATED) {
		fprintf(fp, "%s%s%s  %s\n", app->color ? "\033[1m" : "", d->domain,
		    app->color ? "\033[0m" : "", v->text);
		if (!v->nroots && app->verbosity <= 0) {
			fputc('\n', fp);
			return;
		}
	} else if (app->color)
		fprintf(fp, "\033[1m%s\033[0m  %s%s\033[0m\n", d->domain,
		    ok ? "\033[32m" : "\033[1;31m", word);
	else
		fprintf(fp, "%s  %s\n", d->domain, word);
	if (d->target[0])
		fprintf(fp, "  target %s\n", d->target);
	for (int i = 0; i < CHK_COUNT; i++) {
		const struct chk_result *r = &d->res[i];

		if (!r->present)
			continue;
		if ((app->verbosity < 0 || (v->v == CHK_V_MIGRATED && app->verbosity <= 0)) &&
		    r->status != CHK_FAIL)
			continue;
		fprintf(
		    fp, "  %s  %-22s %s\n", status_tag(app, r->status), chk_id_name(i), r->summary);
		if (app->verbosity > 0 && r->detail) {
			char *js = json_dumps(r->detail, JSON_COMPACT | JSON_SORT_KEYS);

			if (js)
				fprintf(fp, "        %s\n", js);
			free(js);
		}
	}
	if (v->v != CHK_V_MIGRATED)
		fprintf(fp, "  verdict: %s\n", v->text);
	fputc('\n', fp);
}

/* Output of a check in progress: each domain is written as soon as it is complete, and the
 * progress line on a terminal is redrawn in place around it. */
struct stream {
	struct mx_app *app;
	size_t total, done, not_ready;
	char first_not_ready[3][254]; /* named in the final stderr line */
	bool json_first;	      /* no domain object written yet */
	bool progress;		      /* draw the progress line on stderr */
	bool drawn;		      /* the progress line is on screen */
	double t0, last_draw;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_erase(struct stream *st)
{
	if (!st->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	st->drawn = false;
}

/* "checked 1200/10000 (12%)  310/s  ETA 0:28  not ready: 3", at most ten times a second. */
static void progress_draw(struct stream *st)
{
	double t = now_s(), secs = t - st->t0, rate;
	char eta[32] = "…", line[160];

	if (!st->progress || (st->drawn && t - st->last_draw < 0.1))
		return;
	rate = secs > 0 ? (double)st->done / secs : 0;
	if (rate > 0 && st->done > 0) {
		long left = (long)((double)(st->total - st->done) / rate + 0.5);

		snprintf(eta, sizeof(eta), "%ld:%02ld", left / 60, left % 60);
	}
	snprintf(line, sizeof(line), "checked %zu/%zu (%zu%%)  %.0f/s  ETA %s  not ready: %zu",
	    st->done, st->total, st->total ? st->done * 100 / st->total : 0, rate, eta,
	    st->not_ready);
	/* One row, whatever the width: a line that wrapped could not be redrawn in place. */
	mx_cli_fit(line, STDERR_FILENO);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	st->drawn = true;
	st->last_draw = t;
}

static void on_domain(void *arg, struct chk_domain *d)
{
	struct stream *st = arg;
	struct mx_app *app = st->app;

	st->done++;
	if (!d->ready) {
		if (st->not_ready < 3)
			snprintf(st->first_not_ready[st->not_ready], sizeof(st->first_not_ready[0]),
			    "%s", d->domain);
		st->not_ready++;
	}
	progress_erase(st);
	if (app->json) {
		json_t *o = chk_domain_json(d);

		fputs(st->json_first ? "\n  " : ",\n  ", app->out);
		st->json_first = false;
		if (o)
			json_dumpf(o, app->out, JSON_INDENT(0) | JSON_ENSURE_ASCII);
		json_decref(o);
		fflush(app->out);
	} else if (!(app->verbosity < 0 && d->ready)) {
		/* -q: only what is wrong */
		print_text(app, d);
		fflush(app->msg);
	}
}

int mx_cmd_check(struct mx_app *app, int argc, char **argv)
{
	const char *target = NULL, *provider = NULL, *file = NULL;
	char **domains = NULL, **targets = NULL;
	size_t n = 0;
	struct chk_opts o;
	struct chk_job *job = NULL;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct prov_env penv;
	struct mx_workers *pool = NULL;
	struct exo_ctx *exo = NULL;
	struct exo_verdict *verdicts = NULL;
	struct exo_env xenv;
	struct stream st;
	struct sigaction sa, old_int, old_term;
	struct mx_err err;
	bool tenant = false, json_open = false, signals = false;
	int status = MX_EXIT_OK, idx = 0, opt, rc;

	mx_err_clear(&err);
	memset(&st, 0, sizeof(st));
	while ((opt = mx_cli_getopt(app, argc, argv, "", check_opts, &idx)) != -1) {
		switch (opt) {
		case 'h':
			mx_cli_help(stdout, "check");
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
		case OPT_TENANT:
			tenant = true;
			break;
		default:
			return MX_EXIT_USAGE;
		}
	}
	if (app->json)
		app->msg = stderr;
	if (tenant && (file || target || idx < argc))
		return mx_cli_usage_error("check",
		    "--tenant checks every accepted domain of the [exchange] tenant; name no "
		    "domains, --file or --target-mx with it");
	if (!tenant)
		rc = mx_cli_domains(
		    file, argv + idx, argc - idx, target, &domains, &targets, &n, &err);
	else
		rc = MX_OK;
	if (rc) {
		status = rc == MX_EINVAL ? mx_cli_usage_error("check", "%s", err.msg)
					 : mx_cli_fail(app, &err);
		goto out;
	}
	if (n == 0 && !tenant) {
		status = mx_cli_usage_error("check", "name at least one domain, or --file FILE");
		goto out;
	}
	rc = mx_cli_load_config(app, &err);
	if (!rc && tenant && !exo_configured(app->conf)) {
		status = mx_cli_usage_error("check",
		    "--tenant needs an [exchange] section in the config (see docs/exchange.md)");
		goto out;
	}
	if (!rc && provider && !mx_cli_provider(app, "check", provider)) {
		status = MX_EXIT_USAGE;
		goto out;
	}
	if (!rc)
		rc = dns_ctx_new(&dns, app->resolver_conf, &err);
	/* A batch: more lookups out for far servers; a moment's wait at a busy resolver
	 * thread holds up nothing else (src/dns.h). */
	if (!rc)
		dns_set_inflight(dns, DNS_INFLIGHT_BATCH);
	if (!rc)
		rc = http_ctx_new(&http, app->cacert, &err);
	if (!rc && exo_configured(app->conf))
		rc = exo_open(app->conf, http, &exo, &err);
	if (!rc && tenant)
		rc = tenant_domains(app, exo, &domains, &targets, &n, &err);
	if (rc) {
		status = rc == MX_EINVAL && !tenant ? mx_cli_usage_error("check", "%s", err.msg)
						    : mx_cli_fail(app, &err);
		goto out;
	}
	if (tenant && n == 0) {
		mx_err_set(&err, MX_EINVAL,
		    "tenant %s has no accepted domain to check besides *.onmicrosoft.com",
		    exo_tenant(exo));
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (exo) {
		/* The target comes from Exchange; a given one must be the same host. */
		verdicts = calloc(n, sizeof(*verdicts));
		if (!verdicts) {
			status = mx_cli_reason(MX_EXIT_RUNTIME, "out of memory");
			goto out;
		}
		if (exo_checks(app, exo, http, dns, domains, n, verdicts, &err)) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			if (!verdicts[i].target[0])
				continue;
			if (targets[i] && strcmp(targets[i], verdicts[i].target)) {
				status = mx_cli_usage_error("check",
				    "the target %s given for %s differs from %s, the host Exchange "
				    "Online assigned (DnssecMxValue); drop the given target or "
				    "correct "
				    "it",
				    targets[i], domains[i], verdicts[i].target);
				goto out;
			}
			free(targets[i]);
			if (!(targets[i] = strdup(verdicts[i].target))) {
				status = mx_cli_reason(MX_EXIT_RUNTIME, "out of memory");
				goto out;
			}
		}
	}
	memset(&o, 0, sizeof(o));
	o.conf = app->conf;
	o.dns = dns;
	o.http = http;
	o.on_done = on_domain;
	o.done_arg = &st;
	o.resolver_conf = app->resolver_conf;
	if (provider) {
		penv = (struct prov_env){app->conf, provider, dns, http};
		o.provider_name = provider;
		o.provider_read = read_mx;
		o.provider_arg = &penv;
		/* The domains' provider reads overlap, each in a fiber on this loop: with a
		 * provider API 100 ms away, 1000 domains one after another would take minutes. */
		if (mx_workers_new_fibers(
			&pool, CHECK_PROVIDER_CALLS, app->conf, http, dns, &err)) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
		o.pool = pool;
	}
	if (exo) {
		xenv = (struct exo_env){(const char *const *)domains, verdicts, n};
		o.exchange = exo_result;
		o.exchange_arg = &xenv;
	}
	st.app = app;
	st.total = n;
	st.json_first = true;
	st.t0 = now_s();
	/* Progress is for a person watching a terminal: not with -q, not into a file, and not
	 * when the JSON document goes to a program. */
	st.progress = n > 1 && app->verbosity >= 0 && isatty(STDERR_FILENO) &&
		      !(app->json && !isatty(STDOUT_FILENO));
	/* No domain is blamed for a machine that cannot resolve. */
	if (n && (rc = chk_probe_dns(&o, &err))) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	/* Ctrl-C stops the checks; what is complete has been written, and the JSON is closed. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signals = true;
	if (app->json) {
		fputs("{\"domains\": [", app->out);
		json_open = true;
	}
	rc = chk_start(
	    &o, (const char *const *)domains, (const char *const *)targets, n, NULL, &job, &err);
	while (!rc && !interrupted && !chk_advance(job)) {
		struct mx_loop loop = {dns, http};
		int fds[2], nfd = 0;

		if (chk_fd(job) >= 0)
			fds[nfd++] = chk_fd(job);
		if (pool)
			fds[nfd++] = mx_workers_fd(pool);
		rc = mx_loop_once(&loop, nfd ? fds : NULL, nfd, chk_timeout_ms(job), &err);
		progress_draw(&st);
	}
	/* The job goes before the contexts: its unfinished domains hold their queries. */
	if (!rc && !interrupted)
		rc = chk_finish(job, &err);
	else
		chk_finish(job, NULL);
	job = NULL;
	progress_erase(&st);
	if (json_open) {
		fputs(st.json_first ? "]}\n" : "\n]}\n", app->out);
		fflush(app->out);
	}
	if (interrupted) {
		status = mx_cli_reason(MX_EXIT_BLOCKED,
		    "check interrupted after %zu of %zu domains (%zu not ready); the finished ones "
		    "are printed above — run check again for the rest",
		    st.done, st.total, st.not_ready);
		goto out;
	}
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (!app->json && n > 1 && app->verbosity >= 0)
		fprintf(app->msg, "%zu domains: %zu ready, %zu not ready (%.1f s)\n", n,
		    n - st.not_ready, st.not_ready, now_s() - st.t0);
	if (st.not_ready) {
		fflush(app->msg);
		mx_cli_reason(MX_EXIT_BLOCKED,
		    "%zu of %zu domain%s not ready (%s%s%s%s%s%s); fix the failing checks and "
		    "check again",
		    st.not_ready, n, n == 1 ? " is" : "s are", st.first_not_ready[0],
		    st.not_ready > 1 ? ", " : "", st.not_ready > 1 ? st.first_not_ready[1] : "",
		    st.not_ready > 2 ? ", " : "", st.not_ready > 2 ? st.first_not_ready[2] : "",
		    st.not_ready > 3 ? ", …" : "");
		status = MX_EXIT_BLOCKED;
	}
out:
	if (signals) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	for (size_t i = 0; verdicts && i < n; i++)
		exo_verdict_clear(&verdicts[i]);
	free(verdicts);
	/* After the job (chk_finish), before the contexts and penv its threads borrow: a read
	 * under way ends within its timeouts. */
	mx_workers_free(pool);
	exo_close(exo);
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_cli_list_free(domains, targets, n);
	return status;
}
