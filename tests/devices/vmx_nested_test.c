/* Virtual VMX's rules: the capability MSRs and CPUID, the VMCS12 layout and
 * VMREAD/VMWRITE widths, the VMX instructions' outcomes, the VM-entry checks one by
 * one, and which exits of L2 L1 asked for. */
#include "harness.h"
#include "x86/vmx_nested.h"

#define PHYS_BITS       40
#define CR4_SUPPORTED   0x3606ffull     /* VME..PGE, OSFXSR, OSXMMEXCPT, PCIDE, OSXSAVE, SMEP, SMAP */

static struct vmx_nested_caps caps;
static uint8_t vmcs[VMX_VMCS_SIZE];

/* Guest RAM for regions and bitmaps: 64 KiB, everything above reads as "not RAM". */
static unsigned char mem[0x10000];
static struct test_ram ram = { mem, sizeof(mem) };

static void put32(uint64_t address, uint32_t v)
{
    memcpy(mem + address, &v, 4);
}

static void setup(void)
{
    vmx_nested_caps_init(&caps, PHYS_BITS, CR4_SUPPORTED, true);
    memset(mem, 0, sizeof(mem));
}

/* ---- Capability ------------------------------------------------------------------------ */

static uint64_t msr(uint32_t index)
{
    uint64_t v = 0xdeadbeef;
    CHECK_EQ(vmx_nested_msr_read(&caps, index, &v), MSR_DONE);
    return v;
}

/* Every control word is coherent: whatever must be 1 may be 1. */
static void check_coherent(uint64_t ctls)
{
    CHECK_EQ(vmx_ctls_must_be_1(ctls) & ~vmx_ctls_may_be_1(ctls), 0);
}

static void test_caps_basic_and_misc(void)
{
    setup();
    uint64_t basic = msr(MSR_IA32_VMX_BASIC);
    CHECK_EQ(basic & 0x7fffffff, VMX_NESTED_REVISION);
    CHECK_EQ(basic & (1ull << 31), 0);
    CHECK_EQ((basic >> 32) & 0x1fff, 4096);             /* region size */
    CHECK_EQ((basic >> 50) & 0xf, 6);                   /* write-back */
    CHECK(basic & VMX_BASIC_TRUE_CONTROLS);
    CHECK_EQ(basic & (1ull << 48), 0);                  /* no 32-bit address limit */
    CHECK_EQ(basic & (VMX_BASIC_INOUT | (1ull << 49) | (1ull << 56)), 0);
    CHECK_EQ(msr(0x3a), 5);         /* locked, VMX outside SMX */
    uint64_t misc = msr(MSR_IA32_VMX_MISC);
    CHECK_EQ(misc & 0x1f, 0);                           /* no preemption timer rate */
    CHECK(misc & VMX_MISC_ACTIVITY_HLT);
    CHECK_EQ(misc & (3ull << 7), 0);                    /* no shutdown, no wait-for-SIPI */
    CHECK_EQ((misc >> 16) & 0x1ff, 4);
    CHECK_EQ((misc >> 25) & 7, 0);                      /* 512 MSRs per list */
    CHECK(misc & VMX_MISC_VMWRITE_ANY);
    CHECK_EQ(misc & (1ull << 30), 0);                   /* no zero-length injection */
    CHECK_EQ(msr(MSR_IA32_VMX_VMCS_ENUM), 0x15 << 1);   /* guest SYSENTER_CS, 0x482a */
    CHECK_EQ(msr(MSR_IA32_VMX_CR0_FIXED0), 0x80000021);
    CHECK_EQ(msr(MSR_IA32_VMX_CR0_FIXED1), 0xffffffff);
    CHECK_EQ(msr(MSR_IA32_VMX_CR4_FIXED0), 0x2000);
    CHECK_EQ(msr(MSR_IA32_VMX_CR4_FIXED1), CR4_SUPPORTED | 0x2000);
}

static void test_caps_controls(void)
{
    setup();
    uint64_t pin = msr(MSR_IA32_VMX_PINBASED_CTLS), proc = msr(MSR_IA32_VMX_PROCBASED_CTLS);
    uint64_t exit = msr(MSR_IA32_VMX_EXIT_CTLS), entry = msr(MSR_IA32_VMX_ENTRY_CTLS);
    CHECK_EQ(vmx_ctls_must_be_1(pin), 0x16);
    CHECK_EQ(vmx_ctls_may_be_1(pin), 0x16 | PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS);
    CHECK_EQ(vmx_ctls_must_be_1(proc), 0x0401e172);
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS)), 0x04006172);
    CHECK_EQ(vmx_ctls_may_be_1(proc) & (PROC_TPR_SHADOW | PROC_MONITOR_TRAP_FLAG), 0);
    uint32_t wanted = PROC_HLT_EXITING | PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING |
                      PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_SECONDARY_CONTROLS |
                      PROC_NMI_WINDOW_EXITING | PROC_TSC_OFFSETTING;
    CHECK_EQ(vmx_ctls_may_be_1(proc) & wanted, wanted);
    CHECK_EQ(vmx_ctls_must_be_1(exit), 0x36dff);
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_EXIT_CTLS)), 0x36dfb);
    CHECK(vmx_ctls_may_be_1(exit) & EXIT_HOST_ADDRESS_SPACE_SIZE);
    CHECK_EQ(vmx_ctls_may_be_1(exit) & (1u << 22), 0);  /* save preemption timer */
    CHECK_EQ(vmx_ctls_must_be_1(entry), 0x11ff);
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_ENTRY_CTLS)), 0x11fb);
    CHECK_EQ(vmx_ctls_may_be_1(entry) & (ENTRY_TO_SMM | (1u << 11)), 0);
    CHECK_EQ(msr(MSR_IA32_VMX_PROCBASED_CTLS2),
             (uint64_t)(PROC2_ENABLE_EPT | PROC2_ENABLE_VPID | PROC2_UNRESTRICTED_GUEST) << 32);
    uint64_t ept = msr(MSR_IA32_VMX_EPT_VPID_CAP);
    CHECK_EQ(ept & (EPT_CAP_WALK_4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_TYPE(2)),
             EPT_CAP_WALK_4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_TYPE(2));
    CHECK_EQ(ept & (EPT_CAP_AD | EPT_CAP_INVEPT_TYPE(0) | 1), 0);   /* no A/D, no type 0, no execute-only */
    CHECK(ept & VPID_CAP_INVVPID_TYPE(3));
    uint32_t all[] = { MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_EXIT_CTLS,
                       MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_PROCBASED_CTLS2, MSR_IA32_VMX_TRUE_PINBASED_CTLS,
                       MSR_IA32_VMX_TRUE_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS,
                       MSR_IA32_VMX_TRUE_ENTRY_CTLS };
    for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        check_coherent(msr(all[i]));
    /* a TRUE word only relaxes: each of its must-be-1 bits is one in the plain word */
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS)) & ~vmx_ctls_must_be_1(proc), 0);
}

static void test_caps_without_ept_and_missing_msrs(void)
{
    uint64_t v;
    vmx_nested_caps_init(&caps, 36, CR4_SUPPORTED, false);
    CHECK_EQ(vmx_ctls_may_be_1(msr(MSR_IA32_VMX_PROCBASED_CTLS2)), PROC2_ENABLE_VPID);
    CHECK_EQ(msr(MSR_IA32_VMX_EPT_VPID_CAP) & (EPT_CAP_INVEPT | EPT_CAP_WALK_4), 0);
    CHECK(msr(MSR_IA32_VMX_EPT_VPID_CAP) & VPID_CAP_INVVPID);
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_VMFUNC, &v), MSR_GP);
    caps.basic &= ~VMX_BASIC_TRUE_CONTROLS;
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_TRUE_ENTRY_CTLS, &v), MSR_GP);
    caps.procbased2 = 0;                                /* secondary controls offer nothing */
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_EPT_VPID_CAP, &v), MSR_GP);
    caps.procbased &= 0xffffffffull & ~((uint64_t)PROC_SECONDARY_CONTROLS << 32);
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_PROCBASED_CTLS2, &v), MSR_GP);
    CHECK_EQ(vmx_nested_msr_read(&caps, 0x10, &v), MSR_NOT_MINE);
    CHECK_EQ(vmx_nested_msr_read(&caps, 0x492, &v), MSR_NOT_MINE);
    /* nothing here is writable */
    CHECK_EQ(vmx_nested_msr_write(0x3a), MSR_GP);
    CHECK_EQ(vmx_nested_msr_write(MSR_IA32_VMX_BASIC), MSR_GP);
    CHECK_EQ(vmx_nested_msr_write(MSR_IA32_VMX_VMFUNC), MSR_GP);
    CHECK_EQ(vmx_nested_msr_write(0x47f), MSR_NOT_MINE);
    CHECK_EQ(vmx_nested_msr_write(0x492), MSR_NOT_MINE);
}

static void test_cpuid(void)
{
    uint32_t leaf1[4] = { 0x306a9, 0x800, 0x80000001u, 0x178bfbff };
    vmx_nested_cpuid(1, leaf1);
    CHECK_EQ(leaf1[2], 0x80000021u);                    /* VMX added, the rest kept */
    CHECK_EQ(leaf1[3], 0x178bfbff);
    uint32_t other[4] = { 1, 2, 3, 4 };
    vmx_nested_cpuid(0x80000001u, other);
    CHECK_EQ(other[2], 3);
}

/* ---- VMCS12 ------------------------------------------------------------------------------ */

static void test_vmcs12_layout(void)
{
    static uint8_t used[VMX_VMCS_SIZE];
    unsigned supported = 0, highs = 0;
    memset(used, 0, sizeof(used));
    for (uint32_t e = 0; e < 0x8000; e++) {
        struct vmcs12_field f;
        if (!vmcs12_field_lookup(e, &f))
            continue;
        CHECK(f.offset >= VMCS12_FIELDS_OFFSET);
        CHECK(f.offset + f.bytes <= VMX_VMCS_SIZE);
        CHECK_EQ(f.read_only, ((e >> 10) & 3) == 1);
        CHECK_EQ(e & 0x1000, 0);
        if (f.high) {
            struct vmcs12_field full;
            CHECK(vmcs12_field_lookup(e & ~1u, &full));
            CHECK_EQ(f.offset, full.offset + 4);
            CHECK_EQ(full.bytes, 8);
            highs++;
            continue;
        }
        for (unsigned i = 0; i < f.bytes; i++) {        /* no two fields share a byte */
            CHECK_EQ(used[f.offset + i], 0);
            used[f.offset + i] = 1;
        }
        supported++;
    }
    CHECK_EQ(supported, 128);
    CHECK_EQ(highs, 20);                                /* every 64-bit field has its high half */
    CHECK_EQ(vmcs12_highest_index(), 0x15);
}

static void test_vmcs12_lookup_rejects(void)
{
    struct vmcs12_field f;
    CHECK(vmcs12_field_lookup(VMCS12_GUEST_RIP, &f) && f.bytes == 8 && !f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_VPID, &f) && f.bytes == 2);
    CHECK(vmcs12_field_lookup(VMCS12_EXIT_REASON, &f) && f.bytes == 4 && f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_GUEST_PHYSICAL_ADDRESS, &f) && f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_EXIT_QUALIFICATION, &f) && f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_LINK_POINTER | 1, &f) && f.high && f.bytes == 4);
    CHECK(!vmcs12_field_lookup(VMCS12_PIN_CONTROLS | 1, &f));       /* odd, 32-bit */
    CHECK(!vmcs12_field_lookup(VMCS12_GUEST_RIP | 1, &f));          /* odd, natural width */
    CHECK(!vmcs12_field_lookup(VMCS12_VPID | 1, &f));               /* odd, 16-bit */
    CHECK(!vmcs12_field_lookup(VMCS12_GUEST_RIP | 0x1000, &f));     /* bit 12 reserved */
    CHECK(!vmcs12_field_lookup(VMCS12_GUEST_RIP | 0x8000, &f));     /* bits 31:15 reserved */
    CHECK(!vmcs12_field_lookup(0x100006800ull, &f));
    CHECK(!vmcs12_field_lookup(0xffffffffffffffffull, &f));
    CHECK(!vmcs12_field_lookup(0x482e, &f));            /* preemption timer: not offered */
    CHECK(!vmcs12_field_lookup(0x2012, &f));            /* virtual-APIC address: no TPR shadow */
    CHECK(!vmcs12_field_lookup(0x0002, &f));            /* posted-interrupt vector */
    CHECK(!vmcs12_field_lookup(0x401c, &f));            /* TPR threshold */
    CHECK(!vmcs12_field_lookup(0x6828, &f));            /* past the guest fields */
}

static void test_vmcs12_widths(void)
{
    uint64_t v;
    setup();
    memset(vmcs, 0xaa, sizeof(vmcs));
    /* natural width: a 32-bit operand reads the low half and clears the high one on write */
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_GUEST_RIP, 8, 0x123456789abcdef0ull, &caps), 0);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_GUEST_RIP, 8, &v), 0);
    CHECK_EQ(v, 0x123456789abcdef0ull);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_GUEST_RIP, 4, &v), 0);
    CHECK_EQ(v, 0x9abcdef0u);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_GUEST_RIP, 4, 0xffffffff00001234ull, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_GUEST_RIP), 0x1234);
    /* 64-bit: the high access touches bits 63:32 only */
    vmcs12_set(vmcs, VMCS12_TSC_OFFSET, 0x1111111122222222ull);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_TSC_OFFSET | 1, 8, 0xdeadbeef33333333ull, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_TSC_OFFSET), 0x3333333322222222ull);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_TSC_OFFSET | 1, 8, &v), 0);
    CHECK_EQ(v, 0x33333333);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_TSC_OFFSET, 4, 0x44444444, &caps), 0);   /* 32-bit full write */
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_TSC_OFFSET), 0x44444444);
    /* narrower fields: the operand's high bits are ignored, reads zero-extend */
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_VPID, 8, 0xffffffff12345ull, &caps), 0);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_VPID, 8, &v), 0);
    CHECK_EQ(v, 0x2345);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_EXCEPTION_BITMAP, 8, 0x5ffffffffull, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXCEPTION_BITMAP), 0xffffffff);
    struct vmcs12_field vpid;
    CHECK(vmcs12_field_lookup(VMCS12_VPID, &vpid));
    CHECK_EQ(vmcs[vpid.offset + 2], 0xaa);                                      /* the slot's rest kept */
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_GUEST_SELECTOR(VMX_ES)), 0xaaaa);          /* and the neighbour */
    /* read-only fields: writable only with IA32_VMX_MISC[29] */
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_EXIT_REASON, 8, 30, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_REASON), 30);
    caps.misc &= ~VMX_MISC_VMWRITE_ANY;
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_EXIT_REASON, 8, 31, &caps), VMXERR_VMWRITE_READ_ONLY);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_GUEST_PHYSICAL_ADDRESS | 1, 8, 1, &caps), VMXERR_VMWRITE_READ_ONLY);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_REASON), 30);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_EXIT_REASON, 8, &v), 0);                  /* reading is fine */
    CHECK_EQ(vmcs12_write(vmcs, 0x482e, 8, 1, &caps), VMXERR_UNSUPPORTED_FIELD);
    CHECK_EQ(vmcs12_read(vmcs, 0x4001, 8, &v), VMXERR_UNSUPPORTED_FIELD);
    /* the VMM's own accessors ignore unsupported encodings */
    vmcs12_set(vmcs, 0x482e, 7);
    CHECK_EQ(vmcs12_get(vmcs, 0x482e), 0);
    /* the region's header */
    memcpy(vmcs, "\x01\0\0\x80", 4);
    CHECK_EQ(vmcs12_revision(vmcs), 0x80000001u);
    vmcs12_set_launched(vmcs, true);
    CHECK(vmcs12_launched(vmcs));
    vmcs12_set_launched(vmcs, false);
    CHECK(!vmcs12_launched(vmcs));
}

/* ---- The VMX instructions ---------------------------------------------------------------- */

/* L1 in 64-bit mode at CPL 0 with VMXE; regions: VMXON at 0x1000, VMCS12s at 0x2000 and
 * 0x3000 (revision right), 0x4000 (revision wrong), 0x5000 (shadow bit). */
static const struct vmx_l1_mode long64 = { .cr0 = 0x80050033, .cr4 = 0x20a0 | 0x2000, .lma = true,
                                           .cs_l = true };
static struct vmx_nested_cpu cpu;

static void regions(void)
{
    setup();
    vmx_nested_reset(&cpu);
    put32(0x1000, VMX_NESTED_REVISION);
    put32(0x2000, VMX_NESTED_REVISION);
    put32(0x3000, VMX_NESTED_REVISION);
    put32(0x4000, 2);
    put32(0x5000, VMX_NESTED_REVISION | 0x80000000u);
}

static struct vmx_outcome vmxon(const struct vmx_l1_mode *m, uint64_t region)
{
    return vmx_vmxon(&cpu, m, &caps, region, test_ram_read, &ram);
}

static struct vmx_outcome vmptrld(const struct vmx_l1_mode *m, uint64_t address)
{
    return vmx_vmptrld(&cpu, m, &caps, address, test_ram_read, &ram);
}

#define CHECK_OUTCOME(o, v, e) do { struct vmx_outcome o_ = (o); \
        CHECK_EQ(o_.verdict, v); CHECK_EQ(o_.error, e); } while (0)

static void test_vmxon(void)
{
    struct vmx_l1_mode m = long64;
    regions();
    m.cr4 &= ~0x2000ull;                                /* VMXE clear */
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_UD, 0);
    m = long64, m.cr0 &= ~1ull;                         /* real mode */
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_UD, 0);
    m = long64, m.v8086 = true;
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_UD, 0);
    m = long64, m.cs_l = false;                         /* compatibility mode */
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_UD, 0);
    m = long64, m.cpl = 3;
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_GP, 0);
    m = long64, m.cr0 &= ~0x20ull;                      /* CR0.NE: fixed to 1 */
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_GP, 0);
    m = long64, m.cr4 |= 1ull << 23;                    /* a CR4 bit the CPU lacks */
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_GP, 0);
    caps.feature_control = 4;                           /* unlocked */
    CHECK_OUTCOME(vmxon(&long64, 0x1000), VMX_GP, 0);
    caps.feature_control = 3;                           /* locked, only inside SMX */
    CHECK_OUTCOME(vmxon(&long64, 0x1000), VMX_GP, 0);
    caps.feature_control = 5;
    CHECK_OUTCOME(vmxon(&long64, 0x1008), VMX_FAIL_INVALID, 0);         /* misaligned */
    CHECK_OUTCOME(vmxon(&long64, 1ull << 40), VMX_FAIL_INVALID, 0);     /* beyond MAXPHYADDR */
    CHECK_OUTCOME(vmxon(&long64, 0xfffffffffffff000ull), VMX_FAIL_INVALID, 0);
    CHECK_OUTCOME(vmxon(&long64, 0x4000), VMX_FAIL_INVALID, 0);         /* wrong revision */
    CHECK_OUTCOME(vmxon(&long64, 0x5000), VMX_FAIL_INVALID, 0);         /* shadow bit */
    CHECK_OUTCOME(vmxon(&long64, 0x20000), VMX_FAIL_INVALID, 0);        /* not RAM: all ones */
    CHECK(!cpu.vmxon);                                  /* nothing changed on failure */
    CHECK_OUTCOME(vmxon(&long64, 0x1000), VMX_SUCCEED, 0);
    CHECK(cpu.vmxon);
    CHECK_EQ(cpu.vmxon_region, 0x1000);
    CHECK_EQ(cpu.current_vmcs, VMX_NO_VMCS);
    /* again, in VMX root operation */
    CHECK_OUTCOME(vmxon(&long64, 0x1000), VMX_FAIL_INVALID, 0);         /* no current VMCS */
    CHECK_OUTCOME(vmptrld(&long64, 0x2000), VMX_SUCCEED, 0);
    CHECK_OUTCOME(vmxon(&long64, 0x1000), VMX_FAIL_VALID, VMXERR_VMXON_IN_ROOT);
    m = long64, m.cpl = 3;
    CHECK_OUTCOME(vmxon(&m, 0x1000), VMX_GP, 0);
    CHECK_EQ(cpu.current_vmcs, 0x2000);
    /* VMXOFF, and VMXON afresh forgets the current VMCS */
    CHECK_OUTCOME(vmx_vmxoff(&cpu, &m), VMX_GP, 0);
    CHECK_OUTCOME(vmx_vmxoff(&cpu, &long64), VMX_SUCCEED, 0);
    CHECK(!cpu.vmxon);
    CHECK_OUTCOME(vmx_vmxoff(&cpu, &long64), VMX_UD, 0);
    CHECK_OUTCOME(vmxon(&long64, 0x1000), VMX_SUCCEED, 0);
    CHECK_EQ(cpu.current_vmcs, VMX_NO_VMCS);
}

static void test_vmptrld_vmclear_vmptrst(void)
{
    struct vmx_l1_mode user = long64;
    user.cpl = 3;
    regions();
    CHECK_OUTCOME(vmptrld(&long64, 0x2000), VMX_UD, 0);                 /* outside VMX operation */
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 0x2000), VMX_UD, 0);
    CHECK_OUTCOME(vmx_vmptrst(&cpu, &long64), VMX_UD, 0);
    vmxon(&long64, 0x1000);
    /* with no current VMCS every failure is VMfailInvalid */
    CHECK_OUTCOME(vmptrld(&long64, 0x2004), VMX_FAIL_INVALID, 0);
    CHECK_OUTCOME(vmptrld(&long64, 0x1000), VMX_FAIL_INVALID, 0);
    CHECK_OUTCOME(vmptrld(&user, 0x2000), VMX_GP, 0);
    CHECK_OUTCOME(vmptrld(&long64, 0x2000), VMX_SUCCEED, 0);
    CHECK_EQ(cpu.current_vmcs, 0x2000);
    CHECK_OUTCOME(vmx_vmptrst(&cpu, &long64), VMX_SUCCEED, 0);
    CHECK_OUTCOME(vmx_vmptrst(&cpu, &user), VMX_GP, 0);
    /* now there is one: VMfailValid with the number */
    CHECK_OUTCOME(vmptrld(&long64, 0x3800), VMX_FAIL_VALID, VMXERR_VMPTRLD_BAD_ADDRESS);
    CHECK_OUTCOME(vmptrld(&long64, 1ull << 40), VMX_FAIL_VALID, VMXERR_VMPTRLD_BAD_ADDRESS);
    CHECK_OUTCOME(vmptrld(&long64, 0x1000), VMX_FAIL_VALID, VMXERR_VMPTRLD_VMXON_POINTER);
    CHECK_OUTCOME(vmptrld(&long64, 0x4000), VMX_FAIL_VALID, VMXERR_VMPTRLD_BAD_REVISION);
    CHECK_OUTCOME(vmptrld(&long64, 0x5000), VMX_FAIL_VALID, VMXERR_VMPTRLD_BAD_REVISION);
    CHECK_OUTCOME(vmptrld(&long64, 0xfffff000ull), VMX_FAIL_VALID, VMXERR_VMPTRLD_BAD_REVISION);
    CHECK_EQ(cpu.current_vmcs, 0x2000);                 /* failures change nothing */
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 0x2001), VMX_FAIL_VALID, VMXERR_VMCLEAR_BAD_ADDRESS);
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 1ull << 63), VMX_FAIL_VALID, VMXERR_VMCLEAR_BAD_ADDRESS);
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 0x1000), VMX_FAIL_VALID, VMXERR_VMCLEAR_VMXON_POINTER);
    CHECK_OUTCOME(vmx_vmclear(&cpu, &user, &caps, 0x2000), VMX_GP, 0);
    /* VMCLEAR of another VMCS keeps the current one; of the current one forgets it.
     * VMCLEAR does not read the region, so any revision will do. */
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 0x4000), VMX_SUCCEED, 0);
    CHECK_EQ(cpu.current_vmcs, 0x2000);
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 0x2000), VMX_SUCCEED, 0);
    CHECK_EQ(cpu.current_vmcs, VMX_NO_VMCS);
    CHECK_OUTCOME(vmx_vmclear(&cpu, &long64, &caps, 0x1000), VMX_FAIL_INVALID, 0);
}

static void test_vmread_vmwrite(void)
{
    struct vmx_l1_mode prot32 = { .cr0 = 0x80000031, .cr4 = 0x2000 };  /* 32-bit protected mode */
    uint64_t v = 0;
    regions();
    memset(vmcs, 0, sizeof(vmcs));
    CHECK_OUTCOME(vmx_vmread(&cpu, &long64, vmcs, VMCS12_GUEST_RIP, &v), VMX_UD, 0);
    vmxon(&long64, 0x1000);
    CHECK_OUTCOME(vmx_vmread(&cpu, &long64, vmcs, VMCS12_GUEST_RIP, &v), VMX_FAIL_INVALID, 0);
    CHECK_OUTCOME(vmx_vmwrite(&cpu, &long64, &caps, vmcs, VMCS12_GUEST_RIP, 1), VMX_FAIL_INVALID, 0);
    vmptrld(&long64, 0x2000);
    CHECK_OUTCOME(vmx_vmwrite(&cpu, &long64, &caps, vmcs, VMCS12_GUEST_RIP, 0xffffffff81000000ull),
                  VMX_SUCCEED, 0);
    CHECK_OUTCOME(vmx_vmread(&cpu, &long64, vmcs, VMCS12_GUEST_RIP, &v), VMX_SUCCEED, 0);
    CHECK_EQ(v, 0xffffffff81000000ull);
    /* 64-bit mode: an encoding with bits 63:32 set is unsupported */
    CHECK_OUTCOME(vmx_vmread(&cpu, &long64, vmcs, (1ull << 32) | VMCS12_GUEST_RIP, &v),
                  VMX_FAIL_VALID, VMXERR_UNSUPPORTED_FIELD);
    /* 32-bit mode: they are ignored, and the operand is 32 bits */
    CHECK_OUTCOME(vmx_vmread(&cpu, &prot32, vmcs, (1ull << 32) | VMCS12_GUEST_RIP, &v), VMX_SUCCEED, 0);
    CHECK_EQ(v, 0x81000000u);
    CHECK_OUTCOME(vmx_vmread(&cpu, &long64, vmcs, 0x6801, &v), VMX_FAIL_VALID, VMXERR_UNSUPPORTED_FIELD);
    CHECK_OUTCOME(vmx_vmwrite(&cpu, &long64, &caps, vmcs, 0x0002, 1), VMX_FAIL_VALID, VMXERR_UNSUPPORTED_FIELD);
    caps.misc &= ~VMX_MISC_VMWRITE_ANY;
    struct vmx_outcome o = vmx_vmwrite(&cpu, &long64, &caps, vmcs, VMCS12_EXIT_QUALIFICATION, 1);
    CHECK_OUTCOME(o, VMX_FAIL_VALID, VMXERR_VMWRITE_READ_ONLY);
    vmx_outcome_record(vmcs, o);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_VM_INSTRUCTION_ERROR), 13);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_QUALIFICATION), 0);
    vmx_outcome_record(vmcs, vmx_vmwrite(&cpu, &long64, &caps, vmcs, VMCS12_VPID, 3));
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_VM_INSTRUCTION_ERROR), 13);  /* success records nothing */
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_VPID), 3);
    struct vmx_l1_mode user = long64;
    user.cpl = 3;
    CHECK_OUTCOME(vmx_vmread(&cpu, &user, vmcs, VMCS12_VPID, &v), VMX_GP, 0);
    CHECK_OUTCOME(vmx_vmwrite(&cpu, &user, &caps, vmcs, VMCS12_VPID, 9), VMX_GP, 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_VPID), 3);
}

static void test_vmlaunch_vmresume(void)
{
    regions();
    memset(vmcs, 0, sizeof(vmcs));
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, false, false), VMX_UD, 0);
    vmxon(&long64, 0x1000);
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, false, false), VMX_FAIL_INVALID, 0);
    vmptrld(&long64, 0x2000);
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, false, true), VMX_FAIL_VALID, VMXERR_ENTRY_MOV_SS_BLOCKING);
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, true, false), VMX_FAIL_VALID, VMXERR_VMRESUME_NOT_LAUNCHED);
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, false, false), VMX_SUCCEED, 0);
    vmcs12_set_launched(vmcs, true);
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, false, false), VMX_FAIL_VALID, VMXERR_VMLAUNCH_NOT_CLEAR);
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &long64, vmcs, true, false), VMX_SUCCEED, 0);
    struct vmx_l1_mode compat = long64;
    compat.cs_l = false;
    CHECK_OUTCOME(vmx_vmlaunch(&cpu, &compat, vmcs, true, false), VMX_UD, 0);
}

static void test_vmcall(void)
{
    struct vmx_l1_mode user = long64;
    user.cpl = 3;
    regions();
    CHECK_OUTCOME(vmx_vmcall(&cpu, &long64), VMX_UD, 0);               /* outside VMX operation */
    vmxon(&long64, 0x1000);
    CHECK_OUTCOME(vmx_vmcall(&cpu, &user), VMX_GP, 0);
    CHECK_OUTCOME(vmx_vmcall(&cpu, &long64), VMX_FAIL_INVALID, 0);
    vmptrld(&long64, 0x2000);
    CHECK_OUTCOME(vmx_vmcall(&cpu, &long64), VMX_FAIL_VALID, VMXERR_VMCALL_IN_ROOT);
}

static void test_invept_invvpid(void)
{
    enum vmx_flush flush;
    uint64_t d[2] = { 5, 0x7fff0000 };
    regions();
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 2, 0, &flush), VMX_UD, 0);
    vmxon(&long64, 0x1000);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 2, 0, &flush), VMX_SUCCEED, 0);
    CHECK_EQ(flush, VMX_FLUSH_ALL);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 1, 0x501e, &flush), VMX_SUCCEED, 0);
    CHECK_EQ(flush, VMX_FLUSH_CONTEXT);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 1, 0x5019, &flush), VMX_FAIL_INVALID, 0);    /* WC EPTP */
    CHECK_EQ(flush, VMX_FLUSH_NONE);
    vmptrld(&long64, 0x2000);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 1, 0x5019, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 0, 0x501e, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 3, 0x501e, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 1ull << 63, 0x501e, &flush), VMX_FAIL_VALID,
                  VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 40, 0x501e, &flush), VMX_FAIL_VALID,
                  VMXERR_INVALID_INVEPT_INVVPID);   /* would name VPID bits as INVEPT types */
    CHECK_EQ(flush, VMX_FLUSH_NONE);
    struct vmx_l1_mode user = long64;
    user.cpl = 3;
    CHECK_OUTCOME(vmx_invept(&cpu, &user, &caps, 2, 0, &flush), VMX_GP, 0);

    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 0, d, &flush), VMX_SUCCEED, 0);
    CHECK_EQ(flush, VMX_FLUSH_ADDRESS);
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 1, d, &flush), VMX_SUCCEED, 0);
    CHECK_EQ(flush, VMX_FLUSH_CONTEXT);
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 3, d, &flush), VMX_SUCCEED, 0);
    CHECK_EQ(flush, VMX_FLUSH_CONTEXT_NONGLOBAL);
    d[0] = 0;                                           /* VPID 0: only the all-context type */
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 2, d, &flush), VMX_SUCCEED, 0);
    CHECK_EQ(flush, VMX_FLUSH_ALL);
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 1, d, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 0, d, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    d[0] = 0x10005;                                     /* bits 63:16 must be zero */
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 2, d, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    d[0] = 5, d[1] = 0x0000800000000000ull;             /* a non-canonical address */
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 0, d, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 1, d, &flush), VMX_SUCCEED, 0);     /* unused there */
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 4, d, &flush), VMX_FAIL_VALID, VMXERR_INVALID_INVEPT_INVVPID);
    CHECK_EQ(flush, VMX_FLUSH_NONE);
    vmx_nested_caps_init(&caps, PHYS_BITS, CR4_SUPPORTED, false);
    CHECK_OUTCOME(vmx_invept(&cpu, &long64, &caps, 2, 0, &flush), VMX_UD, 0);       /* no EPT: no INVEPT */
    caps.ept_vpid = 0;
    CHECK_OUTCOME(vmx_invvpid(&cpu, &long64, &caps, 2, d, &flush), VMX_UD, 0);
}

static void test_rflags_after(void)
{
    uint64_t all = 0x8d5 | 0x202;                       /* every status flag, IF, bit 1 */
    CHECK_EQ(vmx_rflags_after(all, (struct vmx_outcome){ VMX_SUCCEED, 0 }), 0x202);
    CHECK_EQ(vmx_rflags_after(all, (struct vmx_outcome){ VMX_FAIL_INVALID, 0 }), 0x203);
    CHECK_EQ(vmx_rflags_after(all, (struct vmx_outcome){ VMX_FAIL_VALID, 12 }), 0x242);
    CHECK_EQ(vmx_rflags_after(all, (struct vmx_outcome){ VMX_UD, 0 }), all);
    CHECK_EQ(vmx_rflags_after(all, (struct vmx_outcome){ VMX_GP, 0 }), all);
    CHECK_EQ(vmx_rflags_after(0x2, (struct vmx_outcome){ VMX_FAIL_VALID, 7 }), 0x42);
}

/* ---- VM-entry checks ----------------------------------------------------------------------- */

#define PIN_GOOD    (PIN_DEFAULT1 | PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS)
#define PROC_GOOD   (PROC_TRUE_DEFAULT1 | PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | \
                     PROC_SECONDARY_CONTROLS)
#define EXIT_GOOD   (EXIT_DEFAULT1 | EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_ACK_INTERRUPT | EXIT_SAVE_EFER | \
                     EXIT_LOAD_EFER | EXIT_LOAD_PAT)
#define ENTRY_GOOD  (ENTRY_DEFAULT1 | ENTRY_IA32E_MODE_GUEST | ENTRY_LOAD_EFER | ENTRY_LOAD_PAT)
#define PAT_GOOD    0x0007040600070406ull
#define NONCANON    0x0000800000000000ull

static enum vmx_entry_problem entry_check(bool l1_long_mode)
{
    return vmx_entry_check(vmcs, &caps, l1_long_mode, test_ram_read, &ram);
}

/* A VMCS12 that passes: a 64-bit host running a 64-bit L2 with EPT and VPID, data
 * segments unusable as a 64-bit kernel leaves them. */
static void good_vmcs(void)
{
    setup();
    memset(vmcs, 0, sizeof(vmcs));
    vmcs12_set(vmcs, VMCS12_PIN_CONTROLS, PIN_GOOD);
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD);
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS2, PROC2_ENABLE_EPT | PROC2_ENABLE_VPID);
    vmcs12_set(vmcs, VMCS12_EXIT_CONTROLS, EXIT_GOOD);
    vmcs12_set(vmcs, VMCS12_ENTRY_CONTROLS, ENTRY_GOOD);
    vmcs12_set(vmcs, VMCS12_VPID, 1);
    vmcs12_set(vmcs, VMCS12_EPT_POINTER, 0x5000 | 3 << 3 | 6);
    vmcs12_set(vmcs, VMCS12_IO_BITMAP_A, 0x6000);
    vmcs12_set(vmcs, VMCS12_IO_BITMAP_B, 0x7000);
    vmcs12_set(vmcs, VMCS12_MSR_BITMAP, 0x8000);

    vmcs12_set(vmcs, VMCS12_HOST_CR0, 0x80050033);
    vmcs12_set(vmcs, VMCS12_HOST_CR4, 0x20a0);          /* PAE PGE VMXE */
    vmcs12_set(vmcs, VMCS12_HOST_CR3, 0x100000);
    vmcs12_set(vmcs, VMCS12_HOST_SELECTOR(VMX_CS), 0x08);
    vmcs12_set(vmcs, VMCS12_HOST_SELECTOR(VMX_SS), 0x10);
    vmcs12_set(vmcs, VMCS12_HOST_TR_SELECTOR, 0x18);
    vmcs12_set(vmcs, VMCS12_HOST_GS_BASE, 0xffff888000000000ull);
    vmcs12_set(vmcs, VMCS12_HOST_RIP, 0xffffffff81000000ull);
    vmcs12_set(vmcs, VMCS12_HOST_EFER, 0xd01);
    vmcs12_set(vmcs, VMCS12_HOST_PAT, PAT_GOOD);

    vmcs12_set(vmcs, VMCS12_GUEST_CR0, 0x80050033);
    vmcs12_set(vmcs, VMCS12_GUEST_CR4, 0x20a0);
    vmcs12_set(vmcs, VMCS12_GUEST_CR3, 0x200000);
    vmcs12_set(vmcs, VMCS12_GUEST_DR7, 0x400);
    vmcs12_set(vmcs, VMCS12_GUEST_EFER, 0xd01);
    vmcs12_set(vmcs, VMCS12_GUEST_PAT, PAT_GOOD);
    vmcs12_set(vmcs, VMCS12_GUEST_SELECTOR(VMX_CS), 0x08);
    vmcs12_set(vmcs, VMCS12_GUEST_LIMIT(VMX_CS), 0xffffffff);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_CS), 0xa09b);     /* code, L, G */
    vmcs12_set(vmcs, VMCS12_GUEST_SELECTOR(VMX_SS), 0x10);
    vmcs12_set(vmcs, VMCS12_GUEST_LIMIT(VMX_SS), 0xffffffff);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_SS), 0xc093);     /* data, D, G */
    static const unsigned unusable[] = { VMX_ES, VMX_DS, VMX_FS, VMX_GS, VMX_LDTR };
    for (unsigned i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++)
        vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(unusable[i]), 0x10000);
    vmcs12_set(vmcs, VMCS12_GUEST_SELECTOR(VMX_TR), 0x18);
    vmcs12_set(vmcs, VMCS12_GUEST_BASE(VMX_TR), 0xfffffe0000003000ull);
    vmcs12_set(vmcs, VMCS12_GUEST_LIMIT(VMX_TR), 0x67);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_TR), 0x8b);       /* busy 64-bit TSS */
    vmcs12_set(vmcs, VMCS12_GUEST_GDTR_BASE, 0xfffffe0000001000ull);
    vmcs12_set(vmcs, VMCS12_GUEST_GDTR_LIMIT, 0x7f);
    vmcs12_set(vmcs, VMCS12_GUEST_IDTR_LIMIT, 0xfff);
    vmcs12_set(vmcs, VMCS12_GUEST_RIP, 0xffffffff81000000ull);
    vmcs12_set(vmcs, VMCS12_GUEST_RFLAGS, 0x2);
    vmcs12_set(vmcs, VMCS12_LINK_POINTER, VMX_NO_VMCS);
}

/* The good VMCS12 turned into a real-mode L2 under unrestricted guest. */
static void good_real_mode(void)
{
    good_vmcs();
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS2, PROC2_ENABLE_EPT | PROC2_ENABLE_VPID | PROC2_UNRESTRICTED_GUEST);
    vmcs12_set(vmcs, VMCS12_ENTRY_CONTROLS, ENTRY_GOOD & ~ENTRY_IA32E_MODE_GUEST);
    vmcs12_set(vmcs, VMCS12_GUEST_CR0, 0x30);           /* NE ET: no PE, no PG */
    vmcs12_set(vmcs, VMCS12_GUEST_CR4, 0x2000);
    vmcs12_set(vmcs, VMCS12_GUEST_EFER, 0);
    for (unsigned s = VMX_ES; s <= VMX_GS; s++) {
        vmcs12_set(vmcs, VMCS12_GUEST_SELECTOR(s), 0);
        vmcs12_set(vmcs, VMCS12_GUEST_BASE(s), 0);
        vmcs12_set(vmcs, VMCS12_GUEST_LIMIT(s), 0xffff);
        vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(s), 0x93);
    }
    vmcs12_set(vmcs, VMCS12_GUEST_SELECTOR(VMX_CS), 0xf000);
    vmcs12_set(vmcs, VMCS12_GUEST_BASE(VMX_CS), 0xf0000);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_CS), 0x9b);
    vmcs12_set(vmcs, VMCS12_GUEST_RIP, 0xfff0);
}

/* The good VMCS12 with a 32-bit PAE L2 (EPT: its PDPTEs come from VMCS12). */
static void good_pae(void)
{
    good_vmcs();
    vmcs12_set(vmcs, VMCS12_ENTRY_CONTROLS, ENTRY_GOOD & ~ENTRY_IA32E_MODE_GUEST);
    vmcs12_set(vmcs, VMCS12_GUEST_CR0, 0x80000031);
    vmcs12_set(vmcs, VMCS12_GUEST_CR4, 0x2020);
    vmcs12_set(vmcs, VMCS12_GUEST_EFER, 0);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_CS), 0xc09b);     /* 32-bit code */
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_TR), 0x83);       /* a 16-bit busy TSS is fine here */
    vmcs12_set(vmcs, VMCS12_GUEST_BASE(VMX_TR), 0x3000);
    vmcs12_set(vmcs, VMCS12_GUEST_GDTR_BASE, 0x1000);
    vmcs12_set(vmcs, VMCS12_GUEST_RIP, 0x100000);
    vmcs12_set(vmcs, VMCS12_GUEST_PDPTE(0), 0x3001);
}

/* Up to five fields changed from the good VMCS12, and the check that must fail. */
struct entry_case {
    enum vmx_entry_problem expected;
    unsigned n;
    struct { uint32_t encoding; uint64_t value; } set[5];
};

static const struct entry_case bad64[] = {
    { VMX_ENTRY_PIN_RESERVED, 1, { { VMCS12_PIN_CONTROLS, PIN_GOOD | PIN_PREEMPTION_TIMER } } },
    { VMX_ENTRY_PIN_RESERVED, 1, { { VMCS12_PIN_CONTROLS, PIN_GOOD & ~2u } } },         /* default1 */
    { VMX_ENTRY_PROC_RESERVED, 1, { { VMCS12_PROC_CONTROLS, PROC_GOOD | PROC_TPR_SHADOW } } },
    { VMX_ENTRY_PROC_RESERVED, 1, { { VMCS12_PROC_CONTROLS, PROC_GOOD & ~2u } } },
    { VMX_ENTRY_PROC2_RESERVED, 1, { { VMCS12_PROC_CONTROLS2, PROC2_ENABLE_EPT | PROC2_ENABLE_VPID | 1 } } },
    { VMX_ENTRY_CR3_TARGET_COUNT, 1, { { VMCS12_CR3_TARGET_COUNT, 5 } } },
    { VMX_ENTRY_IO_BITMAP_ADDRESS, 1, { { VMCS12_IO_BITMAP_A, 0x6008 } } },
    { VMX_ENTRY_IO_BITMAP_ADDRESS, 1, { { VMCS12_IO_BITMAP_B, 1ull << 40 } } },
    { VMX_ENTRY_MSR_BITMAP_ADDRESS, 1, { { VMCS12_MSR_BITMAP, 0x8004 } } },
    { VMX_ENTRY_VIRTUAL_NMIS_WITHOUT_NMI_EXITING, 1, { { VMCS12_PIN_CONTROLS, PIN_GOOD & ~PIN_NMI_EXITING } } },
    { VMX_ENTRY_NMI_WINDOW_WITHOUT_VIRTUAL_NMIS, 2, { { VMCS12_PIN_CONTROLS, PIN_GOOD & ~PIN_VIRTUAL_NMIS },
                                                    { VMCS12_PROC_CONTROLS, PROC_GOOD | PROC_NMI_WINDOW_EXITING } } },
    { VMX_ENTRY_VPID_ZERO, 1, { { VMCS12_VPID, 0 } } },
    { VMX_ENTRY_EPT_POINTER, 1, { { VMCS12_EPT_POINTER, 0x5019 } } },                   /* WC */
    { VMX_ENTRY_EPT_POINTER, 1, { { VMCS12_EPT_POINTER, 0x5026 } } },                   /* 5 levels */
    { VMX_ENTRY_EPT_POINTER, 1, { { VMCS12_EPT_POINTER, 0x505e } } },                   /* A/D */
    { VMX_ENTRY_EPT_POINTER, 1, { { VMCS12_EPT_POINTER, 0x509e } } },                   /* bit 7 */
    { VMX_ENTRY_EPT_POINTER, 1, { { VMCS12_EPT_POINTER, (1ull << 40) | 0x1e } } },
    { VMX_ENTRY_UNRESTRICTED_WITHOUT_EPT, 1,
      { { VMCS12_PROC_CONTROLS2, PROC2_ENABLE_VPID | PROC2_UNRESTRICTED_GUEST } } },
    { VMX_ENTRY_EXIT_RESERVED, 1, { { VMCS12_EXIT_CONTROLS, EXIT_GOOD | (1u << 22) } } },
    { VMX_ENTRY_EXIT_RESERVED, 1, { { VMCS12_EXIT_CONTROLS, EXIT_GOOD & ~1u } } },
    { VMX_ENTRY_EXIT_MSR_STORE_AREA, 2, { { VMCS12_EXIT_MSR_STORE_COUNT, 1 },
                                          { VMCS12_EXIT_MSR_STORE_ADDRESS, 0x8008 } } },
    { VMX_ENTRY_EXIT_MSR_STORE_AREA, 2, { { VMCS12_EXIT_MSR_STORE_COUNT, 2 },
                                          { VMCS12_EXIT_MSR_STORE_ADDRESS, 0xfffffffff0ull } } },  /* ends past */
    { VMX_ENTRY_EXIT_MSR_STORE_AREA, 2, { { VMCS12_EXIT_MSR_STORE_COUNT, 0xffffffff },
                                          { VMCS12_EXIT_MSR_STORE_ADDRESS, 0xfffffffffffffff0ull } } },  /* wraps */
    { VMX_ENTRY_EXIT_MSR_LOAD_AREA, 2, { { VMCS12_EXIT_MSR_LOAD_COUNT, 1 },
                                         { VMCS12_EXIT_MSR_LOAD_ADDRESS, 0x8001 } } },
    { VMX_ENTRY_ENTRY_RESERVED, 1, { { VMCS12_ENTRY_CONTROLS, ENTRY_GOOD | ENTRY_TO_SMM } } },
    { VMX_ENTRY_EVENT_TYPE, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000100 } } },
    { VMX_ENTRY_EVENT_TYPE, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000700 } } },      /* no MTF */
    { VMX_ENTRY_EVENT_VECTOR, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000203 } } },    /* NMI, vector 3 */
    { VMX_ENTRY_EVENT_VECTOR, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000320 } } },    /* exception 32 */
    { VMX_ENTRY_EVENT_ERROR_CODE_BIT, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x8000030d } } },  /* #GP without */
    { VMX_ENTRY_EVENT_ERROR_CODE_BIT, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000b06 } } },  /* #UD with */
    { VMX_ENTRY_EVENT_RESERVED, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80001020 } } },
    { VMX_ENTRY_EVENT_ERROR_CODE, 2, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000b0d },
                                       { VMCS12_ENTRY_ERROR_CODE, 0x10000 } } },
    { VMX_ENTRY_EVENT_LENGTH, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000480 } } },    /* INT 80h, length 0 */
    { VMX_ENTRY_EVENT_LENGTH, 2, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000603 },
                                   { VMCS12_ENTRY_INSTRUCTION_LENGTH, 16 } } },
    { VMX_ENTRY_ENTRY_MSR_LOAD_AREA, 2, { { VMCS12_ENTRY_MSR_LOAD_COUNT, 1 },
                                          { VMCS12_ENTRY_MSR_LOAD_ADDRESS, 0x8004 } } },

    { VMX_ENTRY_HOST_CR0, 1, { { VMCS12_HOST_CR0, 0x80050013 } } },                     /* NE clear */
    { VMX_ENTRY_HOST_CR0, 1, { { VMCS12_HOST_CR0, 0x180050033ull } } },
    { VMX_ENTRY_HOST_CR4, 1, { { VMCS12_HOST_CR4, 0xa0 } } },                           /* VMXE clear */
    { VMX_ENTRY_HOST_CR3, 1, { { VMCS12_HOST_CR3, 1ull << 40 } } },
    { VMX_ENTRY_HOST_SYSENTER, 1, { { VMCS12_HOST_SYSENTER_ESP, NONCANON } } },
    { VMX_ENTRY_HOST_PAT, 1, { { VMCS12_HOST_PAT, 0x0007040600070402ull } } },
    { VMX_ENTRY_HOST_EFER, 1, { { VMCS12_HOST_EFER, 0x1d01 } } },                       /* SVME: reserved */
    { VMX_ENTRY_HOST_EFER, 1, { { VMCS12_HOST_EFER, 0x101 } } },                        /* LMA clear */
    { VMX_ENTRY_HOST_SELECTOR, 1, { { VMCS12_HOST_SELECTOR(VMX_DS), 0x13 } } },
    { VMX_ENTRY_HOST_SELECTOR, 1, { { VMCS12_HOST_TR_SELECTOR, 0x1c } } },
    { VMX_ENTRY_HOST_CS_OR_TR_NULL, 1, { { VMCS12_HOST_SELECTOR(VMX_CS), 0 } } },
    { VMX_ENTRY_HOST_CS_OR_TR_NULL, 1, { { VMCS12_HOST_TR_SELECTOR, 0 } } },
    { VMX_ENTRY_HOST_BASE, 1, { { VMCS12_HOST_FS_BASE, NONCANON } } },
    { VMX_ENTRY_HOST_BASE, 1, { { VMCS12_HOST_GDTR_BASE, 0x8000000000000000ull } } },
    { VMX_ENTRY_HOST_64BIT, 1, { { VMCS12_HOST_CR4, 0x2080 } } },                       /* no PAE */
    { VMX_ENTRY_HOST_64BIT, 1, { { VMCS12_HOST_RIP, NONCANON } } },

    { VMX_ENTRY_GUEST_CR0, 1, { { VMCS12_GUEST_CR0, 0x80050013 } } },
    { VMX_ENTRY_GUEST_CR0, 1, { { VMCS12_GUEST_CR0, 0x50033 } } },                      /* no PG, no UG */
    { VMX_ENTRY_GUEST_CR4, 1, { { VMCS12_GUEST_CR4, 0xa0 } } },
    { VMX_ENTRY_GUEST_CR4, 1, { { VMCS12_GUEST_CR4, 0x20a0 | (1u << 23) } } },
    { VMX_ENTRY_GUEST_IA32E_PAGING, 1, { { VMCS12_GUEST_CR4, 0x2080 } } },
    { VMX_ENTRY_GUEST_CR3, 1, { { VMCS12_GUEST_CR3, 1ull << 40 } } },
    { VMX_ENTRY_GUEST_DEBUGCTL, 1, { { VMCS12_GUEST_DEBUGCTL, 1 } } },
    { VMX_ENTRY_GUEST_DR7, 1, { { VMCS12_GUEST_DR7, (1ull << 32) | 0x400 } } },
    { VMX_ENTRY_GUEST_SYSENTER, 1, { { VMCS12_GUEST_SYSENTER_EIP, 0x8000000000000000ull } } },
    { VMX_ENTRY_GUEST_PAT, 1, { { VMCS12_GUEST_PAT, 0x08 } } },
    { VMX_ENTRY_GUEST_EFER, 1, { { VMCS12_GUEST_EFER, 0x1d01 } } },
    { VMX_ENTRY_GUEST_EFER, 1, { { VMCS12_GUEST_EFER, 0x101 } } },                      /* LMA clear */
    { VMX_ENTRY_GUEST_EFER, 1, { { VMCS12_GUEST_EFER, 0x401 } } },                      /* LME clear, PG set */
    { VMX_ENTRY_GUEST_SELECTOR_TI, 1, { { VMCS12_GUEST_SELECTOR(VMX_TR), 0x1c } } },
    { VMX_ENTRY_GUEST_SELECTOR_TI, 2, { { VMCS12_GUEST_SELECTOR(VMX_LDTR), 0x4 },
                                        { VMCS12_GUEST_ACCESS(VMX_LDTR), 0x82 } } },
    { VMX_ENTRY_GUEST_SS_RPL, 1, { { VMCS12_GUEST_SELECTOR(VMX_SS), 0x13 } } },
    { VMX_ENTRY_GUEST_SEGMENT_BASE, 1, { { VMCS12_GUEST_BASE(VMX_CS), 1ull << 32 } } },
    { VMX_ENTRY_GUEST_SEGMENT_BASE, 1, { { VMCS12_GUEST_BASE(VMX_FS), NONCANON } } },  /* even unusable */
    { VMX_ENTRY_GUEST_SEGMENT_BASE, 1, { { VMCS12_GUEST_BASE(VMX_SS), 1ull << 32 } } },
    { VMX_ENTRY_GUEST_SEGMENT_BASE, 2, { { VMCS12_GUEST_ACCESS(VMX_LDTR), 0x82 },
                                         { VMCS12_GUEST_BASE(VMX_LDTR), NONCANON } } },
    { VMX_ENTRY_GUEST_CS_TYPE, 1, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xa093 } } },       /* data, no UG */
    { VMX_ENTRY_GUEST_SS_TYPE, 1, { { VMCS12_GUEST_ACCESS(VMX_SS), 0xc09b } } },
    { VMX_ENTRY_GUEST_DATA_TYPE, 2, { { VMCS12_GUEST_ACCESS(VMX_DS), 0xc092 },
                                      { VMCS12_GUEST_LIMIT(VMX_DS), 0xffffffff } } },
    { VMX_ENTRY_GUEST_DATA_TYPE, 2, { { VMCS12_GUEST_ACCESS(VMX_DS), 0xc099 },
                                      { VMCS12_GUEST_LIMIT(VMX_DS), 0xffffffff } } },
    { VMX_ENTRY_GUEST_SEGMENT_S, 1, { { VMCS12_GUEST_ACCESS(VMX_DS), 0x83 } } },
    { VMX_ENTRY_GUEST_SEGMENT_S, 1, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xa08b } } },
    { VMX_ENTRY_GUEST_CS_DPL, 1, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xa0fb } } },
    { VMX_ENTRY_GUEST_SS_DPL, 2, { { VMCS12_GUEST_SELECTOR(VMX_CS), 0x0b },
                                   { VMCS12_GUEST_SELECTOR(VMX_SS), 0x13 } } },
    { VMX_ENTRY_GUEST_DATA_DPL, 3, { { VMCS12_GUEST_SELECTOR(VMX_DS), 0x13 },
                                     { VMCS12_GUEST_ACCESS(VMX_DS), 0xc093 },
                                     { VMCS12_GUEST_LIMIT(VMX_DS), 0xffffffff } } },
    { VMX_ENTRY_GUEST_SEGMENT_PRESENT, 1, { { VMCS12_GUEST_ACCESS(VMX_SS), 0xc013 } } },
    { VMX_ENTRY_GUEST_SEGMENT_PRESENT, 2, { { VMCS12_GUEST_ACCESS(VMX_GS), 0xc013 },
                                            { VMCS12_GUEST_LIMIT(VMX_GS), 0xffffffff } } },
    { VMX_ENTRY_GUEST_SEGMENT_RESERVED, 1, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xa19b } } },
    { VMX_ENTRY_GUEST_SEGMENT_RESERVED, 1, { { VMCS12_GUEST_ACCESS(VMX_SS), 0x2c093 } } },
    { VMX_ENTRY_GUEST_CS_L_AND_D, 1, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xe09b } } },
    { VMX_ENTRY_GUEST_SEGMENT_LIMIT, 1, { { VMCS12_GUEST_LIMIT(VMX_CS), 0xfffff000 } } },
    { VMX_ENTRY_GUEST_SEGMENT_LIMIT, 2, { { VMCS12_GUEST_ACCESS(VMX_DS), 0x4093 },
                                          { VMCS12_GUEST_LIMIT(VMX_DS), 0x100000 } } },
    { VMX_ENTRY_GUEST_TR, 1, { { VMCS12_GUEST_ACCESS(VMX_TR), 0x83 } } },              /* 16-bit TSS in IA-32e */
    { VMX_ENTRY_GUEST_TR, 1, { { VMCS12_GUEST_ACCESS(VMX_TR), 0x1008b } } },           /* unusable */
    { VMX_ENTRY_GUEST_TR, 1, { { VMCS12_GUEST_ACCESS(VMX_TR), 0x9b } } },
    { VMX_ENTRY_GUEST_TR, 1, { { VMCS12_GUEST_ACCESS(VMX_TR), 0x0b } } },              /* not present */
    { VMX_ENTRY_GUEST_TR, 1, { { VMCS12_GUEST_ACCESS(VMX_TR), 0x89 } } },              /* not busy */
    { VMX_ENTRY_GUEST_LDTR, 1, { { VMCS12_GUEST_ACCESS(VMX_LDTR), 0x83 } } },
    { VMX_ENTRY_GUEST_LDTR, 1, { { VMCS12_GUEST_ACCESS(VMX_LDTR), 0x02 } } },
    { VMX_ENTRY_GUEST_DESCRIPTOR_TABLE, 1, { { VMCS12_GUEST_GDTR_LIMIT, 0x10000 } } },
    { VMX_ENTRY_GUEST_DESCRIPTOR_TABLE, 1, { { VMCS12_GUEST_IDTR_BASE, NONCANON } } },
    { VMX_ENTRY_GUEST_RIP, 1, { { VMCS12_GUEST_RIP, 0x0001000000000000ull } } },
    { VMX_ENTRY_GUEST_RIP, 2, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xc09b }, { VMCS12_GUEST_RIP, 1ull << 32 } } },
    { VMX_ENTRY_GUEST_RFLAGS, 1, { { VMCS12_GUEST_RFLAGS, 0 } } },
    { VMX_ENTRY_GUEST_RFLAGS, 1, { { VMCS12_GUEST_RFLAGS, 0x8002 } } },
    { VMX_ENTRY_GUEST_RFLAGS, 1, { { VMCS12_GUEST_RFLAGS, (1ull << 22) | 2 } } },
    { VMX_ENTRY_GUEST_RFLAGS_IF, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000020 } } },
    { VMX_ENTRY_GUEST_ACTIVITY, 1, { { VMCS12_GUEST_ACTIVITY_STATE, 2 } } },           /* shutdown */
    { VMX_ENTRY_GUEST_ACTIVITY, 1, { { VMCS12_GUEST_ACTIVITY_STATE, 4 } } },
    { VMX_ENTRY_GUEST_HLT_SS_DPL, 5, { { VMCS12_GUEST_SELECTOR(VMX_CS), 0x0b },
                                       { VMCS12_GUEST_ACCESS(VMX_CS), 0xa0fb },
                                       { VMCS12_GUEST_SELECTOR(VMX_SS), 0x13 },
                                       { VMCS12_GUEST_ACCESS(VMX_SS), 0xc0f3 },
                                       { VMCS12_GUEST_ACTIVITY_STATE, 1 } } },
    { VMX_ENTRY_GUEST_ACTIVITY_BLOCKING, 2, { { VMCS12_GUEST_ACTIVITY_STATE, 1 },
                                              { VMCS12_GUEST_INTERRUPTIBILITY, 2 } } },
    { VMX_ENTRY_GUEST_ACTIVITY_EVENT, 2, { { VMCS12_GUEST_ACTIVITY_STATE, 1 },
                                           { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000b0d } } },
    { VMX_ENTRY_GUEST_INTERRUPTIBILITY, 1, { { VMCS12_GUEST_INTERRUPTIBILITY, 0x10 } } },
    { VMX_ENTRY_GUEST_INTERRUPTIBILITY, 1, { { VMCS12_GUEST_INTERRUPTIBILITY, 0x80000000 } } },
    { VMX_ENTRY_GUEST_STI_AND_MOV_SS, 2, { { VMCS12_GUEST_INTERRUPTIBILITY, 3 },
                                           { VMCS12_GUEST_RFLAGS, 0x202 } } },
    { VMX_ENTRY_GUEST_STI_WITH_IF_CLEAR, 1, { { VMCS12_GUEST_INTERRUPTIBILITY, 1 } } },
    { VMX_ENTRY_GUEST_INTERRUPT_BLOCKED, 3, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000020 },
                                              { VMCS12_GUEST_RFLAGS, 0x202 },
                                              { VMCS12_GUEST_INTERRUPTIBILITY, 2 } } },
    { VMX_ENTRY_GUEST_INTERRUPT_BLOCKED, 2, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000202 },
                                              { VMCS12_GUEST_INTERRUPTIBILITY, 2 } } },
    { VMX_ENTRY_GUEST_SMI_BLOCKING, 1, { { VMCS12_GUEST_INTERRUPTIBILITY, 4 } } },
    { VMX_ENTRY_GUEST_NMI_BLOCKED, 2, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000202 },
                                        { VMCS12_GUEST_INTERRUPTIBILITY, 8 } } },
    { VMX_ENTRY_GUEST_PENDING_DEBUG, 1, { { VMCS12_GUEST_PENDING_DEBUG, 0x10 } } },
    { VMX_ENTRY_GUEST_PENDING_DEBUG, 1, { { VMCS12_GUEST_PENDING_DEBUG, 1ull << 16 } } },
    { VMX_ENTRY_GUEST_PENDING_DEBUG_BS, 2, { { VMCS12_GUEST_INTERRUPTIBILITY, 1 },
                                             { VMCS12_GUEST_RFLAGS, 0x302 } } },
    { VMX_ENTRY_GUEST_PENDING_DEBUG_BS, 2, { { VMCS12_GUEST_ACTIVITY_STATE, 1 },
                                             { VMCS12_GUEST_PENDING_DEBUG, 0x4000 } } },
    { VMX_ENTRY_GUEST_NMI_WITH_STI_BLOCKING, 3, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000202 },
                                                  { VMCS12_GUEST_INTERRUPTIBILITY, 1 },
                                                  { VMCS12_GUEST_RFLAGS, 0x202 } } },
    { VMX_ENTRY_GUEST_LINK_POINTER, 1, { { VMCS12_LINK_POINTER, 0x9008 } } },
    { VMX_ENTRY_GUEST_LINK_POINTER, 1, { { VMCS12_LINK_POINTER, 0x9000 } } },           /* revision 0 there */
    { VMX_ENTRY_GUEST_LINK_POINTER, 1, { { VMCS12_LINK_POINTER, 0x100000 } } },         /* not RAM */
};

/* Changes that keep the good VMCS12 valid: each rule's permitted side. */
static const struct entry_case fine64[] = {
    { VMX_ENTRY_OK, 2, { { VMCS12_GUEST_ACTIVITY_STATE, 1 }, { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000301 } } },
    { VMX_ENTRY_OK, 2, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000b0d },
                         { VMCS12_ENTRY_ERROR_CODE, 0xffff } } },
    { VMX_ENTRY_OK, 3, { { VMCS12_GUEST_INTERRUPTIBILITY, 1 }, { VMCS12_GUEST_RFLAGS, 0x302 },
                         { VMCS12_GUEST_PENDING_DEBUG, 0x4000 } } },
    { VMX_ENTRY_OK, 1, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000202 } } },
    { VMX_ENTRY_OK, 2, { { VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000480 },
                         { VMCS12_ENTRY_INSTRUCTION_LENGTH, 2 } } },
    { VMX_ENTRY_OK, 1, { { VMCS12_GUEST_ACCESS(VMX_CS), 0xa09f } } },                  /* conforming, DPL 0 */
    { VMX_ENTRY_OK, 1, { { VMCS12_GUEST_ACCESS(VMX_DS), 0x1ffff } } },                 /* unusable: unchecked */
    { VMX_ENTRY_OK, 1, { { VMCS12_GUEST_RIP, 0x0000ffffffffffffull } } },              /* 63:48 alike */
    { VMX_ENTRY_OK, 1, { { VMCS12_CR3_TARGET_COUNT, 4 } } },
    { VMX_ENTRY_OK, 2, { { VMCS12_EXIT_MSR_LOAD_COUNT, 512 }, { VMCS12_EXIT_MSR_LOAD_ADDRESS, 0x8010 } } },
    { VMX_ENTRY_OK, 1, { { VMCS12_EXIT_MSR_STORE_ADDRESS, 0x8001 } } },                /* count 0: unchecked */
    { VMX_ENTRY_OK, 1, { { VMCS12_EXIT_CONTROLS, EXIT_GOOD & ~(EXIT_LOAD_EFER | EXIT_SAVE_DEBUG_CONTROLS) } } },
    { VMX_ENTRY_OK, 2, { { VMCS12_ENTRY_CONTROLS, ENTRY_GOOD & ~ENTRY_LOAD_DEBUG_CONTROLS },
                         { VMCS12_GUEST_DEBUGCTL, 3 } } },                              /* not loaded */
    { VMX_ENTRY_OK, 2, { { VMCS12_PROC_CONTROLS, PROC_GOOD & ~PROC_USE_IO_BITMAPS },
                         { VMCS12_IO_BITMAP_A, 3 } } },
    { VMX_ENTRY_OK, 2, { { VMCS12_PROC_CONTROLS, PROC_GOOD & ~PROC_SECONDARY_CONTROLS },
                         { VMCS12_PROC_CONTROLS2, 0xffffffff } } },                     /* ignored when off */
    { VMX_ENTRY_OK, 2, { { VMCS12_PROC_CONTROLS2, PROC2_ENABLE_EPT }, { VMCS12_VPID, 0 } } },
    { VMX_ENTRY_OK, 1, { { VMCS12_EPT_POINTER, 0x5018 } } },                           /* UC */
    { VMX_ENTRY_OK, 4, { { VMCS12_GUEST_SELECTOR(VMX_CS), 0x0b }, { VMCS12_GUEST_ACCESS(VMX_CS), 0xa0fb },
                         { VMCS12_GUEST_SELECTOR(VMX_SS), 0x13 },
                         { VMCS12_GUEST_ACCESS(VMX_SS), 0xc0f3 } } },  /* CPL 3 */
};

static void run_entry_cases(const struct entry_case *cases, unsigned count, void (*good)(void))
{
    for (unsigned i = 0; i < count; i++) {
        good();
        for (unsigned k = 0; k < cases[i].n; k++)
            vmcs12_set(vmcs, cases[i].set[k].encoding, cases[i].set[k].value);
        enum vmx_entry_problem p = entry_check(true);
        if (p != cases[i].expected && !device_failed) {
            device_failed = 1;
            snprintf(device_why, sizeof(device_why), "case %u: got '%s', expected '%s'", i,
                     vmx_entry_problem_name(p), vmx_entry_problem_name(cases[i].expected));
        }
    }
}

static void test_entry_good_passes(void)
{
    good_vmcs();
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    good_real_mode();
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    good_pae();
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    good_vmcs();
    put32(0x9000, VMX_NESTED_REVISION);
    vmcs12_set(vmcs, VMCS12_LINK_POINTER, 0x9000);
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
}

static void test_entry_each_check_fails_alone(void)
{
    run_entry_cases(bad64, sizeof(bad64) / sizeof(bad64[0]), good_vmcs);
}

static void test_entry_permitted_variants(void)
{
    run_entry_cases(fine64, sizeof(fine64) / sizeof(fine64[0]), good_vmcs);
}

/* What only a real-mode, virtual-8086 or 32-bit L2 can get wrong. */
static void test_entry_other_modes(void)
{
    good_real_mode();
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_CS), 0x93);      /* data as CS: unrestricted guest allows it */
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_CS), 0xf3);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_CS_DPL);
    good_real_mode();
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_SS), 0xf3);      /* SS.DPL must be 0 without CR0.PE */
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_CS_DPL);      /* CS (DPL 0) is checked against it first */
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_CS), 0x9f);      /* conforming CS: DPL 0 <= 3 */
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_SS_DPL);
    good_real_mode();
    vmcs12_set(vmcs, VMCS12_GUEST_CR0, 0x80000030);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_PG_WITHOUT_PE);
    good_real_mode();
    vmcs12_set(vmcs, VMCS12_GUEST_CR4, 0x22000);              /* PCIDE */
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_PCIDE);
    good_real_mode();                                       /* error codes only in protected mode */
    vmcs12_set(vmcs, VMCS12_ENTRY_INTERRUPTION_INFO, 0x80000b0d);
    CHECK_EQ(entry_check(true), VMX_ENTRY_EVENT_ERROR_CODE_BIT);
    vmcs12_set(vmcs, VMCS12_ENTRY_INTERRUPTION_INFO, 0x8000030d);
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    good_real_mode();
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS2, PROC2_ENABLE_EPT | PROC2_ENABLE_VPID);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_CR0);         /* without UG, PE and PG are fixed */

    /* virtual-8086 mode under paging */
    good_pae();
    vmcs12_set(vmcs, VMCS12_GUEST_CR4, 0x2000);
    vmcs12_set(vmcs, VMCS12_GUEST_RFLAGS, 0x20002);
    for (unsigned s = VMX_ES; s <= VMX_GS; s++) {
        vmcs12_set(vmcs, VMCS12_GUEST_SELECTOR(s), 0x1234);
        vmcs12_set(vmcs, VMCS12_GUEST_BASE(s), 0x12340);
        vmcs12_set(vmcs, VMCS12_GUEST_LIMIT(s), 0xffff);
        vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(s), 0xf3);
    }
    vmcs12_set(vmcs, VMCS12_GUEST_RIP, 0x100);
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_DS), 0xf2);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_V8086_SEGMENT);
    vmcs12_set(vmcs, VMCS12_GUEST_ACCESS(VMX_DS), 0xf3);
    vmcs12_set(vmcs, VMCS12_GUEST_BASE(VMX_CS), 0x12345);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_V8086_SEGMENT);
    vmcs12_set(vmcs, VMCS12_GUEST_BASE(VMX_CS), 0x12340);
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS2, PROC2_ENABLE_EPT | PROC2_ENABLE_VPID | PROC2_UNRESTRICTED_GUEST);
    vmcs12_set(vmcs, VMCS12_GUEST_CR0, 0x30);                 /* VM without PE */
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_RFLAGS_VM);

    /* 32-bit PAE with EPT: the PDPTEs */
    good_pae();
    vmcs12_set(vmcs, VMCS12_GUEST_PDPTE(1), 0x3003);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_PDPTE);
    vmcs12_set(vmcs, VMCS12_GUEST_PDPTE(1), (1ull << 40) | 1);
    CHECK_EQ(entry_check(true), VMX_ENTRY_GUEST_PDPTE);
    vmcs12_set(vmcs, VMCS12_GUEST_PDPTE(1), 0xfffffffffffffffeull);    /* not present: anything */
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
    vmcs12_set(vmcs, VMCS12_GUEST_PDPTE(2), 0x3003);
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS2, PROC2_ENABLE_VPID);        /* without EPT: from memory */
    CHECK_EQ(entry_check(true), VMX_ENTRY_OK);
}

/* 26.2.4: the host's address-space size against L1's own mode. */
static void test_entry_host_address_space(void)
{
    good_vmcs();
    CHECK_EQ(entry_check(false), VMX_ENTRY_HOST_ADDRESS_SPACE);
    good_pae();                                             /* a 32-bit host running a PAE guest */
    vmcs12_set(vmcs, VMCS12_EXIT_CONTROLS, EXIT_GOOD & ~EXIT_HOST_ADDRESS_SPACE_SIZE);
    vmcs12_set(vmcs, VMCS12_HOST_EFER, 0);
    vmcs12_set(vmcs, VMCS12_HOST_GS_BASE, 0);
    vmcs12_set(vmcs, VMCS12_HOST_RIP, 0xc0100000);
    CHECK_EQ(entry_check(false), VMX_ENTRY_OK);
    CHECK_EQ(entry_check(true), VMX_ENTRY_HOST_ADDRESS_SPACE);
    vmcs12_set(vmcs, VMCS12_HOST_SELECTOR(VMX_SS), 0);
    CHECK_EQ(entry_check(false), VMX_ENTRY_HOST_SS_NULL);
    vmcs12_set(vmcs, VMCS12_HOST_SELECTOR(VMX_SS), 0x10);
    vmcs12_set(vmcs, VMCS12_HOST_RIP, 1ull << 32);
    CHECK_EQ(entry_check(false), VMX_ENTRY_HOST_32BIT);
    vmcs12_set(vmcs, VMCS12_HOST_RIP, 0xc0100000);
    vmcs12_set(vmcs, VMCS12_HOST_CR4, 0x220a0);             /* PCIDE */
    CHECK_EQ(entry_check(false), VMX_ENTRY_HOST_32BIT);
    vmcs12_set(vmcs, VMCS12_HOST_CR4, 0x20a0);
    vmcs12_set(vmcs, VMCS12_HOST_EFER, 0x500);              /* LME/LMA on a 32-bit host */
    CHECK_EQ(entry_check(false), VMX_ENTRY_HOST_EFER);
    vmcs12_set(vmcs, VMCS12_HOST_EFER, 0);
    vmcs12_set(vmcs, VMCS12_ENTRY_CONTROLS, ENTRY_GOOD);    /* an IA-32e guest from a 32-bit L1 */
    CHECK_EQ(entry_check(false), VMX_ENTRY_HOST_ADDRESS_SPACE);
}

static void test_entry_stages_and_outcomes(void)
{
    for (unsigned p = 0; p < VMX_ENTRY_PROBLEM_COUNT; p++) {
        const char *name = vmx_entry_problem_name(p);
        CHECK(name != NULL && name[0] != 0 && strcmp(name, "?") != 0);
        for (unsigned q = 0; q < p; q++)                    /* every name tells its case apart */
            CHECK(strcmp(name, vmx_entry_problem_name(q)) != 0);
    }
    CHECK(strcmp(vmx_entry_problem_name(VMX_ENTRY_PROBLEM_COUNT), "?") == 0);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_OK), VMX_ENTRY_PASSES);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_PIN_RESERVED), VMX_ENTRY_FAILS_CONTROLS);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_ENTRY_MSR_LOAD_AREA), VMX_ENTRY_FAILS_CONTROLS);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_HOST_CR0), VMX_ENTRY_FAILS_HOST);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_HOST_64BIT), VMX_ENTRY_FAILS_HOST);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_GUEST_CR0), VMX_ENTRY_FAILS_GUEST);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_GUEST_PDPTE), VMX_ENTRY_FAILS_GUEST);
    CHECK_EQ(vmx_entry_problem_stage(VMX_ENTRY_PROBLEM_COUNT), VMX_ENTRY_PASSES);
    CHECK_OUTCOME(vmx_entry_outcome(VMX_ENTRY_EVENT_TYPE), VMX_FAIL_VALID, VMXERR_ENTRY_BAD_CONTROLS);
    CHECK_OUTCOME(vmx_entry_outcome(VMX_ENTRY_HOST_SELECTOR), VMX_FAIL_VALID, VMXERR_ENTRY_BAD_HOST_STATE);
    CHECK_OUTCOME(vmx_entry_outcome(VMX_ENTRY_GUEST_RIP), VMX_SUCCEED, 0);
    CHECK_OUTCOME(vmx_entry_outcome(VMX_ENTRY_OK), VMX_SUCCEED, 0);

    static const struct { enum vmx_entry_problem p; uint64_t qualification; } failures[] = {
        { VMX_ENTRY_GUEST_CR0, 0 }, { VMX_ENTRY_GUEST_PDPTE, 2 },
        { VMX_ENTRY_GUEST_NMI_WITH_STI_BLOCKING, 3 }, { VMX_ENTRY_GUEST_LINK_POINTER, 4 },
    };
    for (unsigned i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
        good_vmcs();
        vmcs12_set(vmcs, VMCS12_EXIT_QUALIFICATION, 0x55);
        vmx_vmcs12_write_entry_failure(vmcs, failures[i].p);
        CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_REASON), 0x80000021u);
        CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_QUALIFICATION), failures[i].qualification);
    }
}

/* ---- Exits L1 asked for --------------------------------------------------------------------- */

static void test_exception_bitmap(void)
{
    uint32_t pf = 1u << 14, gp = 1u << 13;
    CHECK(vmx_exception_exits(pf, 0, 0, 14, 0x2));
    CHECK(!vmx_exception_exits(gp, 0, 0, 14, 0x2));
    /* L1 wants only present faults (mask P, match P): a not-present one inverts bit 14 */
    CHECK(!vmx_exception_exits(pf, 1, 1, 14, 0x2));
    CHECK(vmx_exception_exits(pf, 1, 1, 14, 0x3));
    CHECK(vmx_exception_exits(0, 1, 1, 14, 0x2));
    CHECK(!vmx_exception_exits(0, 1, 1, 14, 0x3));
    /* a match no error code can meet (match outside mask) inverts always */
    CHECK(!vmx_exception_exits(pf, 1, 2, 14, 0x3));
    /* mask and match apply to #PF only */
    CHECK(vmx_exception_exits(gp, 1, 1, 13, 0));
    CHECK(!vmx_exception_exits(gp, 1, 1, 6, 0));
    CHECK(vmx_exception_exits(1u << 31, 0, 0, 31, 0));
    CHECK(vmx_exception_exits(0, 0, 0, 32, 0));         /* no bit for it: reflected */
    CHECK(vmx_exception_exits(0, 0, 0, 255, 0));
}

static void test_io_bitmaps(void)
{
    setup();
    mem[0x6000 + 0x3f9 / 8] = 1u << (0x3f9 % 8);
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x3f9, 1));
    CHECK(!vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x3f8, 1));
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x3f8, 2));     /* covers 0x3f9 */
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x3f6, 4));
    CHECK(!vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x3f4, 4));
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6fff, 0x7000, 0x3f9, 1));     /* low bits ignored */
    /* bitmap B starts at port 0x8000, and an access may straddle the two */
    mem[0x7000] = 1;
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x8000, 1));
    CHECK(!vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x8001, 1));
    CHECK(!vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x7fff, 1));
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0x7fff, 2));
    CHECK(!vmx_io_bitmaps_exit(test_ram_read, &ram, 0x7000, 0x6000, 0x8000, 1));   /* A and B apart */
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x7000, 0x6000, 0x0000, 1));
    /* wrapping past port FFFF always exits */
    CHECK(!vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0xfffe, 2));
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0xffff, 2));
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x7000, 0xfffd, 4));
    /* a bitmap outside RAM: exit */
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0x6000, 0x100000, 0x8000 + 0x40, 1));
    CHECK(vmx_io_bitmaps_exit(test_ram_read, &ram, 0xfffffffffffff000ull, 0x7000, 0x70, 1));
}

static void test_msr_bitmap(void)
{
    setup();
    mem[0x8000 + 0x1b / 8] = 1u << (0x1b % 8);                          /* read APIC_BASE */
    mem[0x8000 + 2048 + 0x10 / 8] = 1u << (0x10 % 8);                   /* write TSC */
    mem[0x8000 + 3072 + 0x80 / 8] = 1u << (0x80 % 8);                   /* write EFER */
    mem[0x8000 + 1024 + 0x1fff / 8] = 0x80;                             /* read C0001FFF */
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x1b, false));
    CHECK(!vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x1b, true));
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x10, true));
    CHECK(!vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x10, false));
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0xc0000080u, true));
    CHECK(!vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0xc0000080u, false));
    CHECK(!vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x80, true));            /* low range: apart */
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0xc0001fffu, false));
    CHECK(!vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0xc0001fffu, true));
    CHECK(!vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x1fff, false));
    /* outside both ranges: always */
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x2000, false));
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0x40000000u, false));
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0xc0002000u, true));
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8000, 0xffffffffu, true));
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0x8fff, 0x1b, false));            /* low bits ignored */
    CHECK(vmx_msr_bitmap_exits(test_ram_read, &ram, 0xff000, 0x10, false));           /* not RAM */
}

/* Exit qualifications for control-register accesses (27.2.1, table 27-3). */
static uint64_t cr_qualification(unsigned cr, unsigned access, unsigned lmsw_source)
{
    return cr | access << 4 | (uint64_t)lmsw_source << 16;
}

static void test_cr_access(void)
{
    good_vmcs();
    vmcs12_set(vmcs, VMCS12_CR0_GUEST_HOST_MASK, 0x80000021);   /* PG NE PE are L1's */
    vmcs12_set(vmcs, VMCS12_CR0_READ_SHADOW, 0x80000031);
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 0, 0), 0x80000031));
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 0, 0), 0x80000039));  /* TS: L2's own */
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(0, 0, 0), 0x80000011));   /* NE: L1's */
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(0, 0, 0), 0x00000031));   /* PG */
    vmcs12_set(vmcs, VMCS12_CR4_GUEST_HOST_MASK, 0x2000);
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(4, 0, 0), 0x20));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(4, 0, 0), 0x2020));
    /* CR3: only with CR3-load exiting, and never for a target value */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(3, 0, 0), 0x3000));
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD | PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING);
    vmcs12_set(vmcs, VMCS12_CR3_TARGET(0), 0x1000);
    vmcs12_set(vmcs, VMCS12_CR3_TARGET(1), 0x2000);
    vmcs12_set(vmcs, VMCS12_CR3_TARGET(2), 0x3000);
    vmcs12_set(vmcs, VMCS12_CR3_TARGET(3), 0x4000);
    vmcs12_set(vmcs, VMCS12_CR3_TARGET_COUNT, 2);
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(3, 0, 0), 0x2000));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(3, 0, 0), 0x3000));       /* beyond the count */
    vmcs12_set(vmcs, VMCS12_CR3_TARGET_COUNT, 0xffffffff);                      /* hostile: four at most */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(3, 0, 0), 0x4000));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(3, 0, 0), 0x5000));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(3, 1, 0), 0));             /* MOV from CR3 */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(8, 0, 0), 0));
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(8, 1, 0), 0));
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD | PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING);
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(3, 1, 0), 0));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(8, 0, 0), 0));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(8, 1, 0), 0));
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(2, 0, 0), 0));             /* never produced: reflected */
    /* CLTS: when L1 owns TS and its shadow shows TS set */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 2, 0), 0));
    vmcs12_set(vmcs, VMCS12_CR0_GUEST_HOST_MASK, 0x80000029);
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 2, 0), 0));           /* shadow TS clear */
    vmcs12_set(vmcs, VMCS12_CR0_READ_SHADOW, 0x80000039);
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(0, 2, 0), 0));
    /* LMSW: may set PE but not clear it; bits 3:1 both ways */
    vmcs12_set(vmcs, VMCS12_CR0_GUEST_HOST_MASK, 0x9);                          /* PE and TS */
    vmcs12_set(vmcs, VMCS12_CR0_READ_SHADOW, 0x38);                             /* PE clear, TS set */
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(0, 3, 0x9), 0));          /* sets PE */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 3, 0x8), 0));         /* nothing owned changes */
    CHECK(vmx_cr_access_exits(vmcs, cr_qualification(0, 3, 0x0), 0));          /* clears TS */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 3, 0xe), 0));         /* MP, EM: L2's */
    vmcs12_set(vmcs, VMCS12_CR0_READ_SHADOW, 0x39);                             /* PE set */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 3, 0x8), 0));         /* PE 0 cannot clear it */
    CHECK(!vmx_cr_access_exits(vmcs, cr_qualification(0, 3, 0xfff8), 0));      /* only 3:0 count */
}

static bool wants(uint32_t reason, uint64_t qualification, uint32_t info, uint64_t operand)
{
    struct vmx_l2_exit e = { .reason = reason, .qualification = qualification, .interruption_info = info,
                             .operand = operand };
    return vmx_l1_wants_exit(vmcs, &e, test_ram_read, &ram);
}

static void test_l1_wants_exit(void)
{
    good_vmcs();
    /* unconditional in VMX non-root operation */
    static const uint32_t always[] = { VMX_EXIT_TRIPLE_FAULT, VMX_EXIT_INIT, VMX_EXIT_SIPI, VMX_EXIT_TASK_SWITCH,
                                       VMX_EXIT_CPUID, VMX_EXIT_GETSEC, VMX_EXIT_INVD, VMX_EXIT_VMCALL,
                                       VMX_EXIT_VMCLEAR, VMX_EXIT_VMXON, VMX_EXIT_INVEPT, VMX_EXIT_INVVPID,
                                       VMX_EXIT_XSETBV, VMX_EXIT_INVALID_GUEST_STATE, 200, 0xffff };
    for (unsigned i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        CHECK(wants(always[i], 0, 0, 0));
    CHECK(!wants(VMX_EXIT_IO_SMI, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_OTHER_SMI, 0, 0, 0));
    /* one control each */
    CHECK(wants(VMX_EXIT_HLT, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_RDTSC, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_RDTSCP, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_INVLPG, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_INTERRUPT_WINDOW, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_MOV_DR, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_WBINVD, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_PREEMPTION_TIMER, 0, 0, 0));
    CHECK(wants(VMX_EXIT_EPT_VIOLATION, 0, 0, 0));
    CHECK(wants(VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0, 0));
    CHECK(wants(VMX_EXIT_EXCEPTION_OR_NMI, 0, 0x80000202, 0));         /* NMI: NMI exiting */
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD & ~PROC_HLT_EXITING);
    CHECK(!wants(VMX_EXIT_HLT, 0, 0, 0));
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD | PROC_RDTSC_EXITING | PROC_INVLPG_EXITING |
                                           PROC_INTERRUPT_WINDOW_EXITING | PROC_MOV_DR_EXITING);
    CHECK(wants(VMX_EXIT_RDTSC, 0, 0, 0));
    CHECK(wants(VMX_EXIT_RDTSCP, 0, 0, 0));
    CHECK(wants(VMX_EXIT_INVLPG, 0, 0, 0));
    CHECK(wants(VMX_EXIT_INVPCID, 0, 0, 0));
    CHECK(wants(VMX_EXIT_INTERRUPT_WINDOW, 0, 0, 0));
    CHECK(wants(VMX_EXIT_MOV_DR, 0, 0, 0));
    vmcs12_set(vmcs, VMCS12_PIN_CONTROLS, PIN_DEFAULT1);
    CHECK(!wants(VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_EXCEPTION_OR_NMI, 0, 0x80000202, 0));
    /* exceptions through the bitmap, #PF through mask and match */
    vmcs12_set(vmcs, VMCS12_EXCEPTION_BITMAP, 1u << 14 | 1u << 3);
    vmcs12_set(vmcs, VMCS12_PF_ERROR_MASK, 1);
    vmcs12_set(vmcs, VMCS12_PF_ERROR_MATCH, 1);
    CHECK(wants(VMX_EXIT_EXCEPTION_OR_NMI, 0, 0x80000603, 0));         /* INT3 */
    CHECK(!wants(VMX_EXIT_EXCEPTION_OR_NMI, 0, 0x80000b0d, 0));        /* #GP */
    struct vmx_l2_exit pf = { .reason = VMX_EXIT_EXCEPTION_OR_NMI, .interruption_info = 0x80000b0e,
                              .error_code = 2 };
    CHECK(!vmx_l1_wants_exit(vmcs, &pf, test_ram_read, &ram));        /* not present: inverted */
    pf.error_code = 3;
    CHECK(vmx_l1_wants_exit(vmcs, &pf, test_ram_read, &ram));
    /* secondary controls count only when activated */
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD & ~PROC_SECONDARY_CONTROLS);
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS2, 0xffffffff);
    CHECK(!wants(VMX_EXIT_EPT_VIOLATION, 0, 0, 0));
    CHECK(!wants(VMX_EXIT_RDRAND, 0, 0, 0));
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD);
    CHECK(wants(VMX_EXIT_RDRAND, 0, 0, 0));
    CHECK(wants(VMX_EXIT_RDSEED, 0, 0, 0));
    CHECK(wants(VMX_EXIT_WBINVD, 0, 0, 0));
    CHECK(wants(VMX_EXIT_GDTR_IDTR, 0, 0, 0));
    CHECK(wants(VMX_EXIT_EPT_MISCONFIG, 0, 0, 0));
}

static void test_l1_wants_io_and_msr(void)
{
    good_vmcs();                                        /* I/O bitmaps at 0x6000/0x7000, MSR bitmap 0x8000 */
    mem[0x6000 + 0x70 / 8] = 1u << (0x70 % 8);
    mem[0x8000 + 0x1b / 8] = 1u << (0x1b % 8);
    /* qualification: size - 1 in 2:0, direction in 3, port in 31:16 */
    CHECK(wants(VMX_EXIT_IO, 0x00700000, 0, 0));                        /* OUT to 0x70 */
    CHECK(!wants(VMX_EXIT_IO, 0x00710008, 0, 0));                       /* IN from 0x71 */
    CHECK(wants(VMX_EXIT_IO, 0x006f0001, 0, 0));                        /* word at 0x6f covers 0x70 */
    CHECK(wants(VMX_EXIT_IO, 0xffff0003, 0, 0));                        /* dword at 0xffff wraps */
    vmcs12_set(vmcs, VMCS12_IO_BITMAP_A, 0x200000);                     /* moved out of RAM */
    CHECK(wants(VMX_EXIT_IO, 0x00710000, 0, 0));
    /* without bitmaps, unconditional I/O exiting decides */
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD & ~PROC_USE_IO_BITMAPS);
    CHECK(!wants(VMX_EXIT_IO, 0x00700000, 0, 0));
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, (PROC_GOOD & ~PROC_USE_IO_BITMAPS) | PROC_UNCONDITIONAL_IO_EXITING);
    CHECK(wants(VMX_EXIT_IO, 0x00710000, 0, 0));
    /* bitmaps win over unconditional exiting */
    vmcs12_set(vmcs, VMCS12_IO_BITMAP_A, 0x6000);
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD | PROC_UNCONDITIONAL_IO_EXITING);
    CHECK(!wants(VMX_EXIT_IO, 0x00710000, 0, 0));

    CHECK(wants(VMX_EXIT_RDMSR, 0, 0, 0x1b));
    CHECK(!wants(VMX_EXIT_WRMSR, 0, 0, 0x1b));
    CHECK(!wants(VMX_EXIT_RDMSR, 0, 0, 0x10));
    CHECK(wants(VMX_EXIT_RDMSR, 0, 0, 0x4b564d00));                     /* outside the ranges */
    vmcs12_set(vmcs, VMCS12_PROC_CONTROLS, PROC_GOOD & ~PROC_USE_MSR_BITMAPS);
    CHECK(wants(VMX_EXIT_RDMSR, 0, 0, 0x10));
    CHECK(wants(VMX_EXIT_WRMSR, 0, 0, 0x10));
    /* MOV to CR goes through the masks */
    vmcs12_set(vmcs, VMCS12_CR4_GUEST_HOST_MASK, 0x2000);
    CHECK(wants(VMX_EXIT_CR_ACCESS, 0x4, 0, 0x2020));
    CHECK(!wants(VMX_EXIT_CR_ACCESS, 0x4, 0, 0x20));
}

DEVICE_TESTS(vmx_nested,
    { "vmx_caps_basic_and_misc", test_caps_basic_and_misc },
    { "vmx_caps_controls", test_caps_controls },
    { "vmx_caps_without_ept_and_missing_msrs", test_caps_without_ept_and_missing_msrs },
    { "vmx_cpuid", test_cpuid },
    { "vmx_vmcs12_layout", test_vmcs12_layout },
    { "vmx_vmcs12_lookup_rejects", test_vmcs12_lookup_rejects },
    { "vmx_vmcs12_widths", test_vmcs12_widths },
    { "vmx_vmxon_vmxoff", test_vmxon },
    { "vmx_vmptrld_vmclear_vmptrst", test_vmptrld_vmclear_vmptrst },
    { "vmx_vmread_vmwrite", test_vmread_vmwrite },
    { "vmx_vmlaunch_vmresume", test_vmlaunch_vmresume },
    { "vmx_vmcall", test_vmcall },
    { "vmx_invept_invvpid", test_invept_invvpid },
    { "vmx_rflags_after", test_rflags_after },
    { "vmx_entry_good_passes", test_entry_good_passes },
    { "vmx_entry_each_check_fails_alone", test_entry_each_check_fails_alone },
    { "vmx_entry_permitted_variants", test_entry_permitted_variants },
    { "vmx_entry_other_modes", test_entry_other_modes },
    { "vmx_entry_host_address_space", test_entry_host_address_space },
    { "vmx_entry_stages_and_outcomes", test_entry_stages_and_outcomes },
    { "vmx_exception_bitmap", test_exception_bitmap },
    { "vmx_io_bitmaps", test_io_bitmaps },
    { "vmx_msr_bitmap", test_msr_bitmap },
    { "vmx_cr_access", test_cr_access },
    { "vmx_l1_wants_exit", test_l1_wants_exit },
    { "vmx_l1_wants_io_and_msr", test_l1_wants_io_and_msr },
)
