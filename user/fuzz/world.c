/*
 * The stream's world.  Everything the random stream may touch is made from one
 * untyped (`world_untyped`) at the start of a batch, so revoking that untyped takes
 * the whole previous world away, whatever the stream did to it.  The worker thread
 * runs fuzzer code in the root address space, but its capability space is the
 * stream's CNode: the stream cannot name the fuzzer's own capabilities.
 */
#include "fuzz.h"

#define WORLD_UNTYPED_BITS 25       /* 32 MiB: CNode, pools, helpers, tables */
#define POOL_BITS 22
#define POOL_SMALL_BITS 16
#define WORKER_STACK_PAGES 16

pith_cap_t world_worker;
struct pith_ipc_buffer *world_worker_ipc;
pith_cap_t world_stream_cnode;
pith_cap_t world_fault_endpoint;
bool world_has_device;

static pith_cap_t world_untyped;
static pith_cap_t worker_ipc_frame;
static uint64_t *worker_stack;
static pith_cap_t device_untyped;
static pith_cap_t helper_space;
static pith_cap_t code_frame;           /* the helpers' code, written once */
static pith_cap_t code_views[2];        /* its mappings in the helper space */
static pith_cap_t scratch[HELPER_COUNT + ENDPOINT_COUNT + FRAME_COUNT + 8];

/* A device untyped that lies in the legacy VGA window (0xa0000..0xbffff): writes
 * there reach nothing that matters, unlike the PCI window (device registers, DMA). */
static void find_device_untyped(void)
{
    const struct pith_bootinfo *bi = kt_bootinfo;
    for (unsigned i = 0; i < bi->untyped_count; i++) {
        const struct pith_untyped_desc *u = &bi->untyped[i];
        uint64_t end = u->phys + (1ull << u->size_bits);
        if (u->is_device && u->phys >= 0xa0000 && end <= 0xc0000 && u->size_bits >= 12) {
            device_untyped = bi->untyped_first_slot + i;
            world_has_device = true;
            return;
        }
    }
}

bool world_init(void)
{
    uint64_t slot = 0;
    if (pith_alloc_object(PITH_OBJ_UNTYPED, WORLD_UNTYPED_BITS, &slot) != PITH_OK)
        return false;
    world_untyped = slot;
    if (pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &worker_ipc_frame) != PITH_OK ||
        pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &code_frame) != PITH_OK ||
        pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &world_fault_endpoint) != PITH_OK)
        return false;
    uint64_t ipc = kt_window(), code = kt_window();
    pith_cap_t code_view = kt_slot();
    if (kt_map(worker_ipc_frame, ipc, PITH_RIGHT_READ | PITH_RIGHT_WRITE) != PITH_OK ||
        pith_cnode_copy(KT_CNODE, code_view, KT_CNODE, code_frame, PITH_RIGHTS_ALL) != PITH_OK ||
        kt_map(code_view, code, PITH_RIGHT_READ | PITH_RIGHT_WRITE) != PITH_OK)
        return false;
    world_worker_ipc = (struct pith_ipc_buffer *)ipc;
    /* The helper loop at the start of the page, a SYSCALL in its last two bytes. */
    uint8_t *page = (uint8_t *)code;
    memcpy(page, helper_code, (size_t)(helper_code_end - helper_code));
    page[4094] = 0x0f, page[4095] = 0x05;
    worker_stack = pith_alloc_pages(WORKER_STACK_PAGES);
    world_stream_cnode = kt_slot();
    world_worker = kt_slot();
    helper_space = kt_slot();
    code_views[0] = kt_slot();
    code_views[1] = kt_slot();
    for (unsigned i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
        scratch[i] = kt_slot();
    find_device_untyped();
    return worker_stack && scratch[sizeof(scratch) / sizeof(scratch[0]) - 1];
}

/* ---- Building one batch's world ------------------------------------------------------ */

struct build {
    char *why;
    size_t why_size;
    bool ok;
};

static bool check(struct build *b, enum pith_error err, const char *what)
{
    if (err != PITH_OK && b->ok) {
        pith_snprintf(b->why, b->why_size, "world set-up: %s: %s", what, pith_error_name(err));
        b->ok = false;
    }
    return b->ok;
}

static enum pith_error retype(enum pith_object_type type, uint64_t bits, pith_cap_t cnode, uint64_t slot)
{
    return pith_untyped_retype(world_untyped, type, bits, cnode, slot, 1);
}

/* Give a capability from the root CNode to the stream's CNode. */
static enum pith_error give(pith_cap_t root_slot, uint64_t stream_slot)
{
    return pith_cnode_move(world_stream_cnode, stream_slot, KT_CNODE, root_slot);
}

static void map_tables(struct build *b, uint64_t vaddr, pith_cap_t *tmp, unsigned first)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    for (unsigned i = 0; i < 3 && b->ok; i++) {
        check(b, retype(levels[i], 0, KT_CNODE, *tmp), "retyping a helper page table");
        check(b, pith_table_map(*tmp, helper_space, vaddr), "mapping a helper page table");
        /* The table stays with the space; its capability is dropped. */
        if (b->ok)
            check(b, give(*tmp, SS_TABLE0 + first + i), "handing over a table");
    }
}

static void build_helper_space(struct build *b, pith_cap_t *tmp)
{
    check(b, retype(PITH_OBJ_ADDRESS_SPACE, 0, KT_CNODE, helper_space), "retyping the helper space");
    map_tables(b, HELPER_CODE, tmp, 0);
    map_tables(b, HELPER_TOP_PAGE, tmp, 3);
    for (unsigned i = 0; i < 2 && b->ok; i++) {
        check(b, pith_cnode_copy(KT_CNODE, code_views[i], KT_CNODE, code_frame,
                                 PITH_RIGHT_READ | PITH_RIGHT_EXECUTE), "copying the helper code");
        check(b, pith_frame_map(code_views[i], helper_space, i ? HELPER_TOP_PAGE : HELPER_CODE,
                                PITH_RIGHT_READ | PITH_RIGHT_EXECUTE, 0), "mapping the helper code");
    }
    if (b->ok)
        check(b, pith_cnode_copy(world_stream_cnode, SS_HELPER_SPACE, KT_CNODE, helper_space,
                                 PITH_RIGHTS_ALL), "giving the helper space");
}

/* A helper: its IPC buffer frame, its registers, a priority; started, then handed over. */
static void build_helper(struct build *b, struct rng *r, unsigned i, pith_cap_t fault_ep, bool edge)
{
    pith_cap_t tcb = scratch[i], frame = scratch[HELPER_COUNT + ENDPOINT_COUNT + i];
    uint64_t ipc = HELPER_IPC + i * 0x1000ull;
    check(b, retype(PITH_OBJ_THREAD, 0, KT_CNODE, tcb), "retyping a helper");
    check(b, retype(PITH_OBJ_FRAME_4K, 0, KT_CNODE, frame), "retyping a helper IPC buffer");
    if (!b->ok)
        return;
    check(b, pith_frame_map(frame, helper_space, ipc, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0),
          "mapping a helper IPC buffer");
    check(b, pith_thread_configure(tcb, world_stream_cnode, helper_space, ipc, frame, fault_ep),
          "configuring a helper");
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = edge ? PITH_USER_TOP - 2 : HELPER_CODE + HELPER_ENTRY;
    regs[PITH_REG_RFLAGS] = 0x202;
    regs[PITH_REG_RAX] = PITH_SYS_YIELD;
    regs[PITH_REG_RDI] = rng_next(r);
    if (b->ok)
        check(b, pith_thread_write_registers(tcb, regs, PITH_REG_RDI + 1), "helper registers");
    if (b->ok)
        check(b, pith_thread_set_priority(tcb, WORKER_PRIORITY - 1 - rng_below(r, 10)),
              "helper priority");
    if (b->ok)
        check(b, pith_thread_resume(tcb), "starting a helper");
    if (b->ok)
        check(b, give(tcb, SS_HELPER0 + i), "handing over a helper");
    if (b->ok)
        check(b, give(frame, SS_FRAME0 + i), "handing over an IPC buffer");
}

static void build_worker(struct build *b, struct rng *r)
{
    check(b, retype(PITH_OBJ_THREAD, 0, KT_CNODE, world_worker), "retyping the worker");
    check(b, pith_thread_configure(world_worker, world_stream_cnode, KT_SPACE, (uint64_t)world_worker_ipc,
                                   worker_ipc_frame, world_fault_endpoint), "configuring the worker");
    memset(world_worker_ipc, 0, sizeof(*world_worker_ipc));
    world_worker_ipc->user[0] = (uint64_t)world_worker_ipc;
    uint64_t *top = worker_stack + WORKER_STACK_PAGES * 512;
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)stream_worker;
    regs[PITH_REG_RSP] = (uint64_t)&top[-1];        /* as right after a call */
    regs[PITH_REG_RFLAGS] = 0x202;
    regs[PITH_REG_RDI] = rng_next(r);
    if (b->ok)
        check(b, pith_thread_write_registers(world_worker, regs, PITH_REG_RDI + 1), "worker registers");
    if (b->ok)
        check(b, pith_thread_set_priority(world_worker, WORKER_PRIORITY), "worker priority");
}

/* The previous world: the helper code's mappings belong to copies outside the
 * untyped, so they go first; then the untyped takes everything else with it. */
static void clear_world(struct build *b)
{
    for (unsigned i = 0; i < 2; i++)
        pith_cnode_delete(KT_CNODE, code_views[i]);
    check(b, pith_cnode_revoke(KT_CNODE, world_untyped), "revoking the previous world");
    /* Whatever the set-up left in the scratch slots of a failed build. */
    for (unsigned i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
        pith_cnode_delete(KT_CNODE, scratch[i]);
}

bool world_build(struct rng *r, char *why, size_t why_size)
{
    struct build b = { .why = why, .why_size = why_size, .ok = true };
    clear_world(&b);
    pith_cap_t sc = world_stream_cnode;
    check(&b, retype(PITH_OBJ_CNODE, STREAM_CNODE_BITS, KT_CNODE, sc), "retyping the stream CNode");
    check(&b, pith_cnode_copy(sc, SS_CNODE, KT_CNODE, sc, PITH_RIGHTS_ALL), "its own capability");
    check(&b, retype(PITH_OBJ_UNTYPED, POOL_BITS, sc, SS_POOL), "the pool");
    check(&b, retype(PITH_OBJ_UNTYPED, POOL_SMALL_BITS, sc, SS_POOL_SMALL), "the small pool");
    check(&b, pith_cnode_copy(sc, SS_IRQ_CONTROL, KT_CNODE, PITH_SLOT_IRQ_CONTROL, PITH_RIGHTS_ALL),
          "IRQ control");
    check(&b, pith_cnode_copy(sc, SS_IOPORT_CONTROL, KT_CNODE, PITH_SLOT_IOPORT_CONTROL, PITH_RIGHTS_ALL),
          "I/O-port control");
    check(&b, retype(PITH_OBJ_NOTIFICATION, 0, sc, SS_NOTIFICATION_EXTRA), "a notification");
    if (world_has_device && b.ok)
        check(&b, pith_untyped_retype(device_untyped, PITH_OBJ_UNTYPED, 12 + rng_below(r, 4), sc,
                                      SS_DEVICE, 1), "a device untyped");
    pith_cap_t tmp = scratch[HELPER_COUNT + ENDPOINT_COUNT + FRAME_COUNT];
    if (b.ok)
        build_helper_space(&b, &tmp);
    /* Endpoints: the last one takes the helpers' faults. */
    for (unsigned i = 0; i < ENDPOINT_COUNT; i++)
        check(&b, retype(PITH_OBJ_ENDPOINT, 0, KT_CNODE, scratch[HELPER_COUNT + i]), "an endpoint");
    pith_cap_t fault_ep = scratch[HELPER_COUNT + ENDPOINT_COUNT - 1];
    bool edge = !(fuzz_options.avoid & AVOID_SYSRET) && rng_percent(r, 30);
    for (unsigned i = 0; i < HELPER_COUNT && b.ok; i++)
        build_helper(&b, r, i, fault_ep, edge && i == 0);
    for (unsigned i = 0; i < ENDPOINT_COUNT && b.ok; i++)
        check(&b, give(scratch[HELPER_COUNT + i], SS_ENDPOINT0 + i), "handing over an endpoint");
    for (unsigned i = 0; i < NOTIFICATION_COUNT && b.ok; i++)
        check(&b, retype(PITH_OBJ_NOTIFICATION, 0, sc, SS_NOTIFICATION0 + i), "a notification");
    if (b.ok)
        build_worker(&b, r);
    return b.ok;
}
