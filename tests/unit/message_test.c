/* Message transfer between threads: registers, IPC buffers, capabilities, faults. */
#include "unit.h"

static struct thread a, b;
static struct pith_ipc_buffer abuf, bbuf;
static struct cap aspace[16], bspace[16];

static void setup(bool buffers)
{
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&abuf, 0, sizeof(abuf));
    memset(&bbuf, 0, sizeof(bbuf));
    memset(aspace, 0, sizeof(aspace));
    memset(bspace, 0, sizeof(bspace));
    struct cap cs = { .type = PITH_OBJ_CNODE, .rights = PITH_RIGHTS_ALL, .aux = 4,
                      .object = (uint64_t)aspace };
    a.slots[TSLOT_CSPACE] = cs;
    cs.object = (uint64_t)bspace;
    b.slots[TSLOT_CSPACE] = cs;
    if (buffers) {
        a.ipc_buffer = &abuf;
        b.ipc_buffer = &bbuf;
    }
}

static void registers_and_badge(void)
{
    setup(false);
    a.regs.rsi = pith_msginfo(42, 3, 0);
    a.regs.rdx = 1, a.regs.r8 = 2, a.regs.r9 = 3, a.regs.r10 = 4;
    b.regs.rax = 99;
    ipc_transfer(&a, &b, 0x77, false);
    CHECK_EQ(b.regs.rax, PITH_OK);
    CHECK_EQ(b.regs.rdi, 0x77);
    CHECK_EQ(pith_msginfo_label(b.regs.rsi), 42);
    CHECK_EQ(pith_msginfo_length(b.regs.rsi), 3);
    CHECK_EQ(thread_mr(&b, 0), 1);
    CHECK_EQ(thread_mr(&b, 2), 3);
}

static void long_message_through_buffers(void)
{
    setup(true);
    a.regs.rsi = pith_msginfo(1, 64, 0);
    for (unsigned i = 0; i < 64; i++)
        thread_set_mr(&a, i, 1000 + i);
    ipc_transfer(&a, &b, 0, false);
    CHECK_EQ(pith_msginfo_length(b.regs.rsi), 64);
    for (unsigned i = 0; i < 64; i++)
        CHECK_EQ(thread_mr(&b, i), 1000 + i);
}

static void long_message_without_buffer_truncated(void)
{
    setup(true);
    b.ipc_buffer = NULL;
    a.regs.rsi = pith_msginfo(1, 10, 0);
    ipc_transfer(&a, &b, 0, false);
    CHECK_EQ(pith_msginfo_length(b.regs.rsi), PITH_MSG_REGS_IN_CPU);
}

static void oversize_length_clamped(void)
{
    setup(true);
    a.regs.rsi = pith_msginfo(1, 100, 0);
    ipc_transfer(&a, &b, 0, false);
    CHECK_EQ(pith_msginfo_length(b.regs.rsi), 64);
}

/* a offers b the endpoint in its slot 3 (a message with one capability); b receives
 * into its slot 5. */
static struct cap offered_endpoint(void)
{
    setup(true);
    struct cap ep = { .type = PITH_OBJ_ENDPOINT, .rights = PITH_RIGHTS_ALL, .object = 0x5000 };
    cap_insert_root(&aspace[3], &ep);
    abuf.caps[0] = 3;
    bbuf.receive_slot = 5;
    a.regs.rsi = pith_msginfo(0, 0, 1);
    return ep;
}

static void capability_granted(void)
{
    offered_endpoint();
    ipc_transfer(&a, &b, 0, true);
    CHECK(b.regs.rsi & PITH_MSG_CAP_RECEIVED);
    CHECK_EQ(bspace[5].type, PITH_OBJ_ENDPOINT);
    CHECK_EQ(bspace[5].object, 0x5000);
    CHECK(aspace[3].next == &bspace[5]);        /* derived from the sender's */
}

static void capability_needs_grant_and_empty_slot(void)
{
    struct cap ep = offered_endpoint();
    ipc_transfer(&a, &b, 0, false);
    CHECK(!(b.regs.rsi & PITH_MSG_CAP_RECEIVED));
    CHECK(cap_is_empty(&bspace[5]));
    cap_insert_root(&bspace[5], &ep);           /* occupied: refused */
    ipc_transfer(&a, &b, 0, true);
    CHECK(!(b.regs.rsi & PITH_MSG_CAP_RECEIVED));
    bbuf.receive_slot = 0;                      /* refused by the receiver */
    ipc_transfer(&a, &b, 0, true);
    CHECK(!(b.regs.rsi & PITH_MSG_CAP_RECEIVED));
}

/* A receiver whose capability to its own space may not write there gets none. */
static void capability_needs_writable_space(void)
{
    offered_endpoint();
    b.slots[TSLOT_CSPACE].rights = PITH_RIGHT_READ;
    ipc_transfer(&a, &b, 0, true);
    CHECK(!(b.regs.rsi & PITH_MSG_CAP_RECEIVED));
    CHECK(cap_is_empty(&bspace[5]));
    int err;
    CHECK(thread_cspace_empty_slot(&b, 5, &err) == NULL);
    CHECK_EQ(err, PITH_E_RIGHTS);
    b.slots[TSLOT_CSPACE].rights = PITH_RIGHTS_ALL;
    ipc_transfer(&a, &b, 0, true);
    CHECK(b.regs.rsi & PITH_MSG_CAP_RECEIVED);
}

static void untyped_never_transferred(void)
{
    setup(true);
    struct cap ut = { .type = PITH_OBJ_UNTYPED, .aux = 12, .object = 0x9000 };
    cap_insert_root(&aspace[3], &ut);
    abuf.caps[0] = 3;
    bbuf.receive_slot = 5;
    a.regs.rsi = pith_msginfo(0, 0, 1);
    ipc_transfer(&a, &b, 0, true);
    CHECK(cap_is_empty(&bspace[5]));
}

static void fault_message(void)
{
    setup(false);
    a.fault_label = PITH_FAULT_PAGE;
    a.fault_mr[0] = 0x401000, a.fault_mr[1] = 0xdead000, a.fault_mr[2] = 6, a.fault_mr[3] = 14;
    a.regs.rdx = 12345;                         /* user registers stay untouched */
    ipc_transfer(&a, &b, 9, false);
    CHECK_EQ(pith_msginfo_label(b.regs.rsi), PITH_FAULT_PAGE);
    CHECK_EQ(pith_msginfo_length(b.regs.rsi), 4);
    CHECK_EQ(thread_mr(&b, 1), 0xdead000);
    CHECK_EQ(thread_mr(&b, 3), 14);
    CHECK_EQ(b.regs.rdi, 9);
    CHECK_EQ(a.regs.rdx, 12345);
}

UNIT_TABLE(message,
    { "message_registers_and_badge", registers_and_badge },
    { "message_long_through_buffers", long_message_through_buffers },
    { "message_truncated_without_buffer", long_message_without_buffer_truncated },
    { "message_oversize_clamped", oversize_length_clamped },
    { "message_capability_granted", capability_granted },
    { "message_capability_needs_grant_and_slot", capability_needs_grant_and_empty_slot },
    { "message_capability_needs_writable_space", capability_needs_writable_space },
    { "message_untyped_never_transferred", untyped_never_transferred },
    { "message_fault", fault_message },
)
