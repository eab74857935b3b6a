#!/usr/bin/env bash
# guest-686.sh — the 32-bit legacy guest of `make test-legacy`: Debian's 686 kernel (an
# i386 package) and an initramfs with Debian's i386 static busybox, whose /init
# (guests/bios/init-686) runs a few shell commands and ends the guest through port 0xf4.
#
# Usage: tools/guest-686.sh OUTDIR
#
# Writes OUTDIR/guests/vmlinuz-686 and OUTDIR/guests/initrd-686.img (cpio newc, gzip).
# The two packages are downloaded once into OUTDIR/linux-686/ with `apt-get download`
# (never installed) and unpacked there with `dpkg -x`; later runs reuse them.  The
# kernel: LINUX686_PACKAGE=linux-image-...-686 picks one; otherwise the one Debian's
# linux-image-686:i386 depends on.  apt must know the i386 architecture
# (tools/deps.sh adds it).
# Exit status: 0 the files written; 1 anything failed.
set -euo pipefail

die() { echo "guest-686: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 OUTDIR"
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1/linux-686" "$1/guests"
out=$(cd "$1" && pwd)
cache=$out/linux-686

newest_deb() {   # GLOB: the newest cached package matching it
	# shellcheck disable=SC2012,SC2086
	ls "$cache"/$1_*_i386.deb 2>/dev/null | sort -V | tail -n 1 || true
}
download() {     # PACKAGE (without :i386)
	echo "guest-686: downloading $1:i386" >&2
	# As root apt-get download warns that it runs unsandboxed: harmless.
	(cd "$cache" && apt-get download -q "$1:i386" 2>&1 |
		grep -v -e unsandboxed -e '^Get:' -e '^Fetched' >&2) || true
}
unpack() {       # DEB: the directory it is unpacked in
	local root
	root="$cache/root-$(basename "$1" .deb)"
	if [ ! -d "$root" ]; then
		rm -rf "$root.tmp"
		dpkg -x "$1" "$root.tmp" || die "dpkg -x $1 failed"
		mv "$root.tmp" "$root"
	fi
	echo "$root"
}

# ---- The kernel and busybox packages: download once --------------------------------
kdeb=$(newest_deb "${LINUX686_PACKAGE:-linux-image-*-686}")
if [ -z "$kdeb" ]; then
	pkg=${LINUX686_PACKAGE:-$(apt-cache depends linux-image-686:i386 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-686(:i386)?$/ { sub(/:i386$/, "", $2); print $2; exit }')}
	[ -n "$pkg" ] || die "apt knows no linux-image-686:i386 (run tools/deps.sh: it adds the i386 architecture)"
	download "$pkg"
	kdeb=$(newest_deb "$pkg")
	[ -n "$kdeb" ] || die "apt-get download $pkg:i386 failed"
fi
bdeb=$(newest_deb busybox-static)
if [ -z "$bdeb" ]; then
	download busybox-static
	bdeb=$(newest_deb busybox-static)
	[ -n "$bdeb" ] || die "apt-get download busybox-static:i386 failed"
fi
kroot=$(unpack "$kdeb")
broot=$(unpack "$bdeb")
vmlinuz=$(find "$kroot/boot" -name 'vmlinuz-*-686' 2>/dev/null | sort | head -n 1)
[ -n "$vmlinuz" ] || die "no boot/vmlinuz-*-686 in $kdeb"
busybox=$broot/bin/busybox
[ -f "$busybox" ] || die "no bin/busybox in $bdeb"
# An i386 executable: ELF class 1 (32-bit), machine 3 (EM_386).
if [ "$(od -An -tx1 -j4 -N1 "$busybox" | tr -d ' ')" != 01 ] ||
	[ "$(od -An -tx1 -j18 -N1 "$busybox" | tr -d ' ')" != 03 ]; then
	die "$busybox is not a 32-bit i386 executable"
fi

# ---- The initramfs -----------------------------------------------------------------
command -v cpio >/dev/null || die "cpio missing (tools/deps.sh)"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{bin,dev,proc,sys}
cp "$busybox" "$tree/bin/busybox"
cp "$here/guests/bios/init-686" "$tree/init"
chmod 755 "$tree/init" "$tree/bin/busybox"
source "$here/tools/initramfs.sh"
pack_initramfs "$tree" "$out/guests/initrd-686.img"
cp "$vmlinuz" "$out/guests/vmlinuz-686.tmp"
mv "$out/guests/vmlinuz-686.tmp" "$out/guests/vmlinuz-686"
echo "guest-686: $(basename "$vmlinuz") ($(stat -c %s "$out/guests/vmlinuz-686") bytes)," \
	"initrd-686.img ($(stat -c %s "$out/guests/initrd-686.img") bytes, busybox from $(basename "$bdeb"))" >&2
