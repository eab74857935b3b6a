/*
 * The 8254 programmable interval timer (Intel 8254 datasheet) as wired
 * in the PC: a 1.193182 MHz clock on all three counters, GATE0 and GATE1 tied high,
 * GATE2 and the speaker enable on port 0x61 (IBM PC/AT technical reference, "System
 * Timers"; PIIX4 datasheet, NMI status and control register).
 *
 * A counter is not stepped clock by clock.  Each cycle remembers when it started and
 * the clocks already counted, and the count and OUT are functions of the clocks
 * elapsed.  The count is taken as loaded when it is written; the datasheet's load on
 * the next CLK pulse, less than a microsecond later, is left out.
 */
#include "pit8254.h"

#define NS_PER_S            1000000000ull

#define CONTROL_PORT        0x43
#define SPEAKER_PORT        0x61

#define CW_SELECT_SHIFT     6
#define CW_READ_BACK        3       /* SC1 SC0 = 11 */
#define CW_ACCESS_SHIFT     4
#define CW_LATCH            0       /* RW1 RW0 = 00: counter latch command */
#define CW_BCD              0x01

#define READ_BACK_NO_COUNT  0x20    /* read-back bits are active low */
#define READ_BACK_NO_STATUS 0x10

#define STATUS_OUT          0x80
#define STATUS_NULL_COUNT   0x40

#define ACCESS_LSB          1
#define ACCESS_MSB          2
#define ACCESS_WORD         3

#define P61_GATE2           0x01
#define P61_WRITABLE        0x0f
#define P61_REFRESH         0x10
#define P61_OUT2            0x20
#define REFRESH_TICKS       18      /* channel 1's count on the AT: one toggle per 15.08 us */

static uint64_t ticks_between(uint64_t from, uint64_t to)
{
    if (to <= from)
        return 0;
    uint64_t ns = to - from;
    return ns / NS_PER_S * PIT_HZ + ns % NS_PER_S * PIT_HZ / NS_PER_S;
}

/* The first nanosecond by which `ticks` clocks have elapsed: the inverse of
 * ticks_between, rounded up so that waking at it always finds the clocks counted. */
static uint64_t ns_for_ticks(uint64_t ticks)
{
    return ticks / PIT_HZ * NS_PER_S + (ticks % PIT_HZ * NS_PER_S + PIT_HZ - 1) / PIT_HZ;
}

static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
    return c->ticks_before + (c->counting ? ticks_between(c->start_ns, now) : 0);
}

static bool triggered_by_gate(const struct pit_channel *c)
{
    return c->mode == 1 || c->mode == 5;
}

static uint32_t modulus(const struct pit_channel *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint16_t to_bcd(uint32_t value)
{
    return (uint16_t)(value % 10 | value / 10 % 10 << 4 | value / 100 % 10 << 8 |
                      value / 1000 % 10 << 12);
}

static uint32_t from_bcd(uint16_t value)
{
    return (value & 0xf) + (value >> 4 & 0xf) * 10 + (value >> 8 & 0xf) * 100 +
           (value >> 12 & 0xf) * 1000;
}

/* Datasheet: a count of 0 is the maximum, 2^16 in binary and 10^4 in BCD. */
static uint32_t decode_count(const struct pit_channel *c, uint16_t raw)
{
    uint32_t count = c->bcd ? from_bcd(raw) : raw;
    return count ? count : modulus(c);
}

/* The counting element after e clocks.  Mode 2 counts n..1 and reloads; mode 3
 * counts down by two through each half period ("Mode 3: square wave mode"); the
 * others count down from n and wrap. */
static uint32_t counter_value(const struct pit_channel *c, uint64_t e)
{
    uint32_t n = c->initial, m = modulus(c);
    if (c->armed && c->mode == 2)
        return (uint32_t)(n - e % n) % m;
    if (c->armed && c->mode == 3) {
        uint64_t phase = e % n, high = (n + 1) / 2;
        uint64_t into_half = phase < high ? phase : phase - high;
        return (uint32_t)((n & ~1u) - 2 * into_half) % m;
    }
    return (uint32_t)((n + m - e % m) % m);
}

/* OUT after e clocks, per the waveforms of the datasheet's mode descriptions. */
static bool out_level(const struct pit_channel *c, uint64_t e)
{
    if (!c->armed)
        return c->mode != 0;        /* a control word sets OUT low in mode 0, high otherwise */
    switch (c->mode) {
    case 0:
    case 1:
        return e >= c->initial;
    case 2:
        return !c->counting || e % c->initial != c->initial - 1;
    case 3:
        return !c->counting || e % c->initial < (c->initial + 1) / 2;
    default:
        return e != c->initial;     /* modes 4 and 5: low for the one clock at zero */
    }
}

/* Rising edges of OUT within this cycle after e clocks. */
static uint64_t rising_edges(const struct pit_channel *c, uint64_t e)
{
    if (!c->armed)
        return 0;
    switch (c->mode) {
    case 0:
    case 1:
        return e >= c->initial;
    case 2:
    case 3:
        return e / c->initial;
    default:
        return e > c->initial;
    }
}

/* The clocks elapsed at which rising edge number `edge` (from 1) of this cycle comes,
 * or 0 if it never does. */
static uint64_t edge_at(const struct pit_channel *c, uint64_t edge)
{
    switch (c->mode) {
    case 0:
    case 1:
        return edge == 1 ? c->initial : 0;
    case 2:
    case 3:
        return edge * c->initial;
    default:
        return edge == 1 ? (uint64_t)c->initial + 1 : 0;
    }
}

static void freeze(struct pit_channel *c, uint64_t now)
{
    c->ticks_before = elapsed(c, now);
    c->start_ns = now;
}

static void start_cycle(struct pit_channel *c, uint64_t now)
{
    c->initial = c->count;
    c->armed = true;
    c->null_count = false;
    c->ticks_before = 0;
    c->start_ns = now;
    c->edges_delivered = 0;
    c->counting = c->gate || triggered_by_gate(c);
}

/* A new count starts a cycle at once, except in modes 1 and 5, where it waits for a
 * trigger.  In modes 2 and 3 the datasheet lets the running period finish first;
 * starting at once differs by at most one period and only if the guest rewrites the
 * count without a control word. */
static void load_count(struct pit_channel *c, uint16_t raw, uint64_t now)
{
    c->count = decode_count(c, raw);
    c->null_count = true;
    if (!triggered_by_gate(c))
        start_cycle(c, now);
}

/* Datasheet, "Gate": modes 0 and 4 pause while GATE is low; modes 2 and 3 stop with
 * OUT high and reload on the rising edge; modes 1 and 5 start a cycle on it. */
static void set_gate(struct pit_channel *c, bool gate, uint64_t now)
{
    if (gate == c->gate)
        return;
    freeze(c, now);
    c->gate = gate;
    switch (c->mode) {
    case 0:
    case 4:
        c->counting = gate && c->armed;
        break;
    case 2:
    case 3:
        if (gate && c->armed)
            start_cycle(c, now);
        else
            c->counting = false;
        break;
    default:
        if (gate && c->count)
            start_cycle(c, now);
        break;
    }
}

static void write_counter(struct pit_channel *c, uint8_t value, uint64_t now)
{
    switch (c->access) {
    case ACCESS_LSB:
        load_count(c, value, now);
        break;
    case ACCESS_MSB:
        load_count(c, (uint16_t)(value << 8), now);
        break;
    default:
        if (c->write_msb_next) {
            c->write_msb_next = false;
            load_count(c, (uint16_t)(c->lsb_written | value << 8), now);
            break;
        }
        c->lsb_written = value;
        c->write_msb_next = true;
        if (c->mode == 0) {         /* "writing the first byte disables counting", OUT low */
            freeze(c, now);
            c->armed = false;
            c->counting = false;
        }
        break;
    }
}

static uint16_t visible_count(const struct pit_channel *c, uint64_t now)
{
    uint32_t value = counter_value(c, elapsed(c, now));
    return c->bcd ? to_bcd(value) : (uint16_t)value;
}

static void latch_count(struct pit_channel *c, uint64_t now)
{
    if (c->count_latched)
        return;         /* datasheet: further latches are ignored until the count is read */
    c->latched_count = visible_count(c, now);
    c->count_latched = true;
    c->latch_msb_next = false;
}

static void latch_status(struct pit_channel *c, uint64_t now)
{
    if (c->status_latched)
        return;
    c->latched_status = (uint8_t)((out_level(c, elapsed(c, now)) ? STATUS_OUT : 0) |
                                  (c->null_count ? STATUS_NULL_COUNT : 0) | c->control);
    c->status_latched = true;
}

static uint8_t byte_of(uint16_t value, bool msb)
{
    return (uint8_t)(msb ? value >> 8 : value);
}

/* Datasheet, "Read Operations": a latched status goes first, then a latched count,
 * else the live count; LSB-then-MSB access alternates bytes, separately from writes. */
static uint8_t read_counter(struct pit_channel *c, uint64_t now)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->latched_status;
    }
    if (c->count_latched) {
        bool msb = c->access == ACCESS_MSB || (c->access == ACCESS_WORD && c->latch_msb_next);
        if (c->access == ACCESS_WORD && !c->latch_msb_next)
            c->latch_msb_next = true;
        else
            c->count_latched = false;
        return byte_of(c->latched_count, msb);
    }
    bool msb = c->access == ACCESS_MSB || (c->access == ACCESS_WORD && c->read_msb_next);
    if (c->access == ACCESS_WORD)
        c->read_msb_next = !c->read_msb_next;
    return byte_of(visible_count(c, now), msb);
}

/* "When a Control Word is written to a Counter, all Control Logic is immediately reset
 * and OUT goes to a known initial state." */
static void write_control_word(struct pit_channel *c, uint8_t value, uint64_t now)
{
    freeze(c, now);
    c->counting = false;
    c->armed = false;
    c->access = value >> CW_ACCESS_SHIFT & 3;
    c->mode = value >> 1 & 7;
    if (c->mode > 5)
        c->mode -= 4;               /* M2 is a don't-care for modes 2 and 3 */
    c->bcd = value & CW_BCD;
    c->control = value & 0x3f;
    c->count = 0;
    c->null_count = true;
    c->write_msb_next = false;
    c->read_msb_next = false;
    c->count_latched = false;
    c->status_latched = false;
}

static void read_back(struct pit *pit, uint8_t value, uint64_t now)
{
    for (unsigned i = 0; i < 3; i++) {
        if (!(value & 2u << i))
            continue;
        if (!(value & READ_BACK_NO_COUNT))
            latch_count(&pit->channel[i], now);
        if (!(value & READ_BACK_NO_STATUS))
            latch_status(&pit->channel[i], now);
    }
}

static void write_control(struct pit *pit, uint8_t value, uint64_t now)
{
    unsigned select = value >> CW_SELECT_SHIFT;
    if (select == CW_READ_BACK)
        read_back(pit, value, now);
    else if ((value >> CW_ACCESS_SHIFT & 3) == CW_LATCH)
        latch_count(&pit->channel[select], now);
    else
        write_control_word(&pit->channel[select], value, now);
}

static bool refresh_toggle(uint64_t now)
{
    return ticks_between(0, now) / REFRESH_TICKS & 1;
}

static uint8_t read_port61(struct pit *pit, uint64_t now)
{
    struct pit_channel *c = &pit->channel[2];
    return (uint8_t)(pit->port61 | (refresh_toggle(now) ? P61_REFRESH : 0) |
                     (out_level(c, elapsed(c, now)) ? P61_OUT2 : 0));
}

uint8_t pit_port_read(struct pit *pit, uint16_t port, uint64_t now)
{
    if (port >= 0x40 && port < CONTROL_PORT)
        return read_counter(&pit->channel[port - 0x40], now);
    if (port == SPEAKER_PORT)
        return read_port61(pit, now);
    return 0xff;    /* the control word register cannot be read */
}

void pit_port_write(struct pit *pit, uint16_t port, uint8_t value, uint64_t now)
{
    pit_update(pit, now);       /* edges before the write belong to the old cycle */
    if (port >= 0x40 && port < CONTROL_PORT)
        write_counter(&pit->channel[port - 0x40], value, now);
    else if (port == CONTROL_PORT)
        write_control(pit, value, now);
    else if (port == SPEAKER_PORT) {
        pit->port61 = value & P61_WRITABLE;
        set_gate(&pit->channel[2], value & P61_GATE2, now);
    }
    pit_update(pit, now);
}

static void drive_irq0(struct pit *pit, bool level)
{
    if (level != pit->irq0_level) {
        pit->irq0_level = level;
        irq_line_set(&pit->irq0, level);
    }
}

void pit_update(struct pit *pit, uint64_t now)
{
    struct pit_channel *c = &pit->channel[0];
    uint64_t e = elapsed(c, now);
    pit->updated_ns = now;
    uint64_t edges = rising_edges(c, e);
    if (edges > c->edges_delivered) {
        c->edges_delivered = edges;
        drive_irq0(pit, false);
        drive_irq0(pit, true);
    }
    drive_irq0(pit, out_level(c, e));
}

uint64_t pit_next_event_ns(const struct pit *pit, uint64_t now)
{
    const struct pit_channel *c = &pit->channel[0];
    if (!c->armed || !c->counting)
        return PIT_NO_EVENT;
    if (rising_edges(c, elapsed(c, now)) > c->edges_delivered)
        return now;
    uint64_t at = edge_at(c, c->edges_delivered + 1);
    if (!at)
        return PIT_NO_EVENT;
    return c->start_ns + ns_for_ticks(at - c->ticks_before);
}

/* Channel 2's gate follows port 0x61; the others are tied high.  No channel has a
 * mode or a count until the guest programs it, so nothing fires after reset. */
static void reset_channels(struct pit *pit)
{
    for (unsigned i = 0; i < 3; i++)
        pit->channel[i] = (struct pit_channel){ .access = ACCESS_WORD, .gate = i != 2,
                                                .control = ACCESS_WORD << CW_ACCESS_SHIFT };
    pit->port61 = 0;
}

void pit_init(struct pit *pit, struct irq_line irq0, uint64_t (*clock)(void *ctx), void *clock_ctx)
{
    *pit = (struct pit){ .irq0 = irq0, .clock = clock, .clock_ctx = clock_ctx };
    reset_channels(pit);
}

static uint64_t guest_now(const struct pit *pit)
{
    return pit->clock ? pit->clock(pit->clock_ctx) : pit->updated_ns;
}

/* A wider access touches consecutive ports, one byte each, as on the ISA bus. */
static uint64_t read_ports(struct pit *pit, uint16_t port, unsigned size)
{
    uint64_t now = guest_now(pit), value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint64_t)pit_port_read(pit, (uint16_t)(port + i), now) << (8 * i);
    return value;
}

static void write_ports(struct pit *pit, uint16_t port, unsigned size, uint64_t value)
{
    uint64_t now = guest_now(pit);
    for (unsigned i = 0; i < size; i++)
        pit_port_write(pit, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)), now);
}

static uint64_t pit_read(void *dev, uint64_t offset, unsigned size)
{
    return read_ports(dev, (uint16_t)(0x40 + offset), size);
}

static void pit_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    write_ports(dev, (uint16_t)(0x40 + offset), size, value);
}

static uint64_t port61_read(void *dev, uint64_t offset, unsigned size)
{
    return read_ports(dev, (uint16_t)(SPEAKER_PORT + offset), size);
}

static void port61_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    write_ports(dev, (uint16_t)(SPEAKER_PORT + offset), size, value);
}

static void pit_reset(void *dev)
{
    struct pit *pit = dev;
    reset_channels(pit);
    pit_update(pit, guest_now(pit));
}

const struct device_ops pit_ops = { "pit8254", pit_read, pit_write, pit_reset };
const struct device_ops pit_port61_ops = { "pit8254-port61", port61_read, port61_write, pit_reset };
