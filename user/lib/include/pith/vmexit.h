/*
 * Receiving VM exits and answering them (pith/vm.h is the protocol): a VMM thread
 * waits on the exit endpoint, looks at the reason and the state that came with it,
 * changes what it must and replies.
 */
#ifndef PITH_VMEXIT_H
#define PITH_VMEXIT_H

#include <stdbool.h>
#include "pith/syscall.h"

/* Index of a group's first word in an exit message with this transfer mask. */
static inline unsigned pith_vm_group_at(uint64_t mask, uint64_t group)
{
    return PITH_VM_EXIT_HEADER + pith_vm_groups_length(mask & (group - 1));
}

/* One exit: the reason, the header and the groups, copied out of the message.
 * Set transfer_mask to the vCPU's transfer mask before the first wait. */
struct pith_vm_exit {
    uint64_t transfer_mask;
    uint64_t reason;
    uint64_t badge;
    uint64_t length;
    uint64_t mr[PITH_MSG_MAX];
};

/* The buffered port writes that came with the exit (after its groups; VCpu.SET_PORT):
 * their number (0: none), the port in *port and the bytes, in the order written, in
 * bytes[0..PITH_VM_PORT_BUFFER_BYTES-1]. */
static inline unsigned pith_vm_exit_port_writes(const struct pith_vm_exit *exit, uint16_t *port,
                                                uint8_t *bytes)
{
    unsigned at = PITH_VM_EXIT_HEADER + pith_vm_groups_length(exit->transfer_mask);
    if (exit->length <= at || exit->length > PITH_MSG_MAX)
        return 0;
    unsigned count = exit->mr[at] & 0xffff;
    if (count > PITH_VM_PORT_BUFFER_BYTES || exit->length < at + 1 + (count + 7) / 8)
        return 0;
    *port = (uint16_t)(exit->mr[at] >> 16);
    for (unsigned i = 0; i < count; i++)
        bytes[i] = (uint8_t)(exit->mr[at + 1 + i / 8] >> (8 * (i % 8)));
    return count;
}

/* Wait for the next exit on `endpoint`. */
enum pith_error pith_vm_wait_exit(pith_cap_t endpoint, struct pith_vm_exit *exit);
/* Reply to the exit: the groups of `mask` (within the transfer mask) are taken from
 * exit->mr where the exit had them, so a VMM edits the message it received and sends
 * it back.  inject: PITH_VM_EVENT_* or 0; windows: PITH_VM_WINDOW_*. */
enum pith_error pith_vm_reply(const struct pith_vm_exit *exit, uint64_t mask, uint64_t inject,
                              uint64_t error_code, uint64_t windows);
/* Both at once: reply, then wait for the next exit. */
enum pith_error pith_vm_reply_wait(pith_cap_t endpoint, struct pith_vm_exit *exit, uint64_t mask,
                                   uint64_t inject, uint64_t error_code, uint64_t windows);

#endif
