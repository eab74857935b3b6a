/*
 * The switch server: its own protection domain, connected to each guest NIC through a
 * channel of shared frames and a pair of notifications (pith/switch.h).  It waits on
 * its notification, moves every waiting frame (switch.c, fdb.c) and signals the ports
 * that got frames or room.  It never reads a guest's memory: only the channels.
 */
#include <pith/alloc.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/rest.h>
#include <pith/root.h>
#include <pith/switch.h>
#include <pith/syscall.h>
#include "switch.h"

#define AGE_SECONDS 300                 /* forget an address unheard of this long */

static struct netswitch sw;
static pith_cap_t peer[PITH_SWITCH_PORTS_MAX];

static bool map_channel(const struct pith_bootinfo *bi, unsigned port, uint64_t slots)
{
    uint64_t first = bi->extra_first_slot + PITH_SWITCH_PORT_FIRST(port, slots);
    uint64_t vaddr = PITH_SWITCH_CHANNELS + port * NETRING_CHANNEL_BYTES(slots);
    for (unsigned f = 0; f < PITH_SWITCH_CHANNEL_FRAMES(slots); f++)
        if (pith_map_frame(first + 1 + f, PITH_SLOT_ADDRESS_SPACE, vaddr + 4096ull * f,
                           PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0) != PITH_OK)
            return false;
    peer[port] = first;
    return true;
}

static const struct pith_switch_args *arguments(const struct pith_bootinfo *bi)
{
    const struct pith_switch_args *a = (const void *)bi->args_vaddr;
    if (bi->args_size < sizeof(*a) || a->magic != PITH_SWITCH_MAGIC ||
        a->port_count > PITH_SWITCH_PORTS_MAX || !netring_slots_valid((uint32_t)a->slots) ||
        a->slots > 1024 ||
        bi->extra_count < PITH_SWITCH_PORT_FIRST(a->port_count, a->slots))
        return NULL;
    return a;
}

int main(void *arg)
{
    const struct pith_bootinfo *bi = arg;
    if (pith_root_init(bi, 0x40000000, 0x50000000) != PITH_OK)
        return 1;
    const struct pith_switch_args *a = arguments(bi);
    if (!a) {
        pith_printf("switch: bad arguments\n");
        return 1;
    }
    switch_init(&sw, bi->tsc_hz * AGE_SECONDS);
    for (unsigned p = 0; p < a->port_count; p++) {
        void *channel = (void *)(PITH_SWITCH_CHANNELS + p * NETRING_CHANNEL_BYTES(a->slots));
        if (!map_channel(bi, p, a->slots) ||
            !switch_attach(&sw, p, (uint32_t)a->segment[p], channel, (uint32_t)a->slots)) {
            pith_printf("switch: port %u could not be connected\n", p);
            continue;
        }
        uint8_t mac[6];
        for (unsigned i = 0; i < 6; i++)
            mac[i] = (uint8_t)(a->mac[p] >> (40 - 8 * i));
        if (a->mac[p] && !fdb_port_pin(&sw.fdb, p, mac)) {
            pith_printf("switch: port %u: bad address %lx; not connected\n", p, a->mac[p]);
            switch_detach(&sw, p);      /* never unpinned when it was meant to be */
        }
    }
    pith_printf("switch: %lu ports\n", a->port_count);
    pith_cap_t notify = bi->extra_first_slot + PITH_SWITCH_SLOT_NOTIFY;
    struct pith_rest rest = { .least_tsc = bi->tsc_hz / 20000 + 1, .allowance_tsc = bi->tsc_hz / 500 };  /* 50 us; 2 ms */
    if (pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &rest.notification) != PITH_OK) {
        pith_printf("switch: no memory for a notification\n");
        return 1;
    }
    uint64_t next_aging = pith_rdtsc() + bi->tsc_hz;
    for (;;) {
        uint64_t bits;
        /* Frames left by a bounded pump (switch.h): look again after the rest, without
         * waiting for a signal (a poll that finds none says PITH_E_WOULD_BLOCK). */
        enum pith_error err = sw.more ? pith_poll(notify, &bits) : pith_wait(notify, &bits);
        if (err != PITH_OK && err != PITH_E_WOULD_BLOCK)
            return 1;
        uint64_t now = pith_rdtsc();
        uint64_t ports = switch_pump(&sw, now);
        for (unsigned p = 0; ports; p++, ports >>= 1)
            if (ports & 1)
                pith_signal(peer[p]);
        if (now >= next_aging) {
            fdb_age(&sw.fdb, now);
            next_aging = now + bi->tsc_hz;
        }
        pith_rest_over_half(&rest, now);   /* at most about half of this CPU (pith/rest.h) */
    }
}
