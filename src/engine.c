/* SPDX-License-Identifier: MIT */
/* src/engine.c — the cutover engine: it executes the program of src/steps.h.
 *
 * A run is a position in one of the program's two tables (forward, rollback) plus its typed
 * variables (struct jnl_vars), all in the journal. The program says, as pure functions of the
 * snapshot and the settings, what every step writes, how long it waits and what its gate
 * asks; the engine adds what needs the world: it reads the zone, fetches policies, resolves,
 * asks a person. A unit of work runs the current step once; it returns DONE/SKIP (advance),
 * WAIT (come back at r->wake), ASK (a person's yes/no is awaited), GATE (stop here,
 * resumable) or FAIL.
 *
 * Every DNS write goes through write_rrset(): it re-reads the zone, refuses drift, journals
 * the intent (the change and its inverse) and commits it before the provider is called,
 * completes it after, and then waits until every authoritative server serves the new RRset.
 * A resumed run re-enters its step: the re-read makes every write idempotent, so an intent
 * left open by a crash is reconciled, never replayed blindly.
 *
 * The journal is the truth: a step advances in memory only after the transaction that
 * records it has committed, and a journal error stops the run (resumable, exit 3); it is
 * never dropped. */
#include "engine.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "dane.h"
#include "fiber.h"
#include "exo.h"
#include "domain.h"
#include "loop.h"
#include "mtasts.h"
#include "mtasts_fetch.h"
#include "plan.h"
#include "provider.h"
#include "rrset.h"
#include "steps.h"
#include "workers.h"

enum res { R_DONE, R_SKIP, R_WAIT, R_ASK, R_GATE, R_FAIL };

struct run {
	struct mx_engine *e;
	struct jnl_run row;
	struct jnl_vars v;
	enum mx_run_state st;
	int step; /* index in the current direction's table */
	struct prov *prov;
	struct mx_rrset snap_mx, snap_sts;
	/* The snapshot's provider read while the name servers are asked to confirm it: kept,
	 * not read again, when the step runs again for their answers. */
	struct mx_rrset read_mx, read_sts;
	bool have_read;
	struct mx_zone rb_start; /* the zone when the rollback started (valid when have_start) */
	bool have_start;
	time_t wake;
	bool stopped;
	bool jnl_broken; /* a journal write failed: the journal is not written again */
	bool asking;	 /* waiting for mx_engine_answer */
	int exit;
	char gate_text[1024]; /* the gate this run waits at, emitted once */
	bool gate_shown;
	char question[1024];
	char waiting_for[200];
	char error[512]; /* why the run stopped, when it stopped on an error */
	/* The MX the zone holds as far as this run knows (its snapshot, then each MX it wrote),
	 * "" before it has read or written one: "0 host" (+ " +" when more than one). */
	char mx_now[300];
	/* What the journal last recorded of a wait: a poll that changes none of it (the checks
	 * in flight, a name server still lagging) is not written again. */
	char saved_wait[200];
	long long saved_gate_since, saved_prop_since;
	int saved_st;
	char last_wait[200];	 /* the wait last announced, so a poll is announced once */
	struct chk_job *chk;	 /* preflight's checks in flight, NULL otherwise */
	struct prop_probe *prop; /* propagation queries in flight or answered, NULL otherwise */
	struct sts_fetch *fetch; /* the MTA-STS gate's fetch, NULL otherwise */
	struct tgt_check *tgt;	 /* verify_target's lookups and probe, NULL otherwise */
	struct pjob *pj;	 /* a provider call in a fiber (or on a worker), NULL otherwise */
	bool access_proved;	 /* preflight: the provider proved it can write the zone */
	int transient;		 /* server errors (5xx) met in a row by this step */
	struct chk_domain chk_d;
};

/* Provider sections one engine keeps apart (more share the last count). */
#define FJ_LANES     16
#define FJ_EXO_SPARE 16

struct mx_engine {
	struct mx_engine_cfg cfg;
	struct run **runs;
	int nruns;
	struct mx_engine_timing timing;
	int budget_ms;
	char budget_log[512];	   /* MXCUTOVER_ENGINE_BUDGET_LOG: calls over budget, or "" */
	struct dane_ctx *dane;	   /* the STARTTLS prober every run's verify_target shares */
	struct mx_workers *pool;   /* the workers for blocking calls, made at the first call */
	struct tgt_check *orphans; /* probes of runs that went away, still in flight */
	struct pjob *fibers;	   /* HTTP provider calls on the loop (fj_*), any state */
	/* Fibers started and not ended, per lane and in all (fj_lane). */
	struct fj_lane {
		char name[80];
		int busy;
	} lanes[FJ_LANES];
	int nlanes, fibers_busy;
	/* Admin API contexts of Exchange Online for the fibers, one per call under way, kept
	 * for the next calls (a context is used by one call at a time). */
	struct exo_ctx *exo_spare[FJ_EXO_SPARE];
	int nexo_spare;
	/* The DANE gates' resolver with a short memory (dns_ctx_fresh), on the engine's loop:
	 * made at the first gate; its descriptor is among mx_engine_fds. */
	struct dns_ctx *fresh;
};

/* ---- small helpers ---- */

static time_t now(struct run *r)
{
	return mx_now(r->e->cfg.clock);
}

/* A provider's passing failure: a server error (HTTP 5xx: a busy backend database, a
 * restart, a gateway) or a missing answer the adapter marked transient. The adapters never
 * pause for one when the engine drives them (no_wait): they end the call, and the engine
 * keeps the pause as a deadline. Every step is idempotent and re-reads the zone before it
 * writes, so the step runs again after a pause, a few times, before the run stops on it. */
enum { TRANSIENT_TRIES = 9, TRANSIENT_MAX_WAIT = 30 };

static bool transient_error(const struct mx_err *err)
{
	return err->rc == MX_EPROVIDER &&
	       (err->transient || (err->http_status >= 500 && err->http_status <= 599));
}

/* The pause before try n + 1 (n = 1 … TRANSIENT_TRIES): 1, 2, 4, 8, 16, 30, 30, 30, 30 s,
 * and 0–2 s more that differ from one domain to the next, so runs that met the same outage
 * do not all come back at once. The first pauses are short: the adapter does not pause. */
static int transient_wait(const struct run *r, int n)
{
	unsigned h = 5381;
	int wait = n >= 6 ? TRANSIENT_MAX_WAIT : 1 << (n - 1); /* 1 << 4 = 16 < the maximum */

	for (const char *c = r->row.domain; *c; c++)
		h = h * 33u + (unsigned char)*c;
	return wait + (int)((h + (unsigned)n) % 3u);
}

static const struct mx_step_def *cur_def(struct run *r)
{
	return mx_prog_step(r->v.rollback, r->step);
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
	ev.step = r->v.rollback ? -1 : r->step;
	ev.until = r->wake;
	snprintf(ev.domain, sizeof(ev.domain), "%s", r->row.domain);
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	mx_emit_event(r->e->cfg.sink, &ev);
}

/* Test seam: MXCUTOVER_CRASH_AT=step:point kills the process right there (SIGKILL, as a
 * power cut would), so tests can prove resume from every instant. */
static void crash_point(const char *step, const char *point)
{
	const char *at = getenv("MXCUTOVER_CRASH_AT");
	char want[128];

	if (!at)
		return;
	snprintf(want, sizeof(want), "%s:%s", step, point);
	if (!strcmp(at, want))
		raise(SIGKILL);
}

/* A journal failure stops the run, resumable: the message says what to do. */
static enum res jnl_failed(struct run *r, struct mx_err *err)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	r->jnl_broken = true;
	mx_err_set(err, MX_EIO,
	    "%s; the run stopped where the journal last recorded it — free space or fix the "
	    "state file, then run `mxcutover resume %s`",
	    msg, r->row.domain);
	return R_FAIL;
}

static int save_vars(struct run *r, struct mx_err *err)
{
	return jnl_vars_put(r->e->cfg.jnl, r->row.id, &r->v, err);
}

static const char *step_key(struct run *r)
{
	const struct mx_step_def *d = cur_def(r);

	if (d)
		return d->key;
	return r->v.rollback ? "rolled_back" : "done";
}

static const char *step_title(struct run *r)
{
	const struct mx_step_def *d = cur_def(r);

	if (d)
		return d->title;
	return r->v.rollback ? "Rolled back" : "Done";
}

static int save_pos(struct run *r, enum mx_run_state st, const char *error, struct mx_err *err)
{
	int rc = jnl_run_update(r->e->cfg.jnl, r->row.id, mx_run_state_name(st), step_key(r),
	    st == MX_RUN_WAITING || st == MX_RUN_GATE ? (long long)r->wake : 0,
	    r->waiting_for[0] ? r->waiting_for : NULL, error, (long long)now(r), err);

	if (!rc)
		r->st = st;
	return rc;
}

/* A wait recorded: the run's variables and its position in one transaction, so one sync of
 * the journal instead of two, and never one without the other. */
static int save_wait(struct run *r, enum mx_run_state st, struct mx_err *err)
{
	struct jnl *j = r->e->cfg.jnl;
	int rc = jnl_begin(j, err);

	if (!rc && (rc = save_vars(r, err)) == MX_OK && (rc = save_pos(r, st, NULL, err)) == MX_OK)
		return jnl_commit(j, err);
	if (rc)
		jnl_abort(j);
	return rc;
}

static void stop_with(struct run *r, enum mx_run_state st, int exit, struct mx_err *err);

/* The provider asked to wait (a rate limit) or failed for now (a server error): a deadline
 * like any other, then the step runs again (every step is idempotent and re-reads the zone
 * first). waiting_for is the caller's; `said` is announced. A journal that cannot record the
 * wait stops the run. */
static void retry_later(struct run *r, int wait, const char *said, struct mx_err *err)
{
	r->wake = now(r) + wait;
	if (save_wait(r, MX_RUN_WAITING, err)) {
		stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, err), err));
		return;
	}
	say(r, MX_EV_WAIT, MX_SEV_WARN, "%s", said);
}

static void prog_in(struct run *r, struct mx_prog_in *in)
{
	memset(in, 0, sizeof(*in));
	in->domain = r->row.domain;
	in->target = r->row.target;
	in->set.low_ttl = r->v.low_ttl;
	in->set.final_ttl = r->v.final_ttl;
	in->set.final_preference = r->v.final_preference;
	in->set.gate_timeout = r->v.gate_timeout;
	in->set.provider_min_ttl = r->v.provider_min_ttl;
	in->snap_mx = &r->snap_mx;
	in->snap_sts = &r->snap_sts;
	in->observed_ttl = (uint32_t)r->v.observed_ttl;
	in->policy_now = r->v.policy_now;
	in->policy_staged = r->v.policy_staged;
	in->policy_final = r->v.policy_final;
	in->id_stage = r->v.id_stage;
	in->id_final = r->v.id_final;
	in->id_rollback = r->v.id_rollback;
	in->exchange = r->v.exchange != 0;
}

static void rb_in(struct run *r, struct mx_rb_in *rb)
{
	rb->start = &r->rb_start;
	rb->dane_touched = r->v.dane_touched != 0;
}

static enum res poll_again(struct run *r, int seconds, const char *what)
{
	r->wake = now(r) + seconds;
	snprintf(r->waiting_for, sizeof(r->waiting_for), "%s", what);
	return R_WAIT;
}

/* Starts (or continues) the current gate's clock and shows its text once; true when
 * gate_timeout has passed. The clock is journaled with the run's variables. */
static bool gate_expired(struct run *r, const char *text)
{
	if (!r->v.gate_since)
		r->v.gate_since = (long long)now(r);
	if (text && text[0] && !r->gate_shown) {
		snprintf(r->gate_text, sizeof(r->gate_text), "%s", text);
		say(r, MX_EV_GATE, MX_SEV_WARN, "%s", text);
		r->gate_shown = true;
	}
	return (long long)now(r) - r->v.gate_since > r->v.gate_timeout;
}

static void gate_clear(struct run *r)
{
	r->v.gate_since = 0;
	r->gate_shown = false;
	r->gate_text[0] = '\0';
}

/* Waits at the current gate (polling every `every` seconds) or, past gate_timeout, stops
 * resumable with exit 1 and the message fmt. */
static enum res gate_wait(struct run *r, const char *text, int every, const char *what,
    struct mx_err *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum res gate_wait(struct run *r, const char *text, int every, const char *what,
    struct mx_err *err, const char *fmt, ...)
{
	va_list ap;

	if (gate_expired(r, text)) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->rc = MX_EGATE;
		return R_GATE;
	}
	return poll_again(r, every, what);
}

/* ---- propagation: every authoritative server asked at once, never waited for ---- */

/* One round of questions to every authoritative server about one RRset. The queries run on
 * the engine's resolver in parallel; their callbacks fill this in and the run comes back when
 * the last one has answered (mx_engine_step). A run that goes away cancels its queries. */
struct prop_probe {
	struct run *r;
	struct mx_rrset want;
	int pending;   /* queries in flight */
	bool all;      /* every server answered so far serves want */
	char lag[100]; /* the first server seen to lag */
	struct prop_q {
		struct prop_probe *p;
		char server[64];
	} * q;
};

enum prop { PROP_YES, PROP_NO, PROP_PENDING };

static void probe_free(struct run *r)
{
	if (!r->prop)
		return;
	/* Every query carries its own prop_q as argument. */
	for (int i = 0; r->prop->pending && r->prop->q && r->prop->q[i].p; i++)
		dns_cancel(r->e->cfg.dns, &r->prop->q[i]);
	prov_rrset_clear(&r->prop->want);
	free(r->prop->q);
	free(r->prop);
	r->prop = NULL;
}

static void probe_answer(void *arg, struct dns_answer *a)
{
	struct prop_q *q = arg;
	struct prop_probe *p = q->p;
	const struct mx_rrset *want = &p->want;
	struct mx_rrset got;
	char value[600];
	bool same = false;

	p->pending--;
	if (a && a->rcode >= 0) {
		memset(&got, 0, sizeof(got));
		snprintf(got.name, sizeof(got.name), "%s", want->name);
		got.type = want->type;
		got.ttl = a->ttl;
		for (size_t k = 0; k < a->n; k++) {
			if (want->type == DNS_T_MX)
				prov_mx_value(
				    a->rr[k].u.mx.pref, a->rr[k].u.mx.host, value, sizeof(value));
			else
				snprintf(value, sizeof(value), "%s", a->rr[k].u.txt);
			prov_rrset_add(&got, value, NULL);
		}
		prov_rrset_sort(&got);
		same = prov_rrset_equal(&got, want, want->n > 0);
		prov_rrset_clear(&got);
	}
	if (!same && p->all) {
		p->all = false;
		snprintf(p->lag, sizeof(p->lag), "%s%s", q->server,
		    a && a->rcode >= 0 ? "" : " (no answer)");
	}
	dns_answer_free(a);
}

/* Do all authoritative servers serve exactly `want` (values and TTL)? PROP_PENDING while
 * their answers are on the way: the caller returns R_WAIT and is run again when the last
 * answer is in. */
static enum prop propagated(struct run *r, const struct mx_rrset *want, char *lagging, size_t len)
{
	struct prop_probe *p = r->prop;
	json_t *ns, *v;
	size_t i, n;

	if (p && p->pending)
		return PROP_PENDING;
	if (p && p->want.type == want->type && !strcmp(p->want.name, want->name) &&
	    p->want.ttl == want->ttl && prov_rrset_equal(&p->want, want, true)) {
		enum prop res = p->all ? PROP_YES : PROP_NO;

		snprintf(lagging, len, "%s", p->lag);
		probe_free(r);
		return res;
	}
	probe_free(r);
	ns = r->v.ns ? json_loads(r->v.ns, 0, NULL) : NULL;
	n = json_array_size(ns);
	if (!n) {
		json_decref(ns);
		return PROP_YES;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->q = calloc(n + 1, sizeof(*p->q));
	if (!p || !p->q || prov_rrset_copy(&p->want, want, NULL)) {
		if (p)
			free(p->q);
		free(p);
		json_decref(ns);
		snprintf(lagging, len, "(out of memory)");
		return PROP_NO;
	}
	p->r = r;
	p->all = true;
	r->prop = p;
	json_array_foreach(ns, i, v)
	{
		struct prop_q *q = &p->q[i];

		q->p = p;
		snprintf(q->server, sizeof(q->server), "%s", json_string_value(v));
		if (dns_query_direct_async(r->e->cfg.dns, q->server, want->name, want->type, 2000,
			probe_answer, q, NULL)) {
			if (p->all) {
				p->all = false;
				snprintf(p->lag, sizeof(p->lag), "%s (no answer)", q->server);
			}
			continue;
		}
		p->pending++;
	}
	json_decref(ns);
	if (p->pending)
		return PROP_PENDING;
	return propagated(r, want, lagging, len);
}

static const char *rr_type_name(int type)
{
	return type == DNS_T_MX ? "MX" : "_mta-sts TXT";
}

/* ---- calls that wait for the network: fibers and workers ---- */

/* A provider's read or write, an admin API call of Exchange Online and a DANE gate's lookup
 * run in a fiber on the engine's loop (see fj_start below), so that no unit of the engine's
 * work waits for the network and one slow provider never holds up the others. Only an engine
 * made without an HTTP context or a resolver hands them to one of a few worker threads
 * (src/workers.c) instead, each with its own HTTP context, resolver and admin API context.
 * The step starts the call (pj_start) and returns R_WAIT; it takes the result (pj_take) once
 * the call has ended. One call at a time per run; the journal is written only on the
 * engine's thread, before and after. A run that goes away while its call runs hands its
 * provider to the call, which closes it when done. */
#define POOL_WORKERS 12

enum pj_op {
	PJ_READ,       /* name/type through the provider into out */
	PJ_READ_ZONE,  /* the apex MX into out and _mta-sts TXT into out2 */
	PJ_REPLACE,    /* cur (expected) to want */
	PJ_ACCESS,     /* name's MX read, then the adapter's proof of write access into access */
	PJ_FRESH,      /* name/type through a dns_ctx_fresh resolver into ans */
	PJ_EXO_ENABLE, /* Enable-DnssecForVerifiedDomain: the host into host */
	PJ_EXO_STATUS, /* Get-DnssecStatusForVerifiedDomain into st */
	PJ_EXO_DANE,   /* Enable- or Disable-SmtpDaneInbound (enable) */
};

struct pjob {
	struct prov *prov; /* the run's (provider calls only); the job's own once orphan */
	enum pj_op op;
	char name[300], name2[254];
	uint16_t type;
	struct mx_rrset cur, want, out, out2;
	struct dns_answer *ans;
	struct exo_dnssec_status st;
	struct prov_access access;
	bool proving; /* PJ_ACCESS: the read passed, check_access was called */
	char host[EXO_HOST_MAX];
	bool enable;
	long long intent; /* replace: the journaled intent it carries out */
	int rc;
	struct mx_err err;
	char domain[254]; /* the run's, to keep a new run off a zone still being written */
	struct mx_work *work;
	/* An HTTP provider's call runs in a fiber on the engine's loop instead (fiber_start). */
	struct mx_engine *e;
	struct mx_fiber *fiber; /* NULL while it waits for room in its lane */
	char lane[80];
	bool orphan;	    /* its run let go of it: it ends on its own, then is freed */
	struct pjob *fnext; /* in e->fibers */
};

/* Does the call change the zone or the tenant? (A write under way is let end, so that its
 * outcome is known; a read can be stopped at any time.) */
static bool pj_writes(enum pj_op op)
{
	return op == PJ_REPLACE || op == PJ_EXO_ENABLE || op == PJ_EXO_DANE;
}

static void pjob_free(struct pjob *j)
{
	prov_rrset_clear(&j->cur);
	prov_rrset_clear(&j->want);
	prov_rrset_clear(&j->out);
	prov_rrset_clear(&j->out2);
	dns_answer_free(j->ans);
	exo_dnssec_status_clear(&j->st);
	free(j);
}

/* mx_work_free_fn: a call its run let go of; one that ran on without its run owns the
 * provider it was writing with. */
static void pjob_release(void *arg, bool orphan)
{
	struct pjob *j = arg;

	if (orphan)
		prov_close(j->prov);
	pjob_free(j);
}

/* The provider call itself, with the contexts already in place. */
static int pj_prov_call(struct prov *p, struct pjob *j)
{
	switch (j->op) {
	case PJ_READ:
		return p->ops->read_rrset(p, j->name, j->type, &j->out, &j->err);
	case PJ_READ_ZONE: {
		int rc = p->ops->read_rrset(p, j->name, DNS_T_MX, &j->out, &j->err);

		return rc ? rc : p->ops->read_rrset(p, j->name2, DNS_T_TXT, &j->out2, &j->err);
	}
	case PJ_ACCESS: {
		/* As check --provider: a zone the provider does not hold is said first. */
		int rc = p->ops->read_rrset(p, j->name, DNS_T_MX, &j->out, &j->err);

		j->proving = !rc && p->ops->check_access;
		return j->proving ? p->ops->check_access(p, &j->access, &j->err) : rc;
	}
	default:
		return p->ops->replace_rrset(p, &j->cur, &j->want, &j->err);
	}
}

/* A provider call with the worker's contexts in place of the run's. */
static int pj_prov(struct mx_worker *w, struct pjob *j)
{
	struct prov *p = j->prov;
	struct http_ctx *http = p->http;
	struct dns_ctx *dns = p->dns;
	/* An HTTP adapter reads and writes only through p->http (PROV_CAP_HTTP). */
	bool use_dns = p->dns && !(p->ops->caps & PROV_CAP_HTTP);
	int rc;

	if (!(p->http = mx_worker_http(w, &j->err)) ||
	    (use_dns && !(p->dns = mx_worker_dns(w, &j->err)))) {
		p->http = http;
		p->dns = dns;
		return j->err.rc ? j->err.rc : MX_EIO;
	}
	if (!use_dns)
		p->dns = NULL;
	rc = pj_prov_call(p, j);
	p->http = http;
	p->dns = dns;
	return rc;
}

static void pj_call(struct mx_worker *w, struct pjob *j);

/* An admin API call of Exchange Online with x in place. */
static int pj_exo_call(struct exo_ctx *x, struct pjob *j)
{
	exo_set_no_wait(x, true); /* a pause becomes a deadline of the run */
	if (j->op == PJ_EXO_ENABLE)
		return exo_enable_dnssec(x, j->domain, j->host, sizeof(j->host), &j->err);
	if (j->op == PJ_EXO_STATUS)
		return exo_dnssec_status(x, j->domain, &j->st, &j->err);
	return exo_set_dane_inbound(x, j->domain, j->enable, &j->err);
}

/* mx_work_fn: the call, on a worker; it never pauses (mx_pause_forbid: a pause inside it is
 * reported to the suite's budget log). */
static void pj_exec(struct mx_worker *w, void *arg)
{
	mx_pause_forbid(true);
	pj_call(w, arg);
	mx_pause_forbid(false);
}

static void pj_call(struct mx_worker *w, struct pjob *j)
{
	struct mx_err *err = &j->err;
	struct dns_ctx *fresh;
	struct exo_ctx *x;

	mx_err_clear(err);
	switch (j->op) {
	case PJ_READ:
	case PJ_READ_ZONE:
	case PJ_REPLACE:
	case PJ_ACCESS:
		j->rc = pj_prov(w, j);
		return;
	case PJ_FRESH:
		/* The worker's resolver with a short cache (dns_ctx_fresh). */
		if (!(fresh = mx_worker_dns_fresh(w, err)))
			j->rc = err->rc ? err->rc : MX_EDNS;
		else
			j->rc = dns_resolve(fresh, j->name, j->type, &j->ans, err);
		return;
	case PJ_EXO_ENABLE:
	case PJ_EXO_STATUS:
	case PJ_EXO_DANE:
		if (!(x = mx_worker_exo(w, err))) {
			j->rc = err->rc ? err->rc : MX_EIO;
			return;
		}
		j->rc = pj_exo_call(x, j);
		return;
	}
	j->rc = mx_err_set(err, MX_EINVAL, "unknown call");
}

/* ---- provider calls in fibers on the engine's loop ---- */

/* A provider adapter makes the engine's calls in a fiber (src/fiber.h) on the engine's own
 * thread, not on a worker: each of its requests is a transfer on the engine's HTTP context
 * (the libcurl multi handle the front end's loop drives, like the MTA-STS fetches) or a
 * query or TCP message on the engine's resolver (src/dns.c: the RFC 2136 updates and reads,
 * the manual provider's reads from each server), and the fiber is suspended while it is in
 * flight. The engine resumes a fiber once its answer is in (fibers_advance, at the start of
 * every engine call), so an adapter's request-by-request code runs as a state machine whose
 * states are its waits: no thread waits for a provider, and its calls never queue behind
 * another provider's. Exchange Online's admin API calls run the same way (lane "exchange"),
 * each with an admin API context of the engine's on its HTTP context (fj_exo_take), and so
 * do the DANE gates' lookups (lane "dns", through the engine's short-memory resolver
 * e->fresh). At most FIBER_LANE calls of one lane are under way at once; later ones wait
 * their turn in order. */
#define FIBER_LANE 16

static enum res pj_wait(struct run *r);

static bool fj_done(const struct pjob *j)
{
	/* A call not started has rc 0; one whose fiber could not be made has its error. */
	return j->fiber ? mx_fiber_done(j->fiber) : j->rc != 0;
}

/* An admin API context on the engine's HTTP context for an Exchange Online call in a fiber,
 * NULL with err set; fj_exo_give takes it back. */
static struct exo_ctx *fj_exo_take(struct mx_engine *e, struct mx_err *err)
{
	struct exo_ctx *x = NULL;

	if (e->nexo_spare)
		return e->exo_spare[--e->nexo_spare];
	if (exo_open(e->cfg.conf, e->cfg.http, &x, err))
		return NULL;
	return x;
}

static void fj_exo_give(struct mx_engine *e, struct exo_ctx *x)
{
	if (x && e->nexo_spare < FJ_EXO_SPARE)
		e->exo_spare[e->nexo_spare++] = x;
	else
		exo_close(x);
}

static void fj_main(void *arg)
{
	struct pjob *j = arg;
	struct prov *p = j->prov;
	struct http_ctx *http;
	struct dns_ctx *dns;

	mx_err_clear(&j->err);
	if (j->op == PJ_FRESH) {
		j->rc = dns_resolve(j->e->fresh, j->name, j->type, &j->ans, &j->err);
		return;
	}
	if (j->op >= PJ_EXO_ENABLE) {
		struct exo_ctx *x = fj_exo_take(j->e, &j->err);

		if (x)
			j->rc = pj_exo_call(x, j);
		else
			j->rc = j->err.rc ? (int)j->err.rc : (int)MX_EIO;
		fj_exo_give(j->e, x);
		return;
	}
	http = p->http;
	dns = p->dns;
	p->http = j->e->cfg.http;
	/* An HTTP adapter reads and writes only through p->http (PROV_CAP_HTTP). */
	p->dns = (p->ops->caps & PROV_CAP_HTTP) ? NULL : j->e->cfg.dns;
	j->rc = pj_prov_call(p, j);
	p->http = http;
	p->dns = dns;
}

static int *fj_lane(struct mx_engine *e, const char *lane);

/* Runs the fiber until its next wait; a pause inside it is a bug (mx_pause_forbid). The
 * call's lane counts it until it ends. */
static void fj_resume(struct pjob *j)
{
	mx_pause_forbid(true);
	mx_fiber_resume(j->fiber);
	mx_pause_forbid(false);
	if (mx_fiber_done(j->fiber)) {
		(*fj_lane(j->e, j->lane))--;
		j->e->fibers_busy--;
	}
}

/* Starts a queued call: a fiber, and its first requests. A fiber that cannot be made ends
 * the call with that error (fj_done). */
static void fj_begin(struct pjob *j)
{
	struct mx_err err;

	mx_err_clear(&err);
	if (mx_fiber_new(&j->fiber, fj_main, j, &err)) {
		j->err = err; /* mx_err_set: err.rc is the error */
		j->rc = err.rc;
		return;
	}
	(*fj_lane(j->e, j->lane))++;
	if (++j->e->fibers_busy > j->e->timing.loop_most)
		j->e->timing.loop_most = j->e->fibers_busy;
	fj_resume(j);
}

/* The count of lane's fibers under way. */
static int *fj_lane(struct mx_engine *e, const char *lane)
{
	for (int i = 0; i < e->nlanes; i++)
		if (!strcmp(e->lanes[i].name, lane))
			return &e->lanes[i].busy;
	if (e->nlanes == FJ_LANES)
		return &e->lanes[FJ_LANES - 1].busy;
	snprintf(e->lanes[e->nlanes].name, sizeof(e->lanes[0].name), "%s", lane);
	e->lanes[e->nlanes].busy = 0;
	return &e->lanes[e->nlanes++].busy;
}

static void fj_unlink(struct mx_engine *e, struct pjob *j)
{
	for (struct pjob **pp = &e->fibers; *pp; pp = &(*pp)->fnext)
		if (*pp == j) {
			*pp = j->fnext;
			break;
		}
	j->fnext = NULL;
}

/* Frees a call off the list; an orphan's provider goes with it. */
static void fj_free(struct pjob *j)
{
	mx_fiber_free(j->fiber);
	if (j->orphan)
		prov_close(j->prov);
	pjob_free(j);
}

/* Resumes fibers whose transfer has ended and starts queued calls that have room in their
 * lane, at most max of them (each runs an adapter until its next request: a response to
 * parse, a request to sign), in the order the calls were made; frees the calls of runs that
 * went away once they have ended. Returns how many ran; domain (254 bytes, or NULL) names
 * the first one's. */
static int fibers_advance(struct mx_engine *e, int max, char *domain)
{
	struct pjob *j, *next;
	int ran = 0;

	for (j = e->fibers; j && ran < max; j = j->fnext) {
		if (j->fiber ? !mx_fiber_ready(j->fiber)
			     : fj_done(j) || *fj_lane(e, j->lane) >= FIBER_LANE)
			continue;
		if (!ran++ && domain)
			snprintf(domain, 254, "%s", j->domain);
		if (j->fiber)
			fj_resume(j);
		else
			fj_begin(j);
	}
	for (j = e->fibers; j; j = next) {
		next = j->fnext;
		if (j->orphan && fj_done(j)) {
			fj_unlink(e, j);
			fj_free(j);
		}
	}
	return ran;
}

/* Queues the run's provider call as a fiber and starts it when its lane has room. */
static enum res fj_start(struct run *r, struct pjob *j)
{
	struct mx_engine *e = r->e;
	struct pjob **pp = &e->fibers;

	j->e = e;
	while (*pp)
		pp = &(*pp)->fnext;
	*pp = j;
	r->pj = j;
	e->timing.loop_calls++;
	if (*fj_lane(e, j->lane) < FIBER_LANE)
		fj_begin(j);
	return pj_wait(r);
}

/* Lets go of a run's fiber call: one not started or ended is freed; one under way goes on
 * with the run's provider and is freed when it ends (true: the run no longer has it). A read
 * under way is stopped (it ends at its next resume): nobody takes its answer, and the domain
 * is free again for a resume at once instead of after the provider's timeout. */
static bool fj_drop(struct mx_engine *e, struct pjob *j)
{
	if (j->fiber && !mx_fiber_done(j->fiber)) {
		j->orphan = true;
		if (!pj_writes(j->op))
			mx_fiber_cancel(j->fiber);
		return true;
	}
	fj_unlink(e, j);
	fj_free(j);
	return false;
}

/* Waits, driving the engine's HTTP context, until every call still under way has ended
 * (each within its provider's timeout); those still queued are dropped. */
static void fibers_drain(struct mx_engine *e)
{
	time_t give_up = time(NULL) + 300;

	for (struct pjob *j = e->fibers, *next; j; j = next) {
		next = j->fnext;
		if (!j->fiber || fj_done(j)) {
			fj_unlink(e, j);
			j->orphan = true;
			fj_free(j);
		} else if (!pj_writes(j->op)) {
			/* A read changes nothing and nobody will take its answer: it is stopped
			 * (its transfer or lookup dropped) and ends at its next resume. */
			mx_fiber_cancel(j->fiber);
		}
	}
	while (e->fibers && time(NULL) < give_up) {
		struct mx_loop loop = {e->cfg.dns, e->cfg.http};
		int fds[4], n = e->fresh ? dns_fds(e->fresh, fds, 4) : 0;

		if (e->cfg.dns)
			mx_loop_once(&loop, fds, n, 200, NULL);
		else
			http_wait(e->cfg.http, NULL, 0, 200, NULL);
		if (e->fresh)
			dns_process(e->fresh, NULL);
		fibers_advance(e, INT_MAX, NULL);
	}
	/* A transfer that never ended (a context that no longer advances): its fiber is never
	 * resumed again, so its stack can go (what it had allocated stays allocated). */
	while (e->fibers) {
		struct pjob *j = e->fibers;

		e->fibers = j->fnext;
		j->orphan = true;
		fj_free(j);
	}
	while (e->nexo_spare)
		exo_close(e->exo_spare[--e->nexo_spare]);
	mx_fiber_release_spares();
}

static bool pj_of_domain(const void *arg, const void *domain)
{
	return !strcmp(((const struct pjob *)arg)->domain, domain);
}

/* A call of a stopped run of domain still under way: a new run of it waits (its re-read of
 * the zone could miss that write, and a provider without atomic changes would be written
 * twice). */
static int pool_busy(struct mx_engine *e, const char *domain, struct mx_err *err)
{
	bool fiber = false;

	for (const struct pjob *j = e->fibers; j && !fiber; j = j->fnext)
		fiber = j->orphan && !fj_done(j) && !strcmp(j->domain, domain);
	if (fiber || mx_workers_orphan(e->pool, pj_of_domain, domain))
		return mx_err_set(err, MX_ELOCKED,
		    "%s: a provider call of its stopped run is still under way (it ends within "
		    "the provider's timeout); try again in a few seconds",
		    domain);
	return MX_OK;
}

static bool pj_done(struct run *r)
{
	if (r->pj->e)
		return fj_done(r->pj);
	return mx_work_done(r->e->pool, r->pj->work);
}

/* A call is under way: work in progress, not announced. */
static enum res pj_wait(struct run *r)
{
	if (!r->waiting_for[0]) {
		snprintf(r->waiting_for, sizeof(r->waiting_for), "%s",
		    r->pj && r->pj->op >= PJ_EXO_ENABLE ? "Exchange Online to answer"
		    : r->pj && r->pj->op == PJ_FRESH	? "the DNS lookup"
							: "the provider to answer");
		snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
	}
	r->wake = now(r) + 5; /* the worker wakes the run sooner */
	return R_WAIT;
}

/* A new call of kind op for the run (zeroed; the caller fills it and hands it to pj_start). */
static struct pjob *pj_new(enum pj_op op, struct mx_err *err)
{
	struct pjob *j = calloc(1, sizeof(*j));

	if (!j)
		mx_err_set(err, MX_ENOMEM, "out of memory");
	else
		j->op = op;
	return j;
}

/* The engine's resolver for the DANE gates' lookups, made and set up at the first one (here,
 * not in the fiber: dns_ctx_setup); NULL with err set. */
static struct dns_ctx *engine_fresh(struct mx_engine *e, struct mx_err *err)
{
	if (!e->fresh && !dns_ctx_fresh(&e->fresh, e->cfg.dns, err) &&
	    dns_ctx_setup(e->fresh, err)) {
		dns_ctx_free(e->fresh);
		e->fresh = NULL;
	}
	return e->fresh;
}

/* Hands the call to a worker; the run waits (R_WAIT) and comes back when it is done, or
 * R_FAIL with err. j is the pool's from here on. */
static enum res pj_start(struct run *r, struct pjob *j, struct mx_err *err)
{
	struct mx_engine *e = r->e;
	char lane[80];

	/* A provider's call, a DANE gate's lookup or Exchange Online's call: a fiber on the
	 * engine's loop (see fj_start). */
	if (j->op <= PJ_ACCESS && e->cfg.http && r->prov &&
	    ((r->prov->ops->caps & PROV_CAP_HTTP) || e->cfg.dns)) {
		j->prov = r->prov;
		snprintf(j->lane, sizeof(j->lane), "provider.%s", r->row.provider);
		snprintf(j->domain, sizeof(j->domain), "%s", r->row.domain);
		return fj_start(r, j);
	}
	if (j->op == PJ_FRESH && e->cfg.dns && engine_fresh(e, err)) {
		snprintf(j->lane, sizeof(j->lane), "dns");
		snprintf(j->domain, sizeof(j->domain), "%s", r->row.domain);
		return fj_start(r, j);
	}
	if (j->op == PJ_FRESH && e->cfg.dns) {
		pjob_free(j);
		return R_FAIL;
	}
	if (j->op >= PJ_EXO_ENABLE && e->cfg.http && e->cfg.conf) {
		e->timing.loop_exo_calls++;
		snprintf(j->lane, sizeof(j->lane), "exchange");
		snprintf(j->domain, sizeof(j->domain), "%s", r->row.domain);
		return fj_start(r, j);
	}
	if (!e->pool &&
	    mx_workers_new(&e->pool, POOL_WORKERS, e->cfg.conf, e->cfg.http, e->cfg.dns, err)) {
		pjob_free(j);
		return R_FAIL;
	}
	/* Each provider section is a lane of the pool, and so are the lookups and Exchange
	 * Online: a provider that hangs holds up its own domains' calls, never the others'. */
	if (j->op <= PJ_ACCESS) {
		j->prov = r->prov;
		snprintf(lane, sizeof(lane), "provider.%s", r->row.provider);
	} else {
		snprintf(lane, sizeof(lane), "%s", j->op == PJ_FRESH ? "dns" : "exchange");
	}
	snprintf(j->domain, sizeof(j->domain), "%s", r->row.domain);
	if (!(j->work = mx_work_start(e->pool, lane, pj_exec, j, pjob_release, err))) {
		pjob_free(j);
		return R_FAIL;
	}
	e->timing.worker_calls++;
	r->pj = j;
	return pj_wait(r);
}

/* The run's call of kind op: NULL with *res = R_WAIT while it runs, the finished call (the
 * caller frees it with pjob_free; its rc and err say how it ended) when it has ended, NULL
 * with *res = R_DONE when none was started. */
static struct pjob *pj_take(struct run *r, enum pj_op op, enum res *res)
{
	struct pjob *j = r->pj;

	*res = R_DONE;
	if (!j || j->op != op)
		return NULL;
	if (!pj_done(r)) {
		*res = pj_wait(r);
		return NULL;
	}
	r->pj = NULL;
	if (j->e) {
		fj_unlink(r->e, j);
		mx_fiber_free(j->fiber);
		j->fiber = NULL;
		return j;
	}
	mx_work_end(r->e->pool, j->work);
	j->work = NULL;
	return j;
}

/* A finished call that failed: its error becomes the step's, and the call is freed. */
static bool pj_failed(struct pjob *j, struct mx_err *err)
{
	if (!j->rc)
		return false;
	*err = j->err;
	pjob_free(j);
	return true;
}

/* The run lets go of its call: a queued or finished one is freed, a running one takes the
 * run's provider with it (r->prov becomes NULL) when it is a provider call. */
static void pj_drop(struct run *r)
{
	struct pjob *j = r->pj;
	bool has_prov;

	if (!j)
		return;
	r->pj = NULL;
	has_prov = j->prov != NULL;
	if (j->e) {
		if (fj_drop(r->e, j) && has_prov)
			r->prov = NULL;
		return;
	}
	if (mx_work_abandon(r->e->pool, j->work) && has_prov)
		r->prov = NULL;
}

/* r->mx_now from an MX RRset: its most preferred host, " +" when there are more. */
static void note_mx(struct run *r, const struct mx_rrset *mx)
{
	unsigned pref, best = 0;
	char host[MX_NAME_MAX + 2], pick[MX_NAME_MAX + 2] = "";
	size_t len;

	if (!mx->n) {
		snprintf(r->mx_now, sizeof(r->mx_now), "none");
		return;
	}
	for (size_t i = 0; i < mx->n; i++)
		if (prov_mx_parse(mx->values[i], &pref, host, sizeof(host)) &&
		    (!pick[0] || pref < best)) {
			best = pref;
			snprintf(pick, sizeof(pick), "%s", host);
		}
	len = strlen(pick);
	if (len && pick[len - 1] == '.')
		pick[len - 1] = '\0';
	snprintf(r->mx_now, sizeof(r->mx_now), "%u %s%s", best, pick, mx->n > 1 ? " +" : "");
}

/* The one way DNS is written. want->n > 0 always for MX (the RRset is never empty). */
static enum res write_rrset(
    struct run *r, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	const char *step = step_key(r);
	struct mx_rrset cur;
	struct pjob *j;
	char *before = NULL, *after = NULL, *t1, *t2, lag[100];
	long long intent = 0;
	enum res res = R_FAIL;
	bool drift;
	int rc;

	memset(&cur, 0, sizeof(cur));
	if (want->type == DNS_T_MX && want->n == 0) {
		mx_err_set(
		    err, MX_EINVAL, "refusing to publish an empty MX RRset for %s", want->name);
		return R_FAIL;
	}
	/* The write is behind us and its propagation is being checked: the zone is read
	 * again only once the name servers have answered. */
	if (r->prop && r->prop->want.type == want->type &&
	    !strcmp(r->prop->want.name, want->name) && prov_rrset_equal(&r->prop->want, want, true))
		goto propagate;
	if ((j = pj_take(r, PJ_REPLACE, &res)) != NULL) {
		/* The write of this step on a worker has ended: go on from where it left. */
		rc = j->rc;
		if (rc)
			*err = j->err;
		cur = j->cur;
		memset(&j->cur, 0, sizeof(j->cur));
		intent = j->intent;
		pjob_free(j);
		res = R_FAIL;
		goto replaced;
	}
	if (res == R_WAIT)
		return res;
	if (!(j = pj_take(r, PJ_READ, &res))) {
		if (res == R_WAIT)
			return res;
		/* First the zone as the provider holds it. */
		if (!(j = pj_new(PJ_READ, err)))
			return R_FAIL;
		snprintf(j->name, sizeof(j->name), "%s", want->name);
		j->type = want->type;
		return pj_start(r, j, err);
	}
	rc = j->rc;
	if (rc)
		*err = j->err;
	cur = j->out;
	memset(&j->out, 0, sizeof(j->out));
	pjob_free(j);
	res = R_FAIL;
	if (rc) {
		prov_rrset_clear(&cur);
		return R_FAIL;
	}
	if (prov_rrset_equal(&cur, want, true)) {
		/* Its intent, if one is open (records a person set by hand), is complete. */
		struct jnl_intent open;

		memset(&open, 0, sizeof(open));
		rc = jnl_intent_open(r->e->cfg.jnl, r->row.id, &open, err);
		if (!rc && open.id && open.step && !strcmp(open.step, step))
			rc = jnl_intent_done(
			    r->e->cfg.jnl, open.id, "applied", (long long)now(r), err);
		jnl_intent_clear(&open);
		if (rc) {
			res = jnl_failed(r, err);
			goto out;
		}
		if (r->transient) {
			/* The write's answer was a passing failure (an API that does not list
			 * the change yet, a lost answer): the read now shows it made. */
			t1 = prov_rrset_text(want);
			say(r, MX_EV_LOG, MX_SEV_INFO, "wrote %s %s: %s (shown on a later read)",
			    want->name, want->type == DNS_T_MX ? "MX" : "TXT", t1 ? t1 : "");
			free(t1);
		}
		goto propagate;
	}
	/* A provider that writes record by record (no PROV_CAP_ATOMIC) and failed halfway
	 * leaves an RRset that is neither expect nor want. When every value in it is one of
	 * theirs, and its TTL lies between theirs (such a provider shows the smallest of its
	 * records' TTLs), it is our own unfinished write: finish it, from what is there. A
	 * value from anywhere else is someone else's change. An empty RRset is never ours:
	 * the adapters create records before they delete any. */
	drift = !prov_rrset_equal(&cur, expect, true);
	if (drift && !(r->prov->ops->caps & PROV_CAP_ATOMIC) && cur.n > 0 &&
	    !strcasecmp(cur.name, want->name)) {
		uint32_t lo = want->ttl, hi = want->ttl;
		bool ours;

		if (expect->n && expect->ttl < lo)
			lo = expect->ttl;
		if (expect->n && expect->ttl > hi)
			hi = expect->ttl;
		ours = cur.ttl >= lo && cur.ttl <= hi;
		for (size_t i = 0; ours && i < cur.n; i++) {
			bool known = false;

			for (size_t k = 0; !known && k < expect->n; k++)
				known = !strcmp(cur.values[i], expect->values[k]);
			for (size_t k = 0; !known && k < want->n; k++)
				known = !strcmp(cur.values[i], want->values[k]);
			ours = known;
		}
		if (ours) {
			drift = false;
			t1 = prov_rrset_text(&cur);
			say(r, MX_EV_LOG, MX_SEV_WARN,
			    "the %s RRset holds a change of ours made halfway (%s); finishing it",
			    rr_type_name(want->type), t1 ? t1 : "?");
			free(t1);
		}
	}
	if (drift) {
		t1 = prov_rrset_text(expect);
		t2 = prov_rrset_text(&cur);
		mx_err_set(err, MX_ECONFLICT,
		    "the %s RRset changed behind our back: expected %s, found %s; check who "
		    "changed it, then resume or roll back",
		    rr_type_name(want->type), t1 ? t1 : "?", t2 ? t2 : "?");
		free(t1);
		free(t2);
		goto out;
	}
	before = mx_rrset_dumps(&cur);
	after = mx_rrset_dumps(want);
	if (!before || !after) {
		mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	/* A write that is still open for this very change (a person setting records by hand,
	 * polled every few seconds) keeps its one intent. */
	{
		struct jnl_intent open;

		memset(&open, 0, sizeof(open));
		if (jnl_intent_open(r->e->cfg.jnl, r->row.id, &open, err)) {
			res = jnl_failed(r, err);
			goto out;
		}
		if (open.id && open.step && !strcmp(open.step, step) && open.after &&
		    !strcmp(open.after, after) && open.before && !strcmp(open.before, before))
			intent = open.id;
		jnl_intent_clear(&open);
	}
	if (!intent && jnl_intent_begin(r->e->cfg.jnl, r->row.id, step, want->name,
			   want->type == DNS_T_MX ? "MX" : "TXT", before, after, (long long)now(r),
			   &intent, err)) {
		res = jnl_failed(r, err);
		goto out;
	}
	crash_point(step, "intent");
	j = pj_new(PJ_REPLACE, err);
	if (!j || prov_rrset_copy(&j->cur, &cur, err) || prov_rrset_copy(&j->want, want, err)) {
		if (j)
			pjob_free(j);
		goto out;
	}
	j->intent = intent;
	res = pj_start(r, j, err);
	goto out;
replaced:
	if (rc == MX_EAGAIN && (r->prov->ops->caps & PROV_CAP_HUMAN)) {
		/* A person applies it; the intent completes when the zone shows it. */
		res = gate_wait(r, err->msg, 5, "the records to be set by hand", err,
		    "the records were not set within gate_timeout; set them and run "
		    "`mxcutover resume %s`",
		    r->row.domain);
		goto out;
	}
	if (rc == MX_ERATELIMIT || transient_error(err)) {
		/* Maybe applied, maybe not: the retry re-reads and reconciles. */
		struct mx_err jerr;

		if (jnl_intent_done(r->e->cfg.jnl, intent, "retry", (long long)now(r), &jerr)) {
			*err = jerr;
			res = jnl_failed(r, err);
		}
		goto out;
	}
	if (rc)
		goto out;
	crash_point(step, "write");
	if (jnl_intent_done(r->e->cfg.jnl, intent, "applied", (long long)now(r), err)) {
		res = jnl_failed(r, err);
		goto out;
	}
	t1 = prov_rrset_text(want);
	say(r, MX_EV_LOG, MX_SEV_INFO, "wrote %s %s: %s", want->name,
	    want->type == DNS_T_MX ? "MX" : "TXT", t1 ? t1 : "");
	free(t1);
propagate:
	if (want->type == DNS_T_MX)
		note_mx(r, want);
	switch (propagated(r, want, lag, sizeof(lag))) {
	case PROP_PENDING:
		/* Work in progress, not a wait: announced only once a server lags. */
		if (!r->waiting_for[0]) {
			snprintf(r->waiting_for, sizeof(r->waiting_for),
			    "every authoritative server to serve the change");
			snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
		}
		r->wake = now(r) + 3; /* the answers wake the run sooner */
		res = R_WAIT;
		goto out;
	case PROP_NO:
		if (!r->v.prop_since) {
			r->v.prop_since = (long long)now(r);
		} else if ((long long)now(r) - r->v.prop_since > r->v.gate_timeout + 300) {
			mx_err_set(err, MX_EDNS,
			    "name server %s still does not serve the new RRset; check zone "
			    "transfers, then resume",
			    lag);
			goto out;
		}
		snprintf(r->waiting_for, sizeof(r->waiting_for),
		    "every authoritative server to serve the change (%s lags)", lag);
		r->wake = now(r) + 1;
		res = R_WAIT;
		goto out;
	case PROP_YES:
		break;
	}
	r->v.prop_since = 0;
	res = R_DONE;
out:
	prov_rrset_clear(&cur);
	free(before);
	free(after);
	return res;
}

/* ---- MTA-STS: one fetch and one judgement, the senders' ---- */

/* The fetch runs on the engine's resolver and HTTP client, never waited for: the gate
 * starts it, returns, and reads the result once the callbacks have filled it in. */
struct sts_fetch {
	struct run *r;
	bool done;
	struct mtasts_policy *pol; /* set when done and a valid policy was served */
	char why[600];		   /* otherwise why not */
	char url[400];
};

static void fetch_free(struct run *r)
{
	if (!r->fetch)
		return;
	dns_cancel(r->e->cfg.dns, r->fetch);
	http_cancel(r->e->cfg.http, r->fetch);
	mtasts_policy_free(r->fetch->pol);
	free(r->fetch);
	r->fetch = NULL;
}

static void fetch_got(void *arg, struct http_response *resp)
{
	struct sts_fetch *f = arg;
	enum mtasts_fetch fr;

	f->done = true;
	if (!resp) {
		snprintf(f->why, sizeof(f->why), "out of memory");
		return;
	}
	fr = mtasts_fetch_judge(resp, &f->pol);
	if (fr == MTASTS_FETCH_CTYPE) {
		const char *ct = http_header(resp, "Content-Type");

		snprintf(f->why, sizeof(f->why),
		    "%s is served as \"%.60s\", not text/plain, so senders ignore it; serve it "
		    "as text/plain",
		    f->url, ct ? ct : "(no Content-Type)");
	} else if (fr != MTASTS_FETCH_OK) {
		snprintf(f->why, sizeof(f->why), "%s answered with a %s problem (HTTP %ld)", f->url,
		    mtasts_fetch_name(fr), resp->status);
	} else if (!f->pol->valid) {
		snprintf(f->why, sizeof(f->why), "the policy at %s is not valid: %s", f->url,
		    f->pol->nproblems ? f->pol->problems[0] : "see `mxcutover check`");
		mtasts_policy_free(f->pol);
		f->pol = NULL;
	}
	http_response_free(resp);
}

static void fetch_resolved(void *arg, struct dns_answer *a)
{
	struct sts_fetch *f = arg;
	struct http_request req;
	struct mx_err err;

	if (!a || a->sec == DNS_SEC_BOGUS || a->rcode < 0) {
		snprintf(f->why, sizeof(f->why), "mta-sts.%s does not resolve%s", f->r->row.domain,
		    a && a->sec == DNS_SEC_BOGUS ? " (DNSSEC-bogus)" : "");
		f->done = true;
		dns_answer_free(a);
		return;
	}
	/* Pinned to the address our validating resolver found, as senders connect. */
	mtasts_fetch_request(
	    f->r->row.domain, a->n ? a->rr[0].u.addr : NULL, 10000, f->url, sizeof(f->url), &req);
	mx_err_clear(&err);
	if (http_start(f->r->e->cfg.http, &req, fetch_got, f, &err)) {
		snprintf(f->why, sizeof(f->why), "%s", err.msg);
		f->done = true;
	}
	dns_answer_free(a);
}

/* Fetches the policy of the domain as a sender would (HTTPS with verification, pinned to the
 * address our validating resolver found, no redirects, text/plain, 64 KiB) and judges it.
 * false while the fetch is under way (the run is woken when it ends); true with *pol (a
 * valid policy, the caller's) or why. */
static bool fetch_policy(struct run *r, struct mtasts_policy **pol, char *why, size_t whylen)
{
	char host[300];
	struct mx_err err;

	*pol = NULL;
	if (r->fetch) {
		if (!r->fetch->done)
			return false;
		*pol = r->fetch->pol;
		r->fetch->pol = NULL;
		snprintf(why, whylen, "%s", r->fetch->why);
		fetch_free(r);
		return true;
	}
	r->fetch = calloc(1, sizeof(*r->fetch));
	if (!r->fetch) {
		snprintf(why, whylen, "out of memory");
		return true;
	}
	r->fetch->r = r;
	snprintf(host, sizeof(host), "mta-sts.%s", r->row.domain);
	mx_err_clear(&err);
	if (dns_resolve_async(r->e->cfg.dns, host, DNS_T_A, fetch_resolved, r->fetch, &err)) {
		snprintf(why, whylen, "%s", err.msg);
		fetch_free(r);
		return true;
	}
	return false;
}

static bool same_patterns(const struct mtasts_policy *a, const struct mtasts_policy *b)
{
	if (a->nmx != b->nmx)
		return false;
	for (size_t i = 0; i < a->nmx; i++) {
		bool found = false;

		for (size_t k = 0; !found && k < b->nmx; k++)
			found = !strcasecmp(a->mx[i], b->mx[k]);
		if (!found)
			return false;
	}
	return true;
}

/* Is the served policy the one served before the run (mode, max_age and patterns)? */
static bool same_as_original(struct run *r, const struct mtasts_policy *served)
{
	struct mtasts_policy *orig = NULL;
	bool same;

	if (!r->v.policy_now ||
	    mtasts_policy_parse(r->v.policy_now, strlen(r->v.policy_now), &orig, NULL))
		return false;
	same = orig->valid && orig->mode == served->mode && orig->max_age == served->max_age &&
	       same_patterns(orig, served);
	mtasts_policy_free(orig);
	return same;
}

/* Does the served policy say what this gate needs? */
static bool policy_ready(struct run *r, const struct mtasts_policy *served)
{
	unsigned pref;
	char host[300];

	if (!served)
		return false;
	if (r->v.rollback) {
		/* Every host the MX is about to hold (RB_MTASTS_COVER: the snapshot's and the
		 * target; RB_MTASTS: the snapshot's, the target is gone by then), by the
		 * senders' matching rules — however many hosts the snapshot holds. */
		if (r->step != RB_MTASTS && !mtasts_policy_covers(served, r->row.target))
			return false;
		for (size_t i = 0; i < r->snap_mx.n; i++)
			if (prov_mx_parse(r->snap_mx.values[i], &pref, host, sizeof(host)) &&
			    !mtasts_policy_covers(served, host))
				return false;
		if (r->step == RB_MTASTS && !same_as_original(r, served))
			say(r, MX_EV_LOG, MX_SEV_WARN,
			    "the MTA-STS policy served covers the restored MX but is not the "
			    "original; publish the original again when you can:\n%s",
			    r->v.policy_now ? r->v.policy_now : "");
		return true;
	}
	if (!mtasts_policy_covers(served, r->row.target))
		return false;
	for (size_t i = 0; i < r->snap_mx.n; i++) {
		bool legacy;

		if (!prov_mx_parse(r->snap_mx.values[i], &pref, host, sizeof(host)))
			continue;
		legacy = mx_conf_is_legacy(r->e->cfg.conf, host);
		if (r->step == STEP_MTASTS_STAGE && !mtasts_policy_covers(served, host))
			return false;
		if (r->step == STEP_MTASTS_FINALIZE && legacy && mtasts_policy_covers(served, host))
			return false;
	}
	return true;
}

/* An MTA-STS gate: the policy a person publishes, verified by fetching it, then (for write
 * steps) the program's _mta-sts record, written by the same rules as every record. */
static enum res mtasts_gate(struct run *r, const char *text, struct mx_err *err)
{
	char why[600] = "";

	if (!r->v.verified) {
		struct mtasts_policy *served = NULL;
		bool ok;

		if (!fetch_policy(r, &served, why, sizeof(why))) {
			/* Under way: work in progress, announced only if the gate stays closed. */
			if (!r->gate_shown) {
				poll_again(r, 11, "the MTA-STS policy to be fetched");
				snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
			} else {
				r->wake = now(r) + 11;
			}
			return R_WAIT;
		}
		ok = policy_ready(r, served);
		mtasts_policy_free(served);
		if (!ok) {
			char what[sizeof(why) + 40];

			snprintf(what, sizeof(what), "the MTA-STS policy to be published%s%s",
			    why[0] ? ": " : "", why);
			return gate_wait(r, text, 5, what, err,
			    "the MTA-STS policy was not published within gate_timeout%s%s%s; "
			    "publish it and run `mxcutover resume %s`",
			    why[0] ? " (last seen: " : "", why, why[0] ? ")" : "", r->row.domain);
		}
		gate_clear(r);
		r->v.verified = 1;
		if (save_vars(r, err))
			return jnl_failed(r, err);
		say(r, MX_EV_LOG, MX_SEV_INFO,
		    "the MTA-STS policy served at mta-sts.%s is the one "
		    "this step needs",
		    r->row.domain);
	}
	return R_DONE;
}

/* ---- forward executors ---- */

/* provider.access, as `check --provider` has it, for an adapter whose reads never use the
 * credential its writes need (PROV_CAP_KEYED_WRITES: RFC 2136's TSIG key): the MX read, then
 * the adapter's proof of write access without changing the zone (a TSIG-signed UPDATE whose
 * prerequisite fails). A wrong secret then stops the run at preflight — nothing written, no
 * run left behind, nobody asked to publish a policy first — instead of at its first write.
 * (The other adapters' snapshot read uses their one credential and fails on a wrong one
 * before anything is written or asked.) R_DONE once proved. */
static enum res preflight_access(struct run *r, struct mx_err *err)
{
	struct pjob *j;
	enum res res;

	if (r->access_proved)
		return R_DONE;
	if (!(j = pj_take(r, PJ_ACCESS, &res))) {
		if (res == R_WAIT)
			return res;
		if (!r->prov || !(r->prov->ops->caps & PROV_CAP_KEYED_WRITES)) {
			r->access_proved = true;
			return R_DONE;
		}
		if (!(j = pj_new(PJ_ACCESS, err)))
			return R_FAIL;
		snprintf(j->name, sizeof(j->name), "%s", r->row.domain);
		return pj_start(r, j, err);
	}
	if (j->rc) {
		bool proving = j->proving;

		pj_failed(j, err);
		/* A lost answer or SERVFAIL: the step runs again after a deadline, like any
		 * provider call (the R_FAIL path). Anything else — a refused key, a secret that
		 * cannot sign, a zone the primary does not hold, a server that does not take
		 * updates — stops the run here. */
		if (proving && !transient_error(err) && err->rc != MX_ERATELIMIT)
			mx_err_prefix(err, "preflight refused (provider.access)");
		return R_FAIL;
	}
	r->access_proved = true;
	if (j->access.proved[0])
		say(r, MX_EV_LOG, MX_SEV_INFO, "provider.access: %s", j->access.proved);
	if (j->access.unproved[0])
		say(r, MX_EV_LOG, MX_SEV_WARN, "provider.access: not proved: %s",
		    j->access.unproved);
	pjob_free(j);
	return R_DONE;
}

static enum res do_preflight(struct run *r, struct mx_err *err)
{
	struct chk_domain *d = &r->chk_d;
	json_t *ns = NULL;
	char blockers[800] = "";
	size_t used = 0;
	enum res res = R_FAIL;

	if (!r->chk && (res = preflight_access(r, err)) != R_DONE)
		return res;
	res = R_FAIL;
	if (!r->chk) {
		struct chk_opts o;
		const char *domains[1] = {r->row.domain}, *targets[1] = {r->row.target};
		int inflight = 0;

		/* As many domains' checks at once as `check` keeps in flight: a thousand runs
		 * started together take their turns instead of drowning the resolver. */
		for (int i = 0; i < r->e->nruns; i++)
			inflight += r->e->runs[i]->chk != NULL && !r->e->runs[i]->stopped;
		if (inflight >= CHK_DEFAULT_ACTIVE) {
			poll_again(r, 1, "the prerequisite checks");
			snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
			return R_WAIT;
		}
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
	/* The one readiness verdict (src/check.c) decides, as it does for check and plan. */
	if (!d->verdict.runnable) {
		if (d->verdict.v == CHK_V_MIGRATED)
			mx_err_set(err, MX_EGATE,
			    "preflight refused: %s (see `mxcutover status %s`)", d->verdict.text,
			    r->row.domain);
		else {
			for (int i = 0; i < d->verdict.nroots; i++) {
				enum chk_id id = d->verdict.roots[i];

				used += (size_t)snprintf(blockers + used,
				    used < sizeof(blockers) ? sizeof(blockers) - used : 0,
				    "%s%s: %s", used ? "; " : "", chk_id_name(id),
				    d->res[id].summary);
			}
			mx_err_set(err, MX_EGATE, "preflight found blockers — %s",
			    used ? blockers : d->verdict.text);
		}
		r->exit = MX_EXIT_BLOCKED;
		goto out;
	}
	/* A domain whose MX already lists a host of the new endpoint beside the legacy one is
	 * being migrated: starting again would publish the target twice. */
	for (size_t i = 0; d->facts.mx && i < d->facts.mx->n; i++) {
		const struct dns_rr *rr = &d->facts.mx->rr[i];

		if (rr->type == DNS_T_MX &&
		    mx_name_under(rr->u.mx.host, r->e->cfg.conf->endpoint_suffix)) {
			mx_err_set(err, MX_EGATE,
			    "preflight refused: the MX already lists %s, so a cutover is in "
			    "progress "
			    "(see `mxcutover status %s`); finish or roll back that one",
			    rr->u.mx.host, r->row.domain);
			r->exit = MX_EXIT_BLOCKED;
			goto out;
		}
	}
	ns = json_array();
	for (size_t i = 0; i < d->facts.nns; i++)
		json_array_append_new(ns, json_string(d->facts.ns_addrs[i]));
	free(r->v.ns);
	r->v.ns = json_dumps(ns, JSON_COMPACT);
	r->v.observed_ttl = d->facts.mx_ttl_max;
	free(r->v.policy_now);
	r->v.policy_now = NULL;
	if (mx_plan_policy_now(&d->facts))
		r->v.policy_now = strdup(mx_plan_policy_now(&d->facts));
	say(r, MX_EV_LOG, MX_SEV_INFO, "preflight passed (%zu authoritative servers, MX TTL %u s)",
	    d->facts.nns, d->facts.mx_ttl_max);
	res = R_DONE;
out:
	json_decref(ns);
	chk_domain_clear(d);
	return res;
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
}

/* With a reviewed plan, the run must be the plan: same zone, same settings, same program. */
static enum res check_plan(struct run *r, const char *checksum, struct mx_err *err)
{
	json_t *plan = json_loads(r->v.plan, 0, NULL);
	json_t *snap = json_object_get(plan, "snapshot"),
	       *mtasts = json_object_get(plan, "mta_sts");
	const char *want = json_string_value(json_object_get(snap, "checksum"));
	const char *program = json_string_value(json_object_get(plan, "program"));
	enum res res = R_FAIL;
	char *live_mx = mx_rrset_dumps(&r->snap_mx);
	json_t *live = live_mx ? json_loads(live_mx, 0, NULL) : NULL;

	if (!want || strcmp(want, checksum) || !program ||
	    strcmp(program, MX_PROG_VERSION "/" MX_VERSION)) {
		if (!program || strcmp(program, MX_PROG_VERSION "/" MX_VERSION))
			mx_err_set(err, MX_ECONFLICT,
			    "the reviewed plan was made by another version of mxcutover (%s, "
			    "this is %s); make and review a new plan",
			    program ? program : "unknown", MX_PROG_VERSION "/" MX_VERSION);
		else if (!json_equal(json_object_get(snap, "mx"), live))
			mx_err_set(err, MX_ECONFLICT,
			    "the live zone no longer matches the reviewed plan (plan %s, zone "
			    "%s); make and review a new plan",
			    want ? want : "without checksum", checksum);
		else
			mx_err_set(err, MX_ECONFLICT,
			    "the reviewed plan was made with other settings, another target or "
			    "another MTA-STS policy (plan %s, now %s); make and review a new plan",
			    want ? want : "without checksum", checksum);
		goto out;
	}
	/* The plan's ids are the ones the change board saw. */
	if (r->v.policy_staged) {
		json_t *steps = json_object_get(plan, "steps"), *s;
		size_t i;

		json_array_foreach(steps, i, s)
		{
			const char *key = json_string_value(json_object_get(s, "key"));
			const char *id = json_string_value(json_object_get(s, "mta_sts_id"));

			if (key && id && !strcmp(key, "mtasts_stage"))
				set_str(&r->v.id_stage, id);
			if (key && id && !strcmp(key, "mtasts_finalize"))
				set_str(&r->v.id_final, id);
		}
		if (json_string_value(json_object_get(mtasts, "id_rollback")))
			set_str(&r->v.id_rollback,
			    json_string_value(json_object_get(mtasts, "id_rollback")));
	}
	res = R_DONE;
out:
	free(live_mx);
	json_decref(live);
	json_decref(plan);
	return res;
}

/* The apex MX (mx_name) and the _mta-sts TXT (sts_name) as the provider holds them, read on
 * a worker: MX_OK with both filled, else non-zero with *res R_WAIT (the read is under way)
 * or R_FAIL (err says why). */
static int pj_read_zone(struct run *r, const char *mx_name, const char *sts_name,
    struct mx_rrset *mx, struct mx_rrset *sts, enum res *res, struct mx_err *err)
{
	struct pjob *j = pj_take(r, PJ_READ_ZONE, res);

	if (!j) {
		if (*res == R_WAIT)
			return MX_EAGAIN;
		if (!(j = pj_new(PJ_READ_ZONE, err)))
			return *res = R_FAIL, MX_ENOMEM;
		snprintf(j->name, sizeof(j->name), "%s", mx_name);
		snprintf(j->name2, sizeof(j->name2), "%s", sts_name);
		*res = pj_start(r, j, err);
		return MX_EAGAIN;
	}
	if (pj_failed(j, err)) {
		*res = R_FAIL;
		return err->rc ? err->rc : MX_EIO;
	}
	*mx = j->out;
	*sts = j->out2;
	memset(&j->out, 0, sizeof(j->out));
	memset(&j->out2, 0, sizeof(j->out2));
	pjob_free(j);
	return MX_OK;
}

static enum res do_snapshot(struct run *r, struct mx_err *err)
{
	struct mx_rrset mx, sts;
	struct mx_prog_in in;
	char name[254], checksum[80], lag[100], *mx_text = NULL, *sts_text = NULL;
	char id1[MTASTS_ID_MAX + 1], id2[MTASTS_ID_MAX + 1], id3[MTASTS_ID_MAX + 1];
	enum res res = R_FAIL;

	memset(&mx, 0, sizeof(mx));
	memset(&sts, 0, sizeof(sts));
	snprintf(name, sizeof(name), "_mta-sts.%s", r->row.domain);
	if (r->have_read) {
		mx = r->read_mx;
		sts = r->read_sts;
		memset(&r->read_mx, 0, sizeof(r->read_mx));
		memset(&r->read_sts, 0, sizeof(r->read_sts));
		r->have_read = false;
	} else if (pj_read_zone(r, r->row.domain, name, &mx, &sts, &res, err))
		goto out;
	res = R_FAIL;
	if (mx.n == 0) {
		mx_err_set(err, MX_EINVAL, "the provider holds no MX RRset for %s; nothing to move",
		    r->row.domain);
		goto out;
	}
	if (!sts.name[0])
		snprintf(sts.name, sizeof(sts.name), "%s", name);
	sts.type = DNS_T_TXT;
	/* The snapshot is taken through the provider AND through DNS: they must agree, or the
	 * provider holds changes that have not reached the name servers (or the reverse). */
	r->v.ns = r->v.ns ? r->v.ns : strdup("[]");
	switch (propagated(r, &mx, lag, sizeof(lag))) {
	case PROP_PENDING:
		snprintf(
		    r->waiting_for, sizeof(r->waiting_for), "the name servers to confirm the zone");
		snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
		r->wake = now(r) + 3; /* the answers wake the run sooner */
		r->read_mx = mx;
		r->read_sts = sts;
		memset(&mx, 0, sizeof(mx));
		memset(&sts, 0, sizeof(sts));
		r->have_read = true;
		res = R_WAIT;
		goto out;
	case PROP_YES:
		break;
	case PROP_NO: {
		char *t = prov_rrset_text(&mx);

		mx_err_set(err, MX_ECONFLICT,
		    "the provider holds MX %s but name server %s serves something else; wait "
		    "until the zone is in sync (see `mxcutover check`), then run again",
		    t ? t : "?", lag);
		free(t);
		goto out;
	}
	}
	prov_rrset_clear(&r->snap_mx);
	prov_rrset_clear(&r->snap_sts);
	r->snap_mx = mx;
	r->snap_sts = sts;
	note_mx(r, &r->snap_mx);
	memset(&mx, 0, sizeof(mx));
	memset(&sts, 0, sizeof(sts));
	if (r->v.policy_now && r->snap_sts.n) {
		char *staged = NULL, *final = NULL;

		if (mx_plan_mtasts_policies(
			r->e->cfg.conf, r->v.policy_now, r->row.target, &staged, &final, err))
			goto out;
		set_str(&r->v.policy_staged, staged);
		set_str(&r->v.policy_final, final);
		free(staged);
		free(final);
		mtasts_new_id(now(r), id1);
		mtasts_new_id(now(r) + 1, id2);
		mtasts_new_id(now(r) + 2, id3);
		set_str(&r->v.id_stage, id1);
		set_str(&r->v.id_final, id2);
		set_str(&r->v.id_rollback, id3);
	}
	prog_in(r, &in);
	if (mx_plan_checksum(&in, checksum, sizeof(checksum), err))
		goto out;
	if (r->v.plan && check_plan(r, checksum, err) != R_DONE)
		goto out;
	set_str(&r->v.checksum, checksum);
	mx_text = mx_rrset_dumps(&r->snap_mx);
	sts_text = mx_rrset_dumps(&r->snap_sts);
	if (!mx_text || !sts_text) {
		mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (jnl_begin(r->e->cfg.jnl, err) ||
	    jnl_snapshot_put(r->e->cfg.jnl, r->row.id, r->snap_mx.name, "MX", "provider", mx_text,
		checksum, err) ||
	    jnl_snapshot_put(
		r->e->cfg.jnl, r->row.id, r->snap_mx.name, "MX", "dns", mx_text, checksum, err) ||
	    jnl_snapshot_put(r->e->cfg.jnl, r->row.id, r->snap_sts.name, "TXT", "provider",
		sts_text, checksum, err) ||
	    jnl_commit(r->e->cfg.jnl, err)) {
		jnl_abort(r->e->cfg.jnl); /* none of the snapshot lands */
		res = jnl_failed(r, err);
		goto out;
	}
	say(r, MX_EV_LOG, MX_SEV_INFO, "snapshot %s", checksum);
	res = R_DONE;
out:
	free(mx_text);
	free(sts_text);
	prov_rrset_clear(&mx);
	prov_rrset_clear(&sts);
	return res;
}

static struct exo_ctx *run_exo(struct run *r, struct mx_err *err)
{
	if (!r->e->cfg.exo)
		mx_err_set(err, MX_EINVAL,
		    "this run calls the Exchange Online admin API, but the config has no "
		    "[exchange] section; restore it (see docs/exchange.md), then `mxcutover "
		    "resume %s`",
		    r->row.domain);
	return r->e->cfg.exo;
}

/* Records the state of one admin API call (0 none, 1 intent, 2 done) before and after it,
 * as a DNS write's intent is. */
static int exo_mark(struct run *r, int *field, int state, const char *what, struct mx_err *err)
{
	*field = state;
	if (jnl_begin(r->e->cfg.jnl, err) || save_vars(r, err) ||
	    jnl_audit(r->e->cfg.jnl, r->row.id, r->row.domain,
		state == 1 ? "exchange_intent" : "exchange_done", what, (long long)now(r), err) ||
	    jnl_commit(r->e->cfg.jnl, err)) {
		jnl_abort(r->e->cfg.jnl);
		return MX_EIO;
	}
	return MX_OK;
}

/* Enable-DnssecForVerifiedDomain: the endpoint exists and its host is the run's target. */
static enum res do_exo_provision(struct run *r, struct mx_err *err)
{
	struct exo_ctx *x = run_exo(r, err);
	const char *suffix = r->e->cfg.conf->endpoint_suffix;
	char host[EXO_HOST_MAX], *t;

	struct pjob *j;
	enum res res;

	if (!x)
		return R_FAIL;
	if (!(j = pj_take(r, PJ_EXO_ENABLE, &res))) {
		if (res == R_WAIT)
			return res;
		if (exo_mark(r, &r->v.exo_provision, 1, "Enable-DnssecForVerifiedDomain", err))
			return jnl_failed(r, err);
		return (j = pj_new(PJ_EXO_ENABLE, err)) ? pj_start(r, j, err) : R_FAIL;
	}
	if (pj_failed(j, err))
		return R_FAIL;
	snprintf(host, sizeof(host), "%s", j->host);
	pjob_free(j);
	if (suffix && !mx_name_under(host, suffix)) {
		mx_err_set(err, MX_EPROVIDER,
		    "Exchange Online assigned %s as the new MX host, which is not under "
		    "endpoint_suffix %s; check endpoint_suffix in [cutover]",
		    host, suffix);
		return R_FAIL;
	}
	if (r->row.target[0] && strcasecmp(r->row.target, host)) {
		mx_err_set(err, MX_EINVAL,
		    "Exchange Online assigned %s as the new MX host (DnssecMxValue), not %s; drop "
		    "--target-mx or give %s",
		    host, r->row.target, host);
		r->exit = MX_EXIT_USAGE;
		return R_FAIL;
	}
	if (!(t = strdup(host)))
		return mx_err_set(err, MX_ENOMEM, "out of memory"), R_FAIL;
	free(r->row.target);
	r->row.target = t;
	if (jnl_run_set_target(r->e->cfg.jnl, r->row.id, host, err) ||
	    exo_mark(r, &r->v.exo_provision, 2, host, err))
		return jnl_failed(r, err);
	say(r, MX_EV_LOG, MX_SEV_INFO,
	    "Exchange Online provisioned the DNSSEC endpoint: the new MX host is %s", host);
	return R_DONE;
}

/* MxValidation of Get-DnssecStatusForVerifiedDomain, judged by exo_mx_judge. */
static enum res do_exo_mx_valid(struct run *r, const char *text, struct mx_err *err)
{
	struct exo_ctx *x = run_exo(r, err);
	struct exo_dnssec_status st;
	enum exo_mx_verdict v;
	char why[400];

	struct pjob *j;
	enum res res;

	if (!x)
		return R_FAIL;
	gate_expired(r, text);
	if (!(j = pj_take(r, PJ_EXO_STATUS, &res))) {
		if (res == R_WAIT)
			return res;
		return (j = pj_new(PJ_EXO_STATUS, err)) ? pj_start(r, j, err) : R_FAIL;
	}
	if (pj_failed(j, err))
		return R_FAIL;
	st = j->st;
	memset(&j->st, 0, sizeof(j->st));
	pjob_free(j);
	v = exo_mx_judge(&st, r->v.final_preference, why, sizeof(why));
	exo_dnssec_status_clear(&st);
	if (v != EXO_MX_INVALID) {
		gate_clear(r);
		if (v == EXO_MX_VALID)
			say(r, MX_EV_LOG, MX_SEV_INFO, "Exchange Online validates the MX of %s",
			    r->row.domain);
		else
			say(r, MX_EV_LOG, MX_SEV_WARN, "%s", why);
		return R_DONE;
	}
	return gate_wait(r, NULL, 30, "Exchange Online to validate the MX", err,
	    "Exchange Online still does not validate the MX after gate_timeout: %s; check "
	    "the MX, then `mxcutover resume %s`",
	    why, r->row.domain);
}

/* Enable-SmtpDaneInbound (enable) or Disable-SmtpDaneInbound, once per run and direction. */
static enum res exo_dane(struct run *r, bool enable, struct mx_err *err)
{
	int *field = enable ? &r->v.exo_dane : &r->v.exo_dane_off;
	const char *cmdlet = enable ? "Enable-SmtpDaneInbound" : "Disable-SmtpDaneInbound";
	struct exo_ctx *x;

	struct pjob *j;
	enum res res;

	if (*field == 2)
		return R_DONE;
	if (!(x = run_exo(r, err)))
		return R_FAIL;
	if (!(j = pj_take(r, PJ_EXO_DANE, &res))) {
		if (res == R_WAIT)
			return res;
		if (exo_mark(r, field, 1, cmdlet, err))
			return jnl_failed(r, err);
		if (!(j = pj_new(PJ_EXO_DANE, err)))
			return R_FAIL;
		j->enable = enable;
		return pj_start(r, j, err);
	}
	if (pj_failed(j, err))
		return R_FAIL;
	pjob_free(j);
	if (exo_mark(r, field, 2, cmdlet, err))
		return jnl_failed(r, err);
	say(r, MX_EV_LOG, MX_SEV_INFO, "called %s -DomainName %s through the admin API", cmdlet,
	    r->row.domain);
	return R_DONE;
}

/* ---- verify_target: the target's address and TLSA, then its STARTTLS, on the loop ---- */

/* smtp_probe: when the target already publishes secure, usable TLSA, the certificate it
 * presents on port 25 must match before the target is preferred — a mismatch would make
 * every DANE sender defer mail. Without TLSA (before Enable-SmtpDaneInbound) there is
 * nothing to verify yet. The lookups run on the engine's resolver and the probe on the
 * engine's one prober; a run that goes away while its probe is in flight leaves it to the
 * engine (e->orphans), which frees it when it ends. */
struct tgt_check {
	struct mx_engine *e;
	struct run *r; /* NULL once the run is gone */
	struct tgt_check *next;
	struct tgt_q {
		struct tgt_check *t;
	} qa, qt;
	int dns_pending;
	bool probing, done;
	struct dns_answer *a, *tlsa;
	struct dane_result *res;
	char error[512]; /* the probe could not be started */
};

static void tgt_free(struct tgt_check *t)
{
	dns_answer_free(t->a);
	dns_answer_free(t->tlsa);
	dane_result_free(t->res);
	free(t);
}

static void tgt_drop(struct run *r)
{
	struct tgt_check *t = r->tgt;

	if (!t)
		return;
	r->tgt = NULL;
	dns_cancel(r->e->cfg.dns, &t->qa);
	dns_cancel(r->e->cfg.dns, &t->qt);
	if (t->probing) {
		t->r = NULL;
		t->next = r->e->orphans;
		r->e->orphans = t;
		return;
	}
	tgt_free(t);
}

static void tgt_probed(void *arg, struct dane_result *res)
{
	struct tgt_check *t = arg;

	t->probing = false;
	t->done = true;
	t->res = res;
	if (!t->r) {
		for (struct tgt_check **pp = &t->e->orphans; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		tgt_free(t);
	}
}

static void tgt_resolved(void *arg, struct dns_answer *ans)
{
	struct tgt_q *q = arg;
	struct tgt_check *t = q->t;
	struct run *r = t->r;
	const char *list[16];
	size_t n = 0;
	struct mx_err err;

	if (q == &t->qa)
		t->a = ans;
	else
		t->tlsa = ans;
	if (--t->dns_pending > 0)
		return;
	t->done = true;
	if (!t->a || !t->a->n || t->a->sec != DNS_SEC_SECURE || !t->tlsa ||
	    t->tlsa->sec != DNS_SEC_SECURE || !dane_tlsa_count_usable(t->tlsa))
		return;
	for (size_t i = 0; i < t->a->n && n < 16; i++)
		list[n++] = t->a->rr[i].u.addr;
	mx_err_clear(&err);
	if ((!r->e->dane && dane_ctx_new(&r->e->dane, NULL, &err)) ||
	    dane_probe_start(r->e->dane, r->row.target, list, n, t->tlsa, tgt_probed, t, &err)) {
		snprintf(t->error, sizeof(t->error), "%s", err.msg);
		return;
	}
	t->done = false;
	t->probing = true;
}

/* Starts the lookups; false when they could not be (err set). */
static bool tgt_start(struct run *r, struct mx_err *err)
{
	struct tgt_check *t = calloc(1, sizeof(*t));
	char name[300];

	if (!t) {
		mx_err_set(err, MX_ENOMEM, "out of memory");
		return false;
	}
	t->e = r->e;
	t->r = r;
	t->qa.t = t;
	t->qt.t = t;
	r->tgt = t;
	snprintf(name, sizeof(name), "_25._tcp.%s", r->row.target);
	if (dns_resolve_async(r->e->cfg.dns, r->row.target, DNS_T_A, tgt_resolved, &t->qa, err)) {
		tgt_drop(r);
		return false;
	}
	t->dns_pending++;
	if (!r->e->cfg.conf->smtp_probe)
		return true;
	if (dns_resolve_async(r->e->cfg.dns, name, DNS_T_TLSA, tgt_resolved, &t->qt, err)) {
		tgt_drop(r);
		return false;
	}
	t->dns_pending++;
	return true;
}

/* What the probe found: R_DONE (verified, or nothing to verify), R_GATE (a mismatch), R_FAIL
 * (the probe could not run). */
static enum res tgt_judge(struct run *r, const struct tgt_check *t, struct mx_err *err)
{
	const struct dane_result *res = t->res;

	if (t->error[0]) {
		mx_err_set(err, MX_EIO, "%s", t->error);
		return R_FAIL;
	}
	if (!res)
		return R_DONE;
	switch (res->status) {
	case DANE_PROBE_VERIFIED:
		say(r, MX_EV_LOG, MX_SEV_INFO, "STARTTLS on %s matches its TLSA (DANE verified)",
		    r->row.target);
		return R_DONE;
	case DANE_PROBE_UNREACHABLE:
	case DANE_PROBE_SKIPPED:
		say(r, MX_EV_LOG, MX_SEV_WARN,
		    "port 25 of %s cannot be reached from this machine; DANE is not verifiable on "
		    "the wire",
		    r->row.target);
		return R_DONE;
	default:
		mx_err_set(err, MX_EGATE,
		    "%s presents a certificate that its TLSA does not match (%s): DANE "
		    "senders would defer mail, so it is not preferred. Resume once it matches, "
		    "or roll back",
		    r->row.target,
		    res->naddr && res->addr[0].error[0] ? res->addr[0].error
							: dane_probe_name(res->status));
		return R_GATE;
	}
}

static enum res do_verify_target(struct run *r, const char *text, struct mx_err *err)
{
	bool secure;
	enum res probed;

	if (!r->v.verified) {
		if (!r->tgt || !r->tgt->done) {
			if (!r->tgt && !tgt_start(r, err))
				return R_FAIL;
			/* Work in progress, not a wait: nothing to announce. */
			if (!r->gate_shown) {
				poll_again(r, 3, "the target host's address and certificate");
				snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
			} else {
				r->wake = now(r) + 3;
			}
			return R_WAIT;
		}
		if (!r->tgt->a) {
			tgt_drop(r);
			return mx_err_set(err, MX_ENOMEM, "out of memory"), R_FAIL;
		}
		secure = r->tgt->a->n > 0 && r->tgt->a->sec == DNS_SEC_SECURE;
		probed = secure ? tgt_judge(r, r->tgt, err) : R_DONE;
		tgt_drop(r);
		if (probed != R_DONE)
			return probed;
		if (!secure)
			return gate_wait(r, NULL, 5, "the target host to resolve securely", err,
			    "target %s does not resolve securely; it is never preferred before "
			    "it does. Check DnssecMxValue, then resume",
			    r->row.target);
		gate_clear(r);
		r->v.verified = 1;
		if (save_vars(r, err))
			return jnl_failed(r, err);
		say(r, MX_EV_LOG, MX_SEV_INFO,
		    "%s is served by every name server and resolves securely", r->row.target);
	}
	if (!r->e->cfg.assume_yes && !r->v.confirmed) {
		snprintf(r->question, sizeof(r->question), "%s", text);
		return R_ASK;
	}
	return R_DONE;
}

static bool usable_tlsa(const struct dns_answer *a)
{
	bool usable = false;

	for (size_t i = 0; a->sec == DNS_SEC_SECURE && i < a->n; i++)
		usable |= a->rr[i].u.tlsa.usage == 2 || a->rr[i].u.tlsa.usage == 3;
	return usable;
}

/* The inbound DANE gates, verified like every gate in DNS (through a resolver that keeps no
 * answer over DNS_FRESH_MAX_AGE s, so no cached answer hides Microsoft's change):
 * dane_enable (on) waits for a DNSSEC-secure, usable TLSA at the target; rb_dane (off) waits
 * until it is withdrawn (secure NXDOMAIN/NODATA, or no usable record left). With [exchange]
 * the run makes the call itself first — switching off only what it switched on. */
static enum res dane_gate(struct run *r, const char *text, bool on, struct mx_err *err)
{
	const char *cmdlet = on ? "Enable-SmtpDaneInbound" : "Disable-SmtpDaneInbound";
	struct dns_answer *a = NULL;
	char name[300], what[100];
	bool ok;

	struct pjob *j;
	enum res res;

	snprintf(name, sizeof(name), "_25._tcp.%s", r->row.target);
	gate_expired(r, text);
	if (r->v.exchange && (on || r->v.exo_dane) && (res = exo_dane(r, on, err)) != R_DONE)
		return res;
	if (!(j = pj_take(r, PJ_FRESH, &res))) {
		if (res == R_WAIT)
			return res;
		if (!(j = pj_new(PJ_FRESH, err)))
			return R_FAIL;
		snprintf(j->name, sizeof(j->name), "%s", name);
		j->type = DNS_T_TLSA;
		return pj_start(r, j, err);
	}
	if (pj_failed(j, err))
		return R_FAIL;
	a = j->ans;
	j->ans = NULL;
	pjob_free(j);
	ok = on ? usable_tlsa(a)
		: a->sec != DNS_SEC_BOGUS && a->sec != DNS_SEC_INDETERMINATE && !usable_tlsa(a) &&
		      (a->n == 0 || a->sec == DNS_SEC_SECURE);
	dns_answer_free(a);
	if (ok) {
		gate_clear(r);
		say(r, MX_EV_LOG, MX_SEV_INFO, "%s at %s: inbound DANE is %s",
		    on ? "usable TLSA is DNSSEC-secure" : "no usable TLSA any more", name,
		    on ? "on" : "off");
		return R_DONE;
	}
	snprintf(
	    what, sizeof(what), "Microsoft's TLSA to %s after %s", on ? "appear" : "go", cmdlet);
	return gate_wait(r, text, 30, what, err,
	    on ? "no secure, usable TLSA at %s within gate_timeout; run %s -DomainName %s, then "
		 "`mxcutover resume %s`"
	       : "the TLSA at %s is still published after gate_timeout; run %s -DomainName %s, "
		 "then `mxcutover resume %s` (the rollback continues)",
	    name, cmdlet, r->row.domain, r->row.domain);
}

/* ---- rollback executors ---- */

/* The zone when the rollback started, read once through the provider and journaled. */
static enum res rb_capture_start(struct run *r, struct mx_err *err)
{
	json_t *doc;
	char *text;
	enum res res;

	mx_zone_clear(&r->rb_start);
	if (pj_read_zone(
		r, r->snap_mx.name, r->snap_sts.name, &r->rb_start.mx, &r->rb_start.sts, &res, err))
		return res;
	if (!r->rb_start.mx.name[0])
		snprintf(r->rb_start.mx.name, sizeof(r->rb_start.mx.name), "%s", r->snap_mx.name);
	r->rb_start.mx.type = DNS_T_MX;
	if (!r->rb_start.sts.name[0])
		snprintf(
		    r->rb_start.sts.name, sizeof(r->rb_start.sts.name), "%s", r->snap_sts.name);
	r->rb_start.sts.type = DNS_T_TXT;
	doc = json_pack("{s:o,s:o}", "mx", mx_rrset_json(&r->rb_start.mx), "sts",
	    mx_rrset_json(&r->rb_start.sts));
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text)
		return mx_err_set(err, MX_ENOMEM, "out of memory"), R_FAIL;
	free(r->v.rb_start);
	r->v.rb_start = text;
	if (save_vars(r, err))
		return jnl_failed(r, err);
	r->have_start = true;
	return R_DONE;
}

static int load_rb_start(struct run *r, struct mx_err *err)
{
	json_t *doc;
	int rc;

	if (!r->v.rb_start)
		return MX_OK;
	doc = json_loads(r->v.rb_start, 0, NULL);
	if (!doc)
		return mx_err_set(err, MX_EIO, "the journal's rollback start is damaged");
	rc = mx_rrset_from_json(json_object_get(doc, "mx"), &r->rb_start.mx, err);
	if (!rc)
		rc = mx_rrset_from_json(json_object_get(doc, "sts"), &r->rb_start.sts, err);
	json_decref(doc);
	r->have_start = rc == MX_OK;
	return rc;
}

/* ---- the generic executor: the program's rows ---- */

static enum res write_step(struct run *r, struct mx_err *err)
{
	struct mx_prog_in in;
	struct mx_rb_in rb;
	struct mx_rrset want;
	struct mx_zone before;
	enum res res = R_FAIL;
	int rc;

	prog_in(r, &in);
	rb_in(r, &rb);
	memset(&before, 0, sizeof(before));
	if (r->v.rollback) {
		rc = mx_prog_rb_records(&in, &rb, r->step, &want, err);
		if (rc > 0 && mx_prog_rb_zone_before(&in, &rb, r->step, &before, err))
			rc = -MX_ENOMEM;
	} else {
		rc = mx_prog_records(&in, r->step, &want, err);
		if (rc > 0 && mx_prog_zone_after(&in, r->step - 1, &before, err))
			rc = -MX_ENOMEM;
	}
	if (rc < 0)
		goto out;
	if (rc == 0) {
		res = R_SKIP;
		goto out;
	}
	res = write_rrset(r, want.type == DNS_T_MX ? &before.mx : &before.sts, &want, err);
out:
	prov_rrset_clear(&want);
	mx_zone_clear(&before);
	return res;
}

static enum res wait_step(struct run *r, struct mx_err *err)
{
	struct mx_prog_in in;
	struct mx_rb_in rb;
	const char *from_key;
	long long finished = 0;
	char what[160];
	int secs, from;

	prog_in(r, &in);
	rb_in(r, &rb);
	if (r->v.rollback) {
		secs = mx_prog_rb_wait(&in, &rb);
		from = RB_READD_LEGACY;
		snprintf(
		    what, sizeof(what), "the MX TTL (%d s) to expire before the target goes", secs);
	} else {
		secs = mx_prog_wait(&in, r->step, &from);
		snprintf(what, sizeof(what), "%s MX TTL (%d s) to expire",
		    r->step == STEP_WAIT_OLD_TTL ? "old" : "low", secs);
	}
	if (from < 0)
		return R_SKIP;
	from_key = mx_prog_step(r->v.rollback, from)->key;
	if (jnl_step_get(r->e->cfg.jnl, r->row.id, from_key, NULL, &finished, err))
		return jnl_failed(r, err);
	if (!finished) {
		mx_err_set(err, MX_EIO,
		    "the journal holds no end time for %s, so the wait cannot be computed; "
		    "roll back or report this",
		    from_key);
		return R_FAIL;
	}
	if ((long long)now(r) >= finished + secs)
		return R_DONE;
	r->wake = (time_t)(finished + secs);
	snprintf(r->waiting_for, sizeof(r->waiting_for), "%s", what);
	return R_WAIT;
}

static enum res exec_step(struct run *r, struct mx_err *err)
{
	const struct mx_step_def *d = cur_def(r);
	struct mx_prog_in in;
	struct mx_rb_in rb;
	char text[1024];
	enum res res;

	prog_in(r, &in);
	rb_in(r, &rb);
	if (r->v.rollback) {
		if (!r->have_start && (res = rb_capture_start(r, err)) != R_DONE)
			return res;
		if (!mx_prog_rb_applies(&in, &rb, r->step))
			return R_SKIP;
	} else if (!mx_prog_applies(&in, r->step)) {
		return R_SKIP;
	}
	mx_prog_gate_text(&in, r->v.rollback, r->step, text, sizeof(text));
	if (!r->v.rollback) {
		switch (r->step) {
		case STEP_EXO_PROVISION:
			return do_exo_provision(r, err);
		case STEP_EXO_MX_VALID:
			return do_exo_mx_valid(r, text, err);
		case STEP_PREFLIGHT:
			return do_preflight(r, err);
		case STEP_SNAPSHOT:
			return do_snapshot(r, err);
		case STEP_VERIFY_TARGET:
			return do_verify_target(r, text, err);
		case STEP_DANE_ENABLE:
			return dane_gate(r, text, true, err);
		default:
			break;
		}
	} else if (r->step == RB_DANE) {
		return dane_gate(r, text, false, err);
	}
	if (d->flags & MX_STEPF_WAIT)
		return wait_step(r, err);
	if ((d->flags & MX_STEPF_GATE) && (d->flags & MX_STEPF_MTASTS)) {
		res = mtasts_gate(r, text, err);
		if (res != R_DONE)
			return res;
	}
	if (d->flags & MX_STEPF_WRITES)
		return write_step(r, err);
	return R_DONE;
}

/* ---- runs ---- */

/* The run lets go of everything it has in flight: name-server probes, the MTA-STS fetch,
 * verify_target's lookups and probe, a provider call. */
static void io_drop(struct run *r)
{
	probe_free(r);
	fetch_free(r);
	tgt_drop(r);
	pj_drop(r);
}

static void run_free(struct run *r)
{
	if (!r)
		return;
	if (r->chk) {
		chk_finish(r->chk, NULL);
		chk_domain_clear(&r->chk_d);
	}
	io_drop(r);
	jnl_run_clear(&r->row);
	jnl_vars_clear(&r->v);
	prov_close(r->prov);
	prov_rrset_clear(&r->snap_mx);
	prov_rrset_clear(&r->snap_sts);
	prov_rrset_clear(&r->read_mx);
	prov_rrset_clear(&r->read_sts);
	mx_zone_clear(&r->rb_start);
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
	char name[254], *mx, *sts;
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
	if (!rc && !r->snap_sts.name[0])
		snprintf(r->snap_sts.name, sizeof(r->snap_sts.name), "%s", name);
	r->snap_sts.type = DNS_T_TXT;
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
	/* Debugging aids read once here, so that every front end honours them. */
	if (getenv("MXCUTOVER_ENGINE_BUDGET_MS"))
		e->budget_ms = atoi(getenv("MXCUTOVER_ENGINE_BUDGET_MS"));
	if (getenv("MXCUTOVER_ENGINE_BUDGET_LOG"))
		snprintf(e->budget_log, sizeof(e->budget_log), "%s",
		    getenv("MXCUTOVER_ENGINE_BUDGET_LOG"));
	if (e->cfg.exo)
		exo_set_no_wait(e->cfg.exo, true);
	/* The STARTTLS prober every run's verify_target shares, made here and not inside a
	 * unit of work: the first TLS context of a process loads OpenSSL's configuration and
	 * code. Made again at the first probe if it cannot be made now. */
	if (dane_ctx_new(&e->dane, NULL, NULL))
		e->dane = NULL;
	*out = e;
	return MX_OK;
}

void mx_engine_free(struct mx_engine *e)
{
	if (!e)
		return;
	/* The domains stay locked until the writes under way have ended: no other process
	 * starts on a zone this one may still be changing. */
	char **locked = calloc((size_t)e->nruns + 1, sizeof(*locked));
	int nlocked = 0;

	for (int i = 0; i < e->nruns; i++) {
		if (!e->runs[i]->stopped) {
			if (locked && (locked[nlocked] = strdup(e->runs[i]->row.domain)))
				nlocked++;
			else
				jnl_unlock(e->cfg.jnl, e->runs[i]->row.domain);
		}
		run_free(e->runs[i]);
	}
	free(e->runs);
	/* Writes under way end within their provider's timeouts, reads are stopped; their runs
	 * are gone. */
	fibers_drain(e);
	for (int i = 0; i < nlocked; i++) {
		jnl_unlock(e->cfg.jnl, locked[i]);
		free(locked[i]);
	}
	free(locked);
	dns_ctx_free(e->fresh);
	mx_workers_free(e->pool);
	/* The probes of runs that went away end with the prober. */
	dane_ctx_free(e->dane);
	while (e->orphans) {
		struct tgt_check *t = e->orphans;

		e->orphans = t->next;
		tgt_free(t);
	}
	free(e);
}

static bool run_over(const char *state)
{
	int s = mx_run_state_parse(state);

	return s >= 0 && mx_run_state_over((enum mx_run_state)s);
}

/* An unfinished earlier run blocks a new one, unless it never wrote (then it is superseded
 * and kept in the journal as abandoned). Called with the domain's lock held. */
static int supersede(struct mx_engine *e, const char *domain, struct mx_err *err)
{
	struct jnl_run prev;
	long long wrote = 0;
	int rc = jnl_run_latest(e->cfg.jnl, domain, &prev, err);

	if (rc || !prev.id || run_over(prev.state))
		goto out;
	rc = jnl_intent_written(e->cfg.jnl, prev.id, &wrote, err);
	if (rc)
		goto out;
	if (wrote) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s has an unfinished run that changed the zone (state %s, step %s): continue "
		    "it with `mxcutover resume %s` (add --provider NAME to switch providers) or "
		    "undo it with `mxcutover rollback %s`",
		    domain, prev.state, prev.step, domain, domain);
		goto out;
	}
	rc = jnl_run_set_state(e->cfg.jnl, prev.id, mx_run_state_name(MX_RUN_ABANDONED),
	    "superseded by a new run before it changed the zone", (long long)mx_now(e->cfg.clock),
	    err);
	if (!rc)
		rc = jnl_audit(e->cfg.jnl, prev.id, domain, "abandoned", "superseded by a new run",
		    (long long)mx_now(e->cfg.clock), err);
	if (!rc)
		mx_emit(e->cfg.sink, MX_EV_LOG, MX_SEV_INFO, domain, -1, 0,
		    "the earlier run (stopped at %s) changed nothing; it is kept as abandoned and "
		    "this run replaces it",
		    prev.step);
out:
	jnl_run_clear(&prev);
	return rc;
}

int mx_engine_start(struct mx_engine *e, const char *domain, const char *target,
    const char *provider, const char *plan_json, struct mx_err *err)
{
	const struct mx_conf *c = e->cfg.conf;
	struct run *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	r->e = e;
	if ((rc = pool_busy(e, domain, err)))
		goto fail;
	for (int i = 0; i < e->nruns; i++)
		if (!e->runs[i]->stopped && !strcmp(e->runs[i]->row.domain, domain)) {
			rc = mx_err_set(err, MX_EINVAL,
			    "%s is already being moved by this run; wait for it or stop it first",
			    domain);
			goto fail;
		}
	/* With [exchange] the target may be left to Exchange (exo_provision learns it). */
	if (!target)
		target = "";
	/* A reviewed plan is checked in full at the snapshot; what it is can be told now. */
	if (plan_json) {
		json_t *p = json_loads(plan_json, 0, NULL);
		const char *pd = json_string_value(json_object_get(p, "domain"));
		const char *pp = json_string_value(json_object_get(p, "program"));

		if (!json_is_object(p) || !pd || !json_is_object(json_object_get(p, "snapshot")))
			rc = mx_err_set(err, MX_EINVAL,
			    "the --plan file is not a plan document; write one with `mxcutover "
			    "plan "
			    "%s --format json -o FILE`",
			    domain);
		else if (strcasecmp(pd, domain))
			rc = mx_err_set(err, MX_EINVAL,
			    "the --plan file is the plan of %s, not of %s; give the plan of %s", pd,
			    domain, domain);
		else if (!pp || strcmp(pp, mx_plan_program()))
			rc = mx_err_set(err, MX_ECONFLICT,
			    "the reviewed plan was made by another version of mxcutover (%s, this "
			    "is "
			    "%s); make and review a new plan",
			    pp ? pp : "unknown", mx_plan_program());
		else
			rc = MX_OK;
		json_decref(p);
		if (rc)
			goto fail;
	}
	if (!e->cfg.exo && !target[0]) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s has no target host; pass --target-mx (the DnssecMxValue), or configure "
		    "[exchange] so that the run asks Exchange Online",
		    domain);
		goto fail;
	}
	/* The lock first: a live owner is exit 4 whatever its run's state. */
	rc = jnl_lock(e->cfg.jnl, domain, 0, (long long)mx_now(e->cfg.clock), err);
	if (rc)
		goto fail;
	rc = supersede(e, domain, err);
	if (rc)
		goto unlock;
	r->row.domain = strdup(domain);
	r->row.target = strdup(target);
	r->row.provider = strdup(provider);
	r->v.plan = plan_json ? strdup(plan_json) : NULL;
	if (!r->row.domain || !r->row.target || !r->row.provider || (plan_json && !r->v.plan)) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto unlock;
	}
	rc = run_open_provider(r, err);
	if (rc)
		goto unlock;
	r->v.low_ttl = c->low_ttl;
	r->v.final_ttl = c->final_ttl;
	r->v.final_preference = c->final_preference;
	r->v.gate_timeout = c->gate_timeout;
	r->v.provider_min_ttl = r->prov->ops->min_ttl;
	r->v.exchange = e->cfg.exo != NULL;
	/* A run that does not drive Exchange starts at preflight. */
	r->step = r->v.exchange ? STEP_EXO_PROVISION : STEP_PREFLIGHT;
	if (r->prov->ops->min_ttl > c->low_ttl)
		r->v.low_ttl = r->prov->ops->min_ttl;
	rc = jnl_begin(e->cfg.jnl, err);
	if (rc)
		goto unlock;
	rc = jnl_run_create(e->cfg.jnl, domain, target, provider, mx_prog_step(false, r->step)->key,
	    "{}", (long long)mx_now(e->cfg.clock), &r->row.id, err);
	if (!rc)
		rc = save_vars(r, err);
	if (!rc)
		rc = jnl_audit(e->cfg.jnl, r->row.id, domain, "start", target,
		    (long long)mx_now(e->cfg.clock), err);
	if (rc)
		jnl_abort(e->cfg.jnl); /* none of the run lands */
	else
		rc = jnl_commit(e->cfg.jnl, err);
	if (!rc)
		rc = run_attach(e, r, err);
	if (rc)
		goto unlock;
	r->st = MX_RUN_RUNNING;
	r->wake = mx_now(e->cfg.clock);
	crash_point("start", domain);
	return MX_OK;
unlock:
	jnl_unlock(e->cfg.jnl, domain);
fail:
	run_free(r);
	return rc;
}

static int load_run(struct mx_engine *e, const char *domain, bool rollback, const char *provider,
    struct mx_err *err)
{
	struct run *r = calloc(1, sizeof(*r));
	struct jnl_intent open;
	char *dane_state = NULL;
	int rc, idx, st;

	if (!r)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	memset(&open, 0, sizeof(open));
	r->e = e;
	if (pool_busy(e, domain, err)) {
		free(r);
		return err->rc;
	}
	rc = jnl_run_latest(e->cfg.jnl, domain, &r->row, err);
	if (rc)
		goto fail;
	if (!r->row.id) {
		rc = mx_err_set(err, MX_EINVAL,
		    "%s has no run in the state database; start one with `mxcutover run`", domain);
		goto fail;
	}
	st = mx_run_state_parse(r->row.state);
	if (!rollback && run_over(r->row.state)) {
		rc = mx_err_set(err, MX_EINVAL, "the last run of %s is %s; nothing to resume",
		    domain, r->row.state);
		goto fail;
	}
	if (rollback && (st == MX_RUN_ROLLED_BACK || st == MX_RUN_ABANDONED)) {
		rc = mx_err_set(err, MX_EINVAL, "the last run of %s is %s; nothing to roll back",
		    domain,
		    st == MX_RUN_ROLLED_BACK ? "already rolled back"
					     : "abandoned (it changed nothing)");
		goto fail;
	}
	rc = jnl_lock(e->cfg.jnl, domain, r->row.id, (long long)mx_now(e->cfg.clock), err);
	if (rc)
		goto fail;
	rc = jnl_vars_get(e->cfg.jnl, r->row.id, &r->v, err);
	if (!rc && provider && strcmp(provider, r->row.provider)) {
		rc = jnl_run_set_provider(e->cfg.jnl, r->row.id, provider, err);
		if (!rc) {
			jnl_audit(e->cfg.jnl, r->row.id, domain, "provider", provider,
			    (long long)mx_now(e->cfg.clock), NULL);
			free(r->row.provider);
			r->row.provider = strdup(provider);
		}
	}
	if (!rc)
		rc = run_open_provider(r, err);
	if (!rc)
		rc = load_snapshot(r, err);
	if (!rc)
		rc = load_rb_start(r, err);
	if (rc)
		goto unlock;
	/* A gate's clock starts again when a person resumes. */
	r->v.gate_since = 0;
	if (rollback && !r->v.rollback) {
		/* The rollback starts here: DANE counts as touched once its step was entered. */
		rc = jnl_step_get(e->cfg.jnl, r->row.id, "dane_enable", &dane_state, NULL, err);
		if (rc)
			goto unlock;
		r->v.dane_touched =
		    dane_state && (mx_step_state_parse(dane_state) == MX_STEP_ACTIVE ||
				      mx_step_state_parse(dane_state) == MX_STEP_DONE);
		r->v.rollback = 1;
		/* A run recorded before the rollback's _mta-sts id existed gets one now. */
		if (r->v.policy_staged && !r->v.id_rollback) {
			char id[MTASTS_ID_MAX + 1];

			mtasts_new_id(mx_now(e->cfg.clock), id);
			r->v.id_rollback = strdup(id);
			if (!r->v.id_rollback) {
				rc = mx_err_set(err, MX_ENOMEM, "out of memory");
				goto unlock;
			}
		}
		r->v.verified = 0;
		r->v.confirmed = 0;
		r->v.prop_since = 0;
		free(r->v.rb_start);
		r->v.rb_start = NULL;
		r->have_start = false;
		r->step = 0;
	} else {
		idx = mx_prog_find(r->v.rollback, r->row.step);
		r->step = idx < 0 ? mx_prog_count(r->v.rollback) : idx;
	}
	if (r->v.rollback && !r->snap_mx.n)
		r->step = RB_COUNT; /* nothing was written before the snapshot existed */
	/* An intent without completion: the step re-reads the zone and either sees its change
	 * (reconciled) or makes it; record which one it was. */
	rc = jnl_intent_open(e->cfg.jnl, r->row.id, &open, err);
	if (!rc && open.id) {
		rc = jnl_intent_done(
		    e->cfg.jnl, open.id, "reconciled", (long long)mx_now(e->cfg.clock), err);
		if (!rc)
			rc = jnl_audit(e->cfg.jnl, r->row.id, domain, "reconcile", open.after,
			    (long long)mx_now(e->cfg.clock), err);
	}
	if (!rc)
		rc = jnl_audit(e->cfg.jnl, r->row.id, domain, rollback ? "rollback" : "resume",
		    NULL, (long long)mx_now(e->cfg.clock), err);
	if (!rc)
		rc = jnl_begin(e->cfg.jnl, err);
	if (!rc) {
		rc = save_vars(r, err);
		if (!rc)
			rc = save_pos(
			    r, r->v.rollback ? MX_RUN_ROLLING_BACK : MX_RUN_RUNNING, NULL, err);
		if (!rc)
			rc = jnl_commit(e->cfg.jnl, err);
		else
			jnl_abort(e->cfg.jnl);
	}
	if (!rc)
		rc = run_attach(e, r, err);
	if (rc)
		goto unlock;
	r->wake = mx_now(e->cfg.clock);
	free(dane_state);
	jnl_intent_clear(&open);
	return MX_OK;
unlock:
	jnl_unlock(e->cfg.jnl, domain);
fail:
	free(dane_state);
	jnl_intent_clear(&open);
	run_free(r);
	return rc;
}

int mx_engine_resume(struct mx_engine *e, const char *domain, struct mx_err *err)
{
	return load_run(e, domain, false, NULL, err);
}

int mx_engine_resume_provider(
    struct mx_engine *e, const char *domain, const char *provider, struct mx_err *err)
{
	if (provider && !mx_conf_provider(e->cfg.conf, provider))
		return mx_err_set(err, MX_EINVAL,
		    "--provider %s: the config has no [provider.%s] section", provider, provider);
	return load_run(e, domain, false, provider, err);
}

int mx_engine_rollback(struct mx_engine *e, const char *domain, struct mx_err *err)
{
	return load_run(e, domain, true, NULL, err);
}

static void finish(struct run *r, enum mx_run_state st)
{
	struct mx_err err;

	mx_err_clear(&err);
	r->stopped = true;
	io_drop(r);
	r->exit = 0;
	r->waiting_for[0] = '\0';
	if (jnl_begin(r->e->cfg.jnl, &err) || save_pos(r, st, NULL, &err) ||
	    jnl_audit(r->e->cfg.jnl, r->row.id, r->row.domain, mx_run_state_name(st), NULL,
		(long long)now(r), &err) ||
	    jnl_commit(r->e->cfg.jnl, &err)) {
		jnl_abort(r->e->cfg.jnl);
		jnl_failed(r, &err);
		r->exit = MX_EXIT_RUNTIME;
		jnl_unlock(r->e->cfg.jnl, r->row.domain);
		say(r, MX_EV_DONE, MX_SEV_ERROR, "%s", err.msg);
		return;
	}
	jnl_unlock(r->e->cfg.jnl, r->row.domain);
	say(r, MX_EV_DONE, MX_SEV_INFO, "%s",
	    st == MX_RUN_DONE ? "cutover complete" : "rolled back to the snapshot");
}

/* The run stops here: st (gate or failed) with err's message, the lock released. A refused
 * preflight leaves no run behind (nothing was written). */
static void stop_with(struct run *r, enum mx_run_state st, int exit_status, struct mx_err *err)
{
	struct mx_err jerr;
	bool journal_broken = r->jnl_broken;

	mx_err_clear(&jerr);
	r->stopped = true;
	io_drop(r);
	r->asking = false;
	r->exit = exit_status;
	snprintf(r->error, sizeof(r->error), "%s", err->msg);
	/* Nobody drives a stopped run: it has no next deadline. */
	r->wake = 0;
	r->waiting_for[0] = '\0';
	/* A refused preflight leaves no run behind, unless Exchange was already called. */
	if (!r->v.rollback && r->step == STEP_PREFLIGHT && !r->v.exo_provision && !journal_broken) {
		if (jnl_audit(r->e->cfg.jnl, r->row.id, r->row.domain, "refused", err->msg,
			(long long)now(r), &jerr) ||
		    jnl_run_delete(r->e->cfg.jnl, r->row.id, &jerr))
			r->exit = MX_EXIT_RUNTIME;
	} else if (!journal_broken) {
		/* Best effort: the position is already journaled; the reason is extra. */
		if (save_vars(r, &jerr) || save_pos(r, st, err->msg, &jerr) ||
		    jnl_audit(r->e->cfg.jnl, r->row.id, r->row.domain, mx_run_state_name(st),
			err->msg, (long long)now(r), &jerr))
			r->exit = MX_EXIT_RUNTIME;
	}
	jnl_unlock(r->e->cfg.jnl, r->row.domain);
	say(r, MX_EV_DONE, MX_SEV_ERROR, "%s", err->msg);
}

/* Records the step's completion and the run's next position in one transaction; only then
 * does the run move on in memory. */
static int advance(struct run *r, enum res res, struct mx_err *err)
{
	const char *key = step_key(r);
	int next = r->step + 1;
	int rc;

	rc = jnl_begin(r->e->cfg.jnl, err);
	if (rc)
		return rc;
	r->v.verified = 0;
	r->v.confirmed = 0;
	r->v.prop_since = 0;
	r->v.gate_since = 0;
	/* The Exchange steps of a run that does not drive Exchange leave no row: they are not
	 * part of its history at all. */
	if (res == R_SKIP && !r->v.exchange && (cur_def(r)->flags & MX_STEPF_EXCHANGE))
		rc = MX_OK;
	else
		rc = jnl_step_set(r->e->cfg.jnl, r->row.id, key,
		    mx_step_state_name(res == R_DONE ? MX_STEP_DONE : MX_STEP_SKIPPED), NULL,
		    (long long)now(r), err);
	if (!rc)
		rc = save_vars(r, err);
	if (!rc) {
		int cur = r->step;

		r->step = next; /* for the key save_pos records */
		rc = jnl_run_update(r->e->cfg.jnl, r->row.id,
		    mx_run_state_name(r->v.rollback ? MX_RUN_ROLLING_BACK : MX_RUN_RUNNING),
		    step_key(r), 0, NULL, NULL, (long long)now(r), err);
		r->step = cur;
	}
	/* All of it or none of it: a step is never recorded done without the run's new
	 * position. */
	if (!rc)
		rc = jnl_commit(r->e->cfg.jnl, err);
	else
		jnl_abort(r->e->cfg.jnl);
	if (rc)
		return rc;
	r->step = next;
	r->st = r->v.rollback ? MX_RUN_ROLLING_BACK : MX_RUN_RUNNING;
	return MX_OK;
}

static void run_unit(struct run *r)
{
	struct mx_err err;
	const char *key;
	enum res res;
	char *st = NULL;

	mx_err_clear(&err);
	if (r->step >= mx_prog_count(r->v.rollback)) {
		finish(r, r->v.rollback ? MX_RUN_ROLLED_BACK : MX_RUN_DONE);
		return;
	}
	/* The Exchange steps of a run that does not drive Exchange are not part of it. */
	if (!r->v.rollback && !r->v.exchange && (cur_def(r)->flags & MX_STEPF_EXCHANGE)) {
		if (advance(r, R_SKIP, &err))
			stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, &err), &err));
		r->wake = now(r);
		return;
	}
	key = step_key(r);
	if (jnl_step_get(r->e->cfg.jnl, r->row.id, key, &st, NULL, &err)) {
		stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, &err), &err));
		return;
	}
	if (!st || mx_step_state_parse(st) != MX_STEP_ACTIVE) {
		if (jnl_step_set(r->e->cfg.jnl, r->row.id, key, mx_step_state_name(MX_STEP_ACTIVE),
			NULL, (long long)now(r), &err)) {
			free(st);
			stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, &err), &err));
			return;
		}
		say(r, MX_EV_STEP, MX_SEV_INFO, "%s", step_title(r));
	}
	free(st);
	crash_point(key, "begin");
	res = exec_step(r, &err);
	switch (res) {
	case R_DONE:
	case R_SKIP:
		r->transient = 0;
		r->waiting_for[0] = '\0';
		r->last_wait[0] = '\0';
		r->question[0] = '\0';
		gate_clear(r);
		if (advance(r, res, &err)) {
			stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, &err), &err));
			return;
		}
		crash_point(key, "done");
		r->wake = now(r);
		break;
	case R_WAIT: {
		enum mx_run_state ws = r->gate_shown ? MX_RUN_GATE : MX_RUN_WAITING;

		/* Polls every second of a thousand runs must not each commit (and fsync) the
		 * journal: only a wait that changed is recorded. */
		if (r->saved_st != (int)ws || strcmp(r->saved_wait, r->waiting_for) ||
		    r->saved_gate_since != r->v.gate_since ||
		    r->saved_prop_since != r->v.prop_since) {
			if (save_wait(r, ws, &err)) {
				stop_with(
				    r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, &err), &err));
				return;
			}
			r->saved_st = (int)ws;
			snprintf(r->saved_wait, sizeof(r->saved_wait), "%s", r->waiting_for);
			r->saved_gate_since = r->v.gate_since;
			r->saved_prop_since = r->v.prop_since;
		}
		if (!r->gate_shown && strcmp(r->last_wait, r->waiting_for)) {
			snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
			say(r, MX_EV_WAIT, MX_SEV_INFO, "waiting for %s", r->waiting_for);
		}
		break;
	}
	case R_ASK:
		r->asking = true;
		r->wake = 0;
		snprintf(r->waiting_for, sizeof(r->waiting_for), "a person's answer");
		if (save_wait(r, MX_RUN_GATE, &err)) {
			stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, (jnl_failed(r, &err), &err));
			return;
		}
		say(r, MX_EV_GATE, MX_SEV_WARN, "%s", r->question);
		break;
	case R_GATE:
		stop_with(r, MX_RUN_GATE, MX_EXIT_BLOCKED, &err);
		break;
	case R_FAIL: {
		/* Who is waited for: the step's Exchange Online calls, or its DNS provider. */
		const char *who =
		    (cur_def(r)->flags & MX_STEPF_EXCHANGE) ? "Exchange Online" : "the provider";

		if (err.rc == MX_ERATELIMIT && err.retry_after > 0 && !gate_expired(r, NULL)) {
			snprintf(r->waiting_for, sizeof(r->waiting_for), "%s's rate limit (%d s)",
			    who, err.retry_after);
			retry_later(r, err.retry_after, err.msg, &err);
			break;
		}
		/* Bounded by the tries and by gate_timeout, like the rate limit's waits. */
		if (transient_error(&err) && r->transient < TRANSIENT_TRIES &&
		    !gate_expired(r, NULL)) {
			int wait = transient_wait(r, ++r->transient);
			char said[sizeof(err.msg) + 40], what[40] = "answer again";

			if (err.http_status)
				snprintf(
				    what, sizeof(what), "recover from HTTP %d", err.http_status);
			else if (r->prov && r->prov->settle.pending &&
				 !(cur_def(r)->flags & MX_STEPF_EXCHANGE))
				snprintf(what, sizeof(what), "list the change it accepted");
			snprintf(r->waiting_for, sizeof(r->waiting_for),
			    "%s to %s (try %d of %d in %d s)", who, what, r->transient + 1,
			    TRANSIENT_TRIES + 1, wait);
			snprintf(r->last_wait, sizeof(r->last_wait), "%s", r->waiting_for);
			snprintf(
			    said, sizeof(said), "%s; the step runs again in %d s", err.msg, wait);
			retry_later(r, wait, said, &err);
			break;
		}
		if (transient_error(&err) && r->transient)
			mx_err_prefix(&err, "after %d tries", r->transient + 1);
		stop_with(r, MX_RUN_FAILED,
		    err.rc == MX_EGATE ? MX_EXIT_BLOCKED
		    : r->exit	       ? r->exit
				       : (int)mx_rc_exit(err.rc ? err.rc : MX_EIO),
		    &err);
		break;
	}
	}
}

/* One engine call measured: its wall time less what the thread spent waiting for a CPU
 * (mx_queued_ms), so a busy machine is not taken for a blocking call. A call over budget is
 * counted, and with MXCUTOVER_ENGINE_BUDGET_LOG appended to that file as one line naming
 * the domain and step (the test suite fails on any such line: tests/engine_budget.sh). */
struct unit_clock {
	double wall, queued, cpu, jnl; /* at the start; queued < 0 when not measured */
	long majflt;		       /* pages the thread had read from disk */
};

static long thread_majflt(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_majflt;
}

static void unit_begin(struct mx_engine *e, struct unit_clock *c)
{
	c->wall = mx_mono_ms();
	c->queued = e->budget_log[0] ? mx_queued_ms() : -1;
	c->cpu = e->budget_log[0] ? mx_thread_cpu_ms() : 0;
	c->majflt = e->budget_log[0] ? thread_majflt() : 0;
	c->jnl = jnl_busy_ms(e->cfg.jnl);
}

/* One engine call measured: its wall time less the time its thread waited for a CPU
 * (mx_queued_ms), so that a busy machine is not taken for a blocking call, and less the time
 * the journal's statements took (jnl_busy_ms: the durable record written before and after
 * each DNS write, the one wait the engine makes on purpose; reported apart). A call over
 * budget is counted, and with MXCUTOVER_ENGINE_BUDGET_LOG appended to that file as one line
 * naming the domain and step (the test suite fails on any such line: tests/engine_budget.sh). */
static void unit_end(
    struct mx_engine *e, const struct unit_clock *c, const char *domain, const char *step, bool ran)
{
	double wall = mx_mono_ms() - c->wall, q1 = c->queued >= 0 ? mx_queued_ms() : -1;
	double queued = q1 >= c->queued && c->queued >= 0 ? q1 - c->queued : 0;
	double jnl = jnl_busy_ms(e->cfg.jnl) - c->jnl, ms = wall - queued - jnl;
	int budget = e->budget_ms > 0 ? e->budget_ms : MX_ENGINE_BUDGET_MS;

	e->timing.units += ran;
	if (jnl > e->timing.max_jnl_ms)
		e->timing.max_jnl_ms = jnl;
	if (ms > e->timing.max_ms) {
		e->timing.max_ms = ms;
		snprintf(e->timing.max_step, sizeof(e->timing.max_step), "%s", step);
	}
	if (ms <= budget)
		return;
	e->timing.over++;
	if (e->budget_log[0])
		mx_budget_log(e->budget_log,
		    "%s %s took %.1f ms of its own (%.1f ms on the CPU; %.1f ms wall, %.1f ms "
		    "waiting for a CPU, %.1f ms in the journal; %ld page(s) read from disk), over "
		    "the %d ms budget",
		    domain[0] ? domain : "-", step, ms, mx_thread_cpu_ms() - c->cpu, wall, queued,
		    jnl, thread_majflt() - c->majflt, budget);
}

void mx_engine_timing(const struct mx_engine *e, struct mx_engine_timing *out)
{
	*out = e->timing;
}

int mx_engine_calls_in_flight(struct mx_engine *e)
{
	int n = 0;

	for (int i = 0; i < e->nruns; i++)
		n += e->runs[i]->pj && !pj_done(e->runs[i]) && pj_writes(e->runs[i]->pj->op);
	return n;
}

/* The STARTTLS probes' connections advanced per engine call at most: each may be a step of
 * a TLS handshake (a certificate chain to decode and verify, a few ms); with hundreds of
 * verify_target probes at once, handling every ready one in one call took over 100 ms. */
#define DANE_EVENTS_PER_CALL 4
/* The provider calls (fibers) resumed per engine call at most, for the same reason. */
#define FIBERS_PER_CALL 2

/* One engine call: I/O completions, then the step of the run due first. The run whose step
 * ran is named in domain/step for the budget. */
static int engine_step(struct mx_engine *e, time_t *wake, char *domain, char *step, bool *ran)
{
	struct run *next = NULL;
	time_t t = mx_now(e->cfg.clock);
	bool asking = false, io = false;

	*wake = 0;
	/* The probes move on the prober's descriptor; their callbacks run here. */
	if (e->dane && dane_pending(e->dane))
		dane_process_max(e->dane, DANE_EVENTS_PER_CALL, NULL);
	mx_workers_drain(e->pool); /* which calls ended is read below */
	if (e->fresh && dns_pending(e->fresh))
		dns_process(e->fresh, NULL); /* wakes the DANE gates' lookups that are answered */
	/* Provider calls whose requests have been answered go on first, a few per engine call;
	 * the runs' steps come in the calls after. */
	if (fibers_advance(e, FIBERS_PER_CALL, domain)) {
		snprintf(step, 64, "provider_call");
		*ran = true;
		return MX_OK;
	}
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
		if (r->asking) {
			asking = true;
			continue;
		}
		if ((r->prop && r->prop->pending) || (r->fetch && !r->fetch->done) ||
		    (r->tgt && !r->tgt->done) || (r->pj && !pj_done(r))) {
			/* Its name servers or web server are still answering: the loop's poll
			 * wakes us. */
			io = true;
			continue;
		}
		if (r->prop || r->fetch || r->tgt || r->pj)
			r->wake = t; /* every answer is in */
		if (r->chk && chk_advance(r->chk))
			r->wake = t;
		if (!next || r->wake < next->wake)
			next = r;
	}
	if (!next) {
		if (io) {
			*wake = t + 1;
			return MX_EAGAIN;
		}
		if (asking) {
			/* Only people can move these runs: look again in a second. */
			*wake = t + 1;
			return MX_EAGAIN;
		}
		return MX_OK;
	}
	if (next->wake > t) {
		/* With work in flight, come back within a second for its deadlines. */
		*wake = io && next->wake > t + 1 ? t + 1 : next->wake;
		return MX_EAGAIN;
	}
	snprintf(domain, 254, "%s", next->row.domain);
	snprintf(step, 64, "%s", step_key(next));
	*ran = true;
	run_unit(next);
	return MX_OK;
}

int mx_engine_step(struct mx_engine *e, time_t *wake, struct mx_err *err)
{
	char domain[254] = "", step[64] = "(I/O)";
	struct unit_clock c;
	bool ran = false;
	int rc;

	(void)err;
	unit_begin(e, &c);
	rc = engine_step(e, wake, domain, step, &ran);
	unit_end(e, &c, domain, step, ran);
	return rc;
}

int mx_engine_answer(struct mx_engine *e, const char *domain, bool yes, struct mx_err *err)
{
	for (int i = 0; i < e->nruns; i++) {
		struct run *r = e->runs[i];

		if (r->stopped || !r->asking || strcmp(r->row.domain, domain))
			continue;
		r->asking = false;
		r->question[0] = '\0';
		if (!yes) {
			mx_err_set(err, MX_EGATE,
			    "the inbound test was not confirmed; the new MX stays at preference "
			    "20. Run `mxcutover resume %s` when it passes, or roll back",
			    r->row.domain);
			stop_with(r, MX_RUN_GATE, MX_EXIT_BLOCKED, err);
			mx_err_clear(err);
			return MX_OK;
		}
		r->v.confirmed = 1;
		if (save_vars(r, err)) {
			jnl_failed(r, err);
			stop_with(r, MX_RUN_FAILED, MX_EXIT_RUNTIME, err);
			return MX_EIO;
		}
		r->wake = mx_now(e->cfg.clock);
		return MX_OK;
	}
	return mx_err_set(err, MX_EINVAL, "%s has no question waiting for an answer", domain);
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
	return mx_run_state_name(e->runs[i]->st);
}

const char *mx_engine_run_domain(const struct mx_engine *e, int i)
{
	return e->runs[i]->row.domain;
}

void mx_engine_run_info(const struct mx_engine *e, int i, struct mx_run_info *out)
{
	struct run *r = e->runs[i];
	const struct mx_step_def *d = cur_def(r);

	memset(out, 0, sizeof(*out));
	out->domain = r->row.domain;
	out->target = r->row.target;
	out->provider = r->row.provider;
	out->st = r->st;
	out->state = mx_run_state_name(r->st);
	out->rollback = r->v.rollback != 0;
	out->step = r->step;
	out->step_key = step_key(r);
	out->step_title = step_title(r);
	out->step_flags = d ? d->flags : 0;
	out->wake = r->wake;
	out->waiting_for = r->waiting_for;
	out->gate = r->gate_text;
	out->question = r->asking ? r->question : "";
	out->stopped = r->stopped;
	out->exit = r->exit;
	out->error = r->error;
	out->mx = r->mx_now;
}

static void stop_run(struct mx_engine *e, struct run *r)
{
	if (r->stopped)
		return;
	r->stopped = true;
	io_drop(r);
	r->asking = false;
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

	if (e->pool && n < max)
		fds[n++] = mx_workers_fd(e->pool);
	/* The DANE gates' resolver only resolves: libunbound's descriptor (dns_fds gives it
	 * first) is all it needs, and the front ends' arrays are small. */
	if (e->fresh && dns_pending(e->fresh) && n < max)
		n += dns_fds(e->fresh, fds + n, 1);
	if (e->dane && dane_pending(e->dane) && n < max)
		fds[n++] = dane_fd(e->dane);

	for (int i = 0; i < e->nruns && n < max; i++)
		if (e->runs[i]->chk && chk_fd(e->runs[i]->chk) >= 0)
			fds[n++] = chk_fd(e->runs[i]->chk);
	return n;
}

bool mx_engine_io_pending(const struct mx_engine *e)
{
	if (e->fibers)
		return true;
	for (int i = 0; i < e->nruns; i++)
		if ((e->runs[i]->chk || (e->runs[i]->prop && e->runs[i]->prop->pending) ||
			(e->runs[i]->fetch && !e->runs[i]->fetch->done) ||
			(e->runs[i]->tgt && !e->runs[i]->tgt->done) ||
			(e->runs[i]->pj && !pj_done(e->runs[i]))) &&
		    !e->runs[i]->stopped)
			return true;
	return false;
}
