/* SPDX-License-Identifier: MIT */
/* src/check.c — the prerequisite checks, many domains at once on one event loop.
 *
 * Each domain is a little state machine driven by completion callbacks: the SOA (and the
 * target's A/AAAA/TLSA) go out first; the SOA's answer sends the rest of the zone's queries
 * (DNSKEY, MX, a made-up name, NS, the _mta-sts/_smtp._tls/apex TXT, the mta-sts host) at
 * once; NS answers start the lookups
 * of the server addresses and then direct SOA/MX queries to each server; the mta-sts
 * address starts the HTTPS fetch of the policy. When a domain's last answer arrives, every
 * check is evaluated from the stored answers and the answers are freed, so memory stays
 * bounded by the number of domains in flight. */
#include "check.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"
#include "domain.h"
#include "workers.h"
#include "loop.h"
#include "mtasts.h"
#include "mtasts_fetch.h"
#include "spf.h"
#include "target.h"
#include "tlsrpt.h"

/* Domains checked between two returns of free memory to the system (malloc_trim). */
#define CHK_TRIM_EVERY 50

/* How long the root may take to answer the probe before this machine is declared offline:
 * one priming query, normally well under a second. */
enum { CHK_DNS_PROBE_MS = 6000 };

enum slot {
	Q_DNSKEY = 0,
	Q_SOA,
	Q_MX,
	Q_NX,
	Q_NS,
	Q_STS_TXT,
	Q_TLSRPT,
	Q_APEX_TXT,
	Q_STS_A,
	Q_TARGET_A,
	Q_TARGET_AAAA,
	Q_TARGET_TLSA,
	Q_COUNT
};

struct ns_server {
	char addr[64];
	struct dns_answer *soa, *mx;
};

struct query_ctx;

struct chk_work {
	struct chk_job *job;
	struct chk_domain *d;
	int pending;
	struct query_ctx *queries; /* in flight, freed with the work if the job stops early */
	struct dns_answer *a[Q_COUNT];
	char nx_name[300];
	bool zone_missing;	/* the domain does not exist (NXDOMAIN at the apex) */
	const char *outer_zone; /* the domain is a name inside this zone, not an apex (borrowed
				 * from the SOA answer) */
	bool mx_not_microsoft;	/* mx.target's judgement: the MX is neither legacy nor new */
	/* NS host address lookups, then per-server direct queries */
	int ns_lookups;
	struct ns_server *srv;
	size_t nsrv;
	struct http_response *policy;
	bool fetching; /* the policy's transfer is under way */
	char policy_addr[64];
	char policy_url[300];
	/* provider.access on a thread of the pool (opts.pool), awaited like a query */
	struct prov_call *pcall;
	struct mx_work *pwork;	/* under way, else NULL */
	struct chk_work *pnext; /* in job->pwait while under way */
	/* mx.target.dane: the wire probe, started once the DNS answers are in */
	bool probe_started;
	struct dane_result *probe;
	char probe_error[sizeof(((struct mx_err *)0)->msg)];
};

struct chk_job {
	const struct chk_opts *o; /* points at opts */
	struct chk_opts opts;	  /* a copy: the caller's may be gone */
	struct mx_err err;
	size_t done, total, next;
	struct chk_domain *out; /* borrowed until chk_finish; NULL when streaming */
	struct dane_ctx *dane;	/* made on the first probe */
	/* streaming (out == NULL): the names are borrowed, the results live in max_active slots
	 * that are handed to on_done and reused */
	const char *const *domains, *const *targets;
	struct chk_domain *slots;
	struct chk_domain **free_slots;
	size_t nslots, nfree;
	struct chk_work *pwait; /* the works whose provider read is under way */
};

/* One domain's provider read on a pool thread: it owns everything it touches. */
struct prov_call {
	chk_provider_read_fn *fn;
	void *arg;
	char domain[254];
	json_t *values;
	struct chk_provider_proof proof;
	struct mx_err err;
	int rc;
};

struct query_ctx {
	struct chk_work *w;
	struct query_ctx *prev, *next;
	int slot;     /* enum slot, or -1 for NS host addresses, -2/-3 for direct SOA/MX */
	size_t index; /* server index for direct queries */
};

static const char *const chk_names[CHK_COUNT] = {
    [CHK_ZONE_DNSSEC] = "zone.dnssec",
    [CHK_NS_CONSISTENCY] = "ns.consistency",
    [CHK_MX_CURRENT] = "mx.current",
    [CHK_MX_TARGET] = "mx.target",
    [CHK_MX_TARGET_TLSA] = "mx.target.tlsa",
    [CHK_MX_TARGET_DANE] = "mx.target.dane",
    [CHK_MTASTS_RECORD] = "mtasts.record",
    [CHK_MTASTS_POLICY] = "mtasts.policy",
    [CHK_MTASTS_COVERS] = "mtasts.covers_target",
    [CHK_TLSRPT] = "tlsrpt",
    [CHK_SPF] = "spf",
    [CHK_PROVIDER_ACCESS] = "provider.access",
    [CHK_EXCHANGE_ACCESS] = "exchange.access",
    [CHK_EXCHANGE_DNSSEC] = "exchange.dnssec",
    [CHK_MTASTS_COVERS_CURRENT] = "mtasts.covers_current",
};

const char *chk_id_name(enum chk_id id)
{
	return (unsigned)id < CHK_COUNT ? chk_names[id] : "unknown";
}

const char *chk_status_name(enum chk_status s)
{
	static const char *const names[] = {"pass", "warn", "fail", "skip"};

	return (unsigned)s < 4 ? names[s] : "fail";
}

static void set_result(struct chk_domain *d, enum chk_id id, enum chk_status st, json_t *detail,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_result(
    struct chk_domain *d, enum chk_id id, enum chk_status st, json_t *detail, const char *fmt, ...)
{
	struct chk_result *r = &d->res[id];
	va_list ap;

	r->present = true;
	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->summary, sizeof(r->summary), fmt, ap);
	va_end(ap);
	json_decref(r->detail);
	r->detail = detail ? detail : json_object();
}

/* ---- small helpers over answers ---- */

static json_t *answer_json(const struct dns_answer *a)
{
	json_t *o = json_object(), *rrs = json_array();

	if (!a) {
		json_object_set_new(o, "answered", json_false());
		json_decref(rrs);
		return o;
	}
	json_object_set_new(o, "rcode", json_string(dns_rcode_name(a->rcode)));
	if (!a->server)
		json_object_set_new(o, "dnssec", json_string(dns_sec_name(a->sec)));
	if (a->why_bogus)
		json_object_set_new(o, "why_bogus", json_string(a->why_bogus));
	if (a->n)
		json_object_set_new(o, "ttl", json_integer(a->ttl));
	for (size_t i = 0; i < a->n; i++)
		json_array_append_new(rrs, json_string(a->rr[i].text ? a->rr[i].text : ""));
	json_object_set_new(o, "records", rrs);
	return o;
}

static enum dns_sec worst_sec(enum dns_sec a, enum dns_sec b)
{
	/* bogus < indeterminate < insecure < secure */
	static const int rank[] = {[DNS_SEC_BOGUS] = 0,
	    [DNS_SEC_INDETERMINATE] = 1,
	    [DNS_SEC_INSECURE] = 2,
	    [DNS_SEC_SECURE] = 3};

	return rank[a] <= rank[b] ? a : b;
}

static const char *answer_problem(const struct dns_answer *a)
{
	if (!a)
		return "no answer";
	if (a->rcode < 0)
		return "timed out";
	if (a->rcode == 2)
		return "SERVFAIL";
	if (a->sec == DNS_SEC_BOGUS)
		return "bogus";
	return NULL;
}

/* When zone.dnssec fails, a check whose own answer failed with it (bogus, SERVFAIL, no
 * answer; or any answer of a domain that does not exist) cannot be judged: its usual fix
 * ("add the SPF include", "remove the fallback host") would be wrong for that cause. It is
 * reported skip, names the cause, and leaves the verdict to zone.dnssec. True when it set
 * the result; it then owns detail (may be NULL), which is untouched otherwise. */
static bool unjudged(struct chk_work *w, enum chk_id id, const struct dns_answer *a,
    const char *what, json_t *detail)
{
	struct chk_domain *d = w->d;
	const char *problem = answer_problem(a);

	if (d->res[CHK_ZONE_DNSSEC].status != CHK_FAIL || (!problem && !w->zone_missing))
		return false;
	if (!detail)
		detail = json_object();
	json_object_set_new(detail, "not_judged_because", json_string("zone.dnssec"));
	if (w->zone_missing)
		set_result(d, id, CHK_SKIP, detail,
		    "not judged: %s does not exist (see zone.dnssec)", d->domain);
	else
		set_result(d, id, CHK_SKIP, detail,
		    "not judged: %s is %s%s, so this cannot be checked until zone.dnssec is fixed",
		    what, problem, !strcmp(problem, "bogus") ? " (DNSSEC validation fails)" : "");
	return true;
}

/* TXT strings of an answer as a borrowed array (caller frees the array only). */
static const char **txt_list(const struct dns_answer *a, size_t *n)
{
	const char **v;

	*n = 0;
	if (!a || !a->n)
		return NULL;
	v = calloc(a->n, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < a->n; i++)
		if (a->rr[i].type == DNS_T_TXT)
			v[(*n)++] = a->rr[i].u.txt;
	return v;
}

/* ---- evaluation, one function per check ---- */

static void eval_dnssec(struct chk_work *w)
{
	static const struct {
		int slot;
		const char *name;
	} parts[] = {{Q_DNSKEY, "dnskey"}, {Q_SOA, "soa"}, {Q_MX, "mx"}, {Q_NX, "denial"}};
	struct chk_domain *d = w->d;
	enum dns_sec sec = DNS_SEC_SECURE;
	const char *why = NULL, *worst_part = NULL;
	json_t *detail = json_object(), *answers = json_object();

	for (size_t i = 0; i < 4; i++) {
		const struct dns_answer *a = w->a[parts[i].slot];
		enum dns_sec s = a ? a->sec : DNS_SEC_INDETERMINATE;

		json_object_set_new(answers, parts[i].name, answer_json(a));
		if (worst_sec(sec, s) != sec) {
			sec = s;
			worst_part = parts[i].name;
		}
		if (a && a->why_bogus && !why)
			why = a->why_bogus;
	}
	d->facts.zone_sec = sec;
	json_object_set_new(detail, "state", json_string(dns_sec_name(sec)));
	json_object_set_new(detail, "why_bogus", why ? json_string(why) : json_null());
	json_object_set_new(detail, "answers", answers);

	if (w->a[Q_SOA] && w->a[Q_SOA]->nxdomain && sec != DNS_SEC_BOGUS) {
		w->zone_missing = true;
		set_result(d, CHK_ZONE_DNSSEC, CHK_FAIL, detail,
		    "%s does not exist in DNS (NXDOMAIN); check the spelling", d->domain);
		return;
	}
	/* No SOA at the name: its records live in an enclosing zone, whose DNSKEY, name
	 * servers and provider zone are not the domain's own. */
	if (w->a[Q_SOA] && w->a[Q_SOA]->nodata && w->a[Q_SOA]->zone &&
	    strcmp(w->a[Q_SOA]->zone, d->domain) && sec != DNS_SEC_BOGUS) {
		w->outer_zone = w->a[Q_SOA]->zone;
		json_object_set_new(detail, "zone", json_string(w->outer_zone));
		set_result(d, CHK_ZONE_DNSSEC, CHK_FAIL, detail,
		    "%s is not a zone of its own but a name inside zone %s (no SOA at %s); "
		    "mxcutover moves the MX at a zone's apex — delegate %s as a signed zone "
		    "(NS and DS in %s) or change its MX by hand",
		    d->domain, w->outer_zone, d->domain, d->domain, w->outer_zone);
		return;
	}
	switch (sec) {
	case DNS_SEC_SECURE:
		set_result(d, CHK_ZONE_DNSSEC, CHK_PASS, detail,
		    "the zone is signed and validates: DNSKEY, SOA, MX and the proof of "
		    "non-existence are secure");
		break;
	case DNS_SEC_INSECURE:
		set_result(d, CHK_ZONE_DNSSEC, CHK_WARN, detail,
		    "the zone is not signed (no DS at the parent): the new MX works, but inbound "
		    "DANE needs DNSSEC; sign the zone and publish its DS at the registrar");
		break;
	case DNS_SEC_BOGUS:
		set_result(d, CHK_ZONE_DNSSEC, CHK_FAIL, detail,
		    "DNSSEC validation fails (%s answer bogus: %s); validating senders defer "
		    "mail — fix the DS at the registrar or re-sign the zone before the cutover",
		    worst_part ? worst_part : "an", why ? why : "no reason given");
		break;
	default:
		set_result(d, CHK_ZONE_DNSSEC, CHK_FAIL, detail,
		    "the zone's DNSSEC state cannot be determined (%s): its name servers do not "
		    "answer properly; check that they are reachable",
		    worst_part ? worst_part : "no answer");
		break;
	}
}

static char *mx_set_text(const struct dns_answer *a)
{
	char *s = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&s, &len);
	char **items;

	if (!fp)
		return NULL;
	items = calloc(a && a->n ? a->n : 1, sizeof(*items));
	for (size_t i = 0; a && items && i < a->n; i++) {
		if (a->rr[i].type != DNS_T_MX)
			continue;
		if (asprintf(&items[i], "%u %s", a->rr[i].u.mx.pref, a->rr[i].u.mx.host) < 0)
			items[i] = NULL;
	}
	/* sorted, so servers that list the same set in another order compare equal */
	for (size_t i = 0; a && items && i < a->n; i++)
		for (size_t j = i + 1; j < a->n; j++)
			if (items[i] && items[j] && strcmp(items[i], items[j]) > 0) {
				char *t = items[i];

				items[i] = items[j];
				items[j] = t;
			}
	for (size_t i = 0; a && items && i < a->n; i++) {
		if (items[i])
			fprintf(fp, "%s%s", ftell(fp) ? ", " : "", items[i]);
		free(items[i]);
	}
	free(items);
	fclose(fp);
	return s;
}

static void eval_ns(struct chk_work *w)
{
	struct chk_domain *d = w->d;
	json_t *detail = json_object(), *servers = json_array();
	char *first_mx = NULL;
	uint32_t first_serial = 0;
	bool have_first = false, differ = false, lame = false, silent = false;
	uint32_t ttl_max = 0;

	for (size_t i = 0; i < w->nsrv; i++) {
		struct ns_server *s = &w->srv[i];
		json_t *o = json_object();
		char *mx = mx_set_text(s->mx);

		json_object_set_new(o, "address", json_string(s->addr));
		if (!s->soa || s->soa->rcode < 0) {
			silent = true;
			json_object_set_new(o, "answered", json_false());
		} else if (!s->soa->aa || s->soa->n == 0) {
			lame = true;
			json_object_set_new(o, "authoritative", json_false());
			json_object_set_new(o, "rcode", json_string(dns_rcode_name(s->soa->rcode)));
		} else {
			uint32_t serial = s->soa->rr[0].u.soa.serial;

			json_object_set_new(o, "serial", json_integer(serial));
			json_object_set_new(o, "mx", json_string(mx ? mx : ""));
			if (s->mx && s->mx->n && s->mx->ttl > ttl_max)
				ttl_max = s->mx->ttl;
			if (s->mx && s->mx->n)
				json_object_set_new(o, "mx_ttl", json_integer(s->mx->ttl));
			if (!have_first) {
				have_first = true;
				first_serial = serial;
				first_mx = mx ? strdup(mx) : strdup("");
			} else if (serial != first_serial || strcmp(first_mx, mx ? mx : "")) {
				differ = true;
			}
		}
		free(mx);
		json_array_append_new(servers, o);
	}
	d->facts.mx_ttl_max = ttl_max;
	json_object_set_new(detail, "servers", servers);
	if (w->outer_zone) {
		json_object_set_new(detail, "not_judged_because", json_string("zone.dnssec"));
		set_result(d, CHK_NS_CONSISTENCY, CHK_SKIP, detail,
		    "not judged: %s has no name servers of its own, it is a name inside zone %s "
		    "(see zone.dnssec)",
		    d->domain, w->outer_zone);
	} else if (w->nsrv == 0 &&
		   unjudged(w, CHK_NS_CONSISTENCY, w->a[Q_NS], "the NS answer", detail)) {
		/* reported as not judged */
	} else if (w->nsrv == 0)
		set_result(d, CHK_NS_CONSISTENCY, CHK_FAIL, detail,
		    "no authoritative name server of %s could be found (NS %s); check the "
		    "delegation at the registrar",
		    d->domain, w->a[Q_NS] ? dns_rcode_name(w->a[Q_NS]->rcode) : "unanswered");
	else if (differ)
		set_result(d, CHK_NS_CONSISTENCY, CHK_FAIL, detail,
		    "the name servers serve different data (SOA serial or MX differ); wait for "
		    "zone transfers to finish or fix the secondary before the cutover");
	else if (lame)
		set_result(d, CHK_NS_CONSISTENCY, CHK_FAIL, detail,
		    "a listed name server does not answer authoritatively for %s (lame "
		    "delegation); fix or remove it in the NS set",
		    d->domain);
	else if (silent)
		set_result(d, CHK_NS_CONSISTENCY, CHK_WARN, detail,
		    "a name server did not answer from here; the others agree (serial %u), but "
		    "waits cannot be verified on the silent one",
		    first_serial);
	else
		set_result(d, CHK_NS_CONSISTENCY, CHK_PASS, detail,
		    "all %zu authoritative servers serve SOA serial %u and the same MX RRset",
		    w->nsrv, first_serial);
	free(first_mx);
}

static void eval_mx_current(struct chk_work *w)
{
	const struct mx_conf *conf = w->job->o->conf;
	struct chk_domain *d = w->d;
	const struct dns_answer *a = w->a[Q_MX];
	const char *problem = answer_problem(a);
	json_t *detail = json_object(), *recs = json_array();
	size_t nlegacy = 0, ntarget = 0, nother = 0;
	const char *legacy = NULL, *other = NULL;
	unsigned legacy_pref = 0;

	for (size_t i = 0; a && i < a->n; i++) {
		const struct dns_rr *rr = &a->rr[i];
		json_t *o = json_object();
		const char *kind;

		if (rr->type != DNS_T_MX) {
			json_decref(o);
			continue;
		}
		if (mx_conf_is_legacy(conf, rr->u.mx.host)) {
			kind = "legacy";
			nlegacy++;
			legacy = rr->u.mx.host;
			legacy_pref = rr->u.mx.pref;
		} else if (mx_name_under(rr->u.mx.host, conf->endpoint_suffix)) {
			kind = "target";
			ntarget++;
		} else {
			kind = "other";
			nother++;
			other = rr->u.mx.host;
		}
		json_object_set_new(o, "preference", json_integer(rr->u.mx.pref));
		json_object_set_new(o, "host", json_string(rr->u.mx.host));
		json_object_set_new(o, "kind", json_string(kind));
		json_array_append_new(recs, o);
	}
	json_object_set_new(detail, "records", recs);
	json_object_set_new(detail, "ttl", json_integer(a && a->n ? a->ttl : 0));

	if (unjudged(w, CHK_MX_CURRENT, a, "the MX answer", detail)) {
		/* reported as not judged */
	} else if (problem)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "the MX RRset of %s could not be read (%s)", d->domain, problem);
	else if (!a->n)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "%s has no MX record; publish the Exchange Online MX first", d->domain);
	else if (ntarget && !nlegacy && !nother)
		set_result(d, CHK_MX_CURRENT, CHK_PASS, detail,
		    "the MX already points at %s: the cutover is done", conf->endpoint_suffix);
	else if (ntarget && !nlegacy)
		set_result(d, CHK_MX_CURRENT, CHK_WARN, detail,
		    "the MX already points at %s (the cutover is done) but also lists %s; "
		    "remove that host unless it is meant to take mail",
		    conf->endpoint_suffix, other);
	else if (ntarget)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "the MX lists both the legacy host and a %s host: a cutover is in progress; "
		    "see `mxcutover status %s` to resume or roll it back",
		    conf->endpoint_suffix, d->domain);
	else if (!nlegacy)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "the MX points at %s, not at Exchange Online: with an inbound gateway in "
		    "front, keep the MX and change the gateway's smart host instead",
		    other ? other : "another host");
	else if (nother)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "the MX has a fallback host %s next to Exchange Online; Microsoft's procedure "
		    "supports no secondary MX — remove it first",
		    other);
	else if (nlegacy > 1)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "the MX lists %zu Exchange Online hosts; keep exactly one", nlegacy);
	else if (legacy_pref != 0 && legacy_pref != 10)
		set_result(d, CHK_MX_CURRENT, CHK_FAIL, detail,
		    "the MX %s has preference %u; set it to 0 or 10 before the cutover", legacy,
		    legacy_pref);
	else
		set_result(d, CHK_MX_CURRENT, CHK_PASS, detail,
		    "MX %u %s (Exchange Online), TTL %u s, no fallback host", legacy_pref, legacy,
		    a->ttl);
	if (a && !d->facts.mx)
		d->facts.mx = dns_answer_dup(a);
}

static void eval_target(struct chk_work *w)
{
	const struct mx_conf *conf = w->job->o->conf;
	struct chk_domain *d = w->d;
	const struct dns_answer *a4 = w->a[Q_TARGET_A], *a6 = w->a[Q_TARGET_AAAA];
	json_t *detail = json_object(), *addrs = json_array();
	enum dns_sec sec = DNS_SEC_SECURE;
	const struct tgt_finding *warn;
	struct tgt_judgement tj;
	size_t naddr = 0;

	if (!d->target[0]) {
		json_decref(addrs);
		set_result(d, CHK_MX_TARGET, CHK_SKIP, detail,
		    "no target host given; run Enable-DnssecForVerifiedDomain -DomainName %s and "
		    "pass its DnssecMxValue with --target-mx",
		    d->domain);
		return;
	}
	json_object_set_new(detail, "host", json_string(d->target));
	/* The host as typed first (the judgement the wizard shows too), then its DNS. */
	tgt_judge(conf, d->domain, d->target, answer_problem(w->a[Q_MX]) ? NULL : w->a[Q_MX], &tj);
	{
		json_t *findings = json_array();

		for (int i = 0; i < tj.n; i++)
			json_array_append_new(findings, json_pack("{s:s,s:s}", "level",
							    tj.f[i].level == TGT_OK	? "ok"
							    : tj.f[i].level == TGT_WARN ? "warn"
											: "fail",
							    "text", tj.f[i].text));
		json_object_set_new(detail, "findings", findings);
	}
	w->mx_not_microsoft = tj.mx_not_microsoft;
	if (!tj.usable) {
		json_decref(addrs);
		set_result(d, CHK_MX_TARGET, CHK_FAIL, detail, "target %s",
		    tgt_first(&tj, TGT_FAIL)->text);
		return;
	}
	warn = tgt_first(&tj, TGT_WARN);
	for (int k = 0; k < 2; k++) {
		const struct dns_answer *a = k ? a6 : a4;

		if (!a)
			continue;
		for (size_t i = 0; i < a->n; i++) {
			json_array_append_new(addrs, json_string(a->rr[i].u.addr));
			naddr++;
		}
		if (a->n || a->sec == DNS_SEC_BOGUS)
			sec = worst_sec(sec, a->sec);
	}
	json_object_set_new(detail, "addresses", addrs);
	json_object_set_new(detail, "dnssec", json_string(dns_sec_name(sec)));
	if (sec == DNS_SEC_BOGUS)
		set_result(d, CHK_MX_TARGET, CHK_FAIL, detail,
		    "the address of %s is DNSSEC-bogus; do not cut over until Microsoft's zone "
		    "validates",
		    d->target);
	else if (!naddr)
		set_result(d, CHK_MX_TARGET, CHK_FAIL, detail,
		    "target %s does not resolve (no A/AAAA); check DnssecMxValue and that "
		    "Enable-DnssecForVerifiedDomain succeeded",
		    d->target);
	else if (sec != DNS_SEC_SECURE)
		set_result(d, CHK_MX_TARGET, CHK_FAIL, detail,
		    "target %s resolves but not securely (%s); the DNSSEC endpoint must validate",
		    d->target, dns_sec_name(sec));
	else if (warn) {
		char warns[400] = "";
		size_t used = 0;

		for (int i = 0; i < tj.n && used < sizeof(warns); i++)
			if (tj.f[i].level == TGT_WARN)
				used += (size_t)snprintf(warns + used, sizeof(warns) - used, "%s%s",
				    used ? "; " : "", tj.f[i].text);
		set_result(d, CHK_MX_TARGET, CHK_WARN, detail,
		    "target %s resolves securely, but %s", d->target, warns);
	} else
		set_result(d, CHK_MX_TARGET, CHK_PASS, detail,
		    "target %s resolves securely to %zu address%s", d->target, naddr,
		    naddr == 1 ? "" : "es");
}

static void eval_tlsa(struct chk_work *w)
{
	struct chk_domain *d = w->d;
	const struct dns_answer *a = w->a[Q_TARGET_TLSA];
	json_t *detail = json_object(), *recs = json_array();
	size_t usable = 0;

	if (!d->target[0]) {
		json_decref(recs);
		set_result(d, CHK_MX_TARGET_TLSA, CHK_SKIP, detail,
		    "no target host given (see mx.target)");
		return;
	}
	json_object_set_new(
	    detail, "name", json_string(w->a[Q_TARGET_TLSA] ? w->a[Q_TARGET_TLSA]->qname : ""));
	for (size_t i = 0; a && i < a->n; i++) {
		const struct dns_rr *rr = &a->rr[i];
		bool ok = (rr->u.tlsa.usage == 2 || rr->u.tlsa.usage == 3) &&
			  rr->u.tlsa.selector <= 1 && rr->u.tlsa.mtype <= 2;

		json_array_append_new(recs,
		    json_pack("{s:i,s:i,s:i,s:b}", "usage", rr->u.tlsa.usage, "selector",
			rr->u.tlsa.selector, "matching_type", rr->u.tlsa.mtype, "usable", ok));
		usable += ok;
	}
	json_object_set_new(detail, "records", recs);
	json_object_set_new(detail, "dnssec", json_string(a ? dns_sec_name(a->sec) : "none"));
	if (!a || answer_problem(a))
		set_result(d, CHK_MX_TARGET_TLSA, CHK_FAIL, detail,
		    "the TLSA lookup for %s failed (%s): DANE senders would defer mail", d->target,
		    answer_problem(a));
	else if (!a->n && w->mx_not_microsoft)
		set_result(d, CHK_MX_TARGET_TLSA, CHK_SKIP, detail,
		    "no TLSA at _25._tcp.%s, and none is due: the MX does not point at Exchange "
		    "Online, so no cutover applies (see mx.current)",
		    d->target);
	else if (!a->n)
		set_result(d, CHK_MX_TARGET_TLSA, CHK_WARN, detail,
		    "no TLSA at _25._tcp.%s yet; Microsoft publishes it after "
		    "Enable-SmtpDaneInbound (the run's last steps)",
		    d->target);
	else if (a->sec != DNS_SEC_SECURE)
		set_result(d, CHK_MX_TARGET_TLSA, CHK_WARN, detail,
		    "TLSA for %s is %s, so senders ignore it", d->target, dns_sec_name(a->sec));
	else if (!usable)
		set_result(d, CHK_MX_TARGET_TLSA, CHK_WARN, detail,
		    "TLSA for %s has only usages 0/1, which SMTP DANE cannot use (RFC 7672)",
		    d->target);
	else
		set_result(d, CHK_MX_TARGET_TLSA, CHK_PASS, detail,
		    "%zu usable TLSA record%s at _25._tcp.%s, DNSSEC-secure", usable,
		    usable == 1 ? "" : "s", d->target);
}

/* ---- mx.target.dane: the target's TLSA proven on the wire ---- */

static void finish_one(struct chk_work *w);

/* The target's addresses from answers that are not bogus; count in *n (caller frees the
 * array only; the strings are borrowed from the answers). */
static const char **target_addrs(const struct chk_work *w, size_t *n)
{
	const struct dns_answer *as[2] = {w->a[Q_TARGET_A], w->a[Q_TARGET_AAAA]};
	const char **v = calloc((as[0] ? as[0]->n : 0) + (as[1] ? as[1]->n : 0) + 1, sizeof(*v));

	*n = 0;
	for (int k = 0; v && k < 2; k++)
		for (size_t i = 0; as[k] && as[k]->sec != DNS_SEC_BOGUS && i < as[k]->n; i++)
			if (as[k]->rr[i].type == DNS_T_A || as[k]->rr[i].type == DNS_T_AAAA)
				v[(*n)++] = as[k]->rr[i].u.addr;
	return v;
}

/* Why mx.target.dane is skipped, or NULL when the probe applies. */
static const char *dane_skip_reason(const struct chk_work *w)
{
	const struct dns_answer *t = w->a[Q_TARGET_TLSA];

	if (!w->d->target[0])
		return "no target host given (see mx.target)";
	if (!w->job->o->conf->smtp_probe)
		return "smtp_probe = no in the config: the STARTTLS/DANE probe of the target is "
		       "off";
	if (!t || t->sec != DNS_SEC_SECURE || !dane_tlsa_count_usable(t))
		return "no usable DNSSEC-secure TLSA record to verify yet (see mx.target.tlsa)";
	return NULL;
}

static void on_probe(void *arg, struct dane_result *res)
{
	struct chk_work *w = arg;

	w->probe = res;
	finish_one(w);
}

/* Once the DNS answers are in: starts the probe when it applies. True when started (the
 * domain then finishes in on_probe). */
static bool start_probe(struct chk_work *w)
{
	struct chk_job *job = w->job;
	struct dane_opts o;
	struct mx_err err;
	const char **addrs;
	size_t n = 0;
	int rc;

	if (w->probe_started || dane_skip_reason(w))
		return false;
	w->probe_started = true;
	addrs = target_addrs(w, &n);
	if (!addrs || !n) {
		free(addrs);
		return false;
	}
	mx_err_clear(&err);
	memset(&o, 0, sizeof(o));
	rc = job->dane ? MX_OK : dane_ctx_new(&job->dane, &o, &err);
	if (!rc) {
		w->pending++;
		rc = dane_probe_start(
		    job->dane, w->d->target, addrs, n, w->a[Q_TARGET_TLSA], on_probe, w, &err);
		if (rc)
			w->pending--;
	}
	if (rc)
		snprintf(w->probe_error, sizeof(w->probe_error), "%s", err.msg);
	free(addrs);
	return !rc;
}

static void eval_dane(struct chk_work *w)
{
	struct chk_domain *d = w->d;
	const struct dane_result *r = w->probe;
	const struct dane_addr_result *bad = NULL, *ok = NULL;
	const char *skip = dane_skip_reason(w);
	json_t *detail;

	if (skip) {
		set_result(d, CHK_MX_TARGET_DANE, CHK_SKIP, NULL, "%s", skip);
		return;
	}
	if (!r) {
		set_result(d, CHK_MX_TARGET_DANE, w->probe_error[0] ? CHK_WARN : CHK_SKIP, NULL,
		    "%s",
		    w->probe_error[0] ? w->probe_error
				      : "the target has no address to probe (see mx.target)");
		return;
	}
	detail = dane_result_json(r);
	for (size_t i = 0; i < r->naddr; i++) {
		if (r->addr[i].status == r->status && !bad)
			bad = &r->addr[i];
		if (r->addr[i].status == DANE_PROBE_VERIFIED && !ok)
			ok = &r->addr[i];
	}
	switch (r->status) {
	case DANE_PROBE_VERIFIED:
		set_result(d, CHK_MX_TARGET_DANE, CHK_PASS, detail,
		    "STARTTLS on port 25 of %s verifies against TLSA %d %d %d at %zu address%s; "
		    "the certificate expires in %ld days%s",
		    d->target, ok->usage, ok->selector, ok->mtype, r->naddr,
		    r->naddr == 1 ? "" : "es", ok->days_left,
		    r->rollover_ready
			? "; two or more usable TLSA records: ready for a key rollover"
			: "");
		break;
	case DANE_PROBE_MISMATCH:
		if (!strncmp(bad->error, "the TLSA record does not match", 30))
			set_result(d, CHK_MX_TARGET_DANE, CHK_FAIL, detail,
			    "the TLSA record does not match the certificate the server presents: "
			    "DANE senders will defer mail (at %s); do not cut over until it "
			    "matches "
			    "— if Enable-SmtpDaneInbound published it, ask Microsoft support",
			    bad->addr);
		else
			set_result(d, CHK_MX_TARGET_DANE, CHK_FAIL, detail,
			    "DANE fails at %s: %s; DANE senders will defer mail", bad->addr,
			    bad->error);
		break;
	case DANE_PROBE_NO_STARTTLS:
		set_result(d, CHK_MX_TARGET_DANE, CHK_FAIL, detail, "%s (%s): %s", d->target,
		    bad->addr, bad->error);
		break;
	case DANE_PROBE_UNREACHABLE:
		set_result(d, CHK_MX_TARGET_DANE, CHK_WARN, detail,
		    "DANE not verified on the wire — a limit of this machine's network (many "
		    "block outbound port 25), not a fault of the domain (%s: %s)",
		    bad->addr, bad->error);
		break;
	default:
		set_result(d, CHK_MX_TARGET_DANE, CHK_SKIP, detail, "nothing to verify");
		break;
	}
}

/* mtasts.covers_current: every host of the MX RRset that senders see now must match the
 * served policy (mtasts_policy_covers: the senders' rules, as for covers_target), or senders
 * that enforce MTA-STS refuse to deliver — the state a rollback must never leave behind. */
static void eval_covers_current(
    struct chk_work *w, bool sts_unjudged, const struct mtasts_policy *pol)
{
	struct chk_domain *d = w->d;
	const struct dns_answer *mx = w->a[Q_MX];
	json_t *detail = json_object(), *hosts = json_array();
	char missing[300] = "";
	size_t nmissing = 0, nhosts = 0;

	if (sts_unjudged) {
		json_decref(hosts);
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_SKIP, detail,
		    "not judged: the MTA-STS policy could not be read because zone.dnssec fails");
		return;
	}
	if (!pol || !pol->valid) {
		json_decref(hosts);
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_SKIP, detail,
		    "no valid MTA-STS policy in force");
		return;
	}
	json_object_set_new(detail, "mode", json_string(mtasts_mode_name(pol->mode)));
	if (pol->mode == MTASTS_MODE_NONE) {
		json_decref(hosts);
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_SKIP, detail,
		    "policy mode none: senders do not apply it");
		return;
	}
	if (!mx || answer_problem(mx) || !mx->n) {
		json_decref(hosts);
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_SKIP, detail,
		    "the current MX could not be read (see mx.current)");
		return;
	}
	for (size_t i = 0; i < mx->n; i++) {
		const char *host = mx->rr[i].u.mx.host;
		bool covered;

		if (mx->rr[i].type != DNS_T_MX)
			continue;
		covered = mtasts_policy_covers(pol, host);
		nhosts++;
		json_array_append_new(
		    hosts, json_pack("{s:s,s:b}", "host", host, "covered", covered));
		if (!covered && !nmissing++)
			snprintf(missing, sizeof(missing), "%s", host);
	}
	json_object_set_new(detail, "hosts", hosts);
	if (!nmissing)
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_PASS, detail,
		    "the policy's mx patterns cover %s current MX host%s",
		    nhosts == 1 ? "the" : "every", nhosts == 1 ? "" : "s");
	else if (pol->mode == MTASTS_MODE_ENFORCE)
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_FAIL, detail,
		    "the enforce policy does not cover the current MX host %s%s: senders that "
		    "enforce MTA-STS refuse to deliver to it — add \"mx: %s\" to the policy, "
		    "publish it, then change the _mta-sts id",
		    missing, nmissing > 1 ? " (and others)" : "", missing);
	else
		set_result(d, CHK_MTASTS_COVERS_CURRENT, CHK_WARN, detail,
		    "the %s policy does not cover the current MX host %s%s; senders report it "
		    "(TLS-RPT) — add \"mx: %s\" before switching to enforce",
		    mtasts_mode_name(pol->mode), missing, nmissing > 1 ? " (and others)" : "",
		    missing);
}

static void eval_mtasts(struct chk_work *w)
{
	struct chk_domain *d = w->d;
	const struct dns_answer *txt = w->a[Q_STS_TXT];
	struct http_response *resp = w->policy;
	struct mtasts_txt *rec = NULL;
	struct mtasts_policy *pol = NULL;
	json_t *rd = json_object(), *pd = json_object(), *cd = json_object();
	const char **strs;
	char name[300];
	size_t n = 0;
	bool have_record, sts_unjudged = false;
	const char *ctype = NULL;
	enum mtasts_fetch fr = MTASTS_FETCH_TRANSPORT;

	strs = txt_list(txt, &n);
	if (mtasts_txt_parse(strs, n, &rec, NULL) != MX_OK)
		rec = NULL;
	free(strs);
	have_record = rec && rec->nrecords > 0;
	json_object_set_new(rd, "answer", answer_json(txt));

	/* mtasts.record */
	if (unjudged(w, CHK_MTASTS_RECORD, txt, "the _mta-sts TXT answer", rd))
		sts_unjudged = true;
	else if (txt && answer_problem(txt))
		set_result(d, CHK_MTASTS_RECORD, CHK_FAIL, rd,
		    "the _mta-sts.%s TXT lookup failed (%s)", d->domain, answer_problem(txt));
	else if (!have_record)
		set_result(d, CHK_MTASTS_RECORD, CHK_SKIP, rd,
		    "no MTA-STS record (_mta-sts.%s): nothing to update during the cutover",
		    d->domain);
	else if (!rec->valid)
		set_result(d, CHK_MTASTS_RECORD, CHK_FAIL, rd, "%s", rec->error);
	else {
		json_object_set_new(rd, "id", json_string(rec->id));
		snprintf(d->facts.mtasts_id, sizeof(d->facts.mtasts_id), "%s", rec->id);
		set_result(
		    d, CHK_MTASTS_RECORD, CHK_PASS, rd, "MTA-STS record present, id=%s", rec->id);
	}

	/* mtasts.policy */
	json_object_set_new(pd, "url", json_string(w->policy_url));
	if (resp) {
		json_object_set_new(pd, "http_status", json_integer(resp->status));
		ctype = http_header(resp, "Content-Type");
		json_object_set_new(pd, "content_type", ctype ? json_string(ctype) : json_null());
	}
	if (resp)
		fr = mtasts_fetch_judge(resp, &pol);
	snprintf(name, sizeof(name), "the address of mta-sts.%s", d->domain);
	if (!resp && sts_unjudged) {
		/* the record's answer failed with the zone: so did anything built on it */
		unjudged(w, CHK_MTASTS_POLICY, txt, "the _mta-sts TXT answer", pd);
	} else if (!resp && unjudged(w, CHK_MTASTS_POLICY, w->a[Q_STS_A], name, pd)) {
		sts_unjudged = true;
	} else if (!resp && !have_record) {
		set_result(d, CHK_MTASTS_POLICY, CHK_SKIP, pd, "no MTA-STS policy to fetch");
	} else if (!resp) {
		set_result(d, CHK_MTASTS_POLICY, CHK_FAIL, pd,
		    "mta-sts.%s does not resolve, so senders cannot fetch the policy; publish "
		    "its address or remove the _mta-sts record",
		    d->domain);
	} else if (fr == MTASTS_FETCH_TRANSPORT || fr == MTASTS_FETCH_CERT) {
		json_object_set_new(pd, "error", json_string(resp->error));
		set_result(d, CHK_MTASTS_POLICY, have_record ? CHK_FAIL : CHK_SKIP, pd, "%s: %s%s",
		    w->policy_url,
		    fr == MTASTS_FETCH_CERT
			? "the certificate is not valid for this name or not trusted; install a "
			  "certificate for mta-sts."
			: "cannot be fetched: ",
		    fr == MTASTS_FETCH_CERT ? d->domain : resp->error);
	} else if (fr == MTASTS_FETCH_TOO_LARGE) {
		set_result(d, CHK_MTASTS_POLICY, have_record ? CHK_FAIL : CHK_WARN, pd,
		    "the policy at %s is larger than 64 KiB; senders reject it (RFC 8461 §3.3)",
		    w->policy_url);
	} else if (fr == MTASTS_FETCH_REDIRECT) {
		const char *loc = http_header(resp, "Location");

		set_result(d, CHK_MTASTS_POLICY, have_record ? CHK_FAIL : CHK_WARN, pd,
		    "%s answers with a redirect (HTTP %ld%s%s); senders must not follow it "
		    "(RFC 8461 §3.3) — serve the policy directly",
		    w->policy_url, resp->status, loc ? " to " : "", loc ? loc : "");
	} else if (fr == MTASTS_FETCH_STATUS) {
		set_result(d, CHK_MTASTS_POLICY, have_record ? CHK_FAIL : CHK_SKIP, pd,
		    "%s answers HTTP %ld; senders need 200 with the policy", w->policy_url,
		    resp->status);
	} else if (fr == MTASTS_FETCH_CTYPE) {
		set_result(d, CHK_MTASTS_POLICY, have_record ? CHK_FAIL : CHK_WARN, pd,
		    "%s is served as %s; senders require Content-Type text/plain", w->policy_url,
		    ctype ? ctype : "no content type");
	} else if (!pol) {
		set_result(d, CHK_MTASTS_POLICY, CHK_FAIL, pd, "the policy could not be parsed");
	} else {
		json_t *mx = json_array(), *probs = json_array();

		for (size_t i = 0; i < pol->nmx; i++)
			json_array_append_new(mx, json_string(pol->mx[i]));
		for (size_t i = 0; i < pol->nproblems; i++)
			json_array_append_new(probs, json_string(pol->problems[i]));
		for (size_t i = 0; i < pol->nwarnings; i++)
			json_array_append_new(probs, json_string(pol->warnings[i]));
		json_object_set_new(pd, "mode", json_string(mtasts_mode_name(pol->mode)));
		json_object_set_new(pd, "max_age", json_integer(pol->max_age));
		json_object_set_new(pd, "mx", mx);
		json_object_set_new(pd, "problems", probs);
		if (!pol->valid)
			set_result(d, CHK_MTASTS_POLICY, have_record ? CHK_FAIL : CHK_WARN, pd,
			    "%s", pol->nproblems ? pol->problems[0] : "the policy is not valid");
		else if (!have_record)
			set_result(d, CHK_MTASTS_POLICY, CHK_WARN, pd,
			    "a policy is served but there is no _mta-sts record, so senders never "
			    "fetch it");
		else
			set_result(d, CHK_MTASTS_POLICY, pol->nwarnings ? CHK_WARN : CHK_PASS, pd,
			    "policy mode %s, max_age %ld s, %zu mx pattern%s%s%s",
			    mtasts_mode_name(pol->mode), pol->max_age, pol->nmx,
			    pol->nmx == 1 ? "" : "s", pol->nwarnings ? "; " : "",
			    pol->nwarnings ? pol->warnings[0] : "");
		if (pol->valid) {
			d->facts.mtasts_mode = (int)pol->mode;
			d->facts.mtasts_max_age = pol->max_age;
			d->facts.mtasts_policy = strndup(resp->body, resp->len);
		}
	}

	/* mtasts.covers_target */
	if (!d->target[0])
		set_result(
		    d, CHK_MTASTS_COVERS, CHK_SKIP, cd, "no target host given (see mx.target)");
	else if (sts_unjudged)
		set_result(d, CHK_MTASTS_COVERS, CHK_SKIP, cd,
		    "not judged: the MTA-STS policy could not be read because zone.dnssec fails");
	else if (!pol || !pol->valid || !have_record)
		set_result(d, CHK_MTASTS_COVERS, CHK_SKIP, cd, "no valid MTA-STS policy in force");
	else {
		bool covers = mtasts_policy_covers(pol, d->target);

		json_object_set_new(cd, "target", json_string(d->target));
		json_object_set_new(cd, "covered", json_boolean(covers));
		json_object_set_new(cd, "mode", json_string(mtasts_mode_name(pol->mode)));
		if (covers)
			set_result(d, CHK_MTASTS_COVERS, CHK_PASS, cd,
			    "the policy's mx patterns cover %s", d->target);
		else if (pol->mode == MTASTS_MODE_ENFORCE)
			set_result(d, CHK_MTASTS_COVERS, CHK_FAIL, cd,
			    "the enforce policy does not cover %s (a '*.' pattern covers one label "
			    "only): add \"mx: %s\" next to the legacy line, publish it, then "
			    "change "
			    "the _mta-sts id",
			    d->target, d->target);
		else
			set_result(d, CHK_MTASTS_COVERS, CHK_WARN, cd,
			    "the %s policy does not cover %s; add \"mx: %s\" before the swap",
			    mtasts_mode_name(pol->mode), d->target, d->target);
	}
	eval_covers_current(w, sts_unjudged, have_record ? pol : NULL);
	mtasts_txt_free(rec);
	mtasts_policy_free(pol);
}

static void eval_tlsrpt(struct chk_work *w)
{
	struct chk_domain *d = w->d;
	const struct dns_answer *a = w->a[Q_TLSRPT];
	struct tlsrpt_txt *rec = NULL;
	json_t *detail = json_object();
	const char **strs;
	size_t n = 0;

	json_object_set_new(detail, "answer", answer_json(a));
	strs = txt_list(a, &n);
	if (tlsrpt_txt_parse(strs, n, &rec, NULL) != MX_OK)
		rec = NULL;
	free(strs);
	if (unjudged(w, CHK_TLSRPT, a, "the _smtp._tls TXT answer", detail)) {
		/* reported as not judged */
	} else if (a && answer_problem(a))
		set_result(d, CHK_TLSRPT, CHK_FAIL, detail, "the _smtp._tls.%s lookup failed (%s)",
		    d->domain, answer_problem(a));
	else if (!rec || rec->nrecords == 0)
		set_result(d, CHK_TLSRPT, CHK_WARN, detail,
		    "no TLS-RPT record: you will not hear about senders' DANE/MTA-STS failures; "
		    "publish _smtp._tls.%s TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@%s\"",
		    d->domain, d->domain);
	else if (!rec->valid)
		set_result(d, CHK_TLSRPT, CHK_FAIL, detail, "%s", rec->error);
	else {
		json_t *rua = json_array();

		for (size_t i = 0; i < rec->nrua; i++)
			json_array_append_new(rua, json_string(rec->rua[i]));
		json_object_set_new(detail, "rua", rua);
		set_result(d, CHK_TLSRPT, CHK_PASS, detail, "TLS-RPT reports go to %s%s",
		    rec->rua[0], rec->nrua > 1 ? " and more" : "");
	}
	tlsrpt_txt_free(rec);
}

static void eval_spf(struct chk_work *w)
{
	const struct mx_conf *conf = w->job->o->conf;
	struct chk_domain *d = w->d;
	const struct dns_answer *a = w->a[Q_APEX_TXT];
	struct spf_record *spf = NULL;
	json_t *detail = json_object();
	const char **strs;
	char msg[300];
	size_t n = 0;
	enum spf_include_state st;

	strs = txt_list(a, &n);
	if (spf_parse(strs, n, &spf, NULL) != MX_OK)
		spf = NULL;
	free(strs);
	json_object_set_new(detail, "include", json_string(conf->spf_include));
	if (spf && spf->text)
		json_object_set_new(detail, "record", json_string(spf->text));
	if (unjudged(w, CHK_SPF, a, "the apex TXT answer", detail)) {
		/* reported as not judged */
	} else if (a && answer_problem(a)) {
		set_result(d, CHK_SPF, CHK_FAIL, detail, "the TXT lookup of %s failed (%s)",
		    d->domain, answer_problem(a));
	} else if (!spf) {
		set_result(d, CHK_SPF, CHK_FAIL, detail, "out of memory while parsing SPF");
	} else {
		st = spf_check_include(spf, conf->spf_include, msg, sizeof(msg));
		json_object_set_new(detail, "state",
		    json_string(st == SPF_INCLUDE_PRESENT     ? "present"
				: st == SPF_INCLUDE_QUALIFIED ? "qualified"
				: st == SPF_INCLUDE_REDIRECT  ? "redirect"
				: st == SPF_INCLUDE_MISSING   ? "missing"
				: st == SPF_INCLUDE_NO_RECORD ? "no_record"
							      : "invalid"));
		set_result(d, CHK_SPF,
		    st == SPF_INCLUDE_PRESENT	? CHK_PASS
		    : st == SPF_INCLUDE_INVALID ? CHK_FAIL
						: CHK_WARN,
		    detail, "%s", msg);
	}
	spf_record_free(spf);
}

static void eval_provider(struct chk_work *w)
{
	const struct chk_opts *o = w->job->o;
	struct chk_domain *d = w->d;
	json_t *detail = json_object(), *values = NULL;
	struct chk_provider_proof proof;
	struct mx_err err;
	int rc;

	if (!o->provider_name || !o->provider_read) {
		json_decref(detail);
		return;
	}
	mx_err_clear(&err);
	memset(&proof, 0, sizeof(proof));
	json_object_set_new(detail, "provider", json_string(o->provider_name));
	if (w->pcall) { /* read on the pool, done */
		rc = w->pcall->rc;
		values = w->pcall->values;
		w->pcall->values = NULL;
		proof = w->pcall->proof;
		err = w->pcall->err;
	} else {
		rc = o->provider_read(o->provider_arg, NULL, d->domain, &values, &proof, &err);
	}
	if (rc) {
		set_result(d, CHK_PROVIDER_ACCESS, CHK_FAIL, detail, "%s", err.msg);
		return;
	}
	json_object_set_new(detail, "mx", values);
	json_object_set_new(detail, "proved", json_string(proof.proved));
	json_object_set_new(detail, "not_proved", json_string(proof.unproved));
	/* Reading proves little: the run needs to write. What the adapter could not prove is
	 * said, and a write permission nobody could prove is a warning. */
	if (!proof.proved[0])
		set_result(d, CHK_PROVIDER_ACCESS, CHK_WARN, detail,
		    "provider %s can read the MX RRset of %s, but write permission is not proved: "
		    "%.250s",
		    o->provider_name, d->domain,
		    proof.unproved[0] ? proof.unproved : "the adapter cannot test it");
	else if (proof.unproved[0])
		set_result(d, CHK_PROVIDER_ACCESS, CHK_PASS, detail,
		    "provider %s: %.200s; not proved: %.150s", o->provider_name, proof.proved,
		    proof.unproved);
	else
		set_result(d, CHK_PROVIDER_ACCESS, CHK_PASS, detail, "provider %s: %.300s",
		    o->provider_name, proof.proved);
}

static void eval_exchange(struct chk_work *w)
{
	const struct chk_opts *o = w->job->o;
	struct chk_domain *d = w->d;

	if (o->exchange)
		o->exchange(o->exchange_arg, d->domain, &d->res[CHK_EXCHANGE_ACCESS],
		    &d->res[CHK_EXCHANGE_DNSSEC]);
}

static void evaluate(struct chk_work *w)
{
	struct chk_domain *d = w->d;

	eval_dnssec(w);
	eval_ns(w);
	eval_mx_current(w);
	eval_target(w);
	eval_tlsa(w);
	eval_dane(w);
	eval_mtasts(w);
	eval_tlsrpt(w);
	eval_spf(w);
	eval_provider(w);
	eval_exchange(w);
	d->ready = true;
	for (int i = 0; i < CHK_COUNT; i++)
		if (d->res[i].present && d->res[i].status == CHK_FAIL)
			d->ready = false;
	chk_verdict(d, w->job->o->conf, &d->verdict);
	d->facts.ns_addrs = calloc(w->nsrv ? w->nsrv : 1, sizeof(char *));
	for (size_t i = 0; d->facts.ns_addrs && i < w->nsrv; i++)
		d->facts.ns_addrs[d->facts.nns++] = strdup(w->srv[i].addr);
}

/* ---- the verdict ---- */

const char *chk_verdict_name(enum chk_verdict v)
{
	static const char *const names[] = {"ready", "blocked", "migrated"};

	return (unsigned)v < 3 ? names[v] : "blocked";
}

/* Failing checks the run resolves itself (see chk_verdict_info.runnable). */
static bool run_resolves(enum chk_id id)
{
	return id == CHK_MTASTS_COVERS;
}

/* The current MX hosts ("a, b") when the MX answer is usable and holds no legacy host and at
 * least one host under endpoint_suffix; false otherwise. */
static bool migrated_mx(
    const struct chk_domain *d, const struct mx_conf *conf, char *hosts, size_t len)
{
	const struct dns_answer *a = d->facts.mx;
	size_t nlegacy = 0, ntarget = 0, used = 0;

	hosts[0] = '\0';
	if (!a || answer_problem(a) || !conf || !conf->endpoint_suffix)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const char *host = a->rr[i].u.mx.host;

		if (a->rr[i].type != DNS_T_MX)
			continue;
		if (mx_conf_is_legacy(conf, host))
			nlegacy++;
		else if (mx_name_under(host, conf->endpoint_suffix))
			ntarget++;
		if (used < len)
			used += (size_t)snprintf(
			    hosts + used, len - used, "%s%s", used ? ", " : "", host);
	}
	return !nlegacy && ntarget;
}

/* "blocked by ID: SUMMARY" (+ " — also failing: A, B"), within len. */
static void blocked_text(const struct chk_domain *d, const struct chk_verdict_info *v,
    const char *lead, char *out, size_t len)
{
	char also[200] = "";
	size_t used = 0;

	for (int i = 1; i < v->nroots && used < sizeof(also); i++)
		used += (size_t)snprintf(also + used, sizeof(also) - used, "%s%s",
		    i == 1 ? " — also failing: " : ", ", chk_id_name(v->roots[i]));
	size_t fixed = strlen(lead) + strlen(chk_id_name(v->roots[0])) + 3 + strlen(also);

	/* the first root's summary is cut, never the list of the others */
	snprintf(out, len, "%s%s: %.*s%s", lead, chk_id_name(v->roots[0]),
	    (int)(len > fixed ? len - fixed : 0), d->res[v->roots[0]].summary, also);
}

void chk_verdict(
    const struct chk_domain *d, const struct mx_conf *conf, struct chk_verdict_info *out)
{
	char hosts[300];
	int nwarn = 0, nresolved = 0;
	bool evaluated = false;

	memset(out, 0, sizeof(*out));
	out->v = CHK_V_BLOCKED;
	for (int i = 0; i < CHK_COUNT; i++) {
		const struct chk_result *r = &d->res[i];

		if (!r->present)
			continue;
		evaluated = true;
		if (r->status == CHK_WARN)
			nwarn++;
		if (r->status != CHK_FAIL)
			continue;
		out->roots[out->nroots++] = (enum chk_id)i;
		nresolved += run_resolves((enum chk_id)i);
	}
	if (!evaluated) {
		out->nroots = 0;
		snprintf(out->text, sizeof(out->text), "not checked yet");
		return;
	}
	if (migrated_mx(d, conf, hosts, sizeof(hosts))) {
		/* Nothing to move; what still fails concerns the migrated domain itself. */
		out->v = CHK_V_MIGRATED;
		if (!out->nroots)
			snprintf(out->text, sizeof(out->text),
			    "already migrated: the MX is %s; nothing to move", hosts);
		else {
			char lead[400];

			snprintf(lead, sizeof(lead),
			    "already migrated (the MX is %.200s; nothing to move), but ", hosts);
			blocked_text(d, out, lead, out->text, sizeof(out->text));
		}
		return;
	}
	if (!out->nroots) {
		out->v = CHK_V_READY;
		out->runnable = true;
		if (!d->target[0])
			snprintf(out->text, sizeof(out->text),
			    "ready for the cutover; the target host was not checked (it is "
			    "DnssecMxValue from Enable-DnssecForVerifiedDomain)");
		else if (nwarn)
			snprintf(out->text, sizeof(out->text),
			    "ready for the cutover (%d warning%s)", nwarn, nwarn == 1 ? "" : "s");
		else
			snprintf(out->text, sizeof(out->text), "ready for the cutover");
		return;
	}
	if (nresolved == out->nroots) {
		out->runnable = true;
		snprintf(out->text, sizeof(out->text),
		    "ready to run: only %s fails, and the run resolves it — its first write "
		    "(mtasts_stage) publishes a policy listing both hosts before the MX changes",
		    chk_id_name(out->roots[0]));
		return;
	}
	blocked_text(d, out, "blocked by ", out->text, sizeof(out->text));
}

/* ---- the asynchronous part ---- */

static void prov_call_run(struct mx_worker *wk, void *arg)
{
	struct prov_call *c = arg;

	mx_err_clear(&c->err);
	c->rc = c->fn(c->arg, wk, c->domain, &c->values, &c->proof, &c->err);
	if (c->rc && !c->err.msg[0])
		mx_err_set(&c->err, c->rc, "the provider could not be read");
}

static void prov_call_free(void *arg, bool orphan)
{
	struct prov_call *c = arg;

	(void)orphan;
	json_decref(c->values);
	free(c);
}

/* provider.access of w's domain on a thread of the pool: w waits for it (pending) like for
 * a query. False when it could not be started: eval_provider then reads on the loop. */
static bool start_provider(struct chk_work *w)
{
	struct chk_job *job = w->job;
	const struct chk_opts *o = job->o;
	struct prov_call *c;
	struct mx_err err;

	if (!o->pool || !o->provider_name || !o->provider_read || !(c = calloc(1, sizeof(*c))))
		return false;
	c->fn = o->provider_read;
	c->arg = o->provider_arg;
	snprintf(c->domain, sizeof(c->domain), "%s", w->d->domain);
	mx_err_clear(&err);
	if (!(w->pwork = mx_work_start(o->pool, NULL, prov_call_run, c, prov_call_free, &err))) {
		free(c);
		return false;
	}
	w->pcall = c;
	w->pending++;
	w->pnext = job->pwait;
	job->pwait = w;
	return true;
}

/* The provider reads that ended: their domains go on (finish_one). */
static void provider_reads_done(struct chk_job *job)
{
	if (!job->pwait)
		return;
	mx_workers_drain(job->o->pool);
	for (struct chk_work **pp = &job->pwait; *pp;) {
		struct chk_work *w = *pp;

		if (!mx_work_done(job->o->pool, w->pwork)) {
			pp = &w->pnext;
			continue;
		}
		*pp = w->pnext;
		mx_work_end(job->o->pool, w->pwork);
		w->pwork = NULL;
		finish_one(w);
	}
}

static void work_free(struct chk_work *w)
{
	if (w->pwork) { /* still under way: the pool frees the call when it ends */
		for (struct chk_work **pp = &w->job->pwait; *pp; pp = &(*pp)->pnext)
			if (*pp == w) {
				*pp = w->pnext;
				break;
			}
		mx_work_abandon(w->job->o->pool, w->pwork);
	} else if (w->pcall) {
		prov_call_free(w->pcall, false);
	}
	/* A work freed before its answers are in (its job stopped early): its lookups and its
	 * policy's transfer are dropped, or their callbacks would find it gone while the loop
	 * goes on for others (a stopped run's preflight in the engine). */
	while (w->queries) {
		struct query_ctx *q = w->queries;

		w->queries = q->next;
		dns_cancel(w->job->o->dns, q);
		free(q);
	}
	if (w->fetching)
		http_cancel(w->job->o->http, w);
	for (int i = 0; i < Q_COUNT; i++)
		dns_answer_free(w->a[i]);
	for (size_t i = 0; i < w->nsrv; i++) {
		dns_answer_free(w->srv[i].soa);
		dns_answer_free(w->srv[i].mx);
	}
	free(w->srv);
	http_response_free(w->policy);
	dane_result_free(w->probe);
	free(w);
}

static void finish_one(struct chk_work *w)
{
	struct chk_job *job = w->job;
	struct chk_domain *d = w->d;

	if (--w->pending > 0)
		return;
	if (start_probe(w))
		return;
	evaluate(w);
	d->work = NULL;
	work_free(w);
	job->done++;
	if (job->o->sink) {
		int fails = 0;

		for (int i = 0; i < CHK_COUNT; i++)
			fails += d->res[i].present && d->res[i].status == CHK_FAIL;
		mx_emit(job->o->sink, MX_EV_CHECK, fails ? MX_SEV_WARN : MX_SEV_INFO, d->domain, -1,
		    0, "%s: %s", d->domain, d->ready ? "ready" : "not ready");
		{
			struct mx_event ev;

			memset(&ev, 0, sizeof(ev));
			ev.kind = MX_EV_PROGRESS;
			ev.step = -1;
			ev.done = (int)job->done;
			ev.total = (int)job->total;
			snprintf(ev.text, sizeof(ev.text), "checked %zu of %zu domains", job->done,
			    job->total);
			mx_emit_event(job->o->sink, &ev);
		}
	}
	if (job->o->on_done)
		job->o->on_done(job->o->done_arg, d);
	if (job->slots) {
		/* Streaming: the result has been handed over; the slot serves the next domain. */
		chk_domain_clear(d);
		memset(d, 0, sizeof(*d));
		job->free_slots[job->nfree++] = d;
	}
#ifdef __GLIBC__
	/* What is in use stays the same however many domains are checked (the resolver's
	 * caches, the domains in flight), but the allocator keeps what was freed in fragments
	 * of its arenas, and RSS would grow by a few KiB a domain: every CHK_TRIM_EVERY domains
	 * the free pages go back to the system (docs/performance.md). */
	if (job->done % CHK_TRIM_EVERY == 0)
		malloc_trim(0);
#endif
}

static void on_answer(void *arg, struct dns_answer *ans);

static void query_unlink(struct query_ctx *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		q->w->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
}

/* Returns false when the query could not be sent (it then counts as unanswered). */
static bool ask(
    struct chk_work *w, int slot, size_t index, const char *name, uint16_t type, const char *server)
{
	struct query_ctx *q = malloc(sizeof(*q));
	struct mx_err err;
	int rc;

	if (!q)
		return false;
	q->w = w;
	q->slot = slot;
	q->index = index;
	q->prev = NULL;
	q->next = w->queries;
	if (w->queries)
		w->queries->prev = q;
	w->queries = q;
	w->pending++;
	if (server)
		rc = dns_query_direct_async(w->job->o->dns, server, name, type,
		    w->job->o->timeout_ms ? w->job->o->timeout_ms : 3000, on_answer, q, &err);
	else
		rc = dns_resolve_async(w->job->o->dns, name, type, on_answer, q, &err);
	if (rc) {
		/* Recorded as "no answer"; the check that needed it says so. */
		query_unlink(q);
		free(q);
		w->pending--;
		if (!w->job->err.rc)
			w->job->err = err;
		return false;
	}
	return true;
}

static void on_policy(void *arg, struct http_response *resp)
{
	struct chk_work *w = arg;

	w->fetching = false;
	w->policy = resp;
	finish_one(w);
}

static void fetch_policy(struct chk_work *w)
{
	struct http_request req;
	struct mx_err err;

	mtasts_fetch_request(w->d->domain, w->policy_addr, w->job->o->timeout_ms, w->policy_url,
	    sizeof(w->policy_url), &req);
	w->pending++;
	w->fetching = true;
	if (http_start(w->job->o->http, &req, on_policy, w, &err)) {
		w->fetching = false;
		w->pending--;
		if (!w->job->err.rc)
			w->job->err = err;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_server(struct chk_work *w, const char *addr)
{
	struct ns_server *grown;

	for (size_t i = 0; i < w->nsrv; i++)
		if (!strcmp(w->srv[i].addr, addr))
			return;
	grown = realloc(w->srv, (w->nsrv + 1) * sizeof(*grown));
	if (!grown)
		return;
	w->srv = grown;
	memset(&w->srv[w->nsrv], 0, sizeof(w->srv[0]));
	snprintf(w->srv[w->nsrv].addr, sizeof(w->srv[0].addr), "%s", addr);
	w->nsrv++;
}

static void ns_addresses_done(struct chk_work *w)
{
	/* Sort servers so output and detail are stable, then ask each one directly. */
	char **names = calloc(w->nsrv ? w->nsrv : 1, sizeof(*names));

	if (names) {
		for (size_t i = 0; i < w->nsrv; i++)
			names[i] = w->srv[i].addr;
		qsort(names, w->nsrv, sizeof(*names), cmp_str);
		{
			struct ns_server *sorted = calloc(w->nsrv ? w->nsrv : 1, sizeof(*sorted));

			if (sorted) {
				for (size_t i = 0; i < w->nsrv; i++)
					snprintf(
					    sorted[i].addr, sizeof(sorted[i].addr), "%s", names[i]);
				free(w->srv);
				w->srv = sorted;
			}
		}
		free(names);
	}
	for (size_t i = 0; i < w->nsrv; i++) {
		ask(w, -2, i, w->d->domain, DNS_T_SOA, w->srv[i].addr);
		ask(w, -3, i, w->d->domain, DNS_T_MX, w->srv[i].addr);
	}
}

/* The second wave: everything else asked of the domain's zone, once its SOA is in. */
static void ask_zone(struct chk_work *w)
{
	struct chk_domain *d = w->d;
	char name[300];

	ask(w, Q_DNSKEY, 0, d->domain, DNS_T_DNSKEY, NULL);
	ask(w, Q_MX, 0, d->domain, DNS_T_MX, NULL);
	ask(w, Q_NX, 0, w->nx_name, DNS_T_TXT, NULL);
	ask(w, Q_NS, 0, d->domain, DNS_T_NS, NULL);
	snprintf(name, sizeof(name), "_mta-sts.%s", d->domain);
	ask(w, Q_STS_TXT, 0, name, DNS_T_TXT, NULL);
	snprintf(name, sizeof(name), "_smtp._tls.%s", d->domain);
	ask(w, Q_TLSRPT, 0, name, DNS_T_TXT, NULL);
	ask(w, Q_APEX_TXT, 0, d->domain, DNS_T_TXT, NULL);
	snprintf(name, sizeof(name), "mta-sts.%s", d->domain);
	ask(w, Q_STS_A, 0, name, DNS_T_A, NULL);
}

static void on_answer(void *arg, struct dns_answer *ans)
{
	struct query_ctx *q = arg;
	struct chk_work *w = q->w;

	if (q->slot >= 0) {
		w->a[q->slot] = ans;
		if (q->slot == Q_NS) {
			for (size_t i = 0; i < ans->n; i++) {
				if (ans->rr[i].type != DNS_T_NS)
					continue;
				w->ns_lookups += 2;
				ask(w, -1, 0, ans->rr[i].u.host, DNS_T_A, NULL);
				ask(w, -1, 0, ans->rr[i].u.host, DNS_T_AAAA, NULL);
			}
		} else if (q->slot == Q_SOA) {
			ask_zone(w);
		} else if (q->slot == Q_STS_A) {
			for (size_t i = 0; i < ans->n; i++)
				if (ans->rr[i].type == DNS_T_A && ans->sec != DNS_SEC_BOGUS) {
					snprintf(w->policy_addr, sizeof(w->policy_addr), "%s",
					    ans->rr[i].u.addr);
					fetch_policy(w);
					break;
				}
		}
	} else if (q->slot == -1) {
		for (size_t i = 0; i < ans->n; i++)
			if (ans->rr[i].type == DNS_T_A || ans->rr[i].type == DNS_T_AAAA)
				add_server(w, ans->rr[i].u.addr);
		dns_answer_free(ans);
		if (--w->ns_lookups == 0)
			ns_addresses_done(w);
	} else {
		struct ns_server *s = &w->srv[q->index];

		if (q->slot == -2)
			s->soa = ans;
		else
			s->mx = ans;
	}
	query_unlink(q);
	free(q);
	finish_one(w);
}

static void start_domain(struct chk_job *job, struct chk_domain *d)
{
	struct chk_work *w = calloc(1, sizeof(*w));
	unsigned char rnd[6];
	char name[300];

	if (!w) {
		job->err.rc = MX_ENOMEM;
		return;
	}
	w->job = job;
	w->d = d;
	d->work = w;
	w->pending = 1; /* held until every first-wave query is out */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 7, sizeof(rnd));
	snprintf(w->nx_name, sizeof(w->nx_name), "mxcutover-nx-%02x%02x%02x%02x%02x%02x.%s", rnd[0],
	    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], d->domain);
	snprintf(w->policy_url, sizeof(w->policy_url), "https://mta-sts.%s/.well-known/mta-sts.txt",
	    d->domain);
	/* The SOA first, alone: validating it fetches and verifies the zone's DS and DNSKEY, and
	 * leaves the SOA in the resolver's cache as secure. The second wave's answers carry that
	 * SOA again (every negative answer does) and are then not verified twice: in a profile
	 * of many domains, signature checks were a third of all CPU. */
	if (!ask(w, Q_SOA, 0, d->domain, DNS_T_SOA, NULL))
		ask_zone(w);
	if (d->target[0]) {
		ask(w, Q_TARGET_A, 0, d->target, DNS_T_A, NULL);
		ask(w, Q_TARGET_AAAA, 0, d->target, DNS_T_AAAA, NULL);
		snprintf(name, sizeof(name), "_25._tcp.%s", d->target);
		ask(w, Q_TARGET_TLSA, 0, name, DNS_T_TLSA, NULL);
	}
	start_provider(w);
	finish_one(w);
}

int chk_start(const struct chk_opts *o, const char *const *domains, const char *const *targets,
    size_t n, struct chk_domain *out, struct chk_job **out_job, struct mx_err *err)
{
	struct chk_job *job = calloc(1, sizeof(*job));

	*out_job = NULL;
	if (!job)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	job->opts = *o;
	job->o = &job->opts;
	job->total = n;
	job->out = out;
	if (!out) {
		size_t nslots = o->max_active > 0 ? (size_t)o->max_active : CHK_DEFAULT_ACTIVE;

		if (!o->on_done) {
			free(job);
			return mx_err_set(err, MX_EINVAL, "streamed checks need a result callback");
		}
		if (nslots > n)
			nslots = n ? n : 1;
		job->domains = domains;
		job->targets = targets;
		job->nslots = nslots;
		job->slots = calloc(nslots, sizeof(*job->slots));
		job->free_slots = calloc(nslots, sizeof(*job->free_slots));
		if (!job->slots || !job->free_slots) {
			free(job->slots);
			free(job->free_slots);
			free(job);
			return mx_err_set(err, MX_ENOMEM, "out of memory");
		}
		/* Popped from the end: the first slot serves the first domain. */
		for (size_t i = 0; i < nslots; i++)
			job->free_slots[job->nfree++] = &job->slots[nslots - 1 - i];
	}
	for (size_t i = 0; out && i < n; i++) {
		snprintf(out[i].domain, sizeof(out[i].domain), "%s", domains[i]);
		snprintf(out[i].target, sizeof(out[i].target), "%s",
		    targets && targets[i] ? targets[i] : "");
	}
	*out_job = job;
	chk_advance(job);
	return MX_OK;
}

/* The next domain's result struct, or NULL when the in-flight limit is reached. */
static struct chk_domain *next_slot(struct chk_job *job, size_t max_active)
{
	struct chk_domain *d;

	if (job->next >= job->total || job->err.rc)
		return NULL;
	if (!job->slots)
		return job->next - job->done < max_active ? &job->out[job->next++] : NULL;
	if (!job->nfree)
		return NULL;
	d = job->free_slots[--job->nfree];
	snprintf(d->domain, sizeof(d->domain), "%s", job->domains[job->next]);
	snprintf(d->target, sizeof(d->target), "%s",
	    job->targets && job->targets[job->next] ? job->targets[job->next] : "");
	job->next++;
	return d;
}

bool chk_advance(struct chk_job *job)
{
	size_t max_active =
	    job->o->max_active > 0 ? (size_t)job->o->max_active : CHK_DEFAULT_ACTIVE;
	struct chk_domain *d;

	/* SMTP probes move on their own descriptor; nothing here blocks. Without a probe in
	 * flight there is nothing to read there: a caller that advances hundreds of jobs per
	 * turn of its loop (the engine's preflights) makes no system call for them. */
	if (job->dane && dane_pending(job->dane) && !job->err.rc)
		dane_process(job->dane, &job->err);
	provider_reads_done(job);
	/* Keep at most max_active domains in flight: memory stays bounded. */
	while ((d = next_slot(job, max_active)))
		start_domain(job, d);
	return job->done >= job->total || job->err.rc == MX_ENOMEM;
}

void chk_progress(const struct chk_job *job, size_t *done, size_t *total)
{
	*done = job ? job->done : 0;
	*total = job ? job->total : 0;
}

int chk_fd(const struct chk_job *job)
{
	return job ? dane_fd(job->dane) : -1;
}

int chk_timeout_ms(const struct chk_job *job)
{
	return job ? dane_timeout_ms(job->dane) : -1;
}

int chk_finish(struct chk_job *job, struct mx_err *err)
{
	int rc = MX_OK;

	if (!job)
		return MX_OK;
	if (job->err.rc == MX_ENOMEM)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
	else if (job->done < job->total)
		rc = mx_err_set(err, MX_ECANCELED, "the checks were stopped before they finished");
	/* The probes hold their domains' work: they go first. */
	dane_ctx_free(job->dane);
	/* The works still in flight need their job to drop what they asked. */
	for (size_t i = 0; job->out && i < job->next; i++)
		if (job->out[i].work) {
			work_free(job->out[i].work);
			job->out[i].work = NULL;
		}
	if (job->slots) {
		for (size_t i = 0; i < job->nslots; i++)
			chk_domain_clear(&job->slots[i]);
		free(job->slots);
		free(job->free_slots);
	}
	free(job);
	return rc;
}

int chk_probe_dns(const struct chk_opts *o, struct mx_err *err)
{
	/* Without DNS every domain would fail its lookups after long timeouts and be blamed
	 * for it: ask once whether this machine can resolve at all. */
	return dns_probe_root(o->dns, o->resolver_conf, CHK_DNS_PROBE_MS, err);
}

int chk_run(const struct chk_opts *o, const char *const *domains, const char *const *targets,
    size_t n, struct chk_domain *out, struct mx_err *err)
{
	struct mx_loop loop = {o->dns, o->http};
	struct chk_job *job = NULL;
	int rc;

	if (!o->skip_dns_probe && n) {
		rc = chk_probe_dns(o, err);
		if (rc)
			return rc;
	}
	rc = chk_start(o, domains, targets, n, out, &job, err);

	while (!rc && !(o->stop && *o->stop) && !chk_advance(job)) {
		int dfd = chk_fd(job);

		rc =
		    mx_loop_once(&loop, dfd >= 0 ? &dfd : NULL, dfd >= 0, chk_timeout_ms(job), err);
	}
	if (!rc && o->stop && *o->stop)
		rc = mx_err_set(err, MX_EAGAIN, "the checks were interrupted");
	if (!rc)
		return chk_finish(job, err);
	chk_finish(job, NULL);
	return rc;
}

void chk_domain_slim(struct chk_domain *d)
{
	for (int i = 0; i < CHK_COUNT; i++) {
		json_decref(d->res[i].detail);
		d->res[i].detail = NULL;
	}
	for (size_t i = 0; i < d->facts.nns; i++)
		free(d->facts.ns_addrs[i]);
	free(d->facts.ns_addrs);
	d->facts.ns_addrs = NULL;
	d->facts.nns = 0;
	free(d->facts.mtasts_policy);
	d->facts.mtasts_policy = NULL;
}

void chk_domain_clear(struct chk_domain *d)
{
	for (int i = 0; i < CHK_COUNT; i++) {
		json_decref(d->res[i].detail);
		d->res[i].detail = NULL;
	}
	dns_answer_free(d->facts.mx);
	for (size_t i = 0; i < d->facts.nns; i++)
		free(d->facts.ns_addrs[i]);
	free(d->facts.ns_addrs);
	free(d->facts.mtasts_policy);
	if (d->work)
		work_free(d->work);
	memset(&d->facts, 0, sizeof(d->facts));
	d->work = NULL;
}

json_t *chk_domain_json(const struct chk_domain *d)
{
	json_t *checks = json_array();

	for (int i = 0; i < CHK_COUNT; i++) {
		const struct chk_result *r = &d->res[i];

		if (!r->present)
			continue;
		json_array_append_new(checks,
		    json_pack("{s:s,s:s,s:s,s:O}", "id", chk_names[i], "status",
			chk_status_name(r->status), "summary", r->summary, "detail", r->detail));
	}
	{
		json_t *roots = json_array();

		for (int i = 0; i < d->verdict.nroots; i++)
			json_array_append_new(roots, json_string(chk_id_name(d->verdict.roots[i])));
		return json_pack("{s:s,s:b,s:o,s:s,s:s,s:b,s:o}", "domain", d->domain, "ready",
		    d->ready, "checks", checks, "verdict", chk_verdict_name(d->verdict.v),
		    "verdict_text", d->verdict.text, "runnable", d->verdict.runnable, "blocked_by",
		    roots);
	}
}
