/*
 * Loading a multiboot kernel the way a boot loader does: Multiboot Specification
 * 0.6.96 (version 1: ELF or the a.out kludge's address fields) and Multiboot2
 * Specification 2.0 (version 2: tags), for the i386 machine state.
 *
 * multiboot_load() is pure: it finds and checks the header, copies the kernel's
 * segments where they ask (each in RAM below 4 GiB), places the modules and the boot
 * information after them, fills the information structure (memory sizes and the map
 * the caller gives, command line, modules with their strings, boot loader name, for
 * version 2 the ACPI RSDP), and returns the entry point with EAX and EBX.  What the
 * specifications require of the CPU besides (32-bit protected mode, paging off, flat
 * 4 GiB code and data segments, A20 on, interrupts off) is the caller's to set.
 */
#ifndef VMM_MULTIBOOT_H
#define VMM_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT1_HEADER_MAGIC     0x1badb002u
#define MULTIBOOT1_LOADER_MAGIC     0x2badb002u     /* EAX at entry */
#define MULTIBOOT1_SEARCH           8192            /* the header is in the first 8 KiB */
#define MULTIBOOT2_HEADER_MAGIC     0xe85250d6u
#define MULTIBOOT2_LOADER_MAGIC     0x36d76289u
#define MULTIBOOT2_SEARCH           32768

/* Version 1 header flags */
#define MB1_PAGE_ALIGN              0x00000001u     /* modules on 4 KiB boundaries */
#define MB1_MEMORY_INFO             0x00000002u
#define MB1_VIDEO_MODE              0x00000004u
#define MB1_AOUT_KLUDGE             0x00010000u     /* the address fields are valid */

/* Version 1 information flags and layout */
#define MB1_INFO_MEMORY             (1u << 0)
#define MB1_INFO_CMDLINE            (1u << 2)
#define MB1_INFO_MODS               (1u << 3)
#define MB1_INFO_MMAP               (1u << 6)
#define MB1_INFO_LOADER_NAME        (1u << 9)
#define MB1_INFO_FRAMEBUFFER        (1u << 12)
#define MB1_INFO_SIZE               120

/* Version 2 header tags and information tags */
#define MB2_HTAG_END                0
#define MB2_HTAG_INFO_REQUEST       1
#define MB2_HTAG_ADDRESS            2
#define MB2_HTAG_ENTRY              3
#define MB2_HTAG_CONSOLE            4
#define MB2_HTAG_FRAMEBUFFER        5
#define MB2_HTAG_MODULE_ALIGN       6
#define MB2_HTAG_EFI_BS             7
#define MB2_HTAG_ENTRY_EFI32        8
#define MB2_HTAG_ENTRY_EFI64        9
#define MB2_HTAG_RELOCATABLE        10
#define MB2_HTAG_OPTIONAL           1u      /* flags bit 0 */

#define MB2_TAG_END                 0
#define MB2_TAG_CMDLINE             1
#define MB2_TAG_LOADER_NAME         2
#define MB2_TAG_MODULE              3
#define MB2_TAG_BASIC_MEMINFO       4
#define MB2_TAG_MMAP                6
#define MB2_TAG_FRAMEBUFFER         8
#define MB2_TAG_ACPI_OLD            14
#define MB2_TAG_ACPI_NEW            15
#define MB2_TAG_LOAD_BASE           21

#define MULTIBOOT_MAX_SEGMENTS      16
#define MULTIBOOT_MAX_MODULES       16
#define MULTIBOOT_MAX_MAP           16

enum multiboot_error {
    MULTIBOOT_OK = 0,
    MULTIBOOT_ERR_NO_HEADER,        /* no header magic in the first 8/32 KiB */
    MULTIBOOT_ERR_CHECKSUM,         /* magic found, checksum wrong */
    MULTIBOOT_ERR_FLAGS,            /* a required feature this loader lacks */
    MULTIBOOT_ERR_ARCHITECTURE,     /* version 2: not i386 */
    MULTIBOOT_ERR_TAGS,             /* version 2: tags malformed or past the header */
    MULTIBOOT_ERR_TAG_UNSUPPORTED,  /* version 2: a required tag or request we cannot meet */
    MULTIBOOT_ERR_ADDRESSES,        /* address fields inconsistent or past the file */
    MULTIBOOT_ERR_ELF,              /* not a loadable ELF and no address fields */
    MULTIBOOT_ERR_SEGMENTS,         /* a segment past the file, overlapping, or too many */
    MULTIBOOT_ERR_ENTRY,            /* entry point outside the loaded image */
    MULTIBOOT_ERR_RAM_MAP,          /* no RAM in the map, too many entries, or one wrapping */
    MULTIBOOT_ERR_PLACEMENT,        /* a segment is not in the guest's RAM below 4 GiB */
    MULTIBOOT_ERR_MODULES,          /* too many modules, or no room for them */
    MULTIBOOT_ERR_INFO,             /* no room for the information structure */
};

const char *multiboot_error_name(enum multiboot_error e);

struct multiboot_map_entry {
    uint64_t base, length;
    uint32_t type;                  /* 1 RAM, 2 reserved, 3 ACPI, 4 NVS (as E820) */
};

struct multiboot_module {
    const void *data;
    uint64_t size;
    const char *string;             /* its command line */
};

struct multiboot_request {
    const void *image;
    uint64_t image_size;
    /* the guest's physical memory map; type 1 entries are where loading may happen */
    const struct multiboot_map_entry *map;
    unsigned map_count;
    const char *cmdline;            /* NULL: empty */
    const struct multiboot_module *modules;
    unsigned module_count;
    const char *loader_name;
    const void *rsdp;               /* the ACPI RSDP (20 or 36 bytes) for version 2, or NULL */
    unsigned rsdp_size;
};

/* Guest RAM as the VMM sees it: guest-physical a is base[a], for a < size. */
struct multiboot_memory {
    uint8_t *base;
    uint64_t size;
};

struct multiboot_segment {
    uint64_t offset, file_size;     /* in the image */
    uint64_t address, memory_size;  /* guest-physical; the tail past file_size is zeroed */
};

struct multiboot_boot {
    unsigned version;               /* 1 or 2 */
    uint32_t header_offset;
    uint32_t header_flags;          /* version 1 */
    bool aout_kludge;               /* loaded by address fields rather than ELF */
    struct multiboot_segment segment[MULTIBOOT_MAX_SEGMENTS];
    unsigned segments;
    uint64_t load_start, load_end;  /* the lowest and highest byte of the kernel, bss included */
    uint32_t entry;
    uint32_t eax, ebx;              /* the magic and the information's address */
    uint64_t info_address, info_size;
    uint64_t module_address[MULTIBOOT_MAX_MODULES];
};

/* Only finds and checks the header and the segments (no memory touched). */
enum multiboot_error multiboot_parse(const struct multiboot_request *r, struct multiboot_boot *out);
/* Parses, then loads into `memory`: on error nothing useful is left there. */
enum multiboot_error multiboot_load(const struct multiboot_request *r, struct multiboot_memory memory,
                                    struct multiboot_boot *out);

#endif
