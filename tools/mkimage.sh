#!/usr/bin/env bash
# mkimage.sh — build a bootable Pith image for a system configuration.
#
# Usage: tools/mkimage.sh OUT.iso CONFIG BUILD_DIR
#
# Packs the kernel, the root task, the console server and the VMM from BUILD_DIR,
# CONFIG as the module "system.conf", and every file the configuration names on a
# `kernel`, `initrd` or `disk` line, looked up by name in BUILD_DIR, BUILD_DIR/guests,
# guests/tests and guests/.  A name with no file is left out with a warning: the root
# task then reports the guest's line at boot and starts the others (docs/config.md).
# Exit status: 0 the image was written; 1 otherwise.
set -euo pipefail

die() { echo "mkimage: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: $0 OUT.iso CONFIG BUILD_DIR"
out=$1 config=$2 build=$3
[ -f "$config" ] || die "no such configuration: $config"
for f in kernel.elf root.elf console.elf vmm.elf; do
	[ -f "$build/$f" ] || die "$build/$f missing: build it first (make)"
done

modules=("$build/root.elf=root" "$build/console.elf=console" "$build/vmm.elf=vmm"
         "$config=system.conf")
# The switch server, for guests with a `net` key (docs/network.md).
if grep -qE '^[[:space:]]*net[[:space:]]' "$config"; then
	[ -f "$build/switch.elf" ] || die "$build/switch.elf missing: build it first (make)"
	modules+=("$build/switch.elf=switch")
fi
declare -A packed=()
# Module names: the second word of kernel/initrd/disk lines, comments stripped.
while read -r key name _; do
	case "$key" in kernel|initrd|disk) ;; *) continue ;; esac
	[ -n "${name:-}" ] && [ -z "${packed[$name]:-}" ] || continue
	packed[$name]=1
	found=
	for dir in "$build" "$build/guests" guests/tests guests; do
		if [ -f "$dir/$name" ]; then found=$dir/$name; break; fi
	done
	if [ -n "$found" ]; then
		modules+=("$found=$name")
	else
		echo "mkimage: warning: no file for module '$name' named in $config" >&2
	fi
done < <(sed -e 's/\(^\|[[:space:]]\)#.*$//' "$config")

exec "$(dirname "$0")/mkiso.sh" "$out" "$build/kernel.elf" "${modules[@]}"
