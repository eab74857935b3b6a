#!/usr/bin/env bash
# system.sh — run a system test (a booted test kernel) and judge its output.
#
# Usage: tests/system.sh PLATFORM MIN_PASSED -- COMMAND...
#   e.g. tests/system.sh svm 100 -- tools/run-qemu.sh pith-test.iso
#
# Runs COMMAND showing its output live, then requires all of:
#   - COMMAND exited 0;
#   - exactly one line "PLATFORM: N passed, M failed" in its standard output;
#   - M is 0 and N >= MIN_PASSED;
#   - no line starts with "FAIL ";
#   - every line with "WHOLE " in it starts with it, has it once and ends with " END"
#     (lines a test prints to show the kernel console keeps each thread's lines whole).
# (Carriage returns from the serial port are ignored.)
# Prints a verdict line; exit status 0 if all hold, 1 if not, 2 bad usage.
set -euo pipefail

usage() { echo "usage: $0 PLATFORM MIN_PASSED -- COMMAND..." >&2; exit 2; }
{ [ $# -ge 4 ] && [ "$3" = "--" ]; } || usage
platform=$1 min=$2
shift 3
[[ "$min" =~ ^[0-9]+$ ]] || usage

out=$(mktemp)
trap 'rm -f "$out"' EXIT

status=0
"$@" | tee "$out" || status=${PIPESTATUS[0]}
tr -d '\r' <"$out" >"$out.txt" && mv "$out.txt" "$out"

problems=()
[ "$status" = 0 ] || problems+=("command exited with status $status")

summary=$(grep -E "^$platform: [0-9]+ passed, [0-9]+ failed\$" "$out" || true)
count=$(grep -c . <<<"$summary" || true)
if [ "$count" != 1 ]; then
	problems+=("expected exactly one '$platform: N passed, N failed' line, found $count")
else
	read -r passed failed < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/' <<<"$summary")
	[ "$failed" = 0 ] || problems+=("$failed test(s) failed")
	[ "$passed" -ge "$min" ] || problems+=("only $passed passed, at least $min required")
fi

fails=$(grep -c '^FAIL ' "$out" || true)
[ "$fails" = 0 ] || problems+=("$fails 'FAIL ' line(s)")

cut=$(awk '/WHOLE / { if (gsub(/WHOLE /, "&") != 1 || $0 !~ /^WHOLE .* END$/) n++ } END { print n + 0 }' "$out")
[ "$cut" = 0 ] || problems+=("$cut 'WHOLE ... END' line(s) cut or run together")

if [ ${#problems[@]} -eq 0 ]; then
	echo "system: $platform PASSED ($passed passed, 0 failed; at least $min required)"
	exit 0
fi
reason=$(printf '%s; ' "${problems[@]}")
echo "system: $platform FAILED: ${reason%; }"
exit 1
