/*
 * Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/boot.rst; the zero
 * page fields are in Documentation/arch/x86/zero-page.rst).  Offsets below are into
 * the bzImage file and, for the copied setup header, the same offsets into the zero
 * page: the header sits at 0x1f1 in both.
 *
 * Guest-physical layout:
 *   0x1000   GDT (null, null, __BOOT_CS 0x10, __BOOT_DS 0x18); stack below 0x7000
 *   0x7000   zero page (struct boot_params)
 *   0x9000   PML4, PDPT and four page directories mapping 0..4 GiB with 2 MiB pages
 *   0x20000  command line
 *   pref_address (16 MiB for Debian's kernels)  protected-mode kernel, init_size long
 *   high     initrd, page aligned, below initrd_addr_max and the end of RAM
 */
#include "linux_boot.h"

/* Setup header fields (boot.rst, "The Real-Mode Kernel Header"). */
#define HDR_SETUP_SECTS         0x1f1
#define HDR_SYSSIZE             0x1f4
#define HDR_BOOT_FLAG           0x1fe
#define HDR_JUMP                0x200
#define HDR_HEADER              0x202
#define HDR_VERSION             0x206
#define HDR_TYPE_OF_LOADER      0x210
#define HDR_LOADFLAGS           0x211
#define HDR_RAMDISK_IMAGE       0x218
#define HDR_RAMDISK_SIZE        0x21c
#define HDR_HEAP_END_PTR        0x224
#define HDR_CMD_LINE_PTR        0x228
#define HDR_INITRD_ADDR_MAX     0x22c
#define HDR_KERNEL_ALIGNMENT    0x230
#define HDR_RELOCATABLE         0x234
#define HDR_XLOADFLAGS          0x236
#define HDR_CMDLINE_SIZE        0x238
#define HDR_PREF_ADDRESS        0x258
#define HDR_INIT_SIZE           0x260
#define HDR_END_2_12            0x268   /* handover_offset (2.11) is the last 2.12 field */

/* Zero page fields outside the setup header (zero-page.rst). */
#define ZP_ACPI_RSDP_ADDR       0x070
#define ZP_EXT_RAMDISK_IMAGE    0x0c0
#define ZP_EXT_RAMDISK_SIZE     0x0c4
#define ZP_EXT_CMD_LINE_PTR     0x0c8
#define ZP_E820_ENTRIES         0x1e8
#define ZP_EDD_MBR_SIG_BUFFER   0x290   /* the first field after the setup header */
#define ZP_E820_TABLE           0x2d0
#define ZP_SIZE                 0x1000
#define E820_ENTRY_SIZE         20      /* packed: u64 address, u64 size, u32 type */

#define BOOT_FLAG               0xaa55
#define HDRS_SIGNATURE          0x53726448u     /* "HdrS" little-endian */
#define PROTOCOL_2_12           0x020c
#define PROTOCOL_2_14           0x020e          /* added acpi_rsdp_addr */
#define XLF_KERNEL_64           0x0001
#define LOADED_HIGH             0x01
#define CAN_USE_HEAP            0x80
#define LOADER_UNDEFINED        0xff            /* type_of_loader for "no assigned id" */
/* Where a real-mode setup would keep its heap end: 0xfe00 in its segment, and the
 * field holds that minus 0x200 (boot.rst, heap_end_ptr). */
#define HEAP_END_PTR            (0xfe00 - 0x200)
#define STARTUP_64_OFFSET       0x200           /* startup_64 = load address + 0x200 */

#define SECTOR                  512
#define PAGE                    0x1000ull
#define MIB                     0x100000ull
#define BIOS_HOLE_START         0x9fc00ull      /* EBDA, VGA, option and BIOS ROMs */
#define BIOS_HOLE_END           0x100000ull

/* GDT descriptors for the 64-bit boot protocol: flat, accessed, code has L=1. */
#define BOOT_CS                 0x10
#define BOOT_DS                 0x18
#define GDT_CODE64              0x00af9b000000ffffull
#define GDT_DATA                0x00cf93000000ffffull
#define GDT_ENTRIES             4

#define PTE_PRESENT             0x001
#define PTE_WRITE               0x002
#define PTE_LARGE               0x080

#define CR0_PE                  (1ull << 0)
#define CR0_ET                  (1ull << 4)
#define CR0_NE                  (1ull << 5)
#define CR0_PG                  (1ull << 31)
#define CR4_PAE                 (1ull << 5)
#define EFER_LME                (1ull << 8)
#define EFER_LMA                (1ull << 10)
#define RFLAGS_FIXED            0x2ull          /* bit 1 is always set; IF stays clear */

const char *linux_error_name(enum linux_error e)
{
    switch (e) {
    case LINUX_OK:                   return "ok";
    case LINUX_ERR_TOO_SMALL:        return "image too small for a setup header";
    case LINUX_ERR_BOOT_FLAG:        return "no 0xaa55 boot flag at 0x1fe";
    case LINUX_ERR_NO_HDRS:          return "no HdrS signature (not a bzImage)";
    case LINUX_ERR_OLD_PROTOCOL:     return "boot protocol older than 2.12";
    case LINUX_ERR_NOT_64BIT:        return "no 64-bit entry (XLF_KERNEL_64 clear)";
    case LINUX_ERR_HEADER_LENGTH:    return "setup header length out of range";
    case LINUX_ERR_SETUP_SECTS:      return "setup_sects past the end of the image";
    case LINUX_ERR_SYSSIZE:          return "syssize zero or past the end of the image";
    case LINUX_ERR_ALIGNMENT:        return "kernel_alignment not a power of two >= 4K";
    case LINUX_ERR_PREF_ADDRESS:     return "pref_address below 1M or misaligned";
    case LINUX_ERR_INIT_SIZE:        return "init_size smaller than the kernel";
    case LINUX_ERR_RAM_MAP:          return "bad guest RAM map";
    case LINUX_ERR_LOAD_ADDRESS:     return "load address misaligned or not relocatable";
    case LINUX_ERR_KERNEL_PLACEMENT: return "the guest's RAM ends before the kernel's load address + init_size";
    case LINUX_ERR_LOW_MEMORY:       return "no RAM for the zero page and page tables";
    case LINUX_ERR_CMDLINE_TOO_LONG: return "command line longer than cmdline_size";
    case LINUX_ERR_INITRD_PLACEMENT: return "initrd does not fit below initrd_addr_max";
    }
    return "unknown error";
}

/* ---- little-endian access, byte by byte: no alignment or aliasing assumptions ---- */

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = bytes; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

static void put_le(uint8_t *p, unsigned bytes, uint64_t v)
{
    for (unsigned i = 0; i < bytes; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void copy_bytes(uint8_t *to, const uint8_t *from, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        to[i] = from[i];
}

static void zero_bytes(uint8_t *to, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        to[i] = 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static bool is_power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

/* ---- linux_parse ---- */

static enum linux_error check_signatures(const uint8_t *p, uint64_t size)
{
    if (size < 2 * SECTOR)
        return LINUX_ERR_TOO_SMALL;
    if (get_le(p + HDR_BOOT_FLAG, 2) != BOOT_FLAG)
        return LINUX_ERR_BOOT_FLAG;
    if (get_le(p + HDR_HEADER, 4) != HDRS_SIGNATURE)
        return LINUX_ERR_NO_HDRS;
    if (get_le(p + HDR_VERSION, 2) < PROTOCOL_2_12)
        return LINUX_ERR_OLD_PROTOCOL;
    /* The header is as long as the jump at 0x200 skips (boot.rst, "64-bit Boot
     * Protocol"); it must hold every 2.12 field and stop before edd_mbr_sig_buffer. */
    uint32_t end = HDR_HEADER + p[HDR_JUMP + 1];
    if (end < HDR_END_2_12 || end > ZP_EDD_MBR_SIG_BUFFER)
        return LINUX_ERR_HEADER_LENGTH;
    if (!(get_le(p + HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
        return LINUX_ERR_NOT_64BIT;
    return LINUX_OK;
}

static void read_header(const uint8_t *p, uint64_t size, struct linux_info *info)
{
    unsigned sects = p[HDR_SETUP_SECTS] ? p[HDR_SETUP_SECTS] : 4;   /* 0 means 4 */
    *info = (struct linux_info){
        .image = p,
        .image_size = size,
        .version = (uint16_t)get_le(p + HDR_VERSION, 2),
        .setup_size = (sects + 1) * SECTOR,     /* the boot sector, then the setup */
        .header_end = HDR_HEADER + p[HDR_JUMP + 1],
        .kernel_size = get_le(p + HDR_SYSSIZE, 4) * 16,
        .loadflags = p[HDR_LOADFLAGS],
        .xloadflags = (uint16_t)get_le(p + HDR_XLOADFLAGS, 2),
        .relocatable = p[HDR_RELOCATABLE] != 0,
        .kernel_alignment = (uint32_t)get_le(p + HDR_KERNEL_ALIGNMENT, 4),
        .initrd_addr_max = (uint32_t)get_le(p + HDR_INITRD_ADDR_MAX, 4),
        .cmdline_size = (uint32_t)get_le(p + HDR_CMDLINE_SIZE, 4),
        .pref_address = get_le(p + HDR_PREF_ADDRESS, 8),
        .init_size = (uint32_t)get_le(p + HDR_INIT_SIZE, 4),
    };
}

static enum linux_error check_sizes(const struct linux_info *info)
{
    if (info->setup_size >= info->image_size)
        return LINUX_ERR_SETUP_SECTS;
    /* The file may carry more after the kernel (a signature): only syssize counts. */
    if (info->kernel_size == 0 || info->kernel_size > info->image_size - info->setup_size)
        return LINUX_ERR_SYSSIZE;
    if (!is_power_of_two(info->kernel_alignment) || info->kernel_alignment < PAGE)
        return LINUX_ERR_ALIGNMENT;
    if (info->pref_address < MIB || info->pref_address % info->kernel_alignment)
        return LINUX_ERR_PREF_ADDRESS;
    if (info->init_size < info->kernel_size)
        return LINUX_ERR_INIT_SIZE;
    return LINUX_OK;
}

enum linux_error linux_parse(const void *image, uint64_t size, struct linux_info *info)
{
    const uint8_t *p = image;
    enum linux_error e = check_signatures(p, size);
    if (e != LINUX_OK)
        return e;
    read_header(p, size, info);
    return check_sizes(info);
}

/* ---- the E820 map ---- */

/*
 * The map is built from boundaries: every start and end of a RAM range, of the BIOS
 * hole and of the ACPI tables.  Between two neighbouring boundaries the type is the
 * strongest that covers it (ACPI over reserved over RAM), so the hole and the tables
 * are cut out of RAM whatever the ranges look like; equal neighbours merge.
 */
struct span {
    uint64_t start, end;
    uint32_t type;
};

static uint32_t type_rank(uint32_t type)
{
    return type == E820_ACPI ? 3 : type == E820_RESERVED ? 2 : type == E820_RAM ? 1 : 0;
}

static void sort_u64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static uint32_t type_at(const struct span *spans, unsigned n, uint64_t start, uint64_t end)
{
    uint32_t type = 0;
    for (unsigned i = 0; i < n; i++)
        if (spans[i].start <= start && end <= spans[i].end &&
            type_rank(spans[i].type) > type_rank(type))
            type = spans[i].type;
    return type;
}

static void e820_add(struct linux_layout *l, uint64_t start, uint64_t end, uint32_t type)
{
    struct linux_e820_entry *last = l->e820_count ? &l->e820[l->e820_count - 1] : NULL;
    if (last && last->type == type && last->address + last->size == start) {
        last->size += end - start;
        return;
    }
    l->e820[l->e820_count++] = (struct linux_e820_entry){ start, end - start, type };
}

static enum linux_error build_e820(const struct linux_boot_request *r, struct linux_layout *l)
{
    struct span spans[LINUX_MAX_RAM_RANGES + 2];
    uint64_t bounds[2 * (LINUX_MAX_RAM_RANGES + 2)];
    unsigned n = 0;

    if (r->ram_count == 0 || r->ram_count > LINUX_MAX_RAM_RANGES || !r->ram)
        return LINUX_ERR_RAM_MAP;
    for (unsigned i = 0; i < r->ram_count; i++) {
        uint64_t base = r->ram[i].base, size = r->ram[i].size;
        if (base + size < base)
            return LINUX_ERR_RAM_MAP;
        if (size)
            spans[n++] = (struct span){ base, base + size, E820_RAM };
    }
    if (n == 0)
        return LINUX_ERR_RAM_MAP;
    spans[n++] = (struct span){ BIOS_HOLE_START, BIOS_HOLE_END, E820_RESERVED };
    if (r->acpi_size) {
        if (r->acpi_base + r->acpi_size < r->acpi_base)
            return LINUX_ERR_RAM_MAP;
        spans[n++] = (struct span){ r->acpi_base, r->acpi_base + r->acpi_size, E820_ACPI };
    }
    for (unsigned i = 0; i < n; i++) {
        bounds[2 * i] = spans[i].start;
        bounds[2 * i + 1] = spans[i].end;
    }
    sort_u64(bounds, 2 * n);
    l->e820_count = 0;
    for (unsigned i = 0; i + 1 < 2 * n; i++) {
        if (bounds[i] == bounds[i + 1])
            continue;
        uint32_t type = type_at(spans, n, bounds[i], bounds[i + 1]);
        if (type)
            e820_add(l, bounds[i], bounds[i + 1], type);
    }
    return LINUX_OK;
}

/* [start, start + size) lies in usable RAM that the VMM's view reaches. */
static bool in_ram(const struct linux_layout *l, const struct linux_guest_memory *m,
                   uint64_t start, uint64_t size)
{
    uint64_t end = start + size;
    if (end < start || end > m->size)
        return false;
    for (unsigned i = 0; i < l->e820_count; i++) {
        const struct linux_e820_entry *e = &l->e820[i];
        if (e->type == E820_RAM && e->address <= start && end <= e->address + e->size)
            return true;
    }
    return false;
}

uint64_t linux_minimum_memory(const struct linux_info *info)
{
    uint64_t end = info->pref_address + info->init_size;
    return (end + MIB - 1) / MIB * MIB;
}

/* ---- placement: decides, writes nothing ---- */

static uint64_t bounded_length(const char *s, uint64_t max)
{
    uint64_t n = 0;
    while (s && n <= max && s[n])
        n++;
    return n;
}

static enum linux_error place_kernel(const struct linux_info *info,
                                     const struct linux_boot_request *r,
                                     struct linux_layout *l)
{
    uint64_t load = r->load_address ? r->load_address : info->pref_address;
    /* A kernel that is not relocatable decompresses to pref_address (boot.rst,
     * relocatable_kernel); one that is may go to any kernel_alignment boundary. */
    if (load != info->pref_address && !info->relocatable)
        return LINUX_ERR_LOAD_ADDRESS;
    if (load < MIB || load % info->kernel_alignment)
        return LINUX_ERR_LOAD_ADDRESS;
    /* The whole init_size must be free RAM and inside the identity map. */
    if (!in_ram(l, &r->memory, load, info->init_size) ||
        load + info->init_size > LINUX_IDENTITY_MAPPED)
        return LINUX_ERR_KERNEL_PLACEMENT;
    l->kernel_address = load;
    l->kernel_end = load + info->init_size;
    return LINUX_OK;
}

static enum linux_error place_low(const struct linux_info *info,
                                  const struct linux_boot_request *r,
                                  struct linux_layout *l)
{
    l->gdt_address = LINUX_GDT_ADDRESS;
    l->zero_page = LINUX_ZERO_PAGE;
    l->page_tables = LINUX_PAGE_TABLES;
    l->cmdline_address = LINUX_CMDLINE_ADDRESS;
    l->cmdline_length = bounded_length(r->cmdline, info->cmdline_size);
    if (l->cmdline_length > info->cmdline_size)
        return LINUX_ERR_CMDLINE_TOO_LONG;
    /* GDT, stack, zero page and page tables form one block; the line has its NUL. */
    if (!in_ram(l, &r->memory, LINUX_GDT_ADDRESS,
                LINUX_PAGE_TABLES + LINUX_PAGE_TABLES_SIZE - LINUX_GDT_ADDRESS) ||
        !in_ram(l, &r->memory, LINUX_CMDLINE_ADDRESS, l->cmdline_length + 1))
        return LINUX_ERR_LOW_MEMORY;
    return LINUX_OK;
}

/* The highest page-aligned spot in [floor, top) for size bytes, or 0. */
static uint64_t highest_fit(uint64_t floor, uint64_t top, uint64_t size)
{
    if (top < size || top - size < floor)
        return 0;
    uint64_t at = align_down(top - size, PAGE);
    return at >= floor ? at : 0;
}

/*
 * As high as possible, like other loaders, so the kernel's decompression and early
 * allocations below find room: the last byte at or below initrd_addr_max, above
 * 1 MiB, in one RAM entry, clear of the kernel's init_size.
 */
static enum linux_error place_initrd(const struct linux_info *info,
                                     const struct linux_boot_request *r,
                                     struct linux_layout *l)
{
    l->initrd_address = 0;
    l->initrd_size = r->initrd ? r->initrd_size : 0;
    if (l->initrd_size == 0)
        return LINUX_OK;
    uint64_t limit = min_u64((uint64_t)info->initrd_addr_max + 1, r->memory.size);
    for (unsigned i = l->e820_count; i > 0; i--) {
        const struct linux_e820_entry *e = &l->e820[i - 1];
        if (e->type != E820_RAM)
            continue;
        uint64_t floor = e->address > MIB ? e->address : MIB;
        uint64_t top = min_u64(e->address + e->size, limit);
        uint64_t at = highest_fit(floor, top, l->initrd_size);
        if (at && at < l->kernel_end && l->kernel_address < at + l->initrd_size)
            at = highest_fit(floor, min_u64(top, l->kernel_address), l->initrd_size);
        if (at) {
            l->initrd_address = at;
            return LINUX_OK;
        }
    }
    return LINUX_ERR_INITRD_PLACEMENT;
}

/* ---- writing: cannot fail, every range was checked above ---- */

static void write_gdt(uint8_t *ram)
{
    uint8_t *gdt = ram + LINUX_GDT_ADDRESS;
    zero_bytes(gdt, GDT_ENTRIES * 8);
    put_le(gdt + BOOT_CS, 8, GDT_CODE64);
    put_le(gdt + BOOT_DS, 8, GDT_DATA);
}

/* PML4[0] -> PDPT, PDPT[0..3] -> four page directories of 2 MiB pages: 0..4 GiB. */
static void write_page_tables(uint8_t *ram)
{
    uint64_t pml4 = LINUX_PAGE_TABLES, pdpt = pml4 + PAGE, pd = pdpt + PAGE;
    zero_bytes(ram + pml4, LINUX_PAGE_TABLES_SIZE);
    put_le(ram + pml4, 8, pdpt | PTE_PRESENT | PTE_WRITE);
    for (uint64_t i = 0; i < 4; i++) {
        put_le(ram + pdpt + 8 * i, 8, (pd + i * PAGE) | PTE_PRESENT | PTE_WRITE);
        for (uint64_t j = 0; j < 512; j++)
            put_le(ram + pd + i * PAGE + 8 * j, 8,
                   (i << 30 | j << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE);
    }
}

static void write_e820(uint8_t *zp, const struct linux_layout *l)
{
    zp[ZP_E820_ENTRIES] = (uint8_t)l->e820_count;
    for (unsigned i = 0; i < l->e820_count; i++) {
        uint8_t *e = zp + ZP_E820_TABLE + i * E820_ENTRY_SIZE;
        put_le(e, 8, l->e820[i].address);
        put_le(e + 8, 8, l->e820[i].size);
        put_le(e + 16, 4, l->e820[i].type);
    }
}

/* boot.rst, "Details of Header Fields" and "64-bit Boot Protocol": start from zeros,
 * copy the kernel's header, then fill what the boot loader owns. */
static void write_zero_page(const struct linux_info *info,
                            const struct linux_boot_request *r,
                            const struct linux_layout *l, uint8_t *zp)
{
    zero_bytes(zp, ZP_SIZE);
    copy_bytes(zp + HDR_SETUP_SECTS, info->image + HDR_SETUP_SECTS,
               info->header_end - HDR_SETUP_SECTS);
    zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
    zp[HDR_LOADFLAGS] = info->loadflags | LOADED_HIGH | CAN_USE_HEAP;
    put_le(zp + HDR_HEAP_END_PTR, 2, HEAP_END_PTR);
    put_le(zp + HDR_CMD_LINE_PTR, 4, (uint32_t)l->cmdline_address);
    put_le(zp + ZP_EXT_CMD_LINE_PTR, 4, (uint32_t)(l->cmdline_address >> 32));
    put_le(zp + HDR_RAMDISK_IMAGE, 4, (uint32_t)l->initrd_address);
    put_le(zp + HDR_RAMDISK_SIZE, 4, (uint32_t)l->initrd_size);
    put_le(zp + ZP_EXT_RAMDISK_IMAGE, 4, (uint32_t)(l->initrd_address >> 32));
    put_le(zp + ZP_EXT_RAMDISK_SIZE, 4, (uint32_t)(l->initrd_size >> 32));
    if (info->version >= PROTOCOL_2_14)
        put_le(zp + ZP_ACPI_RSDP_ADDR, 8, r->rsdp_address);
    write_e820(zp, l);
}

static struct linux_segment flat_segment(uint16_t selector, uint64_t descriptor)
{
    return (struct linux_segment){
        .selector = selector,
        .attributes = (uint16_t)((descriptor >> 40) & 0xf0ff),
        .limit = 0xffffffff,
        .base = 0,
    };
}

/* 64-bit mode, paging on with our identity tables, flat __BOOT_CS/__BOOT_DS,
 * interrupts off, %rsi = the zero page (boot.rst, "64-bit Boot Protocol"). */
static void fill_entry(struct linux_layout *l)
{
    l->entry = (struct linux_entry_state){
        .rip = l->kernel_address + STARTUP_64_OFFSET,
        .rsp = LINUX_STACK_TOP,
        .rsi = l->zero_page,
        .rflags = RFLAGS_FIXED,
        .cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG,
        .cr3 = l->page_tables,
        .cr4 = CR4_PAE,
        .efer = EFER_LME | EFER_LMA,
        .gdt_base = l->gdt_address,
        .gdt_limit = GDT_ENTRIES * 8 - 1,
        .cs = flat_segment(BOOT_CS, GDT_CODE64),
        .ds = flat_segment(BOOT_DS, GDT_DATA),
    };
}

enum linux_error linux_prepare(const struct linux_info *info,
                               const struct linux_boot_request *r,
                               struct linux_layout *l)
{
    enum linux_error e;
    if ((e = build_e820(r, l)) != LINUX_OK ||
        (e = place_kernel(info, r, l)) != LINUX_OK ||
        (e = place_low(info, r, l)) != LINUX_OK ||
        (e = place_initrd(info, r, l)) != LINUX_OK)
        return e;

    /* Point of no return: every range below was checked against RAM and the view. */
    uint8_t *ram = r->memory.base;
    copy_bytes(ram + l->kernel_address, info->image + info->setup_size, info->kernel_size);
    copy_bytes(ram + l->cmdline_address, (const uint8_t *)r->cmdline, l->cmdline_length);
    ram[l->cmdline_address + l->cmdline_length] = 0;
    if (l->initrd_size)
        copy_bytes(ram + l->initrd_address, r->initrd, l->initrd_size);
    write_gdt(ram);
    write_page_tables(ram);
    write_zero_page(info, r, l, ram + l->zero_page);
    fill_entry(l);
    return LINUX_OK;
}
