/* SPDX-License-Identifier: MIT */
/* src/plan_render.c — the plan's formats, each rendered from the plan document. */
#include <string.h>

#include "plan.h"

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long num(json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

static void rrset_line(FILE *fp, json_t *set, const char *indent)
{
	json_t *v;
	size_t i;
	bool txt = !strcmp(str(set, "type"), "TXT");

	fprintf(
	    fp, "%s%s %s (TTL %ld):", indent, str(set, "name"), str(set, "type"), num(set, "ttl"));
	if (!json_array_size(json_object_get(set, "values")))
		fprintf(fp, " (none)");
	json_array_foreach(json_object_get(set, "values"), i, v)
	    fprintf(fp, txt ? "%s \"%s\"" : "%s %s", i ? "," : "", json_string_value(v));
	fputc('\n', fp);
}

/* Prints a multi-line text with prefix before every line after the first (CR dropped). */
static void print_lines(FILE *fp, const char *first, const char *prefix, const char *text)
{
	fputs(first, fp);
	for (; *text; text++) {
		if (*text == '\r')
			continue;
		fputc(*text, fp);
		if (*text == '\n' && text[1])
			fputs(prefix, fp);
	}
	fputc('\n', fp);
}

static void duration(char *buf, size_t len, long s)
{
	if (s >= 3600 && s % 3600 == 0)
		snprintf(buf, len, "%ld h", s / 3600);
	else if (s >= 60 && s % 60 == 0)
		snprintf(buf, len, "%ld min", s / 60);
	else
		snprintf(buf, len, "%ld s", s);
}

static void render_text(json_t *p, FILE *fp, bool md)
{
	json_t *st, *b, *snap = json_object_get(p, "snapshot");
	size_t i;
	long total = 0;
	char d[32];

	if (md) {
		fprintf(fp, "# Change: move the MX of %s to %s\n\n", str(p, "domain"),
		    str(p, "target"));
		fprintf(fp,
		    "| | |\n|---|---|\n| Domain | %s |\n| New MX host | %s |\n"
		    "| DNS provider | %s (%s) |\n| Plan made | %s |\n"
		    "| Snapshot checksum | `%s` |\n\n",
		    str(p, "domain"), str(p, "target"), str(p, "provider"), str(p, "provider_type"),
		    str(p, "created_at"), str(snap, "checksum"));
		fprintf(fp, "## Records before\n\n```\n");
	} else {
		fprintf(fp, "Plan: move the MX of %s to %s (provider %s)\n", str(p, "domain"),
		    str(p, "target"), str(p, "provider"));
		fprintf(fp, "Snapshot %s, made %s\nBefore:\n", str(snap, "checksum"),
		    str(p, "created_at"));
	}
	rrset_line(fp, json_object_get(snap, "mx"), "  ");
	if (json_array_size(json_object_get(json_object_get(snap, "mta_sts_txt"), "values")))
		rrset_line(fp, json_object_get(snap, "mta_sts_txt"), "  ");
	if (md)
		fprintf(fp, "```\n\n");
	if (json_array_size(json_object_get(p, "blockers"))) {
		fprintf(fp, md ? "## Blockers found by the checks\n\n" : "Blockers:\n");
		json_array_foreach(json_object_get(p, "blockers"), i, b)
		    fprintf(fp, "%s%s\n", md ? "- " : "  ! ", json_string_value(b));
		fputc('\n', fp);
	}
	fprintf(fp, md ? "## Steps\n\n" : "Steps:\n");
	json_array_foreach(json_object_get(p, "steps"), i, st)
	{
		long wait = num(st, "wait_seconds");

		total += wait;
		fprintf(fp, md ? "%zu. **%s** (`%s`) — %s\n" : "%2zu. %s [%s]: %s\n", i + 1,
		    str(st, "title"), str(st, "key"), str(st, "why"));
		if (json_object_get(st, "after")) {
			if (md)
				fprintf(fp, "   ```\n");
			rrset_line(fp, json_object_get(st, "after"), md ? "   " : "      → ");
			if (md)
				fprintf(fp, "   ```\n");
		}
		if (wait) {
			duration(d, sizeof(d), wait);
			fprintf(fp, md ? "   Wait %s.\n" : "      wait %s\n", d);
		}
		if (json_object_get(st, "gate"))
			print_lines(fp,
			    md ? "   Gate: " : "      gate: ", md ? "   > " : "            ",
			    str(st, "gate"));
	}
	duration(d, sizeof(d), total);
	fprintf(fp,
	    md ? "\nWaits add up to %s, plus the gates.\n\n## Rollback\n\n"
	       : "Waits: %s in all, plus the gates.\nRollback (mail-safe order):\n",
	    d);
	json_array_foreach(json_object_get(p, "rollback"), i, st)
	{
		const char *action = str(st, "action");

		fprintf(fp, md ? "%zu. " : "  %zu. ", i + 1);
		if (!strcmp(action, "gate"))
			fprintf(fp, "%s\n", str(st, "text"));
		else if (!strcmp(action, "wait")) {
			duration(d, sizeof(d), num(st, "wait_seconds"));
			fprintf(fp, "wait %s\n", d);
		} else
			rrset_line(fp, json_object_get(st, "after"), "set ");
	}
}

static void nsupdate_set(FILE *fp, json_t *set)
{
	json_t *v;
	size_t i;
	bool txt = !strcmp(str(set, "type"), "TXT");

	fprintf(fp, "update delete %s. %s\n", str(set, "name"), str(set, "type"));
	json_array_foreach(json_object_get(set, "values"), i, v)
	{
		const char *s = json_string_value(v);

		if (txt)
			fprintf(fp, "update add %s. %ld TXT \"%s\"\n", str(set, "name"),
			    num(set, "ttl"), s);
		else {
			const char *sp = strchr(s, ' ');

			fprintf(fp, "update add %s. %ld MX %.*s %s.\n", str(set, "name"),
			    num(set, "ttl"), sp ? (int)(sp - s) : 0, s, sp ? sp + 1 : s);
		}
	}
	fprintf(fp, "send\n");
}

static void render_nsupdate(json_t *p, const char *server, FILE *fp)
{
	json_t *st;
	size_t i;
	char d[32];

	fprintf(
	    fp, "; nsupdate script: move the MX of %s to %s\n", str(p, "domain"), str(p, "target"));
	fprintf(fp,
	    "; Run the blocks one at a time, with the waits between them:\n"
	    ";   nsupdate -y hmac-sha256:KEYNAME:SECRET  (or -k keyfile) < this-file\n"
	    "; Snapshot %s\n",
	    str(json_object_get(p, "snapshot"), "checksum"));
	if (server) {
		char host[128];
		const char *at = strchr(server, '@');

		snprintf(host, sizeof(host), "%.*s", at ? (int)(at - server) : (int)strlen(server),
		    server);
		fprintf(fp, "server %s%s%s\n", host, at ? " " : "", at ? at + 1 : "");
	} else {
		fprintf(fp, "; server PRIMARY-ADDRESS\n");
	}
	fprintf(fp, "zone %s.\n\n", str(p, "domain"));
	json_array_foreach(json_object_get(p, "steps"), i, st)
	{
		fprintf(fp, "; %zu. %s (%s)\n", i + 1, str(st, "title"), str(st, "key"));
		if (json_object_get(st, "gate"))
			print_lines(fp, ";    gate: ", ";      ", str(st, "gate"));
		if (num(st, "wait_seconds")) {
			duration(d, sizeof(d), num(st, "wait_seconds"));
			fprintf(fp, ";    wait %s before the next block\n", d);
		}
		if (json_object_get(st, "after"))
			nsupdate_set(fp, json_object_get(st, "after"));
		fputc('\n', fp);
	}
	fprintf(fp, "; Rollback, if needed (mail-safe order):\n");
	json_array_foreach(json_object_get(p, "rollback"), i, st)
	{
		if (json_object_get(st, "after")) {
			fprintf(fp, "; rollback %zu\n", i + 1);
			nsupdate_set(fp, json_object_get(st, "after"));
		} else {
			fprintf(fp, "; rollback %zu: %s%ld\n", i + 1,
			    json_object_get(st, "text") ? str(st, "text") : "wait seconds: ",
			    json_object_get(st, "text") ? 0L : num(st, "wait_seconds"));
		}
	}
}

static void render_powershell(json_t *p, FILE *fp)
{
	const char *d = str(p, "domain");
	long pref = num(json_object_get(p, "settings"), "final_preference");

	fprintf(fp,
	    "# Exchange Online side of the MX cutover of %s.\n"
	    "# Run in Exchange Online PowerShell (Connect-ExchangeOnline) as an Exchange admin.\n\n"
	    "# 1. Before the cutover: enable DNSSEC for the domain. The output's DnssecMxValue\n"
	    "#    is the new MX host; give it to mxcutover as --target-mx, exactly as printed\n"
	    "#    (the plan assumes %s).\n"
	    "Enable-DnssecForVerifiedDomain -DomainName %s\n\n"
	    "# 2. Any time: what Exchange Online expects and sees. Its ExpectedMxRecord uses\n"
	    "#    preference 10 (error EX003 otherwise) while Microsoft's documented end state is\n"
	    "#    0; this plan ends at preference %ld (final_preference in the config).\n"
	    "Get-DnssecStatusForVerifiedDomain -DomainName %s\n\n"
	    "# 3. After the MX points only at the new host (step remove_legacy): enable inbound\n"
	    "#    DANE. Microsoft then publishes TLSA at _25._tcp.%s (15-60 min).\n"
	    "Enable-SmtpDaneInbound -DomainName %s\n\n"
	    "# Rollback: disable DANE first, before the MX goes back to the legacy host.\n"
	    "# Disable-SmtpDaneInbound -DomainName %s\n"
	    "# Never run Disable-DnssecForVerifiedDomain while the new MX is live.\n",
	    d, str(p, "target"), d, pref, d, str(p, "target"), d, d);
}

int mx_plan_render(
    json_t *plan, enum mx_plan_format fmt, const char *server, FILE *fp, struct mx_err *err)
{
	switch (fmt) {
	case PLAN_JSON:
		if (json_dumpf(plan, fp, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII))
			return mx_err_set(err, MX_EIO, "cannot write the plan");
		fputc('\n', fp);
		break;
	case PLAN_TEXT:
		render_text(plan, fp, false);
		break;
	case PLAN_MARKDOWN:
		render_text(plan, fp, true);
		break;
	case PLAN_NSUPDATE:
		render_nsupdate(plan, server, fp);
		break;
	case PLAN_POWERSHELL:
		render_powershell(plan, fp);
		break;
	}
	if (fflush(fp) || ferror(fp))
		return mx_err_set(err, MX_EIO, "cannot write the plan");
	return MX_OK;
}
