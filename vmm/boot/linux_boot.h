/*
 * Loading a Linux bzImage the way a boot loader does (Linux x86 boot protocol,
 * Documentation/arch/x86/boot.rst, protocol 2.12 and later, 64-bit entry).
 *
 * Two steps, both pure: linux_parse() checks the image and reads its setup header;
 * linux_prepare() decides where everything goes in guest-physical memory, then writes
 * the kernel, the zero page (struct boot_params), the command line, the initrd, a GDT
 * and identity page tables through the VMM's view of guest RAM, and returns the
 * register state for entering the kernel at startup_64.  Nothing else is touched, so
 * both run on the host under the sanitizers.
 */
#ifndef VMM_LINUX_BOOT_H
#define VMM_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum linux_error {
    LINUX_OK = 0,
    /* linux_parse: the image */
    LINUX_ERR_TOO_SMALL,        /* shorter than a boot sector and a setup header */
    LINUX_ERR_BOOT_FLAG,        /* no 0xaa55 at 0x1fe */
    LINUX_ERR_NO_HDRS,          /* no "HdrS" at 0x202: not a bzImage */
    LINUX_ERR_OLD_PROTOCOL,     /* boot protocol older than 2.12 */
    LINUX_ERR_NOT_64BIT,        /* xloadflags lacks XLF_KERNEL_64: no startup_64 */
    LINUX_ERR_HEADER_LENGTH,    /* the setup header's own length is impossible */
    LINUX_ERR_SETUP_SECTS,      /* the real-mode setup runs past the end of the file */
    LINUX_ERR_SYSSIZE,          /* no protected-mode kernel, or one past the file's end */
    LINUX_ERR_ALIGNMENT,        /* kernel_alignment not a power of two >= 4 KiB */
    LINUX_ERR_PREF_ADDRESS,     /* pref_address zero, below 1 MiB or misaligned */
    LINUX_ERR_INIT_SIZE,        /* init_size smaller than the kernel it must hold */
    /* linux_prepare: the guest */
    LINUX_ERR_RAM_MAP,          /* no RAM ranges, too many, or one wrapping around */
    LINUX_ERR_LOAD_ADDRESS,     /* requested address misaligned, or kernel not relocatable */
    LINUX_ERR_KERNEL_PLACEMENT, /* [load, load + init_size) not in RAM below 4 GiB */
    LINUX_ERR_LOW_MEMORY,       /* zero page, GDT, page tables or command line not in RAM */
    LINUX_ERR_CMDLINE_TOO_LONG, /* longer than the kernel's cmdline_size */
    LINUX_ERR_INITRD_PLACEMENT, /* no RAM below initrd_addr_max big enough */
};

/* A short phrase for logs: "no HdrS signature (not a bzImage)". */
const char *linux_error_name(enum linux_error e);

/* What linux_parse learnt; image points into the caller's buffer. */
struct linux_info {
    const uint8_t *image;
    uint64_t image_size;
    uint16_t version;           /* boot protocol, 0x020f = 2.15 */
    uint32_t setup_size;        /* bytes of boot sector + real-mode setup */
    uint32_t header_end;        /* the setup header ends here (0x202 + byte at 0x201) */
    uint64_t kernel_size;       /* protected-mode kernel: syssize * 16 bytes */
    uint8_t loadflags;
    uint16_t xloadflags;
    bool relocatable;
    uint32_t kernel_alignment;
    uint32_t initrd_addr_max;   /* the highest byte the initrd may occupy */
    uint32_t cmdline_size;      /* the longest command line, without its NUL */
    uint64_t pref_address;
    uint32_t init_size;         /* memory the kernel needs from its load address */
};

enum linux_error linux_parse(const void *image, uint64_t size, struct linux_info *info);

/* The VMM's view of guest RAM: guest-physical address a is base[a], for a < size. */
struct linux_guest_memory {
    uint8_t *base;
    uint64_t size;
};

/* One range of guest RAM, as the VMM backs it with frames. */
struct linux_ram_range {
    uint64_t base, size;
};

#define LINUX_MAX_RAM_RANGES    8

/* E820 types (ACPI 6.5 §15, "System Address Map Interfaces"). */
#define E820_RAM        1
#define E820_RESERVED   2
#define E820_ACPI       3

struct linux_e820_entry {
    uint64_t address, size;
    uint32_t type;
};

/* Ranges can split at the BIOS hole and the ACPI tables: at most 2 + 2 per range. */
#define LINUX_MAX_E820  (2 * LINUX_MAX_RAM_RANGES + 4)

struct linux_boot_request {
    struct linux_guest_memory memory;
    const struct linux_ram_range *ram;  /* sorted or not, not overlapping */
    unsigned ram_count;
    uint64_t acpi_base, acpi_size;      /* the VMM's ACPI tables, 0 size for none */
    uint64_t rsdp_address;              /* 0: none (the kernel then scans the BIOS area) */
    const char *cmdline;                /* NUL-terminated, may be NULL */
    const void *initrd;                 /* NULL or initrd_size bytes */
    uint64_t initrd_size;
    uint64_t load_address;              /* 0: the kernel's pref_address */
};

/* A segment register as the arch layer loads it.  attributes holds bits 40..55 of the
 * GDT descriptor with the limit nibble (bits 48..51) cleared: type, S, DPL, P, AVL,
 * L, D/B, G -- the layout of the VMCS access-rights fields (SDM Vol. 3 §25.4.1); SVM
 * packs the same bits without the gap (APM Vol. 2 §15.5.1). */
struct linux_segment {
    uint16_t selector;
    uint16_t attributes;
    uint32_t limit;
    uint64_t base;
};

/* The vCPU state at startup_64 (boot.rst, "64-bit Boot Protocol"). */
struct linux_entry_state {
    uint64_t rip, rsp, rsi, rflags;
    uint64_t cr0, cr3, cr4, efer;
    uint64_t gdt_base;
    uint16_t gdt_limit;
    struct linux_segment cs, ds;        /* ds also goes into es, ss, fs and gs */
};

/* Where linux_prepare put things, and how to start. */
struct linux_layout {
    uint64_t kernel_address, kernel_end;    /* kernel_end = load + init_size */
    uint64_t zero_page;
    uint64_t cmdline_address, cmdline_length;
    uint64_t initrd_address, initrd_size;   /* size 0: no initrd */
    uint64_t gdt_address, page_tables;
    struct linux_e820_entry e820[LINUX_MAX_E820];
    unsigned e820_count;
    struct linux_entry_state entry;
};

/* The fixed low-memory layout (all below the BIOS hole at 0x9fc00). */
#define LINUX_GDT_ADDRESS       0x1000
#define LINUX_STACK_TOP         0x7000      /* grows down below the zero page */
#define LINUX_ZERO_PAGE         0x7000
#define LINUX_PAGE_TABLES       0x9000      /* PML4, PDPT, 4 page directories */
#define LINUX_PAGE_TABLES_SIZE  0x6000
#define LINUX_CMDLINE_ADDRESS   0x20000
#define LINUX_IDENTITY_MAPPED   0x100000000ull  /* the page tables map 0..4 GiB */

/* The least guest memory the kernel can be loaded into at its preferred address:
 * pref_address + init_size, in whole MiB (LINUX_ERR_KERNEL_PLACEMENT below it). */
uint64_t linux_minimum_memory(const struct linux_info *info);

/* Checks everything first; on an error nothing in guest memory has changed. */
enum linux_error linux_prepare(const struct linux_info *info,
                               const struct linux_boot_request *request,
                               struct linux_layout *layout);

#endif
