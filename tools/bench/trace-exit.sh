#!/usr/bin/env bash
# trace-exit.sh — where one VM-exit round trip of the vm_exit benchmarks goes, by
# instruction: boots BUILD/pith-bench.iso in QEMU with its gdb stub, lets the
# benchmark reach its loop, single-steps one whole round trip (from the VMM's
# pith_vm_reply_wait to the next) and counts the instructions per phase and function.
#
# Usage: tools/bench/trace-exit.sh BUILD [io|cpuid] [GDB_PORT]
#
# Needs gdb and binutils (addr2line, nm); takes a few seconds.  The total agrees with
# `bench vm_exit_io`; `vm_exit_cpuid` is some 20 more (a batch's port write, 1 % of its
# exits, and the batch's restart).
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 3 ] || { echo "usage: $0 BUILD [io|cpuid] [GDB_PORT]" >&2; exit 2; }
build=$1 which=${2:-io} port=${3:-1236}
case "$which" in io|cpuid) ;; *) echo "trace-exit: io or cpuid, not $which" >&2; exit 2 ;; esac
command -v gdb >/dev/null || { echo "trace-exit: gdb missing" >&2; exit 1; }
iso="$build/pith-bench.iso" kernel="$build/kernel.elf" user="$build/bench.elf"
for f in "$iso" "$kernel" "$user"; do [ -f "$f" ] || { echo "trace-exit: no $f (make bench first)" >&2; exit 1; }; done

sym() { nm "$user" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }
start=$(sym "${which}_window") loop=$(sym pith_vm_reply_wait)
[ -n "$start" ] && [ -n "$loop" ] || { echo "trace-exit: symbols missing in $user" >&2; exit 1; }

tmp=$(mktemp -d)
qemu_pid=''
cleanup() { [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# Stop where the benchmark starts, then at its second reply (the first is the
# warm-up's), and step until the VMM replies again.
cat >"$tmp/gdb" <<EOF
set pagination off
set confirm off
target remote :$port
hbreak *$start
continue
delete
hbreak *$loop
continue
continue
delete
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

qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -m 512 -display none \
	-serial "file:$tmp/serial" -monitor none -no-reboot -boot d \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$iso" \
	-gdb "tcp:127.0.0.1:$port" -S </dev/null >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!
sleep 1
timeout 600 gdb -q -batch -x "$tmp/gdb" >"$tmp/gdb.log" 2>&1 || true
awk '$1 == "pc" { print $2 }' "$tmp/pcs" 2>/dev/null >"$tmp/all" || true
[ -s "$tmp/all" ] || { echo "trace-exit: no trace; gdb said:" >&2; tail "$tmp/gdb.log" >&2; exit 1; }

# Function of every step (the innermost, for inlined code): kernel addresses from
# kernel.elf, user ones from bench.elf, anything below 1 MiB is the guest.
awk '{ print (length($1) == 16 && $1 ~ /^[89a-f]/ ? "k" : length($1) <= 5 ? "g" : "u"), $1 }' \
	"$tmp/all" >"$tmp/where"
names() {   # $1 = k or u, $2 = ELF
	awk -v w="$1" '$1 == w { print "0x" $2 }' "$tmp/where" | addr2line -f -e "$2" | awk 'NR % 2 == 1'
}
names k "$kernel" >"$tmp/k"
names u "$user" >"$tmp/u"
awk -v kf="$tmp/k" -v uf="$tmp/u" '
	$1 == "k" { getline n <kf; print "k", n; next }
	$1 == "u" { getline n <uf; print "u", n; next }
	{ print "g", "(guest)" }' "$tmp/where" >"$tmp/names"

# Phases, in the order they happen, each with its busiest functions.
awk -v what="$which" '
	function close_phase(   f, list, i, j, t, k, m) {
		if (count == 0) return
		m = 0
		for (f in fn) keys[++m] = f
		for (i = 1; i <= m; i++)                    # by count, descending
			for (j = i + 1; j <= m; j++)
				if (fn[keys[j]] > fn[keys[i]]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
		list = ""
		for (i = 1; i <= m && i <= 5; i++) list = list (i > 1 ? ", " : "") keys[i] " " fn[keys[i]]
		printf "%6d  %s: %s\n", count, title[phase], list
		total += count
		delete fn; delete keys; count = 0
	}
	BEGIN {
		title[0] = "VMM builds the reply (libpith)"
		title[1] = "kernel: ReplyRecv, state written back, VMM blocks"
		title[2] = "kernel: enter the guest (to VMRUN)"
		title[3] = "guest"
		title[4] = "kernel: exit becomes a Call to the VMM"
		title[5] = "kernel: switch to the VMM, SYSRET"
		title[6] = "VMM takes the exit (libpith), handles it"
		phase = 0
	}
	{
		next_phase = phase
		if (phase == 0 && $1 == "k") next_phase = 1
		else if (phase == 1 && $2 == "vcpu_enter") next_phase = 2
		else if (phase == 2 && $1 == "g") next_phase = 3
		else if (phase == 3 && $1 != "g") next_phase = 4
		else if (phase == 4 && $2 == "sched_return_to_user") next_phase = 5
		else if (phase == 5 && $1 == "u") next_phase = 6
		if (next_phase != phase) { close_phase(); phase = next_phase }
		fn[$2]++; count++
	}
	END { close_phase(); printf "%6d  one vm_exit_%s round trip\n", total, what }' "$tmp/names"
