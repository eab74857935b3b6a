#!/usr/bin/env bash
# trace-ipc.sh — where one round trip of ipc_call_reply_cross_as (or _same_as) goes,
# by instruction: boots BUILD/pith-bench.iso in QEMU with its gdb stub, stops at the
# SYSCALL of the benchmark's loop in its second round, single-steps until the client
# is back at that SYSCALL and counts the instructions per function (the innermost,
# for inlined code), kernel and user apart.
#
# Usage: tools/bench/trace-ipc.sh BUILD [cross|same] [GDB_PORT]
#
# Needs gdb and binutils (objdump, addr2line, nm).  The total agrees with the
# benchmark's figure give or take the loop's own few instructions.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 3 ] || { echo "usage: $0 BUILD [cross|same] [GDB_PORT]" >&2; exit 2; }
build=$1 which=${2:-cross} port=${3:-1237}
case "$which" in cross) hits=2 ;; same) hits=1 ;; *) echo "trace-ipc: cross or same, not $which" >&2; exit 2 ;; esac
command -v gdb >/dev/null || { echo "trace-ipc: gdb missing" >&2; exit 1; }
iso="$build/pith-bench.iso" kernel="$build/kernel.elf" user="$build/bench.elf"
for f in "$iso" "$kernel" "$user"; do [ -f "$f" ] || { echo "trace-ipc: no $f (make bench first)" >&2; exit 1; }; done

# The benchmark loop (call_rounds): the SYSCALL between its two RDTSCs.
read -r from to < <(nm -S "$user" | awk '$4 == "call_rounds" { print $1, $2 }')
[ -n "${from:-}" ] || { echo "trace-ipc: no call_rounds in $user" >&2; exit 1; }
loop=$(objdump -d "$user" --start-address=0x"$from" --stop-address=$((0x$from + 0x$to)) |
	awk '/rdtsc/ { n++ } n == 1 && /\tsyscall/ { sub(":", "", $1); print "0x" $1; exit }')
[ -n "$loop" ] || { echo "trace-ipc: no SYSCALL in call_rounds" >&2; exit 1; }

tmp=$(mktemp -d)
qemu_pid=''
cleanup() { [ -z "$qemu_pid" ] || { kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; } || true; rm -rf "$tmp"; }
trap cleanup EXIT

{
	echo "set pagination off"
	echo "set confirm off"
	echo "target remote :$port"
	echo "hbreak *0x$from"
	for _ in $(seq "$hits"); do echo continue; done
	echo delete
	echo "hbreak *$loop"
	echo continue
	echo continue
	echo delete
	cat <<EOF
set logging file $tmp/pcs
set logging overwrite on
set logging redirect on
set logging on
printf "pc %lx\n", \$pc
stepi
while \$pc != $loop
  printf "pc %lx\n", \$pc
  stepi
end
set logging off
kill
quit
EOF
} >"$tmp/gdb"

qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -m 512 -display none \
	-serial "file:$tmp/serial" -monitor none -no-reboot -boot d \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$iso" \
	-gdb "tcp:127.0.0.1:$port" -S </dev/null >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!
sleep 1
timeout 300 gdb -q -batch -x "$tmp/gdb" >"$tmp/gdb.log" 2>&1 || true
awk '$1 == "pc" { print $2 }' "$tmp/pcs" 2>/dev/null >"$tmp/all" || true
[ -s "$tmp/all" ] || { echo "trace-ipc: no trace; gdb said:" >&2; tail "$tmp/gdb.log" >&2; exit 1; }

awk '{ print (length($1) == 16 && $1 ~ /^[89a-f]/ ? "k" : "u"), $1 }' "$tmp/all" >"$tmp/where"
names() {   # $1 = k or u, $2 = ELF
	awk -v w="$1" '$1 == w { print "0x" $2 }' "$tmp/where" | addr2line -f -e "$2" | awk 'NR % 2 == 1'
}
names k "$kernel" >"$tmp/k"
names u "$user" >"$tmp/u"
awk -v kf="$tmp/k" -v uf="$tmp/u" '
	$1 == "k" { getline n <kf; print "k", n; next }
	{ getline n <uf; print "u", n }' "$tmp/where" >"$tmp/names"
[ -z "${TRACE_IPC_KEEP:-}" ] || paste "$tmp/all" "$tmp/names" >"$TRACE_IPC_KEEP"
awk '{ n[$1 " " $2]++; total++ } END { for (f in n) printf "%6d  %s\n", n[f], f; printf "%6d  one ipc_call_reply round trip\n", total }' \
	"$tmp/names" | sort -k1,1nr
