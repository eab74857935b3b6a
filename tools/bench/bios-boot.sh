#!/usr/bin/env bash
# bios-boot.sh — the firmware boot benchmark of `make bench`, side by side in one run.
#
# Usage: tools/bench/bios-boot.sh BUILD
#
# bios_boot_ms: wall time from the root task reporting the firmware guest started
#   (BUILD/pith-bench-bios.iso, guests/configs/legacy-bench.conf: SeaBIOS, a 1 MiB raw
#   disk with the boot sector of guests/bios/ on IDE, no boot menu wait) to the boot
#   sector's first line ("pith-boot: hello from the boot sector", printed through INT 10h
#   and SeaBIOS's serial console).
# bios_boot_qemu_ms: the same disk image on plain QEMU (TCG, IDE, the same memory, no
#   NIC) with QEMU's own SeaBIOS, its serial console on COM1 as the VMM configures it
#   (fw_cfg etc/sercon-port), from starting QEMU to the same line.
# bios_boot_ratio_vs_qemu: the first over the second (target 2).
# BENCH_ROUNDS (default 3) alternating rounds; the fastest of each side counts.
# Prints `bench NAME VALUE [UNIT]` lines; exit status 0 when all were measured.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
rounds=${BENCH_ROUNDS:-3}
marker='pith-boot: hello from the boot sector'
sercon=$(mktemp)
trap 'rm -f "$sercon"' EXIT
printf '\xf8\x03' >"$sercon"          # COM1, 0x3f8, little-endian

# Milliseconds from the start (a line matching $start_pattern in the command's output,
# or with an empty pattern the command's start) until a line matching $marker appears
# (both polled every 10 ms); the command is then stopped.  Its output goes to $log.
time_to_marker() {
	local log=$1 start_pattern=$2 start='' now pid
	shift 2
	: >"$log"
	[ -n "$start_pattern" ] || start=${EPOCHREALTIME/./}
	setsid "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ -z "$start" ] && grep -q "$start_pattern" "$log"; then
			start=${EPOCHREALTIME/./}
		fi
		if [ -n "$start" ] && grep -q "$marker" "$log"; then
			now=${EPOCHREALTIME/./}
			kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			echo $(((now - start) / 1000))
			return 0
		fi
		sleep 0.01
	done
	wait "$pid" 2>/dev/null || true
	return 1
}

pith_best='' qemu_best=''
for round in $(seq "$rounds"); do
	log=$build/bench-bios-pith-$round.txt
	p=$(time_to_marker "$log" '\[root\] guest seabench: .*started' \
		"$(dirname "$0")/../run-qemu.sh" --timeout 120 "$build/pith-bench-bios.iso") || {
		echo "bench: SeaBIOS on Pith did not reach the boot sector (round $round, $log)" >&2; exit 1; }
	log=$build/bench-bios-qemu-$round.txt
	q=$(time_to_marker "$log" '' \
		qemu-system-x86_64 -accel tcg -cpu qemu64 -m 32 -display none -vga none -nic none \
		-serial stdio -no-reboot -drive "file=$build/guests/boot.img,format=raw,if=ide,snapshot=on" \
		-fw_cfg "name=etc/sercon-port,file=$sercon") || {
		echo "bench: SeaBIOS on plain QEMU did not reach the boot sector (round $round, $log)" >&2; exit 1; }
	echo "bench: round $round: Pith $p ms, QEMU $q ms"
	[ -z "$pith_best" ] || [ "$p" -lt "$pith_best" ] && pith_best=$p
	[ -z "$qemu_best" ] || [ "$q" -lt "$qemu_best" ] && qemu_best=$q
done
echo "bench bios_boot_ms $pith_best ms"
echo "bench bios_boot_qemu_ms $qemu_best ms"
echo "bench bios_boot_ratio_vs_qemu $(awk -v a="$pith_best" -v b="$qemu_best" 'BEGIN { printf "%.2f", a / b }')"
