#!/usr/bin/env bash
# default-system.sh — boot the default system image and check what a user sees.
#
# Usage: tests/default-system.sh PLATFORM -- COMMAND...
#   e.g. tests/default-system.sh default-svm -- tools/run-qemu.sh build/pith.iso
# Each expected line is one case (PASS/FAIL); ends with "PLATFORM: N passed, N failed"
# and exits 0 only when every case passed and COMMAND exited 0.
set -euo pipefail

[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$@" >"$out" 2>&1 || status=$?
tr -d '\r' <"$out" >"$out.txt" && mv "$out.txt" "$out"

passed=0 failed=0
check() {   # name, extended regular expression a line must match
	if grep -Eq "$2" "$out"; then
		echo "PASS $1"; passed=$((passed + 1))
	else
		echo "FAIL $1: no line matches /$2/"; failed=$((failed + 1))
	fi
}
check default_banner '^Pith microkernel, x86_64$'
check default_cpu_features '^cpu features:'
check default_virtualization "^virtualization: ${platform#default-}\$"
check default_console_labels_root '^\[root\] hello from user space'
check default_ipc_demo '^\[root\] asked a worker thread for 4 squared over IPC: 16$'
check default_deadline_demo '^\[root\] a deadline 10 ms ahead woke us'
check default_powers_off '^\[root\] demo done, powering off$'
if [ "$status" = 0 ]; then
	echo "PASS default_exit_status"; passed=$((passed + 1))
else
	echo "FAIL default_exit_status: the emulator exited with $status"; failed=$((failed + 1))
fi
echo "$platform: $passed passed, $failed failed"
[ "$failed" = 0 ]
