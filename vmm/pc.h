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
 * _PRT says so).  The PIC's INTR drives the local APIC's LINT0 (virtual wire, as
 * firmware leaves it), the I/O APIC and the local APICs' IPIs go over the APIC bus
 * (dev/apic_bus.h) to the local APIC of each vCPU, and each vCPU takes what its local
 * APIC offers: an NMI, a fixed vector, or (vCPU 0) an ExtINT the PIC resolves.
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
#include "dev/virtio_blk.h"
#include "dev/virtio_console.h"
#include "dev/net_link.h"

#define PC_ACPI_BASE        0xe0000ull      /* in the BIOS area the e820 map reserves */
#define PC_ACPI_SIZE        0x10000ull
#define PC_IRQ_UART         4
#define PC_IRQ_SCI          9
#define PC_IRQ_PCI_BASE     10              /* INTA# of device d: IRQ 10 + d % 2 */
#define PC_PCI_IO_BASE      0xc000u         /* where the VMM places virtio I/O BARs */
#define PC_VIRTIO_BLK_DEV   2               /* PCI device numbers */
#define PC_VIRTIO_CONSOLE_DEV 3
#define PC_VIRTIO_NET_DEV   4
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
    bool has_disk, has_vconsole;
    struct pc_disk disk;
    struct virtio_blk blk;
    struct pci_function blk_pci;
    struct virtio_console vcon;
    struct pci_function vcon_pci;
    bool has_net;
    struct virtio_net net;
    struct pci_function net_pci;
    struct net_link net_link;
    uint64_t net_switch_signal;
    uint32_t pci_irq_held[2];       /* INTx of PCI devices on IRQ 10 and 11, by device */
    uint64_t next_input_poll;       /* guest ns */
    uint8_t input[256];             /* typed, not yet in the UART's receive FIFO */
    bool keyboard_input;            /* typing goes to the PS/2 keyboard, not the UART */
    void (*poll)(struct vm *vm);    /* called with the input poll (the VGA screen) */
    unsigned input_head, input_count;
    unsigned input_waits;           /* polls an unfinished escape sequence has waited */
    uint64_t extint_injected;       /* interrupts the PIC resolved (ExtINT) */
    uint64_t apic_injected;         /* vectors the local APIC gave */
};

/* Builds the devices and their windows; writes the ACPI tables into RAM. */
bool pc_create(struct vm *vm, const struct pc_disk *disk, bool virtio_console);

/* Adds a virtio-net function (PCI 00:04.0) connected to the switch through net. */
bool pc_add_net(struct vm *vm, const struct pc_net *net);
/* The switch signalled (or anything woke the VMM): move the frames that can move. */
void pc_net_poll(struct vm *vm);

/* Brings every timer up to date at guest time now; returns the guest time of the
 * next event vCPU `cpu` must wake for (PC_NO_EVENT for none): its local APIC's timer,
 * and for vCPU 0 the machine's (PIT, RTC, console input). */
uint64_t pc_update(struct vm *vm, uint64_t now, unsigned cpu);

/* The vector vCPU `cpu` should take now, or -1; take = acknowledge it (it goes in
 * service at the local APIC or the PIC). */
int pc_interrupt(struct vm *vm, unsigned cpu, bool take);
/* An NMI waits for vCPU `cpu`; take = it is being injected. */
bool pc_nmi(struct vm *vm, unsigned cpu, bool take);

/* MSRs the PC's devices own (the local APIC's); false: not one of them. */
bool pc_msr_read(struct vm *vm, uint32_t index, uint64_t *value, bool *ok);
bool pc_msr_write(struct vm *vm, uint32_t index, uint64_t value, bool *ok);

/* Port windows whose place the guest chooses (virtio BARs): the one at port, or NULL. */
const struct device_window *pc_port_window(struct vm *vm, uint16_t port, struct device_window *out);

/* Console input for the guest's UART (from the console server): queued, and moved
 * into the receive FIFO as it has room. */
void pc_input(struct vm *vm, const char *bytes, unsigned n);
/* The interrupt line of ISA IRQ n (the PIC input and the I/O APIC pin). */
struct irq_line pc_isa_line(struct vm *vm, unsigned irq);

#endif
