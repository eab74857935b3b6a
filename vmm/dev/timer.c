/* The periodic timer (timer.h). */
#include "timer.h"

void periodic_start(struct periodic_timer *t, uint64_t now, uint64_t period)
{
    t->period = period ? period : 1;
    t->next = now + t->period;
}

uint64_t periodic_expire(struct periodic_timer *t, uint64_t now)
{
    if (now < t->next)
        return 0;
    uint64_t periods = (now - t->next) / t->period + 1;
    t->next += periods * t->period;
    return periods;
}
