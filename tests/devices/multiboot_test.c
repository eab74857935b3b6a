/* Multiboot v1 and v2 loaders over hand-built kernels: ELF32, ELF64, the a.out
 * kludge, v2 tags; the information each version promises; malformed images. */
#include "harness.h"
#include "boot/multiboot.h"

#define RAM_SIZE (4u << 20)             /* a 4 MiB guest */
static uint8_t ram[RAM_SIZE];
static uint8_t image[40 * 1024];

static const struct multiboot_map_entry pc_map[] = {
    { 0, 0x9fc00, 1 },
    { 0x9fc00, 0x400, 2 },
    { 0xf0000, 0x10000, 2 },
    { 0x100000, RAM_SIZE - 0x100000, 1 },
};

static void p32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void p16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void p64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t g32(uint64_t a) { uint32_t v; memcpy(&v, ram + a, 4); return v; }
static uint64_t g64(uint64_t a) { uint64_t v; memcpy(&v, ram + a, 8); return v; }

static struct multiboot_request request(uint64_t size)
{
    return (struct multiboot_request){
        .image = image, .image_size = size, .map = pc_map, .map_count = 4,
        .cmdline = "kernel console=ttyS0", .loader_name = "Pith",
    };
}

static struct multiboot_memory memory(void) { return (struct multiboot_memory){ ram, RAM_SIZE }; }

/* A v1 header at `at` with the a.out kludge: loads the file from offset `at - 0x40`
 * to 0x100000, header 0x40 into it; bss to load + 0x3000; entry at load + 0x80. */
static uint64_t aout_v1(unsigned at, uint32_t flags)
{
    memset(image, 0, sizeof(image));
    uint8_t *h = image + at;
    flags |= MB1_AOUT_KLUDGE;
    p32(h, MULTIBOOT1_HEADER_MAGIC);
    p32(h + 4, flags);
    p32(h + 8, -(MULTIBOOT1_HEADER_MAGIC + flags));
    p32(h + 12, 0x100040);                  /* header_addr */
    p32(h + 16, 0x100000);                  /* load_addr */
    p32(h + 20, 0x100000 + 0x1000);         /* load_end_addr */
    p32(h + 24, 0x100000 + 0x3000);         /* bss_end_addr */
    p32(h + 28, 0x100080);                  /* entry */
    for (unsigned i = 0; i < 0x1000; i++)
        if (at - 0x40 + i >= at + 32)
            image[at - 0x40 + i] = (uint8_t)(i | 1);
    return at - 0x40 + 0x1000 + 0x100;      /* some trailing bytes not loaded */
}

/* An ELF32 (or ELF64) image with two PT_LOAD segments: text at paddr 0x200000 (vaddr
 * 0xc0200000), data at 0x300000 with bss; headers first, then the segments. */
static uint64_t elf_image(bool wide, unsigned header_version)
{
    memset(image, 0, sizeof(image));
    memcpy(image, "\x7f" "ELF", 4);
    image[4] = wide ? 2 : 1;
    image[5] = 1;
    image[6] = 1;
    p16(image + 16, 2);
    p16(image + 18, wide ? 62 : 3);
    unsigned phoff = wide ? 64 : 52, phsz = wide ? 56 : 32;
    if (wide) {
        p64(image + 24, 0xc0200010);
        p64(image + 32, phoff);
        p16(image + 54, phsz);
        p16(image + 56, 3);
    } else {
        p32(image + 24, 0xc0200010);
        p32(image + 28, phoff);
        p16(image + 42, phsz);
        p16(image + 44, 3);
    }
    struct { uint32_t type; uint64_t off, vaddr, paddr, filesz, memsz; } ph[3] = {
        { 1, 0x1000, 0xc0200000, 0x200000, 0x800, 0x800 },
        { 4, 0, 0, 0, 0, 0 },                                /* PT_NOTE: skipped */
        { 1, 0x2000, 0xc0300000, 0x300000, 0x100, 0x2000 },
    };
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *p = image + phoff + i * phsz;
        p32(p, ph[i].type);
        if (wide) {
            p64(p + 8, ph[i].off); p64(p + 16, ph[i].vaddr); p64(p + 24, ph[i].paddr);
            p64(p + 32, ph[i].filesz); p64(p + 40, ph[i].memsz);
        } else {
            p32(p + 4, (uint32_t)ph[i].off); p32(p + 8, (uint32_t)ph[i].vaddr);
            p32(p + 12, (uint32_t)ph[i].paddr); p32(p + 16, (uint32_t)ph[i].filesz);
            p32(p + 20, (uint32_t)ph[i].memsz);
        }
    }
    for (unsigned i = 0; i < 0x800; i++)
        image[0x1000 + i] = (uint8_t)(0xa0 + (i & 0xf));
    for (unsigned i = 0; i < 0x100; i++)
        image[0x2000 + i] = 0xd0;
    if (header_version == 1) {
        uint8_t *h = image + 0x1000;            /* at the start of text */
        p32(h, MULTIBOOT1_HEADER_MAGIC);
        p32(h + 4, MB1_PAGE_ALIGN | MB1_MEMORY_INFO);
        p32(h + 8, -(MULTIBOOT1_HEADER_MAGIC + (MB1_PAGE_ALIGN | MB1_MEMORY_INFO)));
    }
    return 0x2100;
}

/* A v2 header at `at` with the given tags (already laid out), then the end tag. */
static void v2_header(unsigned at, const uint8_t *tags, unsigned tags_size)
{
    uint8_t *h = image + at;
    unsigned length = 16 + tags_size + 8;
    p32(h, MULTIBOOT2_HEADER_MAGIC);
    p32(h + 4, 0);
    p32(h + 8, length);
    p32(h + 12, -(MULTIBOOT2_HEADER_MAGIC + length));
    memcpy(h + 16, tags, tags_size);
    memset(h + 16 + tags_size, 0, 8);
    p32(h + 16 + tags_size + 4, 8);
}

static void check_mmap_v1(uint32_t info)
{
    CHECK_EQ(g32(info + 44), 4 * 24);
    uint32_t mm = g32(info + 48);
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(g32(mm + 24 * i), 20);
        CHECK_EQ(g64(mm + 24 * i + 4), pc_map[i].base);
        CHECK_EQ(g64(mm + 24 * i + 12), pc_map[i].length);
        CHECK_EQ(g32(mm + 24 * i + 20), pc_map[i].type);
    }
}

static void v1_aout_kludge(void)
{
    memset(ram, 0xcc, sizeof(ram));
    uint64_t size = aout_v1(0x200, MB1_PAGE_ALIGN | MB1_MEMORY_INFO);
    static const char mod0[] = "first module", mod1[] = "second";
    struct multiboot_module mods[2] = { { mod0, sizeof(mod0), "mod0 arg=1" }, { mod1, 6, "" } };
    struct multiboot_request r = request(size);
    r.modules = mods;
    r.module_count = 2;
    struct multiboot_boot b;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    CHECK_EQ(b.version, 1);
    CHECK(b.aout_kludge);
    CHECK_EQ(b.eax, MULTIBOOT1_LOADER_MAGIC);
    CHECK_EQ(b.entry, 0x100080);
    CHECK_EQ(b.load_start, 0x100000);
    CHECK_EQ(b.load_end, 0x103000);
    CHECK_EQ(ram[0x100040], 0x02);                      /* the header, at header_addr */
    CHECK_EQ(g32(0x100040), MULTIBOOT1_HEADER_MAGIC);
    CHECK_EQ(ram[0x100fff], 0xff);
    CHECK_EQ(ram[0x101000], 0);                         /* bss zeroed */
    CHECK_EQ(ram[0x102fff], 0);
    CHECK_EQ(ram[0x103000], (uint8_t)'f');                /* the first module, right after */

    uint32_t info = b.ebx;
    CHECK_EQ(info, b.info_address);
    CHECK(info < 0xa0000);
    uint32_t flags = g32(info);
    CHECK_EQ(flags, MB1_INFO_MEMORY | MB1_INFO_CMDLINE | MB1_INFO_MODS | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME);
    CHECK_EQ(g32(info + 4), 0x9fc00 / 1024);            /* mem_lower: 639 KiB */
    CHECK_EQ(g32(info + 8), (RAM_SIZE - 0x100000) / 1024);
    CHECK(strcmp((char *)ram + g32(info + 16), "kernel console=ttyS0") == 0);
    CHECK(strcmp((char *)ram + g32(info + 64), "Pith") == 0);
    check_mmap_v1(info);
    CHECK_EQ(g32(info + 20), 2);
    uint32_t m = g32(info + 24);
    uint32_t m0 = g32(m), m1 = g32(m + 16);
    CHECK_EQ(m0 % 4096, 0);
    CHECK_EQ(m1 % 4096, 0);
    CHECK(m0 >= 0x103000);                              /* above the kernel and its bss */
    CHECK_EQ(g32(m + 4), m0 + sizeof(mod0));
    CHECK(m1 >= g32(m + 4));                            /* no overlap */
    CHECK_EQ(g32(m + 20), m1 + 6);
    CHECK(memcmp(ram + m0, mod0, sizeof(mod0)) == 0);
    CHECK(memcmp(ram + m1, "second", 6) == 0);
    CHECK(strcmp((char *)ram + g32(m + 8), "mod0 arg=1") == 0);
    CHECK(strcmp((char *)ram + g32(m + 24), "") == 0);
    CHECK_EQ(g32(m + 12), 0);                           /* reserved */
}

static void v1_elf32_and_elf64(void)
{
    for (int wide = 0; wide < 2; wide++) {
        memset(ram, 0xcc, sizeof(ram));
        uint64_t size = elf_image(wide, 1);
        struct multiboot_request r = request(size);
        r.cmdline = NULL;
        struct multiboot_boot b;
        CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
        CHECK_EQ(b.version, 1);
        CHECK(!b.aout_kludge);
        CHECK_EQ(b.segments, 2);
        CHECK_EQ(b.entry, 0x200010);                    /* virtual entry, moved to physical */
        CHECK_EQ(ram[0x200000], 0x02);                  /* the header starts text */
        CHECK_EQ(ram[0x2007ff], 0xaf);
        CHECK_EQ(ram[0x200800], 0xcc);                  /* the gap is untouched */
        CHECK_EQ(ram[0x300000], 0xd0);
        CHECK_EQ(ram[0x300100], 0);                     /* bss */
        CHECK_EQ(ram[0x301fff], 0);
        CHECK_EQ(ram[0x302000], 0xcc);
        CHECK_EQ(b.load_end, 0x302000);
        CHECK_EQ(ram[g32(b.ebx + 16)], 0);              /* no command line: an empty one */
        CHECK_EQ(g32(b.ebx) & MB1_INFO_MODS, 0);
    }
}

static void v1_video_gets_text_framebuffer(void)
{
    uint64_t size = aout_v1(0x40, MB1_VIDEO_MODE);
    struct multiboot_request r = request(size);
    struct multiboot_boot b;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    CHECK(g32(b.ebx) & MB1_INFO_FRAMEBUFFER);
    CHECK_EQ(g64(b.ebx + 88), 0xb8000);
    CHECK_EQ(g32(b.ebx + 100), 80);
    CHECK_EQ(g32(b.ebx + 104), 25);
    CHECK_EQ(ram[b.ebx + 109], 2);                      /* EGA text */
}

static void v1_header_search_limits(void)
{
    struct multiboot_boot b;
    /* the last 4-byte slot whose 12 bytes fit in 8 KiB is found */
    uint64_t size = aout_v1(8192 - 12, 0);
    struct multiboot_request r = request(size);
    CHECK_EQ(multiboot_parse(&r, &b), MULTIBOOT_OK);
    CHECK_EQ(b.header_offset, 8192 - 12);
    /* at 8 KiB: not searched */
    size = aout_v1(8192, 0);
    r = request(size);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_NO_HEADER);
    /* misaligned magic is not a header */
    memset(image, 0, sizeof(image));
    p32(image + 0x102, MULTIBOOT1_HEADER_MAGIC);
    r = request(0x1000);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_NO_HEADER);
    /* tiny and empty images */
    r = request(4);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_NO_HEADER);
    r.image = NULL;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_NO_HEADER);
    CHECK(strstr(multiboot_error_name(MULTIBOOT_ERR_NO_HEADER), "no multiboot header") != NULL);
}

static void v1_malformed(void)
{
    struct multiboot_boot b;
    struct multiboot_request r;
    /* checksum */
    r = request(aout_v1(0x200, 0));
    image[0x208] ^= 1;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_CHECKSUM);
    /* an unknown required flag (bit 3) */
    r = request(aout_v1(0x200, 0x8));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_FLAGS);
    /* unknown optional flags (bits 16-31 beyond the kludge) are fine */
    r = request(aout_v1(0x200, 0x00200000));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    /* load_addr above header_addr */
    r = request(aout_v1(0x200, 0));
    p32(image + 0x200 + 16, 0x100080);
    p32(image + 0x208, -(MULTIBOOT1_HEADER_MAGIC + MB1_AOUT_KLUDGE));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ADDRESSES);
    /* header_addr - load_addr larger than the header's offset: before the file */
    r = request(aout_v1(0x200, 0));
    p32(image + 0x200 + 16, 0x100040 - 0x1000);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ADDRESSES);
    /* load_end past the file */
    r = request(aout_v1(0x200, 0));
    p32(image + 0x200 + 20, 0x100000 + 0x100000);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ADDRESSES);
    /* bss_end below load_end */
    r = request(aout_v1(0x200, 0));
    p32(image + 0x200 + 24, 0x100800);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ADDRESSES);
    /* entry outside the image */
    r = request(aout_v1(0x200, 0));
    p32(image + 0x200 + 28, 0x500000);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ENTRY);
    /* load_end 0: to the end of the file; bss_end 0: no bss */
    uint64_t size = aout_v1(0x200, 0);
    r = request(size);
    p32(image + 0x200 + 20, 0);
    p32(image + 0x200 + 24, 0);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    CHECK_EQ(b.load_end, 0x100000 + size - (0x200 - 0x40));
    /* the header cut off by the end of the file */
    r = request(0x200 + 16);
    aout_v1(0x200, 0);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ADDRESSES);
}

static void segments_outside_ram(void)
{
    struct multiboot_boot b;
    struct multiboot_request r = request(aout_v1(0x200, 0));
    /* load at 0xa0000: the hole between conventional memory and 1 MiB */
    p32(image + 0x200 + 12, 0xa0040);
    p32(image + 0x200 + 16, 0xa0000);
    p32(image + 0x200 + 20, 0xa1000);
    p32(image + 0x200 + 24, 0xa3000);
    p32(image + 0x200 + 28, 0xa0080);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_PLACEMENT);
    /* beyond the guest's 4 MiB */
    p32(image + 0x200 + 12, 0x800040);
    p32(image + 0x200 + 16, 0x800000);
    p32(image + 0x200 + 20, 0x801000);
    p32(image + 0x200 + 24, 0x803000);
    p32(image + 0x200 + 28, 0x800080);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_PLACEMENT);
    /* a bss crossing the end of RAM */
    aout_v1(0x200, 0);
    p32(image + 0x200 + 12, RAM_SIZE - 0x1000 + 0x40);
    p32(image + 0x200 + 16, RAM_SIZE - 0x1000);
    p32(image + 0x200 + 20, RAM_SIZE);
    p32(image + 0x200 + 24, RAM_SIZE + 0x1000);
    p32(image + 0x200 + 28, RAM_SIZE - 0x1000 + 0x80);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_PLACEMENT);
    /* the map says RAM, but the VMM's view is smaller */
    aout_v1(0x200, 0);
    struct multiboot_memory small = { ram, 0x101000 };
    CHECK_EQ(multiboot_load(&r, small, &b), MULTIBOOT_ERR_PLACEMENT);
    /* bad maps */
    r.map_count = 0;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_RAM_MAP);
    struct multiboot_map_entry wrap[] = { { 0xfffffffffffff000ull, 0x2000, 1 } };
    r.map = wrap;
    r.map_count = 1;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_RAM_MAP);
    struct multiboot_map_entry none[] = { { 0, 0x100000, 2 } };
    r.map = none;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_RAM_MAP);
}

static void elf_malformed(void)
{
    struct multiboot_boot b;
    struct multiboot_request r;
    /* overlapping PT_LOAD segments */
    r = request(elf_image(false, 1));
    p32(image + 52 + 64 + 12, 0x200400);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_SEGMENTS);
    /* a segment's file bytes past the end of the file */
    r = request(elf_image(false, 1));
    p32(image + 52 + 64 + 16, 0x10000);
    p32(image + 52 + 64 + 20, 0x10000);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_SEGMENTS);
    /* filesz > memsz */
    r = request(elf_image(false, 1));
    p32(image + 52 + 64 + 20, 0x10);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_SEGMENTS);
    /* program headers past the file */
    r = request(elf_image(false, 1));
    p32(image + 28, 0x20f0);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ELF);
    /* wrong machine; not executable; big-endian */
    r = request(elf_image(false, 1));
    p16(image + 18, 40);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ELF);
    r = request(elf_image(false, 1));
    p16(image + 16, 3);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ELF);
    r = request(elf_image(false, 1));
    image[5] = 2;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ELF);
    /* not ELF at all and no address fields */
    r = request(elf_image(false, 1));
    image[1] = 'X';
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ELF);
    /* no loadable segment */
    r = request(elf_image(false, 1));
    p32(image + 52, 0);
    p32(image + 52 + 64, 0);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_SEGMENTS);
    /* entry outside every segment */
    r = request(elf_image(false, 1));
    p32(image + 24, 0x10);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ENTRY);
}

static void v2_elf_with_tags(void)
{
    memset(ram, 0xcc, sizeof(ram));
    uint64_t size = elf_image(false, 0);
    uint8_t tags[64] = { 0 };
    /* information request: cmdline, mmap, ACPI new */
    p16(tags, MB2_HTAG_INFO_REQUEST); p32(tags + 4, 20);
    p32(tags + 8, MB2_TAG_CMDLINE); p32(tags + 12, MB2_TAG_MMAP); p32(tags + 16, MB2_TAG_ACPI_NEW);
    /* module alignment, console flags */
    p16(tags + 24, MB2_HTAG_MODULE_ALIGN); p32(tags + 28, 8);
    p16(tags + 32, MB2_HTAG_CONSOLE); p32(tags + 36, 12); p32(tags + 40, 0);
    v2_header(0x1000, tags, 48);
    uint8_t rsdp[36] = "RSD PTR ";
    rsdp[15] = 2;
    rsdp[16] = 0x34;
    static const char mod[] = "module data";
    struct multiboot_module mods[1] = { { mod, sizeof(mod), "initrd.img quiet" } };
    struct multiboot_request r = request(size);
    r.modules = mods;
    r.module_count = 1;
    r.rsdp = rsdp;
    r.rsdp_size = 36;
    struct multiboot_boot b;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    CHECK_EQ(b.version, 2);
    CHECK_EQ(b.eax, MULTIBOOT2_LOADER_MAGIC);
    CHECK_EQ(b.entry, 0x200010);
    CHECK_EQ(b.ebx % 8, 0);
    uint32_t total = g32(b.ebx);
    CHECK_EQ(total, b.info_size);
    CHECK_EQ(g32(b.ebx + 4), 0);
    /* walk the tags */
    unsigned seen = 0;
    for (uint32_t off = 8; off < total; ) {
        uint32_t type = g32(b.ebx + off), tsize = g32(b.ebx + off + 4);
        uint64_t p = b.ebx + off + 8;
        CHECK(tsize >= 8);
        seen |= 1u << type;
        if (type == MB2_TAG_CMDLINE)
            CHECK(strcmp((char *)ram + p, "kernel console=ttyS0") == 0);
        if (type == MB2_TAG_LOADER_NAME)
            CHECK(strcmp((char *)ram + p, "Pith") == 0);
        if (type == MB2_TAG_MODULE) {
            uint32_t start = g32(p), end = g32(p + 4);
            CHECK_EQ(start % 4096, 0);
            CHECK(start >= 0x302000);
            CHECK_EQ(end - start, sizeof(mod));
            CHECK(memcmp(ram + start, mod, sizeof(mod)) == 0);
            CHECK(strcmp((char *)ram + p + 8, "initrd.img quiet") == 0);
        }
        if (type == MB2_TAG_BASIC_MEMINFO) {
            CHECK_EQ(g32(p), 639);
            CHECK_EQ(g32(p + 4), (RAM_SIZE - 0x100000) / 1024);
        }
        if (type == MB2_TAG_MMAP) {
            CHECK_EQ(g32(p), 24);
            CHECK_EQ(g32(p + 4), 0);
            CHECK_EQ(tsize, 16 + 4 * 24);
            for (unsigned i = 0; i < 4; i++) {
                CHECK_EQ(g64(p + 8 + 24 * i), pc_map[i].base);
                CHECK_EQ(g64(p + 16 + 24 * i), pc_map[i].length);
                CHECK_EQ(g32(p + 24 + 24 * i), pc_map[i].type);
            }
        }
        if (type == MB2_TAG_ACPI_OLD) {
            CHECK_EQ(tsize, 28);
            CHECK(memcmp(ram + p, "RSD PTR ", 8) == 0);
        }
        if (type == MB2_TAG_ACPI_NEW) {
            CHECK_EQ(tsize, 44);
            CHECK_EQ(ram[p + 16], 0x34);
        }
        if (type == MB2_TAG_LOAD_BASE)
            CHECK_EQ(g32(p), 0x200000);
        if (type == MB2_TAG_END) {
            CHECK_EQ(tsize, 8);
            CHECK_EQ(off + 8, total);
        }
        off += (tsize + 7) & ~7u;
    }
    CHECK_EQ(seen, 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 6 | 1u << 14 | 1u << 15 | 1u << 21);
    /* a version 1 RSDP: only the old tag */
    rsdp[15] = 0;
    r.rsdp_size = 20;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    CHECK_EQ(b.info_size, 8 + 32 + 8 + 32 + 16 + 16 + 112 + 16 + 32 + 8);
}

static void v2_address_and_entry_tags(void)
{
    memset(image, 0, sizeof(image));
    memset(ram, 0xcc, sizeof(ram));
    uint8_t tags[48] = { 0 };
    p16(tags, MB2_HTAG_ADDRESS); p32(tags + 4, 24);
    p32(tags + 8, 0x100000 + 0x100);        /* header_addr: the header is at 0x100 */
    p32(tags + 12, 0xffffffff);             /* load_addr: from the file's start */
    p32(tags + 16, 0);                      /* load_end: the whole file */
    p32(tags + 20, 0x110000);               /* bss_end */
    p16(tags + 24, MB2_HTAG_ENTRY); p32(tags + 28, 12); p32(tags + 32, 0x100200);
    v2_header(0x100, tags, 40);
    image[0x1ff0] = 0x5a;
    struct multiboot_request r = request(0x2000);
    struct multiboot_boot b;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    CHECK(b.aout_kludge);
    CHECK_EQ(b.entry, 0x100200);
    CHECK_EQ(b.load_start, 0x100000);
    CHECK_EQ(b.load_end, 0x110000);
    CHECK_EQ(ram[0x101ff0], 0x5a);
    CHECK_EQ(ram[0x10fff0], 0);
    CHECK_EQ(g32(0x100100), MULTIBOOT2_HEADER_MAGIC);
    /* an address tag without an entry tag, on a file that is not ELF */
    p16(tags + 24, MB2_HTAG_CONSOLE);
    v2_header(0x100, tags, 40);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ENTRY);
}

static void v2_malformed(void)
{
    struct multiboot_boot b;
    struct multiboot_request r = request(elf_image(false, 0));
    uint8_t tags[32] = { 0 };
    /* checksum */
    v2_header(0x1000, tags, 0);
    image[0x100c] ^= 1;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_CHECKSUM);
    /* architecture 4 (MIPS) */
    v2_header(0x1000, tags, 0);
    p32(image + 0x1004, 4);
    p32(image + 0x100c, -(MULTIBOOT2_HEADER_MAGIC + 4 + 24));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_ARCHITECTURE);
    /* a required unknown tag; the same tag optional */
    p16(tags, 77); p32(tags + 4, 8);
    v2_header(0x1000, tags, 8);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAG_UNSUPPORTED);
    p16(tags + 2, MB2_HTAG_OPTIONAL);
    v2_header(0x1000, tags, 8);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    /* a required request for the EFI memory map (17); optional: accepted */
    memset(tags, 0, sizeof(tags));
    p16(tags, MB2_HTAG_INFO_REQUEST); p32(tags + 4, 12); p32(tags + 8, 17);
    v2_header(0x1000, tags, 16);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAG_UNSUPPORTED);
    p16(tags + 2, MB2_HTAG_OPTIONAL);
    v2_header(0x1000, tags, 16);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    /* an EFI entry point that is required */
    memset(tags, 0, sizeof(tags));
    p16(tags, MB2_HTAG_ENTRY_EFI64); p32(tags + 4, 12);
    v2_header(0x1000, tags, 16);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAG_UNSUPPORTED);
    /* a tag whose size runs past header_length, a tag smaller than 8, no end tag */
    memset(tags, 0, sizeof(tags));
    p16(tags, MB2_HTAG_CONSOLE); p32(tags + 4, 400);
    v2_header(0x1000, tags, 8);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAGS);
    p32(tags + 4, 4);
    v2_header(0x1000, tags, 8);
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAGS);
    p32(tags + 4, 8);
    v2_header(0x1000, tags, 8);
    p32(image + 0x1000 + 8, 24);            /* header_length stops before the end tag */
    p32(image + 0x100c, -(MULTIBOOT2_HEADER_MAGIC + 24));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAGS);
    /* header_length past the file */
    v2_header(0x1000, tags, 8);
    p32(image + 0x1008, 0x10000);
    p32(image + 0x100c, -(MULTIBOOT2_HEADER_MAGIC + 0x10000));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_TAGS);
    /* the v2 header beyond 32 KiB: not found (and no v1 header either) */
    memset(image, 0, sizeof(image));
    v2_header(32768, tags, 0);
    r = request(sizeof(image));
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_NO_HEADER);
    /* within 32 KiB but past 8 KiB: found */
    memset(image, 0, sizeof(image));
    elf_image(false, 0);
    v2_header(0x6000, tags, 0);
    r = request(sizeof(image));
    CHECK_EQ(multiboot_parse(&r, &b), MULTIBOOT_OK);
    CHECK_EQ(b.header_offset, 0x6000);
}

static void modules_without_room(void)
{
    struct multiboot_boot b;
    struct multiboot_request r = request(aout_v1(0x200, 0));
    static uint8_t big[RAM_SIZE];
    struct multiboot_module mods[2] = { { big, RAM_SIZE - 0x100000 - 0x3000, "a" }, { big, 1, "b" } };
    r.modules = mods;
    r.module_count = 1;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);   /* exactly fills RAM */
    r.module_count = 2;                                         /* one more byte: none */
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_MODULES);
    mods[0].size = RAM_SIZE;
    r.module_count = 1;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_MODULES);
    mods[0].data = NULL;
    mods[0].size = 5;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_MODULES);
    r.module_count = MULTIBOOT_MAX_MODULES + 1;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_ERR_MODULES);
    /* many small modules: every one on its own page, none overlapping */
    struct multiboot_module many[MULTIBOOT_MAX_MODULES];
    for (unsigned i = 0; i < MULTIBOOT_MAX_MODULES; i++)
        many[i] = (struct multiboot_module){ big, 4097, "m" };
    r.modules = many;
    r.module_count = MULTIBOOT_MAX_MODULES;
    CHECK_EQ(multiboot_load(&r, memory(), &b), MULTIBOOT_OK);
    for (unsigned i = 1; i < MULTIBOOT_MAX_MODULES; i++)
        CHECK_EQ(b.module_address[i], b.module_address[i - 1] + 8192);
    CHECK(b.info_address + b.info_size <= 0xa0000);
}

DEVICE_TESTS(multiboot,
    { "multiboot_v1_aout_kludge", v1_aout_kludge },
    { "multiboot_v1_elf32_and_elf64", v1_elf32_and_elf64 },
    { "multiboot_v1_video_gets_text_framebuffer", v1_video_gets_text_framebuffer },
    { "multiboot_v1_header_search_limits", v1_header_search_limits },
    { "multiboot_v1_malformed", v1_malformed },
    { "multiboot_segments_outside_ram", segments_outside_ram },
    { "multiboot_elf_malformed", elf_malformed },
    { "multiboot_v2_elf_with_tags", v2_elf_with_tags },
    { "multiboot_v2_address_and_entry_tags", v2_address_and_entry_tags },
    { "multiboot_v2_malformed", v2_malformed },
    { "multiboot_modules_without_room", modules_without_room })
