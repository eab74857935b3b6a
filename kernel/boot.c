/*
 * Boot: from the loader's information to the running root task.  Two loaders' formats
 * are taken, multiboot2 (GRUB's `multiboot2`, the ISO images) and multiboot version 1
 * (QEMU's -kernel, tools/mkdirect.sh): both become the same struct boot_params, and
 * nothing after kernel_main's first lines knows which it was.  The kernel keeps only
 * what the root task's own objects need (its CNode, thread, address space, page
 * tables, stack, image, IPC buffer and boot-info page); every other free byte of RAM
 * becomes Untyped capabilities, the holes below 4 GiB become device untyped, and the
 * boot modules become frame capabilities mapped read-only into the root task.
 *
 * RAM above 4 GiB: boot.S maps only the first 4 GiB into the physmap, so before any
 * of it is handed out kernel_map_physmap maps the RAM ranges above, rounded inward to
 * 2 MiB (the physmap's page size there), up to PHYSMAP_MAX.  Those ranges become
 * untyped like the rest.
 */
#include "kernel.h"
#include "bootmem.h"
#include <arch.h>

#define MULTIBOOT2_MAGIC 0x36d76289
#define MULTIBOOT1_MAGIC 0x2badb002
#define MBI_MAX_SIZE     (1u << 20)     /* a larger multiboot2 block is taken as garbage */
#define PHYSMAP_LOW_END  (4ull << 30)   /* the boot page tables map the first 4 GiB */
#define ROOT_STACK_PAGES 16
#define LAPIC_PAGE       0xfee00000ull

extern char kernel_end[];
extern uint64_t vspace_nx_bit;
void vspace_boot_map(struct address_space *as, uint64_t vaddr, uint64_t phys, bool writable,
                     bool exec, void *(*alloc_table)(void));
void vspace_boot_record(struct cap *frame, struct address_space *as, uint64_t vaddr);

static struct boot_params params;
static struct range_set free_ram;
static uint64_t reserved_bytes;

static void *boot_alloc(uint64_t size)
{
    size = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    for (unsigned i = 0; i < free_ram.count; i++) {
        struct range *r = &free_ram.r[i];
        uint64_t base = (r->base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        if (base + size <= r->end) {
            ranges_remove(&free_ram, base, base + size);
            reserved_bytes += size;
            void *p = phys_to_virt(base);
            memset(p, 0, size);
            return p;
        }
    }
    panic("boot: out of memory for the root task");
}

static void *boot_alloc_table(void) { return boot_alloc(PAGE_SIZE); }

static void collect_free_ram(void)
{
    for (unsigned i = 0; i < params.memmap_count; i++) {
        const struct pith_memmap_entry *m = &params.memmap[i];
        if (m->type == 1)
            ranges_add(&free_ram, m->base, m->base + m->length);
    }
    ranges_remove(&free_ram, 0, 0x100000);                  /* real-mode area, BIOS */
    ranges_remove(&free_ram, PHYSMAP_LOW_END, ~0ull);   /* until map_high_ram */
    ranges_remove(&free_ram, 0x100000, virt_to_phys(kernel_end));
    for (unsigned i = 0; i < params.module_count; i++)
        ranges_remove(&free_ram, params.modules[i].start & ~(PAGE_SIZE - 1),
                      (params.modules[i].end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
    for (unsigned i = 0; i < params.info_ranges.count; i++)
        ranges_remove(&free_ram, params.info_ranges.r[i].base & ~(PAGE_SIZE - 1),
                      (params.info_ranges.r[i].end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
}

/* The RAM above 4 GiB into the physmap, then into free_ram: the page directories
 * come from free_ram below 4 GiB, which boot.S mapped. */
static void map_high_ram(void)
{
    struct range_set high;
    ranges_high_ram(params.memmap, params.memmap_count, PHYSMAP_LOW_END, PHYSMAP_MAX, 21, &high);
    for (unsigned i = 0; i < high.count; i++)
        kernel_map_physmap(high.r[i].base, high.r[i].end, boot_alloc);
    for (unsigned i = 0; i < high.count; i++)
        ranges_add(&free_ram, high.r[i].base, high.r[i].end);
    if (high.count)
        kprintf("boot: %lu MiB of RAM above 4 GiB in the physmap\n", ranges_total(&high) >> 20);
}

/* A page of RAM below 1 MiB for the APs' start-up code (a STARTUP IPI names a page
 * there), clear of the multiboot information and the modules.  RAM below 1 MiB is never
 * handed out (collect_free_ram), so the page stays the kernel's.  0: none. */
static uint64_t find_trampoline_page(void)
{
    struct range_set low = { .count = 0 };
    for (unsigned i = 0; i < params.memmap_count; i++)
        if (params.memmap[i].type == 1)
            ranges_add(&low, params.memmap[i].base, params.memmap[i].base + params.memmap[i].length);
    ranges_remove(&low, 0, PAGE_SIZE);                      /* the real-mode IVT and BDA */
    ranges_remove(&low, 0x100000, ~0ull);
    for (unsigned i = 0; i < params.info_ranges.count; i++)
        ranges_remove(&low, params.info_ranges.r[i].base, params.info_ranges.r[i].end);
    for (unsigned i = 0; i < params.module_count; i++)
        ranges_remove(&low, params.modules[i].start, params.modules[i].end);
    for (unsigned i = 0; i < low.count; i++) {
        uint64_t page = (low.r[i].base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        if (page + PAGE_SIZE <= low.r[i].end)
            return page;
    }
    return 0;
}

static void print_memory_map(void)
{
    static const char *const kinds[] = { "?", "RAM", "reserved", "ACPI", "NVS", "bad" };
    kprintf("memory map:\n");
    for (unsigned i = 0; i < params.memmap_count; i++) {
        const struct pith_memmap_entry *m = &params.memmap[i];
        kprintf("  %016lx-%016lx %s\n", m->base, m->base + m->length - 1,
                m->type < ARRAY_SIZE(kinds) ? kinds[m->type] : "other");
    }
}

/* ---- The root task --------------------------------------------------------------- */

struct root {
    struct cap *cnode;
    unsigned cnode_bits;
    uint64_t next_slot;
    struct address_space *space;
    struct thread *thread;
    struct pith_bootinfo *info;
};

static struct cap *root_slot(struct root *r, uint64_t index) { return r->cnode + index; }

static void root_cap(struct root *r, uint64_t slot, unsigned type, uint64_t object, uint32_t aux)
{
    struct cap value = { .type = (uint8_t)type, .rights = PITH_RIGHTS_ALL, .aux = aux,
                         .object = object };
    cap_insert_root(root_slot(r, slot), &value);
}

static unsigned root_cnode_bits(void)
{
    uint64_t need = PITH_SLOT_FIRST_FREE_FIXED + 2 * PITH_BOOTINFO_UNTYPED + 4096;
    for (unsigned i = 0; i < params.module_count; i++)
        need += (params.modules[i].end - params.modules[i].start + PAGE_SIZE - 1) / PAGE_SIZE;
    unsigned bits = 12;
    while (BIT(bits) < need)
        bits++;
    return bits;
}

static uint64_t map_new_page(struct root *r, uint64_t vaddr, bool writable, bool exec)
{
    void *page = boot_alloc(PAGE_SIZE);
    vspace_boot_map(r->space, vaddr, virt_to_phys(page), writable, exec, boot_alloc_table);
    return (uint64_t)page;
}

/* ELF64 (System V gABI): copy each PT_LOAD segment into fresh pages. */
struct elf64_header {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static uint64_t load_elf(struct root *r, const uint8_t *image, uint64_t size)
{
    const struct elf64_header *h = (const void *)image;
    if (size < sizeof(*h) || memcmp(h->ident, "\177ELF", 4) || h->ident[4] != 2 || h->machine != 62)
        panic("boot: the first module is not an x86_64 ELF image");
    if (h->phoff + (uint64_t)h->phnum * sizeof(struct elf64_phdr) > size)
        panic("boot: root task program headers out of bounds");
    const struct elf64_phdr *ph = (const void *)(image + h->phoff);
    for (unsigned i = 0; i < h->phnum; i++) {
        if (ph[i].type != 1 || ph[i].memsz == 0)
            continue;
        if (ph[i].offset + ph[i].filesz > size || ph[i].vaddr + ph[i].memsz >= PITH_ROOT_BOOTINFO)
            panic("boot: root task segment out of bounds");
        uint64_t start = ph[i].vaddr & ~(PAGE_SIZE - 1);
        for (uint64_t va = start; va < ph[i].vaddr + ph[i].memsz; va += PAGE_SIZE) {
            uint8_t *page = (uint8_t *)map_new_page(r, va, ph[i].flags & 2, ph[i].flags & 1);
            for (uint64_t b = 0; b < PAGE_SIZE; b++) {
                uint64_t at = va + b;
                if (at >= ph[i].vaddr && at < ph[i].vaddr + ph[i].filesz)
                    page[b] = image[ph[i].offset + (at - ph[i].vaddr)];
            }
        }
    }
    return h->entry;
}

static void give_modules(struct root *r)
{
    uint64_t vaddr = PITH_ROOT_MODULES;
    struct pith_bootinfo *bi = r->info;
    for (unsigned i = 0; i < params.module_count; i++) {
        const struct boot_module *m = &params.modules[i];
        struct pith_module_desc *d = &bi->modules[bi->module_count++];
        memcpy(d->name, m->name, sizeof(d->name));
        d->size = m->end - m->start;
        d->vaddr = vaddr + (m->start & (PAGE_SIZE - 1));
        d->first_slot = r->next_slot;
        d->frame_count = 0;
        for (uint64_t pa = m->start & ~(PAGE_SIZE - 1); pa < m->end; pa += PAGE_SIZE) {
            uint64_t slot = r->next_slot++;
            root_cap(r, slot, PITH_OBJ_FRAME_4K, (uint64_t)phys_to_virt(pa), 12);
            root_slot(r, slot)->rights = PITH_RIGHT_READ;
            vspace_boot_map(r->space, vaddr, pa, false, false, boot_alloc_table);
            vspace_boot_record(root_slot(r, slot), r->space, vaddr);
            vaddr += PAGE_SIZE;
            d->frame_count++;
        }
        vaddr = (vaddr + LARGE_PAGE_SIZE - 1) & ~(LARGE_PAGE_SIZE - 1);
    }
}

static void give_untyped(struct root *r, uint64_t base, uint64_t end, bool device)
{
    struct pith_bootinfo *bi = r->info;
    unsigned room = PITH_BOOTINFO_UNTYPED - (unsigned)bi->untyped_count;
    struct pith_untyped_desc *out = &bi->untyped[bi->untyped_count];
    unsigned n = range_to_blocks(base, end, 12, 47, out, room, device);
    for (unsigned i = 0; i < n; i++) {
        uint64_t slot = r->next_slot++;
        root_cap(r, slot, PITH_OBJ_UNTYPED, (uint64_t)phys_to_virt(out[i].phys),
                 out[i].size_bits | (device ? CAP_AUX_DEVICE : 0));
    }
    bi->untyped_count += n;
}

/* Device memory: the holes between memory-map entries below 4 GiB (PCI windows). */
static void give_device_untyped(struct root *r)
{
    struct range_set holes = { .count = 0 };
    ranges_add(&holes, 0x100000, PHYSMAP_LOW_END);
    for (unsigned i = 0; i < params.memmap_count; i++)
        ranges_remove(&holes, params.memmap[i].base, params.memmap[i].base + params.memmap[i].length);
    ranges_remove(&holes, LAPIC_PAGE, LAPIC_PAGE + PAGE_SIZE);
    uint64_t ioapic = irq_controller_mmio();
    if (ioapic)
        ranges_remove(&holes, ioapic, ioapic + PAGE_SIZE);
    for (unsigned i = 0; i < holes.count; i++)
        give_untyped(r, holes.r[i].base, holes.r[i].end, true);
}

static void create_root_task(void)
{
    struct root r = { 0 };
    if (params.module_count == 0)
        panic("boot: no root task module");
    r.cnode_bits = root_cnode_bits();
    r.cnode = boot_alloc(BIT(r.cnode_bits) * sizeof(struct cap));
    r.space = boot_alloc(BIT(ADDRESS_SPACE_OBJECT_BITS));
    vspace_init(r.space);
    r.thread = boot_alloc(PAGE_SIZE);
    thread_init(r.thread);

    root_cap(&r, PITH_SLOT_CNODE, PITH_OBJ_CNODE, (uint64_t)r.cnode, r.cnode_bits);
    root_cap(&r, PITH_SLOT_ADDRESS_SPACE, PITH_OBJ_ADDRESS_SPACE, (uint64_t)r.space, 0);
    root_cap(&r, PITH_SLOT_THREAD, PITH_OBJ_THREAD, (uint64_t)r.thread, 0);
    root_cap(&r, PITH_SLOT_IRQ_CONTROL, PITH_CAP_IRQ_CONTROL, 0, 0);
    root_cap(&r, PITH_SLOT_IOPORT_CONTROL, PITH_CAP_IOPORT_CONTROL, 0, 0);
    root_cap(&r, PITH_SLOT_DEBUG_CONSOLE, PITH_CAP_DEBUG_CONSOLE, 0, 0);
    root_slot(&r, PITH_SLOT_DEBUG_CONSOLE)->rights = PITH_RIGHT_WRITE;

    uint64_t ipc = map_new_page(&r, PITH_ROOT_IPC_BUFFER, true, false);
    root_cap(&r, PITH_SLOT_IPC_BUFFER, PITH_OBJ_FRAME_4K, ipc, 12);
    vspace_boot_record(root_slot(&r, PITH_SLOT_IPC_BUFFER), r.space, PITH_ROOT_IPC_BUFFER);
    r.info = (struct pith_bootinfo *)map_new_page(&r, PITH_ROOT_BOOTINFO, false, false);
    root_cap(&r, PITH_SLOT_BOOTINFO, PITH_OBJ_FRAME_4K, (uint64_t)r.info, 12);
    root_slot(&r, PITH_SLOT_BOOTINFO)->rights = PITH_RIGHT_READ;
    vspace_boot_record(root_slot(&r, PITH_SLOT_BOOTINFO), r.space, PITH_ROOT_BOOTINFO);
    for (unsigned i = 1; i <= ROOT_STACK_PAGES; i++)
        map_new_page(&r, PITH_ROOT_STACK_TOP - i * PAGE_SIZE, true, false);

    const struct boot_module *image = &params.modules[0];
    uint64_t entry = load_elf(&r, phys_to_virt(image->start), image->end - image->start);

    struct pith_bootinfo *bi = r.info;
    bi->magic = PITH_BOOTINFO_MAGIC;
    bi->cnode_size_bits = r.cnode_bits;
    r.next_slot = PITH_SLOT_FIRST_FREE_FIXED;
    give_modules(&r);
    bi->untyped_first_slot = r.next_slot;
    /* From here on nothing more is allocated at boot: the rest is the root's. */
    for (unsigned i = 0; i < free_ram.count; i++)
        give_untyped(&r, free_ram.r[i].base, free_ram.r[i].end, false);
    give_device_untyped(&r);
    bi->first_free_slot = r.next_slot;
    bi->memmap_count = params.memmap_count;
    memcpy(bi->memmap, params.memmap, sizeof(bi->memmap));
    bi->tsc_hz = timer_tsc_hz();
    bi->cpu_features = cpu_features();
    bi->cpu_count = cpus_online;
    bi->cpus_online = cpus_online;
    bi->irq_controller = irq_controller_is_ioapic() ? PITH_IRQ_CONTROLLER_IOAPIC
                                                    : PITH_IRQ_CONTROLLER_8259;
    bi->irq_controller_mmio = irq_controller_mmio();
    bi->ipc_buffer = PITH_ROOT_IPC_BUFFER;
    bi->kernel_reserved_bytes = reserved_bytes;
    memcpy(bi->cmdline, params.cmdline, sizeof(bi->cmdline));

    struct thread *t = r.thread;
    cap_insert_child(root_slot(&r, PITH_SLOT_CNODE), &t->slots[TSLOT_CSPACE], root_slot(&r, PITH_SLOT_CNODE));
    cap_insert_child(root_slot(&r, PITH_SLOT_ADDRESS_SPACE), &t->slots[TSLOT_VSPACE],
                     root_slot(&r, PITH_SLOT_ADDRESS_SPACE));
    struct cap ipc_value = *root_slot(&r, PITH_SLOT_IPC_BUFFER);
    cap_prepare_copy(&ipc_value);
    cap_insert_child(root_slot(&r, PITH_SLOT_IPC_BUFFER), &t->slots[TSLOT_IPC_BUFFER], &ipc_value);
    t->ipc_buffer = (struct pith_ipc_buffer *)ipc;
    t->ipc_buffer_vaddr = PITH_ROOT_IPC_BUFFER;
    t->fs_base = PITH_ROOT_IPC_BUFFER;
    arch_set_entry(t, entry, PITH_ROOT_STACK_TOP, PITH_ROOT_BOOTINFO);
    t->priority = t->mcp = PITH_PRIORITY_MAX;
    sched_make_runnable(t);

    uint64_t untyped_bytes = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device)
            untyped_bytes += BIT(bi->untyped[i].size_bits);
    kprintf("boot: root task '%s' entry %lx, %lu untyped (%lu KiB RAM), %lu modules, "
            "CNode of %lu slots, kernel kept %lu KiB\n", image->name, entry, bi->untyped_count,
            untyped_bytes >> 10, bi->module_count, BIT(r.cnode_bits), reserved_bytes >> 10);
}

void kernel_main(uint32_t magic, uint32_t info_phys)
{
    serial_init();
    kprintf("\nPith microkernel, x86_64\n");
    if (magic == MULTIBOOT2_MAGIC) {
        /* the block must not run past the physmap of boot.S */
        if (info_phys > PHYSMAP_LOW_END - 8)
            panic("the multiboot2 information at %x lies outside memory", info_phys);
        uint64_t room = PHYSMAP_LOW_END - info_phys;
        int err = mbi_parse(phys_to_virt(info_phys), room < MBI_MAX_SIZE ? room : MBI_MAX_SIZE,
                            &params);
        if (err)
            panic("bad multiboot2 information (error %d)", err);
        params.info_ranges.count = 0;
        ranges_add(&params.info_ranges, info_phys, info_phys + params.info_size);
    } else if (magic == MULTIBOOT1_MAGIC) {
        int err = mb1_parse(phys_to_virt(0), PHYSMAP_LOW_END, info_phys, &params);
        if (err)
            panic("bad multiboot information at %x: %s", info_phys, mb1_error_text(err));
    } else {
        panic("not started by a multiboot2 or multiboot loader (magic %x)", magic);
    }
    kprintf("boot: loader's information: %s\n", magic == MULTIBOOT2_MAGIC ? "multiboot2" : "multiboot");
    cpu_init();
    kernel_map_protect();
    if (!(cpu_features() & PITH_CPU_NX))
        vspace_nx_bit = 0;
    vcpu_boot();
    print_memory_map();
    cpu_print_features();
    timer_init();
    cpus[0].deadlines.secret = cpu_random_seed();  /* deadline.c */
    kprintf("modules: %u, command line '%s'\n", params.module_count, params.cmdline);

    collect_free_ram();
    map_high_ram();
    smp_start(params.rsdp, params.rsdp_size, find_trampoline_page(), boot_alloc);
    create_root_task();
    timer_reprogram();
    sched_return_to_user();
}
