/*
 * An ATA hard disk on a legacy IDE channel, by PIO with interrupts off (ATA/ATAPI-8
 * ACS: IDENTIFY DEVICE, READ/WRITE SECTORS (EXT), FLUSH CACHE (EXT); the register
 * protocol of ATA8-APT).  Polling keeps the server free of interrupt plumbing; the
 * disk is as fast as its emulator's PIO either way.  A device that stays busy beyond
 * a few quick reads of its status is polled between pauses (the `pause` port, when
 * given): the server must not hold the CPU while the device works, or the guests
 * stop, and an emulator that serves the device from another thread may never get to
 * finish the command.
 *
 * The ports are callbacks, so host tests drive the VMM's own IDE model (vmm/dev/ata.c).
 */
#ifndef STORAGE_ATA_PIO_H
#define STORAGE_ATA_PIO_H

#include <stdbool.h>
#include <stdint.h>

#define ATA_PIO_QUICK_POLLS   1000u     /* status reads before the first pause */
#define ATA_PIO_PAUSED_POLLS  300000u   /* the limit with pauses (of about 100 us: 30 s) */

struct ata_ports {
    uint8_t (*in8)(void *ctx, unsigned reg);            /* command block register 0-7 */
    void (*out8)(void *ctx, unsigned reg, uint8_t value);
    uint16_t (*in16)(void *ctx);                        /* the data register */
    void (*out16)(void *ctx, uint16_t value);
    uint8_t (*alt_status)(void *ctx);                   /* control block: read */
    void (*control)(void *ctx, uint8_t value);          /* control block: write */
    void *ctx;
    void (*pause)(void *ctx);       /* optional: let others run for a moment */
};

struct ata_disk {
    struct ata_ports ports;
    unsigned slot;                  /* 0 master, 1 slave */
    bool lba48;
    uint64_t sectors;
    char model[41];
    uint32_t poll_limit;            /* status reads before a command times out: a
                                     * pause before each but the first few */
};

/* Finds an ATA hard disk (not ATAPI) at `slot`; false when there is none. */
bool ata_pio_identify(struct ata_disk *d, const struct ata_ports *ports, unsigned slot);

/* The most sectors one command moves: 65536 with LBA48, else 256. */
static inline unsigned ata_max_count(const struct ata_disk *d) { return d->lba48 ? 65536u : 256u; }

/* count (1 to ata_max_count) sectors from lba; false on an error or a timeout. */
bool ata_pio_read(struct ata_disk *d, uint64_t lba, unsigned count, void *buf);
bool ata_pio_write(struct ata_disk *d, uint64_t lba, unsigned count, const void *buf);

/* Waits until BSY clears (a pause between reads once past the quick ones); then the
 * status, or 0xff after poll_limit reads. */
uint8_t ata_wait_ready(struct ata_disk *d);

/* Loads the registers for count (1 to ata_max_count) sectors at lba and issues cmd28, or cmd48 on an
 * LBA48 drive; false when the range is not on the disk or the drive stays busy. */
bool ata_issue(struct ata_disk *d, uint64_t lba, unsigned count, uint8_t cmd28, uint8_t cmd48);

/* A software reset of the channel (SRST), interrupts still off, then the drive
 * selected and ready again: after a command that failed or timed out, so the next one
 * finds no transfer half done.  False when the drive stays busy. */
bool ata_reset(struct ata_disk *d);

/* FLUSH CACHE (EXT): every completed write is on the medium when this returns true. */
bool ata_pio_flush(struct ata_disk *d);

#endif
