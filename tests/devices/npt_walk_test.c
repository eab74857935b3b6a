/* The nested-page-table walker over tables built in a fake L1 memory: each page size,
 * each permission, and malformed tables (reserved bits, tables outside RAM, loops). */
#include "harness.h"
#include "l1_memory.h"
#include "x86/npt_walk.h"

#define P  0x001ull
#define W  0x002ull
#define U  0x004ull
#define A  0x020ull
#define D  0x040ull
#define PS 0x080ull
#define NX (1ull << 63)
#define PUW (P | U | W)

/* Tables: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000. */
static struct npt_walker walker(void)
{
    l1_clear();
    return (struct npt_walker){ .ncr3 = 0x1000, .phys_bits = 40, .nx = true, .gb_pages = true,
                                .read = l1_read, .write = l1_write };
}

/* L2_ADDR's four-level path (l1_memory.h), its tables present, writable, user. */
static void four_levels(uint64_t leaf_bits) { l1_four_levels(PUW, leaf_bits); }

static void test_4k_page(void)
{
    struct npt_walker w = walker();
    four_levels(PUW);
    struct npt_walk_result r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(r.address, 0x9234);
    CHECK_EQ(r.page_size, 0x1000);
    CHECK(r.writable && r.executable);
    CHECK_EQ(r.level, 1);
    CHECK_EQ(get(0x4008), 0x9000 | PUW | A | D);        /* accessed and dirty on the leaf */
    CHECK_EQ(get(0x1000), 0x2000 | PUW | A);            /* accessed, never dirty, above */
    unsigned before = writes;
    r = npt_walk(&w, L2_ADDR, 0);                       /* nothing new to set: no writes */
    CHECK_EQ(writes, before);
    CHECK_EQ(r.address, 0x9234);
}

/* The walk says whether the leaf is dirty (the shadow maps a page writable only then):
 * not after a read of a clean leaf, yes after a write, yes on a read once written; a
 * walker without write access sets nothing and reports the leaf as it is. */
static void test_dirty_reported(void)
{
    struct npt_walker w = walker();
    four_levels(PUW);
    struct npt_walk_result r = npt_walk(&w, L2_ADDR, 0);
    CHECK(r.status == NPT_WALK_OK && r.writable && !r.dirty);
    r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK(r.status == NPT_WALK_OK && r.dirty);
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK(r.dirty);
    w = walker();
    w.write = NULL;
    four_levels(PUW);
    r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK(r.status == NPT_WALK_OK && !r.dirty);
    CHECK_EQ(get(0x4008), 0x9000 | PUW);
    four_levels(PUW | D);
    CHECK(npt_walk(&w, L2_ADDR, 0).dirty);
}

static void test_2m_and_1g_pages(void)
{
    struct npt_walker w = walker();
    put(0x1000, 0x2000 | PUW);
    put(0x2000 + 8, 0x3000 | PUW);
    put(0x3000 + 8, 0x00600000 | PUW | PS);             /* 2 MiB page at 6 MiB */
    struct npt_walk_result r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(r.address, 0x00601234);
    CHECK_EQ(r.page_size, 2u << 20);
    CHECK_EQ(r.level, 2);
    put(0x2000 + 8, 0x80000000ull | PUW | PS);          /* 1 GiB page at 2 GiB */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(r.address, 0x80201234ull);
    CHECK_EQ(r.page_size, 1u << 30);
    w.gb_pages = false;                                 /* PS in a PDPTE is reserved then */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_FAULT);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_RESERVED | NPF_USER);
    CHECK_EQ(r.level, 3);
}

static void test_not_present_each_level(void)
{
    for (unsigned missing = 4; missing >= 1; missing--) {
        struct npt_walker w = walker();
        four_levels(PUW);
        static const uint64_t at[5] = { 0, 0x4008, 0x3008, 0x2008, 0x1000 };
        put(at[missing], get(at[missing]) & ~P);
        struct npt_walk_result r = npt_walk(&w, L2_ADDR, NPT_ACCESS_EXECUTE);
        CHECK_EQ(r.status, NPT_WALK_FAULT);
        CHECK_EQ(r.error, NPF_USER | NPF_EXECUTE);      /* P clear: not present */
        CHECK_EQ(r.level, missing);
    }
}

static void test_permissions(void)
{
    struct npt_walker w = walker();
    four_levels(P | U);                                 /* read-only leaf */
    struct npt_walk_result r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK_EQ(r.status, NPT_WALK_FAULT);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_WRITE | NPF_USER);
    CHECK_EQ(get(0x4008) & D, 0);                       /* a failed write dirties nothing */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK(!r.writable);

    four_levels(PUW);                                   /* a read-only middle level */
    put(0x3008, 0x4000 | P | U);
    r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_WRITE | NPF_USER);
    CHECK_EQ(r.level, 2);

    four_levels(PUW | NX);                              /* no execution */
    r = npt_walk(&w, L2_ADDR, NPT_ACCESS_EXECUTE);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_EXECUTE | NPF_USER);
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK(r.status == NPT_WALK_OK && !r.executable);

    four_levels(P | W);                                 /* a supervisor leaf: nested walks are user */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_FAULT);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_USER);
}

static void test_reserved_bits(void)
{
    struct npt_walker w = walker();
    four_levels(PUW | NX);
    w.nx = false;                                       /* NX without EFER.NXE */
    struct npt_walk_result r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_RESERVED | NPF_USER);
    CHECK_EQ(r.level, 1);

    w = walker();
    four_levels(PUW);
    put(0x2008, (1ull << 40) | 0x3000 | PUW);           /* address beyond 40 bits */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_RESERVED | NPF_USER);
    CHECK_EQ(r.level, 3);

    w = walker();
    four_levels(PUW);
    put(0x1000, 0x2000 | PUW | PS);                     /* PS in a PML4E */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_RESERVED | NPF_USER);
    CHECK_EQ(r.level, 4);

    w = walker();
    four_levels(PUW);
    put(0x3008, 0x00602000 | PUW | PS);                 /* 2 MiB page, address bit 13 set */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.error, NPF_PRESENT | NPF_RESERVED | NPF_USER);
    CHECK_EQ(r.level, 2);
    put(0x3008, 0x00601000 | PUW | PS);                 /* bit 12 is PAT: allowed */
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(r.address, 0x00601234);
}

static void test_malformed_tables(void)
{
    struct npt_walker w = walker();
    four_levels(PUW);
    put(0x2008, 0x7f000000 | PUW);                      /* a PD outside L1's RAM */
    struct npt_walk_result r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK_EQ(r.status, NPT_WALK_FAULT);
    CHECK_EQ(r.error, NPF_WRITE | NPF_USER);            /* not present at level 2 */
    CHECK_EQ(r.level, 2);

    w = walker();
    w.ncr3 = 0x7ffff000;                                /* nCR3 outside RAM */
    r = npt_walk(&w, 0, 0);
    CHECK_EQ(r.status, NPT_WALK_FAULT);
    CHECK_EQ(r.level, 4);

    w = walker();                                       /* a PML4 that points at itself */
    put(0x1000, 0x1000 | PUW);
    r = npt_walk(&w, 0x234, 0);                         /* four reads, then a leaf */
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(r.address, 0x1234);

    w = walker();                                       /* a leaf beyond RAM is a result, not a fault */
    four_levels(PUW);
    put(0x4008, 0xfee00000ull | PUW);
    r = npt_walk(&w, L2_ADDR, 0);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(r.address, 0xfee00234ull);

    w = walker();                                       /* no write callback: tables untouched */
    w.write = NULL;
    four_levels(PUW);
    r = npt_walk(&w, L2_ADDR, NPT_ACCESS_WRITE);
    CHECK_EQ(r.status, NPT_WALK_OK);
    CHECK_EQ(get(0x4008), 0x9000 | PUW);
}

DEVICE_TESTS(npt_walk,
    { "npt_4k_page", test_4k_page },
    { "npt_2m_and_1g_pages", test_2m_and_1g_pages },
    { "npt_dirty_reported", test_dirty_reported },
    { "npt_not_present_each_level", test_not_present_each_level },
    { "npt_permissions", test_permissions },
    { "npt_reserved_bits", test_reserved_bits },
    { "npt_malformed_tables", test_malformed_tables },
)
