/*
 * Hostile cases: object lifetime.  Memory may go back to an untyped only when nothing
 * can reach an object in it.  Each case builds what an attacker would (a derivation
 * chain deep enough to wrap a counter, CNodes nested far past any recursion limit, an
 * object kept alive by one forgotten copy, a thread still bound to what is revoked),
 * then retypes the memory as frames, fills them with a pattern the kernel would follow
 * as pointers, and checks that the kernel refused what it had to and still works.
 */
#include "hostile.h"

/* ---- Helpers ------------------------------------------------------------------------ */

static pith_cap_t retype_into(struct pith_test_ctx *ctx, pith_cap_t ut, enum pith_object_type type,
                              uint64_t bits, enum pith_error want)
{
    pith_cap_t slot = kt_slot();
    enum pith_error err = pith_untyped_retype(ut, type, bits, KT_CNODE, slot, 1);
    pith_expect_err(ctx, err, want, "retype");
    if (err != PITH_OK) {
        pith_alloc_free_slot(slot);
        return 0;
    }
    return slot;
}

/* Turn all of the untyped (2^bits, no children) into 4 KiB frames filled with 0xff:
 * stale capabilities or queues left in it would now point anywhere. */
static bool scribble_over(struct pith_test_ctx *ctx, pith_cap_t ut, unsigned bits)
{
    uint64_t count = 1ull << (bits - 12), window = kt_window();
    if (count > 512)
        count = 512;        /* the first 2 MiB are enough to catch a stale pointer */
    bool ok = true;
    for (uint64_t i = 0; i < count && ok; i++) {
        pith_cap_t frame = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_OK);
        ok = frame && pith_expect_ok(ctx, kt_map(frame, window + i * 4096, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                                     "mapping a frame");
        if (ok)
            pith_memset((void *)(window + i * 4096), 0xff, 4096);
        kt_delete(frame);   /* the memory keeps the pattern */
    }
    return ok;
}

/* The kernel still answers: a new endpoint, a copy, a revoke, a delete. */
static void kernel_still_works(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t copy = kt_slot();
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, copy, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy after the attack");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoke after the attack");
    pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, copy), PITH_E_INVALID_CAP, "the revoked copy");
    pith_alloc_free_slot(copy);
    kt_delete(ep);
}

/* Copies of `src`, each made from the one before, until the kernel refuses; the slots
 * go to chain[], the length to *n.  Returns the refusal. */
static enum pith_error copy_chain(pith_cap_t src, pith_cap_t *chain, unsigned max, unsigned *n)
{
    pith_cap_t from = src;
    *n = 0;
    while (*n < max) {
        pith_cap_t slot = kt_slot();
        enum pith_error err = pith_cnode_copy(KT_CNODE, slot, KT_CNODE, from, PITH_RIGHTS_ALL);
        if (err != PITH_OK) {
            pith_alloc_free_slot(slot);
            return err;
        }
        chain[(*n)++] = slot;
        from = slot;
    }
    return PITH_OK;
}

#define CHAIN_MAX 1100
static pith_cap_t chain[CHAIN_MAX];

/* ---- Derivation depth -------------------------------------------------------------- */

static void copy_depth_is_limited(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    unsigned n;
    enum pith_error err = copy_chain(ep, chain, CHAIN_MAX, &n);
    pith_expect_err(ctx, err, PITH_E_RANGE, "a copy past the depth limit");
    pith_expect(ctx, n >= 900 && n < CHAIN_MAX, "chain of %u copies before the limit", n);
    pith_cap_t deepest = n ? chain[n - 1] : ep, slot = kt_slot();
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, slot, KT_CNODE, deepest, PITH_RIGHTS_ALL, 7),
                    PITH_E_RANGE, "a mint past the depth limit");
    pith_alloc_free_slot(slot);
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoking the chain");
    for (unsigned i = 0; i < n; i++) {
        if (!pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, chain[i]), PITH_E_INVALID_CAP, "a revoked copy"))
            break;
    }
    for (unsigned i = 0; i < n; i++)
        pith_alloc_free_slot(chain[i]);
    kt_delete(ep);
}

/* The attack of the wrapping counter: a deep chain of copies of a frame, every
 * ancestor deleted, one copy left.  The untyped must still count it as a child. */
static void deepest_survivor_keeps_untyped_busy(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12);
    pith_cap_t frame = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_OK);
    if (!frame)
        return;
    unsigned n;
    copy_chain(frame, chain, CHAIN_MAX, &n);
    kt_delete(frame);
    for (unsigned i = 0; i + 1 < n; i++)
        kt_delete(chain[i]);
    pith_cap_t again = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_E_NO_MEMORY);
    kt_delete(again);
    if (n)
        kt_delete(chain[n - 1]);
    again = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_OK);
    kt_delete(again);
    kt_delete(ut);
    kernel_still_works(ctx);
}

static void configure_past_depth_limit_refused(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    unsigned n;
    copy_chain(ep, chain, CHAIN_MAX, &n);
    pith_cap_t deepest = n ? chain[n - 1] : ep;
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0, 0, deepest), PITH_E_RANGE,
                    "a fault endpoint at the depth limit");
    pith_cnode_revoke(KT_CNODE, ep);
    for (unsigned i = 0; i < n; i++)
        pith_alloc_free_slot(chain[i]);
    kt_delete(ep);
    kt_delete(tcb);
}

/* ---- CNodes nested without limit --------------------------------------------------- */

#define NEST_LEVELS 1000

/* CNodes of two slots from `ut`, each holding the next in slot 1; the innermost holds
 * a copy of `held` in slot 1.  Returns the outermost, in a slot of the root CNode. */
static pith_cap_t nest_cnodes(struct pith_test_ctx *ctx, pith_cap_t ut, pith_cap_t held, unsigned levels)
{
    pith_cap_t inner = retype_into(ctx, ut, PITH_OBJ_CNODE, 1, PITH_OK);
    if (!inner || !pith_expect_ok(ctx, pith_cnode_copy(inner, 1, KT_CNODE, held, PITH_RIGHTS_ALL), "copy inside"))
        return 0;
    for (unsigned i = 1; i < levels; i++) {
        pith_cap_t outer = retype_into(ctx, ut, PITH_OBJ_CNODE, 1, PITH_OK);
        if (!outer || !pith_expect_ok(ctx, pith_cnode_move(outer, 1, KT_CNODE, inner), "nesting a CNode"))
            return 0;
        pith_alloc_free_slot(inner);
        inner = outer;
    }
    return inner;
}

static void deep_cnode_chain_destroyed_whole(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 18);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t top = nest_cnodes(ctx, ut, ep, NEST_LEVELS);
    if (!top)
        return;
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, top), "deleting the outermost CNode");
    pith_alloc_free_slot(top);
    /* Every CNode is gone, so the untyped starts again from zero. */
    if (scribble_over(ctx, ut, 18)) {
        pith_cap_t slot = kt_slot();
        pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, slot, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy of the endpoint");
        pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoking the endpoint");
        pith_alloc_free_slot(slot);
    }
    kt_delete(ep);
    kt_delete(ut);
    kernel_still_works(ctx);
}

static void deep_cnode_chain_revoked_from_untyped(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 18);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t top = nest_cnodes(ctx, ut, ep, NEST_LEVELS);
    if (!top)
        return;
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoking the untyped under the chain");
    pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, top), PITH_E_INVALID_CAP, "the outermost CNode after revoke");
    pith_alloc_free_slot(top);
    if (scribble_over(ctx, ut, 18))
        pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoking the endpoint");
    kt_delete(ep);
    kt_delete(ut);
    kernel_still_works(ctx);
}

/* A CNode that holds a capability to itself, and one that holds its own untyped. */
static void cnode_cycles_reclaimed(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 14);
    pith_cap_t self = retype_into(ctx, ut, PITH_OBJ_CNODE, 2, PITH_OK);
    if (!self)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(self, 1, KT_CNODE, self, PITH_RIGHTS_ALL), "a CNode holding itself");
    kt_delete(self);
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoking the untyped of a cycle");
    scribble_over(ctx, ut, 14);

    pith_cap_t parent = kt_new(ctx, PITH_OBJ_UNTYPED, 15);
    pith_cap_t child = retype_into(ctx, parent, PITH_OBJ_UNTYPED, 14, PITH_OK);
    pith_cap_t holder = child ? retype_into(ctx, child, PITH_OBJ_CNODE, 2, PITH_OK) : 0;
    if (holder) {
        pith_expect_ok(ctx, pith_cnode_move(holder, 1, KT_CNODE, child), "an untyped inside its own CNode");
        pith_alloc_free_slot(child);
        kt_delete(holder);
        pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, parent), "revoking the parent untyped");
        scribble_over(ctx, parent, 15);
    }
    kt_delete(parent);
    kt_delete(ut);
    kernel_still_works(ctx);
}

/* ---- Retype over a live object ------------------------------------------------------ */

struct live_case { enum pith_object_type type; uint64_t bits; unsigned untyped_bits; };

/* One forgotten copy keeps the object alive: the untyped must refuse to start again. */
static void retype_over_live(struct pith_test_ctx *ctx, const struct live_case *lc)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, lc->untyped_bits);
    pith_cap_t obj = retype_into(ctx, ut, lc->type, lc->bits, PITH_OK);
    if (!obj)
        return;
    pith_cap_t copy = kt_slot();
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, copy, KT_CNODE, obj, PITH_RIGHTS_ALL), "a copy");
    kt_delete(obj);
    pith_cap_t over = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_E_NO_MEMORY);
    kt_delete(over);
    kt_delete(copy);
    if (scribble_over(ctx, ut, lc->untyped_bits))
        kernel_still_works(ctx);
    kt_delete(ut);
}

#define LIVE_CASE(name, type, bits, ubits) \
    static void retype_over_live_##name(struct pith_test_ctx *ctx) \
    { \
        static const struct live_case lc = { type, bits, ubits }; \
        retype_over_live(ctx, &lc); \
    }
LIVE_CASE(endpoint, PITH_OBJ_ENDPOINT, 0, 12)
LIVE_CASE(notification, PITH_OBJ_NOTIFICATION, 0, 12)
LIVE_CASE(cnode, PITH_OBJ_CNODE, 4, 12)
LIVE_CASE(thread, PITH_OBJ_THREAD, 0, 12)
LIVE_CASE(address_space, PITH_OBJ_ADDRESS_SPACE, 0, 14)
LIVE_CASE(frame, PITH_OBJ_FRAME_4K, 0, 12)
LIVE_CASE(vcpu, PITH_OBJ_VCPU, 0, 15)
LIVE_CASE(guest_space, PITH_OBJ_GUEST_SPACE, 0, 13)

/* A page table cannot be copied; mapped, it is reached from an address space. */
static void retype_over_mapped_table(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12);
    pith_cap_t pt = retype_into(ctx, ut, PITH_OBJ_PAGE_TABLE, 0, PITH_OK);
    if (!pt)
        return;
    uint64_t where = 0x600000000000ull;
    pith_cap_t pd = kt_new(ctx, PITH_OBJ_PAGE_DIRECTORY, 0), pdpt = kt_new(ctx, PITH_OBJ_PDPT, 0);
    pith_expect_ok(ctx, pith_table_map(pdpt, KT_SPACE, where), "map PDPT");
    pith_expect_ok(ctx, pith_table_map(pd, KT_SPACE, where), "map PD");
    pith_expect_ok(ctx, pith_table_map(pt, KT_SPACE, where), "map PT");
    pith_cap_t over = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_E_NO_MEMORY);
    kt_delete(over);
    kt_delete(pt);          /* unmaps it */
    if (scribble_over(ctx, ut, 12)) {
        /* The directory entry went with the table: a new table maps where it was. */
        pith_cap_t pt2 = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
        pith_expect_ok(ctx, pith_table_map(pt2, KT_SPACE, where), "a new table in the freed entry");
        kt_delete(pt2);
    }
    kt_delete(pd);
    kt_delete(pdpt);
    kt_delete(ut);
}

/* ---- Bindings of a thread ----------------------------------------------------------- */

static void revoked_address_space_stops_thread(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 14);
    pith_cap_t space = retype_into(ctx, ut, PITH_OBJ_ADDRESS_SPACE, 0, PITH_OK);
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    if (!space || !tcb)
        return;
    pith_expect_ok(ctx, pith_thread_configure(tcb, KT_CNODE, space, 0, 0, 0), "configure");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoking the address space's untyped");
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "resume without an address space");
    scribble_over(ctx, ut, 14);
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "resume after the memory was reused");
    kt_delete(tcb);
    kt_delete(ut);
    kernel_still_works(ctx);
}

static pith_cap_t receive_ep;
static volatile uint64_t received_words;

static void receive_once(uint64_t arg)
{
    (void)arg;
    struct pith_msg msg;
    if (pith_recv(receive_ep, &msg) == PITH_OK)
        received_words = pith_msginfo_length(msg.info) + 1;
}

/* A receiver whose IPC buffer capability is revoked while it waits: the message must
 * not be written into the frame, which the receiver no longer holds. */
static void revoked_ipc_buffer_not_written(struct pith_test_ctx *ctx)
{
    receive_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    received_words = 0;
    struct kt_thread t;
    if (!kt_thread_start(ctx, &t, receive_once, 0, KT_ROOT_PRIORITY + 1, 0))
        return;
    /* It runs at once and waits.  Its buffer capability is a child of ours. */
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, t.ipc_frame), "revoking the receiver's buffer");
    pith_memset(t.ipc, 0, 4096);
    uint64_t *mr = pith_ipc_buffer()->mr;
    for (unsigned i = 0; i < 40; i++)
        mr[i] = 0x5a5a5a5a5a5a5a5aull;
    struct pith_msg msg = { .info = pith_msginfo(1, 40, 0) };
    pith_expect_ok(ctx, pith_send(receive_ep, &msg), "send to the receiver");
    kt_wait_flag(&received_words, 100);
    pith_expect(ctx, received_words >= 1 && received_words <= PITH_MSG_REGS_IN_CPU + 1,
                "the receiver got %lu words without a buffer", (uint64_t)received_words - 1);
    const uint64_t *words = (const uint64_t *)t.ipc;
    for (unsigned i = 0; i < 512; i++)
        if (!pith_expect(ctx, words[i] == 0, "the revoked buffer was written at word %u", i))
            break;
    kt_thread_destroy(&t);
    kt_delete(t.ipc_frame);
    kt_delete(receive_ep);
}

/* A notification with an armed deadline is deleted; its memory is reused; the
 * deadline passes: nothing is written there. */
static void deleted_notification_deadline_not_fired(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12);
    pith_cap_t n = retype_into(ctx, ut, PITH_OBJ_NOTIFICATION, 0, PITH_OK);
    if (!n)
        return;
    uint64_t when = pith_rdtsc() + kt_bootinfo->tsc_hz / 200;   /* 5 ms */
    pith_expect_ok(ctx, pith_notification_set_deadline(n, when), "arm a deadline");
    kt_delete(n);
    pith_cap_t frame = retype_into(ctx, ut, PITH_OBJ_FRAME_4K, 0, PITH_OK);
    uint64_t va = kt_window();
    kt_map(frame, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    pith_memset((void *)va, 0, 4096);
    while (pith_rdtsc() < when + kt_bootinfo->tsc_hz / 200)
        pith_yield();
    const uint64_t *words = (const uint64_t *)va;
    for (unsigned i = 0; i < 512; i++)
        if (!pith_expect(ctx, words[i] == 0, "the deadline wrote word %u of reused memory", i))
            break;
    kt_delete(frame);
    kt_delete(ut);
}

static pith_cap_t self_slot;
static volatile uint64_t self_deleted;

static void delete_own_thread(uint64_t arg)
{
    (void)arg;
    self_deleted = 1;
    pith_cnode_delete(KT_CNODE, self_slot);
    self_deleted = 2;       /* never reached: the thread is gone */
}

static void thread_deletes_itself(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    self_deleted = 0;
    if (!kt_thread_create(ctx, &t, delete_own_thread, 0, KT_ROOT_PRIORITY + 1, 0))
        return;
    self_slot = t.tcb;
    pith_thread_resume(t.tcb);
    pith_expect_eq(ctx, self_deleted, 1, "the thread ran and stopped at its own deletion");
    pith_expect_err(ctx, pith_thread_resume(t.tcb), PITH_E_INVALID_CAP, "its slot is empty");
    pith_alloc_free_slot(t.tcb);
    kt_delete(t.ipc_frame);
    kernel_still_works(ctx);
}

static void blocked_fault_keeps_registers(struct pith_test_ctx *ctx)
{
    pith_cap_t fault_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct kt_thread t;
    if (!kt_thread_create(ctx, &t, NULL, 0, KT_ROOT_PRIORITY + 1, fault_ep))
        return;
    /* rip 0 faults at once; rax and rsi hold values a suspend must not touch. */
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    pith_thread_read_registers(t.tcb, regs, PITH_REG_RDI + 1);
    regs[PITH_REG_RIP] = 0x1000;
    regs[PITH_REG_RAX] = 0x1111;
    regs[PITH_REG_RSI] = 0x2222;
    pith_thread_write_registers(t.tcb, regs, PITH_REG_RDI + 1);
    pith_thread_resume(t.tcb);      /* it faults and waits on fault_ep: nobody receives */
    pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspend in the fault");
    uint64_t after[PITH_REG_COUNT] = { 0 };
    pith_thread_read_registers(t.tcb, after, PITH_REG_RDI + 1);
    pith_expect_eq(ctx, after[PITH_REG_RAX], 0x1111, "rax of the faulting thread");
    pith_expect_eq(ctx, after[PITH_REG_RSI], 0x2222, "rsi of the faulting thread");
    pith_expect_eq(ctx, after[PITH_REG_RIP], 0x1000, "rip of the faulting thread");
    kt_thread_destroy(&t);
    kt_delete(t.ipc_frame);
    kt_delete(fault_ep);
}

/* ---- Long operations ---------------------------------------------------------------- */

static pith_cap_t tick_note;
static volatile uint64_t window_start, window_end, wakes_inside, worst_late, tick_stop;
static uint64_t tick_period;

/* A high-priority thread that wakes every period and records, for the wake-ups that
 * fall inside [window_start, window_end], how many there were and the latest one. */
static void ticker(uint64_t arg)
{
    (void)arg;
    uint64_t due = pith_rdtsc() + tick_period;
    while (!tick_stop) {
        pith_notification_set_deadline(tick_note, due);
        uint64_t bits;
        pith_wait(tick_note, &bits);
        uint64_t now = pith_rdtsc();
        if (window_start && !window_end && due > window_start) {
            wakes_inside++;
            if (now - due > worst_late)
                worst_late = now - due;
        }
        due = now + tick_period;
    }
}

#define REVOKE_COPIES 20000

static void long_revoke_lets_high_priority_run(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t big = kt_new(ctx, PITH_OBJ_CNODE, 15);
    if (!ep || !big)
        return;
    for (uint64_t i = 1; i <= REVOKE_COPIES; i++)
        if (!pith_expect_ok(ctx, pith_cnode_copy(big, i, KT_CNODE, ep, PITH_RIGHTS_ALL), "a copy"))
            return;
    tick_note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    tick_period = kt_bootinfo->tsc_hz / 5000;       /* 0.2 ms */
    window_start = window_end = wakes_inside = worst_late = tick_stop = 0;
    struct kt_thread t;
    if (!kt_thread_start(ctx, &t, ticker, 0, KT_ROOT_PRIORITY + 50, 0))
        return;
    window_start = pith_rdtsc();
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoking 20000 copies");
    window_end = pith_rdtsc();
    uint64_t took = window_end - window_start;
    tick_stop = 1;
    uint64_t per_us = kt_bootinfo->tsc_hz / 1000000;
    pith_printf("hostile: revoke of %u copies took %lu us; a 200 us ticker woke %lu times meanwhile, "
                "at worst %lu us late\n", REVOKE_COPIES, took / per_us, (uint64_t)wakes_inside,
                worst_late / per_us);
    pith_expect_err(ctx, pith_cnode_delete(big, REVOKE_COPIES), PITH_E_INVALID_CAP, "the last copy revoked");
    /* Without preemption points the ticker waits for the whole revoke. */
    if (pith_expect(ctx, took > 4 * tick_period, "the revoke took only %lu us", took / per_us)) {
        pith_expect(ctx, wakes_inside >= 2, "the ticker woke %lu times during the revoke",
                    (uint64_t)wakes_inside);
        pith_expect(ctx, worst_late < took / 2, "the ticker waited %lu us of the revoke's %lu",
                    worst_late / per_us, took / per_us);
    }
    kt_thread_destroy(&t);
    kt_delete(t.ipc_frame);
    kt_delete(tick_note);
    kt_delete(big);
    kt_delete(ep);
}

/* Retyping many megabytes zeroes them in preemptible chunks: the result is all zero. */
static void large_retype_zeroes_everything(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 23);
    if (!ut)
        return;
    scribble_over(ctx, ut, 21);     /* the first 2 MiB full of 0xff */
    /* Into a CNode of its own, where four consecutive slots are free. */
    pith_cap_t cn = kt_new(ctx, PITH_OBJ_CNODE, 3), frame = kt_slot();
    /* A high-priority ticker makes the zeroing stop at preemption points and restart. */
    tick_note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    tick_period = kt_bootinfo->tsc_hz / 5000;
    window_start = window_end = wakes_inside = worst_late = tick_stop = 0;
    struct kt_thread t;
    if (!kt_thread_start(ctx, &t, ticker, 0, KT_ROOT_PRIORITY + 50, 0))
        return;
    window_start = pith_rdtsc();
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_2M, 0, cn, 1, 4), "4 frames of 2 MiB");
    window_end = pith_rdtsc();
    tick_stop = 1;
    uint64_t per_us = kt_bootinfo->tsc_hz / 1000000;
    pith_printf("hostile: zeroing 8 MiB took %lu us; the ticker woke %lu times meanwhile, at worst %lu us late\n",
                (window_end - window_start) / per_us, (uint64_t)wakes_inside, worst_late / per_us);
    if (window_end - window_start > 4 * tick_period)
        pith_expect(ctx, wakes_inside >= 2, "the ticker woke %lu times during the retype", (uint64_t)wakes_inside);
    kt_thread_destroy(&t);
    kt_delete(t.ipc_frame);
    kt_delete(tick_note);
    pith_expect_ok(ctx, pith_cnode_move(KT_CNODE, frame, cn, 1), "the first frame");
    uint64_t va = kt_window();
    if (pith_expect_ok(ctx, pith_map_frame_2m(frame, KT_SPACE, va, PITH_RIGHT_READ, 0), "map the first")) {
        const uint64_t *w = (const uint64_t *)va;
        for (uint64_t i = 0; i < (2ull << 20) / 8; i += 61)
            if (!pith_expect(ctx, w[i] == 0, "word %lu of a new frame is %lx", i, w[i]))
                break;
    }
    kt_delete(frame);
    kt_delete(cn);
    kt_delete(ut);
}

/* ---- A vCPU's thread made an ordinary thread ---------------------------------------- */

static volatile uint64_t plain_ran;

static void plain_thread(uint64_t arg)
{
    (void)arg;
    plain_ran = 1;
}

static void reconfigured_vcpu_thread_runs_plain(struct pith_test_ctx *ctx)
{
    pith_cap_t vcpu = 0;
    if (pith_alloc_object(PITH_OBJ_VCPU, 0, &vcpu) != PITH_OK) {
        pith_expect(ctx, !(kt_bootinfo->cpu_features & (PITH_CPU_VMX | PITH_CPU_SVM)),
                    "no vCPU although the CPU has VMX or SVM");
        return;
    }
    pith_cap_t gs = kt_new(ctx, PITH_OBJ_GUEST_SPACE, 0), ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct kt_thread t;
    plain_ran = 0;
    if (!kt_thread_create(ctx, &t, plain_thread, 0, KT_ROOT_PRIORITY + 1, 0))
        return;
    pith_expect_ok(ctx, pith_vcpu_configure(vcpu, t.tcb, gs, ep, 0, 0), "bind the vCPU");
    kt_delete(gs);          /* the thread's copy keeps it, until the next configure */
    uint64_t ipc = (uint64_t)t.ipc;
    pith_expect_ok(ctx, pith_thread_configure(t.tcb, KT_CNODE, KT_SPACE, ipc, t.ipc_frame, 0),
                   "configure it as an ordinary thread");
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)plain_thread;
    regs[PITH_REG_RSP] = (uint64_t)(t.stack + 4096 / 8 * 4 - 1);
    regs[PITH_REG_RFLAGS] = 0x202;
    pith_thread_write_registers(t.tcb, regs, PITH_REG_RDI + 1);
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    kt_wait_flag(&plain_ran, 10);
    pith_expect(ctx, plain_ran == 1, "the thread did not run its code (it entered a guest?)");
    kt_thread_destroy(&t);
    kt_delete(t.ipc_frame);
    kt_delete(ep);
    kt_delete(vcpu);
}

KT_TABLE(lifetime,
    { "lifetime_copy_depth_limited", copy_depth_is_limited },
    { "lifetime_depth_survivor_keeps_untyped", deepest_survivor_keeps_untyped_busy },
    { "lifetime_configure_past_depth_refused", configure_past_depth_limit_refused },
    { "lifetime_deep_cnode_chain_deleted", deep_cnode_chain_destroyed_whole },
    { "lifetime_deep_cnode_chain_revoked", deep_cnode_chain_revoked_from_untyped },
    { "lifetime_cnode_cycles_reclaimed", cnode_cycles_reclaimed },
    { "lifetime_retype_over_live_endpoint", retype_over_live_endpoint },
    { "lifetime_retype_over_live_notification", retype_over_live_notification },
    { "lifetime_retype_over_live_cnode", retype_over_live_cnode },
    { "lifetime_retype_over_live_thread", retype_over_live_thread },
    { "lifetime_retype_over_live_address_space", retype_over_live_address_space },
    { "lifetime_retype_over_live_frame", retype_over_live_frame },
    { "lifetime_retype_over_live_vcpu", retype_over_live_vcpu },
    { "lifetime_retype_over_live_guest_space", retype_over_live_guest_space },
    { "lifetime_retype_over_mapped_table", retype_over_mapped_table },
    { "lifetime_revoked_space_stops_thread", revoked_address_space_stops_thread },
    { "lifetime_revoked_ipc_buffer_not_written", revoked_ipc_buffer_not_written },
    { "lifetime_deleted_deadline_not_fired", deleted_notification_deadline_not_fired },
    { "lifetime_thread_deletes_itself", thread_deletes_itself },
    { "lifetime_blocked_fault_keeps_registers", blocked_fault_keeps_registers },
    { "lifetime_long_revoke_preemptible", long_revoke_lets_high_priority_run },
    { "lifetime_large_retype_zeroes", large_retype_zeroes_everything },
    { "lifetime_vcpu_thread_reconfigured", reconfigured_vcpu_thread_runs_plain },
)
