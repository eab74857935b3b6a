/* The storage server's answer to one channel's request (pith/storage.h), apart from
 * the hardware: the disk is callbacks, so host tests check that a request reaches only
 * its own partition's sectors. */
#ifndef STORAGE_SERVE_H
#define STORAGE_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <pith/storage.h>

struct storage_disk {
    /* count (1 to max_count) disk sectors at lba */
    bool (*read)(void *ctx, uint64_t lba, unsigned count, void *buf);
    bool (*write)(void *ctx, uint64_t lba, unsigned count, const void *buf);
    bool (*flush)(void *ctx);
    void *ctx;
    unsigned max_count;                 /* sectors one call may move */
};

struct storage_channel {
    volatile struct pith_storage_control *control;     /* shared with the VMM */
    uint8_t *data;                                      /* shared: PITH_STORAGE_DATA_BYTES */
    bool served;                        /* false: refused, every request fails */
    uint64_t first_lba, sectors;        /* the partition */
    uint32_t last_seq;                  /* private: the last request answered */
};

/* Answers the channel's request if the VMM posted a new one (true then): the fields
 * are read once, checked against the partition, performed, and status and done
 * published.  The data move straight between the disk and the channel's data frames:
 * the server never interprets them, so a VMM that changes them during a request only
 * changes what its own partition receives.  The caller signals. */
bool storage_serve(const struct storage_disk *disk, struct storage_channel *ch);

#endif
