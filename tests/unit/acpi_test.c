/* The ACPI table walk that finds the processors: good tables and damaged ones. */
#include "unit.h"
#include "acpi.h"

/* A small physical memory holding hand-made tables. */
#define MEMORY_SIZE 0x4000
#define RSDT_AT     0x1000
#define XSDT_AT     0x1400
#define MADT_AT     0x2000
#define OTHER_AT    0x3000

static uint8_t memory[MEMORY_SIZE];

static const void *map_memory(uint64_t phys, uint64_t len, void *ctx)
{
    (void)ctx;
    if (phys > MEMORY_SIZE || len > MEMORY_SIZE - phys)
        return NULL;
    return memory + phys;
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static uint8_t checksum_byte(const uint8_t *p, size_t n, size_t at)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (i != at)
            sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

static void seal_table(uint64_t at)
{
    uint8_t *t = memory + at;
    uint32_t length = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
    t[9] = checksum_byte(t, length, 9);
}

static uint8_t *table(uint64_t at, const char *signature, uint32_t length)
{
    uint8_t *t = memory + at;
    memset(t, 0, length);
    memcpy(t, signature, 4);
    put32(t + 4, length);
    t[8] = 1;
    return t;
}

/* MADT: the header, the local APIC address and flags, then the entries. */
struct madt_builder { uint8_t *t; uint32_t length; };

static struct madt_builder madt_begin(void)
{
    struct madt_builder b = { table(MADT_AT, "APIC", 44), 44 };
    put32(b.t + 36, 0xfee00000);
    put32(b.t + 40, 1);
    return b;
}

static void madt_local_apic(struct madt_builder *b, uint8_t id, uint32_t flags)
{
    uint8_t *e = b->t + b->length;
    e[0] = 0, e[1] = 8, e[2] = id, e[3] = id;
    put32(e + 4, flags);
    b->length += 8;
}

static void madt_x2apic(struct madt_builder *b, uint32_t id, uint32_t flags)
{
    uint8_t *e = b->t + b->length;
    memset(e, 0, 16);
    e[0] = 9, e[1] = 16;
    put32(e + 4, id);
    put32(e + 8, flags);
    b->length += 16;
}

static void madt_io_apic_at(struct madt_builder *b, uint32_t address, uint32_t gsi_base)
{
    uint8_t *e = b->t + b->length;
    memset(e, 0, 12);
    e[0] = 1, e[1] = 12;
    put32(e + 4, address);
    put32(e + 8, gsi_base);
    b->length += 12;
}

static void madt_io_apic(struct madt_builder *b) { madt_io_apic_at(b, 0xfec00000, 0); }

static void madt_override(struct madt_builder *b, uint8_t bus, uint8_t source, uint32_t gsi,
                          uint16_t flags)
{
    uint8_t *e = b->t + b->length;
    e[0] = 2, e[1] = 10, e[2] = bus, e[3] = source;
    put32(e + 4, gsi);
    e[8] = (uint8_t)flags, e[9] = (uint8_t)(flags >> 8);
    b->length += 10;
}

static void madt_finish(struct madt_builder *b)
{
    put32(b->t + 4, b->length);
    seal_table(MADT_AT);
}

static void rsdt_listing(const uint32_t *tables, unsigned n)
{
    uint8_t *t = table(RSDT_AT, "RSDT", 36 + 4 * n);
    for (unsigned i = 0; i < n; i++)
        put32(t + 36 + 4 * i, tables[i]);
    seal_table(RSDT_AT);
}

static void xsdt_listing(const uint64_t *tables, unsigned n)
{
    uint8_t *t = table(XSDT_AT, "XSDT", 36 + 8 * n);
    for (unsigned i = 0; i < n; i++)
        put64(t + 36 + 8 * i, tables[i]);
    seal_table(XSDT_AT);
}

static void rsdp_make(uint8_t *r, unsigned revision, uint32_t rsdt, uint64_t xsdt)
{
    memset(r, 0, ACPI_RSDP_V2_SIZE);
    memcpy(r, "RSD PTR ", 8);
    r[15] = (uint8_t)revision;
    put32(r + 16, rsdt);
    r[8] = checksum_byte(r, ACPI_RSDP_V1_SIZE, 8);
    if (revision >= 2) {
        put32(r + 20, ACPI_RSDP_V2_SIZE);
        put64(r + 24, xsdt);
        r[32] = checksum_byte(r, ACPI_RSDP_V2_SIZE, 32);
    }
}

/* Two enabled processors, one disabled, an I/O APIC between them, behind an RSDT. */
static void standard_machine(uint8_t *rsdp)
{
    memset(memory, 0, sizeof(memory));
    struct madt_builder b = madt_begin();
    madt_local_apic(&b, 0, 1);
    madt_io_apic(&b);
    madt_local_apic(&b, 1, 1);
    madt_local_apic(&b, 2, 0);
    madt_finish(&b);
    table(OTHER_AT, "FACP", 36);
    seal_table(OTHER_AT);
    const uint32_t tables[] = { OTHER_AT, MADT_AT };
    rsdt_listing(tables, 2);
    rsdp_make(rsdp, 0, RSDT_AT, 0);
}

static void finds_enabled_processors(void)
{
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    struct acpi_cpus cpus;
    standard_machine(rsdp);
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_OK);
    CHECK_EQ(cpus.count, 2);
    CHECK_EQ(cpus.apic_id[0], 0);
    CHECK_EQ(cpus.apic_id[1], 1);
    CHECK_EQ(cpus.lapic_phys, 0xfee00000);
}

static void xsdt_and_x2apic_entries(void)
{
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    struct acpi_cpus cpus;
    memset(memory, 0, sizeof(memory));
    struct madt_builder b = madt_begin();
    madt_local_apic(&b, 0, 1);
    madt_x2apic(&b, 0, 1);                      /* the same processor again */
    madt_x2apic(&b, 300, 1);
    madt_x2apic(&b, 301, 0);
    madt_finish(&b);
    const uint64_t tables[] = { MADT_AT };
    xsdt_listing(tables, 1);
    rsdt_listing(NULL, 0);                      /* the RSDT has none: the XSDT must win */
    rsdp_make(rsdp, 2, RSDT_AT, XSDT_AT);
    CHECK_EQ(acpi_find_cpus(rsdp, sizeof(rsdp), map_memory, NULL, &cpus), ACPI_OK);
    CHECK_EQ(cpus.count, 2);
    CHECK_EQ(cpus.apic_id[1], 300);
}

static void rejects_bad_rsdp(void)
{
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    struct acpi_cpus cpus;
    standard_machine(rsdp);
    rsdp[8]++;                                  /* checksum */
    CHECK_EQ(acpi_find_cpus(rsdp, sizeof(rsdp), map_memory, NULL, &cpus), ACPI_BAD_RSDP);
    CHECK_EQ(cpus.count, 0);
    rsdp_make(rsdp, 2, RSDT_AT, XSDT_AT);
    CHECK(acpi_rsdp_valid(rsdp, sizeof(rsdp)));
    CHECK(!acpi_rsdp_valid(rsdp, ACPI_RSDP_V1_SIZE));  /* revision 2 cut short */
    rsdp[32]++;                                 /* extended checksum */
    CHECK(!acpi_rsdp_valid(rsdp, sizeof(rsdp)));
    rsdp_make(rsdp, 2, RSDT_AT, XSDT_AT);
    put32(rsdp + 20, 4096);                     /* a length beyond what we hold */
    rsdp[32] = checksum_byte(rsdp, ACPI_RSDP_V2_SIZE, 32);
    CHECK(!acpi_rsdp_valid(rsdp, sizeof(rsdp)));
}

static void scan_finds_aligned_rsdp(void)
{
    static uint8_t area[0x120];
    memset(area, 0, sizeof(area));
    rsdp_make(area + 0x58, 0, RSDT_AT, 0);      /* not on a 16-byte boundary */
    CHECK_EQ(acpi_rsdp_scan(area, 0x100), 0x100);
    rsdp_make(area + 0x90, 0, RSDT_AT, 0);
    CHECK_EQ(acpi_rsdp_scan(area, 0x100), 0x90);
    rsdp_make(area + 0xf0, 0, RSDT_AT, 0);      /* only 16 of its 20 bytes in the window */
    CHECK_EQ(acpi_rsdp_scan(area + 0xa0, 0x60), 0x60);
    CHECK_EQ(acpi_rsdp_scan(area + 0xa0, 0x64), 0x50);
}

static void rejects_damaged_root(void)
{
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    struct acpi_cpus cpus;
    standard_machine(rsdp);
    memory[RSDT_AT + 20]++;                     /* checksum broken */
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_BAD_ROOT);
    standard_machine(rsdp);
    put32(memory + RSDT_AT + 4, MEMORY_SIZE);   /* length runs off memory */
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_BAD_ROOT);
    standard_machine(rsdp);
    put32(memory + RSDT_AT + 4, 10);            /* shorter than its own header */
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_BAD_ROOT);
    rsdp_make(rsdp, 0, 0xfffffff0, 0);          /* points outside memory */
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_BAD_ROOT);
}

static void missing_or_damaged_madt(void)
{
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    struct acpi_cpus cpus;
    standard_machine(rsdp);
    const uint32_t no_madt[] = { OTHER_AT, 0xfffffffc };
    rsdt_listing(no_madt, 2);
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_NO_MADT);
    CHECK_EQ(cpus.count, 0);
    standard_machine(rsdp);
    memory[MADT_AT + 50]++;                     /* checksum: the table is skipped */
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_NO_MADT);
}

static void madt_entries_must_fit(void)
{
    struct acpi_cpus cpus;
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    standard_machine(rsdp);
    uint8_t *m = memory + MADT_AT;
    uint32_t length = 44 + 8 + 12 + 8 + 8;
    CHECK_EQ(acpi_madt_parse(m, length, &cpus), ACPI_OK);
    CHECK_EQ(cpus.count, 2);
    CHECK_EQ(acpi_madt_parse(m, length - 1, &cpus), ACPI_BAD_MADT);   /* last entry cut */
    CHECK_EQ(acpi_madt_parse(m, 43, &cpus), ACPI_BAD_MADT);
    m[44 + 1] = 0;                              /* a zero-length entry would loop */
    CHECK_EQ(acpi_madt_parse(m, length, &cpus), ACPI_BAD_MADT);
    CHECK_EQ(cpus.count, 0);
    m[44 + 1] = 200;                            /* an entry longer than the table */
    CHECK_EQ(acpi_madt_parse(m, length, &cpus), ACPI_BAD_MADT);
    seal_table(MADT_AT);                        /* the walk reports it too */
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_BAD_MADT);
    CHECK_EQ(cpus.count, 0);
    m[44 + 1] = 1;                              /* an odd one-byte entry */
    CHECK_EQ(acpi_madt_parse(m, length, &cpus), ACPI_BAD_MADT);
}

static void io_apic_and_overrides(void)
{
    uint8_t rsdp[ACPI_RSDP_V2_SIZE];
    struct acpi_cpus cpus;
    standard_machine(rsdp);
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_OK);
    CHECK_EQ(cpus.ioapic_phys, 0xfec00000);
    for (unsigned i = 0; i < ACPI_ISA_IRQS; i++) {      /* no override: identity, defaults */
        CHECK_EQ(cpus.isa[i].gsi, i);
        CHECK_EQ(cpus.isa[i].flags, 0);
    }

    rsdp_make(rsdp, 0, RSDT_AT, 0);
    const uint32_t listing[] = { MADT_AT };
    rsdt_listing(listing, 1);
    struct madt_builder b = madt_begin();
    madt_local_apic(&b, 0, 1);
    madt_io_apic_at(&b, 0xfec01000, 24);            /* a second one, for GSI 24 on */
    madt_io_apic_at(&b, 0xfec00800, 0);             /* not page aligned: ignored */
    madt_io_apic_at(&b, 0xfec00000, 0);
    madt_io_apic_at(&b, 0xfed00000, 0);             /* GSI 0 twice: the first stays */
    madt_override(&b, 0, 0, 2, 0);                  /* the timer on GSI 2 */
    madt_override(&b, 0, 9, 9, 0xd);                /* SCI: level, active high */
    madt_override(&b, 0, 16, 20, 0xf);              /* not an ISA IRQ: ignored */
    madt_override(&b, 1, 5, 21, 0xf);               /* not the ISA bus: ignored */
    madt_finish(&b);
    CHECK_EQ(acpi_find_cpus(rsdp, ACPI_RSDP_V1_SIZE, map_memory, NULL, &cpus), ACPI_OK);
    CHECK_EQ(cpus.ioapic_phys, 0xfec00000);
    CHECK_EQ(cpus.isa[0].gsi, 2);
    CHECK_EQ(cpus.isa[9].gsi, 9);
    CHECK_EQ(cpus.isa[9].flags & ACPI_INTI_TRIGGER_MASK, ACPI_INTI_LEVEL);
    CHECK_EQ(cpus.isa[5].gsi, 5);
    CHECK_EQ(cpus.isa[5].flags, 0);

    uint8_t *m = memory + MADT_AT, *last = m + b.length - 10;
    last[2] = 0;                                    /* the last override on the ISA bus */
    CHECK_EQ(acpi_madt_parse(m, b.length, &cpus), ACPI_OK);
    CHECK_EQ(cpus.isa[5].gsi, 21);
    CHECK_EQ(cpus.isa[5].flags, 0xf);
    last[1] = 9;                                    /* one byte short of an override: */
    CHECK_EQ(acpi_madt_parse(m, b.length - 1, &cpus), ACPI_OK);     /* skipped */
    CHECK_EQ(cpus.isa[5].gsi, 5);
    CHECK_EQ(cpus.isa[0].gsi, 2);
}

static void many_processors_are_counted(void)
{
    struct acpi_cpus cpus;
    memset(memory, 0, sizeof(memory));
    struct madt_builder b = madt_begin();
    for (unsigned i = 0; i < ACPI_MAX_CPUS + 6; i++)
        madt_x2apic(&b, i, 1);
    madt_local_apic(&b, 0xff, 1);               /* the broadcast ID is never a CPU */
    madt_finish(&b);
    CHECK_EQ(acpi_madt_parse(memory + MADT_AT, b.length, &cpus), ACPI_OK);
    CHECK_EQ(cpus.count, ACPI_MAX_CPUS);
    CHECK_EQ(cpus.dropped, 6);
}

UNIT_TABLE(acpi,
    { "acpi_finds_enabled_processors", finds_enabled_processors },
    { "acpi_xsdt_and_x2apic_entries", xsdt_and_x2apic_entries },
    { "acpi_rejects_bad_rsdp", rejects_bad_rsdp },
    { "acpi_scan_finds_aligned_rsdp", scan_finds_aligned_rsdp },
    { "acpi_rejects_damaged_root", rejects_damaged_root },
    { "acpi_missing_or_damaged_madt", missing_or_damaged_madt },
    { "acpi_madt_entries_must_fit", madt_entries_must_fit },
    { "acpi_many_processors_are_counted", many_processors_are_counted },
    { "acpi_io_apic_and_overrides", io_apic_and_overrides },
)
