/* Helpers shared by the test groups: objects, slots, mappings, threads. */
#include "ktest.h"

pith_cap_t kt_slot(void)
{
    return pith_alloc_slot();
}

pith_cap_t kt_new(struct pith_test_ctx *ctx, enum pith_object_type type, uint64_t size_bits)
{
    uint64_t slot = 0;
    enum pith_error err = pith_alloc_object(type, size_bits, &slot);
    if (!pith_expect_ok(ctx, err, "allocating an object"))
        return 0;
    return slot;
}

void kt_delete(pith_cap_t slot)
{
    if (slot && pith_cnode_delete(KT_CNODE, slot) == PITH_OK)
        pith_alloc_free_slot(slot);
}

static uint64_t next_window = 0x100000000ull;

uint64_t kt_window(void)
{
    uint64_t w = next_window;
    next_window += 2ull << 20;
    return w;
}

enum pith_error kt_map(pith_cap_t frame, uint64_t vaddr, uint64_t rights)
{
    return pith_map_frame(frame, KT_SPACE, vaddr, rights, 0);
}

pith_cap_t kt_graveyard;

enum pith_error kt_setup(uint64_t priority)
{
    enum pith_error err = pith_root_init(kt_bootinfo, 0x40000000, 0x80000000);
    if (err == PITH_OK)
        err = pith_thread_set_priority(KT_SELF, priority);
    if (err == PITH_OK)
        err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &kt_graveyard);
    return err;
}

/* Where a thread's entry function returns to: it waits on an endpoint nobody sends to. */
static void thread_stop_forever(void)
{
    for (;;) {
        struct pith_msg msg;
        pith_recv(kt_graveyard, &msg);
    }
}

bool kt_thread_create(struct pith_test_ctx *ctx, struct kt_thread *t, kt_entry entry, uint64_t arg,
                      uint64_t priority, pith_cap_t fault_ep)
{
    *t = (struct kt_thread){ 0 };
    t->tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    t->ipc_frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    t->stack = pith_alloc_pages(4);
    if (!t->tcb || !t->ipc_frame || !pith_expect(ctx, t->stack != NULL, "no stack pages"))
        return false;
    uint64_t ipc = kt_window();
    if (!pith_expect_ok(ctx, kt_map(t->ipc_frame, ipc, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                        "mapping an IPC buffer"))
        return false;
    t->ipc = (struct pith_ipc_buffer *)ipc;
    t->ipc->user[0] = ipc;      /* the runtime's self pointer (pith_ipc_buffer()) */
    enum pith_error err = pith_thread_configure(t->tcb, KT_CNODE, KT_SPACE, ipc, t->ipc_frame,
                                                fault_ep);
    if (!pith_expect_ok(ctx, err, "configuring a thread"))
        return false;
    uint64_t *top = t->stack + 4096 / 8 * 4;
    top[-1] = (uint64_t)thread_stop_forever;    /* the return address of entry */
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)entry;
    regs[PITH_REG_RSP] = (uint64_t)&top[-1];    /* as right after a call */
    regs[PITH_REG_RFLAGS] = 0x202;
    regs[PITH_REG_RDI] = arg;
    err = pith_thread_write_registers(t->tcb, regs, PITH_REG_RDI + 1);
    if (!pith_expect_ok(ctx, err, "writing a thread's registers"))
        return false;
    err = pith_thread_set_priority(t->tcb, priority);
    return pith_expect_ok(ctx, err, "setting a thread's priority");
}

bool kt_thread_start(struct pith_test_ctx *ctx, struct kt_thread *t, kt_entry entry, uint64_t arg,
                     uint64_t priority, pith_cap_t fault_ep)
{
    if (!kt_thread_create(ctx, t, entry, arg, priority, fault_ep))
        return false;
    return pith_expect_ok(ctx, pith_thread_resume(t->tcb), "resuming a thread");
}

void kt_thread_destroy(struct kt_thread *t)
{
    if (t->tcb) {
        pith_thread_suspend(t->tcb);
        kt_delete(t->tcb);
    }
    t->tcb = 0;
}

bool kt_wait_flag(volatile uint64_t *flag, unsigned yields)
{
    for (unsigned i = 0; i < yields && !*flag; i++)
        pith_yield();
    return *flag != 0;
}
