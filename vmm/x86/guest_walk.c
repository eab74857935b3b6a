/* Guest page-table walk and segment arithmetic (SDM Vol. 3A 3.4, 4.3-4.7). */
#include "guest_walk.h"

/* Paging-structure entry bits shared by every mode (SDM Vol. 3A 4.3-4.5). */
#define ENTRY_PRESENT  (1ull << 0)
#define ENTRY_WRITABLE (1ull << 1)
#define ENTRY_USER     (1ull << 2)
#define ENTRY_LARGE    (1ull << 7)      /* PS: this entry maps a page */
#define ENTRY_NX       (1ull << 63)     /* XD, PAE and 4-level only */

#define PAGE_SIZE_4K   0x1000ull

/* bits hi..lo set */
#define BITS(hi, lo)   (((~0ull) >> (63 - (hi))) & ~((1ull << (lo)) - 1))

/* SDM Vol. 3A 4.1.1: which of the paging modes CR0.PG, CR4.PAE, EFER.LMA and
 * CR4.LA57 select. */
enum paging_mode { PAGING_NONE, PAGING_32BIT, PAGING_PAE, PAGING_4LEVEL, PAGING_5LEVEL };

/* One walk in progress: where it is, and the rights gathered on the way down. */
struct walk {
    const struct guest_paging *paging;
    enum paging_mode mode;
    uint64_t linear;
    uint64_t phys_mask;         /* bits MAXPHYADDR-1..0 */
    bool writable, user, no_execute;
};

static enum paging_mode paging_mode(const struct guest_paging *p)
{
    if (!(p->cr0 & GUEST_CR0_PG))
        return PAGING_NONE;
    if (!(p->cr4 & GUEST_CR4_PAE))
        return PAGING_32BIT;
    if (!(p->efer & GUEST_EFER_LMA))
        return PAGING_PAE;
    return (p->cr4 & GUEST_CR4_LA57) ? PAGING_5LEVEL : PAGING_4LEVEL;
}

static unsigned maxphyaddr(const struct guest_paging *p)
{
    if (p->maxphyaddr < 32 || p->maxphyaddr > 52)
        return 52;
    return p->maxphyaddr;
}

static unsigned top_level(enum paging_mode mode)
{
    return mode == PAGING_32BIT ? 2 : mode == PAGING_PAE ? 3 : 4;
}

/* Linear-address bit where the index into a level-`level` table starts; level 1 is
 * the page table.  32-bit paging indexes 10 bits a level, the others 9. */
static unsigned level_shift(enum paging_mode mode, unsigned level)
{
    return 12 + (mode == PAGING_32BIT ? 10 : 9) * (level - 1);
}

static uint64_t entry_index(const struct walk *w, unsigned level)
{
    unsigned bits = w->mode == PAGING_32BIT ? 10 : 9;
    return (w->linear >> level_shift(w->mode, level)) & ((1ull << bits) - 1);
}

/* CR3's table address: bits 31:12 for 32-bit paging, 31:5 for PAE (SDM 4.4.1),
 * MAXPHYADDR-1:12 for 4-level (low bits may be a PCID). */
static uint64_t root_table(const struct walk *w)
{
    uint64_t cr3 = w->paging->cr3;
    if (w->mode == PAGING_32BIT)
        return cr3 & BITS(31, 12);
    if (w->mode == PAGING_PAE)
        return cr3 & BITS(31, 5);
    return cr3 & w->phys_mask & ~(PAGE_SIZE_4K - 1);
}

static unsigned entry_size(const struct walk *w)
{
    return w->mode == PAGING_32BIT ? 4 : 8;
}

/* Little-endian, byte by byte: the callback's buffer has no alignment promise. */
static bool read_entry(const struct walk *w, uint64_t gpa, uint64_t *entry)
{
    uint8_t bytes[8];
    unsigned size = entry_size(w);
    if (!w->paging->read_phys(w->paging->ctx, gpa, bytes, size))
        return false;
    *entry = 0;
    for (unsigned i = 0; i < size; i++)
        *entry |= (uint64_t)bytes[i] << (8 * i);
    return true;
}

static bool nx_enabled(const struct walk *w)
{
    return w->mode != PAGING_32BIT && (w->paging->efer & GUEST_EFER_NXE);
}

/* Does this present entry map a page rather than point to the next table? */
static bool maps_page(const struct walk *w, unsigned level, uint64_t entry)
{
    if (level == 1)
        return true;
    if (!(entry & ENTRY_LARGE))
        return false;
    switch (w->mode) {
    case PAGING_32BIT: return level == 2 && (w->paging->cr4 & GUEST_CR4_PSE);
    case PAGING_PAE:   return level == 2;
    default:           return level == 2 || level == 3;
    }
}

/* 32-bit paging, 4 MiB page: bits 20:13 hold physical bits 39:32 (PSE-36); those
 * beyond MAXPHYADDR (at most 40 here) and bit 21 are reserved (SDM 4.3, Table 4-4). */
static uint64_t reserved_32bit_large(const struct walk *w)
{
    unsigned m = maxphyaddr(w->paging) > 40 ? 40 : maxphyaddr(w->paging);
    uint64_t reserved = 1ull << 21;
    if (m < 40)
        reserved |= BITS(20, m - 19);
    return reserved;
}

/* The bits of a present entry that must be 0 (SDM 4.3, 4.4.1, 4.4.2, 4.5.4). */
static uint64_t reserved_bits(const struct walk *w, unsigned level, uint64_t entry)
{
    uint64_t above_maxphy = ~w->phys_mask;
    bool large = (entry & ENTRY_LARGE) && level > 1;
    uint64_t reserved;

    if (w->mode == PAGING_32BIT)
        return maps_page(w, level, entry) && level == 2 ? reserved_32bit_large(w) : 0;
    if (w->mode == PAGING_PAE && level == 3)    /* PDPTE: 63:M, 8:5, 2:1 */
        return above_maxphy | BITS(8, 5) | BITS(2, 1);
    if (w->mode == PAGING_PAE)
        reserved = above_maxphy & ~ENTRY_NX;    /* 62:M */
    else
        reserved = above_maxphy & BITS(51, 0);  /* 51:M; 62:52 are ignored */
    if (!nx_enabled(w))
        reserved |= ENTRY_NX;
    if (w->mode == PAGING_4LEVEL && level == 4)
        reserved |= ENTRY_LARGE;
    if (large && level == 2)
        reserved |= BITS(20, 13);
    if (large && level == 3)
        reserved |= BITS(29, 13);
    return reserved;
}

/* Where the next table, or the page, starts. */
static uint64_t entry_address(const struct walk *w, unsigned level, uint64_t entry)
{
    bool page = maps_page(w, level, entry);
    uint64_t alignment = page ? 1ull << level_shift(w->mode, level) : PAGE_SIZE_4K;
    if (w->mode != PAGING_32BIT)
        return entry & w->phys_mask & ~(alignment - 1);
    if (page && level == 2)
        return (entry & BITS(31, 22)) | ((entry >> 13) & 0xff) << 32;
    return entry & BITS(31, 12);
}

/* PAE PDPTEs carry no rights (SDM 4.4.1); every other level narrows them (SDM 4.6). */
static void gather_rights(struct walk *w, unsigned level, uint64_t entry)
{
    if (w->mode == PAGING_PAE && level == 3)
        return;
    w->writable = w->writable && (entry & ENTRY_WRITABLE);
    w->user = w->user && (entry & ENTRY_USER);
    w->no_execute = w->no_execute || (nx_enabled(w) && (entry & ENTRY_NX));
}

/* SDM 4.6.1: may an access of this kind at this CPL use the translation found? */
static bool access_allowed(const struct walk *w, enum guest_access access)
{
    const struct guest_paging *p = w->paging;
    bool supervisor = p->cpl < 3;

    if (access == GUEST_ACCESS_FETCH) {
        if (w->no_execute)
            return false;
        if (!supervisor)
            return w->user;
        return !(w->user && (p->cr4 & GUEST_CR4_SMEP));
    }
    if (!supervisor)
        return w->user && (access != GUEST_ACCESS_WRITE || w->writable);
    if (w->user && (p->cr4 & GUEST_CR4_SMAP) && !(p->rflags & GUEST_RFLAGS_AC))
        return false;
    if (access == GUEST_ACCESS_WRITE && (p->cr0 & GUEST_CR0_WP))
        return w->writable;
    return true;
}

/* SDM 4.7: the error code describes the access, plus why it failed.  I/D is set
 * only if SMEP is on or NX is usable (PAE or 4-level with EFER.NXE). */
static enum guest_walk_status page_fault(const struct walk *w, enum guest_access access,
                                         uint32_t cause, struct guest_translation *out)
{
    const struct guest_paging *p = w->paging;
    uint32_t code = cause;
    if (access == GUEST_ACCESS_WRITE)
        code |= GUEST_PF_WRITE;
    if (p->cpl == 3)
        code |= GUEST_PF_USER;
    if (access == GUEST_ACCESS_FETCH && ((p->cr4 & GUEST_CR4_SMEP) || nx_enabled(w)))
        code |= GUEST_PF_FETCH;
    out->error_code = code;
    return GUEST_WALK_PAGE_FAULT;
}

enum guest_walk_status guest_translate(const struct guest_paging *paging, uint64_t linear,
                                       enum guest_access access, struct guest_translation *out)
{
    struct walk w = {
        .paging = paging, .mode = paging_mode(paging), .linear = linear,
        .phys_mask = BITS(maxphyaddr(paging) - 1, 0),
        .writable = true, .user = true, .no_execute = false,
    };
    if (w.mode != PAGING_4LEVEL && w.mode != PAGING_5LEVEL)
        w.linear &= 0xffffffffull;              /* 32-bit linear addresses */
    *out = (struct guest_translation){ .linear = w.linear };

    if (w.mode == PAGING_NONE) {
        out->gpa = w.linear;
        return GUEST_WALK_OK;
    }
    if (w.mode == PAGING_5LEVEL)
        return GUEST_WALK_UNSUPPORTED;

    uint64_t table = root_table(&w);
    for (unsigned level = top_level(w.mode); ; level--) {
        uint64_t entry;
        if (!read_entry(&w, table + entry_index(&w, level) * entry_size(&w), &entry))
            return GUEST_WALK_NOT_RAM;
        if (!(entry & ENTRY_PRESENT))
            return page_fault(&w, access, 0, out);
        if (entry & reserved_bits(&w, level, entry))
            return page_fault(&w, access, GUEST_PF_PRESENT | GUEST_PF_RESERVED, out);
        gather_rights(&w, level, entry);
        if (maps_page(&w, level, entry)) {
            out->page_size = 1ull << level_shift(w.mode, level);
            out->gpa = entry_address(&w, level, entry) | (w.linear & (out->page_size - 1));
            break;
        }
        table = entry_address(&w, level, entry);
    }
    if (!access_allowed(&w, access))
        return page_fault(&w, access, GUEST_PF_PRESENT, out);
    return GUEST_WALK_OK;
}

enum guest_walk_status guest_copy_from_linear(const struct guest_paging *paging,
                                              uint64_t linear, enum guest_access access,
                                              void *buf, size_t len, size_t *copied,
                                              struct guest_translation *fault)
{
    enum guest_walk_status status = GUEST_WALK_OK;
    size_t done = 0;

    /* 4 KiB steps: no page is smaller, so each step is contiguous in guest RAM. */
    while (done < len) {
        uint64_t at = linear + done;
        size_t step = PAGE_SIZE_4K - (at & (PAGE_SIZE_4K - 1));
        struct guest_translation t;
        if (step > len - done)
            step = len - done;
        status = guest_translate(paging, at, access, &t);
        if (status == GUEST_WALK_PAGE_FAULT)
            *fault = t;
        if (status != GUEST_WALK_OK)
            break;
        if (!paging->read_phys(paging->ctx, t.gpa, (uint8_t *)buf + done, step)) {
            status = GUEST_WALK_NOT_RAM;
            break;
        }
        done += step;
    }
    *copied = done;
    return status;
}

uint64_t guest_segment_linear(bool mode64, enum guest_segment segment, uint64_t base,
                              uint64_t offset)
{
    if (mode64)
        return segment == GUEST_SEG_FS || segment == GUEST_SEG_GS ? base + offset : offset;
    return (base + offset) & 0xffffffffull;
}

unsigned guest_cpl(uint64_t cr0, uint64_t rflags, unsigned ss_attributes)
{
    if (!(cr0 & GUEST_CR0_PE))
        return 0;
    if (rflags & GUEST_RFLAGS_VM)
        return 3;
    return (ss_attributes >> 5) & 3;     /* DPL: descriptor bits 45..46 */
}
