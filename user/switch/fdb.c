/* The switch's forwarding database (fdb.h): learning, forwarding, aging. */
#include "fdb.h"

static bool mac_equal(const uint8_t *a, const uint8_t *b)
{
    for (unsigned i = 0; i < 6; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The group bit: the least significant bit of the first octet (IEEE 802-2014 §8.2). */
static bool mac_is_group(const uint8_t *mac) { return mac[0] & 1; }

static bool mac_is_zero(const uint8_t *mac)
{
    return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static bool expired(const struct fdb *f, const struct fdb_entry *e, uint64_t now)
{
    return now - e->seen > f->max_age;
}

static void forget(struct fdb *f, struct fdb_entry *e)
{
    f->port[e->port].entries--;
    e->used = false;
}

void fdb_init(struct fdb *f, uint64_t max_age)
{
    *f = (struct fdb){ .max_age = max_age };
}

bool fdb_port_add(struct fdb *f, unsigned port, uint32_t segment)
{
    if (port >= FDB_PORTS_MAX || f->port[port].active)
        return false;
    f->port[port] = (struct fdb_port){ .active = true, .segment = segment };
    return true;
}

bool fdb_port_pin(struct fdb *f, unsigned port, const uint8_t mac[6])
{
    if (port >= FDB_PORTS_MAX || !f->port[port].active || mac_is_group(mac) || mac_is_zero(mac))
        return false;
    f->port[port].pinned = true;
    for (unsigned i = 0; i < 6; i++)
        f->port[port].mac[i] = mac[i];
    return true;
}

void fdb_port_remove(struct fdb *f, unsigned port)
{
    if (port >= FDB_PORTS_MAX)
        return;
    for (unsigned i = 0; i < FDB_ENTRIES; i++)
        if (f->entry[i].used && f->entry[i].port == port)
            forget(f, &f->entry[i]);
    f->port[port].active = false;
}

static struct fdb_entry *find(struct fdb *f, uint32_t segment, const uint8_t *mac, uint64_t now)
{
    for (unsigned i = 0; i < FDB_ENTRIES; i++) {
        struct fdb_entry *e = &f->entry[i];
        if (e->used && e->segment == segment && mac_equal(e->mac, mac)) {
            if (!expired(f, e, now))
                return e;
            forget(f, e);
            return NULL;
        }
    }
    return NULL;
}

/* A free entry, reclaiming an expired one if needed. */
static struct fdb_entry *free_entry(struct fdb *f, uint64_t now)
{
    struct fdb_entry *stale = NULL;
    for (unsigned i = 0; i < FDB_ENTRIES; i++) {
        struct fdb_entry *e = &f->entry[i];
        if (!e->used)
            return e;
        if (!stale && expired(f, e, now))
            stale = e;
    }
    if (stale)
        forget(f, stale);
    return stale;
}

static void learn(struct fdb *f, unsigned port, const uint8_t *mac, uint64_t now)
{
    uint32_t segment = f->port[port].segment;
    struct fdb_entry *e = find(f, segment, mac, now);
    if (e && e->port == port) {
        e->seen = now;
        return;
    }
    if (e)              /* the address moved to another port of the segment */
        forget(f, e);
    if (f->port[port].entries >= FDB_PORT_LIMIT || !(e = free_entry(f, now))) {
        f->not_learned++;
        return;         /* frames to it are flooded within the segment: still correct */
    }
    *e = (struct fdb_entry){ .port = (uint16_t)port, .segment = segment, .seen = now, .used = true };
    for (unsigned i = 0; i < 6; i++)
        e->mac[i] = mac[i];
    f->port[port].entries++;
}

static uint64_t segment_ports(const struct fdb *f, uint32_t segment)
{
    uint64_t ports = 0;
    for (unsigned p = 0; p < FDB_PORTS_MAX; p++)
        if (f->port[p].active && f->port[p].segment == segment)
            ports |= (uint64_t)1 << p;
    return ports;
}

uint64_t fdb_forward(struct fdb *f, unsigned in_port, const uint8_t *frame, uint32_t length,
                     uint64_t now)
{
    if (in_port >= FDB_PORTS_MAX || !f->port[in_port].active || length < FDB_ETH_HEADER)
        return 0;
    const uint8_t *destination = frame, *source = frame + 6;
    if (mac_is_group(source) || mac_is_zero(source))
        return 0;
    if (f->port[in_port].pinned && !mac_equal(source, f->port[in_port].mac)) {
        f->spoofed++;
        return 0;
    }
    learn(f, in_port, source, now);
    uint32_t segment = f->port[in_port].segment;
    uint64_t others = segment_ports(f, segment) & ~((uint64_t)1 << in_port);
    if (mac_is_group(destination))
        return others;                  /* broadcast and multicast: the whole segment */
    struct fdb_entry *e = find(f, segment, destination, now);
    if (!e)
        return others;                  /* unknown unicast: flooded within the segment */
    return others & ((uint64_t)1 << e->port);   /* empty when it is the sender's own port */
}

void fdb_age(struct fdb *f, uint64_t now)
{
    for (unsigned i = 0; i < FDB_ENTRIES; i++)
        if (f->entry[i].used && expired(f, &f->entry[i], now))
            forget(f, &f->entry[i]);
}

int fdb_lookup(const struct fdb *f, uint32_t segment, const uint8_t mac[6], uint64_t now)
{
    for (unsigned i = 0; i < FDB_ENTRIES; i++) {
        const struct fdb_entry *e = &f->entry[i];
        if (e->used && e->segment == segment && mac_equal(e->mac, mac) && !expired(f, e, now))
            return e->port;
    }
    return -1;
}
