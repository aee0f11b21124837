/* SPDX-License-Identifier: MIT */
/* src/plan_render.c — the plan's formats, each rendered from the plan document. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		if (json_object_get(st, "exchange_call"))
			fprintf(fp,
			    md ? "   Calls (Exchange Online admin API): `%s`\n"
			       : "      calls (Exchange Online admin API): %s\n",
			    str(st, "exchange_call"));
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

/* The server and zone lines that open every block, so each one stands on its own. */
static void nsupdate_head(FILE *fp, json_t *p, const char *server)
{
	if (server) {
		char host[128];
		const char *at = strchr(server, '@');

		snprintf(host, sizeof(host), "%.*s", at ? (int)(at - server) : (int)strlen(server),
		    server);
		fprintf(fp, "server %s%s%s\n", host, at ? " " : "", at ? at + 1 : "");
	} else {
		fprintf(fp, "; server PRIMARY-ADDRESS\n");
	}
	fprintf(fp, "zone %s.\n", str(p, "domain"));
}

/* A single file must never be one command away from a cutover without its waits: every block
 * is preceded by a line in capitals that nsupdate rejects, so `nsupdate < file` stops with a
 * syntax error before it sends anything, while a person pastes one block at a time. */
static void render_nsupdate(json_t *p, const char *server, FILE *fp)
{
	json_t *st;
	size_t i;
	char d[32];

	fprintf(fp,
	    "; nsupdate commands: move the MX of %s to %s\n"
	    "; Snapshot %s\n"
	    "; Paste ONE block at a time into an interactive `nsupdate -k KEYFILE` and honour the\n"
	    "; waits and gates written between the blocks: they are what keeps mail flowing.\n"
	    "; The lines in capitals are not nsupdate commands: they make nsupdate refuse this\n"
	    "; file as a whole before it changes anything. For one file per step, in order, use\n"
	    ";   mxcutover plan %s --target-mx %s --provider %s --format nsupdate -o DIR/\n"
	    "STOP: this file is pasted one block at a time, never run whole\n\n",
	    str(p, "domain"), str(p, "target"), str(json_object_get(p, "snapshot"), "checksum"),
	    str(p, "domain"), str(p, "target"), str(p, "provider"));
	json_array_foreach(json_object_get(p, "steps"), i, st)
	{
		fprintf(fp, "; %zu. %s (%s)\n", i + 1, str(st, "title"), str(st, "key"));
		if (json_object_get(st, "gate"))
			print_lines(fp, ";    gate: ", ";      ", str(st, "gate"));
		if (json_object_get(st, "exchange_call"))
			fprintf(fp,
			    ";    Exchange Online: %s (mxcutover calls it through the admin API)\n",
			    str(st, "exchange_call"));
		if (num(st, "wait_seconds")) {
			duration(d, sizeof(d), num(st, "wait_seconds"));
			fprintf(fp, "WAIT: %s before the next block\n", d);
		}
		if (json_object_get(st, "after")) {
			if (json_object_get(st, "gate"))
				fprintf(fp, "GATE: only once the gate above is done\n");
			nsupdate_head(fp, p, server);
			nsupdate_set(fp, json_object_get(st, "after"));
			fprintf(fp, "NEXT: only once every name server serves the change above\n");
		}
		fputc('\n', fp);
	}
	fprintf(fp, "; Rollback, if needed (mail-safe order):\n"
		    "ROLLBACK: only if the cutover must be undone, one block at a time\n");
	json_array_foreach(json_object_get(p, "rollback"), i, st)
	{
		fprintf(fp, "; rollback %zu. %s (%s)\n", i + 1, str(st, "title"), str(st, "key"));
		if (json_object_get(st, "gate"))
			print_lines(fp, ";    gate: ", ";      ", str(st, "gate"));
		if (num(st, "wait_seconds")) {
			duration(d, sizeof(d), num(st, "wait_seconds"));
			fprintf(fp, "WAIT: %s before the next block\n", d);
		}
		if (json_object_get(st, "after")) {
			if (json_object_get(st, "gate"))
				fprintf(fp, "GATE: only once the gate above is done\n");
			nsupdate_head(fp, p, server);
			nsupdate_set(fp, json_object_get(st, "after"));
			fprintf(fp, "NEXT: only once every name server serves the change above\n");
		}
	}
}

/* Writes text to dir/name through a temporary file renamed into place. */
static int write_file(const char *dir, const char *name, const char *text, struct mx_err *err)
{
	char path[4096], tmp[4200];
	FILE *fp;
	int rc = MX_OK;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fp = fopen(tmp, "w");
	if (!fp)
		return mx_err_set(err, MX_EIO, "-o %s: %s", path, strerror(errno));
	fputs(text, fp);
	if (ferror(fp) | fclose(fp))
		rc = mx_err_set(err, MX_EIO, "-o %s: cannot write: %s", path, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = mx_err_set(err, MX_EIO, "-o %s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* One file in memory: open_memstream with its buffer. */
struct membuf {
	char *text;
	size_t len;
	FILE *fp;
};

static int mem_open(struct membuf *m, struct mx_err *err)
{
	m->text = NULL;
	m->fp = open_memstream(&m->text, &m->len);
	return m->fp ? MX_OK : mx_err_set(err, MX_ENOMEM, "out of memory");
}

static int mem_close_write(struct membuf *m, const char *dir, const char *name, struct mx_err *err)
{
	int rc = fclose(m->fp) ? mx_err_set(err, MX_ENOMEM, "out of memory") : MX_OK;

	if (!rc)
		rc = write_file(dir, name, m->text, err);
	free(m->text);
	return rc;
}

int mx_plan_render_dir(json_t *p, const char *server, const char *dir, struct mx_err *err)
{
	struct membuf readme, f;
	json_t *st;
	size_t i;
	int rc, nfile = 0, nrb = 0;
	char name[128], d[32];

	if (mkdir(dir, 0755) && errno != EEXIST)
		return mx_err_set(err, MX_EIO, "-o %s: %s", dir, strerror(errno));
	rc = mem_open(&readme, err);
	if (rc)
		return rc;
	fprintf(readme.fp,
	    "Cutover of %s to %s: one nsupdate file per step that writes DNS.\n"
	    "Snapshot %s\n\n"
	    "Run the files ONE AT A TIME, in this order, each with\n"
	    "    nsupdate -k KEYFILE NN-STEP.nsupdate\n"
	    "and do what is written between them before the next one. Never run them together\n"
	    "(cat *.nsupdate | nsupdate): the waits are what keeps mail flowing.\n"
	    "`mxcutover run` does all of this, with the waits, by itself.\n\n",
	    str(p, "domain"), str(p, "target"), str(json_object_get(p, "snapshot"), "checksum"));
	json_array_foreach(json_object_get(p, "steps"), i, st)
	{
		if (json_object_get(st, "after")) {
			snprintf(name, sizeof(name), "%02d-%s.nsupdate", ++nfile, str(st, "key"));
			fprintf(readme.fp, "%2zu. %s: %s\n", i + 1, name, str(st, "title"));
			if (json_object_get(st, "gate"))
				print_lines(readme.fp, "    first: ", "        ", str(st, "gate"));
			fprintf(readme.fp, "    then wait until every name server serves it\n");
			rc = mem_open(&f, err);
			if (rc)
				goto out;
			fprintf(f.fp, "; %s of %s (%s), file %d: run it alone, see README\n",
			    str(st, "title"), str(p, "domain"), str(st, "key"), nfile);
			if (json_object_get(st, "gate"))
				print_lines(f.fp, "; first: ", ";        ", str(st, "gate"));
			nsupdate_head(f.fp, p, server);
			nsupdate_set(f.fp, json_object_get(st, "after"));
			rc = mem_close_write(&f, dir, name, err);
			if (rc)
				goto out;
		} else {
			fprintf(
			    readme.fp, "%2zu. %s (%s)\n", i + 1, str(st, "title"), str(st, "key"));
			if (json_object_get(st, "gate"))
				print_lines(readme.fp, "    ", "    ", str(st, "gate"));
		}
		if (num(st, "wait_seconds")) {
			duration(d, sizeof(d), num(st, "wait_seconds"));
			fprintf(readme.fp, "    WAIT %s before the next file\n", d);
		}
	}
	fprintf(readme.fp, "\nRollback, only if needed, in this order:\n");
	json_array_foreach(json_object_get(p, "rollback"), i, st)
	{
		fprintf(readme.fp, "%2zu. %s (%s)\n", i + 1, str(st, "title"), str(st, "key"));
		if (json_object_get(st, "gate"))
			print_lines(readme.fp, "    ", "    ", str(st, "gate"));
		if (json_object_get(st, "after")) {
			snprintf(name, sizeof(name), "rollback-%02d.nsupdate", ++nrb);
			fprintf(readme.fp, "    %s\n", name);
			rc = mem_open(&f, err);
			if (rc)
				goto out;
			fprintf(f.fp, "; rollback of %s, file %d: run it alone, see README\n",
			    str(p, "domain"), nrb);
			nsupdate_head(f.fp, p, server);
			nsupdate_set(f.fp, json_object_get(st, "after"));
			rc = mem_close_write(&f, dir, name, err);
			if (rc)
				goto out;
		}
		if (num(st, "wait_seconds")) {
			duration(d, sizeof(d), num(st, "wait_seconds"));
			fprintf(readme.fp, "    WAIT %s before the next file\n", d);
		}
	}
out:
	if (rc) {
		fclose(readme.fp);
		free(readme.text);
		return rc;
	}
	return mem_close_write(&readme, dir, "README", err);
}

static void render_powershell(json_t *p, FILE *fp)
{
	const char *d = str(p, "domain");
	long pref = num(json_object_get(p, "settings"), "final_preference");

	if (json_is_true(json_object_get(p, "exchange"))) {
		fprintf(fp,
		    "# Exchange Online side of the MX cutover of %s.\n"
		    "# The config has an [exchange] section: mxcutover itself calls these cmdlets\n"
		    "# through the Exchange Online admin API, at the steps named; nothing here is\n"
		    "# for a person to run. For the record:\n"
		    "#   exo_provision      Enable-DnssecForVerifiedDomain -DomainName %s\n"
		    "#                      (DnssecMxValue is the target, %s)\n"
		    "#   exo_mx_validation  Get-DnssecStatusForVerifiedDomain -DomainName %s\n"
		    "#                      (MxValidation; final_preference %ld)\n"
		    "#   dane_enable        Enable-SmtpDaneInbound -DomainName %s\n"
		    "#   rb_dane            Disable-SmtpDaneInbound -DomainName %s (a rollback,\n"
		    "#                      only when the run enabled it)\n"
		    "# Disable-DnssecForVerifiedDomain is never called.\n",
		    d, d, str(p, "target"), d, pref, d, d);
		return;
	}
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
	    "# 3. Only after the MX points at the new host alone (step remove_legacy, after the\n"
	    "#    waits): enable inbound DANE. Microsoft then publishes TLSA at _25._tcp.%s\n"
	    "#    (15-60 min). Commented out so that running this file whole cannot enable it\n"
	    "#    before the cutover; run the line by hand at that point:\n"
	    "# Enable-SmtpDaneInbound -DomainName %s\n\n"
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
