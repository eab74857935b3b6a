/*
 * The notifications' deadlines: a treap (a binary search tree that is also a heap by a
 * pseudo-random priority) keyed by (TSC value, address), whose links live in the
 * notification object.  Setting, cancelling or firing a deadline costs the tree's depth,
 * which is logarithmic in the deadlines armed with overwhelming probability: the
 * priority of a node is a hash of its address and a secret drawn at boot, so a task
 * cannot choose objects or values that make the tree a list.  (A sorted list, as
 * before, let a task with many notifications make every set a walk of all of them,
 * with the kernel lock held.)  The earliest deadline is kept at hand.
 */
#include "kernel.h"

/* A 64-bit mix (the finalizer of splitmix64): every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t priority(const struct deadline_tree *t, const struct notification *n)
{
    return mix((uint64_t)(uintptr_t)n ^ t->secret);
}

static bool before(const struct notification *a, const struct notification *b)
{
    return a->deadline != b->deadline ? a->deadline < b->deadline : (uintptr_t)a < (uintptr_t)b;
}

/* The link that points at n: its parent's left or right, or the root. */
static struct notification **link_to(struct deadline_tree *t, struct notification *n)
{
    struct notification *p = n->dl_parent;
    return !p ? &t->root : p->dl_left == n ? &p->dl_left : &p->dl_right;
}

/* n takes its parent's place; the parent becomes its child. */
static void rotate_up(struct deadline_tree *t, struct notification *n)
{
    struct notification *p = n->dl_parent, **above = link_to(t, p);
    if (p->dl_left == n) {
        p->dl_left = n->dl_right;
        if (n->dl_right)
            n->dl_right->dl_parent = p;
        n->dl_right = p;
    } else {
        p->dl_right = n->dl_left;
        if (n->dl_left)
            n->dl_left->dl_parent = p;
        n->dl_left = p;
    }
    n->dl_parent = p->dl_parent;
    p->dl_parent = n;
    *above = n;
}

static struct notification *leftmost(struct notification *n)
{
    while (n && n->dl_left)
        n = n->dl_left;
    return n;
}

static void tree_insert(struct deadline_tree *t, struct notification *n)
{
    struct notification *parent = NULL, **at = &t->root;
    while (*at) {
        parent = *at;
        at = before(n, parent) ? &parent->dl_left : &parent->dl_right;
    }
    n->dl_left = n->dl_right = NULL;
    n->dl_parent = parent;
    *at = n;
    uint64_t mine = priority(t, n);
    while (n->dl_parent && priority(t, n->dl_parent) < mine)
        rotate_up(t, n);
    if (!t->first || before(n, t->first))
        t->first = n;
}

static void tree_remove(struct deadline_tree *t, struct notification *n)
{
    while (n->dl_left || n->dl_right) {     /* down to a leaf, keeping the heap order */
        struct notification *l = n->dl_left, *r = n->dl_right;
        rotate_up(t, !r || (l && priority(t, l) > priority(t, r)) ? l : r);
    }
    *link_to(t, n) = NULL;
    n->dl_parent = NULL;
    if (t->first == n)
        t->first = leftmost(t->root);
}

void deadline_tree_set(struct deadline_tree *t, struct notification *n, uint64_t tsc)
{
    if (n->deadline) {
        tree_remove(t, n);
        n->deadline = 0;
    }
    if (tsc) {
        n->deadline = tsc;
        tree_insert(t, n);
    }
}
