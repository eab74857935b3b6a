/* A server's rest after a burst of work (pith/rest.h). */
#include <pith/cpu.h>
#include <pith/rest.h>

void pith_rest_after(const struct pith_rest *r, uint64_t began)
{
    uint64_t now = pith_rdtsc();
    uint64_t until = now + pith_rest_length(r, now > began ? now - began : 0);
    while (pith_rdtsc() < until) {
        uint64_t bits;
        if (pith_notification_set_deadline(r->notification, until) != PITH_OK ||
            pith_wait(r->notification, &bits) != PITH_OK)
            return;
    }
}
