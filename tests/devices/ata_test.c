/* The IDE controller as SeaBIOS and Linux's ata_piix drive it: signatures, IDENTIFY,
 * PIO in CHS/LBA28/LBA48, bus-master DMA with PRD tables, the ATAPI CD-ROM's packet
 * commands, and the malformed requests a guest can make. */
#include "harness.h"
#include "dev/ata.h"

#include <stdlib.h>

#define MEM_SIZE (256 * 1024)
static uint8_t mem[MEM_SIZE];
static uint8_t disk[64 * 512];          /* 64 sectors */
static uint8_t iso[8 * 2048];           /* 8 blocks */
static int irq14, irq15;

static struct test_ram ram = { mem, MEM_SIZE };
static bool disk_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    uint8_t *d = ctx;
    size_t size = d == disk ? sizeof(disk) : sizeof(iso);
    if (off > size || n > size - off)
        return false;
    memcpy(buf, d + off, n);
    return true;
}
static bool disk_write(void *ctx, uint64_t off, const void *buf, size_t n)
{
    (void)ctx;
    if (off > sizeof(disk) || n > sizeof(disk) - off)
        return false;
    memcpy(disk + off, buf, n);
    return true;
}
static void set_irq(void *ctx, unsigned line, bool level) { (void)ctx; if (line == 14) irq14 = level; else irq15 = level; }

static struct ata_controller c;
static struct ata_channel *pri = &c.channel[0], *sec = &c.channel[1];

static void setup(void)
{
    for (unsigned i = 0; i < sizeof(disk); i++)
        disk[i] = (uint8_t)(i / 512 * 7 + i);
    for (unsigned i = 0; i < sizeof(iso); i++)
        iso[i] = (uint8_t)(i / 2048 + 0x40);
    struct guest_memory m = { test_ram_read, test_ram_write, &ram };
    ata_init(&c, m, (struct irq_line){ set_irq, NULL, 14 }, (struct irq_line){ set_irq, NULL, 15 });
    CHECK(ata_attach_disk(&c, 0, 0, sizeof(disk), false, disk_read, disk_write, disk));
    CHECK(ata_attach_cdrom(&c, 1, 0, sizeof(iso), disk_read, iso));
    irq14 = irq15 = 0;
}

static uint8_t rd(struct ata_channel *ch, unsigned reg) { return (uint8_t)ata_command_ops.read(ch, reg, 1); }
static uint16_t rd16(struct ata_channel *ch) { return (uint16_t)ata_command_ops.read(ch, 0, 2); }
static void wr(struct ata_channel *ch, unsigned reg, uint8_t v) { ata_command_ops.write(ch, reg, 1, v); }
static void wr16(struct ata_channel *ch, uint16_t v) { ata_command_ops.write(ch, 0, 2, v); }

static void read_words(struct ata_channel *ch, uint8_t *out, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i += 2) {
        uint16_t w = rd16(ch);
        out[i] = (uint8_t)w;
        out[i + 1] = (uint8_t)(w >> 8);
    }
}

static void lba28(struct ata_channel *ch, uint32_t lba, uint8_t count)
{
    wr(ch, 6, 0x40 | (lba >> 24 & 0xf));
    wr(ch, 2, count);
    wr(ch, 3, (uint8_t)lba);
    wr(ch, 4, (uint8_t)(lba >> 8));
    wr(ch, 5, (uint8_t)(lba >> 16));
}

static void signatures_and_presence(void)
{
    setup();
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    CHECK_EQ(rd(pri, 2), 1); CHECK_EQ(rd(pri, 3), 1);
    CHECK_EQ(rd(pri, 4), 0); CHECK_EQ(rd(pri, 5), 0);
    CHECK_EQ(rd(sec, 4), 0x14); CHECK_EQ(rd(sec, 5), 0xeb);    /* the packet signature */
    /* an absent slave reads status 0 and ignores commands */
    wr(pri, 6, 0x10);
    CHECK_EQ(rd(pri, 7), 0);
    wr(pri, 7, 0xec);
    CHECK_EQ(rd(pri, 7), 0);
    CHECK_EQ(ata_control_ops.read(pri, 0, 1), 0);
    /* a channel with no drives floats high */
    struct ata_controller empty;
    struct guest_memory m = { test_ram_read, test_ram_write, &ram };
    ata_init(&empty, m, (struct irq_line){ 0 }, (struct irq_line){ 0 });
    CHECK_EQ(ata_command_ops.read(&empty.channel[0], 7, 1), 0xff);
    CHECK_EQ(ata_command_ops.read(&empty.channel[0], 0, 2), 0xffff);
    CHECK_EQ(ata_control_ops.read(&empty.channel[1], 0, 1), 0xff);
    /* bad attachments */
    CHECK(!ata_attach_disk(&c, 0, 0, 512, false, disk_read, disk_write, disk));   /* taken */
    CHECK(!ata_attach_disk(&c, 0, 1, 1000, false, disk_read, disk_write, disk));  /* not whole sectors */
    CHECK(!ata_attach_disk(&c, 0, 1, 0, false, disk_read, disk_write, disk));
    CHECK(!ata_attach_disk(&c, 2, 0, 512, false, disk_read, disk_write, disk));
    CHECK(!ata_attach_disk(&c, 0, 1, 512, false, disk_read, NULL, disk));         /* writable needs write */
    CHECK(!ata_attach_cdrom(&c, 1, 1, 1000, disk_read, iso));                     /* less than a block */
    /* the PCI function */
    CHECK_EQ(c.function.config[0] | c.function.config[1] << 8, 0x8086);
    CHECK_EQ(c.function.config[2] | c.function.config[3] << 8, 0x7010);
    CHECK_EQ(c.function.config[9], 0x80);
    CHECK_EQ(c.function.config[10], 0x01);
    CHECK_EQ(c.function.config[0x41], 0x80);
    CHECK_EQ(c.function.config[0x20] & 1, 1);                      /* BAR 4: I/O */
}

static void identify_device(void)
{
    setup();
    wr(pri, 6, 0xa0);
    wr(pri, 7, 0xec);
    CHECK(irq14);
    CHECK_EQ(ata_control_ops.read(pri, 0, 1), ATA_DRDY | ATA_DSC | ATA_DRQ);
    CHECK(irq14);                                       /* alternate status keeps it */
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC | ATA_DRQ);
    CHECK(!irq14);                                      /* status acknowledges */
    uint8_t id[512];
    read_words(pri, id, 512);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);           /* DRQ gone */
    CHECK_EQ(id[0] | id[1] << 8, 0x0040);
    CHECK_EQ(id[120] | id[121] << 8, 64);               /* words 60-61: LBA28 sectors */
    CHECK_EQ(id[200] | id[201] << 8, 64);               /* words 100-103: LBA48 */
    CHECK_EQ((id[166] | id[167] << 8) & 0x0400, 0x0400);/* word 83: LBA48 */
    CHECK_EQ(id[98] | id[99] << 8, 0x0300);             /* word 49: LBA and DMA */
    CHECK_EQ(id[54], 'I');                              /* model "PITH...": byte-swapped */
    CHECK_EQ(id[55], 'P');
    CHECK_EQ(id[56], 'H');
    /* IDENTIFY DEVICE to the CD-ROM aborts with the packet signature */
    wr(sec, 6, 0xa0);
    wr(sec, 7, 0xec);
    CHECK_EQ(rd(sec, 7) & ATA_ERR, ATA_ERR);
    CHECK_EQ(rd(sec, 1) & ATA_ABRT, ATA_ABRT);
    CHECK_EQ(rd(sec, 4), 0x14);
    CHECK_EQ(rd(sec, 5), 0xeb);
    wr(sec, 7, 0xa1);                                   /* IDENTIFY PACKET DEVICE */
    CHECK(irq15);
    read_words(sec, id, 512);
    CHECK_EQ(id[0] | id[1] << 8, 0x85c0);
    CHECK_EQ(rd(sec, 7) & ATA_DRQ, 0);
}

static void pio_read_write_lba28_chs_lba48(void)
{
    setup();
    uint8_t buf[1024];
    lba28(pri, 5, 2);
    wr(pri, 7, 0x20);
    CHECK(irq14);
    rd(pri, 7);
    read_words(pri, buf, 512);
    CHECK(irq14);                                       /* the second sector is ready */
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC | ATA_DRQ);
    read_words(pri, buf + 512, 512);
    CHECK(memcmp(buf, disk + 5 * 512, 1024) == 0);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    CHECK_EQ(rd16(pri), 0xffff);                        /* no data phase: nothing */
    /* 32-bit PIO reads */
    lba28(pri, 9, 1);
    wr(pri, 7, 0x20);
    for (unsigned i = 0; i < 512; i += 4) {
        uint32_t v = (uint32_t)ata_command_ops.read(pri, 0, 4);
        memcpy(buf + i, &v, 4);
    }
    CHECK(memcmp(buf, disk + 9 * 512, 512) == 0);
    /* CHS: cylinder 0, head 1, sector 3 = LBA 63 + 2 = 65: beyond 64 sectors */
    wr(pri, 6, 0xa1);
    wr(pri, 2, 1); wr(pri, 3, 3); wr(pri, 4, 0); wr(pri, 5, 0);
    wr(pri, 7, 0x20);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_ERR);
    CHECK_EQ(rd(pri, 1), ATA_ABRT | ATA_IDNF);
    /* CHS head 0 sector 3 = LBA 2 */
    wr(pri, 6, 0xa0);
    wr(pri, 2, 1); wr(pri, 3, 3);
    wr(pri, 7, 0x20);
    read_words(pri, buf, 512);
    CHECK(memcmp(buf, disk + 2 * 512, 512) == 0);
    /* CHS sector 0 does not exist */
    wr(pri, 3, 0);
    wr(pri, 7, 0x20);
    CHECK_EQ(rd(pri, 1), ATA_ABRT | ATA_IDNF);
    /* WRITE SECTORS: DRQ at once, no interrupt until a sector is in */
    uint8_t pattern[1024];
    for (unsigned i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(0xff - i);
    irq14 = 0;
    lba28(pri, 62, 2);
    wr(pri, 7, 0x30);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC | ATA_DRQ);
    CHECK(!irq14);
    for (unsigned i = 0; i < 512; i += 2)
        wr16(pri, (uint16_t)(pattern[i] | pattern[i + 1] << 8));
    CHECK(irq14);
    rd(pri, 7);
    for (unsigned i = 512; i < 1024; i += 2)
        wr16(pri, (uint16_t)(pattern[i] | pattern[i + 1] << 8));
    CHECK(irq14);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    CHECK(memcmp(disk + 62 * 512, pattern, 1024) == 0);
    /* LBA48: HOB bytes first, then the low ones */
    wr(pri, 6, 0x40);
    wr(pri, 2, 0); wr(pri, 2, 3);                       /* count 3 */
    wr(pri, 3, 0); wr(pri, 3, 10);                      /* LBA 10 */
    wr(pri, 4, 0); wr(pri, 4, 0);
    wr(pri, 5, 0); wr(pri, 5, 0);
    ata_control_ops.write(pri, 0, 1, ATA_HOB);          /* read back the high bytes */
    CHECK_EQ(rd(pri, 2), 0);
    CHECK_EQ(rd(pri, 3), 0);
    ata_control_ops.write(pri, 0, 1, 0);
    CHECK_EQ(rd(pri, 2), 3);
    wr(pri, 7, 0x24);
    uint8_t three[1536];
    read_words(pri, three, 1536);
    CHECK(memcmp(three, disk + 10 * 512, 1536) == 0);
    /* LBA48 beyond the disk: the high bytes count */
    wr(pri, 2, 0); wr(pri, 2, 1);
    wr(pri, 3, 1); wr(pri, 3, 0);                       /* LBA 1 << 24 */
    wr(pri, 4, 0); wr(pri, 4, 0);
    wr(pri, 5, 0); wr(pri, 5, 0);
    wr(pri, 7, 0x24);
    CHECK_EQ(rd(pri, 1), ATA_ABRT | ATA_IDNF);
    /* a range crossing the end */
    lba28(pri, 63, 2);
    wr(pri, 7, 0x20);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_ERR);
    /* count 0 in LBA28 means 256: past this disk */
    lba28(pri, 0, 0);
    wr(pri, 7, 0x20);
    CHECK_EQ(rd(pri, 1), ATA_ABRT | ATA_IDNF);
    /* unknown commands abort; harmless ones complete */
    wr(pri, 7, 0x77);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_ERR);
    wr(pri, 7, 0xe7);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    wr(pri, 7, 0xe5);
    CHECK_EQ(rd(pri, 2), 0xff);
}

static void read_only_disk(void)
{
    setup();
    struct guest_memory m = { test_ram_read, test_ram_write, &ram };
    ata_init(&c, m, (struct irq_line){ 0 }, (struct irq_line){ 0 });
    CHECK(ata_attach_disk(&c, 0, 1, sizeof(disk), true, disk_read, NULL, disk));
    uint8_t before = disk[0];
    wr(pri, 6, 0x50);
    wr(pri, 2, 1); wr(pri, 3, 0); wr(pri, 4, 0); wr(pri, 5, 0);
    wr(pri, 7, 0x30);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_ERR);
    CHECK_EQ(rd(pri, 7) & ATA_DRQ, 0);
    wr16(pri, 0x1234);
    CHECK_EQ(disk[0], before);
    wr(pri, 7, 0xca);                                   /* WRITE DMA: refused too */
    CHECK_EQ(rd(pri, 1), ATA_ABRT);
}

/* The copy-on-write medium: writes land in 4 KiB chunks of its own, the image stays. */
static unsigned allocations, allocations_allowed;
static void *counted_alloc(size_t bytes)
{
    if (allocations >= allocations_allowed)
        return NULL;
    allocations++;
    return calloc(1, bytes);
}
static void free_image(struct ata_image *image)
{
    if (!image->chunks)
        return;
    for (uint64_t i = 0; i < (image->size + ATA_IMAGE_CHUNK - 1) / ATA_IMAGE_CHUNK; i++)
        free(image->chunks[i]);
    free(image->chunks);
}

static void image_copy_on_write(void)
{
    static uint8_t original[3 * 4096 + 1024];       /* a short last chunk */
    static uint8_t expect[sizeof(original)], buf[sizeof(original)];
    for (unsigned i = 0; i < sizeof(original); i++)
        original[i] = (uint8_t)(i * 13 + 5);
    memcpy(expect, original, sizeof(original));
    struct ata_image image;
    allocations = 0, allocations_allowed = 100;
    ata_image_init(&image, original, sizeof(original), counted_alloc);
    CHECK(ata_image_read(&image, 0, buf, sizeof(buf)));
    CHECK(memcmp(buf, original, sizeof(buf)) == 0);
    CHECK_EQ(allocations, 0);                       /* reading copies nothing */
    /* a write across the first chunk boundary, one into the short last chunk */
    uint8_t data[600];
    memset(data, 0xa5, sizeof(data));
    CHECK(ata_image_write(&image, 4096 - 100, data, sizeof(data)));
    memcpy(expect + 4096 - 100, data, sizeof(data));
    CHECK(ata_image_write(&image, sizeof(original) - 10, data, 10));
    memcpy(expect + sizeof(original) - 10, data, 10);
    CHECK_EQ(image.chunks_copied, 3);
    CHECK_EQ(allocations, 4);                       /* the table and three chunks */
    CHECK(ata_image_read(&image, 0, buf, sizeof(buf)));
    CHECK(memcmp(buf, expect, sizeof(buf)) == 0);
    CHECK(ata_image_read(&image, 4000, buf, 300));  /* a read across copied chunks */
    CHECK(memcmp(buf, expect + 4000, 300) == 0);
    for (unsigned i = 0; i < sizeof(original); i++)
        CHECK_EQ(original[i], (uint8_t)(i * 13 + 5));   /* the image itself untouched */
    /* out of range: nothing read or written */
    CHECK(!ata_image_read(&image, sizeof(original) - 1, buf, 2));
    CHECK(!ata_image_write(&image, sizeof(original) + 512, data, 1));
    CHECK(!ata_image_write(&image, ~0ull - 10, data, 20));
    CHECK(ata_image_write(&image, 0, data, 0));
    /* no memory left: the write fails, what was written stays */
    allocations_allowed = allocations;
    CHECK(!ata_image_write(&image, 2 * 4096, data, 1));
    CHECK(ata_image_read(&image, 0, buf, sizeof(buf)));
    CHECK(memcmp(buf, expect, sizeof(buf)) == 0);
    free_image(&image);
    /* no table at all */
    allocations = 0, allocations_allowed = 0;
    ata_image_init(&image, original, sizeof(original), counted_alloc);
    CHECK(!ata_image_write(&image, 0, data, 1));
    ata_image_init(&image, original, sizeof(original), NULL);
    CHECK(!ata_image_write(&image, 0, data, 1));
}

/* A disk on the copy: a guest's PIO write reads back, the image keeps its contents,
 * and a write the copy cannot take aborts. */
static void writable_disk_on_image(void)
{
    setup();
    static uint8_t original[16 * 512];
    for (unsigned i = 0; i < sizeof(original); i++)
        original[i] = (uint8_t)i;
    struct ata_image image;
    allocations = 0, allocations_allowed = 100;
    ata_image_init(&image, original, sizeof(original), counted_alloc);
    struct guest_memory m = { test_ram_read, test_ram_write, &ram };
    ata_init(&c, m, (struct irq_line){ 0 }, (struct irq_line){ 0 });
    CHECK(ata_attach_disk(&c, 0, 0, sizeof(original), false, ata_image_read, ata_image_write, &image));
    lba28(pri, 9, 1);
    wr(pri, 7, 0x30);                                   /* WRITE SECTORS */
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC | ATA_DRQ);
    for (unsigned i = 0; i < 256; i++)
        wr16(pri, (uint16_t)(0xbe00 + i));
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    lba28(pri, 8, 2);
    wr(pri, 7, 0x20);                                   /* READ SECTORS: 8 and 9 */
    uint8_t got[1024];
    read_words(pri, got, 1024);
    CHECK(memcmp(got, original + 8 * 512, 512) == 0);
    for (unsigned i = 0; i < 256; i++)
        CHECK_EQ(got[512 + 2 * i] | got[512 + 2 * i + 1] << 8, 0xbe00 + i);
    CHECK_EQ(original[9 * 512], 0);                     /* the image itself untouched */
    /* no memory for another chunk: the write aborts */
    allocations_allowed = allocations;
    lba28(pri, 0, 1);
    wr(pri, 7, 0x30);
    for (unsigned i = 0; i < 256; i++)
        wr16(pri, 0x1111);
    CHECK(rd(pri, 7) & ATA_ERR);
    lba28(pri, 0, 1);
    wr(pri, 7, 0x20);
    read_words(pri, got, 512);
    CHECK(memcmp(got, original, 512) == 0);
    free_image(&image);
}

static void put_prd(unsigned at, uint32_t addr, uint16_t count, bool eot)
{
    memcpy(mem + at, &addr, 4);
    memcpy(mem + at + 4, &count, 2);
    uint16_t flags = eot ? 0x8000 : 0;
    memcpy(mem + at + 6, &flags, 2);
}

static void bm(unsigned reg, unsigned size, uint32_t v) { ata_bmide_ops.write(&c, reg, size, v); }
static uint8_t bm_status(unsigned channel) { return (uint8_t)ata_bmide_ops.read(&c, channel * 8 + 2, 1); }

static void dma_read_and_write(void)
{
    setup();
    memset(mem, 0xee, sizeof(mem));
    CHECK_EQ(bm_status(0), 0x20);                       /* drive 0 DMA capable */
    /* read 4 sectors into two regions: 1536 + 512 */
    put_prd(0x100, 0x10000, 1536, false);
    put_prd(0x108, 0x20000, 512, true);
    bm(4, 4, 0x100);
    CHECK_EQ(ata_bmide_ops.read(&c, 4, 4), 0x100);
    lba28(pri, 20, 4);
    wr(pri, 7, 0xc8);
    CHECK(!irq14);                                      /* waits for the bus master */
    CHECK_EQ(rd(pri, 7) & ATA_DRQ, ATA_DRQ);
    bm(0, 1, 0x09);                                     /* start, device to memory */
    CHECK(irq14);
    CHECK_EQ(bm_status(0) & 0x07, 0x04);                /* interrupt, not active, no error */
    CHECK(memcmp(mem + 0x10000, disk + 20 * 512, 1536) == 0);
    CHECK(memcmp(mem + 0x20000, disk + 23 * 512, 512) == 0);
    CHECK_EQ(mem[0x20200], 0xee);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    bm(0, 1, 0x00);
    bm(2, 1, bm_status(0));                             /* read-modify-write: 1 clears the interrupt bit */
    CHECK_EQ(bm_status(0) & 0x04, 0);
    CHECK_EQ(bm_status(0) & 0x20, 0x20);
    /* write 2 sectors from one region, bus master started first */
    for (unsigned i = 0; i < 1024; i++)
        mem[0x30000 + i] = (uint8_t)(i * 3);
    put_prd(0x200, 0x30000, 1024, true);
    bm(4, 4, 0x200);
    bm(0, 1, 0x01);
    CHECK_EQ(bm_status(0) & 0x01, 0x01);                /* active */
    lba28(pri, 40, 2);
    wr(pri, 7, 0xca);
    CHECK(memcmp(disk + 40 * 512, mem + 0x30000, 1024) == 0);
    CHECK_EQ(bm_status(0) & 0x07, 0x04);
    bm(0, 1, 0);
    /* a table longer than the data: done, the engine stays active */
    put_prd(0x300, 0x38000, 4096, true);
    bm(4, 4, 0x300);
    bm(2, 1, 0x06);
    lba28(pri, 1, 1);
    wr(pri, 7, 0xc8);
    bm(0, 1, 0x09);
    CHECK_EQ(bm_status(0) & 0x07, 0x05);
    CHECK(memcmp(mem + 0x38000, disk + 512, 512) == 0);
    bm(0, 1, 0);
    CHECK_EQ(bm_status(0) & 0x01, 0);
    /* LBA48 DMA */
    put_prd(0x400, 0x3c000, 512, true);
    bm(4, 4, 0x400);
    wr(pri, 6, 0x40);
    wr(pri, 2, 0); wr(pri, 2, 1);
    wr(pri, 3, 0); wr(pri, 3, 33);
    wr(pri, 4, 0); wr(pri, 4, 0);
    wr(pri, 5, 0); wr(pri, 5, 0);
    wr(pri, 7, 0x25);
    bm(0, 1, 0x09);
    CHECK(memcmp(mem + 0x3c000, disk + 33 * 512, 512) == 0);
    bm(0, 1, 0);
}

static void dma_malformed_tables(void)
{
    setup();
    /* the table ends before the data */
    put_prd(0x100, 0x10000, 512, true);
    bm(4, 4, 0x100);
    bm(2, 1, 0x06);
    lba28(pri, 0, 2);
    wr(pri, 7, 0xc8);
    bm(0, 1, 0x09);
    CHECK_EQ(bm_status(0) & 0x07, 0x06);                /* error and interrupt */
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_ERR);
    bm(0, 1, 0);
    /* a region outside guest memory */
    put_prd(0x100, MEM_SIZE - 256, 512, true);
    bm(2, 1, 0x06);
    lba28(pri, 0, 1);
    wr(pri, 7, 0xc8);
    bm(0, 1, 0x09);
    CHECK_EQ(bm_status(0) & 0x02, 0x02);
    bm(0, 1, 0);
    /* the table itself outside guest memory */
    bm(4, 4, 0xfffffff0);
    CHECK_EQ(ata_bmide_ops.read(&c, 4, 4), 0xfffffff0);
    bm(2, 1, 0x06);
    lba28(pri, 0, 1);
    wr(pri, 7, 0xc8);
    bm(0, 1, 0x09);
    CHECK_EQ(bm_status(0) & 0x02, 0x02);
    bm(0, 1, 0);
    /* a table without EOT that runs on: bounded by the data, then stops */
    memset(mem + 0x1000, 0, 8 * 16);
    for (unsigned i = 0; i < 16; i++)
        put_prd(0x1000 + 8 * i, 0x10000 + 64 * i, 64, false);
    bm(4, 4, 0x1000);
    bm(2, 1, 0x06);
    lba28(pri, 3, 1);
    wr(pri, 7, 0xc8);
    bm(0, 1, 0x09);
    CHECK_EQ(bm_status(0) & 0x07, 0x05);                /* done; no EOT: still active */
    CHECK(memcmp(mem + 0x10000, disk + 3 * 512, 512) == 0);
    bm(0, 1, 0);
    /* unaligned PRD pointer bits are dropped; byte writes assemble it */
    bm(4, 1, 0x13);
    bm(5, 1, 0x20);
    CHECK_EQ(ata_bmide_ops.read(&c, 4, 4) & 0xffff, 0x2010);
    /* a DMA command while the bus master is idle, then a new command: not taken until done */
    CHECK_EQ(ata_bmide_ops.read(&c, 16, 1), 0xff);
}

/* Send a 12-byte packet; byte count limit `limit`; DMA if dma. */
static void packet(const uint8_t cdb[12], uint16_t limit, bool dma)
{
    wr(sec, 6, 0xa0);
    wr(sec, 1, dma ? 1 : 0);
    wr(sec, 4, (uint8_t)limit);
    wr(sec, 5, (uint8_t)(limit >> 8));
    wr(sec, 7, 0xa0);
    CHECK_EQ(rd(sec, 7) & ATA_DRQ, ATA_DRQ);
    CHECK_EQ(rd(sec, 2), 1);                            /* CoD: wants the command */
    for (unsigned i = 0; i < 12; i += 2)
        wr16(sec, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
}

/* Read what the CD offers by PIO, chunk by chunk; returns the bytes. */
static unsigned pio_collect(uint8_t *out, unsigned max, unsigned *chunks)
{
    unsigned n = 0;
    *chunks = 0;
    while ((rd(sec, 7) & ATA_DRQ) && rd(sec, 2) == 2) {
        unsigned count = rd(sec, 4) | rd(sec, 5) << 8;
        (*chunks)++;
        for (unsigned i = 0; i < count; i += 2) {
            uint16_t w = rd16(sec);
            if (n + 2 <= max) {
                out[n] = (uint8_t)w;
                out[n + 1] = (uint8_t)(w >> 8);
            }
            n += 2;
        }
    }
    return n;
}

static void atapi_basic_commands(void)
{
    setup();
    uint8_t r[4096];
    unsigned chunks;
    uint8_t tur[12] = { 0x00 };
    packet(tur, 0xfffe, false);
    CHECK(irq15);
    CHECK_EQ(rd(sec, 7), ATA_DRDY | ATA_DSC);
    CHECK_EQ(rd(sec, 2), 3);                            /* IO | CoD: status phase */
    uint8_t inquiry[12] = { 0x12, 0, 0, 0, 96 };
    packet(inquiry, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 36);
    CHECK_EQ(r[0], 0x05);
    CHECK_EQ(r[1], 0x80);
    CHECK(memcmp(r + 8, "PITH    ", 8) == 0);
    CHECK_EQ(rd(sec, 2), 3);
    uint8_t capacity[12] = { 0x25 };
    packet(capacity, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 8);
    CHECK_EQ(r[3], 7);                                  /* last block: 7 */
    CHECK_EQ(r[6], 0x08);                               /* 2048 */
    /* INQUIRY with a small allocation length gets what it asked for */
    uint8_t short_inquiry[12] = { 0x12, 0, 0, 0, 5 };
    packet(short_inquiry, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 6);    /* 5 rounded up to a word */
    /* GET CONFIGURATION: current profile CD-ROM */
    uint8_t config[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 32 };
    packet(config, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 16);
    CHECK_EQ(r[6] << 8 | r[7], 0x0008);
    CHECK_EQ(r[12] << 8 | r[13], 0x0008);
    /* MODE SENSE(10) page 0x2a */
    uint8_t sense10[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64 };
    packet(sense10, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 28);
    CHECK_EQ(r[0] << 8 | r[1], 26);
    CHECK_EQ(r[8], 0x2a);
    /* READ TOC: one track and the lead-out at 8 */
    uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 64 };
    packet(toc, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 20);
    CHECK_EQ(r[14], 0xaa);
    CHECK_EQ(r[19], 8);
    /* GET EVENT STATUS NOTIFICATION, polled */
    uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
    packet(gesn, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 8);
    CHECK_EQ(r[5], 0x02);
}

static void atapi_read_pio_chunks_and_dma(void)
{
    setup();
    static uint8_t r[4 * 2048];
    unsigned chunks;
    /* READ(10) of 3 blocks from 2 with a 1000-byte limit: 7 DRQ blocks */
    uint8_t read10[12] = { 0x28, 0, 0, 0, 0, 2, 0, 0, 3 };
    packet(read10, 1000, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 3 * 2048);
    CHECK_EQ(chunks, 7);
    CHECK(memcmp(r, iso + 2 * 2048, 3 * 2048) == 0);
    CHECK_EQ(rd(sec, 7), ATA_DRDY | ATA_DSC);
    CHECK_EQ(rd(sec, 2), 3);
    /* an odd limit is rounded down to even */
    uint8_t one[12] = { 0x28, 0, 0, 0, 0, 7, 0, 0, 1 };
    packet(one, 999, false);
    CHECK_EQ(rd(sec, 4) | rd(sec, 5) << 8, 998);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 2048);
    CHECK_EQ(r[0], 0x47);
    /* READ(12) by DMA */
    memset(mem, 0, sizeof(mem));
    put_prd(0x100, 0x8000, 4096, true);
    bm(8 + 4, 4, 0x100);
    uint8_t read12[12] = { 0xa8, 0, 0, 0, 0, 5, 0, 0, 0, 2 };
    packet(read12, 0, true);
    bm(8, 1, 0x09);
    CHECK(irq15);
    CHECK(memcmp(mem + 0x8000, iso + 5 * 2048, 4096) == 0);
    CHECK_EQ(bm_status(1) & 0x07, 0x04);
    CHECK_EQ(rd(sec, 7), ATA_DRDY | ATA_DSC);
    CHECK_EQ(rd(sec, 2), 3);
    bm(8, 1, 0);
}

static void atapi_errors_and_sense(void)
{
    setup();
    uint8_t r[64];
    unsigned chunks;
    /* past the end of the disc */
    uint8_t beyond[12] = { 0x28, 0, 0, 0, 0, 7, 0, 0, 2 };
    packet(beyond, 0xfffe, false);
    CHECK_EQ(rd(sec, 7), ATA_DRDY | ATA_ERR);
    CHECK_EQ(rd(sec, 1), SENSE_ILLEGAL_REQUEST << 4 | ATA_ABRT);
    uint8_t sense[12] = { 0x03, 0, 0, 0, 18 };
    packet(sense, 0xfffe, false);
    CHECK_EQ(pio_collect(r, sizeof(r), &chunks), 18);
    CHECK_EQ(r[0], 0x70);
    CHECK_EQ(r[2], SENSE_ILLEGAL_REQUEST);
    CHECK_EQ(r[12], 0x21);
    packet(sense, 0xfffe, false);                       /* reading it cleared it */
    pio_collect(r, sizeof(r), &chunks);
    CHECK_EQ(r[2], 0);
    /* an unknown opcode */
    uint8_t bogus[12] = { 0xee };
    packet(bogus, 0xfffe, false);
    CHECK_EQ(rd(sec, 1) >> 4, SENSE_ILLEGAL_REQUEST);
    packet(sense, 0xfffe, false);
    pio_collect(r, sizeof(r), &chunks);
    CHECK_EQ(r[12], 0x20);
    /* a mode page that does not exist; GESN asynchronous; VPD inquiry */
    uint8_t page[12] = { 0x5a, 0, 0x05, 0, 0, 0, 0, 0, 64 };
    packet(page, 0xfffe, false);
    CHECK_EQ(rd(sec, 7) & ATA_ERR, ATA_ERR);
    uint8_t gesn[12] = { 0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8 };
    packet(gesn, 0xfffe, false);
    CHECK_EQ(rd(sec, 7) & ATA_ERR, ATA_ERR);
    uint8_t vpd[12] = { 0x12, 1, 0x80, 0, 64 };
    packet(vpd, 0xfffe, false);
    CHECK_EQ(rd(sec, 7) & ATA_ERR, ATA_ERR);
    /* a read of zero blocks completes without data */
    uint8_t zero[12] = { 0x28, 0, 0, 0, 0, 1, 0, 0, 0 };
    packet(zero, 0xfffe, false);
    CHECK_EQ(rd(sec, 7), ATA_DRDY | ATA_DSC);
    /* ATA read commands are not for a packet device */
    wr(sec, 7, 0x20);
    CHECK_EQ(rd(sec, 7) & ATA_ERR, ATA_ERR);
    /* writing the data port outside a packet or PIO-out phase does nothing */
    wr16(sec, 0x1234);
    CHECK_EQ(rd(sec, 7) & ATA_DRQ, 0);
}

static void reset_and_interrupt_masking(void)
{
    setup();
    ata_control_ops.write(pri, 0, 1, ATA_NIEN);         /* interrupts masked */
    lba28(pri, 0, 1);
    wr(pri, 7, 0xc8 - 0xa8);                            /* READ SECTORS (0x20) */
    CHECK(!irq14);
    CHECK_EQ(ata_control_ops.read(pri, 0, 1) & ATA_DRQ, ATA_DRQ);
    ata_control_ops.write(pri, 0, 1, 0);                /* unmasked: the pending one shows */
    CHECK(irq14);
    /* a soft reset mid-transfer: busy while held, then the signature */
    ata_control_ops.write(pri, 0, 1, ATA_SRST);
    CHECK_EQ(ata_control_ops.read(pri, 0, 1), ATA_BSY);
    ata_control_ops.write(pri, 0, 1, 0);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
    CHECK_EQ(rd(pri, 2), 1);
    CHECK_EQ(rd(pri, 3), 1);
    CHECK(!irq14);
    CHECK_EQ(rd16(pri), 0xffff);                        /* the transfer is gone */
    ata_control_ops.write(sec, 0, 1, ATA_SRST);
    ata_control_ops.write(sec, 0, 1, 0);
    CHECK_EQ(rd(sec, 4), 0x14);
    CHECK_EQ(rd(sec, 7), 0);                            /* a packet device: DRDY clear */
    /* a command while one is in progress is ignored; DEVICE RESET is not */
    lba28(pri, 0, 2);
    wr(pri, 7, 0x20);
    wr(pri, 7, 0xec);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC | ATA_DRQ);
    uint8_t buf[512];
    read_words(pri, buf, 512);
    CHECK(memcmp(buf, disk, 512) == 0);
    ata_command_ops.reset(pri);
    CHECK_EQ(rd(pri, 7), ATA_DRDY | ATA_DSC);
}

DEVICE_TESTS(ata,
    { "ata_signatures_and_presence", signatures_and_presence },
    { "ata_identify_device", identify_device },
    { "ata_pio_read_write_lba28_chs_lba48", pio_read_write_lba28_chs_lba48 },
    { "ata_read_only_disk", read_only_disk },
    { "ata_image_copy_on_write", image_copy_on_write },
    { "ata_writable_disk_on_image", writable_disk_on_image },
    { "ata_dma_read_and_write", dma_read_and_write },
    { "ata_dma_malformed_tables", dma_malformed_tables },
    { "atapi_basic_commands", atapi_basic_commands },
    { "atapi_read_pio_chunks_and_dma", atapi_read_pio_chunks_and_dma },
    { "atapi_errors_and_sense", atapi_errors_and_sense },
    { "ata_reset_and_interrupt_masking", reset_and_interrupt_masking })
