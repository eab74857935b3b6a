/* Protection domains: a child made from a budget, isolated, and destroyed again.  The
 * child is this very program started with the argument "child" (ktest's main hands it
 * to child_main below). */
#include "ktest.h"
#include <pith/process.h>

#define CHILD_MEMORY (3u << 20)      /* two pieces: 2 MiB and 1 MiB */
#define READ_MODULE 2               /* the parent asks the child to read its module */
#define ELF_MAGIC 0x464c457fu       /* "\177ELF" read as a little-endian word */

/* In the child: report what it was given over the endpoint in its first extra slot. */
int kt_child_main(const struct pith_bootinfo *bi)
{
    pith_cap_t reply_to = bi->extra_first_slot;
    uint64_t probe = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &probe);
    struct pith_msg msg = { .info = pith_msginfo(1, 4, 0) };
    msg.mr[0] = bi->untyped_count | bi->untyped[0].size_bits << 8 | bi->untyped[1].size_bits << 16;
    msg.mr[1] = err;                                        /* could it use its untyped? */
    struct pith_msg scratch = { .info = pith_msginfo(PITH_FRAME_ADDRESS, 0, 0) };
    msg.mr[2] = pith_call(bi->first_free_slot + 100, &scratch);     /* a slot it was not given */
    msg.mr[3] = bi->module_count | (bi->args_size << 8) |
                ((uint64_t)(bi->args_vaddr && pith_memcmp((const void *)bi->args_vaddr, "argument", 8) == 0) << 16) |
                (uint64_t)(bi->modules[0].first_slot == 0 && bi->modules[0].frame_count == 0) << 17 |
                (uint64_t)(bi->modules[0].vaddr >= PITH_CHILD_LOAD_MODULES) << 18;
    pith_send(reply_to, &msg);
    /* Stay until the parent destroys us; on label READ_MODULE, send back the first word
     * of the module (a fault if it is no longer mapped). */
    for (;;) {
        pith_recv(reply_to, &scratch);
        if (pith_msginfo_label(scratch.info) == READ_MODULE) {
            struct pith_msg word = { .info = pith_msginfo(READ_MODULE, 1, 0),
                                     .mr = { *(const volatile uint32_t *)bi->modules[0].vaddr } };
            pith_send(reply_to, &word);
        }
    }
}

static bool start_child(struct pith_test_ctx *ctx, struct pith_child *child, pith_cap_t endpoint)
{
    *child = (struct pith_child){
        .name = "child", .args = "argument block", .args_size = 15, .image = (const void *)kt_bootinfo->modules[0].vaddr,
        .image_size = kt_bootinfo->modules[0].size, .memory_bytes = CHILD_MEMORY,
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
        pith_expect_eq(ctx, msg.mr[0], 2 | 21 << 8 | 20 << 16, "two untyped pieces, 2 MiB and 1 MiB");
        pith_expect_eq(ctx, msg.mr[1], PITH_OK, "the child retypes from its own untyped");
        pith_expect_eq(ctx, msg.mr[2], PITH_E_INVALID_CAP, "a slot the child was not given");
        pith_expect_eq(ctx, msg.mr[3], 1 | 15 << 8 | 1 << 16 | 1 << 17,
                       "the shared module (mapped, no capability for it) and the argument block");
    }
    pith_expect(ctx, child.setup_bytes > 0 && child.setup_bytes < (1u << 20),
                "the child's own objects took %lu bytes", child.setup_bytes);
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
    pith_expect_ok(ctx, pith_untyped_retype(child.containers[0], PITH_OBJ_UNTYPED, 21, KT_CNODE, again, 1),
                   "its memory is whole again");
    pith_expect_err(ctx, pith_thread_resume(child.thread), PITH_E_INVALID_CAP, "the child's thread is gone");
    pith_cnode_revoke(KT_CNODE, child.containers[0]);
    kt_delete(ep);
}

/* A module the child needs only until it is loaded: mapped through the loader, gone
 * (a page fault) once the parent says it is loaded, and the loader empty again. */
static void process_loader_unmaps(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct pith_child child = {
        .name = "child", .image = (const void *)kt_bootinfo->modules[0].vaddr,
        .image_size = kt_bootinfo->modules[0].size, .memory_bytes = CHILD_MEMORY,
        .cnode_bits = 10, .priority = 90, .modules = kt_bootinfo->modules, .module_count = 1,
        .load_only = 1, .extra_caps = &ep, .extra_count = 1, .cmdline = "child", .fault_endpoint = ep };
    unsigned bits = pith_child_loader_bits(&child);
    pith_expect(ctx, bits >= 12 && bits < 20, "a loader of 2^%u bytes for a %lu-byte module", bits,
                kt_bootinfo->modules[0].size);
    child.loader = bits ? kt_new(ctx, PITH_OBJ_UNTYPED, bits) : 0;
    if (!ep || !child.loader || !pith_expect_ok(ctx, pith_child_start(&child), "starting the child"))
        return;
    struct pith_msg msg, ask = { .info = pith_msginfo(READ_MODULE, 0, 0) };
    if (pith_expect_ok(ctx, pith_recv(ep, &msg), "the child's report"))
        pith_expect_eq(ctx, msg.mr[3], 1 | 1 << 17 | 1 << 18,
                       "the module at PITH_CHILD_LOAD_MODULES, no capability for it");
    pith_expect(ctx, child.loader_bytes > 0 && child.loader_bytes <= (1ull << bits),
                "the mappings took %lu bytes of the loader", child.loader_bytes);
    pith_send(ep, &ask);
    if (pith_expect_ok(ctx, pith_recv(ep, &msg), "the child's word"))
        pith_expect_eq(ctx, msg.mr[0], ELF_MAGIC, "the child reads its module while loading");
    pith_expect_ok(ctx, pith_child_loaded(&child), "the child is loaded");
    pith_send(ep, &ask);
    if (pith_expect_ok(ctx, pith_recv(ep, &msg), "the child's fault")) {
        pith_expect_eq(ctx, pith_msginfo_label(msg.info), PITH_FAULT_PAGE, "reading the module faults now");
        pith_expect(ctx, msg.mr[1] >= PITH_CHILD_LOAD_MODULES && msg.mr[1] < PITH_CHILD_LOAD_MODULES + 4096,
                    "at the module's first word (0x%lx)", msg.mr[1]);
    }
    pith_cap_t again = kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(child.loader, PITH_OBJ_UNTYPED, bits, KT_CNODE, again, 1),
                   "the loader is empty again");
    kt_delete(again);
    pith_expect_ok(ctx, pith_child_destroy(&child), "destroying the child");
    kt_delete(child.loader);
    kt_delete(ep);
}

static void process_bad_image_refused(struct pith_test_ctx *ctx)
{
    static const uint8_t junk[64] = { 'n', 'o', 't', ' ', 'e', 'l', 'f' };
    struct pith_child child = { .name = "junk", .image = junk, .image_size = sizeof(junk),
                                .memory_bytes = 1u << 20, .cnode_bits = 8, .priority = 10 };
    pith_expect_err(ctx, pith_child_start(&child), PITH_E_INVALID_ARG, "an image that is not ELF");
    pith_child_destroy(&child);
}

KT_TABLE(process,
    { "process_child_reports", process_child_reports },
    { "process_destroy_returns_budget", process_destroy_returns_budget },
    { "process_bad_image_refused", process_bad_image_refused },
    { "process_loader_unmaps", process_loader_unmaps },
)
