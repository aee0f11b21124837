/* SPDX-License-Identifier: MIT */
/* src/cmd_check.c — `mxcutover check`: readable verdicts per domain, or the contract JSON. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "domain.h"
#include "exo.h"
#include "provider.h"

struct prov_env {
	const struct mx_conf *conf;
	const char *name;
	struct dns_ctx *dns;
	struct http_ctx *http;
};

/* provider.access: the adapter reads the zone's MX RRset as it holds it. */
static int read_mx(void *arg, const char *domain, json_t **values, struct mx_err *err)
{
	struct prov_env *env = arg;
	struct mx_rrset set;
	struct prov *p = NULL;
	int rc;

	memset(&set, 0, sizeof(set));
	rc = prov_open(env->conf, env->name, domain, env->dns, env->http, &p, err);
	if (!rc)
		rc = p->ops->read_rrset(p, domain, DNS_T_MX, &set, err);
	if (!rc) {
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
	FILE *fp = app->msg;
	int fails = 0, warns = 0;

	for (int i = 0; i < CHK_COUNT; i++) {
		fails += d->res[i].present && d->res[i].status == CHK_FAIL;
		warns += d->res[i].present && d->res[i].status == CHK_WARN;
	}
	if (app->color)
		fprintf(fp, "\033[1m%s\033[0m  %s\n", d->domain,
		    d->ready ? "\033[32mready\033[0m" : "\033[1;31mNOT READY\033[0m");
	else
		fprintf(fp, "%s  %s\n", d->domain, d->ready ? "ready" : "NOT READY");
	if (d->target[0])
		fprintf(fp, "  target %s\n", d->target);
	for (int i = 0; i < CHK_COUNT; i++) {
		const struct chk_result *r = &d->res[i];

		if (!r->present)
			continue;
		if (app->verbosity < 0 && r->status != CHK_FAIL)
			continue;
		fprintf(
		    fp, "  %s  %-21s %s\n", status_tag(app, r->status), chk_id_name(i), r->summary);
		if (app->verbosity > 0 && r->detail) {
			char *js = json_dumps(r->detail, JSON_COMPACT | JSON_SORT_KEYS);

			if (js)
				fprintf(fp, "        %s\n", js);
			free(js);
		}
	}
	fprintf(fp, "  verdict: %s (%d failing, %d warning)\n\n",
	    d->ready ? "ready for the cutover" : "fix the failing checks first", fails, warns);
}

int mx_cmd_check(struct mx_app *app, int argc, char **argv)
{
	const char *target = NULL, *provider = NULL, *file = NULL;
	char **domains = NULL, **targets = NULL;
	size_t n = 0;
	struct chk_domain *results = NULL;
	struct chk_opts o;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct prov_env penv;
	struct exo_ctx *exo = NULL;
	struct exo_verdict *verdicts = NULL;
	struct exo_env xenv;
	struct mx_err err;
	bool tenant = false;
	int status = MX_EXIT_OK, idx = 0, opt, rc;

	mx_err_clear(&err);
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
			status = MX_EXIT_RUNTIME;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			exo_check_domain(exo, domains[i], &verdicts[i], &err);
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
				status = MX_EXIT_RUNTIME;
				goto out;
			}
		}
	}
	results = calloc(n, sizeof(*results));
	if (!results) {
		status = MX_EXIT_RUNTIME;
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.conf = app->conf;
	o.dns = dns;
	o.http = http;
	if (provider) {
		penv = (struct prov_env){app->conf, provider, dns, http};
		o.provider_name = provider;
		o.provider_read = read_mx;
		o.provider_arg = &penv;
	}
	if (exo) {
		xenv = (struct exo_env){(const char *const *)domains, verdicts, n};
		o.exchange = exo_result;
		o.exchange_arg = &xenv;
	}
	rc = chk_run(
	    &o, (const char *const *)domains, (const char *const *)targets, n, results, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (app->json) {
		json_t *doc = json_object(), *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, chk_domain_json(&results[i]));
		json_object_set_new(doc, "domains", arr);
		json_dumpf(doc, app->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', app->out);
		json_decref(doc);
	} else {
		for (size_t i = 0; i < n; i++)
			print_text(app, &results[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (!results[i].ready)
			status = MX_EXIT_BLOCKED;
out:
	for (size_t i = 0; results && i < n; i++)
		chk_domain_clear(&results[i]);
	free(results);
	for (size_t i = 0; verdicts && i < n; i++)
		exo_verdict_clear(&verdicts[i]);
	free(verdicts);
	exo_close(exo);
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_cli_list_free(domains, targets, n);
	return status;
}
