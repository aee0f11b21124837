/* SPDX-License-Identifier: MIT */
/* src/outbound.c — partner readiness for SmtpDaneMode / MtaStsMode.
 *
 * Each partner domain is a small state machine driven by completion callbacks, like the
 * checks: the MX, _mta-sts TXT and mta-sts address lookups go out at once; the MX answer
 * starts A, AAAA and TLSA lookups for each MX host, the mta-sts address starts the policy
 * fetch. When the last of those is in, the hosts worth a look on the wire (usable TLSA, or an
 * MTA-STS policy that senders apply) are probed side by side; when the last probe is back
 * the facts are summed up, the work's answers are freed and ob_verdict decides. */
#include "outbound.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

#define OB_DEFAULT_ACTIVE    100
#define OB_DEFAULT_MAX_HOSTS 16

/* ---- names ---- */

const char *ob_tlsa_name(enum ob_tlsa t)
{
	static const char *const names[] = {"usable", "unusable", "absent", "insecure", "bogus"};

	return (unsigned)t < 5 ? names[t] : "bogus";
}

const char *ob_dane_mode_name(enum ob_dane_mode m)
{
	static const char *const names[] = {"Mandatory", "Opportunistic", "None"};

	return (unsigned)m < 3 ? names[m] : "None";
}

const char *ob_sts_mode_name(enum ob_sts_mode m)
{
	return m == OB_STS_OPPORTUNISTIC ? "Opportunistic" : "None";
}

const char *ob_mx_state_name(enum ob_mx_state s)
{
	static const char *const names[] = {"ok", "implicit", "null", "nxdomain", "failed"};

	return (unsigned)s < 5 ? names[s] : "failed";
}

enum ob_tlsa ob_tlsa_classify(const struct dns_answer *a)
{
	if (!a || a->sec == DNS_SEC_BOGUS || a->rcode < 0 || a->rcode == 2)
		return OB_TLSA_BOGUS;
	if (a->sec != DNS_SEC_SECURE)
		return OB_TLSA_INSECURE;
	if (!a->n)
		return OB_TLSA_ABSENT;
	return dane_tlsa_count_usable(a) ? OB_TLSA_USABLE : OB_TLSA_UNUSABLE;
}

/* ---- the verdict (pure) ---- */

/* snprintf for messages: a reason that does not fit is cut, which is fine for text. */
static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static bool wire_failure(const struct ob_host *h)
{
	return h->tlsa == OB_TLSA_USABLE &&
	       (h->probe == DANE_PROBE_MISMATCH || h->probe == DANE_PROBE_NO_STARTTLS);
}

/* Why a host is not (yet) a Mandatory candidate, or NULL when it is one. */
static const char *host_gap(
    const struct ob_domain *d, const struct ob_host *h, char *buf, size_t len)
{
	if (d->mx_sec != DNS_SEC_SECURE)
		say(buf, len,
		    "the MX RRset of %s is %s, not DNSSEC-secure: DANE does not apply to it",
		    d->domain, dns_sec_name(d->mx_sec));
	else if (!h->naddr)
		say(buf, len, "%s has no address", h->host);
	else if (h->addr_sec != DNS_SEC_SECURE)
		say(buf, len,
		    "the addresses of %s are %s, not DNSSEC-secure: DANE does not apply to it",
		    h->host, dns_sec_name(h->addr_sec));
	else if (h->tlsa == OB_TLSA_ABSENT)
		snprintf(
		    buf, len, "%s publishes no TLSA record: DANE does not apply to it", h->host);
	else if (h->tlsa == OB_TLSA_UNUSABLE)
		say(buf, len,
		    "%s publishes only TLSA usages 0/1, which SMTP DANE ignores (RFC 7672)",
		    h->host);
	else if (h->tlsa == OB_TLSA_INSECURE)
		say(buf, len, "the TLSA lookup of %s is not DNSSEC-secure: DANE does not apply",
		    h->host);
	else if (h->probe == DANE_PROBE_UNREACHABLE)
		say(buf, len,
		    "the TLSA of %s is not verified on the wire (%s); run outbound where port 25 "
		    "is open before choosing Mandatory",
		    h->host,
		    h->probe_error[0] ? h->probe_error : "port 25 not reachable from here");
	else if (h->probe != DANE_PROBE_VERIFIED)
		say(buf, len, "%s was not verified on the wire (probe %s)", h->host,
		    dane_probe_name(h->probe));
	else
		return NULL;
	return buf;
}

static void dane_verdict(struct ob_domain *d)
{
	char gap[400];
	size_t nverified = 0;

	if (d->mx_sec == DNS_SEC_BOGUS) {
		d->dane_mode = OB_DANE_NONE;
		d->warning = true;
		say(d->dane_reason, sizeof(d->dane_reason),
		    "the MX RRset of %s is DNSSEC-bogus (%s): validating senders cannot deliver; "
		    "with DANE on, Exchange Online queues the mail 24 h and then drops it — ask "
		    "the partner to fix DNSSEC",
		    d->domain, d->why_bogus[0] ? d->why_bogus : "no reason given");
		return;
	}
	d->dane_mode = OB_DANE_OPPORTUNISTIC;
	switch (d->mx_state) {
	case OB_MX_NXDOMAIN:
		say(d->dane_reason, sizeof(d->dane_reason),
		    "%s does not exist (NXDOMAIN); check the spelling", d->domain);
		return;
	case OB_MX_NULL:
		say(d->dane_reason, sizeof(d->dane_reason),
		    "%s accepts no mail (null MX, RFC 7505)", d->domain);
		return;
	case OB_MX_FAILED:
		say(d->dane_reason, sizeof(d->dane_reason),
		    "the MX lookup of %s failed (SERVFAIL or timeout): nothing can be judged; "
		    "run outbound again later",
		    d->domain);
		return;
	default:
		break;
	}
	if (!d->nhosts) {
		snprintf(
		    d->dane_reason, sizeof(d->dane_reason), "%s has no usable MX host", d->domain);
		return;
	}
	/* A bogus chain anywhere defers mail at validating senders. */
	for (size_t i = 0; i < d->nhosts; i++) {
		const struct ob_host *h = &d->hosts[i];

		if (h->addr_sec == DNS_SEC_BOGUS || h->tlsa == OB_TLSA_BOGUS) {
			d->dane_mode = OB_DANE_NONE;
			d->warning = true;
			say(d->dane_reason, sizeof(d->dane_reason),
			    "the DNSSEC chain of %s is bogus (%s %s): DANE senders defer its "
			    "mail; with DANE on, Exchange Online queues the mail 24 h and then "
			    "drops it — ask the partner to fix DNSSEC",
			    h->host, h->addr_sec == DNS_SEC_BOGUS ? "address" : "TLSA lookup",
			    d->why_bogus[0] ? d->why_bogus : "validation or lookup failed");
			return;
		}
	}
	for (size_t i = 0; i < d->nhosts; i++) {
		const struct ob_host *h = &d->hosts[i];

		if (wire_failure(h)) {
			d->dane_mode = OB_DANE_NONE;
			d->warning = true;
			say(d->dane_reason, sizeof(d->dane_reason),
			    "%s publishes usable TLSA but fails on the wire (%s): with DANE on, "
			    "Exchange Online queues the mail 24 h and then drops it — tell the "
			    "partner",
			    h->host, h->probe_error[0] ? h->probe_error : "no detail");
			return;
		}
	}
	for (size_t i = 0; i < d->nhosts; i++)
		if (!host_gap(d, &d->hosts[i], gap, sizeof(gap)))
			nverified++;
	if (nverified == d->nhosts) {
		d->dane_mode = OB_DANE_MANDATORY;
		say(d->dane_reason, sizeof(d->dane_reason),
		    "every MX host (%zu) has a DNSSEC-secure MX and addresses and usable TLSA "
		    "that verified on port 25",
		    d->nhosts);
		return;
	}
	/* The first gap in preference order explains the verdict. */
	for (size_t i = 0; i < d->nhosts; i++)
		if (host_gap(d, &d->hosts[i], gap, sizeof(gap)))
			break;
	say(d->dane_reason, sizeof(d->dane_reason), "%s%s", gap,
	    nverified ? " (other MX hosts verify)" : "");
}

static void sts_verdict(struct ob_domain *d)
{
	const struct ob_sts *s = &d->sts;
	bool unknown = false;

	d->sts_mode = OB_STS_OPPORTUNISTIC;
	if (d->mx_state == OB_MX_NXDOMAIN || d->mx_state == OB_MX_NULL ||
	    d->mx_state == OB_MX_FAILED) {
		say(d->sts_reason, sizeof(d->sts_reason), "nothing to deliver to");
		return;
	}
	if (!s->record) {
		say(d->sts_reason, sizeof(d->sts_reason),
		    "no MTA-STS record, so MtaStsMode changes nothing for this partner");
		return;
	}
	if (!s->policy_valid) {
		say(d->sts_reason, sizeof(d->sts_reason),
		    "no policy in force (%s): senders without a cached policy deliver as without "
		    "MTA-STS",
		    s->problem[0] ? s->problem : "the policy cannot be read");
		return;
	}
	if (s->mode != MTASTS_MODE_ENFORCE) {
		say(d->sts_reason, sizeof(d->sts_reason),
		    "policy mode %s: failures are only reported, never block mail",
		    mtasts_mode_name(s->mode));
		return;
	}
	for (size_t i = 0; i < d->nhosts; i++) {
		const struct ob_host *h = &d->hosts[i];
		const char *why = NULL;
		char buf[200];

		if (!h->sts_covered)
			why = "is not listed in the enforce policy's mx patterns";
		else if (h->starttls == OB_NO)
			why = "does not offer STARTTLS although the policy is enforce";
		else if (h->pkix == OB_NO) {
			say(buf, sizeof(buf),
			    "presents a certificate that MTA-STS does not accept (%s)",
			    h->pkix_error[0] ? h->pkix_error : "not trusted or wrong name");
			why = buf;
		}
		if (why) {
			d->sts_mode = OB_STS_NONE;
			d->warning = true;
			say(d->sts_reason, sizeof(d->sts_reason),
			    "%s %s: with MtaStsMode Opportunistic Exchange Online cannot deliver "
			    "to it — tell the partner",
			    h->host, why);
			return;
		}
		if (h->pkix == OB_UNKNOWN || h->starttls == OB_UNKNOWN)
			unknown = true;
	}
	say(d->sts_reason, sizeof(d->sts_reason), "the enforce policy covers every MX host%s",
	    unknown ? " (certificates not verifiable from here)"
		    : " and their certificates validate");
}

void ob_verdict(struct ob_domain *d)
{
	d->warning = false;
	dane_verdict(d);
	sts_verdict(d);
	snprintf(
	    d->reason, sizeof(d->reason), "DANE: %s. MTA-STS: %s.", d->dane_reason, d->sts_reason);
}

void ob_command(const struct ob_domain *d, const char *connector, char *buf, size_t len)
{
	char name[300];

	if (connector && *connector)
		snprintf(name, sizeof(name), "%s", connector);
	else
		snprintf(name, sizeof(name), "<connector to %s>", d->domain);
	snprintf(buf, len, "Set-OutboundConnector -Identity \"%s\" -SmtpDaneMode %s -MtaStsMode %s",
	    name, ob_dane_mode_name(d->dane_mode), ob_sts_mode_name(d->sts_mode));
}

/* ---- JSON ---- */

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; v && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *ob_domain_json(const struct ob_domain *d, const char *connector)
{
	json_t *o = json_object(), *hosts = json_array(), *sts = json_object();
	char cmd[600];

	json_object_set_new(o, "domain", json_string(d->domain));
	json_object_set_new(o, "smtp_dane_mode", json_string(ob_dane_mode_name(d->dane_mode)));
	json_object_set_new(o, "mta_sts_mode", json_string(ob_sts_mode_name(d->sts_mode)));
	json_object_set_new(o, "reason", json_string(d->reason));
	json_object_set_new(o, "warning", json_boolean(d->warning));
	ob_command(d, connector, cmd, sizeof(cmd));
	json_object_set_new(o, "command", json_string(cmd));
	json_object_set_new(o, "mx",
	    json_pack("{s:s,s:s}", "state", ob_mx_state_name(d->mx_state), "dnssec",
		dns_sec_name(d->mx_sec)));
	if (d->why_bogus[0])
		json_object_set_new(o, "why_bogus", json_string(d->why_bogus));

	json_object_set_new(sts, "record", json_boolean(d->sts.record));
	if (d->sts.record_valid)
		json_object_set_new(sts, "id", json_string(d->sts.id));
	json_object_set_new(sts, "fetch",
	    d->sts.fetched ? json_string(mtasts_fetch_name(d->sts.fetch)) : json_null());
	json_object_set_new(sts, "policy_valid", json_boolean(d->sts.policy_valid));
	if (d->sts.policy_valid) {
		json_object_set_new(sts, "mode", json_string(mtasts_mode_name(d->sts.mode)));
		json_object_set_new(sts, "max_age", json_integer(d->sts.max_age));
		json_object_set_new(sts, "mx", strv_json(d->sts.mx, d->sts.nmx));
	}
	if (d->sts.problem[0])
		json_object_set_new(sts, "problem", json_string(d->sts.problem));
	json_object_set_new(o, "mta_sts", sts);

	for (size_t i = 0; i < d->nhosts; i++) {
		const struct ob_host *h = &d->hosts[i];
		json_t *ho = json_object();

		json_object_set_new(ho, "host", json_string(h->host));
		json_object_set_new(ho, "preference",
		    h->preference >= 0 ? json_integer(h->preference) : json_null());
		json_object_set_new(ho, "mx_secure", json_boolean(d->mx_sec == DNS_SEC_SECURE));
		json_object_set_new(
		    ho, "address_secure", json_boolean(h->naddr && h->addr_sec == DNS_SEC_SECURE));
		json_object_set_new(ho, "addresses", strv_json(h->addrs, h->naddr));
		json_object_set_new(ho, "tlsa", json_string(ob_tlsa_name(h->tlsa)));
		json_object_set_new(ho, "tlsa_records", strv_json(h->tlsa_text, h->ntlsa));
		json_object_set_new(ho, "probe", json_string(dane_probe_name(h->probe)));
		if (h->probe_error[0])
			json_object_set_new(ho, "probe_error", json_string(h->probe_error));
		json_object_set_new(ho, "mta_sts_covered",
		    d->sts.policy_valid ? json_boolean(h->sts_covered) : json_null());
		json_object_set_new(ho, "probe_detail",
		    h->probe_res ? dane_result_json(h->probe_res) : json_null());
		json_array_append_new(hosts, ho);
	}
	json_object_set_new(o, "hosts", hosts);
	return o;
}

/* ---- the asynchronous part ---- */

struct ob_host_work {
	struct dns_answer *a, *aaaa, *tlsa;
};

struct ob_query;

struct ob_job {
	const struct ob_opts *o;
	struct dane_ctx *dane;
	struct mx_err err;
	size_t done;
	struct ob_query *asked; /* the lookups in flight, dropped when the job is stopped */
};

struct ob_work {
	struct ob_job *job;
	struct ob_domain *d;
	int pending;
	struct dns_answer *mx, *sts_txt, *sts_a;
	struct ob_host_work *hw; /* parallel to d->hosts */
	struct http_response *policy;
	struct mtasts_policy *pol;
	char policy_url[300];
	char policy_addr[64];
	bool probing;
};

enum qkind { QK_MX = 0, QK_STS_TXT, QK_STS_A, QK_A, QK_AAAA, QK_TLSA };

struct ob_query {
	struct ob_work *w;
	enum qkind kind;
	size_t host;
	struct ob_query *next, **prevp; /* in job->asked */
};

static void query_unlink(struct ob_query *q)
{
	*q->prevp = q->next;
	if (q->next)
		q->next->prevp = q->prevp;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void work_free(struct ob_work *w)
{
	if (!w)
		return;
	dns_answer_free(w->mx);
	dns_answer_free(w->sts_txt);
	dns_answer_free(w->sts_a);
	for (size_t i = 0; w->hw && i < w->d->nhosts; i++) {
		dns_answer_free(w->hw[i].a);
		dns_answer_free(w->hw[i].aaaa);
		dns_answer_free(w->hw[i].tlsa);
	}
	free(w->hw);
	http_response_free(w->policy);
	mtasts_policy_free(w->pol);
	free(w);
}

void ob_domain_clear(struct ob_domain *d)
{
	for (size_t i = 0; i < d->nhosts; i++) {
		struct ob_host *h = &d->hosts[i];

		strv_free(h->addrs, h->naddr);
		strv_free(h->tlsa_text, h->ntlsa);
		dane_result_free(h->probe_res);
	}
	free(d->hosts);
	strv_free(d->sts.mx, d->sts.nmx);
	work_free(d->work);
	d->hosts = NULL;
	d->nhosts = 0;
	d->sts.mx = NULL;
	d->sts.nmx = 0;
	d->work = NULL;
}

static void note_bogus(struct ob_domain *d, const struct dns_answer *a)
{
	if (a && a->why_bogus && !d->why_bogus[0])
		snprintf(d->why_bogus, sizeof(d->why_bogus), "%s", a->why_bogus);
}

static void finish_one(struct ob_work *w);
static void on_answer(void *arg, struct dns_answer *ans);

static void ask(struct ob_work *w, enum qkind kind, size_t host, const char *name, uint16_t type)
{
	struct ob_query *q = malloc(sizeof(*q));
	struct mx_err err;

	if (!q) {
		w->job->err.rc = MX_ENOMEM;
		return;
	}
	q->w = w;
	q->kind = kind;
	q->host = host;
	q->next = w->job->asked;
	q->prevp = &w->job->asked;
	if (q->next)
		q->next->prevp = &q->next;
	w->job->asked = q;
	w->pending++;
	if (dns_resolve_async(w->job->o->dns, name, type, on_answer, q, &err)) {
		/* Left unanswered: the facts say "no answer". */
		query_unlink(q);
		free(q);
		w->pending--;
	}
}

static int cmp_host(const void *a, const void *b)
{
	const struct ob_host *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return strcmp(x->host, y->host);
}

/* The MX answer decides which hosts to look at. */
static void take_mx(struct ob_work *w, const struct dns_answer *a)
{
	struct ob_domain *d = w->d;
	size_t max = w->job->o->max_hosts ? w->job->o->max_hosts : OB_DEFAULT_MAX_HOSTS, n = 0;
	char name[300];

	d->mx_sec = a->sec;
	note_bogus(d, a);
	if (a->sec == DNS_SEC_BOGUS) {
		d->mx_state = OB_MX_OK;
		return;
	}
	if (a->nxdomain) {
		d->mx_state = OB_MX_NXDOMAIN;
		return;
	}
	if (a->rcode != 0) {
		d->mx_state = OB_MX_FAILED;
		return;
	}
	for (size_t i = 0; i < a->n; i++)
		if (a->rr[i].type == DNS_T_MX && !strcmp(a->rr[i].u.mx.host, ".")) {
			d->mx_state = OB_MX_NULL;
			return;
		}
	d->hosts = calloc(a->n ? a->n : 1, sizeof(*d->hosts));
	if (!d->hosts) {
		w->job->err.rc = MX_ENOMEM;
		return;
	}
	if (!a->n) {
		d->mx_state = OB_MX_IMPLICIT;
		snprintf(d->hosts[0].host, sizeof(d->hosts[0].host), "%s", d->domain);
		d->hosts[0].preference = -1;
		n = 1;
	} else {
		d->mx_state = OB_MX_OK;
		for (size_t i = 0; i < a->n; i++) {
			const struct dns_rr *rr = &a->rr[i];
			bool dup = false;

			if (rr->type != DNS_T_MX)
				continue;
			for (size_t j = 0; j < n; j++)
				dup |= !strcmp(d->hosts[j].host, rr->u.mx.host);
			if (dup)
				continue;
			snprintf(d->hosts[n].host, sizeof(d->hosts[n].host), "%s", rr->u.mx.host);
			d->hosts[n++].preference = rr->u.mx.pref;
		}
		qsort(d->hosts, n, sizeof(*d->hosts), cmp_host);
		if (n > max)
			n = max;
	}
	d->nhosts = n;
	w->hw = calloc(n ? n : 1, sizeof(*w->hw));
	if (!w->hw) {
		d->nhosts = 0;
		w->job->err.rc = MX_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		d->hosts[i].probe = DANE_PROBE_SKIPPED;
		d->hosts[i].starttls = d->hosts[i].pkix = OB_UNKNOWN;
		ask(w, QK_A, i, d->hosts[i].host, DNS_T_A);
		ask(w, QK_AAAA, i, d->hosts[i].host, DNS_T_AAAA);
		snprintf(name, sizeof(name), "_25._tcp.%s", d->hosts[i].host);
		ask(w, QK_TLSA, i, name, DNS_T_TLSA);
	}
}

static void on_policy(void *arg, struct http_response *resp)
{
	struct ob_work *w = arg;

	w->policy = resp;
	finish_one(w);
}

static void fetch_policy(struct ob_work *w)
{
	struct http_request req;
	struct mx_err err;

	mtasts_fetch_request(w->d->domain, w->policy_addr, w->job->o->timeout_ms, w->policy_url,
	    sizeof(w->policy_url), &req);
	w->pending++;
	if (http_start(w->job->o->http, &req, on_policy, w, &err))
		w->pending--;
}

static void on_answer(void *arg, struct dns_answer *ans)
{
	struct ob_query *q = arg;
	struct ob_work *w = q->w;

	query_unlink(q);
	if (!ans) {
		w->job->err.rc = MX_ENOMEM;
	} else {
		switch (q->kind) {
		case QK_MX:
			w->mx = ans;
			take_mx(w, ans);
			break;
		case QK_STS_TXT:
			w->sts_txt = ans;
			break;
		case QK_STS_A:
			w->sts_a = ans;
			for (size_t i = 0; ans->sec != DNS_SEC_BOGUS && i < ans->n; i++)
				if (ans->rr[i].type == DNS_T_A) {
					snprintf(w->policy_addr, sizeof(w->policy_addr), "%s",
					    ans->rr[i].u.addr);
					fetch_policy(w);
					break;
				}
			break;
		case QK_A:
			w->hw[q->host].a = ans;
			break;
		case QK_AAAA:
			w->hw[q->host].aaaa = ans;
			break;
		case QK_TLSA:
			w->hw[q->host].tlsa = ans;
			break;
		}
	}
	free(q);
	finish_one(w);
}

/* The MTA-STS facts from the TXT answer and the fetched policy. */
static void sum_up_sts(struct ob_work *w)
{
	struct ob_sts *s = &w->d->sts;
	struct mtasts_txt *rec = NULL;
	const char **strs = NULL;
	size_t n = 0;

	if (w->sts_txt && w->sts_txt->n) {
		strs = calloc(w->sts_txt->n, sizeof(*strs));
		for (size_t i = 0; strs && i < w->sts_txt->n; i++)
			if (w->sts_txt->rr[i].type == DNS_T_TXT)
				strs[n++] = w->sts_txt->rr[i].u.txt;
	}
	if (mtasts_txt_parse(strs, n, &rec, NULL) != MX_OK)
		rec = NULL;
	free(strs);
	s->record = rec && rec->nrecords > 0;
	s->record_valid = s->record && rec->valid;
	if (s->record_valid)
		snprintf(s->id, sizeof(s->id), "%s", rec->id);
	if (s->record && !rec->valid)
		say(s->problem, sizeof(s->problem), "%s", rec->error);
	mtasts_txt_free(rec);
	if (w->policy) {
		s->fetched = true;
		s->fetch = mtasts_fetch_judge(w->policy, &w->pol);
	}
	if (!s->record_valid) {
		if (s->record && !s->problem[0])
			say(s->problem, sizeof(s->problem), "the _mta-sts record is invalid");
		return;
	}
	if (!w->policy)
		say(s->problem, sizeof(s->problem), "mta-sts.%s does not resolve", w->d->domain);
	else if (s->fetch != MTASTS_FETCH_OK)
		say(s->problem, sizeof(s->problem), "%s: %s%s%s", w->policy_url,
		    mtasts_fetch_name(s->fetch), w->policy->error[0] ? ", " : "", w->policy->error);
	else if (!w->pol->valid)
		say(s->problem, sizeof(s->problem), "%s",
		    w->pol->nproblems ? w->pol->problems[0] : "the policy is not valid");
	else {
		s->policy_valid = true;
		s->mode = w->pol->mode;
		s->max_age = w->pol->max_age;
		s->mx = calloc(w->pol->nmx ? w->pol->nmx : 1, sizeof(*s->mx));
		for (size_t i = 0; s->mx && i < w->pol->nmx; i++)
			if ((s->mx[s->nmx] = strdup(w->pol->mx[i])))
				s->nmx++;
	}
}

/* "3 1 1 <hex>": the record's data as people compare it with their certificate. */
static char *tlsa_text(const struct dns_rr *rr)
{
	size_t len = rr->u.tlsa.len;
	char *s = malloc(16 + 2 * len);
	int off;

	if (!s)
		return NULL;
	off = sprintf(s, "%u %u %u ", rr->u.tlsa.usage, rr->u.tlsa.selector, rr->u.tlsa.mtype);
	for (size_t i = 0; i < len; i++)
		off += sprintf(s + off, "%02x", rr->u.tlsa.data[i]);
	return s;
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

/* The DNS facts of each host. */
static void sum_up_hosts(struct ob_work *w)
{
	struct ob_domain *d = w->d;

	for (size_t i = 0; i < d->nhosts; i++) {
		struct ob_host *h = &d->hosts[i];
		const struct dns_answer *as[2] = {w->hw[i].a, w->hw[i].aaaa};
		const struct dns_answer *t = w->hw[i].tlsa;
		bool any = false;

		h->addr_sec = DNS_SEC_SECURE;
		h->addrs =
		    calloc((as[0] ? as[0]->n : 0) + (as[1] ? as[1]->n : 0) + 1, sizeof(*h->addrs));
		for (int k = 0; k < 2; k++) {
			const struct dns_answer *a = as[k];
			enum dns_sec s;

			if (!a)
				continue;
			note_bogus(d, a);
			s = a->sec;
			/* Only an answer with data (or a bogus one) says how secure the host is;
			 * a secure "no AAAA" does not make insecure A records secure. */
			if (a->n || s == DNS_SEC_BOGUS) {
				any = true;
				h->addr_sec = worst_sec(h->addr_sec, s);
			}
			for (size_t j = 0; h->addrs && s != DNS_SEC_BOGUS && j < a->n; j++)
				if ((a->rr[j].type == DNS_T_A || a->rr[j].type == DNS_T_AAAA) &&
				    (h->addrs[h->naddr] = strdup(a->rr[j].u.addr)))
					h->naddr++;
		}
		if (!any)
			h->addr_sec = as[0] ? as[0]->sec : DNS_SEC_INDETERMINATE;
		h->tlsa = ob_tlsa_classify(t);
		if (t && t->sec == DNS_SEC_BOGUS)
			note_bogus(d, t);
		h->tlsa_text = calloc(t && t->n ? t->n : 1, sizeof(*h->tlsa_text));
		for (size_t j = 0; t && h->tlsa_text && j < t->n; j++)
			if (t->rr[j].type == DNS_T_TLSA &&
			    (h->tlsa_text[h->ntlsa] = tlsa_text(&t->rr[j])))
				h->ntlsa++;
		h->sts_covered =
		    w->pol && d->sts.policy_valid && mtasts_policy_covers(w->pol, h->host);
	}
}

struct ob_probe_ctx {
	struct ob_work *w;
	size_t host;
};

static void on_probe(void *arg, struct dane_result *res)
{
	struct ob_probe_ctx *pc = arg;
	struct ob_work *w = pc->w;
	struct ob_host *h = &w->d->hosts[pc->host];

	free(pc);
	h->probe_res = res;
	if (res) {
		bool connected = false, all_tls = true, pkix_seen = false, pkix_ok = true;

		h->probe = res->status;
		for (size_t i = 0; i < res->naddr; i++) {
			const struct dane_addr_result *a = &res->addr[i];

			if (!h->probe_error[0] && a->status == res->status && a->error[0] &&
			    a->status != DANE_PROBE_VERIFIED)
				say(h->probe_error, sizeof(h->probe_error), "%s%s%s",
				    strstr(a->error, a->addr) ? "" : a->addr,
				    strstr(a->error, a->addr) ? "" : ": ", a->error);
			if (a->connected && a->status != DANE_PROBE_UNREACHABLE) {
				connected = true;
				all_tls &= a->starttls;
			}
			if (a->pkix_checked) {
				pkix_seen = true;
				if (!a->pkix_valid && pkix_ok) {
					pkix_ok = false;
					say(h->pkix_error, sizeof(h->pkix_error), "%s",
					    a->pkix_error);
				}
			}
		}
		if (connected)
			h->starttls = all_tls ? OB_YES : OB_NO;
		if (pkix_seen)
			h->pkix = pkix_ok ? OB_YES : OB_NO;
	}
	finish_one(w);
}

/* Probes the hosts worth a look on the wire; returns true when any probe started. */
static bool start_probes(struct ob_work *w)
{
	struct ob_job *job = w->job;
	struct ob_domain *d = w->d;
	bool sts_applies = d->sts.policy_valid && d->sts.mode != MTASTS_MODE_NONE;
	bool started = false;
	struct mx_err err;

	if (!job->o->probe)
		return false;
	for (size_t i = 0; i < d->nhosts; i++) {
		struct ob_host *h = &d->hosts[i];
		struct ob_probe_ctx *pc;
		bool dane = h->tlsa == OB_TLSA_USABLE;

		if (!h->naddr || h->addr_sec == DNS_SEC_BOGUS || (!dane && !sts_applies))
			continue;
		if (!job->dane && dane_ctx_new(&job->dane, &job->o->dane, &err)) {
			if (!job->err.rc)
				job->err = err;
			return started;
		}
		pc = malloc(sizeof(*pc));
		if (!pc) {
			job->err.rc = MX_ENOMEM;
			return started;
		}
		pc->w = w;
		pc->host = i;
		w->pending++;
		if (dane_probe_start(job->dane, h->host, (const char *const *)h->addrs, h->naddr,
			dane ? w->hw[i].tlsa : NULL, on_probe, pc, &err)) {
			w->pending--;
			free(pc);
			say(h->probe_error, sizeof(h->probe_error), "%s", err.msg);
			continue;
		}
		started = true;
	}
	return started;
}

static void finish_one(struct ob_work *w)
{
	struct ob_domain *d = w->d;

	if (--w->pending > 0)
		return;
	if (!w->probing) {
		w->probing = true;
		sum_up_sts(w);
		sum_up_hosts(w);
		w->pending++; /* held while the probes start */
		start_probes(w);
		if (--w->pending > 0)
			return;
	}
	ob_verdict(d);
	w->job->done++;
	d->work = NULL;
	work_free(w);
}

static void start_domain(struct ob_job *job, struct ob_domain *d)
{
	struct ob_work *w = calloc(1, sizeof(*w));
	char name[300];

	if (!w) {
		job->err.rc = MX_ENOMEM;
		return;
	}
	w->job = job;
	w->d = d;
	d->work = w;
	d->mx_sec = DNS_SEC_INDETERMINATE;
	d->mx_state = OB_MX_FAILED;
	snprintf(w->policy_url, sizeof(w->policy_url), "https://mta-sts.%s/.well-known/mta-sts.txt",
	    d->domain);
	w->pending = 1; /* held until the first wave is out */
	ask(w, QK_MX, 0, d->domain, DNS_T_MX);
	snprintf(name, sizeof(name), "_mta-sts.%s", d->domain);
	ask(w, QK_STS_TXT, 0, name, DNS_T_TXT);
	snprintf(name, sizeof(name), "mta-sts.%s", d->domain);
	ask(w, QK_STS_A, 0, name, DNS_T_A);
	finish_one(w);
}

int ob_run(const struct ob_opts *o, const char *const *domains, size_t n, struct ob_domain *out,
    struct mx_err *err)
{
	struct ob_job job;
	struct mx_loop loop = {o->dns, o->http};
	size_t next = 0, max_active = o->max_active > 0 ? (size_t)o->max_active : OB_DEFAULT_ACTIVE;
	int rc = MX_OK, dfd;

	memset(&job, 0, sizeof(job));
	job.o = o;
	for (size_t i = 0; i < n; i++)
		snprintf(out[i].domain, sizeof(out[i].domain), "%s", domains[i]);
	while (job.done < n) {
		if (o->stop && *o->stop) {
			if (o->stopped_after)
				*o->stopped_after = job.done;
			rc = mx_err_set(err, MX_EAGAIN, "interrupted");
			/* No answer of theirs is read any more: the lookups go now. */
			while (job.asked) {
				struct ob_query *q = job.asked;

				query_unlink(q);
				dns_cancel(o->dns, q);
				free(q);
			}
			break;
		}
		while (next < n && next - job.done < max_active)
			start_domain(&job, &out[next++]);
		if (job.err.rc) {
			if (job.err.rc == MX_ENOMEM)
				job.err.rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			else if (err)
				*err = job.err;
			rc = job.err.rc;
			break;
		}
		if (job.done >= n)
			break;
		/* The probes share the loop through their one descriptor. */
		dfd = dane_fd(job.dane);
		rc = mx_loop_once(
		    &loop, dfd >= 0 ? &dfd : NULL, dfd >= 0, dane_timeout_ms(job.dane), err);
		if (!rc && job.dane)
			rc = dane_process(job.dane, err);
		if (rc)
			break;
	}
	dane_ctx_free(job.dane);
	return rc;
}
