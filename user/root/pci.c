/* PCI configuration space (pci.h). */
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/syscall.h>
#include <pith/alloc.h>
#include "pci.h"

#define PCI_ADDRESS 0xcf8
#define PCI_DATA    0xcfc

bool pci_open(void)
{
    static bool open;
    static pith_cap_t ports;
    if (open)
        return true;
    if (!ports)
        ports = pith_alloc_slot();
    open = pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, PCI_ADDRESS, PCI_DATA + 3, ports) == PITH_OK &&
           pith_ioport_allow(ports, PITH_SLOT_ADDRESS_SPACE) == PITH_OK;
    return open;
}

uint32_t pci_read(uint32_t location, unsigned reg)
{
    pith_outl(PCI_ADDRESS, 0x80000000u | location << 8 | (reg & 0xfc));
    return pith_inl(PCI_DATA);
}

void pci_write(uint32_t location, unsigned reg, uint32_t value)
{
    pith_outl(PCI_ADDRESS, 0x80000000u | location << 8 | (reg & 0xfc));
    pith_outl(PCI_DATA, value);
}

int64_t pci_find(bool (*match)(uint32_t id, uint32_t class_revision))
{
    for (uint32_t bus = 0; bus < 256; bus++)
        for (uint32_t device = 0; device < 32; device++)
            for (uint32_t function = 0; function < 8; function++) {
                uint32_t location = bus << 8 | device << 3 | function;
                uint32_t id = pci_read(location, 0);
                if ((id & 0xffff) == 0xffff) {
                    if (function == 0)
                        break;
                    continue;
                }
                if (match(id, pci_read(location, 0x08)))
                    return location;
                if (function == 0 && !(pci_read(location, 0x0c) >> 16 & 0x80))
                    break;              /* not a multi-function device */
            }
    return -1;
}
