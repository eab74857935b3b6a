/* The storage server's answer to a channel's request (user/storage/serve.c): sectors
 * are the partition's, a request outside it fails and reaches no disk sector, fields
 * are read once, and a refused channel fails everything. */
#include "harness.h"
#include "../../user/storage/serve.h"

#define DISK_SECTORS 100u
#define FIRST 10u                   /* the partition: disk sectors 10-29 */
#define SIZE 20u

static uint8_t disk[DISK_SECTORS][512];
static unsigned disk_calls, flushes;
static bool fail_io;
static struct pith_storage_control control;
static uint8_t data[PITH_STORAGE_DATA_BYTES];

static bool disk_read(void *ctx, uint64_t lba, unsigned count, void *buf)
{
    (void)ctx;
    disk_calls++;
    if (fail_io || lba >= DISK_SECTORS || count > DISK_SECTORS - lba)
        return false;
    memcpy(buf, disk[lba], count * 512u);
    return true;
}
static bool disk_write(void *ctx, uint64_t lba, unsigned count, const void *buf)
{
    (void)ctx;
    disk_calls++;
    if (fail_io || lba >= DISK_SECTORS || count > DISK_SECTORS - lba)
        return false;
    memcpy(disk[lba], buf, count * 512u);
    return true;
}
static bool disk_flush(void *ctx) { (void)ctx; flushes++; return !fail_io; }

static struct storage_disk fake = { disk_read, disk_write, disk_flush, NULL, 256 };
static struct storage_channel ch;

static void setup(bool served)
{
    for (unsigned s = 0; s < DISK_SECTORS; s++)
        memset(disk[s], (int)s, 512);
    memset(&control, 0, sizeof(control));
    ch = (struct storage_channel){ &control, data, served, FIRST, SIZE, 0 };
    disk_calls = flushes = 0;
    fail_io = false;
}

/* Posts a request the way the VMM does; the status, or 0xff if none was answered. */
static uint32_t post(uint32_t op, uint64_t sector, uint32_t count)
{
    control.op = op;
    control.sector = sector;
    control.count = count;
    control.seq++;
    control.status = 0xff;
    if (!storage_serve(&fake, &ch))
        return 0xff;
    CHECK_EQ(control.done, control.seq);
    return control.status;
}

static void serve_translates_to_partition(void)
{
    setup(true);
    CHECK_EQ(post(PITH_STORAGE_READ, 0, 2), PITH_STORAGE_OK);
    CHECK_EQ(data[0], FIRST);                   /* partition sector 0 is disk sector 10 */
    CHECK_EQ(data[512], FIRST + 1);
    memset(data, 0xab, 512);
    CHECK_EQ(post(PITH_STORAGE_WRITE, SIZE - 1, 1), PITH_STORAGE_OK);
    CHECK_EQ(disk[FIRST + SIZE - 1][0], 0xab);  /* the last sector of the partition */
    CHECK_EQ(disk[FIRST + SIZE][0], FIRST + SIZE);
    CHECK_EQ(post(PITH_STORAGE_FLUSH, 0, 0), PITH_STORAGE_OK);
    CHECK_EQ(flushes, 1);
}

/* A request larger than the disk moves in one call is split into calls of at most
 * max_count sectors, in order, each to its own sectors. */
static void serve_splits_by_max_count(void)
{
    setup(true);
    fake.max_count = 3;
    CHECK_EQ(post(PITH_STORAGE_READ, 1, 8), PITH_STORAGE_OK);
    CHECK_EQ(disk_calls, 3);
    for (unsigned s = 0; s < 8; s++)
        CHECK_EQ(data[s * 512], FIRST + 1 + s);
    for (unsigned s = 0; s < 7; s++)
        memset(data + s * 512, 0xc0 + s, 512);
    disk_calls = 0;
    CHECK_EQ(post(PITH_STORAGE_WRITE, 2, 7), PITH_STORAGE_OK);
    CHECK_EQ(disk_calls, 3);
    for (unsigned s = 0; s < 7; s++)
        CHECK_EQ(disk[FIRST + 2 + s][511], 0xc0 + s);
    CHECK_EQ(disk[FIRST + 9][0], FIRST + 9);
    fake.max_count = 256;
}

static void serve_out_of_range_touches_nothing(void)
{
    static uint8_t before[sizeof(disk)];
    setup(true);
    memcpy(before, disk, sizeof(disk));
    memset(data, 0xcd, sizeof(data));
    CHECK_EQ(post(PITH_STORAGE_WRITE, SIZE - 1, 2), PITH_STORAGE_IOERR);        /* into the neighbour */
    CHECK_EQ(post(PITH_STORAGE_WRITE, SIZE, 1), PITH_STORAGE_IOERR);
    CHECK_EQ(post(PITH_STORAGE_WRITE, UINT64_MAX - FIRST + 1, 1), PITH_STORAGE_IOERR);   /* wraps to LBA 0 */
    CHECK_EQ(post(PITH_STORAGE_WRITE, 0, 0), PITH_STORAGE_IOERR);
    CHECK_EQ(post(PITH_STORAGE_WRITE, 0, UINT32_MAX), PITH_STORAGE_IOERR);
    CHECK_EQ(post(PITH_STORAGE_READ, SIZE, 1), PITH_STORAGE_IOERR);
    CHECK_EQ(post(9, 0, 1), PITH_STORAGE_UNSUPPORTED);
    CHECK_EQ(disk_calls, 0);
    CHECK(memcmp(before, disk, sizeof(disk)) == 0);
    CHECK_EQ(post(PITH_STORAGE_READ, 0, 1), PITH_STORAGE_OK);    /* and the channel still works */
}

static void serve_once_per_request(void)
{
    setup(true);
    CHECK_EQ(post(PITH_STORAGE_READ, 0, 1), PITH_STORAGE_OK);
    CHECK(!storage_serve(&fake, &ch));  /* no new seq: nothing done */
    CHECK_EQ(disk_calls, 1);
    fail_io = true;
    CHECK_EQ(post(PITH_STORAGE_READ, 0, 1), PITH_STORAGE_IOERR);  /* the drive's error, reported */
    CHECK_EQ(post(PITH_STORAGE_FLUSH, 0, 0), PITH_STORAGE_IOERR);
}

static void serve_refused_channel(void)
{
    setup(false);
    CHECK_EQ(post(PITH_STORAGE_READ, 0, 1), PITH_STORAGE_IOERR);
    CHECK_EQ(post(PITH_STORAGE_FLUSH, 0, 0), PITH_STORAGE_IOERR);
    CHECK_EQ(disk_calls + flushes, 0);
}

DEVICE_TESTS(storage_serve,
    { "storage_serve_translates_to_partition", serve_translates_to_partition },
    { "storage_serve_splits_by_max_count", serve_splits_by_max_count },
    { "storage_serve_out_of_range_touches_nothing", serve_out_of_range_touches_nothing },
    { "storage_serve_once_per_request", serve_once_per_request },
    { "storage_serve_refused_channel", serve_refused_channel },
)
