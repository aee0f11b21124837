/* SPDX-License-Identifier: MIT */
/* src/check.h — the prerequisite checks (docs/checks.md): DNSSEC, NS consistency, the
 * current MX, the target host and its TLSA, MTA-STS, TLS-RPT, SPF. Many domains run at once
 * on one event loop; results are data (status, one-line summary, JSON detail). */
#ifndef MX_CHECK_H
#define MX_CHECK_H

#include <signal.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "dns.h"
#include "err.h"
#include "event.h"
#include "http.h"

struct mx_worker; /* src/workers.h */
struct mx_workers;

enum chk_status { CHK_PASS = 0, CHK_WARN, CHK_FAIL, CHK_SKIP };

/* Domains in flight at once unless chk_opts.max_active says otherwise: enough to keep the
 * resolver and the HTTPS fetches busy, few enough that memory does not depend on N. */
#define CHK_DEFAULT_ACTIVE 128

/* The check table's order is the order of the output. Ids are contract: never rename. */
enum chk_id {
	CHK_ZONE_DNSSEC = 0,
	CHK_NS_CONSISTENCY,
	CHK_MX_CURRENT,
	CHK_MX_TARGET,
	CHK_MX_TARGET_TLSA,
	CHK_MX_TARGET_DANE, /* STARTTLS + DANE probe of the target (smtp_probe = yes) */
	CHK_MTASTS_RECORD,
	CHK_MTASTS_POLICY,
	CHK_MTASTS_COVERS,
	CHK_TLSRPT,
	CHK_SPF,
	CHK_PROVIDER_ACCESS,
	CHK_EXCHANGE_ACCESS,	   /* [exchange]: the admin API answers for this domain */
	CHK_EXCHANGE_DNSSEC,	   /* [exchange]: the DNSSEC endpoint's status and expected MX */
	CHK_MTASTS_COVERS_CURRENT, /* the served policy covers every host of the current MX */
	CHK_COUNT
};

/* "pass", "warn", "fail", "skip". */
const char *chk_status_name(enum chk_status s);
/* "zone.dnssec", … */
const char *chk_id_name(enum chk_id id);

struct chk_result {
	enum chk_status status;
	bool present;	   /* false: not part of this run (provider.access without --provider) */
	char summary[400]; /* one sentence; a failure says how to fix it */
	json_t *detail;	   /* owned; an object */
};

/* What a caller may learn of a domain besides the verdicts (used by the run's preflight and
 * snapshot, and by the wizard's badges). */
struct chk_facts {
	enum dns_sec zone_sec;
	uint32_t mx_ttl_max;   /* max MX TTL served by any authoritative NS (0: unknown) */
	struct dns_answer *mx; /* the MX RRset through the resolver (owned) */
	char **ns_addrs;       /* authoritative server addresses (owned) */
	size_t nns;
	char *mtasts_policy; /* the policy text fetched, NULL when none (owned) */
	char mtasts_id[33];  /* id of the _mta-sts TXT record, "" when none */
	int mtasts_mode;     /* enum mtasts_mode, 0 when none */
	long mtasts_max_age;
};

/* The readiness verdict: the one answer every front end (check, the wizard, plan, run) gives
 * about a domain. */
enum chk_verdict {
	CHK_V_READY = 0, /* no check fails: the cutover may start */
	CHK_V_BLOCKED,	 /* some check fails (roots[] says which) */
	CHK_V_MIGRATED,	 /* the MX holds no legacy host and one under endpoint_suffix */
};

struct chk_verdict_info {
	enum chk_verdict v;
	/* READY, or BLOCKED only by causes the run resolves itself: mtasts.covers_target, since
	 * the run's mtasts_stage step publishes a policy listing both hosts before the MX
	 * changes. plan and run proceed iff runnable. */
	bool runnable;
	/* Root causes, in table order: the failing checks. A check that cannot be judged
	 * because another one failed (answers DNSSEC-bogus while zone.dnssec fails, a domain
	 * that does not exist) is reported `skip` and says so; it is never a root. */
	int nroots;
	enum chk_id roots[CHK_COUNT];
	/* One line every front end prints verbatim: "ready for the cutover", "blocked by
	 * zone.dnssec: <its summary>", "already migrated: the MX is <host>; nothing to move". */
	char text[400];
};

struct chk_domain {
	char domain[254];
	char target[254]; /* "" when no target was given */
	bool ready;	  /* false iff some check failed */
	struct chk_result res[CHK_COUNT];
	struct chk_facts facts;
	struct chk_verdict_info verdict; /* chk_verdict's answer, filled once evaluated */
	struct chk_work *work;		 /* in-flight state, NULL once evaluated */
};

/* Streaming: called once per domain as soon as its checks are evaluated, in the order the
 * domains finish (not the input order). d is borrowed for the call only: when the job owns
 * the results (chk_start with out == NULL) it is cleared and reused right after. Called from
 * inside the event loop's callbacks: it must not free the job or the contexts. */
typedef void chk_done_fn(void *arg, struct chk_domain *d);

/* What provider.access proved beyond reading, and what it could not prove ("" each when
 * nothing). */
struct chk_provider_proof {
	char proved[300];
	char unproved[300];
};

/* Optional provider access for provider.access: returns the MX values the provider holds
 * and, in *proof, what the adapter proved about write permission without changing the zone;
 * or fails with a message. Set by the caller (the provider registry lives outside
 * src/check). With a pool (chk_opts.pool) it runs as one of the pool's calls, w being its
 * worker (mx_worker_http, mx_worker_dns: for a pool of fibers, mx_workers_new_fibers, the
 * check's own contexts, which its requests yield on), so that a slow provider API never holds
 * up the other domains' checks and many domains' reads overlap; without one it runs on the
 * check's own loop, blocking it, and w is NULL. */
typedef int chk_provider_read_fn(void *arg, struct mx_worker *w, const char *domain,
    json_t **mx_values, struct chk_provider_proof *proof, struct mx_err *err);

/* Optional [exchange] verdicts for exchange.access and exchange.dnssec, computed by the
 * caller through src/exo (exo_check_domain): fills *access and *dnssec (present set, detail
 * owned by the callee's copy). Called once per domain when its checks are evaluated. */
typedef void chk_exchange_fn(
    void *arg, const char *domain, struct chk_result *access, struct chk_result *dnssec);

struct chk_opts {
	const struct mx_conf *conf;	     /* borrowed */
	struct dns_ctx *dns;		     /* borrowed */
	struct http_ctx *http;		     /* borrowed */
	const struct mx_sink *sink;	     /* MX_EV_CHECK / MX_EV_PROGRESS events; may be NULL */
	const char *provider_name;	     /* --provider NAME, or NULL */
	chk_provider_read_fn *provider_read; /* with provider_name */
	void *provider_arg;
	/* Where provider_read runs (borrowed; NULL: on the loop). The caller polls its
	 * descriptor (mx_workers_fd) beside chk_fd and frees it after chk_finish (a pool of
	 * fibers on the loop's contexts is driven by chk_advance: mx_workers_drain). */
	struct mx_workers *pool;
	chk_exchange_fn *exchange; /* with [exchange], else NULL */
	void *exchange_arg;
	int max_active;	      /* domains in flight at once; 0 = CHK_DEFAULT_ACTIVE */
	chk_done_fn *on_done; /* optional; required when chk_start gets out == NULL */
	void *done_arg;
	int timeout_ms; /* per DNS query / HTTPS fetch; 0 = 10000 */
	/* chk_run only: the --resolver-conf path, named when the DNS probe fails (may be
	 * NULL); skip_dns_probe leaves the probe out (the caller made it). */
	const char *resolver_conf;
	bool skip_dns_probe;
	/* chk_run only: set by a signal handler, it stops the checks at the loop's next turn
	 * (MX_EAGAIN); NULL: never stops. */
	const volatile sig_atomic_t *stop;
};

/* Checks n domains (targets[i] may be NULL) concurrently and fills out[i] (an array of n
 * caller-allocated, zeroed structs; release each with chk_domain_clear). DNS failures are
 * results; the return value is an error only when the checks could not run at all — first
 * of all when this machine cannot resolve (dns_probe_root, a few seconds at most: MX_EDNS or
 * MX_EDNSSEC naming the machine, not the domains). */
int chk_run(const struct chk_opts *o, const char *const *domains, const char *const *targets,
    size_t n, struct chk_domain *out, struct mx_err *err);

/* Can this machine resolve at all (dns_probe_root on o->dns, a few seconds at most)? MX_OK,
 * or MX_EDNS / MX_EDNSSEC with a message about this machine, never about a domain. chk_run
 * calls it first; callers that drive chk_start themselves from a command line call it before.
 */
int chk_probe_dns(const struct chk_opts *o, struct mx_err *err);

void chk_domain_clear(struct chk_domain *d);
/* Frees what only a report of the checks needs (each check's detail, the name servers'
 * addresses, the policy text) and keeps what a front end shows of a domain: the verdict,
 * each check's status and summary, and the other facts. For a front end that holds the
 * results of many domains (the wizard). The domain must be evaluated (d->work NULL). */
void chk_domain_slim(struct chk_domain *d);

/* The same, without blocking, for callers that own the event loop (the engine, the wizard):
 * chk_start begins (out[] must stay alive until chk_finish). With out == NULL the job streams:
 * it keeps only the domains in flight (at most max_active), hands each one to o->on_done when
 * it is complete and then frees it, so memory does not grow with n; domains[] and targets[]
 * are then borrowed until chk_finish. The caller's loop runs the DNS
 * and HTTPS callbacks (mx_loop_once on o->dns/o->http, with chk_fd among its descriptors);
 * chk_advance moves the SMTP probes and starts more domains, and returns true once every
 * domain is evaluated; chk_finish frees the job (a job stopped early has nothing in flight
 * only once its contexts are freed: free it just before them). */
struct chk_job;
int chk_start(const struct chk_opts *o, const char *const *domains, const char *const *targets,
    size_t n, struct chk_domain *out, struct chk_job **job, struct mx_err *err);
bool chk_advance(struct chk_job *job);
/* The probe descriptor to poll (-1 when none) and the milliseconds to its next deadline. */
int chk_fd(const struct chk_job *job);
int chk_timeout_ms(const struct chk_job *job);
/* Domains evaluated so far and the number asked for. */
void chk_progress(const struct chk_job *job, size_t *done, size_t *total);
/* Frees the job; MX_ENOMEM when it ran out of memory, MX_ECANCELED when unfinished. */
int chk_finish(struct chk_job *job, struct mx_err *err);

/* The readiness verdict of an evaluated domain (the checks set d->verdict to the same answer
 * when they finish; call this again only after changing d->res). conf gives endpoint_suffix
 * and legacy_suffixes. A domain not evaluated yet is BLOCKED with text "not checked yet". */
void chk_verdict(
    const struct chk_domain *d, const struct mx_conf *conf, struct chk_verdict_info *out);

/* "ready", "blocked", "migrated" (the JSON "verdict" field). */
const char *chk_verdict_name(enum chk_verdict v);

/* The contract JSON of one domain: {"domain","ready","checks":[{id,status,summary,detail}]},
 * extended with "verdict" (chk_verdict_name), "verdict_text", "runnable" and "blocked_by"
 * (the root check ids) from d->verdict.
 * New reference, caller decrefs. */
json_t *chk_domain_json(const struct chk_domain *d);

#endif
