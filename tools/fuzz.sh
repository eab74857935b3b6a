#!/usr/bin/env bash
# fuzz.sh — a long fuzzing campaign against the kernel (user/fuzz).
#
# Usage: tools/fuzz.sh [--emu qemu|bochs] [--seeds 1,2,3] [--n INVOCATIONS]
#                      [--vmexits EXITS] [--avoid df,sysret,...] [--timeout S]
#                      [--build DIR] [-- EXTRA_CMDLINE...]
#
# Builds DIR/pith-fuzz-campaign.iso with the parameters on the kernel command line
# (`seeds=... n=... vmexits=... avoid=... verbose`), boots it, keeps the whole
# serial log in DIR/fuzz-campaign.log and prints the verdict lines: one PASS/FAIL
# per seed (a FAIL is followed by its reproducer), fuzz_invocations_per_s, and the
# summary.  No summary line means the kernel died: the log's tail is shown.
# Exit status: 0 every seed passed, 1 otherwise.
set -euo pipefail

emu=qemu seeds='' n='' vmexits='' avoid='' timeout='' build=build extra=()
while [ $# -gt 0 ]; do
	case "$1" in
		--emu) emu=$2; shift ;;
		--seeds) seeds=$2; shift ;;
		--n) n=$2; shift ;;
		--vmexits) vmexits=$2; shift ;;
		--avoid) avoid=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--build) build=$2; shift ;;
		--) shift; extra=("$@"); break ;;
		*) echo "usage: $0 [--emu qemu|bochs] [--seeds 1,2,3] [--n N] [--vmexits N] [--avoid LIST] [--timeout S] [-- ARGS]" >&2; exit 2 ;;
	esac
	shift
done

cmdline="verbose${seeds:+ seeds=$seeds}${n:+ n=$n}${vmexits:+ vmexits=$vmexits}${avoid:+ avoid=$avoid}"
[ ${#extra[@]} -eq 0 ] || cmdline="$cmdline ${extra[*]}"
[ ${#cmdline} -lt 128 ] || { echo "fuzz: command line longer than 127 characters" >&2; exit 2; }
iso=$build/pith-fuzz-campaign.iso log=$build/fuzz-campaign.log
KERNEL_CMDLINE="$cmdline" tools/mkiso.sh "$iso" "$build/kernel.elf" "$build/fuzz.elf=fuzz"

case "$emu" in
	qemu) platform=fuzz-svm run=(tools/run-qemu.sh --smp "${SMP:-1}" --timeout "${timeout:-86400}" "$iso") ;;
	bochs) platform=fuzz-vmx run=(tools/run-bochs.sh --smp "${SMP:-1}" --timeout "${timeout:-86400}" "$iso") ;;
	*) echo "fuzz: unknown emulator $emu" >&2; exit 2 ;;
esac

echo "fuzz: $emu, command line '$cmdline', log in $log"
status=0
"${run[@]}" >"$log" 2>&1 || status=$?
tr -d '\r' <"$log" >"$log.txt" && mv "$log.txt" "$log"
# Each verdict; a FAIL with the indented reproducer lines that follow it.
awk '/^FAIL fuzz-seed-/ { fail = 1; print; next }
     /^  / && fail { print; next }
     { fail = 0 }
     /^PASS fuzz-seed-|^fuzz_invocations_per_s|^fuzz-(svm|vmx):/' "$log"
if ! grep -qE "^$platform: [0-9]+ passed, 0 failed\$" "$log"; then
	grep -qE "^$platform: " "$log" || { echo "fuzz: no summary line (status $status): the kernel died; the log ends with:"; tail -20 "$log"; }
	exit 1
fi
exit 0
