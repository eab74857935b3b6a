/*
 * The walk through a guest hypervisor's nested page tables (docs/nested.md): from an
 * address of its guest (L2-physical) to the guest's own physical memory (L1-physical),
 * as the processor would do it for nested paging (APM Vol. 2, 15.25).  The VMM fills
 * its shadow nested table from the result, or reflects the fault to the guest as a
 * nested page fault with the EXITINFO1 this computes.
 *
 * The tables are the x86-64 4-level format (APM 5.3, 15.25.5), walked as user
 * accesses (every level needs U), with 2 MiB and (when offered) 1 GiB pages, NX when
 * the guest hypervisor's EFER.NXE was set at VMRUN, and the reserved bits the APM
 * lists (5.3.1, 5.6): address bits beyond the physical-address width, PS in a PML4E,
 * the low address bits of a large page, NX without NXE.  A table the guest placed
 * outside its RAM ends the walk as a not-present fault at that level: the VMM has
 * nothing there to read.  Pure: the guest's memory is a pair of callbacks.
 */
#ifndef VMM_DEV_NPT_WALK_H
#define VMM_DEV_NPT_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Access kinds, and EXITINFO1 of a nested page fault (APM 15.25.6): the #PF error
 * code bits P, RW, US, RSV, ID. */
#define NPT_ACCESS_WRITE    (1u << 1)
#define NPT_ACCESS_EXECUTE  (1u << 4)

#define NPF_PRESENT         (1ull << 0)
#define NPF_WRITE           (1ull << 1)
#define NPF_USER            (1ull << 2)
#define NPF_RESERVED        (1ull << 3)
#define NPF_EXECUTE         (1ull << 4)

typedef bool npt_read_fn(void *ctx, uint64_t address, void *buf, size_t length);
typedef bool npt_write_fn(void *ctx, uint64_t address, const void *buf, size_t length);

struct npt_walker {
    uint64_t ncr3;              /* the guest's nCR3 from VMCB12 */
    unsigned phys_bits;         /* physical-address width the guest was offered */
    bool nx;                    /* the guest hypervisor's EFER.NXE */
    bool gb_pages;              /* 1 GiB pages offered (CPUID 8000_0001h EDX.26) */
    npt_read_fn *read;          /* the guest's RAM (L1-physical) */
    npt_write_fn *write;        /* sets accessed and dirty bits; NULL: leave them */
    void *ctx;
};

enum npt_walk_status {
    NPT_WALK_OK,
    NPT_WALK_FAULT,             /* reflect as VMEXIT_NPF with `error` in EXITINFO1 */
};

struct npt_walk_result {
    enum npt_walk_status status;
    uint64_t address;           /* OK: the L1-physical address of the access */
    uint64_t page_size;         /* OK: 4 KiB, 2 MiB or 1 GiB */
    bool writable, executable;  /* OK: what every level allows */
    bool dirty;                 /* OK: the leaf's dirty bit (set by this walk on a write) */
    uint64_t error;             /* FAULT: NPF_* bits */
    unsigned level;             /* the level the walk ended at: 4 (PML4) ... 1 (PT) */
};

/* Translates the L2-physical `address` for an access of `access` (NPT_ACCESS_*). */
struct npt_walk_result npt_walk(const struct npt_walker *w, uint64_t address, unsigned access);

#endif
