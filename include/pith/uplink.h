/*
 * How the root task starts the uplink server (user/uplink): the user-level driver of
 * the host's Intel e1000 NIC, connected to one port of the switch like a guest's VMM
 * (docs/network.md, "The uplink").
 *
 * The root task finds the NIC on the host's PCI bus, turns on its memory decoding and
 * bus mastering, and hands the uplink (a child domain, pith/process.h) an argument
 * block struct pith_uplink_args and these extra capabilities, in order:
 *   PITH_UPLINK_SLOT_NOTIFY    its notification: it waits on it; the NIC's interrupt
 *                              signals it with PITH_UPLINK_IRQ_BADGE, the switch with
 *                              PITH_UPLINK_SWITCH_BADGE
 *   PITH_UPLINK_SLOT_SWITCH    the switch's notification, badged with the port's bit
 *   PITH_UPLINK_SLOT_IRQ       the handler of the NIC's interrupt line (already bound
 *                              to the notification; the uplink ACKs it)
 *   from PITH_UPLINK_SLOT_BAR  PITH_UPLINK_BAR_FRAMES device frames: the NIC's
 *                              registers (BAR 0), in address order
 *   then PITH_SWITCH_CHANNEL_FRAMES(slots) frames: its channel to the switch, in
 *   address order (ring NETRING_TO_SWITCH carries what the wire gave, ring
 *   NETRING_TO_GUEST what goes out on it)
 * The NIC does DMA to any physical address: without an IOMMU the uplink is trusted.
 */
#ifndef PITH_UPLINK_H
#define PITH_UPLINK_H

#include <stdint.h>
#include "pith/switch.h"

#define PITH_UPLINK_MAGIC       0x6b6e696c70755f70ull   /* "p_uplink" */
#define PITH_UPLINK_BAR_BYTES   0x20000u                /* the 8254x's register space */
#define PITH_UPLINK_BAR_FRAMES  (PITH_UPLINK_BAR_BYTES / 4096u)

#define PITH_UPLINK_IRQ_BADGE     (1ull << 0)
#define PITH_UPLINK_SWITCH_BADGE  (1ull << 1)

#define PITH_UPLINK_SLOT_NOTIFY   0
#define PITH_UPLINK_SLOT_SWITCH   1
#define PITH_UPLINK_SLOT_IRQ      2
#define PITH_UPLINK_SLOT_BAR      3
#define PITH_UPLINK_SLOT_CHANNEL  (PITH_UPLINK_SLOT_BAR + PITH_UPLINK_BAR_FRAMES)
#define PITH_UPLINK_CAPS(slots)   (PITH_UPLINK_SLOT_CHANNEL + PITH_SWITCH_CHANNEL_FRAMES(slots))

/* Where the uplink maps the NIC's registers and its channel. */
#define PITH_UPLINK_REGISTERS   0x0000300000000000ull
#define PITH_UPLINK_CHANNEL     0x0000300001000000ull
#define PITH_UPLINK_DMA         0x0000300002000000ull

struct pith_uplink_args {
    uint64_t magic;
    uint64_t slots;                     /* per ring of the channel */
    uint64_t segment;                   /* for its messages */
    uint64_t pci_location;              /* bus << 8 | device << 3 | function */
    uint64_t bar_phys;                  /* BAR 0's physical address */
    uint64_t irq_line;
};

#endif
