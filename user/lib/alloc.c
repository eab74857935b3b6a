/*
 * The user-level allocator. The kernel places each retyped object at the untyped's
 * watermark, aligned to the object's size, so this file needs no address arithmetic
 * for objects: it only moves on to the next untyped when one reports
 * PITH_E_NO_MEMORY. Heap blocks are kept in an address-ordered first-fit free list.
 */
#include <stdbool.h>
#include <stdint.h>

#include "pith/alloc.h"
#include "pith/pith.h"
#include "pith/printf.h"

#define PAGE_SIZE       4096u
#define BLOCK_ALIGN     16u
#define RECYCLED_SLOTS 32

struct untyped_pool {
    pith_cap_t cap;
    uint64_t size_bits;
};

static struct {
    bool ready;
    pith_cap_t cnode;
    pith_cap_t address_space;
    uint64_t next_slot, end_slot;
    uint64_t heap_next, heap_end;
    struct untyped_pool untyped[PITH_ALLOC_MAX_UNTYPED];
    size_t untyped_count;
    uint64_t recycled[RECYCLED_SLOTS];   /* emptied slots, reused first */
    size_t recycled_count;
    uint64_t bytes_retyped;             /* every object this allocator made, in bytes */
    struct pith_slot_window *window;    /* slots come from here for now, or NULL */
} allocator;

enum pith_error pith_alloc_init(const struct pith_alloc_config *config)
{
    if (config->first_free_slot == 0 || config->first_free_slot >= config->end_slot)
        return PITH_E_INVALID_ARG;
    if (config->heap_start % PAGE_SIZE || config->heap_end % PAGE_SIZE ||
        config->heap_start >= config->heap_end)
        return PITH_E_INVALID_ARG;

    allocator.cnode = config->cnode;
    allocator.address_space = config->address_space;
    allocator.next_slot = config->first_free_slot;
    allocator.end_slot = config->end_slot;
    allocator.heap_next = config->heap_start;
    allocator.heap_end = config->heap_end;
    allocator.untyped_count = 0;
    allocator.recycled_count = 0;
    allocator.ready = true;
    return pith_alloc_add_untyped(config->untyped, config->untyped_size_bits);
}

enum pith_error pith_alloc_add_untyped(pith_cap_t untyped, uint64_t size_bits)
{
    if (allocator.untyped_count == PITH_ALLOC_MAX_UNTYPED)
        return PITH_E_RANGE;
    allocator.untyped[allocator.untyped_count++] =
        (struct untyped_pool){ .cap = untyped, .size_bits = size_bits };
    return PITH_OK;
}

void pith_alloc_window_begin(struct pith_slot_window *w)
{
    if (!w->end)                        /* a new window: from the next fresh slot on */
        w->first = w->next = allocator.next_slot;
    allocator.window = w;
}

void pith_alloc_window_end(void)
{
    struct pith_slot_window *w = allocator.window;
    allocator.window = NULL;
    if (w && !w->end) {                 /* it keeps what it took and a margin */
        uint64_t margin = PITH_WINDOW_MARGIN < allocator.end_slot - w->next
                              ? PITH_WINDOW_MARGIN : allocator.end_slot - w->next;
        w->end = allocator.next_slot = w->next + margin;
    }
}

uint64_t pith_alloc_slot(void)
{
    if (!allocator.ready)
        return 0;
    struct pith_slot_window *w = allocator.window;
    if (w) {
        if (w->recycled_count > 0)
            return w->recycled[--w->recycled_count];
        uint64_t end = w->end ? w->end : allocator.end_slot;
        return w->next < end ? w->next++ : 0;
    }
    if (allocator.recycled_count > 0)
        return allocator.recycled[--allocator.recycled_count];
    if (allocator.next_slot >= allocator.end_slot)
        return 0;
    return allocator.next_slot++;
}

void pith_alloc_free_slot(uint64_t slot)
{
    struct pith_slot_window *w = allocator.window;
    if (w) {
        if (slot >= w->first && slot < w->next && w->recycled_count < PITH_WINDOW_RECYCLED)
            w->recycled[w->recycled_count++] = slot;
        return;
    }
    if (slot != 0 && allocator.recycled_count < RECYCLED_SLOTS)
        allocator.recycled[allocator.recycled_count++] = slot;
}

enum pith_error pith_alloc_object(enum pith_object_type type, uint64_t size_bits,
                                  uint64_t *slot)
{
    uint64_t dest = pith_alloc_slot();
    if (dest == 0)
        return PITH_E_RANGE;

    enum pith_error err = PITH_E_NO_MEMORY;
    uint64_t needed_bits = pith_object_bits(type, (unsigned)size_bits);
    /* Best fit: the smallest untyped that can hold it first, so that small objects do
     * not cut into the large untyped that large ones (guest memory) need whole. */
    size_t order[PITH_ALLOC_MAX_UNTYPED];
    for (size_t i = 0; i < allocator.untyped_count; i++) {
        size_t j = i;
        for (; j > 0 && allocator.untyped[order[j - 1]].size_bits > allocator.untyped[i].size_bits; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (size_t k = 0; k < allocator.untyped_count; k++) {
        size_t i = order[k];
        if (allocator.untyped[i].size_bits < needed_bits)
            continue;
        err = pith_untyped_retype(allocator.untyped[i].cap, type, size_bits,
                                  allocator.cnode, dest, 1);
        if (err != PITH_E_NO_MEMORY)
            break;
    }
    if (err != PITH_OK) {
        pith_alloc_free_slot(dest);
        return err;
    }
    allocator.bytes_retyped += 1ull << needed_bits;
    *slot = dest;
    return PITH_OK;
}

uint64_t pith_alloc_bytes(void)
{
    return allocator.bytes_retyped;
}

/* Deletes an object this file made but could not use, and recycles its slot. */
static void release_object(uint64_t slot)
{
    if (pith_cnode_delete(allocator.cnode, slot) == PITH_OK)
        pith_alloc_free_slot(slot);
}

/*
 * Makes the page table covering vaddr exist. A table map answers PITH_E_NOT_MAPPED
 * when the level above it is missing, so walk up (page table, page directory, PDPT;
 * the PML4 always exists) until one maps, then back down with the tables made so far.
 * `first` is the lowest level wanted: 0 for a 4 KiB frame, 1 (no page table) for 2 MiB.
 */
static enum pith_error map_tables_for(pith_cap_t space, uint64_t vaddr, int first)
{
    static const enum pith_object_type level_type[] = {
        PITH_OBJ_PAGE_TABLE, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PDPT,
    };
    enum { LEVELS = sizeof(level_type) / sizeof(level_type[0]) };
    uint64_t table[LEVELS] = { 0 };
    enum pith_error err = PITH_OK;

    for (int level = first; level >= first;) {
        if (table[level] == 0) {
            err = pith_alloc_object(level_type[level], 0, &table[level]);
            if (err != PITH_OK)
                break;
        }
        err = pith_table_map(table[level], space, vaddr);
        if (err == PITH_OK) {
            table[level] = 0;       /* in use now */
            level--;
        } else if (err == PITH_E_NOT_MAPPED && level + 1 < LEVELS) {
            level++;
        } else {
            break;
        }
    }
    for (int level = 0; level < LEVELS; level++) {
        if (table[level] != 0)
            release_object(table[level]);
    }
    return err;
}

static enum pith_error map_heap_page(uint64_t vaddr)
{
    uint64_t frame;
    enum pith_error err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame);
    if (err != PITH_OK)
        return err;

    err = pith_map_frame(frame, allocator.address_space, vaddr, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    if (err != PITH_OK)
        release_object(frame);
    return err;
}

static enum pith_error map_frame(pith_cap_t frame, pith_cap_t space, uint64_t vaddr, uint64_t rights,
                                 uint64_t attributes, int first_table)
{
    enum pith_error err = pith_frame_map(frame, space, vaddr, rights, attributes);
    if (err == PITH_E_NOT_MAPPED) {
        err = map_tables_for(space, vaddr, first_table);
        if (err == PITH_OK)
            err = pith_frame_map(frame, space, vaddr, rights, attributes);
    }
    return err;
}

enum pith_error pith_map_frame(pith_cap_t frame, pith_cap_t space, uint64_t vaddr, uint64_t rights,
                               uint64_t attributes)
{
    return map_frame(frame, space, vaddr, rights, attributes, 0);
}

enum pith_error pith_map_frame_2m(pith_cap_t frame, pith_cap_t space, uint64_t vaddr, uint64_t rights,
                                  uint64_t attributes)
{
    return map_frame(frame, space, vaddr, rights, attributes, 1);
}

void *pith_alloc_pages(size_t count)
{
    if (!allocator.ready || count == 0 ||
        count > (allocator.heap_end - allocator.heap_next) / PAGE_SIZE)
        return NULL;

    uint64_t start = allocator.heap_next;
    for (size_t i = 0; i < count; i++) {
        if (map_heap_page(allocator.heap_next) != PITH_OK)
            return NULL;
        allocator.heap_next += PAGE_SIZE;
    }
    return (void *)start;
}

/* ---- Heap blocks -------------------------------------------------------------------
 * Every block starts with a 16-byte header; `size` counts the header. A free block
 * uses its second word as the free-list link, a used block holds a magic word there
 * so pith_free can refuse pointers it never handed out. */

#define BLOCK_USED_MAGIC 0x7573656450697468ull   /* "htiPdesu" */

struct block {
    size_t size;
    union {
        struct block *next_free;
        uint64_t magic;
    };
};

_Static_assert(sizeof(struct block) == BLOCK_ALIGN, "block header must keep alignment");

#define MIN_BLOCK       (2 * sizeof(struct block))

static struct block *free_list;     /* sorted by address */

/* Inserts a block and merges it with the free neighbours it touches. */
static void free_list_insert(struct block *block)
{
    struct block *previous = NULL, *next = free_list;
    while (next && next < block) {
        previous = next;
        next = next->next_free;
    }

    if (next && (char *)block + block->size == (char *)next) {
        block->size += next->size;
        next = next->next_free;
    }
    block->next_free = next;

    if (!previous) {
        free_list = block;
    } else if ((char *)previous + previous->size == (char *)block) {
        previous->size += block->size;
        previous->next_free = block->next_free;
    } else {
        previous->next_free = block;
    }
}

static bool heap_grow(size_t bytes)
{
    size_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    struct block *block = pith_alloc_pages(pages);
    if (!block)
        return false;
    block->size = pages * PAGE_SIZE;
    free_list_insert(block);
    return true;
}

/* First fit; a block with room for another one after the request is split. */
static void *take_block(size_t needed)
{
    for (struct block **link = &free_list; *link; link = &(*link)->next_free) {
        struct block *block = *link;
        if (block->size < needed)
            continue;
        if (block->size - needed >= MIN_BLOCK) {
            struct block *rest = (struct block *)((char *)block + needed);
            rest->size = block->size - needed;
            rest->next_free = block->next_free;
            block->size = needed;
            *link = rest;
        } else {
            *link = block->next_free;
        }
        block->magic = BLOCK_USED_MAGIC;
        return block + 1;
    }
    return NULL;
}

void *pith_malloc(size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;        /* keeps the rounding below from overflowing */

    size_t needed = (size + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN + sizeof(struct block);
    if (needed < MIN_BLOCK)
        needed = MIN_BLOCK;

    void *ptr = take_block(needed);
    if (!ptr && heap_grow(needed))
        ptr = take_block(needed);
    return ptr;
}

void pith_free(void *ptr)
{
    if (!ptr)
        return;
    struct block *block = (struct block *)ptr - 1;
    if (block->magic != BLOCK_USED_MAGIC) {
        pith_printf("pith_free: %p was not allocated by pith_malloc\n", ptr);
        return;
    }
    free_list_insert(block);
}
