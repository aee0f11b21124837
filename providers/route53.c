/* SPDX-License-Identifier: MIT */
/* providers/route53.c — the Amazon Route 53 adapter: requests signed with AWS SigV4
 * (OpenSSL), XML through libxml2's tree API, HTTP through src/http. A change is one
 * ChangeResourceRecordSets batch — DELETE of the RRset exactly as read, then CREATE — which
 * Route 53 applies atomically or refuses (InvalidChangeBatch): the compare-and-swap. The
 * change is then polled with GetChange until INSYNC; the engine's propagation wait follows. */
#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "provider.h"
#include "route53.h"
#include "secret.h"

#define R53_API		"/2013-04-01"
#define R53_XMLNS	"https://route53.amazonaws.com/doc/2013-04-01/"
#define R53_ATTEMPTS	6   /* tries of one request while AWS throttles or fails */
#define R53_BACKOFF_MS	250 /* first pause; doubled each time, at most R53_MAX_PAUSE */
#define R53_MAX_PAUSE	8000
#define R53_SYNC_POLLS	40   /* GetChange polls before we leave INSYNC to the engine's wait */
#define R53_SYNC_MAX_MS 5000 /* the longest pause between two polls */

struct r53 {
	char *base;   /* scheme://authority[/prefix], no trailing '/' */
	char *host;   /* authority, as signed and sent in Host: */
	char *prefix; /* path prefix of base ("" normally) */
	char *region;
	char *key_id;  /* access key id */
	char *secret;  /* secret access key; only ever fed to HMAC */
	char *token;   /* session token or NULL */
	char *zone_id; /* bare hosted zone id, configured or looked up on first use */
};

/* ------------------------------------------------------------------ SigV4 */

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* hex(SHA-256(data)) into out[65]. */
static bool sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return false;
	hex_encode(md, mdlen, out);
	return true;
}

static bool hmac256(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned outlen = 0;

	return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out,
		   &outlen) &&
	       outlen == 32;
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* AWS's URI encoding: everything but the unreserved set as %XX (upper-case hex). */
static void uri_encode(FILE *fp, const char *s, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/'))
			fputc(c, fp);
		else
			fprintf(fp, "%%%02X", c);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) then AWS-encodes it; caller frees. */
static char *uri_reencode(const char *s, size_t len)
{
	char *dec = malloc(len + 1), *out = NULL;
	size_t n = 0, outlen = 0;
	FILE *fp;

	if (!dec)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			dec[n++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			dec[n++] = s[i];
		}
	}
	fp = open_memstream(&out, &outlen);
	if (fp) {
		uri_encode(fp, dec, n, false);
		if (fclose(fp)) {
			free(out);
			out = NULL;
		}
	}
	free(dec);
	return out;
}

struct kv {
	char *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* The canonical query string: parameters re-encoded, sorted by name then value. */
static bool canonical_query(FILE *fp, const char *query)
{
	struct kv *kv = NULL;
	size_t n = 0;
	bool ok = true;

	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		struct kv *grown;

		if (end == p) {
			p = end + 1;
			continue;
		}
		grown = realloc(kv, (n + 1) * sizeof(*kv));
		if (!grown) {
			ok = false;
			break;
		}
		kv = grown;
		kv[n].k = uri_reencode(p, (size_t)((eq ? eq : end) - p));
		kv[n].v = eq ? uri_reencode(eq + 1, (size_t)(end - eq - 1)) : strdup("");
		n++;
		if (!kv[n - 1].k || !kv[n - 1].v) {
			ok = false;
			break;
		}
		p = amp ? amp + 1 : end;
	}
	if (ok && n > 1)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	for (size_t i = 0; ok && i < n; i++)
		fprintf(fp, "%s%s=%s", i ? "&" : "", kv[i].k, kv[i].v);
	for (size_t i = 0; i < n; i++) {
		free(kv[i].k);
		free(kv[i].v);
	}
	free(kv);
	return ok;
}

struct hdr {
	char *name;  /* lower-case */
	char *value; /* trimmed, inner runs of spaces collapsed, duplicates joined by ',' */
};

static int hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

/* value trimmed and with sequential spaces collapsed, appended to *dst (after a ','). */
static bool hdr_append(char **dst, const char *value)
{
	size_t old = *dst ? strlen(*dst) : 0, len = strlen(value), n = 0;
	char *out = realloc(*dst, old + len + 2);

	if (!out)
		return false;
	*dst = out;
	if (old)
		out[old++] = ',';
	while (*value == ' ' || *value == '\t')
		value++;
	for (const char *s = value; *s; s++) {
		if ((*s == ' ' || *s == '\t') && (s[1] == ' ' || s[1] == '\t' || !s[1]))
			continue;
		out[old + n++] = *s == '\t' ? ' ' : *s;
	}
	out[old + n] = '\0';
	return true;
}

void r53_sigv4_free(struct r53_sigv4 *s)
{
	free(s->creq);
	free(s->sts);
	free(s->authz);
	memset(s, 0, sizeof(*s));
}

int r53_sigv4_sign(const struct r53_sigv4_req *req, struct r53_sigv4 *out, struct mx_err *err)
{
	struct hdr *h = calloc(req->nheaders ? req->nheaders : 1, sizeof(*h));
	size_t nh = 0, creqlen = 0, stslen = 0, len;
	char payload[65], creq_hash[65], sig[65], date[9], *secret_key = NULL;
	unsigned char k1[32], k2[32], k3[32], k4[32], mac[32];
	bool have_host = false, have_date = false;
	FILE *fp = NULL;
	int rc = MX_ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!h)
		goto nomem;
	for (size_t i = 0; i < req->nheaders; i++) {
		char *name = strdup(req->headers[i].name);
		size_t j;

		if (!name)
			goto nomem;
		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		for (j = 0; j < nh && strcmp(h[j].name, name); j++)
			;
		if (j == nh)
			h[nh++].name = name;
		else
			free(name);
		if (!hdr_append(&h[j].value, req->headers[i].value))
			goto nomem;
		have_host |= !strcmp(h[j].name, "host");
		have_date |= !strcmp(h[j].name, "x-amz-date");
	}
	if (!have_host || !have_date || !req->amz_date || strlen(req->amz_date) != 16) {
		rc = mx_err_set(err, MX_EINVAL,
		    "route53: a request to sign needs a Host and an X-Amz-Date header");
		goto out;
	}
	qsort(h, nh, sizeof(*h), hdr_cmp);
	if (!sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, payload))
		goto nomem;

	fp = open_memstream(&out->creq, &creqlen);
	if (!fp)
		goto nomem;
	fprintf(fp, "%s\n", req->method);
	uri_encode(fp, req->path && *req->path ? req->path : "/",
	    req->path && *req->path ? strlen(req->path) : 1, true);
	fputc('\n', fp);
	if (!canonical_query(fp, req->query)) {
		fclose(fp);
		goto nomem;
	}
	fputc('\n', fp);
	for (size_t i = 0; i < nh; i++)
		fprintf(fp, "%s:%s\n", h[i].name, h[i].value);
	fputc('\n', fp);
	for (size_t i = 0; i < nh; i++)
		fprintf(fp, "%s%s", i ? ";" : "", h[i].name);
	fprintf(fp, "\n%s", payload);
	if (fclose(fp))
		goto nomem;

	memcpy(date, req->amz_date, 8);
	date[8] = '\0';
	if (!sha256_hex(out->creq, creqlen, creq_hash))
		goto nomem;
	fp = open_memstream(&out->sts, &stslen);
	if (!fp)
		goto nomem;
	fprintf(fp, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", req->amz_date, date,
	    req->region, req->service, creq_hash);
	if (fclose(fp))
		goto nomem;

	len = strlen(req->secret) + 5;
	secret_key = malloc(len);
	if (!secret_key)
		goto nomem;
	snprintf(secret_key, len, "AWS4%s", req->secret);
	if (!hmac256(secret_key, len - 1, date, k1) || !hmac256(k1, 32, req->region, k2) ||
	    !hmac256(k2, 32, req->service, k3) || !hmac256(k3, 32, "aws4_request", k4) ||
	    !hmac256(k4, 32, out->sts, mac))
		goto nomem;
	hex_encode(mac, 32, sig);

	fp = open_memstream(&out->authz, &len);
	if (!fp)
		goto nomem;
	fprintf(fp,
	    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=", req->key_id,
	    date, req->region, req->service);
	for (size_t i = 0; i < nh; i++)
		fprintf(fp, "%s%s", i ? ";" : "", h[i].name);
	fprintf(fp, ", Signature=%s", sig);
	if (fclose(fp))
		goto nomem;
	rc = MX_OK;
	goto out;
nomem:
	rc = mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	if (secret_key) {
		OPENSSL_cleanse(secret_key, strlen(secret_key));
		free(secret_key);
	}
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	for (size_t i = 0; h && i < nh; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	if (rc)
		r53_sigv4_free(out);
	return rc;
}

/* ------------------------------------------------------------------ values */

static const char *r53_type_name(uint16_t type)
{
	return type == DNS_T_MX ? "MX" : type == DNS_T_TXT ? "TXT" : NULL;
}

/* Canonical TXT text → Route 53's value: quoted character-strings of at most 255 bytes,
 * '"' and '\' escaped with a backslash, other bytes outside printable ASCII as \ooo
 * (three octal digits, as Route 53 documents). Caller frees. */
static char *r53_txt_quote(const char *text)
{
	size_t len = strlen(text), at = 0, outlen = 0;
	char *out = NULL;
	FILE *fp = open_memstream(&out, &outlen);

	if (!fp)
		return NULL;
	do {
		size_t chunk = len - at > 255 ? 255 : len - at;

		fputs(at ? " \"" : "\"", fp);
		for (size_t i = at; i < at + chunk; i++) {
			unsigned char c = (unsigned char)text[i];

			if (c == '"' || c == '\\')
				fprintf(fp, "\\%c", c);
			else if (c < 0x20 || c > 0x7e)
				fprintf(fp, "\\%03o", c);
			else
				fputc(c, fp);
		}
		fputc('"', fp);
		at += chunk;
	} while (at < len);
	if (fclose(fp)) {
		free(out);
		return NULL;
	}
	return out;
}

/* Route 53's TXT value → canonical text (strings concatenated). NULL when malformed. */
static char *r53_txt_unquote(const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	char *out = NULL;
	size_t outlen = 0;
	bool ok = true;
	FILE *fp = open_memstream(&out, &outlen);

	if (!fp)
		return NULL;
	while (ok && *s) {
		bool quoted;

		if (isspace(*s)) {
			s++;
			continue;
		}
		quoted = *s == '"';
		s += quoted;
		for (;;) {
			unsigned c = *s;

			if (!c) {
				ok = !quoted;
				break;
			}
			if ((quoted && c == '"') || (!quoted && isspace(c))) {
				s += quoted;
				break;
			}
			s++;
			if (c == '\\') {
				if (s[0] >= '0' && s[0] <= '7') {
					if (s[1] < '0' || s[1] > '7' || s[2] < '0' || s[2] > '7') {
						ok = false;
						break;
					}
					c = (unsigned)((s[0] - '0') * 64 + (s[1] - '0') * 8 +
						       (s[2] - '0'));
					s += 3;
					if (!c) {
						ok = false;
						break;
					}
				} else if (!*s) {
					ok = false;
					break;
				} else {
					c = *s++;
				}
			}
			fputc((int)c, fp);
		}
	}
	if (fclose(fp) || !ok) {
		free(out);
		return NULL;
	}
	return out;
}

static char *r53_value_to_api(uint16_t type, const char *value)
{
	char host[256], *out = NULL;
	unsigned pref;

	if (type == DNS_T_TXT)
		return r53_txt_quote(value);
	if (type != DNS_T_MX || !prov_mx_parse(value, &pref, host, sizeof(host)) ||
	    strchr(host, ' '))
		return NULL;
	if (asprintf(&out, "%u %s%s", pref, host, host[strlen(host) - 1] == '.' ? "" : ".") < 0)
		return NULL;
	return out;
}

static char *r53_value_from_api(uint16_t type, const char *value)
{
	char host[256], canon[300];
	unsigned pref;

	if (type == DNS_T_TXT)
		return r53_txt_unquote(value);
	if (type != DNS_T_MX || !prov_mx_parse(value, &pref, host, sizeof(host)) ||
	    strchr(host, ' ') || prov_mx_value(pref, host, canon, sizeof(canon)))
		return NULL;
	return strdup(canon);
}

/* A TTL as Route 53 writes it: decimal digits, 0 to 2^31-1 (RFC 2181, section 8). */
static bool r53_ttl_parse(const char *text, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > INT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Route 53's name ("x.contoso.com.", '*' as \052) equals canonical name. */
static bool r53_name_is(const char *api, const char *name)
{
	char buf[256];
	size_t n = 0;

	for (const char *s = api; *s && n < sizeof(buf) - 1; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && isdigit((unsigned char)s[2]) &&
		    isdigit((unsigned char)s[3])) {
			buf[n++] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			buf[n++] = *s;
		}
	}
	if (n && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	return !strcasecmp(buf, name);
}

/* ------------------------------------------------------------------ XML */

static xmlDocPtr xml_read(const char *body, size_t len)
{
	if (!body || !len || len > 64u * 1024 * 1024)
		return NULL;
	return xmlReadMemory(body, (int)len, "route53.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The first element child of node with local name name, or NULL. */
static xmlNodePtr xml_child(xmlNodePtr node, const char *name)
{
	for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* The text of node's child name copied into out ("" when absent). */
static void xml_text(xmlNodePtr node, const char *name, char *out, size_t outlen)
{
	xmlNodePtr c = xml_child(node, name);
	xmlChar *t = c ? xmlNodeGetContent(c) : NULL;

	snprintf(out, outlen, "%s", t ? (const char *)t : "");
	xmlFree(t);
}

static bool xml_true(xmlNodePtr node, const char *name)
{
	char buf[8];

	xml_text(node, name, buf, sizeof(buf));
	return !strcmp(buf, "true");
}

/* Appends one Change (Action, ResourceRecordSet) for set to changes. */
static int xml_add_change(
    xmlNodePtr changes, const char *action, const struct mx_rrset *set, struct mx_err *err)
{
	xmlNodePtr change, rrset, records;
	char ttl[16], *fqdn = NULL;
	int rc = MX_OK;

	if (asprintf(&fqdn, "%s.", set->name) < 0)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	snprintf(ttl, sizeof(ttl), "%u", set->ttl);
	change = xmlNewChild(changes, NULL, BAD_CAST "Change", NULL);
	xmlNewTextChild(change, NULL, BAD_CAST "Action", BAD_CAST action);
	rrset = xmlNewChild(change, NULL, BAD_CAST "ResourceRecordSet", NULL);
	xmlNewTextChild(rrset, NULL, BAD_CAST "Name", BAD_CAST fqdn);
	xmlNewTextChild(rrset, NULL, BAD_CAST "Type", BAD_CAST r53_type_name(set->type));
	xmlNewTextChild(rrset, NULL, BAD_CAST "TTL", BAD_CAST ttl);
	records = xmlNewChild(rrset, NULL, BAD_CAST "ResourceRecords", NULL);
	for (size_t i = 0; i < set->n; i++) {
		char *value = r53_value_to_api(set->type, set->values[i]);
		xmlNodePtr rec;

		if (!value) {
			rc = mx_err_set(err, MX_EINVAL,
			    "route53: the %s value \"%.80s\" for %s is malformed",
			    r53_type_name(set->type), set->values[i], set->name);
			break;
		}
		rec = xmlNewChild(records, NULL, BAD_CAST "ResourceRecord", NULL);
		xmlNewTextChild(rec, NULL, BAD_CAST "Value", BAD_CAST value);
		free(value);
	}
	free(fqdn);
	return rc;
}

char *r53_change_batch_xml(
    const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, batch, changes;
	xmlChar *mem = NULL;
	char *out = NULL;
	int size = 0;

	if (!r53_type_name(want->type) || (expect->n && expect->type != want->type)) {
		mx_err_set(err, MX_EINVAL, "route53: this adapter writes only MX and TXT RRsets");
		goto out;
	}
	if (!expect->n && !want->n) {
		mx_err_set(err, MX_EINVAL, "route53: a change batch needs a DELETE or a CREATE");
		goto out;
	}
	doc = xmlNewDoc(BAD_CAST "1.0");
	root = doc ? xmlNewNode(NULL, BAD_CAST "ChangeResourceRecordSetsRequest") : NULL;
	if (!root) {
		mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	xmlDocSetRootElement(doc, root);
	xmlSetNs(root, xmlNewNs(root, BAD_CAST R53_XMLNS, NULL));
	batch = xmlNewChild(root, NULL, BAD_CAST "ChangeBatch", NULL);
	xmlNewTextChild(batch, NULL, BAD_CAST "Comment", BAD_CAST "mxcutover");
	changes = xmlNewChild(batch, NULL, BAD_CAST "Changes", NULL);
	/* DELETE first: Route 53 checks the batch as a whole, but this order reads as what it
	 * does, and a CREATE of a name/type that still exists would be refused. */
	if (expect->n && xml_add_change(changes, "DELETE", expect, err))
		goto out;
	if (want->n && xml_add_change(changes, "CREATE", want, err))
		goto out;
	xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
	if (!mem || size <= 0 || !(out = strndup((const char *)mem, (size_t)size)))
		mx_err_set(err, MX_ENOMEM, "out of memory");
out:
	xmlFree(mem);
	xmlFreeDoc(doc);
	return out;
}

int r53_rrsets_parse(const char *body, size_t len, const char *name, uint16_t type,
    struct mx_rrset *out, struct r53_rr_page *page, struct mx_err *err)
{
	xmlDocPtr doc = xml_read(body, len);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, sets;
	const char *tname = r53_type_name(type);
	int rc = MX_OK;

	memset(page, 0, sizeof(*page));
	sets = xml_child(root, "ResourceRecordSets");
	if (!tname || !root || strcmp((const char *)root->name, "ListResourceRecordSetsResponse") ||
	    !sets) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "route53: the answer to ListResourceRecordSets for %s is not the documented "
		    "XML; check base_url",
		    name);
		goto out;
	}
	for (xmlNodePtr s = sets->children; s; s = s->next) {
		char sname[256], stype[16], ttl[16];
		xmlNodePtr recs;

		if (s->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)s->name, "ResourceRecordSet"))
			continue;
		xml_text(s, "Name", sname, sizeof(sname));
		xml_text(s, "Type", stype, sizeof(stype));
		if (!r53_name_is(sname, name) || strcmp(stype, tname)) {
			page->past = true;
			break;
		}
		if (xml_child(s, "AliasTarget") || xml_child(s, "SetIdentifier")) {
			page->unsupported = true;
			continue;
		}
		xml_text(s, "TTL", ttl, sizeof(ttl));
		if (!r53_ttl_parse(ttl, &out->ttl)) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "route53: the TTL \"%s\" of %s %s is not a number from 0 to %d; fix "
			    "it in the Route 53 console",
			    ttl, name, tname, INT32_MAX);
			goto out;
		}
		recs = xml_child(s, "ResourceRecords");
		for (xmlNodePtr r = recs ? recs->children : NULL; r; r = r->next) {
			char raw[4096], *value;

			if (r->type != XML_ELEMENT_NODE)
				continue;
			xml_text(r, "Value", raw, sizeof(raw));
			value = r53_value_from_api(type, raw);
			if (!value) {
				rc = mx_err_set(err, MX_EPROVIDER,
				    "route53: cannot parse the %s value \"%.80s\" of %s; fix it in "
				    "the Route 53 console",
				    tname, raw, name);
				goto out;
			}
			rc = prov_rrset_add(out, value, err);
			free(value);
			if (rc)
				goto out;
		}
	}
	page->truncated = xml_true(root, "IsTruncated");
	xml_text(root, "NextRecordName", page->next_name, sizeof(page->next_name));
	xml_text(root, "NextRecordType", page->next_type, sizeof(page->next_type));
	xml_text(root, "NextRecordIdentifier", page->next_id, sizeof(page->next_id));
	if (page->truncated &&
	    (!r53_name_is(page->next_name, name) || strcmp(page->next_type, tname)))
		page->past = true;
out:
	xmlFreeDoc(doc);
	return rc;
}

int r53_zones_parse(const char *body, size_t len, const char *zone, char **id,
    struct r53_zone_page *page, struct mx_err *err)
{
	xmlDocPtr doc = xml_read(body, len);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, zones;
	int rc = MX_OK;

	memset(page, 0, sizeof(*page));
	zones = xml_child(root, "HostedZones");
	if (!root || strcmp((const char *)root->name, "ListHostedZonesByNameResponse") || !zones) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "route53: the answer to ListHostedZonesByName for %s is not the documented "
		    "XML; check base_url",
		    zone);
		goto out;
	}
	for (xmlNodePtr z = zones->children; z; z = z->next) {
		char zname[256], zid[160];
		const char *bare;

		if (z->type != XML_ELEMENT_NODE || strcmp((const char *)z->name, "HostedZone"))
			continue;
		xml_text(z, "Name", zname, sizeof(zname));
		xml_text(z, "Id", zid, sizeof(zid));
		if (!r53_name_is(zname, zone) || xml_true(xml_child(z, "Config"), "PrivateZone"))
			continue;
		page->matches++;
		bare = strrchr(zid, '/') ? strrchr(zid, '/') + 1 : zid;
		if (!bare[0] || strpbrk(bare, "?#%& ")) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "route53: the hosted zone list names %s with the id \"%.64s\", which "
			    "is "
			    "not a hosted zone id; check base_url",
			    zone, zid);
			goto out;
		}
		if (!*id && !(*id = strdup(bare))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	page->truncated = xml_true(root, "IsTruncated");
	xml_text(root, "NextDNSName", page->next_name, sizeof(page->next_name));
	xml_text(root, "NextHostedZoneId", page->next_id, sizeof(page->next_id));
out:
	xmlFreeDoc(doc);
	return rc;
}

int r53_hosted_zone_parse(const char *body, size_t len, char *name, size_t namelen,
    bool *private_zone, struct mx_err *err)
{
	xmlDocPtr doc = xml_read(body, len);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNodePtr zone = xml_child(root, "HostedZone");
	int rc = MX_OK;

	*name = '\0';
	*private_zone = false;
	if (!root || strcmp((const char *)root->name, "GetHostedZoneResponse") || !zone) {
		rc = mx_err_set(err, MX_EPROVIDER,
		    "route53: the answer to GetHostedZone is not the documented XML; check "
		    "base_url");
		goto out;
	}
	xml_text(zone, "Name", name, namelen);
	*private_zone = xml_true(xml_child(zone, "Config"), "PrivateZone");
out:
	xmlFreeDoc(doc);
	return rc;
}

int r53_change_parse(const char *body, size_t len, char *id, size_t idlen, char *status,
    size_t statuslen, struct mx_err *err)
{
	xmlDocPtr doc = xml_read(body, len);
	xmlNodePtr info = xml_child(doc ? xmlDocGetRootElement(doc) : NULL, "ChangeInfo");
	char raw[160];
	int rc = MX_OK;

	xml_text(info, "Id", raw, sizeof(raw));
	xml_text(info, "Status", status, statuslen);
	snprintf(id, idlen, "%s", strrchr(raw, '/') ? strrchr(raw, '/') + 1 : raw);
	if (!info || !*id || !*status)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "route53: the change answer holds no ChangeInfo Id and Status; check "
		    "base_url");
	xmlFreeDoc(doc);
	return rc;
}

void r53_error_parse(
    const char *body, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
	xmlDocPtr doc = xml_read(body, len);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, e;

	*code = *msg = '\0';
	if (!root)
		goto out;
	if (!strcmp((const char *)root->name, "InvalidChangeBatch")) {
		snprintf(code, codelen, "InvalidChangeBatch");
		xml_text(xml_child(root, "Messages"), "Message", msg, msglen);
		if (!*msg)
			xml_text(root, "Message", msg, msglen);
		goto out;
	}
	e = xml_child(root, "Error");
	if (!e)
		e = root;
	xml_text(e, "Code", code, codelen);
	xml_text(e, "Message", msg, msglen);
out:
	xmlFreeDoc(doc);
}

/* ------------------------------------------------------------------ errors */

bool r53_retryable(long status, const char *body, size_t len)
{
	char code[64], msg[8];

	if (status == 429 || (status >= 500 && status <= 599))
		return true;
	if (status != 400)
		return false;
	r53_error_parse(body, len, code, sizeof(code), msg, sizeof(msg));
	return !strcmp(code, "Throttling") || !strcmp(code, "ThrottlingException") ||
	       !strcmp(code, "PriorRequestNotComplete") || !strcmp(code, "RequestLimitExceeded");
}

int r53_status_error(
    const struct r53_call *c, long st, const char *body, size_t len, struct mx_err *err)
{
	char code[64], msg[200], arn[200];
	int rc;

	r53_error_parse(body, len, code, sizeof(code), msg, sizeof(msg));
	if (c->zone_id && *c->zone_id)
		snprintf(arn, sizeof(arn), "arn:aws:route53:::hostedzone/%s", c->zone_id);
	else
		snprintf(arn, sizeof(arn), "*");
	if (!strcmp(code, "SignatureDoesNotMatch") || !strcmp(code, "IncompleteSignature"))
		rc = mx_err_set(err, MX_EAUTH,
		    "route53: AWS refused the request signature (HTTP %ld, %s); check that the "
		    "secret access key of [provider.%s] (secret_access_key_env or "
		    "secret_access_key_file) belongs to its access key id",
		    st, code, c->provider);
	else if (!strcmp(code, "InvalidClientTokenId") ||
		 !strcmp(code, "UnrecognizedClientException"))
		rc = mx_err_set(err, MX_EAUTH,
		    "route53: AWS does not know the access key id (HTTP %ld, %s); check the "
		    "variable named by access_key_id_env of [provider.%s]",
		    st, code, c->provider);
	else if (!strcmp(code, "ExpiredToken") || !strcmp(code, "RequestExpired"))
		rc = mx_err_set(err, MX_EAUTH,
		    "route53: the credentials have expired (HTTP %ld, %s); refresh the session "
		    "token of [provider.%s] (session_token_env) or check the system clock",
		    st, code, c->provider);
	else if (st == 401 || st == 403)
		rc = mx_err_set(err, MX_EAUTH,
		    "route53: the IAM identity may not call %s on zone %s (HTTP %ld, %s); grant "
		    "it route53:%s on %s",
		    c->action, c->zone, st, *code ? code : "AccessDenied", c->action, arn);
	else if (!strcmp(code, "NoSuchHostedZone") || (st == 404 && c->zone_id))
		rc = mx_err_set(err, MX_ENOZONE,
		    "route53: hosted zone %s does not exist (HTTP %ld); fix hosted_zone_id of "
		    "[provider.%s] or remove it so the zone %s is looked up by name",
		    c->zone_id ? c->zone_id : "(none)", st, c->provider, c->zone);
	else if (!strcmp(code, "InvalidChangeBatch") &&
		 (strstr(msg, "not found") || strstr(msg, "do not match") ||
		     strstr(msg, "already exists") || strstr(msg, "values provided")))
		rc = mx_err_set(err, MX_ECONFLICT,
		    "route53: %s changed behind our back (HTTP %ld, InvalidChangeBatch: %.120s); "
		    "check who changed it, then resume or roll back",
		    c->what, st, msg);
	else if (r53_retryable(st, body, len))
		rc = mx_err_set(err, MX_ERATELIMIT,
		    "route53: AWS kept throttling %s for %s (HTTP %ld, %s) after %d tries; wait a "
		    "minute, then resume",
		    c->action, c->what, st, *code ? code : "no code", R53_ATTEMPTS);
	else if (*code)
		rc = mx_err_set(err, MX_EPROVIDER,
		    "route53: %s for %s failed (HTTP %ld, %s: %.120s); fix the cause and resume",
		    c->action, c->what, st, code, *msg ? msg : "no message");
	else
		rc = mx_err_set(err, MX_EPROVIDER,
		    "route53: unexpected HTTP %ld from %s for %s; check base_url of [provider.%s]",
		    st, c->action, c->what, c->provider);
	err->http_status = (int)st;
	return rc;
}

/* ------------------------------------------------------------------ the API */

/* Performs one signed request (path below the base, query without '?'), retrying with
 * exponential backoff while AWS throttles or fails with 5xx. *out receives the final
 * response; transport failures become MX_EPROVIDER. */
static int r53_request(struct prov *p, const char *method, const char *path, const char *query,
    const char *body, struct http_response **out, struct mx_err *err)
{
	struct r53 *d = p->priv;
	struct http_response *resp = NULL;
	char *url = NULL, *fullpath = NULL;
	long pause = R53_BACKOFF_MS;
	int rc = MX_OK;

	*out = NULL;
	if (asprintf(&fullpath, "%s%s", d->prefix, path) < 0 ||
	    asprintf(&url, "%s%s%s%s", d->base, path, query && *query ? "?" : "",
		query ? query : "") < 0) {
		fullpath = url = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		struct r53_header hv[4];
		struct r53_sigv4_req sreq = {0};
		struct r53_sigv4 sig = {0};
		struct http_request req = {0};
		char amz_date[17], *h_host = NULL, *h_date = NULL, *h_tok = NULL, *h_auth = NULL;
		const char *headers[7];
		size_t nh = 0, nhv = 0;
		time_t now = time(NULL);
		struct tm tm;
		const char *retry_after;

		gmtime_r(&now, &tm);
		strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
		hv[nhv++] = (struct r53_header){"Host", d->host};
		hv[nhv++] = (struct r53_header){"X-Amz-Date", amz_date};
		if (d->token)
			hv[nhv++] = (struct r53_header){"X-Amz-Security-Token", d->token};
		if (body)
			hv[nhv++] = (struct r53_header){"Content-Type", "text/xml"};
		sreq.method = method;
		sreq.path = fullpath;
		sreq.query = query;
		sreq.headers = hv;
		sreq.nheaders = nhv;
		sreq.body = body;
		sreq.body_len = body ? strlen(body) : 0;
		sreq.amz_date = amz_date;
		sreq.region = d->region;
		sreq.service = "route53";
		sreq.key_id = d->key_id;
		sreq.secret = d->secret;
		rc = r53_sigv4_sign(&sreq, &sig, err);
		if (rc)
			goto out;
		if (asprintf(&h_host, "Host: %s", d->host) < 0)
			h_host = NULL;
		if (asprintf(&h_date, "X-Amz-Date: %s", amz_date) < 0)
			h_date = NULL;
		if (d->token && asprintf(&h_tok, "X-Amz-Security-Token: %s", d->token) < 0)
			h_tok = NULL;
		if (asprintf(&h_auth, "Authorization: %s", sig.authz) < 0)
			h_auth = NULL;
		r53_sigv4_free(&sig);
		if (!h_host || !h_date || !h_auth || (d->token && !h_tok)) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		} else {
			headers[nh++] = h_host;
			headers[nh++] = h_date;
			if (h_tok)
				headers[nh++] = h_tok;
			if (body)
				headers[nh++] = "Content-Type: text/xml";
			headers[nh++] = h_auth;
			headers[nh++] = "Accept: text/xml";
			headers[nh] = NULL;
			req.method = method;
			req.url = url;
			req.headers = headers;
			req.body = body;
			req.body_len = body ? strlen(body) : 0;
			rc = http_perform(p->http, &req, &resp, err);
			if (rc)
				mx_err_prefix(err, "route53: %s %s", method, d->base);
		}
		free(h_host);
		free(h_date);
		mx_secret_free(h_tok);
		free(h_auth);
		if (rc)
			goto out;
		if (resp->fail != HTTP_FAIL_NONE) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "route53: cannot reach the API at %s (%s); check base_url of "
			    "[provider.%s] and the network",
			    d->base, resp->error[0] ? resp->error : "no response", p->name);
			goto out;
		}
		if (attempt >= R53_ATTEMPTS || !r53_retryable(resp->status, resp->body, resp->len))
			break;
		/* Driven by the engine: a server error goes to the caller, and the engine tries
		 * the step again after a deadline. */
		if (prov_engine_retries(p, resp))
			break;
		/* Throttling, PriorRequestNotComplete, 5xx: back off, honouring Retry-After. */
		retry_after = http_header(resp, "Retry-After");
		if (retry_after && atol(retry_after) > 0)
			pause = atol(retry_after) * 1000 > R53_MAX_PAUSE ? R53_MAX_PAUSE
									 : atol(retry_after) * 1000;
		http_response_free(resp);
		resp = NULL;
		rc = prov_wait(p, (double)pause / 1000.0, err);
		if (rc)
			goto out;
		pause = pause * 2 > R53_MAX_PAUSE ? R53_MAX_PAUSE : pause * 2;
	}
	*out = resp;
	resp = NULL;
out:
	http_response_free(resp);
	free(url);
	free(fullpath);
	return rc;
}

/* Looks up (once) the public hosted zone of p->zone with ListHostedZonesByName, following
 * pages while they still hold zones of that name. */
static int r53_zone(struct prov *p, struct mx_err *err)
{
	struct r53 *d = p->priv;
	struct r53_call call = {p->name, "ListHostedZonesByName", p->zone, NULL, p->zone};
	char *dns = NULL, *next_id = NULL, *found = NULL;
	int rc = MX_OK, matches = 0;

	if (d->zone_id)
		return MX_OK;
	dns = http_escape(p->zone);
	if (!dns) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	for (int pages = 0; pages < 100; pages++) {
		struct http_response *resp = NULL;
		struct r53_zone_page page;
		char *query = NULL, *idq = NULL;

		if (next_id && !(idq = http_escape(next_id))) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		if (asprintf(&query, "dnsname=%s.%s%s&maxitems=100", dns,
			idq ? "&hostedzoneid=" : "", idq ? idq : "") < 0) {
			free(idq);
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		free(idq);
		rc = r53_request(p, "GET", R53_API "/hostedzonesbyname", query, NULL, &resp, err);
		free(query);
		if (!rc && resp->status != 200)
			rc = r53_status_error(&call, resp->status, resp->body, resp->len, err);
		if (!rc)
			rc = r53_zones_parse(resp->body, resp->len, p->zone, &found, &page, err);
		http_response_free(resp);
		if (rc)
			goto out;
		matches += page.matches;
		if (!page.truncated || !r53_name_is(page.next_name, p->zone))
			break;
		free(next_id);
		next_id = strdup(page.next_id);
		if (!next_id) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!found)
		rc = mx_err_set(err, MX_ENOZONE,
		    "route53: no public hosted zone %s is visible to these credentials (`aws "
		    "route53 list-hosted-zones` shows them); create it in Route 53, choose the "
		    "provider that holds it, or set hosted_zone_id in [provider.%s]",
		    p->zone, p->name);
	else if (matches > 1)
		rc = mx_err_set(err, MX_EINVAL,
		    "route53: %d public hosted zones are named %s; set hosted_zone_id in "
		    "[provider.%s] to the one its registrar delegates to",
		    matches, p->zone, p->name);
	else {
		d->zone_id = found;
		found = NULL;
	}
out:
	free(dns);
	free(next_id);
	free(found);
	return rc;
}

static int r53_read_rrset(
    struct prov *p, const char *name, uint16_t type, struct mx_rrset *out, struct mx_err *err)
{
	struct r53 *d = p->priv;
	char what[300], path[200], *start = NULL, *stype = NULL, *sid = NULL;
	struct r53_call call = {p->name, "ListResourceRecordSets", p->zone, NULL, what};
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	for (char *c = out->name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	out->type = type;
	rc = prov_check_name(p, name, type, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "the %s RRset of %s", r53_type_name(type), name);
	rc = r53_zone(p, err);
	if (rc)
		return rc;
	call.zone_id = d->zone_id;
	snprintf(path, sizeof(path), R53_API "/hostedzone/%s/rrset", d->zone_id);
	if (asprintf(&start, "%s.", name) < 0 || !(stype = strdup(r53_type_name(type)))) {
		start = NULL;
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	/* Listing starts at name/type; an RRset of that name and type is all on the first
	 * page unless routing policies split it into several (NextRecordIdentifier). */
	for (int pages = 0; pages < 100; pages++) {
		struct http_response *resp = NULL;
		struct r53_rr_page page;
		char *q = NULL, *en = http_escape(start), *ei = sid ? http_escape(sid) : NULL;

		if (!en || (sid && !ei) ||
		    asprintf(&q, "name=%s&type=%s%s%s&maxitems=100", en, stype,
			ei ? "&identifier=" : "", ei ? ei : "") < 0) {
			free(en);
			free(ei);
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		free(en);
		free(ei);
		rc = r53_request(p, "GET", path, q, NULL, &resp, err);
		free(q);
		if (!rc && resp->status != 200)
			rc = r53_status_error(&call, resp->status, resp->body, resp->len, err);
		if (!rc)
			rc = r53_rrsets_parse(resp->body, resp->len, name, type, out, &page, err);
		http_response_free(resp);
		if (rc)
			goto out;
		if (page.unsupported) {
			rc = mx_err_set(err, MX_EPROVIDER,
			    "route53: %s uses an alias or a routing policy (SetIdentifier); "
			    "mxcutover changes only simple RRsets: make it a simple record first",
			    what);
			goto out;
		}
		if (page.past || !page.truncated)
			break;
		free(start);
		free(stype);
		free(sid);
		start = strdup(page.next_name);
		stype = strdup(page.next_type);
		sid = *page.next_id ? strdup(page.next_id) : NULL;
		if (!start || !stype || (*page.next_id && !sid)) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!out->n)
		out->ttl = 0;
	prov_rrset_sort(out);
out:
	if (rc)
		prov_rrset_clear(out);
	free(start);
	free(stype);
	free(sid);
	return rc;
}

/* Polls GetChange until INSYNC, pausing longer each time; a change still PENDING at the
 * end is left to the engine's propagation wait (Route 53 has accepted it atomically). */
static int r53_wait_insync(struct prov *p, const char *change_id, struct mx_err *err)
{
	struct r53 *d = p->priv;
	struct r53_call call = {p->name, "GetChange", p->zone, d->zone_id, "the change"};
	char path[200], id[128], status[32];
	long pause = R53_BACKOFF_MS;

	snprintf(path, sizeof(path), R53_API "/change/%s", change_id);
	/* With no_wait the engine's propagation wait replaces the polling. */
	for (int polls = 0; polls < R53_SYNC_POLLS && !p->no_wait; polls++) {
		struct http_response *resp = NULL;
		int rc = r53_request(p, "GET", path, NULL, NULL, &resp, err);

		if (!rc && resp->status != 200)
			rc = r53_status_error(&call, resp->status, resp->body, resp->len, err);
		if (!rc)
			rc = r53_change_parse(
			    resp->body, resp->len, id, sizeof(id), status, sizeof(status), err);
		http_response_free(resp);
		if (rc)
			return rc;
		if (!strcmp(status, "INSYNC"))
			return MX_OK;
		prov_pause((double)(pause) / 1000.0);
		pause = pause * 2 > R53_SYNC_MAX_MS ? R53_SYNC_MAX_MS : pause * 2;
	}
	return MX_OK;
}

static int r53_replace_rrset(
    struct prov *p, const struct mx_rrset *expect, const struct mx_rrset *want, struct mx_err *err)
{
	struct r53 *d = p->priv;
	struct http_response *resp = NULL;
	struct mx_rrset cur = {0};
	char what[300], path[200], id[128], status[32], *body = NULL;
	struct r53_call call = {p->name, "ChangeResourceRecordSets", p->zone, NULL, what};
	int rc;

	rc = prov_check_name(p, want->name, want->type, err);
	if (rc)
		goto out;
	snprintf(what, sizeof(what), "the %s RRset of %s", r53_type_name(want->type), want->name);
	if (want->n && want->ttl < 1) {
		rc = mx_err_set(err, MX_EINVAL, "route53: TTL %u for %s is below the minimum of 1",
		    want->ttl, want->name);
		goto out;
	}
	if (!expect->n && !want->n)
		goto out;
	if (expect->n && want->n && prov_rrset_equal(expect, want, true))
		goto out;
	rc = r53_zone(p, err);
	if (rc)
		goto out;
	call.zone_id = d->zone_id;
	body = r53_change_batch_xml(expect, want, err);
	if (!body) {
		rc = err ? err->rc : MX_EINVAL;
		goto out;
	}
	snprintf(path, sizeof(path), R53_API "/hostedzone/%s/rrset/", d->zone_id);
	rc = r53_request(p, "POST", path, NULL, body, &resp, err);
	if (rc)
		goto out;
	if (resp->status != 200) {
		rc = r53_status_error(&call, resp->status, resp->body, resp->len, err);
		/* Resume after a crash may send the batch a second time: when the zone already
		 * holds *want, the refused DELETE is our own earlier change, not a conflict. */
		if (rc == MX_ECONFLICT) {
			struct mx_err rerr = {0};

			if (!r53_read_rrset(p, want->name, want->type, &cur, &rerr) &&
			    prov_rrset_equal(&cur, want, true))
				rc = MX_OK;
		}
		goto out;
	}
	rc = r53_change_parse(resp->body, resp->len, id, sizeof(id), status, sizeof(status), err);
	if (rc || !strcmp(status, "INSYNC"))
		goto out;
	rc = r53_wait_insync(p, id, err);
out:
	if (!rc && err)
		mx_err_clear(err);
	prov_rrset_clear(&cur);
	http_response_free(resp);
	free(body);
	return rc;
}

/* Route 53 has no dry run for ChangeResourceRecordSets and no call that tells an identity
 * its own permissions without extra ones (iam:SimulatePrincipalPolicy needs IAM rights a DNS
 * credential should not have). What can be proved: GetHostedZone shows the credentials may
 * read the hosted zone and that it is the public zone of p->zone (a hosted_zone_id that names
 * another zone, or a private one, fails); the read before listed its records. */
static int r53_check_access(struct prov *p, struct prov_access *out, struct mx_err *err)
{
	struct r53 *d = p->priv;
	struct http_response *resp = NULL;
	struct r53_call call = {p->name, "GetHostedZone", p->zone, NULL, p->zone};
	char path[200], name[256];
	bool private_zone = false;
	int rc;

	rc = r53_zone(p, err);
	if (rc)
		goto out;
	call.zone_id = d->zone_id;
	snprintf(path, sizeof(path), R53_API "/hostedzone/%s", d->zone_id);
	rc = r53_request(p, "GET", path, NULL, NULL, &resp, err);
	if (!rc && resp->status != 200)
		rc = r53_status_error(&call, resp->status, resp->body, resp->len, err);
	if (!rc)
		rc = r53_hosted_zone_parse(
		    resp->body, resp->len, name, sizeof(name), &private_zone, err);
	if (rc)
		goto out;
	if (!r53_name_is(name, p->zone) || private_zone) {
		rc = mx_err_set(err, MX_EINVAL,
		    "route53: hosted zone %s is %s%.100s, not the public zone %s; fix "
		    "hosted_zone_id of [provider.%s] or remove it so the zone is looked up by name",
		    d->zone_id, private_zone ? "the private zone " : "", name, p->zone, p->name);
		goto out;
	}
	snprintf(out->unproved, sizeof(out->unproved),
	    "the credentials may read public hosted zone %.40s (%.80s), but Route 53 cannot test "
	    "route53:ChangeResourceRecordSets without making a change; make sure the identity "
	    "has it on that zone",
	    d->zone_id, p->zone);
out:
	http_response_free(resp);
	return rc;
}

static void r53_close(struct prov *p)
{
	struct r53 *d = p->priv;

	if (!d)
		return;
	free(d->base);
	free(d->host);
	free(d->prefix);
	free(d->region);
	free(d->zone_id);
	mx_secret_free(d->key_id);
	mx_secret_free(d->secret);
	mx_secret_free(d->token);
	free(d);
	p->priv = NULL;
}

static int r53_open(struct prov *p, const struct mx_conf_section *cfg, struct mx_err *err)
{
	const char *base = mx_conf_get(cfg, "base_url");
	const char *region = mx_conf_get(cfg, "region");
	const char *zone_id = mx_conf_get(cfg, "hosted_zone_id");
	const char *auth, *slash;
	struct r53 *d;
	size_t len;
	int rc = MX_OK;

	/* libxml2 wants its first initialisation on one thread, before calls may come from
	 * the engine's workers. */
	xmlInitParser();

	d = calloc(1, sizeof(*d));
	if (!d)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	p->priv = d;
	if (!base || !*base)
		base = "https://route53.amazonaws.com";
	if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8)) {
		rc = mx_err_set(err, MX_EINVAL,
		    "[provider.%s]: base_url must be an https:// URL such as "
		    "https://route53.amazonaws.com",
		    p->name);
		goto out;
	}
	len = strlen(base);
	while (len && base[len - 1] == '/')
		len--;
	auth = strstr(base, "://") + 3;
	slash = memchr(auth, '/', len - (size_t)(auth - base));
	d->base = strndup(base, len);
	d->host = strndup(auth, slash ? (size_t)(slash - auth) : len - (size_t)(auth - base));
	d->prefix = strndup(slash ? slash : "", slash ? len - (size_t)(slash - base) : 0);
	d->region = strdup(region && *region ? region : "us-east-1");
	if (zone_id && *zone_id) {
		const char *bare = strrchr(zone_id, '/') ? strrchr(zone_id, '/') + 1 : zone_id;

		d->zone_id = strdup(bare);
		if (!d->zone_id) {
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!d->base || !d->host || !d->prefix || !d->region) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto out;
	}
	if (!*d->host) {
		rc = mx_err_set(
		    err, MX_EINVAL, "[provider.%s]: base_url %s names no host", p->name, d->base);
		goto out;
	}
	rc = mx_secret_load(cfg, "access_key_id_env", NULL, true, &d->key_id, err);
	if (!rc)
		rc = mx_secret_load(
		    cfg, "secret_access_key_env", "secret_access_key_file", true, &d->secret, err);
	if (!rc)
		rc = mx_secret_load(cfg, "session_token_env", NULL, false, &d->token, err);
out:
	return rc;
}

const struct prov_ops prov_route53_ops = {
    .name = "route53",
    .caps = PROV_CAP_CAS | PROV_CAP_ATOMIC | PROV_CAP_HTTP,
    .min_ttl = 1,
    .open = r53_open,
    .read_rrset = r53_read_rrset,
    .replace_rrset = r53_replace_rrset,
    .close = r53_close,
    .check_access = r53_check_access,
};
