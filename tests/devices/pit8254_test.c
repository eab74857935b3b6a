/* The 8254: Linux's TSC calibration on channel 2, the periodic and one-shot tick on
 * channel 0 with its wake-up times, latches, read-back, modes 1 and 3, the gate,
 * BCD counting, and port 0x61. */
#include "harness.h"
#include "dev/pit8254.h"

#define MS 1000000ull

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
static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static void setup(struct pit *pit)
{
    probe = (struct edge_probe){ 0 };
    pit_init(pit, (struct irq_line){ probe_set, &probe, 0 }, fake_clock, NULL);
}

/* The nanoseconds 1.193182 MHz needs for `ticks`, rounded up. */
static uint64_t ticks_ns(uint64_t ticks)
{
    return (ticks * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

static uint16_t read_word(struct pit *pit, uint16_t port, uint64_t now)
{
    uint8_t lsb = pit_port_read(pit, port, now);
    return (uint16_t)(lsb | pit_port_read(pit, port, now) << 8);
}

/* arch/x86/kernel/tsc.c, pit_calibrate_tsc: gate 2 high with the speaker off, channel 2
 * in mode 0 with a 50 ms count, then poll port 0x61 bit 5 until OUT rises. */
static void linux_calibration_out2_rises(void)
{
    struct pit pit;
    setup(&pit);
    uint64_t t0 = 7 * MS;
    uint8_t p61 = pit_port_read(&pit, 0x61, t0);
    pit_port_write(&pit, 0x61, (uint8_t)((p61 & ~0x02) | 0x01), t0);
    pit_port_write(&pit, 0x43, 0xb0, t0);
    CHECK_EQ(pit_port_read(&pit, 0x61, t0) & 0x20, 0);     /* mode 0 starts OUT low */
    uint16_t latch = PIT_HZ / 20;
    pit_port_write(&pit, 0x42, (uint8_t)latch, t0);
    pit_port_write(&pit, 0x42, (uint8_t)(latch >> 8), t0);
    CHECK_EQ(pit_port_read(&pit, 0x61, t0 + 25 * MS) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, t0 + ticks_ns(latch) - 1) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, t0 + ticks_ns(latch)) & 0x20, 0x20);
    CHECK_EQ(pit_port_read(&pit, 0x61, t0 + 80 * MS) & 0x20, 0x20);    /* and stays high */
    CHECK_EQ(probe.rises, 0);                               /* channel 2 is not IRQ 0 */
}

/* tsc.c, quick_pit_calibrate: count from 0xffff and read LSB then MSB, unlatched. */
static void quick_calibration_reads_count_down(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x61, 0x01, 0);
    pit_port_write(&pit, 0x43, 0xb0, 0);
    pit_port_write(&pit, 0x42, 0xff, 0);
    pit_port_write(&pit, 0x42, 0xff, 0);
    CHECK_EQ(read_word(&pit, 0x42, 0), 0xffff);
    uint8_t last_msb = 0xff;
    for (unsigned i = 1; i <= 20; i++) {
        uint64_t now = ticks_ns(256 * i);
        pit_port_read(&pit, 0x42, now);
        uint8_t msb = pit_port_read(&pit, 0x42, now);
        CHECK_EQ(msb, (uint8_t)(0xff - i));
        CHECK(msb < last_msb);
        last_msb = msb;
    }
    CHECK_EQ(read_word(&pit, 0x42, ticks_ns(1000)), 0xffff - 1000);
}

/* i8253 clockevent, periodic: control word 0x34 (mode 2), then LSB and MSB. */
static void periodic_irq0_and_wakeups(void)
{
    struct pit pit;
    setup(&pit);
    uint16_t count = 11932;                 /* 100 Hz */
    uint64_t t0 = 3 * MS;
    pit_port_write(&pit, 0x43, 0x34, t0);
    pit_port_write(&pit, 0x40, (uint8_t)count, t0);
    pit_port_write(&pit, 0x40, (uint8_t)(count >> 8), t0);
    unsigned before = probe.rises;
    uint64_t due = pit_next_event_ns(&pit, t0);
    CHECK_EQ(due, t0 + ticks_ns(count));
    pit_update(&pit, due - 1);
    CHECK_EQ(probe.rises, before);
    for (unsigned i = 1; i <= 5; i++) {
        due = pit_next_event_ns(&pit, due);
        CHECK_EQ(due, t0 + ticks_ns((uint64_t)count * i));
        pit_update(&pit, due);
        CHECK_EQ(probe.rises, before + i);
        CHECK(probe.level);
    }
    CHECK_EQ(pit_next_event_ns(&pit, due), t0 + ticks_ns((uint64_t)count * 6));
    /* A VMM that oversleeps three periods is told to come now, and gets one edge. */
    uint64_t late = t0 + ticks_ns((uint64_t)count * 8) + 100;
    CHECK_EQ(pit_next_event_ns(&pit, late), late);
    pit_update(&pit, late);
    CHECK_EQ(probe.rises, before + 6);
    CHECK_EQ(pit_next_event_ns(&pit, late), t0 + ticks_ns((uint64_t)count * 9));
}

/* i8253 clockevent, one-shot: mode 4 pulses OUT once, one clock after the count. */
static void oneshot_mode4_fires_once(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x43, 0x38, 0);
    pit_port_write(&pit, 0x40, 100, 0);
    pit_port_write(&pit, 0x40, 0, 0);
    unsigned before = probe.rises;
    uint64_t due = pit_next_event_ns(&pit, 0);
    CHECK_EQ(due, ticks_ns(101));
    pit_update(&pit, ticks_ns(100));
    CHECK(!probe.level);                    /* the one clock of low OUT */
    pit_update(&pit, due);
    CHECK_EQ(probe.rises, before + 1);
    CHECK_EQ(pit_next_event_ns(&pit, due), PIT_NO_EVENT);
    pit_update(&pit, due + 100 * MS);
    CHECK_EQ(probe.rises, before + 1);
    pit_port_write(&pit, 0x40, 50, due);    /* a new count re-arms it */
    pit_port_write(&pit, 0x40, 0, due);
    CHECK_EQ(pit_next_event_ns(&pit, due), due + ticks_ns(51));
}

static void counter_latch_freezes_the_read(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x43, 0x34, 0);
    pit_port_write(&pit, 0x40, 0x00, 0);
    pit_port_write(&pit, 0x40, 0x80, 0);    /* 0x8000 */
    pit_port_write(&pit, 0x43, 0x00, ticks_ns(0x100));
    pit_port_write(&pit, 0x43, 0x00, ticks_ns(0x200));     /* ignored: already latched */
    CHECK_EQ(read_word(&pit, 0x40, ticks_ns(0x3000)), 0x7f00);
    CHECK_EQ(read_word(&pit, 0x40, ticks_ns(0x3000)), 0x5000);     /* live again */
}

static void read_back_status_then_count(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x43, 0xb6, 0);    /* channel 2, LSB/MSB, mode 3 */
    pit_port_write(&pit, 0x43, 0xe8, 0);    /* read-back status of channel 2 */
    CHECK_EQ(pit_port_read(&pit, 0x42, 0), 0x80 | 0x40 | 0x36);   /* OUT high, null count */
    pit_port_write(&pit, 0x61, 0x01, 0);
    pit_port_write(&pit, 0x42, 0xe8, 0);
    pit_port_write(&pit, 0x42, 0x03, 0);    /* 1000 */
    pit_port_write(&pit, 0x43, 0xc8, ticks_ns(100));       /* status and count */
    CHECK_EQ(pit_port_read(&pit, 0x42, ticks_ns(900)), 0x80 | 0x36);   /* count loaded */
    CHECK_EQ(read_word(&pit, 0x42, ticks_ns(900)), 1000 - 2 * 100);
    pit_port_write(&pit, 0x43, 0xe8, ticks_ns(600));
    CHECK_EQ(pit_port_read(&pit, 0x42, ticks_ns(600)), 0x36);         /* second half: OUT low */
}

static void square_wave_mode3(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x61, 0x03, 0);
    pit_port_write(&pit, 0x43, 0xb6, 0);
    pit_port_write(&pit, 0x42, 0xe8, 0);
    pit_port_write(&pit, 0x42, 0x03, 0);    /* 1000 clocks: 500 high, 500 low */
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(499)) & 0x20, 0x20);
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(500)) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(999)) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(1000)) & 0x20, 0x20);
    CHECK_EQ(read_word(&pit, 0x42, ticks_ns(1250)), 1000 - 2 * 250);
    pit_port_write(&pit, 0x61, 0x02, ticks_ns(1700));      /* gate low: OUT high, stopped */
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(1700)) & 0x20, 0x20);
    uint64_t rise = ticks_ns(5000);
    pit_port_write(&pit, 0x61, 0x03, rise);                /* gate high: reloads */
    CHECK_EQ(read_word(&pit, 0x42, rise + ticks_ns(10)), 1000 - 2 * 10);
}

static void gate_pauses_mode0(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x61, 0x01, 0);
    pit_port_write(&pit, 0x43, 0xb0, 0);
    pit_port_write(&pit, 0x42, 0xe8, 0);
    pit_port_write(&pit, 0x42, 0x03, 0);    /* 1000 */
    pit_port_write(&pit, 0x61, 0x00, ticks_ns(400));
    CHECK_EQ(read_word(&pit, 0x42, ticks_ns(3000)), 600);
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(3000)) & 0x20, 0);
    uint64_t resume = ticks_ns(3000);
    pit_port_write(&pit, 0x61, 0x01, resume);
    CHECK_EQ(pit_port_read(&pit, 0x61, resume + ticks_ns(600) - 1) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, resume + ticks_ns(600)) & 0x20, 0x20);
    CHECK_EQ(read_word(&pit, 0x42, resume + ticks_ns(610)), 0xffff - 9);   /* on past zero */
}

static void mode1_triggers_on_gate_edge(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x43, 0xb2, 0);    /* channel 2, mode 1 */
    pit_port_write(&pit, 0x42, 100, 0);
    pit_port_write(&pit, 0x42, 0, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, ticks_ns(500)) & 0x20, 0x20);  /* waits for GATE */
    uint64_t trigger = ticks_ns(1000);
    pit_port_write(&pit, 0x61, 0x01, trigger);
    CHECK_EQ(pit_port_read(&pit, 0x61, trigger + ticks_ns(99)) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, trigger + ticks_ns(100)) & 0x20, 0x20);
    pit_port_write(&pit, 0x61, 0x00, trigger + ticks_ns(200));
    uint64_t again = trigger + ticks_ns(300);
    pit_port_write(&pit, 0x61, 0x01, again);               /* retriggered */
    CHECK_EQ(pit_port_read(&pit, 0x61, again + ticks_ns(50)) & 0x20, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, again + ticks_ns(100)) & 0x20, 0x20);
}

static void bcd_and_single_byte_access(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x43, 0x51, 0);    /* channel 1, LSB only, mode 0, BCD */
    pit_port_write(&pit, 0x41, 0x99, 0);    /* 99 */
    CHECK_EQ(pit_port_read(&pit, 0x41, ticks_ns(30)), 0x69);
    CHECK_EQ(pit_port_read(&pit, 0x41, ticks_ns(30)), 0x69);       /* no byte toggle */
    pit_port_write(&pit, 0x43, 0x61, 0);    /* MSB only, BCD */
    pit_port_write(&pit, 0x41, 0x12, 0);    /* 1200 */
    CHECK_EQ(pit_port_read(&pit, 0x41, ticks_ns(100)), 0x11);
    pit_port_write(&pit, 0x43, 0x71, 0);    /* LSB/MSB, BCD, count 0 = 10000 */
    pit_port_write(&pit, 0x41, 0, 0);
    pit_port_write(&pit, 0x41, 0, 0);
    CHECK_EQ(read_word(&pit, 0x41, ticks_ns(1)), 0x9999);
}

static void mode0_first_byte_stops_count(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x43, 0x30, 0);
    pit_port_write(&pit, 0x40, 10, 0);
    pit_port_write(&pit, 0x40, 0, 0);
    pit_update(&pit, ticks_ns(20));
    CHECK(probe.level);
    CHECK_EQ(probe.rises, 1);
    pit_port_write(&pit, 0x40, 50, ticks_ns(30));          /* LSB: OUT low at once */
    CHECK(!probe.level);
    CHECK_EQ(pit_next_event_ns(&pit, ticks_ns(30)), PIT_NO_EVENT);
    pit_port_write(&pit, 0x40, 0, ticks_ns(40));
    CHECK_EQ(pit_next_event_ns(&pit, ticks_ns(40)), ticks_ns(40) + ticks_ns(50));
}

static void port61_bits(void)
{
    struct pit pit;
    setup(&pit);
    pit_port_write(&pit, 0x61, 0xff, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, 0) & 0x0f, 0x0f);
    CHECK_EQ(pit_port_read(&pit, 0x61, 0) & 0xc0, 0);
    uint8_t a = pit_port_read(&pit, 0x61, ticks_ns(18 * 4));
    uint8_t b = pit_port_read(&pit, 0x61, ticks_ns(18 * 5));
    CHECK_EQ((a ^ b) & 0x10, 0x10);         /* refresh toggles every 18 clocks */
    pit_port_write(&pit, 0x61, 0x00, 0);
    CHECK_EQ(pit_port_read(&pit, 0x61, 0) & 0x0f, 0);
}

static void device_ops_read_the_clock(void)
{
    struct pit pit;
    setup(&pit);
    fake_now = 5 * MS;
    pit_ops.write(&pit, 3, 1, 0x34);
    pit_ops.write(&pit, 0, 1, 0x00);
    pit_ops.write(&pit, 0, 1, 0x10);        /* 4096 */
    CHECK_EQ(pit_ops.read(&pit, 3, 1), 0xff);               /* the control port reads nothing */
    fake_now = 5 * MS + ticks_ns(96);
    pit_ops.write(&pit, 3, 1, 0x00);
    CHECK_EQ(pit_ops.read(&pit, 0, 1), 0xa0);
    CHECK_EQ(pit_ops.read(&pit, 0, 1), 0x0f);
    pit_port61_ops.write(&pit, 0, 1, 0x01);
    CHECK_EQ(pit_port61_ops.read(&pit, 0, 1) & 0x01, 0x01);
    pit_ops.reset(&pit);
    CHECK_EQ(pit_next_event_ns(&pit, fake_now), PIT_NO_EVENT);
    CHECK_EQ(pit_port61_ops.read(&pit, 0, 1) & 0x01, 0);
    fake_now = 0;
}

DEVICE_TESTS(pit8254,
    { "pit_linux_calibration_out2_rises", linux_calibration_out2_rises },
    { "pit_quick_calibration_reads_count_down", quick_calibration_reads_count_down },
    { "pit_periodic_irq0_and_wakeups", periodic_irq0_and_wakeups },
    { "pit_oneshot_mode4_fires_once", oneshot_mode4_fires_once },
    { "pit_counter_latch_freezes_the_read", counter_latch_freezes_the_read },
    { "pit_read_back_status_then_count", read_back_status_then_count },
    { "pit_square_wave_mode3", square_wave_mode3 },
    { "pit_gate_pauses_mode0", gate_pauses_mode0 },
    { "pit_mode1_triggers_on_gate_edge", mode1_triggers_on_gate_edge },
    { "pit_bcd_and_single_byte_access", bcd_and_single_byte_access },
    { "pit_mode0_first_byte_stops_count", mode0_first_byte_stops_count },
    { "pit_port61_bits", port61_bits },
    { "pit_device_ops_read_the_clock", device_ops_read_the_clock },
)
