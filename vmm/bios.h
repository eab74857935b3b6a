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
 * firmware's debug port 0x402 goes to the guest's console (else it is dropped). */
bool bios_load(struct vm *vm, const void *image, uint64_t size, unsigned cpus, bool log);

#endif
