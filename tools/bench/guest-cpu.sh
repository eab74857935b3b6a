#!/usr/bin/env bash
# guest-cpu.sh — guest_cpu_ratio of `make bench`: how fast a CPU-bound job runs inside a
# Pith guest against the same job in plain QEMU, same kernel and initramfs.
#
# Usage: tools/bench/guest-cpu.sh BUILD
#
# The job is the one of guests/linux/init with pith.smp=1: two shell workers, each
# adding up 1..30000, on one CPU; the guest times it itself (/proc/uptime).  Pith side:
# BUILD/pith-bench-smp-1.iso (guests/configs/bench-smp-1.conf, one vCPU) on QEMU with one
# CPU.  Peer: the same kernel, initramfs and command line booted by the same QEMU
# (-kernel/-initrd, TCG, the same CPU model, one CPU).  BENCH_ROUNDS (default 3)
# alternating rounds; the fastest of each side counts.  guest_cpu_ratio is plain QEMU's
# time over Pith's (1.00: the guest runs as fast as it does without Pith; target 0.95).
# Prints `bench NAME VALUE [UNIT]` lines; exit status 0 when all were measured.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
rounds=${BENCH_ROUNDS:-3}
conf="$(dirname "$0")/../../guests/configs/bench-smp-1.conf"
cmdline=$(awk '$1 == "cmdline" { $1 = ""; sub(/^ /, ""); print; exit }' "$conf")
[ -n "$cmdline" ] || { echo "bench: no cmdline in $conf" >&2; exit 1; }

seconds() {     # the job's time in log $1
	tr -d '\r' <"$1" | sed -nE 's/.*pith-guest: parallel job: 2 of 2 workers summed .* in ([0-9.]+) s$/\1/p' | head -n 1
}

pith_best='' qemu_best=''
for round in $(seq "$rounds"); do
	plog="$build/bench-cpu-pith-$round.txt" qlog="$build/bench-cpu-qemu-$round.txt"
	"$(dirname "$0")/../run-qemu.sh" --smp 1 --timeout 300 "$build/pith-bench-smp-1.iso" >"$plog" 2>&1 || true
	timeout 300 qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -smp 1 -m 512 -display none \
		-serial stdio -monitor none -no-reboot -kernel "$build/vmlinuz" -initrd "$build/initrd.img" \
		-append "$cmdline" </dev/null >"$qlog" 2>&1 || true
	p=$(seconds "$plog") q=$(seconds "$qlog")
	[ -n "$p" ] && [ -n "$q" ] || {
		echo "bench: the CPU job did not finish (round $round, see $plog and $qlog)" >&2; exit 1; }
	echo "bench: round $round: Pith guest $p s, plain QEMU $q s"
	if [ -z "$pith_best" ] || awk -v a="$p" -v b="$pith_best" 'BEGIN { exit !(a < b) }'; then pith_best=$p; fi
	if [ -z "$qemu_best" ] || awk -v a="$q" -v b="$qemu_best" 'BEGIN { exit !(a < b) }'; then qemu_best=$q; fi
done
echo "bench guest_cpu_pith_s $pith_best s"
echo "bench guest_cpu_qemu_s $qemu_best s"
echo "bench guest_cpu_ratio $(awk -v a="$qemu_best" -v b="$pith_best" 'BEGIN { printf "%.2f", a / b }')"
