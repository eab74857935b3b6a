/*
 * Endpoint IPC: Call/ReplyRecv with short and long messages, Send/Recv in both orders,
 * the polling variants, badges, queue order, lengths, labels, capability transfer,
 * rights, bound notifications, priorities and many round trips.
 */
#include "ktest.h"

/* The value a test puts in MR i of a message of `len` registers, and what the echo
 * server answers for it. */
static uint64_t pattern(uint64_t len, unsigned i)
{
    return (len << 48) ^ (0x9e3779b97f4a7c15ull * (i + 1));
}

static uint64_t transform(uint64_t v, unsigned i)
{
    return ~v + i;
}

static uint64_t get_mr(const struct pith_msg *m, const struct pith_ipc_buffer *ipc, unsigned i)
{
    return i < PITH_MSG_REGS_IN_CPU ? m->mr[i] : ipc->mr[i];
}

static void set_mr(struct pith_msg *m, struct pith_ipc_buffer *ipc, unsigned i, uint64_t v)
{
    if (i < PITH_MSG_REGS_IN_CPU)
        m->mr[i] = v;
    else
        ipc->mr[i] = v;
}

/* A message of `len` registers with the test pattern, MR4.. in the caller's buffer. */
static struct pith_msg make_msg(uint64_t label, unsigned len, unsigned caps)
{
    struct pith_msg m = { .info = pith_msginfo(label, len, caps) };
    struct pith_ipc_buffer *ipc = pith_ipc_buffer();
    for (unsigned i = 0; i < len && i < PITH_MSG_MAX; i++)
        set_mr(&m, ipc, i, pattern(len, i));
    return m;
}

/* ---- The echo server: answers every Call with label + 1 and each MR transformed --- */

static struct {
    pith_cap_t ep;
    volatile uint64_t served, last_badge;
    volatile enum pith_error first_err;
} g_echo;

static void echo_server(uint64_t arg)
{
    (void)arg;
    struct pith_ipc_buffer *ipc = pith_ipc_buffer();
    /* Starts with ReplyRecv although nobody called: the reply half is skipped. */
    struct pith_msg m = { .info = pith_msginfo(0, 0, 0) };
    g_echo.first_err = pith_reply_recv(g_echo.ep, &m);
    for (;;) {
        g_echo.last_badge = m.badge;
        unsigned len = (unsigned)pith_msginfo_length(m.info);
        for (unsigned i = 0; i < len; i++)
            set_mr(&m, ipc, i, transform(get_mr(&m, ipc, i), i));
        m.info = pith_msginfo(pith_msginfo_label(m.info) + 1, len, 0);
        g_echo.served++;
        pith_reply_recv(g_echo.ep, &m);
    }
}

static bool start_echo(struct pith_test_ctx *ctx, struct kt_thread *t, uint64_t priority)
{
    g_echo.served = 0;
    g_echo.last_badge = ~0ull;
    g_echo.first_err = PITH_E_COUNT;
    g_echo.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!g_echo.ep)
        return false;
    if (!kt_thread_start(ctx, t, echo_server, 0, priority, 0)) {
        kt_delete(g_echo.ep);
        return false;
    }
    return true;
}

static void stop_echo(struct kt_thread *t)
{
    kt_thread_destroy(t);
    kt_delete(g_echo.ep);
}

/* One Call of `len` registers to the echo server; checks every register of the reply. */
static bool echo_call(struct pith_test_ctx *ctx, pith_cap_t ep, uint64_t label, unsigned len)
{
    struct pith_ipc_buffer *ipc = pith_ipc_buffer();
    struct pith_msg m = make_msg(label, len, 0);
    enum pith_error err = pith_call(ep, &m);
    if (!pith_expect(ctx, err == PITH_OK, "call of %u registers: %s", len, pith_error_name(err)))
        return false;
    if (!pith_expect(ctx, pith_msginfo_label(m.info) == label + 1 &&
                          pith_msginfo_length(m.info) == len,
                     "reply to %u registers: label %llu length %llu", len,
                     (unsigned long long)pith_msginfo_label(m.info),
                     (unsigned long long)pith_msginfo_length(m.info)))
        return false;
    if (!pith_expect_eq(ctx, m.badge, 0, "badge of a reply"))
        return false;
    for (unsigned i = 0; i < len; i++) {
        uint64_t got = get_mr(&m, ipc, i), want = transform(pattern(len, i), i);
        if (!pith_expect(ctx, got == want, "length %u: MR%u is %llx, expected %llx", len, i,
                         (unsigned long long)got, (unsigned long long)want))
            return false;
    }
    return true;
}

static void call_short(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!start_echo(ctx, &t, KT_ROOT_PRIORITY))
        return;
    for (unsigned len = 0; len <= PITH_MSG_REGS_IN_CPU; len++)
        if (!echo_call(ctx, g_echo.ep, 100 + len, len))
            break;
    pith_expect_eq(ctx, g_echo.served, PITH_MSG_REGS_IN_CPU + 1, "calls served");
    pith_expect_ok(ctx, g_echo.first_err, "ReplyRecv with nobody to reply to");
    stop_echo(&t);
}

static void call_long(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!start_echo(ctx, &t, KT_ROOT_PRIORITY))
        return;
    for (unsigned len = PITH_MSG_REGS_IN_CPU + 1; len <= PITH_MSG_MAX; len++)
        if (!echo_call(ctx, g_echo.ep, len, len))
            break;
    pith_expect_eq(ctx, g_echo.served, PITH_MSG_MAX - PITH_MSG_REGS_IN_CPU, "calls served");
    stop_echo(&t);
}

static void call_lower_priority(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!start_echo(ctx, &t, KT_ROOT_PRIORITY - 50))
        return;
    static const unsigned lengths[] = { 0, 3, 4, 5, 17, 64, 2 };
    for (unsigned i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++)
        if (!echo_call(ctx, g_echo.ep, 9, lengths[i]))
            break;
    pith_expect_eq(ctx, g_echo.served, sizeof(lengths) / sizeof(lengths[0]), "calls served");
    stop_echo(&t);
}

static void call_higher_priority(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!start_echo(ctx, &t, KT_ROOT_PRIORITY + 50))
        return;
    for (unsigned len = 0; len <= 8; len++)
        if (!echo_call(ctx, g_echo.ep, 5, len))
            break;
    pith_expect_eq(ctx, g_echo.served, 9, "calls served");
    stop_echo(&t);
}

static void ping_pong(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!start_echo(ctx, &t, KT_ROOT_PRIORITY))
        return;
    for (uint64_t i = 0; i < 1000; i++) {
        struct pith_msg m = { .info = pith_msginfo(i, 2, 0), .mr = { i, i * i } };
        enum pith_error err = pith_call(g_echo.ep, &m);
        if (!pith_expect(ctx, err == PITH_OK && pith_msginfo_label(m.info) == i + 1 &&
                              m.mr[0] == transform(i, 0) && m.mr[1] == transform(i * i, 1),
                         "round trip %llu: %s label %llu mr0 %llx mr1 %llx",
                         (unsigned long long)i, pith_error_name(err),
                         (unsigned long long)pith_msginfo_label(m.info),
                         (unsigned long long)m.mr[0], (unsigned long long)m.mr[1]))
            break;
    }
    pith_expect_eq(ctx, g_echo.served, 1000, "calls served");
    stop_echo(&t);
}

static void label_passes(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!start_echo(ctx, &t, KT_ROOT_PRIORITY))
        return;
    static const uint64_t labels[] = { 0, 1, 0xabcdeull, (1ull << 52) - 2 };
    for (unsigned i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (!echo_call(ctx, g_echo.ep, labels[i], 1))      /* fast path */
            break;
        if (!echo_call(ctx, g_echo.ep, labels[i], 9))      /* through the IPC buffers */
            break;
    }
    stop_echo(&t);
}

/* ---- Peers: threads that do one Send, Call or Recv and record what happened -------- */

enum peer_op { PEER_RECV, PEER_SEND, PEER_CALL, PEER_NB_RECV };

struct peer {
    enum peer_op op;
    pith_cap_t ep;
    uint64_t info;                  /* what to send */
    uint64_t mr[PITH_MSG_MAX];
    pith_cap_t cap;                 /* caps[0] for a send */
    unsigned caps;                  /* caps field of the message sent */
    pith_cap_t receive_slot;
    volatile uint64_t started, done;
    enum pith_error err;
    struct pith_msg got;            /* what arrived (a Call's reply) */
    uint64_t got_mr[PITH_MSG_MAX];
    struct kt_thread t;
};

static void peer_body(uint64_t arg)
{
    struct peer *p = (struct peer *)arg;
    struct pith_ipc_buffer *ipc = pith_ipc_buffer();
    struct pith_msg m = { .info = p->info };
    for (unsigned i = 0; i < PITH_MSG_MAX; i++)
        set_mr(&m, ipc, i, p->mr[i]);
    ipc->caps[0] = p->cap;
    ipc->receive_slot = p->receive_slot;
    p->started = 1;
    switch (p->op) {
    case PEER_RECV:
        p->err = pith_recv(p->ep, &m);
        break;
    case PEER_NB_RECV:
        p->err = pith_nb_recv(p->ep, &m);
        break;
    case PEER_SEND:
        p->err = pith_send(p->ep, &m);
        break;
    case PEER_CALL:
        p->err = pith_call(p->ep, &m);
        break;
    }
    p->got = m;
    for (unsigned i = 0; i < PITH_MSG_MAX; i++)
        p->got_mr[i] = get_mr(&m, ipc, i);
    p->done = 1;
}

/* Start a peer and let it run until it blocks (it is at the test's priority). */
static bool peer_start(struct pith_test_ctx *ctx, struct peer *p, enum peer_op op, pith_cap_t ep,
                       uint64_t label, unsigned len)
{
    p->op = op;
    p->ep = ep;
    p->info = pith_msginfo(label, len, p->caps);
    for (unsigned i = 0; i < PITH_MSG_MAX; i++)
        p->mr[i] = i < len ? pattern(len, i) : 0;
    p->started = p->done = 0;
    p->err = PITH_E_COUNT;
    if (!kt_thread_start(ctx, &p->t, peer_body, (uint64_t)p, KT_ROOT_PRIORITY, 0))
        return false;
    if (!pith_expect(ctx, kt_wait_flag(&p->started, 20), "a peer never ran"))
        return false;
    for (unsigned i = 0; i < 3; i++)
        pith_yield();
    return true;
}

static bool peer_finish(struct pith_test_ctx *ctx, struct peer *p)
{
    return pith_expect(ctx, kt_wait_flag(&p->done, 20), "a peer did not finish");
}

static void peer_stop(struct peer *p)
{
    kt_thread_destroy(&p->t);
}

/* Every register of a received message of `len` registers carries the pattern. */
static bool check_pattern(struct pith_test_ctx *ctx, const struct pith_msg *m,
                          const uint64_t *mrs, unsigned sent_len, unsigned len)
{
    if (!pith_expect_eq(ctx, pith_msginfo_length(m->info), len, "delivered length"))
        return false;
    for (unsigned i = 0; i < len; i++) {
        uint64_t got = mrs ? mrs[i] : get_mr(m, pith_ipc_buffer(), i);
        if (!pith_expect(ctx, got == pattern(sent_len, i), "MR%u is %llx, expected %llx", i,
                         (unsigned long long)got, (unsigned long long)pattern(sent_len, i)))
            return false;
    }
    return true;
}

static void send_receiver_first(struct pith_test_ctx *ctx)
{
    static struct peer r;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !peer_start(ctx, &r, PEER_RECV, ep, 0, 0))
        return;
    pith_expect_eq(ctx, r.done, 0, "the receiver returned before anything was sent");
    struct pith_msg m = make_msg(77, 6, 0);
    pith_expect_ok(ctx, pith_send(ep, &m), "send to a waiting receiver");
    if (peer_finish(ctx, &r)) {
        pith_expect_ok(ctx, r.err, "the receiver's Recv");
        pith_expect_eq(ctx, pith_msginfo_label(r.got.info), 77, "label");
        pith_expect_eq(ctx, r.got.badge, 0, "badge of an unbadged endpoint");
        check_pattern(ctx, &r.got, r.got_mr, 6, 6);
    }
    peer_stop(&r);
    kt_delete(ep);
}

static void send_sender_first(struct pith_test_ctx *ctx)
{
    static struct peer s;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !peer_start(ctx, &s, PEER_SEND, ep, 78, 7))
        return;
    pith_expect_eq(ctx, s.done, 0, "the sender returned before anybody received");
    struct pith_msg m;
    if (pith_expect_ok(ctx, pith_recv(ep, &m), "receive from a waiting sender")) {
        pith_expect_eq(ctx, pith_msginfo_label(m.info), 78, "label");
        check_pattern(ctx, &m, NULL, 7, 7);
    }
    if (peer_finish(ctx, &s))
        pith_expect_ok(ctx, s.err, "the sender's Send");
    peer_stop(&s);
    kt_delete(ep);
}

static void nb_send(struct pith_test_ctx *ctx)
{
    static struct peer r;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep)
        return;
    struct pith_msg m = make_msg(1, 2, 0);
    pith_expect_err(ctx, pith_nb_send(ep, &m), PITH_E_WOULD_BLOCK, "NBSend without a receiver");
    pith_expect_err(ctx, pith_nb_recv(ep, &m), PITH_E_WOULD_BLOCK,
                    "NBRecv after an NBSend was dropped");
    if (!peer_start(ctx, &r, PEER_RECV, ep, 0, 0))
        return;
    m = make_msg(2, 5, 0);
    pith_expect_ok(ctx, pith_nb_send(ep, &m), "NBSend to a waiting receiver");
    if (peer_finish(ctx, &r)) {
        pith_expect_ok(ctx, r.err, "the receiver's Recv");
        pith_expect_eq(ctx, pith_msginfo_label(r.got.info), 2, "label");
        check_pattern(ctx, &r.got, r.got_mr, 5, 5);
    }
    peer_stop(&r);
    kt_delete(ep);
}

static void nb_recv(struct pith_test_ctx *ctx)
{
    static struct peer s;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep)
        return;
    struct pith_msg m;
    pith_expect_err(ctx, pith_nb_recv(ep, &m), PITH_E_WOULD_BLOCK, "NBRecv without a sender");
    pith_expect_eq(ctx, m.info, 0, "info after a failed NBRecv");
    if (!peer_start(ctx, &s, PEER_SEND, ep, 3, 3))
        return;
    if (pith_expect_ok(ctx, pith_nb_recv(ep, &m), "NBRecv from a waiting sender")) {
        pith_expect_eq(ctx, pith_msginfo_label(m.info), 3, "label");
        check_pattern(ctx, &m, NULL, 3, 3);
    }
    if (peer_finish(ctx, &s))
        pith_expect_ok(ctx, s.err, "the sender's Send");
    pith_expect_err(ctx, pith_nb_recv(ep, &m), PITH_E_WOULD_BLOCK, "NBRecv once more");
    peer_stop(&s);
    kt_delete(ep);
}

static void badges(struct pith_test_ctx *ctx)
{
    static struct peer s[3];
    static const uint64_t badge[3] = { 0x11, 0x2200, 0 };
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep)
        return;
    pith_cap_t cap[3] = { kt_slot(), kt_slot(), ep };
    for (unsigned i = 0; i < 2; i++)
        pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, cap[i], KT_CNODE, ep, PITH_RIGHT_WRITE,
                                            badge[i]), "mint a badged endpoint");
    unsigned started = 0;
    for (; started < 3; started++)
        if (!peer_start(ctx, &s[started], PEER_SEND, cap[started], 40 + started, 1))
            break;
    for (unsigned i = 0; i < started; i++) {
        struct pith_msg m;
        if (!pith_expect_ok(ctx, pith_recv(ep, &m), "receive"))
            break;
        pith_expect_eq(ctx, pith_msginfo_label(m.info), 40 + i, "label (sender order)");
        pith_expect_eq(ctx, m.badge, badge[i], "badge");
    }
    for (unsigned i = 0; i < started; i++)
        peer_stop(&s[i]);
    kt_delete(cap[0]);
    kt_delete(cap[1]);
    kt_delete(ep);
}

static void fifo_order(struct pith_test_ctx *ctx)
{
    static struct peer p[3];
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep)
        return;
    /* Three senders queue in order; Recv takes them in that order. */
    unsigned n = 0;
    for (; n < 3; n++)
        if (!peer_start(ctx, &p[n], PEER_SEND, ep, 10 + n, 1))
            break;
    for (unsigned i = 0; i < n; i++) {
        struct pith_msg m;
        if (pith_expect_ok(ctx, pith_recv(ep, &m), "receive"))
            pith_expect_eq(ctx, pith_msginfo_label(m.info), 10 + i, "sender in queue order");
    }
    for (unsigned i = 0; i < n; i++) {
        peer_finish(ctx, &p[i]);
        peer_stop(&p[i]);
    }
    /* Three receivers queue in order; each Send goes to the first still waiting. */
    for (n = 0; n < 3; n++)
        if (!peer_start(ctx, &p[n], PEER_RECV, ep, 0, 0))
            break;
    for (unsigned i = 0; i < n; i++) {
        struct pith_msg m = make_msg(20 + i, 1, 0);
        pith_expect_ok(ctx, pith_send(ep, &m), "send");
    }
    for (unsigned i = 0; i < n; i++) {
        if (peer_finish(ctx, &p[i]))
            pith_expect_eq(ctx, pith_msginfo_label(p[i].got.info), 20 + i,
                           "receiver in queue order");
        peer_stop(&p[i]);
    }
    kt_delete(ep);
}

static void length_above_64(struct pith_test_ctx *ctx)
{
    static struct peer r;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !peer_start(ctx, &r, PEER_RECV, ep, 0, 0))
        return;
    struct pith_msg m = make_msg(6, PITH_MSG_MAX, 0);
    m.info = pith_msginfo(6, 100, 0);       /* the field holds up to 127 */
    pith_expect_ok(ctx, pith_send(ep, &m), "send of 100 registers");
    if (peer_finish(ctx, &r)) {
        pith_expect_ok(ctx, r.err, "the receiver's Recv");
        check_pattern(ctx, &r.got, r.got_mr, PITH_MSG_MAX, PITH_MSG_MAX);
    }
    peer_stop(&r);
    kt_delete(ep);
}

static void nobuf_receiver(uint64_t arg)
{
    struct peer *p = (struct peer *)arg;    /* no IPC buffer: only registers */
    struct pith_msg m;
    p->started = 1;
    p->err = pith_recv(p->ep, &m);
    p->got = m;
    p->done = 1;
}

static void receiver_without_buffer(struct pith_test_ctx *ctx)
{
    static struct peer r;
    r = (struct peer){ .err = PITH_E_COUNT };
    r.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!r.ep || !kt_thread_create(ctx, &r.t, nobuf_receiver, (uint64_t)&r, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect_ok(ctx, pith_thread_configure(r.t.tcb, KT_CNODE, KT_SPACE, 0, 0, 0),
                   "configure without an IPC buffer");
    pith_expect_ok(ctx, pith_thread_resume(r.t.tcb), "resume");
    pith_expect(ctx, kt_wait_flag(&r.started, 20), "the receiver never ran");
    for (unsigned i = 0; i < 3; i++)
        pith_yield();
    struct pith_msg m = make_msg(12, 10, 0);
    pith_expect_ok(ctx, pith_send(r.ep, &m), "send 10 registers");
    if (peer_finish(ctx, &r)) {
        pith_expect_ok(ctx, r.err, "the receiver's Recv");
        pith_expect_eq(ctx, pith_msginfo_label(r.got.info), 12, "label");
        check_pattern(ctx, &r.got, r.got.mr, 10, PITH_MSG_REGS_IN_CPU);
    }
    peer_stop(&r);
    kt_delete(r.ep);
}

static void reply_without_caller(struct pith_test_ctx *ctx)
{
    static struct peer c;
    struct pith_msg m = { .info = pith_msginfo(1, 1, 0), .mr = { 1 } };
    pith_expect_err(ctx, pith_reply(&m), PITH_E_NO_REPLY, "reply before any call");
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !peer_start(ctx, &c, PEER_CALL, ep, 4, 2))
        return;
    pith_expect_ok(ctx, pith_recv(ep, &m), "receive the call");
    m = (struct pith_msg){ .info = pith_msginfo(0x321, 1, 0), .mr = { 0xabc } };
    pith_expect_ok(ctx, pith_reply(&m), "reply");
    pith_expect_err(ctx, pith_reply(&m), PITH_E_NO_REPLY, "a second reply");
    if (peer_finish(ctx, &c)) {
        pith_expect_ok(ctx, c.err, "the caller's Call");
        pith_expect_eq(ctx, pith_msginfo_label(c.got.info), 0x321, "reply label");
        pith_expect_eq(ctx, c.got.mr[0], 0xabc, "reply MR0");
    }
    peer_stop(&c);
    kt_delete(ep);
}

static void second_call_drops_first(struct pith_test_ctx *ctx)
{
    static struct peer c1, c2;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !peer_start(ctx, &c1, PEER_CALL, ep, 1, 1))
        return;
    struct pith_msg m;
    pith_expect_ok(ctx, pith_recv(ep, &m), "receive the first call");
    if (peer_start(ctx, &c2, PEER_CALL, ep, 2, 1)) {
        pith_expect_ok(ctx, pith_recv(ep, &m), "receive the second call");
        pith_expect_eq(ctx, pith_msginfo_label(m.info), 2, "label of the second call");
        if (peer_finish(ctx, &c1))
            pith_expect_err(ctx, c1.err, PITH_E_NO_REPLY, "the first caller's Call");
        m = (struct pith_msg){ .info = pith_msginfo(99, 0, 0) };
        pith_expect_ok(ctx, pith_reply(&m), "reply to the second caller");
        if (peer_finish(ctx, &c2)) {
            pith_expect_ok(ctx, c2.err, "the second caller's Call");
            pith_expect_eq(ctx, pith_msginfo_label(c2.got.info), 99, "reply label");
        }
        peer_stop(&c2);
    }
    peer_stop(&c1);
    kt_delete(ep);
}

static void endpoint_deleted(struct pith_test_ctx *ctx)
{
    static struct peer r[2], s;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t ep2 = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !ep2)
        return;
    unsigned n = 0;
    for (; n < 2; n++)
        if (!peer_start(ctx, &r[n], PEER_RECV, ep, 0, 0))
            break;
    bool sender = peer_start(ctx, &s, PEER_CALL, ep2, 1, 1);
    kt_delete(ep);
    kt_delete(ep2);
    for (unsigned i = 0; i < n; i++) {
        if (peer_finish(ctx, &r[i]))
            pith_expect_err(ctx, r[i].err, PITH_E_DELETED, "a receiver of a deleted endpoint");
        peer_stop(&r[i]);
    }
    if (sender) {
        if (peer_finish(ctx, &s))
            pith_expect_err(ctx, s.err, PITH_E_DELETED, "a caller of a deleted endpoint");
        peer_stop(&s);
    }
}

/* Send `cap` with a message over `via`; the test receives into a fresh slot. */
static bool transfer(struct pith_test_ctx *ctx, pith_cap_t ep, pith_cap_t via, pith_cap_t cap,
                     pith_cap_t receive_slot, struct pith_msg *got)
{
    static struct peer s;
    bool ok = false;
    struct pith_ipc_buffer *ipc = pith_ipc_buffer();
    s.cap = cap;
    s.caps = 1;
    s.receive_slot = 0;
    if (!peer_start(ctx, &s, PEER_SEND, via, 55, 1))
        return false;
    ipc->receive_slot = receive_slot;
    enum pith_error err = pith_recv(ep, got);
    ipc->receive_slot = 0;
    if (pith_expect_ok(ctx, err, "receive") && peer_finish(ctx, &s)) {
        pith_expect_ok(ctx, s.err, "the sender's Send");
        ok = pith_expect_eq(ctx, pith_msginfo_label(got->info), 55, "label");
    }
    peer_stop(&s);
    s.cap = 0;
    s.caps = 0;
    return ok;
}

static void cap_transfer_grant(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t slot = kt_slot();
    if (!ep || !note)
        return;
    struct pith_msg m;
    if (transfer(ctx, ep, ep, note, slot, &m)) {
        pith_expect(ctx, m.info & PITH_MSG_CAP_RECEIVED, "no capability arrived (info %llx)",
                    (unsigned long long)m.info);
        pith_expect_ok(ctx, pith_signal(slot), "signal through the received capability");
        uint64_t bits = 0;
        pith_expect_ok(ctx, pith_poll(note, &bits), "poll the original");
        pith_expect_eq(ctx, bits, 1, "bits signalled through the copy");
        /* The copy is a child of the sender's capability. */
        pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, note), "revoke the sender's capability");
        pith_expect_err(ctx, pith_signal(slot), PITH_E_INVALID_CAP,
                        "the received copy after revoke");
        pith_expect_ok(ctx, pith_signal(note), "the sender's own capability after revoke");
    }
    kt_delete(slot);
    kt_delete(note);
    kt_delete(ep);
}

static void cap_transfer_refused(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t other = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t nogrant = kt_slot(), slot = kt_slot();
    if (!ep || !note || !other)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, nogrant, KT_CNODE, ep,
                                        PITH_RIGHT_READ | PITH_RIGHT_WRITE), "copy without GRANT");
    struct pith_msg m;
    /* Without GRANT the message arrives, the capability does not. */
    if (transfer(ctx, ep, nogrant, note, slot, &m)) {
        pith_expect_eq(ctx, m.info & PITH_MSG_CAP_RECEIVED, 0, "capability-received bit");
        pith_expect_err(ctx, pith_signal(slot), PITH_E_INVALID_CAP, "the receive slot");
    }
    /* With GRANT but an occupied receive slot: the slot keeps what it had. */
    if (transfer(ctx, ep, ep, note, other, &m)) {
        pith_expect_eq(ctx, m.info & PITH_MSG_CAP_RECEIVED, 0, "bit with an occupied slot");
        uint64_t bits = 0;
        pith_expect_ok(ctx, pith_signal(other), "signal the occupant");
        pith_expect_ok(ctx, pith_poll(other, &bits), "poll the occupant");
        pith_expect_err(ctx, pith_poll(note, &bits), PITH_E_WOULD_BLOCK,
                        "the occupant is still the other notification");
    }
    /* Receive slot 0 refuses capabilities. */
    if (transfer(ctx, ep, ep, note, 0, &m))
        pith_expect_eq(ctx, m.info & PITH_MSG_CAP_RECEIVED, 0, "bit with receive slot 0");
    kt_delete(slot);
    kt_delete(nogrant);
    kt_delete(other);
    kt_delete(note);
    kt_delete(ep);
}

/* A thread whose capability to its own space may only read: the kernel puts nothing
 * there for it, neither a capability it receives nor a port range it is issued. */
struct read_only_space {
    pith_cap_t ep, receive_slot, io_slot;
    volatile uint64_t done;
    enum pith_error issue_err, recv_err;
    uint64_t info;
};

static void read_only_space_body(uint64_t arg)
{
    struct read_only_space *r = (struct read_only_space *)arg;
    r->issue_err = pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x80, 0x80, r->io_slot);
    struct pith_msg m = { 0 };
    pith_ipc_buffer()->receive_slot = r->receive_slot;
    r->recv_err = pith_recv(r->ep, &m);
    r->info = m.info;
    r->done = 1;
}

static void read_only_space(struct pith_test_ctx *ctx)
{
    static struct read_only_space r;
    static struct kt_thread t;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t space = kt_slot();
    r = (struct read_only_space){ .ep = ep, .receive_slot = kt_slot(), .io_slot = kt_slot() };
    if (!ep || !note || !kt_thread_create(ctx, &t, read_only_space_body, (uint64_t)&r, KT_ROOT_PRIORITY, 0))
        return;
    bool started =
        pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, space, KT_CNODE, KT_CNODE, PITH_RIGHT_READ),
                       "a read-only copy of the space") &&
        pith_expect_ok(ctx, pith_thread_configure(t.tcb, space, KT_SPACE, (uint64_t)t.ipc, t.ipc_frame, 0),
                       "the thread in the read-only space") &&
        pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resuming it");
    if (started) {
        struct pith_msg m = { .info = pith_msginfo(7, 0, 1) };
        pith_ipc_buffer()->caps[0] = note;
        pith_expect_ok(ctx, pith_send(ep, &m), "sending it a capability");
        pith_ipc_buffer()->caps[0] = 0;
        if (pith_expect(ctx, kt_wait_flag(&r.done, 20), "the thread did not receive")) {
            pith_expect_err(ctx, r.issue_err, PITH_E_RIGHTS, "a port range issued into a read-only space");
            pith_expect_ok(ctx, r.recv_err, "its receive");
            pith_expect_eq(ctx, pith_msginfo_label(r.info), 7, "the label");
            pith_expect_eq(ctx, r.info & PITH_MSG_CAP_RECEIVED, 0, "capability-received bit");
        }
        pith_expect_err(ctx, pith_signal(r.receive_slot), PITH_E_INVALID_CAP, "the receive slot");
        pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, r.io_slot), PITH_E_INVALID_CAP, "the port slot");
    }
    kt_thread_destroy(&t);
    kt_delete(r.receive_slot);
    kt_delete(r.io_slot);
    kt_delete(space);
    kt_delete(note);
    kt_delete(ep);
}

static void rights(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t wo = kt_slot(), ro = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, wo, KT_CNODE, ep,
                                        PITH_RIGHT_WRITE | PITH_RIGHT_GRANT), "copy without READ");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro, KT_CNODE, ep,
                                        PITH_RIGHT_READ | PITH_RIGHT_GRANT), "copy without WRITE");
    struct pith_msg m = make_msg(1, 1, 0);
    pith_expect_err(ctx, pith_recv(wo, &m), PITH_E_RIGHTS, "Recv without READ");
    pith_expect_err(ctx, pith_nb_recv(wo, &m), PITH_E_RIGHTS, "NBRecv without READ");
    m = make_msg(1, 1, 0);
    pith_expect_err(ctx, pith_send(ro, &m), PITH_E_RIGHTS, "Send without WRITE");
    pith_expect_err(ctx, pith_nb_send(ro, &m), PITH_E_RIGHTS, "NBSend without WRITE");
    m = make_msg(1, 1, 0);
    pith_expect_err(ctx, pith_call(ro, &m), PITH_E_RIGHTS, "Call without WRITE");
    m = make_msg(1, 6, 0);
    pith_expect_err(ctx, pith_call(ro, &m), PITH_E_RIGHTS, "long Call without WRITE");
    m = make_msg(1, 1, 0);
    pith_expect_err(ctx, pith_reply_recv(wo, &m), PITH_E_RIGHTS, "ReplyRecv without READ");
    kt_delete(wo);
    kt_delete(ro);
    kt_delete(ep);
}

static struct {
    pith_cap_t ep, go;
    volatile uint64_t stage;
    enum pith_error err[2];
    struct pith_msg got[2];
} g_bound;

static void bound_receiver(uint64_t arg)
{
    (void)arg;
    struct pith_msg m;
    g_bound.stage = 1;
    g_bound.err[0] = pith_recv(g_bound.ep, &m);       /* blocks; a signal wakes it */
    g_bound.got[0] = m;
    g_bound.stage = 2;
    pith_wait(g_bound.go, NULL);                      /* bits pile up meanwhile */
    g_bound.err[1] = pith_nb_recv(g_bound.ep, &m);
    g_bound.got[1] = m;
    g_bound.stage = 3;
}

static void bound_notification(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    g_bound.stage = 0;
    g_bound.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    g_bound.go = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t b1 = kt_slot(), b2 = kt_slot();
    if (!g_bound.ep || !g_bound.go || !note)
        return;
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, b1, KT_CNODE, note, PITH_RIGHT_WRITE, 0x40),
                   "mint");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, b2, KT_CNODE, note, PITH_RIGHT_WRITE, 0x300),
                   "mint");
    if (!kt_thread_create(ctx, &t, bound_receiver, 0, KT_ROOT_PRIORITY, 0))
        return;
    pith_expect_ok(ctx, pith_thread_bind_notification(t.tcb, note), "bind");
    pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resume");
    pith_expect(ctx, kt_wait_flag(&g_bound.stage, 20), "the receiver never ran");
    for (unsigned i = 0; i < 3; i++)
        pith_yield();
    pith_expect_eq(ctx, g_bound.stage, 1, "stage while waiting on the endpoint");
    pith_expect_ok(ctx, pith_signal(b1), "signal the bound notification");
    for (unsigned i = 0; i < 10 && g_bound.stage < 2; i++)
        pith_yield();
    if (pith_expect_eq(ctx, g_bound.stage, 2, "stage after the signal")) {
        pith_expect_ok(ctx, g_bound.err[0], "Recv woken by the notification");
        pith_expect_eq(ctx, g_bound.got[0].badge, 0x40, "bits delivered as the badge");
        pith_expect(ctx, g_bound.got[0].info & PITH_MSG_FROM_NOTIFICATION,
                    "info %llx lacks PITH_MSG_FROM_NOTIFICATION",
                    (unsigned long long)g_bound.got[0].info);
    }
    /* Now it waits on another notification: the bound one's bits accumulate, and
     * they win over a waiting sender. */
    pith_expect_ok(ctx, pith_signal(b1), "signal again");
    pith_expect_ok(ctx, pith_signal(b2), "signal with another badge");
    static struct peer s;
    bool sender = peer_start(ctx, &s, PEER_SEND, g_bound.ep, 8, 1);
    pith_expect_ok(ctx, pith_signal(g_bound.go), "let the receiver go on");
    for (unsigned i = 0; i < 10 && g_bound.stage < 3; i++)
        pith_yield();
    if (pith_expect_eq(ctx, g_bound.stage, 3, "stage after NBRecv")) {
        pith_expect_ok(ctx, g_bound.err[1], "NBRecv with pending bits");
        pith_expect_eq(ctx, g_bound.got[1].badge, 0x340, "accumulated bits");
        pith_expect(ctx, g_bound.got[1].info & PITH_MSG_FROM_NOTIFICATION,
                    "second delivery lacks PITH_MSG_FROM_NOTIFICATION");
    }
    if (sender) {
        struct pith_msg m;
        pith_expect_ok(ctx, pith_nb_recv(g_bound.ep, &m), "the sender still waits");
        pith_expect_eq(ctx, pith_msginfo_label(m.info), 8, "its label");
        peer_finish(ctx, &s);
        peer_stop(&s);
    }
    kt_thread_destroy(&t);
    kt_delete(b1);
    kt_delete(b2);
    kt_delete(note);
    kt_delete(g_bound.go);
    kt_delete(g_bound.ep);
}

KT_TABLE(ipc,
    { "ipc_call_short", call_short },
    { "ipc_call_long", call_long },
    { "ipc_call_lower_priority", call_lower_priority },
    { "ipc_call_higher_priority", call_higher_priority },
    { "ipc_ping_pong_1000", ping_pong },
    { "ipc_label_passes", label_passes },
    { "ipc_send_receiver_first", send_receiver_first },
    { "ipc_send_sender_first", send_sender_first },
    { "ipc_nb_send", nb_send },
    { "ipc_nb_recv", nb_recv },
    { "ipc_badges", badges },
    { "ipc_fifo_order", fifo_order },
    { "ipc_length_above_64", length_above_64 },
    { "ipc_receiver_without_buffer", receiver_without_buffer },
    { "ipc_reply_without_caller", reply_without_caller },
    { "ipc_second_call_drops_first", second_call_drops_first },
    { "ipc_endpoint_deleted", endpoint_deleted },
    { "ipc_cap_transfer_grant", cap_transfer_grant },
    { "ipc_cap_transfer_refused", cap_transfer_refused },
    { "ipc_read_only_space_gets_nothing", read_only_space },
    { "ipc_rights", rights },
    { "ipc_bound_notification", bound_notification },
)
