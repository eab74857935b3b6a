/*
 * Nested virtualization in the VMM (docs/nested.md): what virtual SVM (nested_svm.h)
 * and virtual VMX (nested_vmx.h) share, and the entry points the exit loop calls
 * without asking which of the two the guest has.
 *
 * Both run the guest's guest ("L2") the same way: on a vCPU object and thread of the
 * VMM's own, whose exits come to the vCPU's exit endpoint under NESTED_L2_BADGE.  The
 * VMM thread owes one reply at a time, so of L1's and L2's threads the one that does
 * not run is suspended, its state written before it is resumed.  While L2 runs, an
 * interrupt for L1 recalls L2 once it has run NESTED_L2_QUANTUM_MS (nested_recall_target).
 */
#ifndef VMM_NESTED_H
#define VMM_NESTED_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/syscall.h>

struct vm;
struct vcpu;

/* After vm_create: `nested on` offers the host's kind of virtualization, if any. */
void nested_setup(struct vm *vm, bool nested);

/* An exit of a virtualization instruction (SVM's or VMX's) of the vCPU whose exit is
 * handled. */
bool nested_is_instruction_exit(struct vm *vm);

/* Emulates it: RIP moved past it, or an exception in *inject.  *switched: the
 * guest's guest started and the vCPU is suspended (no reply: wait for the next exit).
 * false: the guest was stopped. */
bool nested_instruction(struct vm *vm, uint64_t *inject, bool *switched);

/* An exit of the guest's guest (its badge), received on the vCPU's exit endpoint. */
bool nested_is_l2_exit(struct vcpu *c);

/* Handles it under the lock.  An exit the guest intercepts becomes an exit into it,
 * which resumes (no reply: wait for the next exit).  One it does not intercept is the
 * VMM's to complete as the hardware would without the intercept, replying to the
 * guest's guest (exits.c: CPUID; nested_not_emulated for the rest). */
enum nested_l2_step {
    NESTED_L2_STOPPED,              /* the guest was stopped */
    NESTED_L2_TO_L1,
    NESTED_L2_NOT_INTERCEPTED,
    NESTED_L2_RETRY,                /* reply to L2: the shadow maps it now, or the entry's event */
};
struct nested_l2_reply {            /* NESTED_L2_RETRY: what the reply to L2 carries */
    uint64_t inject, error_code, windows;
};
enum nested_l2_step nested_l2_exit(struct vm *vm, struct nested_l2_reply *reply);
void nested_not_emulated(struct vm *vm);

/* Whether the vCPU's guest's guest runs (its own thread is suspended meanwhile). */
bool nested_l2_running(struct vcpu *c);

/* The vCPU to recall when the guest has an interrupt to take: its own, or its guest's
 * guest while that one runs, once it has run its quantum (0 until then). */
pith_cap_t nested_recall_target(struct vcpu *c);
/* The host TSC at which a deferred recall is due (0: none): a deadline for the vCPU. */
uint64_t nested_deadline(struct vcpu *c);

/* The vCPU's loop ends: its guest's guest, if any, stops too. */
void nested_finish(struct vcpu *c);

/* ---- For nested_svm.c and nested_vmx.c ------------------------------------------------ */

#define NESTED_L2_BADGE 0x4c32u         /* "L2": the exits of the guest's guest */

/* An L2 vCPU and the thread that runs it. */
struct nested_l2_cpu {
    bool created;
    pith_cap_t vcpu, thread;
};

/* Creates one in guest space `space`, its exits sent through *endpoint (minted with
 * NESTED_L2_BADGE from the vCPU's exit endpoint the first time), its thread on c's
 * host CPU at the priority of every vCPU thread. */
enum pith_error nested_l2_cpu_create(struct vcpu *c, pith_cap_t *endpoint, struct nested_l2_cpu *cpu,
                                     pith_cap_t space);

/* Whether L2 runs, since when, and whether L1's interrupt waits for its quantum. */
struct nested_l2_run {
    bool running;
    bool recall_deferred;
    uint64_t entered;               /* host TSC of the entry */
};

/* L2 starts (or stops) running. */
void nested_l2_run_start(struct nested_l2_run *run);

/* nested_recall_target and nested_deadline for one vendor: `l2_vcpu` runs while
 * run->running. */
pith_cap_t nested_l2_recall_target(struct vcpu *c, struct nested_l2_run *run, pith_cap_t l2_vcpu);
uint64_t nested_l2_deadline(struct vcpu *c, const struct nested_l2_run *run);

/* At a RECALL: true if L2 has an event to take before L1's interrupt may end its run
 * (answer NESTED_L2_RETRY: it is injected again); a new quantum starts. */
bool nested_l2_event_first(struct vcpu *c, struct nested_l2_run *run);

struct nested_shadow;

/* An L2 page the guest's tables map to one of its own pages: mapped into the shadow
 * (NESTED_L2_RETRY), or the guest stopped with the reason (`tables` names them in the
 * message: "nested tables", "EPT"). */
enum nested_l2_step nested_l2_shadow_fill(struct vm *vm, struct nested_shadow *shadow, uint64_t l2_address,
                                          uint64_t l1_address, bool writable, bool executable,
                                          const char *tables);

/* Switches the VMM's one reply between L1's thread and L2's: `from` suspended (taken
 * out of its Call), `to` resumed. */
enum pith_error nested_l2_switch(pith_cap_t from, pith_cap_t to);

#endif
