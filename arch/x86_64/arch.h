/*
 * The interface between the generic kernel (kernel/) and arch/x86_64.  Generic code
 * includes this header only (as <arch.h>: the Makefile puts arch/x86_64 on the include
 * path), never x86.h or a vendor header; what it needs of the machine is declared or
 * defined inline here.  The rest of arch/x86_64 uses x86.h for instructions and
 * architectural constants.
 */
#ifndef ARCH_H
#define ARCH_H

#include "../../kernel/kernel.h"

/* An address with bits 63..47 all equal (SDM Vol. 1 3.3.7.1). */
static inline bool is_canonical(uint64_t va)
{
    return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/* ---- A thread's user registers as the system-call ABI uses them (abi.md) ----------
 * rax: the system-call number in, the result out; rdi: the capability named (in) and
 * the badge or notification word (out); rsi: the message info; rdx, r8, r9, r10:
 * message registers 0..3.  Inline, so the IPC fast path stays as short as it was. */
_Static_assert(PITH_MSG_REGS_IN_CPU == 4, "rdx, r8, r9 and r10 carry MR0..MR3");

static inline uint64_t arch_syscall_number(const struct thread *t) { return t->regs.rax; }
static inline uint64_t arch_result(const struct thread *t) { return t->regs.rax; }
static inline void arch_set_result(struct thread *t, uint64_t v) { t->regs.rax = v; }
static inline uint64_t arch_cap_arg(const struct thread *t) { return t->regs.rdi; }
static inline uint64_t arch_badge(const struct thread *t) { return t->regs.rdi; }
static inline void arch_set_badge(struct thread *t, uint64_t v) { t->regs.rdi = v; }
static inline uint64_t arch_msg_info(const struct thread *t) { return t->regs.rsi; }
static inline void arch_set_msg_info(struct thread *t, uint64_t v) { t->regs.rsi = v; }
static inline uint64_t arch_user_ip(const struct thread *t) { return t->regs.rip; }
static inline void arch_set_user_ip(struct thread *t, uint64_t v) { t->regs.rip = v; }

/* Message register i < PITH_MSG_REGS_IN_CPU. */
static inline uint64_t arch_mr_reg(const struct thread *t, unsigned i)
{
    switch (i) {
    case 0: return t->regs.rdx;
    case 1: return t->regs.r8;
    case 2: return t->regs.r9;
    case 3: return t->regs.r10;
    default: __builtin_unreachable();
    }
}

static inline void arch_set_mr_reg(struct thread *t, unsigned i, uint64_t v)
{
    switch (i) {
    case 0: t->regs.rdx = v; break;
    case 1: t->regs.r8 = v; break;
    case 2: t->regs.r9 = v; break;
    case 3: t->regs.r10 = v; break;
    default: __builtin_unreachable();
    }
}

static inline void arch_copy_mr_regs(const struct thread *from, struct thread *to)
{
    to->regs.rdx = from->regs.rdx;
    to->regs.r8 = from->regs.r8;
    to->regs.r9 = from->regs.r9;
    to->regs.r10 = from->regs.r10;
}

/* Run the system call again when the thread next runs: back over SYSCALL (0f 05). */
static inline void arch_restart_syscall(struct thread *t) { t->regs.rip -= 2; }

/* A new thread's start: where it runs, its stack and its first argument (rdi). */
static inline void arch_set_entry(struct thread *t, uint64_t ip, uint64_t sp, uint64_t arg)
{
    t->regs.rip = ip;
    t->regs.rsp = sp;
    t->regs.rdi = arg;
}

/* The register PITH_REG_i (abi.h order) of Thread.read/write_registers. */
static inline uint64_t *arch_thread_register(struct thread *t, unsigned i)
{
    struct user_regs *r = &t->regs;
    uint64_t *const map[PITH_REG_COUNT] = {
        &r->rip, &r->rsp, &r->rflags, &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi,
        &r->rbp, &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
        &t->fs_base, &t->gs_base };
    return map[i];
}

/* Registers were written from outside: leave through IRETQ, which restores every
 * register exactly as written (SYSRET would take rip from rcx and rflags from r11). */
static inline void arch_registers_written(struct thread *t) { t->regs.vector = 0; }

/* The RFLAGS a thread's registers may be given (SDM Vol. 1 3.4.3): the arithmetic
 * flags (CF PF AF ZF SF OF), TF, DF, AC and ID of what was asked for.  Never IOPL
 * (IRETQ at CPL 0 would load it: in, out, cli for the thread), NT, RF, VM, VIF or VIP;
 * IF (bit 9) and the always-one bit 1 are set. */
/* Page-table entry bits of the x86-64 format (SDM 4.5), which address spaces and
 * NPT guest spaces share. */
#define PTE_P    BIT(0)
#define PTE_W    BIT(1)
#define PTE_U    BIT(2)
#define PTE_PWT  BIT(3)
#define PTE_PCD  BIT(4)
#define PTE_PS   BIT(7)
#define PTE_NX   BIT(63)
#define PTE_ADDR 0x000ffffffffff000ull

#define RFLAGS_USER_MASK 0x240dd5ull
static inline uint64_t arch_user_rflags(uint64_t requested)
{
    return (requested & RFLAGS_USER_MASK) | BIT(9) | 2;
}

/* Stop this CPU for good: interrupts off, halted (panic). */
static inline NORETURN void arch_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" ::: "memory");
}

/* cpu.c; it keeps every register, so that calling it (from asm, below) costs the
 * paths that never take it nothing */
__attribute__((no_caller_saved_registers)) void fpu_load_racing_cpu0(const uint8_t *area);

/* Give the CPU's FPU/SSE registers to t: the previous owner's are saved (FXSAVE) and
 * t's loaded, only when they are not t's already.  For threads and vCPU threads.
 * Where an x87 state load races with CPU 0 (x87_load_races, cpu.c), an image whose
 * x87 part is initial is loaded without one. */
static inline void arch_fpu_switch(struct cpu *c, struct thread *t)
{
    if (c->fpu_owner == t)
        return;
    if (c->fpu_owner)
        __asm__ volatile("fxsaveq (%0)" :: "r"(c->fpu_owner->fpu) : "memory");
    if (__builtin_expect(c->x87_load_races, 0)) {
        const uint8_t *area = t->fpu;
        __asm__ volatile("call fpu_load_racing_cpu0" : "+D"(area) :: "memory", "cc");
    } else
        __asm__ volatile("fxrstorq (%0)" :: "r"(t->fpu) : "memory");
    c->fpu_owner = t;
}

/* cpu.c */
void cpu_init(void);                          /* the bootstrap processor, cpus[0] */
bool cpu_prepare(struct cpu *c, void *(*alloc)(uint64_t size));   /* an AP's tables */
uint64_t cpu_stack_top(const struct cpu *c);
void *cpu_vm_page(struct cpu *c, unsigned i); /* two zeroed pages of c's for VMX or SVM */
void cpu_init_ap(struct cpu *c);              /* on the AP itself */
uint64_t cpu_features(void);
uint64_t cpu_random_seed(void);              /* unpredictable to tasks: RDRAND, the TSC */
uint64_t cpu_tss_base(void);                  /* for the VMX host state */
void cpu_print_features(void);
void arch_thread_init(struct thread *t);
void arch_load_thread(struct thread *t);      /* address space, stacks, FPU, TLS, I/O */
void arch_forget_thread(struct thread *t);
void arch_forget_space(struct address_space *as);
void arch_forget_space_io(struct address_space *as);
void arch_flush_tlb_page(struct address_space *as, uint64_t vaddr);
void arch_flush_tlb(struct address_space *as);
void arch_release_fpu(struct thread *t);      /* its FPU state back in t->fpu, every CPU */
void arch_bases_written(struct thread *t);    /* its FS/GS base changed: every CPU */
#define BASES_UNKNOWN ((struct thread *)1)    /* cpu.bases_of: no thread's, maybe not the values */
void arch_serve_requests(struct cpu *c);      /* CPU_REQUEST_* posted to c (kernel.h) */
void cpu_idle(struct cpu *c);                 /* without the lock until an interrupt */
NORETURN void restore_user(struct user_regs *regs);
NORETURN void restore_current_user(void);     /* the thread arch_load_thread loaded */

/* kernel_map.c: W^X for the kernel image, no execute in the physmap (after cpu_init) */
void kernel_map_protect(void);
/* kernel_map.c: the physmap over [base, end) above 4 GiB (2 MiB aligned), at boot */
void kernel_map_physmap(uint64_t base, uint64_t end, void *(*alloc)(uint64_t size));

/* Virtualization backends (svm/, vmx/), one chosen at boot by vcpu_arch_init_cpu.
 * Generic code sees only these hooks and vcpu_of_object.
 * A VCpu object (VCPU_OBJECT_BITS): page 0 the VMCB or VMCS, pages 1..3 the I/O
 * intercept bitmap (VMX: two pages, then the TPR shadow's page), pages 4..5 the MSR
 * bitmap, pages 6..7 struct vcpu. */
#define VCPU_PAGE_CONTROL       0
#define VCPU_PAGE_IO_BITMAP     1
#define VCPU_PAGE_MSR_BITMAP    4
#define VCPU_PAGE_STATE         6
_Static_assert(sizeof(struct vcpu) <= 2 * PAGE_SIZE, "struct vcpu fits its pages");

static inline struct vcpu *vcpu_of_object(uint64_t object)
{
    return (struct vcpu *)(object + VCPU_PAGE_STATE * PAGE_SIZE);
}
static inline void *vcpu_page(const struct vcpu *v, unsigned page)
{
    return (uint8_t *)v - VCPU_PAGE_STATE * PAGE_SIZE + page * PAGE_SIZE;
}

struct vcpu_exit {
    uint64_t reason;            /* PITH_EXIT_*, or one the kernel keeps (above them all): */
    uint64_t raw, qualification, qualification2, length;
};

/* What both backends keep in struct vcpu.arch; each backend's own state follows it
 * (struct svm_vcpu, struct vmx_vcpu).  space, space_generation and the tag are of the
 * CPU in last_cpu: a vCPU that comes to another CPU starts afresh there. */
struct vcpu_x86 {
    uint64_t gpr[16];           /* guest GPRs the hardware does not keep (guest_gprs.h) */
    uint64_t guest_dr[4];       /* DR0..DR3: neither VMCB nor VMCS holds them */
    struct guest_space *space;  /* the guest space the backend last loaded */
    uint64_t space_generation;  /* the guest space's generation last flushed */
    uint32_t tag;                   /* the ASID (SVM) or VPID (VMX) ... */
    uint64_t tag_generation;        /* ... and its round (64 bits: never wraps back to a
                                     * round a sleeping vCPU's stale tag was given in) */
    uint32_t last_cpu;          /* 1 + the CPU it last entered the guest on, 0 = none */
    struct vcpu_exit exit;      /* the last exit, decoded on its CPU before the lock */
};
#define VCPU_X86_GPR_OFFSET 8   /* of gpr[0] in struct vcpu: guest_gprs.h */
static inline struct vcpu_x86 *vcpu_x86(struct vcpu *v) { return (struct vcpu_x86 *)v->arch; }
#define VCPU_EXIT_KEEP_INTERRUPT  (1ull << 32)  /* a host interrupt is pending */
#define VCPU_EXIT_KEEP_NMI        (2ull << 32)
#define VCPU_EXIT_KEEP_EXCEPTION  (3ull << 32)  /* a guarded exception: given back (below) */
_Static_assert(PITH_EXIT_COUNT < VCPU_EXIT_KEEP_INTERRUPT, "kept exits are above the VMM's");
/* #DB and #AC are intercepted whatever the VMM asks: a CPU delivering either can loop
 * in microcode without end (a #DB on a data breakpoint over the guest's own exception
 * stack; an #AC whose delivery pushes to a misaligned stack at CPL 3), taking no
 * interrupt and making no exit, and the first recall or TLB shootdown aimed at that
 * CPU would then wait for ever with the kernel lock held.  Intercepted, each delivery
 * is an exit: when the VMM did not ask for the vector and no event's delivery was cut
 * short, the kernel injects the same exception and enters again (vcpu_exited), so the
 * guest sees what it would have, and the host takes its interrupts in between. */
#define VCPU_GUARDED_EXCEPTIONS   ((1u << 1) | (1u << 17))
/* An exception exit the kernel gives back to the guest (VCPU_EXIT_KEEP_EXCEPTION). */
static inline bool vcpu_exception_guarded(uint64_t vmm_bitmap, uint64_t vector, bool delivering)
{
    return vector < 32 && ((VCPU_GUARDED_EXCEPTIONS & ~vmm_bitmap) >> vector & 1) && !delivering;
}
bool vcpu_arch_init_cpu(void);                  /* false: no usable VMX/SVM */
bool vcpu_arch_init_ap(void);                   /* the chosen backend on an AP, on the AP */
void vcpu_arch_serve_request(struct cpu *c);    /* CPU_REQUEST_VM, on c itself */
void vcpu_arch_before_idle(struct cpu *c);      /* on c, before it halts */
/* Right after a VM exit (or a refused entry), on the exiting CPU, before it takes the
 * big lock: everything of the exit that lives in the CPU goes into v, the host gets its
 * own state back.  Once the lock is taken another CPU may have taken the vCPU thread
 * away (sched_recall) and v may be gone: vcpu_exited then touches it no more. */
void vcpu_arch_after_exit(struct vcpu *v);
const char *vcpu_arch_name(void);
void vcpu_arch_init(struct vcpu *v);
void vcpu_arch_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
uint64_t vcpu_arch_options(void);               /* the PITH_VM_OPTION_* this CPU has */
void vcpu_arch_destroy(struct vcpu *v);                /* before its memory is reused */
NORETURN void vcpu_arch_run(struct vcpu *v);    /* ends in vcpu_exited(v) on a fresh stack */
const struct vcpu_exit *vcpu_arch_exit_info(struct vcpu *v);   /* the exit after_exit kept */
/* The kept exit goes to the VMM: with the lock, on the exiting CPU, the thread still
 * its current one.  One-shot requests the exit answers (interrupt and NMI windows) are
 * consumed here, not while after_exit decodes it: an exit vcpu_exited drops because
 * the thread was taken away meanwhile then comes again at the next entry. */
void vcpu_arch_exit_delivered(struct vcpu *v, const struct vcpu_exit *e);
void vcpu_arch_read_group(struct vcpu *v, unsigned group, uint64_t *out);
void vcpu_arch_write_group(struct vcpu *v, unsigned group, const uint64_t *in);
void vcpu_arch_inject(struct vcpu *v, uint64_t event, uint64_t error_code);
/* A guarded #DB the kernel gives back (vcpu.c): what the CPU's own delivery would have
 * done besides the event: DR7.GD cleared (SDM 17.2.4), so a handler's first MOV from a
 * debug register does not fault again; on VMX, a single step out of an STI or MOV SS
 * shadow marked pending (BS), which the entry requires then (SDM 26.3.1.5). */
void vcpu_arch_debug_given_back(struct vcpu *v);
/* The event the next entry would inject, taken out of the VMCS or VMCB: the event word
 * with its error code in bits 32..63, 0 for none. */
uint64_t vcpu_arch_withdraw_event(struct vcpu *v);
void vcpu_arch_request_windows(struct vcpu *v, uint64_t windows);
void vcpu_arch_set_io(struct vcpu *v, unsigned first, unsigned last, bool direct);
void arch_guest_space_flush(struct guest_space *gs);
/* Entries of guest page tables (GuestSpace), in the backend's format: EPT on VMX, the
 * ordinary x86 format on SVM (NPT).  Both keep the address in bits 12..51 and mark a
 * large page with bit 7, which vspace.c relies on. */
uint64_t guest_pte_present_bits(void);          /* present: any of these is set */
uint64_t guest_pte_table(uint64_t phys);
uint64_t guest_pte_leaf(uint64_t phys, unsigned rights, bool large, bool uncached);
void arch_take_interrupts(void);                /* let pending host interrupts in, briefly */

/* trap.c: called by entry.S with the interrupted context's frame */
void trap_from_user(void);
void trap_from_kernel(struct user_regs *frame);
void trap_nmi(struct user_regs *frame);
void trap_debug_kernel(struct user_regs *frame);
NORETURN void trap_fatal(struct user_regs *frame);

/* serial.c */
void serial_init(void);
void serial_putc(char c);

/* apic.c: LAPIC timer, legacy PIC, TSC calibration */
void timer_init(void);
void timer_arm(uint64_t tsc_deadline);
uint64_t timer_tsc_hz(void);
/* The time stamp counter (machine-wide time in timer_tsc_hz() ticks a second). */
static inline uint64_t arch_timestamp(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}
void pic_mask(unsigned line);
void pic_unmask(unsigned line);
void pic_eoi(unsigned line);
void pic_disable(void);
struct acpi_cpus;
/* Lines 0..15 through the MADT's I/O APIC to destination_apic_id, else the 8259. */
void irq_controller_init(const struct acpi_cpus *found, uint32_t destination_apic_id);
bool irq_controller_is_ioapic(void);
uint64_t irq_controller_mmio(void);             /* the I/O APIC's page, 0 with the 8259 */
/* A line's interrupt arrived: acknowledged, and held until opened again; true if it is
 * to be delivered (false: it came while held, and opening delivers it). */
bool irq_line_fired(unsigned line);
void irq_line_hold(unsigned line);              /* no more interrupts until opened */
bool irq_line_open(unsigned line);              /* true: one came while held */
void irq_line_close(unsigned line);             /* held, and a remembered one forgotten */
void lapic_eoi(void);
void lapic_before_idle(void);                   /* the TPR written again before HLT */
uint32_t lapic_id(void);
void lapic_init_ap(void);                     /* enabled, every local interrupt masked */
void timer_init_ap(void);                     /* an AP's own timer, after lapic_init_ap */
void lapic_send_ipi(uint32_t apic_id, unsigned vector);
bool lapic_start_cpu(uint32_t apic_id, uint64_t trampoline_phys);
void lapic_reset_cpu(uint32_t apic_id);       /* INIT: back to waiting for a SIPI */
void tsc_delay_us(uint64_t us);

/* smp.c: find the CPUs in the ACPI tables and start the others (after timer_init,
 * before any thread runs).  Returns how many are online, the caller's included. */
unsigned smp_start(const uint8_t *rsdp, unsigned rsdp_size, uint64_t trampoline_phys,
                   void *(*alloc)(uint64_t size));
#define VECTOR_IRQ_BASE 0x20
#define VECTOR_TIMER    0xf0
#define VECTOR_IPI      0xf1    /* enter the kernel: choose again, serve the requests */
#define VECTOR_SPURIOUS 0xff

/* ---- Virtualization, continued: the guest's space, state checks, tags, debug registers */

/* Before every entry: the guest space of the vCPU thread's address-space slot.  One
 * other than the backend last loaded becomes the nested root, its TLB entries clean. */
void vcpu_arch_load_space(struct vcpu *v, struct guest_space *gs);
/* Check what the VMM wrote to `groups` since the last check: 0 if the guest may run,
 * else a PITH_VM_REFUSED_* reason. */
unsigned vcpu_arch_check_state(struct vcpu *v, uint64_t groups);
/* After an exit: control registers the guest reached by itself that a CPU would not
 * have let it (an emulator's gap) have the next entry check the CR group. */
void vcpu_arch_recheck_controls(struct vcpu *v, uint64_t cr0, uint64_t cr3, uint64_t cr4);

/* guest_state.c: the x86 rules for VMM-written state and events, on the words of
 * pith/vm.h; what the CPU lets a guest have comes from CPUID at boot. */
struct vcpu_guest_limits {
    uint64_t cr4_allowed, efer_allowed;
    unsigned phys_bits;                         /* MAXPHYADDR: CR3 bits above are reserved */
    bool lme_needs_pae;                         /* EFER.LME only with CR4.PAE (svm.c says why) */
};
unsigned guest_state_check(const struct guest_state_words *w, uint64_t groups,
                           const struct vcpu_guest_limits *limits);
bool guest_event_valid(uint64_t event);

/* Tags of guest TLB entries (SVM ASIDs, VMX VPIDs), one per vCPU, handed out in rounds:
 * when a round runs out, every tag is flushed once and a new round starts (so there are
 * never more tags in use than the CPU has, however many vCPUs exist). */
struct vcpu_tag_pool {
    uint32_t next, count;
    uint64_t round;
};
enum vcpu_tag_result { VCPU_TAG_KEPT, VCPU_TAG_FRESH, VCPU_TAG_NEW_ROUND };
enum vcpu_tag_result vcpu_tag_get(struct vcpu_tag_pool *pool, struct vcpu *v);

#endif
