/* ACPI tables: the processors and the I/O APIC of the MADT (pure; host tests feed it
 * tables). */
#ifndef ACPI_H
#define ACPI_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ACPI_RSDP_V1_SIZE 20    /* ACPI 6.5 §5.2.5.3: the part revision 0 defines */
#define ACPI_RSDP_V2_SIZE 36
#define ACPI_MAX_CPUS     64    /* enabled processors the parser records */

#define ACPI_ISA_IRQS     16

/* How an ISA IRQ reaches the I/O APIC: its global system interrupt and the MPS INTI
 * flags of its interrupt source override (0: none, the ISA defaults, edge and active
 * high, on the GSI of the same number). */
struct acpi_isa_irq {
    uint32_t gsi;
    uint16_t flags;
};
#define ACPI_INTI_POLARITY_MASK  3u
#define ACPI_INTI_ACTIVE_LOW     3u
#define ACPI_INTI_TRIGGER_MASK   (3u << 2)
#define ACPI_INTI_LEVEL          (3u << 2)

struct acpi_cpus {
    uint32_t apic_id[ACPI_MAX_CPUS];
    unsigned count;             /* enabled processors recorded in apic_id[] */
    unsigned dropped;           /* enabled processors beyond ACPI_MAX_CPUS */
    uint32_t lapic_phys;        /* the MADT's local APIC address */
    uint32_t ioapic_phys;       /* the I/O APIC serving GSI 0 (0: none listed) */
    struct acpi_isa_irq isa[ACPI_ISA_IRQS];
};

/* The tables lie in physical memory: `map` returns a readable view of [phys, phys+len)
 * or NULL when that range cannot be read. */
typedef const void *(*acpi_map_fn)(uint64_t phys, uint64_t len, void *ctx);

enum acpi_error { ACPI_OK, ACPI_BAD_RSDP, ACPI_BAD_ROOT, ACPI_NO_MADT, ACPI_BAD_MADT };

/* A valid RSDP at the start of [p, p+len): signature and checksums (and, from
 * revision 2, a length that fits in len). */
bool acpi_rsdp_valid(const uint8_t *p, size_t len);
/* The offset of the first valid RSDP on a 16-byte boundary of the area, or len. */
size_t acpi_rsdp_scan(const uint8_t *area, size_t len);
/* The enabled processors of the MADT (`len` bytes at madt, header included), the I/O
 * APIC whose inputs start at GSI 0, and the ISA IRQs' overrides. */
int acpi_madt_parse(const uint8_t *madt, size_t len, struct acpi_cpus *out);
/* RSDP -> XSDT or RSDT -> the first valid MADT -> its processors. */
int acpi_find_cpus(const uint8_t *rsdp, size_t rsdp_len, acpi_map_fn map, void *ctx,
                   struct acpi_cpus *out);

#endif
