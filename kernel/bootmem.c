/*
 * Multiboot2 boot information (Multiboot2 spec §3.6: a size header, then 8-byte
 * aligned tags) and the range arithmetic that turns the memory map into untyped
 * blocks.  Pure logic: the host tests feed it hand-made tag lists.
 */
#include "bootmem.h"

#define TAG_END      0
#define TAG_CMDLINE  1
#define TAG_MODULE   3
#define TAG_MMAP     6
#define TAG_ACPI_OLD 14     /* a copy of the RSDP of ACPI 1.0 */
#define TAG_ACPI_NEW 15     /* a copy of the RSDP of ACPI 2.0 or later */

static void copy_string(char *dest, size_t size, const char *src, size_t src_max)
{
    size_t i = 0;
    for (; i + 1 < size && i < src_max && src[i]; i++)
        dest[i] = src[i];
    dest[i] = 0;
}

static int parse_mmap(const uint8_t *tag, uint32_t size, struct boot_params *out)
{
    if (size < 16)
        return MBI_BAD_TAG;
    uint32_t entry_size = *(const uint32_t *)(tag + 8);
    if (entry_size < 24)
        return MBI_BAD_TAG;
    for (uint32_t off = 16; off + entry_size <= size; off += entry_size) {
        if (out->memmap_count == PITH_BOOTINFO_MEMMAP)
            break;
        const uint8_t *e = tag + off;
        struct pith_memmap_entry *m = &out->memmap[out->memmap_count++];
        m->base = *(const uint64_t *)e;
        m->length = *(const uint64_t *)(e + 8);
        m->type = *(const uint32_t *)(e + 16);
        m->pad = 0;
    }
    return MBI_OK;
}

/* The newer RSDP wins over the older, whatever their order. */
static void copy_rsdp(const uint8_t *tag, uint32_t size, bool newer, struct boot_params *out)
{
    if (out->rsdp_size && !newer)
        return;
    uint32_t n = size - 8 < sizeof(out->rsdp) ? size - 8 : sizeof(out->rsdp);
    memcpy(out->rsdp, tag + 8, n);
    out->rsdp_size = n;
}

int mbi_parse(const void *info, uint64_t max_size, struct boot_params *out)
{
    const uint8_t *base = info;
    uint32_t total = *(const uint32_t *)base;
    if (total < 16 || total > max_size)
        return MBI_BAD_SIZE;
    out->info_size = total;
    out->memmap_count = out->module_count = 0;
    out->cmdline[0] = 0;
    out->rsdp_size = 0;
    for (uint32_t off = 8; off + 8 <= total;) {
        const uint8_t *tag = base + off;
        uint32_t type = *(const uint32_t *)tag, size = *(const uint32_t *)(tag + 4);
        if (type == TAG_END)
            return out->memmap_count ? MBI_OK : MBI_NO_MEMORY_MAP;
        if (size < 8 || size > total - off)
            return MBI_BAD_TAG;
        if (type == TAG_CMDLINE) {
            copy_string(out->cmdline, sizeof(out->cmdline), (const char *)tag + 8, size - 8);
        } else if (type == TAG_MODULE) {
            if (size < 16)
                return MBI_BAD_TAG;
            if (out->module_count < BOOT_MAX_MODULES) {
                struct boot_module *m = &out->modules[out->module_count++];
                m->start = *(const uint32_t *)(tag + 8);
                m->end = *(const uint32_t *)(tag + 12);
                copy_string(m->name, sizeof(m->name), (const char *)tag + 16, size - 16);
                if (m->end < m->start)
                    return MBI_BAD_TAG;
            }
        } else if (type == TAG_ACPI_OLD || type == TAG_ACPI_NEW) {
            copy_rsdp(tag, size, type == TAG_ACPI_NEW, out);
        } else if (type == TAG_MMAP) {
            int err = parse_mmap(tag, size, out);
            if (err)
                return err;
        }
        off += (size + 7) & ~7u;
    }
    return MBI_BAD_TAG;     /* no end tag */
}

void ranges_add(struct range_set *s, uint64_t base, uint64_t end)
{
    if (base >= end)
        return;
    /* merge with anything overlapping or touching, then insert sorted */
    unsigned i = 0;
    while (i < s->count) {
        struct range *r = &s->r[i];
        if (r->end < base || r->base > end) {
            i++;
            continue;
        }
        base = r->base < base ? r->base : base;
        end = r->end > end ? r->end : end;
        for (unsigned j = i; j + 1 < s->count; j++)
            s->r[j] = s->r[j + 1];
        s->count--;
        i = 0;
    }
    if (s->count == BOOT_MAX_RANGES)
        return;
    unsigned pos = 0;
    while (pos < s->count && s->r[pos].base < base)
        pos++;
    for (unsigned j = s->count; j > pos; j--)
        s->r[j] = s->r[j - 1];
    s->r[pos] = (struct range){ base, end };
    s->count++;
}

void ranges_remove(struct range_set *s, uint64_t base, uint64_t end)
{
    if (base >= end)
        return;
    for (unsigned i = 0; i < s->count;) {
        struct range *r = &s->r[i];
        if (r->end <= base || r->base >= end) {
            i++;
            continue;
        }
        if (r->base < base && r->end > end) {       /* split in two */
            if (s->count == BOOT_MAX_RANGES) {
                r->end = base;
                return;
            }
            for (unsigned j = s->count; j > i + 1; j--)
                s->r[j] = s->r[j - 1];
            s->r[i + 1] = (struct range){ end, r->end };
            r->end = base;
            s->count++;
            return;
        }
        if (r->base < base) {
            r->end = base;
            i++;
        } else if (r->end > end) {
            r->base = end;
            i++;
        } else {
            for (unsigned j = i; j + 1 < s->count; j++)
                s->r[j] = s->r[j + 1];
            s->count--;
        }
    }
}

uint64_t ranges_total(const struct range_set *s)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < s->count; i++)
        n += s->r[i].end - s->r[i].base;
    return n;
}

void ranges_high_ram(const struct pith_memmap_entry *map, unsigned count, uint64_t low_end,
                     uint64_t limit, unsigned page_bits, struct range_set *out)
{
    struct range_set ram = { .count = 0 };
    for (unsigned i = 0; i < count; i++) {
        if (map[i].type != 1 || map[i].base >= limit)
            continue;
        uint64_t end = map[i].base + map[i].length;
        if (end > limit || end < map[i].base)      /* past the limit, or wrapping */
            end = limit;
        ranges_add(&ram, map[i].base, end);
    }
    ranges_remove(&ram, 0, low_end);
    uint64_t page = BIT(page_bits);
    out->count = 0;
    for (unsigned i = 0; i < ram.count; i++) {
        uint64_t base = (ram.r[i].base + page - 1) & ~(page - 1), end = ram.r[i].end & ~(page - 1);
        if (base < end)
            ranges_add(out, base, end);
    }
}

unsigned range_to_blocks(uint64_t base, uint64_t end, unsigned min_bits, unsigned max_bits,
                         struct pith_untyped_desc *out, unsigned max, bool device)
{
    uint64_t min = BIT(min_bits);
    base = (base + min - 1) & ~(min - 1);
    end &= ~(min - 1);
    unsigned n = 0;
    while (base < end && n < max) {
        unsigned bits = base ? (unsigned)__builtin_ctzll(base) : 63;
        if (bits > max_bits)
            bits = max_bits;
        while (bits > min_bits && base + BIT(bits) > end)
            bits--;
        out[n++] = (struct pith_untyped_desc){ .phys = base, .size_bits = (uint8_t)bits,
                                               .is_device = device };
        base += BIT(bits);
    }
    return n;
}
