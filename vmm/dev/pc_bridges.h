/*
 * The chipset a BIOS expects on a PC: the i440FX host bridge (PCI 00:00.0) with its
 * Programmable Attribute Map registers that turn the BIOS area 0xc0000-0xfffff into
 * shadow RAM, the PIIX3 PCI-to-ISA bridge (00:01.0) with its PIRQ routing registers,
 * and the A20 gate and fast reset of System Control Port A (port 0x92).  The models
 * only keep the registers and say what each change means; the VMM remaps memory.
 * (Intel 82441FX PMC and 82371SB PIIX3 data sheets.)
 */
#ifndef VMM_PC_BRIDGES_H
#define VMM_PC_BRIDGES_H

#include "pci_host.h"

#define I440FX_VENDOR           0x8086
#define I440FX_DEVICE           0x1237
#define PIIX3_ISA_DEVICE        0x7000

/* i440FX configuration registers */
#define I440FX_PAM0             0x59    /* 0xf0000-0xfffff in bits 5:4 */
#define I440FX_PAM_LAST         0x5f
#define I440FX_SMRAM            0x72

/* The 13 PAM segments: 0 is 0xf0000-0xfffff (64 KiB), 1-12 the 16 KiB pieces from
 * 0xc0000 to 0xeffff. */
#define PAM_SEGMENTS            13

enum pam_mode {
    PAM_ROM = 0,            /* reads and writes go to the ROM / PCI: RAM unmapped */
    PAM_READ_ONLY = 1,      /* reads from RAM, writes go to the ROM (dropped) */
    PAM_WRITE_ONLY = 2,     /* reads from the ROM, writes to RAM */
    PAM_READ_WRITE = 3,     /* shadow RAM, readable and writable */
};

struct i440fx {
    struct pci_function function;
    enum pam_mode mode[PAM_SEGMENTS];
    /* a segment changed mode: the VMM remaps [base, base + size) */
    void (*pam_changed)(void *ctx, unsigned segment, enum pam_mode mode);
    void *ctx;
};

void i440fx_init(struct i440fx *b, void (*pam_changed)(void *ctx, unsigned segment, enum pam_mode mode),
                 void *ctx);
/* Where segment s lies. */
void i440fx_pam_segment(unsigned segment, uint32_t *base, uint32_t *size);
/* The mode covering a guest-physical address in 0xc0000-0xfffff; PAM_ROM elsewhere. */
enum pam_mode i440fx_pam_mode_at(const struct i440fx *b, uint64_t address);

/* The BIOS area 0xc0000-0xfffff as the guest sees it where its pages are read-only
 * (a write-protected segment exits to the VMM): reads come from RAM, which holds the
 * firmware's image where the ROM would be; a byte written lands in RAM only where its
 * segment's mode enables writes, and is dropped elsewhere, as the ROM drops it.
 * `address` is guest-physical; ram is the guest's RAM from 0. */
#define PAM_AREA_BASE           0xc0000u
#define PAM_AREA_SIZE           0x40000u
uint64_t i440fx_shadow_read(const uint8_t *ram, uint64_t address, unsigned size);
void i440fx_shadow_write(const struct i440fx *b, uint8_t *ram, uint64_t address, unsigned size,
                         uint64_t value);

/* PIIX3 function 0: the ISA bridge. */
#define PIIX3_PIRQRC            0x60    /* PIRQA-D route control, 0x60-0x63 */
#define PIIX3_PIRQ_DISABLE      0x80

struct piix3 {
    struct pci_function function;
};

void piix3_init(struct piix3 *p);
/* The ISA IRQ that PCI interrupt line pirq (0-3 for PIRQA-D) is routed to, or -1 when
 * routing is disabled or names an IRQ the PIIX3 cannot drive. */
int piix3_pirq_irq(const struct piix3 *p, unsigned pirq);

/* System Control Port A (port 0x92): bit 1 the A20 gate, bit 0 a fast CPU reset. */
struct port92 {
    uint8_t value;
    void (*a20_changed)(void *ctx, bool enabled);
    void (*reset_cpu)(void *ctx);
    void *ctx;
};

extern const struct device_ops port92_ops;     /* one port, offset 0 */
void port92_init(struct port92 *p, void (*a20_changed)(void *ctx, bool enabled),
                 void (*reset_cpu)(void *ctx), void *ctx);
bool port92_a20(const struct port92 *p);

#endif
