/*
 * Starting a program in a protection domain of its own: a new CNode, address space
 * and thread, made from a small setup untyped, plus the memory the child may use for
 * itself, handed over as untyped pieces.  The parent keeps a container untyped around
 * each piece, so destroying the child (revoking them) gives every byte back.  The
 * child starts exactly like the root task (struct pith_bootinfo at PITH_ROOT_BOOTINFO,
 * same fixed slots), so one program can run either way.
 */
#ifndef PITH_PROCESS_H
#define PITH_PROCESS_H

#include <stddef.h>
#include "pith/syscall.h"

#define PITH_CHILD_PIECES 12
/* Where the parent looks at a child's page while filling it (its page tables stay). */
#define PITH_CHILD_SCRATCH_VADDR 0x00007e0000000000ull
#define PITH_CHILD_ARGS_MAX (64u << 10)
/* Where a child sees the modules it needs only until it is loaded (load_only below);
 * the others are at PITH_ROOT_MODULES.  Its own PML4 entry: no table is shared. */
#define PITH_CHILD_LOAD_MODULES 0x0000180000000000ull

struct pith_child {
    const char *name;
    const void *image;              /* an ELF executable */
    size_t image_size;
    uint64_t memory_bytes;          /* untyped memory for the child (rounded up to 1 MiB) */
    unsigned cnode_bits;            /* the child's CNode: 2^cnode_bits slots */
    uint64_t priority;
    unsigned stack_pages;           /* its stack below PITH_ROOT_STACK_TOP, 1 to 16 pages
                                     * (0: 16) */
    const struct pith_module_desc *modules;     /* mapped read-only into the child, which
                                                 * gets no capabilities for them */
    unsigned module_count;
    uint32_t load_only;             /* bit m: the child needs modules[m] only until
                                     * pith_child_loaded (with a loader) */
    pith_cap_t loader;              /* ours, 0 or an untyped of pith_child_loader_bits:
                                     * the load-only modules' mappings are made in it */
    const pith_cap_t *extra_caps;   /* copied into the child's CNode, in order */
    unsigned extra_count;
    const char *cmdline;
    const void *args;               /* an argument block, mapped read-only at PITH_CHILD_ARGS */
    size_t args_size;
    pith_cap_t fault_endpoint;      /* ours; receives the child thread's faults (0: none) */
    pith_cap_t debug_console;       /* ours, copied to the child's PITH_SLOT_DEBUG_CONSOLE
                                     * (0: the child cannot write to the kernel console) */
    /* filled in by pith_child_start */
    pith_cap_t setup;               /* container of the child's own objects and pages */
    unsigned setup_size_bits;       /* its size */
    pith_cap_t containers[PITH_CHILD_PIECES];   /* around each piece of its memory */
    unsigned piece_count;
    pith_cap_t cnode, space, thread;
    pith_cap_t module_cnode;        /* ours: the copies that map its modules */
    pith_cap_t loader_cnode;        /* the same for the load-only ones, in the loader */
    uint64_t setup_bytes;           /* what its objects, tables and pages took */
    uint64_t loader_bytes;          /* what the load-only modules' mappings took */
};

/* Create and start the child; PITH_E_INVALID_ARG for an image that is not ELF64.
 * A child destroyed and started again with the same struct (setup, containers and
 * piece_count kept, the same sizes) is made in the same containers: a parent that
 * restarts its children uses no more memory for it. */
enum pith_error pith_child_start(struct pith_child *child);

/* The size (log2) of the loader the load-only modules need; 0 when there are none. */
unsigned pith_child_loader_bits(const struct pith_child *child);

/* The child no longer needs its load-only modules: revoking the loader unmaps them and
 * empties it (a parent may reuse it for another child).  Also part of destroying. */
enum pith_error pith_child_loaded(struct pith_child *child);

/* Stop the child and take all its memory back (the containers stay the parent's). */
enum pith_error pith_child_destroy(struct pith_child *child);

#endif
