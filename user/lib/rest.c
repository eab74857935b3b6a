/* A server's rest after a burst of work (pith/rest.h). */
#include <pith/cpu.h>
#include <pith/rest.h>

void pith_rest_after(const struct pith_rest *r, uint64_t began)
{
    uint64_t now = pith_rdtsc(), busy = now > began ? now - began : 0;
    uint64_t until = now + (busy > r->least_tsc ? busy : r->least_tsc);
    while (pith_rdtsc() < until) {
        uint64_t bits;
        if (pith_notification_set_deadline(r->notification, until) != PITH_OK ||
            pith_wait(r->notification, &bits) != PITH_OK)
            return;
    }
}

void pith_rest_over_half(struct pith_rest *r, uint64_t began)
{
    uint64_t now = pith_rdtsc(), owed = pith_rest_owed(r, began, now);
    if (owed)
        pith_rest_after(&(struct pith_rest){ .notification = r->notification, .least_tsc = owed }, now);
}
