/*
 * Booting a Linux bzImage in a PC guest (boot/linux_boot.h does the boot protocol):
 * the kernel, the initrd and the command line into guest RAM, the zero page with the
 * e820 map and the ACPI RSDP, and the vCPU at startup_64 in 64-bit mode.
 */
#ifndef VMM_LINUX_H
#define VMM_LINUX_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

struct linux_guest {
    const void *kernel;
    uint64_t kernel_size;
    const void *initrd;             /* NULL for none */
    uint64_t initrd_size;
    const char *cmdline;            /* the configuration's; the VMM appends to it */
};

/* The command line the guest gets: the configured one, then what the VMM knows and the
 * guest cannot measure well -- tsc_early_khz=<the TSC frequency>, tsc=reliable (the
 * host's TSC: a guest whose timer ticks arrive late must not call it unstable) and
 * no_timer_check (its boot check that timer interrupts arrive within a short span of
 * TSC time panics when the host is busy) -- and pith.name=<the guest's name>, each unless the
 * line already has it. */
void linux_cmdline(const struct vm *vm, const char *configured, char *out, unsigned size);

/* false (and vm->why) when the image is not a bzImage Linux can boot from here, or
 * something does not fit in the guest's RAM. */
bool linux_load(struct vm *vm, const struct linux_guest *guest);

#endif
