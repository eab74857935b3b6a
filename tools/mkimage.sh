#!/usr/bin/env bash
# mkimage.sh — build a bootable Pith image for a system configuration.
#
# Usage: tools/mkimage.sh OUT.iso CONFIG BUILD_DIR
#
# Packs the kernel and the modules of tools/modules.sh (pith_modules: the root task, the
# console server and the VMM from BUILD_DIR, CONFIG as the module "system.conf", the
# servers it needs and every file the configuration names on a `kernel`, `initrd`,
# `disk`, `cdrom` or `module` line) into a GRUB ISO (tools/mkiso.sh).  A name with no
# file fails the build, naming the file and its line.  tools/mkdirect.sh boots the
# same modules straight from QEMU's -kernel.
# Exit status: 0 the image was written; 1 otherwise.
set -euo pipefail

die() { echo "mkimage: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: $0 OUT.iso CONFIG BUILD_DIR"
out=$1 config=$2 build=$3
tool=mkimage
# shellcheck source=tools/modules.sh
source "$(dirname "$0")/modules.sh"
pith_modules "$config" "$build" || die "no image written"

KERNEL_CMDLINE=$(pith_kernel_cmdline)
export KERNEL_CMDLINE
exec "$(dirname "$0")/mkiso.sh" "$out" "$build/kernel.elf" "${modules[@]}"
