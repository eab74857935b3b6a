/*
 * The PC a Linux guest sees (VM_PLATFORM_PC): the device models of dev/ wired
 * together the way a PC chipset wires them.
 *
 *   ports  0x20 0xa0 0x4d0 PIC pair + ELCR    0x40 0x61 PIT        0x60 0x64 i8042
 *          0x70 RTC/CMOS    0x3f8 COM1 (IRQ 4)    0x600 ACPI PM (SCI IRQ 9)
 *          0xcf8 PCI configuration, 0xcf9 reset   virtio I/O BARs where the guest puts them
 *   MMIO   0xfee00000 local APIC    0xfec00000 I/O APIC
 *   RAM    0 .. memory, the ACPI tables at 0xe0000 (e820 reserved)
 *
 * An ISA interrupt n goes to PIC input n and to I/O APIC pin n (IRQ 0 to pin 2, as the
 * MADT's override says); PCI INTA# of device d is IRQ 10 + d % 2 (level, the DSDT's
 * _PRT says so); an MSI goes over the APIC bus like an I/O APIC message.  The PIC's INTR drives the local APIC's LINT0 (virtual wire, as
 * firmware leaves it), the I/O APIC and the local APICs' IPIs go over the APIC bus
 * (dev/apic_bus.h) to the local APIC of each vCPU, and each vCPU takes what its local
 * APIC offers: an NMI, a fixed vector, or (vCPU 0) an ExtINT the PIC resolves.
 *
 * PCI devices beyond the chipset are one file each (pci_*.c) with a struct pc_pci_kind,
 * and one line in pc.c's table: the file builds its function and says what registers
 * sit behind each BAR; the platform finds them wherever the guest puts the BARs.
 *
 * Time: guest nanoseconds from the TSC (vm_now_ns); every device with a timer says
 * when it next needs attention, and the VMM arms one notification deadline for the
 * earliest.
 */
#ifndef VMM_PC_H
#define VMM_PC_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/acpi.h"
#include "dev/apic_bus.h"
#include "dev/i8042.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/pci_host.h"
#include "dev/pic8259.h"
#include "dev/pit8254.h"
#include "dev/rtc.h"
#include "dev/virtio.h"
#include "dev/virtio_pci_modern.h"

#define PC_ACPI_BASE        0xe0000ull      /* in the BIOS area the e820 map reserves */
#define PC_ACPI_SIZE        0x10000ull
#define PC_IRQ_UART         4
#define PC_IRQ_SCI          9
#define PC_IRQ_PCI_BASE     10              /* INTA# of device d: IRQ 10 + d % 2 */
#define PC_PCI_IO_BASE      0xc000u         /* where the VMM places virtio I/O BARs */
#define PC_PCI_MMIO_BASE    0xe0000000ull   /* where the VMM places memory BARs */
#define PC_PCI_MMIO_SLOT    0x100000ull     /* ... 1 MiB per device number */
#define PC_PCI_DEVICES      8               /* beyond the host bridge */
#define PC_INPUT_POLL_NS    20000000ull     /* console input: every 20 ms */
#define PC_NO_EVENT         UINT64_MAX
#define PC_MAX_CPUS         APIC_BUS_MAX

struct vm;

/* A NIC on the switch server: the channel mapped in the VMM, and the capability that
 * signals the switch (docs/network.md). */
struct pc_net {
    void *channel;
    uint8_t mac[6];
    uint64_t switch_signal;
};

struct pc_disk {
    uint8_t *data;                  /* the guest's copy of the module, or the module itself */
    uint64_t size;
    bool writable;                  /* false: data is the shared, read-only boot module */
    /* or, with data NULL, a disk elsewhere (a host partition, storage_client.h) */
    bool (*read)(void *ctx, uint64_t offset, void *buf, size_t length);
    bool (*write)(void *ctx, uint64_t offset, const void *buf, size_t length);
    bool (*flush)(void *ctx);
    void *ctx;
    void *stage;                    /* optional: where read and write want the data (virtio_blk.h) */
    size_t stage_bytes;
};

/* What the configuration puts on the PC's PCI bus; each device's file decides from it
 * whether its device is there. */
struct pc_setup {
    const struct pc_disk *disk;     /* virtio-blk, or NULL */
    bool virtio_console;            /* hvc0, writing to the guest's console */
    const struct pc_net *net;       /* virtio-net on the switch, or NULL */
};

/* The registers behind one BAR, wherever the guest puts it. */
struct pc_pci_bar {
    const struct device_ops *ops;
    void *dev;
    uint64_t length;                /* of the registers; 0: nothing behind this BAR */
};

struct pc_pci_kind;

/* One PCI device of the PC beyond the chipset. */
struct pc_pci_device {
    const struct pc_pci_kind *kind;
    struct pci_function *function;  /* registered at 00:slot.0 */
    struct pc_pci_bar bars[6];
    void *state;                    /* the device file's own */
};

/* A kind of PCI device: its file and its line in pc.c's table. */
struct pc_pci_kind {
    const char *name;
    unsigned slot;                  /* its PCI device number */
    /* Builds the device when the setup asks for it: fills d->function, d->bars and
     * d->state.  Returns false on failure; leaves d->function NULL when absent. */
    bool (*create)(struct vm *vm, const struct pc_setup *setup, struct pc_pci_device *d);
    /* Optional: the VMM's notification brought these bits (the switch's signal). */
    void (*signalled)(struct vm *vm, struct pc_pci_device *d, uint64_t bits);
    /* Optional: its timers up to guest time `now`; the guest time it next needs
     * attention (PC_NO_EVENT: none).  Called on every vCPU's thread. */
    uint64_t (*update)(struct vm *vm, struct pc_pci_device *d, uint64_t now);
    /* Optional: a vCPU's exit is about to be handled; a vCPU halts. */
    void (*after_exit)(struct vm *vm, struct pc_pci_device *d);
    void (*halted)(struct vm *vm, struct pc_pci_device *d);
    /* Optional: its line in the report at power-off. */
    void (*report)(struct vm *vm, const struct pc_pci_device *d);
};

struct pc {
    struct pic pic;
    struct pit pit;
    struct rtc rtc;
    struct i8042 kbd;
    struct lapic lapic[PC_MAX_CPUS];  /* one per vCPU, APIC ID = index */
    struct apic_bus bus;
    struct ioapic ioapic;
    struct pci_host pci;
    struct acpi_pm pm;
    struct acpi_tables acpi;
    struct pc_pci_device pci_devices[PC_PCI_DEVICES];
    unsigned pci_count;
    uint32_t pci_irq_held[2];       /* INTx of PCI devices on IRQ 10 and 11, by device */
    uint64_t next_input_poll;       /* guest ns */
    uint8_t input[256];             /* typed, not yet in the UART's receive FIFO */
    bool keyboard_input;            /* typing goes to the PS/2 keyboard, not the UART */
    void (*poll)(struct vm *vm);    /* called with the input poll (the VGA screen) */
    unsigned input_head, input_count;
    unsigned input_waits;           /* polls an unfinished escape sequence has waited */
    uint64_t extint_injected;       /* interrupts the PIC resolved (ExtINT) */
    uint64_t apic_injected;         /* vectors the local APIC gave */
    uint64_t msi_delivered, msi_dropped;    /* MSIs an APIC took, and the others */
};

/* Builds the devices and their windows, the PCI devices the setup asks for; writes the
 * ACPI tables into RAM.  The platform's operations are pc_platform (platform.h). */
bool pc_create(struct vm *vm, const struct pc_setup *setup);

/* The PCI devices' files use these: */
/* INTA# of PCI device `slot` (shared with the devices on the same IRQ). */
struct irq_line pc_pci_line(struct vm *vm, unsigned slot);
/* Guest memory for a device's DMA (bounds-checked against the guest's RAM). */
struct guest_memory pc_dma(struct vm *vm);
/* A virtio function on the modern transport (m, initialised): its 64-bit memory BAR
 * placed at PC_PCI_MMIO_BASE + slot * PC_PCI_MMIO_SLOT (the guest may move it) with
 * `ops` on `dev` behind it, INTA# while MSI-X is off. */
void pc_modern_function(struct pc_pci_device *d, struct virtio_modern *m, const struct device_ops *ops, void *dev);
/* A virtio function on the legacy transport: I/O BAR 0 placed at 0xc000 + slot *
 * 0x100 (the guest may move it) with `registers` bytes behind it, INTA#. */
void pc_virtio_legacy_function(struct pc_pci_device *d, struct pci_function *f,
                               struct virtio_device *dev, const struct device_ops *ops,
                               uint16_t device_id, uint16_t subsystem, uint32_t class_code);
/* An MSI: a write of data to address (0xfeexxxxx) goes over the APIC bus. */
void pc_msi(void *vm, uint64_t address, uint32_t data);

/* Console input for the guest's UART (from the console server): queued, and moved
 * into the receive FIFO as it has room. */
void pc_input(struct vm *vm, const char *bytes, unsigned n);
/* The interrupt line of ISA IRQ n (the PIC input and the I/O APIC pin). */
struct irq_line pc_isa_line(struct vm *vm, unsigned irq);

#endif
