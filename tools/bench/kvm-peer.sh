#!/usr/bin/env bash
# kvm-peer.sh — the Linux KVM side of the vm_exit benchmarks: boot Debian's cloud
# kernel in the same QEMU as Pith's benchmarks (TCG, -cpu qemu64,+svm,+npt), load
# kvm-amd and run tools/bench/kvm_exit.c's program on the same guests.
#
# Usage: tools/bench/kvm-peer.sh [--icount] WORKDIR KVM_EXIT_BINARY
#
#   WORKDIR     cache and scratch (e.g. build/kvm-peer): the kernel package is
#               downloaded there once (apt-get download, never installed) and unpacked
#   --icount    run QEMU with -icount shift=0 (figures are instructions)
#
# Prints `bench kvm_vm_exit_io[_wall] VALUE UNIT` and the same for vm_exit_cpuid:
# with --icount the average over all exits, in instructions; without, the best
# window's average, in ns, named _wall (user/bench/guests.h).
# The package: KVM_PEER_PACKAGE=linux-image-...-cloud-amd64 picks one; otherwise the
# one Debian's linux-image-cloud-amd64 points at now (the first download is cached).
# Exit status: 0 figures printed; 1 anything failed (the guest's output is shown).
set -euo pipefail

die() { echo "kvm-peer: $*" >&2; exit 1; }
usage() { die "usage: $0 [--icount] WORKDIR KVM_EXIT_BINARY"; }

icount=()
while [ $# -gt 0 ]; do
	case "$1" in
		--icount) icount=(-icount shift=0) ;;
		-*) usage ;;
		*) break ;;
	esac
	shift
done
[ $# -eq 2 ] || usage
work=$1 program=$2
[ -x "$program" ] || die "no program: $program"
mkdir -p "$work"
work=$(cd "$work" && pwd)

# ---- The kernel package: download once ---------------------------------------------
deb=$(ls "$work"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "${KVM_PEER_PACKAGE:-}" ]; then
	deb=$(ls "$work/${KVM_PEER_PACKAGE}"_*.deb 2>/dev/null | tail -n 1 || true)
fi
if [ -z "$deb" ]; then
	pkg=${KVM_PEER_PACKAGE:-}
	lookup() {
		apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-cloud-amd64$/ { print $2; exit }'
	}
	if [ -z "$pkg" ]; then
		pkg=$(lookup)
		if [ -z "$pkg" ]; then
			echo "kvm-peer: updating the package lists" >&2
			sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
			"${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
			pkg=$(lookup)
		fi
		[ -n "$pkg" ] || die "no cloud kernel found (apt-cache depends linux-image-cloud-amd64)"
	fi
	echo "kvm-peer: downloading $pkg" >&2
	# apt-get download as root warns that it runs unsandboxed: harmless.
	(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v -e unsandboxed -e '^Get:' -e '^Fetched' >&2) || true
	deb=$(ls "$work/${pkg}"_*.deb 2>/dev/null | tail -n 1 || true)
	[ -n "$deb" ] || die "apt-get download $pkg failed"
fi

root="$work/root-$(basename "$deb" .deb)"
if [ ! -d "$root/boot" ]; then
	rm -rf "$root.tmp"
	dpkg -x "$deb" "$root.tmp" || die "dpkg -x $deb failed"
	mv "$root.tmp" "$root"
fi
vmlinuz=$(ls "$root"/boot/vmlinuz-* 2>/dev/null | head -n 1) || true
moddir=$(ls -d "$root"/lib/modules/* 2>/dev/null | head -n 1) || true
[ -n "$vmlinuz" ] && [ -n "$moddir" ] || die "no kernel or modules in $deb"

# ---- The modules kvm-amd needs, dependencies first -----------------------------------
modfile() {     # module name -> its file
	local f
	f=$(find "$moddir/kernel" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" -o -name "$1.ko.gz" |
		head -n 1)
	[ -n "$f" ] || f=$(find "$moddir/kernel" -name "${1//_/-}.ko*" | head -n 1)
	[ -n "$f" ] || die "module $1 not in $moddir"
	echo "$f"
}
order=()
add_module() {
	local name=${1//-/_} dep m
	for m in "${order[@]}"; do [ "$m" != "$name" ] || return 0; done
	for dep in $(modinfo -F depends "$(modfile "$1")" | tr ',' ' '); do
		add_module "$dep"
	done
	order+=("$name")
}
command -v modinfo >/dev/null || die "modinfo missing: install kmod (tools/deps.sh)"
add_module kvm_amd

# ---- The initramfs -------------------------------------------------------------------
initrd="$work/initrd-kvm-exit.gz"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{bin,dev,proc,sys,modules}
busybox=$(command -v busybox) || die "busybox missing: install busybox-static (tools/deps.sh)"
cp "$busybox" "$tree/bin/busybox"
cp "$program" "$tree/kvm_exit"
for m in "${order[@]}"; do
	f=$(modfile "$m")
	case "$f" in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dcq "$f" ;;
		*.gz) gzip -dc "$f" ;;
		*) cat "$f" ;;
	esac >"$tree/modules/$m.ko"
done
{
	echo '#!/bin/busybox sh'
	echo '/bin/busybox mount -t devtmpfs dev /dev'
	echo 'exec </dev/console >/dev/console 2>&1'
	echo '/bin/busybox mount -t proc proc /proc'
	for m in "${order[@]}"; do
		echo "/bin/busybox insmod /modules/$m.ko || echo 'kvm error insmod $m'"
	done
	echo "/kvm_exit"
	echo 'echo "kvm done $?"'
	echo '/bin/busybox poweroff -f'
} >"$tree/init"
chmod +x "$tree/init" "$tree/kvm_exit"
(cd "$tree" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"

# ---- Run -----------------------------------------------------------------------------
log="$work/serial${icount:+-icount}.txt"
# shellcheck disable=SC2054  # (the commas are inside QEMU option values)
timeout --kill-after=5 300 qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -m 512 \
	-display none -serial stdio -monitor none -no-reboot "${icount[@]}" \
	-kernel "$vmlinuz" -initrd "$initrd" -append "console=ttyS0 quiet panic=-1" \
	</dev/null >"$log" 2>&1 || true
tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"

if [ ${#icount[@]} -gt 0 ]; then suffix='' unit=instructions field=3; else suffix=_wall unit=ns field=4; fi
status=0
for name in vm_exit_io vm_exit_cpuid; do
	value=$(awk -v n="$name" -v f="$field" '$1 == "kvm" && $2 == n { print $f }' "$log")
	if [ -n "$value" ]; then
		echo "bench kvm_${name}${suffix} $value $unit"
	else
		status=1
	fi
done
if [ "$status" != 0 ]; then
	echo "kvm-peer: no figures from the Linux guest; its output ($log):" >&2
	tail -n 30 "$log" >&2
fi
exit "$status"
