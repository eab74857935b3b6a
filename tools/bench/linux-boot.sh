#!/usr/bin/env bash
# linux-boot.sh — the Linux benchmarks of `make bench`, measured side by side in one run.
#
# Usage: tools/bench/linux-boot.sh BUILD
#
# linux_boot_ratio_vs_qemu: wall time from power-on (QEMU starting) to the guest's
#   /init printing "pith-guest: init running", booted through Pith (BUILD/pith-bench-linux.iso:
#   root task, console server, VMM; the kernel and initramfs of tools/guest-linux.sh),
#   over the same kernel and initramfs booted directly by the same QEMU (-kernel/-initrd,
#   TCG, the same CPU model and memory).  BENCH_ROUNDS (default 3) alternating rounds;
#   the fastest of each side counts (noise only ever adds time).
# linux_boot_direct_ratio_vs_qemu: the same, with Pith booted straight from QEMU's
#   -kernel (multiboot v1, tools/mkdirect.sh) with the same configuration
#   (guests/configs/bench-linux.conf): no SeaBIOS disk boot, no GRUB reading the ISO.
#   A third side of each round.
# linux_guest_boot_ratio: the guest's own boot through Pith, from the VMM starting it
#   (its line "memory beyond the guest's RAM", printed when the guest is loaded, right
#   before its first entry) to init, over plain QEMU's whole run to init (SeaBIOS and
#   the kernel's loading included); the fastest round of each side.
# linux_boot_exits_REASON: the VM exits of one boot to init and power-off through Pith,
#   by reason, from the VMM's report when the guest powers off (pith.stop=init).
# guest_overhead_kib: what the guest costs beyond its RAM: the VMM domain's own objects
#   and image (the root task's report) plus what the VMM retyped beyond the guest's RAM
#   (its report).  The modules' mappings the root task takes back once the guest is
#   loaded are not part of it (docs/benchmarks.md).
# guest_reserved_kib: what the root task sets aside for the guest beyond its RAM: the
#   VMM domain's container and the VMM's memory beyond the RAM, in power-of-two pieces.
# Prints `bench NAME VALUE [UNIT]` lines; exit status 0 when all were measured.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
rounds=${BENCH_ROUNDS:-3}
marker='pith-guest: init running'

# Milliseconds from starting the command until a line matching $marker appears in its
# output (looked for every 20 ms); the command is then stopped.  Output goes to $log.
# With $began set (a pattern), also the milliseconds from the first line matching it to
# init, as a second word.
time_to_init() {
	local log=$1 start now pid seen=''
	shift
	: >"$log"
	start=${EPOCHREALTIME/./}
	setsid "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ -n "${began:-}" ] && [ -z "$seen" ] && grep -qE "$began" "$log"; then
			seen=${EPOCHREALTIME/./}
		fi
		if grep -q "$marker" "$log"; then
			now=${EPOCHREALTIME/./}
			# the guest powers off at init (pith.stop=init): let it, for the VMM's
			# exit counts, but not for long
			for _ in $(seq 1500); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.02
			done
			kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			echo $(((now - start) / 1000)) ${seen:+$(((now - seen) / 1000))}
			return 0
		fi
		sleep 0.02
	done
	wait "$pid" 2>/dev/null || true
	grep -q "$marker" "$log" && { echo $(((${EPOCHREALTIME/./} - start) / 1000)); return 0; }
	return 1
}

pith_best='' qemu_best='' guest_best='' direct_best=''
for round in $(seq "$rounds"); do
	read -r p g < <(began="memory beyond the guest's RAM: [0-9]+ KiB \\(kernel" time_to_init \
		"$build/bench-linux-pith-$round.txt" \
		"$(dirname "$0")/../run-qemu.sh" --timeout 300 "$build/pith-bench-linux.iso") && [ -n "${g:-}" ] || {
		echo "bench: the Linux guest on Pith did not reach init, or its VMM did not say it started it (round $round)" >&2; exit 1; }
	q=$(time_to_init "$build/bench-linux-qemu-$round.txt" \
		qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -m 512 -display none \
		-serial stdio -no-reboot -kernel "$build/vmlinuz" -initrd "$build/initrd.img" \
		-append "console=ttyS0 panic=-1 pith.stop=init tsc=reliable") || {
		echo "bench: the Linux guest on plain QEMU did not reach init (round $round)" >&2; exit 1; }
	read -r d dg < <(began="memory beyond the guest's RAM: [0-9]+ KiB \\(kernel" time_to_init \
		"$build/bench-linux-direct-$round.txt" \
		"$(dirname "$0")/../mkdirect.sh" --run "$(dirname "$0")/../../guests/configs/bench-linux.conf" \
		"$build" --timeout 300) && [ -n "${d:-}" ] || {
		echo "bench: the Linux guest on Pith booted directly (-kernel) did not reach init (round $round)" >&2; exit 1; }
	echo "bench: round $round: Pith $p ms (the guest's own $g ms, before it $((p - g)) ms)," \
		"Pith from -kernel $d ms (the guest's own ${dg:-?} ms, before it $((d - ${dg:-0})) ms), QEMU $q ms"
	[ -z "$pith_best" ] || [ "$p" -lt "$pith_best" ] && pith_best=$p
	[ -z "$direct_best" ] || [ "$d" -lt "$direct_best" ] && direct_best=$d
	[ -z "$guest_best" ] || [ "$g" -lt "$guest_best" ] && guest_best=$g
	[ -z "$qemu_best" ] || [ "$q" -lt "$qemu_best" ] && qemu_best=$q
done
echo "bench linux_boot_pith_ms $pith_best ms"
echo "bench linux_boot_qemu_ms $qemu_best ms"
echo "bench linux_boot_ratio_vs_qemu $(awk -v a="$pith_best" -v b="$qemu_best" 'BEGIN { printf "%.2f", a / b }')"
echo "bench linux_boot_direct_ms $direct_best ms"
echo "bench linux_boot_direct_ratio_vs_qemu $(awk -v a="$direct_best" -v b="$qemu_best" 'BEGIN { printf "%.2f", a / b }')"
echo "bench linux_guest_boot_ms $guest_best ms"
echo "bench linux_guest_boot_ratio $(awk -v a="$guest_best" -v b="$qemu_best" 'BEGIN { printf "%.2f", a / b }')"

log=$(tr -d '\r' <"$build/bench-linux-pith-1.txt")
domain=$(sed -nE "s/^\[root\] guest bench: its VMM's domain took ([0-9]+) KiB.*/\1/p" <<<"$log" | head -n 1)
vmm=$(sed -nE "s/.*bench: memory beyond the guest's RAM: ([0-9]+) KiB.*/\1/p" <<<"$log" | head -n 1)
[ -n "$domain" ] && [ -n "$vmm" ] || { echo "bench: no memory report in $build/bench-linux-pith-1.txt" >&2; exit 1; }
container=$(sed -nE "s/^\[root\] guest bench: its VMM's domain took [0-9]+ KiB.* of a ([0-9]+) KiB container.*/\1/p" <<<"$log" | head -n 1)
echo "bench: guest overhead: VMM domain $domain KiB (in a ${container:-?} KiB container) + VMM objects $vmm KiB"
echo "bench guest_overhead_kib $((domain + vmm)) KiB"
reserved=$(sed -nE "s/^\[root\] guest bench: its VMM's domain took .*; ([0-9]+) KiB set aside beyond its RAM.*/\1/p" <<<"$log" | head -n 1)
[ -n "$reserved" ] && echo "bench guest_reserved_kib $reserved KiB"

# "vmm: bench: exits: 45712 IO, 11895 MMIO, ...; 7824 interrupts"
exits=$(sed -nE 's/.*vmm: bench: exits: (.*)$/\1/p' <<<"$log" | head -n 1)
[ -n "$exits" ] || { echo "bench: no exit counts in $build/bench-linux-pith-1.txt (did the guest power off?)" >&2; exit 1; }
total=0
for pair in $(sed -E 's/;.*//; s/, /\n/g; s/ /=/g' <<<"$exits"); do
	count=${pair%%=*} reason=$(tr 'A-Z' 'a-z' <<<"${pair#*=}")
	echo "bench linux_boot_exits_$reason $count"
	total=$((total + count))
done
echo "bench linux_boot_exits_total $total"
interrupts=$(sed -nE 's/.*; ([0-9]+) interrupts.*/\1/p' <<<"$exits")
echo "bench linux_boot_interrupts_injected $interrupts"
# "vmm: bench: the VMM's time on them: 1234 us IO, 567 us MMIO, ..."
spent=$(sed -nE "s/.*vmm: bench: the VMM's time on them: (.*)$/\1/p" <<<"$log" | head -n 1)
[ -n "$spent" ] || { echo "bench: no exit times in $build/bench-linux-pith-1.txt" >&2; exit 1; }
for pair in $(sed -E 's/ us /=/g; s/, /\n/g' <<<"$spent"); do
	echo "bench linux_boot_exit_us_$(tr 'A-Z' 'a-z' <<<"${pair#*=}") ${pair%%=*} us"
done
