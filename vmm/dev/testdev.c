/* The test device (testdev.h). */
#include "testdev.h"

void testdev_reset(struct testdev *t)
{
    *t = (struct testdev){ 0 };
}

/* Does [offset, offset + size) lie inside the one register at `reg`? */
static bool within(uint64_t offset, unsigned size, uint64_t reg)
{
    return offset >= reg && offset + size <= reg + 4;
}

uint64_t testdev_mmio_read(struct testdev *t, uint64_t offset, unsigned size)
{
    t->accesses++;
    uint64_t reg = offset & ~3ull;
    uint32_t value;
    if (!within(offset, size, reg))
        return 0;
    switch (reg) {
    case TESTDEV_REG_ID:
        t->id_reads++;
        value = TESTDEV_ID;
        break;
    case TESTDEV_REG_SCRATCH:
        value = t->scratch;
        break;
    case TESTDEV_REG_ACCESSES:
        value = t->accesses;
        break;
    default:
        return 0;
    }
    unsigned shift = 8 * (unsigned)(offset - reg);
    uint64_t mask = size >= 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
    return (value >> shift) & mask;
}

void testdev_mmio_write(struct testdev *t, uint64_t offset, unsigned size, uint64_t value)
{
    t->accesses++;
    if (!within(offset, size, TESTDEV_REG_SCRATCH))
        return;
    unsigned shift = 8 * (unsigned)(offset - TESTDEV_REG_SCRATCH);
    uint32_t mask = (uint32_t)((size >= 4 ? 0xffffffffull : (1ull << (8 * size)) - 1) << shift);
    t->scratch = (t->scratch & ~mask) | ((uint32_t)(value << shift) & mask);
    t->scratch_writes++;
}

void testdev_port_write(struct testdev *t, uint8_t value)
{
    if (t->verdict_written)         /* the first verdict counts */
        return;
    t->verdict_written = true;
    t->verdict = value;
}

/* ---- The device interface ---------------------------------------------------------- */

static uint64_t port_read(void *dev, uint64_t offset, unsigned size)
{
    (void)dev, (void)offset;
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;       /* nothing to read */
}

static void port_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)offset, (void)size;
    testdev_port_write(dev, (uint8_t)value);
}

static void device_reset(void *dev)
{
    testdev_reset(dev);
}

static uint64_t mmio_read(void *dev, uint64_t offset, unsigned size)
{
    return testdev_mmio_read(dev, offset, size);
}

static void mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    testdev_mmio_write(dev, offset, size, value);
}

const struct device_ops testdev_port_ops = {
    .name = "test device verdict port",
    .read = port_read,
    .write = port_write,
    .reset = device_reset,
};

const struct device_ops testdev_mmio_ops = {
    .name = "test device registers",
    .read = mmio_read,
    .write = mmio_write,
    .reset = device_reset,
};
