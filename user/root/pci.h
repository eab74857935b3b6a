/* PCI configuration space for the root task's drivers' set-up (uplink.c, storage.c):
 * configuration mechanism #1 through ports 0xcf8/0xcfc (PCI Local Bus Specification
 * 3.0 §3.2.2.3.2).  A location is bus << 8 | device << 3 | function. */
#ifndef ROOT_PCI_H
#define ROOT_PCI_H

#include <stdbool.h>
#include <stdint.h>

/* The root task's access to the two ports, once; false when it is refused. */
bool pci_open(void);

uint32_t pci_read(uint32_t location, unsigned reg);
void pci_write(uint32_t location, unsigned reg, uint32_t value);

/* The first function on any bus that `match` accepts (given its vendor/device word at
 * 0x00 and its class/revision word at 0x08): its location, or -1. */
int64_t pci_find(bool (*match)(uint32_t id, uint32_t class_revision));

#endif
