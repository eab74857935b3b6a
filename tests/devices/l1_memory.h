/* The fake L1 memory the nested walkers' tests build their structures in
 * (ept_walk_test.c, npt_walk_test.c): L1-physical 0 .. L1_SIZE is RAM, l1_read and
 * l1_write are the walker's callbacks (ctx unused; an access outside RAM fails),
 * `writes` counts the walker's writes, and put and get reach an 8-byte entry directly.
 * l1_clear empties it before each test; l1_four_levels lays out the four-level path
 * both walkers' tests start from.  Each test file includes it once and gets its own
 * copy. */
#ifndef L1_MEMORY_H
#define L1_MEMORY_H

#include "harness.h"

#define L1_SIZE 0x40000u                /* L1-physical 0 .. 256 KiB is RAM */

static uint8_t l1[L1_SIZE];
static unsigned writes;

static bool l1_read(void *ctx, uint64_t a, void *buf, size_t n)
{
    (void)ctx;
    if (a >= L1_SIZE || n > L1_SIZE - a)
        return false;
    memcpy(buf, l1 + a, n);
    return true;
}

static bool l1_write(void *ctx, uint64_t a, const void *buf, size_t n)
{
    (void)ctx;
    if (a >= L1_SIZE || n > L1_SIZE - a)
        return false;
    memcpy(l1 + a, buf, n);
    writes++;
    return true;
}

static void l1_clear(void)
{
    memset(l1, 0, sizeof(l1));
    writes = 0;
}

static void put(uint64_t a, uint64_t v) { memcpy(l1 + a, &v, 8); }
static uint64_t get(uint64_t a) { uint64_t v; memcpy(&v, l1 + a, 8); return v; }

/* L2-physical L2_ADDR -> PML4[0] PDPT[1] PD[1] PT[1], the structures at 0x1000 (PML4),
 * 0x2000, 0x3000 and 0x4000, each non-leaf entry with table_bits, the leaf mapping
 * 0x9000 with leaf_bits. */
#define L2_ADDR 0x40201234ull
static void l1_four_levels(uint64_t table_bits, uint64_t leaf_bits)
{
    put(0x1000, 0x2000 | table_bits);
    put(0x2000 + 1 * 8, 0x3000 | table_bits);
    put(0x3000 + 1 * 8, 0x4000 | table_bits);
    put(0x4000 + 1 * 8, 0x9000 | leaf_bits);
}

#endif
