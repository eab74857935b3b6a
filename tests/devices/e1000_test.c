/* The uplink's e1000 driver (user/uplink/e1000.c) against a register file in memory
 * and DMA pages whose "physical" address is their host address: set-up, the MAC
 * address, reception with back-pressure and bad frames, transmission up to a full ring. */
#include <stdlib.h>
#include "harness.h"
#include "../../user/uplink/e1000.h"

static uint32_t regs[0x20000 / 4];
static struct e1000 nic;
static struct e1000_page pages[E1000_DMA_PAGES];
static uint8_t *dma;

static uint32_t reg(uint32_t offset) { return regs[offset / 4]; }

/* The "hardware" finishes its reset while the driver waits. */
static void delay(unsigned us)
{
    (void)us;
    regs[E1000_CTRL / 4] &= ~E1000_CTRL_RST;
}

static void setup(void)
{
    memset(regs, 0, sizeof(regs));
    free(dma);
    dma = aligned_alloc(4096, 4096 * E1000_DMA_PAGES);
    memset(dma, 0xa5, 4096 * E1000_DMA_PAGES);
    for (unsigned i = 0; i < E1000_DMA_PAGES; i++)
        pages[i] = (struct e1000_page){ dma + 4096 * i, (uint64_t)(uintptr_t)(dma + 4096 * i) };
    /* no EEPROM answer: the driver takes receive address 0, as QEMU and Bochs load it */
    regs[E1000_RAL0 / 4] = 0x12005452;
    regs[E1000_RAH0 / 4] = 0x80005634;
    e1000_reset(&nic, regs, delay);
    e1000_read_mac(&nic);
    e1000_start(&nic, pages);
}

static void test_start(void)
{
    setup();
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    CHECK(memcmp(nic.mac, mac, 6) == 0);
    CHECK_EQ(reg(E1000_CTRL) & (E1000_CTRL_RST | E1000_CTRL_SLU), E1000_CTRL_SLU);
    CHECK_EQ(reg(E1000_RAH0), 0x80005634u);
    CHECK_EQ(reg(E1000_RDBAL), (uint32_t)pages[0].phys);
    CHECK_EQ(reg(E1000_RDBAH), (uint32_t)(pages[0].phys >> 32));
    CHECK_EQ(reg(E1000_RDLEN), E1000_RING * 16);
    CHECK_EQ(reg(E1000_RDLEN) % 128, 0);
    CHECK_EQ(reg(E1000_RDT), E1000_RING - 1);
    CHECK_EQ(reg(E1000_TDBAL), (uint32_t)pages[1].phys);
    CHECK_EQ(reg(E1000_TDT), 0);
    CHECK(reg(E1000_RCTL) & E1000_RCTL_EN);
    CHECK(reg(E1000_RCTL) & E1000_RCTL_UPE);        /* the guests' addresses too */
    CHECK(reg(E1000_RCTL) & E1000_RCTL_SECRC);
    CHECK_EQ(reg(E1000_RCTL) & (3u << 16), 0);      /* 2 KiB buffers */
    CHECK(reg(E1000_TCTL) & E1000_TCTL_EN);
    CHECK(reg(E1000_IMS) & E1000_ICR_RXT0);
    CHECK(reg(E1000_IMS) & E1000_ICR_TXDW);
    /* every descriptor points at its own 2 KiB buffer, none shared, all in the pages */
    for (unsigned i = 0; i < E1000_RING; i++) {
        CHECK_EQ(nic.rx[i].address, (uint64_t)(uintptr_t)nic.rx_buffer[i]);
        CHECK_EQ(nic.tx[i].address, (uint64_t)(uintptr_t)nic.tx_buffer[i]);
        CHECK(nic.rx_buffer[i] >= dma + 2 * 4096 && nic.tx_buffer[i] + E1000_BUFFER <= dma + 4096 * E1000_DMA_PAGES);
        CHECK_EQ(nic.rx[i].status, 0);
        if (i)
            CHECK_EQ(nic.rx_buffer[i] - nic.rx_buffer[i - 1], E1000_BUFFER);
    }
    CHECK(nic.rx_buffer[E1000_RING - 1] + E1000_BUFFER <= nic.tx_buffer[0]);
}

/* What the NIC does with descriptor i: the frame, its length, status and errors. */
static void nic_receives(unsigned i, uint16_t length, uint8_t status, uint8_t errors)
{
    memset(nic.rx_buffer[i], (int)i, length < E1000_BUFFER ? length : E1000_BUFFER);
    nic.rx[i].length = length;
    nic.rx[i].errors = errors;
    nic.rx[i].status = status;
}

static unsigned taken, room;
static uint32_t lengths[E1000_RING];
static uint8_t first_bytes[E1000_RING];

static bool collect(void *ctx, const void *frame, uint32_t length)
{
    (void)ctx;
    if (room == 0)
        return false;
    room--;
    first_bytes[taken] = *(const uint8_t *)frame;
    lengths[taken++] = length;
    return true;
}

static void test_receive(void)
{
    setup();
    taken = 0, room = 100;
    CHECK_EQ(e1000_receive(&nic, collect, NULL), 0);   /* nothing yet */
    nic_receives(0, 60, E1000_RX_DD | E1000_RX_EOP, 0);
    nic_receives(1, 1514, E1000_RX_DD | E1000_RX_EOP, 0);
    nic_receives(2, 1000, E1000_RX_DD, 0);                      /* no EOP: in pieces */
    nic_receives(3, 100, E1000_RX_DD | E1000_RX_EOP, 0x01);     /* CRC error */
    nic_receives(4, 1600, E1000_RX_DD | E1000_RX_EOP, 0);       /* longer than the switch carries */
    nic_receives(5, 10, E1000_RX_DD | E1000_RX_EOP, 0);         /* shorter than a header */
    nic_receives(6, 64, E1000_RX_DD | E1000_RX_EOP, 0);
    CHECK_EQ(e1000_receive(&nic, collect, NULL), 3);
    CHECK_EQ(taken, 3);
    CHECK_EQ(lengths[0], 60);
    CHECK_EQ(lengths[1], 1514);
    CHECK_EQ(lengths[2], 64);
    CHECK_EQ(first_bytes[2], 6);
    CHECK_EQ(nic.stats.rx_errors, 4);
    CHECK_EQ(reg(E1000_RDT), 6);                   /* all seven given back */
    for (unsigned i = 0; i < 7; i++)
        CHECK_EQ(nic.rx[i].status, 0);
    /* The switch's ring is full: the frame stays until there is room. */
    nic_receives(7, 70, E1000_RX_DD | E1000_RX_EOP, 0);
    nic_receives(8, 80, E1000_RX_DD | E1000_RX_EOP, 0);
    room = 1;
    CHECK_EQ(e1000_receive(&nic, collect, NULL), 1);
    CHECK_EQ(nic.stats.rx_full, 1);
    CHECK_EQ(reg(E1000_RDT), 7);
    CHECK_EQ(nic.rx[8].status, E1000_RX_DD | E1000_RX_EOP);
    room = 10;
    CHECK_EQ(e1000_receive(&nic, collect, NULL), 1);
    CHECK_EQ(lengths[taken - 1], 80);
    CHECK_EQ(reg(E1000_RDT), 8);
    /* Around the ring: the tail follows the descriptors the driver gave back. */
    for (unsigned lap = 0; lap < 3 * E1000_RING; lap++) {
        unsigned i = nic.rx_next;
        nic_receives(i, 100, E1000_RX_DD | E1000_RX_EOP, 0);
        room = 1;
        CHECK_EQ(e1000_receive(&nic, collect, NULL), 1);
        CHECK_EQ(reg(E1000_RDT), i);
        taken = 0;
    }
    CHECK_EQ(nic.stats.received, 5 + 3 * E1000_RING);
}

static void test_transmit(void)
{
    setup();
    uint8_t frame[E1000_FRAME_MAX];
    memset(frame, 0x5a, sizeof(frame));
    CHECK(!e1000_transmit(&nic, frame, 13));
    CHECK(!e1000_transmit(&nic, frame, E1000_FRAME_MAX + 1));
    CHECK_EQ(e1000_tx_room(&nic), E1000_RING - 1);
    CHECK(e1000_transmit(&nic, frame, 60));
    CHECK_EQ(reg(E1000_TDT), 1);
    CHECK_EQ(nic.tx[0].length, 60);
    CHECK_EQ(nic.tx[0].command, E1000_TX_CMD_EOP | E1000_TX_CMD_IFCS | E1000_TX_CMD_RS);
    CHECK(memcmp(nic.tx_buffer[0], frame, 60) == 0);
    unsigned sent = 1;
    while (e1000_transmit(&nic, frame, E1000_FRAME_MAX))
        sent++;
    CHECK_EQ(sent, E1000_RING - 1);                /* one descriptor stays empty */
    CHECK_EQ(reg(E1000_TDT), E1000_RING - 1);
    CHECK_EQ(e1000_tx_room(&nic), 0);
    /* The NIC finishes the first two: two descriptors free again, in order. */
    nic.tx[1].status = E1000_TX_DD;
    CHECK_EQ(e1000_tx_room(&nic), 0);              /* 0 is not done yet */
    nic.tx[0].status = E1000_TX_DD;
    CHECK_EQ(e1000_tx_room(&nic), 2);
    CHECK(e1000_transmit(&nic, frame, 100));
    CHECK(e1000_transmit(&nic, frame, 100));
    CHECK(!e1000_transmit(&nic, frame, 100));
    CHECK_EQ(reg(E1000_TDT), 1);                   /* wrapped */
    CHECK_EQ(nic.tx[E1000_RING - 1].length, 100);
    CHECK_EQ(nic.tx[0].status, 0);                 /* handed to the NIC afresh */
    CHECK_EQ(nic.stats.transmitted, E1000_RING + 1);
}

DEVICE_TESTS(e1000,
    { "e1000_start", test_start },
    { "e1000_receive", test_receive },
    { "e1000_transmit", test_transmit },
)
