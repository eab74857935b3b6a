/* The storage server's bus-master DMA (user/storage/ata_dma.c) against the VMM's IDE
 * model (vmm/dev/ata.c), whose DMA engine reads the region table and the data from a
 * test RAM: the RAM's offsets are the "physical" addresses the server names. */
#include "harness.h"
#include "ide_ports.h"

#define SECTORS 600u
#define TABLE   0x1000u             /* the server's page: the table */
#define DATA    0x2000u             /* data buffers from here */
static uint8_t disk[SECTORS * 512];
static _Alignas(4096) uint8_t ram[DATA + 256 * 512 + 8192];
static struct test_ram test_ram = { ram, sizeof(ram) }, image = { disk, sizeof(disk) };
static struct ata_controller controller;
static uint64_t high_phys;          /* non-zero: every address the server names is this */

static uint64_t phys(void *ctx, const void *vaddr)
{
    (void)ctx;
    const uint8_t *p = vaddr;
    if (p < ram || p >= ram + sizeof(ram))
        return 0;
    return high_phys ? high_phys : (uint64_t)(p - ram);
}

static struct ata_bus_master bm;
static struct ata_disk d;

static void setup(bool read_only)
{
    for (unsigned i = 0; i < sizeof(disk); i++)
        disk[i] = (uint8_t)(i / 512 * 7 + i);
    memset(ram, 0, sizeof(ram));
    high_phys = 0;
    ata_init(&controller, (struct guest_memory){ test_ram_read, test_ram_write, &test_ram },
             (struct irq_line){ 0 }, (struct irq_line){ 0 });
    CHECK(ata_attach_disk(&controller, 0, 1, sizeof(disk), read_only, test_ram_read, test_ram_write, &image));
    struct ata_ports ports = ide_ports(&controller);
    CHECK(ata_pio_identify(&d, &ports, 1));
    bm = ide_bus_master(&controller, phys, ram + TABLE, TABLE);
}

/* 256 sectors out of 33 pieces of pages (the buffer starts mid-page) and back. */
static void round_trip(void)
{
    static uint8_t pattern[256 * 512];
    setup(false);
    uint8_t *buf = ram + DATA + 512;
    for (unsigned i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 29 + 3);
    memcpy(buf, pattern, sizeof(pattern));
    CHECK(ata_dma_prepare(&bm, buf, sizeof(pattern)));
    CHECK(ata_dma_run(&d, &bm, SECTORS - 256, 256, false));
    CHECK(memcmp(disk + (SECTORS - 256) * 512, pattern, sizeof(pattern)) == 0);
    CHECK_EQ(disk[(SECTORS - 257) * 512], (uint8_t)((SECTORS - 257) * 7));  /* just before: unchanged */
    memset(buf, 0, sizeof(pattern));
    CHECK(ata_dma_prepare(&bm, buf, sizeof(pattern)));
    CHECK(ata_dma_run(&d, &bm, SECTORS - 256, 256, true));
    CHECK(memcmp(buf, pattern, sizeof(pattern)) == 0);
    CHECK_EQ(buf[sizeof(pattern)], 0);                          /* nothing beyond */
    /* a short read lands exactly where the table says */
    memset(buf, 0, 3 * 512);
    CHECK(ata_dma_prepare(&bm, ram + DATA + 4096 - 1024, 3 * 512));
    CHECK(ata_dma_run(&d, &bm, 4, 3, true));
    CHECK(memcmp(ram + DATA + 4096 - 1024, disk + 4 * 512, 3 * 512) == 0);
    CHECK(ata_pio_read(&d, 0, 1, buf));                         /* PIO still works after */
    CHECK(memcmp(buf, disk, 512) == 0);
}

/* The table is refused for memory the server cannot name below 4 GiB, odd addresses
 * and more regions than it holds; nothing is started then. */
static void prepare_refusals(void)
{
    static uint8_t elsewhere[1024];
    setup(false);
    CHECK(!ata_dma_prepare(&bm, elsewhere, 512));
    CHECK(!ata_dma_prepare(&bm, ram + DATA + 1, 512));
    CHECK(!ata_dma_prepare(&bm, ram + DATA, 0));
    CHECK(!ata_dma_prepare(&bm, ram + DATA, (ATA_DMA_PRD_MAX + 1) * 4096ull));
    CHECK(!ata_dma_prepare(&bm, ram + sizeof(ram) - 512, 1024));   /* runs off the memory */
    high_phys = (1ull << 32) - 256;
    CHECK(!ata_dma_prepare(&bm, ram + DATA, 512));
    high_phys = 1ull << 32;
    CHECK(!ata_dma_prepare(&bm, ram + DATA, 512));
}

/* Failures are reported and change nothing: a read-only drive, a range off the disk,
 * a table shorter than the command's data. */
static void failures_reported(void)
{
    static uint8_t before[sizeof(disk)];
    setup(true);
    memcpy(before, disk, sizeof(disk));
    CHECK(ata_dma_prepare(&bm, ram + DATA, 512));
    CHECK(!ata_dma_run(&d, &bm, 3, 1, false));
    CHECK(memcmp(before, disk, sizeof(disk)) == 0);
    setup(false);
    memcpy(before, disk, sizeof(disk));
    CHECK(ata_dma_prepare(&bm, ram + DATA, 2 * 512));
    CHECK(!ata_dma_run(&d, &bm, SECTORS - 1, 2, false));
    CHECK(ata_dma_prepare(&bm, ram + DATA, 512));
    CHECK(!ata_dma_run(&d, &bm, 10, 2, true));                  /* the table holds one sector */
    CHECK(memcmp(before, disk, sizeof(disk)) == 0);
    CHECK(ata_dma_prepare(&bm, ram + DATA, 512));               /* the drive still answers */
    CHECK(ata_dma_run(&d, &bm, 10, 1, true));
    CHECK(memcmp(ram + DATA, disk + 10 * 512, 512) == 0);
}

DEVICE_TESTS(ata_dma,
    { "ata_dma_round_trip", round_trip },
    { "ata_dma_prepare_refusals", prepare_refusals },
    { "ata_dma_failures_reported", failures_reported },
)
