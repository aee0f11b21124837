/* SPDX-License-Identifier: MIT */
/* src/cmd_outbound.c — `mxcutover outbound`: for partner domains, which SmtpDaneMode and
 * MtaStsMode an Exchange Online outbound connector can safely use, why, and the cmdlet line;
 * readable text, or the contract JSON (docs/contract.md, section 3.2). With [exchange], `--apply
 * CONNECTOR` sets those modes on the connector (read first, journaled) and `rollback
 * --outbound CONNECTOR` restores the modes it found. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "domain.h"
#include "exo.h"
#include "journal.h"
#include "outbound.h"

enum { OPT_FILE = 256, OPT_CONNECTOR, OPT_SMTP_PORT, OPT_APPLY, OPT_YES, OPT_OUTBOUND };

static const struct option outbound_opts[] = {
    {"file", required_argument, NULL, OPT_FILE},
    {"connector", required_argument, NULL, OPT_CONNECTOR},
    {"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
    {"apply", required_argument, NULL, OPT_APPLY},
    {"yes", no_argument, NULL, OPT_YES},
    {NULL, 0, NULL, 0},
};

/* ---- outbound --apply / rollback --outbound ---- */

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static json_t *modes_json(const char *dane, const char *sts)
{
	return json_pack("{s:s,s:s}", "SmtpDaneMode", dane, "MtaStsMode", sts);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static bool confirm(const char *question)
{
	char line[32];

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

/* One connector's modes for all its partners: the least any of them can take. Mandatory
 * only when every partner is ready for it; None as soon as one partner's mail would be
 * queued and dropped otherwise. */
static void connector_modes(
    const struct ob_domain *d, size_t n, enum ob_dane_mode *dane, enum ob_sts_mode *sts)
{
	*dane = OB_DANE_MANDATORY;
	*sts = OB_STS_OPPORTUNISTIC;
	for (size_t i = 0; i < n; i++) {
		if (d[i].dane_mode > *dane)
			*dane = d[i].dane_mode;
		if (d[i].sts_mode > *sts)
			*sts = d[i].sts_mode;
	}
}

/* An intent left by a crash between the journal and the API: the connector tells whether
 * the change landed. */
static int reconcile(struct jnl *j, struct jnl_connector_change *c,
    const struct exo_connector *now_modes, struct mx_err *err)
{
	json_t *want = json_loads(!strcmp(c->state, "undo_intent") ? c->before : c->after, 0, NULL);
	bool landed = want && !strcmp(jstr(want, "SmtpDaneMode"), now_modes->smtp_dane_mode) &&
		      !strcmp(jstr(want, "MtaStsMode"), now_modes->mta_sts_mode);
	const char *state = !strcmp(c->state, "undo_intent") ? (landed ? "rolled_back" : "applied")
							     : (landed ? "applied" : "failed");
	int rc;

	json_decref(want);
	if (!strcmp(c->state, "applied"))
		return MX_OK;
	rc = jnl_connector_set_state(j, c->id, state, time(NULL), err);
	if (!rc) {
		free(c->state);
		c->state = strdup(state);
		if (!c->state)
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	return rc;
}

/* Sets connector to the modes recommended for results[0..n) (app->conf has [exchange]).
 * *report (new reference) describes what happened, for --json. */
static int apply(struct mx_app *app, struct http_ctx *http, const char *connector,
    const struct ob_domain *results, size_t n, json_t **report, struct mx_err *err)
{
	struct exo_ctx *x = NULL;
	struct jnl *j = NULL;
	struct exo_connector before, after;
	struct jnl_connector_change open_change;
	enum ob_dane_mode dane;
	enum ob_sts_mode sts;
	json_t *partners = json_array(), *jb = NULL, *ja = NULL;
	char *sb = NULL, *sa = NULL, *sp = NULL;
	long long id = 0;
	int rc;

	memset(&open_change, 0, sizeof(open_change));
	*report = NULL;
	connector_modes(results, n, &dane, &sts);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(partners, json_string(results[i].domain));
	rc = exo_open(app->conf, http, &x, err);
	if (!rc)
		rc = jnl_open(app->state_path, &j, err);
	if (!rc)
		rc = exo_get_connector(x, connector, &before, err);
	if (rc)
		goto out;
	/* A change a crash left unfinished is settled first, so rollback knows what holds. */
	rc = jnl_connector_latest(j, exo_tenant(x), before.identity, &open_change, err);
	if (!rc && open_change.id)
		rc = reconcile(j, &open_change, &before, err);
	if (rc)
		goto out;
	jb = modes_json(before.smtp_dane_mode, before.mta_sts_mode);
	ja = modes_json(ob_dane_mode_name(dane), ob_sts_mode_name(sts));
	*report = json_pack("{s:s,s:O,s:O,s:O,s:b}", "connector", before.identity, "before", jb,
	    "after", ja, "partners", partners, "changed", false);
	fprintf(app->msg,
	    "connector \"%s\": SmtpDaneMode %s, MtaStsMode %s; recommended for %zu "
	    "partner%s: SmtpDaneMode %s, MtaStsMode %s\n",
	    before.identity, before.smtp_dane_mode, before.mta_sts_mode, n, n == 1 ? "" : "s",
	    ob_dane_mode_name(dane), ob_sts_mode_name(sts));
	if (!strcmp(before.smtp_dane_mode, ob_dane_mode_name(dane)) &&
	    !strcmp(before.mta_sts_mode, ob_sts_mode_name(sts))) {
		fprintf(app->msg, "connector \"%s\" already has these modes; nothing to change\n",
		    before.identity);
		goto out;
	}
	sb = json_dumps(jb, JSON_COMPACT | JSON_SORT_KEYS);
	sa = json_dumps(ja, JSON_COMPACT | JSON_SORT_KEYS);
	sp = json_dumps(partners, JSON_COMPACT);
	if (!sb || !sa || !sp) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	/* Journal first: a crash after the call leaves an intent the next command settles. */
	rc = jnl_connector_begin(
	    j, exo_tenant(x), before.identity, sb, sa, sp, time(NULL), &id, err);
	if (rc)
		goto out;
	rc = exo_set_connector(
	    x, before.identity, ob_dane_mode_name(dane), ob_sts_mode_name(sts), err);
	if (!rc)
		rc = exo_get_connector(x, before.identity, &after, err);
	if (!rc && (strcmp(after.smtp_dane_mode, ob_dane_mode_name(dane)) ||
		       strcmp(after.mta_sts_mode, ob_sts_mode_name(sts))))
		rc = mx_err_set(err, MX_EPROVIDER,
		    "exchange: Set-OutboundConnector on \"%s\" was accepted but the connector "
		    "still shows SmtpDaneMode %s, MtaStsMode %s; check it with "
		    "Get-OutboundConnector",
		    before.identity, after.smtp_dane_mode, after.mta_sts_mode);
	if (rc) {
		struct mx_err ignored;

		jnl_connector_set_state(j, id, "failed", time(NULL), &ignored);
		goto out;
	}
	rc = jnl_connector_set_state(j, id, "applied", time(NULL), err);
	if (rc)
		goto out;
	json_object_set_new(*report, "changed", json_true());
	fprintf(app->msg,
	    "connector \"%s\": SmtpDaneMode %s → %s, MtaStsMode %s → %s (undo with: mxcutover "
	    "rollback --outbound \"%s\")\n",
	    before.identity, before.smtp_dane_mode, after.smtp_dane_mode, before.mta_sts_mode,
	    after.mta_sts_mode, before.identity);
out:
	jnl_connector_change_clear(&open_change);
	json_decref(partners);
	json_decref(jb);
	json_decref(ja);
	free(sb);
	free(sa);
	free(sp);
	jnl_close(j);
	exo_close(x);
	return rc;
}

int mx_cmd_outbound_rollback(struct mx_app *app, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"outbound", required_argument, NULL, OPT_OUTBOUND},
	    {"yes", no_argument, NULL, OPT_YES},
	    {NULL, 0, NULL, 0},
	};
	const char *connector = NULL;
	struct jnl_connector_change c;
	struct exo_connector cur, after;
	struct http_ctx *http = NULL;
	struct exo_ctx *x = NULL;
	struct jnl *j = NULL;
	json_t *before = NULL, *set = NULL;
	const char *dane = "", *sts = "", *sdane = "", *ssts = "";
	struct mx_err err;
	bool yes = false;
	int status = MX_EXIT_OK, idx = 0, opt, rc;

	memset(&c, 0, sizeof(c));
	mx_err_clear(&err);
	while ((opt = mx_cli_getopt(app, argc, argv, "", opts, &idx)) != -1) {
		if (opt == 'h') {
			mx_cli_help(stdout, "rollback");
			return MX_EXIT_OK;
		}
		if (opt == OPT_YES)
			yes = true;
		else if (opt == OPT_OUTBOUND)
			connector = optarg;
		else
			return MX_EXIT_USAGE;
	}
	if (app->json)
		app->msg = stderr;
	if (!connector || !*connector || idx < argc)
		return mx_cli_usage_error(
		    "rollback", "rollback --outbound takes one connector name and no domain");
	if (!yes && !isatty(STDIN_FILENO))
		return mx_cli_usage_error("rollback",
		    "stdin is not a terminal, so nobody can confirm; pass --yes to restore the "
		    "connector without a prompt");
	rc = mx_cli_load_config(app, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (!exo_configured(app->conf)) {
		status = mx_cli_usage_error("rollback",
		    "--outbound needs the [exchange] section that outbound --apply used (see "
		    "docs/exchange.md)");
		goto out;
	}
	rc = http_ctx_new(&http, app->cacert, &err);
	if (!rc)
		rc = exo_open(app->conf, http, &x, &err);
	if (!rc)
		rc = jnl_open(app->state_path, &j, &err);
	if (!rc)
		rc = exo_get_connector(x, connector, &cur, &err);
	if (!rc)
		rc = jnl_connector_latest(j, exo_tenant(x), cur.identity, &c, &err);
	if (!rc && c.id)
		rc = reconcile(j, &c, &cur, &err);
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	if (!c.id || !strcmp(c.state, "failed") || !strcmp(c.state, "rolled_back")) {
		if (c.id && !strcmp(c.state, "rolled_back"))
			fprintf(app->msg,
			    "connector \"%s\" already has the modes it had before "
			    "outbound --apply\n",
			    cur.identity);
		else {
			mx_err_set(&err, MX_EINVAL,
			    "outbound --apply has not changed connector \"%s\" of tenant %s "
			    "(according to %s); nothing to roll back",
			    cur.identity, exo_tenant(x), app->state_path);
			status = mx_cli_fail(app, &err);
			goto out;
		}
	} else {
		before = json_loads(c.before, 0, NULL);
		set = json_loads(c.after, 0, NULL);
		dane = jstr(before, "SmtpDaneMode");
		sts = jstr(before, "MtaStsMode");
		sdane = jstr(set, "SmtpDaneMode");
		ssts = jstr(set, "MtaStsMode");
		if (!*dane || !*sts) {
			mx_err_set(&err, MX_EIO,
			    "state database %s: the connector change #%lld is unreadable",
			    app->state_path, c.id);
			status = mx_cli_fail(app, &err);
			goto out;
		}
		/* Someone changed the connector since: restoring would undo their change. */
		if ((strcmp(cur.smtp_dane_mode, sdane) || strcmp(cur.mta_sts_mode, ssts)) &&
		    (strcmp(cur.smtp_dane_mode, dane) || strcmp(cur.mta_sts_mode, sts))) {
			mx_err_set(&err, MX_ECONFLICT,
			    "connector \"%s\" now has SmtpDaneMode %s, MtaStsMode %s: someone "
			    "changed it after outbound --apply set %s, %s; set the modes you want "
			    "with Set-OutboundConnector (it had %s, %s before)",
			    cur.identity, cur.smtp_dane_mode, cur.mta_sts_mode, sdane, ssts, dane,
			    sts);
			status = mx_cli_fail(app, &err);
			goto out;
		}
		if (!yes) {
			char q[600];

			snprintf(q, sizeof(q),
			    "Restore connector \"%s\" to SmtpDaneMode %s, MtaStsMode %s?",
			    cur.identity, dane, sts);
			if (!confirm(q)) {
				mx_err_set(&err, MX_ECANCELED,
				    "rollback --outbound: not confirmed; "
				    "nothing changed");
				status = mx_cli_fail(app, &err);
				goto out;
			}
		}
		rc = jnl_connector_set_state(j, c.id, "undo_intent", time(NULL), &err);
		if (!rc)
			rc = exo_set_connector(x, cur.identity, dane, sts, &err);
		if (!rc)
			rc = exo_get_connector(x, cur.identity, &after, &err);
		if (!rc && (strcmp(after.smtp_dane_mode, dane) || strcmp(after.mta_sts_mode, sts)))
			rc = mx_err_set(&err, MX_EPROVIDER,
			    "exchange: Set-OutboundConnector on \"%s\" was accepted but the "
			    "connector still shows SmtpDaneMode %s, MtaStsMode %s; check it with "
			    "Get-OutboundConnector, then run the rollback again",
			    cur.identity, after.smtp_dane_mode, after.mta_sts_mode);
		if (!rc)
			rc = jnl_connector_set_state(j, c.id, "rolled_back", time(NULL), &err);
		if (rc) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
		fprintf(app->msg,
		    "connector \"%s\": SmtpDaneMode %s → %s, MtaStsMode %s → %s (restored)\n",
		    cur.identity, cur.smtp_dane_mode, dane, cur.mta_sts_mode, sts);
	}
	if (app->json) {
		json_t *doc = json_pack("{s:s,s:s,s:s}", "connector", cur.identity,
		    "smtp_dane_mode", *dane ? dane : cur.smtp_dane_mode, "mta_sts_mode",
		    *sts ? sts : cur.mta_sts_mode);

		json_dumpf(doc, app->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', app->out);
		json_decref(doc);
	}
out:
	json_decref(before);
	json_decref(set);
	jnl_connector_change_clear(&c);
	jnl_close(j);
	exo_close(x);
	http_ctx_free(http);
	return status;
}

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
	const char *file = NULL, *connector = NULL, *apply_to = NULL;
	char **domains = NULL, **targets = NULL, *end;
	json_t *applied = NULL;
	bool yes = false;
	size_t n = 0;
	struct ob_domain *results = NULL;
	struct ob_opts o;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct mx_err err;
	struct sigaction sa, old_int, old_term;
	bool signals = false;
	long port = 25;
	size_t checked = 0;
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
		case OPT_APPLY:
			apply_to = optarg;
			break;
		case OPT_YES:
			yes = true;
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
	if (apply_to && connector && strcmp(apply_to, connector)) {
		status = mx_cli_usage_error("outbound",
		    "--apply %s and --connector %s name different connectors; name one", apply_to,
		    connector);
		goto out;
	}
	if (apply_to)
		connector = apply_to;
	if (apply_to && !yes && !isatty(STDIN_FILENO)) {
		status = mx_cli_usage_error("outbound",
		    "stdin is not a terminal, so nobody can confirm; pass --yes to change the "
		    "connector without a prompt");
		goto out;
	}
	rc = mx_cli_load_config(app, &err);
	if (!rc && apply_to && !exo_configured(app->conf)) {
		status = mx_cli_usage_error("outbound",
		    "--apply needs an [exchange] section in the config (see docs/exchange.md); "
		    "without it, run the printed Set-OutboundConnector line yourself");
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
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	results = calloc(n, sizeof(*results));
	if (!results) {
		status = mx_cli_reason(MX_EXIT_RUNTIME, "out of memory");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.dns = dns;
	o.http = http;
	o.probe = true;
	o.dane.port = (int)port;
	o.dane.pkix = true;
	o.dane.cafile = app->cacert;
	/* Ctrl-C or SIGTERM stops the partners' checks at once, and at the confirmation; a
	 * change of the connector under way is let end, so that its outcome is journaled. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signals = true;
	o.stop = &interrupted;
	o.stopped_after = &checked;
	rc = ob_run(&o, (const char *const *)domains, n, results, &err);
	if (rc == MX_EAGAIN && interrupted) {
		status = mx_cli_reason(MX_EXIT_BLOCKED,
		    "outbound interrupted after %zu of %zu partner domains; nothing was changed — "
		    "run outbound again",
		    checked, n);
		goto out;
	}
	if (rc) {
		status = mx_cli_fail(app, &err);
		goto out;
	}
	/* The verdicts come first, then the change they lead to. */
	for (size_t i = 0; apply_to && !app->json && i < n; i++)
		print_text(app, &results[i], connector);
	if (apply_to && !yes) {
		enum ob_dane_mode dane;
		enum ob_sts_mode sts;
		char q[600];

		connector_modes(results, n, &dane, &sts);
		snprintf(q, sizeof(q), "Set connector \"%s\" to SmtpDaneMode %s, MtaStsMode %s?",
		    apply_to, ob_dane_mode_name(dane), ob_sts_mode_name(sts));
		/* Ctrl-C at the prompt ends the read (no SA_RESTART): not confirmed. */
		if (!confirm(q) || interrupted) {
			mx_err_set(&err, MX_ECANCELED,
			    "outbound --apply: not confirmed; nothing "
			    "changed");
			status = mx_cli_fail(app, &err);
			goto out;
		}
	}
	if (apply_to) {
		rc = apply(app, http, apply_to, results, n, &applied, &err);
		if (rc) {
			status = mx_cli_fail(app, &err);
			goto out;
		}
	}
	if (app->json) {
		json_t *doc = json_object(), *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, ob_domain_json(&results[i], connector));
		json_object_set_new(doc, "domains", arr);
		if (applied)
			json_object_set(doc, "apply", applied);
		json_dumpf(doc, app->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', app->out);
		json_decref(doc);
	} else {
		size_t count[3] = {0, 0, 0}, warnings = 0;

		for (size_t i = 0; i < n; i++) {
			if (!apply_to)
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
	if (signals) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	json_decref(applied);
	for (size_t i = 0; results && i < n; i++)
		ob_domain_clear(&results[i]);
	free(results);
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_cli_list_free(domains, targets, n);
	return status;
}
