/* Legacy virtio-pci transport, split virtqueues, virtio-blk and virtio-console,
 * driven the way Linux's legacy virtio-pci driver does, over a fake guest memory. */
#include "harness.h"
#include "dev/virtio_blk.h"
#include "dev/virtio_console.h"

#define MEM_SIZE (64 * 1024)
#define RING_PFN 8                  /* the queue at 0x8000 */
static uint8_t mem[MEM_SIZE];
static uint8_t disk[8 * 512];
static int irq_level;

static struct test_ram ram = { mem, MEM_SIZE };
static bool disk_read(void *ctx, uint64_t off, void *buf, size_t n) { (void)ctx; memcpy(buf, disk + off, n); return true; }
static bool disk_write(void *ctx, uint64_t off, const void *buf, size_t n) { (void)ctx; memcpy(disk + off, buf, n); return true; }
static void set_irq(void *ctx, unsigned line, bool level) { (void)ctx; (void)line; irq_level = level; }

static const struct guest_memory memory = { test_ram_read, test_ram_write, &ram };
static const struct irq_line irq = { set_irq, NULL, 11 };

static void reg_write(struct virtio_device *d, unsigned off, unsigned size, uint64_t v) { virtio_pci_ops.write(d, off, size, v); }
static uint64_t reg_read(struct virtio_device *d, unsigned off, unsigned size) { return virtio_pci_ops.read(d, off, size); }

/* The driver's side: set up queue q at RING_PFN + 2q pages. */
static void setup_queue(struct virtio_device *d, unsigned q)
{
    reg_write(d, 0x0e, 2, q);
    CHECK_EQ(reg_read(d, 0x0c, 2), VIRTIO_QUEUE_SIZE);
    reg_write(d, 0x08, 4, RING_PFN + 2 * q);
}

#include "virtq_driver.h"

static void blk_setup(struct virtio_blk *b, bool ro)
{
    memset(mem, 0, sizeof(mem));
    for (unsigned i = 0; i < sizeof(disk); i++)
        disk[i] = (uint8_t)(i * 7);
    virtio_blk_init(b, memory, irq, sizeof(disk), ro);
    b->disk_read = disk_read;
    b->disk_write = disk_write;
    reg_write(&b->dev, 0x12, 1, 1 | 2);     /* ACKNOWLEDGE | DRIVER */
    setup_queue(&b->dev, 0);
    reg_write(&b->dev, 0x12, 1, 1 | 2 | 4); /* DRIVER_OK */
}

/* A request: header at 0x1000, data at 0x2000 (len bytes), status at 0x3000. */
static void blk_request(struct virtio_blk *b, uint32_t type, uint64_t sector, uint32_t len, bool device_writes)
{
    struct { uint32_t type, reserved; uint64_t sector; } h = { type, 0, sector };
    memcpy(mem + 0x1000, &h, sizeof(h));
    mem[0x3000] = 0xee;
    put_desc(0, 0, 0x1000, 16, 1, 1);
    put_desc(0, 1, 0x2000, len, 1 | (device_writes ? 2 : 0), 2);
    put_desc(0, 2, 0x3000, 1, 2, 0);
    make_available(0, 0);
    reg_write(&b->dev, 0x10, 2, 0);         /* notify queue 0 */
}

static void blk_capacity_and_features(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    CHECK_EQ(reg_read(&b.dev, 0x14, 4), sizeof(disk) / 512);
    CHECK_EQ(reg_read(&b.dev, 0x18, 4), 0);
    /* writable: flush offered; event indexes by every device */
    CHECK_EQ(reg_read(&b.dev, 0x00, 4), VIRTIO_BLK_F_FLUSH | VIRTIO_RING_F_EVENT_IDX);
    blk_setup(&b, true);
    CHECK_EQ(reg_read(&b.dev, 0x00, 4), VIRTIO_BLK_F_RO | VIRTIO_RING_F_EVENT_IDX);
}

static void blk_read_sector(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    blk_request(&b, VIRTIO_BLK_T_IN, 2, 512, true);
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_OK);
    CHECK(memcmp(mem + 0x2000, disk + 1024, 512) == 0);
    CHECK_EQ(used_len(0, 0), 513);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(reg_read(&b.dev, 0x13, 1), 1);   /* ISR: read clears and lowers the line */
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(reg_read(&b.dev, 0x13, 1), 0);
}

static void blk_write_sector(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    memset(mem + 0x2000, 0x5a, 512);
    blk_request(&b, VIRTIO_BLK_T_OUT, 7, 512, false);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_OK);
    CHECK_EQ(disk[7 * 512], 0x5a);
    CHECK_EQ(disk[7 * 512 + 511], 0x5a);
    CHECK_EQ(disk[6 * 512], (uint8_t)(6 * 512 * 7));
}

static void blk_out_of_range_and_read_only(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    blk_request(&b, VIRTIO_BLK_T_IN, 8, 512, true);         /* one past the end */
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_IOERR);
    blk_request(&b, VIRTIO_BLK_T_IN, 0, 100, true);         /* not whole sectors */
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_IOERR);
    blk_setup(&b, true);
    uint8_t before = disk[0];
    blk_request(&b, VIRTIO_BLK_T_OUT, 0, 512, false);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_IOERR);
    CHECK_EQ(disk[0], before);
}

static int flushes;
static bool flush_result;
static bool disk_flush(void *ctx) { (void)ctx; flushes++; return flush_result; }

/* VIRTIO_BLK_T_FLUSH is a header and a status byte; the disk's answer is the status. */
static void blk_flush_request(struct virtio_blk *b)
{
    struct { uint32_t type, reserved; uint64_t sector; } h = { VIRTIO_BLK_T_FLUSH, 0, 0 };
    memcpy(mem + 0x1000, &h, sizeof(h));
    mem[0x3000] = 0xee;
    put_desc(0, 0, 0x1000, 16, 1, 1);
    put_desc(0, 1, 0x3000, 1, 2, 0);
    make_available(0, 0);
    reg_write(&b->dev, 0x10, 2, 0);
}

static void blk_flush(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    blk_flush_request(&b);                  /* no flush callback: nothing to make durable */
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_OK);
    CHECK_EQ(used_len(0, 0), 1);
    b.disk_flush = disk_flush;
    flushes = 0;
    flush_result = true;
    blk_flush_request(&b);
    CHECK_EQ(flushes, 1);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_OK);
    flush_result = false;                   /* the disk could not: the guest is told */
    blk_flush_request(&b);
    CHECK_EQ(flushes, 2);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_IOERR);
    CHECK_EQ(used_idx(0), 3);
}

/* A write that starts inside the disk and runs past its end changes nothing. */
static void blk_write_past_end_untouched(void)
{
    static struct virtio_blk b;
    static uint8_t before[sizeof(disk)];
    blk_setup(&b, false);
    memcpy(before, disk, sizeof(disk));
    memset(mem + 0x2000, 0xa5, 1024);
    blk_request(&b, VIRTIO_BLK_T_OUT, 7, 1024, false);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_IOERR);
    blk_request(&b, VIRTIO_BLK_T_OUT, UINT64_MAX / 512, 512, false);   /* offset wraps */
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_IOERR);
    CHECK(memcmp(before, disk, sizeof(disk)) == 0);
}

static void blk_unsupported_and_id(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    blk_request(&b, 99, 0, 512, true);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_UNSUPP);
    blk_request(&b, VIRTIO_BLK_T_GET_ID, 0, 20, true);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_OK);
    CHECK(memcmp(mem + 0x2000, "pith-virtio-disk", 16) == 0);
}

static void blk_malformed_chain_dropped(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    put_desc(0, 0, 0x1000, 16, 1, 0);           /* a loop: 0 -> 0 -> ... */
    make_available(0, 0);
    reg_write(&b.dev, 0x10, 2, 0);
    CHECK_EQ(used_idx(0), 0);
    put_desc(0, 0, 0x1000, 16, 1, 500);         /* next out of range */
    make_available(0, 0);
    reg_write(&b.dev, 0x10, 2, 0);
    CHECK_EQ(used_idx(0), 0);
}

static void transport_reset(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    reg_write(&b.dev, 0x04, 4, 0xffffffff);     /* only offered features stick */
    CHECK_EQ(reg_read(&b.dev, 0x04, 4), VIRTIO_BLK_F_FLUSH | VIRTIO_RING_F_EVENT_IDX);
    reg_write(&b.dev, 0x12, 1, 0);
    CHECK_EQ(reg_read(&b.dev, 0x12, 1), 0);
    reg_write(&b.dev, 0x0e, 2, 0);
    CHECK_EQ(reg_read(&b.dev, 0x08, 4), 0);     /* the queue is gone */
    reg_write(&b.dev, 0x0e, 2, 5);
    CHECK_EQ(reg_read(&b.dev, 0x0c, 2), 0);     /* no such queue */
}

/* Without event indexes the driver's NO_INTERRUPT flag holds the interrupt back; the
 * completion is in the used ring all the same. */
static void no_interrupt_flag(void)
{
    static struct virtio_blk b;
    blk_setup(&b, false);
    uint16_t flags = VIRTIO_AVAIL_F_NO_INTERRUPT;
    memcpy(mem + avail(0), &flags, 2);
    blk_request(&b, VIRTIO_BLK_T_IN, 0, 512, true);
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(mem[0x3000], VIRTIO_BLK_S_OK);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(reg_read(&b.dev, 0x13, 1), 0);
    flags = 0;
    memcpy(mem + avail(0), &flags, 2);
    blk_request(&b, VIRTIO_BLK_T_IN, 1, 512, true);
    CHECK_EQ(used_idx(0), 2);
    CHECK_EQ(irq_level, 1);
}

static uint16_t used_event_word(unsigned q) { uint16_t v; memcpy(&v, mem + avail(q) + 4 + 2 * VIRTIO_QUEUE_SIZE, 2); return v; }
static void set_used_event(unsigned q, uint16_t v) { memcpy(mem + avail(q) + 4 + 2 * VIRTIO_QUEUE_SIZE, &v, 2); }
static uint16_t avail_event(unsigned q) { uint16_t v; memcpy(&v, mem + used(q) + 4 + 8 * VIRTIO_QUEUE_SIZE, 2); return v; }

/* With VIRTIO_RING_F_EVENT_IDX the interrupt comes when the used index passes the
 * driver's used_event and not before; the flag no longer counts; an emptied queue
 * names the next available index as the one to notify at, and the index wraps. */
static void event_index(void)
{
    static struct virtio_blk b;
    memset(mem, 0, sizeof(mem));
    virtio_blk_init(&b, memory, irq, sizeof(disk), false);
    b.disk_read = disk_read;
    b.disk_write = disk_write;
    reg_write(&b.dev, 0x12, 1, 1 | 2);
    reg_write(&b.dev, 0x04, 4, VIRTIO_RING_F_EVENT_IDX);
    setup_queue(&b.dev, 0);
    reg_write(&b.dev, 0x12, 1, 1 | 2 | 4);
    irq_level = 0;
    set_used_event(0, 1);                        /* an interrupt once entry 1 is used */
    uint16_t flags = VIRTIO_AVAIL_F_NO_INTERRUPT;   /* ignored with event indexes */
    memcpy(mem + avail(0), &flags, 2);
    blk_request(&b, VIRTIO_BLK_T_IN, 0, 512, true);
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(avail_event(0), 1);                 /* notify me at your next entry */
    blk_request(&b, VIRTIO_BLK_T_IN, 1, 512, true);
    CHECK_EQ(used_idx(0), 2);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(reg_read(&b.dev, 0x13, 1), 1);
    CHECK_EQ(avail_event(0), 2);
    /* Far behind (Linux's "callbacks off"): 0xfffe more completions pass without one. */
    set_used_event(0, (uint16_t)(used_idx(0) + 0x8000));
    for (unsigned i = 0; i < 3; i++)
        blk_request(&b, VIRTIO_BLK_T_IN, 2, 512, true);
    CHECK_EQ(used_idx(0), 5);
    CHECK_EQ(irq_level, 0);
    /* The indexes wrap at 65536: both rings near the end, the event just after it. */
    b.dev.queue[0].last_avail = b.dev.queue[0].used_index = 0xffff;
    uint16_t idx = 0xffff;
    memcpy(mem + avail(0) + 2, &idx, 2);
    set_used_event(0, 0xffff);
    blk_request(&b, VIRTIO_BLK_T_IN, 3, 512, true);
    CHECK_EQ(used_idx(0), 0);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(avail_event(0), 0);
    CHECK_EQ(used_event_word(0), 0xffff);        /* the device never writes the driver's word */
}

static char console_out[256];
static size_t console_out_length;
static void console_output(void *ctx, const char *bytes, size_t n)
{
    (void)ctx;
    memcpy(console_out + console_out_length, bytes, n);
    console_out_length += n;
}

static void console_transmit_and_receive(void)
{
    static struct virtio_console c;
    memset(mem, 0, sizeof(mem));
    console_out_length = 0;
    virtio_console_init(&c, memory, irq, console_output, NULL);
    setup_queue(&c.dev, 0);
    setup_queue(&c.dev, 1);
    memcpy(mem + 0x1000, "hi there", 8);
    put_desc(1, 0, 0x1000, 8, 0, 0);
    make_available(1, 0);
    reg_write(&c.dev, 0x10, 2, 1);
    CHECK_EQ(console_out_length, 8);
    CHECK(memcmp(console_out, "hi there", 8) == 0);
    CHECK_EQ(used_idx(1), 1);
    CHECK_EQ(virtio_console_input(&c, "ls\n", 3), 0);      /* no receive buffer yet */
    put_desc(0, 0, 0x2000, 2, 2, 0);
    put_desc(0, 1, 0x2100, 16, 2, 0);
    make_available(0, 0);
    make_available(0, 1);
    CHECK_EQ(virtio_console_input(&c, "ls\n", 3), 3);
    CHECK(memcmp(mem + 0x2000, "ls", 2) == 0);
    CHECK_EQ(mem[0x2100], '\n');
    CHECK_EQ(used_idx(0), 2);
    CHECK_EQ(used_len(0, 0), 2);
}

DEVICE_TESTS(virtio,
    { "virtio_blk_capacity_and_features", blk_capacity_and_features },
    { "virtio_blk_read_sector", blk_read_sector },
    { "virtio_blk_write_sector", blk_write_sector },
    { "virtio_blk_out_of_range_and_read_only", blk_out_of_range_and_read_only },
    { "virtio_blk_unsupported_and_id", blk_unsupported_and_id },
    { "virtio_blk_flush", blk_flush },
    { "virtio_blk_write_past_end_untouched", blk_write_past_end_untouched },
    { "virtio_malformed_chain_dropped", blk_malformed_chain_dropped },
    { "virtio_transport_reset", transport_reset },
    { "virtio_no_interrupt_flag", no_interrupt_flag },
    { "virtio_event_index", event_index },
    { "virtio_console_transmit_and_receive", console_transmit_and_receive },
)
