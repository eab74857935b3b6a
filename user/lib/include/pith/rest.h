/*
 * A server's rest: the share of its CPU a server that outranks the guests may take.
 *
 * The switch and the storage server run above every VMM and vCPU thread, and their
 * clients decide how much work they get: a VMM on another CPU can refill its ring,
 * post requests back to back or signal without pause.  After each burst of work the
 * server rests at least as long as the burst took (and at least `least_tsc`), waiting
 * on a notification of its own with a deadline, so it never holds more than about
 * half of its CPU and the threads below it there get the rest.  Its clients' signals
 * stay pending meanwhile and are seen when it looks again.
 */
#ifndef PITH_REST_H
#define PITH_REST_H

#include <pith/pith.h>

struct pith_rest {
    pith_cap_t notification;    /* the server's own: nobody else signals it */
    uint64_t least_tsc;         /* the shortest rest, in TSC ticks */
};

/* Rest after a burst that began at TSC `began`. */
void pith_rest_after(const struct pith_rest *r, uint64_t began);

#endif
