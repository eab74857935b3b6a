#!/usr/bin/env bash
# io.sh — the network and disk benchmarks of `make bench` (`make bench-io` alone),
# Pith and plain QEMU side by side in one run.
#
# Usage: tools/bench/io.sh BUILD
#
# Pith: BUILD/pith-bench-io.iso (guests/configs/bench-io.conf) in QEMU on two CPUs
#   (alpha on host CPU 0, beta on host CPU 1) with a fresh GPT host disk
#   (tests/mkgpt.py, a 16 MiB partition "bench"): guest alpha pings guest beta on the
#   switch server's segment, sends it 4 MiB over TCP (busybox nc), then writes and
#   reads 8 MiB of its host partition with O_DIRECT (the storage server, bus-master
#   DMA).
# Plain QEMU: the same kernel, initramfs, memory sizes and command lines in two QEMU
#   processes (TCG, one CPU each, the CPU model tools/run-qemu.sh gives Pith), each with
#   a virtio-net NIC, joined by `-netdev socket` on 127.0.0.1; alpha's disk is QEMU's
#   virtio-blk on a fresh 16 MiB raw image (the same cache mode as Pith's host disk).
# Every figure is timed by the guest itself (guests/linux/init, pith.bench=): /proc/
#   uptime around the transfer, so the boots do not count.  BENCH_ROUNDS (default 3)
#   alternating rounds; the best round of each side counts (highest throughput,
#   lowest round trip: noise on the shared host only ever slows things down).
#
# Prints `bench NAME VALUE [UNIT]` lines (`bench: ...` lines are remarks):
#   net_guest_to_guest_mbps, net_qemu_mbps, net_ratio_vs_qemu (Pith over QEMU),
#   net_rtt_us, net_rtt_qemu_us (the average of 20 pings),
#   disk_write_mbps, disk_read_mbps, disk_write_qemu_mbps, disk_read_qemu_mbps,
#   disk_ratio_vs_qemu (Pith over QEMU for writing and reading the 8 MiB once each:
#   QEMU's total time over Pith's).  Throughput is in Mbit/s (10^6 bits per second).
# A transfer whose MD5 differs between the two ends fails the run.  Logs: BUILD/
# bench-io-*.txt.  Exit status 0 when every figure was measured.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
here=$(dirname "$0")
rounds=${BENCH_ROUNDS:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench: bad BENCH_ROUNDS: $rounds" >&2; exit 2; }
conf=$here/../../guests/configs/bench-io.conf
iso=$build/pith-bench-io.iso
for f in "$iso" "$build/vmlinuz" "$build/initrd.img" "$conf"; do
	[ -f "$f" ] || { echo "bench: missing $f" >&2; exit 2; }
done
# The CPU model tools/run-qemu.sh gives Pith (its guests see it through the VMM).
cpu=qemu64,+svm,+npt,+vgif,+smep,+smap,+umip

# A guest's key from the configuration (the plain VMs get the same).
conf_key() {    # GUEST KEY
	awk -v g="$1" -v k="$2" '
		$1 == "guest" { in_guest = ($2 == g) }
		in_guest && $1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$conf"
}
alpha_cmdline=$(conf_key alpha cmdline) beta_cmdline=$(conf_key beta cmdline)
alpha_mem=$(conf_key alpha memory) beta_mem=$(conf_key beta memory)
alpha_mac=$(conf_key alpha net | awk '{ print $2 }') beta_mac=$(conf_key beta net | awk '{ print $2 }')
[ -n "$alpha_cmdline" ] && [ -n "$beta_cmdline" ] && [ -n "$alpha_mac" ] && [ -n "$beta_mac" ] ||
	{ echo "bench: $conf lacks alpha's or beta's cmdline or MAC" >&2; exit 2; }
part_mib=16

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# The figure NAME of guest GUEST in LOG (Pith's lines carry "[GUEST] ", plain QEMU's
# logs are one guest each: GUEST empty).
figure() {  # LOG GUEST NAME
	local prefix=''
	[ -z "$2" ] || prefix="\\[$2\\] "
	tr -d '\r' <"$1" | sed -nE "s/^${prefix}pith-guest: bench $3 ([0-9.]+)( .*)?\$/\\1/p" | head -n 1
}
# "BYTES MD5" of bench_sent / bench_received, disk_md5's two sums.
md5s_agree() {  # LOG_SENDER LOG_RECEIVER GUEST_SENDER GUEST_RECEIVER
	local ps='' pr=''
	[ -z "$3" ] || ps="\\[$3\\] "
	[ -z "$4" ] || pr="\\[$4\\] "
	local sent received disk
	sent=$(tr -d '\r' <"$1" | sed -nE "s/^${ps}pith-guest: bench bench_sent (.*)\$/\\1/p" | head -n 1)
	received=$(tr -d '\r' <"$2" | sed -nE "s/^${pr}pith-guest: bench bench_received (.*)\$/\\1/p" | head -n 1)
	disk=$(tr -d '\r' <"$1" | sed -nE "s/^${ps}pith-guest: bench disk_md5 written ([0-9a-f]+) read ([0-9a-f]+)\$/\\1 \\2/p" | head -n 1)
	[ -n "$sent" ] && [ "$sent" = "$received" ] || { echo "bench: sent '$sent', received '$received'" >&2; return 1; }
	[ -n "$disk" ] && [ "${disk% *}" = "${disk#* }" ] || { echo "bench: disk written/read MD5s '$disk'" >&2; return 1; }
}

# One round through Pith: the figures into $tmp/pith-ROUND.
pith_round() {
	local r=$1 log=$build/bench-io-pith-$1.txt disk=$build/bench-io-disk.img
	python3 "$here/../../tests/mkgpt.py" "$disk" $((part_mib + 4)) "bench:$part_mib" >/dev/null
	"$here/../run-qemu.sh" --smp 2 --timeout 400 --disk "$disk" "$iso" >"$log" 2>&1 ||
		{ echo "bench: Pith's run failed (round $r, $log)" >&2; return 1; }
	md5s_agree "$log" "$log" alpha beta || { echo "bench: in $log" >&2; return 1; }
	for n in net_mbps net_rtt_us disk_write_mbps disk_read_mbps disk_write_s disk_read_s; do
		v=$(figure "$log" alpha "$n")
		[ -n "$v" ] || { echo "bench: no $n from Pith's alpha (round $r, $log)" >&2; return 1; }
		echo "$n $v"
	done >"$tmp/pith-$r"
}

# One round of two plain QEMU VMs: the figures into $tmp/qemu-ROUND.
qemu_vm() {     # MEM CMDLINE LOG NETDEV MAC [more QEMU arguments]
	local mem=$1 cmdline=$2 log=$3 netdev=$4 mac=$5
	shift 5
	# shellcheck disable=SC2054  # (the commas are inside QEMU option values)
	timeout --kill-after=5 300 qemu-system-x86_64 -accel tcg -cpu "$cpu" -m "$mem" -smp 1 \
		-display none -vga none -serial stdio -monitor none -no-reboot \
		-kernel "$build/vmlinuz" -initrd "$build/initrd.img" -append "$cmdline tsc=reliable" \
		-netdev "socket,id=n0,$netdev" -device "virtio-net-pci,netdev=n0,mac=$mac" \
		"$@" </dev/null >"$log" 2>&1
}
qemu_round() {
	local r=$1 alog=$build/bench-io-qemu-alpha-$1.txt blog=$build/bench-io-qemu-beta-$1.txt
	local img=$tmp/disk.img port n rc=0
	rm -f "$img" && truncate -s "${part_mib}M" "$img"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	qemu_vm "$beta_mem" "$beta_cmdline" "$blog" "listen=127.0.0.1:$port" "$beta_mac" &
	pids=("$!")
	n=0
	until ss -Hltn "sport = :$port" | grep -q .; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || { echo "bench: plain QEMU beta does not listen on $port ($blog)" >&2; return 1; }
		sleep 0.1
	done
	qemu_vm "$alpha_mem" "$alpha_cmdline" "$alog" "connect=127.0.0.1:$port" "$alpha_mac" \
		-drive "file=$img,format=raw,if=virtio,cache=writeback" || rc=$?
	wait "${pids[0]}" || rc=$?
	pids=()
	[ "$rc" = 0 ] || { echo "bench: plain QEMU's run failed with $rc (round $r, $alog, $blog)" >&2; return 1; }
	md5s_agree "$alog" "$blog" '' '' || { echo "bench: in $alog and $blog" >&2; return 1; }
	for n in net_mbps net_rtt_us disk_write_mbps disk_read_mbps disk_write_s disk_read_s; do
		v=$(figure "$alog" '' "$n")
		[ -n "$v" ] || { echo "bench: no $n from plain QEMU's alpha (round $r, $alog)" >&2; return 1; }
		echo "$n $v"
	done >"$tmp/qemu-$r"
}

# A Pith round that QEMU's SVM fault with two host CPUs ended (docs/security.md: the
# kernel says an exit "holds the host's state") is run again, up to twice: that is the
# emulator's, not a figure.  Any other failure ends the benchmark.
pith_round_again() {
	local r=$1 tries=0
	until pith_round "$r"; do
		tries=$((tries + 1))
		grep -aq "holds the host's state" "$build/bench-io-pith-$r.txt" && [ "$tries" -le 2 ] || return 1
		echo "bench: round $r: QEMU's SVM fault ended Pith's run (docs/security.md); running it again" >&2
	done
}

for r in $(seq "$rounds"); do
	pith_round_again "$r" || exit 1
	qemu_round "$r" || exit 1
	echo "bench: round $r: Pith $(tr '\n' ' ' <"$tmp/pith-$r")"
	echo "bench: round $r: QEMU $(tr '\n' ' ' <"$tmp/qemu-$r")"
done

best() {    # SIDE NAME max|min
	cat "$tmp/$1"-* | awk -v n="$2" -v how="$3" '$1 == n {
			if (!seen || (how == "max" && $2 > v) || (how == "min" && $2 < v)) v = $2
			seen = 1
		}
		END { if (seen) print v }'
}
# The disk ratio: the round with the least write + read time on each side.
disk_total() {  # SIDE
	local f t best_t=''
	for f in "$tmp/$1"-*; do
		t=$(awk '$1 == "disk_write_s" || $1 == "disk_read_s" { s += $2 } END { print s }' "$f")
		if [ -z "$best_t" ] || awk -v a="$t" -v b="$best_t" 'BEGIN { exit !(a < b) }'; then best_t=$t; fi
	done
	echo "$best_t"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

p_net=$(best pith net_mbps max) q_net=$(best qemu net_mbps max)
p_rtt=$(best pith net_rtt_us min) q_rtt=$(best qemu net_rtt_us min)
p_w=$(best pith disk_write_mbps max) q_w=$(best qemu disk_write_mbps max)
p_r=$(best pith disk_read_mbps max) q_r=$(best qemu disk_read_mbps max)
p_disk=$(disk_total pith) q_disk=$(disk_total qemu)
echo "bench net_guest_to_guest_mbps $p_net Mbit/s"
echo "bench net_qemu_mbps $q_net Mbit/s"
echo "bench net_ratio_vs_qemu $(ratio "$p_net" "$q_net")"
echo "bench net_rtt_us $p_rtt us"
echo "bench net_rtt_qemu_us $q_rtt us"
echo "bench disk_write_mbps $p_w Mbit/s"
echo "bench disk_read_mbps $p_r Mbit/s"
echo "bench disk_write_qemu_mbps $q_w Mbit/s"
echo "bench disk_read_qemu_mbps $q_r Mbit/s"
echo "bench disk_ratio_vs_qemu $(ratio "$q_disk" "$p_disk")"
