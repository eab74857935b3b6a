/*
 * The switch's frame pump: one port per guest NIC, each a channel of two rings
 * (pith/netring.h) shared with that guest's VMM; frames go where the forwarding
 * database (fdb.h) says.  Pure (no system calls): main.c maps the channels, waits for
 * notifications and signals the ports this returns; host tests drive it directly.
 */
#ifndef SWITCH_SWITCH_H
#define SWITCH_SWITCH_H

#include "pith/netring.h"
#include "fdb.h"

/* Frames taken from one port per round, so a busy port cannot starve the others. */
#define SWITCH_BATCH 32
/* Rounds per switch_pump call: a ring's worth of frames from each port at most. */
#define SWITCH_ROUNDS (NETRING_SLOTS / SWITCH_BATCH)

struct switch_port {
    struct netring from;                /* the guest's transmissions (we consume) */
    struct netring to;                  /* frames for the guest (we produce) */
    bool active;
};

struct switch_stats {
    uint64_t forwarded;                 /* frames taken from a port and forwarded */
    uint64_t delivered;                 /* copies placed in a port's ring */
    uint64_t full;                      /* copies dropped: the destination's ring was full */
    uint64_t bad;                       /* slots with a bad length, rings with bad counters */
};

struct netswitch {
    struct fdb fdb;
    struct switch_port port[FDB_PORTS_MAX];
    struct switch_stats stats;
    uint8_t frame[NETRING_FRAME_MAX];
    bool more;                          /* the last pump stopped with frames waiting */
};

void switch_init(struct netswitch *s, uint64_t max_age);
/* Connect `port` on `segment` to the channel mapped at `channel` (`slots` per ring). */
bool switch_attach(struct netswitch *s, unsigned port, uint32_t segment, void *channel, uint32_t slots);
void switch_detach(struct netswitch *s, unsigned port);
/*
 * Move the frames waiting at time `now`: up to SWITCH_BATCH per port per round, for
 * at most SWITCH_ROUNDS rounds, so a port that refills its ring from another CPU as
 * fast as it is drained cannot keep the switch here (the ports are signalled only on
 * return); `more` says frames were left.  Returns the ports to notify: those given
 * frames and those whose transmit ring has room again.
 */
uint64_t switch_pump(struct netswitch *s, uint64_t now);

#endif
