#!/usr/bin/env bash
# run-qemu.sh — boot a Pith ISO in QEMU (TCG, AMD SVM + NPT) with COM1 on stdout.
#
# Usage: tools/run-qemu.sh [--icount] [--timeout SECONDS] [--log FILE]
#                          [--interactive] ISO [-- EXTRA_QEMU_ARGS...]
#
#   --icount       add `-icount shift=0` (guest time counts instructions)
#   --timeout S    kill QEMU after S wall seconds (default 300; ignored with
#                  --interactive)
#   --log FILE     also copy the serial output to FILE
#   --interactive  keep the terminal attached (Ctrl-A x quits, Ctrl-A c is the
#                  QEMU monitor), no timeout; for `make run`
#   --kvm          run on KVM with the host's CPU (-accel kvm -cpu host): needs a
#                  /dev/kvm that allows nested virtualization
#   --smp N        N CPUs (default: the SMP environment variable, else 1)
#
# Guest convention: write 0 (pass) or 1 (fail) to port 0xf4 (isa-debug-exit);
# QEMU then exits with (v<<1)|1.
# Exit status: 0 guest wrote 0; 1 guest wrote 1; 124 timeout; 2 anything else
# (QEMU error, guest reset/halt without writing port 0xf4, bad usage).
set -euo pipefail

usage() { echo "usage: $0 [--icount] [--timeout SECONDS] [--log FILE] [--interactive] [--kvm] [--smp N] ISO [-- QEMU_ARGS...]" >&2; exit 2; }

icount=() timeout=300 log='' interactive=0 iso='' smp=${SMP:-1}
# shellcheck disable=SC2054  # (the commas are inside QEMU option values)
# SMEP, SMAP and UMIP are on so the kernel runs with the protections it turns on.
accel=(-accel tcg -cpu "qemu64,+svm,+npt,+smep,+smap,+umip")
while [ $# -gt 0 ]; do
	case "$1" in
		--icount) icount=(-icount shift=0) ;;
		--timeout) [ $# -ge 2 ] || usage; timeout=$2; shift ;;
		--log) [ $# -ge 2 ] || usage; log=$2; shift ;;
		--interactive) interactive=1 ;;
		--kvm) accel=(-accel kvm -cpu host) ;;
		--smp) [ $# -ge 2 ] || usage; smp=$2; shift ;;
		--) shift; break ;;
		-*) usage ;;
		*) [ -z "$iso" ] || usage; iso=$1 ;;
	esac
	shift
done
[ -n "$iso" ] || usage
[ -f "$iso" ] || { echo "run-qemu: no such ISO: $iso" >&2; exit 2; }
[[ "$timeout" =~ ^[0-9]+$ ]] || { echo "run-qemu: bad timeout: $timeout" >&2; exit 2; }
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || { echo "run-qemu: bad CPU count: $smp" >&2; exit 2; }

# -display none + -serial mon:stdio instead of -nographic: -nographic also makes
# SeaBIOS mirror the BIOS/GRUB screen onto COM1 (escape codes in the log).
# shellcheck disable=SC2054  # (the commas are inside QEMU option values)
qemu=(qemu-system-x86_64 "${accel[@]}" -m 512 -smp "$smp"
      -display none -serial mon:stdio -no-reboot -boot d
      -device isa-debug-exit,iobase=0xf4,iosize=0x04
      "${icount[@]}" -cdrom "$iso" "$@")

if [ "$interactive" = 1 ]; then
	run=("${qemu[@]}")
else
	# --foreground keeps QEMU in our process group, so Ctrl-C still reaches it.
	run=(timeout --foreground --kill-after=5 "$timeout" "${qemu[@]}")
fi

status=0
if [ "$interactive" = 1 ]; then
	if [ -n "$log" ]; then "${run[@]}" | tee "$log" || status=${PIPESTATUS[0]}
	else "${run[@]}" || status=$?; fi
else
	# No stdin: QEMU must never read (or put into raw mode) the caller's terminal.
	if [ -n "$log" ]; then "${run[@]}" </dev/null | tee "$log" || status=${PIPESTATUS[0]}
	else "${run[@]}" </dev/null || status=$?; fi
fi

case "$status" in
	1) exit 0 ;;
	3) exit 1 ;;
	124|137)
		if [ "$interactive" = 0 ]; then
			echo "run-qemu: timeout after $timeout s" >&2
			exit 124
		fi ;;
esac
echo "run-qemu: QEMU exited with status $status (guest did not write 0 or 1 to port 0xf4)" >&2
exit 2
