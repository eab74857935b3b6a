/* The storage server's ATA PIO driver (user/storage/ata_pio.c) against the VMM's IDE
 * model (vmm/dev/ata.c): a CD-ROM as master and the disk as slave, as Bochs has them. */
#include "harness.h"
#include "ide_ports.h"

#define SECTORS 600u
static uint8_t disk[SECTORS * 512];
static uint8_t iso[4 * 2048];
static unsigned flushes_seen;

static bool image_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    uint8_t *d = ctx;
    size_t size = d == disk ? sizeof(disk) : sizeof(iso);
    if (off > size || n > size - off)
        return false;
    memcpy(buf, d + off, n);
    return true;
}
static bool image_write(void *ctx, uint64_t off, const void *buf, size_t n)
{
    (void)ctx;
    if (off > sizeof(disk) || n > sizeof(disk) - off)
        return false;
    memcpy(disk + off, buf, n);
    return true;
}

static struct ata_controller controller;
static struct ata_channel *primary = &controller.channel[0];

static void out8(void *ctx, unsigned reg, uint8_t v)
{
    flushes_seen += reg == 7 && (v == 0xe7 || v == 0xea);
    ide_out8(ctx, reg, v);
}

static const struct ata_ports ports = { ide_in8, out8, ide_in16, ide_out16, ide_alt_status, ide_control,
                                        &controller.channel[0], NULL };

/* A device that stays busy for busy_left more reads of its status, and a pause that
 * counts its calls. */
static uint32_t busy_left, pauses;
static uint8_t slow_in8(void *ctx, unsigned reg)
{
    if (reg == 7 && busy_left) {
        busy_left--;
        return 0x80;
    }
    return ide_in8(ctx, reg);
}
static void pause(void *ctx) { (void)ctx; pauses++; }
static const struct ata_ports slow_ports = { slow_in8, out8, ide_in16, ide_out16, ide_alt_status, ide_control,
                                             &controller.channel[0], pause };
static const struct ata_ports slow_ports_no_pause = { slow_in8, out8, ide_in16, ide_out16, ide_alt_status, ide_control,
                                                      &controller.channel[0], NULL };

static void setup(bool read_only)
{
    static uint8_t mem[4096];
    static struct test_ram ram = { mem, sizeof(mem) };
    for (unsigned i = 0; i < sizeof(disk); i++)
        disk[i] = (uint8_t)(i / 512 * 3 + i);
    struct guest_memory m = { test_ram_read, test_ram_write, &ram };
    ata_init(&controller, m, (struct irq_line){ 0 }, (struct irq_line){ 0 });
    CHECK(ata_attach_cdrom(&controller, 0, 0, sizeof(iso), image_read, iso));
    CHECK(ata_attach_disk(&controller, 0, 1, sizeof(disk), read_only, image_read, image_write, disk));
    flushes_seen = 0;
    (void)primary;
}

static void identify_skips_atapi(void)
{
    static struct ata_disk d;
    setup(false);
    CHECK(!ata_pio_identify(&d, &ports, 0));        /* the CD-ROM */
    CHECK(ata_pio_identify(&d, &ports, 1));
    CHECK_EQ(d.sectors, SECTORS);
    CHECK_EQ(d.slot, 1);
}

static void read_write_round_trip(void)
{
    static struct ata_disk d;
    static uint8_t buf[256 * 512], pattern[256 * 512];
    setup(false);
    CHECK(ata_pio_identify(&d, &ports, 1));
    CHECK(ata_pio_read(&d, 5, 2, buf));
    CHECK(memcmp(buf, disk + 5 * 512, 1024) == 0);
    for (unsigned i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    CHECK(ata_pio_write(&d, SECTORS - 256, 256, pattern));     /* 256 sectors: count 0 */
    CHECK(memcmp(disk + (SECTORS - 256) * 512, pattern, sizeof(pattern)) == 0);
    CHECK_EQ(disk[(SECTORS - 257) * 512], (uint8_t)((SECTORS - 257) * 3));   /* just before: unchanged */
    memset(buf, 0, sizeof(buf));
    CHECK(ata_pio_read(&d, SECTORS - 256, 256, buf));
    CHECK(memcmp(buf, pattern, sizeof(buf)) == 0);
    CHECK(ata_pio_flush(&d));
    CHECK_EQ(flushes_seen, 1);
}

static void out_of_range_refused(void)
{
    static struct ata_disk d;
    static uint8_t buf[2 * 512], before[sizeof(disk)];
    setup(false);
    CHECK(ata_pio_identify(&d, &ports, 1));
    memcpy(before, disk, sizeof(disk));
    CHECK(!ata_pio_write(&d, SECTORS - 1, 2, buf));
    CHECK(!ata_pio_write(&d, SECTORS, 1, buf));
    CHECK(!ata_pio_read(&d, UINT64_MAX, 1, buf));
    CHECK(!ata_pio_read(&d, 0, 0, buf));
    CHECK(!ata_pio_read(&d, 0, ata_max_count(&d) + 1, buf));
    CHECK(memcmp(before, disk, sizeof(disk)) == 0);
    CHECK(ata_pio_read(&d, 0, 1, buf));             /* the drive still answers */
}

static void device_errors_reported(void)
{
    static struct ata_disk d;
    static uint8_t buf[512], before[sizeof(disk)];
    setup(true);                                    /* the model aborts writes */
    CHECK(ata_pio_identify(&d, &ports, 1));
    memcpy(before, disk, sizeof(disk));
    CHECK(!ata_pio_write(&d, 3, 1, buf));
    CHECK(memcmp(before, disk, sizeof(disk)) == 0);
    CHECK(ata_pio_read(&d, 3, 1, buf));
    ata_init(&controller, (struct guest_memory){ 0 }, (struct irq_line){ 0 }, (struct irq_line){ 0 });
    CHECK(!ata_pio_identify(&d, &ports, 1));        /* an empty channel */
}

/* A busy device is read quickly at first, then between pauses, and given up on after
 * the paused limit; without a pause callback nothing pauses. */
static void busy_device_paused(void)
{
    static struct ata_disk d;
    static uint8_t buf[512];
    setup(false);
    CHECK(ata_pio_identify(&d, &slow_ports, 1));
    busy_left = ATA_PIO_QUICK_POLLS + 10, pauses = 0;
    CHECK(ata_pio_read(&d, 7, 1, buf));
    CHECK_EQ(pauses, 11);                           /* before reads QUICK ... QUICK + 10 */
    CHECK(memcmp(buf, disk + 7 * 512, 512) == 0);
    busy_left = 500, pauses = 0;
    CHECK(ata_pio_write(&d, 8, 1, buf));
    CHECK_EQ(pauses, 0);                            /* a short wait never pauses */
    busy_left = UINT32_MAX, pauses = 0;
    CHECK(!ata_pio_flush(&d));                      /* a device that never finishes */
    CHECK_EQ(pauses, ATA_PIO_PAUSED_POLLS - ATA_PIO_QUICK_POLLS);
    busy_left = 0;
    CHECK(ata_pio_identify(&d, &slow_ports_no_pause, 1));
    busy_left = ATA_PIO_QUICK_POLLS + 10, pauses = 0;
    CHECK(ata_pio_read(&d, 7, 1, buf));
    CHECK_EQ(pauses, 0);
}

DEVICE_TESTS(ata_pio,
    { "ata_pio_identify_skips_atapi", identify_skips_atapi },
    { "ata_pio_read_write_round_trip", read_write_round_trip },
    { "ata_pio_out_of_range_refused", out_of_range_refused },
    { "ata_pio_device_errors_reported", device_errors_reported },
    { "ata_pio_busy_device_paused", busy_device_paused },
)
