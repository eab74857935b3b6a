/*
 * Booting a multiboot (v1 or v2) kernel in a PC guest: boot/multiboot.h loads it into
 * guest RAM with the PC's memory map and the ACPI RSDP, and the vCPU starts in 32-bit
 * protected mode without paging at the kernel's entry, EAX the magic, EBX the
 * information's address -- the machine state both specifications require.
 */
#ifndef VMM_MULTIBOOT_GUEST_H
#define VMM_MULTIBOOT_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/multiboot.h"

struct vm;

struct multiboot_guest {
    const void *kernel;
    uint64_t kernel_size;
    const char *cmdline;                    /* the configuration's, or NULL */
    const struct multiboot_module *modules;
    unsigned module_count;
};

/* false (and vm->why naming the problem) when the image has no usable header or asks
 * for memory the guest lacks. */
bool multiboot_guest_load(struct vm *vm, const struct multiboot_guest *guest);

#endif
