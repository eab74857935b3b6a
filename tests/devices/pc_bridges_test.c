/* i440FX PAM (shadow RAM) through the PCI host as SeaBIOS programs it, PIIX3 PIRQ
 * routing, port 0x92. */
#include "harness.h"
#include "dev/pc_bridges.h"

static unsigned changes, last_segment;
static enum pam_mode last_mode;
static void pam_changed(void *ctx, unsigned s, enum pam_mode m) { (void)ctx; changes++; last_segment = s; last_mode = m; }

static void cfg_write(struct pci_host *h, unsigned devfn, unsigned reg, unsigned size, uint32_t v)
{
    pci_config_write(h, 0, devfn, reg, size, v);
}

static void pam_segments_geometry(void)
{
    uint32_t base, size, covered = 0;
    for (unsigned s = 0; s < PAM_SEGMENTS; s++) {
        i440fx_pam_segment(s, &base, &size);
        CHECK(base >= 0xc0000 && base + size <= 0x100000);
        covered += size;
    }
    CHECK_EQ(covered, 0x40000);                         /* 0xc0000-0xfffff, once */
    i440fx_pam_segment(0, &base, &size);
    CHECK_EQ(base, 0xf0000);
    i440fx_pam_segment(12, &base, &size);
    CHECK_EQ(base, 0xec000);
    CHECK_EQ(size, 0x4000);
}

static void pam_as_seabios_programs_it(void)
{
    struct pci_host h;
    struct i440fx b;
    pci_host_init(&h, NULL, NULL);
    i440fx_init(&b, pam_changed, NULL);
    h.functions[0] = &b.function;                       /* the i440FX is the host bridge */
    changes = 0;
    CHECK_EQ(pci_config_read(&h, 0, 0, 0, 4), 0x12378086);
    CHECK_EQ(pci_config_read(&h, 0, 0, PCI_CLASS_CODE + 1, 2), 0x0600);
    for (uint64_t a = 0xc0000; a < 0x100000; a += 0x1000)
        CHECK_EQ(i440fx_pam_mode_at(&b, a), PAM_ROM);   /* at reset: the ROM everywhere */
    /* make the BIOS area writable: PAM0 = 0x30, PAM1-6 = 0x33 */
    cfg_write(&h, 0, 0x58, 4, 0x00003000);              /* the dword at 0x58 holds PAM0 in byte 1 */
    CHECK_EQ(changes, 1);
    cfg_write(&h, 0, I440FX_PAM0, 1, 0x30);             /* the same again: no news */
    CHECK_EQ(changes, 1);
    CHECK_EQ(last_segment, 0);
    CHECK_EQ(last_mode, PAM_READ_WRITE);
    cfg_write(&h, 0, 0x5c, 4, 0x33333333);              /* PAM3-6 */
    cfg_write(&h, 0, 0x5a, 2, 0x3333);                  /* PAM1-2 */
    CHECK_EQ(changes, 13);
    for (uint64_t a = 0xc0000; a < 0x100000; a += 0x1000)
        CHECK_EQ(i440fx_pam_mode_at(&b, a), PAM_READ_WRITE);
    /* then read-only for the BIOS itself; one option ROM segment left writable */
    cfg_write(&h, 0, I440FX_PAM0, 1, 0x10);
    cfg_write(&h, 0, 0x5a, 1, 0x31);                    /* 0xc0000 RO, 0xc4000 RW */
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xfffff), PAM_READ_ONLY);
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xc3fff), PAM_READ_ONLY);
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xc4000), PAM_READ_WRITE);
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xbffff), PAM_ROM); /* outside the PAM area */
    CHECK_EQ(i440fx_pam_mode_at(&b, 0x100000), PAM_ROM);
    /* reserved bits stay zero */
    cfg_write(&h, 0, I440FX_PAM0, 1, 0xff);
    CHECK_EQ(pci_config_read(&h, 0, 0, I440FX_PAM0, 1), 0x30);
    cfg_write(&h, 0, 0x5b, 1, 0xff);
    CHECK_EQ(pci_config_read(&h, 0, 0, 0x5b, 1), 0x33);
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xc8000), PAM_READ_WRITE);
    /* write-only mode is reported as such */
    cfg_write(&h, 0, 0x5e, 1, 0x22);
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xe0000), PAM_WRITE_ONLY);
    CHECK_EQ(i440fx_pam_mode_at(&b, 0xe7fff), PAM_WRITE_ONLY);
    /* the same value again: no notification */
    unsigned before = changes;
    cfg_write(&h, 0, 0x5e, 1, 0x22);
    CHECK_EQ(changes, before);
    /* writes elsewhere in the space do not disturb the map */
    cfg_write(&h, 0, 0x40, 4, 0xffffffff);
    CHECK_EQ(changes, before);
    CHECK_EQ(pci_config_read(&h, 0, 0, 0x40, 4), 0);
}

static void pirq_routing(void)
{
    struct pci_host h;
    struct piix3 p;
    pci_host_init(&h, NULL, NULL);
    piix3_init(&p);
    CHECK(pci_host_register(&h, 1, 0, &p.function));
    CHECK_EQ(pci_config_read(&h, 0, PCI_DEVFN(1, 0), 0, 4), 0x70008086);
    CHECK_EQ(pci_config_read(&h, 0, PCI_DEVFN(1, 0), PCI_HEADER_TYPE, 1), 0x80);
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(piix3_pirq_irq(&p, i), -1);            /* disabled at reset */
    cfg_write(&h, PCI_DEVFN(1, 0), PIIX3_PIRQRC, 4, 0x0b0b0a0a);   /* SeaBIOS: 10, 10, 11, 11 */
    CHECK_EQ(piix3_pirq_irq(&p, 0), 10);
    CHECK_EQ(piix3_pirq_irq(&p, 1), 10);
    CHECK_EQ(piix3_pirq_irq(&p, 2), 11);
    CHECK_EQ(piix3_pirq_irq(&p, 3), 11);
    CHECK_EQ(piix3_pirq_irq(&p, 4), -1);
    cfg_write(&h, PCI_DEVFN(1, 0), PIIX3_PIRQRC + 1, 1, 0xff);     /* reserved bits dropped */
    CHECK_EQ(pci_config_read(&h, 0, PCI_DEVFN(1, 0), PIIX3_PIRQRC + 1, 1), 0x8f);
    CHECK_EQ(piix3_pirq_irq(&p, 1), -1);
    static const uint8_t reserved[] = { 0, 1, 2, 8, 13 };
    for (unsigned i = 0; i < sizeof(reserved); i++) {
        cfg_write(&h, PCI_DEVFN(1, 0), PIIX3_PIRQRC + 2, 1, reserved[i]);
        CHECK_EQ(piix3_pirq_irq(&p, 2), -1);
    }
    cfg_write(&h, PCI_DEVFN(1, 0), PIIX3_PIRQRC + 2, 1, 15);
    CHECK_EQ(piix3_pirq_irq(&p, 2), 15);
    cfg_write(&h, PCI_DEVFN(1, 0), 0, 4, 0);            /* IDs stay */
    CHECK_EQ(pci_config_read(&h, 0, PCI_DEVFN(1, 0), 0, 4), 0x70008086);
}

static bool a20;
static int resets;
static void a20_set(void *ctx, bool on) { (void)ctx; a20 = on; }
static void reset_cpu(void *ctx) { (void)ctx; resets++; }

static void port92(void)
{
    struct port92 p;
    port92_init(&p, a20_set, reset_cpu, NULL);
    a20 = false;
    resets = 0;
    CHECK_EQ(port92_ops.read(&p, 0, 1), 0);
    port92_ops.write(&p, 0, 1, 0x02);
    CHECK(a20);
    CHECK(port92_a20(&p));
    CHECK_EQ(port92_ops.read(&p, 0, 1), 0x02);
    CHECK_EQ(resets, 0);
    port92_ops.write(&p, 0, 1, 0x03);                   /* fast reset, A20 stays */
    CHECK_EQ(resets, 1);
    CHECK(a20);
    port92_ops.write(&p, 0, 1, 0x00);
    CHECK(!a20);
    port92_ops.write(&p, 0, 1, 0xfc);                   /* other bits: nothing */
    CHECK(!a20);
    CHECK_EQ(resets, 1);
    CHECK_EQ(port92_ops.read(&p, 1, 1), 0xff);
    port92_ops.write(&p, 0, 1, 0x02);
    port92_ops.reset(&p);
    CHECK(!port92_a20(&p));
}

/* The BIOS area where its pages are read-only: reads from RAM; a write lands only
 * where its segment takes writes, byte by byte across a segment boundary; nothing
 * outside the area is read or written. */
static void shadow_follows_the_modes(void)
{
    static uint8_t ram[0x100008];
    struct i440fx b;
    i440fx_init(&b, NULL, NULL);
    memset(ram, 0x5a, sizeof(ram));
    ram[0xffff5] = 0x30;
    CHECK_EQ(i440fx_shadow_read(ram, 0xffff5, 1), 0x30);
    CHECK_EQ(i440fx_shadow_read(ram, 0xffffe, 4), 0xffff5a5a);     /* past 1 MiB: open bus */
    i440fx_shadow_write(&b, ram, 0xffff5, 1, 0xcf);                 /* at reset: the ROM's */
    CHECK_EQ(ram[0xffff5], 0x30);
    b.mode[0] = PAM_READ_ONLY;
    i440fx_shadow_write(&b, ram, 0xffff5, 1, 0xcf);
    CHECK_EQ(ram[0xffff5], 0x30);
    b.mode[0] = PAM_WRITE_ONLY;
    i440fx_shadow_write(&b, ram, 0xffff5, 1, 0xcf);
    CHECK_EQ(ram[0xffff5], 0xcf);
    /* 0xc3ffe-0xc4001 spans segment 1 (read-only) and segment 2 (writable) */
    b.mode[1] = PAM_READ_ONLY;
    b.mode[2] = PAM_READ_WRITE;
    i440fx_shadow_write(&b, ram, 0xc3ffe, 4, 0x44332211);
    CHECK_EQ(ram[0xc3ffe], 0x5a);
    CHECK_EQ(ram[0xc3fff], 0x5a);
    CHECK_EQ(ram[0xc4000], 0x33);
    CHECK_EQ(ram[0xc4001], 0x44);
    /* the edges: below 0xc0000 and from 1 MiB on, nothing is written */
    b.mode[0] = PAM_READ_WRITE;
    i440fx_shadow_write(&b, ram, 0xbfffe, 4, 0x11111111);
    CHECK_EQ(ram[0xbfffe], 0x5a);
    CHECK_EQ(ram[0xbffff], 0x5a);
    i440fx_shadow_write(&b, ram, 0xffffe, 8, ~0ull);
    CHECK_EQ(ram[0xfffff], 0xff);
    CHECK_EQ(ram[0x100000], 0x5a);
    CHECK_EQ(i440fx_shadow_read(ram, 0xbffff, 2) & 0xff, 0xff);      /* below: open bus */
}

DEVICE_TESTS(pc_bridges,
    { "pam_shadow_follows_modes", shadow_follows_the_modes },
    { "pam_segments_geometry", pam_segments_geometry },
    { "pam_as_seabios_programs_it", pam_as_seabios_programs_it },
    { "piix3_pirq_routing", pirq_routing },
    { "port92_a20_and_reset", port92 })
