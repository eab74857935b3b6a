/* ACPI: the tables parse back as the spec lays them out, and the PM registers work. */
#include "harness.h"
#include "dev/acpi.h"

#define BASE 0xe0000ull

static uint8_t buf[8192];

static uint64_t get(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static const uint8_t *table(uint64_t gpa) { return buf + (gpa - BASE); }

static unsigned sum(const uint8_t *p, size_t length)
{
    unsigned s = 0;
    for (size_t i = 0; i < length; i++)
        s += p[i];
    return s & 0xff;
}

static bool build(unsigned cpus, struct acpi_tables *t)
{
    struct acpi_config cfg;
    acpi_default_config(&cfg, cpus, BASE);
    memset(buf, 0xa5, sizeof(buf));         /* the builder must not rely on zeroed memory */
    return acpi_build_tables(&cfg, buf, sizeof(buf), t);
}

static void rsdp(void)
{
    struct acpi_tables t;
    CHECK(build(1, &t));
    CHECK_EQ(t.rsdp, BASE);
    const uint8_t *r = table(t.rsdp);
    CHECK(memcmp(r, "RSD PTR ", 8) == 0);
    CHECK_EQ(sum(r, 20), 0);                /* ACPI 1.0 checksum */
    CHECK_EQ(sum(r, 36), 0);                /* extended checksum */
    CHECK_EQ(r[15], 2);
    CHECK_EQ(get(r + 16, 4), 0);            /* no RSDT */
    CHECK_EQ(get(r + 20, 4), 36);
    CHECK_EQ(get(r + 24, 8), t.xsdt);
    CHECK(t.length <= sizeof(buf));
}

static void every_table_checks_out(void)
{
    static const struct { const char *sig; size_t offset; } expect[] = {
        { "XSDT", offsetof(struct acpi_tables, xsdt) }, { "FACP", offsetof(struct acpi_tables, fadt) },
        { "APIC", offsetof(struct acpi_tables, madt) }, { "DSDT", offsetof(struct acpi_tables, dsdt) },
    };
    struct acpi_tables t;
    CHECK(build(4, &t));
    for (unsigned i = 0; i < 4; i++) {
        uint64_t gpa;
        memcpy(&gpa, (const char *)&t + expect[i].offset, sizeof(gpa));
        const uint8_t *p = table(gpa);
        CHECK(memcmp(p, expect[i].sig, 4) == 0);
        CHECK_EQ(sum(p, get(p + 4, 4)), 0);
        CHECK(gpa + get(p + 4, 4) <= BASE + t.length);
        CHECK(memcmp(p + 10, "PITH  ", 6) == 0);
    }
    CHECK_EQ(get(table(t.fadt) + 4, 4), 276);
    CHECK_EQ(table(t.fadt)[8], 6);
    const uint8_t *x = table(t.xsdt);
    CHECK_EQ(get(x + 4, 4), 36 + 16);
    CHECK_EQ(get(x + 36, 8), t.fadt);
    CHECK_EQ(get(x + 44, 8), t.madt);
}

static void madt_parses_back(void)
{
    struct acpi_tables t;
    CHECK(build(3, &t));
    const uint8_t *m = table(t.madt);
    CHECK_EQ(get(m + 36, 4), 0xfee00000);
    CHECK_EQ(get(m + 40, 4), 1);                            /* PCAT_COMPAT */
    unsigned cpus = 0, ioapics = 0, overrides = 0, nmis = 0;
    size_t length = get(m + 4, 4), at = 44;
    while (at + 2 <= length) {
        const uint8_t *e = m + at;
        CHECK(e[1] >= 2 && at + e[1] <= length);
        if (e[1] < 2)
            break;
        switch (e[0]) {
        case 0:
            CHECK_EQ(e[1], 8);
            CHECK_EQ(e[3], cpus);                           /* APIC IDs 0, 1, 2 */
            CHECK_EQ(get(e + 4, 4) & 1, 1);
            cpus++;
            break;
        case 1:
            CHECK_EQ(e[1], 12);
            CHECK_EQ(get(e + 4, 4), 0xfec00000);
            CHECK_EQ(get(e + 8, 4), 0);
            ioapics++;
            break;
        case 2:
            CHECK_EQ(e[1], 10);
            CHECK_EQ(e[2], 0);                              /* ISA */
            if (e[3] == 0) {
                CHECK_EQ(get(e + 4, 4), 2);                 /* PIT on GSI 2 */
                CHECK_EQ(get(e + 8, 2), 0);
            } else {
                CHECK_EQ(e[3], 9);                          /* SCI: level, active high */
                CHECK_EQ(get(e + 4, 4), 9);
                CHECK_EQ(get(e + 8, 2), 0x0d);
            }
            overrides++;
            break;
        case 4:
            CHECK_EQ(e[1], 6);
            CHECK_EQ(e[2], 0xff);
            CHECK_EQ(e[5], 1);                              /* LINT1 */
            nmis++;
            break;
        default:
            CHECK(0);
        }
        at += e[1];
    }
    CHECK_EQ(at, length);
    CHECK_EQ(cpus, 3);
    CHECK_EQ(ioapics, 1);
    CHECK_EQ(overrides, 2);
    CHECK_EQ(nmis, 1);
}

static void fadt_fields(void)
{
    struct acpi_tables t;
    CHECK(build(1, &t));
    const uint8_t *f = table(t.fadt);
    CHECK_EQ(get(f + 36, 4), 0);                            /* FIRMWARE_CTRL: X_ used */
    CHECK_EQ(get(f + 132, 8), t.facs);
    CHECK_EQ(get(f + 40, 4), t.dsdt);
    CHECK_EQ(get(f + 140, 8), t.dsdt);
    CHECK_EQ(get(f + 46, 2), 9);                            /* SCI_INT */
    CHECK_EQ(get(f + 48, 4), 0);                            /* no SMI_CMD */
    CHECK_EQ(get(f + 56, 4), 0x600);
    CHECK_EQ(get(f + 64, 4), 0x604);
    CHECK_EQ(get(f + 76, 4), 0x608);
    CHECK_EQ(f[88], 4);
    CHECK_EQ(f[89], 2);
    CHECK_EQ(f[91], 4);
    uint32_t flags = (uint32_t)get(f + 112, 4);
    CHECK(flags & (1u << 8));                               /* TMR_VAL_EXT */
    CHECK(flags & (1u << 10));                              /* RESET_REG_SUP */
    CHECK(!(flags & (1u << 20)));                           /* not hardware-reduced */
    CHECK(!(flags & (1u << 4)));                            /* fixed power button */
    CHECK_EQ(f[116], 1);                                    /* RESET_REG in I/O space */
    CHECK_EQ(get(f + 120, 8), 0xcf9);
    CHECK_EQ(f[128], 0x06);
    CHECK_EQ(get(f + 109, 2), 7);                           /* legacy, 8042, no VGA */
    CHECK_EQ(f[148], 1);                                    /* X_PM1a_EVT_BLK */
    CHECK_EQ(f[149], 32);
    CHECK_EQ(get(f + 152, 8), 0x600);
    CHECK_EQ(f[173], 16);                                   /* X_PM1a_CNT_BLK */
    CHECK_EQ(get(f + 176, 8), 0x604);
    CHECK_EQ(f[209], 32);                                   /* X_PM_TMR_BLK */
    CHECK_EQ(get(f + 212, 8), 0x608);
    const uint8_t *facs = table(t.facs);
    CHECK_EQ(t.facs % 64, 0);
    CHECK(memcmp(facs, "FACS", 4) == 0);
    CHECK_EQ(get(facs + 4, 4), 64);
}

/* Finds Name(_S5_, Package) in the DSDT and returns its first element. */
static int s5_slp_typ(const uint8_t *d)
{
    size_t length = get(d + 4, 4);
    for (size_t i = 36; i + 10 <= length; i++) {
        if (d[i] != 0x08 || memcmp(d + i + 1, "_S5_", 4) != 0 || d[i + 5] != 0x12)
            continue;
        const uint8_t *pkg = d + i + 6;                     /* PkgLength, one byte here */
        if (pkg[0] & 0xc0 || i + 6 + pkg[0] > length || pkg[1] < 1)
            return -1;
        if (pkg[2] == 0x0a)
            return pkg[3];
        return pkg[2] <= 1 ? pkg[2] : -1;                   /* ZeroOp / OneOp */
    }
    return -1;
}

static void dsdt_has_s5(void)
{
    struct acpi_tables t;
    CHECK(build(1, &t));
    const uint8_t *d = table(t.dsdt);
    CHECK_EQ(d[8], 2);
    CHECK_EQ(s5_slp_typ(d), ACPI_SLP_TYP_S5);
    CHECK_EQ(get(d + 4, 4), 36 + 14);
}

static void extra_aml_and_limits(void)
{
    static const uint8_t scope[] = { 0x10, 0x05, '_', 'S', 'B', '_' };   /* Scope (\_SB) {} */
    struct acpi_config cfg;
    struct acpi_tables t;
    acpi_default_config(&cfg, 2, BASE);
    cfg.extra_aml = scope;
    cfg.extra_aml_length = sizeof(scope);
    CHECK(acpi_build_tables(&cfg, buf, sizeof(buf), &t));
    const uint8_t *d = table(t.dsdt);
    CHECK_EQ(get(d + 4, 4), 36 + 14 + sizeof(scope));
    CHECK(memcmp(d + 36 + 14, scope, sizeof(scope)) == 0);
    CHECK_EQ(sum(d, get(d + 4, 4)), 0);
    CHECK(!acpi_build_tables(&cfg, buf, 200, &t));          /* too small */
    CHECK(!acpi_build_tables(&cfg, buf, t.length - 1, &t));
    cfg.cpus = 0;
    CHECK(!acpi_build_tables(&cfg, buf, sizeof(buf), &t));
    cfg.cpus = 256;
    CHECK(!acpi_build_tables(&cfg, buf, sizeof(buf), &t));
    cfg.cpus = 255;
    static uint8_t big[4096];
    CHECK(acpi_build_tables(&cfg, big, sizeof(big), &t));
    acpi_default_config(&cfg, 1, BASE + 8);                 /* RSDP must be 16-aligned */
    CHECK(!acpi_build_tables(&cfg, buf, sizeof(buf), &t));
}

static void tables_above_4g(void)
{
    struct acpi_config cfg;
    struct acpi_tables t;
    static uint8_t high[4096];
    acpi_default_config(&cfg, 1, 0x100000000ull);
    CHECK(acpi_build_tables(&cfg, high, sizeof(high), &t));
    const uint8_t *f = high + (t.fadt - 0x100000000ull);
    CHECK_EQ(get(f + 40, 4), 0);                            /* no 32-bit DSDT pointer */
    CHECK_EQ(get(f + 140, 8), t.dsdt);
    CHECK_EQ(sum(f, 276), 0);
}

/* ---- PM registers ---- */

static int power_offs, sci_changes;
static bool sci;
static uint64_t fake_now;
static void count_power_off(void *ctx) { (void)ctx; power_offs++; }
static void sci_set(void *ctx, unsigned line, bool level) { (void)ctx; (void)line; sci = level; sci_changes++; }
static uint64_t fake_clock(void *ctx) { (void)ctx; return fake_now; }

static void make_pm(struct acpi_pm *pm, bool timer_32bit)
{
    struct irq_line line = { sci_set, NULL, 9 };
    acpi_pm_init(pm, timer_32bit, line, count_power_off, NULL, fake_clock, NULL);
    power_offs = sci_changes = 0;
    sci = false;
}

static void s5_powers_off(void)
{
    struct acpi_pm pm;
    make_pm(&pm, true);
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM1_CONTROL, 2) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
    uint16_t s5 = ACPI_SLP_TYP_S5 << ACPI_PM1_SLP_TYP_SHIFT;
    acpi_pm_ops.write(&pm, ACPI_PM1_CONTROL, 2, s5);        /* ACPICA: SLP_TYP first */
    CHECK_EQ(power_offs, 0);
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM1_CONTROL, 2), s5 | ACPI_PM1_SCI_EN);
    acpi_pm_ops.write(&pm, ACPI_PM1_CONTROL, 2, s5 | ACPI_PM1_SLP_EN);
    CHECK_EQ(power_offs, 1);
    CHECK(!(acpi_pm_ops.read(&pm, ACPI_PM1_CONTROL, 2) & ACPI_PM1_SLP_EN));   /* write-only */
    acpi_pm_ops.write(&pm, ACPI_PM1_CONTROL + 1, 1, (s5 | ACPI_PM1_SLP_EN) >> 8);   /* one byte */
    CHECK_EQ(power_offs, 2);
}

static void other_sleep_states_wake_at_once(void)
{
    struct acpi_pm pm;
    make_pm(&pm, true);
    acpi_pm_ops.write(&pm, ACPI_PM1_CONTROL, 2, (3u << ACPI_PM1_SLP_TYP_SHIFT) | ACPI_PM1_SLP_EN);
    CHECK_EQ(power_offs, 0);
    CHECK(acpi_pm_ops.read(&pm, ACPI_PM1_STATUS, 2) & ACPI_PM1_WAKE);
    acpi_pm_ops.write(&pm, ACPI_PM1_STATUS, 2, ACPI_PM1_WAKE);     /* write 1 to clear */
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM1_STATUS, 2), 0);
}

static void pm_timer_rate(void)
{
    struct acpi_pm pm;
    make_pm(&pm, true);
    CHECK_EQ(acpi_pm_timer(&pm, 0), 0);
    CHECK_EQ(acpi_pm_timer(&pm, 1000000000ull), 3579545);
    CHECK_EQ(acpi_pm_timer(&pm, 1000), 3);                  /* 3.58 ticks per microsecond */
    CHECK_EQ(acpi_pm_timer(&pm, 10000000ull), 35795);       /* 10 ms */
    uint64_t wrap = 1200ull * 1000000000ull;                /* 4295454000 ticks: past 2^32 */
    CHECK_EQ(acpi_pm_timer(&pm, wrap), (uint32_t)(1200ull * 3579545));
    fake_now = 2000000000ull;
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM_TIMER, 4), 2 * 3579545);
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM_TIMER + 2, 2), (2 * 3579545) >> 16);
    make_pm(&pm, false);
    CHECK_EQ(acpi_pm_timer(&pm, 5000000000ull), (5ull * 3579545) & 0xffffff);
    fake_now = 5000000000ull;
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM_TIMER, 4), (5ull * 3579545) & 0xffffff);
}

static void power_button_raises_sci(void)
{
    struct acpi_pm pm;
    make_pm(&pm, true);
    acpi_pm_power_button(&pm);
    CHECK(acpi_pm_ops.read(&pm, ACPI_PM1_STATUS, 2) & ACPI_PM1_POWER_BUTTON);
    CHECK(!sci);                                            /* not enabled yet */
    acpi_pm_ops.write(&pm, ACPI_PM1_ENABLE, 2, 0xffff);
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM1_ENABLE, 2), 0x0521);    /* with RTC_EN */
    CHECK(sci);
    acpi_pm_ops.write(&pm, ACPI_PM1_STATUS, 2, 0);          /* writing 0 clears nothing */
    CHECK(sci);
    acpi_pm_ops.write(&pm, ACPI_PM1_STATUS, 4, ACPI_PM1_POWER_BUTTON);   /* dword: status + enable */
    CHECK(!sci);
    CHECK_EQ(acpi_pm_ops.read(&pm, ACPI_PM1_STATUS, 4), 0);
    CHECK_EQ(sci_changes, 2);
    acpi_pm_power_button(&pm);                              /* enable was cleared by the dword */
    CHECK(!sci);
    acpi_pm_ops.write(&pm, ACPI_PM1_ENABLE + 1, 1, ACPI_PM1_POWER_BUTTON >> 8);
    CHECK(sci);
    acpi_pm_ops.reset(&pm);
    CHECK(!sci);
}

DEVICE_TESTS(acpi,
    { "acpi_rsdp", rsdp },
    { "acpi_every_table_checks_out", every_table_checks_out },
    { "acpi_madt_parses_back", madt_parses_back },
    { "acpi_fadt_fields", fadt_fields },
    { "acpi_dsdt_has_s5", dsdt_has_s5 },
    { "acpi_extra_aml_and_limits", extra_aml_and_limits },
    { "acpi_tables_above_4g", tables_above_4g },
    { "acpi_s5_powers_off", s5_powers_off },
    { "acpi_other_sleep_states_wake", other_sleep_states_wake_at_once },
    { "acpi_pm_timer_rate", pm_timer_rate },
    { "acpi_power_button_raises_sci", power_button_raises_sci },
)
