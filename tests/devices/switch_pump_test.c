/* A hostile VMM that refills its transmit ring as fast as the switch drains it (from
 * another CPU) must not keep switch_pump from returning: the ports given frames are
 * only signalled when it returns.  The attacker is a second thread. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "harness.h"
#include "../../user/switch/switch.h"

static struct netswitch pump_sw;
static uint8_t *pump_chan[3];
static volatile int pump_stop;

static void *refill(void *arg)
{
    struct netring r;
    netring_attach(&r, arg, NETRING_SLOTS, NETRING_TO_SWITCH);
    for (uint32_t i = 0; i < NETRING_SLOTS; i++) {         /* full-size frames to an unknown address */
        uint8_t *slot = netring_slot(&r, i);
        uint32_t length = NETRING_FRAME_MAX;
        uint8_t header[14] = { 0x02, 9, 9, 9, 9, 9, 0x02, 0, 0, 0, 0, 3, 0x08, 0x00 };
        memcpy(slot, &length, 4);
        memcpy(slot + NETRING_SLOT_HEADER, header, sizeof(header));
    }
    while (!pump_stop) {                /* always a full ring past what the switch took */
        uint32_t tail = __atomic_load_n(netring_counter(&r, NETRING_TAIL_OFFSET), __ATOMIC_ACQUIRE);
        netring_publish(&r, NETRING_HEAD_OFFSET, tail + NETRING_SLOTS);
    }
    return NULL;
}

static void test_pump_bounded(void)
{
    switch_init(&pump_sw, 1000);
    for (unsigned p = 0; p < 3; p++) {
        pump_chan[p] = aligned_alloc(4096, NETRING_CHANNEL_BYTES(NETRING_SLOTS));
        memset(pump_chan[p], 0, NETRING_CHANNEL_BYTES(NETRING_SLOTS));
        CHECK(switch_attach(&pump_sw, p, 1, pump_chan[p], NETRING_SLOTS));
    }
    pump_stop = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, refill, pump_chan[2]) == 0);
    struct timespec pause = { 0, 5 * 1000 * 1000 };
    nanosleep(&pause, NULL);            /* the attacker has filled its ring */
    switch_pump(&pump_sw, 1);
    uint64_t taken = pump_sw.stats.forwarded + pump_sw.stats.bad;
    pump_stop = 1;
    pthread_join(t, NULL);
    /* one call takes at most a ring's worth from the port, then returns to signal */
    CHECK(taken <= NETRING_SLOTS);
    for (unsigned p = 0; p < 3; p++)
        free(pump_chan[p]);
}

DEVICE_TESTS(switch_pump, { "switch_pump_bounded_by_a_refilling_peer", test_pump_bounded })
