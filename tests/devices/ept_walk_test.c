/* The EPT walker over structures built in a fake L1 memory: each page size, each
 * misconfiguration, not-present entries, permissions and the qualification L1 sees,
 * accessed and dirty flags, and malformed structures (outside RAM, self-reference). */
#include "harness.h"
#include "l1_memory.h"
#include "x86/ept_walk.h"

#define R   0x001ull
#define W   0x002ull
#define X   0x004ull
#define RWX (R | W | X)
#define WB  (6ull << 3)                 /* memory type write-back, in a leaf */
#define IPAT 0x040ull
#define PS  0x080ull
#define A   0x100ull
#define D   0x200ull

#define QR  EPT_VIOLATION_READ
#define QW  EPT_VIOLATION_WRITE
#define QX  EPT_VIOLATION_EXECUTE
#define QRA EPT_VIOLATION_READABLE
#define QWA EPT_VIOLATION_WRITABLE
#define QXA EPT_VIOLATION_EXECUTABLE

/* Structures: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.  The EPTP says
 * write-back and a 4-level walk, which the walker must look past. */
static struct ept_walker walker(void)
{
    l1_clear();
    return (struct ept_walker){ .eptp = 0x1000 | 6 | (3 << 3), .phys_bits = 40, .gb_pages = true,
                                .read = l1_read, .write = l1_write };
}

/* L2_ADDR's four-level path (l1_memory.h), its tables RWX; entry_at[level] is where
 * its entry of that level is (1: PT[1] ... 4: PML4[0]). */
static const uint64_t entry_at[5] = { 0, 0x4008, 0x3008, 0x2008, 0x1000 };
static void four_levels(uint64_t leaf_bits) { l1_four_levels(RWX, leaf_bits); }

static void test_4k_page(void)
{
    struct ept_walker w = walker();
    four_levels(RWX | WB);
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x9234);
    CHECK_EQ(r.page_size, 0x1000);
    CHECK(r.readable && r.writable && r.executable);
    CHECK_EQ(r.memory_type, 6);
    CHECK(!r.ignore_pat && !r.dirty);
    CHECK_EQ(r.level, 1);
    CHECK_EQ(writes, 0);                                /* no A/D flags by default */
    CHECK_EQ(get(0x4008), 0x9000 | RWX | WB);

    four_levels(R | IPAT);                              /* uncacheable, PAT ignored */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.memory_type, 0);
    CHECK(r.ignore_pat && r.readable && !r.writable && !r.executable);
    r = ept_walk(&w, L2_ADDR, 0);                       /* no access: only the translation */
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x9234);
}

static void test_2m_and_1g_pages(void)
{
    struct ept_walker w = walker();
    put(0x1000, 0x2000 | RWX);
    put(0x2000 + 8, 0x3000 | RWX);
    put(0x3000 + 8, 0x00600000 | RWX | PS | WB);        /* 2 MiB page at 6 MiB */
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_EXECUTE);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x00601234);
    CHECK_EQ(r.page_size, 2u << 20);
    CHECK_EQ(r.memory_type, 6);
    CHECK_EQ(r.level, 2);
    put(0x2000 + 8, 0x80000000ull | R | X | PS | WB);   /* 1 GiB page at 2 GiB */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x80201234ull);
    CHECK_EQ(r.page_size, 1u << 30);
    CHECK_EQ(r.level, 3);
    CHECK(r.readable && !r.writable && r.executable);
    w.gb_pages = false;                                 /* PS in a PDPTE is reserved then */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_MISCONFIG);
    CHECK_EQ(r.level, 3);
    CHECK_EQ(r.qualification, 0);
}

/* Not present at any level: a violation whose "readable, writable, executable" bits
 * are all clear (the entry's own bits 2:0 are in the AND), for each kind of access. */
static void test_not_present_each_level(void)
{
    static const unsigned kinds[3] = { EPT_ACCESS_READ, EPT_ACCESS_WRITE, EPT_ACCESS_EXECUTE };
    for (unsigned missing = 4; missing >= 1; missing--) {
        for (unsigned k = 0; k < 3; k++) {
            struct ept_walker w = walker();
            four_levels(RWX | WB);
            put(entry_at[missing], get(entry_at[missing]) & ~RWX);
            struct ept_walk_result r = ept_walk(&w, L2_ADDR, kinds[k]);
            CHECK_EQ(r.status, EPT_WALK_VIOLATION);
            CHECK_EQ(r.qualification, kinds[k]);
            CHECK_EQ(r.level, missing);
        }
    }
    struct ept_walker w = walker();                     /* other bits do not make it present */
    four_levels(RWX | WB);
    put(0x3008, 0x4000 | WB | PS | A | D | (1ull << 63));
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QR);
    CHECK_EQ(r.level, 2);
}

/* Permissions are the AND over the levels, checked once the leaf is reached: the
 * qualification reports that AND over every entry, and the leaf's level. */
static void test_permissions(void)
{
    struct ept_walker w = walker();
    four_levels(R | WB);                                /* read-only leaf */
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QW | QRA);
    CHECK_EQ(r.level, 1);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_EXECUTE);
    CHECK_EQ(r.qualification, QX | QRA);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ | EPT_ACCESS_WRITE);  /* read-modify-write */
    CHECK_EQ(r.qualification, QR | QW | QRA);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_OK);

    four_levels(RWX | WB);                              /* no execution in the PD entry */
    put(0x3008, 0x4000 | R | W);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_EXECUTE);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QX | QRA | QWA);
    CHECK_EQ(r.level, 1);                               /* the walk went on to the leaf */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK(r.writable && !r.executable);

    four_levels(R | W | WB);                            /* levels that disagree: the AND */
    put(0x1000, 0x2000 | R | X);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.qualification, QW | QRA);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_EXECUTE);
    CHECK_EQ(r.qualification, QX | QRA);

    four_levels(R | X | WB);                            /* a 2 MiB leaf reports level 2 */
    put(0x3008, 0x00600000 | R | X | PS | WB);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.qualification, QW | QRA | QXA);
    CHECK_EQ(r.level, 2);
}

/* Bits 2:0 that no entry may hold (28.2.3.1), at every level; execute-only is fine
 * when offered, and then allows nothing but fetches. */
static void test_misconfigured_permissions(void)
{
    static const uint64_t bad[3] = { W, W | X, X };     /* write-only, write/execute, execute-only */
    for (unsigned level = 4; level >= 1; level--) {
        for (unsigned b = 0; b < 3; b++) {
            struct ept_walker w = walker();
            four_levels(RWX | WB);
            put(entry_at[level], (get(entry_at[level]) & ~RWX) | bad[b]);
            struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
            CHECK_EQ(r.status, EPT_WALK_MISCONFIG);
            CHECK_EQ(r.level, level);
        }
    }
    struct ept_walker w = walker();
    w.execute_only = true;
    four_levels(X | WB);
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_EXECUTE);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK(!r.readable && !r.writable && r.executable);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QR | QXA);
    put(0x4008, 0x9000 | W | X | WB);                   /* write without read: never */
    CHECK_EQ(ept_walk(&w, L2_ADDR, EPT_ACCESS_EXECUTE).status, EPT_WALK_MISCONFIG);
}

static void expect_misconfig(struct ept_walker *w, unsigned level)
{
    struct ept_walk_result r = ept_walk(w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_MISCONFIG);
    CHECK_EQ(r.level, level);
}

static void expect_ok(struct ept_walker *w)
{
    CHECK_EQ(ept_walk(w, L2_ADDR, EPT_ACCESS_READ).status, EPT_WALK_OK);
}

/* The reserved bits of 28.2.2, and the bits that look alike but are ignored. */
static void test_reserved_bits(void)
{
    struct ept_walker w = walker();
    for (unsigned level = 4; level >= 1; level--) {     /* address bits beyond 40 */
        four_levels(RWX | WB);
        put(entry_at[level], get(entry_at[level]) | 1ull << 40);
        expect_misconfig(&w, level);
        put(entry_at[level], (get(entry_at[level]) & ~(1ull << 40)) | 1ull << 51);
        expect_misconfig(&w, level);
    }
    for (unsigned bit = 3; bit <= 7; bit++) {           /* PML4E bits 7:3, PS among them */
        four_levels(RWX | WB);
        put(0x1000, 0x2000 | RWX | 1ull << bit);
        expect_misconfig(&w, 4);
    }
    for (unsigned bit = 3; bit <= 6; bit++) {           /* bits 6:3 of a PDPTE or PDE to a table */
        four_levels(RWX | WB);
        put(0x2008, 0x3000 | RWX | 1ull << bit);
        expect_misconfig(&w, 3);
        four_levels(RWX | WB);
        put(0x3008, 0x4000 | RWX | 1ull << bit);
        expect_misconfig(&w, 2);
    }

    four_levels(RWX | WB);                              /* ignored bits: 8-11, 52-63, PS in a PTE */
    uint64_t ignored = 0xf00ull | 0xfff0000000000000ull;
    for (unsigned level = 4; level >= 1; level--)
        put(entry_at[level], get(entry_at[level]) | ignored);
    put(0x4008, get(0x4008) | PS);
    expect_ok(&w);
    CHECK_EQ(ept_walk(&w, L2_ADDR, 0).address, 0x9234);

    w = walker();
    w.phys_bits = 52;                                   /* the widest: no address bit reserved */
    four_levels(RWX | WB);
    put(0x4008, (1ull << 51) | 0x9000 | RWX | WB);
    CHECK_EQ(ept_walk(&w, L2_ADDR, 0).address, (1ull << 51) | 0x9234);
}

/* The leaf's memory type: 2, 3 and 7 are reserved, in a PTE, a 2 MiB and a 1 GiB
 * page; above the leaf those bits are reserved outright (test_reserved_bits). */
static void test_memory_types(void)
{
    struct ept_walker w = walker();
    for (unsigned type = 0; type < 8; type++) {
        bool reserved = type == 2 || type == 3 || type == 7;
        four_levels(RWX | (uint64_t)type << 3);
        struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
        CHECK_EQ(r.status, reserved ? EPT_WALK_MISCONFIG : EPT_WALK_OK);
        CHECK_EQ(r.level, 1);
        if (!reserved)
            CHECK_EQ(r.memory_type, type);
        put(0x3008, 0x00600000 | RWX | PS | (uint64_t)type << 3);
        r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
        CHECK_EQ(r.status, reserved ? EPT_WALK_MISCONFIG : EPT_WALK_OK);
        CHECK_EQ(r.level, 2);
        put(0x2008, 0x80000000ull | RWX | PS | (uint64_t)type << 3);
        r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
        CHECK_EQ(r.status, reserved ? EPT_WALK_MISCONFIG : EPT_WALK_OK);
        CHECK_EQ(r.level, 3);
    }
}

/* A large page's address bits below its size are reserved, bit 12 included: EPT has
 * no PAT bit there. */
static void test_large_page_alignment(void)
{
    struct ept_walker w = walker();
    four_levels(RWX | WB);
    static const uint64_t bits_2m[] = { 1ull << 12, 1ull << 13, 1ull << 20 };
    for (unsigned i = 0; i < 3; i++) {
        put(0x3008, 0x00600000 | bits_2m[i] | RWX | PS | WB);
        expect_misconfig(&w, 2);
    }
    static const uint64_t bits_1g[] = { 1ull << 12, 1ull << 21, 1ull << 29 };
    for (unsigned i = 0; i < 3; i++) {
        put(0x2008, 0x80000000ull | bits_1g[i] | RWX | PS | WB);
        expect_misconfig(&w, 3);
    }
    put(0x2008, 0xc0000000ull | RWX | PS | WB);  /* bit 30: the next 1 GiB */
    CHECK_EQ(ept_walk(&w, L2_ADDR, 0).address, 0xc0201234ull);
}

/* A misconfiguration anywhere wins over permissions the levels above already deny
 * (28.2.3.3), but an entry not present ends the walk before one below is looked at. */
static void test_misconfig_before_permissions(void)
{
    struct ept_walker w = walker();
    four_levels(RWX | (2ull << 3));                     /* reserved type in the leaf */
    put(0x1000, 0x2000 | R);                            /* and the PML4E denies the write */
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_MISCONFIG);
    CHECK_EQ(r.level, 1);

    four_levels(RWX | (2ull << 3));
    put(0x3008, 0);                                     /* PDE not present: the PT is never read */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QW);
    CHECK_EQ(r.level, 2);
}

/* With `ad`: accessed on every entry used, dirty on the leaf of a write, only for a
 * walk that succeeds, written back only when they change.  Without it, untouched. */
static void test_accessed_dirty(void)
{
    struct ept_walker w = walker();
    four_levels(RWX | WB);
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK(r.status == EPT_WALK_OK && !r.dirty);
    CHECK_EQ(writes, 0);
    four_levels(RWX | WB | D);                          /* bit 9 is ignored without `ad` */
    CHECK(!ept_walk(&w, L2_ADDR, EPT_ACCESS_READ).dirty);

    w = walker();
    w.ad = true;
    four_levels(RWX | WB);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK(r.status == EPT_WALK_OK && !r.dirty);
    for (unsigned level = 4; level >= 1; level--)
        CHECK_EQ(get(entry_at[level]) & (A | D), A);
    CHECK_EQ(writes, 4);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK(r.status == EPT_WALK_OK && r.dirty);
    CHECK_EQ(get(0x4008), 0x9000 | RWX | WB | A | D);
    CHECK_EQ(get(0x1000), 0x2000 | RWX | A);            /* never dirty above the leaf */
    CHECK_EQ(writes, 5);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);        /* nothing new to set: no writes */
    CHECK(r.status == EPT_WALK_OK && r.dirty);
    CHECK_EQ(writes, 5);

    w = walker();                                       /* a failed write marks nothing */
    w.ad = true;
    four_levels(R | WB);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(writes, 0);
    CHECK_EQ(get(0x1000) & A, 0);

    w = walker();                                       /* a 2 MiB leaf gets the dirty flag */
    w.ad = true;
    four_levels(RWX | WB);
    put(0x3008, 0x00600000 | RWX | PS | WB);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK(r.status == EPT_WALK_OK && r.dirty);
    CHECK_EQ(get(0x3008), 0x00600000 | RWX | PS | WB | A | D);
    CHECK_EQ(get(0x4008) & A, 0);                       /* the PT is not used */

    w = walker();                                       /* `ad` without a write callback */
    w.ad = true;
    w.write = NULL;
    four_levels(RWX | WB);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK(r.status == EPT_WALK_OK && !r.dirty);
    CHECK_EQ(get(0x4008), 0x9000 | RWX | WB);
    four_levels(RWX | WB | D);                          /* the leaf reported as it is */
    CHECK(ept_walk(&w, L2_ADDR, EPT_ACCESS_READ).dirty);
}

static void test_malformed_tables(void)
{
    struct ept_walker w = walker();
    four_levels(RWX | WB);
    put(0x2008, 0x7f000000 | RWX);                      /* a PD outside L1's RAM */
    struct ept_walk_result r = ept_walk(&w, L2_ADDR, EPT_ACCESS_WRITE);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QW);                      /* not present at level 2 */
    CHECK_EQ(r.level, 2);

    w = walker();
    w.eptp = 0x7ffff000 | 6 | (3 << 3);                 /* the PML4 outside RAM */
    r = ept_walk(&w, 0, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.qualification, QR);
    CHECK_EQ(r.level, 4);

    w = walker();                                       /* the last entry of RAM reads whole */
    put(0x2000 + 511 * 8, 0x3000 | RWX);
    put(0x3000 + 511 * 8, (L1_SIZE - 0x1000) | RWX);
    put(L1_SIZE - 8, 0x9000 | RWX | WB);
    r = ept_walk(&w, 0xffffffffffull, EPT_ACCESS_READ); /* PML4[1] PDPT[511] PD[511] PT[511] */
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);             /* PML4[1] is empty */
    CHECK_EQ(r.level, 4);
    put(0x1008, 0x2000 | RWX);
    r = ept_walk(&w, 0xffffffffffull, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x9fff);

    w = walker();                                       /* a PML4 that points at itself */
    put(0x1000, 0x1000 | RWX);
    r = ept_walk(&w, 0x234, EPT_ACCESS_READ);           /* four reads, then a leaf (type UC) */
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x1234);
    CHECK_EQ(r.memory_type, 0);
    w.ad = true;
    r = ept_walk(&w, 0x234, EPT_ACCESS_WRITE);          /* one entry, marked as every level */
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(get(0x1000), 0x1000 | RWX | A | D);
    put(0x1000, 0x1000 | RWX | WB);                     /* with a memory type: reserved at level 4 */
    r = ept_walk(&w, 0x234, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_MISCONFIG);
    CHECK_EQ(r.level, 4);

    w = walker();                                       /* tables that point at each other */
    put(0x1000, 0x2000 | RWX);
    put(0x2000, 0x1000 | RWX);
    r = ept_walk(&w, 0, EPT_ACCESS_EXECUTE);            /* PML4, PDPT, PML4 as a PD, PDPT as a PT */
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0x1000);

    w = walker();                                       /* a leaf beyond RAM is a result, not a fault */
    four_levels(RWX | WB);
    put(0x4008, 0xfee00000ull | RWX | WB);
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_OK);
    CHECK_EQ(r.address, 0xfee00234ull);

    w = walker();                                       /* an EPTP's bits 11:0 are not address */
    w.eptp = 0x1000 | 0xfff;
    four_levels(RWX | WB);
    CHECK_EQ(ept_walk(&w, L2_ADDR, 0).address, 0x9234);

    w = walker();                                       /* a table address beyond phys_bits */
    four_levels(RWX | WB);
    put(0x1000, 0xff00000000ull | 0x2000 | RWX);        /* within 40 bits, outside RAM */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_VIOLATION);
    CHECK_EQ(r.level, 3);
    put(0x1000, 0xff0000000000ull | 0x2000 | RWX);      /* beyond 40 bits: reserved */
    r = ept_walk(&w, L2_ADDR, EPT_ACCESS_READ);
    CHECK_EQ(r.status, EPT_WALK_MISCONFIG);
    CHECK_EQ(r.level, 4);
}

DEVICE_TESTS(ept_walk,
    { "ept_4k_page", test_4k_page },
    { "ept_2m_and_1g_pages", test_2m_and_1g_pages },
    { "ept_not_present_each_level", test_not_present_each_level },
    { "ept_permissions", test_permissions },
    { "ept_misconfigured_permissions", test_misconfigured_permissions },
    { "ept_reserved_bits", test_reserved_bits },
    { "ept_memory_types", test_memory_types },
    { "ept_large_page_alignment", test_large_page_alignment },
    { "ept_misconfig_before_permissions", test_misconfig_before_permissions },
    { "ept_accessed_dirty", test_accessed_dirty },
    { "ept_malformed_tables", test_malformed_tables },
)
