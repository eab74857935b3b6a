#!/usr/bin/env bash
# side-by-side.sh — judge the side-by-side system test (guests/configs/side-by-side-test.conf):
# two Linux guests in their own VMMs, one VMM that crashes, one malformed guest.
#
# Usage: tests/side-by-side.sh PLATFORM -- COMMAND...
# One line per check, then "PLATFORM: N passed, M failed"; exit 0 only if all passed.
set -euo pipefail

[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2
source "$(dirname "$0")/checks.sh"
checks_run "$@"

line_of() { grep -nE -- "$1" "$out" | head -n 1 | cut -d: -f1; }
memtotal() { grep -m 1 -E "^\[$1\] pith-guest: MemTotal: [0-9]+ kB" "$out" | sed -E 's/.*MemTotal: ([0-9]+) kB.*/\1/'; }
fits() {    # guest MiB: MemTotal at most the configured size, within 64 MiB of it
	local kb
	kb=$(memtotal "$1")
	[ -n "$kb" ] && [ "$kb" -le $(($2 * 1024)) ] && [ "$kb" -gt $((($2 - 64) * 1024)) ]
}
alpha_first() {
	local stopped end
	stopped=$(line_of '^\[root\] guest alpha: stopped$')
	end=$(line_of '^\[beta\] pith-guest: test end$')
	[ -n "$stopped" ] && [ -n "$end" ] && [ "$stopped" -lt "$end" ]
}

check side_bad_guest_reported "no configuration error naming the line of 'vcpus 0'" \
	has '^\[root\] system\.conf: line [0-9]+: .*vcpus'
check side_bad_guest_not_started "the malformed guest was not reported as not started" \
	has '^\[root\] guest broken: not started'
check side_alpha_boots "alpha's /init did not run" has '^\[alpha\] pith-guest: init running on alpha$'
check side_beta_boots "beta's /init did not run" has '^\[beta\] pith-guest: init running on beta$'
check side_alpha_memory "alpha's MemTotal does not fit its 96 MiB" fits alpha 96
check side_beta_memory "beta's MemTotal does not fit its 80 MiB" fits beta 80
check side_alpha_disk "alpha did not mount its virtio disk and read hello.txt" \
	has '^\[alpha\] pith-guest: mounted vda, hello.txt: pith-disk: hello from a mounted virtio disk$'
check side_alpha_command "alpha's test commands printed nothing" has '^\[alpha\] pith-guest: arithmetic 42$'
check side_crash_reported "the crashed VMM was not reported" has '^\[root\] guest crashy: its VMM crashed'
check side_alpha_powers_off "alpha did not power off" has '^\[root\] guest alpha: stopped$'
check side_beta_goes_on "beta did not go on after alpha powered off" alpha_first
check side_beta_powers_off "beta did not power off" has '^\[root\] guest beta: stopped$'
# A VMM crashed, so not every guest stopped cleanly: the exit status says so.
check side_system_powers_off_unclean "the system did not power off reporting the crash (status $status, 1 expected)" \
	eval 'has "^\[root\] no guest left \(not all stopped cleanly\)" && [ "$status" = 1 ]'
checks_summary "$platform"
