/*
 * The kernel the gdb suite debugs (tests/gdb.py): it counts in `counter` and calls
 * `tick` on every round, forever, until the debugger sets `counter` to GOAL or more: on
 * its own it starts again from 0 one short of GOAL, so a slow debugger never finds it gone.
 * Then it says so on COM1 and ends through isa-debug-exit with counter - GOAL, so the
 * test sees the value the debugger wrote after the debugger has gone.
 */
#include <stdint.h>

#define COM1        0x3f8
#define DEBUG_EXIT  0xf4
#define GOAL        1000000000u

volatile uint32_t counter;
volatile uint32_t ticks;
/* DR0, DR1 and DR7 as the guest reads them each round, before tick: the test sees
 * what a debugger's hardware breakpoints put there, and that they go again. */
volatile uint32_t seen_dr0, seen_dr1, seen_dr7;
volatile uint32_t tocks;

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void put(const char *s)
{
    for (; *s; s++) {
        while (!(inb(COM1 + 5) & 0x20))
            ;
        outb(COM1, (uint8_t)*s);
    }
}

static void put_decimal(uint32_t v)
{
    char digits[11];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char s[2] = { 0 };
    while (n) {
        s[0] = digits[--n];
        put(s);
    }
}

__attribute__((noinline)) void tick(void)
{
    ticks = ticks + 1;
}

/* Called before tick each round: a place for a software breakpoint next to a
 * hardware one (an emulator that ignores the hardware one still stops here). */
__attribute__((noinline)) void tock(void)
{
    tocks = tocks + 1;
}

static void look_at_debug_registers(void)
{
    uint32_t dr0, dr1, dr7;
    __asm__ volatile("mov %%dr0, %0" : "=r"(dr0));
    __asm__ volatile("mov %%dr1, %0" : "=r"(dr1));
    __asm__ volatile("mov %%dr7, %0" : "=r"(dr7));
    seen_dr0 = dr0, seen_dr1 = dr1, seen_dr7 = dr7;
}

void gdb_test_main(void)
{
    put("gdb-test: counting\n");
    for (;;) {
        counter = counter + 1;
        look_at_debug_registers();
        tock();
        tick();
        if (counter >= GOAL) {
            put("gdb-test: counter is ");
            put_decimal(counter);
            put("\n");
            outb(DEBUG_EXIT, (uint8_t)(counter - GOAL));
        }
        if (counter == GOAL - 1)
            counter = 0;
    }
}
