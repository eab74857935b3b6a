/*
 * The processors of the machine, from the ACPI tables (ACPI 6.5 chapter 5.2): the RSDP
 * names the XSDT (64-bit entries) or the RSDT (32-bit entries); one of the tables they
 * list is the MADT, signature "APIC", whose entries describe the interrupt controllers.
 * Type 0 is a processor's local APIC (8-bit ID), type 9 its local x2APIC (32-bit ID);
 * flag bit 0 says the processor is enabled.  Type 1 is an I/O APIC (its address and
 * first GSI), type 2 an interrupt source override: ISA IRQ n arrives on another GSI,
 * or with another polarity or trigger mode (QEMU and Bochs put the timer's IRQ 0 on
 * GSI 2).  Firmware wrote these tables, so every
 * length and checksum is checked before a byte behind it is read.
 */
#include "acpi.h"

#define SDT_HEADER_SIZE     36      /* §5.2.6: signature .. creator revision */
#define SDT_MAX_SIZE        (1u << 20)
#define MADT_ENTRIES        44      /* §5.2.12: local APIC address and flags first */
#define MADT_LOCAL_APIC     0
#define MADT_LOCAL_X2APIC   9
#define MADT_IO_APIC        1
#define MADT_OVERRIDE       2
#define MADT_ENABLED        1u
#define XAPIC_BROADCAST     0xffu

static uint32_t read32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t read16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t read64(const uint8_t *p) { return read32(p) | (uint64_t)read32(p + 4) << 32; }

static bool same_bytes(const uint8_t *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)s[i])
            return false;
    return true;
}

/* Every ACPI checksum makes the bytes it covers sum to zero. */
static bool sums_to_zero(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

bool acpi_rsdp_valid(const uint8_t *p, size_t len)
{
    if (len < ACPI_RSDP_V1_SIZE || !same_bytes(p, "RSD PTR ", 8) ||
        !sums_to_zero(p, ACPI_RSDP_V1_SIZE))
        return false;
    if (p[15] < 2)
        return true;
    uint32_t length = len >= ACPI_RSDP_V2_SIZE ? read32(p + 20) : 0;
    return length >= ACPI_RSDP_V2_SIZE && length <= len && sums_to_zero(p, length);
}

size_t acpi_rsdp_scan(const uint8_t *area, size_t len)
{
    for (size_t off = 0; off + ACPI_RSDP_V1_SIZE <= len; off += 16)
        if (acpi_rsdp_valid(area + off, len - off))
            return off;
    return len;
}

/* A whole system description table with this signature and a good checksum, or NULL. */
static const uint8_t *map_table(uint64_t phys, const char *signature, acpi_map_fn map,
                                void *ctx, uint32_t *length)
{
    const uint8_t *header = map(phys, SDT_HEADER_SIZE, ctx);
    if (!header || !same_bytes(header, signature, 4))
        return NULL;
    uint32_t n = read32(header + 4);
    if (n < SDT_HEADER_SIZE || n > SDT_MAX_SIZE)
        return NULL;
    const uint8_t *table = map(phys, n, ctx);
    if (!table || !sums_to_zero(table, n))
        return NULL;
    *length = n;
    return table;
}

static void add_cpu(struct acpi_cpus *out, uint32_t apic_id)
{
    for (unsigned i = 0; i < out->count; i++)
        if (out->apic_id[i] == apic_id)
            return;                             /* listed twice: as xAPIC and x2APIC */
    if (out->count == ACPI_MAX_CPUS)
        out->dropped++;
    else
        out->apic_id[out->count++] = apic_id;
}

static void clear_interrupts(struct acpi_cpus *out)
{
    out->ioapic_phys = 0;
    for (unsigned i = 0; i < ACPI_ISA_IRQS; i++)
        out->isa[i] = (struct acpi_isa_irq){ i, 0 };
}

/* Only the I/O APIC serving GSI 0 is kept: the ISA IRQs are its first inputs. */
static void add_io_apic(struct acpi_cpus *out, const uint8_t *e)
{
    uint32_t address = read32(e + 4), gsi_base = read32(e + 8);
    if (gsi_base == 0 && address && !(address & 0xfff) && !out->ioapic_phys)
        out->ioapic_phys = address;
}

/* Bus 0 is ISA; a source beyond the ISA IRQs is not one the kernel hands out. */
static void add_override(struct acpi_cpus *out, const uint8_t *e)
{
    uint8_t bus = e[2], source = e[3];
    if (bus == 0 && source < ACPI_ISA_IRQS)
        out->isa[source] = (struct acpi_isa_irq){ read32(e + 4), read16(e + 8) };
}

int acpi_madt_parse(const uint8_t *madt, size_t len, struct acpi_cpus *out)
{
    out->count = out->dropped = 0;
    clear_interrupts(out);
    if (len < MADT_ENTRIES)
        return ACPI_BAD_MADT;
    out->lapic_phys = read32(madt + SDT_HEADER_SIZE);
    for (size_t off = MADT_ENTRIES; off < len;) {
        if (len - off < 2)
            return ACPI_BAD_MADT;
        const uint8_t *e = madt + off;
        uint8_t type = e[0], size = e[1];
        if (size < 2 || size > len - off)
            return ACPI_BAD_MADT;
        if (type == MADT_LOCAL_APIC && size >= 8) {
            if ((read32(e + 4) & MADT_ENABLED) && e[3] != XAPIC_BROADCAST)
                add_cpu(out, e[3]);
        } else if (type == MADT_LOCAL_X2APIC && size >= 16) {
            if (read32(e + 8) & MADT_ENABLED)
                add_cpu(out, read32(e + 4));
        } else if (type == MADT_IO_APIC && size >= 12) {
            add_io_apic(out, e);
        } else if (type == MADT_OVERRIDE && size >= 10) {
            add_override(out, e);
        }
        off += size;
    }
    return ACPI_OK;
}

int acpi_find_cpus(const uint8_t *rsdp, size_t rsdp_len, acpi_map_fn map, void *ctx,
                   struct acpi_cpus *out)
{
    out->count = out->dropped = 0;
    clear_interrupts(out);
    if (!acpi_rsdp_valid(rsdp, rsdp_len))
        return ACPI_BAD_RSDP;
    bool extended = rsdp[15] >= 2 && read64(rsdp + 24) != 0;
    uint64_t root_phys = extended ? read64(rsdp + 24) : read32(rsdp + 16);
    unsigned entry_size = extended ? 8 : 4;
    uint32_t root_length;
    const uint8_t *root = map_table(root_phys, extended ? "XSDT" : "RSDT", map, ctx,
                                    &root_length);
    if (!root)
        return ACPI_BAD_ROOT;
    bool madt_seen = false;
    for (uint32_t off = SDT_HEADER_SIZE; off + entry_size <= root_length; off += entry_size) {
        uint64_t phys = extended ? read64(root + off) : read32(root + off);
        uint32_t length;
        const uint8_t *madt = map_table(phys, "APIC", map, ctx, &length);
        if (!madt)
            continue;                           /* another table, or a damaged one */
        madt_seen = true;
        if (acpi_madt_parse(madt, length, out) == ACPI_OK)
            return ACPI_OK;
    }
    out->count = out->dropped = 0;
    clear_interrupts(out);
    return madt_seen ? ACPI_BAD_MADT : ACPI_NO_MADT;
}
