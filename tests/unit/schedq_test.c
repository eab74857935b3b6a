/* Ready queues: FIFO per priority, the bitmap, removal from anywhere. */
#include "unit.h"

static struct sched_queues q;
static struct thread threads[8];

static void reset(void)
{
    memset(&q, 0, sizeof(q));
    memset(threads, 0, sizeof(threads));
}

static void empty_has_no_highest(void)
{
    reset();
    CHECK(schedq_highest(&q) == NULL);
}

static void highest_priority_wins(void)
{
    reset();
    threads[0].priority = 3;
    threads[1].priority = 200;
    threads[2].priority = 64;
    for (int i = 0; i < 3; i++)
        schedq_push_back(&q, &threads[i]);
    CHECK(schedq_highest(&q) == &threads[1]);
    schedq_remove(&q, &threads[1]);
    CHECK(schedq_highest(&q) == &threads[2]);
    schedq_remove(&q, &threads[2]);
    CHECK(schedq_highest(&q) == &threads[0]);
}

static void fifo_within_priority(void)
{
    reset();
    for (int i = 0; i < 4; i++) {
        threads[i].priority = 7;
        schedq_push_back(&q, &threads[i]);
    }
    for (int i = 0; i < 4; i++) {
        struct thread *t = schedq_highest(&q);
        CHECK(t == &threads[i]);
        schedq_remove(&q, t);
    }
    CHECK(schedq_highest(&q) == NULL);
    CHECK_EQ(q.bitmap[0], 0);
}

static void push_front_runs_first(void)
{
    reset();
    threads[0].priority = threads[1].priority = 9;
    schedq_push_back(&q, &threads[0]);
    schedq_push_front(&q, &threads[1]);
    CHECK(schedq_highest(&q) == &threads[1]);
}

static void remove_middle(void)
{
    reset();
    for (int i = 0; i < 3; i++) {
        threads[i].priority = 255;
        schedq_push_back(&q, &threads[i]);
    }
    schedq_remove(&q, &threads[1]);
    CHECK(threads[0].qnext == &threads[2]);
    CHECK(threads[2].qprev == &threads[0]);
    CHECK(!threads[1].in_ready_queue);
    CHECK(q.bitmap[3] & (1ull << 63));
}

static void remove_unqueued_is_harmless(void)
{
    reset();
    threads[0].priority = 1;
    schedq_remove(&q, &threads[0]);
    CHECK(schedq_highest(&q) == NULL);
}

static void bitmap_every_priority(void)
{
    reset();
    static struct thread all[256];
    memset(all, 0, sizeof(all));
    for (int p = 0; p < 256; p++) {
        all[p].priority = (uint8_t)p;
        schedq_push_back(&q, &all[p]);
    }
    for (int p = 255; p >= 0; p--) {
        struct thread *t = schedq_highest(&q);
        CHECK(t == &all[p]);
        schedq_remove(&q, t);
    }
    for (int w = 0; w < 4; w++)
        CHECK_EQ(q.bitmap[w], 0);
}

UNIT_TABLE(schedq,
    { "schedq_empty", empty_has_no_highest },
    { "schedq_highest_priority_wins", highest_priority_wins },
    { "schedq_fifo_within_priority", fifo_within_priority },
    { "schedq_push_front", push_front_runs_first },
    { "schedq_remove_middle", remove_middle },
    { "schedq_remove_unqueued", remove_unqueued_is_harmless },
    { "schedq_bitmap_every_priority", bitmap_every_priority },
)
