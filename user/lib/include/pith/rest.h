/*
 * A server's rest: the share of its CPU a server that outranks the guests may take.
 *
 * The switch and the storage server run above every VMM and vCPU thread, and their
 * clients decide how much work they get: a VMM on another CPU can refill its ring,
 * post requests back to back or signal without pause.  Such a server keeps an account
 * (pith_rest_over_half): it earns half of all the time that passes, up to an
 * allowance, and spends the time it works, each burst at least `least_tsc` (waking it
 * costs more than it sees).  While the account is not overdrawn it goes on at once, so
 * a request that comes now and then is served without delay; once it is, the server
 * rests until the account is even again, waiting on a notification of its own with a
 * deadline, so over any stretch longer than the allowance it holds about half of its
 * CPU at most and the threads below it there get the rest.  Its clients' signals stay
 * pending meanwhile and are seen when it looks again.
 */
#ifndef PITH_REST_H
#define PITH_REST_H

#include <stdint.h>
#include <pith/pith.h>

struct pith_rest {
    pith_cap_t notification;    /* the server's own: nobody else signals it */
    uint64_t least_tsc;         /* the shortest rest; pith_rest_over_half: the least a
                                 * burst is charged, TSC ticks */
    uint64_t allowance_tsc;     /* pith_rest_over_half: the most the account holds */
    int64_t credit;             /*   the account, TSC ticks (below 0: overdrawn) */
    uint64_t accounted;         /*   the TSC it was brought up to date at */
};

/* Rest after a burst that began at TSC `began`: at least as long as the burst took
 * (and at least `least_tsc`), whatever came before. */
void pith_rest_after(const struct pith_rest *r, uint64_t began);

/* Rest after a burst from `began` only as far as the account (above) is overdrawn. */
void pith_rest_over_half(struct pith_rest *r, uint64_t began);

/* The account brought up to `now` after a burst from `began`: how long to rest (TSC
 * ticks; 0: none).  The time since the last call up to `began` earns half of itself
 * (up to the allowance); the burst spends half of itself net (it is time that passes
 * too), and at least `least_tsc` whatever it took, since waking the server costs the
 * kernel and the CPU more than the server sees; a burst longer than 500 allowances is
 * taken for a jump of the clock.  Resting as long as owed earns the account back to
 * even. */
static inline uint64_t pith_rest_owed(struct pith_rest *r, uint64_t began, uint64_t now)
{
    const int64_t floor = INT64_MIN / 4;        /* no sum below can wrap */
    int64_t allowance = r->allowance_tsc < (uint64_t)INT64_MAX / 1024 ? (int64_t)r->allowance_tsc
                                                                      : INT64_MAX / 1024;
    uint64_t start = began < now ? began : now;
    uint64_t idle = start > r->accounted ? (start - r->accounted) / 2 : 0;
    uint64_t burst = now - start;
    if (burst < r->least_tsc)
        burst = r->least_tsc;
    if (allowance && burst > 500 * (uint64_t)allowance)
        burst = 500 * (uint64_t)allowance;
    burst = (burst + 1) / 2;
    int64_t credit = r->credit < floor ? floor : r->credit > allowance ? allowance : r->credit;
    credit = idle >= (uint64_t)(allowance - credit) ? allowance : credit + (int64_t)idle;
    credit -= burst >= (uint64_t)(credit - floor) ? credit - floor : (int64_t)burst;
    r->credit = credit;
    r->accounted = now;
    return credit >= 0 ? 0 : 2 * (uint64_t)-credit;
}

#endif
