/*
 * Message transfer between two threads: the message-info word, message registers
 * 0..3 in CPU registers, 4..63 through the IPC buffers, and at most one capability
 * when the sender's capability carries the grant right.  A faulting thread's
 * message is made from its fault record instead of its registers.
 */
#include "kernel.h"
#include <arch.h>

static const unsigned regs_mr_count = PITH_MSG_REGS_IN_CPU;

uint64_t thread_mr(const struct thread *t, unsigned i)
{
    switch (i) {                /* constant indices: each case is one load */
    case 0: return arch_mr_reg(t, 0);
    case 1: return arch_mr_reg(t, 1);
    case 2: return arch_mr_reg(t, 2);
    case 3: return arch_mr_reg(t, 3);
    default: return t->ipc_buffer && i < PITH_MSG_MAX ? t->ipc_buffer->mr[i] : 0;
    }
}

void thread_set_mr(struct thread *t, unsigned i, uint64_t v)
{
    switch (i) {
    case 0: arch_set_mr_reg(t, 0, v); break;
    case 1: arch_set_mr_reg(t, 1, v); break;
    case 2: arch_set_mr_reg(t, 2, v); break;
    case 3: arch_set_mr_reg(t, 3, v); break;
    default:
        if (t->ipc_buffer && i < PITH_MSG_MAX)
            t->ipc_buffer->mr[i] = v;
    }
}

/* How many message registers fit between these two threads. */
static unsigned transferable(const struct thread *from, const struct thread *to, unsigned want)
{
    if (want > PITH_MSG_MAX)
        want = PITH_MSG_MAX;
    if (want > regs_mr_count && (!from->ipc_buffer || !to->ipc_buffer))
        want = regs_mr_count;
    return want;
}

static bool transfer_cap(struct thread *from, struct thread *to)
{
    if (!from->ipc_buffer || !to->ipc_buffer || !to->ipc_buffer->receive_slot)
        return false;
    int err;
    struct cap *src = thread_cspace_lookup(from, from->ipc_buffer->caps[0], &err);
    if (!src || !cap_derivable(src) || !cap_can_derive_from(src))
        return false;
    struct cap *dest = thread_cspace_empty_slot(to, to->ipc_buffer->receive_slot, &err);
    if (!dest)
        return false;
    struct cap value = *src;
    cap_prepare_copy(&value);
    cap_insert_child(src, dest, &value);
    return true;
}

bool ipc_transfer(struct thread *from, struct thread *to, uint64_t badge, bool grant)
{
    uint64_t info, label;
    unsigned length;
    if (from->fault_label && from->vcpu) {       /* a VM exit (vcpu.c): header, groups */
        _Static_assert(PITH_VM_EXIT_HEADER == PITH_MSG_REGS_IN_CPU, "the header is the registers");
        const uint64_t *msg = from->vcpu->msg;
        label = from->fault_label;
        length = from->vcpu->msg_length;        /* PITH_VM_EXIT_HEADER .. PITH_MSG_MAX */
        arch_set_mr_reg(to, 0, msg[0]);
        arch_set_mr_reg(to, 1, msg[1]);
        arch_set_mr_reg(to, 2, msg[2]);
        arch_set_mr_reg(to, 3, msg[3]);
        if (!to->ipc_buffer)
            length = PITH_MSG_REGS_IN_CPU;
        else if (length > PITH_MSG_REGS_IN_CPU)
            memcpy(&to->ipc_buffer->mr[PITH_MSG_REGS_IN_CPU], &msg[PITH_MSG_REGS_IN_CPU],
                   (length - PITH_MSG_REGS_IN_CPU) * sizeof(uint64_t));
        info = 0;
    } else if (from->fault_label) {
        label = from->fault_label;
        length = 4;
        for (unsigned i = 0; i < 4; i++)
            thread_set_mr(to, i, from->fault_mr[i]);
        info = 0;
    } else {
        info = arch_msg_info(from);
        label = pith_msginfo_label(info);
        length = transferable(from, to, (unsigned)pith_msginfo_length(info));
        arch_copy_mr_regs(from, to);
        for (unsigned i = regs_mr_count; i < length; i++)
            to->ipc_buffer->mr[i] = from->ipc_buffer->mr[i];
    }
    uint64_t out = pith_msginfo(label, length, 0);
    if (grant && pith_msginfo_caps(info) && transfer_cap(from, to))
        out |= PITH_MSG_CAP_RECEIVED;
    arch_set_result(to, PITH_OK);
    arch_set_badge(to, badge);
    arch_set_msg_info(to, out);
    return true;
}
