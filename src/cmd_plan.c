/* SPDX-License-Identifier: MIT */
/* src/cmd_plan.c — `mxcutover plan`: a dry run. Reads live state (checks, the provider's
 * RRsets), writes nothing to DNS, starts no run, and renders the plan for a change board. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "domain.h"
#include "exo.h"
#include "loop.h"
#include "plan.h"
#include "provider.h"
#include "workers.h"

enum { OPT_TARGET = 256, OPT_PROVIDER, OPT_FORMAT };

static const struct option plan_opts[] = {
    {"target-mx", required_argument, NULL, OPT_TARGET},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* What plan asks of Exchange Online and of the provider. Each ask is a call in a fiber on the
 * plan's own loop (a pool of one, mx_workers_new_fibers): a request yields until the loop has
 * its answer and a pause before a retry is a deadline, so Ctrl-C stops a read under way at
 * once (the transfer in flight is dropped) instead of after the provider's timeout. */
struct plan_reads {
	const char *domain;
	struct exo_ctx *exo;
	struct exo_verdict xv;
	struct prov *prov;
	struct mx_rrset mx, sts;
	int rc;
	struct mx_err err;
};

static void read_exchange(struct mx_worker *w, void *arg)
{
	struct plan_reads *r = arg;

	(void)w;
	exo_check_domain(r->exo, r->domain, &r->xv, &r->err);
	mx_err_clear(&r->err);
}

static void read_provider(struct mx_worker *w, void *arg)
{
	struct plan_reads *r = arg;
	char name[300];

	(void)w;
	r->rc = r->prov->ops->read_rrset(r->prov, r->domain, DNS_T_MX, &r->mx, &r->err);
	snprintf(name, sizeof(name), "_mta-sts.%s", r->domain);
	if (!r->rc)
		r->rc = r->prov->ops->read_rrset(r->prov, name, DNS_T_TXT, &r->sts, &r->err);
}

/* Runs fn in the pool and drives the loop until it has ended (MX_OK) or a signal came
 * (MX_EAGAIN: the call is let go of, and mx_workers_free stops it). */
static int in_fiber(struct mx_workers *pool, struct dns_ctx *dns, struct http_ctx *http,
    mx_work_fn *fn, struct plan_reads *r, struct mx_err *err)
{
	struct mx_loop loop = {dns, http};
	struct mx_work *w = mx_work_start(pool, NULL, fn, r, NULL, err);
	int rc = w ? MX_OK : (err->rc ? err->rc : MX_ENOMEM);

	while (!rc && !interrupted && !mx_work_done(pool, w)) {
		int fd = mx_workers_fd(pool);

		rc = mx_loop_once(&loop, &fd, 1, 1000, err);
		mx_workers_drain(pool);
	}
	if (!rc && interrupted)
		rc = MX_EAGAIN;
	if (w && !rc)
		mx_work_end(pool, w);
	else if (w)
		mx_work_abandon(pool, w);
	return rc;
}

/* Writes through a temporary file renamed into place: a plan file is whole or absent. */
static int write_plan(
    json_t *plan, enum mx_plan_format fmt, const char *server, const char *path, struct mx_err *err)
{
	char *tmp = NULL;
	FILE *fp;
	int rc;

	struct stat sb;
	size_t len = path ? strlen(path) : 0;

	if (!path)
		return mx_plan_render(plan, fmt, server, stdout, err);
	/* A folder (existing, or named with a trailing slash): one file per step. */
	if ((len && path[len - 1] == '/') || (!stat(path, &sb) && S_ISDIR(sb.st_mode))) {
		if (fmt != PLAN_NSUPDATE)
			return mx_err_set(err, MX_EINVAL,
			    "-o %s is a folder; one file per step is the nsupdate format's "
			    "(--format nsupdate), other formats take a file name",
			    path);
		return mx_plan_render_dir(plan, server, path, err);
	}
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	fp = fopen(tmp, "w");
	if (!fp) {
		rc = mx_err_set(err, MX_EIO, "-o %s: %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	rc = mx_plan_render(plan, fmt, server, fp, err);
	if (fclose(fp) && !rc)
		rc = mx_err_set(err, MX_EIO, "-o %s: %s", path, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = mx_err_set(err, MX_EIO, "-o %s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int mx_cmd_plan(struct mx_app *app, int argc, char **argv)
{
	const char *target_arg = NULL, *provider = NULL, *output = NULL, *domain_arg = NULL;
	char domain[MX_NAME_MAX + 1], target[MX_NAME_MAX + 1];
	const char *domains[1], *targets[1];
	enum mx_plan_format fmt = PLAN_TEXT;
	const char *fmt_name = NULL; /* --format as given */
	const struct mx_conf_section *sec;
	struct chk_domain res;
	struct chk_opts o;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct exo_ctx *exo = NULL;
	struct mx_workers *pool = NULL;
	struct plan_reads r;
	struct sigaction sa, old_int, old_term;
	bool signals = false;
	struct mx_plan_in in;
	json_t *plan = NULL, *blockers = json_array();
	struct mx_err err;
	int status = MX_EXIT_OK, idx = 0, opt, rc, f;

	mx_err_clear(&err);
	memset(&res, 0, sizeof(res));
	memset(&r, 0, sizeof(r));
	while ((opt = mx_cli_getopt(app, argc, argv, "o:", plan_opts, &idx)) != -1) {
		switch (opt) {
		case 'h':
			mx_cli_help(stdout, "plan");
			status = MX_EXIT_OK;
			goto out;
		case OPT_TARGET:
			target_arg = optarg;
			break;
		case OPT_PROVIDER:
			provider = optarg;
			break;
		case OPT_FORMAT:
			f = mx_plan_format_parse(optarg);
			if (f < 0) {
				status = mx_cli_usage_error("plan",
				    "unknown --format \"%s\"; use text, json, markdown, nsupdate "
				    "or "
				    "powershell",
				    optarg);
				goto out;
			}
			fmt = (enum mx_plan_format)f;
			fmt_name = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			status = MX_EXIT_USAGE;
			goto out;
		}
	}
	if (app->json)
		app->msg = stderr;
	/* --json: the plan document on stdout, as --format json; with -o the file may take
	 * another format while stdout still gets the document. */
	if (app->json && !fmt_name)
		fmt = PLAN_JSON;
	if (app->json && fmt != PLAN_JSON && !output) {
		status = mx_cli_usage_error("plan",
		    "--json prints the plan document, not --format %s; drop one of them, or "
		    "write the %s with -o FILE",
		    fmt_name, fmt_name);
		goto out;
	}
	if (idx < argc)
		domain_arg = argv[idx];
	if (!domain_arg || idx + 1 < argc) {
		status = mx_cli_usage_error("plan", "name exactly one domain");
		goto out;
	}
	if (!provider) {
		status = mx_cli_usage_error("plan", "--provider NAME is required");
		goto out;
	}
	target[0] = '\0';
	if (mx_domain_normalize(domain_arg, "domain", domain, sizeof(domain), &err) ||
	    (target_arg &&
		mx_domain_normalize(target_arg, "--target-mx", target, sizeof(target), &err))) {
		status = mx_cli_usage_error("plan", "%s", err.msg);
		goto out;
	}
	rc = mx_cli_load_config(app, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (!target_arg && !exo_configured(app->conf)) {
		status = mx_cli_usage_error("plan", "--target-mx HOST (the DnssecMxValue) is "
						    "required without an [exchange] section");
		goto out;
	}
	sec = mx_cli_provider(app, "plan", provider);
	if (!sec) {
		status = MX_EXIT_USAGE;
		goto out;
	}
	rc = dns_ctx_new(&dns, app->resolver_conf, &err);
	if (!rc)
		rc = http_ctx_new(&http, app->cacert, &err);
	if (!rc)
		rc = mx_workers_new_fibers(&pool, 1, app->conf, http, dns, &err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signals = true;
	r.domain = domain;
	/* [exchange]: the target is the host Exchange assigned; plan never changes the tenant,
	 * so an endpoint not provisioned yet has no host to plan with. */
	if (!rc && exo_configured(app->conf)) {
		rc = exo_open(app->conf, http, &exo, &err);
		r.exo = exo;
		if (!rc)
			rc = in_fiber(pool, dns, http, read_exchange, &r, &err);
		if (!rc) {
			struct exo_verdict *xv = &r.xv;

			if (xv->access.status == CHK_FAIL) {
				status = mx_cli_domain_reason(
				    MX_EXIT_RUNTIME, domain, xv->access.summary);
				goto out;
			}
			if (!xv->target[0]) {
				status = mx_cli_domain_reason(MX_EXIT_BLOCKED, domain,
				    "Exchange Online has not provisioned the DNSSEC endpoint yet, "
				    "so the "
				    "new MX host is unknown; `mxcutover run` provisions it first "
				    "(Enable-DnssecForVerifiedDomain), or run that cmdlet, then "
				    "plan "
				    "again");
				goto out;
			}
			if (target[0] && strcasecmp(target, xv->target)) {
				status = mx_cli_usage_error("plan",
				    "the target %s differs from %s, the host Exchange Online "
				    "assigned "
				    "to %s (DnssecMxValue); drop --target-mx or correct it",
				    target, xv->target, domain);
				goto out;
			}
			snprintf(target, sizeof(target), "%s", xv->target);
		}
	}
	if (!rc)
		rc = prov_open(app->conf, provider, domain, dns, http, &r.prov, &err);
	if (!rc)
		rc = in_fiber(pool, dns, http, read_provider, &r, &err);
	if (!rc && r.rc) {
		rc = r.rc;
		err = r.err;
	}
	if (rc == MX_EAGAIN && interrupted) {
		status = mx_cli_reason(MX_EXIT_BLOCKED,
		    "plan of %s interrupted; nothing was changed — run plan again", domain);
		goto out;
	}
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (r.mx.n == 0) {
		mx_err_set(
		    &err, MX_EINVAL, "%s has no MX RRset at %s; nothing to move", domain, provider);
		status = mx_cli_fail(app, &err);
		goto out;
	}
	/* The same checks as `check`, for the observed TTLs, the policy and the blockers. */
	memset(&o, 0, sizeof(o));
	o.conf = app->conf;
	o.dns = dns;
	o.http = http;
	domains[0] = domain;
	targets[0] = target;
	o.stop = &interrupted;
	rc = chk_run(&o, domains, targets, 1, &res, &err);
	if (rc == MX_EAGAIN && interrupted) {
		status = mx_cli_reason(MX_EXIT_BLOCKED,
		    "plan of %s interrupted; nothing was changed — run plan again", domain);
		goto out;
	}
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	/* The one readiness verdict (src/check.c) decides, as it does for check and run. */
	if (res.verdict.v == CHK_V_MIGRATED) {
		/* --json still prints one document: nothing to plan, and why. */
		if (app->json) {
			json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:[],s:[]}", "version", 2,
			    "domain", domain, "verdict", chk_verdict_name(res.verdict.v),
			    "verdict_text", res.verdict.text, "steps", "rollback");

			if (doc)
				mx_plan_render(doc, PLAN_JSON, NULL, app->out, &err);
			json_decref(doc);
		}
		status = mx_cli_domain_reason(MX_EXIT_BLOCKED, domain, res.verdict.text);
		goto out;
	}
	for (int i = 0; !res.verdict.runnable && i < res.verdict.nroots; i++) {
		enum chk_id id = res.verdict.roots[i];

		json_array_append_new(
		    blockers, json_sprintf("%s: %s", chk_id_name(id), res.res[id].summary));
	}
	memset(&in, 0, sizeof(in));
	in.conf = app->conf;
	in.domain = domain;
	in.target = target;
	in.provider = provider;
	in.provider_type = r.prov->ops->name;
	in.provider_min_ttl = r.prov->ops->min_ttl;
	in.mx = &r.mx;
	in.sts_txt = &r.sts;
	in.observed_ttl = res.facts.mx_ttl_max;
	in.policy = mx_plan_policy_now(&res.facts);
	in.blockers = blockers;
	in.now = time(NULL);
	in.exchange = exo != NULL;
	rc = mx_plan_build(&in, &plan, &err);
	if (!rc)
		rc = write_plan(plan, fmt,
		    !strcmp(sec->type, "rfc2136") ? mx_conf_get(sec, "server") : NULL, output,
		    &err);
	if (!rc && app->json && output)
		rc = mx_plan_render(plan, PLAN_JSON, NULL, app->out, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (output && app->verbosity >= 0)
		fprintf(app->msg, "mxcutover: plan for %s written to %s\n", domain, output);
	if (json_array_size(blockers)) {
		status = mx_cli_reason(MX_EXIT_BLOCKED,
		    "%zu check(s) fail for %s; the run would stop at preflight (see `mxcutover "
		    "check %s --target-mx %s`)",
		    json_array_size(blockers), domain, domain, target);
	}
out:
	json_decref(plan);
	json_decref(blockers);
	if (signals) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	/* A call let go of (a signal) is stopped here, before what it reads into goes. */
	mx_workers_free(pool);
	prov_rrset_clear(&r.mx);
	prov_rrset_clear(&r.sts);
	exo_verdict_clear(&r.xv);
	chk_domain_clear(&res);
	prov_close(r.prov);
	exo_close(exo);
	http_ctx_free(http);
	dns_ctx_free(dns);
	return status;
}
