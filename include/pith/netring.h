/*
 * Network rings: how a guest NIC (in its VMM) and the switch pass Ethernet frames.
 *
 * A channel is a region of frames that the root task maps into exactly two protection
 * domains, the VMM of one guest and the switch.  It holds two rings, each with a single
 * producer and a single consumer:
 *
 *   ring 0 (NETRING_TO_SWITCH): the VMM produces what its guest transmits;
 *   ring 1 (NETRING_TO_GUEST):  the switch produces what the guest is to receive.
 *
 * A ring is a control page and `slots` frame slots of NETRING_SLOT_BYTES.  The control
 * page holds two free-running 32-bit counters on cache lines of their own: `head`
 * (frames produced, written only by the producer) and `tail` (frames consumed, written
 * only by the consumer).  A slot holds the frame's length and its bytes.
 *
 * The peer may be hostile, and shared memory is writable by both sides, so:
 *   - each side keeps its own counter privately and only publishes it; it never reads
 *     its own counter back from shared memory;
 *   - the peer's counter is read once, and a distance of more than `slots` between the
 *     two is corruption: the ring is treated as empty (consumer) or full (producer),
 *     counted in `corrupt`, and nothing outside the ring is touched;
 *   - a slot's length is read once and checked against NETRING_FRAME_MIN/MAX and the
 *     reader's buffer before a byte is copied; the frame is copied out before use;
 *   - there are no pointers in shared memory, only counters reduced modulo `slots`
 *     (a power of two the reader chose, not one read from the ring).
 * A hostile peer can thus lose or garble its own frames, nothing more.
 *
 * Notifications are separate: after producing a batch the producer signals the peer's
 * notification ("the ring has work"); after consuming from a full ring the consumer
 * signals too ("there is room again").  Both sides drain until empty before waiting,
 * so a lost race costs nothing: the next signal or the drain finds the frames.
 *
 * Everything here is pure (no system calls), so host tests cover it.
 */
#ifndef PITH_NETRING_H
#define PITH_NETRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETRING_SLOT_BYTES      2048u
#define NETRING_SLOT_HEADER     8u      /* u32 length, u32 reserved */
#define NETRING_FRAME_MIN       14u     /* an Ethernet header */
#define NETRING_FRAME_MAX       1518u   /* 1500 bytes of payload, header, a VLAN tag */
#define NETRING_CONTROL_BYTES   4096u
#define NETRING_SLOTS           64u     /* per ring in a channel (a power of two) */

#define NETRING_TO_SWITCH       0
#define NETRING_TO_GUEST        1

/* Bytes of one ring and of a channel (two rings) of `slots` slots each. */
#define NETRING_RING_BYTES(slots)    (NETRING_CONTROL_BYTES + (uint64_t)(slots) * NETRING_SLOT_BYTES)
#define NETRING_CHANNEL_BYTES(slots) (2 * NETRING_RING_BYTES(slots))

/* Offsets in a ring's control page: head and tail on cache lines of their own. */
#define NETRING_HEAD_OFFSET     0u
#define NETRING_TAIL_OFFSET     64u

/* One side's private view of a ring. */
struct netring {
    uint8_t *base;                      /* the ring's control page in this domain */
    uint32_t slots;                     /* a power of two, this side's own choice */
    uint32_t index;                     /* producer: frames produced; consumer: consumed */
    uint32_t corrupt;                   /* times the peer's counter was out of range */
    uint32_t dropped;                   /* consumer: slots with a bad length */
};

/* Results of netring_pop besides a frame length. */
#define NETRING_EMPTY           0
#define NETRING_BAD_FRAME       (-1)    /* a slot with a bad length: skipped */
#define NETRING_CORRUPTED       (-2)    /* the producer's counter is out of range */

static inline bool netring_slots_valid(uint32_t slots)
{
    return slots && slots <= (1u << 16) && !(slots & (slots - 1));
}

/*
 * Attach to ring `which` of the channel at `channel`.  The producer and the consumer
 * each attach once, at start, before the peer runs: a fresh channel is all zeroes, so
 * both counters start at 0 (the root task hands out zeroed frames).
 */
static inline bool netring_attach(struct netring *r, void *channel, uint32_t slots, unsigned which)
{
    if (!netring_slots_valid(slots) || which > 1)
        return false;
    *r = (struct netring){ .base = (uint8_t *)channel + which * NETRING_RING_BYTES(slots),
                           .slots = slots };
    return true;
}

static inline uint32_t *netring_counter(const struct netring *r, unsigned offset)
{
    return (uint32_t *)(void *)(r->base + offset);
}

static inline uint8_t *netring_slot(const struct netring *r, uint32_t counter)
{
    return r->base + NETRING_CONTROL_BYTES + (uint64_t)(counter & (r->slots - 1)) * NETRING_SLOT_BYTES;
}

/* The peer's counter, read once; the acquire pairs with the peer's release, so the
 * slots it covers are seen complete. */
static inline uint32_t netring_load_peer(const struct netring *r, unsigned offset)
{
    return __atomic_load_n(netring_counter(r, offset), __ATOMIC_ACQUIRE);
}

static inline void netring_publish(const struct netring *r, unsigned offset, uint32_t value)
{
    __atomic_store_n(netring_counter(r, offset), value, __ATOMIC_RELEASE);
}

/* Producer: free slots (0 when the consumer's counter is out of range). */
static inline uint32_t netring_space(struct netring *r)
{
    uint32_t used = r->index - netring_load_peer(r, NETRING_TAIL_OFFSET);
    if (used > r->slots) {
        r->corrupt++;
        return 0;
    }
    return r->slots - used;
}

/* Producer: queue one frame; false when the ring is full (or its peer corrupted it) or
 * the length is not a frame's. */
static inline bool netring_push(struct netring *r, const void *frame, uint32_t length)
{
    if (length < NETRING_FRAME_MIN || length > NETRING_FRAME_MAX || netring_space(r) == 0)
        return false;
    uint8_t *slot = netring_slot(r, r->index);
    uint32_t header[2] = { length, 0 };
    __builtin_memcpy(slot, header, sizeof(header));
    __builtin_memcpy(slot + NETRING_SLOT_HEADER, frame, length);
    netring_publish(r, NETRING_HEAD_OFFSET, ++r->index);
    return true;
}

/* Consumer: frames waiting (0 when the producer's counter is out of range). */
static inline uint32_t netring_pending(struct netring *r)
{
    uint32_t ready = netring_load_peer(r, NETRING_HEAD_OFFSET) - r->index;
    if (ready > r->slots) {
        r->corrupt++;
        return 0;
    }
    return ready;
}

/*
 * Consumer: copy the next frame into buf (room for `capacity` bytes) and free its slot.
 * Returns its length, NETRING_EMPTY, NETRING_BAD_FRAME (a slot whose length is not a
 * frame's or exceeds `capacity`: skipped and counted in `dropped`) or NETRING_CORRUPTED.
 */
static inline int netring_pop(struct netring *r, void *buf, uint32_t capacity)
{
    uint32_t ready = netring_load_peer(r, NETRING_HEAD_OFFSET) - r->index;
    if (ready > r->slots) {
        r->corrupt++;
        return NETRING_CORRUPTED;
    }
    if (ready == 0)
        return NETRING_EMPTY;
    const uint8_t *slot = netring_slot(r, r->index);
    uint32_t length = __atomic_load_n((const uint32_t *)(const void *)slot, __ATOMIC_RELAXED);
    int result = NETRING_BAD_FRAME;
    if (length >= NETRING_FRAME_MIN && length <= NETRING_FRAME_MAX && length <= capacity) {
        __builtin_memcpy(buf, slot + NETRING_SLOT_HEADER, length);
        result = (int)length;
    } else {
        r->dropped++;
    }
    netring_publish(r, NETRING_TAIL_OFFSET, ++r->index);
    return result;
}

#endif
