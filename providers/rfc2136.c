/* SPDX-License-Identifier: MIT */
/* providers/rfc2136.c — the RFC 2136 dynamic update adapter (BIND, Knot, PowerDNS with
 * dnsupdate, …): reads RRsets by a direct query to the primary (src/dns), writes each change as
 * one TSIG-signed UPDATE (ldns) whose prerequisites make it a compare-and-swap. */
#include <arpa/inet.h>
#include <ctype.h>
#include <ldns/ldns.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "provider.h"
#include "secret.h"

/* TSIG error codes carried in the TSIG RR of an answer (RFC 8945 §5.3). */
enum { TSIG_BADSIG = 16, TSIG_BADKEY = 17, TSIG_BADTIME = 18 };

struct r2136 {
	char server[64]; /* "ip@port", as dns_query_direct takes it and messages show it */
	char ip[INET6_ADDRSTRLEN];
	bool ip6;
	uint16_t port;
	char *tsig_name;   /* absolute, with trailing dot; NULL: unsigned updates */
	char *key_label;   /* tsig_name as configured, for messages */
	char *tsig_alg;	   /* ldns's spelling, with trailing dot */
	char *tsig_secret; /* base64, the secret */
};

/* The TSIG algorithms of RFC 8945 §6 that ldns signs with, by config spelling. */
static const struct {
	const char *conf, *ldns;
} tsig_algs[] = {
    {"hmac-md5", "hmac-md5.sig-alg.reg.int."},
    {"hmac-md5.sig-alg.reg.int", "hmac-md5.sig-alg.reg.int."},
    {"hmac-sha1", "hmac-sha1."},
    {"hmac-sha224", "hmac-sha224."},
    {"hmac-sha256", "hmac-sha256."},
    {"hmac-sha384", "hmac-sha384."},
    {"hmac-sha512", "hmac-sha512."},
};

static const char *type_name(uint16_t type)
{
	return type == DNS_T_MX ? "MX" : type == DNS_T_TXT ? "TXT" : NULL;
}

static int r2136_read_rrset(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	struct r2136 *d = p->priv;
	struct dns_answer *ans = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	rc = prov_check_name(p, name, type, err);
	if (rc)
		goto out;
	rc = dns_query_direct(p->dns, d->server, name, type, 5000, &ans, err);
	if (rc) {
		mx_err_prefix(err, "rfc2136");
		goto out;
	}
	if (ans->rcode == -1) {
		rc = mx_err_set(err, MX_EDNS,
		    "rfc2136: no answer from %s for %s %s; check server in [provider.%s] and that "
		    "the primary is running",
		    d->server, name, type_name(type), p->name);
		goto out;
	}
	if (ans->rcode == LDNS_RCODE_REFUSED || ans->rcode == LDNS_RCODE_NOTAUTH ||
	    (ans->rcode == 0 && !ans->aa)) {
		/* The server does not hold the zone: a wrong pairing of domain and provider. */
		rc = mx_err_set(err, MX_ENOZONE,
		    "rfc2136: %s does not hold zone %s (%s%s); the zones it serves are the zone "
		    "statements of its named.conf — use the [provider.NAME] whose server is the "
		    "zone's primary, or fix server in [provider.%s]",
		    d->server, p->zone, dns_rcode_name(ans->rcode),
		    ans->aa ? "" : ", not authoritative", p->name);
		err->dns_rcode = ans->rcode;
		goto out;
	}
	if ((ans->rcode != 0 && ans->rcode != 3) || !ans->aa) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "rfc2136: %s does not serve zone %s (%s%s); set server in [provider.%s] to the "
		    "zone's primary",
		    d->server, p->zone, dns_rcode_name(ans->rcode),
		    ans->aa ? "" : ", not authoritative", p->name);
		err->dns_rcode = ans->rcode;
		goto out;
	}
	for (size_t i = 0; i < ans->n; i++) {
		const struct dns_rr *rr = &ans->rr[i];
		char value[300];

		if (rr->type != type)
			continue;
		if (type == DNS_T_MX) {
			if (prov_mx_value(rr->u.mx.pref, rr->u.mx.host, value, sizeof(value))) {
				rc = mx_err_set(
				    err, MX_EPROVIDER, "rfc2136: MX host of %s too long", name);
				goto out;
			}
			rc = prov_rrset_add(out, value, err);
		} else {
			rc = prov_rrset_add(out, rr->u.txt ? rr->u.txt : "", err);
		}
		if (rc)
			goto out;
	}
	out->ttl = out->n ? ans->ttl : 0;
	prov_rrset_sort(out);
out:
	if (rc)
		prov_rrset_clear(out);
	dns_answer_free(ans);
	return rc;
}

/* ------------------------------------------------------------------ the UPDATE packet */

/* One RR for the update message: owner/type/class/ttl and, when value is not NULL, the rdata
 * of the canonical value. NULL when the value is malformed or memory ran out. */
static ldns_rr *update_rr(
    const ldns_rdf *owner, uint16_t type, ldns_rr_class cls, uint32_t ttl, const char *value)
{
	ldns_rr *rr = ldns_rr_new();
	bool ok = true;

	if (!rr)
		return NULL;
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	if (value && type == DNS_T_MX) {
		char host[256], fqdn[258];
		unsigned pref;
		ldns_rdf *pref_rdf, *host_rdf = NULL;

		ok = prov_mx_parse(value, &pref, host, sizeof(host));
		if (ok) {
			snprintf(fqdn, sizeof(fqdn), "%s%s", host,
			    host[strlen(host) - 1] == '.' ? "" : ".");
			pref_rdf = ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, (uint16_t)pref);
			if (ldns_str2rdf_dname(&host_rdf, fqdn) != LDNS_STATUS_OK)
				host_rdf = NULL;
			ok = pref_rdf && host_rdf;
			if (pref_rdf)
				ok = ldns_rr_push_rdf(rr, pref_rdf) && ok;
			if (host_rdf)
				ok = ldns_rr_push_rdf(rr, host_rdf) && ok;
		}
	} else if (value && type == DNS_T_TXT) {
		/* The canonical text is split into character-strings of at most 255 bytes. */
		size_t len = strlen(value), at = 0;

		do {
			size_t chunk = len - at > 255 ? 255 : len - at;
			uint8_t data[256];
			ldns_rdf *s;

			data[0] = (uint8_t)chunk;
			memcpy(data + 1, value + at, chunk);
			s = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, chunk + 1, data);
			ok = s && ldns_rr_push_rdf(rr, s);
			at += chunk;
		} while (ok && at < len);
	}
	if (!ok) {
		ldns_rr_free(rr);
		return NULL;
	}
	return rr;
}

/* Builds the compare-and-swap update of RFC 2136: prerequisites from *expect (§2.4.5 "RRset
 * does not exist" when empty, else §2.4.2 "RRset exists (value dependent)" with TTL 0), then
 * delete the RRset (§2.5.2) and add want's RRs. expect NULL: no prerequisite. */
static int build_update(struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want,
    ldns_pkt **out, struct mx_err *err)
{
	ldns_rr_list *pre = ldns_rr_list_new(), *upd = ldns_rr_list_new();
	ldns_rdf *owner = NULL, *zone = NULL;
	char fqdn[300];
	int rc = MX_OK;
	bool ok = pre && upd;

	*out = NULL;
	snprintf(fqdn, sizeof(fqdn), "%s.", want->name);
	if (ok && ldns_str2rdf_dname(&owner, fqdn) != LDNS_STATUS_OK) {
		rc = mx_err_set(
		    err, MX_EINVAL, "rfc2136: %s is not a valid domain name", want->name);
		goto out;
	}
	snprintf(fqdn, sizeof(fqdn), "%s.", p->zone);
	if (ok && ldns_str2rdf_dname(&zone, fqdn) != LDNS_STATUS_OK) {
		rc = mx_err_set(err, MX_EINVAL, "rfc2136: %s is not a valid zone name", p->zone);
		goto out;
	}
	if (!ok)
		goto nomem;
	if (expect && !expect->n) {
		ok = ldns_rr_list_push_rr(
		    pre, update_rr(owner, want->type, LDNS_RR_CLASS_NONE, 0, NULL));
	} else if (expect) {
		for (size_t i = 0; ok && i < expect->n; i++) {
			ldns_rr *rr =
			    update_rr(owner, want->type, LDNS_RR_CLASS_IN, 0, expect->values[i]);

			if (!rr) {
				rc = mx_err_set(err, MX_EINVAL,
				    "rfc2136: the expected %s value \"%.80s\" of %s is malformed",
				    type_name(want->type), expect->values[i], want->name);
				goto out;
			}
			ok = ldns_rr_list_push_rr(pre, rr);
		}
	}
	ok = ok &&
	     ldns_rr_list_push_rr(upd, update_rr(owner, want->type, LDNS_RR_CLASS_ANY, 0, NULL));
	for (size_t i = 0; ok && i < want->n; i++) {
		ldns_rr *rr =
		    update_rr(owner, want->type, LDNS_RR_CLASS_IN, want->ttl, want->values[i]);

		if (!rr) {
			rc = mx_err_set(err, MX_EINVAL,
			    "rfc2136: the %s value \"%.80s\" of %s is malformed",
			    type_name(want->type), want->values[i], want->name);
			goto out;
		}
		ok = ldns_rr_list_push_rr(upd, rr);
	}
	if (!ok)
		goto nomem;
	/* ldns_update_pkt_new takes zone and copies the lists. */
	*out = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, pre, upd, NULL);
	zone = NULL;
	if (!*out)
		goto nomem;
	ldns_pkt_set_rd(*out, false);
	goto out;
nomem:
	rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	ldns_rr_list_deep_free(pre);
	ldns_rr_list_deep_free(upd);
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(zone);
	return rc;
}

/* Signs the UPDATE with the TSIG key (when there is one; a new random id first, which the
 * signature covers), sends it to the primary over TCP (src/dns: in a fiber the call yields
 * while it waits) and parses the reply. *st is LDNS_STATUS_CRYPTO_TSIG_BOGUS when the reply
 * does not carry a valid signature of the key. *reply stays NULL, with why, when no reply
 * came. Errors: the message cannot be signed or built. */
static int send_update(struct prov *p, ldns_pkt *pkt, ldns_pkt **reply, ldns_status *st, char *why,
    size_t whylen, struct mx_err *err)
{
	struct r2136 *d = p->priv;
	const ldns_rr *tsig;
	ldns_buffer *wire = NULL;
	unsigned char *rwire = NULL;
	size_t rlen = 0;
	struct mx_err net;
	int rc = MX_OK;

	*reply = NULL;
	*st = LDNS_STATUS_OK;
	ldns_pkt_set_random_id(pkt);
	if (d->tsig_name) {
		*st = ldns_pkt_tsig_sign(pkt, d->tsig_name, d->tsig_secret, 300, d->tsig_alg, NULL);
		if (*st != LDNS_STATUS_OK)
			return mx_err_set(err, MX_EINVAL,
			    "rfc2136: cannot sign with TSIG key %s (%s); check tsig_alg and that "
			    "the "
			    "secret is base64",
			    d->key_label, ldns_get_errorstr_by_id(*st));
	}
	wire = ldns_buffer_new(LDNS_MIN_BUFLEN);
	if (!wire || ldns_pkt2buffer_wire(wire, pkt) != LDNS_STATUS_OK) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	mx_err_clear(&net);
	if (dns_send_tcp(p->dns, d->server, ldns_buffer_begin(wire), ldns_buffer_position(wire),
		5000, &rwire, &rlen, &net)) {
		snprintf(why, whylen, "%.250s", net.msg);
		goto out;
	}
	if (ldns_wire2pkt(reply, rwire, rlen) != LDNS_STATUS_OK ||
	    ldns_pkt_id(*reply) != ldns_pkt_id(pkt)) {
		ldns_pkt_free(*reply);
		*reply = NULL;
		snprintf(
		    why, whylen, "%s sent a reply that is not the answer to the update", d->server);
		goto out;
	}
	tsig = ldns_pkt_tsig(pkt);
	if (tsig && !ldns_pkt_tsig_verify(
			*reply, rwire, rlen, d->tsig_name, d->tsig_secret, ldns_rr_rdf(tsig, 3)))
		*st = LDNS_STATUS_CRYPTO_TSIG_BOGUS;
out:
	ldns_buffer_free(wire);
	free(rwire);
	return rc;
}

/* The TSIG error of an answer (RFC 8945 §4.3), 0 when none. */
static unsigned tsig_error(const ldns_pkt *reply)
{
	const ldns_rr *tsig = ldns_pkt_tsig(reply);
	const ldns_rdf *e = tsig ? ldns_rr_rdf(tsig, 5) : NULL;

	return e && ldns_rdf_size(e) == 2 ? ldns_rdf2native_int16(e) : 0;
}

static const char *tsig_error_name(unsigned e)
{
	return e == TSIG_BADSIG	   ? "BADSIG"
	       : e == TSIG_BADKEY  ? "BADKEY"
	       : e == TSIG_BADTIME ? "BADTIME"
				   : NULL;
}

static int map_reply(struct prov *p, const struct mx_rrset *want, ldns_status st,
    const ldns_pkt *reply, const char *why, struct mx_err *err)
{
	struct r2136 *d = p->priv;
	const char *key = d->key_label ? d->key_label : "(none)";
	const char *tname = type_name(want->type);
	int rcode, rc;
	unsigned te;

	if (!reply) {
		/* Sent or not, applied or not: a passing failure. The engine's next try reads
		 * the zone first, and the prerequisites keep a second UPDATE from applying twice. */
		rc = mx_err_set(err, MX_EPROVIDER,
		    "rfc2136: the update of %s got no answer (%s); check server in [provider.%s] "
		    "and that the primary accepts TCP",
		    want->name, why, p->name);
		if (err)
			err->transient = true;
		return rc;
	}
	rcode = ldns_pkt_get_rcode(reply);
	te = tsig_error(reply);
	switch (rcode) {
	case LDNS_RCODE_NOERROR:
		rc = MX_OK;
		if (st == LDNS_STATUS_CRYPTO_TSIG_BOGUS)
			rc = mx_err_set(err, MX_EAUTH,
			    "rfc2136: %s answered the update of %s without a valid signature of "
			    "TSIG "
			    "key %s; check tsig_alg and the key on the server, then re-run",
			    d->server, want->name, key);
		break;
	case LDNS_RCODE_YXRRSET:
	case LDNS_RCODE_NXRRSET:
		rc = mx_err_set(err, MX_ECONFLICT,
		    "rfc2136: the %s RRset of %s changed on %s since it was read; re-run to see "
		    "what changed",
		    tname, want->name, d->server);
		break;
	case LDNS_RCODE_NOTAUTH:
		if (tsig_error_name(te))
			rc = mx_err_set(err, MX_EAUTH,
			    "rfc2136: %s rejected TSIG key %s (NOTAUTH, %s); check tsig_keyfile/"
			    "tsig_secret_env, tsig_alg and the server's clock",
			    d->server, key, tsig_error_name(te));
		else
			rc = mx_err_set(err, MX_EAUTH,
			    "rfc2136: %s did not accept the update of zone %s with TSIG key %s "
			    "(NOTAUTH); check the key and that the server is the zone's primary",
			    d->server, p->zone, key);
		break;
	case LDNS_RCODE_REFUSED:
		rc = mx_err_set(err, MX_EAUTH,
		    "rfc2136: %s refused the update of %s with TSIG key %s (REFUSED); allow the "
		    "key "
		    "in allow-update/update-policy for zone %s",
		    d->server, want->name, key, p->zone);
		break;
	case LDNS_RCODE_NOTZONE:
		rc = mx_err_set(err, MX_EINVAL,
		    "rfc2136: %s says %s is not in zone %s (NOTZONE); check the zone name",
		    d->server, want->name, p->zone);
		break;
	default:
		rc = mx_err_set(err, MX_EPROVIDER,
		    "rfc2136: %s answered the update of %s with %s; check the server's log",
		    d->server, want->name, dns_rcode_name(rcode));
		/* The server failed (its journal, a reload), like an HTTP 5xx. */
		if (err && rcode == LDNS_RCODE_SERVFAIL)
			err->transient = true;
		break;
	}
	if (rc && err)
		err->dns_rcode = rcode;
	return rc;
}

static int r2136_replace_rrset(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	struct mx_rrset now = {0};
	ldns_pkt *pkt = NULL, *reply = NULL;
	ldns_status st;
	char why[300] = "";
	int rc;

	rc = prov_check_name(p, want->name, want->type, err);
	if (rc)
		goto out;
	if (want->n && want->ttl < 1) {
		rc = mx_err_set(err, MX_EINVAL, "rfc2136: TTL %u for %s is below the minimum of 1",
		    want->ttl, want->name);
		goto out;
	}
	/* Idempotence: a replay after a crash finds the zone already as wanted. */
	rc = r2136_read_rrset(p, want->name, want->type, &now, err);
	if (rc)
		goto out;
	if (prov_rrset_equal(&now, want, true))
		goto out;
	rc = build_update(p, expect, want, &pkt, err);
	if (!rc)
		rc = send_update(p, pkt, &reply, &st, why, sizeof(why), err);
	if (!rc)
		rc = map_reply(p, want, st, reply, why, err);
out:
	prov_rrset_clear(&now);
	ldns_pkt_free(pkt);
	ldns_pkt_free(reply);
	return rc;
}

/* Proves the key without changing the zone: an UPDATE of the zone whose only prerequisite,
 * "name mxcutover-access-<random>.<zone> is in use" (RFC 2136 §2.4.4), is false by
 * construction. A server verifies the TSIG signature first (RFC 8945: NOTAUTH with BADKEY,
 * BADSIG or BADTIME) and its update ACL (REFUSED) before it looks at prerequisites, so
 * NXDOMAIN proves both. The update section only deletes the MX RRset of that unused name:
 * even a server that skipped the prerequisite would change nothing. */
static int r2136_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	struct r2136 *d = p->priv;
	const char *key = d->key_label ? d->key_label : "(none)";
	ldns_rr_list *pre = ldns_rr_list_new(), *upd = ldns_rr_list_new();
	ldns_rdf *owner = NULL, *zone = NULL;
	ldns_pkt *pkt = NULL, *reply = NULL;
	struct mx_rrset probe = {0};
	unsigned char rnd[6];
	char fqdn[300], why[300] = "";
	ldns_status st;
	int rc = MX_OK, rcode;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0x5a, sizeof(rnd));
	if (strlen(p->zone) > sizeof(probe.name) - 32) {
		snprintf(out->unproved, sizeof(out->unproved),
		    "write permission: the zone name is too long for a probe name below it");
		goto out;
	}
	snprintf(probe.name, sizeof(probe.name), "mxcutover-access-%02x%02x%02x%02x%02x%02x.%.220s",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], p->zone);
	probe.type = DNS_T_MX;
	snprintf(fqdn, sizeof(fqdn), "%s.", probe.name);
	if (!pre || !upd || ldns_str2rdf_dname(&owner, fqdn) != LDNS_STATUS_OK) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(fqdn, sizeof(fqdn), "%s.", p->zone);
	if (ldns_str2rdf_dname(&zone, fqdn) != LDNS_STATUS_OK) {
		rc = mx_err_set(err, MX_EINVAL, "rfc2136: %s is not a valid zone name", p->zone);
		goto out;
	}
	if (!ldns_rr_list_push_rr(
		pre, update_rr(owner, LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_ANY, 0, NULL)) ||
	    !ldns_rr_list_push_rr(upd, update_rr(owner, DNS_T_MX, LDNS_RR_CLASS_ANY, 0, NULL))) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	pkt = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, pre, upd, NULL);
	zone = NULL;
	if (!pkt) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	ldns_pkt_set_rd(pkt, false);
	rc = send_update(p, pkt, &reply, &st, why, sizeof(why), err);
	if (rc)
		goto out;
	rcode = reply ? (int)ldns_pkt_get_rcode(reply) : -1;
	if ((rcode == LDNS_RCODE_NXDOMAIN || rcode == LDNS_RCODE_NOERROR) &&
	    st != LDNS_STATUS_CRYPTO_TSIG_BOGUS) {
		snprintf(out->proved, sizeof(out->proved),
		    "%.40s accepts %s%.40s for updates of zone %.60s (a probe UPDATE whose "
		    "prerequisite fails by construction was answered %s; nothing changed)",
		    d->server, d->tsig_name ? "TSIG key " : "unsigned updates",
		    d->tsig_name ? key : "", p->zone,
		    rcode == LDNS_RCODE_NXDOMAIN ? "NXDOMAIN" : "NOERROR");
		snprintf(out->unproved, sizeof(out->unproved),
		    "per-name update-policy rules, which a server applies only after the "
		    "prerequisites");
		goto out;
	}
	if (!reply) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "rfc2136: the access probe (an UPDATE that changes nothing) got no answer "
		    "(%s); "
		    "check server in [provider.%s] and that the primary accepts TCP",
		    why, p->name);
		if (err)
			err->transient = true;
		goto out;
	}
	rc = map_reply(p, &probe, st, reply, why, err);
	if (!rc) /* NOERROR without a valid signature */
		rc = mx_err_set(err, MX_EAUTH,
		    "rfc2136: %s answered without a valid signature of TSIG key %s; check tsig_alg "
		    "and the key on the server",
		    d->server, key);
out:
	ldns_rr_list_deep_free(pre);
	ldns_rr_list_deep_free(upd);
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(pkt);
	ldns_pkt_free(reply);
	return rc;
}

/* ------------------------------------------------------------------ config */

/* "ip" or "ip@port" (IPv6 may be bracketed: "[::1]@53"). */
static int parse_server(struct prov *p, struct r2136 *d, const char *s, struct mx_err *err)
{
	const char *at = strrchr(s, '@');
	size_t len = at ? (size_t)(at - s) : strlen(s);
	unsigned char buf[sizeof(struct in6_addr)];
	unsigned long port = 53;
	char *end;

	if (len && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (at) {
		port = strtoul(at + 1, &end, 10);
		if (end == at + 1 || *end || port < 1 || port > 65535)
			goto bad;
	}
	if (!len || len >= sizeof(d->ip))
		goto bad;
	memcpy(d->ip, s, len);
	d->ip[len] = 0;
	if (inet_pton(AF_INET, d->ip, buf) == 1)
		d->ip6 = false;
	else if (inet_pton(AF_INET6, d->ip, buf) == 1)
		d->ip6 = true;
	else
		goto bad;
	d->port = (uint16_t)port;
	snprintf(d->server, sizeof(d->server), "%s@%u", d->ip, d->port);
	return MX_OK;
bad:
	return mx_err_set(err, MX_EINVAL,
	    "[provider.%s]: server must be the primary's IP address with an optional port, e.g. "
	    "server = 192.0.2.53@53",
	    p->name);
}

/* The secret may be the bare base64 text or a BIND key file ('secret "…";'). Keeps only the
 * base64 in *secret and checks its alphabet. */
static int take_secret(struct prov *p, char **secret, struct mx_err *err)
{
	char *s = *secret, *q = strstr(s, "secret"), *w = s;
	size_t n = 0;

	if (q && (q = strchr(q, '"'))) {
		char *e = strchr(q + 1, '"');

		if (e) {
			memmove(s, q + 1, (size_t)(e - q - 1));
			s[e - q - 1] = 0;
		}
	}
	for (char *r = s; *r; r++) {
		if (isspace((unsigned char)*r))
			continue;
		if (!isalnum((unsigned char)*r) && *r != '+' && *r != '/' && *r != '=')
			return mx_err_set(err, MX_EINVAL,
			    "[provider.%s]: the TSIG secret is not base64; put the key's base64 "
			    "secret "
			    "in tsig_keyfile or tsig_secret_env",
			    p->name);
		w[n++] = *r;
	}
	w[n] = 0;
	if (!n)
		return mx_err_set(
		    err, MX_EINVAL, "[provider.%s]: the TSIG secret is empty", p->name);
	return MX_OK;
}

static void r2136_close(struct prov *p)
{
	struct r2136 *d = p->priv;

	if (!d)
		return;
	free(d->tsig_name);
	free(d->key_label);
	free(d->tsig_alg);
	mx_secret_free(d->tsig_secret);
	free(d);
	p->priv = NULL;
}

static int r2136_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	const char *server = mx_conf_get(cfg, "server");
	const char *name = mx_conf_get(cfg, "tsig_name");
	const char *alg = mx_conf_get(cfg, "tsig_alg");
	struct r2136 *d = calloc(1, sizeof(*d));
	size_t i, len;
	int rc;

	if (!d)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->priv = d;
	if (!server) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: server is missing; set it to the zone primary's address, e.g. "
		    "server = 192.0.2.53",
		    p->name);
		goto out;
	}
	rc = parse_server(p, d, server, err);
	if (rc)
		goto out;
	if (!alg || !*alg)
		alg = "hmac-sha256";
	len = strlen(alg);
	if (len && alg[len - 1] == '.')
		len--;
	for (i = 0; i < sizeof(tsig_algs) / sizeof(tsig_algs[0]); i++)
		if (strlen(tsig_algs[i].conf) == len && !strncasecmp(tsig_algs[i].conf, alg, len))
			break;
	if (i == sizeof(tsig_algs) / sizeof(tsig_algs[0])) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: tsig_alg %s is not supported; use hmac-sha256 (or hmac-sha1, "
		    "-sha224, -sha384, -sha512, hmac-md5.sig-alg.reg.int)",
		    p->name, alg);
		goto out;
	}
	rc = mx_secret_load(
	    cfg, "tsig_secret_env", "tsig_keyfile", name != NULL, &d->tsig_secret, err);
	if (rc) /* its messages name [provider.NAME] */
		goto out;
	if (!name && d->tsig_secret) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: a TSIG secret is set but tsig_name is missing; set tsig_name "
		    "to "
		    "the key's name on the server",
		    p->name);
		goto out;
	}
	if (!name)
		goto out; /* unsigned updates, for servers that allow-update by address */
	rc = take_secret(p, &d->tsig_secret, err);
	if (rc)
		goto out;
	len = strlen(name);
	d->tsig_alg = strdup(tsig_algs[i].ldns);
	d->key_label = strndup(name, len && name[len - 1] == '.' ? len - 1 : len);
	if (asprintf(&d->tsig_name, "%s%s", name, len && name[len - 1] == '.' ? "" : ".") < 0)
		d->tsig_name = NULL;
	if (!d->tsig_alg || !d->tsig_name || !d->key_label)
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	return rc;
}

const struct prov_ops prov_rfc2136_ops = {
    .name = "rfc2136",
    .caps = PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_KEYED_WRITES,
    .min_ttl = 1,
    .open = r2136_open,
    .read_rrset = r2136_read_rrset,
    .replace_rrset = r2136_replace_rrset,
    .close = r2136_close,
    .check_access = r2136_check_access,
};
