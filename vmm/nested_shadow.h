/*
 * The shadow nested page table of a guest hypervisor's guest (docs/nested.md): a guest
 * space of the VMM's own in which the guest's guest (L2) runs when its hypervisor (L1)
 * enables nested paging.  It composes L2-physical -> L1-physical (L1's nested tables,
 * walked by nested_svm.c) -> the frames the VMM backs L1's RAM with, one 4 KiB page at
 * a time, filled as L2 faults.  Nothing in it is ever anything but one of L1's own RAM
 * pages, with no more rights than L1's tables give.
 *
 * Its tables and the capability slots of its pages are a fixed pool taken once from
 * the VMM's untyped: when one runs out, the whole shadow is dropped and refilled, so an
 * L1 that maps without end costs its own guest's time and never more memory.
 */
#ifndef VMM_NESTED_SHADOW_H
#define VMM_NESTED_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/abi.h>

struct vm;

#define SHADOW_PAGES        1024    /* pages mapped at once: 4 MiB of L2's memory */
#define SHADOW_PTS          64      /* page tables: L2 memory spread over 128 MiB */
#define SHADOW_PDS          8
#define SHADOW_PDPTS        2

struct shadow_level {
    pith_cap_t *cap;                /* the pool's tables */
    uint64_t *base;                 /* what each mapped one covers (address >> its shift) */
    unsigned used, count;
};

struct nested_shadow {
    bool ready;
    pith_cap_t space;               /* the guest space L2 runs in */
    struct shadow_level levels[3];  /* page tables, page directories, PDPTs */
    pith_cap_t *page_cap;           /* a copy of the RAM frame's capability per page */
    uint64_t *page_at;              /* the L2-physical page it maps */
    unsigned pages;
    uint64_t faults, flushes;       /* for the record (nested_svm_finish) */
};

/* Makes the guest space and the pools (once). */
enum pith_error shadow_setup(struct nested_shadow *s);

/* Drops every translation: L2 starts again from an empty shadow. */
void shadow_flush(struct nested_shadow *s);

enum shadow_result {
    SHADOW_MAPPED,
    SHADOW_NOT_RAM,                 /* L1-physical address outside L1's plain RAM */
    SHADOW_FAILED,                  /* the kernel refused (*err) */
};

/* Maps the L2-physical page at l2_page to L1's RAM page at l1_page, replacing what
 * mapped l2_page before; READ always, WRITE and EXECUTE as given. */
enum shadow_result shadow_map(struct nested_shadow *s, struct vm *vm, uint64_t l2_page, uint64_t l1_page,
                              bool writable, bool executable, enum pith_error *err);

#endif
