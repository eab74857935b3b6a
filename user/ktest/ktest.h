/*
 * The kernel test suite: a root task that exercises every object and call.  Each
 * group lives in its own file (t_*.c) and exports a table of cases; main.c runs
 * them all and reports `svm: N passed, N failed` or `vmx: ...`.
 */
#ifndef KTEST_H
#define KTEST_H

#include <pith/abi.h>
#include <pith/alloc.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/root.h>
#include <pith/string.h>
#include <pith/syscall.h>
#include <pith/test.h>

extern const struct pith_bootinfo *kt_bootinfo;

/* Capability slots of the root task, named for readability. */
#define KT_CNODE    PITH_SLOT_CNODE
#define KT_SPACE    PITH_SLOT_ADDRESS_SPACE
#define KT_SELF     PITH_SLOT_THREAD

/* A new object in a fresh slot of the root CNode (0 and a recorded failure if not). */
pith_cap_t kt_new(struct pith_test_ctx *ctx, enum pith_object_type type, uint64_t size_bits);
/* Delete a capability and give its slot back. */
void kt_delete(pith_cap_t slot);
/* A fresh, empty slot. */
pith_cap_t kt_slot(void);

/* Map a 4 KiB frame capability at vaddr in the root address space, creating the page
 * tables on the way; returns the kernel's error. */
enum pith_error kt_map(pith_cap_t frame, uint64_t vaddr, uint64_t rights);
/* A fresh, unused 2 MiB-aligned window of the root address space for a test. */
uint64_t kt_window(void);

/* Threads in the root task's address space and capability space. */
struct kt_thread {
    pith_cap_t tcb;
    pith_cap_t ipc_frame;
    struct pith_ipc_buffer *ipc;
    uint64_t *stack;            /* 16 KiB */
};
typedef void (*kt_entry)(uint64_t arg);
/* Create, configure and start a thread running entry(arg) at the given priority;
 * fault_ep (0 = none) receives its faults.  A thread whose entry returns stops. */
bool kt_thread_start(struct pith_test_ctx *ctx, struct kt_thread *t, kt_entry entry, uint64_t arg,
                     uint64_t priority, pith_cap_t fault_ep);
/* Create and configure, but do not start. */
bool kt_thread_create(struct pith_test_ctx *ctx, struct kt_thread *t, kt_entry entry, uint64_t arg,
                      uint64_t priority, pith_cap_t fault_ep);
/* Suspend and destroy the thread (its stack and IPC page are reused later). */
void kt_thread_destroy(struct kt_thread *t);
/* In a child thread: set the runtime's IPC buffer pointer for the calling thread. */
void kt_thread_enter(struct kt_thread *t);

/* Inline-asm pieces for the FPU tests: all sixteen XMM registers loaded from, or
 * stored to, 16-byte slots at operand %0 (loads) or %1 (stores). */
#define XMM_IN(n)  "movdqu " #n "*16(%0), %%xmm" #n "\n\t"
#define XMM_OUT(n) "movdqu %%xmm" #n ", " #n "*16(%1)\n\t"
#define XMM_ALL(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) \
                    op(8) op(9) op(10) op(11) op(12) op(13) op(14) op(15)

/* An endpoint nobody sends to: threads whose entry returns wait on it forever. */
extern pith_cap_t kt_graveyard;

/* What a test root task does first: the allocator over its untyped, its priority, the
 * graveyard endpoint. */
enum pith_error kt_setup(uint64_t priority);

/* Run other threads until *flag becomes nonzero or `yields` yields pass. */
bool kt_wait_flag(volatile uint64_t *flag, unsigned yields);

/* Priority of the test root task itself. */
#define KT_ROOT_PRIORITY 100

/* Test groups (one table per file). */
#define KT_GROUP(name) \
    extern const struct pith_test name##_tests[]; \
    extern const unsigned name##_count;
KT_GROUP(untyped)
KT_GROUP(cnode)
KT_GROUP(vspace)
KT_GROUP(thread)
KT_GROUP(ipc)
KT_GROUP(notification)
KT_GROUP(fault)
KT_GROUP(device)
KT_GROUP(badargs)
KT_GROUP(vm)
KT_GROUP(vm2)
KT_GROUP(process)
KT_GROUP(smp)

/* t_process.c: what this program does when started as a child. */
int kt_child_main(const struct pith_bootinfo *bi);

#define KT_TABLE(name, ...) \
    const struct pith_test name##_tests[] = { __VA_ARGS__ }; \
    const unsigned name##_count = sizeof(name##_tests) / sizeof(name##_tests[0]);

#endif
