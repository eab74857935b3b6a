/* Nested virtualization: what virtual SVM and virtual VMX share (nested.h). */
#include <pith/alloc.h>

#include "nested.h"
#include "nested_shadow.h"
#include "nested_svm.h"
#include "nested_vmx.h"
#include "vm.h"

#define L2_PRIORITY 99                  /* as every vCPU thread (vm.c), below the VMM's */

void nested_setup(struct vm *vm, bool nested)
{
    nested_svm_setup(vm, nested);
    nested_vmx_setup(vm, nested);
}

bool nested_is_instruction_exit(struct vm *vm)
{
    return nested_svm_is_instruction_exit(vm) || nested_vmx_is_instruction_exit(vm);
}

bool nested_instruction(struct vm *vm, uint64_t *inject, bool *switched)
{
    return nested_svm_is_instruction_exit(vm) ? nested_svm_instruction(vm, inject, switched)
                                              : nested_vmx_instruction(vm, inject, switched);
}

bool nested_is_l2_exit(struct vcpu *c)
{
    return nested_svm_is_l2_exit(c) || nested_vmx_is_l2_exit(c);
}

/* An event whose delivery the exit cut short (a shadow fault on L2's IDT or stack, say)
 * is delivered again when L2 resumes, as a hypervisor must (APM 15.7.2, EXITINTINFO;
 * SDM 27.2.4, IDT-vectoring information); one L1 sees goes to it in the exit instead. */
enum nested_l2_step nested_l2_exit(struct vm *vm, struct nested_l2_reply *reply)
{
    enum nested_l2_step step = vm->nested_vmx ? nested_vmx_l2_exit(vm, reply) : nested_svm_l2_exit(vm, reply);
    uint64_t delivering = vm->cpu->exit.mr[VM_DELIVERING];
    if (step == NESTED_L2_RETRY && !reply->inject && (delivering & PITH_VM_EVENT_VALID)) {
        reply->inject = delivering & 0xffffffffull;
        reply->error_code = delivering >> 32;
    }
    return step;
}

void nested_not_emulated(struct vm *vm)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    vm_stop(vm, VM_END_ERROR, "the guest's guest exited (%s, %s exit 0x%lx at rip 0x%lx), which its hypervisor "
            "did not ask for: not emulated yet (docs/nested.md)", vm_exit_name(vm->cpu->exit.reason),
            vm->nested_vmx ? "VMX" : "SVM", mr[0], mr[VM_RIP]);
}

bool nested_l2_running(struct vcpu *c)
{
    return c->vm->nested_vmx ? nested_vmx_l2_running(c) : nested_svm_l2_running(c);
}

pith_cap_t nested_recall_target(struct vcpu *c)
{
    return c->vm->nested_vmx ? nested_vmx_recall_target(c) : nested_svm_recall_target(c);
}

uint64_t nested_deadline(struct vcpu *c)
{
    return c->vm->nested_vmx ? nested_vmx_deadline(c) : nested_svm_deadline(c);
}

void nested_finish(struct vcpu *c)
{
    nested_svm_finish(c);
    nested_vmx_finish(c);
}

/* ---- Shared by both ----------------------------------------------------------------------- */

enum pith_error nested_l2_cpu_create(struct vcpu *c, pith_cap_t *endpoint, struct nested_l2_cpu *cpu,
                                     pith_cap_t space)
{
    enum pith_error err = PITH_OK;
    if (!*endpoint) {
        *endpoint = pith_alloc_slot();
        err = pith_cnode_mint(PITH_SLOT_CNODE, *endpoint, PITH_SLOT_CNODE, c->exit_endpoint,
                              PITH_RIGHT_WRITE, NESTED_L2_BADGE);
        if (err)
            *endpoint = 0;
    }
    if (!err)
        err = pith_alloc_object(PITH_OBJ_VCPU, 0, &cpu->vcpu);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_THREAD, 0, &cpu->thread);
    if (!err)
        err = pith_vcpu_configure(cpu->vcpu, cpu->thread, space, *endpoint, VM_TRANSFER_MASK, 0);
    if (!err)
        err = pith_thread_set_priority(cpu->thread, L2_PRIORITY);
    if (!err && c->host_cpu)
        err = pith_thread_set_affinity(cpu->thread, c->host_cpu);
    cpu->created = !err;
    return err;
}

void nested_l2_run_start(struct nested_l2_run *run)
{
    run->running = true;
    run->entered = pith_rdtsc();
    run->recall_deferred = false;
}

/* While L2 runs, L1's vCPU is suspended: an interrupt for L1 recalls L2, whose RECALL
 * becomes an exit into L1 when L1 asked for it.  But not before L2 has run for
 * NESTED_L2_QUANTUM_MS since its entry: an emulated entry costs so much that L1's
 * timer has fired again by the time L2 could start, and recalling L2 at once left it
 * no instruction at all, entry after entry (KVM's guests never progressed).  The
 * deadline of nested_deadline brings the recall when the quantum ends. */
#define NESTED_L2_QUANTUM_MS 1

static uint64_t quantum_end(const struct vcpu *c, const struct nested_l2_run *run)
{
    return run->entered + c->vm->tsc_hz / 1000 * NESTED_L2_QUANTUM_MS;
}

pith_cap_t nested_l2_recall_target(struct vcpu *c, struct nested_l2_run *run, pith_cap_t l2_vcpu)
{
    if (!run->running)
        return c->vcpu;
    if (pith_rdtsc() < quantum_end(c, run)) {
        run->recall_deferred = true;
        return 0;
    }
    run->recall_deferred = false;
    return l2_vcpu;
}

/* A RECALL for L1's interrupt that finds an event L2 has not taken yet (the kernel
 * reports the event the last reply injected as being delivered, docs/vm.md): the
 * hardware delivers an injected event before an interrupt can end the guest's run,
 * and L1's hypervisor counts on it (KVM's VMX calls an external-interrupt exit during
 * event delivery an internal error).  So L2 takes the event first (nested_l2_exit
 * injects it again), and the recall comes back when its new quantum ends. */
bool nested_l2_event_first(struct vcpu *c, struct nested_l2_run *run)
{
    if (!(c->exit.mr[VM_DELIVERING] & PITH_VM_EVENT_VALID))
        return false;
    nested_l2_run_start(run);
    return true;
}

uint64_t nested_l2_deadline(struct vcpu *c, const struct nested_l2_run *run)
{
    return run->running && run->recall_deferred ? quantum_end(c, run) : 0;
}

enum nested_l2_step nested_l2_shadow_fill(struct vm *vm, struct nested_shadow *shadow, uint64_t l2_address,
                                          uint64_t l1_address, bool writable, bool executable,
                                          const char *tables)
{
    enum pith_error err;
    switch (shadow_map(shadow, vm, l2_address & ~0xfffull, l1_address & ~0xfffull, writable, executable, &err)) {
    case SHADOW_MAPPED:
        return NESTED_L2_RETRY;
    case SHADOW_NOT_RAM:
        vm_stop(vm, VM_END_ERROR, "the guest's guest reached 0x%lx, which its hypervisor's %s put at 0x%lx, "
                "outside the guest's RAM (a device passed through): not emulated yet (docs/nested.md)",
                l2_address, tables, l1_address);
        return NESTED_L2_STOPPED;
    case SHADOW_FAILED:
        break;
    }
    vm_stop(vm, VM_END_ERROR, "the shadow of the %s at 0x%lx: %s", tables, l2_address, pith_error_name(err));
    return NESTED_L2_STOPPED;
}

enum pith_error nested_l2_switch(pith_cap_t from, pith_cap_t to)
{
    enum pith_error err = pith_thread_suspend(from);
    return err ? err : pith_thread_resume(to);
}
