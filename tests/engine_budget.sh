#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/engine_budget.sh LOG — fails when the end-to-end tests saw the engine block: LOG holds
# one line per engine call over its 20 ms budget (MXCUTOVER_ENGINE_BUDGET_LOG, written by the
# engine: its own time is wall time less the time spent waiting for a CPU and less the
# journal's durable writes; see docs/architecture.md). Run by ctest after the other tests.
# Every such call is listed. The suite fails when a step went over the budget in three calls
# or more, or any call took over 100 ms of its own: a call that blocks does so wherever its step
# runs (before the blocking calls moved to the workers, the suite logged 465 of them, 327 in
# one step), while a single call a few milliseconds over, on a machine shared by two test
# processes and their servers, is the machine (a page read from disk, an interrupt).
log=${1:?usage: engine_budget.sh LOG}
if [[ ! -s $log ]]; then
	echo "engine budget: no engine call over 20 ms of its own in any end-to-end test"
	exit 0
fi
cat "$log"
# A pause on a worker inside an engine call (src/clock.c mx_pause) fails the suite by itself.
paused=$(grep -c "inside an engine call" "$log" || true)
verdict=$(awk '/inside an engine call/ { next } {
	for (i = 1; i < NF; i++) if ($i == "took") { step = $(i - 1); ms = $(i + 1) }
	n[step]++
	if (ms + 0 > 100) big = big sprintf(" %s (%s ms)", step, ms)
} END {
	for (s in n) if (n[s] >= 3) rep = rep sprintf(" %s (%d calls)", s, n[s])
	if (rep != "" || big != "") printf "FAIL%s%s\n", rep != "" ? "; over budget more than once:" rep : "", big != "" ? "; over 100 ms:" big : ""
}' "$log")
n=$(wc -l <"$log")
if ((paused)); then
	echo "engine budget: $paused pause(s) on a worker inside an engine call (listed above, from $log): an adapter or the Exchange client slept instead of leaving the wait to the engine" >&2
	exit 1
fi
if [[ -n $verdict ]]; then
	echo "engine budget: $n engine call(s) over 20 ms of their own (listed above, from $log)${verdict#FAIL}: something blocked the engine's loop" >&2
	exit 1
fi
echo "engine budget: $n single call(s) over 20 ms of their own (listed above), none over 100 ms and no step three times: the machine, not the engine"
