/* The storage server's GPT reader (user/storage/gpt.c): a table as sgdisk writes it, the
 * fall-back to the backup, and malformed tables -- each with its CRCs made right again,
 * so the check that must catch it is the one that does. */
#include "harness.h"
#include "../../user/storage/gpt.h"

#define SECTORS     4096u
#define ENTRIES     128u
#define ARRAY       (ENTRIES * 128u / GPT_SECTOR)       /* 32 sectors */
#define FIRST_USABLE (2 + ARRAY)
#define LAST_USABLE (SECTORS - 2 - ARRAY)

static uint8_t disk[SECTORS][GPT_SECTOR];
static unsigned bad_reads, failing_lba_count;
static uint64_t failing_lba[4];

static bool disk_read(void *ctx, uint64_t lba, void *buf)
{
    (void)ctx;
    for (unsigned i = 0; i < failing_lba_count; i++)
        if (failing_lba[i] == lba)
            return false;
    if (lba >= SECTORS) {
        bad_reads++;
        return false;
    }
    memcpy(buf, disk[lba], GPT_SECTOR);
    return true;
}

static void put32(uint8_t *p, uint32_t v) { for (unsigned i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static uint8_t *entry(uint64_t array_lba, unsigned i) { return disk[array_lba + i / 4] + i % 4 * 128; }

static void set_entry(uint64_t array_lba, unsigned i, const char *name, uint64_t first, uint64_t last)
{
    uint8_t *e = entry(array_lba, i);
    memset(e, 0, 128);
    memset(e, 0xaf, 16);                    /* any non-zero type GUID */
    e[16] = (uint8_t)(i + 1);
    put64(e + 32, first);
    put64(e + 40, last);
    for (unsigned c = 0; name[c]; c++)
        e[56 + 2 * c] = (uint8_t)name[c];
}

/* Recomputes the entry array CRC and then the header CRC of the header at `lba`. */
static void reseal(uint64_t lba)
{
    uint8_t *h = disk[lba];
    uint64_t array = 0;
    memcpy(&array, h + 72, 8);
    uint32_t count = get32(h + 80), size = get32(h + 84);
    if (array < SECTORS && (uint64_t)count * size <= (SECTORS - array) * GPT_SECTOR)
        put32(h + 88, gpt_crc32(0, disk[array], (size_t)count * size));
    uint32_t header_size = get32(h + 12);
    if (header_size > GPT_SECTOR)
        header_size = GPT_SECTOR;
    put32(h + 16, 0);
    put32(h + 16, gpt_crc32(0, h, header_size));
}

static void write_header(uint64_t lba, uint64_t alternate, uint64_t array)
{
    uint8_t *h = disk[lba];
    memset(h, 0, GPT_SECTOR);
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, lba);
    put64(h + 32, alternate);
    put64(h + 40, FIRST_USABLE);
    put64(h + 48, LAST_USABLE);
    memset(h + 56, 0x42, 16);
    put64(h + 72, array);
    put32(h + 80, ENTRIES);
    put32(h + 84, 128);
    reseal(lba);
}

/* Two partitions, "alpha" and "beta", with a gap after them; primary and backup. */
static void make_disk(void)
{
    memset(disk, 0, sizeof(disk));
    bad_reads = 0;
    failing_lba_count = 0;
    disk[0][510] = 0x55, disk[0][511] = 0xaa;       /* the protective MBR's signature */
    const uint64_t arrays[2] = { 2, SECTORS - 1 - ARRAY };
    for (unsigned a = 0; a < 2; a++) {
        set_entry(arrays[a], 0, "alpha", 64, 1087);
        set_entry(arrays[a], 1, "beta", 1088, 2111);
    }
    write_header(1, SECTORS - 1, arrays[0]);
    write_header(SECTORS - 1, 1, arrays[1]);
}

static struct gpt_table table;

static enum gpt_error read_disk(void)
{
    return gpt_read(disk_read, NULL, SECTORS, &table);
}

/* Malformed primary: the backup must not rescue it, so it goes too. */
static enum gpt_error read_primary_only(void)
{
    memset(disk[SECTORS - 1], 0, GPT_SECTOR);
    return read_disk();
}

static void crc32_known_value(void)
{
    CHECK_EQ(gpt_crc32(0, "123456789", 9), 0xcbf43926u);     /* the check value of CRC-32 */
    CHECK_EQ(gpt_crc32(gpt_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    CHECK_EQ(gpt_crc32(0, "", 0), 0);
}

static void valid_table(void)
{
    make_disk();
    CHECK_EQ(read_disk(), GPT_OK);
    CHECK(!table.from_backup);
    CHECK_EQ(table.count, 2);
    CHECK_EQ(table.first_usable, FIRST_USABLE);
    CHECK_EQ(table.last_usable, LAST_USABLE);
    const struct gpt_partition *a = gpt_find(&table, "alpha"), *b = gpt_find(&table, "beta");
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_EQ(a->first_lba, 64);
    CHECK_EQ(a->last_lba, 1087);
    CHECK_EQ(a->entry, 0);
    CHECK_EQ(b->first_lba, 1088);
    CHECK_EQ(b->entry, 1);
    CHECK(gpt_find(&table, "gamma") == NULL);
    CHECK(gpt_find(&table, "alph") == NULL);
    CHECK(gpt_find(&table, "alphabet") == NULL);
    CHECK(gpt_find(&table, "") == NULL);
    CHECK_EQ(bad_reads, 0);
}

static void primary_header_crc_falls_back(void)
{
    make_disk();
    disk[1][40] ^= 1;                       /* first usable LBA, CRC left stale */
    CHECK_EQ(read_disk(), GPT_OK);
    CHECK(table.from_backup);
    CHECK_EQ(table.primary_error, GPT_E_HEADER_CRC);
    CHECK_EQ(table.count, 2);
    CHECK(gpt_find(&table, "beta") != NULL);
}

static void both_headers_bad(void)
{
    make_disk();
    disk[1][40] ^= 1;
    disk[SECTORS - 1][48] ^= 1;
    CHECK_EQ(read_disk(), GPT_E_HEADER_CRC);
    CHECK_EQ(table.count, 0);
    CHECK(gpt_find(&table, "alpha") == NULL);
}

static void no_signature(void)
{
    memset(disk, 0, sizeof(disk));
    CHECK_EQ(read_disk(), GPT_E_SIGNATURE);
    CHECK_EQ(gpt_read(disk_read, NULL, 3, &table), GPT_E_SMALL);
}

static void entries_crc(void)
{
    make_disk();
    entry(2, 1)[40] ^= 1;                   /* beta's end, in the primary array only */
    CHECK_EQ(read_disk(), GPT_OK);
    CHECK(table.from_backup);
    CHECK_EQ(table.primary_error, GPT_E_ENTRIES_CRC);
    CHECK_EQ(gpt_find(&table, "beta")->last_lba, 2111);
    entry(SECTORS - 1 - ARRAY, 1)[40] ^= 1;
    CHECK_EQ(read_disk(), GPT_E_ENTRIES_CRC);
}

static void read_errors(void)
{
    make_disk();
    failing_lba[failing_lba_count++] = 1;
    CHECK_EQ(read_disk(), GPT_OK);          /* the backup answers */
    CHECK(table.from_backup);
    CHECK_EQ(table.primary_error, GPT_E_READ);
    failing_lba[failing_lba_count++] = SECTORS - 1 - ARRAY + 3;
    CHECK_EQ(read_disk(), GPT_E_READ);
}

static void bad_header_fields(void)
{
    static const struct { unsigned offset, width; uint64_t value; enum gpt_error expected; } cases[] = {
        { 12, 4, 91, GPT_E_HEADER_SIZE },
        { 12, 4, GPT_SECTOR + 1, GPT_E_HEADER_SIZE },
        { 24, 8, 2, GPT_E_MY_LBA },
        { 40, 8, 1, GPT_E_USABLE_RANGE },                   /* the header itself usable */
        { 40, 8, LAST_USABLE + 1, GPT_E_USABLE_RANGE },     /* reversed */
        { 48, 8, SECTORS - 1, GPT_E_USABLE_RANGE },         /* the backup header usable */
        { 48, 8, UINT64_MAX, GPT_E_USABLE_RANGE },
        { 84, 4, 100, GPT_E_ENTRY_SIZE },
        { 84, 4, 192, GPT_E_ENTRY_SIZE },                   /* not a power of two */
        { 84, 4, 1024, GPT_E_ENTRY_SIZE },                  /* straddles sectors */
        { 80, 4, 0xffffffff, GPT_E_ENTRY_SIZE },
        { 72, 8, 1, GPT_E_ENTRY_ARRAY },                    /* over the header */
        { 72, 8, SECTORS - 8, GPT_E_ENTRY_ARRAY },          /* runs into the backup header */
        { 72, 8, UINT64_MAX - 4, GPT_E_ENTRY_ARRAY },       /* would wrap */
        { 72, 8, FIRST_USABLE + 10, GPT_E_ENTRY_ARRAY },    /* inside the usable range */
        { 72, 8, FIRST_USABLE - 5, GPT_E_ENTRY_ARRAY },     /* its end overlaps it */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]) && !device_failed; i++) {
        make_disk();
        uint8_t *h = disk[1];
        if (cases[i].width == 4)
            put32(h + cases[i].offset, (uint32_t)cases[i].value);
        else
            put64(h + cases[i].offset, cases[i].value);
        reseal(1);
        enum gpt_error e = read_primary_only();
        if (e != cases[i].expected) {
            device_failed = 1;
            snprintf(device_why, sizeof(device_why), "case %u: %s, expected %s", i,
                     gpt_error_name(e), gpt_error_name(cases[i].expected));
        }
        CHECK_EQ(table.count, 0);
        CHECK_EQ(bad_reads, 0);
    }
}

static void bad_partitions(void)
{
    static const struct { uint64_t first, last; enum gpt_error expected; } cases[] = {
        { 2000, 1999, GPT_E_PARTITION_RANGE },              /* reversed */
        { FIRST_USABLE - 1, 2000, GPT_E_PARTITION_RANGE },  /* over the entry array */
        { 3000, LAST_USABLE + 1, GPT_E_PARTITION_RANGE },   /* over the backup array */
        { 3000, UINT64_MAX, GPT_E_PARTITION_RANGE },
        { 1087, 1100, GPT_E_OVERLAP },                      /* alpha's last sector */
        { 100, 200, GPT_E_OVERLAP },                        /* inside alpha */
        { 10, 4000, GPT_E_PARTITION_RANGE },
        { 2112, LAST_USABLE, GPT_OK },                      /* the gap, exactly */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]) && !device_failed; i++) {
        make_disk();
        set_entry(2, 5, "gamma", cases[i].first, cases[i].last);
        reseal(1);
        enum gpt_error e = read_primary_only();
        if (e != cases[i].expected) {
            device_failed = 1;
            snprintf(device_why, sizeof(device_why), "case %u: %s, expected %s", i,
                     gpt_error_name(e), gpt_error_name(cases[i].expected));
        }
        CHECK_EQ(table.count, e == GPT_OK ? 3u : 0u);
    }
}

static void names(void)
{
    make_disk();
    set_entry(2, 2, "beta", 2200, 2300);                /* a second "beta" */
    set_entry(2, 3, "g\xe9", 2400, 2500);               /* not ASCII */
    set_entry(2, 4, "abcdefghijklmnopqrstuvwxyz0123456789", 2600, 2700);   /* 36 characters */
    reseal(1);
    CHECK_EQ(read_disk(), GPT_OK);
    CHECK(!table.from_backup);
    CHECK_EQ(table.count, 5);
    CHECK_EQ(gpt_named(&table, "beta"), 2);
    CHECK(gpt_find(&table, "beta") == NULL);            /* ambiguous: served to nobody */
    CHECK(gpt_find(&table, "alpha") != NULL);
    CHECK_EQ(table.part[3].name[0], 0);
    CHECK(gpt_find(&table, "abcdefghijklmnopqrstuvwxyz0123456789") != NULL);
}

static void too_many_partitions(void)
{
    make_disk();
    for (unsigned i = 2; i < GPT_MAX_PARTITIONS; i++)
        set_entry(2, i, "p", 2200 + 10 * i, 2200 + 10 * i + 9);
    reseal(1);
    CHECK_EQ(read_primary_only(), GPT_OK);              /* exactly the maximum */
    CHECK_EQ(table.count, GPT_MAX_PARTITIONS);
    make_disk();
    for (unsigned i = 2; i < GPT_MAX_PARTITIONS + 1; i++)
        set_entry(2, i, "p", 2200 + 10 * i, 2200 + 10 * i + 9);
    reseal(1);
    CHECK_EQ(read_primary_only(), GPT_E_TOO_MANY);
}

/* The backup in use (the primary's array damaged) must not give a partition over the
 * primary's array: its guest could write an array the primary header's CRC accepts and
 * own the table at the next start.  The same partition over the backup's array, with
 * the primary in use, is refused too. */
static void partition_over_other_array(void)
{
    make_disk();
    entry(2, 1)[40] ^= 1;                   /* the primary array fails its CRC */
    put64(disk[SECTORS - 1] + 40, 2);       /* the backup's usable range from LBA 2 */
    set_entry(SECTORS - 1 - ARRAY, 2, "evil", 2, 63);
    reseal(SECTORS - 1);
    CHECK_EQ(read_disk(), GPT_E_ARRAY_COVERED);
    CHECK_EQ(table.count, 0);
    make_disk();
    put64(disk[1] + 48, SECTORS - 2);       /* the primary's usable range to the end */
    set_entry(2, 2, "evil", SECTORS - 1 - ARRAY, SECTORS - 2);
    reseal(1);
    CHECK_EQ(read_disk(), GPT_E_ARRAY_COVERED);
}

DEVICE_TESTS(gpt,
    { "gpt_partition_over_other_array", partition_over_other_array },
    { "gpt_crc32_known_value", crc32_known_value },
    { "gpt_valid_table", valid_table },
    { "gpt_primary_header_crc_falls_back", primary_header_crc_falls_back },
    { "gpt_both_headers_bad", both_headers_bad },
    { "gpt_no_signature", no_signature },
    { "gpt_entries_crc", entries_crc },
    { "gpt_read_errors", read_errors },
    { "gpt_bad_header_fields", bad_header_fields },
    { "gpt_bad_partitions", bad_partitions },
    { "gpt_names", names },
    { "gpt_too_many_partitions", too_many_partitions },
)
