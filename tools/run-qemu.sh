#!/usr/bin/env bash
# run-qemu.sh — boot a Pith ISO, or the kernel directly, in QEMU (TCG, AMD SVM + NPT)
# with COM1 on stdout.
#
# Usage: tools/run-qemu.sh [--icount] [--timeout SECONDS] [--log FILE]
#                          [--interactive] ISO [-- EXTRA_QEMU_ARGS...]
#        tools/run-qemu.sh [options] [--append CMDLINE] [--initrd MODULES] KERNEL.elf [-- ...]
#
# An ISO boots through SeaBIOS and GRUB (multiboot2).  An ELF file (the kernel) boots
# from QEMU's own multiboot loader (-kernel, no firmware disk boot, no GRUB): --append
# gives the kernel's command line, --initrd its modules as QEMU takes them, "PATH
# NAME,PATH NAME,..." (tools/mkdirect.sh writes both for a configuration).
#
#   --icount       add `-icount shift=0` (guest time counts instructions)
#   --timeout S    kill QEMU after S wall seconds (default 300; ignored with
#                  --interactive); 5 s before, every CPU's registers and the LAPIC
#                  are printed to stderr (`qemu-state:` lines), so a hang says where
#   --log FILE     also copy the serial output to FILE
#   --interactive  keep the terminal attached (Ctrl-A x quits, Ctrl-A c is the
#                  QEMU monitor), no timeout; for `make run`
#   --kvm          run on KVM with the host's CPU (-accel kvm -cpu host): needs a
#                  /dev/kvm that allows nested virtualization
#   --smp N        N CPUs (default: the SMP environment variable, else 1)
#   --mem SIZE     memory, as QEMU's -m takes it (default: the MEM environment
#                  variable, else 512M)
#   --disk IMAGE   a raw host disk image as the primary IDE channel's slave (the
#                  storage server's disk, docs/storage.md); writes go to IMAGE
#   --append S     (kernel only) the kernel's command line
#   --initrd S     (kernel only) the modules: "PATH NAME" items separated by commas
#   --forward H:G:P  the host's TCP port 127.0.0.1:H reaches port P of the guest at
#                  G (on the uplink's segment, docs/network.md); repeatable; also
#                  from the FORWARD environment variable (spaces between several)
#
# The machine has an Intel e1000 NIC (82540EM) on QEMU's user-mode network: its
# gateway 10.0.2.2 is the host's loopback, and 10.0.2.3 its DNS.  Pith's uplink
# server drives it when the configuration says `uplink SEGMENT`.
#
# GDB_PORT=N (environment): COM2 becomes a TCP server on 127.0.0.1:N for the GDB stub
# of the guest that has it (`gdb yes`, or the control shell's `gdb NAME`; docs/gdb.md);
# `target remote 127.0.0.1:N` in gdb.
#
# More QEMU arguments: after `--`, or in the QEMU_ARGS environment variable (split at
# spaces), e.g. QEMU_ARGS="-d int -D qemu.log".
#
# Guest convention: write 0 (pass) or 1 (fail) to port 0xf4 (isa-debug-exit);
# QEMU then exits with (v<<1)|1.  Pith's root task writes 0 when every guest stopped
# cleanly, 1 when one did not (an error, a crashed VMM).
# Exit status: 0 guest wrote 0, or (--interactive) the user left QEMU with Ctrl-A x;
# 1 guest wrote 1; 124 timeout; 2 anything else (QEMU error, guest reset/halt without
# writing port 0xf4, bad usage).
set -euo pipefail

usage() { echo "usage: $0 [--icount] [--timeout SECONDS] [--log FILE] [--interactive] [--kvm] [--smp N] [--mem SIZE] [--disk IMAGE] [--forward HOSTPORT:GUESTIP:PORT] [--append CMDLINE --initrd MODULES] ISO|KERNEL.elf [-- QEMU_ARGS...]" >&2; exit 2; }

icount=() timeout=300 log='' interactive=0 iso='' smp=${SMP:-1} mem=${MEM:-512M} kvm=0 disk=()
append='' initrd='' direct_options=0
# shellcheck disable=SC2206  # (FORWARD is split at spaces on purpose)
forwards=(${FORWARD:-})
# shellcheck disable=SC2054  # (the commas are inside QEMU option values)
# SMEP, SMAP and UMIP are on so the kernel runs with the protections it turns on;
# vGIF (SVM's virtual GIF) for guests that run their own guests (docs/vm.md, "Options").
accel=(-accel tcg -cpu "qemu64,+svm,+npt,+vgif,+smep,+smap,+umip")
while [ $# -gt 0 ]; do
	case "$1" in
		--icount) icount=(-icount shift=0) ;;
		--timeout) [ $# -ge 2 ] || usage; timeout=$2; shift ;;
		--log) [ $# -ge 2 ] || usage; log=$2; shift ;;
		--interactive) interactive=1 ;;
		--kvm) accel=(-accel kvm -cpu host); kvm=1 ;;
		--smp) [ $# -ge 2 ] || usage; smp=$2; shift ;;
		--mem) [ $# -ge 2 ] || usage; mem=$2; shift ;;
		--disk) [ $# -ge 2 ] || usage; [ -f "$2" ] || { echo "run-qemu: no such disk image: $2" >&2; exit 2; }
			# index 1: ide0-slave (the CD is index 2, ide1-master)
			disk=(-drive "file=$2,if=ide,index=1,media=disk,format=raw,cache=writeback"); shift ;;
		--forward) [ $# -ge 2 ] || usage; forwards+=("$2"); shift ;;
		--append) [ $# -ge 2 ] || usage; append=$2; direct_options=1; shift ;;
		--initrd) [ $# -ge 2 ] || usage; initrd=$2; direct_options=1; shift ;;
		--) shift; break ;;
		-*) usage ;;
		*) [ -z "$iso" ] || usage; iso=$1 ;;
	esac
	shift
done
[ -n "$iso" ] || usage
[ -f "$iso" ] || { echo "run-qemu: no such ISO or kernel: $iso" >&2; exit 2; }
# The boot: an ELF file is the kernel, for QEMU's multiboot loader; else a CD image.
if [ "$(head -c 4 "$iso" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
	boot=(-kernel "$iso" -append "$append")
	[ -z "$initrd" ] || boot+=(-initrd "$initrd")
else
	[ "$direct_options" = 0 ] || { echo "run-qemu: --append and --initrd are for a kernel booted directly, not an ISO" >&2; exit 2; }
	boot=(-boot d -cdrom "$iso")
fi
[[ "$timeout" =~ ^[0-9]+$ ]] || { echo "run-qemu: bad timeout: $timeout" >&2; exit 2; }
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || { echo "run-qemu: bad CPU count: $smp" >&2; exit 2; }
[[ "$mem" =~ ^[1-9][0-9]*[MG]?$ ]] || { echo "run-qemu: bad memory size: $mem (e.g. 512M, 2G)" >&2; exit 2; }
if [ "$kvm" = 1 ]; then
	# KVM for Pith needs /dev/kvm and a host CPU that offers SVM or VMX to its guests.
	[ -w /dev/kvm ] || { echo "run-qemu: ACCEL=kvm needs /dev/kvm (read-write); this host has none: run without ACCEL=kvm (TCG)" >&2; exit 2; }
	nested=$(cat /sys/module/kvm_amd/parameters/nested /sys/module/kvm_intel/parameters/nested 2>/dev/null || true)
	grep -qE '^(1|Y)$' <<<"$nested" || {
		echo "run-qemu: ACCEL=kvm needs nested virtualization (SVM or VMX offered to guests); this host has none: run without ACCEL=kvm (TCG)" >&2; exit 2; }
fi
netdev=user,id=n0
for f in ${forwards[@]+"${forwards[@]}"}; do
	[[ "$f" =~ ^([0-9]+):([0-9.]+):([0-9]+)$ ]] ||
		{ echo "run-qemu: bad forward: $f (HOSTPORT:GUESTIP:PORT, e.g. 8080:10.0.2.15:80)" >&2; exit 2; }
	netdev+=",hostfwd=tcp:127.0.0.1:${BASH_REMATCH[1]}-${BASH_REMATCH[2]}:${BASH_REMATCH[3]}"
done
# shellcheck disable=SC2206  # (QEMU_ARGS is split at spaces on purpose)
extra=(${QEMU_ARGS:-})
if [ -n "${GDB_PORT:-}" ]; then
	[[ "$GDB_PORT" =~ ^[1-9][0-9]*$ ]] && [ "$GDB_PORT" -lt 65536 ] || { echo "run-qemu: bad GDB_PORT: $GDB_PORT" >&2; exit 2; }
	extra=(-serial "tcp:127.0.0.1:$GDB_PORT,server=on,wait=off" "${extra[@]}")
fi
# A run that is not interactive gets a monitor socket of its own: 5 s before its
# timeout, what the CPUs are doing (registers, LAPIC) is printed to stderr, so a run
# that hung says where (tools/qemu-state.py).
monitor=() state_dir=''
if [ "$interactive" = 0 ]; then
	state_dir=$(mktemp -d)
	trap 'rm -rf "$state_dir"' EXIT
	monitor=(-monitor "unix:$state_dir/monitor,server=on,wait=off")
fi
# -display none + -serial mon:stdio instead of -nographic: -nographic also makes
# SeaBIOS mirror the BIOS/GRUB screen onto COM1 (escape codes in the log).
# shellcheck disable=SC2054  # (the commas are inside QEMU option values)
qemu=(qemu-system-x86_64 "${accel[@]}" -m "$mem" -smp "$smp"
      -display none -serial mon:stdio -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -netdev "$netdev" -device e1000,netdev=n0
      "${icount[@]}" "${boot[@]}" "${disk[@]}" "${monitor[@]}" "${extra[@]}" "$@")

if [ "$interactive" = 1 ]; then
	run=("${qemu[@]}")
else
	# --foreground keeps QEMU in our process group, so Ctrl-C still reaches it.
	run=(timeout --foreground --kill-after=5 "$timeout" "${qemu[@]}")
fi

status=0 watcher=''
if [ "$interactive" = 0 ] && [ "$timeout" -gt 10 ]; then
	# (the sleep gets no stdout or stderr: if it outlives us it holds no pipe open)
	( sleep $((timeout - 5)) >/dev/null 2>&1 </dev/null
	  kill -0 $$ 2>/dev/null && [ -S "$state_dir/monitor" ] || exit 0
	  echo "run-qemu: $((timeout - 5)) s and still running; the CPUs now:" >&2
	  exec python3 "$(dirname "$0")/qemu-state.py" "$state_dir/monitor" "info registers -a" "info lapic" >&2 ) &
	watcher=$!
fi
if [ "$interactive" = 1 ]; then
	if [ -n "$log" ]; then "${run[@]}" | tee "$log" || status=${PIPESTATUS[0]}
	else "${run[@]}" || status=$?; fi
else
	# No stdin: QEMU must never read (or put into raw mode) the caller's terminal.
	if [ -n "$log" ]; then "${run[@]}" </dev/null | tee "$log" || status=${PIPESTATUS[0]}
	else "${run[@]}" </dev/null || status=$?; fi
fi

[ -z "$watcher" ] || { kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true; }

case "$status" in
	0)
		if [ "$interactive" = 1 ]; then
			echo "run-qemu: left QEMU (Ctrl-A x)" >&2
			exit 0
		fi ;;
	1) exit 0 ;;
	3)
		echo "run-qemu: the guest reported failure (wrote 1 to port 0xf4; from Pith's root task: not every guest stopped cleanly)" >&2
		exit 1 ;;
	124|137)
		if [ "$interactive" = 0 ]; then
			echo "run-qemu: timeout after $timeout s" >&2
			exit 124
		fi ;;
esac
echo "run-qemu: QEMU exited with status $status (guest did not write 0 or 1 to port 0xf4)" >&2
exit 2
