/* The interface the generic kernel uses from arch/x86_64 (the glue layer). */
#ifndef ARCH_H
#define ARCH_H

#include "../../kernel/kernel.h"

/* cpu.c */
void cpu_init(void);                          /* the bootstrap processor, cpus[0] */
bool cpu_prepare(struct cpu *c, void *(*alloc)(uint64_t size));   /* an AP's tables */
uint64_t cpu_stack_top(const struct cpu *c);
void cpu_init_ap(struct cpu *c);              /* on the AP itself */
uint64_t cpu_features(void);
uint64_t cpu_tss_base(void);                  /* for the VMX host state */
void cpu_print_features(void);
void arch_thread_init(struct thread *t);
void arch_load_thread(struct thread *t);      /* address space, stacks, FPU, TLS, I/O */
void arch_forget_thread(struct thread *t);
void arch_forget_space(struct address_space *as);
void arch_forget_space_io(struct address_space *as);
void arch_flush_tlb_page(struct address_space *as, uint64_t vaddr);
void arch_flush_tlb(struct address_space *as);
NORETURN void restore_user(struct user_regs *regs);

/* kernel_map.c: W^X for the kernel image, no execute in the physmap (after cpu_init) */
void kernel_map_protect(void);

/* Virtualization backends (svm/, vmx/), one chosen at boot by vcpu_arch_init_cpu.
 * Generic code sees only these hooks. */
struct vcpu_exit {
    uint64_t reason;            /* PITH_EXIT_*, or one of the two the kernel keeps: */
    uint64_t raw, qualification, qualification2, length;
};
#define VCPU_EXIT_KEEP_INTERRUPT  (1ull << 32)  /* a host interrupt is pending */
#define VCPU_EXIT_KEEP_NMI        (2ull << 32)
bool vcpu_arch_init_cpu(void);                  /* false: no usable VMX/SVM */
const char *vcpu_arch_name(void);
void vcpu_arch_init(struct vcpu *v);
void vcpu_arch_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
void vcpu_arch_destroy(struct vcpu *v);                /* before its memory is reused */
NORETURN void vcpu_arch_run(struct vcpu *v);    /* ends in vcpu_exited(v) on a fresh stack */
void vcpu_arch_exit_info(struct vcpu *v, struct vcpu_exit *e);
void vcpu_arch_read_group(struct vcpu *v, unsigned group, uint64_t *out);
void vcpu_arch_write_group(struct vcpu *v, unsigned group, const uint64_t *in);
void vcpu_arch_inject(struct vcpu *v, uint64_t event, uint64_t error_code);
void vcpu_arch_request_windows(struct vcpu *v, uint64_t windows);
void arch_guest_space_flush(struct guest_space *gs);
void arch_take_interrupts(void);                /* let pending host interrupts in, briefly */

/* trap.c: called by entry.S with the interrupted context's frame */
void trap_from_user(void);
void trap_from_kernel(struct user_regs *frame);
void trap_nmi(struct user_regs *frame);
NORETURN void trap_fatal(struct user_regs *frame);

/* serial.c */
void serial_init(void);
void serial_putc(char c);

/* apic.c: LAPIC timer, legacy PIC, TSC calibration */
void timer_init(void);
void timer_arm(uint64_t tsc_deadline);
uint64_t timer_tsc_hz(void);
void pic_mask(unsigned line);
void pic_unmask(unsigned line);
void pic_eoi(unsigned line);
void lapic_eoi(void);
uint32_t lapic_id(void);
void lapic_init_ap(void);                     /* enabled, every local interrupt masked */
bool lapic_start_cpu(uint32_t apic_id, uint64_t trampoline_phys);
void lapic_reset_cpu(uint32_t apic_id);       /* INIT: back to waiting for a SIPI */
void tsc_delay_us(uint64_t us);

/* smp.c: find the CPUs in the ACPI tables and start the others (after timer_init,
 * before any thread runs).  Returns how many are online, the caller's included. */
unsigned smp_start(const uint8_t *rsdp, unsigned rsdp_size, uint64_t trampoline_phys,
                   void *(*alloc)(uint64_t size));
#define VECTOR_IRQ_BASE 0x20
#define VECTOR_TIMER    0xf0
#define VECTOR_SPURIOUS 0xff

/* ---- Virtualization, continued: the guest's space, state checks, tags, debug registers */

/* Before every entry: the guest space of the vCPU thread's address-space slot.  One
 * other than the backend last loaded becomes the nested root, its TLB entries clean. */
void vcpu_arch_load_space(struct vcpu *v, struct guest_space *gs);
/* Check what the VMM wrote to `groups` since the last check: 0 if the guest may run,
 * else a PITH_VM_REFUSED_* reason. */
unsigned vcpu_arch_check_state(struct vcpu *v, uint64_t groups);

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
    uint32_t next, count, round;
};
enum vcpu_tag_result { VCPU_TAG_KEPT, VCPU_TAG_FRESH, VCPU_TAG_NEW_ROUND };
enum vcpu_tag_result vcpu_tag_get(struct vcpu_tag_pool *pool, struct vcpu *v);

#endif
