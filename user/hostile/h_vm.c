/*
 * Hostile cases: the world switch and what a VMM may write.  A guest leaves debug and
 * FPU registers behind for the next guest or task to read; a VMM writes state the CPU
 * (or the kernel's own WRMSR) would choke on, injects malformed events, asks for the
 * host's exceptions, reads the exit it has not received yet, and reconfigures a vCPU
 * thread to run the guest on a page table it forged.  Each attack must be refused and
 * the kernel must go on: after a refusal the same vCPU runs again with good state.
 * See hostile.h.
 */
#include "hostile.h"
#include "../ktest/vm.h"

#define KT_HIGH (KT_ROOT_PRIORITY + 1)

static bool on_vmx(void)
{
    return kt_bootinfo->cpu_features & PITH_CPU_VMX;
}

/* ---- A VMM writes state the guest must not run with ------------------------------------ */

VM_GUEST(hvg_halt, ".code16",
    "hlt\n"
    "hlt\n");

/* Where a group sits in the exit message (the transfer mask is every group). */
static uint64_t *exit_group(struct kt_vm *vm, uint64_t group)
{
    return &vm->exit.mr[pith_vm_group_at(VM_MASK, group)];
}

/*
 * `mask` names one or more groups; `good` holds their words in bit order as the vCPU has
 * them, `bad` the same with the attack in.  Writing `bad` is refused, or the next entry
 * is: an INVALID_STATE exit before the guest ran.  Then the good state, written back in
 * the reply, runs the guest to its HLT.
 */
static void expect_refused(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask,
                           const uint64_t *good, const uint64_t *bad, const char *what)
{
    enum pith_error err = pith_vcpu_write_state(vm->vcpu, mask, bad, pith_vm_groups_length(mask));
    if (err != PITH_OK) {
        pith_expect_err(ctx, err, PITH_E_INVALID_ARG, what);
        return;
    }
    if (!vm_start(ctx, vm))
        return;
    if (!pith_expect(ctx, vm->exit.reason == PITH_EXIT_INVALID_STATE,
                     "%s: exit %lu (raw 0x%lx), expected INVALID_STATE", what, vm->exit.reason,
                     vm->exit.mr[0]))
        return;
    uint64_t rip = VM_CODE_GPA;
    if (mask & PITH_VM_GROUP_RIP)
        rip = bad[pith_vm_group_at(mask, PITH_VM_GROUP_RIP) - PITH_VM_EXIT_HEADER];
    pith_expect_eq(ctx, vm->exit.mr[VM_RIP], rip, "the guest did not run");
    unsigned at = 0;
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++) {
        if (!(mask & (1ull << g)))
            continue;
        memcpy(exit_group(vm, 1ull << g), &good[at], pith_vm_group_words(g) * sizeof(uint64_t));
        at += pith_vm_group_words(g);
    }
    if (vm_reply(ctx, vm, mask, 0, 0, 0))
        vm_expect_exit(ctx, vm, PITH_EXIT_HLT, "the corrected guest runs");
}

/* A fresh halting guest (long mode if asked), its words of `mask` read into `good` and
 * copied to `bad` for the attack to edit. */
static bool state_vm(struct pith_test_ctx *ctx, struct kt_vm *vm, bool long_mode, uint64_t mask,
                     uint64_t *good, uint64_t *bad)
{
    static const uint8_t code64[] = { 0xf4, 0xf4 };
    if (!vm_create(ctx, vm, long_mode ? code64 : hvg_halt,
                   long_mode ? sizeof(code64) : (size_t)(hvg_halt_end - hvg_halt), 0))
        return false;
    if (long_mode && !vm_long(ctx, vm))
        return false;
    if (!vm_read(ctx, vm, mask, good))
        return false;
    memcpy(bad, good, pith_vm_groups_length(mask) * sizeof(uint64_t));
    return true;
}

/* One attack on one group of a fresh guest. */
static void attack_word(struct pith_test_ctx *ctx, bool long_mode, uint64_t group, unsigned word,
                        uint64_t value, const char *what)
{
    struct kt_vm vm;
    uint64_t good[16], bad[16];
    if (state_vm(ctx, &vm, long_mode, group, good, bad)) {
        bad[word] = value;
        expect_refused(ctx, &vm, group, good, bad, what);
    }
    vm_destroy(&vm);
}

enum { SYS_SYSENTER_CS, SYS_SYSENTER_ESP, SYS_SYSENTER_EIP, SYS_STAR, SYS_LSTAR, SYS_CSTAR,
       SYS_SFMASK, SYS_KERNEL_GS_BASE, SYS_PAT };
enum { CR_CR0, CR_CR2, CR_CR3, CR_CR4, CR_EFER, CR_DR7 };

#define NON_CANONICAL 0x0000800000000000ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull
#define CR4_PAE  0x20ull

/* One case per attack: a word of a group, or the control words of the CR group. */
#define ATTACK_WORD(name, long_mode, group, word, value)                              \
    static void name(struct pith_test_ctx *ctx)                                      \
    {                                                                                \
        attack_word(ctx, long_mode, group, word, value, #name);                      \
    }
#define ATTACK_CR(name, long_mode, cr0, cr3, cr4, efer)                               \
    static void name(struct pith_test_ctx *ctx)                                      \
    {                                                                                \
        attack_cr(ctx, long_mode, cr0, cr3, cr4, efer, #name);                        \
    }

/* The VMX backend loads these with WRMSR: a non-canonical one would fault in the host. */
ATTACK_WORD(hvm_sys_lstar_noncanonical, false, PITH_VM_GROUP_SYS, SYS_LSTAR, NON_CANONICAL)
ATTACK_WORD(hvm_sys_lstar_noncanonical_long, true, PITH_VM_GROUP_SYS, SYS_LSTAR, 0xdead000000000000ull)
ATTACK_WORD(hvm_sys_cstar_noncanonical, false, PITH_VM_GROUP_SYS, SYS_CSTAR, NON_CANONICAL)
ATTACK_WORD(hvm_sys_kernel_gs_base_noncanonical, false, PITH_VM_GROUP_SYS, SYS_KERNEL_GS_BASE,
            NON_CANONICAL + 0x1000)
ATTACK_WORD(hvm_sys_sfmask_bit40, false, PITH_VM_GROUP_SYS, SYS_SFMASK, 1ull << 40)
/* The VMCS narrows these; the kernel checks what the VMM asked for. */
ATTACK_WORD(hvm_sys_sysenter_eip_noncanonical, false, PITH_VM_GROUP_SYS, SYS_SYSENTER_EIP, NON_CANONICAL)
ATTACK_WORD(hvm_sys_sysenter_esp_noncanonical, false, PITH_VM_GROUP_SYS, SYS_SYSENTER_ESP, ~0ull >> 1)
ATTACK_WORD(hvm_sys_sysenter_cs_bit33, false, PITH_VM_GROUP_SYS, SYS_SYSENTER_CS, 1ull << 33)
ATTACK_WORD(hvm_sys_pat_reserved_type, false, PITH_VM_GROUP_SYS, SYS_PAT, 0x0007040600070402ull)

ATTACK_WORD(hvm_seg_fs_base_noncanonical, false, PITH_VM_GROUP_SEG, 2 * VM_FS + 1, NON_CANONICAL)
ATTACK_WORD(hvm_seg_gs_base_noncanonical, false, PITH_VM_GROUP_SEG, 2 * VM_GS + 1, 0x8000000000000000ull)
ATTACK_WORD(hvm_seg_tr_base_noncanonical, true, PITH_VM_GROUP_SEG, 2 * VM_TR + 1, NON_CANONICAL)
ATTACK_WORD(hvm_seg_ds_base_above_4g, false, PITH_VM_GROUP_SEG, 2 * VM_DS + 1, 1ull << 32)
ATTACK_WORD(hvm_seg_attributes_reserved, false, PITH_VM_GROUP_SEG, 2 * VM_ES,
            VM_SEG_WORD(0, 0xe093, 0xffff))
/* A 64-bit code segment that also claims a 32-bit default size (APM 15.5.1). */
ATTACK_WORD(hvm_seg_long_cs_l_and_d, true, PITH_VM_GROUP_SEG, 2 * VM_CS,
            VM_SEG_WORD(VM_SEL_CODE64, 0xe9b, 0xffffffffull))

ATTACK_WORD(hvm_dtr_gdtr_base_noncanonical, false, PITH_VM_GROUP_DTR, 0, NON_CANONICAL)
ATTACK_WORD(hvm_dtr_idtr_limit_17_bits, false, PITH_VM_GROUP_DTR, 3, 0x10000)

ATTACK_WORD(hvm_rflags_bit1_clear, false, PITH_VM_GROUP_RIP, 1, 0)
ATTACK_WORD(hvm_rflags_bit3, false, PITH_VM_GROUP_RIP, 1, 2 | (1ull << 3))
ATTACK_WORD(hvm_rflags_bit40, false, PITH_VM_GROUP_RIP, 1, 2 | (1ull << 40))
ATTACK_WORD(hvm_rflags_vm_in_real_mode, false, PITH_VM_GROUP_RIP, 1, 2 | (1ull << 17))
ATTACK_WORD(hvm_rip_above_4g_in_real_mode, false, PITH_VM_GROUP_RIP, 0, 1ull << 32 | VM_CODE_GPA)
ATTACK_WORD(hvm_rip_noncanonical_in_long_mode, true, PITH_VM_GROUP_RIP, 0, NON_CANONICAL)
ATTACK_WORD(hvm_dr7_bit40, false, PITH_VM_GROUP_CR, CR_DR7, 0x400 | (1ull << 40))

/* Several words of the CR group at once. */
static void attack_cr(struct pith_test_ctx *ctx, bool long_mode, uint64_t cr0, uint64_t cr3,
                      uint64_t cr4, uint64_t efer, const char *what)
{
    struct kt_vm vm;
    uint64_t good[6], bad[6];
    if (state_vm(ctx, &vm, long_mode, PITH_VM_GROUP_CR, good, bad)) {
        bad[CR_CR0] = cr0, bad[CR_CR3] = cr3, bad[CR_CR4] = cr4, bad[CR_EFER] = efer;
        expect_refused(ctx, &vm, PITH_VM_GROUP_CR, good, bad, what);
    }
    vm_destroy(&vm);
}

#define PE VM_CR0_PE
#define PG VM_CR0_PG
#define ET VM_CR0_ET
#define NE VM_CR0_NE

/* The case that once left the host on the guest's CR0: long mode said active, without
 * paging or PAE; and its relatives. */
ATTACK_CR(hvm_efer_lma_without_paging, false, ET, 0, 0, EFER_LME | EFER_LMA)
ATTACK_CR(hvm_efer_lma_in_protected_mode, false, PE | ET | NE, 0, 0, EFER_LME | EFER_LMA)
ATTACK_CR(hvm_long_mode_without_pae, false, PE | PG | ET | NE, 0x4000, 0, EFER_LME | EFER_LMA)
ATTACK_CR(hvm_lme_and_paging_without_lma, false, PE | PG | ET | NE, 0x4000, CR4_PAE, EFER_LME)
ATTACK_CR(hvm_cr0_pg_without_pe, false, PG | ET, 0, 0, 0)
ATTACK_CR(hvm_cr0_nw_without_cd, false, (1ull << 29) | ET, 0, 0, 0)
ATTACK_CR(hvm_cr0_bit40, false, (1ull << 40) | ET, 0, 0, 0)
ATTACK_CR(hvm_cr0_bit8, false, (1ull << 8) | ET, 0, 0, 0)
ATTACK_CR(hvm_cr4_bit31, false, ET, 0, 1ull << 31, 0)
ATTACK_CR(hvm_cr4_bit63, false, ET, 0, 1ull << 63, 0)
ATTACK_CR(hvm_efer_bit1, false, ET, 0, 0, 1ull << 1)
ATTACK_CR(hvm_efer_svme_from_vmm, false, ET, 0, 0, 1ull << 12)
ATTACK_CR(hvm_efer_bit63, false, ET, 0, 0, 1ull << 63)
ATTACK_CR(hvm_cr3_bit62_in_long_mode, true, PE | PG | ET | NE, 0x4000 | (1ull << 62), CR4_PAE,
          EFER_LME | EFER_LMA)

/* CR4.VMXE from the VMM: on SVM a reserved bit, refused; on VMX only what the guest
 * reads (the CPU keeps it set behind the read shadow in every guest, docs/vm.md), so
 * the guest runs, and its VMX instructions still exit (ktest
 * vm_exit_vmx_instruction_operands). */
static void hvm_cr4_vmxe_from_vmm(struct pith_test_ctx *ctx)
{
    if (!on_vmx()) {
        attack_cr(ctx, false, ET, 0, 1ull << 13, 0, "hvm_cr4_vmxe_from_vmm");
        return;
    }
    struct kt_vm vm;
    uint64_t good[6], bad[6], back[6];
    if (state_vm(ctx, &vm, false, PITH_VM_GROUP_CR, good, bad)) {
        bad[CR_CR4] |= 1ull << 13;
        if (vm_write(ctx, &vm, PITH_VM_GROUP_CR, bad) && vm_start(ctx, &vm) &&
            vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the guest runs with VMXE shown") &&
            vm_read(ctx, &vm, PITH_VM_GROUP_CR, back))
            pith_expect_eq(ctx, back[CR_CR4], bad[CR_CR4], "cr4 as written");
    }
    vm_destroy(&vm);
}

/*
 * Long mode enabled (EFER.LME) with neither paging nor PAE: valid on the CPU, but
 * QEMU's #VMEXIT then keeps the guest's CR0 for the host, which runs on without paging
 * (svm.c, guest_control_intercepts).  SVM refuses to enter with it and keeps the guest
 * from reaching it; VMX runs it.
 */
static void hvm_lme_without_pae(struct pith_test_ctx *ctx)
{
    if (!on_vmx()) {
        attack_cr(ctx, false, PE | ET | NE, 0, 0, EFER_LME, "hvm_lme_without_pae");
        return;
    }
    struct kt_vm vm;
    uint64_t good[6], bad[6];
    if (state_vm(ctx, &vm, false, PITH_VM_GROUP_CR, good, bad)) {
        bad[CR_CR0] = PE | ET | NE, bad[CR_CR4] = 0, bad[CR_EFER] = EFER_LME;
        if (vm_write(ctx, &vm, PITH_VM_GROUP_CR, bad) && vm_start(ctx, &vm))
            vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "VMX runs LME without PAE");
    }
    vm_destroy(&vm);
}

VM_GUEST(hvg_clear_pae, ".code32",
    "mov %cr4, %eax\n"
    "and $~0x20, %eax\n"
    "mov %eax, %cr4\n"                  /* 0x1006 */
    "hlt\n");

/* The guest itself, with LME and PAE and no paging, clears PAE and would then exit
 * (the fuzzer's hang: the host left on CR0 = 0x31, the guest's).  Under SVM its MOV to
 * CR4 exits instead; the VMM doing what it asked is refused, and good state runs on. */
static void hvm_guest_clears_pae_with_lme(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(hvg_clear_pae), 0) || !vm_protected(ctx, &vm))
        goto done;
    uint64_t cr[6] = { PE | ET | NE, 0, 0, CR4_PAE, EFER_LME, 0x400 };
    if (!vm_write(ctx, &vm, PITH_VM_GROUP_CR, cr) || !vm_start(ctx, &vm))
        goto done;
    if (on_vmx()) {
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "VMX: the guest clears PAE and halts");
        goto done;
    }
    if (!vm_expect_exit(ctx, &vm, PITH_EXIT_CR_ACCESS, "the MOV to CR4 exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 4, "CR4");
    pith_expect_eq(ctx, vm.exit.mr[2], 1, "a write");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 6, "rip at the MOV");
    vm.exit.mr[VM_CR(CR_CR4)] &= ~CR4_PAE;
    if (!vm_reply(ctx, &vm, PITH_VM_GROUP_CR, 0, 0, 0) ||
        !vm_expect_exit(ctx, &vm, PITH_EXIT_INVALID_STATE, "the VMM clearing PAE"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], PITH_VM_REFUSED_CONTROL, "refused for its control state");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 6, "the guest did not run");
    vm.exit.mr[VM_CR(CR_CR4)] |= CR4_PAE;
    vm.exit.mr[VM_RIP] += 3;
    if (vm_reply(ctx, &vm, PITH_VM_GROUP_CR | PITH_VM_GROUP_RIP, 0, 0, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the guest runs on with PAE");
done:
    vm_destroy(&vm);
}

/* A long-mode guest leaving paging (then free to clear PAE) exits first under SVM. */
static void hvm_long_mode_guest_leaves_paging(struct pith_test_ctx *ctx)
{
    static const uint8_t code64[] = {
        0x0f, 0x20, 0xc0,                       /* mov %cr0, %rax */
        0x25, 0xff, 0xff, 0xff, 0x7f,           /* and $0x7fffffff, %eax */
        0x0f, 0x22, 0xc0,                       /* mov %rax, %cr0 (0x1008) */
        0xf4,                                   /* hlt */
    };
    if (on_vmx())
        return;             /* VMX: a #GP in 64-bit code, the guest's business */
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code64, sizeof(code64), 0) || !vm_long(ctx, &vm) ||
        !vm_start(ctx, &vm))
        goto done;
    if (!vm_expect_exit(ctx, &vm, PITH_EXIT_CR_ACCESS, "the MOV to CR0 exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0, "CR0");
    pith_expect_eq(ctx, vm.exit.mr[2], 1, "a write");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 8, "rip at the MOV");
    if (vm_resume(ctx, &vm, 3, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "skipped, the guest halts");
done:
    vm_destroy(&vm);
}

/* ---- Events ---------------------------------------------------------------------------- */

/* A real-mode guest whose every interrupt vector goes to an OUT 0x90: a delivered event
 * shows.  After a first HLT the VMM's reply injects `event`: refused, the guest does not
 * take it (INVALID_STATE, or at most the event is dropped); a plain reply runs on. */
static void attack_event(struct pith_test_ctx *ctx, uint64_t event, uint64_t error_code,
                         const char *what)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(hvg_halt), 0))
        goto done;
    vm.code[0x200] = 0xe6, vm.code[0x201] = 0x90, vm.code[0x202] = 0xcf;    /* out 0x90, al; iret */
    for (unsigned v = 0; v < 256; v++)
        if (!vm_ivt(ctx, &vm, v, 0x1200))
            goto done;
    if (!vm_start(ctx, &vm) || !vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "first hlt"))
        goto done;
    if (!vm_reply(ctx, &vm, 0, event, error_code, 0))
        goto done;
    pith_expect(ctx, vm.exit.reason == PITH_EXIT_INVALID_STATE || vm.exit.reason == PITH_EXIT_HLT,
                "%s: exit %lu (raw 0x%lx, qual 0x%lx), expected the event refused", what,
                vm.exit.reason, vm.exit.mr[0], vm.exit.mr[1]);
    if (vm.exit.reason == PITH_EXIT_INVALID_STATE)
        pith_expect_eq(ctx, vm.exit.mr[1], PITH_VM_REFUSED_EVENT, "refused for its event");
    if (vm_reply(ctx, &vm, 0, 0, 0, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the guest runs on without the event");
done:
    vm_destroy(&vm);
}

#define EVENT(type, vector) (PITH_VM_EVENT_VALID | (type) | (vector))
#define ATTACK_EVENT(name, event, error_code)                                         \
    static void name(struct pith_test_ctx *ctx)                                      \
    {                                                                                \
        attack_event(ctx, event, error_code, #name);                                 \
    }

ATTACK_EVENT(hvm_inject_type_1, EVENT(1ull << 8, 0x30), 0)
ATTACK_EVENT(hvm_inject_type_7, EVENT(7ull << 8, 0x30), 0)
ATTACK_EVENT(hvm_inject_icebp_type_on_vector_0x30, EVENT(5ull << 8, 0x30), 0)
ATTACK_EVENT(hvm_inject_int3_type_on_vector_0x30, EVENT(6ull << 8, 0x30), 0)
ATTACK_EVENT(hvm_inject_nmi_vector_3, EVENT(PITH_VM_EVENT_NMI, 3), 0)
ATTACK_EVENT(hvm_inject_nmi_vector_0x40, EVENT(PITH_VM_EVENT_NMI, 0x40), 0)
ATTACK_EVENT(hvm_inject_exception_on_nmi_vector, EVENT(PITH_VM_EVENT_EXCEPTION, 2), 0)
ATTACK_EVENT(hvm_inject_ud_with_error_code,
             EVENT(PITH_VM_EVENT_EXCEPTION | PITH_VM_EVENT_ERROR_CODE, 6), 0x55)
ATTACK_EVENT(hvm_inject_extint_with_error_code,
             EVENT(PITH_VM_EVENT_EXTINT | PITH_VM_EVENT_ERROR_CODE, 0x30), 0x55)
ATTACK_EVENT(hvm_inject_soft_int_with_error_code,
             EVENT(PITH_VM_EVENT_SOFT_INT | PITH_VM_EVENT_ERROR_CODE, 0x30), 0)
ATTACK_EVENT(hvm_inject_vector_0x1ff, PITH_VM_EVENT_VALID | 0x1ff, 0)
ATTACK_EVENT(hvm_inject_exception_vector_40, EVENT(PITH_VM_EVENT_EXCEPTION, 40), 0)
ATTACK_EVENT(hvm_inject_bit20, EVENT(PITH_VM_EVENT_EXTINT, 0x30) | (1ull << 20), 0)
ATTACK_EVENT(hvm_inject_bit40, EVENT(PITH_VM_EVENT_EXTINT, 0x30) | (1ull << 40), 0)

/* ---- The host's exceptions -------------------------------------------------------------- */

VM_GUEST(hvg_ud, ".code16",
    "ud2\n"
    "hlt\n");

/* #MC and NMI stay the host's: a bitmap with either is refused (and so is one beyond 32
 * bits); everything else may exit. */
static void hvm_exception_bitmap_host_vectors(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(hvg_ud), 0))
        goto done;
    static const struct { uint64_t bitmap; const char *what; } bad[] = {
        { 1ull << 18, "#MC" }, { 1ull << 2, "NMI" }, { 0xffffffffull, "every vector" },
        { 1ull << 32, "bit 32" } };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        pith_expect_err(ctx, pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.exit_ep, VM_MASK,
                                                 bad[i].bitmap), PITH_E_INVALID_ARG, bad[i].what);
    uint64_t allowed = 0xffffffffull & ~(uint64_t)PITH_VM_HOST_EXCEPTIONS;
    if (!pith_expect_ok(ctx, pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.exit_ep, VM_MASK,
                                                 allowed), "every other vector"))
        goto done;
    if (vm_start(ctx, &vm) && vm_expect_exit(ctx, &vm, PITH_EXIT_EXCEPTION, "ud2"))
        pith_expect_eq(ctx, vm.exit.mr[1], 6, "#UD exits");
done:
    vm_destroy(&vm);
}

VM_GUEST(hvg_rdpmc, ".code16",
    "xor %ecx, %ecx\n"
    "rdpmc\n"                           /* 0x1003 */
    "out %eax, $0x99\n"
    "hlt\n");

/* RDPMC would read the host's performance counters: it exits instead. */
static void hvm_rdpmc_exits(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(hvg_rdpmc), 0) || !vm_start(ctx, &vm))
        goto done;
    uint64_t raw = on_vmx() ? 15 : 0x6f;
    if (!pith_expect(ctx, vm.exit.reason == PITH_EXIT_OTHER && vm.exit.mr[0] == raw,
                     "RDPMC: exit %lu raw 0x%lx, expected OTHER 0x%lx", vm.exit.reason,
                     vm.exit.mr[0], raw))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 3, "rip at rdpmc");
    pith_expect_eq(ctx, vm.exit.mr[3], 2, "its length");
    vm.exit.mr[VM_GPR(VM_RAX)] = 0x1234;
    if (vm_resume(ctx, &vm, 2, 0) && vm_expect_io(ctx, &vm, 0x99, "after the emulated rdpmc"))
        pith_expect_eq(ctx, vm.exit.mr[2] & 0xffffffff, 0x1234, "the VMM's value");
done:
    vm_destroy(&vm);
}

/* ---- The exit message ------------------------------------------------------------------- */

VM_GUEST(hvg_out, ".code16",
    "out %al, $0x61\n"
    "hlt\n");

/* READ_STATE while an exit waits to be received leaves that exit as it was. */
static void hvm_read_state_keeps_queued_exit(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note || !vm_create(ctx, &vm, VM_CODE(hvg_out), 0))
        goto done;
    uint64_t gpr[16];
    for (unsigned i = 0; i < 16; i++)
        gpr[i] = 0x5a5a000000000000ull + i;
    gpr[VM_RSP] = 0x8000;
    if (!vm_write(ctx, &vm, PITH_VM_GROUP_GPR, gpr) || !vm_go(ctx, &vm))
        goto done;
    vm_sleep_ms(note, 20);                      /* the vCPU exits and waits in its Call */
    uint64_t words[PITH_MSG_MAX];
    if (!vm_read(ctx, &vm, VM_MASK, words))
        goto done;
    if (!pith_expect_ok(ctx, pith_vm_wait_exit(vm.exit_ep, &vm.exit), "receiving the exit") ||
        !vm_expect_io(ctx, &vm, 0x61, "the queued exit"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[0], on_vmx() ? 30 : 0x7b, "raw reason intact");
    pith_expect_eq(ctx, vm.exit.mr[1], 0x61 | (1ull << 16), "qualification intact");
    pith_expect_eq(ctx, vm.exit.mr[3], 2, "length intact");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA, "rip intact");
    pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RCX)], gpr[VM_RCX], "rcx intact");
    if (vm_resume(ctx, &vm, 2, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the guest goes on");
done:
    vm_destroy(&vm);
    kt_delete(note);
}

/* ---- What one guest leaves in the CPU ---------------------------------------------------- */

VM_GUEST(hvg_debug, ".code16",
    "mov $0x11111110, %eax\n"
    "mov %eax, %dr0\n"
    "mov $0x22222220, %eax\n"
    "mov %eax, %dr1\n"
    "mov $0x33333330, %eax\n"
    "mov %eax, %dr2\n"
    "mov $0x44444440, %eax\n"
    "mov %eax, %dr3\n"
    "mov $0xffff0fff, %eax\n"          /* B0..B3 */
    "mov %eax, %dr6\n"
    "mov $0x000000ff, %eax\n"          /* L0..G3: execute breakpoints nobody reaches */
    "mov %eax, %dr7\n"
    "hlt\n"
    ".org 0x100\n"                      /* read them all to 0x2000 */
    "mov %dr0, %eax\n"
    "mov %eax, 0x2000\n"
    "mov %dr1, %eax\n"
    "mov %eax, 0x2004\n"
    "mov %dr2, %eax\n"
    "mov %eax, 0x2008\n"
    "mov %dr3, %eax\n"
    "mov %eax, 0x200c\n"
    "mov %dr6, %eax\n"
    "mov %eax, 0x2010\n"
    "mov %dr7, %eax\n"
    "mov %eax, 0x2014\n"
    "hlt\n");

/* The VMM answers one exit at a time: a guest stopped in its exit is suspended, so
 * another can run; it goes on later from `rip`. */
static bool park(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    return pith_expect_ok(ctx, pith_thread_suspend(vm->thread), "suspending a guest in its exit");
}

static bool continue_at(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t rip)
{
    uint64_t words[2] = { rip, 2 };
    return vm_write(ctx, vm, PITH_VM_GROUP_RIP, words) && vm_start(ctx, vm);
}

static const uint32_t debug_set[6] = { 0x11111110, 0x22222220, 0x33333330, 0x44444440,
                                       0xffff0fff, 0x4ff };
static const uint32_t debug_reset[6] = { 0, 0, 0, 0, 0xffff0ff0, 0x400 };

/* Guest A sets DR0..DR3, DR6 and DR7; guest B of another guest space reads the values
 * of a fresh vCPU; A, run again, reads its own. */
static void hvm_debug_registers_between_guests(struct pith_test_ctx *ctx)
{
    struct kt_vm a, b;
    if (!vm_create(ctx, &a, VM_CODE(hvg_debug), 0))
        return;
    if (!vm_create(ctx, &b, VM_CODE(hvg_debug), 0))
        goto done_a;
    uint8_t *da = vm_map_page(ctx, &a, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    uint8_t *db = vm_map_page(ctx, &b, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    uint64_t rip[2] = { VM_CODE_GPA + 0x100, 2 };
    if (!da || !db || !vm_write(ctx, &b, PITH_VM_GROUP_RIP, rip))
        goto done;
    if (!vm_start(ctx, &a) || !vm_finish_dr7_write(ctx, &a) ||
        !vm_expect_exit(ctx, &a, PITH_EXIT_HLT, "A set its registers") ||
        !park(ctx, &a))
        goto done;
    if (!vm_start(ctx, &b) || !vm_expect_exit(ctx, &b, PITH_EXIT_HLT, "B read its registers"))
        goto done;
    static const char *const names[6] = { "DR0", "DR1", "DR2", "DR3", "DR6", "DR7" };
    for (unsigned i = 0; i < 6; i++)
        pith_expect(ctx, ((volatile uint32_t *)db)[i] == debug_reset[i],
                    "B's %s is 0x%x, expected 0x%x (A set 0x%x)", names[i],
                    ((volatile uint32_t *)db)[i], debug_reset[i], debug_set[i]);
    if (!continue_at(ctx, &a, VM_CODE_GPA + 0x100) ||
        !vm_expect_exit(ctx, &a, PITH_EXIT_HLT, "A read its registers"))
        goto done;
    for (unsigned i = 0; i < 6; i++)
        pith_expect(ctx, ((volatile uint32_t *)da)[i] == debug_set[i], "A's %s is 0x%x, expected 0x%x",
                    names[i], ((volatile uint32_t *)da)[i], debug_set[i]);
done:
    vm_destroy(&b);
done_a:
    vm_destroy(&a);
}

VM_GUEST(hvg_sse, ".code16",
    "movdqu 0x2000, %xmm0\n"            /* load a pattern into XMM0..XMM7 */
    "movdqu 0x2010, %xmm1\n"
    "movdqu 0x2020, %xmm2\n"
    "movdqu 0x2030, %xmm3\n"
    "movdqu 0x2040, %xmm4\n"
    "movdqu 0x2050, %xmm5\n"
    "movdqu 0x2060, %xmm6\n"
    "movdqu 0x2070, %xmm7\n"
    "hlt\n"
    ".org 0x100\n"                      /* store XMM0..XMM7 to 0x2100 */
    "movdqu %xmm0, 0x2100\n"
    "movdqu %xmm1, 0x2110\n"
    "movdqu %xmm2, 0x2120\n"
    "movdqu %xmm3, 0x2130\n"
    "movdqu %xmm4, 0x2140\n"
    "movdqu %xmm5, 0x2150\n"
    "movdqu %xmm6, 0x2160\n"
    "movdqu %xmm7, 0x2170\n"
    "hlt\n");

/* A real-mode guest with SSE enabled (CR4.OSFXSR) and its data page. */
static uint8_t *sse_vm(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t rip)
{
    uint64_t cr[6], rips[2] = { rip, 2 };
    if (!vm_create(ctx, vm, VM_CODE(hvg_sse), 0) || !vm_read(ctx, vm, PITH_VM_GROUP_CR, cr))
        return NULL;
    cr[CR_CR4] |= 0x200;
    uint8_t *data = vm_map_page(ctx, vm, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    if (!data || !vm_write(ctx, vm, PITH_VM_GROUP_CR, cr) || !vm_write(ctx, vm, PITH_VM_GROUP_RIP, rips))
        return NULL;
    return data;
}

static uint64_t sse_pattern(unsigned i)
{
    return 0xa5a5000000000000ull | ((uint64_t)i << 32) | 0x5a5a5a00u | i;
}

/* How many of the 16 quadwords at `at` hold the pattern. */
static unsigned pattern_words(const volatile uint8_t *at)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 16; i++)
        n += ((const volatile uint64_t *)at)[i] == sse_pattern(i);
    return n;
}

/* Guest A loads XMM0..7 and stops in its exit; guest B (another thread, another guest
 * space) stores its own: none of A's.  A, run again, still has its values. */
static void hvm_fpu_between_guests(struct pith_test_ctx *ctx)
{
    struct kt_vm a, b;
    uint8_t *da = sse_vm(ctx, &a, VM_CODE_GPA), *db = NULL;
    if (!da)
        goto done_a;
    db = sse_vm(ctx, &b, VM_CODE_GPA + 0x100);
    if (!db)
        goto done;
    for (unsigned i = 0; i < 16; i++)
        ((uint64_t *)da)[i] = sse_pattern(i);
    if (!vm_start(ctx, &a) || !vm_expect_exit(ctx, &a, PITH_EXIT_HLT, "A loaded XMM0..7") ||
        !park(ctx, &a) ||
        !vm_start(ctx, &b) || !vm_expect_exit(ctx, &b, PITH_EXIT_HLT, "B stored XMM0..7"))
        goto done;
    pith_expect_eq(ctx, pattern_words(db + 0x100), 0, "words of A's XMM registers B saw");
    if (continue_at(ctx, &a, VM_CODE_GPA + 0x100) &&
        vm_expect_exit(ctx, &a, PITH_EXIT_HLT, "A stored XMM0..7"))
        pith_expect_eq(ctx, pattern_words(da + 0x100), 16, "words of A's XMM registers A kept");
done:
    vm_destroy(&b);
done_a:
    vm_destroy(&a);
}

/* The VMM task's own XMM7 against a guest's: neither sees the other's. */
static void hvm_fpu_guest_and_task(struct pith_test_ctx *ctx)
{
    static const uint64_t secret[2] = { 0x0123456789abcdefull, 0xfedcba9876543210ull };
    struct kt_vm a, b;
    uint8_t *da = sse_vm(ctx, &a, VM_CODE_GPA), *db = NULL;
    if (!da)
        goto done_a;
    db = sse_vm(ctx, &b, VM_CODE_GPA + 0x100);
    if (!db)
        goto done;
    for (unsigned i = 0; i < 16; i++)
        ((uint64_t *)da)[i] = sse_pattern(i);
    /* Task to guest: B stores its XMM7 after this task loaded the secret into its own. */
    __asm__ volatile("movdqu %0, %%xmm7" :: "m"(secret) : "xmm7");
    if (!vm_start(ctx, &b) || !vm_expect_exit(ctx, &b, PITH_EXIT_HLT, "B stored XMM0..7"))
        goto done;
    pith_expect(ctx, memcmp((const void *)(db + 0x170), secret, 16) != 0,
                "the guest read the task's XMM7");
    /* Guest to task: A loads its pattern; what this task finds in XMM7 is not A's. */
    uint64_t seen[2];
    if (!vm_start(ctx, &a) || !vm_expect_exit(ctx, &a, PITH_EXIT_HLT, "A loaded XMM0..7"))
        goto done;
    __asm__ volatile("movdqu %%xmm7, %0" : "=m"(seen));
    pith_expect(ctx, !(seen[0] == sse_pattern(14) && seen[1] == sse_pattern(15)),
                "the task read the guest's XMM7");
done:
    vm_destroy(&b);
done_a:
    vm_destroy(&a);
}

/* ---- The host's descriptor tables after an exit -------------------------------------------- */

struct table_limits {
    uint64_t done;
    uint16_t gdt_limit, idt_limit;
};

static void read_table_limits(uint64_t arg)
{
    struct table_limits *t = (struct table_limits *)arg;
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    t->gdt_limit = gdtr.limit;
    t->idt_limit = idtr.limit;
    t->done = 1;
}

/* A VMX exit sets the GDT and IDT limits to 0xffff: a task would reach descriptors
 * past the GDT's end.  Right after an exit a task finds the kernel's real limits (or,
 * where UMIP hides them, faults in SGDT). */
static void hvm_gdt_idt_limits_after_exit(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    struct kt_thread t = { 0 };
    struct table_limits limits = { 0 };
    pith_cap_t fault_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!fault_ep || !vm_create(ctx, &vm, VM_CODE(hvg_halt), 0))
        goto done;
    if (!vm_start(ctx, &vm) || !vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the guest exited"))
        goto done;
    if (!kt_thread_start(ctx, &t, read_table_limits, (uint64_t)&limits, KT_HIGH, fault_ep))
        goto done;
    if (!kt_wait_flag(&limits.done, 10)) {
        struct pith_msg msg;
        pith_expect_ok(ctx, pith_nb_recv(fault_ep, &msg), "SGDT neither ran nor faulted");
        goto done;
    }
    pith_expect(ctx, limits.gdt_limit < 0xfff, "GDT limit 0x%x after an exit", limits.gdt_limit);
    pith_expect(ctx, limits.idt_limit <= 0xfff, "IDT limit 0x%x after an exit", limits.idt_limit);
done:
    kt_thread_destroy(&t);
    vm_destroy(&vm);
    kt_delete(fault_ep);
}

/* ---- Guest spaces -------------------------------------------------------------------------- */

VM_GUEST(hvg_read_data, ".code16",
    "mov 0x2000, %eax\n"
    "out %eax, $0x99\n"
    "hlt\n");

/* More guest spaces than the CPU has ASIDs (QEMU: 16), each vCPU run in two rounds with
 * new data in between: every guest reads its own page, never a stale translation. */
static void hvm_more_spaces_than_asids(struct pith_test_ctx *ctx)
{
    enum { N = 20 };
    static struct kt_vm vms[N];
    volatile uint32_t *data[N];
    unsigned made = 0;
    for (; made < N; made++) {
        if (!vm_create(ctx, &vms[made], VM_CODE(hvg_read_data), 0))
            goto done;
        data[made] = (volatile uint32_t *)vm_map_page(ctx, &vms[made], VM_DATA_GPA,
                                                      PITH_RIGHT_READ | PITH_RIGHT_WRITE);
        if (!data[made]) {
            made++;
            goto done;
        }
    }
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < N; i++)
            *data[i] = 0x7000 + 0x100 * round + i;
        for (unsigned i = 0; i < N; i++) {
            if (!continue_at(ctx, &vms[i], VM_CODE_GPA) ||
                !vm_expect_io(ctx, &vms[i], 0x99, "a guest reads its page"))
                goto done;
            pith_expect_eq(ctx, vms[i].exit.mr[2] & 0xffffffff, 0x7000 + 0x100 * round + i,
                           "its own page");
            if (!park(ctx, &vms[i]))
                goto done;
        }
    }
done:
    for (unsigned i = 0; i < made; i++)
        vm_destroy(&vms[i]);
}

/* A page-table entry for the forged nested table: present/writable/user on NPT (it is
 * an ordinary long-mode table), read/write/execute and write-back on EPT. */
static uint64_t forged_entry(uint64_t phys, bool leaf)
{
    return phys | 7 | (on_vmx() && leaf ? 6ull << 3 : 0);
}

/*
 * The escape the review found: Thread.CONFIGURE gives a vCPU thread an address space in
 * place of its guest space; the guest space is deleted, its memory retyped into a frame
 * the VMM fills with a nested page table of its own that maps host memory (the kernel
 * image at 1 MiB) at guest-physical 0x2000.  Resuming the thread must not run the guest
 * on that table: no OUT with host memory may come.
 */
static void hvm_forged_table_after_reconfigure(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 13), note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t space = kt_slot(), forged = kt_slot(), tables[3] = { 0 }, views[4] = { 0 };
    if (!ut || !note || !vm_create(ctx, &vm, VM_CODE(hvg_read_data), 0))
        goto done;
    if (!pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_GUEST_SPACE, 0, KT_CNODE, space, 1),
                        "a guest space from its own untyped") ||
        !pith_expect_ok(ctx, pith_vcpu_configure(vm.vcpu, vm.thread, space, vm.exit_ep, VM_MASK, 0),
                        "the vCPU in that space"))
        goto done;
    enum pith_error err = pith_thread_configure(vm.thread, KT_CNODE, KT_SPACE, 0, 0, vm.exit_ep);
    if (err != PITH_OK) {
        pith_expect(ctx, true, "Thread.CONFIGURE of a vCPU thread refused");
        goto done;
    }
    kt_delete(space);
    space = 0;
    err = pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, forged, 1);
    if (err != PITH_OK) {
        pith_expect(ctx, true, "the guest space's memory is still in use");
        goto done;
    }
    /* The forged table: PML4 (the old guest space's table) -> PDPT -> PD -> PT, with
     * 0x1000 the guest's code and 0x2000 the kernel's first page. */
    uint64_t phys[4], code_phys;
    uint64_t *view[4];
    if (!pith_expect_ok(ctx, pith_frame_address(forged, &phys[0]), "the frame's address") ||
        !pith_expect_ok(ctx, pith_frame_address(vm.code_frame, &code_phys), "the code's address"))
        goto done;
    for (unsigned i = 0; i < 4; i++) {
        pith_cap_t frame = forged;
        if (i > 0) {
            frame = tables[i - 1] = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
            if (!frame || !pith_expect_ok(ctx, pith_frame_address(frame, &phys[i]), "a table's address"))
                goto done;
        }
        views[i] = kt_slot();
        pith_cnode_copy(KT_CNODE, views[i], KT_CNODE, frame, PITH_RIGHTS_ALL);
        view[i] = (uint64_t *)kt_window();
        if (!pith_expect_ok(ctx, kt_map(views[i], (uint64_t)view[i], PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                            "mapping a forged table"))
            goto done;
    }
    for (unsigned i = 0; i < 3; i++)
        view[i][0] = forged_entry(phys[i + 1], false);
    view[3][1] = forged_entry(code_phys, true);
    view[3][2] = forged_entry(0x100000, true);
    pith_thread_resume(vm.thread);
    vm_sleep_ms(note, 20);
    struct pith_msg msg;
    err = pith_nb_recv(vm.exit_ep, &msg);
    bool escaped = err == PITH_OK && pith_msginfo_label(msg.info) == PITH_EXIT_IO &&
                   (msg.mr[1] & 0xffff) == 0x99;
    pith_expect(ctx, !escaped, "the guest ran on the forged table and read host memory: 0x%lx",
                msg.mr[2]);
done:
    pith_thread_suspend(vm.thread);
    vm_destroy(&vm);
    for (unsigned i = 0; i < 4; i++)
        kt_delete(views[i]);
    for (unsigned i = 0; i < 3; i++)
        kt_delete(tables[i]);
    kt_delete(forged);
    kt_delete(space);
    kt_delete(note);
    kt_delete(ut);
}

KT_TABLE(hvm,
    { "hvm_debug_registers_between_guests", hvm_debug_registers_between_guests },
    { "hvm_fpu_between_guests", hvm_fpu_between_guests },
    { "hvm_fpu_guest_and_task", hvm_fpu_guest_and_task },
    { "hvm_sys_lstar_noncanonical", hvm_sys_lstar_noncanonical },
    { "hvm_sys_lstar_noncanonical_long", hvm_sys_lstar_noncanonical_long },
    { "hvm_sys_cstar_noncanonical", hvm_sys_cstar_noncanonical },
    { "hvm_sys_kernel_gs_base_noncanonical", hvm_sys_kernel_gs_base_noncanonical },
    { "hvm_sys_sfmask_bit40", hvm_sys_sfmask_bit40 },
    { "hvm_sys_sysenter_eip_noncanonical", hvm_sys_sysenter_eip_noncanonical },
    { "hvm_sys_sysenter_esp_noncanonical", hvm_sys_sysenter_esp_noncanonical },
    { "hvm_sys_sysenter_cs_bit33", hvm_sys_sysenter_cs_bit33 },
    { "hvm_sys_pat_reserved_type", hvm_sys_pat_reserved_type },
    { "hvm_seg_fs_base_noncanonical", hvm_seg_fs_base_noncanonical },
    { "hvm_seg_gs_base_noncanonical", hvm_seg_gs_base_noncanonical },
    { "hvm_seg_tr_base_noncanonical", hvm_seg_tr_base_noncanonical },
    { "hvm_seg_ds_base_above_4g", hvm_seg_ds_base_above_4g },
    { "hvm_seg_attributes_reserved", hvm_seg_attributes_reserved },
    { "hvm_seg_long_cs_l_and_d", hvm_seg_long_cs_l_and_d },
    { "hvm_dtr_gdtr_base_noncanonical", hvm_dtr_gdtr_base_noncanonical },
    { "hvm_dtr_idtr_limit_17_bits", hvm_dtr_idtr_limit_17_bits },
    { "hvm_rflags_bit1_clear", hvm_rflags_bit1_clear },
    { "hvm_rflags_bit3", hvm_rflags_bit3 },
    { "hvm_rflags_bit40", hvm_rflags_bit40 },
    { "hvm_rflags_vm_in_real_mode", hvm_rflags_vm_in_real_mode },
    { "hvm_rip_above_4g_in_real_mode", hvm_rip_above_4g_in_real_mode },
    { "hvm_rip_noncanonical_in_long_mode", hvm_rip_noncanonical_in_long_mode },
    { "hvm_dr7_bit40", hvm_dr7_bit40 },
    { "hvm_efer_lma_without_paging", hvm_efer_lma_without_paging },
    { "hvm_efer_lma_in_protected_mode", hvm_efer_lma_in_protected_mode },
    { "hvm_long_mode_without_pae", hvm_long_mode_without_pae },
    { "hvm_lme_and_paging_without_lma", hvm_lme_and_paging_without_lma },
    { "hvm_cr0_pg_without_pe", hvm_cr0_pg_without_pe },
    { "hvm_cr0_nw_without_cd", hvm_cr0_nw_without_cd },
    { "hvm_cr0_bit40", hvm_cr0_bit40 },
    { "hvm_cr0_bit8", hvm_cr0_bit8 },
    { "hvm_cr4_vmxe_from_vmm", hvm_cr4_vmxe_from_vmm },
    { "hvm_cr4_bit31", hvm_cr4_bit31 },
    { "hvm_cr4_bit63", hvm_cr4_bit63 },
    { "hvm_efer_bit1", hvm_efer_bit1 },
    { "hvm_efer_svme_from_vmm", hvm_efer_svme_from_vmm },
    { "hvm_efer_bit63", hvm_efer_bit63 },
    { "hvm_cr3_bit62_in_long_mode", hvm_cr3_bit62_in_long_mode },
    { "hvm_lme_without_pae", hvm_lme_without_pae },
    { "hvm_guest_clears_pae_with_lme", hvm_guest_clears_pae_with_lme },
    { "hvm_long_mode_guest_leaves_paging", hvm_long_mode_guest_leaves_paging },
    { "hvm_inject_type_1", hvm_inject_type_1 },
    { "hvm_inject_type_7", hvm_inject_type_7 },
    { "hvm_inject_icebp_type_on_vector_0x30", hvm_inject_icebp_type_on_vector_0x30 },
    { "hvm_inject_int3_type_on_vector_0x30", hvm_inject_int3_type_on_vector_0x30 },
    { "hvm_inject_nmi_vector_3", hvm_inject_nmi_vector_3 },
    { "hvm_inject_nmi_vector_0x40", hvm_inject_nmi_vector_0x40 },
    { "hvm_inject_exception_on_nmi_vector", hvm_inject_exception_on_nmi_vector },
    { "hvm_inject_ud_with_error_code", hvm_inject_ud_with_error_code },
    { "hvm_inject_extint_with_error_code", hvm_inject_extint_with_error_code },
    { "hvm_inject_soft_int_with_error_code", hvm_inject_soft_int_with_error_code },
    { "hvm_inject_vector_0x1ff", hvm_inject_vector_0x1ff },
    { "hvm_inject_exception_vector_40", hvm_inject_exception_vector_40 },
    { "hvm_inject_bit20", hvm_inject_bit20 },
    { "hvm_inject_bit40", hvm_inject_bit40 },
    { "hvm_exception_bitmap_host_vectors", hvm_exception_bitmap_host_vectors },
    { "hvm_rdpmc_exits", hvm_rdpmc_exits },
    { "hvm_read_state_keeps_queued_exit", hvm_read_state_keeps_queued_exit },
    { "hvm_gdt_idt_limits_after_exit", hvm_gdt_idt_limits_after_exit },
    { "hvm_more_spaces_than_asids", hvm_more_spaces_than_asids },
    { "hvm_forged_table_after_reconfigure", hvm_forged_table_after_reconfigure },
)
