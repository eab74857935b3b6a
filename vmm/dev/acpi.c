/*
 * ACPI tables and fixed hardware (ACPI spec 6.x).  The builder lays the tables out in
 * one buffer the VMM then copies into guest memory: RSDP first (so a buffer placed in
 * 0xe0000-0xfffff is found by the BIOS-area scan, §5.2.5.1), then DSDT, FACS, FADT,
 * MADT and XSDT.  Fields are written byte by byte: the layouts are the spec's, with no
 * padding and no alignment, so no C struct describes them portably.
 */
#include "acpi.h"

#define NS_PER_SEC          1000000000ull
#define HEADER_LENGTH       36          /* §5.2.6 system description table header */
#define RSDP_LENGTH         36
#define FACS_LENGTH         64
#define FADT_LENGTH         276         /* revision 6 */
#define MAX_EXTRA_AML       0x100000u

/* ---- Bytes --------------------------------------------------------------------- */

static void put(uint8_t *p, unsigned bytes, uint64_t value)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

static void put_text(uint8_t *p, const char *text, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)text[i];
}

static void copy(uint8_t *p, const uint8_t *from, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        p[i] = from[i];
}

/* The byte that makes the sum of all bytes 0 mod 256, its own place counted as 0. */
static uint8_t checksum(const uint8_t *p, size_t length)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum += p[i];
    return (uint8_t)-sum;
}

/* ---- Space in the buffer ------------------------------------------------------- */

struct builder {
    const struct acpi_config *cfg;
    uint8_t *buf;
    size_t size, used;
    bool full;
};

/* Zeroed space aligned in guest-physical terms; NULL once the buffer is full. */
static uint8_t *reserve(struct builder *b, size_t length, uint64_t align, uint64_t *gpa)
{
    uint64_t base = b->cfg->guest_address;
    size_t start = (size_t)(((base + b->used + align - 1) & ~(align - 1)) - base);
    if (b->full || start > b->size || length > b->size - start) {
        b->full = true;
        *gpa = 0;
        return NULL;
    }
    for (size_t i = b->used; i < start + length; i++)
        b->buf[i] = 0;
    b->used = start + length;
    *gpa = base + start;
    return b->buf + start;
}

/* §5.2.6; the checksum goes in last, by seal(). */
static void header(uint8_t *t, const char *signature, uint32_t length, uint8_t revision)
{
    put_text(t, signature, 4);
    put(t + 4, 4, length);
    t[8] = revision;
    put_text(t + 10, "PITH  ", 6);          /* OEMID */
    put_text(t + 16, "PITHVMM ", 8);        /* OEM table ID */
    put(t + 24, 4, 1);                      /* OEM revision */
    put_text(t + 28, "PITH", 4);            /* creator ID */
    put(t + 32, 4, 1);                      /* creator revision */
}

static void seal(uint8_t *t, uint32_t length)
{
    t[9] = checksum(t, length);
}

/* §5.2.3.2 Generic Address Structure for a register in system I/O space. */
enum { ACCESS_BYTE = 1, ACCESS_WORD = 2, ACCESS_DWORD = 3 };

static void gas_io(uint8_t *g, uint8_t bits, uint8_t access, uint16_t port)
{
    g[0] = 1;                               /* address space: system I/O */
    g[1] = bits;
    g[2] = 0;                               /* bit offset */
    g[3] = access;
    put(g + 4, 8, port);
}

/* ---- DSDT (§5.2.11.1) ---------------------------------------------------------- */

/*
 * Name (\_S5, Package () { 5, 5, 0, 0 }) in AML (§20.2): what OSPM writes to SLP_TYP
 * in PM1a and PM1b control to enter soft-off (§7.4.2), and two reserved elements.
 */
static const uint8_t s5_aml[] = {
    0x08,                       /* NameOp */
    '_', 'S', '5', '_',         /* NameSeg, in the root scope */
    0x12,                       /* PackageOp */
    0x08,                       /* PkgLength: 8 bytes, counting itself, to the end */
    0x04,                       /* NumElements */
    0x0a, ACPI_SLP_TYP_S5,      /* BytePrefix 5: SLP_TYPa */
    0x0a, ACPI_SLP_TYP_S5,      /* BytePrefix 5: SLP_TYPb */
    0x00,                       /* ZeroOp: reserved */
    0x00,                       /* ZeroOp: reserved */
};

static uint64_t build_dsdt(struct builder *b)
{
    const struct acpi_config *c = b->cfg;
    uint32_t length = HEADER_LENGTH + sizeof(s5_aml) + (uint32_t)c->extra_aml_length;
    uint64_t gpa;
    uint8_t *t = reserve(b, length, 8, &gpa);
    if (!t)
        return 0;
    header(t, "DSDT", length, 2);           /* revision 2: 64-bit AML integers */
    copy(t + HEADER_LENGTH, s5_aml, sizeof(s5_aml));
    copy(t + HEADER_LENGTH + sizeof(s5_aml), c->extra_aml, c->extra_aml_length);
    seal(t, length);
    return gpa;
}

/* ---- FACS (§5.2.10) ------------------------------------------------------------ */

/* Required unless hardware-reduced; 64-byte aligned; no checksum.  It holds the
 * waking vector and the global lock, neither of which this platform uses. */
static uint64_t build_facs(struct builder *b)
{
    uint64_t gpa;
    uint8_t *t = reserve(b, FACS_LENGTH, 64, &gpa);
    if (!t)
        return 0;
    put_text(t, "FACS", 4);
    put(t + 4, 4, FACS_LENGTH);
    t[32] = 2;                              /* version */
    return gpa;
}

/* ---- FADT (§5.2.9) ------------------------------------------------------------- */

/* Flags (Table 5.10) */
#define FADT_WBINVD         (1u << 0)
#define FADT_PROC_C1        (1u << 2)
#define FADT_SLP_BUTTON     (1u << 5)       /* no fixed-feature sleep button */
#define FADT_FIX_RTC        (1u << 6)       /* no RTC wake status in PM1 */
#define FADT_TMR_VAL_EXT    (1u << 8)
#define FADT_RESET_REG_SUP  (1u << 10)

static uint32_t fadt_flags(const struct acpi_config *c)
{
    uint32_t flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC;
    if (c->pm_timer_32bit)
        flags |= FADT_TMR_VAL_EXT;
    if (c->reset_port)
        flags |= FADT_RESET_REG_SUP;
    return flags;
}

/* No SMI command port: the platform is always in ACPI mode (SCI_EN reads 1).  The
 * power button is a fixed feature (PWR_BUTTON clear), so the host can ask for a clean
 * shutdown.  Both the 32-bit and the X_ fields are filled so that any OSPM agrees. */
static uint64_t build_fadt(struct builder *b, uint64_t facs, uint64_t dsdt)
{
    const struct acpi_config *c = b->cfg;
    uint64_t gpa;
    uint8_t *t = reserve(b, FADT_LENGTH, 8, &gpa);
    if (!t)
        return 0;
    header(t, "FACP", FADT_LENGTH, 6);
    put(t + 40, 4, dsdt < 0x100000000ull ? dsdt : 0);      /* DSDT */
    put(t + 46, 2, c->sci_irq);                             /* SCI_INT */
    put(t + 56, 4, c->pm_base + ACPI_PM1_STATUS);           /* PM1a_EVT_BLK */
    put(t + 64, 4, c->pm_base + ACPI_PM1_CONTROL);          /* PM1a_CNT_BLK */
    put(t + 76, 4, c->pm_base + ACPI_PM_TIMER);             /* PM_TMR_BLK */
    t[88] = 4;                                              /* PM1_EVT_LEN */
    t[89] = 2;                                              /* PM1_CNT_LEN */
    t[91] = 4;                                              /* PM_TMR_LEN */
    put(t + 96, 2, 0x0fff);     /* P_LVL2_LAT above 100: no C2 */
    put(t + 98, 2, 0x0fff);     /* P_LVL3_LAT above 1000: no C3 */
    put(t + 109, 2, c->boot_arch);                          /* IAPC_BOOT_ARCH */
    put(t + 112, 4, fadt_flags(c));
    if (c->reset_port) {
        gas_io(t + 116, 8, ACCESS_BYTE, c->reset_port);     /* RESET_REG */
        t[128] = c->reset_value;
    }
    put(t + 132, 8, facs);      /* X_FIRMWARE_CTRL; FIRMWARE_CTRL must then be 0 */
    put(t + 140, 8, dsdt);                                  /* X_DSDT */
    gas_io(t + 148, 32, ACCESS_WORD, c->pm_base + ACPI_PM1_STATUS);     /* X_PM1a_EVT_BLK */
    gas_io(t + 172, 16, ACCESS_WORD, c->pm_base + ACPI_PM1_CONTROL);    /* X_PM1a_CNT_BLK */
    gas_io(t + 208, 32, ACCESS_DWORD, c->pm_base + ACPI_PM_TIMER);      /* X_PM_TMR_BLK */
    seal(t, FADT_LENGTH);
    return gpa;
}

/* ---- MADT (§5.2.12) ------------------------------------------------------------ */

#define MADT_PCAT_COMPAT        1u      /* 8259s present too */
#define MPS_ACTIVE_HIGH         0x1u    /* MPS INTI flags, Table 5.26 */
#define MPS_EDGE                0x4u
#define MPS_LEVEL               0xcu

static uint8_t *madt_local_apic(uint8_t *e, unsigned cpu)
{
    e[0] = 0;                               /* Processor Local APIC, §5.2.12.2 */
    e[1] = 8;
    e[2] = (uint8_t)cpu;                    /* ACPI processor UID */
    e[3] = (uint8_t)cpu;                    /* APIC ID */
    put(e + 4, 4, 1);                       /* enabled */
    return e + 8;
}

static uint8_t *madt_ioapic(uint8_t *e, const struct acpi_config *c)
{
    e[0] = 1;                               /* I/O APIC, §5.2.12.3 */
    e[1] = 12;
    e[2] = c->ioapic_id;
    put(e + 4, 4, c->ioapic_address);
    put(e + 8, 4, c->ioapic_gsi_base);
    return e + 12;
}

static uint8_t *madt_override(uint8_t *e, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    e[0] = 2;                               /* Interrupt Source Override, §5.2.12.5 */
    e[1] = 10;
    e[2] = 0;                               /* bus: ISA */
    e[3] = irq;
    put(e + 4, 4, gsi);
    put(e + 8, 2, flags);
    return e + 10;
}

static uint8_t *madt_lapic_nmi(uint8_t *e)
{
    e[0] = 4;                               /* Local APIC NMI, §5.2.12.7 */
    e[1] = 6;
    e[2] = 0xff;                            /* all processors */
    put(e + 3, 2, MPS_ACTIVE_HIGH | MPS_EDGE);
    e[5] = 1;                               /* LINT1 */
    return e + 6;
}

/* IRQ 0 (the PIT) arrives on pin 2, as on every PC since the first IOAPIC boards;
 * the SCI is level-triggered and, in this platform's terms, active high. */
static uint64_t build_madt(struct builder *b)
{
    const struct acpi_config *c = b->cfg;
    uint32_t length = HEADER_LENGTH + 8 + 8 * c->cpus + 12 + 2 * 10 + 6;
    uint64_t gpa;
    uint8_t *t = reserve(b, length, 8, &gpa);
    if (!t)
        return 0;
    header(t, "APIC", length, 5);
    put(t + 36, 4, c->lapic_address);
    put(t + 40, 4, MADT_PCAT_COMPAT);
    uint8_t *e = t + HEADER_LENGTH + 8;
    for (unsigned cpu = 0; cpu < c->cpus; cpu++)
        e = madt_local_apic(e, cpu);
    e = madt_ioapic(e, c);
    e = madt_override(e, 0, c->ioapic_gsi_base + 2, 0);
    e = madt_override(e, c->sci_irq, c->ioapic_gsi_base + c->sci_irq, MPS_ACTIVE_HIGH | MPS_LEVEL);
    madt_lapic_nmi(e);
    seal(t, length);
    return gpa;
}

/* ---- XSDT and RSDP (§5.2.8, §5.2.5.3) ------------------------------------------ */

static uint64_t build_xsdt(struct builder *b, uint64_t fadt, uint64_t madt)
{
    uint32_t length = HEADER_LENGTH + 2 * 8;
    uint64_t gpa;
    uint8_t *t = reserve(b, length, 8, &gpa);
    if (!t)
        return 0;
    header(t, "XSDT", length, 1);
    put(t + HEADER_LENGTH, 8, fadt);
    put(t + HEADER_LENGTH + 8, 8, madt);
    seal(t, length);
    return gpa;
}

/* Revision 2 with no RSDT: a 64-bit OSPM reads the XSDT. */
static void fill_rsdp(uint8_t *r, uint64_t xsdt)
{
    put_text(r, "RSD PTR ", 8);
    put_text(r + 9, "PITH  ", 6);
    r[15] = 2;                              /* revision */
    put(r + 20, 4, RSDP_LENGTH);
    put(r + 24, 8, xsdt);
    r[8] = checksum(r, 20);                 /* the ACPI 1.0 part */
    r[32] = checksum(r, RSDP_LENGTH);       /* the whole, first checksum included */
}

static bool config_valid(const struct acpi_config *c)
{
    return c->cpus >= 1 && c->cpus <= ACPI_MAX_CPUS && (c->guest_address & 15) == 0 &&
           c->sci_irq >= 1 && c->sci_irq <= 15 && c->sci_irq != 2 &&
           c->extra_aml_length <= MAX_EXTRA_AML && (c->extra_aml || !c->extra_aml_length);
}

bool acpi_build_tables(const struct acpi_config *cfg, uint8_t *buf, size_t size,
                       struct acpi_tables *out)
{
    if (!config_valid(cfg))
        return false;
    struct builder b = { .cfg = cfg, .buf = buf, .size = size };
    struct acpi_tables t = { 0 };
    uint8_t *rsdp = reserve(&b, RSDP_LENGTH, 16, &t.rsdp);
    t.dsdt = build_dsdt(&b);
    t.facs = build_facs(&b);
    t.fadt = build_fadt(&b, t.facs, t.dsdt);
    t.madt = build_madt(&b);
    t.xsdt = build_xsdt(&b, t.fadt, t.madt);
    if (b.full)
        return false;
    fill_rsdp(rsdp, t.xsdt);
    t.length = b.used;
    *out = t;
    return true;
}

void acpi_default_config(struct acpi_config *cfg, unsigned cpus, uint64_t guest_address)
{
    *cfg = (struct acpi_config){
        .guest_address = guest_address, .cpus = cpus,
        .lapic_address = 0xfee00000, .ioapic_id = 0, .ioapic_address = 0xfec00000,
        .pm_base = ACPI_PM_DEFAULT_BASE, .sci_irq = 9, .pm_timer_32bit = true,
        .reset_port = 0xcf9, .reset_value = 0x06,
        .boot_arch = ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042 | ACPI_BOOT_NO_VGA,
    };
}

/* ---- PM1a event and control, PM timer (§4.8.3) --------------------------------- */

/* RTC_EN is storage only: Linux's rtc-cmos enables the RTC fixed event even with
 * FADT.FIX_RTC set, and reports an ACPI error when the bit does not stick. */
#define PM1_EVENTS          (ACPI_PM1_TIMER | ACPI_PM1_GLOBAL | ACPI_PM1_POWER_BUTTON | ACPI_PM1_RTC)
#define PM1_CONTROL_KEPT    0x1c02u     /* BM_RLD and SLP_TYP; GBL_RLS and SLP_EN are write-only */

/* §5.6: the SCI is a shared level interrupt, up while any enabled event is pending. */
static void update_sci(struct acpi_pm *pm)
{
    bool level = pm->status & pm->enable & PM1_EVENTS;
    if (level != pm->sci_level) {
        pm->sci_level = level;
        irq_line_set(&pm->sci, level);
    }
}

void acpi_pm_init(struct acpi_pm *pm, bool timer_32bit, struct irq_line sci,
                  void (*power_off)(void *ctx), void *ctx,
                  uint64_t (*clock)(void *ctx), void *clock_ctx)
{
    *pm = (struct acpi_pm){
        .timer_32bit = timer_32bit, .sci = sci, .power_off = power_off, .ctx = ctx,
        .clock = clock, .clock_ctx = clock_ctx,
    };
}

/* §4.8.3.3: a free-running 3.579545 MHz count of 24 or 32 bits (TMR_VAL_EXT). */
uint32_t acpi_pm_timer(const struct acpi_pm *pm, uint64_t now)
{
    uint64_t ticks = (now / NS_PER_SEC) * ACPI_PM_TIMER_HZ +
                     (now % NS_PER_SEC) * ACPI_PM_TIMER_HZ / NS_PER_SEC;
    return pm->timer_32bit ? (uint32_t)ticks : (uint32_t)ticks & 0xffffff;
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
    pm->status |= ACPI_PM1_POWER_BUTTON;
    update_sci(pm);
}

/* §4.8.3.2.1 and §7.4.2: SLP_EN with \_S5's SLP_TYP is soft-off.  There are no other
 * sleep states; the machine wakes at once from any other request. */
static void write_control(struct acpi_pm *pm, uint16_t value, uint16_t written)
{
    pm->control = (uint16_t)((pm->control & ~written) | (value & written & PM1_CONTROL_KEPT));
    if (!(value & written & ACPI_PM1_SLP_EN))
        return;
    unsigned slp_typ = (pm->control >> ACPI_PM1_SLP_TYP_SHIFT) & 7;
    if (slp_typ == ACPI_SLP_TYP_S5 && pm->power_off)
        pm->power_off(pm->ctx);
    else
        pm->status |= ACPI_PM1_WAKE;
}

/* Status bits are cleared by writing 1 (§4.8.3.1.1). */
static void write_register(struct acpi_pm *pm, unsigned offset, uint16_t value, uint16_t written)
{
    switch (offset) {
    case ACPI_PM1_STATUS:
        pm->status &= (uint16_t)~(value & written);
        break;
    case ACPI_PM1_ENABLE:
        pm->enable = (uint16_t)((pm->enable & ~written) | (value & written & PM1_EVENTS));
        break;
    case ACPI_PM1_CONTROL:
        write_control(pm, value, written);
        break;
    }
    update_sci(pm);
}

/* The registers are 16 bits wide but any width of access lands: each register gets
 * the bytes of the access that overlap it. */
static void acpi_pm_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    for (unsigned reg = 0; reg < ACPI_PM_TIMER; reg += 2) {
        uint16_t v = 0, written = 0;
        for (unsigned i = 0; i < size; i++) {
            uint64_t at = offset + i;
            if (at != reg && at != reg + 1)
                continue;
            unsigned shift = 8 * (unsigned)(at - reg);
            v |= (uint16_t)(((value >> (8 * i)) & 0xff) << shift);
            written |= (uint16_t)(0xff << shift);
        }
        if (written)
            write_register(dev, reg, v, written);
    }
}

static uint64_t acpi_pm_read(void *dev, uint64_t offset, unsigned size)
{
    struct acpi_pm *pm = dev;
    uint8_t regs[ACPI_PM_WINDOW_SIZE] = { 0 };
    put(regs + ACPI_PM1_STATUS, 2, pm->status);
    put(regs + ACPI_PM1_ENABLE, 2, pm->enable);
    put(regs + ACPI_PM1_CONTROL, 2, pm->control | ACPI_PM1_SCI_EN);
    if (offset + size > ACPI_PM_TIMER && pm->clock)
        put(regs + ACPI_PM_TIMER, 4, acpi_pm_timer(pm, pm->clock(pm->clock_ctx)));
    uint64_t value = 0;
    for (unsigned i = 0; i < size && offset + i < ACPI_PM_WINDOW_SIZE; i++)
        value |= (uint64_t)regs[offset + i] << (8 * i);
    return value;
}

static void acpi_pm_reset(void *dev)
{
    struct acpi_pm *pm = dev;
    pm->status = pm->enable = pm->control = 0;
    update_sci(pm);
}

const struct device_ops acpi_pm_ops = { "acpi-pm", acpi_pm_read, acpi_pm_write, acpi_pm_reset };
