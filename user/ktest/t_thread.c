/*
 * Threads: starting, priorities and preemption, round robin and timeslices, suspend
 * and resume, registers, state errors, and destroying threads while they run or wait.
 */
#include "ktest.h"

#define KT_HIGH_PRIORITY (KT_ROOT_PRIORITY + 50)
#define KT_LOW_PRIORITY  (KT_ROOT_PRIORITY - 50)

static uint64_t tsc_ms(uint64_t ms)
{
    return kt_bootinfo->tsc_hz / 1000 * ms;
}

/* The stack pointer a thread's entry expects (as right after a call), at the top of
 * the stack kt_thread_create gave it; that slot holds the return address it set. */
static uint64_t entry_rsp(const struct kt_thread *t)
{
    return (uint64_t)(t->stack + 4096 / 8 * 4 - 1);
}

/* ---- Thread bodies ------------------------------------------------------------------ */

static volatile uint64_t g_flag, g_seen, g_seq;

static void store_arg(uint64_t arg)
{
    g_seen = arg;
    g_flag = 1;
}

static void spin(uint64_t arg)
{
    volatile uint64_t *counter = (volatile uint64_t *)arg;
    for (;;)
        (*counter)++;
}

/* Yield until *counter moves past `than`, at most `yields` times. */
static bool counter_passes(volatile uint64_t *counter, uint64_t than, unsigned yields)
{
    for (unsigned i = 0; i < yields && *counter <= than; i++)
        pith_yield();
    return *counter > than;
}

/* ---- Cases -------------------------------------------------------------------------- */

static void start_runs_entry(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    g_flag = 0;
    g_seen = 0;
    if (!kt_thread_start(ctx, &t, store_arg, 0x1234abcd5678ull, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect(ctx, kt_wait_flag(&g_flag, 20), "the thread never ran");
    pith_expect_eq(ctx, g_seen, 0x1234abcd5678ull, "the argument the thread saw in rdi");
    kt_thread_destroy(&t);
}

static void record_seq(uint64_t arg)
{
    (void)arg;
    g_seen = g_seq;
    g_flag = 1;
}

static void higher_priority_preempts(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    g_flag = 0;
    g_seen = 0;
    g_seq = 1;
    if (!kt_thread_create(ctx, &t, record_seq, 0, KT_HIGH_PRIORITY, 0))
        return;
    pith_expect_eq(ctx, g_flag, 0, "flag before resume");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    g_seq = 2;          /* the thread must have run inside the resume call */
    pith_expect_eq(ctx, g_flag, 1, "flag right after resume");
    pith_expect_eq(ctx, g_seen, 1, "sequence the higher thread saw");
    kt_thread_destroy(&t);
}

static pith_cap_t g_low_note;

static void record_seq_and_signal(uint64_t arg)
{
    (void)arg;
    g_seen = g_seq;
    g_flag = 1;
    pith_signal(g_low_note);
}

static void lower_priority_waits(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    g_flag = 0;
    g_seen = 0;
    g_seq = 1;
    g_low_note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!g_low_note || !kt_thread_start(ctx, &t, record_seq_and_signal, 0, KT_LOW_PRIORITY, 0))
        return;
    for (unsigned i = 0; i < 10; i++)
        pith_yield();
    pith_expect_eq(ctx, g_flag, 0, "the lower thread ran while the test only yielded");
    g_seq = 2;
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_wait(g_low_note, &bits), "wait for the lower thread");
    pith_expect_eq(ctx, g_flag, 1, "the lower thread ran once the test blocked");
    pith_expect_eq(ctx, g_seen, 2, "sequence the lower thread saw");
    pith_expect_eq(ctx, bits, 1, "bits of its signal");
    kt_thread_destroy(&t);
    kt_delete(g_low_note);
}

static void round_robin(struct pith_test_ctx *ctx)
{
    static volatile uint64_t a, b;
    struct kt_thread ta, tb;
    a = b = 0;
    if (!kt_thread_start(ctx, &ta, spin, (uint64_t)&a, KT_ROOT_PRIORITY, 0))
        return;
    if (!kt_thread_start(ctx, &tb, spin, (uint64_t)&b, KT_ROOT_PRIORITY, 0)) {
        kt_thread_destroy(&ta);
        return;
    }
    for (unsigned i = 0; i < 20 && (!a || !b); i++)
        pith_yield();
    pith_expect(ctx, a && b, "first round: a=%llu b=%llu", (unsigned long long)a,
                (unsigned long long)b);
    /* Both spin forever: only the timer tick takes each off the CPU for the other. */
    uint64_t a1 = a, b1 = b;
    for (unsigned i = 0; i < 20 && (a == a1 || b == b1); i++)
        pith_yield();
    pith_expect(ctx, a > a1 && b > b1, "second round: a %llu->%llu b %llu->%llu",
                (unsigned long long)a1, (unsigned long long)a, (unsigned long long)b1,
                (unsigned long long)b);
    kt_thread_destroy(&ta);
    kt_thread_destroy(&tb);
}

static void spinner_does_not_starve(struct pith_test_ctx *ctx)
{
    static volatile uint64_t c;
    struct kt_thread t;
    c = 0;
    if (!kt_thread_start(ctx, &t, spin, (uint64_t)&c, KT_ROOT_PRIORITY, 0))
        return;
    /* No system call here: only the end of the test's timeslice lets the spinner in,
     * and only the end of the spinner's lets the test see it. */
    for (unsigned round = 0; round < 2; round++) {
        uint64_t seen = c, start = pith_rdtsc();
        while (c == seen && pith_rdtsc() - start < tsc_ms(300))
            pith_cpu_relax();
        if (!pith_expect(ctx, c != seen, "round %u: the spinner never ran while the test spun",
                         round))
            break;
    }
    kt_thread_destroy(&t);
}

static void suspend_and_resume(struct pith_test_ctx *ctx)
{
    static volatile uint64_t c;
    struct kt_thread t;
    c = 0;
    if (!kt_thread_start(ctx, &t, spin, (uint64_t)&c, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect(ctx, counter_passes(&c, 0, 20), "the spinner never ran");
    pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspend");
    uint64_t stopped = c;
    for (unsigned i = 0; i < 10; i++)
        pith_yield();
    pith_expect_eq(ctx, c, stopped, "counter of the suspended thread");
    pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspend an inactive thread");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume a runnable thread");
    pith_expect(ctx, counter_passes(&c, stopped, 20), "the resumed thread does not advance");
    kt_thread_destroy(&t);
}

static pith_cap_t g_self_tcb;

static void suspend_self(uint64_t arg)
{
    (void)arg;
    g_seen = 1;
    pith_thread_suspend(g_self_tcb);
    g_seen = 2;
}

static void suspend_itself(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    g_seen = 0;
    if (!kt_thread_create(ctx, &t, suspend_self, 0, KT_ROOT_PRIORITY, 0))
        return;
    g_self_tcb = t.tcb;
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    for (unsigned i = 0; i < 10; i++)
        pith_yield();
    pith_expect_eq(ctx, g_seen, 1, "progress of a thread that suspended itself");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume it again");
    for (unsigned i = 0; i < 10 && g_seen != 2; i++)
        pith_yield();
    pith_expect_eq(ctx, g_seen, 2, "progress after resume");
    kt_thread_destroy(&t);
}

static void registers_round_trip(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!kt_thread_create(ctx, &t, spin, 0, KT_ROOT_PRIORITY, 0))
        return;
    uint64_t w[PITH_REG_COUNT + 1], r[PITH_REG_COUNT];
    for (unsigned i = 0; i < PITH_REG_COUNT + 1; i++)
        w[i] = 0x0101010101010101ull * (i + 1) + i;
    w[PITH_REG_RIP] = (uint64_t)spin + 0x10;
    w[PITH_REG_RSP] = 0x00007ffffffff000ull;
    /* IOPL 3, IF clear, and every status flag set. */
    w[PITH_REG_RFLAGS] = 0x3000 | 0x8d5;
    w[PITH_REG_FS_BASE] = 0x0000123456789000ull;
    w[PITH_REG_GS_BASE] = 0x00007f0000abc000ull;
    pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, w, PITH_REG_COUNT), "write 20");
    for (unsigned i = 0; i < PITH_REG_COUNT; i++)
        r[i] = 0xdead;
    if (pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, r, PITH_REG_COUNT), "read 20")) {
        for (unsigned i = 0; i < PITH_REG_COUNT; i++) {
            uint64_t want = i == PITH_REG_RFLAGS ? (0x8d5 | 0x202) : w[i];
            if (!pith_expect(ctx, r[i] == want,
                             "register %u reads %llx, wrote %llx (expected %llx)", i,
                             (unsigned long long)r[i], (unsigned long long)w[i],
                             (unsigned long long)want))
                break;
        }
    }
    /* A partial write changes only the registers it names. */
    uint64_t few[3] = { (uint64_t)spin, 0x5000, 0 };
    pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, few, 3), "write 3");
    pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, r, PITH_REG_COUNT), "read again");
    pith_expect_eq(ctx, r[PITH_REG_RIP], (uint64_t)spin, "rip after a partial write");
    pith_expect_eq(ctx, r[PITH_REG_RFLAGS], 0x202, "rflags written as 0");
    pith_expect_eq(ctx, r[PITH_REG_RAX], w[PITH_REG_RAX], "rax kept by a partial write");
    pith_expect_eq(ctx, r[PITH_REG_GS_BASE], w[PITH_REG_GS_BASE], "gs base kept");

    /* Refused writes change nothing. */
    uint64_t bad[PITH_REG_COUNT + 1];
    for (unsigned i = 0; i < PITH_REG_COUNT; i++)
        bad[i] = r[i];
    bad[PITH_REG_COUNT] = 0;
    bad[PITH_REG_RIP] = PITH_USER_TOP;
    pith_expect_err(ctx, pith_thread_write_registers(t.tcb, bad, 1), PITH_E_BAD_ADDRESS,
                    "rip at the user top");
    bad[PITH_REG_RIP] = 0x1000;
    bad[PITH_REG_FS_BASE] = 0xffff800000000000ull;
    pith_expect_err(ctx, pith_thread_write_registers(t.tcb, bad, PITH_REG_COUNT),
                    PITH_E_BAD_ADDRESS, "fs base in the kernel half");
    bad[PITH_REG_FS_BASE] = 0;
    bad[PITH_REG_GS_BASE] = 0x0000900000000000ull;
    pith_expect_err(ctx, pith_thread_write_registers(t.tcb, bad, PITH_REG_COUNT),
                    PITH_E_BAD_ADDRESS, "non-canonical gs base");
    pith_expect_err(ctx, pith_thread_write_registers(t.tcb, bad, PITH_REG_COUNT + 1),
                    PITH_E_RANGE, "21 registers");
    pith_expect_err(ctx, pith_thread_read_registers(t.tcb, r, PITH_REG_COUNT + 1), PITH_E_RANGE,
                    "reading 21 registers");
    pith_expect_err(ctx, pith_thread_read_registers(t.tcb, r, 0), PITH_E_RANGE,
                    "reading 0 registers");
    pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, r, PITH_REG_COUNT), "read at the end");
    pith_expect_eq(ctx, r[PITH_REG_RIP], (uint64_t)spin, "rip after refused writes");
    pith_expect_eq(ctx, r[PITH_REG_FS_BASE], w[PITH_REG_FS_BASE], "fs base after refused writes");
    kt_thread_destroy(&t);
}

static void write_registers_redirects(struct pith_test_ctx *ctx)
{
    static volatile uint64_t c;
    struct kt_thread t;
    c = 0;
    g_flag = 0;
    g_seen = 0;
    if (!kt_thread_start(ctx, &t, spin, (uint64_t)&c, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect(ctx, counter_passes(&c, 0, 20), "the spinner never ran");
    pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspend");
    uint64_t regs[PITH_REG_COUNT];
    if (!pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, regs, PITH_REG_COUNT), "read")) {
        kt_thread_destroy(&t);
        return;
    }
    uint64_t rip = regs[PITH_REG_RIP];
    pith_expect(ctx, rip >= (uint64_t)spin && rip < (uint64_t)spin + 64,
                "a spinning thread's rip %llx is not in spin() at %llx",
                (unsigned long long)regs[PITH_REG_RIP], (unsigned long long)(uint64_t)spin);
    regs[PITH_REG_RIP] = (uint64_t)store_arg;
    regs[PITH_REG_RSP] = entry_rsp(&t);
    regs[PITH_REG_RDI] = 0xfeedface0042ull;
    pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, regs, PITH_REG_RDI + 1), "write");
    uint64_t stopped = c;
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    pith_expect(ctx, kt_wait_flag(&g_flag, 20), "the new entry never ran");
    pith_expect_eq(ctx, g_seen, 0xfeedface0042ull, "rdi the new entry saw");
    for (unsigned i = 0; i < 5; i++)
        pith_yield();
    pith_expect_eq(ctx, c, stopped, "the old loop stays stopped");
    kt_thread_destroy(&t);
}

static void write_registers_self_refused(struct pith_test_ctx *ctx)
{
    uint64_t regs[PITH_REG_COUNT];
    enum pith_error err = pith_thread_read_registers(KT_SELF, regs, PITH_REG_COUNT);
    if (!pith_expect_ok(ctx, err, "read self"))
        return;
    pith_expect_eq(ctx, regs[PITH_REG_FS_BASE], kt_bootinfo->ipc_buffer, "own fs base");
    regs[PITH_REG_RIP] = 0x1000;
    pith_expect_err(ctx, pith_thread_write_registers(KT_SELF, regs, PITH_REG_COUNT),
                    PITH_E_INVALID_ARG, "write own registers");
    pith_cap_t copy = kt_slot();
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, copy, KT_CNODE, KT_SELF, PITH_RIGHTS_ALL),
                   "copy own thread capability");
    pith_expect_err(ctx, pith_thread_write_registers(copy, regs, 1), PITH_E_INVALID_ARG,
                    "write own registers through a copy");
    kt_delete(copy);
}

static struct {
    pith_cap_t self, other;
    enum pith_error err[5];
    volatile uint64_t done;
} g_prio;

static void priority_probe(uint64_t arg)
{
    (void)arg;
    g_prio.err[0] = pith_thread_set_priority(g_prio.self, KT_HIGH_PRIORITY + 1);
    g_prio.err[1] = pith_thread_set_priority(g_prio.self, KT_HIGH_PRIORITY - 10);
    g_prio.err[2] = pith_thread_set_priority(g_prio.self, KT_HIGH_PRIORITY);
    g_prio.err[3] = pith_thread_set_priority(g_prio.other, KT_HIGH_PRIORITY + 1);
    g_prio.err[4] = pith_thread_set_priority(g_prio.other, KT_LOW_PRIORITY);
    g_prio.done = 1;
}

static void set_priority_limits(struct pith_test_ctx *ctx)
{
    struct kt_thread t, other;
    g_prio.done = 0;
    if (!kt_thread_create(ctx, &other, spin, 0, 1, 0))
        return;
    if (!kt_thread_create(ctx, &t, priority_probe, 0, KT_HIGH_PRIORITY, 0)) {
        kt_thread_destroy(&other);
        return;
    }
    g_prio.self = t.tcb;
    g_prio.other = other.tcb;
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume the probe");
    if (pith_expect_eq(ctx, g_prio.done, 1, "the higher-priority probe ran at once")) {
        pith_expect_err(ctx, g_prio.err[0], PITH_E_RIGHTS, "raise itself above what it was given");
        pith_expect_ok(ctx, g_prio.err[1], "lower itself");
        pith_expect_ok(ctx, g_prio.err[2], "raise itself back to what it was given");
        pith_expect_err(ctx, g_prio.err[3], PITH_E_RIGHTS, "give another more than it has");
        pith_expect_ok(ctx, g_prio.err[4], "give another less");
    }
    pith_expect_err(ctx, pith_thread_set_priority(t.tcb, PITH_PRIORITY_MAX + 1), PITH_E_RANGE,
                    "priority 256");
    /* The root task's limit is 255, not its own priority. */
    pith_expect_ok(ctx, pith_thread_set_priority(other.tcb, KT_ROOT_PRIORITY + 100),
                   "root gives more than its own priority");
    pith_expect_ok(ctx, pith_thread_set_priority(KT_SELF, KT_ROOT_PRIORITY - 10), "lower self");
    pith_expect_ok(ctx, pith_thread_set_priority(KT_SELF, KT_ROOT_PRIORITY), "raise self back");
    kt_thread_destroy(&t);
    kt_thread_destroy(&other);
}

static void set_affinity(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!kt_thread_create(ctx, &t, spin, 0, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect_ok(ctx, pith_thread_set_affinity(t.tcb, 0), "CPU 0");
    pith_expect_err(ctx, pith_thread_set_affinity(t.tcb, kt_bootinfo->cpu_count), PITH_E_RANGE,
                    "CPU cpu_count");
    pith_expect_err(ctx, pith_thread_set_affinity(t.tcb, 1000), PITH_E_RANGE, "CPU 1000");
    pith_expect_ok(ctx, pith_thread_set_affinity(KT_SELF, 0), "own thread to CPU 0");
    kt_thread_destroy(&t);
}

static enum pith_error reconfigure(const struct kt_thread *t)
{
    return pith_thread_configure(t->tcb, KT_CNODE, KT_SPACE, (uint64_t)t->ipc, t->ipc_frame, 0);
}

static void configure_needs_inactive(struct pith_test_ctx *ctx)
{
    static volatile uint64_t c;
    struct kt_thread t, parked;
    c = 0;
    g_flag = 0;
    if (!kt_thread_start(ctx, &t, spin, (uint64_t)&c, KT_ROOT_PRIORITY, 0))
        return;
    if (!kt_thread_start(ctx, &parked, store_arg, 0, KT_ROOT_PRIORITY, 0)) {
        kt_thread_destroy(&t);
        return;
    }
    pith_expect(ctx, counter_passes(&c, 0, 20), "the spinner never ran");
    pith_expect(ctx, kt_wait_flag(&g_flag, 20), "the parked thread never ran");
    pith_expect_err(ctx, reconfigure(&t), PITH_E_BUSY, "configure a running thread");
    pith_expect_err(ctx, reconfigure(&parked), PITH_E_BUSY, "configure a blocked thread");
    pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspend");
    pith_expect_ok(ctx, reconfigure(&t), "configure the suspended thread");
    uint64_t stopped = c;
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    pith_expect(ctx, counter_passes(&c, stopped, 20), "the reconfigured thread does not run");
    kt_thread_destroy(&t);
    kt_thread_destroy(&parked);
}

static void resume_unconfigured(struct pith_test_ctx *ctx)
{
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    if (!tcb)
        return;
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "resume a new thread");
    uint64_t regs[PITH_REG_COUNT];
    if (pith_expect_ok(ctx, pith_thread_read_registers(tcb, regs, PITH_REG_COUNT), "read")) {
        pith_expect_eq(ctx, regs[PITH_REG_RIP], 0, "a new thread's rip");
        pith_expect_eq(ctx, regs[PITH_REG_RFLAGS], 0x202, "a new thread's rflags");
        pith_expect_eq(ctx, regs[PITH_REG_FS_BASE], 0, "a new thread's fs base");
    }
    /* Unconfigured, so still inactive: configuring it works. */
    pith_expect_ok(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0, 0, 0), "configure");
    pith_expect_ok(ctx, pith_thread_read_registers(tcb, regs, PITH_REG_COUNT), "read again");
    pith_expect_eq(ctx, regs[PITH_REG_FS_BASE], 0, "fs base without an IPC buffer");
    kt_delete(tcb);
}

static void delete_running_thread(struct pith_test_ctx *ctx)
{
    static volatile uint64_t c;
    struct kt_thread t;
    c = 0;
    if (!kt_thread_start(ctx, &t, spin, (uint64_t)&c, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect(ctx, counter_passes(&c, 0, 20), "the spinner never ran");
    /* No suspend first: deleting the last capability alone must stop it. */
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, t.tcb), "delete the thread capability");
    uint64_t stopped = c;
    for (unsigned i = 0; i < 10; i++)
        pith_yield();
    uint64_t start = pith_rdtsc();
    while (pith_rdtsc() - start < tsc_ms(15))    /* past a few timeslices */
        pith_cpu_relax();
    pith_expect_eq(ctx, c, stopped, "counter of the destroyed thread");
    pith_expect_err(ctx, pith_thread_resume(t.tcb), PITH_E_INVALID_CAP, "the emptied slot");
    pith_alloc_free_slot(t.tcb);
}

static struct {
    pith_cap_t ep;
    volatile uint64_t started, done, received;
    enum pith_error err;
    struct pith_msg msg;
} g_call;

static void caller_body(uint64_t arg)
{
    struct pith_msg m = { .info = pith_msginfo(7, 1, 0), .mr = { arg } };
    g_call.started = 1;
    g_call.err = pith_call(g_call.ep, &m);
    g_call.msg = m;
    g_call.done = 1;
}

/* Takes one Call and never answers it. */
static void silent_server(uint64_t arg)
{
    (void)arg;
    struct pith_msg m;
    pith_recv(g_call.ep, &m);
    g_call.received = m.mr[0];
}

static void reset_call(struct pith_test_ctx *ctx)
{
    g_call.started = g_call.done = g_call.received = 0;
    g_call.err = PITH_E_COUNT;
    g_call.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
}

static void destroy_caller_no_reply(struct pith_test_ctx *ctx)
{
    struct kt_thread c;
    reset_call(ctx);
    if (!g_call.ep || !kt_thread_start(ctx, &c, caller_body, 42, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect(ctx, kt_wait_flag(&g_call.started, 20), "the caller never ran");
    struct pith_msg m;
    pith_expect_ok(ctx, pith_recv(g_call.ep, &m), "receive the call");
    pith_expect_eq(ctx, m.mr[0], 42, "the call's MR0");
    kt_thread_destroy(&c);
    struct pith_msg reply = { .info = pith_msginfo(0, 0, 0) };
    pith_expect_err(ctx, pith_reply(&reply), PITH_E_NO_REPLY, "reply to a destroyed caller");
    pith_expect_eq(ctx, g_call.done, 0, "the destroyed caller returned");
    kt_delete(g_call.ep);
}

static void destroy_server_deleted(struct pith_test_ctx *ctx)
{
    struct kt_thread s, c;
    reset_call(ctx);
    if (!g_call.ep || !kt_thread_start(ctx, &s, silent_server, 0, KT_ROOT_PRIORITY, 0))
        return;
    if (!kt_thread_start(ctx, &c, caller_body, 43, KT_ROOT_PRIORITY, 0)) {
        kt_thread_destroy(&s);
        return;
    }
    pith_expect(ctx, kt_wait_flag(&g_call.received, 20), "the server never got the call");
    pith_expect_eq(ctx, g_call.received, 43, "MR0 the server got");
    for (unsigned i = 0; i < 5; i++)
        pith_yield();
    pith_expect_eq(ctx, g_call.done, 0, "the caller returned without a reply");
    kt_thread_destroy(&s);
    pith_expect(ctx, kt_wait_flag(&g_call.done, 20), "the caller never woke");
    pith_expect_err(ctx, g_call.err, PITH_E_DELETED, "the caller's Call");
    kt_thread_destroy(&c);
    kt_delete(g_call.ep);
}

static void suspend_leaves_queue(struct pith_test_ctx *ctx)
{
    struct kt_thread c;
    reset_call(ctx);
    if (!g_call.ep || !kt_thread_start(ctx, &c, caller_body, 44, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect(ctx, kt_wait_flag(&g_call.started, 20), "the caller never ran");
    for (unsigned i = 0; i < 3; i++)
        pith_yield();
    pith_expect_ok(ctx, pith_thread_suspend(c.tcb), "suspend the blocked caller");
    struct pith_msg m;
    pith_expect_err(ctx, pith_nb_recv(g_call.ep, &m), PITH_E_WOULD_BLOCK,
                    "receive after the only sender was suspended");
    kt_thread_destroy(&c);
    kt_delete(g_call.ep);
}

static struct fsgs {
    uint64_t fs_word, gs_word;  /* what %fs:0 and %gs:0 must read */
    volatile uint64_t count, bad;
} g_fsgs[2];

static void fsgs_body(uint64_t arg)
{
    struct fsgs *me = (struct fsgs *)arg;
    for (;;) {
        uint64_t fs, gs;
        __asm__ volatile("movq %%fs:0, %0" : "=r"(fs));
        __asm__ volatile("movq %%gs:0, %0" : "=r"(gs));
        if (fs != me->fs_word || gs != me->gs_word)
            me->bad++;
        me->count++;
    }
}

static void fs_gs_per_thread(struct pith_test_ctx *ctx)
{
    static uint64_t words[4] = { 0xf5f5000000000001ull, 0x6565000000000002ull,
                                 0xf5f5000000000003ull, 0x6565000000000004ull };
    struct kt_thread t[2];
    unsigned made = 0;
    for (unsigned i = 0; i < 2; i++) {
        g_fsgs[i] = (struct fsgs){ .fs_word = words[2 * i], .gs_word = words[2 * i + 1] };
        if (!kt_thread_create(ctx, &t[i], fsgs_body, (uint64_t)&g_fsgs[i], KT_ROOT_PRIORITY, 0))
            break;
        made++;
        uint64_t regs[PITH_REG_COUNT];
        enum pith_error err = pith_thread_read_registers(t[i].tcb, regs, PITH_REG_COUNT);
        if (!pith_expect_ok(ctx, err, "read"))
            break;
        pith_expect_eq(ctx, regs[PITH_REG_FS_BASE], (uint64_t)t[i].ipc, "fs base set by configure");
        regs[PITH_REG_FS_BASE] = (uint64_t)&words[2 * i];
        regs[PITH_REG_GS_BASE] = (uint64_t)&words[2 * i + 1];
        pith_expect_ok(ctx, pith_thread_write_registers(t[i].tcb, regs, PITH_REG_COUNT), "write");
        pith_expect_ok(ctx, pith_thread_resume(t[i].tcb), "resume");
    }
    if (made == 2) {
        for (unsigned i = 0; i < 20 && (g_fsgs[0].count < 1000 || g_fsgs[1].count < 1000); i++)
            pith_yield();
        uint64_t c0 = g_fsgs[0].count, c1 = g_fsgs[1].count;
        for (unsigned i = 0; i < 20 && (g_fsgs[0].count == c0 || g_fsgs[1].count == c1); i++)
            pith_yield();
        pith_expect(ctx, g_fsgs[0].count > c0 && g_fsgs[1].count > c1,
                    "both threads ran twice (%llu, %llu)", (unsigned long long)g_fsgs[0].count,
                    (unsigned long long)g_fsgs[1].count);
        pith_expect_eq(ctx, g_fsgs[0].bad, 0, "wrong FS/GS reads in thread 0");
        pith_expect_eq(ctx, g_fsgs[1].bad, 0, "wrong FS/GS reads in thread 1");
        for (unsigned i = 0; i < 2; i++) {
            uint64_t regs[PITH_REG_COUNT];
            pith_thread_suspend(t[i].tcb);
            if (pith_expect_ok(ctx, pith_thread_read_registers(t[i].tcb, regs, PITH_REG_COUNT),
                               "read after running")) {
                pith_expect_eq(ctx, regs[PITH_REG_FS_BASE], (uint64_t)&words[2 * i],
                               "fs base kept");
                pith_expect_eq(ctx, regs[PITH_REG_GS_BASE], (uint64_t)&words[2 * i + 1],
                               "gs base kept");
            }
        }
        pith_expect_eq(ctx, (uint64_t)pith_ipc_buffer(), kt_bootinfo->ipc_buffer,
                       "the test's own FS still finds its IPC buffer");
    }
    for (unsigned i = 0; i < made; i++)
        kt_thread_destroy(&t[i]);
}

/* The kernel console shows each thread's output a line at a time (abi.md,
 * DEBUG_PUTC): a line begun, interrupted by a higher-priority thread that prints a line
 * of its own, and ended afterwards comes out whole, after the other.  tests/system.sh
 * checks every line that has "WHOLE " in it: it must start with it, end with " END"
 * and have it once, which a line cut by another thread's would not. */
static void print_line(uint64_t arg)
{
    pith_printf("WHOLE a line printed by a second thread %s END%s", arg ? "while the first waits" : "and left",
                arg ? "\n" : "");
    g_flag = 1;
}

static void console_lines_whole(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    g_flag = 0;
    if (!kt_thread_create(ctx, &t, print_line, 1, KT_HIGH_PRIORITY, 0))
        return;
    pith_printf("WHOLE a line of the first thread, ");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    pith_printf("ended after the second printed END\n");
    pith_expect_eq(ctx, g_flag, 1, "the second thread ran inside the resume call");
    kt_thread_destroy(&t);
    /* A thread destroyed in the middle of its line: the kernel ends the line. */
    g_flag = 0;
    if (!kt_thread_create(ctx, &t, print_line, 0, KT_HIGH_PRIORITY, 0))
        return;
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume the unfinished one");
    pith_expect_eq(ctx, g_flag, 1, "the unfinished line was printed");
    kt_thread_destroy(&t);
    pith_printf("WHOLE a line printed after an unfinished one was ended END\n");
}

/* A thread that loads a data selector into FS and GS (base 0) changes only its own
 * bases: the next thread on the CPU runs with its own, even when they are the values
 * the first was given.  Both threads get the loader's FS base as their FS and GS
 * bases; the loader loads FS and GS and wakes the reader, which outranks it, so the
 * CPU goes straight from one to the other. */
static pith_cap_t fsb_note;
static volatile uint64_t fsb_seen_fs, fsb_seen_gs, fsb_read;

static void fsb_loader(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("mov %0, %%fs\n\tmov %0, %%gs" :: "r"(0x23) : "memory");
    pith_signal(fsb_note);
}

static void fsb_reader(uint64_t unused)
{
    (void)unused;
    uint64_t bits, f, g;
    pith_wait(fsb_note, &bits);
    __asm__ volatile("mov %%fs:0, %0\n\tmov %%gs:0, %1" : "=r"(f), "=r"(g) :: "memory");
    fsb_seen_fs = f;
    fsb_seen_gs = g;
    fsb_read = 1;
}

static void fs_base_not_shared(struct pith_test_ctx *ctx)
{
    struct kt_thread loader, reader;
    uint64_t lregs[PITH_REG_COUNT], rregs[PITH_REG_COUNT];
    fsb_read = 0;
    if (!(fsb_note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0)) ||
        !kt_thread_create(ctx, &loader, fsb_loader, 0, KT_ROOT_PRIORITY + 1, 0))
        return;
    if (!kt_thread_create(ctx, &reader, fsb_reader, 0, KT_ROOT_PRIORITY + 2, 0))
        goto no_reader;
    if (pith_expect_ok(ctx, pith_thread_read_registers(loader.tcb, lregs, PITH_REG_COUNT), "loader's") &&
        pith_expect_ok(ctx, pith_thread_read_registers(reader.tcb, rregs, PITH_REG_COUNT), "reader's") &&
        pith_expect(ctx, lregs[PITH_REG_FS_BASE] != 0, "the loader has an FS base")) {
        lregs[PITH_REG_GS_BASE] = lregs[PITH_REG_FS_BASE];
        rregs[PITH_REG_FS_BASE] = rregs[PITH_REG_GS_BASE] = lregs[PITH_REG_FS_BASE];
        if (pith_expect_ok(ctx, pith_thread_write_registers(loader.tcb, lregs, PITH_REG_COUNT), "its GS base") &&
            pith_expect_ok(ctx, pith_thread_write_registers(reader.tcb, rregs, PITH_REG_COUNT), "its bases") &&
            pith_expect_ok(ctx, pith_thread_resume(reader.tcb), "resuming the reader") &&
            pith_expect_ok(ctx, pith_thread_resume(loader.tcb), "resuming the loader")) {
            uint64_t want = *(volatile uint64_t *)lregs[PITH_REG_FS_BASE];
            pith_expect(ctx, fsb_read, "the reader could not read through its FS and GS bases");
            pith_expect_eq(ctx, fsb_seen_fs, want, "what the reader read through its FS base");
            pith_expect_eq(ctx, fsb_seen_gs, want, "what the reader read through its GS base");
        }
    }
    kt_thread_destroy(&reader);
no_reader:
    kt_thread_destroy(&loader);
    kt_delete(fsb_note);
}

KT_TABLE(thread,
    { "thread_start_runs_entry", start_runs_entry },
    { "thread_higher_priority_preempts", higher_priority_preempts },
    { "thread_lower_priority_waits", lower_priority_waits },
    { "thread_round_robin", round_robin },
    { "thread_fs_base_not_shared", fs_base_not_shared },
    { "thread_spinner_does_not_starve", spinner_does_not_starve },
    { "thread_suspend_and_resume", suspend_and_resume },
    { "thread_suspend_itself", suspend_itself },
    { "thread_registers_round_trip", registers_round_trip },
    { "thread_write_registers_redirects", write_registers_redirects },
    { "thread_write_registers_self_refused", write_registers_self_refused },
    { "thread_set_priority_limits", set_priority_limits },
    { "thread_set_affinity", set_affinity },
    { "thread_configure_needs_inactive", configure_needs_inactive },
    { "thread_resume_unconfigured", resume_unconfigured },
    { "thread_delete_running", delete_running_thread },
    { "thread_destroy_caller_no_reply", destroy_caller_no_reply },
    { "thread_destroy_server_deleted", destroy_server_deleted },
    { "thread_suspend_leaves_queue", suspend_leaves_queue },
    { "thread_fs_gs_per_thread", fs_gs_per_thread },
    { "thread_console_lines_whole", console_lines_whole },
)
