#!/usr/bin/env bash
# deps.sh — make sure the Debian packages Pith's build and tests need are installed.
#
# Usage: tools/deps.sh [--check]
#
# Silent and fast (one dpkg-query call) when everything is present.  Otherwise
# runs `apt-get update` once and installs the missing packages (through sudo
# when not root).  With --check it only lists what is missing.
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
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$check" = 1 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
if ! "${sudo[@]}" apt-get update ||
   ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; then
	echo "deps: installing ${missing[*]} failed" >&2
	exit 1
fi
