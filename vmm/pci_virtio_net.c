/*
 * The PC's virtio-net at 00:04.0 for a guest with `net`, on the modern virtio 1.x
 * transport (dev/virtio_pci_modern.h): one 64-bit memory BAR, placed at
 * PC_PCI_MMIO_BASE + 4 MiB (the guest may move it), and MSI-X, whose messages go over
 * the APIC bus (pc_msi); INTA# while the driver leaves MSI-X off.  Its frames go
 * through the channel to the switch server (docs/network.md, dev/net_link.h).  The
 * switch is signalled when the guest's notify queued frames for it or took frames
 * from it; its signal (PITH_GUEST_NET_BADGE) moves what can move.
 *
 * The device has the VMM's clock, so it may owe transmit interrupts and poll the
 * transmit queue instead of taking a notify per frame (dev/virtio_net.h): it looks
 * at every exit of the guest, when the guest halts, and at its own deadline.  The
 * queues share one MSI-X vector, so an owed transmit interrupt rides on the next
 * receive interrupt as one message.
 */
#include <pith/alloc.h>
#include <pith/guest.h>
#include <pith/pith.h>
#include <pith/string.h>

#include "dev/net_link.h"
#include "dev/virtio_net.h"
#include "dev/virtio_pci_modern.h"
#include "vm.h"

struct nic {
    struct virtio_net net;
    struct virtio_modern modern;
    struct net_link link;
    pith_cap_t switch_signal;
};

/* Frames the guest queued for the switch, or took from it (net_link.h): tell it. */
static void signal_switch(struct nic *n)
{
    if (net_link_take_signal(&n->link))
        pith_signal(n->switch_signal);
}

static uint64_t now_ns(void *vm)
{
    return vm_now_ns(vm);
}

static uint64_t nic_read(void *dev, uint64_t offset, unsigned size)
{
    return virtio_modern_ops.read(&((struct nic *)dev)->modern, offset, size);
}

static void nic_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct nic *n = dev;
    virtio_modern_ops.write(&n->modern, offset, size, value);
    signal_switch(n);
}

static void nic_reset(void *dev) { virtio_modern_ops.reset(&((struct nic *)dev)->modern); }

static const struct device_ops nic_ops = { "virtio-net", nic_read, nic_write, nic_reset };

static bool create(struct vm *vm, const struct pc_setup *setup, struct pc_pci_device *d)
{
    const struct pc_net *net = setup->net;
    if (!net)
        return true;
    struct nic *n = pith_malloc(sizeof(*n));
    if (!n)
        return false;
    memset(n, 0, sizeof(*n));
    virtio_net_init(&n->net, pc_dma(vm), pc_pci_line(vm, d->kind->slot), net->mac,
                    (struct virtio_net_backend){ 0 });
    if (!net_link_attach(&n->link, &n->net, net->channel, NETRING_SLOTS))
        return false;
    n->switch_signal = net->switch_signal;
    n->net.clock = now_ns;              /* transmit interrupts may wait, the queue is polled */
    n->net.clock_ctx = vm;
    virtio_modern_init(&n->modern, &n->net.dev, VIRTIO_TYPE_NET, 0x020000, pc_msi, vm);
    virtio_modern_set_vectors(&n->modern, 2);   /* configuration changes; both queues */
    d->state = n;
    pc_modern_function(d, &n->modern, &nic_ops, n);
    return true;
}

static void signalled(struct vm *vm, struct pc_pci_device *d, uint64_t bits)
{
    (void)vm;
    struct nic *n = d->state;
    if ((bits & PITH_GUEST_NET_BADGE) && net_link_poll(&n->link))
        pith_signal(n->switch_signal);
}

static uint64_t update(struct vm *vm, struct pc_pci_device *d, uint64_t now)
{
    (void)vm;
    struct nic *n = d->state;
    virtio_net_update(&n->net, now);
    signal_switch(n);
    uint64_t next = virtio_net_next_event(&n->net);
    return next == VIRTIO_NET_NO_EVENT ? PC_NO_EVENT : next;
}

static void after_exit(struct vm *vm, struct pc_pci_device *d)
{
    (void)vm;
    struct nic *n = d->state;
    virtio_net_poll_transmit(&n->net);
    signal_switch(n);
}

static void halted(struct vm *vm, struct pc_pci_device *d)
{
    (void)vm;
    struct nic *n = d->state;
    virtio_net_guest_halted(&n->net);
    signal_switch(n);
}

static void report(struct vm *vm, const struct pc_pci_device *d)
{
    const struct virtio_net_stats *s = &((const struct nic *)d->state)->net.stats;
    vm_log(vm, "NIC: %lu frames sent, %lu received, %lu malformed, %lu dropped", s->tx_frames,
           s->rx_frames, s->tx_malformed, s->rx_dropped);
}

const struct pc_pci_kind pci_virtio_net = {
    .name = "virtio-net", .slot = 4, .create = create, .signalled = signalled, .update = update,
    .after_exit = after_exit, .halted = halted, .report = report,
};
