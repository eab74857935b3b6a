/*
 * PCI host bridge, configuration mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2).
 * A BAR needs no code of its own: its write mask covers the address bits above its
 * size, so writing all ones reads back the size mask with the type bits (§6.2.5.1).
 */
#include "pci_host.h"

#define CONFIG_ENABLE           0x80000000u
/* §3.2.2.3.2: bits 30:24 are reserved and 1:0 select type 0/1, both read as 0 here. */
#define CONFIG_ADDRESS_WRITABLE 0x80fffffcu

/* Command register bits a guest may set (§6.2.2): I/O, memory, bus master, parity
 * error response, SERR#, interrupt disable. */
#define COMMAND_WRITABLE        0x0547u

/* Reset control register (Intel ICH/PIIX "RST_CNT"): a write with bit 2 set resets;
 * bits 1 (system vs CPU reset) and 3 (full reset) only qualify it. */
#define RESET_CONTROL_RESET_CPU 0x04u
#define RESET_CONTROL_WRITABLE  0x0eu

static uint32_t all_ones(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void put(uint8_t *bytes, unsigned offset, unsigned size, uint32_t value)
{
    for (unsigned i = 0; i < size; i++)
        bytes[offset + i] = (uint8_t)(value >> (8 * i));
}

static uint32_t get(const uint8_t *bytes, unsigned offset, unsigned size)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)bytes[offset + i] << (8 * i);
    return value;
}

/* ---- Functions ----------------------------------------------------------------- */

void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
                       uint32_t class_code, uint8_t revision)
{
    *f = (struct pci_function){ 0 };
    put(f->config, PCI_VENDOR_ID, 2, vendor);
    put(f->config, PCI_DEVICE_ID, 2, device);
    put(f->config, PCI_REVISION_ID, 1, revision);
    put(f->config, PCI_CLASS_CODE, 3, class_code);
    put(f->writable, PCI_COMMAND, 2, COMMAND_WRITABLE);
    put(f->writable, PCI_CACHE_LINE_SIZE, 2, 0xffff);      /* and the latency timer */
    put(f->writable, PCI_INTERRUPT_LINE, 1, 0xff);
}

/* §6.2.5.1: memory ranges are at least 16 bytes, I/O ranges at least 4. */
bool pci_function_set_bar(struct pci_function *f, unsigned bar, uint64_t size, uint8_t flags)
{
    bool io = flags & PCI_BAR_IO, wide = !io && (flags & PCI_BAR_MEM64);
    if (bar > 5 || (wide && bar > 4) || (size & (size - 1)) || size < (io ? 4u : 16u))
        return false;
    if (!wide && size > 0x80000000u)
        return false;
    unsigned offset = PCI_BAR0 + 4 * bar;
    uint64_t mask = ~(size - 1) & ~(uint64_t)(io ? 0x3 : 0xf);
    uint32_t type = io ? PCI_BAR_IO : flags & (PCI_BAR_MEM64 | PCI_BAR_PREFETCHABLE);
    put(f->config, offset, 4, type);
    put(f->writable, offset, 4, (uint32_t)mask);
    if (wide) {
        put(f->config, offset + 4, 4, 0);
        put(f->writable, offset + 4, 4, (uint32_t)(mask >> 32));
    }
    return true;
}

uint64_t pci_function_bar_address(const struct pci_function *f, unsigned bar)
{
    if (bar > 5)
        return 0;
    uint32_t low = get(f->config, PCI_BAR0 + 4 * bar, 4);
    if (low & PCI_BAR_IO)
        return low & ~0x3u;
    uint64_t address = low & ~0xfu;
    if ((low & PCI_BAR_MEM64) && bar < 5)
        address |= (uint64_t)get(f->config, PCI_BAR0 + 4 * bar + 4, 4) << 32;
    return address;
}

void pci_function_set_interrupt(struct pci_function *f, uint8_t pin, uint8_t line)
{
    f->config[PCI_INTERRUPT_PIN] = pin;
    f->config[PCI_INTERRUPT_LINE] = line;
}

static uint32_t function_read(struct pci_function *f, unsigned offset, unsigned size)
{
    if (f->config_read)
        return f->config_read(f->ctx, offset, size);
    return get(f->config, offset, size);
}

static void function_write(struct pci_function *f, unsigned offset, unsigned size, uint32_t value)
{
    if (f->config_write) {
        f->config_write(f->ctx, offset, size, value);
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t mask = f->writable[offset + i], byte = (uint8_t)(value >> (8 * i));
        f->config[offset + i] = (uint8_t)((f->config[offset + i] & ~mask) | (byte & mask));
    }
    if (f->config_written)
        f->config_written(f->ctx, offset, size);
}

/* ---- The bus ------------------------------------------------------------------- */

static struct pci_function *lookup(struct pci_host *h, unsigned bus, unsigned devfn)
{
    return bus == 0 && devfn < PCI_DEVICES * PCI_FUNCTIONS ? h->functions[devfn] : NULL;
}

static bool well_formed(unsigned offset, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && (offset & (size - 1)) == 0 && offset < 256;
}

/* A function that is not there: the master abort reads all ones (§6.1). */
uint32_t pci_config_read(struct pci_host *h, unsigned bus, unsigned devfn,
                         unsigned offset, unsigned size)
{
    struct pci_function *f = lookup(h, bus, devfn);
    if (!f || !well_formed(offset, size))
        return all_ones(size);
    return function_read(f, offset, size) & all_ones(size);
}

void pci_config_write(struct pci_host *h, unsigned bus, unsigned devfn,
                      unsigned offset, unsigned size, uint32_t value)
{
    struct pci_function *f = lookup(h, bus, devfn);
    if (f && well_formed(offset, size))
        function_write(f, offset, size, value & all_ones(size));
}

/* §6.2.1: software probes functions 1-7 only if function 0's header type says so. */
static void mark_multifunction(struct pci_host *h, unsigned device)
{
    struct pci_function *first = h->functions[PCI_DEVFN(device, 0)];
    if (!first || first->config_read)
        return;
    for (unsigned fn = 1; fn < PCI_FUNCTIONS; fn++)
        if (h->functions[PCI_DEVFN(device, fn)])
            first->config[PCI_HEADER_TYPE] |= PCI_HEADER_MULTIFUNCTION;
}

bool pci_host_register(struct pci_host *h, unsigned device, unsigned function,
                       struct pci_function *f)
{
    if (device >= PCI_DEVICES || function >= PCI_FUNCTIONS || h->functions[PCI_DEVFN(device, function)])
        return false;
    h->functions[PCI_DEVFN(device, function)] = f;
    mark_multifunction(h, device);
    return true;
}

static void bridge_init(struct pci_host *h)
{
    pci_function_init(&h->bridge, PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE, 0x060000, 0);
}

void pci_host_init(struct pci_host *h, void (*reset_machine)(void *ctx), void *ctx)
{
    *h = (struct pci_host){ .reset_machine = reset_machine, .ctx = ctx };
    bridge_init(h);
    h->functions[PCI_DEVFN(0, 0)] = &h->bridge;
}

/* ---- Ports 0xcf8-0xcff --------------------------------------------------------- */

static void write_reset_control(struct pci_host *h, uint8_t value)
{
    h->reset_control = value & RESET_CONTROL_WRITABLE;
    if ((value & RESET_CONTROL_RESET_CPU) && h->reset_machine)
        h->reset_machine(h->ctx);
}

/* §3.2.2.3.2: only a full dword at 0xcf8 is CONFIG_ADDRESS; CONFIG_DATA reaches the
 * dword CONFIG_ADDRESS names, at the byte the port offset selects. */
static uint64_t pci_host_read(void *dev, uint64_t offset, unsigned size)
{
    struct pci_host *h = dev;
    uint32_t a = h->config_address;
    if (offset == 0 && size == 4)
        return a;
    if (offset == 1 && size == 1)
        return h->reset_control;
    if (offset < 4 || !(a & CONFIG_ENABLE))
        return all_ones(size);
    return pci_config_read(h, (a >> 16) & 0xff, (a >> 8) & 0xff,
                           (a & 0xfc) + (unsigned)(offset - 4), size);
}

static void pci_host_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct pci_host *h = dev;
    uint32_t a = h->config_address;
    if (offset == 0 && size == 4)
        h->config_address = (uint32_t)value & CONFIG_ADDRESS_WRITABLE;
    else if (offset == 1 && size == 1)
        write_reset_control(h, (uint8_t)value);
    else if (offset >= 4 && (a & CONFIG_ENABLE))
        pci_config_write(h, (a >> 16) & 0xff, (a >> 8) & 0xff,
                         (a & 0xfc) + (unsigned)(offset - 4), size, (uint32_t)value);
}

static void pci_host_reset(void *dev)
{
    struct pci_host *h = dev;
    h->config_address = 0;
    h->reset_control = 0;
    bridge_init(h);
    mark_multifunction(h, 0);
}

const struct device_ops pci_host_ops = { "pci-host", pci_host_read, pci_host_write, pci_host_reset };
