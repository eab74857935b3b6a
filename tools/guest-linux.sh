#!/usr/bin/env bash
# guest-linux.sh — the reference Linux guest: Debian's cloud kernel and a busybox
# initramfs, for the VMM's Linux boot (docs/vmm.md, `make test-linux`).
#
# Usage: tools/guest-linux.sh OUTDIR [KVM_TEST]
#
# Writes OUTDIR/vmlinuz (the bzImage), OUTDIR/initrd.img (cpio newc, gzip) and
# OUTDIR/disk.img (a 64 KiB ext2 filesystem whose hello.txt is the line
# "pith-disk: hello from a mounted virtio disk"; made by mke2fs -d, e2fsprogs).
# The kernel package is downloaded once into OUTDIR/linux/ with `apt-get download`
# (never installed) and unpacked there with `dpkg -x`; later runs reuse it.  The
# package: LINUX_PACKAGE=linux-image-...-cloud-amd64 picks one; otherwise the one
# Debian's linux-image-cloud-amd64 depends on, else the newest
# linux-image-*-cloud-amd64(-unsigned) apt knows.  `apt-get update` runs once if
# apt knows none.
#
# The initramfs (guests/linux/init is its /init) holds a static busybox and the
# virtio modules of the same kernel (virtio-blk, virtio-console), the ACPI button and
# evdev modules (the power button, for acpid), loaded when the
# guest has a PCI bus.
# initrd-kvm.img adds KVM's modules and, given KVM_TEST (guests/linux/kvm_test.c built
# static), that program as /bin/kvm-test.
# Exit status: 0 the files written; 1 anything failed.
set -euo pipefail

die() { echo "guest-linux: $*" >&2; exit 1; }
[ $# -eq 1 ] || [ $# -eq 2 ] || die "usage: $0 OUTDIR [KVM_TEST]"
kvm_test=${2:-}
[ -z "$kvm_test" ] || [ -x "$kvm_test" ] || die "$kvm_test is not a program"
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1/linux"
out=$(cd "$1" && pwd)
cache=$out/linux

# ---- The kernel package: download once ---------------------------------------------
newest_deb() {
	# shellcheck disable=SC2012,SC2086  # (the default is a glob)
	ls "$cache"/${1:-linux-image-*-cloud-amd64*}_*.deb 2>/dev/null | sort -V | tail -n 1 || true
}
deb=$(newest_deb "${LINUX_PACKAGE:-}")
if [ -z "$deb" ]; then
	lookup() {
		local p
		p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-cloud-amd64(-unsigned)?$/ { print $2; exit }')
		[ -n "$p" ] || p=$(apt-cache pkgnames linux-image- 2>/dev/null |
			grep -E '^linux-image-[0-9].*-cloud-amd64(-unsigned)?$' | sort -V | tail -n 1)
		echo "$p"
	}
	pkg=${LINUX_PACKAGE:-$(lookup)}
	if [ -z "$pkg" ]; then
		echo "guest-linux: updating the package lists" >&2
		sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
		"${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
		pkg=$(lookup)
	fi
	[ -n "$pkg" ] || die "no linux-image-*-cloud-amd64 package known to apt"
	echo "guest-linux: downloading $pkg" >&2
	# As root apt-get download warns that it runs unsandboxed: harmless.
	(cd "$cache" && apt-get download -q "$pkg" 2>&1 |
		grep -v -e unsandboxed -e '^Get:' -e '^Fetched' >&2) || true
	deb=$(newest_deb "$pkg")
	[ -n "$deb" ] || die "apt-get download $pkg failed"
fi

root="$cache/root-$(basename "$deb" .deb)"
if [ ! -d "$root/boot" ]; then
	rm -rf "$root.tmp"
	dpkg -x "$deb" "$root.tmp" || die "dpkg -x $deb failed"
	mv "$root.tmp" "$root"
fi
vmlinuz=$(find "$root/boot" -name 'vmlinuz-*' 2>/dev/null | sort | head -n 1)
[ -n "$vmlinuz" ] || die "no boot/vmlinuz-* in $deb"
moddir=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | head -n 1)

# ---- Modules, dependencies first ---------------------------------------------------
modfile() {
	find "$moddir/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \
		-o -name "$1.ko.gz" -o -name "${1//_/-}.ko*" \) 2>/dev/null | head -n 1
}
order=()
add_module() {
	local name=${1//-/_} f dep m
	for m in "${order[@]}"; do [ "$m" != "$name" ] || return 0; done
	f=$(modfile "$name")
	[ -n "$f" ] || { echo "guest-linux: module $name not in the package (skipped)" >&2; return 0; }
	for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
		add_module "$dep"
	done
	order+=("$name")
}
if [ -n "$moddir" ] && command -v modinfo >/dev/null; then
	for m in virtio_pci virtio_blk virtio_console virtio_net button evdev; do add_module "$m"; done
else
	echo "guest-linux: no modules (package without lib/modules, or no modinfo: install kmod)" >&2
fi

# ---- The initramfs -----------------------------------------------------------------
busybox=$(command -v busybox) || die "busybox missing: install busybox-static (tools/deps.sh)"
! readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter' ||
	die "$busybox is not static: install busybox-static (tools/deps.sh)"
command -v cpio >/dev/null || die "cpio missing (tools/deps.sh)"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{bin,sbin,dev,proc,sys,tmp,etc,root,lib/modules}
cp "$busybox" "$tree/bin/busybox"
cp "$here/guests/linux/init" "$tree/init"
chmod 755 "$tree/init" "$tree/bin/busybox"
unpack_module() {    # NAME FILE: the module, uncompressed
	local f
	f=$(modfile "$1")
	case "$f" in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dcq "$f" ;;
		*.gz) gzip -dc "$f" ;;
		*) cat "$f" ;;
	esac >"$2"
}
for m in "${order[@]}"; do
	unpack_module "$m" "$tree/lib/modules/$m.ko"
done
printf '%s\n' "${order[@]}" >"$tree/lib/modules/order"
source "$here/tools/initramfs.sh"
pack() { pack_initramfs "$tree" "$1"; }   # FILE: the tree as an initramfs
pack "$out/initrd.img"
# initrd-kvm.img: the same, with KVM's modules (irqbypass, kvm, kvm_amd, kvm_intel) in
# lib/modules/kvm, listed in lib/modules/kvm/order and loaded by /init only with
# pith.kvm=1 (make test-nested), and KVM_TEST as /bin/kvm-test (run with
# pith.kvm_test=1); both kept out of initrd.img, which every guest loads.
kvm_first=${#order[@]}
if [ -n "$moddir" ] && command -v modinfo >/dev/null; then
	for m in kvm_amd kvm_intel; do add_module "$m"; done
fi
mkdir -p "$tree/lib/modules/kvm"
: >"$tree/lib/modules/kvm/order"
for m in "${order[@]:$kvm_first}"; do
	unpack_module "$m" "$tree/lib/modules/kvm/$m.ko"
	echo "$m" >>"$tree/lib/modules/kvm/order"
done
[ -z "$kvm_test" ] || install -m 755 "$kvm_test" "$tree/bin/kvm-test"
pack "$out/initrd-kvm.img"
rm -rf "$tree/lib/modules/kvm" "$tree/bin/kvm-test"
# A small disk for the virtio-blk test: 64 KiB of ext2 (the cloud kernel's built-in
# ext4 driver mounts it; no journal, so read-only is enough) holding hello.txt.
# Fixed UUID, hash seed and owner, so only the timestamps vary between builds.
mke2fs=$(PATH=$PATH:/usr/sbin:/sbin command -v mke2fs) || die "mke2fs missing: install e2fsprogs (tools/deps.sh)"
mkdir "$tree/disk"
echo "pith-disk: hello from a mounted virtio disk" >"$tree/disk/hello.txt"
head -c 65536 /dev/zero >"$out/disk.img.tmp"
"$mke2fs" -q -F -t ext2 -r 1 -b 1024 -N 16 -m 0 -L pith-disk \
	-U 00000000-0000-0000-0000-000000000000 \
	-E root_owner=0:0,hash_seed=00000000-0000-0000-0000-000000000000 \
	-d "$tree/disk" "$out/disk.img.tmp" >&2 || die "mke2fs of disk.img failed"
mv "$out/disk.img.tmp" "$out/disk.img"
cp "$vmlinuz" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "guest-linux: $(basename "$vmlinuz") ($(stat -c %s "$out/vmlinuz") bytes), initrd.img" \
	"($(stat -c %s "$out/initrd.img") bytes, $kvm_first modules), initrd-kvm.img" \
	"($(( ${#order[@]} - kvm_first )) more), disk.img" >&2
