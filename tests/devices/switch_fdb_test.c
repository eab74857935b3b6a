/* The switch's forwarding database (user/switch/fdb.c): learning, flooding within a
 * segment, aging, a full table, and ports that lie about their source addresses. */
#include "harness.h"
#include "../../user/switch/fdb.h"

static struct fdb f;
static const uint8_t BROADCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void mac_of(uint8_t *mac, unsigned n)
{
    const uint8_t m[6] = { 0x52, 0x54, 0x00, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    memcpy(mac, m, 6);
}

static uint64_t send(unsigned port, const uint8_t *dst, const uint8_t *src, uint64_t now)
{
    uint8_t frame[60] = { 0 };
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    frame[12] = 0x08;
    return fdb_forward(&f, port, frame, sizeof(frame), now);
}

#define BIT(n) ((uint64_t)1 << (n))

/* Ports 0, 1, 2 on segment 1; ports 3, 4 on segment 2. */
static void setup(void)
{
    fdb_init(&f, 1000);
    for (unsigned p = 0; p < 5; p++)
        CHECK(fdb_port_add(&f, p, p < 3 ? 1 : 2));
}

static void test_flood_then_learn(void)
{
    setup();
    uint8_t a[6], b[6], c[6];
    mac_of(a, 1); mac_of(b, 2); mac_of(c, 3);
    CHECK_EQ(send(0, b, a, 1), BIT(1) | BIT(2));        /* b unknown: flood in segment 1 */
    CHECK_EQ(fdb_lookup(&f, 1, a, 1), 0);
    CHECK_EQ(send(1, a, b, 2), BIT(0));                 /* a learned on port 0 */
    CHECK_EQ(send(0, b, a, 3), BIT(1));                 /* now b is known too */
    CHECK_EQ(send(2, BROADCAST, c, 4), BIT(0) | BIT(1));
    uint8_t multicast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
    CHECK_EQ(send(2, multicast, c, 5), BIT(0) | BIT(1));
    CHECK_EQ(send(0, a, a, 6), 0);                      /* to its own port: nowhere */
    CHECK(!fdb_port_add(&f, 1, 1));                     /* in use */
    CHECK(!fdb_port_add(&f, FDB_PORTS_MAX, 1));
}

static void test_segments_never_mix(void)
{
    setup();
    uint8_t a[6], d[6];
    mac_of(a, 1); mac_of(d, 4);
    CHECK_EQ(send(3, BROADCAST, d, 1), BIT(4));         /* segment 2 only */
    CHECK_EQ(send(0, BROADCAST, a, 2), BIT(1) | BIT(2));
    CHECK_EQ(send(0, d, a, 3), BIT(1) | BIT(2));        /* d is on segment 2: unknown here */
    CHECK_EQ(send(3, a, d, 4), BIT(4));
    CHECK_EQ(fdb_lookup(&f, 1, d, 4), -1);
    CHECK_EQ(fdb_lookup(&f, 2, a, 4), -1);
}

/* Port 3 (segment 2) sends with the source addresses of segment 1's guests: it learns
 * them in segment 2 only; segment 1 keeps delivering to the real owners. */
static void test_spoofing_another_segment(void)
{
    setup();
    uint8_t a[6], b[6], d[6];
    mac_of(a, 1); mac_of(b, 2); mac_of(d, 4);
    send(0, BROADCAST, a, 1);
    send(1, BROADCAST, b, 1);
    for (unsigned i = 0; i < 10; i++) {
        CHECK_EQ(send(3, BROADCAST, a, 2 + i) & (BIT(0) | BIT(1) | BIT(2)), 0);
        CHECK_EQ(send(3, b, b, 2 + i) & (BIT(0) | BIT(1) | BIT(2)), 0);
    }
    CHECK_EQ(fdb_lookup(&f, 1, a, 20), 0);
    CHECK_EQ(fdb_lookup(&f, 1, b, 20), 1);
    CHECK_EQ(send(1, a, b, 21), BIT(0));
    CHECK_EQ(send(0, b, a, 22), BIT(1));
    CHECK_EQ(send(4, a, d, 23), BIT(3));                /* segment 2's view of "a" */
}

static void test_malformed_frames(void)
{
    setup();
    uint8_t a[6], frame[14] = { 0 };
    mac_of(a, 1);
    memcpy(frame, BROADCAST, 6);
    memcpy(frame + 6, a, 6);
    CHECK_EQ(fdb_forward(&f, 0, frame, 13, 1), 0);                  /* short */
    CHECK_EQ(fdb_forward(&f, 0, frame, 14, 1), BIT(1) | BIT(2));
    CHECK_EQ(fdb_forward(&f, 9, frame, 14, 1), 0);                  /* no such port */
    CHECK_EQ(fdb_forward(&f, 1000, frame, 14, 1), 0);
    CHECK_EQ(send(0, a, BROADCAST, 2), 0);                          /* group source */
    uint8_t zero[6] = { 0 };
    CHECK_EQ(send(0, a, zero, 2), 0);
    CHECK_EQ(fdb_lookup(&f, 1, BROADCAST, 2), -1);
}

static void test_aging_and_moves(void)
{
    setup();
    uint8_t a[6], b[6];
    mac_of(a, 1); mac_of(b, 2);
    send(0, BROADCAST, a, 100);
    CHECK_EQ(send(1, a, b, 1100), BIT(0));              /* age 1000: still there */
    CHECK_EQ(send(1, a, b, 1101), BIT(0) | BIT(2));     /* expired: flooded */
    send(0, BROADCAST, a, 1200);
    send(2, BROADCAST, a, 1201);                        /* a moved to port 2 */
    CHECK_EQ(fdb_lookup(&f, 1, a, 1201), 2);
    CHECK_EQ(f.port[0].entries, 0);
    fdb_age(&f, 5000);
    CHECK_EQ(fdb_lookup(&f, 1, a, 1201), -1);
    CHECK_EQ(f.port[2].entries + f.port[1].entries, 0);
    send(1, BROADCAST, b, 6000);
    fdb_port_remove(&f, 1);
    CHECK_EQ(fdb_lookup(&f, 1, b, 6000), -1);
    CHECK_EQ(send(0, b, a, 6001), BIT(2));              /* port 1 is gone from the floods */
}

/* One port sending from many addresses fills its own quota only; when the whole table
 * is full, new addresses are not learned (their frames are flooded within the segment)
 * and the learned ones keep working; expired entries are reclaimed. */
static void test_table_full(void)
{
    fdb_init(&f, 1000);
    for (unsigned p = 0; p < FDB_PORTS_MAX; p++)
        CHECK(fdb_port_add(&f, p, p == 63 ? 7 : 1));
    uint8_t a[6], x[6];
    mac_of(a, 1);
    send(0, BROADCAST, a, 1);
    for (unsigned i = 0; i < 10 * FDB_PORT_LIMIT; i++) {   /* a hostile port floods sources */
        mac_of(x, 0x10000 + i);
        send(5, BROADCAST, x, 2);
    }
    CHECK_EQ(f.port[5].entries, FDB_PORT_LIMIT);
    CHECK_EQ(fdb_lookup(&f, 1, a, 2), 0);
    /* Fill the rest of the table from other ports. */
    unsigned n = 0;
    for (unsigned p = 6; p < 62; p++)
        for (unsigned i = 0; i < 8; i++, n++) {
            mac_of(x, 0x20000 + n);
            send(p, BROADCAST, x, 3);
        }
    unsigned used = 0;
    for (unsigned i = 0; i < FDB_ENTRIES; i++)
        used += f.entry[i].used;
    CHECK_EQ(used, FDB_ENTRIES);
    CHECK(f.not_learned >= 9 * FDB_PORT_LIMIT);
    uint8_t late[6];
    mac_of(late, 0x30000);
    uint64_t before = f.not_learned;
    CHECK_EQ(send(62, a, late, 4), BIT(0));             /* learned ones still forward */
    CHECK_EQ(f.not_learned, before + 1);
    CHECK_EQ(fdb_lookup(&f, 1, late, 4), -1);
    CHECK_EQ(send(0, late, a, 5) & BIT(62), BIT(62));   /* unknown: flooded, reaches it */
    CHECK_EQ(send(0, late, a, 5) & BIT(63), 0);         /* but not into segment 7 */
    /* Much later everything has expired: a new address takes a reclaimed entry. */
    uint64_t flood = send(62, a, late, 5000);          /* a expired too: flooded */
    CHECK_EQ(flood & (BIT(0) | BIT(1) | BIT(62) | BIT(63)), BIT(0) | BIT(1));
    CHECK_EQ(fdb_lookup(&f, 1, late, 5000), 62);
}

/* A pinned port (every guest NIC's) cannot take a neighbour's address: the frame goes
 * nowhere, is counted, and the neighbour keeps its frames.  Its own source works. */
static void test_pinned_port_keeps_its_address(void)
{
    setup();
    uint8_t a[6], b[6], c[6];
    mac_of(a, 1); mac_of(b, 2); mac_of(c, 3);
    CHECK(fdb_port_pin(&f, 0, a));
    CHECK(fdb_port_pin(&f, 1, b));
    CHECK(!fdb_port_pin(&f, 1, BROADCAST));             /* a group address is no source */
    CHECK(!fdb_port_pin(&f, 9, b));                     /* not connected */
    CHECK_EQ(send(0, b, a, 1), BIT(1) | BIT(2));        /* a learned on port 0 */
    CHECK_EQ(send(1, BROADCAST, a, 2), 0);              /* port 1 claims a: dropped */
    CHECK_EQ(f.spoofed, 1);
    CHECK_EQ(fdb_lookup(&f, 1, a, 3), 0);               /* a is still port 0's */
    CHECK_EQ(send(2, a, c, 4), BIT(0));                 /* and frames for a still go there */
    CHECK_EQ(send(1, a, b, 5), BIT(0));                 /* port 1 with its own source: fine */
    CHECK_EQ(send(2, b, a, 6), BIT(1));                 /* the unpinned port 2 still may */
}

DEVICE_TESTS(switch_fdb,
    { "switch_fdb_flood_then_learn", test_flood_then_learn },
    { "switch_fdb_segments_never_mix", test_segments_never_mix },
    { "switch_fdb_spoofing_another_segment", test_spoofing_another_segment },
    { "switch_fdb_malformed_frames", test_malformed_frames },
    { "switch_fdb_aging_and_moves", test_aging_and_moves },
    { "switch_fdb_table_full", test_table_full },
    { "switch_fdb_pinned_port_keeps_its_address", test_pinned_port_keeps_its_address },
)
