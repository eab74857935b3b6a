/*
 * A PIIX-style IDE controller (Intel 82371SB function 1): two channels at the legacy
 * ports (0x1f0-0x1f7 with 0x3f6, IRQ 14; 0x170-0x177 with 0x376, IRQ 15), each with a
 * master and a slave that are hard disks (ATA: IDENTIFY, READ/WRITE SECTORS in PIO with
 * CHS, LBA28 and LBA48, READ/WRITE DMA through the bus master) or a CD-ROM (ATAPI:
 * PACKET with INQUIRY, TEST UNIT READY, REQUEST SENSE, READ CAPACITY, READ(10/12),
 * MODE SENSE, GET CONFIGURATION, READ TOC, GET EVENT STATUS NOTIFICATION).  The bus
 * master registers (BMIDE, the function's BAR 4) take a table of physical region
 * descriptors in guest memory.  Pure: storage and guest memory through callbacks,
 * every transfer done at once when the guest has asked for it.
 * (ATA/ATAPI-6, T13/1410D; MMC-3 and SPC-3 for the packet commands; the 82371SB data
 * sheet for the bus master.)
 */
#ifndef VMM_ATA_H
#define VMM_ATA_H

#include "pci_host.h"
#include "virtio.h"     /* struct guest_memory */

#define ATA_PRIMARY_BASE        0x1f0
#define ATA_PRIMARY_CONTROL     0x3f6
#define ATA_SECONDARY_BASE      0x170
#define ATA_SECONDARY_CONTROL   0x376
#define ATA_PRIMARY_IRQ         14
#define ATA_SECONDARY_IRQ       15
#define PIIX3_IDE_DEVICE        0x7010
#define ATA_BMIDE_SIZE          16

#define ATA_SECTOR              512
#define ATAPI_BLOCK             2048

/* Status register */
#define ATA_BSY     0x80
#define ATA_DRDY    0x40
#define ATA_DF      0x20
#define ATA_DSC     0x10
#define ATA_DRQ     0x08
#define ATA_ERR     0x01
/* Error register */
#define ATA_ABRT    0x04
#define ATA_IDNF    0x10
/* Device control register */
#define ATA_NIEN    0x02
#define ATA_SRST    0x04
#define ATA_HOB     0x80

/* SCSI sense keys the CD-ROM reports */
#define SENSE_NONE              0x0
#define SENSE_NOT_READY         0x2
#define SENSE_ILLEGAL_REQUEST   0x5
#define SENSE_UNIT_ATTENTION    0x6

struct ata_drive {
    bool present, atapi, read_only;
    uint64_t blocks;            /* 512-byte sectors (disk) or 2048-byte blocks (CD) */
    bool (*read)(void *ctx, uint64_t offset, void *buf, size_t length);
    bool (*write)(void *ctx, uint64_t offset, const void *buf, size_t length);
    void *ctx;
    uint8_t sense_key, asc, ascq;   /* ATAPI: the last CHECK CONDITION */
};

enum ata_phase {
    ATA_IDLE,
    ATA_PIO_IN,                 /* the device has data for the host */
    ATA_PIO_OUT,                /* the device takes data from the host */
    ATA_PACKET,                 /* the device waits for a 12-byte packet */
    ATA_DMA,                    /* a DMA command waits for the bus master */
};

struct ata_channel {
    struct ata_drive drive[2];
    struct irq_line irq;
    struct guest_memory memory;
    /* the task file (shared by both drives, as on the cable) and its HOB copies */
    uint8_t feature, nsector, lbal, lbam, lbah, device, control;
    uint8_t hob_feature, hob_nsector, hob_lbal, hob_lbam, hob_lbah;
    uint8_t status, error;
    bool irq_pending;
    /* the current command */
    enum ata_phase phase;
    uint8_t command;
    bool to_device;             /* DMA direction: host memory to the drive */
    uint64_t lba;               /* next block */
    uint32_t blocks_left;
    uint32_t bytes_left;        /* ATAPI: of the whole transfer */
    uint32_t chunk_left;        /* PIO: of the current DRQ block */
    uint32_t byte_limit;        /* ATAPI PIO: the host's byte count limit */
    bool from_disk;             /* the data comes from the medium, block by block */
    uint8_t buffer[ATAPI_BLOCK];
    uint32_t buffer_pos, buffer_len;
    /* the bus master (BMIDE) half of this channel */
    uint8_t bm_command, bm_status;
    uint32_t prd_table;
};

struct ata_controller {
    struct ata_channel channel[2];
    struct pci_function function;
};

extern const struct device_ops ata_command_ops;   /* 8 ports at base, dev = channel */
extern const struct device_ops ata_control_ops;   /* 1 port at 0x3f6/0x376, dev = channel */
extern const struct device_ops ata_bmide_ops;     /* 16 ports at BAR 4, dev = controller */

/* Both channels empty; the PCI function 8086:7010 with BAR 4 and both channels enabled. */
void ata_init(struct ata_controller *c, struct guest_memory memory,
              struct irq_line primary, struct irq_line secondary);
/* A disk of `bytes` (a multiple of 512) or a CD-ROM of `bytes` (whole 2048-byte blocks
 * are seen) at channel/slot; false when the slot is taken or the size is wrong. */
bool ata_attach_disk(struct ata_controller *c, unsigned channel, unsigned slot, uint64_t bytes,
                     bool read_only, bool (*read)(void *, uint64_t, void *, size_t),
                     bool (*write)(void *, uint64_t, const void *, size_t), void *ctx);
bool ata_attach_cdrom(struct ata_controller *c, unsigned channel, unsigned slot, uint64_t bytes,
                      bool (*read)(void *, uint64_t, void *, size_t), void *ctx);
/* A hard disk's medium as the guest sees it: a read-only image (a boot module) under
 * the guest's own writes.  A 4 KiB chunk is copied from the image at its first write
 * and kept for the guest's life (gone at power-off), so the copy costs what the guest
 * writes.  `alloc` gives memory (NULL when there is none left; a write then fails);
 * the chunk table is allocated at the first write too.  ata_image_read and
 * ata_image_write are the drive's callbacks, ctx the ata_image. */
#define ATA_IMAGE_CHUNK 4096u
struct ata_image {
    const uint8_t *data;
    uint64_t size;
    uint8_t **chunks;           /* size / ATA_IMAGE_CHUNK rounded up, NULL until a write */
    uint64_t chunks_copied;
    void *(*alloc)(size_t bytes);
};
void ata_image_init(struct ata_image *image, const uint8_t *data, uint64_t size,
                    void *(*alloc)(size_t bytes));
bool ata_image_read(void *image, uint64_t offset, void *buf, size_t length);
bool ata_image_write(void *image, uint64_t offset, const void *buf, size_t length);

/* Where the guest put the bus master registers (BAR 4), 0 if not yet. */
uint16_t ata_bmide_base(const struct ata_controller *c);

#endif
