/* Multiboot2 parsing and the range arithmetic behind the untyped capabilities. */
#include "unit.h"
#include "bootmem.h"

/* A hand-made multiboot2 information block. */
struct mbi_builder {
    uint8_t buf[1024] __attribute__((aligned(8)));
    uint32_t used;
};

static void *tag(struct mbi_builder *b, uint32_t type, uint32_t size)
{
    uint8_t *t = b->buf + b->used;
    memcpy(t, &type, 4);
    memcpy(t + 4, &size, 4);
    b->used += (size + 7) & ~7u;
    return t;
}

static void begin(struct mbi_builder *b)
{
    memset(b, 0, sizeof(*b));
    b->used = 8;
}

static void finish(struct mbi_builder *b)
{
    tag(b, 0, 8);
    memcpy(b->buf, &b->used, 4);
}

static void add_mmap(struct mbi_builder *b, const uint64_t (*entries)[3], unsigned n)
{
    uint8_t *t = tag(b, 6, 16 + 24 * n);
    uint32_t entry_size = 24, version = 0;
    memcpy(t + 8, &entry_size, 4);
    memcpy(t + 12, &version, 4);
    for (unsigned i = 0; i < n; i++) {
        uint32_t type = (uint32_t)entries[i][2];
        memcpy(t + 16 + 24 * i, &entries[i][0], 8);
        memcpy(t + 24 + 24 * i, &entries[i][1], 8);
        memcpy(t + 32 + 24 * i, &type, 4);
    }
}

static const uint64_t qemu_map[][3] = {
    { 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0x100000, 0x1fee0000, 1 }, { 0xfffc0000, 0x40000, 2 } };

static void parses_memory_map_modules_cmdline(void)
{
    struct mbi_builder b;
    static struct boot_params p;
    begin(&b);
    char *cmd = tag(&b, 1, 8 + 6);
    memcpy(cmd + 8, "quiet", 6);
    uint8_t *mod = tag(&b, 3, 16 + 5);
    uint32_t start = 0x200000, end = 0x201234;
    memcpy(mod + 8, &start, 4);
    memcpy(mod + 12, &end, 4);
    memcpy(mod + 16, "root", 5);
    add_mmap(&b, qemu_map, 4);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_OK);
    CHECK_EQ(p.memmap_count, 4);
    CHECK_EQ(p.memmap[2].base, 0x100000);
    CHECK_EQ(p.memmap[2].length, 0x1fee0000);
    CHECK_EQ(p.memmap[1].type, 2);
    CHECK_EQ(p.module_count, 1);
    CHECK_EQ(p.modules[0].start, 0x200000);
    CHECK_EQ(p.modules[0].end, 0x201234);
    CHECK(strcmp(p.modules[0].name, "root") == 0);
    CHECK(strcmp(p.cmdline, "quiet") == 0);
}

/* ACPI RSDP tags: the newer copy wins whatever the order; a long tag is cut. */
static void keeps_the_newer_rsdp(void)
{
    struct mbi_builder b;
    static struct boot_params p;
    begin(&b);
    add_mmap(&b, qemu_map, 4);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_OK);
    CHECK_EQ(p.rsdp_size, 0);
    begin(&b);
    uint8_t *newer = tag(&b, 15, 8 + 40);
    memset(newer + 8, 'n', 40);
    uint8_t *older = tag(&b, 14, 8 + 20);
    memset(older + 8, 'o', 20);
    add_mmap(&b, qemu_map, 4);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_OK);
    CHECK_EQ(p.rsdp_size, 36);
    CHECK_EQ(p.rsdp[0], 'n');
    CHECK_EQ(p.rsdp[35], 'n');
    begin(&b);
    older = tag(&b, 14, 8 + 20);
    memset(older + 8, 'o', 20);
    add_mmap(&b, qemu_map, 4);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_OK);
    CHECK_EQ(p.rsdp_size, 20);
    CHECK_EQ(p.rsdp[19], 'o');
}

static void rejects_bad_sizes_and_tags(void)
{
    struct mbi_builder b;
    static struct boot_params p;
    begin(&b);
    add_mmap(&b, qemu_map, 1);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, 16, &p), MBI_BAD_SIZE);
    /* a tag claiming to run past the end */
    uint32_t huge = 4096;
    memcpy(b.buf + 12, &huge, 4);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_BAD_TAG);
}

static void requires_memory_map(void)
{
    struct mbi_builder b;
    static struct boot_params p;
    begin(&b);
    char *cmd = tag(&b, 1, 8 + 2);
    memcpy(cmd + 8, "x", 2);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_NO_MEMORY_MAP);
}

static void module_end_before_start_rejected(void)
{
    struct mbi_builder b;
    static struct boot_params p;
    begin(&b);
    uint8_t *mod = tag(&b, 3, 16 + 1);
    uint32_t start = 0x300000, end = 0x200000;
    memcpy(mod + 8, &start, 4);
    memcpy(mod + 12, &end, 4);
    add_mmap(&b, qemu_map, 4);
    finish(&b);
    CHECK_EQ(mbi_parse(b.buf, sizeof(b.buf), &p), MBI_BAD_TAG);
}

static void ranges_merge_and_split(void)
{
    struct range_set s = { .count = 0 };
    ranges_add(&s, 0x1000, 0x3000);
    ranges_add(&s, 0x5000, 0x6000);
    ranges_add(&s, 0x3000, 0x5000);            /* joins both */
    CHECK_EQ(s.count, 1);
    CHECK_EQ(s.r[0].base, 0x1000);
    CHECK_EQ(s.r[0].end, 0x6000);
    ranges_remove(&s, 0x2000, 0x4000);         /* splits */
    CHECK_EQ(s.count, 2);
    CHECK_EQ(s.r[0].end, 0x2000);
    CHECK_EQ(s.r[1].base, 0x4000);
    CHECK_EQ(ranges_total(&s), 0x3000);
    ranges_remove(&s, 0, 0x10000);
    CHECK_EQ(s.count, 0);
}

static void ranges_sorted(void)
{
    struct range_set s = { .count = 0 };
    ranges_add(&s, 0x9000, 0xa000);
    ranges_add(&s, 0x1000, 0x2000);
    ranges_add(&s, 0x5000, 0x6000);
    CHECK_EQ(s.count, 3);
    CHECK(s.r[0].base < s.r[1].base && s.r[1].base < s.r[2].base);
    ranges_remove(&s, 0x1800, 0x9800);
    CHECK_EQ(s.count, 2);
    CHECK_EQ(s.r[0].end, 0x1800);
    CHECK_EQ(s.r[1].base, 0x9800);
}

static void blocks_are_aligned_and_cover(void)
{
    struct pith_untyped_desc out[64];
    uint64_t base = 0x101000, end = 0x1ffe0000;
    unsigned n = range_to_blocks(base, end, 12, 47, out, 64, false);
    uint64_t at = base, total = 0;
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(out[i].phys, at);
        CHECK_EQ(out[i].phys & (BIT(out[i].size_bits) - 1), 0);
        at += BIT(out[i].size_bits);
        total += BIT(out[i].size_bits);
    }
    CHECK_EQ(at, end);
    CHECK_EQ(total, end - base);
    CHECK(n < 40);
}

static void blocks_respect_limits(void)
{
    struct pith_untyped_desc out[4];
    unsigned n = range_to_blocks(0x1234, 0x100000, 12, 16, out, 4, true);
    CHECK_EQ(n, 4);                             /* cut at the array size */
    CHECK_EQ(out[0].phys, 0x2000);              /* rounded up to 4 KiB */
    CHECK(out[0].is_device);
    for (unsigned i = 0; i < n; i++)
        CHECK(out[i].size_bits <= 16);
    CHECK_EQ(range_to_blocks(0x1000, 0x1800, 12, 47, out, 4, false), 0);
}

/* QEMU's map with -m 6G: 3 GiB below the PCI hole, 3 GiB from 4 GiB on. */
static const struct pith_memmap_entry six_gib[] = {
    { 0, 0x9fc00, 1, 0 }, { 0x100000, 0xbfee0000, 1, 0 }, { 0xfffc0000, 0x40000, 2, 0 },
    { 0x100000000, 0xc0000000, 1, 0 } };

static void high_ram_of_qemu_6g(void)
{
    struct range_set high;
    ranges_high_ram(six_gib, 4, 4ull << 30, 512ull << 30, 21, &high);
    CHECK_EQ(high.count, 1);
    CHECK_EQ(high.r[0].base, 4ull << 30);
    CHECK_EQ(high.r[0].end, 7ull << 30);
    ranges_high_ram(six_gib, 3, 4ull << 30, 512ull << 30, 21, &high);
    CHECK_EQ(high.count, 0);                    /* nothing above 4 GiB */
}

/* A range across 4 GiB keeps only its part above; ragged ends are rounded inward to
 * the page size; adjacent entries merge first; reserved memory and what lies past the
 * limit stay out; an entry whose end wraps stops at the limit. */
static void high_ram_edges(void)
{
    const struct pith_memmap_entry map[] = {
        { 0xc0000000, 0x80000000, 1, 0 },               /* 3 GiB .. 5 GiB */
        { 0x140000000, 0x123000, 1, 0 },                /* touches it: 5 GiB + 1.1 MiB */
        { 0x180001000, 0x400000, 1, 0 },                /* 6 GiB + 4 KiB, 4 MiB long */
        { 0x1c0000000, 0x40000000, 2, 0 },              /* reserved */
        { 0x7f00000000, 0x300000000, 1, 0 },            /* 508 GiB .. 520 GiB */
        { 0xfffffffffff00000, 0x200000, 1, 0 },         /* wraps */
    };
    struct range_set high;
    ranges_high_ram(map, 6, 4ull << 30, 512ull << 30, 21, &high);
    CHECK_EQ(high.count, 3);
    CHECK_EQ(high.r[0].base, 4ull << 30);
    CHECK_EQ(high.r[0].end, 0x140000000);               /* the 1.1 MiB tail is less than a page */
    CHECK_EQ(high.r[1].base, 0x180200000);
    CHECK_EQ(high.r[1].end, 0x180400000);
    CHECK_EQ(high.r[2].base, 0x7f00000000);
    CHECK_EQ(high.r[2].end, 512ull << 30);
    /* The untyped blocks of such a range never straddle 4 GiB: free RAM from 1 MiB to
     * 5 GiB (both sides joined) splits at 4 GiB. */
    struct pith_untyped_desc out[64];
    unsigned n = range_to_blocks(0x100000, 5ull << 30, 12, 47, out, 64, false);
    uint64_t below = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t end = out[i].phys + BIT(out[i].size_bits);
        CHECK(out[i].phys >= (4ull << 30) || end <= (4ull << 30));
        below += out[i].phys < (4ull << 30) ? BIT(out[i].size_bits) : 0;
    }
    CHECK_EQ(below, (4ull << 30) - 0x100000);
}

UNIT_TABLE(bootmem,
    { "mbi_parses_memory_map_modules_cmdline", parses_memory_map_modules_cmdline },
    { "mbi_keeps_the_newer_rsdp", keeps_the_newer_rsdp },
    { "mbi_rejects_bad_sizes_and_tags", rejects_bad_sizes_and_tags },
    { "mbi_requires_memory_map", requires_memory_map },
    { "mbi_module_end_before_start", module_end_before_start_rejected },
    { "ranges_merge_and_split", ranges_merge_and_split },
    { "ranges_sorted", ranges_sorted },
    { "blocks_aligned_and_cover", blocks_are_aligned_and_cover },
    { "blocks_respect_limits", blocks_respect_limits },
    { "high_ram_of_qemu_6g", high_ram_of_qemu_6g },
    { "high_ram_edges", high_ram_edges },
)
