# checks.sh — what the system-test checkers share (sourced, not run): run the boot
# command once, keep its output, and judge it line by line.
#
#   source tests/checks.sh
#   checks_run "$@"          # runs the command; $out holds its output, $status its exit
#   checks_begin "$@"        # for a checker called as PLATFORM -- COMMAND...: sets
#                            # $platform and runs COMMAND quietly
#   check NAME WHY CMD...    # PASS NAME if CMD succeeds, else FAIL NAME: WHY
#   has REGEX / lacks REGEX  # a line matches / no line matches (extended regex)
#   line NAME REGEX          # a check that some line matches
#   checks_summary PLATFORM  # "PLATFORM: N passed, M failed"; exit 0 only if none failed

passed=0 failed=0 status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

checks_run() {  # shows the output live; carriage returns from the serial port dropped
	"$@" | tee "$out" || status=${PIPESTATUS[0]}
	# The servers' lines go to the kernel console, the control shell's prompt through
	# the console server: the prompt may land inside such a line, and is taken out.
	tr -d '\r' <"$out" | sed -E 's/(.)\[root\] pith> /\1/g; s/^\[root\] pith> (.)/\1/' >"$out.txt" && mv "$out.txt" "$out"
	# output cut off mid-line must not run into the checks' own lines
	if [ -s "$out" ] && [ -n "$(tail -c 1 "$out")" ]; then echo; fi
}

checks_begin() {
	[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
	platform=$1
	shift 2
	checks_run "$@" >/dev/null
}

check() {   # (its locals must not hide the checker's own variables, such as $name)
	local check_name=$1 check_why=$2
	shift 2
	if "$@"; then
		echo "PASS $check_name"; passed=$((passed + 1))
	else
		echo "FAIL $check_name: $check_why"; failed=$((failed + 1))
	fi
}

has() { grep -qE -- "$1" "$out"; }
lacks() { ! grep -qE -- "$1" "$out"; }
line() { check "$1" "no line matches /$2/" has "$2"; }

checks_summary() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" = 0 ]
}
