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

/* The driver's setup of a disk of `bytes` (zeroed RAM, queue 0 ready). */
static void blk_start(struct virtio_blk *b, uint64_t bytes, bool ro)
{
    memset(mem, 0, sizeof(mem));
    virtio_blk_init(b, memory, irq, bytes, ro);
    reg_write(&b->dev, 0x12, 1, 1 | 2);     /* ACKNOWLEDGE | DRIVER */
    setup_queue(&b->dev, 0);
    reg_write(&b->dev, 0x12, 1, 1 | 2 | 4); /* DRIVER_OK */
}

static void blk_setup(struct virtio_blk *b, bool ro)
{
    for (unsigned i = 0; i < sizeof(disk); i++)
        disk[i] = (uint8_t)(i * 7);
    blk_start(b, sizeof(disk), ro);
    b->disk_read = disk_read;
    b->disk_write = disk_write;
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
    CHECK_EQ(reg_read(&b.dev, 0x1c, 4), 0);                 /* size_max: not offered */
    CHECK_EQ(reg_read(&b.dev, 0x20, 4), VIRTIO_BLK_SEG_MAX);
    /* writable: flush offered; seg_max and event indexes by every device */
    CHECK_EQ(reg_read(&b.dev, 0x00, 4), VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX | VIRTIO_RING_F_EVENT_IDX);
    blk_setup(&b, true);
    CHECK_EQ(reg_read(&b.dev, 0x00, 4), VIRTIO_BLK_F_RO | VIRTIO_BLK_F_SEG_MAX | VIRTIO_RING_F_EVENT_IDX);
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
    CHECK_EQ(reg_read(&b.dev, 0x04, 4), VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX | VIRTIO_RING_F_EVENT_IDX);
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

/* A larger disk that records its calls, for requests of many data buffers; with a
 * stage, every call must use it (the storage client relies on that to skip a copy). */
#define BIG_SECTORS 64
static uint8_t big_disk[BIG_SECTORS * 512], big_before[sizeof(big_disk)];
static uint8_t stage[8192];
static struct virtio_blk *big_device;
static struct { uint64_t offset; size_t length; } calls[16];
static unsigned call_count, fail_call;      /* fail_call: that call (1, 2, ...) fails */

static bool big_call(void *ctx, uint64_t offset, const void *buf, size_t n)
{
    (void)ctx;
    CHECK(n % 512 == 0 && offset + n <= sizeof(big_disk));
    if (big_device->disk_stage)
        CHECK(buf == stage && n <= big_device->disk_stage_bytes);
    else
        CHECK(n <= 4096);
    if (call_count < 16)
        calls[call_count].offset = offset, calls[call_count].length = n;
    return ++call_count != fail_call && offset + n <= sizeof(big_disk);
}
static bool big_read(void *ctx, uint64_t offset, void *buf, size_t n)
{
    if (!big_call(ctx, offset, buf, n))
        return false;
    memcpy(buf, big_disk + offset, n);
    return true;
}
static bool big_write(void *ctx, uint64_t offset, const void *buf, size_t n)
{
    if (!big_call(ctx, offset, buf, n))
        return false;
    memcpy(big_disk + offset, buf, n);
    return true;
}

/* stage_bytes 0: the device's own 4 KiB bounce buffer. */
static void big_setup(struct virtio_blk *b, size_t stage_bytes)
{
    for (unsigned i = 0; i < sizeof(big_disk); i++)
        big_disk[i] = (uint8_t)(i * 11 + i / 512);
    memcpy(big_before, big_disk, sizeof(big_disk));
    blk_start(b, sizeof(big_disk), false);
    b->disk_read = big_read;
    b->disk_write = big_write;
    b->disk_stage = stage_bytes ? stage : NULL;
    b->disk_stage_bytes = stage_bytes;
    big_device = b;
    call_count = fail_call = 0;
}

/* A data buffer in guest RAM, away from the header (0x1000), the status (0x1100) and the
 * ring (0x8000-0x9fff); device_writes: the device fills it (a read). */
struct piece { uint64_t gpa; uint32_t length; bool device_writes; };

static void blk_chain(struct virtio_blk *b, uint32_t type, uint64_t sector, const struct piece *data,
                      unsigned count)
{
    struct { uint32_t type, reserved; uint64_t sector; } h = { type, 0, sector };
    memcpy(mem + 0x1000, &h, sizeof(h));
    mem[0x1100] = 0xee;
    put_desc(0, 0, 0x1000, 16, 1, 1);
    for (unsigned i = 0; i < count; i++)
        put_desc(0, 1 + i, data[i].gpa, data[i].length, 1 | (data[i].device_writes ? 2 : 0), (uint16_t)(2 + i));
    put_desc(0, 1 + count, 0x1100, 1, 2, 0);
    make_available(0, 0);
    reg_write(&b->dev, 0x10, 2, 0);
}

/* Fills the pieces with a pattern of their own. */
static void fill_pieces(const struct piece *data, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        for (uint32_t k = 0; k < data[i].length; k++)
            mem[data[i].gpa + k] = (uint8_t)(k * 13 + i * 101 + 5);
}

/* The pieces, one after the other, equal `bytes`. */
static bool pieces_equal(const struct piece *data, unsigned count, const uint8_t *bytes)
{
    for (unsigned i = 0; i < count; i++) {
        if (memcmp(mem + data[i].gpa, bytes, data[i].length) != 0)
            return false;
        bytes += data[i].length;
    }
    return true;
}

/* Three pages and a sector, scattered in guest RAM: 12800 bytes. */
static const struct piece pages_out[] = {
    { 0x5000, 4096, false }, { 0x2000, 4096, false }, { 0xa000, 4096, false }, { 0x7000, 512, false } };
static const struct piece pages_in[] = {
    { 0x5000, 4096, true }, { 0x2000, 4096, true }, { 0xa000, 4096, true }, { 0x7000, 512, true } };

/* A write of four buffers through an 8 KiB stage: two disk calls, byte-exact. */
static void blk_staged_write_runs(void)
{
    static struct virtio_blk b;
    big_setup(&b, 8192);
    fill_pieces(pages_out, 4);
    blk_chain(&b, VIRTIO_BLK_T_OUT, 3, pages_out, 4);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(used_len(0, 0), 1);
    CHECK_EQ(call_count, 2);
    CHECK_EQ(calls[0].offset, 3 * 512);
    CHECK_EQ(calls[0].length, 8192);
    CHECK_EQ(calls[1].offset, 3 * 512 + 8192);
    CHECK_EQ(calls[1].length, 12800 - 8192);
    CHECK(pieces_equal(pages_out, 4, big_disk + 3 * 512));
    CHECK(memcmp(big_disk, big_before, 3 * 512) == 0);
    CHECK(memcmp(big_disk + 3 * 512 + 12800, big_before + 3 * 512 + 12800,
                 sizeof(big_disk) - 3 * 512 - 12800) == 0);
}

/* A read of four buffers through an 8 KiB stage: two disk calls, guest RAM byte-exact,
 * the used length counts the bytes written and the status. */
static void blk_staged_read_runs(void)
{
    static struct virtio_blk b;
    big_setup(&b, 8192);
    blk_chain(&b, VIRTIO_BLK_T_IN, 5, pages_in, 4);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(used_len(0, 0), 12800 + 1);
    CHECK_EQ(call_count, 2);
    CHECK_EQ(calls[0].offset, 5 * 512);
    CHECK_EQ(calls[1].length, 12800 - 8192);
    CHECK(pieces_equal(pages_in, 4, big_disk + 5 * 512));
    CHECK_EQ(mem[0x7000 + 512], 0);             /* nothing past the last buffer */
    CHECK_EQ(mem[0x5000 - 1], 0);
}

/* A 12 KiB buffer between two smaller ones through an 8 KiB stage: runs of 8192, 8192
 * and 512 bytes cross the buffers' bounds.  A disk failure in the middle is an error. */
static void blk_staged_buffer_split(void)
{
    static struct virtio_blk b;
    static const struct piece out[] = { { 0x7000, 512, false }, { 0x2000, 12288, false }, { 0xa000, 4096, false } };
    static const struct piece in[] = { { 0x7000, 512, true }, { 0x2000, 12288, true }, { 0xa000, 4096, true } };
    big_setup(&b, 8192);
    fill_pieces(out, 3);
    blk_chain(&b, VIRTIO_BLK_T_OUT, 10, out, 3);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(call_count, 3);
    CHECK_EQ(calls[1].offset, 10 * 512 + 8192);
    CHECK_EQ(calls[2].length, 512);
    CHECK(pieces_equal(out, 3, big_disk + 10 * 512));
    big_setup(&b, 8192);
    blk_chain(&b, VIRTIO_BLK_T_IN, 20, in, 3);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(used_len(0, 0), 16896 + 1);
    CHECK_EQ(call_count, 3);
    CHECK(pieces_equal(in, 3, big_disk + 20 * 512));
    big_setup(&b, 8192);
    fail_call = 2;
    blk_chain(&b, VIRTIO_BLK_T_IN, 20, in, 3);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    CHECK_EQ(call_count, 2);
}

/* A bad buffer anywhere in the chain fails the request before the disk is called:
 * directions mixed either way, a buffer of part of a sector, a last buffer past the
 * end; neither the disk nor the guest's buffers change. */
static void blk_staged_invalid_untouched(void)
{
    static struct virtio_blk b;
    static const struct piece mixed_out[] = { { 0x2000, 4096, false }, { 0x5000, 4096, true } };
    static const struct piece mixed_in[] = { { 0x2000, 4096, true }, { 0x5000, 4096, false } };
    static const struct piece partial[] = { { 0x2000, 4096, false }, { 0x5000, 1000, false } };
    static const struct piece past_end[] = { { 0x2000, 4096, false }, { 0x5000, 4096, false } };
    big_setup(&b, 8192);
    fill_pieces(mixed_out, 2);
    blk_chain(&b, VIRTIO_BLK_T_OUT, 0, mixed_out, 2);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    blk_chain(&b, VIRTIO_BLK_T_IN, 0, mixed_in, 2);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    CHECK_EQ(mem[0x2000], (uint8_t)5);          /* the read's first buffer as it was */
    CHECK_EQ(used_len(0, 1), 1);
    blk_chain(&b, VIRTIO_BLK_T_OUT, 0, partial, 2);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    blk_chain(&b, VIRTIO_BLK_T_OUT, BIG_SECTORS - 12, past_end, 2);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    CHECK_EQ(used_idx(0), 4);
    CHECK_EQ(call_count, 0);
    CHECK(memcmp(big_disk, big_before, sizeof(big_disk)) == 0);
}

/* Without a stage: runs of 4 KiB through the device's bounce buffer. */
static void blk_unstaged_runs(void)
{
    static struct virtio_blk b;
    big_setup(&b, 0);
    fill_pieces(pages_out, 4);
    blk_chain(&b, VIRTIO_BLK_T_OUT, 1, pages_out, 4);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(call_count, 4);
    CHECK_EQ(calls[3].offset, 512 + 3 * 4096);
    CHECK_EQ(calls[3].length, 512);
    CHECK(pieces_equal(pages_out, 4, big_disk + 512));
    CHECK(memcmp(big_disk + 512 + 12800, big_before + 512 + 12800, sizeof(big_disk) - 512 - 12800) == 0);
    big_setup(&b, 0);
    blk_chain(&b, VIRTIO_BLK_T_IN, 7, pages_in, 4);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(used_len(0, 0), 12800 + 1);
    CHECK_EQ(call_count, 4);
    CHECK(pieces_equal(pages_in, 4, big_disk + 7 * 512));
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

/* ---- hostile chains against the staged virtio-blk ---- */
static unsigned lax_calls;
static bool lax_read(void *ctx, uint64_t off, void *buf, size_t n) { (void)ctx; (void)off; memset(buf, 0xab, n); lax_calls++; return true; }
static bool lax_write(void *ctx, uint64_t off, const void *buf, size_t n) { (void)ctx; (void)off; (void)buf; (void)n; lax_calls++; return true; }

/* A chain of header + `n` data descriptors + status, descriptors 0..n+1. */
static void raw_chain(struct virtio_blk *b, uint32_t type, uint64_t sector, unsigned n, uint64_t gpa,
                      uint32_t len, bool dw)
{
    struct { uint32_t type, reserved; uint64_t sector; } h = { type, 0, sector };
    memcpy(mem + 0x1000, &h, sizeof(h));
    mem[0x1100] = 0xee;
    put_desc(0, 0, 0x1000, 16, 1, 1);
    for (unsigned i = 0; i < n; i++)
        put_desc(0, 1 + i, gpa, len, 1 | (dw ? 2 : 0), (uint16_t)(2 + i));
    put_desc(0, 1 + n, 0x1100, 1, 2, 0);
    make_available(0, 0);
    reg_write(&b->dev, 0x10, 2, 0);
}

static void blk_chain_limits(void)
{
    static struct virtio_blk b;
    big_setup(&b, 8192);
    raw_chain(&b, VIRTIO_BLK_T_IN, 0, 64, 0x2000, 512, true);     /* 66 descriptors: served */
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(call_count, 4);
    CHECK_EQ(used_len(0, 0), 64 * 512 + 1);
    raw_chain(&b, VIRTIO_BLK_T_IN, 0, 65, 0x2000, 512, true);     /* 67: dropped, nothing moves */
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(call_count, 4);
}

static void huge_start(struct virtio_blk *b)
{
    blk_start(b, 1ull << 50, false);                   /* a huge disk: only guest RAM limits */
    b->disk_read = lax_read;
    b->disk_write = lax_write;
    b->disk_stage = stage;
    b->disk_stage_bytes = sizeof(stage);
    lax_calls = 0;
}

static void blk_huge_and_wrapping(void)
{
    static struct virtio_blk b;
    huge_start(&b);
    /* 64 buffers of almost 4 GiB at 0x2000: runs until a run leaves the 64 KiB of RAM */
    raw_chain(&b, VIRTIO_BLK_T_IN, 0, 64, 0x2000, 0xfffffe00u, true);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    CHECK(lax_calls >= 1 && lax_calls <= 8);
    huge_start(&b);                                    /* that read trashed the guest's own ring */
    /* a buffer that wraps the address space */
    raw_chain(&b, VIRTIO_BLK_T_OUT, 0, 1, 0ull - 512, 1024, false);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    /* sectors whose byte offset wraps */
    raw_chain(&b, VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, 1, 0x2000, 512, true);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    raw_chain(&b, VIRTIO_BLK_T_IN, (1ull << 50) / 512 - 1, 2, 0x2000, 512, true);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_IOERR);
    /* zero-length data buffers among real ones */
    lax_calls = 0;
    raw_chain(&b, VIRTIO_BLK_T_IN, 0, 3, 0x2000, 0, true);
    CHECK_EQ(mem[0x1100], VIRTIO_BLK_S_OK);
    CHECK_EQ(lax_calls, 0);
}

DEVICE_TESTS(virtio,
    { "virtio_blk_chain_limits", blk_chain_limits },
    { "virtio_blk_huge_and_wrapping", blk_huge_and_wrapping },
    { "virtio_blk_capacity_and_features", blk_capacity_and_features },
    { "virtio_blk_read_sector", blk_read_sector },
    { "virtio_blk_write_sector", blk_write_sector },
    { "virtio_blk_out_of_range_and_read_only", blk_out_of_range_and_read_only },
    { "virtio_blk_unsupported_and_id", blk_unsupported_and_id },
    { "virtio_blk_flush", blk_flush },
    { "virtio_blk_write_past_end_untouched", blk_write_past_end_untouched },
    { "virtio_blk_staged_write_runs", blk_staged_write_runs },
    { "virtio_blk_staged_read_runs", blk_staged_read_runs },
    { "virtio_blk_staged_buffer_split", blk_staged_buffer_split },
    { "virtio_blk_staged_invalid_untouched", blk_staged_invalid_untouched },
    { "virtio_blk_unstaged_runs", blk_unstaged_runs },
    { "virtio_malformed_chain_dropped", blk_malformed_chain_dropped },
    { "virtio_transport_reset", transport_reset },
    { "virtio_no_interrupt_flag", no_interrupt_flag },
    { "virtio_event_index", event_index },
    { "virtio_console_transmit_and_receive", console_transmit_and_receive },
)
