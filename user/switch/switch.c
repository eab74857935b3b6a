/* The switch's frame pump (switch.h). */
#include "switch.h"

void switch_init(struct netswitch *s, uint64_t max_age)
{
    for (unsigned p = 0; p < FDB_PORTS_MAX; p++)
        s->port[p].active = false;
    s->stats = (struct switch_stats){ 0 };
    fdb_init(&s->fdb, max_age);
}

bool switch_attach(struct netswitch *s, unsigned port, uint32_t segment, void *channel, uint32_t slots)
{
    if (port >= FDB_PORTS_MAX || s->port[port].active)
        return false;
    struct switch_port *p = &s->port[port];
    if (!netring_attach(&p->from, channel, slots, NETRING_TO_SWITCH) ||
        !netring_attach(&p->to, channel, slots, NETRING_TO_GUEST) ||
        !fdb_port_add(&s->fdb, port, segment))
        return false;
    p->active = true;
    return true;
}

void switch_detach(struct netswitch *s, unsigned port)
{
    if (port >= FDB_PORTS_MAX)
        return;
    s->port[port].active = false;
    fdb_port_remove(&s->fdb, port);
}

static uint64_t deliver(struct netswitch *s, uint64_t ports, uint32_t length)
{
    uint64_t given = 0;
    for (unsigned p = 0; ports; p++, ports >>= 1) {
        if (!(ports & 1) || !s->port[p].active)
            continue;
        if (netring_push(&s->port[p].to, s->frame, length)) {
            s->stats.delivered++;
            given |= (uint64_t)1 << p;
        } else {
            s->stats.full++;
        }
    }
    return given;
}

/* Up to SWITCH_BATCH frames from port `in`; whether it had any. */
static bool pump_port(struct netswitch *s, unsigned in, uint64_t now, uint64_t *notify)
{
    bool took = false;
    for (unsigned n = 0; n < SWITCH_BATCH; n++) {
        int length = netring_pop(&s->port[in].from, s->frame, sizeof(s->frame));
        if (length == NETRING_EMPTY)
            break;
        took = true;
        if (length < 0) {
            s->stats.bad++;
            if (length == NETRING_CORRUPTED)
                break;              /* nothing to take until its counter makes sense */
            continue;
        }
        s->stats.forwarded++;
        uint64_t ports = fdb_forward(&s->fdb, in, s->frame, (uint32_t)length, now);
        *notify |= deliver(s, ports, (uint32_t)length);
    }
    if (took)
        *notify |= (uint64_t)1 << in;   /* its ring has room again */
    return took;
}

uint64_t switch_pump(struct netswitch *s, uint64_t now)
{
    uint64_t notify = 0;
    bool more = true;
    for (unsigned round = 0; more && round < SWITCH_ROUNDS; round++) {
        more = false;
        for (unsigned p = 0; p < FDB_PORTS_MAX; p++)
            if (s->port[p].active && netring_pending(&s->port[p].from))
                more |= pump_port(s, p, now, &notify);
    }
    s->more = more;
    return notify;
}
