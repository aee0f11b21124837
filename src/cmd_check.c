/* SPDX-License-Identifier: MIT */
/* src/cmd_check.c — `mxcutover check`: readable verdicts per domain, or the contract JSON. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "domain.h"
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

enum { OPT_TARGET = 256, OPT_PROVIDER, OPT_FILE };

static const struct option check_opts[] = {
    {"target-mx", required_argument, NULL, OPT_TARGET},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"file", required_argument, NULL, OPT_FILE},
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
	struct mx_err err;
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
		default:
			return MX_EXIT_USAGE;
		}
	}
	if (app->json)
		app->msg = stderr;
	rc = mx_cli_domains(file, argv + idx, argc - idx, target, &domains, &targets, &n, &err);
	if (rc) {
		status = rc == MX_EINVAL ? mx_cli_usage_error("check", "%s", err.msg)
					 : mx_cli_fail(app, &err);
		goto out;
	}
	if (n == 0) {
		status = mx_cli_usage_error("check", "name at least one domain, or --file FILE");
		goto out;
	}
	rc = mx_cli_load_config(app, &err);
	if (!rc && provider && !mx_cli_provider(app, "check", provider)) {
		status = MX_EXIT_USAGE;
		goto out;
	}
	if (!rc)
		rc = dns_ctx_new(&dns, app->resolver_conf, &err);
	if (!rc)
		rc = http_ctx_new(&http, app->cacert, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
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
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_cli_list_free(domains, targets, n);
	return status;
}
