/* Multiboot (v1) information parsing (kernel/multiboot1.c): a hand-made block in a
 * small stand-in for physical memory, laid out the way QEMU's -kernel loader does. */
#include <stdlib.h>
#include "unit.h"
#include "bootmem.h"

#define MEM_SIZE  0x4000u
#define INFO_AT   0x1000u
#define MMAP_AT   0x1100u
#define MODS_AT   0x1400u
#define STRS_AT   0x1600u
#define MOD_DATA  0x2000u

struct fake {
    uint8_t *mem;       /* heap, so ASan sees a read past MEM_SIZE */
    uint32_t strings;   /* next free byte for a string */
};

static void put32(struct fake *f, uint32_t at, uint32_t v) { memcpy(f->mem + at, &v, 4); }
static void put64(struct fake *f, uint32_t at, uint64_t v) { memcpy(f->mem + at, &v, 8); }

static uint32_t put_string(struct fake *f, const char *s)
{
    uint32_t at = f->strings;
    memcpy(f->mem + at, s, strlen(s) + 1);
    f->strings += (uint32_t)strlen(s) + 1;
    return at;
}

static const uint64_t e820[][3] = {
    { 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0x100000, 0x1fee0000, 1 }, { 0xfffc0000, 0x40000, 2 } };

/* flags: memory, cmdline, modules, memory map; two modules; QEMU's e820 map. */
static void build(struct fake *f)
{
    f->mem = calloc(1, MEM_SIZE);
    f->strings = STRS_AT;
    put32(f, INFO_AT, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6));
    put32(f, INFO_AT + 4, 639);
    put32(f, INFO_AT + 8, 523136);
    put32(f, INFO_AT + 16, put_string(f, "build/kernel.elf pith.clock=42 quiet"));
    put32(f, INFO_AT + 20, 2);
    put32(f, INFO_AT + 24, MODS_AT);
    put32(f, INFO_AT + 44, 4 * 24);
    put32(f, INFO_AT + 48, MMAP_AT);
    for (unsigned i = 0; i < 4; i++) {
        put32(f, MMAP_AT + 24 * i, 20);
        put64(f, MMAP_AT + 24 * i + 4, e820[i][0]);
        put64(f, MMAP_AT + 24 * i + 12, e820[i][1]);
        put32(f, MMAP_AT + 24 * i + 20, (uint32_t)e820[i][2]);
    }
    put32(f, MODS_AT, MOD_DATA);
    put32(f, MODS_AT + 4, MOD_DATA + 0x123);
    put32(f, MODS_AT + 8, put_string(f, "build/root.elf root"));
    put32(f, MODS_AT + 16, MOD_DATA + 0x1000);
    put32(f, MODS_AT + 20, MOD_DATA + 0x1800);
    put32(f, MODS_AT + 24, put_string(f, "guests/configs/bench-linux.conf  system.conf"));
}

static int parse(struct fake *f, struct boot_params *p)
{
    int err = mb1_parse(f->mem, MEM_SIZE, INFO_AT, p);
    free(f->mem);
    return err;
}

static void parses_qemu_information(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    CHECK_EQ(parse(&f, &p), MB1_OK);
    CHECK_EQ(p.memmap_count, 4);
    CHECK_EQ(p.memmap[2].base, 0x100000);
    CHECK_EQ(p.memmap[2].length, 0x1fee0000);
    CHECK_EQ(p.memmap[3].type, 2);
    CHECK_EQ(p.module_count, 2);
    CHECK_EQ(p.modules[0].start, MOD_DATA);
    CHECK_EQ(p.modules[0].end, MOD_DATA + 0x123);
    CHECK(strcmp(p.modules[0].name, "root") == 0);
    CHECK(strcmp(p.modules[1].name, "system.conf") == 0);
    CHECK(strcmp(p.cmdline, "pith.clock=42 quiet") == 0);
    CHECK_EQ(p.rsdp_size, 0);
    /* the block, the map, the module list and the strings, kept out of free RAM */
    CHECK(p.info_ranges.count >= 1);
    uint64_t covered = 0;
    for (unsigned i = 0; i < p.info_ranges.count; i++) {
        CHECK(p.info_ranges.r[i].base >= INFO_AT && p.info_ranges.r[i].end <= MOD_DATA);
        covered += p.info_ranges.r[i].end - p.info_ranges.r[i].base;
    }
    CHECK(covered >= 52 + 4 * 24 + 2 * 16);
}

/* A module string of one word is the name; the kernel's path alone leaves no command line. */
static void single_words(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    put32(&f, INFO_AT + 16, put_string(&f, "build/kernel.elf"));
    put32(&f, MODS_AT + 8, put_string(&f, "ktest"));
    put32(&f, MODS_AT + 24, 0);
    CHECK_EQ(parse(&f, &p), MB1_OK);
    CHECK(strcmp(p.cmdline, "") == 0);
    CHECK(strcmp(p.modules[0].name, "ktest") == 0);
    CHECK(strcmp(p.modules[1].name, "") == 0);
}

static void truncated_mmap(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    put32(&f, INFO_AT + 44, 4 * 24 - 3);           /* the last entry cut short */
    CHECK_EQ(parse(&f, &p), MB1_BAD_MMAP_ENTRY);
    build(&f);
    put32(&f, MMAP_AT + 24, 8);                     /* an entry too small to hold one */
    CHECK_EQ(parse(&f, &p), MB1_BAD_MMAP_ENTRY);
    build(&f);
    put32(&f, INFO_AT + 48, MEM_SIZE - 24);         /* the map runs past memory */
    CHECK_EQ(parse(&f, &p), MB1_MMAP_OUT_OF_BOUNDS);
    build(&f);
    put32(&f, INFO_AT + 44, 0);                     /* an empty map */
    CHECK_EQ(parse(&f, &p), MB1_NO_MEMORY_MAP);
}

static void module_past_the_end(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    put32(&f, MODS_AT + 20, MEM_SIZE + 1);          /* the module's bytes */
    CHECK_EQ(parse(&f, &p), MB1_BAD_MODULE);
    build(&f);
    put32(&f, MODS_AT + 4, MOD_DATA - 1);           /* ends before it starts */
    CHECK_EQ(parse(&f, &p), MB1_BAD_MODULE);
    build(&f);
    put32(&f, INFO_AT + 24, MEM_SIZE - 16);         /* the list: its second entry */
    CHECK_EQ(parse(&f, &p), MB1_MODULES_OUT_OF_BOUNDS);
    build(&f);
    put32(&f, INFO_AT + 20, 0x10000001);            /* a count that wraps 32 bits */
    CHECK_EQ(parse(&f, &p), MB1_TOO_MANY_MODULES);
    build(&f);
    put32(&f, MODS_AT + 8, MEM_SIZE + 100);         /* its string */
    CHECK_EQ(parse(&f, &p), MB1_BAD_STRING);
    build(&f);
    memset(f.mem + MEM_SIZE - 8, 'x', 8);           /* a string unterminated at the end */
    put32(&f, MODS_AT + 8, MEM_SIZE - 8);
    CHECK_EQ(parse(&f, &p), MB1_BAD_STRING);
    build(&f);
    put32(&f, INFO_AT + 16, MEM_SIZE);              /* the command line */
    CHECK_EQ(parse(&f, &p), MB1_BAD_STRING);
}

static void zero_modules(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    put32(&f, INFO_AT + 20, 0);
    put32(&f, INFO_AT + 24, 0xffffffff);            /* no entries: the address is not read */
    CHECK_EQ(parse(&f, &p), MB1_OK);
    CHECK_EQ(p.module_count, 0);
    build(&f);
    put32(&f, INFO_AT, (1u << 6));                  /* no modules flag at all */
    CHECK_EQ(parse(&f, &p), MB1_OK);
    CHECK_EQ(p.module_count, 0);
    CHECK(strcmp(p.cmdline, "") == 0);
}

static void no_mmap_flag(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    put32(&f, INFO_AT, (1u << 0) | (1u << 3));      /* mem_lower/mem_upper only */
    CHECK_EQ(parse(&f, &p), MB1_OK);
    CHECK_EQ(p.memmap_count, 2);
    CHECK_EQ(p.memmap[0].base, 0);
    CHECK_EQ(p.memmap[0].length, 639 * 1024);
    CHECK_EQ(p.memmap[1].base, 0x100000);
    CHECK_EQ(p.memmap[1].length, 523136ull * 1024);
    CHECK_EQ(p.memmap[1].type, 1);
    build(&f);
    put32(&f, INFO_AT, (1u << 3));                  /* no memory information at all */
    CHECK_EQ(parse(&f, &p), MB1_NO_MEMORY_MAP);
}

static void info_out_of_bounds(void)
{
    struct fake f;
    static struct boot_params p;
    build(&f);
    CHECK_EQ(mb1_parse(f.mem, MEM_SIZE, MEM_SIZE - 51, &p), MB1_INFO_OUT_OF_BOUNDS);
    CHECK_EQ(mb1_parse(f.mem, MEM_SIZE, 0xfffffffffffffff0ull, &p), MB1_INFO_OUT_OF_BOUNDS);
    free(f.mem);
    CHECK(strcmp(mb1_error_text(MB1_BAD_MODULE), "unknown error") != 0);
    CHECK(strcmp(mb1_error_text(99), "unknown error") == 0);
}

UNIT_TABLE(multiboot1,
    { "mb1_parses_qemu_information", parses_qemu_information },
    { "mb1_single_words", single_words },
    { "mb1_truncated_mmap", truncated_mmap },
    { "mb1_module_past_the_end", module_past_the_end },
    { "mb1_zero_modules", zero_modules },
    { "mb1_no_mmap_flag", no_mmap_flag },
    { "mb1_info_out_of_bounds", info_out_of_bounds },
)
