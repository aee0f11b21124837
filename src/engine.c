/* SPDX-License-Identifier: MIT */
/* src/engine.c — the cutover engine.
 *
 * A run is a position in one of two step tables (forward: src/steps.h; rollback: rb_steps
 * below) plus variables, all in the journal. A unit of work runs the current step's function
 * once; it returns DONE/SKIP (advance), WAIT (come back at r->wake), GATE (stop here,
 * resumable) or FAIL. Every DNS write goes through write_rrset(), which re-reads the zone,
 * refuses drift, journals the intent (the change and its inverse) and commits it before the
 * provider is called, completes it after, and then waits until every authoritative server
 * serves the new RRset. A resumed run re-enters its step: the re-read makes every write
 * idempotent, so an intent left open by a crash is reconciled, never replayed blindly. */
#include "engine.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dane.h"
#include "domain.h"
#include "mtasts.h"
#include "plan.h"
#include "provider.h"
#include "rrset.h"
#include "steps.h"

enum res { R_DONE, R_SKIP, R_WAIT, R_GATE, R_FAIL };

struct run;
typedef enum res step_fn(struct run *r, struct mx_err *err);

struct rb_step {
	const char *key;
	const char *title;
	step_fn *fn;
};

struct run {
	struct mx_engine *e;
	struct jnl_run row;
	bool rollback;
	int step;
	struct prov *prov;
	json_t *vars;
	struct mx_rrset snap_mx, snap_sts;
	time_t wake;
	bool stopped;
	int exit;
	char gate_text[1024]; /* the gate this run waits at, emitted once */
	bool gate_shown;
	char waiting_for[200];
	char last_wait[200]; /* the wait last announced, so a poll is announced once */
	char *plan_json;
	struct chk_job *chk; /* preflight's checks in flight, NULL otherwise */
	struct chk_domain chk_d;
};

struct mx_engine {
	struct mx_engine_cfg cfg;
	struct run **runs;
	int nruns;
};

/* ---- small helpers ---- */

static time_t now(struct run *r)
{
	return mx_now(r->e->cfg.clock);
}

static void say(struct run *r, enum mx_event_kind kind, enum mx_sev sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(struct run *r, enum mx_event_kind kind, enum mx_sev sev, const char *fmt, ...)
{
	struct mx_event ev;
	va_list ap;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.sev = sev;
	ev.step = r->rollback ? -1 : r->step;
	ev.until = r->wake;
	snprintf(ev.domain, sizeof(ev.domain), "%s", r->row.domain);
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	mx_emit_event(r->e->cfg.sink, &ev);
}

/* Test seam: MXCUTOVER_CRASH_AT=step:point kills the process right there (SIGKILL, as a
 * power cut would), so tests can prove resume from every instant. */
static void crash_point(struct run *r, const char *step, const char *point)
{
	const char *at = getenv("MXCUTOVER_CRASH_AT");
	char want[128];

	if (!at)
		return;
	snprintf(want, sizeof(want), "%s:%s", step, point);
	if (!strcmp(at, want))
		raise(SIGKILL);
}

static long var_int(struct run *r, const char *key)
{
	return (long)json_integer_value(json_object_get(r->vars, key));
}

static const char *var_str(struct run *r, const char *key)
{
	return json_string_value(json_object_get(r->vars, key));
}

static int save_vars(struct run *r, struct mx_err *err)
{
	char *text = json_dumps(r->vars, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!text)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	rc = jnl_run_set_options(r->e->cfg.jnl, r->row.id, text, err);
	free(text);
	return rc;
}

static const char *step_key(struct run *r);

static int save_pos(struct run *r, const char *state, const char *error, struct mx_err *err)
{
	free(r->row.state);
	r->row.state = strdup(state);
	return jnl_run_update(r->e->cfg.jnl, r->row.id, state, step_key(r),
	    !strcmp(state, "waiting") || !strcmp(state, "gate") ? (long long)r->wake : 0,
	    r->waiting_for[0] ? r->waiting_for : NULL, error, (long long)now(r), err);
}

/* The TTL the cutover writes with: low_ttl, or the zone's own when it is already lower. */
static uint32_t cut_ttl(struct run *r)
{
	uint32_t low = (uint32_t)var_int(r, "low_ttl");

	return r->snap_mx.ttl < low ? r->snap_mx.ttl : low;
}

static int add_mx(struct mx_rrset *s, unsigned pref, const char *host, struct mx_err *err)
{
	char value[300];

	if (prov_mx_value(pref, host, value, sizeof(value)))
		return mx_err_set(err, MX_EINVAL, "MX host %s is too long", host);
	return prov_rrset_add(s, value, err);
}

/* The MX RRset after forward step `upto` (a write step), from the snapshot. */
static int mx_state(struct run *r, int upto, struct mx_rrset *out, struct mx_err *err)
{
	const char *target = r->row.target;
	unsigned pref, final_pref = (unsigned)var_int(r, "final_preference");
	char host[300];
	int rc = MX_OK;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", r->row.domain);
	out->type = DNS_T_MX;
	out->ttl = upto >= STEP_LOWER_TTL ? cut_ttl(r) : r->snap_mx.ttl;
	for (size_t i = 0; upto < STEP_REMOVE_LEGACY && i < r->snap_mx.n && !rc; i++) {
		if (!prov_mx_parse(r->snap_mx.values[i], &pref, host, sizeof(host)))
			continue;
		rc = add_mx(out, upto >= STEP_SWAP ? 30 : pref, host, err);
	}
	if (!rc && upto >= STEP_ADD_TARGET)
		rc = add_mx(out, upto >= STEP_SWAP ? final_pref : 20, target, err);
	if (upto >= STEP_RAISE_TTL)
		out->ttl = (uint32_t)var_int(r, "final_ttl");
	prov_rrset_sort(out);
	return rc;
}

static bool rrset_has_host(const struct mx_rrset *s, const char *host)
{
	unsigned pref;
	char h[300];

	for (size_t i = 0; i < s->n; i++)
		if (prov_mx_parse(s->values[i], &pref, h, sizeof(h)) && !strcmp(h, host))
			return true;
	return false;
}

/* Do all authoritative servers serve exactly `want` (values and TTL)? */
static bool propagated(struct run *r, const struct mx_rrset *want, char *lagging, size_t len)
{
	json_t *ns = json_object_get(r->vars, "ns"), *v;
	size_t i;

	json_array_foreach(ns, i, v)
	{
		struct dns_answer *a = NULL;
		struct mx_rrset got;
		char value[600];
		bool same;

		memset(&got, 0, sizeof(got));
		snprintf(got.name, sizeof(got.name), "%s", want->name);
		got.type = want->type;
		if (dns_query_direct(r->e->cfg.dns, json_string_value(v), want->name, want->type,
			2000, &a, NULL) ||
		    !a || a->rcode < 0) {
			dns_answer_free(a);
			snprintf(lagging, len, "%s (no answer)", json_string_value(v));
			return false;
		}
		got.ttl = a->ttl;
		for (size_t k = 0; k < a->n; k++) {
			if (want->type == DNS_T_MX)
				prov_mx_value(
				    a->rr[k].u.mx.pref, a->rr[k].u.mx.host, value, sizeof(value));
			else
				snprintf(value, sizeof(value), "%s", a->rr[k].u.txt);
			prov_rrset_add(&got, value, NULL);
		}
		dns_answer_free(a);
		prov_rrset_sort(&got);
		same = prov_rrset_equal(&got, want, want->n > 0);
		prov_rrset_clear(&got);
		if (!same) {
			snprintf(lagging, len, "%s", json_string_value(v));
			return false;
		}
	}
	return true;
}

/* Starts (or continues) a gate's clock; true when gate_timeout has passed. */
static bool gate_expired(struct run *r, const char *text)
{
	long since = var_int(r, "gate_since");

	if (!since) {
		json_object_set_new(r->vars, "gate_since", json_integer((json_int_t)now(r)));
		save_vars(r, NULL);
		since = (long)now(r);
	}
	if (text && !r->gate_shown) {
		snprintf(r->gate_text, sizeof(r->gate_text), "%s", text);
		say(r, MX_EV_GATE, MX_SEV_WARN, "%s", text);
		r->gate_shown = true;
	}
	return now(r) - since > var_int(r, "gate_timeout");
}

static void gate_clear(struct run *r)
{
	json_object_del(r->vars, "gate_since");
	r->gate_shown = false;
	r->gate_text[0] = '\0';
}

static enum res poll_again(struct run *r, int seconds, const char *what)
{
	r->wake = now(r) + seconds;
	snprintf(r->waiting_for, sizeof(r->waiting_for), "%s", what);
	return R_WAIT;
}

/* The one way DNS is written. want->n > 0 always for MX (the RRset is never empty). */
static enum res write_rrset(struct run *r, const char *step, const struct mx_rrset *expect,
    const struct mx_rrset *want, struct mx_err *err)
{
	struct mx_rrset cur;
	char *before = NULL, *after = NULL, *t1, *t2, lag[100];
	long long intent = 0;
	enum res res = R_FAIL;
	int rc;

	if (want->type == DNS_T_MX && want->n == 0) {
		mx_err_set(
		    err, MX_EINVAL, "refusing to publish an empty MX RRset for %s", want->name);
		return R_FAIL;
	}
	rc = r->prov->ops->read_rrset(r->prov, want->name, want->type, &cur, err);
	if (rc)
		return R_FAIL;
	if (prov_rrset_equal(&cur, want, true))
		goto propagate;
	if (!prov_rrset_equal(&cur, expect, true)) {
		t1 = prov_rrset_text(expect);
		t2 = prov_rrset_text(&cur);
		mx_err_set(err, MX_ECONFLICT,
		    "%s: the %s RRset changed behind our back: expected %s, found %s; check who "
		    "changed it, then resume or roll back",
		    r->row.domain, want->type == DNS_T_MX ? "MX" : "_mta-sts TXT", t1 ? t1 : "?",
		    t2 ? t2 : "?");
		free(t1);
		free(t2);
		goto out;
	}
	before = mx_rrset_dumps(&cur);
	after = mx_rrset_dumps(want);
	rc = jnl_intent_begin(r->e->cfg.jnl, r->row.id, step, want->name,
	    want->type == DNS_T_MX ? "MX" : "TXT", before, after, (long long)now(r), &intent, err);
	if (rc)
		goto out;
	crash_point(r, step, "intent");
	rc = r->prov->ops->replace_rrset(r->prov, &cur, want, err);
	if (rc == MX_EAGAIN && (r->prov->ops->caps & PROV_CAP_HUMAN)) {
		/* A person applies it; the intent completes when the zone shows it. */
		if (gate_expired(r, err->msg)) {
			mx_err_set(err, MX_EGATE,
			    "%s: the records were not set within gate_timeout; set them and run "
			    "`mxcutover resume %s`",
			    r->row.domain, r->row.domain);
			res = R_GATE;
			goto out;
		}
		res = poll_again(r, 5, "the records to be set by hand");
		goto out;
	}
	if (rc == MX_ERATELIMIT) {
		/* Maybe applied, maybe not: the retry re-reads and reconciles. */
		jnl_intent_done(r->e->cfg.jnl, intent, "retry", (long long)now(r), NULL);
		goto out;
	}
	if (rc)
		goto out;
	crash_point(r, step, "write");
	rc = jnl_intent_done(r->e->cfg.jnl, intent, "applied", (long long)now(r), err);
	if (rc)
		goto out;
	t1 = prov_rrset_text(want);
	say(r, MX_EV_LOG, MX_SEV_INFO, "wrote %s %s: %s", want->name,
	    want->type == DNS_T_MX ? "MX" : "TXT", t1 ? t1 : "");
	free(t1);
propagate:
	gate_clear(r);
	if (!propagated(r, want, lag, sizeof(lag))) {
		if (var_int(r, "prop_since") == 0) {
			json_object_set_new(
			    r->vars, "prop_since", json_integer((json_int_t)now(r)));
			save_vars(r, NULL);
		} else if (now(r) - var_int(r, "prop_since") > var_int(r, "gate_timeout") + 300) {
			mx_err_set(err, MX_EDNS,
			    "%s: name server %s still does not serve the new RRset; check zone "
			    "transfers, then resume",
			    r->row.domain, lag);
			goto out;
		}
		snprintf(r->waiting_for, sizeof(r->waiting_for),
		    "every authoritative server to serve the change (%s lags)", lag);
		r->wake = now(r) + 1;
		res = R_WAIT;
		goto out;
	}
	json_object_del(r->vars, "prop_since");
	res = R_DONE;
out:
	prov_rrset_clear(&cur);
	free(before);
	free(after);
	return res;
}

/* Writes the forward MX state of step, expecting the state of the previous MX step. */
static enum res write_mx_step(struct run *r, int step, int prev, struct mx_err *err)
{
	struct mx_rrset want, expect;
	enum res res = R_FAIL;

	if (mx_state(r, step, &want, err) || mx_state(r, prev, &expect, err))
		goto out;
	res = write_rrset(r, mx_step_table[step].key, &expect, &want, err);
out:
	prov_rrset_clear(&want);
	prov_rrset_clear(&expect);
	return res;
}

/* ---- MTA-STS ---- */

static int fetch_policy(struct run *r, char **text, struct mx_err *err)
{
	struct http_request req;
	struct http_response *resp = NULL;
	struct dns_answer *a = NULL;
	char url[400], host[300];
	int rc;

	*text = NULL;
	snprintf(host, sizeof(host), "mta-sts.%s", r->row.domain);
	snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);
	rc = dns_resolve(r->e->cfg.dns, host, DNS_T_A, &a, err);
	if (rc)
		return rc;
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.connect_addr = a->n && a->sec != DNS_SEC_BOGUS ? a->rr[0].u.addr : NULL;
	req.max_body = 64 * 1024;
	req.timeout_ms = 10000;
	rc = http_perform(r->e->cfg.http, &req, &resp, err);
	if (!rc && resp->fail == HTTP_FAIL_NONE && resp->status == 200)
		*text = strndup(resp->body, resp->len);
	http_response_free(resp);
	dns_answer_free(a);
	return rc;
}

/* Does the served policy say what the gate needs? stage: valid, covers the target and every
 * legacy host of the snapshot; final: valid, covers the target and no legacy host. */
static bool policy_ready(struct run *r, const char *served, bool final)
{
	struct mtasts_policy *pol = NULL;
	unsigned pref;
	char host[300];
	bool ok;

	if (!served || mtasts_policy_parse(served, strlen(served), &pol, NULL) || !pol->valid) {
		mtasts_policy_free(pol);
		return false;
	}
	ok = mtasts_policy_covers(pol, r->row.target);
	for (size_t i = 0; ok && i < r->snap_mx.n; i++)
		if (prov_mx_parse(r->snap_mx.values[i], &pref, host, sizeof(host)) &&
		    mx_conf_is_legacy(r->e->cfg.conf, host))
			ok = final ? !mtasts_policy_covers(pol, host)
				   : mtasts_policy_covers(pol, host);
	mtasts_policy_free(pol);
	return ok;
}

static void sts_txt(struct run *r, const char *id, struct mx_rrset *out)
{
	char value[100];

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "_mta-sts.%s", r->row.domain);
	out->type = DNS_T_TXT;
	out->ttl = r->snap_sts.ttl ? r->snap_sts.ttl : 300;
	snprintf(value, sizeof(value), "v=STSv1; id=%s;", id);
	prov_rrset_add(out, value, NULL);
}

static enum res mtasts_gate(struct run *r, bool final, struct mx_err *err)
{
	const char *policy = var_str(r, final ? "policy_final" : "policy_staged");
	char *served = NULL, text[1024];
	struct mx_rrset want, expect;
	enum res res;

	if (!policy)
		return R_SKIP;
	memset(&want, 0, sizeof(want));
	memset(&expect, 0, sizeof(expect));
	if (!var_int(r, final ? "final_policy_seen" : "staged_policy_seen")) {
		fetch_policy(r, &served, NULL);
		if (!policy_ready(r, served, final)) {
			free(served);
			snprintf(text, sizeof(text),
			    "Publish this MTA-STS policy at "
			    "https://mta-sts.%s/.well-known/mta-sts.txt "
			    "now (the run then changes the _mta-sts id itself):\n%s",
			    r->row.domain, policy);
			if (gate_expired(r, text)) {
				mx_err_set(err, MX_EGATE,
				    "%s: the MTA-STS policy was not published within gate_timeout; "
				    "publish it and run `mxcutover resume %s`",
				    r->row.domain, r->row.domain);
				return R_GATE;
			}
			return poll_again(r, 5, "the MTA-STS policy to be published");
		}
		free(served);
		gate_clear(r);
		json_object_set_new(
		    r->vars, final ? "final_policy_seen" : "staged_policy_seen", json_true());
		save_vars(r, NULL);
		say(r, MX_EV_LOG, MX_SEV_INFO, "the %s MTA-STS policy is published",
		    final ? "final" : "staged");
	}
	/* Upload first, id second: senders refetch only when the id changes. */
	if (final)
		sts_txt(r, var_str(r, "id_stage"), &expect);
	else
		prov_rrset_copy(&expect, &r->snap_sts, NULL);
	sts_txt(r, var_str(r, final ? "id_final" : "id_stage"), &want);
	res = write_rrset(r, final ? "mtasts_finalize" : "mtasts_stage", &expect, &want, err);
	prov_rrset_clear(&want);
	prov_rrset_clear(&expect);
	return res;
}

/* ---- forward steps ---- */

/* The checks run on the front end's event loop (never blocking it): the first call starts
 * them, later calls find them finished. */
static enum res do_preflight(struct run *r, struct mx_err *err)
{
	struct chk_domain *d = &r->chk_d;
	json_t *ns = NULL;
	char blockers[800] = "";
	size_t used = 0;
	enum res res = R_FAIL;

	if (!r->chk) {
		struct chk_opts o;
		const char *domains[1] = {r->row.domain}, *targets[1] = {r->row.target};

		memset(&o, 0, sizeof(o));
		memset(d, 0, sizeof(*d));
		o.conf = r->e->cfg.conf;
		o.dns = r->e->cfg.dns;
		o.http = r->e->cfg.http;
		if (chk_start(&o, domains, targets, 1, d, &r->chk, err))
			return R_FAIL;
	}
	if (!chk_advance(r->chk)) {
		/* The engine is woken as soon as they finish (mx_engine_step); a second is the
		 * fallback for front ends that do not poll the engine's descriptors. */
		poll_again(r, 1, "the prerequisite checks");
		/* Work in progress, not a wait: nothing to announce. */
		snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
		return R_WAIT;
	}
	if (chk_finish(r->chk, err)) {
		r->chk = NULL;
		goto out;
	}
	r->chk = NULL;
	for (int i = 0; i < CHK_COUNT; i++) {
		/* mtasts_stage is what makes the policy cover the target. */
		if (!d->res[i].present || d->res[i].status != CHK_FAIL || i == CHK_MTASTS_COVERS)
			continue;
		used += (size_t)snprintf(blockers + used,
		    used < sizeof(blockers) ? sizeof(blockers) - used : 0, "%s%s: %s",
		    used ? "; " : "", chk_id_name(i), d->res[i].summary);
	}
	/* A domain whose MX already lists a host of the new endpoint is migrated or being
	 * migrated: starting again would publish the target twice. */
	for (size_t i = 0; !used && d->facts.mx && i < d->facts.mx->n; i++) {
		const struct dns_rr *rr = &d->facts.mx->rr[i];

		if (rr->type == DNS_T_MX &&
		    mx_name_under(rr->u.mx.host, r->e->cfg.conf->endpoint_suffix))
			used = (size_t)snprintf(blockers, sizeof(blockers),
			    "the MX already lists %s: the cutover is done or in progress (see "
			    "`mxcutover status %s`); nothing to move",
			    rr->u.mx.host, r->row.domain);
	}
	if (used) {
		mx_err_set(err, MX_EGATE, "preflight found blockers — %s", blockers);
		r->exit = 1;
		goto out;
	}
	ns = json_array();
	for (size_t i = 0; i < d->facts.nns; i++)
		json_array_append_new(ns, json_string(d->facts.ns_addrs[i]));
	json_object_set(r->vars, "ns", ns);
	json_object_set_new(r->vars, "old_ttl", json_integer(d->facts.mx_ttl_max));
	if (d->facts.mtasts_policy && d->facts.mtasts_id[0] &&
	    d->facts.mtasts_mode != MTASTS_MODE_NONE)
		json_object_set_new(r->vars, "policy_now", json_string(d->facts.mtasts_policy));
	if (save_vars(r, err))
		goto out;
	say(r, MX_EV_LOG, MX_SEV_INFO, "preflight passed (%zu authoritative servers, MX TTL %u s)",
	    d->facts.nns, d->facts.mx_ttl_max);
	res = R_DONE;
out:
	json_decref(ns);
	chk_domain_clear(d);
	return res;
}

static enum res do_snapshot(struct run *r, struct mx_err *err)
{
	struct mx_rrset mx, sts;
	char name[300], checksum[80], *mx_text = NULL, *sts_text = NULL;
	char id1[MTASTS_ID_MAX + 1], id2[MTASTS_ID_MAX + 1];
	enum res res = R_FAIL;

	memset(&mx, 0, sizeof(mx));
	memset(&sts, 0, sizeof(sts));
	snprintf(name, sizeof(name), "_mta-sts.%s", r->row.domain);
	if (r->prov->ops->read_rrset(r->prov, r->row.domain, DNS_T_MX, &mx, err) ||
	    r->prov->ops->read_rrset(r->prov, name, DNS_T_TXT, &sts, err))
		goto out;
	if (mx.n == 0) {
		mx_err_set(err, MX_EINVAL, "the provider holds no MX RRset for %s; nothing to move",
		    r->row.domain);
		goto out;
	}
	if (mx_plan_checksum(&mx, &sts, checksum, sizeof(checksum), err))
		goto out;
	if (r->plan_json) {
		json_t *plan = json_loads(r->plan_json, 0, NULL);
		const char *want = json_string_value(
		    json_object_get(json_object_get(plan, "snapshot"), "checksum"));
		const char *target = json_string_value(json_object_get(plan, "target"));

		if (!want || !target || strcmp(want, checksum) || strcmp(target, r->row.target)) {
			mx_err_set(err, MX_ECONFLICT,
			    "%s: the live zone no longer matches the reviewed plan (plan %s, zone "
			    "%s); make and review a new plan",
			    r->row.domain, want ? want : "without checksum", checksum);
			json_decref(plan);
			goto out;
		}
		json_decref(plan);
	}
	/* The snapshot is taken through the provider AND through DNS: they must agree, or the
	 * provider holds changes that have not reached the name servers (or the reverse). */
	{
		char lag[100];

		if (!propagated(r, &mx, lag, sizeof(lag))) {
			char *t = prov_rrset_text(&mx);

			mx_err_set(err, MX_ECONFLICT,
			    "%s: the provider holds MX %s but name server %s serves something "
			    "else; "
			    "wait until the zone is in sync (see `mxcutover check`), then run "
			    "again",
			    r->row.domain, t ? t : "?", lag);
			free(t);
			goto out;
		}
	}
	mx_text = mx_rrset_dumps(&mx);
	sts_text = mx_rrset_dumps(&sts);
	if (jnl_snapshot_put(
		r->e->cfg.jnl, r->row.id, mx.name, "MX", "provider", mx_text, checksum, err) ||
	    jnl_snapshot_put(
		r->e->cfg.jnl, r->row.id, mx.name, "MX", "dns", mx_text, checksum, err) ||
	    jnl_snapshot_put(
		r->e->cfg.jnl, r->row.id, sts.name, "TXT", "provider", sts_text, checksum, err))
		goto out;
	prov_rrset_clear(&r->snap_mx);
	prov_rrset_clear(&r->snap_sts);
	r->snap_mx = mx;
	r->snap_sts = sts;
	memset(&mx, 0, sizeof(mx));
	memset(&sts, 0, sizeof(sts));
	json_object_set_new(r->vars, "checksum", json_string(checksum));
	if (var_str(r, "policy_now") && r->snap_sts.n) {
		char *staged = NULL, *final = NULL;

		if (mx_plan_mtasts_policies(r->e->cfg.conf, var_str(r, "policy_now"), r->row.target,
			&staged, &final, err))
			goto out;
		mtasts_new_id(now(r), id1);
		mtasts_new_id(now(r) + 1, id2);
		json_object_set_new(r->vars, "policy_staged", json_string(staged));
		json_object_set_new(r->vars, "policy_final", json_string(final));
		json_object_set_new(r->vars, "id_stage", json_string(id1));
		json_object_set_new(r->vars, "id_final", json_string(id2));
		free(staged);
		free(final);
	}
	if (save_vars(r, err))
		goto out;
	say(r, MX_EV_LOG, MX_SEV_INFO, "snapshot %s", checksum);
	res = R_DONE;
out:
	free(mx_text);
	free(sts_text);
	prov_rrset_clear(&mx);
	prov_rrset_clear(&sts);
	return res;
}

static enum res do_mtasts_stage(struct run *r, struct mx_err *err)
{
	return mtasts_gate(r, false, err);
}

static enum res do_lower_ttl(struct run *r, struct mx_err *err)
{
	if (r->snap_mx.ttl <= cut_ttl(r))
		return R_SKIP;
	return write_mx_step(r, STEP_LOWER_TTL, STEP_SNAPSHOT, err);
}

static enum res wait_until(struct run *r, long long deadline, const char *what)
{
	if (now(r) >= deadline)
		return R_DONE;
	r->wake = (time_t)deadline;
	snprintf(r->waiting_for, sizeof(r->waiting_for), "%s", what);
	return R_WAIT;
}

static enum res do_wait_old_ttl(struct run *r, struct mx_err *err)
{
	long long lowered = jnl_step_finished_at(r->e->cfg.jnl, r->row.id, "lower_ttl");
	char *state = jnl_step_state(r->e->cfg.jnl, r->row.id, "lower_ttl");
	long old = var_int(r, "old_ttl") > (long)r->snap_mx.ttl ? var_int(r, "old_ttl")
								: (long)r->snap_mx.ttl;
	char what[120];
	bool skipped = state && !strcmp(state, "skipped");

	free(state);
	if (skipped)
		return R_SKIP;
	snprintf(what, sizeof(what), "old MX TTL (%ld s) to expire", old);
	return wait_until(r, lowered + old, what);
}

static enum res do_add_target(struct run *r, struct mx_err *err)
{
	return write_mx_step(r, STEP_ADD_TARGET, STEP_LOWER_TTL, err);
}

/* smtp_probe: when the target already publishes secure, usable TLSA, the certificate it
 * presents on port 25 must match before the target is preferred — a mismatch would make
 * every DANE sender defer mail. Without TLSA (before Enable-SmtpDaneInbound) there is
 * nothing to verify yet. */
static enum res probe_target(struct run *r, const struct dns_answer *addrs, struct mx_err *err)
{
	struct dns_answer *tlsa = NULL;
	struct dane_ctx *ctx = NULL;
	struct dane_result *res = NULL;
	const char *list[16];
	char name[300];
	size_t n = 0;
	enum res out = R_DONE;

	snprintf(name, sizeof(name), "_25._tcp.%s", r->row.target);
	if (dns_resolve(r->e->cfg.dns, name, DNS_T_TLSA, &tlsa, err))
		return R_FAIL;
	if (tlsa->sec != DNS_SEC_SECURE || !dane_tlsa_count_usable(tlsa))
		goto out;
	for (size_t i = 0; i < addrs->n && n < 16; i++)
		list[n++] = addrs->rr[i].u.addr;
	if (dane_ctx_new(&ctx, NULL, err) ||
	    dane_probe(ctx, r->row.target, list, n, tlsa, &res, err)) {
		out = R_FAIL;
		goto out;
	}
	switch (res->status) {
	case DANE_PROBE_VERIFIED:
		say(r, MX_EV_LOG, MX_SEV_INFO, "STARTTLS on %s matches its TLSA (DANE verified)",
		    r->row.target);
		break;
	case DANE_PROBE_UNREACHABLE:
	case DANE_PROBE_SKIPPED:
		say(r, MX_EV_LOG, MX_SEV_WARN,
		    "port 25 of %s is not reachable from here; DANE not verifiable on the wire",
		    r->row.target);
		break;
	default:
		mx_err_set(err, MX_EGATE,
		    "%s: %s presents a certificate that its TLSA does not match (%s): DANE "
		    "senders would defer mail, so it is not preferred. Resume once it matches, "
		    "or roll back",
		    r->row.domain, r->row.target,
		    res->naddr && res->addr[0].error[0] ? res->addr[0].error
							: dane_probe_name(res->status));
		out = R_GATE;
		break;
	}
out:
	dane_result_free(res);
	dane_ctx_free(ctx);
	dns_answer_free(tlsa);
	return out;
}

static enum res do_verify_target(struct run *r, struct mx_err *err)
{
	struct dns_answer *a = NULL;
	bool secure;
	char q[400];
	enum res probed;

	if (dns_resolve(r->e->cfg.dns, r->row.target, DNS_T_A, &a, err))
		return R_FAIL;
	secure = a->n > 0 && a->sec == DNS_SEC_SECURE;
	probed = secure && r->e->cfg.conf->smtp_probe ? probe_target(r, a, err) : R_DONE;
	dns_answer_free(a);
	if (probed != R_DONE)
		return probed;
	if (!secure) {
		if (gate_expired(r, NULL)) {
			mx_err_set(err, MX_EGATE,
			    "%s: target %s does not resolve securely; it is never preferred before "
			    "it does. Check DnssecMxValue, then resume",
			    r->row.domain, r->row.target);
			return R_GATE;
		}
		return poll_again(r, 5, "the target host to resolve securely");
	}
	gate_clear(r);
	if (r->e->cfg.confirm) {
		snprintf(q, sizeof(q),
		    "Test inbound mail to %s with the Remote Connectivity Analyzer, "
		    "https://testconnectivity.microsoft.com/ (the \"Inbound SMTP Email\" test). "
		    "Did it pass?",
		    r->row.domain);
		if (!r->e->cfg.confirm(r->e->cfg.confirm_arg, r->row.domain, q)) {
			mx_err_set(err, MX_EGATE,
			    "%s: the inbound test was not confirmed; the new MX stays at "
			    "preference "
			    "20. Resume when it passes, or roll back",
			    r->row.domain);
			return R_GATE;
		}
	}
	say(r, MX_EV_LOG, MX_SEV_INFO, "%s is served by every name server and resolves securely",
	    r->row.target);
	return R_DONE;
}

static enum res do_swap(struct run *r, struct mx_err *err)
{
	return write_mx_step(r, STEP_SWAP, STEP_ADD_TARGET, err);
}

static enum res do_wait_low_ttl(struct run *r, struct mx_err *err)
{
	long long swapped = jnl_step_finished_at(r->e->cfg.jnl, r->row.id, "swap");
	char what[120];

	snprintf(what, sizeof(what), "low MX TTL (%u s) to expire", cut_ttl(r));
	return wait_until(r, swapped + cut_ttl(r), what);
}

static enum res do_remove_legacy(struct run *r, struct mx_err *err)
{
	return write_mx_step(r, STEP_REMOVE_LEGACY, STEP_SWAP, err);
}

static enum res do_raise_ttl(struct run *r, struct mx_err *err)
{
	return write_mx_step(r, STEP_RAISE_TTL, STEP_REMOVE_LEGACY, err);
}

static enum res do_dane_enable(struct run *r, struct mx_err *err)
{
	struct dns_answer *a = NULL;
	char name[300], text[600];
	bool usable = false;

	snprintf(name, sizeof(name), "_25._tcp.%s", r->row.target);
	snprintf(text, sizeof(text),
	    "Run in Exchange Online PowerShell:  Enable-SmtpDaneInbound -DomainName %s\n"
	    "Microsoft then publishes TLSA at %s (15-60 min); the run polls it.",
	    r->row.domain, name);
	gate_expired(r, text);
	if (dns_resolve(r->e->cfg.dns, name, DNS_T_TLSA, &a, err))
		return R_FAIL;
	for (size_t i = 0; a->sec == DNS_SEC_SECURE && i < a->n; i++)
		usable |= a->rr[i].u.tlsa.usage == 2 || a->rr[i].u.tlsa.usage == 3;
	dns_answer_free(a);
	if (usable) {
		gate_clear(r);
		say(r, MX_EV_LOG, MX_SEV_INFO,
		    "usable TLSA at %s is DNSSEC-secure: inbound DANE is on", name);
		return R_DONE;
	}
	if (gate_expired(r, NULL)) {
		mx_err_set(err, MX_EGATE,
		    "%s: no secure, usable TLSA at %s within gate_timeout; run "
		    "Enable-SmtpDaneInbound -DomainName %s, then `mxcutover resume %s`",
		    r->row.domain, name, r->row.domain, r->row.domain);
		return R_GATE;
	}
	return poll_again(r, 30, "Microsoft's TLSA after Enable-SmtpDaneInbound");
}

static enum res do_mtasts_finalize(struct run *r, struct mx_err *err)
{
	return mtasts_gate(r, true, err);
}

static step_fn *const fwd[STEP_COUNT] = {
    [STEP_PREFLIGHT] = do_preflight,
    [STEP_SNAPSHOT] = do_snapshot,
    [STEP_MTASTS_STAGE] = do_mtasts_stage,
    [STEP_LOWER_TTL] = do_lower_ttl,
    [STEP_WAIT_OLD_TTL] = do_wait_old_ttl,
    [STEP_ADD_TARGET] = do_add_target,
    [STEP_VERIFY_TARGET] = do_verify_target,
    [STEP_SWAP] = do_swap,
    [STEP_WAIT_LOW_TTL] = do_wait_low_ttl,
    [STEP_REMOVE_LEGACY] = do_remove_legacy,
    [STEP_RAISE_TTL] = do_raise_ttl,
    [STEP_DANE_ENABLE] = do_dane_enable,
    [STEP_MTASTS_FINALIZE] = do_mtasts_finalize,
};

/* ---- rollback steps (mail-safe order of docs/state-machine.md) ---- */

static enum res rb_dane(struct run *r, struct mx_err *err)
{
	char *st = jnl_step_state(r->e->cfg.jnl, r->row.id, "dane_enable");
	bool touched = st && (!strcmp(st, "done") || !strcmp(st, "active"));
	char text[300];

	free(st);
	if (!touched)
		return R_SKIP;
	snprintf(text, sizeof(text),
	    "Before the MX goes back, run in Exchange Online PowerShell:  Disable-SmtpDaneInbound "
	    "-DomainName %s",
	    r->row.domain);
	say(r, MX_EV_GATE, MX_SEV_WARN, "%s", text);
	if (r->e->cfg.confirm && !r->e->cfg.confirm(r->e->cfg.confirm_arg, r->row.domain,
				     "Has Disable-SmtpDaneInbound been run?")) {
		mx_err_set(err, MX_EGATE,
		    "run Disable-SmtpDaneInbound -DomainName %s first, then resume", r->row.domain);
		return R_GATE;
	}
	return R_DONE;
}

static enum res read_mx(struct run *r, struct mx_rrset *cur, struct mx_err *err)
{
	return r->prov->ops->read_rrset(r->prov, r->row.domain, DNS_T_MX, cur, err) ? R_FAIL
										    : R_DONE;
}

/* The first rollback state: the snapshot's values at their own preferences, the target
 * demoted to 30, at the cutover's TTL. */
static void rb_legacy_preferred(struct run *r, struct mx_rrset *out)
{
	prov_rrset_copy(out, &r->snap_mx, NULL);
	out->ttl = cut_ttl(r);
	add_mx(out, 30, r->row.target, NULL);
	prov_rrset_sort(out);
}

/* Step 1: the legacy hosts preferred again, the target kept at 30 until resolvers forget. */
static enum res rb_readd_legacy(struct run *r, struct mx_err *err)
{
	struct mx_rrset cur, want, expect;
	enum res res = R_FAIL;

	if (read_mx(r, &cur, err) == R_FAIL)
		return R_FAIL;
	if (!rrset_has_host(&cur, r->row.target) && !var_int(r, "rb_readd_started")) {
		prov_rrset_clear(&cur);
		return R_SKIP;
	}
	rb_legacy_preferred(r, &want);
	if (!var_int(r, "rb_readd_started")) {
		/* What resolvers may hold now decides the wait that follows; what is there now is
		 * what the write expects, also when it is resumed. */
		json_object_set_new(
		    r->vars, "rb_wait_ttl", json_integer(cur.ttl > want.ttl ? cur.ttl : want.ttl));
		json_object_set_new(r->vars, "rb_readd_started", json_true());
		json_object_set_new(r->vars, "rb_expect", mx_rrset_json(&cur));
		save_vars(r, NULL);
	}
	if (!mx_rrset_from_json(json_object_get(r->vars, "rb_expect"), &expect, err)) {
		res = write_rrset(r, "rb_readd_legacy", &expect, &want, err);
		prov_rrset_clear(&expect);
	}
	prov_rrset_clear(&cur);
	prov_rrset_clear(&want);
	return res;
}

static enum res rb_wait(struct run *r, struct mx_err *err)
{
	long long at = jnl_step_finished_at(r->e->cfg.jnl, r->row.id, "rb_readd_legacy");
	char *st = jnl_step_state(r->e->cfg.jnl, r->row.id, "rb_readd_legacy");
	bool skipped = !st || !strcmp(st, "skipped");
	char what[120];

	free(st);
	if (skipped)
		return R_SKIP;
	snprintf(what, sizeof(what), "the MX TTL (%ld s) to expire before the target goes",
	    var_int(r, "rb_wait_ttl"));
	return wait_until(r, at + var_int(r, "rb_wait_ttl"), what);
}

/* Step 2: the snapshot's values at the low TTL (the target removed). */
static enum res rb_remove_target(struct run *r, struct mx_err *err)
{
	struct mx_rrset cur, want, expect;
	enum res res;

	if (read_mx(r, &cur, err) == R_FAIL)
		return R_FAIL;
	prov_rrset_copy(&want, &r->snap_mx, NULL);
	want.ttl = cut_ttl(r);
	if (!rrset_has_host(&cur, r->row.target) || prov_rrset_equal(&cur, &r->snap_mx, true)) {
		prov_rrset_clear(&cur);
		prov_rrset_clear(&want);
		return R_SKIP;
	}
	rb_legacy_preferred(r, &expect);
	res = write_rrset(r, "rb_remove_target", &expect, &want, err);
	prov_rrset_clear(&cur);
	prov_rrset_clear(&want);
	prov_rrset_clear(&expect);
	return res;
}

/* Step 3: the snapshot exactly (values, preferences, TTL), from whatever is there now as long
 * as it holds only snapshot hosts (an early rollback, e.g. after lower_ttl). */
static enum res rb_restore_ttl(struct run *r, struct mx_err *err)
{
	struct mx_rrset cur;
	enum res res;

	if (read_mx(r, &cur, err) == R_FAIL)
		return R_FAIL;
	if (rrset_has_host(&cur, r->row.target)) {
		mx_err_set(err, MX_ECONFLICT,
		    "%s: the MX still lists %s; the rollback will not drop it without the "
		    "mail-safe wait — resume the rollback",
		    r->row.domain, r->row.target);
		prov_rrset_clear(&cur);
		return R_FAIL;
	}
	res = write_rrset(r, "rb_restore_ttl", &cur, &r->snap_mx, err);
	prov_rrset_clear(&cur);
	return res;
}

static enum res rb_mtasts(struct run *r, struct mx_err *err)
{
	struct mx_rrset cur;
	const char *policy = var_str(r, "policy_now");
	char *served = NULL, text[1024];
	enum res res;

	if (!policy || !r->snap_sts.n)
		return R_SKIP;
	if (r->prov->ops->read_rrset(r->prov, r->snap_sts.name, DNS_T_TXT, &cur, err))
		return R_FAIL;
	if (prov_rrset_equal(&cur, &r->snap_sts, true)) {
		prov_rrset_clear(&cur);
		return R_SKIP;
	}
	if (!var_int(r, "rb_policy_seen")) {
		struct mtasts_policy *want = NULL, *got = NULL;
		bool same = false;

		fetch_policy(r, &served, NULL);
		if (served && !mtasts_policy_parse(policy, strlen(policy), &want, NULL) &&
		    !mtasts_policy_parse(served, strlen(served), &got, NULL) && want->valid &&
		    got->valid && want->mode == got->mode && want->nmx == got->nmx) {
			same = true;
			for (size_t i = 0; i < want->nmx; i++)
				same &= mtasts_policy_covers(got, want->mx[i]) ||
					!strncmp(want->mx[i], "*.", 2);
		}
		mtasts_policy_free(want);
		mtasts_policy_free(got);
		free(served);
		if (!same) {
			snprintf(text, sizeof(text),
			    "Publish the original MTA-STS policy again at "
			    "https://mta-sts.%s/.well-known/mta-sts.txt:\n%s",
			    r->row.domain, policy);
			prov_rrset_clear(&cur);
			if (gate_expired(r, text)) {
				mx_err_set(err, MX_EGATE,
				    "%s: the original MTA-STS policy was not published within "
				    "gate_timeout; publish it and resume the rollback",
				    r->row.domain);
				return R_GATE;
			}
			return poll_again(r, 5, "the original MTA-STS policy to be published");
		}
		gate_clear(r);
		json_object_set_new(r->vars, "rb_policy_seen", json_true());
		save_vars(r, NULL);
	}
	res = write_rrset(r, "rb_mtasts", &cur, &r->snap_sts, err);
	prov_rrset_clear(&cur);
	return res;
}

static const struct rb_step rb_steps[] = {
    {"rb_dane", "Disable inbound DANE first", rb_dane},
    {"rb_readd_legacy", "Prefer the legacy MX again", rb_readd_legacy},
    {"rb_wait", "Wait for the TTL to expire", rb_wait},
    {"rb_remove_target", "Remove the new MX", rb_remove_target},
    {"rb_restore_ttl", "Restore the MX exactly", rb_restore_ttl},
    {"rb_mtasts", "Restore the MTA-STS record", rb_mtasts},
};
#define RB_COUNT ((int)(sizeof(rb_steps) / sizeof(rb_steps[0])))

static const char *step_key(struct run *r)
{
	if (r->rollback)
		return r->step < RB_COUNT ? rb_steps[r->step].key : "rolled_back";
	return r->step < STEP_COUNT ? mx_step_table[r->step].key : "done";
}

static const char *step_title(struct run *r)
{
	if (r->rollback)
		return r->step < RB_COUNT ? rb_steps[r->step].title : "Rolled back";
	return r->step < STEP_COUNT ? mx_step_table[r->step].title : "Done";
}

/* ---- runs ---- */

static void run_free(struct run *r)
{
	if (!r)
		return;
	if (r->chk) {
		chk_finish(r->chk, NULL);
		chk_domain_clear(&r->chk_d);
	}
	jnl_run_clear(&r->row);
	prov_close(r->prov);
	json_decref(r->vars);
	prov_rrset_clear(&r->snap_mx);
	prov_rrset_clear(&r->snap_sts);
	free(r->plan_json);
	free(r);
}

static int run_attach(struct mx_engine *e, struct run *r, struct mx_err *err)
{
	struct run **g = realloc(e->runs, (size_t)(e->nruns + 1) * sizeof(*g));

	if (!g)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	e->runs = g;
	e->runs[e->nruns++] = r;
	return MX_OK;
}

static int run_open_provider(struct run *r, struct mx_err *err)
{
	int rc = prov_open(r->e->cfg.conf, r->row.provider, r->row.domain, r->e->cfg.dns,
	    r->e->cfg.http, &r->prov, err);

	/* The engine never sleeps: a provider's rate limit comes back as a deadline. */
	if (!rc)
		r->prov->no_wait = true;
	return rc;
}

static int load_snapshot(struct run *r, struct mx_err *err)
{
	char name[300], *mx, *sts;
	int rc;

	mx = jnl_snapshot_get(r->e->cfg.jnl, r->row.id, r->row.domain, "MX", "provider");
	snprintf(name, sizeof(name), "_mta-sts.%s", r->row.domain);
	sts = jnl_snapshot_get(r->e->cfg.jnl, r->row.id, name, "TXT", "provider");
	if (!mx || !sts) {
		free(mx);
		free(sts);
		return MX_OK; /* before the snapshot step: nothing to restore yet */
	}
	rc = mx_rrset_loads(mx, &r->snap_mx, err);
	if (!rc)
		rc = mx_rrset_loads(sts, &r->snap_sts, err);
	free(mx);
	free(sts);
	return rc;
}

int mx_engine_new(struct mx_engine **out, const struct mx_engine_cfg *cfg, struct mx_err *err)
{
	struct mx_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	e->cfg = *cfg;
	*out = e;
	return MX_OK;
}

void mx_engine_free(struct mx_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->nruns; i++) {
		if (!e->runs[i]->stopped)
			jnl_unlock(e->cfg.jnl, e->runs[i]->row.domain);
		run_free(e->runs[i]);
	}
	free(e->runs);
	free(e);
}

static bool unfinished(const char *state)
{
	return state && strcmp(state, "done") && strcmp(state, "rolled_back");
}

int mx_engine_start(struct mx_engine *e, const char *domain, const char *target,
    const char *provider, const char *plan_json, struct mx_err *err)
{
	const struct mx_conf *c = e->cfg.conf;
	struct jnl_run prev;
	struct run *r = calloc(1, sizeof(*r));
	char *opts = NULL;
	int rc;

	if (!r)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	r->e = e;
	rc = jnl_run_latest(e->cfg.jnl, domain, &prev, err);
	if (rc)
		goto fail;
	if (prev.id && unfinished(prev.state)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s has an unfinished run (state %s, step %s); run `mxcutover resume %s` or "
		    "`mxcutover rollback %s`",
		    domain, prev.state, prev.step, domain, domain);
		jnl_run_clear(&prev);
		goto fail;
	}
	jnl_run_clear(&prev);
	rc = jnl_lock(e->cfg.jnl, domain, 0, (long long)mx_now(e->cfg.clock), err);
	if (rc)
		goto fail;
	r->vars = json_pack("{s:i,s:i,s:i,s:i}", "low_ttl", c->low_ttl, "final_ttl", c->final_ttl,
	    "final_preference", c->final_preference, "gate_timeout", c->gate_timeout);
	r->row.domain = strdup(domain);
	r->row.target = strdup(target);
	r->row.provider = strdup(provider);
	r->plan_json = plan_json ? strdup(plan_json) : NULL;
	rc = run_open_provider(r, err);
	if (rc)
		goto unlock;
	if (r->prov->ops->min_ttl > c->low_ttl)
		json_object_set_new(r->vars, "low_ttl", json_integer(r->prov->ops->min_ttl));
	opts = json_dumps(r->vars, JSON_COMPACT | JSON_SORT_KEYS);
	rc = jnl_run_create(e->cfg.jnl, domain, target, provider, mx_step_table[0].key, opts,
	    (long long)mx_now(e->cfg.clock), &r->row.id, err);
	free(opts);
	if (!rc)
		rc = jnl_audit(e->cfg.jnl, r->row.id, domain, "start", target,
		    (long long)mx_now(e->cfg.clock), err);
	if (!rc)
		rc = run_attach(e, r, err);
	if (rc)
		goto unlock;
	r->row.state = strdup("running");
	r->wake = mx_now(e->cfg.clock);
	return MX_OK;
unlock:
	jnl_unlock(e->cfg.jnl, domain);
fail:
	run_free(r);
	return rc;
}

static int load_run(struct mx_engine *e, const char *domain, bool rollback, struct mx_err *err)
{
	struct run *r = calloc(1, sizeof(*r));
	struct jnl_intent open;
	int rc, idx;

	if (!r)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	r->e = e;
	rc = jnl_run_latest(e->cfg.jnl, domain, &r->row, err);
	if (rc)
		goto fail;
	if (!r->row.id) {
		rc = mx_err_set(err, MX_EINVAL, "%s has no run in %s", domain,
		    "the state database; start one with `mxcutover run`");
		goto fail;
	}
	if (!rollback && !unfinished(r->row.state)) {
		rc = mx_err_set(err, MX_EINVAL, "%s: the last run is %s; nothing to resume", domain,
		    r->row.state);
		goto fail;
	}
	if (rollback && !strcmp(r->row.state, "rolled_back")) {
		rc = mx_err_set(err, MX_EINVAL, "%s: the last run is already rolled back", domain);
		goto fail;
	}
	rc = jnl_lock(e->cfg.jnl, domain, r->row.id, (long long)mx_now(e->cfg.clock), err);
	if (rc)
		goto fail;
	r->vars = json_loads(r->row.options ? r->row.options : "{}", 0, NULL);
	if (!r->vars)
		r->vars = json_object();
	/* A gate's clock starts again when a person resumes. */
	json_object_del(r->vars, "gate_since");
	rc = run_open_provider(r, err);
	if (!rc)
		rc = load_snapshot(r, err);
	if (rc)
		goto unlock;
	if (rollback || !strcmp(r->row.state, "rolling_back")) {
		r->rollback = true;
		r->step = 0;
		for (int i = 0; !strcmp(r->row.state, "rolling_back") && i < RB_COUNT; i++)
			if (!strcmp(rb_steps[i].key, r->row.step))
				r->step = i;
		if (!r->snap_mx.n) {
			/* Nothing was written before the snapshot existed. */
			r->step = RB_COUNT;
		}
	} else {
		idx = mx_step_find(r->row.step);
		r->step = idx < 0 ? STEP_COUNT : idx;
	}
	/* An intent without completion: the step re-reads the zone and either sees its change
	 * (reconciled) or makes it; record which one it was. */
	rc = jnl_intent_open(e->cfg.jnl, r->row.id, &open, err);
	if (!rc && open.id) {
		jnl_intent_done(
		    e->cfg.jnl, open.id, "reconciled", (long long)mx_now(e->cfg.clock), NULL);
		jnl_audit(e->cfg.jnl, r->row.id, domain, "reconcile", open.after,
		    (long long)mx_now(e->cfg.clock), NULL);
	}
	jnl_intent_clear(&open);
	rc = run_attach(e, r, err);
	if (rc)
		goto unlock;
	jnl_audit(e->cfg.jnl, r->row.id, domain, rollback ? "rollback" : "resume", NULL,
	    (long long)mx_now(e->cfg.clock), NULL);
	if (r->rollback)
		save_pos(r, "rolling_back", NULL, NULL);
	r->wake = mx_now(e->cfg.clock);
	return MX_OK;
unlock:
	jnl_unlock(e->cfg.jnl, domain);
fail:
	run_free(r);
	return rc;
}

int mx_engine_resume(struct mx_engine *e, const char *domain, struct mx_err *err)
{
	return load_run(e, domain, false, err);
}

int mx_engine_rollback(struct mx_engine *e, const char *domain, struct mx_err *err)
{
	return load_run(e, domain, true, err);
}

static bool step_applies(struct run *r)
{
	if (r->rollback || r->step >= STEP_COUNT)
		return true;
	if (mx_step_table[r->step].flags & MX_STEPF_MTASTS)
		return var_str(r, "policy_staged") != NULL;
	return true;
}

static void finish(struct run *r, const char *state, int exit_status)
{
	r->stopped = true;
	r->exit = exit_status;
	r->waiting_for[0] = '\0';
	save_pos(r, state, NULL, NULL);
	jnl_audit(r->e->cfg.jnl, r->row.id, r->row.domain, state, NULL, (long long)now(r), NULL);
	jnl_unlock(r->e->cfg.jnl, r->row.domain);
	say(r, MX_EV_DONE, MX_SEV_INFO, "%s",
	    !strcmp(state, "done") ? "cutover complete" : "rolled back to the snapshot");
}

static void run_unit(struct run *r)
{
	struct mx_err err;
	const char *key = step_key(r);
	enum res res;
	int count = r->rollback ? RB_COUNT : STEP_COUNT;

	mx_err_clear(&err);
	if (r->step >= count) {
		finish(r, r->rollback ? "rolled_back" : "done", 0);
		return;
	}
	if (!step_applies(r)) {
		res = R_SKIP;
	} else {
		char *st = jnl_step_state(r->e->cfg.jnl, r->row.id, key);

		if (!st || strcmp(st, "active")) {
			jnl_step_set(
			    r->e->cfg.jnl, r->row.id, key, "active", NULL, (long long)now(r), NULL);
			say(r, MX_EV_STEP, MX_SEV_INFO, "%s", step_title(r));
		}
		free(st);
		crash_point(r, key, "begin");
		res = r->rollback ? rb_steps[r->step].fn(r, &err) : fwd[r->step](r, &err);
	}
	switch (res) {
	case R_DONE:
	case R_SKIP:
		r->waiting_for[0] = '\0';
		r->last_wait[0] = '\0';
		if (jnl_begin(r->e->cfg.jnl, &err) == MX_OK) {
			jnl_step_set(r->e->cfg.jnl, r->row.id, key,
			    res == R_DONE ? "done" : "skipped", NULL, (long long)now(r), NULL);
			r->step++;
			save_vars(r, NULL);
			save_pos(r, r->rollback ? "rolling_back" : "running", NULL, NULL);
			jnl_commit(r->e->cfg.jnl, NULL);
		}
		crash_point(r, key, "done");
		r->wake = now(r);
		break;
	case R_WAIT:
		save_vars(r, NULL);
		save_pos(r, r->gate_shown ? "gate" : "waiting", NULL, NULL);
		if (!r->gate_shown && strcmp(r->last_wait, r->waiting_for)) {
			snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
			say(r, MX_EV_WAIT, MX_SEV_INFO, "waiting for %s", r->waiting_for);
		}
		break;
	case R_GATE:
		r->stopped = true;
		r->exit = MX_EXIT_BLOCKED;
		save_vars(r, NULL);
		save_pos(r, "gate", err.msg, NULL);
		jnl_unlock(r->e->cfg.jnl, r->row.domain);
		say(r, MX_EV_DONE, MX_SEV_ERROR, "%s", err.msg);
		break;
	case R_FAIL:
		if (err.rc == MX_ERATELIMIT && err.retry_after > 0 && !gate_expired(r, NULL)) {
			/* The provider asked to wait: a deadline like any other, then the step
			 * runs again (every step is idempotent). */
			r->wake = now(r) + err.retry_after;
			snprintf(r->waiting_for, sizeof(r->waiting_for),
			    "the provider's rate limit (%d s)", err.retry_after);
			save_vars(r, NULL);
			save_pos(r, "waiting", NULL, NULL);
			say(r, MX_EV_WAIT, MX_SEV_WARN, "%s", err.msg);
			break;
		}
		r->stopped = true;
		r->exit = r->exit ? r->exit : (int)mx_rc_exit(err.rc ? err.rc : MX_EIO);
		if (err.rc == MX_EGATE)
			r->exit = MX_EXIT_BLOCKED;
		save_vars(r, NULL);
		save_pos(r, "failed", err.msg, NULL);
		jnl_audit(r->e->cfg.jnl, r->row.id, r->row.domain, "failed", err.msg,
		    (long long)now(r), NULL);
		jnl_unlock(r->e->cfg.jnl, r->row.domain);
		say(r, MX_EV_DONE, MX_SEV_ERROR, "%s", err.msg);
		break;
	}
}

int mx_engine_step(struct mx_engine *e, time_t *wake, struct mx_err *err)
{
	struct run *next = NULL;
	time_t t = mx_now(e->cfg.clock);

	*wake = 0;
	for (int i = 0; i < e->nruns; i++) {
		struct run *r = e->runs[i];

		if (r->stopped) {
			/* A stopped run's checks are dropped once nothing of them is in flight. */
			if (r->chk && chk_advance(r->chk)) {
				chk_finish(r->chk, NULL);
				chk_domain_clear(&r->chk_d);
				r->chk = NULL;
			}
			continue;
		}
		if (r->chk && chk_advance(r->chk))
			r->wake = t;
		if (!next || r->wake < next->wake)
			next = r;
	}
	if (!next)
		return MX_OK;
	if (next->wake > t) {
		*wake = next->wake;
		return MX_EAGAIN;
	}
	run_unit(next);
	return MX_OK;
}

bool mx_engine_idle(const struct mx_engine *e)
{
	for (int i = 0; i < e->nruns; i++)
		if (!e->runs[i]->stopped)
			return false;
	return true;
}

int mx_engine_exit_status(const struct mx_engine *e)
{
	int worst = 0;

	for (int i = 0; i < e->nruns; i++) {
		int x = e->runs[i]->exit;

		/* 3 (runtime) outranks 1 (blockers), 4 (lock) outranks both. */
		if (x == MX_EXIT_LOCKED || (x == MX_EXIT_RUNTIME && worst != MX_EXIT_LOCKED) ||
		    (x && !worst))
			worst = x;
	}
	return worst;
}

int mx_engine_nruns(const struct mx_engine *e)
{
	return e->nruns;
}

const char *mx_engine_run_state(const struct mx_engine *e, int i)
{
	return e->runs[i]->row.state;
}

const char *mx_engine_run_domain(const struct mx_engine *e, int i)
{
	return e->runs[i]->row.domain;
}

void mx_engine_run_info(const struct mx_engine *e, int i, struct mx_run_info *out)
{
	struct run *r = e->runs[i];

	memset(out, 0, sizeof(*out));
	out->domain = r->row.domain;
	out->target = r->row.target;
	out->provider = r->row.provider;
	out->state = r->row.state ? r->row.state : "running";
	out->rollback = r->rollback;
	out->step = r->step;
	out->step_key = step_key(r);
	out->step_title = step_title(r);
	out->wake = r->wake;
	out->waiting_for = r->waiting_for;
	out->gate = r->gate_text;
	out->stopped = r->stopped;
	out->exit = r->exit;
}

int mx_engine_rb_count(void)
{
	return RB_COUNT;
}

const char *mx_engine_rb_title(int i)
{
	return i >= 0 && i < RB_COUNT ? rb_steps[i].title : "";
}

const char *mx_engine_rb_key(int i)
{
	return i >= 0 && i < RB_COUNT ? rb_steps[i].key : "";
}

static void stop_run(struct mx_engine *e, struct run *r)
{
	if (r->stopped)
		return;
	r->stopped = true;
	r->exit = MX_EXIT_BLOCKED;
	jnl_unlock(e->cfg.jnl, r->row.domain);
}

void mx_engine_stop(struct mx_engine *e)
{
	for (int i = 0; i < e->nruns; i++)
		stop_run(e, e->runs[i]);
}

void mx_engine_stop_domain(struct mx_engine *e, const char *domain)
{
	for (int i = 0; i < e->nruns; i++)
		if (!strcmp(e->runs[i]->row.domain, domain))
			stop_run(e, e->runs[i]);
}

void mx_engine_forget(struct mx_engine *e, const char *domain)
{
	int kept = 0;

	for (int i = 0; i < e->nruns; i++) {
		struct run *r = e->runs[i];

		if (r->stopped && !strcmp(r->row.domain, domain))
			run_free(r);
		else
			e->runs[kept++] = r;
	}
	e->nruns = kept;
}

int mx_engine_fds(const struct mx_engine *e, int *fds, int max)
{
	int n = 0;

	for (int i = 0; i < e->nruns && n < max; i++)
		if (e->runs[i]->chk && chk_fd(e->runs[i]->chk) >= 0)
			fds[n++] = chk_fd(e->runs[i]->chk);
	return n;
}

bool mx_engine_io_pending(const struct mx_engine *e)
{
	for (int i = 0; i < e->nruns; i++)
		if (e->runs[i]->chk && !e->runs[i]->stopped)
			return true;
	return false;
}
