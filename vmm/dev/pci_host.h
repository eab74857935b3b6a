/*
 * The PCI host bridge and bus 0, reached through configuration mechanism #1 (PCI Local
 * Bus spec 3.0 §3.2.2.3.2): CONFIG_ADDRESS at port 0xcf8, CONFIG_DATA at 0xcfc-0xcff.
 * The VMM registers each function either as a 256-byte configuration image with a
 * per-bit write mask (BARs size themselves through that mask), or as a pair of
 * callbacks that own the function's configuration space outright.  Port 0xcf9 is the
 * chipset's reset control register, in the same window.
 */
#ifndef VMM_PCI_HOST_H
#define VMM_PCI_HOST_H

#include "device.h"

#define PCI_HOST_PORT_BASE      0xcf8
#define PCI_HOST_PORT_COUNT     8       /* 0xcf8-0xcff */
#define PCI_RESET_CONTROL_PORT  0xcf9

/* The bridge at 00:00.0: Intel's Q35 DRAM controller, as QEMU shows it to Linux. */
#define PCI_HOST_BRIDGE_VENDOR  0x8086
#define PCI_HOST_BRIDGE_DEVICE  0x29c0

#define PCI_DEVICES             32
#define PCI_FUNCTIONS           8
#define PCI_DEVFN(dev, fn)      (((dev) << 3) | (fn))

/* Type 0 header offsets (§6.1) */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_STATUS              0x06
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_CODE          0x09    /* programming interface, subclass, base class */
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_LATENCY_TIMER       0x0d
#define PCI_HEADER_TYPE         0x0e
#define PCI_BAR0                0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d

#define PCI_COMMAND_IO          0x1     /* the command register's decode enables */
#define PCI_COMMAND_MEMORY      0x2
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_STATUS_CAPABILITIES 0x0010

/* Low bits of a BAR (§6.2.5.1) */
#define PCI_BAR_IO              0x1
#define PCI_BAR_MEM64           0x4
#define PCI_BAR_PREFETCHABLE    0x8

struct pci_function {
    uint8_t config[256];                /* the image, little-endian as the bus sees it */
    uint8_t writable[256];              /* bit set: the guest may change that bit */
    /* Owning the whole space instead of the image: offset is aligned to size. */
    uint32_t (*config_read)(void *ctx, unsigned offset, unsigned size);
    void (*config_write)(void *ctx, unsigned offset, unsigned size, uint32_t value);
    /* Image mode: a write has landed (a BAR moved, the command register changed). */
    void (*config_written)(void *ctx, unsigned offset, unsigned size);
    void *ctx;
};

struct pci_host {
    uint32_t config_address;
    uint8_t reset_control;
    struct pci_function bridge;
    struct pci_function *functions[PCI_DEVICES * PCI_FUNCTIONS];   /* bus 0, by devfn */
    void (*reset_machine)(void *ctx);
    void *ctx;
};

extern const struct device_ops pci_host_ops;   /* ports 0xcf8-0xcff, offset = port - 0xcf8 */

void pci_host_init(struct pci_host *h, void (*reset_machine)(void *ctx), void *ctx);
/* false: the slot is taken or out of range.  Registering a function other than 0
 * marks function 0's image multi-function, so the guest scans the rest. */
bool pci_host_register(struct pci_host *h, unsigned device, unsigned function,
                       struct pci_function *f);

/* Configuration access by bus/devfn, for CONFIG_DATA here and any later ECAM window. */
uint32_t pci_config_read(struct pci_host *h, unsigned bus, unsigned devfn,
                         unsigned offset, unsigned size);
void pci_config_write(struct pci_host *h, unsigned bus, unsigned devfn,
                      unsigned offset, unsigned size, uint32_t value);

/* A type 0 header: IDs, class (base << 16 | sub << 8 | interface), revision; the
 * command register, cache line, latency timer and interrupt line writable. */
void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
                       uint32_t class_code, uint8_t revision);
/* A BAR of size bytes (a power of two; 64-bit BARs take bar and bar + 1). */
bool pci_function_set_bar(struct pci_function *f, unsigned bar, uint64_t size, uint8_t flags);
/* Where the guest has put a BAR (flag bits stripped). */
uint64_t pci_function_bar_address(const struct pci_function *f, unsigned bar);
/* pin 1-4 for INTA#-INTD#, or 0 for none. */
void pci_function_set_interrupt(struct pci_function *f, uint8_t pin, uint8_t line);

#endif
