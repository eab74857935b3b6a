#!/usr/bin/env bash
# storage.sh — the persistence test (guests/configs/storage-test.conf, docs/storage.md).
#
# Makes IMAGE, a host disk with a GPT (tests/mkgpt.py): partitions "before", "alpha"
# and "after", the neighbours filled with a known pattern.  Boots COMMAND twice with
# IMAGE attached (--disk IMAGE is added to it).  Boot 1: alpha makes an ext2
# filesystem on its partition, writes two files of random bytes, syncs and powers off;
# boot 2: alpha reads them back, and their MD5s must match.  Both boots: a write and a
# read past the end of alpha's disk fail in alpha; gamma (a partition the disk lacks)
# starts without a disk; delta (alpha's partition again) is refused by line.  Then,
# from the host: the neighbours and the GPT are byte-for-byte unchanged and e2fsck
# finds nothing to fix on alpha's partition.  And a firmware guest (sea) boots from
# its partition on IDE: the test puts guests/bios/'s boot sector there, SeaBIOS boots
# it, and the sector it writes back (its own bytes, to the disk's second sector) is on
# the host's partition afterwards.
#
# Usage: tests/storage.sh PLATFORM IMAGE -- COMMAND...
# One line per check, then "PLATFORM: N passed, M failed"; exit 0 only if all passed.
set -euo pipefail

[ $# -ge 4 ] && [ "$3" = "--" ] || { echo "usage: $0 PLATFORM IMAGE -- COMMAND..." >&2; exit 2; }
platform=$1 image=$2
shift 3
here=$(dirname "$0")
source "$here/checks.sh"

# 34 cylinders of 16 heads x 63 sectors (17 MiB): a flat image Bochs takes as it is.
sectors=$((34 * 16 * 63))
python3 "$here/mkgpt.py" "$image" "${sectors}s" before:2 alpha:8 after:2 sea:1
python3 - "$image" <<'PY'
import struct, sys
# The neighbours' pattern: each sector says which disk sector it is.
with open(sys.argv[1], "r+b") as f:
    f.seek(2 * 512)
    for i in range(128):
        e = f.read(128)
        first, last = struct.unpack_from("<QQ", e, 32)
        name = e[56:128].decode("utf-16-le").rstrip("\0")
        if name in ("before", "after"):
            pos = f.tell()
            for lba in range(first, last + 1):
                f.seek(lba * 512)
                f.write((b"%s sector %d " % (name.encode(), lba)).ljust(512, b"."))
            f.seek(pos)
PY
# Where a partition lies: "FIRST LAST" (sectors).
partition() {
	python3 - "$image" "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(2 * 512)
    e = f.read(128 * 128)
for i in range(128):
    first, last = struct.unpack_from("<QQ", e, i * 128 + 32)
    if e[i * 128 + 56:i * 128 + 128].decode("utf-16-le").rstrip("\0") == sys.argv[2]:
        print(first, last)
PY
}
read -r alpha_first alpha_last < <(partition alpha)
read -r sea_first _ < <(partition sea)
# What must not change: everything but alpha's partition and sea's first two sectors.
outside() {
	python3 - "$image" "$alpha_first" "$alpha_last" "$sea_first" <<'PY'
import hashlib, sys
first, last, sea = (int(a) for a in sys.argv[2:5])
with open(sys.argv[1], "rb") as f:
    data = f.read()
kept = data[:first * 512] + data[(last + 1) * 512:sea * 512] + data[(sea + 2) * 512:]
print(hashlib.sha256(kept).hexdigest())
PY
}
# sea's partition starts with the legacy tests' boot sector (the ISO's build folder).
bootsect=""
for arg in "$@"; do case "$arg" in *.iso) bootsect=$(dirname "$arg")/guests/bootsect.bin ;; esac; done
[ -f "$bootsect" ] || { echo "storage: no boot sector at '$bootsect' (make $bootsect)" >&2; exit 2; }
dd if="$bootsect" of="$image" bs=512 seek="$sea_first" conv=notrunc status=none
outside_before=$(outside)
sea_sector_zero() { ! dd if="$image" bs=512 skip=$((sea_first + 1)) count=1 status=none | tr -d '\0' | grep . >/dev/null; }
check sea_sector_zero_before "the second sector of sea's partition is not zeros before the first boot" sea_sector_zero

md5_of() { grep -m 1 -E "^\[alpha\] pith-guest: storage: $1 [0-9]+ bytes, md5 " "$2" | sed -E 's/.* md5 ([0-9a-f]+)$/\1/'; }
runs_clean() { grep -qE '^\[alpha\] pith-guest: test end$' "$1" && grep -qE '^\[gamma\] pith-guest: test end$' "$1"; }

boot() {   # boot N: the checks both boots share
	local n=$1 log=$2
	check "boot${n}_disk_found" "the storage server found no ATA disk" \
		grep -qE "storage: disk .* $sectors sectors" "$log"
	check "boot${n}_disk_by_dma" "the storage server does not move data by bus-master DMA" \
		grep -qE '^storage: bus-master DMA \(ports [0-9a-f]+\)' "$log"
	check "boot${n}_alpha_served" "alpha did not get partition 'alpha'" \
		grep -qE "storage: guest 'alpha' gets partition 'alpha' \(8192 KiB\)" "$log"
	check "boot${n}_alpha_disk_size" "alpha's vda is not its partition's size" \
		grep -qE '^\[alpha\] pith-guest: storage: vda 16384 sectors$' "$log"
	check "boot${n}_missing_partition" "gamma's missing partition was not reported by line" \
		grep -qE "storage: line 20: guest 'gamma': no partition 'missing' on the host disk" "$log"
	check "boot${n}_missing_partition_guest_runs" "gamma did not start without its disk" \
		grep -qE '^\[gamma\] pith-guest: storage: no disk$' "$log"
	check "boot${n}_shared_partition_refused" "delta's claim on alpha's partition was not refused by line" \
		grep -qE "line 27: partition 'alpha' is already guest 'alpha''s disk" "$log"
	check "boot${n}_write_past_end_fails" "a write past the end of alpha's disk did not fail" \
		grep -qE '^\[alpha\] pith-guest: storage: a write past the end failed$' "$log"
	check "boot${n}_read_past_end_empty" "a read past the end of alpha's disk gave data" \
		grep -qE '^\[alpha\] pith-guest: storage: a read past the end gave 0 bytes$' "$log"
	check "boot${n}_guests_finished" "alpha or gamma did not finish its test" runs_clean "$log"
	check "boot${n}_sea_boots_partition" "sea did not boot the boot sector from its partition on IDE" \
		grep -qE '^\[sea\] pith-boot: hello from the boot sector$' "$log"
	check "boot${n}_sea_writes_partition" "sea's write to its disk's second sector was not read back" \
		grep -qE '^\[sea\] pith-boot: sector 2 written and read back$' "$log"
}
# The sector sea wrote is on the host's partition: its second sector, zeros before the
# boot, is the boot sector as it ran (its drive byte set), so it has its greeting (the
# prefix and the message are stored apart) and its signature.
sea_sector_on_host() {
	dd if="$image" bs=512 skip=$((sea_first + 1)) count=1 status=none |
		python3 -c 'import sys; s = sys.stdin.buffer.read(); sys.exit(not (b"pith-boot: \0hello from the boot sector" in s and s[510:] == b"\x55\xaa"))'
}

first=$(mktemp)
trap 'rm -f "$out" "$first"' EXIT
checks_run "$@" --disk "$image"
cp "$out" "$first"
boot 1 "$first"
check boot1_sea_sector_on_host "the second sector of sea's partition is not what sea wrote there" sea_sector_on_host
# virtio-blk is on the modern transport with MSI-X: Linux bound the 1af4:1042 function
# and alpha's completions came as MSIs the local APIC took.
check boot1_disk_modern_msix "alpha's disk is not the modern virtio-blk function" \
	grep -qE '^\[alpha\] \[ *[0-9.]+\] pci 0000:00:02\.0: \[1af4:1042\] type 00 class 0x010000' "$first"
check boot1_disk_msi_taken "alpha's VMM delivered no MSI, or one no local APIC took" \
	grep -qE '^\[alpha\] vmm: alpha: interrupts: .*; [1-9][0-9]* MSIs \(0 no APIC took\)' "$first"
check boot1_made_filesystem "alpha did not make its filesystem and files" \
	has '^\[alpha\] pith-guest: storage: made a filesystem and wrote two files$'
big1=$(md5_of big "$first") small1=$(md5_of small "$first")

checks_run "$@" --disk "$image"
boot 2 "$out"
check boot2_found_files "alpha did not find boot 1's filesystem" \
	has '^\[alpha\] pith-guest: storage: found written by alpha$'
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
check boot2_big_file_matches "the 1.5 MiB file's MD5 differs (${big1:-none} then $(md5_of big "$out"))" \
	same "$big1" "$(md5_of big "$out")"
check boot2_small_file_matches "the small file's MD5 differs (${small1:-none} then $(md5_of small "$out"))" \
	same "$small1" "$(md5_of small "$out")"

outside_after=$(outside)
check host_neighbours_unchanged "a byte outside alpha's partition changed (the GPT or a neighbour)" \
	[ "$outside_before" = "$outside_after" ]
fsck_clean() {
	local part
	part=$(mktemp)
	dd if="$image" of="$part" bs=512 skip="$alpha_first" count=$((alpha_last - alpha_first + 1)) status=none
	local rc=0
	PATH=$PATH:/usr/sbin:/sbin e2fsck -fn "$part" >/dev/null 2>&1 || rc=1
	rm -f "$part"
	return $rc
}
check host_fsck_clean "e2fsck found something to fix on alpha's partition" fsck_clean

# ---- A crash under load (QEMU only) -------------------------------------------------
# Boot 3 (storage-crash-test.conf, built here beside COMMAND's ISO): alpha rewrites
# files on its filesystem without pause, beta runs with the partition "after" as its
# disk; once alpha has written a few files QEMU is killed (SIGKILL) mid-write.  Then
# e2fsck repairs alpha's partition on the host and a second e2fsck finds it clean, and
# boot 4 (COMMAND again) mounts it and reads boot 1's files with their MD5s; the GPT
# and the neighbours, beta's disk among them, are byte-for-byte unchanged.
crash_step() {
	local iso="" build crash_iso log pid n=0 killed=0 arg tools_dir
	for arg in "$@"; do case "$arg" in *.iso) iso=$arg ;; esac; done
	build=$(dirname "$iso")
	crash_iso=$build/pith-storage-crash.iso
	log=$(mktemp)
	tools_dir=$(cd "$here/.." && pwd)/tools
	"$tools_dir/mkimage.sh" "$crash_iso" "$here/../guests/configs/storage-crash-test.conf" "$build" >"$log" 2>&1 ||
		{ cat "$log" >&2; echo "storage: could not build $crash_iso" >&2; rm -f "$log"; return 1; }
	local cmd=()
	for arg in "$@"; do
		if [ "$arg" = "$iso" ]; then cmd+=("$crash_iso"); else cmd+=("$arg"); fi
	done
	setsid "${cmd[@]}" --disk "$image" >"$log" 2>&1 </dev/null &
	pid=$!
	# killed once alpha has written 4 files (the 5th is under way), or after 240 s
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 2400 ]; do
		# grep reads to the end (not -q): an early exit would fail tr with SIGPIPE under pipefail
		if tr -d '\r' <"$log" | grep -E '^\[alpha\] pith-guest: writeload: file 4$' >/dev/null; then
			kill -KILL -- "-$pid" 2>/dev/null && killed=1
			break
		fi
		sleep 0.1
		n=$((n + 1))
	done
	[ "$killed" = 1 ] || kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	tr -d '\r' <"$log" >"$out"
	rm -f "$log"
	if [ "$killed" != 1 ]; then    # what the machine last said, for the failure's reader
		echo "storage: the crash boot's last lines:"
		tail -n 15 "$out"
	fi
	[ "$killed" = 1 ]
}
repair() {  # e2fsck -fy on a copy of alpha's partition, written back; then -fn must pass
	local part rc=0
	part=$(mktemp)
	dd if="$image" of="$part" bs=512 skip="$alpha_first" count=$((alpha_last - alpha_first + 1)) status=none
	PATH=$PATH:/usr/sbin:/sbin e2fsck -fy "$part" >"$part.log" 2>&1 || rc=$?
	# (0: nothing to fix, 1: errors fixed; a remark, as a crash need not leave any)
	echo "storage: e2fsck -fy after the crash: exit $rc, $(grep -c -iE 'fix|clear|salvage|count wrong' "$part.log") repairs"
	rm -f "$part.log"
	if [ "$rc" -lt 4 ]; then
		dd if="$part" of="$image" bs=512 seek="$alpha_first" conv=notrunc status=none
	fi
	rm -f "$part"
	[ "$rc" -lt 4 ]
}
if [[ "$1" == *run-qemu.sh ]]; then
	crash_start=$SECONDS
	check crash_killed_mid_writes "alpha did not write under load before QEMU was killed" crash_step "$@"
	echo "storage: QEMU killed $((SECONDS - crash_start)) s after it started"
	check crash_beta_ran "beta did not start with partition 'after'" \
		has "storage: guest 'beta' gets partition 'after' \(2048 KiB\)"
	check crash_fsck_repairs "e2fsck could not repair alpha's partition after the crash" repair
	check crash_fsck_clean_after "alpha's partition is not clean after e2fsck's repair" fsck_clean
	outside_after=$(outside)
	check crash_neighbours_unchanged "a byte outside alpha's partition changed in the crash (the GPT, beta's or the other neighbour)" \
		[ "$outside_before" = "$outside_after" ]
	checks_run "$@" --disk "$image"
	check crash_boot_mounts "alpha did not mount its filesystem after the crash" \
		has '^\[alpha\] pith-guest: storage: found written by alpha$'
	check crash_big_file_matches "the 1.5 MiB file's MD5 after the crash differs (${big1:-none} then $(md5_of big "$out"))" \
		same "$big1" "$(md5_of big "$out")"
	check crash_small_file_matches "the small file's MD5 after the crash differs (${small1:-none} then $(md5_of small "$out"))" \
		same "$small1" "$(md5_of small "$out")"
	check crash_boot_finished "alpha or gamma did not finish its test after the crash" runs_clean "$out"
	outside_after=$(outside)
	check crash_boot_neighbours_unchanged "a byte outside alpha's partition changed in the boot after the crash" \
		[ "$outside_before" = "$outside_after" ]
fi
checks_summary "$platform"
