/* Virtual SVM's rules: VMRUN's consistency checks one by one, intercept merging and
 * lookup, the permission maps, the instructions' faults, the SVM MSRs and CPUID. */
#include "harness.h"
#include "x86/svm_nested.h"

static uint8_t vmcb[SVM_VMCB_SIZE];

static const struct svm_nested_limits limits = {
    .phys_bits = 40,
    .cr4_allowed = 0x3706f9,            /* a set without VMXE (bit 13) */
    .efer_allowed = 0x1d01,             /* SCE LME LMA NXE SVME */
    .long_mode = true,
    .nested_paging = true,
};

/* A VMCB12 that passes: a 64-bit guest with nested paging. */
static void good_vmcb(void)
{
    memset(vmcb, 0, sizeof(vmcb));
    vmcb12_put(vmcb, VMCB12_EFER, 8, 0x1d01);
    vmcb12_put(vmcb, VMCB12_CR0, 8, 0x80050033);        /* PG WP NE ET MP PE */
    vmcb12_put(vmcb, VMCB12_CR3, 8, 0x12345000);
    vmcb12_put(vmcb, VMCB12_CR4, 8, 0x20);              /* PAE */
    vmcb12_put(vmcb, VMCB12_CS + 2, 2, 0x29b);          /* L, present, code */
    vmcb12_put(vmcb, VMCB12_DR6, 8, 0xffff0ff0);
    vmcb12_put(vmcb, VMCB12_DR7, 8, 0x400);
    vmcb12_put(vmcb, VMCB12_INTERCEPT_MISC2, 4, 1);     /* VMRUN */
    vmcb12_put(vmcb, VMCB12_ASID, 4, 1);
    vmcb12_put(vmcb, VMCB12_IOPM_BASE, 8, 0x100000);
    vmcb12_put(vmcb, VMCB12_MSRPM_BASE, 8, 0x104000);
    vmcb12_put(vmcb, VMCB12_NP_CONTROL, 8, 1);
    vmcb12_put(vmcb, VMCB12_N_CR3, 8, 0x200000);
}

static void test_good_vmcb_passes(void)
{
    good_vmcb();
    CHECK_EQ(svm_vmcb12_check(vmcb, &limits), VMCB12_OK);
    vmcb12_put(vmcb, VMCB12_EFER, 8, 0x1000);           /* real mode, SVME only */
    vmcb12_put(vmcb, VMCB12_CR0, 8, 0x60000010);        /* CD NW ET: NW with CD is fine */
    vmcb12_put(vmcb, VMCB12_CR4, 8, 0);
    CHECK_EQ(svm_vmcb12_check(vmcb, &limits), VMCB12_OK);
}

/* One field changed from a good VMCB12, and the check it must fail. */
static const struct {
    unsigned offset, size;
    uint64_t value;
    enum svm_vmcb12_problem expected;
} bad[] = {
    { VMCB12_EFER, 8, 0x0d01, VMCB12_SVME_CLEAR },
    { VMCB12_CR0, 8, 0xa0050033, VMCB12_CR0_NW_WITHOUT_CD },
    { VMCB12_CR0, 8, 0x180050033ull, VMCB12_CR0_HIGH },
    { VMCB12_CR3, 8, 1ull << 40, VMCB12_CR3_RESERVED },
    { VMCB12_CR4, 8, 0x20 | (1u << 13), VMCB12_CR4_RESERVED },  /* VMXE */
    { VMCB12_DR6, 8, 1ull << 32, VMCB12_DR6_HIGH },
    { VMCB12_DR7, 8, 0x400 | (1ull << 40), VMCB12_DR7_HIGH },
    { VMCB12_EFER, 8, 0x1d01 | (1u << 2), VMCB12_EFER_RESERVED },
    { VMCB12_CR4, 8, 0, VMCB12_LONG_WITHOUT_PAE },
    { VMCB12_CR0, 8, 0x80050032, VMCB12_LONG_WITHOUT_PE },
    { VMCB12_CS + 2, 2, 0x69b, VMCB12_CS_L_AND_D },
    { VMCB12_INTERCEPT_MISC2, 4, 0xfe, VMCB12_NO_VMRUN_INTERCEPT },
    { VMCB12_ASID, 4, 0, VMCB12_ASID_ZERO },
    { VMCB12_IOPM_BASE, 8, (1ull << 40) - 0x1000, VMCB12_BITMAP_BEYOND_MEMORY },  /* 12 KiB: ends past */
    { VMCB12_MSRPM_BASE, 8, 0xfffffffffffff000ull, VMCB12_BITMAP_BEYOND_MEMORY },  /* wraps */
    { VMCB12_EVENTINJ, 8, 0x80000100ull, VMCB12_BAD_EVENT },          /* type 1 */
    { VMCB12_EVENTINJ, 8, 0x80000302ull, VMCB12_BAD_EVENT },          /* exception 2 */
    { VMCB12_EVENTINJ, 8, 0x80000320ull, VMCB12_BAD_EVENT },          /* exception 32 */
    { VMCB12_N_CR3, 8, 1ull << 45, VMCB12_NESTED_PAGING },
};

static void test_each_check_fails_alone(void)
{
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        good_vmcb();
        vmcb12_put(vmcb, bad[i].offset, bad[i].size, bad[i].value);
        enum svm_vmcb12_problem p = svm_vmcb12_check(vmcb, &limits);
        if (p != bad[i].expected && !device_failed) {
            device_failed = 1;
            snprintf(device_why, sizeof(device_why), "case %u: got '%s', expected '%s'", i,
                     svm_vmcb12_problem_name(p), svm_vmcb12_problem_name(bad[i].expected));
        }
    }
}

static void test_checks_depend_on_offer(void)
{
    struct svm_nested_limits l = limits;
    good_vmcb();
    l.nested_paging = false;
    CHECK_EQ(svm_vmcb12_check(vmcb, &l), VMCB12_NESTED_PAGING);
    vmcb12_put(vmcb, VMCB12_NP_CONTROL, 8, 0);          /* without NP the guest may run */
    CHECK_EQ(svm_vmcb12_check(vmcb, &l), VMCB12_OK);
    l.long_mode = false;
    CHECK_EQ(svm_vmcb12_check(vmcb, &l), VMCB12_NO_LONG_MODE);
    good_vmcb();                                        /* a legal event: #GP with error code */
    vmcb12_put(vmcb, VMCB12_EVENTINJ, 8, 0x80000b0dull);
    CHECK_EQ(svm_vmcb12_check(vmcb, &limits), VMCB12_OK);
    vmcb12_put(vmcb, VMCB12_EFER, 8, 0x1001);           /* legacy mode: CR3 within 32 bits */
    vmcb12_put(vmcb, VMCB12_CR0, 8, 0x80000011);
    vmcb12_put(vmcb, VMCB12_CR3, 8, 0x100000000ull);
    CHECK_EQ(svm_vmcb12_check(vmcb, &limits), VMCB12_CR3_RESERVED);
}

static void test_write_invalid(void)
{
    good_vmcb();
    vmcb12_put(vmcb, VMCB12_EXITINFO1, 8, 0x1234);
    vmcb12_put(vmcb, VMCB12_EXITINTINFO, 8, 0x80000020);
    svm_vmcb12_write_invalid(vmcb);
    CHECK_EQ(vmcb12_get(vmcb, VMCB12_EXITCODE, 8), SVM_EXIT_INVALID);
    CHECK_EQ(vmcb12_get(vmcb, VMCB12_EXITINFO1, 8), 0);
    CHECK_EQ(vmcb12_get(vmcb, VMCB12_EXITINFO2, 8), 0);
    CHECK_EQ(vmcb12_get(vmcb, VMCB12_EXITINTINFO, 8), 0);
    CHECK_EQ(vmcb12_get(vmcb, VMCB12_ASID, 4), 1);      /* the rest stays */
}

static void test_intercept_merge_and_cover(void)
{
    good_vmcb();
    vmcb12_put(vmcb, VMCB12_INTERCEPT_CR, 4, (1u << 3) | (1u << (16 + 0)));   /* read CR3, write CR0 */
    vmcb12_put(vmcb, VMCB12_INTERCEPT_DR, 4, 1u << (16 + 7));                 /* write DR7 */
    vmcb12_put(vmcb, VMCB12_INTERCEPT_EXC, 4, 1u << 14);                      /* #PF */
    vmcb12_put(vmcb, VMCB12_INTERCEPT_MISC1, 4, 1u << 0x12);                  /* CPUID (0x72) */
    struct svm_intercepts guest = svm_intercepts_of(vmcb);
    CHECK(svm_intercepts_cover(&guest, 0x03));          /* CR3 read */
    CHECK(!svm_intercepts_cover(&guest, 0x13));         /* CR3 write */
    CHECK(svm_intercepts_cover(&guest, 0x10));          /* CR0 write */
    CHECK(svm_intercepts_cover(&guest, 0x37));          /* DR7 write */
    CHECK(!svm_intercepts_cover(&guest, 0x27));         /* DR7 read */
    CHECK(svm_intercepts_cover(&guest, SVM_EXIT_EXCEPTION_0 + 14));
    CHECK(!svm_intercepts_cover(&guest, SVM_EXIT_EXCEPTION_0 + 13));
    CHECK(svm_intercepts_cover(&guest, SVM_EXIT_CPUID));
    CHECK(svm_intercepts_cover(&guest, SVM_EXIT_VMRUN));
    CHECK(!svm_intercepts_cover(&guest, SVM_EXIT_INTR));
    CHECK(!svm_intercepts_cover(&guest, SVM_EXIT_NPF));
    CHECK(!svm_intercepts_cover(&guest, SVM_EXIT_INVALID));
    struct svm_intercepts both = svm_intercepts_merge(guest, svm_vmm_intercepts);
    CHECK(svm_intercepts_cover(&both, SVM_EXIT_INTR));  /* the VMM's */
    CHECK(svm_intercepts_cover(&both, SVM_EXIT_NMI));
    CHECK(svm_intercepts_cover(&both, SVM_EXIT_SHUTDOWN));
    CHECK(svm_intercepts_cover(&both, SVM_EXIT_CPUID)); /* and the guest's */
    CHECK(svm_intercepts_cover(&both, 0x03));
    CHECK(!svm_intercepts_cover(&both, SVM_EXIT_HLT));  /* nobody's */
    CHECK(!svm_intercepts_cover(&svm_vmm_intercepts, SVM_EXIT_CPUID));
}

/* Permission maps in a small fake memory: the IOPM at 0x1000, the MSRPM at 0x4000. */
static uint8_t maps[0x6000];
static bool maps_read(void *ctx, uint64_t a, void *buf, size_t n)
{
    (void)ctx;
    if (a >= sizeof(maps) || n > sizeof(maps) - a)
        return false;
    memcpy(buf, maps + a, n);
    return true;
}

static void test_iopm(void)
{
    memset(maps, 0, sizeof(maps));
    maps[0x1000 + 0x3f8 / 8] = 1u << (0x3f9 % 8);      /* port 0x3f9 */
    CHECK(!svm_iopm_intercepts(maps_read, NULL, 0x1000, 0x3f8, 1));
    CHECK(svm_iopm_intercepts(maps_read, NULL, 0x1000, 0x3f9, 1));
    CHECK(svm_iopm_intercepts(maps_read, NULL, 0x1000, 0x3f8, 2));  /* covers 0x3f9 */
    CHECK(svm_iopm_intercepts(maps_read, NULL, 0x1fff, 0x3f9, 1));  /* low bits ignored */
    maps[0x1000 + 0x2000] = 1;                          /* port 0x10000: a 4-byte access at 0xfffe */
    CHECK(svm_iopm_intercepts(maps_read, NULL, 0x1000, 0xfffe, 4));
    CHECK(!svm_iopm_intercepts(maps_read, NULL, 0x1000, 0xfffe, 2));
    CHECK(svm_iopm_intercepts(maps_read, NULL, 0x5000, 0xffff, 1)); /* past memory: intercepted */
}

static void test_msrpm(void)
{
    memset(maps, 0, sizeof(maps));
    /* EFER (0xc0000080): range 2 at 0x800, bits 0x100 (read) and 0x101 (write) */
    maps[0x4000 + 0x800 + 0x100 / 8] = 1u << 1;         /* write only */
    CHECK(!svm_msrpm_intercepts(maps_read, NULL, 0x4000, 0xc0000080u, false));
    CHECK(svm_msrpm_intercepts(maps_read, NULL, 0x4000, 0xc0000080u, true));
    maps[0x4000 + 0x1b * 2 / 8] = 1u << (0x1b * 2 % 8); /* APIC base read */
    CHECK(svm_msrpm_intercepts(maps_read, NULL, 0x4000, 0x1b, false));
    CHECK(!svm_msrpm_intercepts(maps_read, NULL, 0x4000, 0x1b, true));
    maps[0x4000 + 0x1000 + 0x114 * 2 / 8] = 3;          /* VM_CR (0xc0010114): both */
    CHECK(svm_msrpm_intercepts(maps_read, NULL, 0x4000, MSR_VM_CR, false));
    CHECK(!svm_msrpm_intercepts(maps_read, NULL, 0x4000, MSR_VM_HSAVE_PA, false));
    CHECK(svm_msrpm_intercepts(maps_read, NULL, 0x4000, 0x40000000u, false));  /* no range */
    CHECK(svm_msrpm_intercepts(maps_read, NULL, 0x5000, 0xc0011fffu, true));   /* past memory */
}

static void test_instruction_faults(void)
{
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_VMRUN, true, true, true, 0), SVM_FAULT_NONE);
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_VMRUN, true, false, true, 0), SVM_FAULT_UD);
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_VMLOAD, false, true, true, 0), SVM_FAULT_UD);
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_STGI, true, true, false, 0), SVM_FAULT_UD);
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_CLGI, true, true, true, 3), SVM_FAULT_GP);
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_INVLPGA, true, false, true, 3), SVM_FAULT_UD);  /* #UD first */
    CHECK_EQ(svm_instruction_fault(SVM_EXIT_SKINIT, true, true, true, 0), SVM_FAULT_UD);
    CHECK(svm_is_svm_instruction(SVM_EXIT_VMSAVE));
    CHECK(svm_is_svm_instruction(SVM_EXIT_INVLPGA));
    CHECK(!svm_is_svm_instruction(SVM_EXIT_VMMCALL));
    CHECK(!svm_is_svm_instruction(SVM_EXIT_CPUID));
}

static void test_msrs(void)
{
    struct svm_nested_cpu s;
    svm_nested_reset(&s);
    CHECK(s.gif && !s.svme);
    uint64_t v = 99;
    CHECK_EQ(svm_nested_msr_read(&s, MSR_VM_CR, &v), MSR_DONE);
    CHECK_EQ(v, 0);
    CHECK_EQ(svm_nested_msr_read(&s, 0xc0010115u, &v), MSR_NOT_MINE);
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_HSAVE_PA, 0x7000, 40), MSR_DONE);
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_HSAVE_PA, 0x7008, 40), MSR_GP);
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_HSAVE_PA, 1ull << 40, 40), MSR_GP);
    CHECK_EQ(svm_nested_msr_read(&s, MSR_VM_HSAVE_PA, &v), MSR_DONE);
    CHECK_EQ(v, 0x7000);

    uint64_t efer = 0x1d01;                             /* SVME on */
    CHECK(svm_nested_efer_write(&s, true, &efer));
    CHECK(s.svme);
    CHECK_EQ(efer, 0xd01);                              /* the kernel never sees SVME */
    CHECK_EQ(svm_nested_efer_read(&s, 0xd01), 0x1d01);
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_CR, VM_CR_SVMDIS, 40), MSR_GP);   /* SVME is on */
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_CR, 1u << 5, 40), MSR_GP);        /* reserved */
    efer = 0xd01;
    CHECK(svm_nested_efer_write(&s, true, &efer));      /* SVME off */
    CHECK(!s.svme);
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_CR, VM_CR_SVMDIS | VM_CR_LOCK, 40), MSR_DONE);
    efer = 0x1000;
    CHECK(!svm_nested_efer_write(&s, true, &efer));     /* disabled: #GP */
    CHECK(!s.svme);
    CHECK_EQ(svm_nested_msr_write(&s, MSR_VM_CR, VM_CR_R_INIT, 40), MSR_DONE);
    svm_nested_msr_read(&s, MSR_VM_CR, &v);
    CHECK_EQ(v, VM_CR_SVMDIS | VM_CR_LOCK | VM_CR_R_INIT);   /* locked bits kept */

    svm_nested_reset(&s);
    efer = 0x1000;
    CHECK(!svm_nested_efer_write(&s, false, &efer));    /* SVM not offered */
    efer = 0x501;
    CHECK(svm_nested_efer_write(&s, false, &efer));
    CHECK_EQ(efer, 0x501);
}

static void test_cpuid(void)
{
    uint32_t out[4] = { 0x80000008u, 1, 2, 3 };
    svm_nested_cpuid(0x80000000u, out);
    CHECK_EQ(out[0], 0x8000000au);
    CHECK_EQ(out[1], 1);
    out[0] = 0x8000001fu;
    svm_nested_cpuid(0x80000000u, out);
    CHECK_EQ(out[0], 0x8000001fu);                      /* never lowered */
    uint32_t ext[4] = { 0, 0, 0x121, 0 };
    svm_nested_cpuid(0x80000001u, ext);
    CHECK_EQ(ext[2], 0x125);                            /* ECX.SVM added, the rest kept */
    uint32_t svm[4] = { 0 };
    svm_nested_cpuid(0x8000000au, svm);
    CHECK_EQ(svm[0], SVM_NESTED_REVISION);
    CHECK_EQ(svm[1], SVM_NESTED_ASIDS);
    CHECK_EQ(svm[3] & 1, 1);                            /* NP */
    uint32_t basic[4] = { 5, 6, 7, 8 };
    svm_nested_cpuid(1, basic);
    CHECK_EQ(basic[2], 7);                              /* other leaves untouched */
}

DEVICE_TESTS(svm_nested,
    { "svm_vmcb12_good_passes", test_good_vmcb_passes },
    { "svm_vmcb12_each_check_fails_alone", test_each_check_fails_alone },
    { "svm_vmcb12_checks_depend_on_offer", test_checks_depend_on_offer },
    { "svm_vmcb12_write_invalid", test_write_invalid },
    { "svm_intercept_merge_and_cover", test_intercept_merge_and_cover },
    { "svm_iopm", test_iopm },
    { "svm_msrpm", test_msrpm },
    { "svm_instruction_faults", test_instruction_faults },
    { "svm_msrs", test_msrs },
    { "svm_cpuid", test_cpuid },
)
