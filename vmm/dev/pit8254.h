/*
 * The PC's 8254 interval timer at ports 0x40-0x43 and the speaker/gate port 0x61.
 * Channel 0 drives IRQ 0, channel 2 the speaker and bit 5 of port 0x61; channel 1
 * (DRAM refresh once) only counts.  The counters follow guest time: every call takes
 * `now`, nanoseconds of guest time, and the VMM calls pit_update at the time
 * pit_next_event_ns asks for, so channel 0's edges reach the interrupt controller.
 */
#ifndef VMM_PIT8254_H
#define VMM_PIT8254_H

#include "device.h"

#define PIT_HZ          1193182u
#define PIT_NO_EVENT    UINT64_MAX

struct pit_channel {
    uint8_t mode;               /* 0-5 */
    uint8_t access;             /* RW1-RW0: 1 LSB only, 2 MSB only, 3 LSB then MSB */
    bool bcd;
    uint8_t control;            /* RW, M and BCD bits, as read-back status reports them */
    uint32_t count;             /* the count register as clocks (0 written = 65536/10000), 0 if unwritten */
    uint32_t initial;           /* the count the running cycle started from */
    bool armed;                 /* a cycle is under way: loaded, and in modes 1 and 5 triggered */
    bool counting;              /* the counting element is decrementing now */
    bool gate;
    bool null_count;            /* a count written that has not started a cycle */
    uint64_t start_ns;          /* guest time when counting last (re)started */
    uint64_t ticks_before;      /* clocks counted in this cycle before start_ns */
    uint64_t edges_delivered;   /* rising edges of OUT this cycle already sent on */
    uint8_t lsb_written;
    bool write_msb_next;
    bool read_msb_next;
    uint16_t latched_count;
    bool count_latched;
    bool latch_msb_next;
    uint8_t latched_status;
    bool status_latched;
};

struct pit {
    struct pit_channel channel[3];
    uint8_t port61;             /* bits 0-3 as written */
    struct irq_line irq0;
    bool irq0_level;
    uint64_t updated_ns;            /* the last pit_update */
    uint64_t (*clock)(void *ctx);   /* guest time for the device_ops entry points; without
                                       one they see the time of the last pit_update */
    void *clock_ctx;
};

extern const struct device_ops pit_ops;         /* ports 0x40-0x43, offset = port - 0x40 */
extern const struct device_ops pit_port61_ops;  /* port 0x61, offset 0 */

void pit_init(struct pit *pit, struct irq_line irq0, uint64_t (*clock)(void *ctx), void *clock_ctx);

/* Byte access by port number (0x40-0x43, 0x61) at guest time now. */
uint8_t pit_port_read(struct pit *pit, uint16_t port, uint64_t now);
void pit_port_write(struct pit *pit, uint16_t port, uint8_t value, uint64_t now);

/* Brings IRQ 0 up to date: one rising edge for any number of periods that ended since
 * the last call (missed ticks are merged, not queued), then OUT's present level. */
void pit_update(struct pit *pit, uint64_t now);

/* When channel 0's next rising edge is due (now if one is overdue), or PIT_NO_EVENT. */
uint64_t pit_next_event_ns(const struct pit *pit, uint64_t now);

#endif
