/* A server's account of its share of the CPU (pith/rest.h, pith_rest_owed): requests
 * now and then are served without a rest; a client keeping it busy gets about half. */
#include "harness.h"
#include "pith/rest.h"

#define MS 1000000ull                       /* a TSC of 1 GHz: ticks in a millisecond */

static void rest_none_for_requests_now_and_then(void)
{
    struct pith_rest r = { .least_tsc = MS / 20, .allowance_tsc = 2 * MS };
    uint64_t t = 5 * MS;
    for (unsigned i = 0; i < 1000; i++) {   /* 0.19 ms of work every 1.5 ms */
        CHECK_EQ(pith_rest_owed(&r, t, t + MS * 19 / 100), 0);
        t += MS * 3 / 2;
    }
}

static void rest_holds_a_busy_server_to_half(void)
{
    struct pith_rest r = { .least_tsc = MS / 20, .allowance_tsc = 2 * MS };
    uint64_t t = 0, busy = 0, rested = 0;
    for (unsigned i = 0; i < 20000; i++) {  /* bursts of 0.1 ms back to back, resting as told */
        uint64_t owed = pith_rest_owed(&r, t, t + MS / 10);
        t += MS / 10 + owed;
        busy += MS / 10;
        rested += owed;
    }
    CHECK(rested > 0);
    CHECK(busy * 100 <= (busy + rested) * 51 + 2 * MS * 100);  /* half, and the allowance once */
    CHECK(busy * 100 >= (busy + rested) * 45);                 /* and not much less */
}

static void rest_after_one_long_burst(void)
{
    struct pith_rest r = { .least_tsc = MS / 20, .allowance_tsc = 2 * MS };
    CHECK_EQ(pith_rest_owed(&r, 100 * MS, 101 * MS), 0);            /* within the allowance */
    uint64_t owed = pith_rest_owed(&r, 101 * MS, 111 * MS);         /* 10 ms at once */
    CHECK(owed >= 6 * MS && owed <= 8 * MS);     /* half of 10 + 1 ms, less what is left of 2 */
    CHECK(pith_rest_owed(&r, 111 * MS + owed, 111 * MS + owed) <= MS / 20);   /* even again */
    CHECK(pith_rest_owed(&r, 200 * MS, 100000 * MS) <= 2000 * MS);  /* a clock jump: bounded */
}

/* A client that wakes the server without giving it work: each wake costs the server's
 * CPU more than the server sees (the kernel's wait and switch), so a burst is charged
 * at least least_tsc: a flood of empty wakes gets one per least_tsc at most, and the
 * server's CPU stays under half while a wake costs less than half of least_tsc. */
static void rest_bounds_empty_wakes(void)
{
    const uint64_t unseen[] = { MS / 500, MS / 50 };      /* 2 and 20 us of waking */
    for (unsigned k = 0; k < 2; k++) {
        struct pith_rest r = { .least_tsc = MS / 20, .allowance_tsc = 2 * MS };
        uint64_t t = 0, wakes = 0, busy = 0;
        while (t < 1000 * MS) {
            t += unseen[k];
            uint64_t owed = pith_rest_owed(&r, t, t + MS / 10000);  /* 0.1 us of looking */
            t += MS / 10000 + owed;
            busy += unseen[k] + MS / 10000;
            wakes++;
        }
        CHECK(wakes <= 20000 + 100);        /* a second at 50 us a wake, and the slack */
        CHECK(busy * 2 <= t + 4 * MS);
    }
}

static void rest_odd_clocks(void)
{
    struct pith_rest r = { .least_tsc = 7, .allowance_tsc = UINT64_MAX };
    CHECK_EQ(pith_rest_owed(&r, UINT64_MAX - 5, UINT64_MAX), 0);      /* first call, far away */
    CHECK_EQ(pith_rest_owed(&r, 50, 10), 0);                          /* a clock going back */
    struct pith_rest s = { .least_tsc = 7, .allowance_tsc = 0 };      /* no slack: rest as long */
    CHECK_EQ(pith_rest_owed(&s, 0, 1), 8);                            /*   as charged, rounded up */
    CHECK(pith_rest_owed(&s, 0, UINT64_MAX) > 0);                     /* no wrap to "none" */
    s.credit = INT64_MIN;
    CHECK(pith_rest_owed(&s, 10, 20) > 0);
}

DEVICE_TESTS(rest,
    { "rest_none_for_requests_now_and_then", rest_none_for_requests_now_and_then },
    { "rest_holds_a_busy_server_to_half", rest_holds_a_busy_server_to_half },
    { "rest_after_one_long_burst", rest_after_one_long_burst },
    { "rest_bounds_empty_wakes", rest_bounds_empty_wakes },
    { "rest_odd_clocks", rest_odd_clocks },
)
