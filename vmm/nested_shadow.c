/* The shadow nested page table (nested_shadow.h).  The kernel side: a guest space,
 * page-table objects mapped into it, and FRAME_MAP of one 4 KiB piece of a 2 MiB frame
 * through a copy of the frame's capability (abi.md, PITH_ATTR_PIECE). */
#include <pith/alloc.h>

#include "nested_shadow.h"
#include "vm.h"


static const enum pith_object_type level_type[3] = {
    PITH_OBJ_PAGE_TABLE, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PDPT,
};
static const unsigned level_count[3] = { SHADOW_PTS, SHADOW_PDS, SHADOW_PDPTS };
static const unsigned level_shift[3] = { 21, 30, 39 };    /* what one table covers */

enum pith_error shadow_setup(struct nested_shadow *s)
{
    if (s->ready)
        return PITH_OK;
    enum pith_error err = pith_alloc_object(PITH_OBJ_GUEST_SPACE, 0, &s->space);
    s->page_cap = pith_malloc(SHADOW_PAGES * sizeof(*s->page_cap));
    s->page_at = pith_malloc(SHADOW_PAGES * sizeof(*s->page_at));
    if (!err && (!s->page_cap || !s->page_at))
        err = PITH_E_NO_MEMORY;
    for (unsigned i = 0; !err && i < SHADOW_PAGES; i++)
        err = (s->page_cap[i] = pith_alloc_slot()) ? PITH_OK : PITH_E_RANGE;
    for (unsigned l = 0; !err && l < 3; l++) {
        struct shadow_level *level = &s->levels[l];
        level->count = level_count[l];
        level->cap = pith_malloc(level->count * sizeof(*level->cap));
        level->base = pith_malloc(level->count * sizeof(*level->base));
        if (!level->cap || !level->base)
            err = PITH_E_NO_MEMORY;
        for (unsigned i = 0; !err && i < level->count; i++)
            err = pith_alloc_object(level_type[l], 0, &level->cap[i]);
    }
    s->ready = !err;
    return err;
}

void shadow_flush(struct nested_shadow *s)
{
    /* The pages first, while their tables still lead to them; then the tables, which
     * unmapping empties (abi.md, TABLE_UNMAP). */
    for (unsigned i = 0; i < s->pages; i++)
        pith_cnode_delete(PITH_SLOT_CNODE, s->page_cap[i]);
    for (unsigned l = 0; l < 3; l++) {
        for (unsigned i = 0; i < s->levels[l].used; i++)
            pith_table_unmap(s->levels[l].cap[i]);
        s->levels[l].used = 0;
    }
    s->pages = 0;
    s->flushes++;
}

/* The tables above l2_page exist, from the PDPT down: false when a pool is empty. */
static bool tables_for(struct nested_shadow *s, uint64_t l2_page, enum pith_error *err)
{
    for (int l = 2; l >= 0; l--) {
        struct shadow_level *level = &s->levels[l];
        uint64_t base = l2_page >> level_shift[l];
        unsigned i = 0;
        while (i < level->used && level->base[i] != base)
            i++;
        if (i < level->used)
            continue;
        if (level->used == level->count)
            return false;
        *err = pith_table_map(level->cap[i], s->space, l2_page);
        if (*err)
            return false;
        level->base[level->used++] = base;
    }
    return true;
}

enum shadow_result shadow_map(struct nested_shadow *s, struct vm *vm, uint64_t l2_page, uint64_t l1_page,
                              bool writable, bool executable, enum pith_error *err)
{
    uint64_t attributes;
    pith_cap_t frame = vm_ram_page(vm, l1_page, &attributes);
    *err = PITH_OK;
    if (!frame)
        return SHADOW_NOT_RAM;
    s->faults++;
    /* A page mapped already (with fewer rights, or to what L1's tables said before a
     * change it has not flushed yet) is replaced. */
    unsigned slot = 0;
    while (slot < s->pages && s->page_at[slot] != l2_page)
        slot++;
    if (slot < s->pages) {
        pith_cnode_delete(PITH_SLOT_CNODE, s->page_cap[slot]);
    } else {
        if (s->pages == SHADOW_PAGES || !tables_for(s, l2_page, err)) {
            if (*err)
                return SHADOW_FAILED;
            shadow_flush(s);
            if (!tables_for(s, l2_page, err))
                return SHADOW_FAILED;
        }
        slot = s->pages++;
        s->page_at[slot] = l2_page;
    }
    uint64_t rights = PITH_RIGHT_READ | (writable ? PITH_RIGHT_WRITE : 0) | (executable ? PITH_RIGHT_EXECUTE : 0);
    *err = pith_cnode_copy(PITH_SLOT_CNODE, s->page_cap[slot], PITH_SLOT_CNODE, frame, PITH_RIGHTS_ALL);
    if (!*err)
        *err = pith_frame_map(s->page_cap[slot], s->space, l2_page, rights, attributes);
    if (*err) {                     /* drop the slot again: nothing is mapped through it */
        pith_cnode_delete(PITH_SLOT_CNODE, s->page_cap[slot]);
        s->page_at[slot] = s->page_at[--s->pages];
        pith_cap_t spare = s->page_cap[slot];
        s->page_cap[slot] = s->page_cap[s->pages];
        s->page_cap[s->pages] = spare;
        return SHADOW_FAILED;
    }
    return SHADOW_MAPPED;
}
