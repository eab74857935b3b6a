/* The EPT walk (ept_walk.h).  SDM Vol. 3C, 2016-2022 editions: 28.2.2 (the entries'
 * formats), 28.2.3 (misconfigurations, violations and their order), 28.2.4 (accessed
 * and dirty flags), 27.2.1 table 27-7 (the exit qualification). */
#include "ept_walk.h"

#define EPT_R       (1ull << 0)
#define EPT_W       (1ull << 1)
#define EPT_X       (1ull << 2)
#define EPT_RWX     (EPT_R | EPT_W | EPT_X)
#define EPT_IGNORE_PAT (1ull << 6)
#define EPT_PS      (1ull << 7)
#define EPT_A       (1ull << 8)
#define EPT_D       (1ull << 9)
#define ADDRESS_BITS 0x000ffffffffff000ull  /* bits 12-51 */

static unsigned memory_type(uint64_t entry)
{
    return (entry >> 3) & 7;
}

/* 28.2.3.1: the permissions no entry may hold.  Write needs read; execute alone needs
 * the capability. */
static bool bad_permissions(const struct ept_walker *w, uint64_t entry)
{
    uint64_t rwx = entry & EPT_RWX;
    return ((rwx & EPT_W) && !(rwx & EPT_R)) || (rwx == EPT_X && !w->execute_only);
}

/* 28.2.2: the reserved bits of a present entry.  Everywhere the address beyond the
 * physical-address width; in a PML4E bits 7:3 (so no large page); in an entry that
 * references a table bits 6:3; in a large page the address bits below its size (no
 * PAT bit there, unlike ordinary paging), and PS in a PDPTE when 1 GiB pages are not
 * offered. */
static bool reserved_bits(const struct ept_walker *w, uint64_t entry, unsigned level, uint64_t size)
{
    uint64_t beyond = w->phys_bits < 52 ? ADDRESS_BITS & ~((1ull << w->phys_bits) - 1) : 0;
    if (entry & beyond)
        return true;
    if (level == 4)
        return (entry & 0xf8) != 0;
    if (level == 1)
        return false;
    if (!(entry & EPT_PS))
        return (entry & 0x78) != 0;
    return (level == 3 && !w->gb_pages) || (entry & ADDRESS_BITS & (size - 1)) != 0;
}

/* 28.2.3.1: an entry the processor refuses to use.  The memory type matters only in
 * the leaf, where 2, 3 and 7 are reserved. */
static bool misconfigured(const struct ept_walker *w, uint64_t entry, unsigned level, uint64_t size, bool leaf)
{
    unsigned type = memory_type(entry);
    return bad_permissions(w, entry) || reserved_bits(w, entry, level, size) ||
           (leaf && (type == 2 || type == 3 || type == 7));
}

/* `allowed`: the R, W and X the entries used allow, 0 when one was not present. */
static struct ept_walk_result violation(unsigned access, uint64_t allowed, unsigned level)
{
    return (struct ept_walk_result){
        .status = EPT_WALK_VIOLATION,
        .qualification = (access & EPT_RWX) | (allowed & EPT_RWX) << 3,
        .level = level,
    };
}

/* 28.2.4: accessed on every entry used, dirty on the leaf of a write, written back
 * only when they change.  Returns the leaf as it now is. */
static uint64_t mark(const struct ept_walker *w, const uint64_t at[5], uint64_t entry[5],
                     unsigned leaf_level, unsigned access)
{
    if (!w->ad || !w->write)
        return entry[leaf_level];
    for (unsigned level = 4; level >= leaf_level; level--) {
        bool dirty = level == leaf_level && (access & EPT_ACCESS_WRITE);
        uint64_t want = entry[level] | EPT_A | (dirty ? EPT_D : 0);
        if (want != entry[level])
            w->write(w->ctx, at[level], &want, sizeof(want));
        entry[level] = want;
    }
    return entry[leaf_level];
}

struct ept_walk_result ept_walk(const struct ept_walker *w, uint64_t address, unsigned access)
{
    uint64_t table = w->eptp & ADDRESS_BITS, at[5] = { 0 }, entry[5] = { 0 }, allowed = EPT_RWX;
    unsigned level = 4;
    for (;; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t size = 1ull << shift;
        at[level] = table + ((address >> shift) & 511) * 8;
        if (!w->read(w->ctx, at[level], &entry[level], sizeof(entry[level])) ||
            !(entry[level] & EPT_RWX))
            return violation(access, 0, level);
        bool leaf = level == 1 || (entry[level] & EPT_PS);     /* PS in a PML4E: reserved */
        if (misconfigured(w, entry[level], level, size, leaf))
            return (struct ept_walk_result){ .status = EPT_WALK_MISCONFIG, .level = level };
        allowed &= entry[level];
        if (leaf)
            break;
        table = entry[level] & ADDRESS_BITS;
    }
    /* 28.2.3.3: the permissions count only once the whole walk is well formed. */
    if (access & EPT_RWX & ~allowed)
        return violation(access, allowed, level);
    uint64_t size = 1ull << (12 + 9 * (level - 1)), leaf = mark(w, at, entry, level, access);
    return (struct ept_walk_result){
        .status = EPT_WALK_OK,
        .address = (leaf & ADDRESS_BITS) | (address & (size - 1)),
        .page_size = size,
        .readable = (allowed & EPT_R) != 0,
        .writable = (allowed & EPT_W) != 0,
        .executable = (allowed & EPT_X) != 0,
        .dirty = w->ad && (leaf & EPT_D),
        .memory_type = memory_type(leaf),
        .ignore_pat = (leaf & EPT_IGNORE_PAT) != 0,
        .level = level,
    };
}
