/*
 * Capabilities and the derivation tree.
 *
 * Every capability sits in one doubly linked list in depth-first order, each entry
 * with its depth in the derivation tree (the scheme of seL4's mapping database): the
 * descendants of a capability are exactly the entries that follow it with greater
 * depth.  A derived capability (copy, mint, retyped object) is inserted right after
 * its parent, so all capabilities to one object form one contiguous run, and a
 * capability is the last one to its object when neither neighbour names the object.
 *
 * This file is pure list logic and the lookup of a slot in a thread's space; what
 * happens when an object loses its last capability is object_destroy()'s business
 * (object.c), so the host tests link it.
 */
#include "kernel.h"

static void cap_copy_value(struct cap *slot, const struct cap *value)
{
    slot->type = value->type;
    slot->rights = value->rights;
    slot->aux = value->aux;
    slot->object = value->object;
    slot->data = value->data;
    slot->data2 = value->data2;
}

static void cap_clear_value(struct cap *slot)
{
    slot->type = PITH_CAP_NULL;
    slot->rights = 0;
    slot->depth = 0;
    slot->aux = 0;
    slot->object = slot->data = slot->data2 = 0;
    slot->prev = slot->next = NULL;
}

void cap_insert_root(struct cap *slot, const struct cap *value)
{
    cap_copy_value(slot, value);
    slot->depth = 0;
    slot->prev = slot->next = NULL;
}

void cap_insert_child(struct cap *parent, struct cap *slot, const struct cap *value)
{
    cap_copy_value(slot, value);
    slot->depth = (uint16_t)(parent->depth + 1);
    slot->prev = parent;
    slot->next = parent->next;
    if (parent->next)
        parent->next->prev = slot;
    parent->next = slot;
}

/* The capability changes slot; its place in the tree does not. */
void cap_move(struct cap *dest, struct cap *src)
{
    cap_copy_value(dest, src);
    dest->depth = src->depth;
    dest->prev = src->prev;
    dest->next = src->next;
    if (dest->prev)
        dest->prev->next = dest;
    if (dest->next)
        dest->next->prev = dest;
    cap_clear_value(src);
}

bool cap_has_children(const struct cap *c)
{
    return c->next && c->next->depth > c->depth;
}

bool cap_same_object(const struct cap *a, const struct cap *b)
{
    if (a->type != b->type || a->object != b->object)
        return false;
    /* A child untyped may start where its parent starts. */
    if (a->type == PITH_OBJ_UNTYPED)
        return cap_size_bits(a) == cap_size_bits(b);
    return true;
}

bool cap_is_final(const struct cap *c)
{
    if (c->type == PITH_CAP_IRQ_CONTROL || c->type == PITH_CAP_IOPORT_CONTROL)
        return false;
    return !(c->prev && cap_same_object(c->prev, c)) && !(c->next && cap_same_object(c->next, c));
}

/* Take the capability out of the list; its descendants move up one level so that
 * they do not become descendants of the entry before it. */
void cap_unlink(struct cap *c)
{
    for (struct cap *d = c->next; d && d->depth > c->depth; d = d->next)
        d->depth--;
    if (c->prev)
        c->prev->next = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cap_clear_value(c);
}

int cap_delete(struct cap *c)
{
    if (cap_is_empty(c))
        return PITH_OK;
    struct cap last = *c;
    bool final = cap_is_final(c);
    cap_unlink(c);
    if (c->owner)
        object_slot_cleared(c);
    if (final)
        object_destroy(&last);
    else if (last.aux & CAP_AUX_MAPPED)
        vspace_unmap_cap(&last);    /* a frame's mapping belongs to its capability */
    return PITH_OK;
}

/* Revoke deletes leaves only: from c it goes down to a capability without children
 * (at most CAP_DEPTH_MAX steps), deletes it, and goes on from the one before it.  A
 * leaf has no descendants to promote, so each deletion is constant work, and the
 * list itself records the progress: a revoke stopped at a preemption point starts
 * again from c and finds the remaining leaves.  Destroying an object never deletes
 * another capability at once (zombies wait), so the one before the leaf stays put. */
int cap_revoke(struct cap *c)
{
    struct cap *x = c;
    while (cap_has_children(c)) {
        while (cap_has_children(x))
            x = x->next;
        struct cap *before = x->prev;
        cap_delete(x);
        x = before;
        if (preemption_point())
            return KERNEL_RESTART;
    }
    return PITH_OK;
}

/* ---- Zombies ----------------------------------------------------------------------- */

struct zombie *zombies;

void zombie_add(struct zombie *z, struct cap *slots, uint32_t count)
{
    z->slots = slots;
    z->waiters = NULL;
    z->count = count;
    z->next_slot = 0;
    z->next = zombies;
    zombies = z;
}

void zombie_add_waiters(struct zombie *z, struct thread **head)
{
    zombie_add(z, NULL, 0);
    z->waiters = head;
}

/* A zombie found while reaping another goes to the front and is reaped first, so
 * the list stays a stack and needs no memory but the links in the objects. */
bool zombies_reap(void)
{
    struct zombie *z;
    while ((z = zombies)) {
        if (z->waiters) {
            if (*z->waiters) {
                thread_wait_deleted(*z->waiters);       /* takes it off the queue */
                if (preemption_point())
                    return false;
                continue;
            }
            z->waiters = NULL;                          /* (then done: count is 0) */
        }
        if (z->next_slot == z->count) {
            zombies = z->next;
            z->next = NULL;
            continue;
        }
        struct cap *slot = &z->slots[z->next_slot++];
        if (!cap_is_empty(slot)) {
            cap_delete(slot);
            if (preemption_point())
                return false;
        }
    }
    return true;
}

/* Untyped memory and page tables are never copied: an untyped is shared by retyping
 * a smaller untyped from it, and a table lives in exactly one place. */
bool cap_derivable(const struct cap *c)
{
    switch (c->type) {
    case PITH_CAP_NULL:
    case PITH_OBJ_UNTYPED:
    case PITH_OBJ_PDPT:
    case PITH_OBJ_PAGE_DIRECTORY:
    case PITH_OBJ_PAGE_TABLE:
        return false;
    default:
        return true;
    }
}

/* A copy of a mapped frame is an unmapped capability to the same frame. */
void cap_prepare_copy(struct cap *value)
{
    if (value->type == PITH_OBJ_FRAME_4K || value->type == PITH_OBJ_FRAME_2M) {
        value->aux &= ~CAP_AUX_MAPPING;
        value->data = value->data2 = 0;
    }
}

/* ---- Capabilities in a thread's space ----------------------------------------------- */

/* Slot cptr of t's CNode, or NULL: t has no CNode, or cptr is beyond it. */
static struct cap *cspace_slot(const struct thread *t, uint64_t cptr)
{
    const struct cap *cs = &t->slots[TSLOT_CSPACE];
    if (cs->type != PITH_OBJ_CNODE || cptr >= BIT(cap_size_bits(cs)))
        return NULL;
    return (struct cap *)cs->object + cptr;
}

/* An empty slot of t's CNode for the kernel to fill on t's behalf (a received
 * capability, an issued IRQ handler or port range): only through a capability to
 * its space that may write there. */
struct cap *thread_cspace_empty_slot(struct thread *t, uint64_t cptr, int *err)
{
    struct cap *c = cptr ? cspace_slot(t, cptr) : NULL;
    if (!c)
        *err = PITH_E_RANGE;
    else if (!(t->slots[TSLOT_CSPACE].rights & PITH_RIGHT_WRITE))
        *err = PITH_E_RIGHTS;
    else if (!cap_is_empty(c))
        *err = PITH_E_SLOT_OCCUPIED;
    else
        *err = PITH_OK;
    return *err ? NULL : c;
}

/* A capability address is a slot index in the thread's CNode. */
struct cap *thread_cspace_lookup(struct thread *t, uint64_t cptr, int *err)
{
    struct cap *c = cspace_slot(t, cptr);
    if (!c)
        *err = PITH_E_RANGE;
    else if (cptr == 0 || cap_is_empty(c))
        *err = PITH_E_INVALID_CAP;
    else
        *err = PITH_OK;
    return *err ? NULL : c;
}
