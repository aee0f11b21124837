/* SPDX-License-Identifier: MIT */
/* providers/registry.c — the provider registry and the canonical RRset helpers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider.h"

#include "clock.h"
#include "domain.h"

/* One line per adapter; the order is the order of `--help` listings. */
const struct prov_ops *const prov_registry[] = {
    &prov_powerdns_ops,
    &prov_rfc2136_ops,
    &prov_route53_ops,
    &prov_gcloud_ops,
    &prov_cloudflare_ops,
    &prov_azure_ops,
    &prov_manual_ops,
    NULL,
};

const struct prov_ops *prov_find(const char *type)
{
	for (size_t i = 0; prov_registry[i]; i++)
		if (!strcmp(prov_registry[i]->name, type))
			return prov_registry[i];
	return NULL;
}

int prov_open(const struct mx_conf *conf, const char *name, const char *zone, struct dns_ctx *dns,
    struct http_ctx *http, struct prov **out, struct mx_err *err)
{
	const struct mx_conf_section *s = mx_conf_provider(conf, name);
	const struct prov_ops *ops;
	struct prov *p;
	int rc;

	if (!s) {
		char known[256] = "";
		size_t used = 0;

		for (size_t i = 0; i < conf->nprov && used < sizeof(known); i++)
			used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
			    used ? ", " : "", conf->prov[i].name);
		return mx_err_set(err, MX_EINVAL,
		    "--provider %s: the config %s has no [provider.%s] section%s%s", name,
		    conf->path ? conf->path : "(none)", name, used ? "; configured: " : "", known);
	}
	ops = prov_find(s->type);
	if (!ops)
		return mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: the %s adapter is not part of this build yet", name, s->type);
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(name))) {
		free(p);
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	p->ops = ops;
	p->dns = dns;
	p->http = http;
	p->conf = conf;
	snprintf(p->zone, sizeof(p->zone), "%s", zone);
	rc = ops->open(p, s, err);
	if (rc) {
		prov_close(p);
		return rc;
	}
	*out = p;
	return MX_OK;
}

void prov_close(struct prov *p)
{
	if (!p)
		return;
	if (p->ops && p->ops->close)
		p->ops->close(p);
	prov_rrset_clear(&p->settle.want);
	free(p->name);
	free(p);
}

int prov_rrset_add(struct mx_rrset *s, const char *value, struct mx_err *err)
{
	char **grown = realloc(s->values, (s->n + 1) * sizeof(*grown));

	if (!grown)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	s->values = grown;
	s->values[s->n] = strdup(value);
	if (!s->values[s->n])
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	s->n++;
	return MX_OK;
}

static int cmp_value(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void prov_rrset_sort(struct mx_rrset *s)
{
	if (s->n > 1)
		qsort(s->values, s->n, sizeof(*s->values), cmp_value);
}

bool prov_rrset_equal(const struct mx_rrset *a, const struct mx_rrset *b, bool with_ttl)
{
	if (a->n != b->n || a->type != b->type || strcasecmp(a->name, b->name))
		return false;
	if (with_ttl && a->n && a->ttl != b->ttl)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->values[i], b->values[i]))
			return false;
	return true;
}

int prov_rrset_copy(struct mx_rrset *dst, const struct mx_rrset *src, struct mx_err *err)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->name, src->name, sizeof(dst->name));
	dst->type = src->type;
	dst->ttl = src->ttl;
	for (size_t i = 0; i < src->n; i++)
		if (prov_rrset_add(dst, src->values[i], err)) {
			prov_rrset_clear(dst);
			return MX_ENOMEM;
		}
	return MX_OK;
}

void prov_rrset_clear(struct mx_rrset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->values[i]);
	free(s->values);
	s->values = NULL;
	s->n = 0;
}

char *prov_rrset_text(const struct mx_rrset *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	if (!fp)
		return NULL;
	if (!s->n)
		fputs("(none)", fp);
	for (size_t i = 0; i < s->n; i++)
		fprintf(
		    fp, s->type == DNS_T_TXT ? "%s\"%s\"" : "%s%s", i ? ", " : "", s->values[i]);
	if (s->n)
		fprintf(fp, " (TTL %u)", s->ttl);
	fclose(fp);
	return out;
}

int prov_mx_value(unsigned pref, const char *host, char *out, size_t outlen)
{
	size_t len = strlen(host);
	int n;

	if (len && host[len - 1] == '.')
		len--;
	/* No empty label, no blank or control byte: such a host cannot be a DNS name. */
	if (!len || host[0] == '.' || host[len - 1] == '.' || strstr(host, ".."))
		return MX_EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)host[i] <= ' ' || host[i] == 0x7f)
			return MX_EINVAL;
	/* At most 253 characters, labels of at most 63 (RFC 1035 §2.3.4). */
	if (len > 253)
		return MX_EINVAL;
	for (size_t i = 0, label = 0; i < len; i++) {
		label = host[i] == '.' ? 0 : label + 1;
		if (label > 63)
			return MX_EINVAL;
	}
	n = snprintf(out, outlen, "%u %.*s", pref, (int)len, host);
	if (n < 0 || (size_t)n >= outlen)
		return MX_EINVAL;
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return MX_OK;
}

bool prov_mx_parse(const char *value, unsigned *pref, char *host, size_t hostlen)
{
	char *end;
	unsigned long n = strtoul(value, &end, 10);

	if (end == value || *end != ' ' || n > 65535 || !end[1])
		return false;
	*pref = (unsigned)n;
	snprintf(host, hostlen, "%s", end + 1);
	return true;
}

double prov_backoff(int attempt)
{
	return attempt >= 5 ? 8.0 : 0.5 * (double)(1 << (attempt > 0 ? attempt - 1 : 0));
}

void prov_pause(double seconds)
{
	mx_pause(seconds, "a provider adapter");
}

int prov_wait(struct prov *p, double seconds, struct mx_err *err)
{
	if (!p->no_wait || seconds <= 0) {
		prov_pause(seconds);
		return MX_OK;
	}
	mx_err_set(err, MX_ERATELIMIT,
	    "%s: the provider asks to wait %.0f s before the next request (rate limit or a "
	    "passing failure); the run waits, then tries again",
	    p->name, seconds);
	if (err)
		err->retry_after = (int)(seconds + 0.999);
	return MX_ERATELIMIT;
}

bool prov_engine_retries(const struct prov *p, const struct http_response *resp)
{
	if (!p->no_wait)
		return false;
	if (resp->fail != HTTP_FAIL_NONE)
		return true;
	if (resp->status == 503) /* with Retry-After: a rate limit, for prov_wait */
		return !http_header(resp, "Retry-After");
	return resp->status >= 500;
}

int prov_no_answer(
    const char *who, const char *where, const struct http_response *resp, struct mx_err *err)
{
	mx_err_set(err, MX_EPROVIDER, "%s: cannot reach %s (%s)", who, where,
	    resp->error[0] ? resp->error : "no response");
	if (err)
		err->transient = true;
	return MX_EPROVIDER;
}

static int settle_error(const struct prov *p, const char *who, struct mx_err *err)
{
	const struct mx_rrset *w = &p->settle.want;

	mx_err_set(err, MX_EPROVIDER,
	    "%s accepted the change to the %s records of %s but does not list it yet; the run "
	    "reads them again (if this lasts, wait a minute, then resume)",
	    who, w->type == DNS_T_MX ? "MX" : "TXT", w->name);
	if (err)
		err->transient = true;
	return MX_EPROVIDER;
}

int prov_settle_wait(
    struct prov *p, const struct mx_rrset *want, const char *who, struct mx_err *err)
{
	prov_rrset_clear(&p->settle.want);
	p->settle.pending = false;
	if (prov_rrset_copy(&p->settle.want, want, err))
		return err ? err->rc : MX_ENOMEM;
	p->settle.pending = true;
	p->settle.since = prov_monotonic();
	return settle_error(p, who, err);
}

bool prov_settle_pending(const struct prov *p, const char *name, uint16_t type)
{
	return p->settle.pending && p->settle.want.type == type &&
	       !strcasecmp(p->settle.want.name, name);
}

int prov_settle_check(struct prov *p, const char *name, uint16_t type, const struct mx_rrset *got,
    const char *who, struct mx_err *err)
{
	if (!prov_settle_pending(p, name, type))
		return MX_OK;
	if (!prov_rrset_equal(got, &p->settle.want, true) &&
	    prov_monotonic() - p->settle.since < PROV_SETTLE_MAX)
		return settle_error(p, who, err);
	prov_rrset_clear(&p->settle.want);
	p->settle.pending = false;
	return MX_OK;
}

double prov_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double prov_retry_delay(const struct http_response *resp, int attempt, double max)
{
	const char *ra = resp->status == 429 ? http_header(resp, "Retry-After") : NULL;
	double wait = ra ? atof(ra) : 0;

	if (wait <= 0)
		return prov_backoff(attempt);
	return wait > max ? max : wait;
}

int prov_check_name(struct prov *p, const char *name, uint16_t type, struct mx_err *err)
{
	if (type != DNS_T_MX && type != DNS_T_TXT)
		return mx_err_set(err, MX_EINVAL,
		    "%s: this adapter reads and writes only MX and TXT RRsets", p->ops->name);
	if (!mx_name_under(name, p->zone))
		return mx_err_set(
		    err, MX_EINVAL, "%s: %s is not inside zone %s", p->ops->name, name, p->zone);
	return MX_OK;
}
