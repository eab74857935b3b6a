/* The derivation tree: insertion, finality, delete with promotion, revoke, move. */
#include "unit.h"

static struct cap slots[16];
static const struct cap endpoint_a = { .type = PITH_OBJ_ENDPOINT, .rights = PITH_RIGHTS_ALL, .object = 0x1000 };
static const struct cap endpoint_b = { .type = PITH_OBJ_ENDPOINT, .rights = PITH_RIGHTS_ALL, .object = 0x2000 };
static const struct cap untyped = { .type = PITH_OBJ_UNTYPED, .aux = 16, .object = 0x10000 };

static void reset(void)
{
    memset(slots, 0, sizeof(slots));
    destroyed_count = slot_cleared_count = 0;
    preempt_after = preempt_visits = 0;
    zombies = NULL;                         /* what a failed case may have left */
}

static void child_follows_parent(void)
{
    reset();
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    CHECK(slots[1].next == &slots[2]);
    CHECK(slots[2].prev == &slots[1]);
    CHECK_EQ(slots[2].depth, 1);
    CHECK(cap_has_children(&slots[1]));
    CHECK(!cap_has_children(&slots[2]));
}

static void final_only_without_same_object_neighbours(void)
{
    reset();
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    CHECK(cap_is_final(&slots[2]));
    cap_insert_child(&slots[2], &slots[3], &endpoint_a);
    CHECK(!cap_is_final(&slots[2]));
    CHECK(!cap_is_final(&slots[3]));
}

static void child_untyped_at_same_address_is_another_object(void)
{
    reset();
    struct cap half = untyped;
    half.aux = 15;
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &half);
    CHECK(!cap_same_object(&slots[1], &slots[2]));
    CHECK(cap_is_final(&slots[1]));
}

static void delete_last_cap_destroys(void)
{
    reset();
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    cap_insert_child(&slots[2], &slots[3], &endpoint_a);
    cap_delete(&slots[3]);
    CHECK_EQ(destroyed_count, 0);
    cap_delete(&slots[2]);
    CHECK_EQ(destroyed_count, 1);
    CHECK_EQ(destroyed_last.object, 0x1000);
    CHECK(cap_is_empty(&slots[2]));
    CHECK(slots[1].next == NULL);
}

static void delete_promotes_children(void)
{
    /* U(0) -> A(1) -> A'(2), then B(1): deleting A must not make A' a child of B's
     * predecessor in a way that revoking a sibling would reach it. */
    reset();
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[4], &endpoint_b);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    cap_insert_child(&slots[2], &slots[3], &endpoint_a);
    /* order: U, A, A', B */
    cap_delete(&slots[2]);
    CHECK_EQ(slots[3].depth, 1);
    CHECK(!cap_has_children(&slots[3]));
    cap_revoke(&slots[4]);
    CHECK(!cap_is_empty(&slots[3]));
}

static void delete_untyped_keeps_objects_as_grandchildren(void)
{
    reset();
    struct cap child_ut = untyped;
    child_ut.aux = 14;
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &child_ut);
    cap_insert_child(&slots[2], &slots[3], &endpoint_a);
    cap_delete(&slots[2]);
    CHECK_EQ(slots[3].depth, 1);
    cap_revoke(&slots[1]);
    CHECK(cap_is_empty(&slots[3]));
}

static void revoke_deletes_every_descendant(void)
{
    reset();
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    cap_insert_child(&slots[2], &slots[3], &endpoint_a);
    cap_insert_child(&slots[1], &slots[4], &endpoint_b);
    cap_insert_root(&slots[5], &endpoint_b);      /* unrelated */
    cap_revoke(&slots[1]);
    CHECK(cap_is_empty(&slots[2]));
    CHECK(cap_is_empty(&slots[3]));
    CHECK(cap_is_empty(&slots[4]));
    CHECK(!cap_is_empty(&slots[1]));
    CHECK(!cap_is_empty(&slots[5]));
    CHECK_EQ(destroyed_count, 2);
    CHECK(!cap_has_children(&slots[1]));
}

static void revoke_keeps_original(void)
{
    reset();
    cap_insert_root(&slots[1], &endpoint_a);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    cap_insert_child(&slots[1], &slots[3], &endpoint_a);
    cap_revoke(&slots[1]);
    CHECK(cap_is_empty(&slots[2]) && cap_is_empty(&slots[3]));
    CHECK(!cap_is_empty(&slots[1]));
    CHECK_EQ(destroyed_count, 0);
    CHECK(cap_is_final(&slots[1]));
}

static void move_keeps_tree_position(void)
{
    reset();
    cap_insert_root(&slots[1], &untyped);
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    cap_insert_child(&slots[2], &slots[3], &endpoint_a);
    cap_move(&slots[7], &slots[2]);
    CHECK(cap_is_empty(&slots[2]));
    CHECK(slots[1].next == &slots[7]);
    CHECK(slots[7].next == &slots[3]);
    CHECK(slots[3].prev == &slots[7]);
    CHECK_EQ(slots[7].depth, 1);
    cap_revoke(&slots[7]);
    CHECK(cap_is_empty(&slots[3]));
}

static void owner_slot_reported(void)
{
    reset();
    struct thread owner;
    memset(&owner, 0, sizeof(owner));
    cap_insert_root(&slots[1], &endpoint_a);
    slots[2].owner = &owner;
    cap_insert_child(&slots[1], &slots[2], &endpoint_a);
    cap_revoke(&slots[1]);
    CHECK_EQ(slot_cleared_count, 1);
    CHECK(slots[2].owner == &owner);
}

static void derivable_types(void)
{
    struct cap c = { .type = PITH_OBJ_UNTYPED };
    CHECK(!cap_derivable(&c));
    c.type = PITH_OBJ_PAGE_TABLE;
    CHECK(!cap_derivable(&c));
    c.type = PITH_OBJ_ENDPOINT;
    CHECK(cap_derivable(&c));
    c.type = PITH_CAP_NULL;
    CHECK(!cap_derivable(&c));
}

static void copy_of_mapped_frame_is_unmapped(void)
{
    struct cap f = { .type = PITH_OBJ_FRAME_4K, .aux = 12 | CAP_AUX_MAPPED, .data = 0x400000, .data2 = 3 };
    cap_prepare_copy(&f);
    CHECK(!(f.aux & CAP_AUX_MAPPED));
    CHECK_EQ(f.data, 0);
    CHECK_EQ(f.data2, 0);
    CHECK_EQ(cap_size_bits(&f), 12);
}

/* A copy of a frame mapped as a piece keeps neither the piece nor its offset: mapped
 * whole, it would be looked for as a piece and its mapping never removed. */
static void copy_of_mapped_piece_is_unmapped(void)
{
    struct cap f = { .type = PITH_OBJ_FRAME_2M, .data = 0x7000, .data2 = 3,
                     .aux = 21 | CAP_AUX_DEVICE | CAP_AUX_MAPPED | CAP_AUX_PIECE | CAP_AUX_PIECE_OFFSET };
    cap_prepare_copy(&f);
    CHECK_EQ(f.aux, 21 | CAP_AUX_DEVICE);
    CHECK_EQ(f.data, 0);
    CHECK_EQ(f.data2, 0);
}

static void control_caps_never_final(void)
{
    reset();
    struct cap irq = { .type = PITH_CAP_IRQ_CONTROL };
    cap_insert_root(&slots[1], &irq);
    CHECK(!cap_is_final(&slots[1]));
    cap_delete(&slots[1]);
    CHECK_EQ(destroyed_count, 0);
}

/* A chain of nested copies, each the child of the one before. */
static struct cap chain[CAP_DEPTH_MAX + 2];

static void build_chain(unsigned n)
{
    memset(chain, 0, sizeof(chain));
    cap_insert_root(&chain[0], &endpoint_a);
    for (unsigned i = 1; i < n; i++)
        cap_insert_child(&chain[i - 1], &chain[i], &endpoint_a);
}

static void depth_limit_reached_not_wrapped(void)
{
    reset();
    build_chain(CAP_DEPTH_MAX + 1);
    CHECK_EQ(chain[CAP_DEPTH_MAX].depth, CAP_DEPTH_MAX);
    CHECK(cap_can_derive_from(&chain[CAP_DEPTH_MAX - 1]));
    CHECK(!cap_can_derive_from(&chain[CAP_DEPTH_MAX]));
    /* Deleting the ancestors promotes the chain: depths go down, never around. */
    for (unsigned i = 0; i < 8; i++)
        cap_delete(&chain[i]);
    CHECK_EQ(chain[8].depth, 0);
    CHECK_EQ(chain[CAP_DEPTH_MAX].depth, CAP_DEPTH_MAX - 8);
    CHECK(cap_has_children(&chain[8]));
}

static void revoke_of_deep_chain_deletes_leaves_first(void)
{
    reset();
    build_chain(CAP_DEPTH_MAX + 1);
    CHECK_EQ(cap_revoke(&chain[0]), PITH_OK);
    for (unsigned i = 1; i <= CAP_DEPTH_MAX; i++)
        CHECK(cap_is_empty(&chain[i]));
    CHECK(!cap_is_empty(&chain[0]));
    CHECK(chain[0].next == NULL);
    CHECK_EQ(destroyed_count, 0);
}

static void revoke_restarts_where_it_stopped(void)
{
    reset();
    cap_insert_root(&slots[1], &endpoint_a);
    for (unsigned i = 2; i < 12; i++)
        cap_insert_child(i % 2 ? &slots[i - 1] : &slots[1], &slots[i], &endpoint_a);
    preempt_after = 3;
    unsigned restarts = 0;
    while (cap_revoke(&slots[1]) == KERNEL_RESTART)
        restarts++;
    CHECK_EQ(restarts, 3);
    CHECK(!cap_has_children(&slots[1]));
    for (unsigned i = 2; i < 12; i++)
        CHECK(cap_is_empty(&slots[i]));
    CHECK(!cap_is_empty(&slots[1]));
}

static void zombie_slots_deleted_later(void)
{
    reset();
    struct cap held[5];
    memset(held, 0, sizeof(held));
    struct zombie z;
    cap_insert_root(&slots[1], &endpoint_a);
    cap_insert_child(&slots[1], &held[1], &endpoint_b);     /* the last one to b */
    cap_insert_child(&slots[1], &held[3], &endpoint_a);
    zombie_add(&z, held, 5);
    CHECK(zombies_pending());
    CHECK_EQ(destroyed_count, 0);
    preempt_after = 1;
    CHECK(!zombies_reap());                 /* stops after the first deletion */
    CHECK(zombies_pending());
    preempt_after = 0;
    CHECK(zombies_reap());
    CHECK(!zombies_pending());
    CHECK(cap_is_empty(&held[1]) && cap_is_empty(&held[3]));
    CHECK_EQ(destroyed_count, 1);
    CHECK(slots[1].next == NULL);
}

/* A destroyed endpoint's waiters wake one at a time, each step a preemption point:
 * however many a task made wait, no step is longer than one.  A zombie of slots found
 * meanwhile is reaped first; the queue's zombie ends when its head is empty. */
static void zombie_waiters_woken_one_at_a_time(void)
{
    reset();
    static struct thread waiter[3];
    memset(waiter, 0, sizeof(waiter));
    waiter[0].qnext = &waiter[1];
    waiter[1].qnext = &waiter[2];
    static struct thread *head;             /* static: the kernel's list keeps pointers */
    static struct zombie q, z;
    head = &waiter[0];
    waiter_queue = &head;
    waiters_woken = 0;
    zombie_add_waiters(&q, &head);
    CHECK(zombies_pending());
    preempt_after = 1;
    CHECK(!zombies_reap());
    CHECK_EQ(waiters_woken, 1);
    CHECK(head == &waiter[1]);
    static struct cap held[2];
    memset(held, 0, sizeof(held));
    cap_insert_root(&slots[1], &endpoint_a);
    cap_insert_child(&slots[1], &held[1], &endpoint_b);
    zombie_add(&z, held, 2);                /* on top: reaped before the queue goes on */
    CHECK(!zombies_reap());
    CHECK(cap_is_empty(&held[1]));
    CHECK_EQ(waiters_woken, 1);
    CHECK(!zombies_reap());
    CHECK_EQ(waiters_woken, 2);
    preempt_after = 0;
    CHECK(zombies_reap());
    CHECK_EQ(waiters_woken, 3);
    CHECK(head == NULL && !zombies_pending());
    waiter_queue = NULL;
}

UNIT_TABLE(cap,
    { "cap_depth_limit_reached_not_wrapped", depth_limit_reached_not_wrapped },
    { "cap_revoke_deep_chain_leaves_first", revoke_of_deep_chain_deletes_leaves_first },
    { "cap_revoke_restarts_where_it_stopped", revoke_restarts_where_it_stopped },
    { "cap_zombie_slots_deleted_later", zombie_slots_deleted_later },
    { "cap_zombie_waiters_woken_one_at_a_time", zombie_waiters_woken_one_at_a_time },
    { "cap_child_follows_parent", child_follows_parent },
    { "cap_final_only_without_same_object_neighbours", final_only_without_same_object_neighbours },
    { "cap_child_untyped_same_address", child_untyped_at_same_address_is_another_object },
    { "cap_delete_last_destroys", delete_last_cap_destroys },
    { "cap_delete_promotes_children", delete_promotes_children },
    { "cap_delete_untyped_keeps_grandchildren", delete_untyped_keeps_objects_as_grandchildren },
    { "cap_revoke_deletes_descendants", revoke_deletes_every_descendant },
    { "cap_revoke_keeps_original", revoke_keeps_original },
    { "cap_move_keeps_position", move_keeps_tree_position },
    { "cap_owner_slot_reported", owner_slot_reported },
    { "cap_derivable_types", derivable_types },
    { "cap_copy_of_mapped_frame_unmapped", copy_of_mapped_frame_is_unmapped },
    { "cap_copy_of_mapped_piece_unmapped", copy_of_mapped_piece_is_unmapped },
    { "cap_control_caps_never_final", control_caps_never_final },
)
