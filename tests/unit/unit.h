/* Host unit tests of the kernel's pure logic, run under ASan and UBSan. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>
#include "kernel.h"

struct unit_case {
    const char *name;
    void (*fn)(void);
};

/* Set by CHECK when a condition fails; the first message is kept. */
extern int unit_failed;
extern char unit_why[256];

#define CHECK(cond) do { \
        if (!(cond) && !unit_failed) { \
            unit_failed = 1; \
            snprintf(unit_why, sizeof(unit_why), "%s:%d: %s", __FILE__, __LINE__, #cond); \
        } \
    } while (0)

#define CHECK_EQ(a, b) do { \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b); \
        if (va_ != vb_ && !unit_failed) { \
            unit_failed = 1; \
            snprintf(unit_why, sizeof(unit_why), "%s:%d: %s == %llu, expected %llu", \
                     __FILE__, __LINE__, #a, va_, vb_); \
        } \
    } while (0)

#define UNIT_GROUP(name) extern const struct unit_case name##_cases[]; extern const unsigned name##_count;
UNIT_GROUP(cap)
UNIT_GROUP(schedq)
UNIT_GROUP(deadline)
UNIT_GROUP(bootmem)
UNIT_GROUP(multiboot1)
UNIT_GROUP(acpi)
UNIT_GROUP(untyped)
UNIT_GROUP(bulk)
UNIT_GROUP(message)
UNIT_GROUP(uart16550)
UNIT_GROUP(vmm)
UNIT_GROUP(guest_state)

#define UNIT_TABLE(name, ...) \
    const struct unit_case name##_cases[] = { __VA_ARGS__ }; \
    const unsigned name##_count = sizeof(name##_cases) / sizeof(name##_cases[0]);

/* Recorded by the stubs of the kernel callbacks (stubs.c). */
extern unsigned destroyed_count;
extern struct cap destroyed_last;
extern unsigned slot_cleared_count;
extern unsigned preempt_after, preempt_visits;
extern unsigned waiters_woken;
extern struct thread **waiter_queue;

#endif
