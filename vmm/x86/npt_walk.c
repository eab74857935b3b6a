/* The nested-page-table walk (npt_walk.h).  APM Vol. 2: 5.3 (long-mode page
 * translation), 5.6 (protection), 15.25.5-15.25.6 (nested tables and their faults). */
#include "npt_walk.h"

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)
#define ADDRESS_BITS 0x000ffffffffff000ull  /* bits 12-51 */

/* Bits of an entry that must be zero whatever the level: the address beyond the
 * physical-address width, and NX when NXE is clear. */
static uint64_t reserved_everywhere(const struct npt_walker *w)
{
    uint64_t r = w->phys_bits < 52 ? ADDRESS_BITS & ~((1ull << w->phys_bits) - 1) : 0;
    return w->nx ? r : r | PTE_NX;
}

/* Those of a leaf of `size` bytes: the address bits below the page (PAT sits at bit
 * 12 of a large page and is allowed). */
static uint64_t reserved_in_large(uint64_t size)
{
    return (size - 1) & ~0x1fffull;
}

static struct npt_walk_result fault(uint64_t error, unsigned access, unsigned level)
{
    return (struct npt_walk_result){
        .status = NPT_WALK_FAULT,
        .error = error | NPF_USER | (access & (NPT_ACCESS_WRITE | NPT_ACCESS_EXECUTE)),
        .level = level,
    };
}

/* Accessed on every entry used, dirty on the leaf of a write (APM 5.4.2), written
 * back only when they change. */
static uint64_t mark(const struct npt_walker *w, uint64_t at, uint64_t entry, bool leaf, unsigned access)
{
    uint64_t want = entry | PTE_A | (leaf && (access & NPT_ACCESS_WRITE) ? PTE_D : 0);
    if (!w->write)
        return entry;
    if (want != entry)
        w->write(w->ctx, at, &want, sizeof(want));
    return want;
}

struct npt_walk_result npt_walk(const struct npt_walker *w, uint64_t address, unsigned access)
{
    uint64_t table = w->ncr3 & ADDRESS_BITS, reserved = reserved_everywhere(w);
    bool writable = true, executable = true;
    for (unsigned level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t at = table + ((address >> shift) & 511) * 8, entry;
        if (!w->read(w->ctx, at, &entry, sizeof(entry)))
            return fault(0, access, level);
        if (!(entry & PTE_P))
            return fault(0, access, level);
        uint64_t size = 1ull << shift;
        bool large = level > 1 && (entry & PTE_PS);
        if ((entry & reserved) || (level == 4 && (entry & PTE_PS)) ||
            (large && level == 3 && !w->gb_pages) ||
            (large && (entry & reserved_in_large(size))))
            return fault(NPF_PRESENT | NPF_RESERVED, access, level);
        writable = writable && (entry & PTE_W);
        executable = executable && !(w->nx && (entry & PTE_NX));
        /* Nested walks are user accesses (APM 15.25.5): a supervisor entry faults. */
        if (!(entry & PTE_U) || ((access & NPT_ACCESS_WRITE) && !writable) ||
            ((access & NPT_ACCESS_EXECUTE) && !executable))
            return fault(NPF_PRESENT, access, level);
        bool leaf = level == 1 || large;
        entry = mark(w, at, entry, leaf, access);
        if (leaf) {
            uint64_t frame = entry & ADDRESS_BITS & ~(size - 1);
            return (struct npt_walk_result){
                .status = NPT_WALK_OK,
                .address = frame | (address & (size - 1)),
                .page_size = size,
                .writable = writable,
                .executable = executable,
                .dirty = (entry & PTE_D) != 0,
                .level = level,
            };
        }
        table = entry & ADDRESS_BITS;
    }
    return fault(0, access, 1);     /* not reached: level 1 is always a leaf */
}
