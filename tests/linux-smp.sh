#!/usr/bin/env bash
# linux-smp.sh — judge the SMP guest test (guests/configs/linux-smp-test.conf), run on a
# machine with two CPUs: two Linux guests with `vcpus 2` side by side (duo spread over
# the CPUs, pair pinned with `cpus 1`), and a guest whose `cpus` names a CPU the
# machine does not have.
#
# Usage: tests/linux-smp.sh PLATFORM -- COMMAND...
#   e.g. tests/linux-smp.sh linux-smp-svm -- tools/run-qemu.sh --smp 2 --timeout 300 build/pith-smp.iso
# One line per check (`PASS name` / `FAIL name: why`), then `PLATFORM: N passed, M failed`.
# Exit status: 0 all checks passed; 1 some failed; 2 bad usage.
set -euo pipefail

[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2
source "$(dirname "$0")/checks.sh"
checks_run "$@"

MIN_TICKS=10    # busy ticks (1/100 s) each CPU must show during the parallel job

busy() {    # guest cpuN: the busy ticks it printed for that CPU
	grep -m 1 -E "^\[$1\] pith-guest: $2 busy [0-9]+ ticks" "$out" | sed -E 's/.* busy ([0-9]+) ticks.*/\1/'
}
busy_on_both() {
	local a b
	a=$(busy "$1" cpu0) b=$(busy "$1" cpu1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -ge "$MIN_TICKS" ] && [ "$b" -ge "$MIN_TICKS" ]
}

# What guest $1 wrote, its lines joined: a line the guest paused in for longer than the
# console holds an unfinished line continues, labelled again, after another guest's.
joined_has() {
	grep -a "^\[$1\] " "$out" | sed "s/^\[$1\] //" | tr -d '\n' | grep -qE "$2"
}

for g in duo pair; do
	check "smp_${g}_vcpus_started" "$g did not bring up 2 CPUs (no 'smpboot: Total of 2 processors activated')" \
		joined_has "$g" "\[ *[0-9.]+\] smpboot: Total of 2 processors activated"
	check "smp_${g}_nproc" "$g's nproc is not 2" has "^\[$g\] pith-guest: nproc 2$"
	check "smp_${g}_cpuinfo" "$g's /proc/cpuinfo does not list 2 processors" \
		has "^\[$g\] pith-guest: cpuinfo processors 2$"
	check "smp_${g}_parallel_job" "$g's workers did not all compute the right sum" \
		has "^\[$g\] pith-guest: parallel job: 2 of 2 workers summed"
	check "smp_${g}_busy_on_both_cpus" "$g's /proc/stat does not show the job on both CPUs (cpu0 $(busy $g cpu0), cpu1 $(busy $g cpu1) ticks; at least $MIN_TICKS each)" \
		busy_on_both "$g"
	check "smp_${g}_powers_off" "$g did not power off" has "^\[root\] guest $g: stopped$"
done
# Until the kernel runs vCPUs on every CPU, the VMM says what it asked for and got 0.
check smp_pinned_placement "pair's vCPUs were not both placed on host CPU 1 as 'cpus 1' asks" \
	has '^\[pair\] vmm: pair: 2 vCPUs on host CPU 1,1$'
check smp_partitioned "duo's vCPUs were not both placed on host CPU 0 as 'cpus 0' asks: the guests share a CPU" \
	has '^\[duo\] vmm: duo: 2 vCPUs on host CPU 0,0$'
check smp_bad_cpus_reported "no configuration error naming line 29 and CPU 7" \
	has '^\[root\] system\.conf: line 29: cpus of guest .nowhere. names CPU 7, but the machine has 2 CPUs'
check smp_bad_cpus_not_started "the guest with a bad cpus was not reported as not started" \
	has '^\[root\] guest nowhere: not started'
check smp_no_kernel_errors "a guest kernel complained: $(grep -m 1 -E 'Kernel panic|Oops|BUG:|Call Trace|soft lockup|rcu_sched self-detected' "$out" | cut -c 1-120)" \
	lacks 'Kernel panic|Oops|BUG:|Call Trace|soft lockup|rcu_sched self-detected'
check smp_system_powers_off "the system did not power off with success (status $status)" \
	eval 'has "^\[root\] no guest left \(all stopped cleanly\)" && [ "$status" = 0 ]'

grep -E "parallel job|busy [0-9]+ ticks|vCPUs? on host CPU" "$out" | sed 's/^/linux-smp: /' || true
checks_summary "$platform"
