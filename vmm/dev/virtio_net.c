/*
 * virtio-net (Virtio 1.x §5.1), see virtio_net.h.  Every chain the driver hands over is
 * checked before use: the transport drops loops, out-of-range indices and chains longer
 * than it can hold (virtio.c); here a transmit chain must be all driver-readable and
 * hold a header and a frame of at most VIRTIO_NET_FRAME_MAX bytes, and a receive chain
 * all device-writable.  A malformed chain is given back with nothing done: a guest
 * that writes nonsense loses its own frames, nothing else.
 */
#include "virtio_net.h"

#define RECEIVEQ    0
#define TRANSMITQ   1
#define CONFIG_SIZE 8       /* mac[6], status (§5.1.4) */
#define STATUS_DRIVER_OK 4

/* struct virtio_net_hdr (§5.1.6), little-endian like the guest. */
struct net_header {
    uint8_t flags, gso_type;
    uint16_t header_length, gso_size, csum_start, csum_offset, num_buffers;
};

static struct virtio_net *net_of(struct virtio_device *d) { return d->impl; }

static uint8_t net_config_read(struct virtio_device *d, unsigned offset)
{
    const struct virtio_net *n = net_of(d);
    if (offset < 6)
        return n->mac[offset];
    if (offset == 6)
        return n->link_up ? VIRTIO_NET_S_LINK_UP : 0;
    return 0;
}

/* Complete a partial checksum (§5.1.6.2): the one's-complement sum of the bytes from
 * csum_start to the end, the field at csum_start + csum_offset holding the
 * pseudo-header's sum the driver put there (RFC 1071). */
static bool complete_checksum(uint8_t *frame, uint32_t length, const struct net_header *h)
{
    uint32_t start = h->csum_start, field = (uint32_t)h->csum_start + h->csum_offset;
    if (start >= length || field + 2 > length)
        return false;
    uint32_t sum = 0;
    for (uint32_t i = start; i < length; i += 2)
        sum += (uint32_t)frame[i] << 8 | (i + 1 < length ? frame[i + 1] : 0);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t checksum = (uint16_t)~sum;
    frame[field] = (uint8_t)(checksum >> 8);
    frame[field + 1] = (uint8_t)checksum;
    return true;
}

/* Gather a transmit chain: the header, then the frame into n->held.  False for a
 * malformed chain (a device-writable piece, too long, unreadable memory, a bad
 * checksum request). */
static bool gather(struct virtio_net *n, const struct virtio_chain *c, uint32_t *length)
{
    unsigned header = virtio_net_header_length(n);
    uint8_t bytes[VIRTIO_NET_HDR_MODERN + VIRTIO_NET_FRAME_MAX];
    uint64_t total = 0;
    for (unsigned i = 0; i < c->count; i++) {
        const struct virtio_buffer *b = &c->buf[i];
        if (b->device_writes || total + b->length > header + VIRTIO_NET_FRAME_MAX)
            return false;
        if (b->length && !n->dev.memory.read(n->dev.memory.ctx, b->gpa, bytes + total, b->length))
            return false;
        total += b->length;
    }
    if (total < header + 14)
        return false;                   /* not even an Ethernet header */
    struct net_header h = { 0 };
    __builtin_memcpy(&h, bytes, 10);
    *length = (uint32_t)total - header;
    __builtin_memcpy(n->held, bytes + header, *length);
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        return (n->dev.guest_features & VIRTIO_NET_F_CSUM) && complete_checksum(n->held, *length, &h);
    return true;
}

static bool send_held(struct virtio_net *n)
{
    if (!n->held_length)
        return true;
    if (!n->backend.transmit(n->backend.ctx, n->held, n->held_length))
        return false;
    n->held_length = 0;
    n->stats.tx_frames++;
    return true;
}

void virtio_net_flush_interrupts(struct virtio_net *n)
{
    if (!n->tx_interrupt_owed)
        return;
    n->tx_interrupt_owed = false;
    virtio_interrupt(&n->dev, TRANSMITQ);
}

static void owe_tx_interrupt(struct virtio_net *n)
{
    if (!n->clock) {
        virtio_interrupt(&n->dev, TRANSMITQ);
        return;
    }
    if (!n->tx_interrupt_owed) {
        n->tx_interrupt_owed = true;
        n->tx_interrupt_due = n->clock(n->clock_ctx) + VIRTIO_NET_TX_INTERRUPT_DELAY_NS;
    }
}

/* The chains the guest queued, out to the backend; how many were taken. */
static unsigned transmit(struct virtio_net *n)
{
    struct virtio_chain c;
    unsigned taken = 0;
    while (send_held(n) && virtio_queue_pop(&n->dev, TRANSMITQ, &c)) {
        taken++;
        uint32_t length;
        if (gather(n, &c, &length))
            n->held_length = length;
        else
            n->stats.tx_malformed++;
        if (virtio_queue_push_quiet(&n->dev, TRANSMITQ, &c, 0))    /* copied out: the buffer is free */
            owe_tx_interrupt(n);
    }
    return taken;
}

/* After a notify the device polls the transmit queue instead (virtio_net.h). */
static void start_polling(struct virtio_net *n)
{
    if (!n->clock)
        return;
    n->tx_poll_due = n->clock(n->clock_ctx) + VIRTIO_NET_TX_POLL_NS;
    if (!n->tx_polling) {
        n->tx_polling = true;
        virtio_queue_set_notify(&n->dev, TRANSMITQ, false);
    }
}

static void stop_polling(struct virtio_net *n)
{
    if (!n->tx_polling)
        return;
    n->tx_polling = false;
    virtio_queue_set_notify(&n->dev, TRANSMITQ, true);
    transmit(n);                        /* what came while notifies were off */
}

void virtio_net_poll_transmit(struct virtio_net *n)
{
    if (n->tx_polling && transmit(n))
        n->tx_poll_due = n->clock(n->clock_ctx) + VIRTIO_NET_TX_POLL_NS;
}

void virtio_net_guest_halted(struct virtio_net *n)
{
    stop_polling(n);
    virtio_net_flush_interrupts(n);
}

void virtio_net_update(struct virtio_net *n, uint64_t now)
{
    if (n->tx_polling && now >= n->tx_poll_due) {
        if (transmit(n))
            n->tx_poll_due = now + VIRTIO_NET_TX_POLL_NS;
        else
            stop_polling(n);            /* a quiet while: notifies again */
    }
    if (n->tx_interrupt_owed && now >= n->tx_interrupt_due)
        virtio_net_flush_interrupts(n);
}

uint64_t virtio_net_next_event(const struct virtio_net *n)
{
    uint64_t next = n->tx_interrupt_owed ? n->tx_interrupt_due : VIRTIO_NET_NO_EVENT;
    if (n->tx_polling && n->tx_poll_due < next)
        next = n->tx_poll_due;
    return next;
}

static void net_notify(struct virtio_device *d, unsigned q)
{
    struct virtio_net *n = net_of(d);
    if (q == TRANSMITQ) {
        transmit(n);
        start_polling(n);
    } else if (n->backend.receive_ready) {
        n->backend.receive_ready(n->backend.ctx);
    }
}

static void net_reset(struct virtio_device *d)
{
    struct virtio_net *n = net_of(d);
    n->held_length = 0;
    n->rx_chain_held = false;
    n->tx_interrupt_owed = false;
    n->tx_polling = false;
}

static const struct virtio_ops net_ops = {
    .features = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS,
    .queues = 2, .config_size = CONFIG_SIZE, .config_read = net_config_read,
    .notify = net_notify, .reset = net_reset };

void virtio_net_init(struct virtio_net *n, struct guest_memory memory, struct irq_line irq,
                     const uint8_t mac[6], struct virtio_net_backend backend)
{
    *n = (struct virtio_net){ .link_up = true, .backend = backend };
    __builtin_memcpy(n->mac, mac, 6);
    virtio_init(&n->dev, &net_ops, n, memory, irq);
}

void virtio_net_transmit_resume(struct virtio_net *n)
{
    if (n->dev.status & STATUS_DRIVER_OK)
        transmit(n);
}

bool virtio_net_receive_ready(struct virtio_net *n)
{
    if (!(n->dev.status & STATUS_DRIVER_OK))
        return false;
    if (!n->rx_chain_held)
        n->rx_chain_held = virtio_queue_pop(&n->dev, RECEIVEQ, &n->rx_chain);
    return n->rx_chain_held;
}

/* Write `length` bytes at `offset` of the chain's device-writable space. */
static bool scatter(struct virtio_net *n, uint32_t offset, const uint8_t *bytes, uint32_t length)
{
    const struct virtio_chain *c = &n->rx_chain;
    for (unsigned i = 0; i < c->count && length; i++) {
        uint32_t piece = c->buf[i].length;
        if (offset >= piece) {
            offset -= piece;
            continue;
        }
        uint32_t count = piece - offset < length ? piece - offset : length;
        if (!n->dev.memory.write(n->dev.memory.ctx, c->buf[i].gpa + offset, bytes, count))
            return false;
        bytes += count;
        length -= count;
        offset = 0;
    }
    return length == 0;
}

unsigned virtio_net_header_length(const struct virtio_net *n)
{
    return n->dev.version_1 ? VIRTIO_NET_HDR_MODERN : VIRTIO_NET_HDR_LEGACY;
}

bool virtio_net_receive(struct virtio_net *n, const uint8_t *frame, uint32_t length)
{
    unsigned header = virtio_net_header_length(n);
    if (!n->link_up || length < 14 || length > VIRTIO_NET_FRAME_MAX) {
        n->stats.rx_dropped++;
        return true;
    }
    if (!virtio_net_receive_ready(n))
        return false;
    uint64_t room = 0;
    bool writable = true;
    for (unsigned i = 0; i < n->rx_chain.count; i++) {
        writable &= n->rx_chain.buf[i].device_writes;
        room += n->rx_chain.buf[i].length;
    }
    struct net_header h = { .num_buffers = 1 };
    uint32_t written = 0;
    if (writable && room >= header + length &&
        scatter(n, 0, (const uint8_t *)&h, header) &&
        scatter(n, header, frame, length)) {
        written = header + length;
        n->stats.rx_frames++;
    } else {
        n->stats.rx_dropped++;          /* malformed or too small: given back empty */
    }
    n->rx_chain_held = false;
    if (virtio_queue_push_quiet(&n->dev, RECEIVEQ, &n->rx_chain, written)) {
        virtio_net_flush_interrupts(n);     /* one interrupt for both when they share it */
        virtio_interrupt(&n->dev, RECEIVEQ);
    }
    return true;
}

void virtio_net_set_link(struct virtio_net *n, bool up)
{
    if (n->link_up == up)
        return;
    n->link_up = up;
    virtio_interrupt(&n->dev, VIRTIO_INTERRUPT_CONFIG);
}
