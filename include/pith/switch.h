/*
 * How the root task starts the switch server (user/switch) and connects guest NICs to
 * it (docs/network.md).
 *
 * The switch is a child domain (pith/process.h).  Its argument block is a struct
 * pith_switch_args.  Its extra capabilities, in order:
 *   PITH_SWITCH_SLOT_NOTIFY    its notification: it waits on it; every guest's VMM holds
 *                              a copy badged with the bit of its port (1 << port) and
 *                              signals it after queueing frames
 *   then for each port p, PITH_SWITCH_PORT_CAPS(slots) capabilities from
 *   PITH_SWITCH_PORT_FIRST(p, slots):
 *     the notification of that guest's VMM (the switch signals it: frames for the
 *     guest, or room again in the guest's transmit ring), then the channel's frames
 *     (NETRING_CHANNEL_BYTES(slots) / 4096 of them, in address order).
 * The root task retypes each channel's frames fresh (zeroed) and gives them to exactly
 * two domains: the switch and that guest's VMM.  The switch maps port p's channel at
 * PITH_SWITCH_CHANNELS + p * NETRING_CHANNEL_BYTES(slots).
 */
#ifndef PITH_SWITCH_H
#define PITH_SWITCH_H

#include <stdint.h>
#include "pith/netring.h"

#define PITH_SWITCH_MAGIC       0x6863746977735f70ull   /* "p_switch" */
#define PITH_SWITCH_PORTS_MAX   62                      /* badges stay below bit 63 */
#define PITH_SWITCH_CHANNELS    0x0000200000000000ull

struct pith_switch_args {
    uint64_t magic;
    uint64_t port_count;
    uint64_t slots;                     /* per ring, the same for every port */
    uint64_t segment[PITH_SWITCH_PORTS_MAX];
    /* the port's one source address, its six bytes in order from bit 40 down; 0: any
     * (the uplink, which carries the outside network's addresses) */
    uint64_t mac[PITH_SWITCH_PORTS_MAX];
};

#define PITH_SWITCH_SLOT_NOTIFY         0
#define PITH_SWITCH_CHANNEL_FRAMES(slots) ((unsigned)(NETRING_CHANNEL_BYTES(slots) / 4096))
#define PITH_SWITCH_PORT_CAPS(slots)    (1 + PITH_SWITCH_CHANNEL_FRAMES(slots))
#define PITH_SWITCH_PORT_FIRST(p, slots) (1 + (p) * PITH_SWITCH_PORT_CAPS(slots))

#endif
