/*
 * How the root task starts a VMM for a guest of the system configuration
 * (docs/config.md), and how the VMM reports back.
 *
 * The VMM is a child domain (pith/process.h).  Its boot info carries:
 *   args      the guest's block of the configuration, as text ("guest NAME" then its
 *             keys), parsed with the same parser (pith/sysconf.h)
 *   modules   the boot modules the block names (kernel, initrd, disk), by their names,
 *             mapped read-only, without capabilities; all but the disks (disk, cdrom)
 *             at PITH_CHILD_LOAD_MODULES, and only until the VMM sends PITH_GUEST_LOADED
 *   untyped   the guest's memory plus what the VMM needs for itself, which the root
 *             task sizes from the guest's block (docs/vmm.md)
 *   extra     PITH_GUEST_SLOT_CONSOLE: a capability to the console server (pith/console.h),
 *             badged for this guest; PITH_GUEST_SLOT_ROOT: an endpoint to the root task,
 *             badged for this guest; PITH_GUEST_SLOT_NOTIFY, the VMM's own
 *             notification, to bind to its thread: the root task holds a copy badged
 *             PITH_GUEST_POWER_BUTTON_BADGE (the control shell's `stop`: the VMM
 *             presses the guest's ACPI power button), and with a NIC the switch one
 *             badged PITH_GUEST_NET_BADGE; PITH_GUEST_SLOT_STATS, a frame the root
 *             task reads too, where the VMM keeps struct pith_guest_stats
 *             With `net` (a NIC on the switch server, docs/network.md) more:
 *             PITH_GUEST_SLOT_NET_SWITCH, the switch's notification badged with the
 *             guest's port, to signal after queueing frames (the switch signals the
 *             VMM's notification: frames for the guest, or room again); and from
 *             PITH_GUEST_SLOT_NET_FRAMES on, the channel's
 *             PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS) frames in address order
 *             (pith/switch.h), shared with the switch and nobody else
 *             No capability for COM2: the root task opens its ports (0x2f8-0x2ff) in
 *             the VMM's address space itself while the VMM serves the GDB remote
 *             protocol there, and closes them again (gdb_grant below, docs/gdb.md)
 * Once the guest is loaded, the VMM sends PITH_GUEST_LOADED on the root endpoint.
 * When the guest powers off, the VMM sends PITH_GUEST_STOPPED (MR0 = 0 for a clean
 * power-off, otherwise an error) on the root endpoint and stops.  The VMM thread's
 * faults go to the same endpoint, so a crashed VMM is noticed too.  The root task
 * powers the machine off when no guest is left.
 */
#ifndef PITH_GUEST_H
#define PITH_GUEST_H

#include <stdint.h>
#include <pith/vm.h>

enum pith_guest_slot {
    PITH_GUEST_SLOT_CONSOLE,
    PITH_GUEST_SLOT_ROOT,
    PITH_GUEST_SLOT_NOTIFY,
    PITH_GUEST_SLOT_STATS,
    PITH_GUEST_SLOT_COUNT,
    PITH_GUEST_SLOT_NET_SWITCH = PITH_GUEST_SLOT_COUNT,
    PITH_GUEST_SLOT_NET_FRAMES,
};

#define PITH_GUEST_NET_BADGE    (1ull << 1) /* the switch's signal in the VMM's word */

#define PITH_GUEST_POWER_BUTTON_BADGE (1ull << 2) /* the root task's signal: press it */

/* The root task's signal: COM2 was given or taken, see gdb_grant (docs/gdb.md). */
#define PITH_GUEST_GDB_BADGE    (1ull << 3)

/* What the VMM counts for the control shell's `stats`, in the PITH_GUEST_SLOT_STATS
 * frame.  Times are TSC ticks summed over the vCPUs; the time in the guest is the
 * rest of the vCPUs' time since started_tsc (it includes waiting for a host CPU). */
struct pith_guest_stats {
    uint64_t magic;                 /* PITH_GUEST_STATS_MAGIC once the guest runs */
    uint64_t ram_bytes;             /* the guest's RAM */
    uint64_t vmm_bytes;             /* the VMM's memory beyond it: objects, tables, heap */
    uint64_t vcpus;
    uint64_t started_tsc;           /* when the first vCPU first ran */
    uint64_t vmm_tsc;               /* from an exit's arrival to its reply, less halts */
    uint64_t halted_tsc;            /* waiting in HLT for an interrupt */
    uint64_t exits[PITH_EXIT_COUNT];    /* by reason (pith/vm.h) */
    /* The GDB stub's COM2 (docs/gdb.md).  The root task writes gdb_grant: nonzero
     * while it keeps COM2's ports open in this VMM's address space, 0 when it takes
     * them back.  The VMM writes gdb_in_use: the grant it serves, 0 once it has
     * stopped touching the ports.  The root task closes them anyway after a short
     * wait: the VMM's word only spares a well-behaved VMM a fault. */
    uint64_t gdb_grant;
    uint64_t gdb_in_use;
};
#define PITH_GUEST_STATS_MAGIC  0x7374617473ull   /* "stats" */

#define PITH_GUEST_STOPPED      0x100       /* label of the VMM's report */
/* Label of the VMM's word that its guest is loaded: it no longer reads the modules it
 * copied into the guest (kernel, initrd, firmware), and the root task unmaps them. */
#define PITH_GUEST_LOADED       0x101

#endif
