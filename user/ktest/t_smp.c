/*
 * Several CPUs: threads on every CPU, IPC and notifications across CPUs, moving
 * threads, TLB shootdown, stopping a thread another CPU runs.  main.c runs this group
 * only when the boot info says threads may run on more than one CPU.
 *
 * There is no "which CPU am I" call.  What shows that a thread runs on another CPU is
 * that it spins at a priority above the test task's (SMP_HIGH) and the test task still
 * runs; waits are bounded by the TSC and generous, since emulated CPUs are slow.
 */
#include "ktest.h"

#define SMP_HIGH    (KT_ROOT_PRIORITY + 10)     /* would starve the test task on CPU 0 */
#define SMP_LOW     (KT_ROOT_PRIORITY - 10)     /* runs on CPU 0 only while it blocks */
#define WAIT_MS     3000
#define SMP_TEST_CPUS 16

static uint64_t ms_to_tsc(uint64_t ms) { return kt_bootinfo->tsc_hz / 1000 * ms; }

/* Busy-wait (without blocking) until *word differs from `from` or ms pass. */
static bool changes_within(const volatile uint64_t *word, uint64_t from, uint64_t ms)
{
    uint64_t until = pith_rdtsc() + ms_to_tsc(ms);
    while (*word == from)
        if (pith_rdtsc() > until)
            return false;
    return true;
}

static void spin_ms(uint64_t ms)
{
    uint64_t until = pith_rdtsc() + ms_to_tsc(ms);
    while (pith_rdtsc() < until)
        __asm__ volatile("pause");
}

/* Block for ms (lower priorities on CPU 0 run meanwhile). */
static void sleep_ms(struct pith_test_ctx *ctx, uint64_t ms)
{
    static pith_cap_t note;
    if (!note)
        note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    uint64_t until = pith_rdtsc() + ms_to_tsc(ms);
    pith_notification_set_deadline(note, until);
    while (pith_rdtsc() < until) {
        uint64_t bits;
        if (pith_wait(note, &bits) != PITH_OK)
            break;
    }
}

/* A thread with this affinity, started. */
static bool start_on(struct pith_test_ctx *ctx, struct kt_thread *t, unsigned cpu, kt_entry entry,
                     uint64_t arg, uint64_t priority, pith_cap_t fault_ep)
{
    return kt_thread_create(ctx, t, entry, arg, priority, fault_ep) &&
           pith_expect_ok(ctx, pith_thread_set_affinity(t->tcb, cpu), "setting the affinity") &&
           pith_expect_ok(ctx, pith_thread_resume(t->tcb), "resuming");
}

static volatile uint64_t counters[SMP_TEST_CPUS];

static void spin_body(uint64_t i)
{
    for (;;)
        counters[i]++;
}

static void count_once_body(uint64_t i)
{
    counters[i]++;
}

/* ---- The cases ------------------------------------------------------------------------ */

static void smp_bootinfo(struct pith_test_ctx *ctx)
{
    pith_expect(ctx, kt_bootinfo->cpu_count > 1, "more than one CPU");
    pith_expect_eq(ctx, kt_bootinfo->cpu_count, kt_bootinfo->cpus_online, "every online CPU runs threads");
}

static void smp_affinity_range(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!kt_thread_create(ctx, &t, count_once_body, 0, SMP_LOW, 0))
        return;
    for (unsigned cpu = 0; cpu < kt_bootinfo->cpu_count; cpu++)
        pith_expect_ok(ctx, pith_thread_set_affinity(t.tcb, cpu), "every online CPU");
    pith_expect_err(ctx, pith_thread_set_affinity(t.tcb, kt_bootinfo->cpu_count), PITH_E_RANGE,
                    "one past the last CPU");
    kt_thread_destroy(&t);
}

/* A thread above the test task's priority spins on CPU 1 while the test task runs. */
static void smp_runs_beside(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!start_on(ctx, &t, 1, spin_body, 0, SMP_HIGH, 0))
        return;
    uint64_t seen = counters[0];
    pith_expect(ctx, changes_within(&counters[0], seen, WAIT_MS), "the spinner never ran");
    seen = counters[0];
    pith_expect(ctx, changes_within(&counters[0], seen, WAIT_MS), "the spinner stopped");
    kt_thread_destroy(&t);
}

/* One thread per CPU: every one of them runs. */
static void smp_every_cpu(struct pith_test_ctx *ctx)
{
    unsigned n = kt_bootinfo->cpu_count;
    if (n > SMP_TEST_CPUS)
        n = SMP_TEST_CPUS;
    struct kt_thread t[SMP_TEST_CPUS];
    for (unsigned i = 0; i < n; i++) {
        counters[i] = 0;
        if (!start_on(ctx, &t[i], i, i ? spin_body : count_once_body, i, SMP_HIGH, 0))
            n = i;
    }
    for (unsigned i = 0; i < n; i++)
        pith_expect(ctx, changes_within(&counters[i], 0, WAIT_MS), "the thread on CPU %u never ran", i);
    for (unsigned i = 0; i < n; i++)
        kt_thread_destroy(&t[i]);
}

/* Suspending a thread another CPU runs stops it at once; resuming starts it again. */
static void smp_suspend_remote(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!start_on(ctx, &t, 1, spin_body, 0, SMP_HIGH, 0) ||
        !pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "the spinner never ran"))
        goto done;
    pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspending");
    uint64_t stopped = counters[0];
    spin_ms(20);
    pith_expect_eq(ctx, counters[0], stopped, "the suspended thread went on");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resuming");
    pith_expect(ctx, changes_within(&counters[0], stopped, WAIT_MS), "the resumed thread stays stopped");
done:
    kt_thread_destroy(&t);
}

/* Deleting a thread another CPU runs stops it before the deletion returns. */
static void smp_delete_remote(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!start_on(ctx, &t, 1, spin_body, 0, SMP_HIGH, 0) ||
        !pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "the spinner never ran"))
        return;
    kt_delete(t.tcb);
    uint64_t stopped = counters[0];
    spin_ms(20);
    pith_expect_eq(ctx, counters[0], stopped, "the deleted thread went on");
}

/* The same with a thread that enters the kernel all the time (Yield): taken away
 * while it waits for the kernel on its CPU. */
static void yield_body(uint64_t i)
{
    for (;;) {
        counters[i]++;
        pith_yield();
    }
}

static void smp_delete_remote_in_syscalls(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!start_on(ctx, &t, 1, yield_body, 0, SMP_HIGH, 0) ||
        !pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "the thread never ran"))
        return;
    for (unsigned i = 0; i < 50; i++) {     /* suspended at different points of its loop */
        pith_thread_suspend(t.tcb);
        pith_thread_resume(t.tcb);
    }
    uint64_t seen = counters[0];
    pith_expect(ctx, changes_within(&counters[0], seen, WAIT_MS), "it stopped after suspend/resume");
    kt_delete(t.tcb);
    uint64_t stopped = counters[0];
    spin_ms(20);
    pith_expect_eq(ctx, counters[0], stopped, "the deleted thread went on");
}

/* Call and ReplyRecv across CPUs: the test task calls a server on CPU 1. */
static pith_cap_t smp_ep;

static void server_body(uint64_t unused)
{
    (void)unused;
    struct pith_msg m;
    pith_recv(smp_ep, &m);
    for (;;) {
        m.info = pith_msginfo(0, 2, 0);
        m.mr[0] = m.mr[0] + 1;
        m.mr[1] = m.badge;
        pith_reply_recv(smp_ep, &m);
    }
}

static void smp_call_across(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!(smp_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0)) ||
        !start_on(ctx, &t, 1, server_body, 0, SMP_HIGH, 0))
        return;
    unsigned wrong = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        struct pith_msg m = { .info = pith_msginfo(0, 1, 0), .mr = { i } };
        if (pith_call(smp_ep, &m) != PITH_OK || m.mr[0] != i + 1)
            wrong++;
    }
    pith_expect_eq(ctx, wrong, 0, "wrong or failed answers");
    kt_thread_destroy(&t);
    kt_delete(smp_ep);
}

/* The other way: a client on CPU 1 calls the test task. */
static void client_body(uint64_t rounds)
{
    for (uint64_t i = 0; i < rounds; i++) {
        struct pith_msg m = { .info = pith_msginfo(0, 1, 0), .mr = { i } };
        if (pith_call(smp_ep, &m) != PITH_OK || m.mr[0] != 2 * i)
            counters[1]++;
    }
    counters[0] = 1;
}

static void smp_serve_across(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    const uint64_t rounds = 2000;
    counters[0] = counters[1] = 0;
    if (!(smp_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0)) ||
        !start_on(ctx, &t, 1, client_body, rounds, SMP_HIGH, 0))
        return;
    struct pith_msg m;
    bool ok = pith_recv(smp_ep, &m) == PITH_OK;
    for (uint64_t i = 1; ok && i < rounds; i++) {
        m.info = pith_msginfo(0, 1, 0);
        m.mr[0] *= 2;
        ok = pith_reply_recv(smp_ep, &m) == PITH_OK;
    }
    m.info = pith_msginfo(0, 1, 0);
    m.mr[0] *= 2;
    ok = ok && pith_reply(&m) == PITH_OK;
    pith_expect(ctx, ok, "serving failed");
    pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "the client did not finish");
    pith_expect_eq(ctx, counters[1], 0, "wrong answers");
    kt_thread_destroy(&t);
    kt_delete(smp_ep);
}

/* Notifications across CPUs, both ways. */
static pith_cap_t smp_note, smp_note_back;

static void waiter_body(uint64_t unused)
{
    (void)unused;
    for (;;) {
        uint64_t bits;
        pith_wait(smp_note, &bits);
        counters[0]++;
        pith_signal(smp_note_back);
    }
}

static void smp_notification_across(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!(smp_note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0)) ||
        !(smp_note_back = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0)) ||
        !start_on(ctx, &t, 1, waiter_body, 0, SMP_HIGH, 0))
        return;
    unsigned lost = 0;
    for (uint64_t i = 0; i < 500; i++) {
        uint64_t bits = 0;
        pith_signal(smp_note);
        if (pith_wait(smp_note_back, &bits) != PITH_OK)
            lost++;
    }
    pith_expect_eq(ctx, lost, 0, "failed waits");
    pith_expect_eq(ctx, counters[0], 500, "wake-ups on CPU 1");
    kt_thread_destroy(&t);
    kt_delete(smp_note);
    kt_delete(smp_note_back);
}

/* A deadline (kept by CPU 0) wakes a thread that waits on CPU 1. */
static void sleeper_body(uint64_t ms)
{
    uint64_t until = pith_rdtsc() + ms_to_tsc(ms);
    pith_notification_set_deadline(smp_note, until);
    uint64_t bits = 0;
    while (!(bits & PITH_DEADLINE_BIT))
        pith_wait(smp_note, &bits);
    counters[0] = pith_rdtsc() >= until ? 1 : 2;
}

static void smp_deadline_across(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!(smp_note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0)) ||
        !start_on(ctx, &t, 1, sleeper_body, 5, SMP_HIGH, 0))
        return;
    pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "the sleeper on CPU 1 never woke");
    pith_expect_eq(ctx, counters[0], 1, "woke before its deadline");
    kt_thread_destroy(&t);
    kt_delete(smp_note);
}

/* A running thread moved between CPUs keeps running, on its new CPU. */
static void smp_migrate_running(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!start_on(ctx, &t, 1, spin_body, 0, SMP_LOW, 0) ||
        !pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "never ran on CPU 1"))
        goto done;
    pith_expect_ok(ctx, pith_thread_set_affinity(t.tcb, 0), "moving it to CPU 0");
    uint64_t seen = counters[0];
    spin_ms(20);        /* on CPU 0 below the test task: it cannot run now */
    pith_expect_eq(ctx, counters[0], seen, "it still runs elsewhere");
    sleep_ms(ctx, 20);  /* ...but while the test task sleeps */
    pith_expect(ctx, counters[0] != seen, "it never ran on CPU 0");
    pith_expect_ok(ctx, pith_thread_set_affinity(t.tcb, 1), "moving it back");
    seen = counters[0];
    pith_expect(ctx, changes_within(&counters[0], seen, WAIT_MS), "it does not run on CPU 1 again");
done:
    kt_thread_destroy(&t);
}

/* A blocked thread moved to another CPU wakes there. */
static void blocked_body(uint64_t unused)
{
    (void)unused;
    struct pith_msg m;
    pith_recv(smp_ep, &m);
    spin_body(0);
}

static void smp_migrate_blocked(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    counters[0] = 0;
    if (!(smp_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0)) ||
        !start_on(ctx, &t, 0, blocked_body, 0, SMP_HIGH, 0))
        return;
    pith_expect_ok(ctx, pith_thread_set_affinity(t.tcb, 1), "moving the blocked thread");
    struct pith_msg m = { .info = pith_msginfo(0, 0, 0) };
    pith_expect_ok(ctx, pith_send(smp_ep, &m), "waking it");
    /* Above our priority: were it on CPU 0, we would not get here. */
    pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "it never ran on CPU 1");
    kt_thread_destroy(&t);
    kt_delete(smp_ep);
}

/* TLB shootdown: a thread on CPU 1 reading a page faults as soon as CPU 0 unmapped it. */
static volatile uint64_t *shoot_page;

static void reader_body(uint64_t unused)
{
    (void)unused;
    uint64_t sum = 0;
    for (;;) {
        sum += *shoot_page;
        counters[0]++;
    }
}

static void smp_shootdown(struct pith_test_ctx *ctx)
{
    struct kt_thread t = { 0 };
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t addr = kt_window();
    counters[0] = 0;
    if (!ep || !frame ||
        !pith_expect_ok(ctx, kt_map(frame, addr, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "mapping"))
        return;
    shoot_page = (volatile uint64_t *)addr;
    if (!start_on(ctx, &t, 1, reader_body, 0, SMP_HIGH, ep) ||
        !pith_expect(ctx, changes_within(&counters[0], 0, WAIT_MS), "the reader never ran"))
        goto done;
    pith_expect_ok(ctx, pith_frame_unmap(frame), "unmapping");
    uint64_t at_unmap = counters[0];
    spin_ms(20);
    pith_expect(ctx, counters[0] <= at_unmap + 1, "the reader read %lu times after the unmap",
                counters[0] - at_unmap);
    struct pith_msg m;
    if (pith_expect_ok(ctx, pith_recv(ep, &m), "receiving the fault")) {
        pith_expect_eq(ctx, pith_msginfo_label(m.info), PITH_FAULT_PAGE, "a page fault");
        pith_expect_eq(ctx, m.mr[1], addr, "at the unmapped page");
    }
done:
    kt_thread_destroy(&t);
    kt_delete(frame);
    kt_delete(ep);
}

/* Stress: pairs ping-pong across CPUs for about two seconds; no message is lost. */
#define PAIRS 3
static pith_cap_t pair_ep[PAIRS];
static volatile uint64_t pair_done[PAIRS], pair_rounds[PAIRS], pair_errors, pair_stop;

static void pair_server(uint64_t i)
{
    struct pith_msg m;
    pith_recv(pair_ep[i], &m);
    for (;;) {
        m.info = pith_msginfo(0, 1, 0);
        m.mr[0] = ~m.mr[0];
        pith_reply_recv(pair_ep[i], &m);
    }
}

static void pair_client(uint64_t i)
{
    for (uint64_t n = 0; !pair_stop; n++) {
        struct pith_msg m = { .info = pith_msginfo(0, 1, 0), .mr = { n * PAIRS + i } };
        if (pith_call(pair_ep[i], &m) != PITH_OK || m.mr[0] != ~(n * PAIRS + i))
            pair_errors++;
        pair_rounds[i]++;
    }
    pair_done[i] = 1;
}

static void smp_stress_pingpong(struct pith_test_ctx *ctx)
{
    struct kt_thread server[PAIRS] = { 0 }, client[PAIRS] = { 0 };
    pair_errors = pair_stop = 0;
    unsigned n = 0;
    for (; n < PAIRS; n++) {
        pair_done[n] = pair_rounds[n] = 0;
        unsigned cpu = n % kt_bootinfo->cpu_count;
        if (!(pair_ep[n] = kt_new(ctx, PITH_OBJ_ENDPOINT, 0)) ||
            !start_on(ctx, &server[n], (cpu + 1) % kt_bootinfo->cpu_count, pair_server, n, SMP_LOW, 0) ||
            !start_on(ctx, &client[n], cpu, pair_client, n, SMP_LOW, 0))
            break;
    }
    sleep_ms(ctx, 2000);
    pair_stop = 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t until = pith_rdtsc() + ms_to_tsc(WAIT_MS);
        while (!pair_done[i] && pith_rdtsc() < until)
            sleep_ms(ctx, 5);
        pith_expect(ctx, pair_done[i], "pair %u stuck after %lu rounds", i, pair_rounds[i]);
        pith_expect(ctx, pair_rounds[i] > 0, "pair %u never ran", i);
    }
    pith_expect_eq(ctx, pair_errors, 0, "wrong or failed answers");
    for (unsigned i = 0; i < PAIRS; i++) {
        kt_thread_destroy(&client[i]);
        kt_thread_destroy(&server[i]);
        if (pair_ep[i])
            kt_delete(pair_ep[i]);
    }
}

KT_TABLE(smp,
    { "smp_bootinfo", smp_bootinfo },
    { "smp_affinity_range", smp_affinity_range },
    { "smp_runs_beside", smp_runs_beside },
    { "smp_every_cpu", smp_every_cpu },
    { "smp_suspend_remote", smp_suspend_remote },
    { "smp_delete_remote", smp_delete_remote },
    { "smp_delete_remote_in_syscalls", smp_delete_remote_in_syscalls },
    { "smp_call_across", smp_call_across },
    { "smp_serve_across", smp_serve_across },
    { "smp_notification_across", smp_notification_across },
    { "smp_deadline_across", smp_deadline_across },
    { "smp_migrate_running", smp_migrate_running },
    { "smp_migrate_blocked", smp_migrate_blocked },
    { "smp_shootdown", smp_shootdown },
    { "smp_stress_pingpong", smp_stress_pingpong },
)
