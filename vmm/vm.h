/*
 * One guest: its guest space and RAM, its vCPU and the vCPU's thread, its devices,
 * its timer, and the record of what happened while it ran (the checks of main.c
 * read it).  vm_create builds it from the VMM's own untyped memory, vm_load copies a
 * flat image into its RAM, vm_run runs the exit loop until the guest stops.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/pith.h>
#include <pith/vmexit.h>

#include "console.h"
#include "dev/device.h"
#include "msr.h"
#include "testdev.h"
#include "timer.h"
#include "uart16550.h"

#define VM_RAM_SIZE         (4ul << 20)     /* at guest-physical 0, in 2 MiB frames */
#define VM_LOAD_ADDRESS     0x100000ul      /* where flat images start, entered in 32-bit mode */
#define VM_TIMER_VECTOR     0x20
#define VM_TIMER_PERIOD_MS  10
#define VM_TIME_LIMIT_S     60              /* a guest without a verdict by then fails */
#define VM_LINES_KEPT       48
#define VM_WHY_MAX          160

/* The state groups every exit brings and every reply writes back. */
#define VM_TRANSFER_MASK (PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_INTR)
#define VM_GPR(i)       (pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_GPR) + (i))
#define VM_RIP          pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_RIP)
#define VM_RFLAGS       (VM_RIP + 1)
#define VM_INTERRUPTIBILITY pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_INTR)
#define VM_DELIVERING   (VM_INTERRUPTIBILITY + 1)

enum { VM_RAX, VM_RCX, VM_RDX, VM_RBX };

/* What the exit loop counted, for the checks. */
struct vm_record {
    uint64_t exits[PITH_EXIT_COUNT];
    uint64_t cpuid_leaves;          /* bit n: leaf n asked (n < 32); bit 32: 0x40000000 */
    uint64_t tsc_reads;             /* RDMSR of IA32_TSC */
    uint64_t gp_injected;           /* #GP for unknown MSRs or bad values */
    uint32_t last_gp_msr;
    uint64_t mmio_done;             /* MMIO instructions emulated */
    uint64_t ticks;                 /* timer periods that ended */
    uint64_t injected_at[PITH_EXIT_COUNT];  /* timer interrupts, by the exit they rode */
    uint64_t recalls;               /* pith_vcpu_recall calls */
    char lines[VM_LINES_KEPT][CONSOLE_LINE_MAX + 1];
    unsigned line_count;            /* lines seen; the first VM_LINES_KEPT are kept */
};

/* The platform's device windows (dev/device.h), in port space and in MMIO space. */
enum vm_port_window { VM_PORTS_COM1, VM_PORTS_TEST, VM_PORT_WINDOWS };
enum vm_mmio_window { VM_MMIO_TEST, VM_MMIO_WINDOWS };

struct vm {
    const char *name;
    pith_cap_t space, vcpu, thread, exit_endpoint;
    pith_cap_t timer_notification;  /* bound to the VMM's thread */
    uint8_t *ram;                   /* guest RAM as the VMM sees it */
    uint64_t tsc_hz;
    struct pith_vm_exit exit;

    struct uart16550 uart;
    struct testdev testdev;
    struct console console;
    struct device_window ports[VM_PORT_WINDOWS];
    struct device_window mmio[VM_MMIO_WINDOWS];
    struct msr_file msrs;
    uint64_t tsc_offset;

    struct periodic_timer timer;
    bool interrupt_pending;         /* a timer interrupt the guest has not taken yet */
    bool recall_requested;          /* a RECALL exit is on its way */
    uint64_t give_up_at;            /* TSC */

    bool stopped;
    char why[VM_WHY_MAX];           /* why it stopped, when not by its verdict */
    struct vm_record record;
};

/* Guest space, RAM, vCPU, thread and devices; the vCPU stays stopped.  `notification`
 * is the VMM thread's bound notification, used for the guest's timer. */
enum pith_error vm_create(struct vm *vm, const char *name, pith_cap_t notification,
                          uint64_t tsc_hz);
/* Copies a flat image to VM_LOAD_ADDRESS and sets the vCPU up to enter it in 32-bit
 * protected mode; false (and vm->why) if it does not fit or the state is refused. */
bool vm_load(struct vm *vm, const uint8_t *image, uint64_t size);
/* Runs the guest until it writes its verdict or something stops it. */
void vm_run(struct vm *vm);
/* "CPUID", "HLT", ... for PITH_EXIT_* values. */
const char *vm_exit_name(uint64_t reason);
/* Stops the guest with a reason (the first reason is kept). */
void vm_stop(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
