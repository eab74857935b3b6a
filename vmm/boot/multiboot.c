/*
 * Multiboot loaders (Multiboot 0.6.96 and Multiboot2 2.0).  Both versions share the
 * same steps: find the header, turn the image into segments (the address fields of
 * the a.out kludge or ELF program headers), check each segment against the guest's
 * RAM, copy, then lay out the modules and the information structure above the
 * kernel and fill them in.  Every address the kernel sees is 32-bit.
 */
#include "multiboot.h"

#define PAGE            4096u
#define FOUR_GIB        0x100000000ull
#define LOW_LIMIT       0xa0000ull      /* conventional memory ends at 640 KiB */
#define INFO_START      0x10000ull      /* the information goes here or higher */

const char *multiboot_error_name(enum multiboot_error e)
{
    switch (e) {
    case MULTIBOOT_OK:                  return "ok";
    case MULTIBOOT_ERR_NO_HEADER:       return "no multiboot header in the first 8 KiB (v1) or 32 KiB (v2)";
    case MULTIBOOT_ERR_CHECKSUM:        return "multiboot header checksum is wrong";
    case MULTIBOOT_ERR_FLAGS:           return "multiboot header asks for an unsupported feature";
    case MULTIBOOT_ERR_ARCHITECTURE:    return "multiboot2 header is not for i386";
    case MULTIBOOT_ERR_TAGS:            return "multiboot2 header tags are malformed";
    case MULTIBOOT_ERR_TAG_UNSUPPORTED: return "multiboot2 header requires a tag this loader cannot meet";
    case MULTIBOOT_ERR_ADDRESSES:       return "multiboot address fields are inconsistent or past the file";
    case MULTIBOOT_ERR_ELF:             return "not a loadable ELF image and no address fields";
    case MULTIBOOT_ERR_SEGMENTS:        return "kernel segments are past the file, overlap, or too many";
    case MULTIBOOT_ERR_ENTRY:           return "entry point is outside the loaded kernel";
    case MULTIBOOT_ERR_RAM_MAP:         return "the guest memory map is empty or malformed";
    case MULTIBOOT_ERR_PLACEMENT:       return "kernel asks for memory the guest lacks (not in RAM below 4 GiB)";
    case MULTIBOOT_ERR_MODULES:         return "too many modules, or no room for them in guest RAM";
    case MULTIBOOT_ERR_INFO:            return "no room for the multiboot information in guest RAM";
    }
    return "unknown multiboot error";
}

/* ---- Little helpers ------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static size_t string_size(const char *s)   /* with the NUL */
{
    size_t n = 0;
    if (s)
        while (s[n])
            n++;
    return n + 1;
}

static void copy(uint8_t *to, const uint8_t *from, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        to[i] = from[i];
}

static void zero(uint8_t *to, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        to[i] = 0;
}

static void put_string(uint8_t *to, const char *s)
{
    size_t n = string_size(s);
    for (size_t i = 0; i + 1 < n; i++)
        to[i] = (uint8_t)s[i];
    to[n - 1] = 0;
}

/* ---- The guest's RAM ----------------------------------------------------------- */

static bool map_ok(const struct multiboot_request *r)
{
    if (!r->map || r->map_count == 0 || r->map_count > MULTIBOOT_MAX_MAP)
        return false;
    bool ram = false;
    for (unsigned i = 0; i < r->map_count; i++) {
        const struct multiboot_map_entry *e = &r->map[i];
        if (e->length == 0 || e->base + e->length < e->base)
            return false;
        ram |= e->type == 1;
    }
    return ram;
}

/* [base, base + size) lies in one RAM entry, below 4 GiB and inside the VMM's view. */
static bool in_ram(const struct multiboot_request *r, struct multiboot_memory *m,
                   uint64_t base, uint64_t size)
{
    if (base + size < base || base + size > FOUR_GIB || (m && base + size > m->size))
        return false;
    for (unsigned i = 0; i < r->map_count; i++) {
        const struct multiboot_map_entry *e = &r->map[i];
        if (e->type == 1 && base >= e->base && base + size <= e->base + e->length)
            return true;
    }
    return false;
}

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn && b < a + an;
}

/* The lowest address >= from, aligned, where size bytes fit in RAM below 4 GiB
 * without touching [avoid, avoid_end); 0 when there is none. */
static uint64_t place(const struct multiboot_request *r, struct multiboot_memory *m, uint64_t from,
                      uint64_t size, uint64_t align, uint64_t avoid, uint64_t avoid_end)
{
    if (size == 0)
        size = 1;
    for (unsigned round = 0; round < 4 * MULTIBOOT_MAX_MAP + 4; round++) {
        uint64_t at = align_up(from, align);
        if (at >= FOUR_GIB)
            return 0;
        if (overlaps(at, size, avoid, avoid_end - avoid)) {
            from = avoid_end;
            continue;
        }
        if (in_ram(r, m, at, size))
            return at;
        /* move to the next RAM entry starting above `at`, or past the one holding it */
        uint64_t next = FOUR_GIB;
        for (unsigned i = 0; i < r->map_count; i++) {
            const struct multiboot_map_entry *e = &r->map[i];
            if (e->type != 1)
                continue;
            if (e->base > at && e->base < next)
                next = e->base;
        }
        from = next;
    }
    return 0;
}

/* ---- Headers ------------------------------------------------------------------- */

static bool find_header(const uint8_t *image, uint64_t size, unsigned version, uint32_t *offset)
{
    uint64_t limit = version == 1 ? MULTIBOOT1_SEARCH : MULTIBOOT2_SEARCH;
    unsigned step = version == 1 ? 4 : 8, header = version == 1 ? 12 : 16;
    uint32_t magic = version == 1 ? MULTIBOOT1_HEADER_MAGIC : MULTIBOOT2_HEADER_MAGIC;
    for (uint64_t at = 0; at + header <= size && at + header <= limit; at += step) {
        if (le32(image + at) == magic) {
            *offset = (uint32_t)at;
            return true;
        }
    }
    return false;
}

/* The address fields (v1 at header + 12, v2 address tag + 8): header_addr, load_addr,
 * load_end_addr, bss_end_addr. */
static enum multiboot_error address_fields(const struct multiboot_request *r, uint32_t header_offset,
                                           const uint8_t *fields, bool v2, struct multiboot_boot *out)
{
    uint32_t header_addr = le32(fields), load_addr = le32(fields + 4);
    uint32_t load_end = le32(fields + 8), bss_end = le32(fields + 12);
    uint64_t file_offset;
    if (v2 && load_addr == 0xffffffffu) {       /* Multiboot2 §3.1.5: from the file's start */
        if (header_addr < header_offset)
            return MULTIBOOT_ERR_ADDRESSES;
        load_addr = header_addr - header_offset;
        file_offset = 0;
    } else {
        if (load_addr > header_addr || header_addr - load_addr > header_offset)
            return MULTIBOOT_ERR_ADDRESSES;
        file_offset = header_offset - (header_addr - load_addr);
    }
    uint64_t file_size;
    if (load_end == 0) {
        file_size = r->image_size - file_offset;
    } else {
        if (load_end <= load_addr)
            return MULTIBOOT_ERR_ADDRESSES;
        file_size = (uint64_t)load_end - load_addr;
        if (file_offset + file_size > r->image_size)
            return MULTIBOOT_ERR_ADDRESSES;
    }
    uint64_t memory_size = file_size;
    if (bss_end != 0) {
        if (bss_end < load_addr + file_size)
            return MULTIBOOT_ERR_ADDRESSES;
        memory_size = (uint64_t)bss_end - load_addr;
    }
    if (load_addr + memory_size > FOUR_GIB)
        return MULTIBOOT_ERR_ADDRESSES;
    out->segment[0] = (struct multiboot_segment){ file_offset, file_size, load_addr, memory_size };
    out->segments = 1;
    out->aout_kludge = true;
    return MULTIBOOT_OK;
}

/* ELF32 (i386) or ELF64 (x86-64) program headers: PT_LOAD at their physical addresses.
 * The entry point is virtual: it is moved into physical terms through its segment. */
static enum multiboot_error elf_segments(const struct multiboot_request *r, struct multiboot_boot *out,
                                         uint64_t *entry)
{
    const uint8_t *e = r->image;
    if (r->image_size < 52 || e[0] != 0x7f || e[1] != 'E' || e[2] != 'L' || e[3] != 'F' || e[5] != 1)
        return MULTIBOOT_ERR_ELF;
    bool wide = e[4] == 2;
    if ((!wide && e[4] != 1) || (wide && r->image_size < 64))
        return MULTIBOOT_ERR_ELF;
    uint16_t type = le16(e + 16), machine = le16(e + 18);
    if (type != 2 || machine != (wide ? 62 : 3))
        return MULTIBOOT_ERR_ELF;
    uint64_t virtual_entry = wide ? le64(e + 24) : le32(e + 24);
    uint64_t phoff = wide ? le64(e + 32) : le32(e + 28);
    unsigned phentsize = le16(e + (wide ? 54 : 42)), phnum = le16(e + (wide ? 56 : 44));
    if (phentsize < (wide ? 56u : 32u) || phoff > r->image_size ||
        (uint64_t)phentsize * phnum > r->image_size - phoff)
        return MULTIBOOT_ERR_ELF;

    bool entry_found = false;
    out->segments = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = e + phoff + (uint64_t)i * phentsize;
        if (le32(ph) != 1)                      /* PT_LOAD */
            continue;
        uint64_t offset, vaddr, paddr, filesz, memsz;
        if (wide) {
            offset = le64(ph + 8); vaddr = le64(ph + 16); paddr = le64(ph + 24);
            filesz = le64(ph + 32); memsz = le64(ph + 40);
        } else {
            offset = le32(ph + 4); vaddr = le32(ph + 8); paddr = le32(ph + 12);
            filesz = le32(ph + 16); memsz = le32(ph + 20);
        }
        if (memsz == 0)
            continue;
        if (out->segments == MULTIBOOT_MAX_SEGMENTS || filesz > memsz ||
            offset > r->image_size || filesz > r->image_size - offset ||
            paddr + memsz < paddr || paddr + memsz > FOUR_GIB)
            return MULTIBOOT_ERR_SEGMENTS;
        for (unsigned j = 0; j < out->segments; j++)
            if (overlaps(paddr, memsz, out->segment[j].address, out->segment[j].memory_size))
                return MULTIBOOT_ERR_SEGMENTS;
        out->segment[out->segments++] = (struct multiboot_segment){ offset, filesz, paddr, memsz };
        if (!entry_found && virtual_entry >= vaddr && virtual_entry - vaddr < memsz) {
            *entry = virtual_entry - vaddr + paddr;
            entry_found = true;
        }
    }
    if (out->segments == 0)
        return MULTIBOOT_ERR_SEGMENTS;
    if (!entry_found)
        *entry = virtual_entry;                 /* checked against the segments later */
    return MULTIBOOT_OK;
}

/* Version 1 (Multiboot 0.6.96 §3.1). */
static enum multiboot_error parse_v1(const struct multiboot_request *r, uint32_t at,
                                     struct multiboot_boot *out, uint64_t *entry)
{
    const uint8_t *h = (const uint8_t *)r->image + at;
    uint32_t flags = le32(h + 4);
    if ((uint32_t)(le32(h) + flags + le32(h + 8)) != 0)
        return MULTIBOOT_ERR_CHECKSUM;
    out->version = 1;
    out->header_flags = flags;
    /* bits 0-15 are requirements: refuse the ones not known (§3.1.2) */
    if (flags & 0xfff8u)
        return MULTIBOOT_ERR_FLAGS;
    if (flags & MB1_AOUT_KLUDGE) {
        if (at + 32 > r->image_size)
            return MULTIBOOT_ERR_ADDRESSES;
        enum multiboot_error e = address_fields(r, at, h + 12, false, out);
        *entry = le32(h + 28);
        return e;
    }
    return elf_segments(r, out, entry);
}

struct v2_header {
    bool address, entry, framebuffer;
    const uint8_t *address_fields;
    uint32_t entry_address;
};

static bool provided_v2(uint32_t type)
{
    switch (type) {
    case MB2_TAG_CMDLINE: case MB2_TAG_LOADER_NAME: case MB2_TAG_MODULE:
    case MB2_TAG_BASIC_MEMINFO: case MB2_TAG_MMAP: case MB2_TAG_FRAMEBUFFER:
    case MB2_TAG_ACPI_OLD: case MB2_TAG_ACPI_NEW: case MB2_TAG_LOAD_BASE:
        return true;
    }
    return false;
}

/* Version 2 (Multiboot2 §3.1): header then tags, each 8-byte aligned, ending in tag 0. */
static enum multiboot_error parse_v2(const struct multiboot_request *r, uint32_t at,
                                     struct multiboot_boot *out, uint64_t *entry)
{
    const uint8_t *h = (const uint8_t *)r->image + at;
    uint32_t architecture = le32(h + 4), length = le32(h + 8);
    if ((uint32_t)(le32(h) + architecture + length + le32(h + 12)) != 0)
        return MULTIBOOT_ERR_CHECKSUM;
    out->version = 2;
    if (architecture != 0)
        return MULTIBOOT_ERR_ARCHITECTURE;
    if (length < 24 || length > r->image_size - at)
        return MULTIBOOT_ERR_TAGS;

    struct v2_header v = { 0 };
    bool ended = false;
    for (uint32_t off = 16; !ended; ) {
        if (off + 8 > length)
            return MULTIBOOT_ERR_TAGS;
        const uint8_t *t = h + off;
        uint16_t type = le16(t), tflags = le16(t + 2);
        uint32_t size = le32(t + 4);
        bool optional = tflags & MB2_HTAG_OPTIONAL;
        if (size < 8 || size > length - off)
            return MULTIBOOT_ERR_TAGS;
        switch (type) {
        case MB2_HTAG_END:
            ended = true;
            break;
        case MB2_HTAG_INFO_REQUEST:
            if (!optional)
                for (uint32_t i = 8; i + 4 <= size; i += 4)
                    if (!provided_v2(le32(t + i)))
                        return MULTIBOOT_ERR_TAG_UNSUPPORTED;
            break;
        case MB2_HTAG_ADDRESS:
            if (size < 24)
                return MULTIBOOT_ERR_TAGS;
            v.address = true;
            v.address_fields = t + 8;
            break;
        case MB2_HTAG_ENTRY:
            if (size < 12)
                return MULTIBOOT_ERR_TAGS;
            v.entry = true;
            v.entry_address = le32(t + 8);
            break;
        case MB2_HTAG_FRAMEBUFFER:
            v.framebuffer = true;               /* text mode is what there is */
            break;
        case MB2_HTAG_CONSOLE:                  /* an EGA text console is there */
        case MB2_HTAG_MODULE_ALIGN:             /* modules are always page-aligned */
        case MB2_HTAG_RELOCATABLE:              /* loaded at its linked address, which it allows */
        case MB2_HTAG_EFI_BS:                   /* meaningful under EFI only */
            break;
        case MB2_HTAG_ENTRY_EFI32:
        case MB2_HTAG_ENTRY_EFI64:
            if (!optional)
                return MULTIBOOT_ERR_TAG_UNSUPPORTED;
            break;
        default:
            if (!optional)
                return MULTIBOOT_ERR_TAG_UNSUPPORTED;
            break;
        }
        off += (size + 7) & ~7u;
    }
    (void)v.framebuffer;
    if (v.address) {
        enum multiboot_error e = address_fields(r, at, v.address_fields, true, out);
        if (e != MULTIBOOT_OK)
            return e;
        if (!v.entry) {
            /* an ELF image may still name its entry; otherwise there is none */
            uint64_t elf_entry;
            struct multiboot_boot scratch = *out;
            if (elf_segments(r, &scratch, &elf_entry) != MULTIBOOT_OK)
                return MULTIBOOT_ERR_ENTRY;
            *entry = elf_entry;
        } else {
            *entry = v.entry_address;
        }
        return MULTIBOOT_OK;
    }
    enum multiboot_error e = elf_segments(r, out, entry);
    if (e == MULTIBOOT_OK && v.entry)
        *entry = v.entry_address;
    return e;
}

enum multiboot_error multiboot_parse(const struct multiboot_request *r, struct multiboot_boot *out)
{
    *out = (struct multiboot_boot){ 0 };
    if (!r->image || r->image_size < 12)
        return MULTIBOOT_ERR_NO_HEADER;
    uint32_t at;
    uint64_t entry = 0;
    enum multiboot_error e;
    /* version 2 first: a kernel carrying both is asking for the richer protocol */
    if (find_header(r->image, r->image_size, 2, &at)) {
        out->header_offset = at;
        e = parse_v2(r, at, out, &entry);
    } else if (find_header(r->image, r->image_size, 1, &at)) {
        out->header_offset = at;
        e = parse_v1(r, at, out, &entry);
    } else {
        return MULTIBOOT_ERR_NO_HEADER;
    }
    if (e != MULTIBOOT_OK)
        return e;

    out->load_start = ~0ull;
    out->load_end = 0;
    bool entry_inside = false;
    for (unsigned i = 0; i < out->segments; i++) {
        const struct multiboot_segment *s = &out->segment[i];
        if (s->address < out->load_start)
            out->load_start = s->address;
        if (s->address + s->memory_size > out->load_end)
            out->load_end = s->address + s->memory_size;
        entry_inside |= entry >= s->address && entry < s->address + s->memory_size;
    }
    if (!entry_inside)
        return MULTIBOOT_ERR_ENTRY;
    out->entry = (uint32_t)entry;
    out->eax = out->version == 1 ? MULTIBOOT1_LOADER_MAGIC : MULTIBOOT2_LOADER_MAGIC;
    return MULTIBOOT_OK;
}

/* ---- Information structures ---------------------------------------------------- */

/* mem_lower: KiB of RAM from 0 (up to 640 KiB); mem_upper: KiB of RAM from 1 MiB up to
 * the first hole (Multiboot §3.3). */
static void memory_sizes(const struct multiboot_request *r, uint32_t *lower, uint32_t *upper)
{
    uint64_t low_end = 0, high_end = 0x100000;
    for (bool grew = true; grew; ) {
        grew = false;
        for (unsigned i = 0; i < r->map_count; i++) {
            const struct multiboot_map_entry *e = &r->map[i];
            if (e->type != 1)
                continue;
            uint64_t end = e->base + e->length;
            if (e->base <= low_end && end > low_end) {
                low_end = end;
                grew = true;
            }
            if (e->base <= high_end && end > high_end) {
                high_end = end;
                grew = true;
            }
        }
    }
    if (low_end > LOW_LIMIT)
        low_end = LOW_LIMIT;
    if (high_end > FOUR_GIB)
        high_end = FOUR_GIB;
    *lower = (uint32_t)(low_end / 1024);
    *upper = (uint32_t)((high_end - 0x100000) / 1024);
}

static uint64_t info_size_v1(const struct multiboot_request *r)
{
    uint64_t n = MB1_INFO_SIZE + 24ull * r->map_count + 16ull * r->module_count;
    n += string_size(r->cmdline) + string_size(r->loader_name);
    for (unsigned i = 0; i < r->module_count; i++)
        n += string_size(r->modules[i].string);
    return n;
}

static void fill_v1(const struct multiboot_request *r, struct multiboot_boot *b, uint8_t *ram)
{
    uint64_t at = b->info_address;
    uint8_t *info = ram + at;
    zero(info, b->info_size);
    uint32_t flags = MB1_INFO_MEMORY | MB1_INFO_CMDLINE | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME;
    uint32_t lower, upper;
    memory_sizes(r, &lower, &upper);
    put32(info + 4, lower);
    put32(info + 8, upper);

    uint64_t next = at + MB1_INFO_SIZE;
    put32(info + 44, 24 * r->map_count);
    put32(info + 48, (uint32_t)next);
    for (unsigned i = 0; i < r->map_count; i++, next += 24) {
        put32(ram + next, 20);                  /* size, not counting itself */
        put64(ram + next + 4, r->map[i].base);
        put64(ram + next + 12, r->map[i].length);
        put32(ram + next + 20, r->map[i].type);
    }
    uint64_t mods = next;
    next += 16ull * r->module_count;
    if (r->module_count) {
        flags |= MB1_INFO_MODS;
        put32(info + 20, r->module_count);
        put32(info + 24, (uint32_t)mods);
    }
    for (unsigned i = 0; i < r->module_count; i++) {
        uint8_t *m = ram + mods + 16 * i;
        put32(m, (uint32_t)b->module_address[i]);
        put32(m + 4, (uint32_t)(b->module_address[i] + r->modules[i].size));
        put32(m + 8, (uint32_t)next);
        put_string(ram + next, r->modules[i].string);
        next += string_size(r->modules[i].string);
    }
    put32(info + 16, (uint32_t)next);
    put_string(ram + next, r->cmdline);
    next += string_size(r->cmdline);
    put32(info + 64, (uint32_t)next);
    put_string(ram + next, r->loader_name);
    if (b->header_flags & MB1_VIDEO_MODE) {
        /* the EGA text screen (type 2): 80x25 cells of two bytes at 0xb8000 */
        flags |= MB1_INFO_FRAMEBUFFER;
        put64(info + 88, 0xb8000);
        put32(info + 96, 160);
        put32(info + 100, 80);
        put32(info + 104, 25);
        info[108] = 16;
        info[109] = 2;
    }
    put32(info, flags);
}

static uint64_t tag_size(uint64_t payload) { return align_up(8 + payload, 8); }

static bool acpi_new(const struct multiboot_request *r)
{
    return r->rsdp && r->rsdp_size >= 36 && ((const uint8_t *)r->rsdp)[15] >= 2;
}

static uint64_t info_size_v2(const struct multiboot_request *r)
{
    uint64_t n = 8;
    n += tag_size(string_size(r->cmdline)) + tag_size(string_size(r->loader_name));
    for (unsigned i = 0; i < r->module_count; i++)
        n += tag_size(8 + string_size(r->modules[i].string));
    n += tag_size(8);                           /* basic memory information */
    n += tag_size(8 + 24ull * r->map_count);
    n += tag_size(4);                           /* load base address */
    if (r->rsdp && r->rsdp_size >= 20)
        n += tag_size(20);
    if (acpi_new(r))
        n += tag_size(36);
    return n + 8;                               /* the end tag */
}

static uint8_t *tag(uint8_t *ram, uint64_t *next, uint32_t type, uint32_t payload)
{
    uint8_t *t = ram + *next;
    put32(t, type);
    put32(t + 4, 8 + payload);
    *next += tag_size(payload);
    return t + 8;
}

static void fill_v2(const struct multiboot_request *r, struct multiboot_boot *b, uint8_t *ram)
{
    uint64_t next = b->info_address + 8;
    zero(ram + b->info_address, b->info_size);
    put_string(tag(ram, &next, MB2_TAG_CMDLINE, (uint32_t)string_size(r->cmdline)), r->cmdline);
    put_string(tag(ram, &next, MB2_TAG_LOADER_NAME, (uint32_t)string_size(r->loader_name)), r->loader_name);
    for (unsigned i = 0; i < r->module_count; i++) {
        const char *s = r->modules[i].string;
        uint8_t *p = tag(ram, &next, MB2_TAG_MODULE, (uint32_t)(8 + string_size(s)));
        put32(p, (uint32_t)b->module_address[i]);
        put32(p + 4, (uint32_t)(b->module_address[i] + r->modules[i].size));
        put_string(p + 8, s);
    }
    uint32_t lower, upper;
    memory_sizes(r, &lower, &upper);
    uint8_t *p = tag(ram, &next, MB2_TAG_BASIC_MEMINFO, 8);
    put32(p, lower);
    put32(p + 4, upper);
    p = tag(ram, &next, MB2_TAG_MMAP, 8 + 24 * r->map_count);
    put32(p, 24);                               /* entry_size */
    put32(p + 4, 0);                            /* entry_version */
    for (unsigned i = 0; i < r->map_count; i++) {
        uint8_t *e = p + 8 + 24 * i;
        put64(e, r->map[i].base);
        put64(e + 8, r->map[i].length);
        put32(e + 16, r->map[i].type);
        put32(e + 20, 0);
    }
    p = tag(ram, &next, MB2_TAG_LOAD_BASE, 4);
    put32(p, (uint32_t)b->load_start);
    if (r->rsdp && r->rsdp_size >= 20)
        copy(tag(ram, &next, MB2_TAG_ACPI_OLD, 20), r->rsdp, 20);
    if (acpi_new(r))
        copy(tag(ram, &next, MB2_TAG_ACPI_NEW, 36), r->rsdp, 36);
    tag(ram, &next, MB2_TAG_END, 0);
    put32(ram + b->info_address, (uint32_t)(next - b->info_address));
    put32(ram + b->info_address + 4, 0);
}

enum multiboot_error multiboot_load(const struct multiboot_request *r, struct multiboot_memory memory,
                                    struct multiboot_boot *out)
{
    if (!map_ok(r))
        return MULTIBOOT_ERR_RAM_MAP;
    enum multiboot_error e = multiboot_parse(r, out);
    if (e != MULTIBOOT_OK)
        return e;
    for (unsigned i = 0; i < out->segments; i++)
        if (!in_ram(r, &memory, out->segment[i].address, out->segment[i].memory_size))
            return MULTIBOOT_ERR_PLACEMENT;
    if (r->module_count > MULTIBOOT_MAX_MODULES || (r->module_count && !r->modules))
        return MULTIBOOT_ERR_MODULES;

    /* Modules above the kernel, each on a page; the information in low memory when it
     * fits there, else after the modules.  Nothing overlaps the kernel or another. */
    uint64_t cursor = align_up(out->load_end, PAGE);
    for (unsigned i = 0; i < r->module_count; i++) {
        const struct multiboot_module *m = &r->modules[i];
        if (!m->data && m->size)
            return MULTIBOOT_ERR_MODULES;
        uint64_t at = place(r, &memory, cursor, m->size, PAGE, out->load_start, out->load_end);
        if (!at)
            return MULTIBOOT_ERR_MODULES;
        out->module_address[i] = at;
        cursor = at + (m->size ? m->size : 1);
    }
    out->info_size = out->version == 1 ? info_size_v1(r) : info_size_v2(r);
    uint64_t info = place(r, &memory, INFO_START, out->info_size, 8, out->load_start, out->load_end);
    for (unsigned i = 0; info && i < r->module_count; i++) {
        uint64_t m = out->module_address[i], n = r->modules[i].size ? r->modules[i].size : 1;
        if (overlaps(info, out->info_size, m, n))
            info = 0;
    }
    if (!info)
        info = place(r, &memory, cursor, out->info_size, 8, out->load_start, out->load_end);
    if (!info)
        return MULTIBOOT_ERR_INFO;
    out->info_address = info;
    out->ebx = (uint32_t)info;

    for (unsigned i = 0; i < out->segments; i++) {
        const struct multiboot_segment *s = &out->segment[i];
        copy(memory.base + s->address, (const uint8_t *)r->image + s->offset, s->file_size);
        zero(memory.base + s->address + s->file_size, s->memory_size - s->file_size);
    }
    for (unsigned i = 0; i < r->module_count; i++)
        copy(memory.base + out->module_address[i], r->modules[i].data, r->modules[i].size);
    if (out->version == 1)
        fill_v1(r, out, memory.base);
    else
        fill_v2(r, out, memory.base);
    return MULTIBOOT_OK;
}
