/*
 * Virtual SVM in the VMM (docs/nested.md): with `nested on` on an SVM host the guest
 * sees SVM in CPUID, may set EFER.SVME and use VM_CR and VM_HSAVE_PA, and its SVM
 * instructions are emulated: STGI/CLGI move a virtual GIF that holds back the
 * interrupts the VMM injects, VMLOAD/VMSAVE move the state they name between the vCPU
 * and the guest's VMCB, INVLPGA has nothing to flush, and VMRUN checks the guest's
 * VMCB (x86/svm_nested.h) and reports VMEXIT_INVALID in it when a check fails.  A VMRUN
 * that passes runs the guest's guest on a second vCPU, with nested paging in a shadow
 * nested table (nested_shadow.h), and its exits the guest intercepts become #VMEXITs
 * into the guest; anything further stops the guest with the reason (docs/nested.md).
 * Without `nested on` every SVM instruction is #UD, as on a CPU without SVM.  The exits come as PITH_EXIT_OTHER with the SVM exit code in MR0
 * and no length (the kernel intercepts them all, docs/vm.md).
 */
#ifndef VMM_NESTED_SVM_H
#define VMM_NESTED_SVM_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/syscall.h>

#include "nested.h"

struct vm;
struct vcpu;

/* After vm_create: `nested on` offers SVM when the host has it; every vCPU's SVM state
 * starts as after reset (SVME clear, GIF set). */
void nested_svm_setup(struct vm *vm, bool nested);

/* CPUID: the answer for `leaf`, with SVM added when it is offered. */
void nested_svm_cpuid(struct vm *vm, uint32_t leaf, uint32_t out[4]);

/* VM_CR and VM_HSAVE_PA when SVM is offered: true when `index` is one of them (*ok
 * false: #GP). */
bool nested_svm_msr_read(struct vm *vm, uint32_t index, uint64_t *value, bool *ok);
bool nested_svm_msr_write(struct vm *vm, uint32_t index, uint64_t value, bool *ok);

/* EFER as the guest reads it (its SVME added); a write: SVME taken out of *value and
 * kept, false for #GP. */
uint64_t nested_svm_efer_read(struct vm *vm, uint64_t efer);
bool nested_svm_efer_write(struct vm *vm, uint64_t *value);

/* The virtual GIF of the vCPU whose exit is handled (always set without SVM). */
bool nested_svm_gif(struct vm *vm);

/* Whether the guest's STGI runs without an exit (the virtual GIF): only an interrupt
 * window asked for while GIF is clear brings the vCPU back once it is set. */
bool nested_svm_stgi_silent(const struct vcpu *c);

/* Whether the vCPU's GIF is clear: its interrupts and NMIs wait, and nothing should
 * recall it to deliver them (vcpu_wants_attention).  With the virtual GIF
 * (PITH_VM_OPTION_VIRTUAL_GIF) only while it is halted: running, the guest sets GIF
 * without an exit, so only an exit can tell, and a recall is how to get one. */
bool nested_svm_gif_clear(const struct vcpu *c);

/* With the virtual GIF: GIF was clear at the last exit and its reply asked for an
 * interrupt window, which opens after the guest's STGI (with IF set): an interrupt or
 * NMI need not recall the vCPU, the window brings it back (kick). */
bool nested_svm_window_for_stgi(const struct vcpu *c);

/* At each exit of the guest's own: GIF as the exit's INTR group has it, with the
 * virtual GIF. */
void nested_svm_exit_gif(struct vcpu *c);

/* An exit of an SVM instruction (VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA). */
bool nested_svm_is_instruction_exit(struct vm *vm);

/* Emulates it: RIP moved past it, or an exception in *inject.  *switched: a VMRUN
 * started the guest's guest and the vCPU is suspended (no reply: wait for the next
 * exit).  false: the guest was stopped. */
bool nested_svm_instruction(struct vm *vm, uint64_t *inject, bool *switched);

/* An exit of the guest's guest (its badge), received on the vCPU's exit endpoint. */
bool nested_svm_is_l2_exit(struct vcpu *c);

/* Handles it under the lock (nested.h, nested_l2_exit): an exit the guest intercepts
 * is a #VMEXIT into it. */
enum nested_l2_step nested_svm_l2_exit(struct vm *vm, struct nested_l2_reply *reply);

bool nested_svm_l2_running(struct vcpu *c);
/* The vCPU to recall when the guest has an interrupt to take: its own, or its guest's
 * guest while that one runs, once it has run its quantum (0 until then). */
pith_cap_t nested_svm_recall_target(struct vcpu *c);
/* The host TSC at which a deferred recall is due (0: none): a deadline for the vCPU. */
uint64_t nested_svm_deadline(struct vcpu *c);

/* The vCPU's loop ends: its guest's guest, if any, stops too. */
void nested_svm_finish(struct vcpu *c);

#endif
