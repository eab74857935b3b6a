/*
 * Bus-master DMA for the ATA disk of ata_pio.h (Programming Interface for Bus Master
 * IDE Controller, revision 1.0; READ/WRITE DMA (EXT) of ATA8-ACS).  The controller
 * moves the data itself, a whole command at once: an emulator then hands the command
 * to its block layer in one piece instead of one sector per PIO data phase.
 *
 * The controller reads a table of physical regions (PRDs) the server writes in a page
 * of its own; the regions may only be memory the server translated itself (`phys`),
 * never an address a VMM wrote.  The completion is polled, as the PIO commands are.
 * The ports are callbacks, so host tests drive a model of the controller.
 */
#ifndef STORAGE_ATA_DMA_H
#define STORAGE_ATA_DMA_H

#include "ata_pio.h"

#define ATA_DMA_PRD_MAX 128u         /* regions in one table: a channel's 256 KiB in 4 KiB pages, and more */

struct ata_bus_master {
    uint8_t (*in8)(void *ctx, unsigned reg);            /* 0 command, 2 status */
    void (*out8)(void *ctx, unsigned reg, uint8_t value);
    void (*out32)(void *ctx, unsigned reg, uint32_t value); /* 4: the table's address */
    void *ctx;
    /* the physical address of the byte at vaddr, 0 when the server does not know it */
    uint64_t (*phys)(void *ctx, const void *vaddr);
    void *phys_ctx;
    volatile uint32_t *table;       /* the server's own page, below 4 GiB */
    uint64_t table_phys;
};

/* Writes the table for `bytes` bytes at buf: false (nothing to start) when some page of
 * it is not memory the server can name below 4 GiB, or buf is not 2-byte aligned. */
bool ata_dma_prepare(struct ata_bus_master *bm, const void *buf, uint64_t bytes);

/* Runs READ DMA (to_memory) or WRITE DMA (EXT) for count (1 to ata_max_count) sectors at lba through
 * the table just prepared for count * 512 bytes; false on an error or a timeout. */
bool ata_dma_run(struct ata_disk *d, struct ata_bus_master *bm, uint64_t lba, unsigned count, bool to_memory);

#endif
