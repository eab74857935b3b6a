/* The test VMM's plumbing (vm.h). */
#include "vm.h"

static bool map_guest_tables(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t gpa)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    for (unsigned i = 0; i < 3; i++) {
        pith_cap_t t = kt_new(ctx, levels[i], 0);
        enum pith_error err = pith_table_map(t, vm->space, gpa);
        if (err == PITH_E_MAPPED)
            kt_delete(t);
        else if (!pith_expect_ok(ctx, err, "mapping a guest page table"))
            return false;
    }
    return true;
}

uint8_t *vm_map_page(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t gpa, uint64_t rights)
{
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t view = kt_slot();
    if (!frame || !map_guest_tables(ctx, vm, gpa))
        return NULL;
    pith_cnode_copy(KT_CNODE, view, KT_CNODE, frame, PITH_RIGHTS_ALL);
    uint64_t va = kt_window();
    if (!pith_expect_ok(ctx, kt_map(view, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "mapping a view") ||
        !pith_expect_ok(ctx, pith_frame_map(frame, vm->space, gpa, rights, 0), "mapping guest memory"))
        return NULL;
    if (gpa == VM_CODE_GPA)
        vm->code_frame = frame;
    return (uint8_t *)va;
}

bool vm_create(struct pith_test_ctx *ctx, struct kt_vm *vm, const uint8_t *code, size_t length,
               uint64_t exception_bitmap)
{
    *vm = (struct kt_vm){ 0 };
    vm->exit.transfer_mask = VM_MASK;
    vm->space = kt_new(ctx, PITH_OBJ_GUEST_SPACE, 0);
    vm->vcpu = kt_new(ctx, PITH_OBJ_VCPU, 0);
    vm->thread = kt_new(ctx, PITH_OBJ_THREAD, 0);
    vm->exit_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!vm->space || !vm->vcpu || !vm->thread || !vm->exit_ep)
        return false;
    vm->code = vm_map_page(ctx, vm, VM_CODE_GPA, PITH_RIGHTS_ALL);
    if (!vm->code)
        return false;
    memcpy(vm->code, code, length);
    enum pith_error err = pith_vcpu_configure(vm->vcpu, vm->thread, vm->space, vm->exit_ep,
                                              VM_MASK, exception_bitmap);
    if (!pith_expect_ok(ctx, err, "configuring the vCPU"))
        return false;
    /* Real mode, every segment at 0, code at 0:1000, stack at 0:8000. */
    uint64_t seg[16];
    for (unsigned i = 0; i < 6; i++) {
        seg[2 * i] = 0 | (0x93ull << 16) | (0xffffull << 32);
        seg[2 * i + 1] = 0;
    }
    seg[2] = 0 | (0x9bull << 16) | (0xffffull << 32);           /* cs */
    seg[12] = 0 | (0x82ull << 16) | (0xffffull << 32);          /* ldtr */
    seg[14] = 0 | (0x8bull << 16) | (0xffffull << 32);          /* tr */
    seg[13] = seg[15] = 0;
    uint64_t state[16 + 2 + 16] = { 0 };
    state[4] = 0x8000;                                          /* rsp */
    state[16] = VM_CODE_GPA;                                    /* rip */
    state[17] = 2;                                              /* rflags */
    memcpy(&state[18], seg, sizeof(seg));
    err = pith_vcpu_write_state(vm->vcpu, PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_SEG,
                                state, 34);
    if (!pith_expect_ok(ctx, err, "writing the initial state"))
        return false;
    return pith_expect_ok(ctx, pith_thread_set_priority(vm->thread, 50), "vCPU priority");
}

bool vm_start(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    if (!pith_expect_ok(ctx, pith_thread_resume(vm->thread), "resuming the vCPU thread"))
        return false;
    return pith_expect_ok(ctx, pith_vm_wait_exit(vm->exit_ep, &vm->exit), "waiting for an exit");
}

bool vm_resume(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t advance, uint64_t inject)
{
    vm->exit.mr[VM_RIP] += advance;
    enum pith_error err = pith_vm_reply_wait(vm->exit_ep, &vm->exit,
                                             PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP, inject, 0, 0);
    return pith_expect_ok(ctx, err, "replying and waiting for the next exit");
}

void vm_destroy(struct kt_vm *vm)
{
    if (vm->thread) {
        pith_thread_suspend(vm->thread);
        kt_delete(vm->thread);
    }
    kt_delete(vm->vcpu);
    kt_delete(vm->exit_ep);
}
