/* The Linux boot protocol loader: bzImage checks, layout, zero page, E820, entry. */
#include <stdlib.h>
#include "harness.h"
#include "boot/linux_boot.h"

#define SETUP_SECTS     3
#define SETUP_SIZE      ((SETUP_SECTS + 1) * 512)
#define KERNEL_BYTES    0x3000
#define IMAGE_SIZE      (SETUP_SIZE + KERNEL_BYTES)
#define MIB             0x100000ull
#define GUEST_SIZE      (32 * MIB)
#define ACPI_BASE       (GUEST_SIZE - 0x10000)
#define RSDP            (ACPI_BASE + 0x40)

static uint8_t image[IMAGE_SIZE + 0x200];   /* room for a 0 setup_sects variant */

static void put(uint8_t *p, unsigned bytes, uint64_t v)
{
    for (unsigned i = 0; i < bytes; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = bytes; i > 0; i--)
        v = v << 8 | p[i - 1];
    return v;
}

/* A bzImage header like Debian's 6.1 cloud kernel, with a small kernel body. */
static void make_image(void)
{
    memset(image, 0, sizeof(image));
    image[0x1f1] = SETUP_SECTS;
    put(image + 0x1f4, 4, KERNEL_BYTES / 16);   /* syssize */
    put(image + 0x1fa, 2, 0xffff);              /* vid_mode: normal */
    put(image + 0x1fe, 2, 0xaa55);
    image[0x200] = 0xeb;                        /* jmp short over the header */
    image[0x201] = 0x6a;                        /* header ends at 0x26c */
    memcpy(image + 0x202, "HdrS", 4);
    put(image + 0x206, 2, 0x020f);
    put(image + 0x214, 4, 0x100000);            /* code32_start */
    image[0x211] = 0x01;                        /* LOADED_HIGH */
    put(image + 0x22c, 4, 0x7fffffff);          /* initrd_addr_max */
    put(image + 0x230, 4, 0x200000);            /* kernel_alignment */
    image[0x234] = 1;                           /* relocatable */
    image[0x235] = 21;                          /* min_alignment */
    put(image + 0x236, 2, 0x3);                 /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
    put(image + 0x238, 4, 2047);                /* cmdline_size */
    put(image + 0x258, 8, 16 * MIB);            /* pref_address */
    put(image + 0x260, 4, 4 * MIB);             /* init_size */
    for (unsigned i = 0; i < KERNEL_BYTES; i++)
        image[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
}

static enum linux_error parse(struct linux_info *info)
{
    return linux_parse(image, IMAGE_SIZE, info);
}

static const uint8_t initrd[0x2345] = { 0x1f, 0x8b, 0x08 };
static const struct linux_ram_range whole_ram[] = { { 0, GUEST_SIZE } };

struct guest {
    uint8_t *ram;
    struct linux_boot_request request;
    struct linux_layout layout;
};

static void guest_init(struct guest *g)
{
    g->ram = calloc(1, GUEST_SIZE);
    g->request = (struct linux_boot_request){
        .memory = { g->ram, GUEST_SIZE },
        .ram = whole_ram, .ram_count = 1,
        .acpi_base = ACPI_BASE, .acpi_size = 0x10000, .rsdp_address = RSDP,
        .cmdline = "console=ttyS0 quiet",
        .initrd = initrd, .initrd_size = sizeof(initrd),
    };
}

static enum linux_error guest_boot(struct guest *g)
{
    struct linux_info info;
    make_image();
    if (parse(&info) != LINUX_OK)
        return LINUX_ERR_TOO_SMALL;
    return linux_prepare(&info, &g->request, &g->layout);
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* ---- linux_parse ---- */

static void parse_valid_image(void)
{
    struct linux_info info;
    make_image();
    CHECK_EQ(parse(&info), LINUX_OK);
    CHECK_EQ(info.version, 0x020f);
    CHECK_EQ(info.setup_size, SETUP_SIZE);
    CHECK_EQ(info.header_end, 0x26c);
    CHECK_EQ(info.kernel_size, KERNEL_BYTES);
    CHECK_EQ(info.loadflags, 0x01);
    CHECK_EQ(info.xloadflags, 0x3);
    CHECK(info.relocatable);
    CHECK_EQ(info.kernel_alignment, 0x200000);
    CHECK_EQ(info.initrd_addr_max, 0x7fffffff);
    CHECK_EQ(info.cmdline_size, 2047);
    CHECK_EQ(info.pref_address, 16 * MIB);
    CHECK_EQ(info.init_size, 4 * MIB);
    CHECK_EQ(linux_minimum_memory(&info), 20 * MIB);
    info.init_size = 4 * MIB + 1;                   /* rounded up to whole MiB */
    CHECK_EQ(linux_minimum_memory(&info), 21 * MIB);
    CHECK(info.image == image);
}

static void parse_setup_sects_zero_means_four(void)
{
    struct linux_info info;
    make_image();
    memmove(image + 5 * 512, image + SETUP_SIZE, KERNEL_BYTES);
    image[0x1f1] = 0;
    CHECK_EQ(linux_parse(image, 5 * 512 + KERNEL_BYTES, &info), LINUX_OK);
    CHECK_EQ(info.setup_size, 5 * 512);
}

/* Tolerates bytes after syssize * 16, as a signed kernel has. */
static void parse_trailing_signature(void)
{
    struct linux_info info;
    make_image();
    CHECK_EQ(linux_parse(image, IMAGE_SIZE + 0x100, &info), LINUX_OK);
    CHECK_EQ(info.kernel_size, KERNEL_BYTES);
}

static void expect_parse(enum linux_error expected, uint64_t size)
{
    struct linux_info info;
    CHECK_EQ(linux_parse(image, size, &info), expected);
}

static void parse_too_small(void)
{
    make_image();
    expect_parse(LINUX_ERR_TOO_SMALL, 0x3ff);
}

static void parse_bad_boot_flag(void)
{
    make_image();
    put(image + 0x1fe, 2, 0x55aa);
    expect_parse(LINUX_ERR_BOOT_FLAG, IMAGE_SIZE);
}

static void parse_no_hdrs(void)
{
    make_image();
    memcpy(image + 0x202, "HdrZ", 4);
    expect_parse(LINUX_ERR_NO_HDRS, IMAGE_SIZE);
}

static void parse_old_protocol(void)
{
    make_image();
    put(image + 0x206, 2, 0x020b);
    expect_parse(LINUX_ERR_OLD_PROTOCOL, IMAGE_SIZE);
    put(image + 0x206, 2, 0x020c);              /* 2.12 is the oldest accepted */
    expect_parse(LINUX_OK, IMAGE_SIZE);
}

static void parse_header_length(void)
{
    make_image();
    image[0x201] = 0x65;                        /* ends at 0x267: misses handover_offset */
    expect_parse(LINUX_ERR_HEADER_LENGTH, IMAGE_SIZE);
    image[0x201] = 0x8f;                        /* ends at 0x291: into edd_mbr_sig_buffer */
    expect_parse(LINUX_ERR_HEADER_LENGTH, IMAGE_SIZE);
}

static void parse_not_64bit(void)
{
    make_image();
    put(image + 0x236, 2, 0x2);
    expect_parse(LINUX_ERR_NOT_64BIT, IMAGE_SIZE);
}

static void parse_setup_past_end(void)
{
    make_image();
    image[0x1f1] = 63;
    expect_parse(LINUX_ERR_SETUP_SECTS, IMAGE_SIZE);
}

static void parse_bad_syssize(void)
{
    make_image();
    put(image + 0x1f4, 4, 0);
    expect_parse(LINUX_ERR_SYSSIZE, IMAGE_SIZE);
    put(image + 0x1f4, 4, KERNEL_BYTES / 16 + 1);
    expect_parse(LINUX_ERR_SYSSIZE, IMAGE_SIZE);
}

static void parse_bad_alignment(void)
{
    make_image();
    put(image + 0x230, 4, 0x300000);
    expect_parse(LINUX_ERR_ALIGNMENT, IMAGE_SIZE);
    put(image + 0x230, 4, 0);
    expect_parse(LINUX_ERR_ALIGNMENT, IMAGE_SIZE);
    put(image + 0x230, 4, 0x800);
    expect_parse(LINUX_ERR_ALIGNMENT, IMAGE_SIZE);
}

static void parse_bad_pref_address(void)
{
    make_image();
    put(image + 0x258, 8, 16 * MIB + 0x1000);
    expect_parse(LINUX_ERR_PREF_ADDRESS, IMAGE_SIZE);
    put(image + 0x258, 8, 0);
    expect_parse(LINUX_ERR_PREF_ADDRESS, IMAGE_SIZE);
}

static void parse_bad_init_size(void)
{
    make_image();
    put(image + 0x260, 4, KERNEL_BYTES - 16);
    expect_parse(LINUX_ERR_INIT_SIZE, IMAGE_SIZE);
}

static void error_names_distinct(void)
{
    for (int a = LINUX_OK; a <= LINUX_ERR_INITRD_PLACEMENT; a++)
        for (int b = a + 1; b <= LINUX_ERR_INITRD_PLACEMENT; b++)
            CHECK(strcmp(linux_error_name(a), linux_error_name(b)) != 0);
}

/* ---- linux_prepare ---- */

static void prepare_layout(void)
{
    struct guest g;
    guest_init(&g);
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    CHECK_EQ(g.layout.kernel_address, 16 * MIB);
    CHECK_EQ(g.layout.kernel_end, 20 * MIB);
    CHECK_EQ(g.layout.zero_page, 0x7000);
    CHECK_EQ(g.layout.cmdline_address, 0x20000);
    CHECK_EQ(g.layout.cmdline_length, 19);
    /* Highest page below the ACPI tables that holds 0x2345 bytes. */
    CHECK_EQ(g.layout.initrd_address, ACPI_BASE - 0x3000);
    CHECK_EQ(g.layout.initrd_size, sizeof(initrd));
    CHECK(memcmp(g.ram + 16 * MIB, image + SETUP_SIZE, KERNEL_BYTES) == 0);
    CHECK(all_zero(g.ram + 16 * MIB + KERNEL_BYTES, 0x1000));
    CHECK(strcmp((char *)g.ram + 0x20000, "console=ttyS0 quiet") == 0);
    CHECK(memcmp(g.ram + g.layout.initrd_address, initrd, sizeof(initrd)) == 0);
    free(g.ram);
}

static void zero_page_fields(void)
{
    struct guest g;
    guest_init(&g);
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    const uint8_t *zp = g.ram + 0x7000;
    uint64_t initrd_at = ACPI_BASE - 0x3000;
    CHECK_EQ(zp[0x1f1], SETUP_SECTS);                   /* header copied ... */
    CHECK_EQ(get(zp + 0x1f4, 4), KERNEL_BYTES / 16);
    CHECK_EQ(get(zp + 0x1fa, 2), 0xffff);
    CHECK_EQ(get(zp + 0x1fe, 2), 0xaa55);
    CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0);
    CHECK_EQ(get(zp + 0x206, 2), 0x020f);
    CHECK_EQ(get(zp + 0x22c, 4), 0x7fffffff);
    CHECK_EQ(get(zp + 0x258, 8), 16 * MIB);
    CHECK_EQ(get(zp + 0x260, 4), 4 * MIB);
    CHECK_EQ(zp[0x210], 0xff);                          /* ... and the loader's fields */
    CHECK_EQ(zp[0x211], 0x81);
    CHECK_EQ(get(zp + 0x218, 4), initrd_at);
    CHECK_EQ(get(zp + 0x21c, 4), sizeof(initrd));
    CHECK_EQ(get(zp + 0x224, 2), 0xfe00 - 0x200);
    CHECK_EQ(get(zp + 0x228, 4), 0x20000);
    CHECK_EQ(get(zp + 0xc0, 4), 0);
    CHECK_EQ(get(zp + 0xc4, 4), 0);
    CHECK_EQ(get(zp + 0xc8, 4), 0);
    CHECK_EQ(get(zp + 0x70, 8), RSDP);
    CHECK_EQ(zp[0x1ef], 0);                             /* sentinel */
    CHECK(all_zero(zp, 0x70));
    CHECK(all_zero(zp + 0x26c, 0x2d0 - 0x26c));         /* header end .. e820 table */
    free(g.ram);
}

static void check_e820(const uint8_t *zp, unsigned i, uint64_t addr, uint64_t size, uint32_t type)
{
    const uint8_t *e = zp + 0x2d0 + 20 * i;
    CHECK_EQ(get(e, 8), addr);
    CHECK_EQ(get(e + 8, 8), size);
    CHECK_EQ(get(e + 16, 4), type);
}

/* RAM, the BIOS hole, RAM, the ACPI tables cut from the top (zero-page.rst, e820). */
static void e820_table_bytes(void)
{
    struct guest g;
    guest_init(&g);
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    const uint8_t *zp = g.ram + 0x7000;
    CHECK_EQ(zp[0x1e8], 4);
    check_e820(zp, 0, 0, 0x9fc00, 1);
    check_e820(zp, 1, 0x9fc00, 0x100000 - 0x9fc00, 2);
    check_e820(zp, 2, 0x100000, ACPI_BASE - 0x100000, 1);
    check_e820(zp, 3, ACPI_BASE, 0x10000, 3);
    CHECK(all_zero(zp + 0x2d0 + 4 * 20, 20));
    CHECK_EQ(g.layout.e820_count, 4);
    free(g.ram);
}

/* Two RAM ranges around a gap, ACPI tables inside the BIOS hole. */
static void e820_split_ram_and_acpi_in_hole(void)
{
    static const struct linux_ram_range ram[] = {
        { 0x100000, 24 * MIB - 0x100000 }, { 0, 0xa0000 }, { 28 * MIB, 4 * MIB },
    };
    struct guest g;
    guest_init(&g);
    g.request.ram = ram;
    g.request.ram_count = 3;
    g.request.acpi_base = 0xe0000;
    g.request.acpi_size = 0x20000;
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    const uint8_t *zp = g.ram + 0x7000;
    CHECK_EQ(zp[0x1e8], 5);
    check_e820(zp, 0, 0, 0x9fc00, 1);
    check_e820(zp, 1, 0x9fc00, 0xe0000 - 0x9fc00, 2);
    check_e820(zp, 2, 0xe0000, 0x20000, 3);
    check_e820(zp, 3, 0x100000, 24 * MIB - 0x100000, 1);
    check_e820(zp, 4, 28 * MIB, 4 * MIB, 1);
    CHECK_EQ(g.layout.initrd_address, 32 * MIB - 0x3000);
    free(g.ram);
}

static void entry_state_64bit(void)
{
    struct guest g;
    guest_init(&g);
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    const struct linux_entry_state *s = &g.layout.entry;
    CHECK_EQ(s->rip, 16 * MIB + 0x200);
    CHECK_EQ(s->rsi, 0x7000);
    CHECK_EQ(s->rsp, 0x7000);
    CHECK_EQ(s->rflags, 0x2);                           /* IF clear */
    CHECK_EQ(s->cr0, 0x80000031);                       /* PG NE ET PE */
    CHECK_EQ(s->cr3, 0x9000);
    CHECK_EQ(s->cr4, 0x20);                             /* PAE */
    CHECK_EQ(s->efer, 0x500);                           /* LMA LME */
    CHECK_EQ(s->gdt_base, 0x1000);
    CHECK_EQ(s->gdt_limit, 0x1f);
    CHECK_EQ(s->cs.selector, 0x10);
    CHECK_EQ(s->cs.attributes, 0xa09b);                 /* G, L, P, S, code exec/read */
    CHECK_EQ(s->cs.limit, 0xffffffff);
    CHECK_EQ(s->cs.base, 0);
    CHECK_EQ(s->ds.selector, 0x18);
    CHECK_EQ(s->ds.attributes, 0xc093);                 /* G, D/B, P, S, data read/write */
    CHECK_EQ(get(g.ram + 0x1000, 8), 0);
    CHECK_EQ(get(g.ram + 0x1010, 8), 0x00af9b000000ffffull);
    CHECK_EQ(get(g.ram + 0x1018, 8), 0x00cf93000000ffffull);
    free(g.ram);
}

static void identity_page_tables(void)
{
    struct guest g;
    guest_init(&g);
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    CHECK_EQ(get(g.ram + 0x9000, 8), 0xa003);           /* PML4[0] -> PDPT */
    CHECK(all_zero(g.ram + 0x9008, 0xff8));
    CHECK_EQ(get(g.ram + 0xa000, 8), 0xb003);           /* PDPT[0..3] -> PDs */
    CHECK_EQ(get(g.ram + 0xa018, 8), 0xe003);
    CHECK(all_zero(g.ram + 0xa020, 0xfe0));
    CHECK_EQ(get(g.ram + 0xb000, 8), 0x83);             /* 0 */
    CHECK_EQ(get(g.ram + 0xb000 + 8 * 8, 8), 16 * MIB | 0x83);
    CHECK_EQ(get(g.ram + 0xc000, 8), 0x40000083);       /* 1 GiB */
    CHECK_EQ(get(g.ram + 0xe000 + 511 * 8, 8), 0xffe00083);  /* last 2 MiB below 4 GiB */
    free(g.ram);
}

static void protocol_2_12_has_no_rsdp_field(void)
{
    struct guest g;
    struct linux_info info;
    guest_init(&g);
    make_image();
    put(image + 0x206, 2, 0x020c);
    CHECK_EQ(parse(&info), LINUX_OK);
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_OK);
    CHECK_EQ(get(g.ram + 0x7000 + 0x70, 8), 0);
    free(g.ram);
}

static void no_initrd_no_cmdline(void)
{
    struct guest g;
    guest_init(&g);
    g.request.initrd = NULL;
    g.request.cmdline = NULL;
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    CHECK_EQ(get(g.ram + 0x7000 + 0x218, 4), 0);
    CHECK_EQ(get(g.ram + 0x7000 + 0x21c, 4), 0);
    CHECK_EQ(g.layout.initrd_size, 0);
    CHECK_EQ(g.layout.cmdline_length, 0);
    CHECK_EQ(get(g.ram + 0x7000 + 0x228, 4), 0x20000);
    CHECK_EQ(g.ram[0x20000], 0);
    free(g.ram);
}

/* initrd_addr_max is the last byte the initrd may use (boot.rst). */
static void initrd_below_addr_max(void)
{
    struct guest g;
    guest_init(&g);
    make_image();
    put(image + 0x22c, 4, 24 * MIB - 1);
    struct linux_info info;
    CHECK_EQ(parse(&info), LINUX_OK);
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_OK);
    CHECK_EQ(g.layout.initrd_address, 24 * MIB - 0x3000);
    /* A limit inside the kernel pushes it below the kernel. */
    put(image + 0x22c, 4, 18 * MIB - 1);
    CHECK_EQ(parse(&info), LINUX_OK);
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_OK);
    CHECK_EQ(g.layout.initrd_address, 16 * MIB - 0x3000);
    free(g.ram);
}

/* A failed prepare writes nothing. */
static void initrd_too_big(void)
{
    struct guest g;
    guest_init(&g);
    g.request.initrd_size = 28 * MIB;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_INITRD_PLACEMENT);
    CHECK(all_zero(g.ram, GUEST_SIZE));
    free(g.ram);
}

static void cmdline_limit(void)
{
    struct guest g;
    struct linux_info info;
    guest_init(&g);
    make_image();
    put(image + 0x238, 4, 19);
    CHECK_EQ(parse(&info), LINUX_OK);
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_OK);
    put(image + 0x238, 4, 18);
    memset(g.ram, 0, GUEST_SIZE);
    CHECK_EQ(parse(&info), LINUX_OK);
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_ERR_CMDLINE_TOO_LONG);
    CHECK(all_zero(g.ram, GUEST_SIZE));
    free(g.ram);
}

static void kernel_does_not_fit(void)
{
    static const struct linux_ram_range small[] = { { 0, 18 * MIB } };
    struct guest g;
    guest_init(&g);
    g.request.ram = small;
    g.request.acpi_size = 0;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_KERNEL_PLACEMENT);
    g.request.ram = whole_ram;
    g.request.memory.size = 19 * MIB;               /* RAM the view does not reach */
    CHECK_EQ(guest_boot(&g), LINUX_ERR_KERNEL_PLACEMENT);
    free(g.ram);
}

static void load_address_choice(void)
{
    struct guest g;
    guest_init(&g);
    g.request.load_address = 4 * MIB;
    CHECK_EQ(guest_boot(&g), LINUX_OK);
    CHECK_EQ(g.layout.entry.rip, 4 * MIB + 0x200);
    CHECK(memcmp(g.ram + 4 * MIB, image + SETUP_SIZE, KERNEL_BYTES) == 0);
    g.request.load_address = 5 * MIB;               /* not 2 MiB aligned */
    CHECK_EQ(guest_boot(&g), LINUX_ERR_LOAD_ADDRESS);
    free(g.ram);
}

static void not_relocatable_stays_at_pref(void)
{
    struct guest g;
    struct linux_info info;
    guest_init(&g);
    make_image();
    image[0x234] = 0;
    CHECK_EQ(parse(&info), LINUX_OK);
    g.request.load_address = 4 * MIB;
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_ERR_LOAD_ADDRESS);
    g.request.load_address = 0;
    CHECK_EQ(linux_prepare(&info, &g.request, &g.layout), LINUX_OK);
    CHECK_EQ(g.layout.kernel_address, 16 * MIB);
    free(g.ram);
}

static void low_memory_missing(void)
{
    static const struct linux_ram_range high_only[] = { { MIB, GUEST_SIZE - MIB } };
    struct guest g;
    guest_init(&g);
    g.request.ram = high_only;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_LOW_MEMORY);
    free(g.ram);
}

static void bad_ram_maps(void)
{
    static const struct linux_ram_range many[LINUX_MAX_RAM_RANGES + 1];
    static const struct linux_ram_range wrapping[] = { { 0xfffffffffffff000ull, 0x2000 } };
    static const struct linux_ram_range empty[] = { { 0x1000, 0 } };
    struct guest g;
    guest_init(&g);
    g.request.ram_count = 0;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_RAM_MAP);
    g.request.ram = many;
    g.request.ram_count = LINUX_MAX_RAM_RANGES + 1;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_RAM_MAP);
    g.request.ram = wrapping;
    g.request.ram_count = 1;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_RAM_MAP);
    g.request.ram = empty;
    CHECK_EQ(guest_boot(&g), LINUX_ERR_RAM_MAP);
    free(g.ram);
}

DEVICE_TESTS(linux_boot,
    { "linux_parse_valid_image", parse_valid_image },
    { "linux_parse_setup_sects_zero_means_four", parse_setup_sects_zero_means_four },
    { "linux_parse_trailing_signature", parse_trailing_signature },
    { "linux_parse_too_small", parse_too_small },
    { "linux_parse_bad_boot_flag", parse_bad_boot_flag },
    { "linux_parse_no_hdrs", parse_no_hdrs },
    { "linux_parse_old_protocol", parse_old_protocol },
    { "linux_parse_header_length", parse_header_length },
    { "linux_parse_not_64bit", parse_not_64bit },
    { "linux_parse_setup_past_end", parse_setup_past_end },
    { "linux_parse_bad_syssize", parse_bad_syssize },
    { "linux_parse_bad_alignment", parse_bad_alignment },
    { "linux_parse_bad_pref_address", parse_bad_pref_address },
    { "linux_parse_bad_init_size", parse_bad_init_size },
    { "linux_error_names_distinct", error_names_distinct },
    { "linux_prepare_layout", prepare_layout },
    { "linux_zero_page_fields", zero_page_fields },
    { "linux_e820_table_bytes", e820_table_bytes },
    { "linux_e820_split_ram_and_acpi_in_hole", e820_split_ram_and_acpi_in_hole },
    { "linux_entry_state_64bit", entry_state_64bit },
    { "linux_identity_page_tables", identity_page_tables },
    { "linux_protocol_2_12_has_no_rsdp_field", protocol_2_12_has_no_rsdp_field },
    { "linux_no_initrd_no_cmdline", no_initrd_no_cmdline },
    { "linux_initrd_below_addr_max", initrd_below_addr_max },
    { "linux_initrd_too_big", initrd_too_big },
    { "linux_cmdline_limit", cmdline_limit },
    { "linux_kernel_does_not_fit", kernel_does_not_fit },
    { "linux_load_address_choice", load_address_choice },
    { "linux_not_relocatable_stays_at_pref", not_relocatable_stays_at_pref },
    { "linux_low_memory_missing", low_memory_missing },
    { "linux_bad_ram_maps", bad_ram_maps },
)
