/* The shared-memory frame rings between a guest NIC and the switch (pith/netring.h):
 * both sides over one channel, and a hostile peer writing the shared counters and
 * lengths. */
#include <stdlib.h>
#include "harness.h"
#include "pith/netring.h"

#define SLOTS 8u
static uint8_t channel[NETRING_CHANNEL_BYTES(SLOTS)] __attribute__((aligned(4096)));
/* Guards around the channel: nothing may write outside it. */
static struct { uint8_t before[4096]; uint8_t ring[NETRING_CHANNEL_BYTES(SLOTS)]; uint8_t after[4096]; }
    guarded __attribute__((aligned(4096)));

static void frame_of(uint8_t *f, uint32_t length, uint8_t seed)
{
    for (uint32_t i = 0; i < length; i++)
        f[i] = (uint8_t)(seed + i * 3);
}

static void attach_pair(struct netring *producer, struct netring *consumer, void *region, unsigned which)
{
    CHECK(netring_attach(producer, region, SLOTS, which));
    CHECK(netring_attach(consumer, region, SLOTS, which));
}

static void test_round_trip(void)
{
    memset(channel, 0, sizeof(channel));
    struct netring p, c;
    attach_pair(&p, &c, channel, NETRING_TO_SWITCH);
    uint8_t f[NETRING_FRAME_MAX], got[NETRING_FRAME_MAX];
    CHECK_EQ(netring_pop(&c, got, sizeof(got)), NETRING_EMPTY);
    /* Several laps around the ring, so the counters wrap the slot index. */
    for (unsigned i = 0; i < 5 * SLOTS; i++) {
        uint32_t length = NETRING_FRAME_MIN + (i * 97) % (NETRING_FRAME_MAX - NETRING_FRAME_MIN + 1);
        frame_of(f, length, (uint8_t)i);
        CHECK(netring_push(&p, f, length));
        CHECK_EQ(netring_pending(&c), 1);
        memset(got, 0, sizeof(got));
        CHECK_EQ(netring_pop(&c, got, sizeof(got)), length);
        CHECK(memcmp(got, f, length) == 0);
    }
    CHECK_EQ(p.corrupt + c.corrupt + c.dropped, 0);
}

static void test_full_and_room_again(void)
{
    memset(channel, 0, sizeof(channel));
    struct netring p, c;
    attach_pair(&p, &c, channel, NETRING_TO_GUEST);
    uint8_t f[64], got[64];
    for (unsigned i = 0; i < SLOTS; i++) {
        frame_of(f, sizeof(f), (uint8_t)i);
        CHECK(netring_push(&p, f, sizeof(f)));
    }
    CHECK_EQ(netring_space(&p), 0);
    CHECK(!netring_push(&p, f, sizeof(f)));     /* full: refused, nothing overwritten */
    CHECK_EQ(netring_pop(&c, got, sizeof(got)), sizeof(got));
    frame_of(f, sizeof(f), 0);
    CHECK(memcmp(got, f, sizeof(f)) == 0);      /* the first frame survived the refusal */
    CHECK_EQ(netring_space(&p), 1);
    CHECK(netring_push(&p, f, sizeof(f)));
    CHECK_EQ(netring_pending(&c), SLOTS);
    /* The two rings of a channel are independent. */
    struct netring other;
    CHECK(netring_attach(&other, channel, SLOTS, NETRING_TO_SWITCH));
    CHECK_EQ(netring_pending(&other), 0);
}

static void test_bad_lengths_refused_by_producer(void)
{
    memset(channel, 0, sizeof(channel));
    struct netring p, c;
    attach_pair(&p, &c, channel, NETRING_TO_SWITCH);
    uint8_t f[NETRING_FRAME_MAX + 1] = { 0 };
    CHECK(!netring_push(&p, f, NETRING_FRAME_MIN - 1));
    CHECK(!netring_push(&p, f, NETRING_FRAME_MAX + 1));
    CHECK(!netring_push(&p, f, 0));
    CHECK_EQ(netring_pending(&c), 0);
    CHECK(!netring_attach(&p, channel, 6, 0));          /* not a power of two */
    CHECK(!netring_attach(&p, channel, 0, 0));
    CHECK(!netring_attach(&p, channel, SLOTS, 2));
}

/* A hostile producer writes slot lengths that are too long, too short, or larger than
 * the reader's buffer: each such slot is skipped, no byte is copied past the buffer. */
static void test_hostile_lengths(void)
{
    memset(guarded.ring, 0, sizeof(guarded.ring));
    memset(guarded.before, 0xaa, sizeof(guarded.before));
    memset(guarded.after, 0xaa, sizeof(guarded.after));
    struct netring p, c;
    attach_pair(&p, &c, guarded.ring, NETRING_TO_GUEST);
    uint8_t f[100];
    frame_of(f, sizeof(f), 1);
    for (unsigned i = 0; i < 5; i++)
        CHECK(netring_push(&p, f, sizeof(f)));
    uint32_t bad[4] = { 0xffffffffu, NETRING_FRAME_MAX + 1, 3, 200 };
    for (unsigned i = 0; i < 4; i++)
        memcpy(netring_slot(&p, i), &bad[i], 4);
    uint8_t *got = malloc(150);          /* ASan catches a copy beyond 150 bytes */
    CHECK_EQ(netring_pop(&c, got, 150), NETRING_BAD_FRAME);
    CHECK_EQ(netring_pop(&c, got, 150), NETRING_BAD_FRAME);
    CHECK_EQ(netring_pop(&c, got, 150), NETRING_BAD_FRAME);
    CHECK_EQ(netring_pop(&c, got, 150), NETRING_BAD_FRAME);     /* 200 > the buffer */
    CHECK_EQ(netring_pop(&c, got, 150), sizeof(f));             /* the good one still arrives */
    CHECK(memcmp(got, f, sizeof(f)) == 0);
    CHECK_EQ(c.dropped, 4);
    CHECK_EQ(netring_pop(&c, got, 150), NETRING_EMPTY);
    free(got);
    for (unsigned i = 0; i < sizeof(guarded.before); i++)
        CHECK(guarded.before[i] == 0xaa && guarded.after[i] == 0xaa);
}

/* A hostile peer writes the counters: the producer's head far ahead of the consumer, or
 * the consumer's tail behind or ahead of the producer.  Each side then sees an empty or
 * full ring, counts the corruption, and writes nothing outside the channel. */
static void test_hostile_counters(void)
{
    memset(guarded.ring, 0, sizeof(guarded.ring));
    memset(guarded.before, 0x55, sizeof(guarded.before));
    memset(guarded.after, 0x55, sizeof(guarded.after));
    struct netring p, c;
    attach_pair(&p, &c, guarded.ring, NETRING_TO_SWITCH);
    uint8_t f[64], got[NETRING_FRAME_MAX];
    frame_of(f, sizeof(f), 9);
    uint32_t *head = netring_counter(&p, NETRING_HEAD_OFFSET);
    uint32_t *tail = netring_counter(&p, NETRING_TAIL_OFFSET);

    static const uint32_t heads[] = { SLOTS + 1, 0x80000000u, 0xffffffffu, 1000 };
    for (unsigned i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        *head = heads[i];               /* the hostile producer's claim */
        CHECK_EQ(netring_pending(&c), 0);
        CHECK_EQ(netring_pop(&c, got, sizeof(got)), NETRING_CORRUPTED);
    }
    CHECK_EQ(c.index, 0);               /* the consumer's own count is untouched */
    *head = 0;

    /* A consumer claiming more than was produced, or going backwards. */
    static const uint32_t tails[] = { 5, 0xfffffff0u, SLOTS * 3 };
    for (unsigned i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        *tail = tails[i];
        CHECK_EQ(netring_space(&p), 0);
        CHECK(!netring_push(&p, f, sizeof(f)));
    }
    CHECK_EQ(p.index, 0);
    CHECK(p.corrupt >= 3 && c.corrupt >= 4);

    /* The producer overwrote its own counter in shared memory: the honest side keeps
     * its private count, so when the hostile side restores it, the ring works again. */
    *tail = 0;
    CHECK(netring_push(&p, f, sizeof(f)));
    *head = 12345;                      /* the consumer scribbles on the producer's counter */
    CHECK(netring_push(&p, f, sizeof(f)));  /* republished from the producer's own count */
    CHECK_EQ(*head, 2);
    CHECK_EQ(netring_pop(&c, got, sizeof(got)), sizeof(f));
    CHECK(memcmp(got, f, sizeof(f)) == 0);
    for (unsigned i = 0; i < sizeof(guarded.before); i++)
        CHECK(guarded.before[i] == 0x55 && guarded.after[i] == 0x55);
}

DEVICE_TESTS(netring,
    { "netring_round_trip", test_round_trip },
    { "netring_full_and_room_again", test_full_and_room_again },
    { "netring_bad_lengths_refused_by_producer", test_bad_lengths_refused_by_producer },
    { "netring_hostile_lengths", test_hostile_lengths },
    { "netring_hostile_counters", test_hostile_counters },
)
