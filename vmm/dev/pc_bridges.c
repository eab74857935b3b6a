/*
 * i440FX PAM, PIIX3 PIRQ routing, port 0x92.  A PAM register holds two segments, one
 * per nibble; in each nibble bit 0 enables reads from RAM and bit 1 writes to RAM
 * (82441FX data sheet §3.2.18).  PAM0's low nibble is reserved: its high nibble
 * covers the whole 64 KiB of 0xf0000.
 */
#include "pc_bridges.h"

#define SEGMENT_BASE    0xc0000u
#define SEGMENT_SIZE    0x4000u

void i440fx_pam_segment(unsigned segment, uint32_t *base, uint32_t *size)
{
    if (segment == 0) {
        *base = 0xf0000;
        *size = 0x10000;
    } else {
        *base = SEGMENT_BASE + (segment - 1) * SEGMENT_SIZE;
        *size = SEGMENT_SIZE;
    }
}

enum pam_mode i440fx_pam_mode_at(const struct i440fx *b, uint64_t address)
{
    if (address >= 0xf0000 && address < 0x100000)
        return b->mode[0];
    if (address >= SEGMENT_BASE && address < 0xf0000)
        return b->mode[1 + (address - SEGMENT_BASE) / SEGMENT_SIZE];
    return PAM_ROM;
}

uint64_t i440fx_shadow_read(const uint8_t *ram, uint64_t address, unsigned size)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < size && i < 8; i++)
        if (address + i >= PAM_AREA_BASE && address + i < PAM_AREA_BASE + PAM_AREA_SIZE)
            value |= (uint64_t)ram[address + i] << (8 * i);
        else
            value |= 0xffull << (8 * i);
    return value;
}

void i440fx_shadow_write(const struct i440fx *b, uint8_t *ram, uint64_t address, unsigned size,
                         uint64_t value)
{
    for (unsigned i = 0; i < size && i < 8; i++)
        if (address + i >= PAM_AREA_BASE && address + i < PAM_AREA_BASE + PAM_AREA_SIZE &&
            (i440fx_pam_mode_at(b, address + i) & PAM_WRITE_ONLY))
            ram[address + i] = (uint8_t)(value >> (8 * i));
}

/* The segment's mode as the registers say. */
static enum pam_mode register_mode(const struct i440fx *b, unsigned segment)
{
    if (segment == 0)
        return (enum pam_mode)((b->function.config[I440FX_PAM0] >> 4) & 3);
    uint8_t reg = b->function.config[I440FX_PAM0 + 1 + (segment - 1) / 2];
    return (enum pam_mode)((segment & 1 ? reg : reg >> 4) & 3);
}

static void i440fx_written(void *ctx, unsigned offset, unsigned size)
{
    struct i440fx *b = ctx;
    if (offset + size <= I440FX_PAM0 || offset > I440FX_PAM_LAST)
        return;
    for (unsigned s = 0; s < PAM_SEGMENTS; s++) {
        enum pam_mode mode = register_mode(b, s);
        if (mode != b->mode[s]) {
            b->mode[s] = mode;
            if (b->pam_changed)
                b->pam_changed(b->ctx, s, mode);
        }
    }
}

void i440fx_init(struct i440fx *b, void (*pam_changed)(void *ctx, unsigned segment, enum pam_mode mode),
                 void *ctx)
{
    *b = (struct i440fx){ .pam_changed = pam_changed, .ctx = ctx };
    pci_function_init(&b->function, I440FX_VENDOR, I440FX_DEVICE, 0x060000, 0x02);
    b->function.writable[I440FX_PAM0] = 0x30;
    for (unsigned r = I440FX_PAM0 + 1; r <= I440FX_PAM_LAST; r++)
        b->function.writable[r] = 0x33;
    b->function.config[I440FX_SMRAM] = 0x02;        /* SMRAM at 0xa0000, closed */
    b->function.writable[I440FX_SMRAM] = 0x78;      /* open, close, lock, enable: kept only */
    b->function.config_written = i440fx_written;
    b->function.ctx = b;
}

void piix3_init(struct piix3 *p)
{
    pci_function_init(&p->function, I440FX_VENDOR, PIIX3_ISA_DEVICE, 0x060100, 0);
    p->function.config[PCI_HEADER_TYPE] = PCI_HEADER_MULTIFUNCTION;   /* IDE is function 1 */
    for (unsigned i = 0; i < 4; i++) {
        p->function.config[PIIX3_PIRQRC + i] = PIIX3_PIRQ_DISABLE;
        p->function.writable[PIIX3_PIRQRC + i] = 0x8f;
    }
    /* the rest of the device-specific space: kept, without meaning here */
    for (unsigned r = 0x4c; r < 0x100; r++)
        if (r < PIIX3_PIRQRC || r > PIIX3_PIRQRC + 3)
            p->function.writable[r] = 0xff;
}

int piix3_pirq_irq(const struct piix3 *p, unsigned pirq)
{
    if (pirq > 3)
        return -1;
    uint8_t v = p->function.config[PIIX3_PIRQRC + pirq];
    unsigned irq = v & 0x0f;
    /* 82371SB §2.2.11: IRQ 0-2, 8 and 13 are reserved */
    if ((v & PIIX3_PIRQ_DISABLE) || irq < 3 || irq == 8 || irq == 13)
        return -1;
    return (int)irq;
}

/* ---- Port 0x92 ----------------------------------------------------------------- */

#define PORT92_RESET    0x01
#define PORT92_A20      0x02

void port92_init(struct port92 *p, void (*a20_changed)(void *ctx, bool enabled),
                 void (*reset_cpu)(void *ctx), void *ctx)
{
    *p = (struct port92){ .a20_changed = a20_changed, .reset_cpu = reset_cpu, .ctx = ctx };
}

bool port92_a20(const struct port92 *p)
{
    return p->value & PORT92_A20;
}

static uint64_t port92_read(void *dev, uint64_t offset, unsigned size)
{
    (void)size;
    const struct port92 *p = dev;
    return offset == 0 ? p->value : 0xff;
}

static void port92_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)size;
    struct port92 *p = dev;
    if (offset != 0)
        return;
    uint8_t old = p->value;
    /* the reset bit reads back as written only until the reset: keep A20 alone */
    p->value = (uint8_t)(value & PORT92_A20);
    if (((old ^ p->value) & PORT92_A20) && p->a20_changed)
        p->a20_changed(p->ctx, p->value & PORT92_A20);
    if ((value & PORT92_RESET) && !(old & PORT92_RESET) && p->reset_cpu)
        p->reset_cpu(p->ctx);
}

static void port92_reset(void *dev)
{
    struct port92 *p = dev;
    port92_init(p, p->a20_changed, p->reset_cpu, p->ctx);
}

const struct device_ops port92_ops = { "port92", port92_read, port92_write, port92_reset };
