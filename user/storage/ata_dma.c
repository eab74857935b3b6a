/* Bus-master DMA (ata_dma.h).  Register layout of the primary channel's 8 ports: 0 the
 * command (bit 0 start, bit 3 the direction: the controller writes memory), 2 the
 * status (bit 0 active, bit 1 error, bit 2 interrupt; bits 1 and 2 clear on writing 1),
 * 4 the table's physical address.  A table entry is two words: the region's physical
 * address, and its byte count (bits 0-15, 0 meaning 64 KiB) with bit 31 on the last. */
#include "ata_dma.h"

#define BM_COMMAND  0
#define BM_STATUS   2
#define BM_TABLE    4

#define BM_CMD_START     0x01
#define BM_CMD_TO_MEMORY 0x08
#define BM_ST_ACTIVE     0x01
#define BM_ST_ERROR      0x02
#define BM_ST_INTERRUPT  0x04
#define PRD_LAST         0x80000000u

#define ST_ERR  0x01
#define ST_DF   0x20
#define ST_BSY  0x80

#define CMD_READ_DMA        0xc8
#define CMD_READ_DMA_EXT    0x25
#define CMD_WRITE_DMA       0xca
#define CMD_WRITE_DMA_EXT   0x35

bool ata_dma_prepare(struct ata_bus_master *bm, const void *buf, uint64_t bytes)
{
    const uint8_t *p = buf;
    unsigned n = 0;
    if (((uintptr_t)p & 1) || bytes == 0 || (bytes & 1))
        return false;
    while (bytes) {
        /* a piece never leaves its 4 KiB page, so never crosses 64 KiB either */
        uint64_t piece = 4096 - ((uintptr_t)p & 4095);
        if (piece > bytes)
            piece = bytes;
        uint64_t phys = bm->phys(bm->phys_ctx, p);
        if (n == ATA_DMA_PRD_MAX || phys == 0 || phys + piece > 1ull << 32)
            return false;
        bm->table[2 * n] = (uint32_t)phys;
        bm->table[2 * n + 1] = (uint32_t)piece;
        n++;
        p += piece;
        bytes -= piece;
    }
    bm->table[2 * n - 1] |= PRD_LAST;
    return true;
}

/* Polls the controller until the transfer is no longer active: its status, or 0xff
 * after the disk's poll limit or when the drive ended the command with an error (a
 * real controller may then stay active, interrupts being off).  The drive's status is
 * read (the alternate one, which clears nothing) once the quick polls are over. */
static uint8_t wait_transfer(struct ata_disk *d, struct ata_bus_master *bm)
{
    for (uint32_t i = 0; i < d->poll_limit; i++) {
        if (i >= ATA_PIO_QUICK_POLLS) {
            if (d->ports.pause)
                d->ports.pause(d->ports.ctx);
            uint8_t drive = d->ports.alt_status(d->ports.ctx);
            if (!(drive & ST_BSY) && (drive & (ST_ERR | ST_DF)))
                return 0xff;
        }
        uint8_t s = bm->in8(bm->ctx, BM_STATUS);
        if (!(s & BM_ST_ACTIVE) || (s & (BM_ST_ERROR | BM_ST_INTERRUPT)))
            return s;
    }
    return 0xff;
}

bool ata_dma_run(struct ata_disk *d, struct ata_bus_master *bm, uint64_t lba, unsigned count, bool to_memory)
{
    uint8_t direction = to_memory ? BM_CMD_TO_MEMORY : 0;
    bm->out8(bm->ctx, BM_COMMAND, direction);                   /* stopped */
    bm->out32(bm->ctx, BM_TABLE, (uint32_t)bm->table_phys);
    bm->out8(bm->ctx, BM_STATUS, BM_ST_ERROR | BM_ST_INTERRUPT);
    bool issued = to_memory ? ata_issue(d, lba, count, CMD_READ_DMA, CMD_READ_DMA_EXT)
                            : ata_issue(d, lba, count, CMD_WRITE_DMA, CMD_WRITE_DMA_EXT);
    if (!issued)
        return false;
    bm->out8(bm->ctx, BM_COMMAND, direction | BM_CMD_START);
    uint8_t bms = wait_transfer(d, bm);
    bm->out8(bm->ctx, BM_COMMAND, direction);                   /* stop, whatever happened */
    uint8_t st = ata_wait_ready(d);
    bm->out8(bm->ctx, BM_STATUS, BM_ST_ERROR | BM_ST_INTERRUPT);
    bool ok = bms != 0xff && !(bms & (BM_ST_ERROR | BM_ST_ACTIVE)) && st != 0xff && !(st & (ST_ERR | ST_DF));
    if (!ok)
        ata_reset(d);           /* nothing of this command may reach the next one's regions */
    return ok;
}
