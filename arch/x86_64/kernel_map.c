/*
 * The kernel's own mappings, remade once cpu_init has turned on EFER.NXE.  boot.S
 * mapped everything readable, writable and executable with 2 MiB pages; from here on
 *   - the image at KERNEL_BASE has 4 KiB pages with only the access each part needs:
 *     text read+execute, rodata read-only, data and bss read+write without execute,
 *   - the physmap is never executable, and its alias of the kernel's text and rodata
 *     is read-only: no address is both writable and executable, and no writable
 *     address reaches the kernel's code,
 *   - the identity map of the first GiB is gone.
 * kernel_map_physmap then extends the physmap over the RAM above 4 GiB.
 * Every address space shares these tables through the upper half of boot_pml4
 * (vspace_init), so the change reaches all of them.  SDM 4.5 (4-level paging), 4.6
 * (access rights: the U/S, R/W and XD bits).
 */
#include "arch.h"
#include "x86.h"

#define PTE_PRESENT  BIT(0)
#define PTE_WRITE    BIT(1)
#define PTE_NX       BIT(63)
#define TABLE_ENTRIES 512
#define IMAGE_TABLES 2                          /* 4 MiB: kernel.ld checks the image fits */
#define PDPT_INDEX_KERNEL 510                   /* KERNEL_BASE = -2 GiB */

extern uint64_t boot_pml4[TABLE_ENTRIES], boot_pdpt_phys[TABLE_ENTRIES], boot_pdpt_kernel[TABLE_ENTRIES];
extern uint64_t boot_pd[4 * TABLE_ENTRIES];     /* the physmap's four directories */
extern char kernel_text_start[], kernel_rodata_start[], kernel_data_start[], kernel_end[];

static uint64_t image_directory[TABLE_ENTRIES] __attribute__((aligned(4096)));
static uint64_t image_tables[IMAGE_TABLES][TABLE_ENTRIES] __attribute__((aligned(4096)));
static uint64_t physmap_low_table[TABLE_ENTRIES] __attribute__((aligned(4096)));

static uint64_t table_entry(const void *table)
{
    return virt_to_phys(table) | PTE_PRESENT | PTE_WRITE;   /* the leaves decide */
}

/* The access the kernel's own view of physical page `phys` gets through `alias`. */
enum alias { ALIAS_IMAGE, ALIAS_PHYSMAP };

static uint64_t page_access(uint64_t phys, enum alias alias, uint64_t nx)
{
    uint64_t text = virt_to_phys(kernel_text_start), rodata = virt_to_phys(kernel_rodata_start);
    uint64_t data = virt_to_phys(kernel_data_start);
    if (phys >= text && phys < rodata)
        return PTE_PRESENT | (alias == ALIAS_IMAGE ? 0 : nx);
    if (phys >= rodata && phys < data)
        return PTE_PRESENT | nx;
    return PTE_PRESENT | PTE_WRITE | nx;
}

static void map_image(uint64_t nx)
{
    uint64_t first = virt_to_phys(kernel_text_start), end = virt_to_phys(kernel_end);
    for (uint64_t phys = first; phys < end; phys += PAGE_SIZE) {
        uint64_t index = phys / PAGE_SIZE;
        image_tables[index / TABLE_ENTRIES][index % TABLE_ENTRIES] =
            phys | page_access(phys, ALIAS_IMAGE, nx);
    }
    for (unsigned i = 0; i < IMAGE_TABLES; i++)
        image_directory[i] = table_entry(image_tables[i]);
}

/* The physmap's first 2 MiB, which hold the image, in 4 KiB pages; the rest stays in
 * 2 MiB pages, none executable. */
static void protect_physmap(uint64_t nx)
{
    for (unsigned i = 0; i < TABLE_ENTRIES; i++) {
        uint64_t phys = i * PAGE_SIZE;
        physmap_low_table[i] = phys | page_access(phys, ALIAS_PHYSMAP, nx);
    }
    for (unsigned i = 1; i < ARRAY_SIZE(boot_pd); i++)
        boot_pd[i] |= nx;
    boot_pd[0] = table_entry(physmap_low_table);
}

void kernel_map_protect(void)
{
    uint64_t nx = cpu_features() & PITH_CPU_NX ? PTE_NX : 0;
    map_image(nx);
    boot_pdpt_kernel[PDPT_INDEX_KERNEL] = table_entry(image_directory);
    protect_physmap(nx);
    boot_pml4[0] = 0;
    write_cr3(read_cr3());      /* nothing is global yet: this flushes every old entry */
}

/* RAM beyond the first 4 GiB that boot.S mapped: [base, end), 2 MiB aligned and below
 * PHYSMAP_MAX (one PDPT: boot_pml4[256]), in 2 MiB pages, read+write, never
 * executable.  The page directories it needs come from alloc, zeroed.  Every address
 * space shares boot_pdpt_phys, so they all see the new entries; a not-present entry
 * becoming present needs no TLB flush (SDM 4.10.4.3). */
void kernel_map_physmap(uint64_t base, uint64_t end, void *(*alloc)(uint64_t size))
{
    uint64_t nx = cpu_features() & PITH_CPU_NX ? PTE_NX : 0;
    for (uint64_t phys = base; phys < end && phys < PHYSMAP_MAX; phys += LARGE_PAGE_SIZE) {
        uint64_t *pdpte = &boot_pdpt_phys[phys >> 30];
        if (!(*pdpte & PTE_PRESENT))
            *pdpte = table_entry(alloc(PAGE_SIZE));
        uint64_t *directory = phys_to_virt(*pdpte & PTE_ADDR);
        directory[(phys >> 21) % TABLE_ENTRIES] = phys | PTE_PRESENT | PTE_WRITE | PTE_PS | nx;
    }
}
