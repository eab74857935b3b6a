/*
 * The test device: what a test guest uses to prove the VMM works and to report its
 * verdict.
 *   port 0xf4 (write, one byte)  the verdict: 0 pass, anything else fail; the same
 *                                port and convention as QEMU's isa-debug-exit
 *   MMIO at 0xd0000000, 4 KiB, 32-bit little-endian registers, any width and
 *   alignment within one register:
 *     0x0  ID        read-only "PITH" (0x48544950)
 *     0x4  SCRATCH   read-write
 *     0x8  ACCESSES  read-only: MMIO accesses so far, this one included
 * Everything else reads as zero and ignores writes.  Pure.
 */
#ifndef VMM_TESTDEV_H
#define VMM_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"

#define TESTDEV_PORT        0xf4u
#define TESTDEV_MMIO_BASE   0xd0000000ull
#define TESTDEV_MMIO_SIZE   0x1000ull
#define TESTDEV_ID          0x48544950u     /* "PITH" in memory order */

enum testdev_reg {
    TESTDEV_REG_ID = 0x0,
    TESTDEV_REG_SCRATCH = 0x4,
    TESTDEV_REG_ACCESSES = 0x8,
};

struct testdev {
    bool verdict_written;
    uint8_t verdict;
    uint32_t scratch;
    uint32_t accesses;              /* MMIO reads and writes */
    uint32_t id_reads;              /* reads that touched the ID register */
    uint32_t scratch_writes;
};

void testdev_reset(struct testdev *t);
uint64_t testdev_mmio_read(struct testdev *t, uint64_t offset, unsigned size);
void testdev_mmio_write(struct testdev *t, uint64_t offset, unsigned size, uint64_t value);
void testdev_port_write(struct testdev *t, uint8_t value);

/* The port window (one byte at TESTDEV_PORT) and the MMIO window. */
extern const struct device_ops testdev_port_ops;
extern const struct device_ops testdev_mmio_ops;

#endif
