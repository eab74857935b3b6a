/* virtio-net (vmm/dev/virtio_net.c) over the legacy transport, driven the way Linux's
 * virtio_net driver does, over a fake guest memory and a fake switch backend; with
 * malformed chains among the cases. */
#include "harness.h"
#include "dev/virtio_net.h"

#define MEM_SIZE (128 * 1024)
#define RING_PFN 8                  /* queue q at (8 + 2q) pages */
#define BUF 0x10000                 /* data buffers from here */
static uint8_t mem[MEM_SIZE];
static int irq_level;

static uint8_t sent[4][VIRTIO_NET_FRAME_MAX];
static uint32_t sent_length[4];
static unsigned sent_count, backend_room, ready_calls;

static struct test_ram ram = { mem, MEM_SIZE };
static void set_irq(void *ctx, unsigned line, bool level) { (void)ctx; (void)line; irq_level = level; }

static bool transmit(void *ctx, const uint8_t *frame, uint32_t length)
{
    (void)ctx;
    if (!backend_room)
        return false;
    backend_room--;
    memcpy(sent[sent_count % 4], frame, length);
    sent_length[sent_count % 4] = length;
    sent_count++;
    return true;
}
static void receive_ready(void *ctx) { (void)ctx; ready_calls++; }

static const struct guest_memory memory = { test_ram_read, test_ram_write, &ram };
static const struct irq_line irq = { set_irq, NULL, 10 };
static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static struct virtio_net net;

static void reg_write(unsigned off, unsigned size, uint64_t v) { virtio_pci_ops.write(&net.dev, off, size, v); }
static uint64_t reg_read(unsigned off, unsigned size) { return virtio_pci_ops.read(&net.dev, off, size); }

#include "virtq_driver.h"

/* Driver bring-up (§3.1.1): reset, ACKNOWLEDGE | DRIVER, features, queues, DRIVER_OK. */
static void setup(uint32_t features)
{
    memset(mem, 0, sizeof(mem));
    sent_count = 0;
    backend_room = 100;
    ready_calls = 0;
    irq_level = 0;
    virtio_net_init(&net, memory, irq, MAC,
                    (struct virtio_net_backend){ transmit, receive_ready, NULL });
    reg_write(0x12, 1, 1 | 2);
    reg_write(0x04, 4, features);
    for (unsigned q = 0; q < 2; q++) {
        reg_write(0x0e, 2, q);
        CHECK_EQ(reg_read(0x0c, 2), VIRTIO_QUEUE_SIZE);
        reg_write(0x08, 4, RING_PFN + 2 * q);
    }
    reg_write(0x12, 1, 1 | 2 | 8 | 4);
}

static void frame_at(uint64_t gpa, uint32_t length, uint8_t seed)
{
    for (uint32_t i = 0; i < length; i++)
        mem[gpa + i] = (uint8_t)(seed ^ i);
}

static void test_config_and_link(void)
{
    setup(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
    uint32_t offered = (uint32_t)reg_read(0x00, 4);
    CHECK_EQ(offered & (VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_CSUM),
             VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_CSUM);
    CHECK_EQ(reg_read(0x04, 4), VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(reg_read(0x14 + i, 1), MAC[i]);
    CHECK_EQ(reg_read(0x14 + 6, 2), VIRTIO_NET_S_LINK_UP);
    CHECK_EQ(reg_read(0x14 + 8, 4), 0);                 /* past the configuration */
    virtio_net_set_link(&net, false);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(reg_read(0x13, 1), 2);                     /* a configuration change */
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(reg_read(0x14 + 6, 2), 0);
    uint8_t f[60] = { 0 };
    CHECK(virtio_net_receive(&net, f, sizeof(f)));      /* link down: dropped */
    CHECK_EQ(net.stats.rx_dropped, 1);
    virtio_net_set_link(&net, true);
    CHECK_EQ(reg_read(0x14 + 6, 2), VIRTIO_NET_S_LINK_UP);
}

/* A header and a frame in two descriptors, as Linux sends them. */
static void test_transmit(void)
{
    setup(VIRTIO_NET_F_MAC);
    frame_at(BUF + 0x100, 60, 0x42);
    put_desc(1, 0, BUF, VIRTIO_NET_HDR_LEGACY, 1, 1);
    put_desc(1, 1, BUF + 0x100, 60, 0, 0);
    make_available(1, 0);
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 1);
    CHECK_EQ(sent_length[0], 60);
    CHECK(memcmp(sent[0], mem + BUF + 0x100, 60) == 0);
    CHECK_EQ(used_idx(1), 1);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(net.stats.tx_frames, 1);
    /* Header and frame in one descriptor. */
    put_desc(1, 2, BUF + 0x1000, VIRTIO_NET_HDR_LEGACY + 100, 0, 0);
    frame_at(BUF + 0x1000 + VIRTIO_NET_HDR_LEGACY, 100, 7);
    make_available(1, 2);
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 2);
    CHECK_EQ(sent_length[1], 100);
    CHECK(memcmp(sent[1], mem + BUF + 0x1000 + VIRTIO_NET_HDR_LEGACY, 100) == 0);
}

/* The guest asks for its UDP checksum to be completed: the frame that leaves carries a
 * checksum that sums to 0xffff over the covered bytes. */
static void test_transmit_checksum_offload(void)
{
    setup(VIRTIO_NET_F_MAC | VIRTIO_NET_F_CSUM);
    uint8_t header[10] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0, 0, 34, 0, 6, 0 };
    memcpy(mem + BUF, header, sizeof(header));
    frame_at(BUF + 0x100, 81, 0x5a);                    /* odd length: the last byte padded */
    mem[BUF + 0x100 + 40] = 0x12;                       /* the pseudo-header's partial sum */
    mem[BUF + 0x100 + 41] = 0x34;
    put_desc(1, 0, BUF, 10, 1, 1);
    put_desc(1, 1, BUF + 0x100, 81, 0, 0);
    make_available(1, 0);
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 1);
    /* What the receiver checks: the pseudo-header's sum plus the covered bytes, the
     * checksum field now holding the result. */
    uint32_t sum = 0x1234;
    for (uint32_t i = 34; i < 81; i += 2)
        sum += (uint32_t)sent[0][i] << 8 | (i + 1 < 81 ? sent[0][i + 1] : 0);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    CHECK_EQ(sum, 0xffff);
    CHECK(memcmp(sent[0], mem + BUF + 0x100, 40) == 0);  /* the rest unchanged */
}

/* The switch's ring is full: the frame is kept, nothing newer overtakes it, and
 * resuming sends both in order. */
static void test_transmit_backpressure(void)
{
    setup(VIRTIO_NET_F_MAC);
    backend_room = 0;
    for (unsigned i = 0; i < 2; i++) {
        put_desc(1, 2 * i, BUF + 0x1000 * i, VIRTIO_NET_HDR_LEGACY, 1, (uint16_t)(2 * i + 1));
        put_desc(1, 2 * i + 1, BUF + 0x1000 * i + 0x100, 64, 0, 0);
        frame_at(BUF + 0x1000 * i + 0x100, 64, (uint8_t)(i + 1));
        make_available(1, (uint16_t)(2 * i));
    }
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 0);
    CHECK_EQ(used_idx(1), 1);               /* the first was copied out, the second waits */
    backend_room = 1;
    virtio_net_transmit_resume(&net);
    CHECK_EQ(sent_count, 1);
    CHECK_EQ(sent[0][0], 1);
    backend_room = 10;
    virtio_net_transmit_resume(&net);
    CHECK_EQ(sent_count, 2);
    CHECK_EQ(sent[1][0], 2);
    CHECK_EQ(used_idx(1), 2);
}

/* Malformed transmit chains: each is dropped without reaching the switch, and the
 * next well-formed chain still goes out. */
static void test_transmit_malformed(void)
{
    setup(VIRTIO_NET_F_MAC);
    unsigned head = 0;
    /* 1. a device-writable piece in a transmit chain */
    put_desc(1, head, BUF, VIRTIO_NET_HDR_LEGACY, 1 | 2, (uint16_t)(head + 1));
    put_desc(1, head + 1, BUF + 0x100, 60, 0, 0);
    make_available(1, (uint16_t)head);
    head += 2;
    /* 2. oversized: header + 1519 bytes of frame */
    put_desc(1, head, BUF, VIRTIO_NET_HDR_LEGACY, 1, (uint16_t)(head + 1));
    put_desc(1, head + 1, BUF + 0x100, VIRTIO_NET_FRAME_MAX + 1, 0, 0);
    make_available(1, (uint16_t)head);
    head += 2;
    /* 3. a buffer outside guest memory, and one whose end wraps around */
    put_desc(1, head, MEM_SIZE + 0x1000, VIRTIO_NET_HDR_LEGACY + 60, 0, 0);
    make_available(1, (uint16_t)head);
    head += 1;
    put_desc(1, head, 0xfffffffffffffff0ull, VIRTIO_NET_HDR_LEGACY + 60, 0, 0);
    make_available(1, (uint16_t)head);
    head += 1;
    /* 4. shorter than a header and an Ethernet header */
    put_desc(1, head, BUF, VIRTIO_NET_HDR_LEGACY + 13, 0, 0);
    make_available(1, (uint16_t)head);
    head += 1;
    /* 5. a checksum request not negotiated */
    mem[BUF + 0x2000] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    put_desc(1, head, BUF + 0x2000, VIRTIO_NET_HDR_LEGACY + 60, 0, 0);
    make_available(1, (uint16_t)head);
    head += 1;
    /* 6. many small pieces adding up past the limit: 15 x 200 bytes */
    for (unsigned i = 0; i < 15; i++)
        put_desc(1, head + i, BUF, 200, i < 14 ? 1 : 0, (uint16_t)(head + i + 1));
    make_available(1, (uint16_t)head);
    head += 15;
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 0);
    CHECK_EQ(net.stats.tx_malformed, 7);
    CHECK_EQ(used_idx(1), 7);               /* each given back to the driver */
    for (unsigned i = 0; i < 7; i++)
        CHECK_EQ(used_len(1, i), 0);
    /* 7. chains the transport refuses: a loop, an index past the queue, 21 pieces */
    put_desc(1, head, BUF, 16, 1, (uint16_t)head);          /* points at itself */
    make_available(1, (uint16_t)head);
    reg_write(0x10, 2, 1);
    put_desc(1, head, BUF, 16, 1, 500);                     /* next beyond the table */
    make_available(1, (uint16_t)head);
    reg_write(0x10, 2, 1);
    uint16_t bad_head = VIRTIO_QUEUE_SIZE + 3;              /* a head beyond the table */
    make_available(1, bad_head);
    reg_write(0x10, 2, 1);
    unsigned long_head = head + 1;
    for (unsigned i = 0; i <= VIRTIO_CHAIN_MAX; i++)
        put_desc(1, long_head + i, BUF, 1, i < VIRTIO_CHAIN_MAX ? 1 : 0, (uint16_t)(long_head + i + 1));
    make_available(1, (uint16_t)long_head);
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 0);
    /* A good chain after all that still goes out. */
    frame_at(BUF + 0x3000 + VIRTIO_NET_HDR_LEGACY, 60, 0x77);
    memset(mem + BUF + 0x3000, 0, VIRTIO_NET_HDR_LEGACY);
    put_desc(1, 100, BUF + 0x3000, VIRTIO_NET_HDR_LEGACY + 60, 0, 0);
    make_available(1, 100);
    reg_write(0x10, 2, 1);
    CHECK_EQ(sent_count, 1);
    CHECK_EQ(sent_length[0], 60);
    CHECK_EQ(sent[0][0], 0x77);
}

static void post_receive(unsigned desc, uint64_t gpa, uint32_t length)
{
    put_desc(0, desc, gpa, length, 2, 0);
    make_available(0, (uint16_t)desc);
}

static void test_receive(void)
{
    setup(VIRTIO_NET_F_MAC);
    uint8_t f[200];
    for (unsigned i = 0; i < sizeof(f); i++)
        f[i] = (uint8_t)(i * 5);
    CHECK(!virtio_net_receive_ready(&net));
    CHECK(!virtio_net_receive(&net, f, sizeof(f)));     /* no buffer: the caller keeps it */
    memset(mem + BUF, 0xee, 2048);
    post_receive(0, BUF, 1526);
    reg_write(0x10, 2, 0);
    CHECK_EQ(ready_calls, 1);
    CHECK(virtio_net_receive_ready(&net));
    CHECK(virtio_net_receive(&net, f, sizeof(f)));
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(used_len(0, 0), VIRTIO_NET_HDR_LEGACY + sizeof(f));
    for (unsigned i = 0; i < VIRTIO_NET_HDR_LEGACY; i++)
        CHECK_EQ(mem[BUF + i], 0);                      /* no offload flags */
    CHECK(memcmp(mem + BUF + VIRTIO_NET_HDR_LEGACY, f, sizeof(f)) == 0);
    CHECK_EQ(mem[BUF + VIRTIO_NET_HDR_LEGACY + sizeof(f)], 0xee);     /* nothing past it */
    CHECK_EQ(irq_level, 1);
    /* Split across two buffers: header in the first, frame in the second. */
    put_desc(0, 1, BUF + 0x1000, VIRTIO_NET_HDR_LEGACY, 2 | 1, 2);
    put_desc(0, 2, BUF + 0x2000, 1518, 2, 0);
    make_available(0, 1);
    CHECK(virtio_net_receive(&net, f, sizeof(f)));
    CHECK(memcmp(mem + BUF + 0x2000, f, sizeof(f)) == 0);
    CHECK_EQ(net.stats.rx_frames, 2);
    /* Before DRIVER_OK (after a reset) nothing is delivered. */
    reg_write(0x12, 1, 0);
    CHECK(!virtio_net_receive_ready(&net));
}

static uint64_t now_ns;
static uint64_t clock_now(void *ctx) { (void)ctx; return now_ns; }

/* One transmission of 60 bytes in descriptor `desc` (header and frame in one). */
static void transmit_one(unsigned desc)
{
    put_desc(1, desc, BUF + 0x3000, VIRTIO_NET_HDR_LEGACY + 60, 0, 0);
    make_available(1, (uint16_t)desc);
    reg_write(0x10, 2, 1);
}

/* With a clock the transmit interrupt is owed: it goes out when it is due, with the
 * next receive interrupt, or when asked to; a reset forgets it. */
static void test_transmit_interrupt_waits(void)
{
    const uint64_t delay = VIRTIO_NET_TX_INTERRUPT_DELAY_NS;
    setup(VIRTIO_NET_F_MAC);
    net.clock = clock_now;
    now_ns = 5000;
    transmit_one(0);
    CHECK_EQ(used_idx(1), 1);                           /* the buffer is back at once */
    CHECK_EQ(irq_level, 0);
    CHECK(net.tx_interrupt_owed);
    CHECK_EQ(virtio_net_next_event(&net), 5000 + delay);
    now_ns += 10;
    transmit_one(1);                                    /* still the first one's deadline */
    CHECK_EQ(net.tx_interrupt_due, 5000 + delay);
    virtio_net_update(&net, 5000 + delay - 1);
    CHECK_EQ(irq_level, 0);
    virtio_net_update(&net, 5000 + delay);
    CHECK_EQ(irq_level, 1);
    CHECK(!net.tx_interrupt_owed);
    CHECK_EQ(virtio_net_next_event(&net), 5010 + VIRTIO_NET_TX_POLL_NS);  /* a look is left */
    CHECK_EQ(reg_read(0x13, 1), 1);                     /* the ISR read lowers the line */
    CHECK_EQ(irq_level, 0);

    transmit_one(2);
    CHECK_EQ(irq_level, 0);
    uint8_t f[60] = { 0 };
    post_receive(0, BUF, 1526);
    CHECK(virtio_net_receive(&net, f, sizeof(f)));     /* one interrupt tells of both */
    CHECK_EQ(irq_level, 1);
    CHECK(!net.tx_interrupt_owed);
    CHECK_EQ(reg_read(0x13, 1), 1);

    transmit_one(3);
    CHECK_EQ(irq_level, 0);
    virtio_net_flush_interrupts(&net);
    CHECK_EQ(irq_level, 1);
    reg_read(0x13, 1);
    virtio_net_flush_interrupts(&net);                  /* nothing owed: no interrupt */
    CHECK_EQ(irq_level, 0);

    transmit_one(4);
    reg_write(0x12, 1, 0);
    CHECK_EQ(virtio_net_next_event(&net), VIRTIO_NET_NO_EVENT);
    CHECK_EQ(net.stats.tx_frames, 5);
}

static uint16_t avail_event(unsigned q)
{
    uint16_t v;
    memcpy(&v, mem + used(q) + 4 + 8 * VIRTIO_QUEUE_SIZE, 2);
    return v;
}

/* Queued by the driver without a notify, as it does while notifies are off. */
static void queue_quietly(unsigned desc)
{
    put_desc(1, desc, BUF + 0x3000, VIRTIO_NET_HDR_LEGACY + 60, 0, 0);
    make_available(1, (uint16_t)desc);
}

/* After a notify the device polls: the driver is asked for no notify (avail_event
 * behind its index), the frames it queues go out at the guest's next exit, at a due
 * look or when it halts; a look that finds nothing, and a halt, ask for notifies
 * again. */
static void test_transmit_polled(void)
{
    const uint64_t poll = VIRTIO_NET_TX_POLL_NS;
    setup(VIRTIO_NET_F_MAC | VIRTIO_RING_F_EVENT_IDX);
    net.clock = clock_now;
    now_ns = 1000;
    transmit_one(0);
    CHECK_EQ(sent_count, 1);
    CHECK(net.tx_polling);
    CHECK_EQ(avail_event(1), 0);                        /* the index (1) is past it */
    queue_quietly(1);
    queue_quietly(2);
    CHECK_EQ(sent_count, 1);
    now_ns = 2000;
    virtio_net_poll_transmit(&net);                     /* the guest exited */
    CHECK_EQ(sent_count, 3);
    CHECK_EQ(avail_event(1), 2);
    CHECK_EQ(net.tx_poll_due, 2000 + poll);
    virtio_net_poll_transmit(&net);                     /* nothing new: the look stays due */
    CHECK_EQ(net.tx_poll_due, 2000 + poll);
    queue_quietly(3);
    virtio_net_update(&net, 2000 + poll);
    CHECK_EQ(sent_count, 4);
    CHECK(net.tx_polling);
    CHECK_EQ(virtio_net_next_event(&net), 2000 + 2 * poll);
    virtio_net_update(&net, 2000 + 2 * poll);           /* found nothing: notifies again */
    CHECK(!net.tx_polling);
    CHECK_EQ(avail_event(1), 4);
    CHECK_EQ(virtio_net_next_event(&net), VIRTIO_NET_NO_EVENT);

    reg_read(0x13, 1);
    uint16_t next_used = 4;                             /* used_event: interrupt at the next */
    memcpy(mem + avail(1) + 4 + 2 * VIRTIO_QUEUE_SIZE, &next_used, 2);
    transmit_one(4);
    CHECK(net.tx_polling);
    CHECK(net.tx_interrupt_owed);
    CHECK_EQ(irq_level, 0);
    queue_quietly(5);
    virtio_net_guest_halted(&net);
    CHECK_EQ(sent_count, 6);
    CHECK(!net.tx_polling);
    CHECK_EQ(avail_event(1), 6);
    CHECK_EQ(irq_level, 1);                             /* the owed interrupt went out */
    CHECK_EQ(used_idx(1), 6);
}

/* Without event indexes the device's NO_NOTIFY flag says the same. */
static void test_transmit_polled_flag(void)
{
    setup(VIRTIO_NET_F_MAC);
    net.clock = clock_now;
    now_ns = 0;
    uint16_t flags;
    transmit_one(0);
    memcpy(&flags, mem + used(1), 2);
    CHECK_EQ(flags, VIRTIO_USED_F_NO_NOTIFY);
    queue_quietly(1);
    virtio_net_guest_halted(&net);
    memcpy(&flags, mem + used(1), 2);
    CHECK_EQ(flags, 0);
    CHECK_EQ(sent_count, 2);
}

/* Malformed receive chains: too small, driver-readable, outside guest memory.  The
 * frame is dropped, the chain given back with 0 bytes, memory outside untouched. */
static void test_receive_malformed(void)
{
    setup(VIRTIO_NET_F_MAC);
    uint8_t f[300];
    memset(f, 0xab, sizeof(f));
    memset(mem + BUF, 0xee, 0x4000);
    post_receive(0, BUF, 100);                          /* too small */
    put_desc(0, 1, BUF + 0x1000, 1600, 0, 0);           /* the device may not write it */
    make_available(0, 1);
    post_receive(2, MEM_SIZE - 50, 1600);               /* runs off the end of memory */
    for (unsigned i = 0; i < 3; i++)
        CHECK(virtio_net_receive(&net, f, sizeof(f)));
    CHECK_EQ(net.stats.rx_dropped, 3);
    CHECK_EQ(net.stats.rx_frames, 0);
    CHECK_EQ(used_idx(0), 3);
    for (unsigned i = 0; i < 3; i++)
        CHECK_EQ(used_len(0, i), 0);
    CHECK_EQ(mem[BUF + 100], 0xee);
    CHECK_EQ(mem[BUF + 0x1000], 0xee);
    /* Frames that are not frames are dropped before a buffer is taken. */
    post_receive(3, BUF + 0x2000, 1600);
    CHECK(virtio_net_receive(&net, f, 13));
    uint8_t big[VIRTIO_NET_FRAME_MAX + 1] = { 0 };
    CHECK(virtio_net_receive(&net, big, sizeof(big)));
    CHECK_EQ(used_idx(0), 3);
    CHECK(virtio_net_receive(&net, f, sizeof(f)));      /* the buffer is still there */
    CHECK_EQ(used_len(0, 3), VIRTIO_NET_HDR_LEGACY + sizeof(f));
}

DEVICE_TESTS(virtio_net,
    { "virtio_net_config_and_link", test_config_and_link },
    { "virtio_net_transmit", test_transmit },
    { "virtio_net_transmit_checksum_offload", test_transmit_checksum_offload },
    { "virtio_net_transmit_backpressure", test_transmit_backpressure },
    { "virtio_net_transmit_malformed", test_transmit_malformed },
    { "virtio_net_receive", test_receive },
    { "virtio_net_receive_malformed", test_receive_malformed },
    { "virtio_net_transmit_interrupt_waits", test_transmit_interrupt_waits },
    { "virtio_net_transmit_polled", test_transmit_polled },
    { "virtio_net_transmit_polled_flag", test_transmit_polled_flag },
)
