/*
 * The GUID partition table (UEFI 2.10 §5.3): what the storage server trusts of a host
 * disk before it serves any part of it.
 *
 * The primary header is at LBA 1, the backup at the disk's last LBA; each names the
 * partition entry array and carries a CRC32 of itself and of that array.  The reader
 * accepts a header only when its signature, size, CRC, own LBA, usable range and entry
 * array all check out against the disk's size, and the array only when its CRC
 * matches and every used entry lies inside the usable range without overlapping
 * another.  A bad primary falls back to the backup (§5.3.2); both bad is an error.
 *
 * Pure (no system calls): the disk is a callback, so host tests feed it malformed tables.
 */
#ifndef STORAGE_GPT_H
#define STORAGE_GPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPT_SECTOR          512u
#define GPT_MAX_PARTITIONS  32u     /* used entries this server serves */
#define GPT_MAX_ENTRIES     1024u   /* entries in the array (the usual 128, with room) */
#define GPT_MAX_ENTRY_SIZE  512u    /* 128 << n up to a sector: no entry straddles two */
#define GPT_NAME_CHARS      36u     /* UTF-16 code units in an entry's name */

enum gpt_error {
    GPT_OK,
    GPT_E_READ,             /* the disk could not be read */
    GPT_E_SMALL,            /* too few sectors for a header, an array and a backup */
    GPT_E_SIGNATURE,        /* no "EFI PART" */
    GPT_E_HEADER_SIZE,      /* below 92 bytes or beyond a sector */
    GPT_E_HEADER_CRC,
    GPT_E_MY_LBA,           /* the header does not say where it is */
    GPT_E_USABLE_RANGE,     /* first/last usable LBA outside the disk or reversed */
    GPT_E_ENTRY_SIZE,       /* not 128 << n, or too many entries */
    GPT_E_ENTRY_ARRAY,      /* the array outside the disk or inside the usable range */
    GPT_E_ENTRIES_CRC,
    GPT_E_PARTITION_RANGE,  /* a used entry reversed or outside the usable range */
    GPT_E_OVERLAP,          /* two used entries share sectors */
    GPT_E_TOO_MANY,         /* more than GPT_MAX_PARTITIONS used entries */
    GPT_E_ARRAY_COVERED,    /* a partition covers the other header's entry array */
};

struct gpt_partition {
    char name[GPT_NAME_CHARS + 1];      /* printable ASCII, else empty; empty never matches */
    uint64_t first_lba, last_lba;       /* inclusive, as in the entry */
    unsigned entry;                     /* index in the entry array */
};

struct gpt_table {
    bool from_backup;                   /* the primary header was bad */
    enum gpt_error primary_error;       /* why, when from_backup */
    uint64_t first_usable, last_usable;
    unsigned count;
    struct gpt_partition part[GPT_MAX_PARTITIONS];
};

/* Reads sector `lba` (GPT_SECTOR bytes) into buf; false on an I/O error. */
typedef bool (*gpt_read_fn)(void *ctx, uint64_t lba, void *buf);

enum gpt_error gpt_read(gpt_read_fn read, void *ctx, uint64_t disk_sectors, struct gpt_table *out);

/* Used entries named `name` (an empty name never matches). */
unsigned gpt_named(const struct gpt_table *t, const char *name);

/* The one partition named `name`, or NULL when there is none or more than one. */
const struct gpt_partition *gpt_find(const struct gpt_table *t, const char *name);

const char *gpt_error_name(enum gpt_error e);

/* CRC-32 as GPT uses it (IEEE 802.3, reflected, initial and final XOR 0xffffffff);
 * chain calls by passing the previous result. */
uint32_t gpt_crc32(uint32_t crc, const void *data, size_t length);

#endif
