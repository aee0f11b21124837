/* SPDX-License-Identifier: MIT */
/* src/conf.h — the configuration file (docs/contract.md, section 4): parsed with libinih,
 * validated completely (an unknown section or key, or a bad value, names file and line). */
#ifndef MX_CONF_H
#define MX_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct mx_conf_kv {
	char *key;
	char *value;
	int line;
};

/* One [provider.NAME] section, or the [exchange] section (name "exchange", type NULL). */
struct mx_conf_section {
	char *name;	  /* NAME, what --provider selects */
	char *type;	  /* powerdns, rfc2136, …; NULL for [exchange] */
	const char *file; /* borrowed from the owning mx_conf */
	int line;	  /* line of the first key */
	struct mx_conf_kv *kv;
	size_t nkv;
};

struct mx_conf {
	char *path; /* NULL when built from defaults only */
	char *endpoint_suffix;
	char **legacy_suffixes;
	size_t nlegacy;
	char *spf_include;
	int low_ttl;
	int final_ttl;
	int final_preference;
	int gate_timeout;
	bool smtp_probe;
	struct mx_conf_section *prov;
	size_t nprov;
	/* [exchange] (the Exchange Online admin API app), NULL when absent: tenant_id,
	 * client_id, client_secret_env | client_secret_file | certificate_file (exactly one),
	 * exo_url, login_url. Validated when loaded; read with mx_conf_get. */
	struct mx_conf_section *exchange;
};

/* Defaults of docs/contract.md, section 4 (the real Microsoft names). Caller frees with mx_conf_free. */
int mx_conf_new_default(struct mx_conf **out, struct mx_err *err);

/* Loads path over the defaults. With must_exist false, a missing file yields the defaults
 * (the XDG default path is optional; a path the user named is not). Errors are MX_EINVAL
 * with "config FILE line N: …" or MX_EIO. */
int mx_conf_load(const char *path, bool must_exist, struct mx_conf **out, struct mx_err *err);
void mx_conf_free(struct mx_conf *c);

/* The [provider.NAME] section, or NULL. */
const struct mx_conf_section *mx_conf_provider(const struct mx_conf *c, const char *name);

/* A key's value in a provider section, or NULL. Borrowed until mx_conf_free. */
const char *mx_conf_get(const struct mx_conf_section *s, const char *key);
int mx_conf_line(const struct mx_conf_section *s, const char *key);

/* The [exchange] keys' defaults (docs/contract.md, section 4). */
#define MX_CONF_EXO_URL	  "https://outlook.office365.com"
#define MX_CONF_LOGIN_URL "https://login.microsoftonline.com"

/* True when host lies under one of the legacy suffixes. */
bool mx_conf_is_legacy(const struct mx_conf *c, const char *host);

/* The provider types the config accepts, NULL-terminated. */
extern const char *const mx_conf_provider_types[];

#endif
