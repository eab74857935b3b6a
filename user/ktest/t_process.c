/* Protection domains: a child made from a budget, isolated, and destroyed again.  The
 * child is this very program started with the argument "child" (ktest's main hands it
 * to child_main below). */
#include "ktest.h"
#include <pith/process.h>

#define CHILD_BUDGET_BITS 22

/* In the child: report what it was given over the endpoint in its first extra slot. */
int kt_child_main(const struct pith_bootinfo *bi)
{
    pith_cap_t reply_to = bi->extra_first_slot;
    uint64_t probe = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &probe);
    struct pith_msg msg = { .info = pith_msginfo(1, 4, 0) };
    msg.mr[0] = bi->untyped_count | bi->untyped[0].size_bits << 8;
    msg.mr[1] = err;                                        /* could it use its untyped? */
    struct pith_msg scratch = { .info = pith_msginfo(PITH_FRAME_ADDRESS, 0, 0) };
    msg.mr[2] = pith_call(bi->first_free_slot + 100, &scratch);     /* a slot it was not given */
    msg.mr[3] = bi->module_count;
    pith_send(reply_to, &msg);
    for (;;)
        pith_recv(reply_to, &scratch);      /* stay until the parent destroys us */
}

static bool start_child(struct pith_test_ctx *ctx, struct pith_child *child, pith_cap_t endpoint)
{
    *child = (struct pith_child){
        .name = "child", .image = (const void *)kt_bootinfo->modules[0].vaddr,
        .image_size = kt_bootinfo->modules[0].size, .budget_bits = CHILD_BUDGET_BITS,
        .cnode_bits = 10, .priority = 90, .modules = kt_bootinfo->modules, .module_count = 1,
        .extra_caps = &endpoint, .extra_count = 1, .cmdline = "child" };
    return pith_expect_ok(ctx, pith_child_start(child), "starting the child");
}

static void process_child_reports(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct pith_child child;
    if (!ep || !start_child(ctx, &child, ep))
        return;
    struct pith_msg msg;
    if (pith_expect_ok(ctx, pith_recv(ep, &msg), "the child's report")) {
        pith_expect_eq(ctx, msg.mr[0], 1 | (CHILD_BUDGET_BITS - 1) << 8, "one untyped, half the budget");
        pith_expect_eq(ctx, msg.mr[1], PITH_OK, "the child retypes from its own untyped");
        pith_expect_eq(ctx, msg.mr[2], PITH_E_INVALID_CAP, "a slot the child was not given");
        pith_expect_eq(ctx, msg.mr[3], 1, "the shared module");
    }
    pith_expect(ctx, child.kernel_objects_bytes > 0 && child.kernel_objects_bytes < (1u << (CHILD_BUDGET_BITS - 1)),
                "objects took %lu bytes", child.kernel_objects_bytes);
    pith_expect_ok(ctx, pith_child_destroy(&child), "destroying the child");
    kt_delete(ep);
}

static void process_destroy_returns_budget(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct pith_child child;
    if (!ep || !start_child(ctx, &child, ep))
        return;
    struct pith_msg msg;
    pith_recv(ep, &msg);
    pith_expect_ok(ctx, pith_child_destroy(&child), "destroying the child");
    pith_cap_t again = kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(child.budget, PITH_OBJ_UNTYPED, CHILD_BUDGET_BITS - 1,
                                            KT_CNODE, again, 1), "the budget is whole again");
    pith_expect_err(ctx, pith_thread_resume(child.thread), PITH_E_INVALID_CAP, "the child's thread is gone");
    pith_cnode_revoke(KT_CNODE, child.budget);
    kt_delete(ep);
}

static void process_bad_image_refused(struct pith_test_ctx *ctx)
{
    static const uint8_t junk[64] = { 'n', 'o', 't', ' ', 'e', 'l', 'f' };
    struct pith_child child = { .name = "junk", .image = junk, .image_size = sizeof(junk),
                                .budget_bits = 20, .cnode_bits = 8, .priority = 10 };
    pith_expect_err(ctx, pith_child_start(&child), PITH_E_INVALID_ARG, "an image that is not ELF");
    if (child.budget)
        pith_cnode_revoke(KT_CNODE, child.budget);
}

KT_TABLE(process,
    { "process_child_reports", process_child_reports },
    { "process_destroy_returns_budget", process_destroy_returns_budget },
    { "process_bad_image_refused", process_bad_image_refused },
)
