/*
 * The walk through a guest hypervisor's EPT paging structures (docs/nested.md): from
 * an address of its guest (L2-physical) to the guest's own physical memory
 * (L1-physical), as an Intel processor does it for EPT (SDM Vol. 3C 28.2; section
 * numbers of the 2016-2022 editions, as in vmx_nested.h).  The counterpart of
 * npt_walk.h for the virtual VMX: the VMM fills its shadow EPT from the result, or
 * reflects an EPT violation (exit reason 48, with the qualification this computes) or
 * an EPT misconfiguration (exit reason 49) to the guest hypervisor.
 *
 * The structures are EPT's 4 levels (28.2.2) with 2 MiB and (when offered) 1 GiB
 * pages.  Each entry allows read (bit 0), write (bit 1) and execute (bit 2); with all
 * three clear it is not present.  The walk follows 28.2.3.3: each entry in turn is
 * either not present (a violation), misconfigured (28.2.3.1: write without read,
 * execute-only when not offered, a reserved bit, a reserved memory type in the leaf),
 * or leads on; only once the leaf is reached are the permissions, the AND over every
 * level, checked against the access.  A table the guest placed outside its RAM ends
 * the walk as a not-present entry at that level, as in npt_walk: the VMM has nothing
 * there to read.  Pure: the guest's memory is a pair of callbacks.
 *
 * The EPTP is taken as VM entry checked it (vmx_nested's eptp_ok): only its address
 * bits are used.  Whether it enables accessed and dirty flags (bit 6) is the caller's
 * to read into `ad`; with them on, the processor treats its reads of L2's own paging
 * structures as writes (28.2.4), so the caller passes READ | WRITE for those.
 */
#ifndef VMM_X86_EPT_WALK_H
#define VMM_X86_EPT_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Access kinds, one or more (a read-modify-write may pass READ | WRITE; SDM 27.2.1
 * leaves its bit 0 to the implementation).  They are bits 2:0 of the qualification. */
#define EPT_ACCESS_READ     (1u << 0)
#define EPT_ACCESS_WRITE    (1u << 1)
#define EPT_ACCESS_EXECUTE  (1u << 2)

/* The exit qualification for EPT violations (SDM 27.2.1, table 27-7).  The walker
 * sets bits 5:0: the access, then what the entries used allow (all 0 when one was not
 * present).  The caller adds bit 7, and bit 8 with it, from what L2 was doing (a
 * linear address it translated, or the PDPTE loads of MOV to CR3, which have none),
 * and bit 12 for an IRET that unblocked NMIs. */
#define EPT_VIOLATION_READ              (1ull << 0)
#define EPT_VIOLATION_WRITE             (1ull << 1)
#define EPT_VIOLATION_EXECUTE           (1ull << 2)
#define EPT_VIOLATION_READABLE          (1ull << 3)
#define EPT_VIOLATION_WRITABLE          (1ull << 4)
#define EPT_VIOLATION_EXECUTABLE        (1ull << 5)
#define EPT_VIOLATION_LINEAR_VALID      (1ull << 7)
#define EPT_VIOLATION_LINEAR_TRANSLATED (1ull << 8)     /* else a paging-structure access */
#define EPT_VIOLATION_NMI_UNBLOCKED     (1ull << 12)

typedef bool ept_read_fn(void *ctx, uint64_t address, void *buf, size_t length);
typedef bool ept_write_fn(void *ctx, uint64_t address, const void *buf, size_t length);

struct ept_walker {
    uint64_t eptp;              /* the EPT pointer from VMCS12 */
    unsigned phys_bits;         /* physical-address width the guest was offered */
    bool gb_pages;              /* 1 GiB pages offered (IA32_VMX_EPT_VPID_CAP[17]) */
    bool execute_only;          /* execute-only entries offered (IA32_VMX_EPT_VPID_CAP[0]) */
    bool ad;                    /* accessed and dirty flags on (EPTP bit 6, when offered) */
    ept_read_fn *read;          /* the guest's RAM (L1-physical) */
    ept_write_fn *write;        /* sets accessed and dirty flags when `ad`; NULL: leave them */
    void *ctx;
};

enum ept_walk_status {
    EPT_WALK_OK,
    EPT_WALK_VIOLATION,         /* reflect as exit 48 with `qualification` */
    EPT_WALK_MISCONFIG,         /* reflect as exit 49 (its qualification is undefined) */
};

struct ept_walk_result {
    enum ept_walk_status status;
    uint64_t address;           /* OK: the L1-physical address of the access */
    uint64_t page_size;         /* OK: 4 KiB, 2 MiB or 1 GiB */
    bool readable, writable, executable;    /* OK: what every level allows */
    bool dirty;                 /* OK, with `ad`: the leaf's dirty flag (set by this walk on a write) */
    unsigned memory_type;       /* OK: the leaf's EPT memory type (28.2.6): 0, 1, 4, 5 or 6 */
    bool ignore_pat;            /* OK: the leaf's "ignore PAT" bit */
    uint64_t qualification;     /* VIOLATION: EPT_VIOLATION_* bits 5:0 */
    unsigned level;             /* the level the walk ended at: 4 (PML4) ... 1 (PT); for a
                                   violation of the permissions, the leaf's */
};

/* Translates the L2-physical `address` (bits 47:0; the caller keeps it within L2's
 * width) for an access of `access` (EPT_ACCESS_*; 0 asks only for the translation).
 * Accessed and dirty flags are set only by a walk that succeeds. */
struct ept_walk_result ept_walk(const struct ept_walker *w, uint64_t address, unsigned access);

#endif
