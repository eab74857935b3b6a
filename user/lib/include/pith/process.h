/*
 * Starting a program in a protection domain of its own: a new CNode, address space
 * and thread, all made from an untyped budget the parent sets aside, and the budget's
 * other half handed to the child as its own untyped.  The child starts exactly like
 * the root task (struct pith_bootinfo at PITH_ROOT_BOOTINFO, same fixed slots), so one
 * program can run either way.
 */
#ifndef PITH_PROCESS_H
#define PITH_PROCESS_H

#include <stddef.h>
#include "pith/syscall.h"

struct pith_child {
    const char *name;
    const void *image;              /* an ELF executable */
    size_t image_size;
    unsigned budget_bits;           /* everything the child costs: 2^budget_bits bytes */
    unsigned cnode_bits;            /* the child's CNode: 2^cnode_bits slots */
    uint64_t priority;
    const struct pith_module_desc *modules;     /* shared read-only with the child */
    unsigned module_count;
    const pith_cap_t *extra_caps;   /* copied into the child's CNode, in order */
    unsigned extra_count;
    const char *cmdline;
    /* filled in by pith_child_start */
    pith_cap_t budget, cnode, space, thread;
    uint64_t kernel_objects_bytes;  /* what its objects, tables and pages took from the budget */
};

/* Create and start the child; PITH_E_INVALID_ARG for an image that is not ELF64. */
enum pith_error pith_child_start(struct pith_child *child);

/* Stop the child and give its whole budget back (revoke). */
enum pith_error pith_child_destroy(struct pith_child *child);

#endif
