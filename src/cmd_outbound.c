/* SPDX-License-Identifier: MIT */
/* src/cmd_outbound.c — `mxcutover outbound`: for partner domains, which SmtpDaneMode and
 * MtaStsMode an Exchange Online outbound connector can safely use, why, and the cmdlet line;
 * readable text, or the contract JSON (DESIGN.md §4.1.1). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "domain.h"
#include "outbound.h"

enum { OPT_FILE = 256, OPT_CONNECTOR, OPT_SMTP_PORT };

static const struct option outbound_opts[] = {
    {"file", required_argument, NULL, OPT_FILE},
    {"connector", required_argument, NULL, OPT_CONNECTOR},
    {"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
    {NULL, 0, NULL, 0},
};

static const char *paint(const struct mx_app *app, const char *code)
{
	return app->color ? code : "";
}

static const char *mode_color(const struct mx_app *app, enum ob_dane_mode m)
{
	return paint(app, m == OB_DANE_MANDATORY ? "\033[32m"
			  : m == OB_DANE_NONE	 ? "\033[1;31m"
						 : "\033[33m");
}

static void print_host(const struct mx_app *app, const struct ob_domain *d, const struct ob_host *h)
{
	FILE *fp = app->msg;

	if (h->preference >= 0)
		fprintf(fp, "  MX %d %s\n", h->preference, h->host);
	else
		fprintf(fp, "  %s (no MX: the domain's own address)\n", h->host);
	fprintf(fp, "     MX %s · address %s · TLSA %s · probe %s\n",
	    d->mx_sec == DNS_SEC_SECURE ? "secure" : dns_sec_name(d->mx_sec),
	    !h->naddr			    ? "none"
	    : h->addr_sec == DNS_SEC_SECURE ? "secure"
					    : dns_sec_name(h->addr_sec),
	    ob_tlsa_name(h->tlsa), dane_probe_name(h->probe));
	for (size_t i = 0; app->verbosity >= 0 && i < h->ntlsa; i++)
		fprintf(fp, "     TLSA %s\n", h->tlsa_text[i]);
	for (size_t i = 0; h->probe_res && i < h->probe_res->naddr; i++) {
		const struct dane_addr_result *a = &h->probe_res->addr[i];

		if (a->status == DANE_PROBE_SKIPPED && a->tls)
			/* probed for MTA-STS only (no usable TLSA) */
			fprintf(fp, "     %-15s TLS", a->addr);
		else
			fprintf(fp, "     %-15s %s", a->addr, dane_probe_name(a->status));
		if (a->usage >= 0)
			fprintf(fp, " by TLSA %d %d %d", a->usage, a->selector, a->mtype);
		if (a->tls_version[0])
			fprintf(fp, ", %s", a->tls_version);
		if (a->have_cert)
			fprintf(fp,
			    a->days_left >= 0 ? ", certificate expires in %ld days"
					      : ", certificate expired %ld days ago",
			    a->days_left >= 0 ? a->days_left : -a->days_left);
		if (a->pkix_checked)
			fprintf(fp, ", certificate %s for MTA-STS%s%s%s",
			    a->pkix_valid ? "valid" : "NOT valid", a->pkix_valid ? "" : " (",
			    a->pkix_valid ? "" : a->pkix_error, a->pkix_valid ? "" : ")");
		fprintf(fp, " (%ld ms)\n", a->ms);
		if (a->error[0] && a->status != DANE_PROBE_VERIFIED &&
		    !(a->status == DANE_PROBE_SKIPPED && a->tls))
			fprintf(fp, "       %s\n", a->error);
	}
	if (h->probe_res && h->probe_res->nusable == 1 && h->probe == DANE_PROBE_VERIFIED &&
	    app->verbosity > 0)
		fprintf(fp, "     one usable TLSA record: a key rollover needs the next key's "
			    "record published first\n");
	if (d->sts.policy_valid)
		fprintf(fp, "     MTA-STS policy %s this host\n",
		    h->sts_covered ? "covers" : "does NOT cover");
}

static void print_text(const struct mx_app *app, const struct ob_domain *d, const char *connector)
{
	FILE *fp = app->msg;
	char cmd[600];

	fprintf(fp, "%s%s%s  SmtpDaneMode %s%s%s · MtaStsMode %s%s%s\n", paint(app, "\033[1m"),
	    d->domain, paint(app, "\033[0m"), mode_color(app, d->dane_mode),
	    ob_dane_mode_name(d->dane_mode), paint(app, "\033[0m"),
	    paint(app, d->sts_mode == OB_STS_NONE ? "\033[1;31m" : ""),
	    ob_sts_mode_name(d->sts_mode), paint(app, "\033[0m"));
	if (app->verbosity >= 0) {
		for (size_t i = 0; i < d->nhosts; i++)
			print_host(app, d, &d->hosts[i]);
		if (d->sts.record)
			fprintf(fp, "  MTA-STS %s\n",
			    d->sts.policy_valid ? mtasts_mode_name(d->sts.mode)
						: "record, no policy");
	}
	if (d->warning)
		fprintf(fp, "  %sWARNING%s: %s\n", paint(app, "\033[1;31m"), paint(app, "\033[0m"),
		    d->reason);
	else
		fprintf(fp, "  reason: %s\n", d->reason);
	ob_command(d, connector, cmd, sizeof(cmd));
	fprintf(fp, "  %s\n\n", cmd);
}

int mx_cmd_outbound(struct mx_app *app, int argc, char **argv)
{
	const char *file = NULL, *connector = NULL;
	char **domains = NULL, **targets = NULL, *end;
	size_t n = 0;
	struct ob_domain *results = NULL;
	struct ob_opts o;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct mx_err err;
	long port = 25;
	int status = MX_EXIT_OK, idx = 0, opt, rc;

	mx_err_clear(&err);
	while ((opt = mx_cli_getopt(app, argc, argv, "", outbound_opts, &idx)) != -1) {
		switch (opt) {
		case 'h':
			mx_cli_help(stdout, "outbound");
			return MX_EXIT_OK;
		case OPT_FILE:
			file = optarg;
			break;
		case OPT_CONNECTOR:
			connector = optarg;
			break;
		case OPT_SMTP_PORT:
			port = strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535)
				return mx_cli_usage_error(
				    "outbound", "--smtp-port \"%s\" must be a port number", optarg);
			break;
		default:
			return MX_EXIT_USAGE;
		}
	}
	if (app->json)
		app->msg = stderr;
	rc = mx_cli_domains(file, argv + idx, argc - idx, NULL, &domains, &targets, &n, &err);
	if (rc) {
		status = rc == MX_EINVAL ? mx_cli_usage_error("outbound", "%s", err.msg)
					 : mx_cli_fail(app, &err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (targets[i]) {
			status = mx_cli_usage_error("outbound",
			    "--file %s: \"%s %s\": outbound takes partner domains only, one per "
			    "line",
			    file, domains[i], targets[i]);
			goto out;
		}
	}
	if (n == 0) {
		status = mx_cli_usage_error(
		    "outbound", "name at least one partner domain, or --file FILE");
		goto out;
	}
	rc = mx_cli_load_config(app, &err);
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
	o.dns = dns;
	o.http = http;
	o.probe = true;
	o.dane.port = (int)port;
	o.dane.pkix = true;
	o.dane.cafile = app->cacert;
	rc = ob_run(&o, (const char *const *)domains, n, results, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (app->json) {
		json_t *doc = json_object(), *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, ob_domain_json(&results[i], connector));
		json_object_set_new(doc, "domains", arr);
		json_dumpf(doc, app->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', app->out);
		json_decref(doc);
	} else {
		size_t count[3] = {0, 0, 0}, warnings = 0;

		for (size_t i = 0; i < n; i++) {
			print_text(app, &results[i], connector);
			count[results[i].dane_mode]++;
			warnings += results[i].warning;
		}
		if (n > 1)
			fprintf(app->msg,
			    "%zu partners: %zu Mandatory, %zu Opportunistic, %zu None; %zu "
			    "warning%s\n",
			    n, count[OB_DANE_MANDATORY], count[OB_DANE_OPPORTUNISTIC],
			    count[OB_DANE_NONE], warnings, warnings == 1 ? "" : "s");
	}
	/* Warnings are verdicts, not failures: the exit status stays 0. */
	for (size_t i = 0; app->json && i < n; i++)
		if (results[i].warning)
			fprintf(stderr, "mxcutover outbound: WARNING %s: %s\n", results[i].domain,
			    results[i].dane_mode == OB_DANE_NONE ? results[i].dane_reason
								 : results[i].sts_reason);
out:
	for (size_t i = 0; results && i < n; i++)
		ob_domain_clear(&results[i]);
	free(results);
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_cli_list_free(domains, targets, n);
	return status;
}
