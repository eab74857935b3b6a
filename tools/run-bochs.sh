#!/usr/bin/env bash
# run-bochs.sh — boot a Pith ISO headless in Bochs (Intel VMX + EPT), COM1 on stdout.
#
# Usage: tools/run-bochs.sh [--timeout SECONDS] [--log FILE] [--smp N] [--tty TTY] ISO
#
#   --timeout S   kill Bochs after S wall seconds (default 900)
#   --log FILE    also copy the serial output to FILE (not with --tty)
#   --smp N       N CPUs (default: the SMP environment variable, else 1)
#   --mem SIZE    memory: 512M, 1G (default: the MEM environment variable, else 512M)
#   --disk IMAGE  a raw host disk image as ata0-slave (the storage server's disk,
#                 docs/storage.md); writes go to IMAGE
#   --tty TTY     COM1 on the terminal TTY (Bochs' `term` mode) instead of standard
#                 output: what is typed there reaches the guest (`make run EMU=bochs`
#                 passes the user's terminal; tests/ops.py a pseudo-terminal).  Bochs
#                 takes keys only as fast as its serial line, and drops what overruns
#                 the UART's 16-byte FIFO: type, do not paste.
#   --forward H:G:P  the host's TCP port 127.0.0.1:H reaches port P of the guest at
#                 G (on the uplink's segment, docs/network.md); repeatable; also from
#                 the FORWARD environment variable (spaces between several)
#
#   --nic         give the machine an Intel e1000 NIC (82540EM) on Bochs' slirp
#                 network, as QEMU's user-mode network: its gateway 10.0.2.2 is the
#                 host's loopback (--forward implies it).  Pith's uplink server drives
#                 it when the configuration says `uplink SEGMENT`.
#
# Guest convention (Bochs has no isa-debug-exit; these are the two ways a
# guest can end Debian's Bochs 2.7 with different exit statuses):
#   pass: write the bytes "Shutdown" to port 0x8900.  Bochs powers off (it
#         exits with status 1 and logs "Shutdown port: shutdown requested").
#   fail: write the byte 'D' (0x44) to port 0x8900.  Bochs stops in its
#         built-in debugger, which runs the next command of our -rc file,
#         `quit`: Bochs exits with status 0.
#   Before either, wait until COM1 has sent everything (LSR bit 6, port 0x3fd),
#   or the last characters are lost.
# A triple fault is a Bochs panic here (reset_on_triple_fault=0), like any
# other panic: status 1 without the Shutdown message, reported as an error.
# Exit status: 0 pass; 1 fail; 124 timeout; 2 anything else (Bochs error or
# panic, triple fault, bad usage); the end of Bochs' own log goes to stderr.
set -euo pipefail

usage() { echo "usage: $0 [--timeout SECONDS] [--log FILE] [--smp N] [--mem SIZE] [--tty TTY] [--disk IMAGE] [--nic] [--forward HOSTPORT:GUESTIP:PORT] ISO" >&2; exit 2; }

timeout=900 log='' iso='' smp=${SMP:-1} tty='' mem=${MEM:-512M} disk='' nic=0
# shellcheck disable=SC2206  # (FORWARD is split at spaces on purpose)
forwards=(${FORWARD:-})
while [ $# -gt 0 ]; do
	case "$1" in
		--timeout) [ $# -ge 2 ] || usage; timeout=$2; shift ;;
		--log) [ $# -ge 2 ] || usage; log=$2; shift ;;
		--smp) [ $# -ge 2 ] || usage; smp=$2; shift ;;
		--tty) [ $# -ge 2 ] || usage; tty=$2; shift ;;
		--mem) [ $# -ge 2 ] || usage; mem=$2; shift ;;
		--disk) [ $# -ge 2 ] || usage; [ -f "$2" ] || { echo "run-bochs: no such disk image: $2" >&2; exit 2; }
			disk="ata0-slave: type=disk, path=\"$(realpath "$2")\", mode=flat"; shift ;;
		--forward) [ $# -ge 2 ] || usage; forwards+=("$2"); nic=1; shift ;;
		--nic) nic=1 ;;
		-*) usage ;;
		*) [ -z "$iso" ] || usage; iso=$1 ;;
	esac
	shift
done
[ -n "$iso" ] || usage
[ -f "$iso" ] || { echo "run-bochs: no such ISO: $iso" >&2; exit 2; }
[[ "$timeout" =~ ^[0-9]+$ ]] || { echo "run-bochs: bad timeout: $timeout" >&2; exit 2; }
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || { echo "run-bochs: bad CPU count: $smp" >&2; exit 2; }
case "$mem" in     # megabytes, as QEMU's -m reads the same values
	[1-9]*G) [[ "${mem%G}" =~ ^[0-9]+$ ]] && megs=$((${mem%G} * 1024)) ;;
	[1-9]*M) megs=${mem%M} ;;
	[1-9]*) megs=$mem ;;
esac
[[ "${megs:-}" =~ ^[1-9][0-9]*$ ]] || { echo "run-bochs: bad memory size: $mem (e.g. 512M, 2G)" >&2; exit 2; }
if [ -n "$tty" ] && [ ! -c "$tty" ]; then
	echo "run-bochs: no terminal ($tty): COM1 goes to standard output, input is not read" >&2
	tty=''
fi
com1="com1: enabled=1, mode=file, dev=serial.txt"
[ -z "$tty" ] || com1="com1: enabled=1, mode=term, dev=$tty"
# GDB_PORT=N: COM2 as a TCP server on localhost:N for the GDB stub (docs/gdb.md); Bochs
# waits for the client to connect before it starts.
com2=''
if [ -n "${GDB_PORT:-}" ]; then
	[[ "$GDB_PORT" =~ ^[1-9][0-9]*$ ]] || { echo "run-bochs: bad GDB_PORT: $GDB_PORT" >&2; exit 2; }
	com2="com2: enabled=1, mode=socket-server, dev=localhost:$GDB_PORT"
fi
bios=/usr/share/bochs/BIOS-bochs-latest vgabios=/usr/share/vgabios/vgabios.bin
for f in "$bios" "$vgabios"; do
	[ -f "$f" ] || { echo "run-bochs: $f missing (tools/deps.sh)" >&2; exit 2; }
done
command -v bochs >/dev/null || { echo "run-bochs: bochs missing (tools/deps.sh)" >&2; exit 2; }

tmp=$(mktemp -d)
pid='' sleeper='' tailer='' drainer=''
# shellcheck disable=SC2317  # (called through the trap)
cleanup() {
	# Bochs ignores SIGTERM: kill its whole process group (session) outright.
	[ -z "$pid" ] || kill -KILL -- "-$pid" 2>/dev/null || true
	[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
	[ -z "$tailer" ] || kill "$tailer" 2>/dev/null || true
	[ -z "$drainer" ] || kill "$drainer" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$tmp/bochsrc" <<RC
megs: $megs
cpu: model=corei7_haswell_4770, count=$smp, ips=200000000, reset_on_triple_fault=0
romimage: file=$bios
vgaromimage: file=$vgabios
display_library: term
ata0-master: type=cdrom, path="$(realpath "$iso")", status=inserted
$disk
boot: cdrom
$com1
$com2
log: bochs.log
panic: action=fatal
clock: sync=none
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
RC
if [ "$nic" = 1 ] || [ ${#forwards[@]} -gt 0 ]; then
	printf '%s\n' "plugin_ctrl: e1000=1" \
		"e1000: enabled=1, mac=52:54:00:12:34:56, ethmod=slirp, script=slirp.conf" >>"$tmp/bochsrc"
fi
# Bochs' slirp reads its settings from a file whose first line is fixed.
{
	echo "# slirp config"
	for f in ${forwards[@]+"${forwards[@]}"}; do
		[[ "$f" =~ ^([0-9]+):([0-9.]+):([0-9]+)$ ]] ||
			{ echo "run-bochs: bad forward: $f (HOSTPORT:GUESTIP:PORT, e.g. 8080:10.0.2.15:80)" >&2; exit 2; }
		echo "hostfwd = tcp:127.0.0.1:${BASH_REMATCH[1]}-${BASH_REMATCH[2]}:${BASH_REMATCH[3]}"
	done
} >"$tmp/slirp.conf"
# Debian's Bochs starts in its debugger: continue, and quit at the next stop.
printf 'c\nquit\n' >"$tmp/cmds"
: >"$tmp/serial.txt"

# setsid: own session, no controlling terminal (needed by the term display);
# as we are not a process group leader here, $! is Bochs' pid and its pgid.
(cd "$tmp" && exec setsid -w bochs -q -f bochsrc -rc cmds </dev/null >bochs.out 2>&1) &
pid=$!
if [ -n "$tty" ]; then
	# The terminal is Bochs' own now: raw, as QEMU makes it; restored when Bochs ends.
	saved=$(stty -g <"$tty" 2>/dev/null || true)
	trap 'cleanup; [ -z "$saved" ] || stty "$saved" <"$tty" 2>/dev/null || true' EXIT
fi
tail -s 0.2 --pid="$pid" -n +1 -f "$tmp/serial.txt" &
tailer=$!
# Debian's Bochs has its debugger built in, so its `term` display draws the VGA screen
# on a pseudo-terminal of its own ("Bochs connected to screen /dev/pts/N").  Nobody
# looks at that screen, but it must be read: once its buffer is full (after a few
# minutes of cursor updates) Bochs blocks writing to it, and the whole machine stops.
for _ in $(seq 100); do
	screen=$(sed -n 's/.*connected to screen "\(\/dev\/[^"]*\)".*/\1/p' "$tmp/bochs.out" 2>/dev/null | head -1 || true)
	[ -z "$screen" ] && kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -n "$screen" ] && [ -c "$screen" ]; then
	(stty raw -echo 2>/dev/null; exec cat >/dev/null 2>&1) <"$screen" &
	drainer=$!
elif kill -0 "$pid" 2>/dev/null; then
	echo "run-bochs: Bochs did not name its screen's terminal; a long run may block on it" >&2
fi
sleep "$timeout" &
sleeper=$!

status=0 first=''
wait -n -p first "$pid" "$sleeper" || status=$?    # whichever ends first
if [ "$first" = "$sleeper" ]; then
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true     # (no "Killed" job notice)
	pid=''
	wait "$tailer" || true
	[ -z "$log" ] || cp "$tmp/serial.txt" "$log"
	echo "run-bochs: timeout after $timeout s" >&2
	exit 124
fi
pid=''
wait "$tailer" || true      # tail prints the rest, then sees Bochs has gone
[ -z "$log" ] || cp "$tmp/serial.txt" "$log"

if [ "$status" = 1 ] && grep -q 'Shutdown port: shutdown requested' "$tmp/bochs.log"; then
	exit 0
elif [ "$status" = 0 ]; then
	exit 1
fi
echo "run-bochs: Bochs exited with status $status without the guest's pass/fail signal" >&2
grep -E '^[0-9]+[ep]\[' "$tmp/bochs.log" | tail -n 10 >&2 || true      # errors, panics
exit 2
