#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/engine_budget.sh LOG — fails when any end-to-end test saw an engine call over its
# budget: LOG holds one line per such call (MXCUTOVER_ENGINE_BUDGET_LOG, written by the
# engine; see docs/architecture.md, "Units of work"). Run by ctest after the other tests.
log=${1:?usage: engine_budget.sh LOG}
if [[ ! -s $log ]]; then
	echo "engine budget: no engine call over 20 ms of its own in any end-to-end test"
	exit 0
fi
n=$(wc -l <"$log")
cat "$log"
echo "engine budget: $n engine call(s) over 20 ms of their own (listed above, from $log):" \
	"something blocked the engine's loop" >&2
exit 1
