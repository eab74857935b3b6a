/*
 * Bad arguments: every kind of wrong input a user thread can pass — unknown system
 * calls and labels, empty and out-of-range capability addresses, capabilities of the
 * wrong type or without the needed right, misaligned and kernel-half addresses,
 * oversized lengths and counts, bogus object types, priorities, IRQ lines and port
 * ranges — must come back as the documented error and change nothing.  The last case
 * checks that the kernel still works afterwards.
 */
#include "ktest.h"

#define KT_HIGH (KT_ROOT_PRIORITY + 1)
#define RW (PITH_RIGHT_READ | PITH_RIGHT_WRITE)

static uint64_t cnode_size(void)
{
    return 1ull << kt_bootinfo->cnode_size_bits;
}

/* A Call with an arbitrary info word and MR0..3. */
static enum pith_error raw_call(pith_cap_t cap, uint64_t label, uint64_t length, uint64_t mr0,
                                uint64_t mr1, uint64_t mr2, uint64_t mr3)
{
    struct pith_msg msg = { .info = pith_msginfo(label, length, 0), .mr = { mr0, mr1, mr2, mr3 } };
    return pith_call(cap, &msg);
}

/* Untyped.RETYPE with every argument a full 64-bit value (the libpith wrapper takes
 * the type as an enum, which cannot hold the values tried here). */
static enum pith_error retype64(pith_cap_t ut, uint64_t type, uint64_t bits, pith_cap_t cnode,
                                uint64_t slot, uint64_t count)
{
    const uint64_t args[] = { type, bits, cnode, slot, count };
    return pith_invoke(ut, PITH_UNTYPED_RETYPE, args, 5, NULL);
}

/* ---- System calls and capability addresses --------------------------------------- */

static void unknown_syscall(struct pith_test_ctx *ctx)
{
    static const uint64_t numbers[] = { 0, PITH_SYS_COUNT, 99, 0x100, 1ull << 32, ~0ull };
    for (unsigned i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        struct pith_msg msg = { .info = pith_msginfo(PITH_CNODE_DELETE, 1, 0), .mr = { 1 } };
        enum pith_error err = pith_syscall((enum pith_syscall)numbers[i], KT_CNODE, &msg);
        pith_expect(ctx, err == PITH_E_ILLEGAL_OP, "system call %lx returned %s",
                    (unsigned long)numbers[i], pith_error_name(err));
        pith_expect_eq(ctx, msg.info, 0, "rsi after a failed call");
    }
    /* Slot 1 (our CNode) is still there: the numbers did not reach CNode.DELETE. */
    uint64_t bits = 0;
    pith_expect_err(ctx, pith_poll(KT_CNODE, &bits), PITH_E_INVALID_CAP, "slot 1 is still a CNode");
}

static void empty_slots(struct pith_test_ctx *ctx)
{
    pith_cap_t empty = kt_slot();
    const pith_cap_t check[2] = { 0, empty };
    for (unsigned i = 0; i < 2; i++) {
        struct pith_msg msg = { .info = pith_msginfo(0, 1, 0) };
        pith_cap_t c = check[i];
        pith_expect_err(ctx, pith_call(c, &msg), PITH_E_INVALID_CAP, "Call");
        pith_expect_err(ctx, pith_send(c, &msg), PITH_E_INVALID_CAP, "Send");
        pith_expect_err(ctx, pith_nb_send(c, &msg), PITH_E_INVALID_CAP, "NBSend");
        pith_expect_err(ctx, pith_recv(c, &msg), PITH_E_INVALID_CAP, "Recv");
        pith_expect_err(ctx, pith_nb_recv(c, &msg), PITH_E_INVALID_CAP, "NBRecv");
        pith_expect_err(ctx, pith_signal(c), PITH_E_INVALID_CAP, "Signal");
        pith_expect_err(ctx, pith_wait(c, NULL), PITH_E_INVALID_CAP, "Wait");
        pith_expect_err(ctx, pith_poll(c, NULL), PITH_E_INVALID_CAP, "Poll");
        msg = (struct pith_msg){ .info = 0 };
        pith_expect_err(ctx, pith_reply_recv(c, &msg), PITH_E_INVALID_CAP, "ReplyRecv");
        pith_expect_err(ctx, pith_frame_unmap(c), PITH_E_INVALID_CAP, "an invocation");
    }
    pith_alloc_free_slot(empty);
}

static void slots_out_of_range(struct pith_test_ctx *ctx)
{
    pith_cap_t d = kt_slot();
    const uint64_t bad[] = { cnode_size(), cnode_size() + 1, 1ull << 40, ~0ull };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pith_msg msg = { .info = pith_msginfo(0, 1, 0) };
        pith_cap_t c = bad[i];
        pith_expect_err(ctx, pith_call(c, &msg), PITH_E_RANGE, "Call");
        pith_expect_err(ctx, pith_send(c, &msg), PITH_E_RANGE, "Send");
        pith_expect_err(ctx, pith_nb_send(c, &msg), PITH_E_RANGE, "NBSend");
        pith_expect_err(ctx, pith_recv(c, &msg), PITH_E_RANGE, "Recv");
        pith_expect_err(ctx, pith_nb_recv(c, &msg), PITH_E_RANGE, "NBRecv");
        pith_expect_err(ctx, pith_signal(c), PITH_E_RANGE, "Signal");
        pith_expect_err(ctx, pith_wait(c, NULL), PITH_E_RANGE, "Wait");
        pith_expect_err(ctx, pith_poll(c, NULL), PITH_E_RANGE, "Poll");
        pith_expect_err(ctx, pith_thread_resume(c), PITH_E_RANGE, "an invocation");
        /* ... and as capability arguments. */
        pith_expect_err(ctx, pith_thread_bind_notification(KT_SELF, c), PITH_E_RANGE,
                        "a notification argument");
        pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, c, 1, PITH_RIGHTS_ALL),
                        PITH_E_RANGE, "a source CNode argument");
    }
    kt_delete(d);
}

/* ---- Labels and types ---------------------------------------------------------------- */

static void unknown_labels(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12), n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    if (!ut || !n || !f || !pt || !tcb)
        return;
    static const uint64_t labels[] = { 0, 2, 15, 21, 31, 41, 47, 53, 63, 65, 79, 84, 95, 99,
                                       0x7ff, 1ull << 40 };
    const struct { pith_cap_t cap; const char *name; } objects[] = {
        { ut, "untyped" }, { KT_CNODE, "CNode" }, { tcb, "thread" }, { n, "notification" },
        { f, "frame" }, { pt, "page table" }, { KT_SPACE, "address space" },
        { PITH_SLOT_IRQ_CONTROL, "IRQ control" }, { PITH_SLOT_IOPORT_CONTROL, "I/O-port control" } };
    for (unsigned o = 0; o < sizeof(objects) / sizeof(objects[0]); o++)
        for (unsigned l = 0; l < sizeof(labels) / sizeof(labels[0]); l++) {
            /* MR0 names an occupied slot, so a CNode's slot check passes. */
            enum pith_error err = raw_call(objects[o].cap, labels[l], 1, KT_SELF, 0, 0, 0);
            pith_expect(ctx, err == PITH_E_ILLEGAL_OP, "%s, label %lx: %s", objects[o].name,
                        (unsigned long)labels[l], pith_error_name(err));
        }
    /* Every method of the address space is unknown. */
    pith_expect_err(ctx, raw_call(KT_SPACE, PITH_FRAME_MAP, 4, KT_SPACE, 0x10000000, RW, 0),
                    PITH_E_ILLEGAL_OP, "FRAME_MAP on an address space");
    kt_delete(tcb);
    kt_delete(pt);
    kt_delete(f);
    kt_delete(n);
}

static void method_of_another_object(struct pith_test_ctx *ctx)
{
    pith_cap_t n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0), f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0), d = kt_slot();
    if (!n || !f || !pt)
        return;
    pith_expect_err(ctx, pith_untyped_retype(n, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d, 1),
                    PITH_E_ILLEGAL_OP, "retype on a notification");
    pith_expect_err(ctx, pith_untyped_retype(f, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d, 1),
                    PITH_E_ILLEGAL_OP, "retype on a frame");
    pith_expect_err(ctx, pith_untyped_retype(KT_CNODE, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d, 1),
                    PITH_E_ILLEGAL_OP, "retype on a CNode");
    pith_expect_err(ctx, pith_untyped_retype(KT_SELF, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d, 1),
                    PITH_E_ILLEGAL_OP, "retype on a thread");
    pith_expect_err(ctx, pith_frame_map(KT_SELF, KT_SPACE, 0x10000000, RW, 0), PITH_E_ILLEGAL_OP,
                    "map a thread");
    pith_expect_err(ctx, pith_frame_map(pt, KT_SPACE, 0x10000000, RW, 0), PITH_E_ILLEGAL_OP,
                    "FRAME_MAP on a page table");
    pith_expect_err(ctx, pith_table_map(f, KT_SPACE, 0x10000000), PITH_E_ILLEGAL_OP,
                    "TABLE_MAP on a frame");
    pith_expect_err(ctx, pith_table_unmap(f), PITH_E_ILLEGAL_OP, "TABLE_UNMAP on a frame");
    pith_expect_err(ctx, pith_frame_unmap(pt), PITH_E_ILLEGAL_OP, "FRAME_UNMAP on a page table");
    uint64_t pa;
    pith_expect_err(ctx, pith_frame_address(pt, &pa), PITH_E_ILLEGAL_OP, "FRAME_ADDRESS on a table");
    pith_expect_err(ctx, pith_thread_resume(f), PITH_E_ILLEGAL_OP, "RESUME on a frame");
    pith_expect_err(ctx, pith_thread_suspend(KT_SPACE), PITH_E_ILLEGAL_OP, "SUSPEND on a space");
    pith_expect_err(ctx, pith_notification_set_deadline(KT_SELF, 1), PITH_E_ILLEGAL_OP,
                    "SET_DEADLINE on a thread");
    pith_expect_err(ctx, pith_irq_ack(PITH_SLOT_IOPORT_CONTROL), PITH_E_ILLEGAL_OP,
                    "IRQ_ACK on I/O-port control");
    pith_expect_err(ctx, pith_ioport_allow(PITH_SLOT_IRQ_CONTROL, KT_SPACE), PITH_E_ILLEGAL_OP,
                    "IOPORT_ALLOW on IRQ control");
    pith_expect_err(ctx, pith_thread_set_priority(n, 1), PITH_E_ILLEGAL_OP,
                    "SET_PRIORITY on a notification");
    pith_expect_err(ctx, pith_frame_unmap(f), PITH_E_NOT_MAPPED, "the frame was never mapped");
    kt_delete(pt);
    kt_delete(f);
    kt_delete(n);
}

static void wrong_capability_arguments(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12), ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0), f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0), tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    pith_cap_t d = kt_slot(), empty = kt_slot(), io = kt_slot();
    if (!ut || !ep || !n || !f || !pt || !tcb)
        return;
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, ep, d, 1), PITH_E_INVALID_CAP,
                    "retype into an endpoint");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, empty, d, 1),
                    PITH_E_INVALID_CAP, "retype into an empty slot");
    pith_expect_err(ctx, pith_frame_map(f, tcb, 0x10000000, RW, 0), PITH_E_INVALID_CAP,
                    "map into a thread");
    pith_expect_err(ctx, pith_table_map(pt, n, 0x10000000), PITH_E_INVALID_CAP,
                    "a table into a notification");
    pith_expect_err(ctx, pith_thread_configure(tcb, ep, KT_SPACE, 0, 0, 0), PITH_E_INVALID_CAP,
                    "an endpoint as capability space");
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_CNODE, 0, 0, 0),
                    PITH_E_INVALID_CAP, "a CNode as address space");
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0x10000000, pt, 0),
                    PITH_E_INVALID_CAP, "a page table as IPC buffer");
    pith_cap_t big = kt_new(ctx, PITH_OBJ_FRAME_2M, 0);
    if (big)
        pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0x10000000, big, 0),
                        PITH_E_INVALID_CAP, "a 2 MiB frame as IPC buffer");
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0, 0, n),
                    PITH_E_INVALID_CAP, "a notification as fault endpoint");
    pith_expect_err(ctx, pith_thread_bind_notification(tcb, ep), PITH_E_INVALID_CAP,
                    "binding an endpoint");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, f, 1, PITH_RIGHTS_ALL), PITH_E_INVALID_CAP,
                    "a frame as source CNode");
    if (pith_expect_ok(ctx, pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x80, 0x80, io),
                       "an I/O-port capability"))
        pith_expect_err(ctx, pith_ioport_allow(io, KT_CNODE), PITH_E_INVALID_CAP,
                        "opening ports in a CNode");
    /* The thread is still unconfigured: none of that stuck. */
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "the thread is unconfigured");
    kt_delete(io);
    kt_delete(big);
    kt_delete(tcb);
    kt_delete(pt);
    kt_delete(f);
    kt_delete(n);
    kt_delete(ep);
}

static void ipc_on_wrong_types(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    if (!ep || !f)
        return;
    struct pith_msg msg;
    uint64_t bits = 7;
    pith_expect_err(ctx, pith_signal(ep), PITH_E_INVALID_CAP, "Signal on an endpoint");
    pith_expect_err(ctx, pith_wait(ep, &bits), PITH_E_INVALID_CAP, "Wait on an endpoint");
    pith_expect_err(ctx, pith_poll(f, &bits), PITH_E_INVALID_CAP, "Poll on a frame");
    pith_expect_err(ctx, pith_signal(KT_SELF), PITH_E_INVALID_CAP, "Signal on a thread");
    pith_expect_err(ctx, pith_recv(f, &msg), PITH_E_INVALID_CAP, "Recv on a frame");
    pith_expect_err(ctx, pith_nb_recv(KT_CNODE, &msg), PITH_E_INVALID_CAP, "NBRecv on a CNode");
    pith_expect_err(ctx, pith_recv(KT_SPACE, &msg), PITH_E_INVALID_CAP, "Recv on an address space");
    msg = (struct pith_msg){ 0 };
    pith_expect_err(ctx, pith_reply_recv(f, &msg), PITH_E_INVALID_CAP, "ReplyRecv on a frame");
    /* Nothing was queued on the endpoint by any of that. */
    pith_expect_err(ctx, pith_nb_recv(ep, &msg), PITH_E_WOULD_BLOCK, "the endpoint is idle");
    kt_delete(f);
    kt_delete(ep);
}

/* ---- Addresses -------------------------------------------------------------------------- */

static void ipc_buffer_address(struct pith_test_ctx *ctx)
{
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0), f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t ro = kt_slot(), ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), ep_ro = kt_slot();
    if (!tcb || !f || !ep)
        return;
    static const uint64_t misaligned[] = { 0x10000800, 0x10000001, 0x10000008 };
    for (unsigned i = 0; i < sizeof(misaligned) / sizeof(misaligned[0]); i++)
        pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, misaligned[i], f, 0),
                        PITH_E_ALIGNMENT, "a misaligned IPC buffer");
    static const uint64_t high[] = { PITH_USER_TOP, 0x0000900000000000ull, 0xffff800000000000ull,
                                     0xffffffff80000000ull, 0xfffffffffffff000ull };
    for (unsigned i = 0; i < sizeof(high) / sizeof(high[0]); i++)
        pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, high[i], f, 0),
                        PITH_E_BAD_ADDRESS, "an IPC buffer outside user space");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro, KT_CNODE, f, PITH_RIGHT_READ), "read-only frame");
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0x10000000, ro, 0),
                    PITH_E_RIGHTS, "an IPC buffer frame without WRITE");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ep_ro, KT_CNODE, ep, PITH_RIGHT_READ), "read-only ep");
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0, 0, ep_ro),
                    PITH_E_RIGHTS, "a fault endpoint without WRITE");
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "no configuration stuck");
    pith_expect_ok(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0x10000000, f, ep),
                   "the aligned user address works");
    kt_delete(ep_ro);
    kt_delete(ro);
    kt_delete(tcb);
    kt_delete(f);
    kt_delete(ep);
}

static void write_registers_addresses(struct pith_test_ctx *ctx)
{
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    if (!tcb)
        return;
    static const uint64_t high[] = { PITH_USER_TOP, 0x0000900000000000ull, 0xffff800000000000ull,
                                     0xffffffff80000000ull, ~0ull };
    for (unsigned i = 0; i < sizeof(high) / sizeof(high[0]); i++) {
        uint64_t regs[PITH_REG_COUNT] = { [PITH_REG_RIP] = high[i], [PITH_REG_RFLAGS] = 0x202 };
        pith_expect_err(ctx, pith_thread_write_registers(tcb, regs, 3), PITH_E_BAD_ADDRESS,
                        "rip outside user space");
        regs[PITH_REG_RIP] = 0x400000;
        regs[PITH_REG_FS_BASE] = high[i];
        pith_expect_err(ctx, pith_thread_write_registers(tcb, regs, PITH_REG_FS_BASE + 1),
                        PITH_E_BAD_ADDRESS, "fs_base outside user space");
        regs[PITH_REG_FS_BASE] = 0;
        regs[PITH_REG_GS_BASE] = high[i];
        pith_expect_err(ctx, pith_thread_write_registers(tcb, regs, PITH_REG_COUNT),
                        PITH_E_BAD_ADDRESS, "gs_base outside user space");
    }
    uint64_t args[PITH_REG_COUNT + 1] = { 0x400000 };
    pith_expect_err(ctx, pith_invoke(tcb, PITH_THREAD_WRITE_REGISTERS, args, PITH_REG_COUNT + 1, NULL),
                    PITH_E_RANGE, "21 registers");
    pith_expect_err(ctx, pith_invoke(tcb, PITH_THREAD_WRITE_REGISTERS, args, 0, NULL), PITH_E_RANGE,
                    "no registers");
    pith_expect_err(ctx, pith_thread_write_registers(KT_SELF, args, 1), PITH_E_INVALID_ARG,
                    "the caller's own registers");
    /* None of it was written. */
    uint64_t regs[PITH_REG_COUNT] = { 1, 1, 1 };
    if (pith_expect_ok(ctx, pith_thread_read_registers(tcb, regs, PITH_REG_COUNT), "read back")) {
        pith_expect_eq(ctx, regs[PITH_REG_RIP], 0, "rip of the new thread");
        pith_expect_eq(ctx, regs[PITH_REG_FS_BASE], 0, "its fs_base");
        pith_expect_eq(ctx, regs[PITH_REG_GS_BASE], 0, "its gs_base");
    }
    pith_expect_err(ctx, pith_thread_read_registers(tcb, regs, 0), PITH_E_RANGE, "read 0 registers");
    pith_expect_err(ctx, pith_thread_read_registers(tcb, regs, PITH_REG_COUNT + 1), PITH_E_RANGE,
                    "read 21 registers");
    kt_delete(tcb);
}

static void map_addresses(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), big = kt_new(ctx, PITH_OBJ_FRAME_2M, 0);
    pith_cap_t pd = kt_new(ctx, PITH_OBJ_PAGE_DIRECTORY, 0);
    if (!f || !big || !pd)
        return;
    static const uint64_t high[] = { PITH_USER_TOP, 0x0000900000000000ull, 0xffff800000000000ull,
                                     0xffffffff80000000ull, 0xffffffffffe00000ull };
    for (unsigned i = 0; i < sizeof(high) / sizeof(high[0]); i++) {
        pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, high[i], RW, 0), PITH_E_BAD_ADDRESS,
                        "a 4 KiB frame outside user space");
        pith_expect_err(ctx, pith_frame_map(big, KT_SPACE, high[i], RW, 0), PITH_E_BAD_ADDRESS,
                        "a 2 MiB frame outside user space");
        pith_expect_err(ctx, pith_table_map(pd, KT_SPACE, high[i]), PITH_E_BAD_ADDRESS,
                        "a page directory outside user space");
    }
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, 0x10000010, RW, 0), PITH_E_ALIGNMENT,
                    "a misaligned 4 KiB frame");
    pith_expect_err(ctx, pith_frame_map(big, KT_SPACE, 0x10001000, RW, 0), PITH_E_ALIGNMENT,
                    "a 2 MiB frame at a 4 KiB boundary");
    pith_expect_err(ctx, pith_table_map(pd, KT_SPACE, 0x10000004), PITH_E_ALIGNMENT,
                    "a misaligned table");
    pith_expect_err(ctx, pith_frame_unmap(f), PITH_E_NOT_MAPPED, "nothing was mapped");
    pith_expect_err(ctx, pith_frame_unmap(big), PITH_E_NOT_MAPPED, "nothing was mapped (2 MiB)");
    pith_expect_err(ctx, pith_table_unmap(pd), PITH_E_NOT_MAPPED, "nothing was mapped (table)");
    kt_delete(pd);
    kt_delete(big);
    kt_delete(f);
}

/* ---- Lengths, counts, types ---------------------------------------------------------- */

static void invocation_too_long(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12), d = kt_slot();
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ut || !ep)
        return;
    struct pith_ipc_buffer *buf = pith_ipc_buffer();
    buf->mr[4] = 1;         /* count, if the kernel read the arguments */
    static const uint64_t lengths[] = { 65, 100, 127 };
    for (unsigned i = 0; i < 3; i++) {
        pith_expect_err(ctx, raw_call(ut, PITH_UNTYPED_RETYPE, lengths[i], PITH_OBJ_ENDPOINT, 0,
                                      KT_CNODE, d), PITH_E_TRUNCATED, "retype with a long message");
        pith_expect_err(ctx, raw_call(KT_CNODE, PITH_CNODE_COPY, lengths[i], d, KT_CNODE, ep,
                                      PITH_RIGHTS_ALL), PITH_E_TRUNCATED, "copy with a long message");
        pith_expect_err(ctx, raw_call(KT_SELF, PITH_THREAD_SET_PRIORITY, lengths[i], 50, 0, 0, 0),
                        PITH_E_TRUNCATED, "set priority with a long message");
    }
    struct pith_msg msg;
    pith_expect_err(ctx, pith_nb_recv(d, &msg), PITH_E_INVALID_CAP, "nothing was created");
    pith_expect_err(ctx, raw_call(ut, PITH_UNTYPED_RETYPE, 64, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d),
                    PITH_OK, "64 registers are fine");
    /* IPC does not fail on the length: a long NBSend just finds nobody. */
    msg = (struct pith_msg){ .info = pith_msginfo(1, 127, 0) };
    pith_expect_err(ctx, pith_nb_send(ep, &msg), PITH_E_WOULD_BLOCK, "IPC with length 127");
    kt_delete(d);
    kt_delete(ep);
}

static void retype_counts_and_slots(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 13), d = kt_slot(), e = kt_slot();
    if (!ut)
        return;
    static const uint64_t counts[] = { 0, 4097, 1ull << 32, ~0ull };
    for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d, counts[i]),
                        PITH_E_RANGE, "a bad count");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, 0, 1), PITH_E_RANGE,
                    "slot 0");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, cnode_size(), 1),
                    PITH_E_RANGE, "a slot past the end");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, cnode_size() - 1, 2),
                    PITH_E_RANGE, "slots running past the end");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, ~0ull, 1),
                    PITH_E_RANGE, "slot 2^64-1");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, KT_SELF, 1),
                    PITH_E_SLOT_OCCUPIED, "an occupied slot");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, d, 3),
                    PITH_E_NO_MEMORY, "three frames in 8 KiB");
    /* None of that used memory: both frames still fit. */
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, d, 1), "one frame");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, e, 1), "another");
    kt_delete(e);
    kt_delete(d);
}

static void retype_bad_types(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 16), d = kt_slot();
    if (!ut)
        return;
    static const uint64_t types[] = { 0, PITH_OBJ_TYPE_COUNT,
                                      32, 1000, (1ull << 32) | PITH_OBJ_ENDPOINT, ~0ull };
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        enum pith_error err = retype64(ut, types[i], 4, KT_CNODE, d, 1);
        pith_expect(ctx, err == PITH_E_INVALID_ARG, "type %lx: %s", (unsigned long)types[i],
                    pith_error_name(err));
    }
    static const uint64_t ut_bits[] = { 0, 3, 48, 64, (1ull << 32) | 12 };
    for (unsigned i = 0; i < sizeof(ut_bits) / sizeof(ut_bits[0]); i++) {
        enum pith_error err = retype64(ut, PITH_OBJ_UNTYPED, ut_bits[i], KT_CNODE, d, 1);
        pith_expect(ctx, err == PITH_E_RANGE, "untyped of 2^%lx bytes: %s", (unsigned long)ut_bits[i],
                    pith_error_name(err));
    }
    static const uint64_t cnode_bits[] = { 0, 17, 64, (1ull << 32) | 4 };
    for (unsigned i = 0; i < sizeof(cnode_bits) / sizeof(cnode_bits[0]); i++) {
        enum pith_error err = retype64(ut, PITH_OBJ_CNODE, cnode_bits[i], KT_CNODE, d, 1);
        pith_expect(ctx, err == PITH_E_RANGE, "CNode of 2^%lx slots: %s", (unsigned long)cnode_bits[i],
                    pith_error_name(err));
    }
    /* A device untyped makes frames and untypeds only. */
    for (unsigned i = 0; i < kt_bootinfo->untyped_count; i++) {
        if (!kt_bootinfo->untyped[i].is_device)
            continue;
        pith_cap_t dev = kt_bootinfo->untyped_first_slot + i;
        pith_expect_err(ctx, pith_untyped_retype(dev, PITH_OBJ_ENDPOINT, 0, KT_CNODE, d, 1),
                        PITH_E_INVALID_ARG, "an endpoint from device memory");
        pith_expect_err(ctx, pith_untyped_retype(dev, PITH_OBJ_PAGE_TABLE, 0, KT_CNODE, d, 1),
                        PITH_E_INVALID_ARG, "a page table from device memory");
        break;
    }
    uint64_t bits;
    pith_expect_err(ctx, pith_poll(d, &bits), PITH_E_INVALID_CAP, "nothing was created");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_UNTYPED, 16, KT_CNODE, d, 1),
                   "the whole untyped is still free");
    kt_delete(d);
}

/* ---- Rights ------------------------------------------------------------------------------ */

static void missing_rights(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0), f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12);
    pith_cap_t ep_r = kt_slot(), ep_w = kt_slot(), n_r = kt_slot(), n_w = kt_slot();
    pith_cap_t t_r = kt_slot(), cn_r = kt_slot(), as_r = kt_slot(), d = kt_slot(), io = kt_slot();
    if (!ep || !n || !tcb || !f || !ut)
        return;
    const uint64_t no_write = PITH_RIGHTS_ALL & ~PITH_RIGHT_WRITE;
    const uint64_t no_read = PITH_RIGHTS_ALL & ~PITH_RIGHT_READ;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ep_r, KT_CNODE, ep, no_write), "ep without WRITE");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ep_w, KT_CNODE, ep, no_read), "ep without READ");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, n_r, KT_CNODE, n, no_write, 1), "ntfn without WRITE");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, n_w, KT_CNODE, n, no_read, 2), "ntfn without READ");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, t_r, KT_CNODE, tcb, no_write), "thread without WRITE");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, cn_r, KT_CNODE, KT_CNODE, no_write), "CNode without WRITE");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, as_r, KT_CNODE, KT_SPACE, no_write), "space without WRITE");

    struct pith_msg msg = { .info = pith_msginfo(0, 1, 0) };
    pith_expect_err(ctx, pith_send(ep_r, &msg), PITH_E_RIGHTS, "Send without WRITE");
    pith_expect_err(ctx, pith_nb_send(ep_r, &msg), PITH_E_RIGHTS, "NBSend without WRITE");
    pith_expect_err(ctx, pith_call(ep_r, &msg), PITH_E_RIGHTS, "Call without WRITE");
    pith_expect_err(ctx, pith_recv(ep_w, &msg), PITH_E_RIGHTS, "Recv without READ");
    pith_expect_err(ctx, pith_nb_recv(ep_w, &msg), PITH_E_RIGHTS, "NBRecv without READ");
    pith_expect_err(ctx, pith_signal(n_r), PITH_E_RIGHTS, "Signal without WRITE");
    pith_expect_err(ctx, pith_notification_set_deadline(n_r, 1), PITH_E_RIGHTS,
                    "SET_DEADLINE without WRITE");
    pith_expect_err(ctx, pith_wait(n_w, NULL), PITH_E_RIGHTS, "Wait without READ");
    pith_expect_err(ctx, pith_poll(n_w, NULL), PITH_E_RIGHTS, "Poll without READ");
    pith_expect_err(ctx, pith_recv(n_w, &msg), PITH_E_RIGHTS, "Recv on a notification without READ");
    pith_expect_err(ctx, pith_thread_bind_notification(tcb, n_w), PITH_E_RIGHTS,
                    "binding a notification without READ");
    pith_expect_err(ctx, pith_thread_set_priority(t_r, 1), PITH_E_RIGHTS, "SET_PRIORITY without WRITE");
    pith_expect_err(ctx, pith_thread_configure(t_r, KT_CNODE, KT_SPACE, 0, 0, 0), PITH_E_RIGHTS,
                    "CONFIGURE without WRITE");
    pith_expect_err(ctx, pith_thread_resume(t_r), PITH_E_RIGHTS, "RESUME without WRITE");
    pith_expect_err(ctx, pith_thread_suspend(t_r), PITH_E_RIGHTS, "SUSPEND without WRITE");
    uint64_t regs[1];
    pith_expect_err(ctx, pith_thread_read_registers(t_r, regs, 1), PITH_E_RIGHTS,
                    "READ_REGISTERS without WRITE");
    pith_expect_err(ctx, pith_cnode_delete(cn_r, ep), PITH_E_RIGHTS, "DELETE without WRITE");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, cn_r, d, 1), PITH_E_RIGHTS,
                    "retype into a CNode without WRITE");
    pith_expect_err(ctx, pith_frame_map(f, as_r, 0x10000000, RW, 0), PITH_E_RIGHTS,
                    "map into a space without WRITE");
    if (pith_expect_ok(ctx, pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x80, 0x80, io),
                       "an I/O-port capability"))
        pith_expect_err(ctx, pith_ioport_allow(io, as_r), PITH_E_RIGHTS,
                        "open ports in a space without WRITE");
    /* None of the refused calls happened. */
    uint64_t bits = 0;
    pith_expect_err(ctx, pith_poll(n, &bits), PITH_E_WOULD_BLOCK, "no signal arrived");
    pith_expect_err(ctx, pith_nb_send(ep, &msg), PITH_E_WOULD_BLOCK, "the endpoint is there");
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "the thread is unconfigured");
    kt_delete(io);
    kt_delete(as_r);
    kt_delete(cn_r);
    kt_delete(t_r);
    kt_delete(n_w);
    kt_delete(n_r);
    kt_delete(ep_w);
    kt_delete(ep_r);
    kt_delete(f);
    kt_delete(tcb);
    kt_delete(n);
    kt_delete(ep);
}

/* ---- Priorities, threads, IRQs, ports -------------------------------------------------- */

struct prio_child {
    pith_cap_t self, other;
    volatile uint64_t done, above_mcp, at_mcp, self_above, over_max;
};

static void prio_child_main(uint64_t arg)
{
    struct prio_child *c = (struct prio_child *)arg;
    c->above_mcp = pith_thread_set_priority(c->other, KT_HIGH + 1);
    c->at_mcp = pith_thread_set_priority(c->other, KT_HIGH);
    c->self_above = pith_thread_set_priority(c->self, KT_HIGH + 1);
    c->over_max = pith_thread_set_priority(c->other, PITH_PRIORITY_MAX + 1);
    c->done = 1;
}

static void bad_priority(struct pith_test_ctx *ctx)
{
    pith_cap_t other = kt_new(ctx, PITH_OBJ_THREAD, 0);
    if (!other)
        return;
    static const uint64_t over[] = { PITH_PRIORITY_MAX + 1, 1000, 1ull << 40, ~0ull };
    for (unsigned i = 0; i < sizeof(over) / sizeof(over[0]); i++)
        pith_expect_err(ctx, pith_thread_set_priority(other, over[i]), PITH_E_RANGE,
                        "a priority above 255");
    /* A thread given priority 101 by us may give at most 101 (its MCP). */
    static struct prio_child c;
    c = (struct prio_child){ .other = other };
    struct kt_thread t = { 0 };
    if (kt_thread_create(ctx, &t, prio_child_main, (uint64_t)&c, KT_HIGH, 0)) {
        c.self = t.tcb;
        pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
        kt_wait_flag(&c.done, 10);
        pith_expect_eq(ctx, c.done, 1, "the child ran");
        pith_expect_err(ctx, (enum pith_error)c.above_mcp, PITH_E_RIGHTS, "above the child's MCP");
        pith_expect_err(ctx, (enum pith_error)c.at_mcp, PITH_OK, "at the child's MCP");
        pith_expect_err(ctx, (enum pith_error)c.self_above, PITH_E_RIGHTS, "raising itself");
        pith_expect_err(ctx, (enum pith_error)c.over_max, PITH_E_RANGE, "256 from the child");
    }
    kt_thread_destroy(&t);
    kt_delete(other);
}

static void thread_states(struct pith_test_ctx *ctx)
{
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0), n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t n2 = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!tcb || !n || !n2)
        return;
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "resume an unconfigured thread");
    pith_expect_err(ctx, pith_thread_configure(KT_SELF, KT_CNODE, KT_SPACE, 0, 0, 0), PITH_E_BUSY,
                    "configure a running thread");
    pith_expect_err(ctx, pith_thread_unbind_notification(tcb), PITH_E_INVALID_ARG,
                    "unbind with nothing bound");
    pith_expect_ok(ctx, pith_thread_bind_notification(tcb, n), "bind");
    pith_expect_err(ctx, pith_thread_bind_notification(tcb, n2), PITH_E_BUSY, "bind a second one");
    pith_expect_err(ctx, pith_thread_bind_notification(KT_SELF, n), PITH_E_BUSY,
                    "bind a bound notification to another thread");
    pith_expect_ok(ctx, pith_thread_unbind_notification(tcb), "unbind");
    const uint64_t cpus[] = { kt_bootinfo->cpu_count, kt_bootinfo->cpu_count + 63, 1ull << 40, ~0ull };
    for (unsigned i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++)
        pith_expect_err(ctx, pith_thread_set_affinity(tcb, cpus[i]), PITH_E_RANGE,
                        "a CPU that does not exist");
    pith_expect_ok(ctx, pith_thread_set_affinity(tcb, 0), "CPU 0");
    kt_delete(n2);
    kt_delete(n);
    kt_delete(tcb);
}

static void reply_without_caller(struct pith_test_ctx *ctx)
{
    struct pith_msg msg = { .info = pith_msginfo(0, 1, 0) };
    pith_reply(&msg);       /* answers a caller an earlier case may have left, if any */
    pith_expect_err(ctx, pith_reply(&msg), PITH_E_NO_REPLY, "Reply with no caller");
    pith_expect_err(ctx, pith_reply(&msg), PITH_E_NO_REPLY, "and again");
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!ep || !n)
        return;
    uint64_t bits = 9;
    pith_expect_err(ctx, pith_nb_recv(ep, &msg), PITH_E_WOULD_BLOCK, "NBRecv with no sender");
    pith_expect_eq(ctx, msg.info, 0, "rsi after NBRecv found nobody");
    pith_expect_err(ctx, pith_nb_send(ep, &msg), PITH_E_WOULD_BLOCK, "NBSend with no receiver");
    pith_expect_err(ctx, pith_poll(n, &bits), PITH_E_WOULD_BLOCK, "Poll with no bits");
    pith_expect_eq(ctx, bits, 0, "the bits of an empty poll");
    kt_delete(n);
    kt_delete(ep);
}

static void irq_lines(struct pith_test_ctx *ctx)
{
    pith_cap_t d = kt_slot();
    static const uint64_t lines[] = { PITH_IRQ_LINES, 17, 255, 1ull << 40, ~0ull };
    for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, lines[i], d), PITH_E_RANGE,
                        "an IRQ line above 15");
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 2, d), PITH_E_INVALID_ARG,
                    "the cascade line");
    uint64_t bits;
    pith_expect_err(ctx, pith_poll(d, &bits), PITH_E_INVALID_CAP, "no handler was made");
    kt_delete(d);
}

static void ioport_ranges(struct pith_test_ctx *ctx)
{
    pith_cap_t d = kt_slot(), occupied = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!occupied)
        return;
    const pith_cap_t ctl = PITH_SLOT_IOPORT_CONTROL;
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x81, 0x80, d), PITH_E_INVALID_ARG,
                    "last below first");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0xffff, 0, d), PITH_E_INVALID_ARG,
                    "0xffff .. 0");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x80, 0x10000, d), PITH_E_RANGE,
                    "last port 0x10000");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x10000, 0x10001, d), PITH_E_RANGE,
                    "first port 0x10000");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x80, ~0ull, d), PITH_E_RANGE,
                    "last port 2^64-1");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x80, 0x80, 0), PITH_E_RANGE, "slot 0");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x80, 0x80, cnode_size()), PITH_E_RANGE,
                    "a slot past the end");
    pith_expect_err(ctx, pith_ioport_control_issue(ctl, 0x80, 0x80, occupied), PITH_E_SLOT_OCCUPIED,
                    "an occupied slot");
    uint64_t bits;
    pith_expect_err(ctx, pith_poll(d, &bits), PITH_E_INVALID_CAP, "nothing was issued");
    pith_expect_ok(ctx, pith_ioport_control_issue(ctl, 0x80, 0x80, d), "a good range");
    kt_delete(d);
    kt_delete(occupied);
}

static void cnode_arguments(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), m = kt_slot(), d = kt_slot(), empty = kt_slot();
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12);
    if (!ep || !ut)
        return;
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, KT_CNODE, empty, PITH_RIGHTS_ALL),
                    PITH_E_INVALID_CAP, "copy from an empty slot");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, d, KT_CNODE, empty), PITH_E_INVALID_CAP,
                    "move from an empty slot");
    pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, empty), PITH_E_INVALID_CAP, "delete an empty slot");
    pith_expect_err(ctx, pith_cnode_revoke(KT_CNODE, empty), PITH_E_INVALID_CAP, "revoke an empty slot");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, KT_CNODE, cnode_size(), PITH_RIGHTS_ALL),
                    PITH_E_RANGE, "copy from past the end");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, KT_CNODE, ut, PITH_RIGHTS_ALL),
                    PITH_E_ILLEGAL_OP, "copy an untyped");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, d, KT_CNODE, ep, PITH_RIGHTS_ALL, 0),
                    PITH_E_INVALID_ARG, "mint badge 0");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, d, KT_CNODE, KT_SPACE, PITH_RIGHTS_ALL, 1),
                    PITH_E_INVALID_CAP, "mint an address space");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, m, KT_CNODE, ep, PITH_RIGHTS_ALL, 1), "mint");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, d, KT_CNODE, m, PITH_RIGHTS_ALL, 2),
                    PITH_E_INVALID_ARG, "rebadge");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, m, KT_CNODE, ep, PITH_RIGHTS_ALL),
                    PITH_E_SLOT_OCCUPIED, "copy onto an occupied slot");
    /* Arguments a message does not carry read as 0: a copy without its source slot. */
    pith_expect_err(ctx, raw_call(KT_CNODE, PITH_CNODE_COPY, 2, d, KT_CNODE, ep, PITH_RIGHTS_ALL),
                    PITH_E_RANGE, "copy with MR2 missing (slot 0)");
    struct pith_msg msg;
    pith_expect_err(ctx, pith_nb_recv(d, &msg), PITH_E_INVALID_CAP, "nothing landed in d");
    kt_delete(m);
    kt_delete(ep);
}

static void failed_calls_change_nothing(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 13), c2 = kt_new(ctx, PITH_OBJ_CNODE, 3);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), probe = kt_slot();
    if (!ut || !c2 || !ep)
        return;
    /* Two frames fill the untyped.  A retype that fails on its second destination slot
     * must leave the first slot empty and the memory unused. */
    pith_expect_ok(ctx, pith_cnode_copy(c2, 2, KT_CNODE, ep, PITH_RIGHTS_ALL), "occupy slot 2");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, c2, 1, 2),
                    PITH_E_SLOT_OCCUPIED, "frames into slots 1 and 2");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, probe, c2, 1, PITH_RIGHTS_ALL), PITH_E_INVALID_CAP,
                    "slot 1 stayed empty");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, c2, 7, 2), PITH_E_RANGE,
                    "frames into slots 7 and 8 of 8");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, probe, c2, 7, PITH_RIGHTS_ALL), PITH_E_INVALID_CAP,
                    "slot 7 stayed empty");
    /* A failed move leaves both slots as they were. */
    pith_expect_err(ctx, pith_cnode_move(c2, 2, c2, 2), PITH_E_SLOT_OCCUPIED, "move onto itself");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, probe, c2, 2, PITH_RIGHTS_ALL), "slot 2 kept its cap");
    struct pith_msg msg;
    pith_expect_err(ctx, pith_nb_recv(probe, &msg), PITH_E_WOULD_BLOCK, "it is the endpoint");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, c2, 3, 2), "both frames fit");
    kt_delete(probe);
    kt_delete(c2);
    kt_delete(ep);
}

/* ---- After all that ------------------------------------------------------------------- */

static void echo_main(uint64_t arg)
{
    pith_cap_t ep = (pith_cap_t)arg;
    struct pith_msg msg;
    pith_recv(ep, &msg);
    for (;;) {
        struct pith_ipc_buffer *buf = pith_ipc_buffer();
        uint64_t len = pith_msginfo_length(msg.info);
        for (unsigned i = 0; i < 4; i++)
            msg.mr[i] += 1;
        for (unsigned i = 4; i < len; i++)
            buf->mr[i] += 1;
        msg.info = pith_msginfo(pith_msginfo_label(msg.info) + 1, len, 0);
        pith_reply_recv(ep, &msg);
    }
}

static void kernel_still_works(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 16), ep = kt_slot(), n = kt_slot(), f = kt_slot();
    if (!ut)
        return;
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, ep, 1), "retype endpoint");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_NOTIFICATION, 0, KT_CNODE, n, 1), "retype ntfn");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, f, 1), "retype frame");
    struct kt_thread t = { 0 };
    if (kt_thread_start(ctx, &t, echo_main, ep, KT_HIGH, 0)) {
        struct pith_msg msg = { .info = pith_msginfo(10, 4, 0), .mr = { 1, 2, 3, 4 } };
        pith_expect_ok(ctx, pith_call(ep, &msg), "a short Call");
        pith_expect_eq(ctx, pith_msginfo_label(msg.info), 11, "reply label");
        pith_expect_eq(ctx, msg.mr[0] + msg.mr[3], 2 + 5, "reply registers");
        struct pith_ipc_buffer *buf = pith_ipc_buffer();
        for (unsigned i = 4; i < 12; i++)
            buf->mr[i] = 100 + i;
        msg = (struct pith_msg){ .info = pith_msginfo(20, 12, 0), .mr = { 5, 6, 7, 8 } };
        pith_expect_ok(ctx, pith_call(ep, &msg), "a long Call");
        pith_expect_eq(ctx, pith_msginfo_length(msg.info), 12, "reply length");
        pith_expect_eq(ctx, buf->mr[11], 112, "MR11 came back incremented");
    }
    kt_thread_destroy(&t);
    uint64_t va = kt_window(), bits = 0;
    pith_expect_ok(ctx, kt_map(f, va, RW), "map a frame");
    *(volatile uint64_t *)va = 0x600dull;
    pith_expect_eq(ctx, *(volatile uint64_t *)va, 0x600d, "memory");
    pith_expect_ok(ctx, pith_signal(n), "signal");
    pith_expect_ok(ctx, pith_poll(n, &bits), "poll");
    pith_expect_eq(ctx, bits, 1, "the unbadged signal");
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoke everything made here");
    pith_expect_err(ctx, pith_poll(n, &bits), PITH_E_INVALID_CAP, "the notification is gone");
}

KT_TABLE(badargs,
    { "badargs_unknown_syscall", unknown_syscall },
    { "badargs_empty_slots", empty_slots },
    { "badargs_slots_out_of_range", slots_out_of_range },
    { "badargs_unknown_labels", unknown_labels },
    { "badargs_method_of_another_object", method_of_another_object },
    { "badargs_wrong_capability_arguments", wrong_capability_arguments },
    { "badargs_ipc_on_wrong_types", ipc_on_wrong_types },
    { "badargs_ipc_buffer_address", ipc_buffer_address },
    { "badargs_write_registers_addresses", write_registers_addresses },
    { "badargs_map_addresses", map_addresses },
    { "badargs_invocation_too_long", invocation_too_long },
    { "badargs_retype_counts_and_slots", retype_counts_and_slots },
    { "badargs_retype_bad_types", retype_bad_types },
    { "badargs_missing_rights", missing_rights },
    { "badargs_bad_priority", bad_priority },
    { "badargs_thread_states", thread_states },
    { "badargs_reply_without_caller", reply_without_caller },
    { "badargs_irq_lines", irq_lines },
    { "badargs_ioport_ranges", ioport_ranges },
    { "badargs_cnode_arguments", cnode_arguments },
    { "badargs_failed_calls_change_nothing", failed_calls_change_nothing },
    { "badargs_kernel_still_works", kernel_still_works },
)
