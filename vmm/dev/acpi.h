/*
 * ACPI for a PC guest (ACPI spec 6.x): the tables firmware would leave in memory
 * (§5.2: RSDP, XSDT, FADT, FACS, MADT, and a DSDT whose AML is only \_S5), and the
 * fixed hardware the FADT points at (§4.8): the PM1a event and control registers, so
 * the guest can power off, and the PM timer.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include "device.h"

#define ACPI_MAX_CPUS           255     /* xAPIC IDs 0-254; 255 is the broadcast ID */

/* The PM register window, one device: PM1a_EVT (status, enable), PM1a_CNT, PM_TMR. */
#define ACPI_PM_DEFAULT_BASE    0x600
#define ACPI_PM_WINDOW_SIZE     12
#define ACPI_PM1_STATUS         0
#define ACPI_PM1_ENABLE         2
#define ACPI_PM1_CONTROL        4
#define ACPI_PM_TIMER           8

#define ACPI_PM_TIMER_HZ        3579545u
#define ACPI_SLP_TYP_S5         5       /* our \_S5 value; the encoding is the platform's choice */

/* PM1 status/enable bits (§4.8.3.1) */
#define ACPI_PM1_TIMER          (1u << 0)
#define ACPI_PM1_GLOBAL         (1u << 5)
#define ACPI_PM1_POWER_BUTTON   (1u << 8)
#define ACPI_PM1_RTC            (1u << 10)      /* enable kept; the status never rises */
#define ACPI_PM1_WAKE           (1u << 15)      /* status only */

/* PM1 control bits (§4.8.3.2.1) */
#define ACPI_PM1_SCI_EN         (1u << 0)
#define ACPI_PM1_SLP_TYP_SHIFT  10
#define ACPI_PM1_SLP_EN         (1u << 13)

/* IAPC_BOOT_ARCH (§5.2.9.3) */
#define ACPI_BOOT_LEGACY_DEVICES (1u << 0)
#define ACPI_BOOT_8042          (1u << 1)
#define ACPI_BOOT_NO_VGA        (1u << 2)

struct acpi_config {
    uint64_t guest_address;     /* where the buffer sits in guest-physical memory, 16-aligned */
    unsigned cpus;              /* local APIC IDs 0 .. cpus-1 */
    uint32_t lapic_address;
    uint8_t ioapic_id;
    uint32_t ioapic_address;
    uint32_t ioapic_gsi_base;
    uint16_t pm_base;           /* the PM register window */
    uint8_t sci_irq;
    bool pm_timer_32bit;
    uint16_t reset_port;        /* FADT RESET_REG in I/O space; 0 for none */
    uint8_t reset_value;
    uint16_t boot_arch;
    const uint8_t *extra_aml;   /* more of the DSDT body after \_S5 (devices added later) */
    size_t extra_aml_length;
};

/* Where each table landed (guest-physical), and how many bytes of the buffer were used. */
struct acpi_tables {
    uint64_t rsdp, xsdt, fadt, facs, dsdt, madt;
    size_t length;
};

/* The platform this VMM builds: LAPIC 0xfee00000, one IOAPIC at 0xfec00000 with GSI
 * base 0, PM window at 0x600, SCI on IRQ 9, 32-bit PM timer, reset through 0xcf9. */
void acpi_default_config(struct acpi_config *cfg, unsigned cpus, uint64_t guest_address);

/* Writes every table into buf, RSDP first.  false: bad config or buf too small. */
bool acpi_build_tables(const struct acpi_config *cfg, uint8_t *buf, size_t size,
                       struct acpi_tables *out);

/* ---- The PM registers ---- */

struct acpi_pm {
    uint16_t status, enable, control;
    bool timer_32bit;
    struct irq_line sci;
    bool sci_level;
    void (*power_off)(void *ctx);
    void *ctx;
    uint64_t (*clock)(void *ctx);       /* guest time in ns, for the PM timer */
    void *clock_ctx;
};

extern const struct device_ops acpi_pm_ops;     /* window: ACPI_PM_WINDOW_SIZE ports at pm_base */

void acpi_pm_init(struct acpi_pm *pm, bool timer_32bit, struct irq_line sci,
                  void (*power_off)(void *ctx), void *ctx,
                  uint64_t (*clock)(void *ctx), void *clock_ctx);
/* The PM timer's count at guest time now. */
uint32_t acpi_pm_timer(const struct acpi_pm *pm, uint64_t now);
/* The host presses the power button: the guest's cue to shut down cleanly. */
void acpi_pm_power_button(struct acpi_pm *pm);

#endif
