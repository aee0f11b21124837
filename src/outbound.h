/* SPDX-License-Identifier: MIT */
/* src/outbound.h — are partners ready for the outbound connector modes of Exchange Online
 * (SmtpDaneMode Mandatory|Opportunistic|None, MtaStsMode Opportunistic|None; docs/outbound.md)? Per partner domain: the DNSSEC state of its MX RRset and of each MX host's
 * addresses, the host's TLSA at _25._tcp, a STARTTLS + DANE probe on the wire, and the
 * MTA-STS record and policy with whether it covers the MX hosts. Many domains run at once on
 * one event loop; the verdict is a pure function of those facts (ob_verdict). */
#ifndef MX_OUTBOUND_H
#define MX_OUTBOUND_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "dane.h"
#include "dns.h"
#include "err.h"
#include "http.h"
#include "mtasts.h"
#include "mtasts_fetch.h"

/* The TLSA state of an MX host (contract names: usable|unusable|absent|insecure|bogus). */
enum ob_tlsa {
	OB_TLSA_USABLE = 0, /* DNSSEC-secure, at least one usage 2/3 record */
	OB_TLSA_UNUSABLE,   /* secure, but only usages 0/1 (RFC 7672 ignores them) */
	OB_TLSA_ABSENT,	    /* secure proof that there is no TLSA */
	OB_TLSA_INSECURE,   /* the host's zone is not signed: TLSA (if any) is ignored */
	OB_TLSA_BOGUS,	    /* validation failed or the lookup failed: DANE senders defer */
};

const char *ob_tlsa_name(enum ob_tlsa t);

/* Classifies a resolver answer for _25._tcp.<host> TLSA as above. A SERVFAIL or timeout
 * counts as bogus: senders that find secure addresses defer when the TLSA lookup fails. */
enum ob_tlsa ob_tlsa_classify(const struct dns_answer *a);

enum ob_dane_mode { OB_DANE_MANDATORY = 0, OB_DANE_OPPORTUNISTIC, OB_DANE_NONE };
enum ob_sts_mode { OB_STS_OPPORTUNISTIC = 0, OB_STS_NONE };

/* "Mandatory", "Opportunistic", "None" — the cmdlet's values. */
const char *ob_dane_mode_name(enum ob_dane_mode m);
const char *ob_sts_mode_name(enum ob_sts_mode m);

/* What the partner's MX lookup gave. */
enum ob_mx_state {
	OB_MX_OK = 0,	/* an MX RRset */
	OB_MX_IMPLICIT, /* no MX: mail goes to the domain's own address (RFC 5321 §5.1) */
	OB_MX_NULL,	/* "MX 0 ." — the domain accepts no mail (RFC 7505) */
	OB_MX_NXDOMAIN, /* the domain does not exist */
	OB_MX_FAILED,	/* SERVFAIL, timeout */
};

/* "ok", "implicit", "null", "nxdomain", "failed". */
const char *ob_mx_state_name(enum ob_mx_state s);

/* A fact the wire may not have shown. */
enum ob_tri { OB_UNKNOWN = -1, OB_NO = 0, OB_YES = 1 };

struct ob_host {
	char host[254];
	int preference;	       /* -1 for the implicit MX */
	enum dns_sec addr_sec; /* the worst of the A and AAAA answers */
	char **addrs;	       /* addresses from answers that are not bogus (owned) */
	size_t naddr;
	enum ob_tlsa tlsa;
	char **tlsa_text; /* the TLSA records in presentation form (owned) */
	size_t ntlsa;
	enum dane_probe_status probe;  /* SKIPPED when not probed */
	struct dane_result *probe_res; /* the probe's details, NULL when not probed (owned) */
	char probe_error[256];	       /* why the probe did not verify, "" otherwise */
	bool sts_covered;	       /* an mx pattern of the MTA-STS policy matches the host */
	enum ob_tri starttls;	       /* offered at every reachable address */
	enum ob_tri pkix;	       /* the certificate is valid for MTA-STS (trusted, name) */
	char pkix_error[128];
};

struct ob_sts {
	bool record;	   /* a v=STSv1 record at _mta-sts.<domain> */
	bool record_valid; /* exactly one, syntactically valid */
	char id[MTASTS_ID_MAX + 1];
	bool fetched;		 /* an HTTPS response arrived */
	enum mtasts_fetch fetch; /* how the fetch ended (when fetched) */
	bool policy_valid;	 /* a policy senders would apply */
	enum mtasts_mode mode;	 /* of a valid policy */
	long max_age;		 /* … */
	char **mx;		 /* its mx patterns (owned) */
	size_t nmx;
	char problem[256]; /* why no policy is in force, "" when one is */
};

struct ob_work;

struct ob_domain {
	char domain[254];
	enum ob_mx_state mx_state;
	enum dns_sec mx_sec;   /* of the MX answer (also of a proof that there is no MX) */
	char why_bogus[256];   /* the resolver's reason when something is bogus */
	struct ob_host *hosts; /* by preference (owned) */
	size_t nhosts;
	struct ob_sts sts;
	/* the verdict (ob_verdict) */
	enum ob_dane_mode dane_mode;
	enum ob_sts_mode sts_mode;
	bool warning; /* a None that protects the partner's mail: say it loudly */
	char dane_reason[400];
	char sts_reason[300];
	char reason[720];     /* both, for the contract's one "reason" */
	struct ob_work *work; /* in flight, NULL once evaluated */
};

/* The verdict (docs/outbound.md) from the facts in *d (mx_state, mx_sec, hosts[], sts):
 * fills dane_mode, sts_mode, warning and the reasons. Pure: no I/O, for unit tests.
 * SmtpDaneMode Mandatory only when every MX host has a secure MX RRset, secure addresses and
 * usable TLSA that the probe verified; None (warning) when usable TLSA fails on the wire or a
 * DNSSEC chain is bogus; otherwise Opportunistic. MtaStsMode None (warning) when an enforce
 * policy does not cover an MX host or a host fails its certificate check or STARTTLS;
 * otherwise Opportunistic. */
void ob_verdict(struct ob_domain *d);

struct ob_opts {
	struct dns_ctx *dns;   /* borrowed */
	struct http_ctx *http; /* borrowed */
	bool probe;	       /* run the wire probes (false: every probe is "skipped") */
	struct dane_opts dane; /* port, timeouts, cafile for the certificate check */
	int max_active;	       /* domains in flight at once; 0 = 100 */
	int timeout_ms;	       /* per HTTPS fetch; 0 = 10000 */
	size_t max_hosts;      /* MX hosts looked at per domain; 0 = 16 */
	/* Set by a signal handler: ob_run stops at the loop's next turn with MX_EAGAIN and
	 * *stopped_after the partners complete by then (NULL: never stops). */
	const volatile sig_atomic_t *stop;
	size_t *stopped_after;
};

/* Looks at n partner domains concurrently and fills out[i] (caller-allocated, zeroed; clear
 * each with ob_domain_clear), verdict included. Stopped (o->stop), the partners under way are
 * left to the caller's freeing of the DNS and HTTP contexts, which run no callback. DNS and wire failures are facts; the return
 * value is an error only when the work could not run at all (no memory, a broken loop, a TLS
 * context that cannot be made). */
int ob_run(const struct ob_opts *o, const char *const *domains, size_t n, struct ob_domain *out,
    struct mx_err *err);

void ob_domain_clear(struct ob_domain *d);

/* The recommended cmdlet line for the verdict, e.g. `Set-OutboundConnector -Identity
 * "Fabrikam" -SmtpDaneMode Mandatory -MtaStsMode Opportunistic`. connector: the connector's
 * name, or NULL for a placeholder naming the domain. Writes into buf (≥ 300 bytes). */
void ob_command(const struct ob_domain *d, const char *connector, char *buf, size_t len);

/* The contract JSON of one domain ({"domain","smtp_dane_mode","mta_sts_mode","reason",
 * "hosts":[{"host","mx_secure","address_secure","tlsa","probe"}]}, with more detail added:
 * "warning", "command", "mx", "mta_sts", and per host "preference", "addresses",
 * "tlsa_records", "mta_sts_covered", "probe_detail"). New reference, caller decrefs. */
json_t *ob_domain_json(const struct ob_domain *d, const char *connector);

#endif
