/*
 * Notifications: signal, wait and poll, badges accumulating, waiter order, deadlines
 * (future, past, cancelled, replaced), binding to a thread, rights and destruction.
 */
#include "ktest.h"

static uint64_t tsc_ms(uint64_t ms)
{
    return kt_bootinfo->tsc_hz / 1000 * ms;
}

/* A badged copy of a notification in a fresh slot (0 on failure). */
static pith_cap_t badged(struct pith_test_ctx *ctx, pith_cap_t note, uint64_t badge)
{
    pith_cap_t slot = kt_slot();
    enum pith_error err = pith_cnode_mint(KT_CNODE, slot, KT_CNODE, note, PITH_RIGHTS_ALL, badge);
    if (!pith_expect_ok(ctx, err, "mint a badge"))
        return 0;
    return slot;
}

/* ---- Waiter threads ----------------------------------------------------------------- */

struct waiter {
    pith_cap_t note;
    bool use_recv;                  /* Recv on the notification instead of Wait */
    volatile uint64_t started, done;
    enum pith_error err;
    uint64_t bits, info;
    struct kt_thread t;
};

static void waiter_body(uint64_t arg)
{
    struct waiter *w = (struct waiter *)arg;
    w->started = 1;
    if (w->use_recv) {
        struct pith_msg m;
        w->err = pith_recv(w->note, &m);
        w->bits = m.badge;
        w->info = m.info;
    } else {
        w->err = pith_wait(w->note, (uint64_t *)&w->bits);
    }
    w->done = 1;
}

/* Start a waiter and let it block in Wait. */
static bool waiter_start(struct pith_test_ctx *ctx, struct waiter *w, pith_cap_t note,
                         uint64_t priority)
{
    w->note = note;
    w->started = w->done = 0;
    w->err = PITH_E_COUNT;
    w->bits = 0;
    w->info = ~0ull;
    if (!kt_thread_start(ctx, &w->t, waiter_body, (uint64_t)w, priority, 0))
        return false;
    if (!pith_expect(ctx, kt_wait_flag(&w->started, 20), "a waiter never ran"))
        return false;
    for (unsigned i = 0; i < 3; i++)
        pith_yield();
    return pith_expect_eq(ctx, w->done, 0, "a waiter returned before any signal");
}

static bool waiter_finish(struct pith_test_ctx *ctx, struct waiter *w)
{
    return pith_expect(ctx, kt_wait_flag(&w->done, 20), "a waiter was not woken");
}

/* ---- Cases -------------------------------------------------------------------------- */

static void signal_then_wait(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note)
        return;
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_signal(note), "unbadged signal");
    pith_expect_ok(ctx, pith_wait(note, &bits), "wait");
    pith_expect_eq(ctx, bits, 1, "bits of an unbadged signal");
    pith_cap_t b = badged(ctx, note, 0x5a00);
    if (b) {
        pith_expect_ok(ctx, pith_signal(b), "badged signal");
        pith_expect_ok(ctx, pith_wait(note, &bits), "wait");
        pith_expect_eq(ctx, bits, 0x5a00, "bits of a badged signal");
        /* Wait took everything. */
        pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "poll after wait");
        /* Recv on a notification is Wait; Send on it is Signal. */
        struct pith_msg m = { .info = pith_msginfo(3, 2, 0), .mr = { 1, 2 } };
        pith_expect_ok(ctx, pith_send(b, &m), "Send on a notification");
        pith_expect_ok(ctx, pith_recv(note, &m), "Recv on a notification");
        pith_expect_eq(ctx, m.badge, 0x5a00, "bits taken by Recv");
        pith_expect_eq(ctx, m.info, 0, "info of Recv on a notification");
        kt_delete(b);
    }
    kt_delete(note);
}

static void wait_then_signal(struct pith_test_ctx *ctx)
{
    static struct waiter w;
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t b = note ? badged(ctx, note, 0x80) : 0;
    if (!b || !waiter_start(ctx, &w, note, KT_ROOT_PRIORITY))
        return;
    pith_expect_ok(ctx, pith_signal(b), "signal");
    if (waiter_finish(ctx, &w)) {
        pith_expect_ok(ctx, w.err, "the waiter's Wait");
        pith_expect_eq(ctx, w.bits, 0x80, "bits the waiter got");
    }
    uint64_t bits;
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "the waiter took the bits");
    kt_thread_destroy(&w.t);
    kt_delete(b);
    kt_delete(note);
}

static void signal_wakes_higher_at_once(struct pith_test_ctx *ctx)
{
    static struct waiter w;
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note)
        return;
    w.use_recv = true;
    bool ok = waiter_start(ctx, &w, note, KT_ROOT_PRIORITY + 20);
    w.use_recv = false;
    if (!ok)
        return;
    pith_expect_ok(ctx, pith_signal(note), "signal");
    /* No yield: the higher waiter ran inside the signal call. */
    if (pith_expect_eq(ctx, w.done, 1, "the higher-priority waiter ran at once")) {
        pith_expect_ok(ctx, w.err, "its Recv");
        pith_expect_eq(ctx, w.bits, 1, "its bits");
        pith_expect_eq(ctx, w.info, 0, "its info word");
    }
    kt_thread_destroy(&w.t);
    kt_delete(note);
}

static void poll_empty(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note)
        return;
    uint64_t bits = 77;
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "poll a new notification");
    pith_expect_eq(ctx, bits, 0, "bits of a failed poll");
    struct pith_msg m;
    pith_expect_err(ctx, pith_nb_recv(note, &m), PITH_E_WOULD_BLOCK, "NBRecv on it");
    kt_delete(note);
}

static void poll_takes_bits(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t b = note ? badged(ctx, note, 0x1234) : 0;
    if (!b)
        return;
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_signal(b), "signal");
    pith_expect_ok(ctx, pith_poll(note, &bits), "poll");
    pith_expect_eq(ctx, bits, 0x1234, "bits polled");
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "poll again");
    pith_expect_ok(ctx, pith_signal(b), "signal again");
    struct pith_msg m;
    pith_expect_ok(ctx, pith_nb_recv(note, &m), "NBRecv");
    pith_expect_eq(ctx, m.badge, 0x1234, "bits taken by NBRecv");
    kt_delete(b);
    kt_delete(note);
}

static void badges_accumulate(struct pith_test_ctx *ctx)
{
    static const uint64_t badge[4] = { 0x1, 0x2, 0x40, 0x8000000000ull };
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note)
        return;
    pith_cap_t b[4] = { 0 };
    uint64_t all = 0;
    for (unsigned i = 0; i < 4; i++) {
        if (!(b[i] = badged(ctx, note, badge[i])))
            break;
        pith_expect_ok(ctx, pith_signal(b[i]), "signal");
        pith_expect_ok(ctx, pith_signal(b[i]), "the same badge twice");
        all |= badge[i];
    }
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_wait(note, &bits), "one wait");
    pith_expect_eq(ctx, bits, all, "accumulated bits");
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "nothing left");
    for (unsigned i = 0; i < 4; i++)
        kt_delete(b[i]);
    kt_delete(note);
}

static void two_waiters(struct pith_test_ctx *ctx)
{
    static struct waiter w[2];
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t b1 = note ? badged(ctx, note, 0x10) : 0;
    pith_cap_t b2 = note ? badged(ctx, note, 0x20) : 0;
    if (!b1 || !b2 || !waiter_start(ctx, &w[0], note, KT_ROOT_PRIORITY))
        return;
    if (waiter_start(ctx, &w[1], note, KT_ROOT_PRIORITY)) {
        pith_expect_ok(ctx, pith_signal(b1), "first signal");
        if (waiter_finish(ctx, &w[0])) {
            pith_expect_ok(ctx, w[0].err, "first waiter");
            pith_expect_eq(ctx, w[0].bits, 0x10, "first waiter's bits");
        }
        for (unsigned i = 0; i < 3; i++)
            pith_yield();
        pith_expect_eq(ctx, w[1].done, 0, "the second waiter woke on the first signal");
        pith_expect_ok(ctx, pith_signal(b2), "second signal");
        if (waiter_finish(ctx, &w[1])) {
            pith_expect_ok(ctx, w[1].err, "second waiter");
            pith_expect_eq(ctx, w[1].bits, 0x20, "second waiter's bits");
        }
        kt_thread_destroy(&w[1].t);
    }
    kt_thread_destroy(&w[0].t);
    kt_delete(b1);
    kt_delete(b2);
    kt_delete(note);
}

static void deadline_future(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t b = note ? badged(ctx, note, 0x4) : 0;
    if (!b)
        return;
    uint64_t start = pith_rdtsc(), deadline = start + tsc_ms(5);
    pith_expect_ok(ctx, pith_notification_set_deadline(note, deadline), "set a deadline");
    uint64_t bits = 0;
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "poll before the deadline");
    pith_expect_ok(ctx, pith_signal(b), "a signal before the deadline");
    pith_expect_ok(ctx, pith_wait(note, &bits), "wait");
    pith_expect_eq(ctx, bits, 0x4, "the signal comes alone");
    pith_expect_ok(ctx, pith_wait(note, &bits), "wait for the deadline");
    uint64_t now = pith_rdtsc();
    pith_expect_eq(ctx, bits, PITH_DEADLINE_BIT, "bits of a deadline");
    pith_expect(ctx, now >= deadline, "woken %llu ticks before the deadline",
                (unsigned long long)(deadline - now));
    pith_expect(ctx, now - start < tsc_ms(500), "a 5 ms deadline took %llu ms",
                (unsigned long long)((now - start) / tsc_ms(1)));
    kt_delete(b);
    kt_delete(note);
}

static void deadline_past(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note)
        return;
    static const uint64_t past[2] = { 1, 0 };
    for (unsigned i = 0; i < 2; i++) {
        uint64_t start = pith_rdtsc(), when = past[i] ? past[i] : start - tsc_ms(1);
        pith_expect_ok(ctx, pith_notification_set_deadline(note, when), "a deadline in the past");
        uint64_t bits = 0;
        pith_expect_ok(ctx, pith_wait(note, &bits), "wait");
        uint64_t took = pith_rdtsc() - start;
        pith_expect_eq(ctx, bits, PITH_DEADLINE_BIT, "bits");
        pith_expect(ctx, took < tsc_ms(200), "a past deadline took %llu us",
                    (unsigned long long)(took / (tsc_ms(1) / 1000)));
    }
    kt_delete(note);
}

static void deadline_cancel(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t timer = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note || !timer)
        return;
    uint64_t start = pith_rdtsc();
    pith_expect_ok(ctx, pith_notification_set_deadline(note, start + tsc_ms(2)), "arm");
    pith_expect_ok(ctx, pith_notification_set_deadline(note, 0), "cancel");
    pith_expect_ok(ctx, pith_notification_set_deadline(note, 0), "cancel again");
    pith_expect_ok(ctx, pith_notification_set_deadline(timer, start + tsc_ms(8)), "arm the other");
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_wait(timer, &bits), "wait for the other");
    pith_expect_eq(ctx, bits, PITH_DEADLINE_BIT, "the other's bits");
    pith_expect(ctx, pith_rdtsc() - start >= tsc_ms(8), "woken early");
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK,
                    "a cancelled deadline signalled");
    kt_delete(timer);
    kt_delete(note);
}

static void deadline_replaced_fires_once(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t timer = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note || !timer)
        return;
    uint64_t start = pith_rdtsc(), bits = 0;
    /* A far deadline replaced by a near one: only the near one counts. */
    pith_expect_ok(ctx, pith_notification_set_deadline(note, start + tsc_ms(2000)), "far");
    pith_expect_ok(ctx, pith_notification_set_deadline(note, start + tsc_ms(3)), "near");
    pith_expect_ok(ctx, pith_wait(note, &bits), "wait");
    uint64_t took = pith_rdtsc() - start;
    pith_expect_eq(ctx, bits, PITH_DEADLINE_BIT, "bits");
    pith_expect(ctx, took >= tsc_ms(3) && took < tsc_ms(500), "the near deadline took %llu ms",
                (unsigned long long)(took / tsc_ms(1)));
    /* A near deadline replaced by a later one fires at the later time. */
    start = pith_rdtsc();
    pith_expect_ok(ctx, pith_notification_set_deadline(note, start + tsc_ms(1)), "near");
    pith_expect_ok(ctx, pith_notification_set_deadline(note, start + tsc_ms(6)), "later");
    pith_expect_ok(ctx, pith_wait(note, &bits), "wait");
    pith_expect(ctx, pith_rdtsc() - start >= tsc_ms(6), "fired at the replaced time");
    /* It fired once: nothing more arrives while another deadline passes. */
    pith_expect_ok(ctx, pith_notification_set_deadline(timer, pith_rdtsc() + tsc_ms(8)), "timer");
    pith_expect_ok(ctx, pith_wait(timer, &bits), "wait for the timer");
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "a second firing");
    kt_delete(timer);
    kt_delete(note);
}

static void deadline_wakes_waiter_thread(struct pith_test_ctx *ctx)
{
    static struct waiter w;
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note || !waiter_start(ctx, &w, note, KT_ROOT_PRIORITY + 10))
        return;
    uint64_t deadline = pith_rdtsc() + tsc_ms(4);
    pith_expect_ok(ctx, pith_notification_set_deadline(note, deadline), "arm");
    /* The test spins; the higher waiter preempts it when the deadline passes. */
    while (!w.done && pith_rdtsc() < deadline + tsc_ms(300))
        pith_cpu_relax();
    if (pith_expect_eq(ctx, w.done, 1, "the waiter woke")) {
        pith_expect_ok(ctx, w.err, "its Wait");
        pith_expect_eq(ctx, w.bits, PITH_DEADLINE_BIT, "its bits");
    }
    kt_thread_destroy(&w.t);
    kt_delete(note);
}

static void deadline_of_deleted(struct pith_test_ctx *ctx)
{
    pith_cap_t a = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t b = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t timer = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!a || !b || !timer)
        return;
    uint64_t now = pith_rdtsc(), bits = 0;
    pith_expect_ok(ctx, pith_notification_set_deadline(a, now + tsc_ms(2)), "arm a");
    pith_expect_ok(ctx, pith_notification_set_deadline(b, now + tsc_ms(3)), "arm b");
    pith_expect_ok(ctx, pith_notification_set_deadline(timer, now + tsc_ms(5)), "arm the timer");
    kt_delete(a);           /* destroying a notification cancels its deadline */
    pith_expect_ok(ctx, pith_wait(timer, &bits), "wait for the timer");
    pith_expect_eq(ctx, bits, PITH_DEADLINE_BIT, "the timer's bits");
    pith_expect_ok(ctx, pith_poll(b, &bits), "b's deadline still fired");
    pith_expect_eq(ctx, bits, PITH_DEADLINE_BIT, "b's bits");
    kt_delete(b);
    kt_delete(timer);
}

static void bind_unbind(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t b = note ? badged(ctx, note, 0x600) : 0;
    if (!b || !ep)
        return;
    struct pith_msg m;
    pith_expect_ok(ctx, pith_thread_bind_notification(KT_SELF, note), "bind to the test");
    pith_expect_ok(ctx, pith_signal(b), "signal");
    pith_expect_ok(ctx, pith_nb_recv(ep, &m), "NBRecv on an endpoint with bits pending");
    pith_expect_eq(ctx, m.badge, 0x600, "bits as the badge");
    pith_expect(ctx, m.info & PITH_MSG_FROM_NOTIFICATION, "info %llx lacks the notification flag",
                (unsigned long long)m.info);
    pith_expect_err(ctx, pith_nb_recv(ep, &m), PITH_E_WOULD_BLOCK, "the bits were taken");
    pith_expect_ok(ctx, pith_thread_unbind_notification(KT_SELF), "unbind");
    pith_expect_err(ctx, pith_thread_unbind_notification(KT_SELF), PITH_E_INVALID_ARG,
                    "unbind again");
    pith_expect_ok(ctx, pith_signal(b), "signal after unbind");
    pith_expect_err(ctx, pith_nb_recv(ep, &m), PITH_E_WOULD_BLOCK, "NBRecv after unbind");
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_poll(note, &bits), "the bits stayed in the notification");
    pith_expect_eq(ctx, bits, 0x600, "bits");
    /* After unbinding, it can be bound again. */
    pith_expect_ok(ctx, pith_thread_bind_notification(KT_SELF, note), "bind again");
    pith_expect_ok(ctx, pith_thread_unbind_notification(KT_SELF), "unbind again");
    kt_delete(b);
    kt_delete(ep);
    kt_delete(note);
}

static void bind_busy(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    pith_cap_t n1 = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t n2 = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t wo = kt_slot();
    if (!n1 || !n2 || !kt_thread_create(ctx, &t, NULL, 0, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect_ok(ctx, pith_thread_bind_notification(t.tcb, n1), "bind n1 to a thread");
    pith_expect_err(ctx, pith_thread_bind_notification(KT_SELF, n1), PITH_E_BUSY,
                    "bind n1 to another thread");
    pith_expect_err(ctx, pith_thread_bind_notification(t.tcb, n1), PITH_E_BUSY,
                    "bind n1 to the same thread twice");
    pith_expect_err(ctx, pith_thread_bind_notification(t.tcb, n2), PITH_E_BUSY,
                    "bind a second notification to the thread");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, wo, KT_CNODE, n2, PITH_RIGHT_WRITE), "copy");
    pith_expect_err(ctx, pith_thread_bind_notification(KT_SELF, wo), PITH_E_RIGHTS,
                    "bind without READ");
    pith_expect_err(ctx, pith_thread_bind_notification(KT_SELF, t.tcb), PITH_E_INVALID_CAP,
                    "bind a thread capability");
    pith_expect_ok(ctx, pith_thread_unbind_notification(t.tcb), "unbind n1");
    pith_expect_ok(ctx, pith_thread_bind_notification(KT_SELF, n1), "bind n1 to the test now");
    pith_expect_ok(ctx, pith_thread_unbind_notification(KT_SELF), "unbind it from the test");
    /* Destroying a bound thread releases its notification. */
    pith_expect_ok(ctx, pith_thread_bind_notification(t.tcb, n2), "bind n2");
    kt_thread_destroy(&t);
    pith_expect_ok(ctx, pith_thread_bind_notification(KT_SELF, n2),
                   "bind n2 after its thread died");
    pith_expect_ok(ctx, pith_thread_unbind_notification(KT_SELF), "unbind n2");
    /* Destroying a bound notification releases its thread. */
    pith_expect_ok(ctx, pith_thread_bind_notification(KT_SELF, n1), "bind n1");
    kt_delete(n1);
    pith_expect_err(ctx, pith_thread_unbind_notification(KT_SELF), PITH_E_INVALID_ARG,
                    "unbind after the notification died");
    kt_delete(wo);
    kt_delete(n2);
}

static void rights(struct pith_test_ctx *ctx)
{
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t ro = kt_slot(), wo = kt_slot();
    if (!note)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro, KT_CNODE, note, PITH_RIGHT_READ),
                   "copy READ");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, wo, KT_CNODE, note, PITH_RIGHT_WRITE),
                   "copy WRITE");
    uint64_t bits = 0;
    pith_expect_err(ctx, pith_signal(ro), PITH_E_RIGHTS, "signal without WRITE");
    struct pith_msg m = { .info = pith_msginfo(0, 0, 0) };
    pith_expect_err(ctx, pith_send(ro, &m), PITH_E_RIGHTS, "Send without WRITE");
    pith_expect_err(ctx, pith_notification_set_deadline(ro, 1), PITH_E_RIGHTS,
                    "deadline without WRITE");
    pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK, "nothing was signalled");
    pith_expect_err(ctx, pith_wait(wo, &bits), PITH_E_RIGHTS, "wait without READ");
    pith_expect_err(ctx, pith_poll(wo, &bits), PITH_E_RIGHTS, "poll without READ");
    pith_expect_err(ctx, pith_recv(wo, &m), PITH_E_RIGHTS, "Recv without READ");
    pith_expect_ok(ctx, pith_signal(wo), "signal with WRITE");
    pith_expect_ok(ctx, pith_poll(ro, &bits), "poll with READ");
    pith_expect_eq(ctx, bits, 1, "bits");
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (ep) {
        pith_expect_err(ctx, pith_signal(ep), PITH_E_INVALID_CAP, "signal an endpoint");
        pith_expect_err(ctx, pith_wait(ep, &bits), PITH_E_INVALID_CAP, "wait on an endpoint");
        kt_delete(ep);
    }
    kt_delete(ro);
    kt_delete(wo);
    kt_delete(note);
}

static void delete_wakes_waiters(struct pith_test_ctx *ctx)
{
    static struct waiter w[2];
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note)
        return;
    unsigned n = 0;
    w[1].use_recv = true;
    for (; n < 2; n++)
        if (!waiter_start(ctx, &w[n], note, KT_ROOT_PRIORITY))
            break;
    w[1].use_recv = false;
    kt_delete(note);
    for (unsigned i = 0; i < n; i++) {
        if (waiter_finish(ctx, &w[i]))
            pith_expect_err(ctx, w[i].err, PITH_E_DELETED, "a waiter of a deleted notification");
        kt_thread_destroy(&w[i].t);
    }
}

/* ---- Many deadlines: no set or firing walks them all with the lock held ----------- */

#define MANY_DEADLINES 65535ull
#define TIMED_TRIES 5
static struct {
    volatile uint64_t done;
    enum pith_error err;
    uint64_t head, tail;                /* the fastest of TIMED_TRIES sets, in TSC ticks */
    uint64_t fired;                     /* of a sample, how many had PITH_DEADLINE_BIT */
} many;

static uint64_t timed_set(pith_cap_t n, uint64_t tsc)
{
    uint64_t t0 = pith_rdtsc();
    enum pith_error e = pith_notification_set_deadline(n, tsc);
    uint64_t t1 = pith_rdtsc();
    if (e)
        many.err = e;
    return t1 - t0;
}

/* In a CNode of its own: slot i (1..MANY_DEADLINES) is a notification. */
static void many_deadlines_body(uint64_t n)
{
    const uint64_t far = ~0ull >> 2;            /* never reached */
    for (uint64_t i = 1; i <= n && !many.err; i++)  /* each earlier than the last */
        many.err = pith_notification_set_deadline(i, far - i);
    many.head = many.tail = ~0ull;
    for (uint64_t k = 0; k < TIMED_TRIES && !many.err; k++) {
        uint64_t h = timed_set(n, far - n - 1 - k);         /* before all: the front */
        uint64_t t = timed_set(1, far + 1 + k);             /* after all: the back */
        many.head = h < many.head ? h : many.head;
        many.tail = t < many.tail ? t : many.tail;
    }
    /* all at one past instant: they fire in batches, each with its bit */
    uint64_t past = pith_rdtsc();
    for (uint64_t i = 1; i <= n && !many.err; i++)
        many.err = pith_notification_set_deadline(i, past);
    for (uint64_t i = 1; i <= n && !many.err; i += 1024) {
        uint64_t bits = 0;
        pith_wait(i, &bits);                    /* returns once its deadline fired */
        many.fired += (bits & PITH_DEADLINE_BIT) != 0;
    }
    many.done = 1;
    for (;;) { uint64_t b; pith_wait(1, &b); }
}

/* Yields until the flag is set or `seconds` of TSC went by: the worker's 130,000 calls
 * take long on a busy host, and a count of yields is no measure of time. */
static bool wait_flag_seconds(volatile uint64_t *flag, uint64_t seconds)
{
    uint64_t end = pith_rdtsc() + seconds * kt_bootinfo->tsc_hz;
    while (!*flag && pith_rdtsc() < end)
        pith_yield();
    return *flag != 0;
}

static void deadline_many_stay_cheap(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 22);
    pith_cap_t k = kt_new(ctx, PITH_OBJ_CNODE, 16);
    if (!ut || !k)
        return;
    for (uint64_t first = 1; first <= MANY_DEADLINES; first += 4096) {
        uint64_t count = MANY_DEADLINES - first + 1 < 4096 ? MANY_DEADLINES - first + 1 : 4096;
        if (!pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_NOTIFICATION, 0, k, first, count),
                            "retype notifications"))
            goto out;
    }
    struct kt_thread t;
    many.done = 0;
    many.err = PITH_OK;
    many.fired = 0;
    uint64_t started = pith_rdtsc();
    if (!kt_thread_create(ctx, &t, many_deadlines_body, MANY_DEADLINES, KT_ROOT_PRIORITY + 10, 0))
        goto out;
    if (pith_expect_ok(ctx, pith_thread_configure(t.tcb, k, KT_SPACE, (uint64_t)t.ipc, t.ipc_frame, 0),
                       "configure with the big CNode") &&
        pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume") &&
        pith_expect(ctx, wait_flag_seconds(&many.done, 60), "the worker did not finish in 60 s")) {
        pith_expect_ok(ctx, many.err, "set_deadline");
        pith_printf("ktest: %llu deadlines: a set at the front %llu ticks, at the back %llu; %llu ms in all\n",
                    MANY_DEADLINES, (unsigned long long)many.head, (unsigned long long)many.tail,
                    (unsigned long long)((pith_rdtsc() - started) / (kt_bootinfo->tsc_hz / 1000)));
        /* a sorted list made the back 20 to 30 times the front at this count */
        pith_expect(ctx, many.tail <= 4 * many.head + 2000,
                    "%llu deadlines: a set at the back took %llu ticks, at the front %llu",
                    MANY_DEADLINES, (unsigned long long)many.tail, (unsigned long long)many.head);
        pith_expect_eq(ctx, many.fired, (MANY_DEADLINES + 1023) / 1024, "sampled deadlines fired");
    }
    kt_thread_destroy(&t);
out:
    kt_delete(k);
    kt_delete(ut);
}

KT_TABLE(notification,
    { "notification_signal_then_wait", signal_then_wait },
    { "notification_wait_then_signal", wait_then_signal },
    { "notification_signal_wakes_higher_at_once", signal_wakes_higher_at_once },
    { "notification_poll_empty", poll_empty },
    { "notification_poll_takes_bits", poll_takes_bits },
    { "notification_badges_accumulate", badges_accumulate },
    { "notification_two_waiters", two_waiters },
    { "notification_deadline_future", deadline_future },
    { "notification_deadline_past", deadline_past },
    { "notification_deadline_cancel", deadline_cancel },
    { "notification_deadline_replaced_fires_once", deadline_replaced_fires_once },
    { "notification_deadline_wakes_waiter_thread", deadline_wakes_waiter_thread },
    { "notification_deadline_of_deleted", deadline_of_deleted },
    { "notification_deadline_many_stay_cheap", deadline_many_stay_cheap },
    { "notification_bind_unbind", bind_unbind },
    { "notification_bind_busy", bind_busy },
    { "notification_rights", rights },
    { "notification_delete_wakes_waiters", delete_wakes_waiters },
)
