/* The interface the generic kernel uses from arch/x86_64 (the glue layer). */
#ifndef ARCH_H
#define ARCH_H

#include "../../kernel/kernel.h"

/* cpu.c */
void cpu_init(void);
uint64_t cpu_features(void);
void cpu_print_features(void);
void arch_thread_init(struct thread *t);
void arch_load_thread(struct thread *t);      /* address space, stacks, FPU, TLS, I/O */
void arch_forget_thread(struct thread *t);
void arch_forget_space(struct address_space *as);
void arch_forget_space_io(struct address_space *as);
void arch_flush_tlb_page(struct address_space *as, uint64_t vaddr);
void arch_flush_tlb(struct address_space *as);
NORETURN void restore_user(struct user_regs *regs);

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
#define VECTOR_IRQ_BASE 0x20
#define VECTOR_TIMER    0xf0
#define VECTOR_SPURIOUS 0xff

#endif
