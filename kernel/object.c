/*
 * What is common to every object: initialising a new one, destroying one when its
 * last capability goes, dispatching an invocation to the object's file, and the
 * helpers invocations use to read capability arguments and write their replies.
 */
#include "kernel.h"
#include <arch.h>

void object_init(struct cap *c)
{
    switch (c->type) {
    case PITH_OBJ_THREAD:
        thread_init((struct thread *)c->object);
        break;
    case PITH_OBJ_ADDRESS_SPACE:
        vspace_init((struct address_space *)c->object);
        break;
    case PITH_OBJ_VCPU:
        vcpu_init(vcpu_of_object(c->object));
        break;
    case PITH_OBJ_GUEST_SPACE:
        guest_space_init((struct guest_space *)c->object);
        break;
    default:
        break;
    }
}

void object_destroy(const struct cap *last)
{
    switch (last->type) {
    case PITH_OBJ_THREAD:
        thread_destroy((struct thread *)last->object);
        break;
    case PITH_OBJ_ENDPOINT:
        endpoint_destroy((struct endpoint *)last->object);
        break;
    case PITH_OBJ_NOTIFICATION:
        notification_destroy((struct notification *)last->object);
        break;
    case PITH_OBJ_CNODE:
        cnode_destroy((struct cap *)last->object, cap_size_bits(last));
        break;
    case PITH_OBJ_ADDRESS_SPACE:
        vspace_destroy((struct address_space *)last->object);
        break;
    case PITH_OBJ_VCPU:
        vcpu_destroy(vcpu_of_object(last->object));
        break;
    case PITH_OBJ_GUEST_SPACE:
        guest_space_destroy((struct guest_space *)last->object);
        break;
    case PITH_OBJ_PDPT:
    case PITH_OBJ_PAGE_DIRECTORY:
    case PITH_OBJ_PAGE_TABLE:
    case PITH_OBJ_FRAME_4K:
    case PITH_OBJ_FRAME_2M:
        vspace_unmap_cap((struct cap *)last);
        break;
    case PITH_CAP_IRQ_HANDLER:
        irq_handler_deleted(last);
        break;
    default:
        break;
    }
}

void object_slot_cleared(struct cap *slot)
{
    thread_slot_cleared(slot->owner, slot);
}

struct cap *inv_cap_arg(struct invocation *inv, unsigned mr, unsigned type, unsigned rights,
                        int *err)
{
    struct cap *c = thread_cspace_lookup(inv->caller, inv_arg(inv, mr), err);
    if (!c)
        return NULL;
    if (c->type != type) {
        *err = PITH_E_INVALID_CAP;
        return NULL;
    }
    if ((c->rights & rights) != rights) {
        *err = PITH_E_RIGHTS;
        return NULL;
    }
    return c;
}

void inv_reply(struct invocation *inv, unsigned length)
{
    inv->reply_length = length;
}

int object_invoke(struct invocation *inv)
{
    switch (inv->cap->type) {
    case PITH_OBJ_UNTYPED:
        return untyped_invoke(inv);
    case PITH_OBJ_CNODE:
        return cnode_invoke(inv);
    case PITH_OBJ_THREAD:
        return thread_invoke(inv);
    case PITH_OBJ_NOTIFICATION:
        return notification_invoke(inv);
    case PITH_OBJ_VCPU:
        return vcpu_invoke(inv);
    case PITH_OBJ_PDPT:
    case PITH_OBJ_PAGE_DIRECTORY:
    case PITH_OBJ_PAGE_TABLE:
    case PITH_OBJ_FRAME_4K:
    case PITH_OBJ_FRAME_2M:
        return vspace_invoke(inv);
    case PITH_CAP_IRQ_CONTROL:
    case PITH_CAP_IRQ_HANDLER:
        return irq_invoke(inv);
    case PITH_CAP_IOPORT_CONTROL:
    case PITH_CAP_IOPORT:
        return ioport_invoke(inv);
    default:
        return PITH_E_ILLEGAL_OP;
    }
}
