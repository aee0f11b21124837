/* SPDX-License-Identifier: MIT */
/* src/secret.h — secrets (API keys, TSIG secrets, tokens) from an environment variable or a
 * private file named in the config. A secret lives only in memory: it never reaches the
 * state database, logs, exports or messages, and is wiped when freed. */
#ifndef MX_SECRET_H
#define MX_SECRET_H

#include <stdbool.h>

#include "conf.h"
#include "err.h"

/* Loads a secret for provider section s from the key env_key (names an environment
 * variable) or file_key (names a file, refused when group- or world-accessible; one
 * trailing newline is dropped). Either key may be NULL when the provider has no such form.
 * With required and neither key set, fails naming both keys. *out is NULL when not set and
 * not required. Caller frees with mx_secret_free. Messages name the variable or file,
 * never the value. */
int mx_secret_load(const struct mx_conf_section *s, const char *env_key, const char *file_key,
    bool required, char **out, struct mx_err *err);

/* Reads a private file whole (same permission rule); for credentials files such as a
 * service-account JSON key. Caller frees with mx_secret_free. */
int mx_secret_read_file(
    const char *path, const char *what, char **out, size_t *len, struct mx_err *err);

/* Wipes and frees a secret. NULL is fine. */
void mx_secret_free(char *secret);

#endif
