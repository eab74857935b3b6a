#!/usr/bin/env python3
"""density.py — `make test-density`: 32 Linux guests on one Pith system, each answering.

Usage: tests/density.py BUILD [TIMEOUT_SCALE]

Writes the image of `make bench-density` (tools/bench/density.sh with
DENSITY_IMAGE_ONLY=1: DENSITY_GUESTS guests, default 32, of 96 MiB each, the reference
kernel and initramfs, `cpus` 0 and 1 in turn), boots it on QEMU -m 8G with two CPUs
(TCG) on a terminal, waits until every guest's /init has said it runs, then focuses
each guest in turn (Ctrl-] c NAME) and has its shell answer a command whose output
names the guest it ran in: `echo answer-$((6*7))-$(hostname)`, the hostname being the
guest's name.  Prints one line per check, then "density: N passed, M failed"; exits 0
only if all passed.  The terminal's log: BUILD/density.log.
"""
import os
import re
import subprocess
import sys
import time

from ops import Checks, Terminal, focus

INIT = rb"\[(d\d+)\] pith-guest: init running on \1\r\n"
ENDED = rb"\[root\] guest (d\d+): stopped"      # with an error, or by itself


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    count = int(os.environ.get("DENSITY_GUESTS", "32"))
    here = os.path.dirname(os.path.abspath(__file__))
    tools = os.path.join(here, "..", "tools")
    env = dict(os.environ, DENSITY_IMAGE_ONLY="1", DENSITY_GUESTS=str(count))
    subprocess.run([os.path.join(tools, "bench", "density.sh"), build], env=env, check=True)
    iso = os.path.join(build, "pith-bench-density.iso")
    names = [f"d{i:02d}" for i in range(1, count + 1)]
    c = Checks("density")
    with open(os.path.join(build, "density.log"), "wb") as log:
        term = Terminal(log)
        term.start([os.path.join(tools, "run-qemu.sh"), "--interactive", "--mem", "8G", "--smp", "2", iso])
        try:
            run_checks(term, c, names, scale)
        finally:
            term.stop()
    return 0 if c.summary() else 1


def run_checks(term, c, names, scale):
    # Every guest at init: the lines may come in any order.
    started = time.monotonic()
    deadline = started + 1200 * scale
    at_init, ended = set(), set()
    while len(at_init | ended) < len(names) and time.monotonic() < deadline:
        term.pump(1.0)
        at_init = {m.group(1).decode() for m in re.finditer(INIT, term.screen)}
        ended = {m.group(1).decode() for m in re.finditer(ENDED, term.screen)}
        if term.process.poll() is not None:
            break
    missing = [n for n in names if n not in at_init]
    c.check("density_all_at_init", not missing,
            f"{len(names) - len(missing)} of {len(names)} guests reached init in "
            f"{time.monotonic() - started:.0f} s; not: {' '.join(missing)}")
    print(f"density: {len(at_init)} guests at init after {time.monotonic() - started:.0f} s", flush=True)

    # Each answers in its own shell, through the console's focus.
    silent = []
    for name in names:
        if name not in at_init:
            silent.append(name)
            continue
        answered = None
        for _ in range(2):      # a keystroke lost to a busy guest gets one more try
            if not focus(term, name, 3 * scale):
                continue
            term.here()
            term.type(b"echo answer-$((6*7))-$(hostname)\r", pace=0.01)
            answered = term.expect(rb"\[" + name.encode() + rb"\] answer-42-" + name.encode() + rb"\r\n",
                                   60 * scale)
            if answered:
                break
        if not answered:
            silent.append(name)
    c.check("density_each_answers", not silent,
            f"no answer from {' '.join(silent)} ({len(names) - len(silent)} of {len(names)} answered)")

    # None of them stopped, before init or since; the VMM says why.
    stopped = sorted({m.group(1).decode() for m in re.finditer(ENDED, term.screen)})
    why = [m.group(0).decode(errors="replace").strip()
           for m in re.finditer(rb"\[d\d+\] vmm: d\d+: (?:failed|stopped|reset)[^\r\n]*", term.screen)]
    c.check("density_none_stopped", not stopped,
            f"stopped: {' '.join(stopped)}: {'; '.join(why)}")


if __name__ == "__main__":
    sys.exit(main())
