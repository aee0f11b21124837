/* SPDX-License-Identifier: MIT */
/* src/cli.h — the command line (docs/contract.md, section 1): global options, the subcommand
 * table, and what every subcommand shares (config, paths, output mode). */
#ifndef MX_CLI_H
#define MX_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"
#include "err.h"

/* --color: auto (a terminal, and NO_COLOR unset or empty), always, never. */
enum mx_color_mode { MX_COLOR_AUTO = 0, MX_COLOR_ALWAYS, MX_COLOR_NEVER };

struct mx_app {
	const char *state_path;	       /* --state, else the XDG default */
	const char *config_path;       /* --config, else the XDG default */
	bool config_given;	       /* --config named a file: it must exist */
	const char *resolver_conf;     /* --resolver-conf or NULL */
	const char *cacert;	       /* --cacert or NULL */
	bool json;		       /* --json: one JSON document on stdout */
	int verbosity;		       /* -q: -1, default 0, -v: 1 */
	enum mx_color_mode color_mode; /* --color */
	bool color;		       /* human text may use colour (mx_cli_color for app->msg) */
	FILE *out;		       /* the document: stdout */
	FILE *msg;		       /* human text: stderr with --json, else stdout */
	struct mx_conf *conf;	       /* loaded before the command runs */
	char *default_state;	       /* owned storage for the defaults */
	char *default_config;
};

/* Whether output to a stream that is (tty) or is not a terminal gets colour: --color=always
 * and never decide; auto colours a terminal unless NO_COLOR is set and not empty. The one
 * place that decides, for the command line and the wizard. */
bool mx_cli_color(const struct mx_app *app, bool tty);

/* Entry point of the program; returns the exit status (enum mx_exit). */
int mx_cli_main(int argc, char **argv);

/* Prints "mxcutover: <message>" on stderr (one line) and returns the exit status for rc. */
int mx_cli_fail(struct mx_app *app, const struct mx_err *err);

/* Prints "mxcutover: <message>" on stderr as the reason the command fails (one line, the fix
 * included) and returns status. Whatever a command prints after its reason must not go to
 * stderr: the contract is that its last stderr line says why it ended non-zero. */
int mx_cli_reason(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mx_cli_reason for one domain: "mxcutover: DOMAIN: msg", or "mxcutover: msg" when msg already
 * begins with the domain. */
int mx_cli_domain_reason(int status, const char *domain, const char *msg);

/* The names of the config's [provider.NAME] sections, comma-separated, into buf ("" when
 * none). */
void mx_cli_provider_names(const struct mx_app *app, char *buf, size_t len);

/* Reads a --file list: one domain per line, optionally followed by its target host; '#'
 * starts a comment. Names are normalized. Appends to *domains / *targets (target NULL when
 * not given), growing the arrays; caller frees with mx_cli_list_free. Errors name the file
 * and line. */
int mx_cli_read_list(
    const char *path, char ***domains, char ***targets, size_t *n, struct mx_err *err);
void mx_cli_list_free(char **domains, char **targets, size_t n);

/* The domains a command works on: those of --file (when file is set), then the operands, all
 * normalized; target (--target-mx) applies when exactly one domain is named. Errors are
 * MX_EINVAL (a usage error: print it with mx_cli_usage_error) or MX_EIO/MX_ENOMEM. */
int mx_cli_domains(const char *file, char *const *operands, int noperands, const char *target,
    char ***domains, char ***targets, size_t *n, struct mx_err *err);

struct option;

/* getopt_long over the global options plus a command's own (cmd_opts may be NULL; their
 * `val`s must be ≥ 256 or a short option letter listed in shortopts). Global options are
 * applied to *app here. Returns the next command option, -1 at the end (then *argv_index is
 * the first operand), 'h' for --help, or '?' after printing a one-line usage error. */
int mx_cli_getopt(struct mx_app *app, int argc, char **argv, const char *shortopts,
    const struct option *cmd_opts, int *argv_index);

/* Prints the usage and help text of a command (or the program when name is NULL). */
void mx_cli_help(FILE *fp, const char *name);

/* Cuts line (in place) to one row of the terminal on fd, never inside a UTF-8 character, so
 * that a line redrawn in place (\r, erase) never wraps; returns its length. */
int mx_cli_fit(char *line, int fd);

/* Prints a one-line usage error naming the fix and returns MX_EXIT_USAGE. */
int mx_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The [provider.NAME] section --provider names (app->conf loaded), or NULL after printing a
 * one-line usage error that says which sections exist or where the config file belongs. */
const struct mx_conf_section *mx_cli_provider(
    struct mx_app *app, const char *cmd, const char *name);

/* Loads the config (app->config_path) into app->conf. */
int mx_cli_load_config(struct mx_app *app, struct mx_err *err);

/* Subcommands implemented in their own files (src/cmd_*.c). argv[0] is the command name;
 * options already include the global ones. */
int mx_cmd_check(struct mx_app *app, int argc, char **argv);
int mx_cmd_plan(struct mx_app *app, int argc, char **argv);
int mx_cmd_run(struct mx_app *app, int argc, char **argv);
int mx_cmd_resume(struct mx_app *app, int argc, char **argv);
int mx_cmd_rollback(struct mx_app *app, int argc, char **argv);
int mx_cmd_status(struct mx_app *app, int argc, char **argv);
int mx_cmd_outbound(struct mx_app *app, int argc, char **argv);
/* `rollback --outbound CONNECTOR [--yes]` (src/cmd_outbound.c): restores the connector modes
 * that `outbound --apply` found. */
int mx_cmd_outbound_rollback(struct mx_app *app, int argc, char **argv);

/* The terminal wizard (ui/tui.c, the only code that draws): `tui [DOMAIN...] [--file FILE]
 * [--provider NAME]`. Needs a terminal on stdin and stdout; returns the exit status (1 when a
 * run was left unfinished, with how to resume it printed on stderr). */
int mx_cmd_tui(struct mx_app *app, int argc, char **argv);

#endif
