/* SPDX-License-Identifier: MIT */
/* src/conf.c — the configuration file, parsed with libinih and validated completely. */
#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain.h"

const char *const mx_conf_provider_types[] = {
    "powerdns", "rfc2136", "cloudflare", "route53", "azure", "gcloud", "manual", NULL};

/* The keys each provider type accepts (docs/contract.md, section 4), in the order of the types above. */
static const char *const provider_keys[][10] = {
    {"url", "server_id", "api_key_env", "api_key_file", NULL},
    {"server", "tsig_name", "tsig_alg", "tsig_secret_env", "tsig_keyfile", NULL},
    {"api_token_env", "api_token_file", "zone_id", "base_url", NULL},
    {"access_key_id_env", "secret_access_key_env", "secret_access_key_file", "session_token_env",
	"region", "hosted_zone_id", "base_url", NULL},
    {"tenant_id", "client_id", "client_secret_env", "client_secret_file", "subscription_id",
	"resource_group", "base_url", "login_url", NULL},
    {"project", "credentials_file", "managed_zone", "base_url", "token_url", NULL},
    {NULL},
};

static const char *const exchange_keys[] = {"tenant_id", "client_id", "client_secret_env",
    "client_secret_file", "certificate_file", "exo_url", "login_url", NULL};

static const char *const cutover_keys[] = {"endpoint_suffix", "legacy_suffixes", "spf_include",
    "low_ttl", "final_ttl", "final_preference", "gate_timeout", "smtp_probe", NULL};

struct parse {
	struct mx_conf *conf;
	FILE *fp;
	int line;
	struct mx_err err; /* the first problem found */
	int err_line;
	bool failed;
};

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static int split_suffixes(const char *v, char ***out, size_t *n, struct mx_err *err)
{
	char *copy = strdup(v), *save = NULL, *tok, norm[MX_NAME_MAX + 1];
	char **list = NULL;
	size_t count = 0;
	int rc = MX_OK;

	if (!copy)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char **grown;

		rc = mx_domain_normalize(tok, "legacy_suffixes", norm, sizeof(norm), err);
		if (rc)
			goto out;
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (!grown || !(grown[count] = strdup(norm))) {
			list = grown ? grown : list;
			rc = mx_err_set(err, MX_ENOMEM, "out of memory");
			goto out;
		}
		list = grown;
		count++;
	}
	if (count == 0)
		rc = mx_err_set(err, MX_EINVAL,
		    "legacy_suffixes is empty; list at least mail.protection.outlook.com");
out:
	free(copy);
	if (rc) {
		free_strv(list, count);
		return rc;
	}
	*out = list;
	*n = count;
	return MX_OK;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {
									 "no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static bool in_list(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (!strcmp(*list, key))
			return true;
	return false;
}

static void join_list(const char *const *list, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *list && used < len; list++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", *list);
}

static int cutover_key(struct mx_conf *c, const char *key, const char *v, struct mx_err *err)
{
	char norm[MX_NAME_MAX + 1];
	char **list;
	size_t n;
	int rc;

	if (!strcmp(key, "endpoint_suffix") || !strcmp(key, "spf_include")) {
		rc = mx_domain_normalize(v, key, norm, sizeof(norm), err);
		if (rc)
			return rc;
		if (set_str(
			!strcmp(key, "spf_include") ? &c->spf_include : &c->endpoint_suffix, norm))
			return mx_err_set(err, MX_ENOMEM, "out of memory");
	} else if (!strcmp(key, "legacy_suffixes")) {
		rc = split_suffixes(v, &list, &n, err);
		if (rc)
			return rc;
		free_strv(c->legacy_suffixes, c->nlegacy);
		c->legacy_suffixes = list;
		c->nlegacy = n;
	} else if (!strcmp(key, "low_ttl")) {
		if (parse_int(v, 30, 86400, &c->low_ttl))
			return mx_err_set(err, MX_EINVAL,
			    "low_ttl \"%s\" must be a number of seconds from 30 (Microsoft's "
			    "minimum) "
			    "to 86400",
			    v);
	} else if (!strcmp(key, "final_ttl")) {
		if (parse_int(v, 30, 604800, &c->final_ttl))
			return mx_err_set(err, MX_EINVAL,
			    "final_ttl \"%s\" must be a number of seconds from 30 to 604800 (3600 "
			    "is "
			    "Microsoft's value)",
			    v);
	} else if (!strcmp(key, "final_preference")) {
		if (parse_int(v, 0, 10, &c->final_preference) ||
		    (c->final_preference != 0 && c->final_preference != 10))
			return mx_err_set(err, MX_EINVAL,
			    "final_preference \"%s\" must be 0 (Microsoft's documented end state) "
			    "or "
			    "10 (what Get-DnssecStatusForVerifiedDomain expects)",
			    v);
	} else if (!strcmp(key, "gate_timeout")) {
		if (parse_int(v, 0, 7 * 86400, &c->gate_timeout))
			return mx_err_set(err, MX_EINVAL,
			    "gate_timeout \"%s\" must be a number of seconds from 0 to 604800", v);
	} else if (!strcmp(key, "smtp_probe")) {
		if (parse_bool(v, &c->smtp_probe))
			return mx_err_set(err, MX_EINVAL, "smtp_probe \"%s\" must be yes or no", v);
	}
	return MX_OK;
}

static struct mx_conf_section *find_section(struct mx_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nprov; i++)
		if (!strcmp(c->prov[i].name, name))
			return &c->prov[i];
	return NULL;
}

/* Finds or adds [provider.NAME]; *out is NULL after an error. */
static int provider_section(struct parse *p, const char *name, struct mx_conf_section **out)
{
	struct mx_conf *c = p->conf;
	struct mx_conf_section *s = find_section(c, name);

	*out = NULL;
	for (const char *q = name; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' ||
			*q == '_'))
			return mx_err_set(&p->err, MX_EINVAL,
			    "provider name \"%s\" may hold only a-z, 0-9, '-' and '_'", name);
	if (!s) {
		struct mx_conf_section *grown = realloc(c->prov, (c->nprov + 1) * sizeof(*grown));

		if (!grown)
			return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
		c->prov = grown;
		s = &c->prov[c->nprov];
		memset(s, 0, sizeof(*s));
		s->name = strdup(name);
		s->file = c->path;
		s->line = p->line;
		if (!s->name)
			return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
		c->nprov++;
	}
	*out = s;
	return MX_OK;
}

static int provider_key(struct parse *p, const char *name, const char *key, const char *v)
{
	struct mx_conf_section *s;
	struct mx_conf_kv *kv;
	int rc = provider_section(p, name, &s);

	if (rc)
		return rc;
	for (size_t i = 0; i < s->nkv; i++)
		if (!strcmp(s->kv[i].key, key))
			return mx_err_set(&p->err, MX_EINVAL,
			    "key \"%s\" appears twice in [provider.%s] (first on line %d)", key,
			    name, s->kv[i].line);
	if (!strcmp(key, "type")) {
		if (!in_list(mx_conf_provider_types, v)) {
			char known[200];

			join_list(mx_conf_provider_types, known, sizeof(known));
			return mx_err_set(&p->err, MX_EINVAL,
			    "unknown provider type \"%s\" in [provider.%s]; use one of: %s", v,
			    name, known);
		}
		if (set_str(&s->type, v))
			return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
	}
	kv = realloc(s->kv, (s->nkv + 1) * sizeof(*kv));
	if (!kv)
		return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
	s->kv = kv;
	kv[s->nkv].key = strdup(key);
	kv[s->nkv].value = strdup(v);
	kv[s->nkv].line = p->line;
	s->nkv++;
	if (!kv[s->nkv - 1].key || !kv[s->nkv - 1].value)
		return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
	return MX_OK;
}

/* Creates the [exchange] section on its header or first key. */
static int exchange_section(struct parse *p)
{
	struct mx_conf *c = p->conf;

	if (c->exchange)
		return MX_OK;
	c->exchange = calloc(1, sizeof(*c->exchange));
	if (!c->exchange || !(c->exchange->name = strdup("exchange")))
		return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
	c->exchange->file = c->path;
	c->exchange->line = p->line;
	return MX_OK;
}

static int exchange_key(struct parse *p, const char *key, const char *v)
{
	struct mx_conf_section *s;
	struct mx_conf_kv *kv;
	char known[300];
	int rc = exchange_section(p);

	if (rc)
		return rc;
	s = p->conf->exchange;
	if (!in_list(exchange_keys, key)) {
		join_list(exchange_keys, known, sizeof(known));
		return mx_err_set(&p->err, MX_EINVAL,
		    "unknown key \"%s\" in [exchange]; known keys: %s", key, known);
	}
	for (size_t i = 0; i < s->nkv; i++)
		if (!strcmp(s->kv[i].key, key))
			return mx_err_set(&p->err, MX_EINVAL,
			    "key \"%s\" appears twice in [exchange] (first on line %d)", key,
			    s->kv[i].line);
	if (!*v || strpbrk(v, " \t"))
		return mx_err_set(&p->err, MX_EINVAL,
		    "%s in [exchange] must be one word without spaces, not \"%s\"", key, v);
	if ((!strcmp(key, "exo_url") || !strcmp(key, "login_url")) &&
	    strncasecmp(v, "https://", 8) && strncasecmp(v, "http://", 7))
		return mx_err_set(&p->err, MX_EINVAL,
		    "%s in [exchange] must be an https:// URL such as %s", key,
		    !strcmp(key, "exo_url") ? MX_CONF_EXO_URL : MX_CONF_LOGIN_URL);
	kv = realloc(s->kv, (s->nkv + 1) * sizeof(*kv));
	if (!kv)
		return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
	s->kv = kv;
	kv[s->nkv].key = strdup(key);
	kv[s->nkv].value = strdup(v);
	kv[s->nkv].line = p->line;
	s->nkv++;
	if (!kv[s->nkv - 1].key || !kv[s->nkv - 1].value)
		return mx_err_set(&p->err, MX_ENOMEM, "out of memory");
	return MX_OK;
}

/* The [exchange] section once read whole: the app and exactly one credential. */
static int check_exchange(struct mx_conf *c, struct mx_err *err)
{
	static const char *const creds[] = {
	    "client_secret_env", "client_secret_file", "certificate_file"};
	const struct mx_conf_section *s = c->exchange;
	const char *first = NULL;

	if (!s)
		return MX_OK;
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "client_id" : "tenant_id";

		if (!mx_conf_get(s, key))
			return mx_err_set(err, MX_EINVAL,
			    "config %s line %d: [exchange] has no %s; copy it from the app "
			    "registration in the Entra admin center",
			    c->path, s->line, key);
	}
	for (int i = 0; i < 3; i++) {
		if (!mx_conf_get(s, creds[i]))
			continue;
		if (first)
			return mx_err_set(err, MX_EINVAL,
			    "config %s line %d: [exchange] sets both %s and %s; keep one "
			    "credential",
			    c->path, mx_conf_line(s, creds[i]), first, creds[i]);
		first = creds[i];
	}
	if (!first)
		return mx_err_set(err, MX_EINVAL,
		    "config %s line %d: [exchange] has no credential; set client_secret_env, "
		    "client_secret_file or certificate_file (key + certificate, mode 600)",
		    c->path, s->line);
	return MX_OK;
}

/* inih handler: returns 0 on the first problem so ini_parse_stream reports its line. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	char known[300];
	int rc = MX_OK;

	if (p->failed)
		return 1;
	if (!strcmp(section, "cutover")) {
		if (!in_list(cutover_keys, key)) {
			join_list(cutover_keys, known, sizeof(known));
			rc = mx_err_set(&p->err, MX_EINVAL,
			    "unknown key \"%s\" in [cutover]; known keys: %s", key, known);
		} else {
			rc = cutover_key(p->conf, key, value, &p->err);
		}
	} else if (!strncmp(section, "provider.", 9) && section[9]) {
		rc = provider_key(p, section + 9, key, value);
	} else if (!strcmp(section, "exchange")) {
		rc = exchange_key(p, key, value);
	} else {
		rc = mx_err_set(&p->err, MX_EINVAL,
		    "unknown section [%s]; use [cutover], [exchange] or [provider.NAME]", section);
	}
	if (rc) {
		p->failed = true;
		p->err_line = p->line;
		return 0;
	}
	return 1;
}

/* Section headers are checked as they are read, since inih reports a section only with its
 * first key: an empty [cutovr] or [provider.x] would otherwise pass unseen. */
static void check_header(struct parse *p, const char *line)
{
	struct mx_conf_section *s;
	const char *end;
	char name[128];
	int rc = MX_OK;

	while (*line == ' ' || *line == '\t')
		line++;
	end = strchr(line, ']');
	if (*line != '[' || !end || end - line - 1 >= (long)sizeof(name))
		return;
	memcpy(name, line + 1, (size_t)(end - line - 1));
	name[end - line - 1] = '\0';
	if (!strncmp(name, "provider.", 9) && name[9])
		rc = provider_section(p, name + 9, &s);
	else if (!strcmp(name, "exchange"))
		rc = exchange_section(p);
	else if (strcmp(name, "cutover") != 0)
		rc = mx_err_set(&p->err, MX_EINVAL,
		    "unknown section [%s]; use [cutover], [exchange] or [provider.NAME]", name);
	if (rc) {
		p->failed = true;
		p->err_line = p->line;
	}
}

static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *got;

	p->line++;
	got = fgets(str, num, p->fp);
	if (got && !p->failed)
		check_header(p, got);
	return got;
}

/* Keys of each section are checked against its type once the whole section is read, since
 * `type` may come after the other keys. */
static int check_sections(struct mx_conf *c, struct mx_err *err)
{
	for (size_t i = 0; i < c->nprov; i++) {
		struct mx_conf_section *s = &c->prov[i];
		size_t t;

		if (!s->type)
			return mx_err_set(err, MX_EINVAL,
			    "config %s line %d: [provider.%s] has no type; add e.g. \"type = "
			    "powerdns\"",
			    c->path, s->line, s->name);
		for (t = 0; mx_conf_provider_types[t]; t++)
			if (!strcmp(mx_conf_provider_types[t], s->type))
				break;
		for (size_t k = 0; k < s->nkv; k++) {
			char known[300];

			if (!strcmp(s->kv[k].key, "type") ||
			    in_list(provider_keys[t], s->kv[k].key))
				continue;
			join_list(provider_keys[t], known, sizeof(known));
			return mx_err_set(err, MX_EINVAL,
			    "config %s line %d: unknown key \"%s\" for a %s provider in "
			    "[provider.%s]; known keys: %s",
			    c->path, s->kv[k].line, s->kv[k].key, s->type, s->name,
			    known[0] ? known : "(none)");
		}
	}
	return MX_OK;
}

int mx_conf_new_default(struct mx_conf **out, struct mx_err *err)
{
	struct mx_conf *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	c->endpoint_suffix = strdup("mx.microsoft");
	c->spf_include = strdup("spf.protection.outlook.com");
	c->low_ttl = 30;
	c->final_ttl = 3600;
	c->final_preference = 0;
	c->gate_timeout = 3600;
	c->smtp_probe = true;
	rc = split_suffixes("mail.protection.outlook.com, mail.eo.outlook.com, "
			    "mail.protection.outlook.de",
	    &c->legacy_suffixes, &c->nlegacy, err);
	if (rc || !c->endpoint_suffix || !c->spf_include) {
		mx_conf_free(c);
		return rc ? rc : mx_err_set(err, MX_ENOMEM, "out of memory");
	}
	*out = c;
	return MX_OK;
}

int mx_conf_load(const char *path, bool must_exist, struct mx_conf **out, struct mx_err *err)
{
	struct parse p;
	int rc, line;

	memset(&p, 0, sizeof(p));
	rc = mx_conf_new_default(&p.conf, err);
	if (rc)
		return rc;
	if (!path)
		goto done;
	p.fp = fopen(path, "r");
	if (!p.fp) {
		if (errno == ENOENT && !must_exist)
			goto done;
		rc = mx_err_set(err, errno == ENOENT ? MX_EINVAL : MX_EIO,
		    "config %s: %s; check the path given to --config", path, strerror(errno));
		goto fail;
	}
	p.conf->path = strdup(path);
	if (!p.conf->path) {
		rc = mx_err_set(err, MX_ENOMEM, "out of memory");
		goto fail;
	}
	line = ini_parse_stream(read_line, &p, on_key, &p);
	if (line != 0 || p.failed) {
		if (p.failed)
			rc = mx_err_set(
			    err, p.err.rc, "config %s line %d: %s", path, p.err_line, p.err.msg);
		else if (line < 0)
			rc = mx_err_set(err, MX_EIO, "config %s: cannot be read", path);
		else
			rc = mx_err_set(err, MX_EINVAL,
			    "config %s line %d: not INI syntax; write \"key = value\" under a "
			    "[section]",
			    path, line);
		goto fail;
	}
	rc = check_sections(p.conf, err);
	if (!rc)
		rc = check_exchange(p.conf, err);
	if (rc)
		goto fail;
	for (size_t i = 0; i < p.conf->nprov; i++)
		p.conf->prov[i].file = p.conf->path;
	if (p.conf->exchange)
		p.conf->exchange->file = p.conf->path;
done:
	if (p.fp)
		fclose(p.fp);
	*out = p.conf;
	return MX_OK;
fail:
	if (p.fp)
		fclose(p.fp);
	mx_conf_free(p.conf);
	return rc;
}

static void section_free(struct mx_conf_section *s)
{
	for (size_t k = 0; k < s->nkv; k++) {
		free(s->kv[k].key);
		free(s->kv[k].value);
	}
	free(s->kv);
	free(s->name);
	free(s->type);
}

void mx_conf_free(struct mx_conf *c)
{
	if (!c)
		return;
	if (c->exchange)
		section_free(c->exchange);
	free(c->exchange);
	for (size_t i = 0; i < c->nprov; i++)
		section_free(&c->prov[i]);
	free(c->prov);
	free_strv(c->legacy_suffixes, c->nlegacy);
	free(c->endpoint_suffix);
	free(c->spf_include);
	free(c->path);
	free(c);
}

const struct mx_conf_section *mx_conf_provider(const struct mx_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nprov; i++)
		if (!strcmp(c->prov[i].name, name))
			return &c->prov[i];
	return NULL;
}

const char *mx_conf_get(const struct mx_conf_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->nkv; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].value;
	return NULL;
}

int mx_conf_line(const struct mx_conf_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->nkv; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].line;
	return s ? s->line : 0;
}

bool mx_conf_is_legacy(const struct mx_conf *c, const char *host)
{
	for (size_t i = 0; i < c->nlegacy; i++)
		if (mx_name_under(host, c->legacy_suffixes[i]))
			return true;
	return false;
}
