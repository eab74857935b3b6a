/*
 * Local APIC (Intel SDM Vol. 3A ch. 10).  Registers are named by their xAPIC offset
 * whichever way they are reached: the x2APIC MSR 0x800 + n is the xAPIC register at
 * offset n << 4 (§10.12.1.2), so both interfaces share read_register/write_register
 * and differ only in the checks in front of them.
 */
#include "lapic.h"

#define NS_PER_SEC                  1000000000ull

/* Version register (§10.4.8): 0x14 is an integrated APIC; bits 23:16 are the
 * highest LVT entry.  No EOI-broadcast suppression, so bit 24 stays clear. */
#define VERSION_VALUE               (0x14u | ((LAPIC_LVT_COUNT - 1u) << 16))

#define APIC_BASE_ADDRESS_MASK      0x000ffffffffff000ull   /* MAXPHYADDR 52 */

#define SVR_ENABLE                  (1u << 8)
#define SVR_WRITABLE                0x3ffu  /* spurious vector, enable, focus checking */

/* Error status register bits (§10.5.3) */
#define ESR_SEND_ILLEGAL_VECTOR     (1u << 5)
#define ESR_RECEIVE_ILLEGAL_VECTOR  (1u << 6)
#define ESR_ILLEGAL_REGISTER        (1u << 7)

/* ICR low (Figure 10-12): vector, delivery mode, destination mode, level, trigger,
 * shorthand.  Delivery status reads 0: this model delivers at once. */
#define ICR_LOW_WRITABLE            0x000ccfffu
#define ICR_LOGICAL                 (1u << 11)
#define ICR_SHORTHAND_SHIFT         18

enum { SHORTHAND_NONE, SHORTHAND_SELF, SHORTHAND_ALL, SHORTHAND_OTHERS };
enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR };

/* Writable bits per LVT entry (Figure 10-8); remote IRR and delivery status are
 * the APIC's own. */
static const uint32_t lvt_writable[LAPIC_LVT_COUNT] = {
    [LVT_TIMER] = 0x700ff, [LVT_THERMAL] = 0x107ff, [LVT_PERF] = 0x107ff,
    [LVT_LINT0] = 0x1a7ff, [LVT_LINT1] = 0x1a7ff, [LVT_ERROR] = 0x100ff,
};

/* ---- 256-bit registers -------------------------------------------------------- */

static bool bit_test(const uint32_t *r, unsigned v) { return (r[v / 32] >> (v % 32)) & 1; }
static void bit_set(uint32_t *r, unsigned v) { r[v / 32] |= 1u << (v % 32); }
static void bit_clear(uint32_t *r, unsigned v) { r[v / 32] &= ~(1u << (v % 32)); }

static int highest_bit(const uint32_t *r)
{
    for (int i = 7; i >= 0; i--)
        if (r[i])
            return i * 32 + 31 - __builtin_clz(r[i]);
    return -1;
}

/* ---- State --------------------------------------------------------------------- */

static bool hw_enabled(const struct lapic *l) { return l->apic_base & APIC_BASE_ENABLE; }
static bool sw_enabled(const struct lapic *l) { return l->svr & SVR_ENABLE; }
static bool xapic_mode(const struct lapic *l) { return hw_enabled(l) && !lapic_x2apic_mode(l); }

bool lapic_x2apic_mode(const struct lapic *l)
{
    return hw_enabled(l) && (l->apic_base & APIC_BASE_X2APIC);
}

uint64_t lapic_mmio_base(const struct lapic *l)
{
    return l->apic_base & APIC_BASE_ADDRESS_MASK;
}

static uint32_t apic_id(const struct lapic *l)
{
    return lapic_x2apic_mode(l) ? l->cfg.id : l->cfg.id & 0xff;
}

/* §10.12.10.2: the logical x2APIC ID is derived from the x2APIC ID. */
static uint32_t x2apic_ldr(uint32_t id)
{
    return ((id >> 4) << 16) | (1u << (id & 0xf));
}

/* Everything but the APIC base, the wires and the clock (§10.4.7.1). */
static void reset_registers(struct lapic *l)
{
    struct lapic fresh = {
        .cfg = l->cfg, .apic_base = l->apic_base, .now = l->now,
        .lint_level = { l->lint_level[0], l->lint_level[1] },
        .dfr = 0xffffffff, .svr = 0xff,
    };
    for (unsigned i = 0; i < LAPIC_LVT_COUNT; i++)
        fresh.lvt[i] = APIC_LVT_MASKED;
    *l = fresh;
}

void lapic_reset(struct lapic *l)
{
    l->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_ENABLE | (l->cfg.bsp ? APIC_BASE_BSP : 0);
    l->lint_level[0] = l->lint_level[1] = false;
    reset_registers(l);
}

void lapic_init(struct lapic *l, const struct lapic_config *cfg)
{
    *l = (struct lapic){ .cfg = *cfg };
    lapic_reset(l);
}

void lapic_enable_virtual_wire(struct lapic *l)
{
    l->lvt[LVT_LINT0] = APIC_EXTINT << APIC_DELIVERY_SHIFT;
    l->lvt[LVT_LINT1] = APIC_NMI << APIC_DELIVERY_SHIFT;
}

/* ---- Priority, acceptance, EOI (§10.8) ----------------------------------------- */

/* §10.8.3.1: PPR is the TPR unless the highest in-service class is above it. */
uint8_t lapic_ppr(const struct lapic *l)
{
    int isrv = highest_bit(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (l->tpr & 0xf0) >= isr_class ? (uint8_t)l->tpr : (uint8_t)isr_class;
}

static void signal_error(struct lapic *l, uint32_t error);

/* §10.4.7.2: a software-disabled APIC takes no fixed interrupts; vectors 0-15 are
 * illegal (§10.5.2). */
bool lapic_set_irq(struct lapic *l, uint8_t vector, bool level_triggered)
{
    if (!hw_enabled(l) || !sw_enabled(l))
        return false;
    if (vector < 16) {
        signal_error(l, ESR_RECEIVE_ILLEGAL_VECTOR);
        return false;
    }
    bit_set(l->irr, vector);
    if (level_triggered)
        bit_set(l->tmr, vector);
    else
        bit_clear(l->tmr, vector);
    return true;
}

static void signal_error(struct lapic *l, uint32_t error)
{
    uint32_t lvt = l->lvt[LVT_ERROR];
    l->esr_pending |= error;
    if (!(lvt & APIC_LVT_MASKED) && (lvt & APIC_VECTOR_MASK) >= 16)
        lapic_set_irq(l, lvt & APIC_VECTOR_MASK, false);
}

/* §10.8.3.1: deliverable only if its priority class is above the PPR's. */
int lapic_has_interrupt(const struct lapic *l)
{
    int vector = hw_enabled(l) ? highest_bit(l->irr) : -1;
    if (vector < 0 || ((unsigned)vector & 0xf0) <= (lapic_ppr(l) & 0xf0u))
        return -1;
    return vector;
}

void lapic_acknowledge(struct lapic *l, uint8_t vector)
{
    bit_clear(l->irr, vector);
    bit_set(l->isr, vector);
}

bool lapic_take_nmi(struct lapic *l)
{
    bool pending = l->nmi_pending;
    l->nmi_pending = false;
    return pending;
}

/* ---- LINT0/LINT1 (§10.5.1) ----------------------------------------------------- */

static unsigned delivery_mode(uint32_t lvt)
{
    return (lvt & APIC_DELIVERY_MASK) >> APIC_DELIVERY_SHIFT;
}

/* A level-triggered fixed LINT input is held off by remote IRR until its EOI. */
static void lint_fixed(struct lapic *l, unsigned pin, bool level, bool rising)
{
    uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];
    uint8_t vector = *lvt & APIC_VECTOR_MASK;
    if (!(*lvt & APIC_LEVEL_TRIGGERED)) {
        if (rising)
            lapic_set_irq(l, vector, false);
    } else if (level && !(*lvt & APIC_REMOTE_IRR) && lapic_set_irq(l, vector, true)) {
        *lvt |= APIC_REMOTE_IRR;
    }
}

void lapic_set_lint(void *lapic, unsigned pin, bool level)
{
    struct lapic *l = lapic;
    if (pin > 1)
        return;
    bool rising = level && !l->lint_level[pin];
    l->lint_level[pin] = level;
    uint32_t lvt = l->lvt[LVT_LINT0 + pin];
    if (!hw_enabled(l)) {
        /* §10.4.3: without the APIC, LINT0 is INTR and LINT1 is NMI */
        if (pin == 1 && rising)
            l->nmi_pending = true;
        return;
    }
    if (lvt & APIC_LVT_MASKED)
        return;
    if (delivery_mode(lvt) == APIC_FIXED)
        lint_fixed(l, pin, level, rising);
    else if (delivery_mode(lvt) == APIC_NMI && rising)
        l->nmi_pending = true;
    /* ExtINT is polled through lapic_extint_pending; SMI and INIT are not wired */
}

bool lapic_extint_pending(const struct lapic *l)
{
    uint32_t lvt = l->lvt[LVT_LINT0];
    if (!hw_enabled(l))
        return l->lint_level[0];
    return l->lint_level[0] && !(lvt & APIC_LVT_MASKED) && delivery_mode(lvt) == APIC_EXTINT;
}

static void lint_eoi(struct lapic *l, uint8_t vector)
{
    for (unsigned pin = 0; pin < 2; pin++) {
        uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];
        if ((*lvt & APIC_REMOTE_IRR) && (*lvt & APIC_VECTOR_MASK) == vector) {
            *lvt &= ~APIC_REMOTE_IRR;
            lapic_set_lint(l, pin, l->lint_level[pin]);
        }
    }
}

/* §10.8.5: EOI retires the highest in-service vector; a level-triggered one is
 * broadcast so the IOAPIC clears its remote IRR. */
static void write_eoi(struct lapic *l)
{
    int vector = highest_bit(l->isr);
    if (vector < 0)
        return;
    bit_clear(l->isr, (unsigned)vector);
    if (!bit_test(l->tmr, (unsigned)vector))
        return;
    lint_eoi(l, (uint8_t)vector);
    if (l->cfg.eoi_broadcast)
        l->cfg.eoi_broadcast(l->cfg.ctx, (uint8_t)vector);
}

/* ---- Interprocessor interrupts (§10.6) ----------------------------------------- */

/* §10.6.2: physical and logical (flat or cluster, §10.6.2.2; x2APIC §10.12.10.1). */
bool lapic_accepts(const struct lapic *l, uint32_t dest, bool logical)
{
    bool x2 = lapic_x2apic_mode(l);
    if (dest == (x2 ? 0xffffffffu : 0xffu))
        return true;
    if (!logical)
        return dest == apic_id(l);
    if (x2)
        return (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xffff);
    uint32_t ldr = l->ldr >> 24;
    if ((l->dfr >> 28) == 0xf)
        return dest & ldr;
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
}

static bool deliver_here(struct lapic *l, const struct lapic_ipi *ipi)
{
    switch (ipi->delivery_mode) {
    case APIC_FIXED:
    case APIC_LOWEST_PRIORITY:
        lapic_set_irq(l, ipi->vector, ipi->level_triggered);
        return true;
    case APIC_NMI:
        l->nmi_pending = true;
        return true;
    default:        /* INIT, start-up, SMI: the VMM resets or starts the vCPU */
        return false;
    }
}

static void send_ipi(struct lapic *l)
{
    bool x2 = lapic_x2apic_mode(l);
    uint32_t low = l->icr_low;
    struct lapic_ipi ipi = {
        .vector = low & APIC_VECTOR_MASK,
        .delivery_mode = (uint8_t)delivery_mode(low),
        .shorthand = (low >> ICR_SHORTHAND_SHIFT) & 3,
        .logical = low & ICR_LOGICAL,
        .assert = low & APIC_LEVEL_ASSERT,
        .level_triggered = low & APIC_LEVEL_TRIGGERED,
        .x2apic = x2,
        .destination = x2 ? l->icr_high : l->icr_high >> 24,
        .source = apic_id(l),
    };
    if (ipi.delivery_mode <= APIC_LOWEST_PRIORITY && ipi.vector < 16) {
        signal_error(l, ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    bool to_me = ipi.shorthand == SHORTHAND_SELF || ipi.shorthand == SHORTHAND_ALL;
    bool to_others = ipi.shorthand >= SHORTHAND_ALL;
    if (ipi.shorthand == SHORTHAND_NONE) {
        to_me = lapic_accepts(l, ipi.destination, ipi.logical);
        to_others = ipi.logical || ipi.destination != apic_id(l);
    }
    /* With other APICs on the bus, a lowest-priority IPI is theirs to arbitrate. */
    if (to_me && !(ipi.delivery_mode == APIC_LOWEST_PRIORITY && l->cfg.send_ipi))
        ipi.delivered_here = deliver_here(l, &ipi);
    if ((to_others || (to_me && !ipi.delivered_here)) && l->cfg.send_ipi)
        l->cfg.send_ipi(l->cfg.ctx, &ipi);
}

/* ---- Timer (§10.5.4) ----------------------------------------------------------- */

/* a * b / c in 64 bits, saturating; needs (c - 1) * b to fit, true for clocks
 * below 18 GHz against nanoseconds.  round_up gives the ceiling. */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c, bool round_up)
{
    uint64_t q = a / c, r = a % c;
    if (b && q > UINT64_MAX / b)
        return UINT64_MAX;
    uint64_t whole = q * b, part = r * b;
    uint64_t result = whole + part / c + (round_up && part % c);
    return result < whole ? UINT64_MAX : result;
}

static unsigned timer_mode(const struct lapic *l)
{
    return (l->lvt[LVT_TIMER] >> APIC_TIMER_MODE_SHIFT) & 3;
}

/* Divide configuration (Figure 10-10): bits 3,1:0; 111b divides by 1, n by 2^(n+1). */
static unsigned divide_shift(const struct lapic *l)
{
    unsigned code = (l->timer_divide & 3) | ((l->timer_divide >> 1) & 4);
    return (code + 1) & 7;
}

static uint64_t ticks_in(const struct lapic *l, uint64_t ns)
{
    return muldiv(ns, l->cfg.timer_hz, NS_PER_SEC, false) >> divide_shift(l);
}

/* Rounded up, so the interrupt never comes before the count has reached 0. */
static uint64_t ns_for_ticks(const struct lapic *l, uint64_t ticks)
{
    return muldiv(ticks << divide_shift(l), NS_PER_SEC, l->cfg.timer_hz, true);
}

static uint64_t guest_tsc(const struct lapic *l, uint64_t ns)
{
    return muldiv(ns, l->cfg.tsc_hz, NS_PER_SEC, false);
}

static uint64_t timer_expiry(const struct lapic *l)
{
    uint64_t delay = ns_for_ticks(l, l->count_at_base);
    return l->base_time + delay < l->base_time ? UINT64_MAX : l->base_time + delay;
}

static uint32_t timer_current(const struct lapic *l)
{
    if (!l->count_at_base || timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)
        return 0;
    uint64_t elapsed = l->now > l->base_time ? ticks_in(l, l->now - l->base_time) : 0;
    return elapsed >= l->count_at_base ? 0 : l->count_at_base - (uint32_t)elapsed;
}

static void timer_fire(struct lapic *l)
{
    uint32_t lvt = l->lvt[LVT_TIMER];
    if (!(lvt & APIC_LVT_MASKED))
        lapic_set_irq(l, lvt & APIC_VECTOR_MASK, false);
}

static void update_deadline(struct lapic *l, uint64_t now)
{
    if (l->tsc_deadline && guest_tsc(l, now) >= l->tsc_deadline) {
        l->tsc_deadline = 0;
        timer_fire(l);
    }
}

/* A periodic timer reloads at the instant it reached 0; periods that went by
 * without an update are coalesced into the one interrupt. */
static void update_count(struct lapic *l, uint64_t now)
{
    if (!l->count_at_base)
        return;
    uint64_t expiry = timer_expiry(l);
    if (now < expiry)
        return;
    timer_fire(l);
    if (timer_mode(l) == LAPIC_TIMER_PERIODIC && l->timer_initial) {
        uint64_t period = ns_for_ticks(l, l->timer_initial);
        l->base_time = expiry + (now - expiry) / period * period;
        l->count_at_base = l->timer_initial;
    } else {
        l->count_at_base = 0;
    }
}

void lapic_update(struct lapic *l, uint64_t now)
{
    l->now = now;
    if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)
        update_deadline(l, now);
    else
        update_count(l, now);
}

uint64_t lapic_next_event(const struct lapic *l)
{
    if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)
        return l->tsc_deadline ? muldiv(l->tsc_deadline, NS_PER_SEC, l->cfg.tsc_hz, true)
                               : LAPIC_NO_EVENT;
    return l->count_at_base ? timer_expiry(l) : LAPIC_NO_EVENT;
}

/* §10.5.4.1: the initial count is ignored in TSC-deadline mode. */
static void write_timer_initial(struct lapic *l, uint32_t count)
{
    if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)
        return;
    l->timer_initial = count;
    l->count_at_base = count;
    l->base_time = l->now;
}

/* The count left so far is kept; the new divider paces the rest. */
static void write_timer_divide(struct lapic *l, uint32_t value)
{
    uint32_t current = timer_current(l);
    l->timer_divide = value & 0xb;
    if (l->count_at_base && current) {
        l->count_at_base = current;
        l->base_time = l->now;
    }
}

/* §10.5.4.1: in other modes writes to IA32_TSC_DEADLINE are ignored; 0 disarms. */
static void write_tsc_deadline(struct lapic *l, uint64_t deadline)
{
    if (timer_mode(l) != LAPIC_TIMER_TSC_DEADLINE)
        return;
    l->tsc_deadline = deadline;
    update_deadline(l, l->now);
}

/* ---- Registers ----------------------------------------------------------------- */

static bool in_range(unsigned offset, unsigned first, unsigned count)
{
    return offset >= first && offset < first + count * 16;
}

/* §10.4.7.2: while software-disabled, LVT masks cannot be cleared.  Moving into or
 * out of TSC-deadline mode disarms the timer (§10.5.4.1). */
static void write_lvt(struct lapic *l, unsigned index, uint32_t value)
{
    uint32_t old = l->lvt[index];
    value &= lvt_writable[index];
    if (!sw_enabled(l))
        value |= APIC_LVT_MASKED;
    if (index == LVT_LINT0 || index == LVT_LINT1)
        value |= old & APIC_REMOTE_IRR;
    l->lvt[index] = value;
    bool was_deadline = ((old >> APIC_TIMER_MODE_SHIFT) & 3) == LAPIC_TIMER_TSC_DEADLINE;
    if (index == LVT_TIMER && was_deadline != (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)) {
        l->count_at_base = 0;
        l->tsc_deadline = 0;
    }
}

static void write_svr(struct lapic *l, uint32_t value)
{
    l->svr = value & SVR_WRITABLE;
    if (!sw_enabled(l))
        for (unsigned i = 0; i < LAPIC_LVT_COUNT; i++)
            l->lvt[i] |= APIC_LVT_MASKED;
}

/* §10.5.3: a write to the ESR makes the errors since the previous write visible. */
static void write_esr(struct lapic *l)
{
    l->esr = l->esr_pending;
    l->esr_pending = 0;
}

static bool read_register(const struct lapic *l, unsigned offset, uint32_t *value)
{
    switch (offset) {
    case LAPIC_ID:            *value = lapic_x2apic_mode(l) ? l->cfg.id : l->cfg.id << 24; break;
    case LAPIC_VERSION:       *value = VERSION_VALUE; break;
    case LAPIC_TPR:           *value = l->tpr; break;
    case LAPIC_PPR:           *value = lapic_ppr(l); break;
    case LAPIC_APR:
    case LAPIC_EOI:
    case LAPIC_RRD:           *value = 0; break;
    case LAPIC_LDR:           *value = l->ldr; break;
    case LAPIC_DFR:           *value = l->dfr; break;
    case LAPIC_SVR:           *value = l->svr; break;
    case LAPIC_ESR:           *value = l->esr; break;
    case LAPIC_ICR_LOW:       *value = l->icr_low; break;
    case LAPIC_ICR_HIGH:      *value = l->icr_high; break;
    case LAPIC_TIMER_INITIAL: *value = l->timer_initial; break;
    case LAPIC_TIMER_CURRENT: *value = timer_current(l); break;
    case LAPIC_TIMER_DIVIDE:  *value = l->timer_divide; break;
    default:
        if (in_range(offset, LAPIC_ISR, 8))
            *value = l->isr[(offset - LAPIC_ISR) / 16];
        else if (in_range(offset, LAPIC_TMR, 8))
            *value = l->tmr[(offset - LAPIC_TMR) / 16];
        else if (in_range(offset, LAPIC_IRR, 8))
            *value = l->irr[(offset - LAPIC_IRR) / 16];
        else if (in_range(offset, LAPIC_LVT_TIMER, LAPIC_LVT_COUNT))
            *value = l->lvt[(offset - LAPIC_LVT_TIMER) / 16];
        else
            return false;
    }
    return true;
}

/* Read-only registers take the write and keep their value, as the xAPIC page does;
 * the x2APIC path refuses them before they get here. */
static bool write_register(struct lapic *l, unsigned offset, uint32_t value)
{
    switch (offset) {
    case LAPIC_TPR:           l->tpr = value & 0xff; break;
    case LAPIC_EOI:           write_eoi(l); break;
    case LAPIC_LDR:           l->ldr = value & 0xff000000; break;
    case LAPIC_DFR:           l->dfr = value | 0x0fffffff; break;
    case LAPIC_SVR:           write_svr(l, value); break;
    case LAPIC_ESR:           write_esr(l); break;
    case LAPIC_ICR_LOW:       l->icr_low = value & ICR_LOW_WRITABLE; send_ipi(l); break;
    case LAPIC_ICR_HIGH:      l->icr_high = value & 0xff000000; break;
    case LAPIC_TIMER_INITIAL: write_timer_initial(l, value); break;
    case LAPIC_TIMER_DIVIDE:  write_timer_divide(l, value); break;
    case LAPIC_ID:
    case LAPIC_VERSION:
    case LAPIC_APR:
    case LAPIC_PPR:
    case LAPIC_RRD:
    case LAPIC_TIMER_CURRENT: break;
    default:
        if (in_range(offset, LAPIC_LVT_TIMER, LAPIC_LVT_COUNT))
            write_lvt(l, (offset - LAPIC_LVT_TIMER) / 16, value);
        else if (!in_range(offset, LAPIC_ISR, 24))     /* ISR, TMR, IRR: read-only */
            return false;
    }
    return true;
}

/* ---- xAPIC page (§10.4.1) ------------------------------------------------------ */

/* An overdue timer fires before the guest sees the registers. */
static void catch_up(struct lapic *l)
{
    if (l->cfg.clock)
        lapic_update(l, l->cfg.clock(l->cfg.clock_ctx));
}

/* Registers sit on 16-byte boundaries; a narrower read inside the first dword
 * returns part of it, anything else is not a register. */
static uint64_t lapic_mmio_read(void *dev, uint64_t offset, unsigned size)
{
    struct lapic *l = dev;
    unsigned within = offset & 0xf;
    uint32_t value;
    if (!xapic_mode(l) || offset >= LAPIC_WINDOW_SIZE || within + size > 4)
        return 0;
    catch_up(l);
    if (!read_register(l, (unsigned)offset - within, &value)) {
        signal_error(l, ESR_ILLEGAL_REGISTER);
        return 0;
    }
    value >>= 8 * within;
    return size >= 4 ? value : value & ((1u << (8 * size)) - 1);
}

static void lapic_mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapic *l = dev;
    if (!xapic_mode(l) || offset >= LAPIC_WINDOW_SIZE || (offset & 0xf) || size != 4)
        return;
    catch_up(l);
    if (!write_register(l, (unsigned)offset, (uint32_t)value))
        signal_error(l, ESR_ILLEGAL_REGISTER);
}

static void lapic_mmio_reset(void *dev)
{
    lapic_reset(dev);
}

const struct device_ops lapic_mmio_ops = { "lapic", lapic_mmio_read, lapic_mmio_write, lapic_mmio_reset };

/* ---- MSRs ---------------------------------------------------------------------- */

enum { X2_READ = 1, X2_WRITE = 2, X2_BOTH = 3 };

/* Table 10-6: which registers x2APIC mode has and which way they go.  APR, RRD,
 * DFR and the ICR's high half do not exist there. */
static unsigned x2apic_access(unsigned offset)
{
    switch (offset) {
    case LAPIC_ID:
    case LAPIC_VERSION:
    case LAPIC_PPR:
    case LAPIC_LDR:
    case LAPIC_TIMER_CURRENT:
        return X2_READ;
    case LAPIC_EOI:
    case LAPIC_SELF_IPI:
        return X2_WRITE;
    case LAPIC_TPR:
    case LAPIC_SVR:
    case LAPIC_ESR:
    case LAPIC_ICR_LOW:
    case LAPIC_TIMER_INITIAL:
    case LAPIC_TIMER_DIVIDE:
        return X2_BOTH;
    default:
        if (in_range(offset, LAPIC_ISR, 24))
            return X2_READ;
        return in_range(offset, LAPIC_LVT_TIMER, LAPIC_LVT_COUNT) ? X2_BOTH : 0;
    }
}

/* §10.12.1.3 and Table 10-6: #GP for reserved bits, and for a non-zero write to
 * EOI or ESR. */
static bool x2apic_write(struct lapic *l, unsigned offset, uint64_t value)
{
    if (!(x2apic_access(offset) & X2_WRITE))
        return false;
    if (offset == LAPIC_ICR_LOW) {
        l->icr_high = (uint32_t)(value >> 32);
        l->icr_low = (uint32_t)value & ICR_LOW_WRITABLE;
        send_ipi(l);
        return true;
    }
    if ((value >> 32) || ((offset == LAPIC_EOI || offset == LAPIC_ESR) && value))
        return false;
    if ((offset == LAPIC_TPR || offset == LAPIC_SELF_IPI) && value > 0xff)
        return false;
    if (offset == LAPIC_SELF_IPI) {     /* §10.12.11: fixed, edge, to this APIC */
        lapic_set_irq(l, (uint8_t)value, false);
        return true;
    }
    return write_register(l, offset, (uint32_t)value);
}

/* §10.12.5, Table 10-5: EXTD needs EN; x2APIC is left only by disabling, and
 * reached only from xAPIC mode.  Disabling loses the register state (§10.4.3). */
static bool write_apic_base(struct lapic *l, uint64_t value)
{
    const uint64_t valid = APIC_BASE_ADDRESS_MASK | APIC_BASE_ENABLE | APIC_BASE_X2APIC | APIC_BASE_BSP;
    bool enable = value & APIC_BASE_ENABLE, x2 = value & APIC_BASE_X2APIC;
    if ((value & ~valid) || (x2 && !enable))
        return false;
    if ((lapic_x2apic_mode(l) && enable && !x2) || (!hw_enabled(l) && x2))
        return false;
    bool entering_x2apic = x2 && !lapic_x2apic_mode(l);
    l->apic_base = (value & ~(uint64_t)APIC_BASE_BSP) | (l->apic_base & APIC_BASE_BSP);
    if (!enable)
        reset_registers(l);
    if (entering_x2apic)
        l->ldr = x2apic_ldr(l->cfg.id);
    return true;
}

bool lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value)
{
    catch_up(l);
    if (msr == MSR_IA32_APIC_BASE) {
        *value = l->apic_base;
        return true;
    }
    if (msr == MSR_IA32_TSC_DEADLINE) {
        *value = timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
        return true;
    }
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !lapic_x2apic_mode(l))
        return false;
    unsigned offset = (msr - MSR_X2APIC_FIRST) << 4;
    uint32_t v;
    if (!(x2apic_access(offset) & X2_READ))
        return false;
    if (offset == LAPIC_ICR_LOW) {
        *value = (uint64_t)l->icr_high << 32 | l->icr_low;
        return true;
    }
    read_register(l, offset, &v);
    *value = v;
    return true;
}

bool lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value)
{
    catch_up(l);
    if (msr == MSR_IA32_APIC_BASE)
        return write_apic_base(l, value);
    if (msr == MSR_IA32_TSC_DEADLINE) {
        write_tsc_deadline(l, value);
        return true;
    }
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !lapic_x2apic_mode(l))
        return false;
    return x2apic_write(l, (msr - MSR_X2APIC_FIRST) << 4, value);
}
