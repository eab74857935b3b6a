/* The test VMM's plumbing (vm.h). */
#include "vm.h"

static pith_cap_t vm_untyped;

void vm_use_untyped(pith_cap_t untyped)
{
    vm_untyped = untyped;
}

/* One object, from the chosen untyped or the test allocator. */
static pith_cap_t vm_new(struct pith_test_ctx *ctx, enum pith_object_type type)
{
    if (!vm_untyped)
        return kt_new(ctx, type, 0);
    pith_cap_t slot = kt_slot();
    enum pith_error err = pith_untyped_retype(vm_untyped, type, 0, KT_CNODE, slot, 1);
    if (!pith_expect_ok(ctx, err, "retyping from the VM's untyped"))
        return 0;
    return slot;
}

static bool map_guest_tables(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t gpa)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    for (unsigned i = 0; i < 3; i++) {
        pith_cap_t t = vm_new(ctx, levels[i]);
        if (!t)
            return false;
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
    pith_cap_t frame = vm_new(ctx, PITH_OBJ_FRAME_4K);
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
    vm->last_frame = frame;
    return (uint8_t *)va;
}

/* The objects, the configuration and the real-mode starting state; a fresh guest space
 * with `code` at VM_CODE_GPA unless `shared` names another VM's. */
static bool setup(struct pith_test_ctx *ctx, struct kt_vm *vm, const struct kt_vm *shared,
                  const uint8_t *code, size_t length, uint64_t exception_bitmap,
                  uint64_t transfer_mask, uint64_t rip)
{
    *vm = (struct kt_vm){ 0 };
    vm->exit.transfer_mask = transfer_mask;
    vm->space = shared ? 0 : vm_new(ctx, PITH_OBJ_GUEST_SPACE);
    vm->vcpu = vm_new(ctx, PITH_OBJ_VCPU);
    vm->thread = vm_new(ctx, PITH_OBJ_THREAD);
    vm->exit_ep = vm_new(ctx, PITH_OBJ_ENDPOINT);
    if ((!shared && !vm->space) || !vm->vcpu || !vm->thread || !vm->exit_ep)
        return false;
    if (!shared) {
        vm->code = vm_map_page(ctx, vm, VM_CODE_GPA, PITH_RIGHTS_ALL);
        if (!vm->code)
            return false;
        memcpy(vm->code, code, length);
    }
    enum pith_error err = pith_vcpu_configure(vm->vcpu, vm->thread, shared ? shared->space : vm->space,
                                              vm->exit_ep, transfer_mask, exception_bitmap);
    if (!pith_expect_ok(ctx, err, "configuring the vCPU"))
        return false;
    /* Real mode, every segment at 0, code at 0:rip, stack at 0:8000. */
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
    state[16] = rip;
    state[17] = 2;                                              /* rflags */
    memcpy(&state[18], seg, sizeof(seg));
    err = pith_vcpu_write_state(vm->vcpu, PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_SEG,
                                state, 34);
    if (!pith_expect_ok(ctx, err, "writing the initial state"))
        return false;
    return pith_expect_ok(ctx, pith_thread_set_priority(vm->thread, 50), "vCPU priority");
}

bool vm_create_mask(struct pith_test_ctx *ctx, struct kt_vm *vm, const uint8_t *code,
                    size_t length, uint64_t exception_bitmap, uint64_t transfer_mask)
{
    return setup(ctx, vm, NULL, code, length, exception_bitmap, transfer_mask, VM_CODE_GPA);
}

bool vm_create_shared(struct pith_test_ctx *ctx, struct kt_vm *vm, const struct kt_vm *other,
                      uint64_t rip)
{
    return setup(ctx, vm, other, NULL, 0, 0, VM_MASK, rip);
}

bool vm_create(struct pith_test_ctx *ctx, struct kt_vm *vm, const uint8_t *code, size_t length,
               uint64_t exception_bitmap)
{
    return vm_create_mask(ctx, vm, code, length, exception_bitmap, VM_MASK);
}

bool vm_go(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    return pith_expect_ok(ctx, pith_thread_resume(vm->thread), "resuming the vCPU thread");
}

bool vm_start(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    if (!vm_go(ctx, vm))
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

bool vm_reply(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask, uint64_t inject,
              uint64_t error_code, uint64_t windows)
{
    enum pith_error err = pith_vm_reply_wait(vm->exit_ep, &vm->exit, mask, inject, error_code,
                                             windows);
    return pith_expect_ok(ctx, err, "replying and waiting for the next exit");
}

static const char *const reason_names[PITH_EXIT_COUNT] = {
    "none", "CPUID", "IO", "MMIO", "MSR_READ", "MSR_WRITE", "HLT", "INTERRUPT_WINDOW",
    "NMI_WINDOW", "RECALL", "EXCEPTION", "SHUTDOWN", "INVALID_STATE", "VMCALL", "INVD",
    "WBINVD", "XSETBV", "CR_ACCESS", "PAUSE", "INIT", "OTHER" };

static const char *reason_name(uint64_t r)
{
    return r < PITH_EXIT_COUNT ? reason_names[r] : "?";
}

bool vm_expect_exit(struct pith_test_ctx *ctx, const struct kt_vm *vm, uint64_t reason,
                    const char *what)
{
    const struct pith_vm_exit *e = &vm->exit;
    return pith_expect(ctx, e->reason == reason,
                       "%s: exit %s (raw 0x%lx, qual 0x%lx/0x%lx, rip 0x%lx), expected %s", what,
                       reason_name(e->reason), e->mr[0], e->mr[1], e->mr[2],
                       e->length > VM_RIP ? e->mr[VM_RIP] : 0, reason_name(reason));
}

bool vm_expect_io(struct pith_test_ctx *ctx, const struct kt_vm *vm, uint16_t port, const char *what)
{
    if (!vm_expect_exit(ctx, vm, PITH_EXIT_IO, what))
        return false;
    return pith_expect(ctx, (vm->exit.mr[1] & 0xffff) == port, "%s: port 0x%lx, expected 0x%x", what,
                       vm->exit.mr[1] & 0xffff, port);
}

bool vm_expect_quiet(struct pith_test_ctx *ctx, const struct kt_vm *vm, const char *what)
{
    struct pith_msg msg;
    enum pith_error err = pith_nb_recv(vm->exit_ep, &msg);
    return pith_expect(ctx, err == PITH_E_WOULD_BLOCK, "%s: a polling receive gave %s (label %lu)",
                       what, pith_error_name(err), err == PITH_OK ? pith_msginfo_label(msg.info) : 0);
}

void vm_destroy(struct kt_vm *vm)
{
    if (vm->thread) {
        pith_thread_suspend(vm->thread);
        kt_delete(vm->thread);
    }
    kt_delete(vm->vcpu);
    kt_delete(vm->exit_ep);
    kt_delete(vm->space);
    vm->thread = vm->vcpu = vm->exit_ep = vm->space = 0;
}

bool vm_write(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask, const uint64_t *words)
{
    return pith_expect_ok(ctx, pith_vcpu_write_state(vm->vcpu, mask, words, pith_vm_groups_length(mask)),
                          "VCpu.WRITE_STATE");
}

bool vm_read(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask, uint64_t *words)
{
    return pith_expect_ok(ctx, pith_vcpu_read_state(vm->vcpu, mask, words, pith_vm_groups_length(mask)),
                          "VCpu.READ_STATE");
}

/* ---- Processor modes ---------------------------------------------------------------- */

static void put_descriptor(uint8_t *gdt, unsigned selector, uint64_t value)
{
    memcpy(gdt + selector, &value, 8);
}

static bool set_mode(struct pith_test_ctx *ctx, struct kt_vm *vm, bool long_mode)
{
    vm->sys = vm_map_page(ctx, vm, VM_SYS_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    if (!vm->sys || !vm_map_page(ctx, vm, VM_STACK_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE))
        return false;
    put_descriptor(vm->sys, VM_SEL_CODE32, 0x00cf9b000000ffffull);
    put_descriptor(vm->sys, VM_SEL_DATA, 0x00cf93000000ffffull);
    put_descriptor(vm->sys, VM_SEL_CODE64, 0x00af9b000000ffffull);
    uint64_t cr[6] = { VM_CR0_PE | VM_CR0_ET | VM_CR0_NE, 0, 0, 0, 0, 0x400 };
    if (long_mode) {
        uint8_t *pml4 = vm_map_page(ctx, vm, 0x4000, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
        uint8_t *pdpt = vm_map_page(ctx, vm, 0x5000, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
        uint8_t *pd = vm_map_page(ctx, vm, 0x6000, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
        if (!pml4 || !pdpt || !pd)
            return false;
        *(uint64_t *)pml4 = 0x5000 | 3;         /* present, writable */
        *(uint64_t *)pdpt = 0x6000 | 3;
        *(uint64_t *)pd = 0 | 0x83;             /* 2 MiB at 0, identity */
        cr[0] |= VM_CR0_PG;
        cr[2] = 0x4000;                         /* cr3 */
        cr[3] = 0x20;                           /* cr4.PAE */
        cr[4] = 0x500;                          /* efer.LME | LMA */
    }
    uint64_t seg[16];
    uint64_t data = VM_SEG_WORD(VM_SEL_DATA, 0xc93, 0xffffffffull);
    for (unsigned i = 0; i < 6; i++)
        seg[2 * i] = data, seg[2 * i + 1] = 0;
    seg[2 * VM_CS] = long_mode ? VM_SEG_WORD(VM_SEL_CODE64, 0xa9b, 0xffffffffull)
                               : VM_SEG_WORD(VM_SEL_CODE32, 0xc9b, 0xffffffffull);
    seg[2 * VM_LDTR] = VM_SEG_WORD(0, 0x82, 0xffff), seg[2 * VM_LDTR + 1] = 0;
    seg[2 * VM_TR] = VM_SEG_WORD(0, 0x8b, 0xffff), seg[2 * VM_TR + 1] = 0;
    uint64_t dtr[4] = { VM_SYS_GPA, 0x1f, VM_IDT_GPA, long_mode ? 0xfff : 0x7ff };
    uint64_t rip[2] = { VM_CODE_GPA, 2 };
    return vm_write(ctx, vm, PITH_VM_GROUP_CR, cr) && vm_write(ctx, vm, PITH_VM_GROUP_SEG, seg) &&
           vm_write(ctx, vm, PITH_VM_GROUP_DTR, dtr) && vm_write(ctx, vm, PITH_VM_GROUP_RIP, rip);
}

bool vm_protected(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    return set_mode(ctx, vm, false);
}

bool vm_long(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    return set_mode(ctx, vm, true);
}

void vm_idt32(struct kt_vm *vm, unsigned vector, uint64_t handler)
{
    uint64_t gate = (handler & 0xffff) | ((uint64_t)VM_SEL_CODE32 << 16) | (0x8eull << 40) |
                    ((handler >> 16) << 48);
    memcpy(vm->sys + (VM_IDT_GPA - VM_SYS_GPA) + 8 * vector, &gate, 8);
}

bool vm_ivt(struct pith_test_ctx *ctx, struct kt_vm *vm, unsigned vector, uint16_t ip)
{
    if (!vm->ivt) {
        vm->ivt = vm_map_page(ctx, vm, 0, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
        if (!vm->ivt || !vm_map_page(ctx, vm, VM_STACK_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE))
            return false;
    }
    uint32_t entry = ip;                        /* segment 0 */
    memcpy(vm->ivt + 4 * vector, &entry, 4);
    return true;
}

/* ---- Time and vendors ---------------------------------------------------------------- */

uint64_t vm_tsc_ms(uint64_t ms)
{
    return kt_bootinfo->tsc_hz / 1000 * ms;
}

void vm_sleep_ms(pith_cap_t note, uint64_t ms)
{
    uint64_t until = pith_rdtsc() + vm_tsc_ms(ms);
    pith_notification_set_deadline(note, until);
    while (pith_rdtsc() < until) {
        uint64_t bits = 0;
        if (pith_wait(note, &bits) != PITH_OK)
            break;
    }
}

void vm_patch_vmcall(uint8_t *at)
{
    at[0] = 0x0f, at[1] = 0x01;
    at[2] = (kt_bootinfo->cpu_features & PITH_CPU_VMX) ? 0xc1 : 0xd9;
}

bool vm_finish_dr7_write(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    if (vm->exit.reason != PITH_EXIT_CR_ACCESS || vm->exit.mr[1] != PITH_VM_CR_ACCESS_DR7)
        return true;
    uint64_t at = vm->exit.mr[VM_RIP] - VM_CODE_GPA;
    if (!pith_expect(ctx, at + 3 <= 4096 && vm->code[at] == 0x0f && vm->code[at + 1] == 0x23 &&
                     vm->code[at + 2] == 0xf8, "the DR7 write at 0x%lx is mov %%eax, %%dr7", at))
        return false;
    vm->exit.mr[VM_CR(5)] = ((vm->exit.mr[VM_GPR(VM_RAX)] & 0xffffffffull) & ~0xd800ull) | 0x400;
    vm->exit.mr[VM_RIP] += 3;
    return vm_reply(ctx, vm, PITH_VM_GROUP_CR | PITH_VM_GROUP_RIP, 0, 0, 0);
}
