/* VM exits as a VMM sees them: receive, edit, reply (pith/vmexit.h). */
#include "pith/pith.h"
#include "pith/string.h"
#include <pith/bulk.h>
#include "pith/vmexit.h"

/* Words of a message: many (the GPR group) 64 bytes a step, a few one by one. */
static inline __attribute__((always_inline)) void copy_message_words(uint64_t *to, const uint64_t *from, size_t n)
{
    if (n >= 8)
        pith_memcpy(to, from, n * sizeof(uint64_t));
    else
        pith_copy_words(to, from, n);
}

static void take(struct pith_vm_exit *exit, const struct pith_msg *msg)
{
    _Static_assert(PITH_MSG_REGS_IN_CPU == 4, "the registers below");
    exit->reason = pith_msginfo_label(msg->info);
    exit->badge = msg->badge;
    exit->length = pith_msginfo_length(msg->info);
    exit->mr[0] = msg->mr[0];       /* all four, sent or not: they are only registers */
    exit->mr[1] = msg->mr[1];
    exit->mr[2] = msg->mr[2];
    exit->mr[3] = msg->mr[3];
    unsigned length = exit->length < PITH_MSG_MAX ? (unsigned)exit->length : PITH_MSG_MAX;
    if (length > PITH_MSG_REGS_IN_CPU)
        copy_message_words(&exit->mr[PITH_MSG_REGS_IN_CPU], &pith_ipc_buffer()->mr[PITH_MSG_REGS_IN_CPU],
                           length - PITH_MSG_REGS_IN_CPU);
}

/* The reply message: the header words, then the groups of `mask` (a subset of the
 * transfer mask) copied from their places in the exit, packed in bit order. */
static uint64_t put_reply(const struct pith_vm_exit *exit, struct pith_msg *msg, uint64_t mask,
                          uint64_t inject, uint64_t error_code, uint64_t windows)
{
    struct pith_ipc_buffer *buffer = pith_ipc_buffer();
    msg->mr[0] = inject;
    msg->mr[1] = error_code;
    msg->mr[2] = windows;
    msg->mr[3] = 0;
    mask &= exit->transfer_mask;
    unsigned out = PITH_VM_EXIT_HEADER;
    if (mask == exit->transfer_mask) {          /* all that came: one block */
        out += pith_vm_groups_length(mask);
        copy_message_words(&buffer->mr[PITH_VM_EXIT_HEADER], &exit->mr[PITH_VM_EXIT_HEADER],
                           out - PITH_VM_EXIT_HEADER);
        return pith_msginfo(mask, out, 0);
    }
    for (uint64_t left = mask; left; left &= left - 1) {
        unsigned g = (unsigned)__builtin_ctzll(left), words = pith_vm_group_words(g);
        copy_message_words(&buffer->mr[out], &exit->mr[pith_vm_group_at(exit->transfer_mask, 1ull << g)],
                           words);
        out += words;
    }
    return pith_msginfo(mask, out, 0);
}

enum pith_error pith_vm_wait_exit(pith_cap_t endpoint, struct pith_vm_exit *exit)
{
    struct pith_msg msg;
    enum pith_error err = pith_recv(endpoint, &msg);
    if (err == PITH_OK)
        take(exit, &msg);
    return err;
}

enum pith_error pith_vm_reply(const struct pith_vm_exit *exit, uint64_t mask, uint64_t inject,
                              uint64_t error_code, uint64_t windows)
{
    struct pith_msg msg;
    msg.info = put_reply(exit, &msg, mask, inject, error_code, windows);
    return pith_reply(&msg);
}

enum pith_error pith_vm_reply_wait(pith_cap_t endpoint, struct pith_vm_exit *exit, uint64_t mask,
                                   uint64_t inject, uint64_t error_code, uint64_t windows)
{
    struct pith_msg msg;
    msg.info = put_reply(exit, &msg, mask, inject, error_code, windows);
    enum pith_error err = pith_reply_recv(endpoint, &msg);
    if (err == PITH_OK)
        take(exit, &msg);
    return err;
}
