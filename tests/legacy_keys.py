#!/usr/bin/env python3
"""legacy_keys.py — keys typed on the console reach a firmware-booted guest.

Usage: tests/legacy_keys.py [--memtest] PLATFORM qemu|bochs ISO [TIMEOUT_SCALE]

Boots guests/configs/legacy-keys.conf on a pseudo-terminal (as tests/ops.py does):
presses Escape at SeaBIOS's "Press ESC for boot menu", picks the first entry of the
menu with "1", then answers the boot sector's "press a key" with "k"; then picks the
second entry of GRUB's menu (booted by SeaBIOS from an IDE disk) with the Down arrow;
and sees Linux come up through GRUB's linux16 from another IDE disk and find that disk.
With --memtest, boots guests/configs/legacy-memtest.conf instead: Debian's memtest86+
(through GRUB too) finishes its first test and is ended with Escape.
Every key travels console -> VMM -> PS/2 keyboard (set 2, translated to set 1 by the
8042) -> IRQ 1 -> the BIOS.  Prints one line per check, then "PLATFORM: N passed, M failed".
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops import Checks, Terminal, focus  # noqa: E402


def run_checks(term, c, scale):
    started = term.expect(rb"\[root\] guest seagrub: 32 MiB, started", 120 * scale)
    # The root task says "started" before the VMM has introduced itself to the console;
    # on a busy host the name may not be known yet, and the keys would go elsewhere.
    focused = focus_when_known(term, "seakey", scale)
    c.check("legacy_keys_focus", focused, "the console never focused seakey")
    term.mark = 0
    prompt = term.expect(rb"\[seakey\] Press ESC for boot menu", 180 * scale)
    if prompt:
        term.type(b"\x1b")
    c.check("legacy_keys_bios_prompt", prompt is not None, "SeaBIOS did not offer its boot menu")
    menu = term.expect(rb"\[seakey\] Select boot device", 60 * scale)
    c.check("legacy_keys_boot_menu", menu is not None, "Escape did not open the boot menu")
    if menu:
        term.expect(rb"\[seakey\] 1\. ", 10 * scale)
        term.here()
        term.type(b"1")
    booted = term.expect(rb"\[seakey\] Booting from Hard Disk", 30 * scale)
    c.check("legacy_keys_menu_choice", booted is not None, "choosing 1 did not boot the disk")
    asked = expect_in_lines(term, b"seakey", b"pith-boot: press a key", 30 * scale)
    if asked:
        term.type(b"k")
    # (the line's end may still sit in SeaBIOS's serial console when the guest ends)
    got = expect_in_lines(term, b"seakey", b"pith-boot: key 'k", 60 * scale)
    c.check("legacy_keys_key_reaches_guest", got, "the boot sector did not get 'k'")
    status = term.expect(rb"\[root\] guest seakey: stopped with exit status 33", 60 * scale)
    c.check("legacy_keys_exit_status", status is not None, "no exit status 33 (0x10 after a key)")
    # GRUB: its menu on the console, the second entry chosen with the Down arrow and Enter
    c.check("legacy_grub_started", started is not None, "the GRUB guest did not start")
    term.mark = 0
    # an entry of the menu as GRUB draws it (the entries' own output says "the ... entry")
    # (SeaBIOS's serial console may move the cursor in the middle of a word)
    menu = expect_text(term, rb"\[seagrub\] .*pith-grub: (first|second) entry", 300 * scale)
    c.check("legacy_grub_menu", menu is not None, "GRUB's menu did not reach the console")
    focus(term, "seagrub", scale)
    # Down (the terminal's ESC [ B, an extended key on the PS/2 keyboard) moves the
    # highlight to the second entry, and Enter runs it; the entries end the guest
    # through port 0xf4: 0x10 (status 33) for the second, 0x20 (status 65) for the
    # first; what they echo may still sit in SeaBIOS's serial console buffer when the
    # guest ends, so the status is the evidence
    term.type(b"\x1b[B")
    term.pump(1)
    term.type(b"\r")
    status = term.expect(rb"\[root\] guest seagrub: stopped with exit status (33|65)", 120 * scale)
    c.check("legacy_grub_entry_chosen", status is not None and status.group(1) == b"33",
            "Down and Enter did not run the second entry (exit status 33)")
    # Linux through GRUB's linux16 from the IDE disk (no keys: it boots by itself).
    linux_checks(term, c, scale)
    left = term.expect(rb"\[root\] no guest left", 900 * scale)
    try:
        code = term.process.wait(timeout=60 * scale)
    except subprocess.TimeoutExpired:
        code = None
    c.check("legacy_keys_power_off", left is not None and code is not None,
            f"the system did not power off when no guest was left (exit status {code})")


CURSOR_MOVES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def expect_text(term, pattern, seconds):
    """As term.expect, on the screen after the mark with the terminal's escape
    sequences removed."""
    regex = re.compile(pattern)
    end = time.monotonic() + seconds
    while True:
        found = regex.search(CURSOR_MOVES.sub(b"", term.screen[term.mark:]))
        if found or time.monotonic() >= end:
            return found
        term.pump(0.2)


def expect_in_lines(term, label, text, seconds):
    """Whether `text` appears in what guest `label` wrote after the mark, its lines
    joined: a guest that pauses in the middle of a line (SeaBIOS's serial console on a
    slow emulator) has the unfinished part shown after 20 ms, and the rest comes as a
    line of its own, perhaps after other guests' lines."""
    prefix = b"[" + label + b"] "
    end = time.monotonic() + seconds
    while True:
        lines = term.screen[term.mark:].split(b"\r\n")
        joined = b"".join(line[len(prefix):] for line in lines if line.startswith(prefix))
        if text in joined:
            return True
        if time.monotonic() >= end:
            return False
        term.pump(0.2)


def focus_when_known(term, name, scale):
    """Focus `name`, again every second while the console does not know it yet."""
    for _ in range(int(60 * scale)):
        if focus(term, name, scale):
            return True
        term.pump(1)
    return False


def linux_checks(term, c, scale):
    term.mark = 0
    init = term.expect(rb"\[sealinux\] pith-guest: init running on sealinux", 900 * scale)
    c.check("legacy_linux_via_grub", init is not None, "Linux did not reach its /init through GRUB")
    disk = term.expect(rb"\[sealinux\] .*ata1\.00: ATA-7: PITH VIRTUAL DISK", 120 * scale)
    c.check("legacy_linux_ide_identify", disk is not None, "ata_piix did not identify the IDE disk")
    part = term.expect(rb"\[sealinux\] .* sda: sda1", 120 * scale)
    c.check("legacy_linux_ide_reads", part is not None,
            "Linux did not read the disk's partition table (bus-master DMA)")
    # /init (guests/bios/initrd-ide.sh) writes the disk's last sector, drops the kernel's
    # cache of the disk and reads the sector back from the device
    wrote = term.expect(rb"\[sealinux\] pith-guest: sda sector \d+ (written and read back|did not)", 120 * scale)
    c.check("legacy_linux_ide_writes", wrote is not None and wrote.group(1) == b"written and read back",
            "Linux's write to the IDE disk did not read back")
    end = term.expect(rb"\[sealinux\] pith-guest: test end", 120 * scale)
    c.check("legacy_linux_commands", end is not None, "the guest's test commands did not finish")
    # sealinux then halts (acpi=off: no power-off), so the end is not "all stopped cleanly"


def memtest_checks(term, c, scale):
    """memtest86+ draws its screen on COM1 as terminal escape sequences without line
    ends, refreshing it about once a second: its banner, its status "Testing" in pass 0,
    then a test after the first (#0 runs first, and on 32 MiB it is often over before
    the first refresh), and no errors; then Escape typed on the console makes it reset
    the machine, which ends the guest."""
    term.mark = 0
    banner = term.expect(rb"Memtest86\+ v\d+\.\d+", 300 * scale)
    c.check("legacy_memtest_starts", banner is not None, "memtest86+ printed no banner")
    testing = term.expect(rb"Status: Testing", 300 * scale)
    c.check("legacy_memtest_testing", testing is not None, "memtest86+ did not start testing")
    later = term.expect(rb"#[1-9]\d?  \[[A-Z]", 900 * scale)
    c.check("legacy_memtest_first_test_done", later is not None,
            "memtest86+ did not go on to a second test")
    term.mark = 0
    errors = term.expect(rb"Errors: *[1-9]", 0)
    shown = term.expect(rb"Errors: *0", 0)
    c.check("legacy_memtest_no_errors", errors is None and shown is not None,
            "memtest86+ reported memory errors (or no error count)")
    focus(term, "seamemtest", scale)
    term.type(b"\x1b")
    reset = term.expect(rb"vmm: seamemtest: reset after \d+ ms", 120 * scale)
    c.check("legacy_memtest_escape_resets", reset is not None,
            "Escape did not make memtest86+ reset the machine")
    left = term.expect(rb"\[root\] no guest left", 120 * scale)
    c.check("legacy_memtest_power_off", left is not None, "the system did not power off after the reset")


def main():
    args = sys.argv[1:]
    memtest = bool(args) and args[0] == "--memtest"
    if memtest:
        args = args[1:]
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    platform, emulator, iso = args[:3]
    scale = float(args[3]) if len(args) > 3 else 1.0
    tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
    log = open(os.path.join(os.path.dirname(os.path.abspath(iso)), f"{platform}.log"), "wb")
    term = Terminal(log)
    if emulator == "qemu":
        argv = [os.path.join(tools, "run-qemu.sh"), "--interactive", iso]
    else:
        argv = [os.path.join(tools, "run-bochs.sh"), "--timeout", str(int(1500 * scale)),
                "--tty", term.slave_name, iso]
    term.start(argv)
    c = Checks(platform)
    try:
        if memtest:
            memtest_checks(term, c, scale)
        else:
            run_checks(term, c, scale)
    finally:
        term.stop()
        log.close()
    return 0 if c.summary() else 1


if __name__ == "__main__":
    sys.exit(main())
