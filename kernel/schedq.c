/*
 * Ready queues: one FIFO per priority and a bitmap of the non-empty ones, so the
 * highest runnable priority is found with two bit scans (Benno scheduling: only
 * runnable threads are ever queued).  Pure logic, also built for the host tests.
 */
#include "kernel.h"

static void bitmap_set(struct sched_queues *q, unsigned p)
{
    q->bitmap[p >> 6] |= BIT(p & 63);
    q->summary |= BIT(p >> 6);
}

static void bitmap_clear(struct sched_queues *q, unsigned p)
{
    q->bitmap[p >> 6] &= ~BIT(p & 63);
    if (!q->bitmap[p >> 6])
        q->summary &= ~BIT(p >> 6);
}

void schedq_push_back(struct sched_queues *q, struct thread *t)
{
    unsigned p = t->priority;
    t->qnext = NULL;
    t->qprev = q->tail[p];
    if (q->tail[p])
        q->tail[p]->qnext = t;
    else
        q->head[p] = t;
    q->tail[p] = t;
    t->in_ready_queue = 1;
    bitmap_set(q, p);
}

void schedq_push_front(struct sched_queues *q, struct thread *t)
{
    unsigned p = t->priority;
    t->qprev = NULL;
    t->qnext = q->head[p];
    if (q->head[p])
        q->head[p]->qprev = t;
    else
        q->tail[p] = t;
    q->head[p] = t;
    t->in_ready_queue = 1;
    bitmap_set(q, p);
}

void schedq_remove(struct sched_queues *q, struct thread *t)
{
    if (!t->in_ready_queue)
        return;
    unsigned p = t->priority;
    if (t->qprev)
        t->qprev->qnext = t->qnext;
    else
        q->head[p] = t->qnext;
    if (t->qnext)
        t->qnext->qprev = t->qprev;
    else
        q->tail[p] = t->qprev;
    t->qnext = t->qprev = NULL;
    t->in_ready_queue = 0;
    if (!q->head[p])
        bitmap_clear(q, p);
}

struct thread *schedq_highest(const struct sched_queues *q)
{
    if (!q->summary)
        return NULL;
    unsigned w = 63 - (unsigned)__builtin_clzll(q->summary);
    return q->head[w * 64 + 63 - (unsigned)__builtin_clzll(q->bitmap[w])];
}
