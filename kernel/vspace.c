/*
 * Address spaces, page tables and frames.  An address space is a PML4 whose upper
 * half is the kernel's; page-table objects (PDPT, page directory, page table) are
 * mapped into it by the user, then frames (4 KiB into a page table, 2 MiB into a page
 * directory, or one 4 KiB piece of a 2 MiB frame into a page table).  Each frame or
 * table capability holds at most one mapping, recorded as (ASID, address) and, for a
 * piece, its offset; the ASID table lets an unmap find out that the address space is
 * gone (SDM 4.5 for the formats).
 */
#include "kernel.h"
#include <arch.h>

#define TABLE_ENTRY (PTE_P | PTE_W | PTE_U)

/* The ASID table names every address space and guest space by a small number, so a
 * frame's capability can find out whether the space it was mapped in still exists.
 * An entry is the space's address, with bit 0 set for a guest space. */
#define SPACE_GUEST 1ull
static uint64_t asid_table[ASID_COUNT];
uint64_t vspace_nx_bit = PTE_NX;   /* cleared at boot on CPUs without NX */
extern uint64_t boot_pml4[512];

uint64_t vspace_asids_free(void)
{
    uint64_t n = 0;
    for (unsigned i = 1; i < ASID_COUNT; i++)
        n += asid_table[i] == 0;
    return n;
}

static uint32_t asid_alloc(void *space, bool guest)
{
    for (uint32_t i = 1; i < ASID_COUNT; i++) {
        if (!asid_table[i]) {
            asid_table[i] = (uint64_t)space | (guest ? SPACE_GUEST : 0);
            return i;
        }
    }
    panic("no ASID left although retype checked");
}

void vspace_init(struct address_space *as)
{
    for (unsigned i = 256; i < 512; i++)
        as->pml4[i] = boot_pml4[i];
    memset(as->io_bitmap, 0xff, sizeof(as->io_bitmap));
    as->asid = asid_alloc(as, false);
}

void vspace_destroy(struct address_space *as)
{
    asid_table[as->asid] = 0;
    arch_forget_space(as);
}

void guest_space_init(struct guest_space *gs)
{
    gs->asid = asid_alloc(gs, true);
}

/* No CPU keeps translations of it once its memory may be something else. */
void guest_space_destroy(struct guest_space *gs)
{
    asid_table[gs->asid] = 0;
    arch_guest_space_flush(gs);
}

/* A space as the mapping code sees it: its top-level table and entry format (a guest
 * space's entries are the arch backend's: guest_pte_*). */
struct space {
    uint64_t *root;
    uint32_t asid;
    bool guest;
    void *object;
    uint64_t present_bits;      /* an entry is present when any of these is set */
};

static bool entry_present(const struct space *sp, uint64_t e)
{
    return (e & sp->present_bits) != 0;
}

static uint64_t *table_of(uint64_t entry) { return phys_to_virt(entry & PTE_ADDR); }

/* Levels: 3 = PML4, 2 = PDPT, 1 = page directory, 0 = page table. */
static unsigned index_at(uint64_t vaddr, unsigned level) { return (vaddr >> (12 + 9 * level)) & 511; }

/* The entry at `level` that maps vaddr, or NULL when a table above is missing or a
 * large page is in the way. */
static uint64_t *walk(const struct space *sp, uint64_t vaddr, unsigned level)
{
    uint64_t *table = sp->root;
    for (unsigned l = 3; l > level; l--) {
        uint64_t e = table[index_at(vaddr, l)];
        if (!entry_present(sp, e) || (e & PTE_PS))
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

/* Where a capability's mapping sits and what it points at: a piece of a 2 MiB frame
 * is a 4 KiB leaf at the piece's address. */
static unsigned mapping_level(const struct cap *c)
{
    return (c->aux & CAP_AUX_PIECE) ? 0 : table_level(c->type);
}

static uint64_t mapped_phys(const struct cap *c)
{
    return cap_phys(c) + ((c->aux & CAP_AUX_PIECE) ? (c->aux & CAP_AUX_PIECE_OFFSET) : 0);
}

static bool space_by_asid(uint64_t asid, struct space *sp)
{
    if (asid == 0 || asid >= ASID_COUNT || !asid_table[asid])
        return false;
    uint64_t e = asid_table[asid];
    sp->guest = e & SPACE_GUEST;
    sp->object = (void *)(e & ~SPACE_GUEST);
    sp->root = sp->guest ? ((struct guest_space *)sp->object)->table
                         : ((struct address_space *)sp->object)->pml4;
    sp->asid = (uint32_t)asid;
    sp->present_bits = sp->guest ? guest_pte_present_bits() : PTE_P;
    return true;
}

static void flush(const struct space *sp, const struct cap *c)
{
    if (sp->guest) {
        struct guest_space *gs = sp->object;
        gs->generation++;
        arch_guest_space_flush(gs);
    } else if (c->type == PITH_OBJ_FRAME_4K || c->type == PITH_OBJ_FRAME_2M) {
        arch_flush_tlb_page(sp->object, c->data);
    } else {
        arch_flush_tlb(sp->object);
    }
}

/* Remove the capability's mapping if it is still in place.  A table is emptied as
 * well: the frames and tables in it are found by (ASID, address), which no longer
 * leads to them, so entries left behind could outlive the frames they map if the
 * table were mapped again. */
void vspace_unmap_cap(struct cap *c)
{
    struct space sp;
    bool frame = c->type == PITH_OBJ_FRAME_4K || c->type == PITH_OBJ_FRAME_2M;
    if ((c->aux & CAP_AUX_MAPPED) && space_by_asid(c->data2, &sp)) {
        uint64_t *e = walk(&sp, c->data, mapping_level(c));
        if (e && entry_present(&sp, *e) && (*e & PTE_ADDR) == mapped_phys(c)) {
            *e = 0;
            flush(&sp, c);
        }
    }
    if (!frame && (c->aux & CAP_AUX_MAPPED))
        memset((void *)c->object, 0, PAGE_SIZE);
    c->aux &= ~CAP_AUX_MAPPING;
    c->data = c->data2 = 0;
}

/* MR0 names an address space or a guest space with the write right. */
static int decode_space(struct invocation *inv, struct space *sp)
{
    int err;
    struct cap *c = thread_cspace_lookup(inv->caller, inv_arg(inv, 0), &err);
    if (!c)
        return err;
    if (c->type != PITH_OBJ_ADDRESS_SPACE && c->type != PITH_OBJ_GUEST_SPACE)
        return PITH_E_INVALID_CAP;
    if (!(c->rights & PITH_RIGHT_WRITE))
        return PITH_E_RIGHTS;
    if (c->type == PITH_OBJ_GUEST_SPACE)
        return space_by_asid(((struct guest_space *)c->object)->asid, sp) ? PITH_OK : PITH_E_INVALID_CAP;
    return space_by_asid(((struct address_space *)c->object)->asid, sp) ? PITH_OK : PITH_E_INVALID_CAP;
}

/* Guest-physical addresses: what four levels of EPT or NPT translate. */
#define GUEST_PHYS_TOP BIT(48)

static int decode_map(struct invocation *inv, struct space *sp, uint64_t **entry, uint64_t align,
                      unsigned level)
{
    int err = decode_space(inv, sp);
    if (err)
        return err;
    uint64_t vaddr = inv_arg(inv, 1);
    if (vaddr >= (sp->guest ? GUEST_PHYS_TOP : PITH_USER_TOP))
        return PITH_E_BAD_ADDRESS;
    if (vaddr & (align - 1))
        return PITH_E_ALIGNMENT;
    if (inv->cap->aux & CAP_AUX_MAPPED)
        return PITH_E_MAPPED;
    *entry = walk(sp, vaddr, level);
    if (!*entry)
        return PITH_E_NOT_MAPPED;
    if (entry_present(sp, **entry))
        return PITH_E_MAPPED;
    return PITH_OK;
}

/* piece: 0, or CAP_AUX_PIECE with the piece's offset. */
static void record_mapping(struct cap *c, uint32_t asid, uint64_t vaddr, uint32_t piece)
{
    c->aux = (c->aux & ~CAP_AUX_MAPPING) | CAP_AUX_MAPPED | piece;
    c->data = vaddr;
    c->data2 = asid;
}

static uint64_t table_entry(const struct space *sp, uint64_t phys)
{
    return sp->guest ? guest_pte_table(phys) : phys | TABLE_ENTRY;
}

static int table_map(struct invocation *inv)
{
    struct space sp;
    uint64_t *entry;
    uint64_t coverage = BIT(12 + 9 * table_level(inv->cap->type));
    int err = decode_map(inv, &sp, &entry, PAGE_SIZE, table_level(inv->cap->type));
    if (err)
        return err;
    /* point of no return */
    *entry = table_entry(&sp, cap_phys(inv->cap));
    record_mapping(inv->cap, sp.asid, inv_arg(inv, 1) & ~(coverage - 1), 0);
    return PITH_OK;
}

/* A leaf of an address space (SDM 4.5); a guest space's is the backend's. */
static uint64_t leaf_entry(const struct space *sp, uint64_t phys, unsigned rights, bool large,
                           bool uncached)
{
    if (sp->guest)
        return guest_pte_leaf(phys, rights, large, uncached);
    uint64_t e = phys | (large ? PTE_PS : 0) | PTE_P | PTE_U;
    if (rights & PITH_RIGHT_WRITE)
        e |= PTE_W;
    if (!(rights & PITH_RIGHT_EXECUTE))
        e |= vspace_nx_bit;
    if (uncached)
        e |= PTE_PCD | PTE_PWT;
    return e;
}

/* MR3: PITH_ATTR_UNCACHED, and PITH_ATTR_PIECE with its offset for one 4 KiB page of
 * a 2 MiB frame (what a VMM needs to compose a shadow of a guest's own nested tables
 * out of the frames it backs the guest with, docs/nested.md). */
static int frame_map(struct invocation *inv)
{
    struct space sp;
    uint64_t *entry;
    uint64_t attributes = inv_arg(inv, 3);
    bool piece = attributes & PITH_ATTR_PIECE;
    bool large = inv->cap->type == PITH_OBJ_FRAME_2M && !piece;
    unsigned rights = (unsigned)inv_arg(inv, 2) & inv->cap->rights;
    if (!(rights & PITH_RIGHT_READ))
        return PITH_E_RIGHTS;
    uint64_t allowed = PITH_ATTR_UNCACHED | (piece ? PITH_ATTR_PIECE | PITH_ATTR_PIECE_OFFSET : 0);
    if ((attributes & ~allowed) || (piece && inv->cap->type != PITH_OBJ_FRAME_2M))
        return PITH_E_INVALID_ARG;
    int err = decode_map(inv, &sp, &entry, large ? LARGE_PAGE_SIZE : PAGE_SIZE, large ? 1 : 0);
    if (err)
        return err;
    /* point of no return */
    uint64_t offset = piece ? attributes & PITH_ATTR_PIECE_OFFSET : 0;
    *entry = leaf_entry(&sp, cap_phys(inv->cap) + offset, rights, large, attributes & PITH_ATTR_UNCACHED);
    record_mapping(inv->cap, sp.asid, inv_arg(inv, 1), piece ? CAP_AUX_PIECE | (uint32_t)offset : 0);
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
    record_mapping(frame, as->asid, vaddr, 0);
}
