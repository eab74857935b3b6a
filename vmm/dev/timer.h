/*
 * A periodic guest timer on top of one-shot notification deadlines: the VMM arms the
 * notification for `next`, and when its bit arrives asks how many periods have
 * passed.  The interrupt is edge-like: ticks the guest has not taken yet are merged
 * into one pending interrupt by the caller, as a PIC merges repeated edges on one
 * line.  If the VMM fell more than a period behind, the missed deadlines are skipped
 * instead of being replayed in a burst.  Pure.
 */
#ifndef VMM_TIMER_H
#define VMM_TIMER_H

#include <stdint.h>

struct periodic_timer {
    uint64_t period;                /* TSC ticks */
    uint64_t next;                  /* the next deadline (TSC value) */
};

/* Start: the first deadline is one period after `now`. */
void periodic_start(struct periodic_timer *t, uint64_t now, uint64_t period);

/* The periods that ended by `now` (0 if the deadline is still ahead); moves `next`
 * to the first deadline after `now`. */
uint64_t periodic_expire(struct periodic_timer *t, uint64_t now);

#endif
