#!/usr/bin/env python3
"""mkgpt.py IMAGE SIZE NAME:SIZE_MIB... -- a raw disk image with a GPT (UEFI 2.10 §5.3).

SIZE is in MiB, or in sectors with an "s" (Bochs wants whole cylinders of 16 x 63).

Writes a protective MBR, the primary header and a 128-entry array at LBA 1-33, the
partitions in order from LBA 2048 (1 MiB aligned), and the backup array and header at
the end, with their CRC32s: what `sgdisk -n` would write, without needing gdisk.  The
partitions are Linux filesystem data (0FC63DAF-8483-4772-8E79-3D69D8477DE4), their
unique GUIDs random.  An existing IMAGE is replaced.
"""
import os
import struct
import sys
import uuid
import zlib

SECTOR = 512
ENTRIES = 128
ENTRY_SIZE = 128
ARRAY_SECTORS = ENTRIES * ENTRY_SIZE // SECTOR
LINUX_DATA = uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")


def header(my_lba, alternate, first, last, disk_guid, array_lba, array_crc):
    fields = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0,
                         my_lba, alternate, first, last, disk_guid, array_lba,
                         ENTRIES, ENTRY_SIZE, array_crc)
    crc = zlib.crc32(fields)
    fields = fields[:16] + struct.pack("<I", crc) + fields[20:]
    return fields.ljust(SECTOR, b"\0")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    path, size = sys.argv[1], sys.argv[2]
    sectors = int(size[:-1]) if size.endswith("s") else int(size) * 1024 * 1024 // SECTOR
    first_usable, last_usable = 2 + ARRAY_SECTORS, sectors - 2 - ARRAY_SECTORS
    entries, lba = b"", 2048
    for spec in sys.argv[3:]:
        name, mib = spec.split(":")
        count = int(mib) * 1024 * 1024 // SECTOR
        if len(name) > 36 or lba + count - 1 > last_usable:
            sys.exit(f"mkgpt: {spec}: name too long or the disk is full")
        entries += struct.pack("<16s16sQQQ72s", LINUX_DATA.bytes_le, uuid.uuid4().bytes_le,
                               lba, lba + count - 1, 0, name.encode("utf-16-le"))
        lba += count
    entries = entries.ljust(ENTRIES * ENTRY_SIZE, b"\0")
    array_crc = zlib.crc32(entries)
    disk_guid = uuid.uuid4().bytes_le
    mbr = bytearray(SECTOR)
    # One partition of type 0xEE over the whole disk (or as much as 32 bits reach).
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1,
                               min(sectors - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    with open(path, "wb") as f:
        f.truncate(sectors * SECTOR)
        f.write(mbr)
        f.write(header(1, sectors - 1, first_usable, last_usable, disk_guid, 2, array_crc))
        f.write(entries)
        f.seek((sectors - 1 - ARRAY_SECTORS) * SECTOR)
        f.write(entries)
        f.write(header(sectors - 1, 1, first_usable, last_usable, disk_guid,
                       sectors - 1 - ARRAY_SECTORS, array_crc))
    os.chmod(path, 0o644)


if __name__ == "__main__":
    main()
