/*
 * Untyped memory: retype turns part of it into kernel objects or frames.  Objects
 * are placed at the untyped's watermark, each aligned to its own size; an untyped
 * without children starts again from zero, which is how revoke returns memory.
 * object_size_bits() and untyped_place() are pure arithmetic (host-tested).
 */
#include "kernel.h"

#define RETYPE_MAX_COUNT 4096

int object_size_bits(unsigned type, unsigned user_bits, unsigned *out)
{
    if (type == PITH_OBJ_UNTYPED && (user_bits < 4 || user_bits > 47))
        return PITH_E_RANGE;
    if (type == PITH_OBJ_CNODE && (user_bits < 1 || user_bits > 16))
        return PITH_E_RANGE;
    *out = pith_object_bits(type, user_bits);
    return *out ? PITH_OK : PITH_E_INVALID_ARG;
}

/* Where `count` objects of 2^obj_bits go, starting at the watermark. */
uint64_t untyped_place(uint64_t watermark, unsigned obj_bits, uint64_t count,
                       unsigned untyped_bits, bool *fits)
{
    uint64_t size = BIT(obj_bits), capacity = BIT(untyped_bits);
    uint64_t start = (watermark + size - 1) & ~(size - 1);
    *fits = obj_bits <= untyped_bits && start <= capacity &&
            count <= (capacity - start) >> obj_bits;
    return start;
}

#ifndef HOST_TEST
/* Zeroing is the long part of a retype (4096 frames of 2 MiB are 8 GiB), so it goes in
 * chunks with preemption points, and its progress is kept in the untyped capability:
 * bytes [data, data2) are known to be zero (data is the watermark), and the CLEARING
 * flag says so until the retype completes, so that an untyped without children does
 * not start again from zero and forget it.  A retype stopped here restarts, finds the
 * same start and goes on from data2.  Whatever the alignment skips is given up: the
 * watermark moves up to start before the first chunk, so the zero range always
 * begins at the watermark. */
#define CLEAR_CHUNK (16ull << 10)

static bool untyped_clear(struct cap *ut, uint64_t start, uint64_t end)
{
    if (ut->data2 < start) {
        ut->data = start;
        ut->data2 = start;
    }
    ut->aux |= CAP_AUX_CLEARING;
    while (ut->data2 < end) {
        uint64_t n = end - ut->data2 < CLEAR_CHUNK ? end - ut->data2 : CLEAR_CHUNK;
        memset((void *)(ut->object + ut->data2), 0, n);
        ut->data2 += n;
        if (ut->data2 < end && preemption_point())
            return false;
    }
    return true;
}

static bool type_fits_device(unsigned type)
{
    return type == PITH_OBJ_FRAME_4K || type == PITH_OBJ_FRAME_2M || type == PITH_OBJ_UNTYPED;
}

int untyped_invoke(struct invocation *inv)
{
    struct cap *ut = inv->cap;
    if (inv->label != PITH_UNTYPED_RETYPE)
        return PITH_E_ILLEGAL_OP;
    if (!(ut->rights & PITH_RIGHT_WRITE))
        return PITH_E_RIGHTS;
    /* Out-of-range values must not wrap into valid ones when narrowed: type 0 and
     * 255 size bits are refused by object_size_bits like the values they stand for. */
    uint64_t type_arg = inv_arg(inv, 0), bits_arg = inv_arg(inv, 1);
    unsigned type = type_arg < PITH_OBJ_TYPE_COUNT ? (unsigned)type_arg : 0, bits;
    int err = object_size_bits(type, bits_arg < 256 ? (unsigned)bits_arg : 255, &bits);
    if (err)
        return err;
    bool device = ut->aux & CAP_AUX_DEVICE;
    if (device && !type_fits_device(type))
        return PITH_E_INVALID_ARG;
    struct cap *dest_cnode = inv_cap_arg(inv, 2, PITH_OBJ_CNODE, PITH_RIGHT_WRITE, &err);
    if (!dest_cnode)
        return err;
    uint64_t first = inv_arg(inv, 3), count = inv_arg(inv, 4);
    if (count == 0 || count > RETYPE_MAX_COUNT)
        return PITH_E_RANGE;
    if (first == 0 || first >= BIT(cap_size_bits(dest_cnode)) ||
        count > BIT(cap_size_bits(dest_cnode)) - first)
        return PITH_E_RANGE;
    struct cap *slots = (struct cap *)dest_cnode->object + first;
    for (uint64_t i = 0; i < count; i++)
        if (!cap_is_empty(&slots[i]))
            return PITH_E_SLOT_OCCUPIED;
    if ((type == PITH_OBJ_ADDRESS_SPACE || type == PITH_OBJ_GUEST_SPACE) && count > vspace_asids_free())
        return PITH_E_NO_MEMORY;
    if ((type == PITH_OBJ_VCPU || type == PITH_OBJ_GUEST_SPACE) && !vcpu_available())
        return PITH_E_ILLEGAL_OP;
    if (!cap_can_derive_from(ut))
        return PITH_E_RANGE;
    /* Memory goes back to the watermark's start only when nothing can reach it: no
     * child capability, and no zombie whose slots may lie in it. */
    if (zombies_pending())      /* (system calls finish destruction before they start) */
        return KERNEL_RESTART;
    bool reset = !cap_has_children(ut) && !(ut->aux & CAP_AUX_CLEARING);
    uint64_t watermark = reset ? 0 : ut->data;
    bool fits;
    uint64_t start = untyped_place(watermark, bits, count, cap_size_bits(ut), &fits);
    if (!fits)
        return PITH_E_NO_MEMORY;
    uint64_t end = start + (count << bits);
    if (reset) {
        ut->data = 0;
        ut->data2 = 0;
    }
    if (!device && type != PITH_OBJ_UNTYPED && !untyped_clear(ut, start, end))
        return KERNEL_RESTART;

    /* point of no return */
    ut->data = end;
    ut->aux &= ~CAP_AUX_CLEARING;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t obj = ut->object + start + (i << bits);
        struct cap value = { .type = (uint8_t)type, .rights = PITH_RIGHTS_ALL, .object = obj };
        if (type == PITH_OBJ_UNTYPED || type == PITH_OBJ_CNODE || type == PITH_OBJ_FRAME_4K ||
            type == PITH_OBJ_FRAME_2M)
            value.aux = bits - (type == PITH_OBJ_CNODE ? 6 : 0);
        if (device)
            value.aux |= CAP_AUX_DEVICE;
        object_init(&value);
        cap_insert_child(ut, &slots[i], &value);
    }
    return PITH_OK;
}
#endif
