/*
 * The switch's forwarding database: which port each source MAC address was last seen
 * on, per segment.  Pure logic (no system calls), host-tested.
 *
 * Isolation is in the key: an entry is (segment, MAC) -> port, a frame is only ever
 * delivered to ports of its ingress port's segment, and a lookup only sees entries of
 * that segment.  So a port that sends with another segment's MAC addresses as its
 * source learns them in its own segment only, and no frame crosses segments, whatever
 * the frames say.  A port pinned to its guest's address (fdb_port_pin: every guest
 * NIC's) sends with that source only, so it cannot claim a neighbour's address and
 * draw the neighbour's frames; an unpinned port (the uplink, which carries the whole
 * outside network) may, as on any learning switch.  The per-port entry limit keeps one
 * port from filling the table and so from turning everyone else's traffic into floods.
 */
#ifndef SWITCH_FDB_H
#define SWITCH_FDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FDB_PORTS_MAX       64          /* a port set is a uint64_t bit mask */
#define FDB_ENTRIES         256
#define FDB_PORT_LIMIT      32          /* entries one port may hold */
#define FDB_ETH_HEADER      14

struct fdb_entry {
    uint8_t mac[6];
    uint16_t port;
    uint32_t segment;
    uint64_t seen;                      /* time of the last frame from it */
    bool used;
};

struct fdb_port {
    bool active;
    bool pinned;                        /* frames with another source go nowhere */
    uint8_t mac[6];                     /* the one source of a pinned port */
    uint32_t segment;
    unsigned entries;                   /* entries it holds */
};

struct fdb {
    struct fdb_entry entry[FDB_ENTRIES];
    struct fdb_port port[FDB_PORTS_MAX];
    uint64_t max_age;                   /* an entry not refreshed for this long is gone */
    uint64_t not_learned;               /* source addresses not learned: table or port full */
    uint64_t spoofed;                   /* frames dropped: not a pinned port's own source */
};

void fdb_init(struct fdb *f, uint64_t max_age);
/* Connect `port` to `segment`; false for a port number out of range or in use. */
bool fdb_port_add(struct fdb *f, unsigned port, uint32_t segment);
/* From now on `port` may send with source `mac` only (fdb.c drops and counts others). */
bool fdb_port_pin(struct fdb *f, unsigned port, const uint8_t mac[6]);
/* Disconnect `port` and forget every address learned on it. */
void fdb_port_remove(struct fdb *f, unsigned port);

/*
 * A frame of `length` bytes arrived on `in_port` at time `now`: learn its source and
 * return the ports to send it to (bit n = port n), never `in_port`, never a port of
 * another segment.  Malformed frames (shorter than an Ethernet header, a multicast
 * source address), frames from an inactive port and a pinned port's frames with
 * another source go nowhere.
 */
uint64_t fdb_forward(struct fdb *f, unsigned in_port, const uint8_t *frame, uint32_t length,
                     uint64_t now);

/* Forget entries not refreshed within max_age of `now`. */
void fdb_age(struct fdb *f, uint64_t now);

/* The port `mac` was learned on in `segment`, or -1. */
int fdb_lookup(const struct fdb *f, uint32_t segment, const uint8_t mac[6], uint64_t now);

#endif
