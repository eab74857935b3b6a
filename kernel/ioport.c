/*
 * I/O port ranges.  The I/O-port control capability issues a capability for a range;
 * that capability opens or closes the range in an address space's I/O permission
 * bitmap, which the CPU checks on every IN/OUT at CPL 3 (SDM 20.5.2), so port access
 * costs no system call.
 */
#include "kernel.h"
#include <arch.h>

/* The kernel's debug console (COM1, arch/x86_64/serial.c) is handed out only on an
 * explicit request (MR3 = 1): to the console server, which then shares the UART with
 * the kernel's own rare messages. */
#define KERNEL_UART_FIRST 0x3f8
#define KERNEL_UART_LAST  0x3ff

/* An I/O permission bitmap, one bit a port, 1 = the access traps: the layout of the
 * TSS bitmap (SDM 20.5.2), of the VMX I/O bitmaps A and B (SDM 25.6.4), and of the
 * first 64 Ki bits of the SVM I/O permission map (APM 15.10.1). */
void io_bitmap_set(uint8_t *map, unsigned first, unsigned last, bool open)
{
    for (unsigned port = first; port <= last; port++) {
        uint8_t bit = (uint8_t)(1u << (port & 7));
        if (open)
            map[port >> 3] &= (uint8_t)~bit;
        else
            map[port >> 3] |= bit;
    }
}

static int ioport_issue(struct invocation *inv)
{
    uint64_t first = inv_arg(inv, 0), last = inv_arg(inv, 1);
    if (first > 0xffff || last > 0xffff)
        return PITH_E_RANGE;
    if (first > last)
        return PITH_E_INVALID_ARG;
    if (!cap_can_derive_from(inv->cap))
        return PITH_E_RANGE;
    if (first <= KERNEL_UART_LAST && last >= KERNEL_UART_FIRST && inv_arg(inv, 3) != 1)
        return PITH_E_BUSY;
    int err;
    struct cap *dest = thread_cspace_empty_slot(inv->caller, inv_arg(inv, 2), &err);
    if (!dest)
        return err;
    struct cap value = { .type = PITH_CAP_IOPORT, .rights = PITH_RIGHTS_ALL,
                         .object = 0, .data = first | (last << 16) };
    cap_insert_child(inv->cap, dest, &value);
    return PITH_OK;
}

static int ioport_set(struct invocation *inv, bool allow)
{
    int err;
    struct cap *asc = inv_cap_arg(inv, 0, PITH_OBJ_ADDRESS_SPACE, PITH_RIGHT_WRITE, &err);
    if (!asc)
        return err;
    struct address_space *as = (struct address_space *)asc->object;
    unsigned first = inv->cap->data & 0xffff, last = (inv->cap->data >> 16) & 0xffff;
    io_bitmap_set(as->io_bitmap, first, last, allow);
    if (allow)
        as->io_ports_open = 1;
    arch_forget_space_io(as);
    return PITH_OK;
}

int ioport_invoke(struct invocation *inv)
{
    if (inv->cap->type == PITH_CAP_IOPORT_CONTROL)
        return inv->label == PITH_IOPORT_CONTROL_ISSUE ? ioport_issue(inv) : PITH_E_ILLEGAL_OP;
    switch (inv->label) {
    case PITH_IOPORT_ALLOW:
        return ioport_set(inv, true);
    case PITH_IOPORT_DENY:
        return ioport_set(inv, false);
    default:
        return PITH_E_ILLEGAL_OP;
    }
}
