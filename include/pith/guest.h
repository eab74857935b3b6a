/*
 * How the root task starts a VMM for a guest of the system configuration
 * (docs/config.md), and how the VMM reports back.
 *
 * The VMM is a child domain (pith/process.h).  Its boot info carries:
 *   args      the guest's block of the configuration, as text ("guest NAME" then its
 *             keys), parsed with the same parser (vmm/dev/sysconf.h)
 *   modules   the boot modules the block names (kernel, initrd, disk), by their names
 *   untyped   the guest's memory plus PITH_GUEST_VMM_BYTES for the VMM itself
 *   extra     PITH_GUEST_SLOT_CONSOLE: a capability to the console server (pith/console.h),
 *             badged for this guest; PITH_GUEST_SLOT_ROOT: an endpoint to the root task,
 *             badged for this guest
 *             With `net` (a NIC on the switch server, docs/network.md) three more:
 *             PITH_GUEST_SLOT_NET_NOTIFY, the VMM's own notification, to bind to its
 *             thread (the switch holds a copy badged PITH_GUEST_NET_BADGE and signals
 *             it: frames for the guest, or room again); PITH_GUEST_SLOT_NET_SWITCH, the
 *             switch's notification badged with the guest's port, to signal after
 *             queueing frames; and from PITH_GUEST_SLOT_NET_FRAMES on, the channel's
 *             PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS) frames in address order
 *             (pith/switch.h), shared with the switch and nobody else
 *             With `gdb yes`, one more after all these: the I/O ports of COM2
 *             (0x2f8-0x2ff), where the VMM serves the GDB remote protocol (docs/gdb.md)
 * When the guest powers off, the VMM sends PITH_GUEST_STOPPED (MR0 = 0 for a clean
 * power-off, otherwise an error) on the root endpoint and stops.  The VMM thread's
 * faults go to the same endpoint, so a crashed VMM is noticed too.  The root task
 * powers the machine off when no guest is left.
 */
#ifndef PITH_GUEST_H
#define PITH_GUEST_H

enum pith_guest_slot {
    PITH_GUEST_SLOT_CONSOLE,
    PITH_GUEST_SLOT_ROOT,
    PITH_GUEST_SLOT_COUNT,
    PITH_GUEST_SLOT_NET_NOTIFY = PITH_GUEST_SLOT_COUNT,
    PITH_GUEST_SLOT_NET_SWITCH,
    PITH_GUEST_SLOT_NET_FRAMES,
};

#define PITH_GUEST_NET_BADGE    (1ull << 1) /* the switch's signal in the VMM's word */

#define PITH_GUEST_STOPPED      0x100       /* label of the VMM's report */
#define PITH_GUEST_VMM_BYTES    (8ull << 20)

#endif
