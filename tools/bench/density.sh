#!/usr/bin/env bash
# density.sh — `make bench-density`: how many Linux guests one Pith system runs at once.
#
# Usage: tools/bench/density.sh BUILD
#
# Writes BUILD/bench-density.conf: DENSITY_GUESTS (default 32) guests of DENSITY_MEMORY
# (default 96M) each, all with the reference kernel and initramfs (vmlinuz, initrd.img)
# and `quiet pith.name=NAME` (the boot log through 32 emulated UARTs would cost more
# than the boot) and `cpus` 0 and 1 in turn (without `cpus` every one-vCPU guest's
# vCPU runs on host CPU 0), packs it as BUILD/pith-bench-density.iso (tools/mkimage.sh) and
# boots it on QEMU with DENSITY_QEMU_MEM (default 8G) and two CPUs (TCG).  The guests
# stay up after init (a shell on their console), so all of them hold their memory at
# once.  The run ends when every guest has printed "pith-guest: init running on NAME",
# or after DENSITY_TIMEOUT seconds (default 900).  The log: BUILD/bench-density.txt.
#
# density_guests: the guests that reached init.
# density_boot_s: host wall time from the root task's first line to the last guest's
#   init line (looked for every 100 ms).
# density_guest_kib: what one guest costs: its RAM, its VMM's domain (the root task's
#   report) and the VMM's objects beyond the RAM (the VMM's report), the largest of all
#   guests; density_guest_overhead_kib is the part beyond the RAM and
#   density_guest_reserved_kib what the root task sets aside beyond the RAM.
# density_free_kib: the RAM the root task had for guests when it started (its report),
#   so density_free_kib / density_guest_kib bounds how many more would fit.
# Prints `bench NAME VALUE [UNIT]` lines; exit status 0 when all guests reached init.
# With DENSITY_IMAGE_ONLY=1 it only writes the configuration and the image
# (`make test-density`, tests/density.py, boots them on a terminal).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
count=${DENSITY_GUESTS:-32}
memory=${DENSITY_MEMORY:-96M}
qemu_mem=${DENSITY_QEMU_MEM:-8G}
timeout=${DENSITY_TIMEOUT:-900}
here=$(dirname "$0")
config=$build/bench-density.conf iso=$build/pith-bench-density.iso log=$build/bench-density.txt

{
	echo "# make bench-density (tools/bench/density.sh): $count guests of $memory"
	for i in $(seq "$count"); do
		name=$(printf 'd%02d' "$i")
		printf 'guest %s\n  memory %s\n  kernel vmlinuz\n  initrd initrd.img\n' "$name" "$memory"
		printf '  cpus %s\n' "$(((i - 1) % 2))"
		printf '  cmdline console=ttyS0 quiet panic=-1 pith.name=%s\n' "$name"
	done
} >"$config"
"$here/../mkimage.sh" "$iso" "$config" "$build" >/dev/null
[ "${DENSITY_IMAGE_ONLY:-0}" = 1 ] && exit 0     # tests/density.py boots it itself

: >"$log"
setsid "$here/../run-qemu.sh" --mem "$qemu_mem" --smp 2 --timeout "$((timeout + 30))" "$iso" >"$log" 2>&1 </dev/null &
pid=$!
stop() { kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop EXIT

inits() { tr -d '\r' <"$log" | grep -cE '^\[[^]]*\] pith-guest: init running on ' || true; }
start='' last='' reached=0 deadline=$((SECONDS + timeout))
while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
	now=${EPOCHREALTIME/./}
	[ -z "$start" ] && grep -q '^\[root\] ' "$log" && start=$now
	n=$(inits)
	if [ "$n" -gt "$reached" ]; then
		reached=$n last=$now
		echo "bench: $reached of $count guests at init after $(((last - start) / 1000)) ms"
	fi
	[ "$reached" -ge "$count" ] && break
	sleep 0.1
done
stop
trap - EXIT

text=$(tr -d '\r' <"$log")
if [ "$reached" -lt "$count" ]; then
	echo "bench: only $reached of $count guests reached init; the last lines of $log:" >&2
	tail -n 20 <<<"$text" >&2
fi
echo "bench density_guests $reached"
[ "$reached" -gt 0 ] && echo "bench density_boot_s $(awk -v t="$((last - start))" 'BEGIN { printf "%.1f", t / 1e6 }') s"

# "[root] guest d01: its VMM's domain took 394 KiB (...) of a 512 KiB container, ...; 1536 KiB set aside beyond its RAM"
# "[d01] vmm: d01: memory beyond the guest's RAM: 62 KiB (...)"
domain=$(sed -nE "s/^\[root\] guest d[0-9]+: its VMM's domain took ([0-9]+) KiB.*/\1/p" <<<"$text" | sort -n | tail -n 1)
vmm=$(sed -nE "s/.*vmm: d[0-9]+: memory beyond the guest's RAM: ([0-9]+) KiB.*/\1/p" <<<"$text" | sort -n | tail -n 1)
reserved=$(sed -nE "s/^\[root\] guest d[0-9]+: its VMM's domain took .*; ([0-9]+) KiB set aside beyond its RAM.*/\1/p" <<<"$text" | sort -n | tail -n 1)
ram_kib=$(($(numfmt --from=iec "$memory") / 1024))
if [ -n "$domain" ] && [ -n "$vmm" ]; then
	echo "bench density_guest_kib $((ram_kib + domain + vmm)) KiB"
	echo "bench density_guest_overhead_kib $((domain + vmm)) KiB"
fi
[ -n "$reserved" ] && echo "bench density_guest_reserved_kib $reserved KiB"
free=$(sed -nE 's/^boot: root task .* untyped \(([0-9]+) KiB RAM\).*/\1/p' <<<"$text" | head -n 1)
[ -n "$free" ] && echo "bench density_free_kib $free KiB"
[ "$reached" -ge "$count" ]
