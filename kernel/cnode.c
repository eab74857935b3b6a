/* CNodes: tables of 2^n capability slots; copy, mint, move, delete, revoke. */
#include "kernel.h"

struct cap *cnode_slot(const struct cap *cnode, uint64_t index, int *err)
{
    if (index == 0 || index >= BIT(cap_size_bits(cnode))) {
        *err = PITH_E_RANGE;
        return NULL;
    }
    *err = PITH_OK;
    return (struct cap *)cnode->object + index;
}

/* A CNode whose last capability went becomes a zombie: its slots are deleted later
 * (cap.c), so CNodes nested to any depth are destroyed without recursion.  Slot 0 is
 * never a capability (no capability address names it) and holds the link. */
_Static_assert(sizeof(struct zombie) <= sizeof(struct cap), "the zombie link fits slot 0");

void cnode_destroy(struct cap *slots, unsigned size_bits)
{
    zombie_add((struct zombie *)&slots[0], slots + 1, (uint32_t)(BIT(size_bits) - 1));
}

/* Source of copy, mint and move: MR1 names a CNode in the caller's space, MR2 a slot. */
static struct cap *decode_source(struct invocation *inv, unsigned rights, int *err)
{
    struct cap *src_cnode = inv_cap_arg(inv, 1, PITH_OBJ_CNODE, rights, err);
    if (!src_cnode)
        return NULL;
    struct cap *src = cnode_slot(src_cnode, inv_arg(inv, 2), err);
    if (src && cap_is_empty(src)) {
        *err = PITH_E_INVALID_CAP;
        return NULL;
    }
    return src;
}

static int cnode_derive(struct invocation *inv, struct cap *dest, bool mint)
{
    int err;
    struct cap *src = decode_source(inv, 0, &err);
    if (!src)
        return err;
    if (!cap_derivable(src))
        return PITH_E_ILLEGAL_OP;
    if (!cap_can_derive_from(src))
        return PITH_E_RANGE;
    struct cap value = *src;
    value.rights &= (uint8_t)inv_arg(inv, 3);
    if (mint) {
        uint64_t badge = inv_arg(inv, 4);
        if (src->type != PITH_OBJ_ENDPOINT && src->type != PITH_OBJ_NOTIFICATION)
            return PITH_E_INVALID_CAP;
        if (src->data != 0)     /* a badged capability cannot be rebadged */
            return PITH_E_INVALID_ARG;
        if (badge == 0)
            return PITH_E_INVALID_ARG;
        value.data = badge;
    }
    /* point of no return */
    cap_prepare_copy(&value);
    cap_insert_child(src, dest, &value);
    return PITH_OK;
}

static int cnode_move(struct invocation *inv, struct cap *dest)
{
    int err;
    struct cap *src = decode_source(inv, PITH_RIGHT_WRITE, &err);     /* it loses a capability */
    if (!src)
        return err;
    if (src == dest)
        return PITH_E_INVALID_ARG;
    cap_move(dest, src);
    return PITH_OK;
}

int cnode_invoke(struct invocation *inv)
{
    int err;
    if (!(inv->cap->rights & PITH_RIGHT_WRITE))
        return PITH_E_RIGHTS;
    struct cap *target = cnode_slot(inv->cap, inv_arg(inv, 0), &err);
    if (!target)
        return err;
    switch (inv->label) {
    case PITH_CNODE_COPY:
    case PITH_CNODE_MINT:
    case PITH_CNODE_MOVE:
        if (!cap_is_empty(target))
            return PITH_E_SLOT_OCCUPIED;
        if (inv->label == PITH_CNODE_MOVE)
            return cnode_move(inv, target);
        return cnode_derive(inv, target, inv->label == PITH_CNODE_MINT);
    case PITH_CNODE_DELETE:
        if (cap_is_empty(target))
            return PITH_E_INVALID_CAP;
        return cap_delete(target);
    case PITH_CNODE_REVOKE:
        if (cap_is_empty(target))
            return PITH_E_INVALID_CAP;
        return cap_revoke(target);
    default:
        return PITH_E_ILLEGAL_OP;
    }
}
