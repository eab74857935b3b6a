/* The guest page-table walker, over page tables built in a fake guest memory, one
 * test per paging mode and per kind of fault. */
#include "harness.h"
#include "x86/guest_walk.h"

#define MEMORY_SIZE 0x20000u

static uint8_t memory[MEMORY_SIZE];   /* guest-physical 0..MEMORY_SIZE */

static bool read_phys(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= MEMORY_SIZE || len > MEMORY_SIZE - gpa)
        return false;
    memcpy(buf, memory + gpa, len);
    return true;
}

static void put32(uint64_t gpa, uint32_t value)
{
    for (unsigned i = 0; i < 4; i++)
        memory[gpa + i] = (uint8_t)(value >> (8 * i));
}

static void put64(uint64_t gpa, uint64_t value)
{
    for (unsigned i = 0; i < 8; i++)
        memory[gpa + i] = (uint8_t)(value >> (8 * i));
}

#define P   0x001ull
#define RW  0x002ull
#define US  0x004ull
#define PS  0x080ull
#define XD  (1ull << 63)

static struct guest_paging paging(uint64_t cr0, uint64_t cr4, uint64_t efer, uint64_t cr3)
{
    memset(memory, 0, sizeof(memory));
    return (struct guest_paging){ .cr0 = GUEST_CR0_PE | cr0, .cr3 = cr3, .cr4 = cr4,
                                  .efer = efer, .read_phys = read_phys };
}

static struct guest_paging long_mode(void)
{
    return paging(GUEST_CR0_PG | GUEST_CR0_WP, GUEST_CR4_PAE,
                  GUEST_EFER_LMA | GUEST_EFER_NXE, 0x1000);
}

/* 4-level tables for linear 0x0000_7f80_4020_3abc: PML4 0x1000 -> PDPT 0x2000 ->
 * PD 0x3000 -> PT 0x4000 -> frame 0x9000, each entry with `rights` (plus P). */
#define LINEAR_4LEVEL 0x00007f8040203abcull
static void map_4level(uint64_t pml4e, uint64_t pdpte, uint64_t pde, uint64_t pte)
{
    put64(0x1000 + 0xff * 8, pml4e ? 0x2000 | pml4e : 0);
    put64(0x2000 + 0x001 * 8, pdpte ? 0x3000 | pdpte : 0);
    put64(0x3000 + 0x001 * 8, pde ? 0x4000 | pde : 0);
    put64(0x4000 + 0x003 * 8, pte ? 0x9000 | pte : 0);
}

static enum guest_walk_status translate(const struct guest_paging *p, uint64_t linear,
                                        enum guest_access access, struct guest_translation *t)
{
    return guest_translate(p, linear, access, t);
}

static void no_paging_is_identity(void)
{
    struct guest_paging p = paging(0, 0, 0, 0);
    struct guest_translation t;
    CHECK_EQ(translate(&p, 0xfee00030, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0xfee00030);
    CHECK_EQ(t.page_size, 0);
    CHECK_EQ(translate(&p, 0x100001234ull, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x1234);                    /* 32-bit linear addresses wrap */
}

static void bit32_4k_page(void)
{
    struct guest_paging p = paging(GUEST_CR0_PG, 0, 0, 0x1000);
    struct guest_translation t;
    put32(0x1000 + 1 * 4, 0x2000 | P | RW);     /* linear 0x00401234: PDE 1, PTE 1 */
    put32(0x2000 + 1 * 4, 0x5000 | P | RW);
    CHECK_EQ(translate(&p, 0x00401234, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x5234);
    CHECK_EQ(t.page_size, 0x1000);
}

static void bit32_4m_page_needs_pse(void)
{
    struct guest_paging p = paging(GUEST_CR0_PG, GUEST_CR4_PSE, 0, 0x1000);
    struct guest_translation t;
    /* PDE 3 maps a 4 MiB page at 0x3_00c0_0000: bits 20:13 carry physical 39:32. */
    put32(0x1000 + 3 * 4, 0x00c00000 | (0x3u << 13) | P | PS);
    CHECK_EQ(translate(&p, 0x00c12345, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x300c12345ull);
    CHECK_EQ(t.page_size, 0x400000);

    /* Without CR4.PSE the PS bit is ignored and the entry names a page table. */
    p.cr4 = 0;
    put32(0x1000 + 3 * 4, 0x3000 | P | PS);
    put32(0x3000 + 0x12 * 4, 0x7000 | P);
    CHECK_EQ(translate(&p, 0x00c12345, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x7345);
}

static void bit32_4m_reserved_bit21(void)
{
    struct guest_paging p = paging(GUEST_CR0_PG, GUEST_CR4_PSE, 0, 0x1000);
    struct guest_translation t;
    put32(0x1000, 0x00400000 | (1u << 21) | P | PS);
    CHECK_EQ(translate(&p, 0x1000, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);
}

static void pae_4k_and_2m(void)
{
    struct guest_paging p = paging(GUEST_CR0_PG, GUEST_CR4_PAE, 0, 0x1020);
    struct guest_translation t;
    /* CR3 is 32-byte aligned in PAE mode: the PDPT is at 0x1020. */
    put64(0x1020 + 2 * 8, 0x2000 | P);          /* linear 0x8000_0000..: PDPTE 2 */
    put64(0x2000 + 0 * 8, 0x3000 | P | RW);
    put64(0x3000 + 5 * 8, 0x12345000 | P | RW);
    CHECK_EQ(translate(&p, 0x80005678, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x12345678);
    CHECK_EQ(t.page_size, 0x1000);

    put64(0x2000 + 1 * 8, 0x1fe00000ull | (0x8ull << 32) | P | PS);
    CHECK_EQ(translate(&p, 0x80212345, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x81fe12345ull);
    CHECK_EQ(t.page_size, 0x200000);
}

static void pae_pdpte_reserved_bits(void)
{
    struct guest_paging p = paging(GUEST_CR0_PG, GUEST_CR4_PAE, GUEST_EFER_NXE, 0x1000);
    struct guest_translation t;
    put64(0x1000, 0x2000 | P | RW);             /* R/W is reserved in a PAE PDPTE */
    CHECK_EQ(translate(&p, 0x1000, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);

    put64(0x1000, 0x2000 | P);                  /* bit 62 is reserved in a PAE PDE */
    put64(0x2000, 0x3000 | P | RW | (1ull << 62));
    CHECK_EQ(translate(&p, 0x1000, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);
}

static void long_mode_4k(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW, P | RW, P | RW, P | RW);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x9abc);
    CHECK_EQ(t.page_size, 0x1000);
    CHECK_EQ(t.linear, LINEAR_4LEVEL);
}

static void long_mode_2m(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW, P | RW, P | RW, 0);
    put64(0x3000 + 1 * 8, 0x40000000ull | P | RW | PS);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x40003abcull);
    CHECK_EQ(t.page_size, 0x200000);
}

static void long_mode_1g_kernel_half(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    /* 0xffff_8880_4012_3456: PML4 0x111, PDPT 0x001, offset 0x0012_3456 in 1 GiB. */
    put64(0x1000 + 0x111 * 8, 0x2000 | P | RW);
    put64(0x2000 + 0x001 * 8, 0xc0000000ull | P | RW | PS);
    CHECK_EQ(translate(&p, 0xffff888040123456ull, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0xc0123456ull);
    CHECK_EQ(t.page_size, 0x40000000ull);
}

static void long_mode_reserved_bits(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW | PS, P | RW, P | RW, P | RW);     /* PS is reserved in a PML4E */
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);

    map_4level(P | RW, P | RW, P | RW, P | RW);          /* 1 GiB page, bit 13 set */
    put64(0x2000 + 1 * 8, 0xc0000000ull | (1ull << 13) | P | PS);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);

    p.maxphyaddr = 36;                                   /* address bit 40: reserved */
    map_4level(P | RW, P | RW, P | RW, P | RW | (1ull << 40));
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);
    p.maxphyaddr = 0;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(t.gpa, 0x10000009abcull);
}

static void not_present_error_codes(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW | US, P | RW | US, 0, 0);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, 0);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_WRITE, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_WRITE);
    p.cpl = 3;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_FETCH, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_USER | GUEST_PF_FETCH);
    CHECK_EQ(t.linear, LINEAR_4LEVEL);
}

static void write_to_read_only(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW | US, P | RW | US, P | US, P | RW | US);   /* the PDE says read-only */
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_WRITE, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_WRITE);
    p.cr0 &= ~GUEST_CR0_WP;                     /* the supervisor writes anyway */
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    p.cpl = 3;                                  /* user mode never does */
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_WRITE, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_WRITE | GUEST_PF_USER);
}

static void user_access_to_supervisor_page(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW | US, P | RW | US, P | RW | US, P | RW);  /* PTE: supervisor */
    p.cpl = 3;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_USER);
    p.cpl = 0;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
}

static void no_execute(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW, P | RW | XD, P | RW, P | RW);            /* XD high up the tree */
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_OK);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_FETCH, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_FETCH);

    /* Without EFER.NXE bit 63 is reserved, and I/D is not reported. */
    p.efer &= ~GUEST_EFER_NXE;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_FETCH, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_RESERVED);
}

static void smep_and_smap(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    map_4level(P | RW | US, P | RW | US, P | RW | US, P | RW | US);    /* a user page */
    p.cr4 |= GUEST_CR4_SMEP | GUEST_CR4_SMAP;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_FETCH, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT | GUEST_PF_FETCH);
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_READ, &t), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(t.error_code, GUEST_PF_PRESENT);
    p.rflags = GUEST_RFLAGS_AC;                 /* stac: the supervisor may touch it */
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_WRITE, &t), GUEST_WALK_OK);
    p.cpl = 3;
    p.rflags = 0;
    CHECK_EQ(translate(&p, LINEAR_4LEVEL, GUEST_ACCESS_FETCH, &t), GUEST_WALK_OK);
}

static void five_level_and_missing_tables(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation t;
    p.cr4 |= GUEST_CR4_LA57;
    CHECK_EQ(translate(&p, 0x1000, GUEST_ACCESS_READ, &t), GUEST_WALK_UNSUPPORTED);

    p = long_mode();
    p.cr3 = 0x80000000;                         /* the PML4 is not in guest RAM */
    CHECK_EQ(translate(&p, 0x1000, GUEST_ACCESS_READ, &t), GUEST_WALK_NOT_RAM);
}

static void copy_stops_at_unmapped_page(void)
{
    struct guest_paging p = long_mode();
    struct guest_translation fault;
    uint8_t buf[15];
    size_t copied;
    /* Linear 0x7ffa..0x8008: the page at 0x7000 maps frame 0x6000, the next one
     * frame 0x5000, then the PTE for 0x8000 is cleared. */
    put64(0x1000, 0x2000 | P | RW);
    put64(0x2000, 0x3000 | P | RW);
    put64(0x3000, 0x4000 | P | RW);
    put64(0x4000 + 7 * 8, 0x6000 | P | RW);
    put64(0x4000 + 8 * 8, 0x5000 | P | RW);
    for (unsigned i = 0; i < 6; i++)
        memory[0x6ffa + i] = (uint8_t)(0xa0 + i);
    for (unsigned i = 0; i < 9; i++)
        memory[0x5000 + i] = (uint8_t)(0xb0 + i);

    CHECK_EQ(guest_copy_from_linear(&p, 0x7ffa, GUEST_ACCESS_FETCH, buf, sizeof(buf),
                                    &copied, &fault), GUEST_WALK_OK);
    CHECK_EQ(copied, 15);
    CHECK_EQ(buf[5], 0xa5);
    CHECK_EQ(buf[6], 0xb0);
    CHECK_EQ(buf[14], 0xb8);

    put64(0x4000 + 8 * 8, 0);
    CHECK_EQ(guest_copy_from_linear(&p, 0x7ffa, GUEST_ACCESS_FETCH, buf, sizeof(buf),
                                    &copied, &fault), GUEST_WALK_PAGE_FAULT);
    CHECK_EQ(copied, 6);
    CHECK_EQ(fault.linear, 0x8000);
    CHECK_EQ(fault.error_code, GUEST_PF_FETCH);
}

static void segment_bases(void)
{
    /* 64-bit mode: only FS and GS have bases. */
    CHECK_EQ(guest_segment_linear(true, GUEST_SEG_DS, 0x1000, 0xffff800000000000ull),
             0xffff800000000000ull);
    CHECK_EQ(guest_segment_linear(true, GUEST_SEG_GS, 0xffff888000000000ull, 0x28),
             0xffff888000000028ull);
    /* Elsewhere base + offset, wrapping at 4 GiB. */
    CHECK_EQ(guest_segment_linear(false, GUEST_SEG_DS, 0xf0000, 0x8000), 0xf8000);
    CHECK_EQ(guest_segment_linear(false, GUEST_SEG_ES, 0xfffff000, 0x2000), 0x1000);
}

static void cpl_from_state(void)
{
    CHECK_EQ(guest_cpl(0, 0, 0x93), 0);                          /* real mode */
    CHECK_EQ(guest_cpl(GUEST_CR0_PE, GUEST_RFLAGS_VM, 0x93), 3); /* virtual-8086 */
    CHECK_EQ(guest_cpl(GUEST_CR0_PE, 0, 0xf3), 3);               /* SS.DPL 3 */
    CHECK_EQ(guest_cpl(GUEST_CR0_PE, 0, 0x93), 0);
}

DEVICE_TESTS(guest_walk,
    { "walk_no_paging_is_identity", no_paging_is_identity },
    { "walk_32bit_4k_page", bit32_4k_page },
    { "walk_32bit_4m_page_needs_pse", bit32_4m_page_needs_pse },
    { "walk_32bit_4m_reserved_bit21", bit32_4m_reserved_bit21 },
    { "walk_pae_4k_and_2m", pae_4k_and_2m },
    { "walk_pae_reserved_bits", pae_pdpte_reserved_bits },
    { "walk_long_mode_4k", long_mode_4k },
    { "walk_long_mode_2m", long_mode_2m },
    { "walk_long_mode_1g_kernel_half", long_mode_1g_kernel_half },
    { "walk_long_mode_reserved_bits", long_mode_reserved_bits },
    { "walk_not_present_error_codes", not_present_error_codes },
    { "walk_write_to_read_only", write_to_read_only },
    { "walk_user_access_to_supervisor_page", user_access_to_supervisor_page },
    { "walk_no_execute", no_execute },
    { "walk_smep_and_smap", smep_and_smap },
    { "walk_five_level_and_missing_tables", five_level_and_missing_tables },
    { "walk_copy_stops_at_unmapped_page", copy_stops_at_unmapped_page },
    { "walk_segment_bases", segment_bases },
    { "walk_cpl_from_state", cpl_from_state },
)
