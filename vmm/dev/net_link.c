/* The VMM's side of a guest NIC's channel to the switch (net_link.h). */
#include "net_link.h"

static void link_receive_ready(void *ctx);

static bool link_transmit(void *ctx, const uint8_t *frame, uint32_t length)
{
    struct net_link *l = ctx;
    if (length < NETRING_FRAME_MIN || length > NETRING_FRAME_MAX)
        return true;                    /* not a frame: dropped */
    if (!netring_push(&l->to_switch, frame, length))
        return false;                   /* full: the device keeps it until the switch signals */
    l->signal_switch = true;
    return true;
}

bool net_link_attach(struct net_link *l, struct virtio_net *nic, void *channel, uint32_t slots)
{
    *l = (struct net_link){ .nic = nic };
    if (!netring_attach(&l->to_switch, channel, slots, NETRING_TO_SWITCH) ||
        !netring_attach(&l->to_guest, channel, slots, NETRING_TO_GUEST))
        return false;
    /* The channel outlives a VMM (a guest started again keeps it): go on from the
     * counters the last VMM published, this side's own, or the switch and this side
     * would each take the other's for corruption and the NIC would never work again. */
    l->to_switch.index = __atomic_load_n(netring_counter(&l->to_switch, NETRING_HEAD_OFFSET), __ATOMIC_ACQUIRE);
    l->to_guest.index = __atomic_load_n(netring_counter(&l->to_guest, NETRING_TAIL_OFFSET), __ATOMIC_ACQUIRE);
    nic->backend = (struct virtio_net_backend){ .transmit = link_transmit,
                                              .receive_ready = link_receive_ready, .ctx = l };
    return true;
}

bool net_link_take_signal(struct net_link *l)
{
    bool signal = l->signal_switch;
    l->signal_switch = false;
    return signal;
}

/* Frames waiting for the guest into its receive buffers; whether any was taken. */
static bool deliver(struct net_link *l)
{
    bool consumed = false;
    while (virtio_net_receive_ready(l->nic)) {
        int length = netring_pop(&l->to_guest, l->frame, sizeof(l->frame));
        if (length == NETRING_EMPTY || length == NETRING_CORRUPTED) {
            l->bad += length == NETRING_CORRUPTED;
            break;
        }
        consumed = true;
        if (length > 0)
            virtio_net_receive(l->nic, l->frame, (uint32_t)length);
        else
            l->bad++;
    }
    return consumed;
}

/* The guest posted receive buffers (a notify of its receive queue). */
static void link_receive_ready(void *ctx)
{
    struct net_link *l = ctx;
    if (deliver(l))
        l->signal_switch = true;        /* room in the switch's ring to us */
}

bool net_link_poll(struct net_link *l)
{
    bool consumed = deliver(l);
    virtio_net_transmit_resume(l->nic);
    return net_link_take_signal(l) || consumed;
}
