/* The driver's side of split virtqueues in a device test's guest RAM: the test file
 * defines `mem` (its RAM) and RING_PFN (queue q's ring at page RING_PFN + 2q, used ring
 * one page after it) before including this. */
#ifndef VIRTQ_DRIVER_H
#define VIRTQ_DRIVER_H

static uint64_t ring(unsigned q) { return (uint64_t)(RING_PFN + 2 * q) * 4096; }
static uint64_t avail(unsigned q) { return ring(q) + 16 * VIRTIO_QUEUE_SIZE; }
static uint64_t used(unsigned q) { return ring(q) + 4096; }   /* avail ends before 4 KiB */

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = mem + ring(q) + 16 * i;
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static void make_available(unsigned q, uint16_t head)
{
    uint16_t idx;
    memcpy(&idx, mem + avail(q) + 2, 2);
    memcpy(mem + avail(q) + 4 + 2 * (idx % VIRTIO_QUEUE_SIZE), &head, 2);
    idx++;
    memcpy(mem + avail(q) + 2, &idx, 2);
}

static uint16_t used_idx(unsigned q) { uint16_t v; memcpy(&v, mem + used(q) + 2, 2); return v; }
static uint32_t used_len(unsigned q, unsigned i) { uint32_t v; memcpy(&v, mem + used(q) + 4 + 8 * i + 4, 4); return v; }

#endif
