/* The PCI host bridge: CONFIG_ADDRESS/CONFIG_DATA, the bridge, registered functions, BARs. */
#include "harness.h"
#include "dev/pci_host.h"

static int resets;
static void count_reset(void *ctx) { (void)ctx; resets++; }

static uint32_t address(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg;
}

/* What a guest does: dword to 0xcf8, then size bytes at 0xcfc + (reg & 3). */
static uint32_t cfg_read(struct pci_host *h, unsigned dev, unsigned fn, unsigned reg, unsigned size)
{
    pci_host_ops.write(h, 0, 4, address(0, dev, fn, reg & 0xfc));
    return (uint32_t)pci_host_ops.read(h, 4 + (reg & 3), size);
}

static void cfg_write(struct pci_host *h, unsigned dev, unsigned fn, unsigned reg, unsigned size, uint32_t v)
{
    pci_host_ops.write(h, 0, 4, address(0, dev, fn, reg & 0xfc));
    pci_host_ops.write(h, 4 + (reg & 3), size, v);
}

static void config_address_latch(void)
{
    struct pci_host h;
    pci_host_init(&h, count_reset, NULL);
    pci_host_ops.write(&h, 0, 4, 0xffffffff);
    CHECK_EQ(pci_host_ops.read(&h, 0, 4), 0x80fffffc);     /* reserved and type bits read 0 */
    pci_host_ops.write(&h, 0, 4, address(0, 3, 1, 0x40));
    pci_host_ops.write(&h, 2, 2, 0);                        /* not a dword: not CONFIG_ADDRESS */
    pci_host_ops.write(&h, 3, 1, 0);
    CHECK_EQ(pci_host_ops.read(&h, 0, 4), address(0, 3, 1, 0x40));
    CHECK_EQ(pci_host_ops.read(&h, 2, 2), 0xffff);
    pci_host_ops.reset(&h);
    CHECK_EQ(pci_host_ops.read(&h, 0, 4), 0);
}

static void host_bridge_identity(void)
{
    struct pci_host h;
    pci_host_init(&h, count_reset, NULL);
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_VENDOR_ID, 4), 0x29c08086);
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_REVISION_ID, 4), 0x06000000);    /* class 06/00/00, rev 0 */
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_HEADER_TYPE, 1), 0);
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_DEVICE_ID, 2), 0x29c0);           /* word at 0xcfe */
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_CLASS_CODE + 2, 1), 0x06);        /* byte at 0xcff */
    cfg_write(&h, 0, 0, PCI_VENDOR_ID, 4, 0x12345678);                /* read-only */
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_VENDOR_ID, 4), 0x29c08086);
    CHECK_EQ(pci_config_read(&h, 0, 0, PCI_VENDOR_ID, 2), 0x8086);
}

static void absent_functions_read_all_ones(void)
{
    struct pci_host h;
    pci_host_init(&h, count_reset, NULL);
    CHECK_EQ(cfg_read(&h, 1, 0, 0, 4), 0xffffffff);
    CHECK_EQ(cfg_read(&h, 31, 7, 0, 2), 0xffff);
    CHECK_EQ(cfg_read(&h, 0, 1, 0, 1), 0xff);
    pci_host_ops.write(&h, 0, 4, address(1, 0, 0, 0));                /* bus 1 */
    CHECK_EQ(pci_host_ops.read(&h, 4, 4), 0xffffffff);
    pci_host_ops.write(&h, 0, 4, address(0, 0, 0, 0) & ~0x80000000u);  /* enable bit clear */
    CHECK_EQ(pci_host_ops.read(&h, 4, 4), 0xffffffff);
    pci_host_ops.write(&h, 4, 4, 0);                                  /* goes nowhere */
    CHECK_EQ(cfg_read(&h, 0, 0, 0, 4), 0x29c08086);
}

static void writable_header_fields(void)
{
    struct pci_host h;
    struct pci_function f;
    pci_host_init(&h, count_reset, NULL);
    pci_function_init(&f, 0x1af4, 0x1001, 0x010000, 1);
    pci_function_set_interrupt(&f, 1, 11);
    CHECK(pci_host_register(&h, 3, 0, &f));
    cfg_write(&h, 3, 0, PCI_COMMAND, 2, 0xffff);
    CHECK_EQ(cfg_read(&h, 3, 0, PCI_COMMAND, 2), 0x0547);
    cfg_write(&h, 3, 0, PCI_STATUS, 2, 0xffff);
    CHECK_EQ(cfg_read(&h, 3, 0, PCI_STATUS, 2), 0);
    cfg_write(&h, 3, 0, PCI_INTERRUPT_LINE, 4, 0xffff0005);
    CHECK_EQ(cfg_read(&h, 3, 0, PCI_INTERRUPT_LINE, 4), 0x0105);      /* pin INTA# stays */
    cfg_write(&h, 3, 0, PCI_CACHE_LINE_SIZE, 1, 0x10);
    CHECK_EQ(cfg_read(&h, 3, 0, PCI_CACHE_LINE_SIZE, 1), 0x10);
    CHECK_EQ(cfg_read(&h, 3, 0, PCI_REVISION_ID, 4), 0x01000001);
}

static void bar_sizing(void)
{
    struct pci_host h;
    struct pci_function f;
    pci_host_init(&h, count_reset, NULL);
    pci_function_init(&f, 0x1af4, 0x1000, 0x020000, 0);
    CHECK(pci_function_set_bar(&f, 0, 0x20, PCI_BAR_IO));
    CHECK(pci_function_set_bar(&f, 1, 0x1000, 0));
    CHECK(pci_function_set_bar(&f, 2, 0x200000000ull, PCI_BAR_MEM64 | PCI_BAR_PREFETCHABLE));
    CHECK(pci_host_register(&h, 4, 0, &f));

    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0, 4), PCI_BAR_IO);
    cfg_write(&h, 4, 0, PCI_BAR0, 4, 0xffffffff);
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0, 4), 0xffffffe1);
    cfg_write(&h, 4, 0, PCI_BAR0, 4, 0xc040);
    CHECK_EQ(pci_function_bar_address(&f, 0), 0xc040);

    cfg_write(&h, 4, 0, PCI_BAR0 + 4, 4, 0xffffffff);
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0 + 4, 4), 0xfffff000);
    cfg_write(&h, 4, 0, PCI_BAR0 + 4, 4, 0xfebf1234);                /* low bits drop */
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0 + 4, 4), 0xfebf1000);

    cfg_write(&h, 4, 0, PCI_BAR0 + 8, 4, 0xffffffff);
    cfg_write(&h, 4, 0, PCI_BAR0 + 12, 4, 0xffffffff);
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0 + 8, 4), 0x0000000c);        /* 8 GiB: low half all size */
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0 + 12, 4), 0xfffffffe);
    cfg_write(&h, 4, 0, PCI_BAR0 + 8, 4, 0);
    cfg_write(&h, 4, 0, PCI_BAR0 + 12, 4, 0x4);
    CHECK_EQ(pci_function_bar_address(&f, 2), 0x400000000ull);

    cfg_write(&h, 4, 0, PCI_BAR0 + 16, 4, 0xffffffff);                /* BAR 4: none */
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0 + 16, 4), 0);
    cfg_write(&h, 4, 0, PCI_BAR0 + 4, 2, 0xffff);                    /* a word write merges */
    CHECK_EQ(cfg_read(&h, 4, 0, PCI_BAR0 + 4, 4), 0xfebff000);
}

static void bar_validation(void)
{
    struct pci_function f;
    pci_function_init(&f, 1, 2, 0, 0);
    CHECK(!pci_function_set_bar(&f, 0, 0x300, 0));                  /* not a power of two */
    CHECK(!pci_function_set_bar(&f, 0, 8, 0));                       /* memory below 16 bytes */
    CHECK(!pci_function_set_bar(&f, 0, 2, PCI_BAR_IO));
    CHECK(!pci_function_set_bar(&f, 5, 0x1000, PCI_BAR_MEM64));     /* no room for the high half */
    CHECK(!pci_function_set_bar(&f, 6, 0x1000, 0));
    CHECK(!pci_function_set_bar(&f, 0, 0x100000000ull, 0));          /* 4 GiB needs 64 bits */
    CHECK(pci_function_set_bar(&f, 5, 4, PCI_BAR_IO));
}

static unsigned last_written_offset, last_written_size, written;
static void note_written(void *ctx, unsigned offset, unsigned size)
{
    (void)ctx;
    last_written_offset = offset;
    last_written_size = size;
    written++;
}

static uint32_t seen_offset, seen_size, stored;
static uint32_t own_read(void *ctx, unsigned offset, unsigned size)
{
    (void)ctx;
    seen_offset = offset;
    seen_size = size;
    return offset == 0 ? 0xabcd1234 : stored;
}
static void own_write(void *ctx, unsigned offset, unsigned size, uint32_t value)
{
    (void)ctx;
    seen_offset = offset;
    seen_size = size;
    stored = value;
}

static void callbacks(void)
{
    struct pci_host h;
    struct pci_function image, owned = { .config_read = own_read, .config_write = own_write };
    pci_host_init(&h, count_reset, NULL);
    pci_function_init(&image, 0x1af4, 0x1001, 0x010000, 0);
    image.config_written = note_written;
    written = 0;
    pci_host_register(&h, 5, 0, &image);
    pci_host_register(&h, 6, 0, &owned);
    cfg_write(&h, 5, 0, PCI_COMMAND, 2, 0x7);
    CHECK_EQ(written, 1);
    CHECK_EQ(last_written_offset, PCI_COMMAND);
    CHECK_EQ(last_written_size, 2);
    CHECK_EQ(cfg_read(&h, 6, 0, 0, 4), 0xabcd1234);
    cfg_write(&h, 6, 0, 0x42, 2, 0xbeef);
    CHECK_EQ(seen_offset, 0x42);
    CHECK_EQ(seen_size, 2);
    CHECK_EQ(cfg_read(&h, 6, 0, 0x42, 2), 0xbeef);
    CHECK_EQ(seen_offset, 0x42);
}

static void registration_and_multifunction(void)
{
    struct pci_host h;
    struct pci_function a, b, c;
    pci_host_init(&h, count_reset, NULL);
    pci_function_init(&a, 1, 1, 0, 0);
    pci_function_init(&b, 1, 2, 0, 0);
    pci_function_init(&c, 1, 3, 0, 0);
    CHECK(!pci_host_register(&h, 0, 0, &a));                         /* the bridge is there */
    CHECK(!pci_host_register(&h, 32, 0, &a));
    CHECK(!pci_host_register(&h, 1, 8, &a));
    CHECK(pci_host_register(&h, 7, 2, &b));                          /* before function 0 */
    CHECK(pci_host_register(&h, 7, 0, &a));
    CHECK_EQ(cfg_read(&h, 7, 0, PCI_HEADER_TYPE, 1), PCI_HEADER_MULTIFUNCTION);
    CHECK_EQ(cfg_read(&h, 7, 2, PCI_DEVICE_ID, 2), 2);
    CHECK(pci_host_register(&h, 0, 1, &c));
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_HEADER_TYPE, 1), PCI_HEADER_MULTIFUNCTION);
    pci_host_ops.reset(&h);                                           /* the bridge keeps it */
    CHECK_EQ(cfg_read(&h, 0, 0, PCI_HEADER_TYPE, 1), PCI_HEADER_MULTIFUNCTION);
}

static void reset_control_register(void)
{
    struct pci_host h;
    resets = 0;
    pci_host_init(&h, count_reset, NULL);
    pci_host_ops.write(&h, 1, 1, 0x02);                              /* Linux: select system reset */
    CHECK_EQ(resets, 0);
    CHECK_EQ(pci_host_ops.read(&h, 1, 1), 0x02);
    pci_host_ops.write(&h, 1, 1, 0x06);                              /* then pull the CPU reset */
    CHECK_EQ(resets, 1);
}

DEVICE_TESTS(pci_bus,
    { "pci_config_address_latch", config_address_latch },
    { "pci_host_bridge_identity", host_bridge_identity },
    { "pci_absent_functions_read_all_ones", absent_functions_read_all_ones },
    { "pci_writable_header_fields", writable_header_fields },
    { "pci_bar_sizing", bar_sizing },
    { "pci_bar_validation", bar_validation },
    { "pci_callbacks", callbacks },
    { "pci_registration_and_multifunction", registration_and_multifunction },
    { "pci_reset_control_register", reset_control_register },
)
