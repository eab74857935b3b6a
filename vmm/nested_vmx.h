/*
 * Virtual VMX in the VMM (docs/nested.md): with `nested on` on a VMX host the guest
 * sees VMX in CPUID and the VMX capability MSRs, may set CR4.VMXE, and its VMX
 * instructions are
 * emulated by the rules of x86/vmx_nested.h: VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST,
 * VMREAD and VMWRITE on a VMCS12 the VMM caches, INVEPT and INVVPID, and VMLAUNCH and
 * VMRESUME, whose checks end in VMfail or an entry-failure exit.  An entry that passes
 * runs the guest's guest on a second vCPU in the guest's own guest space (no EPT is
 * offered yet); its exits the guest asked for become VM exits into the guest: the exit
 * information and L2's state written to VMCS12, L1 continuing from VMCS12's host
 * state.  Without `nested on` every VMX instruction is #UD, as on a CPU without VMX.
 * The exits come as PITH_EXIT_OTHER with the basic exit reason in MR0, the exit
 * qualification in MR1, the VM-exit instruction information in MR2 and the length in
 * MR3 (docs/vm.md).
 */
#ifndef VMM_NESTED_VMX_H
#define VMM_NESTED_VMX_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/syscall.h>

#include "nested.h"

struct vm;
struct vcpu;

/* After vm_create: `nested on` offers VMX when the host has it (nested.h). */
void nested_vmx_setup(struct vm *vm, bool nested);

/* CPUID: VMX added to the answer for `leaf` when it is offered. */
void nested_vmx_cpuid(struct vm *vm, uint32_t leaf, uint32_t out[4]);

/* IA32_FEATURE_CONTROL and the VMX capability MSRs when VMX is offered: true when
 * `index` is one of them (*ok false: #GP). */
bool nested_vmx_msr_read(struct vm *vm, uint32_t index, uint64_t *value, bool *ok);
bool nested_vmx_msr_write(struct vm *vm, uint32_t index, bool *ok);

/* A MOV to CR4 the VMM completes, of *value.  false: #GP (VMXE set without VMX
 * offered, or cleared in VMX operation). */
bool nested_vmx_cr4_write(struct vm *vm, uint64_t *value);

/* The rest as nested.h says, for a guest with virtual VMX. */
bool nested_vmx_is_instruction_exit(struct vm *vm);
bool nested_vmx_instruction(struct vm *vm, uint64_t *inject, bool *switched);
bool nested_vmx_is_l2_exit(struct vcpu *c);
enum nested_l2_step nested_vmx_l2_exit(struct vm *vm, struct nested_l2_reply *reply);
bool nested_vmx_l2_running(struct vcpu *c);
pith_cap_t nested_vmx_recall_target(struct vcpu *c);
uint64_t nested_vmx_deadline(struct vcpu *c);
void nested_vmx_finish(struct vcpu *c);

#endif
