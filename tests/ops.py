#!/usr/bin/env python3
"""ops.py — drive the default system's console as a person would, through a terminal.

Usage: tests/ops.py PLATFORM qemu|bochs ISO [TIMEOUT_SCALE]

Starts the system on a pseudo-terminal (QEMU: tools/run-qemu.sh --interactive, its
serial port on the terminal as in `make run`; Bochs: tools/run-bochs.sh --tty, COM1 on
the terminal), types into the guests' shells and checks what appears: echo before
Enter, a prompt before Enter, a 4 KiB paste arriving whole, a 300-character line
arriving whole, focus by name and by number, Ctrl-] ?, the hint for an unknown key,
two guests writing at once staying readable, a terminal program, a stopped guest
saying so; then the control shell (Ctrl-] 1; guests/configs/ops-test.conf): help, list,
stats that grow, starting a guest with `autostart no`, starting a stopped Linux guest
again, stop by the ACPI power button (a clean shutdown), start/destroy cycles (20 on
QEMU, 3 on Bochs) with the free-memory figure unchanged, console NAME; and the exit
status.  Then (QEMU) a second run that ends with Ctrl-A x: a guest whose VMM crashes
(`crashy`) is started twice from the control shell, its memory back each time.  Prints
one line per check, then
"PLATFORM: N passed, M failed"; exits 0 only if all passed.
"""
import hashlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

ESCAPE = b"\x1d"        # Ctrl-]
ISO_PATH = [""]
# busybox ash's prompt, unfinished, then its cursor-position query
PROMPT = rb"\] [^\r\n]*# (\x1b\[6n)?$"


class Terminal:
    """A command on a pseudo-terminal: what it writes is kept in `screen`."""

    def __init__(self, log):
        self.master, slave = pty.openpty()
        self.slave_name = os.ttyname(slave)
        self.log = log
        self.screen = b""
        self.raw = b""
        self.mark = 0               # expect() searches from here
        self.process = None
        self.slave = slave

    def start(self, argv):
        self.process = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave,
                                        stderr=self.slave, start_new_session=True)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            # QEMU's stdio keeps output processing on: the \r\n of the console
            # reaches the terminal as \r\r\n.  Both show the same; match one form.
            self.raw += data
            self.screen = self.raw.replace(b"\r\r\n", b"\r\n")
            self.log.write(data)
            self.log.flush()

    def expect(self, pattern, seconds):
        """Wait until `pattern` (bytes regex) appears after the mark; returns the match."""
        regex = re.compile(pattern)
        end = time.monotonic() + seconds
        while True:
            found = regex.search(self.screen, self.mark)
            if found:
                return found
            left = end - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and not self.readable()):
                return None
            self.pump(min(left, 0.2))

    def readable(self):
        ready, _, _ = select.select([self.master], [], [], 0)
        return bool(ready)

    def type(self, data, pace=0.0):
        """Write `data` to the terminal; with pace, a byte at a time."""
        if not pace:
            view = memoryview(data)
            while view:
                _, writable, _ = select.select([], [self.master], [], 1)
                if writable:
                    n = os.write(self.master, view[:256])
                    view = view[n:]
                self.pump(0)
            return
        for byte in data:
            os.write(self.master, bytes([byte]))
            self.pump(pace)

    def here(self):
        self.mark = len(self.screen)

    def stop(self):
        """End the runner: TERM first, so it can end the emulator it started."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Checks:
    def __init__(self, platform):
        self.platform = platform
        self.passed = self.failed = 0

    def check(self, name, ok, why):
        if ok:
            print(f"PASS {name}", flush=True)
            self.passed += 1
        else:
            print(f"FAIL {name}: {why}", flush=True)
            self.failed += 1
        return ok

    def summary(self):
        print(f"{self.platform}: {self.passed} passed, {self.failed} failed", flush=True)
        return self.failed == 0


def screen_lines(data):
    """The terminal's lines (\\r\\n separated), carriage returns inside kept."""
    return data.replace(b"\r\n", b"\n").split(b"\n")


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    platform, emulator, iso = sys.argv[1:4]
    ISO_PATH[0] = iso
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    here = os.path.dirname(os.path.abspath(__file__))
    tools = os.path.join(here, "..", "tools")
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
        run_checks(term, c, scale, emulator)
    finally:
        term.stop()
        log.close()
    if emulator == "qemu":
        leave_with_ctrl_a_x(c, tools, iso, log.name + ".ctrl-a-x", scale)
    return 0 if c.summary() else 1


def leave_with_ctrl_a_x(c, tools, iso, log_name, scale):
    """Leaving QEMU on purpose (Ctrl-A x, as README says) is a success."""
    with open(log_name, "wb") as log:
        term = Terminal(log)
        term.start([os.path.join(tools, "run-qemu.sh"), "--interactive", iso])
        try:
            started = term.expect(rb"\[root\] guest linux2: 128 MiB, started", 120 * scale)
            if started:
                crashed_guest_starts_again(term, c, scale)
            term.type(b"\x01x")
            try:
                status = term.process.wait(timeout=20 * scale)
            except subprocess.TimeoutExpired:
                status = None
            term.pump(0.5)
            said = b"left QEMU" in term.screen
        finally:
            term.stop()
    c.check("ops_ctrl_a_x_success", started is not None and status == 0 and said,
            f"Ctrl-A x gave exit status {status}, message shown: {said}")


def crashed_guest_starts_again(term, c, scale):
    """`crashy`'s VMM crashes at every start (ops-test.conf): it is reported, the
    guest is listed as crashed with all its memory back, the others run on, and
    `start crashy` starts a new VMM for it again (which crashes again, as told)."""
    # Right after boot: the Linux guests give back their loaders once loaded, which
    # adds to the free figure (README); wait for that first.
    mark, term.mark = term.mark, 0
    for name in (b"linux1", b"linux2"):
        term.expect(rb"\[root\] guest " + name + rb": loaded;", 120 * scale)
    term.mark = mark
    term.type(ESCAPE + b"1")
    term.expect(rb"\[console\] focus: root\r\n", 10 * scale)
    root_command(term, "list", scale, rb"free memory: \d+ KiB\r\n")
    before = free_memory(term)
    rows, figures = [], []
    for _ in range(2):
        crash = root_command(term, "start crashy", scale, rb"\[root\] guest crashy: its VMM crashed[^\r\n]*\r\n")
        root_command(term, "list", scale, rb"free memory: \d+ KiB\r\n")
        seen = term.screen[term.mark:]
        rows.append((crash is not None,
                     re.search(rb"\[root\] crashy +crashed ", seen) is not None,
                     re.search(rb"\[root\] linux1 +running ", seen) is not None))
        figures.append(free_memory(term))
    # The crashing VMM tried the kernel's debug console first: it holds none.
    debug = re.search(rb"\[crashy\] vmm: crashy: the kernel's debug console: (\w+)", term.screen)
    c.check("ops_vmm_has_no_debug_console", debug is not None and debug.group(1) == b"PITH_E_INVALID_CAP",
            f"the crashing VMM's debug console answered {debug.group(1) if debug else 'nothing'}")
    c.check("ops_shell_crashed_guest_starts_again",
            all(all(r) for r in rows) and before is not None and figures == [before, before],
            f"(crash reported, listed crashed, linux1 running) per start: {rows}; "
            f"free memory {before} KiB before, {figures} after each crash")


def focus(term, name, scale):
    term.here()
    term.type(ESCAPE + b"c" + name.encode() + b"\r", pace=0.05)
    return term.expect(rb"\[console\] focus: " + name.encode() + rb"\r\n", 10 * scale)


def shell_command(term, guest, command, scale, pace=0.0):
    """Type a command and Enter; wait for its echo, then the guest's next prompt.
    The mark ends up after the echo: what the command printed follows it."""
    term.here()
    term.type(command.encode() + b"\r", pace=pace)
    echo = term.expect(re.escape(command.encode()) + rb"\r\n", 30 * scale)
    if echo:
        term.mark = echo.end()
    return term.expect(rb"\[" + guest.encode() + PROMPT, 30 * scale)


def root_command(term, command, scale, until=rb"\[root\] pith> "):
    """Type a command to the control shell; wait for `until` (by default its next
    prompt).  The mark ends up after the command's echo: what it printed follows."""
    term.here()
    term.type(command.encode() + b"\r", pace=0.01)
    # the prompt may have come before the mark, and a guest's line between the keys
    echo = term.expect(re.escape(command.encode()) + rb"\r\n", 30 * scale)
    if echo:
        term.mark = echo.end()
    return term.expect(until, 60 * scale)


def free_memory(term):
    """The last 'free memory: N KiB' the control shell printed after the mark."""
    found = re.findall(rb"free memory: (\d+) KiB", term.screen[term.mark:])
    return int(found[-1]) if found else None


def control_shell(term, c, scale, cycles):
    """The control shell (target 1): help, list, stats, start of a guest that does not
    start at boot, stop by the ACPI power button, start again, destroy and start again
    `cycles` times with the free-memory figure unchanged, console NAME.  linux2 has
    stopped before (poweroff -f); linux1 runs."""
    term.here()
    term.type(ESCAPE + b"1")
    focused = term.expect(rb"\[console\] focus: root\r\n", 10 * scale) is not None
    helped = root_command(term, "help", scale, rb"poweroff +destroy every guest[^\r\n]*\r\n") is not None
    c.check("ops_shell_help", focused and helped and b"[root]   destroy NAME" in term.screen[term.mark:],
            f"Ctrl-] 1 focused the shell: {focused}; help listed the commands: {helped}")

    root_command(term, "list", scale, rb"free memory: \d+ KiB\r\n")
    seen = term.screen[term.mark:]
    rows = {name: re.search(rb"\[root\] " + name + rb" +([a-z ]+?) +(\d+) MiB +(\d+) +(\S+)", seen)
            for name in (b"linux1", b"linux2", b"tiny")}
    ok = all(rows.values()) and rows[b"linux1"].group(1) == b"running" and \
        rows[b"linux2"].group(1) == b"stopped" and rows[b"tiny"].group(1) == b"not started" and \
        rows[b"linux1"].group(2) == b"128" and re.match(rb"\d+\.\d$", rows[b"linux1"].group(4)) and \
        rows[b"linux2"].group(4) == b"-"
    before = free_memory(term)
    c.check("ops_shell_list", ok and before is not None,
            "list did not show linux1 running, linux2 stopped, tiny not started, with memory, "
            "vCPUs, uptime and free memory")

    figures = []
    for _ in range(2):
        root_command(term, "stats linux1", scale, rb"linux1: exits \d+:[^\r\n]*\r\n")
        m = re.search(rb"linux1: exits (\d+):.* IO (\d+)", term.screen[term.mark:])
        t = re.search(rb"linux1: up ([\d.]+) s, 1 vCPU: in the guest ([\d.]+) s, in the VMM ([\d.]+) s",
                      term.screen[term.mark:])
        figures.append((int(m.group(1)), float(t.group(1))) if m and t else None)
        term.pump(1)
    c.check("ops_shell_stats_grow", all(figures) and figures[1][0] > figures[0][0] and
            figures[1][1] > figures[0][1], f"stats linux1 twice gave (exits, uptime) {figures}")

    root_command(term, "start tiny", scale, rb"\[root\] guest tiny: stopped\r\n")
    c.check("ops_shell_start_not_autostarted",
            re.search(rb"\[tiny\] all steps passed\r\n.*\[root\] guest tiny: stopped\r\n",
                      term.screen[term.mark:], re.S) is not None,
            "start tiny (autostart no) did not run it to its clean end")

    root_command(term, "start linux2", scale, rb"\[root\] guest linux2: its VMM's domain took")
    booted = term.expect(rb"\[linux2\] pith-guest: starting a shell", 240 * scale) is not None
    c.check("ops_shell_start_boots_again", booted, "linux2 did not boot again after start")

    term.pump(2 * scale)
    root_command(term, "stop linux2", scale, rb"\[root\] guest linux2: stopped(.*)\r\n")
    seen = term.screen[term.mark:]
    c.check("ops_shell_stop_clean",
            b"[linux2] pith-guest: power button pressed, shutting down" in seen and
            b"[root] guest linux2: stopped\r\n" in seen,
            "no clean shutdown of linux2 after its power button was pressed")

    root_command(term, "list", scale, rb"free memory: \d+ KiB\r\n")
    after_stop = free_memory(term)
    c.check("ops_shell_memory_back_after_stop", after_stop == before,
            f"free memory {before} KiB before linux2 started again, {after_stop} KiB after it stopped")

    seen_figures = []
    for _ in range(cycles):
        root_command(term, "start linux2", scale, rb"\[root\] guest linux2: its VMM's domain took")
        root_command(term, "destroy linux2", scale, rb"guest linux2: destroyed; free memory: \d+ KiB\r\n")
        seen_figures.append(free_memory(term))
    c.check("ops_shell_destroy_start_cycles", len(seen_figures) == cycles and
            all(f == before for f in seen_figures),
            f"free memory after each of {cycles} start/destroy cycles: {seen_figures}, {before} KiB before")
    print(f"ops: free memory {before} KiB before, after {cycles} start/destroy cycles: "
          f"{sorted(set(seen_figures))}", flush=True)

    term.here()
    term.type(b"console linux1\r", pace=0.01)
    c.check("ops_shell_console_focus", term.expect(rb"\[console\] focus: linux1\r\n", 10 * scale) is not None,
            "console linux1 did not focus linux1")


def run_checks(term, c, scale, emulator):
    t = 1 if emulator == "qemu" else 8     # Bochs is slower: wait longer
    booted = all(term.expect(rb"\[" + g + rb"\] pith-guest: starting a shell", 240 * scale * t)
                 for g in (b"linux1", b"linux2"))
    if not c.check("ops_shells_start", booted, "no shell prompt line from both guests"):
        return
    term.pump(2 * t)


    c.check("ops_focus_by_name", focus(term, "linux1", scale * t) is not None,
            "Ctrl-] c linux1 Enter did not say 'focus: linux1'")

    # A prompt appears before Enter: Enter alone gives a new prompt, unfinished.
    term.here()
    term.type(b"\r")
    prompt = term.expect(rb"\[linux1" + PROMPT, 10 * scale * t)
    c.check("ops_prompt_before_enter", prompt is not None,
            "the shell's prompt (no newline after it) did not appear")

    # What is typed is echoed before Enter.
    term.here()
    term.type(b"echo typed-wor", pace=0.02)
    echoed = term.expect(rb"echo typed-wor", 10 * scale * t)
    c.check("ops_echo_before_enter", echoed is not None, "the typed text did not appear before Enter")
    term.here()
    term.type(b"ds\r")
    c.check("ops_echo_command_runs", term.expect(rb"\[linux1\] typed-words\r\n", 10 * scale * t) is not None,
            "the echoed command did not print its words")
    term.expect(rb"# (\x1b\[6n)?$", 10 * scale * t)

    # A partial line appears promptly: abc shows while the shell sleeps.
    term.here()
    term.type(b"printf abc; sleep 4; echo def\r")
    early = term.expect(rb"\[linux1\] abc", 3 * scale * t)
    saw_def_early = early is not None and b"def\r\n" in term.screen[early.end():]
    later = term.expect(rb"abcdef\r\n", 15 * scale * t)
    c.check("ops_partial_line_prompt", early is not None and not saw_def_early and later is not None,
            "'abc' did not appear before the command ended")
    term.expect(rb"# (\x1b\[6n)?$", 10 * scale * t)

    # The guest's clock starts at the host's time (pith.clock=, written by mkimage when
    # the image was built).  Its date less its uptime is when it booted by its own
    # clock: after the build and not after now.  (Bochs's time is its instruction
    # count, which runs ahead of the host's while it idles, so the date alone may be
    # later than now there.)
    built = os.path.getmtime(ISO_PATH[0])
    shell_command(term, "linux1", "echo clock $(date +%s) $(cut -d. -f1 /proc/uptime)", scale * t)
    said = re.search(rb"\[linux1\] clock (\d{9,}) (\d+)\r\n", term.screen[term.mark:])
    guest_time, uptime = (int(said.group(1)), int(said.group(2))) if said else (0, 0)
    booted = guest_time - uptime
    c.check("ops_clock_is_host_time", said is not None and built - 5 <= booted <= time.time() + 5,
            f"guest date {guest_time} less uptime {uptime}: booted {booted}, "
            f"image built {int(built)}, now {int(time.time())}")

    # A 300-character line arrives whole, with one label.
    shell_command(term, "linux1", "printf '%0300d\\n' 0 | tr 0 x", scale * t)
    long_line = re.search(rb"\[linux1\] x{300}\r\n", term.screen[term.mark:])
    c.check("ops_long_line_whole", long_line is not None, "no whole 300-character line")

    # A 4 KiB paste arrives whole, with its Enter.
    paste = b"".join(b"%03d-" % i + b"p" * 59 + b"\n" for i in range(64))
    assert len(paste) == 4096
    term.here()
    term.type(b"cat > /tmp/paste\r")
    term.pump(1 * t)
    term.type(paste.replace(b"\n", b"\r"))
    term.type(b"\x04")
    term.expect(rb"# (\x1b\[6n)?$", 60 * scale * t)
    shell_command(term, "linux1", "wc -c < /tmp/paste; md5sum /tmp/paste", scale * t)
    digest = hashlib.md5(paste).hexdigest().encode()
    seen = term.screen[term.mark:]
    c.check("ops_paste_4k_whole", b"[linux1] 4096\r\n" in seen and digest in seen,
            "the pasted 4096 bytes did not arrive whole (wc/md5sum)")

    # Ctrl-] ? lists the keys and the targets; an unknown key gets a hint.
    term.here()
    term.type(ESCAPE + b"?")
    listed = term.expect(rb"\[console\] targets:  1 root  2 linux1 \*  3 linux2\r\n",
                         10 * scale * t)
    c.check("ops_help_lists_keys", listed is not None and b"keys after Ctrl-]" in term.screen[term.mark:],
            "Ctrl-] ? did not list the keys and targets")
    term.here()
    term.type(ESCAPE + b"z")
    c.check("ops_unknown_key_hint", term.expect(rb"\[console\] unknown key after Ctrl-\]: Ctrl-\] \? lists the keys",
                                                10 * scale * t) is not None, "no hint for Ctrl-] z")

    # Focus by number.
    term.here()
    term.type(ESCAPE + b"3")
    ok = term.expect(rb"\[console\] focus: linux2\r\n", 10 * scale * t) is not None
    ok = ok and shell_command(term, "linux2", "hostname", scale * t) is not None
    c.check("ops_focus_by_number", ok and b"[linux2] linux2\r\n" in term.screen[term.mark:],
            "Ctrl-] 3 did not reach linux2's shell")

    # Two guests writing at once stay readable: linux1 writes pieces of lines in the
    # background while linux2 writes whole lines.
    focus(term, "linux1", scale * t)
    term.type(b"\r")
    term.expect(rb"# (\x1b\[6n)?$", 10 * scale * t)
    start = term.screen.rfind(b"\n") + 1          # judged from this line on
    term.type(b"(for i in $(seq 1 30); do printf 'one-%02d ' $i; sleep 0.05; done; echo one-end) &\r")
    focus(term, "linux2", scale * t)
    term.here()
    term.type(b"for i in $(seq 1 30); do echo two-$i; sleep 0.03; done; echo two-end\r")
    term.expect(rb"\[linux2\] two-end\r\n", 60 * scale * t)
    term.expect(rb"one-end", 30 * scale * t)
    term.pump(1 * t)
    lines = screen_lines(term.screen[start:])
    mixed = [l for l in lines if b"one-" in l and b"two-" in l and b"printf" not in l]
    unlabelled = [l for l in lines if (b"one-" in l or b"two-" in l) and not l.startswith(b"[")]
    ones = set(re.findall(rb"one-(\d\d)", b"".join(l for l in lines if l.startswith(b"[linux1] "))))
    twos = set(re.findall(rb"\[linux2\] two-(\d+)\r?$", b"\n".join(lines), re.M))
    c.check("ops_two_guests_readable",
            not mixed and not unlabelled and len(ones) == 30 and len(twos) == 30,
            f"{len(mixed)} mixed lines, {len(unlabelled)} unlabelled, {len(ones)}/30 and {len(twos)}/30 seen")

    # A terminal program: vi switches to the alternate screen, which gives it the full
    # screen until it switches back; the escape key passes through.
    focus(term, "linux1", scale * t)
    term.here()
    term.type(b"\rvi /tmp/v\r")
    full = term.expect(rb"\[console\] full screen: linux1 \(Ctrl-\] f ends it\)\r\n\x1b\[\?1049h",
                       15 * scale * t) is not None
    term.pump(2 * t)
    term.type(b"ihello from vi\x1b", pace=0.05)
    term.pump(1 * t)
    term.type(b":wq\r", pace=0.05)
    # vi's own switch back, then the console's reset (CAN first), then its note
    ended = term.expect(rb"\x1b\[\?1049l\x18[^\r]*\r\n\[console\] full screen ended", 15 * scale * t) is not None
    shell_command(term, "linux1", "cat /tmp/v", scale * t)
    c.check("ops_vi_full_screen", full and ended and b"[linux1] hello from vi\r\n" in term.screen[term.mark:],
            f"full screen began {full}, ended {ended}, or the file does not hold what was typed")

    # top, with Ctrl-] f: cursor addressing passes unlabelled, q leaves it.
    term.here()
    term.type(ESCAPE + b"f")
    full = term.expect(rb"\[console\] full screen: linux1", 10 * scale * t) is not None
    term.type(b"top\r")
    drawn = term.expect(rb"\x1b\[H\x1b\[J?Mem: ", 20 * scale * t) is not None
    term.pump(1 * t)
    term.type(b"q")
    term.pump(1 * t)
    term.type(ESCAPE + b"f")
    ended = term.expect(rb"full screen ended", 10 * scale * t) is not None
    back = shell_command(term, "linux1", "echo top-done", scale * t) is not None
    c.check("ops_top_full_screen", full and drawn and ended and back,
            f"full screen {full}, top drawn {drawn}, ended {ended}, shell back {back}")

    # A stopped guest says so, and focus moves on.  It leaves a terminal string open
    # first (an OSC, a window title): its VMM's report still shows (vm_own_line).
    focus(term, "linux2", scale * t)
    term.here()
    term.type(b"printf 'x\\033]0;'; poweroff -f\r")
    moved = term.expect(rb"\[console\] linux2 has stopped; focus: linux1", 60 * scale * t)
    c.check("ops_vmm_report_after_open_string",
            re.search(rb"\[linux2\] vmm: linux2: powered off after", term.screen[term.mark:]) is not None,
            "the VMM's report after the guest left an OSC open did not show")
    term.here()
    term.type(ESCAPE + b"3")
    told = term.expect(rb"\[console\] linux2 has stopped; focus stays on linux1", 10 * scale * t)
    c.check("ops_stopped_guest_says_so", moved is not None and told is not None,
            "no note that linux2 stopped, or focus went to it")

    control_shell(term, c, scale * t, 20 if emulator == "qemu" else 3)

    # The last guest stops cleanly: the system powers off with success.
    term.here()
    term.type(b"\rpoweroff -f\r")
    left = term.expect(rb"\[root\] no guest left \(all stopped cleanly\)", 60 * scale * t)
    try:
        status = term.process.wait(timeout=60 * scale * t)
    except subprocess.TimeoutExpired:
        status = None
    c.check("ops_clean_poweroff_status", left is not None and status == 0,
            f"no clean power-off, or exit status {status}")


if __name__ == "__main__":
    sys.exit(main())
