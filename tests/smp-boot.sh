#!/usr/bin/env bash
# smp-boot.sh — boot the kernel test suite on several CPUs and judge it.
#
# Usage: tests/smp-boot.sh PLATFORM CPUS MIN_PASSED -- COMMAND...
#   e.g. tests/smp-boot.sh svm 2 100 -- tools/run-qemu.sh --smp 2 pith-test.iso
#
# Requires what tests/system.sh requires of PLATFORM and MIN_PASSED, and also the
# kernel's boot line "cpus: N found, CPUS online".
# Exit status 0 if all hold, 1 if not, 2 bad usage.
set -euo pipefail

usage() { echo "usage: $0 PLATFORM CPUS MIN_PASSED -- COMMAND..." >&2; exit 2; }
{ [ $# -ge 5 ] && [ "$4" = "--" ]; } || usage
platform=$1 cpus=$2 min=$3
shift 4
[[ "$cpus" =~ ^[0-9]+$ ]] || usage

out=$(mktemp)
trap 'rm -f "$out"' EXIT

status=0
"$(dirname "$0")/system.sh" "$platform" "$min" -- "$@" | tee "$out" || status=${PIPESTATUS[0]}

line=$(tr -d '\r' <"$out" | grep -E '^cpus: [0-9]+ found, [0-9]+ online$' || true)
if [ "$(grep -c . <<<"$line" || true)" != 1 ]; then
	echo "smp-boot: $platform FAILED: expected one 'cpus: N found, N online' line"
	exit 1
fi
online=$(sed -E 's/.* ([0-9]+) online/\1/' <<<"$line")
if [ "$online" != "$cpus" ]; then
	echo "smp-boot: $platform FAILED: $online CPUs online, expected $cpus"
	exit 1
fi
[ "$status" = 0 ] || exit 1
echo "smp-boot: $platform PASSED ($cpus CPUs online)"
