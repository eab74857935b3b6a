#!/usr/bin/env bash
# deps.sh — make sure the Debian packages Pith's build and tests need are installed.
#
# Usage: tools/deps.sh [--check]
#
# Silent and fast (one dpkg-query call) when everything is present.  Otherwise
# runs `apt-get update` once and installs the missing packages (through sudo
# when not root).  With --check it only lists what is missing.
# apt must also know the i386 architecture: the 32-bit legacy guest is built from
# i386 packages (tools/guest-686.sh downloads them, never installs them); when it is
# not among dpkg's foreign architectures it is added before that `apt-get update`.
# Exit status: 0 all present (or installed now); 1 missing (--check) or the
# installation failed; 2 bad usage.
set -euo pipefail

pkgs=(qemu-system-x86 grub-pc-bin grub-common xorriso mtools seabios busybox-static
      bochs bochsbios vgabios bochs-term cpio kmod gcc make binutils libc6-dev e2fsprogs)

check=0
case "${1:-}" in
	"") ;;
	--check) check=1 ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null |
	awk '$NF == "installed" { print $1 }') || true
missing=()
for p in "${pkgs[@]}"; do
	grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done
i386=1
[ "$(dpkg --print-architecture)" = i386 ] || dpkg --print-foreign-architectures | grep -qx i386 || i386=0
[ ${#missing[@]} -eq 0 ] && [ "$i386" = 1 ] && exit 0

if [ "$check" = 1 ]; then
	[ ${#missing[@]} -eq 0 ] || echo "deps: missing packages: ${missing[*]}" >&2
	[ "$i386" = 1 ] || echo "deps: apt does not know the i386 architecture (dpkg --add-architecture i386)" >&2
	exit 1
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: not root and no sudo; run $0 as root" >&2; exit 1; }
	sudo=(sudo)
fi
if [ "$i386" = 0 ]; then
	echo "deps: adding the i386 architecture (for the 32-bit legacy guest's packages)" >&2
	"${sudo[@]}" dpkg --add-architecture i386 || { echo "deps: dpkg --add-architecture i386 failed" >&2; exit 1; }
fi
[ ${#missing[@]} -eq 0 ] || echo "deps: installing ${missing[*]}" >&2
# A mirror in the middle of a sync makes `apt-get update` fail for one index while the
# others arrived: try three times, then go on with what arrived; the installation
# says by itself if a package is still unknown.
updated=0
for try in 1 2 3; do
	if "${sudo[@]}" apt-get update; then updated=1; break; fi
	echo "deps: apt-get update failed (try $try of 3)" >&2
	[ "$try" = 3 ] || sleep 10
done
[ "$updated" = 1 ] || echo "deps: going on with the package lists apt-get update did fetch" >&2
if [ ${#missing[@]} -gt 0 ] &&
   ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; then
	echo "deps: installing ${missing[*]} failed" >&2
	exit 1
fi
