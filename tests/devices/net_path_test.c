/* The whole path of a frame, on the host: guest A's virtio-net driver transmits, A's
 * VMM side (vmm/dev/net_link.c) puts it in A's channel, the switch (user/switch)
 * forwards it into B's channel, B's VMM side fills B's receive buffer.  Three guests:
 * A and B on segment 1, C on segment 2; and a hostile VMM scribbling on its channel. */
#include <stdlib.h>
#include "harness.h"
#include "dev/net_link.h"
#include "../../user/switch/switch.h"

#define GUESTS 3
#define SLOTS 8u
#define MEM_SIZE (64 * 1024)
#define RX_BUFS 4
#define TX_BUF 0x8000
#define RX_BUF 0x9000               /* RX_BUFS buffers of 2 KiB */

struct guest {
    uint8_t mem[MEM_SIZE];
    struct virtio_net nic;
    struct net_link link;
    uint8_t *channel;
    uint16_t tx_next, rx_seen;
    int irq;
};
static struct guest *g[GUESTS];
static struct netswitch sw;
static const uint32_t segment_of[GUESTS] = { 1, 1, 2 };

static bool mem_read(void *ctx, uint64_t gpa, void *buf, size_t n)
{
    struct guest *x = ctx;
    if (gpa > MEM_SIZE || n > MEM_SIZE - gpa)
        return false;
    memcpy(buf, x->mem + gpa, n);
    return true;
}
static bool mem_write(void *ctx, uint64_t gpa, const void *buf, size_t n)
{
    struct guest *x = ctx;
    if (gpa > MEM_SIZE || n > MEM_SIZE - gpa)
        return false;
    memcpy(x->mem + gpa, buf, n);
    return true;
}
static void set_irq(void *ctx, unsigned line, bool level) { (void)line; ((struct guest *)ctx)->irq = level; }

static uint64_t ring(unsigned q) { return (uint64_t)(2 + 2 * q) * 4096; }
static uint64_t avail(unsigned q) { return ring(q) + 16 * VIRTIO_QUEUE_SIZE; }
static uint64_t used(unsigned q) { return ring(q) + 4096; }

static void put_desc(struct guest *x, unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
    uint8_t *p = x->mem + ring(q) + 16 * i;
    uint16_t next = 0;
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static void make_available(struct guest *x, unsigned q, uint16_t head)
{
    uint16_t idx;
    memcpy(&idx, x->mem + avail(q) + 2, 2);
    memcpy(x->mem + avail(q) + 4 + 2 * (idx % VIRTIO_QUEUE_SIZE), &head, 2);
    idx++;
    memcpy(x->mem + avail(q) + 2, &idx, 2);
}

static uint16_t used_idx(struct guest *x, unsigned q) { uint16_t v; memcpy(&v, x->mem + used(q) + 2, 2); return v; }

static void post_rx(struct guest *x, unsigned i)
{
    put_desc(x, 0, i, RX_BUF + 2048 * i, 2048, 2);
    make_available(x, 0, (uint16_t)i);
}

/* The switch signals every port it returns; each VMM side then polls. */
static void run_switch(void)
{
    for (unsigned round = 0; round < 4; round++) {
        uint64_t notify = switch_pump(&sw, 1);
        for (unsigned i = 0; i < GUESTS; i++)
            if (notify & ((uint64_t)1 << i))
                net_link_poll(&g[i]->link);
    }
}

/* Guest i's driver and VMM side from scratch; its channel as it is (a guest started
 * again keeps its channel) or cleared. */
static void start_guest(unsigned i, bool fresh_channel)
{
    struct guest *x = g[i];
    memset(x->mem, 0, sizeof(x->mem));
    if (fresh_channel)
        memset(x->channel, 0, NETRING_CHANNEL_BYTES(SLOTS));
    x->tx_next = x->rx_seen = 0;
    const uint8_t mac[6] = { 0x52, 0x54, 0, 0, 0, (uint8_t)(i + 1) };
    virtio_net_init(&x->nic, (struct guest_memory){ mem_read, mem_write, x },
                    (struct irq_line){ set_irq, x, 10 }, mac, (struct virtio_net_backend){ 0 });
    CHECK(net_link_attach(&x->link, &x->nic, x->channel, SLOTS));
    virtio_pci_ops.write(&x->nic.dev, 0x12, 1, 1 | 2);
    virtio_pci_ops.write(&x->nic.dev, 0x04, 4, VIRTIO_NET_F_MAC);
    for (unsigned q = 0; q < 2; q++) {
        virtio_pci_ops.write(&x->nic.dev, 0x0e, 2, q);
        virtio_pci_ops.write(&x->nic.dev, 0x08, 4, 2 + 2 * q);
    }
    virtio_pci_ops.write(&x->nic.dev, 0x12, 1, 1 | 2 | 4 | 8);
    for (unsigned b = 0; b < RX_BUFS; b++)
        post_rx(x, b);
    virtio_pci_ops.write(&x->nic.dev, 0x10, 2, 0);
}

static void setup(void)
{
    switch_init(&sw, 1000);
    for (unsigned i = 0; i < GUESTS; i++) {
        if (!g[i]) {
            g[i] = calloc(1, sizeof(*g[i]));
            g[i]->channel = aligned_alloc(4096, NETRING_CHANNEL_BYTES(SLOTS));
        }
        start_guest(i, true);
        CHECK(switch_attach(&sw, i, segment_of[i], g[i]->channel, SLOTS));
    }
}

/* Guest `from` transmits a 64-byte frame to `to` (a MAC's last byte; 0xff broadcast). */
static void send(unsigned from, uint8_t to, uint8_t tag)
{
    struct guest *x = g[from];
    uint8_t *f = x->mem + TX_BUF + VIRTIO_NET_HDR_LEGACY;
    memset(x->mem + TX_BUF, 0, VIRTIO_NET_HDR_LEGACY);
    const uint8_t dst[6] = { 0x52, 0x54, 0, 0, 0, to }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    memcpy(f, to == 0xff ? bcast : dst, 6);
    memcpy(f + 6, x->nic.mac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    memset(f + 14, tag, 50);
    unsigned d = x->tx_next++ % VIRTIO_QUEUE_SIZE;
    put_desc(x, 1, d, TX_BUF, VIRTIO_NET_HDR_LEGACY + 64, 0);
    make_available(x, 1, (uint16_t)d);
    virtio_pci_ops.write(&x->nic.dev, 0x10, 2, 1);     /* the VMM then signals the switch */
    if (net_link_take_signal(&x->link))
        run_switch();
}

/* The tag of the next frame guest `i` received, or -1 when none arrived. */
static int received(unsigned i)
{
    struct guest *x = g[i];
    if (used_idx(x, 0) == x->rx_seen)
        return -1;
    unsigned slot = x->rx_seen++ % RX_BUFS;
    int tag = x->mem[RX_BUF + 2048 * slot + VIRTIO_NET_HDR_LEGACY + 14];
    post_rx(x, slot);
    virtio_pci_ops.write(&x->nic.dev, 0x10, 2, 0);
    return tag;
}

static void test_same_segment_both_ways(void)
{
    setup();
    send(0, 0xff, 0x11);                    /* A broadcasts (an ARP request, say) */
    CHECK_EQ(received(1), 0x11);
    CHECK_EQ(received(2), -1);              /* C is on segment 2 */
    CHECK_EQ(received(0), -1);              /* not back to the sender */
    send(1, 1, 0x22);                       /* B answers A, whose address was learned */
    CHECK_EQ(received(0), 0x22);
    CHECK_EQ(received(2), -1);
    send(0, 2, 0x33);
    CHECK_EQ(received(1), 0x33);
    CHECK_EQ(received(2), -1);
    CHECK_EQ(sw.stats.forwarded, 3);
}

static void test_other_segment_unreachable(void)
{
    setup();
    send(2, 0xff, 0x44);                    /* C's broadcast reaches nobody */
    send(2, 1, 0x45);                       /* nor its unicast to A's address */
    send(2, 2, 0x46);
    for (unsigned i = 0; i < 2; i++)
        CHECK_EQ(received(i), -1);
    send(0, 3, 0x47);                       /* A to C's address: flooded in segment 1 only */
    CHECK_EQ(received(2), -1);
    CHECK_EQ(received(1), 0x47);
}

/* B posts no receive buffers: frames for it wait in its ring (up to SLOTS), the rest
 * are dropped at the switch, and B gets the waiting ones when it posts buffers. */
static void test_receiver_without_buffers(void)
{
    setup();
    send(1, 0xff, 0x50);                    /* B's address is learned */
    CHECK_EQ(received(0), 0x50);
    for (unsigned i = 0; i < RX_BUFS + SLOTS + 3; i++)
        send(0, 2, (uint8_t)(0x60 + i));
    unsigned got = 0;
    int tag, last = -1;
    while ((tag = received(1)) >= 0) {
        CHECK(tag > last);                  /* in order */
        last = tag;
        got++;
        run_switch();
        net_link_poll(&g[1]->link);
    }
    CHECK_EQ(got, RX_BUFS + SLOTS);
    CHECK_EQ(sw.stats.full, 3);
}

/* A hostile VMM (guest C's, moved to segment 1) writes nonsense into its channel:
 * huge counters, bad lengths.  The switch skips it; A and B keep talking. */
static void test_hostile_channel(void)
{
    setup();
    switch_detach(&sw, 2);
    CHECK(switch_attach(&sw, 2, 1, g[2]->channel, SLOTS));
    uint8_t *c = g[2]->channel;
    uint32_t huge = 0x7fffffff;
    memcpy(c + NETRING_HEAD_OFFSET, &huge, 4);             /* its transmit ring's head */
    memcpy(c + NETRING_RING_BYTES(SLOTS) + NETRING_TAIL_OFFSET, &huge, 4);  /* our ring's tail */
    for (unsigned i = 0; i < 3; i++)
        CHECK_EQ(switch_pump(&sw, 1) & ~(uint64_t)7, 0);
    send(0, 0xff, 0x70);
    CHECK_EQ(received(1), 0x70);
    CHECK_EQ(sw.stats.forwarded, 1);        /* nothing taken from C's ring */
    CHECK_EQ(sw.stats.full, 1);             /* the copy for C: its ring looks full */
    CHECK(sw.port[2].from.corrupt > 0);
    /* Now plausible counters with a garbage slot length. */
    memset(c, 0, NETRING_CHANNEL_BYTES(SLOTS));
    sw.port[2].to.index = 0;
    uint32_t one = 1, bad = 60000;
    memcpy(c + NETRING_CONTROL_BYTES, &bad, 4);
    memcpy(c + NETRING_HEAD_OFFSET, &one, 4);
    switch_pump(&sw, 1);
    CHECK(sw.stats.bad >= 1);
    send(1, 1, 0x71);
    CHECK_EQ(received(0), 0x71);
}

/* A guest started again gets a new VMM on the same channel: the new VMM goes on from
 * the counters its predecessor published, and frames flow both ways as before. */
static void test_vmm_started_again(void)
{
    setup();
    for (unsigned i = 0; i < 3; i++) {
        send(0, 2, (uint8_t)(0x80 + i));
        CHECK_EQ(received(1), 0x80 + i);
        send(1, 1, (uint8_t)(0x90 + i));
        CHECK_EQ(received(0), 0x90 + i);
    }
    start_guest(0, false);                  /* A's VMM again, its channel kept */
    send(0, 2, 0xa0);
    CHECK_EQ(received(1), 0xa0);
    send(1, 1, 0xa1);
    CHECK_EQ(received(0), 0xa1);
    CHECK_EQ(g[0]->link.to_switch.corrupt + g[0]->link.to_guest.corrupt, 0);
    CHECK_EQ(sw.port[0].from.corrupt + sw.port[0].to.corrupt, 0);
}

DEVICE_TESTS(net_path,
    { "net_path_same_segment_both_ways", test_same_segment_both_ways },
    { "net_path_other_segment_unreachable", test_other_segment_unreachable },
    { "net_path_receiver_without_buffers", test_receiver_without_buffers },
    { "net_path_hostile_channel", test_hostile_channel },
    { "net_path_vmm_started_again", test_vmm_started_again },
)
