/* The MC146818 RTC: time in BCD, binary and 12-hour formats, the calendar rolling
 * over, the periodic, update-ended and alarm interrupts with their wake-up times,
 * register C, UIP, setting the clock the way Linux does, divider reset, and CMOS. */
#include "harness.h"
#include "dev/rtc.h"

#define MS 1000000ull
#define S 1000000000ull

#define LEAP_DAY_AFTERNOON  1709214356ull   /* Thu 2024-02-29 13:45:56 UTC */
#define LAST_SECOND_OF_2023 1704067199ull   /* Sun 2023-12-31 23:59:59 UTC */
#define END_OF_JANUARY      1706688000ull   /* Wed 2024-01-31 08:00:00 UTC */

struct edge_probe {
    bool level;
    unsigned rises;
};

static void probe_set(void *ctx, unsigned line, bool level)
{
    struct edge_probe *p = ctx;
    (void)line;
    if (level && !p->level)
        p->rises++;
    p->level = level;
}

static struct edge_probe probe;

static void setup(struct rtc *rtc, uint64_t unix_seconds, uint64_t now)
{
    probe = (struct edge_probe){ 0 };
    rtc_init(rtc, unix_seconds, now, (struct irq_line){ probe_set, &probe, 8 }, NULL, NULL);
}

static uint8_t cmos_read(struct rtc *rtc, uint8_t index, uint64_t now)
{
    rtc_port_write(rtc, 0x70, index, now);
    return rtc_port_read(rtc, 0x71, now);
}

static void cmos_write(struct rtc *rtc, uint8_t index, uint8_t value, uint64_t now)
{
    rtc_port_write(rtc, 0x70, index, now);
    rtc_port_write(rtc, 0x71, value, now);
}

static void bcd_time_of_a_known_date(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    CHECK_EQ(cmos_read(&rtc, 0x00, 0), 0x56);
    CHECK_EQ(cmos_read(&rtc, 0x02, 0), 0x45);
    CHECK_EQ(cmos_read(&rtc, 0x04, 0), 0x13);
    CHECK_EQ(cmos_read(&rtc, 0x06, 0), 5);          /* Thursday; Sunday is 1 */
    CHECK_EQ(cmos_read(&rtc, 0x07, 0), 0x29);
    CHECK_EQ(cmos_read(&rtc, 0x08, 0), 0x02);
    CHECK_EQ(cmos_read(&rtc, 0x09, 0), 0x24);
    CHECK_EQ(cmos_read(&rtc, 0x32, 0), 0x20);
    CHECK_EQ(cmos_read(&rtc, 0x0a, 0), 0x26);       /* 32.768 kHz, 1024 Hz */
    CHECK_EQ(cmos_read(&rtc, 0x0b, 0), 0x02);       /* BCD, 24 hours */
    CHECK_EQ(cmos_read(&rtc, 0x0d, 0), 0x80);       /* VRT */
}

static void binary_and_twelve_hour_formats(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    cmos_write(&rtc, 0x0b, 0x04, 0);                /* binary, 12 hours */
    CHECK_EQ(cmos_read(&rtc, 0x00, 0), 56);
    CHECK_EQ(cmos_read(&rtc, 0x04, 0), 0x80 | 1);   /* 1 PM */
    CHECK_EQ(cmos_read(&rtc, 0x09, 0), 24);
    cmos_write(&rtc, 0x0b, 0x00, 0);                /* BCD, 12 hours */
    CHECK_EQ(cmos_read(&rtc, 0x04, 0), 0x81);
    cmos_write(&rtc, 0x04, 0x12, 0);                /* 12 AM is midnight */
    cmos_write(&rtc, 0x0b, 0x02, 0);
    CHECK_EQ(cmos_read(&rtc, 0x04, 0), 0x00);
    CHECK_EQ(cmos_read(&rtc, 0x07, 0), 0x29);
}

static void calendar_rolls_into_the_new_year(void)
{
    struct rtc rtc;
    uint64_t t0 = 40 * MS;
    setup(&rtc, LAST_SECOND_OF_2023, t0);
    CHECK_EQ(cmos_read(&rtc, 0x06, t0), 1);
    CHECK_EQ(cmos_read(&rtc, 0x00, t0 + 499 * MS), 0x59);  /* first update: half a second */
    uint64_t t = t0 + 500 * MS;
    CHECK_EQ(cmos_read(&rtc, 0x00, t), 0x00);
    CHECK_EQ(cmos_read(&rtc, 0x02, t), 0x00);
    CHECK_EQ(cmos_read(&rtc, 0x04, t), 0x00);
    CHECK_EQ(cmos_read(&rtc, 0x06, t), 2);
    CHECK_EQ(cmos_read(&rtc, 0x07, t), 0x01);
    CHECK_EQ(cmos_read(&rtc, 0x08, t), 0x01);
    CHECK_EQ(cmos_read(&rtc, 0x09, t), 0x24);
    t += 3600 * S + 2 * S;                          /* then one a second */
    CHECK_EQ(cmos_read(&rtc, 0x04, t), 0x01);
    CHECK_EQ(cmos_read(&rtc, 0x00, t), 0x02);
}

/* Linux's rtc-cmos with a periodic rate of 1024 Hz (register A rate 6): each tick sets
 * PF and raises IRQ 8, and the handler's read of register C lowers it. */
static void periodic_interrupt_1024hz(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    cmos_write(&rtc, 0x0a, 0x26, 0);
    CHECK_EQ(rtc_next_event_ns(&rtc, 0), RTC_NO_EVENT);   /* PIE is off */
    cmos_write(&rtc, 0x0b, 0x42, 0);
    uint64_t due = rtc_next_event_ns(&rtc, 0);
    CHECK_EQ(due, 976563);                          /* 1/1024 s, rounded up */
    rtc_update(&rtc, due - 1);
    CHECK(!probe.level);
    unsigned ticks = 0;
    while (due < S) {
        rtc_update(&rtc, due);
        CHECK(probe.level);
        CHECK_EQ(rtc_next_event_ns(&rtc, due), RTC_NO_EVENT);   /* until C is read */
        CHECK_EQ(cmos_read(&rtc, 0x0c, due) & 0xc0, 0xc0);
        CHECK(!probe.level);
        ticks++;
        due = rtc_next_event_ns(&rtc, due);
    }
    CHECK_EQ(ticks, 1023);
    CHECK_EQ(due, S);
    CHECK_EQ(probe.rises, 1023);
}

static void register_c_clears_on_read(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    uint8_t c = cmos_read(&rtc, 0x0c, 600 * MS);    /* nothing enabled */
    CHECK_EQ(c, 0x40 | 0x10);                       /* PF and UF, but no IRQF */
    CHECK_EQ(cmos_read(&rtc, 0x0c, 600 * MS), 0);
    CHECK_EQ(probe.rises, 0);
    cmos_write(&rtc, 0x0b, 0x12, 600 * MS);         /* UIE */
    CHECK_EQ(cmos_read(&rtc, 0x0c, 1400 * MS) & 0x90, 0);
    CHECK_EQ(cmos_read(&rtc, 0x0c, 1500 * MS) & 0x90, 0x90);
    CHECK_EQ(probe.rises, 1);
}

static void flag_already_set_raises_on_enable(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    rtc_update(&rtc, 2 * MS);                       /* PF set with PIE off */
    CHECK(!probe.level);
    cmos_write(&rtc, 0x0b, 0x42, 2 * MS);
    CHECK(probe.level);
}

static void update_ended_interrupt_once_a_second(void)
{
    struct rtc rtc;
    uint64_t t0 = 123 * MS;
    setup(&rtc, LEAP_DAY_AFTERNOON, t0);
    cmos_write(&rtc, 0x0a, 0x20, t0);               /* no periodic rate */
    cmos_write(&rtc, 0x0b, 0x12, t0);
    uint64_t due = rtc_next_event_ns(&rtc, t0);
    CHECK_EQ(due, t0 + 500 * MS);
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(due, t0 + 500 * MS + i * S);
        rtc_update(&rtc, due);
        CHECK_EQ(probe.rises, i + 1);
        CHECK_EQ(cmos_read(&rtc, 0x0c, due), 0x90);
        CHECK_EQ(cmos_read(&rtc, 0x00, due), 0x57 + i);
        due = rtc_next_event_ns(&rtc, due);
    }
}

static void alarm_interrupt(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);             /* 13:45:56 */
    cmos_write(&rtc, 0x0a, 0x20, 0);
    cmos_write(&rtc, 0x01, 0x10, 0);
    cmos_write(&rtc, 0x03, 0x46, 0);
    cmos_write(&rtc, 0x05, 0x13, 0);                /* 13:46:10, fourteen seconds on */
    cmos_write(&rtc, 0x0b, 0x22, 0);
    uint64_t due = rtc_next_event_ns(&rtc, 0);
    CHECK_EQ(due, 500 * MS + 13 * S);
    rtc_update(&rtc, due - 1);
    CHECK(!probe.level);
    rtc_update(&rtc, due);
    CHECK(probe.level);
    CHECK_EQ(cmos_read(&rtc, 0x0c, due), 0x80 | 0x20 | 0x10);
    CHECK_EQ(rtc_next_event_ns(&rtc, due), due + 86400 * S);   /* tomorrow */
    cmos_write(&rtc, 0x01, 0xc0, due);              /* don't care: every second */
    cmos_write(&rtc, 0x03, 0xff, due);
    cmos_write(&rtc, 0x05, 0xc0, due);
    CHECK_EQ(rtc_next_event_ns(&rtc, due), due + S);
}

static void alarm_seen_after_a_long_sleep(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    cmos_write(&rtc, 0x01, 0x00, 0);
    cmos_write(&rtc, 0x03, 0x00, 0);
    cmos_write(&rtc, 0x05, 0x09, 0);                /* 09:00:00 */
    CHECK_EQ(cmos_read(&rtc, 0x0c, 10 * 3600 * S) & 0x20, 0);      /* 23:45 */
    CHECK_EQ(cmos_read(&rtc, 0x0c, 20 * 3600 * S) & 0x20, 0x20);   /* 09:45 next day */
}

static void uip_before_each_update(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    CHECK_EQ(cmos_read(&rtc, 0x0a, 500 * MS - 245000) & 0x80, 0);
    CHECK_EQ(cmos_read(&rtc, 0x0a, 500 * MS - 244000) & 0x80, 0x80);
    CHECK_EQ(cmos_read(&rtc, 0x00, 500 * MS - 1), 0x56);
    CHECK_EQ(cmos_read(&rtc, 0x0a, 500 * MS) & 0x80, 0);
    CHECK_EQ(cmos_read(&rtc, 0x00, 500 * MS), 0x57);
    cmos_write(&rtc, 0x0a, 0xa6, 500 * MS);         /* UIP is read-only */
    CHECK_EQ(cmos_read(&rtc, 0x0a, 500 * MS), 0x26);
    cmos_write(&rtc, 0x0b, 0x82, 1500 * MS - 1000);
    CHECK_EQ(cmos_read(&rtc, 0x0a, 1500 * MS - 1000) & 0x80, 0);   /* SET clears it */
}

/* drivers/rtc/rtc-mc146818-lib.c, mc146818_set_time: SET, divider reset, the fields
 * from year down to seconds, then B and A restored.  Month before day must work from
 * the 31st into February. */
static void linux_sets_the_time(void)
{
    struct rtc rtc;
    setup(&rtc, END_OF_JANUARY, 0);
    uint64_t t = 3 * S;
    uint8_t b = cmos_read(&rtc, 0x0b, t);
    uint8_t a = cmos_read(&rtc, 0x0a, t);
    cmos_write(&rtc, 0x0b, b | 0x80, t);
    cmos_write(&rtc, 0x0a, a | 0x70, t);
    cmos_write(&rtc, 0x09, 0x25, t);
    cmos_write(&rtc, 0x08, 0x02, t);
    cmos_write(&rtc, 0x07, 0x15, t);
    cmos_write(&rtc, 0x04, 0x21, t);
    cmos_write(&rtc, 0x02, 0x30, t);
    cmos_write(&rtc, 0x00, 0x05, t);
    t += 5 * S;                                     /* held while SET */
    CHECK_EQ(cmos_read(&rtc, 0x07, t), 0x15);
    CHECK_EQ(cmos_read(&rtc, 0x00, t), 0x05);
    cmos_write(&rtc, 0x0b, b, t);
    cmos_write(&rtc, 0x0a, a, t);
    CHECK_EQ(cmos_read(&rtc, 0x00, t + 499 * MS), 0x05);
    CHECK_EQ(cmos_read(&rtc, 0x00, t + 500 * MS), 0x06);
    CHECK_EQ(cmos_read(&rtc, 0x08, t + S), 0x02);
    CHECK_EQ(cmos_read(&rtc, 0x07, t + S), 0x15);
    CHECK_EQ(cmos_read(&rtc, 0x09, t + S), 0x25);
    CHECK_EQ(cmos_read(&rtc, 0x06, t + S), 7);      /* 2025-02-15 is a Saturday */
    CHECK_EQ(cmos_read(&rtc, 0x04, t + S), 0x21);
}

static void set_bit_clears_uie_and_stops_updates(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    cmos_write(&rtc, 0x0b, 0x92, 0);
    CHECK_EQ(cmos_read(&rtc, 0x0b, 0), 0x82);
    CHECK_EQ(cmos_read(&rtc, 0x0c, 5 * S) & 0x10, 0);      /* no update, no UF */
    CHECK_EQ(cmos_read(&rtc, 0x00, 5 * S), 0x56);
    cmos_write(&rtc, 0x0b, 0x02, 5 * S + 200 * MS);
    CHECK_EQ(cmos_read(&rtc, 0x00, 5 * S + 499 * MS), 0x56);   /* the divider kept its phase */
    CHECK_EQ(cmos_read(&rtc, 0x00, 5 * S + 500 * MS), 0x57);
}

static void nmi_mask_and_cmos_bytes(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    rtc_port_write(&rtc, 0x70, 0x8f, 0);
    CHECK(rtc.nmi_disabled);
    CHECK_EQ(rtc_port_read(&rtc, 0x70, 0), 0xff);
    rtc_port_write(&rtc, 0x71, 0x5a, 0);
    CHECK_EQ(cmos_read(&rtc, 0x0f, 0), 0x5a);
    CHECK(!rtc.nmi_disabled);
    cmos_write(&rtc, 0x7f, 0xa5, 0);
    CHECK_EQ(cmos_read(&rtc, 0x7f, 0), 0xa5);
    cmos_write(&rtc, 0x0d, 0x00, 0);
    CHECK_EQ(cmos_read(&rtc, 0x0d, 0), 0x80);       /* read-only */
}

static void memory_size_bytes(void)
{
    struct rtc rtc;
    setup(&rtc, LEAP_DAY_AFTERNOON, 0);
    rtc_set_memory_size(&rtc, 2ull << 30, 4ull << 30);
    CHECK_EQ(cmos_read(&rtc, 0x15, 0) | cmos_read(&rtc, 0x16, 0) << 8, 640);
    CHECK_EQ(cmos_read(&rtc, 0x17, 0) | cmos_read(&rtc, 0x18, 0) << 8, 0xffff);
    CHECK_EQ(cmos_read(&rtc, 0x30, 0) | cmos_read(&rtc, 0x31, 0) << 8, 0xffff);
    CHECK_EQ(cmos_read(&rtc, 0x34, 0) | cmos_read(&rtc, 0x35, 0) << 8, 0x7f00);
    CHECK_EQ(cmos_read(&rtc, 0x5b, 0), 0x00);
    CHECK_EQ(cmos_read(&rtc, 0x5c, 0), 0x00);
    CHECK_EQ(cmos_read(&rtc, 0x5d, 0), 0x01);       /* 4 GiB in 64 KiB units */
    unsigned sum = 0;
    for (uint8_t i = 0x10; i <= 0x2d; i++)
        sum += cmos_read(&rtc, i, 0);
    CHECK_EQ(cmos_read(&rtc, 0x2e, 0) << 8 | cmos_read(&rtc, 0x2f, 0), sum);
    rtc_set_memory_size(&rtc, 8ull << 20, 0);
    CHECK_EQ(cmos_read(&rtc, 0x17, 0) | cmos_read(&rtc, 0x18, 0) << 8, 7 * 1024);
    CHECK_EQ(cmos_read(&rtc, 0x34, 0) | cmos_read(&rtc, 0x35, 0) << 8, 0);
    CHECK_EQ(cmos_read(&rtc, 0x5d, 0), 0);
}

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static void device_ops_and_reset(void)
{
    struct rtc rtc;
    probe = (struct edge_probe){ 0 };
    rtc_init(&rtc, LEAP_DAY_AFTERNOON, 0, (struct irq_line){ probe_set, &probe, 8 },
             fake_clock, NULL);
    fake_now = 2 * S;
    rtc_ops.write(&rtc, 0, 1, 0x00);
    CHECK_EQ(rtc_ops.read(&rtc, 1, 1), 0x58);
    rtc_ops.write(&rtc, 0, 2, 0x7a0b);               /* index and data in one outw */
    CHECK(probe.level);                             /* PF and UF were pending */
    rtc_ops.reset(&rtc);
    CHECK(!probe.level);
    CHECK_EQ(rtc_ops.read(&rtc, 1, 1), 0x02);       /* enables and SQWE cleared, formats kept */
    rtc_ops.write(&rtc, 0, 1, 0x00);
    CHECK_EQ(rtc_ops.read(&rtc, 1, 1), 0x58);       /* the time survives */
    fake_now = 0;
}

static void clock_from_cmdline(void)
{
    CHECK_EQ(rtc_clock_from_cmdline("pith.clock=1780000000", 7), 1780000000);
    CHECK_EQ(rtc_clock_from_cmdline("wall pith.clock=42 x=1", 7), 42);
    CHECK_EQ(rtc_clock_from_cmdline("xpith.clock=42", 7), 7);          /* not a word of its own */
    CHECK_EQ(rtc_clock_from_cmdline("pith.clock=12ab", 7), 7);         /* not a number */
    CHECK_EQ(rtc_clock_from_cmdline("pith.clock=", 7), 7);
    CHECK_EQ(rtc_clock_from_cmdline("", 7), 7);
    CHECK_EQ(rtc_clock_from_cmdline(NULL, 7), 7);
}

DEVICE_TESTS(rtc,
    { "rtc_clock_from_cmdline", clock_from_cmdline },
    { "rtc_bcd_time_of_a_known_date", bcd_time_of_a_known_date },
    { "rtc_binary_and_twelve_hour_formats", binary_and_twelve_hour_formats },
    { "rtc_calendar_rolls_into_the_new_year", calendar_rolls_into_the_new_year },
    { "rtc_periodic_interrupt_1024hz", periodic_interrupt_1024hz },
    { "rtc_register_c_clears_on_read", register_c_clears_on_read },
    { "rtc_flag_already_set_raises_on_enable", flag_already_set_raises_on_enable },
    { "rtc_update_ended_interrupt_once_a_second", update_ended_interrupt_once_a_second },
    { "rtc_alarm_interrupt", alarm_interrupt },
    { "rtc_alarm_seen_after_a_long_sleep", alarm_seen_after_a_long_sleep },
    { "rtc_uip_before_each_update", uip_before_each_update },
    { "rtc_linux_sets_the_time", linux_sets_the_time },
    { "rtc_set_bit_clears_uie_and_stops_updates", set_bit_clears_uie_and_stops_updates },
    { "rtc_nmi_mask_and_cmos_bytes", nmi_mask_and_cmos_bytes },
    { "rtc_memory_size_bytes", memory_size_bytes },
    { "rtc_device_ops_and_reset", device_ops_and_reset },
)
