/* SPDX-License-Identifier: MIT */
/* src/journal.h — the state database (SQLite): runs, steps, intents and their completion,
 * snapshots, the audit log and per-domain run locks. The journal is the truth about every
 * run; it is written before DNS is, and it never holds a secret. */
#ifndef MX_JOURNAL_H
#define MX_JOURNAL_H

#include "err.h"

struct jnl;

/* The schema version this build writes (PRAGMA user_version). */
#define JNL_SCHEMA_VERSION 1

/* Opens (creating when missing) the state database at path: its folder 0700, the file
 * 0600, WAL, synchronous=FULL, foreign keys on, migrations up to JNL_SCHEMA_VERSION applied
 * in one transaction. A database from a newer build is refused. Caller closes with
 * jnl_close. */
int jnl_open(const char *path, struct jnl **out, struct mx_err *err);
void jnl_close(struct jnl *j);

/* The schema version found in the file after opening. */
int jnl_schema_version(struct jnl *j);

#endif
