/*
 * A simple allocator for single-threaded user programs: CNode slots from a range,
 * kernel objects retyped from a set of untypeds, 4 KiB pages mapped into a heap range
 * (page tables created as needed), and pith_malloc/pith_free over those pages.
 * Objects and pages are never given back to the untyped; freed heap blocks are reused.
 */
#ifndef PITH_ALLOC_H
#define PITH_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "pith/syscall.h"

#define PITH_ALLOC_MAX_UNTYPED  32

struct pith_alloc_config {
    pith_cap_t untyped;             /* first untyped to retype from (not device memory) */
    uint64_t untyped_size_bits;
    pith_cap_t cnode;               /* the caller's own CNode: objects land in it */
    pith_cap_t address_space;       /* the caller's own address space: pages map here */
    uint64_t first_free_slot;       /* slots [first_free_slot, end_slot) are empty */
    uint64_t end_slot;
    uint64_t heap_start;            /* heap pages go into [heap_start, heap_end), */
    uint64_t heap_end;              /* both 4 KiB aligned, nothing mapped there yet */
};

/* PITH_E_INVALID_ARG for an empty slot range or a misaligned or empty heap range. */
enum pith_error pith_alloc_init(const struct pith_alloc_config *config);

/* Adds another untyped, tried when the earlier ones are full; PITH_E_RANGE when
 * PITH_ALLOC_MAX_UNTYPED are already in use. */
enum pith_error pith_alloc_add_untyped(pith_cap_t untyped, uint64_t size_bits);

/* An empty slot of the caller's CNode, or 0 (the null slot) when none is left. */
uint64_t pith_alloc_slot(void);

/* Gives back a slot the caller has emptied (a small number are kept for reuse). */
void pith_alloc_free_slot(uint64_t slot);

/* A window of slots [first, end): between begin and end every slot comes from it (0
 * when it is full) and freed ones go back to it, so a parent that empties the window
 * (destroying a child it started there) can use the same slots again.  A window with
 * end 0 is new: it takes fresh slots as needed, and at its end keeps those and
 * PITH_WINDOW_MARGIN more. */
#define PITH_WINDOW_RECYCLED 32
#define PITH_WINDOW_MARGIN 64
struct pith_slot_window {
    uint64_t first, next, end;
    uint64_t recycled[PITH_WINDOW_RECYCLED];
    unsigned recycled_count;
};
void pith_alloc_window_begin(struct pith_slot_window *window);
void pith_alloc_window_end(void);

/* Retypes one object (size_bits only for untyped and CNode objects) into a fresh
 * slot. PITH_E_RANGE when no slot is left, PITH_E_NO_MEMORY when no untyped has room,
 * otherwise the kernel's error for the retype. */
enum pith_error pith_alloc_object(enum pith_object_type type, uint64_t size_bits,
                                  uint64_t *slot);

/* Maps `count` fresh zeroed 4 KiB pages, read-write and not executable, at the next
 * free heap addresses; returns the first address or NULL. After a failure the pages
 * already mapped by this call stay mapped but unused. */
void *pith_alloc_pages(size_t count);

/* Map a 4 KiB frame (or with _2m a 2 MiB frame) into an address space or a guest
 * space, retyping the page tables that are missing on the way. */
enum pith_error pith_map_frame(pith_cap_t frame, pith_cap_t space, uint64_t vaddr, uint64_t rights,
                               uint64_t attributes);
enum pith_error pith_map_frame_2m(pith_cap_t frame, pith_cap_t space, uint64_t vaddr, uint64_t rights,
                                  uint64_t attributes);

/* Bytes of every object the allocator has retyped so far (frames included). */
uint64_t pith_alloc_bytes(void);

/* Heap blocks, 16-byte aligned. pith_free(NULL) does nothing. */
void *pith_malloc(size_t size);
void pith_free(void *ptr);

#endif
