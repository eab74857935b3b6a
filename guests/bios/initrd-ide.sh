#!/usr/bin/env bash
# initrd-ide.sh — the reference Linux guest's initramfs (tools/guest-linux.sh) with the
# IDE drivers added: libata, ata_piix, sd_mod, sr_mod and what they depend on, loaded
# by the guest's /init in the order of /lib/modules/order; and, in /init's test, a
# sector written to each sd disk and read back.
#
# Usage: guests/bios/initrd-ide.sh BUILD_DIR OUT
set -euo pipefail
build=$1 out=$2
die() { echo "initrd-ide: $*" >&2; exit 1; }
moddir=$(find "$build"/linux/root-*/lib/modules -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | head -n 1)
[ -n "$moddir" ] || die "no kernel modules under $build/linux (run tools/guest-linux.sh)"
[ -f "$build/initrd.img" ] || die "$build/initrd.img missing"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
(cd "$tree" && gzip -dc | cpio -id --quiet) <"$build/initrd.img"

modfile() {
	find "$moddir/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \
		-o -name "${1//_/-}.ko*" \) 2>/dev/null | head -n 1
}
mapfile -t order <"$tree/lib/modules/order"
add_module() {
	local name=${1//-/_} f dep m
	for m in "${order[@]}"; do [ "$m" != "$name" ] || return 0; done
	f=$(modfile "$name")
	[ -n "$f" ] || { echo "initrd-ide: module $name not in the package (skipped)" >&2; return 0; }
	for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
		add_module "$dep"
	done
	order+=("$name")
	case "$f" in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dcq "$f" ;;
		*) cat "$f" ;;
	esac >"$tree/lib/modules/$name.ko"
}
for m in ata_piix sd_mod sr_mod; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$tree/lib/modules/order"

# The IDE disk is writable for the guest's life: with pith.test=1, /init writes a word to
# the last sector of each sd disk, drops what the kernel cached of the disk, and reads
# the sector back from the device (added before its "test end").
check=$(cat <<'CHECK'
	for s in /sys/block/sd*; do
		[ -e "$s" ] || continue
		d=/dev/${s##*/} last=$(($(cat "$s/size") - 1))
		word="pith-ide-$(cat /proc/sys/kernel/random/uuid)"
		printf '%s' "$word" | dd of="$d" bs=512 seek="$last" count=1 conv=sync 2>/dev/null
		sync
		blockdev --flushbufs "$d"
		echo 3 >/proc/sys/vm/drop_caches
		back=$(dd if="$d" bs=512 skip="$last" count=1 2>/dev/null | tr -d '\000')
		if [ "$back" = "$word" ]; then
			echo "pith-guest: ${s##*/} sector $last written and read back"
		else
			echo "pith-guest: ${s##*/} sector $last did not read back what was written"
		fi
	done
CHECK
)
grep -q '^	echo "pith-guest: test end"$' "$tree/init" || die "the guest's /init has no test end line"
CHECK="$check" awk '/^\techo "pith-guest: test end"$/ { print ENVIRON["CHECK"] } { print }' "$tree/init" >"$tree/init.new"
chmod 755 "$tree/init.new"
mv "$tree/init.new" "$tree/init"
(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) >"$out"
echo "initrd-ide: $out: ${#order[@]} modules (${order[*]})" >&2
