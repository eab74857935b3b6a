/*
 * The PC's MC146818 real-time clock and CMOS memory: index port 0x70 (bit 7 masks
 * NMI), data port 0x71, IRQ 8.  The clock starts from a wall-clock time given at init
 * and runs on guest time: every call takes `now`, nanoseconds of guest time, and the
 * VMM calls rtc_update when rtc_next_event_ns asks, so interrupts arrive on time.
 */
#ifndef VMM_RTC_H
#define VMM_RTC_H

#include "device.h"

#define RTC_NO_EVENT    UINT64_MAX

/* The calendar as the time registers hold it, in binary, 24-hour. */
struct rtc_date {
    uint8_t second, minute, hour, weekday, day, month;
    uint16_t year;              /* with the century */
};

struct rtc {
    uint8_t cmos[128];          /* alarms, registers A and B, and the battery-backed bytes */
    uint8_t index;
    bool nmi_disabled;          /* port 0x70 bit 7, for the VMM to honour */
    uint8_t flags;              /* register C: PF, AF, UF */
    struct rtc_date held;       /* the time while updates are stopped (SET, divider reset) */
    uint64_t base_seconds;      /* while running: seconds since 0000-01-01 before the first update */
    uint64_t divider_start_ns;  /* when the divider chain last left reset */
    uint64_t synced_ns;         /* the flags account for everything up to this time */
    struct irq_line irq8;
    bool irq8_level;
    uint64_t (*clock)(void *ctx);   /* guest time for the device_ops entry points; without
                                       one they see the time of the last access or update */
    void *clock_ctx;
};

extern const struct device_ops rtc_ops;     /* ports 0x70-0x71, offset = port - 0x70 */

/* The host's time at start: `pith.clock=SECONDS` (UTC, since 1970) on a command line,
 * as tools/mkimage.sh puts it on the kernel's and the root task hands it to each VMM;
 * `fallback` when the line has none. */
#define RTC_CLOCK_OPTION "pith.clock="
uint64_t rtc_clock_from_cmdline(const char *cmdline, uint64_t fallback);

/* unix_seconds: the wall-clock time (UTC, seconds since 1970) at guest time now. */
void rtc_init(struct rtc *rtc, uint64_t unix_seconds, uint64_t now, struct irq_line irq8,
              uint64_t (*clock)(void *ctx), void *clock_ctx);

/* Byte access by port number (0x70, 0x71) at guest time now. */
uint8_t rtc_port_read(struct rtc *rtc, uint16_t port, uint64_t now);
void rtc_port_write(struct rtc *rtc, uint16_t port, uint8_t value, uint64_t now);

/* Sets the flags that came due by now and drives IRQ 8 from them. */
void rtc_update(struct rtc *rtc, uint64_t now);

/* When the next enabled interrupt is due (now if overdue), or RTC_NO_EVENT.  Nothing is
 * due while an interrupt waits for the guest to read register C. */
uint64_t rtc_next_event_ns(const struct rtc *rtc, uint64_t now);

/* Fills the memory-size bytes a BIOS would leave for the guest (0x15-0x18, 0x30-0x31,
 * 0x34-0x35, 0x5b-0x5d) and the checksum over 0x10-0x2d. */
void rtc_set_memory_size(struct rtc *rtc, uint64_t bytes_below_4g, uint64_t bytes_above_4g);

#endif
