/*
 * What a guest's platform decides, as operations the exit loop calls instead of asking
 * which platform it runs.  Two platforms implement them:
 *   test_platform  the flat test guests of guests/tests/ (test_platform.c): COM1, the
 *                  test device and a periodic timer at vector 0x20, no PIC or APIC
 *   pc_platform    a PC for Linux, multiboot kernels and firmware (pc.c, pc.h)
 * A new platform is one more table of these; the exit loop does not change.
 *
 * Every operation runs under the VMM lock (vm.h), on the thread of vCPU `cpu`.
 */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/device.h"

struct vm;

struct platform_ops {
    const char *name;
    unsigned max_vcpus;             /* how many vCPUs its interrupt controllers can start */
    unsigned cpuid_emulates;        /* CPUID_EMULATES_*: what its devices stand behind */
    bool places_vcpus;              /* vm_run pins the vCPU threads and says where */
    bool kernel_answers;            /* the kernel answers CPUID and RDMSR of DEBUGCTL
                                     * (exits.c); else every one exits (the test platform
                                     * records the leaves asked) */
    /* The devices that need nothing from the configuration, at vm_create.  NULL: the
     * caller builds them (pc_create). */
    void (*create)(struct vm *vm);
    /* vCPU `cpu` is about to enter the guest for the first time. */
    void (*start)(struct vm *vm, unsigned cpu);
    /* Brings the platform's timers up to now; the host TSC at which vCPU `cpu` must
     * look again (0: nothing to wait for). */
    uint64_t (*update)(struct vm *vm, unsigned cpu);
    /* The vector vCPU `cpu` should take, or -1; take = it is being injected. */
    int (*interrupt)(struct vm *vm, unsigned cpu, bool take);
    /* An NMI waits for vCPU `cpu`; take = it is being injected.  NULL: never. */
    bool (*nmi)(struct vm *vm, unsigned cpu, bool take);
    /* MSRs the platform's devices own: false when the MSR is not one of them, else
     * *ok says whether the access was valid.  NULL: none. */
    bool (*msr_read)(struct vm *vm, uint32_t index, uint64_t *value, bool *ok);
    bool (*msr_write)(struct vm *vm, uint32_t index, uint64_t value, bool *ok);
    /* A window the guest placed itself (a PCI BAR) at that port or guest-physical
     * address, or NULL.  NULL: none. */
    const struct device_window *(*port_window)(struct vm *vm, uint16_t port, struct device_window *out);
    const struct device_window *(*mmio_window)(struct vm *vm, uint64_t gpa, struct device_window *out);
    /* Notification bits for the platform: the switch's signal, the power button. */
    void (*signalled)(struct vm *vm, uint64_t bits);
    /* Optional: an exit of vCPU `cpu` is about to be handled (devices that poll the
     * guest's queues look now), and the vCPU halts (nothing left to spare it). */
    void (*after_exit)(struct vm *vm, unsigned cpu);
    void (*halted)(struct vm *vm, unsigned cpu);
    /* Optional: the platform's lines in the report when the guest has stopped. */
    void (*report)(struct vm *vm);
    /* The task priority CR8 reads and writes (its top 4 bits of 8).  NULL: CR8 is 0. */
    uint8_t (*tpr_read)(struct vm *vm, unsigned cpu);
    void (*tpr_write)(struct vm *vm, unsigned cpu, uint8_t tpr);
};

extern const struct platform_ops test_platform, pc_platform;

#endif
