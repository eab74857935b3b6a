/*
 * Firmware boot (`boot bios`): SeaBIOS's image mapped at the top of the 32-bit
 * address space with its last 128 KiB also in the BIOS area of RAM (0xe0000-0xfffff,
 * shadowed from the start, so the PAM registers need not move memory), a fw_cfg
 * device with the memory map, CPU count, boot order and serial console, SeaBIOS's
 * debug port 0x402, and the vCPU left at the reset vector in real mode.
 */
#ifndef VMM_BIOS_H
#define VMM_BIOS_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

#define BIOS_DEBUG_PORT     0x402
#define BIOS_MAX_SIZE       (2ull << 20)
#define BIOS_WINDOW         0x3fc00000ull   /* where the VMM sees the firmware frame */

/* NULL when an image of this size can be firmware (a multiple of 64 KiB, 64 KiB to
 * 2 MiB), else why not. */
const char *bios_image_problem(uint64_t size);

/* false (and vm->why) when the image is unusable or a device does not fit.  log: the
 * firmware's debug port 0x402 goes to the guest's console (else it is dropped);
 * menu_wait_ms: how long SeaBIOS offers its boot menu (at most 65535). */
#define BIOS_MENU_WAIT_MS   2500
bool bios_load(struct vm *vm, const void *image, uint64_t size, unsigned cpus, bool log,
               unsigned menu_wait_ms);

/* A disk image on the IDE controller (PCI 00:01.1, the legacy ports, IRQ 14 and 15):
 * slot 0-3 is primary master, primary slave, secondary master, secondary slave; a
 * hard disk must be whole 512-byte sectors.  The image is a boot module and stays as
 * it is: a hard disk's writes go to the guest's own copy of what they change, kept in
 * the VMM's memory until the guest ends; a CD is read-only.
 * false (and vm->why naming the problem) when it cannot be attached. */
struct irq_line;
bool bios_attach_disk(struct vm *vm, unsigned slot, const void *data, uint64_t size, bool cdrom,
                      const struct irq_line *primary, const struct irq_line *secondary);
/* A hard disk whose sectors are `d`'s callbacks: a host partition through the storage
 * server (`disk part:NAME`), writable, its writes kept across boots. */
struct pc_disk;
bool bios_attach_host_disk(struct vm *vm, unsigned slot, const struct pc_disk *d,
                           const struct irq_line *primary, const struct irq_line *secondary);

/* The VGA text screen: the registers at 0x3b0-0x3df, and vga_poll() sends the rows of
 * 0xb8000 that changed to the guest's console. */
bool bios_attach_vga(struct vm *vm);
void bios_vga_poll(struct vm *vm);

#endif
