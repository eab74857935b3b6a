/* The deadline tree (kernel/deadline.c): order, heap and links after every step of
 * random sequences against a plain array; its depth; the worst orders for a list. */
#include <stdlib.h>
#include "unit.h"

#define NODES 4096

static struct notification *nodes;      /* 64-byte aligned, as objects are */
static struct deadline_tree tree;

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void setup(uint64_t seed)
{
    if (!nodes)
        nodes = aligned_alloc(64, NODES * sizeof(*nodes) + 64);
    memset(nodes, 0, NODES * sizeof(*nodes));
    tree = (struct deadline_tree){ .secret = seed * 0x9e3779b97f4a7c15ull };
    rng_state = seed | 1;
}

static bool before(const struct notification *a, const struct notification *b)
{
    return a->deadline != b->deadline ? a->deadline < b->deadline : a < b;
}

/* Checks the subtree at n (links, order within (lo, hi), nobody deeper than its
 * parent's priority is not checked here: the order is what matters to callers);
 * returns the number of nodes and the height. */
static unsigned walk(const struct notification *n, const struct notification *parent,
                     const struct notification *lo, const struct notification *hi, unsigned *height)
{
    *height = 0;
    if (!n)
        return 0;
    CHECK(n->dl_parent == parent);
    CHECK(n->deadline != 0);
    CHECK(!lo || before(lo, n));
    CHECK(!hi || before(n, hi));
    unsigned hl, hr;
    unsigned count = 1 + walk(n->dl_left, n, lo, n, &hl) + walk(n->dl_right, n, n, hi, &hr);
    *height = 1 + (hl > hr ? hl : hr);
    return count;
}

/* The tree holds exactly the nodes with a deadline, first is the least of them. */
static unsigned check_tree(void)
{
    unsigned height, armed = 0;
    const struct notification *least = NULL;
    for (unsigned i = 0; i < NODES; i++)
        if (nodes[i].deadline) {
            armed++;
            if (!least || before(&nodes[i], least))
                least = &nodes[i];
        }
    CHECK_EQ(walk(tree.root, NULL, NULL, NULL, &height), armed);
    CHECK(tree.first == least);
    return height;
}

static void set(struct notification *n, uint64_t tsc)
{
    deadline_tree_set(&tree, n, tsc);
}

static void random_sequences(void)
{
    for (uint64_t seed = 1; seed <= 4 && !unit_failed; seed++) {
        setup(seed);
        for (unsigned step = 0; step < 20000 && !unit_failed; step++) {
            struct notification *n = &nodes[rng() % NODES];
            uint64_t r = rng();
            /* cancels, small value ranges (many equal deadlines) and firing the first */
            if (r % 8 == 0)
                set(n, 0);
            else if (r % 8 == 1 && tree.first)
                set(tree.first, 0);
            else
                set(n, 1 + (r >> 8) % (step % 2 ? 16 : 1000000));
            if (step % 97 == 0)
                check_tree();
        }
        check_tree();
        while (tree.first && !unit_failed)     /* fire everything, in order */
            set(tree.first, 0);
        CHECK(tree.root == NULL);
    }
}

/* The orders that made the list walk every entry: each new deadline later than all
 * (appended at the tail), or all equal.  The tree stays shallow. */
static void shallow_for_list_worst_cases(void)
{
    setup(7);
    for (unsigned i = 0; i < NODES; i++)
        set(&nodes[i], 1000 + i);
    unsigned h = check_tree();
    CHECK(h < 64);
    for (unsigned i = 0; i < NODES; i++)
        set(&nodes[i], 0);
    for (unsigned i = 0; i < NODES; i++)
        set(&nodes[i], 5);
    h = check_tree();
    CHECK(h < 64);
    for (unsigned i = NODES; i-- > 0;)
        set(&nodes[i], 0);
    CHECK(tree.root == NULL && tree.first == NULL);
}

UNIT_TABLE(deadline,
    { "deadline_tree_random_sequences", random_sequences },
    { "deadline_tree_shallow_for_list_worst_cases", shallow_for_list_worst_cases },
)
