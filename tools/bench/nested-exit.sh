#!/usr/bin/env bash
# nested-exit.sh — the nested-virtualization benchmark of `make bench` (docs/nested.md):
# tools/bench/kvm_exit.c's port-I/O and CPUID round trips from an L2 to Linux KVM's
# user space, run by the same Linux kernel and initramfs
#   - inside a Pith guest with `nested on` (L2 on the VMM's virtual SVM and shadow
#     nested table): nested_exit_io, nested_exit_cpuid;
#   - booted directly by the same QEMU (KVM on QEMU's SVM, one level less):
#     nested_exit_io_qemu, nested_exit_cpuid_qemu;
# and the ratios nested_exit_ratio (I/O) and nested_exit_cpuid_ratio.  Wall-clock ns
# per exit, each the best window of 100 exits (user/bench/guests.h), best of
# NESTED_ROUNDS (default 2) rounds that alternate the two sides.  Then the same on
# Bochs (NESTED_VMX=0 leaves it out): the Pith guest on virtual VMX
# (nested_exit_io_vmx, nested_exit_cpuid_vmx) against the same kernel booted by GRUB
# on plain Bochs (nested_exit_io_bochs, nested_exit_cpuid_bochs), one round, in the
# guests' own clock (Bochs emulates time), and nested_exit_vmx_ratio.
#
# Usage: tools/bench/nested-exit.sh BUILD
# Needs BUILD/kvm_exit, BUILD/vmlinuz, BUILD/initrd-kvm.img and the system's parts.
# Every line is `bench NAME VALUE [UNIT]`; the serial logs are BUILD/bench-nested-*.txt.
# Exit status: 0 all figures printed; 1 something failed (its log's tail is shown).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$1
here=$(dirname "$0")
rounds=${NESTED_ROUNDS:-2}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench: bad NESTED_ROUNDS: $rounds" >&2; exit 2; }
for f in kvm_exit vmlinuz initrd-kvm.img; do
	[ -e "$build/$f" ] || { echo "bench: $build/$f is missing" >&2; exit 1; }
done

# The guests' initramfs with kvm_exit in it: a second archive after the first, which
# the kernel unpacks over it.
initrd="$build/initrd-kvm-exit.img"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/bin"
cp "$build/kvm_exit" "$tree/bin/kvm_exit"
{ cat "$build/initrd-kvm.img"; (cd "$tree" && find . | cpio -o -H newc --quiet | gzip -1); } >"$initrd"
cmdline="console=ttyS0 panic=-1 pith.kvm=1 pith.kvm_exit=1 pith.stop=modules"

conf="$build/bench-nested.conf"
cat >"$conf" <<EOF
# Written by tools/bench/nested-exit.sh: one guest with nested on runs kvm_exit.
guest nested
  memory  128M
  kernel  vmlinuz
  initrd  initrd-kvm-exit.img
  nested  on
  cmdline $cmdline
EOF
"$here/../mkimage.sh" "$build/pith-bench-nested.iso" "$conf" "$build" >/dev/null

status=0
walls=$(mktemp)
# $1: the side; the rest: the command.  Its `kvm vm_exit_NAME AVERAGE BEST` lines give
# `bench NAME BEST`.
run() {
	local side=$1 log="$build/bench-nested-$1.txt" rc=0
	shift
	"$@" >"$log" 2>&1 || rc=$?
	tr -d '\r' <"$log" | awk -v s="$side" '
		{ for (i = 1; i < NF; i++) if ($i == "kvm" && $(i + 1) ~ /^vm_exit_/) {
			name = $(i + 1); sub(/^vm_exit_/, "", name)
			print "bench", "nested_exit_" name s, $(i + 3), "ns" } }' >>"$walls"
	# Plain Bochs ends without Pith's pass/fail signal (rc 1), and the kernel's own
	# lines may cut into the status line: there the figures must be there.
	if [ "$side" = _bochs ]; then
		grep -q "nested_exit_io_bochs" "$walls" && rc=0 || rc=1
	fi
	if [ "$rc" != 0 ] || ! tr -d '\r' <"$log" | grep -q 'kvm_exit: status 0\|^exit: status 0'; then
		echo "bench: the nested benchmark ($side) failed; the end of $log:" >&2
		tail -n 20 "$log" >&2
		status=1
	fi
}
for round in $(seq "$rounds"); do
	run "" "$here/../run-qemu.sh" --smp 1 --timeout 600 "$build/pith-bench-nested.iso"
	run _qemu timeout --kill-after=5 300 qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -m 512 \
		-display none -serial stdio -monitor none -no-reboot \
		-kernel "$build/vmlinuz" -initrd "$initrd" -append "$cmdline"
done
if [ "${NESTED_VMX:-1}" != 0 ]; then
	# Plain Bochs boots the kernel from a GRUB ISO of its own.
	mkdir -p "$tree/iso/boot/grub"
	cp "$build/vmlinuz" "$tree/iso/boot/vmlinuz"
	cp "$initrd" "$tree/iso/boot/initrd"
	printf 'set timeout=0\nset timeout_style=hidden\nmenuentry "Linux" {\n\tlinux /boot/vmlinuz %s\n\tinitrd /boot/initrd\n}\n' \
		"$cmdline" >"$tree/iso/boot/grub/grub.cfg"
	grub-mkrescue -d /usr/lib/grub/i386-pc -o "$build/bench-nested-linux.iso" \
		--install-modules="normal linux iso9660 biosdisk" --fonts= --locales= --themes= \
		"$tree/iso" >/dev/null 2>&1
	run _vmx "$here/../run-bochs.sh" --timeout 900 "$build/pith-bench-nested.iso"
	run _bochs "$here/../run-bochs.sh" --timeout 900 "$build/bench-nested-linux.iso"
fi
awk '$1 == "bench" {
		if (!($2 in best)) { order[n++] = $2; best[$2] = $3 }
		else if ($3 + 0 < best[$2] + 0) best[$2] = $3
	}
	END { for (i = 0; i < n; i++) print "bench", order[i], best[order[i]], "ns" }' "$walls" | tee "$walls.best"
value() { awk -v n="$1" '$2 == n { print $3; exit }' "$walls.best"; }
pairs=("nested_exit_ratio io _qemu" "nested_exit_cpuid_ratio cpuid _qemu")
[ "${NESTED_VMX:-1}" = 0 ] || pairs+=("nested_exit_vmx_ratio io_vmx _bochs")
for pair in "${pairs[@]}"; do
	set -- $pair
	a=$(value "nested_exit_$2") b=$(value "nested_exit_${2%_vmx}$3")
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "bench: no $1: a figure is missing" >&2
		status=1
		continue
	fi
	awk -v n="$1" -v a="$a" -v b="$b" 'BEGIN { printf "bench %s %.2f\n", n, a / b }'
done
rm -f "$walls" "$walls.best"
exit "$status"
