/* SPDX-License-Identifier: MIT */
/* src/cli.c — the command line: global options, the subcommand table, shared helpers. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "domain.h"
#include "journal.h"
#include "paths.h"

enum {
	OPT_STATE = 1000,
	OPT_CONFIG,
	OPT_RESOLVER_CONF,
	OPT_CACERT,
	OPT_JSON,
	OPT_COLOR,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option global_opts[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"resolver-conf", required_argument, NULL, OPT_RESOLVER_CONF},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"json", no_argument, NULL, OPT_JSON},
    {"color", required_argument, NULL, OPT_COLOR},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
};

#define GLOBAL_USAGE                                                                               \
	"Global options (before or after the command):\n"                                          \
	"  --state FILE          state database (default "                                         \
	"$XDG_STATE_HOME/mxcutover/state.db)\n"                                                    \
	"  --config FILE         config file (default $XDG_CONFIG_HOME/mxcutover/config)\n"        \
	"  --resolver-conf FILE  unbound.conf for the validating resolver (default: the real\n"    \
	"                        root with /usr/share/dns/root.key)\n"                             \
	"  --cacert FILE         CA bundle for every HTTPS request\n"                              \
	"  --json                one JSON document on stdout; messages go to stderr\n"             \
	"  -q, --quiet           only errors     -v, --verbose  more detail\n"                     \
	"  --color=WHEN          auto (default: a terminal without NO_COLOR), always, never\n"     \
	"  --help, --version\n"

struct cmd {
	const char *name;
	const char *usage;
	const char *help;
	int (*fn)(struct mx_app *app, int argc, char **argv);
};

static const struct cmd commands[] = {
    {"check", "check DOMAIN... [--target-mx HOST] [--provider NAME] [--file FILE] | check --tenant",
	"Checks that each domain is ready for the move to the DNSSEC-capable MX endpoint:\n"
	"DNSSEC, NS consistency, the current MX, the target host and its TLSA, MTA-STS, TLS-RPT\n"
	"and SPF. Exit 0 when every domain is ready, 1 when a check fails.\n"
	"  --target-mx HOST  the DnssecMxValue from Enable-DnssecForVerifiedDomain (one domain;\n"
	"                    with [exchange] it comes from Exchange and a given one must match)\n"
	"  --provider NAME   also check that [provider.NAME] can read the zone's MX\n"
	"  --file FILE       domains, one per line, optionally followed by the target host\n"
	"  --tenant          every accepted domain of the [exchange] tenant\n",
	mx_cmd_check},
    {"plan",
	"plan DOMAIN [--target-mx HOST] --provider NAME [--format "
	"text|json|markdown|nsupdate|powershell] [-o FILE]",
	"Shows, without changing anything, every step of the cutover with the records before\n"
	"and after, the waits, the gates and the rollback. Reads the live zone through the\n"
	"provider and DNS; writes nothing and starts no run. Exit 1 when a check would stop\n"
	"the run at preflight (the plan is still written) or the domain is already migrated.\n"
	"  --target-mx HOST  the DnssecMxValue from Enable-DnssecForVerifiedDomain (required\n"
	"                    without [exchange]; with it, a given one must be Exchange's host)\n"
	"  --provider NAME   the [provider.NAME] section that holds the zone\n"
	"  --format FORMAT   text (default), json (docs/plan-schema.md), markdown (a change\n"
	"                    ticket), nsupdate (a script for RFC 2136 by hand), powershell\n"
	"                    (the Exchange Online cmdlets)\n"
	"  -o, --output FILE write the plan to FILE (whole or not at all) instead of stdout;\n"
	"                    with nsupdate, a folder (DIR/) gets one file per step, in order,\n"
	"                    and a README with the waits between them\n",
	mx_cmd_plan},
    {"run",
	"run DOMAIN [--target-mx HOST] --provider NAME [--yes] [--plan FILE]\n"
	"       mxcutover run [DOMAIN] --plan FILE [--yes]\n"
	"       mxcutover run --file FILE --provider NAME [--yes]",
	"Moves the domain's MX to the target host, step by step, with the right waits; every\n"
	"step is journaled first, so a crash or Ctrl-C leaves a run `resume` continues.\n"
	"  --target-mx HOST  the DnssecMxValue from Enable-DnssecForVerifiedDomain (required\n"
	"                    without [exchange]; with it, the run takes Exchange's host)\n"
	"  --provider NAME   the [provider.NAME] section that holds the zone\n"
	"  --file FILE       many domains: \"DOMAIN TARGET\" per line, each run on its own\n"
	"  --yes             no prompts: the start and the inbound test are answered yes; every\n"
	"                    other gate is verified, polled until gate_timeout\n"
	"  --plan FILE       a reviewed `plan --format json`: refuse when the zone, the settings\n"
	"                    or the mxcutover version differ from the plan's; the domain, the\n"
	"                    target and the provider not given are the plan's\n",
	mx_cmd_run},
    {"resume", "resume [DOMAIN...] [--file FILE] [--provider NAME] [--yes]",
	"Continues unfinished runs (all of them when no domain is named) from their journal, in\n"
	"their direction: a stopped rollback goes on rolling back.\n"
	"  --file FILE      the domains listed in FILE, one per line (a run's --file list)\n"
	"  --provider NAME  switch the named domain's run to [provider.NAME] first (one domain)\n"
	"  --yes            no prompts\n",
	mx_cmd_resume},
    {"rollback", "rollback DOMAIN... [--file FILE] [--yes] | rollback --outbound CONNECTOR [--yes]",
	"Restores the domain's MX exactly as it was before the run (values, preferences, TTL)\n"
	"and its _mta-sts record, in a mail-safe order: inbound DANE off (its TLSA withdrawn),\n"
	"an MTA-STS policy listing both hosts, the legacy host preferred again, wait for the\n"
	"TTL, then the new host removed. Works from any step and after completion. Several\n"
	"domains roll back at once, each on its own.\n"
	"  --file FILE           the domains listed in FILE, one per line (a run's --file list)\n"
	"  --yes                 no prompts\n"
	"  --outbound CONNECTOR  instead: restore the modes outbound --apply found on the\n"
	"                        connector ([exchange])\n",
	mx_cmd_rollback},
    {"status", "status [DOMAIN]",
	"Shows each run's state, current step, next deadline and what it waits for, and whether\n"
	"an unfinished run is live (a process drives it: pid, host, since) or stopped. With a\n"
	"domain or -v, also the run's history from the journal. With several runs, the last\n"
	"line counts them by state. Only reads the state database: without one there are no\n"
	"runs, and nothing is created.\n",
	mx_cmd_status},
    {"outbound", "outbound DOMAIN... [--file FILE] [--connector NAME] [--apply CONNECTOR [--yes]]",
	"Tells, for partner domains, which SmtpDaneMode (Mandatory, Opportunistic, None) and\n"
	"MtaStsMode (Opportunistic, None) an Exchange Online outbound connector can safely use,\n"
	"with the reason and the Set-OutboundConnector line. Looks at the DNSSEC state of each\n"
	"partner's MX and MX hosts, their TLSA, a STARTTLS + DANE probe on port 25, and the\n"
	"MTA-STS policy. Mandatory only when every MX host verifies on the wire; None, with a\n"
	"warning, when published TLSA fails on the wire or DNSSEC is bogus. Exit 0 (warnings\n"
	"included), 3 when the lookups could not run. See docs/outbound.md.\n"
	"  --file FILE       partner domains, one per line\n"
	"  --connector NAME  the connector's -Identity in the printed cmdlet line\n"
	"  --smtp-port PORT  probe this port instead of 25 (tests, port redirects)\n"
	"  --apply CONNECTOR set the modes all these partners can take on the connector\n"
	"                    ([exchange]; read first, journaled; undo: rollback --outbound)\n"
	"  --yes             no prompt before --apply changes the connector\n",
	mx_cmd_outbound},
    {"tui", "tui [DOMAIN...] [--file FILE] [--provider NAME]",
	"Opens the terminal wizard (also what a bare `mxcutover` does on a terminal): the\n"
	"domains with live badges, their checks and how to fix them, the target host, the plan\n"
	"review, the run with its countdown and gates, rollback. Domains come from the\n"
	"arguments, --file and the state database. See docs/wizard.md.\n"
	"  --file FILE       domains, one per line, optionally followed by the target host\n"
	"  --provider NAME   the [provider.NAME] preselected for new runs (default: the first)\n",
	mx_cmd_tui},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

void mx_cli_help(FILE *fp, const char *name)
{
	const struct cmd *c = name ? find_cmd(name) : NULL;

	if (c) {
		fprintf(fp, "Usage: mxcutover [global options] %s\n\n%s", c->usage, c->help);
		fprintf(fp, "\n" GLOBAL_USAGE);
		return;
	}
	fprintf(fp, "Usage: mxcutover [global options] COMMAND [ARGS]\n\n"
		    "Moves an Exchange Online domain's inbound MX to the DNSSEC-capable endpoint\n"
		    "and prepares it for inbound SMTP DANE, without losing a message.\n\n"
		    "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %s\n", commands[i].usage);
	fprintf(fp, "\n" GLOBAL_USAGE
		    "\nExit status: 0 ready/success, 1 blockers or a gate not passed, 2 usage or\n"
		    "config error, 3 runtime failure, 4 another process holds the domain's lock.\n"
		    "`mxcutover COMMAND --help` describes each command.\n");
}

/* Set once a failing command has printed its reason on stderr; mx_cli_main checks it, so no
 * command ends non-zero in silence. */
static bool reason_given;

int mx_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mxcutover%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see `mxcutover %s%s--help`\n", cmd ? cmd : "", cmd ? " " : "");
	fflush(stderr);
	reason_given = true;
	return MX_EXIT_USAGE;
}

int mx_cli_reason(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("mxcutover: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	reason_given = true;
	return status;
}

int mx_cli_domain_reason(int status, const char *domain, const char *msg)
{
	size_t n = strlen(domain);

	/* Messages that already begin with the domain are not prefixed twice. */
	if (!strncmp(msg, domain, n) && (msg[n] == ':' || msg[n] == ' '))
		return mx_cli_reason(status, "%s", msg);
	return mx_cli_reason(status, "%s: %s", domain, msg);
}

void mx_cli_provider_names(const struct mx_app *app, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; app->conf && i < app->conf->nprov && used < len; i++)
		used += (size_t)snprintf(
		    buf + used, len - used, "%s%s", used ? ", " : "", app->conf->prov[i].name);
}

int mx_cli_fail(struct mx_app *app, const struct mx_err *err)
{
	char names[256];

	/* A provider that does not hold the zone: say which others the config has. */
	if (err->rc == MX_ENOZONE && app) {
		mx_cli_provider_names(app, names, sizeof(names));
		if (strchr(names, ','))
			return mx_cli_reason(
			    MX_EXIT_USAGE, "%s (providers in the config: %s)", err->msg, names);
	}
	return mx_cli_reason(
	    (int)mx_rc_exit(err->rc), "%s", err->msg[0] ? err->msg : mx_rc_name(err->rc));
}

int mx_cli_getopt(struct mx_app *app, int argc, char **argv, const char *shortopts,
    const struct option *cmd_opts, int *argv_index)
{
	/* Rebuilt on each call: cheap, and keeps the tables const. */
	struct option all[64];
	char shorts[64];
	size_t n = 0, ncmd = 0;
	int c;

	for (size_t i = 0; i < sizeof(global_opts) / sizeof(global_opts[0]); i++)
		all[n++] = global_opts[i];
	while (cmd_opts && cmd_opts[ncmd].name && n < 63)
		all[n++] = cmd_opts[ncmd++];
	memset(&all[n], 0, sizeof(all[n]));
	/* Before the command (shortopts NULL) stop at the first operand, the command's name;
	 * within a command, operands may come before options ("check contoso.com --json"). */
	snprintf(shorts, sizeof(shorts), "+qv%s", shortopts ? shortopts : "");
	for (;;) {
		opterr = 0;
		c = getopt_long(argc, argv, shortopts ? shorts + 1 : shorts, all, NULL);
		switch (c) {
		case OPT_STATE:
			app->state_path = optarg;
			continue;
		case OPT_CONFIG:
			app->config_path = optarg;
			app->config_given = true;
			continue;
		case OPT_RESOLVER_CONF:
			app->resolver_conf = optarg;
			continue;
		case OPT_CACERT:
			app->cacert = optarg;
			continue;
		case OPT_JSON:
			app->json = true;
			continue;
		case OPT_COLOR:
			if (!strcmp(optarg, "auto"))
				app->color_mode = MX_COLOR_AUTO;
			else if (!strcmp(optarg, "always"))
				app->color_mode = MX_COLOR_ALWAYS;
			else if (!strcmp(optarg, "never"))
				app->color_mode = MX_COLOR_NEVER;
			else {
				mx_cli_usage_error(shortopts ? argv[0] : NULL,
				    "--color=%s: use auto, always or never", optarg);
				return '?';
			}
			continue;
		case 'q':
			app->verbosity = -1;
			continue;
		case 'v':
			app->verbosity = 1;
			continue;
		case OPT_HELP:
			return 'h';
		case OPT_VERSION:
			printf("mxcutover %s\n", MX_VERSION);
			exit(0);
		case '?':
			if (optopt && optopt < 256 && isprint(optopt))
				mx_cli_usage_error(shortopts ? argv[0] : NULL,
				    "unknown or incomplete option -%c", optopt);
			else
				mx_cli_usage_error(shortopts ? argv[0] : NULL,
				    "unknown or incomplete option %s", argv[optind - 1]);
			return '?';
		case ':':
			mx_cli_usage_error(shortopts ? argv[0] : NULL, "option %s needs a value",
			    argv[optind - 1]);
			return '?';
		case -1:
			*argv_index = optind;
			return -1;
		default:
			return c;
		}
	}
}

int mx_cli_load_config(struct mx_app *app, struct mx_err *err)
{
	if (app->conf)
		return MX_OK;
	return mx_conf_load(app->config_path, app->config_given, &app->conf, err);
}

const struct mx_conf_section *mx_cli_provider(struct mx_app *app, const char *cmd, const char *name)
{
	const struct mx_conf_section *s = mx_conf_provider(app->conf, name);
	char known[256] = "";
	size_t used = 0;

	if (s)
		return s;
	if (!app->conf->path) {
		mx_cli_usage_error(cmd,
		    "--provider %s: there is no config file at %s; create it with a "
		    "[provider.%s] section (man mxcutover, CONFIGURATION) or pass --config",
		    name, app->config_path, name);
		return NULL;
	}
	mx_cli_provider_names(app, known, sizeof(known));
	used = strlen(known);
	mx_cli_usage_error(cmd, "--provider %s: the config %s has no [provider.%s]%s%s", name,
	    app->conf->path, name, used ? "; it has " : "", known);
	return NULL;
}

static int grow(char ***v, size_t n)
{
	char **g = realloc(*v, (n + 1) * sizeof(**v));

	if (!g)
		return -1;
	*v = g;
	return 0;
}

static int by_name(const void *a, const void *b, void *names)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(((char **)names)[i], ((char **)names)[j]);

	return c ? c : (i > j) - (i < j);
}

/* Keeps each domain once, at its first place in the list: a later line naming it again adds
 * nothing, or its target host when the first gave none. Two different target hosts for one
 * domain are MX_EINVAL (where, e.g. "--file F: ", opens the message). */
static int list_unique(
    const char *where, char **domains, char **targets, size_t *n, struct mx_err *err)
{
	size_t *ix, k = 0;
	int rc = MX_OK;

	if (*n < 2)
		return MX_OK;
	if (!(ix = malloc(*n * sizeof(*ix))))
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	for (size_t i = 0; i < *n; i++)
		ix[i] = i;
	qsort_r(ix, *n, sizeof(*ix), by_name, domains);
	for (size_t a = 0, b; a < *n; a = b) {
		size_t first = ix[a];

		for (b = a + 1; b < *n && !strcmp(domains[ix[b]], domains[first]); b++) {
			char **t = &targets[first], **u = &targets[ix[b]];

			if (*t && *u && strcmp(*t, *u)) {
				rc = mx_err_set(err, MX_EINVAL,
				    "%s%s is listed twice with different target hosts (%s and %s); "
				    "list each domain once",
				    where, domains[first], *t, *u);
				goto out;
			}
			if (!*t) {
				*t = *u;
				*u = NULL;
			}
			free(domains[ix[b]]);
			domains[ix[b]] = NULL;
		}
	}
	for (size_t i = 0; i < *n; i++) {
		if (domains[i]) {
			domains[k] = domains[i];
			targets[k++] = targets[i];
		} else {
			free(targets[i]);
		}
	}
	*n = k;
out:
	free(ix);
	return rc;
}

int mx_cli_read_list(
    const char *path, char ***domains, char ***targets, size_t *n, struct mx_err *err)
{
	char *line = NULL, *save, *tok, *host, norm[MX_NAME_MAX + 1], what[300];
	size_t cap = 0;
	int lineno = 0, rc = MX_OK;
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;

	if (!fp)
		return mx_err_set(err, errno == ENOENT ? MX_EINVAL : MX_EIO, "--file %s: %s", path,
		    strerror(errno));
	while (getline(&line, &cap, fp) >= 0) {
		char *hash = strchr(line, '#');

		lineno++;
		if (hash)
			*hash = '\0';
		/* A list saved by a Windows editor may begin with a UTF-8 byte order mark. */
		if (lineno == 1 && !strncmp(line, "\xef\xbb\xbf", 3))
			memmove(line, line + 3, strlen(line + 3) + 1);
		tok = strtok_r(line, " \t\r\n,", &save);
		if (!tok)
			continue;
		host = strtok_r(NULL, " \t\r\n,", &save);
		snprintf(what, sizeof(what), "--file %s line %d: domain", path, lineno);
		rc = mx_domain_normalize(tok, what, norm, sizeof(norm), err);
		if (rc)
			goto out;
		if (grow(domains, *n) || grow(targets, *n) || !((*domains)[*n] = strdup(norm))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		(*targets)[*n] = NULL;
		(*n)++;
		if (host) {
			snprintf(
			    what, sizeof(what), "--file %s line %d: target host", path, lineno);
			rc = mx_domain_normalize(host, what, norm, sizeof(norm), err);
			if (rc)
				goto out;
			if (!((*targets)[*n - 1] = strdup(norm))) {
				rc = mx_err_set(err, MX_ENOMEM, "out of memory");
				goto out;
			}
		}
		if (strtok_r(NULL, " \t\r\n,", &save)) {
			rc = mx_err_set(err, MX_EINVAL,
			    "--file %s line %d: expected \"DOMAIN [TARGET-HOST]\", found more",
			    path, lineno);
			goto out;
		}
	}
	if (ferror(fp))
		rc = mx_err_set(err, MX_EIO, "--file %s: read error", path);
	else {
		snprintf(what, sizeof(what), "--file %s: ", path);
		rc = list_unique(what, *domains, *targets, n, err);
	}
out:
	free(line);
	if (fp != stdin)
		fclose(fp);
	return rc;
}

void mx_cli_list_free(char **domains, char **targets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(domains ? domains[i] : NULL);
		free(targets ? targets[i] : NULL);
	}
	free(domains);
	free(targets);
}

int mx_cli_domains(const char *file, char *const *operands, int noperands, const char *target,
    char ***domains, char ***targets, size_t *n, struct mx_err *err)
{
	char norm[MX_NAME_MAX + 1];
	int rc;

	if (file) {
		rc = mx_cli_read_list(file, domains, targets, n, err);
		if (rc)
			return rc;
	}
	for (int i = 0; i < noperands; i++) {
		rc = mx_domain_normalize(operands[i], "domain", norm, sizeof(norm), err);
		if (rc)
			return rc;
		if (grow(domains, *n) || grow(targets, *n) || !((*domains)[*n] = strdup(norm)))
			return mx_err_set(err, MX_ENOMEM, "out of memory");
		(*targets)[(*n)++] = NULL;
	}
	if (noperands && (rc = list_unique("", *domains, *targets, n, err)))
		return rc;
	if (file && !*n)
		return mx_err_set(err, MX_EINVAL,
		    "--file %s lists no domain (one per line, \"DOMAIN [TARGET-HOST]\"; # starts a "
		    "comment)",
		    file);
	if (!target)
		return MX_OK;
	if (!*n)
		return mx_err_set(err, MX_EINVAL,
		    "--target-mx %s names no domain: give the domain it is for, e.g. DOMAIN "
		    "--target-mx %s",
		    target, target);
	if (*n != 1)
		return mx_err_set(err, MX_EINVAL,
		    "--target-mx applies to exactly one domain; with several, give each target "
		    "after its domain in --file");
	rc = mx_domain_normalize(target, "--target-mx", norm, sizeof(norm), err);
	if (rc)
		return rc;
	free((*targets)[0]);
	(*targets)[0] = strdup(norm);
	return (*targets)[0] ? MX_OK : mx_err_set(err, MX_ENOMEM, "out of memory");
}

/* Prints a long option once (seen holds those printed). */
static void complete_flag(const char *p, size_t n, char *seen, size_t seenlen)
{
	char flag[64];

	snprintf(flag, sizeof(flag), "%.*s ", (int)n, p);
	if (strstr(seen, flag) || strlen(seen) + strlen(flag) >= seenlen)
		return;
	strcat(seen, flag);
	printf("%.*s\n", (int)n, p);
}

static size_t flag_len(const char *p)
{
	size_t n = 0;

	while (p[n] == '-' || isalnum((unsigned char)p[n]))
		n++;
	return n;
}

/* The long options of a command: every "--word" of its usage (option_lines false), or of its
 * help the names that open an option line ("  -o, --output FILE  what it does"), not the
 * options its descriptions mention. */
static void complete_flags_of(const char *text, bool option_lines, char *seen, size_t seenlen)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p);
		size_t n;

		if (option_lines) {
			while (p < end && *p == ' ')
				p++;
			while (p < end && *p == '-') {
				n = flag_len(p);
				if (n > 2 && p[1] == '-')
					complete_flag(p, n, seen, seenlen);
				p += n;
				if (strncmp(p, ", ", 2))
					break;
				p += 2;
			}
		} else {
			for (; p < end; p++) {
				if (p[0] != '-' || p[1] != '-' ||
				    (p > text && isalnum((unsigned char)p[-1])))
					continue;
				n = flag_len(p);
				complete_flag(p, n, seen, seenlen);
				p += n - 1;
			}
		}
		p = eol ? eol + 1 : end;
	}
}

/* `mxcutover __complete WHAT [COMMAND]`, for the shell completion scripts (completion/):
 * commands, flags (global, or a command's from its usage and help), formats, color modes,
 * the config's providers, the state database's domains. Prints one word per line and
 * nothing on error; never creates a file. */
static int complete(struct mx_app *app, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	char seen[2048] = "";
	struct mx_err err;

	mx_err_clear(&err);
	if (!strcmp(what, "commands")) {
		for (size_t i = 0; i < NCOMMANDS; i++)
			printf("%s\n", commands[i].name);
	} else if (!strcmp(what, "flags")) {
		const struct cmd *c = argc > 2 ? find_cmd(argv[2]) : NULL;

		if (c) {
			complete_flags_of(c->usage, false, seen, sizeof(seen));
			complete_flags_of(c->help, true, seen, sizeof(seen));
		}
		for (size_t i = 0; i < sizeof(global_opts) / sizeof(global_opts[0]); i++)
			printf("--%s\n", global_opts[i].name);
	} else if (!strcmp(what, "formats")) {
		printf("text\njson\nmarkdown\nnsupdate\npowershell\n");
	} else if (!strcmp(what, "colors")) {
		printf("auto\nalways\nnever\n");
	} else if (!strcmp(what, "providers")) {
		if (!mx_cli_load_config(app, &err))
			for (size_t i = 0; i < app->conf->nprov; i++)
				printf("%s\n", app->conf->prov[i].name);
	} else if (!strcmp(what, "domains")) {
		struct jnl *j = NULL;
		struct jnl_run *runs = NULL;
		size_t n = 0;

		if (!jnl_open_ro(app->state_path, &j, &err) && j &&
		    !jnl_run_list(j, &runs, &n, &err))
			for (size_t i = 0; i < n; i++)
				printf("%s\n", runs[i].domain);
		for (size_t i = 0; i < n; i++)
			jnl_run_clear(&runs[i]);
		free(runs);
		jnl_close(j);
	}
	return MX_EXIT_OK;
}

static int setup_paths(struct mx_app *app, struct mx_err *err)
{
	int rc;

	if (!app->state_path) {
		rc = mx_path_default_state(&app->default_state, err);
		if (rc)
			return rc;
		app->state_path = app->default_state;
	}
	if (!app->config_path) {
		rc = mx_path_default_config(&app->default_config, err);
		if (rc)
			return rc;
		app->config_path = app->default_config;
	}
	return MX_OK;
}

bool mx_cli_color(const struct mx_app *app, bool tty)
{
	const char *no_color = getenv("NO_COLOR");

	if (app->color_mode != MX_COLOR_AUTO)
		return app->color_mode == MX_COLOR_ALWAYS;
	return tty && !(no_color && *no_color);
}

int mx_cli_main(int argc, char **argv)
{
	struct mx_app app;
	struct mx_err err;
	const struct cmd *c = NULL;
	int status, idx = 0, opt;

	memset(&app, 0, sizeof(app));
	mx_err_clear(&err);
	app.out = stdout;
	app.msg = stdout;

	/* Global options before the command. */
	while ((opt = mx_cli_getopt(&app, argc, argv, NULL, NULL, &idx)) != -1) {
		if (opt == 'h') {
			mx_cli_help(stdout, NULL);
			return MX_EXIT_OK;
		}
		if (opt == '?')
			return MX_EXIT_USAGE;
		/* A command option before the command: stop, the command will see it. */
		idx = optind - 1;
		break;
	}
	if (idx >= argc) {
		if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
			c = find_cmd("tui");
		else
			return mx_cli_usage_error(NULL,
			    "name a command (check, plan, run, resume, rollback, status, "
			    "outbound); the wizard needs a terminal");
	} else if (!strcmp(argv[idx], "__complete")) {
		status =
		    setup_paths(&app, &err) ? MX_EXIT_OK : complete(&app, argc - idx, argv + idx);
		goto out;
	} else {
		c = find_cmd(argv[idx]);
		if (!c)
			return mx_cli_usage_error(NULL, "unknown command \"%s\"", argv[idx]);
	}
	if (app.json)
		app.msg = stderr;
	status = setup_paths(&app, &err);
	if (status) {
		status = mx_cli_fail(&app, &err);
		goto out;
	}
	/* The command parses again from its own name, so globals after it work too. */
	optind = 0;
	{
		int cargc = idx < argc ? argc - idx : 1;
		static char tui_name[] = "tui";
		char *tui_argv[] = {tui_name, NULL};
		char **cargv = idx < argc ? argv + idx : tui_argv;

		app.color = mx_cli_color(&app, !app.json && isatty(fileno(app.msg)));
		if (c->fn == mx_cmd_tui && app.json)
			status = mx_cli_usage_error("tui",
			    "the wizard draws on the terminal and has no --json; use check, "
			    "plan, run or status with --json in scripts");
		else
			status = c->fn(&app, cargc, cargv);
	}
	/* The contract: a command that ends non-zero says why on its last stderr line. */
	if (status != MX_EXIT_OK && !reason_given)
		mx_cli_reason(status,
		    "%s stopped with exit status %d without a message; run it again with -v "
		    "and report the output",
		    c->name, status);
out:
	mx_conf_free(app.conf);
	free(app.default_state);
	free(app.default_config);
	return status;
}

int mx_cli_fit(char *line, int fd)
{
	struct winsize ws;
	size_t n = strlen(line);

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && n >= ws.ws_col) {
		n = ws.ws_col - 1u;
		while (n > 0 && ((unsigned char)line[n] & 0xC0) == 0x80)
			n--; /* not inside a character */
		line[n] = '\0';
	}
	return (int)n;
}
