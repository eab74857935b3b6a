/*
 * A virtio network device (Virtio 1.x §5.1): queue 0 receives, queue 1 transmits, each
 * buffer preceded by a struct virtio_net_hdr; the configuration space holds the MAC
 * address and the link status.  What the guest transmits goes to a backend callback
 * (in Pith, the ring to the switch, pith/netring.h); what arrives for the guest is
 * handed to virtio_net_receive.  Checksum offload (VIRTIO_NET_F_CSUM) is offered: the
 * device completes a partial checksum before a frame leaves, so the other end never
 * sees one.  No segmentation offload, no mergeable buffers, one queue pair.
 *
 * Transmission completes inside the guest's notify, but with a clock the interrupt
 * for it is owed rather than sent (§2.7.10 asks for it, not for it at once), the way
 * a NIC's transmit interrupt delay does: it goes out with the next receive interrupt,
 * when the guest halts (virtio_net_flush_interrupts), or VIRTIO_NET_TX_INTERRUPT_DELAY_NS
 * after it became owed (virtio_net_update).  The guest finds the used entries sooner
 * anyway: Linux frees them at its next transmission and in its receive poll.  An
 * interrupt for each notify cost a guest two VM exits per frame sent (the injection
 * and its EOI; docs/benchmarks.md).
 *
 * With a clock, a transmit notify also turns further notifies off (the device names
 * an avail_event the driver has passed, §2.7.10): the device then looks at the queue
 * itself whenever the guest exits for something else (virtio_net_poll_transmit), when
 * it halts, and VIRTIO_NET_TX_POLL_NS after the last look that found something; a
 * look that finds nothing turns notifies on again.  A guest sending frame after frame
 * exits once per batch instead of once per frame (one notify each cost an exit).
 */
#ifndef VMM_VIRTIO_NET_H
#define VMM_VIRTIO_NET_H

#include "virtio.h"

#define VIRTIO_NET_FRAME_MAX    1518    /* 1500 bytes of payload, header, a VLAN tag */
#define VIRTIO_NET_HDR_LEGACY   10      /* without num_buffers (§5.1.6, legacy) */
#define VIRTIO_NET_HDR_MODERN   12      /* with num_buffers, always present in 1.x */
#define VIRTIO_NET_TX_INTERRUPT_DELAY_NS 1000000ull   /* the longest a transmit interrupt waits */
#define VIRTIO_NET_TX_POLL_NS   1000000ull  /* the longest a polled transmission waits */
#define VIRTIO_NET_NO_EVENT     UINT64_MAX

/* Feature bits (§5.1.3) and the header's flags (§5.1.6). */
#define VIRTIO_NET_F_CSUM       (1u << 0)
#define VIRTIO_NET_F_MAC        (1u << 5)
#define VIRTIO_NET_F_STATUS     (1u << 16)
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_S_LINK_UP    1

/* PCI identity of the transitional device (§4.1.2.3). */
#define VIRTIO_PCI_DEVICE_NET   0x1000
#define VIRTIO_SUBSYSTEM_NET    1
#define VIRTIO_TYPE_NET         1       /* the device type (§5.1): the modern device ID is 0x1040 + 1 */

struct virtio_net_backend {
    /* Send one frame; false when the backend has no room now (the device keeps the
     * frame and retries on the next notify or virtio_net_transmit_resume). */
    bool (*transmit)(void *ctx, const uint8_t *frame, uint32_t length);
    /* The guest posted receive buffers: frames waiting for it can be delivered now. */
    void (*receive_ready)(void *ctx);
    void *ctx;
};

struct virtio_net_stats {
    uint64_t tx_frames, tx_malformed, rx_frames, rx_dropped;
};

struct virtio_net {
    struct virtio_device dev;
    uint8_t mac[6];
    bool link_up;
    struct virtio_net_backend backend;
    struct virtio_net_stats stats;
    /* a frame the backend refused, sent before any newer one */
    uint8_t held[VIRTIO_NET_FRAME_MAX];
    uint32_t held_length;
    /* a receive chain taken from the driver and not yet filled */
    struct virtio_chain rx_chain;
    bool rx_chain_held;
    /* ns; NULL: transmit interrupts go out at once */
    uint64_t (*clock)(void *ctx);
    void *clock_ctx;
    bool tx_interrupt_owed;
    uint64_t tx_interrupt_due;          /* clock time by which it goes out */
    bool tx_polling;                    /* transmit notifies are off: the device looks */
    uint64_t tx_poll_due;               /* clock time of the next look */
};

void virtio_net_init(struct virtio_net *n, struct guest_memory memory, struct irq_line irq,
                     const uint8_t mac[6], struct virtio_net_backend backend);

/* Whether the guest has a receive buffer ready (the driver is up and posted one). */
bool virtio_net_receive_ready(struct virtio_net *n);
/* Deliver a frame to the guest.  False when it has no receive buffer (keep the frame
 * and retry after receive_ready); true when delivered or dropped (link down, a frame
 * that is not one, or a buffer too small for it). */
bool virtio_net_receive(struct virtio_net *n, const uint8_t *frame, uint32_t length);
/* The backend has room again: send what the guest queued meanwhile. */
void virtio_net_transmit_resume(struct virtio_net *n);
/* Bytes of struct virtio_net_hdr before each frame: with num_buffers once
 * VIRTIO_F_VERSION_1 is negotiated (§5.1.6), without it on the legacy transport. */
unsigned virtio_net_header_length(const struct virtio_net *n);
/* Send an owed transmit interrupt now. */
void virtio_net_flush_interrupts(struct virtio_net *n);
/* The guest exited for something else: take what it queued for transmission while
 * transmit notifies are off. */
void virtio_net_poll_transmit(struct virtio_net *n);
/* The guest halts, nothing left to spare it: what it queued goes out, notifies are
 * on again, an owed transmit interrupt is sent. */
void virtio_net_guest_halted(struct virtio_net *n);
/* At clock time `now`: look at the transmit queue if a look is due (a look that finds
 * nothing turns notifies on again); send an owed transmit interrupt that is due. */
void virtio_net_update(struct virtio_net *n, uint64_t now);
/* When virtio_net_update next has something to do, or VIRTIO_NET_NO_EVENT. */
uint64_t virtio_net_next_event(const struct virtio_net *n);
/* Link status; a change interrupts the driver (configuration change, §4.1.4.5). */
void virtio_net_set_link(struct virtio_net *n, bool up);

#endif
