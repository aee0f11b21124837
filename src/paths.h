/* SPDX-License-Identifier: MIT */
/* src/paths.h — default file locations (XDG base directories) and private folders. */
#ifndef MX_PATHS_H
#define MX_PATHS_H

#include "err.h"

/* $XDG_STATE_HOME/mxcutover/state.db, else ~/.local/state/mxcutover/state.db.
 * Caller frees. */
int mx_path_default_state(char **out, struct mx_err *err);

/* $XDG_CONFIG_HOME/mxcutover/config, else ~/.config/mxcutover/config. Caller frees. */
int mx_path_default_config(char **out, struct mx_err *err);

/* Creates the folder that holds `file` (and missing parents), the last one with mode 0700.
 * An existing folder is left as it is. */
int mx_path_make_parent(const char *file, struct mx_err *err);

#endif
