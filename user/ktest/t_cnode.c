/*
 * CNodes: copy, mint (badges and reduced rights), move, delete, revoke, the
 * derivation tree, slot ranges, read-only CNode capabilities, a second CNode as a
 * destination, and what deleting the last capability of an object does to threads
 * that wait on it.
 */
#include "ktest.h"

/* ---- Helpers --------------------------------------------------------------------- */

/* Is `cap` an endpoint this thread may send on?  With nobody receiving, NBSend says
 * PITH_E_WOULD_BLOCK for a live capability with WRITE, PITH_E_INVALID_CAP for an empty
 * slot and PITH_E_RIGHTS for one without WRITE; nothing is delivered. */
static enum pith_error ep_probe(pith_cap_t cap)
{
    struct pith_msg msg = { .info = pith_msginfo(0, 0, 0) };
    return pith_nb_send(cap, &msg);
}

/* A thread that sends one message (label, MR0) through `cap` and records the result. */
struct sender {
    pith_cap_t cap;
    uint64_t label, mr0;
    volatile uint64_t done, err;
};

static void sender_main(uint64_t arg)
{
    struct sender *s = (struct sender *)arg;
    struct pith_msg msg = { .info = pith_msginfo(s->label, 1, 0), .mr = { s->mr0 } };
    s->err = pith_send(s->cap, &msg);
    s->done = 1;
}

/* A thread that receives one message through `cap` and records what arrived. */
struct receiver {
    pith_cap_t cap;
    volatile uint64_t done, err, badge, label, mr0;
};

static void receiver_main(uint64_t arg)
{
    struct receiver *r = (struct receiver *)arg;
    struct pith_msg msg;
    r->err = pith_recv(r->cap, &msg);
    r->badge = msg.badge;
    r->label = pith_msginfo_label(msg.info);
    r->mr0 = msg.mr[0];
    r->done = 1;
}

/* A thread that answers one Call: the reply's MR0 is the request's MR0 plus one. */
static void server_main(uint64_t arg)
{
    struct receiver *r = (struct receiver *)arg;
    struct pith_msg msg;
    r->err = pith_recv(r->cap, &msg);
    r->badge = msg.badge;
    r->label = pith_msginfo_label(msg.info);
    r->mr0 = msg.mr[0];
    struct pith_msg reply = { .info = pith_msginfo(0, 1, 0), .mr = { msg.mr[0] + 1 } };
    pith_reply(&reply);
    r->done = 1;
}

/* Threads start above the test's priority: they run at once and block in their IPC. */
#define KT_HIGH (KT_ROOT_PRIORITY + 1)

/* Sends (label, mr0) through `via` from a helper thread and receives it on `ep`;
 * returns the badge the receiver saw, or ~0 after recording a failure. */
static uint64_t badge_through(struct pith_test_ctx *ctx, pith_cap_t via, pith_cap_t ep,
                              uint64_t mr0)
{
    struct sender s = { .cap = via, .label = 5, .mr0 = mr0 };
    struct kt_thread t = { 0 };
    uint64_t badge = ~0ull;
    if (kt_thread_start(ctx, &t, sender_main, (uint64_t)&s, KT_HIGH, 0)) {
        struct pith_msg msg;
        enum pith_error err = pith_nb_recv(ep, &msg);
        if (pith_expect_ok(ctx, err, "receiving what the helper sent") &&
            pith_expect_eq(ctx, msg.mr[0], mr0, "MR0 of the message") &&
            pith_expect_eq(ctx, pith_msginfo_label(msg.info), 5, "label of the message"))
            badge = msg.badge;
        kt_wait_flag(&s.done, 10);
        pith_expect_ok(ctx, (enum pith_error)s.err, "the helper's Send");
    }
    kt_thread_destroy(&t);
    return badge;
}

/* Is slot `slot` of `cnode` occupied?  Copying it out is refused with
 * PITH_E_INVALID_CAP exactly when it is empty. */
static bool slot_in_use(struct pith_test_ctx *ctx, pith_cap_t cnode, uint64_t slot)
{
    pith_cap_t probe = kt_slot();
    enum pith_error err = pith_cnode_copy(KT_CNODE, probe, cnode, slot, PITH_RIGHTS_ALL);
    pith_expect(ctx, err == PITH_OK || err == PITH_E_INVALID_CAP,
                "copying out of slot %lu: %s", (unsigned long)slot, pith_error_name(err));
    kt_delete(probe);
    return err == PITH_OK;
}

/* ---- Copy ------------------------------------------------------------------------ */

static void copy_endpoint(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), c = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy");
    pith_expect_err(ctx, ep_probe(c), PITH_E_WOULD_BLOCK, "the copy is a live endpoint");
    pith_expect_err(ctx, ep_probe(ep), PITH_E_WOULD_BLOCK, "the source stays");
    /* The copy names the same endpoint: a message sent through it arrives at the source. */
    pith_expect_eq(ctx, badge_through(ctx, c, ep, 0xc0ffee), 0, "badge of an unbadged copy");
    kt_delete(c);
    kt_delete(ep);
}

static void copy_reduces_rights(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t wo = kt_slot(), ro = kt_slot(), again = kt_slot();
    if (!ep)
        return;
    struct pith_msg msg;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, wo, KT_CNODE, ep, PITH_RIGHT_WRITE), "write-only copy");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro, KT_CNODE, ep, PITH_RIGHT_READ), "read-only copy");
    pith_expect_err(ctx, pith_nb_recv(wo, &msg), PITH_E_RIGHTS, "receiving without READ");
    pith_expect_err(ctx, ep_probe(wo), PITH_E_WOULD_BLOCK, "sending with WRITE");
    pith_expect_err(ctx, ep_probe(ro), PITH_E_RIGHTS, "sending without WRITE");
    pith_expect_err(ctx, pith_nb_recv(ro, &msg), PITH_E_WOULD_BLOCK, "receiving with READ");
    /* Copying the read-only capability with a full mask cannot bring WRITE back. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, again, KT_CNODE, ro, PITH_RIGHTS_ALL), "copy of the copy");
    pith_expect_err(ctx, ep_probe(again), PITH_E_RIGHTS, "rights never grow");
    kt_delete(again);
    kt_delete(ro);
    kt_delete(wo);
    kt_delete(ep);
}

static void copy_rights_mask(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), none = kt_slot(), w = kt_slot();
    if (!ep)
        return;
    struct pith_msg msg;
    /* Mask 0: a capability that names the endpoint but allows nothing. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, none, KT_CNODE, ep, 0), "copy with mask 0");
    pith_expect_err(ctx, ep_probe(none), PITH_E_RIGHTS, "sending through it");
    pith_expect_err(ctx, pith_nb_recv(none, &msg), PITH_E_RIGHTS, "receiving through it");
    /* Bits above the defined rights are ignored: only WRITE survives here. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, w, KT_CNODE, ep, 0xf0 | PITH_RIGHT_WRITE),
                   "copy with undefined mask bits");
    pith_expect_err(ctx, ep_probe(w), PITH_E_WOULD_BLOCK, "WRITE is kept");
    pith_expect_err(ctx, pith_nb_recv(w, &msg), PITH_E_RIGHTS, "READ is not");
    kt_delete(w);
    kt_delete(none);
    kt_delete(ep);
}

static void copy_untyped_refused(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12), pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), c = kt_slot();
    if (!ut || !pt || !ep)
        return;
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ut, PITH_RIGHTS_ALL),
                    PITH_E_ILLEGAL_OP, "copy of an untyped");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, c, KT_CNODE, ut, PITH_RIGHTS_ALL, 0),
                    PITH_E_ILLEGAL_OP, "mint of an untyped");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, pt, PITH_RIGHTS_ALL),
                    PITH_E_ILLEGAL_OP, "copy of a page table");
    /* The destination stayed empty and the untyped still works. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL),
                   "the slot is still free");
    pith_cap_t f = kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, f, 1),
                   "retype from the untyped");
    kt_delete(f);
    kt_delete(c);
    kt_delete(ep);
}

static void copy_to_occupied_slot(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    if (!ep || !f)
        return;
    uint64_t before = 0, after = 1;
    pith_frame_address(f, &before);
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, f, KT_CNODE, ep, PITH_RIGHTS_ALL),
                    PITH_E_SLOT_OCCUPIED, "copy onto a frame");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, f, KT_CNODE, ep, PITH_RIGHTS_ALL, 9),
                    PITH_E_SLOT_OCCUPIED, "mint onto a frame");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, f, KT_CNODE, ep), PITH_E_SLOT_OCCUPIED,
                    "move onto a frame");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, ep, KT_CNODE, ep), PITH_E_SLOT_OCCUPIED,
                    "move onto itself");
    pith_expect_ok(ctx, pith_frame_address(f, &after), "the frame is still there");
    pith_expect_eq(ctx, after, before, "the same frame");
    pith_expect_err(ctx, ep_probe(ep), PITH_E_WOULD_BLOCK, "the endpoint did not move");
    kt_delete(f);
    kt_delete(ep);
}

static void copy_of_mapped_frame(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), c = kt_slot();
    uint64_t va = kt_window(), va2 = kt_window();
    if (!f)
        return;
    pith_expect_ok(ctx, kt_map(f, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "map");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL), "copy");
    /* A copy of a mapped frame capability is not mapped itself. */
    pith_expect_err(ctx, pith_frame_unmap(c), PITH_E_NOT_MAPPED, "unmapping the copy");
    uint64_t pf = 0, pc = 1;
    pith_frame_address(f, &pf);
    pith_frame_address(c, &pc);
    pith_expect_eq(ctx, pc, pf, "the copy names the same frame");
    pith_expect_ok(ctx, kt_map(c, va2, PITH_RIGHT_READ), "the copy maps elsewhere");
    *(volatile uint64_t *)va = 0xfeed;
    pith_expect_eq(ctx, *(volatile uint64_t *)va2, 0xfeed, "through the second mapping");
    pith_frame_unmap(c);
    pith_frame_unmap(f);
    kt_delete(c);
    kt_delete(f);
}

/* ---- Mint ------------------------------------------------------------------------ */

static void mint_badge_delivered(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), m = kt_slot(), c = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, m, KT_CNODE, ep, PITH_RIGHTS_ALL, 0x5a5a), "mint");
    pith_expect_eq(ctx, badge_through(ctx, m, ep, 11), 0x5a5a, "badge through the minted cap");
    /* A copy of a badged capability keeps the badge. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, m, PITH_RIGHTS_ALL), "copy");
    pith_expect_eq(ctx, badge_through(ctx, c, ep, 12), 0x5a5a, "badge through its copy");
    /* The original stays unbadged. */
    pith_expect_eq(ctx, badge_through(ctx, ep, ep, 13), 0, "badge through the original");
    kt_delete(c);
    kt_delete(m);
    kt_delete(ep);
}

static void mint_badge_on_call(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), m = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, m, KT_CNODE, ep, PITH_RIGHT_WRITE, 0x77), "mint");
    struct receiver r = { .cap = ep };
    struct kt_thread t = { 0 };
    if (kt_thread_start(ctx, &t, server_main, (uint64_t)&r, KT_HIGH, 0)) {
        struct pith_msg msg = { .info = pith_msginfo(3, 1, 0), .mr = { 41 } };
        pith_expect_ok(ctx, pith_call(m, &msg), "Call through the minted capability");
        pith_expect_eq(ctx, msg.mr[0], 42, "the server's reply");
        kt_wait_flag(&r.done, 10);
        pith_expect_eq(ctx, r.badge, 0x77, "badge seen by the server");
        pith_expect_eq(ctx, r.label, 3, "label seen by the server");
    }
    kt_thread_destroy(&t);
    kt_delete(m);
    kt_delete(ep);
}

static void mint_fewer_rights(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), ro = kt_slot(), wo = kt_slot();
    if (!ep)
        return;
    struct pith_msg msg = { .info = pith_msginfo(0, 1, 0) };
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, ro, KT_CNODE, ep, PITH_RIGHT_READ, 1), "read-only mint");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, wo, KT_CNODE, ep, PITH_RIGHT_WRITE, 2), "write-only mint");
    pith_expect_err(ctx, pith_send(ro, &msg), PITH_E_RIGHTS, "Send without WRITE");
    msg = (struct pith_msg){ .info = pith_msginfo(0, 1, 0) };
    pith_expect_err(ctx, pith_call(ro, &msg), PITH_E_RIGHTS, "Call without WRITE");
    pith_expect_err(ctx, pith_nb_recv(ro, &msg), PITH_E_WOULD_BLOCK, "receiving with READ");
    pith_expect_err(ctx, pith_nb_recv(wo, &msg), PITH_E_RIGHTS, "receiving without READ");
    pith_expect_eq(ctx, badge_through(ctx, wo, ep, 7), 2, "the write-only mint sends");
    kt_delete(wo);
    kt_delete(ro);
    kt_delete(ep);
}

static void mint_rebadge_refused(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), m = kt_slot(), again = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, m, KT_CNODE, ep, PITH_RIGHTS_ALL, 1), "mint");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, again, KT_CNODE, m, PITH_RIGHTS_ALL, 2),
                    PITH_E_INVALID_ARG, "minting a new badge over a badged capability");
    pith_expect_err(ctx, ep_probe(again), PITH_E_INVALID_CAP, "no capability was made");
    pith_expect_eq(ctx, badge_through(ctx, m, ep, 3), 1, "the first badge is unchanged");
    kt_delete(m);
    kt_delete(ep);
}

static void mint_badge_zero_refused(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), z = kt_slot(), c = kt_slot(), b = kt_slot();
    if (!ep)
        return;
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, z, KT_CNODE, ep, PITH_RIGHTS_ALL, 0),
                    PITH_E_INVALID_ARG, "mint with badge 0");
    pith_expect_err(ctx, ep_probe(z), PITH_E_INVALID_CAP, "no capability was made");
    /* An unbadged copy (made by COPY) may still be minted: it carries no badge yet. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, b, KT_CNODE, c, PITH_RIGHTS_ALL, 0x99),
                   "mint from the unbadged copy");
    pith_expect_eq(ctx, badge_through(ctx, b, ep, 2), 0x99, "its badge");
    kt_delete(b);
    kt_delete(c);
    kt_delete(ep);
}

static void mint_unbadgeable_types(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t c = kt_slot(), nb = kt_slot();
    if (!f || !n)
        return;
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL, 5),
                    PITH_E_INVALID_CAP, "a badge on a frame");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, c, KT_CNODE, KT_SELF, PITH_RIGHTS_ALL, 5),
                    PITH_E_INVALID_CAP, "a badge on a thread");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, c, KT_CNODE, KT_CNODE, PITH_RIGHTS_ALL, 5),
                    PITH_E_INVALID_CAP, "a badge on a CNode");
    uint64_t pa = 0;
    pith_expect_err(ctx, pith_frame_address(c, &pa), PITH_E_INVALID_CAP, "nothing was made");
    /* Notifications take badges: signalling through the minted one ORs it in. */
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, nb, KT_CNODE, n, PITH_RIGHTS_ALL, 0x30),
                   "a badge on a notification");
    pith_expect_ok(ctx, pith_signal(nb), "signal");
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_poll(n, &bits), "poll");
    pith_expect_eq(ctx, bits, 0x30, "the badge arrived as the bits");
    kt_delete(nb);
    kt_delete(c);
    kt_delete(n);
    kt_delete(f);
}

/* ---- Move ------------------------------------------------------------------------ */

static void move_capability(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), m = kt_slot(), d = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, m, KT_CNODE, ep, PITH_RIGHT_WRITE, 0x33), "mint");
    pith_expect_ok(ctx, pith_cnode_move(KT_CNODE, d, KT_CNODE, m), "move");
    pith_expect_err(ctx, ep_probe(m), PITH_E_INVALID_CAP, "the source slot is empty");
    pith_expect_eq(ctx, badge_through(ctx, d, ep, 4), 0x33, "the moved capability keeps its badge");
    struct pith_msg msg;
    pith_expect_err(ctx, pith_nb_recv(d, &msg), PITH_E_RIGHTS, "and its rights");
    /* Moving back into the emptied slot works too. */
    pith_expect_ok(ctx, pith_cnode_move(KT_CNODE, m, KT_CNODE, d), "move back");
    pith_expect_err(ctx, ep_probe(d), PITH_E_INVALID_CAP, "the other slot is empty now");
    pith_expect_err(ctx, ep_probe(m), PITH_E_WOULD_BLOCK, "the capability is back");
    kt_delete(m);
    kt_delete(ep);
}

static void move_keeps_derivation(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), c = kt_slot(), d = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, pith_cnode_move(KT_CNODE, d, KT_CNODE, c), "move the copy");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoke the original");
    pith_expect_err(ctx, ep_probe(d), PITH_E_INVALID_CAP, "the moved child was revoked");
    pith_expect_err(ctx, ep_probe(ep), PITH_E_WOULD_BLOCK, "the original stays");
    kt_delete(ep);
}

/* ---- Delete and revoke ----------------------------------------------------------- */

static void delete_capability(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), c = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, c), "delete");
    pith_expect_err(ctx, ep_probe(c), PITH_E_INVALID_CAP, "the slot is empty");
    pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, c), PITH_E_INVALID_CAP, "deleting an empty slot");
    pith_expect_err(ctx, pith_cnode_revoke(KT_CNODE, c), PITH_E_INVALID_CAP, "revoking an empty slot");
    pith_expect_err(ctx, ep_probe(ep), PITH_E_WOULD_BLOCK, "the source is untouched");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL), "the slot is reusable");
    kt_delete(c);
    kt_delete(ep);
}

static void revoke_deletes_descendants(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t c1 = kt_slot(), c2 = kt_slot(), m1 = kt_slot(), m2 = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c1, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c2, KT_CNODE, c1, PITH_RIGHTS_ALL), "copy of the copy");
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, m1, KT_CNODE, ep, PITH_RIGHTS_ALL, 4), "mint");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, m2, KT_CNODE, m1, PITH_RIGHTS_ALL), "copy of the mint");
    /* A thread waits on the endpoint through the original: revoke must not destroy it. */
    struct receiver r = { .cap = ep };
    struct kt_thread t = { 0 };
    if (kt_thread_start(ctx, &t, receiver_main, (uint64_t)&r, KT_HIGH, 0)) {
        pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ep), "revoke");
        pith_expect_err(ctx, ep_probe(c1), PITH_E_INVALID_CAP, "the copy is gone");
        pith_expect_err(ctx, ep_probe(c2), PITH_E_INVALID_CAP, "the grandchild is gone");
        pith_expect_err(ctx, ep_probe(m1), PITH_E_INVALID_CAP, "the minted child is gone");
        pith_expect_err(ctx, ep_probe(m2), PITH_E_INVALID_CAP, "the copy of the mint is gone");
        pith_expect_eq(ctx, r.done, 0, "the waiting thread still waits");
        struct pith_msg msg = { .info = pith_msginfo(0, 1, 0), .mr = { 0x4242 } };
        pith_expect_ok(ctx, pith_nb_send(ep, &msg), "the original still sends");
        kt_wait_flag(&r.done, 10);
        pith_expect_ok(ctx, (enum pith_error)r.err, "the waiter received");
        pith_expect_eq(ctx, r.mr0, 0x4242, "what the waiter received");
    }
    kt_thread_destroy(&t);
    kt_delete(ep);
}

static void delete_original_keeps_copies(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), c = kt_slot(), cc = kt_slot();
    if (!ep)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy");
    struct receiver r = { .cap = c };
    struct kt_thread t = { 0 };
    if (kt_thread_start(ctx, &t, receiver_main, (uint64_t)&r, KT_HIGH, 0)) {
        pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, ep), "delete the original");
        pith_expect_err(ctx, ep_probe(ep), PITH_E_INVALID_CAP, "its slot is empty");
        pith_expect_eq(ctx, r.done, 0, "the endpoint lives on: the receiver still waits");
        pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, cc, KT_CNODE, c, PITH_RIGHTS_ALL),
                       "the copy can be copied");
        struct pith_msg msg = { .info = pith_msginfo(0, 1, 0), .mr = { 0x99 } };
        pith_expect_ok(ctx, pith_nb_send(cc, &msg), "sending through the copy's copy");
        kt_wait_flag(&r.done, 10);
        pith_expect_ok(ctx, (enum pith_error)r.err, "the receiver's Recv");
        pith_expect_eq(ctx, r.mr0, 0x99, "what arrived");
    }
    kt_thread_destroy(&t);
    /* The copies were re-attached to the tree: revoking the first removes the second. */
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, c), "revoke the surviving copy");
    pith_expect_err(ctx, ep_probe(cc), PITH_E_INVALID_CAP, "its child is gone");
    kt_delete(c);
    pith_alloc_free_slot(ep);
}

static void delete_last_wakes_waiters(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), ep2 = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep || !ep2)
        return;
    struct receiver r = { .cap = ep };
    struct sender s = { .cap = ep2, .mr0 = 1 };
    struct kt_thread tr = { 0 }, ts = { 0 };
    bool started = kt_thread_start(ctx, &tr, receiver_main, (uint64_t)&r, KT_HIGH, 0) &&
                   kt_thread_start(ctx, &ts, sender_main, (uint64_t)&s, KT_HIGH, 0);
    if (started) {
        pith_expect_eq(ctx, r.done + s.done, 0, "both threads block");
        pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, ep), "delete the receiver's endpoint");
        kt_wait_flag(&r.done, 10);
        pith_expect_eq(ctx, r.done, 1, "the receiver woke");
        pith_expect_err(ctx, (enum pith_error)r.err, PITH_E_DELETED, "the receiver's Recv");
        pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, ep2), "delete the sender's endpoint");
        kt_wait_flag(&s.done, 10);
        pith_expect_eq(ctx, s.done, 1, "the sender woke");
        pith_expect_err(ctx, (enum pith_error)s.err, PITH_E_DELETED, "the sender's Send");
    }
    kt_thread_destroy(&ts);
    kt_thread_destroy(&tr);
    pith_alloc_free_slot(ep);
    pith_alloc_free_slot(ep2);
}

/* ---- Slots, rights on the CNode, other CNodes ------------------------------------- */

static void slot_ranges(struct pith_test_ctx *ctx)
{
    uint64_t size = 1ull << kt_bootinfo->cnode_size_bits;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), d = kt_slot();
    if (!ep)
        return;
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, 0, KT_CNODE, ep, PITH_RIGHTS_ALL), PITH_E_RANGE,
                    "copy to slot 0");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, size, KT_CNODE, ep, PITH_RIGHTS_ALL),
                    PITH_E_RANGE, "copy to the slot after the last");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, 1ull << 40, KT_CNODE, ep, PITH_RIGHTS_ALL),
                    PITH_E_RANGE, "copy to slot 2^40");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, KT_CNODE, size, PITH_RIGHTS_ALL),
                    PITH_E_RANGE, "copy from the slot after the last");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, size, ep, PITH_RIGHTS_ALL), PITH_E_RANGE,
                    "source CNode outside the caller's space");
    pith_expect_err(ctx, pith_cnode_mint(KT_CNODE, 0, KT_CNODE, ep, PITH_RIGHTS_ALL, 1),
                    PITH_E_RANGE, "mint to slot 0");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, 0, KT_CNODE, ep), PITH_E_RANGE, "move to slot 0");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, size, KT_CNODE, ep), PITH_E_RANGE,
                    "move past the end");
    pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, 0), PITH_E_RANGE, "delete slot 0");
    pith_expect_err(ctx, pith_cnode_delete(KT_CNODE, size), PITH_E_RANGE, "delete past the end");
    pith_expect_err(ctx, pith_cnode_revoke(KT_CNODE, 0), PITH_E_RANGE, "revoke slot 0");
    pith_expect_err(ctx, pith_cnode_revoke(KT_CNODE, ~0ull), PITH_E_RANGE, "revoke slot 2^64-1");
    pith_expect_err(ctx, pith_cnode_copy(KT_CNODE, d, KT_CNODE, 0, PITH_RIGHTS_ALL), PITH_E_RANGE,
                    "copy from slot 0");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, d, KT_CNODE, 0), PITH_E_RANGE, "move from slot 0");
    pith_expect_err(ctx, pith_cnode_copy(0, d, KT_CNODE, ep, PITH_RIGHTS_ALL), PITH_E_INVALID_CAP,
                    "invoking slot 0");
    pith_expect_err(ctx, pith_cnode_copy(size, d, KT_CNODE, ep, PITH_RIGHTS_ALL), PITH_E_RANGE,
                    "invoking a slot past the end");
    pith_expect_err(ctx, ep_probe(d), PITH_E_INVALID_CAP, "nothing was copied anywhere");
    if (ep_probe(size - 1) == PITH_E_INVALID_CAP) {     /* the allocator has not got there */
        pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, size - 1, KT_CNODE, ep, PITH_RIGHTS_ALL),
                       "the last slot is usable");
        pith_expect_err(ctx, ep_probe(size - 1), PITH_E_WOULD_BLOCK, "the last slot holds the copy");
        pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, size - 1), "and empties again");
    }
    kt_delete(ep);
}

static void readonly_cnode(struct pith_test_ctx *ctx)
{
    pith_cap_t ro = kt_slot(), ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), d = kt_slot(), e = kt_slot();
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 12);
    if (!ep || !ut)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro, KT_CNODE, KT_CNODE,
                                        PITH_RIGHTS_ALL & ~PITH_RIGHT_WRITE),
                   "a copy of the root CNode without WRITE");
    pith_expect_err(ctx, pith_cnode_copy(ro, d, KT_CNODE, ep, PITH_RIGHTS_ALL), PITH_E_RIGHTS,
                    "copy into it");
    pith_expect_err(ctx, pith_cnode_mint(ro, d, KT_CNODE, ep, PITH_RIGHTS_ALL, 6), PITH_E_RIGHTS,
                    "mint into it");
    pith_expect_err(ctx, pith_cnode_move(ro, d, KT_CNODE, ep), PITH_E_RIGHTS, "move into it");
    pith_expect_err(ctx, pith_cnode_delete(ro, ep), PITH_E_RIGHTS, "delete through it");
    pith_expect_err(ctx, pith_cnode_revoke(ro, ep), PITH_E_RIGHTS, "revoke through it");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, ro, d, 1), PITH_E_RIGHTS,
                    "retype into it");
    pith_expect_err(ctx, ep_probe(d), PITH_E_INVALID_CAP, "nothing arrived");
    pith_expect_err(ctx, ep_probe(ep), PITH_E_WOULD_BLOCK, "nothing was deleted");
    /* As the source of a copy no right is needed; as the source of a move WRITE is. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, d, ro, ep, PITH_RIGHTS_ALL), "copy out of it");
    pith_expect_err(ctx, ep_probe(d), PITH_E_WOULD_BLOCK, "the copy works");
    pith_expect_err(ctx, pith_cnode_move(KT_CNODE, e, ro, d), PITH_E_RIGHTS, "move out of it");
    pith_expect_err(ctx, ep_probe(d), PITH_E_WOULD_BLOCK, "the capability did not move");
    kt_delete(d);
    kt_delete(ro);
    kt_delete(ep);
}

static void second_cnode(struct pith_test_ctx *ctx)
{
    pith_cap_t c2 = kt_new(ctx, PITH_OBJ_CNODE, 5);     /* 32 slots */
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 14);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), back = kt_slot(), back2 = kt_slot();
    if (!c2 || !ut || !ep)
        return;
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, c2, 3, 1), "retype into slot 3");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_NOTIFICATION, 0, c2, 4, 2),
                   "retype into slots 4 and 5");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, c2, 32, 1), PITH_E_RANGE,
                    "retype into slot 32");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, c2, 31, 2), PITH_E_RANGE,
                    "retype across the end");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, c2, 0, 1), PITH_E_RANGE,
                    "retype into slot 0");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, c2, 5, 1),
                    PITH_E_SLOT_OCCUPIED, "retype into an occupied slot");
    pith_expect_ok(ctx, pith_cnode_copy(c2, 31, KT_CNODE, ep, PITH_RIGHTS_ALL), "copy into slot 31");
    pith_expect_err(ctx, pith_cnode_copy(c2, 32, KT_CNODE, ep, PITH_RIGHTS_ALL), PITH_E_RANGE,
                    "copy into slot 32");
    pith_expect_err(ctx, pith_cnode_copy(c2, 31, KT_CNODE, ep, PITH_RIGHTS_ALL),
                    PITH_E_SLOT_OCCUPIED, "copy into slot 31 again");
    /* Copy both endpoints back into the root CNode and check what they are. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, back, c2, 3, PITH_RIGHTS_ALL), "copy slot 3 back");
    pith_expect_err(ctx, ep_probe(back), PITH_E_WOULD_BLOCK, "slot 3 holds an endpoint");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, back2, c2, 31, PITH_RIGHTS_ALL), "copy slot 31 back");
    pith_expect_eq(ctx, badge_through(ctx, back2, ep, 8), 0, "slot 31 names the root's endpoint");
    uint64_t bits;
    pith_cnode_delete(KT_CNODE, back);
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, back, c2, 4, PITH_RIGHTS_ALL), "copy slot 4 back");
    pith_expect_err(ctx, pith_poll(back, &bits), PITH_E_WOULD_BLOCK, "slot 4 holds a notification");
    pith_expect_ok(ctx, pith_cnode_delete(c2, 3), "delete inside the second CNode");
    pith_expect(ctx, !slot_in_use(ctx, c2, 3), "slot 3 is empty");
    pith_expect(ctx, slot_in_use(ctx, c2, 5), "slot 5 is not");
    pith_expect_ok(ctx, pith_cnode_move(c2, 3, c2, 5), "move within the second CNode");
    pith_expect(ctx, slot_in_use(ctx, c2, 3) && !slot_in_use(ctx, c2, 5), "the move happened");
    kt_delete(back);
    kt_delete(back2);
    kt_delete(ep);
}

static void revoke_untyped_other_cnode(struct pith_test_ctx *ctx)
{
    pith_cap_t c2 = kt_new(ctx, PITH_OBJ_CNODE, 4), ut = kt_new(ctx, PITH_OBJ_UNTYPED, 14);
    pith_cap_t r = kt_slot();
    if (!c2 || !ut)
        return;
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, c2, 1, 1), "endpoint in c2");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, c2, 2, 1), "frame in c2");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, r, c2, 1, PITH_RIGHTS_ALL), "a root copy of it");
    struct receiver rx = { .cap = r };
    struct kt_thread t = { 0 };
    if (kt_thread_start(ctx, &t, receiver_main, (uint64_t)&rx, KT_HIGH, 0)) {
        pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoke the untyped");
        pith_expect(ctx, !slot_in_use(ctx, c2, 1), "the endpoint in c2 is gone");
        pith_expect(ctx, !slot_in_use(ctx, c2, 2), "the frame in c2 is gone");
        pith_expect_err(ctx, ep_probe(r), PITH_E_INVALID_CAP, "the root copy is gone");
        kt_wait_flag(&rx.done, 10);
        pith_expect_err(ctx, (enum pith_error)rx.err, PITH_E_DELETED, "the waiter woke");
    }
    kt_thread_destroy(&t);
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, c2, 1, 4),
                   "the memory is free again");
    pith_alloc_free_slot(r);
}

static void delete_cnode_destroys_contents(struct pith_test_ctx *ctx)
{
    pith_cap_t c2 = kt_new(ctx, PITH_OBJ_CNODE, 4), ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!c2 || !ep)
        return;
    struct receiver rx = { .cap = ep };
    struct kt_thread t = { 0 };
    if (kt_thread_start(ctx, &t, receiver_main, (uint64_t)&rx, KT_HIGH, 0)) {
        /* The endpoint's only capability moves into c2; deleting c2 destroys it. */
        pith_expect_ok(ctx, pith_cnode_move(c2, 7, KT_CNODE, ep), "move the endpoint into c2");
        pith_expect_eq(ctx, rx.done, 0, "the waiter waits");
        pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, c2), "delete c2");
        kt_wait_flag(&rx.done, 10);
        pith_expect_err(ctx, (enum pith_error)rx.err, PITH_E_DELETED, "the waiter woke");
    }
    kt_thread_destroy(&t);
    pith_alloc_free_slot(c2);
    pith_alloc_free_slot(ep);
}

KT_TABLE(cnode,
    { "cnode_copy_endpoint", copy_endpoint },
    { "cnode_copy_reduces_rights", copy_reduces_rights },
    { "cnode_copy_rights_mask", copy_rights_mask },
    { "cnode_copy_untyped_refused", copy_untyped_refused },
    { "cnode_copy_to_occupied_slot", copy_to_occupied_slot },
    { "cnode_copy_of_mapped_frame", copy_of_mapped_frame },
    { "cnode_mint_badge_delivered", mint_badge_delivered },
    { "cnode_mint_badge_on_call", mint_badge_on_call },
    { "cnode_mint_fewer_rights", mint_fewer_rights },
    { "cnode_mint_rebadge_refused", mint_rebadge_refused },
    { "cnode_mint_badge_zero_refused", mint_badge_zero_refused },
    { "cnode_mint_unbadgeable_types", mint_unbadgeable_types },
    { "cnode_move", move_capability },
    { "cnode_move_keeps_derivation", move_keeps_derivation },
    { "cnode_delete", delete_capability },
    { "cnode_revoke_deletes_descendants", revoke_deletes_descendants },
    { "cnode_delete_original_keeps_copies", delete_original_keeps_copies },
    { "cnode_delete_last_wakes_waiters", delete_last_wakes_waiters },
    { "cnode_slot_ranges", slot_ranges },
    { "cnode_readonly_cnode", readonly_cnode },
    { "cnode_second_cnode", second_cnode },
    { "cnode_revoke_untyped_other_cnode", revoke_untyped_other_cnode },
    { "cnode_delete_cnode_destroys_contents", delete_cnode_destroys_contents },
)
