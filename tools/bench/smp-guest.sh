#!/usr/bin/env bash
# smp-guest.sh — smp_guest_speedup of `make bench`: the wall time of a CPU-bound
# parallel job (two shell workers adding up 1..30000, guests/linux/init with pith.smp=1)
# in a 1-vCPU Linux guest over the same job in a 2-vCPU guest, both under Pith on QEMU
# with two CPUs (BUILD/pith-bench-smp-1.iso and -2.iso, guests/configs/bench-smp-*.conf).
# The guest measures the job itself (/proc/uptime, which runs on the host's TSC).
# BENCH_ROUNDS (default 3) alternating rounds; the fastest of each side counts.
# Prints `bench NAME VALUE [UNIT]` lines; exit status 0 when all were measured.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
rounds=${BENCH_ROUNDS:-3}

job_seconds() {     # the job's wall time in a run of ISO $1, log $2
	"$(dirname "$0")/../run-qemu.sh" --smp 2 --timeout 300 "$1" >"$2" 2>&1 || true
	tr -d '\r' <"$2" | sed -nE 's/.*pith-guest: parallel job: 2 of 2 workers summed .* in ([0-9.]+) s$/\1/p' | head -n 1
}

best1='' best2=''
for round in $(seq "$rounds"); do
	t1=$(job_seconds "$build/pith-bench-smp-1.iso" "$build/bench-smp-1-$round.txt")
	t2=$(job_seconds "$build/pith-bench-smp-2.iso" "$build/bench-smp-2-$round.txt")
	[ -n "$t1" ] && [ -n "$t2" ] || { echo "bench: the SMP job did not finish (round $round, see $build/bench-smp-*-$round.txt)" >&2; exit 1; }
	echo "bench: round $round: 1 vCPU $t1 s, 2 vCPUs $t2 s"
	if [ -z "$best1" ] || awk -v a="$t1" -v b="$best1" 'BEGIN { exit !(a < b) }'; then best1=$t1; fi
	if [ -z "$best2" ] || awk -v a="$t2" -v b="$best2" 'BEGIN { exit !(a < b) }'; then best2=$t2; fi
done
placement=$(tr -d '\r' <"$build/bench-smp-2-1.txt" | grep -m 1 -oE 'vmm: bench: 2 vCPUs on host CPU .*' || true)
echo "bench: $placement"
echo "bench smp_job_1vcpu_s $best1 s"
echo "bench smp_job_2vcpu_s $best2 s"
echo "bench smp_guest_speedup $(awk -v a="$best1" -v b="$best2" 'BEGIN { printf "%.2f", a / b }')"
