/*
 * The link between a guest's virtio-net device and the switch: the VMM's side of a
 * channel (pith/netring.h).  What the guest transmits goes into the ring to the switch;
 * what the switch put in the ring to the guest goes into the guest's receive buffers
 * when it has some, and waits in the ring when it has none.  Pure: the VMM signals the
 * switch when net_link_poll or a transmission says so, and calls net_link_poll when the
 * switch signals it.
 */
#ifndef VMM_NET_LINK_H
#define VMM_NET_LINK_H

#include "pith/netring.h"
#include "virtio_net.h"

struct net_link {
    struct netring to_switch, to_guest;
    struct virtio_net *nic;
    bool signal_switch;                 /* frames were queued for the switch */
    uint8_t frame[NETRING_FRAME_MAX];
    uint64_t bad;                       /* bad slots or counters from the switch's side */
};

/* Attach to the channel at `channel` (`slots` per ring) and become nic's backend. */
bool net_link_attach(struct net_link *l, struct virtio_net *nic, void *channel, uint32_t slots);
/* The switch signalled, or the guest posted receive buffers: move what can move.
 * Returns whether to signal the switch (frames for it, or room in its ring). */
bool net_link_poll(struct net_link *l);
/* Whether a transmission since the last call queued frames (and clear it). */
bool net_link_take_signal(struct net_link *l);

#endif
