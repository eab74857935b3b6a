/* The modern virtio PCI transport with MSI-X (vmm/dev/virtio_pci_modern.c), carrying a
 * virtio-net device, driven the way Linux's virtio_pci_modern does: capabilities found
 * in configuration space, features with VIRTIO_F_VERSION_1, queues at three addresses
 * of the driver's choice, a vector per queue. */
#include "harness.h"
#include "dev/virtio_net.h"
#include "dev/virtio_pci_modern.h"

#define MEM_SIZE (128 * 1024)
#define DESC 0x2000
#define AVAIL 0x3000
#define USED 0x3800
#define BUF 0x10000
static uint8_t mem[MEM_SIZE];
static int irq_level;
static unsigned msi_count;
static uint64_t msi_address;
static uint32_t msi_data;
static uint8_t sent[VIRTIO_NET_FRAME_MAX];
static uint32_t sent_length;
static struct virtio_net net;
static struct virtio_modern modern;

static struct test_ram ram = { mem, MEM_SIZE };
static void set_irq(void *ctx, unsigned line, bool level) { (void)ctx; (void)line; irq_level = level; }
static void msi(void *ctx, uint64_t address, uint32_t data)
{
    (void)ctx;
    msi_count++;
    msi_address = address;
    msi_data = data;
}
static bool transmit(void *ctx, const uint8_t *frame, uint32_t length)
{
    (void)ctx;
    memcpy(sent, frame, length);
    sent_length = length;
    return true;
}

static uint64_t bar_read(uint64_t off, unsigned size) { return virtio_modern_ops.read(&modern, off, size); }
static void bar_write(uint64_t off, unsigned size, uint64_t v) { virtio_modern_ops.write(&modern, off, size, v); }
static uint32_t cfg_read(unsigned off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)modern.pci.config[off + i] << (8 * i);
    return v;
}
/* A configuration write through the image's write mask, as the host bridge does it. */
static void cfg_write(unsigned off, unsigned size, uint32_t value)
{
    for (unsigned i = 0; i < size; i++) {
        uint8_t mask = modern.pci.writable[off + i], byte = (uint8_t)(value >> (8 * i));
        modern.pci.config[off + i] = (uint8_t)((modern.pci.config[off + i] & ~mask) | (byte & mask));
    }
    if (modern.pci.config_written)
        modern.pci.config_written(modern.pci.ctx, off, size);
}

static void setup(void)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef };
    memset(mem, 0, sizeof(mem));
    irq_level = 0;
    msi_count = 0;
    sent_length = 0;
    virtio_net_init(&net, (struct guest_memory){ test_ram_read, test_ram_write, &ram },
                    (struct irq_line){ set_irq, NULL, 11 }, mac,
                    (struct virtio_net_backend){ transmit, NULL, NULL });
    virtio_modern_init(&modern, &net.dev, 1, 0x020000, msi, NULL);
}

/* Feature negotiation as §3.1.1 orders it; returns the status read back. */
static uint8_t negotiate(uint64_t features)
{
    bar_write(0x14, 1, 0);
    bar_write(0x14, 1, 1 | 2);
    for (unsigned half = 0; half < 2; half++) {
        bar_write(0x08, 4, half);
        bar_write(0x0c, 4, (uint32_t)(features >> (32 * half)));
    }
    bar_write(0x14, 1, 1 | 2 | 8);
    return (uint8_t)bar_read(0x14, 1);
}

/* Queue q of `size` entries at DESC/AVAIL/USED + q * 0x8000, written in 32-bit halves. */
static void setup_queue(unsigned q, uint16_t size, uint16_t vector)
{
    uint64_t shift = (uint64_t)q * 0x8000;
    bar_write(0x16, 2, q);
    bar_write(0x18, 2, size);
    bar_write(0x1a, 2, vector);
    bar_write(0x20, 4, DESC + shift);
    bar_write(0x24, 4, 0);
    bar_write(0x28, 4, AVAIL + shift);
    bar_write(0x2c, 4, 0);
    bar_write(0x30, 8, USED + shift);
    bar_write(0x1c, 2, 1);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = mem + DESC + q * 0x8000 + 16 * i;
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static void make_available(unsigned q, uint16_t size, uint16_t head)
{
    uint8_t *avail = mem + AVAIL + q * 0x8000;
    uint16_t idx;
    memcpy(&idx, avail + 2, 2);
    memcpy(avail + 4 + 2 * (idx % size), &head, 2);
    idx++;
    memcpy(avail + 2, &idx, 2);
}

static uint16_t used_idx(unsigned q) { uint16_t v; memcpy(&v, mem + USED + q * 0x8000 + 2, 2); return v; }

static void test_capabilities(void)
{
    setup();
    CHECK_EQ(cfg_read(PCI_VENDOR_ID, 2), 0x1af4);
    CHECK_EQ(cfg_read(PCI_DEVICE_ID, 2), 0x1041);
    CHECK_EQ(cfg_read(PCI_REVISION_ID, 1), 1);
    CHECK(cfg_read(PCI_STATUS, 2) & PCI_STATUS_CAPABILITIES);
    CHECK(cfg_read(PCI_SUBSYSTEM_ID, 2) >= 0x40);
    /* Walk the list as Linux does: every virtio structure once, all in BAR 4. */
    unsigned seen = 0, at = cfg_read(PCI_CAPABILITY_LIST, 1), hops = 0, msix = 0;
    while (at && hops++ < 16) {
        unsigned id = cfg_read(at, 1);
        if (id == 0x11) {
            msix = at;
        } else if (id == 0x09) {
            unsigned type = cfg_read(at + 3, 1);
            CHECK_EQ(cfg_read(at + 4, 1), VIRTIO_MODERN_BAR);
            seen |= 1u << type;
            if (type == 2)
                CHECK_EQ(cfg_read(at + 16, 4), VIRTIO_MODERN_NOTIFY_MULTIPLIER);
            if (type == 1)
                CHECK_EQ(cfg_read(at + 8, 4), VIRTIO_MODERN_COMMON);
            if (type == 4)
                CHECK_EQ(cfg_read(at + 12, 4), 8);      /* virtio-net's configuration */
        }
        at = cfg_read(at + 1, 1);
    }
    CHECK_EQ(seen, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4));
    CHECK(msix);
    CHECK_EQ(cfg_read(msix + 2, 2) & 0x7ff, VIRTIO_MODERN_VECTORS - 1);
    CHECK_EQ(cfg_read(msix + 4, 4), VIRTIO_MODERN_MSIX_TABLE | VIRTIO_MODERN_BAR);
    /* BAR 4 sizes itself: 64-bit memory of VIRTIO_MODERN_BAR_SIZE. */
    cfg_write(PCI_BAR0 + 16, 4, 0xffffffff);
    CHECK_EQ(cfg_read(PCI_BAR0 + 16, 4), (uint32_t)-VIRTIO_MODERN_BAR_SIZE | PCI_BAR_MEM64);
    cfg_write(PCI_BAR0 + 16, 4, 0xfebf0000);
    cfg_write(PCI_BAR0 + 20, 4, 0);
    CHECK_EQ(virtio_modern_bar(&modern), 0xfebf0000);
}

static void test_features(void)
{
    setup();
    bar_write(0x00, 4, 1);
    CHECK_EQ(bar_read(0x04, 4) & 1, 1);                  /* VIRTIO_F_VERSION_1 */
    bar_write(0x00, 4, 0);
    CHECK(bar_read(0x04, 4) & VIRTIO_NET_F_MAC);
    bar_write(0x00, 4, 7);
    CHECK_EQ(bar_read(0x04, 4), 0);                      /* no such feature word */
    CHECK_EQ(negotiate(VIRTIO_NET_F_MAC) & 8, 0);        /* legacy semantics refused */
    CHECK(!net.dev.version_1);
    CHECK_EQ(negotiate(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | (1ull << 40) | (1u << 22)) & 8, 8);
    CHECK(net.dev.version_1);
    bar_write(0x08, 4, 1);
    CHECK_EQ(bar_read(0x0c, 4), 1);                      /* bit 40 was not offered */
    bar_write(0x08, 4, 0);
    CHECK_EQ(bar_read(0x0c, 4), VIRTIO_NET_F_MAC);       /* nor bit 22 */
    bar_write(0x0c, 4, VIRTIO_NET_F_CSUM);               /* after FEATURES_OK: ignored */
    CHECK_EQ(bar_read(0x0c, 4), VIRTIO_NET_F_MAC);
    CHECK_EQ(virtio_net_header_length(&net), VIRTIO_NET_HDR_MODERN);
    CHECK_EQ(bar_read(0x12, 2), 2);                      /* num_queues */
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(bar_read(VIRTIO_MODERN_DEVICE + i, 1), net.mac[i]);
    CHECK_EQ(bar_read(VIRTIO_MODERN_DEVICE + 6, 2), VIRTIO_NET_S_LINK_UP);
}

/* Transmit and receive over queues of 64 entries at addresses of the driver's choice,
 * with the 12-byte header of 1.x, interrupts as MSI-X messages. */
static void test_queues_and_msix(void)
{
    setup();
    CHECK_EQ(negotiate(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC) & 8, 8);
    cfg_write(VIRTIO_MODERN_CAP_MSIX + 2, 2, 0x8000);    /* MSI-X on */
    for (unsigned v = 0; v < VIRTIO_MODERN_VECTORS; v++) {
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v, 4, 0xfee00000);
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v + 4, 4, 0);
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v + 8, 4, 0x40 + v);
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v + 12, 4, 0);
    }
    bar_write(0x10, 2, 0);
    CHECK_EQ(bar_read(0x10, 2), 0);
    setup_queue(0, 64, 1);
    setup_queue(1, 64, 2);
    bar_write(0x16, 2, 1);
    CHECK_EQ(bar_read(0x18, 2), 64);
    CHECK_EQ(bar_read(0x1a, 2), 2);
    CHECK_EQ(bar_read(0x20, 8), DESC + 0x8000);
    bar_write(0x14, 1, 1 | 2 | 8 | 4);

    memset(mem + BUF, 0, VIRTIO_NET_HDR_MODERN);
    for (unsigned i = 0; i < 60; i++)
        mem[BUF + VIRTIO_NET_HDR_MODERN + i] = (uint8_t)(i + 1);
    put_desc(1, 0, BUF, VIRTIO_NET_HDR_MODERN + 60, 0, 0);
    make_available(1, 64, 0);
    bar_write(VIRTIO_MODERN_NOTIFY + 4 * 1, 2, 1);
    CHECK_EQ(sent_length, 60);
    CHECK_EQ(sent[0], 1);
    CHECK_EQ(used_idx(1), 1);
    CHECK_EQ(msi_count, 1);
    CHECK_EQ(msi_address, 0xfee00000);
    CHECK_EQ(msi_data, 0x42);
    CHECK_EQ(irq_level, 0);                              /* no INTx with MSI-X on */

    put_desc(0, 0, BUF + 0x1000, 1600, 2, 0);
    make_available(0, 64, 0);
    uint8_t f[64];
    memset(f, 0x5a, sizeof(f));
    CHECK(virtio_net_receive(&net, f, sizeof(f)));
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(msi_data, 0x41);
    uint16_t num_buffers;
    memcpy(&num_buffers, mem + BUF + 0x1000 + 10, 2);
    CHECK_EQ(num_buffers, 1);
    CHECK(memcmp(mem + BUF + 0x1000 + VIRTIO_NET_HDR_MODERN, f, sizeof(f)) == 0);

    /* A masked vector holds its message in the pending bits until unmasked. */
    bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * 1 + 12, 4, 1);
    put_desc(0, 1, BUF + 0x2000, 1600, 2, 0);
    make_available(0, 64, 1);
    CHECK(virtio_net_receive(&net, f, sizeof(f)));
    CHECK_EQ(msi_count, 2);
    CHECK_EQ(bar_read(VIRTIO_MODERN_MSIX_PBA, 8), 1u << 1);
    bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * 1 + 12, 4, 0);
    CHECK_EQ(msi_count, 3);
    CHECK_EQ(bar_read(VIRTIO_MODERN_MSIX_PBA, 8), 0);
    /* The function mask too. */
    cfg_write(VIRTIO_MODERN_CAP_MSIX + 2, 2, 0xc000);
    virtio_net_set_link(&net, false);
    CHECK_EQ(msi_count, 3);
    cfg_write(VIRTIO_MODERN_CAP_MSIX + 2, 2, 0x8000);
    CHECK_EQ(msi_count, 4);
    CHECK_EQ(msi_data, 0x40);                            /* the configuration vector */
    CHECK_EQ(bar_read(VIRTIO_MODERN_ISR, 1), 2);
}

/* Without MSI-X, interrupts go to the INTx line and the ISR, as on the legacy transport. */
static void test_intx(void)
{
    setup();
    CHECK_EQ(negotiate(VIRTIO_F_VERSION_1) & 8, 8);
    setup_queue(1, 128, VIRTIO_MSI_NO_VECTOR);
    bar_write(0x14, 1, 1 | 2 | 8 | 4);
    put_desc(1, 0, BUF, VIRTIO_NET_HDR_MODERN + 14, 0, 0);
    make_available(1, 128, 0);
    bar_write(VIRTIO_MODERN_NOTIFY + 4, 2, 1);
    CHECK_EQ(sent_length, 14);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(msi_count, 0);
    CHECK_EQ(bar_read(VIRTIO_MODERN_ISR, 1), 1);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(bar_read(VIRTIO_MODERN_ISR, 1), 0);
}

/* What a driver may get wrong, or a hostile one try: each is refused or harmless. */
static void test_bad_driver(void)
{
    setup();
    CHECK_EQ(negotiate(VIRTIO_F_VERSION_1) & 8, 8);
    bar_write(0x16, 2, 0);
    bar_write(0x18, 2, 100);                             /* not a power of two */
    CHECK_EQ(bar_read(0x18, 2), VIRTIO_QUEUE_SIZE);
    bar_write(0x18, 2, 256);                             /* beyond the maximum */
    CHECK_EQ(bar_read(0x18, 2), VIRTIO_QUEUE_SIZE);
    bar_write(0x18, 2, 0);
    CHECK_EQ(bar_read(0x18, 2), VIRTIO_QUEUE_SIZE);
    bar_write(0x1a, 2, VIRTIO_MODERN_VECTORS);           /* no such vector */
    CHECK_EQ(bar_read(0x1a, 2), VIRTIO_MSI_NO_VECTOR);
    bar_write(0x10, 2, 77);
    CHECK_EQ(bar_read(0x10, 2), VIRTIO_MSI_NO_VECTOR);
    bar_write(0x16, 2, 5);                               /* no such queue */
    CHECK_EQ(bar_read(0x18, 2), 0);
    bar_write(0x1c, 2, 1);
    bar_write(0x20, 8, 0x1234);
    CHECK_EQ(bar_read(0x20, 8), 0);
    bar_write(VIRTIO_MODERN_NOTIFY + 4 * 5, 2, 5);       /* notify a queue that is not there */
    bar_write(VIRTIO_MODERN_NOTIFY + 4 * 1, 2, 1);       /* nor set up */
    CHECK_EQ(sent_length, 0);
    /* Queue 1 of 16 entries: a descriptor index past 16 is refused, and the addresses
     * cannot move once the queue is enabled. */
    setup_queue(1, 16, VIRTIO_MSI_NO_VECTOR);
    bar_write(0x16, 2, 1);
    bar_write(0x20, 4, 0x9999);
    CHECK_EQ(bar_read(0x20, 8), DESC + 0x8000);
    bar_write(0x14, 1, 1 | 2 | 8 | 4);
    put_desc(1, 0, BUF, 6, 1, 20);                       /* next = 20: within 128, not 16 */
    put_desc(1, 20, BUF, VIRTIO_NET_HDR_MODERN + 60, 0, 0);
    make_available(1, 16, 0);
    bar_write(VIRTIO_MODERN_NOTIFY + 4, 2, 1);
    CHECK_EQ(sent_length, 0);
    make_available(1, 16, 17);                           /* a head past 16 */
    bar_write(VIRTIO_MODERN_NOTIFY + 4, 2, 1);
    CHECK_EQ(sent_length, 0);
    /* MSI-X table accesses beyond the table, and to the pending bits, change nothing. */
    bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * VIRTIO_MODERN_VECTORS, 4, 0xdead);
    bar_write(VIRTIO_MODERN_MSIX_PBA, 8, ~0ull);
    CHECK_EQ(bar_read(VIRTIO_MODERN_MSIX_PBA, 8), 0);
    CHECK_EQ(bar_read(VIRTIO_MODERN_MSIX_TABLE + 16 * VIRTIO_MODERN_VECTORS, 4), 0);
    CHECK_EQ(bar_read(0x7ff8, 8), 0);
    CHECK_EQ(bar_read(0x100, 4), 0);
    /* Reset: everything back to its start. */
    bar_write(0x16, 2, 1);
    bar_write(0x1a, 2, 1);
    bar_write(0x14, 1, 0);
    CHECK_EQ(bar_read(0x14, 1), 0);
    bar_write(0x16, 2, 1);
    CHECK_EQ(bar_read(0x1c, 2), 0);
    CHECK_EQ(bar_read(0x1a, 2), VIRTIO_MSI_NO_VECTOR);
    CHECK_EQ(bar_read(0x18, 2), VIRTIO_QUEUE_SIZE);
    CHECK(!net.dev.version_1);
}

/* Two vectors offered: the table says so, a third is refused, and both queues on the
 * one shared vector send the same message. */
static void test_shared_vector(void)
{
    setup();
    virtio_modern_set_vectors(&modern, 2);
    CHECK_EQ(cfg_read(VIRTIO_MODERN_CAP_MSIX + 2, 2) & 0x7ff, 1);
    CHECK_EQ(negotiate(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC) & 8, 8);
    cfg_write(VIRTIO_MODERN_CAP_MSIX + 2, 2, 0x8000);
    CHECK_EQ(cfg_read(VIRTIO_MODERN_CAP_MSIX + 2, 2), 0x8001);
    for (unsigned v = 0; v < 3; v++) {
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v, 4, 0xfee00000);
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v + 8, 4, 0x40 + v);
        bar_write(VIRTIO_MODERN_MSIX_TABLE + 16 * v + 12, 4, 0);
    }
    CHECK_EQ(bar_read(VIRTIO_MODERN_MSIX_TABLE + 16 * 2 + 8, 4), 0);     /* no third entry */
    bar_write(0x16, 2, 0);
    bar_write(0x1a, 2, 2);
    CHECK_EQ(bar_read(0x1a, 2), VIRTIO_MSI_NO_VECTOR);
    setup_queue(0, 64, 1);
    setup_queue(1, 64, 1);
    bar_write(0x14, 1, 1 | 2 | 8 | 4);
    put_desc(1, 0, BUF, VIRTIO_NET_HDR_MODERN + 60, 0, 0);
    make_available(1, 64, 0);
    bar_write(VIRTIO_MODERN_NOTIFY + 4 * 1, 2, 1);
    CHECK_EQ(msi_count, 1);
    CHECK_EQ(msi_data, 0x41);
    put_desc(0, 0, BUF + 0x1000, 2048, 2, 0);
    make_available(0, 64, 0);
    uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6 };
    CHECK(virtio_net_receive(&net, frame, sizeof(frame)));
    CHECK_EQ(msi_count, 2);
    CHECK_EQ(msi_data, 0x41);
}

DEVICE_TESTS(virtio_modern,
    { "virtio_modern_capabilities", test_capabilities },
    { "virtio_modern_features", test_features },
    { "virtio_modern_queues_and_msix", test_queues_and_msix },
    { "virtio_modern_intx", test_intx },
    { "virtio_modern_bad_driver", test_bad_driver },
    { "virtio_modern_shared_vector", test_shared_vector },
)
