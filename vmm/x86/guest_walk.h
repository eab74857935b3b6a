/*
 * Guest address translation for the VMM: segment + offset to linear, and linear to
 * guest-physical through the guest's own page tables (SDM Vol. 3A ch. 3 and 4).
 *
 * The VMM needs this when an exit does not carry the faulting instruction: it reads
 * the instruction at CS:RIP itself.  The walker sees guest memory only through a
 * read_phys callback, so it does not know how guest RAM is mapped and runs on the host
 * in the unit tests.
 *
 * The walk is read-only: it never sets accessed or dirty bits (SDM 4.8).  The guest's
 * own access already set them when it executed the instruction we are decoding, and
 * Linux does not depend on a hypervisor setting them for the fetches it makes on the
 * guest's behalf.  Not modelled: protection keys (PKE/PKS), shadow stacks, 5-level
 * paging (reported as unsupported), and the PAE PDPTE registers -- the PDPTEs are
 * read from memory, which differs only if the guest changed them without reloading CR3.
 */
#ifndef VMM_GUEST_WALK_H
#define VMM_GUEST_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Segment registers, numbered as the instruction set's Sreg field (SDM Vol. 2,
 * 3.1.1.3) and as the order of PITH_VM_GROUP_SEG. */
enum guest_segment {
    GUEST_SEG_ES, GUEST_SEG_CS, GUEST_SEG_SS, GUEST_SEG_DS, GUEST_SEG_FS, GUEST_SEG_GS,
    GUEST_SEG_COUNT
};

/* Control-register bits the walk reads (SDM Vol. 3A 2.5, 2.2.1). */
#define GUEST_CR0_PE    (1ull << 0)
#define GUEST_CR0_WP    (1ull << 16)
#define GUEST_CR0_PG    (1ull << 31)
#define GUEST_CR4_PSE   (1ull << 4)
#define GUEST_CR4_PAE   (1ull << 5)
#define GUEST_CR4_LA57  (1ull << 12)
#define GUEST_CR4_SMEP  (1ull << 20)
#define GUEST_CR4_SMAP  (1ull << 21)
#define GUEST_EFER_LME  (1ull << 8)
#define GUEST_EFER_LMA  (1ull << 10)
#define GUEST_EFER_NXE  (1ull << 11)
#define GUEST_RFLAGS_AC (1ull << 18)
#define GUEST_RFLAGS_VM (1ull << 17)

/* Page-fault error code bits (SDM Vol. 3A 4.7). */
#define GUEST_PF_PRESENT  (1u << 0)     /* 0: not present; 1: protection or reserved bit */
#define GUEST_PF_WRITE    (1u << 1)
#define GUEST_PF_USER     (1u << 2)     /* the access was made at CPL 3 */
#define GUEST_PF_RESERVED (1u << 3)
#define GUEST_PF_FETCH    (1u << 4)

/* Reads guest-physical memory; false when gpa..gpa+len is not ordinary guest RAM. */
typedef bool (*guest_read_phys_fn)(void *ctx, uint64_t gpa, void *buf, size_t len);

/* The guest state a walk depends on, copied from the exit's CR, RIP and SEG groups. */
struct guest_paging {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t rflags;            /* AC, for SMAP */
    unsigned cpl;               /* see guest_cpl() */
    unsigned maxphyaddr;        /* CPUID 80000008h EAX[7:0] as the guest sees it; 0 = 52 */
    guest_read_phys_fn read_phys;
    void *ctx;
};

enum guest_access { GUEST_ACCESS_READ, GUEST_ACCESS_WRITE, GUEST_ACCESS_FETCH };

enum guest_walk_status {
    GUEST_WALK_OK,
    GUEST_WALK_PAGE_FAULT,      /* inject #PF: error_code, CR2 = the linear address */
    GUEST_WALK_UNSUPPORTED,     /* 5-level paging */
    GUEST_WALK_NOT_RAM,         /* a paging structure (or, copying, the bytes themselves)
                                 * is not in guest RAM: stop the guest */
};

struct guest_translation {
    uint64_t linear;            /* the address translated, after the 4 GiB wrap of
                                 * non-long modes: CR2 for an injected #PF */
    uint64_t gpa;
    uint64_t page_size;         /* 4 KiB, 2 MiB, 4 MiB or 1 GiB; 0 without paging */
    uint32_t error_code;        /* GUEST_PF_*, valid for GUEST_WALK_PAGE_FAULT */
};

enum guest_walk_status guest_translate(const struct guest_paging *paging, uint64_t linear,
                                       enum guest_access access, struct guest_translation *out);

/*
 * Copies len bytes from linear address `linear`, page by page.  Stops at the first page
 * that does not translate or is not RAM: *copied says how far it got, and for a page
 * fault `fault` holds the error code and the CR2 value.  An instruction fetch copies
 * 15 bytes this way and decodes what it got; the fault matters only if the decoder
 * needed the missing bytes (the CPU fetches no further than the instruction's end).
 */
enum guest_walk_status guest_copy_from_linear(const struct guest_paging *paging,
                                              uint64_t linear, enum guest_access access,
                                              void *buf, size_t len, size_t *copied,
                                              struct guest_translation *fault);

/*
 * Segment base + offset (the offset already truncated to the address size).  In 64-bit
 * mode only FS and GS have a base (SDM Vol. 3A 3.4.4); elsewhere linear addresses wrap
 * at 4 GiB (SDM Vol. 3A 3.4).  Limits are not checked: the CPU checked them before the
 * access that exited.
 */
uint64_t guest_segment_linear(bool mode64, enum guest_segment segment, uint64_t base,
                              uint64_t offset);

/* CPL from the guest state: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL,
 * which always equals CPL (SDM Vol. 3A 5.5; VMX takes CPL from it, SVM's separate CPL
 * field matches it).  ss_attributes in the PITH_VM_GROUP_SEG layout. */
unsigned guest_cpl(uint64_t cr0, uint64_t rflags, unsigned ss_attributes);

#endif
