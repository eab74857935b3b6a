/* Virtual machines: vCPUs, guest spaces, and every exit delivered to a user VMM. */
#include "vm.h"

static void vm_cpuid_exit(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,     /* mov eax, 0x12345678 */
        0x66, 0xb9, 0x07, 0x00, 0x00, 0x00,     /* mov ecx, 7 */
        0x0f, 0xa2,                             /* cpuid */
        0xf4 };                                 /* hlt */
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0) || !vm_start(ctx, &vm))
        return;
    pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_CPUID, "exit reason");
    pith_expect_eq(ctx, vm.exit.mr[1], 0x12345678, "leaf");
    pith_expect_eq(ctx, vm.exit.mr[2], 7, "subleaf");
    pith_expect_eq(ctx, vm.exit.mr[3], 2, "instruction length");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 12, "rip at cpuid");
    vm.exit.mr[VM_GPR(0)] = 0xaabbccdd;
    vm.exit.mr[VM_GPR(3)] = 0x11223344;
    if (vm_resume(ctx, &vm, vm.exit.mr[3], 0)) {
        pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_HLT, "then hlt");
        pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 14, "rip at hlt");
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(0)], 0xaabbccdd, "eax as the VMM wrote it");
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(3)], 0x11223344, "ebx as the VMM wrote it");
    }
    vm_destroy(&vm);
}

static void vm_io_exits(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xb0, 0x42,             /* mov al, 0x42 */
        0xe6, 0x80,             /* out 0x80, al */
        0xba, 0xf8, 0x03,       /* mov dx, 0x3f8 */
        0xec,                   /* in al, dx */
        0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0) || !vm_start(ctx, &vm))
        return;
    pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_IO, "out exits");
    pith_expect_eq(ctx, vm.exit.mr[1], 0x80 | (1ull << 16), "port 0x80, one byte, out");
    pith_expect_eq(ctx, vm.exit.mr[2] & 0xff, 0x42, "the value written");
    pith_expect_eq(ctx, vm.exit.mr[3], 2, "length of out imm8");
    if (!vm_resume(ctx, &vm, 2, 0))
        goto done;
    pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_IO, "in exits");
    pith_expect_eq(ctx, vm.exit.mr[1], 0x3f8 | (1ull << 16) | PITH_VM_IO_IN, "port 0x3f8, one byte, in");
    pith_expect_eq(ctx, vm.exit.mr[3], 1, "length of in al, dx");
    vm.exit.mr[VM_GPR(0)] = 0x99;
    if (vm_resume(ctx, &vm, 1, 0)) {
        pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_HLT, "then hlt");
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(0)] & 0xff, 0x99, "al holds what the VMM read");
    }
done:
    vm_destroy(&vm);
}

static void vm_mmio_exit(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xa1, 0x00, 0x80,       /* mov ax, [0x8000]: nothing is mapped there */
        0xa3, 0x00, 0x20,       /* mov [0x2000], ax */
        0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    uint8_t *data = vm_map_page(ctx, &vm, 0x2000, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    if (!data || !vm_start(ctx, &vm))
        goto done;
    pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_MMIO, "unmapped read exits");
    pith_expect_eq(ctx, vm.exit.mr[1], 0x8000, "guest-physical address");
    pith_expect_eq(ctx, vm.exit.mr[2] & (PITH_VM_ACCESS_READ | PITH_VM_ACCESS_WRITE),
                   PITH_VM_ACCESS_READ, "a read");
    vm.exit.mr[VM_GPR(0)] = 0xbeef;
    if (vm_resume(ctx, &vm, 3, 0)) {
        pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_HLT, "then hlt");
        pith_expect_eq(ctx, *(volatile uint16_t *)data, 0xbeef, "the guest stored the emulated value");
    }
done:
    vm_destroy(&vm);
}

static void vm_injected_interrupt(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xfb,                   /* sti */
        0xf4,                   /* hlt */
        0xe6, 0x82,             /* out 0x82, al (after the handler) */
        0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    /* Interrupt vector table at 0: vector 0x30 -> 0:1100, which does out 0x81 ; iret. */
    uint8_t *ivt = vm_map_page(ctx, &vm, 0, PITH_RIGHTS_ALL);
    if (!ivt || !vm_map_page(ctx, &vm, 0x7000, PITH_RIGHT_READ | PITH_RIGHT_WRITE))   /* stack */
        goto done;
    ivt[0x30 * 4 + 0] = 0x00, ivt[0x30 * 4 + 1] = 0x11, ivt[0x30 * 4 + 2] = 0, ivt[0x30 * 4 + 3] = 0;
    vm.code[0x100] = 0xe6, vm.code[0x101] = 0x81, vm.code[0x102] = 0xcf;   /* out 0x81, al; iret */
    if (!vm_start(ctx, &vm))
        goto done;
    pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_HLT, "hlt exits");
    if (!vm_resume(ctx, &vm, 1, PITH_VM_EVENT_VALID | PITH_VM_EVENT_EXTINT | 0x30))
        goto done;
    pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_IO, "the handler ran");
    pith_expect_eq(ctx, vm.exit.mr[1] & 0xffff, 0x81, "port of the handler");
    if (vm_resume(ctx, &vm, 2, 0)) {
        pith_expect_eq(ctx, vm.exit.mr[1] & 0xffff, 0x82, "iret came back after hlt");
    }
done:
    vm_destroy(&vm);
}

static void vm_state_round_trip(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    uint64_t gpr[16], back[16];
    for (unsigned i = 0; i < 16; i++)
        gpr[i] = 0x1000000000ull * (i + 1) + i;
    pith_expect_ok(ctx, pith_vcpu_write_state(vm.vcpu, PITH_VM_GROUP_GPR, gpr, 16), "write GPRs");
    pith_expect_ok(ctx, pith_vcpu_read_state(vm.vcpu, PITH_VM_GROUP_GPR, back, 16), "read GPRs");
    for (unsigned i = 0; i < 16; i++)
        pith_expect_eq(ctx, back[i], gpr[i], "a GPR");
    uint64_t dtr[4] = { 0x12340, 0x7ff, 0x56780, 0x3ff }, dtr_back[4];
    pith_expect_ok(ctx, pith_vcpu_write_state(vm.vcpu, PITH_VM_GROUP_DTR, dtr, 4), "write DTRs");
    pith_expect_ok(ctx, pith_vcpu_read_state(vm.vcpu, PITH_VM_GROUP_DTR, dtr_back, 4), "read DTRs");
    for (unsigned i = 0; i < 4; i++)
        pith_expect_eq(ctx, dtr_back[i], dtr[i], "a descriptor-table word");
    uint64_t tsc = 0x123456789, tsc_back = 0;
    pith_vcpu_write_state(vm.vcpu, PITH_VM_GROUP_TSC, &tsc, 1);
    pith_vcpu_read_state(vm.vcpu, PITH_VM_GROUP_TSC, &tsc_back, 1);
    pith_expect_eq(ctx, tsc_back, tsc, "TSC offset");
    vm_destroy(&vm);
}

static void vm_invalid_state(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    uint64_t cr[6] = { 0x100000010ull, 0, 0, 0, 0, 0x400 };  /* CR0 bit 32: reserved */
    pith_expect_ok(ctx, pith_vcpu_write_state(vm.vcpu, PITH_VM_GROUP_CR, cr, 6), "write CR0");
    if (vm_start(ctx, &vm))
        pith_expect(ctx, vm.exit.reason == PITH_EXIT_INVALID_STATE, "entry refused: reason %lu raw %lx", vm.exit.reason, vm.exit.mr[0]);
    vm_destroy(&vm);
}

static void vm_triple_fault(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0x0f, 0x01, 0x1e, 0x00, 0x13,   /* lidt [0x1300]: limit 0 */
        0xcc };                         /* int3: no IDT entry, no double-fault entry */
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    memset(vm.code + 0x300, 0, 6);
    if (vm_start(ctx, &vm))
        pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_SHUTDOWN, "triple fault");
    vm_destroy(&vm);
}

KT_TABLE(vm,
    { "vm_exit_cpuid", vm_cpuid_exit },
    { "vm_exit_io", vm_io_exits },
    { "vm_exit_mmio_unmapped", vm_mmio_exit },
    { "vm_inject_interrupt", vm_injected_interrupt },
    { "vm_state_round_trip", vm_state_round_trip },
    { "vm_invalid_state", vm_invalid_state },
    { "vm_triple_fault", vm_triple_fault },
)
