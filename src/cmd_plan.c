/* SPDX-License-Identifier: MIT */
/* src/cmd_plan.c — `mxcutover plan`: a dry run. Reads live state (checks, the provider's
 * RRsets), writes nothing to DNS, starts no run, and renders the plan for a change board. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "domain.h"
#include "exo.h"
#include "plan.h"
#include "provider.h"

enum { OPT_TARGET = 256, OPT_PROVIDER, OPT_FORMAT };

static const struct option plan_opts[] = {
    {"target-mx", required_argument, NULL, OPT_TARGET},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {NULL, 0, NULL, 0},
};

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
	char domain[MX_NAME_MAX + 1], target[MX_NAME_MAX + 1], name[300];
	const char *domains[1], *targets[1];
	enum mx_plan_format fmt = PLAN_TEXT;
	const char *fmt_name = NULL; /* --format as given */
	const struct mx_conf_section *sec;
	struct chk_domain res;
	struct chk_opts o;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct prov *prov = NULL;
	struct exo_ctx *exo = NULL;
	struct mx_rrset mx, sts;
	struct mx_plan_in in;
	json_t *plan = NULL, *blockers = json_array();
	struct mx_err err;
	int status = MX_EXIT_OK, idx = 0, opt, rc, f;

	mx_err_clear(&err);
	memset(&res, 0, sizeof(res));
	memset(&mx, 0, sizeof(mx));
	memset(&sts, 0, sizeof(sts));
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
	/* [exchange]: the target is the host Exchange assigned; plan never changes the tenant,
	 * so an endpoint not provisioned yet has no host to plan with. */
	if (!rc && exo_configured(app->conf)) {
		struct exo_verdict xv;

		rc = exo_open(app->conf, http, &exo, &err);
		if (!rc) {
			memset(&xv, 0, sizeof(xv));
			exo_check_domain(exo, domain, &xv, &err);
			mx_err_clear(&err);
			if (xv.access.status == CHK_FAIL) {
				status = mx_cli_domain_reason(
				    MX_EXIT_RUNTIME, domain, xv.access.summary);
				exo_verdict_clear(&xv);
				goto out;
			}
			if (!xv.target[0]) {
				status = mx_cli_domain_reason(MX_EXIT_BLOCKED, domain,
				    "Exchange Online has not provisioned the DNSSEC endpoint yet, "
				    "so the "
				    "new MX host is unknown; `mxcutover run` provisions it first "
				    "(Enable-DnssecForVerifiedDomain), or run that cmdlet, then "
				    "plan "
				    "again");
				exo_verdict_clear(&xv);
				goto out;
			}
			if (target[0] && strcasecmp(target, xv.target)) {
				status = mx_cli_usage_error("plan",
				    "the target %s differs from %s, the host Exchange Online "
				    "assigned "
				    "to %s (DnssecMxValue); drop --target-mx or correct it",
				    target, xv.target, domain);
				exo_verdict_clear(&xv);
				goto out;
			}
			snprintf(target, sizeof(target), "%s", xv.target);
			exo_verdict_clear(&xv);
		}
	}
	if (!rc)
		rc = prov_open(app->conf, provider, domain, dns, http, &prov, &err);
	if (!rc)
		rc = prov->ops->read_rrset(prov, domain, DNS_T_MX, &mx, &err);
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if (!rc)
		rc = prov->ops->read_rrset(prov, name, DNS_T_TXT, &sts, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (mx.n == 0) {
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
	rc = chk_run(&o, domains, targets, 1, &res, &err);
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
	in.provider_type = prov->ops->name;
	in.provider_min_ttl = prov->ops->min_ttl;
	in.mx = &mx;
	in.sts_txt = &sts;
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
	prov_rrset_clear(&mx);
	prov_rrset_clear(&sts);
	chk_domain_clear(&res);
	prov_close(prov);
	exo_close(exo);
	http_ctx_free(http);
	dns_ctx_free(dns);
	return status;
}
