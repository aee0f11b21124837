#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/wizard_gap.py — drives `mxcutover tui` in a pseudo-terminal like a person watching
many runs, and measures how quickly the screen answers while they write.

Called by bench/wizard_gap (which makes the zones and the config); not meant to be run alone.

The wizard is started on a 120x40 pseudo-terminal with `--file LIST`. Every --interval ms the
driver sends j or k (the selection moves down or up on the domains list, so each key changes
the screen) and timestamps every chunk of output the wizard writes. Two figures per phase:
  key latency  from writing a key to the first output after it
  output gap   the longest time between two chunks of output while keys were being sent
Phase "idle": the checks are done, no run yet (the baseline, same process, same list).
Phase "runs": S and y start every domain's run; every --answer-every s the driver stops
sending keys, answers the waiting inbound-test questions (Y, then y) and goes on. The time
spent in those dialogs is not measured. The phase ends when `status --json` says every run is
done, or at --timeout.
Prints `KEY=value` lines for the caller, then human lines starting with three spaces."""
import argparse
import bisect
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import fcntl
import threading
import time

ESC = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78cMDE]")


class Tty:
    """The wizard on a pseudo-terminal; a thread reads everything it writes."""

    def __init__(self, argv, env, cols=120, rows=40):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, close_fds=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.lock = threading.Lock()
        self.chunks = []  # (monotonic time, bytes)
        self.text = b""  # the last 200 000 bytes of output without escapes or blanks (--log)
        self.fresh = b""  # the same, since the last since()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                r, _, _ = select.select([self.master], [], [], 0.5)
                if not r:
                    if self.proc.poll() is not None:
                        return
                    continue
                b = os.read(self.master, 65536)
            except OSError:
                return
            if not b:
                return
            t = time.monotonic()
            flat = re.sub(rb"\s+", b"", ESC.sub(b"", b))
            with self.lock:
                self.chunks.append((t, len(b)))
                self.text = (self.text + flat)[-200000:]
                self.fresh = (self.fresh + flat)[-200000:]

    def send(self, keys):
        t = time.monotonic()
        os.write(self.master, keys)
        return t

    def since(self):
        """Everything written since the last call, flattened (no blanks)."""
        with self.lock:
            out, self.fresh = self.fresh, b""
        return out.decode("utf-8", "replace")

    def wait_text(self, pattern, timeout):
        """Until the output since the last mark matches pattern (blanks removed)."""
        want = re.compile(re.sub(r"\s+", "", pattern))
        seen, end = "", time.monotonic() + timeout
        while time.monotonic() < end:
            seen += self.since()
            m = want.search(seen)
            if m:
                return m
            time.sleep(0.02)
        return None

    def chunk_times(self):
        with self.lock:
            return [t for t, _ in self.chunks]


def pct(v, p):
    if not v:
        return 0.0
    s = sorted(v)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class Phase:
    def __init__(self, name):
        self.name = name
        self.sent = []  # key times
        self.windows = []  # (start, end) of measured stretches

    def figures(self, tty, t0):
        """Key latencies and output gaps (ms), and where the worst of each was (s after t0)."""
        times = tty.chunk_times()
        lat, gaps, worst_lat, worst_gap = [], [], (0, 0), (0, 0)
        for t in self.sent:
            i = bisect.bisect_left(times, t)
            if i < len(times):
                lat.append((times[i] - t) * 1000)
                worst_lat = max(worst_lat, (lat[-1], t - t0))
        for a, b in self.windows:
            inside = times[bisect.bisect_left(times, a):bisect.bisect_right(times, b)]
            pts = [a] + inside + [b]
            for x, y in zip(pts, pts[1:]):
                gaps.append((y - x) * 1000)
                worst_gap = max(worst_gap, (gaps[-1], x - t0))
        return lat, gaps, worst_lat[1], worst_gap[1]


def keys_for(tty, phase, seconds, interval, stop=None):
    """Sends j/k every interval for seconds (or until stop() says so)."""
    start = time.monotonic()
    end = start + seconds
    down = True
    nxt = start
    last = start
    while True:
        last = tty.send(b"j" if down else b"k")
        phase.sent.append(last)
        down = not down
        nxt += interval
        if nxt >= end or (stop and stop()):
            break
        pause = nxt - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            nxt = time.monotonic()
    # The window: from the first key to one interval after the last (the time the next key
    # would have come); the last key's answer has that long to arrive.
    time.sleep(interval)
    phase.windows.append((start, last + interval))


def status(mx, state):
    try:
        out = subprocess.run(mx + ["--state", state, "--json", "status"], capture_output=True,
                             timeout=30).stdout
        runs = json.loads(out or b"{}").get("runs", [])
    except (subprocess.SubprocessError, ValueError):
        return None
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mx", required=True, help="the mxcutover command, shell words")
    ap.add_argument("--state", required=True)
    ap.add_argument("--list", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--interval", type=float, default=50, help="ms between keys")
    ap.add_argument("--idle", type=float, default=10, help="s of the idle phase")
    ap.add_argument("--answer-every", type=float, default=3)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--log", default=None)
    a = ap.parse_args()
    mx = a.mx.split()
    iv = a.interval / 1000.0
    env = dict(os.environ, TERM="xterm-256color", LC_ALL="C.UTF-8")
    env.pop("MXCUTOVER_CLOCK", None)
    tty = Tty(mx + ["--state", a.state, "tui", "--file", a.list, "--provider", "pdns"], env)
    say = []

    def out(k, v):
        print("%s=%s" % (k, v), flush=True)

    def bye(rc, why):
        if why:
            print("   %s" % why, flush=True)
        try:
            tty.send(b"\x03")
            tty.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tty.proc.kill()
        if a.log:
            with open(a.log, "w") as f:
                f.write(tty.text.decode("utf-8", "replace"))
        sys.exit(rc)

    def ask(key, pattern, timeout=10):
        """Sends key, then Ctrl-L: curses repaints the whole screen, so a dialog's text is
        written whole (otherwise it writes only the cells that changed, and a count in a
        dialog like the previous one comes out as a digit or two)."""
        tty.since()
        tty.send(key)
        time.sleep(0.05)
        tty.send(b"\x0c")
        return tty.wait_text(pattern, timeout)

    if not tty.wait_text("Domains", 30):
        bye(3, "the wizard did not draw its domains list within 30 s")
    # The checks of every domain: S counts what it would start; all N, or ask again.
    t0 = time.monotonic()
    while True:
        m = ask(b"S", r"Start the cutover of (\d+) domain|no domain to start", 5)
        n = int(m.group(1)) if m and m.group(1) else 0
        if n == a.n:
            break
        if n:
            tty.send(b"n")
        if time.monotonic() - t0 > 300:
            bye(3, "after 300 s only %d of %d domains were ready to start" % (n, a.n))
        time.sleep(1)
    tty.send(b"n")
    out("CHECKS_S", "%.1f" % (time.monotonic() - t0))
    time.sleep(1)

    idle = Phase("idle")
    keys_for(tty, idle, a.idle, iv)

    if not ask(b"S", r"Start the cutover of %d domain" % a.n):
        bye(3, "S did not offer all %d domains a second time" % a.n)
    if not ask(b"y", r"%d run\(s\) started" % a.n, 30):
        bye(3, "the wizard did not say the %d runs started" % a.n)
    t_start = time.monotonic()

    busy = Phase("runs")
    answered, done, last_poll, runs_seen = 0, 0, 0.0, []
    while time.monotonic() - t_start < a.timeout:
        keys_for(tty, busy, a.answer_every, iv)
        # Answer the questions waiting now (not measured: a dialog is open meanwhile).
        m = ask(b"Y", r"Answer yes for the (\d+) run|no run waits for an answer")
        if m and m.group(1):
            tty.send(b"y")
            answered += int(m.group(1))
            time.sleep(0.2)
        elif not m:
            # Neither came: no dialog may stay open over the next keys (n closes one, and
            # on the domains list does nothing).
            tty.send(b"n")
            time.sleep(0.1)
        print("Y at +%.1f s: %s" % (time.monotonic() - t_start,
                                    m.group(0) if m else "no answer"), file=sys.stderr, flush=True)
        if time.monotonic() - last_poll > 5:
            last_poll = time.monotonic()
            runs = status(mx, a.state)
            if runs is not None:
                runs_seen = runs
                done = sum(1 for r in runs if r.get("state") == "done")
                # (a run at the inbound-test question is in state gate: Y answers it)
                failed = [r for r in runs if r.get("state") == "failed"]
                if done + len(failed) >= a.n and len(runs) >= a.n:
                    break
    wall = time.monotonic() - t_start
    runs = status(mx, a.state) or runs_seen
    done = sum(1 for r in runs if r.get("state") == "done")
    out("RUNS_DONE", done)
    out("RUNS_WALL_S", "%.1f" % wall)
    out("ANSWERED", answered)
    for ph in (idle, busy):
        lat, gaps, at_lat, at_gap = ph.figures(tty, t_start)
        out(ph.name.upper() + "_LAT_MAX_AT", "%.1f" % at_lat)
        out(ph.name.upper() + "_GAP_MAX_AT", "%.1f" % at_gap)
        out(ph.name.upper() + "_KEYS", len(ph.sent))
        out(ph.name.upper() + "_ANSWERED", len(lat))
        out(ph.name.upper() + "_LAT_P50", "%.1f" % pct(lat, 50))
        out(ph.name.upper() + "_LAT_P99", "%.1f" % pct(lat, 99))
        out(ph.name.upper() + "_LAT_MAX", "%.1f" % (max(lat) if lat else 0))
        out(ph.name.upper() + "_GAP_MAX", "%.1f" % (max(gaps) if gaps else 0))
    bad = [r for r in runs if r.get("state") != "done"]
    for r in bad[:5]:
        say.append("%s: %s at %s: %s" % (r.get("domain"), r.get("state"), r.get("step"),
                                          (r.get("error") or r.get("waiting_for") or "")[:120]))
    for s in say:
        print("   " + s, flush=True)
    # q, and y to "A run is active" should one be; the wizard exits.
    tty.send(b"q")
    time.sleep(0.5)
    tty.send(b"y")
    try:
        tty.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(tty.proc.pid, signal.SIGTERM)
    if a.log:
        with open(a.log, "w") as f:
            f.write(tty.text.decode("utf-8", "replace"))
    sys.exit(0 if done == a.n else 3)


if __name__ == "__main__":
    main()
