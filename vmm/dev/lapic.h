/*
 * The local APIC of one vCPU (Intel SDM Vol. 3A ch. 10 "Advanced Programmable Interrupt
 * Controller"; ch. 11 in newer editions): the xAPIC register page, the same registers
 * as x2APIC MSRs, IA32_APIC_BASE, the timer (one-shot, periodic, TSC-deadline), and
 * interrupt acceptance, priority, acknowledge and EOI.
 *
 * Time: every register access (MMIO or MSR) first reads guest time from the clock
 * callback and brings the timer up to date; the VMM also calls lapic_update(now) when
 * lapic_next_event() comes due.  Without a clock, accesses see the time of the last
 * lapic_update.  The guest TSC is taken to be now * tsc_hz / 1e9 (0 at guest time 0).
 */
#ifndef VMM_LAPIC_H
#define VMM_LAPIC_H

#include "device.h"

#define LAPIC_DEFAULT_BASE      0xfee00000u
#define LAPIC_WINDOW_SIZE       0x1000u
#define LAPIC_NO_EVENT          UINT64_MAX

#define MSR_IA32_APIC_BASE      0x01b
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define MSR_X2APIC_FIRST        0x800   /* MSR 0x800 + (xAPIC offset >> 4), §10.12.1.2 */
#define MSR_X2APIC_LAST         0x8ff

#define APIC_BASE_BSP           (1u << 8)
#define APIC_BASE_X2APIC        (1u << 10)      /* EXTD */
#define APIC_BASE_ENABLE        (1u << 11)      /* EN */

/* xAPIC register offsets in the 4 KiB page (SDM Table 10-1). */
enum lapic_register {
    LAPIC_ID = 0x020, LAPIC_VERSION = 0x030, LAPIC_TPR = 0x080, LAPIC_APR = 0x090,
    LAPIC_PPR = 0x0a0, LAPIC_EOI = 0x0b0, LAPIC_RRD = 0x0c0, LAPIC_LDR = 0x0d0,
    LAPIC_DFR = 0x0e0, LAPIC_SVR = 0x0f0, LAPIC_ISR = 0x100, LAPIC_TMR = 0x180,
    LAPIC_IRR = 0x200, LAPIC_ESR = 0x280, LAPIC_ICR_LOW = 0x300, LAPIC_ICR_HIGH = 0x310,
    LAPIC_LVT_TIMER = 0x320, LAPIC_LVT_THERMAL = 0x330, LAPIC_LVT_PERF = 0x340,
    LAPIC_LVT_LINT0 = 0x350, LAPIC_LVT_LINT1 = 0x360, LAPIC_LVT_ERROR = 0x370,
    LAPIC_TIMER_INITIAL = 0x380, LAPIC_TIMER_CURRENT = 0x390, LAPIC_TIMER_DIVIDE = 0x3e0,
    LAPIC_SELF_IPI = 0x3f0,     /* x2APIC only */
};

/* Fields of LVT entries, the ICR and redirection messages (SDM Figures 10-8, 10-12). */
#define APIC_VECTOR_MASK        0xffu
#define APIC_DELIVERY_SHIFT     8
#define APIC_DELIVERY_MASK      (7u << APIC_DELIVERY_SHIFT)
#define APIC_DELIVERY_STATUS    (1u << 12)
#define APIC_LEVEL_ASSERT       (1u << 14)      /* ICR */
#define APIC_REMOTE_IRR         (1u << 14)      /* LVT LINT0/1 */
#define APIC_LEVEL_TRIGGERED    (1u << 15)
#define APIC_LVT_MASKED         (1u << 16)
#define APIC_TIMER_MODE_SHIFT   17

enum apic_delivery_mode {
    APIC_FIXED = 0, APIC_LOWEST_PRIORITY = 1, APIC_SMI = 2, APIC_NMI = 4,
    APIC_INIT = 5, APIC_STARTUP = 6, APIC_EXTINT = 7,
};

enum lapic_timer_mode { LAPIC_TIMER_ONESHOT = 0, LAPIC_TIMER_PERIODIC = 1, LAPIC_TIMER_TSC_DEADLINE = 2 };

/* An interprocessor interrupt this APIC cannot complete alone (SDM §10.6.1). */
struct lapic_ipi {
    uint8_t vector;
    uint8_t delivery_mode;      /* enum apic_delivery_mode */
    uint8_t shorthand;          /* 0 none, 1 self, 2 all including self, 3 all excluding self */
    bool logical;               /* destination is a logical address */
    bool assert;                /* INIT level de-assert has this false */
    bool level_triggered;
    bool x2apic;                /* destination is 32 bits wide, else 8 */
    bool delivered_here;        /* this APIC has already taken its own copy */
    uint32_t destination;
    uint32_t source;            /* APIC ID of the sender */
};

struct lapic_config {
    uint32_t id;                /* initial APIC ID (the vCPU index) */
    bool bsp;
    uint64_t timer_hz;          /* the timer's input clock before the divider */
    uint64_t tsc_hz;
    /* An IPI for other CPUs, or INIT/SIPI/SMI for this one; may be NULL. */
    void (*send_ipi)(void *ctx, const struct lapic_ipi *ipi);
    /* EOI of a level-triggered vector: what the IOAPIC needs to clear remote IRR. */
    void (*eoi_broadcast)(void *ctx, uint8_t vector);
    void *ctx;
    uint64_t (*clock)(void *ctx);       /* guest time in ns; may be NULL */
    void *clock_ctx;
};

#define LAPIC_LVT_COUNT 6       /* timer, thermal, perf, LINT0, LINT1, error */

struct lapic {
    struct lapic_config cfg;
    uint64_t apic_base;
    uint32_t tpr, ldr, dfr, svr;
    uint32_t esr, esr_pending;          /* visible ESR; errors since the last ESR write */
    uint32_t icr_low, icr_high;
    uint32_t lvt[LAPIC_LVT_COUNT];
    uint32_t isr[8], tmr[8], irr[8];    /* 256-bit registers, bit n = vector n */
    bool lint_level[2];
    bool nmi_pending;
    /* timer: count_at_base counts down from base_time; 0 = not running */
    uint32_t timer_initial, timer_divide;
    uint32_t count_at_base;
    uint64_t base_time;
    uint64_t tsc_deadline;
    uint64_t now;
};

extern const struct device_ops lapic_mmio_ops;  /* window: LAPIC_WINDOW_SIZE at lapic_mmio_base() */

void lapic_init(struct lapic *l, const struct lapic_config *cfg);
void lapic_reset(struct lapic *l);              /* power-up/RESET state, §10.4.7.1 */
/* What firmware leaves on the BSP: LINT0 ExtINT (the 8259 behind it), LINT1 NMI
 * (MP spec 1.4 §3.6.2.2 virtual wire mode). */
void lapic_enable_virtual_wire(struct lapic *l);

uint64_t lapic_mmio_base(const struct lapic *l);
bool lapic_x2apic_mode(const struct lapic *l);

/* MSRs 0x1b, 0x6e0, 0x800-0x8ff.  false: the access raises #GP. */
bool lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value);
bool lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value);

/* Time */
void lapic_update(struct lapic *l, uint64_t now);
uint64_t lapic_next_event(const struct lapic *l);

/* Interrupts in: from the IOAPIC, another CPU's IPI, an MSI.  false: not accepted. */
bool lapic_set_irq(struct lapic *l, uint8_t vector, bool level_triggered);
/* The LINT0/LINT1 pins; with an irq_line's signature so a PIC can drive LINT0. */
void lapic_set_lint(void *lapic, unsigned pin, bool level);

/* §10.6.2: is this APIC among the destinations of a physical or logical address? */
bool lapic_accepts(const struct lapic *l, uint32_t dest, bool logical);

/* Interrupts out, to the vCPU */
int lapic_has_interrupt(const struct lapic *l);     /* vector to inject, or -1 */
void lapic_acknowledge(struct lapic *l, uint8_t vector);
bool lapic_extint_pending(const struct lapic *l);   /* ask the 8259 for the vector */
bool lapic_take_nmi(struct lapic *l);
uint8_t lapic_ppr(const struct lapic *l);

#endif
