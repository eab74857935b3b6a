#!/usr/bin/env bash
# mkiso.sh — build a BIOS-bootable GRUB (multiboot2) ISO for Pith.
#
# Usage: tools/mkiso.sh OUT.iso KERNEL.elf [MODULE_PATH[=NAME] ...]
#
# The kernel is booted with `multiboot2 /boot/<kernel file>`; each module is
# loaded in the given order with `module2 /boot/<module file> NAME`, where
# NAME (the module's multiboot2 string) defaults to the file's basename.
# Optional: KERNEL_CMDLINE="..." in the environment is appended to the
# multiboot2 line.  Only the i386-pc (BIOS) GRUB platform is used; GRUB boots
# the first entry at once without showing a menu.
# Exit status: 0 on success, 1 on error (bad arguments, missing file, ...).
set -euo pipefail

die() { echo "mkiso: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 OUT.iso KERNEL.elf [MODULE_PATH[=NAME] ...]"
out=$1 kernel=$2
shift 2

grub_dir=/usr/lib/grub/i386-pc
[ -f "$grub_dir/multiboot2.mod" ] || die "$grub_dir missing: install grub-pc-bin (tools/deps.sh)"
command -v grub-mkrescue >/dev/null || die "grub-mkrescue missing: install grub-common (tools/deps.sh)"
[ -f "$kernel" ] || die "kernel not found: $kernel"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/iso/boot/grub"

kfile=$(basename "$kernel")
cp "$kernel" "$tmp/iso/boot/$kfile"

cfg="$tmp/iso/boot/grub/grub.cfg"
{
	echo 'set timeout=0'
	echo 'set timeout_style=hidden'
	echo 'set default=0'
	echo 'menuentry "Pith" {'
	echo "	multiboot2 /boot/$kfile${KERNEL_CMDLINE:+ $KERNEL_CMDLINE}"
} >"$cfg"

for arg in "$@"; do
	path=${arg%%=*}
	if [ "$path" = "$arg" ]; then name=$(basename "$path"); else name=${arg#*=}; fi
	[ -f "$path" ] || die "module not found: $path"
	mfile=$(basename "$path")
	[ ! -e "$tmp/iso/boot/$mfile" ] || die "two files named $mfile (kernel/modules need distinct basenames)"
	cp "$path" "$tmp/iso/boot/$mfile"
	echo "	module2 /boot/$mfile $name" >>"$cfg"
done
echo '}' >>"$cfg"

# Only the modules grub.cfg needs, no fonts/themes/locales: small and fast.
if ! grub-mkrescue -d "$grub_dir" -o "$tmp/out.iso" \
	--install-modules="normal multiboot2 iso9660 biosdisk" \
	--fonts= --locales= --themes= "$tmp/iso" >"$tmp/log" 2>&1; then
	cat "$tmp/log" >&2
	die "grub-mkrescue failed"
fi
mv "$tmp/out.iso" "$out"
