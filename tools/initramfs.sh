# initramfs.sh — sourced by the guest builders (tools/guest-linux.sh, tools/guest-686.sh).
#
# pack_initramfs TREE FILE: TREE as a gzipped initramfs in FILE (written whole, then
# moved into place).  /dev/console must exist when the kernel starts /init (it opens it
# for init's standard streams); a second archive after the tree makes it without mknod.

# One newc entry (the kernel's initramfs format, Documentation/driver-api/early-userspace/
# buffer-format.rst) with its name padded so the data starts on 4 bytes.
newc_entry() {   # name mode rdevmajor rdevminor
	local name=$1 size=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$size" 0
	printf '%s\0' "$name"
	printf '%*s' $(( (4 - (110 + size) % 4) % 4 )) '' | tr ' ' '\0'
}

pack_initramfs() {    # TREE FILE
	{
		(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0)
		newc_entry dev/console $((0x2180)) 5 1          # S_IFCHR | 0600
		newc_entry TRAILER!!! 0 0 0
	} | gzip -9n >"$2.tmp"
	mv "$2.tmp" "$2"
}
