/*
 * Hostile cases: mappings, and pieces of 2 MiB frames above all (FRAME_MAP with
 * PITH_ATTR_PIECE maps one 4 KiB page of the frame).  A piece must map that page and no
 * other, belong to the one capability that made it, and go when that capability goes,
 * whatever the attacker deletes, copies, moves or revokes first, and whether the space
 * is an address space or a guest space.  Each frame here comes from an untyped of its
 * own, so a revoke hands its memory back and a retype reuses it: a mapping left behind
 * would then show memory that is no longer the frame's.  See hostile.h.
 */
#include "hostile.h"
#include "../ktest/vm.h"

#define RW (PITH_RIGHT_READ | PITH_RIGHT_WRITE)
#define PIECE(offset) (PITH_ATTR_PIECE | (offset))
#define LAST_PIECE 0x1ff000ull

/* The first word of each page of a frame says which page it is. */
static uint32_t page_marker(unsigned page) { return 0x7e000000u | page; }

/* Delete what the slot holds, if anything, and give the slot back: a revoke or a
 * refused retype may have left it empty. */
static void give_back(pith_cap_t slot)
{
    if (!slot)
        return;
    pith_cnode_delete(KT_CNODE, slot);
    pith_alloc_free_slot(slot);
}

/* A 2 MiB frame from `ut` (2^21 bytes, no children) and a copy of it mapped whole at a
 * window of its own, every page marked.  Returns the frame; *view and *va the copy. */
static pith_cap_t marked_frame(struct pith_test_ctx *ctx, pith_cap_t ut, pith_cap_t *view,
                               volatile uint32_t **va)
{
    pith_cap_t frame = kt_slot();
    *view = kt_slot();
    uint64_t window = kt_window();
    if (!pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_2M, 0, KT_CNODE, frame, 1), "a 2 MiB frame") ||
        !pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, *view, KT_CNODE, frame, PITH_RIGHTS_ALL), "a view") ||
        !pith_expect_ok(ctx, pith_map_frame_2m(*view, KT_SPACE, window, RW, 0), "mapping the view")) {
        give_back(*view);
        give_back(frame);
        *view = 0;
        return 0;
    }
    *va = (volatile uint32_t *)window;
    for (unsigned page = 0; page < 512; page++)
        (*va)[page * 1024] = page_marker(page);
    return frame;
}

/* A copy of `frame` in a fresh slot. */
static pith_cap_t copy_of(struct pith_test_ctx *ctx, pith_cap_t frame)
{
    pith_cap_t slot = kt_slot();
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, slot, KT_CNODE, frame, PITH_RIGHTS_ALL), "a copy");
    return slot;
}

/* Whether the page-table entry at va is empty: a fresh 4 KiB frame maps there only
 * then (the kernel answers PITH_E_MAPPED while anything is left in the entry; a
 * missing table is made). */
static bool entry_empty(struct pith_test_ctx *ctx, uint64_t va, const char *what)
{
    pith_cap_t probe = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    enum pith_error err = kt_map(probe, va, PITH_RIGHT_READ);
    give_back(probe);
    return pith_expect(ctx, err == PITH_OK, "%s: the entry at %lx is still in use (%s)", what, va,
                       pith_error_name(err));
}

/* ---- What a piece maps -------------------------------------------------------------- */

/* The first and the last piece map exactly their pages; every offset that is not one
 * of the frame's pages, and PITH_ATTR_PIECE where it does not belong, is refused and
 * leaves the capability unmapped. */
static void piece_offsets(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 21), view = 0, small = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    volatile uint32_t *whole;
    pith_cap_t frame = ut ? marked_frame(ctx, ut, &view, &whole) : 0;
    pith_cap_t piece = frame ? copy_of(ctx, frame) : 0;
    if (!piece || !small)
        goto done;
    uint64_t va = kt_window();
    static const struct { uint64_t attributes; const char *what; } refused[] = {
        { PIECE(0x200000), "offset 2 MiB, past the frame" },
        { PIECE(0x400000 | LAST_PIECE), "offset bit 22 with the last page's bits" },
        { PIECE(0x1ff800), "an offset inside a page" },
        { PIECE(0x800), "an offset below a page" },
        { PIECE(0) | (1ull << 63), "bit 63 with a piece" },
        { PIECE(0) | (1ull << 32), "bit 32 with a piece" },
        { 0x5000, "an offset without PITH_ATTR_PIECE" },
        { PITH_ATTR_UNCACHED | LAST_PIECE, "uncached with an offset, without PITH_ATTR_PIECE" },
        { PIECE(0) | 4, "bit 2 with a piece" },
    };
    for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        pith_expect_err(ctx, pith_map_frame(piece, KT_SPACE, va, RW, refused[i].attributes),
                        PITH_E_INVALID_ARG, refused[i].what);
    pith_expect_err(ctx, pith_frame_map(piece, KT_SPACE, va + 0x800, RW, PIECE(0)), PITH_E_ALIGNMENT,
                    "a piece at an address inside a page");
    pith_expect_err(ctx, pith_frame_map(small, KT_SPACE, va, RW, PIECE(0)), PITH_E_INVALID_ARG,
                    "a piece of a 4 KiB frame");
    pith_expect_err(ctx, pith_frame_unmap(piece), PITH_E_NOT_MAPPED, "the refused maps left nothing");
    entry_empty(ctx, va, "after the refused maps");

    pith_cap_t last = copy_of(ctx, frame);
    uint64_t last_va = kt_window();
    if (!pith_expect_ok(ctx, pith_map_frame(piece, KT_SPACE, va, RW, PIECE(0)), "the first piece") ||
        !pith_expect_ok(ctx, pith_map_frame(last, KT_SPACE, last_va, RW, PIECE(LAST_PIECE) | PITH_ATTR_UNCACHED),
                        "the last piece, uncached")) {
        give_back(last);
        goto done;
    }
    volatile uint32_t *first_page = (volatile uint32_t *)va, *last_page = (volatile uint32_t *)last_va;
    pith_expect_eq(ctx, first_page[0], page_marker(0), "the first piece is page 0");
    pith_expect_eq(ctx, last_page[0], page_marker(511), "the last piece is page 511");
    last_page[1023] = 0x1a57;
    first_page[1023] = 0xf125;
    pith_expect_eq(ctx, whole[511 * 1024 + 1023], 0x1a57, "the last word of the frame through the last piece");
    pith_expect_eq(ctx, whole[1023], 0xf125, "the first page's last word through the first piece");
    pith_expect_eq(ctx, whole[1024], page_marker(1), "the word after the first piece is untouched");
    give_back(last);
    entry_empty(ctx, last_va, "the last piece after its capability went");
done:
    give_back(piece);
    give_back(view);
    give_back(frame);
    give_back(small);
    give_back(ut);
}

/* A capability holds one mapping: mapped as a piece, it cannot map the whole frame or
 * another piece until it is unmapped; then the whole frame maps, and after that a piece
 * again.  Unmapping one piece and mapping another at the same address shows the new page
 * (the old translation was flushed). */
static void piece_then_whole(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 21), view = 0;
    volatile uint32_t *whole;
    pith_cap_t frame = ut ? marked_frame(ctx, ut, &view, &whole) : 0;
    pith_cap_t cap = frame ? copy_of(ctx, frame) : 0;
    if (!cap)
        goto done;
    uint64_t va = kt_window(), large_va = kt_window();
    if (!pith_expect_ok(ctx, pith_map_frame(cap, KT_SPACE, va, RW, PIECE(0x7000)), "a piece"))
        goto done;
    pith_expect_eq(ctx, *(volatile uint32_t *)va, page_marker(7), "the piece is page 7");
    pith_expect_err(ctx, pith_map_frame_2m(cap, KT_SPACE, large_va, RW, 0), PITH_E_MAPPED,
                    "the whole frame through the piece's capability");
    pith_expect_err(ctx, pith_map_frame(cap, KT_SPACE, va + 0x1000, RW, PIECE(0x8000)), PITH_E_MAPPED,
                    "a second piece through the same capability");
    pith_expect_err(ctx, pith_map_frame(cap, KT_SPACE, va, RW, PIECE(0x8000)), PITH_E_MAPPED,
                    "another piece over the first");
    pith_expect_eq(ctx, *(volatile uint32_t *)va, page_marker(7), "the piece is still page 7");
    pith_expect_ok(ctx, pith_frame_unmap(cap), "unmap the piece");
    pith_expect_ok(ctx, pith_map_frame(cap, KT_SPACE, va, RW, PIECE(0x8000)), "page 8 where page 7 was");
    pith_expect_eq(ctx, *(volatile uint32_t *)va, page_marker(8), "the new piece shows page 8");
    pith_expect_ok(ctx, pith_frame_unmap(cap), "unmap page 8");
    entry_empty(ctx, va, "after unmapping the piece");
    if (pith_expect_ok(ctx, pith_map_frame_2m(cap, KT_SPACE, large_va, RW, 0), "the whole frame, unmapped")) {
        volatile uint32_t *big = (volatile uint32_t *)large_va;
        pith_expect_eq(ctx, big[0], page_marker(0), "the whole mapping's first page");
        pith_expect_eq(ctx, big[300 * 1024], page_marker(300), "the whole mapping's page 300");
        pith_expect_err(ctx, pith_map_frame(cap, KT_SPACE, va, RW, PIECE(0)), PITH_E_MAPPED,
                        "a piece through the mapped capability");
        pith_expect_ok(ctx, pith_frame_unmap(cap), "unmap the whole frame");
    }
    pith_expect_ok(ctx, pith_map_frame(cap, KT_SPACE, va, RW, PIECE(0x9000)), "a piece after the whole frame");
    pith_expect_eq(ctx, *(volatile uint32_t *)va, page_marker(9), "it is page 9");
done:
    give_back(cap);
    give_back(view);
    give_back(frame);
    give_back(ut);
}

/* ---- Whose a piece is --------------------------------------------------------------- */

/* The original capability goes while a copy keeps a piece mapped: the memory stays the
 * frame's (the untyped refuses to start again) until the copy goes, and then the piece
 * goes with it.  A moved capability takes its piece along. */
static void piece_outlives_original(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 21), view = 0, moved = kt_slot(), again = 0;
    volatile uint32_t *whole;
    pith_cap_t frame = ut ? marked_frame(ctx, ut, &view, &whole) : 0;
    pith_cap_t piece = frame ? copy_of(ctx, frame) : 0;
    uint64_t va = kt_window();
    if (!piece || !pith_expect_ok(ctx, pith_map_frame(piece, KT_SPACE, va, RW, PIECE(0x3000)), "a piece"))
        goto done;
    give_back(frame);
    give_back(view);
    frame = view = 0;
    volatile uint32_t *page = (volatile uint32_t *)va;
    pith_expect_eq(ctx, page[0], page_marker(3), "the piece after the original went");
    again = kt_slot();
    pith_expect_err(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, again, 1), PITH_E_NO_MEMORY,
                    "retype while the piece's capability lives");
    page[1] = 0xdead;
    pith_expect_eq(ctx, page[0], page_marker(3), "the piece after the refused retype");
    if (!pith_expect_ok(ctx, pith_cnode_move(KT_CNODE, moved, KT_CNODE, piece), "move the piece's capability"))
        goto done;
    pith_expect_eq(ctx, page[1], 0xdead, "the piece after the move");
    pith_expect_err(ctx, pith_frame_map(moved, KT_SPACE, kt_window(), RW, PIECE(0)), PITH_E_MAPPED,
                    "the moved capability is still mapped");
    give_back(moved);
    moved = 0;
    entry_empty(ctx, va, "the piece after its last capability went");
    /* The memory goes back to the untyped, zeroed. */
    if (pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_2M, 0, KT_CNODE, again, 1),
                       "the untyped starts again")) {
        pith_cap_t look = copy_of(ctx, again);
        uint64_t look_va = kt_window();
        if (pith_expect_ok(ctx, pith_map_frame(look, KT_SPACE, look_va, PITH_RIGHT_READ, PIECE(0x3000)), "look"))
            pith_expect_eq(ctx, *(volatile uint64_t *)look_va, 0, "the reused page is zero");
        give_back(look);
    }
done:
    give_back(again);
    give_back(moved);
    give_back(piece);
    give_back(view);
    give_back(frame);
    give_back(ut);
}

/* Copies of a mapped piece's capability are unmapped capabilities: they neither unmap
 * nor delete the piece, and an old capability whose piece was unmapped does not take
 * away the piece another capability mapped at the same place since. */
static void piece_copies_do_not_share(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 21), view = 0;
    volatile uint32_t *whole;
    pith_cap_t frame = ut ? marked_frame(ctx, ut, &view, &whole) : 0;
    pith_cap_t piece = frame ? copy_of(ctx, frame) : 0, copies[3] = { 0 };
    uint64_t va = kt_window();
    if (!piece || !pith_expect_ok(ctx, pith_map_frame(piece, KT_SPACE, va, RW, PIECE(0x4000)), "a piece"))
        goto done;
    volatile uint32_t *page = (volatile uint32_t *)va;
    copies[0] = copy_of(ctx, piece);
    pith_expect_err(ctx, pith_frame_unmap(copies[0]), PITH_E_NOT_MAPPED, "a copy of the piece's capability");
    uint64_t copy_va = kt_window();
    pith_expect_ok(ctx, pith_map_frame(copies[0], KT_SPACE, copy_va, RW, PIECE(0x4000)),
                   "the copy maps the same page elsewhere");
    copies[1] = copy_of(ctx, copies[0]);
    uint64_t large_va = kt_window();
    pith_expect_ok(ctx, pith_map_frame_2m(copies[1], KT_SPACE, large_va, RW, 0),
                   "a copy of the copy maps the whole frame");
    give_back(copies[0]);
    give_back(copies[1]);
    copies[0] = copies[1] = 0;
    entry_empty(ctx, copy_va, "the copy's piece after the copy went");
    entry_empty(ctx, large_va, "the whole frame after the copy of the copy went");
    pith_expect_eq(ctx, page[0], page_marker(4), "the first piece after its copies went");
    /* The first capability unmaps; a second maps the same page at the same address. */
    pith_expect_ok(ctx, pith_frame_unmap(piece), "unmap the first piece");
    copies[2] = copy_of(ctx, frame);
    if (pith_expect_ok(ctx, pith_map_frame(copies[2], KT_SPACE, va, RW, PIECE(0x4000)), "the same page again")) {
        pith_expect_err(ctx, pith_frame_unmap(piece), PITH_E_NOT_MAPPED, "the first capability's old piece");
        give_back(piece);
        piece = 0;
        pith_expect_eq(ctx, page[0], page_marker(4), "the second capability's piece stays");
        pith_expect_ok(ctx, pith_frame_unmap(copies[2]), "the second capability unmaps its piece");
    }
    entry_empty(ctx, va, "after both");
done:
    for (unsigned i = 0; i < 3; i++)
        give_back(copies[i]);
    give_back(piece);
    give_back(view);
    give_back(frame);
    give_back(ut);
}

/* Device memory: pieces of a 2 MiB device frame at both ends; past the end refused. */
static void piece_of_device_frame(struct pith_test_ctx *ctx)
{
    pith_cap_t device = 0;
    for (unsigned i = 0; i < kt_bootinfo->untyped_count && !device; i++)
        if (kt_bootinfo->untyped[i].is_device && kt_bootinfo->untyped[i].size_bits >= 21)
            device = kt_bootinfo->untyped_first_slot + i;
    if (!device) {
        pith_printf("hostile: no device untyped of 2 MiB, no device pieces tried\n");
        return;
    }
    pith_cap_t frame = kt_slot();
    if (!pith_expect_ok(ctx, pith_untyped_retype(device, PITH_OBJ_FRAME_2M, 0, KT_CNODE, frame, 1),
                        "a 2 MiB device frame")) {
        pith_alloc_free_slot(frame);
        return;
    }
    pith_cap_t other = copy_of(ctx, frame);
    uint64_t va = kt_window(), other_va = kt_window();
    pith_expect_err(ctx, pith_frame_map(frame, KT_SPACE, va, RW, PIECE(0x200000) | PITH_ATTR_UNCACHED),
                    PITH_E_INVALID_ARG, "a device piece past the frame");
    pith_expect_ok(ctx, pith_map_frame(frame, KT_SPACE, va, RW, PIECE(0) | PITH_ATTR_UNCACHED), "device piece 0");
    pith_expect_ok(ctx, pith_map_frame(other, KT_SPACE, other_va, RW, PIECE(LAST_PIECE) | PITH_ATTR_UNCACHED),
                   "the last device piece");
    pith_expect_err(ctx, pith_map_frame_2m(frame, KT_SPACE, kt_window(), RW, PITH_ATTR_UNCACHED), PITH_E_MAPPED,
                    "the whole device frame through a mapped piece's capability");
    give_back(frame);
    entry_empty(ctx, va, "device piece 0 after its capability went");
    give_back(other);
    entry_empty(ctx, other_va, "the last device piece after its capability went");
}

/* ---- A piece in a guest space -------------------------------------------------------- */

VM_GUEST(hmg_read_data, ".code16",
    "mov 0x2000, %eax\n"
    "out %eax, $0x99\n"
    "hlt\n");

/* Run the guest from its first instruction again: it reads guest-physical 0x2000. */
static bool guest_reads_again(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    uint64_t words[2] = { VM_CODE_GPA, 2 };
    return pith_expect_ok(ctx, pith_thread_suspend(vm->thread), "suspending the guest in its exit") &&
           vm_write(ctx, vm, PITH_VM_GROUP_RIP, words) && vm_start(ctx, vm);
}

static void guest_reads(struct pith_test_ctx *ctx, struct kt_vm *vm, uint32_t want, const char *what)
{
    if (vm_expect_io(ctx, vm, 0x99, what))
        pith_expect_eq(ctx, vm->exit.mr[2] & 0xffffffff, want, what);
}

/* Nothing is mapped at 0x2000 any more: the read exits as MMIO, it reads nothing. */
static void guest_reads_nothing(struct pith_test_ctx *ctx, struct kt_vm *vm, const char *what)
{
    if (pith_expect(ctx, vm->exit.reason == PITH_EXIT_MMIO, "%s: exit %lu with 0x%lx, expected MMIO",
                    what, vm->exit.reason, vm->exit.mr[2]))
        pith_expect_eq(ctx, vm->exit.mr[1], VM_DATA_GPA, what);
}

/*
 * A VMM maps a piece of a frame into a guest space, the guest reads it; the piece is
 * unmapped and another put in its place (the guest must see the new page, not a cached
 * translation); then the frame's untyped is revoked and its memory retyped into a new
 * frame with other contents.  The guest must find nothing at the piece's address, not
 * the new frame.
 */
static void piece_in_guest_space_revoked(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 21), view = 0, piece = 0, reused = kt_slot(), look = 0;
    volatile uint32_t *whole;
    struct kt_vm vm = { 0 };
    pith_cap_t frame = ut ? marked_frame(ctx, ut, &view, &whole) : 0;
    if (!frame || !vm_create(ctx, &vm, VM_CODE(hmg_read_data), 0))
        goto done;
    piece = copy_of(ctx, frame);
    if (!pith_expect_ok(ctx, pith_frame_map(piece, vm.space, VM_DATA_GPA, RW, PIECE(0x5000)), "a guest piece") ||
        !vm_start(ctx, &vm))
        goto done;
    guest_reads(ctx, &vm, page_marker(5), "the guest reads page 5");
    pith_expect_ok(ctx, pith_frame_unmap(piece), "unmap the guest piece");
    if (!guest_reads_again(ctx, &vm))
        goto done;
    guest_reads_nothing(ctx, &vm, "the unmapped piece");
    if (!pith_expect_ok(ctx, pith_frame_map(piece, vm.space, VM_DATA_GPA, RW, PIECE(LAST_PIECE)),
                        "the last piece") ||
        !guest_reads_again(ctx, &vm))
        goto done;
    guest_reads(ctx, &vm, page_marker(511), "the guest reads page 511 where page 5 was");

    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoke the frame's untyped");
    pith_expect_err(ctx, pith_frame_unmap(piece), PITH_E_INVALID_CAP, "the piece's capability was revoked");
    if (!pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_2M, 0, KT_CNODE, reused, 1),
                        "the same memory as a new frame"))
        goto done;
    look = copy_of(ctx, reused);
    uint64_t look_va = kt_window();
    if (!pith_expect_ok(ctx, pith_map_frame_2m(look, KT_SPACE, look_va, RW, 0), "mapping the new frame"))
        goto done;
    for (unsigned page = 0; page < 512; page++)
        ((volatile uint32_t *)look_va)[page * 1024] = 0x5ca1ab1e;
    if (guest_reads_again(ctx, &vm))
        guest_reads_nothing(ctx, &vm, "the revoked piece");
done:
    vm_destroy(&vm);
    give_back(look);
    give_back(reused);
    give_back(piece);
    give_back(view);
    give_back(frame);
    give_back(ut);
}

KT_TABLE(mapping,
    { "mapping_piece_offsets", piece_offsets },
    { "mapping_piece_then_whole", piece_then_whole },
    { "mapping_piece_outlives_original", piece_outlives_original },
    { "mapping_piece_copies_do_not_share", piece_copies_do_not_share },
    { "mapping_piece_of_device_frame", piece_of_device_frame },
    { "mapping_piece_in_guest_space_revoked", piece_in_guest_space_revoked },
)
