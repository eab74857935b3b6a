#!/usr/bin/env python3
"""default_run.py — boot the default system (`make run`'s guests/configs/two-linux.conf)
twice with one host disk, as a person would, through a terminal.

Usage: tests/default_run.py PLATFORM ISO HOST_DISK [TIMEOUT_SCALE]

HOST_DISK is made afresh (tests/mkgpt.py, partitions linux1 and linux2, as `make run`
makes it).  Boot 1: the uplink brings the host's e1000 up on segment 1, both guests
get their address and gateway and find no filesystem on their partition, so they make
one and mount it at /data; linux1 writes a file there, pings linux2 and the gateway
(the host), and the control shell stops both guests (the system then powers off).  Boot 2: linux1 finds its
file again, with the same content, and linux2's partition is still empty.  QEMU only.
Prints one line per check, then "PLATFORM: N passed, M failed"; exits 0 only if all
passed.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops import Checks, Terminal, focus, root_command, shell_command  # noqa: E402

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
GUESTS = ("linux1", "linux2")


def boot(iso, disk, log_name):
    term = Terminal(open(log_name, "wb"))
    term.start([os.path.join(TOOLS, "run-qemu.sh"), "--interactive", "--disk", disk, iso])
    return term


def power_off(term, scale):
    """Both guests stopped from the control shell (the ACPI power button: a clean
    shutdown); the system then powers off by itself.  Returns QEMU's exit status (None:
    it did not end)."""
    term.type(b"\x1d1")
    for name in GUESTS:
        root_command(term, "stop " + name, scale, rb"\[root\] guest " + name.encode() + rb": stopped")
    term.expect(rb"no guest left", 60 * scale)
    try:
        return term.process.wait(timeout=60 * scale)
    except subprocess.TimeoutExpired:
        return None


def pings(term, address, scale):
    """linux1 pings address once; whether the answer came (grep counts the line)."""
    prompt = shell_command(term, "linux1", f"ping -c 1 -W 5 {address} | grep -c ' 0% packet loss'", scale)
    return prompt is not None and re.search(rb"\[linux1\] 1\r\n", term.screen[term.mark:]) is not None


def first_boot(term, c, scale):
    up = term.expect(rb"uplink: e1000 at [^\r\n]*link up, segment 1", 120 * scale)
    c.check("default_run_uplink_up", up is not None, "the uplink did not bring the host's NIC up on segment 1")
    for name, ip in zip(GUESTS, ("10.0.2.15", "10.0.2.16")):
        net = term.expect(rb"\[" + name.encode() + rb"\] pith-guest: eth0 " + ip.encode() +
                          rb", gateway 10\.0\.2\.2", 240 * scale)
        c.check(f"default_run_{name}_network", net is not None, f"{name} did not configure eth0 as {ip}")
    for name in GUESTS:
        made = term.expect(rb"\[" + name.encode() + rb"\] pith-guest: /data is the host partition \(0 files",
                           120 * scale)
        c.check(f"default_run_{name}_fresh_disk", made is not None,
                f"{name} did not make and mount a filesystem on its fresh partition")
    shells = all(term.expect(rb"\[" + g.encode() + rb"\] pith-guest: starting a shell", 120 * scale)
                 for g in GUESTS)
    if not c.check("default_run_shells", shells, "no shell from both guests"):
        return
    focus(term, "linux1", scale)
    term.pump(1)
    shell_command(term, "linux1", "echo pith-kept-across-runs >/data/kept.txt; sync", scale)
    c.check("default_run_guests_ping", pings(term, "10.0.2.16", scale),
            "linux1 could not ping linux2 on their segment")
    c.check("default_run_gateway_ping", pings(term, "10.0.2.2", scale),
            "linux1 could not ping the gateway (the host, through the uplink)")


def second_boot(term, c, scale):
    kept = term.expect(rb"\[linux1\] pith-guest: /data is the host partition \(1 files", 240 * scale)
    c.check("default_run_disk_kept", kept is not None, "linux1's file was not on its partition at the next boot")
    other = term.expect(rb"\[linux2\] pith-guest: /data is the host partition \(0 files", 120 * scale)
    c.check("default_run_neighbour_untouched", other is not None, "linux2's partition did not stay empty")
    remade = re.search(rb"holds no filesystem", term.screen)
    c.check("default_run_no_second_mkfs", remade is None, "a guest made a filesystem again at the second boot")
    if term.expect(rb"\[linux1\] pith-guest: starting a shell", 120 * scale):
        focus(term, "linux1", scale)
        term.pump(1)
        shell_command(term, "linux1", "cat /data/kept.txt", scale)
    c.check("default_run_file_content", b"pith-kept-across-runs" in term.screen[term.mark:],
            "the file's content did not come back")


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    platform, iso, disk = sys.argv[1:4]
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "mkgpt.py"), disk, f"{100 * 16 * 63}s",
                    "linux1:24", "linux2:24"], check=True)
    logs = os.path.dirname(os.path.abspath(iso))
    c = Checks(platform)
    for number, checks in ((1, first_boot), (2, second_boot)):
        term = boot(iso, disk, os.path.join(logs, f"{platform}-{number}.log"))
        try:
            checks(term, c, scale)
            status = power_off(term, scale)
            c.check(f"default_run_boot{number}_powers_off", status == 0,
                    f"the control shell's poweroff did not end the system cleanly (status {status})")
        finally:
            term.stop()
            term.log.close()
    return 0 if c.summary() else 1


if __name__ == "__main__":
    sys.exit(main())
