/*
 * Address spaces, page tables and frames.  An address space is a PML4 whose upper
 * half is the kernel's; page-table objects (PDPT, page directory, page table) are
 * mapped into it by the user, then frames (4 KiB into a page table, 2 MiB into a page
 * directory).  Each frame or table capability holds at most one mapping, recorded as
 * (ASID, address); the ASID table lets an unmap find out that the address space is
 * gone (SDM 4.5 for the formats).
 */
#include "kernel.h"
#include "../arch/x86_64/arch.h"
#include "../arch/x86_64/x86.h"

#define PTE_P    BIT(0)
#define PTE_W    BIT(1)
#define PTE_U    BIT(2)
#define PTE_PWT  BIT(3)
#define PTE_PCD  BIT(4)
#define PTE_PS   BIT(7)
#define PTE_NX   BIT(63)
#define PTE_ADDR 0x000ffffffffff000ull
#define TABLE_ENTRY (PTE_P | PTE_W | PTE_U)

static struct address_space *asid_table[ASID_COUNT];
uint64_t vspace_nx_bit = PTE_NX;   /* cleared at boot on CPUs without NX */
extern uint64_t boot_pml4[512];

uint64_t vspace_asids_free(void)
{
    uint64_t n = 0;
    for (unsigned i = 1; i < ASID_COUNT; i++)
        n += asid_table[i] == NULL;
    return n;
}

void vspace_init(struct address_space *as)
{
    for (unsigned i = 256; i < 512; i++)
        as->pml4[i] = boot_pml4[i];
    memset(as->io_bitmap, 0xff, sizeof(as->io_bitmap));
    for (unsigned i = 1; i < ASID_COUNT; i++) {
        if (!asid_table[i]) {
            asid_table[i] = as;
            as->asid = i;
            return;
        }
    }
    panic("no ASID left although retype checked");
}

void vspace_destroy(struct address_space *as)
{
    asid_table[as->asid] = NULL;
    arch_forget_space(as);
}

static uint64_t *table_of(uint64_t entry) { return phys_to_virt(entry & PTE_ADDR); }

/* Levels: 3 = PML4, 2 = PDPT, 1 = page directory, 0 = page table. */
static unsigned index_at(uint64_t vaddr, unsigned level) { return (vaddr >> (12 + 9 * level)) & 511; }

/* The entry at `level` that maps vaddr, or NULL when a table above is missing or a
 * large page is in the way. */
static uint64_t *walk(struct address_space *as, uint64_t vaddr, unsigned level)
{
    uint64_t *table = as->pml4;
    for (unsigned l = 3; l > level; l--) {
        uint64_t e = table[index_at(vaddr, l)];
        if (!(e & PTE_P) || (e & PTE_PS))
            return NULL;
        table = table_of(e);
    }
    return &table[index_at(vaddr, level)];
}

static unsigned table_level(unsigned type)
{
    switch (type) {
    case PITH_OBJ_PDPT: return 3;           /* a PDPT is entered into the PML4 */
    case PITH_OBJ_PAGE_DIRECTORY: return 2;
    case PITH_OBJ_PAGE_TABLE: return 1;
    case PITH_OBJ_FRAME_2M: return 1;
    default: return 0;                      /* 4 KiB frame */
    }
}

static struct address_space *mapped_space(const struct cap *c)
{
    if (!(c->aux & CAP_AUX_MAPPED) || c->data2 >= ASID_COUNT)
        return NULL;
    return asid_table[c->data2];
}

/* Remove the capability's mapping if it is still in place. */
void vspace_unmap_cap(struct cap *c)
{
    struct address_space *as = mapped_space(c);
    if (as) {
        uint64_t *e = walk(as, c->data, table_level(c->type));
        if (e && (*e & PTE_P) && (*e & PTE_ADDR) == cap_phys(c)) {
            *e = 0;
            if (c->type == PITH_OBJ_FRAME_4K || c->type == PITH_OBJ_FRAME_2M)
                arch_flush_tlb_page(as, c->data);
            else
                arch_flush_tlb(as);
        }
    }
    c->aux &= ~CAP_AUX_MAPPED;
    c->data = c->data2 = 0;
}

static int decode_map(struct invocation *inv, struct address_space **as, uint64_t **entry,
                      uint64_t align)
{
    int err;
    struct cap *asc = inv_cap_arg(inv, 0, PITH_OBJ_ADDRESS_SPACE, PITH_RIGHT_WRITE, &err);
    if (!asc)
        return err;
    uint64_t vaddr = inv_arg(inv, 1);
    if (vaddr >= PITH_USER_TOP)
        return PITH_E_BAD_ADDRESS;
    if (vaddr & (align - 1))
        return PITH_E_ALIGNMENT;
    if (inv->cap->aux & CAP_AUX_MAPPED)
        return PITH_E_MAPPED;
    *as = (struct address_space *)asc->object;
    *entry = walk(*as, vaddr, table_level(inv->cap->type));
    if (!*entry)
        return PITH_E_NOT_MAPPED;
    if (**entry & PTE_P)
        return PITH_E_MAPPED;
    return PITH_OK;
}

static void record_mapping(struct cap *c, struct address_space *as, uint64_t vaddr)
{
    c->aux |= CAP_AUX_MAPPED;
    c->data = vaddr;
    c->data2 = as->asid;
}

static int table_map(struct invocation *inv)
{
    struct address_space *as;
    uint64_t *entry;
    uint64_t coverage = BIT(12 + 9 * table_level(inv->cap->type));
    int err = decode_map(inv, &as, &entry, PAGE_SIZE);
    if (err)
        return err;
    /* point of no return */
    *entry = cap_phys(inv->cap) | TABLE_ENTRY;
    record_mapping(inv->cap, as, inv_arg(inv, 1) & ~(coverage - 1));
    return PITH_OK;
}

static int frame_map(struct invocation *inv)
{
    struct address_space *as;
    uint64_t *entry;
    bool large = inv->cap->type == PITH_OBJ_FRAME_2M;
    unsigned rights = (unsigned)inv_arg(inv, 2) & inv->cap->rights;
    if (!(rights & PITH_RIGHT_READ))
        return PITH_E_RIGHTS;
    if (inv_arg(inv, 3) & ~(uint64_t)PITH_ATTR_UNCACHED)
        return PITH_E_INVALID_ARG;
    int err = decode_map(inv, &as, &entry, large ? LARGE_PAGE_SIZE : PAGE_SIZE);
    if (err)
        return err;
    /* point of no return */
    uint64_t pte = cap_phys(inv->cap) | PTE_P | PTE_U;
    if (rights & PITH_RIGHT_WRITE)
        pte |= PTE_W;
    if (!(rights & PITH_RIGHT_EXECUTE))
        pte |= vspace_nx_bit;
    if (large)
        pte |= PTE_PS;
    if (inv_arg(inv, 3) & PITH_ATTR_UNCACHED)
        pte |= PTE_PCD | PTE_PWT;
    *entry = pte;
    record_mapping(inv->cap, as, inv_arg(inv, 1));
    return PITH_OK;
}

int vspace_invoke(struct invocation *inv)
{
    bool frame = inv->cap->type == PITH_OBJ_FRAME_4K || inv->cap->type == PITH_OBJ_FRAME_2M;
    switch (inv->label) {
    case PITH_TABLE_MAP:
        return frame ? PITH_E_ILLEGAL_OP : table_map(inv);
    case PITH_FRAME_MAP:
        return frame ? frame_map(inv) : PITH_E_ILLEGAL_OP;
    case PITH_TABLE_UNMAP:
    case PITH_FRAME_UNMAP:
        if (frame != (inv->label == PITH_FRAME_UNMAP))
            return PITH_E_ILLEGAL_OP;
        if (!(inv->cap->aux & CAP_AUX_MAPPED))
            return PITH_E_NOT_MAPPED;
        vspace_unmap_cap(inv->cap);
        return PITH_OK;
    case PITH_FRAME_ADDRESS:
        if (!frame)
            return PITH_E_ILLEGAL_OP;
        thread_set_mr(inv->caller, 0, cap_phys(inv->cap));
        inv_reply(inv, 1);
        return PITH_OK;
    default:
        return PITH_E_ILLEGAL_OP;
    }
}

/* ---- Boot: the kernel maps the root task's first pages with tables of its own ------- */
void vspace_boot_map(struct address_space *as, uint64_t vaddr, uint64_t phys, bool writable,
                     bool exec, void *(*alloc_table)(void))
{
    uint64_t *table = as->pml4;
    for (unsigned l = 3; l > 0; l--) {
        uint64_t *e = &table[index_at(vaddr, l)];
        if (!(*e & PTE_P))
            *e = virt_to_phys(alloc_table()) | TABLE_ENTRY;
        table = table_of(*e);
    }
    table[index_at(vaddr, 0)] = phys | PTE_P | PTE_U | (writable ? PTE_W : 0) | (exec ? 0 : vspace_nx_bit);
}

void vspace_boot_record(struct cap *frame, struct address_space *as, uint64_t vaddr)
{
    record_mapping(frame, as, vaddr);
}
