/* SPDX-License-Identifier: MIT */
/* providers/provider.h — the DNS provider adapters: one RRset-level vtable per provider
 * (CONTRIBUTING.md, "Providers"; docs/providers.md) and the registry that finds them by config type.
 * Adapters never print; they return data and an mx_err naming provider, status and fix. */
#ifndef MX_PROVIDER_H
#define MX_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "dns.h"
#include "err.h"
#include "http.h"

/* An RRset in the product's canonical form, the same for every provider:
 * - name: absolute, lower-case, no trailing dot ("contoso.com", "_mta-sts.contoso.com");
 * - MX values: "PREF HOST" with HOST lower-case and without trailing dot ("0 x.mx.microsoft");
 * - TXT values: the text itself, character-strings concatenated, unquoted.
 * n == 0 means the RRset does not exist. Values are kept sorted (prov_rrset_sort) so two
 * RRsets compare with prov_rrset_equal. */
struct mx_rrset {
	char name[254];
	uint16_t type; /* DNS_T_MX or DNS_T_TXT */
	uint32_t ttl;
	size_t n;
	char **values;
};

enum {
	PROV_CAP_CAS = 1 << 0,	  /* replace_rrset honours *expect atomically */
	PROV_CAP_ATOMIC = 1 << 1, /* an RRset changes in one step (never half-written) */
	PROV_CAP_HUMAN = 1 << 2,  /* a person applies changes (manual) */
	/* Reads and writes only through p->http (p->dns is not used). */
	PROV_CAP_HTTP = 1 << 3,
	/* Its reads never use the credential its writes need (RFC 2136: plain queries; the TSIG
	 * key signs only the UPDATEs), so a wrong key would first show at a run's first write:
	 * a run's preflight proves write access instead (check_access). The other adapters' reads
	 * use the same credential as their writes and fail on a wrong one at the snapshot. */
	PROV_CAP_KEYED_WRITES = 1 << 4,
};

struct prov;

/* A change the provider's API accepted but does not list yet (an eventually consistent API),
 * made while the engine drives the adapter: the RRset written and when. Until a read shows
 * it, reads of that name and type end as a passing failure (the engine reads again after a
 * deadline) instead of returning the old records, which the engine would take for a change
 * not made and write again from (a second create through a record-by-record API). */
struct prov_settle {
	bool pending;
	struct mx_rrset want;
	double since; /* prov_monotonic() of the write */
};

/* What check_access established (provider.access reports both). */
struct prov_access {
	char proved[300];   /* what was proven, one sentence; "" when nothing beyond reading */
	char unproved[300]; /* what could not be proven, one sentence; "" when nothing */
};

struct prov_ops {
	const char *name; /* config "type" and journal key: never rename */
	unsigned caps;
	int min_ttl; /* the smallest TTL the provider accepts */
	/* Reads the section's keys and secrets, checks they are complete. */
	int (*open)(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err);
	/* Reads name/type as the provider holds it (not through DNS caches). *out is the
	 * caller's; free with prov_rrset_clear. A missing RRset is n == 0, not an error. */
	int (*read_rrset)(struct prov *p, const char *name, uint16_t type, struct mx_rrset *out,
	    struct mx_err *err);
	/* Replaces want->name/type with *want (want->n == 0 deletes it). With PROV_CAP_CAS, fail
	 * MX_ECONFLICT unless the zone still holds *expect. Must be idempotent: resume may call
	 * it again with the same arguments after a crash. */
	int (*replace_rrset)(struct prov *p, const struct mx_rrset *expect,
	    const struct mx_rrset *want, struct mx_err *err);
	void (*close)(struct prov *p); /* optional */
	/* Optional. Proves, WITHOUT changing the zone, that the credentials may change p->zone's
	 * records (e.g. a signed request that the service authorizes and then refuses by
	 * construction), after read_rrset of the apex MX succeeded. MX_OK with *out filled, or
	 * the refusal as an error naming the credential and the fix (MX_EAUTH when the service
	 * rejects it). Without it, only read access is proven. */
	int (*check_access)(struct prov *p, struct prov_access *out, struct mx_err *err);
};

/* Everything an adapter may use; borrowed from the caller for the adapter's lifetime. The
 * engine makes one call at a time per adapter, in a fiber on its own thread with its loop's
 * http context and resolver in place (http_perform and the blocking calls of dns.h yield
 * there until the answer is in, so other adapters' calls interleave at every request: hold
 * no lock across a request, open no socket of your own); check and plan make the same calls
 * on worker threads, where they block. An adapter keeps no thread-bound state and no pointer
 * to p->dns or p->http between calls. */
struct prov {
	const struct prov_ops *ops;
	char *name;	       /* the [provider.NAME] the user chose */
	char zone[254];	       /* the zone written to, e.g. "contoso.com" */
	struct dns_ctx *dns;   /* for adapters that read or verify through DNS */
	struct http_ctx *http; /* for HTTP API adapters */
	const struct mx_conf *conf;
	void *priv; /* the adapter's own state */
	/* Set by the engine: never pause longer than a second inside a call. A rate limit
	 * becomes MX_ERATELIMIT with err->retry_after (the engine waits in its own loop and
	 * calls again: every call is idempotent), and a submitted change is not polled until
	 * it is in sync (the engine's propagation wait does that). */
	bool no_wait;
	struct prov_settle settle; /* see prov_settle_wait; cleared by prov_close */
};

/* The registry, NULL-terminated, in providers/registry.c. */
extern const struct prov_ops *const prov_registry[];
extern const struct prov_ops prov_powerdns_ops, prov_rfc2136_ops, prov_manual_ops;
extern const struct prov_ops prov_cloudflare_ops, prov_azure_ops;
extern const struct prov_ops prov_route53_ops, prov_gcloud_ops;

/* The ops whose name is type, or NULL. */
const struct prov_ops *prov_find(const char *type);

/* Opens [provider.NAME] of conf for zone. dns and http are borrowed. Errors: unknown NAME
 * (listing the configured ones), a type this build lacks, or the adapter's open. Caller
 * frees with prov_close. */
int prov_open(const struct mx_conf *conf, const char *name, const char *zone, struct dns_ctx *dns,
    struct http_ctx *http, struct prov **out, struct mx_err *err);
void prov_close(struct prov *p);

/* Refuses (MX_EINVAL, naming the adapter) a type other than MX/TXT or a name outside
 * p->zone: the only RRsets any adapter may touch. */
int prov_check_name(struct prov *p, const char *name, uint16_t type, struct mx_err *err);

/* RRset helpers. */
int prov_rrset_add(struct mx_rrset *s, const char *value, struct mx_err *err);
void prov_rrset_sort(struct mx_rrset *s);
bool prov_rrset_equal(const struct mx_rrset *a, const struct mx_rrset *b, bool with_ttl);
int prov_rrset_copy(struct mx_rrset *dst, const struct mx_rrset *src, struct mx_err *err);
void prov_rrset_clear(struct mx_rrset *s);
/* "0 a.example, 10 b.example (TTL 3600)" or "(none)"; caller frees. */
char *prov_rrset_text(const struct mx_rrset *s);
/* Canonical MX value from preference and host ("0 host"), host lower-cased, dot dropped. */
int prov_mx_value(unsigned pref, const char *host, char *out, size_t outlen);
/* Retries inside an adapter (HTTP 429 with Retry-After, 5xx, throttling): the pause before
 * try number attempt (1-based) is repeated — 0.5, 1, 2, 4, then 8 s —, the pause itself
 * (bounded by the caller; interrupted sleeps resume), and a monotonic clock in seconds. */
double prov_backoff(int attempt);
/* The pause before retrying after resp: its Retry-After (429) up to max seconds, else the
 * backoff for attempt. */
double prov_retry_delay(const struct http_response *resp, int attempt, double max);
void prov_pause(double seconds);
/* Waits `seconds` before a retry the service asked for (429, Retry-After, a request budget):
 * pauses and returns MX_OK, or with p->no_wait (the engine drives us) never pauses: returns
 * MX_ERATELIMIT with err->retry_after set (whole seconds, at least 1) and a message naming
 * the provider, and the engine waits for it as a deadline. */
int prov_wait(struct prov *p, double seconds, struct mx_err *err);
/* With p->no_wait, is resp (a server error or no answer at all, not a rate limit) a failure
 * the engine retries — the step again after a deadline, re-reading first — rather than the
 * adapter after a pause? Then the adapter ends the call: a server error's answer goes to
 * its caller as usual (its error carries the status), a missing answer becomes an error with
 * err->transient set. Rate limits (429, Retry-After, a 4xx throttling answer) go through
 * prov_wait. */
bool prov_engine_retries(const struct prov *p, const struct http_response *resp);
/* The error for a request that got no answer when the engine retries it: "WHO: cannot reach
 * WHERE (curl's reason)", MX_EPROVIDER with err->transient set. */
int prov_no_answer(
    const char *who, const char *where, const struct http_response *resp, struct mx_err *err);
double prov_monotonic(void);
/* After a write the API accepted, when the read after it (with p->no_wait) does not show
 * want yet: remembers want and ends the call as a passing failure (MX_EPROVIDER, transient)
 * "WHO accepted the change to the MX records of NAME but does not list it yet …" — the engine runs the step
 * again after a deadline, where a pause used to hold the worker. */
int prov_settle_wait(
    struct prov *p, const struct mx_rrset *want, const char *who, struct mx_err *err);
/* Call after every read of name/type (got: what the API listed). MX_OK when no change of
 * that RRset is pending, when got shows it (the pending change is then forgotten) or when
 * PROV_SETTLE_MAX seconds have passed (then the caller sees what is there, as without the
 * wait); else the same passing failure as prov_settle_wait. */
int prov_settle_check(struct prov *p, const char *name, uint16_t type, const struct mx_rrset *got,
    const char *who, struct mx_err *err);
/* Whether a change of name/type is pending (see prov_settle_wait). */
bool prov_settle_pending(const struct prov *p, const char *name, uint16_t type);
enum { PROV_SETTLE_MAX = 300 };

/* Splits a canonical MX value; returns false when it is not "PREF HOST". */
bool prov_mx_parse(const char *value, unsigned *pref, char *host, size_t hostlen);

#endif
