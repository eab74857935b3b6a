/*
 * The storage server and its clients (docs/storage.md).
 *
 * The storage server is a protection domain of its own that drives the host's ATA disk
 * (primary IDE channel, by bus-master DMA when the IDE controller offers it, else by
 * PIO), reads its GPT and serves each guest the one partition
 * its configuration names (`disk part:NAME`).  A guest's VMM reaches it through a
 * channel: frames the root task shares between exactly that VMM and the server, and a
 * notification each way.
 *
 * A channel is a control page and PITH_STORAGE_DATA_FRAMES frames of data.  One
 * request is outstanding at a time.  The VMM writes op, sector and count (and for a
 * write the data), then publishes `seq` + 1 and signals the server; the server copies
 * the request out of shared memory once, checks it against the partition
 * (pith_storage_check: the sector numbers are the partition's own, never the disk's),
 * performs it, writes the data of a read, then `status` and `done` = seq, and signals
 * the VMM.  Before the first request the server sets `state` (ready or refused) and
 * `sectors`, and signals.  A hostile VMM can garble its own requests, nothing more:
 * the server never reads a request field twice and never trusts a length it did not
 * check.
 *
 * Everything here is pure, for host tests.
 */
#ifndef PITH_STORAGE_H
#define PITH_STORAGE_H

#include <stdint.h>

#define PITH_STORAGE_MAGIC          0x656761726f74735full   /* "_storage" */
#define PITH_STORAGE_CHANNELS_MAX   16
#define PITH_STORAGE_NAME           40      /* a GPT name (36 characters) and its end */
#define PITH_STORAGE_DATA_FRAMES    64
#define PITH_STORAGE_DATA_BYTES     (PITH_STORAGE_DATA_FRAMES * 4096u)
#define PITH_STORAGE_MAX_SECTORS    (PITH_STORAGE_DATA_BYTES / 512u)
#define PITH_STORAGE_CHANNEL_FRAMES (1 + PITH_STORAGE_DATA_FRAMES)

/* The server's arguments (its boot info's args). */
struct pith_storage_args {
    uint64_t magic;
    uint64_t channel_count;
    uint64_t bus_master;                    /* the primary channel's bus-master ports, 0: none */
    struct {
        char guest[PITH_STORAGE_NAME];
        char partition[PITH_STORAGE_NAME];
        uint64_t line;                      /* of the `disk` line, for messages */
    } channel[PITH_STORAGE_CHANNELS_MAX];
};

/* The server's extra capabilities: its notification (each VMM signals it with the
 * badge 1 << channel), the ATA command block (0x1f0-0x1f7) and control (0x3f6) ports,
 * then per channel the VMM's storage notification and the channel's frames, and last,
 * when args.bus_master is not 0, its 8 bus-master ports (which let the server make the
 * controller read and write any memory: docs/storage.md, Isolation). */
#define PITH_STORAGE_SLOT_NOTIFY        0
#define PITH_STORAGE_SLOT_ATA_COMMAND   1
#define PITH_STORAGE_SLOT_ATA_CONTROL   2
#define PITH_STORAGE_CHANNEL_CAPS       (1 + PITH_STORAGE_CHANNEL_FRAMES)
#define PITH_STORAGE_CHANNEL_FIRST(c)   (3 + (c) * PITH_STORAGE_CHANNEL_CAPS)
#define PITH_STORAGE_SLOT_BUS_MASTER(n) PITH_STORAGE_CHANNEL_FIRST(n)   /* n channels */

/* A VMM's extra capabilities for its disk, from PITH_GUEST_SLOT_STORAGE (pith/guest.h):
 * its own notification (it waits there for answers), the server's notification badged
 * for this channel, then the channel's frames in address order. */
#define PITH_GUEST_STORAGE_NOTIFY       0
#define PITH_GUEST_STORAGE_SERVER       1
#define PITH_GUEST_STORAGE_FRAMES       2
#define PITH_GUEST_STORAGE_CAPS         (2 + PITH_STORAGE_CHANNEL_FRAMES)

enum pith_storage_state { PITH_STORAGE_STARTING, PITH_STORAGE_READY, PITH_STORAGE_REFUSED };
enum pith_storage_op { PITH_STORAGE_READ, PITH_STORAGE_WRITE, PITH_STORAGE_FLUSH };
enum pith_storage_status { PITH_STORAGE_OK, PITH_STORAGE_IOERR, PITH_STORAGE_UNSUPPORTED };

/* The control page; each field has one writer, the peer only reads it. */
struct pith_storage_control {
    /* written by the server */
    uint32_t state;
    uint32_t done;                  /* the seq of the last request answered */
    uint32_t status;                /* its pith_storage_status */
    uint32_t reserved;
    uint64_t sectors;               /* the partition's size in 512-byte sectors */
    uint8_t server_pad[40];
    /* written by the VMM, on a cache line of their own */
    uint32_t seq;
    uint32_t op;
    uint64_t sector;                /* in the partition */
    uint32_t count;                 /* sectors, read or write */
};

/* Whether a request may run against a partition of `sectors` sectors: the whole of it
 * inside the partition, at most what the data frames hold, no arithmetic that wraps. */
static inline enum pith_storage_status pith_storage_check(uint32_t op, uint64_t sector, uint32_t count,
                                                          uint64_t sectors)
{
    if (op == PITH_STORAGE_FLUSH)
        return PITH_STORAGE_OK;
    if (op != PITH_STORAGE_READ && op != PITH_STORAGE_WRITE)
        return PITH_STORAGE_UNSUPPORTED;
    if (count == 0 || count > PITH_STORAGE_MAX_SECTORS || sector >= sectors || count > sectors - sector)
        return PITH_STORAGE_IOERR;
    return PITH_STORAGE_OK;
}

#endif
