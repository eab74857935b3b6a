#!/usr/bin/env bash
# mkdirect.sh — boot a system configuration straight from QEMU's -kernel, no ISO.
#
# Usage: tools/mkdirect.sh CONFIG BUILD_DIR
#        tools/mkdirect.sh --run CONFIG BUILD_DIR [RUN_QEMU_OPTIONS...] [-- QEMU_ARGS...]
#
# The modules are those tools/mkimage.sh would put in the ISO's grub.cfg, in the same
# order and with the same names (tools/modules.sh), and the kernel's command line the
# same (KERNEL_CMDLINE from the environment, then pith.clock=).  QEMU's multiboot
# loader takes BUILD_DIR/kernel.elf by its multiboot (v1) header (arch/x86_64/boot.S),
# with -append CMDLINE and -initrd "PATH NAME,PATH NAME,...": each item is a module,
# the words after its path its string.  That list cannot carry a comma or a space in a
# path, nor a comma in a name: such a module stops the script, named.
#
# Without --run, prints QEMU's arguments for the boot (-kernel, -append, -initrd), quoted
# for a shell, on one line.  With --run, boots them with tools/run-qemu.sh, which takes
# the options that follow (e.g. --timeout 300, --smp 2, -- -m 1G).
# Exit status: without --run, 0 printed, 1 a module missing or not passable; with
# --run, run-qemu.sh's.
set -euo pipefail

die() { echo "mkdirect: $*" >&2; exit 1; }
run=0
if [ "${1:-}" = --run ]; then run=1; shift; fi
[ $# -ge 2 ] && { [ "$run" = 1 ] || [ $# -eq 2 ]; } ||
	die "usage: $0 CONFIG BUILD_DIR, or $0 --run CONFIG BUILD_DIR [RUN_QEMU_OPTIONS...]"
config=$1 build=$2
shift 2
tool=mkdirect
# shellcheck source=tools/modules.sh
source "$(dirname "$0")/modules.sh"
pith_modules "$config" "$build" || die "no boot arguments written"

initrd=''
for m in "${modules[@]}"; do
	path=${m%%=*} name=${m#*=}
	case "$path" in *,*|*" "*) die "module file '$path' ($name): QEMU's -initrd list cannot carry a comma or a space in a path; copy or link it elsewhere" ;; esac
	case "$name" in *,*) die "module name '$name' ($path): QEMU's -initrd list cannot carry a comma in a name" ;; esac
	initrd+="${initrd:+,}$path $name"
done
cmdline=$(pith_kernel_cmdline)
kernel="$build/kernel.elf"

if [ "$run" = 1 ]; then
	exec "$(dirname "$0")/run-qemu.sh" --append "$cmdline" --initrd "$initrd" "$kernel" "$@"
fi
quote() {   # one word for a shell: as it is when plain, else in single quotes
	if [[ "$1" =~ ^[A-Za-z0-9_./=:+@%-]+$ ]]; then printf '%s' "$1"
	else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
echo "$(quote -kernel) $(quote "$kernel") $(quote -append) $(quote "$cmdline") $(quote -initrd) $(quote "$initrd")"
