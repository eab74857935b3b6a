/* Boot-time memory bookkeeping: multiboot2 and multiboot (v1) parsing and free-range
 * arithmetic (pure). */
#ifndef BOOTMEM_H
#define BOOTMEM_H

#include "kernel.h"

#define BOOT_MAX_RANGES  64
#define BOOT_MAX_MODULES PITH_BOOTINFO_MODULES

struct range { uint64_t base, end; };

/* A sorted, disjoint set of ranges. */
struct range_set {
    struct range r[BOOT_MAX_RANGES];
    unsigned count;
};

struct boot_module {
    uint64_t start, end;
    char name[48];
};

struct boot_params {
    struct pith_memmap_entry memmap[PITH_BOOTINFO_MEMMAP];
    unsigned memmap_count;
    struct boot_module modules[BOOT_MAX_MODULES];
    unsigned module_count;
    char cmdline[128];
    uint64_t info_size;
    uint8_t rsdp[36];           /* GRUB's copy of the ACPI RSDP (ACPI 6.5 §5.2.5.3) */
    unsigned rsdp_size;         /* 0: none given */
    /* Where the loader's information lies (physical): kept out of free RAM.  The
     * multiboot (v1) parser fills it; for multiboot2 the caller adds the block. */
    struct range_set info_ranges;
};

enum mbi_error { MBI_OK, MBI_BAD_SIZE, MBI_BAD_TAG, MBI_NO_MEMORY_MAP };

int mbi_parse(const void *info, uint64_t max_size, struct boot_params *out);

/* Multiboot (v1) information (Multiboot spec 0.6.96 §3.3) at physical info_phys, read
 * through mem, a window onto physical memory [0, mem_size): every structure and string
 * it names must lie inside the window.  The same description as mbi_parse: memory map
 * (from mem_lower/mem_upper when the loader gave no map), modules named by the words
 * after their file's path, the command line without the kernel's path.  MB1_OK or an
 * error that mb1_error_text describes. */
enum mb1_error {
    MB1_OK, MB1_INFO_OUT_OF_BOUNDS, MB1_NO_MEMORY_MAP, MB1_MMAP_OUT_OF_BOUNDS,
    MB1_BAD_MMAP_ENTRY, MB1_TOO_MANY_MODULES, MB1_MODULES_OUT_OF_BOUNDS, MB1_BAD_MODULE,
    MB1_BAD_STRING,
};
int mb1_parse(const uint8_t *mem, uint64_t mem_size, uint64_t info_phys, struct boot_params *out);
const char *mb1_error_text(int err);

void ranges_add(struct range_set *s, uint64_t base, uint64_t end);
void ranges_remove(struct range_set *s, uint64_t base, uint64_t end);
uint64_t ranges_total(const struct range_set *s);
/* The RAM of the memory map in [low_end, limit) (type 1 entries, merged), each range
 * rounded inward to 2^page_bits bytes: what a map in pages of that size covers
 * without reaching past RAM.  Empty pieces are left out. */
void ranges_high_ram(const struct pith_memmap_entry *map, unsigned count, uint64_t low_end,
                     uint64_t limit, unsigned page_bits, struct range_set *out);
/* Split [base, end) into naturally aligned power-of-two blocks of 2^min..2^max bytes. */
unsigned range_to_blocks(uint64_t base, uint64_t end, unsigned min_bits, unsigned max_bits,
                         struct pith_untyped_desc *out, unsigned max, bool device);

#endif
