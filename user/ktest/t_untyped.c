/* Untyped memory: retype, exhaustion, alignment, revoke and reuse. */
#include "ktest.h"

/* A private untyped of 2^bits bytes for one test, so the test controls exhaustion. */
static pith_cap_t small_untyped(struct pith_test_ctx *ctx, unsigned bits)
{
    return kt_new(ctx, PITH_OBJ_UNTYPED, bits);
}

static void retype_every_type(struct pith_test_ctx *ctx)
{
    static const struct { enum pith_object_type type; uint64_t bits; } kinds[] = {
        { PITH_OBJ_UNTYPED, 12 }, { PITH_OBJ_CNODE, 4 }, { PITH_OBJ_THREAD, 0 },
        { PITH_OBJ_ENDPOINT, 0 }, { PITH_OBJ_NOTIFICATION, 0 }, { PITH_OBJ_ADDRESS_SPACE, 0 },
        { PITH_OBJ_PDPT, 0 }, { PITH_OBJ_PAGE_DIRECTORY, 0 }, { PITH_OBJ_PAGE_TABLE, 0 },
        { PITH_OBJ_FRAME_4K, 0 }, { PITH_OBJ_FRAME_2M, 0 } };
    pith_cap_t ut = small_untyped(ctx, 23);
    for (unsigned i = 0; ut && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        pith_cap_t slot = kt_slot();
        enum pith_error err = pith_untyped_retype(ut, kinds[i].type, kinds[i].bits, KT_CNODE, slot, 1);
        if (!pith_expect(ctx, err == PITH_OK, "type %d: %s", kinds[i].type, pith_error_name(err)))
            return;
    }
}

static void retype_exhaustion(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = small_untyped(ctx, 14);             /* 16 KiB: four frames */
    pith_cap_t first = kt_slot();
    for (unsigned i = 1; i < 5; i++)
        kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, first, 4), "four frames");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, first + 4, 1),
                    PITH_E_NO_MEMORY, "a fifth object");
}

static void retype_all_or_nothing(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = small_untyped(ctx, 13);             /* room for two frames */
    pith_cap_t first = kt_slot();
    for (unsigned i = 1; i < 3; i++)
        kt_slot();
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, first, 3),
                    PITH_E_NO_MEMORY, "three frames from 8 KiB");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, first, 2),
                   "two frames still fit afterwards");
}

static void retype_alignment(struct pith_test_ctx *ctx)
{
    /* An endpoint (64 bytes) moves the watermark; a 4 KiB frame must then start at the
     * next 4 KiB boundary, so a 8 KiB untyped holds the endpoint and one frame only. */
    pith_cap_t ut = small_untyped(ctx, 13);
    pith_cap_t a = kt_slot(), b = kt_slot(), c = kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_ENDPOINT, 0, KT_CNODE, a, 1), "endpoint");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, b, 1), "aligned frame");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, c, 1),
                    PITH_E_NO_MEMORY, "second frame");
    uint64_t phys_ut = 0, phys_frame = 0;
    (void)phys_ut;
    pith_expect_ok(ctx, pith_frame_address(b, &phys_frame), "frame address");
    pith_expect_eq(ctx, phys_frame & 0xfff, 0, "frame alignment");
}

static void revoke_and_reuse(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = small_untyped(ctx, 12);
    pith_cap_t a = kt_slot(), b = kt_slot();
    uint64_t first_phys = 0, second_phys = 1;
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, a, 1), "frame");
    pith_frame_address(a, &first_phys);
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, b, 1),
                    PITH_E_NO_MEMORY, "full before revoke");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoke");
    struct pith_msg probe = { .info = pith_msginfo(PITH_FRAME_ADDRESS, 0, 0) };
    pith_expect_err(ctx, pith_call(a, &probe), PITH_E_INVALID_CAP, "the revoked frame's slot");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, b, 1), "reuse");
    pith_frame_address(b, &second_phys);
    pith_expect_eq(ctx, second_phys, first_phys, "the same memory again");
}

static void revoke_zeroes_memory(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = small_untyped(ctx, 12);
    pith_cap_t f = kt_slot();
    uint64_t va = kt_window();
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, f, 1), "frame");
    pith_expect_ok(ctx, kt_map(f, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "map");
    *(volatile uint64_t *)va = 0x1234;
    pith_cnode_revoke(KT_CNODE, ut);
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, f, 1), "again");
    pith_expect_ok(ctx, kt_map(f, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "map again");
    pith_expect_eq(ctx, *(volatile uint64_t *)va, 0, "a new frame is zeroed");
}

static void retype_child_untyped(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = small_untyped(ctx, 16);
    pith_cap_t kids = kt_slot();
    kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_UNTYPED, 15, KT_CNODE, kids, 2), "two halves");
    pith_cap_t f = kt_slot();
    pith_expect_ok(ctx, pith_untyped_retype(kids + 1, PITH_OBJ_FRAME_4K, 0, KT_CNODE, f, 1),
                   "frame from the second half");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoke the parent");
    struct pith_msg probe = { .info = pith_msginfo(PITH_FRAME_ADDRESS, 0, 0) };
    pith_expect_err(ctx, pith_call(f, &probe), PITH_E_INVALID_CAP, "the grandchild is gone");
}

static void retype_cnode_sizes(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = small_untyped(ctx, 16);
    pith_cap_t s = kt_slot();
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_CNODE, 0, KT_CNODE, s, 1), PITH_E_RANGE,
                    "a CNode of one slot");
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_CNODE, 17, KT_CNODE, s, 1), PITH_E_RANGE,
                    "a CNode of 2^17 slots");
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_CNODE, 8, KT_CNODE, s, 1), "256 slots");
}

/* RAM above 4 GiB (`make test-qemu` boots once with QEMU -m 6G): the boot info lists it
 * in the memory map and as untyped, no untyped straddles 4 GiB, and a 2 MiB frame
 * retyped from it is zeroed, mapped and keeps what is written.  Without such RAM no
 * untyped lies there either. */
#define FOUR_GIB (4ull << 30)
static void untyped_above_4g(struct pith_test_ctx *ctx)
{
    const struct pith_bootinfo *bi = kt_bootinfo;
    uint64_t ram = 0, untyped = 0;
    for (unsigned i = 0; i < bi->memmap_count; i++) {
        uint64_t base = bi->memmap[i].base, end = base + bi->memmap[i].length;
        if (bi->memmap[i].type == 1 && end > FOUR_GIB)
            ram += end - (base > FOUR_GIB ? base : FOUR_GIB);
    }
    int smallest = -1;
    for (unsigned i = 0; i < bi->untyped_count; i++) {
        const struct pith_untyped_desc *u = &bi->untyped[i];
        uint64_t end = u->phys + (1ull << u->size_bits);
        if (u->is_device)
            continue;
        pith_expect(ctx, u->phys >= FOUR_GIB || end <= FOUR_GIB, "untyped %lx-%lx straddles 4 GiB",
                    u->phys, end);
        if (u->phys < FOUR_GIB)
            continue;
        untyped += 1ull << u->size_bits;
        if (u->size_bits >= 21 && (smallest < 0 || u->size_bits < bi->untyped[smallest].size_bits))
            smallest = (int)i;
    }
    pith_printf("ktest: RAM above 4 GiB: %lu MiB, untyped there: %lu MiB\n", ram >> 20, untyped >> 20);
    /* Only the 2 MiB pieces of the physmap count: a range loses less than 2 MiB at
     * each end, and QEMU's RAM above 4 GiB is one range. */
    if (!pith_expect(ctx, untyped <= ram && ram - untyped < (4ull << 20), "all RAM above 4 GiB is untyped") ||
        ram == 0 || !pith_expect(ctx, smallest >= 0, "an untyped of 2 MiB or more above 4 GiB"))
        return;
    pith_cap_t frame = kt_slot();
    uint64_t phys = 0, va = kt_window();
    if (!pith_expect_ok(ctx, pith_untyped_retype(bi->untyped_first_slot + (unsigned)smallest,
                                                 PITH_OBJ_FRAME_2M, 0, KT_CNODE, frame, 1), "a 2 MiB frame") ||
        !pith_expect_ok(ctx, pith_frame_address(frame, &phys), "its address") ||
        !pith_expect(ctx, phys >= FOUR_GIB, "the frame is above 4 GiB (%lx)", phys) ||
        !pith_expect_ok(ctx, pith_map_frame_2m(frame, KT_SPACE, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0),
                        "map it"))
        return;
    volatile uint64_t *words = (volatile uint64_t *)va;
    uint64_t count = (2ull << 20) / sizeof(uint64_t), nonzero = 0, wrong = 0;
    for (uint64_t i = 0; i < count; i += 509)
        nonzero += words[i] != 0;
    for (uint64_t i = 0; i < count; i += 509)
        words[i] = phys + i;
    for (uint64_t i = 0; i < count; i += 509)
        wrong += words[i] != phys + i;
    pith_expect_eq(ctx, nonzero, 0, "the new frame is zeroed");
    pith_expect_eq(ctx, wrong, 0, "the frame keeps what was written");
    kt_delete(frame);
}

KT_TABLE(untyped,
    { "untyped_retype_every_type", retype_every_type },
    { "untyped_exhaustion", retype_exhaustion },
    { "untyped_all_or_nothing", retype_all_or_nothing },
    { "untyped_alignment", retype_alignment },
    { "untyped_revoke_and_reuse", revoke_and_reuse },
    { "untyped_new_frames_zeroed", revoke_zeroes_memory },
    { "untyped_child_untyped_revoke", retype_child_untyped },
    { "untyped_cnode_sizes", retype_cnode_sizes },
    { "untyped_above_4g", untyped_above_4g },
)
