/* The storage server's serve.c driving ata_dma.c at a channel's full size
 * against the VMM's IDE model, with a "channel" laid out like main.c's (control page,
 * 64 data pages, then the next channel's control page). */
#include "harness.h"
#include "ide_ports.h"
#include "../../user/storage/serve.h"

#define DSECT 4096u
static uint8_t image[DSECT * 512];
static _Alignas(4096) uint8_t ram[4096 /* table */ + 4096 /* control */ + PITH_STORAGE_DATA_BYTES + 4096 /* next control */];
static struct test_ram tram = { ram, sizeof(ram) }, timage = { image, sizeof(image) };
static struct ata_controller ctl;
static struct ata_disk ad;
static struct ata_bus_master abm;
static unsigned dma_runs;

/* "Physical" addresses: offsets in the test RAM. */
static uint64_t b_phys(void *c, const void *v)
{
    (void)c;
    const uint8_t *p = v;
    return p >= ram && p < ram + sizeof(ram) ? (uint64_t)(p - ram) : 0;
}

static bool sd_read(void *c, uint64_t lba, unsigned n, void *buf)
{
    if (!ata_dma_prepare(&abm, buf, n * 512ull))
        return false;
    dma_runs++;
    return ata_dma_run(c, &abm, lba, n, true);
}
static bool sd_write(void *c, uint64_t lba, unsigned n, const void *buf)
{
    if (!ata_dma_prepare(&abm, buf, n * 512ull))
        return false;
    dma_runs++;
    return ata_dma_run(c, &abm, lba, n, false);
}
static bool sd_flush(void *c) { return ata_pio_flush(c); }

static void full_channel_by_dma(void)
{
    for (unsigned i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i / 512 * 3 + i);
    memset(ram, 0x77, sizeof(ram));
    ata_init(&ctl, (struct guest_memory){ test_ram_read, test_ram_write, &tram }, (struct irq_line){ 0 },
             (struct irq_line){ 0 });
    CHECK(ata_attach_disk(&ctl, 0, 1, sizeof(image), false, test_ram_read, test_ram_write, &timage));
    struct ata_ports ports = ide_ports(&ctl);
    CHECK(ata_pio_identify(&ad, &ports, 1));
    CHECK(ad.lba48);
    abm = ide_bus_master(&ctl, b_phys, ram, 0);
    struct storage_disk sd = { sd_read, sd_write, sd_flush, &ad, ata_max_count(&ad) };
    struct pith_storage_control *control = (void *)(ram + 4096);
    memset(control, 0, 4096);
    struct storage_channel ch = { control, ram + 8192, true, 1000, 2048, 0 };
    /* the largest request: 512 sectors, one DMA command of 64 regions */
    control->op = PITH_STORAGE_READ, control->sector = 2048 - 512, control->count = 512, control->seq = 1;
    CHECK(storage_serve(&sd, &ch));
    CHECK_EQ(control->status, PITH_STORAGE_OK);
    CHECK_EQ(dma_runs, 1);
    CHECK(memcmp(ram + 8192, image + (1000 + 2048 - 512) * 512ull, PITH_STORAGE_DATA_BYTES) == 0);
    CHECK_EQ(ram[8192 + PITH_STORAGE_DATA_BYTES], 0x77);       /* the next channel's control: untouched */
    /* one sector more: refused without a command */
    control->count = 513, control->sector = 0, control->seq = 2;
    CHECK(storage_serve(&sd, &ch));
    CHECK_EQ(control->status, PITH_STORAGE_IOERR);
    CHECK_EQ(dma_runs, 1);
    /* a write of 512 lands exactly in the partition */
    memset(ram + 8192, 0xc3, PITH_STORAGE_DATA_BYTES);
    control->op = PITH_STORAGE_WRITE, control->count = 512, control->sector = 0, control->seq = 3;
    CHECK(storage_serve(&sd, &ch));
    CHECK_EQ(control->status, PITH_STORAGE_OK);
    CHECK_EQ(image[1000 * 512ull - 1], (uint8_t)((999 * 512 + 511) + 999 * 3));
    CHECK_EQ(image[1000 * 512ull], 0xc3);
    CHECK_EQ(image[1512 * 512ull - 1], 0xc3);
    CHECK_EQ(image[1512 * 512ull], (uint8_t)(1512 * 512 + 1512 * 3));
}

DEVICE_TESTS(storage_dma_serve,
    { "storage_dma_full_channel", full_channel_by_dma },
)
