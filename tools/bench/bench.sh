#!/usr/bin/env bash
# bench.sh — `make bench`: Pith's benchmarks and the Linux KVM peer, in one run.
#
# Usage: tools/bench/bench.sh BUILD
#
# Needs BUILD/pith-bench.iso, BUILD/pith-bench-wall.iso (the same, booted with `wall`
# on the command line) and BUILD/kvm_exit (tools/bench/kvm_exit.c, static).  Runs, one
# after the other:
#   1. Pith under -icount shift=0: every benchmark, figures in instructions; then
#      the same with -smp 2, which runs only ipc_call_reply_cross_cpu;
#   2. Linux KVM under -icount shift=0: the same guests (kvm_NAME, instructions);
#   3. BENCH_ROUNDS (default 3) rounds of: Pith without -icount, the vm_exit benchmarks
#      in wall-clock ns (NAME_wall), then Linux KVM the same way (kvm_NAME_wall); each
#      wall figure printed is the best over the rounds (each round already keeps its
#      best window of 100 exits, user/bench/guests.h): the host is shared and noise
#      only ever adds time, and alternating the two sides exposes both to the same
#      spells of it;
# then prints NAME_ratio_vs_kvm = Pith's wall time per exit over KVM's (same QEMU, same
# run) and NAME_instructions_ratio_vs_kvm (1 over 2).
# Every line is `bench NAME VALUE [UNIT]` (`bench: ...` lines are remarks); the serial
# logs are kept in BUILD/bench-*.txt.
# Last, the fuzzer's default campaign (BUILD/pith-fuzz.iso), in wall-clock time, gives
# fuzz_invocations_per_s.
# Exit status: 0 all figures printed; 1 something failed (its log's tail is shown).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
here=$(dirname "$0")
rounds=${BENCH_ROUNDS:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench: bad BENCH_ROUNDS: $rounds" >&2; exit 2; }
status=0
results="$build/bench-results.txt" walls="$build/bench-wall-rounds.txt"
: >"$results"
: >"$walls"

# $1: log name, $2: where its bench lines go (shown too, unless it is $walls);
# the rest: the command.
run() {
	local log="$build/bench-$1.txt" out=$2 rc=0
	shift 2
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$out" = "$walls" ]; then
		tr -d '\r' <"$log" | grep -E '^bench ' >>"$walls" || true
		tr -d '\r' <"$log" | grep -E '^bench: .*split' || true
	else
		tr -d '\r' <"$log" | grep -E '^bench[ :]' | tee -a "$out" || true
	fi
	if [ "$rc" != 0 ]; then
		echo "bench: '$*' failed with status $rc; the end of $log:" >&2
		tail -n 20 "$log" >&2
		status=1
	fi
}

run pith-icount "$results" "$here/../run-qemu.sh" --icount --smp 1 --timeout 600 "$build/pith-bench.iso"
# The same image on two CPUs runs only ipc_call_reply_cross_cpu (ns of the icount clock,
# which both CPUs' instructions advance).
run pith-icount-smp2 "$results" "$here/../run-qemu.sh" --icount --smp 2 --timeout 600 "$build/pith-bench.iso"
run kvm-icount "$results" "$here/kvm-peer.sh" --icount "$build/kvm-peer" "$build/kvm_exit"
for round in $(seq "$rounds"); do
	run "pith-wall-$round" "$walls" "$here/../run-qemu.sh" --smp 1 --timeout 600 "$build/pith-bench-wall.iso"
	run "kvm-wall-$round" "$walls" "$here/kvm-peer.sh" "$build/kvm-peer" "$build/kvm_exit"
done
# The best of the rounds, in the order the names first came.
awk '$1 == "bench" {
		if (!($2 in best)) { order[n++] = $2; best[$2] = $3; unit[$2] = $4 }
		else if ($3 + 0 < best[$2] + 0) best[$2] = $3
	}
	END { for (i = 0; i < n; i++) print "bench", order[i], best[order[i]], unit[order[i]] }' \
	"$walls" | tee -a "$results"

value() { awk -v n="$1" '$1 == "bench" && $2 == n { print $3; exit }' "$results"; }
ratio() {   # name, numerator, denominator
	local a b
	a=$(value "$2") b=$(value "$3")
	if [ -z "$a" ] || [ -z "$b" ] || [ "$b" = 0 ]; then
		echo "bench: no $1: $2 or $3 is missing" >&2
		status=1
		return
	fi
	awk -v n="$1" -v a="$a" -v b="$b" 'BEGIN { printf "bench %s %.2f\n", n, a / b }'
}
for name in vm_exit_io vm_exit_cpuid; do
	ratio "${name}_ratio_vs_kvm" "${name}_wall" "kvm_${name}_wall"
	ratio "${name}_instructions_ratio_vs_kvm" "$name" "kvm_$name"
done

# The fuzzer's speed: its default short campaign (user/fuzz) in wall-clock time.
fuzz_log="$build/bench-fuzz.txt"
if "$here/../run-qemu.sh" --smp 1 --timeout 300 "$build/pith-fuzz.iso" >"$fuzz_log" 2>&1; then
	tr -d '\r' <"$fuzz_log" | awk '$1 == "fuzz_invocations_per_s:" { print "bench fuzz_invocations_per_s", $2 }'
else
	echo "bench: the fuzzer's campaign failed; the end of $fuzz_log:" >&2
	tail -n 20 "$fuzz_log" >&2
	status=1
fi
exit "$status"
