/*
 * One guest: its guest space and RAM, its vCPUs (each with its vCPU thread and the VMM
 * thread that answers its exits), its devices, its time, and the record of what
 * happened while it ran (the checks of run_tests.c read it).  Its platform (platform.h)
 * is the test platform of the flat test guests (test_platform.c) or the PC (pc.h).
 * vm_create builds it from the VMM's own untyped memory, vm_load / linux_load put a
 * guest into its RAM, vm_run runs the exit loop until the guest stops.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/guest.h>
#include <pith/pith.h>
#include <pith/vmexit.h>

#include "lib/console.h"
#include "dev/device.h"
#include "x86/svm_nested.h"
#include "x86/msr.h"
#include "pc.h"
#include "platform.h"
#include "dev/testdev.h"
#include "dev/timer.h"
#include "dev/uart16550.h"

#define VM_TEST_RAM_SIZE    (4ul << 20)     /* test guests: at guest-physical 0 */
#define VM_LOAD_ADDRESS     0x100000ul      /* where flat images start, entered in 32-bit mode */
#define VM_TIMER_VECTOR     0x20
#define VM_TIMER_PERIOD_MS  10
#define VM_TIME_LIMIT_S     60              /* a test guest without a verdict by then fails */
#define VM_LINES_KEPT       48
#define VM_WHY_MAX          160
#define VM_MAX_FRAMES       2048            /* 2 MiB frames: 4 GiB of guest RAM */
#define VM_MAX_VCPUS        8               /* SYSCONF_MAX_VCPUS */

/* The state groups every exit brings; replies write back a subset. */
#define VM_TRANSFER_MASK (PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR | \
                          PITH_VM_GROUP_SEG | PITH_VM_GROUP_INTR)
#define VM_REPLY_MASK   (PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_INTR)
#define VM_GPR(i)       (pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_GPR) + (i))
#define VM_RIP          pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_RIP)
#define VM_RFLAGS       (VM_RIP + 1)
#define VM_CR(i)        (pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_CR) + (i))
#define VM_SEG(i)       (pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_SEG) + (i))
#define VM_INTERRUPTIBILITY pith_vm_group_at(VM_TRANSFER_MASK, PITH_VM_GROUP_INTR)
#define VM_DELIVERING   (VM_INTERRUPTIBILITY + 1)

enum { VM_RAX, VM_RCX, VM_RDX, VM_RBX };
enum { VM_CR0, VM_CR2, VM_CR3, VM_CR4, VM_EFER, VM_DR7 };

/* How a guest ended (besides a test guest's verdict). */
enum vm_end {
    VM_END_NONE,
    VM_END_POWER_OFF,               /* ACPI S5: a clean power-off */
    VM_END_RESET,                   /* i8042 or port 0xcf9 reset, triple fault */
    VM_END_HALTED,                  /* HLT with interrupts off: nothing can wake it */
    VM_END_ERROR,                   /* something the VMM could not emulate */
};

/* What the exit loop counted, for the checks and the report. */
struct vm_record {
    uint64_t exits[PITH_EXIT_COUNT];
    uint64_t exit_tsc[PITH_EXIT_COUNT];     /* TSC ticks the VMM spent handling each reason */
    uint64_t cpuid_leaves;          /* bit n: leaf n asked (n < 32); bit 32: 0x40000000 */
    uint64_t tsc_reads;             /* RDMSR of IA32_TSC */
    uint64_t gp_injected;           /* #GP for unknown MSRs or bad values */
    uint32_t last_gp_msr;
    uint64_t mmio_done;             /* MMIO instructions emulated */
    uint64_t ticks;                 /* test platform: timer periods that ended */
    uint64_t injected_at[PITH_EXIT_COUNT];  /* interrupts, by the exit they rode */
    uint64_t interrupts;            /* external interrupts injected */
    uint64_t recalls;               /* pith_vcpu_recall calls */
    char lines[VM_LINES_KEPT][CONSOLE_LINE_MAX + 1];
    unsigned line_count;            /* lines seen; the first VM_LINES_KEPT are kept */
};

/* The platform's device windows (dev/device.h), in port space and in MMIO space. */
#define VM_PORT_WINDOWS 24
#define VM_MMIO_WINDOWS 4

/* Where a vCPU is, as the VMM threads see it (changed under the VMM lock). */
enum vcpu_state {
    VCPU_WAIT_SIPI,                 /* an application processor before its start-up IPI */
    VCPU_IN_GUEST,                  /* replied to (or resumed): in the guest or about to be */
    VCPU_HANDLING,                  /* its VMM thread handles an exit */
    VCPU_HALTED,                    /* HLT: its VMM thread waits for an interrupt */
};

struct vm;

/* The test platform's own state (test_platform.c). */
struct test_state {
    struct testdev testdev;
    struct periodic_timer timer;
    bool interrupt_pending;         /* a timer interrupt not taken yet */
    uint64_t give_up_at;            /* TSC; 0 = never */
};

/* One vCPU and the VMM thread that serves it.  vCPU 0 is served by the VMM's first
 * thread, the others by threads vm_start_vcpus makes. */
struct vcpu {
    struct vm *vm;
    unsigned index;                 /* also its APIC ID */
    pith_cap_t vcpu, thread, exit_endpoint;
    pith_cap_t notification;        /* bound to its VMM thread: deadlines and kicks */
    pith_cap_t vmm_thread;          /* 0 for vCPU 0 (the VMM's first thread) */
    unsigned host_cpu;              /* where both threads run */
    struct pith_vm_exit exit;
    uint64_t reply_groups;          /* groups beyond VM_REPLY_MASK this reply writes */
    uint64_t tsc_offset;
    uint64_t deadline;              /* the TSC deadline armed now, 0 = none */
    enum vcpu_state state;
    bool recall_requested;          /* a RECALL exit is on its way */
    uint64_t reply_windows;         /* the windows the last reply asked for */
    bool kicked;                    /* its notification was signalled and not yet seen */
    bool halted_interrupts_off;     /* HLT with IF = 0: only an NMI or INIT wakes it */
    bool init_pending;              /* INIT while running: back to wait-for-SIPI */
    bool sipi_pending;
    uint8_t sipi_vector;
    bool finished;                  /* its VMM thread left the exit loop */
    struct svm_nested_cpu svm;      /* virtual SVM (nested_svm.c) */
    uint64_t options;               /* PITH_VM_OPTION_* its VCpu.CONFIGURE gave it */
};

struct vm_config {
    const char *name;
    const struct platform_ops *platform;    /* &test_platform or &pc_platform */
    uint64_t ram_bytes;             /* a multiple of 2 MiB */
    pith_cap_t notification;        /* the VMM thread's bound notification (vCPU 0) */
    unsigned vcpus;                 /* 1..VM_MAX_VCPUS (0: 1) */
    uint64_t cpu_mask;              /* host CPUs for the vCPUs (0: spread over all) */
    unsigned host_cpus;             /* how many the kernel runs threads on */
    uint64_t tsc_hz;
    pith_cap_t console;             /* console server capability, 0: pith_printf */
    bool no_output;                 /* `console none`: the guest's output goes nowhere */
    uint64_t wall_clock;            /* the host's time at start (seconds since 1970), 0: unknown */
    uint64_t exception_bitmap;      /* guest exceptions that exit (GDB_EXCEPTION_BITMAP) */
    bool low_pages;                 /* the first 2 MiB in 4 KiB frames (vm_protect_low) */
};

struct vm {
    const char *name;
    const struct platform_ops *platform;
    pith_cap_t space;
    uint8_t *ram;                   /* guest RAM as the VMM sees it */
    uint64_t ram_size;
    uint64_t tsc_hz;
    uint64_t tsc_start;             /* host TSC at guest time 0 (the guest TSC reads 0) */

    /* vCPUs.  Every device model, the record and the vCPU states below are shared by
     * the VMM threads: a thread touches them only between vm_lock and vm_unlock, and
     * cpu is the vCPU whose thread holds the lock (the one whose exit is handled). */
    struct vcpu cpus[VM_MAX_VCPUS];
    unsigned vcpu_count;
    struct vcpu *cpu;
    uint32_t lock_users;            /* holder + waiters */
    pith_cap_t lock_notification;   /* waiters block on it; the holder hands over */
    bool cpu_fallback;              /* the kernel kept vCPUs on CPU 0 */

    struct uart16550 uart;
    bool port_shortcuts;            /* COM1's LSR and THR answered by the kernel (exits.c);
                                     * off with pith.port_shortcuts=0: docs/vm.md */
    struct {                        /* what the vCPUs' port shortcuts are set to (exits.c) */
        bool known;
        int lsr;                    /* LSR's value, -1: it exits */
        bool thr;                   /* THR writes buffered */
    } shortcuts;
    struct console console;
    pith_cap_t console_cap;         /* the console server, 0 for none */
    bool no_output;                 /* guest output is dropped (kept for the record) */
    uint64_t wall_clock;            /* vm_config.wall_clock */
    char out[256];                  /* guest output not yet sent to the console server */
    unsigned out_length;
    struct device_window ports[VM_PORT_WINDOWS];
    unsigned port_count;
    struct device_window mmio[VM_MMIO_WINDOWS];
    unsigned mmio_count;
    struct msr_file msrs;           /* shared by the vCPUs (MTRR type, MISC_ENABLE...) */
    bool nested_svm;                /* `nested on` on an SVM host (nested_svm.c) */
    bool nested_vmx;                /* `nested on` on a VMX host (nested_vmx.c) */

    union {                         /* the platform's own devices and state */
        struct pc pc;               /* pc_platform */
        struct test_state test;    /* test_platform */
    };

    bool stopped;
    enum vm_end end;
    char why[VM_WHY_MAX];           /* why it stopped, when not by its verdict */
    struct vm_record record;

    uint64_t exception_bitmap;      /* vm_config.exception_bitmap */
    bool low_pages;                 /* vm_config.low_pages */
    struct gdb_stub *gdb;           /* the debugger's stub (gdbstub.h), NULL: none */
    struct pith_guest_stats *stats; /* shared with the root task (pith/guest.h), or NULL */
};

/* An NMI waits for vCPU `cpu` (the platform's, platform.h); take = it is injected. */
static inline bool vm_nmi(struct vm *vm, unsigned cpu, bool take)
{
    return vm->platform->nmi && vm->platform->nmi(vm, cpu, take);
}

/* Guest space, RAM, vCPU, thread and devices; the vCPU stays stopped.  RAM frames are
 * retyped before anything else, so the 2 MiB alignment wastes nothing. */
enum pith_error vm_create(struct vm *vm, const struct vm_config *config);
/* Copies a flat image to VM_LOAD_ADDRESS and sets the vCPU up to enter it in 32-bit
 * protected mode; false (and vm->why) if it does not fit or the state is refused. */
bool vm_load(struct vm *vm, const uint8_t *image, uint64_t size);
/* Runs the guest until it stops (on the VMM's first thread, which serves vCPU 0). */
void vm_run(struct vm *vm);
/* The VMM lock around everything the vCPUs share; unlock also wakes (recall or
 * signal) every vCPU that has something new to take. */
void vm_lock(struct vm *vm, struct vcpu *cpu);
void vm_unlock(struct vm *vm);
/* The VMM threads of vCPUs 1..n-1, each waiting for its start-up IPI (vcpu.c). */
enum pith_error vm_start_vcpus(struct vm *vm);
/* The exit loop of one vCPU (exits.c); returns when the guest stops. */
void vcpu_run(struct vcpu *cpu);
/* An application processor's start-up IPI: real mode at vector << 12 (vcpu.c). */
enum pith_error vcpu_enter_startup(struct vcpu *cpu, uint8_t vector);
/* INIT and start-up IPIs from the local APICs (pc.c's APIC bus). */
void vm_vcpu_init(struct vm *vm, unsigned index);
void vm_vcpu_startup(struct vm *vm, unsigned index, uint8_t vector);
/* Host CPUs for the vCPUs: the mask's CPUs in turn, or spread over all (vcpu.c). */
void vm_place_vcpus(struct vm *vm, uint64_t mask, unsigned host_cpus);
/* Sets the affinity of every vCPU thread (and the first VMM thread) and says where
 * they went (vcpu.c). */
void vm_place_vcpus_on_host(struct vm *vm);
/* Arms the vCPU's notification for host TSC tsc (0: none), unless it already is. */
void vcpu_set_deadline(struct vcpu *c, uint64_t tsc);
/* Asks target (the vCPU's, or its guest's guest's) to leave the guest, and counts it. */
enum pith_error vcpu_recall(struct vcpu *c, pith_cap_t target);
/* An interrupt, NMI, INIT or start-up IPI waits for the vCPU, or the guest stopped. */
bool vcpu_wants_attention(struct vcpu *cpu);
/* Stops every vCPU thread and every VMM thread but the caller's (the guest stopped). */
void vm_stop_vcpus(struct vm *vm);
/* "CPUID", "HLT", ... for PITH_EXIT_* values. */
const char *vm_exit_name(uint64_t reason);
/* Stops the guest with a reason (the first reason is kept). */
void vm_stop(struct vm *vm, enum vm_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Guest time in nanoseconds (0 when the guest started). */
uint64_t vm_now_ns(const struct vm *vm);
/* The host TSC value at guest time ns. */
uint64_t vm_tsc_at(const struct vm *vm, uint64_t ns);
/* Guest-physical memory for devices (DMA) and the page walker: false outside RAM. */
bool vm_read_phys(void *vm, uint64_t gpa, void *buf, size_t length);
bool vm_write_phys(void *vm, uint64_t gpa, const void *buf, size_t length);
/* Guest output: one byte from the UART (or a virtio console). */
void vm_output(struct vm *vm, uint8_t byte);
/* Sends what is buffered to the console server (a partial line too). */
void vm_output_flush(struct vm *vm);
/* A line from the VMM about the guest ("vmm: NAME: ..."), on the console server when
 * there is one, else on the kernel's debug console. */
void vm_log(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The VMM is about to write a line of its own on the guest's console client: the
 * guest's output so far goes first, then a CAN, which ends any sequence the guest left
 * open and its unfinished line (user/console/mux.h), so the VMM's line is shown whole
 * and on its own. */
void vm_own_line(struct vm *vm);
/* Adds a device window; false when the table is full. */
bool vm_add_port_window(struct vm *vm, struct device_window w);
bool vm_add_mmio_window(struct vm *vm, struct device_window w);

/* The capability of the RAM frame that holds the guest-physical page at gpa, and in
 * *attributes what FRAME_MAP needs to map just that page through a copy of it
 * (PITH_ATTR_PIECE and the offset for a 2 MiB frame, 0 for a 4 KiB one): the shadow of
 * a nested guest's memory (nested_shadow.h).  0 outside RAM, and in a firmware guest's
 * legacy hole (0xa0000-0xfffff: VGA, and the BIOS area the chipset may write-protect). */
pith_cap_t vm_ram_page(struct vm *vm, uint64_t gpa, uint64_t *attributes);

/* Makes the guest's pages in [base, base + size) of its first 2 MiB writable or
 * read-only (a write then exits as MMIO).  Only for a guest created with low_pages;
 * base and size page-aligned.  False (the guest stopped) when the kernel refused. */
bool vm_protect_low(struct vm *vm, uint64_t base, uint64_t size, bool writable);

#endif
