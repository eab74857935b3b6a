/*
 * The PC's virtio-console at 00:03.0 (legacy transport): /dev/hvc0 of a Linux guest,
 * writing to the same console as the UART.
 */
#include <pith/alloc.h>
#include <pith/string.h>

#include "dev/virtio_console.h"
#include "vm.h"

struct vcon {
    struct virtio_console vcon;
    struct pci_function pci;
};

static void output(void *context, const char *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        vm_output(context, (uint8_t)bytes[i]);
}

static bool create(struct vm *vm, const struct pc_setup *setup, struct pc_pci_device *d)
{
    if (!setup->virtio_console)
        return true;
    struct vcon *c = pith_malloc(sizeof(*c));
    if (!c)
        return false;
    memset(c, 0, sizeof(*c));
    virtio_console_init(&c->vcon, pc_dma(vm), pc_pci_line(vm, d->kind->slot), output, vm);
    d->state = c;
    pc_virtio_legacy_function(d, &c->pci, &c->vcon.dev, &virtio_pci_ops, VIRTIO_PCI_DEVICE_CONSOLE,
                              VIRTIO_SUBSYSTEM_CONSOLE, 0x078000);
    return true;
}

const struct pc_pci_kind pci_virtio_console = { .name = "virtio-console", .slot = 3, .create = create };
