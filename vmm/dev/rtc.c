/*
 * The MC146818A real-time clock plus RAM (Motorola MC146818A datasheet) as the PC has
 * it: behind an index/data port pair, with 128 bytes where the chipsets that replaced
 * the part extended its 64, and the IBM AT's century byte at 0x32 (IBM PC/AT technical
 * reference, "CMOS RAM Address Map").
 *
 * The time is not stepped.  While updates run it is base_seconds plus the number of
 * once-a-second updates since the divider chain left reset; the first comes half a
 * second after that (datasheet, "DV2, DV1, DV0").  While the guest holds SET, or the
 * divider in reset, the calendar sits in `held`, field by field as written, and only
 * becomes a count of seconds again when it runs.  Flags are brought up to date
 * lazily, on every access and on rtc_update.
 */
#include "rtc.h"

#define NS_PER_S            1000000000ull
#define SECONDS_PER_DAY     86400u
#define FIRST_UPDATE_NS     500000000ull    /* after the divider leaves reset */
#define UIP_LEAD_NS         244000ull       /* tBUC: UIP rises this long before an update */
#define UNIX_EPOCH_DAYS     719528ull       /* 1970-01-01 counted from 0000-01-01 */

#define INDEX_PORT          0x70
#define DATA_PORT           0x71
#define INDEX_NMI_DISABLE   0x80

#define REG_SECONDS         0x00
#define REG_SECONDS_ALARM   0x01
#define REG_MINUTES         0x02
#define REG_MINUTES_ALARM   0x03
#define REG_HOURS           0x04
#define REG_HOURS_ALARM     0x05
#define REG_WEEKDAY         0x06
#define REG_DAY             0x07
#define REG_MONTH           0x08
#define REG_YEAR            0x09
#define REG_A               0x0a
#define REG_B               0x0b
#define REG_C               0x0c
#define REG_D               0x0d
#define REG_CENTURY         0x32

#define A_UIP               0x80
#define A_DIVIDER_RESET     0x60    /* DV2 DV1 = 11 holds the chain in reset */
#define A_DIVIDER_32KHZ     0x20
#define A_RATE              0x0f
#define A_RATE_1024HZ       0x06

#define B_SET               0x80
#define B_PIE               0x40
#define B_AIE               0x20
#define B_UIE               0x10
#define B_SQWE              0x08
#define B_BINARY            0x04
#define B_24_HOUR           0x02
#define B_INTERRUPTS        (B_PIE | B_AIE | B_UIE)

/* Register C's flags sit in the same bits as their enables in register B. */
#define C_IRQF              0x80
#define C_PF                0x40
#define C_AF                0x20
#define C_UF                0x10

#define D_VRT               0x80
#define HOUR_PM             0x80
#define ALARM_DONT_CARE     0xc0    /* both top bits set: the field matches any value */

/* BIOS memory-size bytes (IBM PC/AT technical reference; 0x34/0x35 and 0x5b-0x5d as
 * SeaBIOS reads them). */
#define CMOS_BASE_MEMORY    0x15
#define CMOS_EXT_MEMORY     0x17
#define CMOS_EXT_MEMORY_2   0x30
#define CMOS_MEMORY_16M     0x34
#define CMOS_MEMORY_4G      0x5b
#define CMOS_CHECKSUM       0x2e
#define CHECKSUM_FIRST      0x10
#define CHECKSUM_LAST       0x2d

/* ---- the calendar, counted in seconds from 0000-01-01 (proleptic Gregorian) ---- */

static bool leap_year(uint64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Year 0 is a leap year, so the years before `year` hold ceil(year/4) - ceil(year/100)
 * + ceil(year/400) leap days. */
static uint64_t days_before_year(uint64_t year)
{
    return 365 * year + (year + 3) / 4 - (year + 99) / 100 + (year + 399) / 400;
}

static const uint16_t days_before_month[13] = {
    0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334,
};

static uint64_t month_start(uint64_t year, unsigned month)
{
    return days_before_month[month] + (month > 2 && leap_year(year));
}

/* Out-of-range fields, which a guest may write, roll over into the next ones. */
static uint64_t seconds_from_date(const struct rtc_date *d)
{
    unsigned month = d->month < 1 ? 1 : d->month > 12 ? 12 : d->month;
    unsigned day = d->day ? d->day : 1;
    uint64_t days = days_before_year(d->year) + month_start(d->year, month) + day - 1;
    return days * SECONDS_PER_DAY + d->hour * 3600u + d->minute * 60u + d->second;
}

static void date_from_seconds(uint64_t seconds, struct rtc_date *d)
{
    uint64_t days = seconds / SECONDS_PER_DAY, in_day = seconds % SECONDS_PER_DAY;
    uint64_t year = days * 400 / 146097;    /* 146097 days in 400 years */
    while (year > 0 && days_before_year(year) > days)
        year--;
    while (days_before_year(year + 1) <= days)
        year++;
    uint64_t in_year = days - days_before_year(year);
    unsigned month = 12;
    while (month > 1 && month_start(year, month) > in_year)
        month--;
    d->year = (uint16_t)year;
    d->month = (uint8_t)month;
    d->day = (uint8_t)(in_year - month_start(year, month) + 1);
    d->weekday = (uint8_t)((days + 6) % 7 + 1);    /* 0000-01-01 was a Saturday; 1 = Sunday */
    d->hour = (uint8_t)(in_day / 3600);
    d->minute = (uint8_t)(in_day / 60 % 60);
    d->second = (uint8_t)(in_day % 60);
}

/* ---- register formats: BCD or binary (B bit 2), 12 or 24 hours (B bit 1) ---- */

static bool binary_mode(const struct rtc *rtc)
{
    return rtc->cmos[REG_B] & B_BINARY;
}

static uint8_t encode(const struct rtc *rtc, unsigned value)
{
    value %= 100;
    return (uint8_t)(binary_mode(rtc) ? value : (value / 10) << 4 | value % 10);
}

static unsigned decode(const struct rtc *rtc, uint8_t value)
{
    return binary_mode(rtc) ? value : (value >> 4) * 10u + (value & 0xf);
}

static uint8_t encode_hour(const struct rtc *rtc, unsigned hour)
{
    if (rtc->cmos[REG_B] & B_24_HOUR)
        return encode(rtc, hour);
    unsigned twelve = hour % 12 ? hour % 12 : 12;
    return (uint8_t)(encode(rtc, twelve) | (hour >= 12 ? HOUR_PM : 0));
}

static unsigned decode_hour(const struct rtc *rtc, uint8_t value)
{
    if (rtc->cmos[REG_B] & B_24_HOUR)
        return decode(rtc, value);
    return decode(rtc, value & (uint8_t)~HOUR_PM) % 12 + (value & HOUR_PM ? 12 : 0);
}

/* ---- the divider chain and the once-a-second update ---- */

static bool divider_running(const struct rtc *rtc)
{
    return (rtc->cmos[REG_A] & A_DIVIDER_RESET) != A_DIVIDER_RESET;
}

static bool updating(const struct rtc *rtc)
{
    return divider_running(rtc) && !(rtc->cmos[REG_B] & B_SET);
}

static uint64_t updates_by(const struct rtc *rtc, uint64_t t)
{
    uint64_t first = rtc->divider_start_ns + FIRST_UPDATE_NS;
    return t < first ? 0 : (t - first) / NS_PER_S + 1;
}

static uint64_t update_time(const struct rtc *rtc, uint64_t update)
{
    return rtc->divider_start_ns + FIRST_UPDATE_NS + (update - 1) * NS_PER_S;
}

static void current_date(const struct rtc *rtc, uint64_t now, struct rtc_date *d)
{
    if (updating(rtc))
        date_from_seconds(rtc->base_seconds + updates_by(rtc, now), d);
    else
        *d = rtc->held;
}

static void set_date(struct rtc *rtc, uint64_t now, const struct rtc_date *d)
{
    if (updating(rtc))
        rtc->base_seconds = seconds_from_date(d) - updates_by(rtc, now);
    else
        rtc->held = *d;
}

/* Datasheet, "UIP": high from tBUC before an update; SET clears it. */
static bool update_in_progress(const struct rtc *rtc, uint64_t now)
{
    return updating(rtc) && update_time(rtc, updates_by(rtc, now) + 1) - now <= UIP_LEAD_NS;
}

/* ---- the periodic interrupt: a tap of the divider chain ---- */

/* Datasheet table "Periodic Interrupt Rate": with the 32.768 kHz time base rates 1
 * and 2 repeat 8 and 9; from 3 on each step halves 8192 Hz. */
static unsigned periodic_hz(const struct rtc *rtc)
{
    unsigned rate = rtc->cmos[REG_A] & A_RATE;
    if (!rate || !divider_running(rtc))
        return 0;
    return rate < 3 ? 1u << (9 - rate) : 1u << (16 - rate);
}

static uint64_t periodic_ticks(const struct rtc *rtc, unsigned hz, uint64_t t)
{
    if (t <= rtc->divider_start_ns)
        return 0;
    uint64_t ns = t - rtc->divider_start_ns;
    return ns / NS_PER_S * hz + ns % NS_PER_S * hz / NS_PER_S;
}

/* Rounded up, so that waking at it always finds the tick counted. */
static uint64_t periodic_tick_time(const struct rtc *rtc, unsigned hz, uint64_t tick)
{
    return rtc->divider_start_ns + tick / hz * NS_PER_S + (tick % hz * NS_PER_S + hz - 1) / hz;
}

/* ---- the alarm ---- */

static bool alarm_field_matches(uint8_t alarm, uint8_t value)
{
    return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == value;
}

static bool alarm_matches(const struct rtc *rtc, uint64_t seconds)
{
    unsigned in_day = (unsigned)(seconds % SECONDS_PER_DAY);
    return alarm_field_matches(rtc->cmos[REG_SECONDS_ALARM], encode(rtc, in_day % 60)) &&
           alarm_field_matches(rtc->cmos[REG_MINUTES_ALARM], encode(rtc, in_day / 60 % 60)) &&
           alarm_field_matches(rtc->cmos[REG_HOURS_ALARM], encode_hour(rtc, in_day / 3600));
}

/* Of `count` consecutive seconds from `first`, the offset of the first the alarm
 * matches, or count.  The alarm sees only the time of day, so a day decides it. */
static uint64_t first_alarm(const struct rtc *rtc, uint64_t first, uint64_t count)
{
    uint64_t limit = count < SECONDS_PER_DAY ? count : SECONDS_PER_DAY;
    for (uint64_t i = 0; i < limit; i++)
        if (alarm_matches(rtc, first + i))
            return i;
    return count;
}

/* ---- flags and IRQ 8 ---- */

/* Datasheet, "Register C": PF, AF and UF are set whether or not their interrupts are
 * enabled; IRQF is their OR with the enables. */
static void sync(struct rtc *rtc, uint64_t now)
{
    uint64_t then = rtc->synced_ns;
    if (now <= then)
        return;
    rtc->synced_ns = now;
    unsigned hz = periodic_hz(rtc);
    if (hz && periodic_ticks(rtc, hz, now) > periodic_ticks(rtc, hz, then))
        rtc->flags |= C_PF;
    if (!updating(rtc))
        return;
    uint64_t before = updates_by(rtc, then), after = updates_by(rtc, now);
    if (after == before)
        return;
    rtc->flags |= C_UF;
    if (first_alarm(rtc, rtc->base_seconds + before + 1, after - before) < after - before)
        rtc->flags |= C_AF;
}

static bool irq_requested(const struct rtc *rtc)
{
    return rtc->flags & rtc->cmos[REG_B] & B_INTERRUPTS;
}

static void drive_irq(struct rtc *rtc)
{
    bool level = irq_requested(rtc);
    if (level != rtc->irq8_level) {
        rtc->irq8_level = level;
        irq_line_set(&rtc->irq8, level);
    }
}

void rtc_update(struct rtc *rtc, uint64_t now)
{
    sync(rtc, now);
    drive_irq(rtc);
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t rtc_next_event_ns(const struct rtc *rtc, uint64_t now)
{
    uint8_t enabled = rtc->cmos[REG_B] & B_INTERRUPTS;
    if (irq_requested(rtc))
        return RTC_NO_EVENT;
    uint64_t from = rtc->synced_ns, next = RTC_NO_EVENT;
    unsigned hz = periodic_hz(rtc);
    if ((enabled & B_PIE) && hz)
        next = periodic_tick_time(rtc, hz, periodic_ticks(rtc, hz, from) + 1);
    if (updating(rtc)) {
        uint64_t update = updates_by(rtc, from) + 1;
        if (enabled & B_UIE)
            next = earlier(next, update_time(rtc, update));
        uint64_t wait = (enabled & B_AIE) ?
            first_alarm(rtc, rtc->base_seconds + update, SECONDS_PER_DAY) : SECONDS_PER_DAY;
        if (wait < SECONDS_PER_DAY)
            next = earlier(next, update_time(rtc, update + wait));
    }
    return next < now ? now : next;
}

/* ---- registers ---- */

static bool is_time_register(unsigned index)
{
    return (index <= REG_YEAR && index != REG_SECONDS_ALARM && index != REG_MINUTES_ALARM &&
            index != REG_HOURS_ALARM) || index == REG_CENTURY;
}

static uint8_t read_time(const struct rtc *rtc, unsigned index, uint64_t now)
{
    struct rtc_date d;
    current_date(rtc, now, &d);
    switch (index) {
    case REG_SECONDS:
        return encode(rtc, d.second);
    case REG_MINUTES:
        return encode(rtc, d.minute);
    case REG_HOURS:
        return encode_hour(rtc, d.hour);
    case REG_WEEKDAY:
        return encode(rtc, d.weekday);
    case REG_DAY:
        return encode(rtc, d.day);
    case REG_MONTH:
        return encode(rtc, d.month);
    case REG_YEAR:
        return encode(rtc, d.year % 100);
    default:
        return encode(rtc, d.year / 100);
    }
}

/* While running, the weekday follows the date and a write to it does not stick. */
static void write_time(struct rtc *rtc, unsigned index, uint8_t value, uint64_t now)
{
    struct rtc_date d;
    current_date(rtc, now, &d);
    unsigned v = decode(rtc, value);
    switch (index) {
    case REG_SECONDS:
        d.second = (uint8_t)v;
        break;
    case REG_MINUTES:
        d.minute = (uint8_t)v;
        break;
    case REG_HOURS:
        d.hour = (uint8_t)decode_hour(rtc, value);
        break;
    case REG_WEEKDAY:
        d.weekday = (uint8_t)v;
        break;
    case REG_DAY:
        d.day = (uint8_t)v;
        break;
    case REG_MONTH:
        d.month = (uint8_t)v;
        break;
    case REG_YEAR:
        d.year = (uint16_t)(d.year / 100 * 100 + v);
        break;
    default:
        d.year = (uint16_t)(v * 100 + d.year % 100);
        break;
    }
    set_date(rtc, now, &d);
}

/* Registers A and B decide whether the clock runs: take the time as it stands, change
 * the register, and re-anchor the time under the new state. */
static void write_control(struct rtc *rtc, unsigned index, uint8_t value, uint64_t now)
{
    struct rtc_date d;
    bool divider_was_running = divider_running(rtc);
    current_date(rtc, now, &d);
    if (index == REG_A)
        value &= (uint8_t)~A_UIP;
    else if (value & B_SET)
        value &= (uint8_t)~B_UIE;   /* datasheet, "UIE": the SET bit going high clears it */
    rtc->cmos[index] = value;
    if (!divider_was_running && divider_running(rtc))
        rtc->divider_start_ns = now;
    set_date(rtc, now, &d);
}

static uint8_t read_register(struct rtc *rtc, unsigned index, uint64_t now)
{
    uint8_t value;
    switch (index) {
    case REG_A:
        return (uint8_t)(rtc->cmos[REG_A] | (update_in_progress(rtc, now) ? A_UIP : 0));
    case REG_C:
        value = (uint8_t)(rtc->flags | (irq_requested(rtc) ? C_IRQF : 0));
        rtc->flags = 0;     /* "all flag bits are cleared after register C is read" */
        return value;
    case REG_D:
        return D_VRT;       /* the battery is good */
    default:
        return is_time_register(index) ? read_time(rtc, index, now) : rtc->cmos[index];
    }
}

static void write_register(struct rtc *rtc, unsigned index, uint8_t value, uint64_t now)
{
    if (index == REG_A || index == REG_B)
        write_control(rtc, index, value, now);
    else if (is_time_register(index))
        write_time(rtc, index, value, now);
    else if (index != REG_C && index != REG_D)
        rtc->cmos[index] = value;
}

uint8_t rtc_port_read(struct rtc *rtc, uint16_t port, uint64_t now)
{
    if (port != DATA_PORT)
        return 0xff;        /* the index register is write-only */
    rtc_update(rtc, now);   /* a flag that came due raised IRQ 8 then, before this read */
    uint8_t value = read_register(rtc, rtc->index, now);
    drive_irq(rtc);
    return value;
}

void rtc_port_write(struct rtc *rtc, uint16_t port, uint8_t value, uint64_t now)
{
    if (port == INDEX_PORT) {
        rtc->index = value & (uint8_t)~INDEX_NMI_DISABLE;
        rtc->nmi_disabled = value & INDEX_NMI_DISABLE;
    } else if (port == DATA_PORT) {
        rtc_update(rtc, now);
        write_register(rtc, rtc->index, value, now);
        drive_irq(rtc);
    }
}

/* ---- set-up by the VMM ---- */

static void put_le(struct rtc *rtc, unsigned index, uint64_t value, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        rtc->cmos[index + i] = (uint8_t)(value >> (8 * i));
}

static uint64_t capped(uint64_t value, uint64_t max)
{
    return value < max ? value : max;
}

static uint64_t above(uint64_t bytes, uint64_t start)
{
    return bytes > start ? bytes - start : 0;
}

void rtc_set_memory_size(struct rtc *rtc, uint64_t bytes_below_4g, uint64_t bytes_above_4g)
{
    const uint64_t kib = 1024, mib = 1024 * kib;
    uint64_t extended_kib = capped(above(bytes_below_4g, mib) / kib, 0xffff);
    put_le(rtc, CMOS_BASE_MEMORY, capped(bytes_below_4g, 640 * kib) / kib, 2);
    put_le(rtc, CMOS_EXT_MEMORY, extended_kib, 2);
    put_le(rtc, CMOS_EXT_MEMORY_2, extended_kib, 2);
    put_le(rtc, CMOS_MEMORY_16M, capped(above(bytes_below_4g, 16 * mib) / (64 * kib), 0xffff), 2);
    put_le(rtc, CMOS_MEMORY_4G, capped(bytes_above_4g / (64 * kib), 0xffffff), 3);

    unsigned sum = 0;   /* AT checksum: a 16-bit sum of 0x10-0x2d, high byte first */
    for (unsigned i = CHECKSUM_FIRST; i <= CHECKSUM_LAST; i++)
        sum += rtc->cmos[i];
    rtc->cmos[CMOS_CHECKSUM] = (uint8_t)(sum >> 8);
    rtc->cmos[CMOS_CHECKSUM + 1] = (uint8_t)sum;
}

uint64_t rtc_clock_from_cmdline(const char *cmdline, uint64_t fallback)
{
    const char *option = RTC_CLOCK_OPTION;
    for (const char *word = cmdline; word && *word; word++) {
        if (word != cmdline && word[-1] != ' ')
            continue;
        unsigned n = 0;
        while (option[n] && word[n] == option[n])
            n++;
        if (option[n])
            continue;
        uint64_t seconds = 0;
        const char *digit = word + n;
        while (*digit >= '0' && *digit <= '9' && seconds < UINT64_MAX / 100)
            seconds = seconds * 10 + (uint64_t)(*digit++ - '0');
        if (digit != word + n && (*digit == 0 || *digit == ' '))
            return seconds;
    }
    return fallback;
}

void rtc_init(struct rtc *rtc, uint64_t unix_seconds, uint64_t now, struct irq_line irq8,
              uint64_t (*clock)(void *ctx), void *clock_ctx)
{
    *rtc = (struct rtc){
        .base_seconds = UNIX_EPOCH_DAYS * SECONDS_PER_DAY + unix_seconds,
        .divider_start_ns = now,
        .synced_ns = now,
        .irq8 = irq8,
        .clock = clock,
        .clock_ctx = clock_ctx,
    };
    /* What a PC BIOS leaves: 32.768 kHz time base, 1024 Hz rate, BCD, 24 hours. */
    rtc->cmos[REG_A] = A_DIVIDER_32KHZ | A_RATE_1024HZ;
    rtc->cmos[REG_B] = B_24_HOUR;
}

static uint64_t guest_now(const struct rtc *rtc)
{
    return rtc->clock ? rtc->clock(rtc->clock_ctx) : rtc->synced_ns;
}

/* A wider access touches consecutive ports, one byte each: outw(0x70) sets the index
 * and writes the data. */
static uint64_t rtc_read(void *dev, uint64_t offset, unsigned size)
{
    uint64_t now = guest_now(dev), value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint64_t)rtc_port_read(dev, (uint16_t)(INDEX_PORT + offset + i), now) << (8 * i);
    return value;
}

static void rtc_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    uint64_t now = guest_now(dev);
    for (unsigned i = 0; i < size; i++)
        rtc_port_write(dev, (uint16_t)(INDEX_PORT + offset + i), (uint8_t)(value >> (8 * i)), now);
}

/* The RESET pin (datasheet, "RESET"): interrupt enables and flags clear; the time, the
 * formats and the RAM, kept by the battery, stay. */
static void rtc_reset(void *dev)
{
    struct rtc *rtc = dev;
    sync(rtc, guest_now(rtc));
    rtc->cmos[REG_B] &= (uint8_t)~(B_INTERRUPTS | B_SQWE);
    rtc->flags = 0;
    drive_irq(rtc);
}

const struct device_ops rtc_ops = { "rtc", rtc_read, rtc_write, rtc_reset };
